"""Paper 000 Fig. 5 protocol: AOI satisfaction for every combination of the Table IV AOIs.

For m = 1..5, every one of the C(5, m) combinations of AOIs (31 in all) is planned with N = 10
stations from several semi-random starts (seeds). Printed per m: the mean and minimum S_AOI
(eq. 21), the share of runs whose routes never enter a building (every route segment tested
exactly against the prisms at the hover altitude) and never come closer than 0 m to a tall one,
and the median time per Adam iteration. Paper 000 reports S_AOI > 0.97 (50 seeds per
combination, 1 550 runs) and 0.0371 s per iteration. ``--restarts K`` plans every run from K
starts and keeps the best (skycell's multi-start; 1 is the paper's protocol).

    python benchmarks/bench_placement.py --seeds 50 --workers 2 [--restarts 4]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import platform
import time
from typing import Any

import numpy as np

from skycell.metrics import aoi_satisfaction
from skycell.plan.pipeline import place_stations
from skycell.scenario import default_scenario

_STATE: dict[str, Any] = {}


def _init() -> None:
    sc = default_scenario()
    _STATE["scenario"] = sc
    _STATE["city"] = sc.build_city()


def _run(job: tuple[tuple[int, ...], int, int]) -> dict[str, Any]:
    combo, seed, restarts = job
    base = _STATE["scenario"]
    city = _STATE["city"]
    sc = base.model_copy(
        update={
            "areas_of_interest": tuple(base.areas_of_interest[k] for k in combo),
            "placement": base.placement.model_copy(update={"restarts": restarts}),
        }
    )
    problem, res = place_stations(sc, city, seed=seed)
    r = res.routes_xy_m  # (T+1, N, 2)
    h = sc.fleet.altitude_m
    a = np.concatenate([r[:-1, i, :] for i in range(r.shape[1])])
    b = np.concatenate([r[1:, i, :] for i in range(r.shape[1])])
    za = np.full((a.shape[0], 1), h)
    clear = bool(city.line_of_sight(np.hstack((a, za)), np.hstack((b, za))).all())
    s_aoi = aoi_satisfaction(res.final_xy_m, problem.aoi_centers_m, problem.aoi_radii_m)
    return {
        "m": len(combo),
        "s_aoi": s_aoi,
        "clear": clear,
        "sec_per_iter": res.seconds_per_iteration,
        "iterations": res.iterations,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=10, help="semi-random starts per combination")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument(
        "--restarts", type=int, default=1, help="starts per run, best kept (1: the paper's)"
    )
    args = ap.parse_args()

    jobs = [
        (combo, seed, args.restarts)
        for m in range(1, 6)
        for combo in itertools.combinations(range(5), m)
        for seed in range(args.seeds)
    ]
    tic = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers, initializer=_init) as pool:
        rows = pool.map(_run, jobs, chunksize=4)
    wall = time.perf_counter() - tic

    print(
        f"machine: {platform.processor() or platform.machine()}, {mp.cpu_count()} CPUs; "
        f"{len(jobs)} runs ({args.seeds} seeds x 31 combinations, {args.restarts} start(s) "
        f"each) in {wall:.0f} s "
        f"with {args.workers} workers"
    )
    print(
        f"{'m':>2} {'runs':>5} {'S_AOI mean':>10} {'S_AOI min':>9} {'no collision':>12} "
        f"{'median iters':>12} {'median ms/iter':>14}"
    )
    for m in range(1, 6):
        sel = [r for r in rows if r["m"] == m]
        s = np.array([r["s_aoi"] for r in sel])
        print(
            f"{m:>2} {len(sel):>5} {s.mean():>10.3f} {s.min():>9.2f} "
            f"{np.mean([r['clear'] for r in sel]):>12.3f} "
            f"{np.median([r['iterations'] for r in sel]):>12.0f} "
            f"{1e3 * np.median([r['sec_per_iter'] for r in sel]):>14.3f}"
        )
    s = np.array([r["s_aoi"] for r in rows])
    print(
        f"all {len(rows):>3} {s.mean():>10.3f} {s.min():>9.2f} "
        f"{np.mean([r['clear'] for r in rows]):>12.3f} "
        f"{np.median([r['iterations'] for r in rows]):>12.0f} "
        f"{1e3 * np.median([r['sec_per_iter'] for r in rows]):>14.3f}"
    )
    print("paper 000 (Fig. 5, Tokyo PLATEAU, 1 550 runs): S_AOI > 0.97; 37.1 ms per iteration")


if __name__ == "__main__":
    main()
