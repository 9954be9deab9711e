"""Channel study (paper 002 §3.6, Tables 9-10): closed-form and published reference values for the
close-in fit, delay spread, path combining, ITU-R P.676 / P.838 and the foliage models."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from skycell.radio.pathloss import SPEED_OF_LIGHT_M_S, free_space_path_loss_db
from skycell.study.channel import TracedPaths, analyse_frequency
from skycell.study.itu import (
    foliage_loss_db,
    gaseous_specific_attenuation_db_per_km,
    p833_woodland_loss_db,
    p833_woodland_specific_attenuation_db_per_m,
    rain_specific_attenuation_db_per_km,
    weissberger_loss_db,
)
from skycell.study.stats import (
    carrier_phasors,
    combine_paths_dbm,
    fit_close_in,
    narrowband_phase_deg,
    rms_delay_spread_s,
)

C = SPEED_OF_LIGHT_M_S
needs_itur = pytest.mark.skipif(
    importlib.util.find_spec("itur") is None,
    reason="the `itur` package (ITU-R P.676/P.838) is not installed: pip install 'skycell[rt]'",
)

# ---------------------------------------------------------------------------- close-in fit


def test_close_in_fit_recovers_exponent_and_sigma() -> None:
    rng = np.random.default_rng(7)
    f = 28e9
    d = 10 ** rng.uniform(1.0, np.log10(500.0), 40_000)
    pl = free_space_path_loss_db(1.0, f) + 10 * 2.7 * np.log10(d) + rng.normal(0.0, 6.0, d.size)
    fit = fit_close_in(d, pl, f)
    assert fit.exponent == pytest.approx(2.7, abs=0.01)
    assert fit.sigma_db == pytest.approx(6.0, abs=0.1)
    # FSPL at 1 m and 28 GHz is the published 61.4 dB (Rappaport et al., IEEE TCOM 2015)
    assert fit.fspl_d0_db == pytest.approx(61.4, abs=0.05)
    assert fit.count == d.size
    np.testing.assert_allclose(fit.residual_db, pl - fit.path_loss_db(d), atol=1e-9)


def test_close_in_fit_is_exact_on_noise_free_data_and_matches_paper_constant() -> None:
    f = 7e9
    d = np.array([20.0, 50.0, 120.0, 400.0])
    # paper 002 §3.6.1: PL_FS(d0) = 20 log10 f + 20 log10 d0 - 147.55
    pl = 20 * np.log10(f) - 147.55 + 10 * 3.1 * np.log10(d)
    fit = fit_close_in(d, pl, f)
    assert fit.exponent == pytest.approx(3.1, abs=1e-3)
    assert fit.sigma_db < 0.01


def test_close_in_fit_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        fit_close_in([10.0, 20.0], [80.0], 7e9)
    with pytest.raises(ValueError, match="finite distances"):
        fit_close_in([0.0, 20.0], [80.0, 90.0], 7e9)
    with pytest.raises(ValueError, match="finite distances"):
        fit_close_in([10.0, 20.0], [np.inf, 90.0], 7e9)
    with pytest.raises(ValueError, match="other than d0_m"):
        fit_close_in([1.0], [50.0], 7e9)


# ---------------------------------------------------------------------------- delay spread


def test_rms_delay_spread_of_two_paths_is_the_closed_form() -> None:
    # two paths: tau_rms = |t2 - t1| sqrt(p1 p2) / (p1 + p2) = 200 ns * 0.5 / 1.25 = 80 ns
    tau = np.array([[100e-9, 300e-9], [1.0e-6, 1.2e-6]])
    p = np.array([[1.0, 0.25], [2.0, 2.0]])
    ds = rms_delay_spread_s(tau, p)
    np.testing.assert_allclose(ds, [80e-9, 100e-9], rtol=1e-9)


def test_rms_delay_spread_single_path_zero_power_and_no_path() -> None:
    tau = np.array([[5e-7, 9e-7, 0.0], [4e-7, 0.0, 0.0], [0.0, 0.0, 0.0]])
    p = np.array([[1.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    ds = rms_delay_spread_s(tau, p)
    assert ds[0] == 0.0 and ds[1] == 0.0
    assert math.isnan(ds[2])
    with pytest.raises(ValueError):
        rms_delay_spread_s(tau, -p)


def test_rms_delay_spread_of_three_paths_matches_direct_formula() -> None:
    tau = np.array([[1.0e-6, 1.05e-6, 1.3e-6]])
    p = np.array([[1.0, 0.5, 0.1]])
    m1 = (p * tau).sum() / p.sum()
    m2 = (p * tau**2).sum() / p.sum()
    assert rms_delay_spread_s(tau, p)[0] == pytest.approx(math.sqrt(m2 - m1**2), rel=1e-6)


# ---------------------------------------------------------------------------- combining, phase


def test_carrier_phasors_apply_the_propagation_phase() -> None:
    f = 7e9
    tau = np.array([[100.0 / C, 100.3 / C]])
    ph = carrier_phasors(np.ones((1, 2)), tau, f)
    np.testing.assert_allclose(np.angle(ph), np.angle(np.exp(-2j * np.pi * f * tau)), atol=1e-9)


def test_coherent_and_incoherent_combining() -> None:
    # two equal paths in antiphase cancel coherently and add 3 dB incoherently
    a = np.array([[[1e-5, -1e-5]], [[1e-5, 1e-5]], [[0.0, 0.0]]], dtype=complex)
    coh = combine_paths_dbm(a, 37.0, combining="coherent")
    inc = combine_paths_dbm(a, 37.0, combining="incoherent")
    one = 37.0 + 20 * np.log10(1e-5)
    assert coh[0] == -np.inf
    assert coh[1] == pytest.approx(one + 20 * np.log10(2), abs=1e-9)
    assert inc[0] == pytest.approx(one + 10 * np.log10(2), abs=1e-9)
    assert inc[2] == -np.inf
    # two receiver ports add in power
    two_ports = np.array([[[1e-5], [1e-5]]], dtype=complex)
    assert combine_paths_dbm(two_ports, 0.0)[0] == pytest.approx(
        20 * np.log10(1e-5) + 10 * np.log10(2), abs=1e-9
    )
    with pytest.raises(ValueError, match="combining"):
        combine_paths_dbm(a, 0.0, combining="max")


def test_narrowband_phase() -> None:
    ph = narrowband_phase_deg(np.array([[1j, 0.0], [-1.0, 0.0], [0.0, 0.0], [1 - 1j, 0.0]]))
    np.testing.assert_allclose(ph[[0, 1, 3]], [90.0, 180.0, -45.0], atol=1e-9)
    assert math.isnan(ph[2])


# ---------------------------------------------------------------------------- ITU models


@needs_itur
def test_p676_specific_attenuation_at_itu_validation_points() -> None:
    # ITU-R P.676 Annex 1 validation examples (ITU-R SG 3 CG-3M3J-13-ValEx, as used by itur's
    # test suite): 1013.25 hPa, 288.15 K, 7.5 g/m³; gamma_o + gamma_w
    g = gaseous_specific_attenuation_db_per_km(np.array([12e9, 60e9]))
    np.testing.assert_allclose(g, [0.00869826 + 0.00953539, 14.62347480 + 0.15484184], rtol=1e-4)
    # the 22.235 GHz water vapour line stands above its neighbours
    near = gaseous_specific_attenuation_db_per_km(np.array([18e9, 22.235e9, 26e9]))
    assert near[1] > near[0] and near[1] > near[2]
    # dry air gives no water-vapour absorption: gamma drops at the line
    dry = gaseous_specific_attenuation_db_per_km(22.235e9, water_vapour_density_g_m3=0.0)
    assert dry < 0.1 * near[1]


@needs_itur
def test_p676_rejects_out_of_range_inputs() -> None:
    with pytest.raises(ValueError, match="frequency_hz"):
        gaseous_specific_attenuation_db_per_km(5e8)
    with pytest.raises(ValueError, match="pressure_hpa"):
        gaseous_specific_attenuation_db_per_km(7e9, pressure_hpa=-1.0)


@needs_itur
def test_p838_rain_matches_published_coefficients() -> None:
    # ITU-R P.838-3 Table 5 at 10 GHz, vertical polarisation: k = 0.01129, alpha = 1.2156
    g = rain_specific_attenuation_db_per_km(10e9, 10.0)
    assert g == pytest.approx(0.01129 * 10**1.2156, rel=1e-3)
    assert rain_specific_attenuation_db_per_km(26e9, 0.0) == 0.0
    with pytest.raises(ValueError, match="rain_rate_mm_h"):
        rain_specific_attenuation_db_per_km(26e9, -1.0)


def test_weissberger_model() -> None:
    # 0.45 f^0.284 d (f in GHz) for d <= 14 m
    assert weissberger_loss_db(7e9, 2.5) == pytest.approx(0.45 * 7**0.284 * 2.5, rel=1e-12)
    # paper 002 Table 9 adds 97.8 - 93.2 = 4.6 dB of foliage (2.5 m) at 140 GHz
    assert foliage_loss_db(140e9, 2.5) == pytest.approx(4.6, abs=0.05)
    # 1.33 f^0.284 d^0.588 beyond 14 m; the two branches meet (within 0.05 dB) at 14 m
    assert weissberger_loss_db(1e9, 100.0) == pytest.approx(1.33 * 100**0.588, rel=1e-12)
    gap = weissberger_loss_db(10e9, 14.0 + 1e-9) - weissberger_loss_db(10e9, 14.0)
    assert abs(gap) < 0.05
    with pytest.raises(ValueError, match="400"):
        weissberger_loss_db(7e9, 500.0)


def test_p833_woodland_model() -> None:
    # P.833 Fig. 2 reference points (vertical polarisation)
    np.testing.assert_allclose(
        p833_woodland_specific_attenuation_db_per_m(np.array([30e6, 1e9, 30e9])),
        [0.02, 0.2, 6.0],
        rtol=1e-9,
    )
    # eq. (1) with P.833 Table 1's 949 MHz parameters (gamma 0.17 dB/m, A_m 26.5 dB), 100 m
    a = p833_woodland_loss_db(
        949e6, 100.0, specific_attenuation_db_per_m=0.17, max_attenuation_db=26.5
    )
    assert a == pytest.approx(26.5 * (1 - math.exp(-100 * 0.17 / 26.5)), rel=1e-12)
    # short paths: gamma d; long paths: A_m
    g = float(p833_woodland_specific_attenuation_db_per_m(7e9))
    assert p833_woodland_loss_db(7e9, 0.01) == pytest.approx(g * 0.01, rel=1e-3)
    a_m = 1.15 * 7000**0.43
    assert p833_woodland_loss_db(7e9, 1e5) == pytest.approx(a_m, rel=1e-6)
    assert foliage_loss_db(7e9, 2.5, model="p833-woodland") == pytest.approx(3.38, abs=0.01)
    with pytest.raises(ValueError, match="foliage model"):
        foliage_loss_db(7e9, 2.5, model="trees")


# ------------------------------------------------------------------ per-frequency analysis


def test_analyse_frequency_on_synthetic_paths() -> None:
    f = 26e9
    lam = C / f
    d_los = 120.0
    d_ref = 150.0
    # user 0: LoS + one reflection; user 1: no path; user 2: one weak NLoS path (outage)
    a = np.zeros((3, 2, 2), dtype=complex)
    a[0, 0, 0] = lam / (4 * np.pi * d_los)
    a[0, 0, 1] = 0.3 * lam / (4 * np.pi * d_ref)
    a[2, 1, 0] = 1e-9
    tau = np.array([[d_los / C, d_ref / C], [0.0, 0.0], [400.0 / C, 0.0]])
    valid = np.array([[True, True], [False, False], [True, False]])
    los = np.array([[True, False], [False, False], [False, False]])
    traced = TracedPaths(a=a, delay_s=tau, valid=valid, los=los)
    dist = np.array([d_los, 200.0, 300.0])
    fs = analyse_frequency(
        traced,
        f,
        dist,
        tx_power_dbm=37.0,
        sensitivity_dbm=-100.0,
        gas_db_per_km=2.0,
        rain_db_per_km=1.0,
        foliage_db=2.8,
        combining="incoherent",
    )
    assert fs.has_path.tolist() == [True, False, True]
    assert fs.outage.tolist() == [False, True, True]
    assert fs.los.tolist() == [True, False, False]
    # LoS path: free space + 3 dB/km over 120 m + foliage
    expect = free_space_path_loss_db(d_los, f) + 3.0 * d_los / 1000 + 2.8
    assert fs.los_path_loss_db[0] == pytest.approx(expect, abs=1e-6)
    # the three stages only lose power; foliage is a constant offset
    assert fs.rss_weather_dbm[0] < fs.rss_concrete_dbm[0]
    assert fs.rss_weather_dbm[0] - fs.rss_final_dbm[0] == pytest.approx(2.8, abs=1e-9)
    assert fs.path_loss_db[0] == pytest.approx(37.0 - fs.rss_final_dbm[0], abs=1e-12)
    assert fs.path_loss_db[1] == np.inf and fs.rss_final_dbm[1] == -np.inf
    assert fs.rss_final_dbm[2] == pytest.approx(37.0 - 180.0 - 1.2 - 2.8, abs=1e-6)
    # delay spread of user 0 from its final path powers
    p = np.abs(a[0, 0]) ** 2 * 10 ** (-np.array([3 * 0.12, 3 * 0.15]) / 10)
    assert fs.delay_spread_s[0] == pytest.approx(
        (d_ref - d_los) / C * math.sqrt(p[0] * p[1]) / p.sum(), rel=1e-6
    )
    assert fs.delay_spread_s[2] == 0.0 and math.isnan(fs.delay_spread_s[1])
    assert fs.n_paths.tolist() == [2, 0, 1]
    row = fs.table9_row()
    assert row["outage_users"] == 2
    assert row["final_path_loss_db"] == pytest.approx(np.mean(fs.path_loss_db[[0, 2]]))
    assert fs.ci_fit is not None and fs.ci_fit.count == 2
    t10 = {r["condition"]: r for r in fs.table10_rows()}
    assert t10["LoS"]["users"] == 1 and t10["NLoS"]["users"] == 0
    assert math.isnan(t10["NLoS"]["mean_ns"])
