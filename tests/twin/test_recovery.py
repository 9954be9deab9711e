"""`skycell recover` end to end (issue 5 item 4): on paper 000 §VII-C's example the critical
user's power during the drop rises by at least two orders of magnitude on the analytic engine,
the station's whole manoeuvre keeps c_b from every tall building, and the command writes its
report; also on the ray tracer when it is installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skycell.deployment import Deployment
from skycell.errors import SkycellError
from skycell.plan.pipeline import deployment_city, plan_scenario
from skycell.plan.recover import PHASES, obstacle_boxes, polyline_clearance_m
from skycell.scenario import load_scenario
from skycell.twin.recovery import plot_recovery, run_recovery

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sc = load_scenario(ROOT / "examples" / "paper000-recovery.yaml")
    dep = plan_scenario(sc, seed=0).deployment
    path = tmp_path_factory.mktemp("rec") / "deployment.json"
    dep.save(path)
    return path


def test_recovery_gains_two_orders_of_magnitude(planned: Path, tmp_path: Path) -> None:
    dep = Deployment.load(planned)
    run = run_recovery(dep, "critical")
    (drop,) = run.recovery.drops
    assert 18 <= drop.t_start <= 26 and 40 <= drop.t_end <= 48  # the paper: 22..44
    span = slice(drop.t_start, drop.t_end + 1)
    gain = run.power_after_w[span] / run.power_before_w[span]
    assert np.median(gain) >= 100.0
    stationary = run.recovery.phase == PHASES.index("stationary")
    assert stationary.any()
    assert np.all(run.power_after_w[stationary] >= 100.0 * run.power_before_w[stationary])
    assert np.all(run.power_after_w[stationary] > run.t_min_w)
    # outside the manoeuvre nothing changes
    still = run.recovery.phase == PHASES.index("deployed")
    np.testing.assert_allclose(run.power_after_w[still], run.power_before_w[still])
    # the whole station track and every route keep c_b from the buildings taller than it flies
    sc = load_scenario(ROOT / "examples" / "paper000-recovery.yaml")
    city = deployment_city(dep)
    boxes = obstacle_boxes(city, altitude_m=sc.fleet.altitude_m)
    assert boxes.shape[0] >= 1
    c_b = sc.fleet.building_clearance_m
    assert polyline_clearance_m(run.recovery.station_track_m, boxes) >= c_b - 1e-6
    for route in run.recovery.routes:
        assert polyline_clearance_m(route.waypoints_m, boxes) >= c_b - 1e-6
    track = run.recovery.station_track_m
    assert not city.inside_building(track).any()
    assert run.deployment.metrics["recovery"]["drop_median_gain"][0] >= 100.0
    assert plot_recovery(run, tmp_path / "fig12.png").stat().st_size > 10_000


def test_bad_requests(planned: Path) -> None:
    dep = Deployment.load(planned)
    with pytest.raises(SkycellError, match="no user 'nobody'"):
        run_recovery(dep, "nobody")
    with pytest.raises(SkycellError, match="no station 's9'"):
        run_recovery(dep, "critical", station_id="s9")


def test_cli_recover(planned: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    r = subprocess.run(
        [sys.executable, "-m", "skycell.cli", "recover", str(planned), "--user", "critical",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "160"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((out / "recovery.json").read_text())
    assert data["user"] == "critical" and len(data["drops"]) == 1
    assert data["drop_median_gain"][0] >= 100.0
    assert (out / "recovery.png").stat().st_size > 10_000
    assert "recovery" in json.loads((out / "deployment.json").read_text())["metrics"]
    bad = subprocess.run(
        [sys.executable, "-m", "skycell.cli", "recover", str(planned), "--user", "x"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "no user 'x'" in bad.stderr


def test_recovery_on_the_ray_tracer(planned: Path) -> None:
    from skycell.radio.sionna_engine import rt_available

    ok, why = rt_available()
    if not ok:
        pytest.skip(f"Sionna RT engine unavailable: {why}")
    run = run_recovery(Deployment.load(planned), "critical", engine="sionna", samples=5000)
    assert run.engine == "sionna" and run.power_before_w.shape == (61,)
    assert run.recovery.drops  # the ray tracer's shadow is deeper than the analytic one
    stationary = run.recovery.phase == PHASES.index("stationary")
    assert np.median(run.power_after_w[stationary] / run.power_before_w[stationary]) >= 100.0
