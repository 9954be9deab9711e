"""The main job on the built-in default (paper 000 §V-A on the generated downtown): every AOI
served, no station or route inside a building, d_min held or explained, same seed same plan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skycell.deployment import Deployment
from skycell.plan.pipeline import PlanOutcome, deployment_city, evaluate_deployment, plan_scenario
from skycell.scenario import default_scenario, load_scenario


@pytest.fixture(scope="module")
def default_plan() -> PlanOutcome:
    return plan_scenario(default_scenario(), seed=0)


def test_default_plan_serves_every_aoi(default_plan: PlanOutcome) -> None:
    m = default_plan.metrics
    assert m.aoi_satisfaction == 1.0
    assert all(m.aoi_served)
    assert default_plan.placement.stop_reason == "early_stopping"


def test_default_plan_never_enters_a_building(default_plan: PlanOutcome) -> None:
    city = default_plan.city
    dep = default_plan.deployment
    xyz = dep.station_xyz_m()
    # no station inside a prism, and none hovering over a footprint taller than itself
    assert not city.inside_building(xyz).any()
    assert (city.height_at(xyz[:, :2]) < xyz[:, 2]).all()
    # every route segment, tested exactly against every prism
    for route in dep.routes_m():
        assert len(route) == default_plan.placement.iterations + 1
        assert city.line_of_sight(route[:-1], route[1:]).all()
        assert not city.inside_building(route).any()
    assert default_plan.metrics.routes_enter_buildings is False
    assert default_plan.metrics.stations_inside_buildings == 0
    # the safety layer keeps 5 m from the box of every building taller than the hover altitude
    assert (city.buildings.heights_m > xyz[0, 2]).any()
    for route in dep.routes_m():
        d = city.distance_to_buildings_m(route[:, :2], method="bbox", min_height_m=xyz[0, 2])
        assert d.min() >= 5.0 - 1e-6


def test_default_plan_separation_held_or_explained(default_plan: PlanOutcome) -> None:
    dep = default_plan.deployment
    p = dep.station_xyz_m()[:, :2]
    d = np.linalg.norm(p[:, None] - p[None], axis=-1)
    d_min = default_scenario().fleet.min_separation_m
    notes = " ".join(dep.notes)
    for i, j in zip(*np.nonzero(np.triu(d < d_min, k=1)), strict=True):
        assert f"s{i}-s{j}" in notes or f"s{i} and s{j}" in notes


def test_same_seed_same_plan(default_plan: PlanOutcome) -> None:
    again = plan_scenario(default_scenario(), seed=0, city=default_plan.city)
    a = default_plan.deployment.model_dump()
    b = again.deployment.model_dump()
    for d in (a, b):
        d["method"].pop("seconds_per_iteration")
    assert a == b
    other = plan_scenario(default_scenario(), seed=1, city=default_plan.city)
    assert other.deployment.stations[0].route_m[0] != default_plan.deployment.stations[0].route_m[0]


def test_deployment_round_trip_and_contract(default_plan: PlanOutcome, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = default_plan.deployment.save(tmp_path / "deployment.json")
    raw = json.loads(path.read_text())
    assert raw["schema_version"].startswith("1.")
    st = raw["stations"][0]
    for key in ("id", "position_m", "azimuth_deg", "tilt_deg", "tx_power_dbm", "route_m"):
        assert key in st
    assert len(st["position_m"]) == 3 and len(st["route_m"][0]) == 3
    aoi = raw["areas_of_interest"][0]
    assert set(aoi) >= {"id", "center_m", "radius_m"} and len(aoi["center_m"]) == 2
    b = raw["buildings"][0]
    assert set(b) >= {"footprint_m", "height_m"}
    assert len(raw["buildings"]) == len(default_plan.city.buildings)
    assert raw["metrics"]["aoi_satisfaction"] == 1.0
    back = Deployment.load(path)
    assert back == default_plan.deployment
    # re-evaluating the stored deployment reproduces the stored metrics
    city = deployment_city(back)
    again = evaluate_deployment(back, city)
    assert again.aoi_satisfaction == raw["metrics"]["aoi_satisfaction"]
    assert again.coverage_fraction == pytest.approx(raw["metrics"]["coverage_fraction"], abs=1e-12)
    assert again.effective_sir_db == pytest.approx(raw["metrics"]["effective_sir_db"], abs=1e-9)


def test_small_example_with_users(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sc = load_scenario("examples/small.yaml")
    out = plan_scenario(sc, seed=3)
    m = out.metrics
    assert m.user_rate_bps is not None and len(m.user_rate_bps) == len(sc.users)
    assert m.routes_enter_buildings is False
    # Shannon rate of every user is consistent with its SINR
    sinr = np.array(m.user_sinr_db)
    rate = np.array(m.user_rate_bps)
    np.testing.assert_allclose(rate, sc.radio.bandwidth_hz * np.log2(1 + 10 ** (sinr / 10)))
    assert out.deployment.user_trajectories[0].id == "walker"


def test_munich_real_geometry_plan_is_collision_free() -> None:
    from skycell.radio.sionna_engine import rt_available

    ok, why = rt_available()
    if not ok:
        pytest.skip(why)
    sc = load_scenario("examples/munich-paper000.yaml")
    out = plan_scenario(sc, seed=0)
    city = out.city
    assert len(city.buildings) > 500  # the imported sionna-rt scene, not a generated city
    dep = out.deployment
    assert not city.inside_building(dep.station_xyz_m()).any()
    for route in dep.routes_m():
        assert city.line_of_sight(route[:-1], route[1:]).all()
    assert out.metrics.aoi_satisfaction >= 0.8
