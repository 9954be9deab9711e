"""The Ray executor on a real local Ray cluster (``ray.init(num_cpus=2)``): the same rows as the
local executor, run hash by run hash."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from skycell.sweep import VOLATILE_COLUMNS, load_sweep, query, run_sweep

ray = pytest.importorskip(
    "ray", reason="the Ray executor needs ray (pip install 'skycell[cluster]')"
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(ROOT / "examples" / "small.yaml")

SWEEP = f"""
name: ray-vs-local
scenarios:
  - file: {SMALL}
    name: small
methods: [gradient, {{place: gradient, tune: maxmin}}]
seeds: 2
grid:
  fleet.stations: [2, 3]
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _rows(folder: Path) -> dict[str, dict[str, object]]:
    out = {}
    for p in sorted((folder / "runs").glob("*.parquet")):
        row = pq.read_table(p).to_pylist()[0]
        out[str(row["run_id"])] = row
    return out


def test_ray_and_local_give_the_same_rows_per_run_hash(cluster: None, tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SWEEP)
    sw = load_sweep(f)
    assert len(sw.runs) == 8
    on_ray = run_sweep(sw, tmp_path / "ray", executor="ray")
    local = run_sweep(sw, tmp_path / "local", executor="local", workers=2)
    assert not on_ray.failed and not local.failed
    a, b = _rows(tmp_path / "ray"), _rows(tmp_path / "local")
    assert set(a) == set(b) == {r.run_id for r in sw.runs}
    compared = 0
    for run_id, ra in a.items():
        rb = b[run_id]
        assert ra["executor"] == "ray" and rb["executor"] == "local"
        for col, va in ra.items():
            if col in VOLATILE_COLUMNS:
                continue
            assert va == rb[col], (run_id, col, va, rb[col])
            compared += 1
    assert compared > 8 * 50  # every result column of every run, not a handful
    tuned = query(tmp_path / "ray", "SELECT count(*) FROM runs WHERE tune = 'maxmin'").rows
    assert tuned[0][0] == 4
    pids = query(tmp_path / "ray", "SELECT count(DISTINCT pid) FROM runs").rows[0][0]
    assert pids >= 1


def test_ray_resumes_a_sweep_the_local_executor_started(cluster: None, tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SWEEP.replace("seeds: 2", "seeds: 1"))
    sw = load_sweep(f)
    first = sw.runs[:2]
    partial = replace(sw, runs=first)
    run_sweep(partial, tmp_path / "out", executor="local", workers=1)
    rest = run_sweep(sw, tmp_path / "out", executor="ray")
    assert rest.skipped == 2 and len(rest.executed) == len(sw.runs) - 2
    ex = query(tmp_path / "out", "SELECT executor, count(*) FROM runs GROUP BY 1 ORDER BY 1")
    assert ex.rows == [("local", 2), ("ray", len(sw.runs) - 2)]
