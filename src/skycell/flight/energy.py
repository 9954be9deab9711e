"""Rotary-wing propulsion power and the energy of a flown route against the battery.

Power model: Y. Zeng, J. Xu and R. Zhang, "Energy minimization for wireless communication with
rotary-wing UAV", IEEE Trans. Wireless Commun. 18(4), 2019, eq. (12): the power a rotary-wing
UAV needs in straight level flight at speed ``V`` is

    P(V) = P0 (1 + 3 V^2 / U_tip^2)                                   blade profile
         + Pi (sqrt(1 + V^4 / (4 v0^4)) - V^2 / (2 v0^2))^(1/2)     induced
         + 1/2 d0 rho s A V^3                                        parasite

with ``P0 = delta / 8 rho s A Omega^3 R^3`` and ``Pi = (1 + k) W^(3/2) / sqrt(2 rho A)``, the
hover power ``P(0) = P0 + Pi`` and ``v0 = sqrt(W / (2 rho A))`` the mean induced velocity in
hover. Symbols (Zeng et al. Table I): ``W`` weight [N], ``rho`` air density, ``s`` rotor solidity,
``A`` rotor disc area, ``Omega`` blade angular velocity, ``R`` rotor radius (``U_tip = Omega R``),
``delta`` profile drag coefficient, ``k`` incremental correction factor of the induced power,
``d0`` fuselage drag ratio (``S_FP = d0 s A``). :data:`ZENG_2019` holds the paper's Table I
(W = 20 N, rho = 1.225 kg/m^3, s = 0.05, A = 0.503 m^2, Omega = 300 rad/s, R = 0.4 m,
delta = 0.012, k = 0.1, d0 = 0.6), for which the paper gives ``P0 = 79.86 W`` and
``Pi = 88.63 W``; a test reproduces these, the hover power ``P0 + Pi = 168.48 W``, the
maximum-endurance (minimum-power) speed ``V_me`` = 10.2 m/s and the maximum-range speed
``V_mr`` = 18.3 m/s (tolerances in the test).

For a multirotor the model is applied with the total disc area of its rotors (all rotors share
the weight), as is common when the single-rotor model is used for quadcopters; the aerodynamic
power is divided by a powertrain efficiency to give the battery's power, and the payload's
electrical power is added.

Vertical flight (take-off and landing), from the same momentum theory: climbing at ``V_c`` the
induced velocity is ``v_i = -V_c / 2 + sqrt(V_c^2 / 4 + v0^2)``, so
``P = P0 + Pi v_i / v0 + W V_c``; descending, the hover power is charged (momentum theory fails
in the vortex-ring state; hover power is the usual conservative stand-in). Along a route, the
small vertical speeds add ``W max(z', 0)`` to the level-flight power (potential energy gained;
none recovered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar

from skycell.errors import SkycellError
from skycell.flight.dynamics import QuadcopterParams

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RotorPowerModel:
    """Zeng et al. (2019) eq. (12) parameters (see the module docstring).

    Attributes:
        weight_n: ``W`` [N].
        air_density_kg_m3: ``rho``.
        rotor_solidity: ``s``.
        disc_area_m2: ``A`` (all rotors) [m^2].
        tip_speed_m_s: ``U_tip = Omega R`` [m/s].
        profile_drag_coefficient: ``delta``.
        induced_power_factor: ``k``.
        fuselage_drag_ratio: ``d0``.
    """

    weight_n: float
    air_density_kg_m3: float
    rotor_solidity: float
    disc_area_m2: float
    tip_speed_m_s: float
    profile_drag_coefficient: float
    induced_power_factor: float
    fuselage_drag_ratio: float

    def __post_init__(self) -> None:
        bad = [k for k, v in vars(self).items() if not (math.isfinite(v) and v >= 0)]
        bad += [
            k
            for k in ("weight_n", "air_density_kg_m3", "disc_area_m2", "tip_speed_m_s")
            if not getattr(self, k) > 0
        ]
        if bad:
            raise SkycellError(f"rotor power model: {', '.join(sorted(set(bad)))} must be > 0")

    @classmethod
    def from_params(cls, params: QuadcopterParams) -> RotorPowerModel:
        """The model of a drone's parameter set (total disc area of its four rotors)."""
        return cls(
            weight_n=params.weight_n,
            air_density_kg_m3=params.air_density_kg_m3,
            rotor_solidity=params.rotor_solidity,
            disc_area_m2=params.disc_area_m2,
            tip_speed_m_s=params.blade_tip_speed_m_s,
            profile_drag_coefficient=params.profile_drag_coefficient,
            induced_power_factor=params.induced_power_factor,
            fuselage_drag_ratio=params.fuselage_drag_ratio,
        )

    @property
    def blade_profile_power_w(self) -> float:
        """``P0 = delta / 8 rho s A U_tip^3`` [W]."""
        return (
            self.profile_drag_coefficient
            / 8.0
            * self.air_density_kg_m3
            * self.rotor_solidity
            * self.disc_area_m2
            * self.tip_speed_m_s**3
        )

    @property
    def induced_power_w(self) -> float:
        """``Pi = (1 + k) W^(3/2) / sqrt(2 rho A)`` [W]."""
        return float(
            (1.0 + self.induced_power_factor)
            * self.weight_n**1.5
            / math.sqrt(2.0 * self.air_density_kg_m3 * self.disc_area_m2)
        )

    @property
    def induced_velocity_m_s(self) -> float:
        """``v0 = sqrt(W / (2 rho A))`` [m/s]."""
        return math.sqrt(self.weight_n / (2.0 * self.air_density_kg_m3 * self.disc_area_m2))

    @property
    def hover_power_w(self) -> float:
        """``P(0) = P0 + Pi`` [W]."""
        return self.blade_profile_power_w + self.induced_power_w

    def power_w(self, speed_m_s: ArrayLike) -> FloatArray:
        """Level-flight power ``P(V)`` [W] at speeds [m/s] (eq. 12)."""
        v = np.abs(np.asarray(speed_m_s, dtype=np.float64))
        v0 = self.induced_velocity_m_s
        blade = self.blade_profile_power_w * (1.0 + 3.0 * v**2 / self.tip_speed_m_s**2)
        ratio = v**2 / (2.0 * v0**2)
        induced = self.induced_power_w * np.sqrt(np.sqrt(1.0 + ratio**2) - ratio)
        parasite = (
            0.5
            * self.fuselage_drag_ratio
            * self.air_density_kg_m3
            * self.rotor_solidity
            * self.disc_area_m2
            * v**3
        )
        return np.asarray(blade + induced + parasite)

    def climb_power_w(self, climb_speed_m_s: float) -> float:
        """Power [W] in vertical flight at ``climb_speed_m_s`` (> 0 up; descent: hover power)."""
        vc = float(climb_speed_m_s)
        if vc <= 0:
            return self.hover_power_w
        v0 = self.induced_velocity_m_s
        vi = -vc / 2.0 + math.sqrt(vc * vc / 4.0 + v0 * v0)
        return self.blade_profile_power_w + self.induced_power_w * vi / v0 + self.weight_n * vc

    @property
    def max_endurance_speed_m_s(self) -> float:
        """``V_me``: the speed of least power [m/s]."""
        res = minimize_scalar(
            lambda v: float(self.power_w(v)),
            bounds=(0.0, 4.0 * self.tip_speed_m_s),
            method="bounded",
            options={"xatol": 1e-6},
        )
        return float(res.x)

    @property
    def max_range_speed_m_s(self) -> float:
        """``V_mr``: the speed of least energy per metre, ``argmin P(V) / V`` [m/s]."""
        res = minimize_scalar(
            lambda v: float(self.power_w(v)) / v,
            bounds=(0.1, 4.0 * self.tip_speed_m_s),
            method="bounded",
            options={"xatol": 1e-6},
        )
        return float(res.x)


#: Zeng, Xu, Zhang (2019) Table I: W = 20 N, rho = 1.225, s = 0.05, A = 0.503 m^2 (R = 0.4 m),
#: Omega = 300 rad/s (U_tip = 120 m/s), delta = 0.012, k = 0.1, d0 = 0.6.
ZENG_2019 = RotorPowerModel(
    weight_n=20.0,
    air_density_kg_m3=1.225,
    rotor_solidity=0.05,
    disc_area_m2=0.503,
    tip_speed_m_s=300.0 * 0.4,
    profile_drag_coefficient=0.012,
    induced_power_factor=0.1,
    fuselage_drag_ratio=0.6,
)


def trajectory_power_w(model: RotorPowerModel, velocity_m_s: FloatArray) -> FloatArray:
    """Aerodynamic power [W] along a trajectory ``(T, 3)`` of inertial velocities: eq. (12) at
    the horizontal speed plus ``W max(z', 0)``."""
    v = np.asarray(velocity_m_s, dtype=np.float64).reshape(-1, 3)
    horizontal = np.hypot(v[:, 0], v[:, 1])
    return np.asarray(model.power_w(horizontal) + model.weight_n * np.maximum(v[:, 2], 0.0))


def trajectory_energy_j(model: RotorPowerModel, t_s: FloatArray, velocity_m_s: FloatArray) -> float:
    """Aerodynamic energy [J] of a sampled trajectory (trapezoidal rule over ``t_s``)."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 2:
        return 0.0
    p = trajectory_power_w(model, velocity_m_s)
    return float(np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(t)))


@dataclass(frozen=True)
class EnergyBudget:
    """Battery energy [J] of one station's mission: climb from the ground, the flown route,
    hover for the mission, the same route back, descent; electrical (powertrain efficiency
    and payload included).

    Attributes:
        climb_j, outbound_j, mission_j, return_j, descent_j: the phases [J].
        total_j: their sum [J].
        usable_j: battery capacity less the reserve [J].
        capacity_j: the battery capacity [J].
        hover_power_w: electrical power in hover, payload included [W].
        mission_time_s: hover time at the station's point [s].
    """

    climb_j: float
    outbound_j: float
    mission_j: float
    return_j: float
    descent_j: float
    total_j: float
    usable_j: float
    capacity_j: float
    hover_power_w: float
    mission_time_s: float

    @property
    def feasible(self) -> bool:
        """Whether the mission fits in the usable energy."""
        return self.total_j <= self.usable_j

    @property
    def margin_j(self) -> float:
        """Usable energy left at the end [J] (negative: short)."""
        return self.usable_j - self.total_j

    @property
    def max_mission_time_s(self) -> float:
        """Longest hover the battery allows with the same flights [s]."""
        flights = self.total_j - self.mission_j
        return max(0.0, (self.usable_j - flights) / self.hover_power_w)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (energies in watt-hours too)."""
        wh = 1.0 / 3600.0
        return {
            "climb_wh": self.climb_j * wh,
            "outbound_wh": self.outbound_j * wh,
            "mission_hover_wh": self.mission_j * wh,
            "return_wh": self.return_j * wh,
            "descent_wh": self.descent_j * wh,
            "total_wh": self.total_j * wh,
            "usable_wh": self.usable_j * wh,
            "capacity_wh": self.capacity_j * wh,
            "margin_wh": self.margin_j * wh,
            "feasible": self.feasible,
            "hover_power_w": self.hover_power_w,
            "mission_time_s": self.mission_time_s,
            "max_mission_time_s": self.max_mission_time_s,
        }


def energy_budget(
    params: QuadcopterParams,
    *,
    outbound_aero_j: float,
    outbound_duration_s: float,
    altitude_m: float,
    mission_time_s: float,
    battery_capacity_wh: float,
    reserve_fraction: float,
) -> EnergyBudget:
    """The mission's battery energy for one station.

    Args:
        params: the drone (efficiency, payload power, climb speed).
        outbound_aero_j: aerodynamic energy of the flown route [J]
            (:func:`trajectory_energy_j`).
        outbound_duration_s: its duration [s].
        altitude_m: height of the route above the take-off point [m].
        mission_time_s: hover time at the point [s].
        battery_capacity_wh: the battery [Wh].
        reserve_fraction: share of the capacity kept in reserve, in ``[0, 1)``.

    The way back is the flown route reversed: without wind the power model depends only on
    the speed profile, so it costs the same energy as the way out.
    """
    if not 0.0 <= reserve_fraction < 1.0:
        raise SkycellError(f"reserve_fraction must be in [0, 1), got {reserve_fraction}")
    if not battery_capacity_wh > 0:
        raise SkycellError(f"battery_capacity_wh must be > 0, got {battery_capacity_wh}")
    model = RotorPowerModel.from_params(params)
    eta = params.powertrain_efficiency
    payload = params.payload_power_w
    vc = params.climb_speed_m_s
    climb_s = max(altitude_m, 0.0) / vc
    climb = (model.climb_power_w(vc) / eta + payload) * climb_s
    descent = (model.climb_power_w(-vc) / eta + payload) * climb_s
    outbound = outbound_aero_j / eta + payload * outbound_duration_s
    hover_w = model.hover_power_w / eta + payload
    mission = hover_w * mission_time_s
    total = climb + 2.0 * outbound + mission + descent
    capacity = battery_capacity_wh * 3600.0
    return EnergyBudget(
        climb_j=climb,
        outbound_j=outbound,
        mission_j=mission,
        return_j=outbound,
        descent_j=descent,
        total_j=total,
        usable_j=capacity * (1.0 - reserve_fraction),
        capacity_j=capacity,
        hover_power_w=hover_w,
        mission_time_s=mission_time_s,
    )
