"""Rotary-wing power model against its source: Zeng, Xu, Zhang (IEEE TWC 2019) Table I and the
figures derived from it (P0 = 79.86 W, Pi = 88.63 W as printed in the paper; hover power
P0 + Pi = 168.48 W; minimum-power (maximum-endurance) speed about 10.2 m/s and maximum-range
speed about 18.3 m/s)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skycell.errors import SkycellError
from skycell.flight.dynamics import BASE_STATION_QUAD
from skycell.flight.energy import (
    ZENG_2019,
    RotorPowerModel,
    energy_budget,
    trajectory_energy_j,
    trajectory_power_w,
)


def test_zeng_2019_blade_profile_induced_and_hover_power() -> None:
    assert ZENG_2019.blade_profile_power_w == pytest.approx(79.86, abs=0.01)
    assert ZENG_2019.induced_power_w == pytest.approx(88.63, abs=0.01)
    assert ZENG_2019.induced_velocity_m_s == pytest.approx(4.03, abs=0.005)
    assert ZENG_2019.hover_power_w == pytest.approx(168.48, abs=0.02)
    assert float(ZENG_2019.power_w(0.0)) == pytest.approx(ZENG_2019.hover_power_w, rel=1e-12)


def test_zeng_2019_characteristic_speeds() -> None:
    v_me = ZENG_2019.max_endurance_speed_m_s
    v_mr = ZENG_2019.max_range_speed_m_s
    assert v_me == pytest.approx(10.2, abs=0.1)
    assert v_mr == pytest.approx(18.3, abs=0.1)
    # V_me minimises P, V_mr minimises P / V (the tangent from the origin)
    v = np.linspace(0.5, 40.0, 4000)
    p = ZENG_2019.power_w(v)
    assert float(ZENG_2019.power_w(v_me)) <= p.min() + 1e-6
    assert float(ZENG_2019.power_w(v_mr)) / v_mr <= (p / v).min() + 1e-6
    # hovering is not the most power-conserving status
    assert float(ZENG_2019.power_w(v_me)) < ZENG_2019.hover_power_w - 40.0


def test_power_model_closed_forms_at_high_speed_and_in_climb() -> None:
    m = ZENG_2019
    v = 60.0
    v0 = m.induced_velocity_m_s
    # induced term ~ Pi v0 / V for V >> v0; parasite is 1/2 d0 rho s A V^3
    parasite = 0.5 * 0.6 * 1.225 * 0.05 * 0.503 * v**3
    blade = m.blade_profile_power_w * (1 + 3 * v**2 / 120.0**2)
    induced = float(m.power_w(v)) - parasite - blade
    assert induced == pytest.approx(m.induced_power_w * v0 / v, rel=2e-3)
    # climbing at V_c: P0 + Pi v_i / v0 + W V_c, with v_i from momentum theory; hover at 0
    assert m.climb_power_w(0.0) == pytest.approx(m.hover_power_w)
    vc = 3.0
    vi = -vc / 2 + math.sqrt(vc * vc / 4 + v0 * v0)
    assert m.climb_power_w(vc) == pytest.approx(
        m.blade_profile_power_w + m.induced_power_w * vi / v0 + 20.0 * vc
    )
    assert m.climb_power_w(vc) > m.hover_power_w


def test_trajectory_energy_is_power_times_time_at_constant_speed() -> None:
    t = np.linspace(0.0, 100.0, 1001)
    vel = np.tile([6.0, 8.0, 0.0], (t.size, 1))  # 10 m/s level
    e = trajectory_energy_j(ZENG_2019, t, vel)
    assert e == pytest.approx(float(ZENG_2019.power_w(10.0)) * 100.0, rel=1e-12)
    climb = np.tile([0.0, 0.0, 2.0], (3, 1))
    np.testing.assert_allclose(
        trajectory_power_w(ZENG_2019, climb), ZENG_2019.hover_power_w + 20.0 * 2.0
    )


def test_battery_budget_of_the_base_station_drone() -> None:
    p = BASE_STATION_QUAD
    model = RotorPowerModel.from_params(p)
    b = energy_budget(
        p, outbound_aero_j=100_000.0, outbound_duration_s=120.0, altitude_m=70.0,
        mission_time_s=900.0, battery_capacity_wh=548.0, reserve_fraction=0.2,
    )  # fmt: skip
    hover_w = model.hover_power_w / p.powertrain_efficiency + p.payload_power_w
    assert b.hover_power_w == pytest.approx(hover_w)
    assert b.mission_j == pytest.approx(hover_w * 900.0)
    assert b.outbound_j == pytest.approx(100_000.0 / 0.8 + 100.0 * 120.0)
    assert b.return_j == b.outbound_j
    assert b.total_j == pytest.approx(b.climb_j + 2 * b.outbound_j + b.mission_j + b.descent_j)
    assert b.usable_j == pytest.approx(548.0 * 3600 * 0.8)
    assert b.feasible
    assert b.max_mission_time_s == pytest.approx(900.0 + b.margin_j / hover_w)
    short = energy_budget(
        p, outbound_aero_j=100_000.0, outbound_duration_s=120.0, altitude_m=70.0,
        mission_time_s=3600.0, battery_capacity_wh=548.0, reserve_fraction=0.2,
    )  # fmt: skip
    assert not short.feasible and short.margin_j < 0
    # paper 000's 20-100 min flight times: this drone hovers about 24 min on its usable energy
    assert 20.0 <= b.usable_j / hover_w / 60.0 <= 100.0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(SkycellError, match="reserve_fraction"):
        energy_budget(
            BASE_STATION_QUAD, outbound_aero_j=0.0, outbound_duration_s=0.0, altitude_m=0.0,
            mission_time_s=0.0, battery_capacity_wh=100.0, reserve_fraction=1.0,
        )  # fmt: skip
    with pytest.raises(SkycellError, match="must be > 0"):
        RotorPowerModel(0.0, 1.2, 0.05, 0.5, 120.0, 0.012, 0.1, 0.6)
