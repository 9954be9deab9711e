"""Line of sight and point-in-prism: closed-form cases and agreement with shapely references."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray

from skycell.city import Buildings, City, GridIndex, generate_downtown, line_of_sight

L_SHAPE = np.array([[0, 0], [20, 0], [20, 10], [10, 10], [10, 20], [0, 20]], dtype=float)


@pytest.fixture(scope="module")
def box_city() -> City:
    square = np.array([[-5, -5], [5, -5], [5, 5], [-5, 5]], dtype=float)
    return City.from_buildings(Buildings((square,), np.array([20.0])), margin_m=50)


@pytest.fixture(scope="module")
def l_city() -> City:
    return City.from_buildings(Buildings((L_SHAPE,), np.array([30.0])), margin_m=50)


@pytest.fixture(scope="module")
def small_city() -> City:
    return City.from_buildings(generate_downtown(seed=3, size_m=600.0), margin_m=20)


def test_over_roof_passes_through_blocked(box_city: City) -> None:
    a = np.array([[-20, 0, 30], [-20, 0, 10], [-20, 0, 25], [-20, 0, 40], [-20, 0, 20]], float)
    b = np.array([[20, 0, 30], [20, 0, 10], [20, 0, 15], [20, 0, 22], [20, 0, 20]], float)
    # rows: above roof; through the walls; enters above the roof and leaves below it
    # (z = 18.75 m at the far wall); descending but above the roof; sliding on the roof plane
    # (grazing counts as clear).
    assert box_city.line_of_sight(a, b).tolist() == [True, False, False, True, True]


def test_concave_notch_passes_but_arm_blocks(l_city: City) -> None:
    # Along x + y = 37 through the notch's bounding box, never touching the L.
    a = np.array([[12, 25, 1.5], [25, 5, 1.5], [-5, 15, 1.5]], float)
    b = np.array([[25, 12, 1.5], [-5, 5, 1.5], [25, 15, 1.5]], float)
    assert l_city.line_of_sight(a, b).tolist() == [True, False, False]
    # The bounding box would have called the first one blocked.
    assert l_city.distance_to_buildings_m([[18.5, 18.5]], method="bbox")[0] == 0.0


def test_endpoints_inside(box_city: City) -> None:
    a = np.array([[0, 0, 10], [0, 0, 1], [1, 1, 2], [0, 0, 25], [8, 8, 0]], float)
    b = np.array([[50, 50, 10], [0, 0, 100], [-1, -2, 3], [50, 0, 25], [8, 8, 100]], float)
    # inside -> outside; vertical inside; both inside (no wall crossed); above roof over it;
    # vertical outside.
    assert box_city.line_of_sight(a, b).tolist() == [False, False, False, True, True]
    assert box_city.inside_building(
        [[0.0, 0.0, 19.9], [0.0, 0.0, 20.1], [6.0, 0.0, 1.0]]
    ).tolist() == [
        True,
        False,
        False,
    ]


def test_broadcast_and_shapes(box_city: City) -> None:
    b = np.array([[-20, 0, 1.5], [0, 30, 1.5], [0, 0, 1.5]], float)
    out = box_city.line_of_sight(np.array([0.0, 50.0, 70.0]), b)
    assert out.tolist() == [True, True, False]
    with pytest.raises(ValueError, match="shape"):
        box_city.line_of_sight(np.zeros((2, 2)), b)
    assert City.from_buildings(Buildings.empty()).line_of_sight(b, b[::-1]).all()


def _blocked_length_reference(
    a: NDArray[np.float64], b: NDArray[np.float64], buildings: Buildings
) -> NDArray[np.float64]:
    """Horizontal length [m] of each segment that is inside a footprint and below its roof,
    computed independently with GEOS line/polygon intersection."""
    polys = buildings.polygons
    lines = shapely.linestrings(np.stack([a[:, :2], b[:, :2]], axis=1))
    si, bi = shapely.STRtree(polys).query(lines, predicate="intersects")
    pieces = shapely.intersection(lines[si], polys[bi])
    parts, owner = shapely.get_parts(pieces, return_index=True)
    is_line = shapely.get_type_id(parts) == 1
    parts, owner = parts[is_line], owner[is_line]
    seg, h = si[owner], buildings.heights_m[bi[owner]]
    first = shapely.get_point(parts, 0)
    last = shapely.get_point(parts, -1)
    d = b[seg, :2] - a[seg, :2]
    dd = (d**2).sum(axis=1)

    def t_of(p: NDArray[np.object_]) -> NDArray[np.float64]:
        xy = shapely.get_coordinates(p)
        return np.asarray(((xy - a[seg, :2]) * d).sum(axis=1) / dd)

    t0, t1 = np.minimum(t_of(first), t_of(last)), np.maximum(t_of(first), t_of(last))
    za, dz = a[seg, 2], b[seg, 2] - a[seg, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_h = (h - za) / dz
    lo = np.where(dz > 0, t0, np.where(dz < 0, np.maximum(t0, t_h), t0))
    hi = np.where(dz > 0, np.minimum(t1, t_h), t1)
    flat_ok = (dz != 0) | (za < h)
    length = np.where(flat_ok, np.clip(hi - lo, 0, None), 0.0) * np.sqrt(dd)
    out = np.zeros(a.shape[0])
    np.add.at(out, seg, length)
    return out


def _random_segments(
    rng: np.random.Generator, n: int, half_m: float, max_len_m: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a = np.c_[rng.uniform(-half_m, half_m, (n, 2)), rng.uniform(0, 120, n)]
    ang = rng.uniform(0, 2 * np.pi, n)
    r = rng.uniform(1, max_len_m, n)
    b = np.c_[a[:, 0] + r * np.cos(ang), a[:, 1] + r * np.sin(ang), rng.uniform(0, 80, n)]
    return a, b


def test_agrees_with_exact_geos_reference(small_city: City) -> None:
    rng = np.random.default_rng(11)
    a, b = _random_segments(rng, 2000, 300, 400)
    los = small_city.line_of_sight(a, b)
    blocked_len = _blocked_length_reference(a, b, small_city.buildings)
    disagree = los != (blocked_len == 0)
    assert 0.2 < los.mean() < 0.8
    # Only segments that barely clip a prism (within 1e-6 m) may differ.
    assert np.all(blocked_len[disagree] < 1e-6)


def test_agrees_with_dense_sampling(small_city: City) -> None:
    rng = np.random.default_rng(5)
    a, b = _random_segments(rng, 300, 300, 150)
    los = small_city.line_of_sight(a, b)
    step_m = 0.05
    length = np.hypot(*(b[:, :2] - a[:, :2]).T)
    n = np.ceil(length / step_m).astype(int) + 1
    seg = np.repeat(np.arange(a.shape[0]), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n - 1, n)
    pts = a[seg] + t[:, None] * (b[seg] - a[seg])
    tree = shapely.STRtree(small_city.buildings.polygons)
    pi, bi = tree.query(shapely.points(pts[:, :2]), predicate="within")
    below = pts[pi, 2] < small_city.buildings.heights_m[bi]
    dense_blocked = np.zeros(a.shape[0], dtype=bool)
    dense_blocked[seg[pi[below]]] = True
    # Sampling can only miss a blockage, never invent one.
    assert not np.any(los & dense_blocked)
    missed = ~los & ~dense_blocked
    blocked_len = _blocked_length_reference(a, b, small_city.buildings)
    assert np.all(blocked_len[missed] < 2 * step_m)
    assert (~los).sum() > 50


def test_chunking_and_cell_size_do_not_change_results(small_city: City) -> None:
    rng = np.random.default_rng(2)
    a, b = _random_segments(rng, 1000, 300, 300)
    ref = small_city.line_of_sight(a, b)
    assert np.array_equal(line_of_sight(small_city.grid, a, b, chunk=37), ref)
    for cell_m in (3.0, 60.0, 500.0):
        grid = GridIndex.build(small_city.buildings, cell_m=cell_m)
        assert np.array_equal(line_of_sight(grid, a, b), ref)


def test_inside_building_matches_shapely(small_city: City) -> None:
    rng = np.random.default_rng(7)
    p = np.c_[rng.uniform(-300, 300, (5000, 2)), rng.uniform(0, 100, 5000)]
    tree = shapely.STRtree(small_city.buildings.polygons)
    pi, bi = tree.query(shapely.points(p[:, :2]), predicate="within")
    ref = np.zeros(len(p), dtype=bool)
    ref[pi[p[pi, 2] < small_city.buildings.heights_m[bi]]] = True
    assert np.array_equal(small_city.inside_building(p), ref)
    h = np.zeros(len(p))
    h[pi] = small_city.buildings.heights_m[bi]
    np.testing.assert_array_equal(small_city.height_at(p[:, :2]), h)


def test_far_blockage_in_last_window() -> None:
    # Candidates are gathered in windows of growing distance from the lower end: a blockage
    # 2 km away from it must still be found, whichever endpoint comes first.
    square = np.array([[-10, -10], [10, -10], [10, 10], [-10, 10]], dtype=float)
    city = City.from_buildings(
        Buildings((square + np.array([2000, 0]), square + np.array([30, 0])), np.array([200, 1.0]))
    )
    a = np.array([[0, 0, 1.5], [0, 0, 1.5], [0, 30, 1.5]])
    b = np.array([[3000, 0, 150], [3000, 0, 320], [3000, 30, 150]])
    assert city.line_of_sight(a, b).tolist() == [False, True, True]
    assert city.line_of_sight(b, a).tolist() == [False, True, True]


def test_long_segments_agree_with_geos_reference() -> None:
    city = City.from_buildings(generate_downtown(seed=8, size_m=1500.0))
    rng = np.random.default_rng(4)
    a, b = _random_segments(rng, 1500, 750, 1500)
    los = city.line_of_sight(a, b)
    blocked_len = _blocked_length_reference(a, b, city.buildings)
    disagree = los != (blocked_len == 0)
    assert np.all(blocked_len[disagree] < 1e-6)
    assert 0.05 < los.mean() < 0.95


def test_endpoints_on_walls_and_corners(box_city: City) -> None:
    a = np.array(
        [[-5, -5, 10], [-5, 0, 1.5], [5, 5, 10], [-5, 0, 1.5], [-5, -5, 19], [5, 5, 30]], float
    )
    b = np.array(
        [[5, 5, 10], [-30, 0, 60], [30, 30, 70], [5, 0, 1.5], [-20, 20, 19], [-5, -5, 30]], float
    )
    # corner-to-corner diagonal below the roof; user against a wall looking away; from a corner
    # away from the building; wall to wall through the building; along the roof-high corner
    # outward; diagonal above the roof.
    assert box_city.line_of_sight(a, b).tolist() == [False, True, True, False, True, True]
    assert box_city.line_of_sight(b, a).tolist() == [False, True, True, False, True, True]


def test_vertex_to_vertex_segments_agree_with_geos(small_city: City) -> None:
    rng = np.random.default_rng(9)
    fps = small_city.buildings.footprints_m
    verts = np.concatenate(fps)
    first = np.cumsum([0] + [len(f) for f in fps])[:-1]
    owner = np.repeat(np.arange(len(fps)), [len(f) for f in fps])
    i, j = rng.integers(0, len(verts), (2, 3000))
    # Drop zero-length segments and segments along one wall (collinear grazing, unspecified).
    local_i, local_j = i - first[owner[i]], j - first[owner[j]]
    n_i = np.array([len(f) for f in fps])[owner[i]]
    adjacent = (owner[i] == owner[j]) & (
        ((local_i - local_j) % n_i == 1) | ((local_j - local_i) % n_i == 1)
    )
    keep = (i != j) & ~adjacent
    a = np.c_[verts[i[keep]], rng.uniform(0, 100, keep.sum())]
    b = np.c_[verts[j[keep]], rng.uniform(0, 100, keep.sum())]
    los = small_city.line_of_sight(a, b)
    assert np.array_equal(los, _blocked_length_reference(a, b, small_city.buildings) == 0)
