"""Paper 001's positioning environments: SB3's checker, eq. 6's mapping, rewards equal the
grid's eq. 5 values (interpolated between grid points for DDPG), refused positions, step cost
once cached."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gymnasium", reason="the rl extra is not installed: pip install 'skycell[rl]'")
env_checker = pytest.importorskip(
    "stable_baselines3.common.env_checker",
    reason="the rl extra is not installed: pip install 'skycell[rl]'",
)
check_env = env_checker.check_env

from skycell.plan.place_sumrate import SumRateField, field_for  # noqa: E402
from skycell.rl.sumrate_env import MOVES, UavGridMoveEnv, UavPositionEnv  # noqa: E402
from skycell.scenario import load_scenario  # noqa: E402

TINY = Path(__file__).resolve().parents[2] / "examples" / "paper001-tiny.yaml"


@pytest.fixture(scope="module")
def field() -> SumRateField:
    sc = load_scenario(TINY)
    city = sc.build_city()
    return field_for(sc, city, sc.users_in(city))


def test_both_pass_the_sb3_checker(field: SumRateField) -> None:
    check_env(UavPositionEnv(field, steps_per_episode=3), warn=True)
    check_env(UavGridMoveEnv(field, steps_per_episode=5), warn=True)


def test_eq6_maps_actions_onto_the_positioning_volume(field: SumRateField) -> None:
    env = UavPositionEnv(field)
    x0, y0, z0, x1, y1, z1 = field.problem.bounds_m
    np.testing.assert_allclose(env.target_m(np.array([-1, -1, -1], np.float32)), [x0, y0, z0])
    np.testing.assert_allclose(env.target_m(np.array([1, 1, 1], np.float32)), [x1, y1, z1])
    np.testing.assert_allclose(
        env.target_m(np.array([3, -7, 0], np.float32)), [x1, y0, 0.5 * (z0 + z1)]
    )
    np.testing.assert_allclose(env.alpha_m, [0.5 * (x1 - x0), 0.5 * (y1 - y0), 0.5 * (z1 - z0)])
    np.testing.assert_allclose(env.centre_m, [0.5 * (x1 + x0), 0.5 * (y1 + y0), 0.5 * (z1 + z0)])


def test_interpolated_rewards_are_exact_on_the_grid_and_linear_between(
    field: SumRateField,
) -> None:
    idx = field.feasible_index()[10]
    p = field.points_m(idx.reshape(1, 3))
    on = field.interpolate(("sum_rate_bps_hz",), p)["sum_rate_bps_hz"][0]
    assert on == pytest.approx(float(field.reward(idx.reshape(1, 3))[0]), rel=1e-12)
    # along x between two feasible neighbours: linear
    nb = idx + np.array([1, 0, 0])
    assert field.feasible[tuple(nb)]
    q = field.points_m(np.stack([idx, nb]))
    mid = field.interpolate(("sum_rate_bps_hz",), q.mean(axis=0, keepdims=True))
    assert mid["sum_rate_bps_hz"][0] == pytest.approx(
        float(field.reward(np.stack([idx, nb])).mean())
    )


def test_rewards_are_the_twins_eq5_values_and_refusals_stay(field: SumRateField) -> None:
    env = UavPositionEnv(field, steps_per_episode=100, reward_scale=0.5)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    rng = np.random.default_rng(3)
    for _ in range(40):
        a = rng.uniform(-1, 1, 3).astype(np.float32)
        obs, r, term, _trunc, info = env.step(a)
        assert not term
        if not info["refused"]:
            np.testing.assert_allclose(env.position_m(), env.target_m(a))
        expect = field.interpolate(("sum_rate_bps_hz",), env.position_m().reshape(1, 3))
        assert r == pytest.approx(0.5 * expect["sum_rate_bps_hz"][0], rel=1e-12)
        np.testing.assert_allclose(
            obs, (env.position_m() - env.centre_m) / env.alpha_m, rtol=1e-6, atol=1e-7
        )
    # an action aimed into a building's clearance is refused: the UAV stays, keeps its reward
    bad = np.argwhere(~field.feasible)[0]
    a = ((field.points_m(bad.reshape(1, 3))[0] - env.centre_m) / env.alpha_m).astype(np.float32)
    before, r_before = env.position_m(), info["sum_rate_bps_hz"]
    _, r, _, _, info = env.step(a)
    assert info["refused"]
    np.testing.assert_allclose(env.position_m(), before)
    assert r == pytest.approx(0.5 * r_before)


def test_grid_moves_and_cached_steps_cost_microseconds(field: SumRateField) -> None:
    env = UavGridMoveEnv(field, steps_per_episode=10)
    env.reset(seed=0)
    start = env.index.copy()
    _, r, _, _, info = env.step(1)  # +x
    assert not info["refused"]
    assert np.array_equal(env.index, start + MOVES[1])
    assert r == pytest.approx(float(field.reward(env.index.reshape(1, 3))[0]))
    field.prefill()
    env.reset()
    t0 = time.perf_counter()
    for k in range(200):
        env.step(k % 7)
    per_step = (time.perf_counter() - t0) / 200
    assert per_step < 2e-3  # a cached lookup, not a channel computation
    with pytest.raises(ValueError, match="action"):
        env.step(7)
