"""The shared constraint checker and throughput accounting of user-driven placements."""

from __future__ import annotations

import numpy as np
import pytest

from skycell.plan.assignment import (
    UserPlacement,
    airtime_share,
    check_placement,
    delivered_throughput_bps,
    link_table,
    users_per_uav_limit,
)
from skycell.scenario import load_scenario


def test_throughput_shares_leftover_airtime() -> None:
    sc = load_scenario("examples/small.yaml")
    assoc = np.array([0, 0, 0, 0, 1, -1])
    demand = np.array([10e6, 10e6, 0.0, 0.0, 0.0, 5e6])
    rate = np.array([40e6, 40e6, 80e6, 20e6, 50e6, 30e6])
    got = delivered_throughput_bps(sc, assoc, demand, rate, 2)
    # station 0: demands take 0.25 + 0.25 of the airtime; two best-effort users split the rest
    assert got.tolist() == pytest.approx([10e6, 10e6, 80e6 * 0.25, 20e6 * 0.25, 50e6, 0.0])
    per_channel = sc.model_copy(
        update={"fleet": sc.fleet.model_copy(update={"bandwidth_per_uav_hz": 160e6})}
    )
    got = delivered_throughput_bps(per_channel, assoc, demand, rate, 2)
    assert got[2] == pytest.approx(80e6)
    assert users_per_uav_limit(per_channel) == 8  # 160 MHz / 20 MHz channels
    assert airtime_share(np.array([0.0, 5.0]), np.array([0.0, 10.0])).tolist() == [0.0, 0.5]


def test_check_placement_reports_each_violation() -> None:
    sc = load_scenario("examples/small.yaml")
    city = sc.build_city()
    users = sc.users_in(city)
    # UAV 0 inside the 90 m tower; UAV 1 far off in a corner at 50 m
    st = np.array([[0.0, 0.0, 50.0], [-190.0, -190.0, 50.0]])
    table = link_table(sc, city, st, np.array([u.position_m for u in users]))
    assert table.rate_bps.shape == (2, len(users))
    placement = UserPlacement("test", st, np.array([1, 1, 1, 1]))
    problems = check_placement(sc, city, users, placement)
    assert any("inside a building" in p for p in problems)
    capped = sc.model_copy(update={"fleet": sc.fleet.model_copy(update={"max_users_per_uav": 2})})
    problems = check_placement(capped, city, users, placement)
    assert any("over the limit of 2" in p for p in problems)
    bad = UserPlacement("test", st, np.array([0, 5, -1, -1]))
    assert check_placement(sc, city, users, bad) == [
        "association refers to a UAV that does not exist"
    ]
