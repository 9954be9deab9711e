"""Paper 003 coverage spheres: radius against the closed form and the model, the intersection
test against brute force, the 160 MHz reading, infeasible demands."""

from __future__ import annotations

import numpy as np
import pytest

from skycell.errors import InfeasibleError
from skycell.plan.spheres import (
    coverage_spheres,
    inside_all_spheres,
    inside_spheres,
    intersection_bbox_m,
    sphere_radius_m,
)
from skycell.radio.pathloss import free_space_path_loss_db, itu_r_p1411_los_path_loss_db

F_HZ = 5.25e9
PAPER003 = {
    "standard": "wifi-80211ac",
    "tx_power_dbm": 20.0,
    "noise_floor_dbm": -85.0,
    "frequency_hz": F_HZ,
    "channel_width_mhz": 160,
}
DEMANDS = np.array([58.5e6, 117e6, 175.5e6, 234e6])  # paper 003: MCS 0-3 on 160 MHz


def test_paper003_demands_are_mcs_0_to_3_on_160_mhz() -> None:
    s = coverage_spheres(np.zeros((4, 3)), DEMANDS, **PAPER003)  # type: ignore[arg-type]
    assert s.mcs.tolist() == [0, 1, 2, 3]
    # sensitivity -82, -79, -77, -74 dBm + 9 dB for 160 MHz; budget 20 dBm - sensitivity
    assert np.allclose(s.max_path_loss_db, [93.0, 90.0, 88.0, 85.0])
    assert np.allclose(free_space_path_loss_db(s.radii_m, F_HZ), s.max_path_loss_db, atol=1e-9)
    assert 200 < s.radii_m[0] < 206 and 79 < s.radii_m[3] < 82


def test_20_mhz_reading_cannot_carry_the_demands() -> None:
    kw = {**PAPER003, "channel_width_mhz": 20}
    with pytest.raises(InfeasibleError) as err:
        coverage_spheres(np.zeros((4, 3)), DEMANDS, ids=("a", "b", "c", "d"), **kw)  # type: ignore[arg-type]
    assert set(err.value.reasons) == {"b", "c", "d"}
    assert "78 Mbit/s" in err.value.reasons["b"]


def test_p1411_radius_meets_the_budget_at_every_height() -> None:
    heights = np.array([25.0, 50.0, 100.0])
    r = sphere_radius_m(
        [93.0, 85.0], model="itu_r_p1411_los", frequency_hz=F_HZ, uav_height_m=heights
    )
    assert r.shape == (2, 3)
    loss = itu_r_p1411_los_path_loss_db(
        r, F_HZ, station_height_m=heights[None, :], user_height_m=1.5
    )
    assert np.allclose(loss, [[93.0] * 3, [85.0] * 3], atol=1e-6)
    # within 2 dB of free space over these distances: radii within ~25 %
    fs = sphere_radius_m([93.0, 85.0], frequency_hz=F_HZ)
    assert np.all(np.abs(r / fs[:, None] - 1) < 0.3)


def test_model_errors() -> None:
    with pytest.raises(ValueError, match="unknown sphere model"):
        sphere_radius_m([90.0], model="nope", frequency_hz=F_HZ)
    with pytest.raises(ValueError, match="uav_height_m"):
        sphere_radius_m([90.0], model="itu_r_p1411_los", frequency_hz=F_HZ)


def test_inside_all_spheres_against_brute_force() -> None:
    rng = np.random.default_rng(0)
    centres = np.column_stack((rng.uniform(-50, 50, (5, 2)), np.full(5, 1.5)))
    radii = rng.uniform(60, 120, 5)
    pts = np.column_stack((rng.uniform(-50, 50, (4000, 2)), rng.uniform(25, 100, 4000)))
    got = inside_all_spheres(pts, centres, radii)
    want = np.array(
        [all(np.linalg.norm(p - c) <= r for c, r in zip(centres, radii, strict=True)) for p in pts]
    )
    assert np.array_equal(got, want) and 0 < got.sum() < got.size
    box = intersection_bbox_m(centres, radii)
    assert box is not None
    inside = pts[got]
    assert np.all(inside >= box[0] - 1e-9) and np.all(inside <= box[1] + 1e-9)


def test_height_dependent_radii_interpolate() -> None:
    centres = np.array([[0.0, 0.0, 0.0]])
    radii = np.array([[10.0, 20.0]])
    heights = np.array([0.0, 10.0])
    pts = np.array([[0.0, 0.0, 5.0], [14.5, 0.0, 5.0], [0.0, 0.0, 16.0], [0.0, 0.0, 21.0]])
    got = inside_spheres(pts, centres, radii, heights_m=heights)[0]
    # radius 15 at z = 5, 20 above z = 10
    assert got.tolist() == [True, False, True, False]


def test_disjoint_spheres_have_no_box() -> None:
    centres = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    assert intersection_bbox_m(centres, np.array([10.0, 10.0])) is None
