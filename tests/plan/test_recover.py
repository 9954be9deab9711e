"""Paper 000 §VII: signal-drop detection against synthetic series with known answers and a
sample-by-sample reference, recovery routes that keep c_b from tall buildings (exact geometry),
the reaction / stationary / return schedule, and the §VII-C example end to end on the analytic
engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from skycell.city.buildings import Buildings, City, bbox_distance_m
from skycell.errors import SkycellError
from skycell.plan.recover import (
    PHASES,
    Drop,
    RecoveryInputError,
    _segment_box_distance,
    detect_drops,
    obstacle_boxes,
    polyline_clearance_m,
    recover_user,
    recovery_route,
    recovery_schedule,
    sample_route,
)

HI = 1e-12  # above T_min = 1e-14 W
LO = 1e-16  # below
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "paper000-recovery.yaml"


def _series(n: int, below: list[tuple[int, int]], peaks: tuple[int, ...] = ()) -> np.ndarray:
    """``n`` samples at HI with the inclusive index ranges ``below`` at LO, then ``peaks`` at HI."""
    p = np.full(n, HI)
    for a, b in below:
        p[a : b + 1] = LO
    p[list(peaks)] = HI
    return p


def _box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _city(boxes: list[tuple[float, float, float, float]], heights: list[float]) -> City:
    return City(
        bounds_m=(-600.0, -600.0, 600.0, 600.0),
        buildings=Buildings(
            footprints_m=tuple(_box(*b) for b in boxes), heights_m=np.array(heights, dtype=float)
        ),
    )


# ------------------------------------------------------------------------------ detection


def _reference(
    p: np.ndarray, t_min: float, c_min: int, s_p: int, mode: str
) -> list[tuple[int, int, int, bool]]:
    """§VII-A read sample by sample, the most literal state machine."""
    drops: list[tuple[int, int, int, bool]] = []
    in_drop = False
    run_start = run_len = t_s = t_e = count = peaks = pending = 0
    for t, x in enumerate(p):
        below = x < t_min
        if not in_drop:
            if below:
                if run_len == 0:
                    run_start = t
                run_len += 1
                if run_len >= c_min:
                    in_drop, t_s, t_e, count, peaks, pending = True, run_start, t, 0, 0, 0
            else:
                run_len = 0
        elif below:
            peaks += pending
            pending = 0
            t_e = t
            if mode == "consecutive":
                count = 0
        else:
            pending += 1
            count += 1
            if count > s_p:
                drops.append((t_s, t_e, peaks, False))
                in_drop = False
                run_len = 0
    if in_drop:
        drops.append((t_s, t_e, peaks, True))
    return drops


def test_single_drop() -> None:
    drops = detect_drops(_series(40, [(10, 19)]))
    assert drops == [Drop(10, 19, peaks=0, open_end=False)]
    d = drops[0]
    assert (d.duration_steps, d.n_samples, d.t_mid) == (9, 10, 14)
    assert not d.open_start
    assert d.to_dict()["t_mid"] == 14


def test_paper_drop_22_44_middle_33() -> None:
    (d,) = detect_drops(_series(61, [(22, 44)]), t_min_w=1e-14, c_min=3, s_p=5)
    assert (d.t_start, d.t_end, d.duration_steps, d.t_mid) == (22, 44, 22, 33)
    assert d.t_mid - d.t_start == 11  # floor(T_d / 2) reaction points


def test_threshold_is_strict() -> None:
    p = np.full(12, 1e-14)
    assert detect_drops(p, t_min_w=1e-14) == []
    p[2:6] = np.nextafter(1e-14, 0.0)
    assert detect_drops(p, t_min_w=1e-14) == [Drop(2, 5)]


def test_spurious_peaks_within_s_p_are_tolerated() -> None:
    # 2 peaks, then 5 in a row (= s_p): one drop, t_e the last below sample.
    p = _series(40, [(10, 30)], peaks=(15, 16, 22, 23, 24, 25, 26))
    assert detect_drops(p, s_p=5) == [Drop(10, 30, peaks=7, open_end=False)]


def test_peaks_beyond_s_p_end_the_drop_at_the_last_below_sample() -> None:
    # 6 peaks in a row (> s_p = 5): two drops; the first ends at 15, before the peaks.
    p = _series(40, [(10, 15), (22, 30)])
    assert detect_drops(p, s_p=5) == [Drop(10, 15), Drop(22, 30)]
    # the same gap one sample shorter is tolerated
    p = _series(40, [(10, 15), (21, 30)])
    assert detect_drops(p, s_p=5) == [Drop(10, 30, peaks=5)]
    # s_p = 0: any peak ends a drop
    p = _series(40, [(10, 15), (17, 30)])
    assert detect_drops(p, s_p=0) == [Drop(10, 15), Drop(17, 30)]


def test_total_peak_counting() -> None:
    # 2 + 5 = 7 peaks in total exceed s_p = 5 at the 4th peak of the second gap: the drop ends at
    # 21, the 4 below samples after the gap (27..30 >= c_min) start a second drop.
    p = _series(40, [(10, 30)], peaks=(15, 16, 22, 23, 24, 25, 26))
    assert detect_drops(p, s_p=5, peak_counting="total") == [
        Drop(10, 21, peaks=2),
        Drop(27, 30),
    ]


def test_drop_at_start_and_at_end() -> None:
    p = _series(40, [(0, 4), (35, 39)])
    first, last = detect_drops(p)
    assert first == Drop(0, 4) and first.open_start
    assert last == Drop(35, 39, open_end=True)
    # still open at the end, with tolerated peaks trailing: t_e is the last below sample
    p = _series(40, [(30, 35)])
    assert detect_drops(p, s_p=5) == [Drop(30, 35, open_end=True)]


def test_two_drops() -> None:
    p = _series(60, [(5, 12), (30, 41)], peaks=(8,))
    assert detect_drops(p) == [Drop(5, 12, peaks=1), Drop(30, 41)]


def test_runs_shorter_than_c_min_do_not_count() -> None:
    assert detect_drops(_series(30, [(10, 11)]), c_min=3) == []
    assert detect_drops(_series(30, [(27, 29)]), c_min=4) == []  # cut off by the end
    # a short run, a peak, then a long run: the drop starts at the long run
    assert detect_drops(_series(30, [(5, 6), (8, 12)]), c_min=3) == [Drop(8, 12)]
    # after confirmation a single below sample extends the drop
    assert detect_drops(_series(30, [(5, 8), (12, 12)]), c_min=3) == [Drop(5, 12, peaks=3)]
    # c_min = 1: every run is a drop
    assert detect_drops(_series(30, [(3, 3), (20, 21)]), c_min=1, s_p=0) == [
        Drop(3, 3),
        Drop(20, 21),
    ]


def test_all_below_and_empty() -> None:
    (d,) = detect_drops(np.full(25, LO))
    assert d == Drop(0, 24, open_end=True) and d.open_start
    assert detect_drops(np.zeros(5)) == [Drop(0, 4, open_end=True)]  # 0 W is below
    assert detect_drops([]) == []
    assert detect_drops(np.full(25, HI)) == []


@pytest.mark.parametrize("mode", ["consecutive", "total"])
def test_matches_sample_by_sample_reference(mode: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(0, 80))
        q = rng.uniform(0.1, 0.9)
        p = np.where(rng.random(n) < q, LO, HI)
        c_min = int(rng.integers(1, 5))
        s_p = int(rng.integers(0, 7))
        got = detect_drops(p, c_min=c_min, s_p=s_p, peak_counting=mode)  # type: ignore[arg-type]
        assert [(d.t_start, d.t_end, d.peaks, d.open_end) for d in got] == _reference(
            p, 1e-14, c_min, s_p, mode
        )


def test_bad_inputs_report_every_problem() -> None:
    with pytest.raises(RecoveryInputError) as err:
        detect_drops([1e-12, -1.0, np.nan], c_min=0, s_p=-1, t_min_w=0.0)
    text = str(err.value)
    for word in ("finite", ">= 0 W", "t_min_w", "c_min", "s_p"):
        assert word in text
    assert len(err.value.problems) == 5
    assert isinstance(err.value, SkycellError) and isinstance(err.value, ValueError)
    with pytest.raises(RecoveryInputError, match="1-D"):
        detect_drops(np.ones((3, 2)))
    with pytest.raises(RecoveryInputError, match="array of numbers"):
        detect_drops(["a", "b"])
    with pytest.raises(RecoveryInputError, match="peak_counting"):
        detect_drops([1.0], peak_counting="some")  # type: ignore[arg-type]
    with pytest.raises(RecoveryInputError, match="c_min"):
        detect_drops([1.0], c_min=2.5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ geometry


def test_segment_box_distance_matches_shapely() -> None:
    rng = np.random.default_rng(1)
    boxes = np.array([[0, 0, 40, 30], [100, -50, 130, 60], [-80, 70, -20, 90.0]])
    a = rng.uniform(-150, 200, (400, 2))
    b = a + rng.normal(0, 40, (400, 2))
    b[:20] = a[:20]  # zero-length segments
    got = _segment_box_distance(a, b, boxes)
    geoms = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    lines[:20] = shapely.points(a[:20])
    want = shapely.distance(lines[:, None], geoms[None, :])
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_polyline_clearance_matches_shapely() -> None:
    rng = np.random.default_rng(2)
    lo = rng.uniform(-2000, 2000, (300, 2))
    boxes = np.column_stack((lo, lo + rng.uniform(5, 60, (300, 2))))
    for scale in (30.0, 600.0):  # near boxes only, and a polyline far from every box
        pts = np.cumsum(rng.normal(0, 15, (600, 2)), axis=0) + rng.uniform(-scale, scale, 2)
        line = shapely.linestrings(pts)
        geoms = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
        want = float(shapely.distance(line, geoms).min())
        assert polyline_clearance_m(pts, boxes) == pytest.approx(want, abs=1e-9)
    assert polyline_clearance_m(pts, np.zeros((0, 4))) == np.inf
    far = boxes[:1] + 1e5
    assert polyline_clearance_m(pts, far) == pytest.approx(
        float(shapely.distance(shapely.linestrings(pts), shapely.box(*far[0]))), abs=1e-6
    )


def test_obstacles_are_buildings_taller_than_the_altitude_minus_margin() -> None:
    city = _city([(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)], [60, 70, 80])
    assert obstacle_boxes(city, altitude_m=70).shape == (1, 4)
    assert obstacle_boxes(city, altitude_m=70, height_margin_m=5).shape == (2, 4)


# ------------------------------------------------------------------------------ route

# Two towers with a 40 m gap; the straight line from (0, 0) to (40, 300) cuts tower A's corner.
# A 40 m building on the way is below the flight altitude and is flown over.
TOWERS = [(-60, 100, 20, 160), (60, 120, 120, 200), (-20, 220, 20, 260)]
TOWER_HEIGHTS = [120.0, 100.0, 40.0]


def _assert_route_safe(city: City, waypoints: np.ndarray, altitude: float, c_b: float) -> None:
    a, b = waypoints[:-1], waypoints[1:]
    clear = city.segment_clearance_m(a, b, min_height_m=altitude)
    assert clear.min() >= c_b - 1e-6, f"route comes {clear.min():.3f} m from a tall building"
    assert city.line_of_sight(a, b).all(), "a route segment enters a building"
    assert not city.inside_building(waypoints).any()
    # exact box geometry too (boxes contain the footprints)
    boxes = obstacle_boxes(city, altitude_m=altitude)
    assert _segment_box_distance(a[:, :2], b[:, :2], boxes).min() >= c_b - 1e-6


def test_route_around_tall_buildings_keeps_c_b() -> None:
    city = _city(TOWERS, TOWER_HEIGHTS)
    start, target = np.array([0.0, 0.0, 70.0]), np.array([40.0, 300.0])
    straight = city.segment_clearance_m(start, [*target, 70.0], min_height_m=70.0)
    assert straight[0] == 0.0  # the straight line hits tower A: the test means something
    r = recovery_route(city, start, target, altitude_m=70.0, clearance_m=15.0)
    assert r.reached and not r.target_adjusted and not r.start_adjusted
    np.testing.assert_array_equal(r.waypoints_m[0], start)
    np.testing.assert_allclose(r.waypoints_m[-1], [*target, 70.0])
    assert np.all(r.waypoints_m[:, 2] == 70.0)
    _assert_route_safe(city, r.waypoints_m, 70.0, 15.0)
    assert r.min_clearance_m >= 15.0 - 1e-6
    assert r.length_m >= np.hypot(*target)
    # every Adam iterate is a waypoint (+ start, + the final straight leg when one was flown)
    assert r.waypoints_m.shape[0] == r.iterations + 1 + (r.final_leg_m > 0)
    assert r.loss_history.shape == (r.iterations + 1,)


def test_route_is_deterministic() -> None:
    city = _city(TOWERS, TOWER_HEIGHTS)
    a = recovery_route(city, [0, 0, 70], [40, 300], altitude_m=70, clearance_m=15)
    b = recovery_route(city, [0, 0, 70], [40, 300], altitude_m=70, clearance_m=15)
    np.testing.assert_array_equal(a.waypoints_m, b.waypoints_m)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)


def test_route_without_obstacles_goes_to_the_target() -> None:
    city = _city([(200, 200, 220, 220)], [30.0])
    r = recovery_route(city, [0, 0, 70], [100, -200], altitude_m=70, clearance_m=15)
    assert r.reached and r.min_clearance_m == np.inf
    np.testing.assert_allclose(r.end_xyz_m, [100, -200, 70])
    assert r.length_m < 1.3 * np.hypot(100, 200)
    # already there: a one-point route
    r0 = recovery_route(city, [5, 5, 70], [5, 5.5], altitude_m=70, clearance_m=15)
    assert r0.reached and r0.iterations == 0 and r0.stop_reason == "reached"


def test_learning_rate_schedule_stops_the_descent() -> None:
    city = _city([(200, 200, 220, 220)], [30.0])
    r = recovery_route(city, [0, 0, 70], [300, 0], altitude_m=70, clearance_m=15, tolerance_m=1e-9)
    # Adam at l_r = 6 passes the target; the plateau rule (best loss, patience 3) decays the
    # rate before the momentum turns, so the optimiser stops short and the last, clear leg is
    # flown straight
    assert r.stop_reason == "learning_rate" and r.iterations < 2000
    assert r.reached and 0.0 < r.final_leg_m < 30.0
    np.testing.assert_allclose(r.end_xyz_m, [300, 0, 70])


def test_target_inside_or_near_a_tall_building_is_adjusted() -> None:
    city = _city([(-40, 200, 40, 260)], [120.0])
    # inside, 10 m from the south face: the closest admissible point is c_b + 0.5 m south of it
    r = recovery_route(city, [0, 0, 70], [0, 210], altitude_m=70, clearance_m=15)
    assert r.target_adjusted and r.reached
    np.testing.assert_allclose(r.goal_xy_m, [0, 200 - 15.5], atol=1e-3)
    assert any("closest admissible" in n for n in r.notes)
    _assert_route_safe(city, r.waypoints_m, 70.0, 15.0)
    # outside but 5 m from the face: moved out to c_b + 0.5 m
    r = recovery_route(city, [0, 0, 70], [0, 195], altitude_m=70, clearance_m=15)
    assert r.target_adjusted
    assert bbox_distance_m(r.goal_xy_m[None], city.buildings.bbox_m).min() == pytest.approx(
        15.5, abs=1e-3
    )
    # a lower building does not count
    low = _city([(-40, 200, 40, 260)], [50.0])
    r = recovery_route(low, [0, 0, 70], [0, 210], altitude_m=70, clearance_m=15)
    assert not r.target_adjusted and r.reached


def test_stall_behind_a_wide_building_is_reported_and_safe() -> None:
    # the target dead behind a wide tower: a local minimum of eq. 22 on the tower's face
    city = _city([(-100, 100, 100, 160)], [150.0])
    r = recovery_route(city, [0, 0, 70], [0, 300], altitude_m=70, clearance_m=15)
    assert not r.reached and r.stop_reason == "learning_rate"
    assert any("stalled" in n for n in r.notes)
    _assert_route_safe(city, r.waypoints_m, 70.0, 15.0)


def test_start_too_close_is_moved_out_first() -> None:
    city = _city([(-40, 20, 40, 80)], [120.0])
    r = recovery_route(city, [0, 10, 70], [0, -200], altitude_m=70, clearance_m=15)
    assert r.start_adjusted and r.reached
    np.testing.assert_allclose(r.waypoints_m[1, :2], [0, 20 - 15.5], atol=1e-3)
    _assert_route_safe(city, r.waypoints_m[1:], 70.0, 15.0)


def test_route_bad_inputs() -> None:
    city = _city(TOWERS, TOWER_HEIGHTS)
    with pytest.raises(RecoveryInputError) as err:
        recovery_route(
            city,
            [0, 0, 50],
            [np.nan, 1],
            altitude_m=70,
            clearance_m=-1,
            learning_rate=0,
            lr_factor=1.5,
            patience=0,
        )
    text = str(err.value)
    for word in ("target_xy_m", "clearance_m", "learning_rate", "lr_factor", "patience", "z"):
        assert word in text


# ------------------------------------------------------------------------------ schedule


def _walk(n: int = 30, y: float = 100.0) -> np.ndarray:
    return np.column_stack((np.arange(n, dtype=float), np.full(n, y), np.full(n, 1.5)))


def test_schedule_phases() -> None:
    station = np.array([0.0, 0.0, 70.0])
    user = _walk(30)
    drop = Drop(10, 20)  # T_d = 10: 5 reaction steps 10..14, stationary 15..20, return 21..25
    route = np.array([[0, 0, 70], [5, 40, 70], [15, 100, 70.0]])
    track = recovery_schedule(station, user, drop, route, altitude_m=70.0)
    assert track.shape == (30, 3)
    np.testing.assert_array_equal(track[:10], np.tile(station, (10, 1)))
    reaction = track[10:15]
    np.testing.assert_allclose(reaction, sample_route(route, 5))
    np.testing.assert_allclose(reaction[-1], route[-1])
    # equally spaced in arc length along the route
    cum = np.concatenate(([0], np.cumsum(np.linalg.norm(np.diff(route, axis=0), axis=1))))
    arc: list[float] = []
    for q in reaction:
        for k in range(len(route) - 1):
            seg = route[k + 1] - route[k]
            t = np.dot(q - route[k], seg) / np.dot(seg, seg)
            if 0 <= t <= 1 and np.allclose(route[k] + t * seg, q):
                arc.append(cum[k] + t * np.linalg.norm(seg))
                break
    np.testing.assert_allclose(np.diff([0.0, *arc]), cum[-1] / 5)
    # stationary: over the user at the flight altitude
    np.testing.assert_allclose(track[15:21, :2], user[15:21, :2])
    assert np.all(track[15:21, 2] == 70.0)
    # return: the reaction points reversed, then home
    np.testing.assert_allclose(track[21:26], reaction[::-1])
    np.testing.assert_array_equal(track[26:], np.tile(station, (4, 1)))


def test_schedule_accepts_a_recovery_route_and_is_deterministic() -> None:
    city = _city(TOWERS, TOWER_HEIGHTS)
    user = np.column_stack((np.linspace(-20, 100, 40), np.full(40, 300.0), np.full(40, 1.5)))
    drop = Drop(10, 30)
    route = recovery_route(city, [0, 0, 70], user[drop.t_mid, :2], altitude_m=70, clearance_m=15)
    kw = {"altitude_m": 70.0, "city": city, "clearance_m": 15.0}
    a = recovery_schedule([0, 0, 70], user, drop, route, **kw)  # type: ignore[arg-type]
    b = recovery_schedule([0, 0, 70], user, [drop], [route.waypoints_m], **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a, b)


def test_schedule_drop_at_start_and_return_past_the_end() -> None:
    station = np.array([0.0, 0.0, 70.0])
    user = _walk(23)
    # drop at the start: the reaction begins at step 0 (routes end over the user at t_m)
    route = np.array([[0, 0, 70], [5, 100, 70.0]])
    track = recovery_schedule(station, user, Drop(0, 10), route, altitude_m=70)
    np.testing.assert_allclose(track[0], sample_route(route, 5)[0])
    np.testing.assert_allclose(track[5:11, :2], user[5:11, :2])
    np.testing.assert_allclose(track[11:16], sample_route(route, 5)[::-1])
    np.testing.assert_array_equal(track[16:], np.tile(station, (7, 1)))
    # return running past the end: truncated
    route = np.array([[0, 0, 70], [15, 100, 70.0]])
    track = recovery_schedule(station, user, Drop(10, 20, open_end=False), route, altitude_m=70)
    np.testing.assert_allclose(track[21:23], sample_route(route, 5)[::-1][:2])
    # drop open at the end: no return at all
    route = np.array([[0, 0, 70], [17, 100, 70.0]])
    track = recovery_schedule(station, user, Drop(12, 22, open_end=True), route, altitude_m=70)
    np.testing.assert_allclose(track[17:23, :2], user[17:23, :2])


def test_schedule_short_drop_is_unchanged() -> None:
    station = np.array([0.0, 0.0, 70.0])
    track = recovery_schedule(
        station, _walk(10), Drop(4, 5), np.array([[9, 9, 70.0]]), altitude_m=70
    )
    np.testing.assert_array_equal(track, np.tile(station, (10, 1)))


def test_schedule_two_drops_and_interrupted_return() -> None:
    station = np.array([0.0, 0.0, 70.0])
    user = _walk(60)
    r1 = np.array([[0, 0, 70], [10, 100, 70.0]])
    d1 = Drop(5, 15)  # return 16..20, home from 21
    # far apart: two independent excursions
    d2 = Drop(30, 40)
    r2 = np.array([[0, 0, 70], [35, 100, 70.0]])
    track = recovery_schedule(station, user, [d1, d2], [r1, r2], altitude_m=70)
    np.testing.assert_array_equal(track[21:30], np.tile(station, (9, 1)))
    np.testing.assert_allclose(track[35:41, :2], user[35:41, :2])
    np.testing.assert_allclose(track[41:46], sample_route(r2, 5)[::-1])
    np.testing.assert_array_equal(track[46:], np.tile(station, (14, 1)))
    # the second drop starts during the first return (step 18): its route starts where the
    # station is at step 17, and the first return resumes after the second one
    first = recovery_schedule(station, user, d1, r1, altitude_m=70)
    d2 = Drop(18, 28)
    r2 = np.array([first[17], [23, 100, 70.0]])
    track = recovery_schedule(station, user, [d1, d2], [r1, r2], altitude_m=70)
    np.testing.assert_allclose(track[:18], first[:18])
    np.testing.assert_allclose(track[18:23], sample_route(r2, 5))
    np.testing.assert_allclose(track[23:29, :2], user[23:29, :2])
    np.testing.assert_allclose(track[29:34], sample_route(r2, 5)[::-1])
    np.testing.assert_allclose(track[34:38], first[17:21])  # back at r2's start, then resume
    np.testing.assert_array_equal(track[38:], np.tile(station, (22, 1)))
    # a route that does not start where the station is
    with pytest.raises(RecoveryInputError, match="compute the route from there"):
        recovery_schedule(station, user, [d1, d2], [r1, r1], altitude_m=70)


def test_hover_over_a_user_under_a_tall_building_keeps_clearance() -> None:
    # the user walks along y = 100 through an arcade under a 120 m tower (x 20..60, y 90..130)
    city = _city([(20, 90, 60, 130), (-200, -200, -180, -180)], [120.0, 30.0])
    user = np.column_stack((np.linspace(0, 90, 31), np.full(31, 100.0), np.full(31, 1.5)))
    drop = Drop(4, 28)  # t_m = 16: the user is under the tower at x = 48
    route = recovery_route(city, [0, -100, 70], user[drop.t_mid, :2], altitude_m=70, clearance_m=15)
    assert route.target_adjusted and route.reached
    track = recovery_schedule(
        [0, -100, 70], user, drop, route, altitude_m=70, city=city, clearance_m=15
    )
    hover = track[drop.t_mid : drop.t_end + 1]
    boxes = obstacle_boxes(city, altitude_m=70)
    assert bbox_distance_m(hover[:, :2], boxes).min() >= 15.0 - 1e-6
    assert not city.inside_building(track).any()
    clear = city.segment_clearance_m(hover[:-1], hover[1:], min_height_m=70)
    assert clear.min() >= 15.0 - 1e-6
    # where the user is clear of the tower the station is right above it
    free = bbox_distance_m(user[drop.t_mid : drop.t_end + 1, :2], boxes).min(axis=1) >= 15.5
    last = np.flatnonzero(free)[-1]
    np.testing.assert_allclose(hover[last, :2], user[drop.t_mid + last, :2])
    # the move back to the route's end is safe, or the stationary positions are retraced
    ret = track[drop.t_end : drop.t_end + 3]
    assert city.segment_clearance_m(ret[:-1], ret[1:], min_height_m=70).min() >= 15.0 - 1e-6


def test_stalled_route_holds_at_its_end() -> None:
    city = _city([(-100, 100, 100, 160)], [150.0])
    user = np.column_stack((np.linspace(-30, 30, 31), np.full(31, 300.0), np.full(31, 1.5)))
    drop = Drop(5, 25)
    route = recovery_route(city, [0, 0, 70], user[drop.t_mid, :2], altitude_m=70, clearance_m=15)
    assert not route.reached
    track = recovery_schedule(
        [0, 0, 70], user, drop, route, altitude_m=70, city=city, clearance_m=15
    )
    hover = track[drop.t_mid : drop.t_end + 1]
    np.testing.assert_allclose(hover, np.tile(route.end_xyz_m, (hover.shape[0], 1)))


def test_schedule_bad_inputs() -> None:
    with pytest.raises(RecoveryInputError) as err:
        recovery_schedule(
            [0, 0], np.ones((5, 4)), [Drop(3, 9)], [np.ones((2, 3)), np.ones(3)], altitude_m=-1
        )
    text = str(err.value)
    for word in ("station_xyz_m", "user_track_m", "altitude_m", "route(s)"):
        assert word in text
    with pytest.raises(RecoveryInputError, match="within the 10 steps"):
        recovery_schedule([0, 0, 70], _walk(10), Drop(3, 12), np.zeros((1, 3)), altitude_m=70)


# ------------------------------------------------------------------------------ recover_user


def test_recover_user_synthetic() -> None:
    city = _city(TOWERS, TOWER_HEIGHTS)
    user = np.column_stack((np.linspace(-60, 120, 50), np.full(50, 300.0), np.full(50, 1.5)))
    power = _series(50, [(12, 34)], peaks=(20,))
    rec = recover_user(power, user, [0, 0, 70], city, altitude_m=70, clearance_m=15)
    assert rec.drops == (Drop(12, 34, peaks=1),)
    (route,) = rec.routes
    np.testing.assert_allclose(route.target_xy_m, user[23, :2])
    _assert_route_safe(city, route.waypoints_m, 70.0, 15.0)
    want = recovery_schedule(
        [0, 0, 70], user, rec.drops[0], route, altitude_m=70, city=city, clearance_m=15
    )
    np.testing.assert_array_equal(rec.station_track_m, want)
    names = [PHASES[c] for c in rec.phase]
    assert names[:12] == ["deployed"] * 12
    assert names[12:23] == ["reaction"] * 11
    assert names[23:35] == ["stationary"] * 12
    assert names[35:46] == ["return"] * 11
    assert names[46:] == ["deployed"] * 4
    again = recover_user(power, user, [0, 0, 70], city, altitude_m=70, clearance_m=15)
    np.testing.assert_array_equal(again.station_track_m, rec.station_track_m)
    assert rec.to_dict()["drops"][0]["t_mid"] == 23
    with pytest.raises(RecoveryInputError, match="one position per power sample"):
        recover_user(power[:-1], user, [0, 0, 70], city, altitude_m=70, clearance_m=15)


def test_recover_user_overlapping_return() -> None:
    city = _city([(300, 300, 320, 320)], [30.0])
    user = np.column_stack((np.linspace(-60, 60, 60), np.full(60, 200.0), np.full(60, 1.5)))
    # drop 1 [5, 21]: return 22..29; drop 2 starts at 28, after 6 peaks (> s_p = 5)
    power = _series(60, [(5, 21), (28, 45)])
    rec = recover_user(power, user, [0, 0, 70], city, altitude_m=70, clearance_m=15)
    assert rec.drops == (Drop(5, 21), Drop(28, 45))
    # the second route starts where the first return had taken the station
    np.testing.assert_allclose(rec.routes[1].waypoints_m[0], rec.station_track_m[27])
    assert PHASES[rec.phase[27]] == "return"
    assert PHASES[rec.phase[28]] == "reaction"
    # drop 2 returns at 46..53, is back at its route's start at 54, then drop 1's interrupted
    # return resumes (55, 56) and the station is home from 57
    track = rec.station_track_m
    np.testing.assert_allclose(track[54], rec.routes[1].waypoints_m[0])
    assert [PHASES[c] for c in rec.phase[54:57]] == ["return"] * 3
    np.testing.assert_array_equal(track[57:], np.tile([0, 0, 70.0], (3, 1)))


# ------------------------------------------------------------------------------ §VII-C example


def test_paper000_recovery_example_on_the_analytic_engine() -> None:
    from skycell.plan.pipeline import make_engine, plan_scenario
    from skycell.scenario import load_scenario

    scenario = load_scenario(EXAMPLE)
    outcome = plan_scenario(scenario, seed=0)
    city = outcome.city
    (station,) = outcome.deployment.stations
    (walker,) = [u for u in scenario.users if u.trajectory_m]
    user = np.array(walker.trajectory_m, dtype=np.float64)
    assert user.shape == (61, 3) and walker.trajectory_dt_s == 1.0
    xyz = np.array(station.position_m)
    assert 300.0 <= np.hypot(*(user[30, :2] - xyz[:2])) <= 360.0  # ~320 m away
    engine = make_engine(scenario, city)

    def power_w(track: np.ndarray) -> np.ndarray:
        dbm = engine.received_power_dbm(
            track,
            user,
            tx_power_dbm=station.tx_power_dbm,
            azimuth_deg=station.azimuth_deg,
            tilt_deg=station.tilt_deg,
        )
        return np.asarray(10.0 ** ((np.diagonal(dbm) - 30.0) / 10.0))

    before = power_w(np.tile(xyz, (61, 1)))
    altitude = scenario.fleet.altitude_m
    c_b = scenario.fleet.building_clearance_m
    rec = recover_user(before, user, xyz, city, altitude_m=altitude, clearance_m=c_b)

    # (i) one drop, in the middle (the paper's t_s = 22, t_e = 44)
    (drop,) = rec.drops
    assert abs(drop.t_start - 22) <= 2 and abs(drop.t_end - 44) <= 2
    assert not drop.open_start and not drop.open_end
    assert before[: drop.t_start].min() > 1e-14 and before[drop.t_end + 1 :].min() > 1e-14

    # (ii) the power during the drop rises by >= 100x
    after = power_w(rec.station_track_m)
    gain = after / before
    steps = np.arange(drop.t_start, drop.t_end + 1)
    assert np.median(gain[steps]) >= 100.0
    stationary = np.arange(drop.t_mid, drop.t_end + 1)
    assert np.all([PHASES[c] == "stationary" for c in rec.phase[stationary]])
    assert gain[stationary].min() >= 100.0
    assert after[stationary].min() > 1e-14
    np.testing.assert_array_equal(after[: drop.t_start], before[: drop.t_start])

    # (iii) the route keeps c_b from every building taller than the altitude, enters none
    (route,) = rec.routes
    assert route.reached
    _assert_route_safe(city, route.waypoints_m, altitude, c_b)
    assert route.min_clearance_m >= c_b - 1e-6
    # the whole track (reaction, hover, return) stays clear too
    track = rec.station_track_m
    assert not city.inside_building(track).any()
    tall = obstacle_boxes(city, altitude_m=altitude)
    assert tall.shape[0] >= 1
    assert bbox_distance_m(track[:, :2], tall).min() >= c_b - 1e-6
