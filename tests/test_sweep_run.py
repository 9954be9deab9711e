"""Running sweeps on local processes: stored rows, resume after a kill, DuckDB, summaries, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from skycell.errors import SkycellError
from skycell.sweep import (
    RESULT_COLUMNS,
    SweepStore,
    load_sweep,
    query,
    run_sweep,
    write_summaries,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(ROOT / "examples" / "small.yaml")

TINY = f"""
name: tiny
scenarios:
  - file: {SMALL}
    name: small
methods: [gradient]
seeds: 2
grid:
  fleet.stations: [2, 3]
summary:
  - name: by-stations
    title: S_AOI by stations
    query: |
      SELECT p_fleet_stations AS n, count(*) AS runs, avg(aoi_satisfaction) AS s_aoi
      FROM runs WHERE status = 'ok' GROUP BY n ORDER BY n
    plot: {{kind: bar, x: n, y: s_aoi, reference: 1.0}}
"""


def skycell(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skycell.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tiny")
    f = d / "tiny.yaml"
    f.write_text(TINY)
    out = d / "out"
    outcome = run_sweep(load_sweep(f), out, workers=2)
    assert outcome.total == 4 and outcome.skipped == 0 and not outcome.failed
    return f, out


def test_every_run_is_stored_and_matches_a_direct_plan(tiny_run: tuple[Path, Path]) -> None:
    from skycell.plan.pipeline import plan_scenario
    from skycell.scenario import load_scenario

    f, out = tiny_run
    sw = load_sweep(f)
    files = sorted(p.name for p in (out / "runs").iterdir())
    assert files == sorted(f"{r.run_id}.parquet" for r in sw.runs)
    res = query(
        out,
        "SELECT run_id, seed, p_fleet_stations, status, aoi_satisfaction, coverage_fraction, "
        "station_x_m, station_y_m, iterations, executor FROM runs ORDER BY run_index",
    )
    assert len(res.rows) == 4
    base = load_scenario(SMALL)
    city = base.build_city()
    for run, row in zip(sw.runs, res.rows, strict=True):
        assert row[0] == run.run_id and row[3] == "ok" and row[9] == "local"
        sc = base.model_copy(update={"fleet": base.fleet.model_copy(update={"stations": row[2]})})
        direct = plan_scenario(sc, seed=row[1], city=city)
        m = direct.deployment.metrics
        assert row[4] == m["aoi_satisfaction"]
        assert row[5] == m["coverage_fraction"]
        assert row[6] == [s.position_m[0] for s in direct.deployment.stations]
        assert row[7] == [s.position_m[1] for s in direct.deployment.stations]
        assert row[8] == direct.deployment.method["iterations"]


def test_parquet_schema_is_fixed_and_manifest_lists_the_runs(tiny_run: tuple[Path, Path]) -> None:
    _, out = tiny_run
    for p in (out / "runs").glob("*.parquet"):
        names = pq.read_schema(p).names
        assert names[: len(RESULT_COLUMNS)] == list(RESULT_COLUMNS)
        assert names[len(RESULT_COLUMNS) :] == ["p_fleet_stations"]
    pending = query(out, "SELECT count(*) FROM pending").rows[0][0]
    planned = query(out, "SELECT count(*) FROM manifest").rows[0][0]
    assert (pending, planned) == (0, 4)


def test_summaries_are_written_from_duckdb(tiny_run: tuple[Path, Path]) -> None:
    _, out = tiny_run
    written = write_summaries(out)
    assert [s.name for s in written] == ["by-stations"]
    s = written[0]
    assert {p.suffix for p in s.paths} == {".csv", ".md", ".png"}
    direct = query(out, "SELECT p_fleet_stations, count(*) FROM runs GROUP BY 1 ORDER BY 1")
    assert [(r[0], r[1]) for r in s.result.rows] == [tuple(r) for r in direct.rows]
    csv = (out / "summary" / "by-stations.csv").read_text().splitlines()
    assert csv[0] == "n,runs,s_aoi" and len(csv) == 3
    assert (out / "summary" / "by-stations.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SkycellError, match="columns of runs: run_id"):
        query(out, "SELECT no_such_column FROM runs")


def test_rerun_skips_every_finished_run(tiny_run: tuple[Path, Path]) -> None:
    f, out = tiny_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    again = run_sweep(load_sweep(f), out, workers=2)
    assert again.skipped == 4 and again.executed == []
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == before


def test_failed_runs_are_rows_and_retry_errors_reruns_exactly_them(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(
        f"scenarios: [{{file: {SMALL}}}]\nmethods: [gradient]\n"
        "grid: {areas_of_interest: [[], [{id: a, center_m: [0, 120], radius_m: 40}]]}\n"
    )
    out = tmp_path / "out"
    first = run_sweep(load_sweep(f), out, workers=1)
    assert len(first.executed) == 2 and len(first.failed) == 1
    err = query(out, "SELECT run_id, error FROM runs WHERE status = 'error'").rows
    assert len(err) == 1 and "needs areas of interest" in err[0][1]
    assert SweepStore(out).errors() == {err[0][0]}
    retry = run_sweep(load_sweep(f), out, workers=1, retry_errors=True)
    assert retry.executed == [err[0][0]] and retry.skipped == 1


def test_a_failed_write_leaves_nothing_half_written(tmp_path: Path) -> None:
    store = SweepStore(tmp_path)
    store.runs_dir.mkdir(parents=True)
    row = dict.fromkeys(RESULT_COLUMNS)
    row.update(run_id="deadbeefdeadbeef", status="ok", aoi_satisfaction="not a number")
    with pytest.raises(Exception, match=r"float|double|convert"):
        store.write(row, {})
    assert list(store.runs_dir.iterdir()) == []  # neither the file nor its temporary


TEN = f"""
name: ten
scenarios: [{{file: {SMALL}}}]
methods: [gradient]
seeds: 10
grid: {{placement.max_iterations: [400]}}
"""


def test_killed_sweep_resumes_with_exactly_the_missing_runs(tmp_path: Path) -> None:
    f = tmp_path / "ten.yaml"
    f.write_text(TEN)
    out = tmp_path / "out"
    runs = out / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skycell.cli",
            "sweep",
            str(f),
            "--out",
            str(out),
            "--workers",
            "1",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the driver and its worker
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if runs.is_dir() and any(runs.glob("*.parquet")):
                break
            if proc.poll() is not None:
                pytest.fail("the sweep finished before it could be killed")
            time.sleep(0.01)
        else:
            pytest.fail("no run finished within 300 s")
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the driver and the worker, mid-sweep
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    finished = {p.name: p.read_bytes() for p in runs.glob("*.parquet")}
    assert 1 <= len(finished) < 10, len(finished)
    for name in finished:  # every stored result is a complete, readable file
        t = pq.read_table(runs / name)
        assert t.num_rows == 1 and t.column("run_id")[0].as_py() == name[: -len(".parquet")]
    # a writer killed mid-write leaves at most a hidden temporary, never a result file
    (runs / ".stale.parquet.x1y2.tmp").write_bytes(b"PAR1 half a file")
    assert len(list(runs.glob("*.parquet"))) == len(finished)

    r = skycell("sweep", str(f), "--out", str(out), "--workers", "2")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert f"{len(finished)} finished run(s) skipped, {10 - len(finished)} to run" in text
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        f"{x.run_id}.parquet" for x in load_sweep(f).runs
    )  # all ten, and the stale temporary is gone
    for name, data in finished.items():
        assert (runs / name).read_bytes() == data  # finished runs were not run again
    sessions = query(out, "SELECT session, count(*) FROM runs GROUP BY 1 ORDER BY 2").rows
    assert sorted(c for _, c in sessions) == sorted([len(finished), 10 - len(finished)])


def test_cli_sweep_results_and_bad_input(tmp_path: Path) -> None:
    f = tmp_path / "tiny.yaml"
    f.write_text(TINY)
    out = tmp_path / "out"
    r = skycell("sweep", str(f), "--out", str(out), "--workers", "2")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "4 runs (1 scenario(s) x 2 grid point(s) x 1 method(s) x 2 seed(s))" in text
    assert "0 finished run(s) skipped, 4 to run" in text and "S_AOI by stations" in text
    q = skycell("results", str(out), "--query", "SELECT count(*) AS n FROM runs", "--json")
    assert q.returncode == 0, q.stderr
    assert json.loads(q.stdout) == [{"n": 4}]
    overview = skycell("results", str(out))
    assert overview.returncode == 0 and "planned" in overview.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios: [{file: nope.yaml}]\nmethods: [gradiant]\nseeds: 0\n")
    b = skycell("sweep", str(bad), "--out", str(tmp_path / "bad-out"))
    assert b.returncode == 2
    assert "Traceback" not in b.stderr and "3 problem(s)" in " ".join(b.stderr.split())
    assert not (tmp_path / "bad-out").exists()
    nq = skycell("results", str(out), "--query", "SELEC 1")
    assert nq.returncode == 2 and "query failed" in nq.stderr


def _live_in_group(pgid: int) -> list[str]:
    """Processes of a process group that are still alive (zombies left to a container's init,
    which may not reap them, do not count)."""
    ps = subprocess.run(
        ["ps", "-eo", "pgid=,stat=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [
        line
        for line in ps.splitlines()
        if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")
    ]


def test_ctrl_c_stops_the_driver_and_its_workers_promptly(tmp_path: Path) -> None:
    """Ctrl-C in a terminal sends SIGINT to the whole process group: the sweep must stop at
    once (not drain its queue), say how to resume, and leave only complete results."""
    f = tmp_path / "ten.yaml"
    f.write_text(TEN.replace("seeds: 10", "seeds: 40"))
    out = tmp_path / "out"
    runs = out / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skycell.cli",
            "sweep",
            str(f),
            "--out",
            str(out),
            "--workers",
            "2",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not (runs.is_dir() and any(runs.glob("*.parquet"))):
            assert proc.poll() is None, "the sweep ended before it could be interrupted"
            assert time.monotonic() < deadline, "no run finished within 300 s"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 30  # stopped, did not run the other ~38 runs
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err
    time.sleep(1.0)
    assert _live_in_group(proc.pid) == [], "a worker kept running after Ctrl-C"
    stored = list(runs.glob("*.parquet"))
    assert 1 <= len(stored) < 40
    assert not list(runs.glob(".*.tmp"))
    resumed = run_sweep(load_sweep(f), out, workers=2)
    assert resumed.skipped == len(stored) and len(resumed.executed) == 40 - len(stored)
