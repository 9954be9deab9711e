"""Paper 001's positioning environments: one multi-antenna UAV, the ZF sum rate as reward.

Both environments step over a :class:`~skycell.plan.place_sumrate.SumRateField`, whose metrics
are computed on demand and then kept for every grid point (channels in a bounded cache), so a
step costs a lookup (microseconds) once a point has been visited and one channel evaluation
(about a millisecond on the analytic engine; a ray trace on Sionna RT, unless the field was
prefilled) the first time.

:class:`UavPositionEnv` — the DDPG environment of paper 001 §2.4:

* state ``s = (x, y, z)``, the UAV position, observed scaled to [-1, 1] (``(s - c) / alpha``;
  the paper feeds coordinates, a network needs them scaled);
* action ``a`` in [-1, 1]^3, mapped to the next position by eq. 6, ``s' = alpha a + c``, with
  ``alpha`` the half-extent and ``c`` the centre of the positioning volume (the "scaling factors
  and offset values which determine the range of optimized UAV position"); the position is
  continuous, as the paper's;
* reward: the average sum rate over the transmission ranks for the current users (eq. 5),
  interpolated trilinearly between the 8 grid points around the position (the digital twin
  holds the channels of the grid; :meth:`SumRateField.interpolate`), times ``reward_scale``.
  Snapping to the nearest grid point instead makes the reward piecewise constant, with no
  action gradient inside a cell for the critic to follow: on the tiny bundled scenario (600
  episodes, seeds 0-4, OU and Gaussian noise) the snapped agent ended in the exhaustive top
  10 % in 4 of 10 runs, the interpolated one in 7 of 10 (before the best-checkpoint selection
  of :func:`skycell.plan.place_sumrate_rl.place_ddpg`). A position within
  ``fleet.building_clearance_m`` of a building is refused: the UAV stays where it is and gets
  that position's reward (as paper 003's ``TopaEnv`` and the DQN environment do; a zero reward
  would put cliffs into the critic's landscape next to every building). On Sionna RT the agents
  trace the whole grid before training.

Episodes start at the grid point nearest ``c`` (the nearest feasible one) and are truncated after
``steps_per_episode`` decisions; they never terminate.

:class:`UavGridMoveEnv` — the DQN of Fig. 10 on discretised moves: ``Discrete(7)`` (stay, +x,
-x, +y, -y, +z, -z, one grid step), same state, observation and reward; a move off the grid or
into a building's clearance is refused (the UAV stays and gets its position's reward, as
:class:`skycell.rl.topa_env.TopaEnv`).

``info`` of every step: ``position_m``, ``sum_rate_bps_hz`` (unscaled), ``mean_sinr_db``,
``mean_rx_power_dbm``, ``best_rank`` and ``refused`` (interpolated for the DDPG environment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

if TYPE_CHECKING:
    from skycell.plan.place_sumrate import SumRateField

#: Metrics reported in ``info`` (see the module docstring).
INFO_METRICS: Final[tuple[str, ...]] = (
    "sum_rate_bps_hz",
    "mean_sinr_db",
    "mean_rx_power_dbm",
    "best_rank",
)

#: Grid-index offsets of the DQN's seven moves: stay, +x, -x, +y, -y, +z, -z.
MOVES: Final = np.array(
    [[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
    dtype=np.int64,
)


def volume_scaling(field: SumRateField) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(alpha, c)`` of eq. 6: half-extent and centre of the positioning volume [m]."""
    b = field.problem.bounds_m
    lo, hi = np.array(b[:3]), np.array(b[3:])
    return 0.5 * (hi - lo), 0.5 * (hi + lo)


def start_index(field: SumRateField) -> NDArray[np.int64]:
    """The feasible grid point nearest the centre ``c`` of the volume."""
    _, c = volume_scaling(field)
    feas = field.feasible_index()
    pts = field.points_m(feas)
    return np.asarray(feas[int(np.argmin(((pts - c) ** 2).sum(axis=1)))], dtype=np.int64)


class _Base:
    """What both environments share: the field, the scaling, the current grid index."""

    def _setup(self, field: SumRateField, steps_per_episode: int, reward_scale: float) -> None:
        if steps_per_episode < 1:
            raise ValueError(f"steps_per_episode must be >= 1, got {steps_per_episode}")
        if not (np.isfinite(reward_scale) and reward_scale > 0):
            raise ValueError(f"reward_scale must be a positive number, got {reward_scale}")
        self.field = field
        self.steps_per_episode = int(steps_per_episode)
        self.reward_scale = float(reward_scale)
        self.alpha_m, self.centre_m = volume_scaling(field)
        self.start = start_index(field)
        self.index = self.start.copy()
        self._steps = 0

    def position_m(self) -> NDArray[np.float64]:
        """Current UAV position [m]."""
        return np.asarray(self.field.points_m(self.index.reshape(1, 3))[0], dtype=np.float64)

    def _obs(self) -> NDArray[np.float32]:
        scaled = (self.position_m() - self.centre_m) / np.where(self.alpha_m > 0, self.alpha_m, 1.0)
        return np.clip(scaled, -1.0, 1.0).astype(np.float32)

    def _info(self, refused: bool) -> dict[str, Any]:
        i = self.index.reshape(1, 3)
        f = self.field
        return {
            "position_m": self.position_m(),
            "sum_rate_bps_hz": float(f.metric("sum_rate_bps_hz", i)[0]),
            "mean_sinr_db": float(f.metric("mean_sinr_db", i)[0]),
            "mean_rx_power_dbm": float(f.metric("mean_rx_power_dbm", i)[0]),
            "best_rank": int(f.metric("best_rank", i)[0]),
            "refused": refused,
        }

    def _feasible(self, index: NDArray[np.int64]) -> bool:
        nx, ny, nz = self.field.shape
        i, j, k = (int(v) for v in index)
        return 0 <= i < nx and 0 <= j < ny and 0 <= k < nz and bool(self.field.feasible[i, j, k])


class UavPositionEnv(_Base, gym.Env[NDArray[np.float32], NDArray[np.float32]]):
    """Paper 001's DDPG environment (see the module docstring).

    Args:
        field: the grid of candidate positions with its metrics.
        steps_per_episode: decisions per episode (1: one position per episode).
        reward_scale: factor applied to eq. 5 (the learning rate sees scaled rewards).

    Attributes:
        pos_m: current UAV position [m] (continuous).
    """

    metadata = {"render_modes": []}  # noqa: RUF012  (gymnasium declares it on Env)

    def __init__(
        self, field: SumRateField, *, steps_per_episode: int = 1, reward_scale: float = 1.0
    ) -> None:
        super().__init__()
        self._setup(field, steps_per_episode, reward_scale)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.pos_m = self.field.points_m(self.start.reshape(1, 3))[0]

    def target_m(self, action: NDArray[np.float32]) -> NDArray[np.float64]:
        """Eq. 6: the position ``alpha a + c`` [m] an action asks for (``a`` clipped to
        [-1, 1])."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(3), -1.0, 1.0)
        return np.asarray(self.alpha_m * a + self.centre_m, dtype=np.float64)

    def position_m(self) -> NDArray[np.float64]:
        """Current UAV position [m]."""
        return np.asarray(self.pos_m, dtype=np.float64).copy()

    def _info(self, refused: bool) -> dict[str, Any]:
        m = self.field.interpolate(INFO_METRICS, self.pos_m.reshape(1, 3))
        return {
            "position_m": self.position_m(),
            **{k: float(m[k][0]) for k in INFO_METRICS},
            "refused": refused,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start at the feasible grid point nearest the centre of the volume."""
        super().reset(seed=seed)
        self.pos_m = self.field.points_m(self.start.reshape(1, 3))[0]
        self._steps = 0
        return self._obs(), self._info(False)

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Fly to eq. 6's position (refused inside a building's clearance: the UAV stays)."""
        target = self.target_m(action)
        refused = not bool(self.field.problem.feasible(target.reshape(1, 3))[0])
        if not refused:
            self.pos_m = target
        info = self._info(refused)
        self._steps += 1
        truncated = self._steps >= self.steps_per_episode
        reward = info["sum_rate_bps_hz"] * self.reward_scale
        return self._obs(), reward, False, truncated, info


class UavGridMoveEnv(_Base, gym.Env[NDArray[np.float32], np.int64]):
    """The DQN environment of paper 001 Fig. 10: one grid step per decision (module docstring).

    Args:
        field: the grid of candidate positions with its metrics.
        steps_per_episode: moves per episode.
        reward_scale: factor applied to eq. 5.
    """

    metadata = {"render_modes": []}  # noqa: RUF012  (gymnasium declares it on Env)

    def __init__(
        self, field: SumRateField, *, steps_per_episode: int = 40, reward_scale: float = 1.0
    ) -> None:
        super().__init__()
        self._setup(field, steps_per_episode, reward_scale)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Discrete(len(MOVES))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start at the feasible grid point nearest the centre of the volume."""
        super().reset(seed=seed)
        self.index = self.start.copy()
        self._steps = 0
        return self._obs(), self._info(False)

    def step(
        self, action: np.int64 | int
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Move one grid step (or stay); a refused move leaves the UAV in place."""
        a = int(action)
        if not 0 <= a < len(MOVES):
            raise ValueError(f"action must be an integer in [0, {len(MOVES) - 1}], got {action}")
        target = self.index + MOVES[a]
        refused = not self._feasible(target)
        if not refused:
            self.index = target
        reward = float(self.field.reward(self.index.reshape(1, 3))[0])
        self._steps += 1
        truncated = self._steps >= self.steps_per_episode
        return self._obs(), reward * self.reward_scale, False, truncated, self._info(refused)
