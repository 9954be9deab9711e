"""Quadcopter models (paper 002 §2.1 and Table 1): closed forms, the linearisation, the plant
inversions the cascade relies on, and the simulator."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from skycell.errors import SkycellError
from skycell.flight.dynamics import (
    BASE_STATION_QUAD,
    euler_rates,
    hover_state,
    inertial_velocity,
    linear_derivative,
    linear_state_space,
    nonlinear_derivative,
    rotation_matrix,
    rotor_thrusts,
    simulate,
    thrust_and_attitude_targets,
    torques_for_euler_accel,
    wrench_from_thrusts,
)

P = BASE_STATION_QUAD
NO_DRAG = replace(P, fuselage_drag_ratio=0.0)


class ConstantWrench:
    """A controller that commands one wrench."""

    def __init__(self, wrench: np.ndarray) -> None:
        self.w = np.asarray(wrench, dtype=float)

    def reset(self, state: np.ndarray) -> None:
        self.n = state.shape[0]

    def wrench(self, step: int, t_s: float, state: np.ndarray) -> np.ndarray:
        return np.tile(self.w, (self.n, 1))


def test_hover_is_an_equilibrium_with_u1_equal_m_g() -> None:
    s = hover_state(np.array([[10.0, -5.0, 70.0]]))
    u = np.array([[P.mass_kg * P.gravity_m_s2, 0.0, 0.0, 0.0]])
    assert P.hover_thrust_n == pytest.approx(P.mass_kg * 9.80665)
    np.testing.assert_allclose(nonlinear_derivative(P, s, u), 0.0, atol=1e-12)
    np.testing.assert_allclose(linear_derivative(P, s, u), 0.0, atol=1e-12)


def test_linearisation_of_the_nonlinear_model_is_table_1() -> None:
    """Jacobian of §2.1 at hover (angles 0: body = inertial velocities, body rates = Euler
    rates) equals Table 1: x'' = g theta, y'' = -g phi, z'' = u1 / m - g, phi'' = u2 / Ix."""
    s0 = hover_state(np.zeros((1, 3)))
    u0 = np.array([[P.hover_thrust_n, 0, 0, 0]], dtype=float)
    # nonlinear layout [x y z u v w phi th psi p q r] -> linear [x y z phi th psi x' y' z' ...]
    perm = [0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11]
    a_lin, b_lin, _ = linear_state_space(P)
    h = 1e-6
    jac_x = np.zeros((12, 12))
    for k in range(12):
        d = np.zeros((1, 12))
        d[0, k] = h
        f = (nonlinear_derivative(P, s0 + d, u0) - nonlinear_derivative(P, s0 - d, u0)) / (2 * h)
        jac_x[:, k] = f[0]
    jac_u = np.zeros((12, 4))
    for k in range(4):
        d = np.zeros((1, 4))
        d[0, k] = h
        f = (nonlinear_derivative(P, s0, u0 + d) - nonlinear_derivative(P, s0, u0 - d)) / (2 * h)
        jac_u[:, k] = f[0]
    np.testing.assert_allclose(jac_x[np.ix_(perm, perm)], a_lin, atol=1e-6)
    np.testing.assert_allclose(jac_u[perm], b_lin, atol=1e-9)
    assert a_lin[6, 4] == pytest.approx(P.gravity_m_s2)
    assert a_lin[7, 3] == pytest.approx(-P.gravity_m_s2)


@pytest.mark.parametrize("model", ["nonlinear", "linear"])
def test_constant_thrust_gives_the_closed_form_climb(model: str) -> None:
    """z'' = u1 / m - g: z(t) = z0 + a t^2 / 2 (RK4 is exact on polynomials of this order)."""
    a = 1.3
    ctl = ConstantWrench(np.array([NO_DRAG.mass_kg * (NO_DRAG.gravity_m_s2 + a), 0, 0, 0]))
    sim = simulate(
        NO_DRAG, ctl, hover_state(np.array([[0.0, 0.0, 50.0]]), model=model),  # type: ignore[arg-type]
        duration_s=3.0, dt_s=0.01, model=model,  # type: ignore[arg-type]
    )  # fmt: skip
    t = sim.t_s
    np.testing.assert_allclose(sim.states[:, 0, 2], 50.0 + 0.5 * a * t * t, atol=1e-9)
    assert sim.saturated.sum() == 0


def test_drag_slows_a_coasting_drone_as_its_closed_form() -> None:
    """With thrust m g and no tilt, horizontal motion obeys v' = -k v^2, so
    v(t) = v0 / (1 + k v0 t)."""
    s = hover_state(np.zeros((1, 3)))
    s[0, 3] = 8.0  # body u = inertial x' at zero attitude
    ctl = ConstantWrench(np.array([P.hover_thrust_n, 0, 0, 0]))
    sim = simulate(P, ctl, s, duration_s=5.0, dt_s=0.01)
    k = 0.5 * P.air_density_kg_m3 * P.drag_area_m2 / P.mass_kg
    expected = 8.0 / (1.0 + k * 8.0 * sim.t_s)
    np.testing.assert_allclose(inertial_velocity(sim.states[:, 0])[:, 0], expected, rtol=1e-6)


def test_rotor_allocation_round_trip_and_saturation() -> None:
    w = np.array([[P.hover_thrust_n, 1.0, -2.0, 0.3]])
    f = rotor_thrusts(P, w)
    assert np.all(f > 0) and np.all(f < P.max_rotor_thrust_n)
    np.testing.assert_allclose(wrench_from_thrusts(P, f), w, atol=1e-9)
    # every torque within the limits is feasible over the whole thrust range (no saturation)
    lo, hi = P.thrust_range_n
    tl = np.asarray(P.torque_limits_nm)
    corners = np.array(
        [[u1, s1 * tl[0], s2 * tl[1], s3 * tl[2]] for u1 in (lo, hi) for s1 in (-1, 1)
         for s2 in (-1, 1) for s3 in (-1, 1)]
    )  # fmt: skip
    raw = np.linalg.solve(P.allocation, corners.T).T
    assert raw.min() >= -1e-9 and raw.max() <= P.max_rotor_thrust_n + 1e-9


def test_torque_inversion_gives_the_desired_euler_accelerations() -> None:
    rng = np.random.default_rng(3)
    s = hover_state(np.zeros((5, 3)))
    s[:, 6:9] = rng.uniform(-0.4, 0.4, (5, 3))
    s[:, 9:12] = rng.uniform(-1.0, 1.0, (5, 3))
    alpha = rng.uniform(-5, 5, (5, 3))
    tau = torques_for_euler_accel(P, s, alpha, model="nonlinear")
    u = np.column_stack([np.full(5, P.hover_thrust_n), tau])
    h = 1e-6
    d = nonlinear_derivative(P, s, u)
    eta_next = euler_rates(s + h * d)
    eta_prev = euler_rates(s - h * d)
    np.testing.assert_allclose((eta_next - eta_prev) / (2 * h), alpha, atol=1e-5)


def test_thrust_and_attitude_targets_realise_the_acceleration() -> None:
    """At the target attitude the thrust vector gives exactly the desired acceleration."""
    a = np.array([[1.5, -0.8, 0.4], [0.0, 0.0, 0.0], [-2.0, 1.0, -1.0]])
    yaw = np.array([0.3, 0.0, -1.0])
    # first pass: targets; second: thrust at the target attitude
    _, phi, theta = thrust_and_attitude_targets(P, a, yaw, np.zeros((3, 3)), model="nonlinear")
    ang = np.column_stack([phi, theta, yaw])
    u1, _, _ = thrust_and_attitude_targets(P, a, yaw, ang, model="nonlinear")
    r = rotation_matrix(phi, theta, yaw)
    acc = u1[:, None] * r[:, :, 2] / P.mass_kg - np.array([0, 0, P.gravity_m_s2])
    np.testing.assert_allclose(acc, a, atol=1e-9)
    _u1_l, phi_l, th_l = thrust_and_attitude_targets(P, a, yaw, ang, model="linear")
    np.testing.assert_allclose(th_l, a[:, 0] / P.gravity_m_s2)
    np.testing.assert_allclose(phi_l, -a[:, 1] / P.gravity_m_s2)


def test_bad_parameters_are_refused_with_the_reason() -> None:
    with pytest.raises(SkycellError, match="hover thrust"):
        replace(P, max_rotor_thrust_n=25.0)
    with pytest.raises(SkycellError, match="mass_kg must be > 0"):
        replace(P, mass_kg=-1.0)
    with pytest.raises(SkycellError, match="dt_s and duration_s"):
        simulate(P, ConstantWrench(np.zeros(4)), hover_state(np.zeros((1, 3))), duration_s=0.0)


def test_representative_drone_figures() -> None:
    assert P.thrust_range_n[0] < P.hover_thrust_n < P.thrust_range_n[1]
    assert math.degrees(P.max_tilt_rad) == pytest.approx(25.0)
    assert P.disc_area_m2 == pytest.approx(4 * math.pi * 0.2667**2)
    assert P.drag_area_m2 == pytest.approx(0.6 * 0.095 * P.disc_area_m2)
