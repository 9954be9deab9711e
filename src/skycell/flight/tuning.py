"""Step responses of the six channels (paper 002 Table 5, Fig. 10) and PID gains tuned by
metaheuristics: ACO, ABC, GWO and the hybrids ACO-ABC, ACO-GWO, ABC-GWO.

The plant is paper 002's linearised model (Table 1, as the paper's Simulink model), one channel
at a time, with the limits of the parameter set: ``x`` and ``y`` through the pitch and roll
loops (``x'' = g theta``, ``y'' = -g phi``), ``z`` through the thrust, roll, pitch and yaw
directly. Each channel sees a step of its set point from rest (magnitudes in :data:`STEPS`)
and is scored with python-control's step-response metrics: rise time (10-90 %), peak time,
overshoot, settling time (2 % band) and the steady-state error.

Tuning cost, the same for every algorithm: ``J = ITAE / (|r| T^2 / 2) + 2 OS + 2 |e(T)| / |r|``
(normalised integral of time-weighted absolute error, overshoot as a fraction, final error),
plus ``5 x`` the relative excess over the limits the synthesised controller keeps by
construction (tilt 25 deg, attitude rate, speed; :func:`limit_excess`), so that both families
are compared on responses that respect the same limits; ``limit_weight=0`` tunes without.
Attitude loops are tuned first on their own steps, then x and y with the tuned pitch and roll
loops inside, then z. Algorithms (100 iterations each, the paper's setting):

* ``abc``, ``gwo``: niapy's ``ArtificialBeeColonyAlgorithm`` and ``GreyWolfOptimizer``;
* ``aco``: pygmo's ``gaco``, the extended ant colony optimiser for continuous domains (Schlueter
  et al. 2009, built on Socha and Dorigo's ACO_R): a maintained implementation;
* hybrids ``A-B``: ``A`` runs the first half of the iterations, its final population seeds
  ``B`` for the second half (a relay hybrid; paper 002 does not say how it hybridised).

One random generator per tuning run, seeded, draws the seed of every algorithm run, so a seed
gives the same gains.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.flight.cascade import (
    ATTITUDE_AXES,
    AXES,
    AttitudeLaw,
    ControllerSpecs,
    PositionLaw,
)
from skycell.flight.dynamics import QuadcopterParams
from skycell.flight.pid import PIDGains, pid_scalar_step

FloatArray = NDArray[np.float64]

#: Step magnitudes of the Table 5 experiments [m or rad].
STEPS: dict[str, float] = {
    "x": 5.0,
    "y": 5.0,
    "z": 3.0,
    "roll": 0.2,
    "pitch": 0.2,
    "yaw": 0.3,
}
#: Simulated time of each step response [s].
DURATIONS: dict[str, float] = {
    "x": 12.0,
    "y": 12.0,
    "z": 10.0,
    "roll": 2.0,
    "pitch": 2.0,
    "yaw": 8.0,
}
#: Tuning algorithms (paper 002 §4).
ALGORITHMS: tuple[str, ...] = ("aco", "abc", "gwo", "aco-abc", "aco-gwo", "abc-gwo")
#: Search box of ``(Kp, Ki, Kd)`` per channel (outputs: m/s^2 per m, rad/s^2 per rad).
GAIN_BOUNDS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "x": ((0.0, 0.0, 0.0), (10.0, 2.0, 10.0)),
    "y": ((0.0, 0.0, 0.0), (10.0, 2.0, 10.0)),
    "z": ((0.0, 0.0, 0.0), (10.0, 2.0, 10.0)),
    "roll": ((0.0, 0.0, 0.0), (600.0, 100.0, 80.0)),
    "pitch": ((0.0, 0.0, 0.0), (600.0, 100.0, 80.0)),
    "yaw": ((0.0, 0.0, 0.0), (20.0, 5.0, 20.0)),
}
#: Inner loop of each translational channel, and the sign in ``p'' = sign g angle``.
_INNER = {"x": ("pitch", 1.0), "y": ("roll", -1.0)}


@dataclass(frozen=True)
class StepExperiment:
    """The Table 5 set-up shared by every controller.

    Attributes:
        params: the drone.
        specs: the limits (each channel's output is bounded by its axis' ``K a_q``) and, for the
            synthesised controller, its abstractions.
        dt_s: simulation step [s].
        steps: step magnitude per channel.
        durations_s: simulated time per channel [s].
    """

    params: QuadcopterParams
    specs: ControllerSpecs
    dt_s: float = 0.01
    steps: dict[str, float] = field(default_factory=lambda: dict(STEPS))
    durations_s: dict[str, float] = field(default_factory=lambda: dict(DURATIONS))

    def limit(self, axis: str) -> float:
        """Largest output of the channel's law [m/s^2 or rad/s^2]."""
        s = self.specs.all()[axis]
        return s.input_levels * s.accel_quantum

    def n_steps(self, axis: str) -> int:
        """Simulation steps of a channel."""
        return round(self.durations_s[axis] / self.dt_s)


# ---------------------------------------------------------------------------- step responses


def _integrate_chain(
    p: float, v: float, th: float, w: float, alpha: float, dt: float, gain: float
) -> tuple[float, float, float, float]:
    """Exact zero-order-hold step of ``th'' = alpha``, ``p'' = gain th``."""
    dt2, dt3, dt4 = dt * dt, dt * dt * dt, dt * dt * dt * dt
    p_new = p + v * dt + gain * (th * dt2 / 2.0 + w * dt3 / 6.0 + alpha * dt4 / 24.0)
    v_new = v + gain * (th * dt + w * dt2 / 2.0 + alpha * dt3 / 6.0)
    th_new = th + w * dt + alpha * dt2 / 2.0
    w_new = w + alpha * dt
    return p_new, v_new, th_new, w_new


def pid_step_response(
    exp: StepExperiment,
    axis: str,
    gains: dict[str, PIDGains],
    *,
    peaks: dict[str, float] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Step response of one channel under PID control, in plain floats (fast enough for the
    metaheuristics' thousands of evaluations). ``gains`` must hold the channel's loop and, for
    ``x`` / ``y``, the inner pitch / roll loop. ``peaks``, when given, receives the largest
    ``angle`` [rad], ``rate`` [rad/s] and ``speed`` [m/s] reached (see :func:`limit_excess`).

    Returns:
        Times [s] and the channel's output, ``(T + 1,)`` each.
    """
    dt = exp.dt_s
    n = exp.n_steps(axis)
    r = exp.steps[axis]
    g = exp.params.gravity_m_s2
    out = np.empty(n + 1)
    top_angle = top_rate = top_speed = 0.0
    if axis in ATTITUDE_AXES:
        lim = exp.limit(axis)
        ga = gains[axis]
        ang = rate = integ = 0.0
        out[0] = 0.0
        for k in range(n):
            alpha, integ = pid_scalar_step(ga, integ, r - ang, -rate, dt, -lim, lim)
            ang += rate * dt + alpha * dt * dt / 2.0
            rate += alpha * dt
            out[k + 1] = ang
            top_angle = max(top_angle, abs(ang))
            top_rate = max(top_rate, abs(rate))
    elif axis == "z":
        lim = exp.limit("z")
        lo_t, hi_t = exp.params.thrust_range_n
        m = exp.params.mass_kg
        lo = max(-lim, lo_t / m - g)
        hi = min(lim, hi_t / m - g)
        gz = gains["z"]
        p = v = integ = 0.0
        out[0] = 0.0
        for k in range(n):
            a, integ = pid_scalar_step(gz, integ, r - p, -v, dt, lo, hi)
            p += v * dt + a * dt * dt / 2.0
            v += a * dt
            out[k + 1] = p
            top_speed = max(top_speed, abs(v))
    else:
        inner, sign = _INNER[axis]
        lim_a = exp.limit(axis)
        lim_w = exp.limit(inner)
        tilt = exp.params.max_tilt_rad
        go, gi = gains[axis], gains[inner]
        p = v = th = w = io = ii = prev_target = 0.0
        out[0] = 0.0
        for k in range(n):
            a, io = pid_scalar_step(go, io, r - p, -v, dt, -lim_a, lim_a)
            target = sign * a / g
            target = -tilt if target < -tilt else tilt if target > tilt else target
            target_rate = (target - prev_target) / dt
            prev_target = target
            alpha, ii = pid_scalar_step(gi, ii, target - th, target_rate - w, dt, -lim_w, lim_w)
            p, v, th, w = _integrate_chain(p, v, th, w, alpha, dt, sign * g)
            out[k + 1] = p
            top_angle = max(top_angle, abs(th))
            top_rate = max(top_rate, abs(w))
            top_speed = max(top_speed, abs(v))
    if peaks is not None:
        peaks.update(angle=top_angle, rate=top_rate, speed=top_speed)
    return np.arange(n + 1, dtype=np.float64) * dt, out


def limit_excess(exp: StepExperiment, axis: str, peaks: dict[str, float]) -> float:
    """How far a response went past the limits the synthesised controller guarantees, as a sum
    of relative excesses (0 when within every limit): tilt and attitude angles ``max_tilt``,
    roll / pitch rates ``max_rate`` (yaw: ``max_yaw_rate``), speeds the axis' velocity limit."""
    p = exp.params
    rate_limit = p.max_yaw_rate_rad_s if axis == "yaw" else p.max_rate_rad_s
    speed_limit = exp.specs.all()["z" if axis == "z" else "x"].velocity_limit
    excess = max(0.0, peaks.get("rate", 0.0) / rate_limit - 1.0)
    excess += max(0.0, peaks.get("speed", 0.0) / speed_limit - 1.0)
    if axis != "yaw":
        excess += max(0.0, peaks.get("angle", 0.0) / p.max_tilt_rad - 1.0)
    return excess


def law_step_response(
    exp: StepExperiment,
    axis: str,
    *,
    position: dict[str, PositionLaw],
    attitude: dict[str, AttitudeLaw],
    peaks: dict[str, float] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Step response of one channel with law objects (synthesised or PID), each called at its
    own period with the output held in between; same plant and limits as
    :func:`pid_step_response` (and the same ``peaks``)."""
    dt = exp.dt_s
    n = exp.n_steps(axis)
    r = exp.steps[axis]
    g = exp.params.gravity_m_s2

    def every(period: float) -> int:
        ratio = period / dt
        if abs(ratio - round(ratio)) > 1e-6:
            raise SkycellError(f"law period {period:g} s is not a multiple of dt {dt:g} s")
        return max(1, round(ratio))

    out = np.empty(n + 1)
    out[0] = 0.0
    one = np.ones(1)
    top_angle = top_rate = top_speed = 0.0
    if axis in ATTITUDE_AXES:
        law = attitude[axis]
        law.reset(1)
        e = every(law.period_s)
        ang = rate = alpha = 0.0
        for k in range(n):
            if k % e == 0:
                alpha = float(law.accel(ang * one, rate * one, r * one, 0.0 * one)[0])
            ang += rate * dt + alpha * dt * dt / 2.0
            rate += alpha * dt
            out[k + 1] = ang
            top_angle = max(top_angle, abs(ang))
            top_rate = max(top_rate, abs(rate))
    elif axis == "z":
        law_p = position["z"]
        law_p.reset(1)
        e = every(law_p.period_s)
        lo_t, hi_t = exp.params.thrust_range_n
        m = exp.params.mass_kg
        p = v = a = a_prev = 0.0
        for k in range(n):
            if k % e == 0:
                a_prev = a
                a = float(law_p.accel((p - r) * one, v * one)[0])
            # the cascade's first-order hold: a level change ramps in over the period, and the
            # acceleration is constant within a simulator step (exact update below)
            acc = a_prev + (a - a_prev) * min(1.0, ((k % e) + 1) / e) if law_p.ramp else a
            acc = min(max(acc, lo_t / m - g), hi_t / m - g)
            p += v * dt + acc * dt * dt / 2.0
            v += acc * dt
            out[k + 1] = p
            top_speed = max(top_speed, abs(v))
    else:
        inner, sign = _INNER[axis]
        law_p = position[axis]
        law_a = attitude[inner]
        law_p.reset(1)
        law_a.reset(1)
        eo, ei = every(law_p.period_s), every(law_a.period_s)
        tilt = exp.params.max_tilt_rad
        p = v = th = w = a = a_prev = alpha = prev_target = 0.0
        for k in range(n):
            if k % eo == 0:
                a_prev = a
                a = float(law_p.accel((p - r) * one, v * one)[0])
            acc = a_prev + (a - a_prev) * min(1.0, ((k % eo) + 1) / eo) if law_p.ramp else a
            target = min(max(sign * acc / g, -tilt), tilt)
            target_rate = (target - prev_target) / dt
            prev_target = target
            if k % ei == 0:
                alpha = float(law_a.accel(th * one, w * one, target * one, target_rate * one)[0])
            p, v, th, w = _integrate_chain(p, v, th, w, alpha, dt, sign * g)
            out[k + 1] = p
            top_angle = max(top_angle, abs(th))
            top_rate = max(top_rate, abs(w))
            top_speed = max(top_speed, abs(v))
    if peaks is not None:
        peaks.update(angle=top_angle, rate=top_rate, speed=top_speed)
    return np.arange(n + 1, dtype=np.float64) * dt, out


@dataclass(frozen=True)
class StepMetrics:
    """Table 5's columns for one response (python-control ``step_info``).

    Attributes:
        rise_time_s: ``Tr``, 10 % to 90 % of the final value [s].
        peak_time_s: ``Tp`` [s].
        overshoot_pct: ``Mp`` [%].
        settling_time_s: ``Ts``, last entry into the 2 % band [s].
        steady_state_error_pct: ``Ess``, ``|r - y_final| / |r|`` [%].
    """

    rise_time_s: float
    peak_time_s: float
    overshoot_pct: float
    settling_time_s: float
    steady_state_error_pct: float

    def as_row(self) -> tuple[float, float, float, float, float]:
        """``(Tr, Tp, Mp, Ts, Ess)``."""
        return (
            self.rise_time_s,
            self.peak_time_s,
            self.overshoot_pct,
            self.settling_time_s,
            self.steady_state_error_pct,
        )


def step_metrics(t_s: FloatArray, y: FloatArray, target: float) -> StepMetrics:
    """Rise, peak and settling time, overshoot and steady-state error of a step response,
    with python-control's ``step_info`` on the sampled response (final value: the last
    sample)."""
    import control

    info = control.step_info(np.asarray(y), timepts=np.asarray(t_s))
    final = float(info["SteadyStateValue"])
    return StepMetrics(
        rise_time_s=float(info["RiseTime"]),
        peak_time_s=float(info["PeakTime"]),
        overshoot_pct=float(info["Overshoot"]),
        settling_time_s=float(info["SettlingTime"]),
        steady_state_error_pct=100.0 * abs(target - final) / abs(target),
    )


def step_cost(t_s: FloatArray, y: FloatArray, target: float) -> float:
    """The tuning cost ``ITAE / (|r| T^2 / 2) + 2 OS + 2 |e(T)| / |r|`` (see the module
    docstring)."""
    t = np.asarray(t_s)
    e = np.abs(target - np.asarray(y))
    horizon = float(t[-1])
    itae = float(np.sum(0.5 * (t[1:] * e[1:] + t[:-1] * e[:-1]) * np.diff(t)))
    over = max(0.0, (float(np.max(np.sign(target) * np.asarray(y))) - abs(target)) / abs(target))
    final = float(e[-1]) / abs(target)
    value = itae / (abs(target) * horizon * horizon / 2.0) + 2.0 * over + 2.0 * final
    return value if math.isfinite(value) else 1e9


# ---------------------------------------------------------------------------- metaheuristics


@dataclass
class _Objective:
    """A counted cost over gain vectors."""

    fn: Callable[[FloatArray], float]
    evaluations: int = 0

    def __call__(self, x: FloatArray) -> float:
        self.evaluations += 1
        return float(self.fn(np.maximum(np.asarray(x, dtype=np.float64), 0.0)))


def _niapy_stage(
    name: str,
    objective: _Objective,
    bounds: tuple[FloatArray, FloatArray],
    *,
    iterations: int,
    population: int,
    seed: int,
    init: FloatArray | None,
) -> tuple[FloatArray, FloatArray]:
    """Run niapy's ABC or GWO for ``iterations``; returns the final population and costs."""
    from niapy.algorithms.basic import ArtificialBeeColonyAlgorithm, GreyWolfOptimizer
    from niapy.problems import Problem
    from niapy.task import Task

    class _P(Problem):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(dimension=len(bounds[0]), lower=bounds[0], upper=bounds[1])

        def _evaluate(self, x: FloatArray) -> float:
            return objective(x)

    task = Task(problem=_P(), max_iters=iterations)
    algo: Any
    if name == "abc":
        algo = ArtificialBeeColonyAlgorithm(population_size=population, seed=seed)
    elif name == "gwo":
        algo = GreyWolfOptimizer(population_size=population, seed=seed)
    else:  # pragma: no cover - guarded by the caller
        raise SkycellError(f"unknown niapy algorithm {name!r}")
    if init is not None:
        seeded = np.asarray(init, dtype=np.float64)

        def initialise(
            task: Any, population_size: int, rng: Any, individual_type: Any = None, **_: Any
        ) -> tuple[Any, FloatArray]:
            rows = [seeded[i % seeded.shape[0]] for i in range(population_size)]
            if individual_type is not None:
                pop = np.empty(population_size, dtype=object)
                for i, x in enumerate(rows):
                    pop[i] = individual_type(x=np.array(x), task=task, e=True)
                return pop, np.asarray([ind.f for ind in pop])
            arr = np.array(rows)
            return arr, np.apply_along_axis(task.eval, 1, arr)

        algo.initialization_function = initialise
    pop, fpop, params = algo.init_population(task)
    xb, fxb = algo.get_best(pop, fpop)
    while not task.stopping_condition():
        pop, fpop, xb, fxb, params = algo.run_iteration(task, pop, fpop, xb, fxb, **params)
        task.next_iter()
    xs = np.array([ind.x if hasattr(ind, "x") else ind for ind in pop], dtype=np.float64)
    fs = np.asarray(fpop, dtype=np.float64)
    # keep the best-ever solution in the hand-over population
    worst = int(np.argmax(fs))
    if float(fxb) < float(fs.min()):
        xs[worst], fs[worst] = np.asarray(xb), float(fxb)
    return xs, fs


def _gaco_stage(
    objective: _Objective,
    bounds: tuple[FloatArray, FloatArray],
    *,
    iterations: int,
    population: int,
    seed: int,
    init: FloatArray | None,
) -> tuple[FloatArray, FloatArray]:
    """Run pygmo's gaco (continuous ACO) for ``iterations`` generations."""
    import pygmo as pg

    class _UDP:
        def fitness(self, x: FloatArray) -> list[float]:
            return [objective(x)]

        def get_bounds(self) -> tuple[list[float], list[float]]:
            return (list(bounds[0]), list(bounds[1]))

    prob = pg.problem(_UDP())
    if init is None:
        pop = pg.population(prob, size=population, seed=seed)
    else:
        pop = pg.population(prob, size=0, seed=seed)
        for i in range(population):
            pop.push_back(np.asarray(init[i % init.shape[0]], dtype=np.float64))
    algo = pg.algorithm(pg.gaco(gen=iterations, ker=population, seed=seed))
    pop = algo.evolve(pop)
    return np.asarray(pop.get_x()), np.asarray(pop.get_f())[:, 0]


def minimise(
    algorithm: str,
    cost: Callable[[FloatArray], float],
    bounds: tuple[FloatArray, FloatArray],
    *,
    iterations: int,
    population: int,
    rng: np.random.Generator,
) -> tuple[FloatArray, float, int]:
    """Minimise ``cost`` over a box with one of :data:`ALGORITHMS`.

    Returns:
        The best point, its cost and the number of cost evaluations.
    """
    if algorithm not in ALGORITHMS:
        raise SkycellError(f"unknown tuning algorithm {algorithm!r}; choose one of {ALGORITHMS}")
    if iterations < 1 or population < 4:
        raise SkycellError(
            f"tuning needs iterations >= 1 and population >= 4, got {iterations}, {population}"
        )
    objective = _Objective(cost)
    stages = algorithm.split("-")
    split = [iterations] if len(stages) == 1 else [iterations // 2, iterations - iterations // 2]
    pop: FloatArray | None = None
    fit = np.zeros(0)
    for stage, its in zip(stages, split, strict=True):
        seed = int(rng.integers(0, 2**31 - 1))
        if its < 1:
            continue
        if stage == "aco":
            pop, fit = _gaco_stage(
                objective, bounds, iterations=its, population=population, seed=seed, init=pop
            )
        else:
            pop, fit = _niapy_stage(
                stage, objective, bounds, iterations=its, population=population, seed=seed,
                init=pop,
            )  # fmt: skip
    assert pop is not None
    best = int(np.argmin(fit))
    return np.maximum(pop[best], 0.0), float(fit[best]), objective.evaluations


@dataclass(frozen=True)
class AxisTuning:
    """Result of tuning one channel.

    Attributes:
        gains: the best gains.
        cost: their tuning cost.
        evaluations: cost evaluations used.
        seconds: wall time [s].
    """

    gains: PIDGains
    cost: float
    evaluations: int
    seconds: float


@dataclass(frozen=True)
class PIDTuning:
    """Gains of the six loops from one algorithm."""

    algorithm: str
    axes: dict[str, AxisTuning]

    @property
    def gains(self) -> dict[str, PIDGains]:
        """Gains by channel."""
        return {a: t.gains for a, t in self.axes.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "algorithm": self.algorithm,
            "axes": {
                a: {
                    "kp": t.gains.kp,
                    "ki": t.gains.ki,
                    "kd": t.gains.kd,
                    "cost": t.cost,
                    "evaluations": t.evaluations,
                    "seconds": t.seconds,
                }
                for a, t in self.axes.items()
            },
        }


#: Order in which the channels are tuned (inner loops before the outer ones that contain them).
TUNING_ORDER: tuple[str, ...] = ("roll", "pitch", "yaw", "x", "y", "z")


def tune_pid(
    exp: StepExperiment,
    algorithm: str,
    *,
    iterations: int = 100,
    population: int = 20,
    seed: int = 0,
    axes: tuple[str, ...] = TUNING_ORDER,
    limit_weight: float = 5.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> PIDTuning:
    """Tune the PID gains of the channels in ``axes`` (default all six, inner loops first) with
    one algorithm, on the step-response cost plus ``limit_weight`` times the response's excess
    over the limits the synthesised controller guarantees (:func:`limit_excess`; 0 gives the
    unconstrained tuning); ``progress(axis, done, total)`` after each."""
    rng = np.random.default_rng(seed)
    results: dict[str, AxisTuning] = {}
    for done, axis in enumerate(axes):
        if axis not in AXES:
            raise SkycellError(f"unknown channel {axis!r}; choose from {', '.join(AXES)}")
        lo, hi = GAIN_BOUNDS[axis]
        inner = _INNER.get(axis, (None, 0.0))[0]
        fixed: dict[str, PIDGains] = {}
        if inner is not None:
            if inner not in results:
                raise SkycellError(
                    f"tune the {inner} loop before {axis}: it is {axis}'s inner loop"
                )
            fixed[inner] = results[inner].gains

        def cost(x: FloatArray, axis: str = axis, fixed: dict[str, PIDGains] = fixed) -> float:
            gains = {**fixed, axis: PIDGains(float(x[0]), float(x[1]), float(x[2]))}
            peaks: dict[str, float] = {}
            t, y = pid_step_response(exp, axis, gains, peaks=peaks)
            return step_cost(t, y, exp.steps[axis]) + limit_weight * limit_excess(exp, axis, peaks)

        tic = time.perf_counter()
        best, value, evals = minimise(
            algorithm,
            cost,
            (np.asarray(lo), np.asarray(hi)),
            iterations=iterations,
            population=population,
            rng=rng,
        )
        results[axis] = AxisTuning(
            gains=PIDGains(float(best[0]), float(best[1]), float(best[2])),
            cost=value,
            evaluations=evals,
            seconds=time.perf_counter() - tic,
        )
        if progress is not None:
            progress(axis, done + 1, len(axes))
    return PIDTuning(algorithm=algorithm, axes=results)
