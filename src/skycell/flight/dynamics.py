"""Quadcopter dynamics: paper 002's linearised model (§3.3, Tables 1-2), the nonlinear rigid-body
model of §2.1, the parameters of a representative base-station drone and a fixed-step simulator.

Frames and conventions (one set, used everywhere in :mod:`skycell.flight`):

* inertial frame: skycell's local metric frame, ``x`` east, ``y`` north, ``z`` up [m];
* body frame: ``x_b`` forward, ``y_b`` left, ``z_b`` up; the rotors' thrust acts along ``+z_b``;
* attitude: Z-Y-X Euler angles, roll ``phi`` about ``x_b``, pitch ``theta`` about ``y_b``, yaw
  ``psi`` about ``z``; ``R = Rz(psi) Ry(theta) Rx(phi)`` maps body to inertial vectors;
* the wrench the controllers command is Table 2's ``u = (u1, u2, u3, u4)``: total thrust [N] and
  the roll, pitch and yaw torques [N m].

Readings of paper 002 Table 1 (the text conversion lost two signs): linearised about hover with
``psi = 0`` the model is ``x'' = g theta``, ``y'' = -g phi``, ``z'' = -g + u1 / m``,
``phi'' = u2 / Ix``, ``theta'' = u3 / Iy``, ``psi'' = u4 / Iz``. The printed ``y'' = g phi`` and
``z'' = g + u1 / m`` contradict the paper's own dataflow equations of §3.3 (``L_y`` has ``- U2``,
``L_z`` has ``(U1 - g m)``) and the physics; the signs above follow those equations, and they
are exactly what :func:`nonlinear_derivative` gives when linearised (a test checks it).

§2.1's nonlinear model is implemented literally: body-frame translational dynamics
``u' = r v - q w + X / m`` (and the two others), Euler's rotational equations
``p' = (Iy - Iz) / Ix q r + L / Ix`` (and the two others), the Euler-angle kinematics and
``(x, y, z)' = R (u, v, w)``. The forces are the rotors' thrust, gravity and a parasite drag
``-1/2 rho S_FP |V| V`` whose equivalent flat-plate area ``S_FP = d0 s A`` is the same one the
energy model (:mod:`skycell.flight.energy`, Zeng et al. 2019) uses, so that the simulated drag and
the energy the route costs come from one set of numbers.

State vectors: the nonlinear model uses ``[x, y, z, u, v, w, phi, theta, psi, p, q, r]``
(positions [m], body velocities [m/s], angles [rad], body rates [rad/s]); the linearised one
``[x, y, z, phi, theta, psi, x', y', z', phi', theta', psi']``. Every function takes a batch of
``N`` vehicles, shape ``(N, 12)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.flight._util import clip

FloatArray = NDArray[np.float64]
Model = Literal["nonlinear", "linear"]

#: Standard gravity [m/s^2].
GRAVITY_M_S2 = 9.80665
#: Sea-level air density of the ISA [kg/m^3] (Zeng et al. 2019 Table I use 1.225).
AIR_DENSITY_KG_M3 = 1.225


@dataclass(frozen=True)
class QuadcopterParams:
    """Physical and aerodynamic parameters of an X-configuration quadcopter (paper 002 Table 2's
    ``m``, ``Ix``, ``Iy``, ``Iz`` and the limits the safety invariant of §3.3 refers to).

    Attributes:
        name: a label.
        mass_kg: take-off mass ``m`` including the base-station payload [kg].
        inertia_kg_m2: principal moments ``(Ix, Iy, Iz)`` [kg m^2].
        arm_length_m: hub-to-rotor distance ``l`` [m]; the rotors sit at ``(+-l', +-l')`` in
            the body frame, ``l' = l / sqrt 2``.
        rotor_radius_m: rotor (propeller) radius ``R`` [m].
        max_rotor_thrust_n: largest thrust of one rotor [N].
        yaw_moment_per_thrust_m: reaction torque of a rotor per newton of its thrust [m].
        roll_pitch_share_n: per-rotor thrust reserved for each of roll and pitch torque [N]:
            with it the torque limits ``|u2|, |u3| <= 4 l' share`` hold for every thrust in
            :attr:`thrust_range_n` without saturating any rotor (the invariant's "thrust
            limits").
        yaw_share_n: the same for the yaw torque [N].
        max_tilt_rad: largest roll and pitch angle [rad].
        max_rate_rad_s: largest roll/pitch rate [rad/s].
        max_yaw_rate_rad_s: largest yaw rate [rad/s].
        max_speed_m_s: largest horizontal speed [m/s].
        climb_speed_m_s: vertical speed of take-off and landing [m/s].
        blade_tip_speed_m_s: ``U_tip = Omega R`` [m/s].
        rotor_solidity: ``s``, blade area over disc area.
        profile_drag_coefficient: ``delta``.
        induced_power_factor: ``k``, incremental correction to the induced power.
        fuselage_drag_ratio: ``d0``.
        air_density_kg_m3: ``rho``.
        powertrain_efficiency: electrical to shaft power (motors, drivers) in ``(0, 1]``.
        payload_power_w: electrical power of the carried base station [W].
        motor_time_constant_s: first-order lag of each rotor's thrust [s]; 0 = ideal actuators
            (the default; the per-axis abstractions do not model a lag).
        gravity_m_s2: ``g``.
    """

    name: str
    mass_kg: float
    inertia_kg_m2: tuple[float, float, float]
    arm_length_m: float
    rotor_radius_m: float
    max_rotor_thrust_n: float
    yaw_moment_per_thrust_m: float
    roll_pitch_share_n: float
    yaw_share_n: float
    max_tilt_rad: float
    max_rate_rad_s: float
    max_yaw_rate_rad_s: float
    max_speed_m_s: float
    climb_speed_m_s: float
    blade_tip_speed_m_s: float
    rotor_solidity: float
    profile_drag_coefficient: float
    induced_power_factor: float
    fuselage_drag_ratio: float
    air_density_kg_m3: float = AIR_DENSITY_KG_M3
    powertrain_efficiency: float = 1.0
    payload_power_w: float = 0.0
    motor_time_constant_s: float = 0.0
    gravity_m_s2: float = GRAVITY_M_S2

    def __post_init__(self) -> None:
        problems = []
        positive = {
            "mass_kg": self.mass_kg,
            "arm_length_m": self.arm_length_m,
            "rotor_radius_m": self.rotor_radius_m,
            "max_rotor_thrust_n": self.max_rotor_thrust_n,
            "yaw_moment_per_thrust_m": self.yaw_moment_per_thrust_m,
            "max_tilt_rad": self.max_tilt_rad,
            "max_rate_rad_s": self.max_rate_rad_s,
            "max_yaw_rate_rad_s": self.max_yaw_rate_rad_s,
            "max_speed_m_s": self.max_speed_m_s,
            "climb_speed_m_s": self.climb_speed_m_s,
            "blade_tip_speed_m_s": self.blade_tip_speed_m_s,
            "rotor_solidity": self.rotor_solidity,
            "air_density_kg_m3": self.air_density_kg_m3,
            "gravity_m_s2": self.gravity_m_s2,
        }
        problems += [f"{k} must be > 0, got {v}" for k, v in positive.items() if not v > 0]
        if len(self.inertia_kg_m2) != 3 or not all(i > 0 for i in self.inertia_kg_m2):
            problems.append(f"inertia_kg_m2 must be three values > 0, got {self.inertia_kg_m2}")
        if not 0.0 < self.powertrain_efficiency <= 1.0:
            problems.append(
                f"powertrain_efficiency must be in (0, 1], got {self.powertrain_efficiency}"
            )
        if self.motor_time_constant_s < 0 or self.payload_power_w < 0:
            problems.append("motor_time_constant_s and payload_power_w must be >= 0")
        if self.max_tilt_rad >= math.pi / 2:
            problems.append(f"max_tilt_rad must be below pi/2, got {self.max_tilt_rad}")
        if not problems:
            lo, hi = self.thrust_range_n
            if not lo < self.hover_thrust_n < hi:
                problems.append(
                    f"the thrust range left by the torque shares ({lo:.1f}..{hi:.1f} N) does not "
                    f"contain the hover thrust m g = {self.hover_thrust_n:.1f} N; raise "
                    "max_rotor_thrust_n or lower roll_pitch_share_n / yaw_share_n"
                )
        if problems:
            raise SkycellError(f"quadcopter parameters {self.name!r}: " + "; ".join(problems))

    # ------------------------------------------------------------------ derived
    @property
    def weight_n(self) -> float:
        """``W = m g`` [N]."""
        return self.mass_kg * self.gravity_m_s2

    @property
    def hover_thrust_n(self) -> float:
        """Thrust that holds the drone level in hover, ``u1 = m g`` [N] (Table 1 at rest)."""
        return self.weight_n

    @property
    def arm_offset_m(self) -> float:
        """``l' = l / sqrt 2``: each rotor's distance from the body x and y axes [m]."""
        return self.arm_length_m / math.sqrt(2.0)

    @property
    def disc_area_m2(self) -> float:
        """Total rotor disc area ``A = 4 pi R^2`` [m^2]."""
        return 4.0 * math.pi * self.rotor_radius_m**2

    @property
    def drag_area_m2(self) -> float:
        """Fuselage equivalent flat-plate area ``S_FP = d0 s A`` [m^2] (Zeng et al. 2019)."""
        return self.fuselage_drag_ratio * self.rotor_solidity * self.disc_area_m2

    @property
    def torque_limits_nm(self) -> tuple[float, float, float]:
        """Largest ``|u2|, |u3|, |u4|`` [N m] that never saturate a rotor within
        :attr:`thrust_range_n`."""
        rp = 4.0 * self.arm_offset_m * self.roll_pitch_share_n
        yaw = 4.0 * self.yaw_moment_per_thrust_m * self.yaw_share_n
        return (rp, rp, yaw)

    @property
    def thrust_range_n(self) -> tuple[float, float]:
        """Total thrust ``u1`` [N] for which every torque within :attr:`torque_limits_nm` is
        feasible: each rotor keeps ``2 share_rp + share_yaw`` of headroom on both sides."""
        margin = 2.0 * self.roll_pitch_share_n + self.yaw_share_n
        return (4.0 * margin, 4.0 * (self.max_rotor_thrust_n - margin))

    @property
    def angular_accel_limits_rad_s2(self) -> tuple[float, float, float]:
        """``u_max / I`` per axis [rad/s^2]."""
        t = self.torque_limits_nm
        i = self.inertia_kg_m2
        return (t[0] / i[0], t[1] / i[1], t[2] / i[2])

    @property
    def rotor_xy_m(self) -> FloatArray:
        """``(4, 2)`` rotor positions in the body frame [m]: front-left, rear-left, rear-right,
        front-right."""
        a = self.arm_offset_m
        return np.array([[a, a], [-a, a], [-a, -a], [a, -a]])

    @property
    def rotor_spin(self) -> FloatArray:
        """Reaction-torque sign of each rotor about ``+z_b`` (diagonal pairs spin alike)."""
        return np.array([1.0, -1.0, 1.0, -1.0])

    @cached_property
    def allocation(self) -> FloatArray:
        """``(4, 4)`` matrix ``B`` with ``u = B f``: rotor thrusts ``f`` [N] to Table 2's wrench
        ``(u1, u2, u3, u4)``. Roll torque ``u2 = sum y_i f_i``, pitch ``u3 = -sum x_i f_i``,
        yaw ``u4 = sum s_i c f_i``."""
        xy = self.rotor_xy_m
        return np.vstack(
            [
                np.ones(4),
                xy[:, 1],
                -xy[:, 0],
                self.rotor_spin * self.yaw_moment_per_thrust_m,
            ]
        )

    @cached_property
    def allocation_inverse(self) -> FloatArray:
        """``B^-1``: wrench to rotor thrusts."""
        return np.asarray(np.linalg.inv(self.allocation))


def _representative_drone() -> QuadcopterParams:
    return QuadcopterParams(
        name="skycell-bs-quad",
        mass_kg=9.0,
        inertia_kg_m2=(0.35, 0.35, 0.60),
        arm_length_m=0.4475,
        rotor_radius_m=0.2667,
        max_rotor_thrust_n=44.1,
        yaw_moment_per_thrust_m=0.04,
        roll_pitch_share_n=3.5,
        yaw_share_n=4.0,
        max_tilt_rad=math.radians(25.0),
        max_rate_rad_s=1.5,
        max_yaw_rate_rad_s=0.3,
        max_speed_m_s=15.0,
        climb_speed_m_s=3.0,
        blade_tip_speed_m_s=100.0,
        rotor_solidity=0.095,
        profile_drag_coefficient=0.012,
        induced_power_factor=0.1,
        fuselage_drag_ratio=0.6,
        powertrain_efficiency=0.8,
        payload_power_w=100.0,
    )


#: A representative base-station quadcopter (heavy-lift class of a DJI Matrice 300 RTK:
#: 9 kg take-off mass with a small-cell payload, 895 mm wheelbase, 21-inch rotors, two 274 Wh
#: packs). Inertia from a point-mass / box decomposition (four 0.6 kg motor-rotor units at the
#: arm tips, a 5 kg 0.3 x 0.2 m body, 2.7 kg payload 0.15 m below); thrust-to-weight 2; tip
#: speed 100 m/s (about 3600 rpm); solidity of a two-blade rotor with 4 cm mean chord; profile
#: drag 0.012, induced-power factor 0.1 and fuselage drag ratio 0.6 as Zeng et al. (2019)
#: Table I; rotor torque-to-thrust ratio 0.04 m (C_Q / C_T of about 0.08 times the 0.53 m
#: diameter); powertrain efficiency 0.8; a 100 W payload (43 dBm radio head and baseband).
#: These are engineering estimates, not a manufacturer's data sheet: hover power about 0.97 kW.
BASE_STATION_QUAD = _representative_drone()


# ---------------------------------------------------------------------------- rotations


def rotation_matrix(phi: FloatArray, theta: FloatArray, psi: FloatArray) -> FloatArray:
    """``(N, 3, 3)`` body-to-inertial rotations ``R = Rz(psi) Ry(theta) Rx(phi)``."""
    cf, sf = np.cos(phi), np.sin(phi)
    ct, st = np.cos(theta), np.sin(theta)
    cp, sp = np.cos(psi), np.sin(psi)
    r = np.empty((np.shape(phi)[0], 3, 3))
    r[:, 0, 0] = cp * ct
    r[:, 0, 1] = cp * st * sf - sp * cf
    r[:, 0, 2] = cp * st * cf + sp * sf
    r[:, 1, 0] = sp * ct
    r[:, 1, 1] = sp * st * sf + cp * cf
    r[:, 1, 2] = sp * st * cf - cp * sf
    r[:, 2, 0] = -st
    r[:, 2, 1] = ct * sf
    r[:, 2, 2] = ct * cf
    return r


def euler_rate_matrix(phi: FloatArray, theta: FloatArray) -> FloatArray:
    """``(N, 3, 3)`` matrix ``W`` of §2.1.3 with ``(phi', theta', psi') = W (p, q, r)``."""
    cf, sf = np.cos(phi), np.sin(phi)
    ct, tt = np.cos(theta), np.tan(theta)
    w = np.zeros((np.shape(phi)[0], 3, 3))
    w[:, 0, 0] = 1.0
    w[:, 0, 1] = sf * tt
    w[:, 0, 2] = cf * tt
    w[:, 1, 1] = cf
    w[:, 1, 2] = -sf
    w[:, 2, 1] = sf / ct
    w[:, 2, 2] = cf / ct
    return w


def inertial_velocity(state: FloatArray) -> FloatArray:
    """``(N, 3)`` inertial velocity [m/s] of nonlinear states ``(N, 12)``: ``R (u, v, w)``."""
    s = np.asarray(state, dtype=np.float64)
    cf, sf = np.cos(s[:, 6]), np.sin(s[:, 6])
    ct, st = np.cos(s[:, 7]), np.sin(s[:, 7])
    cp, sp = np.cos(s[:, 8]), np.sin(s[:, 8])
    ub, vb, wb = s[:, 3], s[:, 4], s[:, 5]
    out = np.empty((s.shape[0], 3))
    out[:, 0] = cp * ct * ub + (cp * st * sf - sp * cf) * vb + (cp * st * cf + sp * sf) * wb
    out[:, 1] = sp * ct * ub + (sp * st * sf + cp * cf) * vb + (sp * st * cf - cp * sf) * wb
    out[:, 2] = -st * ub + ct * sf * vb + ct * cf * wb
    return out


def euler_rates(state: FloatArray) -> FloatArray:
    """``(N, 3)`` Euler-angle rates [rad/s] of nonlinear states: ``W (p, q, r)``."""
    s = np.asarray(state, dtype=np.float64)
    cf, sf = np.cos(s[:, 6]), np.sin(s[:, 6])
    ct, tt = np.cos(s[:, 7]), np.tan(s[:, 7])
    p, q, r = s[:, 9], s[:, 10], s[:, 11]
    out = np.empty((s.shape[0], 3))
    out[:, 0] = p + sf * tt * q + cf * tt * r
    out[:, 1] = cf * q - sf * r
    out[:, 2] = (sf * q + cf * r) / ct
    return out


# ---------------------------------------------------------------------------- actuators


def rotor_thrusts(params: QuadcopterParams, wrench: FloatArray) -> FloatArray:
    """``(N, 4)`` rotor thrusts [N] that realise a wrench ``(N, 4)``, clipped to
    ``[0, max_rotor_thrust_n]`` (the saturation the invariant's thrust limits avoid)."""
    f = np.asarray(wrench, dtype=np.float64) @ params.allocation_inverse.T
    return np.asarray(clip(f, 0.0, params.max_rotor_thrust_n))


def wrench_from_thrusts(params: QuadcopterParams, thrusts: FloatArray) -> FloatArray:
    """``(N, 4)`` wrench ``(u1, u2, u3, u4)`` of rotor thrusts ``(N, 4)`` [N]."""
    return np.asarray(thrusts @ params.allocation.T)


# ---------------------------------------------------------------------------- models


def nonlinear_derivative(
    params: QuadcopterParams, state: FloatArray, wrench: FloatArray
) -> FloatArray:
    """Time derivative of the §2.1 rigid-body model for states ``(N, 12)`` and applied wrenches
    ``(N, 4)`` (thrust [N], torques [N m]).

    Translational dynamics in body axes (§2.1.1), Euler's equations (§2.1.2), Euler-angle
    kinematics (§2.1.3) and the body-to-inertial position kinematics (§2.1.4). External forces:
    thrust ``(0, 0, u1)`` in the body frame, gravity ``(0, 0, -m g)`` in the inertial frame and
    the parasite drag ``-1/2 rho S_FP |V| V`` against the inertial velocity (still air).
    """
    s = np.asarray(state, dtype=np.float64)
    u = np.asarray(wrench, dtype=np.float64)
    m = params.mass_kg
    ix, iy, iz = params.inertia_kg_m2
    ub, vb, wb = s[:, 3], s[:, 4], s[:, 5]
    p, q, r = s[:, 9], s[:, 10], s[:, 11]
    cf, sf = np.cos(s[:, 6]), np.sin(s[:, 6])
    ct, st = np.cos(s[:, 7]), np.sin(s[:, 7])
    cp, sp = np.cos(s[:, 8]), np.sin(s[:, 8])
    # R = Rz(psi) Ry(theta) Rx(phi), written out (the hot loop: no (N, 3, 3) temporaries)
    r00, r01, r02 = cp * ct, cp * st * sf - sp * cf, cp * st * cf + sp * sf
    r10, r11, r12 = sp * ct, sp * st * sf + cp * cf, sp * st * cf - cp * sf
    r20, r21, r22 = -st, ct * sf, ct * cf
    vx = r00 * ub + r01 * vb + r02 * wb
    vy = r10 * ub + r11 * vb + r12 * wb
    vz = r20 * ub + r21 * vb + r22 * wb
    k = 0.5 * params.air_density_kg_m3 * params.drag_area_m2 / m
    speed = np.sqrt(vx * vx + vy * vy + vz * vz)
    # drag and gravity per unit mass, inertial, then R^T into the body frame
    ax, ay, az = -k * speed * vx, -k * speed * vy, -k * speed * vz - params.gravity_m_s2
    fx = r00 * ax + r10 * ay + r20 * az
    fy = r01 * ax + r11 * ay + r21 * az
    fz = r02 * ax + r12 * ay + r22 * az + u[:, 0] / m
    out = np.empty_like(s)
    out[:, 0], out[:, 1], out[:, 2] = vx, vy, vz
    # §2.1.1: u' = r v - q w + X/m, v' = p w - r u + Y/m, w' = q u - p v + Z/m
    out[:, 3] = r * vb - q * wb + fx
    out[:, 4] = p * wb - r * ub + fy
    out[:, 5] = q * ub - p * vb + fz
    # §2.1.3
    tt = st / ct
    out[:, 6] = p + sf * tt * q + cf * tt * r
    out[:, 7] = cf * q - sf * r
    out[:, 8] = (sf * q + cf * r) / ct
    # §2.1.2: p' = (Iy - Iz)/Ix q r + L/Ix, ...
    out[:, 9] = (iy - iz) / ix * q * r + u[:, 1] / ix
    out[:, 10] = (iz - ix) / iy * p * r + u[:, 2] / iy
    out[:, 11] = (ix - iy) / iz * p * q + u[:, 3] / iz
    return out


def linear_state_space(params: QuadcopterParams) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Paper 002 Table 1 as ``x' = A x + B u + c`` on ``[x, y, z, phi, theta, psi, x', y', z',
    phi', theta', psi']`` with ``u = (u1, u2, u3, u4)``; ``c`` holds gravity.

    Returns:
        ``A`` (12, 12), ``B`` (12, 4), ``c`` (12,).
    """
    g = params.gravity_m_s2
    ix, iy, iz = params.inertia_kg_m2
    a = np.zeros((12, 12))
    a[0:6, 6:12] = np.eye(6)
    a[6, 4] = g  # x'' = g theta
    a[7, 3] = -g  # y'' = -g phi
    b = np.zeros((12, 4))
    b[8, 0] = 1.0 / params.mass_kg  # z'' = -g + u1 / m
    b[9, 1] = 1.0 / ix
    b[10, 2] = 1.0 / iy
    b[11, 3] = 1.0 / iz
    c = np.zeros(12)
    c[8] = -g
    return a, b, c


def linear_derivative(
    params: QuadcopterParams, state: FloatArray, wrench: FloatArray
) -> FloatArray:
    """Time derivative of paper 002 Table 1's linear model for states ``(N, 12)`` and wrenches
    ``(N, 4)``."""
    a, b, c = linear_state_space(params)
    return np.asarray(np.asarray(state) @ a.T + np.asarray(wrench) @ b.T + c)


def hover_state(
    position_m: FloatArray, *, yaw_rad: float | FloatArray = 0.0, model: Model = "nonlinear"
) -> FloatArray:
    """``(N, 12)`` states at rest at positions ``(N, 3)`` [m] with the given yaw [rad]."""
    p = np.asarray(position_m, dtype=np.float64).reshape(-1, 3)
    s = np.zeros((p.shape[0], 12))
    s[:, 0:3] = p
    s[:, 5 if model == "linear" else 8] = yaw_rad
    return s


def positions_velocities_angles(
    state: FloatArray, model: Model
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Inertial position [m], inertial velocity [m/s], Euler angles [rad] and Euler rates
    [rad/s], each ``(N, 3)``, of states of either model."""
    if model == "linear":
        return state[:, 0:3], state[:, 6:9], state[:, 3:6], state[:, 9:12]
    return state[:, 0:3], inertial_velocity(state), state[:, 6:9], euler_rates(state)


# ---------------------------------------------------------------------------- simulator


class WrenchController(Protocol):
    """What the simulator calls every step: the wrench ``(N, 4)`` to command at time ``t_s``
    for states ``(N, 12)`` (see :mod:`skycell.flight.cascade`)."""

    def reset(self, state: FloatArray) -> None:
        """Prepare for a run starting at ``state``."""

    def wrench(self, step: int, t_s: float, state: FloatArray) -> FloatArray:
        """The commanded wrench at step ``step`` (time ``t_s``)."""


@dataclass
class SimulationResult:
    """States and inputs recorded by :func:`simulate`.

    Attributes:
        t_s: ``(T,)`` record times [s].
        states: ``(T, N, 12)`` states (the model's layout).
        commanded: ``(T, N, 4)`` commanded wrench (held over the step that starts at ``t``).
        applied: ``(T, N, 4)`` wrench after rotor saturation.
        saturated: ``(N,)`` number of steps in which a rotor saturated.
        model: ``nonlinear`` or ``linear``.
        dt_s: the fixed step [s].
    """

    t_s: FloatArray
    states: FloatArray
    commanded: FloatArray
    applied: FloatArray
    saturated: NDArray[np.int64]
    model: Model
    dt_s: float
    extra: dict[str, FloatArray] = field(default_factory=dict)


def simulate(
    params: QuadcopterParams,
    controller: WrenchController,
    initial_state: FloatArray,
    *,
    duration_s: float,
    dt_s: float = 0.01,
    model: Model = "nonlinear",
    record_every: int = 1,
    stop: Callable[[int, float, FloatArray], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Fixed-step simulation (classical Runge-Kutta 4, wrench held over each step).

    Every step the controller is asked for a wrench; the simulator turns it into rotor thrusts,
    clips them to ``[0, max_rotor_thrust_n]`` (counted as saturation), applies an optional
    first-order motor lag, and integrates the chosen model.

    Args:
        params: the drone.
        controller: the wrench law.
        initial_state: ``(N, 12)`` states in the model's layout.
        duration_s: simulated time [s].
        dt_s: fixed step [s].
        model: ``nonlinear`` (§2.1) or ``linear`` (Table 1).
        record_every: keep every k-th step.
        stop: optional ``stop(step, t_s, state)``; the run ends early when it returns True.
        progress: optional ``progress(step, steps)``, called about a hundred times.

    Returns:
        The recorded run.
    """
    if not dt_s > 0 or not duration_s > 0:
        raise SkycellError(f"simulate: dt_s and duration_s must be > 0, got {dt_s}, {duration_s}")
    if model not in ("nonlinear", "linear"):
        raise SkycellError(f"unknown model {model!r}; choose nonlinear or linear")
    deriv = nonlinear_derivative if model == "nonlinear" else linear_derivative
    x = np.array(initial_state, dtype=np.float64).reshape(-1, 12)
    n = x.shape[0]
    steps = round(duration_s / dt_s)
    controller.reset(x)
    lag = params.motor_time_constant_s
    f_actual = rotor_thrusts(params, np.tile([params.hover_thrust_n, 0, 0, 0], (n, 1)))
    rec_t, rec_x, rec_c, rec_a = [], [], [], []
    saturated = np.zeros(n, dtype=np.int64)
    report_every = max(1, steps // 100)
    for k in range(steps + 1):
        t = k * dt_s
        if progress is not None and k % report_every == 0:
            progress(k, steps)
        cmd = np.asarray(controller.wrench(k, t, x), dtype=np.float64)
        f_raw = cmd @ params.allocation_inverse.T
        f_cmd = clip(f_raw, 0.0, params.max_rotor_thrust_n)
        saturated += np.any(np.abs(f_cmd - f_raw) > 1e-9, axis=1)
        if lag > 0:
            f_actual = f_actual + (f_cmd - f_actual) * (1.0 - math.exp(-dt_s / lag))
        else:
            f_actual = f_cmd
        applied = wrench_from_thrusts(params, f_actual)
        if k % record_every == 0:
            rec_t.append(t)
            rec_x.append(x.copy())
            rec_c.append(cmd)
            rec_a.append(applied)
        if k == steps or (stop is not None and stop(k, t, x)):
            break
        k1 = deriv(params, x, applied)
        k2 = deriv(params, x + 0.5 * dt_s * k1, applied)
        k3 = deriv(params, x + 0.5 * dt_s * k2, applied)
        k4 = deriv(params, x + dt_s * k3, applied)
        x = x + dt_s / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return SimulationResult(
        t_s=np.asarray(rec_t),
        states=np.asarray(rec_x),
        commanded=np.asarray(rec_c),
        applied=np.asarray(rec_a),
        saturated=saturated,
        model=model,
        dt_s=dt_s,
    )


# ---------------------------------------------------------------------------- inversions


def thrust_and_attitude_targets(
    params: QuadcopterParams,
    accel_m_s2: FloatArray,
    yaw_rad: FloatArray,
    angles_rad: FloatArray,
    *,
    model: Model,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Thrust [N] and roll / pitch targets [rad] that realise desired inertial accelerations
    ``(N, 3)`` [m/s^2] (gravity not included; drag compensation is the caller's).

    Linear model: Table 1 inverted, ``theta = a_x / g``, ``phi = -a_y / g``,
    ``u1 = m (g + a_z)``. Nonlinear model: the thrust direction ``f = a + g e_z`` is turned into
    Z-Y-X angles at the current yaw, and the thrust is chosen so that the *current* attitude
    gives exactly the desired vertical acceleration, ``u1 = m f_z / (cos phi cos theta)``.
    """
    a = np.asarray(accel_m_s2, dtype=np.float64)
    g = params.gravity_m_s2
    m = params.mass_kg
    if model == "linear":
        return m * (g + a[:, 2]), -a[:, 1] / g, a[:, 0] / g
    f = a.copy()
    f[:, 2] += g
    norm = np.linalg.norm(f, axis=1)
    cp, sp = np.cos(yaw_rad), np.sin(yaw_rad)
    phi_t = np.arcsin(clip((f[:, 0] * sp - f[:, 1] * cp) / norm, -1.0, 1.0))
    theta_t = np.arctan2(f[:, 0] * cp + f[:, 1] * sp, f[:, 2])
    tilt = np.cos(angles_rad[:, 0]) * np.cos(angles_rad[:, 1])
    return m * f[:, 2] / np.maximum(tilt, 0.2), phi_t, theta_t


def torques_for_euler_accel(
    params: QuadcopterParams, state: FloatArray, euler_accel: FloatArray, *, model: Model
) -> FloatArray:
    """``(N, 3)`` torques [N m] that give the desired Euler-angle accelerations ``(N, 3)``
    [rad/s^2] exactly.

    Linear model: Table 1, ``u = I alpha``. Nonlinear model: with ``eta' = W omega``,
    ``eta'' = W' omega + W omega'`` so ``omega' = W^-1 (eta'' - W' omega)`` and Euler's equations
    give ``tau = I omega' + omega x (I omega)`` (feedback linearisation of §2.1.2-3), so each
    attitude axis sees Table 1's double integrator.
    """
    inertia = np.asarray(params.inertia_kg_m2)
    alpha = np.asarray(euler_accel, dtype=np.float64)
    if model == "linear":
        return np.asarray(alpha * inertia)
    cf, sf = np.cos(state[:, 6]), np.sin(state[:, 6])
    ct, st = np.cos(state[:, 7]), np.sin(state[:, 7])
    tt = st / ct
    p, q, r = state[:, 9], state[:, 10], state[:, 11]
    dphi = p + sf * tt * q + cf * tt * r
    dtheta = cf * q - sf * r
    # W' omega (W' = dW/dphi phi' + dW/dtheta theta'; its first column is zero)
    c1 = 1.0 / (ct * ct)
    wd0 = (cf * tt * dphi + sf * c1 * dtheta) * q + (-sf * tt * dphi + cf * c1 * dtheta) * r
    wd1 = (-sf * dphi) * q + (-cf * dphi) * r
    wd2 = (cf / ct * dphi + sf * st * c1 * dtheta) * q + (
        -sf / ct * dphi + cf * st * c1 * dtheta
    ) * r
    b0, b1, b2 = alpha[:, 0] - wd0, alpha[:, 1] - wd1, alpha[:, 2] - wd2
    # W^-1 = [[1, 0, -s(theta)], [0, c(phi), s(phi) c(theta)], [0, -s(phi), c(phi) c(theta)]]
    pd = b0 - st * b2
    qd = cf * b1 + sf * ct * b2
    rd = -sf * b1 + cf * ct * b2
    ix, iy, iz = params.inertia_kg_m2
    out = np.empty((state.shape[0], 3))
    out[:, 0] = ix * pd + (iz - iy) * q * r
    out[:, 1] = iy * qd + (ix - iz) * p * r
    out[:, 2] = iz * rd + (iy - ix) * p * q
    return out


def drag_acceleration(params: QuadcopterParams, velocity_m_s: FloatArray) -> FloatArray:
    """``(N, 3)`` parasite-drag acceleration [m/s^2] at inertial velocities ``(N, 3)``
    (still air): ``-1/2 rho S_FP |V| V / m``."""
    v = np.asarray(velocity_m_s, dtype=np.float64)
    speed = np.linalg.norm(v, axis=1, keepdims=True)
    k = 0.5 * params.air_density_kg_m3 * params.drag_area_m2 / params.mass_kg
    return np.asarray(-k * speed * v)
