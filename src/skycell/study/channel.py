"""Ray-tracing channel study of paper 002 (§3.5, §3.6, §4; Tables 9-10, Figs. 11-13).

One station — a fixed mast or a hovering UAV, 50 m above the settlement in paper 002 Table 9 —
serves ``U`` users at 1.5 m in a settlement of concrete buildings; Sionna RT traces every
station-user link (line of sight, up to ``max_depth`` specular reflections, refraction through
walls and, by default, first-order diffraction) at each carrier frequency, and the study reports
what paper 002 reports:

* Table 9: mean received power with concrete buildings only, then plus weather (ITU-R P.676
  gases, optional ITU-R P.838 rain) and plus foliage (2.5 m of vegetation), the mean final path
  loss, the number of users in outage (received power below the -100 dBm sensitivity, or no
  path at all) and the maximum / minimum / mean phase of the received signal;
* Table 10: RMS delay spread of line-of-sight and non-line-of-sight users (max, min, mean);
* Fig. 11: the close-in path-loss model fitted to the users (exponent ``n``, shadowing sigma)
  with its residuals; Fig. 12: RSS heat maps (cells with and without line of sight); Fig. 13:
  box plot of the received power per frequency.

Library use::

    sc = load_scenario("examples/paper002-settlement.yaml")
    result = run_channel_study(sc, sc.build_city(), frequencies_hz=(7e9, 26e9, 140e9))
    write_channel_study(result, "out/channel-study")
    print(table9(result).rows)

Modelling choices (each is also in the docstring of the function that makes it):

* All buildings are concrete (paper 002 Table 3, "Material: Building = concrete") unless
  ``building_material=None`` keeps the city's own materials. ITU-R P.2040 material fits end at
  100 GHz (concrete) and 10 GHz (ground); above their range a material keeps the properties at
  the edge of its range (noted in the result).
* Antennas are omnidirectional (Table 3): an isotropic, vertically polarised station antenna and
  an isotropic dual-polarised user (both ports' powers summed), so no power is lost to
  polarisation; the phase statistics use the co-polar (vertical) port.
* The received power is the vector sum of the paths (§3.6.2 eq.), ``combining="incoherent"``
  sums path powers instead. Weather loss is applied per path, ``gamma [dB/km] x c tau_i``; the
  foliage loss is the same for every path of every user (each user stands behind
  ``foliage_depth_m`` of trees — the settlement's trees are not geometry here).
* Means of dB quantities (RSS, path loss) are taken over the users that have at least one path;
  users without a path count only as outage. Phase and delay-spread statistics are over the
  served users (not in outage).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.errors import SkycellError
from skycell.study.itu import (
    FOLIAGE_MODELS,
    STANDARD_PRESSURE_HPA,
    STANDARD_TEMPERATURE_K,
    STANDARD_WATER_VAPOUR_G_M3,
    foliage_loss_db,
    gaseous_specific_attenuation_db_per_km,
    rain_specific_attenuation_db_per_km,
)
from skycell.study.stats import (
    COMBINING,
    CloseInFit,
    carrier_phasors,
    combine_paths_dbm,
    fit_close_in,
    narrowband_phase_deg,
    path_length_m,
    rms_delay_spread_s,
)

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import Scenario

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
ComplexArray = NDArray[np.complex128]

#: Paper 002's carrier frequencies [Hz]: FR3, mmWave, sub-THz.
PAPER002_FREQUENCIES_HZ: Final[tuple[float, ...]] = (7e9, 26e9, 140e9)

#: Paper 002 Table 9 per frequency [GHz]: mean RSS with concrete, plus weather, plus foliage
#: [dBm], mean final path loss [dB], users in outage (of 2000), phase shift max/min/mean [deg].
PAPER002_TABLE9: Final[dict[float, dict[str, float]]] = {
    7.0: {
        "rss_concrete_dbm": -65.2,
        "rss_weather_dbm": -67.1,
        "rss_final_dbm": -69.6,
        "final_path_loss_db": 102.3,
        "outage_users": 0,
        "phase_max_deg": 178.2,
        "phase_min_deg": 2.3,
        "phase_mean_deg": 89.6,
    },
    26.0: {
        "rss_concrete_dbm": -74.8,
        "rss_weather_dbm": -77.3,
        "rss_final_dbm": -80.9,
        "final_path_loss_db": 111.7,
        "outage_users": 0,
        "phase_max_deg": 191.4,
        "phase_min_deg": 4.1,
        "phase_mean_deg": 97.2,
    },
    140.0: {
        "rss_concrete_dbm": -89.5,
        "rss_weather_dbm": -93.2,
        "rss_final_dbm": -97.8,
        "final_path_loss_db": 127.4,
        "outage_users": 567,
        "phase_max_deg": 204.7,
        "phase_min_deg": 7.9,
        "phase_mean_deg": 106.5,
    },
}

#: Paper 002 Table 10: delay (spread) max / min / mean [ns] per (condition, frequency [GHz]).
PAPER002_TABLE10: Final[dict[tuple[str, float], tuple[float, float, float]]] = {
    ("LoS", 7.0): (15.0, 5.10, 10.00),
    ("LoS", 26.0): (20.0, 5.15, 12.58),
    ("LoS", 140.0): (25.0, 5.20, 15.10),
    ("NLoS", 7.0): (150.0, 51.00, 100.00),
    ("NLoS", 26.0): (200.0, 51.50, 125.75),
    ("NLoS", 140.0): (250.0, 52.00, 151.00),
}

#: Building materials that reproduce "RSS with concrete" (Table 3).
DEFAULT_BUILDING_MATERIAL: Final[str] = "concrete"

#: Rays x receivers per path-solver call (sets the default receiver batch of
#: :func:`trace_paths`).
RAYS_X_RECEIVERS_PER_CALL: Final[float] = 1.25e7

#: A progress callback: ``(steps done, steps in all, what is being done now)``.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Weather:
    """Atmosphere of the "plus weather" stage.

    Attributes:
        pressure_hpa: atmospheric pressure [hPa] (ITU-R P.676 input; sea level 1013.25).
        temperature_k: air temperature [K] (288.15 = 15 °C).
        water_vapour_density_g_m3: water vapour density [g/m³] (7.5 = mean annual reference).
        rain_rate_mm_h: rain rate [mm/h] for ITU-R P.838 (0 = no rain; paper 002 gives none).
    """

    pressure_hpa: float = STANDARD_PRESSURE_HPA
    temperature_k: float = STANDARD_TEMPERATURE_K
    water_vapour_density_g_m3: float = STANDARD_WATER_VAPOUR_G_M3
    rain_rate_mm_h: float = 0.0

    def specific_attenuation_db_per_km(self, frequency_hz: float) -> tuple[float, float]:
        """``(gas, rain)`` specific attenuation [dB/km] at ``frequency_hz`` (P.676-12, P.838-3)."""
        gas = float(
            gaseous_specific_attenuation_db_per_km(
                frequency_hz,
                pressure_hpa=self.pressure_hpa,
                temperature_k=self.temperature_k,
                water_vapour_density_g_m3=self.water_vapour_density_g_m3,
            )
        )
        rain = float(rain_specific_attenuation_db_per_km(frequency_hz, self.rain_rate_mm_h))
        return gas, rain


@dataclass(frozen=True)
class RssMap:
    """A received-power heat map at user height (paper 002 Fig. 12).

    Attributes:
        rss_dbm: ``(ny, nx)`` final received power [dBm] (weather and foliage included), NaN
            inside buildings and where no ray arrived.
        los: ``(ny, nx)`` True where the cell centre sees the station (geometric line of sight).
        extent_m: ``(x_min, x_max, y_min, y_max)`` [m] of the map (for ``imshow``).
        cell_m: cell side [m].
    """

    rss_dbm: FloatArray
    los: BoolArray
    extent_m: tuple[float, float, float, float]
    cell_m: float


@dataclass(frozen=True)
class FrequencyStudy:
    """The study at one carrier frequency; per-user arrays are ``(U,)``.

    Attributes:
        frequency_hz: carrier frequency [Hz].
        gas_db_per_km, rain_db_per_km: specific attenuations applied [dB/km].
        foliage_db: foliage loss applied to every path [dB].
        rss_concrete_dbm: received power, buildings only [dBm] (``-inf`` without a path).
        rss_weather_dbm: plus weather [dBm].
        rss_final_dbm: plus foliage: the final received power [dBm].
        path_loss_db: final path loss ``P_t - rss_final_dbm`` [dB] (``inf`` without a path).
        has_path: the ray tracer found at least one path.
        outage: final received power below the sensitivity, or no path.
        los: the user has a traced line-of-sight path.
        los_path_loss_db: loss of the line-of-sight path alone, extra losses included [dB]
            (NaN without one) — free space plus weather plus foliage.
        delay_spread_s: RMS delay spread [s] (NaN without a path).
        phase_deg: phase of the co-polar narrowband channel [deg] in ``(-180, 180]``.
        n_paths: number of traced paths.
        ci_fit: the close-in model fitted to the users with a path (None if none).
        rss_map: the heat map (None when not computed).
        trace_s, map_s: wall time of the path trace and of the radio map [s].
    """

    frequency_hz: float
    gas_db_per_km: float
    rain_db_per_km: float
    foliage_db: float
    rss_concrete_dbm: FloatArray
    rss_weather_dbm: FloatArray
    rss_final_dbm: FloatArray
    path_loss_db: FloatArray
    has_path: BoolArray
    outage: BoolArray
    los: BoolArray
    los_path_loss_db: FloatArray
    delay_spread_s: FloatArray
    phase_deg: FloatArray
    n_paths: NDArray[np.int64]
    ci_fit: CloseInFit | None
    rss_map: RssMap | None
    trace_s: float
    map_s: float

    @property
    def frequency_ghz(self) -> float:
        """Carrier frequency [GHz]."""
        return self.frequency_hz / 1e9

    @property
    def served(self) -> BoolArray:
        """Users not in outage."""
        return np.asarray(~self.outage)

    def table9_row(self) -> dict[str, float]:
        """This frequency's Table 9 row (means over users with a path; phase over served ones);
        NaN where no user qualifies."""
        hp = self.has_path
        ph = np.abs(self.phase_deg[self.served])
        return {
            "frequency_ghz": self.frequency_ghz,
            "rss_concrete_dbm": _mean(self.rss_concrete_dbm[hp]),
            "rss_weather_dbm": _mean(self.rss_weather_dbm[hp]),
            "rss_final_dbm": _mean(self.rss_final_dbm[hp]),
            "final_path_loss_db": _mean(self.path_loss_db[hp]),
            "outage_users": int(self.outage.sum()),
            "phase_max_deg": _stat(ph, np.max),
            "phase_min_deg": _stat(ph, np.min),
            "phase_mean_deg": _mean(ph),
        }

    def table10_rows(self) -> list[dict[str, Any]]:
        """This frequency's Table 10 rows: RMS delay spread [ns] of served LoS and NLoS users."""
        rows = []
        for cond, mask in (("LoS", self.los), ("NLoS", ~self.los)):
            ds = self.delay_spread_s[mask & self.served] * 1e9
            rows.append(
                {
                    "condition": cond,
                    "frequency_ghz": self.frequency_ghz,
                    "users": int(ds.size),
                    "max_ns": _stat(ds, np.max),
                    "min_ns": _stat(ds, np.min),
                    "mean_ns": _mean(ds),
                }
            )
        return rows


@dataclass(frozen=True)
class ChannelStudyResult:
    """Everything the channel study computed.

    Attributes:
        scenario_name: name of the scenario studied.
        station_xyz_m: ``(3,)`` station position [m].
        users_xyz_m: ``(U, 3)`` user positions [m].
        distance_m: ``(U,)`` station-user 3D distance [m].
        frequencies: one :class:`FrequencyStudy` per carrier, in the order asked.
        settings: the study's inputs (JSON-safe).
        notes: modelling notes worth showing to the user (material ranges, extrapolations).
        wall_time_s: total wall time [s].
        city: the city studied (for the figures).
        areas_of_interest: ``(cx, cy, r)`` [m] of the scenario's areas (drawn on the heat maps).
    """

    scenario_name: str
    station_xyz_m: FloatArray
    users_xyz_m: FloatArray
    distance_m: FloatArray
    frequencies: tuple[FrequencyStudy, ...]
    settings: dict[str, Any]
    notes: tuple[str, ...]
    wall_time_s: float
    city: City = field(repr=False)
    areas_of_interest: tuple[tuple[float, float, float], ...] = ()

    def summary(self) -> dict[str, Any]:
        """A JSON-safe summary: settings, station, per-frequency Table 9 / 10 rows, CI fits,
        applied losses, wall times, and paper 002's own figures beside them."""
        per = []
        for fs in self.frequencies:
            fit = fs.ci_fit
            per.append(
                {
                    "frequency_ghz": fs.frequency_ghz,
                    "gas_db_per_km": fs.gas_db_per_km,
                    "rain_db_per_km": fs.rain_db_per_km,
                    "foliage_db": fs.foliage_db,
                    "users_with_path": int(fs.has_path.sum()),
                    "los_users": int(fs.los.sum()),
                    "table9": fs.table9_row(),
                    "table10": fs.table10_rows(),
                    "close_in": None
                    if fit is None
                    else {
                        "exponent": fit.exponent,
                        "sigma_db": fit.sigma_db,
                        "fspl_1m_db": fit.fspl_d0_db,
                        "users": fit.count,
                    },
                    "paper_table9": PAPER002_TABLE9.get(_ghz_key(fs.frequency_hz)),
                    "trace_s": fs.trace_s,
                    "map_s": fs.map_s,
                }
            )
        out: dict[str, Any] = _json_safe(
            {
                "scenario": self.scenario_name,
                "station_xyz_m": self.station_xyz_m.tolist(),
                "users": int(self.users_xyz_m.shape[0]),
                "settings": self.settings,
                "notes": list(self.notes),
                "frequencies": per,
                "wall_time_s": self.wall_time_s,
            }
        )
        return out


@dataclass(frozen=True)
class StudyTable:
    """A table as plain strings, ready for ``rich.table.Table`` or CSV.

    Attributes:
        title: table title.
        columns: column headers.
        rows: one tuple of cell strings per row.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# --------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------


def run_channel_study(
    scenario: Scenario,
    city: City,
    *,
    frequencies_hz: Sequence[float] = PAPER002_FREQUENCIES_HZ,
    station_xyz_m: ArrayLike | None = None,
    users: int | ArrayLike = 2000,
    seed: int = 0,
    foliage_depth_m: float = 2.5,
    foliage_model: str = "weissberger",
    weather: Weather | None = None,
    tx_power_dbm: float | None = None,
    sensitivity_dbm: float | None = None,
    max_range_m: float | None = None,
    user_height_m: float | None = None,
    building_material: str | None = DEFAULT_BUILDING_MATERIAL,
    max_depth: int = 3,
    samples: int = 100_000,
    diffraction: bool = True,
    combining: str = "coherent",
    radio_map: bool = True,
    map_cell_m: float = 10.0,
    map_samples: int = 1_000_000,
    progress: Progress | None = None,
) -> ChannelStudyResult:
    """Run paper 002's ray-tracing channel study (§3.5-§3.6, §4) on a scenario's settlement.

    Args:
        scenario: the scenario (its area, fleet altitude, radio and paper-002 demand settings
            provide the defaults below).
        city: its city (``scenario.build_city()``).
        frequencies_hz: carrier frequencies [Hz], each in [1 GHz, 1000 GHz], no repeats.
        station_xyz_m: station position ``(x, y, z)`` [m]; default: above the centre of the
            scenario's area at ``fleet.altitude_m`` (50 m in ``examples/paper002-settlement.yaml``,
            the fixed altitude of paper 002 Table 9). It must be inside the area, above the users
            and outside every building.
        users: number of users to draw (uniformly at random, outdoors, within ``max_range_m`` of
            the station and inside the area, at ``user_height_m``; one ``numpy.random.Generator``
            seeded with ``seed``), or a ``(U, 3)`` array of user positions [m].
        seed: seed of the user draw and of the ray tracer (deterministic per seed).
        foliage_depth_m: foliage depth on every link [m] (Table 3: 2.5).
        foliage_model: ``"weissberger"`` or ``"p833-woodland"`` (see
            :func:`skycell.study.itu.foliage_loss_db`).
        weather: the atmosphere of the "plus weather" stage (default: ITU reference atmosphere at
            sea level, no rain).
        tx_power_dbm: transmit power [dBm]; default ``scenario.radio.tx_power_dbm`` (37 = 5 W in
            the example).
        sensitivity_dbm: receiver sensitivity [dBm]; default
            ``scenario.placement.demand.receiver_sensitivity_dbm`` (-100).
        max_range_m: largest station-user 3D distance of the drawn users [m]; default
            ``scenario.placement.demand.max_range_m`` (Table 3: 500).
        user_height_m: user antenna height [m]; default ``scenario.radio.user_height_m`` (1.5).
        building_material: ITU-R P.2040 material given to every building (default
            ``"concrete"``, Table 3); ``None`` keeps the city's per-building materials.
        max_depth: most interactions per path (Table 3 / §3.5: 3 reflections).
        samples: rays shot by the path solver.
        diffraction: trace first-order diffraction (edges and wedges) too.
        combining: ``"coherent"`` (vector sum of the paths, §3.6.2) or ``"incoherent"``.
        radio_map: compute the Fig. 12 heat maps (one radio map per frequency).
        map_cell_m: heat-map cell side [m].
        map_samples: rays shot per radio map.
        progress: called as ``progress(done, total, what)`` before each step and at the end.

    Returns:
        The :class:`ChannelStudyResult`.

    Raises:
        SkycellError: every bad argument at once (what was wrong and how to fix it), a station
            inside a building, no room for the users, or Sionna RT unavailable.
    """
    tic = time.perf_counter()
    from skycell.radio.materials import MATERIALS, check_material
    from skycell.radio.sionna_engine import import_rt

    radio = scenario.radio
    demand = scenario.placement.demand
    p_tx = float(radio.tx_power_dbm if tx_power_dbm is None else tx_power_dbm)
    sens = float(demand.receiver_sensitivity_dbm if sensitivity_dbm is None else sensitivity_dbm)
    rng_m = float(demand.max_range_m if max_range_m is None else max_range_m)
    h_user = float(radio.user_height_m if user_height_m is None else user_height_m)
    wx = weather if weather is not None else Weather()
    x0, y0, x1, y1 = scenario.area.bounds_m

    problems: list[str] = []
    freqs = _check_frequencies(frequencies_hz, problems)
    if station_xyz_m is None:
        station = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, float(scenario.fleet.altitude_m)])
    else:
        station = np.asarray(station_xyz_m, dtype=np.float64).ravel()
        if station.shape != (3,) or not np.all(np.isfinite(station)):
            problems.append(
                f"station_xyz_m must be three finite numbers (x, y, z) [m], got "
                f"{np.asarray(station_xyz_m).tolist()}"
            )
            station = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, 50.0])
    given_users: FloatArray | None = None
    if isinstance(users, (int, np.integer)) and not isinstance(users, bool):
        if not 1 <= int(users) <= 100_000:
            problems.append(f"users must be between 1 and 100000, got {users}")
    else:
        arr = np.asarray(users, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1 or not np.all(np.isfinite(arr)):
            problems.append(
                f"users must be a count or a (U, 3) array of finite positions [m], got shape "
                f"{arr.shape}"
            )
        else:
            given_users = arr
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        problems.append(f"seed must be an integer >= 0, got {seed!r}")
    _check_range(problems, "foliage_depth_m", foliage_depth_m, 0.0, 400.0, "m")
    if foliage_model not in FOLIAGE_MODELS:
        problems.append(
            f"unknown foliage_model {foliage_model!r}; choose one of {', '.join(FOLIAGE_MODELS)}"
        )
    for name, val in (("tx_power_dbm", p_tx), ("sensitivity_dbm", sens)):
        if not math.isfinite(val):
            problems.append(f"{name} must be a finite number [dBm], got {val}")
    _check_range(problems, "max_range_m", rng_m, 1e-9, math.inf, "m")
    _check_range(problems, "user_height_m", h_user, 0.0, math.inf, "m")
    for name, w_val in (
        ("weather.pressure_hpa", wx.pressure_hpa),
        ("weather.temperature_k", wx.temperature_k),
    ):
        _check_range(problems, name, w_val, 1e-9, math.inf, "")
    _check_range(problems, "weather.water_vapour_density_g_m3", wx.water_vapour_density_g_m3, 0.0)
    _check_range(problems, "weather.rain_rate_mm_h", wx.rain_rate_mm_h, 0.0, 500.0, "mm/h")
    if building_material is not None:
        try:
            building_material = check_material(building_material)
        except ValueError:
            problems.append(
                f"unknown building_material {building_material!r}; choose one of "
                f"{', '.join(MATERIALS)} (or None for the city's own materials)"
            )
    if not isinstance(max_depth, (int, np.integer)) or not 0 <= max_depth <= 10:
        problems.append(f"max_depth must be an integer in [0, 10], got {max_depth!r}")
    if not isinstance(samples, (int, np.integer)) or samples < 1:
        problems.append(f"samples must be an integer >= 1, got {samples!r}")
    if not isinstance(map_samples, (int, np.integer)) or map_samples < 1:
        problems.append(f"map_samples must be an integer >= 1, got {map_samples!r}")
    _check_range(problems, "map_cell_m", map_cell_m, 1e-9, math.inf, "m")
    if combining not in COMBINING:
        problems.append(f"unknown combining {combining!r}; choose one of {', '.join(COMBINING)}")
    if not problems:
        sx, sy, sz = (float(v) for v in station)
        if not scenario.area.contains(sx, sy):
            problems.append(
                f"station ({sx:g}, {sy:g}) lies outside the scenario area "
                f"[{x0:g}, {x1:g}] x [{y0:g}, {y1:g}] m; give --station inside it"
            )
        if not sz > h_user:
            problems.append(
                f"station height {sz:g} m must be above the users ({h_user:g} m); raise it"
            )
        elif bool(city.inside_building(station[None, :])[0]):
            problems.append(
                f"station ({sx:g}, {sy:g}, {sz:g}) is inside a building; move it above the roof "
                f"(roof at {float(city.height_at(station[None, :2])[0]):g} m) or to open ground"
            )
        if given_users is not None:
            bad = city.inside_building(given_users) | (given_users[:, 2] < 0)
            if bad.any():
                problems.append(
                    f"{int(bad.sum())} given user position(s) lie inside a building or below "
                    f"ground (first: {given_users[np.flatnonzero(bad)[0]].tolist()}); move them"
                )
    if problems:
        raise SkycellError(
            "channel study: " + "; ".join(problems) + ("." if len(problems) == 1 else "")
        )

    rng = np.random.default_rng(int(seed))
    if given_users is None:
        users_xyz = draw_users(
            city,
            station,
            int(users),  # type: ignore[arg-type]  # an int here (checked above)
            rng,
            height_m=h_user,
            max_range_m=rng_m,
            bounds_m=scenario.area.bounds_m,
        )
    else:
        users_xyz = given_users
    dist = np.linalg.norm(users_xyz - station[None, :], axis=1)

    rt, _, _ = import_rt()
    from skycell.radio.sionna_engine import SionnaEngine

    trace_city = city
    if building_material is not None:
        from skycell.city.buildings import Buildings, City

        b = city.buildings
        trace_city = City(bounds_m=city.bounds_m, buildings=Buildings(b.footprints_m, b.heights_m))
    engine = SionnaEngine(
        trace_city,
        frequency_hz=5e9,  # inside every P.2040 fit; the study sets the scene frequency itself
        station_antenna="isotropic",
        user_antenna="isotropic",
        max_depth=int(max_depth),
        samples=int(samples),
        map_samples=int(map_samples),
        seed=int(seed),
        material=building_material or DEFAULT_BUILDING_MATERIAL,
    )
    scene = engine.scene
    notes = list(hold_materials_in_range(scene, freqs))
    place_station(scene, rt, station)

    per: list[FrequencyStudy] = []
    total = len(freqs) * (2 if radio_map else 1)
    done = 0
    for f in freqs:
        gas, rain = wx.specific_attenuation_db_per_km(f)
        fol = float(foliage_loss_db(f, foliage_depth_m, model=foliage_model))
        if progress is not None:
            progress(done, total, f"tracing {users_xyz.shape[0]} users at {f / 1e9:g} GHz")
        t0 = time.perf_counter()
        scene.frequency = float(f)
        traced = trace_paths(
            scene,
            rt,
            users_xyz,
            max_depth=int(max_depth),
            samples=int(samples),
            seed=int(seed),
            diffraction=diffraction,
        )
        trace_s = time.perf_counter() - t0
        done += 1
        rmap = None
        map_s = 0.0
        if radio_map:
            if progress is not None:
                progress(done, total, f"radio map at {f / 1e9:g} GHz")
            t0 = time.perf_counter()
            rmap = rss_map(
                scene,
                rt,
                city,
                station,
                tx_power_dbm=p_tx,
                extra_loss_db_per_m=(gas + rain) / 1000.0,
                foliage_db=fol,
                cell_m=float(map_cell_m),
                height_m=h_user,
                samples=int(map_samples),
                max_depth=int(max_depth),
                seed=int(seed),
                diffraction=diffraction,
            )
            map_s = time.perf_counter() - t0
            done += 1
        per.append(
            analyse_frequency(
                traced,
                f,
                dist,
                tx_power_dbm=p_tx,
                sensitivity_dbm=sens,
                gas_db_per_km=gas,
                rain_db_per_km=rain,
                foliage_db=fol,
                combining=combining,
                rss_map=rmap,
                trace_s=trace_s,
                map_s=map_s,
            )
        )
    if foliage_model == "weissberger" and any(f > 95e9 for f in freqs):
        notes.append("Weissberger's foliage model (230 MHz-95 GHz) is extrapolated above 95 GHz")
    if foliage_model == "p833-woodland" and any(f > 30e9 for f in freqs):
        notes.append(
            "ITU-R P.833 Fig. 2 ends at 30 GHz: its specific attenuation is extrapolated above"
        )
    if progress is not None:
        progress(total, total, "done")
    settings = {
        "frequencies_hz": list(freqs),
        "tx_power_dbm": p_tx,
        "sensitivity_dbm": sens,
        "max_range_m": rng_m,
        "user_height_m": h_user,
        "users": int(users_xyz.shape[0]),
        "seed": int(seed),
        "foliage_depth_m": float(foliage_depth_m),
        "foliage_model": foliage_model,
        "weather": {
            "pressure_hpa": wx.pressure_hpa,
            "temperature_k": wx.temperature_k,
            "water_vapour_density_g_m3": wx.water_vapour_density_g_m3,
            "rain_rate_mm_h": wx.rain_rate_mm_h,
        },
        "building_material": building_material,
        "ground_material": engine.ground_material,
        "max_depth": int(max_depth),
        "samples": int(samples),
        "diffraction": bool(diffraction),
        "combining": combining,
        "radio_map": bool(radio_map),
        "map_cell_m": float(map_cell_m),
        "map_samples": int(map_samples),
        "antennas": "isotropic, vertically polarised station; isotropic dual-polarised user",
    }
    return ChannelStudyResult(
        scenario_name=scenario.name,
        station_xyz_m=station,
        users_xyz_m=users_xyz,
        distance_m=dist,
        frequencies=tuple(per),
        settings=settings,
        notes=tuple(notes),
        wall_time_s=time.perf_counter() - tic,
        city=city,
        areas_of_interest=tuple(
            (float(a.center_m[0]), float(a.center_m[1]), float(a.radius_m))
            for a in scenario.areas_of_interest
        ),
    )


def draw_users(
    city: City,
    station_xyz_m: ArrayLike,
    count: int,
    rng: np.random.Generator,
    *,
    height_m: float = 1.5,
    max_range_m: float = 500.0,
    bounds_m: tuple[float, float, float, float] | None = None,
) -> FloatArray:
    """``count`` users drawn uniformly at random outdoors at ``height_m`` [m], inside
    ``bounds_m`` (default the city's) and within ``max_range_m`` (3D) of the station.

    Paper 002 §3.5 draws its 2000 users "according to the normal distribution" around the
    activity area without giving its spread; skycell draws them uniformly over the disc the
    station's 500 m range covers (Table 3), so the study samples every distance the paper's
    box plot spans (1-500 m). Candidates are drawn in the disc's bounding box and rejected when
    outside the disc, the bounds, or inside a building, in rounds, from the one generator.

    Raises:
        SkycellError: the region holds too little open ground for the users.
    """
    st = np.asarray(station_xyz_m, dtype=np.float64).ravel()
    dz = float(st[2] - height_m)
    if not max_range_m > abs(dz):
        raise SkycellError(
            f"no user at {height_m:g} m can be within max_range_m = {max_range_m:g} m of a "
            f"station at {st[2]:g} m; raise max_range_m or lower the station"
        )
    r_h = math.sqrt(max_range_m**2 - dz**2)
    bx0, by0, bx1, by1 = bounds_m if bounds_m is not None else city.bounds_m
    rx0, rx1 = max(bx0, st[0] - r_h), min(bx1, st[0] + r_h)
    ry0, ry1 = max(by0, st[1] - r_h), min(by1, st[1] + r_h)
    if not (rx0 < rx1 and ry0 < ry1):
        raise SkycellError("the station's range does not overlap the scenario area; move it")
    chosen: list[FloatArray] = []
    need = int(count)
    for _ in range(200):
        n = max(256, 2 * need)
        pts = np.column_stack(
            (rng.uniform(rx0, rx1, n), rng.uniform(ry0, ry1, n), np.full(n, float(height_m)))
        )
        keep = np.hypot(pts[:, 0] - st[0], pts[:, 1] - st[1]) <= r_h
        pts = pts[keep]
        pts = pts[~city.inside_building(pts)] if pts.shape[0] else pts
        chosen.append(pts[:need])
        need -= min(need, pts.shape[0])
        if need == 0:
            break
    if need:
        raise SkycellError(
            f"could not place {count} users outdoors within {max_range_m:g} m of the station; "
            "the region is (almost) covered by buildings — move the station or raise max_range_m"
        )
    return np.asarray(np.concatenate(chosen), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Sionna RT helpers (the engine's own ``paths`` returns powers only, and is not deterministic)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TracedPaths:
    """Per-user traced paths, ``U`` users, ``R`` receiver ports, ``P`` path slots.

    Attributes:
        a: ``(U, R, P)`` complex path coefficients (Sionna RT's ``a``: antenna patterns and
            interactions, without the propagation phase), 0 where not valid.
        delay_s: ``(U, P)`` delays [s].
        valid: ``(U, P)`` the path exists.
        los: ``(U, P)`` the path is the direct one (no interaction).
    """

    a: ComplexArray
    delay_s: FloatArray
    valid: BoolArray
    los: BoolArray


def hold_materials_in_range(scene: Any, frequencies_hz: Sequence[float]) -> list[str]:
    """Let every ITU-R P.2040 material of ``scene`` work at any frequency.

    Sionna RT evaluates P.2040-4 §2.1.4's fits ``eps_r = a f^b``, ``sigma = c f^d`` only inside
    each material's validity range (concrete 1-100 GHz, ground 1-10 GHz) and raises outside it.
    Here a material keeps the properties of the nearest edge of its range instead (no
    extrapolation of the power laws, whose ground conductivity would grow without bound).

    Returns:
        one note per material and frequency range where this applies.
    """
    import mitsuba as mi  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from sionna.rt.radio_materials.itu import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
        ITU_MATERIALS_PROPERTIES,
        itu_material,
    )
    from sionna.rt.radio_materials.itu_material import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
        ITURadioMaterial,
    )

    notes = []
    for mat in list(scene.radio_materials.values()):
        if not isinstance(mat, ITURadioMaterial):
            continue
        kind = str(mat.itu_type)
        ranges = [(lo * 1e9, hi * 1e9) for lo, hi in ITU_MATERIALS_PROPERTIES[kind]]

        def held(f: Any, kind: str = kind, ranges: list[tuple[float, float]] = ranges) -> Any:
            fh = float(np.asarray(f).ravel()[0])
            lo, hi = min(ranges, key=lambda r: max(r[0] - fh, fh - r[1], 0.0))
            return itu_material(kind, mi.Float(min(max(fh, lo), hi)))

        mat.frequency_update_callback = held
        outside = [f for f in frequencies_hz if not any(lo <= f <= hi for lo, hi in ranges)]
        if outside:
            spans = ", ".join(f"{lo / 1e9:g}-{hi / 1e9:g} GHz" for lo, hi in ranges)
            notes.append(
                f"ITU-R P.2040 {kind!r} is defined for {spans}; at "
                f"{', '.join(f'{f / 1e9:g}' for f in outside)} GHz it keeps the properties of "
                "the nearest edge of that range"
            )
    return notes


def place_station(scene: Any, rt: Any, station: FloatArray) -> None:
    """Omnidirectional antennas (Table 3): an isotropic V-polarised station, unrotated, and
    isotropic dual-polarised (V and H ports) users; the station replaces every transmitter."""
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="VH")
    for name in list(scene.transmitters):
        scene.remove(name)
    scene.add(
        rt.Transmitter(
            "station",
            position=[float(v) for v in station],
            orientation=[0.0, 0.0, 0.0],
            power_dbm=0.0,
        )
    )


def _set_receivers(scene: Any, rt: Any, users_xyz: FloatArray) -> None:
    for name in list(scene.receivers):
        scene.remove(name)
    for j in range(users_xyz.shape[0]):
        scene.add(rt.Receiver(f"user-{j}", position=[float(v) for v in users_xyz[j]]))


def trace_paths(
    scene: Any,
    rt: Any,
    users_xyz: FloatArray,
    *,
    max_depth: int,
    samples: int,
    seed: int,
    diffraction: bool,
    batch: int | None = None,
) -> TracedPaths:
    """Trace the scene's station to every user with Sionna RT's path solver in its
    deterministic mode (the same seed gives the same paths): line of sight, specular reflection,
    refraction and, if asked, first-order diffraction, up to ``max_depth`` interactions.

    The solver's memory grows with ``samples x receivers`` (about 10 MB per receiver at 1e5
    rays: 19 GB for 2000 users at once), and its candidate buffer (``samples`` paths per call)
    is shared by the receivers of a call, so with too many receivers per call weak paths are
    lost. Users are therefore traced in batches of ``batch`` receivers (default
    :data:`RAYS_X_RECEIVERS_PER_CALL` / ``samples``: 125 users at 1e5 rays, about 2 GB; results
    then change by less than 0.3 dB for 90 % of the users when the batch is halved).
    """
    u = users_xyz.shape[0]
    size = batch if batch is not None else max(1, int(RAYS_X_RECEIVERS_PER_CALL // samples))
    parts: list[TracedPaths] = []
    for lo in range(0, u, size):
        _set_receivers(scene, rt, users_xyz[lo : lo + size])
        parts.append(_trace_once(scene, rt, max_depth, samples, seed, diffraction))
    for name in list(scene.receivers):
        scene.remove(name)
    if len(parts) == 1:
        return parts[0]
    width = max(p.valid.shape[1] for p in parts)

    def pad(x: NDArray[Any]) -> NDArray[Any]:
        extra = [(0, 0)] * (x.ndim - 1) + [(0, width - x.shape[-1])]
        return np.pad(x, extra)

    return TracedPaths(
        a=np.concatenate([pad(p.a) for p in parts]),
        delay_s=np.concatenate([pad(p.delay_s) for p in parts]),
        valid=np.concatenate([pad(p.valid) for p in parts]),
        los=np.concatenate([pad(p.los) for p in parts]),
    )


def _trace_once(
    scene: Any, rt: Any, max_depth: int, samples: int, seed: int, diffraction: bool
) -> TracedPaths:
    p = rt.PathSolver(deterministic=True)(
        scene,
        max_depth=max_depth,
        max_num_paths_per_src=samples,
        samples_per_src=samples,
        synthetic_array=True,
        los=True,
        specular_reflection=True,
        diffuse_reflection=False,
        refraction=True,
        diffraction=diffraction,
        seed=seed,
    )
    a_re, a_im = p.a  # [U, rx ports, N=1, tx ports=1, P]
    a = np.asarray(a_re, np.float64) + 1j * np.asarray(a_im, np.float64)
    u = a.shape[0]
    a = a[:, :, 0, 0, :]
    valid = np.asarray(p.valid, dtype=bool).reshape(u, -1)
    inter = np.asarray(p.interactions).reshape(-1, u, valid.shape[-1])
    los = valid & np.all(inter == 0, axis=0)  # InteractionType.NONE == 0
    tau = np.asarray(p.tau, np.float64).reshape(u, -1)
    # canonical order (valid paths by delay, then the empty slots): the solver's own order
    # varies between runs, which would change float sums in the last bit
    order = np.argsort(np.where(valid, tau, np.inf), axis=-1, kind="stable")
    valid = np.take_along_axis(valid, order, axis=-1)
    tau = np.take_along_axis(tau, order, axis=-1)
    los = np.take_along_axis(los, order, axis=-1)
    a = np.take_along_axis(a, order[:, None, :], axis=-1)
    return TracedPaths(
        a=np.asarray(np.where(valid[:, None, :], a, 0.0), dtype=np.complex128),
        delay_s=np.asarray(np.where(valid, tau, 0.0), dtype=np.float64),
        valid=valid,
        los=np.asarray(los, dtype=bool),
    )


def rss_map(
    scene: Any,
    rt: Any,
    city: City,
    station: FloatArray,
    *,
    tx_power_dbm: float,
    extra_loss_db_per_m: float,
    foliage_db: float,
    cell_m: float,
    height_m: float,
    samples: int,
    max_depth: int,
    seed: int,
    diffraction: bool,
) -> RssMap:
    """Heat map of the final received power over the city bounds (paper 002 Fig. 12).

    Sionna RT's radio-map solver gives each cell's path gain (power summed over rays, ideal
    dual-polarised isotropic receiver); the weather loss is applied over the cell's direct
    distance to the station (the map keeps no per-ray lengths) and the foliage loss to every
    cell. Cells inside buildings or reached by no ray are NaN.
    """
    x0, y0, x1, y1 = city.bounds_m
    rm = rt.RadioMapSolver()(
        scene,
        center=[(x0 + x1) / 2.0, (y0 + y1) / 2.0, float(height_m)],
        orientation=[0.0, 0.0, 0.0],
        size=[float(x1 - x0), float(y1 - y0)],
        cell_size=[float(cell_m), float(cell_m)],
        samples_per_tx=samples,
        max_depth=max_depth,
        los=True,
        specular_reflection=True,
        diffuse_reflection=False,
        refraction=True,
        diffraction=diffraction,
        seed=seed,
    )
    pg = np.asarray(rm.path_gain, dtype=np.float64)[0]
    centers = np.asarray(rm.cell_centers, dtype=np.float64)
    ny, nx = pg.shape
    flat = centers.reshape(-1, 3)
    d = np.linalg.norm(flat - station[None, :], axis=1).reshape(ny, nx)
    with np.errstate(divide="ignore"):
        rss = tx_power_dbm + 10.0 * np.log10(pg) - extra_loss_db_per_m * d - foliage_db
    inside = city.inside_building(flat).reshape(ny, nx)
    rss = np.where((pg > 0) & ~inside, rss, np.nan)
    los = city.line_of_sight_matrix(station[None, :], flat)[0].reshape(ny, nx) & ~inside
    ext = (
        float(flat[:, 0].min() - cell_m / 2),
        float(flat[:, 0].max() + cell_m / 2),
        float(flat[:, 1].min() - cell_m / 2),
        float(flat[:, 1].max() + cell_m / 2),
    )
    return RssMap(rss_dbm=np.asarray(rss, np.float64), los=los, extent_m=ext, cell_m=cell_m)


def analyse_frequency(
    traced: TracedPaths,
    frequency_hz: float,
    distance_m: FloatArray,
    *,
    tx_power_dbm: float,
    sensitivity_dbm: float,
    gas_db_per_km: float,
    rain_db_per_km: float,
    foliage_db: float,
    combining: str = "coherent",
    rss_map: RssMap | None = None,
    trace_s: float = 0.0,
    map_s: float = 0.0,
) -> FrequencyStudy:
    """Turn traced paths into the study's per-user quantities at one frequency (pure numpy).

    The three stages of Table 9 scale every path's amplitude: buildings only; times
    ``10^(-(gamma_gas + gamma_rain) l_i / 20000)`` with the path length ``l_i = c tau_i`` [m]
    and ``gamma`` in dB/km (ITU-R P.676-12, P.838-3); times ``10^(-L_foliage / 20)``. The
    received power of each stage is :func:`~skycell.study.stats.combine_paths_dbm` of the
    carrier phasors ``a_i exp(-j 2 pi f tau_i)``; the final path loss is ``P_t - P_r``; outage is
    ``P_r < sensitivity`` or no path; the delay spread is the RMS delay spread of the final path
    powers (§3.6.4); the phase is that of the co-polar (first) receiver port (Table 9).
    """
    valid = traced.valid
    ph0 = carrier_phasors(traced.a, traced.delay_s[:, None, :], frequency_hz)
    weather_db = (gas_db_per_km + rain_db_per_km) * path_length_m(traced.delay_s) / 1000.0
    ph_w = ph0 * (10.0 ** (-weather_db / 20.0))[:, None, :]
    ph_f = ph_w * 10.0 ** (-foliage_db / 20.0)
    rss_c = combine_paths_dbm(ph0, tx_power_dbm, combining=combining)
    rss_w = combine_paths_dbm(ph_w, tx_power_dbm, combining=combining)
    rss_f = combine_paths_dbm(ph_f, tx_power_dbm, combining=combining)
    has = valid.any(axis=-1)
    pl = np.where(has, tx_power_dbm - rss_f, np.inf)
    outage = ~has | ~(rss_f >= sensitivity_dbm)
    power = np.sum(np.abs(ph_f) ** 2, axis=1)  # (U, P), both ports
    los_user = traced.los.any(axis=-1)
    los_pow = np.sum(np.where(traced.los, power, 0.0), axis=-1)
    with np.errstate(divide="ignore"):
        los_pl = np.where(los_user, -10.0 * np.log10(los_pow), np.nan)
    fit_mask = has & np.isfinite(pl)
    fit = (
        fit_close_in(distance_m[fit_mask], pl[fit_mask], frequency_hz)
        if np.any(fit_mask & (distance_m != 1.0))
        else None
    )
    return FrequencyStudy(
        frequency_hz=float(frequency_hz),
        gas_db_per_km=float(gas_db_per_km),
        rain_db_per_km=float(rain_db_per_km),
        foliage_db=float(foliage_db),
        rss_concrete_dbm=rss_c,
        rss_weather_dbm=rss_w,
        rss_final_dbm=rss_f,
        path_loss_db=np.asarray(pl, np.float64),
        has_path=np.asarray(has, bool),
        outage=np.asarray(outage, bool),
        los=np.asarray(los_user, bool),
        los_path_loss_db=np.asarray(los_pl, np.float64),
        delay_spread_s=rms_delay_spread_s(traced.delay_s, power),
        phase_deg=narrowband_phase_deg(ph_f[:, 0, :]),
        n_paths=np.asarray(valid.sum(axis=-1), dtype=np.int64),
        ci_fit=fit,
        rss_map=rss_map,
        trace_s=float(trace_s),
        map_s=float(map_s),
    )


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def table9(result: ChannelStudyResult, *, with_paper: bool = True) -> StudyTable:
    """Paper 002 Table 9 as strings: one "skycell" row per frequency, followed by the paper's
    row for the same frequency when ``with_paper`` and the paper has one (7, 26, 140 GHz)."""
    cols = (
        "GHz",
        "source",
        "RSS concrete [dBm]",
        "+ weather [dBm]",
        "+ foliage [dBm]",
        "final PL [dB]",
        "UEs in outage",
        "phase max [deg]",
        "phase min [deg]",
        "phase mean [deg]",
    )
    keys = (
        "rss_concrete_dbm",
        "rss_weather_dbm",
        "rss_final_dbm",
        "final_path_loss_db",
        "outage_users",
        "phase_max_deg",
        "phase_min_deg",
        "phase_mean_deg",
    )

    def cells(row: dict[str, float]) -> tuple[str, ...]:
        return tuple(f"{row[k]:.0f}" if k == "outage_users" else _f1(float(row[k])) for k in keys)

    rows: list[tuple[str, ...]] = []
    n = result.users_xyz_m.shape[0]
    for fs in result.frequencies:
        ghz = f"{fs.frequency_ghz:g}"
        rows.append((ghz, "skycell", *cells(fs.table9_row())))
        paper = PAPER002_TABLE9.get(_ghz_key(fs.frequency_hz))
        if with_paper and paper is not None:
            rows.append((ghz, "paper 002", *cells(paper)))
    return StudyTable(
        title=f"Table 9: received power, losses, outage and phase ({n} users)",
        columns=cols,
        rows=tuple(rows),
    )


def table10(result: ChannelStudyResult, *, with_paper: bool = True) -> StudyTable:
    """Paper 002 Table 10 as strings: RMS delay spread [ns] of LoS and NLoS users per frequency
    (skycell's rows, each followed by the paper's when ``with_paper``)."""
    cols = ("condition", "GHz", "source", "users", "max [ns]", "min [ns]", "mean [ns]")
    rows: list[tuple[str, ...]] = []
    for cond in ("LoS", "NLoS"):
        for fs in result.frequencies:
            r = next(x for x in fs.table10_rows() if x["condition"] == cond)
            ghz = f"{fs.frequency_ghz:g}"
            stats = (_f2(r["max_ns"]), _f2(r["min_ns"]), _f2(r["mean_ns"]))
            rows.append((cond, ghz, "skycell", str(r["users"]), *stats))
            paper = PAPER002_TABLE10.get((cond, _ghz_key(fs.frequency_hz)))
            if with_paper and paper is not None:
                rows.append((cond, ghz, "paper 002", "", *(_f2(v) for v in paper)))
    return StudyTable(
        title="Table 10: RMS delay spread of served LoS and NLoS users",
        columns=cols,
        rows=tuple(rows),
    )


def parse_frequencies(text: str) -> list[float]:
    """``"7e9,26e9,140e9"`` -> ``[7e9, 26e9, 140e9]`` [Hz] (for the CLI's ``--frequencies``).

    Raises:
        SkycellError: an item is not a number (the message says which and shows the format).
    """
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    out: list[float] = []
    bad: list[str] = []
    for t in items:
        try:
            out.append(float(t))
        except ValueError:
            bad.append(t)
    if bad or not items:
        raise SkycellError(
            f"--frequencies {text!r}: give comma-separated frequencies in hertz, e.g. "
            f"7e9,26e9,140e9{'' if not bad else f' (not a number: {bad[0]!r})'}"
        )
    return out


def parse_station(text: str) -> tuple[float, float, float]:
    """``"0,0,50"`` -> ``(0.0, 0.0, 50.0)`` [m] (for the CLI's ``--station``).

    Raises:
        SkycellError: not three comma-separated numbers.
    """
    parts = [t.strip() for t in str(text).split(",")]
    try:
        vals = [float(t) for t in parts]
    except ValueError:
        vals = []
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise SkycellError(
            f"--station {text!r}: give the station position as x,y,z in metres, e.g. 0,0,50"
        )
    return (vals[0], vals[1], vals[2])


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _check_frequencies(frequencies_hz: Sequence[float], problems: list[str]) -> list[float]:
    try:
        freqs = [float(f) for f in frequencies_hz]
    except (TypeError, ValueError):
        problems.append(
            f"frequencies_hz must be a list of numbers [Hz], got {frequencies_hz!r}; e.g. "
            "7e9,26e9,140e9"
        )
        return []
    if not freqs:
        problems.append("frequencies_hz is empty; give at least one carrier, e.g. 7e9")
    bad = [f for f in freqs if not (math.isfinite(f) and 1e9 <= f <= 1e12)]
    if bad:
        problems.append(
            f"frequencies must lie in [1e9, 1e12] Hz (1-1000 GHz, the range of ITU-R P.676 and "
            f"P.2040), got {', '.join(f'{f:g}' for f in bad)}; give them in hertz, e.g. 26e9"
        )
    if len(set(freqs)) != len(freqs):
        problems.append(f"frequencies_hz repeats a frequency: {freqs}; list each once")
    return freqs


def _check_range(
    problems: list[str], name: str, value: float, lo: float, hi: float = math.inf, unit: str = ""
) -> None:
    u = f" [{unit}]" if unit else ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        problems.append(f"{name} must be a number{u}, got {value!r}")
        return
    if not (math.isfinite(v) and lo <= v <= hi):
        span = f">= {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}]"
        problems.append(f"{name} must be {span}{u}, got {value!r}")


def _ghz_key(frequency_hz: float) -> float:
    return round(frequency_hz / 1e9, 6)


def _mean(x: FloatArray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def _stat(x: FloatArray, fn: Callable[[FloatArray], Any]) -> float:
    return float(fn(x)) if x.size else math.nan


def _f1(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.1f}"


def _f2(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.2f}"


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
