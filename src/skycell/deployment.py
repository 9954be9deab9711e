"""Deployment: the stations, their routes and the metrics — the JSON exchange format.

This is the shared data layer of paper 000 §III-A (AOI parameters; ABS coordinates, orientations and
transmit powers; ABS trajectories; UE trajectories), extended with the resolved scenario (buildings
included) and the metrics, and versioned by ``schema_version``. Other tools rely on this minimum:

* ``schema_version``
* ``stations[]``: ``id``, ``position_m`` [x, y, z], ``azimuth_deg``, ``tilt_deg``, ``tx_power_dbm``,
  ``route_m`` [[x, y, z], ...]
* ``areas_of_interest[]``: ``id``, ``center_m`` [x, y], ``radius_m``
* ``buildings[]``: ``footprint_m`` [[x, y], ...], ``height_m``
* ``metrics``: with ``aoi_satisfaction``; for user-driven plans also ``station_count``,
  ``users_served``, ``users_in_los`` and ``demand_satisfied_fraction``
* ``users[]`` (user-driven plans): ``id``, ``position_m``, ``demand_bps``, ``serving_station``
  (a station id or null), ``los``, ``rate_bps``

Angles follow the antenna convention of :mod:`skycell.radio.antenna`: azimuth counter-clockwise
from +x in the horizontal plane, tilt downward from the horizon (90° faces the ground, paper 000's
starting orientation).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skycell import __version__
from skycell.errors import Problem, ScenarioError
from skycell.fileio import atomic_write_text

#: Version of the deployment.json schema written by this release.
SCHEMA_VERSION = "1.0"
_SUPPORTED_MAJOR = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StationRecord(_Model):
    """One airborne base station."""

    id: str
    position_m: tuple[float, float, float]
    azimuth_deg: float = 0.0
    tilt_deg: float = 90.0
    tx_power_dbm: float
    route_m: list[tuple[float, float, float]] = Field(default_factory=list)
    #: Time stamp of each ``route_m`` point [s from the fleet's departure] once the route has
    #: been flown (``skycell fly``); empty for a planned route.
    route_t_s: list[float] = Field(default_factory=list)


class AreaRecord(_Model):
    """One area of interest."""

    id: str
    center_m: tuple[float, float]
    radius_m: float = Field(gt=0)
    weight: float = 1.0


class BuildingRecord(_Model):
    """One prism building."""

    footprint_m: list[tuple[float, float]] = Field(min_length=3)
    height_m: float = Field(gt=0)
    material: str | None = None


class UserRecord(_Model):
    """One user of a user-driven plan: where, how much, who serves it and how well."""

    id: str
    position_m: tuple[float, float, float]
    demand_bps: float = Field(ge=0)
    serving_station: str | None = None
    los: bool = False
    rate_bps: float = Field(default=0.0, ge=0)


class TrajectoryRecord(_Model):
    """The positions of one user over time, sampled every ``dt_s`` from t = 0.

    ``kind``: ``user`` (a scenario user), ``pedestrian`` (random-waypoint walker or SUMO person)
    or ``vehicle`` (SUMO); ``area``: the id of the area of interest whose spawn zone the user
    walks in, if any.
    """

    id: str
    dt_s: float = Field(default=1.0, gt=0)
    positions_m: list[tuple[float, float, float]]
    kind: str = "user"
    area: str | None = None


class Deployment(_Model):
    """A planned deployment, as written to and read from ``deployment.json``."""

    schema_version: str = SCHEMA_VERSION
    skycell_version: str = __version__
    method: dict[str, Any] = Field(default_factory=dict)
    areas_of_interest: list[AreaRecord]
    stations: list[StationRecord] = Field(min_length=1)
    users: list[UserRecord] = Field(default_factory=list)
    user_trajectories: list[TrajectoryRecord] = Field(default_factory=list)
    buildings: list[BuildingRecord] = Field(default_factory=list)
    scenario: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    # ------------------------------------------------------------------ arrays
    def station_xyz_m(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """``(N, 3)`` station positions [m]."""
        return np.array([s.position_m for s in self.stations], dtype=np.float64)

    def routes_m(self) -> list[np.ndarray[Any, np.dtype[np.float64]]]:
        """Each station's route as a ``(T_i, 3)`` array [m] (its position when it has none)."""
        return [
            np.array(s.route_m if s.route_m else [s.position_m], dtype=np.float64)
            for s in self.stations
        ]

    # ------------------------------------------------------------------ I/O
    def to_json(self) -> str:
        """The JSON text (compact routes, two-space indentation)."""
        return json.dumps(self.model_dump(mode="json"), indent=1, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically: a temporary file in the same folder, then renamed over ``path``,
        so a crash never leaves a half-written deployment."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = self.to_json()
        atomic_write_text(target, text)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Deployment:
        """Read and validate a ``deployment.json``; every problem is reported at once as a
        :class:`~skycell.errors.ScenarioError`."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(
                source, [Problem("", f"cannot read the file: {exc.strerror}")]
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                source, [Problem("", f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno)]
            ) from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> Deployment:
        """Validate a parsed deployment (see :meth:`load`)."""
        if not isinstance(data, dict):
            raise ScenarioError(source, [Problem("", "the top level must be a JSON object")])
        version = str(data.get("schema_version", ""))
        if version.split(".")[0] != _SUPPORTED_MAJOR:
            raise ScenarioError(
                source,
                [
                    Problem(
                        "schema_version",
                        f"unsupported schema version {version!r}; this skycell reads "
                        f"{_SUPPORTED_MAJOR}.x — re-plan with this version or upgrade skycell",
                    )
                ],
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = [
                Problem(_loc(e["loc"]), f"{e['msg']} (got {_short(e.get('input'))})")
                for e in exc.errors()
            ]
            raise ScenarioError(source, problems) from None


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
