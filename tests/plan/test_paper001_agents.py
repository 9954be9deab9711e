"""Paper 001's learning agents on a tiny intersection, fixed seeds: DDPG (OU and Gaussian noise)
and the DQN beat a random policy by a margin, reproducibly; the OU process runs on across
episodes. Under a minute in all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "stable_baselines3", reason="the rl extra is not installed: pip install 'skycell[rl]'"
)

from skycell.plan.place_sumrate import SumRateField, exhaustive_search, field_for
from skycell.plan.place_sumrate_rl import ExplorationNoise, place_ddpg, place_dqn
from skycell.rl.sumrate_env import UavPositionEnv

from .p001_helpers import tiny_scenario

AGENTS = {
    "ddpg": {"episodes": 600, "learning_starts": 50},
    "dqn": {
        "episodes": 150,
        "steps_per_episode": 12,
        "learning_starts": 100,
        "target_update_interval": 100,
        "learning_rate": 3e-3,
    },
}


@pytest.fixture(scope="module")
def tiny() -> tuple:  # type: ignore[type-arg]
    sc = tiny_scenario(sumrate={"ddpg": AGENTS["ddpg"], "dqn": AGENTS["dqn"]})
    city = sc.build_city()
    users = sc.users_in(city)
    field = field_for(sc, city, users)
    return sc, city, users, field


def _random_policy_mean(field: SumRateField, n: int = 3000) -> float:
    """Mean reward of uniformly random actions through the same environment."""
    env = UavPositionEnv(field, steps_per_episode=n)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    return float(np.mean([env.step(rng.uniform(-1, 1, 3).astype(np.float32))[1] for _ in range(n)]))


@pytest.mark.parametrize("noise", ["ou", "gaussian"])
def test_ddpg_beats_a_random_policy_and_is_seeded(tiny: tuple, noise: str) -> None:  # type: ignore[type-arg]
    sc, city, users, field = tiny
    ex = exhaustive_search(field)
    random_mean = _random_policy_mean(field)
    up = place_ddpg(sc, city, users, seed=0, field=field, noise=noise)
    got = up.extra["sum_rate_bps_hz"]
    # a margin: at least halfway from the random policy's mean to the best position, and in the
    # exhaustive top 10 %
    assert got >= random_mean + 0.5 * (ex.values_bps_hz.max() - random_mean)
    assert got >= ex.top_bps_hz[0.10]
    assert len(up.extra["reward_curve_bps_hz"]) == AGENTS["ddpg"]["episodes"]
    curve = np.array(up.extra["reward_curve_bps_hz"])
    assert curve[-100:].mean() > curve[:100].mean()  # it learns
    again = place_ddpg(sc, city, users, seed=0, field=field, noise=noise)
    np.testing.assert_array_equal(up.station_xyz_m, again.station_xyz_m)
    assert up.extra["reward_curve_bps_hz"] == again.extra["reward_curve_bps_hz"]


def test_dqn_beats_a_random_policy(tiny: tuple) -> None:  # type: ignore[type-arg]
    sc, city, users, field = tiny
    ex = exhaustive_search(field)
    random_mean = _random_policy_mean(field)
    up = place_dqn(sc, city, users, seed=0, field=field)
    assert up.extra["sum_rate_bps_hz"] >= random_mean + 0.5 * (ex.values_bps_hz.max() - random_mean)
    assert up.extra["steps"] == 150 * 12


def test_ou_noise_continues_across_episodes_and_is_seeded() -> None:
    a = ExplorationNoise("ou", 0.2, theta=0.15, dt=1.0, size=3, rng=np.random.default_rng(1))
    b = ExplorationNoise("ou", 0.2, theta=0.15, dt=1.0, size=3, rng=np.random.default_rng(1))
    first = a()
    a.reset()  # SB3 calls this at every episode end
    second = a()
    z = np.random.default_rng(1).standard_normal((2, 3))
    s = 0.2 * np.sqrt(1.0 - 0.85**2)  # innovation giving a stationary spread of 0.2
    np.testing.assert_allclose(first, s * z[0])
    np.testing.assert_allclose(second, first * 0.85 + s * z[1])  # it carried over
    np.testing.assert_allclose(b(), first)
    long = ExplorationNoise(
        "ou", 0.2, theta=0.15, dt=1.0, size=20_000, rng=np.random.default_rng(2)
    )
    for _ in range(60):  # ~9 correlation times: stationary
        x = long()
    assert np.std(x) == pytest.approx(0.2, rel=0.03)
    g = ExplorationNoise("gaussian", 0.3, theta=0.15, dt=1.0, size=3, rng=np.random.default_rng(1))
    np.testing.assert_allclose(g(), 0.3 * z[0])


def test_cli_trains_both_agents(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from skycell.cli import app

    f = tmp_path / "tiny.yaml"
    sc = tiny_scenario(
        sumrate={
            "ddpg": {"episodes": 40, "learning_starts": 10},
            "dqn": {"episodes": 4, "steps_per_episode": 10, "learning_starts": 10},
        }
    )
    f.write_text(sc.to_yaml())
    runner = CliRunner()
    for method in ("ddpg", "dqn"):
        out = tmp_path / method
        r = runner.invoke(app, ["plan", str(f), "--method", method, "--out", str(out), "--quiet"])
        assert r.exit_code == 0, r.output
        dep = json.loads((out / "deployment.json").read_text())
        assert dep["method"]["name"] == method and dep["method"]["episodes"] > 0
        assert dep["method"]["training_s"] > 0
