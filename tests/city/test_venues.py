"""Paper 003's nine-building venue (§VI-A): layout, heights, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from skycell.city.buildings import City
from skycell.city.venues import PAPER003_MAX_HEIGHT_M, paper003_venue


def test_nine_buildings_inside_the_venue_without_overlap() -> None:
    b = paper003_venue()
    assert len(b) == 9
    bb = b.bbox_m
    assert bb[:, :2].min() >= -50.0 and bb[:, 2:].max() <= 50.0
    polys = b.polygons
    for i in range(9):
        for j in range(i + 1, 9):
            assert shapely.intersection(polys[i], polys[j]).area == 0.0


def test_heights_bounded_and_central_building_tallest() -> None:
    b = paper003_venue()
    assert b.heights_m.max() == PAPER003_MAX_HEIGHT_M == b.heights_m[4]
    assert b.heights_m.min() >= 0.4 * PAPER003_MAX_HEIGHT_M - 0.5
    assert len(np.unique(b.heights_m)) > 3  # varying heights
    city = City(bounds_m=(-50, -50, 50, 50), buildings=b)
    assert city.height_at([[0.0, 0.0]])[0] == PAPER003_MAX_HEIGHT_M


def test_streets_and_alleys_of_different_widths() -> None:
    bb = paper003_venue().bbox_m
    xs = np.unique(bb[:, [0, 2]].round(6))
    ys = np.unique(bb[:, [1, 3]].round(6))
    gaps = np.concatenate([xs[2::2] - xs[1:-1:2], ys[2::2] - ys[1:-1:2]])
    assert len(np.unique(gaps)) >= 2 and gaps.min() > 0


def test_scaling_and_seed() -> None:
    a = paper003_venue(seed=3)
    assert np.array_equal(a.heights_m, paper003_venue(seed=3).heights_m)
    assert not np.array_equal(a.heights_m, paper003_venue(seed=4).heights_m)
    big = paper003_venue(side_m=200.0, max_height_m=40.0)
    assert np.allclose(big.bbox_m, 2.0 * paper003_venue().bbox_m)
    assert big.heights_m.max() == 40.0


@pytest.mark.parametrize("kw", [{"side_m": 0.0}, {"max_height_m": -1.0}, {"side_m": np.inf}])
def test_bad_input(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        paper003_venue(**kw)
