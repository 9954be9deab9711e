"""Paper 002 Table 6, designs 1-3: drones used, users covered and wall time of method ``demand``.

Paper 002 (Özbaltan et al., Drones 9:588, 2025) reports, for 10 000 / 50 000 / 100 000 users at
2000 users per drone over 100 000 m², 14 / 53 / 101 drones for its DCS method and 16 / 59 / 105
for ACO. Capacity alone, ceil(D / C), gives 5 / 25 / 50. This script runs skycell's reading
(``examples/paper002-design-{1,2,3}.yaml``: 140 GHz, 5 W, -100 dBm sensitivity, 500 m range, free
space = the close-in model with n = 2 for drones in LoS above an open crowd) and prints, per
design, the drone count, users served, constraint violations (``check_placement``) and the
median wall time of ``place_demand`` over ``--repeats`` runs, beside the paper's figures.

Two diagnostic readings follow (they are not fits; they test explanations of the gap):

* ``C = 1000``: Table 6's own column headers read "N = 10", "N = 50", "N = 100", i.e. one drone
  per 1000 users, half the capacity the text states;
* ``--sweep``: the receiver sensitivity lowered step by step, which shrinks every drone's
  footprint (its LoS radius at the lowest altitude is printed), to show how a coverage limit
  moves the three counts together.

    .venv/bin/python benchmarks/bench_paper002.py               # designs 1-3, C = 2000 and 1000
    .venv/bin/python benchmarks/bench_paper002.py --sweep       # plus the coverage sweep
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from skycell.plan.assignment import check_placement
from skycell.plan.size_demand import los_coverage_radius_m, place_demand
from skycell.scenario import Scenario, load_scenario, scenario_from_dict

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PAPER_DCS = {1: 14, 2: 53, 3: 101}
PAPER_ACO = {1: 16, 2: 59, 3: 105}
USERS = {1: 10_000, 2: 50_000, 3: 100_000}


def _with(sc: Scenario, **demand: Any) -> Scenario:
    d = sc.to_dict()
    d["placement"]["demand"].update(demand)
    if "users_per_drone" in demand:
        d["fleet"]["max_users_per_uav"] = demand["users_per_drone"]
    d["fleet"]["stations"] = max(d["fleet"]["stations"], 400)
    return scenario_from_dict(d)


def _run(sc: Scenario, repeats: int, check: bool) -> dict[str, Any]:
    city = sc.build_city()
    t0 = time.perf_counter()
    users = sc.users_in(city)
    t_users = time.perf_counter() - t0
    times = []
    up = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        up = place_demand(sc, city, users)
        times.append(time.perf_counter() - t0)
    assert up is not None
    t0 = time.perf_counter()
    violations = len(check_placement(sc, city, users, up)) if check else -1
    t_check = time.perf_counter() - t0
    return {
        "drones": up.station_count,
        "served": int(np.sum(up.association >= 0)),
        "users": len(users),
        "bound": int(up.lower_bound or 0),
        "violations": violations,
        "wall_s": statistics.median(times),
        "users_s": t_users,
        "check_s": t_check,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--designs", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--repeats", type=int, default=3, help="runs per design (median time)")
    ap.add_argument("--no-check", action="store_true", help="skip check_placement")
    ap.add_argument("--no-c1000", action="store_true", help="skip the C = 1000 reading")
    ap.add_argument("--sweep", action="store_true", help="add the sensitivity sweep")
    ap.add_argument(
        "--sweep-dbm", type=float, nargs="+", default=[-100.0, -80.0, -75.0, -70.0, -65.0]
    )
    args = ap.parse_args()

    base = {n: load_scenario(EXAMPLES / f"paper002-design-{n}.yaml") for n in args.designs}
    z_lo = next(iter(base.values())).altitude_range_m[0]
    print("Paper 002 Table 6 with method `demand` (skycell reading, see the module docstring)")
    print()
    print(
        "| design | users | reading | ceil(D/C) | drones | users served | violations "
        "| wall time [s] (median) | paper DCS | paper ACO |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    readings: list[tuple[str, dict[str, Any]]] = [("C = 2000, -100 dBm", {})]
    if not args.no_c1000:
        readings.append(("C = 1000 (Table 6 headers)", {"users_per_drone": 1000}))
    for n, sc in base.items():
        for label, over in readings:
            r = _run(_with(sc, **over) if over else sc, args.repeats, not args.no_check)
            print(
                f"| {n} | {USERS[n]:,} | {label} | {r['bound']} | {r['drones']} "
                f"| {r['served']:,} / {r['users']:,} | {r['violations']} | {r['wall_s']:.2f} "
                f"| {PAPER_DCS[n]} | {PAPER_ACO[n]} |"
            )
    print()
    print(
        f"LoS footprint radius at {z_lo:g} m with -100 dBm: "
        f"{los_coverage_radius_m(next(iter(base.values())), z_lo):.0f} m "
        "(capped by the 500 m range); the event circle's radius is 178 m."
    )
    if not args.sweep:
        return
    print()
    print("Coverage sweep (C = 2000): a smaller footprint raises all three counts together")
    print()
    head = " | ".join(f"design {n} drones" for n in base)
    print(f"| sensitivity [dBm] | LoS footprint radius at {z_lo:g} m [m] | {head} |")
    print("|---|---|" + "---|" * len(base))
    for dbm in args.sweep_dbm:
        cells = []
        radius = 0.0
        for sc in base.values():
            s2 = _with(sc, receiver_sensitivity_dbm=dbm)
            radius = los_coverage_radius_m(s2, z_lo)
            r = _run(s2, 1, False)
            cells.append(f"{r['drones']} ({r['served']:,} served)")
        print(f"| {dbm:g} | {radius:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
