"""The ``skycell`` command line.

Every bad input ends in one clear message on stderr and exit code 2 — never a traceback — and
nothing is written to the output folder unless the whole job succeeded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skycell import __version__
from skycell.errors import SkycellError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Plan deployments of airborne base stations (UAV-mounted cells) over cities.",
    pretty_exceptions_enable=False,
)
scenario_app = typer.Typer(
    no_args_is_help=True, help="Scenario files: print the default, check one."
)
app.add_typer(scenario_app, name="scenario")

out = Console()
err = Console(stderr=True)

#: Options of the commands that trace per-user paths step by step (simulate, recover).
SamplesOption = Annotated[
    int | None,
    typer.Option(min=1, help="Sionna: rays per station and step (default engine.samples)."),
]
MemoryGbOption = Annotated[
    float | None,
    typer.Option(
        "--memory-gb",
        min=0.1,
        help="Sionna: memory the path tracing may take, process included, GB; users are "
        "traced in chunks sized to it (default engine.memory_gb).",
    ),
]
DiffractionOption = Annotated[
    bool | None,
    typer.Option(
        "--diffraction/--no-diffraction",
        help="Sionna: paths also diffract once on building edges, about 3.5x the time "
        "(default engine.diffraction).",
        show_default=False,
    ),
]


def _fail(exc: BaseException) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _out_error(out_dir: Path, exc: OSError) -> SkycellError:
    return SkycellError(
        f"cannot write to --out {out_dir}: {exc.strerror or exc}; choose a folder you can write to"
    )


def _version(value: bool) -> None:
    if value:
        out.print(f"skycell {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """skycell: how many drones, where to hover, how to fly there, and how well they serve."""


def _metrics_table(metrics: dict[str, Any], title: str) -> Table:
    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("value", justify="right")

    def row(name: str, value: str) -> None:
        t.add_row(escape(name), escape(value))

    def f(x: Any, fmt: str = "{:.3f}") -> str:
        return "n/a" if x is None else fmt.format(x)

    row("AOI satisfaction S_AOI (eq. 21)", f(metrics.get("aoi_satisfaction")))
    served = metrics.get("aoi_served") or []
    row("AOIs served", f"{sum(bool(s) for s in served)} / {len(served)}")
    thr = metrics.get("sinr_threshold_db")
    row(f"ground coverage (SINR ≥ {f(thr, '{:g}')} dB)", f(metrics.get("coverage_fraction")))
    row(
        "mean / median / min SINR [dB]",
        " / ".join(
            f(metrics.get(k), "{:.1f}") for k in ("mean_sinr_db", "median_sinr_db", "min_sinr_db")
        ),
    )
    eff = [x for x in (metrics.get("effective_sir_db") or []) if x is not None]
    if eff:
        row(
            "effective SIR per station [dB] (eqs. 9-11)",
            f"min {min(eff):.1f}, mean {sum(eff) / len(eff):.1f}",
        )
    row("Jain's fairness of effective SIR", f(metrics.get("jain_fairness")))
    row("min station separation [m]", f(metrics.get("min_station_separation_m"), "{:.0f}"))
    row("stations inside buildings", f(metrics.get("stations_inside_buildings"), "{:d}"))
    lengths = metrics.get("route_length_m") or []
    if lengths:
        row("route length [m] (max / total)", f"{max(lengths):.0f} / {sum(lengths):.0f}")
    clear = [c for c in (metrics.get("route_min_clearance_m") or []) if c is not None]
    if clear:
        row("min route clearance from tall buildings [m]", f"{min(clear):.1f}")
    row("any route enters a building", "yes" if metrics.get("routes_enter_buildings") else "no")
    if metrics.get("users_satisfied") is not None:
        row("users whose rate meets their demand", f(metrics.get("users_satisfied")))
    if metrics.get("station_count") is not None:
        row("stations used", f(metrics.get("station_count"), "{:d}"))
        row("users served", f(metrics.get("users_served"), "{:d}"))
        row("users in line of sight of a station", f(metrics.get("users_in_los"), "{:d}"))
        row("users whose demand is met", f(metrics.get("demand_satisfied_fraction")))
        agg = metrics.get("aggregate_rate_bps")
        row("aggregate rate [Mbit/s]", "n/a" if agg is None else f"{agg / 1e6:.1f}")
    return t


def _stations_table(dep: Any) -> Table:
    t = Table(title="stations", header_style="bold")
    for col in (
        "id",
        "x [m]",
        "y [m]",
        "z [m]",
        "azimuth [°]",
        "tilt [°]",
        "power [dBm]",
        "route [m]",
    ):
        t.add_column(escape(col), justify="right")
    lengths = dep.metrics.get("route_length_m") or [None] * len(dep.stations)
    for s, length in zip(dep.stations, lengths, strict=False):
        x, y, z = s.position_m
        t.add_row(
            s.id,
            f"{x:.1f}",
            f"{y:.1f}",
            f"{z:.1f}",
            f"{s.azimuth_deg:.1f}",
            f"{s.tilt_deg:.1f}",
            f"{s.tx_power_dbm:.1f}",
            "n/a" if length is None else f"{length:.0f}",
        )
    return t


@app.command()
def plan(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            help="Scenario file (YAML or JSON). Default: the built-in downtown of paper 000."
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/plan"),
    seed: Annotated[int, typer.Option(min=0, help="Seed of the run's random generator.")] = 0,
    method: Annotated[
        str | None,
        typer.Option(
            help="Placement method (default: the scenario's placement.method): gradient, exact, "
            "emtad, fixed-altitude, fixed-users, demand, los-search, rltopa, rooftop; one "
            "multi-antenna UAV (paper 001): gradient-sumrate, exhaustive, ddpg, dqn, fixed-dft."
        ),
    ] = None,
    tune: Annotated[
        str | None,
        typer.Option(
            help="Then tune azimuth, tilt and power (paper 000 §V-B): maxmin, aoi, avgsir or "
            "random; also writes OUT/association.png and OUT/tuning.md."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Channel engine of the tuning (default: the scenario's engine.kind): analytic, "
            "or sionna (Sionna RT ray tracing, extra `rt`; traced once, then re-weighted)."
        ),
    ] = None,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write OUT/report.html.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Plan a deployment and evaluate it; writes OUT/deployment.json, OUT/plan.png and the
    interactive OUT/report.html (3D city, stations, routes, users, ground layers, metrics).

    With areas of interest: place the fleet over them and route it there (paper 000 §V-A). With
    users and demands: size the fleet and place it in 3D (papers 002, 003, 004, skycell's exact
    MILP).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skycell.plan.pipeline import plan_scenario
    from skycell.report.plots import plot_plan
    from skycell.scenario import PLACEMENT_METHODS, default_scenario, load_scenario

    try:
        sc = load_scenario(scenario) if scenario is not None else default_scenario()
        if out_dir.exists() and not out_dir.is_dir():
            raise SkycellError(f"--out {out_dir} exists and is not a folder; choose another path")
        tic = time.perf_counter()
        if not quiet:
            out.print(f"[bold]skycell plan[/] {sc.name}: building the city …")
        city = sc.build_city()
        name = method or sc.placement_method
        if method is not None and method not in PLACEMENT_METHODS[1:]:
            raise SkycellError(
                f"unknown --method {method!r}; choose one of {', '.join(PLACEMENT_METHODS[1:])}"
            )
        if quiet:
            outcome = plan_scenario(sc, seed=seed, city=city, method=method)
        elif name != "gradient":
            with out.status(f"{name}: planning …") as spinner:
                outcome = plan_scenario(
                    sc,
                    seed=seed,
                    city=city,
                    method=method,
                    status=lambda text: spinner.update(escape(text)),
                )
        else:
            with Progress(
                TextColumn("optimising placement"),
                BarColumn(),
                TextColumn(
                    "iter {task.completed:>4.0f}/{task.total:.0f}  loss {task.fields[loss]:.4g}"
                ),
                TimeElapsedColumn(),
                console=out,
                transient=True,
            ) as bar:
                task = bar.add_task("place", total=sc.placement.max_iterations, loss=float("nan"))

                def on_progress(it: int, loss: float) -> None:
                    bar.update(task, completed=it, loss=loss)

                outcome = plan_scenario(
                    sc, seed=seed, city=city, method=method, progress=on_progress
                )
        dep = outcome.deployment
        metrics_obj = outcome.metrics
        tuned = None
        if tune is not None:
            from skycell.plan.pipeline import tune_deployment
            from skycell.plan.tune import TUNE_METHODS

            if tune not in TUNE_METHODS:
                raise SkycellError(
                    f"unknown --tune {tune!r}; choose one of {', '.join(TUNE_METHODS)}"
                )
            if quiet:
                dep, tuned, metrics_obj = tune_deployment(
                    dep, sc, city, method=tune, seed=seed, engine=engine
                )
            else:
                with out.status(f"tuning ({tune}) …") as spinner:

                    def on_tune(it: int, loss: float) -> None:
                        spinner.update(f"tuning ({tune}): iteration {it}, loss {loss:.4g}")

                    dep, tuned, metrics_obj = tune_deployment(
                        dep,
                        sc,
                        city,
                        method=tune,
                        seed=seed,
                        engine=engine,
                        progress=on_tune,
                        status=lambda text: spinner.update(escape(text)),
                    )
        elif engine is not None:
            raise SkycellError("--engine chooses the engine of --tune; give --tune as well")
        png = out_dir / "plan.png"
        try:
            plot_plan(dep, city, png, sinr_map=metrics_obj.sinr_map)
            if tuned is not None:
                from skycell.fileio import atomic_write_text
                from skycell.plan.tune import plot_association
                from skycell.report.tuning import tuning_markdown

                plot_association(tuned, city, out_dir / "association.png")
                atomic_write_text(out_dir / "tuning.md", tuning_markdown(tuned))
            if not no_report:
                from skycell.report.html import write_report

                write_report(dep, out_dir / "report.html", city=city, metrics=metrics_obj)
            path = dep.save(out_dir / "deployment.json")
        except OSError as exc:
            raise _out_error(out_dir, exc) from None
    except SkycellError as exc:
        raise _fail(exc) from None
    elapsed = time.perf_counter() - tic
    if not quiet:
        m = dep.method
        if "iterations" in m and "seconds_per_iteration" in m:
            out.print(
                f"placement: {m['iterations']} iterations ({m['stop_reason']}), "
                f"{1e3 * m['seconds_per_iteration']:.3f} ms per iteration"
            )
        else:
            proven = m.get("proven_optimal")
            proof = (
                "" if proven is None else (", proven optimal" if proven else ", not proven optimal")
            )
            bound = m.get("lower_bound")
            out.print(
                f"{m['name']}: {len(dep.stations)} station(s) in {m.get('wall_time_s', 0):.2f} s"
                + proof
                + ("" if bound is None else f" (lower bound {bound:g})")
            )
        if "sum_rate_bps_hz" in m:
            zf = m.get("zf_sum_rate_bps_hz")
            precoder = (
                "zero-forcing"
                if zf is None
                else f"DFT-codebook (zero-forcing at the same position: {zf:.2f} bit/s/Hz)"
            )
            out.print(
                f"{precoder} sum rate (paper 001 eq. 5) {m['sum_rate_bps_hz']:.2f} bit/s/Hz "
                f"averaged over ranks, {m['best_rank_sum_rate_bps_hz']:.2f} at the best rank "
                f"{m['best_rank']:.0f}; mean SINR {m['mean_sinr_db']:.1f} dB, mean received "
                f"power {m['mean_rx_power_dbm']:.1f} dBm ({m['engine']} channels, "
                f"{m['array_elements']} antennas)"
            )
        out.print(_stations_table(dep))
        if tuned is not None:
            from skycell.report.tuning import tuning_tables

            for title, columns, rows in tuning_tables(tuned):
                t = Table(*(escape(c) for c in columns), title=escape(title), header_style="bold")
                for r in rows:
                    t.add_row(*r)
                out.print(t)
            out.print(
                f"tuning: {tuned.iterations} iterations, "
                f"{1e3 * tuned.seconds_per_iteration:.1f} ms per iteration, precomputation "
                f"{tuned.problem.precompute_s:.1f} s; tables saved to {out_dir / 'tuning.md'}"
            )
        out.print(_metrics_table(dep.metrics, "deployment metrics (analytic engine)"))
        for note in dep.notes:
            out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    extra = "" if no_report else f", {out_dir / 'report.html'}"
    out.print(f"wrote {path}, {png}{extra} in {elapsed:.1f} s")


@app.command()
def evaluate(
    deployment: Annotated[Path, typer.Argument(help="A deployment.json written by skycell plan.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Also draw the plan map to this PNG.")] = None,
) -> None:
    """Recompute the metrics of an existing deployment (it may have been edited by hand)."""
    from skycell.deployment import Deployment
    from skycell.plan.pipeline import deployment_city, evaluate_deployment
    from skycell.report.plots import plot_plan

    try:
        dep = Deployment.load(deployment)
        city = deployment_city(dep)
        metrics = evaluate_deployment(dep, city)
        if plot is not None:
            dep = dep.model_copy(update={"metrics": metrics.to_dict()})
            try:
                plot_plan(dep, city, plot, sinr_map=metrics.sinr_map)
            except OSError as exc:
                raise SkycellError(f"cannot write --plot {plot}: {exc.strerror or exc}") from None
    except SkycellError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(metrics.to_dict(), indent=1) + "\n")
    else:
        out.print(_metrics_table(metrics.to_dict(), f"metrics of {deployment}"))


@app.command()
def crosscheck(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            help="Scenario file (YAML or JSON). Default: the built-in downtown of paper 000, or "
            "the deployment's own scenario with --deployment."
        ),
    ] = None,
    deployment: Annotated[
        Path | None,
        typer.Option(help="Check this deployment.json instead of planning the scenario."),
    ] = None,
    users: Annotated[int, typer.Option(min=1, help="Users drawn outdoors in the AOIs.")] = 200,
    samples: Annotated[int, typer.Option(min=1, help="Rays per station (Sionna RT).")] = 100_000,
    max_depth: Annotated[int, typer.Option(min=0, help="Interactions per traced path.")] = 3,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/crosscheck"),
    seed: Annotated[int, typer.Option(min=0, help="Seed of the plan, users and ray tracer.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Cross-check the analytic channel engine against the Sionna RT ray tracer (extra `rt`).

    Open ground: Sionna's LoS path must match free space within 0.5 dB. City: the received
    power of every user from its serving station, with both engines (paper 000 Fig. 10);
    median and p90 of |ray traced - analytic| and the bias, for LoS and NLoS links. Writes
    OUT/crosscheck.json and OUT/crosscheck.png.
    """
    from skycell.validate import render, run_crosscheck

    tic = time.perf_counter()
    try:
        if quiet:
            run = run_crosscheck(
                scenario,
                out_dir,
                deployment=deployment,
                users=users,
                seed=seed,
                samples=samples,
                max_depth=max_depth,
            )
        else:
            with out.status("cross-check …") as spinner:
                run = run_crosscheck(
                    scenario,
                    out_dir,
                    deployment=deployment,
                    users=users,
                    seed=seed,
                    samples=samples,
                    max_depth=max_depth,
                    status=lambda text: spinner.update(escape(text)),
                )
    except SkycellError as exc:
        raise _fail(exc) from None
    if not quiet:
        tables = (
            []
            if run.open_ground is None
            else [(render(run.open_ground), "open ground: Sionna RT LoS path vs free space")]
        )
        tables.append(
            (
                render(run.city),
                f"{run.city.scenario_name}: Δ = ray traced − analytic [dB] "
                f"({run.deployment_source})",
            )
        )
        for (columns, rows), title in tables:
            table = Table(*columns, title=escape(title), header_style="bold")
            for row in rows:
                table.add_row(*(escape(v) for v in row))
            out.print(table)
    if run.open_ground is not None and not run.open_ground.passed:
        err.print(
            f"[bold red]open-ground check failed:[/] Sionna's LoS path is "
            f"{run.open_ground.max_abs_los_error_db:.3f} dB from free space "
            f"(tolerance {run.open_ground.tolerance_db:g} dB)"
        )
        raise typer.Exit(code=1)
    out.print(f"wrote {run.json_path} and {run.png_path} in {time.perf_counter() - tic:.1f} s")


@app.command()
def simulate(
    deployment: Annotated[Path, typer.Argument(help="A deployment.json written by skycell plan.")],
    steps: Annotated[int, typer.Option(min=1, help="Time steps (paper 000: 60).")] = 60,
    dt: Annotated[float, typer.Option(min=0.001, help="Step length \\[s].")] = 1.0,
    users_per_area: Annotated[
        int, typer.Option(min=0, help="Random-waypoint walkers per area of interest.")
    ] = 50,
    sumo_vehicles: Annotated[
        int, typer.Option(min=0, help="SUMO vehicles on the city's streets (extra mobility).")
    ] = 0,
    sumo_pedestrians: Annotated[
        int, typer.Option(min=0, help="SUMO pedestrians on the city's streets (extra mobility).")
    ] = 0,
    engine: Annotated[
        str | None,
        typer.Option(help="analytic or sionna (default: the scenario's engine.kind)."),
    ] = None,
    fly_routes: Annotated[
        bool, typer.Option("--fly-routes", help="Stations fly their planned routes from t = 0.")
    ] = False,
    speed: Annotated[
        float, typer.Option(min=0.1, help="Station speed along its route \\[m/s].")
    ] = 10.0,
    samples: SamplesOption = None,
    memory_gb: MemoryGbOption = None,
    diffraction: DiffractionOption = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/simulate"),
    seed: Annotated[int, typer.Option(min=0, help="Seed of the users' motion.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Simulate a deployment over time with moving users (paper 000 §VI, Fig. 9).

    Every step: received power from every station to every user, serving station, SIR and
    SINR. A tuned deployment runs twice, before and after tuning. Writes OUT/simulation.parquet
    (one row per step and user), OUT/sir_per_area.csv and .png (Fig. 9) and OUT/deployment.json
    (the input with the users' trajectories added).
    """
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from skycell.deployment import Deployment
    from skycell.twin.simulate import (
        area_table,
        plot_area_sir,
        run_simulation,
        write_area_csv,
        write_parquet,
    )

    tic = time.perf_counter()
    try:
        dep = Deployment.load(deployment)
        if out_dir.exists() and not out_dir.is_dir():
            raise SkycellError(f"--out {out_dir} exists and is not a folder; choose another path")
        kwargs: dict[str, Any] = {
            "steps": steps,
            "dt_s": dt,
            "users_per_area": users_per_area,
            "seed": seed,
            "engine": engine,
            "sumo_vehicles": sumo_vehicles,
            "sumo_pedestrians": sumo_pedestrians,
            "fly_routes": fly_routes,
            "speed_mps": speed,
            "samples": samples,
            "memory_gb": memory_gb,
            "diffraction": diffraction,
        }
        if quiet:
            run = run_simulation(dep, **kwargs)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("step {task.completed:>4.0f}/{task.total:.0f}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=out,
                transient=True,
            ) as bar:
                tasks: dict[str, Any] = {}

                def on_step(label: str, done: int, total: int) -> None:
                    if label not in tasks:
                        tasks[label] = bar.add_task(f"simulating {label}", total=total)
                    bar.update(tasks[label], completed=done)

                def on_status(text: str) -> None:
                    bar.console.print(escape(text), highlight=False)

                run = run_simulation(dep, progress=on_step, status=on_status, **kwargs)
        try:
            pq = write_parquet(run.results, out_dir / "simulation.parquet")
            write_area_csv(run.results, out_dir / "sir_per_area.csv")
            png = plot_area_sir(run.results, out_dir / "sir_per_area.png")
            run.deployment.save(out_dir / "deployment.json")
        except OSError as exc:
            raise _out_error(out_dir, exc) from None
    except SkycellError as exc:
        raise _fail(exc) from None
    if not quiet:
        columns, rows = area_table(run.results)
        first = run.results[0]
        t = Table(
            *(escape(c) for c in columns),
            title=escape(
                f"per-area SIR over {first.steps} steps of {first.users.dt_s:g} s, "
                f"{len(first.users.ids)} users, {run.engine} engine"
            ),
            header_style="bold",
        )
        for r in rows:
            t.add_row(*r)
        out.print(t)
    out.print(f"wrote {pq}, {png} and their CSV/deployment in {time.perf_counter() - tic:.1f} s")


@app.command()
def recover(
    deployment: Annotated[Path, typer.Argument(help="A deployment.json written by skycell plan.")],
    user: Annotated[str, typer.Option(help="Id of the critical user (it needs a trajectory).")],
    station: Annotated[
        str | None, typer.Option(help="Its serving station (default: the strongest on average).")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="analytic or sionna (default: the scenario's engine.kind)."),
    ] = None,
    t_min: Annotated[float, typer.Option(min=0.0, help="Drop threshold T_min \\[W].")] = 1e-14,
    c_min: Annotated[int, typer.Option(min=1, help="Confirmations c_min (samples).")] = 3,
    s_p: Annotated[int, typer.Option(min=0, help="Spurious peaks tolerated, s_p.")] = 5,
    samples: SamplesOption = None,
    memory_gb: MemoryGbOption = None,
    diffraction: DiffractionOption = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/recover"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Detect a critical user's coverage drops and fly its station to recover them (paper 000
    §VII): drops below T_min (c_min confirmations, s_p spurious peaks), a recovery route by
    gradient descent on eq. 22 that keeps c_b from every tall building, reaction / stationary /
    return phases, and the user's power per step before and after. Writes OUT/recovery.json,
    OUT/recovery.png (Fig. 12) and OUT/deployment.json (with metrics.recovery).
    """
    from skycell.deployment import Deployment
    from skycell.twin.recovery import plot_recovery, run_recovery

    tic = time.perf_counter()
    try:
        dep = Deployment.load(deployment)
        if out_dir.exists() and not out_dir.is_dir():
            raise SkycellError(f"--out {out_dir} exists and is not a folder; choose another path")
        kwargs: dict[str, Any] = {
            "station_id": station,
            "engine": engine,
            "t_min_w": t_min,
            "c_min": c_min,
            "s_p": s_p,
            "samples": samples,
            "memory_gb": memory_gb,
            "diffraction": diffraction,
        }
        if quiet:
            run = run_recovery(dep, user, **kwargs)
        else:
            with out.status("recovery …") as spinner:
                run = run_recovery(
                    dep, user, status=lambda text: spinner.update(escape(text)), **kwargs
                )
        try:
            from skycell.fileio import atomic_write_text

            atomic_write_text(out_dir / "recovery.json", json.dumps(run.to_dict(), indent=1))
            png = plot_recovery(run, out_dir / "recovery.png")
            run.deployment.save(out_dir / "deployment.json")
        except OSError as exc:
            raise _out_error(out_dir, exc) from None
    except SkycellError as exc:
        raise _fail(exc) from None
    if not quiet:
        rec = run.recovery
        t = Table(
            "drop", "t_s", "t_e", "T_d [steps]", "route [m]", "reached", "median gain",
            "min power before [W]", "min power after [W]",
            title=escape(f"{run.user_id} served by {run.station_id} ({run.engine} engine)"),
            header_style="bold",
        )  # fmt: skip
        for i, (d, r, g) in enumerate(zip(rec.drops, rec.routes, run.drop_gain(), strict=True)):
            span = slice(d.t_start, d.t_end + 1)
            t.add_row(
                str(i), str(d.t_start), str(d.t_end), str(d.duration_steps), f"{r.length_m:.0f}",
                "yes" if r.reached else "no", f"{g:.3g}x",
                f"{run.power_before_w[span].min():.3g}", f"{run.power_after_w[span].min():.3g}",
            )  # fmt: skip
        if rec.drops:
            out.print(t)
        else:
            out.print(f"no drop below T_min = {run.t_min_w:g} W: nothing to recover")
        for note in rec.notes:
            out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    out.print(f"wrote {out_dir / 'recovery.json'} and {png} in {time.perf_counter() - tic:.1f} s")


@app.command()
def validate(
    deployment: Annotated[Path, typer.Argument(help="A deployment.json with users.")],
    ns3: Annotated[
        bool, typer.Option("--ns3", help="Simulate the network in ns-3 (extra ns3).")
    ] = False,
    runs: Annotated[
        int | None, typer.Option(min=1, help="Seeded runs (default: network.runs, 30).")
    ] = None,
    sim_time: Annotated[
        float | None,
        typer.Option(min=0.001, help="Traffic time per run \\[s] (default: network.sim_time_s)."),
    ] = None,
    compare: Annotated[
        list[Path] | None,
        typer.Option(help="Another deployment.json of the same users to compare (repeatable)."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Also simulate a baseline: rooftop, offset-10m, fixed-altitude or fixed-users."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Runs at once (default: all cores).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/validate"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Validate a deployment at the network level (papers 003 §VI and 004 §IV): one 802.11ac
    BSS per station in ns-3, each user sending uplink UDP at its demand, ITU-R P.1411 LoS or
    NLoS per link from the city's geometry, FlowMonitor throughput and delay over seeded runs.
    Prints per-run and aggregate figures and, with --compare or --baseline, the gains at the
    50th and 90th percentiles. Writes OUT/ns3.json, OUT/runs.csv, OUT/throughput-ccdf.png and
    OUT/delay-cdf.png.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skycell.deployment import Deployment
    from skycell.validate.ns3 import BASELINES, experiment_tables, run_experiment
    from skycell.validate.ns3_bindings import ns3_available

    tic = time.perf_counter()
    try:
        if not ns3:
            raise SkycellError("choose what to validate with: --ns3 (the only validator so far)")
        if baseline is not None and baseline not in BASELINES:
            raise SkycellError(
                f"unknown --baseline {baseline!r}; choose one of {', '.join(BASELINES)}"
            )
        ok, why = ns3_available()
        if not ok:
            raise SkycellError(why)
        dep = Deployment.load(deployment)
        others = [(p.stem if p.stem != "deployment" else p.parent.name or str(p),
                   Deployment.load(p)) for p in (compare or [])]  # fmt: skip
        if out_dir.exists() and not out_dir.is_dir():
            raise SkycellError(f"--out {out_dir} exists and is not a folder; choose another path")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _out_error(out_dir, exc) from None
        if not os.access(out_dir, os.W_OK):
            raise SkycellError(f"cannot write to --out {out_dir}; choose a folder you can write to")
        kwargs: dict[str, Any] = {
            "compare_with": others,
            "baseline": baseline,
            "runs": runs,
            "sim_time_s": sim_time,
            "workers": workers,
        }
        if quiet:
            exp = run_experiment(dep, **kwargs)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("run {task.completed:>3.0f}/{task.total:.0f}"),
                TimeElapsedColumn(),
                console=out,
                transient=True,
            ) as bar:
                tasks: dict[str, Any] = {}

                def on_run(label: str, done: int, total: int) -> None:
                    if label not in tasks:
                        tasks[label] = bar.add_task(f"ns-3 {label}", total=total)
                    bar.update(tasks[label], completed=done)

                def on_status(text: str) -> None:
                    bar.console.print(escape(text), highlight=False)

                exp = run_experiment(dep, progress=on_run, status=on_status, **kwargs)
        try:
            paths = exp.write(out_dir)
        except OSError as exc:
            raise _out_error(out_dir, exc) from None
    except ImportError as exc:
        raise _fail(SkycellError(str(exc))) from None
    except SkycellError as exc:
        raise _fail(exc) from None
    if not quiet:
        per_run = Table(
            "run",
            *(f"{escape(v.label)} {what}" for v in exp.validations
              for what in ("Mbit/s", "delay ms")),
            title="per run: aggregate throughput and mean delay",
            header_style="bold",
        )  # fmt: skip
        for i, r in enumerate(exp.validations[0].runs):
            cells = []
            for v in exp.validations:
                rr = v.runs[i]
                cells += [
                    f"{rr.aggregate_throughput_bps / 1e6:.1f}",
                    f"{rr.mean_delay_s * 1e3:.2f}",
                ]
            per_run.add_row(str(r.run), *cells)
        out.print(per_run)
        for title, columns, rows in experiment_tables(exp):
            t = Table(*(escape(c) for c in columns), title=escape(title), header_style="bold")
            for row in rows:
                t.add_row(*(escape(c) for c in row))
            out.print(t)
        for note in exp.notes:
            out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    out.print(f"wrote {', '.join(paths)} in {time.perf_counter() - tic:.1f} s")


@app.command("sweep")
def sweep_command(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep file (YAML or JSON).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Sweep folder (default out/sweeps/<sweep name>)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local (processes on this machine) or ray (a Ray cluster).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster: auto (the one `ray start` runs here), HOST:PORT of its head, or "
            "local (a private one-machine Ray)."
        ),
    ] = None,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="Run again the runs stored as errors.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and expand the sweep; run nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Run a sweep: scenarios x parameter grid x methods x seeds, each run identified by a
    content hash and stored as OUT/runs/<hash>.parquet as soon as it finishes. Rerunning the
    same command skips the finished runs (an interrupted sweep resumes); then the sweep file's
    summary queries are written to OUT/summary/ (CSV, Markdown, PNG).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from skycell.sweep import SweepStore, default_out_dir, load_sweep, run_sweep, write_summaries

    tic = time.perf_counter()
    try:
        sw = load_sweep(sweep_file)
        folder = out_dir if out_dir is not None else default_out_dir(sw)
        if folder.exists() and not folder.is_dir():
            raise SkycellError(f"--out {folder} exists and is not a folder; choose another path")
        done = SweepStore(folder).finished() & {r.run_id for r in sw.runs}
        where = (
            f"{executor}"
            + (f" ({workers or os.cpu_count()} workers)" if executor == "local" else "")
            + (f" at {address or 'auto'}" if executor == "ray" else "")
        )
        if not quiet or dry_run:
            out.print(
                f"[bold]skycell sweep[/] {escape(sw.name)}: {len(sw.runs)} runs "
                f"({sw.scenario_count} scenario(s) x {sw.grid_points} grid point(s) x "
                f"{len(sw.methods)} method(s) x {len(sw.seeds)} seed(s)); {len(done)} already "
                f"finished in {folder}" + ("" if dry_run else f"; running on {where}"),
                highlight=False,
            )
        if dry_run:
            return
        if quiet:
            outcome = run_sweep(
                sw,
                folder,
                executor=executor,
                workers=workers,
                address=address,
                retry_errors=retry_errors,
            )
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("errors {task.fields[errors]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=out,
                transient=False,
            ) as bar:
                task = bar.add_task("runs", total=None, errors=0)
                errors = 0

                def on_start(to_run: int, skipped: int) -> None:
                    bar.update(task, total=to_run)
                    bar.console.print(
                        f"{skipped} finished run(s) skipped, {to_run} to run", highlight=False
                    )

                def on_progress(done_n: int, total: int, row: dict[str, Any]) -> None:
                    nonlocal errors
                    errors += row["status"] != "ok"
                    bar.update(task, completed=done_n, errors=errors)

                outcome = run_sweep(
                    sw,
                    folder,
                    executor=executor,
                    workers=workers,
                    address=address,
                    retry_errors=retry_errors,
                    progress=on_progress,
                    on_start=on_start,
                )
        summaries = write_summaries(folder, sw.summaries)
    except KeyboardInterrupt:
        err.print("interrupted: every finished run is saved; run the same command again to resume")
        raise typer.Exit(code=130) from None
    except SkycellError as exc:
        raise _fail(exc) from None
    if not quiet:
        for s in summaries:
            t = Table(*(escape(c) for c in s.result.columns), title=escape(s.title),
                      header_style="bold")  # fmt: skip
            for row in s.result.rows[:50]:
                from skycell.sweep.query import format_value

                t.add_row(*(escape(format_value(v)) for v in row))
            out.print(t)
    if outcome.failed:
        err.print(
            f"[yellow]{len(outcome.failed)} run(s) failed[/]; see skycell results {folder} "
            "--query \"SELECT run_id, scenario, seed, error FROM runs WHERE status <> 'ok'\"",
            highlight=False,
        )
    out.print(
        f"{len(outcome.executed)} run(s) in {time.perf_counter() - tic:.1f} s, "
        f"{outcome.skipped} skipped; results in {folder / 'runs'}"
        + (f", summaries in {folder / 'summary'}" if summaries else ""),
        highlight=False,
    )


@app.command()
def results(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder written by skycell sweep.")],
    query: Annotated[
        str | None,
        typer.Option(
            help="SQL (DuckDB) over the tables runs, manifest and pending, e.g. "
            '"SELECT n_aoi, avg(aoi_satisfaction) FROM runs GROUP BY 1".'
        ),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Rewrite the sweep's summaries (OUT/summary).")
    ] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write the query's result to this CSV file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Rows printed at most.")] = 100,
) -> None:
    """Query a sweep's results with SQL, or show its progress (planned, finished, errors)."""
    from skycell.sweep import query as run_query
    from skycell.sweep import write_summaries
    from skycell.sweep.query import format_value

    try:
        if query is None:
            query = (
                "SELECT m.scenario, m.method_label AS method, count(*) AS planned, "
                "count(r.run_id) AS finished, count(*) FILTER (WHERE r.status = 'ok') AS ok, "
                "count(*) FILTER (WHERE r.status = 'error') AS errors, "
                "round(avg(r.wall_s), 3) AS mean_wall_s FROM manifest m LEFT JOIN runs r "
                "USING (run_id) GROUP BY ALL ORDER BY ALL"
            )
        res = run_query(sweep_dir, query)
        if csv_path is not None:
            from skycell.fileio import atomic_write_text

            try:
                atomic_write_text(csv_path, res.to_csv())
            except OSError as exc:
                raise SkycellError(f"cannot write --csv {csv_path}: {exc.strerror}") from None
        written = write_summaries(sweep_dir) if summary else []
    except SkycellError as exc:
        raise _fail(exc) from None
    if as_json:
        rows = [dict(zip(res.columns, r, strict=True)) for r in res.rows]
        sys.stdout.write(json.dumps(rows, indent=1, default=str) + "\n")
        return
    t = Table(*(escape(c) for c in res.columns), header_style="bold")
    for r in res.rows[:limit]:
        t.add_row(*(escape(format_value(v)) for v in r))
    out.print(t)
    if len(res.rows) > limit:
        out.print(f"({len(res.rows) - limit} more rows; --limit or --csv to see them)")
    for s in written:
        out.print(f"wrote {', '.join(str(p) for p in s.paths)}", highlight=False)


@app.command()
def report(
    deployment: Annotated[Path, typer.Argument(help="A deployment.json written by skycell.")],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file (default: report.html next to the deployment)."),
    ] = None,
    simulation: Annotated[
        Path | None,
        typer.Option(help="sir_per_area.csv of skycell simulate (default: found next to it)."),
    ] = None,
    ns3: Annotated[
        Path | None,
        typer.Option("--ns3", help="ns3.json of skycell validate (default: found next to it)."),
    ] = None,
    screenshot: Annotated[
        Path | None,
        typer.Option(help="Also render it in headless Chromium and save a PNG screenshot."),
    ] = None,
) -> None:
    """Write the interactive report of a deployment: one self-contained HTML file (works
    offline) with the city in 3D, the stations, routes, areas of interest and users, a ground
    layer (path gain, SINR, serving station) and the metrics, tuning, simulation and ns-3
    results.
    """
    from skycell.deployment import Deployment
    from skycell.report.html import ReportInputs, find_attachments, write_report

    tic = time.perf_counter()
    try:
        dep = Deployment.load(deployment)
        found = find_attachments(deployment)
        for given, what in ((simulation, "--simulation"), (ns3, "--ns3")):
            if given is not None and not given.is_file():
                raise SkycellError(f"{what} {given}: file not found")
        inputs = ReportInputs(
            simulation_csv=simulation or found.simulation_csv, ns3_json=ns3 or found.ns3_json
        )
        target = out_path if out_path is not None else deployment.parent / "report.html"
        with out.status("building the report …"):
            try:
                path = write_report(dep, target, inputs=inputs)
            except OSError as exc:
                raise SkycellError(f"cannot write --out {target}: {exc.strerror or exc}") from None
        if screenshot is not None:
            from skycell.report.browser import render_report

            with out.status("rendering in headless Chromium …"):
                check = render_report(path, screenshot=screenshot)
            for e in check.console_errors:
                err.print(f"[yellow]browser console:[/] {escape(e)}", highlight=False)
    except SkycellError as exc:
        raise _fail(exc) from None
    size_mb = path.stat().st_size / 1e6
    out.print(
        f"wrote {path} ({size_mb:.1f} MB)"
        + (f" and {screenshot}" if screenshot is not None else "")
        + f" in {time.perf_counter() - tic:.1f} s",
        highlight=False,
    )


@app.command()
def fly(
    deployment: Annotated[Path, typer.Argument(help="A deployment.json written by skycell plan.")],
    controller: Annotated[
        str,
        typer.Option(
            help="synthesized (BDD safe controller) or pid-aco, pid-abc, pid-gwo, pid-aco-abc, "
            "pid-aco-gwo, pid-abc-gwo (PID tuned by that metaheuristic)."
        ),
    ] = "synthesized",
    tune_iterations: Annotated[
        int, typer.Option(min=1, help="PID tuning iterations per loop (paper 002: 100).")
    ] = 100,
    cache: Annotated[
        Path | None,
        typer.Option(help="Folder for the synthesised tables (default ~/.cache/skycell)."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/fly"),
    seed: Annotated[int, typer.Option(min=0, help="Seed (launch points, PID tuning).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Fly every station to its point through a controller on the nonlinear quadcopter model
    (paper 002 §2.1, §3.3, Table 5): arrival times, closest approach to buildings and to other
    stations, and each route's energy against the fleet's battery (hover for
    fleet.mission_time_s and return). Writes OUT/deployment.json (flown, time-stamped routes;
    metrics.flight), OUT/flight.json and OUT/flight.png.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skycell.deployment import Deployment
    from skycell.fileio import atomic_write_text
    from skycell.flight.cascade import default_cache_dir
    from skycell.flight.fly import FlightOptions, fly_deployment, plot_flight

    tic = time.perf_counter()
    try:
        dep = Deployment.load(deployment)
        if out_dir.exists() and not out_dir.is_dir():
            raise SkycellError(f"--out {out_dir} exists and is not a folder; choose another path")
        options = FlightOptions(
            controller=controller,
            seed=seed,
            tune_iterations=tune_iterations,
            cache_dir=cache if cache is not None else default_cache_dir(),
        )
        if quiet:
            run = fly_deployment(dep, options)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f} %"),
                TimeElapsedColumn(),
                console=out,
                transient=True,
            ) as bar:
                task = bar.add_task("flying", total=1.0, visible=False)

                def on_status(text: str) -> None:
                    bar.console.print(escape(text), highlight=False)

                def on_progress(step: int, steps: int) -> None:
                    bar.update(task, total=steps, completed=step, visible=True)

                run = fly_deployment(dep, options, progress=on_progress, status=on_status)
        try:
            atomic_write_text(out_dir / "flight.json", json.dumps(run.report, indent=1))
            png = plot_flight(run, out_dir / "flight.png")
            run.deployment.save(out_dir / "deployment.json")
        except OSError as exc:
            raise _out_error(out_dir, exc) from None
    except SkycellError as exc:
        raise _fail(exc) from None
    if not quiet:
        t = Table(
            "station", "path [m]", "delay [s]", "arrival [s]", "closest building [m]",
            "closest station [m]", "energy [Wh]", "battery",
            title=escape(
                f"{run.report['controller']}: c_b {run.report['building_clearance_m']:g} m, "
                f"separation {run.report['flight_separation_m']:g} m, tube "
                f"{run.report['tube_horizontal_m']:.2f} m"
            ),
            header_style="bold",
        )  # fmt: skip
        for s in run.report["stations"]:
            e = s["energy"]
            sep = s["min_station_distance_m"]
            t.add_row(
                s["id"], f"{s['path_length_m']:.0f}", f"{s['departure_delay_s']:.0f}",
                "—" if s["arrival_s"] is None else f"{s['arrival_s']:.1f}",
                f"{s['min_building_clearance_3d_m']:.1f}",
                "—" if sep is None else f"{sep:.0f}",
                f"{e['total_wh']:.0f} / {e['usable_wh']:.0f}",
                "ok" if e["feasible"] else "[red]short[/]",
            )  # fmt: skip
        out.print(t)
        for w in run.warnings:
            out.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    out.print(
        f"wrote {out_dir / 'deployment.json'}, {out_dir / 'flight.json'} and {png} in "
        f"{time.perf_counter() - tic:.1f} s"
    )


@app.command("channel-study")
def channel_study(
    scenario: Annotated[
        Path,
        typer.Argument(
            help="Scenario file (YAML or JSON), e.g. examples/paper002-settlement.yaml."
        ),
    ],
    frequencies: Annotated[
        str, typer.Option(help="Carrier frequencies \\[Hz], comma-separated.")
    ] = "7e9,26e9,140e9",
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path(
        "out/channel-study"
    ),
    seed: Annotated[
        int, typer.Option(min=0, help="Seed of the user draw and of the ray tracer.")
    ] = 0,
    users: Annotated[
        int,
        typer.Option(
            min=1,
            max=100_000,
            help="Users drawn uniformly outdoors within the scenario's max range of the station.",
        ),
    ] = 2000,
    station: Annotated[
        str | None,
        typer.Option(
            help="Station position x,y,z \\[m] (default: above the centre of the scenario's area "
            "at fleet.altitude_m; a fixed mast or a hovering UAV)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")] = False,
) -> None:
    """Ray-traced channel study of paper 002 (Sionna RT, extra `rt`): received power with
    concrete buildings, plus weather (ITU-R P.676) and foliage, path loss, outage, phase
    (Table 9), delay spread of LoS / NLoS users (Table 10), the close-in path-loss fit (Fig. 11),
    RSS heat maps (Fig. 12) and a box plot (Fig. 13); writes JSON, CSV and PNG files to OUT.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skycell.scenario import load_scenario
    from skycell.study import (
        ChannelStudyResult,
        parse_frequencies,
        parse_station,
        run_channel_study,
        table9,
        table10,
        write_channel_study,
    )

    tic = time.perf_counter()
    try:
        freqs = parse_frequencies(frequencies)
        st = parse_station(station) if station is not None else None
        if out_dir.exists() and not out_dir.is_dir():
            raise SkycellError(f"--out {out_dir} exists and is not a folder; choose another path")
        sc = load_scenario(scenario)
        city = sc.build_city()

        def study(progress: Callable[[int, int, str], None] | None = None) -> ChannelStudyResult:
            return run_channel_study(
                sc,
                city,
                frequencies_hz=freqs,
                station_xyz_m=st,
                users=users,
                seed=seed,
                progress=progress,
            )

        if quiet:
            result = study()
        else:
            out.print(
                f"[bold]skycell channel-study[/] {escape(sc.name)}: {users} users, "
                f"{', '.join(f'{f / 1e9:g}' for f in freqs)} GHz"
            )
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                TimeElapsedColumn(),
                console=out,
                transient=True,
            ) as bar:
                task = bar.add_task("preparing the scene", total=1)

                def on_progress(done: int, total: int, what: str) -> None:
                    bar.update(task, completed=done, total=total, description=escape(what))

                result = study(on_progress)
        try:
            written = write_channel_study(result, out_dir)
        except OSError as exc:
            raise _out_error(out_dir, exc) from None
    except SkycellError as exc:
        raise _fail(exc) from None
    elapsed = time.perf_counter() - tic
    if not quiet:
        for tab in (table9(result), table10(result)):
            t = Table(title=escape(tab.title), show_header=True, header_style="bold")
            for c in tab.columns:
                t.add_column(escape(c), justify="right")
            for row in tab.rows:
                t.add_row(*map(escape, row), style="dim" if "paper 002" in row else None)
            out.print(t)
        for fs in result.frequencies:
            if fs.ci_fit is not None:
                out.print(
                    f"{fs.frequency_ghz:g} GHz close-in fit: n = {fs.ci_fit.exponent:.2f}, "
                    f"sigma = {fs.ci_fit.sigma_db:.1f} dB ({fs.ci_fit.count} users)"
                )
        for note in result.notes:
            out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    out.print(f"wrote {len(written)} files to {out_dir} in {elapsed:.1f} s")


@app.command()
def size(
    scenario: Annotated[Path, typer.Argument(help="Scenario file with users (YAML or JSON).")],
    methods: Annotated[
        str,
        typer.Option(help="Comma-separated methods to run for their UAV counts."),
    ] = "exact,emtad,fixed-altitude,fixed-users",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the methods' random generators.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """How many UAVs: lower bounds (capacity, LP relaxation) and the count each method needs."""
    from skycell.plan.assignment import check_placement
    from skycell.plan.methods import USER_METHODS, run_user_method
    from skycell.plan.size_exact import size_bounds
    from skycell.scenario import load_scenario

    names = [m.strip() for m in methods.split(",") if m.strip()]
    try:
        unknown = [m for m in names if m not in USER_METHODS]
        if unknown:
            raise SkycellError(
                f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(USER_METHODS)}"
            )
        sc = load_scenario(scenario)
        city = sc.build_city()
        users = sc.users_in(city)
        if not users:
            raise SkycellError(f"{scenario} has no users: add `users` or `user_groups` to size")
        with out.status("computing bounds …") if not as_json else _nullcontext():
            bounds = size_bounds(sc, city, users)
    except SkycellError as exc:
        raise _fail(exc) from None
    rows: list[dict[str, Any]] = []
    for name in names:
        tic = time.perf_counter()
        try:
            with out.status(f"{name} …") if not as_json else _nullcontext():
                up = run_user_method(name, sc, city, users, seed=seed)
            violations = check_placement(sc, city, users, up)
            rows.append(
                {
                    "method": name,
                    "paper": USER_METHODS[name].paper,
                    "uavs": up.station_count,
                    "users_served": int((up.association >= 0).sum()),
                    "proven_optimal": up.proven_optimal,
                    "seconds": time.perf_counter() - tic,
                    "valid": not violations,
                    "error": None,
                }
            )
        except SkycellError as exc:
            rows.append({"method": name, "error": str(exc).splitlines()[0]})
    if as_json:
        sys.stdout.write(json.dumps({"bounds": bounds, "methods": rows}, indent=1) + "\n")
        return
    out.print(
        f"{bounds['users']} users, total demand {bounds['total_demand_bps'] / 1e6:.1f} Mbit/s; "
        f"{bounds['fleet_stations']} UAVs available"
    )
    out.print(
        f"lower bound from capacity: {bounds['capacity_bound']} "
        f"({escape(str(bounds['capacity_bound_reason']))})"
    )
    if bounds.get("lp_bound") is not None:
        out.print(
            f"LP-relaxation bound over {bounds['candidates']} candidate positions: "
            f"{bounds['lp_bound']}"
        )
    t = Table(title="UAVs each method needs", header_style="bold")
    for col in (
        "method",
        "paper",
        "UAVs",
        "users served",
        "proven optimal",
        "constraints",
        "time [s]",
    ):
        t.add_column(escape(col), justify="right")
    for r in rows:
        if r.get("error"):
            t.add_row(r["method"], "", "—", "—", "—", escape(r["error"]), "")
            continue
        proven = {True: "yes", False: "no", None: ""}[r["proven_optimal"]]
        t.add_row(
            r["method"], r["paper"], str(r["uavs"]), f"{r['users_served']}/{bounds['users']}",
            proven, "ok" if r["valid"] else "VIOLATED", f"{r['seconds']:.2f}",
        )  # fmt: skip
    out.print(t)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@scenario_app.command("example")
def scenario_example() -> None:
    """Print the built-in default scenario as YAML, to edit and pass to `skycell plan`."""
    from skycell.scenario import default_scenario

    sys.stdout.write(default_scenario().to_yaml())


@scenario_app.command("check")
def scenario_check(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).")],
) -> None:
    """Validate a scenario file and report every problem at once."""
    from skycell.scenario import load_scenario

    try:
        sc = load_scenario(scenario)
        city = sc.build_city()
        n_users = len(sc.users_in(city))
    except SkycellError as exc:
        raise _fail(exc) from None
    out.print(
        f"{scenario}: valid — {len(city.buildings)} buildings, {len(sc.areas_of_interest)} areas "
        f"of interest, {sc.fleet.stations} stations at {sc.fleet.altitude_m:g} m, "
        f"{n_users} users, placement method {sc.placement_method}"
    )


def main() -> None:
    """Entry point of the ``skycell`` script."""
    try:
        app()
    except SkycellError as exc:  # pragma: no cover - commands catch their own
        err.print(f"error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted: nothing was written")
        sys.exit(130)


if __name__ == "__main__":
    main()
