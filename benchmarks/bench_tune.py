"""Paper 000 Tables V and VI: antenna azimuth, tilt and power tuning on the analytic engine.

The default scenario's stations are placed with paper 000 §V-A (seed 0), then every tuning method
(``maxmin`` = L_o, ``avgsir`` = L_avgSIR, ``aoi`` = L_w, ``random`` = 50 uniform settings) starts
from tilt 90 deg and 43 dBm. Printed: the per-station effective SIR before and after (eq. 11,
each station's best-server cells at the start), its minimum, mean, standard deviation and Jain's
fairness with paper 000's Table V values beside (a ray-traced Tokyo there, an analytic downtown
here: compare the direction of the changes, not the numbers); per AOI the serving station's SIR
change (Table VI shape); the median seconds per iteration, the one-off precomputation ("trace
once") and the total time per method, at 20 m cells (the evaluation grid) and 10 m cells (the
paper's map resolution). The issue's target is <= 0.5 s per iteration on a 2-core CPU.

With ``--engine sionna`` the maps are Sionna RT coverage maps (paper 000's 5 million rays shared by
the stations, up to 3 interactions, ITU concrete): traced once per cell size with an isotropic
dual-polarised source (the precompute), re-weighted at every step; after each method a fresh full
trace of its final settings is compared with the re-weighted map (median / p90 / max |diff| over
the covered (station, cell) pairs; the issue asks for <= 0.5 dB median).

    python benchmarks/bench_tune.py [--cells 20,10] [--seed 0] [--png DIR]
    python benchmarks/bench_tune.py --engine sionna [--rays 5e6] [--bin 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from skycell.plan.pipeline import make_sionna_engine, place_stations
from skycell.plan.tune import TUNE_METHODS, TuneProblem, TuneResult, plot_association, tune
from skycell.scenario import default_scenario

#: Paper 000 Table V (ray-traced Tokyo, Sionna RT): min, mean, std, Jain after each method.
PAPER_TABLE_V: dict[str, tuple[float, float, float, float]] = {
    "initial": (-9.595, 4.213, 10.209, 0.157),
    "maxmin": (-1.352, 2.520, 4.765, 0.306),
    "avgsir": (-12.963, 5.763, 12.662, 0.115),
    "random": (-12.773, -0.647, 9.648, 0.178),
}
#: Paper 000 serving-station AOI SIR change [dB], AOI 0..4: L_w from Table VII (mean over 50
#: deployments; the sample scenario of Table VI gives +11.51, +9.57, +5.17 in AOIs 1, 2, 4 and
#: "less than 0.5 dB" losses in AOIs 0 and 3 — its bold marks are lost in the text), the random
#: baseline from Table VI (50-run mean).
PAPER_TABLE_VI: dict[str, tuple[float, ...]] = {
    "aoi": (-1.21, 12.98, 10.01, -1.70, 1.08),
    "random": (-8.92, -6.14, -8.43, -10.17, -10.56),
}


def _row(name: str, values: tuple[float, float, float, float], paper: str) -> str:
    mn, mean, std, jain = values
    return f"  {name:<10} {mn:>9.3f} {mean:>9.3f} {std:>9.3f} {jain:>7.3f}   {paper}"


def _paper(key: str) -> str:
    if key not in PAPER_TABLE_V:
        return "(not in Table V)"
    mn, mean, std, jain = PAPER_TABLE_V[key]
    return f"paper: min {mn:+.3f} mean {mean:+.3f} std {std:.3f} Jain {jain:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--cells", default="20,10", help="cell sizes [m], comma separated")
    ap.add_argument("--seed", type=int, default=0, help="placement and random-baseline seed")
    ap.add_argument("--png", default=None, help="folder for the Fig. 7 association PNGs")
    ap.add_argument("--engine", default="analytic", choices=("analytic", "sionna"))
    ap.add_argument("--rays", type=float, default=5e6, help="rays per map (sionna)")
    ap.add_argument("--bin", type=float, default=1.0, help="direction bin [deg] (sionna)")
    args = ap.parse_args()

    scenario = default_scenario()
    city = scenario.build_city()
    engine = None
    if args.engine == "sionna":
        scenario = scenario.model_copy(
            update={
                "engine": scenario.engine.model_copy(
                    update={"kind": "sionna", "map_samples": int(args.rays)}
                )
            }
        )
        engine = make_sionna_engine(scenario, city)
    t0 = time.perf_counter()
    _, placed = place_stations(scenario, city, seed=args.seed)
    n = placed.final_xy_m.shape[0]
    xyz = np.column_stack((placed.final_xy_m, np.full(n, scenario.fleet.altitude_m)))
    print(
        f"skycell tuning benchmark: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU(s), torch {torch.__version__} (1 intra-op thread), "
        f"{n} stations at {scenario.fleet.altitude_m:g} m placed in "
        f"{time.perf_counter() - t0:.2f} s; engine {args.engine}"
        + ("" if engine is None else f" ({engine!r}, direction bin {args.bin:g} deg)")
    )
    timings: list[tuple[float, str, float, float, float, int]] = []
    checks: list[tuple[float, str, str]] = []
    for cell in (float(c) for c in args.cells.split(",")):
        if engine is None:
            problem = TuneProblem.build(scenario, city, xyz, cell_m=cell)
            what = "isotropic path gain + directions, one engine call"
        else:
            if not timings:  # compile Sionna's kernels outside the timed precompute
                TuneProblem.build(scenario, city, xyz, cell_m=cell, engine=engine)
            problem = TuneProblem.build(
                scenario, city, xyz, cell_m=cell, engine=engine, direction_bin_deg=args.bin
            )
            assert problem.rays is not None
            what = (
                f"one ray trace, {problem.rays.record_ray.size} merged ray records, "
                f"{problem.covered.mean():.1%} of (station, cell) pairs reached"
            )
        c = problem.cells_xyz_m.shape[0]
        print(
            f"\n=== {cell:g} m cells: {c} tuning cells, precompute ({what}) "
            f"{problem.precompute_s:.2f} s ==="
        )
        results: dict[str, TuneResult] = {}
        for method in TUNE_METHODS:
            t1 = time.perf_counter()
            results[method] = tune(
                scenario,
                city,
                xyz,
                method=method,
                seed=args.seed,
                problem=problem,
                engine=engine,
                verify=method != "random",
            )
            wall = time.perf_counter() - t1
            r = results[method]
            timings.append((cell, method, r.seconds_per_iteration, wall, r.total_s, r.iterations))
            if r.retrace is not None:
                k = r.retrace
                checks.append(
                    (
                        cell,
                        method,
                        f"{k.pairs:>7} {k.median_abs_db:>10.5f} {k.p90_abs_db:>9.4f} "
                        f"{k.max_abs_db:>8.3f} {k.trace_s:>8.1f}",
                    )
                )
        first = next(iter(results.values()))
        print("\nTable V shape: effective SIR per station [dB] (eq. 11)")
        header = "  station  " + "".join(f"{k:>10}" for k in ("initial", *TUNE_METHODS))
        print(header)
        for i in range(n):
            vals = [first.sir_before_db[i]] + [results[m].sir_after_db[i] for m in TUNE_METHODS]
            print(f"  s{i:<7} " + "".join(f"{v:>10.3f}" for v in vals))
        print(f"\n  {'':<10} {'min':>9} {'mean':>9} {'std':>9} {'Jain':>7}")
        b = first.before
        print(_row("initial", (b.min_db, b.mean_db, b.std_db, b.jain), _paper("initial")))
        for m in TUNE_METHODS:
            a = results[m].after
            print(_row(m, (a.min_db, a.mean_db, a.std_db, a.jain), _paper(m)))
        mm, avg = results["maxmin"].after, results["avgsir"].after
        print(
            f"  maxmin vs start: min {mm.min_db - b.min_db:+.2f} dB, Jain {mm.jain - b.jain:+.3f}; "
            f"vs avgsir: min {mm.min_db - avg.min_db:+.2f} dB, Jain {mm.jain - avg.jain:+.3f}"
        )
        print("\nTable VI shape: serving station's AOI SIR change [dB] (serving after tuning)")
        ids = first.problem.aoi_ids
        print("  method   " + "".join(f"{a:>14}" for a in ids))
        for m in ("aoi", "maxmin", "avgsir", "random"):
            r = results[m]
            cells_txt = "".join(
                f"{f's{s}':>5} {d:>+8.2f}"
                for s, d in zip(r.aoi_serving_after, r.aoi_serving_change_db, strict=True)
            )
            print(f"  {m:<8} {cells_txt}")
            if m in PAPER_TABLE_VI:
                print("  (paper) " + "".join(f"{v:>+14.2f}" for v in PAPER_TABLE_VI[m]))
        if args.png:
            for m in TUNE_METHODS:
                path = os.path.join(args.png, f"association_{args.engine}_{m}_{cell:g}m.png")
                plot_association(results[m], city, path)
            print(f"\n  association maps written to {args.png}")
    if checks:
        print("\nRe-weighted map vs a fresh full trace of the final settings (|diff| in dB)")
        print(
            f"  {'cells':>6} {'method':<8} {'pairs':>7} {'median':>10} {'p90':>9} {'max':>8} "
            f"{'trace s':>8}"
        )
        for cell, method, text in checks:
            print(f"  {cell:>5g}m {method:<8} {text}")
    print("\nTiming (paper 000: ~15 s per iteration with Sionna RT on a GPU; target <= 0.5 s)")
    head = ("cells", "method", "s/iter (median)", "iters", "run s", "total s")
    print("  {:>6} {:<8} {:>16} {:>6} {:>7} {:>8}".format(*head))
    for cell, method, spi, wall, total, iters in timings:
        print(f"  {cell:>5g}m {method:<8} {spi:>16.4f} {iters:>6} {wall:>7.2f} {total:>8.2f}")
    worst = max(t[2] for t in timings)
    print(f"  worst median s/iter {worst:.4f} -> {'within' if worst <= 0.5 else 'ABOVE'} 0.5 s")


if __name__ == "__main__":
    main()
