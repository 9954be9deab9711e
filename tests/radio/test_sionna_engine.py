"""Sionna RT engine: physics sanity checks against closed-form results (skipped without `rt`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import skycell.radio.sionna_engine as se
from skycell.city.buildings import Buildings, City
from skycell.radio.sionna_engine import PATH_GAIN_FLOOR_DB, SionnaEngine, rt_available

_OK, _WHY = rt_available()
pytestmark = pytest.mark.skipif(not _OK, reason=f"Sionna RT engine unavailable: {_WHY}")

C = 299_792_458.0
F = 3.5e9


def fspl_db(d_m: np.ndarray) -> np.ndarray:
    return np.asarray(20 * np.log10(4 * np.pi * d_m * F / C))


@pytest.fixture(scope="module")
def open_city() -> City:
    return City(bounds_m=(-300.0, -300.0, 300.0, 300.0), buildings=Buildings.empty())


def test_los_path_matches_free_space(open_city: City) -> None:
    eng = SionnaEngine(
        open_city, frequency_hz=F, station_antenna="isotropic", user_antenna="isotropic"
    )
    tx = np.array([[0.0, 0.0, 70.0]])
    rx = np.array([[-100.0, -100.0, 1.5], [200.0, 0.0, 1.5], [0.0, -250.0, 1.5], [30, 0, 1.5]])
    p = eng.paths(tx, rx, azimuth_deg=0.0, tilt_deg=0.0)
    assert p.los.sum(axis=-1).tolist() == [[1, 1, 1, 1]]
    los_gain_db = 10 * np.log10((p.gain * p.los).sum(axis=-1))[0]
    d = np.linalg.norm(rx - tx, axis=1)
    np.testing.assert_allclose(los_gain_db, -fspl_db(d), atol=0.5)
    # ground reflections exist too; the total is finite and the LoS delay is d / c
    assert np.all(eng.path_gain_db(tx, rx, tilt_deg=0.0) > PATH_GAIN_FLOOR_DB)
    np.testing.assert_allclose(p.delay_s[p.los], d / C, rtol=1e-4)


def test_cross_polarised_user_removes_tilt_polarisation_loss(open_city: City) -> None:
    eng = SionnaEngine(
        open_city, frequency_hz=F, station_antenna="isotropic", user_polarization="cross"
    )
    tx = np.array([[0.0, 0.0, 70.0]])
    rx = np.array([[-100.0, -100.0, 1.5], [0.0, -250.0, 1.5]])
    p = eng.paths(tx, rx, tilt_deg=90.0)
    los_gain_db = 10 * np.log10((p.gain * p.los).sum(axis=-1))[0]
    np.testing.assert_allclose(los_gain_db, -fspl_db(np.linalg.norm(rx - tx, axis=1)), atol=0.5)


def test_building_blocks_the_direct_path(open_city: City) -> None:
    box = np.array([[40.0, -20.0], [60.0, -20.0], [60.0, 20.0], [40.0, 20.0]])
    city = City(bounds_m=open_city.bounds_m, buildings=Buildings((box,), np.array([60.0])))
    tx = np.array([[0.0, 0.0, 10.0]])
    rx = np.array([[100.0, 0.0, 1.5]])
    g_open = SionnaEngine(open_city, frequency_hz=F, station_antenna="isotropic").path_gain_db(
        tx, rx, tilt_deg=0.0
    )
    eng = SionnaEngine(city, frequency_hz=F, station_antenna="isotropic")
    g_box = eng.path_gain_db(tx, rx, tilt_deg=0.0)
    assert not eng.line_of_sight(tx, rx)[0, 0]
    assert not eng.paths(tx, rx, tilt_deg=0.0).los.any()
    assert g_box[0, 0] < g_open[0, 0] - 10.0


def test_tr38901_boresight_straight_down(open_city: City) -> None:
    # a "cross" user captures both polarisations (a "V" user straight below a station turned to
    # azimuth 33 deg would lose cos^2(33 deg) = -1.5 dB to polarisation mismatch)
    eng = SionnaEngine(
        open_city, frequency_hz=F, station_antenna="tr38901", user_polarization="cross"
    )
    tx = np.array([[10.0, -5.0, 70.0]])
    rx = np.array([[10.0, -5.0, 1.5], [10.0, -5.0, 40.0]])
    p = eng.paths(tx, rx, azimuth_deg=33.0, tilt_deg=90.0)
    los_gain_db = 10 * np.log10((p.gain * p.los).sum(axis=-1))[0]
    np.testing.assert_allclose(los_gain_db, 8.0 - fspl_db(tx[0, 2] - rx[:, 2]), atol=0.5)
    # tilted to the horizon, the user below sits far outside the main lobe
    g_h = eng.paths(tx, rx[:1], tilt_deg=0.0)
    assert 10 * np.log10((g_h.gain * g_h.los).sum()) < los_gain_db[0] - 20.0


def test_coverage_map_is_reproducible(open_city: City) -> None:
    import drjit as dr  # type: ignore[import-not-found,import-untyped,unused-ignore]

    box = np.array([[40.0, -20.0], [60.0, -20.0], [60.0, 20.0], [40.0, 20.0]])
    city = City(
        bounds_m=(-200.0, -150.0, 200.0, 150.0), buildings=Buildings((box,), np.array([30.0]))
    )
    tx = np.array([[0.0, 0.0, 70.0], [-100.0, 50.0, 50.0]])
    threads = dr.thread_count()
    dr.set_thread_count(1)
    try:
        maps = [
            SionnaEngine(city, frequency_hz=F, map_samples=200_000, seed=3).coverage_path_gain_db(
                tx, azimuth_deg=[0.0, 45.0], tilt_deg=[90.0, 30.0], cell_m=10.0
            )
            for _ in range(2)
        ]
    finally:
        dr.set_thread_count(threads)
    assert maps[0].shape == (2, 30, 40)
    np.testing.assert_array_equal(maps[0], maps[1])
    assert np.mean(maps[0] > PATH_GAIN_FLOOR_DB) > 0.8
    cm = SionnaEngine(city, frequency_hz=F, map_samples=200_000).coverage_map(tx, cell_m=10.0)
    np.testing.assert_allclose(cm.cell_centers_m[0, 0], [-195.0, -145.0, 1.5])


def test_received_power_and_validation(open_city: City) -> None:
    eng = SionnaEngine(open_city, frequency_hz=F)
    tx = np.array([[0.0, 0.0, 70.0]])
    rx = np.array([[50.0, 0.0, 1.5]])
    g = eng.path_gain_db(tx, rx)
    np.testing.assert_allclose(eng.received_power_dbm(tx, rx, tx_power_dbm=43.0), g + 43.0)
    with pytest.raises(ValueError, match="choose one of"):
        SionnaEngine(open_city, frequency_hz=F, station_antenna="yagi")
    with pytest.raises(ValueError, match="concrete"):
        SionnaEngine(open_city, frequency_hz=F, material="cheese")


def test_no_path_at_all_gives_the_floor(open_city: City) -> None:
    # line of sight only (max_depth 0) and a building between: the solver finds no path at all
    box = np.array([[40.0, -20.0], [60.0, -20.0], [60.0, 20.0], [40.0, 20.0]])
    city = City(bounds_m=open_city.bounds_m, buildings=Buildings((box,), np.array([30.0])))
    eng = SionnaEngine(city, frequency_hz=F, samples=2000, max_depth=0)
    p = eng.paths(np.array([[0.0, 0.0, 10.0]]), np.array([[100.0, 0.0, 1.5]]))
    assert p.gain.shape == (1, 1, 0)
    g = eng.path_gain_db(np.array([[0.0, 0.0, 10.0]]), np.array([[100.0, 0.0, 1.5]]))
    np.testing.assert_array_equal(g, [[PATH_GAIN_FLOOR_DB]])


def test_users_traced_in_chunks_match_one_call(open_city: City) -> None:
    # the path solver's memory grows with users x rays, so users are traced in chunks sized to
    # memory_gb; a user's paths must not depend on which other users share its call
    boxes = [
        np.array([[x, y], [x + 30.0, y], [x + 30.0, y + 30.0], [x, y + 30.0]])
        for x, y in ((-100.0, -100.0), (40.0, -60.0), (-60.0, 50.0), (60.0, 60.0))
    ]
    city = City(
        bounds_m=open_city.bounds_m,
        buildings=Buildings(tuple(boxes), np.array([40.0, 25.0, 60.0, 35.0])),
    )
    tx = np.array([[0.0, 0.0, 70.0], [-150.0, 120.0, 60.0], [150.0, -150.0, 50.0]])
    rng = np.random.default_rng(4)
    rx = np.c_[rng.uniform(-200.0, 200.0, (11, 2)), np.full(11, 1.5)]
    whole = SionnaEngine(city, frequency_hz=F, samples=5000, memory_gb=100.0)
    per_user = 3 * (se._BYTES_PER_USER_RAY * 5000 + 8.0 * se._HASH_SLOTS_PER_USER)
    chunked = SionnaEngine(
        city, frequency_hz=F, samples=5000, memory_gb=(se._CALL_BASE_BYTES + 4.5 * per_user) / 1e9
    )
    assert whole.users_per_call(3) >= 11 and chunked.users_per_call(3) == 4
    a = whole.paths(tx, rx, tilt_deg=45.0)
    b = chunked.paths(tx, rx, tilt_deg=45.0)
    assert b.gain.shape[:2] == (3, 11) and np.all(np.isfinite(b.gain))
    np.testing.assert_array_equal(a.valid.sum(-1), b.valid.sum(-1))
    np.testing.assert_array_equal(a.los.sum(-1), b.los.sum(-1))
    ga, gb = a.path_gain_db(), b.path_gain_db()
    assert np.mean(ga > PATH_GAIN_FLOOR_DB) > 0.5
    np.testing.assert_allclose(ga, gb, atol=0.01)
    with pytest.raises(ValueError, match="memory_gb"):
        SionnaEngine(city, frequency_hz=F, memory_gb=0.0)


def test_diffraction_reaches_a_user_behind_a_block(open_city: City) -> None:
    # a 30 m block hides the street-level user from the 40 m station and no path of reflections
    # and refractions gets around it; one diffraction on the block's far roof edge does, well
    # below free space
    box = np.array([[40.0, -20.0], [60.0, -20.0], [60.0, 20.0], [40.0, 20.0]])
    city = City(bounds_m=open_city.bounds_m, buildings=Buildings((box,), np.array([30.0])))
    tx = np.array([[0.0, 0.0, 40.0]])
    rx = np.array([[100.0, 0.0, 1.5]])
    kw: dict[str, Any] = {"frequency_hz": F, "station_antenna": "isotropic", "samples": 20_000}
    plain = SionnaEngine(city, **kw).path_gain_db(tx, rx, tilt_deg=0.0)
    g = SionnaEngine(city, diffraction=True, **kw).path_gain_db(tx, rx, tilt_deg=0.0)
    np.testing.assert_array_equal(plain, [[PATH_GAIN_FLOOR_DB]])
    free = -fspl_db(np.linalg.norm(rx - tx, axis=1))
    assert free[0] - 45.0 < g[0, 0] < free[0] - 15.0
