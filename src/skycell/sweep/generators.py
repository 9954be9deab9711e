"""Scenario generators a sweep file can name: ``{generator: NAME, params: {...}}``.

A generator turns a few parameters into a complete scenario (as the plain dict a scenario file
would hold), so a sweep can vary what a file cannot express in one place: the number of users
drawn over a city, the size of the city, the fleet the users need. Every generator declares its
parameters (type, default, range, meaning); a sweep file is checked against that declaration
before anything runs, and unknown or out-of-range parameters are reported with their location.

Generators:

``paper000-downtown``
    The built-in default of paper 000 (Tables III and IV): the generated 2.4 km downtown, the
    five Table IV areas of interest, 10 stations at 70 m. ``city_seed``, ``size_m``,
    ``tall_fraction`` and ``stations`` change the city and the fleet.
``city-scale``
    A generated downtown of side ``size_m`` with ``users`` users drawn uniformly outdoors
    (seeded), sized and placed by paper 002's ``demand`` method with ``users_per_station``
    users per station and at most ``stations`` stations: the city-scale benchmark
    (``benchmarks/bench_scale.py``).
``paper002-crowd``
    Paper 002's event designs (Table 6): ``users`` users in one 100 000 m² gathering area on
    open ground, ``users_per_drone`` users per drone, 140 GHz, 5 W (the reading of
    ``examples/paper002-design-*.yaml``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GENERATORS", "Generator", "GeneratorParam", "generate_scenario"]


@dataclass(frozen=True)
class GeneratorParam:
    """One parameter of a generator.

    Attributes:
        kind: ``int`` or ``float`` (an int is accepted for a float).
        default: value when the sweep file does not give one.
        minimum, maximum: inclusive bounds (None: unbounded).
        description: meaning and unit, shown in error messages.
    """

    kind: str
    default: float | int
    minimum: float | None
    maximum: float | None
    description: str

    def check(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (None when it is)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number ({self.description}), got {value!r}"
        if self.kind == "int" and not isinstance(value, int):
            return f"must be a whole number ({self.description}), got {value!r}"
        if not math.isfinite(float(value)):
            return f"must be finite, got {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"must be >= {self.minimum:g} ({self.description}), got {value!r}"
        if self.maximum is not None and value > self.maximum:
            return f"must be <= {self.maximum:g} ({self.description}), got {value!r}"
        return None


@dataclass(frozen=True)
class Generator:
    """A named scenario generator: its parameters and the function building the scenario."""

    name: str
    summary: str
    params: Mapping[str, GeneratorParam]
    build: Callable[[Mapping[str, Any]], dict[str, Any]]


def _paper000_downtown(p: Mapping[str, Any]) -> dict[str, Any]:
    from skycell.scenario import default_scenario

    data = default_scenario().to_dict()
    gen = data["city"]["generate"]
    gen.update(
        seed=int(p["city_seed"]),
        size_m=float(p["size_m"]),
        tall_fraction=float(p["tall_fraction"]),
    )
    half = max(1200.0, float(p["size_m"]) / 2.0)
    data["area"] = {"x_min_m": -half, "y_min_m": -half, "x_max_m": half, "y_max_m": half}
    data["fleet"]["stations"] = int(p["stations"])
    return data


def _city_scale(p: Mapping[str, Any]) -> dict[str, Any]:
    users = int(p["users"])
    stations = int(p["stations"])
    per_station = int(p["users_per_station"]) or max(1, math.ceil(users / stations))
    half = float(p["size_m"]) / 2.0
    return {
        "name": f"city-scale-{users}u",
        "area": {"x_min_m": -half, "y_min_m": -half, "x_max_m": half, "y_max_m": half},
        "city": {
            "generate": {
                "seed": int(p["city_seed"]),
                "size_m": float(p["size_m"]),
                "tall_fraction": float(p["tall_fraction"]),
            }
        },
        "user_groups": [{"id": "u", "count": users, "seed": int(p["user_seed"])}],
        "fleet": {
            "stations": stations,
            "altitude_m": 100.0,
            "min_separation_m": 50.0,
            "building_clearance_m": 10.0,
            "max_users_per_uav": per_station,
        },
        "radio": {
            "frequency_hz": 3.5e9,
            "tx_power_dbm": 30.0,
            "bandwidth_hz": 2.0e7,
            "station_antenna": "isotropic",
            "user_antenna": "isotropic",
            "pathloss_model": "tr36777_uma_av",
        },
        "placement": {
            "method": "demand",
            "demand": {
                "users_per_drone": per_station,
                "grid_step_m": 50.0,
                "altitude_step_m": 50.0,
                "receiver_sensitivity_dbm": -100.0,
                "max_range_m": 1500.0,
            },
        },
        "evaluation": {"grid_cell_m": float(p["grid_cell_m"])},
    }


def _paper002_crowd(p: Mapping[str, Any]) -> dict[str, Any]:
    users = int(p["users"])
    per_drone = int(p["users_per_drone"])
    radius = math.sqrt(100_000.0 / math.pi)  # 100 000 m² (paper 002 Table 6)
    return {
        "name": f"paper002-crowd-{users}u",
        "area": {"x_min_m": -200.0, "y_min_m": -200.0, "x_max_m": 200.0, "y_max_m": 200.0},
        "city": {"buildings": []},
        "areas_of_interest": [{"id": "event", "center_m": [0.0, 0.0], "radius_m": radius}],
        "user_groups": [
            {"id": "crowd", "count": users, "aoi": "event", "seed": int(p["user_seed"])}
        ],
        "fleet": {
            "stations": int(p["stations"]),
            "altitude_m": 50.0,
            "min_altitude_m": 30.0,
            "max_altitude_m": 120.0,
            "min_separation_m": 10.0,
            "building_clearance_m": 0.0,
            "launch_area": {"x_min_m": -10.0, "y_min_m": 180.0, "x_max_m": 10.0, "y_max_m": 200.0},
            "max_users_per_uav": per_drone,
        },
        "radio": {
            "standard": "nr",
            "frequency_hz": 1.4e11,
            "tx_power_dbm": 37.0,
            "station_antenna": "isotropic",
            "user_antenna": "isotropic",
            "pathloss_model": "free_space",
        },
        "placement": {
            "method": "demand",
            "demand": {
                "users_per_drone": per_drone,
                "beta": 0.01,
                "grid_step_m": 10.0,
                "altitude_step_m": 10.0,
                "receiver_sensitivity_dbm": -100.0,
                "max_range_m": 500.0,
            },
        },
    }


def _p(kind: str, default: float, lo: float | None, hi: float | None, text: str) -> GeneratorParam:
    return GeneratorParam(kind, int(default) if kind == "int" else default, lo, hi, text)


#: The generators by name.
GENERATORS: dict[str, Generator] = {
    g.name: g
    for g in (
        Generator(
            "paper000-downtown",
            "paper 000's generated downtown, five Table IV AOIs, 10 stations at 70 m",
            {
                "city_seed": _p("int", 0, 0, None, "seed of the generated city"),
                "size_m": _p("float", 2400.0, 400.0, 20_000.0, "side of the city [m]"),
                "tall_fraction": _p("float", 0.12, 0.0, 1.0, "share of towers above 70 m"),
                "stations": _p("int", 10, 1, 1000, "stations N"),
            },
            _paper000_downtown,
        ),
        Generator(
            "city-scale",
            "generated downtown, users drawn outdoors, demand sizing and placement",
            {
                "users": _p("int", 10_000, 1, 1_000_000, "users drawn over the city"),
                "stations": _p("int", 100, 1, 10_000, "most stations available"),
                "users_per_station": _p(
                    "int", 0, 0, None, "users per station, 0: ceil(users / stations)"
                ),
                "size_m": _p("float", 2400.0, 200.0, 20_000.0, "side of the city [m]"),
                "city_seed": _p("int", 0, 0, None, "seed of the generated city"),
                "tall_fraction": _p("float", 0.12, 0.0, 1.0, "share of towers above 70 m"),
                "user_seed": _p("int", 1, 0, None, "seed of the users' positions"),
                "grid_cell_m": _p("float", 20.0, 1.0, 1000.0, "evaluation cell [m]"),
            },
            _city_scale,
        ),
        Generator(
            "paper002-crowd",
            "paper 002 Table 6: a crowd in one 100 000 m² gathering area, 140 GHz",
            {
                "users": _p("int", 10_000, 1, 1_000_000, "users in the gathering area"),
                "users_per_drone": _p("int", 2000, 1, None, "capacity C [users per drone]"),
                "stations": _p("int", 120, 1, 10_000, "drones available at the hub"),
                "user_seed": _p("int", 3, 0, None, "seed of the users' positions"),
            },
            _paper002_crowd,
        ),
    )
}


def generate_scenario(name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The scenario dict of generator ``name`` with ``params`` (defaults for the rest).

    Raises:
        ValueError: unknown generator or parameter, or a value out of range (the message says
            which and what is allowed); a sweep file reports these as located problems.
    """
    gen = GENERATORS.get(name)
    if gen is None:
        raise ValueError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")
    given = dict(params or {})
    problems = [f"unknown parameter {k!r}" for k in given if k not in gen.params]
    problems += [
        f"{k}: {why}"
        for k, v in given.items()
        if k in gen.params
        for why in [gen.params[k].check(v)]
        if why
    ]
    if problems:
        raise ValueError(f"generator {name!r}: " + "; ".join(problems))
    values = {k: given.get(k, p.default) for k, p in gen.params.items()}
    return gen.build(values)
