"""Generated intersections of paper 001: buildings only on the corners, users on the lanes (lane
sampling and SUMO), the bundled example scenarios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from skycell.city.intersection import (
    PRESETS,
    IntersectionSpec,
    generate_intersection,
    intersection_scenario,
    intersection_users,
    lane_users,
)
from skycell.errors import SkycellError
from skycell.scenario import load_scenario, scenario_from_dict
from skycell.twin.mobility import sumo_available

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["intersection-150m", "intersection-300m-wide", "tiny"])
def test_buildings_stand_on_the_corners_only(name: str) -> None:
    spec = PRESETS[name]
    b = generate_intersection(spec)
    assert len(b) == 4 * spec.lots**2
    clear = 0.5 * spec.road_width_m + 3.0  # carriageway + pavement
    half = 0.5 * spec.size_m
    for fp in b.footprints_m:
        assert np.all(np.abs(fp) >= clear - 1e-9)  # off both roads and their pavements
        assert np.all(np.abs(fp) <= half)  # inside the map
    polys = shapely.polygons(list(b.footprints_m))
    assert not any(
        polys[i].intersects(polys[j]) for i in range(len(b)) for j in range(i + 1, len(b))
    )
    assert np.all((b.heights_m >= spec.min_height_m) & (b.heights_m <= spec.max_height_m))
    assert set(b.materials) <= {"concrete", "glass"}  # ITU-R P.2040 defines both at 28 GHz
    again = generate_intersection(spec)
    assert all(
        np.array_equal(a, c) for a, c in zip(b.footprints_m, again.footprints_m, strict=True)
    )


def test_lane_users_sit_on_lane_centre_lines() -> None:
    spec = PRESETS["intersection-150m"]
    u = lane_users(spec, 200, seed=4)
    offsets = spec.lane_offsets_m()
    np.testing.assert_allclose(offsets, [-4.8, -1.6, 1.6, 4.8])  # two lanes each way, 3.2 m
    on_ns = np.isclose(u[:, 0][:, None], offsets[None]).any(axis=1)
    on_ew = np.isclose(u[:, 1][:, None], offsets[None]).any(axis=1)
    assert np.all(on_ns | on_ew)
    assert np.all(np.abs(u[:, :2]) <= 75.0) and np.all(u[:, 2] == 1.5)
    assert on_ns.sum() > 60 and on_ew.sum() > 60  # both roads get vehicles
    np.testing.assert_array_equal(u, lane_users(spec, 200, seed=4))
    xyz, source = intersection_users(spec, 10, source="lanes")
    assert source == "lanes" and xyz.shape == (10, 3)


_SUMO, _SUMO_WHY = sumo_available()


@pytest.mark.skipif(not _SUMO, reason=f"SUMO unavailable: {_SUMO_WHY}")
def test_sumo_vehicles_drive_on_the_crossing_roads() -> None:
    spec = PRESETS["intersection-150m"]
    xyz, source = intersection_users(spec, 57, source="sumo", seed=0)
    assert source == "sumo" and xyz.shape == (57, 3)
    half_road = 0.5 * spec.road_width_m
    assert np.all(np.abs(xyz[:, :2]) <= 75.0)
    assert np.all((np.abs(xyz[:, 0]) <= half_road) | (np.abs(xyz[:, 1]) <= half_road))
    again, _ = intersection_users(spec, 57, source="sumo", seed=0)
    np.testing.assert_array_equal(xyz, again)
    other, _ = intersection_users(spec, 57, source="sumo", seed=1)
    assert not np.array_equal(xyz, other)


def test_bad_specs_are_reported_at_once() -> None:
    with pytest.raises(SkycellError) as err:
        generate_intersection(IntersectionSpec(size_m=40.0, road_width_m=30.0, lots=0))
    text = str(err.value)
    assert "road_width_m" in text and "lots" in text
    with pytest.raises(SkycellError, match="source"):
        intersection_users(PRESETS["tiny"], 3, source="bus")  # type: ignore[arg-type]


def test_scenario_mapping_is_a_valid_paper001_scenario() -> None:
    data, used = intersection_scenario(PRESETS["tiny"], name="t", users=5, source="lanes")
    sc = scenario_from_dict(data, source="t")
    assert used == "lanes" and len(sc.users) == 5
    assert sc.radio.frequency_hz == 28e9 and sc.placement.method == "gradient-sumrate"
    assert sc.sumrate.array_rows * sc.sumrate.array_cols == 16


@pytest.mark.parametrize(
    ("stem", "size", "users"),
    [
        ("paper001-intersection-150m", 150.0, 57),
        ("paper001-intersection-300m-wide", 300.0, 57),
        ("paper001-intersection-300m-dense", 300.0, 57),
        ("paper001-tiny", 60.0, 8),
    ],
)
def test_bundled_examples(stem: str, size: float, users: int) -> None:
    sc = load_scenario(EXAMPLES / f"{stem}.yaml")
    assert sc.area.width_m == size and len(sc.users) == users
    assert sc.radio.frequency_hz == 28e9 and sc.engine.kind == "analytic"
    sc.build_city()
    if stem != "paper001-tiny":
        rt = load_scenario(EXAMPLES / f"{stem}-sionna.yaml")
        assert rt.engine.kind == "sionna" and rt.users == sc.users
