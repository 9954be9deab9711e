"""Buildings as vertical prisms: footprint polygon in a local metric frame, flat roof at
``height_m``.

The :class:`Buildings` container keeps flat, vectorisation-friendly arrays (bounding boxes, edges)
that the geometry functions (distances, line of sight) work on without Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from skycell.city.los import GridIndex, line_of_sight

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
DistanceMethod = Literal["bbox", "polygon"]


@dataclass(frozen=True, eq=False)
class Buildings:
    """A set of prism buildings.

    Attributes:
        footprints_m: one ``(n_i, 2)`` array of polygon vertices [m] per building, counter-clockwise
            or clockwise, not closed (the first vertex is not repeated).
        heights_m: roof height above ground of each building [m], shape ``(B,)``.
        materials: optional material name per building (ITU-R P.2040 names, e.g. ``"concrete"``).
    """

    footprints_m: tuple[FloatArray, ...]
    heights_m: FloatArray
    materials: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        heights = np.asarray(self.heights_m, dtype=np.float64).reshape(-1)
        object.__setattr__(self, "heights_m", heights)
        fps = tuple(np.asarray(f, dtype=np.float64).reshape(-1, 2) for f in self.footprints_m)
        object.__setattr__(self, "footprints_m", fps)
        if len(fps) != heights.shape[0]:
            raise ValueError(
                f"Buildings: {len(fps)} footprints but {heights.shape[0]} heights; give one height "
                "per footprint."
            )
        if self.materials and len(self.materials) != len(fps):
            raise ValueError("Buildings: give one material per building or none at all.")

    @classmethod
    def empty(cls) -> Buildings:
        """A city without buildings."""
        return cls(footprints_m=(), heights_m=np.zeros(0))

    def __len__(self) -> int:
        return int(self.heights_m.shape[0])

    @cached_property
    def bbox_m(self) -> FloatArray:
        """Axis-aligned bounding boxes ``(B, 4)`` as ``[x_min, y_min, x_max, y_max]`` [m]."""
        if len(self) == 0:
            return np.zeros((0, 4))
        return np.array(
            [
                [f[:, 0].min(), f[:, 1].min(), f[:, 0].max(), f[:, 1].max()]
                for f in self.footprints_m
            ]
        )

    @cached_property
    def edges_m(self) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
        """All footprint edges as flat arrays: start points ``(E, 2)``, end points ``(E, 2)`` [m]
        and the index of the building each edge belongs to ``(E,)``."""
        if len(self) == 0:
            return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        starts = np.concatenate(self.footprints_m)
        ends = np.concatenate([np.roll(f, -1, axis=0) for f in self.footprints_m])
        owner = np.repeat(np.arange(len(self)), [f.shape[0] for f in self.footprints_m])
        return starts, ends, owner

    @cached_property
    def polygons(self) -> NDArray[np.object_]:
        """Footprints as shapely polygons ``(B,)`` (built once, vectorised) [m]."""
        if len(self) == 0:
            return np.empty(0, dtype=object)
        starts, _, owner = self.edges_m
        first = np.concatenate([[0], np.cumsum(np.bincount(owner))[:-1]])
        # Close every ring by repeating its first vertex.
        coords = np.insert(starts, np.cumsum(np.bincount(owner)), starts[first], axis=0)
        ring_id = np.repeat(np.arange(len(self)), np.bincount(owner) + 1)
        rings = shapely.linearrings(coords, indices=ring_id)
        return np.asarray(shapely.polygons(rings), dtype=object)

    def subset(self, mask: NDArray[np.bool_]) -> Buildings:
        """The buildings selected by a boolean mask of shape ``(B,)``."""
        idx = np.flatnonzero(mask)
        return Buildings(
            footprints_m=tuple(self.footprints_m[i] for i in idx),
            heights_m=self.heights_m[idx],
            materials=tuple(self.materials[i] for i in idx) if self.materials else (),
        )


def bbox_distance_m(points_xy_m: FloatArray, bbox_m: FloatArray) -> FloatArray:
    """Horizontal distance [m] from points to axis-aligned building bounding boxes.

    Paper 000 eq. 7: ``d_x = max(max(m_x - p_x, p_x - M_x), 0)``, likewise ``d_y``, and
    ``d = sqrt(d_x^2 + d_y^2)``; zero inside the box.

    Args:
        points_xy_m: ``(P, 2)`` points [m].
        bbox_m: ``(B, 4)`` boxes ``[x_min, y_min, x_max, y_max]`` [m].

    Returns:
        ``(P, B)`` distances [m].
    """
    p = np.asarray(points_xy_m, dtype=np.float64)
    px = p[:, 0:1]
    py = p[:, 1:2]
    dx = np.maximum(np.maximum(bbox_m[None, :, 0] - px, px - bbox_m[None, :, 2]), 0.0)
    dy = np.maximum(np.maximum(bbox_m[None, :, 1] - py, py - bbox_m[None, :, 3]), 0.0)
    return np.asarray(np.hypot(dx, dy))


def _as_xy(points_xy_m: ArrayLike, name: str = "points_xy_m") -> FloatArray:
    p = np.asarray(points_xy_m, dtype=np.float64)
    if p.ndim == 1:
        p = p.reshape(1, -1)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"{name} must have shape (P, 2) [m] (or (P, 3); z is ignored)")
    return np.ascontiguousarray(p[:, :2])


def polygon_distance_m(points_xy_m: ArrayLike, buildings: Buildings) -> FloatArray:
    """Exact horizontal distance [m] from points to every building footprint polygon.

    Meant for a small number of buildings ``B`` (the result is dense). Zero inside a footprint.

    Args:
        points_xy_m: ``(P, 2)`` points [m].
        buildings: the buildings.

    Returns:
        ``(P, B)`` distances [m].
    """
    p = _as_xy(points_xy_m)
    pts = shapely.points(p)
    return np.asarray(
        shapely.distance(pts[:, None], buildings.polygons[None, :]), dtype=np.float64
    ).reshape(p.shape[0], len(buildings))


@dataclass(frozen=True, eq=False)
class City:
    """A map area with prism buildings; the geometry queries the planners and engines use.

    All queries are vectorised over points or segments and use spatial indexes built once per
    city (a uniform grid for line of sight and point-in-prism, shapely ``STRtree`` for distances).

    Attributes:
        bounds_m: map area ``(x_min, y_min, x_max, y_max)`` [m] in the local metric frame.
        buildings: the buildings.
    """

    bounds_m: tuple[float, float, float, float]
    buildings: Buildings
    _trees: dict[tuple[str, float], tuple[Any, NDArray[np.int64]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        b = tuple(float(v) for v in self.bounds_m)
        if len(b) != 4 or not all(np.isfinite(b)) or not (b[0] < b[2] and b[1] < b[3]):
            raise ValueError(
                f"City.bounds_m must be finite (x_min, y_min, x_max, y_max) with x_min < x_max "
                f"and y_min < y_max [m], got {self.bounds_m}"
            )
        object.__setattr__(self, "bounds_m", b)

    @classmethod
    def from_buildings(cls, buildings: Buildings, *, margin_m: float = 0.0) -> City:
        """A city whose bounds are the buildings' bounding box grown by ``margin_m`` [m]."""
        if len(buildings) == 0:
            m = max(margin_m, 1.0)
            return cls(bounds_m=(-m, -m, m, m), buildings=buildings)
        bb = buildings.bbox_m
        return cls(
            bounds_m=(
                float(bb[:, 0].min() - margin_m),
                float(bb[:, 1].min() - margin_m),
                float(bb[:, 2].max() + margin_m),
                float(bb[:, 3].max() + margin_m),
            ),
            buildings=buildings,
        )

    @cached_property
    def grid(self) -> GridIndex:
        """Uniform-grid index used by line of sight and point queries (built on first use)."""
        return GridIndex.build(self.buildings)

    def _tree(self, method: str, min_height_m: float) -> tuple[Any, NDArray[np.int64]]:
        key = (method, float(min_height_m))
        if key not in self._trees:
            idx = np.flatnonzero(self.buildings.heights_m > min_height_m).astype(np.int64)
            if method == "bbox":
                bb = self.buildings.bbox_m[idx]
                geoms = shapely.box(bb[:, 0], bb[:, 1], bb[:, 2], bb[:, 3])
            else:
                geoms = self.buildings.polygons[idx]
            if len(self._trees) > 16:
                self._trees.clear()
            self._trees[key] = (shapely.STRtree(geoms), idx)
        return self._trees[key]

    # ------------------------------------------------------------------ queries

    def line_of_sight(self, a_xyz_m: ArrayLike, b_xyz_m: ArrayLike) -> BoolArray:
        """True where the straight 3-D segment ``a → b`` crosses no building prism.

        Exact for any simple footprint polygon (concave too). A prism is the footprint extruded
        from ``z = 0`` to ``height_m`` and is treated as an open set: segments that only touch a
        wall or vertex from outside or slide along the roof (``z == height_m``) are clear. The
        test applies to the segment shortened by 1 µm at each end, so an endpoint on a wall is
        blocked only if the segment leaves it into the building below the roof. Segments sliding
        along a wall or within 1 µm of a wall are unspecified. See :mod:`skycell.city.los`.

        Args:
            a_xyz_m, b_xyz_m: ``(S, 3)`` segment endpoints [m]; either may be ``(1, 3)`` or
                ``(3,)`` and is broadcast.

        Returns:
            ``(S,)`` booleans, True = line of sight.
        """
        return line_of_sight(self.grid, a_xyz_m, b_xyz_m)

    def line_of_sight_matrix(self, tx_xyz_m: ArrayLike, rx_xyz_m: ArrayLike) -> BoolArray:
        """``(N, U)`` line of sight between every station ``(N, 3)`` and every user ``(U, 3)``
        [m]: one vectorised :meth:`line_of_sight` call over all ``N * U`` segments."""
        tx = np.asarray(tx_xyz_m, dtype=np.float64).reshape(-1, 3)
        rx = np.asarray(rx_xyz_m, dtype=np.float64).reshape(-1, 3)
        n, u = tx.shape[0], rx.shape[0]
        if n == 0 or u == 0:
            return np.zeros((n, u), dtype=bool)
        a = np.repeat(tx, u, axis=0)
        b = np.tile(rx, (n, 1))
        return np.asarray(self.line_of_sight(a, b), dtype=bool).reshape(n, u)

    def inside_building(self, xyz_m: ArrayLike) -> BoolArray:
        """True where a point ``(P, 3)`` [m] lies strictly inside a prism (inside the footprint
        and ``z < height_m``); points exactly on a wall are unspecified."""
        p = np.asarray(xyz_m, dtype=np.float64)
        if p.ndim == 1:
            p = p.reshape(1, -1)
        if p.ndim != 2 or p.shape[1] != 3:
            raise ValueError(f"xyz_m must have shape (P, 3) [m], got {np.shape(xyz_m)}")
        out = np.zeros(p.shape[0], dtype=bool)
        pt, _ = self.grid.containing_pairs(p[:, :2], p[:, 2])
        out[pt] = True
        return out

    def height_at(self, xy_m: ArrayLike) -> FloatArray:
        """Roof height [m] of the building covering each point ``(P, 2)`` [m]; 0 on streets."""
        p = _as_xy(xy_m, "xy_m")
        out = np.zeros(p.shape[0])
        pt, bld = self.grid.containing_pairs(p)
        np.maximum.at(out, pt, self.buildings.heights_m[bld])
        return out

    def distance_to_buildings_m(
        self,
        points_xy_m: ArrayLike,
        *,
        method: DistanceMethod = "bbox",
        min_height_m: float = 0.0,
    ) -> FloatArray:
        """Horizontal distance [m] from each point to the nearest building taller than
        ``min_height_m``.

        Args:
            points_xy_m: ``(P, 2)`` points [m] (a third column is ignored).
            method: ``"bbox"`` = distance to the building's axis-aligned bounding box, paper 000
                eq. 7 (:func:`bbox_distance_m`); ``"polygon"`` = exact distance to the footprint.
            min_height_m: only buildings with ``height_m > min_height_m`` count [m]; paper 000
                uses the hover altitude plus a 15 m tolerance.

        Returns:
            ``(P,)`` distances [m]: 0 inside a footprint (box), ``inf`` when no building is
            taller than ``min_height_m``.
        """
        if method not in ("bbox", "polygon"):
            raise ValueError(f"method must be 'bbox' or 'polygon', got {method!r}")
        p = _as_xy(points_xy_m)
        tree, idx = self._tree(method, min_height_m)
        out = np.full(p.shape[0], np.inf)
        if idx.size == 0 or p.shape[0] == 0:
            return out
        (src, _), dist = tree.query_nearest(
            shapely.points(p), return_distance=True, all_matches=False
        )
        out[src] = dist
        return out

    def segment_clearance_m(
        self, a_xyz_m: ArrayLike, b_xyz_m: ArrayLike, *, min_height_m: float
    ) -> FloatArray:
        """Minimum horizontal distance [m] from each 2-D segment ``a → b`` to the footprint of any
        building taller than ``min_height_m``; 0 when the segment crosses or touches one.

        Meant for routes flown at constant altitude: pass the flight altitude (minus any vertical
        margin) as ``min_height_m``; ``z`` of the endpoints is ignored.

        Args:
            a_xyz_m, b_xyz_m: ``(S, 3)`` or ``(S, 2)`` endpoints [m]; either may be a single
                point that is broadcast.
            min_height_m: only buildings with ``height_m > min_height_m`` count [m].

        Returns:
            ``(S,)`` clearances [m], ``inf`` when no building is taller than ``min_height_m``.
        """
        a = _as_xy(a_xyz_m, "a_xyz_m")
        b = _as_xy(b_xyz_m, "b_xyz_m")
        a, b = np.broadcast_arrays(a, b)
        tree, idx = self._tree("polygon", min_height_m)
        out = np.full(a.shape[0], np.inf)
        if idx.size == 0 or a.shape[0] == 0:
            return out
        lines = shapely.linestrings(np.stack([a, b], axis=1))
        (src, _), dist = tree.query_nearest(lines, return_distance=True, all_matches=False)
        out[src] = dist
        return out
