"""City scale: how the main job's cost grows with users, stations and buildings.

Scenario: the ``city-scale`` sweep generator (:mod:`skycell.sweep.generators`): a generated
downtown (12 % towers above 70 m), users drawn uniformly outdoors, paper 002's ``demand`` method
sizing the fleet with ``ceil(users / stations)`` users per station and placing it by cost-map scan
(3.5 GHz, TR 36.777 UMa-AV with geometric line of sight, 30 dBm, isotropic antennas, stations at
50-150 m), then the deployment's evaluation on the analytic engine (every user's link, a 20 m
ground grid, SINR, coverage, constraint check). Timed per run, median of ``--repeats``:

* ``city``: building the city and its line-of-sight index;
* ``size+place``: the method (sizing and placement, paper 002 §3.2-3.4);
* ``evaluate``: links of every user, constraint check, ground-grid metrics;
* ``total`` = the three.

Series: users (1 000 ... 100 000; 100 stations; 2.4 km city), stations (10 ... 100; 10 000
users), buildings (1.2 / 2.4 / 4.8 km cities; 10 000 users, 100 stations). Also: ``skycell plan``
end to end from the command line (Python start-up, JSON, PNG and the HTML report included) for
10 000 users / 100 stations and for paper 002's design 3 (100 000 users). Writes a log-log plot of
the three series to ``--png`` (default ``docs/images/scale-cost.png``) and the raw timings to
``--json``.

    python benchmarks/bench_scale.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from skycell.plan.pipeline import plan_scenario
from skycell.scenario import load_scenario, scenario_from_dict
from skycell.sweep.generators import generate_scenario

ROOT = Path(__file__).resolve().parents[1]


def one_run(params: dict[str, Any]) -> dict[str, float]:
    """Time one end-to-end plan of a generated city-scale scenario [s]."""
    sc = scenario_from_dict(generate_scenario("city-scale", params))
    t0 = time.perf_counter()
    city = sc.build_city()
    city.grid  # noqa: B018  # the line-of-sight index, once per city
    t1 = time.perf_counter()
    out = plan_scenario(sc, seed=0, city=city)
    t2 = time.perf_counter()
    method = float(out.deployment.method["wall_time_s"])
    m = out.deployment.metrics
    return {
        "city_s": t1 - t0,
        "place_s": method,
        "evaluate_s": (t2 - t1) - method,
        "total_s": t2 - t0,
        "buildings": float(len(city.buildings)),
        "stations_used": float(len(out.deployment.stations)),
        "users_served": float(m.get("users_served") or 0),
        "users": float(len(out.deployment.users)),
    }


def median_run(params: dict[str, Any], repeats: int) -> dict[str, float]:
    runs = [one_run(params) for _ in range(repeats)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def cli_plan(scenario_yaml: Path, out_dir: Path, repeats: int) -> float:
    """Median wall time [s] of ``skycell plan SCENARIO --quiet`` (a fresh interpreter)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "skycell.cli", "plan", str(scenario_yaml), "--out",
             str(out_dir), "--quiet"],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )  # fmt: skip
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def slope(x: list[float], y: list[float]) -> float:
    """Least-squares exponent k of y ∝ x^k."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def plot(series: dict[str, list[tuple[float, dict[str, float]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skycell.fileio import atomic_write

    fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.8))
    labels = {"users": "users", "stations": "stations", "buildings": "buildings"}
    for ax, (name, pts) in zip(axes, series.items(), strict=True):
        x = [p[0] for p in pts]
        for key, style, lab in (
            ("total_s", "o-", "total"),
            ("place_s", "s--", "size + place"),
            ("evaluate_s", "^--", "evaluate"),
        ):
            y = [max(p[1][key], 1e-3) for p in pts]
            k = slope(x, y) if len(x) > 1 else float("nan")
            ax.loglog(x, y, style, ms=4, label=f"{lab} (∝ n^{k:.2f})")
        ax.axhline(60.0, color="tab:red", lw=0.8, ls=":")
        ax.set_xlabel(labels[name])
        ax.set_ylabel("wall time [s]")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title("100 stations, 3 113 buildings", fontsize=9)
    axes[1].set_title("10 000 users, 3 113 buildings", fontsize=9)
    axes[2].set_title("10 000 users, 100 stations", fontsize=9)
    fig.suptitle("skycell plan (demand sizing + placement + analytic evaluation), 2-core CPU",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"), suffix=".png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per point (median)")
    ap.add_argument("--quick", action="store_true", help="fewer, smaller points (a smoke test)")
    ap.add_argument("--png", default=str(ROOT / "docs" / "images" / "scale-cost.png"))
    ap.add_argument("--json", default=str(ROOT / "out" / "bench_scale.json"))
    args = ap.parse_args()

    users = [1000, 3000, 10_000] if args.quick else [1000, 3000, 10_000, 30_000, 100_000]
    stations = [10, 30, 100] if args.quick else [10, 25, 50, 100]
    sizes = [1200.0, 2400.0] if args.quick else [1200.0, 2400.0, 4800.0]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"python {platform.python_version()}; median of {args.repeats} run(s) per point"
    )
    head = (
        f"{'series':<9} {'users':>7} {'stations':>8} {'buildings':>9} {'used':>5} "
        f"{'served':>7} {'city s':>7} {'size+place s':>12} {'evaluate s':>10} {'total s':>8}"
    )
    one_run({"users": 500, "stations": 10, "size_m": 1200.0})  # warm-up: imports, caches
    print(head)
    cache: dict[tuple[int, int, float], dict[str, float]] = {}
    series: dict[str, list[tuple[float, dict[str, float]]]] = {
        "users": [],
        "stations": [],
        "buildings": [],
    }

    def point(name: str, u: int, s: int, size: float) -> dict[str, float]:
        key = (u, s, size)
        if key not in cache:
            cache[key] = median_run({"users": u, "stations": s, "size_m": size}, args.repeats)
        r = cache[key]
        print(
            f"{name:<9} {u:>7} {s:>8} {int(r['buildings']):>9} {int(r['stations_used']):>5} "
            f"{int(r['users_served']):>7} {r['city_s']:>7.2f} {r['place_s']:>12.2f} "
            f"{r['evaluate_s']:>10.2f} {r['total_s']:>8.2f}",
            flush=True,
        )
        return r

    for u in users:
        series["users"].append((float(u), point("users", u, 100, 2400.0)))
    for s in stations:
        series["stations"].append((float(s), point("stations", 10_000, s, 2400.0)))
    for size in sizes:
        r = point("buildings", 10_000, 100, size)
        series["buildings"].append((r["buildings"], r))
    for name, pts in series.items():
        x = [p[0] for p in pts]
        y = [p[1]["total_s"] for p in pts]
        print(f"total time grows as {name}^{slope(x, y):.2f} over {x[0]:g}-{x[-1]:g}")

    cli: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sc = scenario_from_dict(generate_scenario("city-scale", {"users": 10_000, "stations": 100}))
        f = Path(tmp) / "city-scale-10k.yaml"
        f.write_text(sc.to_yaml())
        cli["10k users, 100 stations"] = cli_plan(f, Path(tmp) / "a", args.repeats)
        print(f"skycell plan (CLI, start-up + JSON + PNG + report.html), 10 000 users / 100 "
              f"stations: {cli['10k users, 100 stations']:.1f} s")  # fmt: skip
        if not args.quick:
            d3 = ROOT / "examples" / "paper002-design-3.yaml"
            cli["paper 002 design 3 (100 000 users)"] = cli_plan(d3, Path(tmp) / "b", args.repeats)
            sc3 = load_scenario(d3)
            t = time.perf_counter()
            out = plan_scenario(sc3, seed=0)
            cli["paper 002 design 3, in-process plan"] = time.perf_counter() - t
            print(
                f"paper 002 design 3 (100 000 users): skycell plan (CLI) "
                f"{cli['paper 002 design 3 (100 000 users)']:.1f} s, in-process plan "
                f"{cli['paper 002 design 3, in-process plan']:.1f} s, "
                f"{len(out.deployment.stations)} drones, "
                f"{out.deployment.metrics.get('users_served')} users served"
            )
    plot(series, Path(args.png))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps(
            {"series": {k: [[x, r] for x, r in v] for k, v in series.items()}, "cli": cli},
            indent=1,
        )
    )
    print(f"wrote {args.png} and {args.json}")


if __name__ == "__main__":
    main()
