"""AnalyticEngine against free space, the models' NLoS formulas and the link budget."""

from __future__ import annotations

import numpy as np
import pytest

from skycell.city.buildings import Buildings, City
from skycell.radio import antenna as ant
from skycell.radio import pathloss as pl
from skycell.radio.engine import AnalyticEngine, ChannelEngine

F_HZ = 3.5e9


def _empty_city() -> City:
    return City(bounds_m=(-1000.0, -1000.0, 1000.0, 1000.0), buildings=Buildings.empty())


def _box_city() -> City:
    # one 50 m tall box at x in [40, 60], y in [-10, 10]
    box = np.array([[40.0, -10.0], [60.0, -10.0], [60.0, 10.0], [40.0, 10.0]])
    return City(
        bounds_m=(-200.0, -200.0, 200.0, 200.0),
        buildings=Buildings(footprints_m=(box,), heights_m=np.array([50.0])),
    )


TX = np.array([[0.0, 0.0, 30.0], [0.0, 100.0, 70.0]])
RX = np.array([[100.0, 0.0, 1.5], [0.0, -80.0, 1.5], [150.0, 120.0, 1.5]])


def _geometry(tx: np.ndarray, rx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    delta = rx[None, :, :] - tx[:, None, :]
    return delta, np.linalg.norm(delta, axis=-1), np.hypot(delta[..., 0], delta[..., 1])


def test_engine_satisfies_protocol() -> None:
    assert isinstance(AnalyticEngine(_empty_city(), frequency_hz=F_HZ), ChannelEngine)


def test_free_space_isotropic_gain_is_minus_fspl() -> None:
    eng = AnalyticEngine(
        _empty_city(),
        frequency_hz=F_HZ,
        pathloss_model="free_space",
        station_antenna="isotropic",
        user_antenna="isotropic",
    )
    _, d3, _ = _geometry(TX, RX)
    gain = eng.path_gain_db(TX, RX)
    assert gain.shape == (2, 3)
    np.testing.assert_allclose(gain, -pl.free_space_path_loss_db(d3, F_HZ), atol=1e-9)
    assert np.all(eng.line_of_sight(TX, RX))


def test_free_space_with_oriented_antennas() -> None:
    eng = AnalyticEngine(
        _empty_city(),
        frequency_hz=F_HZ,
        pathloss_model="free_space",
        station_antenna="tr38901",
        user_antenna="dipole",
    )
    az = np.array([0.0, -90.0])
    tilt = np.array([90.0, 20.0])
    gain = eng.path_gain_db(TX, RX, azimuth_deg=az, tilt_deg=tilt)
    delta, d3, _ = _geometry(TX, RX)
    g_tx = ant.antenna_gain_dbi("tr38901", delta, azimuth_deg=az[:, None], tilt_deg=tilt[:, None])
    g_rx = ant.antenna_gain_dbi("dipole", -delta)
    np.testing.assert_allclose(gain, g_tx + g_rx - pl.free_space_path_loss_db(d3, F_HZ), atol=1e-9)
    # a user straight below a down-tilted station sees its 8 dBi boresight; a vertical dipole
    # looking straight up is in its null
    g_below = eng.path_gain_db([0.0, 0.0, 70.0], [[0.0, 0.0, 1.5]], tilt_deg=90.0)
    fspl = pl.free_space_path_loss_db(68.5, F_HZ)
    assert g_below[0, 0] < 8.0 - fspl - 100.0
    eng_iso_user = AnalyticEngine(
        _empty_city(), frequency_hz=F_HZ, pathloss_model="free_space", user_antenna="isotropic"
    )
    g_iso = eng_iso_user.path_gain_db([0.0, 0.0, 70.0], [[0.0, 0.0, 1.5]], tilt_deg=90.0)
    assert g_iso[0, 0] == pytest.approx(8.0 - float(fspl), abs=1e-9)


def test_line_of_sight_layout() -> None:
    eng = AnalyticEngine(_box_city(), frequency_hz=F_HZ)
    los = eng.line_of_sight(TX, RX)
    assert los.shape == (2, 3)
    # only station 0 (30 m, below the 50 m roof) -> user 0 behind the box is blocked
    expected = np.ones((2, 3), dtype=bool)
    expected[0, 0] = False
    np.testing.assert_array_equal(los, expected)


@pytest.mark.parametrize("model", ["tr36777_uma_av", "tr38901_uma", "al_hourani", "itu_r_p1411"])
def test_building_switches_link_to_nlos(model: str) -> None:
    iso = {"station_antenna": "isotropic", "user_antenna": "isotropic"}
    eng_box = AnalyticEngine(_box_city(), frequency_hz=F_HZ, pathloss_model=model, **iso)
    eng_open = AnalyticEngine(_empty_city(), frequency_hz=F_HZ, pathloss_model=model, **iso)
    tx, rx = TX[:1], RX[:1]  # 30 m station, user 100 m away behind the box
    blocked = eng_box.path_gain_db(tx, rx)[0, 0]
    clear = eng_open.path_gain_db(tx, rx)[0, 0]
    _, d3, d2 = _geometry(tx, rx)
    nlos_loss = pl.path_loss_db(
        model,
        d3,
        frequency_hz=F_HZ,
        los=False,
        station_height_m=30.0,
        user_height_m=1.5,
        horizontal_distance_m=d2,
    )[0, 0]
    assert blocked == pytest.approx(-nlos_loss, abs=1e-9)
    assert blocked < clear - 3.0
    # the explicit LoS override gives the clear value back
    assert eng_box.path_gain_db(tx, rx, los=True)[0, 0] == pytest.approx(clear, abs=1e-9)


def test_tr36777_uma_av_nlos_value_through_engine() -> None:
    # station 0 at 30 m behind the box from user 0: d2D = 100 m, d3D = hypot(100, 28.5)
    eng = AnalyticEngine(
        _box_city(), frequency_hz=F_HZ, station_antenna="isotropic", user_antenna="isotropic"
    )
    d3 = float(np.hypot(100.0, 28.5))
    # TR 36.777 UMa-AV NLoS: -17.5 + (46 - 7 log10 30) log10 d3 + 20 log10(40 pi 3.5 / 3)
    slope = 46 - 7 * np.log10(30.0)
    expected = -17.5 + slope * np.log10(d3) + 20 * np.log10(40 * np.pi * 3.5 / 3)
    assert eng.path_gain_db(TX[:1], RX[:1])[0, 0] == pytest.approx(-expected, abs=1e-9)


def test_received_power_is_tx_power_plus_gain() -> None:
    eng = AnalyticEngine(_box_city(), frequency_hz=F_HZ)
    az = np.array([10.0, 200.0])
    tilt = np.array([60.0, 90.0])
    gain = eng.path_gain_db(TX, RX, azimuth_deg=az, tilt_deg=tilt)
    p_scalar = eng.received_power_dbm(TX, RX, tx_power_dbm=43.0, azimuth_deg=az, tilt_deg=tilt)
    np.testing.assert_allclose(p_scalar, 43.0 + gain, atol=1e-12)
    p_tx = np.array([43.0, 30.0])
    p_vec = eng.received_power_dbm(TX, RX, tx_power_dbm=p_tx, azimuth_deg=az, tilt_deg=tilt)
    np.testing.assert_allclose(p_vec, p_tx[:, None] + gain, atol=1e-12)


def test_default_tilt_is_straight_down() -> None:
    eng = AnalyticEngine(_empty_city(), frequency_hz=F_HZ)
    np.testing.assert_allclose(eng.path_gain_db(TX, RX), eng.path_gain_db(TX, RX, tilt_deg=90.0))


def test_engine_rejects_unknown_names_and_bad_shapes() -> None:
    city = _empty_city()
    with pytest.raises(ValueError, match="tr36777_uma_av"):
        AnalyticEngine(city, frequency_hz=F_HZ, pathloss_model="okumura")
    with pytest.raises(ValueError, match="paper004"):
        AnalyticEngine(city, frequency_hz=F_HZ, environment="jungle")
    with pytest.raises(ValueError, match="dipole"):
        AnalyticEngine(city, frequency_hz=F_HZ, station_antenna="horn")
    with pytest.raises(ValueError, match="frequency_hz"):
        AnalyticEngine(city, frequency_hz=-1.0)
    eng = AnalyticEngine(city, frequency_hz=F_HZ)
    with pytest.raises(ValueError, match="tx_xyz_m"):
        eng.path_gain_db(np.zeros((2, 2)), RX)
    with pytest.raises(ValueError, match="tilt_deg"):
        eng.path_gain_db(TX, RX, tilt_deg=[90.0, 90.0, 90.0])
