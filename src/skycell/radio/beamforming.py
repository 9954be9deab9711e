"""Multi-antenna downlink: planar arrays, MISO channels from paths, zero forcing, DFT codebook.

Paper 001 §2.1 puts an ``M_T``-element array on the UAV and serves ``K`` single-antenna users by
zero-forcing (ZF) precoding. This module holds the physics and the linear algebra, as pure,
vectorised functions over any leading batch shape (UAV positions, ranks):

* :class:`PlanarArray` — a uniform planar array (UPA), ``rows x cols`` elements spaced
  ``spacing_wavelengths`` apart, laid out exactly as Sionna RT's ``PlanarArray`` (local y-z
  plane, boresight local +x, element ``e = col * rows + row``), mechanically oriented by
  azimuth and tilt (:func:`skycell.radio.antenna.rotation_matrix`; tilt 90 deg faces the ground
  and makes the array horizontal).
* :func:`steering_vectors`, :func:`channel_from_paths` — paper 001 eq. 4 with the array: the
  coefficient of element ``m`` toward user ``k`` is ``h_{k,m} = sum_p a_p exp(j 2 pi / lambda
  k_p . r_m)``, with ``a_p`` the path's complex coefficient *including* the carrier phase
  ``exp(-j 2 pi f_c tau_p)`` (:func:`carrier_phase_coefficients`) and ``k_p`` its unit departure
  direction — the plane-wave ("synthetic array") model Sionna RT itself applies.
* :func:`zf_precoder`, :func:`sinr`, :func:`sum_rate_bps_hz` — eqs. 1-3.
* :func:`greedy_user_order`, :func:`rank_adaptive_zf` — rank-adaptive ZF and eq. 5.
* :func:`dft_codebook`, :func:`dft_beam_transmission` — the "non-twin" DFT-codebook baseline of
  Fig. 10.
* :class:`PathSet`, :func:`analytic_paths`, :func:`sionna_paths` — the paths of the analytic
  engine (one geometric path per link) and of Sionna RT (every traced path).

Units and scaling. Channel coefficients are amplitude gains (``|h|^2`` is a power ratio, the
element and user patterns included). The precoder obeys eq. 1's per-user constraint
``Tr(f_k f_k^H) = M_T / n`` for ``n`` served users (so ``Tr(F F^H) = M_T``), and a unit of
``||f||^2`` radiates ``tx_power_w / M_T``: the total radiated power is ``tx_power_w``. Hence eq. 2
in watts::

    Gamma_k = (P/M_T) |h_k f_k|^2 / ((P/M_T) sum_{l != k} |h_k f_l|^2 + sigma^2)

and a matched filter to one user (``f = sqrt(M_T) h^H / ||h||``) gives ``P ||h||^2 / sigma^2``,
the full array gain.

Readings of paper 001 (its tables were lost in the text conversion):

* **Eq. 4's phase.** The paper writes ``exp(+j 2 pi f_c tau)``; the physical convention (and
  Sionna RT's ``Paths.cir``) is ``exp(-j 2 pi f_c tau)``. Conjugating every coefficient changes no
  rate, so only the sign convention differs; the delta term is dropped as the paper says.
* **Rank-adaptive ZF and eq. 5.** ``r = 1/N_R sum_{n=1}^{N_R} sum_k log2(1 + Gamma_k)``: for each
  transmission rank ``n = 1..N_R`` the scheduler selects ``n`` of the candidate users ("K
  individual UEs are selected from the possible UE locations", §3), precodes them by ZF with the
  eq. 1 power split ``M_T / n`` and the reward averages the rank-``n`` sum rates over the ranks.
  Selection is greedy and nested — the semi-orthogonal (Gram-Schmidt) user selection of Yoo &
  Goldsmith (IEEE JSAC 2006) without its threshold, as Dimic & Sidiropoulos (IEEE TSP 2005): the
  next user is the one whose channel keeps the largest norm after projection off the span of
  the users already chosen, i.e. the largest ZF gain ``1 / [(H H^H)^{-1}]_kk`` among
  candidates. ``N_R`` defaults to ``min(M_T, K)``. The rate of the best rank
  (:attr:`RankAdaptiveResult.best_sum_rate_bps_hz`) is reported too.
* **DFT codebook** (Fig. 10, "non-twin"): the station knows no channel, only which beam of a
  fixed 2-D DFT codebook each user reports strongest (beam sweep); at rank ``n`` it serves the
  ``n`` strongest users on distinct beams with ``f_k = sqrt(M_T / n) b_k``, and every other beam
  interferes (eq. 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.errors import SkycellError
from skycell.radio.antenna import rotation_matrix
from skycell.radio.pathloss import SPEED_OF_LIGHT_M_S

if TYPE_CHECKING:
    import torch

    from skycell.radio.engine import AnalyticEngine
    from skycell.radio.sionna_engine import SionnaEngine

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: SINR floor of the mean SINR in dB (:attr:`RankAdaptiveResult.mean_sinr_db`).
SINR_FLOOR_DB: Final[float] = -50.0

#: Squared channel norm below which a user counts as unreachable (no path): it is never
#: scheduled before a reachable user, and its rate is zero.
NO_PATH_GAIN: Final[float] = 1e-30

__all__ = [
    "NO_PATH_GAIN",
    "SINR_FLOOR_DB",
    "PathSet",
    "PlanarArray",
    "RankAdaptiveResult",
    "analytic_paths",
    "carrier_phase_coefficients",
    "channel_from_paths",
    "dft_beam_transmission",
    "dft_codebook",
    "greedy_user_order",
    "rank_adaptive_zf",
    "rank_average_sum_rate_torch",
    "sinr",
    "sionna_paths",
    "steering_vectors",
    "sum_rate_bps_hz",
    "wavelength_m",
    "zf_precoder",
]


def wavelength_m(frequency_hz: float) -> float:
    """Free-space wavelength ``c / f`` [m].

    Raises:
        SkycellError: a frequency that is not a positive finite number.
    """
    if not (math.isfinite(frequency_hz) and frequency_hz > 0):
        raise SkycellError(f"frequency_hz must be a positive number [Hz], got {frequency_hz!r}")
    return SPEED_OF_LIGHT_M_S / float(frequency_hz)


# ---------------------------------------------------------------------------------------------
# Arrays and steering vectors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanarArray:
    """A uniform planar array of ``rows x cols`` identical elements (paper 001: ``M_T``).

    Layout (Sionna RT's ``PlanarArray``): in the array's local frame the elements lie in the
    y-z plane, boresight along local +x; element ``e = col * rows + row`` sits at
    ``y = (col - (cols - 1) / 2) d``, ``z = -(row - (rows - 1) / 2) d`` with
    ``d = spacing_wavelengths * lambda``.

    Attributes:
        rows: elements along local z (>= 1).
        cols: elements along local y (>= 1).
        spacing_wavelengths: element spacing in wavelengths (> 0; 0.5 = half-wavelength).
    """

    rows: int = 4
    cols: int = 4
    spacing_wavelengths: float = 0.5

    def __post_init__(self) -> None:
        problems = []
        for name in ("rows", "cols"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                problems.append(f"{name}={v!r}: must be an integer >= 1")
        s = self.spacing_wavelengths
        if not (isinstance(s, int | float) and math.isfinite(s) and s > 0):
            problems.append(f"spacing_wavelengths={s!r}: must be a positive number")
        if problems:
            raise SkycellError("PlanarArray: " + "; ".join(problems))

    @property
    def elements(self) -> int:
        """``M_T = rows * cols``."""
        return int(self.rows) * int(self.cols)

    def local_offsets_wavelengths(self) -> FloatArray:
        """``(M_T, 3)`` element positions in the local frame [wavelengths]."""
        e = np.arange(self.elements)
        col, row = np.divmod(e, int(self.rows))
        d = float(self.spacing_wavelengths)
        out = np.zeros((self.elements, 3))
        out[:, 1] = (col - (self.cols - 1) / 2.0) * d
        out[:, 2] = -(row - (self.rows - 1) / 2.0) * d
        return out

    def element_offsets_m(
        self, frequency_hz: float, *, azimuth_deg: float = 0.0, tilt_deg: float = 90.0
    ) -> FloatArray:
        """``(M_T, 3)`` element positions relative to the array centre, global frame [m].

        Args:
            frequency_hz: carrier frequency [Hz] (sets the wavelength).
            azimuth_deg: boresight heading, counter-clockwise from +x [deg].
            tilt_deg: boresight downtilt [deg]; 90 (default) faces the ground, the array then
                lies in the horizontal plane (local z along global +x, local y along global y).
        """
        rot = rotation_matrix(azimuth_deg, tilt_deg)
        local = self.local_offsets_wavelengths() * wavelength_m(frequency_hz)
        return np.asarray(local @ rot.T, dtype=np.float64)


def steering_vectors(
    directions: ArrayLike, element_offsets_m: ArrayLike, frequency_hz: float
) -> ComplexArray:
    """Array response ``exp(j 2 pi / lambda d . r_m)`` toward unit directions ``d``.

    The plane-wave phase of element ``m`` at offset ``r_m`` relative to the array centre for a
    wave leaving (or arriving) along ``d``: the path from that element is ``d . r_m`` shorter,
    hence the phase lead (same sign as Sionna RT's synthetic arrays).

    Args:
        directions: ``(..., 3)`` unit vectors (global frame).
        element_offsets_m: ``(M, 3)`` element offsets [m] (:meth:`PlanarArray.element_offsets_m`).
        frequency_hz: carrier frequency [Hz].

    Returns:
        ``(..., M)`` complex unit-modulus responses.
    """
    d = np.asarray(directions, dtype=np.float64)
    r = np.asarray(element_offsets_m, dtype=np.float64)
    k0 = 2.0 * np.pi / wavelength_m(frequency_hz)
    return np.asarray(np.exp(1j * k0 * (d @ r.T)), dtype=np.complex128)


def carrier_phase_coefficients(
    amplitude: ArrayLike, delay_s: ArrayLike, frequency_hz: float
) -> ComplexArray:
    """Path coefficients with the carrier phase: ``a exp(-j 2 pi f_c tau)`` (paper 001 eq. 4).

    Args:
        amplitude: complex (or real) path amplitudes without the propagation phase (Sionna RT's
            ``Paths.a``, antenna patterns and interactions included).
        delay_s: path delays ``tau`` [s], broadcast against ``amplitude``.
        frequency_hz: carrier frequency ``f_c`` [Hz].
    """
    tau = np.asarray(delay_s, dtype=np.float64)
    a = np.asarray(amplitude, dtype=np.complex128)
    return np.asarray(a * np.exp(-2j * np.pi * float(frequency_hz) * tau), dtype=np.complex128)


def channel_from_paths(
    coefficients: ArrayLike,
    directions: ArrayLike,
    element_offsets_m: ArrayLike,
    frequency_hz: float,
) -> ComplexArray:
    """MISO channel ``h_{k,m} = sum_p a_p exp(j 2 pi / lambda k_p . r_m)`` (paper 001 eq. 4).

    Args:
        coefficients: ``(..., P)`` complex path coefficients *with* the carrier phase
            (:func:`carrier_phase_coefficients`); 0 for padding paths.
        directions: ``(..., P, 3)`` unit departure directions (global frame).
        element_offsets_m: ``(M, 3)`` element offsets [m].
        frequency_hz: carrier frequency [Hz].

    Returns:
        ``(..., M)`` channel row vectors (a batch of ``h_k``).
    """
    a = np.asarray(coefficients, dtype=np.complex128)
    sv = steering_vectors(directions, element_offsets_m, frequency_hz)  # (..., P, M)
    return np.asarray(np.einsum("...p,...pm->...m", a, sv), dtype=np.complex128)


# ---------------------------------------------------------------------------------------------
# Zero forcing, SINR, rates (eqs. 1-3)
# ---------------------------------------------------------------------------------------------


def zf_precoder(channel: ArrayLike) -> ComplexArray:
    """Zero-forcing precoder ``F = H^+`` with eq. 1's power split (paper 001 eq. 1).

    ``H^+ = H^H (H H^H)^{-1}`` (so ``H F`` is diagonal when ``H`` has full row rank); each column
    is scaled to ``||f_k||^2 = Tr(f_k f_k^H) = M_T / n`` for the ``n`` users of ``H``. Computed
    through the ``n x n`` Gram matrix; where that fails to zero-force (a rank-deficient ``H``,
    e.g. two users on one ray, or one without any path) the pseudo-inverse is used instead:
    the minimum-norm least-squares precoder, whose residual interference eq. 2 then counts. A
    zero column (a user without any channel) stays zero.

    Args:
        channel: ``(..., n, M_T)`` channels of the ``n`` served users.

    Returns:
        ``(..., M_T, n)`` precoder.
    """
    h = np.asarray(channel, dtype=np.complex128)
    n, m = h.shape[-2], h.shape[-1]
    batch = h.shape[:-2]
    hf = h.reshape(-1, n, m)
    hh = hf.conj().transpose(0, 2, 1)
    gram = hf @ hh
    eye = np.eye(n)
    with np.errstate(all="ignore"):
        try:
            f = hh @ np.linalg.inv(gram)
        except np.linalg.LinAlgError:  # an exactly singular Gram matrix somewhere in the batch
            f = np.full(hh.shape, np.nan, dtype=np.complex128)
        g = hf @ f
        bad = ~np.all(np.isfinite(g), axis=(-2, -1)) | (np.abs(g - eye).max(axis=(-2, -1)) > 1e-6)
    if bad.any():
        f[bad] = np.linalg.pinv(hf[bad], rcond=1e-12)
    norm = np.linalg.norm(f, axis=-2, keepdims=True)
    scale = np.sqrt(m / n) / np.where(norm > 0.0, norm, 1.0)
    return np.asarray((f * scale).reshape(*batch, m, n), dtype=np.complex128)


def sinr(
    channel: ArrayLike,
    precoder: ArrayLike,
    *,
    tx_power_w: float,
    noise_power_w: float,
) -> FloatArray:
    """SINR of every served user (paper 001 eq. 2), linear.

    ``Gamma_k = (P/M_T) |h_k f_k|^2 / ((P/M_T) sum_{l != k} |h_k f_l|^2 + sigma^2)``: a unit of
    ``||f||^2`` radiates ``P / M_T`` (see the module docstring).

    Args:
        channel: ``(..., n, M_T)`` channels of the served users.
        precoder: ``(..., M_T, n)`` their precoders (column ``k`` serves user ``k``).
        tx_power_w: total transmit power ``P`` [W].
        noise_power_w: noise power ``sigma^2`` [W].

    Returns:
        ``(..., n)`` SINR (linear).
    """
    h = np.asarray(channel, dtype=np.complex128)
    f = np.asarray(precoder, dtype=np.complex128)
    per_unit = float(tx_power_w) / h.shape[-1]
    g = np.abs(h @ f) ** 2 * per_unit  # (..., n, n): power of stream l at user k
    signal = np.diagonal(g, axis1=-2, axis2=-1)
    interference = g.sum(axis=-1) - signal
    return np.asarray(signal / (interference + float(noise_power_w)), dtype=np.float64)


def sum_rate_bps_hz(sinr_linear: ArrayLike, *, axis: int = -1) -> FloatArray:
    """Achievable sum rate ``R = sum_k log2(1 + Gamma_k)`` [bit/s/Hz] (paper 001 eq. 3)."""
    return np.asarray(np.log2(1.0 + np.asarray(sinr_linear, np.float64)).sum(axis=axis))


# ---------------------------------------------------------------------------------------------
# Rank-adaptive ZF (eq. 5)
# ---------------------------------------------------------------------------------------------


def greedy_user_order(channel: ArrayLike, max_rank: int) -> IntArray:
    """Nested greedy user selection for ranks ``1..max_rank`` (semi-orthogonal, Gram-Schmidt).

    Step ``n`` picks, among the users not chosen yet, the one whose channel keeps the largest
    norm after projection onto the orthogonal complement of the channels already chosen (the
    ZF gain it would get), then projects every remaining channel off it. The first user is the
    strongest; exact ties go to the lowest index. Vectorised over the batch; the loop runs over
    ranks only.

    Args:
        channel: ``(..., K, M_T)`` candidate users' channels.
        max_rank: ``N_R`` (1 <= N_R <= K).

    Returns:
        ``(..., N_R)`` user indices in the order chosen; the first ``n`` form the rank-``n`` set.

    Raises:
        SkycellError: ``max_rank`` outside ``1..K``.
    """
    h = np.asarray(channel, dtype=np.complex128)
    k_users = h.shape[-2]
    if not 1 <= int(max_rank) <= k_users:
        raise SkycellError(f"max_rank must be in 1..{k_users} (users), got {max_rank}")
    batch = h.shape[:-2]
    resid = h.reshape(-1, k_users, h.shape[-1]).copy()
    rows = np.arange(resid.shape[0])
    norm2 = (resid.real**2 + resid.imag**2).sum(axis=-1)
    taken = np.zeros(norm2.shape, dtype=bool)
    order = np.zeros((resid.shape[0], int(max_rank)), dtype=np.int64)
    for n in range(int(max_rank)):
        pick = np.argmax(np.where(taken, -np.inf, norm2), axis=-1)
        order[:, n] = pick
        taken[rows, pick] = True
        q = resid[rows, pick] / np.sqrt(np.maximum(norm2[rows, pick], NO_PATH_GAIN))[:, None]
        coef = resid @ q.conj()[:, :, None]  # (B, K, 1): component along q
        resid -= coef * q[:, None, :]
        norm2 = np.maximum(norm2 - (coef[..., 0].real ** 2 + coef[..., 0].imag ** 2), 0.0)
    return order.reshape(*batch, int(max_rank))


@dataclass(frozen=True)
class RankAdaptiveResult:
    """Rank-adaptive transmission to the candidate users at a batch of positions.

    Arrays carry the batch shape ``...``; rank ``n`` is index ``n - 1``; ``N_R`` ranks.

    Attributes:
        order: ``(..., N_R)`` users in the order the scheduler added them (rank ``n`` serves
            ``order[..., :n]``).
        sinr: ``(..., N_R, N_R)`` linear SINR of user ``order[..., j]`` at rank ``n``
            (``[..., n - 1, j]``); 0 for ``j >= n``.
        signal_power_w: ``(..., N_R, N_R)`` desired received power ``(P/M_T) |h_k f_k|^2`` [W],
            same layout.
        sum_rate_bps_hz: ``(..., N_R)`` sum rate of each rank (eq. 3) [bit/s/Hz].
        served: optional ``(..., N_R, N_R)`` which (rank, slot) pairs carry a stream (default:
            slot ``j < n`` at rank ``n``; the DFT baseline serves fewer users when fewer
            distinct beams are reported).
    """

    order: IntArray
    sinr: FloatArray
    signal_power_w: FloatArray
    sum_rate_bps_hz: FloatArray
    served: BoolArray | None = None

    @property
    def max_rank(self) -> int:
        """``N_R``."""
        return int(self.sum_rate_bps_hz.shape[-1])

    @property
    def average_sum_rate_bps_hz(self) -> FloatArray:
        """Average of the rank sum rates over ranks ``1..N_R`` (paper 001 eq. 5, the reward)."""
        return np.asarray(self.sum_rate_bps_hz.mean(axis=-1))

    @property
    def best_rank(self) -> IntArray:
        """The rank with the highest sum rate (what a rank-adaptive scheduler transmits)."""
        return np.asarray(np.argmax(self.sum_rate_bps_hz, axis=-1) + 1, dtype=np.int64)

    @property
    def best_sum_rate_bps_hz(self) -> FloatArray:
        """Sum rate at the best rank [bit/s/Hz]."""
        return np.asarray(self.sum_rate_bps_hz.max(axis=-1))

    def _served(self) -> BoolArray:
        if self.served is not None:
            return np.asarray(self.served, dtype=bool)
        n = self.max_rank
        return np.asarray(np.tril(np.ones((n, n), dtype=bool)))

    @property
    def mean_sinr_db(self) -> FloatArray:
        """Mean SINR [dB] over every (rank, served user) pair: the dB value of each, floored at
        ``SINR_FLOOR_DB`` (a stream drowned in interference, or a user without a path, counts
        as -50 dB instead of pulling the mean to -300 dB), then the mean."""
        mask = self._served()
        db = 10.0 * np.log10(np.maximum(self.sinr, 10.0 ** (SINR_FLOOR_DB / 10.0)))
        return np.asarray((db * mask).sum(axis=(-2, -1)) / mask.sum(axis=(-2, -1)))

    @property
    def mean_signal_power_dbm(self) -> FloatArray:
        """Mean desired received power [dBm] over every (rank, served user) pair (floored at
        -200 dBm)."""
        mask = self._served()
        dbm = 10.0 * np.log10(np.maximum(self.signal_power_w, 1e-23)) + 30.0
        return np.asarray((dbm * mask).sum(axis=(-2, -1)) / mask.sum(axis=(-2, -1)))


def _default_rank(channel: NDArray[Any], max_rank: int | None) -> int:
    k_users, m = channel.shape[-2], channel.shape[-1]
    n = min(k_users, m) if max_rank is None else int(max_rank)
    if not 1 <= n <= min(k_users, m):
        raise SkycellError(
            f"max_rank must be in 1..{min(k_users, m)} (at most the users and the elements), "
            f"got {max_rank}"
        )
    return n


def rank_adaptive_zf(
    channel: ArrayLike,
    *,
    tx_power_w: float,
    noise_power_w: float,
    max_rank: int | None = None,
    order: ArrayLike | None = None,
) -> RankAdaptiveResult:
    """Rank-adaptive zero-forcing: greedy users per rank, ZF, eq. 2 SINR, eq. 3 rates, eq. 5.

    Args:
        channel: ``(..., K, M_T)`` candidate users' channels.
        tx_power_w: total transmit power [W].
        noise_power_w: noise power [W].
        max_rank: ``N_R`` (default ``min(K, M_T)``).
        order: optional ``(..., N_R)`` user order (default :func:`greedy_user_order`).

    Returns:
        A :class:`RankAdaptiveResult`.
    """
    h = np.asarray(channel, dtype=np.complex128)
    n_r = _default_rank(h, max_rank)
    idx = greedy_user_order(h, n_r) if order is None else np.asarray(order, dtype=np.int64)
    batch = h.shape[:-2]
    sinr_out = np.zeros((*batch, n_r, n_r))
    sig_out = np.zeros((*batch, n_r, n_r))
    per_unit = float(tx_power_w) / h.shape[-1]
    chosen = np.take_along_axis(h, idx[..., :, None], axis=-2)  # (..., N_R, M)
    for n in range(1, n_r + 1):
        hs = chosen[..., :n, :]
        f = zf_precoder(hs)
        sinr_out[..., n - 1, :n] = sinr(hs, f, tx_power_w=tx_power_w, noise_power_w=noise_power_w)
        diag = np.einsum("...km,...mk->...k", hs, f)
        sig_out[..., n - 1, :n] = np.abs(diag) ** 2 * per_unit
    rates = sum_rate_bps_hz(sinr_out)
    return RankAdaptiveResult(
        order=idx, sinr=sinr_out, signal_power_w=sig_out, sum_rate_bps_hz=rates
    )


def rank_average_sum_rate_torch(
    channel: torch.Tensor,
    order: torch.Tensor,
    *,
    tx_power_w: float,
    noise_power_w: float,
) -> torch.Tensor:
    """Differentiable eq. 5: the rank-averaged ZF sum rate for a given user order (torch).

    The torch twin of ``rank_adaptive_zf(...).average_sum_rate_bps_hz`` for a fixed ``order``
    (the selection is discrete: hold it, differentiate the rest). With ZF and eq. 1's split
    the rank-``n`` SINR of user ``k`` has the closed form
    ``Gamma_k = P / (n sigma^2 [(H_n H_n^H)^{-1}]_kk)`` (no interference). The nested sets share
    one Cholesky factor: with ``G = L L^H`` the Gram matrix of all ``N_R`` chosen users, the
    leading ``n x n`` block of ``L^{-1}`` is the inverse factor of ``G_n``, so
    ``[(G_n)^{-1}]_kk = sum_{j<n} |(L^{-1})_{jk}|^2`` — every rank from one factorisation. A
    ``1e-12`` relative diagonal loading keeps a user without any path (zero channel, scheduled
    last) finite: its SINR is ~0, as the numpy pseudo-inverse gives.

    Args:
        channel: ``(B, K, M_T)`` complex channels (complex128 for agreement to 1e-9).
        order: ``(B, N_R)`` int64 user order.
        tx_power_w: total transmit power [W].
        noise_power_w: noise power [W].

    Returns:
        ``(B,)`` average sum rate [bit/s/Hz].
    """
    import torch

    m = channel.shape[-1]
    n_r = order.shape[-1]
    gather = order[..., None].expand(*order.shape, m)
    hs = torch.gather(channel, -2, gather)  # (B, N_R, M)
    gram = hs @ hs.conj().transpose(-2, -1)
    scale = torch.diagonal(gram, dim1=-2, dim2=-1).real.mean(dim=-1).clamp(min=1e-300)
    eye = torch.eye(n_r, dtype=gram.dtype, device=gram.device)
    gram = gram + (1e-12 * scale)[:, None, None] * eye
    chol = torch.linalg.cholesky(gram)
    linv = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False)
    diag = torch.cumsum(linv.real**2 + linv.imag**2, dim=-2)  # [n-1, k] = [(G_n)^-1]_kk
    n = torch.arange(1, n_r + 1, dtype=torch.float64, device=channel.device)
    served = torch.tril(torch.ones(n_r, n_r, dtype=torch.bool, device=channel.device))
    diag = torch.where(served, diag, torch.ones_like(diag))  # k >= n: not served, no gradient
    snr = float(tx_power_w) / (n[:, None] * float(noise_power_w) * diag)
    rates = torch.where(served, torch.log2(1.0 + snr), torch.zeros_like(snr)).sum(dim=-1)
    return rates.mean(dim=-1)


# ---------------------------------------------------------------------------------------------
# DFT codebook (the non-twin baseline of Fig. 10)
# ---------------------------------------------------------------------------------------------


def dft_codebook(array: PlanarArray, *, oversampling: int | Sequence[int] = 1) -> ComplexArray:
    """Unit-norm 2-D DFT beams of a planar array, in the array's element order.

    Beam ``(p, q)``: ``b[e(row, col)] = exp(j 2 pi (row p / (O_r R) + col q / (O_c C))) /
    sqrt(M_T)`` for ``p < O_r R``, ``q < O_c C`` (the Kronecker product of two oversampled DFT
    vectors, as 3GPP Type I codebooks); with ``oversampling = 1`` the ``M_T`` beams are
    orthonormal.

    Args:
        array: the station's array.
        oversampling: ``O`` for both dimensions, or ``(O_rows, O_cols)`` (>= 1).

    Returns:
        ``(O_r R O_c C, M_T)`` codebook, one beam per row.
    """
    o = (oversampling, oversampling) if isinstance(oversampling, int) else tuple(oversampling)
    if len(o) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in o):
        raise SkycellError(f"oversampling must be an integer >= 1 or a pair, got {oversampling!r}")
    o_r, o_c = int(o[0]), int(o[1])
    e = np.arange(array.elements)
    col, row = np.divmod(e, int(array.rows))
    p = np.arange(o_r * array.rows)
    q = np.arange(o_c * array.cols)
    phase = row[None, None, :] * p[:, None, None] / (o_r * array.rows) + col[None, None, :] * q[
        None, :, None
    ] / (o_c * array.cols)
    beams = np.exp(2j * np.pi * phase) / math.sqrt(array.elements)
    return np.asarray(beams.reshape(-1, array.elements), dtype=np.complex128)


def dft_beam_transmission(
    channel: ArrayLike,
    codebook: ArrayLike,
    *,
    tx_power_w: float,
    noise_power_w: float,
    max_rank: int | None = None,
) -> RankAdaptiveResult:
    """Codebook transmission without channel knowledge (the non-twin baseline, Fig. 10).

    Each user reports its strongest beam ``argmax_b |h_k b|``; at rank ``n`` the station serves
    the ``n`` users with the strongest reports whose beams differ (a user whose best beam is
    taken waits), each on its beam with ``f_k = sqrt(M_T / n) b_k`` (eq. 1's split); SINR by
    eq. 2 with every other served beam interfering. When fewer than ``N_R`` users have distinct
    beams, the higher ranks reuse the users of the highest feasible rank (their rates equal it).

    Args:
        channel: ``(..., K, M_T)`` channels.
        codebook: ``(B, M_T)`` unit-norm beams (:func:`dft_codebook`).
        tx_power_w: total transmit power [W].
        noise_power_w: noise power [W].
        max_rank: ``N_R`` (default ``min(K, M_T)``).

    Returns:
        A :class:`RankAdaptiveResult` (``order`` are the scheduled users).
    """
    h = np.asarray(channel, dtype=np.complex128)
    cb = np.asarray(codebook, dtype=np.complex128)
    n_r = _default_rank(h, max_rank)
    m = h.shape[-1]
    batch = h.shape[:-2]
    hf = h.reshape(-1, h.shape[-2], m)
    gain = np.abs(hf @ cb.T) ** 2  # (Bt, K, beams)
    best_beam = np.argmax(gain, axis=-1)  # (Bt, K)
    best_gain = np.take_along_axis(gain, best_beam[..., None], axis=-1)[..., 0]
    by_gain = np.argsort(-best_gain, axis=-1, kind="stable")  # users, strongest report first
    beams_sorted = np.take_along_axis(best_beam, by_gain, axis=-1)
    # a user is schedulable when no stronger user reported the same beam
    eq = beams_sorted[:, :, None] == beams_sorted[:, None, :]
    earlier = np.tril(np.ones((eq.shape[-1], eq.shape[-1]), dtype=bool), k=-1)
    first = ~np.any(eq & earlier[None], axis=-1)
    rank_key = np.where(first, np.arange(first.shape[-1])[None, :], first.shape[-1])
    pos = np.argsort(rank_key, axis=-1, kind="stable")[:, :n_r]
    n_ok = np.minimum(first.sum(axis=-1), n_r)  # distinct beams available
    order = np.take_along_axis(by_gain, pos, axis=-1)
    beam_of = np.take_along_axis(beams_sorted, pos, axis=-1)
    rows = np.arange(hf.shape[0])
    sinr_out = np.zeros((hf.shape[0], n_r, n_r))
    sig_out = np.zeros((hf.shape[0], n_r, n_r))
    served = np.zeros((hf.shape[0], n_r, n_r), dtype=bool)
    per_unit = float(tx_power_w) / m
    for n in range(1, n_r + 1):
        use = np.minimum(n, n_ok)  # (Bt,) users actually served at this rank
        served[:, n - 1, :] = np.arange(n_r)[None, :] < use[:, None]
        for u in np.unique(use):
            sel = rows[use == u]
            idx = order[sel, :u]
            hs = np.take_along_axis(hf[sel], idx[..., None], axis=-2)
            f = cb[beam_of[sel, :u]].transpose(0, 2, 1) * math.sqrt(m / u)
            s = sinr(hs, f, tx_power_w=tx_power_w, noise_power_w=noise_power_w)
            sinr_out[sel, n - 1, :u] = s
            diag = np.einsum("bkm,bmk->bk", hs, f)
            sig_out[sel, n - 1, :u] = np.abs(diag) ** 2 * per_unit
    rates = sum_rate_bps_hz(sinr_out)
    return RankAdaptiveResult(
        order=order.reshape(*batch, n_r),
        sinr=sinr_out.reshape(*batch, n_r, n_r),
        signal_power_w=sig_out.reshape(*batch, n_r, n_r),
        sum_rate_bps_hz=rates.reshape(*batch, n_r),
        served=served.reshape(*batch, n_r, n_r),
    )


# ---------------------------------------------------------------------------------------------
# Paths: analytic engine and Sionna RT
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathSet:
    """Propagation paths from ``B`` UAV positions to ``K`` users, padded to ``P`` per link.

    Attributes:
        station_xyz_m: ``(B, 3)`` UAV (array centre) positions [m].
        amplitude: ``(B, K, P)`` complex path amplitudes *without* the carrier phase, antenna
            element and user patterns included (Sionna RT's ``a``); 0 for padding.
        length_m: ``(B, K, P)`` path lengths ``c tau`` [m].
        direction: ``(B, K, P, 3)`` unit departure directions at the UAV (global frame).
        valid: ``(B, K, P)`` the path exists.
        los: ``(B, K, P)`` the path is the direct one.
        frequency_hz: carrier frequency [Hz].
    """

    station_xyz_m: FloatArray
    amplitude: ComplexArray
    length_m: FloatArray
    direction: FloatArray
    valid: BoolArray
    los: BoolArray
    frequency_hz: float

    @property
    def coefficients(self) -> ComplexArray:
        """``(B, K, P)`` coefficients with the carrier phase ``exp(-j 2 pi f_c tau)`` (eq. 4)."""
        return carrier_phase_coefficients(
            np.where(self.valid, self.amplitude, 0.0),
            self.length_m / SPEED_OF_LIGHT_M_S,
            self.frequency_hz,
        )

    def channel(self, element_offsets_m: ArrayLike) -> ComplexArray:
        """``(B, K, M_T)`` MISO channels (eq. 4 with the array's steering vectors)."""
        return channel_from_paths(
            self.coefficients, self.direction, element_offsets_m, self.frequency_hz
        )

    @property
    def path_gain_db(self) -> FloatArray:
        """``(B, K)`` single-element path gain [dB]: sum of ``|a|^2`` over valid paths (the
        power a single element would receive summed incoherently)."""
        g = (np.abs(np.where(self.valid, self.amplitude, 0.0)) ** 2).sum(axis=-1)
        with np.errstate(divide="ignore"):
            return np.asarray(10.0 * np.log10(np.maximum(g, 1e-30)), dtype=np.float64)

    @property
    def any_los(self) -> BoolArray:
        """``(B, K)`` a direct path exists."""
        return np.asarray(np.any(self.los & self.valid, axis=-1))


def analytic_paths(
    engine: AnalyticEngine,
    station_xyz_m: ArrayLike,
    users_xyz_m: ArrayLike,
    *,
    azimuth_deg: float = 0.0,
    tilt_deg: float = 90.0,
) -> PathSet:
    """One geometric path per link from the analytic engine.

    The amplitude is ``sqrt(10^(G/10))`` with ``G`` the engine's path gain (model path loss for
    the link's geometric LoS state plus the element's pattern toward the user, the array facing
    ``tilt_deg``, and the user's pattern); the departure direction is the straight line to the
    user and the length its 3-D distance. The analytic engine models no multipath, so an NLoS
    link keeps the straight-line direction with the model's NLoS loss (a planning-level
    approximation; take NLoS angles from Sionna RT where they matter).

    Args:
        engine: the analytic engine.
        station_xyz_m: ``(B, 3)`` UAV positions [m].
        users_xyz_m: ``(K, 3)`` user positions [m].
        azimuth_deg, tilt_deg: array orientation (default facing the ground).
    """
    from skycell.radio.engine import MIN_DISTANCE_M

    st = np.asarray(station_xyz_m, dtype=np.float64).reshape(-1, 3)
    us = np.asarray(users_xyz_m, dtype=np.float64).reshape(-1, 3)
    los = engine.line_of_sight(st, us)
    gain_db = engine.path_gain_db(st, us, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg, los=los)
    delta = us[None, :, :] - st[:, None, :]
    dist = np.maximum(np.linalg.norm(delta, axis=-1), MIN_DISTANCE_M)
    direction = delta / dist[..., None]
    amp = np.sqrt(10.0 ** (gain_db / 10.0)).astype(np.complex128)
    return PathSet(
        station_xyz_m=st,
        amplitude=amp[..., None],
        length_m=dist[..., None],
        direction=direction[:, :, None, :],
        valid=np.ones((*dist.shape, 1), dtype=bool),
        los=los[..., None],
        frequency_hz=engine.frequency_hz,
    )


def _sionna_tx_array(rt: Any, pattern: str, array: PlanarArray | None) -> Any:
    from skycell.radio.sionna_engine import _PATTERNS

    if array is None:
        return rt.PlanarArray(num_rows=1, num_cols=1, pattern=_PATTERNS[pattern], polarization="V")
    return rt.PlanarArray(
        num_rows=int(array.rows),
        num_cols=int(array.cols),
        vertical_spacing=float(array.spacing_wavelengths),
        horizontal_spacing=float(array.spacing_wavelengths),
        pattern=_PATTERNS[pattern],
        polarization="V",
    )


def _trace(
    engine: SionnaEngine,
    station_xyz_m: FloatArray,
    users_xyz_m: FloatArray,
    *,
    azimuth_deg: float,
    tilt_deg: float,
    array: PlanarArray | None,
) -> Any:
    """Place the stations and users in the engine's scene and run Sionna's path solver."""
    from skycell.radio.sionna_engine import import_rt

    rt, _, _ = import_rt()
    scene = engine.scene
    scene.tx_array = _sionna_tx_array(rt, engine.station_antenna, array)
    for name in list(scene.transmitters):
        scene.remove(name)
    for name in list(scene.receivers):
        scene.remove(name)
    orient = [math.radians(azimuth_deg), math.radians(tilt_deg), 0.0]
    for i, p in enumerate(station_xyz_m):
        scene.add(rt.Transmitter(f"uav-{i}", position=[float(v) for v in p], orientation=orient))
    for j, u in enumerate(users_xyz_m):
        scene.add(rt.Receiver(f"user-{j}", position=[float(v) for v in u]))
    return rt.PathSolver()(
        scene, max_num_paths_per_src=engine.samples, **engine.path_solver_kwargs()
    )


def _combine_ports(a: NDArray[Any], delay_s: NDArray[Any], frequency_hz: float) -> NDArray[Any]:
    """One receive port per user: V as traced, or a dual-polarised ("cross") user's two ports
    co-phased by maximum-ratio combining on the array centre's channel.

    ``a`` is ``(U, ports, N, P)`` (amplitudes without the carrier phase), ``delay_s``
    ``(U, N, P)``. With ``h = sum_p a_p exp(-j 2 pi f tau_p)`` per port, the weights are
    ``w = h / ||h||`` and every path's amplitude becomes ``w^H a_p``: a single-RF-chain user
    with a fixed analogue combiner per link, which receives the full power of a single path
    whatever its polarisation (selecting one of the ±45° ports would lose up to 3 dB).
    """
    if a.shape[1] == 1:
        return np.asarray(a[:, 0])
    coef = a * np.exp(-2j * np.pi * float(frequency_hz) * delay_s)[:, None]
    h = coef.sum(axis=-1)  # (U, ports, N)
    norm = np.sqrt((np.abs(h) ** 2).sum(axis=1, keepdims=True))
    first = np.zeros_like(h)
    first[:, 0] = 1.0
    w = np.where(norm > 0, h / np.where(norm > 0, norm, 1.0), first)
    return np.asarray((np.conj(w)[..., None] * a).sum(axis=1))


def sionna_paths(
    engine: SionnaEngine,
    station_xyz_m: ArrayLike,
    users_xyz_m: ArrayLike,
    *,
    azimuth_deg: float = 0.0,
    tilt_deg: float = 90.0,
    batch: int = 64,
) -> PathSet:
    """Every traced path from ``B`` UAV positions to ``K`` users (Sionna RT, extra ``rt``).

    One single-element station (the engine's station pattern, vertically polarised, oriented by
    ``azimuth_deg``/``tilt_deg``) per position, ``batch`` positions per path-solver call (LoS,
    specular reflection and refraction up to ``engine.max_depth`` interactions, the engine's
    seed and rays per source). The array is applied afterwards by :meth:`PathSet.channel`
    exactly as Sionna's synthetic arrays do (a test checks it element by element). Users have
    the engine's user pattern; a dual-polarised user (``user_polarization="cross"``) co-phases its
    two ports toward each link (:func:`_combine_ports`).

    Args:
        engine: a :class:`~skycell.radio.sionna_engine.SionnaEngine`.
        station_xyz_m: ``(B, 3)`` UAV positions [m].
        users_xyz_m: ``(K, 3)`` user positions [m].
        azimuth_deg, tilt_deg: array orientation (default facing the ground).
        batch: positions traced per solver call (memory vs call overhead).

    Raises:
        SkycellError: the ``rt`` extra or LLVM 16+ is missing.
    """
    st = np.asarray(station_xyz_m, dtype=np.float64).reshape(-1, 3)
    us = np.asarray(users_xyz_m, dtype=np.float64).reshape(-1, 3)
    parts: list[tuple[NDArray[Any], ...]] = []
    for s in range(0, st.shape[0], max(1, int(batch))):
        chunk = st[s : s + max(1, int(batch))]
        p = _trace(engine, chunk, us, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg, array=None)
        a_re, a_im = p.a  # [U, rx_ports, N, 1, P]
        a = np.asarray(a_re, np.float64) + 1j * np.asarray(a_im, np.float64)
        n, u = chunk.shape[0], us.shape[0]
        valid = np.asarray(p.valid, dtype=bool).reshape(u, n, -1)
        if valid.shape[-1]:
            delay = np.where(valid, np.asarray(p.tau, np.float64).reshape(u, n, -1), 0.0)
            a = np.where(valid[:, None], a[:, :, :, 0, :], 0.0)
            a = _combine_ports(a, delay, engine.frequency_hz)  # (U, N, P)
        if valid.shape[-1] == 0:
            z = np.zeros((n, u, 1))
            parts.append(
                (z.astype(complex), z, np.zeros((n, u, 1, 3)), z.astype(bool), z.astype(bool))
            )
            continue
        npaths = valid.shape[-1]
        inter = np.asarray(p.interactions).reshape(-1, u, n, npaths)
        los = valid & np.all(inter == 0, axis=0)
        tau = np.asarray(p.tau, np.float64).reshape(u, n, npaths)
        theta = np.asarray(p.theta_t, np.float64).reshape(u, n, npaths)
        phi = np.asarray(p.phi_t, np.float64).reshape(u, n, npaths)
        k = np.stack(
            [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=-1
        )
        a = np.where(valid, a.reshape(u, n, npaths), 0.0)
        length = np.where(valid, tau * SPEED_OF_LIGHT_M_S, 1.0)
        parts.append(
            tuple(np.swapaxes(x, 0, 1) for x in (a, length, k, valid, los))  # -> (N, U, P, ...)
        )
    width = max(x[0].shape[-1] for x in parts) if parts else 1

    def pad(x: NDArray[Any], fill: float) -> NDArray[Any]:
        extra = width - x.shape[2]
        if extra == 0:
            return x
        shape = list(x.shape)
        shape[2] = extra
        return np.concatenate([x, np.full(shape, fill, dtype=x.dtype)], axis=2)

    if not parts:
        z = np.zeros((0, us.shape[0], 1))
        return PathSet(
            st,
            z.astype(complex),
            z,
            np.zeros((0, us.shape[0], 1, 3)),
            z.astype(bool),
            z.astype(bool),
            engine.frequency_hz,
        )
    amp = np.concatenate([pad(x[0], 0.0) for x in parts])
    length = np.concatenate([pad(x[1], 1.0) for x in parts])
    dirs = np.concatenate([pad(x[2], 0.0) for x in parts])
    valid = np.concatenate([pad(x[3], False) for x in parts])
    los = np.concatenate([pad(x[4], False) for x in parts])
    return PathSet(
        station_xyz_m=st,
        amplitude=np.asarray(amp, dtype=np.complex128),
        length_m=np.asarray(length, dtype=np.float64),
        direction=np.asarray(dirs, dtype=np.float64),
        valid=np.asarray(valid, dtype=bool),
        los=np.asarray(los, dtype=bool),
        frequency_hz=engine.frequency_hz,
    )


def sionna_array_channel(
    engine: SionnaEngine,
    station_xyz_m: ArrayLike,
    users_xyz_m: ArrayLike,
    array: PlanarArray,
    *,
    azimuth_deg: float = 0.0,
    tilt_deg: float = 90.0,
) -> ComplexArray:
    """``(B, K, M_T)`` MISO channels traced with Sionna RT's own planar array (synthetic), the
    carrier phase applied as :meth:`sionna.rt.Paths.cir` does: the reference that
    :meth:`PathSet.channel` on :func:`sionna_paths` must reproduce (single-port users).

    Raises:
        SkycellError: a dual-polarised user (``user_polarization="cross"``).
    """
    if engine.user_polarization != "V":
        raise SkycellError("sionna_array_channel is the reference for single-port (V) users")
    st = np.asarray(station_xyz_m, dtype=np.float64).reshape(-1, 3)
    us = np.asarray(users_xyz_m, dtype=np.float64).reshape(-1, 3)
    p = _trace(engine, st, us, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg, array=array)
    a_re, a_im = p.a  # [U, ports, N, M, P]
    a = np.asarray(a_re, np.float64) + 1j * np.asarray(a_im, np.float64)
    a = a[:, 0]  # (U, N, M, P)
    u, n = us.shape[0], st.shape[0]
    tau = np.asarray(p.tau, np.float64).reshape(u, n, -1)
    valid = np.asarray(p.valid, dtype=bool).reshape(u, n, -1)
    coef = carrier_phase_coefficients(
        a, np.where(valid, tau, 0.0)[:, :, None, :], engine.frequency_hz
    )
    h = np.where(valid[:, :, None, :], coef, 0.0).sum(axis=-1)  # (U, N, M)
    return np.asarray(np.swapaxes(h, 0, 1), dtype=np.complex128)
