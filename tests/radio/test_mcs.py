"""802.11ac MCS table against the published rates (NOTES.md, IEEE 802.11-2016) and the demand ->
MCS -> SNR chain of papers 003 and 004."""

from __future__ import annotations

import numpy as np
import pytest

from skycell.radio.mcs import (
    lowest_mcs_for_demand,
    nr_rate_bps,
    vht_rate_bps,
    vht_rate_from_snr_bps,
    vht_sensitivity_dbm,
)

PUBLISHED_MBPS = {
    20: [6.5, 13, 19.5, 26, 39, 52, 58.5, 65, 78, np.nan],
    40: [13.5, 27, 40.5, 54, 81, 108, 121.5, 135, 162, 180],
    80: [29.3, 58.5, 87.8, 117, 175.5, 234, 263.3, 292.5, 351, 390],
    160: [58.5, 117, 175.5, 234, 351, 468, 526.5, 585, 702, 780],
}


@pytest.mark.parametrize("width", [20, 40, 80, 160])
def test_rates_match_published_table(width: int) -> None:
    got = vht_rate_bps(np.arange(10), channel_width_mhz=width) / 1e6
    np.testing.assert_allclose(got, PUBLISHED_MBPS[width], atol=0.06, equal_nan=True)


def test_guard_interval_and_streams() -> None:
    base = vht_rate_bps(np.arange(9), channel_width_mhz=20)
    short = vht_rate_bps(np.arange(9), channel_width_mhz=20, guard_interval_ns=400)
    np.testing.assert_allclose(short / base, 10 / 9)
    three = vht_rate_bps(np.arange(10), channel_width_mhz=20, spatial_streams=3)
    assert three[9] == pytest.approx(260e6)  # MCS 9 is allowed with 3 streams: 3 x 86.67 Mbit/s
    assert np.isnan(vht_rate_bps(6, channel_width_mhz=80, spatial_streams=3))
    with pytest.raises(ValueError, match="channel width"):
        vht_rate_bps(0, channel_width_mhz=30)


def test_sensitivity_table() -> None:
    assert vht_sensitivity_dbm(np.arange(10)).tolist() == [
        -82, -79, -77, -74, -70, -66, -65, -64, -59, -57,
    ]  # fmt: skip
    assert vht_sensitivity_dbm(0, channel_width_mhz=160) == pytest.approx(-73.0)


def test_lowest_mcs_for_paper_demands() -> None:
    # paper 004 scenario A: 6.5, 13, 19.5, 26, 39, 52 Mbit/s on 20 MHz are MCS 0-5
    choice = lowest_mcs_for_demand(
        np.array([6.5, 13, 19.5, 26, 39, 52]) * 1e6, noise_floor_dbm=-85.0
    )
    assert choice.mcs.tolist() == [0, 1, 2, 3, 4, 5]
    # paper 003 Table I noise floor -85 dBm: MCS 0 needs -82 dBm, i.e. 3 dB SNR
    assert choice.required_snr_db[0] == pytest.approx(3.0)
    # paper 003's 58.5-234 Mbit/s are MCS 0-3 on 160 MHz
    c160 = lowest_mcs_for_demand(
        np.array([58.5, 117, 175.5, 234]) * 1e6, noise_floor_dbm=-85.0, channel_width_mhz=160
    )
    assert c160.mcs.tolist() == [0, 1, 2, 3]
    # a demand no MCS carries on 20 MHz / 1 stream
    bad = lowest_mcs_for_demand(np.array([1e6, 100e6]), noise_floor_dbm=-85.0)
    assert bad.feasible.tolist() == [True, False] and bad.mcs[1] == -1


def test_rate_from_snr_is_the_inverse() -> None:
    choice = lowest_mcs_for_demand(np.array([26e6]), noise_floor_dbm=-85.0)
    snr = choice.required_snr_db
    assert vht_rate_from_snr_bps(snr, noise_floor_dbm=-85.0)[0] == pytest.approx(26e6)
    assert vht_rate_from_snr_bps(snr - 0.01, noise_floor_dbm=-85.0)[0] == pytest.approx(19.5e6)
    assert vht_rate_from_snr_bps(np.array([-20.0]), noise_floor_dbm=-85.0)[0] == 0.0


def test_nr_rate() -> None:
    assert nr_rate_bps(-11.0, 20e6) == 0.0
    assert nr_rate_bps(0.0, 20e6) == pytest.approx(20e6 * 0.6)
    assert nr_rate_bps(60.0, 20e6) == pytest.approx(20e6 * 4.8)
