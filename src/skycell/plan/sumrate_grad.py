"""Eq. 5 as a differentiable function of the UAV position, and its multi-start Adam ascent.

``gradient-sumrate`` (:func:`skycell.plan.place_sumrate.place_gradient_sumrate`) maximises

    J(p) = r(p) - eta P_b(p)

over the continuous UAV position ``p = (x, y, z)``: ``r`` is paper 001's reward (eq. 5, the
rank-averaged ZF sum rate) and ``P_b = sum_b exp(kappa_b (c_b - d_b(p)))`` is paper 000 eq. 6's
building penalty with ``d_b`` the 3-D distance to building ``b``'s box (eq. 7 plus the height
above its roof) and ``c_b = fleet.building_clearance_m``. Everything from the position to the
rate is torch:

* **Analytic engine** — exact: distances, departure directions, the element pattern of the
  downward array (:func:`skycell.radio.antenna_torch.pattern_gain_dbi_torch`), the user pattern,
  the steering vectors and the engine's own path-loss model (evaluated by
  :func:`skycell.radio.pathloss.path_loss_db`; its derivative with respect to the 3-D and
  horizontal distances and the UAV height by central differences, 1 mm, the models being smooth
  in each LoS state). The geometric LoS of each link is recomputed at every iterate and held
  while differentiating (it is piecewise constant), so the value at every iterate is the exact
  eq. 5 of that position.
* **Sionna RT** — ray tracing gives no position gradient here (DESIGN: Sionna's gradients with
  respect to transmitter position come back as zero), so the paths traced at an *anchor* are
  moved with the UAV by the image method: a path of length ``L`` leaving along ``k`` reaches the
  user as if from the virtual point ``v = p_0 + L k`` (exact for the direct path and specular
  reflections on planes, and for Sionna's straight-through refraction), so at ``p`` its length is
  ``|v - p|``, its direction ``(v - p) / |v - p|`` and its amplitude scales as ``L / |v - p|``
  (spherical spreading; interaction coefficients and patterns held). The ascent differentiates
  the *large-scale* channel: each path keeps its anchor's carrier phase while its amplitude and
  departure direction move. At 28 GHz the coherent sum of paths fades over a wavelength (1 cm),
  far below any hover accuracy, so the exact phase would make the gradient follow fading ripples
  rather than the geometry (measured: starts barely move). A start is re-traced when it has
  moved ``sumrate.gradient.trust_radius_m`` from its anchor; exact values (for picking the
  result) are those of traced anchors, and the final positions are traced once more.

User selection (the greedy order of :func:`skycell.radio.beamforming.greedy_user_order`) is
recomputed at every iterate and held while differentiating, like LoS. Every start moves by Adam
(step scale ``learning_rate_m``), is clipped to the positioning volume, and a step that would end
within ``c_b`` of a building box is not taken (the start stays, as paper 000's hard guard). A
start stops after ``patience`` steps without improving its best exact value; the result is the
best exact value over all starts and iterates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray

from skycell.plan.tune import torch_threads
from skycell.radio.antenna_torch import pattern_gain_dbi_torch
from skycell.radio.beamforming import greedy_user_order, rank_average_sum_rate_torch, wavelength_m
from skycell.radio.pathloss import path_loss_db

if TYPE_CHECKING:
    from skycell.plan.place_sumrate import SumRateProblem
    from skycell.radio.beamforming import PathSet

FloatArray = NDArray[np.float64]

#: Central-difference step of the path-loss derivative [m].
FD_STEP_M = 1e-3


class _NumpyPathLoss(torch.autograd.Function):
    """Path loss [dB] from a numpy model, with central-difference derivatives in d3, d2, h."""

    @staticmethod
    def forward(
        ctx: Any,
        d3: torch.Tensor,
        d2: torch.Tensor,
        hs: torch.Tensor,
        fn: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
    ) -> torch.Tensor:
        x = [t.detach().cpu().numpy().astype(np.float64) for t in (d3, d2, hs)]
        value = fn(*x)
        grads = []
        for i in range(3):
            up = list(x)
            dn = list(x)
            up[i] = x[i] + FD_STEP_M
            dn[i] = np.maximum(x[i] - FD_STEP_M, 0.0)
            grads.append((fn(*up) - fn(*dn)) / (up[i] - dn[i]))
        ctx.save_for_backward(*(torch.from_numpy(np.asarray(g, np.float64)) for g in grads))
        return torch.from_numpy(np.asarray(value, dtype=np.float64))

    @staticmethod
    def backward(
        ctx: Any, grad_out: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None]:
        g3, g2, gh = ctx.saved_tensors
        return grad_out * g3, grad_out * g2, grad_out * gh, None


def analytic_channel_torch(
    problem: SumRateProblem, positions: torch.Tensor
) -> tuple[torch.Tensor, NDArray[np.bool_]]:
    """``(S, K, M_T)`` complex channels at ``(S, 3)`` positions, differentiable (analytic
    engine; equals :meth:`SumRateProblem.channels` to rounding), and the held ``(S, K)`` LoS."""
    from skycell.radio.engine import MIN_DISTANCE_M, AnalyticEngine

    engine = problem.engine
    assert isinstance(engine, AnalyticEngine)
    users_np = problem.users_xyz_m
    users = torch.from_numpy(users_np)
    p_np = positions.detach().cpu().numpy().astype(np.float64)
    los = engine.line_of_sight(p_np, users_np)
    delta = users[None, :, :] - positions[:, None, :]
    d3 = torch.clamp(torch.linalg.vector_norm(delta, dim=-1), min=MIN_DISTANCE_M)
    d2 = torch.sqrt(delta[..., 0] ** 2 + delta[..., 1] ** 2 + 1e-24)
    hs = positions[:, 2:3].expand_as(d3)
    hu = np.broadcast_to(users_np[None, :, 2], d3.shape)

    def loss(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
        return path_loss_db(
            engine.pathloss_model,
            np.maximum(a, MIN_DISTANCE_M),
            frequency_hz=engine.frequency_hz,
            los=los,
            station_height_m=c,
            user_height_m=hu,
            horizontal_distance_m=b,
            environment=engine.environment,
        )

    apply: Any = _NumpyPathLoss.apply  # torch types Function.apply loosely
    pl: torch.Tensor = apply(d3, d2, hs, loss)
    zero = torch.zeros((), dtype=torch.float64)
    g_st = pattern_gain_dbi_torch(
        engine.station_antenna, delta, zero, torch.tensor(math.pi / 2, dtype=torch.float64)
    )
    g_us = pattern_gain_dbi_torch(engine.user_antenna, -delta, zero, zero)
    amp = torch.pow(10.0, (g_st + g_us - pl) / 20.0)
    k0 = 2.0 * math.pi / wavelength_m(engine.frequency_hz)
    direction = delta / d3[..., None]
    offsets = torch.from_numpy(problem.offsets_m)
    phase = -k0 * d3[..., None] + k0 * (direction @ offsets.T)
    return torch.polar(amp[..., None].expand_as(phase), phase), los


def anchored_channel_torch(
    problem: SumRateProblem,
    anchors: PathSet,
    positions: torch.Tensor,
    *,
    frozen_phase: bool = False,
) -> torch.Tensor:
    """``(S, K, M_T)`` channels at ``(S, 3)`` positions extrapolated from the paths traced at
    the anchors (one anchor per position) by the image method (see the module docstring).

    ``frozen_phase=True`` keeps each path's carrier phase at its anchor value while its
    amplitude and direction follow the geometry: the large-scale channel, smooth in the position
    (multipath fading, which changes over a wavelength, is left out of the gradient)."""
    frequency = anchors.frequency_hz
    k0 = 2.0 * math.pi / wavelength_m(frequency)
    valid = torch.from_numpy(anchors.valid)
    length = torch.from_numpy(anchors.length_m)
    direction = torch.from_numpy(anchors.direction)
    a = torch.from_numpy(np.where(anchors.valid, anchors.amplitude, 0.0))
    origin = torch.from_numpy(anchors.station_xyz_m)
    virtual = origin[:, None, None, :] + length[..., None] * direction  # (S, K, P, 3)
    w = virtual - positions[:, None, None, :]
    dist = torch.clamp(torch.linalg.vector_norm(w, dim=-1), min=1e-3)
    k_new = w / dist[..., None]
    amp = torch.where(valid, length / dist, torch.zeros_like(dist))
    phase_len = length if frozen_phase else dist
    coef = a * amp * torch.exp(-1j * k0 * phase_len)
    offsets = torch.from_numpy(problem.offsets_m)
    steer = torch.exp(1j * k0 * (k_new @ offsets.T))  # (S, K, P, M)
    return (coef[..., None] * steer).sum(dim=-2)


def building_penalty_torch(problem: SumRateProblem, positions: torch.Tensor) -> torch.Tensor:
    """``(S,)`` paper 000 eq. 6 on 3-D box distances: ``sum_b exp(kappa_b (c_b - d_b))``."""
    cfg = problem.scenario.sumrate.gradient
    if problem.boxes_m.shape[0] == 0:
        return torch.zeros(positions.shape[0], dtype=torch.float64)
    bx = torch.from_numpy(problem.boxes_m)
    px, py, pz = positions[:, 0:1], positions[:, 1:2], positions[:, 2:3]
    dx = torch.clamp(torch.maximum(bx[None, :, 0] - px, px - bx[None, :, 2]), min=0.0)
    dy = torch.clamp(torch.maximum(bx[None, :, 1] - py, py - bx[None, :, 3]), min=0.0)
    dz = torch.clamp(pz - bx[None, :, 4], min=0.0)
    d = torch.sqrt(dx * dx + dy * dy + dz * dz + 1e-12)
    return torch.exp(cfg.kappa_b * (problem.clearance_m - d)).sum(dim=-1)


@dataclass(frozen=True)
class AscentResult:
    """Outcome of :func:`ascend`.

    Attributes:
        best_m: the position with the best exact eq. 5 value [m].
        best_value_bps_hz: that value [bit/s/Hz].
        iterations: Adam steps taken (the longest start).
        evaluations: positions whose channel was computed exactly (analytic: every iterate of
            every start; Sionna: traced anchors).
        start_values_bps_hz: ``(S,)`` exact value at each start.
        final_values_bps_hz: ``(S,)`` best exact value of each start.
        final_positions_m: ``(S, 3)`` where each start found it [m].
        trajectory_m: ``(T, 3)`` iterates of the winning start [m].
        wall_time_s: time of the ascent [s].
    """

    best_m: FloatArray
    best_value_bps_hz: float
    iterations: int
    evaluations: int
    start_values_bps_hz: FloatArray
    final_values_bps_hz: FloatArray
    final_positions_m: FloatArray
    trajectory_m: FloatArray
    wall_time_s: float


def ascend(
    problem: SumRateProblem,
    starts_m: FloatArray,
    *,
    progress: Callable[[str, float], None] | None = None,
) -> AscentResult:
    """Multi-start Adam ascent on ``J = r - eta P_b`` (see the module docstring).

    Args:
        problem: the sum-rate problem (its engine decides analytic or anchored channels).
        starts_m: ``(S, 3)`` feasible starting positions [m].
        progress: optional ``progress(stage, fraction)``, every 10 steps.
    """
    t0 = time.perf_counter()
    cfg = problem.scenario.sumrate.gradient
    with torch_threads(1):
        return _ascend(problem, np.asarray(starts_m, dtype=np.float64), cfg, progress, t0)


def _ascend(
    problem: SumRateProblem,
    starts: FloatArray,
    cfg: Any,
    progress: Callable[[str, float], None] | None,
    t0: float,
) -> AscentResult:
    sionna = problem.engine_kind == "sionna"
    n = starts.shape[0]
    lo = torch.tensor(problem.bounds_m[:3], dtype=torch.float64)
    hi = torch.tensor(problem.bounds_m[3:], dtype=torch.float64)
    p = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=cfg.learning_rate_m)
    best_val = np.full(n, -np.inf)
    best_pos = starts.copy()
    since = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    history = [starts.copy()]
    evaluations = 0
    anchors: PathSet | None = None
    anchor_pos = starts.copy()
    start_vals = np.zeros(n)

    def exact(xyz: FloatArray) -> tuple[FloatArray, PathSet]:
        ps = problem.paths(xyz)
        res = problem.zf(ps.channel(problem.offsets_m))
        return res.average_sum_rate_bps_hz, ps

    if sionna:
        start_vals, anchors = exact(starts)
        evaluations += n
        best_val = start_vals.copy()
    it = 0
    for it in range(1, cfg.iterations + 1):
        if sionna:
            assert anchors is not None
            h = anchored_channel_torch(problem, anchors, p, frozen_phase=True)
        else:
            h, _ = analytic_channel_torch(problem, p)
        order = greedy_user_order(h.detach().numpy(), problem.max_rank)
        r = rank_average_sum_rate_torch(
            h,
            torch.from_numpy(order),
            tx_power_w=problem.tx_power_w,
            noise_power_w=problem.noise_power_w,
        )
        pos_np = p.detach().numpy().copy()
        if not sionna:
            vals = r.detach().numpy()
            evaluations += int(active.sum())
            if it == 1:
                start_vals = vals.copy()
            ok = problem.feasible(pos_np) & active
            better = ok & (vals > best_val + 1e-12)
            best_val[better] = vals[better]
            best_pos[better] = pos_np[better]
            since = np.where(better, 0, since + 1)
            active &= since < cfg.patience
        if not active.any():
            break
        objective = r - cfg.penalty_weight * building_penalty_torch(problem, p)
        mask = torch.from_numpy(active.astype(np.float64))
        opt.zero_grad()
        (-(objective * mask).sum()).backward()
        opt.step()
        with torch.no_grad():
            p.copy_(torch.minimum(torch.maximum(p, lo), hi))
            new = p.detach().numpy()
            refuse = ~problem.feasible(new) | ~active
            if refuse.any():
                p[torch.from_numpy(refuse)] = torch.from_numpy(pos_np[refuse])
        new = p.detach().numpy().copy()
        history.append(new)
        if sionna:
            assert anchors is not None
            far = np.linalg.norm(new - anchor_pos, axis=1) > cfg.trust_radius_m
            far &= active
            if far.any():
                vals, fresh = exact(new[far])
                evaluations += int(far.sum())
                anchors = _replace_anchors(anchors, fresh, np.flatnonzero(far))
                anchor_pos[far] = new[far]
                idx = np.flatnonzero(far)
                better = vals > best_val[idx] + 1e-12
                best_val[idx[better]] = vals[better]
                best_pos[idx[better]] = new[idx[better]]
                since[idx[better]] = 0
                since[idx[~better]] += 1
                active[idx[~better & (since[idx] >= cfg.patience)]] = False
        if progress is not None and it % 10 == 0:
            progress(f"gradient-sumrate: step {it}", it / cfg.iterations)
    if sionna:  # the final positions, traced
        final = p.detach().numpy().copy()
        moved = np.linalg.norm(final - anchor_pos, axis=1) > 1e-9
        if moved.any():
            vals, _ = exact(final[moved])
            evaluations += int(moved.sum())
            idx = np.flatnonzero(moved)
            better = vals > best_val[idx]
            best_val[idx[better]] = vals[better]
            best_pos[idx[better]] = final[idx[better]]
    win = int(np.argmax(best_val))
    traj = np.array([h_[win] for h_ in history])
    return AscentResult(
        best_m=best_pos[win],
        best_value_bps_hz=float(best_val[win]),
        iterations=it,
        evaluations=evaluations,
        start_values_bps_hz=np.asarray(start_vals, dtype=np.float64),
        final_values_bps_hz=best_val,
        final_positions_m=best_pos,
        trajectory_m=traj,
        wall_time_s=time.perf_counter() - t0,
    )


def _replace_anchors(old: PathSet, fresh: PathSet, rows: NDArray[np.int64]) -> PathSet:
    """``old`` with the anchors ``rows`` replaced by ``fresh`` (paths padded to a common P)."""
    from skycell.radio.beamforming import PathSet

    width = max(old.valid.shape[-1], fresh.valid.shape[-1])

    def pad(x: NDArray[Any], fill: Any) -> NDArray[Any]:
        extra = width - x.shape[2]
        if extra <= 0:
            return x
        shape = list(x.shape)
        shape[2] = extra
        return np.concatenate([x, np.full(shape, fill, dtype=x.dtype)], axis=2)

    fields = {}
    for name, fill in (
        ("amplitude", 0.0),
        ("length_m", 1.0),
        ("direction", 0.0),
        ("valid", False),
        ("los", False),
    ):
        a = pad(getattr(old, name), fill).copy()
        a[rows] = pad(getattr(fresh, name), fill)
        fields[name] = a
    st = old.station_xyz_m.copy()
    st[rows] = fresh.station_xyz_m
    return PathSet(station_xyz_m=st, frequency_hz=old.frequency_hz, **fields)


__all__ = [
    "FD_STEP_M",
    "AscentResult",
    "analytic_channel_torch",
    "anchored_channel_torch",
    "ascend",
    "building_penalty_torch",
]
