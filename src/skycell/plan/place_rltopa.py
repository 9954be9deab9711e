"""``rltopa``: paper 003's DQN agent (RLTOPA) with stable-baselines3.

Paper 003 §V trains a Deep Q-Network to move one UAV over the grid of the positioning volume
towards the most users in line of sight (:mod:`skycell.rl.topa_env`), then reads the position of
the highest reward off the trained policy. Table II, and how it is applied here:

=======================================  ======================================================
paper 003 Table II                       here (``placement.rltopa``, stable-baselines3 ``DQN``)
=======================================  ======================================================
10 episodes of 300 s, decisions 100 ms   ``episodes`` x ``steps_per_episode`` (10 x 3000)
start time of training 2.1 s             ``learning_starts`` = 21 decisions (2.1 s / 100 ms)
Q-function: two dense layers of 32       ``policy_kwargs=dict(net_arch=[32, 32])``
Adam, learning rate                      SB3's default optimiser (Adam), ``learning_rate``
MSE loss                                 SB3 uses the Huber loss (smooth L1): not configurable
memory replay, batch of 64               ``buffer_size``, ``batch_size``
epsilon 1 -> 0.1, polynomial decay       SB3 decays linearly from 1 to ``exploration_final_eps``
                                         over the first half of training
                                         (``exploration_fraction=0.5``)
TensorFlow                               PyTorch (CPU, one thread)
=======================================  ======================================================

Unstated in the paper: the discount ``gamma`` (setting, 0.99), the target-network update
(every 1000 decisions here), the training frequency (SB3's default, every 4 decisions).

Determinism: the agent is seeded with ``seed + placement.rltopa.seed_offset`` and torch runs on one
thread during training (restored afterwards), so the same seed gives the same result on the same
machine.

Result: the best position (most users in LoS, then the highest summed link rate) the trained
policy reaches in a greedy rollout from the start point (epsilon 0, as the paper evaluates);
``extra`` also reports the best position visited during training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from skycell.plan.assignment import UserPlacement
from skycell.plan.place_los_search import positioning_grid, serve_users

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.plan.place_los_search import PositioningGrid
    from skycell.scenario import Scenario, User

IntArray = NDArray[np.int64]


def _best_of(grid: PositioningGrid, index: IntArray) -> tuple[IntArray, int, float]:
    """Of grid points ``(P, 3)``, the one with the most users in LoS, then the highest summed
    rate (first in the given order among exact ties): ``(index, n_los, summed_rate_bps)``."""
    idx = np.asarray(index, dtype=np.int64).reshape(-1, 3)
    n_los = grid.n_los[idx[:, 0], idx[:, 1], idx[:, 2]].astype(np.int64)
    top = idx[n_los == n_los.max()]
    rate = grid.rates_bps(top).sum(axis=1)
    k = int(np.argmax(rate))
    return top[k], int(n_los.max()), float(rate[k])


def place_rltopa(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
    sphere_model: str | None = None,
) -> UserPlacement:
    """Paper 003's RLTOPA: train a DQN agent on the positioning grid, read its best position.

    Args:
        scenario: the scenario; ``placement.rltopa`` holds the DQN settings.
        city: its city.
        users: the users.
        seed: run seed (the agent uses ``seed + placement.rltopa.seed_offset``).
        progress: optional ``progress(stage, fraction)`` callback (called every episode).
        sphere_model: ``"free_space"`` or ``"itu_r_p1411_los"`` (:mod:`skycell.plan.spheres`);
            default ``placement.sphere_model``.

    Returns:
        A :class:`UserPlacement` with one UAV; ``extra`` holds ``training_s``, ``steps``,
        ``episodes``, ``reward_curve`` (mean reward per episode), ``n_los``,
        ``summed_rate_bps``, ``rollout_steps``, ``training_best_xyz_m``,
        ``training_best_n_los``, ``training_best_summed_rate_bps``, per-user ``los`` and
        ``rate_bps``.

    Raises:
        InfeasibleError: a demand no MCS carries, or no grid point inside every sphere.
    """
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    from skycell.plan.tune import torch_threads
    from skycell.rl.topa_env import TopaEnv

    t0 = time.perf_counter()
    cfg = scenario.placement.rltopa
    grid = positioning_grid(scenario, city, users, sphere_model=sphere_model)
    env = TopaEnv(grid, max_steps=cfg.steps_per_episode)
    total = cfg.episodes * cfg.steps_per_episode
    rewards: list[float] = []

    class _Episodes(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self._sum = 0.0
            self._n = 0

        def _on_step(self) -> bool:
            self._sum += float(self.locals["rewards"][0])
            self._n += 1
            if bool(self.locals["dones"][0]):
                rewards.append(self._sum / max(self._n, 1))
                self._sum, self._n = 0.0, 0
                if progress is not None:
                    progress("rltopa: training", len(rewards) / cfg.episodes)
            return True

    with torch_threads(1):
        agent = DQN(
            "MlpPolicy",
            env,
            learning_rate=cfg.learning_rate,
            buffer_size=cfg.buffer_size,
            learning_starts=min(cfg.learning_starts, max(total - 1, 0)),
            batch_size=cfg.batch_size,
            gamma=cfg.gamma,
            target_update_interval=max(1, min(cfg.target_update_interval, total // 10)),
            exploration_fraction=cfg.exploration_fraction,
            exploration_initial_eps=1.0,
            exploration_final_eps=cfg.exploration_final_eps,
            policy_kwargs={"net_arch": [32, 32]},
            seed=seed + cfg.seed_offset,
            device="cpu",
            verbose=0,
        )
        t_train = time.perf_counter()
        agent.learn(total_timesteps=total, callback=_Episodes())
        training_s = time.perf_counter() - t_train
        # Greedy rollout from the start (epsilon 0), stopped when a position repeats: the policy
        # and the environment are deterministic, so it would only cycle from there.
        obs, _ = env.reset()
        path = [env.position.copy()]
        seen = {tuple(int(v) for v in env.position)}
        for _ in range(cfg.steps_per_episode):
            action, _ = agent.predict(obs, deterministic=True)
            obs, _, _, truncated, _ = env.step(np.int64(action))
            key = tuple(int(v) for v in env.position)
            if key in seen or truncated:
                break
            seen.add(key)
            path.append(env.position.copy())
    best_idx, n_los, rate = _best_of(grid, np.array(path))
    train_idx, train_los, train_rate = _best_of(grid, np.argwhere(env.visited))
    position = grid.points_m(best_idx.reshape(1, 3))[0]
    assoc, notes, figures = serve_users(scenario, city, users, position)
    if progress is not None:
        progress("rltopa: done", 1.0)
    return UserPlacement(
        method="rltopa",
        station_xyz_m=position.reshape(1, 3),
        association=assoc,
        wall_time_s=time.perf_counter() - t0,
        notes=notes,
        extra={
            "training_s": training_s,
            "steps": total,
            "episodes": cfg.episodes,
            "reward_curve": rewards,
            "n_los": n_los,
            "summed_rate_bps": rate,
            "rollout_steps": len(path) - 1,
            "start_xyz_m": grid.points_m(env.start.reshape(1, 3))[0].tolist(),
            "training_best_xyz_m": grid.points_m(train_idx.reshape(1, 3))[0].tolist(),
            "training_best_n_los": train_los,
            "training_best_summed_rate_bps": train_rate,
            "visited_points": int(env.visited.sum()),
            "sphere_model": sphere_model,
            **figures,
        },
    )
