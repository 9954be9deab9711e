"""``los-search``: the exact optimum of paper 003's single-UAV problem on its grid, in seconds.

Paper 003 (RLTOPA) looks for the grid point of the positioning volume (§VI-A: x, y in
[-50, 50] m, z in [25, 100] m, 1 m grid) inside every user's coverage sphere (eqs. 1d-1f,
:mod:`skycell.plan.spheres`) with the most users in line of sight (its reward, eq. 4), and among
those the highest throughput. RLTOPA learns it with a DQN agent; this module computes it exactly
for every grid point at once:

1. **Spheres and volume.** The grid is pruned to the spheres' intersection and to points outside
   every building (``z`` above the roof of the column).
2. **Line of sight per column, exactly.** For a UAV column ``(x, y)`` and a user below the whole
   volume, raising the UAV raises every point of the segment except the user's end, so the link's
   LoS is monotone in the UAV height: it is clear from one height up. For a wall crossed at
   parameter ``t`` (0 at the UAV, 1 at the user) of a building of height ``H``, the crossing is
   below the roof iff ``z < (H - t z_u) / (1 - t)``; the segment is blocked iff some crossing is
   below its roof (the exact rule of :mod:`skycell.city.los`, same 1 um end nudges, half-open
   edges and endpoint tests), so the clearance height of the link is the largest such bound and a
   point is in LoS iff ``z >= z_clear``. One vectorised pass over (user, column, wall) computes
   it; candidate buildings come from the city's grid index, so large cities stay cheap. When a
   user is above the lowest UAV height, the monotone bisection over heights with
   :meth:`City.line_of_sight` is used instead (exact too, slower).
3. **Rates without a per-link model call.** With 802.11ac and isotropic antennas the link rate at
   a fixed UAV height is a step function of the distance: the scenario's path-loss model at that
   height and LoS state grows with distance, so each MCS is usable up to a distance found once per
   (user, height, LoS state, MCS) by bisection, and the rate of every candidate link is a count of
   thresholds met (exact to 1 um of a threshold distance). Other radios and antenna patterns
   evaluate the channel engine in chunks (same result, slower).
4. **Objective.** Most users in LoS, then the highest summed link rate (the PHY rate each user
   gets, the same model as :func:`skycell.plan.assignment.link_table`); remaining ties go to the
   first point in x, then y, then z order.

The UAV then serves every user whose link carries its demand, as long as the channel's airtime
lasts (``sum D_i / R_i <= 1``, paper 003's shared CSMA/CA channel): users are admitted by the
smallest airtime share first, which serves the most users; the others are left unserved with a
note saying why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from skycell.errors import InfeasibleError
from skycell.plan.assignment import (
    UserPlacement,
    airtime_share,
    link_table,
    users_demand_bps,
    users_xyz_m,
)
from skycell.plan.spheres import CoverageSpheres, user_spheres

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.city.los import GridIndex
    from skycell.scenario import Scenario, User

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: End nudge of :mod:`skycell.city.los` [m] (mirrored here for the exact clearance heights).
_NUDGE_M: Final[float] = 1e-6
#: Tolerance [m] under which a UAV height counts as reaching a link's clearance height.
_GRAZE_M: Final[float] = 1e-6
#: Candidate points per chunk when rating links [points].
_RATE_CHUNK: Final[int] = 65536


@dataclass(frozen=True, eq=False)
class PositioningGrid:
    """The grid of the positioning volume with everything paper 003's search and agent need.

    Attributes:
        x_m, y_m, z_m: grid axes [m] (``X``, ``Y``, ``Z`` values).
        users_xyz_m: ``(U, 3)`` user positions [m].
        demand_bps: ``(U,)`` demands [bit/s].
        spheres: the users' coverage spheres.
        feasible: ``(X, Y, Z)`` True where a point lies inside every sphere and outside every
            building (paper 003's target subspace on the grid).
        clear_index: ``(U, X, Y)`` lowest z index from which user u sees a UAV in column
            ``(x, y)`` (``Z`` when never): point ``(i, j, k)`` is in LoS of u iff ``k >=
            clear_index[u, i, j]``.
        build_s: seconds taken to build the grid.
    """

    x_m: FloatArray
    y_m: FloatArray
    z_m: FloatArray
    users_xyz_m: FloatArray
    demand_bps: FloatArray
    spheres: CoverageSpheres
    feasible: BoolArray
    clear_index: NDArray[np.int16]
    build_s: float = 0.0
    _rater: Any = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(X, Y, Z)``."""
        return (self.x_m.size, self.y_m.size, self.z_m.size)

    @cached_property
    def n_los(self) -> NDArray[np.int16]:
        """``(X, Y, Z)`` users in LoS at every grid point (whether feasible or not)."""
        k = np.arange(self.z_m.size, dtype=np.int16)
        count = np.zeros(self.shape, dtype=np.int16)
        for u in range(self.clear_index.shape[0]):  # U passes over the grid, each vectorised
            count += k[None, None, :] >= self.clear_index[u][:, :, None]
        return count

    def points_m(self, index: IntArray) -> FloatArray:
        """``(P, 3)`` positions [m] of grid points given as ``(P, 3)`` integer indices."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1, 3)
        return np.column_stack((self.x_m[idx[:, 0]], self.y_m[idx[:, 1]], self.z_m[idx[:, 2]]))

    def los_at(self, index: IntArray) -> BoolArray:
        """``(P, U)`` LoS of every user at grid points ``(P, 3)`` (integer indices)."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1, 3)
        ci = self.clear_index[:, idx[:, 0], idx[:, 1]]  # (U, P)
        return np.asarray((idx[:, 2][None, :] >= ci).T, dtype=bool)

    def rates_bps(self, index: IntArray) -> FloatArray:
        """``(P, U)`` link rate [bit/s] of every user at grid points ``(P, 3)`` (integer
        indices), from the scenario's link model (as :func:`link_table`)."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1, 3)
        out = np.empty((idx.shape[0], self.users_xyz_m.shape[0]))
        for lo in range(0, idx.shape[0], _RATE_CHUNK):
            part = idx[lo : lo + _RATE_CHUNK]
            out[lo : lo + _RATE_CHUNK] = self._rater(part, self.los_at(part))
        return out


def volume_axes_m(scenario: Scenario) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Grid axes [m] of the positioning volume: ``fleet.positioning_area`` (default ``area``)
    in x and y, ``scenario.altitude_range_m`` in z, every ``fleet.grid_step_m`` (ends
    included when they fall on the grid)."""
    f = scenario.fleet
    a = f.positioning_area or scenario.area
    step = f.grid_step_m
    z_lo, z_hi = scenario.altitude_range_m

    def axis(lo: float, hi: float) -> FloatArray:
        n = int(np.floor((hi - lo) / step + 1e-9)) + 1
        return np.asarray(lo + step * np.arange(n), dtype=np.float64)

    return axis(a.x_min_m, a.x_max_m), axis(a.y_min_m, a.y_max_m), axis(z_lo, z_hi)


def _clear_height_m(index: GridIndex, users: FloatArray, cols: FloatArray, z0: float) -> FloatArray:
    """``(U, C)`` lowest UAV height [m] from which the segment column -> user is clear, for UAV
    heights ``>= z0 >=`` every user height (see the module docstring, step 2)."""
    n_u, n_c = users.shape[0], cols.shape[0]
    zc = np.full(n_u * n_c, -np.inf)
    if index.heights_m.size == 0 or n_u * n_c == 0:
        return zc.reshape(n_u, n_c)
    a = np.column_stack((np.tile(cols, (n_u, 1)), np.full(n_u * n_c, z0)))  # UAV end
    b = np.repeat(users, n_c, axis=0)  # user end
    d = b[:, :2] - a[:, :2]
    l_xy = np.hypot(d[:, 0], d[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(l_xy > 0, np.minimum(_NUDGE_M / l_xy, 0.5), 0.0)
    # (b) nudged UAV end inside a footprint: blocked while z < H (z of the nudge ~ z).
    p = a[:, :2] + tau[:, None] * d
    pt, bld = index.containing_pairs(p)
    np.maximum.at(zc, pt, index.heights_m[bld])
    # (b) nudged user end inside a footprint below its roof: never clear.
    p = b[:, :2] - tau[:, None] * d
    pt, _ = index.containing_pairs(p, b[:, 2])
    zc[pt] = np.inf
    # (a) proper wall crossings at tau < t < 1 - tau, 0 <= u < 1; candidates for the lowest
    # UAV height cover every higher one (the segment only rises).
    seg, bld = index.segment_candidates(a, b)
    start = index.edge_ptr[bld]
    cnt = index.edge_ptr[bld + 1] - start
    total = int(cnt.sum())
    if total:
        offsets = np.cumsum(cnt) - cnt
        edge = np.arange(total, dtype=np.int64) + np.repeat(start - offsets, cnt)
        sg = np.repeat(seg, cnt)
        h_b = np.repeat(index.heights_m[bld], cnt)
        px, py = a[sg, 0], a[sg, 1]
        rx, ry = d[sg, 0], d[sg, 1]
        qx, qy = index.edge_start_m[edge, 0], index.edge_start_m[edge, 1]
        sx = index.edge_end_m[edge, 0] - qx
        sy = index.edge_end_m[edge, 1] - qy
        den = rx * sy - ry * sx
        wx, wy = qx - px, qy - py
        sgn = np.sign(den)
        t_n = (wx * sy - wy * sx) * sgn
        u_n = (wx * ry - wy * rx) * sgn
        aden = np.abs(den)
        tau_r = tau[sg] * aden
        hit = (aden > 0) & (t_n > tau_r) & (t_n < aden - tau_r) & (u_n >= 0) & (u_n < aden)
        t = t_n[hit] / aden[hit]
        zu = b[sg[hit], 2]
        bound = (h_b[hit] - t * zu) / (1.0 - t)
        np.maximum.at(zc, sg[hit], bound)
        # (c) both ends on the boundary of one footprint, no crossing, midpoint inside.
        crossed = np.zeros(seg.size, dtype=bool)
        crossed[np.repeat(np.arange(seg.size), cnt)[hit]] = True
        rest = ~crossed
        if rest.any():
            mid = 0.5 * (a[seg[rest], :2] + b[seg[rest], :2])
            mp, mb = index.containing_pairs(mid)
            same = bld[rest][mp] == mb
            s_in = seg[rest][mp[same]]
            low = np.minimum(a[s_in, 2], b[s_in, 2]) < index.heights_m[mb[same]]
            zc[s_in[low]] = np.inf
    return zc.reshape(n_u, n_c)


def _clear_index_bisection(
    city: City, users: FloatArray, cols: FloatArray, z_m: FloatArray
) -> NDArray[np.int16]:
    """``(U, C)`` lowest z index in LoS by bisection over the (monotone) heights, with one
    vectorised :meth:`City.line_of_sight` call per halving."""
    n_u, n_c, n_z = users.shape[0], cols.shape[0], z_m.size
    lo = np.zeros(n_u * n_c, dtype=np.int64)
    hi = np.full(n_u * n_c, n_z, dtype=np.int64)
    while True:
        act = np.flatnonzero(lo < hi)
        if act.size == 0:
            break
        u, c = np.divmod(act, n_c)
        mid = (lo[act] + hi[act]) // 2
        ok = city.line_of_sight(np.column_stack((cols[c], z_m[mid])), users[u])
        hi[act[ok]] = mid[ok]
        lo[act[~ok]] = mid[~ok] + 1
    return lo.reshape(n_u, n_c).astype(np.int16)


def _make_rater(
    scenario: Scenario,
    city: City,
    users: FloatArray,
    axes: tuple[FloatArray, FloatArray, FloatArray],
) -> Callable[[IntArray, BoolArray], FloatArray]:
    """A function ``(index (P, 3), los (P, U)) -> rate (P, U)`` [bit/s] for grid points."""
    r = scenario.radio
    x_m, y_m, z_m = axes
    noise = scenario.noise_floor_dbm
    tx = r.link_tx_power_dbm
    fast = (
        r.standard == "wifi-80211ac"
        and r.station_antenna == "isotropic"
        and r.user_antenna == "isotropic"
    )
    if not fast:

        def rate_engine(index: IntArray, los: BoolArray) -> FloatArray:
            from skycell.plan.pipeline import make_engine
            from skycell.radio.link import shannon_rate_bps
            from skycell.radio.mcs import vht_rate_from_snr_bps

            pts = np.column_stack((x_m[index[:, 0]], y_m[index[:, 1]], z_m[index[:, 2]]))
            engine = make_engine(scenario, city)
            gain = engine.path_gain_db(
                pts, users, azimuth_deg=0.0, tilt_deg=90.0, los=np.asarray(los, dtype=bool)
            )
            snr = tx + gain - noise
            if r.standard == "wifi-80211ac":
                return vht_rate_from_snr_bps(
                    snr,
                    noise_floor_dbm=noise,
                    channel_width_mhz=r.channel_width_mhz,
                    guard_interval_ns=r.guard_interval_ns,
                    spatial_streams=r.spatial_streams,
                )
            return shannon_rate_bps(snr, r.bandwidth_hz)

        return rate_engine

    from skycell.radio.engine import MIN_DISTANCE_M
    from skycell.radio.link import max_distance_m
    from skycell.radio.mcs import vht_rate_bps, vht_sensitivity_dbm
    from skycell.radio.pathloss import path_loss_db

    mcs = np.arange(10)
    rates = np.nan_to_num(
        vht_rate_bps(
            mcs,
            channel_width_mhz=r.channel_width_mhz,
            guard_interval_ns=r.guard_interval_ns,
            spatial_streams=r.spatial_streams,
        )
    )
    best_rate = np.concatenate(([0.0], np.maximum.accumulate(rates)))  # by MCS count usable
    budget = tx - vht_sensitivity_dbm(mcs, channel_width_mhz=r.channel_width_mhz)  # (M,)
    dz = z_m[None, :, None] - users[:, 2][:, None, None]  # (U, Z, 1)
    d_far = float(np.hypot(np.ptp(x_m) + np.ptp(users[:, 0]), np.ptp(y_m) + np.ptp(users[:, 1])))
    d_far = float(np.hypot(d_far + 1.0, np.abs(dz).max() + 1.0)) * 2.0 + 10.0
    thresholds = []
    for los_state in (False, True):

        def loss(d: FloatArray, los_state: bool = los_state) -> FloatArray:
            return path_loss_db(
                r.pathloss_model,
                np.maximum(d, MIN_DISTANCE_M),
                frequency_hz=r.frequency_hz,
                los=los_state,
                station_height_m=z_m[None, :, None],
                user_height_m=users[:, 2][:, None, None],
                horizontal_distance_m=np.sqrt(np.maximum(d * d - dz * dz, 0.0)),
                environment=r.environment,
            )

        grid_budget = np.broadcast_to(budget[None, None, :], (users.shape[0], z_m.size, 10))
        d_max = max_distance_m(loss, grid_budget, d_min_m=1e-3, d_max_m=d_far, tol_m=1e-6)
        thresholds.append(d_max**2)  # (U, Z, M) squared distances, decreasing in M
    d2_max = np.stack(thresholds)  # (2, U, Z, M)

    def rate_thresholds(index: IntArray, los: BoolArray) -> FloatArray:
        pts = np.column_stack((x_m[index[:, 0]], y_m[index[:, 1]], z_m[index[:, 2]]))
        d2 = ((pts[:, None, :] - users[None, :, :]) ** 2).sum(axis=-1)  # (P, U)
        thr = d2_max[los.astype(np.int64), np.arange(users.shape[0])[None, :], index[:, 2:3]]
        usable = (d2[:, :, None] <= thr).sum(axis=-1)  # (P, U) MCS count met
        return np.asarray(best_rate[usable], dtype=np.float64)

    return rate_thresholds


def positioning_grid(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    sphere_model: str | None = None,
) -> PositioningGrid:
    """Build the grid of the positioning volume: spheres, feasibility and per-column LoS.

    Args:
        scenario: the scenario (radio, fleet volume and grid step).
        city: its city.
        users: the users (``scenario.users_in(city)``).
        sphere_model: ``"free_space"`` (paper 003's optimistic spheres) or ``"itu_r_p1411_los"``
            (see :mod:`skycell.plan.spheres`).

    Raises:
        InfeasibleError: no users, a demand no MCS carries, or no grid point inside every
            sphere and outside every building (names the users whose spheres do not meet).
    """
    t0 = time.perf_counter()
    if not users:
        raise InfeasibleError(
            "paper 003 placement needs at least one user", {"users": "add users or user_groups"}
        )
    x_m, y_m, z_m = volume_axes_m(scenario)
    u_xyz = users_xyz_m(users)
    spheres = user_spheres(
        scenario, users, model=sphere_model or scenario.placement.sphere_model, heights_m=z_m
    )
    # Sphere test per (user, column, height) through the horizontal distance, vectorised.
    cx, cy = np.meshgrid(x_m, y_m, indexing="ij")
    cols = np.column_stack((cx.ravel(), cy.ravel()))
    r2_h = (cols[None, :, 0] - u_xyz[:, None, 0]) ** 2 + (cols[None, :, 1] - u_xyz[:, None, 1]) ** 2
    radii = spheres.radii_at(z_m)  # (U, Z)
    slack = radii**2 - (z_m[None, :] - u_xyz[:, 2:3]) ** 2  # (U, Z): r_h^2 allowed
    n_u, n_c, n_z = u_xyz.shape[0], cols.shape[0], z_m.size
    inside_all = np.ones((n_c, n_z), dtype=bool)
    for u in range(n_u):  # U vectorised passes over the grid
        inside_all &= r2_h[u][:, None] <= slack[u][None, :]
    roof = city.height_at(cols)
    inside_all &= z_m[None, :] > roof[:, None]
    if not inside_all.any():
        raise _empty_intersection(users, u_xyz, cols, z_m, r2_h, slack, roof)
    live = np.flatnonzero(inside_all.any(axis=1))
    clear = np.full((n_u, n_c), n_z, dtype=np.int16)
    if float(z_m[0]) >= float(u_xyz[:, 2].max()):
        zc = _clear_height_m(city.grid, u_xyz, cols[live], float(z_m[0]))
        # LoS iff z >= z_clear: the first grid height at or above it. A grid height within
        # _GRAZE_M of the clearance grazes a roof edge (common on integer grids), where the
        # answer rests on rounding: City.line_of_sight decides those few links itself.
        k = np.searchsorted(z_m, zc - _GRAZE_M, side="left")
        graze = np.flatnonzero((k < n_z) & (np.abs(z_m[np.minimum(k, n_z - 1)] - zc) <= _GRAZE_M))
        if graze.size:
            u_g, c_g = np.divmod(graze, live.size)
            k_flat = k.reshape(-1)  # a view: updates land in k
            ok = city.line_of_sight(
                np.column_stack((cols[live][c_g], z_m[k_flat[graze]])), u_xyz[u_g]
            )
            k_flat[graze[~ok]] += 1
        clear[:, live] = k.astype(np.int16)
    else:
        clear[:, live] = _clear_index_bisection(city, u_xyz, cols[live], z_m)
    rater = _make_rater(scenario, city, u_xyz, (x_m, y_m, z_m))
    return PositioningGrid(
        x_m=x_m,
        y_m=y_m,
        z_m=z_m,
        users_xyz_m=u_xyz,
        demand_bps=users_demand_bps(users),
        spheres=spheres,
        feasible=inside_all.reshape(x_m.size, y_m.size, n_z),
        clear_index=clear.reshape(n_u, x_m.size, y_m.size),
        build_s=time.perf_counter() - t0,
        _rater=rater,
    )


def _empty_intersection(
    users: tuple[User, ...],
    u_xyz: FloatArray,
    cols: FloatArray,
    z_m: FloatArray,
    r2_h: FloatArray,
    slack: FloatArray,
    roof: FloatArray,
) -> InfeasibleError:
    """Why no grid point lies in every sphere: users whose sphere misses the volume, else the
    pairs of users whose spheres do not meet inside it."""
    outdoor = z_m[None, :] > roof[:, None]
    masks = (r2_h[:, :, None] <= slack[:, None, :]) & outdoor[None]  # (U, C, Z)
    reasons: dict[str, str] = {}
    alone = ~masks.reshape(len(users), -1).any(axis=1)
    for i_alone in np.flatnonzero(alone):
        reasons[users[i_alone].id] = (
            f"its coverage sphere (demand {users[i_alone].demand_bps / 1e6:g} Mbit/s) does not "
            "reach any grid point of the positioning volume"
        )
    if not reasons:
        flat = masks.reshape(len(users), -1)
        for i in range(len(users)):
            for j in range(i + 1, len(users)):
                if not np.any(flat[i] & flat[j]):
                    for a, b in ((i, j), (j, i)):
                        reasons.setdefault(users[a].id, "")
                        reasons[users[a].id] += (
                            f"{'; ' if reasons[users[a].id] else ''}its sphere does not meet "
                            f"{users[b].id}'s inside the volume (users "
                            f"{np.hypot(*(u_xyz[a, :2] - u_xyz[b, :2])):.0f} m apart)"
                        )
    if not reasons:
        reasons = {
            u.id: "every pair of spheres meets, but no grid point lies in all of them"
            for u in users
        }
    return InfeasibleError(
        "no grid point of the positioning volume lies inside every user's coverage sphere "
        "(paper 003 eqs. 1d-1f); lower the demands, enlarge the volume or refine fleet.grid_step_m",
        reasons,
    )


@dataclass(frozen=True)
class SearchResult:
    """The optimum of :func:`los_search` on a :class:`PositioningGrid`.

    Attributes:
        index: ``(3,)`` grid index of the best point.
        position_m: ``(3,)`` its position [m].
        n_los: users in LoS there.
        summed_rate_bps: summed link rate there [bit/s].
        candidates: feasible points with the most users in LoS (ties before the rate).
        feasible_points: grid points inside every sphere and outside buildings.
    """

    index: IntArray
    position_m: FloatArray
    n_los: int
    summed_rate_bps: float
    candidates: int
    feasible_points: int


def los_search(grid: PositioningGrid) -> SearchResult:
    """The feasible grid point with the most users in LoS, then the highest summed link rate
    (first in x, y, z order among exact ties)."""
    count = np.where(grid.feasible, grid.n_los, -1)
    best = int(count.max())
    cand = np.argwhere(count == best)  # (P, 3), in x, y, z order
    total = grid.rates_bps(cand).sum(axis=1)
    k = int(np.argmax(total))
    return SearchResult(
        index=cand[k].astype(np.int64),
        position_m=grid.points_m(cand[k : k + 1])[0],
        n_los=best,
        summed_rate_bps=float(total[k]),
        candidates=int(cand.shape[0]),
        feasible_points=int(grid.feasible.sum()),
    )


def serve_users(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    station_xyz_m: FloatArray,
) -> tuple[IntArray, list[str], dict[str, Any]]:
    """Association of one UAV: every user whose link carries its demand, admitted by the
    smallest airtime share ``D / R`` first while the channel's airtime lasts (sum <= 1).

    Returns:
        ``(association (U,), notes, figures)`` with ``figures`` holding per-user ``los``,
        ``rate_bps`` and the ``airtime`` used.
    """
    st = np.asarray(station_xyz_m, dtype=np.float64).reshape(1, 3)
    table = link_table(scenario, city, st, users_xyz_m(users))
    rate = table.rate_bps[0]
    los = table.los[0]
    demand = users_demand_bps(users)
    ok = rate >= demand * (1 - 1e-9)
    share = airtime_share(demand, rate)
    assoc = np.full(len(users), -1, dtype=np.int64)
    notes: list[str] = []
    limited = scenario.fleet.bandwidth_per_uav_hz is None
    order = np.flatnonzero(ok)[np.argsort(share[ok], kind="stable")]
    used = 0.0
    cap = None
    from skycell.plan.assignment import users_per_uav_limit

    cap = users_per_uav_limit(scenario)
    served = 0
    for i in order:  # at most U users, scalar bookkeeping
        if limited and used + share[i] > 1.0 + 1e-12:
            notes.append(
                f"user {users[i].id} not served: the channel's airtime is used up "
                f"({used:.2f} taken, it needs {share[i]:.2f})"
            )
            continue
        if cap is not None and served >= cap:
            notes.append(f"user {users[i].id} not served: the UAV serves its limit of {cap} users")
            continue
        assoc[i] = 0
        used += float(share[i]) if limited else 0.0
        served += 1
    for i in np.flatnonzero(~ok):
        why = "no line of sight" if not los[i] else "in line of sight but too far"
        notes.append(
            f"user {users[i].id} not served: {why}, its link carries "
            f"{rate[i] / 1e6:.4g} Mbit/s, below its demand {demand[i] / 1e6:.4g} Mbit/s"
        )
    figures = {
        "los": los.tolist(),
        "rate_bps": rate.tolist(),
        "airtime": used,
    }
    return assoc, notes, figures


def place_los_search(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
    sphere_model: str | None = None,
) -> UserPlacement:
    """Paper 003's single-UAV optimum by exact search of every grid point (``los-search``).

    The grid point of the positioning volume inside every user's coverage sphere and outside
    every building with the most users in LoS, ties broken by the highest summed link rate (see
    the module docstring). One UAV; it serves every user whose demand its link carries while the
    airtime lasts, the others get ``-1`` and a note.

    Args:
        scenario: the scenario (paper 003: ``examples/paper003-*.yaml``).
        city: its city.
        users: the users.
        seed: unused (the search is deterministic); accepted for the common interface.
        progress: optional ``progress(stage, fraction)`` callback.
        sphere_model: ``"free_space"`` or ``"itu_r_p1411_los"`` (:mod:`skycell.plan.spheres`);
            default ``placement.sphere_model``.

    Returns:
        A :class:`UserPlacement` with ``extra`` holding ``n_los``, ``summed_rate_bps``,
        ``grid_shape``, ``feasible_points``, ``candidates``, per-user ``los`` and ``rate_bps``.

    Raises:
        InfeasibleError: a demand no MCS carries, or no grid point inside every sphere.
    """
    del seed
    sphere_model = sphere_model or scenario.placement.sphere_model
    t0 = time.perf_counter()
    if progress is not None:
        progress("los-search: spheres and line of sight", 0.0)
    grid = positioning_grid(scenario, city, users, sphere_model=sphere_model)
    if progress is not None:
        progress("los-search: ranking candidates", 0.5)
    best = los_search(grid)
    assoc, notes, figures = serve_users(scenario, city, users, best.position_m)
    wall = time.perf_counter() - t0
    if progress is not None:
        progress("los-search: done", 1.0)
    return UserPlacement(
        method="los-search",
        station_xyz_m=best.position_m.reshape(1, 3),
        association=assoc,
        wall_time_s=wall,
        proven_optimal=None,
        notes=notes,
        extra={
            "n_los": best.n_los,
            "summed_rate_bps": best.summed_rate_bps,
            "grid_shape": list(grid.shape),
            "feasible_points": best.feasible_points,
            "candidates": best.candidates,
            "sphere_model": sphere_model,
            "grid_build_s": grid.build_s,
            **figures,
        },
    )
