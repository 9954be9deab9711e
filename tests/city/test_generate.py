"""Procedural downtown: determinism, size, height distribution, layout validity."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from skycell.city import Buildings, City, generate_downtown


@pytest.fixture(scope="module")
def downtown() -> Buildings:
    return generate_downtown(seed=0)


def test_deterministic_per_seed(downtown: Buildings) -> None:
    again = generate_downtown(seed=0)
    other = generate_downtown(seed=1)
    assert len(again) == len(downtown)
    np.testing.assert_array_equal(again.heights_m, downtown.heights_m)
    assert all(
        np.array_equal(f, g) for f, g in zip(again.footprints_m, downtown.footprints_m, strict=True)
    )
    assert again.materials == downtown.materials
    assert len(other) != len(downtown) or not np.array_equal(other.heights_m, downtown.heights_m)


def test_count_heights_and_materials(downtown: Buildings) -> None:
    assert 2000 <= len(downtown) <= 4000
    h = downtown.heights_m
    assert abs((h > 70).mean() - 0.12) < 0.01
    assert h.min() >= 6.0 and h.max() <= 220.0
    assert 20.0 <= np.median(h) <= 32.0
    assert len(downtown.materials) == len(downtown)
    for frac in (0.0, 0.3):
        hb = generate_downtown(seed=4, size_m=1000, tall_fraction=frac).heights_m
        assert abs((hb > 70).mean() - frac) < 0.01


def test_layout_inside_map_no_overlap_streets_empty(downtown: Buildings) -> None:
    polys = downtown.polygons
    assert shapely.is_valid(polys).all()
    assert shapely.is_simple(shapely.get_exterior_ring(polys)).all()
    bb = downtown.bbox_m
    assert bb[:, :2].min() >= -1200 and bb[:, 2:].max() <= 1200
    tree = shapely.STRtree(polys)
    i, j = tree.query(polys, predicate="intersects")
    assert np.all(i == j)
    # Street centre lines (between 100 m blocks on a 120 m pitch) hold no building.
    n_side = (2400 - 20) // 120
    origin = -0.5 * (n_side * 120 + 20)
    centres = origin + 10 + 120 * np.arange(n_side + 1)
    s = np.linspace(-1200, 1200, 2001)
    xs, ys = np.meshgrid(centres, s)
    pts = np.c_[np.r_[xs.ravel(), ys.ravel()], np.r_[ys.ravel(), xs.ravel()]]
    city = City(bounds_m=(-1200, -1200, 1200, 1200), buildings=downtown)
    assert np.all(city.height_at(pts) == 0.0)
    assert np.all(city.distance_to_buildings_m(pts, method="polygon") >= 10.0)


def test_parks_exist(downtown: Buildings) -> None:
    n_side = (2400 - 20) // 120
    origin = -0.5 * (n_side * 120 + 20) + 20
    centres = origin + 50 + 120 * np.arange(n_side)
    cx, cy = np.meshgrid(centres, centres)
    city = City(bounds_m=(-1200, -1200, 1200, 1200), buildings=downtown)
    d = city.distance_to_buildings_m(np.c_[cx.ravel(), cy.ravel()], method="bbox")
    # Empty blocks: the centre is >= 50 + 20 m (half block + street) from any building, whereas a
    # built block's centre is within ~45 m of one of its own buildings.
    assert 5 <= (d > 60).sum() <= 40


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size_m": -1}, "size_m"),
        ({"block_size_m": 0}, "block_size_m"),
        ({"street_width_m": -2}, "street_width_m"),
        ({"tall_fraction": 1.5}, "tall_fraction"),
        ({"block_size_m": 10, "street_width_m": 20}, "larger than street_width_m"),
        ({"max_height_m": 50}, "max_height_m"),
        ({"size_m": 50}, "too small"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_downtown(**kwargs)  # type: ignore[arg-type]
