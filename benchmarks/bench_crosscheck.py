"""Benchmark the engine cross-check on the default city (issue 4, item 6; paper 000 Fig. 10).

Plans the built-in default scenario (paper 000's 2.4 km downtown, 10 stations at 70 m, 3.5 GHz)
with its default method, draws ``--users`` outdoor users in the five AOIs, and compares the
received power of the analytic engine (TR 36.777 UMa-AV, TR 38.901 station pattern) with Sionna
RT (same pattern, orientation and power; dual-polarised user). Prints the open-ground check
(Sionna LoS path vs free space), then median / p90 of |delta| and the mean bias for LoS and NLoS
links, per user (serving station) and per station-user link, and the wall times. Needs the
``rt`` extra and LLVM 16+.

    .venv/bin/python benchmarks/bench_crosscheck.py
    .venv/bin/python benchmarks/bench_crosscheck.py --png docs/images/crosscheck-default.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from skycell.fileio import atomic_write_text
from skycell.plan.pipeline import plan_scenario
from skycell.radio.sionna_engine import rt_available
from skycell.scenario import default_scenario
from skycell.validate import crosscheck_city, crosscheck_open_ground, plot_crosscheck, render


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--users", type=int, default=200, help="users drawn in the AOIs")
    ap.add_argument("--seed", type=int, default=0, help="seed of plan, users and ray tracer")
    ap.add_argument("--samples", type=int, default=100_000, help="rays per station")
    ap.add_argument("--max-depth", type=int, default=3, help="interactions per path")
    ap.add_argument("--png", type=Path, default=None, help="write the Fig. 10-style plot here")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    args = ap.parse_args()

    ok, why = rt_available()
    if not ok:
        raise SystemExit(f"Sionna RT engine unavailable: {why}")

    sc = default_scenario()
    tic = time.perf_counter()
    city = sc.build_city()
    outcome = plan_scenario(sc, seed=args.seed, city=city)
    t_plan = time.perf_counter() - tic
    dep = outcome.deployment
    print(
        f"scenario {sc.name}: {len(city.buildings)} buildings, {len(dep.stations)} stations "
        f"planned with {dep.method['name']} (seed {args.seed}) in {t_plan:.1f} s"
    )

    og = crosscheck_open_ground(sc.radio.frequency_hz, seed=args.seed)
    print(f"\nopen ground ({og.los_paths.size} links, traced in {og.wall_time_s:.1f} s)")
    print(_table(*render(og)))

    res = crosscheck_city(
        sc,
        city,
        dep,
        users=args.users,
        samples=args.samples,
        max_depth=args.max_depth,
        seed=args.seed,
    )
    s = res.settings
    print(
        f"\ncity: {res.station_xyz_m.shape[0]} stations x {res.users_xyz_m.shape[0]} users; "
        f"analytic {s['pathloss_model']} ({s['station_antenna']} station, {s['user_antenna']} "
        f"user) vs Sionna RT ({s['samples']} rays/station, depth {s['max_depth']}, "
        f"user polarisation {s['user_polarization']}); delta = ray traced - analytic"
    )
    print(_table(*render(res)))
    print(
        f"geometric LoS links: {res.los.mean():.1%}; ray tracer direct path == geometric LoS on "
        f"{(res.rt_los == res.los).mean():.1%} of links; same strongest station for "
        f"{res.serving_agreement:.1%} of users"
    )
    w = res.wall_time_s
    print(
        f"wall time: analytic {w['analytic']:.2f} s, ray tracing {w['raytrace']:.1f} s "
        f"(scene build and compilation included), total {w['total']:.1f} s"
    )
    if args.png is not None:
        plot_crosscheck(res, args.png)
        print(f"wrote {args.png}")
    if args.json is not None:
        text = json.dumps({"open_ground": og.to_dict(), "city": res.to_dict()}, indent=1)
        atomic_write_text(args.json, text + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
