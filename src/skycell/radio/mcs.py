"""IEEE 802.11ac (VHT) modulation and coding schemes: data rates, receiver sensitivity, and the
lowest MCS that carries a demand; an NR-style rate from SINR as the cellular option.

Sources:

* Data rates: IEEE Std 802.11-2016 §21.5 (VHT PHY), ``rate = N_SD * N_BPSCS * R * N_SS / T_sym``
  with N_SD = 52, 108, 234, 468 data subcarriers for 20, 40, 80, 160 MHz, N_BPSCS and R per MCS
  (Table 21-29 ff.), T_sym = 4.0 us with the 800 ns guard interval and 3.6 us with 400 ns. This
  reproduces the published tables (6.5 Mbit/s for MCS 0 at 20 MHz, 58.5 Mbit/s for MCS 0 at
  160 MHz, 780 Mbit/s for MCS 9 at 160 MHz; papers 003 and 004 use these numbers).
* Combinations the standard does not allow (N_DBPS not an integer): MCS 9 at 20 MHz with 1, 2, 4,
  5, 7 or 8 streams; MCS 6 at 80 MHz with 3 or 7 streams; MCS 9 at 80 MHz with 6 streams; MCS 9
  at 160 MHz with 3 streams.
* Minimum receiver sensitivity: IEEE Std 802.11-2016 Table 21-25, 20 MHz: -82, -79, -77, -74,
  -70, -66, -65, -64, -59, -57 dBm for MCS 0-9, 3 dB higher for each doubling of the width. The
  SNR an MCS needs over a given noise floor is ``sensitivity - noise_floor`` (with paper 003's
  -85 dBm floor: 3 dB for MCS 0 at 20 MHz).
* NR-style rate: 3GPP TR 38.306 §4.1.2 peak-rate form with the attenuated-Shannon bound of
  3GPP TR 36.942 Annex A.1 (alpha = 0.6, SNR_min = -10 dB, max 4.8 bit/s/Hz (256-QAM 948/1024
  with overheads)), ``rate = B * min(alpha * log2(1 + SINR), thr_max)``, zero below SNR_min.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: Channel widths of 802.11ac [MHz] and their data subcarriers N_SD.
DATA_SUBCARRIERS: dict[int, int] = {20: 52, 40: 108, 80: 234, 160: 468}
#: Coded bits per subcarrier N_BPSCS for MCS 0-9 (BPSK, QPSK, QPSK, 16-, 16-, 64-, 64-, 64-QAM,
#: 256-, 256-QAM).
BITS_PER_SUBCARRIER = np.array([1, 2, 2, 4, 4, 6, 6, 6, 8, 8], dtype=np.float64)
#: Coding rate R for MCS 0-9.
CODING_RATE = np.array([1 / 2, 1 / 2, 3 / 4, 1 / 2, 3 / 4, 2 / 3, 3 / 4, 5 / 6, 3 / 4, 5 / 6])
#: Modulation names for MCS 0-9.
MODULATION = ("BPSK", "QPSK", "QPSK", "16-QAM", "16-QAM", "64-QAM", "64-QAM", "64-QAM", "256-QAM",
              "256-QAM")  # fmt: skip
#: Minimum receiver sensitivity at 20 MHz for MCS 0-9 [dBm] (IEEE 802.11-2016 Table 21-25).
SENSITIVITY_20MHZ_DBM = np.array([-82, -79, -77, -74, -70, -66, -65, -64, -59, -57], dtype=float)
#: Symbol duration by guard interval [s].
SYMBOL_DURATION_S: dict[int, float] = {800: 4.0e-6, 400: 3.6e-6}
_INVALID: set[tuple[int, int, int]] = {(9, 20, n) for n in (1, 2, 4, 5, 7, 8)} | {
    (6, 80, 3),
    (6, 80, 7),
    (9, 80, 6),
    (9, 160, 3),
}


def _check_phy(channel_width_mhz: int, guard_interval_ns: int, spatial_streams: int) -> None:
    problems = []
    if channel_width_mhz not in DATA_SUBCARRIERS:
        problems.append(f"channel width {channel_width_mhz} MHz (allowed: 20, 40, 80, 160)")
    if guard_interval_ns not in SYMBOL_DURATION_S:
        problems.append(f"guard interval {guard_interval_ns} ns (allowed: 800, 400)")
    if not 1 <= spatial_streams <= 8:
        problems.append(f"{spatial_streams} spatial streams (allowed: 1-8)")
    if problems:
        raise ValueError("802.11ac: unsupported " + "; ".join(problems))


def vht_rate_bps(
    mcs: ArrayLike,
    *,
    channel_width_mhz: int = 20,
    guard_interval_ns: int = 800,
    spatial_streams: int = 1,
) -> FloatArray:
    """802.11ac PHY data rate [bit/s] of MCS 0-9 (NaN where the standard forbids the combination).

    ``N_SD * N_BPSCS * R * N_SS / T_sym`` (IEEE 802.11-2016 §21.5).
    """
    _check_phy(channel_width_mhz, guard_interval_ns, spatial_streams)
    m = np.asarray(mcs, dtype=np.int64)
    if np.any((m < 0) | (m > 9)):
        raise ValueError(f"802.11ac MCS must be 0-9, got {np.unique(m[(m < 0) | (m > 9)])}")
    rate = (
        DATA_SUBCARRIERS[channel_width_mhz]
        * BITS_PER_SUBCARRIER[m]
        * CODING_RATE[m]
        * spatial_streams
        / SYMBOL_DURATION_S[guard_interval_ns]
    )
    bad = np.isin(m, [k for k, w, n in _INVALID if w == channel_width_mhz and n == spatial_streams])
    return np.asarray(np.where(bad, np.nan, rate), dtype=np.float64)


def vht_sensitivity_dbm(mcs: ArrayLike, *, channel_width_mhz: int = 20) -> FloatArray:
    """Minimum receiver sensitivity [dBm] of MCS 0-9 (IEEE 802.11-2016 Table 21-25): the 20 MHz
    value plus 3 dB per doubling of the channel width."""
    _check_phy(channel_width_mhz, 800, 1)
    m = np.asarray(mcs, dtype=np.int64)
    doublings = np.log2(channel_width_mhz / 20)
    return np.asarray(SENSITIVITY_20MHZ_DBM[m] + 3.0 * doublings, dtype=np.float64)


@dataclass(frozen=True)
class McsChoice:
    """The lowest MCS that carries each demand.

    Attributes:
        mcs: ``(U,)`` MCS index, -1 where no MCS carries the demand.
        rate_bps: ``(U,)`` PHY rate of that MCS [bit/s] (NaN when infeasible).
        sensitivity_dbm: ``(U,)`` minimum received power it needs [dBm].
        required_snr_db: ``(U,)`` SNR it needs over the noise floor [dB].
        feasible: ``(U,)`` whether some MCS carries the demand.
    """

    mcs: NDArray[np.int64]
    rate_bps: FloatArray
    sensitivity_dbm: FloatArray
    required_snr_db: FloatArray
    feasible: NDArray[np.bool_]


def lowest_mcs_for_demand(
    demand_bps: ArrayLike,
    *,
    noise_floor_dbm: float,
    channel_width_mhz: int = 20,
    guard_interval_ns: int = 800,
    spatial_streams: int = 1,
) -> McsChoice:
    """For each demand, the lowest 802.11ac MCS whose rate is at least the demand, the receiver
    sensitivity it needs and the SNR over ``noise_floor_dbm`` that implies (papers 003 eq. 1c and
    004 eq. 5b: a user's demand fixes its MCS and so the SNR its UAV link must reach).

    Args:
        demand_bps: ``(U,)`` demands [bit/s] (0: best effort, served by MCS 0).
        noise_floor_dbm: receiver noise floor [dBm] (paper 003 Table I: -85 dBm).
        channel_width_mhz, guard_interval_ns, spatial_streams: the PHY configuration.

    Returns:
        An :class:`McsChoice`; ``feasible`` is False where even MCS 9 (or the highest allowed)
        is too slow.
    """
    d = np.atleast_1d(np.asarray(demand_bps, dtype=np.float64))
    rates = vht_rate_bps(
        np.arange(10),
        channel_width_mhz=channel_width_mhz,
        guard_interval_ns=guard_interval_ns,
        spatial_streams=spatial_streams,
    )
    ok = np.where(np.isnan(rates), False, rates[None, :] >= d[:, None] * (1 - 1e-9))  # (U, 10)
    feasible = ok.any(axis=1)
    mcs = np.where(feasible, np.argmax(ok, axis=1), -1).astype(np.int64)
    safe = np.maximum(mcs, 0)
    sens = vht_sensitivity_dbm(safe, channel_width_mhz=channel_width_mhz)
    return McsChoice(
        mcs=mcs,
        rate_bps=np.where(feasible, rates[safe], np.nan),
        sensitivity_dbm=np.where(feasible, sens, np.nan),
        required_snr_db=np.where(feasible, sens - noise_floor_dbm, np.nan),
        feasible=np.asarray(feasible, dtype=bool),
    )


def vht_rate_from_snr_bps(
    snr_db: ArrayLike,
    *,
    noise_floor_dbm: float,
    channel_width_mhz: int = 20,
    guard_interval_ns: int = 800,
    spatial_streams: int = 1,
) -> FloatArray:
    """Rate [bit/s] of the highest MCS whose sensitivity the received power meets (0 below MCS 0).

    The received power is ``snr_db + noise_floor_dbm``; this is the rate an ideal rate manager
    (ns-3 ``IdealWifiManager``) settles on for a static link.
    """
    rx_dbm = np.asarray(snr_db, dtype=np.float64) + noise_floor_dbm
    sens = vht_sensitivity_dbm(np.arange(10), channel_width_mhz=channel_width_mhz)
    rates = vht_rate_bps(
        np.arange(10),
        channel_width_mhz=channel_width_mhz,
        guard_interval_ns=guard_interval_ns,
        spatial_streams=spatial_streams,
    )
    usable = np.where(np.isnan(rates), False, rx_dbm[..., None] >= sens)
    best = np.where(usable, np.nan_to_num(rates), 0.0).max(axis=-1)
    return np.asarray(best, dtype=np.float64)


#: Attenuated-Shannon parameters of 3GPP TR 36.942 Annex A.1 (downlink): alpha, SNR_min [dB],
#: maximum spectral efficiency [bit/s/Hz].
NR_ALPHA = 0.6
NR_SNR_MIN_DB = -10.0
NR_MAX_SE = 4.8


def nr_rate_bps(
    sinr_db: ArrayLike,
    bandwidth_hz: float,
    *,
    alpha: float = NR_ALPHA,
    snr_min_db: float = NR_SNR_MIN_DB,
    max_spectral_efficiency: float = NR_MAX_SE,
) -> FloatArray:
    """NR-style link rate [bit/s]: attenuated Shannon bound (3GPP TR 36.942 Annex A.1),
    ``B * min(alpha * log2(1 + SINR), SE_max)``, zero below ``snr_min_db``."""
    s = np.asarray(sinr_db, dtype=np.float64)
    se = np.minimum(alpha * np.log2(1.0 + 10.0 ** (s / 10.0)), max_spectral_efficiency)
    return np.asarray(np.where(s < snr_min_db, 0.0, bandwidth_hz * se), dtype=np.float64)
