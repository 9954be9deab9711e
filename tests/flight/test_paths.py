"""Flyable paths and references: clearance from the buildings with the controller's tube,
moved hover points, the references' bounds and the departure delays."""

from __future__ import annotations

import numpy as np
import pytest

from skycell.city.buildings import Buildings, City
from skycell.errors import SkycellError
from skycell.flight.paths import (
    ObstacleMap,
    RouteReference,
    plan_path,
    schedule_departures,
    segment_clearance_3d_m,
)


@pytest.fixture(scope="module")
def town() -> City:
    """A 100 m tower between start and goal, a low block that the drone flies over."""
    tower = np.array([[-50.0, -50.0], [50.0, -50.0], [50.0, 50.0], [-50.0, 50.0]])
    low = np.array([[-250.0, 100.0], [-150.0, 100.0], [-150.0, 160.0], [-250.0, 160.0]])
    return City(
        bounds_m=(-400.0, -400.0, 400.0, 400.0),
        buildings=Buildings(footprints_m=(tower, low), heights_m=np.array([100.0, 30.0])),
    )


def test_path_around_a_tower_keeps_the_required_clearance(town: City) -> None:
    obs = ObstacleMap(town, 70.0, 15.0, 0.85, 0.5)
    assert obs.min_height_m == pytest.approx(54.5)
    path = plan_path(obs, np.array([-300.0, 0.0]), np.array([300.0, 0.0]))
    assert path.repaired
    legs = path.waypoints_m
    np.testing.assert_allclose(legs[0, :2], [-300, 0])
    np.testing.assert_allclose(legs[-1, :2], [300, 0])
    clr = obs.segment_clearance(legs[:-1], legs[1:])
    assert clr.min() >= obs.required_m - 1e-6
    assert path.min_clearance_m == pytest.approx(clr.min())
    # close to the shortest way around the inflated tower, not a wide detour
    assert path.length_m < 600.0 + 2 * (65.85 * np.sqrt(2) - 65.85) + 40.0
    # the low block (30 m) is not an obstacle at 70 m
    assert obs.clearance(np.array([[-200.0, 130.0]]))[0] > 60.0


def test_a_hover_point_too_close_is_moved_out_just_enough(town: City) -> None:
    obs = ObstacleMap(town, 70.0, 15.0, 0.85, 0.5)
    goal = np.array([60.0, 0.0])  # 10 m from the tower's wall
    path = plan_path(obs, np.array([300.0, 0.0]), goal)
    end = path.waypoints_m[-1, :2]
    assert obs.clearance(end[None])[0] >= obs.required_m - 1e-9
    assert path.goal_shift_m == pytest.approx(obs.required_m - 10.0, abs=0.5)
    assert any("moved" in n for n in path.notes)
    with pytest.raises(SkycellError, match="only"):
        plan_path(obs, np.array([55.0, 0.0]), np.array([300.0, 0.0]))


def test_reference_stays_on_the_legs_within_its_bounds() -> None:
    w = np.array([[0.0, 0.0, 70.0], [200.0, 0.0, 70.0], [200.0, 150.0, 70.0], [205.0, 152.0, 70.0]])
    ref = RouteReference.from_waypoints(w, speed_m_s=10.0, accel_m_s2=1.0, delay_s=3.0)
    t = np.arange(0.0, ref.end_time_s + 5.0, 0.01)
    p, v, a = ref.sample(t)
    np.testing.assert_allclose(p[t < 3.0], w[0][None].repeat((t < 3.0).sum(), 0))
    np.testing.assert_allclose(p[-1], w[-1])
    assert np.abs(a).max() <= 1.0 + 1e-9 and np.linalg.norm(v, axis=1).max() <= 10.0 + 1e-9
    # jerk bounded by 2 A / smoothing (exact box filter of a bang-coast-bang acceleration)
    jerk = np.abs(np.diff(a, axis=0)) / 0.01
    assert jerk.max() <= 2.0 * 1.0 / 0.5 + 1e-6
    # velocity is the derivative of position, and every point lies on a leg
    np.testing.assert_allclose(np.diff(p, axis=0) / 0.01, 0.5 * (v[1:] + v[:-1]), atol=0.02)
    seg_d = []
    for k in range(3):
        a0, b0 = w[k, :2], w[k + 1, :2]
        d = b0 - a0
        s = np.clip(((p[:, :2] - a0) @ d) / (d @ d), 0, 1)
        seg_d.append(np.linalg.norm(p[:, :2] - (a0 + s[:, None] * d), axis=1))
    assert np.min(seg_d, axis=0).max() < 1e-9
    # the leg profile's duration: trapezoid L / V + V / A per leg, plus the dwells
    legs = np.linalg.norm(np.diff(w, axis=0), axis=1)
    v_peak = np.minimum(10.0, np.sqrt(legs * 1.0))
    expected = np.sum(legs / v_peak + v_peak / 1.0) + 0.5 * 3
    assert ref.flight_time_s == pytest.approx(expected)


def test_departures_are_delayed_until_crossing_routes_keep_apart() -> None:
    a = RouteReference.from_waypoints(
        np.array([[-200.0, 0.0, 70.0], [200.0, 0.0, 70.0]]), speed_m_s=10.0, accel_m_s2=1.0
    )
    b = RouteReference.from_waypoints(
        np.array([[0.0, -200.0, 70.0], [0.0, 200.0, 70.0]]), speed_m_s=10.0, accel_m_s2=1.0
    )
    t = np.arange(0, 200, 0.1)
    gap = np.linalg.norm(a.sample(t)[0] - b.sample(t)[0], axis=1).min()
    assert gap < 5.0  # they would meet in the middle
    (ra, rb), notes = schedule_departures([a, b], separation_m=30.0)
    assert ra.delay_s == 0.0 and rb.delay_s > 0.0 and not notes
    gap = np.linalg.norm(ra.sample(t)[0] - rb.sample(t)[0], axis=1).min()
    assert gap >= 30.0


def test_3d_clearance_is_a_lower_bound_of_the_sampled_distance(town: City) -> None:
    rng = np.random.default_rng(4)
    a = np.column_stack(
        [rng.uniform(-120, 120, 40), rng.uniform(-120, 120, 40), rng.uniform(20, 120, 40)]
    )
    b = a + rng.normal(0, 10, a.shape)
    lower = segment_clearance_3d_m(town, a, b, search_m=200.0)
    import shapely

    tower = town.buildings.polygons[0]
    for k in range(a.shape[0]):
        s = np.linspace(0, 1, 200)
        pts = a[k] + s[:, None] * (b[k] - a[k])
        dh = shapely.distance(shapely.points(pts[:, :2]), tower)
        dz = np.maximum(pts[:, 2] - 100.0, 0.0)
        sampled = np.hypot(dh, dz).min()
        assert lower[k] <= sampled + 1e-6
        assert lower[k] >= sampled - np.linalg.norm(b[k] - a[k]) - 1e-6 or lower[k] >= 0
