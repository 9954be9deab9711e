"""The flight controller: six per-axis laws in cascade (paper 002 §3.3 and Table 5's six
channels), a reference to follow, and the plant inversion that gives every axis Table 1's
dynamics.

Every step of the simulator:

1. the position laws (x, y, z) see the tracking error ``e = p - p_ref`` and its rate and return
   an acceleration ``a_rel`` (every law period; a change is ramped in linearly over the period,
   which the synthesised abstraction's rate-limit model allows);
2. the desired acceleration ``a = a_ref + a_rel`` (plus the known parasite drag on the
   nonlinear model) is turned into a thrust and roll / pitch targets
   (:func:`skycell.flight.dynamics.thrust_and_attitude_targets`);
3. the attitude laws (roll, pitch, yaw) see angle, rate and target and return an angular
   acceleration, turned into torques (:func:`skycell.flight.dynamics.torques_for_euler_accel`);
4. the wrench is clipped to the thrust and torque limits of the parameter set.

The laws are either synthesised lookups (:mod:`skycell.flight.synthesis`) or PID loops
(:mod:`skycell.flight.pid`); :func:`synthesized_controller` and :func:`pid_controller` build the
two families with the same limits and the same structure.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.flight._util import clip
from skycell.flight.dynamics import (
    Model,
    QuadcopterParams,
    drag_acceleration,
    positions_velocities_angles,
    thrust_and_attitude_targets,
    torques_for_euler_accel,
)
from skycell.flight.pid import PIDGains, PIDLaw
from skycell.flight.synthesis import (
    AxisSpec,
    SynthesisStats,
    SynthesizedAxis,
    TargetLaw,
    TrackingLaw,
    synthesize_axis,
)

FloatArray = NDArray[np.float64]

#: The six channels in Table 5's order.
AXES: tuple[str, ...] = ("x", "y", "z", "roll", "pitch", "yaw")
POSITION_AXES: tuple[str, ...] = ("x", "y", "z")
ATTITUDE_AXES: tuple[str, ...] = ("roll", "pitch", "yaw")


# ---------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Reference:
    """A reference sampled on the simulator's time grid (held after its last sample).

    Attributes:
        dt_s: sample step [s].
        position_m, velocity_m_s, accel_m_s2: ``(T, N, 3)``.
        yaw_rad: ``(T, N)``.
    """

    dt_s: float
    position_m: FloatArray
    velocity_m_s: FloatArray
    accel_m_s2: FloatArray
    yaw_rad: FloatArray

    @property
    def steps(self) -> int:
        """Number of samples."""
        return int(self.position_m.shape[0])

    def sample(self, step: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Position, velocity, acceleration ``(N, 3)`` and yaw ``(N,)`` at a step."""
        k = min(max(step, 0), self.steps - 1)
        if k < step:  # past the end: hold the last position at rest
            z = np.zeros_like(self.velocity_m_s[k])
            return self.position_m[k], z, z, self.yaw_rad[k]
        return self.position_m[k], self.velocity_m_s[k], self.accel_m_s2[k], self.yaw_rad[k]


def hold_reference(position_m: FloatArray, *, yaw_rad: float = 0.0, dt_s: float) -> Reference:
    """A constant set point: hold ``(N, 3)`` positions [m] with the given yaw [rad]."""
    p = np.asarray(position_m, dtype=np.float64).reshape(1, -1, 3)
    z = np.zeros_like(p)
    return Reference(dt_s, p, z, z, np.full((1, p.shape[1]), yaw_rad))


# ---------------------------------------------------------------------------- law adapters


class PositionLaw(Protocol):
    """A translational law: acceleration [m/s^2] from tracking errors ``p - p_ref`` and
    ``p' - p_ref'`` ``(N,)``; ``ramp``: whether a change of its output is ramped in over the
    period (rate-limited levels) or applied at once."""

    period_s: float
    ramp: bool

    def reset(self, n: int) -> None:
        """Prepare ``n`` vehicles."""

    def accel(self, error: FloatArray, rate_error: FloatArray) -> FloatArray:
        """The acceleration to add to the reference's."""


class AttitudeLaw(Protocol):
    """An attitude law: angular acceleration [rad/s^2] from angle, rate and target ``(N,)``."""

    period_s: float

    def reset(self, n: int) -> None:
        """Prepare ``n`` vehicles."""

    def accel(
        self, angle: FloatArray, rate: FloatArray, target: FloatArray, target_rate: FloatArray
    ) -> FloatArray:
        """The angular acceleration to apply."""


@dataclass
class SynthPosition:
    """A :class:`~skycell.flight.synthesis.TrackingLaw` as a position law."""

    law: TrackingLaw
    period_s: float = field(init=False)
    ramp: bool = field(init=False)

    def __post_init__(self) -> None:
        self.period_s = self.law.period_s
        self.ramp = self.law.spec.memory

    def reset(self, n: int) -> None:
        """Reset the lookup's memory and monitor."""
        self.law.reset(n)

    def accel(self, error: FloatArray, rate_error: FloatArray) -> FloatArray:
        """Table lookup."""
        return self.law(error, rate_error)


@dataclass
class SynthAttitude:
    """A :class:`~skycell.flight.synthesis.TargetLaw` as an attitude law."""

    law: TargetLaw
    period_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.period_s = self.law.spec.period_s

    def reset(self, n: int) -> None:
        """Reset the monitor."""
        self.law.reset(n)

    def accel(
        self, angle: FloatArray, rate: FloatArray, target: FloatArray, target_rate: FloatArray
    ) -> FloatArray:
        """Table lookup."""
        return self.law(angle, rate, target, target_rate)


@dataclass
class PIDPosition:
    """A PID loop as a position law (error sign flipped: PID wants ``target - measured``)."""

    law: PIDLaw
    period_s: float = field(init=False)
    ramp: bool = False

    def __post_init__(self) -> None:
        self.period_s = self.law.period_s

    def reset(self, n: int) -> None:
        """Zero the integrators."""
        self.law.reset(n)

    def accel(self, error: FloatArray, rate_error: FloatArray) -> FloatArray:
        """PID output."""
        return self.law(-np.asarray(error), -np.asarray(rate_error))


@dataclass
class PIDAttitude:
    """A PID loop as an attitude law (derivative on the rate error)."""

    law: PIDLaw
    period_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.period_s = self.law.period_s

    def reset(self, n: int) -> None:
        """Zero the integrators."""
        self.law.reset(n)

    def accel(
        self, angle: FloatArray, rate: FloatArray, target: FloatArray, target_rate: FloatArray
    ) -> FloatArray:
        """PID output."""
        return self.law(
            np.asarray(target) - np.asarray(angle), np.asarray(target_rate) - np.asarray(rate)
        )


# ---------------------------------------------------------------------------- the cascade


class CascadeController:
    """Six laws in cascade with the plant inversion (see the module docstring); the simulator's
    :class:`~skycell.flight.dynamics.WrenchController`.

    Args:
        params: the drone.
        position: laws for ``x``, ``y``, ``z``.
        attitude: laws for ``roll``, ``pitch``, ``yaw``.
        reference: what to follow.
        model: the plant model the inversion assumes (``nonlinear`` or ``linear``).
        dt_s: the simulator's step; every law's period must be a multiple of it.
        compensate_drag: add the known parasite drag to the desired acceleration (nonlinear).
    """

    def __init__(
        self,
        params: QuadcopterParams,
        *,
        position: dict[str, PositionLaw],
        attitude: dict[str, AttitudeLaw],
        reference: Reference,
        model: Model,
        dt_s: float,
        compensate_drag: bool = True,
    ) -> None:
        missing = [a for a in POSITION_AXES if a not in position] + [
            a for a in ATTITUDE_AXES if a not in attitude
        ]
        if missing:
            raise SkycellError(f"CascadeController: no law for axes {', '.join(missing)}")
        self.params = params
        self.position = position
        self.attitude = attitude
        self.reference = reference
        self.model: Model = model
        self.dt_s = dt_s
        self.compensate_drag = compensate_drag and model == "nonlinear"
        self._every: dict[str, int] = {}
        periods = {n: law.period_s for n, law in position.items()}
        periods.update({n: law.period_s for n, law in attitude.items()})
        for name, period in periods.items():
            ratio = period / dt_s
            if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
                raise SkycellError(
                    f"the {name} law's period {period:g} s is not a multiple of the "
                    f"simulator step {dt_s:g} s"
                )
            self._every[name] = round(ratio)
        self._a_rel = np.zeros((0, 3))
        self._a_prev = np.zeros((0, 3))
        self._alpha = np.zeros((0, 3))
        self._targets_prev = np.zeros((0, 3))
        self.targets: list[FloatArray] = []

    def reset(self, state: FloatArray) -> None:
        """Reset every law for the vehicles of ``state``."""
        n = np.asarray(state).shape[0]
        for law in self.position.values():
            law.reset(n)
        for att in self.attitude.values():
            att.reset(n)
        self._a_rel = np.zeros((n, 3))
        self._a_prev = np.zeros((n, 3))
        self._alpha = np.zeros((n, 3))
        self._targets_prev = np.zeros((0, 3))
        self.targets = []

    def wrench(self, step: int, t_s: float, state: FloatArray) -> FloatArray:
        """The commanded wrench ``(N, 4)`` at a step."""
        p = self.params
        frac = np.ones(3)
        pos, vel, ang, rate = positions_velocities_angles(state, self.model)
        p_ref, v_ref, a_ref, yaw_ref = self.reference.sample(step)
        err = pos - p_ref
        err_rate = vel - v_ref
        for a, name in enumerate(POSITION_AXES):
            every = self._every[name]
            if step % every == 0:
                self._a_prev[:, a] = self._a_rel[:, a]
                self._a_rel[:, a] = self.position[name].accel(err[:, a], err_rate[:, a])
            # first-order hold: the level's change is ramped in over the period, which the
            # abstraction allows (the acceleration lies between the old and the new level)
            ramped = self.position[name].ramp
            frac[a] = min(1.0, ((step % every) + 1) / every) if ramped else 1.0
        accel = a_ref + self._a_prev + (self._a_rel - self._a_prev) * frac[None, :]
        if self.compensate_drag:
            accel = accel - drag_acceleration(p, vel)
        yaw = ang[:, 2]
        u1, phi_t, theta_t = thrust_and_attitude_targets(p, accel, yaw, ang, model=self.model)
        tilt = p.max_tilt_rad
        targets = np.stack([clip(phi_t, -tilt, tilt), clip(theta_t, -tilt, tilt), yaw_ref], axis=1)
        wrapped = ang.copy()
        wrapped[:, 2] = yaw_ref + _wrap(ang[:, 2] - yaw_ref)
        if self._targets_prev.shape != targets.shape:
            self._targets_prev = targets.copy()
        target_rate = (targets - self._targets_prev) / self.dt_s
        self._targets_prev = targets.copy()
        for a, name in enumerate(ATTITUDE_AXES):
            if step % self._every[name] == 0:
                self._alpha[:, a] = self.attitude[name].accel(
                    wrapped[:, a], rate[:, a], targets[:, a], target_rate[:, a]
                )
        torque = torques_for_euler_accel(p, state, self._alpha, model=self.model)
        lim = np.asarray(p.torque_limits_nm)
        torque = clip(torque, -lim, lim)
        lo, hi = p.thrust_range_n
        u1 = clip(u1, lo, hi)
        return np.column_stack([u1, torque])


def _wrap(angle: FloatArray) -> FloatArray:
    return np.asarray((np.asarray(angle) + math.pi) % (2.0 * math.pi) - math.pi)


# ---------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class ControllerSpecs:
    """The abstractions of one use of the synthesised controller: position axes (tracking,
    error coordinates), attitude axes (absolute safety) and their error-coordinate twins (the
    cost), plus the acceleration budget the reference may use.

    Attributes:
        x, y, z: translational axes [m].
        roll, pitch, yaw: attitude safety axes [rad].
        roll_cost, pitch_cost, yaw_cost: attitude cost axes (same quanta, error coordinates).
        reference_accel_m_s2: largest reference acceleration per axis [m/s^2].
        reference_speed_m_s: largest reference speed [m/s].
    """

    x: AxisSpec
    y: AxisSpec
    z: AxisSpec
    roll: AxisSpec
    pitch: AxisSpec
    yaw: AxisSpec
    roll_cost: AxisSpec
    pitch_cost: AxisSpec
    yaw_cost: AxisSpec
    reference_accel_m_s2: float
    reference_speed_m_s: float

    def all(self) -> dict[str, AxisSpec]:
        """Every axis by name."""
        return {k: v for k, v in asdict_shallow(self).items() if isinstance(v, AxisSpec)}

    @property
    def horizontal_tube_m(self) -> float:
        """Largest horizontal distance from the reference the invariant allows [m]."""
        return math.hypot(self.x.n_pos + 0.5, self.y.n_pos + 0.5) * self.x.position_quantum

    @property
    def vertical_tube_m(self) -> float:
        """Largest vertical distance from the reference the invariant allows [m]."""
        return (self.z.n_pos + 0.5) * self.z.position_quantum


def asdict_shallow(obj: object) -> dict[str, object]:
    """Fields of a dataclass without recursing (``asdict`` would turn specs into dicts)."""
    return {k: getattr(obj, k) for k in obj.__dataclass_fields__}  # type: ignore[attr-defined]


def _attitude_specs(
    params: QuadcopterParams, *, horizon_steps: int
) -> tuple[AxisSpec, AxisSpec, AxisSpec, AxisSpec]:
    """Roll/pitch (shared) and yaw safety and cost axes from the drone's limits."""
    alpha_rp = params.angular_accel_limits_rad_s2[0]
    rp_quantum = 0.02  # rad/s per velocity cell; level 2 rad/s^2 at 0.01 s
    rp_levels = math.floor(alpha_rp / (rp_quantum / 0.01) * 0.7)
    if rp_levels < 2:
        raise SkycellError(
            f"{params.name}: roll/pitch torque authority {alpha_rp:.2f} rad/s^2 is too small for "
            "the attitude abstraction (needs >= 5.7 rad/s^2); raise roll_pitch_share_n"
        )
    rp = AxisSpec(
        name="pitch",
        unit="rad",
        period_s=0.01,
        velocity_quantum=rp_quantum,
        position_ratio=5,
        input_ratio=1,
        position_limit=params.max_tilt_rad,
        velocity_limit=params.max_rate_rad_s,
        input_levels=rp_levels,
        disturbance=0.5,
        horizon_steps=horizon_steps,
    )
    rp_cost = replace(rp, name="pitch-cost", position_limit=1.25 * params.max_tilt_rad)
    alpha_y = params.angular_accel_limits_rad_s2[2]
    yaw_quantum = 0.01
    yaw_levels = math.floor(alpha_y / (yaw_quantum / 0.05) * 0.9)
    if yaw_levels < 1:
        raise SkycellError(
            f"{params.name}: yaw torque authority {alpha_y:.3f} rad/s^2 is below 0.22 rad/s^2; "
            "raise yaw_share_n or yaw_moment_per_thrust_m"
        )
    yaw = AxisSpec(
        name="yaw",
        unit="rad",
        period_s=0.05,
        velocity_quantum=yaw_quantum,
        position_ratio=2,
        input_ratio=1,
        position_limit=0.5,
        velocity_limit=params.max_yaw_rate_rad_s,
        input_levels=yaw_levels,
        disturbance=0.5,
        horizon_steps=40,
    )
    yaw_cost = replace(yaw, name="yaw-cost", position_limit=0.36)
    return rp, rp_cost, yaw, yaw_cost


def _check_budget(
    params: QuadcopterParams, specs: ControllerSpecs, *, cruise_speed_m_s: float
) -> None:
    """The translational budgets must respect the tilt and thrust limits (the invariant's
    thrust and attitude limits): reference plus control plus drag compensation."""
    g = params.gravity_m_s2
    drag = 0.5 * params.air_density_kg_m3 * params.drag_area_m2 / params.mass_kg
    v = cruise_speed_m_s + specs.x.velocity_limit
    a_h = specs.reference_accel_m_s2 + specs.x.input_levels * specs.x.accel_quantum + drag * v * v
    a_z = specs.z.input_levels * specs.z.accel_quantum  # routes fly level: no vertical reference
    tilt = math.atan2(math.hypot(a_h, a_h), g - a_z)
    per_axis = math.atan2(a_h, g - a_z)
    problems = []
    if per_axis > params.max_tilt_rad or tilt > params.max_tilt_rad * 1.25:
        problems.append(
            f"the horizontal budget ({a_h:.2f} m/s^2 per axis) needs {math.degrees(tilt):.1f} deg "
            f"of tilt, more than max_tilt {math.degrees(params.max_tilt_rad):.1f} deg allows"
        )
    lo, hi = params.thrust_range_n
    cos_tilt = math.cos(params.max_tilt_rad) ** 2
    need_hi = params.mass_kg * (g + a_z) / cos_tilt
    need_lo = params.mass_kg * (g - a_z)
    if need_hi > hi or need_lo < lo:
        problems.append(
            f"the vertical budget +-{a_z:.2f} m/s^2 needs {need_lo:.0f}..{need_hi:.0f} N of "
            f"thrust, outside the thrust range {lo:.0f}..{hi:.0f} N"
        )
    if problems:
        raise SkycellError(f"{params.name}: " + "; ".join(problems))


def _tracking_specs(
    params: QuadcopterParams,
    *,
    horizontal_tube_m: float,
    vertical_tube_m: float,
    velocity_error_m_s: float,
    horizontal_levels: int,
    vertical_levels: int,
    disturbance_m_s2: float,
    horizon_steps: int,
    reference_accel_m_s2: float,
    reference_speed_m_s: float,
) -> ControllerSpecs:
    base = AxisSpec(
        name="x",
        unit="m",
        period_s=0.1,
        velocity_quantum=0.05,
        position_ratio=1,
        input_ratio=1,
        position_limit=horizontal_tube_m,
        velocity_limit=velocity_error_m_s,
        input_levels=horizontal_levels,
        slew_levels=1,
        disturbance=disturbance_m_s2,
        horizon_steps=horizon_steps,
    )
    # thrust acts on z directly (no attitude lag): its levels may jump, no memory
    z = replace(
        base,
        name="z",
        position_limit=vertical_tube_m,
        input_levels=vertical_levels,
        slew_levels=None,
    )
    rp, rp_cost, yaw, yaw_cost = _attitude_specs(params, horizon_steps=40)
    return ControllerSpecs(
        x=base,
        y=replace(base, name="y"),
        z=z,
        roll=replace(rp, name="roll"),
        pitch=rp,
        yaw=yaw,
        roll_cost=replace(rp_cost, name="roll-cost"),
        pitch_cost=rp_cost,
        yaw_cost=yaw_cost,
        reference_accel_m_s2=reference_accel_m_s2,
        reference_speed_m_s=reference_speed_m_s,
    )


def route_specs(
    params: QuadcopterParams,
    *,
    cruise_speed_m_s: float,
    horizontal_tube_m: float = 0.6,
    vertical_tube_m: float = 0.5,
    velocity_error_m_s: float = 1.5,
    reference_accel_m_s2: float = 1.0,
    disturbance_m_s2: float = 0.2,
    horizon_steps: int = 30,
) -> ControllerSpecs:
    """Abstractions for flying routes: tracking a reference within a tube.

    The position limit of the x, y and z invariants is the tube half-width, so "the building
    clearance along the route" is part of the safety objective: a reference that keeps
    ``c_b + horizontal_tube`` from every building keeps the drone ``c_b`` away. Velocity errors
    are bounded by ``velocity_error_m_s``; the control acceleration by 1.5 m/s^2 horizontally
    and 1.0 m/s^2 vertically (levels of 0.5 m/s^2 at 0.1 s; horizontally one level change per
    step: the tilt-rate limit), and a disturbance of ``disturbance_m_s2`` covers the attitude loop's
    residual tracking error. The cost adds a level-change penalty to the distance (no
    chattering; z, whose thrust acts without lag and has no rate limit, a level penalty). The
    budget (reference plus control plus drag) is checked against the tilt and thrust limits.
    """
    if cruise_speed_m_s + velocity_error_m_s > params.max_speed_m_s:
        raise SkycellError(
            f"cruise speed {cruise_speed_m_s:g} m/s plus the tracking margin "
            f"{velocity_error_m_s:g} m/s exceeds {params.name}'s max speed "
            f"{params.max_speed_m_s:g} m/s; fly slower"
        )
    specs = _tracking_specs(
        params,
        horizontal_tube_m=horizontal_tube_m,
        vertical_tube_m=vertical_tube_m,
        velocity_error_m_s=velocity_error_m_s,
        horizontal_levels=3,
        vertical_levels=2,
        disturbance_m_s2=disturbance_m_s2,
        horizon_steps=horizon_steps,
        reference_accel_m_s2=reference_accel_m_s2,
        reference_speed_m_s=cruise_speed_m_s,
    )
    # tracking: a level change costs like 10 cells (5 cm) of error for a step, so the
    # distance-minimising policy does not chatter between levels (which would shake the tilt)
    specs = replace(
        specs,
        x=replace(specs.x, slew_weight=10.0),
        y=replace(specs.y, slew_weight=10.0),
        z=replace(specs.z, input_weight=2.0),
    )
    _check_budget(params, specs, cruise_speed_m_s=cruise_speed_m_s)
    return specs


def near_field_specs(params: QuadcopterParams, *, disturbance_m_s2: float = 0.2) -> ControllerSpecs:
    """The fine controller nested inside :func:`step_specs`' (no reference to share the
    acceleration budget with: the step responses' full 4 m/s^2 horizontally and 2 m/s^2
    vertically, in the route tube's fine cells; worst-case cost on z, where the mean cost
    overshoots by a few cells)."""
    specs = _tracking_specs(
        params,
        horizontal_tube_m=0.6,
        vertical_tube_m=0.6,
        velocity_error_m_s=1.5,
        horizontal_levels=8,
        vertical_levels=4,
        disturbance_m_s2=disturbance_m_s2,
        horizon_steps=30,
        reference_accel_m_s2=0.0,
        reference_speed_m_s=0.0,
    )
    # z: velocity cells of a quarter of a level's change per step (input ratio 4), so the
    # quantisation's +-1 cell per step of nondeterminism costs 0.125 m/s^2 of the braking the
    # worst-case cost plans with, not 0.5; 2.5 mm position cells
    z = replace(specs.z, cost="worst", velocity_quantum=0.0125, input_ratio=4, position_ratio=2)
    return replace(specs, z=z)


def step_specs(
    params: QuadcopterParams,
    *,
    horizontal_step_m: float,
    vertical_step_m: float,
    speed_limit_m_s: float = 5.0,
    disturbance_m_s2: float = 0.2,
    horizon_steps: int = 30,
) -> ControllerSpecs:
    """Abstractions for step responses (Table 5), the far-field controller: the position
    limit covers the step (20 % margin), velocities up to ``speed_limit_m_s``, accelerations up
    to 4 m/s^2 horizontally and 2 m/s^2 vertically in levels of 0.5 m/s^2 at 0.2 s with two
    level changes per step, worst-case cost (the coarse cells' nondeterminism makes the mean
    cost overshoot); on z finer velocity cells and the cost on the nominal plant (see below).
    :func:`near_field_specs` gives the fine controller nested inside it."""
    base = AxisSpec(
        name="x",
        unit="m",
        period_s=0.2,
        velocity_quantum=0.1,
        position_ratio=2,
        input_ratio=1,
        position_limit=1.2 * horizontal_step_m,
        velocity_limit=speed_limit_m_s,
        input_levels=8,
        slew_levels=2,
        disturbance=disturbance_m_s2,
        horizon_steps=horizon_steps,
        cost="worst",
    )
    # z (thrust, no lag): finer velocity cells (input ratio 4, 2 cm position cells) and the
    # cost-to-go on the nominal plant (cost_disturbance 0; safety still assumes the
    # disturbance): the worst case over the disturbance and the coarse cells otherwise plans
    # the braking with ~1.5 of the 2 m/s^2 and stops early
    z = replace(
        base,
        name="z",
        position_limit=1.2 * vertical_step_m,
        input_levels=4,
        slew_levels=None,
        velocity_quantum=0.025,
        input_ratio=4,
        position_ratio=4,
        cost_disturbance=0.0,
    )
    rp, rp_cost, yaw, yaw_cost = _attitude_specs(params, horizon_steps=40)
    return ControllerSpecs(
        x=base,
        y=replace(base, name="y"),
        z=z,
        roll=replace(rp, name="roll"),
        pitch=rp,
        yaw=yaw,
        roll_cost=replace(rp_cost, name="roll-cost"),
        pitch_cost=rp_cost,
        yaw_cost=yaw_cost,
        reference_accel_m_s2=0.0,
        reference_speed_m_s=0.0,
    )


# ---------------------------------------------------------------------------- synthesis cache

_MEMORY_CACHE: dict[str, SynthesizedAxis] = {}
_CACHE_VERSION = "flight-synthesis-1"


def spec_key(spec: AxisSpec) -> str:
    """A content hash of an axis (its name excluded: x and y share one table)."""
    data = {k: v for k, v in asdict(spec).items() if k != "name"}
    if data.get("cost_disturbance") is None:  # keys of specs without it stay as they were
        data.pop("cost_disturbance", None)
    text = json.dumps({"v": _CACHE_VERSION, **data}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def default_cache_dir() -> Path:
    """``$SKYCELL_CACHE_DIR`` or ``$XDG_CACHE_HOME/skycell`` (``~/.cache/skycell``), plus
    ``flight``."""
    root = os.environ.get("SKYCELL_CACHE_DIR")
    if root:
        return Path(root) / "flight"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "skycell" / "flight"


def synthesize_cached(
    spec: AxisSpec, *, optimise_cost: bool = True, cache_dir: Path | None = None
) -> SynthesizedAxis:
    """:func:`~skycell.flight.synthesis.synthesize_axis` with an in-process cache and, when
    ``cache_dir`` is given, tables kept on disk (``.npz``, keyed by the spec's content)."""
    key = spec_key(spec) + ("-q" if optimise_cost else "-s")
    hit = _MEMORY_CACHE.get(key)
    if hit is not None:
        return SynthesizedAxis(
            spec=spec,
            invariant=hit.invariant,
            safe_inputs=hit.safe_inputs,
            q_cost=hit.q_cost,
            policy=hit.policy,
            stats=hit.stats,
        )
    path = cache_dir / f"{key}.npz" if cache_dir is not None else None
    axis: SynthesizedAxis | None = None
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                stats = SynthesisStats(**json.loads(str(data["stats"])))
                axis = SynthesizedAxis(
                    spec=spec,
                    invariant=data["invariant"],
                    safe_inputs=data["safe_inputs"],
                    q_cost=data["q_cost"] if "q_cost" in data else None,
                    policy=data["policy"] if "policy" in data else None,
                    stats=stats,
                )
            if axis.invariant.shape != spec.grid_shape:
                axis = None
        except (OSError, ValueError, KeyError, TypeError):
            axis = None
    if axis is None:
        axis = synthesize_axis(spec, optimise_cost=optimise_cost)
        if path is not None:
            _save_axis(axis, path)
    _MEMORY_CACHE[key] = axis
    return axis


def _save_axis(axis: SynthesizedAxis, path: Path) -> None:
    from skycell.fileio import atomic_write

    arrays: dict[str, NDArray[np.generic]] = {
        "invariant": axis.invariant,
        "safe_inputs": axis.safe_inputs,
        "stats": np.asarray(json.dumps(asdict(axis.stats))),
    }
    if axis.q_cost is not None:
        arrays["q_cost"] = axis.q_cost
    if axis.policy is not None:
        arrays["policy"] = axis.policy
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays), suffix=".npz")  # type: ignore[arg-type]
    except OSError:
        pass  # a cache that cannot be written is only slower


@dataclass(frozen=True)
class SynthesizedTables:
    """The synthesised axes of one :class:`ControllerSpecs`."""

    specs: ControllerSpecs
    axes: dict[str, SynthesizedAxis]

    def stats(self) -> dict[str, dict[str, object]]:
        """Per-axis synthesis facts."""
        return {name: ax.stats.to_dict() for name, ax in self.axes.items()}


def synthesize_controller(
    specs: ControllerSpecs, *, cache_dir: Path | None = None
) -> SynthesizedTables:
    """Synthesise (or load) every axis of ``specs``."""
    axes: dict[str, SynthesizedAxis] = {}
    for name, spec in specs.all().items():
        is_safety = name in ATTITUDE_AXES
        axes[name] = synthesize_cached(spec, optimise_cost=not is_safety, cache_dir=cache_dir)
    return SynthesizedTables(specs=specs, axes=axes)


def synthesized_laws(
    tables: SynthesizedTables, *, fine: SynthesizedTables | None = None
) -> tuple[dict[str, PositionLaw], dict[str, AttitudeLaw]]:
    """Fresh lookup laws (own memories and monitors) for the tables; with ``fine`` the
    position axes nest ``fine``'s (near-field) controllers inside ``tables``' (see
    :class:`~skycell.flight.synthesis.TrackingLaw`)."""
    pos: dict[str, PositionLaw] = {
        a: SynthPosition(TrackingLaw(tables.axes[a], fine.axes[a] if fine else None))
        for a in POSITION_AXES
    }
    att: dict[str, AttitudeLaw] = {
        a: SynthAttitude(TargetLaw(tables.axes[a], tables.axes[f"{a}_cost"])) for a in ATTITUDE_AXES
    }
    return pos, att


def pid_laws(
    gains: dict[str, PIDGains],
    specs: ControllerSpecs,
    *,
    dt_s: float,
) -> tuple[dict[str, PositionLaw], dict[str, AttitudeLaw]]:
    """PID laws for the six axes, sampled every simulator step, with the same output limits as
    the synthesised controller's levels (``K a_q``)."""
    missing = [a for a in AXES if a not in gains]
    if missing:
        raise SkycellError(f"pid_laws: no gains for {', '.join(missing)}")
    all_specs = specs.all()
    pos: dict[str, PositionLaw] = {}
    att: dict[str, AttitudeLaw] = {}
    for a in POSITION_AXES:
        s = all_specs[a]
        lim = s.input_levels * s.accel_quantum
        pos[a] = PIDPosition(PIDLaw(gains[a], period_s=dt_s, output_limit=(-lim, lim)))
    for a in ATTITUDE_AXES:
        s = all_specs[a]
        lim = s.input_levels * s.accel_quantum
        att[a] = PIDAttitude(PIDLaw(gains[a], period_s=dt_s, output_limit=(-lim, lim)))
    return pos, att


def monitor_summary(
    position: dict[str, PositionLaw], attitude: dict[str, AttitudeLaw]
) -> dict[str, dict[str, int]]:
    """Per-axis totals of the synthesised laws' run-time checks (empty for PID laws):
    ``violations`` (realised transitions outside the abstraction), ``exits`` (states found
    outside the invariant) and ``steps``."""
    out: dict[str, dict[str, int]] = {}
    for name, law in [*position.items(), *attitude.items()]:
        inner = getattr(law, "law", None)
        mon = getattr(inner, "monitor", None)
        if mon is not None:
            out[name] = {
                "violations": int(mon.violations.sum()),
                "exits": int(mon.exits.sum()),
                "steps": int(mon.steps),
            }
    return out
