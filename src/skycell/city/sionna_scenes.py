"""Real cities from the scenes that ship with Sionna RT (extra ``rt``).

:func:`load_builtin_city` reads a built-in Sionna RT scene (``munich``, ``etoile``, ``florence``,
``san_francisco``) and turns it into a skycell :class:`~skycell.city.buildings.City` of prism
buildings, so every skycell method (placement, LoS, building penalties, analytic engine) runs on
real urban geometry.

How: the scene is loaded with one object per mesh; objects are grouped into buildings by name
(``"<building>-<part>"``, e.g. ``"Altes_Rathaus-itu_marble"`` and ``"Altes_Rathaus-itu_metal"``);
the non-vertical triangles of a building are projected on the ground and unioned (shapely) into
its footprint, one prism per polygon part; the height is the building's highest vertex above the
ground (``z = 0``); the material is the ITU type covering the most triangles. Footprints smaller
than ``min_area_m2`` are dropped. Bounds are the scene's extent (ground plane and buildings).
"""

from __future__ import annotations

import collections
import re
from typing import Any, Final

import numpy as np
import shapely

from skycell.city.buildings import Buildings, City
from skycell.errors import SkycellError

#: Built-in Sionna RT city scenes that can be imported.
BUILTIN_CITIES: Final[tuple[str, ...]] = ("munich", "etoile", "florence", "san_francisco")

_GROUND = re.compile(r"ground|terrain|plane", re.IGNORECASE)


def check_builtin_city(name: str) -> None:
    """Raise ``ValueError`` listing ``BUILTIN_CITIES`` unless ``name`` is one of them."""
    if name not in BUILTIN_CITIES:
        allowed = ", ".join(repr(c) for c in BUILTIN_CITIES)
        raise ValueError(f"unknown built-in city {name!r}; choose one of: {allowed}")


def _material(radio_material: Any) -> str:
    kind = getattr(radio_material, "itu_type", None) or getattr(radio_material, "name", "")
    return str(kind).lower().removeprefix("itu_")


def load_builtin_city(name: str, *, min_area_m2: float = 4.0) -> City:
    """Import a built-in Sionna RT city scene as a :class:`City`.

    Args:
        name: one of ``BUILTIN_CITIES``.
        min_area_m2: drop footprint parts smaller than this [m^2] (slivers, ornaments).

    Returns:
        the city: one prism per footprint polygon, heights [m] above ground, per-building ITU
        material names (``marble``, ``metal``, ``brick``, ``concrete``, ...), bounds from the
        scene's extent, in the scene's own metric frame.

    Raises:
        ValueError: unknown name (the message lists the allowed names).
        SkycellError: the ``rt`` extra or LLVM 16+ is missing.
    """
    check_builtin_city(name)
    from skycell.radio.sionna_engine import import_rt

    rt, mi, _ = import_rt()
    scene = rt.load_scene(getattr(rt.scene, name), merge_shapes=False)

    parts: dict[str, list[np.ndarray]] = collections.defaultdict(list)
    zspan: dict[str, list[float]] = {}
    mats: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for oname, obj in scene.objects.items():
        p = mi.traverse(obj.mi_mesh)
        v = np.asarray(p["vertex_positions"], dtype=np.float64).reshape(-1, 3)
        f = np.asarray(p["faces"], dtype=np.int64).reshape(-1, 3)
        if len(v) == 0 or len(f) == 0:
            continue
        lo = np.minimum(lo, v[:, :2].min(axis=0))
        hi = np.maximum(hi, v[:, :2].max(axis=0))
        if _GROUND.search(oname):
            continue
        key = oname.rsplit("-", 1)[0]
        tri = v[f]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        parts[key].append(tri[np.abs(n[:, 2]) > 1e-6][:, :, :2])  # drop vertical walls
        z0, z1 = zspan.get(key, [np.inf, -np.inf])
        zspan[key] = [min(z0, float(v[:, 2].min())), max(z1, float(v[:, 2].max()))]
        mats[key][_material(obj.radio_material)] += len(f)

    footprints: list[np.ndarray] = []
    heights: list[float] = []
    materials: list[str] = []
    for key, tris_list in parts.items():
        tris = np.concatenate(tris_list)
        if len(tris) == 0:
            continue
        polys = shapely.polygons(np.concatenate([tris, tris[:, :1]], axis=1))
        merged = shapely.union_all(shapely.make_valid(polys)).buffer(0.01).buffer(-0.01)
        height = zspan[key][1] - max(zspan[key][0], 0.0)
        if not height > 0:
            continue
        geoms = list(getattr(merged, "geoms", [merged]))
        for g in geoms:
            if g.geom_type != "Polygon" or g.area < min_area_m2:
                continue
            ring = np.asarray(g.simplify(0.05).exterior.coords, dtype=np.float64)[:-1]
            if len(ring) < 3:
                continue
            footprints.append(ring)
            heights.append(height)
            materials.append(mats[key].most_common(1)[0][0])
    if not footprints:
        raise SkycellError(f"built-in scene {name!r} yielded no buildings")
    buildings = Buildings(
        footprints_m=tuple(footprints), heights_m=np.asarray(heights), materials=tuple(materials)
    )
    bb = buildings.bbox_m
    lo = np.minimum(lo, bb[:, :2].min(axis=0))
    hi = np.maximum(hi, bb[:, 2:].max(axis=0))
    return City(
        bounds_m=(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])), buildings=buildings
    )
