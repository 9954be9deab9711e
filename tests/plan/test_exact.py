"""The exact fewest-UAV MILP: constraints, never worse than EMTAD (hypothesis and the paper's
scenarios), proven optimal against brute force, bounds, infeasible inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skycell.errors import InfeasibleError
from skycell.plan.assignment import check_placement
from skycell.plan.size_baselines import place_fixed_altitude, place_fixed_users
from skycell.plan.size_emtad import assign_users, coverage_problem, place_emtad, run_emtad
from skycell.plan.size_exact import candidate_set, place_exact, size_bounds
from skycell.scenario import Area, load_scenario

from .test_emtad import EXAMPLES, _inputs, paper004

METHODS = [place_emtad, place_exact, place_fixed_altitude, place_fixed_users]


@pytest.mark.parametrize("channels", [False, True])
@pytest.mark.parametrize("method", METHODS, ids=lambda f: f.__name__)
def test_every_method_meets_the_constraints(method, channels: bool) -> None:  # type: ignore[no-untyped-def]
    sc, city, users = _inputs(paper004(demand_bps=26e6, side_m=150.0, channels=channels))
    plan = method(sc, city, users, seed=1)
    assert check_placement(sc, city, users, plan) == []
    assert plan.association.shape == (len(users),)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    users=st.integers(2, 8),
    side_m=st.sampled_from([60.0, 150.0, 300.0]),
    mcs=st.integers(0, 5),
    seed=st.integers(0, 10_000),
    channels=st.booleans(),
)
def test_exact_never_needs_more_uavs_than_emtad(
    users: int, side_m: float, mcs: int, seed: int, channels: bool
) -> None:
    demand = [6.5e6, 13e6, 19.5e6, 26e6, 39e6, 52e6][mcs]
    sc, city, us = _inputs(
        paper004(
            users=users,
            demand_bps=demand,
            side_m=side_m,
            seed=seed,
            channels=channels,
            candidates=80,
            time_limit_s=20.0,
        )
    )
    em = place_emtad(sc, city, us, seed=seed)
    ex = place_exact(sc, city, us, seed=seed)
    assert check_placement(sc, city, us, em) == []
    assert check_placement(sc, city, us, ex) == []
    assert np.all(ex.association >= 0)
    assert ex.station_count <= em.station_count
    assert ex.lower_bound is not None and ex.lower_bound <= ex.station_count
    assert ex.extra["lp_bound"] <= ex.station_count


@pytest.mark.parametrize(
    ("name", "demand_bps"),
    [
        ("paper004-scenario-a.yaml", 6.5e6),
        ("paper004-scenario-a.yaml", 52e6),
        ("paper004-scenario-b.yaml", 6.5e6),
        ("paper004-scenario-c-60-users.yaml", 6.5e6),
    ],
)
def test_exact_never_needs_more_uavs_than_emtad_on_the_papers_scenarios(
    name: str, demand_bps: float
) -> None:
    sc = load_scenario(EXAMPLES / name)
    group = sc.user_groups[0].model_copy(update={"demand_bps": (demand_bps,)})
    sc, city, users = _inputs(sc.model_copy(update={"user_groups": (group,)}))
    em = place_emtad(sc, city, users, seed=0)
    ex = place_exact(sc, city, users, seed=0)
    assert check_placement(sc, city, users, ex) == []
    assert ex.station_count <= em.station_count
    assert ex.proven_optimal
    assert ex.lower_bound is not None and ex.lower_bound <= ex.station_count


@pytest.mark.parametrize("channels", [False, True])
def test_proven_optimal_matches_brute_force_over_the_candidates(channels: bool) -> None:
    sc, city, users = _inputs(
        paper004(users=7, demand_bps=39e6, side_m=300.0, seed=11, channels=channels, candidates=14)
    )
    run = run_emtad(sc, city, users, seed=5, enforce_fleet=False)
    ex = place_exact(sc, city, users, seed=5, emtad=run.placement)
    assert ex.proven_optimal
    k = ex.station_count
    # the same candidate set place_exact used (same seed, same EMTAD start)
    problem = coverage_problem(sc, city, users)
    em_xyz = run.placement.station_xyz_m
    _, links, kept = candidate_set(problem, np.random.default_rng(5), em_xyz, np.zeros((0, 3)))
    serves, share, rate = links.serves[kept], links.share[kept], links.rate_bps[kept]

    def feasible(rows: tuple[int, ...]) -> bool:
        r = list(rows)
        return assign_users(problem, serves[r], share[r], rate[r]) is not None

    assert any(feasible(c) for c in itertools.combinations(range(kept.size), k))
    if k > 1:
        assert not any(feasible(c) for c in itertools.combinations(range(kept.size), k - 1))


def test_size_bounds_are_below_the_optimum() -> None:
    sc, city, users = _inputs(paper004(demand_bps=52e6))
    b = size_bounds(sc, city, users)
    ex = place_exact(sc, city, users, seed=0)
    assert b["users"] == 20
    assert b["total_demand_bps"] == pytest.approx(20 * 52e6)
    assert b["capacity_bound"] == 2  # ceil(1040 / 780 Mbit/s)
    assert b["capacity_bound"] <= b["lower_bound"] <= ex.station_count
    assert b["lp_bound"] <= ex.station_count
    sc, city, users = _inputs(paper004(channels=True))
    assert size_bounds(sc, city, users)["capacity_bound"] == 3  # ceil(20 / 8)


def test_infeasible_demand_names_the_user() -> None:
    sc = paper004(users=3)
    city = sc.build_city()
    users = list(sc.users_in(city))
    users[1] = users[1].model_copy(update={"demand_bps": 1e9})
    with pytest.raises(InfeasibleError) as info:
        place_exact(sc, city, tuple(users))
    assert set(info.value.reasons) == {users[1].id}


def test_unreachable_user_names_the_user() -> None:
    sc = paper004(users=3)
    sc = sc.model_copy(
        update={
            "area": Area(x_min_m=-50, y_min_m=-50, x_max_m=3000, y_max_m=50),
            "fleet": sc.fleet.model_copy(
                update={"positioning_area": Area(x_min_m=-50, y_min_m=-50, x_max_m=50, y_max_m=50)}
            ),
            "user_groups": (
                sc.user_groups[0].model_copy(
                    update={"area": Area(x_min_m=-50, y_min_m=-50, x_max_m=50, y_max_m=50)}
                ),
            ),
        }
    )
    city = sc.build_city()
    users = sc.users_in(city)
    far = users[0].model_copy(update={"id": "lost", "position_m": (2900.0, 0.0, 1.5)})
    with pytest.raises(InfeasibleError) as info:
        place_exact(sc, city, (*users, far))
    assert set(info.value.reasons) == {"lost"}


def test_fleet_too_small_names_the_users_left_out() -> None:
    sc, city, users = _inputs(paper004(demand_bps=52e6, stations=2, time_limit_s=4.0))
    with pytest.raises(InfeasibleError) as info:
        place_exact(sc, city, users)
    reasons = info.value.reasons
    assert "fleet.stations" in reasons
    left_out = [k for k in reasons if k != "fleet.stations"]
    assert left_out and all(k.startswith("ue-") for k in left_out)
