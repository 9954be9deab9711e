"""Many runs: sweeps over scenarios, methods, seeds and parameter grids.

``skycell sweep SWEEP.yaml`` (or :func:`load_sweep` + :func:`run_sweep`) expands a sweep file into
runs identified by content hashes (:mod:`skycell.sweep.spec`), runs them on local processes or a
Ray cluster (:mod:`skycell.sweep.execute`), stores one Parquet row per finished run so an
interrupted sweep resumes where it stopped (:mod:`skycell.sweep.store`), and answers SQL over
the results with DuckDB, with summary tables and plots (:mod:`skycell.sweep.query`).
"""

from __future__ import annotations

from .execute import EXECUTORS, SweepOutcome, default_out_dir, run_sweep
from .generators import GENERATORS, generate_scenario
from .query import QueryResult, connect, query, write_summaries
from .runner import RESULT_COLUMNS, VOLATILE_COLUMNS, execute_run
from .spec import MethodSpec, RunSpec, Sweep, load_sweep, run_hash, sweep_from_dict
from .store import SweepStore

__all__ = [
    "EXECUTORS",
    "GENERATORS",
    "RESULT_COLUMNS",
    "VOLATILE_COLUMNS",
    "MethodSpec",
    "QueryResult",
    "RunSpec",
    "Sweep",
    "SweepOutcome",
    "SweepStore",
    "connect",
    "default_out_dir",
    "execute_run",
    "generate_scenario",
    "load_sweep",
    "query",
    "run_hash",
    "run_sweep",
    "sweep_from_dict",
    "write_summaries",
]
