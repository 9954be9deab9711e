"""Cost-map placement of paper 002 §3.4: scan a 3D grid of path loss, minimise
``C = alpha PL + beta d_u - gamma w``.

Paper 002 (Özbaltan et al., Drones 9:588, 2025) §3.4 samples the designated area ``A`` on a
lattice ``S = {(x_0 + i Δx, y_0 + j Δy, z_0 + k Δz)} ∩ A``, stores the path loss at every sampling
point and sends each UAV ``u`` to the point minimising (§3.4, the cost equation)::

    C(x, y, z) = alpha * PL(x, y, z) + beta * d_u(x, y, z) - gamma * w(x, y, z)

with ``PL`` the path loss at the point, ``d_u`` the Euclidean distance from UAV ``u``'s deployment
origin to the point, ``w`` a priority weight "that reflects the importance of covering the given
location", and ``alpha``, ``beta``, ``gamma`` scalar weights the authors chose empirically. The
paper measures ``PL`` by ray tracing from one fixed base station and does not say how a UAV's
point relates to the users it serves, nor how several UAVs share an area. skycell's reading,
written down here because every step is a choice:

* **Sampling points** ``S``: x-y on a lattice of ``placement.demand.grid_step_m`` anchored at the
  positioning area's south-west corner, restricted to the bounding box of the gathering area's
  users; z over ``scenario.altitude_range_m`` at ``placement.demand.altitude_step_m`` (both ends
  included). Points inside a building, or closer horizontally than ``fleet.building_clearance_m``
  to a building whose roof is above the point, are dropped.
* **Users as cells**: to keep the scan independent of the user count, the area's users are binned
  on a square lattice (``grid_step_m``, doubled until the path-loss table fits the budget
  :data:`MAX_TABLE_ENTRIES`, or :data:`MAX_TABLE_ENTRIES_WITH_BUILDINGS` when line of sight
  must be traced through buildings) and each occupied cell is represented by its users' centroid
  and count. The table ``PL[g, m]`` from every sampling point ``g`` to every cell ``m`` comes
  from the scenario's analytic engine (its path-loss model, geometric LoS from the city, antenna
  patterns with the station facing down), as :func:`skycell.plan.assignment.link_table` computes
  links. The cells only steer the scan: which users a placed UAV serves is decided per user,
  on exact links.
* **Coverage** of a cell from a point: received power ``P_tx - PL >= receiver_sensitivity_dbm``
  (paper 002 Table 3: 5 W, -100 dBm) and 3D distance ``<= max_range_m`` (Table 3: 500 m).
* ``PL(g)`` [dB]: the mean path loss from ``g`` to the users that a UAV at ``g`` would serve: the
  ``min(C, covered)`` not-yet-served users with the lowest path loss (``C`` the capacity in users,
  paper 002 §3.2). A UAV is thus drawn to where it can serve a full load at the lowest loss.
* ``w(g)`` [users]: the AOI weight ``omega`` of the gathering area times the number of
  not-yet-served users a UAV at ``g`` would serve (covered, at most ``C``): the weighted count of
  users whose coverage the point buys.
* ``d_u(g)`` [m]: 3D distance from the fleet's deployment origin (the centre of
  ``fleet.launch_area`` on the ground, else the centre of the map) — paper 002's hub.
* **Several UAVs** (greedy re-weighting): UAVs are placed one at a time; after each, the users it
  serves (exact per-user links, capacity and airtime checked) leave the map, so ``PL`` and ``w``
  of the next scan only see the users still unserved. Points closer horizontally than
  ``fleet.min_separation_m`` to a placed UAV (and the point itself) are excluded.

Units: ``alpha`` [1/dB], ``beta`` [1/m], ``gamma`` [1/user] (``placement.demand``); with the
defaults ``alpha = 1``, ``beta = 0.1``, ``gamma = 1`` one more user served is worth 1 dB of mean
path loss or 10 m of flight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import DemandSettings, Scenario

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

__all__ = [
    "AreaPlacement",
    "CostMap",
    "CostTerms",
    "altitude_levels_m",
    "bin_users",
    "deployment_origin_m",
    "place_area_costmap",
    "placement_cost",
    "scan_points_m",
    "served_path_loss_db",
]

#: Largest path-loss table (sampling points x user cells) kept in memory; the user cells are
#: coarsened (cell side doubled) until the table fits.
MAX_TABLE_ENTRIES: Final[int] = 12_000_000
#: The same with buildings, where every entry needs an exact line-of-sight test (about 3 µs
#: each on one core): 3 M entries take about 10 s.
MAX_TABLE_ENTRIES_WITH_BUILDINGS: Final[int] = 3_000_000
#: Sampling points per engine call when filling the table (bounds the temporaries).
_CHUNK_ENTRIES: Final[int] = 1_000_000
#: Consecutive chosen points that serve nobody (the cell estimate was optimistic) before the
#: area is given up.
_MAX_EMPTY_CLAIMS: Final[int] = 10


# ---------------------------------------------------------------------------------------------
# The sampling lattice S and the user cells
# ---------------------------------------------------------------------------------------------


def altitude_levels_m(min_altitude_m: float, max_altitude_m: float, step_m: float) -> FloatArray:
    """z levels ``z_0 + k Δz`` [m] from ``min_altitude_m`` to ``max_altitude_m``, both included
    (paper 002 §3.4, the sampling set ``S``)."""
    if not step_m > 0:
        raise ValueError(f"step_m must be > 0 [m], got {step_m}")
    lo, hi = float(min_altitude_m), float(max(min_altitude_m, max_altitude_m))
    n = int(np.floor((hi - lo) / step_m + 1e-9)) + 1
    z = lo + step_m * np.arange(n, dtype=np.float64)
    if hi - z[-1] > 1e-9:
        z = np.append(z, hi)
    return z


def scan_points_m(
    city: City,
    *,
    bounds_xy_m: tuple[float, float, float, float],
    anchor_xy_m: tuple[float, float],
    grid_step_m: float,
    altitudes_m: FloatArray,
    building_clearance_m: float = 0.0,
) -> FloatArray:
    """The admissible sampling points ``S`` [m], ``(G, 3)``, z-major (paper 002 §3.4).

    x-y on the lattice ``anchor + (i, j) * grid_step_m`` inside ``bounds_xy_m``
    ``(x_min, y_min, x_max, y_max)``; every level of ``altitudes_m``. Points inside a building, or
    horizontally closer than ``building_clearance_m`` to a building taller than the point, are
    dropped.
    """
    x0, y0, x1, y1 = bounds_xy_m
    ax, ay = anchor_xy_m
    i = np.arange(np.ceil((x0 - ax) / grid_step_m - 1e-9), np.floor((x1 - ax) / grid_step_m) + 1)
    j = np.arange(np.ceil((y0 - ay) / grid_step_m - 1e-9), np.floor((y1 - ay) / grid_step_m) + 1)
    xs = ax + grid_step_m * i
    ys = ay + grid_step_m * j
    if xs.size == 0:  # bounds narrower than a step: the nearest lattice column inside
        xs = np.array([np.clip(ax + grid_step_m * np.round((x0 + x1) / 2 / grid_step_m), x0, x1)])
    if ys.size == 0:
        ys = np.array([np.clip(ay + grid_step_m * np.round((y0 + y1) / 2 / grid_step_m), y0, y1)])
    gx, gy = np.meshgrid(xs, ys, indexing="xy")
    xy = np.column_stack((gx.ravel(), gy.ravel()))
    z = np.asarray(altitudes_m, dtype=np.float64)
    pts = np.column_stack(
        (np.tile(xy, (z.size, 1)), np.repeat(z, xy.shape[0])),
    ).astype(np.float64)
    if len(city.buildings) == 0 or pts.shape[0] == 0:
        return pts
    keep = ~city.inside_building(pts)
    if building_clearance_m > 0:
        for level in z:  # one query per altitude level (a handful), never per point
            on = keep & (pts[:, 2] == level)
            if on.any():
                dist = city.distance_to_buildings_m(pts[on, :2], min_height_m=float(level))
                idx = np.flatnonzero(on)
                keep[idx[dist < building_clearance_m]] = False
    return np.asarray(pts[keep], dtype=np.float64)


def bin_users(
    user_xyz_m: FloatArray, *, anchor_xy_m: tuple[float, float], cell_m: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Bin users on a square lattice of side ``cell_m`` [m].

    Returns:
        ``cell_of_user`` ``(U,)`` index of each user's cell, ``cell_xyz_m`` ``(M, 3)`` centroid of
        each occupied cell's users [m], ``cell_count`` ``(M,)`` users per cell.
    """
    u = np.asarray(user_xyz_m, dtype=np.float64).reshape(-1, 3)
    ij = np.floor((u[:, :2] - np.asarray(anchor_xy_m)) / cell_m).astype(np.int64)
    _, cell_of_user, count = np.unique(ij, axis=0, return_inverse=True, return_counts=True)
    cell_of_user = cell_of_user.reshape(-1).astype(np.int64)
    m = count.size
    centroid = np.column_stack(
        [np.bincount(cell_of_user, weights=u[:, k], minlength=m) / count for k in range(3)]
    )
    return cell_of_user, np.asarray(centroid, dtype=np.float64), count.astype(np.float64)


def deployment_origin_m(scenario: Scenario) -> FloatArray:
    """Where the UAVs start (paper 002's hub), ``(3,)`` [m]: the centre of ``fleet.launch_area`` on
    the ground, else the centre of the map."""
    a = scenario.fleet.launch_area or scenario.area
    return np.array(
        [(a.x_min_m + a.x_max_m) / 2.0, (a.y_min_m + a.y_max_m) / 2.0, 0.0], dtype=np.float64
    )


# ---------------------------------------------------------------------------------------------
# The cost C = alpha PL + beta d_u - gamma w (pure, vectorised over sampling points)
# ---------------------------------------------------------------------------------------------


def served_path_loss_db(
    path_loss_sorted_db: NDArray[np.floating],
    count_sorted: NDArray[np.floating],
    capacity: float,
) -> tuple[FloatArray, FloatArray]:
    """Mean path loss to, and number of, the users a UAV at each point would serve.

    Each row ``g`` lists the user cells a UAV at sampling point ``g`` covers, in increasing path
    loss (uncovered cells carry count 0). The UAV serves the first ``capacity`` users of its row
    (the last cell possibly in part). Vectorised: a cumulative sum per row.

    Args:
        path_loss_sorted_db: ``(G, M)`` path loss to each cell, ascending per row [dB] (any
            finite value where the count is 0).
        count_sorted: ``(G, M)`` users still to serve in each cell, same order.
        capacity: users one UAV can serve (paper 002 §3.2: C).

    Returns:
        ``(mean_path_loss_db, served)``, each ``(G,)``; the mean is ``inf`` where nobody is served.
    """
    cum = np.cumsum(count_sorted, axis=1)
    take = np.clip(capacity - (cum - count_sorted), 0.0, count_sorted)
    served = take.sum(axis=1, dtype=np.float64)
    loss_sum = np.einsum("gm,gm->g", take, path_loss_sorted_db, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(served > 0, loss_sum / np.where(served > 0, served, 1.0), np.inf)
    return np.asarray(mean, dtype=np.float64), np.asarray(served, dtype=np.float64)


def placement_cost(
    path_loss_db: FloatArray,
    origin_distance_m: FloatArray,
    weight: FloatArray,
    *,
    alpha: float,
    beta: float,
    gamma: float,
) -> FloatArray:
    """Paper 002 §3.4: ``C = alpha PL + beta d_u - gamma w`` (``inf`` where ``PL`` is ``inf``).

    Args:
        path_loss_db: ``PL`` at each sampling point [dB].
        origin_distance_m: ``d_u``, distance from the UAV's deployment origin [m].
        weight: ``w``, priority weight of covering the point [users, AOI-weighted].
        alpha, beta, gamma: the paper's scalar weights [1/dB], [1/m], [1/user].
    """
    pl = np.asarray(path_loss_db, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        cost = (
            alpha * np.where(np.isfinite(pl), pl, 0.0) + beta * origin_distance_m - gamma * weight
        )
    return np.asarray(np.where(np.isfinite(pl), cost, np.inf), dtype=np.float64)


@dataclass(frozen=True)
class CostTerms:
    """The terms of the cost at every sampling point, ``(G,)`` each.

    Attributes:
        path_loss_db: ``PL``: mean path loss to the users a UAV there would serve [dB].
        served: users it would serve (covered, not yet served, at most ``C``).
        weight: ``w = omega * served`` [users].
        origin_distance_m: ``d_u`` [m].
        cost: ``C`` (``inf`` where nobody would be served or the point is excluded).
    """

    path_loss_db: FloatArray
    served: FloatArray
    weight: FloatArray
    origin_distance_m: FloatArray
    cost: FloatArray


class CostMap:
    """The scanned path-loss table of one gathering area and its cost, point by point.

    Built once per area (``PL[g, m]`` from every sampling point to every user cell, sorted per
    point); :meth:`terms` then evaluates the cost for any set of users still to serve in
    ``O(G M)`` array operations, no loop over points or users.

    Args:
        points_xyz_m: ``(G, 3)`` sampling points [m].
        cell_xyz_m: ``(M, 3)`` user-cell centroids [m].
        path_loss_db: ``(G, M)`` path loss (engine path gain, negated) [dB].
        covered: ``(G, M)`` whether a UAV at ``g`` covers cell ``m``.
        origin_xyz_m: ``(3,)`` deployment origin [m].
    """

    def __init__(
        self,
        points_xyz_m: FloatArray,
        cell_xyz_m: FloatArray,
        path_loss_db: FloatArray,
        covered: BoolArray,
        origin_xyz_m: FloatArray,
    ) -> None:
        self.points_xyz_m = np.asarray(points_xyz_m, dtype=np.float64)
        self.cell_xyz_m = np.asarray(cell_xyz_m, dtype=np.float64)
        pl = np.where(covered, path_loss_db, np.inf)
        self.order = np.argsort(pl, axis=1, kind="stable").astype(np.int32)
        pl_sorted = np.take_along_axis(pl, self.order, axis=1)
        self.covered_sorted = np.isfinite(pl_sorted)
        self.path_loss_sorted_db = np.where(self.covered_sorted, pl_sorted, 0.0).astype(np.float32)
        self.min_path_loss_db = np.asarray(path_loss_db, dtype=np.float64).min(axis=0)
        self.coverable: BoolArray = np.asarray(covered.any(axis=0), dtype=bool)
        self.origin_distance_m = np.linalg.norm(
            self.points_xyz_m - np.asarray(origin_xyz_m, dtype=np.float64), axis=1
        )

    def terms(
        self,
        remaining_count: FloatArray,
        *,
        capacity: float,
        omega: float,
        alpha: float,
        beta: float,
        gamma: float,
        excluded: BoolArray | None = None,
    ) -> CostTerms:
        """``PL``, ``w``, ``d_u`` and ``C`` at every point for ``remaining_count`` ``(M,)`` users
        still to serve per cell."""
        cnt = np.asarray(remaining_count, dtype=np.float32)[self.order]
        cnt *= self.covered_sorted
        pl, served = served_path_loss_db(self.path_loss_sorted_db, cnt, capacity)
        weight = omega * served
        cost = placement_cost(
            pl, self.origin_distance_m, weight, alpha=alpha, beta=beta, gamma=gamma
        )
        if excluded is not None:
            cost = np.where(excluded, np.inf, cost)
        return CostTerms(pl, served, weight, self.origin_distance_m, cost)


# ---------------------------------------------------------------------------------------------
# One gathering area, UAV after UAV
# ---------------------------------------------------------------------------------------------


@dataclass
class AreaPlacement:
    """The UAVs placed for one gathering area, in the order they were placed.

    Attributes:
        station_xyz_m: ``(K, 3)`` positions [m]; the first ``k`` are the plan with ``k`` UAVs.
        association: ``(U,)`` index of each of the area's users into ``station_xyz_m``, -1 if
            no placed UAV serves it.
        reasons: ``(U,)`` why each unserved user is unserved ("" for served users).
        cost: ``(K,)`` cost ``C`` of each chosen point.
        cell_m: side of the user cells the scan used [m].
        points: number of sampling points scanned.
    """

    station_xyz_m: FloatArray
    association: IntArray
    reasons: list[str] = field(default_factory=list)
    cost: FloatArray = field(default_factory=lambda: np.zeros(0))
    cell_m: float = 0.0
    points: int = 0


def _link_rx(
    scenario: Scenario, city: City, station_xyz_m: FloatArray, user_xyz_m: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Path loss [dB], received power [dBm] and rate [bit/s] of the links from one station to
    users, exactly as :func:`skycell.plan.assignment.link_table` (and so ``check_placement``)
    computes them."""
    from skycell.plan.assignment import link_table

    table = link_table(scenario, city, station_xyz_m.reshape(1, 3), user_xyz_m)
    r = scenario.radio
    tx = r.link_tx_power_dbm
    pl = table.path_loss_db[0]
    return pl, tx - pl, table.rate_bps[0]


def _scan_table(
    scenario: Scenario,
    city: City,
    points: FloatArray,
    cells: FloatArray,
    *,
    sensitivity_dbm: float,
    max_range_m: float,
) -> tuple[FloatArray, BoolArray]:
    """``(G, M)`` path loss [dB] (negated engine path gain) and coverage (received power at least
    ``sensitivity_dbm`` within ``max_range_m``), filled in chunks of points."""
    from skycell.plan.pipeline import make_engine

    engine = make_engine(scenario, city)
    r = scenario.radio
    tx = r.link_tx_power_dbm
    pl = np.empty((points.shape[0], cells.shape[0]), dtype=np.float64)
    covered = np.empty(pl.shape, dtype=bool)
    step = max(1, _CHUNK_ENTRIES // max(1, cells.shape[0]))
    for s in range(0, points.shape[0], step):  # chunks of points bound the (N, U, 3) temporaries
        p = points[s : s + step]
        loss = -engine.path_gain_db(
            p, cells, azimuth_deg=np.zeros(p.shape[0]), tilt_deg=np.full(p.shape[0], 90.0)
        )
        d3 = np.linalg.norm(p[:, None, :] - cells[None, :, :], axis=-1)
        pl[s : s + step] = loss
        covered[s : s + step] = (tx - loss >= sensitivity_dbm) & (d3 <= max_range_m)
    return pl, covered


def place_area_costmap(
    scenario: Scenario,
    city: City,
    user_xyz_m: FloatArray,
    demand_bps: FloatArray,
    *,
    capacity: int,
    max_drones: int,
    omega: float = 1.0,
    placed_xyz_m: FloatArray | None = None,
    settings: DemandSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AreaPlacement:
    """Place UAVs for one gathering area by repeated cost-map scans (paper 002 §3.4).

    Each round scans every admissible sampling point, moves a UAV to the point of least
    ``C = alpha PL + beta d_u - gamma w`` (module docstring) and gives it the users it serves
    best: covered (received power at least the sensitivity, within the range), rate at least
    the demand, in increasing path loss, at most ``capacity`` users and, without
    ``fleet.bandwidth_per_uav_hz``, at most one channel's airtime (``sum D / R <= 1``). Rounds
    continue until every user is served, no point covers anyone still unserved, or
    ``max_drones`` UAVs are placed. Deterministic.

    Args:
        scenario, city: the problem.
        user_xyz_m: ``(U, 3)`` the area's users [m].
        demand_bps: ``(U,)`` their demands [bit/s] (0: best effort).
        capacity: users per UAV (paper 002 §3.2: C).
        max_drones: most UAVs to place.
        omega: the area's priority weight (AOI weight), scaling ``w``.
        placed_xyz_m: ``(P, 3)`` UAVs already placed elsewhere, kept apart by
            ``fleet.min_separation_m``.
        settings: ``placement.demand`` (default: the scenario's).
        progress: ``progress(placed, users_served)`` after each UAV.
    """
    s = settings if settings is not None else scenario.placement.demand
    users = np.asarray(user_xyz_m, dtype=np.float64).reshape(-1, 3)
    demand = np.asarray(demand_bps, dtype=np.float64).reshape(-1)
    n_users = users.shape[0]
    assoc = np.full(n_users, -1, dtype=np.int64)
    empty = AreaPlacement(np.zeros((0, 3)), assoc, [""] * n_users)
    if n_users == 0 or max_drones <= 0:
        if max_drones <= 0:
            empty.reasons = ["no drone available for its gathering area"] * n_users
        return empty

    f = scenario.fleet
    pos = f.positioning_area or scenario.area
    anchor = (pos.x_min_m, pos.y_min_m)
    lo = users[:, :2].min(axis=0)
    hi = users[:, :2].max(axis=0)
    bounds = (
        max(float(lo[0]), pos.x_min_m),
        max(float(lo[1]), pos.y_min_m),
        min(float(hi[0]), pos.x_max_m),
        min(float(hi[1]), pos.y_max_m),
    )
    if bounds[0] > bounds[2] or bounds[1] > bounds[3]:  # users outside the positioning area
        bounds = (pos.x_min_m, pos.y_min_m, pos.x_max_m, pos.y_max_m)
    z_lo, z_hi = scenario.altitude_range_m
    points = scan_points_m(
        city,
        bounds_xy_m=bounds,
        anchor_xy_m=anchor,
        grid_step_m=s.grid_step_m,
        altitudes_m=altitude_levels_m(z_lo, z_hi, s.altitude_step_m),
        building_clearance_m=f.building_clearance_m,
    )
    if points.shape[0] == 0:
        empty.reasons = [
            "no admissible position to scan: every grid point of its area is inside or too close "
            "to a building"
        ] * n_users
        return empty

    cell_m = s.grid_step_m
    cell_of_user, cells, _ = bin_users(users, anchor_xy_m=anchor, cell_m=cell_m)
    budget = MAX_TABLE_ENTRIES_WITH_BUILDINGS if len(city.buildings) else MAX_TABLE_ENTRIES
    while points.shape[0] * cells.shape[0] > budget and cells.shape[0] > 1:
        cell_m *= 2.0
        cell_of_user, cells, _ = bin_users(users, anchor_xy_m=anchor, cell_m=cell_m)

    pl, covered = _scan_table(
        scenario,
        city,
        points,
        cells,
        sensitivity_dbm=s.receiver_sensitivity_dbm,
        max_range_m=s.max_range_m,
    )
    r = scenario.radio
    tx = r.link_tx_power_dbm
    cmap = CostMap(points, cells, pl, covered, deployment_origin_m(scenario))
    del pl, covered

    excluded = np.zeros(points.shape[0], dtype=bool)
    sep = f.min_separation_m

    def exclude_near(xyz: FloatArray) -> None:
        for p in np.asarray(xyz, dtype=np.float64).reshape(-1, 3):  # one pass per placed UAV
            excluded[np.hypot(points[:, 0] - p[0], points[:, 1] - p[1]) < sep] = True
            excluded[np.all(points == p, axis=1)] = True

    if placed_xyz_m is not None:
        exclude_near(placed_xyz_m)

    airtime = f.bandwidth_per_uav_hz is None
    remaining = np.ones(n_users, dtype=bool)
    stations: list[FloatArray] = []
    costs: list[float] = []
    empty_claims = 0
    stop_reason = ""
    while remaining.any():
        if len(stations) >= max_drones:
            stop_reason = (
                f"fewer drones than needed: all {max_drones} drone(s) available are placed and "
                "full, and a further drone could still cover it"
            )
            break
        count = np.bincount(cell_of_user[remaining], minlength=cells.shape[0])
        t = cmap.terms(
            count.astype(np.float64),
            capacity=capacity,
            omega=omega,
            alpha=s.alpha,
            beta=s.beta,
            gamma=s.gamma,
            excluded=excluded,
        )
        g = int(np.argmin(t.cost))
        if not np.isfinite(t.cost[g]):
            stop_reason = "separation"
            break
        p = points[g]
        idx = np.flatnonzero(remaining)
        pl_u, rx_u, rate_u = _link_rx(scenario, city, p, users[idx])
        d_u = np.linalg.norm(users[idx] - p, axis=1)
        ok = (rx_u >= s.receiver_sensitivity_dbm) & (d_u <= s.max_range_m) & (rate_u >= demand[idx])
        ok &= (rate_u > 0) | (demand[idx] <= 0)
        cand = np.flatnonzero(ok)
        cand = cand[np.argsort(pl_u[cand], kind="stable")][:capacity]
        if airtime and cand.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(demand[idx[cand]] > 0, demand[idx[cand]] / rate_u[cand], 0.0)
            cand = cand[np.cumsum(share) <= 1.0 + 1e-12]
        excluded[g] = True
        if cand.size == 0:
            empty_claims += 1
            if empty_claims >= _MAX_EMPTY_CLAIMS:
                stop_reason = "estimate"
                break
            continue
        empty_claims = 0
        chosen = idx[cand]
        assoc[chosen] = len(stations)
        remaining[chosen] = False
        stations.append(p.copy())
        costs.append(float(t.cost[g]))
        exclude_near(p)
        if progress is not None:
            progress(len(stations), int(n_users - remaining.sum()))

    reasons = [""] * n_users
    if remaining.any():
        sens = s.receiver_sensitivity_dbm
        best_rx = tx - cmap.min_path_loss_db[cell_of_user]
        reach = cmap.coverable[cell_of_user]
        for i in np.flatnonzero(remaining):  # only the unserved users, to word their reason
            if not reach[i]:
                reasons[i] = (
                    f"out of coverage: no scanned position (x-y step {s.grid_step_m:g} m, "
                    f"altitudes {z_lo:g}-{z_hi:g} m) gives it {sens:g} dBm within "
                    f"{s.max_range_m:g} m (best about {best_rx[i]:.1f} dBm)"
                )
            elif stop_reason == "separation":
                reasons[i] = (
                    f"every position that covers it is taken: within fleet.min_separation_m "
                    f"({sep:g} m) of another drone"
                )
            elif stop_reason.startswith("fewer"):
                reasons[i] = stop_reason
            else:
                need = f"its demand ({demand[i] / 1e6:g} Mbit/s)" if demand[i] > 0 else "it"
                reasons[i] = (
                    f"no scanned drone position was found that serves {need} above {sens:g} dBm "
                    "within the airtime of one channel"
                )
    return AreaPlacement(
        station_xyz_m=np.asarray(stations, dtype=np.float64).reshape(-1, 3),
        association=assoc,
        reasons=reasons,
        cost=np.asarray(costs, dtype=np.float64),
        cell_m=float(cell_m),
        points=int(points.shape[0]),
    )
