"""The main job: scenario in, deployment out (placement, routes, evaluation).

``plan_scenario`` runs the stages a planner needs for paper 000 §V-A: build the city, draw the
semi-random start, optimise eq. 1 with Adam (every iterate is a route waypoint), then evaluate the
result on the analytic channel engine. It is quiet; the CLI adds progress and printing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from skycell.deployment import (
    AreaRecord,
    BuildingRecord,
    Deployment,
    StationRecord,
    TrajectoryRecord,
    UserRecord,
)
from skycell.errors import SkycellError
from skycell.metrics import Metrics, aoi_served, evaluate
from skycell.plan.place_gradient import (
    GradientPlacementParams,
    PlacementProblem,
    PlacementResult,
    optimise_placement,
    semi_random_start,
)

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.plan.assignment import UserPlacement
    from skycell.plan.tune import TuneResult
    from skycell.radio.engine import AnalyticEngine
    from skycell.radio.sionna_engine import SionnaEngine
    from skycell.scenario import Scenario


@dataclass
class PlanOutcome:
    """Everything a plan run produced: the deployment, the raw result of the method (a
    :class:`PlacementResult` for the gradient method, a :class:`UserPlacement` for the
    user-driven ones), the metrics and the city."""

    deployment: Deployment
    placement: PlacementResult | UserPlacement
    metrics: Metrics
    city: City


def placement_params(scenario: Scenario) -> GradientPlacementParams:
    """Table III hyper-parameters from the scenario's ``placement`` and ``fleet`` sections."""
    pl = scenario.placement
    fl = scenario.fleet
    return GradientPlacementParams(
        alpha=pl.alpha,
        beta=pl.beta,
        gamma=pl.gamma,
        eta=pl.eta,
        kappa_a=pl.kappa_a,
        kappa_b=pl.kappa_b,
        kappa_i=pl.kappa_i,
        min_separation_m=fl.min_separation_m,
        building_clearance_m=fl.building_clearance_m,
        altitude_m=fl.altitude_m,
        penalty_height_offset_m=pl.penalty_height_offset_m,
        grid_points=pl.grid_points,
        grid_margin_m=pl.grid_margin_m,
        learning_rate=pl.learning_rate,
        max_iterations=pl.max_iterations,
        patience=pl.patience,
        min_delta=pl.min_delta,
        hard_clearance_m=pl.hard_clearance_m,
    )


def launch_area(scenario: Scenario) -> tuple[float, float, float, float]:
    """The fleet's launch area, or the map less the grid margin m_e when none is given."""
    la = scenario.fleet.launch_area
    if la is not None:
        return (la.x_min_m, la.y_min_m, la.x_max_m, la.y_max_m)
    a = scenario.area
    m = min(scenario.placement.grid_margin_m, 0.25 * (a.x_max_m - a.x_min_m))
    return (a.x_min_m + m, a.y_min_m + m, a.x_max_m - m, a.y_max_m - m)


def make_engine(scenario: Scenario, city: City) -> AnalyticEngine:
    """The analytic channel engine configured from the scenario's ``radio`` section."""
    from skycell.radio.engine import AnalyticEngine

    r = scenario.radio
    return AnalyticEngine(
        city,
        frequency_hz=r.frequency_hz,
        pathloss_model=r.pathloss_model,
        environment=r.environment,
        station_antenna=r.station_antenna,
        user_antenna=r.user_antenna,
    )


def make_sionna_engine(
    scenario: Scenario, city: City, *, ground_material: str = "medium_dry_ground"
) -> SionnaEngine:
    """The Sionna RT engine configured from the scenario's ``radio`` and ``engine`` sections,
    over a ground of ``ground_material`` (ITU-R P.2040).

    Raises:
        SkycellError: the ``rt`` extra or LLVM 16+ is missing (the message says what to
            install).
    """
    from skycell.radio.sionna_engine import SionnaEngine, rt_available

    ok, why = rt_available()
    if not ok:
        raise SkycellError(f"engine sionna: {why}; or use the analytic engine")
    r = scenario.radio
    e = scenario.engine
    return SionnaEngine(
        city,
        frequency_hz=r.frequency_hz,
        station_antenna=r.station_antenna,
        user_antenna=r.user_antenna,
        user_polarization=e.user_polarization,
        max_depth=e.max_depth,
        samples=e.samples,
        map_samples=e.map_samples,
        seed=e.seed,
        material=e.material,
        ground_material=ground_material,
        scattering_coefficient=e.scattering_coefficient,
        diffraction=e.diffraction,
        memory_gb=e.memory_gb,
    )


def evaluate_stations(
    scenario: Scenario,
    city: City,
    *,
    station_xyz_m: np.ndarray[Any, np.dtype[np.float64]],
    tx_power_dbm: np.ndarray[Any, np.dtype[np.float64]],
    azimuth_deg: np.ndarray[Any, np.dtype[np.float64]],
    tilt_deg: np.ndarray[Any, np.dtype[np.float64]],
    routes_m: list[np.ndarray[Any, np.dtype[np.float64]]],
    include_users: bool = True,
) -> Metrics:
    """Metrics of stations in a scenario's city, on the analytic engine (the scenario's listed
    users' SINR and rate too, unless ``include_users`` is False)."""
    from skycell.radio.link import thermal_noise_dbm

    r = scenario.radio
    aois = scenario.areas_of_interest
    users_xyz = np.array([u.position_m for u in scenario.users], dtype=np.float64).reshape(-1, 3)
    demand = np.array([u.demand_bps for u in scenario.users], dtype=np.float64)
    return evaluate(
        city,
        make_engine(scenario, city),
        station_xyz_m=station_xyz_m,
        tx_power_dbm=tx_power_dbm,
        azimuth_deg=azimuth_deg,
        tilt_deg=tilt_deg,
        routes_m=routes_m,
        aoi_centers_m=np.array([a.center_m for a in aois], dtype=np.float64),
        aoi_radii_m=np.array([a.radius_m for a in aois], dtype=np.float64),
        noise_dbm=float(thermal_noise_dbm(r.bandwidth_hz, r.noise_figure_db)),
        bandwidth_hz=r.bandwidth_hz,
        cell_m=scenario.evaluation.grid_cell_m,
        user_height_m=r.user_height_m,
        sinr_threshold_db=scenario.evaluation.sinr_threshold_db,
        users_xyz_m=users_xyz if include_users and users_xyz.shape[0] else None,
        users_demand_bps=demand if include_users and demand.shape[0] else None,
    )


def separation_notes(
    final_xy_m: np.ndarray[Any, np.dtype[np.float64]],
    scenario: Scenario,
) -> list[str]:
    """Why stations ended closer than d_min (empty when none are).

    The repulsion P_u (eq. 3) is a hinge: zero at exactly d_min, so a pair pushed together by the
    attraction settles on the edge, a fraction of a metre inside. Pairs within 1 % of d_min are
    summarised in one note; each deeper violation gets its own note and reason.
    """
    d_min = scenario.fleet.min_separation_m
    p = final_xy_m
    d = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    centers = np.array([a.center_m for a in scenario.areas_of_interest])
    radii = np.array([a.radius_m for a in scenario.areas_of_interest])
    d_c = np.linalg.norm(p[:, None, :] - centers[None, :, :], axis=-1)
    notes = []
    close = np.triu(d < d_min, k=1)
    edge = close & (d >= 0.99 * d_min)
    if edge.any():
        pairs = ", ".join(
            f"s{i}-s{j} {d[i, j]:.1f} m" for i, j in zip(*np.nonzero(edge), strict=True)
        )
        notes.append(
            f"{int(edge.sum())} station pair(s) rest on the edge of d_min = {d_min:g} m ({pairs}): "
            "the hinge repulsion gamma P_u (eq. 3) vanishes at d_min, so pairs pressed together "
            "by the attraction settle within 1 % of it"
        )
    for i, j in zip(*np.nonzero(close & ~edge), strict=True):
        shared = [
            scenario.areas_of_interest[k].id
            for k in range(len(radii))
            if d_c[i, k] <= radii[k] and d_c[j, k] <= radii[k]
        ]
        why = (
            f"both serve AOI {', '.join(shared)}, whose radius cannot hold two stations "
            f"{d_min:g} m apart; the attraction (beta P_a) outweighs the soft repulsion "
            "(gamma P_u) there"
            if shared
            else "the soft repulsion (gamma P_u) was traded against attraction and obstacle "
            "penalties at the optimum"
        )
        notes.append(
            f"stations s{i} and s{j} are {d[i, j]:.1f} m apart (< d_min = {d_min:g} m): {why}"
        )
    return notes


def place_stations(
    scenario: Scenario,
    city: City,
    *,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[PlacementProblem, PlacementResult]:
    """Run the gradient placement ``placement.restarts`` times from semi-random starts drawn from
    one generator seeded with ``seed``; keep the run serving the most AOIs, then the lowest loss.

    Returns:
        The precomputed problem and the kept placement result.
    """
    params = placement_params(scenario)
    aois = scenario.areas_of_interest
    problem = PlacementProblem.build(
        city,
        np.array([a.center_m for a in aois], dtype=np.float64),
        np.array([a.radius_m for a in aois], dtype=np.float64),
        params,
    )
    rng = np.random.default_rng(seed)
    result: PlacementResult | None = None
    best_key: tuple[float, float] = (-1.0, 0.0)
    for _ in range(scenario.placement.restarts):
        start = semi_random_start(
            city,
            scenario.fleet.stations,
            rng=rng,
            launch_area_m=launch_area(scenario),
            altitude_m=params.altitude_m,
            clearance_m=params.building_clearance_m,
            min_separation_m=scenario.placement.min_start_separation_m,
        )
        candidate = optimise_placement(problem, start, progress=progress)
        served = aoi_served(candidate.final_xy_m, problem.aoi_centers_m, problem.aoi_radii_m)
        key = (float(served.mean()) if served.size else 1.0, -candidate.final_terms.total)
        if result is None or key > best_key:
            result, best_key = candidate, key
    assert result is not None
    return problem, result


def plan_scenario(
    scenario: Scenario,
    *,
    seed: int = 0,
    city: City | None = None,
    method: str | None = None,
    progress: Callable[[int, float], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> PlanOutcome:
    """Plan a scenario with its placement method (or ``method``) and evaluate the deployment.

    ``gradient`` (paper 000 §V-A) places ``fleet.stations`` over the areas of interest; every
    other method sizes and places a fleet for the scenario's users (see
    :mod:`skycell.plan.methods`). With ``placement.method: auto`` and users, ``exact`` runs and,
    if it fails to find a plan within its time limit, ``emtad`` is used instead (noted).

    Args:
        scenario: a validated scenario.
        seed: seed of the run's random generator (the same seed gives the same plan).
        city: the scenario's city when already built.
        method: overrides ``placement.method``.
        progress: ``progress(iteration, loss)`` for the gradient method.
        status: ``status(message)`` for the user-driven methods.
    """
    name = method or scenario.placement_method
    if name == "auto":
        name = "gradient" if scenario.areas_of_interest else "exact"
    city = city if city is not None else scenario.build_city()
    if name == "gradient":
        if not scenario.areas_of_interest:
            from skycell.errors import InfeasibleError

            raise InfeasibleError(
                "the gradient method needs areas of interest; this scenario has none",
                {"areas_of_interest": "add at least one, or choose a user-driven --method"},
            )
        return _plan_gradient(scenario, seed=seed, city=city, progress=progress)
    return _plan_users(scenario, name, seed=seed, city=city, status=status)


def _plan_users(
    scenario: Scenario,
    name: str,
    *,
    seed: int,
    city: City,
    status: Callable[[str], None] | None,
) -> PlanOutcome:
    """Size and place a fleet for the scenario's users with a user-driven method."""
    from skycell.plan.assignment import (
        check_placement,
        link_table,
        placement_summary,
        users_xyz_m,
    )
    from skycell.plan.methods import USER_METHODS, run_user_method

    if name not in USER_METHODS:
        raise SkycellError(
            f"unknown placement method {name!r}; choose gradient or one of "
            f"{', '.join(USER_METHODS)}"
        )
    users = scenario.users_in(city)
    if not users:
        raise SkycellError(
            f"method {name!r} places stations for users, but the scenario has none; add "
            "`users` or `user_groups`"
        )

    def say(text: str, _fraction: float = 0.0) -> None:
        if status is not None:
            status(text)

    notes: list[str] = []
    say(f"{name}: planning for {len(users)} users")
    try:
        up = run_user_method(name, scenario, city, users, seed=seed, progress=say)
    except SkycellError as exc:
        if name == "exact" and scenario.placement.method == "auto" and "time limit" in str(exc):
            notes.append(f"exact found no plan within its time limit ({exc}); fell back to emtad")
            name = "emtad"
            up = run_user_method(name, scenario, city, users, seed=seed, progress=say)
        else:
            raise
    notes += up.notes
    xyz = np.asarray(up.station_xyz_m, dtype=np.float64).reshape(-1, 3)
    table = link_table(scenario, city, xyz, users_xyz_m(users)) if xyz.shape[0] else None
    violations = check_placement(scenario, city, users, up, table=table)
    if violations:  # a method bug, never expected: say it loudly rather than hide it
        notes += [f"constraint violated: {v}" for v in violations]
    say("evaluating")
    summary = placement_summary(scenario, city, users, up, table=table)
    stations, metrics = _stations_and_metrics(
        scenario, city, xyz, [xyz[i : i + 1] for i in range(xyz.shape[0])], include_users=False
    )
    info = USER_METHODS[name]
    deployment = Deployment(
        method={
            "name": name,
            "paper": info.paper,
            "seed": seed,
            "wall_time_s": up.wall_time_s,
            "proven_optimal": up.proven_optimal,
            "lower_bound": up.lower_bound,
            **{k: v for k, v in up.extra.items() if _json_scalar(v)},
        },
        areas_of_interest=[
            AreaRecord(id=a.id, center_m=a.center_m, radius_m=a.radius_m, weight=a.weight)
            for a in scenario.areas_of_interest
        ],
        stations=stations,
        users=[UserRecord(**u) for u in summary["users"]],
        user_trajectories=[
            TrajectoryRecord(id=u.id, dt_s=u.trajectory_dt_s, positions_m=list(u.trajectory_m))
            for u in users
            if u.trajectory_m
        ],
        buildings=buildings_records(city),
        scenario=scenario.to_dict(),
        metrics={**metrics.to_dict(), **summary["metrics"]},
        notes=notes,
    )
    return PlanOutcome(deployment=deployment, placement=up, metrics=metrics, city=city)


def _stations_and_metrics(
    scenario: Scenario,
    city: City,
    xyz: np.ndarray[Any, np.dtype[np.float64]],
    routes: list[np.ndarray[Any, np.dtype[np.float64]]],
    *,
    include_users: bool = True,
) -> tuple[list[StationRecord], Metrics]:
    """Station records (antennas facing down, tilt 90°, the scenario's power: paper 000's start
    for tuning) and the deployment's metrics on the analytic engine."""
    n = xyz.shape[0]
    power = np.full(n, scenario.radio.tx_power_dbm)
    metrics = evaluate_stations(
        scenario,
        city,
        station_xyz_m=xyz,
        tx_power_dbm=power,
        azimuth_deg=np.zeros(n),
        tilt_deg=np.full(n, 90.0),
        routes_m=routes,
        include_users=include_users,
    )
    records = [
        StationRecord(
            id=f"s{i}",
            position_m=(float(xyz[i, 0]), float(xyz[i, 1]), float(xyz[i, 2])),
            azimuth_deg=0.0,
            tilt_deg=90.0,
            tx_power_dbm=float(power[i]),
            route_m=[(round(float(x), 3), round(float(y), 3), float(z)) for x, y, z in routes[i]],
        )
        for i in range(n)
    ]
    return records, metrics


def _json_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _plan_gradient(
    scenario: Scenario,
    *,
    seed: int,
    city: City,
    progress: Callable[[int, float], None] | None,
) -> PlanOutcome:
    """Place the stations with paper 000 §V-A and evaluate the deployment.

    Args:
        scenario: a validated scenario.
        seed: seed of the run's single random generator (the same seed gives the same plan).
        city: the scenario's city when already built (saves rebuilding it in sweeps).
        progress: optional ``progress(iteration, loss)`` callback.

    Returns:
        The deployment (ready to save), the raw placement result, the metrics and the city.
    """
    params = placement_params(scenario)
    aois = scenario.areas_of_interest
    _, result = place_stations(scenario, city, seed=seed, progress=progress)
    start = result.routes_xy_m[0]

    h = params.altitude_m
    n = start.shape[0]
    routes = [
        np.column_stack((result.routes_xy_m[:, i, :], np.full(result.routes_xy_m.shape[0], h)))
        for i in range(n)
    ]
    xyz = np.column_stack((result.final_xy_m, np.full(n, h)))
    stations, metrics = _stations_and_metrics(scenario, city, xyz, routes)
    notes = separation_notes(result.final_xy_m, scenario)
    unserved = [a.id for a, ok in zip(aois, metrics.aoi_served, strict=True) if not ok]
    if unserved:
        notes.append(
            f"AOI {', '.join(unserved)} not served (no station within 2r/3): the optimiser stalled "
            "in a local minimum of eq. 1 (a station held by a tall building or a neighbour's "
            "repulsion); try placement.restarts: 4 or another --seed"
        )
    if result.stop_reason == "max_iterations":
        notes.append(
            f"the optimiser stopped at the iteration limit ({params.max_iterations}) before "
            "early stopping; raise placement.max_iterations if the AOIs are not all served"
        )
    deployment = Deployment(
        method={
            "name": "gradient",
            "paper": "000 §V-A eqs. 1-7",
            "seed": seed,
            "restarts": scenario.placement.restarts,
            "iterations": result.iterations,
            "stop_reason": result.stop_reason,
            "seconds_per_iteration": result.seconds_per_iteration,
            "final_loss": result.final_terms.total,
            "loss_terms": {
                "coverage_k": result.final_terms.coverage_k,
                "attraction_pa": result.final_terms.attraction_pa,
                "repulsion_pu": result.final_terms.repulsion_pu,
                "collision_pb": result.final_terms.collision_pb,
            },
        },
        areas_of_interest=[
            AreaRecord(id=a.id, center_m=a.center_m, radius_m=a.radius_m, weight=a.weight)
            for a in aois
        ],
        stations=stations,
        user_trajectories=[
            TrajectoryRecord(id=u.id, dt_s=u.trajectory_dt_s, positions_m=list(u.trajectory_m))
            for u in scenario.users
            if u.trajectory_m
        ],
        buildings=buildings_records(city),
        scenario=scenario.to_dict(),
        metrics=metrics.to_dict(),
        notes=notes,
    )
    return PlanOutcome(deployment=deployment, placement=result, metrics=metrics, city=city)


def buildings_records(city: City) -> list[BuildingRecord]:
    """The city's buildings in the exchange format (footprints rounded to the millimetre)."""
    b = city.buildings
    mats = b.materials or (None,) * len(b)
    return [
        BuildingRecord(
            footprint_m=[(round(float(x), 3), round(float(y), 3)) for x, y in fp],
            height_m=round(float(h), 3),
            material=m,
        )
        for fp, h, m in zip(b.footprints_m, b.heights_m, mats, strict=True)
    ]


def deployment_city(deployment: Deployment) -> City:
    """The city a deployment was planned in, from its resolved buildings and scenario area."""
    from skycell.city.buildings import Buildings, City
    from skycell.errors import Problem, ScenarioError

    area = deployment.scenario.get("area")
    if not isinstance(area, dict):
        raise ScenarioError(
            "deployment",
            [Problem("scenario.area", "missing; the deployment must carry its scenario")],
        )
    bounds = (
        float(area["x_min_m"]),
        float(area["y_min_m"]),
        float(area["x_max_m"]),
        float(area["y_max_m"]),
    )
    recs = deployment.buildings
    buildings = Buildings(
        footprints_m=tuple(np.asarray(b.footprint_m, dtype=np.float64) for b in recs),
        heights_m=np.array([b.height_m for b in recs], dtype=np.float64),
        materials=tuple(b.material or "concrete" for b in recs)
        if any(b.material for b in recs)
        else (),
    )
    return City(bounds_m=bounds, buildings=buildings)


def deployment_scenario(deployment: Deployment) -> Scenario:
    """The scenario a deployment was planned with (radio, evaluation, AOIs, engine settings).

    The deployment carries its resolved buildings (:func:`deployment_city`); the scenario's city
    source (a generator, or a GeoJSON file that may not travel with the deployment) is replaced by
    an empty building list, so it is not needed.
    """
    from skycell.scenario import scenario_from_dict

    data = {**deployment.scenario, "city": {"buildings": []}}
    return scenario_from_dict(data, source="deployment.scenario")


def evaluate_deployment(deployment: Deployment, city: City) -> Metrics:
    """Recompute the metrics of a deployment with the radio and evaluation settings of its
    scenario (stations, powers, orientations and routes as stored, possibly edited by hand)."""
    scenario = deployment_scenario(deployment)
    st = deployment.stations
    return evaluate_stations(
        scenario,
        city,
        station_xyz_m=deployment.station_xyz_m(),
        tx_power_dbm=np.array([s.tx_power_dbm for s in st], dtype=np.float64),
        azimuth_deg=np.array([s.azimuth_deg for s in st], dtype=np.float64),
        tilt_deg=np.array([s.tilt_deg for s in st], dtype=np.float64),
        routes_m=deployment.routes_m(),
    )


def tune_deployment(
    deployment: Deployment,
    scenario: Scenario,
    city: City,
    *,
    method: str,
    seed: int = 0,
    engine: str | None = None,
    progress: Callable[[int, float], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> tuple[Deployment, TuneResult, Metrics]:
    """Tune every station's azimuth, tilt and power (paper 000 §V-B) and return the deployment
    with the tuned settings, re-evaluated metrics and ``metrics.tuning`` (per-station effective
    SIR before and after, Table V/VI shapes).

    ``engine`` (default the scenario's ``engine.kind``): ``analytic`` tunes on path loss plus
    antenna pattern; ``sionna`` on the ray-traced coverage map, traced once and re-weighted at
    every step, then checked against a fresh trace of the final settings
    (``metrics.tuning.retrace``). The deployment metrics stay those of the analytic engine.
    """
    from skycell.plan.tune import TuneProblem, tune
    from skycell.scenario import ENGINE_KINDS

    kind = engine if engine is not None else scenario.engine.kind
    if kind not in ENGINE_KINDS:
        raise SkycellError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINE_KINDS)}")
    xyz = deployment.station_xyz_m()
    if kind == "sionna":
        rt_engine = make_sionna_engine(scenario, city)
        if status is not None:
            status(
                f"ray tracing {scenario.engine.map_samples:,} rays over the map "
                "(once; the first call compiles) …"
            )
        problem = TuneProblem.build(
            scenario,
            city,
            xyz,
            engine=rt_engine,
            direction_bin_deg=scenario.engine.direction_bin_deg,
        )
        if status is not None:
            status(f"tuning ({method}) on the ray-traced map …")
        result = tune(
            scenario,
            city,
            xyz,
            method=method,
            seed=seed,
            problem=problem,
            engine=rt_engine,
            progress=progress,
        )
    else:
        result = tune(scenario, city, xyz, method=method, seed=seed, progress=progress)
    stations = [
        s.model_copy(
            update={
                "azimuth_deg": float(result.final_azimuth_deg[i]),
                "tilt_deg": float(result.final_tilt_deg[i]),
                "tx_power_dbm": float(result.final_tx_power_dbm[i]),
            }
        )
        for i, s in enumerate(deployment.stations)
    ]
    metrics = evaluate_stations(
        scenario,
        city,
        station_xyz_m=xyz,
        tx_power_dbm=result.final_tx_power_dbm,
        azimuth_deg=result.final_azimuth_deg,
        tilt_deg=result.final_tilt_deg,
        routes_m=deployment.routes_m(),
        include_users=not deployment.users,
    )
    user_metrics = {
        k: v
        for k, v in deployment.metrics.items()
        if k in ("station_count", "users_served", "users_in_los", "demand_satisfied_fraction")
    }
    tuned = deployment.model_copy(
        update={
            "stations": stations,
            "metrics": {**metrics.to_dict(), **user_metrics, "tuning": result.to_dict()},
            "method": {**deployment.method, "tuning": method, "tuning_engine": kind},
        }
    )
    return tuned, result, metrics
