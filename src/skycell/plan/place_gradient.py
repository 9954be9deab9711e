"""Gradient-based placement and routing of airborne base stations (paper 000 §V-A, eqs. 1-7).

Every station is a particle in the XY-plane at the fixed hover altitude ``h``; the loss

    L_p = -alpha K + beta P_a + gamma P_u + eta P_b                                   (eq. 1)

is minimised with Adam, and the sequence of iterates of each station is its route. The loss and its
gradient are written out analytically in numpy (checked against finite differences in the tests),
so an iteration costs tens of microseconds for ten stations instead of an autodiff graph.

Readings of the paper (the text conversion garbled some of it; each choice is the physically
sensible one and is written here once):

* Eq. 1 scales the attraction P_a by beta and the repulsion P_u by gamma, as eq. 1 and the
  hyper-parameter discussion of §V-C1 say (beta = 1.0 "standard weight for AOI attraction",
  gamma = 0.8 "allows necessary clustering near AOIs"); Fig. 4's caption writes gamma P_a, which
  contradicts both and is not followed.
* Eq. 3 sums over all ordered pairs; the i = j terms are the constant d_min with an undefined
  gradient, so they are left out (the loss shifts by the constant N d_min, the optimum does not).
* Eq. 4 prints ``exp(-kappa_a ||p_i - c_k|| - r_k)``; read literally the factor exp(-r_k) ~ e^-250
  makes the term vanish in floating point. We read it as ``exp(-kappa_a (||p_i - c_k|| - r_k))``:
  equal to 1 on the AOI rim, e^5 ~ 148 at the centre for r_k = 250 m — the "exponential pull toward
  the centre" the text describes.
* Eq. 5 uses the modified sigmoid sigma(z, t, kappa) = 1 / (1 + exp(-kappa (z - t))) with
  kappa = -kappa_i, i.e. ~1 for a station inside 2 r_k / 3 and ~0 outside, so
  omega_k ~ exp(-#stations inside). Its gradient is taken through omega_k as autodiff would.
* Eq. 2 is maximised (the loss has -alpha K), exactly as written: the term rewards stations for
  being far from the nearest grid point, which, against the repulsion, spreads spare stations into
  a lattice between the grid points. With alpha = 0.01 it is a small perturbation.
* Eq. 6 excludes "buildings that have heights below the hovering elevation (plus a tolerance of
  15 m)". Read literally (penalise height > h + 15 m), a station at h flies straight through
  buildings 70-85 m tall: on the generated downtown, 86 % of the 50 five-AOI runs of the Fig. 5
  protocol had a route through one (S_AOI 0.972). skycell penalises exactly the buildings a
  station at the hover altitude can hit, height > h + ``penalty_height_offset_m`` with offset 0
  (every route collision-free, S_AOI 0.948 on the same runs); +15 reproduces the literal
  reading, -15 adds a vertical margin (S_AOI 0.928: twice the obstacles, more stalls).

A safety layer the paper does not have (``hard_clearance_m``): Adam normalises the gradient per
coordinate and carries momentum, so a station moving ~3-6 m per step can cut the corner of a
building before the exponential barrier (length scale 1/kappa_b = 2 m) turns it — seen on the
generated downtown in about one run in thirty. After every Adam step, a station closer than
``hard_clearance_m`` (default 5 m = c_b / 3) to an obstacle box is projected back onto that
distance, and a step whose straight segment would still cross a box is not taken (the station
stays put for that iteration). The soft barrier still aims for c_b; the hard guard is smaller so
that a station can still pass between two tall buildings across a 20 m street (a hard 15 m would
need 30 m gaps and strands stations). The loss and the optimiser are otherwise untouched;
``hard_clearance_m=None`` gives the paper's unconstrained behaviour.

Speed: barrier terms of boxes farther than 70 m from every station are below e^-27 and are left
out of the optimiser's loss; the set of nearby boxes (within 170 m) is refreshed whenever a
station has moved 100 m since the last refresh, so the result is the exact loss to ~1e-12.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from skycell.city.buildings import bbox_distance_m

if TYPE_CHECKING:
    from skycell.city.buildings import City

FloatArray = NDArray[np.float64]

#: Adam's epsilon; TensorFlow's default, which paper 000's implementation used.
ADAM_EPSILON = 1e-7


@dataclass(frozen=True)
class GradientPlacementParams:
    """Hyper-parameters of paper 000 Table III (defaults are the paper's values).

    Attributes:
        alpha: scale of the coverage factor K (eq. 1).
        beta: scale of the attraction penalty P_a (eq. 1).
        gamma: scale of the repulsion penalty P_u (eq. 1).
        eta: scale of the collision penalty P_b (eq. 1).
        kappa_a: steepness of the attraction exponential (eq. 4) [1/m].
        kappa_b: steepness of the collision penalty (eq. 6) [1/m].
        kappa_i: steepness of the modified sigmoid (eq. 5) [1/m].
        min_separation_m: d_min of eq. 3 [m].
        building_clearance_m: c_b of eq. 6 [m].
        altitude_m: hover elevation h [m].
        penalty_height_offset_m: buildings taller than ``altitude_m + offset`` enter P_b [m].
        grid_points: reference points per axis of the grid G (eq. 2).
        grid_margin_m: margin m_e of the grid from the map edges [m].
        learning_rate: Adam learning rate (l_r) [m per step, roughly].
        max_iterations: iteration limit.
        patience: early-stopping patience [iterations without improvement].
        min_delta: improvement of the loss that resets the patience counter.
        hard_clearance_m: distance [m] from obstacle boxes that the safety layer enforces after
            every step (``None``: off).
    """

    alpha: float = 0.01
    beta: float = 1.0
    gamma: float = 0.8
    eta: float = 1.0
    kappa_a: float = 0.02
    kappa_b: float = 0.5
    kappa_i: float = 0.25
    min_separation_m: float = 400.0
    building_clearance_m: float = 15.0
    altitude_m: float = 70.0
    penalty_height_offset_m: float = 0.0
    grid_points: int = 5
    grid_margin_m: float = 150.0
    learning_rate: float = 2.0
    max_iterations: int = 2500
    patience: int = 20
    min_delta: float = 0.0
    hard_clearance_m: float | None = 5.0


@dataclass(frozen=True, eq=False)
class PlacementProblem:
    """Everything of eq. 1 that does not change during the optimisation, precomputed once.

    Attributes:
        grid_xy_m: ``(G, 2)`` reference grid of eq. 2 [m].
        aoi_centers_m: ``(M, 2)`` AOI centres c_k [m].
        aoi_radii_m: ``(M,)`` AOI radii r_k [m].
        obstacle_bbox_m: ``(B, 4)`` bounding boxes of the buildings in P_b [m].
        params: the hyper-parameters.
    """

    grid_xy_m: FloatArray
    aoi_centers_m: FloatArray
    aoi_radii_m: FloatArray
    obstacle_bbox_m: FloatArray
    params: GradientPlacementParams

    @classmethod
    def build(
        cls,
        city: City,
        aoi_centers_m: FloatArray,
        aoi_radii_m: FloatArray,
        params: GradientPlacementParams,
    ) -> PlacementProblem:
        """Precompute the grid G (eq. 2) and the obstacle boxes of P_b (eqs. 6-7)."""
        x_min, y_min, x_max, y_max = city.bounds_m
        m = params.grid_margin_m
        gx = np.linspace(x_min + m, x_max - m, params.grid_points)
        gy = np.linspace(y_min + m, y_max - m, params.grid_points)
        grid = np.stack(np.meshgrid(gx, gy, indexing="xy"), axis=-1).reshape(-1, 2)
        tall = city.buildings.heights_m > params.altitude_m + params.penalty_height_offset_m
        return cls(
            grid_xy_m=grid,
            aoi_centers_m=np.asarray(aoi_centers_m, dtype=np.float64).reshape(-1, 2),
            aoi_radii_m=np.asarray(aoi_radii_m, dtype=np.float64).reshape(-1),
            obstacle_bbox_m=city.buildings.bbox_m[tall],
            params=params,
        )


@dataclass(frozen=True)
class LossTerms:
    """The terms of eq. 1 at one point (unscaled), and the total."""

    coverage_k: float
    attraction_pa: float
    repulsion_pu: float
    collision_pb: float
    total: float


def _unit_and_norm(diff: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Norms of the vectors along the last axis and unit vectors (zero where the norm is zero)."""
    norm = np.sqrt(np.einsum("...i,...i->...", diff, diff))
    safe = np.where(norm > 0.0, norm, 1.0)
    return diff / safe[..., None], norm


def collision_penalty_and_grad(
    positions_xy_m: FloatArray,
    obstacle_bbox_m: FloatArray,
    *,
    kappa_b: float,
    clearance_m: float,
    scale: float = 1.0,
) -> tuple[float, FloatArray]:
    """Collision penalty P_b of paper 000 eqs. 6-7 and the gradient of ``scale * P_b``.

    ``P_b = sum_i sum_b exp(kappa_b (c_b - d_ib))`` with ``d_ib`` the eq. 7 distance from station
    i to the bounding box of building b (zero inside the box, where the gradient is zero too).
    Shared by the placement loss (eq. 1, ``scale = eta``) and the recovery loss (eq. 22).

    Args:
        positions_xy_m: ``(N, 2)`` station positions p_i [m].
        obstacle_bbox_m: ``(B, 4)`` boxes ``[x_min, y_min, x_max, y_max]`` of the buildings in
            the penalty [m].
        kappa_b: steepness kappa_b [1/m].
        clearance_m: c_b [m].
        scale: factor applied to the gradient (eta of eq. 1); the value is returned unscaled.

    Returns:
        The unscaled P_b and the ``(N, 2)`` gradient of ``scale * P_b`` [1/m].
    """
    p = positions_xy_m
    grad = np.zeros_like(p)
    box = obstacle_bbox_m
    if not box.shape[0]:
        return 0.0, grad
    px = p[:, 0:1]
    py = p[:, 1:2]
    dx = np.maximum(np.maximum(box[None, :, 0] - px, px - box[None, :, 2]), 0.0)
    dy = np.maximum(np.maximum(box[None, :, 1] - py, py - box[None, :, 3]), 0.0)
    d = np.hypot(dx, dy)
    barrier = np.exp(kappa_b * (clearance_m - d))
    value = float(barrier.sum())
    # dd/dpx = sign * dx / d with sign -1 left of the box, +1 right of it (zero inside).
    sx = np.where(px < box[None, :, 0], -1.0, 1.0)
    sy = np.where(py < box[None, :, 1], -1.0, 1.0)
    inv = np.where(d > 0.0, 1.0 / np.where(d > 0.0, d, 1.0), 0.0)
    w = -scale * kappa_b * barrier * inv
    grad[:, 0] += np.sum(w * sx * dx, axis=1)
    grad[:, 1] += np.sum(w * sy * dy, axis=1)
    return value, grad


def placement_loss_and_grad(
    positions_xy_m: FloatArray,
    problem: PlacementProblem,
    *,
    obstacle_bbox_m: FloatArray | None = None,
) -> tuple[LossTerms, FloatArray]:
    """Loss L_p of paper 000 eq. 1 and its gradient with respect to the station positions.

    Args:
        positions_xy_m: ``(N, 2)`` station positions p_i [m].
        problem: the precomputed problem.
        obstacle_bbox_m: the boxes to use in P_b instead of all of ``problem``'s (the optimiser
            passes the ones near the stations).

    Returns:
        The loss terms (K eq. 2, P_a eq. 4 with omega eq. 5, P_u eq. 3, P_b eqs. 6-7) and the
        ``(N, 2)`` gradient dL_p/dp_i [1/m-scaled loss units].
    """
    pr = problem.params
    p = positions_xy_m
    grad = np.zeros_like(p)

    # K, eq. 2: sum over grid points of the distance to the nearest station.
    u_gp, d_gp = _unit_and_norm(p[None, :, :] - problem.grid_xy_m[:, None, :])  # (G, N)
    nearest = np.argmin(d_gp, axis=1)
    g_idx = np.arange(d_gp.shape[0])
    k_value = float(d_gp[g_idx, nearest].sum())
    np.add.at(grad, nearest, -pr.alpha * u_gp[g_idx, nearest])

    # P_u, eq. 3: hinge repulsion over ordered pairs i != j (each unordered pair counted twice).
    u_pp, d_pp = _unit_and_norm(p[:, None, :] - p[None, :, :])  # (N, N), u points from j to i
    hinge = np.maximum(0.0, pr.min_separation_m - d_pp)
    np.fill_diagonal(hinge, 0.0)
    pu_value = float(hinge.sum())
    active = (hinge > 0.0).astype(np.float64)
    grad -= 2.0 * pr.gamma * np.einsum("ij,ijk->ik", active, u_pp)

    # P_a, eqs. 4-5: attraction toward the AOIs with the occupancy weight omega_k.
    u_pc, d_pc = _unit_and_norm(p[:, None, :] - problem.aoi_centers_m[None, :, :])  # (N, M)
    r = problem.aoi_radii_m[None, :]
    # sigma(d, 2r/3, -kappa_i) = 1 / (1 + exp(kappa_i (d - 2r/3)))
    s = 0.5 * (1.0 - np.tanh(0.5 * pr.kappa_i * (d_pc - 2.0 * r / 3.0)))
    omega = np.exp(-s.sum(axis=0))  # (M,)
    expo = np.exp(-pr.kappa_a * (d_pc - r))  # (N, M)
    pa_value = float(np.sum(omega[None, :] * d_pc - (1.0 - omega[None, :]) * expo))
    # direct part: d/dd [omega d - (1 - omega) e] = omega + (1 - omega) kappa_a e
    coef = omega[None, :] + (1.0 - omega[None, :]) * pr.kappa_a * expo
    # through omega: dP_a/domega_k = sum_j (d_jk + e_jk); domega_k/dd_ik = -omega_k ds/dd,
    # ds/dd = -kappa_i s (1 - s)
    dpa_domega = (d_pc + expo).sum(axis=0)  # (M,)
    coef += dpa_domega[None, :] * omega[None, :] * pr.kappa_i * s * (1.0 - s)
    grad += pr.beta * np.einsum("im,imk->ik", coef, u_pc)

    # P_b, eqs. 6-7: exponential barrier around the bounding boxes of tall buildings.
    box = problem.obstacle_bbox_m if obstacle_bbox_m is None else obstacle_bbox_m
    pb_value, pb_grad = collision_penalty_and_grad(
        p, box, kappa_b=pr.kappa_b, clearance_m=pr.building_clearance_m, scale=pr.eta
    )
    grad += pb_grad

    total = -pr.alpha * k_value + pr.beta * pa_value + pr.gamma * pu_value + pr.eta * pb_value
    return LossTerms(k_value, pa_value, pu_value, pb_value, total), grad


@dataclass
class PlacementResult:
    """Outcome of a gradient placement run.

    Attributes:
        routes_xy_m: ``(T + 1, N, 2)`` positions of every station at every iterate [m]; the first
            row is the start, the last the final position.
        loss_history: ``(T + 1,)`` loss at every iterate.
        iterations: number of Adam steps taken (T).
        stop_reason: ``"early_stopping"`` or ``"max_iterations"``.
        seconds_per_iteration: wall time per iteration of the optimisation loop [s].
        final_terms: the loss terms at the final positions.
    """

    routes_xy_m: FloatArray
    loss_history: FloatArray
    iterations: int
    stop_reason: str
    seconds_per_iteration: float
    final_terms: LossTerms
    notes: list[str] = field(default_factory=list)

    @property
    def final_xy_m(self) -> FloatArray:
        """``(N, 2)`` final station positions [m]."""
        return np.asarray(self.routes_xy_m[-1], dtype=np.float64)


def optimise_placement(
    problem: PlacementProblem,
    start_xy_m: FloatArray,
    *,
    progress: object | None = None,
) -> PlacementResult:
    """Run Adam on eq. 1 from ``start_xy_m`` until early stopping or the iteration limit.

    Early stopping follows Keras' rule (paper 000 used TensorFlow): stop when the loss has not
    improved by more than ``min_delta`` on its best value for ``patience`` iterations.

    Args:
        problem: the precomputed problem.
        start_xy_m: ``(N, 2)`` initial positions [m].
        progress: optional callable ``progress(iteration, loss)`` called every 25 iterations.

    Returns:
        The routes, loss history and timing.
    """
    pr = problem.params
    p = np.array(start_xy_m, dtype=np.float64, copy=True)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    b1, b2 = 0.9, 0.999
    routes = np.empty((pr.max_iterations + 1, *p.shape))
    losses = np.empty(pr.max_iterations + 1)
    all_boxes = problem.obstacle_bbox_m
    clearance = pr.hard_clearance_m
    anchor = p.copy()
    boxes = _nearby_boxes(p, all_boxes)
    terms, grad = placement_loss_and_grad(p, problem, obstacle_bbox_m=boxes)
    routes[0] = p
    losses[0] = terms.total
    best = terms.total
    wait = 0
    stop_reason = "max_iterations"
    t = 0
    callback = progress if callable(progress) else None
    tic = time.perf_counter()
    for t in range(1, pr.max_iterations + 1):
        m = b1 * m + (1.0 - b1) * grad
        v = b2 * v + (1.0 - b2) * grad * grad
        step = pr.learning_rate * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        p_new = p - step * m / (np.sqrt(v) + ADAM_EPSILON)
        if clearance is not None and boxes.shape[0]:
            p_new = enforce_clearance(p, p_new, boxes, clearance)
        p = p_new
        if np.max(np.abs(p - anchor)) > _REFRESH_MOVE_M:
            anchor = p.copy()
            boxes = _nearby_boxes(p, all_boxes)
        terms, grad = placement_loss_and_grad(p, problem, obstacle_bbox_m=boxes)
        routes[t] = p
        losses[t] = terms.total
        if terms.total < best - pr.min_delta:
            best = terms.total
            wait = 0
        else:
            wait += 1
            if wait >= pr.patience:
                stop_reason = "early_stopping"
                break
        if callback is not None and t % 25 == 0:
            callback(t, terms.total)
    elapsed = time.perf_counter() - tic
    return PlacementResult(
        routes_xy_m=routes[: t + 1].copy(),
        loss_history=losses[: t + 1].copy(),
        iterations=t,
        stop_reason=stop_reason,
        seconds_per_iteration=elapsed / max(t, 1),
        final_terms=terms,
    )


#: Boxes within this distance of a station enter the optimiser's loss [m] (e^-27 beyond 70 m).
_NEAR_M = 170.0
#: A station that moved this far since the last refresh triggers a new nearby-box set [m].
_REFRESH_MOVE_M = 100.0 / np.sqrt(2.0)


def _nearby_boxes(p: FloatArray, boxes: FloatArray) -> FloatArray:
    """The boxes within ``_NEAR_M`` of any station."""
    if boxes.shape[0] == 0:
        return boxes
    return np.asarray(boxes[bbox_distance_m(p, boxes).min(axis=0) < _NEAR_M], dtype=np.float64)


def _segments_hit_boxes(a: FloatArray, b: FloatArray, boxes: FloatArray) -> NDArray[np.bool_]:
    """Whether each 2-D segment a->b ``(N, 2)`` crosses any axis-aligned box ``(B, 4)``
    (slab test, closed boxes)."""
    d = b - a  # (N, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t0 = (boxes[None, :, 0:2] - a[:, None, :]) * inv[:, None, :]  # (N, B, 2)
        t1 = (boxes[None, :, 2:4] - a[:, None, :]) * inv[:, None, :]
    tmin = np.minimum(t0, t1)
    tmax = np.maximum(t0, t1)
    # zero-length direction: inside the slab for all t, or never
    zero = d[:, None, :] == 0.0
    inside = (a[:, None, :] >= boxes[None, :, 0:2]) & (a[:, None, :] <= boxes[None, :, 2:4])
    tmin = np.where(zero, np.where(inside, -np.inf, np.inf), tmin)
    tmax = np.where(zero, np.where(inside, np.inf, -np.inf), tmax)
    enter = np.maximum(tmin.max(axis=2), 0.0)
    leave = np.minimum(tmax.min(axis=2), 1.0)
    return np.asarray((enter <= leave).any(axis=1))


def enforce_clearance(
    p_old: FloatArray, p_new: FloatArray, boxes: FloatArray, clearance_m: float
) -> FloatArray:
    """The safety layer: keep every station ``clearance_m`` away from the obstacle boxes.

    A station closer than ``clearance_m`` to a box is moved straight away from the box's nearest
    point until it is exactly ``clearance_m`` away (out through the nearest face when it is
    inside), up to three passes for stations between several boxes; a station still too close,
    or whose segment from ``p_old`` would cross a box, stays at ``p_old``.

    Args:
        p_old: ``(N, 2)`` positions before the step (assumed valid) [m].
        p_new: ``(N, 2)`` positions proposed by the optimiser [m].
        boxes: ``(B, 4)`` obstacle bounding boxes [m].
        clearance_m: required horizontal distance from every box [m].

    Returns:
        ``(N, 2)`` admissible positions [m].
    """
    lo = boxes[None, :, 0:2]
    hi = boxes[None, :, 2:4]
    p = p_new.copy()
    rows = np.arange(p.shape[0])
    for _ in range(3):
        q = np.clip(p[:, None, :], lo, hi)  # nearest box points (N, B, 2)
        diff = p[:, None, :] - q
        d = np.sqrt(np.einsum("nbk,nbk->nb", diff, diff))
        viol = d < clearance_m - 1e-9
        if not viol.any():
            break
        j = np.argmin(np.where(viol, d, np.inf), axis=1)
        bad = viol[rows, j]
        dj = d[rows, j]
        outside = bad & (dj > 0.0)
        if outside.any():
            k = rows[outside]
            p[k] = q[k, j[k]] + clearance_m * diff[k, j[k]] / dj[k, None]
        inner = bad & (dj <= 0.0)
        if inner.any():
            k = rows[inner]
            bx = boxes[j[k]]
            gaps = np.column_stack(
                (p[k, 0] - bx[:, 0], bx[:, 2] - p[k, 0], p[k, 1] - bx[:, 1], bx[:, 3] - p[k, 1])
            )
            face = np.argmin(gaps, axis=1)
            xs = np.where(face == 0, bx[:, 0] - clearance_m, bx[:, 2] + clearance_m)
            ys = np.where(face == 2, bx[:, 1] - clearance_m, bx[:, 3] + clearance_m)
            p[k, 0] = np.where(face < 2, xs, p[k, 0])
            p[k, 1] = np.where(face >= 2, ys, p[k, 1])
    q = np.clip(p[:, None, :], lo, hi)
    d = np.linalg.norm(p[:, None, :] - q, axis=-1).min(axis=1)
    keep_old = (d < clearance_m - 1e-6) | _segments_hit_boxes(p_old, p, boxes)
    p[keep_old] = p_old[keep_old]
    return p


def semi_random_start(
    city: City,
    n_stations: int,
    *,
    rng: np.random.Generator,
    launch_area_m: tuple[float, float, float, float],
    altitude_m: float,
    clearance_m: float,
    min_separation_m: float,
    max_draws: int = 200,
) -> FloatArray:
    """Semi-random initial positions (paper 000 §V-A, footnote 3).

    Positions are drawn uniformly in the launch area, rejecting those within ``clearance_m`` of
    any building whose roof is within ``clearance_m`` of the hover altitude (so that no station
    starts inside or against an obstacle), and those closer than ``min_separation_m`` to a
    station already placed ("do not cluster too closely"). If the separation cannot be met after
    ``max_draws`` batches, it is halved until it can.

    Args:
        city: the city.
        n_stations: number of stations N.
        rng: the run's random generator.
        launch_area_m: ``(x_min, y_min, x_max, y_max)`` [m].
        altitude_m: hover altitude h [m].
        clearance_m: c_b [m].
        min_separation_m: smallest distance between two start positions [m].
        max_draws: batches of candidates to try before relaxing the separation.

    Returns:
        ``(N, 2)`` start positions [m].
    """
    x0, y0, x1, y1 = launch_area_m
    tall = city.buildings.heights_m > altitude_m - clearance_m
    boxes = city.buildings.bbox_m[tall]
    sep = float(min_separation_m)
    chosen: list[FloatArray] = []
    draws = 0
    while len(chosen) < n_stations:
        cand = np.column_stack(
            (rng.uniform(x0, x1, 8 * n_stations), rng.uniform(y0, y1, 8 * n_stations))
        )
        if boxes.shape[0]:
            free = bbox_distance_m(cand, boxes).min(axis=1) >= clearance_m
            cand = cand[free]
        for c in cand:  # at most 8 N candidates per batch: not a hot path
            if len(chosen) == n_stations:
                break
            if not chosen or np.min(np.hypot(*(np.asarray(chosen) - c).T)) >= sep:
                chosen.append(c)
        draws += 1
        if draws % max_draws == 0 and len(chosen) < n_stations:
            if sep < 1e-3:
                raise ValueError(
                    "could not place the stations' start positions: the launch area has no room "
                    f"outside buildings within {clearance_m} m clearance; enlarge fleet.launch_area"
                )
            sep /= 2.0
    return np.asarray(chosen)
