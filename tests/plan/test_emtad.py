"""EMTAD (paper 004): constraints, eq. 6 sphere radii, determinism, infeasible inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skycell.city.buildings import Buildings, City
from skycell.errors import InfeasibleError
from skycell.plan.assignment import check_placement, link_table
from skycell.plan.size_emtad import (
    coverage_problem,
    coverage_radii_m,
    los_probability_threshold_angle_deg,
    place_emtad,
)
from skycell.radio.pathloss import al_hourani_los_probability
from skycell.scenario import Area, Scenario, User, load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def paper004(
    *,
    users: int = 20,
    demand_bps: float = 6.5e6,
    side_m: float = 100.0,
    stations: int = 10,
    channels: bool = False,
    seed: int = 4,
    **exact: object,
) -> Scenario:
    """Paper 004 Scenario A with the given size, demand and (5c) reading (``channels``: one
    20 MHz channel per user, at most 8 users per UAV; else airtime on one 160 MHz channel)."""
    sc = load_scenario(EXAMPLES / "paper004-scenario-a.yaml")
    h = side_m / 2.0
    group = sc.user_groups[0].model_copy(
        update={"count": users, "demand_bps": (demand_bps,), "seed": seed}
    )
    fleet = sc.fleet.model_copy(update={"stations": stations})
    radio = sc.radio
    if channels:
        fleet = fleet.model_copy(update={"bandwidth_per_uav_hz": 160e6})
        radio = radio.model_copy(update={"channel_width_mhz": 20, "bandwidth_hz": 20e6})
    placement = sc.placement
    if exact:
        placement = placement.model_copy(update={"exact": placement.exact.model_copy(update=exact)})
    return sc.model_copy(
        update={
            "area": Area(x_min_m=-h, y_min_m=-h, x_max_m=h, y_max_m=h),
            "user_groups": (group,),
            "fleet": fleet,
            "radio": radio,
            "placement": placement,
        }
    )


def _inputs(sc: Scenario) -> tuple[Scenario, City, tuple[User, ...]]:
    city = sc.build_city()
    return sc, city, sc.users_in(city)


@pytest.mark.parametrize("demand_bps", [6.5e6, 26e6, 52e6])
def test_emtad_serves_everyone_within_the_constraints(demand_bps: float) -> None:
    sc, city, users = _inputs(paper004(demand_bps=demand_bps))
    plan = place_emtad(sc, city, users, seed=0)
    assert check_placement(sc, city, users, plan) == []
    assert np.all(plan.association >= 0)
    assert plan.station_count >= 1
    lo, hi = sc.altitude_range_m
    assert np.all((plan.station_xyz_m[:, 2] >= lo - 1e-9) & (plan.station_xyz_m[:, 2] <= hi + 1e-9))
    # Table II: every served user sees its UAV with LoS probability >= 0.9 (paper004 constants)
    st = plan.station_xyz_m[plan.association]
    xyz = np.array([u.position_m for u in users])
    theta = np.degrees(np.arctan2(st[:, 2] - xyz[:, 2], np.hypot(*(st[:, :2] - xyz[:, :2]).T)))
    assert np.all(al_hourani_los_probability(theta, a=9.6, b=0.28) >= 0.9 - 1e-9)


def test_more_demand_never_needs_fewer_uavs_on_scenario_a() -> None:
    counts = []
    for d in (6.5e6, 19.5e6, 39e6, 52e6):
        sc, city, users = _inputs(paper004(demand_bps=d))
        counts.append(place_emtad(sc, city, users, seed=0).station_count)
    assert counts == sorted(counts)
    assert counts[0] == 1


def test_channel_reading_caps_users_per_uav() -> None:
    sc, city, users = _inputs(paper004(channels=True))
    plan = place_emtad(sc, city, users, seed=0)
    assert check_placement(sc, city, users, plan) == []
    assert np.bincount(plan.association).max() <= 8
    assert plan.station_count >= 3  # ceil(20 / 8)


def test_same_seed_same_plan() -> None:
    sc, city, users = _inputs(paper004(demand_bps=26e6))
    a = place_emtad(sc, city, users, seed=3)
    b = place_emtad(sc, city, users, seed=3)
    np.testing.assert_array_equal(a.station_xyz_m, b.station_xyz_m)
    np.testing.assert_array_equal(a.association, b.association)


def test_sphere_radius_solves_eq6_per_height() -> None:
    # eq. 6: at the radius the link just carries the demand; a metre further it does not
    sc, city, users = _inputs(paper004(users=3, demand_bps=26e6, side_m=1000.0))
    problem = coverage_problem(sc, city, users)
    heights = np.array([20.0, 60.0, 100.0])
    radii = coverage_radii_m(problem, heights)
    assert radii.shape == (3, 3)
    r = radii[0]
    assert np.all(r > 0)
    empty = City(bounds_m=(-1e4, -1e4, 1e4, 1e4), buildings=Buildings.empty())
    u = np.array([[0.0, 0.0, users[0].position_m[2]]])
    inside = np.column_stack((r - 0.01, np.zeros(3), heights))
    outside = np.column_stack((r + 1.0, np.zeros(3), heights))
    assert np.all(link_table(sc, empty, inside, u).rate_bps[:, 0] >= 26e6)
    assert np.all(link_table(sc, empty, outside, u).rate_bps[:, 0] < 26e6)
    # the LoS-probability threshold cuts the region to the cone above theta(0.9)
    theta = los_probability_threshold_angle_deg(0.9, a=9.6, b=0.28)
    assert al_hourani_los_probability(theta, a=9.6, b=0.28) == pytest.approx(0.9)
    cone = coverage_radii_m(problem, heights, los_probability_threshold=0.9)[0]
    dz = heights - users[0].position_m[2]
    np.testing.assert_allclose(
        cone, np.minimum(r, dz / np.tan(np.radians(theta))), rtol=0, atol=0.05
    )


def test_mean_gain_ignores_buildings_on_the_path() -> None:
    # paper 004's link model averages over the LoS probability: no geometric LoS decision
    sc, _, _ = _inputs(paper004(users=2))
    box = Buildings(
        footprints_m=(np.array([[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]]),),
        heights_m=np.array([40.0]),
    )
    st = np.array([[30.0, 0.0, 30.0]])
    u = np.array([[-30.0, 0.0, 1.5]])
    empty = City(bounds_m=(-100, -100, 100, 100), buildings=Buildings.empty())
    blocked = City(bounds_m=(-100, -100, 100, 100), buildings=box)
    assert not link_table(sc, blocked, st, u).los[0, 0]
    np.testing.assert_allclose(
        link_table(sc, empty, st, u).path_loss_db, link_table(sc, blocked, st, u).path_loss_db
    )


def test_demand_no_mcs_carries_names_the_users() -> None:
    sc = paper004(users=4)
    city = sc.build_city()
    users = list(sc.users_in(city))
    users[2] = users[2].model_copy(update={"demand_bps": 5e9})
    with pytest.raises(InfeasibleError) as info:
        place_emtad(sc, city, tuple(users))
    assert list(info.value.reasons) == [users[2].id]
    assert "802.11ac" in info.value.reasons[users[2].id]


def test_unreachable_user_is_named() -> None:
    sc = paper004(users=4, side_m=100.0)
    sc = sc.model_copy(
        update={
            "area": Area(x_min_m=-50, y_min_m=-50, x_max_m=2000, y_max_m=50),
            "fleet": sc.fleet.model_copy(
                update={"positioning_area": Area(x_min_m=-50, y_min_m=-50, x_max_m=50, y_max_m=50)}
            ),
        }
    )
    group = sc.user_groups[0].model_copy(
        update={"area": Area(x_min_m=-50, y_min_m=-50, x_max_m=50, y_max_m=50)}
    )
    sc = sc.model_copy(update={"user_groups": (group,)})
    city = sc.build_city()
    users = list(sc.users_in(city))
    far = users[0].model_copy(update={"id": "far", "position_m": (1900.0, 0.0, 1.5)})
    with pytest.raises(InfeasibleError) as info:
        place_emtad(sc, city, (*users, far))
    assert list(info.value.reasons) == ["far"]
    assert "below its demand" in info.value.reasons["far"]


def test_fleet_too_small_names_users() -> None:
    sc, city, users = _inputs(paper004(demand_bps=52e6, stations=1))
    with pytest.raises(InfeasibleError) as info:
        place_emtad(sc, city, users)
    assert "fleet.stations" in info.value.reasons
    assert any(k.startswith("ue-") for k in info.value.reasons)
