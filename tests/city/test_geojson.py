"""GeoJSON import/export: round trip, lon/lat projection, every malformed-file error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from skycell.city import (
    Buildings,
    GeoJSONError,
    generate_downtown,
    load_geojson,
    lonlat_to_local_m,
    save_geojson,
)
from skycell.errors import SkycellError


def _write(tmp_path: Path, doc: Any, name: str = "b.geojson") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _feature(coords: Any, props: dict[str, Any] | None, gtype: str = "Polygon") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": gtype, "coordinates": coords},
    }


SQUARE = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]


def test_round_trip(tmp_path: Path) -> None:
    b = generate_downtown(seed=2, size_m=500)
    path = tmp_path / "city.geojson"
    save_geojson(b, path)
    back = load_geojson(path)
    assert len(back) == len(b)
    np.testing.assert_array_equal(back.heights_m, b.heights_m)
    assert back.materials == b.materials
    for f, g in zip(back.footprints_m, b.footprints_m, strict=True):
        np.testing.assert_array_equal(f, g)


def test_metric_polygon_multipolygon_levels_default_and_holes(tmp_path: Path) -> None:
    hole = [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            _feature([SQUARE[0], hole], {"height": "31.5 m"}),
            _feature(
                [[[[100, 0], [110, 0], [110, 5], [100, 0]]], SQUARE],
                {"building:levels": 4},
                "MultiPolygon",
            ),
            _feature([[[200, 0], [210, 0], [205, 8]]], {}),
        ],
    }
    b = load_geojson(_write(tmp_path, doc), default_height_m=12.0)
    assert len(b) == 4
    np.testing.assert_array_equal(b.heights_m, [31.5, 12.0, 12.0, 12.0])
    # Holes dropped: the first building is the full square; rings are unclosed.
    np.testing.assert_allclose(shapely.area(b.polygons), [100.0, 25.0, 100.0, 40.0])
    assert b.footprints_m[0].shape == (4, 2)


def test_lonlat_projection(tmp_path: Path) -> None:
    # A 0.001 deg square near Tokyo station; metre sizes from the WGS84 radii of curvature.
    lon0, lat0 = 139.767, 35.681
    ring = [[lon0, lat0], [lon0 + 1e-3, lat0], [lon0 + 1e-3, lat0 + 1e-3], [lon0, lat0 + 1e-3]]
    doc = {"type": "FeatureCollection", "features": [_feature([ring], {"height": 50})]}
    b = load_geojson(_write(tmp_path, doc), origin_lonlat=(lon0, lat0))
    fp = b.footprints_m[0]
    a, e2, phi = 6378137.0, 6.69437999014e-3, np.deg2rad(lat0)
    n = a / np.sqrt(1 - e2 * np.sin(phi) ** 2)
    m = a * (1 - e2) / (1 - e2 * np.sin(phi) ** 2) ** 1.5
    dx, dy = n * np.cos(phi) * np.deg2rad(1e-3), m * np.deg2rad(1e-3)
    np.testing.assert_allclose(fp, [[0, 0], [dx, 0], [dx, dy], [0, dy]], atol=0.02)
    # Default origin is the data's bbox centre; an explicit crs also works.
    centred = load_geojson(
        _write(
            tmp_path,
            dict(
                doc, crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
            ),
        )
    )
    np.testing.assert_allclose(centred.bbox_m, [[-dx / 2, -dy / 2, dx / 2, dy / 2]], atol=0.02)
    # Forced metric keeps the raw numbers.
    raw = load_geojson(_write(tmp_path, doc), coordinates="metric")
    np.testing.assert_allclose(raw.footprints_m[0], ring)
    e, nn = lonlat_to_local_m(np.array([lon0]), np.array([lat0 + 0.01]), (lon0, lat0))
    assert abs(e[0]) < 0.01 and abs(nn[0] - m * np.deg2rad(0.01)) < 0.05


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("{not json", ["not valid JSON"]),
        ({"type": "Feature"}, ["expected a GeoJSON FeatureCollection"]),
        ([1, 2], ["expected a GeoJSON FeatureCollection"]),
        ({"type": "FeatureCollection"}, ["features: must be a list"]),
    ],
)
def test_malformed_documents(tmp_path: Path, doc: Any, expected: list[str]) -> None:
    with pytest.raises(GeoJSONError) as info:
        load_geojson(_write(tmp_path, doc))
    for text in expected:
        assert text in str(info.value)


def test_every_feature_problem_reported_at_once(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            _feature(SQUARE, {"height": 20}),  # fine
            _feature(SQUARE, {}),  # missing height
            {
                "type": "Feature",
                "properties": {"height": 5},
                "geometry": {"type": "Point", "coordinates": [0, 0]},
            },
            _feature([[[0, 0], [1, 1], [2, 2], [0, 0]]], {"height": 5}),  # zero area
            _feature([[[0, 0], [1, 1]]], {"height": 5}),  # too few points
            _feature(SQUARE, {"height": -3}),  # negative height
            _feature([[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]], {"height": 5}),  # bow tie
            "junk",
        ],
    }
    with pytest.raises(GeoJSONError) as info:
        load_geojson(_write(tmp_path, doc))
    err = info.value
    assert isinstance(err, SkycellError)
    msg = str(err)
    assert "features[1].properties: no 'height'" in msg
    assert "features[2].geometry: must be a Polygon or MultiPolygon, got 'Point'" in msg
    assert "features[4].geometry: outer ring" in msg
    assert "features[5].properties.height: height must be a positive number" in msg
    assert "features[7]: must be a GeoJSON Feature" in msg
    assert "features[3].geometry: degenerate" in msg and "zero area" in msg
    assert "features[6].geometry: degenerate" in msg and "Self-intersection" in msg
    assert len(err.problems) == 7


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GeoJSONError, match="cannot read"):
        load_geojson(tmp_path / "nope.geojson")


def test_empty_collection(tmp_path: Path) -> None:
    b = load_geojson(_write(tmp_path, {"type": "FeatureCollection", "features": []}))
    assert isinstance(b, Buildings) and len(b) == 0
