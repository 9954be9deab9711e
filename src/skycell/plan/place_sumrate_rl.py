"""``ddpg`` and ``dqn``: paper 001's learning agents for the multi-antenna UAV (stable-baselines3).

**DDPG** (§2.4, eqs. 6-12, Tables 4-5) on :class:`skycell.rl.sumrate_env.UavPositionEnv`:

=====================================  =========================================================
paper 001                              here (``sumrate.ddpg``, SB3 ``DDPG``)
=====================================  =========================================================
policy: two FC ReLU layers, tanh out   ``net_arch.pi = [h, h]``, ReLU; SB3's actor ends in tanh
critic: two FC ReLU layers             ``net_arch.qf = [h, h]``, ReLU (state and action in)
width of the layers (Table 4, lost)    ``hidden_units`` = 64 (skycell's choice)
learning rate 0.005 (Table 5)          ``learning_rate`` for actor and critic (Adam)
discount 0.9, soft update 0.005        ``gamma``, ``tau`` (eq. 12)
replay 100 000, mini-batch 8           ``buffer_size``, ``batch_size``
5000 training episodes                 ``episodes`` x ``steps_per_episode`` (5000 x 1)
OU noise; Gaussian as the alternative  ``noise``: ``ou`` (theta 0.15, dt 1) or ``gaussian``, both
(Fig. 9)                               with the spread ``noise_sigma`` = 0.15 (Table 4 lost)
TD loss eq. 8, policy gradient eq. 11  SB3's DDPG (MSE critic loss, deterministic policy grad.)
=====================================  =========================================================

Readings: Fig. 6 plots one value per episode and Fig. 7 one UAV position per episode, so an
episode is one decision by default (``steps_per_episode = 1``). SB3 resets the action noise at
every episode end; with one-decision episodes an OU process would then never leave its start
and be white noise. The paper chose OU *because* it carries over from previous steps ("previous
learning influences subsequent learning"), so the OU process here runs on across episodes for
the whole training (:class:`ExplorationNoise`, with its own seeded generator). Rewards are
divided by eq. 5 at the start position (the start scores 1; the argmax is unchanged, the
critic's targets stay O(1)). Every ``checkpoint_every`` episodes the deterministic policy
(``a = mu(s_0)``, no noise) is evaluated in the twin; the result is its best checkpoint (the
practice of SB3's ``EvalCallback``: DDPG is known to drift after it has converged, and paper
001 reports the performance it "achieves" during training, Fig. 6), evaluated exactly at that
position (the agent saw the grid-interpolated reward). ``extra`` also reports the final
policy's position and value and the best position visited during training.

**DQN** (Fig. 10; its Table 6 is lost) on :class:`skycell.rl.sumrate_env.UavGridMoveEnv`: seven
moves of one grid step, two ReLU layers of ``hidden_units``, SB3's epsilon-greedy DQN with the
settings of ``sumrate.dqn``; the result is the best position of a greedy rollout from the start
(the policy evaluated as the paper evaluates RLTOPA-style agents), the best visited in training
in ``extra``.

Determinism: each agent is seeded with ``seed + seed_offset`` and torch runs on one thread
during training (restored afterwards): the same seed gives the same result on the same machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.noise import ActionNoise

from skycell.plan.assignment import UserPlacement
from skycell.plan.place_sumrate import METRICS, SumRateField, _placement, field_for

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import Scenario, User


class ExplorationNoise(ActionNoise):
    """Paper 001's exploration noise with its own seeded generator (SB3's noise classes draw from
    numpy's global one).

    Both kinds have the stationary standard deviation ``sigma`` on the [-1, 1] actions, so that
    Fig. 9 compares the processes, not their sizes. ``kind="ou"``: the Ornstein-Uhlenbeck
    process of SB3's ``OrnsteinUhlenbeckActionNoise``,
    ``n_t = n_{t-1} - theta n_{t-1} dt + s sqrt(dt) N(0, 1)`` with
    ``s = sigma sqrt((1 - (1 - theta dt)^2) / dt)``, correlated over about ``1 / (theta dt)``
    decisions and continuing across episodes (``reset`` keeps the state; see the module
    docstring); it starts from 0. ``kind="gaussian"``: ``sigma N(0, 1)`` per decision (Fig. 9's
    alternative).
    """

    def __init__(
        self,
        kind: str,
        sigma: float,
        *,
        theta: float,
        dt: float,
        size: int,
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        rho = 1.0 - float(theta) * float(dt)
        if kind == "ou" and not -1.0 < rho < 1.0:
            from skycell.errors import SkycellError

            raise SkycellError(
                f"OU noise: theta * dt = {theta * dt:g} must lie in (0, 2) for a stationary "
                "process; lower sumrate.ddpg.ou_theta or ou_dt"
            )
        self.kind = kind
        self.sigma = float(sigma)
        self.theta = float(theta)
        self.dt = float(dt)
        self.innovation = self.sigma * np.sqrt((1.0 - rho * rho) / self.dt) if kind == "ou" else 0.0
        self.rng = rng
        self.state = np.zeros(size)

    def __call__(self) -> NDArray[np.float64]:
        z = self.rng.standard_normal(self.state.shape)
        if self.kind == "gaussian":
            return np.asarray(self.sigma * z, dtype=np.float64)
        self.state = (
            self.state - self.theta * self.state * self.dt + self.innovation * np.sqrt(self.dt) * z
        )
        return np.asarray(self.state.copy(), dtype=np.float64)

    def reset(self) -> None:
        """Called by SB3 at every episode end: the OU process continues (no reset)."""

    def __repr__(self) -> str:
        return f"ExplorationNoise({self.kind!r}, sigma={self.sigma}, theta={self.theta})"


def _curves() -> dict[str, list[Any]]:
    return {
        "reward_curve_bps_hz": [],
        "sinr_curve_db": [],
        "rx_power_curve_dbm": [],
        "positions_m": [],
        "refused": [],
    }


def _recorder(
    curves: dict[str, list[Any]],
    episodes: int,
    progress: Callable[[str, float], None] | None,
    checkpoint: Callable[[Any, int], None] | None = None,
    every: int = 0,
) -> Any:
    """An SB3 callback appending, per episode, the mean eq. 5 value, SINR and power of its steps
    and the UAV position at its end; every ``every`` episodes (and after the last) it calls
    ``checkpoint(model, episode)``."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _Record(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self._acc: list[dict[str, Any]] = []

        def _on_step(self) -> bool:
            info = self.locals["infos"][0]
            self._acc.append(info)
            if bool(self.locals["dones"][0]):
                steps = self._acc
                self._acc = []
                curves["reward_curve_bps_hz"].append(
                    float(np.mean([s["sum_rate_bps_hz"] for s in steps]))
                )
                curves["sinr_curve_db"].append(float(np.mean([s["mean_sinr_db"] for s in steps])))
                curves["rx_power_curve_dbm"].append(
                    float(np.mean([s["mean_rx_power_dbm"] for s in steps]))
                )
                curves["positions_m"].append([float(v) for v in steps[-1]["position_m"]])
                curves["refused"].append(int(sum(bool(s["refused"]) for s in steps)))
                n = len(curves["reward_curve_bps_hz"])
                if checkpoint is not None and every > 0 and (n % every == 0 or n == episodes):
                    checkpoint(self.model, n)
                if progress is not None and (n % 50 == 0 or n == episodes):
                    progress(f"training: episode {n}/{episodes}", n / episodes)
            return True

    return _Record()


def _training_field(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    field: SumRateField | None,
    progress: Callable[[str, float], None] | None,
) -> SumRateField:
    """The grid an agent learns on: ``field`` if given, else a new one. On Sionna RT the whole
    grid is traced first, in batches (minutes, once), because tracing on demand would cost one
    path-solver call (~0.2 s) per training step that reaches a new grid cell; on the analytic
    engine points are computed on demand (about a millisecond each)."""
    grid = field if field is not None else field_for(scenario, city, users)
    if grid.problem.engine_kind == "sionna":
        grid.prefill(progress)
    return grid


def _best_visited(field: SumRateField) -> tuple[NDArray[np.int64], float]:
    vals = np.where(field.computed, field.values["sum_rate_bps_hz"], -np.inf)
    flat = int(np.argmax(vals))
    idx = np.array(np.unravel_index(flat, vals.shape), dtype=np.int64)
    return idx, float(vals.reshape(-1)[flat])


def _metrics_at(field: SumRateField, index: NDArray[np.int64]) -> dict[str, float]:
    i = index.reshape(1, 3)
    return {k: float(field.metric(k, i)[0]) for k in METRICS}


def _start_scale(field: SumRateField, start: NDArray[np.int64]) -> float:
    r0 = float(field.reward(start.reshape(1, 3))[0])
    return 1.0 / r0 if r0 > 1e-6 else 1.0


def place_ddpg(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
    field: SumRateField | None = None,
    noise: str | None = None,
) -> UserPlacement:
    """Paper 001's DDPG agent: train on the sum-rate environment, fly where its best policy
    checkpoint says.

    Args:
        scenario: the scenario (``sumrate.ddpg`` holds the agent's settings).
        city: its city.
        users: the users.
        seed: run seed (the agent uses ``seed + sumrate.ddpg.seed_offset``).
        progress: optional ``progress(stage, fraction)`` (every 50 episodes).
        field: an existing :class:`SumRateField` of the same scenario to reuse (its cached
            metrics are shared, e.g. across seeds in a benchmark).
        noise: ``"ou"`` or ``"gaussian"`` to override ``sumrate.ddpg.noise`` (Fig. 9).

    Returns:
        One UAV at the best checkpoint's position; ``extra`` holds its (exact) metrics,
        ``episodes``, ``steps``, ``training_s``, the per-episode ``reward_curve_bps_hz``,
        ``sinr_curve_db``, ``rx_power_curve_dbm``, ``positions_m`` and ``refused``
        (Figs. 6-7), ``checkpoints`` (episode, position, interpolated eq. 5),
        ``checkpoint_episode``, ``final_policy_m`` / ``final_policy_bps_hz``, ``best_visited_*``
        and ``evaluations`` (grid points whose channel was computed).
    """
    import torch
    from stable_baselines3 import DDPG

    from skycell.plan.tune import torch_threads
    from skycell.rl.sumrate_env import UavPositionEnv, start_index

    t0 = time.perf_counter()
    cfg = scenario.sumrate.ddpg
    grid = _training_field(scenario, city, users, field, progress)
    kind = noise or cfg.noise
    if kind not in ("ou", "gaussian"):
        from skycell.errors import SkycellError

        raise SkycellError(f"unknown exploration noise {kind!r}; choose ou or gaussian")
    env = UavPositionEnv(
        grid,
        steps_per_episode=cfg.steps_per_episode,
        reward_scale=_start_scale(grid, start_index(grid)),
    )
    total = cfg.episodes * cfg.steps_per_episode
    noise_gen = ExplorationNoise(
        kind,
        cfg.noise_sigma,
        theta=cfg.ou_theta,
        dt=cfg.ou_dt,
        size=3,
        rng=np.random.default_rng([seed, cfg.seed_offset, 1]),
    )
    curves = _curves()
    with torch_threads(1):
        agent = DDPG(
            "MlpPolicy",
            env,
            learning_rate=cfg.learning_rate,
            buffer_size=cfg.buffer_size,
            learning_starts=min(cfg.learning_starts, max(total - 1, 0)),
            batch_size=cfg.batch_size,
            tau=cfg.tau,
            gamma=cfg.gamma,
            train_freq=1,
            gradient_steps=1,
            action_noise=noise_gen,
            policy_kwargs={
                "net_arch": {"pi": [cfg.hidden_units] * 2, "qf": [cfg.hidden_units] * 2},
                "activation_fn": torch.nn.ReLU,
            },
            seed=seed + cfg.seed_offset,
            device="cpu",
            verbose=0,
        )
        obs0, _ = env.reset()
        r0 = float(
            grid.interpolate(("sum_rate_bps_hz",), env.position_m().reshape(1, 3))[
                "sum_rate_bps_hz"
            ][0]
        )
        checkpoints: list[tuple[int, list[float], float]] = []

        def checkpoint(model: Any, episode: int) -> None:
            a, _ = model.predict(obs0, deterministic=True)
            t = env.target_m(np.asarray(a, dtype=np.float32))
            ok = bool(grid.problem.feasible(t.reshape(1, 3))[0])
            v = r0
            if ok:
                v = float(
                    grid.interpolate(("sum_rate_bps_hz",), t.reshape(1, 3))["sum_rate_bps_hz"][0]
                )
            checkpoints.append((episode, [float(x) for x in t], v))

        callback = _recorder(curves, cfg.episodes, progress, checkpoint, cfg.checkpoint_every)
        t_train = time.perf_counter()
        agent.learn(total_timesteps=total, callback=callback)
        training_s = time.perf_counter() - t_train
        action, _ = agent.predict(obs0, deterministic=True)
    final = env.target_m(np.asarray(action, dtype=np.float32))
    # the best checkpoint of the deterministic policy (latest on ties), as SB3's EvalCallback
    best_ck = max(range(len(checkpoints)), key=lambda j: (checkpoints[j][2], j), default=-1)
    target = np.asarray(checkpoints[best_ck][1]) if best_ck >= 0 else final
    notes: list[str] = []
    if not grid.problem.feasible(target.reshape(1, 3))[0]:  # into a building's clearance
        feas = grid.feasible_index()
        d = ((grid.points_m(feas) - target) ** 2).sum(axis=1)
        target = grid.points_m(feas[int(np.argmin(d))].reshape(1, 3))[0]
        notes.append(
            "the trained policy points within fleet.building_clearance_m of a building; the "
            "nearest feasible grid point is used"
        )
    exact, _ = grid.problem.evaluate(target.reshape(1, 3))  # at the continuous position
    seen = np.asarray(curves["reward_curve_bps_hz"])
    best_ep = int(np.argmax(seen)) if seen.size else 0
    return _placement(
        "ddpg",
        grid.problem,
        target,
        {k: float(v[0]) for k, v in exact.items()},
        t0,
        {
            "noise": kind,
            "episodes": cfg.episodes,
            "steps": total,
            "training_s": training_s,
            "policy_action": [float(v) for v in np.asarray(action).reshape(3)],
            "checkpoint_episode": checkpoints[best_ck][0] if best_ck >= 0 else cfg.episodes,
            "checkpoints": checkpoints,
            "final_policy_m": [float(v) for v in final],
            "final_policy_bps_hz": float(
                grid.problem.evaluate(final.reshape(1, 3))[0]["sum_rate_bps_hz"][0]
            )
            if grid.problem.feasible(final.reshape(1, 3))[0]
            else r0,
            "interpolated_bps_hz": float(
                grid.interpolate(("sum_rate_bps_hz",), target.reshape(1, 3))["sum_rate_bps_hz"][0]
            ),
            "best_visited_m": curves["positions_m"][best_ep] if seen.size else [],
            "best_visited_bps_hz": float(seen[best_ep]) if seen.size else float("nan"),
            "evaluations": grid.evaluations,
            "reward_scale": env.reward_scale,
            **curves,
        },
        notes,
    )


def place_dqn(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
    field: SumRateField | None = None,
) -> UserPlacement:
    """The DQN of paper 001 Fig. 10 on discretised moves (see the module docstring).

    Returns:
        One UAV at the best position of the greedy rollout; ``extra`` as :func:`place_ddpg`
        plus ``rollout_steps``.
    """
    import torch
    from stable_baselines3 import DQN

    from skycell.plan.tune import torch_threads
    from skycell.rl.sumrate_env import UavGridMoveEnv, start_index

    t0 = time.perf_counter()
    cfg = scenario.sumrate.dqn
    grid = _training_field(scenario, city, users, field, progress)
    env = UavGridMoveEnv(
        grid,
        steps_per_episode=cfg.steps_per_episode,
        reward_scale=_start_scale(grid, start_index(grid)),
    )
    total = cfg.episodes * cfg.steps_per_episode
    curves = _curves()
    with torch_threads(1):
        agent = DQN(
            "MlpPolicy",
            env,
            learning_rate=cfg.learning_rate,
            buffer_size=cfg.buffer_size,
            learning_starts=min(cfg.learning_starts, max(total - 1, 0)),
            batch_size=cfg.batch_size,
            gamma=cfg.gamma,
            train_freq=cfg.train_freq,
            target_update_interval=cfg.target_update_interval,
            exploration_fraction=cfg.exploration_fraction,
            exploration_initial_eps=1.0,
            exploration_final_eps=cfg.exploration_final_eps,
            policy_kwargs={
                "net_arch": [cfg.hidden_units] * 2,
                "activation_fn": torch.nn.ReLU,
            },
            seed=seed + cfg.seed_offset,
            device="cpu",
            verbose=0,
        )
        t_train = time.perf_counter()
        agent.learn(total_timesteps=total, callback=_recorder(curves, cfg.episodes, progress))
        training_s = time.perf_counter() - t_train
        obs, _ = env.reset()
        path = [env.index.copy()]
        seen = {tuple(int(v) for v in env.index)}
        for _ in range(cfg.steps_per_episode):
            action, _ = agent.predict(obs, deterministic=True)
            obs, _, _, truncated, _ = env.step(np.int64(action))
            key = tuple(int(v) for v in env.index)
            if key in seen or truncated:
                if key not in seen:
                    path.append(env.index.copy())
                break
            seen.add(key)
            path.append(env.index.copy())
    idx = np.array(path, dtype=np.int64)
    vals = grid.reward(idx)
    best = idx[int(np.argmax(vals))]
    best_idx, best_val = _best_visited(grid)
    return _placement(
        "dqn",
        grid.problem,
        grid.points_m(best.reshape(1, 3))[0],
        _metrics_at(grid, best),
        t0,
        {
            "episodes": cfg.episodes,
            "steps": total,
            "training_s": training_s,
            "rollout_steps": len(path) - 1,
            "best_visited_m": grid.points_m(best_idx.reshape(1, 3))[0].tolist(),
            "best_visited_bps_hz": best_val,
            "evaluations": grid.evaluations,
            "reward_scale": env.reward_scale,
            **curves,
        },
    )
