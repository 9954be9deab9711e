"""Flyable paths and references: the planned routes turned into straight legs that keep the
building clearance with the controller's tube, time-parametrised references and departure
delays that keep the stations apart.

Clearance, in 3-D: a drone flying at altitude ``h`` keeps its vertical error below ``E_z`` (the
z invariant), so every building taller than ``h - E_z - c_b`` is an obstacle that must stay
``c_b`` away horizontally, and every lower one is at least ``c_b`` below. A reference that
keeps ``r = c_b + tube_h`` horizontally from the obstacles' footprints (``tube_h`` the
controller's horizontal tube, :attr:`skycell.flight.cascade.ControllerSpecs.horizontal_tube_m`)
therefore keeps the drone ``c_b`` from every building, by construction.

Paths: the station's planned route (paper 000's gradient iterates) is the guide; its points
that keep ``r`` are linked by straight legs where those keep ``r`` too, and around the stretches
that do not, a shortest path on a 2 m clearance grid (Dijkstra, 8-neighbour; cells nearer than
``c_b`` plus a cell are forbidden, those nearer than ``r`` plus 3 cells cost 100 times more,
margins for the raster's error) replaces it. The result is
shortened by string pulling with exact segment-to-footprint distances (shapely), so every leg is
checked exactly. A hover point nearer than ``r`` to an obstacle is moved to the nearest point
that keeps ``r`` (reported). A route with one point (user-driven plans) is flown from a start
in the launch area.

References: the drone flies leg by leg (waypoint to waypoint, paper 002 §3.3's desired points),
each leg a trapezoidal speed profile (acceleration ``A``, cruise ``V``) from rest to rest,
smoothed by a 0.5 s box filter (jerk bounded, dwells at the waypoints), so the reference moves
only along the straight legs and its acceleration never exceeds ``A``.
Departures are delayed, station by station in order, until every pair of references stays
``d_sep + 2 tube`` apart at all times (the drones then keep ``d_sep``).
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from skycell.errors import SkycellError

if TYPE_CHECKING:
    from skycell.city.buildings import City

FloatArray = NDArray[np.float64]

#: Grid cell of the clearance map [m].
GRID_CELL_M = 2.0
#: Extra cost factor of grid cells between ``c_b`` and the required clearance.
BAND_COST = 100.0


@dataclass(frozen=True, eq=False)
class ObstacleMap:
    """The buildings that matter at one flight altitude, and the clearance a reference needs.

    Attributes:
        city: the city.
        altitude_m: flight altitude [m].
        clearance_m: ``c_b``, the clearance the drone must keep [m].
        tube_horizontal_m: the controller's horizontal tube [m].
        tube_vertical_m: the controller's vertical tube ``E_z`` [m].
    """

    city: City
    altitude_m: float
    clearance_m: float
    tube_horizontal_m: float
    tube_vertical_m: float

    @property
    def min_height_m(self) -> float:
        """Buildings taller than this are obstacles at this altitude [m]."""
        return self.altitude_m - self.tube_vertical_m - self.clearance_m

    @property
    def required_m(self) -> float:
        """Horizontal clearance a reference must keep from obstacle footprints [m]."""
        return self.clearance_m + self.tube_horizontal_m

    def clearance(self, xy_m: FloatArray) -> FloatArray:
        """Exact horizontal distance [m] from points ``(P, 2)`` to the obstacles' footprints."""
        return self.city.distance_to_buildings_m(
            xy_m, method="polygon", min_height_m=self.min_height_m
        )

    def segment_clearance(self, a_xy_m: FloatArray, b_xy_m: FloatArray) -> FloatArray:
        """Exact horizontal distance [m] from segments to the obstacles' footprints."""
        return self.city.segment_clearance_m(a_xy_m, b_xy_m, min_height_m=self.min_height_m)

    @cached_property
    def grid(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(x_m, y_m, distance_m)``: cell centres and the distance of each cell centre to the
        nearest obstacle cell (a conservative raster of the clearance, built once)."""
        from scipy import ndimage

        x0, y0, x1, y1 = self.city.bounds_m
        xs = np.arange(x0 + GRID_CELL_M / 2, x1, GRID_CELL_M)
        ys = np.arange(y0 + GRID_CELL_M / 2, y1, GRID_CELL_M)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        heights = self.city.height_at(np.column_stack([gx.ravel(), gy.ravel()]))
        occupied = (heights > self.min_height_m).reshape(gx.shape)
        dist = np.asarray(ndimage.distance_transform_edt(~occupied)) * GRID_CELL_M
        return xs, ys, dist


@dataclass(frozen=True)
class FlightPath:
    """A station's flyable path.

    Attributes:
        waypoints_m: ``(K, 3)`` the legs' ends [m], all at the flight altitude.
        goal_shift_m: how far the hover point was moved to keep the clearance [m].
        repaired: whether stretches of the planned route were replaced.
        min_clearance_m: smallest exact horizontal clearance of the legs from the obstacles [m].
        notes: what was changed and why.
    """

    waypoints_m: FloatArray
    goal_shift_m: float
    repaired: bool
    min_clearance_m: float
    notes: tuple[str, ...] = ()

    @property
    def length_m(self) -> float:
        """Path length [m]."""
        return float(np.linalg.norm(np.diff(self.waypoints_m, axis=0), axis=1).sum())


def _grid_index(obs: ObstacleMap, xy: FloatArray) -> tuple[int, int]:
    xs, ys, _ = obs.grid
    i = int(np.clip(np.rint((xy[0] - xs[0]) / GRID_CELL_M), 0, xs.size - 1))
    j = int(np.clip(np.rint((xy[1] - ys[0]) / GRID_CELL_M), 0, ys.size - 1))
    return i, j


def nearest_clear_point(obs: ObstacleMap, xy_m: FloatArray, *, required_m: float) -> FloatArray:
    """The point nearest to ``xy_m`` whose exact clearance is at least ``required_m``.

    Raises:
        SkycellError: none within 300 m.
    """
    p = np.asarray(xy_m, dtype=np.float64).reshape(2)
    if float(obs.clearance(p[None])[0]) >= required_m:
        return p
    xs, ys, dist = obs.grid
    ci, cj = _grid_index(obs, p)
    r = int(300.0 / GRID_CELL_M)
    sl = (slice(max(ci - r, 0), ci + r + 1), slice(max(cj - r, 0), cj + r + 1))
    sub = dist[sl]
    cand = np.argwhere(sub >= required_m + GRID_CELL_M)
    if cand.size == 0:
        raise SkycellError(
            f"no point within 300 m of ({p[0]:.1f}, {p[1]:.1f}) keeps {required_m:.1f} m from "
            "the buildings at this altitude; the station cannot hover there"
        )
    pts = np.column_stack([xs[sl[0]][cand[:, 0]], ys[sl[1]][cand[:, 1]]])
    order = np.argsort(np.hypot(*(pts - p).T))
    for k in order[:200]:
        # move from p towards the candidate until the exact clearance is met
        q = pts[k]
        ts = np.linspace(0.0, 1.0, 41)
        line = p[None, :] + ts[:, None] * (q - p)[None, :]
        ok = obs.clearance(line) >= required_m
        if ok.any():
            return np.asarray(line[int(np.argmax(ok))])
    return np.asarray(pts[order[0]])


def grid_path(obs: ObstacleMap, a_xy: FloatArray, b_xy: FloatArray) -> FloatArray:
    """Shortest 8-neighbour path on the clearance grid from ``a`` to ``b`` (both included as
    exact end points), avoiding cells nearer than ``c_b`` and penalising those nearer than the
    required clearance; searched in a window around the two points (grown if needed).

    Raises:
        SkycellError: no path exists.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    xs, ys, dist = obs.grid
    a = np.asarray(a_xy, dtype=np.float64)
    b = np.asarray(b_xy, dtype=np.float64)
    ia, ja = _grid_index(obs, a)
    ib, jb = _grid_index(obs, b)
    # raster distances can exceed the exact ones by about a cell: keep margins of cells
    hard = obs.clearance_m + GRID_CELL_M
    soft = obs.required_m + 3.0 * GRID_CELL_M
    for margin_m in (200.0, 600.0, 2000.0):
        m = int(margin_m / GRID_CELL_M)
        i0, i1 = max(min(ia, ib) - m, 0), min(max(ia, ib) + m, xs.size - 1)
        j0, j1 = max(min(ja, jb) - m, 0), min(max(ja, jb) + m, ys.size - 1)
        d = dist[i0 : i1 + 1, j0 : j1 + 1]
        free = d >= hard
        free[ia - i0, ja - j0] = True
        free[ib - i0, jb - j0] = True
        weight = np.where(d >= soft, 1.0, BAND_COST)
        ni, nj = d.shape
        idx = np.arange(ni * nj).reshape(ni, nj)
        rows, cols, vals = [], [], []
        for di, dj in ((1, 0), (0, 1), (1, 1), (1, -1)):
            src = idx[max(0, -di) : ni - max(0, di), max(0, -dj) : nj - max(0, dj)]
            dst = idx[max(0, di) : ni - max(0, -di), max(0, dj) : nj - max(0, -dj)]
            ok = free.ravel()[src.ravel()] & free.ravel()[dst.ravel()]
            length = math.hypot(di, dj) * GRID_CELL_M
            w = 0.5 * (weight.ravel()[src.ravel()] + weight.ravel()[dst.ravel()]) * length
            rows.append(src.ravel()[ok])
            cols.append(dst.ravel()[ok])
            vals.append(w[ok])
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        v = np.concatenate(vals)
        graph = coo_matrix(
            (np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))),
            shape=(ni * nj, ni * nj),
        ).tocsr()
        start = int(idx[ia - i0, ja - j0])
        goal = int(idx[ib - i0, jb - j0])
        dist_to, pred = dijkstra(graph, indices=start, return_predecessors=True)
        if np.isfinite(dist_to[goal]):
            chain = [goal]
            while chain[-1] != start:
                chain.append(int(pred[chain[-1]]))
            cells = np.array(chain[::-1])
            ci, cj = np.divmod(cells, nj)
            pts = np.column_stack([xs[i0 + ci], ys[j0 + cj]])
            pts[0], pts[-1] = a, b
            return np.asarray(pts)
    raise SkycellError(
        f"no path keeps {obs.clearance_m:g} m from the buildings between "
        f"({a[0]:.0f}, {a[1]:.0f}) and ({b[0]:.0f}, {b[1]:.0f}) at {obs.altitude_m:g} m"
    )


def string_pull(obs: ObstacleMap, points: FloatArray, *, required_m: float) -> FloatArray:
    """Shorten a polyline ``(P, 2)``: from each kept point jump to the farthest later point
    that a straight leg reaches with exact clearance ``>= required_m`` (``>= min(required_m,
    clearance of the start)`` for the first leg, so a start nearer than ``required_m`` may
    leave); the next point when none does (such legs show in the path's ``min_clearance_m``)."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[0] <= 2:
        return p
    keep = [0]
    i = 0
    start_clr = float(obs.clearance(p[:1])[0])
    while i < p.shape[0] - 1:
        later = np.arange(i + 1, p.shape[0])
        clr = obs.segment_clearance(np.repeat(p[i : i + 1], later.size, axis=0), p[later])
        thr = (min(required_m, start_clr) if i == 0 else required_m) - 1e-6
        ok = np.flatnonzero(clr >= thr)
        j = int(later[ok.max()]) if ok.size else i + 1
        keep.append(j)
        i = j
    return p[keep]


def plan_path(
    obs: ObstacleMap,
    start_xy_m: FloatArray,
    goal_xy_m: FloatArray,
    *,
    guide_xy_m: FloatArray | None = None,
) -> FlightPath:
    """A flyable path from a start to a hover point following an optional guide (the planned
    route); see the module docstring."""
    notes: list[str] = []
    start = np.asarray(start_xy_m, dtype=np.float64).reshape(2)
    goal_planned = np.asarray(goal_xy_m, dtype=np.float64).reshape(2)
    req = obs.required_m
    start_clr = float(obs.clearance(start[None])[0])
    if start_clr < obs.clearance_m:
        raise SkycellError(
            f"the start ({start[0]:.1f}, {start[1]:.1f}) is only {start_clr:.1f} m from a "
            f"building taller than {obs.min_height_m:.0f} m (needs {obs.clearance_m:g} m)"
        )
    goal = nearest_clear_point(obs, goal_planned, required_m=req)
    shift = float(np.hypot(*(goal - goal_planned)))
    if shift > 1e-6:
        notes.append(
            f"hover point moved {shift:.1f} m to keep {req:.1f} m from the buildings "
            f"(c_b {obs.clearance_m:g} m + tube {obs.tube_horizontal_m:.2f} m); it was "
            f"{float(obs.clearance(goal_planned[None])[0]):.1f} m away"
        )
    guide = np.vstack([start, goal]) if guide_xy_m is None else np.asarray(guide_xy_m, float)
    guide = np.vstack([start, guide[1:-1] if guide.shape[0] > 2 else guide[:0], goal])
    clr = obs.clearance(guide)
    good = clr >= req
    good[0] = good[-1] = True
    anchors = np.flatnonzero(good)
    pieces: list[FloatArray] = [guide[:1]]
    repaired = False
    for a, b in itertools.pairwise(anchors):
        thr = min(req, float(clr[a])) if a == 0 else req
        if b == a + 1:
            leg = float(obs.segment_clearance(guide[a : a + 1], guide[b : b + 1])[0])
            if leg >= thr - 1e-6:
                pieces.append(guide[b : b + 1])
                continue
        # the guide comes too close between two clear points: plan around it
        pieces.append(grid_path(obs, guide[a], guide[b])[1:])
        repaired = True
    dense = np.vstack(pieces)
    legs = string_pull(obs, dense, required_m=req)
    if repaired:
        notes.append(
            f"stretches of the planned route came nearer than {req:.1f} m to buildings at "
            f"{obs.altitude_m:g} m; replaced by clearance-grid detours"
        )
    leg_clr = obs.segment_clearance(legs[:-1], legs[1:]) if legs.shape[0] > 1 else np.array([])
    min_clr = float(leg_clr.min()) if leg_clr.size else float(obs.clearance(legs)[0])
    z = np.full((legs.shape[0], 1), obs.altitude_m)
    return FlightPath(
        waypoints_m=np.hstack([legs, z]),
        goal_shift_m=shift,
        repaired=repaired,
        min_clearance_m=min_clr,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------- references


@dataclass(frozen=True)
class LegProfile:
    """Trapezoidal (or triangular) speed profile of one leg, rest to rest.

    Attributes:
        start_m, end_m: ``(3,)`` leg ends [m].
        speed_m_s: cruise speed reached [m/s].
        accel_m_s2: acceleration and deceleration [m/s^2].
        duration_s: time from rest to rest [s].
    """

    start_m: FloatArray
    end_m: FloatArray
    speed_m_s: float
    accel_m_s2: float
    duration_s: float

    @classmethod
    def build(
        cls, start_m: FloatArray, end_m: FloatArray, *, speed_m_s: float, accel_m_s2: float
    ) -> LegProfile:
        """The fastest profile within ``speed_m_s`` and ``accel_m_s2``."""
        length = float(np.linalg.norm(np.asarray(end_m) - np.asarray(start_m)))
        v = min(speed_m_s, math.sqrt(max(length, 0.0) * accel_m_s2))
        duration = 0.0 if length == 0 else length / v + v / accel_m_s2
        return cls(np.asarray(start_m, float), np.asarray(end_m, float), v, accel_m_s2, duration)

    def sample(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Position, velocity and acceleration ``(T, 3)`` at times since the leg's start
        (clipped to the leg)."""
        t = np.clip(np.asarray(t_s, dtype=np.float64), 0.0, self.duration_s)
        d = self.end_m - self.start_m
        length = float(np.linalg.norm(d))
        if length == 0.0:
            z = np.zeros((t.size, 3))
            return np.tile(self.start_m, (t.size, 1)), z, z
        u = d / length
        v, a, tt = self.speed_m_s, self.accel_m_s2, self.duration_s
        ta = v / a
        s = np.where(
            t < ta,
            0.5 * a * t * t,
            np.where(
                t < tt - ta, 0.5 * a * ta * ta + v * (t - ta), length - 0.5 * a * (tt - t) ** 2
            ),
        )
        sd = np.where(t < ta, a * t, np.where(t < tt - ta, v, a * (tt - t)))
        sdd = np.where(t < ta, a, np.where(t < tt - ta, 0.0, -a))
        return self.start_m + s[:, None] * u, sd[:, None] * u, sdd[:, None] * u


@dataclass(frozen=True)
class RouteReference:
    """A station's reference: hover at the start for ``delay_s``, then the legs one by one with
    a dwell of ``smoothing_s`` at every waypoint, the whole averaged over a sliding window of
    ``smoothing_s`` (a box filter, computed exactly: it bounds the jerk by ``2 A / smoothing_s``
    (``A / smoothing_s`` where the legs cruise), keeps the acceleration and speed bounds, and,
    thanks to the dwells, keeps the reference exactly on the straight legs).

    Attributes:
        legs: the leg profiles.
        delay_s: departure delay [s].
        smoothing_s: box-filter width and dwell [s] (0: the raw trapezoids).
    """

    legs: tuple[LegProfile, ...]
    delay_s: float = 0.0
    smoothing_s: float = 0.5

    @classmethod
    def from_waypoints(
        cls,
        waypoints_m: FloatArray,
        *,
        speed_m_s: float,
        accel_m_s2: float,
        delay_s: float = 0.0,
        smoothing_s: float = 0.5,
    ) -> RouteReference:
        """Legs between consecutive waypoints ``(K, 3)``."""
        w = np.asarray(waypoints_m, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != 3 or w.shape[0] < 1:
            raise SkycellError("a route reference needs waypoints of shape (K, 3), K >= 1")
        if not (speed_m_s > 0 and accel_m_s2 > 0 and smoothing_s >= 0 and delay_s >= 0):
            raise SkycellError(
                "a route reference needs speed and acceleration > 0, smoothing and delay >= 0"
            )
        legs = tuple(
            LegProfile.build(w[k], w[k + 1], speed_m_s=speed_m_s, accel_m_s2=accel_m_s2)
            for k in range(w.shape[0] - 1)
        ) or (LegProfile.build(w[0], w[0], speed_m_s=speed_m_s, accel_m_s2=accel_m_s2),)
        return cls(legs=legs, delay_s=delay_s, smoothing_s=smoothing_s)

    def delayed(self, delay_s: float) -> RouteReference:
        """The same route departing ``delay_s`` later."""
        return RouteReference(legs=self.legs, delay_s=delay_s, smoothing_s=self.smoothing_s)

    @property
    def flight_time_s(self) -> float:
        """Time from departure to arrival (dwells and filter included) [s]."""
        return float(sum(leg.duration_s for leg in self.legs)) + self.smoothing_s * len(self.legs)

    @property
    def end_time_s(self) -> float:
        """Arrival time of the reference, delay included [s]."""
        return self.delay_s + self.flight_time_s

    @property
    def start_m(self) -> FloatArray:
        """First waypoint."""
        return self.legs[0].start_m

    @property
    def goal_m(self) -> FloatArray:
        """Last waypoint."""
        return self.legs[-1].end_m

    def _raw(self, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        pos = np.tile(self.start_m, (t.size, 1))
        vel = np.zeros((t.size, 3))
        acc = np.zeros((t.size, 3))
        t0 = 0.0
        for leg in self.legs:
            inside = (t >= t0) & (t < t0 + leg.duration_s)
            if inside.any():
                p, v, a = leg.sample(t[inside] - t0)
                pos[inside], vel[inside], acc[inside] = p, v, a
            t0 += leg.duration_s
            dwell = (t >= t0) & (t < t0 + self.smoothing_s)
            pos[dwell] = leg.end_m
            t0 += self.smoothing_s
        pos[t >= t0] = self.goal_m
        return pos, vel, acc

    def _integral(self, t: FloatArray) -> FloatArray:
        """``int_0^t p(s) ds`` of the raw (unfiltered) position, exactly (the position is
        piecewise quadratic in time); the start position is held for ``t < 0``. Every leg,
        dwell and the final hold adds its own integral up to ``t`` (zero before it starts)."""
        out = np.outer(np.minimum(t, 0.0), self.start_m)
        t0 = 0.0
        for leg in self.legs:
            d = leg.end_m - leg.start_m
            length = float(np.linalg.norm(d))
            dur = leg.duration_s
            tau = np.clip(t - t0, 0.0, dur)
            out += np.outer(tau, leg.start_m)
            if length > 0:
                u = d / length
                a, v = leg.accel_m_s2, leg.speed_m_s
                ta = v / a
                cruise = max(dur - 2.0 * ta, 0.0)
                s_acc = a * np.minimum(tau, ta) ** 3 / 6.0
                tc = np.clip(tau - ta, 0.0, cruise)
                s_cru = 0.5 * a * ta * ta * tc + 0.5 * v * tc * tc
                td = np.clip(tau - (dur - ta), 0.0, ta)
                s_dec = length * td - a / 6.0 * (ta**3 - (ta - td) ** 3)
                out += np.outer(s_acc + s_cru + s_dec, u)
            t1 = t0 + dur
            out += np.outer(np.clip(t - t1, 0.0, self.smoothing_s), leg.end_m)
            t0 = t1 + self.smoothing_s
        out += np.outer(np.maximum(t - t0, 0.0), self.goal_m)
        return out

    def sample(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Position, velocity, acceleration ``(T, 3)`` at times [s] (at rest before the
        departure and after the arrival): the raw profile's box filter, computed exactly
        (``x_f(t) = (X(t) - X(t - T)) / T`` with ``X`` the integral of the raw quantity)."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1) - self.delay_s
        w = self.smoothing_s
        if w <= 0:
            return self._raw(t)
        p1, v1, _ = self._raw(t)
        p0, v0, _ = self._raw(t - w)
        pos = (self._integral(t) - self._integral(t - w)) / w
        return pos, (p1 - p0) / w, (v1 - v0) / w


def schedule_departures(
    references: list[RouteReference],
    *,
    separation_m: float,
    step_s: float = 0.2,
    delay_step_s: float = 5.0,
    max_delay_s: float = 600.0,
) -> tuple[list[RouteReference], list[str]]:
    """Delay departures (in order of the list) until every pair of references keeps
    ``separation_m`` at all times, sampled every ``step_s``; returns the delayed references
    and notes for the pairs that could not be separated."""
    notes: list[str] = []
    done: list[RouteReference] = []
    horizon = max(r.flight_time_s for r in references) + max_delay_s + step_s
    t = np.arange(0.0, horizon, step_s)
    placed: list[FloatArray] = []
    for idx, ref in enumerate(references):
        chosen: RouteReference | None = None
        worst = (math.inf, -1)
        for delay in np.arange(0.0, max_delay_s + 1e-9, delay_step_s):
            cand = ref.delayed(float(delay))
            pos, _, _ = cand.sample(t)
            gaps = [float(np.min(np.linalg.norm(pos - other, axis=1))) for other in placed]
            closest = min(gaps) if gaps else math.inf
            if closest >= separation_m:
                chosen = cand
                break
            if delay == 0.0:
                worst = (closest, int(np.argmin(gaps)))
        if chosen is None:
            chosen = ref
            notes.append(
                f"station {idx}: no departure delay up to {max_delay_s:g} s keeps its reference "
                f"{separation_m:.1f} m from the others' (closest {worst[0]:.1f} m to station "
                f"{worst[1]}); it departs at once"
            )
        done.append(chosen)
        placed.append(chosen.sample(t)[0])
    return done, notes


def segment_clearance_3d_m(
    city: City, a_xyz_m: FloatArray, b_xyz_m: FloatArray, *, search_m: float = 60.0
) -> FloatArray:
    """Lower bound of the 3-D distance [m] from each segment ``a -> b`` to every building prism:
    ``min_B sqrt(d_h(seg, B)^2 + max(0, z_low - H_B)^2)`` with ``d_h`` the exact horizontal
    distance to the footprint and ``z_low`` the segment's lowest point; ``search_m`` where no
    building is within that horizontal distance."""
    a = np.asarray(a_xyz_m, dtype=np.float64).reshape(-1, 3)
    b = np.asarray(b_xyz_m, dtype=np.float64).reshape(-1, 3)
    out = np.full(a.shape[0], float(search_m))
    bld = city.buildings
    if len(bld) == 0 or a.shape[0] == 0:
        return out
    tree = _footprint_tree(city)
    lines = shapely.linestrings(np.stack([a[:, :2], b[:, :2]], axis=1))
    pairs = tree.query(lines, predicate="dwithin", distance=float(search_m))
    if pairs.shape[1] == 0:
        return out
    seg, bi = pairs
    d_h = shapely.distance(lines[seg], bld.polygons[bi])
    z_low = np.minimum(a[seg, 2], b[seg, 2])
    d_v = np.maximum(z_low - bld.heights_m[bi], 0.0)
    d = np.hypot(d_h, d_v)
    np.minimum.at(out, seg, d)
    return out


_TREES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _footprint_tree(city: City) -> Any:
    """An STRtree of the city's footprints, kept as long as its buildings live."""
    tree = _TREES.get(city.buildings)
    if tree is None:
        tree = shapely.STRtree(city.buildings.polygons)
        _TREES[city.buildings] = tree
    return tree
