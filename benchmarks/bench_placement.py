"""Paper 000 Fig. 5 protocol: AOI satisfaction for every combination of the Table IV AOIs.

For m = 1..5, every one of the C(5, m) combinations of AOIs (31 in all) is planned with N = 10
stations from several semi-random starts (seeds). Printed per m: the mean and minimum S_AOI
(eq. 21), the share of runs whose routes never enter a building (every route segment tested
exactly against the prisms at the hover altitude) and never come closer than 0 m to a tall one,
and the median time per Adam iteration. Paper 000 reports S_AOI > 0.97 (50 seeds per
combination, 1 550 runs) and 0.0371 s per iteration.

    python benchmarks/bench_placement.py --seeds 10 --workers 2
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import platform
import time
from typing import Any

import numpy as np

from skycell.plan.pipeline import launch_area, placement_params
from skycell.plan.place_gradient import PlacementProblem, optimise_placement, semi_random_start
from skycell.scenario import default_scenario

_STATE: dict[str, Any] = {}


def _init() -> None:
    sc = default_scenario()
    _STATE["scenario"] = sc
    _STATE["city"] = sc.build_city()


def _run(job: tuple[tuple[int, ...], int]) -> dict[str, Any]:
    combo, seed = job
    sc = _STATE["scenario"]
    city = _STATE["city"]
    params = placement_params(sc)
    aois = [sc.areas_of_interest[k] for k in combo]
    centers = np.array([a.center_m for a in aois])
    radii = np.array([a.radius_m for a in aois])
    problem = PlacementProblem.build(city, centers, radii, params)
    start = semi_random_start(
        city,
        sc.fleet.stations,
        rng=np.random.default_rng(seed),
        launch_area_m=launch_area(sc),
        altitude_m=params.altitude_m,
        clearance_m=params.building_clearance_m,
        min_separation_m=sc.placement.min_start_separation_m,
    )
    res = optimise_placement(problem, start)
    r = res.routes_xy_m  # (T+1, N, 2)
    h = params.altitude_m
    a = np.concatenate([r[:-1, i, :] for i in range(r.shape[1])])
    b = np.concatenate([r[1:, i, :] for i in range(r.shape[1])])
    za = np.full((a.shape[0], 1), h)
    clear = bool(city.line_of_sight(np.hstack((a, za)), np.hstack((b, za))).all())
    d = np.linalg.norm(res.final_xy_m[:, None, :] - centers[None, :, :], axis=-1)
    s_aoi = float((d <= 2 * radii / 3).any(axis=0).mean())
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
    args = ap.parse_args()

    jobs = [
        (combo, seed)
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
        f"{len(jobs)} runs ({args.seeds} seeds x 31 combinations) in {wall:.0f} s "
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
