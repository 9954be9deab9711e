"""Buildings container, City construction, distances (paper 000 eq. 7 and exact polygon)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from skycell.city import Buildings, City, bbox_distance_m, generate_downtown, polygon_distance_m

UNIT_SQUARE = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
L_SHAPE = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float)


def test_bbox_distance_around_unit_square() -> None:
    b = Buildings((UNIT_SQUARE,), np.array([10.0]))
    pts = np.array([[0.5, 0.5], [2, 0.5], [0.5, -3], [2, 2], [-1, -1], [1, 1], [-0.5, 0.25]])
    d = bbox_distance_m(pts, b.bbox_m)
    np.testing.assert_allclose(d[:, 0], [0, 1, 3, np.sqrt(2), np.sqrt(2), 0, 0.5], atol=1e-12)


def test_bbox_m_and_polygons() -> None:
    b = Buildings((UNIT_SQUARE + 3, L_SHAPE), np.array([10.0, 20.0]))
    np.testing.assert_array_equal(b.bbox_m, [[3, 3, 4, 4], [0, 0, 2, 2]])
    assert shapely.is_valid(b.polygons).all()
    np.testing.assert_allclose(shapely.area(b.polygons), [1.0, 3.0])
    assert len(Buildings.empty().polygons) == 0


def test_polygon_distance_concave_l_shape() -> None:
    b = Buildings((L_SHAPE,), np.array([30.0]))
    pts = np.array([[1.5, 1.5], [3, 3], [1.8, 1.2], [0.5, 0.5], [-1, 1], [1, 1]])
    expected = [0.5, np.sqrt(5), 0.2, 0.0, 1.0, 0.0]
    np.testing.assert_allclose(polygon_distance_m(pts, b)[:, 0], expected, atol=1e-12)
    city = City.from_buildings(b, margin_m=10)
    np.testing.assert_allclose(
        city.distance_to_buildings_m(pts, method="polygon"), expected, atol=1e-12
    )
    # The bounding box (eq. 7) sees the notch as built.
    assert city.distance_to_buildings_m(pts[:1], method="bbox")[0] == 0.0


def test_city_distances_match_pairwise_minimum() -> None:
    city = City.from_buildings(generate_downtown(seed=1, size_m=500.0))
    rng = np.random.default_rng(0)
    pts = rng.uniform(-300, 300, (400, 2))
    for min_h in (0.0, 40.0):
        sel = city.buildings.subset(city.buildings.heights_m > min_h)
        ref_box = bbox_distance_m(pts, sel.bbox_m).min(axis=1)
        ref_poly = polygon_distance_m(pts, sel).min(axis=1)
        got_box = city.distance_to_buildings_m(pts, min_height_m=min_h)
        got_poly = city.distance_to_buildings_m(pts, method="polygon", min_height_m=min_h)
        np.testing.assert_allclose(got_box, ref_box, atol=1e-9)
        np.testing.assert_allclose(got_poly, ref_poly, atol=1e-9)
        assert np.all(got_poly >= got_box - 1e-9)
    assert np.isinf(city.distance_to_buildings_m(pts, min_height_m=1e4)).all()
    with pytest.raises(ValueError, match="method"):
        city.distance_to_buildings_m(pts, method="raster")  # type: ignore[arg-type]


def test_height_at_and_inside() -> None:
    city = City.from_buildings(Buildings((L_SHAPE, UNIT_SQUARE + 5), np.array([30.0, 12.0])))
    h = city.height_at([[0.5, 0.5], [1.5, 1.5], [5.5, 5.5], [9.0, 9.0]])
    np.testing.assert_array_equal(h, [30.0, 0.0, 12.0, 0.0])
    inside = city.inside_building([[0.5, 1.5, 29], [0.5, 1.5, 31], [1.5, 1.5, 1], [5.5, 5.2, 11]])
    assert inside.tolist() == [True, False, False, True]


def test_segment_clearance() -> None:
    city = City.from_buildings(Buildings((L_SHAPE, UNIT_SQUARE + 5), np.array([80.0, 40.0])))
    a = np.array([[1.5, 1.5, 70], [-1, 0.5, 70], [3, -5, 70], [1.5, 1.5, 70]])
    b = np.array([[1.5, 3.0, 70], [3, 0.5, 70], [3, 9, 70], [1.5, 1.5, 70]])
    got = city.segment_clearance_m(a, b, min_height_m=70.0)
    np.testing.assert_allclose(got, [0.5, 0.0, 1.0, 0.5], atol=1e-12)
    # Lower threshold: the 40 m building at x in [5, 6] now counts for the third route too.
    got_low = city.segment_clearance_m(a, b, min_height_m=30.0)
    np.testing.assert_allclose(got_low[2], 1.0)
    np.testing.assert_allclose(
        city.segment_clearance_m([4.0, 5.5, 0], [4.5, 5.5, 0], min_height_m=30.0), [0.5]
    )
    assert np.isinf(city.segment_clearance_m(a, b, min_height_m=100.0)).all()


def test_city_validation_and_bounds() -> None:
    b = Buildings((L_SHAPE,), np.array([30.0]))
    assert City.from_buildings(b, margin_m=1).bounds_m == (-1.0, -1.0, 3.0, 3.0)
    with pytest.raises(ValueError, match="x_min < x_max"):
        City(bounds_m=(0, 0, -1, 1), buildings=b)
    with pytest.raises(ValueError, match="one height per footprint"):
        Buildings((L_SHAPE,), np.array([1.0, 2.0]))
