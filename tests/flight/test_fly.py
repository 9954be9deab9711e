"""``skycell fly`` end to end: the default plan's ten stations fly to their points through the
synthesised controller on the nonlinear model; every flown trajectory keeps the building
clearance and the station separation (checked here independently of the code that reports
them); routes come back time-stamped; the battery budget is reported. Also the CLI, and a PID
controller on the small example."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from skycell.cli import app
from skycell.deployment import Deployment
from skycell.errors import SkycellError
from skycell.flight.fly import FlightOptions, FlightRun, fly_deployment, plot_flight
from skycell.plan.pipeline import deployment_city, plan_scenario
from skycell.scenario import default_scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def default_flight(route_tables, flight_cache: Path) -> FlightRun:  # type: ignore[no-untyped-def]
    dep = plan_scenario(default_scenario(), seed=0).deployment
    return fly_deployment(dep, FlightOptions(cache_dir=flight_cache))


def _clearance_3d(city, xyz: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    """Independent check: exact 3-D distance of every recorded point to every building prism
    (shapely point-polygon distances, then the height), plus half the largest step between
    two records (the drone moves at most that far from a record in between)."""
    b = city.buildings
    pts = shapely.points(xyz[:, :2])
    best = np.inf
    near = shapely.STRtree(b.polygons).query(pts, predicate="dwithin", distance=40.0)
    if near.shape[1]:
        i, k = near
        dh = shapely.distance(pts[i], b.polygons[k])
        dz = np.maximum(xyz[i, 2] - b.heights_m[k], 0.0)
        best = float(np.hypot(dh, dz).min())
    step = float(np.linalg.norm(np.diff(xyz, axis=0), axis=1).max())
    return best - step / 2.0


def test_default_plan_flies_end_to_end_safely(default_flight: FlightRun) -> None:
    run = default_flight
    sc = default_scenario()
    c_b = sc.fleet.building_clearance_m
    sep = sc.fleet.flight_separation_m
    assert len(run.stations) == 10
    assert run.report["all_reached"]
    city = run.city
    for f in run.stations:
        assert f.arrival_s is not None and f.arrival_s > 0
        # every flown trajectory keeps the building clearance, in 3-D
        assert _clearance_3d(city, f.position_m) >= c_b, f.id
        assert f.min_clearance_3d_m >= c_b
        # it tracked its reference within the controller's tube
        assert f.max_tracking_error_m <= run.report["tube_horizontal_m"]
        # and reached its (possibly moved) hover point
        assert np.linalg.norm(f.position_m[-1] - f.reference.goal_m) < 0.5
    # every pair of stations kept the flight separation at every recorded instant
    pos = np.stack([f.position_m for f in run.stations], axis=1)
    for i in range(10):
        for j in range(i + 1, 10):
            assert np.linalg.norm(pos[:, i] - pos[:, j], axis=1).min() >= sep
    assert run.report["min_station_distance_m"] >= sep
    assert run.report["min_building_clearance_3d_m"] >= c_b
    # the synthesised laws never found a state outside their invariants; transitions outside
    # the abstraction (yaw coupling, see the README) are rare
    mon = run.report["monitor"]
    assert all(m["exits"] == 0 for m in mon.values())
    total = sum(m["steps"] * 10 for m in mon.values())
    assert sum(m["violations"] for m in mon.values()) <= 1e-3 * total
    assert run.report["rotor_saturation_steps"] == 0


def test_flown_routes_are_written_with_time_stamps(
    default_flight: FlightRun, tmp_path: Path
) -> None:
    dep = default_flight.deployment
    path = dep.save(tmp_path / "deployment.json")
    back = Deployment.load(path)
    for s, f in zip(back.stations, default_flight.stations, strict=True):
        assert len(s.route_m) == len(s.route_t_s) >= 2
        t = np.asarray(s.route_t_s)
        assert t[0] == 0.0 and np.all(np.diff(t) > 0)
        assert t[-1] == pytest.approx(f.arrival_s, abs=1e-6)
        np.testing.assert_allclose(s.route_m[-1], s.position_m, atol=0.5)
        np.testing.assert_allclose(s.position_m, f.reference.goal_m)
    flight = back.metrics["flight"]
    assert flight["controller"] == "synthesized"
    assert {"arrival_s", "min_building_clearance_3d_m", "energy"} <= set(flight["stations"][0])
    # the plan's own route metric is recomputed on the flown routes
    assert (
        min(back.metrics["route_min_clearance_m"]) >= default_scenario().fleet.building_clearance_m
    )
    assert back.metrics["routes_enter_buildings"] is False


def test_energy_budget_of_the_default_flight(default_flight: FlightRun) -> None:
    sc = default_scenario()
    for f in default_flight.stations:
        e = f.budget
        assert e.mission_time_s == sc.fleet.mission_time_s
        assert e.usable_j == pytest.approx(sc.fleet.battery_capacity_wh * 3600 * 0.8)
        assert e.return_j == e.outbound_j > 0
        # longer flights cost more than hovering the same time is cheaper than flying fast?
        hover_only = e.hover_power_w * (f.arrival_s or 0.0)
        assert e.outbound_j < 2.0 * hover_only + 1.0
    assert default_flight.report["all_within_battery"]


def test_flight_plot_is_written(default_flight: FlightRun, tmp_path: Path) -> None:
    png = plot_flight(default_flight, tmp_path / "flight.png")
    assert png.stat().st_size > 20_000


def test_cli_fly_on_the_small_example(tmp_path: Path, flight_cache: Path) -> None:
    dep = plan_scenario(load_scenario(ROOT / "examples" / "small.yaml"), seed=0).deployment
    src = dep.save(tmp_path / "plan" / "deployment.json")
    out = tmp_path / "fly"
    runner = CliRunner()
    res = runner.invoke(app, ["fly", str(src), "--out", str(out), "--cache", str(flight_cache)])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "flight.json").read_text())
    assert report["all_reached"]
    c_b = load_scenario(ROOT / "examples" / "small.yaml").fleet.building_clearance_m
    assert report["min_building_clearance_3d_m"] >= c_b
    assert (out / "flight.png").is_file()
    flown = Deployment.load(out / "deployment.json")
    assert all(len(s.route_t_s) == len(s.route_m) for s in flown.stations)
    bad = runner.invoke(app, ["fly", str(src), "--controller", "lqr", "--out", str(out)])
    assert bad.exit_code == 2
    assert "unknown controller 'lqr'" in bad.output


def test_pid_controller_flies_the_small_example(tmp_path: Path) -> None:
    dep = plan_scenario(load_scenario(ROOT / "examples" / "small.yaml"), seed=0).deployment
    run = fly_deployment(
        dep, FlightOptions(controller="pid-gwo", tune_iterations=4, tune_population=6, seed=1)
    )
    assert run.report["controller"] == "pid-gwo"
    assert set(run.report["pid_tuning"]["axes"]) == {"x", "y", "z", "roll", "pitch", "yaw"}
    assert run.report["monitor"] == {}
    city = deployment_city(dep)
    for f in run.stations:
        assert f.arrival_s is not None
        assert _clearance_3d(city, f.position_m) >= 10.0  # small.yaml's c_b
    with pytest.raises(SkycellError, match="unknown controller"):
        FlightOptions(controller="pid-pso")
