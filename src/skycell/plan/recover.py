"""Signal-drop detection and recovery of a critical user (paper 000 §VII).

Paper 000 §VII reverses the data flow between its two twins: the received power of one critical
user u from its serving station i, ``p_{i,u} = [P_1, ..., P_Nt]`` [W], is scanned for drops below a
threshold (§VII-A, :func:`detect_drops`); for every drop the station flies toward the user's
position in the middle of the drop along a gradient-descent route (§VII-B, eq. 22,
:func:`recovery_route`), hovers over the user for the rest of the drop and flies back
(:func:`recovery_schedule`). :func:`recover_user` chains the three; it is engine-agnostic: the
caller computes the power series (analytic engine, Sionna RT) before and after.

Readings of §VII (the text is short; each choice is stated here once and in the functions):

* **Detection** (§VII-A steps 1-5). A sample is *below* when ``P < T_min`` (strictly) and a
  *peak* when ``P >= T_min``. A candidate drop starts at the first sample of a run of below
  samples and is *confirmed* only if that run holds at least ``c_min`` consecutive below samples
  (step 2); a shorter run is discarded, also at the end of the series. Once confirmed, up to
  ``s_p`` peaks are tolerated (step 3): by default ``consecutive`` peaks (a return below
  ``T_min`` resets the count: a drop is one shadowing episode however long it lasts, ended by
  ``s_p + 1`` peaks in a row); ``peak_counting="total"`` counts every peak since ``t_s`` instead.
  When the count exceeds ``s_p`` the drop is finalized (step 4): ``t_e`` is the *last below
  sample* before the peaks that ended it, so ``[t_s, t_e]`` starts and ends below ``T_min`` and
  contains only the tolerated peaks. A drop still open when the series ends is finalized there,
  ``t_e`` again its last below sample, and flagged ``open_end``. Scanning then resumes after the
  sample that ended the drop (step 5). The duration is ``T_d = t_e - t_s`` (step 4 prints
  ``t_s - t_s``, a typo), the middle ``t_m = t_s + floor(T_d / 2)``.
* **Route** (§VII-B, eq. 22). ``L_d = ||p - d_m|| + eta P_b`` with eq. 6's ``P_b`` over the
  bounding boxes of buildings taller than the flight altitude minus ``height_margin_m`` (the
  obstacles), minimised with Adam (``l_r = 6``; the learning rate is multiplied by 0.5 after
  ``patience = 3`` iterations without a new best loss, Keras' ``ReduceLROnPlateau`` as in §VII-C);
  every iterate is a waypoint. It stops when the station is within ``tolerance_m`` of the goal,
  when the learning rate falls below ``min_learning_rate``, or at ``max_iterations``; then the
  goal is appended when the straight leg to it keeps ``c_b`` (Adam at ``l_r = 6`` overshoots the
  goal and the plateau rule, which compares with the best loss, decays the rate before the
  momentum turns, so the optimiser often stops a few metres short), else the route has stalled
  (a building ahead: a local minimum of eq. 22, the limit of potential fields). The goal is
  ``d_m`` or, when ``d_m`` is inside or closer than ``c_b`` to an obstacle, the closest
  admissible point to it (``target_adjusted``).
* **Safety** (not in the paper; as placement's guard in :mod:`skycell.plan.place_gradient`, but
  enforcing the full ``c_b``): after every Adam step the proposal is projected
  ``c_b + guard_margin_m`` away from the obstacle boxes (:func:`enforce_clearance`) and the
  straight segment from the previous waypoint must keep ``c_b`` from every box (exact
  segment-to-box distance); otherwise the step is shortened (halved up to six times) or not
  taken. The margin absorbs the chord of a turn around a box corner. Boxes contain the
  footprints, so the route keeps ``c_b`` from the buildings themselves too.
* **Schedule** (§VII-B phases). With ``n_r = floor(T_d / 2) = t_m - t_s``: *reaction* = the
  ``n_r`` points equally spaced in arc length along the route (fractions ``k / n_r``,
  ``k = 1..n_r``; the last is the route's end) at steps ``t_s .. t_m - 1``; *stationary* = hover
  at the flight altitude over the user (its closest admissible point) at steps ``t_m .. t_e``;
  *return* = the reaction points reversed at ``t_e + 1 ..``, then the route's start. Between two
  steps the station flies along the route (reaction, return) or straight (stationary moves: one
  that would come closer than ``c_b`` goes through the route's guard instead, so the station
  works its way round a corner over a few steps; if the straight move back to the route's end is
  unsafe, the stationary positions are retraced first). A route that stalled short of the user
  leaves the station hovering at its end. A drop that starts while the station is still
  returning from the previous one interrupts that return, which resumes after its own. Drops
  with ``T_d < 2`` (possible only with ``c_min <= 2``) leave the track unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from skycell.city.buildings import bbox_distance_m
from skycell.errors import SkycellError
from skycell.plan.place_gradient import (
    ADAM_EPSILON,
    collision_penalty_and_grad,
    enforce_clearance,
)

if TYPE_CHECKING:
    from skycell.city.buildings import City

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int8]

PeakCounting = Literal["consecutive", "total"]

#: Names of the phase codes in :attr:`Recovery.phase`: 0 = at the deployed position (or following
#: an earlier schedule), 1 = reaction, 2 = stationary, 3 = return.
PHASES: Final[tuple[str, ...]] = ("deployed", "reaction", "stationary", "return")

#: Paper 000 §VII-C: T_min = 1e-14 W, c_min = 3, s_p = 5.
PAPER_T_MIN_W: Final[float] = 1e-14
PAPER_C_MIN: Final[int] = 3
PAPER_S_P: Final[int] = 5

#: Extra distance [m] the safety guard projects to beyond c_b (absorbs corner chords).
GUARD_MARGIN_M: Final[float] = 0.5

_TOL_M: Final[float] = 1e-9
_QUAD_SEGS: Final[int] = 16


class RecoveryInputError(SkycellError, ValueError):
    """Bad input to the recovery functions; lists every problem found at once."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        text = "; ".join(self.problems)
        super().__init__(f"{where}: {text}")


# --------------------------------------------------------------------------------- detection


@dataclass(frozen=True)
class Drop:
    """One signal drop (paper 000 §VII-A).

    Attributes:
        t_start: ``t_s``, index of the first sample below ``T_min``.
        t_end: ``t_e``, index of the last sample below ``T_min`` (inclusive).
        peaks: samples ``>= T_min`` inside ``[t_s, t_e]`` (the tolerated spurious peaks).
        open_end: True when the series ended before more than ``s_p`` peaks ended the drop.
    """

    t_start: int
    t_end: int
    peaks: int = 0
    open_end: bool = False

    @property
    def duration_steps(self) -> int:
        """``T_d = t_e - t_s`` [steps] (paper 000 §VII-A step 4)."""
        return self.t_end - self.t_start

    @property
    def n_samples(self) -> int:
        """Samples in ``[t_s, t_e]`` (``T_d + 1``)."""
        return self.t_end - self.t_start + 1

    @property
    def t_mid(self) -> int:
        """``t_m = t_s + floor(T_d / 2)``, the step whose user position is the route's target."""
        return self.t_start + self.duration_steps // 2

    @property
    def open_start(self) -> bool:
        """True when the drop starts at the first sample (it may have begun earlier)."""
        return self.t_start == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly record of the drop."""
        return {
            "t_start": self.t_start,
            "t_end": self.t_end,
            "t_mid": self.t_mid,
            "duration_steps": self.duration_steps,
            "peaks": self.peaks,
            "open_start": self.open_start,
            "open_end": self.open_end,
        }


def _check_int(value: object, name: str, minimum: int, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        problems.append(f"{name} must be an integer >= {minimum}, got {value!r}")


def detect_drops(
    power_w: ArrayLike,
    *,
    t_min_w: float = PAPER_T_MIN_W,
    c_min: int = PAPER_C_MIN,
    s_p: int = PAPER_S_P,
    peak_counting: PeakCounting = "consecutive",
) -> list[Drop]:
    """Signal drops in a received-power series (paper 000 §VII-A, steps 1-5).

    1. *Detection*: a candidate starts at a sample ``P_t < t_min_w`` (strictly below).
    2. *Confirmation*: it is a drop only if its run of consecutive below samples is at least
       ``c_min`` long; a shorter run (also one cut off by the end of the series) is discarded.
    3. *Spurious peak tolerance*: after confirmation, samples ``>= t_min_w`` are peaks; up to
       ``s_p`` are tolerated. ``peak_counting="consecutive"`` (default) counts peaks in a row and
       resets on the next below sample; ``"total"`` counts all peaks since ``t_s``.
    4. *Finalization*: when the count exceeds ``s_p`` the drop ends; ``t_e`` is the last below
       sample before those peaks, ``T_d = t_e - t_s``. A drop open at the end of the series ends
       at its last below sample and is flagged ``open_end``.
    5. *Repeat*: scanning resumes after the peak that ended the drop.

    Runs of below and peak samples are found vectorised; the state machine walks the runs.

    Args:
        power_w: ``(N_t,)`` received power of the critical user from its station [W], finite and
            ``>= 0`` (convert dBm with ``10 ** ((dbm - 30) / 10)``).
        t_min_w: threshold T_min [W] (> 0; paper 000 §VII-C: 1e-14).
        c_min: confirmation length c_min [samples] (>= 1; paper: 3).
        s_p: tolerated spurious peaks s_p [samples] (>= 0; paper: 5).
        peak_counting: ``"consecutive"`` or ``"total"`` (see step 3).

    Returns:
        The drops in time order (possibly empty).

    Raises:
        RecoveryInputError: the series is not 1-D, finite and non-negative, or a parameter is out
            of range (every problem listed).
    """
    problems: list[str] = []
    p = np.asarray(power_w, dtype=np.float64) if _is_numeric(power_w) else None
    if p is None:
        problems.append("power_w must be an array of numbers [W]")
    elif p.ndim != 1:
        problems.append(f"power_w must be 1-D (one sample per step), got shape {p.shape}")
    else:
        bad = ~np.isfinite(p)
        if bad.any():
            problems.append(
                f"power_w must be finite; step(s) {np.flatnonzero(bad)[:10].tolist()} are not"
            )
        neg = np.isfinite(p) & (p < 0.0)
        if neg.any():
            problems.append(
                f"power_w must be >= 0 W (a power, not dBm); step(s) "
                f"{np.flatnonzero(neg)[:10].tolist()} are negative"
            )
    if not (isinstance(t_min_w, int | float) and math.isfinite(t_min_w) and t_min_w > 0):
        problems.append(f"t_min_w must be a finite number > 0 [W], got {t_min_w!r}")
    _check_int(c_min, "c_min", 1, problems)
    _check_int(s_p, "s_p", 0, problems)
    if peak_counting not in ("consecutive", "total"):
        problems.append(f"peak_counting must be 'consecutive' or 'total', got {peak_counting!r}")
    if problems:
        raise RecoveryInputError("detect_drops", problems)
    assert p is not None
    if p.size == 0:
        return []

    below = p < t_min_w
    # Run-length encoding: run k covers [starts[k], ends[k]] and is below or a peak run.
    change = np.flatnonzero(below[1:] != below[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change - 1, [p.size - 1]))
    lengths = ends - starts + 1
    is_below = below[starts]

    drops: list[Drop] = []
    t_s = -1  # start of the open drop, -1 when none
    t_e = -1
    peaks_in = 0  # tolerated peaks inside [t_s, t_e]
    count = 0  # peaks counted against s_p
    for k in range(starts.size):
        n = int(lengths[k])
        if is_below[k]:
            if t_s < 0:
                if n >= c_min:  # steps 1-2: confirmed run
                    t_s, t_e, peaks_in, count = int(starts[k]), int(ends[k]), 0, 0
            else:  # still inside a confirmed drop: the peaks before this run were tolerated
                peaks_in += int(starts[k]) - t_e - 1
                t_e = int(ends[k])
                if peak_counting == "consecutive":
                    count = 0
        elif t_s >= 0:
            count += n
            if count > s_p:  # step 4: too many peaks, finalize at the last below sample
                drops.append(Drop(t_s, t_e, peaks_in, open_end=False))
                t_s = -1
    if t_s >= 0:  # the series ended inside a drop
        drops.append(Drop(t_s, t_e, peaks_in, open_end=True))
    return drops


def _is_numeric(x: object) -> bool:
    try:
        np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------------- geometry


def _segment_box_distance(a: FloatArray, b: FloatArray, boxes: FloatArray) -> FloatArray:
    """Exact horizontal distance ``(S, B)`` [m] between 2-D segments ``a -> b`` ``(S, 2)`` and
    axis-aligned boxes ``(B, 4)``; 0 when a segment crosses or touches a (closed) box.

    For a segment and a convex polygon that do not intersect, the distance is attained at a
    vertex of one of them: the segment's endpoints against the box, the box's corners against
    the segment.
    """
    d = b - a  # (S, 2)
    lo = boxes[None, :, 0:2]
    hi = boxes[None, :, 2:4]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t0 = (lo - a[:, None, :]) * inv[:, None, :]
        t1 = (hi - a[:, None, :]) * inv[:, None, :]
    tmin = np.minimum(t0, t1)
    tmax = np.maximum(t0, t1)
    zero = d[:, None, :] == 0.0
    inside = (a[:, None, :] >= lo) & (a[:, None, :] <= hi)
    tmin = np.where(zero, np.where(inside, -np.inf, np.inf), tmin)
    tmax = np.where(zero, np.where(inside, np.inf, -np.inf), tmax)
    crossing = np.maximum(tmin.max(axis=2), 0.0) <= np.minimum(tmax.min(axis=2), 1.0)

    dist = np.minimum(bbox_distance_m(a, boxes), bbox_distance_m(b, boxes))
    corners = np.stack(
        (boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]), axis=1
    )  # (B, 4, 2)
    dd = np.einsum("sk,sk->s", d, d)
    safe = np.where(dd > 0.0, dd, 1.0)
    rel = corners[None, :, :, :] - a[:, None, None, :]  # (S, B, 4, 2)
    t = np.clip(np.einsum("sbck,sk->sbc", rel, d) / safe[:, None, None], 0.0, 1.0)
    t = np.where(dd[:, None, None] > 0.0, t, 0.0)
    gap = rel - t[..., None] * d[:, None, None, :]
    corner_dist = np.sqrt(np.einsum("sbck,sbck->sbc", gap, gap)).min(axis=2)
    dist = np.minimum(dist, corner_dist)
    return np.asarray(np.where(crossing, 0.0, dist), dtype=np.float64)


def polyline_clearance_m(points_m: ArrayLike, boxes_m: FloatArray) -> float:
    """Smallest horizontal distance [m] from a polyline ``(K, 2)`` (or ``(K, 3)``, z ignored)
    to axis-aligned boxes ``(B, 4)``: 0 when it touches or crosses one, inf without boxes.

    Exact (:func:`_segment_box_distance`); boxes farther than 200 m from the polyline's bounding
    box cannot be the nearest when a nearer one exists and are skipped, and segments go in
    blocks, so memory stays bounded on city-sized inputs.
    """
    xy = np.asarray(points_m, dtype=np.float64)[:, :2]
    if boxes_m.shape[0] == 0 or xy.shape[0] == 0:
        return math.inf
    if xy.shape[0] == 1:
        return float(bbox_distance_m(xy, boxes_m).min())
    reach = 200.0
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    near = boxes_m[
        (boxes_m[:, 0] <= hi[0] + reach)
        & (boxes_m[:, 2] >= lo[0] - reach)
        & (boxes_m[:, 1] <= hi[1] + reach)
        & (boxes_m[:, 3] >= lo[1] - reach)
    ]
    best = math.inf
    for cand in (near, boxes_m):
        if cand.shape[0] == 0:
            continue
        for k in range(0, xy.shape[0] - 1, 256):
            a = xy[k : k + 257]
            best = min(best, float(_segment_box_distance(a[:-1], a[1:], cand).min()))
        if best <= reach:
            break
    return best


def obstacle_boxes(city: City, *, altitude_m: float, height_margin_m: float = 0.0) -> FloatArray:
    """Bounding boxes ``(B, 4)`` [m] of the buildings a station flying at ``altitude_m`` must
    avoid: those taller than ``altitude_m - height_margin_m`` (eq. 6's exclusion rule)."""
    tall = city.buildings.heights_m > altitude_m - height_margin_m
    return np.asarray(city.buildings.bbox_m[tall], dtype=np.float64).reshape(-1, 4)


@dataclass(frozen=True, eq=False)
class _Obstacles:
    """Obstacle boxes with the required clearance: admissibility, projection, segment tests."""

    boxes: FloatArray
    clearance_m: float
    margin_m: float

    @property
    def empty(self) -> bool:
        return bool(self.boxes.shape[0] == 0)

    def distance_m(self, xy: FloatArray) -> FloatArray:
        """``(P,)`` distance to the nearest box [m] (inf without boxes)."""
        if self.empty:
            return np.full(xy.shape[0], np.inf)
        return np.asarray(bbox_distance_m(xy, self.boxes).min(axis=1), dtype=np.float64)

    def admissible(self, xy: FloatArray) -> NDArray[np.bool_]:
        d = self.distance_m(xy)
        return np.asarray((d >= self.clearance_m - _TOL_M) & (d > 0.0))

    def segment_ok(self, a: FloatArray, b: FloatArray) -> bool:
        """Whether the segment ``a -> b`` (2,) keeps the clearance (and enters no box)."""
        if self.empty:
            return True
        d = float(_segment_box_distance(a[None, :2], b[None, :2], self.boxes).min())
        return d >= self.clearance_m - _TOL_M and d > 0.0

    def guarded_move(self, old: FloatArray, proposal: FloatArray) -> FloatArray:
        """The safety guard: from ``old`` (2,) toward ``proposal`` (2,), projected
        ``clearance + margin`` off the boxes (:func:`enforce_clearance`, placement's guard) with
        a segment that keeps the clearance; the step is halved up to six times, else refused."""
        if self.empty:
            return proposal
        radius = self.clearance_m + self.margin_m
        frac = 1.0
        for _ in range(7):
            cand = old + frac * (proposal - old)
            cand = enforce_clearance(old[None, :], cand[None, :], self.boxes, radius)[0]
            if not np.array_equal(cand, old) and self.segment_ok(old, cand):
                return np.asarray(cand, dtype=np.float64)
            frac *= 0.5
        return old

    @cached_property
    def _boundary(self) -> Any:
        # Straight faces of the buffer lie exactly R = c_b + margin off the boxes; its corner
        # arcs are chords up to R (1 - cos(pi / (4 q))) inside the true circle, so the radius is
        # raised where the margin would not absorb that (every boundary point keeps c_b).
        chord = math.cos(math.pi / (4 * _QUAD_SEGS))
        radius = max(self.clearance_m + self.margin_m, self.clearance_m / chord) + 1e-6
        b = self.boxes
        polys = shapely.buffer(
            shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]), radius, quad_segs=_QUAD_SEGS
        )
        return shapely.union_all(polys).boundary

    def closest_admissible(self, xy: FloatArray) -> FloatArray:
        """``(P, 2)``: each point if admissible, else the nearest point of the boundary of the
        union of the boxes inflated by ``clearance + margin`` (shapely buffer: exact on faces,
        corner arcs as 16-segment chords, a few centimetres inside the circle)."""
        out = np.array(xy[:, :2], dtype=np.float64, copy=True)
        if self.empty:
            return out
        bad = ~self.admissible(out)
        if bad.any():
            lines = shapely.shortest_line(self._boundary, shapely.points(out[bad]))
            out[bad] = shapely.get_coordinates(lines).reshape(-1, 2, 2)[:, 0, :]
        return out


def _obstacles(
    city: City | None,
    *,
    altitude_m: float,
    clearance_m: float,
    height_margin_m: float,
    margin_m: float,
) -> _Obstacles:
    boxes = (
        np.zeros((0, 4))
        if city is None
        else obstacle_boxes(city, altitude_m=altitude_m, height_margin_m=height_margin_m)
    )
    return _Obstacles(boxes=boxes, clearance_m=float(clearance_m), margin_m=float(margin_m))


# --------------------------------------------------------------------------------- route


@dataclass(frozen=True)
class RecoveryRoute:
    """A recovery trajectory (paper 000 §VII-B, eq. 22).

    Attributes:
        waypoints_m: ``(K, 3)`` positions [m]: the start, then every Adam iterate (a refused step
            repeats the previous one), then the goal when the straight leg to it is clear; z =
            the flight altitude.
        target_xy_m: ``(2,)`` the requested destination d_m [m].
        goal_xy_m: ``(2,)`` the destination pursued [m]: d_m, or its closest admissible point.
        target_adjusted: True when d_m is inside or closer than c_b to an obstacle box.
        start_adjusted: True when the start was closer than c_b to an obstacle box and the first
            segment moves it out (the clearance guarantee holds from the second waypoint on).
        reached: True when the route ends at the goal.
        stop_reason: why the optimiser stopped: ``"reached"`` (within ``tolerance_m``),
            ``"learning_rate"`` (decayed below ``min_learning_rate``) or ``"max_iterations"``.
        iterations: Adam steps taken.
        loss_history: ``(iterations + 1,)`` L_d at the start and after every step.
        min_clearance_m: smallest horizontal distance from the route's segments (after any start
            adjustment) to an obstacle box [m] (inf without obstacles).
        final_leg_m: length of the straight last leg appended from the optimiser's last iterate
            to the goal [m] (0 when it stopped on the goal or stalled).
        notes: what a user should know (adjusted target or start, a stall).
    """

    waypoints_m: FloatArray
    target_xy_m: FloatArray
    goal_xy_m: FloatArray
    target_adjusted: bool
    start_adjusted: bool
    reached: bool
    stop_reason: str
    iterations: int
    loss_history: FloatArray
    min_clearance_m: float
    final_leg_m: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def length_m(self) -> float:
        """Length of the route polyline [m]."""
        return float(np.linalg.norm(np.diff(self.waypoints_m, axis=0), axis=1).sum())

    @property
    def end_xyz_m(self) -> FloatArray:
        """``(3,)`` the last waypoint [m]."""
        return np.asarray(self.waypoints_m[-1], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (waypoints rounded to the millimetre)."""
        return {
            "waypoints_m": np.round(self.waypoints_m, 3).tolist(),
            "target_xy_m": self.target_xy_m.tolist(),
            "goal_xy_m": np.round(self.goal_xy_m, 3).tolist(),
            "target_adjusted": self.target_adjusted,
            "start_adjusted": self.start_adjusted,
            "reached": self.reached,
            "stop_reason": self.stop_reason,
            "iterations": self.iterations,
            "length_m": self.length_m,
            "min_clearance_m": self.min_clearance_m,
            "final_leg_m": self.final_leg_m,
            "notes": list(self.notes),
        }


def _point(value: ArrayLike, n: int, name: str, problems: list[str]) -> FloatArray | None:
    try:
        p = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        problems.append(f"{name} must be {n} numbers [m], got {value!r}")
        return None
    if p.shape != (n,) or not np.isfinite(p).all():
        problems.append(f"{name} must be {n} finite numbers [m], got {np.asarray(value).tolist()}")
        return None
    return p


def _positive(value: float, name: str, problems: list[str], *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        problems.append(
            f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}"
        )


def recovery_route(
    city: City,
    start_xyz_m: ArrayLike,
    target_xy_m: ArrayLike,
    *,
    altitude_m: float,
    clearance_m: float,
    learning_rate: float = 6.0,
    patience: int = 3,
    lr_factor: float = 0.5,
    min_learning_rate: float = 1e-3,
    max_iterations: int = 2000,
    kappa_b: float = 0.5,
    eta: float = 1.0,
    height_margin_m: float = 0.0,
    tolerance_m: float = 1.0,
    guard_margin_m: float = GUARD_MARGIN_M,
) -> RecoveryRoute:
    """Gradient-descent recovery trajectory toward a critical user (paper 000 §VII-B, eq. 22).

    Minimises ``L_d = ||p - g|| + eta P_b(p)`` over the station's xy position with Adam
    (epsilon 1e-7 as paper 000's TensorFlow), g the goal (d_m or its closest admissible point)
    and P_b eq. 6 over the boxes of buildings taller than ``altitude_m - height_margin_m``
    (:func:`skycell.plan.place_gradient.collision_penalty_and_grad`). The learning rate is
    multiplied by ``lr_factor`` after ``patience`` iterations without a new best loss (§VII-C:
    6.0, 0.5, 3). After every step the safety guard projects the proposal ``clearance_m +
    guard_margin_m`` off the boxes and requires the segment from the previous waypoint to keep
    ``clearance_m`` (shortening the step, or refusing it), so no segment enters a building and
    the whole route keeps c_b from every obstacle.

    Args:
        city: the city.
        start_xyz_m: ``(3,)`` the station's position [m]; z must equal ``altitude_m``.
        target_xy_m: ``(2,)`` (or ``(3,)``, z ignored) destination d_m [m].
        altitude_m: flight altitude [m] (> 0).
        clearance_m: c_b, minimum horizontal distance from every obstacle [m] (>= 0).
        learning_rate: Adam's initial learning rate l_r [m per step, roughly] (paper: 6.0).
        patience: iterations without improvement before the learning rate decays (paper: 3).
        lr_factor: learning-rate decay factor, in (0, 1) (paper: 0.5).
        min_learning_rate: stop once the learning rate falls below this [m].
        max_iterations: iteration limit.
        kappa_b: steepness of P_b [1/m] (Table III: 0.5).
        eta: weight of P_b (eq. 22 has none: 1.0).
        height_margin_m: buildings taller than ``altitude_m - height_margin_m`` are obstacles [m].
        tolerance_m: the goal counts as reached within this distance [m].
        guard_margin_m: extra distance the guard projects to, absorbing corner chords [m] (> 0).

    Returns:
        The route, its stop reason and clearance.

    Raises:
        RecoveryInputError: a bad argument (every problem listed).
    """
    problems: list[str] = []
    start = _point(start_xyz_m, 3, "start_xyz_m", problems)
    tgt = (
        np.asarray(target_xy_m, dtype=np.float64).reshape(-1) if _is_numeric(target_xy_m) else None
    )
    if tgt is not None and tgt.shape == (3,):
        tgt = tgt[:2]
    target = _point(tgt if tgt is not None else target_xy_m, 2, "target_xy_m", problems)
    _positive(altitude_m, "altitude_m", problems)
    _positive(clearance_m, "clearance_m", problems, allow_zero=True)
    _positive(learning_rate, "learning_rate", problems)
    _check_int(patience, "patience", 1, problems)
    if not (isinstance(lr_factor, int | float) and 0.0 < lr_factor < 1.0):
        problems.append(f"lr_factor must be in (0, 1), got {lr_factor!r}")
    _positive(min_learning_rate, "min_learning_rate", problems)
    _check_int(max_iterations, "max_iterations", 0, problems)
    _positive(kappa_b, "kappa_b", problems)
    _positive(eta, "eta", problems, allow_zero=True)
    _positive(height_margin_m, "height_margin_m", problems, allow_zero=True)
    _positive(tolerance_m, "tolerance_m", problems)
    _positive(guard_margin_m, "guard_margin_m", problems)
    if start is not None and math.isfinite(altitude_m) and abs(start[2] - altitude_m) > 1e-6:
        problems.append(
            f"start_xyz_m's z ({start[2]:g} m) must equal altitude_m ({altitude_m:g} m): the route "
            "is flown at a constant altitude (paper 000 §V-A)"
        )
    if problems:
        raise RecoveryInputError("recovery_route", problems)
    assert start is not None and target is not None

    obs = _obstacles(
        city,
        altitude_m=altitude_m,
        clearance_m=clearance_m,
        height_margin_m=height_margin_m,
        margin_m=guard_margin_m,
    )
    boxes = obs.boxes
    notes: list[str] = []
    points: list[FloatArray] = [start[:2].copy()]

    start_adjusted = False
    p = start[:2].copy()
    if not obs.admissible(p[None])[0]:
        q = obs.closest_admissible(p[None])[0]
        start_adjusted = True
        notes.append(
            f"the start is {obs.distance_m(p[None])[0]:.1f} m from a building taller than "
            f"{altitude_m - height_margin_m:g} m (c_b = {clearance_m:g} m): the route first moves "
            f"{np.linalg.norm(q - p):.1f} m out to ({q[0]:.1f}, {q[1]:.1f})"
        )
        p = q
        points.append(p.copy())
    first_safe = len(points) - 1

    goal = target.copy()
    target_adjusted = False
    if not obs.admissible(goal[None])[0]:
        goal = obs.closest_admissible(goal[None])[0]
        target_adjusted = True
        notes.append(
            f"the target ({target[0]:.1f}, {target[1]:.1f}) is inside or within c_b = "
            f"{clearance_m:g} m of a building taller than {altitude_m - height_margin_m:g} m: "
            f"the route goes to the closest admissible point ({goal[0]:.1f}, {goal[1]:.1f}), "
            f"{np.linalg.norm(goal - target):.1f} m away"
        )

    def loss_grad(x: FloatArray) -> tuple[float, FloatArray]:
        diff = x - goal
        dist = float(np.hypot(diff[0], diff[1]))
        g = diff / dist if dist > 0.0 else np.zeros(2)
        pb, pb_grad = collision_penalty_and_grad(
            x[None, :], boxes, kappa_b=kappa_b, clearance_m=clearance_m, scale=eta
        )
        return dist + eta * pb, g + pb_grad[0]

    loss, grad = loss_grad(p)
    losses = [loss]
    best = loss
    wait = 0
    lr = float(learning_rate)
    m = np.zeros(2)
    v = np.zeros(2)
    b1, b2 = 0.9, 0.999
    stop_reason = "max_iterations"
    reached = bool(np.hypot(*(p - goal)) <= tolerance_m)
    iterations = 0
    if reached:
        stop_reason = "reached"
    else:
        for t in range(1, max_iterations + 1):
            iterations = t
            m = b1 * m + (1.0 - b1) * grad
            v = b2 * v + (1.0 - b2) * grad * grad
            step = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
            p = obs.guarded_move(p, p - step * m / (np.sqrt(v) + ADAM_EPSILON))
            points.append(p.copy())
            loss, grad = loss_grad(p)
            losses.append(loss)
            if np.hypot(*(p - goal)) <= tolerance_m:
                reached = True
                stop_reason = "reached"
                break
            if loss < best:
                best, wait = loss, 0
            else:
                wait += 1
                if wait >= patience:
                    lr *= lr_factor
                    wait = 0
                    if lr < min_learning_rate:
                        stop_reason = "learning_rate"
                        break
    # Finish: fly the last, straight leg to the goal when it keeps the clearance (the optimiser
    # stops within tolerance_m, or short of the goal once the learning rate has decayed after
    # an overshoot: Adam at l_r = 6 passes the goal, and the plateau rule halves l_r before the
    # momentum turns). A leg that is not clear is a stall behind a building.
    final_leg = float(np.hypot(*(p - goal)))
    if final_leg > 0.0 and obs.segment_ok(p, goal):
        points.append(goal.copy())
        reached = True
    elif final_leg > 0.0:
        reached = False
        final_leg = 0.0
        notes.append(
            f"the route stalled {np.hypot(*(p - goal)):.1f} m from its goal ({stop_reason}) "
            "with no clear straight leg left: a building ahead holds gradient descent (a local "
            "minimum of eq. 22); the station hovers at the route's end instead of over the user"
        )

    xy = np.asarray(points, dtype=np.float64)
    safe = xy[first_safe:]
    if obs.empty or safe.shape[0] < 2:
        min_clear = float(obs.distance_m(safe).min()) if safe.size else math.inf
    else:
        min_clear = polyline_clearance_m(safe, boxes)
    waypoints = np.column_stack((xy, np.full(xy.shape[0], float(altitude_m))))
    return RecoveryRoute(
        waypoints_m=waypoints,
        target_xy_m=target,
        goal_xy_m=goal,
        target_adjusted=target_adjusted,
        start_adjusted=start_adjusted,
        reached=reached,
        stop_reason=stop_reason,
        iterations=iterations,
        loss_history=np.asarray(losses, dtype=np.float64),
        min_clearance_m=min_clear,
        final_leg_m=final_leg,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------- schedule


def sample_route(waypoints_m: ArrayLike, n: int) -> FloatArray:
    """``n`` points equally spaced in arc length along a polyline (fractions ``k / n``,
    ``k = 1..n``: the last is the polyline's end, the start is not included) [m].

    Args:
        waypoints_m: ``(K, 3)`` polyline [m], K >= 1.
        n: number of points (>= 0).

    Returns:
        ``(n, 3)`` points [m].
    """
    w = np.asarray(waypoints_m, dtype=np.float64).reshape(-1, 3)
    if n <= 0:
        return np.zeros((0, 3))
    seg = np.linalg.norm(np.diff(w, axis=0), axis=1)
    total = float(seg.sum())
    if w.shape[0] == 1 or total <= 0.0:
        return np.repeat(w[-1:], n, axis=0)
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    s = total * np.arange(1, n + 1) / n
    out = np.column_stack([np.interp(s, cum, w[:, k]) for k in range(3)])
    out[-1] = w[-1]
    return np.asarray(out, dtype=np.float64)


def _route_array(route: ArrayLike | RecoveryRoute) -> FloatArray:
    if isinstance(route, RecoveryRoute):
        return route.waypoints_m
    return np.asarray(route, dtype=np.float64)


def _apply_recovery(
    track: FloatArray,
    phase: IntArray,
    station: FloatArray,
    user_xy: FloatArray,
    drop: Drop,
    route: FloatArray,
    *,
    altitude_m: float,
    obs: _Obstacles,
    reach_tolerance_m: float,
) -> tuple[FloatArray, IntArray]:
    """Insert one drop's excursion into a station track; the interrupted track resumes after
    the return, where the excursion started (the stack semantics of several drops)."""
    ts, te, tm = drop.t_start, drop.t_end, drop.t_mid
    n_r = tm - ts
    if n_r < 1:
        return track, phase
    n_steps = track.shape[0]
    reaction = sample_route(route, n_r)
    end = route[-1]
    hover_goal = obs.closest_admissible(user_xy[tm][None])[0]
    follow = bool(np.hypot(*(end[:2] - hover_goal)) <= reach_tolerance_m)

    hover_xy = obs.closest_admissible(user_xy[tm : te + 1])
    pos = end[:2].copy()
    stationary = np.empty((te - tm + 1, 3))
    for k in range(te - tm + 1):
        if follow:
            cand = hover_xy[k]
            pos = cand if obs.segment_ok(pos, cand) else obs.guarded_move(pos, cand)
        stationary[k] = (pos[0], pos[1], altitude_m)

    # Return: the reaction points reversed; if the straight move back to the route's end is not
    # safe, first retrace the stationary positions (each of those moves was checked).
    retrace: list[FloatArray] = []
    j = stationary.shape[0] - 1
    while j > 0 and not obs.segment_ok(stationary[j, :2], end[:2]):
        j -= 1
        retrace.append(stationary[j])
    back = np.asarray(retrace, dtype=np.float64).reshape(-1, 3)
    ret = np.concatenate((back, reaction[::-1]))

    cont = track[ts - 1 :] if ts > 0 else np.concatenate((station[None], track))
    cont_phase = phase[ts - 1 :] if ts > 0 else np.concatenate(([0], phase)).astype(np.int8)
    seq = np.concatenate((reaction, stationary, ret, cont))
    seq_phase = np.concatenate(
        (
            np.full(reaction.shape[0], 1),
            np.full(stationary.shape[0], 2),
            np.full(ret.shape[0], 3),
            cont_phase,
        )
    ).astype(np.int8)
    new = track.copy()
    new_phase = phase.copy()
    new[ts:] = seq[: n_steps - ts]
    new_phase[ts:] = seq_phase[: n_steps - ts]
    return new, new_phase


def _schedule(
    station_xyz_m: ArrayLike,
    user_track_m: ArrayLike,
    drops: Sequence[Drop],
    routes: Sequence[ArrayLike | RecoveryRoute],
    *,
    altitude_m: float,
    city: City | None,
    clearance_m: float,
    height_margin_m: float,
    reach_tolerance_m: float,
    where: str,
) -> tuple[FloatArray, IntArray]:
    problems: list[str] = []
    station = _point(station_xyz_m, 3, "station_xyz_m", problems)
    user = np.asarray(user_track_m, dtype=np.float64) if _is_numeric(user_track_m) else None
    if user is None or user.ndim != 2 or user.shape[1] not in (2, 3):
        problems.append("user_track_m must have shape (T, 3) (or (T, 2)) [m]")
        user = None
    elif not np.isfinite(user).all():
        problems.append("user_track_m must be finite")
    _positive(altitude_m, "altitude_m", problems)
    _positive(clearance_m, "clearance_m", problems, allow_zero=True)
    if len(drops) != len(routes):
        problems.append(f"{len(drops)} drop(s) but {len(routes)} route(s): give one route per drop")
    n_steps = user.shape[0] if user is not None else 0
    last_end = -1
    for k, d in enumerate(drops):
        if not isinstance(d, Drop):
            problems.append(f"drops[{k}] must be a Drop, got {type(d).__name__}")
            continue
        if not (0 <= d.t_start <= d.t_end < max(n_steps, 1)):
            problems.append(
                f"drops[{k}] = [{d.t_start}, {d.t_end}] must lie within the {n_steps} steps"
            )
        if d.t_start <= last_end:
            problems.append(f"drops[{k}] overlaps or precedes the previous drop; sort them")
        last_end = max(last_end, d.t_end)
    arrays: list[FloatArray] = []
    for k, r in enumerate(routes):
        a = _route_array(r) if isinstance(r, RecoveryRoute) or _is_numeric(r) else None
        if a is None or a.ndim != 2 or a.shape[1] != 3 or a.shape[0] < 1:
            problems.append(f"routes[{k}] must have shape (K, 3) with K >= 1 [m]")
            arrays.append(np.zeros((1, 3)))
        elif not np.isfinite(a).all():
            problems.append(f"routes[{k}] must be finite")
            arrays.append(np.zeros((1, 3)))
        else:
            arrays.append(a)
    if problems:
        raise RecoveryInputError(where, problems)
    assert station is not None and user is not None

    obs = _obstacles(
        city,
        altitude_m=altitude_m,
        clearance_m=clearance_m,
        height_margin_m=height_margin_m,
        margin_m=GUARD_MARGIN_M,
    )
    track = np.repeat(station[None, :], n_steps, axis=0)
    phase = np.zeros(n_steps, dtype=np.int8)
    for k, (d, route) in enumerate(zip(drops, arrays, strict=True)):
        before = track[d.t_start - 1] if d.t_start > 0 else station
        if d.t_mid > d.t_start and np.linalg.norm(route[0] - before) > 1e-6:
            raise RecoveryInputError(
                where,
                [
                    f"routes[{k}] starts at {np.round(route[0], 3).tolist()} but the station is at "
                    f"{np.round(before, 3).tolist()} when drop {k} starts (step {d.t_start}); "
                    "compute the route from there (recover_user does)"
                ],
            )
        track, phase = _apply_recovery(
            track,
            phase,
            station,
            user[:, :2],
            d,
            route,
            altitude_m=altitude_m,
            obs=obs,
            reach_tolerance_m=reach_tolerance_m,
        )
    return track, phase


def recovery_schedule(
    station_xyz_m: ArrayLike,
    user_track_m: ArrayLike,
    drop: Drop | Sequence[Drop],
    route: ArrayLike | RecoveryRoute | Sequence[ArrayLike | RecoveryRoute],
    *,
    altitude_m: float,
    city: City | None = None,
    clearance_m: float = 0.0,
    height_margin_m: float = 0.0,
    reach_tolerance_m: float = 1.0,
) -> FloatArray:
    """The station's position at every step around one or several drops (paper 000 §VII-B).

    Outside the drops the station is at ``station_xyz_m``. For a drop ``[t_s, t_e]`` with
    ``n_r = floor(T_d / 2)``:

    * reaction, steps ``t_s .. t_m - 1``: the ``n_r`` points equally spaced in arc length along
      the route (:func:`sample_route`), the last one the route's end;
    * stationary, steps ``t_m .. t_e``: hovering at ``altitude_m`` over the user, at the closest
      point keeping ``clearance_m`` from the buildings taller than ``altitude_m -
      height_margin_m`` when ``city`` is given (a user under or beside a tall building). A move
      whose straight segment would come closer than ``clearance_m`` goes through the route's
      safety guard instead (shortened and slid along the building, or not made). If the route
      ends farther than ``reach_tolerance_m`` from that hover point over ``d_m`` (the route
      stalled), the station hovers at the route's end instead;
    * return, from ``t_e + 1``: the reaction points in reverse order (preceded, only if the
      straight move back to the route's end is unsafe, by the stationary positions retraced),
      then the route's start.

    A return phase runs past the end of the series truncated. Several drops are applied in time
    order; a drop that starts while the station is still returning from the previous one
    interrupts the return (its route must start where the station is at ``t_s - 1``, as
    :func:`recover_user` computes it), and the interrupted return resumes after its own return.
    Drops with ``T_d < 2`` leave the track unchanged.

    Args:
        station_xyz_m: ``(3,)`` deployed position [m].
        user_track_m: ``(T, 3)`` (or ``(T, 2)``) user positions at every step [m].
        drop: a :class:`Drop`, or a sequence of them in time order.
        route: ``(K, 3)`` route waypoints [m] (or a :class:`RecoveryRoute`), or one per drop.
        altitude_m: flight altitude [m].
        city: the city, to keep the hover positions clear of tall buildings (None: no check).
        clearance_m: c_b [m].
        height_margin_m: buildings taller than ``altitude_m - height_margin_m`` count [m].
        reach_tolerance_m: distance [m] within which the route counts as having reached d_m.

    Returns:
        ``(T, 3)`` station positions [m].

    Raises:
        RecoveryInputError: bad shapes, drops outside the series or overlapping, a route not
            starting where the station is (every problem listed).
    """
    if isinstance(drop, Drop):
        drops: Sequence[Drop] = [drop]
        routes: Sequence[ArrayLike | RecoveryRoute] = [route]  # type: ignore[list-item]
    else:
        drops = list(drop)
        routes = list(route)  # type: ignore[arg-type]
    track, _ = _schedule(
        station_xyz_m,
        user_track_m,
        drops,
        routes,
        altitude_m=altitude_m,
        city=city,
        clearance_m=clearance_m,
        height_margin_m=height_margin_m,
        reach_tolerance_m=reach_tolerance_m,
        where="recovery_schedule",
    )
    return track


# --------------------------------------------------------------------------------- all together


@dataclass(frozen=True)
class Recovery:
    """Drops of a critical user and the station's recovery (paper 000 §VII).

    Attributes:
        drops: the detected drops.
        routes: one recovery route per drop.
        station_track_m: ``(T, 3)`` station position at every step [m].
        phase: ``(T,)`` phase codes (:data:`PHASES`: deployed, reaction, stationary, return).
        notes: notes of the routes, prefixed with their drop.
    """

    drops: tuple[Drop, ...]
    routes: tuple[RecoveryRoute, ...]
    station_track_m: FloatArray
    phase: IntArray
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly record (the track rounded to the millimetre)."""
        return {
            "drops": [d.to_dict() for d in self.drops],
            "routes": [r.to_dict() for r in self.routes],
            "station_track_m": np.round(self.station_track_m, 3).tolist(),
            "phase": [PHASES[int(c)] for c in self.phase],
            "notes": list(self.notes),
        }


def recover_user(
    power_w: ArrayLike,
    user_track_m: ArrayLike,
    station_xyz_m: ArrayLike,
    city: City,
    *,
    altitude_m: float,
    clearance_m: float,
    t_min_w: float = PAPER_T_MIN_W,
    c_min: int = PAPER_C_MIN,
    s_p: int = PAPER_S_P,
    peak_counting: PeakCounting = "consecutive",
    height_margin_m: float = 0.0,
    learning_rate: float = 6.0,
    patience: int = 3,
    lr_factor: float = 0.5,
    max_iterations: int = 2000,
    kappa_b: float = 0.5,
    eta: float = 1.0,
) -> Recovery:
    """Detect the drops of a critical user and plan the station's recovery (paper 000 §VII).

    :func:`detect_drops` on ``power_w``; for each drop in time order, :func:`recovery_route`
    from where the station is at ``t_s - 1`` (its deployed position unless it is still returning
    from an earlier drop) to the user's position at ``t_m``; then the schedule of
    :func:`recovery_schedule`. The caller computes the power before (and, with
    ``station_track_m``, after) on the engine of its choice.

    Args:
        power_w: ``(T,)`` received power of the user from the station [W].
        user_track_m: ``(T, 3)`` user positions at the same steps [m].
        station_xyz_m: ``(3,)`` the station's deployed position [m] (z = ``altitude_m``).
        city: the city.
        altitude_m: flight altitude [m].
        clearance_m: c_b [m] (``fleet.building_clearance_m``).
        t_min_w, c_min, s_p, peak_counting: detection settings (:func:`detect_drops`).
        height_margin_m: buildings taller than ``altitude_m - height_margin_m`` are obstacles.
        learning_rate, patience, lr_factor, max_iterations, kappa_b, eta: route settings
            (:func:`recovery_route`).

    Returns:
        The drops, routes, station track and phases.

    Raises:
        RecoveryInputError: bad input, or ``power_w`` and ``user_track_m`` of different lengths.
    """
    drops = detect_drops(
        power_w, t_min_w=t_min_w, c_min=c_min, s_p=s_p, peak_counting=peak_counting
    )
    n_power = np.asarray(power_w).shape[0]
    user = np.asarray(user_track_m, dtype=np.float64) if _is_numeric(user_track_m) else None
    if user is None or user.ndim != 2 or user.shape[0] != n_power:
        raise RecoveryInputError(
            "recover_user",
            [
                f"user_track_m must have shape ({n_power}, 3): one position per power sample, "
                f"got {None if user is None else user.shape}"
            ],
        )
    problems: list[str] = []
    station = _point(station_xyz_m, 3, "station_xyz_m", problems)
    if problems:
        raise RecoveryInputError("recover_user", problems)
    assert station is not None

    routes: list[RecoveryRoute] = []
    notes: list[str] = []
    track = np.repeat(station[None, :], n_power, axis=0)
    phase = np.zeros(n_power, dtype=np.int8)
    kept: list[Drop] = []
    for k, d in enumerate(drops):
        if d.t_mid == d.t_start:
            notes.append(f"drop {k} [{d.t_start}, {d.t_end}]: T_d < 2 steps, no recovery")
        start = track[d.t_start - 1] if d.t_start > 0 else station
        route = recovery_route(
            city,
            start,
            user[d.t_mid, :2],
            altitude_m=altitude_m,
            clearance_m=clearance_m,
            learning_rate=learning_rate,
            patience=patience,
            lr_factor=lr_factor,
            max_iterations=max_iterations,
            kappa_b=kappa_b,
            eta=eta,
            height_margin_m=height_margin_m,
        )
        routes.append(route)
        kept.append(d)
        notes += [f"drop {k} [{d.t_start}, {d.t_end}]: {n}" for n in route.notes]
        track, phase = _schedule(
            station,
            user,
            kept,
            routes,
            altitude_m=altitude_m,
            city=city,
            clearance_m=clearance_m,
            height_margin_m=height_margin_m,
            reach_tolerance_m=1.0,
            where="recover_user",
        )
    return Recovery(
        drops=tuple(drops),
        routes=tuple(routes),
        station_track_m=track,
        phase=phase,
        notes=tuple(notes),
    )
