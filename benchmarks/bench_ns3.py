"""Network-level reproduction in ns-3 (issue 6): papers 003 and 004 as they judge a position.

Paper 003 (RLTOPA, §VI-C): scenario A (4 users: homogeneous 58.5 Mbit/s; heterogeneous case 1,
117/117/58.5/58.5; case 2, 234/175.5/117/58.5) and scenario B (12 users: homogeneous; case 1, six
at 117 and six at 58.5; case 2, three at each of the four rates) — skycell's LoS-optimal position
(``los-search``, the exact optimum RLTOPA's DQN looks for) against the paper's baseline, an access
point on the roof of the central building (``rooftop``), and, for scenario A, the paper's four
positions 10 m off the optimum. Paper 004 (EMTAD, §IV scenario C): 20-60 users at 6.5 Mbit/s in
the 100 m venue — skycell's fewest-UAV plan (``exact``, MILP) against the fixed-users baseline
(k-means, 10 users per UAV).

Every deployment is simulated by ``skycell.validate.ns3`` (802.11ac, IdealWifiManager, uplink UDP
CBR at each demand, 1400-byte packets, ITU-R P.1411 LoS / NLoS per link from the geometry,
FlowMonitor) for ``--runs`` seeded runs (RngRun 1..runs, as the papers: 30). Printed per case:
the offered load, the aggregate throughput and mean delay at the 50th and 90th percentiles over
the runs, the gains of the plan over each comparison the way paper 003 reports them, and the
paper's own gains beside them. The simulated figures do not depend on the machine's load; only
the wall time does.

    .venv/bin/python benchmarks/bench_ns3.py                         # both papers, 30 runs
    .venv/bin/python benchmarks/bench_ns3.py --only 003 --sim-time 2
    .venv/bin/python benchmarks/bench_ns3.py --only 004 --sim-time 1 --figures docs/images

Results also go to ``--out`` (default ``out/bench-ns3``): one folder per case with
``ns3.json``, ``runs.csv`` and the CCDF / CDF plots, and ``results.md`` with the tables.
"""

from __future__ import annotations

import argparse
import math
import platform
import shutil
import time
from pathlib import Path

from skycell.deployment import Deployment
from skycell.plan.pipeline import plan_scenario
from skycell.scenario import Scenario, load_scenario
from skycell.validate.ns3 import Ns3Experiment, baseline_deployments, run_experiment

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: Paper 003 §VI-C: RLTOPA's gains over the rooftop baseline (ns-3, its own venue and users):
#: throughput at the 50th / 90th percentile, and the delay reduction it reports.
PAPER003: dict[str, tuple[str, str, str]] = {
    "A homogeneous": ("+69%", "+58%", "-71% (p50)"),
    "A heterogeneous 1": ("+74%", "+95%", "-21% (p50)"),
    "A heterogeneous 2": ("+50%", "+65%", "-49% (p90)"),
    "B homogeneous": ("+4%", "+38%", "-37% (p50)"),
    "B heterogeneous 1": ("+5%", "+17%", "-19% (p90)"),
    "B heterogeneous 2": ("+13%", "+30%", "-9%"),
}
USER_COUNTS = (20, 30, 40, 50, 60)


def _demands(sc: Scenario, demands_bps: list[float]) -> Scenario:
    users = tuple(
        u.model_copy(update={"demand_bps": d}) for u, d in zip(sc.users, demands_bps, strict=True)
    )
    return sc.model_copy(update={"users": users})


def paper003_cases() -> list[tuple[str, Scenario]]:
    """The six cases of paper 003 §VI-B. Heterogeneous case 1 is not a shipped file: the first
    half of the users demand 117 Mbit/s (MCS 1) and the second half 58.5 (MCS 0); the paper
    does not say which users get which."""
    out = []
    for scen, n in (("a", 4), ("b", 12)):
        homo = load_scenario(EXAMPLES / f"paper003-scenario-{scen}-homogeneous.yaml")
        het2 = load_scenario(EXAMPLES / f"paper003-scenario-{scen}-heterogeneous.yaml")
        het1 = _demands(homo, [117e6] * (n // 2) + [58.5e6] * (n - n // 2))
        label = scen.upper()
        out += [
            (f"{label} homogeneous", homo),
            (f"{label} heterogeneous 1", het1),
            (f"{label} heterogeneous 2", het2),
        ]
    return out


def paper004_cases(user_counts: tuple[int, ...] = USER_COUNTS) -> list[tuple[str, Scenario]]:
    """Paper 004 scenario C: the 60-user file's user group drawn with 20-60 users."""
    c = load_scenario(EXAMPLES / "paper004-scenario-c-60-users.yaml")
    out = []
    for n in user_counts:
        group = c.user_groups[0].model_copy(update={"count": n})
        out.append((f"C {n} users", c.model_copy(update={"user_groups": (group,)})))
    return out


def _pct(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "—"
    if math.isinf(x):
        return "+∞" if x > 0 else "-∞"
    return f"{x:+.0f}%"


def _num(x: float | None, digits: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def run_case(
    label: str,
    sc: Scenario,
    baselines: list[str],
    args: argparse.Namespace,
) -> tuple[Ns3Experiment, Deployment, float]:
    t0 = time.perf_counter()
    dep = plan_scenario(sc, seed=args.seed).deployment
    others: list[tuple[str, Deployment]] = []
    for kind in baselines:
        extra, _notes = baseline_deployments(dep, kind)
        others += extra
    exp = run_experiment(
        dep,
        label=str(dep.method.get("name", "plan")),
        compare_with=others,
        runs=args.runs,
        sim_time_s=args.sim_time,
        workers=args.workers,
    )
    folder = Path(args.out) / label.lower().replace(" ", "-")
    exp.write(folder)
    return exp, dep, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", choices=("003", "004"), default=None)
    ap.add_argument("--runs", type=int, default=30, help="seeded runs per deployment (papers: 30)")
    ap.add_argument("--sim-time", type=float, default=2.0, help="traffic time per run [s]")
    ap.add_argument("--workers", type=int, default=None, help="parallel runs (default: all cores)")
    ap.add_argument("--seed", type=int, default=0, help="planning seed")
    ap.add_argument("--no-offsets", action="store_true", help="skip paper 003's 10 m offsets")
    ap.add_argument("--out", default="out/bench-ns3")
    ap.add_argument("--figures", default=None, help="copy the A-homogeneous and C-60 plots here")
    ap.add_argument(
        "--users",
        type=int,
        nargs="+",
        default=list(USER_COUNTS),
        help="paper 004 user counts to run (default: 20 30 40 50 60)",
    )
    args = ap.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    cpu = platform.processor() or platform.machine()
    lines = [
        f"# ns-3 reproduction: {args.runs} runs x {args.sim_time:g} s of traffic per deployment; "
        f"{cpu}, Python {platform.python_version()}",
        "",
    ]

    def emit(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    for line in lines:
        print(line)
    if args.only in (None, "003"):
        emit(
            "| case | plan position [m] | users in LoS (plan / rooftop) | offered [Mbit/s] | "
            "throughput p50 / p90 [Mbit/s] | rooftop p50 / p90 | gain p50 / p90 | "
            "paper 003 gain p50 / p90 | delay p50 [ms] plan / rooftop | delay Δ p50 / p90 | "
            "paper 003 delay | 10 m offsets p50 min–max | wall [s] |"
        )
        emit("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for label, sc in paper003_cases():
            kinds = ["rooftop"] + ([] if args.no_offsets or label[0] == "B" else ["offset-10m"])
            exp, dep, wall = run_case(label, sc, kinds, args)
            ours, roof = exp.validations[0], exp.validations[1]
            so, sr = ours.summary(), roof.summary()
            g = exp.gains[roof.label]
            offsets = exp.validations[2:]
            p50s = [v.summary()["throughput_mbps"]["p50"] or 0.0 for v in offsets]
            spread = f"{min(p50s):.1f}–{max(p50s):.1f}" if p50s else "—"
            pos = ", ".join(f"{c:.0f}" for c in dep.station_xyz_m()[0])
            p50, p90, pd = PAPER003[label]
            emit(
                f"| {label} | ({pos}) | {so['users_in_los']}/{so['users']} / "
                f"{sr['users_in_los']}/{sr['users']} | {so['offered_mbps']:.1f} | "
                f"{_num(so['throughput_mbps']['p50'])} / {_num(so['throughput_mbps']['p90'])} | "
                f"{_num(sr['throughput_mbps']['p50'])} / {_num(sr['throughput_mbps']['p90'])} | "
                f"{_pct(g['throughput_gain_p50_pct'])} / {_pct(g['throughput_gain_p90_pct'])} | "
                f"{p50} / {p90} | {_num(so['delay_ms']['p50'], 2)} / "
                f"{_num(sr['delay_ms']['p50'], 2)} | "
                f"{_pct(-g['delay_reduction_p50_pct'])} / {_pct(-g['delay_reduction_p90_pct'])} | "
                f"{pd} | {spread} | {wall:.0f} |"
            )
            if args.figures and label == "A homogeneous":
                _copy_figures(
                    Path(args.out) / "a-homogeneous", Path(args.figures), "ns3-paper003-a"
                )
        emit("")
    if args.only in (None, "004"):
        emit(
            "| case | UAVs plan / fixed-users | offered [Mbit/s] | throughput p50 / p90 plan | "
            "fixed-users p50 / p90 | gain p50 | delay p50 [ms] plan / fixed-users | "
            "lost p50 plan / fixed-users | paper 004 | wall [s] |"
        )
        emit("|---|---|---|---|---|---|---|---|---|---|")
        for label, sc in paper004_cases(tuple(args.users)):
            exp, _dep, wall = run_case(label, sc, ["fixed-users"], args)
            ours, base = exp.validations
            so, sb = ours.summary(), base.summary()
            g = exp.gains[base.label]
            emit(
                f"| {label} | {so['stations']} / {sb['stations']} | {so['offered_mbps']:.1f} | "
                f"{_num(so['throughput_mbps']['p50'])} / {_num(so['throughput_mbps']['p90'])} | "
                f"{_num(sb['throughput_mbps']['p50'])} / {_num(sb['throughput_mbps']['p90'])} | "
                f"{_pct(g['throughput_gain_p50_pct'])} | {_num(so['delay_ms']['p50'], 2)} / "
                f"{_num(sb['delay_ms']['p50'], 2)} | "
                f"{100 * so['loss_ratio_median']:.1f}% / {100 * sb['loss_ratio_median']:.1f}% | "
                f"EMTAD ≤ 2 UAVs, fixed-users up to 6, no significant throughput difference | "
                f"{wall:.0f} |"
            )
            if args.figures and label == "C 60 users":
                _copy_figures(Path(args.out) / "c-60-users", Path(args.figures), "ns3-paper004-c60")
    (Path(args.out) / "results.md").write_text("\n".join(lines) + "\n")


def _copy_figures(src: Path, dst: Path, stem: str) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("throughput-ccdf.png", "delay-cdf.png"):
        shutil.copyfile(src / name, dst / f"{stem}-{name}")


if __name__ == "__main__":
    main()
