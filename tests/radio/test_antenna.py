"""Antenna patterns and orientation against closed-form values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skycell.radio import antenna as ant
from skycell.radio.names import ANTENNA_PATTERNS


def _unit(az_deg: float, el_deg: float) -> np.ndarray:
    """Unit vector at azimuth ``az`` (ccw from +x) and elevation ``el`` above the horizon."""
    a, e = math.radians(az_deg), math.radians(el_deg)
    return np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])


def test_isotropic_is_zero_everywhere() -> None:
    d = np.random.default_rng(0).normal(size=(7, 5, 3))
    g = ant.antenna_gain_dbi("isotropic", d, azimuth_deg=33.0, tilt_deg=12.0)
    assert g.shape == (7, 5)
    assert np.all(g == 0.0)


def test_dipole_broadside_and_null() -> None:
    # vertical dipole (tilt 0): 2.15 dBi in every horizontal direction
    horizontal = np.stack([_unit(az, 0.0) for az in (0.0, 45.0, 170.0, -90.0)])
    np.testing.assert_allclose(ant.antenna_gain_dbi("dipole", horizontal), 2.15, atol=1e-9)
    # null along the axis (straight up and down)
    axis = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    assert np.all(ant.antenna_gain_dbi("dipole", axis) <= ant.GAIN_FLOOR_DBI)
    # closed form at 60 deg zenith: 2.15 + 20 log10(cos(pi/2 * 0.5) / sin 60) = 2.15 - 1.7611
    g60 = ant.dipole_gain_dbi(60.0, 0.0)
    ref = 2.15 + 20 * math.log10(math.cos(math.pi / 4) / math.sin(math.radians(60)))
    assert g60 == pytest.approx(ref, abs=1e-12)
    assert g60 == pytest.approx(0.3889, abs=1e-3)


def test_dipole_normalisation_is_half_wave_directivity() -> None:
    # integrate the linear pattern over the sphere: mean gain must be 1 (0 dBi) within 0.1 %
    theta = np.linspace(0.0, np.pi, 20001)
    g_lin = 10 ** (ant.dipole_gain_dbi(np.degrees(theta), 0.0) / 10)
    mean = np.trapezoid(g_lin * np.sin(theta), theta) / 2.0
    assert mean == pytest.approx(1.0, rel=2e-3)


def test_tr38901_boresight_floor_and_beamwidth() -> None:
    assert ant.tr38901_gain_dbi(90.0, 0.0) == pytest.approx(8.0)
    # 3 dB beamwidth 65 deg: 3 dB down at 32.5 deg off boresight, horizontally and vertically
    assert ant.tr38901_gain_dbi(90.0, 32.5) == pytest.approx(5.0)
    assert ant.tr38901_gain_dbi(90.0, -32.5) == pytest.approx(5.0)
    assert ant.tr38901_gain_dbi(90.0 + 32.5, 0.0) == pytest.approx(5.0)
    # far off: 8 - 30 = -22 dBi (behind, and far below)
    assert ant.tr38901_gain_dbi(90.0, 180.0) == pytest.approx(-22.0)
    assert ant.tr38901_gain_dbi(180.0, 90.0) == pytest.approx(-22.0)
    # straight above the element: vertical cut only, 8 - 12 (90/65)^2 = -15.006 dBi
    assert ant.tr38901_gain_dbi(0.0, 0.0) == pytest.approx(8.0 - 12.0 * (90.0 / 65.0) ** 2)
    assert ant.tr38901_gain_dbi(60.0, 100.0) == pytest.approx(-22.0)
    # the combined attenuation is capped at 30 dB, never below -22 dBi
    z, p = np.meshgrid(np.linspace(0, 180, 37), np.linspace(-180, 180, 73))
    g = ant.tr38901_gain_dbi(z, p)
    assert g.min() == pytest.approx(-22.0)
    assert g.max() == pytest.approx(8.0)


def test_tr38901_oriented_boresight() -> None:
    # azimuth 90 deg, tilt 0: boresight along +y
    assert ant.antenna_gain_dbi("tr38901", [0.0, 1.0, 0.0], azimuth_deg=90.0) == pytest.approx(8.0)
    assert ant.antenna_gain_dbi("tr38901", [1.0, 0.0, 0.0], azimuth_deg=90.0) == pytest.approx(
        8.0 - 12.0 * (90.0 / 65.0) ** 2
    )
    # tilt 30: boresight 30 deg below the horizon along the azimuth
    down30 = _unit(45.0, -30.0)
    assert ant.antenna_gain_dbi(
        "tr38901", down30, azimuth_deg=45.0, tilt_deg=30.0
    ) == pytest.approx(8.0)


def test_tilt_90_points_straight_down() -> None:
    rot = ant.rotation_matrix(0.0, 90.0)
    np.testing.assert_allclose(rot[:, 0], [0.0, 0.0, -1.0], atol=1e-12)
    down = np.array([0.0, 0.0, -1.0])
    for az in (0.0, 77.0, -140.0):  # any azimuth: straight down is boresight
        assert ant.antenna_gain_dbi(
            "tr38901", down, azimuth_deg=az, tilt_deg=90.0
        ) == pytest.approx(8.0)
    # 32.5 deg off nadir: 5 dBi; straight up: -22 dBi
    off = _unit(0.0, -(90.0 - 32.5))
    assert ant.antenna_gain_dbi("tr38901", off, tilt_deg=90.0) == pytest.approx(5.0)
    assert ant.antenna_gain_dbi("tr38901", [0, 0, 1.0], tilt_deg=90.0) == pytest.approx(-22.0)


def test_rotation_matrices_are_orthonormal_and_vectorised() -> None:
    az = np.array([0.0, 30.0, 200.0])[:, None]
    tilt = np.array([-10.0, 0.0, 45.0, 90.0])[None, :]
    rot = ant.rotation_matrix(az, tilt)
    assert rot.shape == (3, 4, 3, 3)
    eye = np.einsum("...ji,...jk->...ik", rot, rot)
    np.testing.assert_allclose(eye, np.broadcast_to(np.eye(3), eye.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)


def test_per_station_orientation_broadcasts() -> None:
    # 2 stations x 3 users: station 0 points down, station 1 points horizontally along +x
    d = np.zeros((2, 3, 3))
    d[:, 0] = [0.0, 0.0, -1.0]
    d[:, 1] = [1.0, 0.0, 0.0]
    d[:, 2] = [0.0, 1.0, 0.0]
    g = ant.antenna_gain_dbi(
        "tr38901", d, azimuth_deg=np.array([[0.0], [0.0]]), tilt_deg=np.array([[90.0], [0.0]])
    )
    assert g.shape == (2, 3)
    assert g[0, 0] == pytest.approx(8.0)
    assert g[1, 1] == pytest.approx(8.0)
    assert g[1, 0] == pytest.approx(8.0 - 12.0 * (90.0 / 65.0) ** 2)


def test_unknown_pattern_and_bad_shape() -> None:
    with pytest.raises(ValueError, match="unknown antenna pattern 'yagi'") as info:
        ant.antenna_gain_dbi("yagi", [1.0, 0.0, 0.0])
    for name in ANTENNA_PATTERNS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        ant.antenna_gain_dbi("isotropic", np.zeros((4, 2)))
