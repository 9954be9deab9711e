"""Paper 002 Tables 9-10 and Figs. 11-13: the ray-tracing channel study at 7, 26 and 140 GHz.

Runs :func:`skycell.study.run_channel_study` on ``examples/paper002-settlement.yaml`` (the 1 km x
1 km virtual settlement, 2000 users at 1.5 m, a station 50 m above the central plaza, 5 W,
omnidirectional antennas, -100 dBm sensitivity, 3 interactions, 2.5 m of foliage) and prints
skycell's Table 9 and Table 10 beside the paper's (mean final path loss 102.3 / 111.7 /
127.4 dB), the close-in fits, the losses applied, a free-space reference and the wall times.
Figures and tables go to ``--out``; ``--docs`` also copies the figures to ``docs/images``.

    .venv/bin/python benchmarks/bench_channel_study.py              # about 3-4 min on 2 CPU cores
    .venv/bin/python benchmarks/bench_channel_study.py --users 500 --no-map   # quicker
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from skycell.radio.pathloss import free_space_path_loss_db
from skycell.scenario import load_scenario
from skycell.study import (
    PAPER002_TABLE9,
    StudyTable,
    run_channel_study,
    table9,
    table10,
    write_channel_study,
)
from skycell.study.itu import foliage_loss_db

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "paper002-settlement.yaml"


def _print_table(tab: StudyTable) -> None:
    widths = [max(len(c), *(len(r[i]) for r in tab.rows)) for i, c in enumerate(tab.columns)]
    print(f"\n{tab.title}")
    print("  ".join(c.rjust(w) for c, w in zip(tab.columns, widths, strict=True)))
    for r in tab.rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=100_000, help="rays per path trace")
    ap.add_argument("--map-samples", type=int, default=1_000_000, help="rays per radio map")
    ap.add_argument("--no-map", action="store_true", help="skip the Fig. 12 radio maps")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "channel-study")
    ap.add_argument("--docs", action="store_true", help="copy the figures to docs/images")
    args = ap.parse_args()

    sc = load_scenario(SCENARIO)
    city = sc.build_city()
    print(f"{sc.name}: {len(city.buildings)} buildings, {args.users} users, seed {args.seed}")

    def progress(done: int, total: int, what: str) -> None:
        print(f"  [{done}/{total}] {what} ({time.perf_counter() - t0:.0f} s)", flush=True)

    t0 = time.perf_counter()
    res = run_channel_study(
        sc,
        city,
        frequencies_hz=(7e9, 26e9, 140e9),
        users=args.users,
        seed=args.seed,
        samples=args.samples,
        radio_map=not args.no_map,
        map_samples=args.map_samples,
        progress=progress,
    )
    _print_table(table9(res))
    _print_table(table10(res))

    print("\nlosses applied, close-in fit and references (users with a path)")
    hdr = (
        f"{'GHz':>4} {'gas dB/km':>9} {'rain':>5} {'foliage dB':>10} {'P.833 dB':>8} "
        f"{'n':>5} {'sigma dB':>8} {'path':>5} {'LoS':>5} {'FSPL mean':>9} {'LoS PL':>7} "
        f"{'Pt-RSSc':>7} {'paper PL':>8} {'trace s':>7} {'map s':>6}"
    )
    print(hdr)
    p_tx = float(res.settings["tx_power_dbm"])
    for fs in res.frequencies:
        hp = fs.has_path
        fit = fs.ci_fit
        fspl = float(np.mean(free_space_path_loss_db(res.distance_m, fs.frequency_hz)))
        los_pl = float(np.mean(p_tx - fs.rss_final_dbm[fs.los])) if fs.los.any() else np.nan
        pc = float(np.mean(p_tx - fs.rss_concrete_dbm[hp]))
        p833 = float(foliage_loss_db(fs.frequency_hz, 2.5, model="p833-woodland"))
        paper = PAPER002_TABLE9.get(round(fs.frequency_ghz, 6), {})
        print(
            f"{fs.frequency_ghz:>4g} {fs.gas_db_per_km:>9.3f} {fs.rain_db_per_km:>5.2f} "
            f"{fs.foliage_db:>10.2f} {p833:>8.1f} "
            f"{fit.exponent if fit else np.nan:>5.2f} {fit.sigma_db if fit else np.nan:>8.1f} "
            f"{int(hp.sum()):>5d} {int(fs.los.sum()):>5d} {fspl:>9.1f} {los_pl:>7.1f} "
            f"{pc:>7.1f} {paper.get('final_path_loss_db', np.nan):>8.1f} "
            f"{fs.trace_s:>7.1f} {fs.map_s:>6.1f}"
        )
    for note in res.notes:
        print(f"note: {note}")
    written = write_channel_study(res, args.out)
    print(f"\nwall time {res.wall_time_s:.1f} s; wrote {len(written)} files to {args.out}")
    if args.docs:
        docs = ROOT / "docs" / "images"
        docs.mkdir(parents=True, exist_ok=True)
        for p in written:
            if p.suffix == ".png":
                shutil.copyfile(p, docs / p.name)
        print(f"copied the figures to {docs}")


if __name__ == "__main__":
    main()
