"""Moving users for the twin over time: seeded random-waypoint walkers and SUMO road users.

Two sources of user trajectories, both sampled every ``dt_s`` from ``t = 0`` and returned as
:class:`Trajectory` objects (``to_record()`` gives the deployment's
:class:`~skycell.deployment.TrajectoryRecord`):

* :func:`aoi_walkers` / :func:`random_waypoint` — paper 000 §VI: ``U = 50`` users moving inside
  each area of interest for 60 one-second steps, in a square *spawn zone* of side ``2 r_m``
  centred on the AOI. Pedestrians follow the random-waypoint model and never stand or walk inside
  a building (see :func:`random_waypoint` for how).
* :func:`street_network_for_city` and :func:`sumo_trajectories` — paper 001 §III: vehicles and
  pedestrians from the SUMO traffic simulator on the street network (extra ``mobility``:
  ``pip install 'skycell[mobility]'``, whose ``eclipse-sumo`` wheel ships the binaries). SUMO
  runs headless in a subprocess and writes floating-car data (``--fcd-output``) that is parsed
  with a streaming XML parser.

Coordinates are skycell's local metric frame: ``x`` east, ``y`` north, ``z`` up [m].
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.deployment import TrajectoryRecord
    from skycell.scenario import CitySpec, GenerateSpec, Scenario

__all__ = [
    "INSTALL_HINT",
    "Trajectory",
    "aoi_walkers",
    "random_waypoint",
    "street_network_for_city",
    "sumo_available",
    "sumo_trajectories",
]

FloatArray = NDArray[np.float64]
Kind = Literal["pedestrian", "vehicle"]

#: How to get SUMO, quoted in every "SUMO is missing" error.
INSTALL_HINT = "pip install 'skycell[mobility]'"

#: Candidate waypoints drawn per walker and round, and rounds before a walker gives up for one
#: step (it then waits ``dt_s`` where it stands and tries again).
_CANDIDATES_PER_ROUND = 32
_ROUNDS = 16
#: Draws before giving up on finding any outdoor start point in a zone.
_START_ROUNDS = 64
#: Sub-steps (leg ends, pauses) handled within one time step before the rest is dropped.
_MAX_EVENTS_PER_STEP = 64
#: Speed factor SUMO may apply on top of the lane speed limit (default vType deviation 0.1,
#: truncated at 2 sigma, plus slack) used only to size trip lengths.
_SPEED_SLACK = 1.5
#: Lines of SUMO's stderr quoted when it fails.
_STDERR_LINES = 25


# ------------------------------------------------------------------------------------------
# Trajectories
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One moving user, sampled every ``dt_s`` from ``t = 0``.

    Attributes:
        id: unique user id (``<aoi>-walker<k>``, ``sumo-vehicle<k>``, ``sumo-pedestrian<k>``).
        kind: ``"pedestrian"`` or ``"vehicle"``.
        area: id of the area of interest whose spawn zone the user walks in, or None.
        dt_s: time between samples [s].
        positions_m: ``(T, 3)`` positions [m] at ``t = k dt_s``, ``k = 0 .. T-1``.
    """

    id: str
    kind: Kind
    area: str | None
    dt_s: float
    positions_m: FloatArray

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions_m, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < 1:
            raise ValueError(f"Trajectory.positions_m must be (T, 3) [m], got {pos.shape}")
        object.__setattr__(self, "positions_m", pos)

    @property
    def duration_s(self) -> float:
        """Time of the last sample [s]."""
        return float((self.positions_m.shape[0] - 1) * self.dt_s)

    def to_record(self) -> TrajectoryRecord:
        """The deployment's exchange record of this trajectory."""
        from skycell.deployment import TrajectoryRecord

        return TrajectoryRecord(
            id=self.id,
            dt_s=self.dt_s,
            positions_m=[(float(x), float(y), float(z)) for x, y, z in self.positions_m],
            kind=self.kind,
            area=self.area,
        )


# ------------------------------------------------------------------------------------------
# Random waypoint
# ------------------------------------------------------------------------------------------


def _range_problems(name: str, value: Sequence[float], *, positive: bool) -> list[str]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        return [f"{name}={value!r}: must be a pair (low, high)"]
    floor_ok = lo > 0 if positive else lo >= 0
    if not (math.isfinite(lo) and math.isfinite(hi) and floor_ok and lo <= hi):
        what = "0 < low" if positive else "0 <= low"
        return [f"{name}={value!r}: must be finite with {what} <= high"]
    return []


def _zone_problems(zone_m: Sequence[float]) -> list[str]:
    try:
        z = [float(v) for v in zone_m]
    except (TypeError, ValueError):
        return [f"zone_m={zone_m!r}: must be (x_min, y_min, x_max, y_max) [m]"]
    if len(z) != 4 or not all(math.isfinite(v) for v in z) or not (z[0] < z[2] and z[1] < z[3]):
        return [
            f"zone_m={zone_m!r}: must be finite (x_min, y_min, x_max, y_max) [m] with "
            "x_min < x_max and y_min < y_max"
        ]
    return []


def _as_generator(rng: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise SkycellError(f"rng={rng!r}: give a numpy.random.Generator or a seed (an integer >= 0)")


class _Walkable:
    """Outdoor tests of a zone: points not inside a building, legs crossing no building.

    Both run at ground level (``z = 0``), so every building counts whatever its height; they
    use the exact vectorised geometry of :class:`~skycell.city.buildings.City`
    (``inside_building`` and ``line_of_sight``).
    """

    def __init__(self, zone: tuple[float, float, float, float], city: City | None) -> None:
        self.zone = zone
        self.city = city if city is not None and len(city.buildings) > 0 else None

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> FloatArray:
        x0, y0, x1, y1 = self.zone
        u = rng.random((*shape, 2))
        out: FloatArray = np.empty_like(u)
        out[..., 0] = x0 + u[..., 0] * (x1 - x0)
        out[..., 1] = y0 + u[..., 1] * (y1 - y0)
        return out

    def outdoors(self, xy: FloatArray) -> NDArray[np.bool_]:
        if self.city is None or xy.shape[0] == 0:
            return np.ones(xy.shape[0], dtype=bool)
        xyz = np.column_stack([xy, np.zeros(xy.shape[0])])
        return ~self.city.inside_building(xyz)

    def clear(self, a: FloatArray, b: FloatArray) -> NDArray[np.bool_]:
        if self.city is None or a.shape[0] == 0:
            return np.ones(a.shape[0], dtype=bool)
        zeros = np.zeros((a.shape[0], 1))
        return np.asarray(
            self.city.line_of_sight(np.hstack([a, zeros]), np.hstack([b, zeros])), dtype=bool
        )

    def starts(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` uniform outdoor points of the zone (rejection sampling)."""
        out = np.empty((count, 2))
        todo = np.arange(count)
        for _ in range(_START_ROUNDS):
            if todo.size == 0:
                return out
            cand = self.sample(rng, (todo.size, _CANDIDATES_PER_ROUND))
            ok = self.outdoors(cand.reshape(-1, 2)).reshape(todo.size, _CANDIDATES_PER_ROUND)
            found = ok.any(axis=1)
            first = np.argmax(ok, axis=1)
            out[todo[found]] = cand[found, first[found]]
            todo = todo[~found]
        if todo.size == 0:
            return out
        raise SkycellError(
            f"random_waypoint: found no outdoor point in zone_m={self.zone} after "
            f"{_START_ROUNDS * _CANDIDATES_PER_ROUND} draws per walker; the zone lies inside "
            "buildings — move or enlarge it"
        )

    def waypoints(
        self, rng: np.random.Generator, origins: FloatArray
    ) -> tuple[FloatArray, NDArray[np.bool_]]:
        """A uniform outdoor waypoint of the zone reachable from each origin in a straight leg
        that crosses no building; ``ok`` is False where none was found (target = origin)."""
        n = origins.shape[0]
        target = origins.copy()
        ok = np.zeros(n, dtype=bool)
        todo = np.arange(n)
        k = _CANDIDATES_PER_ROUND
        for _ in range(_ROUNDS):
            if todo.size == 0:
                break
            cand = self.sample(rng, (todo.size, k)).reshape(-1, 2)
            src = np.repeat(origins[todo], k, axis=0)
            good = self.outdoors(cand)
            idx = np.flatnonzero(good)
            good[idx] = self.clear(src[idx], cand[idx])
            good2 = good.reshape(todo.size, k)
            found = good2.any(axis=1)
            first = np.argmax(good2, axis=1)
            cand2 = cand.reshape(todo.size, k, 2)
            target[todo[found]] = cand2[found, first[found]]
            ok[todo[found]] = True
            todo = todo[~found]
        return target, ok


def random_waypoint(
    zone_m: Sequence[float],
    count: int,
    steps: int,
    *,
    dt_s: float = 1.0,
    speed_mps: Sequence[float] = (0.5, 1.5),
    pause_s: Sequence[float] = (0.0, 2.0),
    height_m: float = 1.5,
    city: City | None = None,
    rng: np.random.Generator | int,
) -> FloatArray:
    """Seeded random-waypoint pedestrians inside a rectangle, outdoors.

    Model (continuous time, sampled every ``dt_s``): each walker starts at a uniform outdoor point
    of the zone, walks in a straight line at a speed drawn uniformly from ``speed_mps`` to a
    waypoint, pauses for a time drawn uniformly from ``pause_s``, draws a new waypoint and speed,
    and so on. Leg ends and pauses falling inside a time step are handled exactly (a step may
    contain several of them), so the distance covered in a step never exceeds
    ``max(speed_mps) * dt_s``.

    Buildings (when ``city`` is given): a waypoint is drawn uniformly among the points of the zone
    that are outdoors (``City.inside_building`` is False at ground level) *and* reachable from the
    walker's current position by a straight leg that crosses no building footprint
    (``City.line_of_sight`` at ``z = 0``, exact for any footprint). Candidates are rejection
    sampled in vectorised batches; a walker that finds none (a dead-end courtyard) waits one step
    where it stands and tries again. Since every leg is clear and the zone is convex, a walker is
    never inside a building nor outside its zone (the straight chord between two samples can
    only cut a corner where a walker turns at a waypoint, by at most ``max(speed_mps) * dt_s / 2``).
    Rejection makes waypoints visible from the current position, so walkers follow streets and
    squares rather than crossing blocks.

    Args:
        zone_m: rectangle ``(x_min, y_min, x_max, y_max)`` [m] the walkers stay in.
        count: number of walkers (>= 0).
        steps: number of time steps (>= 0); ``steps + 1`` samples from ``t = 0``.
        dt_s: time step [s] (> 0).
        speed_mps: walking speed range ``(low, high)`` [m/s], ``0 < low <= high``.
        pause_s: pause range at each waypoint ``(low, high)`` [s], ``0 <= low <= high``.
        height_m: user antenna height above ground [m], the ``z`` of every sample.
        city: buildings to avoid (None: open ground).
        rng: the random generator (or an integer seed); the same state gives the same tracks.

    Returns:
        ``(count, steps + 1, 3)`` positions [m].

    Raises:
        SkycellError: naming every invalid argument; or a zone with no outdoor point.
    """
    problems = _zone_problems(zone_m)
    problems += _range_problems("speed_mps", speed_mps, positive=True)
    problems += _range_problems("pause_s", pause_s, positive=False)
    if not (isinstance(count, int | np.integer) and count >= 0):
        problems.append(f"count={count!r}: must be an integer >= 0")
    if not (isinstance(steps, int | np.integer) and steps >= 0):
        problems.append(f"steps={steps!r}: must be an integer >= 0")
    if not (math.isfinite(dt_s) and dt_s > 0):
        problems.append(f"dt_s={dt_s!r}: must be a positive time step [s]")
    if not (math.isfinite(height_m) and height_m >= 0):
        problems.append(f"height_m={height_m!r}: must be >= 0 [m]")
    if problems:
        raise SkycellError("random_waypoint: " + "; ".join(problems))
    gen = _as_generator(rng)
    zone = (float(zone_m[0]), float(zone_m[1]), float(zone_m[2]), float(zone_m[3]))
    v_lo, v_hi = (float(v) for v in speed_mps)
    p_lo, p_hi = (float(v) for v in pause_s)
    n, n_steps = int(count), int(steps)
    out = np.empty((n, n_steps + 1, 3))
    out[:, :, 2] = height_m
    if n == 0:
        return out

    walk = _Walkable(zone, city)
    pos = walk.starts(gen, n)
    target, ok = walk.waypoints(gen, pos)
    speed = gen.uniform(v_lo, v_hi, size=n)
    # A walker without a reachable waypoint waits one step and retries.
    pause = np.where(ok, 0.0, dt_s)
    out[:, 0, :2] = pos
    eps = 1e-9 * dt_s
    for k in range(1, n_steps + 1):
        budget = np.full(n, float(dt_s))
        for _ in range(_MAX_EVENTS_PER_STEP):
            # Pausing walkers spend time where they stand.
            waiting = (budget > eps) & (pause > 0)
            if waiting.any():
                use = np.minimum(pause[waiting], budget[waiting])
                pause[waiting] -= use
                budget[waiting] -= use
            walking = np.flatnonzero((budget > eps) & (pause <= 0))
            if walking.size == 0:
                break
            delta = target[walking] - pos[walking]
            need = np.hypot(delta[:, 0], delta[:, 1]) / speed[walking]
            have = budget[walking]
            arrived = need <= have
            frac = np.where(arrived, 1.0, have / np.where(need > 0, need, 1.0))
            pos[walking] += delta * frac[:, None]
            budget[walking] = np.where(arrived, have - need, 0.0)
            done = walking[arrived]
            if done.size:
                pos[done] = target[done]  # exactly on the waypoint
                new_target, new_ok = walk.waypoints(gen, pos[done])
                target[done] = new_target
                speed[done] = gen.uniform(v_lo, v_hi, size=done.size)
                pause[done] = np.where(new_ok, gen.uniform(p_lo, p_hi, size=done.size), dt_s)
        out[:, k, :2] = pos
    return out


def aoi_walkers(
    scenario: Scenario,
    city: City | None,
    *,
    users_per_area: int = 50,
    steps: int = 60,
    dt_s: float = 1.0,
    seed: int = 0,
    speed_mps: Sequence[float] = (0.5, 1.5),
    pause_s: Sequence[float] = (0.0, 2.0),
    height_m: float | None = None,
) -> list[Trajectory]:
    """Random-waypoint walkers in every area of interest's spawn zone (paper 000 §VI).

    Each AOI's spawn zone is the square of side ``2 r_m`` centred on it, clipped to the map
    (``scenario.area``); ``users_per_area`` walkers move in it for ``steps`` steps of ``dt_s``
    (:func:`random_waypoint`). One ``numpy.random.Generator`` seeded with ``seed`` draws all
    areas in order, so the same seed gives the same walkers.

    Args:
        scenario: the scenario (its ``areas_of_interest`` and ``area``).
        city: the scenario's built city (None: open ground).
        users_per_area: walkers per area (>= 0); paper 000 uses 50.
        steps: time steps (>= 0); paper 000 uses 60.
        dt_s: time step [s]; paper 000 uses 1 s.
        seed: random seed (an integer >= 0).
        speed_mps, pause_s: see :func:`random_waypoint`.
        height_m: user antenna height [m] (default ``scenario.radio.user_height_m``).

    Returns:
        ``len(areas_of_interest) * users_per_area`` pedestrian trajectories, ids
        ``<aoi id>-walker<k>``, ``area`` = the AOI id.
    """
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        raise SkycellError(f"aoi_walkers: seed={seed!r} must be an integer >= 0")
    if not (isinstance(users_per_area, int | np.integer) and users_per_area >= 0):
        raise SkycellError(f"aoi_walkers: users_per_area={users_per_area!r} must be >= 0")
    rng = np.random.default_rng(int(seed))
    z = float(scenario.radio.user_height_m) if height_m is None else float(height_m)
    mx0, my0, mx1, my1 = scenario.area.bounds_m
    out: list[Trajectory] = []
    for aoi in scenario.areas_of_interest:
        cx, cy = aoi.center_m
        r = aoi.radius_m
        zone = (max(cx - r, mx0), max(cy - r, my0), min(cx + r, mx1), min(cy + r, my1))
        if not (zone[0] < zone[2] and zone[1] < zone[3]):
            raise SkycellError(
                f"aoi_walkers: the spawn zone of area {aoi.id!r} lies outside the map "
                f"{scenario.area.bounds_m}; move the area inside the map"
            )
        tracks = random_waypoint(
            zone,
            int(users_per_area),
            steps,
            dt_s=dt_s,
            speed_mps=speed_mps,
            pause_s=pause_s,
            height_m=z,
            city=city,
            rng=rng,
        )
        out += [
            Trajectory(
                id=f"{aoi.id}-walker{k}",
                kind="pedestrian",
                area=aoi.id,
                dt_s=float(dt_s),
                positions_m=tracks[k],
            )
            for k in range(tracks.shape[0])
        ]
    return out


# ------------------------------------------------------------------------------------------
# SUMO: locating the binaries
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sumo:
    """A usable SUMO installation: its bin folder, SUMO_HOME (for the subprocess) and
    version."""

    bin_dir: Path
    home: Path | None
    version: str

    def binary(self, name: str) -> Path:
        for candidate in (name, f"{name}.exe"):
            path = self.bin_dir / candidate
            if path.is_file() and os.access(path, os.X_OK):
                return path
        raise SkycellError(
            f"SUMO's {name!r} program is missing from {self.bin_dir}; reinstall SUMO: "
            f"{INSTALL_HINT}"
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.home is not None:
            env["SUMO_HOME"] = str(self.home)
        return env


def _has_binary(bin_dir: Path, name: str = "sumo") -> bool:
    return any(
        (bin_dir / c).is_file() and os.access(bin_dir / c, os.X_OK) for c in (name, f"{name}.exe")
    )


def _candidates() -> list[tuple[Path, Path | None, str]]:
    """(bin folder, SUMO_HOME, where from), in order of preference: ``$SUMO_HOME/bin``, the
    ``eclipse-sumo`` wheel (located without importing it: ``import sumo`` edits
    ``os.environ``), then ``sumo`` on ``PATH``."""
    found: list[tuple[Path, Path | None, str]] = []
    env_home = os.environ.get("SUMO_HOME")
    if env_home:
        found.append((Path(env_home) / "bin", Path(env_home), "$SUMO_HOME"))
    try:
        spec = importlib.util.find_spec("sumo")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        home = Path(spec.origin).parent
        found.append((home / "bin", home, "the eclipse-sumo package"))
    on_path = shutil.which("sumo")
    if on_path:
        bin_dir = Path(on_path).resolve().parent
        found.append((bin_dir, Path(env_home) if env_home else None, "PATH"))
    return found


@functools.lru_cache(maxsize=1)
def _locate() -> tuple[_Sumo | None, str]:
    tried: list[str] = []
    for bin_dir, home, origin in _candidates():
        if not _has_binary(bin_dir):
            tried.append(f"{origin}: no sumo program in {bin_dir}")
            continue
        exe = bin_dir / ("sumo" if (bin_dir / "sumo").is_file() else "sumo.exe")
        env = dict(os.environ)
        if home is not None:
            env["SUMO_HOME"] = str(home)
        try:
            proc = subprocess.run(
                [str(exe), "--version"],
                capture_output=True,
                text=True,
                timeout=30,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{origin}: {exe} does not start ({exc})")
            continue
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            hint = ""
            if "shared librar" in (proc.stderr or ""):
                hint = (
                    " (missing system libraries; on Debian/Ubuntu: apt-get install libx11-6 "
                    "libxext6 libxrender1 libgl1)"
                )
            tried.append(f"{origin}: {exe} --version failed: {' | '.join(tail)}{hint}")
            continue
        first = (proc.stdout.strip().splitlines() or ["SUMO"])[0]
        version = first.split()[-1] if first.split() else "?"
        return _Sumo(bin_dir=bin_dir, home=home, version=version), f"SUMO {version} at {exe}"
    why = "; ".join(tried) if tried else "no SUMO installation found"
    return None, f"{why}; install it with: {INSTALL_HINT}"


def sumo_available() -> tuple[bool, str]:
    """Whether SUMO can run here, and why (or why not).

    Looks for the ``sumo`` program in ``$SUMO_HOME/bin``, then in the ``eclipse-sumo`` wheel
    (extra ``mobility``) and then on ``PATH``, and runs ``sumo --version`` once per process
    (about 0.05 s; the result is cached) to make sure it starts — the wheel's binaries need the
    system's X11/GL client libraries. Imports nothing heavy.

    Returns:
        ``(True, "SUMO <version> at <path>")`` or ``(False, "<reason>; install it with: ...")``.
    """
    found, why = _locate()
    return found is not None, why


def _require_sumo() -> _Sumo:
    found, why = _locate()
    if found is None:
        hint = "" if INSTALL_HINT in why else f"; install it with: {INSTALL_HINT}"
        raise SkycellError(f"SUMO is not available: {why}{hint}")
    return found


def _run(cmd: list[str], sumo: _Sumo, what: str, timeout_s: float, cwd: Path) -> None:
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=sumo.env(),
            cwd=str(cwd),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SkycellError(
            f"{what} did not finish within {timeout_s:g} s; simulate fewer users or steps, or "
            "raise timeout_s"
        ) from None
    except OSError as exc:
        raise SkycellError(f"{what} could not be started: {exc}") from None
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "(no output)").splitlines()
        tail = "\n".join("  " + line for line in lines[-_STDERR_LINES:])
        raise SkycellError(
            f"{what} failed (exit status {proc.returncode}); the end of its output:\n{tail}"
        )


# ------------------------------------------------------------------------------------------
# SUMO: the street network of a generated city
# ------------------------------------------------------------------------------------------


def _generate_spec(source: Any) -> GenerateSpec:
    from skycell.scenario import CitySpec, GenerateSpec, Scenario

    if isinstance(source, Scenario):
        source = source.city
    if isinstance(source, CitySpec):
        if source.generate is None:
            raise SkycellError(
                f"street_network_for_city: the city comes from {source.kind!r}, not from the "
                "generator, so skycell cannot derive its streets; build a SUMO network of the "
                "real streets (e.g. netconvert --osm-files map.osm -o city.net.xml) and pass "
                "its path, with offset_m mapping its coordinates onto the scenario's frame"
            )
        source = source.generate
    if isinstance(source, GenerateSpec):
        return source
    if isinstance(source, dict):
        try:
            return GenerateSpec.model_validate(source.get("generate", source))
        except Exception as exc:  # pydantic.ValidationError, with every problem
            raise SkycellError(f"street_network_for_city: invalid city.generate: {exc}") from None
    raise SkycellError(
        f"street_network_for_city: expected a Scenario, a CitySpec, a GenerateSpec or the path "
        f"of a .net.xml file, got {type(source).__name__}"
    )


def street_network_for_city(
    source: Scenario | CitySpec | GenerateSpec | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    sidewalks: bool = True,
    traffic_lights: bool = True,
    speed_mps: float = 13.89,
    timeout_s: float = 120.0,
) -> Path:
    """A SUMO street network (``.net.xml``) matching a generated city, in skycell's frame.

    :func:`skycell.city.generate.generate_downtown` lays ``n`` square blocks of side
    ``block_size_m`` per side, separated by streets of ``street_width_m`` whose centre lines lie
    at ``(k - n/2) * pitch`` for ``k = 0 .. n``, ``pitch = block_size_m + street_width_m``. The
    network is ``netgenerate --grid`` with ``n + 1`` junctions per side, ``grid.length = pitch``
    and node positions shifted by ``-n/2 * pitch`` with normalisation off, so SUMO's coordinates
    *are* skycell's (pass ``offset_m=(0, 0)``, the default, to :func:`sumo_trajectories`).
    Each street gets as many lanes per direction as fit (1-3, 3.2 m or narrower), plus sidewalks
    and pedestrian crossings when ``sidewalks`` (so SUMO persons walk on the pavement), all
    within the street's width; junctions are traffic lights when ``traffic_lights``.

    A path to an existing ``.net.xml`` (a real street network, e.g. from OpenStreetMap via
    ``netconvert``) is checked and returned unchanged.

    Args:
        source: a scenario (or its ``city`` / ``city.generate``) with a generated city, or the
            path of a SUMO network.
        out_dir: folder to write ``streets.net.xml`` into (created if needed).
        sidewalks: add sidewalks, crossings and walking areas.
        traffic_lights: signalised junctions (else priority junctions).
        speed_mps: speed limit of every street [m/s] (13.89 = 50 km/h).
        timeout_s: limit for ``netgenerate`` [s].

    Returns:
        Path of the network file.

    Raises:
        SkycellError: a city that is not generated, SUMO missing, or ``netgenerate`` failing.
    """
    if isinstance(source, str | os.PathLike):
        return _check_net(source)
    spec = _generate_spec(source)
    if not (math.isfinite(speed_mps) and speed_mps > 0):
        raise SkycellError(f"street_network_for_city: speed_mps={speed_mps!r} must be > 0 [m/s]")
    block, street = float(spec.block_size_m), float(spec.street_width_m)
    pitch = block + street
    n = math.floor((float(spec.size_m) - street) / pitch)
    if n < 1:
        raise SkycellError(
            f"street_network_for_city: size_m={spec.size_m} holds no block of {block} m plus "
            "streets; enlarge city.generate.size_m"
        )
    # Cross-section: sidewalk + lanes on each side of the centre line, 0.5 m clear of the kerb.
    half = 0.5 * street - 0.5
    walk_w = min(2.0, 0.15 * street) if sidewalks else 0.0
    lanes = max(1, min(3, math.floor((half - walk_w) / 3.2)))
    lane_w = max(0.5, min(3.2, (half - walk_w) / lanes))
    sumo = _require_sumo()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net = (out / "streets.net.xml").resolve()
    shift = -0.5 * n * pitch
    cmd = [
        str(sumo.binary("netgenerate")),
        "--grid",
        "--grid.number",
        str(n + 1),
        "--grid.length",
        f"{pitch:.6f}",
        "--offset.disable-normalization",
        "--offset.x",
        f"{shift:.6f}",
        "--offset.y",
        f"{shift:.6f}",
        "--default.lanenumber",
        str(lanes),
        "--default.lanewidth",
        f"{lane_w:.3f}",
        "--default.speed",
        f"{speed_mps:.3f}",
        "-j",
        "traffic_light" if traffic_lights else "priority",
        "--xml-validation",
        "never",
        "--seed",
        "0",
        "--output-file",
        str(net),
    ]
    if sidewalks:
        cmd += [
            "--sidewalks.guess",
            "--sidewalks.guess.min-speed",
            "0",
            "--sidewalks.guess.max-speed",
            f"{max(speed_mps, 13.89) + 1.0:.3f}",
            "--default.sidewalk-width",
            f"{walk_w:.3f}",
            "--crossings.guess",
        ]
    _run(cmd, sumo, "SUMO netgenerate", timeout_s, out)
    return _check_net(net)


def _check_net(net_xml: str | os.PathLike[str]) -> Path:
    path = Path(net_xml)
    if not path.is_file():
        raise SkycellError(
            f"SUMO network file not found: {str(path)!r}; give the path of an existing .net.xml "
            "(or build one with street_network_for_city)"
        )
    try:
        for _, elem in ET.iterparse(str(path), events=("start",)):
            if elem.tag != "net":
                raise SkycellError(
                    f"{str(path)!r} is not a SUMO network: its root element is <{elem.tag}>, "
                    "expected <net>; give a .net.xml written by netconvert or netgenerate"
                )
            break
        else:
            raise SkycellError(f"{str(path)!r} is empty; give a SUMO .net.xml")
    except ET.ParseError as exc:
        raise SkycellError(
            f"{str(path)!r} is not valid XML ({exc}); give a SUMO .net.xml"
        ) from None
    except OSError as exc:
        raise SkycellError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    return path.resolve()


# ------------------------------------------------------------------------------------------
# SUMO: trips, run, floating-car data
# ------------------------------------------------------------------------------------------

_ALL_CLASSES = "all"


def _permits(allow: str | None, disallow: str | None, vclass: str) -> bool:
    if allow is not None:
        tokens = allow.split()
        return vclass in tokens or _ALL_CLASSES in tokens
    if disallow is not None:
        tokens = disallow.split()
        return vclass not in tokens and _ALL_CLASSES not in tokens
    return True


@dataclass(frozen=True)
class _NetInfo:
    """What trips need from a network: edges open to cars / pedestrians, extent, top speed."""

    car_edges: tuple[str, ...]
    walk_edges: tuple[str, ...]
    span_m: float
    max_speed_mps: float


def _read_net(path: Path) -> _NetInfo:
    car: list[str] = []
    walk: list[str] = []
    span, vmax = 0.0, 0.0
    try:
        for _, elem in ET.iterparse(str(path), events=("end",)):
            if elem.tag == "location":
                b = [float(v) for v in (elem.get("convBoundary") or "0,0,0,0").split(",")]
                if len(b) == 4:
                    span = max(b[2] - b[0], b[3] - b[1])
            elif elem.tag == "edge":
                if elem.get("function", "normal") == "normal":
                    eid = elem.get("id", "")
                    is_car = is_walk = False
                    for lane in elem.iter("lane"):
                        allow, disallow = lane.get("allow"), lane.get("disallow")
                        if _permits(allow, disallow, "passenger"):
                            is_car = True
                            vmax = max(vmax, float(lane.get("speed", "0")))
                        is_walk = is_walk or _permits(allow, disallow, "pedestrian")
                    if is_car:
                        car.append(eid)
                    if is_walk:
                        walk.append(eid)
                elem.clear()
    except ET.ParseError as exc:
        raise SkycellError(
            f"{str(path)!r} is not valid XML ({exc}); give a SUMO .net.xml"
        ) from None
    return _NetInfo(tuple(car), tuple(walk), max(span, 1.0), vmax if vmax > 0 else 13.89)


def _trip_edges(
    rng: np.random.Generator, edges: tuple[str, ...], count: int, legs: int
) -> NDArray[np.int64]:
    """``(count, legs + 1)`` edge indices: a start and ``legs`` destinations per traveller, no
    two consecutive equal (when the network has more than one edge)."""
    e = len(edges)
    idx = rng.integers(0, e, size=(count, legs + 1))
    if e > 1:
        # Shift repeats by a random non-zero offset: uniform over the other edges.
        shift = rng.integers(1, e, size=(count, legs))
        for j in range(1, legs + 1):
            same = idx[:, j] == idx[:, j - 1]
            idx[same, j] = (idx[same, j - 1] + shift[same, j - 1]) % e
    return idx


def _write_routes(
    path: Path,
    rng: np.random.Generator,
    info: _NetInfo,
    *,
    vehicles: int,
    pedestrians: int,
    horizon_s: float,
    depart_window_s: float,
) -> tuple[list[str], list[str]]:
    """Random vehicle trips (``<trip>`` with ``via`` edges) and person plans (chained
    ``<personTrip>``) long enough to last ``horizon_s``; SUMO routes them on insertion."""

    def legs_for(speed: float) -> int:
        # Mean Manhattan distance between random points of a square of side L is 2L/3; count
        # L/3 per leg (and two spare legs) so travellers are still moving at the end.
        return min(400, math.ceil(horizon_s * speed * _SPEED_SLACK / (info.span_m / 3.0)) + 2)

    from xml.sax.saxutils import quoteattr

    items: list[tuple[float, str]] = []
    v_ids = [f"sumo-vehicle{i}" for i in range(vehicles)]
    p_ids = [f"sumo-pedestrian{i}" for i in range(pedestrians)]
    if vehicles:
        legs = legs_for(info.max_speed_mps)
        route = _trip_edges(rng, info.car_edges, vehicles, legs)
        depart = rng.uniform(0.0, depart_window_s, size=vehicles)
        for i in range(vehicles):
            e = [info.car_edges[j] for j in route[i]]
            via = f" via={quoteattr(' '.join(e[1:-1]))}" if len(e) > 2 else ""
            items.append(
                (
                    float(depart[i]),
                    f'    <trip id="{v_ids[i]}" depart="{depart[i]:.2f}" '
                    f"from={quoteattr(e[0])} to={quoteattr(e[-1])}{via} "
                    'departPos="random_free" departLane="best" departSpeed="max"/>',
                )
            )
    if pedestrians:
        legs = legs_for(1.39)
        route = _trip_edges(rng, info.walk_edges, pedestrians, legs)
        depart = rng.uniform(0.0, depart_window_s, size=pedestrians)
        for i in range(pedestrians):
            e = [info.walk_edges[j] for j in route[i]]
            stages = [f"<personTrip from={quoteattr(e[0])} to={quoteattr(e[1])}/>"]
            stages += [f"<personTrip to={quoteattr(x)}/>" for x in e[2:]]
            items.append(
                (
                    float(depart[i]),
                    f'    <person id="{p_ids[i]}" depart="{depart[i]:.2f}" departPos="random">'
                    + "".join(stages)
                    + "</person>",
                )
            )
    items.sort(key=lambda it: it[0])  # SUMO wants route files sorted by departure
    text = "<routes>\n" + "\n".join(line for _, line in items) + "\n</routes>\n"
    path.write_text(text, encoding="utf-8")
    return v_ids, p_ids


def _read_fcd(
    path: Path, ids: dict[str, int], *, begin_ms: int, dt_ms: int, steps: int
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Floating-car data → ``(E, steps + 1, 2)`` positions [m] and ``(E, steps + 1)`` seen;
    sample ``k`` is the time step at ``begin_ms + k dt_ms`` [ms]."""
    rows: list[int] = []
    cols: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    k = -1
    try:
        for event, elem in ET.iterparse(str(path), events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == "timestep":
                    t = float(elem.get("time", "nan"))
                    off = round(t * 1000.0) - begin_ms if math.isfinite(t) else -1
                    kk, rest = divmod(off, dt_ms)
                    k = kk if off >= 0 and rest == 0 and kk <= steps else -1
                continue
            if tag in ("vehicle", "person") and k >= 0:
                j = ids.get(elem.get("id", ""))
                if j is not None:
                    rows.append(j)
                    cols.append(k)
                    xs.append(float(elem.get("x", "nan")))
                    ys.append(float(elem.get("y", "nan")))
            elif tag == "timestep":
                elem.clear()
    except ET.ParseError as exc:
        raise SkycellError(f"SUMO wrote an unreadable FCD file {str(path)!r}: {exc}") from None
    xy = np.full((len(ids), steps + 1, 2), np.nan)
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    xy[r, c, 0] = xs
    xy[r, c, 1] = ys
    seen = np.isfinite(xy).all(axis=2)
    return xy, seen


def _step_ms(dt_ms: int) -> int:
    """The longest SUMO step [ms] of at most 1 s that divides the sampling step ``dt_ms``."""
    for sub in range(max(1, math.ceil(dt_ms / 1000)), dt_ms + 1):
        if dt_ms % sub == 0:
            return dt_ms // sub
    return 1


def _fill_gaps(xy: FloatArray, seen: NDArray[np.bool_]) -> FloatArray:
    """Hold the first sample before it and the last after it (vectorised)."""
    t = np.arange(xy.shape[1])
    last = np.maximum.accumulate(np.where(seen, t, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(seen, t, xy.shape[1])[:, ::-1], axis=1)[:, ::-1]
    src = np.where(last >= 0, last, nxt)
    src = np.clip(src, 0, xy.shape[1] - 1)
    filled: FloatArray = np.take_along_axis(xy, src[:, :, None], axis=1)
    return filled


def sumo_trajectories(
    net_xml: str | os.PathLike[str],
    *,
    vehicles: int = 0,
    pedestrians: int = 0,
    steps: int = 60,
    dt_s: float = 1.0,
    seed: int = 0,
    offset_m: Sequence[float] = (0.0, 0.0),
    begin_s: float = 30.0,
    height_m: float = 1.5,
    work_dir: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
) -> list[Trajectory]:
    """Vehicles and pedestrians on a street network, simulated by SUMO (paper 001 §III).

    Trips: a seeded ``numpy`` generator draws for each vehicle a start edge and a chain of
    destination edges (``<trip via=...>``) among the edges open to passenger cars, and for each
    person a chain of ``<personTrip>`` stages among the edges open to pedestrians (sidewalks),
    long enough that nobody arrives before the end; departures are uniform in the first half
    of the warm-up, at random free positions (``departPos="random_free"``), and SUMO routes
    them on insertion. SUMO then runs headless (``sumo --seed <seed> --step-length <= 1 s``,
    teleporting off) from 0 to ``begin_s + steps * dt_s`` and writes floating-car data
    (``--fcd-output``) from ``begin_s``, parsed with a streaming parser. Sample ``k`` of a
    trajectory is SUMO's state at ``begin_s + k dt_s``, so a warm-up ``begin_s > 0`` puts
    everyone on the road at ``t = 0``. A traveller SUMO had not yet inserted (or had already
    finished) holds its first (last) position; one never inserted is left out. With
    ``begin_s = 0`` everyone departs at ``t = 0`` from a random position. Persons use SUMO's
    default (striping) model, which now and then moves a person across a junction's walking
    area at up to about 4.5 m/s for one step; otherwise they walk at about 1.1-1.4 m/s.

    Measured (2-core machine, SUMO 1.28): 50 vehicles + 50 pedestrians for 60 s after a 30 s
    warm-up take 0.2 s on a 3 x 3 block network and about 2 s on the default 2.4 km downtown
    (19 x 19 blocks, most of it SUMO loading the 9 MB network).

    Coordinates: ``skycell = SUMO + offset_m``; networks from :func:`street_network_for_city`
    already use skycell's frame (offset 0).

    Args:
        net_xml: SUMO network file.
        vehicles, pedestrians: how many of each (>= 0).
        steps: time steps (>= 0); ``steps + 1`` samples.
        dt_s: sampling step [s], a whole number of milliseconds; SUMO steps at the longest
            step of at most 1 s that divides it.
        seed: seed of the trips and of SUMO (an integer >= 0); same seed, same trajectories.
        offset_m: ``(dx, dy)`` [m] added to SUMO's coordinates.
        begin_s: warm-up [s] simulated before ``t = 0``.
        height_m: ``z`` of every sample (antenna height above ground) [m].
        work_dir: folder to keep the route and FCD files in (default: a temporary folder).
        timeout_s: limit for the SUMO run [s].

    Returns:
        Vehicle trajectories (``sumo-vehicle<k>``, kind ``vehicle``), then pedestrian ones
        (``sumo-pedestrian<k>``, kind ``pedestrian``), each ``(steps + 1, 3)``.

    Raises:
        SkycellError: bad arguments, SUMO missing (with the install command), a missing or
            invalid network, a network without edges for the requested users, or SUMO failing
            (with the end of its output).
    """
    problems: list[str] = []
    for name, value in (("vehicles", vehicles), ("pedestrians", pedestrians), ("steps", steps)):
        if not (isinstance(value, int | np.integer) and value >= 0):
            problems.append(f"{name}={value!r}: must be an integer >= 0")
    if not (isinstance(seed, int | np.integer) and 0 <= seed < 2**31):
        problems.append(f"seed={seed!r}: must be an integer in [0, 2**31)")
    if not (
        math.isfinite(dt_s) and dt_s >= 1e-3 and abs(dt_s * 1000.0 - round(dt_s * 1000.0)) < 1e-6
    ):
        problems.append(
            f"dt_s={dt_s!r}: must be a positive whole number of milliseconds [s] (SUMO's time "
            "resolution), e.g. 1.0 or 0.5"
        )
    if not (math.isfinite(begin_s) and begin_s >= 0):
        problems.append(f"begin_s={begin_s!r}: must be a warm-up >= 0 [s]")
    try:
        dx, dy = (float(v) for v in offset_m)
        if not (math.isfinite(dx) and math.isfinite(dy)):
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"offset_m={offset_m!r}: must be a finite pair (dx, dy) [m]")
        dx = dy = 0.0
    if problems:
        raise SkycellError("sumo_trajectories: " + "; ".join(problems))
    if vehicles == 0 and pedestrians == 0:
        return []
    sumo = _require_sumo()
    net = _check_net(net_xml)
    info = _read_net(net)
    if vehicles and not info.car_edges:
        raise SkycellError(f"{str(net)!r} has no edge open to passenger cars; give vehicles=0")
    if pedestrians and not info.walk_edges:
        raise SkycellError(f"{str(net)!r} has no edge open to pedestrians; give pedestrians=0")

    # SUMO counts time in whole milliseconds: work in ms, step at most 1 s, dividing dt_s.
    dt_ms = round(dt_s * 1000.0)
    step_ms = _step_ms(dt_ms)
    begin_ms = round(begin_s * 1000.0 / step_ms) * step_ms
    end_ms = begin_ms + int(steps) * dt_ms + step_ms // 2 + 1
    begin, end = begin_ms / 1000.0, end_ms / 1000.0
    rng = np.random.default_rng(int(seed))
    with tempfile.TemporaryDirectory(prefix="skycell-sumo-") as tmp:
        folder = Path(work_dir) if work_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        routes = folder / "trips.rou.xml"
        fcd = folder / "fcd.xml"
        v_ids, p_ids = _write_routes(
            routes,
            rng,
            info,
            vehicles=int(vehicles),
            pedestrians=int(pedestrians),
            horizon_s=end,
            depart_window_s=0.5 * begin,
        )
        cmd = [
            str(sumo.binary("sumo")),
            "--net-file",
            str(net),
            "--route-files",
            str(routes),
            "--begin",
            "0",
            "--end",
            f"{end:.3f}",
            "--step-length",
            f"{step_ms / 1000.0:.3f}",
            "--seed",
            str(int(seed)),
            "--fcd-output",
            str(fcd),
            "--fcd-output.attributes",
            "x,y",
            "--device.fcd.begin",
            f"{begin:.3f}",
            "--precision",
            "3",
            "--time-to-teleport",
            "-1",
            "--ignore-route-errors",
            "--xml-validation",
            "never",
            "--no-step-log",
            "--duration-log.disable",
            "--threads",
            "1",
        ]
        _run(cmd, sumo, "SUMO", timeout_s, folder)
        ids = {name: i for i, name in enumerate(v_ids + p_ids)}
        xy, seen = _read_fcd(fcd, ids, begin_ms=begin_ms, dt_ms=dt_ms, steps=int(steps))
    xy = _fill_gaps(xy, seen)
    present = np.asarray(seen.any(axis=1), dtype=bool)
    xyz = np.concatenate([xy, np.full((*xy.shape[:2], 1), float(height_m))], axis=2)
    xyz[:, :, 0] += dx
    xyz[:, :, 1] += dy
    n_veh = len(v_ids)
    return [
        Trajectory(
            id=name,
            kind="vehicle" if i < n_veh else "pedestrian",
            area=None,
            dt_s=float(dt_s),
            positions_m=xyz[i],
        )
        for name, i in ids.items()
        if present[i]
    ]
