"""RLTOPA (paper 003's DQN): a short seeded training on a tiny grid reaches los-search's optimum,
and the same seed gives the same result."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "stable_baselines3", reason="the rl extra is not installed: pip install 'skycell[rl]'"
)

from skycell.plan.assignment import check_placement
from skycell.plan.place_los_search import place_los_search
from skycell.plan.place_rltopa import place_rltopa

from .p003_helpers import outdoor_users, paper003_scenario

# A tiny grid (11 x 11 x 3) and a short horizon (gamma 0.9) so that 3000 decisions suffice.
TINY = {
    "episodes": 5,
    "steps_per_episode": 600,
    "buffer_size": 4000,
    "gamma": 0.9,
    "learning_rate": 3e-3,
}


def test_short_training_reaches_the_optimum_and_is_seeded() -> None:
    sc = paper003_scenario(
        outdoor_users(4, 1), [58.5e6], step_m=10.0, z_range_m=(25, 45), rltopa=TINY
    )
    city = sc.build_city()
    users = sc.users_in(city)
    best = place_los_search(sc, city, users)
    a = place_rltopa(sc, city, users, seed=2)
    assert a.extra["n_los"] == best.extra["n_los"]
    assert a.extra["training_best_n_los"] == best.extra["n_los"]
    assert a.extra["steps"] == 3000 and len(a.extra["reward_curve"]) == 5
    assert a.extra["training_s"] > 0
    assert check_placement(sc, city, users, a) == []
    b = place_rltopa(sc, city, users, seed=2)
    assert np.array_equal(a.station_xyz_m, b.station_xyz_m)
    assert a.extra["reward_curve"] == b.extra["reward_curve"]
