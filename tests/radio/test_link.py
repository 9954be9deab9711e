"""Link budget: conversions, thermal noise, SINR and Shannon rate against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skycell.radio import link


def test_conversions_round_trip() -> None:
    assert link.dbm_to_w(30.0) == pytest.approx(1.0)
    assert link.dbm_to_w(43.0) == pytest.approx(19.95262, rel=1e-6)  # paper 000's 43 dBm
    assert link.w_to_dbm(0.001) == pytest.approx(0.0, abs=1e-12)
    assert link.db_to_linear(3.0) == pytest.approx(1.99526, rel=1e-5)
    assert link.linear_to_db(100.0) == pytest.approx(20.0)
    x = np.linspace(-120, 60, 19)
    np.testing.assert_allclose(link.w_to_dbm(link.dbm_to_w(x)), x, atol=1e-9)
    np.testing.assert_allclose(link.linear_to_db(link.db_to_linear(x)), x, atol=1e-9)
    assert link.linear_to_db(0.0) == -np.inf


def test_thermal_noise_20mhz_nf7() -> None:
    # k T at 290 K = 4.0039e-21 W/Hz = -173.975 dBm/Hz; + 10 log10(20e6) (= 73.010) + 7 dB
    # = -93.965 dBm (-93.99 with the rounded -174 dBm/Hz)
    assert link.thermal_noise_dbm(20e6, 7.0) == pytest.approx(-93.97, abs=0.05)
    assert link.thermal_noise_dbm(1.0) == pytest.approx(-173.975, abs=0.001)
    # doubling the temperature or the bandwidth adds 3.01 dB
    assert float(link.thermal_noise_dbm(1e6, 0.0, 580.0) - link.thermal_noise_dbm(1e6)) == (
        pytest.approx(10 * math.log10(2), abs=1e-9)
    )


def test_snr() -> None:
    assert link.snr_db(-70.0, -94.0) == pytest.approx(24.0)


def test_sinr_two_equal_stations_is_0_db_sir() -> None:
    rx = np.full((2, 4), -60.0)
    res = link.sinr(rx, -200.0)
    np.testing.assert_allclose(res.sir_db, 0.0, atol=1e-12)
    np.testing.assert_allclose(res.sinr_db, 0.0, atol=1e-9)  # noise 140 dB below
    np.testing.assert_allclose(res.signal_dbm, -60.0)
    np.testing.assert_allclose(res.interference_dbm, -60.0)
    assert res.serving.shape == (4,)


def test_sinr_closed_form_and_strongest_server() -> None:
    # user 0: stations at -60, -70, -80 dBm, noise -90 dBm
    # SINR = 1e-6 / (1e-7 + 1e-8 + 1e-9) = 1e-6 / 1.11e-7 -> 9.5468 dB
    rx = np.array([[-60.0, -75.0], [-70.0, -65.0], [-80.0, -90.0]])
    res = link.sinr(rx, -90.0)
    np.testing.assert_array_equal(res.serving, [0, 1])
    assert res.sinr_db[0] == pytest.approx(10 * math.log10(1e-6 / 1.11e-7), abs=1e-9)
    assert res.sir_db[0] == pytest.approx(10 * math.log10(1e-6 / 1.1e-7), abs=1e-9)
    assert res.interference_dbm[0] == pytest.approx(10 * math.log10(1.1e-7), abs=1e-9)
    # given serving stations: user 1 served by station 0 (weaker), interference from 1 and 2
    forced = link.sinr(rx, -90.0, serving=[0, 0])
    i_mw = 10 ** (-6.5) + 10 ** (-9.0)
    assert forced.sir_db[1] == pytest.approx(-75.0 - 10 * math.log10(i_mw), abs=1e-9)
    assert forced.signal_dbm[1] == pytest.approx(-75.0)


def test_sinr_single_station_is_snr() -> None:
    res = link.sinr(np.array([[-80.0, -100.0]]), -94.0)
    np.testing.assert_allclose(res.sinr_db, [14.0, -6.0], atol=1e-9)
    assert np.all(res.sir_db == np.inf)
    assert np.all(res.interference_dbm == -np.inf)


def test_sinr_vectorised_many_users_noise_per_user() -> None:
    rng = np.random.default_rng(1)
    rx = rng.uniform(-110, -50, size=(5, 1000))
    noise = rng.uniform(-100, -90, size=1000)
    res = link.sinr(rx, noise)
    p = 10 ** (rx / 10)
    s = p.max(axis=0)
    ref = 10 * np.log10(s / (p.sum(axis=0) - s + 10 ** (noise / 10)))
    np.testing.assert_allclose(res.sinr_db, ref, atol=1e-9)


def test_sinr_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        link.sinr(np.zeros(3), -90.0)
    with pytest.raises(ValueError, match="serving"):
        link.sinr(np.zeros((2, 3)), -90.0, serving=[0, 1])
    with pytest.raises(ValueError, match="serving"):
        link.sinr(np.zeros((2, 3)), -90.0, serving=[0, 1, 2])


def test_shannon_rate_closed_form() -> None:
    # SINR 0 dB -> log2(2) = 1 bit/s/Hz; 30 dB -> log2(1001) = 9.9672
    assert link.shannon_rate_bps(0.0, 20e6) == pytest.approx(20e6)
    assert link.shannon_rate_bps(30.0, 1e6) == pytest.approx(1e6 * math.log2(1001.0))
    np.testing.assert_allclose(
        link.shannon_rate_bps(np.array([-np.inf, 10.0]), 160e6), [0.0, 160e6 * math.log2(11.0)]
    )


def test_max_distance_inverts_free_space() -> None:
    from skycell.radio.link import max_distance_m
    from skycell.radio.pathloss import free_space_path_loss_db

    budgets = np.array([80.0, 100.0, 120.0, 10.0])
    d = max_distance_m(lambda x: free_space_path_loss_db(x, 5.25e9), budgets)
    # closed form: d = c / (4 pi f) * 10^(PL / 20)
    exact = 299792458.0 / (4 * np.pi * 5.25e9) * 10 ** (budgets / 20)
    np.testing.assert_allclose(d[:3], exact[:3], atol=2e-3)
    assert d[3] == 0.0  # even 1 m loses more than 10 dB


def test_user_link_budget_paper003() -> None:
    from skycell.radio.link import user_link_budget

    # paper 003 Table I: 20 dBm, 0 dBi, noise floor -85 dBm; 160 MHz demands are MCS 0-3
    lb = user_link_budget(
        np.array([58.5e6, 234e6, 1e12]),
        standard="wifi-80211ac",
        tx_power_dbm=20.0,
        noise_floor_dbm=-85.0,
        bandwidth_hz=160e6,
        channel_width_mhz=160,
    )
    assert lb.mcs.tolist() == [0, 3, -1]
    # MCS 0 at 160 MHz needs -82 + 9 = -73 dBm: SNR 12 dB, PL_max = 20 + 85 - 12 = 93 dB
    assert lb.required_snr_db[0] == pytest.approx(12.0)
    assert lb.max_path_loss_db[0] == pytest.approx(93.0)
    assert not lb.feasible[2] and "fastest 802.11ac rate" in lb.reason[2]
    nr = user_link_budget(
        np.array([20e6]), standard="nr", tx_power_dbm=43, noise_floor_dbm=-94, bandwidth_hz=20e6
    )
    assert nr.required_snr_db[0] == pytest.approx(0.0, abs=1e-9)  # 2^(1) - 1 = 1 -> 0 dB


def test_nr_attenuated_budget_inverts_the_rate() -> None:
    from skycell.radio.link import user_link_budget
    from skycell.radio.mcs import nr_rate_bps

    demand = np.array([10e6, 40e6, 200e6])
    lb = user_link_budget(
        demand,
        standard="nr",
        tx_power_dbm=43.0,
        noise_floor_dbm=-94.0,
        bandwidth_hz=20e6,
        rate_model="nr-attenuated",
    )
    assert lb.feasible.tolist() == [True, True, False]  # 200 Mbit/s > 4.8 bit/s/Hz x 20 MHz
    np.testing.assert_allclose(nr_rate_bps(lb.required_snr_db[:2], 20e6), demand[:2], rtol=1e-9)
