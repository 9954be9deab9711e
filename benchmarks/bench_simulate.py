"""Cost of one time step of ``skycell simulate`` (paper 000 §VI) on each engine.

The default scenario is placed (paper 000 §V-A, seed 0) and tuned (``aoi``, analytic engine), then
its 50 walkers per AOI are generated; one step is every station's received power at every user.
Each configuration runs in a fresh process (so its peak memory is its own): a warm-up step, then
``--repeats`` timed steps at later times of the walk. Printed per configuration: users, the users
one Sionna path-solver call traces (from ``memory_gb``), the median and min seconds per step, the
peak resident memory, and the share of station-user links without a traced path.

On Sionna every step traces every station-user link: the path solver tests each ray's hits
against each user of a call, so the work grows with users x stations x rays, and the memory
with the users of a call x stations x rays (about 120 bytes each with sionna-rt 2.2 on the CPU;
users are traced in chunks that fit ``engine.memory_gb``).

``--chunk-check N`` (Sionna) traces the first step's first N users once in one call and once
one user per call and prints how far the gains of the two differ: a user's paths should not
depend on the other users of its call.

    python benchmarks/bench_simulate.py [--engine sionna] [--samples 100000,10000]
        [--memory-gb 4,8] [--users-per-area 50] [--repeats 3] [--chunk-check 60] [--diffraction]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _deployment(folder: Path) -> Path:
    """Plan and tune the default scenario (analytic engine) into ``folder``."""
    path = folder / "deployment.json"
    if not path.exists():
        subprocess.run(
            [
                str(Path(sys.executable).with_name("skycell")),
                "plan",
                "--tune",
                "aoi",
                "--out",
                str(folder),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def _child(args: argparse.Namespace) -> None:
    from skycell.deployment import Deployment
    from skycell.plan.pipeline import deployment_city, deployment_scenario
    from skycell.radio.engine import has_path
    from skycell.twin.mobility import aoi_walkers
    from skycell.twin.simulate import UserTracks, channel_engine

    dep = Deployment.load(args.deployment)
    scenario = deployment_scenario(dep)
    city = deployment_city(dep)
    kind, engine = channel_engine(
        scenario, city, args.engine, args.samples, args.memory_gb, args.diffraction or None
    )
    walkers = aoi_walkers(
        scenario, city, users_per_area=args.users_per_area, steps=60, dt_s=1.0, seed=0
    )
    users = UserTracks.resample([w.to_record() for w in walkers], steps=60, dt_s=1.0)
    st = dep.stations
    xyz = dep.station_xyz_m()
    settings = {
        "tx_power_dbm": [s.tx_power_dbm for s in st],
        "azimuth_deg": [s.azimuth_deg for s in st],
        "tilt_deg": [s.tilt_deg for s in st],
    }
    if args.chunk_check:
        rx = users.xyz_m[0, : args.chunk_check]
        gains = []
        for per_call in (len(rx), 1):
            engine.memory_gb = 1e3 if per_call > 1 else 1e-3
            gains.append(
                engine.path_gain_db(
                    xyz, rx, **{k: v for k, v in settings.items() if k != "tx_power_dbm"}
                )
            )
        a, b = gains
        both = has_path(a) & has_path(b)
        diff = np.abs(a - b)[both]
        print(
            json.dumps(
                {
                    "chunk_check_users": len(rx),
                    "links": int(a.size),
                    "linked_both": int(both.sum()),
                    "linked_mismatch": int((has_path(a) != has_path(b)).sum()),
                    "max_abs_diff_db": float(diff.max()) if diff.size else 0.0,
                }
            )
        )
        return
    times, linked = [], []
    for k in [0, *np.linspace(10, 60, args.repeats).astype(int)]:
        tic = time.perf_counter()
        p = engine.received_power_dbm(xyz, users.xyz_m[k], **settings)
        times.append(time.perf_counter() - tic)
        gain = p - np.asarray(settings["tx_power_dbm"])[:, None]
        linked.append(float(np.mean(has_path(gain))))
    per_call = getattr(engine, "users_per_call", None)
    print(
        json.dumps(
            {
                "engine": kind,
                "users": int(users.xyz_m.shape[1]),
                "stations": len(st),
                "samples": getattr(engine, "samples", None),
                "memory_gb": getattr(engine, "memory_gb", None),
                "users_per_call": per_call(len(st)) if per_call else None,
                "warmup_s": times[0],
                "step_s": times[1:],
                "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                "no_path_share": 1.0 - float(np.mean(linked)),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--engine", default="sionna", choices=("analytic", "sionna"))
    ap.add_argument("--samples", default="100000", help="Sionna rays per station, comma-separated")
    ap.add_argument("--memory-gb", default="8", help="Sionna memory per call [GB], comma-separated")
    ap.add_argument("--users-per-area", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--deployment", type=Path, default=None, help="default: plan the default")
    ap.add_argument("--chunk-check", type=int, default=0, help="Sionna: users to compare")
    ap.add_argument("--diffraction", action="store_true", help="Sionna: one edge diffraction")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.samples = int(args.samples)
        args.memory_gb = float(args.memory_gb)
        _child(args)
        return
    folder = Path(tempfile.mkdtemp(prefix="skycell-bench-simulate-"))
    dep = args.deployment or _deployment(folder)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}; "
        f"engine {args.engine}, {args.users_per_area} walkers per AOI, default deployment"
        + (", edge diffraction" if args.diffraction else "")
    )
    print(
        f"{'samples':>8} {'mem GB':>6} {'users':>5} {'per call':>8} {'median s/step':>13} "
        f"{'min s/step':>10} {'peak GB':>7} {'no path':>7}"
    )
    configs = (
        [(int(s), float(m)) for s in args.samples.split(",") for m in args.memory_gb.split(",")]
        if args.engine == "sionna"
        else [(0, 0.0)]
    )
    for samples, memory_gb in configs:
        extra = ["--chunk-check", str(args.chunk_check)] if args.chunk_check else []
        extra += ["--diffraction"] if args.diffraction else []
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--engine",
            args.engine,
            "--samples",
            str(samples or 1000),
            "--memory-gb",
            str(memory_gb or 1.0),
            "--users-per-area",
            str(args.users_per_area),
            "--repeats",
            str(args.repeats),
            "--deployment",
            str(dep),
            *extra,
        ]
        got = subprocess.run(cmd, check=True, capture_output=True, text=True)
        r = json.loads(got.stdout.strip().splitlines()[-1])
        if args.chunk_check:
            print(
                f"{samples:>8} rays: {r['chunk_check_users']} users in one call vs one per call: "
                f"{r['linked_mismatch']} of {r['links']} links found by only one, max |diff| "
                f"{r['max_abs_diff_db']:.4f} dB over the {r['linked_both']} found by both"
            )
            continue
        step = np.asarray(r["step_s"])
        print(
            f"{r['samples'] or '-':>8} {r['memory_gb'] or '-':>6} {r['users']:>5} "
            f"{r['users_per_call'] or '-':>8} {np.median(step):>13.2f} {step.min():>10.2f} "
            f"{r['peak_gb']:>7.2f} {100 * r['no_path_share']:>6.1f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()
