"""Paper 003's RLTOPA environment: gymnasium/SB3 API, reward values, refused moves, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gymnasium", reason="the rl extra is not installed: pip install 'skycell[rl]'")
env_checker = pytest.importorskip(
    "stable_baselines3.common.env_checker",
    reason="the rl extra is not installed: pip install 'skycell[rl]'",
)
check_env = env_checker.check_env

from skycell.plan.place_los_search import PositioningGrid, positioning_grid  # noqa: E402
from skycell.rl.topa_env import ACTIONS, TopaEnv  # noqa: E402
from skycell.scenario import load_scenario  # noqa: E402

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "examples" / "paper003-scenario-a-heterogeneous.yaml"
)


@pytest.fixture(scope="module")
def grid() -> PositioningGrid:
    """Paper 003 scenario A (heterogeneous) on a 5 m grid between 25 and 60 m."""
    sc = load_scenario(EXAMPLE)
    fleet = sc.fleet.model_copy(update={"grid_step_m": 5.0, "max_altitude_m": 60.0})
    sc = sc.model_copy(update={"fleet": fleet})
    city = sc.build_city()
    return positioning_grid(sc, city, sc.users_in(city))


def test_passes_the_sb3_checker(grid: PositioningGrid) -> None:
    env = TopaEnv(grid, max_steps=50)
    check_env(env, warn=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4 + 3 * 4,) and env.observation_space.contains(obs)
    assert env.action_space.n == 7


def test_observation_layout_and_reward(grid: PositioningGrid) -> None:
    env = TopaEnv(grid, max_steps=50)
    obs, info = env.reset()
    i, j, k = env.position
    assert np.allclose(info["position_m"], [grid.x_m[i], grid.y_m[j], grid.z_m[k]])
    lo = np.array([grid.x_m[0], grid.y_m[0], grid.z_m[0]])
    hi = np.array([grid.x_m[-1], grid.y_m[-1], grid.z_m[-1]])
    assert np.allclose(obs[:3], 2 * (info["position_m"] - lo) / (hi - lo) - 1, atol=1e-6)
    assert obs[3] == pytest.approx(grid.n_los[i, j, k] / 4)
    u = grid.users_xyz_m
    assert np.allclose(obs[4:6], 2 * (u[0, :2] - lo[:2]) / (hi[:2] - lo[:2]) - 1, atol=1e-6)
    for a in range(7):
        env.reset()
        _, reward, terminated, truncated, info = env.step(a)
        assert reward == pytest.approx(info["n_los"] / 4)
        assert reward == pytest.approx(env.reward_at(env.position))
        assert not terminated and not truncated


def test_moves_outside_the_feasible_set_are_refused(grid: PositioningGrid) -> None:
    env = TopaEnv(grid, max_steps=10_000)
    env.reset()
    shape = np.array(grid.shape)
    refused = moved = 0
    rng = np.random.default_rng(0)
    for _ in range(3000):
        a = int(rng.integers(7))
        before = env.position.copy()
        _, _, _, _, info = env.step(a)
        target = before + ACTIONS[a]
        ok = bool(np.all(target >= 0) and np.all(target < shape))
        ok = ok and bool(grid.feasible[tuple(target)])
        if ok:
            assert np.array_equal(env.position, target) and not info["refused"]
            moved += a != 0
        else:
            assert np.array_equal(env.position, before) and info["refused"]
            refused += 1
        assert grid.feasible[tuple(env.position)]
    assert refused > 0 and moved > 0


def test_truncation_and_determinism(grid: PositioningGrid) -> None:
    def run(seed: int) -> list[float]:
        env = TopaEnv(grid, max_steps=20, random_start=True)
        env.reset(seed=seed)
        out = []
        for t in range(20):
            _, r, _, truncated, _ = env.step(t % 7)
            out.append(r)
            assert truncated == (t == 19)
        return out + env.position.tolist()

    assert run(5) == run(5)
    starts = {tuple(run(s)[-3:]) for s in range(6)}
    assert len(starts) > 1
