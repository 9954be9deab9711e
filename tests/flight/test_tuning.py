"""PID loops, python-control step metrics, the metaheuristics (niapy ABC / GWO, pygmo gaco)
and the hybrids, and the synthesised controller's step responses (paper 002 Table 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skycell.errors import SkycellError
from skycell.flight.cascade import (
    near_field_specs,
    pid_laws,
    route_specs,
    step_specs,
    synthesize_controller,
    synthesized_laws,
)
from skycell.flight.dynamics import BASE_STATION_QUAD
from skycell.flight.pid import PIDGains, PIDLaw, pid_scalar_step
from skycell.flight.tuning import (
    ALGORITHMS,
    StepExperiment,
    law_step_response,
    limit_excess,
    minimise,
    pid_step_response,
    step_cost,
    step_metrics,
    tune_pid,
)

P = BASE_STATION_QUAD


@pytest.fixture(scope="module")
def experiment() -> StepExperiment:
    return StepExperiment(P, route_specs(P, cruise_speed_m_s=10.0))


def test_vectorised_and_scalar_pid_agree_including_anti_windup() -> None:
    g = PIDGains(2.0, 1.5, 0.7)
    law = PIDLaw(g, period_s=0.01, output_limit=(-1.0, 1.0))
    law.reset(3)
    integ = [0.0, 0.0, 0.0]
    rng = np.random.default_rng(0)
    for _ in range(200):
        e = rng.normal(0, 1.0, 3)
        de = rng.normal(0, 1.0, 3)
        out = law(e, de)
        for k in range(3):
            o, integ[k] = pid_scalar_step(g, integ[k], float(e[k]), float(de[k]), 0.01, -1.0, 1.0)
            assert out[k] == pytest.approx(o)
    with pytest.raises(SkycellError):
        PIDGains(-1.0, 0.0, 0.0)


def test_step_metrics_match_the_closed_form_second_order_response() -> None:
    """A PD loop on Table 1's attitude double integrator, unsaturated, is the second-order
    system w_n^2 / (s^2 + 2 zeta w_n s + w_n^2); its metrics equal python-control's for that
    transfer function, and the overshoot equals exp(-pi zeta / sqrt(1 - zeta^2))."""
    import control

    kp, kd = 400.0, 24.0
    w_n, zeta = math.sqrt(kp), kd / (2 * math.sqrt(kp))
    specs = route_specs(P, cruise_speed_m_s=10.0)
    exp = StepExperiment(P, specs, dt_s=0.001, steps={"pitch": 0.01}, durations_s={"pitch": 2.0})
    t, y = pid_step_response(exp, "pitch", {"pitch": PIDGains(kp, 0.0, kd)})
    m = step_metrics(t, y / 0.01, 1.0)
    sys = control.tf([w_n**2], [1.0, 2 * zeta * w_n, w_n**2])
    ref = control.step_info(sys)
    assert m.overshoot_pct == pytest.approx(
        100 * math.exp(-math.pi * zeta / math.sqrt(1 - zeta**2)), abs=0.1
    )
    assert m.peak_time_s == pytest.approx(math.pi / (w_n * math.sqrt(1 - zeta**2)), abs=0.003)
    assert m.rise_time_s == pytest.approx(ref["RiseTime"], abs=0.003)
    assert m.settling_time_s == pytest.approx(ref["SettlingTime"], abs=0.01)
    assert m.steady_state_error_pct == pytest.approx(0.0, abs=0.01)
    assert step_cost(t, y / 0.01, 1.0) > 2 * (m.overshoot_pct / 100) - 1e-9


def test_scalar_pid_step_equals_the_law_based_step(experiment: StepExperiment) -> None:
    gains = {a: PIDGains(*g) for a, g in {
        "x": (1.5, 0.05, 2.0), "y": (1.2, 0.0, 1.8), "z": (2.0, 0.1, 2.5),
        "roll": (250.0, 5.0, 30.0), "pitch": (300.0, 0.0, 35.0), "yaw": (8.0, 0.5, 6.0),
    }.items()}  # fmt: skip
    pos, att = pid_laws(gains, experiment.specs, dt_s=experiment.dt_s)
    for axis in ("x", "y", "z", "pitch", "yaw"):
        _t1, y1 = pid_step_response(experiment, axis, gains)
        _t2, y2 = law_step_response(experiment, axis, position=pos, attitude=att)
        np.testing.assert_allclose(y1, y2, atol=1e-9)
        assert abs(y1[-1] - experiment.steps[axis]) < 0.05 * experiment.steps[axis]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_minimises_a_quadratic(algorithm: str) -> None:
    target = np.array([0.3, 1.7, 0.9])

    def cost(x: np.ndarray) -> float:
        return float(np.sum((x - target) ** 2))

    bounds = (np.zeros(3), np.full(3, 2.0))
    best, value, evals = minimise(
        algorithm, cost, bounds, iterations=40, population=12, rng=np.random.default_rng(1)
    )
    assert value < 0.05
    np.testing.assert_allclose(best, target, atol=0.25)
    assert evals >= 40 * 12 * 0.9
    again = minimise(
        algorithm, cost, bounds, iterations=40, population=12, rng=np.random.default_rng(1)
    )
    np.testing.assert_array_equal(best, again[0])  # one seed, one result
    with pytest.raises(SkycellError, match="unknown tuning algorithm"):
        minimise("pso", cost, bounds, iterations=1, population=4, rng=np.random.default_rng(0))


def test_tuning_improves_the_step_cost(experiment: StepExperiment) -> None:
    tuned = tune_pid(experiment, "abc-gwo", iterations=6, population=8, seed=3, axes=("pitch", "x"))
    naive = {"pitch": PIDGains(50.0, 0.0, 5.0), "x": PIDGains(0.5, 0.0, 0.5)}
    for axis in ("pitch", "x"):
        gains = {**naive, **{a: t.gains for a, t in tuned.axes.items()}}
        peaks: dict[str, float] = {}
        t, y = pid_step_response(experiment, axis, gains, peaks=peaks)
        tn, yn = pid_step_response(experiment, axis, {**naive})
        assert step_cost(t, y, experiment.steps[axis]) < step_cost(tn, yn, experiment.steps[axis])
        expected = step_cost(t, y, experiment.steps[axis]) + 5.0 * limit_excess(
            experiment, axis, peaks
        )
        assert tuned.axes[axis].cost == pytest.approx(expected)
    with pytest.raises(SkycellError, match="tune the pitch loop before x"):
        tune_pid(experiment, "gwo", iterations=2, population=4, axes=("x",))


def test_synthesized_step_responses(route_tables, flight_cache) -> None:  # type: ignore[no-untyped-def]
    """Far-field controller with a near-field one nested (small domains to keep the test
    quick): every channel reaches its set point, overshoots at most a few cells and is no
    faster than the time-optimal bang-bang bound allows (a sanity floor on the rise time)."""
    from dataclasses import replace

    specs = step_specs(P, horizontal_step_m=1.0, vertical_step_m=3.0, speed_limit_m_s=2.5)
    near = near_field_specs(P)
    near = replace(
        near,
        x=replace(near.x, position_limit=0.3, velocity_limit=0.8, input_levels=4),
        y=replace(near.y, position_limit=0.3, velocity_limit=0.8, input_levels=4),
    )
    exp = StepExperiment(
        P, specs, steps={"x": 1.0, "z": 3.0, "pitch": 0.2, "yaw": 0.3},
        durations_s={"x": 6.0, "z": 10.0, "pitch": 2.0, "yaw": 8.0},
    )  # fmt: skip
    coarse = synthesize_controller(specs, cache_dir=flight_cache)
    fine = synthesize_controller(near, cache_dir=flight_cache)
    pos, att = synthesized_laws(coarse, fine=fine)
    for axis in ("x", "z", "pitch", "yaw"):
        t, y = law_step_response(exp, axis, position=pos, attitude=att)
        r = exp.steps[axis]
        m = step_metrics(t, y, r)
        a_max = exp.limit(axis)
        # within a few near-field cells (5 mm) of the set point
        assert abs(y[-1] - r) < 4 * fine.axes["x"].spec.position_quantum or axis in ("pitch", "yaw")
        assert m.steady_state_error_pct < 1.5, axis
        assert m.overshoot_pct < 3.0, axis
        assert m.settling_time_s < 0.8 * t[-1], axis
        # 10-90 % of r cannot be covered faster than with full acceleration from rest
        floor = math.sqrt(2 * 0.9 * r / a_max) - math.sqrt(2 * 0.1 * r / a_max)
        assert m.rise_time_s >= 0.9 * floor, axis
        # the synthesised controller keeps the tilt, rate and speed limits by construction
        peaks: dict[str, float] = {}
        law_step_response(exp, axis, position=pos, attitude=att, peaks=peaks)
        assert limit_excess(exp, axis, peaks) == 0.0, (axis, peaks)
        law = pos[axis] if axis in pos else att[axis]
        assert law.law.monitor.exits.sum() == 0  # type: ignore[attr-defined]
        assert law.law.monitor.violations.sum() == 0  # type: ignore[attr-defined]


def test_limit_excess_flags_an_aggressive_pid(experiment: StepExperiment) -> None:
    """A stiff attitude loop overshoots the tilt and rate limits; the excess says by how much."""
    peaks: dict[str, float] = {}
    stiff = {"pitch": PIDGains(600.0, 0.0, 10.0), "x": PIDGains(10.0, 0.0, 1.0)}
    pid_step_response(experiment, "x", stiff, peaks=peaks)
    assert peaks["rate"] > P.max_rate_rad_s
    assert limit_excess(experiment, "x", peaks) == pytest.approx(
        max(0.0, peaks["rate"] / P.max_rate_rad_s - 1)
        + max(0.0, peaks["speed"] / experiment.specs.x.velocity_limit - 1)
        + max(0.0, peaks["angle"] / P.max_tilt_rad - 1)
    )
    assert limit_excess(experiment, "x", {"angle": 0.1, "rate": 0.5, "speed": 1.0}) == 0.0
