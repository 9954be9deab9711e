"""Path-loss models: pure, vectorised functions over numpy arrays, chosen by checked names.

Every function broadcasts its array arguments against each other (numpy rules) and returns a
``float64`` array of path loss in dB (a positive number: received power = transmitted power +
antenna gains - path loss). Distances are in metres, heights are above ground in metres and
frequencies are in hertz, whatever unit the source formula uses internally.

Models and sources
------------------
``free_space``
    Friis free-space loss, ``20 log10(4 pi d f / c)``.
``al_hourani`` / ``al_hourani_mean``
    Al-Hourani, Kandeepan and Lardner, "Optimal LAP altitude for maximum coverage", IEEE WCL 3(6),
    2014, as used by paper 004 eqs. (1)-(3): free-space loss plus an excess loss
    ``eta_LoS`` or ``eta_NLoS`` [dB]; ``al_hourani`` takes the excess matching a geometric LoS
    decision, ``al_hourani_mean`` the mean over the LoS probability (paper 004's link model).
``tr38901_uma`` / ``tr38901_umi``
    3GPP TR 38.901 v16.1.0, Table 7.4.1-1, UMa and UMi-Street Canyon, LoS (two slopes around the
    breakpoint distance ``d'_BP``) and NLoS ``max(PL_LoS, PL'_NLoS)``.
``tr36777_uma_av`` / ``tr36777_umi_av``
    3GPP TR 36.777 v15.0.0, Annex B, Table B-2, path loss for aerial vehicles in UMa-AV and UMi-AV
    (aerial height 22.5-300 m; below 22.5 m the TR falls back to TR 38.901 UMa / UMi).
``itu_r_p1411``
    ITU-R P.1411 as ns-3 implements it: LoS links use ``ItuR1411LosPropagationLossModel``
    (two-slope, median of the lower and upper bounds, P.1411 section 4.1.1), NLoS links
    ``ItuR1411NlosOverRooftopPropagationLossModel`` (P.1411 section 4.2.1, multi-screen
    diffraction, with ns-3's default street geometry).

Glossary (name here -> symbol in the sources): ``distance_3d_m`` -> d_3D / d;
``horizontal_distance_m`` -> d_2D / r; ``station_height_m`` -> h_BS / h_b / h_1;
``user_height_m`` -> h_UT / h_m / h_2;
``aerial_height_m`` -> h_UT of TR 36.777 (the UAV); ``frequency_hz`` -> f_c / f; ``elevation_deg``
-> theta of Al-Hourani; ``rooftop_height_m`` -> h_r; ``street_width_m`` -> w;
``building_separation_m`` -> b; ``street_orientation_deg`` -> phi; ``buildings_extend_m`` -> l.

Out-of-range inputs (heights or distances outside a model's validity range) are evaluated with
the same formulas, never rejected: the ranges are documented on each function so that callers can
check them where it matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.radio.names import ENVIRONMENTS, PATHLOSS_MODELS

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Speed of light in vacuum [m/s] (exact, SI), used by the free-space and ITU-R models.
SPEED_OF_LIGHT_M_S: Final[float] = 299_792_458.0
#: Speed of light that 3GPP TR 38.901 (Table 7.4.1-1, note 1) prescribes for ``d'_BP`` [m/s].
SPEED_OF_LIGHT_3GPP_M_S: Final[float] = 3.0e8

#: TR 36.777 Annex B: aerial heights above this [m] use the aerial-vehicle formulas.
TR36777_MIN_AERIAL_HEIGHT_M: Final[float] = 22.5


def _f64(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Free space
# ---------------------------------------------------------------------------------------------


def free_space_path_loss_db(distance_m: ArrayLike, frequency_hz: ArrayLike) -> FloatArray:
    """Free-space path loss [dB] (Friis).

    ``FSPL = 20 log10(4 pi d f / c)`` with ``c = 299 792 458 m/s`` (ITU-R P.525 written in SI units;
    Al-Hourani 2014; NOTES.md). Equals ``32.45 + 20 log10(f/MHz) + 20 log10(d/km)``.

    Args:
        distance_m: 3D distance d [m], > 0 (0 gives ``-inf``).
        frequency_hz: carrier frequency f [Hz].

    Returns:
        Path loss [dB], broadcast shape of the inputs.
    """
    d = _f64(distance_m)
    f = _f64(frequency_hz)
    with np.errstate(divide="ignore"):
        return _f64(20.0 * np.log10(4.0 * np.pi * d * f / SPEED_OF_LIGHT_M_S))


# ---------------------------------------------------------------------------------------------
# Al-Hourani air-to-ground model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlHouraniEnvironment:
    """Constants of the Al-Hourani air-to-ground model for one environment.

    Attributes:
        a: S-curve parameter ``a`` of the LoS probability (paper 004: ``c1``).
        b: S-curve parameter ``b`` of the LoS probability [1/deg] (paper 004: ``c2``).
        eta_los_db: mean excess loss of LoS links over free space [dB].
        eta_nlos_db: mean excess loss of NLoS links over free space [dB].
    """

    a: float
    b: float
    eta_los_db: float
    eta_nlos_db: float


#: Al-Hourani environment constants (Al-Hourani et al., IEEE WCL 2014, Table I, for 2 GHz;
#: NOTES.md). ``paper004`` is paper 004 Table I (c1 = 9.6, c2 = 0.28) with the urban excess losses
#: (1, 20) dB, which that paper does not list: use it to reproduce paper 004, ``urban`` otherwise.
AL_HOURANI_ENVIRONMENTS: Final = MappingProxyType(
    {
        "suburban": AlHouraniEnvironment(a=4.88, b=0.43, eta_los_db=0.1, eta_nlos_db=21.0),
        "urban": AlHouraniEnvironment(a=9.61, b=0.16, eta_los_db=1.0, eta_nlos_db=20.0),
        "dense_urban": AlHouraniEnvironment(a=12.08, b=0.11, eta_los_db=1.6, eta_nlos_db=23.0),
        "high_rise_urban": AlHouraniEnvironment(a=27.23, b=0.08, eta_los_db=2.3, eta_nlos_db=34.0),
        "paper004": AlHouraniEnvironment(a=9.6, b=0.28, eta_los_db=1.0, eta_nlos_db=20.0),
    }
)


def _check_name(kind: str, name: str, allowed: tuple[str, ...]) -> None:
    if name not in allowed:
        raise ValueError(
            f"unknown {kind} {name!r}; choose one of: {', '.join(repr(a) for a in allowed)}"
        )


def al_hourani_environment(environment: str) -> AlHouraniEnvironment:
    """The constants of a named Al-Hourani environment (one of ``ENVIRONMENTS``).

    Raises:
        ValueError: unknown name; the message lists the allowed names.
    """
    _check_name("environment", environment, ENVIRONMENTS)
    return AL_HOURANI_ENVIRONMENTS[environment]


def elevation_angle_deg(horizontal_distance_m: ArrayLike, height_m: ArrayLike) -> FloatArray:
    """Elevation angle of the UAV seen from the user [deg].

    ``theta = (180 / pi) arctan(h / r)`` (Al-Hourani 2014; paper 004 eq. 1), with ``h`` the UAV
    height above the user and ``r`` the horizontal distance; 90 deg straight overhead.
    """
    return _f64(np.degrees(np.arctan2(_f64(height_m), _f64(horizontal_distance_m))))


def al_hourani_los_probability(elevation_deg: ArrayLike, *, a: float, b: float) -> FloatArray:
    """Probability of line of sight of an air-to-ground link.

    ``P_LoS(theta) = 1 / (1 + a exp(-b (theta - a)))`` (Al-Hourani 2014; paper 004 eq. 1),
    ``P_NLoS = 1 - P_LoS``.

    Args:
        elevation_deg: elevation angle theta of the UAV seen from the user [deg].
        a: environment constant a (see :data:`AL_HOURANI_ENVIRONMENTS`).
        b: environment constant b [1/deg].

    Returns:
        ``P_LoS`` in [0, 1], shape of ``elevation_deg``.
    """
    theta = _f64(elevation_deg)
    return _f64(1.0 / (1.0 + a * np.exp(-b * (theta - a))))


def al_hourani_path_loss_db(
    distance_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    los: ArrayLike,
    environment: str = "urban",
) -> FloatArray:
    """Al-Hourani path loss of links whose LoS state is known [dB].

    ``PL = FSPL(d, f) + eta_LoS`` for LoS links and ``FSPL(d, f) + eta_NLoS`` otherwise
    (Al-Hourani 2014). Use it with a geometric LoS decision (the segment clears every
    building); :func:`al_hourani_mean_path_loss_db` averages over the LoS probability instead.

    Args:
        distance_m: 3D distance d [m].
        frequency_hz: carrier frequency f [Hz].
        los: ``True`` where the link is in line of sight (boolean array, broadcast).
        environment: one of ``ENVIRONMENTS`` (see :data:`AL_HOURANI_ENVIRONMENTS`).

    Raises:
        ValueError: unknown environment.
    """
    env = al_hourani_environment(environment)
    excess_db = np.where(np.asarray(los, dtype=bool), env.eta_los_db, env.eta_nlos_db)
    return _f64(free_space_path_loss_db(distance_m, frequency_hz) + excess_db)


def al_hourani_mean_path_loss_db(
    horizontal_distance_m: ArrayLike,
    height_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    environment: str = "urban",
) -> FloatArray:
    """Mean air-to-ground path loss over the LoS probability [dB].

    ``PL = FSPL(d, f) + P_LoS(theta) eta_LoS + (1 - P_LoS(theta)) eta_NLoS`` with
    ``d = sqrt(r^2 + h^2)`` and ``theta = atan(h / r)`` (Al-Hourani 2014; paper 004 eqs. 1-3
    written in dB; NOTES.md).

    Args:
        horizontal_distance_m: horizontal distance r between UAV and user [m].
        height_m: UAV height above the user h [m].
        frequency_hz: carrier frequency f [Hz].
        environment: one of ``ENVIRONMENTS``.

    Raises:
        ValueError: unknown environment.
    """
    env = al_hourani_environment(environment)
    r = _f64(horizontal_distance_m)
    h = _f64(height_m)
    p_los = al_hourani_los_probability(elevation_angle_deg(r, h), a=env.a, b=env.b)
    excess_db = p_los * env.eta_los_db + (1.0 - p_los) * env.eta_nlos_db
    return _f64(free_space_path_loss_db(np.hypot(r, h), frequency_hz) + excess_db)


# ---------------------------------------------------------------------------------------------
# 3GPP TR 38.901 UMa and UMi-Street Canyon
# ---------------------------------------------------------------------------------------------


def tr38901_breakpoint_distance_m(
    station_height_m: ArrayLike,
    user_height_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    environment_height_m: float = 1.0,
) -> FloatArray:
    """Breakpoint distance ``d'_BP`` of TR 38.901 UMa / UMi [m].

    ``d'_BP = 4 h'_BS h'_UT f_c / c`` with ``h'_BS = h_BS - h_E``, ``h'_UT = h_UT - h_E`` and
    ``c = 3.0e8 m/s`` (3GPP TR 38.901 Table 7.4.1-1, note 1). ``h_E = 1 m`` for UMi always and for
    UMa with probability ``1 / (1 + C(d_2D, h_UT))``, which is 1 for ``h_UT < 13 m``; this
    deterministic model always uses the given ``environment_height_m`` (1 m by default).
    """
    hb = _f64(station_height_m) - environment_height_m
    hu = _f64(user_height_m) - environment_height_m
    return _f64(4.0 * hb * hu * _f64(frequency_hz) / SPEED_OF_LIGHT_3GPP_M_S)


def _two_slope_los_db(
    d3: FloatArray,
    d2: FloatArray,
    fc_ghz: FloatArray,
    hb: FloatArray,
    hu: FloatArray,
    f_hz: FloatArray,
    *,
    intercept_db: float,
    slope1: float,
    bp_coefficient: float,
) -> FloatArray:
    d_bp = tr38901_breakpoint_distance_m(hb, hu, f_hz)
    pl1 = intercept_db + slope1 * np.log10(d3) + 20.0 * np.log10(fc_ghz)
    pl2 = (
        intercept_db
        + 40.0 * np.log10(d3)
        + 20.0 * np.log10(fc_ghz)
        - bp_coefficient * np.log10(d_bp**2 + (hb - hu) ** 2)
    )
    return _f64(np.where(d2 <= d_bp, pl1, pl2))


def tr38901_uma_path_loss_db(
    distance_3d_m: ArrayLike,
    horizontal_distance_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    los: ArrayLike,
    station_height_m: ArrayLike = 25.0,
    user_height_m: ArrayLike = 1.5,
) -> FloatArray:
    """3GPP TR 38.901 UMa path loss [dB] (Table 7.4.1-1), without shadow fading.

    LoS: ``PL1 = 28.0 + 22 log10(d_3D) + 20 log10(f_c)`` for ``d_2D <= d'_BP``, else
    ``PL2 = 28.0 + 40 log10(d_3D) + 20 log10(f_c) - 9 log10(d'_BP^2 + (h_BS - h_UT)^2)``.
    NLoS: ``max(PL_LoS, PL'_NLoS)`` with
    ``PL'_NLoS = 13.54 + 39.08 log10(d_3D) + 20 log10(f_c) - 0.6 (h_UT - 1.5)``.
    f_c in GHz, distances in m; ``d'_BP`` from :func:`tr38901_breakpoint_distance_m` (h_E = 1 m).

    Validity (TR 38.901): 10 m <= d_2D <= 5 km, h_BS = 25 m, 1.5 m <= h_UT <= 22.5 m,
    0.5-100 GHz. Outside it the same formulas are evaluated (no error): a UAV station at 70 m
    is far above the 25 m the model was fitted for; prefer ``tr36777_uma_av`` for it.

    Args:
        distance_3d_m: d_3D [m].
        horizontal_distance_m: d_2D [m] (selects the slope).
        frequency_hz: f_c [Hz].
        los: ``True`` for LoS links (boolean array, broadcast).
        station_height_m: h_BS [m].
        user_height_m: h_UT [m].
    """
    d3 = _f64(distance_3d_m)
    d2 = _f64(horizontal_distance_m)
    f = _f64(frequency_hz)
    hb = _f64(station_height_m)
    hu = _f64(user_height_m)
    fc_ghz = f / 1e9
    pl_los = _two_slope_los_db(
        d3, d2, fc_ghz, hb, hu, f, intercept_db=28.0, slope1=22.0, bp_coefficient=9.0
    )
    pl_nlos = 13.54 + 39.08 * np.log10(d3) + 20.0 * np.log10(fc_ghz) - 0.6 * (hu - 1.5)
    return _f64(np.where(np.asarray(los, dtype=bool), pl_los, np.maximum(pl_los, pl_nlos)))


def tr38901_umi_path_loss_db(
    distance_3d_m: ArrayLike,
    horizontal_distance_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    los: ArrayLike,
    station_height_m: ArrayLike = 10.0,
    user_height_m: ArrayLike = 1.5,
) -> FloatArray:
    """3GPP TR 38.901 UMi-Street Canyon path loss [dB] (Table 7.4.1-1), without shadow fading.

    LoS: ``PL1 = 32.4 + 21 log10(d_3D) + 20 log10(f_c)`` for ``d_2D <= d'_BP``, else
    ``PL2 = 32.4 + 40 log10(d_3D) + 20 log10(f_c) - 9.5 log10(d'_BP^2 + (h_BS - h_UT)^2)``.
    NLoS: ``max(PL_LoS, PL'_NLoS)`` with
    ``PL'_NLoS = 35.3 log10(d_3D) + 22.4 + 21.3 log10(f_c) - 0.3 (h_UT - 1.5)``.
    f_c in GHz; ``d'_BP`` with h_E = 1 m.

    Validity (TR 38.901): 10 m <= d_2D <= 5 km, h_BS = 10 m, 1.5 m <= h_UT <= 22.5 m,
    0.5-100 GHz; evaluated unchanged outside it.

    Args:
        distance_3d_m: d_3D [m].
        horizontal_distance_m: d_2D [m].
        frequency_hz: f_c [Hz].
        los: ``True`` for LoS links.
        station_height_m: h_BS [m].
        user_height_m: h_UT [m].
    """
    d3 = _f64(distance_3d_m)
    d2 = _f64(horizontal_distance_m)
    f = _f64(frequency_hz)
    hb = _f64(station_height_m)
    hu = _f64(user_height_m)
    fc_ghz = f / 1e9
    pl_los = _two_slope_los_db(
        d3, d2, fc_ghz, hb, hu, f, intercept_db=32.4, slope1=21.0, bp_coefficient=9.5
    )
    pl_nlos = 35.3 * np.log10(d3) + 22.4 + 21.3 * np.log10(fc_ghz) - 0.3 * (hu - 1.5)
    return _f64(np.where(np.asarray(los, dtype=bool), pl_los, np.maximum(pl_los, pl_nlos)))


# ---------------------------------------------------------------------------------------------
# 3GPP TR 36.777 aerial vehicles (Annex B, Table B-2)
# ---------------------------------------------------------------------------------------------


def tr36777_uma_av_path_loss_db(
    distance_3d_m: ArrayLike,
    horizontal_distance_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    los: ArrayLike,
    aerial_height_m: ArrayLike,
    ground_height_m: ArrayLike = 1.5,
) -> FloatArray:
    """3GPP TR 36.777 UMa-AV path loss [dB] (Annex B, Table B-2), without shadow fading.

    For aerial height ``h_UT > 22.5 m``:
    LoS ``PL = 28.0 + 22 log10(d_3D) + 20 log10(f_c)``;
    NLoS ``PL = -17.5 + (46 - 7 log10(h_UT)) log10(d_3D) + 20 log10(40 pi f_c / 3)``
    (f_c in GHz). The NLoS value is floored at the LoS value, a guard that never binds inside
    the validity range. For ``h_UT <= 22.5 m`` Table B-2 refers to TR 38.901 UMa; here that is
    :func:`tr38901_uma_path_loss_db` with the UAV as the station (``h_BS = aerial_height_m``) and
    the ground end as the user (``h_UT = ground_height_m``).

    Reading for UAV base stations: TR 36.777 models an aerial *UE* above a 25 m macro site; by
    reciprocity the UAV station plays h_UT and the ground user plays the site, whose 25 m height
    the formulas above do not depend on.

    Validity: LoS 22.5 m < h_UT <= 300 m, NLoS 10 m < h_UT <= 100 m, d_2D <= 4 km; 0.5-6 GHz
    (TR 36.777 studies bands below 6 GHz). NLoS above 100 m is extrapolated, nothing is rejected.

    Args:
        distance_3d_m: d_3D [m].
        horizontal_distance_m: d_2D [m] (used by the TR 38.901 fall-back only).
        frequency_hz: f_c [Hz].
        los: ``True`` for LoS links.
        aerial_height_m: UAV height above ground h_UT [m].
        ground_height_m: height of the ground end [m] (TR 38.901 fall-back only).
    """
    d3 = _f64(distance_3d_m)
    fc_ghz = _f64(frequency_hz) / 1e9
    h = _f64(aerial_height_m)
    los_b = np.asarray(los, dtype=bool)
    h_pos = np.maximum(h, 1e-3)  # log10 guard; heights this low use the fall-back anyway
    pl_los = 28.0 + 22.0 * np.log10(d3) + 20.0 * np.log10(fc_ghz)
    pl_nlos = (
        -17.5
        + (46.0 - 7.0 * np.log10(h_pos)) * np.log10(d3)
        + 20.0 * np.log10(40.0 * np.pi * fc_ghz / 3.0)
    )
    aerial = np.where(los_b, pl_los, np.maximum(pl_los, pl_nlos))
    terrestrial = tr38901_uma_path_loss_db(
        d3,
        horizontal_distance_m,
        frequency_hz,
        los=los_b,
        station_height_m=h,
        user_height_m=ground_height_m,
    )
    return _f64(np.where(h > TR36777_MIN_AERIAL_HEIGHT_M, aerial, terrestrial))


def tr36777_umi_av_path_loss_db(
    distance_3d_m: ArrayLike,
    horizontal_distance_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    los: ArrayLike,
    aerial_height_m: ArrayLike,
    ground_height_m: ArrayLike = 1.5,
) -> FloatArray:
    """3GPP TR 36.777 UMi-AV path loss [dB] (Annex B, Table B-2), without shadow fading.

    For aerial height ``h_UT > 22.5 m``:
    LoS ``PL = max(FSPL, 30.9 + (22.25 - 0.5 log10(h_UT)) log10(d_3D) + 20 log10(f_c))``;
    NLoS ``PL = max(PL_LoS, 32.4 + (43.2 - 7.6 log10(h_UT)) log10(d_3D) + 20 log10(f_c))``
    (f_c in GHz, FSPL from :func:`free_space_path_loss_db`). For ``h_UT <= 22.5 m``: TR 38.901
    UMi-Street Canyon with the UAV as the station, as for :func:`tr36777_uma_av_path_loss_db`.

    Validity: 22.5 m < h_UT <= 300 m, d_2D <= 4 km; evaluated unchanged outside it.

    Args:
        distance_3d_m: d_3D [m].
        horizontal_distance_m: d_2D [m] (TR 38.901 fall-back only).
        frequency_hz: f_c [Hz].
        los: ``True`` for LoS links.
        aerial_height_m: UAV height above ground h_UT [m].
        ground_height_m: height of the ground end [m] (fall-back only).
    """
    d3 = _f64(distance_3d_m)
    fc_ghz = _f64(frequency_hz) / 1e9
    h = _f64(aerial_height_m)
    los_b = np.asarray(los, dtype=bool)
    log_h = np.log10(np.maximum(h, 1e-3))
    pl_los = np.maximum(
        free_space_path_loss_db(d3, frequency_hz),
        30.9 + (22.25 - 0.5 * log_h) * np.log10(d3) + 20.0 * np.log10(fc_ghz),
    )
    pl_nlos = np.maximum(
        pl_los, 32.4 + (43.2 - 7.6 * log_h) * np.log10(d3) + 20.0 * np.log10(fc_ghz)
    )
    aerial = np.where(los_b, pl_los, pl_nlos)
    terrestrial = tr38901_umi_path_loss_db(
        d3,
        horizontal_distance_m,
        frequency_hz,
        los=los_b,
        station_height_m=h,
        user_height_m=ground_height_m,
    )
    return _f64(np.where(h > TR36777_MIN_AERIAL_HEIGHT_M, aerial, terrestrial))


# ---------------------------------------------------------------------------------------------
# ITU-R P.1411 as implemented by ns-3
# ---------------------------------------------------------------------------------------------


def itu_r_p1411_los_path_loss_db(
    distance_3d_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    station_height_m: ArrayLike,
    user_height_m: ArrayLike,
) -> FloatArray:
    """ITU-R P.1411 LoS path loss [dB], exactly as ns-3 ``ItuR1411LosPropagationLossModel``.

    ITU-R P.1411 section 4.1.1 (LoS within street canyons, UHF two-slope model), with
    ``lambda = c / f``: ``R_bp = 4 h_1 h_2 / lambda``,
    ``L_bp = |20 log10(lambda^2 / (8 pi h_1 h_2))|``; for ``d <= R_bp``:
    ``L_low = L_bp + 20 log10(d / R_bp)``, ``L_up = L_bp + 20 + 25 log10(d / R_bp)``;
    otherwise ``L_low = L_bp + 40 log10(d / R_bp)``, ``L_up = L_bp + 20 + 40 log10(d / R_bp)``;
    the result is the median ``(L_low + L_up) / 2``, as ns-3 ``GetLoss`` returns it.

    Validity: 300 MHz-100 GHz, short range (up to about 1 km), heights > 0 (ns-3 asserts it;
    here zero heights give infinite values, nothing is rejected).

    Args:
        distance_3d_m: d [m] (ns-3 uses the 3D distance between the nodes).
        frequency_hz: f [Hz].
        station_height_m: h_1 [m].
        user_height_m: h_2 [m].
    """
    d = _f64(distance_3d_m)
    lam = SPEED_OF_LIGHT_M_S / _f64(frequency_hz)
    h1 = _f64(station_height_m)
    h2 = _f64(user_height_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        l_bp = np.abs(20.0 * np.log10(lam**2 / (8.0 * np.pi * h1 * h2)))
        r_bp = 4.0 * h1 * h2 / lam
        log_ratio = np.log10(d / r_bp)
    near = d <= r_bp
    l_low = l_bp + np.where(near, 20.0, 40.0) * log_ratio
    l_up = l_bp + 20.0 + np.where(near, 25.0, 40.0) * log_ratio
    return _f64((l_low + l_up) / 2.0)


def itu_r_p1411_nlos_over_rooftop_path_loss_db(
    distance_3d_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    station_height_m: ArrayLike,
    user_height_m: ArrayLike,
    rooftop_height_m: float = 20.0,
    street_orientation_deg: float = 45.0,
    street_width_m: float = 20.0,
    buildings_extend_m: float = 80.0,
    building_separation_m: float = 50.0,
    urban_large_city: bool = True,
) -> FloatArray:
    """ITU-R P.1411 NLoS over-rooftop path loss [dB], as ns-3 implements it.

    ns-3 ``ItuR1411NlosOverRooftopPropagationLossModel::GetLoss``; ITU-R P.1411 section 4.2.1
    (propagation over roof-tops, urban area): ``L = L_bf + L_rts + L_msd`` when
    ``L_rts + L_msd > 0``, else ``L_bf``, with free-space ``L_bf = 32.4 + 20 log10(d/km) +
    20 log10(f/MHz)``, roof-to-street diffraction
    ``L_rts = -8.2 - 10 log10(w) + 10 log10(f) + 20 log10(h_r - h_m) + L_ori`` and multi-screen
    diffraction ``L_msd`` (``L_bsh + k_a + k_d log10(d/km) + k_f log10(f) - 9 log10(b)`` when
    ``d_s = lambda d^2 / Delta_h_b^2 < l``, else ``-10 log10(Q_M^2)``). The station height is
    ``h_b = max`` and the user height ``h_m = min`` of the two heights, as in ns-3. Defaults are
    ns-3's: urban large city, ``h_r`` 20 m, street orientation 45 deg, street width 20 m,
    buildings extend 80 m, building separation 50 m.

    Where ns-3 and the Recommendation differ, this follows ns-3 except where ns-3's choice depends
    on argument order:

    - ``L_ori`` for phi >= 55 deg is ns-3's ``2.5 + 0.075 (phi - 55)`` (the Recommendation has
      ``4.0 - 0.114 (phi - 55)``); the default 45 deg uses the middle branch, where both agree.
    - ``k_a = 71.4`` for ``f > 2 GHz`` and ``h_b > h_r`` (ns-3), ``k_f = -8`` for ``f > 2 GHz``.
    - At or below 2 GHz, ns-3's urban large city uses ``k_f = -4 + 0.7 (f/925 - 1)`` and every
      other setting ``-4 + 1.5 (f/925 - 1)``; the Recommendation gives 0.7 to medium-sized cities
      and 1.5 to metropolitan centres. ``urban_large_city`` reproduces ns-3.
    - ``k_d = 18 - 15 Delta_h_b / h_r`` for ``h_b <= h_r`` follows the Recommendation; ns-3
      divides by the height of whichever node it received first (``GetLoss(a, b)``:
      ``kd = 18.0 - 15 * Dhb / a->GetPosition().z``), so where ``h_b <= h_r`` and ``d_s < l``
      neither argument order agrees; ``GetLoss(station, user)`` is the closer. Everywhere else
      ns-3 is symmetric in its two nodes.
    - A user at or above the rooftop height (``h_r - h_m <= 0``) gets ``L_rts = -inf``, i.e. the
      free-space loss ``L_bf``. ns-3 returns the same ``L_bf`` (its ``log10`` of ``Dhm <= 0`` is
      -inf or NaN, and ``Lrts + Lmsd > 0`` is then false), not NaN.

    Validity: 800 MHz-38 GHz (2-16 GHz for the ``k_a`` branch), 20 m-5 km, h_b 4-55 m,
    h_m 1-3 m; evaluated unchanged outside it.

    Args:
        distance_3d_m: d [m] (ns-3 uses the 3D distance).
        frequency_hz: f [Hz].
        station_height_m: height of one end [m].
        user_height_m: height of the other end [m].
        rooftop_height_m: h_r [m].
        street_orientation_deg: phi, street orientation relative to the direct path [deg], 0-90.
        street_width_m: w [m].
        buildings_extend_m: l, distance over which the buildings extend [m].
        building_separation_m: b [m].
        urban_large_city: ns-3 ``Environment=Urban`` and ``CitySize=Large`` (changes ``k_f`` at
            or below 2 GHz only); ``False`` for every other combination.
    """
    d = _f64(distance_3d_m)
    f_hz = _f64(frequency_hz)
    f_mhz = f_hz / 1e6
    lam = SPEED_OF_LIGHT_M_S / f_hz
    h_a = _f64(station_height_m)
    h_b_in = _f64(user_height_m)
    hb = np.maximum(h_a, h_b_in)
    hm = np.minimum(h_a, h_b_in)
    hr = rooftop_height_m
    bsep = building_separation_m
    phi = street_orientation_deg

    if phi < 35.0:
        l_ori = -10.0 + 0.354 * phi
    elif phi < 55.0:
        l_ori = 2.5 + 0.075 * (phi - 35.0)
    else:
        l_ori = 2.5 + 0.075 * (phi - 55.0)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dhb = hb - hr
        ds = lam * d**2 / dhb**2
        above = hb > hr
        # d_s < l: multi-screen diffraction
        l_bsh = np.where(above, -18.0 * np.log10(1.0 + np.where(above, dhb, 0.0)), 0.0)
        ka_above = np.where(f_mhz > 2000.0, 71.4, 54.0)
        ka_below = np.where(d < 500.0, 54.0 - 1.6 * dhb * d / 1000.0, 54.0 - 0.8 * dhb)
        ka = np.where(above, ka_above, ka_below)
        kd = np.where(above, 18.0, 18.0 - 15.0 * dhb / hr)
        kf_slope = 0.7 if urban_large_city else 1.5
        kf = np.where(f_mhz > 2000.0, -8.0, -4.0 + kf_slope * (f_mhz / 925.0 - 1.0))
        l_msd_near = (
            l_bsh + ka + kd * np.log10(d / 1000.0) + kf * np.log10(f_mhz) - 9.0 * np.log10(bsep)
        )
        # d_s >= l: settled field
        theta = np.arctan(dhb / bsep)
        rho = np.sqrt(dhb**2 + bsep**2)
        qm_level = bsep / d
        qm_above = 2.35 * np.power(np.abs(dhb) / d * np.sqrt(bsep / lam), 0.9)
        qm_below = (
            bsep
            / (2.0 * np.pi * d)
            * np.sqrt(lam / rho)
            * (1.0 / theta - 1.0 / (2.0 * np.pi + theta))
        )
        qm = np.where(
            (hb > hr - 1.0) & (hb < hr + 1.0), qm_level, np.where(above, qm_above, qm_below)
        )
        l_msd_far = -10.0 * np.log10(qm**2)
        l_msd = np.where(ds < buildings_extend_m, l_msd_near, l_msd_far)

        l_bf = 32.4 + 20.0 * np.log10(d / 1000.0) + 20.0 * np.log10(f_mhz)
        dhm = hr - hm
        l_rts = np.where(
            dhm > 0.0,
            -8.2
            - 10.0 * np.log10(street_width_m)
            + 10.0 * np.log10(f_mhz)
            + 20.0 * np.log10(np.where(dhm > 0.0, dhm, 1.0))
            + l_ori,
            -np.inf,
        )
        excess = l_rts + l_msd
        loss = np.where(excess > 0.0, l_bf + excess, l_bf)
    return _f64(loss)


def itu_r_p1411_path_loss_db(
    distance_3d_m: ArrayLike,
    frequency_hz: ArrayLike,
    *,
    los: ArrayLike,
    station_height_m: ArrayLike,
    user_height_m: ArrayLike,
) -> FloatArray:
    """ITU-R P.1411 path loss [dB] as paper 003 simulates it in ns-3.

    LoS links: :func:`itu_r_p1411_los_path_loss_db`; NLoS links:
    :func:`itu_r_p1411_nlos_over_rooftop_path_loss_db` with ns-3's default street geometry.
    """
    los_db = itu_r_p1411_los_path_loss_db(
        distance_3d_m,
        frequency_hz,
        station_height_m=station_height_m,
        user_height_m=user_height_m,
    )
    nlos_db = itu_r_p1411_nlos_over_rooftop_path_loss_db(
        distance_3d_m,
        frequency_hz,
        station_height_m=station_height_m,
        user_height_m=user_height_m,
    )
    return _f64(np.where(np.asarray(los, dtype=bool), los_db, nlos_db))


# ---------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------


def check_pathloss_model(model: str) -> None:
    """Raise ``ValueError`` listing ``PATHLOSS_MODELS`` unless ``model`` is one of them."""
    _check_name("path-loss model", model, PATHLOSS_MODELS)


def path_loss_db(
    model: str,
    distance_3d_m: ArrayLike,
    *,
    frequency_hz: ArrayLike,
    los: ArrayLike,
    station_height_m: ArrayLike,
    user_height_m: ArrayLike,
    horizontal_distance_m: ArrayLike,
    environment: str = "urban",
) -> FloatArray:
    """Path loss [dB] of the model named ``model`` (one of ``PATHLOSS_MODELS``).

    All array arguments broadcast together. Each model reads what it needs:

    - ``tr36777_uma_av`` / ``tr36777_umi_av``: the station is the aerial vehicle
      (``aerial_height_m = station_height_m``, ``ground_height_m = user_height_m``);
    - ``free_space``: distance and frequency only (``los`` ignored);
    - ``al_hourani``: distance, frequency, ``los`` and ``environment``;
    - ``al_hourani_mean``: distance, frequency, the elevation angle from
      ``horizontal_distance_m`` and ``station_height_m - user_height_m``, and ``environment``;
      ``los`` ignored (paper 004 eqs. 1-3: the mean over the LoS probability,
      :func:`al_hourani_mean_path_loss_db`, with the given 3D distance in the free-space term);
    - ``tr38901_uma`` / ``tr38901_umi``: h_BS = station height, h_UT = user height;
    - ``itu_r_p1411``: ns-3 LoS model for LoS links, over-rooftop model for NLoS links.

    Args:
        model: path-loss model name.
        distance_3d_m: 3D distance [m].
        frequency_hz: carrier frequency [Hz].
        los: ``True`` for line-of-sight links (boolean array).
        station_height_m: height of the base station (UAV) above ground [m].
        user_height_m: height of the user above ground [m].
        horizontal_distance_m: horizontal distance [m].
        environment: Al-Hourani environment (one of ``ENVIRONMENTS``); checked for every model.

    Raises:
        ValueError: unknown model or environment name; the message lists the allowed names.
    """
    check_pathloss_model(model)
    _check_name("environment", environment, ENVIRONMENTS)
    if model == "tr36777_uma_av":
        return tr36777_uma_av_path_loss_db(
            distance_3d_m,
            horizontal_distance_m,
            frequency_hz,
            los=los,
            aerial_height_m=station_height_m,
            ground_height_m=user_height_m,
        )
    if model == "tr36777_umi_av":
        return tr36777_umi_av_path_loss_db(
            distance_3d_m,
            horizontal_distance_m,
            frequency_hz,
            los=los,
            aerial_height_m=station_height_m,
            ground_height_m=user_height_m,
        )
    if model == "free_space":
        shape = np.broadcast_shapes(np.shape(distance_3d_m), np.shape(frequency_hz), np.shape(los))
        return _f64(np.broadcast_to(free_space_path_loss_db(distance_3d_m, frequency_hz), shape))
    if model == "al_hourani":
        return al_hourani_path_loss_db(
            distance_3d_m, frequency_hz, los=los, environment=environment
        )
    if model == "al_hourani_mean":
        env = al_hourani_environment(environment)
        theta = elevation_angle_deg(
            horizontal_distance_m, _f64(station_height_m) - _f64(user_height_m)
        )
        p_los = al_hourani_los_probability(theta, a=env.a, b=env.b)
        excess_db = p_los * env.eta_los_db + (1.0 - p_los) * env.eta_nlos_db
        shape = np.broadcast_shapes(np.shape(distance_3d_m), np.shape(los), np.shape(excess_db))
        return _f64(
            np.broadcast_to(free_space_path_loss_db(distance_3d_m, frequency_hz) + excess_db, shape)
        )
    if model == "tr38901_uma":
        return tr38901_uma_path_loss_db(
            distance_3d_m,
            horizontal_distance_m,
            frequency_hz,
            los=los,
            station_height_m=station_height_m,
            user_height_m=user_height_m,
        )
    if model == "tr38901_umi":
        return tr38901_umi_path_loss_db(
            distance_3d_m,
            horizontal_distance_m,
            frequency_hz,
            los=los,
            station_height_m=station_height_m,
            user_height_m=user_height_m,
        )
    if model == "itu_r_p1411":
        return itu_r_p1411_path_loss_db(
            distance_3d_m,
            frequency_hz,
            los=los,
            station_height_m=station_height_m,
            user_height_m=user_height_m,
        )
    raise AssertionError(f"path-loss model {model!r} is listed in PATHLOSS_MODELS but not wired")
