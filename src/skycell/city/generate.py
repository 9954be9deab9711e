"""Procedural cities: a seeded downtown of rectangular towers on a street grid.

The layout imitates a dense business district such as central Tokyo (paper 000 uses Tokyo PLATEAU
with drones hovering at 70 m): square blocks separated by streets, each block split into a grid of
lots, one building per lot set back from the lot edges, a few blocks left empty as plazas or
parks, and a minority of towers above the 70 m hover altitude.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skycell.city.buildings import Buildings

#: Altitude separating "tall" buildings (above the drones' hover altitude in paper 000) [m].
TALL_THRESHOLD_M = 70.0
#: Median and log-standard deviation of low-rise heights (log-normal) [m], [-].
LOW_MEDIAN_M = 25.0
LOW_SIGMA = 0.45
#: Lowest building [m].
MIN_HEIGHT_M = 6.0


def _check(name: str, value: float, ok: bool, allowed: str) -> str | None:
    return None if ok else f"{name}={value!r}: must be {allowed}"


def generate_downtown(
    *,
    seed: int = 0,
    size_m: float = 2400.0,
    block_size_m: float = 100.0,
    street_width_m: float = 20.0,
    tall_fraction: float = 0.12,
    max_height_m: float = 220.0,
    park_fraction: float = 0.05,
    max_rotation_deg: float = 4.0,
) -> Buildings:
    """A seeded procedural downtown centred on the origin.

    Layout: ``n = floor((size_m - street_width_m) / (block_size_m + street_width_m))`` square
    blocks per side, separated by (and surrounded with) streets of ``street_width_m``, centred in
    ``[-size_m/2, size_m/2]²``. A fraction ``park_fraction`` of blocks is left empty (plazas,
    parks). Every other block is split into ``r × c`` lots with ``r, c`` drawn uniformly from
    ``round(block/50) .. round(block/25)`` (2..4 for 100 m blocks) and jittered split lines; each
    lot holds one rectangular building covering 55-95 % of the lot per side after a 1-3 m setback,
    a third of them rotated by up to ``max_rotation_deg`` (shrunk so they stay inside their lot,
    hence footprints never overlap and streets stay empty).

    Heights: exactly ``round(tall_fraction * B)`` buildings are towers, chosen at random with
    probability proportional to lot area, with heights log-uniform in ``(70, max_height_m]`` m;
    the others are log-normal with median 25 m and log-sigma 0.45, clipped to
    ``[6, min(69.9, max_height_m)]`` m. Materials: towers ``"glass"``, others ``"concrete"`` or
    ``"brick"``.

    Args:
        seed: random seed; the same seed gives the same city.
        size_m: side of the square map [m].
        block_size_m: side of a block [m].
        street_width_m: street width [m].
        tall_fraction: fraction of buildings taller than 70 m, in ``[0, 1]``.
        max_height_m: tallest possible building [m] (> 70 m when ``tall_fraction > 0``).
        park_fraction: fraction of empty blocks, in ``[0, 1)``.
        max_rotation_deg: largest footprint rotation [deg], in ``[0, 30]``.

    Returns:
        About 3000 buildings for the defaults.

    Raises:
        ValueError: naming every invalid argument, what is allowed and the value given.
    """
    problems = [
        _check("size_m", size_m, bool(size_m > 0), "positive [m]"),
        _check("block_size_m", block_size_m, bool(block_size_m > 0), "positive [m]"),
        _check("street_width_m", street_width_m, bool(street_width_m > 0), "positive [m]"),
        _check("tall_fraction", tall_fraction, bool(0 <= tall_fraction <= 1), "in [0, 1]"),
        _check("max_height_m", max_height_m, bool(max_height_m > MIN_HEIGHT_M), "above 6 m"),
        _check("park_fraction", park_fraction, bool(0 <= park_fraction < 1), "in [0, 1)"),
        _check(
            "max_rotation_deg", max_rotation_deg, bool(0 <= max_rotation_deg <= 30), "in [0, 30]"
        ),
    ]
    if block_size_m > 0 and street_width_m > 0 and not block_size_m > street_width_m:
        problems.append(
            f"block_size_m={block_size_m!r}: must be larger than street_width_m={street_width_m!r}"
        )
    if tall_fraction > 0 and not max_height_m > TALL_THRESHOLD_M:
        problems.append(
            f"max_height_m={max_height_m!r}: must exceed {TALL_THRESHOLD_M} m when "
            f"tall_fraction={tall_fraction!r} > 0 (or set tall_fraction=0)"
        )
    pitch = block_size_m + street_width_m
    n_side = int(np.floor((size_m - street_width_m) / pitch)) if pitch > 0 else 0
    if size_m > 0 and pitch > 0 and n_side < 1:
        problems.append(
            f"size_m={size_m!r}: too small for one block plus streets "
            f"(needs at least {block_size_m + 2 * street_width_m} m)"
        )
    errors = [p for p in problems if p]
    if errors:
        raise ValueError("generate_downtown: " + "; ".join(errors))

    rng = np.random.default_rng(seed)

    # Blocks.
    origin = -0.5 * (n_side * pitch + street_width_m) + street_width_m
    bi, bj = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    bx0 = (origin + bi * pitch).ravel()
    by0 = (origin + bj * pitch).ravel()
    n_blocks = bx0.size
    built = rng.random(n_blocks) >= park_fraction
    bx0, by0 = bx0[built], by0[built]
    n_blocks = bx0.size

    # Lots: r x c per block with jittered split lines.
    lo_n = max(1, round(block_size_m / 50.0))
    hi_n = max(lo_n, round(block_size_m / 25.0))
    n_cols = rng.integers(lo_n, hi_n + 1, size=n_blocks)
    n_rows = rng.integers(lo_n, hi_n + 1, size=n_blocks)
    max_n = hi_n + 1

    def splits(n: NDArray[np.int64]) -> NDArray[np.float64]:
        k = np.arange(max_n)[None, :]
        frac = (k + rng.uniform(-0.2, 0.2, size=(n.size, max_n))) / n[:, None]
        frac = np.where(k == 0, 0.0, frac)
        return np.where(k >= n[:, None], 1.0, frac)

    fx = splits(n_cols)
    fy = splits(n_rows)
    lots_per_block = n_rows * n_cols
    blk = np.repeat(np.arange(n_blocks), lots_per_block)
    j = np.arange(int(lots_per_block.sum())) - np.repeat(
        np.cumsum(lots_per_block) - lots_per_block, lots_per_block
    )
    col = j % n_cols[blk]
    row = j // n_cols[blk]
    lx0 = bx0[blk] + block_size_m * fx[blk, col]
    lx1 = bx0[blk] + block_size_m * fx[blk, col + 1]
    ly0 = by0[blk] + block_size_m * fy[blk, row]
    ly1 = by0[blk] + block_size_m * fy[blk, row + 1]
    n_b = lx0.size

    # Buildings inside lots.
    setback = rng.uniform(1.0, 3.0, size=n_b)
    avail_w = np.maximum(lx1 - lx0 - 2 * setback, 0.5)
    avail_h = np.maximum(ly1 - ly0 - 2 * setback, 0.5)
    w = avail_w * rng.uniform(0.55, 0.95, size=n_b)
    h = avail_h * rng.uniform(0.55, 0.95, size=n_b)
    rotate = rng.random(n_b) < 1.0 / 3.0
    theta = np.where(rotate, np.deg2rad(rng.uniform(-1, 1, size=n_b) * max_rotation_deg), 0.0)
    c, s = np.cos(theta), np.abs(np.sin(theta))
    shrink = np.minimum(1.0, np.minimum(avail_w / (w * c + h * s), avail_h / (w * s + h * c)))
    w, h = w * shrink, h * shrink
    cx = 0.5 * (lx0 + lx1) + rng.uniform(-0.5, 0.5, size=n_b) * np.maximum(
        avail_w - (w * c + h * s), 0.0
    )
    cy = 0.5 * (ly0 + ly1) + rng.uniform(-0.5, 0.5, size=n_b) * np.maximum(
        avail_h - (w * s + h * c), 0.0
    )
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])  # CCW
    local = corners[None, :, :] * np.stack([w, h], axis=1)[:, None, :]
    cos_t, sin_t = np.cos(theta)[:, None], np.sin(theta)[:, None]
    fx_m = cx[:, None] + local[:, :, 0] * cos_t - local[:, :, 1] * sin_t
    fy_m = cy[:, None] + local[:, :, 0] * sin_t + local[:, :, 1] * cos_t
    footprints = np.stack([fx_m, fy_m], axis=2)

    # Heights.
    low_cap = min(TALL_THRESHOLD_M - 0.1, max_height_m)
    heights = np.clip(LOW_MEDIAN_M * np.exp(LOW_SIGMA * rng.standard_normal(n_b)), 6.0, low_cap)
    n_tall = round(tall_fraction * n_b)
    tall = np.zeros(n_b, dtype=bool)
    if n_tall:
        area = (lx1 - lx0) * (ly1 - ly0)
        tall[rng.choice(n_b, size=n_tall, replace=False, p=area / area.sum())] = True
        log_h = rng.uniform(np.log(TALL_THRESHOLD_M), np.log(max_height_m), size=n_tall)
        heights[tall] = np.maximum(np.exp(log_h), np.nextafter(TALL_THRESHOLD_M, np.inf))
    heights = np.round(heights, 1)
    heights[tall] = np.maximum(heights[tall], TALL_THRESHOLD_M + 0.1)
    heights = np.minimum(heights, max_height_m)
    brick = rng.random(n_b) < 0.3
    materials = np.where(tall, "glass", np.where(brick, "brick", "concrete"))
    return Buildings(
        footprints_m=tuple(footprints),
        heights_m=heights,
        materials=tuple(str(m) for m in materials),
    )
