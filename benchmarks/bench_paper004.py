"""Paper 004 (EMTAD) Scenarios A-C: UAV count, users served, throughput and wall time per method.

Scenario A sweeps the uniform demand over 802.11ac MCS 0-5 on 20 MHz (6.5-52 Mbit/s) for 20 users
in the 100 m venue; Scenario B sweeps the venue side (100, 150, 200, 300, 400 m; the paper's sides
were lost in its text copy, these reproduce its pattern of three one-UAV venues and a three-UAV
largest one) for 20 users at 6.5 Mbit/s; Scenario C sweeps 20-60 users at 6.5 Mbit/s in the 100 m
venue. Methods: ``emtad``, ``exact`` (MILP, HiGHS), ``fixed-altitude`` (every UAV at 20 m),
``fixed-users`` (k-means, N_max = 10). Columns: UAVs, users served, aggregate throughput (sum over
users of min(rate, demand), the UDP CBR traffic ns-3 would carry), mean PHY link rate of the
served users, wall time (median of ``--repeats`` runs), and paper 004's own figure where its text
gives one. ``--reading channels`` uses the one-20-MHz-channel-per-user reading of (5c) (at most 8
users per UAV) instead of the scenario files' airtime sharing of one 160 MHz channel.

    python benchmarks/bench_paper004.py [--repeats 3] [--reading airtime|channels] [--only A]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from skycell.errors import InfeasibleError
from skycell.plan.assignment import UserPlacement, placement_summary
from skycell.plan.size_baselines import place_fixed_altitude, place_fixed_users
from skycell.plan.size_emtad import place_emtad
from skycell.plan.size_exact import place_exact
from skycell.scenario import Area, Scenario, load_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
METHODS: dict[str, Callable[..., UserPlacement]] = {
    "emtad": place_emtad,
    "exact": place_exact,
    "fixed-altitude": place_fixed_altitude,
    "fixed-users": place_fixed_users,
}
MCS_RATES_BPS = (6.5e6, 13e6, 19.5e6, 26e6, 39e6, 52e6)
SIDES_M = (100.0, 150.0, 200.0, 300.0, 400.0)
USER_COUNTS = (20, 30, 40, 50, 60)


def _with(sc: Scenario, **group: Any) -> Scenario:
    return sc.model_copy(update={"user_groups": (sc.user_groups[0].model_copy(update=group),)})


def _reading(sc: Scenario, reading: str) -> Scenario:
    if reading == "airtime":
        return sc
    return sc.model_copy(
        update={
            "fleet": sc.fleet.model_copy(update={"bandwidth_per_uav_hz": 160e6}),
            "radio": sc.radio.model_copy(update={"channel_width_mhz": 20, "bandwidth_hz": 20e6}),
        }
    )


def cases(reading: str, only: str | None) -> list[tuple[str, str, Scenario, dict[str, str]]]:
    """``(scenario, case label, scenario object, paper figures by method)``."""
    out: list[tuple[str, str, Scenario, dict[str, str]]] = []
    a = _reading(load_scenario(EXAMPLES / "paper004-scenario-a.yaml"), reading)
    b = _reading(load_scenario(EXAMPLES / "paper004-scenario-b.yaml"), reading)
    c = _reading(load_scenario(EXAMPLES / "paper004-scenario-c-60-users.yaml"), reading)
    if only in (None, "A"):
        for m, d in enumerate(MCS_RATES_BPS):
            out.append(("A", f"MCS {m} ({d / 1e6:g} Mbit/s)", _with(a, demand_bps=(d,)), {}))
    if only in (None, "B"):
        for side in SIDES_M:
            h = side / 2.0
            sc = b.model_copy(update={"area": Area(x_min_m=-h, y_min_m=-h, x_max_m=h, y_max_m=h)})
            paper = {"fixed-users": "2"}
            if side == SIDES_M[-1]:
                paper["emtad"] = "3 (largest venue)"
            elif side <= SIDES_M[2]:
                paper["emtad"] = "1 (three venues)"
            out.append(("B", f"{side:g} m x {side:g} m", sc, paper))
    if only in (None, "C"):
        for n in USER_COUNTS:
            paper = {"emtad": "<= 2", "fixed-users": f"{-(-n // 10)} (up to 6)"}
            out.append(("C", f"{n} users", _with(c, count=n), paper))
    return out


def run_case(sc: Scenario, method: str, repeats: int) -> dict[str, Any]:
    city = sc.build_city()
    users = sc.users_in(city)
    times, plan = [], None
    for r in range(repeats):
        t0 = time.perf_counter()
        try:
            plan = METHODS[method](sc, city, users, seed=r)
        except InfeasibleError as exc:
            return {"uavs": "infeasible", "note": exc.summary.split(";")[0]}
        times.append(time.perf_counter() - t0)
    assert plan is not None
    summary = placement_summary(sc, city, users, plan)
    served = plan.association >= 0
    rates = np.array([u["rate_bps"] for u in summary["users"]])[served]
    lb = plan.lower_bound if method == "exact" else None
    return {
        "uavs": str(plan.station_count)
        + ("*" if plan.proven_optimal else "")
        + (f" (LB {lb:g})" if lb is not None else ""),
        "served": f"{int(served.sum())}/{len(users)}",
        "throughput": summary["metrics"]["aggregate_rate_bps"] / 1e6,
        "phy": float(np.mean(rates)) / 1e6 if rates.size else 0.0,
        "time": statistics.median(times),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per case (median time)")
    ap.add_argument("--reading", choices=("airtime", "channels"), default="airtime")
    ap.add_argument("--only", choices=("A", "B", "C"), default=None)
    args = ap.parse_args()
    cpu = platform.processor() or platform.machine()
    print(
        f"# paper 004 benchmark, (5c) reading: {args.reading}; {cpu}, Python "
        f"{platform.python_version()}; median of {args.repeats} runs; * = proven optimal"
    )
    print(
        "| scen. | case | method | UAVs | served | throughput [Mbit/s] | mean PHY rate [Mbit/s] "
        "| time [s] | paper 004 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for scen, label, sc, paper in cases(args.reading, args.only):
        for method in METHODS:
            r = run_case(sc, method, args.repeats)
            if r["uavs"] == "infeasible":
                print(
                    f"| {scen} | {label} | {method} | infeasible | - | - | - | - | "
                    f"{paper.get(method, '')} ({r['note']}) |"
                )
                continue
            print(
                f"| {scen} | {label} | {method} | {r['uavs']} | {r['served']} | "
                f"{r['throughput']:.1f} | {r['phy']:.1f} | {r['time']:.2f} | "
                f"{paper.get(method, '')} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
