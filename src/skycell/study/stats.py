"""Channel statistics of the ray-tracing study (paper 002 §3.6, Tables 9-10, Fig. 11).

Pure, vectorised functions over per-user, per-path arrays (``U`` users, ``P`` paths per user;
invalid path slots carry zero power):

* :func:`fit_close_in`: the close-in (CI) path-loss model of §3.6.1 fitted by least squares;
* :func:`combine_paths_dbm`: received power of §3.6.2 from the path amplitudes, summed as
  vectors (coherent, the paper's equation) or as powers (incoherent);
* :func:`rms_delay_spread_s`: RMS delay spread of the power delay profile (§3.6.4, Table 10);
* :func:`narrowband_phase_deg`: phase of the narrowband channel (Table 9 "phase shift").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.radio.pathloss import SPEED_OF_LIGHT_M_S, free_space_path_loss_db

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]
BoolArray = NDArray[np.bool_]

#: Path-combining rules accepted by :func:`combine_paths_dbm`.
COMBINING: Final[tuple[str, ...]] = ("coherent", "incoherent")


@dataclass(frozen=True)
class CloseInFit:
    """A fitted close-in path-loss model ``PL(d) = FSPL(f, d0) + 10 n log10(d / d0) + X_sigma``.

    Attributes:
        frequency_hz: carrier frequency [Hz].
        exponent: path-loss exponent ``n`` (least squares).
        sigma_db: shadowing standard deviation ``sigma`` [dB] (RMS of the residuals).
        fspl_d0_db: free-space path loss at the reference distance [dB].
        d0_m: reference distance [m].
        count: number of samples fitted.
        residual_db: ``(count,)`` residuals ``PL - model`` [dB] of the fitted samples.
    """

    frequency_hz: float
    exponent: float
    sigma_db: float
    fspl_d0_db: float
    d0_m: float
    count: int
    residual_db: FloatArray

    def path_loss_db(self, distance_m: ArrayLike) -> FloatArray:
        """The fitted mean path loss [dB] at ``distance_m`` [m] (no shadowing)."""
        d = np.asarray(distance_m, dtype=np.float64)
        return np.asarray(
            self.fspl_d0_db + 10.0 * self.exponent * np.log10(d / self.d0_m), dtype=np.float64
        )


def fit_close_in(
    distance_m: ArrayLike, path_loss_db: ArrayLike, frequency_hz: float, *, d0_m: float = 1.0
) -> CloseInFit:
    """Fit the close-in (CI) path-loss model to samples by least squares.

    Paper 002 §3.6.1 eq. (after 3GPP TR 38.901 §7.4.1 and Rappaport/Sun et al. 2016):
    ``PL_CI(d) = PL_FS(d0) + 10 n log10(d / d0) + X_sigma`` with
    ``PL_FS(d0) = 20 log10(4 pi f d0 / c)`` (ITU-R P.525; the paper's
    ``20 log10 f + 20 log10 d0 - 147.55``). With ``x = 10 log10(d / d0)`` and
    ``y = PL - PL_FS(d0)`` the least-squares exponent is ``n = sum(x y) / sum(x^2)`` (the CI model
    has no free intercept) and ``sigma = sqrt(mean((y - n x)^2))`` (the MMSE of the fit).

    Args:
        distance_m: ``(S,)`` transmitter-receiver distances [m] (> 0, at least one != d0).
        path_loss_db: ``(S,)`` path losses [dB] (finite).
        frequency_hz: carrier frequency [Hz] (> 0).
        d0_m: reference distance [m] (> 0; 1 m in the paper).

    Raises:
        ValueError: shapes differ, non-finite or non-positive values, or no usable sample.
    """
    d = np.asarray(distance_m, dtype=np.float64).ravel()
    pl = np.asarray(path_loss_db, dtype=np.float64).ravel()
    if d.shape != pl.shape:
        raise ValueError(
            f"distance_m and path_loss_db must have the same length, got {d.size} and {pl.size}"
        )
    if not (np.isfinite(frequency_hz) and frequency_hz > 0):
        raise ValueError(f"frequency_hz must be > 0 [Hz], got {frequency_hz}")
    if not (np.isfinite(d0_m) and d0_m > 0):
        raise ValueError(f"d0_m must be > 0 [m], got {d0_m}")
    if np.any(~np.isfinite(d) | (d <= 0)) or np.any(~np.isfinite(pl)):
        raise ValueError(
            "fit_close_in needs finite distances > 0 m and finite path losses; drop users "
            "without a path first"
        )
    fs0 = float(free_space_path_loss_db(d0_m, frequency_hz))
    x = 10.0 * np.log10(d / d0_m)
    y = pl - fs0
    sxx = float(np.dot(x, x))
    if d.size == 0 or sxx == 0.0:
        raise ValueError(
            "fit_close_in needs at least one sample at a distance other than d0_m; got "
            f"{d.size} sample(s)"
        )
    n = float(np.dot(x, y) / sxx)
    res = y - n * x
    return CloseInFit(
        frequency_hz=float(frequency_hz),
        exponent=n,
        sigma_db=float(np.sqrt(np.mean(res**2))),
        fspl_d0_db=fs0,
        d0_m=float(d0_m),
        count=int(d.size),
        residual_db=np.asarray(res, dtype=np.float64),
    )


def carrier_phasors(a: ArrayLike, delay_s: ArrayLike, frequency_hz: float) -> ComplexArray:
    """Path amplitudes at the carrier: ``a_i exp(-j 2 pi f tau_i)``.

    Sionna RT's path coefficients ``a_i`` leave out the propagation phase, which its
    ``Paths.cir`` applies as ``exp(-j 2 pi f tau_i)``; the paper's §3.6.2 sum carries it as
    ``e^{j phi_i}``.

    Args:
        a: ``(..., P)`` complex path amplitudes (any leading axes, e.g. ``(U, ports, P)``).
        delay_s: delays [s] broadcastable to ``a`` (e.g. ``(U, 1, P)``).
        frequency_hz: carrier frequency [Hz].
    """
    amp = np.asarray(a, dtype=np.complex128)
    tau = np.asarray(delay_s, dtype=np.float64)
    # phase = -2 pi f tau reduced modulo one cycle before the exponential (keeps precision)
    cycles = np.mod(frequency_hz * tau, 1.0)
    return np.asarray(amp * np.exp(-2j * np.pi * cycles), dtype=np.complex128)


def combine_paths_dbm(
    phasors: ArrayLike, tx_power_dbm: float, *, combining: str = "coherent"
) -> FloatArray:
    """Received power [dBm] of each user from its path amplitudes.

    Paper 002 §3.6.2: ``P_r = |sum_i sqrt(P_t G_t G_r) e^{j phi_i} lambda / (4 pi d_i) / L_i|^2``
    — the vector sum of the paths (``"coherent"``); ``"incoherent"`` sums the path powers
    ``sum_i |a_i|^2`` (the local mean over small-scale fading, as a radio map does). Receiver
    ports (axis -2) are summed in power (an ideal dual-polarised receiver).

    Args:
        phasors: ``(U, ports, P)`` complex amplitudes at the carrier (:func:`carrier_phasors`),
            0 for missing paths; ``|a|^2`` is the path gain including both antenna patterns.
        tx_power_dbm: transmit power [dBm].
        combining: ``"coherent"`` or ``"incoherent"``.

    Returns:
        ``(U,)`` received power [dBm], ``-inf`` for a user without any path.
    """
    h = np.asarray(phasors, dtype=np.complex128)
    if h.ndim != 3:
        raise ValueError(f"phasors must have shape (U, ports, P), got {h.shape}")
    if combining == "coherent":
        g = np.sum(np.abs(h.sum(axis=-1)) ** 2, axis=-1)
    elif combining == "incoherent":
        g = np.sum(np.abs(h) ** 2, axis=(-2, -1))
    else:
        raise ValueError(
            f"unknown combining {combining!r}; choose one of: {', '.join(map(repr, COMBINING))}"
        )
    with np.errstate(divide="ignore"):
        return np.asarray(tx_power_dbm + 10.0 * np.log10(g), dtype=np.float64)


def rms_delay_spread_s(delay_s: ArrayLike, power: ArrayLike) -> FloatArray:
    """RMS delay spread of each user's power delay profile [s].

    ``tau_rms = sqrt(sum P_i tau_i^2 / sum P_i - (sum P_i tau_i / sum P_i)^2)`` over the user's
    paths (paper 002 §3.6.4 with ``tau_i = d_i / c``; Rappaport, *Wireless Communications*,
    eqs. 5.35-5.38). Paths with zero power do not count; a single path gives 0.

    Args:
        delay_s: ``(U, P)`` path delays [s].
        power: ``(U, P)`` path powers (linear, >= 0; 0 for missing paths).

    Returns:
        ``(U,)`` RMS delay spread [s], NaN for a user without any path.
    """
    tau = np.asarray(delay_s, dtype=np.float64)
    p = np.asarray(power, dtype=np.float64)
    if tau.shape != p.shape:
        raise ValueError(f"delay_s and power must have the same shape, got {tau.shape}, {p.shape}")
    if np.any(p < 0):
        raise ValueError("path powers must be >= 0")
    tau = np.where(p > 0, tau, 0.0)
    tot = p.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.where(p > 0, tau, np.inf).min(axis=-1, initial=np.inf)
        ref = np.where(np.isfinite(ref), ref, 0.0)
        rel = np.where(p > 0, tau - ref[..., None], 0.0)  # excess delay: better conditioned
        m1 = (p * rel).sum(axis=-1) / tot
        m2 = (p * rel**2).sum(axis=-1) / tot
        out = np.sqrt(np.maximum(m2 - m1**2, 0.0))
    return np.asarray(np.where(tot > 0, out, np.nan), dtype=np.float64)


def narrowband_phase_deg(phasors: ArrayLike) -> FloatArray:
    """Phase of each user's narrowband channel ``h = sum_i a_i e^{-j 2 pi f tau_i}`` [deg].

    Paper 002 Table 9 reports the maximum, minimum and mean "final phase shift" of the received
    signal; skycell's reading is the argument of the co-polar channel coefficient (the vector sum
    of §3.6.2), wrapped to ``(-180, 180]`` degrees. Its magnitude is what the table summarises.

    Args:
        phasors: ``(U, P)`` complex amplitudes at the carrier of one receiver port.

    Returns:
        ``(U,)`` phase [deg], NaN for a user whose channel is exactly 0 (no path).
    """
    h = np.asarray(phasors, dtype=np.complex128).sum(axis=-1)
    ph = np.degrees(np.angle(h))
    ph = np.where(ph <= -180.0, ph + 360.0, ph)
    return np.asarray(np.where(h != 0, ph, np.nan), dtype=np.float64)


def path_length_m(delay_s: ArrayLike) -> FloatArray:
    """Geometric path length ``d_i = c tau_i`` [m] (paper 002 §3.6.4, eq. ``tau_i = d_i / c``)."""
    return np.asarray(np.asarray(delay_s, dtype=np.float64) * SPEED_OF_LIGHT_M_S)
