"""Demand-driven sizing (paper 002 §3.2) and placement by cost-map scan (§3.4): method ``demand``.

Paper 002 (Özbaltan et al., "Three-Dimensional Deployment Optimization of UAVs Using Symbolic
Control...", Drones 9:588, 2025) sizes the fleet in three phases (§3.2, Figure 5):

1. ``n_min = ceil(D / C)``: ``D`` the demand to satisfy, ``C`` the capacity of one drone
   (Table 6: 2000 users). skycell applies it per gathering area: ``n_min_i = ceil(d_i / C)``.
2. When the gathering areas together ask for more drones than are available,
   ``n_i = floor(d_i / sum_j d_j * N_available)``. The floors alone leave up to (areas - 1)
   drones idle; skycell hands those out by the largest fractional part (Hamilton's
   largest-remainder method; ties to the larger demand, then the earlier area), so that
   ``sum_i n_i = N_available`` exactly. An area is never given more than it needs; what a cap
   frees goes to the others by the same rule (:func:`proportional_allocation`).
3. After placement, ``n_i_final = Optim(n_i_updated, floor(d_i / sum_j d_j * N_available))``:
   placement may show that an area needs more drones than capacity alone says
   (``n_i_updated``). skycell's reading of ``Optim``: every area gets ``n_i_updated`` when they
   fit in ``N_available``, otherwise the proportional allocation of phase 2 capped at
   ``n_i_updated``.

Demand ``d_i`` is the number of users in gathering area ``i`` (paper 002 counts users; a per-user
rate demand is still honoured by the association: rate at least the demand, airtime at most one
channel). The capacity ``C`` is ``placement.demand.users_per_drone``, tightened by
``fleet.max_users_per_uav`` and the channels of ``fleet.bandwidth_per_uav_hz`` when those are set.

**Gathering areas** are the scenario's ``areas_of_interest``: a user belongs to the first AOI
whose circle contains it; users in none form one more area, ``(outside)``; with no AOIs all users
form one area, ``(all)``. Each area's drones serve only that area's users.

**Coverage model** (what makes the drone count reflect coverage, not only capacity): a drone
covers a user when the received power ``P_tx + G - PL`` under the scenario's analytic engine
(path-loss model, geometric LoS from the city, antenna patterns) reaches
``placement.demand.receiver_sensitivity_dbm`` (paper 002 Table 3: -100 dBm, 5 W transmitter)
within ``placement.demand.max_range_m`` (Table 3: 500 m), and the link rate carries the user's
demand. Placement (:mod:`skycell.plan.place_costmap`) adds drones one at a time, each serving at
most ``C`` covered users, until every user of the area that any scanned position covers is served:
that count is ``n_i_updated`` of phase 3. When a drone's footprint is smaller than the share
``C`` of the crowd, the count rises above ``ceil(d_i / C)``.

Fewer drones than needed: with ``placement.demand.on_shortage: allocate`` (default, the paper's
answer) the plan keeps the first ``n_i_final`` drones of each area and its notes say which users
are left unserved and why; with ``error`` any unserved user raises
:class:`~skycell.errors.InfeasibleError` listing every such user and the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.errors import InfeasibleError

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.plan.assignment import UserPlacement
    from skycell.scenario import Scenario, User

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = [
    "DemandSizing",
    "GatheringAreas",
    "demand_capacity",
    "demand_sizing",
    "gathering_areas",
    "los_coverage_radius_m",
    "min_drones",
    "place_demand",
    "proportional_allocation",
    "size_scenario",
]

#: Name of the implicit gathering area of users in no AOI, and of all users when there are none.
OUTSIDE_AREA = "(outside)"
ALL_AREA = "(all)"


# ---------------------------------------------------------------------------------------------
# Pure sizing (paper 002 §3.2)
# ---------------------------------------------------------------------------------------------


def min_drones(demand: ArrayLike, users_per_drone: int) -> IntArray:
    """Paper 002 §3.2 phase 1: ``n_min = ceil(D / C)``, elementwise.

    Args:
        demand: demand ``D`` (or ``d_i`` per area) [users], >= 0.
        users_per_drone: capacity ``C`` of one drone [users], >= 1.
    """
    if users_per_drone < 1:
        raise ValueError(f"users_per_drone must be >= 1, got {users_per_drone}")
    d = np.asarray(demand, dtype=np.int64)
    if np.any(d < 0):
        raise ValueError(f"demand must be >= 0 users, got {d.tolist()}")
    return np.asarray(-(-d // users_per_drone), dtype=np.int64)


def proportional_allocation(
    demand: ArrayLike, n_available: int, *, need: ArrayLike | None = None
) -> IntArray:
    """Paper 002 §3.2 phase 2: ``n_i = floor(d_i / sum_j d_j * N_available)``, completed.

    The floors are completed by the largest-remainder rule (Hamilton): the drones the floors
    leave over go one each to the areas with the largest fractional parts ``d_i / sum d * N -
    floor(...)``, ties to the larger demand, then to the earlier area. So, without ``need``, the
    result sums to ``N_available`` (when some demand is positive) and every ``n_i`` is the floor
    or the floor plus one. With ``need``, no area gets more than ``need_i``; the drones a cap
    frees are allocated again, by the same rule, among the areas still short, so the result sums
    to ``min(N_available, sum need)``.

    Args:
        demand: ``(A,)`` demand ``d_i`` per gathering area (>= 0).
        n_available: ``N_available``, drones to distribute (>= 0).
        need: optional ``(A,)`` most drones each area can use.

    Returns:
        ``(A,)`` drones per area.
    """
    d = np.asarray(demand, dtype=np.float64).reshape(-1)
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError(f"demand must be finite and >= 0, got {d.tolist()}")
    if n_available < 0:
        raise ValueError(f"n_available must be >= 0, got {n_available}")
    cap = (
        np.full(d.shape, np.iinfo(np.int64).max, dtype=np.int64)
        if need is None
        else np.asarray(need, dtype=np.int64).reshape(-1)
    )
    if cap.shape != d.shape:
        raise ValueError(f"need has shape {cap.shape}, expected {d.shape}")
    alloc = np.zeros(d.shape, dtype=np.int64)
    left = int(n_available)
    active = (d > 0) & (cap > 0)
    while left > 0 and active.any():  # at most one round per area that hits its cap
        idx = np.flatnonzero(active)
        share = d[idx] / d[idx].sum() * left
        base = np.floor(share + 1e-9).astype(np.int64)
        extra = left - int(base.sum())
        frac = share - base
        order = np.lexsort((idx, -d[idx], -frac))  # largest fraction, larger demand, earlier
        base[order[:extra]] += 1
        give = np.minimum(base, cap[idx] - alloc[idx])
        alloc[idx] += give
        left -= int(give.sum())
        active = (d > 0) & (alloc < cap)
    return alloc


@dataclass(frozen=True)
class DemandSizing:
    """The drone counts of paper 002 §3.2, per gathering area.

    Attributes:
        area_ids: gathering-area names.
        demand: ``(A,)`` demand ``d_i`` [users].
        users_per_drone: capacity ``C`` [users].
        n_available: ``N_available``.
        n_min: ``(A,)`` phase 1, ``ceil(d_i / C)``.
        n_allocated: ``(A,)`` phase 2: ``n_min`` when it fits in ``N_available``, else the
            proportional allocation capped at ``n_min``.
        n_updated: ``(A,)`` drones each area needs after placement (None before placement).
        n_final: ``(A,)`` phase 3 (equals ``n_allocated`` before placement).
    """

    area_ids: tuple[str, ...]
    demand: IntArray
    users_per_drone: int
    n_available: int
    n_min: IntArray
    n_allocated: IntArray
    n_updated: IntArray | None
    n_final: IntArray

    @property
    def lower_bound(self) -> int:
        """``ceil(D / C)`` of the total demand: no plan serving everyone uses fewer drones."""
        return int(min_drones(int(self.demand.sum()), self.users_per_drone))

    @property
    def short(self) -> bool:
        """Whether the areas need more drones than are available (after placement if known)."""
        need = self.n_updated if self.n_updated is not None else self.n_min
        return int(need.sum()) > self.n_available

    def table(self) -> list[dict[str, int | str | None]]:
        """One row per area: ``area``, ``users``, ``n_min``, ``n_allocated``, ``n_updated``,
        ``n_final``."""
        return [
            {
                "area": a,
                "users": int(self.demand[i]),
                "n_min": int(self.n_min[i]),
                "n_allocated": int(self.n_allocated[i]),
                "n_updated": None if self.n_updated is None else int(self.n_updated[i]),
                "n_final": int(self.n_final[i]),
            }
            for i, a in enumerate(self.area_ids)
        ]


def demand_sizing(
    demand: ArrayLike,
    *,
    users_per_drone: int,
    n_available: int,
    n_updated: ArrayLike | None = None,
    area_ids: tuple[str, ...] | None = None,
) -> DemandSizing:
    """Paper 002 §3.2: drones per gathering area, before and (with ``n_updated``) after placement.

    Phase 1 ``n_min_i = ceil(d_i / C)``; phase 2, when ``sum n_min > N_available``, the
    proportional allocation of :func:`proportional_allocation` capped at ``n_min``; phase 3, with
    ``n_updated`` (what placement found each area needs), ``n_updated`` if it fits in
    ``N_available``, else the proportional allocation capped at ``n_updated``. Pure.

    Args:
        demand: ``(A,)`` demand ``d_i`` per area [users].
        users_per_drone: capacity ``C`` [users].
        n_available: ``N_available`` (>= 0).
        n_updated: optional ``(A,)`` drones each area needs after placement.
        area_ids: optional names (default ``area0``, ``area1``, ...).
    """
    d = np.asarray(demand, dtype=np.int64).reshape(-1)
    ids = area_ids if area_ids is not None else tuple(f"area{i}" for i in range(d.size))
    if len(ids) != d.size:
        raise ValueError(f"{len(ids)} area ids for {d.size} demands")
    n_min = min_drones(d, users_per_drone)
    if int(n_min.sum()) <= n_available:
        n_alloc = n_min.copy()
    else:
        n_alloc = proportional_allocation(d, n_available, need=n_min)
    upd: IntArray | None = None
    n_final = n_alloc
    if n_updated is not None:
        upd = np.asarray(n_updated, dtype=np.int64).reshape(-1)
        if upd.shape != d.shape:
            raise ValueError(f"n_updated has shape {upd.shape}, expected {d.shape}")
        if int(upd.sum()) <= n_available:
            n_final = upd.copy()
        else:
            n_final = proportional_allocation(d, n_available, need=upd)
    return DemandSizing(
        area_ids=tuple(ids),
        demand=d,
        users_per_drone=int(users_per_drone),
        n_available=int(n_available),
        n_min=n_min,
        n_allocated=n_alloc,
        n_updated=upd,
        n_final=n_final,
    )


# ---------------------------------------------------------------------------------------------
# From a scenario
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatheringAreas:
    """Users grouped by gathering area.

    Attributes:
        ids: area names (AOI ids, then ``(outside)`` if some user is in no AOI; ``(all)`` when
            the scenario has no AOI).
        weights: ``(A,)`` priority weight ``omega`` of each area (AOI weight; 1 otherwise).
        area_of_user: ``(U,)`` index of each user's area.
    """

    ids: tuple[str, ...]
    weights: FloatArray
    area_of_user: IntArray

    @property
    def demand(self) -> IntArray:
        """``(A,)`` users per area (paper 002's ``d_i``)."""
        return np.bincount(self.area_of_user, minlength=len(self.ids)).astype(np.int64)


def gathering_areas(scenario: Scenario, user_xyz_m: FloatArray) -> GatheringAreas:
    """Assign each user to the first AOI whose circle contains it (module docstring)."""
    xy = np.asarray(user_xyz_m, dtype=np.float64).reshape(-1, 3)[:, :2]
    aois = scenario.areas_of_interest
    if not aois:
        return GatheringAreas((ALL_AREA,), np.ones(1), np.zeros(xy.shape[0], dtype=np.int64))
    centers = np.array([a.center_m for a in aois], dtype=np.float64)
    radii = np.array([a.radius_m for a in aois], dtype=np.float64)
    inside = np.hypot(
        xy[:, None, 0] - centers[None, :, 0], xy[:, None, 1] - centers[None, :, 1]
    ) <= radii[None, :] * (1 + 1e-9)
    any_in = inside.any(axis=1)
    area = np.where(any_in, np.argmax(inside, axis=1), len(aois)).astype(np.int64)
    ids = tuple(a.id for a in aois)
    weights = np.array([a.weight for a in aois], dtype=np.float64)
    if not any_in.all():
        ids = (*ids, OUTSIDE_AREA)
        weights = np.append(weights, 1.0)
    return GatheringAreas(ids, weights, area)


def demand_capacity(scenario: Scenario) -> int:
    """Capacity ``C`` [users]: ``placement.demand.users_per_drone``, tightened by
    :func:`skycell.plan.assignment.users_per_uav_limit` (``fleet.max_users_per_uav``, channels
    of ``fleet.bandwidth_per_uav_hz``) when set."""
    from skycell.plan.assignment import users_per_uav_limit

    c = scenario.placement.demand.users_per_drone
    cap = users_per_uav_limit(scenario)
    return int(c if cap is None else min(c, cap))


def size_scenario(scenario: Scenario, users: tuple[User, ...]) -> DemandSizing:
    """Phases 1-2 of paper 002 §3.2 for a scenario's users, before any placement (what
    ``skycell size`` prints as the demand method's lower bound and allocation)."""
    from skycell.plan.assignment import users_xyz_m

    areas = gathering_areas(scenario, users_xyz_m(users))
    return demand_sizing(
        areas.demand,
        users_per_drone=demand_capacity(scenario),
        n_available=scenario.fleet.stations,
        area_ids=areas.ids,
    )


def los_coverage_radius_m(scenario: Scenario, altitude_m: float) -> float:
    """Horizontal radius [m] of one drone's footprint at ``altitude_m`` under the coverage model
    with line of sight and 0 dBi antennas: where ``P_tx - PL = receiver_sensitivity_dbm`` (or the
    range limit). A figure for reports; placement itself uses the full engine."""
    from skycell.radio.link import max_distance_m
    from skycell.radio.pathloss import path_loss_db

    r = scenario.radio
    s = scenario.placement.demand
    h_user = r.user_height_m
    dh = max(altitude_m - h_user, 1e-6)
    tx = r.link_tx_power_dbm

    def pl(d2: FloatArray) -> FloatArray:
        d2 = np.asarray(d2, dtype=np.float64)
        return path_loss_db(
            r.pathloss_model,
            np.hypot(d2, dh),
            frequency_hz=r.frequency_hz,
            los=np.ones(d2.shape, dtype=bool),
            station_height_m=altitude_m,
            user_height_m=h_user,
            horizontal_distance_m=d2,
            environment=r.environment,
        )

    budget = tx - s.receiver_sensitivity_dbm
    if float(pl(np.zeros(1))[0]) > budget or dh > s.max_range_m:
        return 0.0
    d2 = float(max_distance_m(pl, np.array([budget]), d_min_m=0.0, d_max_m=1e5)[0])
    return float(min(d2, math.sqrt(max(s.max_range_m**2 - dh**2, 0.0))))


# ---------------------------------------------------------------------------------------------
# The method
# ---------------------------------------------------------------------------------------------


def _examples(ids: list[str], k: int = 5) -> str:
    shown = ", ".join(ids[:k])
    return shown + (f", ... ({len(ids) - k} more)" if len(ids) > k else "")


def place_demand(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> UserPlacement:
    """Method ``demand``: paper 002 §3.2 sizing with §3.4 cost-map placement.

    1. Group users into gathering areas and size each: ``n_min_i = ceil(d_i / C)``, proportional
       allocation when ``fleet.stations`` is short (:func:`demand_sizing`).
    2. Per area, place drones one at a time by the cost-map scan
       (:func:`skycell.plan.place_costmap.place_area_costmap`) until every user any scanned
       position covers is served: ``n_i_updated``.
    3. Phase 3 of §3.2: ``n_i_final``; each area keeps the first ``n_i_final`` drones it placed.

    The association respects the capacity ``C``, the per-UAV limits of the scenario, every served
    user's demand and, without ``fleet.bandwidth_per_uav_hz``, one channel's airtime per drone;
    it passes :func:`skycell.plan.assignment.check_placement`. The scan is deterministic: ``seed``
    is accepted for the common method interface and changes nothing.

    Args:
        scenario, city, users: the problem (``users`` as :meth:`Scenario.users_in` returns).
        seed: unused (deterministic method).
        progress: optional ``progress(message, fraction_of_users_served)``.

    Returns:
        The plan; ``lower_bound`` is ``ceil(D / C)``, ``proven_optimal`` is True when the plan
        serves everyone with that many drones; ``extra`` holds the sizing table
        (``sizing``), the per-user reasons of unserved users (``unserved_reasons``) and scalars.

    Raises:
        InfeasibleError: with ``placement.demand.on_shortage: error``, when some user is left
            unserved (every such user and why).
    """
    from skycell.plan.assignment import UserPlacement, users_demand_bps, users_xyz_m
    from skycell.plan.place_costmap import place_area_costmap

    del seed  # deterministic
    t0 = time.perf_counter()
    s = scenario.placement.demand
    xyz = users_xyz_m(users)
    demand_bps = users_demand_bps(users)
    n_users = xyz.shape[0]
    ids = [u.id for u in users]
    capacity = demand_capacity(scenario)
    n_available = scenario.fleet.stations
    areas = gathering_areas(scenario, xyz)
    before = demand_sizing(
        areas.demand, users_per_drone=capacity, n_available=n_available, area_ids=areas.ids
    )

    placed: list[FloatArray] = []
    per_area = []
    served_so_far = 0
    for a, area_id in enumerate(areas.ids):
        members = np.flatnonzero(areas.area_of_user == a)

        def tick(k: int, served: int, _area: str = area_id, _done: int = served_so_far) -> None:
            if progress is not None:
                progress(
                    f"demand: area {_area}: {k} drone(s), {_done + served} of "
                    f"{n_users} users served",
                    (_done + served) / max(n_users, 1),
                )

        res = place_area_costmap(
            scenario,
            city,
            xyz[members],
            demand_bps[members],
            capacity=capacity,
            max_drones=n_available,
            omega=float(areas.weights[a]),
            placed_xyz_m=np.concatenate(placed) if placed else None,
            settings=s,
            progress=tick,
        )
        served_so_far += int(np.sum(res.association >= 0))
        placed.append(res.station_xyz_m)
        per_area.append((members, res))

    n_updated = np.array([res.station_xyz_m.shape[0] for _, res in per_area], dtype=np.int64)
    sizing = demand_sizing(
        areas.demand,
        users_per_drone=capacity,
        n_available=n_available,
        n_updated=n_updated,
        area_ids=areas.ids,
    )

    stations: list[FloatArray] = []
    assoc = np.full(n_users, -1, dtype=np.int64)
    reasons: dict[str, str] = {}
    notes: list[str] = []
    offset = 0
    for a, (members, res) in enumerate(per_area):
        keep = int(sizing.n_final[a])
        local = res.association
        dropped = local >= keep
        kept = (local >= 0) & ~dropped
        assoc[members[kept]] = local[kept] + offset
        stations.append(res.station_xyz_m[:keep])
        offset += keep
        why_short = (
            f"fewer drones than needed: gathering area {areas.ids[a]} needs "
            f"{int(n_updated[a])} drone(s) for its {int(areas.demand[a])} users but gets "
            f"{keep} of the {n_available} available by proportional allocation "
            "(paper 002 §3.2)"
        )
        groups: dict[str, list[str]] = {}
        for i in np.flatnonzero(local < 0):  # unserved users only, to name them
            groups.setdefault(res.reasons[i], []).append(ids[members[i]])
        if dropped.any():
            groups.setdefault(why_short, []).extend(ids[j] for j in members[dropped])
        for why, who in groups.items():
            reasons.update(dict.fromkeys(who, why))
            notes.append(f"{len(who)} user(s) of {areas.ids[a]} unserved ({_examples(who)}): {why}")
    station_xyz = (
        np.concatenate(stations).reshape(-1, 3) if stations else np.zeros((0, 3), dtype=np.float64)
    )

    if reasons and s.on_shortage == "error":
        raise InfeasibleError(
            f"method demand (paper 002): {len(reasons)} of {n_users} users cannot be served "
            f"with {n_available} drone(s) of {capacity} users each",
            reasons,
        )

    n_served = int(np.sum(assoc >= 0))
    k = int(station_xyz.shape[0])
    lower = sizing.lower_bound
    z_lo = scenario.altitude_range_m[0]
    notes.insert(
        0,
        f"paper 002 §3.2: D = {n_users} users, C = {capacity} users per drone, "
        f"ceil(D / C) = {lower}; per area n_min = {before.n_min.tolist()}, "
        f"after placement n_updated = {n_updated.tolist()}, final {sizing.n_final.tolist()} "
        f"of {n_available} available; coverage: received power >= "
        f"{s.receiver_sensitivity_dbm:g} dBm within {s.max_range_m:g} m "
        f"({scenario.radio.pathloss_model}, {scenario.radio.frequency_hz / 1e9:g} GHz, "
        f"{scenario.radio.tx_power_dbm:g} dBm); {k} drone(s) serve {n_served} of {n_users} users",
    )
    radius = los_coverage_radius_m(scenario, z_lo)
    return UserPlacement(
        method="demand",
        station_xyz_m=station_xyz,
        association=assoc,
        wall_time_s=time.perf_counter() - t0,
        proven_optimal=bool(n_served == n_users and k == lower),
        lower_bound=float(lower),
        notes=notes,
        extra={
            "users_per_drone": capacity,
            "n_available": n_available,
            "n_min_total": int(before.n_min.sum()),
            "n_updated_total": int(n_updated.sum()),
            "drone_limit_reached": bool(
                any(r.startswith("fewer drones") for r in reasons.values())
            ),
            "users_served": n_served,
            "los_coverage_radius_m": radius,
            "scan_points": int(sum(res.points for _, res in per_area)),
            "sizing": sizing.table(),
            "unserved_reasons": reasons,
        },
    )
