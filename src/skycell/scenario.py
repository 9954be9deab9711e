"""Scenario: the validated description of one planning problem, and its YAML/JSON files.

A scenario says where (the map ``area`` and the ``city`` in it), for whom (``areas_of_interest``
and optional ``users``), with what (the ``fleet`` and its ``radio``) and how to plan and score
(``placement``, ``evaluation``). Every model forbids unknown keys, so typos are reported, and is
frozen. Defaults are paper 000's values (Tables III and IV).

Loading reports every problem in a file at once, as one :class:`~skycell.errors.ScenarioError`
whose :class:`~skycell.errors.Problem` entries carry the location
(``areas_of_interest[2].radius_m``), the 1-based line in the file, the bad value, what is allowed
and how to fix it::

    scenario = load_scenario("examples/default.yaml")
    city = scenario.build_city()

Units are in the field names: metres (``_m``), hertz (``_hz``), dBm, dB, bit/s (``_bps``),
seconds (``_s``). Coordinates are a local metric frame: ``x`` east, ``y`` north, ``z`` up.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from skycell.errors import Problem, ScenarioError
from skycell.radio import names as _names

if TYPE_CHECKING:
    from skycell.city.buildings import City

__all__ = [
    "BUILTIN_CITIES",
    "GEOJSON_COORDINATES",
    "PLACEMENT_METHODS",
    "Area",
    "AreaOfInterest",
    "BuildingSpec",
    "BuiltinSpec",
    "CitySpec",
    "EvaluationSettings",
    "Fleet",
    "GenerateSpec",
    "GeoJsonSpec",
    "PlacementSettings",
    "Radio",
    "Scenario",
    "User",
    "UserGroup",
    "default_scenario",
    "load_scenario",
    "scenario_from_dict",
]

#: Placement method names accepted in ``placement.method``; extend when a method is added.
PLACEMENT_METHODS: tuple[str, ...] = (
    "auto",  # gradient when the scenario has areas of interest, else exact (falling back to emtad)
    "gradient",  # paper 000 §V-A: AOIs, fixed altitude, N given
    "los-search",  # paper 003 optimum: exact grid search, one UAV
    "rltopa",  # paper 003: DQN agent, one UAV
    "rooftop",  # paper 003 baseline: AP on the central roof
    "emtad",  # paper 004: sphere intersections + PSO, fewest UAVs
    "exact",  # skycell: MILP over candidate positions, fewest UAVs (HiGHS)
    "fixed-altitude",  # paper 004 baseline
    "fixed-users",  # paper 004 baseline: k-means, N_max users per UAV
    "demand",  # paper 002 §3.2, §3.4: ceil(D / C), proportional allocation, cost-map scan
    "gradient-sumrate",  # paper 001 + skycell: ascent on the differentiable ZF sum rate
    "exhaustive",  # paper 001 reference: every grid position, top 1/10/30 %
    "ddpg",  # paper 001: DDPG agent (stable-baselines3), one multi-antenna UAV
    "dqn",  # paper 001 Fig. 10: DQN agent on discretised moves
    "fixed-dft",  # paper 001 Fig. 10 "non-twin": fixed position, DFT codebook
)

#: Radio standards: ``nr`` (cellular, Shannon / attenuated-Shannon rates) or ``wifi-80211ac``
#: (802.11ac MCS table, papers 003 and 004).
RADIO_STANDARDS: tuple[str, ...] = ("nr", "wifi-80211ac")

#: Coordinate kinds accepted in ``city.geojson.coordinates`` (see :mod:`skycell.city.geojson`).
GEOJSON_COORDINATES: tuple[str, ...] = ("auto", "lonlat", "metric")

#: Pydantic error type of the cross-field checks run inside the models; the loaders replace these
#: errors by the same checks run on the raw input, which locate each problem precisely.
_SEMANTIC = "skycell_semantic"

Loc = tuple[str | int, ...]

# A finite float (ints accepted, bools and numeric strings refused), a strict int, a strict str.
Num = Annotated[float, Strict(), AllowInfNan(False)]
NonNeg = Annotated[float, Strict(), AllowInfNan(False), Field(ge=0)]
Int = Annotated[int, Strict()]
Text = Annotated[str, Strict()]
Point2 = tuple[Num, Num]
Point3 = tuple[Num, Num, NonNeg]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_name(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        close = difflib.get_close_matches(value, list(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown {what} {value!r}{hint}; allowed: {', '.join(allowed)}; pick one of these"
        )
    return value


def _raise_semantic(problems: list[tuple[Loc, str]]) -> None:
    if problems:
        text = "; ".join(f"{_loc_str(loc) or '<scenario>'}: {msg}" for loc, msg in problems)
        raise PydanticCustomError(_SEMANTIC, "{detail}", {"detail": text})


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class Area(_Model):
    """A map rectangle [m]: ``x_min_m < x_max_m``, ``y_min_m < y_max_m``."""

    x_min_m: Num = Field(description="west edge x [m]")
    y_min_m: Num = Field(description="south edge y [m]")
    x_max_m: Num = Field(description="east edge x [m], greater than x_min_m")
    y_max_m: Num = Field(description="north edge y [m], greater than y_min_m")

    @model_validator(mode="after")
    def _ordered(self) -> Area:
        _raise_semantic(_check_rect(self.model_dump(), ()))
        return self

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` [m]."""
        return (self.x_min_m, self.y_min_m, self.x_max_m, self.y_max_m)

    @property
    def width_m(self) -> float:
        """Extent along x [m]."""
        return self.x_max_m - self.x_min_m

    @property
    def height_m(self) -> float:
        """Extent along y [m]."""
        return self.y_max_m - self.y_min_m

    def contains(self, x_m: float, y_m: float, *, tol_m: float = 1e-9) -> bool:
        """Whether the point ``(x_m, y_m)`` [m] lies inside the rectangle (edges included)."""
        return (
            self.x_min_m - tol_m <= x_m <= self.x_max_m + tol_m
            and self.y_min_m - tol_m <= y_m <= self.y_max_m + tol_m
        )


class GenerateSpec(_Model):
    """A procedural downtown (:func:`skycell.city.generate.generate_downtown`)."""

    seed: Int = Field(0, ge=0, description="random seed of the generated city (an integer >= 0)")
    size_m: Num = Field(2400.0, gt=0, description="side of the square generated city [m]")
    block_size_m: Num = Field(100.0, gt=0, description="side of one city block [m]")
    street_width_m: Num = Field(
        20.0, gt=0, description="street width between blocks [m], less than block_size_m"
    )
    tall_fraction: Num = Field(
        0.12, ge=0, le=1, description="fraction of tall buildings, between 0 and 1"
    )
    max_height_m: Num = Field(
        220.0, gt=6, description="height of the tallest building [m] (> 70 when tall_fraction > 0)"
    )


class GeoJsonSpec(_Model):
    """Building footprints from a GeoJSON file (:func:`skycell.city.geojson.load_geojson`)."""

    path: Path = Field(
        description="path of the GeoJSON file, relative to the scenario file's folder"
    )
    origin_lonlat: (
        tuple[Annotated[Num, Field(ge=-180, le=180)], Annotated[Num, Field(ge=-90, le=90)]] | None
    ) = Field(
        None,
        description="[longitude, latitude] in degrees of the local frame's origin "
        "(omit to use the centre of the footprints)",
    )
    default_height_m: Num | None = Field(
        None, gt=0, description="height [m] of buildings whose height property is missing"
    )
    height_property: Text = Field(
        "height", min_length=1, description="name of the feature property holding the height [m]"
    )
    coordinates: Text = Field(
        "auto",
        description="coordinate kind of the file: auto (from its crs or value range), lonlat or "
        "metric",
    )

    @field_validator("coordinates")
    @classmethod
    def _coordinates(cls, value: str) -> str:
        return _check_name(value, GEOJSON_COORDINATES, "coordinate kind")


class BuildingSpec(_Model):
    """One explicit building: a prism with a polygon footprint [m] and a flat roof."""

    footprint_m: tuple[Point2, ...] = Field(
        min_length=3,
        description="footprint polygon [[x, y], ...] in metres, at least 3 vertices, "
        "not self-intersecting",
    )
    height_m: Num = Field(gt=0, description="building height above ground [m]")
    material: Text | None = Field(
        None, min_length=1, description="ITU-R P.2040 material name, e.g. concrete"
    )

    @field_validator("footprint_m")
    @classmethod
    def _simple_polygon(cls, value: tuple[tuple[float, float], ...]) -> tuple[Point2, ...]:
        pts = list(value)
        if len(pts) > 3 and pts[0] == pts[-1]:
            pts = pts[:-1]  # a closed ring: drop the repeated first vertex
        if len(pts) < 3:
            raise ValueError(
                f"needs at least 3 distinct vertices, got {len(pts)}; list the corners "
                "[[x, y], ...] of the footprint without repeating the first one"
            )
        from shapely.geometry import Polygon
        from shapely.validation import explain_validity

        poly = Polygon(pts)
        if not poly.is_valid or poly.area <= 0.0:
            why = explain_validity(poly) if not poly.is_valid else "zero area"
            raise ValueError(
                f"is not a valid simple polygon ({why}), got {_show(pts)}; list the corners in "
                "order around the footprint so that edges do not cross"
            )
        return tuple(pts)


#: Cities that ship with sionna-rt (extra ``rt``), importable as ``city: {builtin: NAME}``.
BUILTIN_CITIES: tuple[str, ...] = ("munich", "etoile", "florence", "san_francisco")


class BuiltinSpec(_Model):
    """A real city scene that ships with sionna-rt, imported as prisms (needs the ``rt`` extra)."""

    name: Text = Field(description="munich, etoile, florence or san_francisco")
    min_area_m2: NonNeg = Field(4.0, description="drop footprint parts smaller than this [m2]")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, BUILTIN_CITIES, "built-in city")


class CitySpec(_Model):
    """Where the buildings come from: exactly one of ``generate``, ``geojson``, ``buildings``,
    ``builtin``."""

    generate: GenerateSpec | None = Field(None, description="parameters of a generated downtown")
    geojson: GeoJsonSpec | None = Field(None, description="GeoJSON footprint file to import")
    buildings: tuple[BuildingSpec, ...] | None = Field(
        None, description="explicit list of buildings (may be empty for open ground)"
    )
    builtin: BuiltinSpec | None = Field(
        None, description="a real city that ships with sionna-rt (extra rt), e.g. {name: munich}"
    )

    @model_validator(mode="after")
    def _one_source(self) -> CitySpec:
        _raise_semantic(_check_city_sources(self.model_dump(), ()))
        return self

    @property
    def kind(self) -> str:
        """``"generate"``, ``"geojson"``, ``"builtin"`` or ``"buildings"``."""
        if self.generate is not None:
            return "generate"
        if self.geojson is not None:
            return "geojson"
        if self.builtin is not None:
            return "builtin"
        return "buildings"


class AreaOfInterest(_Model):
    """A circular area of interest.

    Paper 000 eq. 4: centre ``c_k``, radius ``r_k``, weight ``ω_k``.
    """

    id: Text = Field(min_length=1, description="unique AOI name (default aoi<index>)")
    center_m: Point2 = Field(description="AOI centre [x, y] in metres")
    radius_m: Num = Field(gt=0, description="AOI radius in metres")
    weight: NonNeg = Field(1.0, description="AOI weight (>= 0)")


class User(_Model):
    """A ground or elevated user with a traffic demand and an optional trajectory."""

    id: Text = Field(min_length=1, description="unique user name (default user<index>)")
    position_m: Point3 = Field(description="user position [x, y, z] in metres, z >= 0")
    demand_bps: NonNeg = Field(
        0.0, description="traffic demand in bit/s (>= 0; 0 means best effort)"
    )
    trajectory_m: tuple[Point3, ...] | None = Field(
        None,
        min_length=1,
        description="waypoints [[x, y, z], ...] in metres, one every trajectory_dt_s",
    )
    trajectory_dt_s: Num = Field(1.0, gt=0, description="time between trajectory waypoints [s]")


class UserGroup(_Model):
    """Seeded random users: ``count`` users drawn uniformly outdoors inside a rectangle or an AOI
    (papers 003/004 deploy users "randomly" in the venue; paper 002 has crowds in gathering
    areas). Demands are given per user by cycling through ``demand_bps``."""

    id: Text = Field(min_length=1, description="group name; users are named <id>-<k>")
    count: Int = Field(ge=1, description="number of users (>= 1)")
    area: Area | None = Field(None, description="rectangle to draw in (default: the map)")
    aoi: Text | None = Field(None, description="draw inside this AOI's circle instead")
    height_m: NonNeg = Field(1.5, description="user antenna height [m]")
    demand_bps: tuple[NonNeg, ...] = Field(
        (0.0,), min_length=1, description="demands [bit/s], assigned to users cyclically"
    )
    seed: Int = Field(0, description="seed of the group's positions")


class Fleet(_Model):
    """The airborne base stations (paper 000 Table III: N, h, d_min, c_b; papers 003/004: the
    positioning volume and per-UAV limits)."""

    stations: Int = Field(ge=1, description="number of airborne base stations (>= 1)")
    altitude_m: Num = Field(70.0, gt=0, description="hover altitude above ground [m]")
    min_separation_m: NonNeg = Field(
        400.0, description="minimum horizontal distance between stations [m]"
    )
    building_clearance_m: NonNeg = Field(
        15.0, description="minimum horizontal distance from a station to a building [m]"
    )
    launch_area: Area | None = Field(
        None,
        description="rectangle inside `area` where stations start (omit for anywhere in `area`)",
    )
    min_altitude_m: Num | None = Field(
        None, gt=0, description="lowest hover altitude for 3D placement [m] (default altitude_m)"
    )
    max_altitude_m: Num | None = Field(
        None, gt=0, description="highest hover altitude for 3D placement [m] (default altitude_m)"
    )
    positioning_area: Area | None = Field(
        None, description="x-y rectangle of the positioning volume (default: the map)"
    )
    grid_step_m: Num = Field(1.0, gt=0, description="grid step of the positioning volume [m]")
    max_users_per_uav: Int | None = Field(
        None, ge=1, description="at most this many users per UAV (paper 004 N_max; null: none)"
    )
    bandwidth_per_uav_hz: Num | None = Field(
        None,
        gt=0,
        description="spectrum of one UAV shared by its users (paper 004 eq. 5c; null: one "
        "channel of radio.channel_width_mhz, airtime-shared)",
    )
    battery_capacity_wh: Num = Field(
        548.0, gt=0, description="battery energy of one UAV [Wh] (skycell fly; 2 x 274 Wh)"
    )
    battery_reserve_fraction: NonNeg = Field(
        0.2, lt=1, description="share of the battery kept in reserve at landing (skycell fly)"
    )
    mission_time_s: NonNeg = Field(
        900.0, description="time each UAV hovers at its point before returning [s] (skycell fly)"
    )
    cruise_speed_m_s: Num = Field(
        10.0, gt=0, description="cruise speed of the flight references [m/s] (skycell fly)"
    )
    flight_separation_m: NonNeg = Field(
        20.0, description="minimum distance between two UAVs in flight [m] (skycell fly)"
    )


class Radio(_Model):
    """Radio parameters of the stations and users (paper 000 Table III)."""

    frequency_hz: Num = Field(3.5e9, gt=0, description="carrier frequency [Hz], e.g. 3.5e9")
    tx_power_dbm: Num = Field(43.0, description="station transmit power [dBm]")
    bandwidth_hz: Num = Field(20e6, gt=0, description="channel bandwidth [Hz], e.g. 20e6")
    noise_figure_db: NonNeg = Field(7.0, description="user receiver noise figure [dB]")
    station_antenna: Text = Field("tr38901", description="station antenna pattern name")
    user_antenna: Text = Field("isotropic", description="user antenna pattern name")
    pathloss_model: Text = Field(
        _names.PATHLOSS_MODELS[0], description="analytic path-loss model name"
    )
    environment: Text = Field("urban", description="propagation environment name")
    user_height_m: NonNeg = Field(1.5, description="default user antenna height [m]")
    standard: Text = Field("nr", description="radio standard: nr or wifi-80211ac")
    channel_width_mhz: Int = Field(20, description="802.11ac channel width [MHz]: 20/40/80/160")
    guard_interval_ns: Int = Field(800, description="802.11ac guard interval [ns]: 800 or 400")
    spatial_streams: Int = Field(1, ge=1, le=8, description="802.11ac spatial streams (1-8)")
    noise_floor_dbm: Num | None = Field(
        None,
        description="receiver noise floor [dBm] (paper 003: -85); null: thermal noise of "
        "bandwidth_hz with noise_figure_db",
    )
    user_tx_power_dbm: Num = Field(20.0, description="user transmit power [dBm] (paper 003)")
    rate_model: Text = Field(
        "shannon",
        description="rate from SINR for the nr standard: shannon, or nr-attenuated (3GPP TR "
        "36.942 A.1: 0.6 log2(1 + SINR), at most 4.8 bit/s/Hz)",
    )
    link_direction: Text = Field(
        "downlink",
        description="link that must carry each demand: downlink (station transmits at "
        "tx_power_dbm) or uplink (user transmits at user_tx_power_dbm, paper 003)",
    )

    @field_validator("rate_model")
    @classmethod
    def _rate_model(cls, value: str) -> str:
        return _check_name(value, ("shannon", "nr-attenuated"), "rate model")

    @field_validator("link_direction")
    @classmethod
    def _direction(cls, value: str) -> str:
        return _check_name(value, ("downlink", "uplink"), "link direction")

    @property
    def link_tx_power_dbm(self) -> float:
        """Transmit power of the link that must carry each demand [dBm]: the user's
        ``user_tx_power_dbm`` on the uplink (paper 003), the station's ``tx_power_dbm`` on the
        downlink."""
        return self.user_tx_power_dbm if self.link_direction == "uplink" else self.tx_power_dbm

    @field_validator("standard")
    @classmethod
    def _standard(cls, value: str) -> str:
        return _check_name(value, RADIO_STANDARDS, "radio standard")

    @field_validator("channel_width_mhz")
    @classmethod
    def _width(cls, value: int) -> int:
        if value not in (20, 40, 80, 160):
            raise ValueError(f"must be 20, 40, 80 or 160 MHz, got {value}")
        return value

    @field_validator("guard_interval_ns")
    @classmethod
    def _gi(cls, value: int) -> int:
        if value not in (800, 400):
            raise ValueError(f"must be 800 or 400 ns, got {value}")
        return value

    @field_validator("station_antenna", "user_antenna")
    @classmethod
    def _antenna(cls, value: str) -> str:
        return _check_name(value, _names.ANTENNA_PATTERNS, "antenna pattern")

    @field_validator("pathloss_model")
    @classmethod
    def _pathloss(cls, value: str) -> str:
        return _check_name(value, _names.PATHLOSS_MODELS, "path-loss model")

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        return _check_name(value, _names.ENVIRONMENTS, "environment")


class EmtadSettings(_Model):
    """EMTAD (paper 004 §IV, Table II): PSO inside each sphere-intersection zone."""

    particles: Int = Field(30, ge=2, description="PSO swarm size")
    iterations: Int = Field(100, ge=1, description="PSO iterations")
    inertia: NonNeg = Field(0.7, description="PSO inertia weight w")
    cognitive: NonNeg = Field(1.5, description="PSO cognitive coefficient c1")
    social: NonNeg = Field(1.5, description="PSO social coefficient c2")
    los_probability_threshold: Num = Field(
        0.9, ge=0, le=1, description="minimum Al-Hourani LoS probability of a served user"
    )
    patience: Int = Field(10, ge=1, description="PSO early stop: iterations without improvement")
    height_levels: Int = Field(
        8, ge=1, description="altitude levels at which the sphere intersection zones are sampled"
    )
    max_combinations: Int = Field(
        200000,
        ge=1,
        description="zone combinations tried per cover size before the greedy set cover is used",
    )


class ExactSettings(_Model):
    """skycell's exact fewest-UAV MILP (HiGHS) over candidate positions."""

    time_limit_s: Num = Field(60.0, gt=0, description="solver time limit [s]")
    candidates: Int = Field(
        500, ge=1, description="candidate positions kept for the MILP after pruning"
    )
    mip_rel_gap: NonNeg = Field(0.0, description="relative MIP gap at which HiGHS stops")
    height_levels: Int = Field(
        6, ge=1, description="altitude levels at which candidate positions are sampled"
    )


class RltopaSettings(_Model):
    """RLTOPA's DQN (paper 003 Table II; stable-baselines3)."""

    episodes: Int = Field(10, ge=1, description="training episodes")
    steps_per_episode: Int = Field(
        3000, ge=1, description="decisions per episode (300 s at 100 ms in the paper)"
    )
    learning_rate: Num = Field(1e-3, gt=0, description="Adam learning rate")
    buffer_size: Int = Field(10000, ge=1, description="replay buffer size")
    batch_size: Int = Field(64, ge=1, description="replay batch size")
    exploration_final_eps: Num = Field(0.1, ge=0, le=1, description="final epsilon")
    gamma: Num = Field(0.99, ge=0, le=1, description="discount factor")
    seed_offset: Int = Field(0, description="added to the run seed for the agent")
    exploration_fraction: Num = Field(
        0.5,
        gt=0,
        le=1,
        description="share of training over which epsilon falls linearly from 1 to its final "
        "value (SB3 decays linearly; the paper polynomially)",
    )
    learning_starts: Int = Field(
        21, ge=0, description="decisions before learning starts (2.1 s at 100 ms, Table II)"
    )
    target_update_interval: Int = Field(
        1000, ge=1, description="steps between target-network updates (capped at steps / 10)"
    )


class DemandSettings(_Model):
    """Demand-driven sizing and cost-map placement (paper 002 §3.2, §3.4)."""

    users_per_drone: Int = Field(2000, ge=1, description="capacity C of one drone [users]")
    alpha: NonNeg = Field(1.0, description="weight of path loss in C = alpha PL + beta d - g w")
    beta: NonNeg = Field(0.01, description="weight of the user distance [1/m]")
    gamma: NonNeg = Field(1.0, description="weight of the user weight w")
    grid_step_m: Num = Field(10.0, gt=0, description="x-y step of the scanned cost map [m]")
    altitude_step_m: Num = Field(
        10.0, gt=0, description="z step of the scanned cost map over the altitude range [m]"
    )
    receiver_sensitivity_dbm: Num = Field(
        -100.0,
        description="a user is covered when its received power reaches this [dBm] "
        "(paper 002 Table 3: -100)",
    )
    max_range_m: Num = Field(
        500.0,
        gt=0,
        description="largest UAV-user 3D distance that counts as covered [m] "
        "(paper 002 Table 3: 500)",
    )
    on_shortage: Text = Field(
        "allocate",
        description="fewer drones than the users need: allocate (paper 002 §3.2 proportional "
        "allocation, a degraded plan whose notes list the unserved users) or error",
    )

    @field_validator("on_shortage")
    @classmethod
    def _on_shortage(cls, value: str) -> str:
        return _check_name(value, ("allocate", "error"), "shortage policy")


class PlacementSettings(_Model):
    """Placement method and its hyper-parameters (paper 000 eqs. 1-7, Table III; the other
    methods' settings in their own sections)."""

    method: Text = Field(
        "auto",
        description="placement method name (auto: gradient with areas of interest, else exact)",
    )
    alpha: NonNeg = Field(0.01, description="coverage weight α (>= 0)")
    beta: NonNeg = Field(1.0, description="attraction weight β (>= 0)")
    gamma: NonNeg = Field(0.8, description="repulsion weight γ (>= 0)")
    eta: NonNeg = Field(1.0, description="collision-penalty weight η (>= 0)")
    kappa_a: Num = Field(0.02, gt=0, description="attraction steepness κ_a (> 0)")
    kappa_b: Num = Field(0.5, gt=0, description="collision steepness κ_b (> 0)")
    kappa_i: Num = Field(0.25, gt=0, description="sigmoid steepness κ_i (> 0)")
    grid_points: Int = Field(5, ge=1, description="coverage grid points per side (>= 1)")
    grid_margin_m: NonNeg = Field(150.0, description="coverage grid margin from the map edge [m]")
    learning_rate: Num = Field(2.0, gt=0, description="Adam learning rate [m per step] (> 0)")
    max_iterations: Int = Field(2500, ge=1, description="maximum optimiser iterations (>= 1)")
    patience: Int = Field(
        20, ge=1, description="iterations without improvement before stopping (>= 1)"
    )
    min_delta: NonNeg = Field(0.0, description="smallest loss decrease counted as improvement")
    penalty_height_offset_m: Num = Field(
        0.0,
        description="buildings taller than altitude + this offset [m] enter the collision "
        "penalty (0: those a station at the hover altitude could hit; +15: paper 000 literal)",
    )
    hard_clearance_m: NonNeg | None = Field(
        5.0,
        description="safety guard: keep stations this far [m] from obstacle boxes after every "
        "step (null: off, the paper's unguarded optimiser)",
    )
    min_start_separation_m: NonNeg = Field(
        200.0, description="minimum distance between random start positions [m]"
    )
    sphere_model: Text = Field(
        "free_space",
        description="path loss of the users' coverage spheres for los-search and rltopa: "
        "free_space (paper 003's optimistic spheres) or itu_r_p1411_los",
    )
    restarts: Int = Field(
        1,
        ge=1,
        description="independent semi-random starts; the plan serving the most AOIs (then the "
        "lowest loss) is kept (1: the paper's protocol)",
    )
    emtad: EmtadSettings = Field(default_factory=EmtadSettings, description="EMTAD settings")
    exact: ExactSettings = Field(default_factory=ExactSettings, description="MILP settings")
    rltopa: RltopaSettings = Field(default_factory=RltopaSettings, description="DQN settings")
    demand: DemandSettings = Field(
        default_factory=DemandSettings, description="demand-sizing settings"
    )

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        return _check_name(value, PLACEMENT_METHODS, "placement method")

    @field_validator("sphere_model")
    @classmethod
    def _sphere_model(cls, value: str) -> str:
        return _check_name(value, ("free_space", "itu_r_p1411_los"), "sphere model")


class EvaluationSettings(_Model):
    """How a deployment is scored."""

    grid_cell_m: Num = Field(20.0, gt=0, description="side of a coverage-map cell [m]")
    sinr_threshold_db: Num = Field(0.0, description="SINR [dB] above which a point is covered")


class NetworkSettings(_Model):
    """How ``skycell validate --ns3`` simulates a deployment's Wi-Fi network (papers 003 §VI-A
    and 004 §IV: one IEEE 802.11ac BSS per station, uplink UDP CBR at each user's demand)."""

    shared_channel: bool = Field(
        False,
        description="all stations on one Wi-Fi channel (they contend and interfere); false: "
        "each on its own channel while distinct channels of the width last",
    )
    packet_size_bytes: Int = Field(
        1400, ge=12, le=65_000, description="UDP payload per packet [bytes] (papers: 1400)"
    )
    runs: Int = Field(30, ge=1, description="seeded runs, ns-3 RngRun 1..runs (papers: 30)")
    sim_time_s: Num = Field(10.0, gt=0, description="traffic duration of one run [s]")


#: Channel engines by name.
ENGINE_KINDS: tuple[str, ...] = ("analytic", "sionna")


class EngineSettings(_Model):
    """The channel engine that tunes (and ray-traces) a deployment (``skycell plan --tune``).

    ``analytic`` is path loss plus antenna pattern over the city's line of sight (no extras);
    ``sionna`` is the Sionna RT ray tracer in the city's geometry (extra ``rt``, LLVM 16+ on a
    CPU), paper 000 §V-B's settings by default.
    """

    kind: Text = Field("analytic", description="channel engine: analytic or sionna")
    max_depth: Int = Field(3, ge=0, le=10, description="ray interactions per path (sionna)")
    map_samples: Int = Field(
        5_000_000, ge=1000, description="rays per coverage map, shared by the stations (sionna)"
    )
    samples: Int = Field(100_000, ge=100, description="rays per station for per-user paths")
    diffraction: bool = Field(
        False,
        description="per-user paths also diffract once on building edges, about 3.5x the "
        "time (sionna)",
    )
    memory_gb: Num = Field(
        8.0,
        gt=0,
        description="memory per-user path tracing may take, process included [GB]; users are "
        "traced in chunks sized to it (sionna)",
    )
    seed: Int = Field(0, ge=0, description="ray-tracer seed; same seed, same maps (sionna)")
    material: Text = Field(
        "itu_concrete", description="ITU-R P.2040 material of buildings without one (sionna)"
    )
    scattering_coefficient: NonNeg = Field(
        0.0, le=1.0, description="building scattering coefficient, 0 = no diffuse (sionna)"
    )
    user_polarization: Text = Field(
        "V", description="user antenna polarisation: V, or cross (both ports summed) (sionna)"
    )
    direction_bin_deg: NonNeg = Field(
        1.0,
        description="tuning re-weights rays merged per 1 deg direction bin; 0 = every ray, "
        "exact (sionna)",
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return _check_name(value, ENGINE_KINDS, "engine kind")

    @field_validator("user_polarization")
    @classmethod
    def _polarization(cls, value: str) -> str:
        return _check_name(value, ("V", "cross"), "user polarization")

    @field_validator("material")
    @classmethod
    def _material(cls, value: str) -> str:
        from skycell.radio.materials import check_material

        check_material(value)
        return value


class DdpgSettings(_Model):
    """Paper 001's DDPG agent (§2.4, §3, Table 5; stable-baselines3). Its Table 4 is lost: the
    hidden width and the noise scale are skycell's choices (:mod:`skycell.plan.place_sumrate_rl`).
    """

    episodes: Int = Field(5000, ge=1, description="training episodes (paper 001: 5000)")
    steps_per_episode: Int = Field(
        1, ge=1, description="positions chosen per episode (1: one value per episode, Fig. 6)"
    )
    learning_rate: Num = Field(0.005, gt=0, description="actor and critic learning rate")
    gamma: Num = Field(0.9, ge=0, le=1, description="discount factor")
    tau: Num = Field(0.005, gt=0, le=1, description="target soft-update factor (eq. 12)")
    buffer_size: Int = Field(100_000, ge=1, description="replay buffer capacity")
    batch_size: Int = Field(8, ge=1, description="mini-batch size N_mb")
    hidden_units: Int = Field(64, ge=1, description="width of the two ReLU layers of both nets")
    learning_starts: Int = Field(100, ge=0, description="random steps before learning starts")
    noise: Text = Field("ou", description="exploration noise: ou (Ornstein-Uhlenbeck) or gaussian")
    noise_sigma: NonNeg = Field(
        0.15, description="standard deviation of the noise on the [-1, 1] actions (both kinds)"
    )
    ou_theta: NonNeg = Field(0.15, description="OU mean-reversion rate theta")
    ou_dt: Num = Field(1.0, gt=0, description="OU time step dt (correlation ~1/(theta dt) steps)")
    checkpoint_every: Int = Field(
        25, ge=1, description="episodes between evaluations of the policy; the best is the result"
    )
    seed_offset: Int = Field(0, description="added to the run seed for the agent")

    @field_validator("noise")
    @classmethod
    def _noise(cls, value: str) -> str:
        return _check_name(value, ("ou", "gaussian"), "exploration noise")


class SumRateDqnSettings(_Model):
    """The DQN of paper 001 Fig. 10 on discretised moves (its Table 6 is lost; skycell's
    values)."""

    episodes: Int = Field(400, ge=1, description="training episodes")
    steps_per_episode: Int = Field(40, ge=1, description="grid moves per episode")
    learning_rate: Num = Field(1e-3, gt=0, description="Adam learning rate")
    gamma: Num = Field(0.9, ge=0, le=1, description="discount factor")
    buffer_size: Int = Field(100_000, ge=1, description="replay buffer capacity")
    batch_size: Int = Field(32, ge=1, description="replay batch size")
    hidden_units: Int = Field(64, ge=1, description="width of the two ReLU layers")
    learning_starts: Int = Field(200, ge=0, description="random steps before learning starts")
    train_freq: Int = Field(4, ge=1, description="steps between gradient updates")
    target_update_interval: Int = Field(500, ge=1, description="steps between target updates")
    exploration_fraction: Num = Field(
        0.5, gt=0, le=1, description="share of training over which epsilon falls from 1"
    )
    exploration_final_eps: Num = Field(0.05, ge=0, le=1, description="final epsilon")
    seed_offset: Int = Field(0, description="added to the run seed for the agent")


class GradientSumRateSettings(_Model):
    """Multi-start gradient ascent on the differentiable sum rate (skycell; penalty of paper
    000 eq. 6)."""

    starts: Int = Field(12, ge=1, description="starting positions (scrambled Sobol, seeded)")
    iterations: Int = Field(120, ge=1, description="Adam steps per start")
    learning_rate_m: Num = Field(2.0, gt=0, description="Adam step scale [m]")
    patience: Int = Field(30, ge=1, description="steps without improvement before a start stops")
    penalty_weight: NonNeg = Field(1.0, description="weight eta of the building penalty")
    kappa_b: Num = Field(0.5, gt=0, description="steepness kappa_b of the penalty [1/m]")
    trust_radius_m: Num = Field(
        8.0, gt=0, description="Sionna: distance from the traced anchor before re-tracing [m]"
    )
    refine_starts: Int = Field(
        4,
        ge=0,
        description="Sionna: best analytic-twin results refined on traced paths (0: trace "
        "every start from the beginning)",
    )


class SumRateSettings(_Model):
    """Multi-antenna station, rank-adaptive zero forcing and paper 001's positioning agents.

    Used by ``gradient-sumrate``, ``exhaustive``, ``ddpg``, ``dqn`` and ``fixed-dft``: the
    station's planar array (paper 001: M_T elements), the transmission ranks of eq. 5, the grid
    of candidate positions (the positioning volume is ``fleet.positioning_area`` and
    ``fleet.min_altitude_m..max_altitude_m``), the non-twin baseline and the agents. The channel
    is ``engine.kind``'s: analytic paths, or Sionna RT paths (extra ``rt``).
    """

    array_rows: Int = Field(4, ge=1, le=64, description="UPA rows")
    array_cols: Int = Field(4, ge=1, le=64, description="UPA columns (M_T = rows x cols)")
    array_spacing_wavelengths: Num = Field(0.5, gt=0, description="element spacing [wavelengths]")
    max_rank: Int | None = Field(
        None, ge=1, description="highest transmission rank N_R (null: min(M_T, users))"
    )
    grid_step_m: Num = Field(5.0, gt=0, description="x-y step of the candidate grid [m]")
    altitude_step_m: Num = Field(10.0, gt=0, description="z step of the candidate grid [m]")
    dft_oversampling: Int = Field(2, ge=1, le=8, description="DFT codebook oversampling")
    fixed_positions_m: tuple[Point3, ...] = Field(
        ((0.0, 0.0, 50.0),),
        min_length=1,
        description="non-twin positions [[x, y, z], ...] [m]; fixed-dft flies to the first",
    )
    max_cached_channels: Int = Field(
        4096, ge=1, description="channels kept in memory (positions); metrics are always kept"
    )
    ddpg: DdpgSettings = Field(default_factory=DdpgSettings, description="DDPG settings")
    dqn: SumRateDqnSettings = Field(default_factory=SumRateDqnSettings, description="DQN settings")
    gradient: GradientSumRateSettings = Field(
        default_factory=GradientSumRateSettings, description="gradient ascent settings"
    )


class Scenario(_Model):
    """One planning problem. Only ``area``, ``city``, ``areas_of_interest`` and ``fleet.stations``
    are required; every other field has paper 000's default."""

    name: Text = Field("scenario", min_length=1, description="scenario name")
    area: Area = Field(description="map rectangle {x_min_m, y_min_m, x_max_m, y_max_m} in metres")
    city: CitySpec = Field(description="city source: exactly one of generate, geojson, buildings")
    areas_of_interest: tuple[AreaOfInterest, ...] = Field(
        (), description="list of areas of interest (the gradient method needs at least one)"
    )
    users: tuple[User, ...] = Field((), description="list of users (optional)")
    user_groups: tuple[UserGroup, ...] = Field(
        (), description="seeded random users, expanded when the city is built (optional)"
    )
    fleet: Fleet = Field(description="fleet settings, at least {stations: N}")
    radio: Radio = Field(default_factory=Radio, description="radio settings")
    placement: PlacementSettings = Field(
        default_factory=PlacementSettings, description="placement settings"
    )
    evaluation: EvaluationSettings = Field(
        default_factory=EvaluationSettings, description="evaluation settings"
    )
    engine: EngineSettings = Field(
        default_factory=EngineSettings, description="channel engine for tuning"
    )
    network: NetworkSettings = Field(
        default_factory=NetworkSettings, description="ns-3 network validation settings"
    )
    sumrate: SumRateSettings = Field(
        default_factory=SumRateSettings,
        description="multi-antenna sum-rate positioning (paper 001)",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_ids(cls, data: Any) -> Any:
        return _fill_default_ids(data)

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        _raise_semantic(_semantic_problems(self.to_dict(), base_dir=None))
        return self

    # -- conversions ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-safe builtins (lists, floats, strings), in declaration order."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """The scenario as YAML that :func:`load_scenario` reads back to an equal scenario."""
        body = yaml.dump(
            _drop_none(self.to_dict()),
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        return f"# skycell scenario {self.name!r} (fields left out take their defaults)\n{body}"

    def to_json(self) -> str:
        """The scenario as indented JSON that :func:`load_scenario` reads back."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    # -- derived -------------------------------------------------------------------------------

    @property
    def placement_method(self) -> str:
        """``placement.method`` with ``auto`` resolved: ``gradient`` when the scenario has areas
        of interest, else ``exact``."""
        m = self.placement.method
        if m != "auto":
            return m
        return "gradient" if self.areas_of_interest else "exact"

    @property
    def altitude_range_m(self) -> tuple[float, float]:
        """Lowest and highest hover altitude of the positioning volume [m]."""
        f = self.fleet
        lo = f.min_altitude_m if f.min_altitude_m is not None else f.altitude_m
        hi = f.max_altitude_m if f.max_altitude_m is not None else f.altitude_m
        return (lo, max(lo, hi))

    @property
    def noise_floor_dbm(self) -> float:
        """The receiver noise floor [dBm]: ``radio.noise_floor_dbm`` or the thermal noise."""
        from skycell.radio.link import thermal_noise_dbm

        r = self.radio
        if r.noise_floor_dbm is not None:
            return float(r.noise_floor_dbm)
        return float(thermal_noise_dbm(r.bandwidth_hz, r.noise_figure_db))

    def users_in(self, city: City) -> tuple[User, ...]:
        """All users: the listed ones, then every group's, drawn outdoors (not inside a building)
        with the group's own seed, ``<group>-<k>`` ids and cyclic demands."""
        import numpy as np

        out = list(self.users)
        for g in self.user_groups:
            rng = np.random.default_rng(g.seed)
            if g.aoi is not None:
                aoi = next(a for a in self.areas_of_interest if a.id == g.aoi)
                cx, cy, rad = aoi.center_m[0], aoi.center_m[1], aoi.radius_m
                rect = (cx - rad, cy - rad, cx + rad, cy + rad)
            else:
                a = g.area or self.area
                rect = (a.x_min_m, a.y_min_m, a.x_max_m, a.y_max_m)
            chosen: list[Any] = []
            need = g.count
            for _ in range(1000):
                n = max(64, 2 * need)
                pts = np.column_stack(
                    (
                        rng.uniform(rect[0], rect[2], n),
                        rng.uniform(rect[1], rect[3], n),
                        np.full(n, g.height_m),
                    )
                )
                if g.aoi is not None:
                    pts = pts[np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) <= rad]
                pts = pts[~city.inside_building(pts)]
                chosen.append(pts[:need])
                need -= min(need, pts.shape[0])
                if need == 0:
                    break
            if need:
                raise ScenarioError(
                    "user_groups",
                    [
                        Problem(
                            f"user_groups[{self.user_groups.index(g)}]",
                            f"could not place {g.count} users outdoors in the group's region; "
                            "it is (almost) covered by buildings — move or enlarge it",
                        )
                    ],
                )
            xyz = np.concatenate(chosen)
            for k, p in enumerate(xyz):
                out.append(
                    User(
                        id=f"{g.id}-{k}",
                        position_m=(float(p[0]), float(p[1]), float(p[2])),
                        demand_bps=g.demand_bps[k % len(g.demand_bps)],
                    )
                )
        return tuple(out)

    # -- resolution ----------------------------------------------------------------------------

    def build_city(self) -> City:
        """Resolve ``city`` into a :class:`skycell.city.City` bounded by ``area``.

        Raises:
            ScenarioError: the GeoJSON file is missing, or buildings lie outside ``area``.
        """
        from skycell.city.buildings import Buildings, City

        source = f"scenario {self.name!r}"
        spec = self.city
        if spec.generate is not None:
            from skycell.city.generate import generate_downtown

            g = spec.generate
            try:
                buildings = generate_downtown(
                    seed=g.seed,
                    size_m=g.size_m,
                    block_size_m=g.block_size_m,
                    street_width_m=g.street_width_m,
                    tall_fraction=g.tall_fraction,
                    max_height_m=g.max_height_m,
                )
            except ValueError as exc:
                raise ScenarioError(
                    source, [Problem("city.generate", f"{exc}; fix these generator settings")]
                ) from None
            where: Loc = ("city", "generate")
        elif spec.geojson is not None:
            from skycell.city.geojson import load_geojson

            gj = spec.geojson
            if not gj.path.is_file():
                raise ScenarioError(
                    source,
                    [
                        Problem(
                            "city.geojson.path",
                            f"file not found: {str(gj.path)!r}; give the path of an existing "
                            "GeoJSON file (relative paths are relative to the scenario file)",
                        )
                    ],
                )
            buildings = load_geojson(
                gj.path,
                origin_lonlat=gj.origin_lonlat,
                default_height_m=gj.default_height_m,
                height_property=gj.height_property,
                coordinates=gj.coordinates,  # type: ignore[arg-type]  # checked by the model
            )
            where = ("city", "geojson")
        elif spec.builtin is not None:
            from skycell.city.sionna_scenes import load_builtin_city

            buildings = load_builtin_city(
                spec.builtin.name, min_area_m2=spec.builtin.min_area_m2
            ).buildings
            where = ("city", "builtin")
        else:
            import numpy as np

            specs = spec.buildings or ()
            materials: tuple[str, ...] = ()
            if any(b.material is not None for b in specs):
                materials = tuple(b.material or "concrete" for b in specs)
            buildings = Buildings(
                footprints_m=tuple(np.asarray(b.footprint_m, dtype=np.float64) for b in specs),
                heights_m=np.asarray([b.height_m for b in specs], dtype=np.float64),
                materials=materials,
            )
            where = ("city", "buildings")
        problems = _buildings_outside(buildings.bbox_m, self.area, where)
        if problems:
            raise ScenarioError(source, problems)
        return City(bounds_m=self.area.bounds_m, buildings=buildings)


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def default_scenario() -> Scenario:
    """The built-in default: paper 000's downtown (Tables III and IV).

    A generated 2.4 km x 2.4 km downtown (seed 0, 100 m blocks, 20 m streets, 12 % tall buildings,
    tallest 220 m), the five Table IV areas of interest, 10 stations at 70 m, no users.
    """
    aois = [
        ((450.0, 168.0), 300.0),
        ((-247.0, 145.0), 250.0),
        ((-423.0, -416.0), 250.0),
        ((353.0, -622.0), 250.0),
        ((-852.0, 133.0), 250.0),
    ]
    return Scenario.model_validate(
        {
            "name": "default-downtown",
            "area": {"x_min_m": -1200.0, "y_min_m": -1200.0, "x_max_m": 1200.0, "y_max_m": 1200.0},
            "city": {"generate": {}},
            "areas_of_interest": [
                {"id": f"aoi{k}", "center_m": c, "radius_m": r, "weight": 1.0}
                for k, (c, r) in enumerate(aois)
            ],
            "fleet": {"stations": 10},
            "placement": {"method": "gradient"},
        }
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file: YAML (``.yaml``, ``.yml``) or JSON (``.json``).

    A relative ``city.geojson.path`` is resolved against the scenario file's folder and stored as
    an absolute path.

    Raises:
        ScenarioError: with every problem found (syntax, missing fields, wrong types, unknown keys,
            out-of-range values, cross-field inconsistencies), each with its location and line.
    """
    p = Path(path)
    source = str(path)
    suffix = p.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ScenarioError(
            source,
            [
                Problem(
                    "",
                    f"unknown file extension {p.suffix or '(none)'!r}; allowed: .yaml, .yml, "
                    ".json; rename the file to say its format",
                )
            ],
        )
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            source, [Problem("", "file not found; check the path of the scenario file")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            source, [Problem("", f"file is not UTF-8 text ({exc.reason}); save it as UTF-8")]
        ) from None
    except OSError as exc:
        raise ScenarioError(
            source, [Problem("", f"cannot read the file ({exc.strerror}); check the path")]
        ) from None
    if suffix == ".json":
        data, lines, problems = _parse_json(text)
    else:
        data, lines, problems = _parse_yaml(text)
    return _validate(data, source, lines=lines, base_dir=p.resolve().parent, problems=problems)


def scenario_from_dict(
    data: Any, source: str = "<dict>", *, base_dir: str | Path | None = None
) -> Scenario:
    """Validate an in-memory mapping like :func:`load_scenario` does a file.

    Args:
        data: the scenario as plain builtins (what ``yaml.safe_load`` or ``json.load`` return).
        source: name shown in the error.
        base_dir: folder that a relative ``city.geojson.path`` is relative to (default: the
            current working directory).

    Raises:
        ScenarioError: with every problem found.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return _validate(data, source, lines={}, base_dir=base.resolve(), problems=[])


# --------------------------------------------------------------------------------------------
# Validation pipeline
# --------------------------------------------------------------------------------------------


def _validate(
    data: Any,
    source: str,
    *,
    lines: dict[Loc, int],
    base_dir: Path,
    problems: list[Problem],
) -> Scenario:
    problems = list(problems)

    def line_of(loc: Loc) -> int | None:
        for n in range(len(loc), -1, -1):
            if loc[:n] in lines:
                return lines[loc[:n]]
        return None

    if data is None and not problems:
        problems.append(
            Problem(
                "",
                "the scenario is empty; give a mapping with at least area, city, "
                "areas_of_interest and fleet: {stations: N}",
                line_of(()),
            )
        )
    if not isinstance(data, Mapping):
        if data is not None:
            problems.append(
                Problem(
                    "",
                    f"the top level must be a mapping (key: value pairs), got a "
                    f"{_type_name(data)}; give area, city, areas_of_interest and fleet as keys",
                    line_of(()),
                )
            )
        raise ScenarioError(source, problems)

    data = _resolve_geojson_path(data, base_dir)
    scenario: Scenario | None = None
    semantic_errors: list[Any] = []
    skipped: list[Any] = []
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == _SEMANTIC:
                semantic_errors.append(err)
                continue
            loc = tuple(err["loc"])
            message = _message(err)
            if message:
                problems.append(Problem(_loc_str(loc), message, line_of(loc)))
            else:
                skipped.append(err)
    for loc, msg in _semantic_problems(data, base_dir=base_dir):
        problems.append(Problem(_loc_str(loc), msg, line_of(loc)))
    if scenario is None and not problems:  # safety net: a model check the raw pass missed
        for err in semantic_errors or skipped:
            loc = tuple(err["loc"])
            problems.append(Problem(_loc_str(loc), str(err["msg"]), line_of(loc)))
    if problems or scenario is None:
        problems.sort(key=lambda p: (p.line is None, p.line or 0))  # stable: keeps ties in order
        raise ScenarioError(source, problems)
    return scenario


def _resolve_geojson_path(data: Mapping[str, Any], base_dir: Path) -> Mapping[str, Any]:
    city = data.get("city")
    if not isinstance(city, Mapping):
        return data
    gj = city.get("geojson")
    if not isinstance(gj, Mapping) or not isinstance(gj.get("path"), str):
        return data
    path = Path(gj["path"]).expanduser()
    if path.is_absolute():
        return data
    out = dict(data)
    out["city"] = {**city, "geojson": {**gj, "path": str((base_dir / path).resolve())}}
    return out


def _fill_default_ids(data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    out = dict(data)
    for key, prefix in (("areas_of_interest", "aoi"), ("users", "user"), ("user_groups", "group")):
        items = out.get(key)
        if isinstance(items, list | tuple):
            filled: list[Any] = []
            for k, item in enumerate(items):
                if isinstance(item, Mapping) and item.get("id") is None:
                    item = {**item, "id": f"{prefix}{k}"}
                filled.append(item)
            out[key] = filled
    return out


# --------------------------------------------------------------------------------------------
# Cross-field checks, run on raw (possibly invalid) input: each skips what it cannot read
# --------------------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _point(value: Any, n: int) -> tuple[float, ...] | None:
    if not isinstance(value, list | tuple) or len(value) != n:
        return None
    nums = [_num(v) for v in value]
    if any(v is None for v in nums):
        return None
    return tuple(v for v in nums if v is not None)


def _rect(value: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(value, Mapping):
        return None
    vals = [_num(value.get(k)) for k in ("x_min_m", "y_min_m", "x_max_m", "y_max_m")]
    if any(v is None for v in vals):
        return None
    x0, y0, x1, y1 = (float(v) for v in vals if v is not None)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def _fmt_rect(r: tuple[float, float, float, float]) -> str:
    return f"x {_g(r[0])}..{_g(r[2])} m, y {_g(r[1])}..{_g(r[3])} m"


def _g(x: float) -> str:
    return f"{x:g}"


def _check_rect(value: Any, loc: Loc) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    if not isinstance(value, Mapping):
        return out
    for axis in ("x", "y"):
        lo, hi = _num(value.get(f"{axis}_min_m")), _num(value.get(f"{axis}_max_m"))
        if lo is not None and hi is not None and hi <= lo:
            out.append(
                (
                    (*loc, f"{axis}_max_m"),
                    f"must be greater than {axis}_min_m ({_g(lo)}), got {_g(hi)}; "
                    f"the rectangle needs {axis}_min_m < {axis}_max_m",
                )
            )
    return out


def _check_city_sources(value: Any, loc: Loc) -> list[tuple[Loc, str]]:
    if not isinstance(value, Mapping):
        return []
    given = [k for k in ("generate", "geojson", "buildings", "builtin") if value.get(k) is not None]
    if not given:
        return [
            (
                loc,
                "no city source given; give exactly one of generate: {...}, "
                "geojson: {path: ...}, buildings: [...] or builtin: {name: munich}",
            )
        ]
    if len(given) > 1:
        return [
            (
                (*loc, k),
                f"more than one city source ({', '.join(given)}); keep exactly one of "
                "generate, geojson, buildings, builtin",
            )
            for k in given[1:]
        ]
    return []


def _check_generate(
    value: Any, loc: Loc, area: tuple[float, float, float, float] | None
) -> list[tuple[Loc, str]]:
    """The combinations :func:`skycell.city.generate.generate_downtown` refuses, and the fit."""
    out: list[tuple[Loc, str]] = []
    if not isinstance(value, Mapping):
        return out
    defaults = GenerateSpec.model_fields

    def get(key: str) -> float | None:
        if key in value:
            return _num(value[key])
        default = defaults[key].default
        return float(default) if isinstance(default, int | float) else None

    size, block, street = get("size_m"), get("block_size_m"), get("street_width_m")
    tall, top = get("tall_fraction"), get("max_height_m")
    if block is not None and street is not None and block > 0 and 0 < street and block <= street:
        out.append(
            (
                (*loc, "block_size_m"),
                f"must be larger than street_width_m ({_g(street)}), got {_g(block)}; "
                "widen the blocks or narrow the streets",
            )
        )
    elif block is not None and street is not None and size is not None and 0 < street < block:
        if size < block + 2 * street:
            out.append(
                (
                    (*loc, "size_m"),
                    f"must be at least one block plus two streets ({_g(block + 2 * street)} m), "
                    f"got {_g(size)}; enlarge the generated city",
                )
            )
    if tall is not None and top is not None and tall > 0 and top <= 70.0:
        out.append(
            (
                (*loc, "max_height_m"),
                f"must exceed 70 m when tall_fraction ({_g(tall)}) > 0, got {_g(top)}; raise "
                "max_height_m or set tall_fraction: 0",
            )
        )
    if area is not None and size is not None and size > 0:
        half = size / 2.0
        d = _outside_by(-half, -half, half, half, area)
        if d > 1e-9:
            out.append(
                (
                    (*loc, "size_m"),
                    f"the generated city (x, y in {_g(-half)}..{_g(half)} m, centred on the "
                    f"origin) reaches {_g(d)} m outside the map area ({_fmt_rect(area)}); "
                    "reduce size_m or enlarge `area`",
                )
            )
    return out


def _outside_by(
    x0: float, y0: float, x1: float, y1: float, area: tuple[float, float, float, float]
) -> float:
    """How far [m] the box ``x0..x1, y0..y1`` reaches outside ``area`` (0 when inside)."""
    return max(area[0] - x0, area[1] - y0, x1 - area[2], y1 - area[3], 0.0)


def _semantic_problems(data: Any, *, base_dir: Path | None) -> list[tuple[Loc, str]]:
    """Cross-field checks on a raw scenario mapping (also on a valid scenario's ``to_dict()``)."""
    out: list[tuple[Loc, str]] = []
    if not isinstance(data, Mapping):
        return out
    out += _check_rect(data.get("area"), ("area",))
    area = _rect(data.get("area"))
    where = f"the map area ({_fmt_rect(area)})" if area else ""
    tol = 1e-9

    city = data.get("city")
    out += _check_city_sources(city, ("city",))
    if isinstance(city, Mapping):
        gj = city.get("geojson")
        if base_dir is not None and isinstance(gj, Mapping) and isinstance(gj.get("path"), str):
            path = Path(gj["path"]).expanduser()
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                out.append(
                    (
                        ("city", "geojson", "path"),
                        f"file not found: {str(path)!r}; give the path of an existing GeoJSON "
                        "file, relative to the scenario file's folder",
                    )
                )
        out += _check_generate(city.get("generate"), ("city", "generate"), area)
        blds = city.get("buildings")
        if area and isinstance(blds, list | tuple):
            for k, b in enumerate(blds):
                fp = b.get("footprint_m") if isinstance(b, Mapping) else None
                pts = [_point(p, 2) for p in fp] if isinstance(fp, list | tuple) else []
                if not pts or any(p is None for p in pts):
                    continue
                xs = [p[0] for p in pts if p is not None]
                ys = [p[1] for p in pts if p is not None]
                d = _outside_by(min(xs), min(ys), max(xs), max(ys), area)
                if d > tol:
                    out.append(
                        (
                            ("city", "buildings", k, "footprint_m"),
                            f"footprint reaches {_g(d)} m outside {where}; move the building "
                            "inside the area or enlarge `area`",
                        )
                    )

    aois = data.get("areas_of_interest")
    if isinstance(aois, list | tuple):
        out += _duplicate_ids(aois, "areas_of_interest", "aoi", "AOI")
        for k, a in enumerate(aois):
            if not isinstance(a, Mapping) or not area:
                continue
            c, r = _point(a.get("center_m"), 2), _num(a.get("radius_m"))
            if c is None or r is None or r <= 0:
                continue
            d = _outside_by(c[0] - r, c[1] - r, c[0] + r, c[1] + r, area)
            if d > tol:
                out.append(
                    (
                        ("areas_of_interest", k, "center_m"),
                        f"the AOI circle (centre [{_g(c[0])}, {_g(c[1])}], radius {_g(r)} m) "
                        f"reaches {_g(d)} m outside {where}; move the centre, reduce radius_m "
                        "or enlarge `area`",
                    )
                )

    users = data.get("users")
    if isinstance(users, list | tuple):
        out += _duplicate_ids(users, "users", "user", "user")
        for k, u in enumerate(users):
            if not isinstance(u, Mapping) or not area:
                continue
            pos = _point(u.get("position_m"), 3)
            if pos is not None and _outside_by(pos[0], pos[1], pos[0], pos[1], area) > tol:
                out.append(
                    (
                        ("users", k, "position_m"),
                        f"position [{_g(pos[0])}, {_g(pos[1])}] is outside {where}; move the "
                        "user inside the area",
                    )
                )
            traj = u.get("trajectory_m")
            if isinstance(traj, list | tuple):
                for j, q in enumerate(traj):
                    pt = _point(q, 3)
                    if pt is not None and _outside_by(pt[0], pt[1], pt[0], pt[1], area) > tol:
                        out.append(
                            (
                                ("users", k, "trajectory_m", j),
                                f"waypoint [{_g(pt[0])}, {_g(pt[1])}] is outside {where}; keep "
                                "the trajectory inside the area",
                            )
                        )

    fleet = data.get("fleet")
    if isinstance(fleet, Mapping) and fleet.get("launch_area") is not None:
        launch_loc: Loc = ("fleet", "launch_area")
        out += _check_rect(fleet.get("launch_area"), launch_loc)
        launch = _rect(fleet.get("launch_area"))
        if launch and area and _outside_by(*launch, area) > tol:
            out.append(
                (
                    launch_loc,
                    f"the launch area ({_fmt_rect(launch)}) reaches "
                    f"{_g(_outside_by(*launch, area))} m outside {where}; shrink the launch "
                    "area or enlarge `area`",
                )
            )

    placement = data.get("placement")
    aois_given = bool(data.get("areas_of_interest"))
    method_name = placement.get("method", "auto") if isinstance(placement, Mapping) else "auto"
    uses_grid = method_name == "gradient" or (method_name == "auto" and aois_given)
    if isinstance(placement, Mapping) and area and uses_grid:
        margin = _num(placement.get("grid_margin_m"))
        side = min(area[2] - area[0], area[3] - area[1])
        if margin is not None and margin >= 0 and 2 * margin >= side:
            out.append(
                (
                    ("placement", "grid_margin_m"),
                    f"must be less than half the map's shorter side ({_g(side / 2)} m), got "
                    f"{_g(margin)}; reduce the coverage-grid margin",
                )
            )
    out += _method_problems(data, area, where)
    return out


def _method_problems(
    data: Mapping[str, Any], area: tuple[float, float, float, float] | None, where: str
) -> list[tuple[Loc, str]]:
    """What the chosen placement method needs from the rest of the scenario, user groups and the
    3D positioning volume."""
    out: list[tuple[Loc, str]] = []
    placement = data.get("placement")
    method = placement.get("method", "auto") if isinstance(placement, Mapping) else "auto"
    aois = data.get("areas_of_interest")
    has_aois = isinstance(aois, list | tuple) and len(aois) > 0
    users = data.get("users")
    groups = data.get("user_groups")
    has_users = (isinstance(users, list | tuple) and len(users) > 0) or (
        isinstance(groups, list | tuple) and len(groups) > 0
    )
    if method == "auto" and not has_aois and not has_users:
        out.append(
            (
                ("areas_of_interest",),
                "nothing to plan for: add areas of interest (the gradient method serves them) or "
                "`users` / `user_groups` (the sizing methods serve them)",
            )
        )
    if method == "gradient" and not has_aois:
        out.append(
            (
                ("areas_of_interest",),
                "the gradient method (placement.method) needs at least one area of interest; "
                "add one, or choose a user-driven method (exact, emtad, los-search, ...)",
            )
        )
    if method not in ("gradient", "auto") and method in PLACEMENT_METHODS and not has_users:
        out.append(
            (
                ("placement", "method"),
                f"method {method!r} places stations for users and their demands, but the "
                "scenario has none; add `users` or `user_groups`",
            )
        )
    aoi_ids = {a.get("id") for a in (aois or ()) if isinstance(a, Mapping)}
    if isinstance(groups, list | tuple):
        out += _duplicate_ids(groups, "user_groups", "group", "user group")
        for k, g in enumerate(groups):
            if not isinstance(g, Mapping):
                continue
            if g.get("aoi") is not None and g.get("area") is not None:
                out.append((("user_groups", k), "give either `area` or `aoi`, not both"))
            if g.get("aoi") is not None and g.get("aoi") not in aoi_ids:
                out.append(
                    (
                        ("user_groups", k, "aoi"),
                        f"no area of interest with id {g.get('aoi')!r}; use one of "
                        f"{sorted(str(a) for a in aoi_ids) or 'the AOI ids (none defined)'}",
                    )
                )
            if g.get("area") is not None:
                out += _check_rect(g.get("area"), ("user_groups", k, "area"))
                rect = _rect(g.get("area"))
                if rect and area and _outside_by(*rect, area) > 1e-9:
                    out.append(
                        (
                            ("user_groups", k, "area"),
                            f"the group's rectangle ({_fmt_rect(rect)}) leaves {where}; keep "
                            "it inside the map",
                        )
                    )
    fleet = data.get("fleet")
    if isinstance(fleet, Mapping):
        lo, hi = _num(fleet.get("min_altitude_m")), _num(fleet.get("max_altitude_m"))
        if lo is not None and hi is not None and lo > hi:
            out.append(
                (
                    ("fleet", "min_altitude_m"),
                    f"min_altitude_m ({_g(lo)}) is above max_altitude_m ({_g(hi)}); swap them",
                )
            )
        if fleet.get("positioning_area") is not None:
            out += _check_rect(fleet.get("positioning_area"), ("fleet", "positioning_area"))
            rect = _rect(fleet.get("positioning_area"))
            if rect and area and _outside_by(*rect, area) > 1e-9:
                out.append(
                    (
                        ("fleet", "positioning_area"),
                        f"the positioning area ({_fmt_rect(rect)}) leaves {where}; keep it "
                        "inside the map",
                    )
                )
    return out


def _duplicate_ids(items: Sequence[Any], key: str, prefix: str, what: str) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    seen: dict[str, int] = {}
    for k, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        ident = item.get("id")
        if ident is None:
            ident = f"{prefix}{k}"
        if not isinstance(ident, str):
            continue
        if ident in seen:
            out.append(
                (
                    (key, k, "id"),
                    f"duplicate id {ident!r}, already used by {key}[{seen[ident]}]; give each "
                    f"{what} a unique id",
                )
            )
        else:
            seen[ident] = k
    return out


def _buildings_outside(bbox_m: Any, area: Area, where: Loc) -> list[Problem]:
    """Problems for buildings whose bounding box reaches outside ``area`` (at most 20 listed)."""
    bounds = area.bounds_m
    bad = [
        (k, _outside_by(float(b[0]), float(b[1]), float(b[2]), float(b[3]), bounds))
        for k, b in enumerate(bbox_m)
    ]
    bad = [(k, d) for k, d in bad if d > 1e-6]
    listed = bad[:20]
    problems: list[Problem] = []
    for k, d in listed:
        loc = (*where, k) if where[-1] == "buildings" else where
        problems.append(
            Problem(
                _loc_str(loc),
                f"building {k} reaches {_g(d)} m outside the map area ({_fmt_rect(bounds)}); "
                "enlarge `area` or make the city fit inside it",
            )
        )
    if len(bad) > len(listed):
        problems.append(
            Problem(
                _loc_str(where),
                f"... and {len(bad) - len(listed)} more buildings outside the map area",
            )
        )
    return problems


# --------------------------------------------------------------------------------------------
# Turning pydantic errors into readable problems
# --------------------------------------------------------------------------------------------


def _loc_str(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        text = f"<deeply nested {_type_name(value)}>"
    return text if len(text) <= 80 else text[:77] + "..."


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def _strip(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is UnionType:
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _resolve(loc: Loc) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model holding the last named part of ``loc`` and that field's info (None if unknown)."""
    tp: Any = Scenario
    owner: type[BaseModel] | None = None
    info: FieldInfo | None = None
    for part in loc:
        tp = _strip(tp)
        if isinstance(part, int):
            args = get_args(tp)
            if get_origin(tp) in (tuple, list) and args:
                if (len(args) == 2 and args[1] is Ellipsis) or get_origin(tp) is list:
                    tp = args[0]
                elif part < len(args):
                    tp = args[part]
                continue
            return owner, info
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            info = tp.model_fields.get(part)
            if info is None:
                return owner, None
            tp = info.annotation
            continue
        return owner, info
    return owner, info


def _hint(info: FieldInfo | None) -> str:
    desc = info.description if info is not None else None
    if not desc:
        return ""
    if not (len(desc) > 1 and desc[1].isupper()):
        desc = desc[0].lower() + desc[1:]
    return f"; give the {desc}"


_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text (quote it if needed)",
    "bool_type": "true or false",
    "path_type": "a file path (text)",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping (key: value pairs)",
    "model_attributes_type": "a mapping (key: value pairs)",
    "dict_type": "a mapping (key: value pairs)",
}

_COMPARE = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _message(err: Any) -> str:
    kind: str = err["type"]
    loc: Loc = tuple(err["loc"])
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    owner, info = _resolve(loc)
    hint = _hint(info)
    last = loc[-1] if loc else ""
    if isinstance(last, int) and info is not None:
        args = get_args(_strip(info.annotation))
        item = _strip(args[0]) if args else None
        if isinstance(item, type) and issubclass(item, BaseModel):
            hint = f"; give each item as a mapping with keys {', '.join(item.model_fields)}"
    if kind == "missing":
        if isinstance(last, int):
            return f"item {last} is missing{hint}"
        what = f", {hint.removeprefix('; give ')}" if hint else ""
        return f"required field {last!r} is missing; add `{last}: ...`{what}"
    if kind == "extra_forbidden":
        allowed = list(owner.model_fields) if owner is not None else []
        close = difflib.get_close_matches(str(last), allowed, n=1)
        maybe = f" (did you mean {close[0]!r}?)" if close else ""
        return (
            f"unknown key {last!r}{maybe}; allowed keys here: {', '.join(allowed)}; "
            "fix the spelling or remove it"
        )
    if kind in _COMPARE:
        op, key = _COMPARE[kind]
        bound = ctx.get(key)
        shown = _g(bound) if isinstance(bound, int | float) else str(bound)
        return f"must be {op} {shown}, got {_show(value)}{hint}"
    if kind == "finite_number":
        return f"must be a finite number, got {_show(value)}{hint}"
    if (
        kind == "too_short"
        and isinstance(value, list | tuple)
        and len(value) >= ctx.get("min_length", 0)
    ):
        return ""  # pydantic counts only the valid items; the invalid ones are reported already
    if kind in ("too_short", "too_long"):
        n = ctx.get("actual_length")
        if kind == "too_short":
            return f"needs at least {ctx.get('min_length')} item(s), got {n}{hint}"
        return f"takes at most {ctx.get('max_length')} item(s), got {n}{hint}"
    if kind == "string_too_short":
        return f"must not be empty, got {_show(value)}{hint}"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, got {_show(value)} ({_type_name(value)}){hint}"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "")))
    return f"{err.get('msg', kind)}, got {_show(value)}{hint}"


# --------------------------------------------------------------------------------------------
# Parsing with line numbers
# --------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe loader that also reads YAML 1.2 floats such as ``3.5e9`` and ``1e6`` as numbers."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class _Dumper(yaml.SafeDumper):
    """Block mappings, flow-style lists of scalars (``[x, y]``), large floats as ``3.5e+09``."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(v, list | dict) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat and bool(data))


def _represent_float(dumper: yaml.SafeDumper, data: float) -> yaml.Node:
    if math.isfinite(data) and abs(data) >= 1e6:
        mantissa, exponent = f"{data:.15e}".split("e")
        mantissa = mantissa.rstrip("0")
        text = f"{mantissa}0e{exponent}" if mantissa.endswith(".") else f"{mantissa}e{exponent}"
        if float(text) == data:
            return dumper.represent_scalar("tag:yaml.org,2002:float", text)
    return dumper.represent_float(data)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(float, _represent_float)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _parse_yaml(text: str) -> tuple[Any, dict[Loc, int], list[Problem]]:
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses
        line = None
        if isinstance(exc, yaml.reader.ReaderError):
            line = text.count("\n", 0, exc.position) + 1
            exc.name = "the file"
        return None, {}, [Problem("", f"invalid YAML: {exc}; remove that character", line)]
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = f" (column {mark.column + 1})" if mark is not None else ""
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        return (
            None,
            {},
            [
                Problem(
                    "",
                    f"invalid YAML: {what}{col}; fix the syntax (indentation, colons, "
                    "quotes, brackets)",
                    line,
                )
            ],
        )
    except yaml.YAMLError as exc:
        return None, {}, [Problem("", f"invalid YAML: {exc}; fix the syntax")]
    except RecursionError:
        return None, {}, [Problem("", "invalid YAML: nested too deeply; simplify the file")]
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        try:
            _walk_yaml(node, (), lines, problems, set())
        except RecursionError:
            pass  # line numbers are a bonus; pydantic reports the deep nesting itself
    return data, lines, problems


def _walk_yaml(
    node: yaml.Node, path: Loc, lines: dict[Loc, int], problems: list[Problem], active: set[int]
) -> None:
    if id(node) in active:  # recursive alias
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key: Any = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or key == "<<":
                continue
            line = key_node.start_mark.line + 1
            if key in first:
                problems.append(
                    Problem(
                        _loc_str((*path, key)),
                        f"duplicate key {key!r} (first given at line {first[key]}); keep only "
                        "one, the last one would silently win",
                        line,
                    )
                )
            else:
                first[key] = line
                lines[(*path, key)] = line
            _walk_yaml(value_node, (*path, key), lines, problems, active)
    elif isinstance(node, yaml.SequenceNode):
        for k, item in enumerate(node.value):
            lines[(*path, k)] = item.start_mark.line + 1
            _walk_yaml(item, (*path, k), lines, problems, active)
    active.discard(id(node))


def _parse_json(text: str) -> tuple[Any, dict[Loc, int], list[Problem]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return (
            None,
            {},
            [
                Problem(
                    "",
                    f"invalid JSON: {exc.msg} (column {exc.colno}); fix the syntax (commas, "
                    "quotes, brackets)",
                    exc.lineno,
                )
            ],
        )
    except RecursionError:
        return None, {}, [Problem("", "invalid JSON: nested too deeply")]
    scanner = _JsonLines(text)
    try:
        scanner.value(0, ())
    except (ValueError, IndexError, RecursionError):
        pass  # line numbers are a bonus; the data itself parsed fine
    return data, scanner.lines, scanner.problems


class _JsonLines:
    """Records the line of every key and list item of an already valid JSON document."""

    _ws = re.compile(r"[ \t\n\r]*")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []
        self._decoder = json.JSONDecoder()
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def _line(self, idx: int) -> int:
        import bisect

        return bisect.bisect_left(self._newlines, idx) + 1

    def _skip(self, idx: int) -> int:
        m = self._ws.match(self.text, idx)
        return m.end() if m else idx

    def value(self, idx: int, path: Loc) -> int:
        text = self.text
        idx = self._skip(idx)
        self.lines.setdefault(path, self._line(idx))
        if text[idx] == "{":
            first: dict[str, int] = {}
            idx = self._skip(idx + 1)
            if text[idx] == "}":
                return idx + 1
            while True:
                idx = self._skip(idx)
                key_line = self._line(idx)
                key, idx = self._decoder.raw_decode(text, idx)
                if key in first:
                    self.problems.append(
                        Problem(
                            _loc_str((*path, key)),
                            f"duplicate key {key!r} (first given at line {first[key]}); keep "
                            "only one, the last one would silently win",
                            key_line,
                        )
                    )
                else:
                    first[key] = key_line
                    self.lines[(*path, key)] = key_line
                idx = self._skip(idx) + 1  # ':'
                idx = self._skip(self.value(idx, (*path, key)))
                if text[idx] == ",":
                    idx += 1
                    continue
                return idx + 1  # '}'
        if text[idx] == "[":
            idx = self._skip(idx + 1)
            if text[idx] == "]":
                return idx + 1
            k = 0
            while True:
                idx = self._skip(idx)
                self.lines[(*path, k)] = self._line(idx)
                idx = self._skip(self.value(idx, (*path, k)))
                k += 1
                if text[idx] == ",":
                    idx += 1
                    continue
                return idx + 1  # ']'
        _, end = self._decoder.raw_decode(text, idx)
        return int(end)
