"""Atmospheric and vegetation losses of the channel study (paper 002 §3.5, §4, Table 9).

Paper 002 adds two environmental losses to its ray-traced received power: "weather" (Table 3:
rain and gas; §4: "based on the ITU-R P.676-12 model", taken as flat 0.1 dB/m at 26 GHz and
0.4 dB/m at 140 GHz) and "foliage" (a 2.5 m foliage depth, "an empirical model based on the
ITU-R P.833-9 model"). The paper's flat dB/m figures are not physical (P.676 gives about
0.1 dB/km at 26 GHz and 0.9 dB/km at 140 GHz at sea level, see ``/work/shared/papers/NOTES.md``),
so this module evaluates the recommendations themselves:

* gaseous attenuation: ITU-R P.676-12 Annex 1 (line-by-line summation of the oxygen and water
  vapour lines) through the maintained ``itur`` package (``itur.models.itu676.gamma_exact``;
  needs no download at run time);
* rain: ITU-R P.838-3 power law ``gamma_R = k R^alpha`` through ``itur.models.itu838``;
* foliage: Weissberger's modified exponential decay model (default) or the ITU-R P.833-9 §2.1
  woodland model, see :func:`foliage_loss_db` for why the default.

All functions are pure and vectorised over frequency (numpy arrays in, float64 arrays out) and
validate their inputs with a message that says what was wrong and how to fix it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.errors import SkycellError

FloatArray = NDArray[np.float64]

#: Foliage models accepted by :func:`foliage_loss_db`.
FOLIAGE_MODELS: Final[tuple[str, ...]] = ("weissberger", "p833-woodland")

#: ITU-R P.835 / P.676 mean annual reference atmosphere at sea level.
STANDARD_PRESSURE_HPA: Final[float] = 1013.25
STANDARD_TEMPERATURE_K: Final[float] = 288.15
STANDARD_WATER_VAPOUR_G_M3: Final[float] = 7.5

#: ITU-R P.833-9 Fig. 2 (specific attenuation due to woodland, vertical polarisation) as a
#: log-log polyline ``(frequency [MHz], gamma [dB/m])``: 0.02 dB/m at 30 MHz, 0.2 dB/m at 1 GHz,
#: 6 dB/m at 30 GHz (read off the figure; between the points the curve is close to straight in
#: log-log axes). Beyond 30 GHz the last segment is extrapolated.
P833_FIG2_POINTS: Final[tuple[tuple[float, float], ...]] = (
    (30.0, 0.02),
    (1000.0, 0.2),
    (30000.0, 6.0),
)
#: ITU-R P.833-9 §2.1 eq. (2), maximum woodland attenuation ``A_m = A1 f^alpha`` (f in MHz), with
#: the Mulhouse (France) campaign's ``A1 = 1.15``, ``alpha = 0.43`` (P.833-9 Table 1).
P833_AM_A1: Final[float] = 1.15
P833_AM_ALPHA: Final[float] = 0.43


def _freqs_hz(frequency_hz: ArrayLike, *, lo_hz: float, hi_hz: float, what: str) -> FloatArray:
    f = np.asarray(frequency_hz, dtype=np.float64)
    bad = ~np.isfinite(f) | (f < lo_hz) | (f > hi_hz)
    if np.any(bad):
        raise ValueError(
            f"{what}: frequency_hz must lie in [{lo_hz:g}, {hi_hz:g}] Hz, got "
            f"{np.atleast_1d(f)[np.atleast_1d(bad)].tolist()}; give carrier frequencies in hertz "
            "(e.g. 26e9 for 26 GHz)"
        )
    return f


def _itur() -> tuple[Any, Any]:
    try:
        import itur.models.itu676 as p676  # type: ignore[import-not-found,import-untyped,unused-ignore]
        import itur.models.itu838 as p838  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise SkycellError(
            "the channel study's weather losses need the `itur` package (ITU-R P.676 and P.838): "
            "pip install 'skycell[rt]' (or pip install itur)"
        ) from None
    return p676, p838


@lru_cache(maxsize=256)
def _gamma_gas_scalar(f_ghz: float, p_hpa: float, rho: float, t_k: float) -> float:
    p676, _ = _itur()
    return float(np.asarray(p676.gamma_exact(f_ghz, p_hpa, rho, t_k).value))


@lru_cache(maxsize=256)
def _gamma_rain_scalar(f_ghz: float, rate: float, tau_deg: float) -> float:
    _, p838 = _itur()
    return float(np.asarray(p838.rain_specific_attenuation(rate, f_ghz, 0.0, tau_deg).value))


def gaseous_specific_attenuation_db_per_km(
    frequency_hz: ArrayLike,
    *,
    pressure_hpa: float = STANDARD_PRESSURE_HPA,
    temperature_k: float = STANDARD_TEMPERATURE_K,
    water_vapour_density_g_m3: float = STANDARD_WATER_VAPOUR_G_M3,
) -> FloatArray:
    """Specific attenuation by atmospheric gases ``gamma = gamma_o + gamma_w`` [dB/km].

    ITU-R P.676-12 Annex 1, eqs. (1)-(9): line-by-line sum over the oxygen (Table 1) and water
    vapour (Table 2) absorption lines plus the dry continuum, evaluated by the ``itur`` package
    (``itur.models.itu676.gamma_exact``). Paper 002 §4 cites P.676-12 for its "weather" column
    (Table 9) but then uses flat 0.1 dB/m (26 GHz) and 0.4 dB/m (140 GHz); this function gives
    the recommendation's value, e.g. 0.010, 0.125 and 0.923 dB/km at 7, 26 and 140 GHz in the
    reference atmosphere (1013.25 hPa, 15 °C, 7.5 g/m³).

    Args:
        frequency_hz: carrier frequency [Hz], scalar or array, in [1 GHz, 1000 GHz].
        pressure_hpa: atmospheric pressure [hPa] (> 0).
        temperature_k: temperature [K] (> 0).
        water_vapour_density_g_m3: water vapour density [g/m³] (>= 0).

    Returns:
        ``gamma`` [dB/km], same shape as ``frequency_hz``.

    Raises:
        ValueError: a value out of range (the message names it).
        SkycellError: the ``itur`` package is not installed.
    """
    f = _freqs_hz(frequency_hz, lo_hz=1e9, hi_hz=1e12, what="ITU-R P.676 gaseous attenuation")
    problems = []
    if not (math.isfinite(pressure_hpa) and pressure_hpa > 0):
        problems.append(f"pressure_hpa must be > 0 [hPa], got {pressure_hpa}")
    if not (math.isfinite(temperature_k) and temperature_k > 0):
        problems.append(f"temperature_k must be > 0 [K], got {temperature_k}")
    if not (math.isfinite(water_vapour_density_g_m3) and water_vapour_density_g_m3 >= 0):
        problems.append(
            f"water_vapour_density_g_m3 must be >= 0 [g/m³], got {water_vapour_density_g_m3}"
        )
    if problems:
        raise ValueError("; ".join(problems))
    out = np.array(
        [
            _gamma_gas_scalar(
                float(v) / 1e9,
                float(pressure_hpa),
                float(water_vapour_density_g_m3),
                float(temperature_k),
            )
            for v in f.ravel()
        ],
        dtype=np.float64,
    )
    return out.reshape(f.shape)


def rain_specific_attenuation_db_per_km(
    frequency_hz: ArrayLike,
    rain_rate_mm_h: float,
    *,
    polarization_tilt_deg: float = 90.0,
) -> FloatArray:
    """Specific attenuation by rain ``gamma_R = k R^alpha`` [dB/km] on a horizontal path.

    ITU-R P.838-3 eqs. (1)-(5) (coefficients ``k``, ``alpha`` from the curve fits of Tables 1-4,
    combined for the polarisation tilt), evaluated by ``itur.models.itu838`` at elevation 0.
    Paper 002 Table 3 lists "rain and gas" as its weather but gives no rain rate; skycell's
    default rain rate is 0 mm/h (gas only).

    Args:
        frequency_hz: carrier frequency [Hz], scalar or array, in [1 GHz, 1000 GHz].
        rain_rate_mm_h: rain rate R [mm/h] (>= 0); 0 gives 0.
        polarization_tilt_deg: polarisation tilt relative to the horizontal [deg]: 90 = vertical
            (the omnidirectional antennas of the study), 0 = horizontal.

    Returns:
        ``gamma_R`` [dB/km], same shape as ``frequency_hz``.
    """
    f = _freqs_hz(frequency_hz, lo_hz=1e9, hi_hz=1e12, what="ITU-R P.838 rain attenuation")
    if not (math.isfinite(rain_rate_mm_h) and rain_rate_mm_h >= 0):
        raise ValueError(f"rain_rate_mm_h must be >= 0 [mm/h], got {rain_rate_mm_h}")
    if rain_rate_mm_h == 0:
        return np.zeros(f.shape)
    out = np.array(
        [
            _gamma_rain_scalar(float(v) / 1e9, float(rain_rate_mm_h), float(polarization_tilt_deg))
            for v in f.ravel()
        ],
        dtype=np.float64,
    )
    return out.reshape(f.shape)


def weissberger_loss_db(frequency_hz: ArrayLike, depth_m: ArrayLike) -> FloatArray:
    """Foliage loss of Weissberger's modified exponential decay model [dB].

    ``L = 0.45 f^0.284 d`` for ``0 <= d <= 14 m`` and ``L = 1.33 f^0.284 d^0.588`` for
    ``14 < d <= 400 m``, ``f`` in GHz, ``d`` the depth of foliage along the path in metres
    (M. A. Weissberger, "An initial critical summary of models for predicting the attenuation of
    radio waves by trees", ECAC-TR-81-101, 1982; stated for 230 MHz-95 GHz, evaluated as is above).

    Args:
        frequency_hz: frequency [Hz] (> 0), broadcast against ``depth_m``.
        depth_m: foliage depth [m], in [0, 400].
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    d = np.asarray(depth_m, dtype=np.float64)
    if np.any(~np.isfinite(f) | (f <= 0)):
        raise ValueError(f"frequency_hz must be > 0 [Hz], got {np.atleast_1d(f).tolist()}")
    if np.any(~np.isfinite(d) | (d < 0) | (d > 400)):
        raise ValueError(
            f"foliage depth_m must lie in [0, 400] m (Weissberger's range), got "
            f"{np.atleast_1d(d).tolist()}"
        )
    fg = (f / 1e9) ** 0.284
    short = 0.45 * fg * d
    long = 1.33 * fg * np.power(np.maximum(d, 14.0), 0.588)
    return np.asarray(np.where(d <= 14.0, short, long), dtype=np.float64)


def p833_woodland_specific_attenuation_db_per_m(frequency_hz: ArrayLike) -> FloatArray:
    """Specific attenuation ``gamma`` of woodland [dB/m], ITU-R P.833-9 §2.1 Fig. 2 (vertical
    polarisation), interpolated linearly in log-log axes through :data:`P833_FIG2_POINTS` and
    extrapolated along the end segments (the figure stops at 30 GHz)."""
    f = np.asarray(frequency_hz, dtype=np.float64)
    if np.any(~np.isfinite(f) | (f <= 0)):
        raise ValueError(f"frequency_hz must be > 0 [Hz], got {np.atleast_1d(f).tolist()}")
    pts = np.log10(np.asarray(P833_FIG2_POINTS))
    x = np.log10(f / 1e6)
    seg = np.clip(np.searchsorted(pts[:, 0], x) - 1, 0, len(pts) - 2)
    x0, y0 = pts[seg, 0], pts[seg, 1]
    slope = (pts[seg + 1, 1] - y0) / (pts[seg + 1, 0] - x0)
    return np.asarray(10.0 ** (y0 + slope * (x - x0)), dtype=np.float64)


def p833_woodland_loss_db(
    frequency_hz: ArrayLike,
    depth_m: ArrayLike,
    *,
    specific_attenuation_db_per_m: ArrayLike | None = None,
    max_attenuation_db: ArrayLike | None = None,
) -> FloatArray:
    """Excess loss of a terrestrial path with one terminal in woodland [dB].

    ITU-R P.833-9 §2.1 eq. (1): ``A_ev = A_m [1 - exp(-d gamma / A_m)]`` with ``d`` the length of
    the path within woodland [m], ``gamma`` the specific attenuation for very short vegetative
    paths [dB/m] (default: Fig. 2, :func:`p833_woodland_specific_attenuation_db_per_m`) and
    ``A_m`` the maximum attenuation for one terminal within a given type and depth of vegetation
    [dB] (default: eq. (2), ``A_m = A1 f^alpha`` with f in MHz and the Mulhouse values
    ``A1 = 1.15``, ``alpha = 0.43``). Short depths give ``gamma d``, long ones tend to ``A_m``.

    Args:
        frequency_hz: frequency [Hz] (> 0).
        depth_m: path length within woodland [m] (>= 0).
        specific_attenuation_db_per_m: override ``gamma`` [dB/m] (> 0).
        max_attenuation_db: override ``A_m`` [dB] (> 0).
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    d = np.asarray(depth_m, dtype=np.float64)
    if np.any(~np.isfinite(d) | (d < 0)):
        raise ValueError(f"foliage depth_m must be >= 0 [m], got {np.atleast_1d(d).tolist()}")
    gamma = (
        p833_woodland_specific_attenuation_db_per_m(f)
        if specific_attenuation_db_per_m is None
        else np.asarray(specific_attenuation_db_per_m, dtype=np.float64)
    )
    a_m = (
        P833_AM_A1 * (f / 1e6) ** P833_AM_ALPHA
        if max_attenuation_db is None
        else np.asarray(max_attenuation_db, dtype=np.float64)
    )
    if np.any(~np.isfinite(gamma) | (gamma <= 0)) or np.any(~np.isfinite(a_m) | (a_m <= 0)):
        raise ValueError("P.833 gamma [dB/m] and A_m [dB] must be > 0")
    return np.asarray(a_m * (1.0 - np.exp(-d * gamma / a_m)), dtype=np.float64)


def foliage_loss_db(
    frequency_hz: ArrayLike, depth_m: ArrayLike, *, model: str = "weissberger"
) -> FloatArray:
    """Excess loss of ``depth_m`` metres of foliage on the path [dB] (paper 002 Table 9 "plus
    foliage", Table 3 foliage depth 2.5 m).

    Paper 002 §4 says its vegetation loss is "approximated by an empirical model based on the
    ITU-R P.833-9 model" without naming it; its Table 9 adds 2.5, 3.6 and 4.6 dB at 7, 26 and
    140 GHz for 2.5 m. Two readings are offered:

    * ``"weissberger"`` (default): Weissberger's empirical exponential-decay model
      (:func:`weissberger_loss_db`), the usual empirical companion of P.833's exponential model:
      1.9, 2.8 and 4.6 dB for 2.5 m at 7, 26 and 140 GHz — the paper's 140 GHz value exactly and
      within 1 dB at 7 and 26 GHz;
    * ``"p833-woodland"``: ITU-R P.833-9 §2.1 eq. (1) with Fig. 2's specific attenuation
      (:func:`p833_woodland_loss_db`): 3.4, 12 and 58 dB for 2.5 m — far above the paper's
      figures, and extrapolated above Fig. 2's 30 GHz.

    Args:
        frequency_hz: frequency [Hz].
        depth_m: foliage depth along the path [m].
        model: ``"weissberger"`` or ``"p833-woodland"``.
    """
    if model == "weissberger":
        return weissberger_loss_db(frequency_hz, depth_m)
    if model == "p833-woodland":
        return p833_woodland_loss_db(frequency_hz, depth_m)
    raise ValueError(
        f"unknown foliage model {model!r}; choose one of: {', '.join(map(repr, FOLIAGE_MODELS))}"
    )
