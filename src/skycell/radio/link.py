"""Link budget: unit conversions, thermal noise, SNR, SINR and Shannon rate (vectorised).

Powers are in dBm (``*_dbm``) or watts (``*_w``), ratios in dB (``*_db``) or linear. Arrays
follow the engine's layout: received powers ``(N, U)`` for N stations and U users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Boltzmann constant [J/K] (exact, SI 2019).
BOLTZMANN_J_K: Final[float] = 1.380649e-23
#: Reference noise temperature [K] (ITU-R P.372; IEEE noise-figure definition).
REFERENCE_TEMPERATURE_K: Final[float] = 290.0


def _f64(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def db_to_linear(value_db: ArrayLike) -> FloatArray:
    """``10^(x/10)``: a power ratio in dB to linear."""
    return _f64(np.power(10.0, _f64(value_db) / 10.0))


def linear_to_db(value: ArrayLike) -> FloatArray:
    """``10 log10(x)``: a linear power ratio to dB (0 gives ``-inf``, without a warning)."""
    with np.errstate(divide="ignore"):
        return _f64(10.0 * np.log10(_f64(value)))


def dbm_to_w(power_dbm: ArrayLike) -> FloatArray:
    """Power in dBm to watts: ``P_W = 10^((P_dBm - 30)/10)``."""
    return _f64(np.power(10.0, (_f64(power_dbm) - 30.0) / 10.0))


def w_to_dbm(power_w: ArrayLike) -> FloatArray:
    """Power in watts to dBm: ``P_dBm = 10 log10(P_W) + 30`` (0 W gives ``-inf``)."""
    return _f64(linear_to_db(power_w) + 30.0)


def thermal_noise_dbm(
    bandwidth_hz: ArrayLike,
    noise_figure_db: ArrayLike = 0.0,
    temperature_k: ArrayLike = REFERENCE_TEMPERATURE_K,
) -> FloatArray:
    """Receiver noise power [dBm]: ``10 log10(k T B / 1 mW) + NF``.

    Johnson-Nyquist noise ``k T B`` (k Boltzmann's constant) plus the receiver noise figure. At
    290 K, ``10 log10(k T / 1 mW) = -173.98 dBm/Hz`` (the familiar -174 dBm/Hz): 20 MHz with
    NF 7 dB gives -93.97 dBm.

    Args:
        bandwidth_hz: noise bandwidth B [Hz].
        noise_figure_db: receiver noise figure NF [dB].
        temperature_k: noise temperature T [K].
    """
    ktb_w = BOLTZMANN_J_K * _f64(temperature_k) * _f64(bandwidth_hz)
    return _f64(w_to_dbm(ktb_w) + _f64(noise_figure_db))


def snr_db(rx_power_dbm: ArrayLike, noise_dbm: ArrayLike) -> FloatArray:
    """Signal-to-noise ratio [dB]: ``P_rx - N`` (both in dBm)."""
    return _f64(_f64(rx_power_dbm) - _f64(noise_dbm))


@dataclass(frozen=True)
class SinrResult:
    """Per-user outcome of :func:`sinr`.

    Attributes:
        serving: ``(U,)`` index of the serving station of each user.
        signal_dbm: ``(U,)`` received power from the serving station [dBm].
        interference_dbm: ``(U,)`` summed power from every other station [dBm]
            (``-inf`` with a single station).
        sinr_db: ``(U,)`` signal to interference-plus-noise ratio [dB].
        sir_db: ``(U,)`` signal to interference ratio [dB] (``+inf`` without interferers).
    """

    serving: IntArray
    signal_dbm: FloatArray
    interference_dbm: FloatArray
    sinr_db: FloatArray
    sir_db: FloatArray


def sinr(
    rx_power_dbm: ArrayLike,
    noise_dbm: ArrayLike,
    *,
    serving: ArrayLike | None = None,
) -> SinrResult:
    """Downlink SINR of every user when all stations transmit on the same channel.

    ``SINR_u = P_{s(u),u} / (sum_{n != s(u)} P_{n,u} + N)`` in linear power (mW), with ``s(u)``
    the serving station (strongest received power unless given); every other station interferes
    at full power.

    Args:
        rx_power_dbm: ``(N, U)`` received power of station n at user u [dBm].
        noise_dbm: noise power [dBm], scalar or ``(U,)``.
        serving: optional ``(U,)`` serving-station index per user.

    Returns:
        A :class:`SinrResult` with ``(U,)`` arrays.

    Raises:
        ValueError: ``rx_power_dbm`` is not 2-D, has no station, or ``serving`` has the wrong
            shape or an index out of range.
    """
    p_dbm = _f64(rx_power_dbm)
    if p_dbm.ndim != 2 or p_dbm.shape[0] == 0:
        raise ValueError(
            f"rx_power_dbm must have shape (N stations >= 1, U users), got {p_dbm.shape}"
        )
    n_stations, n_users = p_dbm.shape
    if serving is None:
        serving_idx = np.argmax(p_dbm, axis=0).astype(np.int64)
    else:
        serving_idx = np.asarray(serving, dtype=np.int64).reshape(-1)
        if serving_idx.shape != (n_users,):
            raise ValueError(f"serving must have shape ({n_users},), got {serving_idx.shape}")
        if np.any((serving_idx < 0) | (serving_idx >= n_stations)):
            raise ValueError(f"serving indices must lie in [0, {n_stations - 1}]")
    users = np.arange(n_users)
    p_mw = db_to_linear(p_dbm)
    signal_mw = p_mw[serving_idx, users]
    others = np.ones(p_mw.shape, dtype=bool)
    others[serving_idx, users] = False
    interference_mw = np.where(others, p_mw, 0.0).sum(axis=0)
    noise_mw = db_to_linear(noise_dbm)
    signal_dbm = p_dbm[serving_idx, users]
    with np.errstate(divide="ignore"):
        sinr_lin = signal_mw / (interference_mw + noise_mw)
        sir_lin = signal_mw / interference_mw
    return SinrResult(
        serving=serving_idx,
        signal_dbm=_f64(signal_dbm),
        interference_dbm=linear_to_db(interference_mw),
        sinr_db=linear_to_db(sinr_lin),
        sir_db=linear_to_db(sir_lin),
    )


def shannon_rate_bps(sinr_db: ArrayLike, bandwidth_hz: ArrayLike) -> FloatArray:
    """Shannon capacity [bit/s]: ``C = B log2(1 + SINR)`` (SINR linear; paper 004 eq. 4)."""
    return _f64(_f64(bandwidth_hz) * np.log2(1.0 + db_to_linear(sinr_db)))


# ---------------------------------------------------------------------------------------------
# Link budget per user: demand -> MCS -> required SNR -> largest distance (coverage sphere)
# ---------------------------------------------------------------------------------------------


def max_distance_m(
    path_loss_db: Callable[[FloatArray], FloatArray],
    max_path_loss_db: ArrayLike,
    *,
    d_min_m: float = 1.0,
    d_max_m: float = 1.0e5,
    tol_m: float = 1e-3,
) -> FloatArray:
    """Largest distance [m] at which a path-loss model stays within each budget.

    Vectorised bisection on ``path_loss_db(d) <= max_path_loss_db`` for a model that increases
    with distance (all of skycell's do) and has no closed-form inverse (ITU-R P.1411's two slopes,
    TR 36.777, Al-Hourani at a fixed height). Budgets the model misses even at ``d_min_m`` give
    0; budgets it meets at ``d_max_m`` give ``d_max_m``.

    Args:
        path_loss_db: vectorised ``d -> PL(d)`` [m -> dB], called on arrays shaped like the budget.
        max_path_loss_db: budgets [dB].
        d_min_m, d_max_m: search interval [m].
        tol_m: bisection tolerance [m].

    Returns:
        Distances [m], shaped like ``max_path_loss_db``.
    """
    budget = np.asarray(max_path_loss_db, dtype=np.float64)
    lo = np.full(budget.shape, d_min_m)
    hi = np.full(budget.shape, d_max_m)
    ok_lo = path_loss_db(lo) <= budget
    ok_hi = path_loss_db(hi) <= budget
    steps = int(np.ceil(np.log2((d_max_m - d_min_m) / tol_m))) + 1
    for _ in range(steps):  # fixed number of halvings over all users at once
        mid = 0.5 * (lo + hi)
        ok = path_loss_db(mid) <= budget
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return np.asarray(np.where(ok_hi, d_max_m, np.where(ok_lo, lo, 0.0)), dtype=np.float64)


@dataclass(frozen=True)
class LinkBudget:
    """What each user's demand asks of its UAV link (papers 003 eq. 1c-3, 004 eqs. 5b-6).

    Attributes:
        required_snr_db: ``(U,)`` SNR the demand needs [dB] (NaN when infeasible).
        max_path_loss_db: ``(U,)`` largest path loss that still delivers it [dB].
        mcs: ``(U,)`` 802.11ac MCS index (-1 for NR or infeasible).
        feasible: ``(U,)`` whether any rate carries the demand.
        reason: ``(U,)`` empty, or why the user cannot be served.
    """

    required_snr_db: FloatArray
    max_path_loss_db: FloatArray
    mcs: NDArray[np.int64]
    feasible: NDArray[np.bool_]
    reason: tuple[str, ...]


def user_link_budget(
    demand_bps: ArrayLike,
    *,
    standard: str,
    tx_power_dbm: float,
    noise_floor_dbm: float,
    bandwidth_hz: float,
    channel_width_mhz: int = 20,
    guard_interval_ns: int = 800,
    spatial_streams: int = 1,
    antenna_gains_dbi: float = 0.0,
    rate_model: str = "shannon",
) -> LinkBudget:
    """Per-user link budget: the SNR each demand needs and the path loss that allows it.

    For ``nr``, ``rate_model`` picks the rate whose inverse is taken: ``shannon``
    (``SNR = 2^(D / B) - 1``) or ``nr-attenuated`` (3GPP TR 36.942 A.1, see
    :func:`skycell.radio.mcs.nr_rate_bps`: ``SNR = 2^(D / (alpha B)) - 1``, at least SNR_min,
    infeasible above ``B * SE_max``).

    ``wifi-80211ac``: the lowest MCS that carries the demand (:mod:`skycell.radio.mcs`) and its
    sensitivity over the noise floor. ``nr``: the Shannon inverse ``SNR = 2^(D / B) - 1`` on
    ``bandwidth_hz``. Then ``PL_max = P_tx + G - noise - SNR_req`` (paper 003 eq. 2).

    Args:
        demand_bps: ``(U,)`` demands [bit/s].
        standard: ``"wifi-80211ac"`` or ``"nr"``.
        tx_power_dbm: transmit power of the link [dBm] (paper 003: the user's 20 dBm).
        noise_floor_dbm: receiver noise floor [dBm].
        bandwidth_hz: channel bandwidth for ``nr`` [Hz].
        channel_width_mhz, guard_interval_ns, spatial_streams: 802.11ac PHY.
        antenna_gains_dbi: sum of both antennas' gains [dBi].
    """
    from skycell.radio.mcs import lowest_mcs_for_demand, vht_rate_bps

    d = np.atleast_1d(np.asarray(demand_bps, dtype=np.float64))
    if standard == "wifi-80211ac":
        choice = lowest_mcs_for_demand(
            d,
            noise_floor_dbm=noise_floor_dbm,
            channel_width_mhz=channel_width_mhz,
            guard_interval_ns=guard_interval_ns,
            spatial_streams=spatial_streams,
        )
        snr = choice.required_snr_db
        mcs = choice.mcs
        feasible = choice.feasible
        top = np.nanmax(
            vht_rate_bps(
                np.arange(10),
                channel_width_mhz=channel_width_mhz,
                guard_interval_ns=guard_interval_ns,
                spatial_streams=spatial_streams,
            )
        )
        why = (
            f"demand above the fastest 802.11ac rate ({top / 1e6:g} Mbit/s on "
            f"{channel_width_mhz} MHz, {spatial_streams} stream(s))"
        )
    elif standard == "nr" and rate_model == "nr-attenuated":
        from skycell.radio.mcs import NR_ALPHA, NR_MAX_SE, NR_SNR_MIN_DB

        se = d / bandwidth_hz
        snr = 10.0 * np.log10(np.expm1(se / NR_ALPHA * np.log(2.0)) + 1e-300)
        snr = np.where(d > 0, np.maximum(snr, NR_SNR_MIN_DB), -np.inf)
        mcs = np.full(d.shape, -1, dtype=np.int64)
        feasible = (se <= NR_MAX_SE * (1 + 1e-12)) & (np.isfinite(snr) | (d == 0))
        why = (
            f"demand above the NR peak of {NR_MAX_SE * bandwidth_hz / 1e6:g} Mbit/s on "
            f"{bandwidth_hz / 1e6:g} MHz"
        )
    elif standard == "nr":
        if rate_model != "shannon":
            raise ValueError(f"unknown rate model {rate_model!r}; allowed: shannon, nr-attenuated")
        snr = 10.0 * np.log10(np.expm1(d / bandwidth_hz * np.log(2.0)) + 1e-300)
        snr = np.where(d > 0, snr, -np.inf)
        mcs = np.full(d.shape, -1, dtype=np.int64)
        feasible = np.isfinite(snr) | (d == 0)
        why = "demand not finite"
    else:
        raise ValueError(f"unknown radio standard {standard!r}; allowed: nr, wifi-80211ac")
    max_pl = tx_power_dbm + antenna_gains_dbi - noise_floor_dbm - snr
    return LinkBudget(
        required_snr_db=np.asarray(snr, dtype=np.float64),
        max_path_loss_db=np.asarray(np.where(feasible, max_pl, np.nan), dtype=np.float64),
        mcs=np.asarray(mcs, dtype=np.int64),
        feasible=np.asarray(feasible, dtype=bool),
        reason=tuple("" if f else why for f in feasible),
    )
