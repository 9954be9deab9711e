"""Paper 002 Table 5 and Fig. 10: step responses of the six channels under the synthesised
controller (DCS) and PID loops tuned by ACO, ABC, GWO and the hybrids (100 iterations), plus
``skycell fly`` on the default plan.

Prints the Table 5-shaped table (rise time, peak time, overshoot, settling time, steady-state
error for x / pitch, y / roll, z / yaw) with paper 002's numbers beside it, the synthesis and
tuning times, and the default plan's flight; writes ``docs/images/flight-fig10-<axis>.png``
(one per channel, Fig. 10's shape) and ``docs/images/flight-default.png``.

    python benchmarks/bench_flight.py [--iterations 100] [--population 20] [--seed 0]
                                      [--no-fly] [--out docs/images]

Plant: paper 002's linearised model (Table 1) per channel with the representative drone's
limits (``skycell.flight.dynamics.BASE_STATION_QUAD``); steps of 5 m (x, y), 3 m (z), 0.2 rad
(roll, pitch), 0.3 rad (yaw) from rest. The synthesised controller is the far-field step
controller (``step_specs``) with the near-field one (``near_field_specs``) nested inside; every
PID loop's output is bounded by the same limits. One process; the default run takes about
ten minutes on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from skycell.flight.cascade import (
    AXES,
    default_cache_dir,
    near_field_specs,
    pid_laws,
    step_specs,
    synthesize_controller,
    synthesized_laws,
)
from skycell.flight.dynamics import BASE_STATION_QUAD
from skycell.flight.pid import PIDGains
from skycell.flight.tuning import (
    ALGORITHMS,
    StepExperiment,
    StepMetrics,
    law_step_response,
    limit_excess,
    pid_step_response,
    step_metrics,
    tune_pid,
)

ROOT = Path(__file__).resolve().parents[1]

#: Paper 002 Table 5 (Tr, Tp, Mp %, Ts, Ess %), as printed.
PAPER_TABLE5: dict[str, dict[str, tuple[float, float, float, float, float]]] = {
    "x": {
        "DCS": (10.231, 14.008, 0, 14.008, 0),
        "ACO": (10.934, 14.721, 0, 14.721, 0),
        "ABC": (10.895, 14.510, 0, 14.510, 0),
        "GWO": (11.023, 14.908, 0, 14.908, 0),
        "ACO-ABC": (10.980, 14.823, 0, 14.823, 0),
        "ACO-GWO": (11.011, 14.910, 0, 14.910, 0),
        "ABC-GWO": (10.918, 14.704, 0, 14.704, 0),
    },
    "pitch": {
        "DCS": (0.455, 1.376, 0, 1.376, 0),
        "ACO": (0.988, 2.634, 0, 2.634, 0),
        "ABC": (0.976, 2.638, 0.009, 2.667, 0),
        "GWO": (0.953, 2.532, 0.008, 2.589, 0),
        "ACO-ABC": (0.974, 2.580, 0, 2.580, 0),
        "ACO-GWO": (0.990, 2.635, 0, 2.635, 0),
        "ABC-GWO": (0.974, 2.637, 0.009, 2.660, 0),
    },
    "y": {
        "DCS": (10.231, 14.008, 0, 14.008, 0),
        "ACO": (11.102, 13.322, 0.610, 14.923, 0),
        "ABC": (10.929, 13.320, 0.605, 14.913, 0),
        "GWO": (10.933, 13.412, 0.701, 14.914, 0),
        "ACO-ABC": (11.008, 13.414, 0.620, 14.922, 0),
        "ACO-GWO": (10.943, 13.424, 0.711, 14.929, 0),
        "ABC-GWO": (11.020, 13.421, 0.623, 14.928, 0),
    },
    "roll": {
        "DCS": (0.455, 1.376, 0, 1.376, 0),
        "ACO": (0.844, 2.724, 0, 2.724, 0),
        "ABC": (0.852, 2.730, 0, 2.730, 0),
        "GWO": (0.831, 2.709, 0, 2.709, 0),
        "ACO-ABC": (0.845, 2.725, 0, 2.725, 0),
        "ACO-GWO": (0.862, 2.741, 0, 2.741, 0),
        "ABC-GWO": (0.866, 2.748, 0, 2.748, 0),
    },
    "z": {
        "DCS": (9.010, 10.807, 0, 10.807, 0),
        "ACO": (9.010, 10.128, 0.430, 10.835, 0),
        "ABC": (9.010, 10.118, 0.426, 10.820, 0),
        "GWO": (9.010, 10.121, 0.426, 10.823, 0),
        "ACO-ABC": (9.010, 10.124, 0.428, 10.831, 0),
        "ACO-GWO": (9.015, 10.128, 0.429, 10.834, 0),
        "ABC-GWO": (9.010, 10.125, 0.428, 10.832, 0),
    },
    "yaw": {
        "DCS": (0.310, 1.352, 0, 1.352, 0),
        "ACO": (0.384, 1.409, 0, 0, 0),
        "ABC": (0.382, 1.408, 0, 0, 0),
        "GWO": (0.361, 1.396, 0, 1.396, 0),
        "ACO-ABC": (0.379, 1.410, 0, 0, 0),
        "ACO-GWO": (0.383, 1.414, 0, 0, 0),
        "ABC-GWO": (0.381, 1.409, 0, 0, 0),
    },
}
CONTROLLERS = ("DCS", *(a.upper() for a in ALGORITHMS))
PAIRS = (("x", "pitch"), ("y", "roll"), ("z", "yaw"))


def _tune_all(exp: StepExperiment, args: argparse.Namespace, weight: float) -> dict[str, object]:  # type: ignore[type-arg]
    runs: dict[str, dict[str, tuple[np.ndarray, np.ndarray, StepMetrics, dict[str, float]]]] = {
        a: {} for a in AXES
    }
    seconds: dict[str, float] = {}
    evaluations: dict[str, int] = {}
    gains: dict[str, dict[str, tuple[float, float, float]]] = {}
    for alg in ALGORITHMS:
        tic = time.perf_counter()
        tuned = tune_pid(
            exp, alg, iterations=args.iterations, population=args.population, seed=args.seed,
            limit_weight=weight,
        )  # fmt: skip
        seconds[alg] = time.perf_counter() - tic
        evaluations[alg] = sum(t.evaluations for t in tuned.axes.values())
        gains[alg] = {a: t.gains.as_tuple() for a, t in tuned.axes.items()}
        for axis in AXES:
            peaks: dict[str, float] = {}
            t, y = pid_step_response(exp, axis, tuned.gains, peaks=peaks)
            runs[axis][alg.upper()] = (t, y, step_metrics(t, y, exp.steps[axis]), peaks)
        print(
            f"tuned {alg:8s} (limit weight {weight:g}) in {seconds[alg]:6.1f} s "
            f"({evaluations[alg]} step responses)",
            flush=True,
        )
    return {"runs": runs, "seconds": seconds, "evaluations": evaluations, "gains": gains}


def _table(metrics: dict[str, dict[str, StepMetrics]], head: str) -> None:
    for a, b in PAIRS:
        print(f"\n{a + '-axis':10s} {head}   | {b:6s} {head}")
        for c in CONTROLLERS:
            ma, mb = metrics[a][c].as_row(), metrics[b][c].as_row()
            print(f"{c:10s} {_fmt(ma)}   | {'':6s} {_fmt(mb)}")


def _fmt(m: tuple[float, ...]) -> str:
    return " ".join(f"{v:7.3f}" for v in m)


def _median_call_us(fn, repeats: int = 5, calls: int = 2000) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - tic) / calls * 1e6)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--population", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--json", type=Path, default=ROOT / "out" / "bench_flight.json")
    ap.add_argument("--no-fly", action="store_true", help="skip the default plan's flight")
    args = ap.parse_args(argv)

    p = BASE_STATION_QUAD
    cache = default_cache_dir()
    specs = step_specs(p, horizontal_step_m=5.0, vertical_step_m=3.0, speed_limit_m_s=6.0)
    exp = StepExperiment(p, specs)
    tic = time.perf_counter()
    coarse = synthesize_controller(specs, cache_dir=None)
    fine = synthesize_controller(near_field_specs(p), cache_dir=None)
    synth_s = time.perf_counter() - tic
    print(f"synthesis (BDD fixpoints + tables, from scratch): {synth_s:.1f} s", flush=True)
    for name, st in {**coarse.stats(), **{f"near-{k}": v for k, v in fine.stats().items()}}.items():
        if name in ("y", "roll", "roll_cost", "near-y", "near-roll", "near-roll_cost"):
            continue
        nodes = (
            f"{st['transition_bdd_nodes']}/{st['invariant_bdd_nodes']}/{st['controller_bdd_nodes']}"
        )
        print(
            f"  {name:16s} states {st['safe_states']:>9,d}  invariant "
            f"{st['invariant_fraction']:.2f}  fixpoint iterations {st['iterations']:>3d}  "
            f"BDD nodes (T/Z/C) {nodes}"
        )

    pos, att = synthesized_laws(coarse, fine=fine)
    dcs: dict[str, tuple[np.ndarray, np.ndarray, StepMetrics, dict[str, float]]] = {}
    for axis in AXES:
        peaks: dict[str, float] = {}
        t, y = law_step_response(exp, axis, position=pos, attitude=att, peaks=peaks)
        dcs[axis] = (t, y, step_metrics(t, y, exp.steps[axis]), peaks)

    variants = {}
    for label, weight in (("limits", 5.0), ("free", 0.0)):
        variants[label] = _tune_all(exp, args, weight)

    responses = {a: {"DCS": dcs[a][:2]} for a in AXES}
    metrics = {a: {"DCS": dcs[a][2]} for a in AXES}
    peaks_all = {a: {"DCS": dcs[a][3]} for a in AXES}
    for axis in AXES:
        for c, (t, y, m, pk) in variants["limits"]["runs"][axis].items():
            responses[axis][c] = (t, y)
            metrics[axis][c] = m
            peaks_all[axis][c] = pk
    tune_s = variants["limits"]["seconds"]
    evals = variants["limits"]["evaluations"]
    gains = variants["limits"]["gains"]

    head = "Tr(s)   Tp(s)   Mp(%)   Ts(s)  Ess(%)"
    print()
    print("Table 5 (skycell, linearised Table 1 plant, representative base-station drone;")
    print("PID gains tuned on the step cost + the same limits the DCS keeps)")
    _table(metrics, head)
    print("\nPaper 002 Table 5 (its own drone and steps, MATLAB/Simulink)")
    for a, b in PAIRS:
        print(f"\n{a + '-axis':10s} {head}   | {b:6s} {head}")
        for c in CONTROLLERS:
            print(f"{c:10s} {_fmt(PAPER_TABLE5[a][c])}   | {'':6s} {_fmt(PAPER_TABLE5[b][c])}")
    print("\nLimits reached (max tilt [deg] / max attitude rate [rad/s] / max speed [m/s]; limits")
    print(
        f"{np.degrees(p.max_tilt_rad):.0f} deg, {p.max_rate_rad_s} rad/s (yaw "
        f"{p.max_yaw_rate_rad_s}), {specs.x.velocity_limit:g} m/s):"
    )
    for axis in ("x", "y", "z", "pitch", "yaw"):
        cells = []
        for c in CONTROLLERS:
            pk = peaks_all[axis][c]
            ok = limit_excess(exp, axis, pk) == 0.0
            cells.append(
                f"{c} {np.degrees(pk['angle']):.0f}/{pk['rate']:.2f}/{pk['speed']:.1f}"
                + ("" if ok else "!")
            )
        print(f"  {axis:5s} " + "  ".join(cells))
    free = {a: {"DCS": dcs[a][2]} for a in AXES}
    for axis in AXES:
        for c, (_, _, m, _) in variants["free"]["runs"][axis].items():
            free[axis][c] = m
    print("\nSame PIDs tuned without the limit penalty (faster, but past the limits: see '!'):")
    _table(free, head)
    for axis in ("x", "pitch"):
        cells = []
        for c, (_, _, _, pk) in variants["free"]["runs"][axis].items():
            ok = limit_excess(exp, axis, pk) == 0.0
            cells.append(
                f"{c} {np.degrees(pk['angle']):.0f}/{pk['rate']:.2f}/{pk['speed']:.1f}"
                + ("" if ok else "!")
            )
        print(f"  {axis:5s} " + "  ".join(cells))

    # is the synthesised controller at least as good as the best PID on x, y, z?
    print("\nDCS against the best limit-respecting PID per column (x, y, z):")
    cols = ("Tr", "Tp", "Mp", "Ts", "Ess")
    for a in ("x", "y", "z"):
        row = []
        for k, col in enumerate(cols):
            best = min(metrics[a][c].as_row()[k] for c in CONTROLLERS[1:])
            d = metrics[a]["DCS"].as_row()[k]
            row.append(f"{col} {d:.3f} vs {best:.3f} {'ok' if d <= best + 1e-9 else 'worse'}")
        print(f"  {a}: " + "; ".join(row))

    # per-call cost of the laws (median of 5 repeats)
    one = np.ones(1)
    lx = pos["x"]
    lx.reset(1)
    lp = att["pitch"]
    lp.reset(1)
    pid_gains = {a: PIDGains(*gains["gwo"][a]) for a in AXES}
    pid_pos, pid_att = pid_laws(pid_gains, specs, dt_s=exp.dt_s)
    pid_pos["x"].reset(1)
    pid_att["pitch"].reset(1)
    print("\nper call (one vehicle, median of 5 x 2000 calls):")
    dcs_x = _median_call_us(lambda: lx.accel(0.3 * one, 0.1 * one))
    dcs_p = _median_call_us(lambda: lp.accel(0.01 * one, 0.0 * one, 0.02 * one, 0.0 * one))
    pid_x = _median_call_us(lambda: pid_pos["x"].accel(0.3 * one, 0.1 * one))
    print(f"  DCS x lookup      {dcs_x:7.1f} us")
    print(f"  DCS pitch lookup  {dcs_p:7.1f} us")
    print(f"  PID x             {pid_x:7.1f} us")

    args.out.mkdir(parents=True, exist_ok=True)
    _plots(responses, exp, args.out)
    record: dict[str, object] = {
        "synthesis_seconds": synth_s,
        "tuning_seconds": tune_s,
        "tuning_evaluations": evals,
        "gains": gains,
        "metrics": {a: {c: m.as_row() for c, m in metrics[a].items()} for a in AXES},
        "metrics_unconstrained_pid": {a: {c: m.as_row() for c, m in free[a].items()} for a in AXES},
        "peaks": peaks_all,
        "steps": exp.steps,
    }
    if not args.no_fly:
        record["fly"] = _fly_default(args.out, cache)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=1))
    print(f"\nwrote {args.out}/flight-fig10-*.png and {args.json}")
    return 0


def _plots(responses, exp: StepExperiment, out: Path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    units = {"x": "m", "y": "m", "z": "m", "roll": "rad", "pitch": "rad", "yaw": "rad"}
    styles = {"DCS": dict(color="k", lw=2.0)}
    for axis in AXES:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        r = exp.steps[axis]
        t_end = exp.durations_s[axis]
        ax.axhline(r, color="0.6", ls=":", lw=1.0, label="set point")
        for name, (t, y) in responses[axis].items():
            ax.plot(t, y, label=name, **styles.get(name, dict(lw=1.1)))
        ax.set_xlim(0, t_end)
        ax.set_xlabel("t [s]")
        ax.set_ylabel(f"{axis} [{units[axis]}]")
        ax.set_title(f"step response, {axis} (paper 002 Fig. 10 shape)", fontsize=10)
        ax.legend(fontsize=7, ncol=2, loc="lower right")
        fig.tight_layout()
        fig.savefig(out / f"flight-fig10-{axis}.png", dpi=120)
        plt.close(fig)


def _fly_default(out: Path, cache: Path) -> dict[str, object]:
    from skycell.flight.fly import FlightOptions, fly_deployment, plot_flight
    from skycell.plan.pipeline import plan_scenario
    from skycell.scenario import default_scenario

    dep = plan_scenario(default_scenario(), seed=0).deployment
    tic = time.perf_counter()
    run = fly_deployment(dep, FlightOptions(cache_dir=cache))
    wall = time.perf_counter() - tic
    plot_flight(run, out / "flight-default.png")
    r = run.report
    print(f"\nskycell fly on the default plan (synthesized): {wall:.1f} s wall")
    print("station  path[m]  delay[s]  arrival[s]  building[m]  station[m]  energy[Wh]  battery")
    for s in r["stations"]:  # type: ignore[union-attr]
        e = s["energy"]
        print(
            f"{s['id']:7s} {s['path_length_m']:8.0f} {s['departure_delay_s']:9.0f} "
            f"{s['arrival_s']:11.1f} {s['min_building_clearance_3d_m']:12.2f} "
            f"{s['min_station_distance_m']:11.0f} {e['total_wh']:7.0f}/{e['usable_wh']:.0f}  "
            f"{'ok' if e['feasible'] else 'short'}"
        )
    mon = r["monitor"]
    print(f"monitor: {mon}")
    print(f"warnings: {r['warnings']}")
    return {"wall_s": wall, "report": r}


if __name__ == "__main__":
    sys.exit(main())
