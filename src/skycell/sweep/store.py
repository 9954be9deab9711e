"""The sweep folder: one Parquet file per finished run, written whole or not at all.

Layout of ``SWEEP_DIR``::

    sweep.yaml            the sweep file as given (copied at every start)
    summaries.json        its summary queries and plots (for ``skycell results --summary``)
    manifest.parquet      every run of the sweep: run_id, index, scenario, method, seed, p_* ...
    runs/<run_id>.parquet one row per finished run (ok or error), the source of truth
    deployments/<id>.json each run's deployment (only with ``outputs: {deployments: true}``)
    summary/<name>.{csv,md,png}   the sweep file's summary queries and plots

A run's Parquet file is written to a temporary file in ``runs/`` and renamed over its final name
(:func:`skycell.fileio.atomic_write`): a run killed midway — the worker, the driver, or the
machine — leaves no ``<run_id>.parquet`` and so is simply run again on restart; the rename is the
commit. Its deployment file, when kept, is renamed into place *before* the row, so a row never
points at a missing deployment. Temporary files a killed process left behind are removed when a
sweep starts (:meth:`SweepStore.clean_stale`). Finished runs are found by listing ``runs/``:
restarting a sweep skips exactly the runs whose file exists, whatever executor wrote them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skycell.errors import SkycellError
from skycell.fileio import atomic_write, atomic_write_text

from .query import summaries_to_json
from .runner import DEPLOYMENT_KEY, param_value, result_schema

if TYPE_CHECKING:
    from .spec import Sweep

__all__ = ["SweepStore"]


class SweepStore:
    """The folder of one sweep's results (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.deployments_dir = self.root / "deployments"
        self.summary_dir = self.root / "summary"
        self.manifest_path = self.root / "manifest.parquet"

    # ------------------------------------------------------------------ setup
    def prepare(self, sweep: Sweep) -> None:
        """Create the folders, copy the sweep file and write the manifest (atomically).

        Raises:
            SkycellError: the folder cannot be created or written.
        """
        if self.root.exists() and not self.root.is_dir():
            raise SkycellError(f"{self.root} exists and is not a folder; choose another --out")
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            if any(r.keep_deployment for r in sweep.runs):
                self.deployments_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.root / "sweep.yaml", sweep.text)
            atomic_write_text(self.root / "summaries.json", summaries_to_json(sweep.summaries))
            self._write_manifest(sweep)
        except OSError as exc:
            raise SkycellError(
                f"cannot write to {self.root}: {exc.strerror or exc}; choose a folder you can "
                "write to"
            ) from None

    def _write_manifest(self, sweep: Sweep) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols: dict[str, list[Any]] = {
            "run_id": [],
            "run_index": [],
            "sweep": [],
            "scenario": [],
            "method": [],
            "tune": [],
            "method_label": [],
            "engine": [],
            "metrics_mode": [],
            "seed": [],
        }
        for c in sweep.param_columns:
            cols[c] = []
        for r in sweep.runs:
            cols["run_id"].append(r.run_id)
            cols["run_index"].append(r.index)
            cols["sweep"].append(r.sweep)
            cols["scenario"].append(r.scenario_label)
            cols["method"].append(r.method)
            cols["tune"].append(r.tune)
            cols["method_label"].append(r.method_label)
            cols["engine"].append(r.engine)
            cols["metrics_mode"].append(r.metrics)
            cols["seed"].append(r.seed)
            for c, v in r.params:
                cols[c].append(param_value(v))
        schema = result_schema(self._param_types(sweep))
        table = pa.table({k: pa.array(v, type=schema.field(k).type) for k, v in cols.items()})
        atomic_write(self.manifest_path, lambda tmp: pq.write_table(table, tmp), suffix=".tmp")

    @staticmethod
    def _param_types(sweep: Sweep) -> dict[str, Any]:
        if not sweep.runs:
            return {}
        return {c: param_value(v) for c, v in sweep.runs[0].params}

    def clean_stale(self) -> int:
        """Remove temporary files left by killed writers; returns how many."""
        removed = 0
        for folder in (self.runs_dir, self.deployments_dir, self.root):
            if not folder.is_dir():
                continue
            for p in folder.glob(".*.tmp"):
                try:
                    p.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    # ------------------------------------------------------------------ reading
    def finished(self) -> set[str]:
        """Run ids with a result file."""
        if not self.runs_dir.is_dir():
            return set()
        return {p.name[: -len(".parquet")] for p in self.runs_dir.glob("*.parquet")}

    def errors(self) -> set[str]:
        """Run ids whose stored result is an error."""
        import pyarrow.parquet as pq

        out = set()
        for p in self.runs_dir.glob("*.parquet"):
            t = pq.read_table(p, columns=["run_id", "status"])
            if t.column("status")[0].as_py() != "ok":
                out.add(p.name[: -len(".parquet")])
        return out

    def run_path(self, run_id: str) -> Path:
        """The result file of a run."""
        return self.runs_dir / f"{run_id}.parquet"

    # ------------------------------------------------------------------ writing
    def write(self, row: dict[str, Any], params: dict[str, Any]) -> Path:
        """Store one result row (its deployment first, then the row), each atomically.

        Args:
            row: a row from :func:`skycell.sweep.runner.execute_run`.
            params: ``p_*`` column -> an example value, for the column types.

        Returns:
            The row's Parquet file.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        row = dict(row)
        dep = row.pop(DEPLOYMENT_KEY, None)
        run_id = str(row["run_id"])
        if dep is not None:
            atomic_write_text(self.deployments_dir / f"{run_id}.json", dep)
        schema = result_schema(params)
        table = pa.Table.from_pylist([row], schema=schema)
        target = self.run_path(run_id)
        atomic_write(target, lambda tmp: pq.write_table(table, tmp), suffix=".tmp")
        return target
