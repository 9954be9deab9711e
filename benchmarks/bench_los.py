"""Benchmark exact line of sight: ~10 000 buildings x 100 000 station-to-user segments.

Stations hover at 70 m at uniform random positions over the map; each segment goes to a ground
user at 1.5 m placed uniformly at random within ``--max-range-m`` (horizontal) of its station
(``--max-range-m 0`` pairs independent uniform points over the whole map instead: the worst case,
segments kilometres long). Prints the index build time, the median / min / max time of
``City.line_of_sight`` over ``--repeats`` runs, and the agreement with an independent GEOS-based
reference (exact line/polygon intersection per segment) on ``--check`` segments.

    .venv/bin/python benchmarks/bench_los.py            # defaults: 4300 m map, ~10k buildings
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import shapely
from numpy.typing import NDArray

from skycell.city import City, generate_downtown


def reference_blocked(
    city: City, a: NDArray[np.float64], b: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Blocked iff a GEOS line/footprint intersection piece has a point below the roof."""
    polys = city.buildings.polygons
    lines = shapely.linestrings(np.stack([a[:, :2], b[:, :2]], axis=1))
    si, bi = shapely.STRtree(polys).query(lines, predicate="intersects")
    pieces = shapely.intersection(lines[si], polys[bi])
    parts, owner = shapely.get_parts(pieces, return_index=True)
    keep = shapely.get_type_id(parts) == 1  # LineString pieces (points = touching only)
    parts, owner = parts[keep], owner[keep]
    seg = si[owner]
    h = city.buildings.heights_m[bi[owner]]
    d = b[seg, :2] - a[seg, :2]
    dd = (d**2).sum(axis=1)
    z_min = np.full(seg.size, np.inf)
    for k in (0, -1):
        xy = shapely.get_coordinates(shapely.get_point(parts, k))
        t = ((xy - a[seg, :2]) * d).sum(axis=1) / dd
        z_min = np.minimum(z_min, a[seg, 2] + t * (b[seg, 2] - a[seg, 2]))
    out = np.zeros(a.shape[0], dtype=bool)
    out[seg[(z_min < h) & (shapely.length(parts) > 1e-9)]] = True
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size-m", type=float, default=4300.0, help="map side [m] (~10k buildings)")
    ap.add_argument("--segments", type=int, default=100_000)
    ap.add_argument("--max-range-m", type=float, default=500.0, help="0 = uniform pairs")
    ap.add_argument("--station-altitude-m", type=float, default=70.0)
    ap.add_argument("--user-altitude-m", type=float, default=1.5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--check", type=int, default=2000, help="segments checked against GEOS")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t = time.perf_counter()
    buildings = generate_downtown(seed=args.seed, size_m=args.size_m)
    t_gen = time.perf_counter() - t
    half = args.size_m / 2
    city = City(bounds_m=(-half, -half, half, half), buildings=buildings)
    t = time.perf_counter()
    grid = city.grid  # built on first use, then cached
    t_index = time.perf_counter() - t

    rng = np.random.default_rng(args.seed + 1)
    n = args.segments
    a = np.c_[rng.uniform(-half, half, (n, 2)), np.full(n, args.station_altitude_m)]
    if args.max_range_m > 0:
        ang = rng.uniform(0, 2 * np.pi, n)
        r = args.max_range_m * np.sqrt(rng.random(n))
        b_xy = np.clip(a[:, :2] + np.c_[r * np.cos(ang), r * np.sin(ang)], -half, half)
    else:
        b_xy = rng.uniform(-half, half, (n, 2))
    b = np.c_[b_xy, np.full(n, args.user_altitude_m)]

    times = []
    los = np.zeros(n, dtype=bool)
    for _ in range(args.repeats):
        t = time.perf_counter()
        los = city.line_of_sight(a, b)
        times.append(time.perf_counter() - t)

    m = min(args.check, n)
    t = time.perf_counter()
    ref = ~reference_blocked(city, a[:m], b[:m])
    t_ref = time.perf_counter() - t
    agree = int((ref == los[:m]).sum())

    length = np.hypot(*(b[:, :2] - a[:, :2]).T)
    print(f"buildings                  {len(buildings):>10d}   (generated in {t_gen:.2f} s)")
    print(f"tall (> 70 m)              {(buildings.heights_m > 70).mean():>10.1%}")
    print(
        f"grid index                 {grid.shape[0]}x{grid.shape[1]} cells of {grid.cell_m:.1f} m,"
        f" built in {t_index:.3f} s"
    )
    print(f"segments                   {n:>10d}   (mean horizontal length {length.mean():.0f} m)")
    print(f"line of sight, fraction    {los.mean():>10.3f}")
    print(
        f"line_of_sight median [s]   {statistics.median(times):>10.3f}   "
        f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeats} repeats)"
    )
    print(f"throughput [segments/s]    {n / statistics.median(times):>10.3g}")
    print(f"GEOS reference agreement   {agree:>10d} / {m}   (reference took {t_ref:.2f} s)")


if __name__ == "__main__":
    main()
