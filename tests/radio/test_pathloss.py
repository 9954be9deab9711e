"""Path-loss models against closed-form, hand-computed and published (ns-3) reference values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skycell.radio import pathloss as pl
from skycell.radio.names import ENVIRONMENTS, PATHLOSS_MODELS

F_3_5_GHZ = 3.5e9
LOG10_3_5 = math.log10(3.5)  # 0.544068...; 20 log10(3.5) = 10.88136


# ------------------------------------------------------------------------------ free space


def test_fspl_1km_3_5ghz() -> None:
    # 20 log10(4 pi * 1000 * 3.5e9 / 299792458) = 103.329 dB
    assert pl.free_space_path_loss_db(1000.0, F_3_5_GHZ) == pytest.approx(103.32, abs=0.01)


def test_fspl_matches_mhz_km_form_and_broadcasts() -> None:
    d = np.array([[10.0], [250.0], [4000.0]])
    f = np.array([900e6, 2.4e9, 5.8e9])
    got = pl.free_space_path_loss_db(d, f)
    assert got.shape == (3, 3)
    # ITU-R P.525: 32.45 + 20 log10(f / MHz) + 20 log10(d / km)
    ref = 32.45 + 20 * np.log10(f / 1e6) + 20 * np.log10(d / 1e3)
    np.testing.assert_allclose(got, ref, atol=0.01)
    # doubling the distance adds 6.02 dB
    assert float(pl.free_space_path_loss_db(2.0, 1e9) - pl.free_space_path_loss_db(1.0, 1e9)) == (
        pytest.approx(20 * math.log10(2), abs=1e-9)
    )


# ------------------------------------------------------------------------------ Al-Hourani


def test_al_hourani_environments_match_names() -> None:
    assert set(pl.AL_HOURANI_ENVIRONMENTS) == set(ENVIRONMENTS)
    p4 = pl.AL_HOURANI_ENVIRONMENTS["paper004"]
    assert (p4.a, p4.b) == (9.6, 0.28)
    urban = pl.AL_HOURANI_ENVIRONMENTS["urban"]
    assert (urban.a, urban.b, urban.eta_los_db, urban.eta_nlos_db) == (9.61, 0.16, 1.0, 20.0)


def test_al_hourani_los_probability_known_angles() -> None:
    # theta = a: P = 1 / (1 + a)
    assert pl.al_hourani_los_probability(9.61, a=9.61, b=0.16) == pytest.approx(1 / 10.61, 1e-12)
    # urban, 45 deg: 1 / (1 + 9.61 exp(-0.16 * 35.39)) = 0.96769
    assert pl.al_hourani_los_probability(45.0, a=9.61, b=0.16) == pytest.approx(0.96769, abs=1e-5)
    # suburban overhead: 1 / (1 + 4.88 exp(-0.43 * 85.12)) = 1 - 6.3e-16
    assert pl.al_hourani_los_probability(90.0, a=4.88, b=0.43) == pytest.approx(1.0, abs=1e-12)
    # monotone in the elevation angle
    p = pl.al_hourani_los_probability(np.linspace(0, 90, 91), a=12.08, b=0.11)
    assert np.all(np.diff(p) > 0)
    assert np.all((p > 0) & (p < 1))


def test_al_hourani_elevation_angle() -> None:
    np.testing.assert_allclose(
        pl.elevation_angle_deg([100.0, 0.0, 50.0], [100.0, 70.0, 0.0]), [45.0, 90.0, 0.0]
    )


def test_al_hourani_geometric_and_mean_loss() -> None:
    d = 1000.0
    fspl = pl.free_space_path_loss_db(d, F_3_5_GHZ)
    got = pl.al_hourani_path_loss_db(d, F_3_5_GHZ, los=np.array([True, False]), environment="urban")
    np.testing.assert_allclose(got, [fspl + 1.0, fspl + 20.0], atol=1e-12)
    # mean: r = h = 100 m -> theta = 45 deg, P_LoS = 0.96769, d = 141.42 m
    p_los = 1 / (1 + 9.61 * math.exp(-0.16 * (45 - 9.61)))
    expected = pl.free_space_path_loss_db(math.hypot(100, 100), F_3_5_GHZ) + (
        p_los * 1.0 + (1 - p_los) * 20.0
    )
    got_mean = pl.al_hourani_mean_path_loss_db(100.0, 100.0, F_3_5_GHZ, environment="urban")
    assert got_mean == pytest.approx(float(expected), abs=1e-9)


def test_al_hourani_unknown_environment() -> None:
    with pytest.raises(ValueError, match="dense_urban"):
        pl.al_hourani_path_loss_db(10.0, 1e9, los=True, environment="downtown")


# ------------------------------------------------------------------------------ TR 38.901


def test_tr38901_breakpoint() -> None:
    # UMa: 4 (25 - 1)(1.5 - 1) 3.5e9 / 3e8 = 560 m; UMi: 4 * 9 * 0.5 * 3.5e9 / 3e8 = 210 m
    assert pl.tr38901_breakpoint_distance_m(25.0, 1.5, F_3_5_GHZ) == pytest.approx(560.0)
    assert pl.tr38901_breakpoint_distance_m(10.0, 1.5, F_3_5_GHZ) == pytest.approx(210.0)


def test_tr38901_uma_hand_values() -> None:
    # d2D = 100 m < d'BP = 560 m: d3D = hypot(100, 23.5) = 102.724 m, log10 = 2.011673
    # PL1 = 28 + 22 * 2.011673 + 20 * 0.544068 = 28 + 44.25680 + 10.88136 = 83.138 dB
    # NLoS' = 13.54 + 39.08 * 2.011673 + 10.88136 - 0 = 103.038 dB -> max(83.138, 103.038)
    # d2D = 1000 m > d'BP: d3D = 1000.276 m, log10 = 3.000120,
    # PL2 = 28 + 40 * 3.000120 + 10.88136 - 9 log10(560^2 + 23.5^2) (= 9 * 5.497140)
    #     = 28 + 120.00480 + 10.88136 - 49.47426 = 109.412 dB;
    # NLoS' = 13.54 + 39.08 * 3.000120 + 10.88136 = 141.666 dB
    d2 = np.array([100.0, 1000.0])
    d3 = np.hypot(d2, 23.5)
    los = pl.tr38901_uma_path_loss_db(d3, d2, F_3_5_GHZ, los=True)
    nlos = pl.tr38901_uma_path_loss_db(d3, d2, F_3_5_GHZ, los=False)
    np.testing.assert_allclose(los, [83.138, 109.412], atol=0.005)
    np.testing.assert_allclose(nlos, [103.038, 141.666], atol=0.005)


def test_tr38901_umi_hand_values() -> None:
    # d'BP = 210 m. d2D = 200 m: d3D = 200.1805 m, log10 = 2.301422
    # LoS PL1 = 32.4 + 21 * 2.301422 + 10.88136 = 91.611 dB
    # NLoS' = 35.3 * 2.301422 + 22.4 + 21.3 * 0.544068 (= 11.58865) = 115.229 dB
    # d2D = 500 m: d3D = 500.0722 m, log10 = 2.699033
    # LoS PL2 = 32.4 + 40 * 2.699033 + 10.88136 - 9.5 log10(210^2 + 8.5^2) (= 9.5 * 4.645150)
    #         = 32.4 + 107.96131 + 10.88136 - 44.12892 = 107.114 dB
    d2 = np.array([200.0, 500.0])
    d3 = np.hypot(d2, 8.5)
    los = pl.tr38901_umi_path_loss_db(d3, d2, F_3_5_GHZ, los=True)
    np.testing.assert_allclose(los, [91.611, 107.114], atol=0.005)
    nlos = pl.tr38901_umi_path_loss_db(d3[:1], d2[:1], F_3_5_GHZ, los=False)
    np.testing.assert_allclose(nlos, [115.229], atol=0.005)


def test_tr38901_nlos_never_below_los() -> None:
    d2 = np.geomspace(10, 5000, 200)
    for func, hb in ((pl.tr38901_uma_path_loss_db, 25.0), (pl.tr38901_umi_path_loss_db, 10.0)):
        d3 = np.hypot(d2, hb - 1.5)
        los = func(d3, d2, 2e9, los=True, station_height_m=hb)
        nlos = func(d3, d2, 2e9, los=False, station_height_m=hb)
        assert np.all(nlos >= los)


def test_tr38901_out_of_range_heights_do_not_raise() -> None:
    got = pl.tr38901_uma_path_loss_db(200.0, 150.0, F_3_5_GHZ, los=True, station_height_m=120.0)
    assert np.isfinite(got)


# ------------------------------------------------------------------------------ TR 36.777


def test_tr36777_uma_av_hand_values() -> None:
    # UAV at 70 m, user at 1.5 m, d2D = 100 m: d3D = hypot(100, 68.5) = 121.2116 m, log10 = 2.083544
    # LoS  = 28 + 22 * 2.083544 + 10.88136 = 84.719 dB
    # NLoS = -17.5 + (46 - 7 log10 70 (= 7 * 1.845098)) * 2.083544 + 20 log10(40 pi 3.5 / 3)
    #      = -17.5 + 32.08431 * 2.083544 + 43.32313 = 94.756 dB
    d3 = math.hypot(100, 68.5)
    los = pl.tr36777_uma_av_path_loss_db(d3, 100.0, F_3_5_GHZ, los=True, aerial_height_m=70.0)
    nlos = pl.tr36777_uma_av_path_loss_db(d3, 100.0, F_3_5_GHZ, los=False, aerial_height_m=70.0)
    assert los == pytest.approx(84.719, abs=0.005)
    assert nlos == pytest.approx(94.756, abs=0.005)


def test_tr36777_umi_av_hand_values() -> None:
    # same geometry: LoS = max(FSPL = 85.000, 30.9 + (22.25 - 0.5 * 1.845098) * 2.083544 + 10.88136)
    #                    = max(85.000, 86.218) = 86.218 dB
    # NLoS = max(LoS, 32.4 + (43.2 - 7.6 * 1.845098) * 2.083544 + 10.88136) = 104.073 dB
    d3 = math.hypot(100, 68.5)
    los = pl.tr36777_umi_av_path_loss_db(d3, 100.0, F_3_5_GHZ, los=True, aerial_height_m=70.0)
    nlos = pl.tr36777_umi_av_path_loss_db(d3, 100.0, F_3_5_GHZ, los=False, aerial_height_m=70.0)
    assert los == pytest.approx(86.218, abs=0.005)
    assert nlos == pytest.approx(104.073, abs=0.005)


def test_tr36777_falls_back_to_tr38901_below_22_5_m() -> None:
    d2 = np.array([50.0, 300.0])
    d3 = np.hypot(d2, 20.0 - 1.5)
    for los in (True, False):
        got = pl.tr36777_uma_av_path_loss_db(d3, d2, F_3_5_GHZ, los=los, aerial_height_m=20.0)
        ref = pl.tr38901_uma_path_loss_db(
            d3, d2, F_3_5_GHZ, los=los, station_height_m=20.0, user_height_m=1.5
        )
        np.testing.assert_allclose(got, ref)
        got_umi = pl.tr36777_umi_av_path_loss_db(d3, d2, F_3_5_GHZ, los=los, aerial_height_m=20.0)
        ref_umi = pl.tr38901_umi_path_loss_db(
            d3, d2, F_3_5_GHZ, los=los, station_height_m=20.0, user_height_m=1.5
        )
        np.testing.assert_allclose(got_umi, ref_umi)


def test_tr36777_uma_av_nlos_above_los_over_valid_range() -> None:
    h = np.linspace(23.0, 300.0, 50)[:, None]
    d2 = np.geomspace(1.0, 4000.0, 60)[None, :]
    d3 = np.hypot(d2, h - 1.5)
    los = pl.tr36777_uma_av_path_loss_db(d3, d2, 2e9, los=True, aerial_height_m=h)
    nlos = pl.tr36777_uma_av_path_loss_db(d3, d2, 2e9, los=False, aerial_height_m=h)
    assert los.shape == (50, 60)
    assert np.all(nlos > los)


# ------------------------------------------------------------------------------ ITU-R P.1411


@pytest.mark.parametrize(
    ("freq_hz", "dist_m", "ref_db"),
    [
        # ns-3 src/propagation/test/itu-r-1411-los-test-suite.cc (hb 30 m, hm 1 m, tol 0.1 dB)
        (2.1140e9, 100.0, 81.005),
        (1999e6, 200.0, 87.060),
    ],
)
def test_itu_r_p1411_los_ns3_reference(freq_hz: float, dist_m: float, ref_db: float) -> None:
    # ns-3 places the nodes at (0, 0, 30) and (dist, 0, 1) and uses their 3D distance
    d3 = math.hypot(dist_m, 29.0)
    got = pl.itu_r_p1411_los_path_loss_db(d3, freq_hz, station_height_m=30.0, user_height_m=1.0)
    assert got == pytest.approx(ref_db, abs=0.005)


@pytest.mark.parametrize(
    ("freq_hz", "dist_m", "ref_db"),
    [
        # ns-3 src/propagation/test/itu-r-1411-nlos-over-rooftop-test-suite.cc
        # (hb 30 m, hm 1 m, urban, large city, ns-3 default street geometry; tol 0.1 dB)
        (2.1140e9, 900.0, 143.68),
        (1.865e9, 500.0, 132.84),
    ],
)
def test_itu_r_p1411_nlos_ns3_reference(freq_hz: float, dist_m: float, ref_db: float) -> None:
    def loss(d_m: float) -> float:
        return float(
            pl.itu_r_p1411_nlos_over_rooftop_path_loss_db(
                d_m, freq_hz, station_height_m=30.0, user_height_m=1.0
            )
        )

    # ns-3's C++ model uses the 3D distance; its test tolerance is 0.1 dB
    got_3d = loss(math.hypot(dist_m, 29.0))
    assert got_3d == pytest.approx(ref_db, abs=0.1)
    # the reference values come from ns-3's Octave script, evaluated at the 2D distance
    got_2d = loss(dist_m)
    assert got_2d == pytest.approx(ref_db, abs=0.005)


def test_itu_r_p1411_nlos_height_order_and_user_above_roofs() -> None:
    a = pl.itu_r_p1411_nlos_over_rooftop_path_loss_db(
        500.0, 2e9, station_height_m=30.0, user_height_m=1.5
    )
    b = pl.itu_r_p1411_nlos_over_rooftop_path_loss_db(
        500.0, 2e9, station_height_m=1.5, user_height_m=30.0
    )
    assert a == pytest.approx(float(b))
    # both ends above the 20 m rooftops: free space L_bf
    c = pl.itu_r_p1411_nlos_over_rooftop_path_loss_db(
        500.0, 2e9, station_height_m=70.0, user_height_m=25.0
    )
    assert c == pytest.approx(32.4 + 20 * math.log10(0.5) + 20 * math.log10(2000.0), abs=1e-9)


def test_itu_r_p1411_combined_picks_by_los() -> None:
    d = np.array([300.0, 300.0])
    got = pl.itu_r_p1411_path_loss_db(
        d, 2e9, los=np.array([True, False]), station_height_m=70.0, user_height_m=1.5
    )
    los = pl.itu_r_p1411_los_path_loss_db(300.0, 2e9, station_height_m=70.0, user_height_m=1.5)
    nlos = pl.itu_r_p1411_nlos_over_rooftop_path_loss_db(
        300.0, 2e9, station_height_m=70.0, user_height_m=1.5
    )
    np.testing.assert_allclose(got, [los, nlos])
    assert nlos > los


# ------------------------------------------------------------------------------ dispatcher


def test_default_model_is_tr36777_uma_av() -> None:
    assert PATHLOSS_MODELS[0] == "tr36777_uma_av"
    assert "tr36777_umi_av" in PATHLOSS_MODELS


@pytest.mark.parametrize("model", PATHLOSS_MODELS)
def test_dispatcher_every_model_broadcasts(model: str) -> None:
    d2 = np.array([[50.0, 200.0, 800.0]])
    h_station = np.array([[70.0], [40.0]])
    d3 = np.hypot(d2, h_station - 1.5)
    los = np.array([[True, False, True], [False, True, False]])
    got = pl.path_loss_db(
        model,
        d3,
        frequency_hz=F_3_5_GHZ,
        los=los,
        station_height_m=h_station,
        user_height_m=1.5,
        horizontal_distance_m=d2,
    )
    assert got.shape == (2, 3)
    assert np.all(np.isfinite(got))
    # every model loses at least about free space (P.1411 LoS's lower/upper median can dip 2 dB)
    assert np.all(got > pl.free_space_path_loss_db(d3, F_3_5_GHZ) - 3.0)


def test_dispatcher_matches_direct_calls() -> None:
    d2, h = 150.0, 70.0
    d3 = math.hypot(d2, h - 1.5)

    def loss(model: str, los: bool, environment: str = "urban") -> float:
        return float(
            pl.path_loss_db(
                model,
                d3,
                frequency_hz=F_3_5_GHZ,
                los=los,
                station_height_m=h,
                user_height_m=1.5,
                horizontal_distance_m=d2,
                environment=environment,
            )
        )

    fspl = float(pl.free_space_path_loss_db(d3, F_3_5_GHZ))
    assert loss("free_space", False) == pytest.approx(fspl)
    assert loss("tr36777_uma_av", False) == pytest.approx(
        float(pl.tr36777_uma_av_path_loss_db(d3, d2, F_3_5_GHZ, los=False, aerial_height_m=h))
    )
    assert loss("al_hourani", True, "paper004") == pytest.approx(fspl + 1.0)


def test_dispatcher_unknown_name_lists_allowed() -> None:
    with pytest.raises(ValueError, match="unknown path-loss model 'hata'") as info:
        pl.path_loss_db(
            "hata",
            100.0,
            frequency_hz=1e9,
            los=True,
            station_height_m=30.0,
            user_height_m=1.5,
            horizontal_distance_m=90.0,
        )
    for name in PATHLOSS_MODELS:
        assert name in str(info.value)


def test_dispatcher_al_hourani_mean_is_the_probability_weighted_loss() -> None:
    # paper 004 eqs. 1-3: FSPL + P_LoS eta_LoS + (1 - P_LoS) eta_NLoS, whatever the LoS flag says
    d2 = np.array([10.0, 150.0, 600.0])
    h_station, h_user = 70.0, 1.5
    d3 = np.hypot(d2, h_station - h_user)
    want = pl.al_hourani_mean_path_loss_db(d2, h_station - h_user, 5.25e9, environment="paper004")
    for los in (True, False):
        got = pl.path_loss_db(
            "al_hourani_mean",
            d3,
            frequency_hz=5.25e9,
            los=los,
            station_height_m=h_station,
            user_height_m=h_user,
            horizontal_distance_m=d2,
            environment="paper004",
        )
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # between the LoS and NLoS losses, close to LoS overhead and close to NLoS near the horizon
    fspl = pl.free_space_path_loss_db(d3, 5.25e9)
    assert np.all((want >= fspl + 1.0 - 1e-9) & (want <= fspl + 20.0 + 1e-9))
    assert want[0] - fspl[0] < 1.1
    assert want[2] - fspl[2] > 15.0
