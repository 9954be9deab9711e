"""``skycell fly``: fly every station of a deployment to its point through a controller, in
simulation, and report arrival times, clearances, separations and the battery budget.

For each station: a flyable path from its route's start (the planned gradient route as the
guide) or from a start in the launch area (stations without a route), checked against the
buildings with the controller's tube (:mod:`skycell.flight.paths`); a waypoint-to-waypoint
reference; departure delays that keep the stations apart. Then all stations fly together on
paper 002 §2.1's nonlinear model (:func:`skycell.flight.dynamics.simulate`, RK4, 10 ms) under
the chosen controller: ``synthesized`` (the BDD-synthesised safe controller,
:mod:`skycell.flight.synthesis`) or ``pid-<algorithm>`` (PID loops tuned by that metaheuristic on
the Table 5 step responses, :mod:`skycell.flight.tuning`). The flown trajectories replace the
routes of the deployment, with time stamps; the energy of each flight (Zeng et al. 2019,
:mod:`skycell.flight.energy`) goes against the fleet's battery with the mission's hover time and
the way back, and every station that cannot make it is reported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.flight.cascade import (
    CascadeController,
    ControllerSpecs,
    Reference,
    monitor_summary,
    pid_laws,
    route_specs,
    synthesize_controller,
    synthesized_laws,
)
from skycell.flight.dynamics import (
    BASE_STATION_QUAD,
    QuadcopterParams,
    SimulationResult,
    hover_state,
    inertial_velocity,
    simulate,
)
from skycell.flight.energy import EnergyBudget, RotorPowerModel, energy_budget, trajectory_energy_j
from skycell.flight.paths import (
    FlightPath,
    ObstacleMap,
    RouteReference,
    plan_path,
    schedule_departures,
    segment_clearance_3d_m,
)
from skycell.flight.tuning import ALGORITHMS, StepExperiment, tune_pid

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.deployment import Deployment
    from skycell.scenario import Scenario

FloatArray = NDArray[np.float64]

#: Controllers ``skycell fly`` accepts.
CONTROLLERS: tuple[str, ...] = ("synthesized", *(f"pid-{a}" for a in ALGORITHMS))


@dataclass(frozen=True)
class FlightOptions:
    """How to fly.

    Attributes:
        controller: one of :data:`CONTROLLERS`.
        seed: seed of the run's generator (launch points, PID tuning).
        params: the drone.
        dt_s: simulator step [s].
        record_dt_s: sampling of the recorded trajectories [s].
        route_dt_s: sampling of the trajectories written into the deployment [s].
        tune_iterations, tune_population: PID tuning budget (paper 002: 100 iterations).
        arrival_tolerance_m: a station has arrived once it stays this close to its point [m].
        settle_s: longest simulated time after the last reference arrives [s]; the run stops
            earlier once every drone rests at its point.
        cache_dir: where synthesised tables are kept (``None``: in memory only).
    """

    controller: str = "synthesized"
    seed: int = 0
    params: QuadcopterParams = BASE_STATION_QUAD
    dt_s: float = 0.01
    record_dt_s: float = 0.05
    route_dt_s: float = 1.0
    tune_iterations: int = 100
    tune_population: int = 20
    arrival_tolerance_m: float = 0.5
    settle_s: float = 10.0
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.controller not in CONTROLLERS:
            raise SkycellError(
                f"unknown controller {self.controller!r}; choose one of {', '.join(CONTROLLERS)}"
            )
        ratio = self.record_dt_s / self.dt_s
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise SkycellError("record_dt_s must be a positive multiple of dt_s")
        if not (self.route_dt_s >= self.record_dt_s and self.arrival_tolerance_m > 0):
            raise SkycellError("route_dt_s must be >= record_dt_s and arrival_tolerance_m > 0")


@dataclass
class StationFlight:
    """One station's flight.

    Attributes:
        id: station id.
        path: its flyable path.
        reference: its reference (departure delay included).
        t_s: ``(T,)`` record times [s].
        position_m, velocity_m_s: ``(T, 3)`` flown states.
        arrival_s: time from which it stays within the tolerance of its point [s], or None.
        min_clearance_3d_m: closest 3-D approach to any building [m].
        min_clearance_horizontal_m: closest horizontal approach to a building taller than the
            station's altitude [m] (the plan's route metric).
        min_separation_m: closest approach to any other station [m] (inf when alone).
        closest_station: id of that station.
        max_tracking_error_m: largest distance from the reference [m].
        aero_energy_j: aerodynamic energy of the way out [J].
        budget: the battery budget.
        warnings: what went wrong for this station.
    """

    id: str
    path: FlightPath
    reference: RouteReference
    t_s: FloatArray
    position_m: FloatArray
    velocity_m_s: FloatArray
    arrival_s: float | None
    min_clearance_3d_m: float
    min_clearance_horizontal_m: float
    min_separation_m: float
    closest_station: str | None
    max_tracking_error_m: float
    aero_energy_j: float
    budget: EnergyBudget
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "id": self.id,
            "waypoints_m": np.round(self.path.waypoints_m, 3).tolist(),
            "path_length_m": self.path.length_m,
            "path_repaired": self.path.repaired,
            "hover_point_shift_m": self.path.goal_shift_m,
            "reference_min_clearance_m": self.path.min_clearance_m,
            "departure_delay_s": self.reference.delay_s,
            "reference_arrival_s": self.reference.end_time_s,
            "arrival_s": self.arrival_s,
            "reached": self.arrival_s is not None,
            "min_building_clearance_3d_m": self.min_clearance_3d_m,
            "min_building_clearance_horizontal_m": self.min_clearance_horizontal_m,
            "min_station_distance_m": self.min_separation_m
            if math.isfinite(self.min_separation_m)
            else None,
            "closest_station": self.closest_station,
            "max_tracking_error_m": self.max_tracking_error_m,
            "outbound_aero_energy_wh": self.aero_energy_j / 3600.0,
            "energy": self.budget.to_dict(),
            "notes": list(self.path.notes),
            "warnings": list(self.warnings),
        }


@dataclass
class FlightRun:
    """What :func:`fly_deployment` produced.

    Attributes:
        deployment: the input with flown routes (time-stamped), moved hover points and
            ``metrics.flight``.
        stations: per-station flights.
        report: the ``metrics.flight`` record.
        simulation: the raw simulation.
        city: the deployment's city.
    """

    deployment: Deployment
    stations: list[StationFlight]
    report: dict[str, Any]
    simulation: SimulationResult
    city: City

    @property
    def warnings(self) -> list[str]:
        """Every warning of the run."""
        return list(self.report.get("warnings", []))


def _launch_points(
    scenario: Scenario, city: City, n: int, altitude_m: float, seed: int
) -> FloatArray:
    from skycell.plan.pipeline import launch_area
    from skycell.plan.place_gradient import semi_random_start

    rng = np.random.default_rng(seed)
    try:
        xy = semi_random_start(
            city,
            n,
            rng=rng,
            launch_area_m=launch_area(scenario),
            altitude_m=altitude_m,
            clearance_m=scenario.fleet.building_clearance_m,
            min_separation_m=max(scenario.placement.min_start_separation_m, 1.0),
        )
    except ValueError as exc:
        raise SkycellError(str(exc)) from None
    return np.asarray(xy)


def _min_pair_distance(a: FloatArray, b: FloatArray) -> float:
    """Smallest distance between two trajectories sampled at the same times, exact for straight
    motion between samples."""
    d0 = a[:-1] - b[:-1]
    d1 = a[1:] - b[1:]
    dd = d1 - d0
    den = np.einsum("ij,ij->i", dd, dd)
    s = np.where(
        den > 0, np.clip(-np.einsum("ij,ij->i", d0, dd) / np.where(den > 0, den, 1), 0, 1), 0
    )
    closest = d0 + s[:, None] * dd
    return float(np.sqrt(np.einsum("ij,ij->i", closest, closest)).min())


def build_controller(
    options: FlightOptions,
    specs: ControllerSpecs,
    *,
    status: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The laws of the chosen controller, and a record of how they were made."""
    say = status or (lambda _text: None)
    if options.controller == "synthesized":
        say("synthesising the safe controller (BDD fixpoints, limited-optimal tables) …")
        tables = synthesize_controller(specs, cache_dir=options.cache_dir)
        pos, att = synthesized_laws(tables)
        return pos, att, {"synthesis": tables.stats()}
    algorithm = options.controller.removeprefix("pid-")
    say(
        f"tuning six PID loops with {algorithm.upper()} ({options.tune_iterations} iterations, "
        f"population {options.tune_population}) …"
    )
    exp = StepExperiment(options.params, specs, dt_s=options.dt_s)
    tuning = tune_pid(
        exp,
        algorithm,
        iterations=options.tune_iterations,
        population=options.tune_population,
        seed=options.seed,
        progress=lambda axis, done, total: say(f"tuned the {axis} loop ({done}/{total})"),
    )
    pos, att = pid_laws(tuning.gains, specs, dt_s=options.dt_s)
    return pos, att, {"pid_tuning": tuning.to_dict()}


def fly_deployment(
    deployment: Deployment,
    options: FlightOptions | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> FlightRun:
    """Fly a deployment's stations to their points (see the module docstring).

    Args:
        deployment: a planned deployment (``skycell plan``).
        options: how to fly.
        progress: ``progress(step, steps)`` during the simulation.
        status: ``status(text)`` between phases.

    Raises:
        SkycellError: a bad option, or a station that cannot be given a clear path.
    """
    from skycell.plan.pipeline import deployment_city, deployment_scenario

    opts = options or FlightOptions()
    tic = time.perf_counter()
    say = status or (lambda _text: None)
    scenario = deployment_scenario(deployment)
    city = deployment_city(deployment)
    fleet = scenario.fleet
    params = opts.params
    specs = route_specs(params, cruise_speed_m_s=fleet.cruise_speed_m_s)
    tube_h, tube_z = specs.horizontal_tube_m, specs.vertical_tube_m
    tube_3d = math.hypot(tube_h, tube_z)
    c_b = fleet.building_clearance_m
    stations = deployment.stations
    n = len(stations)
    goals = deployment.station_xyz_m()
    routes = deployment.routes_m()
    need_launch = [i for i, r in enumerate(routes) if r.shape[0] < 2]
    starts = np.array([r[0] for r in routes], dtype=np.float64)
    if need_launch:
        alt = float(goals[need_launch, 2].min())
        pts = _launch_points(scenario, city, len(need_launch), alt, opts.seed)
        for k, i in enumerate(need_launch):
            starts[i] = (pts[k, 0], pts[k, 1], goals[i, 2])
    say(f"planning {n} paths with {c_b:g} m clearance + {tube_h:.2f} m tube …")
    maps: dict[float, ObstacleMap] = {}
    paths: list[FlightPath] = []
    for i, s in enumerate(stations):
        alt = float(goals[i, 2])
        if alt not in maps:
            maps[alt] = ObstacleMap(city, alt, c_b, tube_h, tube_z)
        guide = routes[i][:, :2] if i not in need_launch else None
        try:
            paths.append(plan_path(maps[alt], starts[i, :2], goals[i, :2], guide_xy_m=guide))
        except SkycellError as exc:
            raise SkycellError(f"station {s.id}: {exc}") from None
    refs = [
        RouteReference.from_waypoints(
            p.waypoints_m,
            speed_m_s=fleet.cruise_speed_m_s,
            accel_m_s2=specs.reference_accel_m_s2,
        )
        for p in paths
    ]
    separation = fleet.flight_separation_m
    refs, schedule_notes = schedule_departures(refs, separation_m=separation + 2.0 * tube_3d)
    warnings: list[str] = [
        note.replace(f"station {i}:", f"station {stations[i].id}:", 1)
        for i in range(n)
        for note in schedule_notes
        if note.startswith(f"station {i}:")
    ]
    pos_laws, att_laws, made = build_controller(opts, specs, status=say)
    # the reference on the simulator's grid
    end = max(r.end_time_s for r in refs)
    duration = end + opts.settle_s
    steps = math.ceil(duration / opts.dt_s)
    t_grid = np.arange(steps + 1, dtype=np.float64) * opts.dt_s
    samples = [r.sample(t_grid) for r in refs]
    reference = Reference(
        dt_s=opts.dt_s,
        position_m=np.stack([s[0] for s in samples], axis=1),
        velocity_m_s=np.stack([s[1] for s in samples], axis=1),
        accel_m_s2=np.stack([s[2] for s in samples], axis=1),
        yaw_rad=np.zeros((steps + 1, n)),
    )
    controller = CascadeController(
        params,
        position=pos_laws,
        attitude=att_laws,
        reference=reference,
        model="nonlinear",
        dt_s=opts.dt_s,
    )
    say(f"flying {n} stations for {duration:.0f} s of simulated time ({opts.controller}) …")
    every = round(opts.record_dt_s / opts.dt_s)
    goal_xyz = np.array([r.goal_m for r in refs])
    check_every = round(0.5 / opts.dt_s)

    def settled(step: int, t_s: float, state: FloatArray) -> bool:
        # stop once every reference has arrived and every drone rests at its point
        if step % check_every or t_s < end + 1.0:
            return False
        near = np.linalg.norm(state[:, 0:3] - goal_xyz, axis=1) < 0.5 * opts.arrival_tolerance_m
        slow = np.linalg.norm(state[:, 3:6], axis=1) < 0.2
        return bool(np.all(near & slow))

    sim = simulate(
        params,
        controller,
        hover_state(starts),
        duration_s=steps * opts.dt_s,
        dt_s=opts.dt_s,
        model="nonlinear",
        record_every=every,
        stop=settled,
        progress=progress,
    )
    say("measuring clearances, separations and energy …")
    t = sim.t_s
    pos = sim.states[:, :, 0:3]
    flat = sim.states.reshape(-1, 12)
    vel = inertial_velocity(flat).reshape(t.size, n, 3)
    ref_pos = reference.position_m[::every][: t.size]
    model = RotorPowerModel.from_params(params)
    flights: list[StationFlight] = []
    for i, s in enumerate(stations):
        p, v = pos[:, i], vel[:, i]
        goal = refs[i].goal_m
        away = np.linalg.norm(p - goal, axis=1) > opts.arrival_tolerance_m
        arrival: float | None
        if away[-1]:
            arrival = None
        else:
            last_away = np.flatnonzero(away)
            arrival = float(t[last_away[-1] + 1]) if last_away.size else 0.0
        stop = int(np.searchsorted(t, arrival, side="right")) if arrival is not None else t.size
        stop = max(stop, 2)
        clr3 = segment_clearance_3d_m(city, p[:-1], p[1:])
        taller = city.segment_clearance_m(p[:-1], p[1:], min_height_m=float(goals[i, 2]))
        sep = math.inf
        other: str | None = None
        for j in range(n):
            if j != i:
                d = _min_pair_distance(p, pos[:, j])
                if d < sep:
                    sep, other = d, stations[j].id
        aero = trajectory_energy_j(model, t[:stop], v[:stop])
        budget = energy_budget(
            params,
            outbound_aero_j=aero,
            outbound_duration_s=float(t[stop - 1]),
            altitude_m=float(goals[i, 2]),
            mission_time_s=fleet.mission_time_s,
            battery_capacity_wh=fleet.battery_capacity_wh,
            reserve_fraction=fleet.battery_reserve_fraction,
        )
        flight = StationFlight(
            id=s.id,
            path=paths[i],
            reference=refs[i],
            t_s=t,
            position_m=p,
            velocity_m_s=v,
            arrival_s=arrival,
            min_clearance_3d_m=float(clr3.min()),
            min_clearance_horizontal_m=float(taller.min()),
            min_separation_m=sep,
            closest_station=other,
            max_tracking_error_m=float(np.linalg.norm(p - ref_pos[:, i], axis=1).max()),
            aero_energy_j=aero,
            budget=budget,
        )
        if arrival is None:
            flight.warnings.append(
                f"{s.id} did not reach its point: {float(np.linalg.norm(p[-1] - goal)):.1f} m "
                f"away after {t[-1]:.0f} s"
            )
        if not budget.feasible:
            flight.warnings.append(
                f"{s.id} cannot fly there, hover {fleet.mission_time_s:g} s and return: it needs "
                f"{budget.total_j / 3600:.0f} Wh of {budget.usable_j / 3600:.0f} Wh usable "
                f"({fleet.battery_capacity_wh:g} Wh less {100 * fleet.battery_reserve_fraction:g} "
                f"% reserve); it could hover {budget.max_mission_time_s:.0f} s"
            )
        if flight.min_clearance_3d_m < c_b - 1e-6:
            flight.warnings.append(
                f"{s.id} came within {flight.min_clearance_3d_m:.2f} m of a building "
                f"(c_b = {c_b:g} m)"
            )
        if math.isfinite(sep) and sep < separation - 1e-6:
            flight.warnings.append(
                f"{s.id} came within {sep:.2f} m of {other} (flight separation {separation:g} m)"
            )
        flights.append(flight)
        warnings += flight.warnings
    monitors = monitor_summary(pos_laws, att_laws)
    broken = {a: m for a, m in monitors.items() if m["violations"] or m["exits"]}
    if broken:
        warnings.append(
            "the abstraction's assumptions were violated in flight (realised transitions outside "
            f"the abstraction or states outside the invariant): {broken}"
        )
    report = _report(opts, specs, flights, monitors, made, sim, c_b, separation, warnings)
    report["wall_time_s"] = time.perf_counter() - tic
    new_dep = _updated_deployment(deployment, flights, opts, report, city)
    return FlightRun(deployment=new_dep, stations=flights, report=report, simulation=sim, city=city)


def _report(
    opts: FlightOptions,
    specs: ControllerSpecs,
    flights: list[StationFlight],
    monitors: dict[str, dict[str, int]],
    made: dict[str, Any],
    sim: SimulationResult,
    c_b: float,
    separation: float,
    warnings: list[str],
) -> dict[str, Any]:
    p = opts.params
    model = RotorPowerModel.from_params(p)
    seps = [f.min_separation_m for f in flights if math.isfinite(f.min_separation_m)]
    return {
        "controller": opts.controller,
        "paper": "002 §2.1, §3.3, Tables 1-2, 5",
        "model": "nonlinear rigid body (paper 002 §2.1), RK4",
        "dt_s": opts.dt_s,
        "drone": {
            "name": p.name,
            "mass_kg": p.mass_kg,
            "inertia_kg_m2": list(p.inertia_kg_m2),
            "max_tilt_deg": math.degrees(p.max_tilt_rad),
            "thrust_range_n": list(p.thrust_range_n),
            "torque_limits_nm": list(p.torque_limits_nm),
            "hover_power_w": model.hover_power_w / p.powertrain_efficiency + p.payload_power_w,
            "max_range_speed_m_s": model.max_range_speed_m_s,
        },
        "building_clearance_m": c_b,
        "flight_separation_m": separation,
        "tube_horizontal_m": specs.horizontal_tube_m,
        "tube_vertical_m": specs.vertical_tube_m,
        "reference_clearance_m": c_b + specs.horizontal_tube_m,
        "cruise_speed_m_s": specs.reference_speed_m_s,
        "reference_accel_m_s2": specs.reference_accel_m_s2,
        "stations": [f.to_dict() for f in flights],
        "all_reached": all(f.arrival_s is not None for f in flights),
        "all_within_battery": all(f.budget.feasible for f in flights),
        "min_building_clearance_3d_m": min(f.min_clearance_3d_m for f in flights),
        "min_station_distance_m": min(seps) if seps else None,
        "rotor_saturation_steps": int(sim.saturated.sum()),
        "monitor": monitors,
        **made,
        "warnings": list(warnings),
    }


def _updated_deployment(
    deployment: Deployment,
    flights: list[StationFlight],
    opts: FlightOptions,
    report: dict[str, Any],
    city: City,
) -> Deployment:
    from skycell.plan.pipeline import evaluate_deployment

    stations = []
    for s, f in zip(deployment.stations, flights, strict=True):
        stop = f.t_s.size
        if f.arrival_s is not None:
            stop = int(np.searchsorted(f.t_s, f.arrival_s, side="right"))
        stride = max(1, round(opts.route_dt_s / opts.record_dt_s))
        idx = np.unique(np.r_[np.arange(0, stop, stride), stop - 1])
        goal = f.reference.goal_m
        stations.append(
            s.model_copy(
                update={
                    "position_m": (float(goal[0]), float(goal[1]), float(goal[2])),
                    "route_m": [
                        (round(float(x), 3), round(float(y), 3), round(float(z), 3))
                        for x, y, z in f.position_m[idx]
                    ],
                    "route_t_s": [round(float(x), 3) for x in f.t_s[idx]],
                }
            )
        )
    flown = deployment.model_copy(update={"stations": stations})
    metrics = evaluate_deployment(flown, city).to_dict()
    keep = ("station_count", "users_served", "users_in_los", "demand_satisfied_fraction", "tuning")
    kept = {k: v for k, v in deployment.metrics.items() if k in keep}
    notes = list(deployment.notes) + [f"fly: {w}" for w in report["warnings"]]
    return flown.model_copy(
        update={
            "metrics": {**metrics, **kept, "flight": report},
            "method": {
                **deployment.method,
                "flight": {"controller": opts.controller, "seed": opts.seed},
            },
            "notes": notes,
        }
    )


def plot_flight(run: FlightRun, path: str | Path, *, dpi: int = 130) -> Path:
    """Flown routes over the city (left), speed over time (top right) and each station's
    battery budget against the usable energy (bottom right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from skycell.fileio import atomic_write

    target = Path(path)
    fig = plt.figure(figsize=(13.5, 7.0))
    gs = fig.add_gridspec(2, 2, width_ratios=[1.25, 1.0])
    ax = fig.add_subplot(gs[:, 0])
    b = run.city.buildings
    alt = min(float(f.path.waypoints_m[0, 2]) for f in run.stations)
    thr = alt - run.report["tube_vertical_m"] - run.report["building_clearance_m"]
    tall = b.heights_m > thr
    if len(b):
        ax.add_collection(
            PolyCollection(
                [fp for fp, t in zip(b.footprints_m, tall, strict=True) if not t],
                facecolor="0.85",
                edgecolor="none",
            )
        )
        ax.add_collection(
            PolyCollection(
                [fp for fp, t in zip(b.footprints_m, tall, strict=True) if t],
                facecolor="0.45",
                edgecolor="firebrick",
                linewidth=0.4,
            )
        )
    colors = plt.get_cmap("tab10")
    for k, f in enumerate(run.stations):
        c = colors(k % 10)
        w = f.path.waypoints_m
        ax.plot(w[:, 0], w[:, 1], ":", color=c, lw=1.0)
        ax.plot(f.position_m[:, 0], f.position_m[:, 1], "-", color=c, lw=1.4, label=f.id)
        ax.plot(*w[0, :2], "o", color=c, ms=5)
        ax.plot(*w[-1, :2], "^", color=c, ms=7, mec="k", mew=0.5)
    x0, y0, x1, y1 = run.city.bounds_m
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(
        f"flown routes ({run.report['controller']}); dotted: legs; dark: buildings above "
        f"{thr:.0f} m\nclosest building {run.report['min_building_clearance_3d_m']:.1f} m "
        f"(c_b {run.report['building_clearance_m']:g} m), closest pair "
        f"{(run.report['min_station_distance_m'] or float('nan')):.1f} m",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    ax2 = fig.add_subplot(gs[0, 1])
    for k, f in enumerate(run.stations):
        speed = np.linalg.norm(f.velocity_m_s, axis=1)
        ax2.plot(f.t_s, speed, color=colors(k % 10), lw=1.0)
        if f.arrival_s is not None:
            ax2.axvline(f.arrival_s, color=colors(k % 10), lw=0.5, ls="--")
    ax2.set_xlabel("t [s]")
    ax2.set_ylabel("speed [m/s]")
    ax2.set_title("speed; dashed: arrival", fontsize=9)
    ax3 = fig.add_subplot(gs[1, 1])
    ids = [f.id for f in run.stations]
    parts = ("climb_wh", "outbound_wh", "mission_hover_wh", "return_wh", "descent_wh")
    bottom = np.zeros(len(ids))
    for part in parts:
        vals = np.array([f.budget.to_dict()[part] for f in run.stations])
        ax3.bar(ids, vals, bottom=bottom, label=part.removesuffix("_wh").replace("_", " "))
        bottom += vals
    usable = run.stations[0].budget.usable_j / 3600.0
    ax3.axhline(usable, color="k", ls="--", lw=1.0, label="usable battery")
    ax3.set_ylabel("energy [Wh]")
    ax3.set_ylim(0, max(usable, float(bottom.max())) * 1.3)
    ax3.set_title("battery budget per station", fontsize=9)
    ax3.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    atomic_write(target, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"), suffix=".png")
    plt.close(fig)
    return target
