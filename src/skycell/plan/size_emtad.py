"""EMTAD: the fewest UAVs through coverage-sphere intersections, then PSO (paper 004 §III).

Paper: K. Shafafi, A. A. Abdellatif, M. Ricardo, R. Campos, "Joint Optimization of Multi-UAV
Deployment and 3D Positioning in Traffic-Aware Aerial Networks" (arXiv 2506.13287), Algorithm 1,
Table II. :func:`place_emtad` follows its two stages:

1. **Coverage spheres** (eqs. 6-7). A user's demand fixes the lowest 802.11ac MCS that carries it
   and so the SNR (:func:`skycell.radio.link.user_link_budget`); the sphere radius ``d_max`` is
   the largest UAV-user distance at which the link still reaches it. Under the Al-Hourani mean
   gain (eqs. 1-3, ``pathloss_model: al_hourani_mean``) the loss depends on the elevation angle
   too, so eq. 6 has no closed form: :func:`coverage_radii_m` solves it numerically **per UAV
   height** (a scan, then bisection, on the scenario's own link model), which makes each
   "sphere" a solid of revolution: at height ``z`` a disc of horizontal radius ``r_i(z)``
   (``d_max(z) = hypot(r_i(z), z - z_user)``). EMTAD also requires the Al-Hourani LoS probability
   of every served user to reach ``los_probability_threshold`` (Table II: 0.9), a cone
   ``r <= (z - z_user) / tan(theta_0.9)``; a user no such position serves gets the threshold
   relaxed (a note says so).
2. **Intersection zones and the smallest cover** (eq. 8). The paper tests user groups "from the
   full set down to pairs" for a common point; here the test runs on sampled points instead of
   on all 2^U groups: :func:`candidate_points` samples every user's disc centre, both crossing
   points and the lens centre of every overlapping pair of discs, random points in each disc and
   a grid, at ``height_levels`` altitudes; the set of users each point serves (checked on the
   full link model, (5b)) is that point's group, and the distinct **maximal** groups are the
   zones (every intersection zone's group is contained in one of them). The smallest set of
   zones covering every user is then found as the paper says, by evaluating combinations of
   zones, smallest first (bitmask unions, vectorised), and accepting the first combination in
   which the users can also be assigned within each UAV's limit (eq. 9 / (5c)); when a size has
   more than ``max_combinations`` combinations, Chvátal's greedy set cover (the paper's ref. [12],
   Vazirani ch. 2) with the same capacity finishes the job.
3. **PSO in each zone** (Table II): 30 particles, 100 iterations, inertia 0.7, cognitive and
   social weights from the settings, positions rounded to ``fleet.grid_step_m`` (Table II: 1 m
   precision), initial particles drawn from the valid positions of the zone. The fitness is the
   aggregate throughput (Table II): the sum of the link rates of the zone's users when the
   position serves every one of them with its demand (5b), at LoS probability >= the threshold,
   within (5c), inside the positioning volume and outside buildings; otherwise minus one minus
   the number of users it fails. The swarm stops early once its best position is such a
   "perfect solution" and has not improved for ``patience`` iterations (Table II: 10). Users a
   zone cannot keep within (5c) at its best position are released and covered again by new
   zones.

(5c), the per-UAV limit, follows :func:`skycell.plan.assignment.check_placement`: with
``fleet.bandwidth_per_uav_hz`` each user takes one ``radio.channel_width_mhz`` channel (a user
cap), otherwise the users share one channel in time (``sum D_i / R_i <= 1``); ``max_users_per_uav``
caps the count in both readings.

The helpers here (:class:`CoverageProblem`, :func:`candidate_points`, :func:`solve_milp`, ...)
are shared with :mod:`skycell.plan.size_exact` and :mod:`skycell.plan.size_baselines`.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from skycell.errors import InfeasibleError
from skycell.plan.assignment import (
    UserPlacement,
    airtime_share,
    link_table,
    users_demand_bps,
    users_per_uav_limit,
    users_xyz_m,
)

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import Scenario, User

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
Progress = Callable[[str, float], None]

__all__ = [
    "CoverageProblem",
    "Links",
    "candidate_points",
    "coverage_problem",
    "coverage_radii_m",
    "fill_rows",
    "greedy_cover",
    "los_probability_threshold_angle_deg",
    "maximal_zones",
    "pack_rows",
    "place_emtad",
    "solve_milp",
]

#: Relative tolerance of the rate-versus-demand test, as in ``check_placement``.
RATE_TOL = 1e-9
#: Points evaluated per link-table call (bounds the (P, U) temporaries).
_CHUNK = 4096


# ------------------------------------------------------------------------------------------------
# The problem: users, demands, limits, and the rate of every candidate position
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    """Links from ``P`` candidate positions to ``U`` users.

    Attributes:
        serves: ``(P, U)`` the position carries the user's demand (5b) and is a valid UAV
            position (inside the positioning volume, outside every building).
        rate_bps: ``(P, U)`` link rate [bit/s].
        share: ``(P, U)`` channel airtime the user needs, ``D / R`` (inf at rate 0).
        los_probability: ``(P, U)`` Al-Hourani LoS probability (paper 004 eq. 1).
        valid: ``(P,)`` valid UAV position.
    """

    serves: BoolArray
    rate_bps: FloatArray
    share: FloatArray
    los_probability: FloatArray
    valid: BoolArray


@dataclass
class CoverageProblem:
    """One fewest-UAV problem (paper 004 eq. 5): users, demands, per-UAV limit and volume.

    Attributes:
        scenario, city, users: the inputs.
        xyz_m: ``(U, 3)`` user positions [m].
        demand_bps: ``(U,)`` demands [bit/s].
        cap: whole-user limit per UAV (:func:`users_per_uav_limit`), or None.
        airtime: whether (5c) is the airtime reading (no ``fleet.bandwidth_per_uav_hz``).
        box_m: ``(x_min, y_min, x_max, y_max)`` of the positioning area [m].
        altitude_m: ``(lowest, highest)`` hover altitude [m].
    """

    scenario: Scenario
    city: City
    users: tuple[User, ...]
    xyz_m: FloatArray
    demand_bps: FloatArray
    cap: int | None
    airtime: bool
    box_m: tuple[float, float, float, float]
    altitude_m: tuple[float, float]
    _env_ab: tuple[float, float] = field(default=(9.61, 0.16), repr=False)

    @property
    def ids(self) -> list[str]:
        """User ids."""
        return [u.id for u in self.users]

    @property
    def n_users(self) -> int:
        """Number of users U."""
        return len(self.users)

    def valid_points(self, xyz_m: FloatArray) -> BoolArray:
        """``(P,)`` True where a UAV may hover: inside the positioning volume, outside buildings."""
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        x0, y0, x1, y1 = self.box_m
        lo, hi = self.altitude_m
        tol = 1e-6
        inside = (
            (p[:, 0] >= x0 - tol)
            & (p[:, 0] <= x1 + tol)
            & (p[:, 1] >= y0 - tol)
            & (p[:, 1] <= y1 + tol)
            & (p[:, 2] >= lo - tol)
            & (p[:, 2] <= hi + tol)
        )
        if p.shape[0] and len(self.city.buildings):
            inside &= ~self.city.inside_building(p)
        return np.asarray(inside, dtype=bool)

    def los_probability(self, xyz_m: FloatArray, user_index: IntArray | None = None) -> FloatArray:
        """``(P, U)`` Al-Hourani LoS probability of every position-user link (paper 004 eq. 1),
        with the scenario environment's constants (``paper004``: c1 = 9.6, c2 = 0.28)."""
        from skycell.radio.pathloss import al_hourani_los_probability, elevation_angle_deg

        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        u = self.xyz_m if user_index is None else self.xyz_m[user_index]
        r = np.hypot(p[:, None, 0] - u[None, :, 0], p[:, None, 1] - u[None, :, 1])
        dz = p[:, None, 2] - u[None, :, 2]
        a, b = self._env_ab
        return al_hourani_los_probability(elevation_angle_deg(r, dz), a=a, b=b)

    def links(self, xyz_m: FloatArray, user_index: IntArray | None = None) -> Links:
        """Links from positions ``(P, 3)`` to all users (or ``user_index``), in chunks, through
        :func:`skycell.plan.assignment.link_table` (the same rates ``check_placement`` uses)."""
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        idx = np.arange(self.n_users) if user_index is None else np.asarray(user_index)
        us = self.xyz_m[idx]
        demand = self.demand_bps[idx]
        n_p, n_u = p.shape[0], idx.shape[0]
        rate = np.zeros((n_p, n_u))
        if n_u:
            for s in range(0, n_p, _CHUNK):
                rate[s : s + _CHUNK] = link_table(
                    self.scenario, self.city, p[s : s + _CHUNK], us
                ).rate_bps
        valid = self.valid_points(p)
        serves = (rate >= demand[None, :] * (1.0 - RATE_TOL)) & (rate > 0.0) & valid[:, None]
        share = airtime_share(np.broadcast_to(demand, rate.shape), rate)
        share = np.where(np.isnan(share), np.inf, share)
        return Links(
            serves=np.asarray(serves, dtype=bool),
            rate_bps=rate,
            share=np.asarray(share, dtype=np.float64),
            los_probability=self.los_probability(p, idx),
            valid=valid,
        )

    def load_ok(self, share: FloatArray, count: IntArray | int) -> BoolArray | bool:
        """Whether a UAV's users fit (5c): the count cap and, for airtime, ``sum share <= 1``."""
        ok: Any = True
        if self.cap is not None:
            ok = np.asarray(count) <= self.cap
        if self.airtime:
            ok = ok & (np.asarray(share) <= 1.0 + 1e-9)
        return ok  # type: ignore[no-any-return]


def coverage_problem(scenario: Scenario, city: City, users: tuple[User, ...]) -> CoverageProblem:
    """Validate a fewest-UAV problem and describe it.

    Raises:
        InfeasibleError: a demand no rate of the radio carries (every such user, with the
            fastest rate), or a per-UAV limit of zero users.
    """
    from skycell.radio.link import user_link_budget
    from skycell.radio.pathloss import AL_HOURANI_ENVIRONMENTS

    r = scenario.radio
    demand = users_demand_bps(users)
    tx = r.link_tx_power_dbm
    budget = user_link_budget(
        demand,
        standard=r.standard,
        tx_power_dbm=tx,
        noise_floor_dbm=scenario.noise_floor_dbm,
        bandwidth_hz=r.bandwidth_hz,
        channel_width_mhz=r.channel_width_mhz,
        guard_interval_ns=r.guard_interval_ns,
        spatial_streams=r.spatial_streams,
        rate_model=r.rate_model,
    )
    if demand.size and not np.all(budget.feasible):
        bad = np.flatnonzero(~budget.feasible)
        raise InfeasibleError(
            f"{bad.size} user(s) demand more than any rate of the radio carries; lower their "
            "demand or use a wider channel / more spatial streams",
            {users[i].id: f"{budget.reason[i]}; demand {demand[i] / 1e6:g} Mbit/s" for i in bad},
        )
    cap = users_per_uav_limit(scenario)
    if cap is not None and cap < 1 and users:
        raise InfeasibleError(
            "a UAV can serve no user: fleet.bandwidth_per_uav_hz is below one channel of "
            "radio.channel_width_mhz; raise it",
            {u.id: "no UAV can take any user (per-UAV limit 0)" for u in users},
        )
    f = scenario.fleet
    area = f.positioning_area or scenario.area
    env = AL_HOURANI_ENVIRONMENTS[r.environment]
    return CoverageProblem(
        scenario=scenario,
        city=city,
        users=users,
        xyz_m=users_xyz_m(users),
        demand_bps=demand,
        cap=cap,
        airtime=f.bandwidth_per_uav_hz is None,
        box_m=(area.x_min_m, area.y_min_m, area.x_max_m, area.y_max_m),
        altitude_m=scenario.altitude_range_m,
        _env_ab=(env.a, env.b),
    )


def height_levels_m(problem: CoverageProblem, levels: int) -> FloatArray:
    """``levels`` altitudes evenly spread over the altitude range [m] (one if it is a point)."""
    lo, hi = problem.altitude_m
    n = 1 if hi - lo < 1e-9 else max(1, levels)
    return np.linspace(lo, hi, n) if n > 1 else np.array([lo])


# ------------------------------------------------------------------------------------------------
# Eq. 6: sphere radius per height
# ------------------------------------------------------------------------------------------------


def los_probability_threshold_angle_deg(threshold: float, *, a: float, b: float) -> float:
    """Smallest elevation angle [deg] at which the Al-Hourani LoS probability reaches
    ``threshold``: ``theta = a - ln((1/tau - 1) / a) / b`` (inverse of paper 004 eq. 1); 0 for a
    threshold of 0, 90 or more when it is unreachable."""
    if threshold <= 0.0:
        return -90.0
    if threshold >= 1.0:
        return 90.0
    return float(a - math.log((1.0 / threshold - 1.0) / a) / b)


def coverage_radii_m(
    problem: CoverageProblem,
    heights_m: FloatArray,
    *,
    los_probability_threshold: float = 0.0,
    scan_steps: int = 400,
    bisection_steps: int = 24,
) -> FloatArray:
    """Horizontal radius [m] of every user's coverage region at every UAV height (eq. 6).

    The largest horizontal UAV-user distance ``r`` (the region is the disc ``r <= r_i(z)``) at
    which the scenario's link model still carries the user's demand, assuming line of sight
    (an empty city; buildings are checked later on each candidate), and, with a threshold, at
    which the Al-Hourani LoS probability stays at or above it. Solved per demand class and height:
    a scan of ``scan_steps`` steps up to the positioning area's diagonal, then bisection. The
    sphere radius of eq. 6 is ``hypot(r_i(z), z - z_i)``. The scan assumes the rate falls with
    distance (true of every skycell model with isotropic or downward antennas).

    Returns:
        ``(U, Z)`` radii [m]; -1 where no position at that height serves the user.
    """
    from skycell.city.buildings import Buildings, City
    from skycell.plan.assignment import link_table as _link_table

    heights = np.atleast_1d(np.asarray(heights_m, dtype=np.float64))
    x0, y0, x1, y1 = problem.box_m
    r_max = float(np.hypot(x1 - x0, y1 - y0)) + 1.0
    empty = City(bounds_m=(-1e6, -1e6, 1e6, 1e6), buildings=Buildings.empty())
    a, b = problem._env_ab
    theta0 = los_probability_threshold_angle_deg(los_probability_threshold, a=a, b=b)
    out = np.full((problem.n_users, heights.size), -1.0)
    keys = np.column_stack((problem.demand_bps, problem.xyz_m[:, 2]))
    classes, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    for c, (demand, hu) in enumerate(classes):
        probe = np.array([[0.0, 0.0, hu]])

        def ok(
            r: FloatArray,
            z: FloatArray,
            demand: float = demand,
            hu: float = hu,
            probe: FloatArray = probe,
        ) -> BoolArray:
            st = np.column_stack((r.ravel(), np.zeros(r.size), z.ravel()))
            rate = _link_table(problem.scenario, empty, st, probe).rate_bps[:, 0]
            good = (rate >= demand * (1.0 - RATE_TOL)) & (rate > 0.0)
            if los_probability_threshold > 0.0:
                elev = np.degrees(np.arctan2(z.ravel() - hu, r.ravel()))
                good &= elev >= theta0 - 1e-9
            return np.asarray(good.reshape(r.shape), dtype=bool)

        rs = np.linspace(0.0, r_max, scan_steps + 1)
        grid_r, grid_z = np.meshgrid(rs, heights, indexing="ij")  # (S, Z)
        good = ok(grid_r, grid_z)
        # contiguous from the user outwards: first failing step per height
        first_bad = np.where(good.all(axis=0), rs.size, np.argmin(good, axis=0))
        has = good[0]
        lo = np.where(first_bad > 0, rs[np.maximum(first_bad - 1, 0)], 0.0)
        hi = np.where(first_bad < rs.size, rs[np.minimum(first_bad, rs.size - 1)], r_max)
        for _ in range(bisection_steps):
            mid = 0.5 * (lo + hi)
            m_ok = ok(mid[None, :], heights[None, :])[0]
            lo = np.where(m_ok, mid, lo)
            hi = np.where(m_ok, hi, mid)
        radius = np.where(first_bad >= rs.size, r_max, lo)
        out[inverse == c] = np.where(has, radius, -1.0)[None, :]
    return out


# ------------------------------------------------------------------------------------------------
# Candidate positions: disc centres, pairwise intersections, random points, a grid
# ------------------------------------------------------------------------------------------------


def candidate_points(
    problem: CoverageProblem,
    radii_m: FloatArray,
    heights_m: FloatArray,
    rng: np.random.Generator,
    *,
    random_per_disc: int = 8,
    grid_per_side: int = 24,
) -> FloatArray:
    """Candidate UAV positions ``(P, 3)`` [m] sampled in the coverage regions (eqs. 7-8).

    At each height: every user's disc centre (the point above the user), for every overlapping
    pair of discs the lens centre (middle of the overlap on the line of centres) and both circle
    crossing points pulled 2 % towards the lens centre, ``random_per_disc`` uniform points in each
    disc, and a ``grid_per_side`` square grid over the users' extent. Clipped to the positioning
    area and de-duplicated at 1 mm.
    """
    xy = problem.xyz_m[:, :2]
    x0, y0, x1, y1 = problem.box_m
    pts: list[FloatArray] = []
    iu, ju = np.triu_indices(xy.shape[0], k=1)
    for zi, z in enumerate(np.atleast_1d(heights_m)):
        r = radii_m[:, zi]
        has = r >= 0.0
        level: list[FloatArray] = [xy[has]]
        if iu.size:
            keep = has[iu] & has[ju]
            i, j = iu[keep], ju[keep]
            ci, cj, ri, rj = xy[i], xy[j], r[i], r[j]
            delta = cj - ci
            d = np.hypot(delta[:, 0], delta[:, 1])
            overlap = d <= ri + rj
            i_, ci, cj, ri, rj, delta, d = (
                i[overlap],
                ci[overlap],
                cj[overlap],
                ri[overlap],
                rj[overlap],
                delta[overlap],
                d[overlap],
            )
            del i_
            safe_d = np.where(d > 0, d, 1.0)
            unit = delta / safe_d[:, None]
            t = np.clip(0.5 * ((d - rj) + ri), 0.0, d)
            lens = ci + unit * t[:, None]
            level.append(lens)
            cross = (d > np.abs(ri - rj)) & (d > 0)
            if np.any(cross):
                dd, rri, rrj = d[cross], ri[cross], rj[cross]
                a = (dd**2 + rri**2 - rrj**2) / (2.0 * dd)
                h = np.sqrt(np.maximum(rri**2 - a**2, 0.0))
                base = ci[cross] + unit[cross] * a[:, None]
                perp = np.column_stack((-unit[cross, 1], unit[cross, 0]))
                for sign in (1.0, -1.0):
                    p = base + sign * perp * h[:, None]
                    level.append(p + 0.02 * (lens[cross] - p))
        if random_per_disc > 0 and np.any(has):
            rr = r[has][:, None] * np.sqrt(rng.uniform(size=(int(has.sum()), random_per_disc)))
            ang = rng.uniform(0.0, 2.0 * np.pi, size=rr.shape)
            rnd = xy[has][:, None, :] + np.stack((rr * np.cos(ang), rr * np.sin(ang)), axis=-1)
            level.append(rnd.reshape(-1, 2))
        if grid_per_side > 1 and np.any(has):
            lo_xy = np.maximum(xy[has].min(axis=0), (x0, y0))
            hi_xy = np.minimum(xy[has].max(axis=0), (x1, y1))
            gx = np.linspace(lo_xy[0], hi_xy[0], grid_per_side)
            gy = np.linspace(lo_xy[1], hi_xy[1], grid_per_side)
            level.append(np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2))
        flat = np.concatenate(level) if level else np.zeros((0, 2))
        flat = np.column_stack(
            (np.clip(flat[:, 0], x0, x1), np.clip(flat[:, 1], y0, y1), np.full(len(flat), z))
        )
        pts.append(flat)
    allp = np.concatenate(pts) if pts else np.zeros((0, 3))
    _, first = np.unique(np.round(allp, 3), axis=0, return_index=True)
    return np.asarray(allp[np.sort(first)], dtype=np.float64)


# ------------------------------------------------------------------------------------------------
# Zones (eq. 8) and covers
# ------------------------------------------------------------------------------------------------


def pack_rows(cov: BoolArray) -> NDArray[np.uint64]:
    """Rows of a boolean ``(P, U)`` matrix as ``(P, W)`` 64-bit words."""
    packed = np.packbits(cov, axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8
    if pad or packed.shape[1] == 0:
        packed = np.pad(packed, ((0, 0), (0, pad if packed.shape[1] else 8)))
    return np.ascontiguousarray(packed).view(np.uint64)


def maximal_zones(cov: BoolArray) -> tuple[BoolArray, IntArray]:
    """The distinct maximal user groups of the sampled points: the intersection zones.

    Args:
        cov: ``(P, U)`` which users each point serves.

    Returns:
        ``(zones (Z, U), group (P,))``: the maximal groups (no zone is a subset of another, empty
        groups dropped) and, for every point, the index of its zone when its own group is
        maximal, else -1.
    """
    words = pack_rows(cov)
    uniq, inverse = np.unique(words, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    nonempty = np.any(uniq != 0, axis=1)
    maximal = nonempty.copy()
    n = uniq.shape[0]
    step = max(1, 2_000_000 // max(1, n * uniq.shape[1]))
    for s in range(0, n, step):
        block = uniq[s : s + step]
        sub = np.all((block[:, None, :] & ~uniq[None, :, :]) == 0, axis=2)  # block ⊆ other
        sub[np.arange(block.shape[0]), np.arange(s, s + block.shape[0])] = False
        maximal[s : s + step] &= ~sub.any(axis=1)
    keep = np.flatnonzero(maximal)
    remap = np.full(n, -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    zones = np.asarray(
        np.unpackbits(uniq[keep].view(np.uint8), axis=1, bitorder="little")[:, : cov.shape[1]],
        dtype=bool,
    )
    return zones, remap[inverse]


def fill_rows(problem: CoverageProblem, share: FloatArray, avail: BoolArray) -> BoolArray:
    """Users each position takes from its available ones within (5c), vectorised over rows: the
    lowest airtime first, up to the user cap and, for airtime, a total share of 1.

    Args:
        share: ``(P, U)`` airtime shares (inf where not served).
        avail: ``(P, U)`` users each position may take.

    Returns:
        ``(P, U)`` users taken.
    """
    share = np.atleast_2d(share)
    avail = np.atleast_2d(avail)
    key = np.where(avail, share, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    sorted_key = np.take_along_axis(key, order, axis=1)
    sorted_avail = np.take_along_axis(avail, order, axis=1)
    take = sorted_avail.copy()
    if problem.airtime:
        csum = np.cumsum(np.where(sorted_avail, sorted_key, 0.0), axis=1)
        take &= csum <= 1.0 + 1e-9
    if problem.cap is not None:
        take &= np.cumsum(take, axis=1) <= problem.cap
    out = np.zeros(avail.shape, dtype=bool)
    np.put_along_axis(out, order, take, axis=1)
    return out


def _fill(problem: CoverageProblem, share: FloatArray, avail: BoolArray) -> BoolArray:
    """:func:`fill_rows` for one position: ``(U,)`` users taken."""
    return np.asarray(fill_rows(problem, share[None, :], avail[None, :])[0], dtype=bool)


def greedy_cover(
    problem: CoverageProblem,
    serves: BoolArray,
    share: FloatArray,
    rate_bps: FloatArray,
    users: BoolArray | None = None,
) -> tuple[list[int], IntArray]:
    """Chvátal's greedy set cover with per-UAV capacity (paper 004 eq. 9; its ref. [12]).

    Repeatedly picks the candidate (row) that takes the most still-uncovered users within (5c)
    (:func:`_fill`: lowest airtime first), ties broken by the higher summed rate of those users.

    Args:
        serves, share, rate_bps: ``(P, U)`` candidates' links.
        users: ``(U,)`` users to cover (default all).

    Returns:
        ``(chosen rows, association (U,))`` with -1 for users no candidate serves.
    """
    n_u = serves.shape[1]
    todo = np.ones(n_u, dtype=bool) if users is None else users.copy()
    assoc = np.full(n_u, -1, dtype=np.int64)
    chosen: list[int] = []
    while np.any(todo) and serves.shape[0]:
        avail = serves & todo[None, :]
        count = avail.sum(axis=1)
        if problem.airtime or problem.cap is not None:
            takes = fill_rows(problem, share, avail)
            gain = takes.sum(axis=1)
            gain_rate = np.where(takes, rate_bps, 0.0).sum(axis=1)
            best_row = int(np.lexsort((-gain_rate, -gain))[0])
            best_gain = int(gain[best_row])
            best_take = takes[best_row]
        else:
            gain_rate = np.where(avail, rate_bps, 0.0).sum(axis=1)
            best_row = int(np.lexsort((-gain_rate, -count))[0])
            best_gain = int(count[best_row])
            best_take = avail[best_row]
        if best_gain == 0:
            break
        assoc[best_take] = len(chosen)
        chosen.append(best_row)
        todo &= ~best_take
    return chosen, assoc


def assign_users(
    problem: CoverageProblem,
    serves: BoolArray,
    share: FloatArray,
    rate_bps: FloatArray,
    *,
    time_limit_s: float = 5.0,
) -> IntArray | None:
    """Assign every user to one of ``K`` fixed positions within (5b)-(5e), maximising the summed
    rate; None when impossible.

    Without the airtime reading this is a bipartite b-matching, solved exactly with
    ``scipy.optimize.linear_sum_assignment`` (each position repeated ``cap`` times); with airtime
    it is a small MILP (HiGHS).

    Args:
        serves, share, rate_bps: ``(K, U)`` links of the positions.
    """
    from scipy.optimize import linear_sum_assignment

    k, n_u = serves.shape
    if n_u == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.all(serves.any(axis=0)):
        return None
    scale = max(float(rate_bps[serves].max()), 1.0)
    if not problem.airtime:
        if problem.cap is None:
            best = np.argmax(np.where(serves, rate_bps, -np.inf), axis=0)
            return np.asarray(best, dtype=np.int64)
        if n_u > k * problem.cap:
            return None
        cost = np.where(serves, -rate_bps / scale, 1e6).T  # (U, K)
        cols = np.repeat(cost, problem.cap, axis=1)
        row, col = linear_sum_assignment(cols)
        if row.size < n_u or np.any(cols[row, col] > 1e5):
            return None
        out = np.full(n_u, -1, dtype=np.int64)
        out[row] = col // problem.cap
        return out
    # airtime: MILP over the edges
    import scipy.sparse as sp

    ej, ei = np.nonzero(serves)
    n_e = ej.size
    rows = [sp.csr_matrix((np.ones(n_e), (ei, np.arange(n_e))), shape=(n_u, n_e))]
    lo = [np.ones(n_u)]
    hi = [np.ones(n_u)]
    rows.append(sp.csr_matrix((share[ej, ei], (ej, np.arange(n_e))), shape=(k, n_e)))
    lo.append(np.full(k, -np.inf))
    hi.append(np.ones(k))
    if problem.cap is not None:
        rows.append(sp.csr_matrix((np.ones(n_e), (ej, np.arange(n_e))), shape=(k, n_e)))
        lo.append(np.full(k, -np.inf))
        hi.append(np.full(k, float(problem.cap)))
    sol = solve_milp(
        -rate_bps[ej, ei] / scale,
        sp.vstack(rows).tocsc(),
        np.concatenate(lo),
        np.concatenate(hi),
        np.zeros(n_e),
        np.ones(n_e),
        integer=np.ones(n_e, dtype=bool),
        time_limit_s=time_limit_s,
    )
    if sol.x is None:
        return None
    x = sol.x > 0.5
    out = np.full(n_u, -1, dtype=np.int64)
    out[ei[x]] = ej[x]
    return out if np.all(out >= 0) else None


# ------------------------------------------------------------------------------------------------
# HiGHS
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MilpResult:
    """Outcome of :func:`solve_milp`.

    Attributes:
        status: HiGHS model status text (``Optimal``, ``Time limit reached``, ``Infeasible``...).
        optimal: HiGHS proved optimality (within ``mip_rel_gap``).
        x: primal values, or None without a feasible solution.
        objective: objective value (NaN without a solution).
        dual_bound: HiGHS's proven bound on the objective (the LP value for an LP).
    """

    status: str
    optimal: bool
    x: FloatArray | None
    objective: float
    dual_bound: float


def _quiet_highs() -> Any:
    """A silent ``highspy.Highs``. HiGHS 1.16 prints its banner on the C-level standard output
    when the first instance of a process is made, before ``silent()`` can act; that would corrupt
    ``skycell size --json``, so the construction runs with file descriptor 1 sent to /dev/null."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h: Any = highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    h.silent()
    return h


def solve_milp(
    cost: FloatArray,
    a_matrix: Any,
    row_lower: FloatArray,
    row_upper: FloatArray,
    col_lower: FloatArray,
    col_upper: FloatArray,
    *,
    integer: BoolArray,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    start: FloatArray | None = None,
    threads: int | None = None,
) -> MilpResult:
    """Minimise ``cost @ x`` subject to ``row_lower <= A x <= row_upper`` and column bounds, with
    ``integer`` columns integral, using HiGHS (``highspy``); an LP when no column is integer
    (solved by the interior-point method without crossover, so its optimum is exact to HiGHS's
    tolerances, about 1e-7 relative).

    Args:
        a_matrix: scipy sparse ``(rows, cols)`` constraint matrix.
        start: optional feasible starting solution (MIP start).
    """
    import highspy
    import scipy.sparse as sp

    a = sp.csc_matrix(a_matrix)
    n_col = int(cost.size)
    h = _quiet_highs()
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = int(a.shape[0])
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(col_upper, dtype=np.float64)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isfinite(row_lower), row_lower, -inf).astype(np.float64)
    lp.row_upper_ = np.where(np.isfinite(row_upper), row_upper, inf).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    is_mip = bool(np.any(integer))
    if is_mip:
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
            for b in integer
        ]
    h.passModel(lp)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.01)))
    h.setOptionValue("random_seed", 0)
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    if is_mip:
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    else:  # interior point without crossover: far faster on these degenerate covering LPs
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
    if start is not None and is_mip:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    text = h.modelStatusToString(status)
    info = h.getInfo()
    has_x = int(info.primal_solution_status) == 2
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    optimal = status == highspy.HighsModelStatus.kOptimal
    if is_mip:
        bound = float(info.mip_dual_bound)
    else:
        bound = float(info.objective_function_value) if optimal else -math.inf
    return MilpResult(
        status=text,
        optimal=bool(optimal),
        x=x,
        objective=float(info.objective_function_value) if has_x else math.nan,
        dual_bound=bound,
    )


# ------------------------------------------------------------------------------------------------
# Errors shared by the methods
# ------------------------------------------------------------------------------------------------


def raise_unreachable(problem: CoverageProblem, links: Links, *, where: str) -> None:
    """Raise :class:`InfeasibleError` naming every user no candidate position serves, with the
    best rate any of them reaches."""
    lost = np.flatnonzero(~links.serves.any(axis=0))
    if lost.size == 0:
        return
    rate = np.where(links.valid[:, None], links.rate_bps, 0.0)
    best = rate[:, lost].max(axis=0) if rate.shape[0] else np.zeros(lost.size)
    lo, hi = problem.altitude_m
    raise InfeasibleError(
        f"{lost.size} user(s) cannot be served from any position {where} (altitudes "
        f"{lo:g}-{hi:g} m): their demand needs a stronger link than any position gives; move "
        "them, lower their demand, raise the power or widen the positioning volume",
        {
            problem.users[i].id: f"best link from any position carries {b / 1e6:.3g} Mbit/s, "
            f"below its demand {problem.demand_bps[i] / 1e6:.3g} Mbit/s"
            for i, b in zip(lost, best, strict=True)
        },
    )


def raise_fleet_too_small(
    problem: CoverageProblem, needed: int, assoc: IntArray, *, method: str
) -> None:
    """Raise :class:`InfeasibleError`: the plan needs ``needed`` UAVs but the fleet has fewer;
    names the users of the least-loaded UAVs that would have to stay unserved."""
    n_max = problem.scenario.fleet.stations
    counts = np.bincount(assoc[assoc >= 0], minlength=needed)
    drop = np.argsort(counts, kind="stable")[: needed - n_max]
    lost = np.flatnonzero(np.isin(assoc, drop))
    reasons = {"fleet.stations": f"{n_max} UAV(s) available, {method} needs {needed}"}
    reasons |= {
        problem.users[i].id: f"left unserved with {n_max} UAV(s): its UAV would be UAV number "
        f"{needed - n_max + 1} or later"
        for i in lost
    }
    raise InfeasibleError(
        f"{method} needs {needed} UAVs for these users and demands, but fleet.stations is "
        f"{n_max}; raise fleet.stations to at least {needed} or lower the demands",
        reasons,
    )


# ------------------------------------------------------------------------------------------------
# EMTAD
# ------------------------------------------------------------------------------------------------


@dataclass
class EmtadRun:
    """Internal result of :func:`run_emtad`, with what ``exact`` reuses."""

    placement: UserPlacement
    zone_points_m: FloatArray


def _smallest_cover(
    problem: CoverageProblem,
    cov: BoolArray,
    share: FloatArray,
    rate_bps: FloatArray,
    todo: BoolArray,
    max_combinations: int,
) -> tuple[list[tuple[int, IntArray]], str, int, int]:
    """The smallest set of zones covering the users ``todo`` within (5c) (module docstring, 2).

    First the paper's search: combinations of the maximal zones, smallest first, each zone
    standing at its representative point (its sampled point with the lowest total airtime, then
    the highest summed rate); the first combination whose union covers every user and whose
    users can be assigned within (5c) (:func:`assign_users`) wins. When a cover size has more than
    ``max_combinations`` combinations, or none passes, Chvátal's greedy set cover over every
    sampled point's group (every intersection, not only the maximal ones) with capacity
    (:func:`greedy_cover`) decides.

    Args:
        cov, share, rate_bps: ``(P, U)`` sampled points' links (``cov``: serves, EMTAD's LoS
            threshold applied).

    Returns:
        ``([(representative point, its users), ...], method, zones, combinations tried)``.
    """
    sub_cov = cov & todo[None, :]
    zones, group = maximal_zones(sub_cov)
    pts = np.flatnonzero(group >= 0)
    g = group[pts]
    tot_share = np.where(sub_cov[pts], share[pts], 0.0).sum(axis=1)
    tot_rate = np.where(sub_cov[pts], rate_bps[pts], 0.0).sum(axis=1)
    order = np.lexsort((-tot_rate, tot_share, g))
    first = np.ones(order.size, dtype=bool)
    first[1:] = g[order][1:] != g[order][:-1]
    rep = pts[order[first]]  # one point per zone, in zone order
    idx_u = np.flatnonzero(todo)
    zsub = zones[:, idx_u]
    n_z, n_u = zsub.shape
    words = pack_rows(zsub)
    full = pack_rows(np.ones((1, n_u), dtype=bool))[0]
    k0 = 1 if problem.cap is None else max(1, math.ceil(n_u / problem.cap))
    tried = 0
    for k in range(k0, n_z + 1):
        if math.comb(n_z, k) > max_combinations:
            break
        it = itertools.combinations(range(n_z), k)
        checks = 0
        while checks < 200:
            block = np.fromiter(
                itertools.chain.from_iterable(itertools.islice(it, 65536)), dtype=np.int64
            ).reshape(-1, k)
            if block.size == 0:
                break
            tried += block.shape[0]
            union = np.bitwise_or.reduce(words[block], axis=1)
            hits = np.flatnonzero(np.all(union == full[None, :], axis=1))
            for h in hits[: 200 - checks]:
                rows = rep[block[h]]
                a = assign_users(
                    problem,
                    sub_cov[np.ix_(rows, idx_u)],
                    share[np.ix_(rows, idx_u)],
                    rate_bps[np.ix_(rows, idx_u)],
                    time_limit_s=2.0,
                )
                checks += 1
                if a is not None:
                    out = [(int(r), idx_u[a == m]) for m, r in enumerate(rows)]
                    return out, "combinations", n_z, tried
    chosen, assoc = greedy_cover(
        problem, sub_cov, np.where(sub_cov, share, np.inf), rate_bps, users=todo
    )
    return (
        [(int(r), np.flatnonzero(assoc == m)) for m, r in enumerate(chosen)],
        "greedy",
        n_z,
        tried,
    )


def _pso_zone(
    problem: CoverageProblem,
    members: IntArray,
    pool_m: FloatArray,
    threshold_users: BoolArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, bool, int]:
    """PSO inside one zone for the users ``members`` (Table II). Returns ``(best position,
    perfect, iterations)``."""
    s = problem.scenario.placement.emtad
    tau = s.los_probability_threshold
    step = problem.scenario.fleet.grid_step_m
    x0, y0, x1, y1 = problem.box_m
    lo_alt, hi_alt = problem.altitude_m
    lower = np.array([x0, y0, lo_alt])
    upper = np.array([x1, y1, hi_alt])

    def fitness(xyz: FloatArray) -> FloatArray:
        ln = problem.links(xyz, members)
        ok = ln.serves & (~threshold_users[None, :] | (ln.los_probability >= tau - 1e-12))
        share = np.where(ok, ln.share, np.inf).sum(axis=1) if problem.airtime else 0.0
        load = problem.load_ok(np.asarray(share), len(members))
        n_fail = (~ok).sum(axis=1)
        perfect = (n_fail == 0) & np.asarray(load, dtype=bool)
        agg = np.where(ok, ln.rate_bps, 0.0).sum(axis=1)
        return np.asarray(np.where(perfect, agg, -1.0 - n_fail), dtype=np.float64)

    n_p = s.particles
    pick = rng.integers(0, pool_m.shape[0], size=n_p)
    x = pool_m[pick].copy()
    span = np.maximum(pool_m.max(axis=0) - pool_m.min(axis=0), step)
    v = rng.uniform(-0.1, 0.1, size=x.shape) * span
    f = fitness(x)
    pbest, pbest_f = x.copy(), f.copy()
    g = int(np.argmax(f))
    gbest, gbest_f = x[g].copy(), float(f[g])
    stale, done = 0, 0
    for it in range(1, s.iterations + 1):
        done = it
        r1 = rng.uniform(size=x.shape)
        r2 = rng.uniform(size=x.shape)
        v = s.inertia * v + s.cognitive * r1 * (pbest - x) + s.social * r2 * (gbest - x)
        x = np.clip(np.round((x + v) / step) * step, lower, upper)
        f = fitness(x)
        better = f > pbest_f
        pbest[better], pbest_f[better] = x[better], f[better]
        g = int(np.argmax(pbest_f))
        if pbest_f[g] > gbest_f * (1.0 + 1e-12) + 1e-9:
            gbest, gbest_f, stale = pbest[g].copy(), float(pbest_f[g]), 0
        else:
            stale += 1
        if gbest_f >= 0.0 and stale >= s.patience:
            break
    return gbest, gbest_f >= 0.0, done


def run_emtad(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Progress | None = None,
    enforce_fleet: bool = True,
) -> EmtadRun:
    """EMTAD without the final fleet-size check when ``enforce_fleet`` is False (for ``exact``,
    which needs EMTAD's positions even when the fleet is too small for them)."""
    t0 = time.perf_counter()
    say = progress or (lambda _t, _f: None)
    problem = coverage_problem(scenario, city, users)
    s = scenario.placement.emtad
    rng = np.random.default_rng(seed)
    n_u = problem.n_users
    if n_u == 0:
        empty = UserPlacement("emtad", np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
        return EmtadRun(empty, np.zeros((0, 3)))

    say("emtad: coverage spheres (eq. 6)", 0.0)
    heights = height_levels_m(problem, s.height_levels)
    tau = s.los_probability_threshold
    radii_los = coverage_radii_m(problem, heights, los_probability_threshold=tau)
    radii = coverage_radii_m(problem, heights)
    relax = np.asarray(~np.any(radii_los >= 0, axis=1), dtype=bool)
    radii_gen = np.where(relax[:, None], radii, radii_los)
    say("emtad: intersection zones (eq. 8)", 0.2)
    pts = candidate_points(problem, radii_gen, heights, rng)
    links = problem.links(pts)
    threshold_users = np.ones(n_u, dtype=bool)
    good = links.serves & (links.los_probability >= tau - 1e-12)
    no_thr = ~good.any(axis=0)
    threshold_users[no_thr] = False
    cov = np.where(threshold_users[None, :], good, links.serves)
    raise_unreachable(problem, links, where="in the positioning volume")
    notes: list[str] = []
    if np.any(no_thr):
        names = ", ".join(problem.ids[i] for i in np.flatnonzero(no_thr)[:10])
        notes.append(
            f"{int(no_thr.sum())} user(s) ({names}"
            f"{', ...' if no_thr.sum() > 10 else ''}) have no position with LoS probability >= "
            f"{tau:g} that carries their demand; the threshold is relaxed for them"
        )

    stations: list[FloatArray] = []
    assoc = np.full(n_u, -1, dtype=np.int64)
    todo = np.ones(n_u, dtype=bool)
    zone_points: list[FloatArray] = []
    cover_methods: list[str] = []
    tried_total, zones_total, iterations = 0, 0, []
    for _round in range(n_u + 1):
        if not np.any(todo):
            break
        say("emtad: smallest cover of the zones", 0.4)
        cover, how, n_zones, tried = _smallest_cover(
            problem, cov, links.share, links.rate_bps, todo, s.max_combinations
        )
        cover_methods.append(how)
        tried_total += tried
        zones_total += n_zones
        for rep, members in cover:
            if members.size == 0:
                continue
            in_pool = np.all(cov[:, members], axis=1)
            if problem.airtime:
                in_pool &= links.share[:, members].sum(axis=1) <= 1.0 + 1e-9
            if problem.cap is not None:
                in_pool &= members.size <= problem.cap
            pool = pts[in_pool] if np.any(in_pool) else pts[rep][None, :]
            zone_points.append(pts[rep][None, :])
            best, perfect, its = _pso_zone(problem, members, pool, threshold_users[members], rng)
            iterations.append(its)
            if not perfect:
                # keep the users the best position can take; release the others
                ln = problem.links(best[None, :], members)
                ok = ln.serves[0]
                take = _fill(problem, np.where(ok, ln.share[0], np.inf), ok)
                if not np.any(take):
                    continue
                members = members[take]
            assoc[members] = len(stations)
            stations.append(best)
            todo[members] = False
        say(f"emtad: {len(stations)} UAV(s) placed", 0.9)
    if np.any(todo):  # cannot happen: every user has a position serving it alone
        raise InfeasibleError(
            "emtad could not place a UAV for some users",
            {problem.ids[i]: "no zone position kept it within (5c)" for i in np.flatnonzero(todo)},
        )
    xyz = np.array(stations, dtype=np.float64).reshape(-1, 3)
    if enforce_fleet and xyz.shape[0] > scenario.fleet.stations:
        raise_fleet_too_small(problem, xyz.shape[0], assoc, method="emtad")
    radii_table = {
        "heights_m": heights.tolist(),
        "horizontal_radius_m": {problem.ids[i]: radii_gen[i].round(3).tolist() for i in range(n_u)},
        "sphere_radius_m": {
            problem.ids[i]: np.where(
                radii_gen[i] >= 0,
                np.hypot(np.maximum(radii_gen[i], 0), heights - problem.xyz_m[i, 2]),
                -1.0,
            )
            .round(3)
            .tolist()
            for i in range(n_u)
        },
    }
    placement = UserPlacement(
        method="emtad",
        station_xyz_m=xyz,
        association=assoc,
        wall_time_s=time.perf_counter() - t0,
        proven_optimal=None,
        lower_bound=None,
        notes=notes,
        extra={
            "candidate_points": int(pts.shape[0]),
            "zones": zones_total,
            "cover": "+".join(cover_methods),
            "combinations_tried": tried_total,
            "pso_iterations": iterations,
            "spheres": radii_table,
        },
    )
    zp = np.concatenate(zone_points) if zone_points else np.zeros((0, 3))
    return EmtadRun(placement, zp)


def place_emtad(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> UserPlacement:
    """EMTAD (paper 004 Algorithm 1): the fewest UAVs and their 3D positions for the users.

    Coverage spheres per user and height (eq. 6), their intersection zones (eq. 8), the smallest
    set of zones covering every user within the per-UAV limit (eq. 9, (5c)), then PSO inside each
    zone maximising the aggregate throughput (Table II). See the module docstring for every
    reading. Settings: ``scenario.placement.emtad``; the same seed gives the same plan.

    Args:
        scenario: the scenario (radio, fleet limits, positioning volume).
        city: its city.
        users: the users to serve (``scenario.users_in(city)``).
        seed: seed of the run's one random generator (candidate sampling, PSO).
        progress: optional ``progress(text, fraction)`` callback.

    Returns:
        A :class:`~skycell.plan.assignment.UserPlacement` with every user served;
        ``extra`` holds the sphere radii per height, the zone count, the cover method and the
        PSO iterations per zone.

    Raises:
        InfeasibleError: a demand no MCS carries, a user no position serves, or more UAVs
            needed than ``fleet.stations``; every offending user is named with the reason.
    """
    return run_emtad(scenario, city, users, seed=seed, progress=progress).placement
