"""The command line as a user runs it: real subprocesses, exit codes, files written or not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def skycell(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MPLBACKEND="Agg", COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "skycell.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_scenario_example_round_trips(tmp_path: Path) -> None:
    r = skycell("scenario", "example")
    assert r.returncode == 0, r.stderr
    f = tmp_path / "mine.yaml"
    f.write_text(r.stdout)
    check = skycell("scenario", "check", str(f))
    assert check.returncode == 0, check.stderr
    text = " ".join(check.stdout.split())
    assert "valid" in text and "10 stations at 70 m" in text


def test_plan_and_evaluate_small_example(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = skycell("plan", "examples/small.yaml", "--out", str(out), "--seed", "2")
    assert r.returncode == 0, r.stderr
    assert "S_AOI" in r.stdout and "wrote" in r.stdout
    dep = json.loads((out / "deployment.json").read_text())
    assert dep["method"]["seed"] == 2
    png = (out / "plan.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == ["deployment.json", "plan.png", "report.html"]
    ev = skycell("evaluate", str(out / "deployment.json"), "--json")
    assert ev.returncode == 0, ev.stderr
    metrics = json.loads(ev.stdout)
    assert metrics["aoi_satisfaction"] == dep["metrics"]["aoi_satisfaction"]
    assert metrics["coverage_fraction"] == pytest.approx(dep["metrics"]["coverage_fraction"])


BAD_SCENARIO = """\
area: {x_min_m: -200, y_min_m: -200, x_max_m: 200, y_max_m: 200}
city:
  buildings:
    - {footprint_m: [[0, 0], [10, 0], [10, 10]], height_m: 20}
areas_of_interest:
  - {center_m: [0, 0], radius_m: -5}
  - {center_m: [190, 0], radius_m: 50}
fleet: {stations: 0}
radio: {pathloss_model: magic}
"""


def test_bad_scenario_exit_2_all_problems_nothing_written(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BAD_SCENARIO)
    out = tmp_path / "out"
    r = skycell("plan", str(f), "--out", str(out))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    err = " ".join(r.stderr.split())  # undo console wrapping
    assert "line 6" in err and "radius_m" in err
    assert "line 7" in err  # AOI circle outside the map
    assert "line 8" in err and "stations" in err
    assert "line 9" in err and "magic" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("broken.yaml", "area: [1, 2\n", "line"),
        ("broken.json", '{"area": }', "line 1"),
        ("scenario.txt", "x", "extension"),
    ],
)
def test_malformed_files_exit_2(tmp_path: Path, name: str, text: str, needle: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    r = skycell("plan", str(f), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert needle in r.stderr.lower()
    assert not (tmp_path / "out").exists()


def test_missing_file_and_bad_deployment_exit_2(tmp_path: Path) -> None:
    r = skycell("plan", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    bad = tmp_path / "deployment.json"
    bad.write_text(json.dumps({"schema_version": "1.0", "stations": [], "areas_of_interest": []}))
    r = skycell("evaluate", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "stations" in r.stderr
    bad.write_text(json.dumps({"schema_version": "9.0"}))
    r = skycell("evaluate", str(bad))
    assert r.returncode == 2 and "schema" in r.stderr


def test_version() -> None:
    r = skycell("--version")
    assert r.returncode == 0 and r.stdout.startswith("skycell ")


def test_bad_options_exit_2_without_traceback(tmp_path: Path) -> None:
    r = skycell("plan", "examples/small.yaml", "--seed", "-1", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "seed" in r.stderr.lower()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = skycell("plan", "examples/small.yaml", "--out", str(blocker / "sub"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = skycell("plan", "examples/small.yaml", "--method", "magic", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "magic" in r.stderr and not (tmp_path / "o").exists()


def test_plan_with_tuning_writes_tuned_settings(tmp_path: Path) -> None:
    out = tmp_path / "tuned"
    r = skycell("plan", "examples/small.yaml", "--tune", "maxmin", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    dep = json.loads((out / "deployment.json").read_text())
    tuning = dep["metrics"]["tuning"]
    assert dep["method"]["tuning"] == "maxmin"
    assert [s["tilt_deg"] for s in dep["stations"]] == pytest.approx(tuning["final_tilt_deg"])
    assert min(tuning["sir_after_db"]) >= min(tuning["sir_before_db"]) - 1e-9
    assert (out / "association.png").read_bytes()[:4] == b"\x89PNG"
    r = skycell("plan", "examples/small.yaml", "--tune", "best", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "maxmin" in r.stderr and not (tmp_path / "x").exists()


def test_plan_engine_needs_tune(tmp_path: Path) -> None:
    r = skycell("plan", "examples/small.yaml", "--engine", "sionna", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "give --tune as well" in " ".join(r.stderr.split())
    assert not (tmp_path / "o").exists()
    r = skycell(
        "plan",
        "examples/small.yaml",
        "--tune",
        "maxmin",
        "--engine",
        "magic",
        "--out",
        str(tmp_path / "o"),
    )
    assert r.returncode == 2 and "unknown engine 'magic'" in " ".join(r.stderr.split())


def test_channel_study_cli(tmp_path: Path) -> None:
    from skycell.radio.sionna_engine import rt_available

    ok, why = rt_available()
    if not ok:
        pytest.skip(f"Sionna RT engine unavailable: {why}")
    out = tmp_path / "cs"
    r = skycell(
        "channel-study",
        "examples/paper002-settlement.yaml",
        "--users",
        "40",
        "--frequencies",
        "7e9,140e9",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    text = " ".join(r.stdout.split())
    assert "Table 9" in text and "Table 10" in text and "close-in fit" in text
    data = json.loads((out / "channel-study.json").read_text())
    assert len(data["frequencies"]) == 2
    assert (out / "channel-ci-fit.png").stat().st_size > 5_000
    bad = skycell("channel-study", "examples/paper002-settlement.yaml", "--frequencies", "7e9,x")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
