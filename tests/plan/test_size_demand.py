"""Paper 002 §3.2 sizing (closed forms) and the ``demand`` method (§3.4 cost-map placement):
constraints through ``check_placement`` on scaled-down designs, unserved users explained,
shortage handling, determinism."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skycell.errors import InfeasibleError
from skycell.plan.assignment import check_placement, users_xyz_m
from skycell.plan.place_costmap import (
    altitude_levels_m,
    bin_users,
    placement_cost,
    served_path_loss_db,
)
from skycell.plan.size_demand import (
    OUTSIDE_AREA,
    demand_sizing,
    gathering_areas,
    los_coverage_radius_m,
    min_drones,
    place_demand,
    proportional_allocation,
)
from skycell.scenario import Scenario, load_scenario, scenario_from_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# ---------------------------------------------------------------------------------------------
# Closed forms of §3.2
# ---------------------------------------------------------------------------------------------


def test_min_drones_is_the_ceiling_of_demand_over_capacity() -> None:
    # Table 6 designs at 2000 users per drone: capacity alone asks for 5, 25 and 50 drones.
    assert min_drones([10_000, 50_000, 100_000], 2000).tolist() == [5, 25, 50]
    assert min_drones([0, 1, 1999, 2000, 2001], 2000).tolist() == [0, 1, 1, 1, 2]
    with pytest.raises(ValueError):
        min_drones([1], 0)


def test_proportional_allocation_largest_remainder() -> None:
    # shares 5/6, 10/6, 15/6 -> floors 0, 1, 2; the 2 left go to fractions .83 and .67
    assert proportional_allocation([10, 20, 30], 5).tolist() == [1, 2, 2]
    # a tie in fraction and demand goes to the earlier area
    assert proportional_allocation([1, 1], 1).tolist() == [1, 0]
    # ties in fraction go to the larger demand first
    assert proportional_allocation([1, 3], 2).tolist() == [0, 2]
    # caps: the drones an area cannot use go to the others
    assert proportional_allocation([10, 10], 6, need=[1, 10]).tolist() == [1, 5]
    assert proportional_allocation([0, 5], 3).tolist() == [0, 3]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=300),
)
def test_proportional_allocation_sums_to_available_and_is_proportional(
    demand: list[int], n_available: int
) -> None:
    alloc = proportional_allocation(demand, n_available)
    d = np.asarray(demand, dtype=np.float64)
    if d.sum() == 0:
        assert alloc.sum() == 0
        return
    assert alloc.sum() == n_available
    exact = d / d.sum() * n_available
    assert np.all(alloc >= np.floor(exact + 1e-9) - 0)  # the paper's floor, never less
    assert np.all(alloc <= np.floor(exact + 1e-9) + 1)  # at most one of the remainder


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=40)),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=0, max_value=100),
)
def test_capped_allocation_never_exceeds_need(pairs: list[tuple[int, int]], n: int) -> None:
    demand = [p[0] for p in pairs]
    need = [p[1] if p[0] > 0 else 0 for p in pairs]
    alloc = proportional_allocation(demand, n, need=need)
    assert np.all(alloc <= need)
    assert np.all(alloc >= 0)
    assert alloc.sum() == min(n, sum(need))


def test_demand_sizing_phases() -> None:
    enough = demand_sizing([6000, 2000], users_per_drone=2000, n_available=10)
    assert enough.n_min.tolist() == [3, 1]
    assert enough.n_allocated.tolist() == [3, 1]
    assert not enough.short
    assert enough.lower_bound == 4
    # short: n_min sums to 4 > 3; shares 2.25 / 0.75 -> floors 2 / 0, remainder to .75
    short = demand_sizing([6000, 2000], users_per_drone=2000, n_available=3)
    assert short.short
    assert short.n_allocated.tolist() == [2, 1]
    # update after placement (phase 3): the updated counts when they fit ...
    upd = demand_sizing([6000, 2000], users_per_drone=2000, n_available=10, n_updated=[4, 2])
    assert upd.n_final.tolist() == [4, 2]
    # ... else the proportional allocation capped at them: shares 3.75 / 1.25 -> 4 / 1
    upd = demand_sizing([6000, 2000], users_per_drone=2000, n_available=5, n_updated=[4, 2])
    assert upd.n_final.tolist() == [4, 1]
    assert upd.short
    rows = upd.table()
    assert rows[0] == {
        "area": "area0",
        "users": 6000,
        "n_min": 3,
        "n_allocated": 3,
        "n_updated": 4,
        "n_final": 4,
    }


# ---------------------------------------------------------------------------------------------
# Cost map pieces (§3.4)
# ---------------------------------------------------------------------------------------------


def test_served_path_loss_takes_the_best_users_up_to_capacity() -> None:
    pl = np.array([[100.0, 110.0, 120.0], [90.0, 95.0, 0.0]])
    cnt = np.array([[3.0, 2.0, 10.0], [1.0, 1.0, 0.0]])  # row 1: third cell not covered
    mean, served = served_path_loss_db(pl, cnt, capacity=4)
    assert served.tolist() == [4.0, 2.0]
    assert mean[0] == pytest.approx((3 * 100 + 1 * 110) / 4)
    assert mean[1] == pytest.approx(92.5)
    mean, served = served_path_loss_db(pl, np.zeros_like(cnt), capacity=4)
    assert np.all(np.isinf(mean)) and np.all(served == 0)


def test_placement_cost_formula() -> None:
    c = placement_cost(
        np.array([100.0, np.inf]),
        np.array([50.0, 0.0]),
        np.array([20.0, 0.0]),
        alpha=2.0,
        beta=0.1,
        gamma=0.5,
    )
    assert c[0] == pytest.approx(2 * 100 + 0.1 * 50 - 0.5 * 20)
    assert np.isinf(c[1])


def test_altitude_levels_and_binning() -> None:
    assert altitude_levels_m(30, 120, 10).tolist() == [30 + 10 * k for k in range(10)]
    assert altitude_levels_m(30, 55, 10).tolist() == [30, 40, 50, 55]
    assert altitude_levels_m(50, 50, 10).tolist() == [50]
    u = np.array([[1.0, 1.0, 1.5], [3.0, 3.0, 1.5], [15.0, 1.0, 1.5]])
    cell, xyz, count = bin_users(u, anchor_xy_m=(0.0, 0.0), cell_m=10.0)
    assert count.sum() == 3 and cell[0] == cell[1] != cell[2]
    assert xyz[cell[0]].tolist() == [2.0, 2.0, 1.5]


# ---------------------------------------------------------------------------------------------
# The method on scaled-down scenarios
# ---------------------------------------------------------------------------------------------


def _scenario(**over: Any) -> Scenario:
    """Design 1 scaled down: 2000 users in a 100 000 m² event circle, 400 users per drone."""
    d: dict[str, Any] = {
        "name": "p002-small",
        "area": {"x_min_m": -200, "y_min_m": -200, "x_max_m": 200, "y_max_m": 200},
        "city": {"buildings": []},
        "areas_of_interest": [{"id": "event", "center_m": [0, 0], "radius_m": 178.41}],
        "user_groups": [{"id": "crowd", "count": 2000, "aoi": "event", "seed": 1}],
        "fleet": {
            "stations": 30,
            "min_altitude_m": 30,
            "max_altitude_m": 60,
            "min_separation_m": 10,
            "building_clearance_m": 0,
            "max_users_per_uav": 400,
        },
        "radio": {
            "frequency_hz": 140e9,
            "tx_power_dbm": 37.0,
            "pathloss_model": "free_space",
            "station_antenna": "isotropic",
        },
        "placement": {
            "method": "demand",
            "demand": {"users_per_drone": 400, "grid_step_m": 20, "altitude_step_m": 15},
        },
    }
    for path, value in over.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return scenario_from_dict(d)


def _run(sc: Scenario) -> tuple[Any, Any, Any]:
    city = sc.build_city()
    users = sc.users_in(city)
    return city, users, place_demand(sc, city, users)


def test_capacity_bound_design_meets_the_lower_bound_and_every_constraint() -> None:
    sc = _scenario()
    city, users, up = _run(sc)
    assert check_placement(sc, city, users, up) == []
    assert up.station_count == 5 == up.lower_bound  # ceil(2000 / 400)
    assert np.all(up.association >= 0)
    assert up.proven_optimal is True
    assert np.bincount(up.association).max() <= 400
    assert up.extra["sizing"][0]["n_updated"] == 5
    z_lo, z_hi = sc.altitude_range_m
    assert np.all((up.station_xyz_m[:, 2] >= z_lo) & (up.station_xyz_m[:, 2] <= z_hi))


def test_coverage_limit_raises_the_count_above_capacity() -> None:
    # 5 W at 140 GHz with a -70 dBm threshold: free-space footprint of ~30 m radius at 30 m
    sc = _scenario(placement__demand__receiver_sensitivity_dbm=-70.0, fleet__stations=200)
    assert 10.0 < los_coverage_radius_m(sc, 30.0) < 60.0
    city, users, up = _run(sc)
    assert check_placement(sc, city, users, up) == []
    assert np.all(up.association >= 0)
    assert up.station_count > 2 * 5  # footprints of ~30 m hold far fewer than 400 users
    assert up.extra["n_updated_total"] == up.station_count
    served = up.association >= 0
    xyz = users_xyz_m(users)
    d = np.linalg.norm(xyz[served] - up.station_xyz_m[up.association[served]], axis=1)
    rx = 37.0 - 20 * np.log10(4 * np.pi * d * 140e9 / 299_792_458.0)
    assert np.all(rx >= -70.0 - 1e-9)
    assert up.extra["unserved_reasons"] == {}

    # the same with too few drones: the plan uses them all and names the users left over
    sc = _scenario(placement__demand__receiver_sensitivity_dbm=-70.0, fleet__stations=20)
    city, users, up = _run(sc)
    assert check_placement(sc, city, users, up) == []
    assert up.station_count == 20
    unserved = {users[i].id for i in np.flatnonzero(up.association < 0)}
    assert unserved and set(up.extra["unserved_reasons"]) == unserved
    assert all("fewer drones than needed" in r for r in up.extra["unserved_reasons"].values())


def test_shortage_allocates_proportionally_and_explains_each_unserved_user() -> None:
    sc = _scenario(
        areas_of_interest=[
            {"id": "stage", "center_m": [-100, 0], "radius_m": 60, "weight": 2.0},
            {"id": "gate", "center_m": [100, 50], "radius_m": 60},
        ],
        user_groups=[
            {"id": "a", "count": 900, "aoi": "stage", "seed": 2},
            {"id": "b", "count": 300, "aoi": "gate", "seed": 3},
            {
                "id": "c",
                "count": 20,
                "area": {"x_min_m": -30, "y_min_m": -190, "x_max_m": 30, "y_max_m": -150},
                "seed": 4,
            },
        ],
        fleet__stations=3,
    )
    city, users, up = _run(sc)
    assert check_placement(sc, city, users, up) == []
    areas = gathering_areas(sc, users_xyz_m(users))
    assert areas.ids == ("stage", "gate", OUTSIDE_AREA)
    assert areas.demand.tolist() == [900, 300, 20]
    table = {r["area"]: r for r in up.extra["sizing"]}
    assert [table[a]["n_min"] for a in areas.ids] == [3, 1, 1]
    assert up.station_count == 3
    # shares of 3 drones: 2.20, 0.74, 0.05 -> floors 2, 0, 0; the remainder to "gate"
    assert [table[a]["n_final"] for a in areas.ids] == [2, 1, 0]
    unserved = {users[i].id for i in np.flatnonzero(up.association < 0)}
    reasons = up.extra["unserved_reasons"]
    assert set(reasons) == unserved and len(unserved) == (900 - 2 * 400) + 20
    assert all("fewer drones than needed" in reasons[u] for u in unserved)
    assert any("(outside)" in n and "unserved" in n for n in up.notes)

    with pytest.raises(InfeasibleError) as err:
        _run(
            sc.model_copy(
                update={
                    "placement": sc.placement.model_copy(
                        update={
                            "demand": sc.placement.demand.model_copy(
                                update={"on_shortage": "error"}
                            )
                        }
                    )
                }
            )
        )
    assert set(err.value.reasons) == unserved


def test_out_of_range_user_is_left_out_with_its_reason() -> None:
    sc = _scenario(
        users=[{"id": "far", "position_m": [190, 190, 1.5]}],
        placement__demand__max_range_m=150.0,
        fleet__positioning_area={"x_min_m": -150, "y_min_m": -150, "x_max_m": 0, "y_max_m": 0},
        user_groups=[
            {
                "id": "crowd",
                "count": 300,
                "area": {"x_min_m": -150, "y_min_m": -150, "x_max_m": 0, "y_max_m": 0},
            }
        ],
    )
    city, users, up = _run(sc)
    assert check_placement(sc, city, users, up) == []
    far = [u.id for u in users].index("far")
    assert up.association[far] == -1
    assert "out of coverage" in up.extra["unserved_reasons"]["far"]
    assert np.sum(up.association >= 0) == len(users) - 1


def test_rate_demands_and_buildings_respect_constraints() -> None:
    # 3.5 GHz, 20 MHz Shannon, demands up to 20 Mbit/s: the airtime of one channel binds before
    # the 400-user cap; buildings block some links.
    sc = _scenario(
        city={
            "buildings": [
                {"footprint_m": [[-40, -40], [40, -40], [40, 40], [-40, 40]], "height_m": 45},
                {"footprint_m": [[60, 60], [120, 60], [120, 120], [60, 120]], "height_m": 25},
            ]
        },
        user_groups=[
            {"id": "crowd", "count": 600, "aoi": "event", "seed": 5, "demand_bps": [2e6, 5e6, 20e6]}
        ],
        radio={
            "frequency_hz": 3.5e9,
            "tx_power_dbm": 30.0,
            "pathloss_model": "tr38901_umi",
            "station_antenna": "isotropic",
        },
        fleet__building_clearance_m=5,
    )
    city, users, up = _run(sc)
    assert check_placement(sc, city, users, up) == []
    assert not city.inside_building(up.station_xyz_m).any()
    unserved = {users[i].id for i in np.flatnonzero(up.association < 0)}
    assert set(up.extra["unserved_reasons"]) == unserved
    assert up.station_count > math.ceil(600 / 400)  # airtime, not the user cap, binds


def test_deterministic_for_any_seed() -> None:
    sc = _scenario()
    city = sc.build_city()
    users = sc.users_in(city)
    a = place_demand(sc, city, users, seed=0)
    b = place_demand(sc, city, users, seed=7)
    np.testing.assert_array_equal(a.station_xyz_m, b.station_xyz_m)
    np.testing.assert_array_equal(a.association, b.association)


@pytest.mark.parametrize(("design", "users"), [(1, 10_000), (2, 50_000), (3, 100_000)])
def test_example_designs_load(design: int, users: int) -> None:
    sc = load_scenario(EXAMPLES / f"paper002-design-{design}.yaml")
    assert sc.placement.method == "demand"
    assert sum(g.count for g in sc.user_groups) == users
    assert sc.placement.demand.users_per_drone == 2000 == sc.fleet.max_users_per_uav
    aoi = sc.areas_of_interest[0]
    assert math.pi * aoi.radius_m**2 == pytest.approx(100_000, rel=1e-4)
    assert sc.fleet.stations >= 105
