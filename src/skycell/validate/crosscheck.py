"""Cross-check of the two channel engines: the ray tracer against free space, then against the
analytic engine in a city (issue 4, item 6; paper 000 §VI and Fig. 10).

Two checks:

1. **Open ground** (:func:`crosscheck_open_ground`). A city with no buildings, stations at a few
   heights, receivers at several distances. The line-of-sight path that Sionna RT traces
   (only the ``los`` paths of :class:`~skycell.radio.sionna_engine.UserPaths`, isotropic
   antennas, so the ground reflection does not interfere) must equal the free-space path loss
   of :func:`skycell.radio.pathloss.free_space_path_loss_db` within 0.5 dB. As information, the
   full trace (LoS + ground reflection) is compared with a two-ray ground model
   (:func:`two_ray_path_gain_db`: the direct ray plus the ground-reflected ray weighted by the
   Fresnel coefficient of the ITU-R P.2040 ground, powers summed as the engine sums them).

2. **City** (:func:`crosscheck_city`). The received power of every station-user link, and of
   every user from its serving station, from both engines with the same radio settings
   (frequency, station pattern and orientation, user pattern, transmit power), like paper 000
   Fig. 10 compares its two twins (AODT and Sionna) per user. Reported: the per-link difference
   ``delta = P_raytraced - P_analytic`` [dB] over the links where the ray tracer found a path,
   with the median and 90th percentile of ``|delta|`` and the mean bias, split by the
   geometric line of sight (:meth:`skycell.city.buildings.City.line_of_sight_matrix`).

Why the two engines differ
--------------------------
They answer different questions. The **analytic engine** is a *statistical* path-loss model: a
formula fitted to measurements over many cities (3GPP TR 36.777 UMa-AV by default), which sees
the city only through one bit per link (geometric LoS or not) and returns the *median* loss of
all links of that kind at that distance. The **ray tracer** is *deterministic* in this one
geometry: it sums the power of the individual propagation paths that exist here.

* LoS links: the ray-traced direct path is exactly free space (check 1), the analytic LoS
  formula is within about 0.5 dB of free space at these distances
  (``28 + 22 log10 d`` vs ``32.45 + 20 log10 d``), and the ray tracer adds the ground
  reflection (up to +3 dB at grazing incidence, little near the Brewster angle) and
  reflections off nearby walls. Expect a small positive bias and a small spread.
* NLoS links: the model's median NLoS loss includes diffraction over roofs and around corners
  and diffuse scattering. :class:`~skycell.radio.sionna_engine.SionnaEngine` traces specular
  reflections and transmission through walls only (its path solver runs without diffraction or
  diffuse reflection), so a user deep in a street canyon gets either a weak reflected or
  through-wall path or none at all. Expect a negative bias and a wide spread (tens of dB), and
  links without any traced path; these are counted (``no_path``) and left out of the
  statistics, as a receiver without a traced path has no finite power to compare.
* The ray tracer shoots a finite number of rays (``samples``) per station, so distant
  reflection paths may be missed (Monte Carlo); the LoS path is tested exactly.
* Both engines sum path powers without phases (paper 000 §VI: ``P_rx = P_tx sum |h_r|^2``), so
  neither has fast fading; the differences are large-scale.

Polarisation: the analytic engine ignores it; Sionna models it, and with its default vertically
polarised user a tilted station loses power to polarisation mismatch (about 8 dB toward a user
beside a straight-down station), a difference that has nothing to do with propagation. The
comparison therefore uses ``user_polarization="cross"`` (an ideal dual-polarised user whose two
ports' powers are summed), which captures the whole field, as the analytic engine assumes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.errors import SkycellError
from skycell.fileio import atomic_write, atomic_write_text
from skycell.radio.engine import _as_points, _per_station
from skycell.radio.pathloss import SPEED_OF_LIGHT_M_S, free_space_path_loss_db

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.deployment import Deployment
    from skycell.scenario import Scenario

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

#: Largest |ray-traced LoS path gain + FSPL| accepted on open ground [dB] (issue 4, item 6).
OPEN_GROUND_TOLERANCE_DB: Final[float] = 0.5

#: ITU-R P.2040-3 Table 3 ground types: ``eps_r' = a f^b``, ``sigma = c f^d`` [S/m], f in GHz
#: (valid 1-10 GHz); the same names as Sionna RT's ITU materials.
ITU_GROUNDS: Final[Mapping[str, tuple[float, float, float, float]]] = {
    "very_dry_ground": (3.0, 0.0, 0.00015, 2.52),
    "medium_dry_ground": (15.0, -0.1, 0.035, 1.63),
    "wet_ground": (30.0, -0.4, 0.15, 1.30),
}

_VACUUM_PERMITTIVITY_F_M: Final[float] = 8.8541878128e-12

#: Groups of links the statistics are split by.
GROUPS: Final[tuple[str, ...]] = ("all", "los", "nlos")


# ---------------------------------------------------------------------------------------------
# Two-ray ground model (information for the open-ground check)
# ---------------------------------------------------------------------------------------------


def ground_permittivity(material: str, frequency_hz: float) -> complex:
    """Complex relative permittivity ``eps_r' - j sigma / (omega eps_0)`` of an ITU-R P.2040
    ground (``very_dry_ground``, ``medium_dry_ground``, ``wet_ground``; ``itu_`` prefix allowed).

    Raises:
        ValueError: unknown ground name.
    """
    name = material.removeprefix("itu_")
    if name not in ITU_GROUNDS:
        allowed = ", ".join(repr(g) for g in ITU_GROUNDS)
        raise ValueError(f"unknown ground material {material!r}; choose one of: {allowed}")
    a, b, c, d = ITU_GROUNDS[name]
    f_ghz = frequency_hz / 1e9
    eps = a * f_ghz**b
    sigma = c * f_ghz**d
    return complex(eps, -sigma / (2.0 * np.pi * frequency_hz * _VACUUM_PERMITTIVITY_F_M))


def two_ray_path_gain_db(
    tx_xyz_m: ArrayLike,
    rx_xyz_m: ArrayLike,
    *,
    frequency_hz: float,
    ground_material: str = "medium_dry_ground",
) -> FloatArray:
    """``(N, U)`` two-ray ground path gain [dB] with isotropic, vertically polarised antennas.

    ``G = (lambda / 4 pi)^2 (1 / d_1^2 + |Gamma_TM|^2 / d_2^2)``: the direct ray of length
    ``d_1`` plus the ray reflected by the flat ground at ``z = 0`` (length
    ``d_2 = sqrt(r^2 + (h_t + h_r)^2)``), whose field a vertically polarised source keeps in the
    plane of incidence (TM), weighted by the Fresnel coefficient
    ``Gamma_TM = (eta cos t - sqrt(eta - sin^2 t)) / (eta cos t + sqrt(eta - sin^2 t))``
    (``t`` the angle of incidence from the normal, ``eta`` from :func:`ground_permittivity`).
    The two powers are added without their phases, as
    :meth:`~skycell.radio.sionna_engine.UserPaths.path_gain_db` adds path powers (paper 000 §VI),
    so there are no two-ray interference nulls.
    """
    tx = _as_points(tx_xyz_m, "tx_xyz_m")
    rx = _as_points(rx_xyz_m, "rx_xyz_m")
    eta = ground_permittivity(ground_material, frequency_hz)
    ht = tx[:, None, 2]
    hr = rx[None, :, 2]
    r = np.hypot(rx[None, :, 0] - tx[:, None, 0], rx[None, :, 1] - tx[:, None, 1])
    d1 = np.maximum(np.sqrt(r**2 + (ht - hr) ** 2), 1e-9)
    d2 = np.sqrt(r**2 + (ht + hr) ** 2)
    cos_t = (ht + hr) / d2
    root = np.sqrt(eta - (1.0 - cos_t**2))
    gamma = (eta * cos_t - root) / (eta * cos_t + root)
    lam = SPEED_OF_LIGHT_M_S / frequency_hz
    gain = (lam / (4.0 * np.pi)) ** 2 * (1.0 / d1**2 + np.abs(gamma) ** 2 / d2**2)
    return np.asarray(10.0 * np.log10(gain), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Check 1: open ground
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenGroundResult:
    """Ray-traced LoS path gain on open ground against free space (arrays are ``(N, U)``).

    Attributes:
        frequency_hz: carrier frequency [Hz].
        ground_material: ITU material of the ground plane.
        station_xyz_m: ``(N, 3)`` stations [m] (isotropic antennas).
        users_xyz_m: ``(U, 3)`` receivers [m] (isotropic, dual-polarised).
        distance_m: 3-D station-receiver distances [m].
        fspl_db: free-space path loss [dB] (:func:`free_space_path_loss_db`).
        los_paths: number of LoS paths the ray tracer found per link (1 expected).
        los_path_gain_db: ray-traced path gain of the LoS paths only [dB].
        total_path_gain_db: ray-traced path gain of all paths (LoS + ground reflection) [dB].
        two_ray_path_gain_db: two-ray ground model [dB] (:func:`two_ray_path_gain_db`).
        tolerance_db: accepted ``max |los_error_db|`` [dB].
        wall_time_s: time of the trace (scene build and compilation included) [s].
    """

    frequency_hz: float
    ground_material: str
    station_xyz_m: FloatArray
    users_xyz_m: FloatArray
    distance_m: FloatArray
    fspl_db: FloatArray
    los_paths: IntArray
    los_path_gain_db: FloatArray
    total_path_gain_db: FloatArray
    two_ray_path_gain_db: FloatArray
    tolerance_db: float
    wall_time_s: float

    @property
    def los_error_db(self) -> FloatArray:
        """``(N, U)`` ray-traced LoS path gain minus the free-space gain ``-FSPL`` [dB]."""
        return np.asarray(self.los_path_gain_db + self.fspl_db, dtype=np.float64)

    @property
    def two_ray_error_db(self) -> FloatArray:
        """``(N, U)`` ray-traced total path gain minus the two-ray model [dB]."""
        return np.asarray(self.total_path_gain_db - self.two_ray_path_gain_db, dtype=np.float64)

    @property
    def max_abs_los_error_db(self) -> float:
        """``max |los_error_db|`` [dB] (inf when a LoS path is missing)."""
        if not np.all(self.los_paths == 1):
            return float("inf")
        return float(np.max(np.abs(self.los_error_db)))

    @property
    def max_abs_two_ray_error_db(self) -> float:
        """``max |two_ray_error_db|`` [dB]."""
        return float(np.max(np.abs(self.two_ray_error_db)))

    @property
    def passed(self) -> bool:
        """Every link has exactly one LoS path, within ``tolerance_db`` of free space."""
        return self.max_abs_los_error_db <= self.tolerance_db

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary and per-link arrays."""
        return {
            "frequency_hz": self.frequency_hz,
            "ground_material": self.ground_material,
            "tolerance_db": self.tolerance_db,
            "passed": self.passed,
            "max_abs_los_error_db": _finite_or_none(self.max_abs_los_error_db),
            "max_abs_two_ray_error_db": _finite_or_none(self.max_abs_two_ray_error_db),
            "wall_time_s": self.wall_time_s,
            "station_xyz_m": self.station_xyz_m.tolist(),
            "users_xyz_m": self.users_xyz_m.tolist(),
            "distance_m": _round(self.distance_m, 3),
            "fspl_db": _round(self.fspl_db, 4),
            "los_error_db": _round(self.los_error_db, 6),
            "two_ray_error_db": _round(self.two_ray_error_db, 4),
        }


def crosscheck_open_ground(
    frequency_hz: float = 3.5e9,
    *,
    heights_m: Sequence[float] = (30.0, 70.0, 120.0),
    distances_m: Sequence[float] = (10.0, 50.0, 100.0, 200.0, 400.0, 800.0),
    user_height_m: float = 1.5,
    ground_material: str = "medium_dry_ground",
    samples: int = 10_000,
    seed: int = 0,
    tolerance_db: float = OPEN_GROUND_TOLERANCE_DB,
) -> OpenGroundResult:
    """Trace stations above open ground and compare the LoS path gain with free space.

    Stations stand at ``(0, 0, h)`` for each ``h`` in ``heights_m``; receivers at
    ``user_height_m`` at each horizontal distance of ``distances_m``, spread over azimuths by the
    golden angle. Both antennas are isotropic (station vertically polarised, tilt 0; the
    receiver dual-polarised, ``"cross"``), so the path gain is the pure propagation loss. The
    solver traces one interaction (``max_depth=1``: the ground reflection).

    Args:
        frequency_hz: carrier frequency [Hz].
        heights_m: station heights above ground [m].
        distances_m: horizontal station-receiver distances [m].
        user_height_m: receiver height [m].
        ground_material: ITU ground of the scene, one of ``ITU_GROUNDS``.
        samples: rays per station.
        seed: ray tracer seed.
        tolerance_db: accepted ``max |LoS gain + FSPL|`` [dB].

    Raises:
        SkycellError: Sionna RT or LLVM 16+ missing.
        ValueError: empty heights or distances, or an unknown ground.
    """
    from skycell.city.buildings import Buildings, City
    from skycell.radio.sionna_engine import SionnaEngine

    hs = np.asarray(heights_m, dtype=np.float64).reshape(-1)
    ds = np.asarray(distances_m, dtype=np.float64).reshape(-1)
    if hs.size == 0 or ds.size == 0 or np.any(hs <= 0) or np.any(ds < 0):
        raise ValueError("heights_m must be > 0 and distances_m >= 0, at least one of each [m]")
    ground_permittivity(ground_material, frequency_hz)  # validate the name early
    tx = np.column_stack((np.zeros(hs.size), np.zeros(hs.size), hs))
    ang = np.arange(ds.size) * np.pi * (3.0 - np.sqrt(5.0))  # golden angle
    rx = np.column_stack((ds * np.cos(ang), ds * np.sin(ang), np.full(ds.size, user_height_m)))
    half = float(ds.max()) + 50.0
    city = City(bounds_m=(-half, -half, half, half), buildings=Buildings.empty())
    engine = SionnaEngine(
        city,
        frequency_hz=frequency_hz,
        station_antenna="isotropic",
        user_antenna="isotropic",
        user_polarization="cross",
        max_depth=1,
        samples=samples,
        seed=seed,
        ground_material=ground_material,
    )
    tic = time.perf_counter()
    paths = engine.paths(tx, rx, azimuth_deg=0.0, tilt_deg=0.0)
    wall = time.perf_counter() - tic
    d = np.linalg.norm(rx[None, :, :] - tx[:, None, :], axis=-1)
    los_gain = np.where(paths.los, paths.gain, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore"):
        los_db = 10.0 * np.log10(los_gain)
    return OpenGroundResult(
        frequency_hz=float(frequency_hz),
        ground_material=ground_material,
        station_xyz_m=tx,
        users_xyz_m=rx,
        distance_m=d,
        fspl_db=free_space_path_loss_db(d, frequency_hz),
        los_paths=paths.los.sum(axis=-1).astype(np.int64),
        los_path_gain_db=np.asarray(los_db, dtype=np.float64),
        total_path_gain_db=paths.path_gain_db(),
        two_ray_path_gain_db=two_ray_path_gain_db(
            tx, rx, frequency_hz=frequency_hz, ground_material=ground_material
        ),
        tolerance_db=float(tolerance_db),
        wall_time_s=wall,
    )


# ---------------------------------------------------------------------------------------------
# Check 2: the city
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementStats:
    """Agreement of the two engines over one group of links; ``delta = P_rt - P_analytic``.

    NaN statistics when ``count`` is 0.

    Attributes:
        count: links compared (the ray tracer found a path).
        no_path: links of the group without any traced path (left out).
        median_abs_db: ``median |delta|`` [dB].
        p90_abs_db: ``numpy.percentile(|delta|, 90)`` (linear interpolation) [dB].
        bias_db: ``mean delta`` [dB] (positive: the ray tracer sees more power).
        median_db: ``median delta`` [dB].
        std_db: ``std delta`` [dB] (population, ``ddof=0``).
    """

    count: int
    no_path: int
    median_abs_db: float
    p90_abs_db: float
    bias_db: float
    median_db: float
    std_db: float

    @classmethod
    def of(cls, delta_db: ArrayLike, found: ArrayLike) -> AgreementStats:
        """Statistics of ``delta_db`` over ``found``; the rest counts as ``no_path``."""
        f = np.asarray(found, dtype=bool).reshape(-1)
        x = np.asarray(delta_db, dtype=np.float64).reshape(-1)[f]
        nan = float("nan")
        if x.size == 0:
            return cls(0, int(f.size), nan, nan, nan, nan, nan)
        a = np.abs(x)
        return cls(
            count=int(x.size),
            no_path=int(f.size - x.size),
            median_abs_db=float(np.median(a)),
            p90_abs_db=float(np.percentile(a, 90)),
            bias_db=float(np.mean(x)),
            median_db=float(np.median(x)),
            std_db=float(np.std(x)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN as ``None``)."""
        return {
            "count": self.count,
            "no_path": self.no_path,
            "median_abs_db": _finite_or_none(self.median_abs_db),
            "p90_abs_db": _finite_or_none(self.p90_abs_db),
            "bias_db": _finite_or_none(self.bias_db),
            "median_db": _finite_or_none(self.median_db),
            "std_db": _finite_or_none(self.std_db),
        }


@dataclass(frozen=True)
class CityCrosscheck:
    """Received power from both engines in a city; link arrays are ``(N, U)``.

    Attributes:
        scenario_name: the scenario's name.
        settings: the radio and ray-tracer settings both engines used (JSON-safe).
        station_xyz_m: ``(N, 3)`` stations [m].
        azimuth_deg, tilt_deg, tx_power_dbm: ``(N,)`` station orientation [deg] and power [dBm].
        users_xyz_m: ``(U, 3)`` users [m].
        analytic_dbm: analytic received power [dBm].
        raytraced_dbm: ray-traced received power [dBm] (``tx power + PATH_GAIN_FLOOR_DB`` where
            no path was found).
        found: True where the ray tracer found at least one path.
        los: geometric line of sight (the segment clears every building).
        rt_los: True where the ray tracer found the direct path.
        raytraced_direct_dbm: ray-traced power of the direct (LoS) path alone [dBm], NaN where
            there is none; ``raytraced_dbm`` minus it is what reflections and transmissions add.
        serving: ``(U,)`` serving station of each user: the strongest by the analytic engine
            (the planner's association).
        serving_raytraced: ``(U,)`` the strongest station by the ray tracer (-1: no path at all).
        link_stats: :class:`AgreementStats` over all station-user links per group
            (``all``, ``los``, ``nlos``).
        user_stats: the same over each user's serving link.
        direct_stats: :class:`AgreementStats` of the direct path alone against the analytic
            power, over the geometric-LoS links (``no_path``: the ray tracer found no direct
            path): isolates the path-loss formula, antenna patterns and orientation from the
            multipath the ray tracer adds.
        wall_time_s: ``analytic``, ``raytrace`` and ``total`` times [s] (the trace includes
            building the scene and compiling).
    """

    scenario_name: str
    settings: dict[str, Any]
    station_xyz_m: FloatArray
    azimuth_deg: FloatArray
    tilt_deg: FloatArray
    tx_power_dbm: FloatArray
    users_xyz_m: FloatArray
    analytic_dbm: FloatArray
    raytraced_dbm: FloatArray
    found: BoolArray
    los: BoolArray
    rt_los: BoolArray
    raytraced_direct_dbm: FloatArray
    serving: IntArray
    serving_raytraced: IntArray
    link_stats: dict[str, AgreementStats]
    user_stats: dict[str, AgreementStats]
    direct_stats: AgreementStats
    wall_time_s: dict[str, float] = field(default_factory=dict)

    @property
    def link_delta_db(self) -> FloatArray:
        """``(N, U)`` ``raytraced - analytic`` [dB], NaN where no path was traced."""
        return np.asarray(
            np.where(self.found, self.raytraced_dbm - self.analytic_dbm, np.nan), dtype=np.float64
        )

    @property
    def user_analytic_dbm(self) -> FloatArray:
        """``(U,)`` analytic power from the serving station [dBm]."""
        return np.asarray(self.analytic_dbm[self.serving, np.arange(self.serving.size)])

    @property
    def user_raytraced_dbm(self) -> FloatArray:
        """``(U,)`` ray-traced power from the serving station [dBm], NaN without a path."""
        u = np.arange(self.serving.size)
        return np.asarray(
            np.where(self.user_found, self.raytraced_dbm[self.serving, u], np.nan),
            dtype=np.float64,
        )

    @property
    def user_found(self) -> BoolArray:
        """``(U,)`` the ray tracer found a path from the serving station."""
        return np.asarray(self.found[self.serving, np.arange(self.serving.size)], dtype=bool)

    @property
    def user_los(self) -> BoolArray:
        """``(U,)`` geometric LoS to the serving station."""
        return np.asarray(self.los[self.serving, np.arange(self.serving.size)], dtype=bool)

    @property
    def user_delta_db(self) -> FloatArray:
        """``(U,)`` ``raytraced - analytic`` on the serving link [dB], NaN without a path."""
        return np.asarray(self.user_raytraced_dbm - self.user_analytic_dbm, dtype=np.float64)

    @property
    def serving_agreement(self) -> float:
        """Fraction of users whose strongest station is the same for both engines."""
        if self.serving.size == 0:
            return float("nan")
        return float(np.mean(self.serving == self.serving_raytraced))

    def to_dict(self, *, per_user: bool = True) -> dict[str, Any]:
        """JSON-safe: settings, statistics and (``per_user``) each user's serving link."""
        data: dict[str, Any] = {
            "scenario": self.scenario_name,
            "settings": self.settings,
            "delta": "raytraced - analytic received power (dB)",
            "stations": [
                {
                    "position_m": [float(v) for v in self.station_xyz_m[i]],
                    "azimuth_deg": float(self.azimuth_deg[i]),
                    "tilt_deg": float(self.tilt_deg[i]),
                    "tx_power_dbm": float(self.tx_power_dbm[i]),
                }
                for i in range(self.station_xyz_m.shape[0])
            ],
            "user_count": int(self.users_xyz_m.shape[0]),
            "users": {k: v.to_dict() for k, v in self.user_stats.items()},
            "links": {k: v.to_dict() for k, v in self.link_stats.items()},
            "los_links_direct_path_only": self.direct_stats.to_dict(),
            "geometric_los_fraction": _finite_or_none(float(np.mean(self.los)))
            if self.los.size
            else None,
            "rt_los_matches_geometric": _finite_or_none(float(np.mean(self.rt_los == self.los)))
            if self.los.size
            else None,
            "serving_agreement": _finite_or_none(self.serving_agreement),
            "wall_time_s": self.wall_time_s,
        }
        if per_user:
            u = np.arange(self.serving.size)
            data["per_user"] = [
                {
                    "position_m": [round(float(v), 3) for v in self.users_xyz_m[j]],
                    "serving": int(self.serving[j]),
                    "serving_raytraced": int(self.serving_raytraced[j]),
                    "los": bool(self.user_los[j]),
                    "analytic_dbm": round(float(self.user_analytic_dbm[j]), 3),
                    "raytraced_dbm": _finite_or_none(round(float(self.user_raytraced_dbm[j]), 3)),
                    "delta_db": _finite_or_none(round(float(self.user_delta_db[j]), 3)),
                }
                for j in u
            ]
        return data


def sample_aoi_users(
    scenario: Scenario,
    city: City,
    count: int,
    rng: np.random.Generator,
    *,
    height_m: float | None = None,
) -> FloatArray:
    """``(count, 3)`` outdoor user positions [m] drawn uniformly inside the areas of interest.

    The users are split as evenly as possible over the AOIs (paper 000 §VI spawns 50 UEs per
    AOI), the first AOIs taking the remainder; each is uniform over its AOI's disc (clipped to
    the city bounds) and outside every building, at ``height_m`` (default
    ``scenario.radio.user_height_m``). Without AOIs the users are uniform over the city bounds.

    Raises:
        SkycellError: an AOI is (almost) covered by buildings.
    """
    h = scenario.radio.user_height_m if height_m is None else float(height_m)
    x0, y0, x1, y1 = city.bounds_m
    regions: list[tuple[float, float, float | None]]
    if scenario.areas_of_interest:
        regions = [(a.center_m[0], a.center_m[1], a.radius_m) for a in scenario.areas_of_interest]
    else:
        regions = [(0.5 * (x0 + x1), 0.5 * (y0 + y1), None)]
    k = len(regions)
    counts = [count // k + (1 if i < count % k else 0) for i in range(k)]
    chunks: list[FloatArray] = []
    for (cx, cy, rad), need in zip(regions, counts, strict=True):
        if rad is None:
            rect = (x0, y0, x1, y1)
        else:
            rect = (max(x0, cx - rad), max(y0, cy - rad), min(x1, cx + rad), min(y1, cy + rad))
        got: list[FloatArray] = []
        left = need
        for _ in range(1000):
            if left == 0:
                break
            n = max(64, 4 * left)
            pts = np.column_stack(
                (rng.uniform(rect[0], rect[2], n), rng.uniform(rect[1], rect[3], n), np.full(n, h))
            )
            if rad is not None:
                pts = pts[np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) <= rad]
            pts = pts[~city.inside_building(pts)][:left]
            got.append(pts)
            left -= pts.shape[0]
        if left:
            raise SkycellError(
                f"could not draw {need} outdoor users in the area of interest at "
                f"({cx:g}, {cy:g}) m: it is (almost) covered by buildings"
            )
        chunks.extend(got)
    if not chunks:
        return np.zeros((0, 3))
    return np.asarray(np.concatenate(chunks), dtype=np.float64).reshape(-1, 3)


def crosscheck_city(
    scenario: Scenario,
    city: City,
    stations: Deployment | ArrayLike,
    users_xyz: ArrayLike | None = None,
    *,
    users: int = 200,
    samples: int = 100_000,
    max_depth: int = 3,
    seed: int = 0,
    pathloss_model: str | None = None,
    user_polarization: str = "cross",
    azimuth_deg: ArrayLike | None = None,
    tilt_deg: ArrayLike | None = None,
    tx_power_dbm: ArrayLike | None = None,
) -> CityCrosscheck:
    """Received power per station-user link and per user from both engines, compared.

    Both engines get the same settings from ``scenario.radio``: frequency, station antenna
    pattern, user antenna pattern; and the same stations: positions, azimuth, tilt and transmit
    power (from the deployment's station records, or azimuth 0, tilt 90 and
    ``radio.tx_power_dbm`` for plain positions; the keyword arguments override either). The
    analytic engine uses ``radio.pathloss_model`` (or ``pathloss_model``) and
    ``radio.environment``; the ray tracer (:class:`~skycell.radio.sionna_engine.SionnaEngine`,
    ITU concrete buildings unless the city says otherwise, medium-dry ground) traces
    ``samples`` rays per station with up to ``max_depth`` interactions.

    The user is dual-polarised in the ray tracer (``user_polarization="cross"``) because the
    analytic engine has no polarisation: with Sionna's default vertically polarised user a tilted
    station loses power to polarisation mismatch (about 8 dB beside a straight-down station),
    which is not a propagation difference. See the module docstring for why the engines differ.

    Args:
        scenario: the scenario (radio settings, AOIs for the users).
        city: its city.
        stations: a :class:`~skycell.deployment.Deployment` or ``(N, 3)`` positions [m].
        users_xyz: ``(U, 3)`` user positions [m]; default: ``users`` users drawn by
            :func:`sample_aoi_users` with ``numpy.random.default_rng(seed)``.
        users: how many users to draw when ``users_xyz`` is None.
        samples: rays per station of the path solver.
        max_depth: most interactions per path (paper 000: 3).
        seed: seed of the user draw and of the ray tracer; same seed, same result.
        pathloss_model: overrides ``radio.pathloss_model`` for the analytic engine.
        user_polarization: ``"cross"`` (default, see above) or ``"V"``.
        azimuth_deg, tilt_deg, tx_power_dbm: per-station overrides, scalar or ``(N,)``.

    Raises:
        SkycellError: Sionna RT or LLVM 16+ missing, or users cannot be drawn.
        ValueError: no station, bad shapes or names.
    """
    from skycell.radio.engine import AnalyticEngine
    from skycell.radio.sionna_engine import PATH_GAIN_FLOOR_DB, SionnaEngine

    tic = time.perf_counter()
    r = scenario.radio
    tx, az, tilt, power = _stations(stations, r.tx_power_dbm)
    n = tx.shape[0]
    if n == 0:
        raise ValueError("crosscheck_city needs at least one station")
    if azimuth_deg is not None:
        az = _per_station(azimuth_deg, n, "azimuth_deg", 0.0)[:, 0]
    if tilt_deg is not None:
        tilt = _per_station(tilt_deg, n, "tilt_deg", 90.0)[:, 0]
    if tx_power_dbm is not None:
        power = _per_station(tx_power_dbm, n, "tx_power_dbm", 0.0)[:, 0]
    rng = np.random.default_rng(seed)
    if users_xyz is None:
        rx = sample_aoi_users(scenario, city, users, rng)
    else:
        rx = _as_points(users_xyz, "users_xyz")
    model = pathloss_model or r.pathloss_model

    analytic = AnalyticEngine(
        city,
        frequency_hz=r.frequency_hz,
        pathloss_model=model,
        environment=r.environment,
        station_antenna=r.station_antenna,
        user_antenna=r.user_antenna,
    )
    t0 = time.perf_counter()
    los = analytic.line_of_sight(tx, rx)
    p_an = power[:, None] + analytic.path_gain_db(tx, rx, azimuth_deg=az, tilt_deg=tilt, los=los)
    t_an = time.perf_counter() - t0

    tracer = SionnaEngine(
        city,
        frequency_hz=r.frequency_hz,
        station_antenna=r.station_antenna,
        user_antenna=r.user_antenna,
        user_polarization=user_polarization,
        max_depth=max_depth,
        samples=samples,
        seed=seed,
    )
    t0 = time.perf_counter()
    paths = tracer.paths(tx, rx, azimuth_deg=az, tilt_deg=tilt)
    t_rt = time.perf_counter() - t0
    gain_db = paths.path_gain_db()
    found = np.asarray(gain_db > PATH_GAIN_FLOOR_DB, dtype=bool)
    p_rt = power[:, None] + gain_db
    rt_los = np.asarray(paths.los.any(axis=-1), dtype=bool)
    direct = np.where(paths.los, paths.gain, 0.0).sum(axis=-1)
    p_direct = np.full(direct.shape, np.nan)
    np.log10(direct, out=p_direct, where=direct > 0)
    p_direct = power[:, None] + 10.0 * p_direct

    u = rx.shape[0]
    cols = np.arange(u)
    serving = np.argmax(p_an, axis=0).astype(np.int64) if u else np.zeros(0, np.int64)
    masked = np.where(found, p_rt, -np.inf)
    serving_rt = np.where(found.any(axis=0), np.argmax(masked, axis=0), -1).astype(np.int64)
    delta = p_rt - p_an
    d_user = delta[serving, cols]
    f_user = found[serving, cols]
    l_user = los[serving, cols]
    groups = {"all": np.ones_like(los), "los": los, "nlos": ~los}
    link_stats = {g: AgreementStats.of(delta[m], found[m]) for g, m in groups.items()}
    user_groups = {"all": np.ones_like(l_user), "los": l_user, "nlos": ~l_user}
    user_stats = {g: AgreementStats.of(d_user[m], f_user[m]) for g, m in user_groups.items()}
    direct_stats = AgreementStats.of((p_direct - p_an)[los], (rt_los & (direct > 0))[los])
    settings: dict[str, Any] = {
        "frequency_hz": r.frequency_hz,
        "pathloss_model": model,
        "environment": r.environment,
        "station_antenna": r.station_antenna,
        "user_antenna": r.user_antenna,
        "user_polarization": user_polarization,
        "samples": int(samples),
        "max_depth": int(max_depth),
        "seed": int(seed),
        "building_material": tracer.material,
        "ground_material": tracer.ground_material,
        "diffraction": False,
        "diffuse_reflection": False,
    }
    return CityCrosscheck(
        scenario_name=scenario.name,
        settings=settings,
        station_xyz_m=tx,
        azimuth_deg=np.asarray(az, dtype=np.float64),
        tilt_deg=np.asarray(tilt, dtype=np.float64),
        tx_power_dbm=np.asarray(power, dtype=np.float64),
        users_xyz_m=rx,
        analytic_dbm=np.asarray(p_an, dtype=np.float64),
        raytraced_dbm=np.asarray(p_rt, dtype=np.float64),
        found=found,
        los=np.asarray(los, dtype=bool),
        rt_los=rt_los,
        raytraced_direct_dbm=np.asarray(p_direct, dtype=np.float64),
        serving=serving,
        serving_raytraced=serving_rt,
        link_stats=link_stats,
        user_stats=user_stats,
        direct_stats=direct_stats,
        wall_time_s={
            "analytic": t_an,
            "raytrace": t_rt,
            "total": time.perf_counter() - tic,
        },
    )


def _stations(
    stations: Deployment | ArrayLike, tx_power_dbm: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    from skycell.deployment import Deployment

    if isinstance(stations, Deployment):
        st = stations.stations
        return (
            stations.station_xyz_m(),
            np.array([s.azimuth_deg for s in st], dtype=np.float64),
            np.array([s.tilt_deg for s in st], dtype=np.float64),
            np.array([s.tx_power_dbm for s in st], dtype=np.float64),
        )
    xyz = np.asarray(stations, dtype=np.float64)
    xyz = np.zeros((0, 3)) if xyz.size == 0 else _as_points(xyz, "stations")
    n = xyz.shape[0]
    return xyz, np.zeros(n), np.full(n, 90.0), np.full(n, float(tx_power_dbm))


# ---------------------------------------------------------------------------------------------
# Reporting: table rows, plot, files
# ---------------------------------------------------------------------------------------------

#: Column headers of :func:`render` for a :class:`CityCrosscheck`.
CITY_COLUMNS: Final[tuple[str, ...]] = (
    "links",
    "kind",
    "compared",
    "no RT path",
    "median |Δ| (dB)",
    "p90 |Δ| (dB)",
    "bias (dB)",
)

#: Column headers of :func:`render` for an :class:`OpenGroundResult`.
OPEN_GROUND_COLUMNS: Final[tuple[str, ...]] = (
    "open ground",
    "links",
    "max |Δ| (dB)",
    "median |Δ| (dB)",
    "tolerance (dB)",
    "result",
)


def render(
    result: CityCrosscheck | OpenGroundResult,
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """``(columns, rows)`` of strings for a table (e.g. ``rich.table.Table(*columns)`` then
    ``add_row(*row)`` per row); ``Δ`` is ray-traced minus analytic (city) or minus the reference
    (open ground)."""
    if isinstance(result, OpenGroundResult):
        e = np.abs(result.los_error_db)
        t = np.abs(result.two_ray_error_db)
        rows: list[tuple[str, ...]] = [
            (
                "Sionna LoS path vs free space",
                str(e.size),
                _fmt(result.max_abs_los_error_db, 3),
                _fmt(float(np.median(e)) if e.size else float("nan"), 3),
                _fmt(result.tolerance_db, 2),
                "pass" if result.passed else "FAIL",
            ),
            (
                "Sionna LoS + ground vs two-ray (info)",
                str(t.size),
                _fmt(result.max_abs_two_ray_error_db, 3),
                _fmt(float(np.median(t)) if t.size else float("nan"), 3),
                "-",
                "info",
            ),
        ]
        return OPEN_GROUND_COLUMNS, rows
    out: list[tuple[str, ...]] = []
    for scope, stats in (
        ("per user (serving)", result.user_stats),
        ("per link", result.link_stats),
    ):
        for g, label in (("los", "LoS"), ("nlos", "NLoS"), ("all", "all")):
            s = stats[g]
            out.append(
                (
                    scope,
                    label,
                    str(s.count),
                    str(s.no_path),
                    _fmt(s.median_abs_db),
                    _fmt(s.p90_abs_db),
                    _fmt(s.bias_db, signed=True),
                )
            )
    s = result.direct_stats
    out.append(
        (
            "per link, direct path only",
            "LoS",
            str(s.count),
            str(s.no_path),
            _fmt(s.median_abs_db),
            _fmt(s.p90_abs_db),
            _fmt(s.bias_db, signed=True),
        )
    )
    return CITY_COLUMNS, out


def plot_crosscheck(
    result: CityCrosscheck,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 130,
) -> Path:
    """Three panels like paper 000 Fig. 10, written atomically as PNG.

    (a) received power of each user from its serving station, analytic and ray-traced, users
    sorted by the analytic power (Fig. 10's per-UE comparison); (b) ray-traced against analytic
    power per user, LoS and NLoS, with the ``y = x`` line; (c) CDF of ``Δ = P_rt - P_analytic``
    for serving links (LoS, NLoS) and all links.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = Path(path)
    an = result.user_analytic_dbm
    rt = result.user_raytraced_dbm
    los = result.user_los
    ok = result.user_found
    fig, axes = plt.subplots(1, 3, figsize=(17.0, 5.2))

    ax = axes[0]
    order = np.argsort(an, kind="stable")
    k = np.arange(order.size)
    ax.plot(k, an[order], "-", color="tab:blue", lw=1.4, label="analytic engine")
    lo = los[order] & ok[order]
    nl = ~los[order] & ok[order]
    ax.scatter(k[lo], rt[order][lo], s=12, color="tab:green", label="ray traced, LoS", zorder=3)
    ax.scatter(k[nl], rt[order][nl], s=12, color="tab:orange", label="ray traced, NLoS", zorder=3)
    miss = ~ok[order]
    if miss.any():
        ax.scatter(
            k[miss],
            an[order][miss],
            s=18,
            marker="x",
            color="tab:red",
            label=f"no traced path ({int(miss.sum())})",
            zorder=3,
        )
    ax.set_xlabel("user (sorted by analytic power)")
    ax.set_ylabel("received power from serving station [dBm]")
    ax.set_title("(a) per-user received power")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[1]
    vals = np.concatenate([an, rt[ok]]) if an.size else np.array([-100.0, 0.0])
    v0, v1 = float(np.nanmin(vals)) - 3.0, float(np.nanmax(vals)) + 3.0
    ax.plot([v0, v1], [v0, v1], "k-", lw=0.8, label="y = x")
    for off in (-6.0, 6.0):
        ax.plot([v0, v1], [v0 + off, v1 + off], "k:", lw=0.6)
    us, ls_ = result.user_stats["los"], result.user_stats["nlos"]
    ax.scatter(
        an[los & ok],
        rt[los & ok],
        s=12,
        color="tab:green",
        label=f"LoS ({us.count}): median |Δ| {_fmt(us.median_abs_db)} dB, "
        f"bias {_fmt(us.bias_db, signed=True)} dB",
    )
    ax.scatter(
        an[~los & ok],
        rt[~los & ok],
        s=12,
        color="tab:orange",
        label=f"NLoS ({ls_.count}): median |Δ| {_fmt(ls_.median_abs_db)} dB, "
        f"bias {_fmt(ls_.bias_db, signed=True)} dB",
    )
    ax.set_xlim(v0, v1)
    ax.set_ylim(v0, v1)
    ax.set_xlabel("analytic [dBm]")
    ax.set_ylabel("ray traced [dBm]")
    ax.set_title("(b) serving link, ray traced vs analytic (dotted: ±6 dB)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[2]
    d_user = result.user_delta_db
    d_link = result.link_delta_db
    for data, style, label in (
        (d_user[los & ok], "-", "serving link, LoS"),
        (d_user[~los & ok], "-", "serving link, NLoS"),
        (d_link[np.isfinite(d_link)], "--", "all links"),
    ):
        if data.size:
            x = np.sort(data)
            ax.plot(
                x, np.arange(1, x.size + 1) / x.size, style, lw=1.4, label=f"{label} ({x.size})"
            )
    ax.axvline(0.0, color="k", lw=0.6)
    ax.set_xlabel("Δ = ray traced − analytic [dB]")
    ax.set_ylabel("CDF")
    ax.set_ylim(0.0, 1.0)
    ax.set_title("(c) difference per link")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)

    s = result.settings
    fig.suptitle(
        title
        or (
            f"{result.scenario_name}: analytic ({s['pathloss_model']}) vs Sionna RT "
            f"({s['samples']} rays/station, depth {s['max_depth']}), "
            f"{result.users_xyz_m.shape[0]} users, {result.station_xyz_m.shape[0]} stations"
        ),
        fontsize=11,
    )
    fig.tight_layout()
    try:
        atomic_write(
            target, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"), suffix=".png"
        )
    finally:
        plt.close(fig)
    return target


@dataclass(frozen=True)
class CrosscheckRun:
    """What :func:`run_crosscheck` produced and wrote."""

    city: CityCrosscheck
    open_ground: OpenGroundResult | None
    json_path: Path
    png_path: Path
    deployment_source: str


def run_crosscheck(
    scenario: str | os.PathLike[str] | Scenario | None = None,
    out_dir: str | os.PathLike[str] = "out/crosscheck",
    *,
    deployment: str | os.PathLike[str] | Deployment | None = None,
    users: int = 200,
    seed: int = 0,
    samples: int = 100_000,
    max_depth: int = 3,
    open_ground: bool = True,
    status: Callable[[str], None] | None = None,
) -> CrosscheckRun:
    """Cross-check a scenario's deployment; writes ``OUT/crosscheck.json`` and
    ``OUT/crosscheck.png`` (atomically, only once everything succeeded).

    The stations come from ``deployment`` (a ``deployment.json`` path or object: positions,
    orientations and powers as stored, and the city it was planned in) or, without one, from
    planning the scenario with its placement method and ``seed``
    (:func:`skycell.plan.pipeline.plan_scenario`). The scenario is a path, a
    :class:`~skycell.scenario.Scenario`, or None: the deployment's own scenario when a
    deployment is given, else the built-in default (paper 000's downtown).

    Args:
        scenario: scenario file, object or None.
        out_dir: output folder.
        deployment: optional deployment to check instead of planning.
        users: users drawn in the AOIs (:func:`sample_aoi_users`).
        seed: seed of the plan, the user draw and the ray tracer.
        samples: rays per station.
        max_depth: most interactions per path.
        open_ground: also run :func:`crosscheck_open_ground` at the scenario's frequency.
        status: ``status(message)`` progress callback.

    Raises:
        SkycellError: bad inputs, Sionna RT missing, or the output cannot be written.
    """
    from skycell.deployment import Deployment
    from skycell.plan.pipeline import deployment_city, plan_scenario
    from skycell.scenario import Scenario, default_scenario, load_scenario, scenario_from_dict

    def say(text: str) -> None:
        if status is not None:
            status(text)

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SkycellError(f"output folder {out} exists and is not a folder; choose another path")
    if users < 1:
        raise SkycellError(f"users must be >= 1, got {users}")
    dep: Deployment | None
    if isinstance(deployment, str | os.PathLike):
        dep = Deployment.load(deployment)
        source = str(deployment)
    else:
        dep = deployment
        source = "given deployment" if dep is not None else ""
    if isinstance(scenario, Scenario):
        sc = scenario
    elif scenario is not None:
        sc = load_scenario(Path(scenario))
    elif dep is not None:
        data = {**dep.scenario, "city": {"buildings": []}}
        sc = scenario_from_dict(data, source="deployment.scenario")
    else:
        sc = default_scenario()
    if dep is not None:
        city = deployment_city(dep)
    else:
        say(f"{sc.name}: building the city and planning ({sc.placement_method}, seed {seed})")
        city = sc.build_city()
        dep = plan_scenario(sc, seed=seed, city=city).deployment
        source = f"planned with {dep.method.get('name', sc.placement_method)}, seed {seed}"
    og: OpenGroundResult | None = None
    if open_ground:
        say("open ground: Sionna LoS path vs free space")
        og = crosscheck_open_ground(sc.radio.frequency_hz, seed=seed)
    say(
        f"city: {len(dep.stations)} stations x {users} users, {samples} rays/station, "
        f"depth {max_depth}"
    )
    result = crosscheck_city(
        sc, city, dep, users=users, samples=samples, max_depth=max_depth, seed=seed
    )
    payload = {
        "deployment": source,
        "open_ground": og.to_dict() if og is not None else None,
        "city": result.to_dict(),
    }
    text = json.dumps(payload, indent=1, allow_nan=False) + "\n"
    json_path = out / "crosscheck.json"
    png_path = out / "crosscheck.png"
    try:
        plot_crosscheck(result, png_path)
        atomic_write_text(json_path, text)
    except OSError as exc:
        raise SkycellError(
            f"cannot write to {out}: {exc.strerror or exc}; choose a folder you can write to"
        ) from None
    return CrosscheckRun(
        city=result,
        open_ground=og,
        json_path=json_path,
        png_path=png_path,
        deployment_source=source,
    )


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _round(a: FloatArray, digits: int) -> list[Any]:
    out: list[Any] = np.round(np.asarray(a, dtype=np.float64), digits).tolist()
    return out


def _fmt(x: float, digits: int = 1, *, signed: bool = False) -> str:
    if not np.isfinite(x):
        return "-"
    x = round(float(x), digits) or 0.0  # no "-0.0"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
