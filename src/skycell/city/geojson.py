"""Building footprints from and to GeoJSON.

Input: a ``FeatureCollection`` of ``Polygon`` / ``MultiPolygon`` features, each with a height
property (``height`` by default, in metres; numbers or numeric strings such as ``"31.5"`` or
``"31.5 m"``). Fallback when the height is missing: ``building:levels`` × 3 m, then
``default_height_m``. Each polygon of a ``MultiPolygon`` becomes its own building with the feature's
height. Inner rings (courtyards, holes) are dropped: the building is treated as solid, which is
conservative for line of sight.

Coordinates are either WGS84 longitude/latitude or already metric (x east, y north, in metres):

* a ``crs`` member naming WGS84 (``CRS84``, ``EPSG:4326``) means lon/lat; any other ``crs`` name
  (e.g. a projected EPSG code or ``skycell:local-metric`` written by :func:`save_geojson`) means
  metric;
* without ``crs``, coordinates are taken as lon/lat when every longitude is in [-180, 180], every
  latitude in [-90, 90] and the data spans less than 5 degrees; otherwise metric. Force either with
  ``coordinates="lonlat"`` / ``"metric"``.

Lon/lat are projected onto the local tangent plane (east-north-up on the WGS84 ellipsoid) at
``origin_lonlat``, or at the centre of the data's bounding box. Points are taken on the ellipsoid
surface and the "up" component is discarded (orthographic projection); horizontal distances are
then shortened by the factor ``cos(d/R)``: less than 2 mm at 5 km from the origin, 3 cm at 20 km.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely

from skycell.city.buildings import Buildings, FloatArray
from skycell.errors import Problem, SkycellError

#: Storey height used with ``building:levels`` [m].
LEVEL_HEIGHT_M = 3.0
#: WGS84 semi-major axis [m] and first eccentricity squared.
WGS84_A_M = 6378137.0
WGS84_E2 = 6.69437999014e-3
#: ``crs`` name written by :func:`save_geojson` for local metric coordinates.
LOCAL_METRIC_CRS = "skycell:local-metric"

Coordinates = Literal["auto", "lonlat", "metric"]


class GeoJSONError(SkycellError):
    """A GeoJSON footprint file is invalid; carries every problem found at once."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {len(self.problems)} problem(s) found"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def lonlat_to_local_m(
    lon_deg: FloatArray, lat_deg: FloatArray, origin_lonlat: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    """East/north coordinates [m] of WGS84 surface points on the tangent plane at the origin.

    Args:
        lon_deg, lat_deg: longitudes and latitudes [deg].
        origin_lonlat: tangent point ``(lon, lat)`` [deg].

    Returns:
        ``(east_m, north_m)``.
    """

    def ecef(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        lam, phi = np.deg2rad(lon), np.deg2rad(lat)
        n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * np.sin(phi) ** 2)
        return (
            n * np.cos(phi) * np.cos(lam),
            n * np.cos(phi) * np.sin(lam),
            n * (1.0 - WGS84_E2) * np.sin(phi),
        )

    lon0 = np.asarray([origin_lonlat[0]], dtype=np.float64)
    lat0 = np.asarray([origin_lonlat[1]], dtype=np.float64)
    x, y, z = ecef(np.asarray(lon_deg, dtype=np.float64), np.asarray(lat_deg, dtype=np.float64))
    x0, y0, z0 = ecef(lon0, lat0)
    dx, dy, dz = x - x0, y - y0, z - z0
    lam0, phi0 = math.radians(origin_lonlat[0]), math.radians(origin_lonlat[1])
    east = -math.sin(lam0) * dx + math.cos(lam0) * dy
    north = (
        -math.sin(phi0) * math.cos(lam0) * dx
        - math.sin(phi0) * math.sin(lam0) * dy
        + math.cos(phi0) * dz
    )
    return east, north


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*(m)?\s*", value)
        if m:
            return float(m.group(1))
    return None


def _feature_order(problem: Problem) -> int:
    m = re.match(r"features\[(\d+)\]", problem.location)
    return int(m.group(1)) if m else -1


def _ring(coords: Any) -> FloatArray | None:
    """An outer ring as an ``(n, 2)`` array (closing vertex removed), or None if malformed."""
    try:
        arr = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] < 3:
        return None
    arr = arr[:, :2]
    if np.array_equal(arr[0], arr[-1]):
        arr = arr[:-1]
    if not np.isfinite(arr).all():
        return None
    return arr


def load_geojson(
    path: str | Path,
    *,
    origin_lonlat: tuple[float, float] | None = None,
    default_height_m: float | None = None,
    height_property: str = "height",
    coordinates: Coordinates = "auto",
) -> Buildings:
    """Read building footprints with heights from a GeoJSON ``FeatureCollection``.

    Args:
        path: the ``.geojson`` / ``.json`` file.
        origin_lonlat: tangent point ``(lon, lat)`` [deg] of the local metric frame for lon/lat
            data; default: centre of the data's bounding box. Ignored for metric data.
        default_height_m: height [m] for features without ``height_property`` or
            ``building:levels``; without it such features are errors.
        height_property: name of the height property [m].
        coordinates: ``"auto"`` (see the module docstring), ``"lonlat"`` or ``"metric"``.

    Returns:
        The buildings in a local metric frame [m].

    Raises:
        GeoJSONError: listing every problem (feature index and what is wrong) at once.
    """
    src = str(path)
    problems: list[Problem] = []
    if coordinates not in ("auto", "lonlat", "metric"):
        raise ValueError(f"coordinates must be 'auto', 'lonlat' or 'metric', got {coordinates!r}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GeoJSONError(src, [Problem("", f"cannot read the file: {exc}")]) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeoJSONError(
            src, [Problem("", f"not valid JSON: {exc.msg}", line=exc.lineno)]
        ) from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise GeoJSONError(
            src,
            [Problem("type", f"expected a GeoJSON FeatureCollection, got {got!r}")],
        )
    features = doc.get("features")
    if not isinstance(features, list):
        raise GeoJSONError(src, [Problem("features", "must be a list of Feature objects")])

    rings: list[FloatArray] = []
    heights: list[float] = []
    ring_where: list[str] = []
    materials: list[str | None] = []
    for i, feat in enumerate(features):
        where = f"features[{i}]"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            problems.append(Problem(where, "must be a GeoJSON Feature object"))
            continue
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            problems.append(Problem(f"{where}.properties", "must be an object"))
            props = {}
        height: float | None = None
        if props.get(height_property) is not None:
            height = _number(props[height_property])
            if height is None or not math.isfinite(height) or height <= 0:
                problems.append(
                    Problem(
                        f"{where}.properties.{height_property}",
                        f"height must be a positive number of metres, got "
                        f"{props[height_property]!r}",
                    )
                )
                height = math.nan
        elif props.get("building:levels") is not None:
            levels = _number(props["building:levels"])
            if levels is None or levels <= 0:
                problems.append(
                    Problem(
                        f"{where}.properties.building:levels",
                        f"must be a positive number, got {props['building:levels']!r}",
                    )
                )
                height = math.nan
            else:
                height = levels * LEVEL_HEIGHT_M
        elif default_height_m is not None:
            height = float(default_height_m)
        else:
            problems.append(
                Problem(
                    f"{where}.properties",
                    f"no {height_property!r} (or 'building:levels') property; add one or pass "
                    "default_height_m",
                )
            )
            height = math.nan
        geom = feat.get("geometry")
        gtype = geom.get("type") if isinstance(geom, dict) else None
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        if gtype == "Polygon":
            polys = [coords]
        elif gtype == "MultiPolygon" and isinstance(coords, list):
            polys = coords
        else:
            problems.append(
                Problem(
                    f"{where}.geometry",
                    f"must be a Polygon or MultiPolygon, got {gtype or type(geom).__name__!r}",
                )
            )
            continue
        for k, poly in enumerate(polys):
            pw = f"{where}.geometry" + (f".coordinates[{k}]" if gtype == "MultiPolygon" else "")
            if not isinstance(poly, list) or not poly:
                problems.append(Problem(pw, "polygon needs at least an outer ring"))
                continue
            ring = _ring(poly[0])
            if ring is None or ring.shape[0] < 3:
                problems.append(
                    Problem(pw, "outer ring must be a list of at least 3 distinct [x, y] points")
                )
                continue
            rings.append(ring)
            heights.append(height)
            ring_where.append(pw)
            mat = props.get("material")
            materials.append(mat if isinstance(mat, str) else None)

    # Decide the coordinate kind.
    kind = coordinates
    if kind == "auto":
        crs = doc.get("crs")
        name = ""
        if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
            name = str(crs["properties"].get("name", ""))
        if name:
            kind = "lonlat" if re.search(r"CRS84|4326", name, re.IGNORECASE) else "metric"
        elif rings:
            allc = np.concatenate(rings)
            lo, hi = allc.min(axis=0), allc.max(axis=0)
            in_range = lo[0] >= -180 and hi[0] <= 180 and lo[1] >= -90 and hi[1] <= 90
            kind = "lonlat" if in_range and bool(np.all(hi - lo < 5.0)) else "metric"
        else:
            kind = "metric"
    if kind == "lonlat" and rings:
        allc = np.concatenate(rings)
        if origin_lonlat is None:
            lo, hi = allc.min(axis=0), allc.max(axis=0)
            origin_lonlat = (float(0.5 * (lo[0] + hi[0])), float(0.5 * (lo[1] + hi[1])))
        e, n = lonlat_to_local_m(allc[:, 0], allc[:, 1], origin_lonlat)
        split = np.cumsum([r.shape[0] for r in rings])[:-1]
        rings = list(np.split(np.stack([e, n], axis=1), split))

    # Geometry checks after projection (areas in m²); reported with the problems found above.
    if rings:
        counts = np.array([r.shape[0] for r in rings])
        flat = np.concatenate(rings)
        closed = np.insert(flat, np.cumsum(counts), flat[np.cumsum(counts) - counts], axis=0)
        polys_g = shapely.polygons(
            shapely.linearrings(closed, indices=np.repeat(np.arange(len(rings)), counts + 1))
        )
        area = shapely.area(polys_g)
        valid = shapely.is_valid(polys_g)
        for j in np.flatnonzero((area <= 1e-6) | ~valid):
            reasons = [] if valid[j] else [str(shapely.is_valid_reason(polys_g[j]))]
            reasons += ["zero area"] if area[j] <= 1e-6 else []
            reason = ", ".join(reasons)
            problems.append(
                Problem(ring_where[j], f"degenerate or self-intersecting footprint: {reason}")
            )
    if problems:
        problems.sort(key=_feature_order)
        raise GeoJSONError(src, problems)
    known = [m for m in materials if m is not None]
    return Buildings(
        footprints_m=tuple(rings),
        heights_m=np.asarray(heights, dtype=np.float64),
        materials=tuple(known) if len(known) == len(materials) else (),
    )


def save_geojson(buildings: Buildings, path: str | Path) -> None:
    """Write buildings as a GeoJSON ``FeatureCollection`` in local metric coordinates [m].

    Each building is a ``Polygon`` feature with properties ``height`` [m] and, when known,
    ``material``; the ``crs`` member is ``skycell:local-metric`` so :func:`load_geojson` reads the
    coordinates back as metres.
    """
    features = []
    for i, (fp, h) in enumerate(zip(buildings.footprints_m, buildings.heights_m, strict=True)):
        ring = np.vstack([fp, fp[:1]]).tolist()
        props: dict[str, Any] = {"height": float(h)}
        if buildings.materials:
            props["material"] = buildings.materials[i]
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": LOCAL_METRIC_CRS}},
        "features": features,
    }
    Path(path).write_text(json.dumps(doc), encoding="utf-8")
