"""Paper 003's RLTOPA environment: one UAV stepping over the grid of the positioning volume.

Paper 003 §V: the UAV is the agent; at each decision it stays or moves one grid step (``gridSize``)
up, down, left, right, forward or backward (§V-A); it observes the users' coordinates, its own
coordinates and the number of users in LoS (§V-B); the reward is the number of users in LoS over
the number of users (§V-C, eq. 4); positions are confined to the positioning volume and to the
intersection of the users' coverage spheres (Algorithm 1).

Everything is precomputed once on a :class:`~skycell.plan.place_los_search.PositioningGrid` (the
arrays ``los-search`` uses: feasibility and users in LoS at every grid point), so a step is a few
array reads (microseconds).

Observation (``float32``, all in [-1, 1]; Table II's "scaled float"):

====================  =========================================================================
index                 content
====================  =========================================================================
0, 1, 2               UAV x, y, z, scaled linearly from the volume's [min, max] to [-1, 1]
3                     users in LoS / users (the reward), in [0, 1]
4 .. 4 + 3U - 1       user u's x, y, z at ``4 + 3u``, scaled with the same x-y bounds (z over
                      the volume's height range; ground users sit near -1), clipped to [-1, 1]
====================  =========================================================================

Table II calls the observation "five-dimensional"; the paper's three parts (UAV coordinates, user
coordinates, users in LoS) are all here, the user coordinates flattened.

Actions (``Discrete(7)``): 0 stay, 1 +x, 2 -x, 3 +y, 4 -y, 5 +z, 6 -z, one grid step each. A move
that would leave the volume or the feasible set (outside a sphere, inside a building) is refused:
the UAV stays where it is and gets the reward of that position.

Episodes start at a fixed feasible point (the one nearest the centre of the feasible set's
bounding box; ``random_start=True`` draws a feasible point from the environment's generator
instead) and are truncated after ``max_steps`` decisions; they never terminate (the paper runs a
fixed 300 s per episode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

if TYPE_CHECKING:
    from skycell.plan.place_los_search import PositioningGrid

#: Grid-index offsets of the seven actions: stay, +x, -x, +y, -y, +z, -z.
ACTIONS: Final = np.array(
    [[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
    dtype=np.int64,
)
ACTION_NAMES: Final[tuple[str, ...]] = ("stay", "+x", "-x", "+y", "-y", "+z", "-z")


def _scale(v: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.float64]:
    span = hi - lo
    if span <= 0:
        return np.zeros_like(v)
    return np.asarray(np.clip(2.0 * (v - lo) / span - 1.0, -1.0, 1.0), dtype=np.float64)


class TopaEnv(gym.Env[NDArray[np.float32], np.int64]):
    """Gymnasium environment of paper 003's RLTOPA agent (see the module docstring).

    Args:
        grid: the precomputed positioning grid
            (:func:`skycell.plan.place_los_search.positioning_grid`).
        max_steps: decisions per episode (paper 003: 300 s at 100 ms = 3000).
        random_start: start each episode at a random feasible point instead of the fixed one.

    Attributes:
        position: current grid index ``(3,)`` of the UAV.
        visited: ``(X, Y, Z)`` True where the UAV has been since construction.
    """

    metadata = {"render_modes": []}  # noqa: RUF012  (gymnasium declares it on Env)

    def __init__(
        self, grid: PositioningGrid, *, max_steps: int = 3000, random_start: bool = False
    ) -> None:
        super().__init__()
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.grid = grid
        self.max_steps = int(max_steps)
        self.random_start = bool(random_start)
        self._feasible = np.asarray(grid.feasible, dtype=bool)
        if not self._feasible.any():
            raise ValueError("the positioning grid has no feasible point")
        self._dims = tuple(int(n) for n in self._feasible.shape)
        self._moves = [tuple(int(v) for v in row) for row in ACTIONS]
        n_users = grid.users_xyz_m.shape[0]
        self._n_users = n_users
        self._reward = np.asarray(grid.n_los, dtype=np.float64) / max(n_users, 1)
        lo = np.array([grid.x_m[0], grid.y_m[0], grid.z_m[0]])
        hi = np.array([grid.x_m[-1], grid.y_m[-1], grid.z_m[-1]])
        self._lo, self._hi = lo, hi
        users = np.column_stack(
            [_scale(grid.users_xyz_m[:, a], float(lo[a]), float(hi[a])) for a in range(3)]
        )
        self._users_obs = users.reshape(-1).astype(np.float32)
        self._axes = (grid.x_m, grid.y_m, grid.z_m)
        self._scaled = tuple(
            _scale(ax, float(lo[a]), float(hi[a])).astype(np.float32)
            for a, ax in enumerate(self._axes)
        )
        self._obs_buf = np.zeros(4 + 3 * n_users, dtype=np.float32)
        self._obs_buf[4:] = self._users_obs
        feas = np.argwhere(self._feasible)
        self._feasible_idx = feas
        centre = 0.5 * (feas.min(axis=0) + feas.max(axis=0))
        self.start = feas[int(np.argmin(((feas - centre) ** 2).sum(axis=1)))].astype(np.int64)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(4 + 3 * n_users,), dtype=np.float32)
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.position = self.start.copy()
        self.visited = np.zeros(self._feasible.shape, dtype=bool)
        self._steps = 0

    # ------------------------------------------------------------------ helpers

    def reward_at(self, index: NDArray[np.int64]) -> float:
        """Reward (users in LoS / users, paper 003 eq. 4) at a grid index."""
        i, j, k = (int(v) for v in index)
        return float(self._reward[i, j, k])

    def position_m(self) -> NDArray[np.float64]:
        """Current UAV position [m]."""
        i, j, k = (int(v) for v in self.position)
        return np.array([self._axes[0][i], self._axes[1][j], self._axes[2][k]])

    def _obs(self) -> NDArray[np.float32]:
        i, j, k = (int(v) for v in self.position)
        out = self._obs_buf.copy()
        out[0] = self._scaled[0][i]
        out[1] = self._scaled[1][j]
        out[2] = self._scaled[2][k]
        out[3] = self._reward[i, j, k]
        return out

    def _info(self, refused: bool = False) -> dict[str, Any]:
        i, j, k = (int(v) for v in self.position)
        return {
            "position_m": self.position_m(),
            "n_los": int(self.grid.n_los[i, j, k]),
            "refused": refused,
        }

    # ------------------------------------------------------------------ gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode at the fixed start (or a random feasible point)."""
        super().reset(seed=seed)
        if self.random_start:
            pick = int(self.np_random.integers(self._feasible_idx.shape[0]))
            self.position = self._feasible_idx[pick].astype(np.int64)
        else:
            self.position = self.start.copy()
        self._steps = 0
        i, j, k = (int(v) for v in self.position)
        self.visited[i, j, k] = True
        return self._obs(), self._info()

    def step(
        self, action: np.int64 | int
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Move one grid step (or stay); refused moves leave the UAV in place."""
        a = int(action)
        if not 0 <= a < len(ACTIONS):
            raise ValueError(f"action must be an integer in [0, {len(ACTIONS) - 1}], got {action}")
        di, dj, dk = self._moves[a]
        i, j, k = (int(v) for v in self.position)
        ti, tj, tk = i + di, j + dj, k + dk
        nx, ny, nz = self._dims
        refused = not (
            0 <= ti < nx and 0 <= tj < ny and 0 <= tk < nz and self._feasible[ti, tj, tk]
        )
        if not refused:
            i, j, k = ti, tj, tk
            self.position = np.array([i, j, k], dtype=np.int64)
        self.visited[i, j, k] = True
        self._steps += 1
        truncated = self._steps >= self.max_steps
        return self._obs(), float(self._reward[i, j, k]), False, truncated, self._info(refused)
