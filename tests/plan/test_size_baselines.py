"""Paper 004's baselines: fixed altitude, fixed number of users per UAV (k-means, N_max = 10)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skycell.errors import InfeasibleError
from skycell.plan.assignment import check_placement
from skycell.plan.size_baselines import place_fixed_altitude, place_fixed_users
from skycell.plan.size_emtad import place_emtad
from skycell.scenario import load_scenario

from .test_emtad import EXAMPLES, _inputs, paper004


@pytest.mark.parametrize("demand_bps", [6.5e6, 52e6])
def test_fixed_altitude_flies_every_uav_at_the_fleet_altitude(demand_bps: float) -> None:
    sc, city, users = _inputs(paper004(demand_bps=demand_bps, side_m=200.0))
    plan = place_fixed_altitude(sc, city, users, seed=0)
    assert check_placement(sc, city, users, plan) == []
    np.testing.assert_allclose(plan.station_xyz_m[:, 2], sc.fleet.altitude_m)
    assert np.all(plan.association >= 0)


def test_fixed_altitude_leaves_users_it_cannot_reach_unserved() -> None:
    # MCS 0 at 160 MHz needs -73 dBm: about 180 m of range, so nothing is reachable from 250 m
    sc, city, users = _inputs(paper004())
    sc = sc.model_copy(update={"fleet": sc.fleet.model_copy(update={"altitude_m": 250.0})})
    plan = place_fixed_altitude(sc, city, users)
    assert check_placement(sc, city, users, plan) == []
    assert np.all(plan.association == -1)
    assert plan.notes and "fixed altitude 250 m" in plan.notes[0]


@pytest.mark.parametrize("n_users", [20, 35, 60])
def test_fixed_users_clusters_at_most_ten_users_per_uav(n_users: int) -> None:
    sc, city, users = _inputs(paper004(users=n_users))
    plan = place_fixed_users(sc, city, users, seed=2)
    assert check_placement(sc, city, users, plan) == []
    assert plan.station_count == math.ceil(n_users / 10)
    served = plan.association[plan.association >= 0]
    assert np.bincount(served).max() <= 10
    again = place_fixed_users(sc, city, users, seed=2)
    np.testing.assert_array_equal(plan.station_xyz_m, again.station_xyz_m)


def test_scenario_c_emtad_needs_at_most_two_uavs_where_fixed_users_needs_six() -> None:
    # paper 004 §IV, Scenario C: "at most two UAVs" for EMTAD, "up to six" for the baseline
    sc = load_scenario(EXAMPLES / "paper004-scenario-c-60-users.yaml")
    sc, city, users = _inputs(sc)
    assert len(users) == 60
    em = place_emtad(sc, city, users, seed=0)
    fu = place_fixed_users(sc, city, users, seed=0)
    assert em.station_count <= 2
    assert fu.station_count == 6
    assert check_placement(sc, city, users, fu) == []


def test_baselines_refuse_a_fleet_that_is_too_small() -> None:
    sc, city, users = _inputs(paper004(users=30, stations=2))
    with pytest.raises(InfeasibleError) as info:
        place_fixed_users(sc, city, users)
    assert "fleet.stations" in info.value.reasons
