"""A generated four-way intersection with buildings on its corners and vehicles on its lanes.

Paper 001 §3 builds digital twins of three Seoul intersections near Sogang University: Daeheung
(150 m x 150 m, 57 vehicles from SUMO) and Sinchon and Ewha (300 m x 300 m), centred on the
origin with the UAV above the junction. Their geometry is not published, so skycell generates
stand-ins with the same structure: two perpendicular roads crossing at the origin, the four
corner blocks filled with rectangular buildings, vehicles on the lanes.

* :func:`generate_intersection` — the buildings: each corner block (from the road edge plus a
  pavement to the map edge) is split into ``lots x lots`` lots with jittered split lines; each lot
  holds one axis-aligned building set back from the lot edges, with a height drawn uniformly in
  ``[min_height_m, max_height_m]`` (seeded) and an ITU-R P.2040 material valid at millimetre
  waves (concrete, or glass for a fraction of them).
* :func:`intersection_users` — ``count`` vehicles on the lanes: from SUMO (extra ``mobility``:
  a 3 x 3 ``netgenerate`` grid whose centre junction is the intersection and whose outer ring
  lies outside the map, so every vehicle inside the map drives on the crossing roads; random
  trips; a snapshot after a warm-up, as the paper's "fixed UE location data ... sampling the
  movement of vehicles"), or, without SUMO, drawn uniformly along the lane centre lines.
* :func:`intersection_scenario` — a complete scenario (a mapping for
  :func:`skycell.scenario.scenario_from_dict` or a YAML file) with paper 001's radio: a
  millimetre-wave FR2 carrier, the UPA and the agents' settings.

``python -m skycell.city.intersection PRESET OUT.yaml`` writes the scenario files of
``examples/paper001-*.yaml`` (presets :data:`PRESETS`).

Terrain is flat (``z = 0``); vehicles' antennas are at ``height_m`` (1.5 m).
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from skycell.city.buildings import Buildings
from skycell.errors import SkycellError

FloatArray = NDArray[np.float64]
UserSource = Literal["auto", "sumo", "lanes"]

#: Width of one lane [m] (the SUMO network uses the same, as :mod:`skycell.twin.mobility`).
LANE_WIDTH_M: Final[float] = 3.2
#: Pavement between the carriageway and the buildings [m].
PAVEMENT_M: Final[float] = 3.0
#: How far beyond the map edge the SUMO network's outer ring road runs [m].
RING_MARGIN_M: Final[float] = 40.0


@dataclass(frozen=True)
class IntersectionSpec:
    """Geometry of a generated four-way intersection.

    Attributes:
        size_m: side of the square map, centred on the junction [m].
        road_width_m: width of each road between the kerbs [m] (lanes per direction:
            ``min(3, floor((road_width_m / 2 - 0.5) / 3.2))``, at least 1).
        lots: buildings per corner block along each side (``lots x lots`` per corner).
        min_height_m, max_height_m: building height range [m].
        glass_fraction: share of buildings in glass (the others concrete).
        seed: seed of the lot splits, heights and materials.
    """

    size_m: float = 150.0
    road_width_m: float = 20.0
    lots: int = 2
    min_height_m: float = 8.0
    max_height_m: float = 40.0
    glass_fraction: float = 0.25
    seed: int = 0

    def problems(self) -> list[str]:
        """Every invalid field, as readable sentences (empty when the spec is valid)."""
        out = []
        if not (math.isfinite(self.size_m) and self.size_m > 0):
            out.append(f"size_m={self.size_m!r}: must be > 0 [m]")
        if not (math.isfinite(self.road_width_m) and self.road_width_m > 2.0):
            out.append(f"road_width_m={self.road_width_m!r}: must be > 2 m")
        elif self.road_width_m / 2 + PAVEMENT_M + 5.0 >= self.size_m / 2:
            out.append(
                f"road_width_m={self.road_width_m!r}: leaves no room for buildings in a "
                f"{self.size_m:g} m map; narrow the roads or enlarge size_m"
            )
        if isinstance(self.lots, bool) or not isinstance(self.lots, int) or self.lots < 1:
            out.append(f"lots={self.lots!r}: must be an integer >= 1")
        if not (0 < self.min_height_m <= self.max_height_m):
            out.append(
                f"heights {self.min_height_m!r}..{self.max_height_m!r}: need "
                "0 < min_height_m <= max_height_m [m]"
            )
        if not 0.0 <= self.glass_fraction <= 1.0:
            out.append(f"glass_fraction={self.glass_fraction!r}: must be in [0, 1]")
        return out

    @property
    def lanes_per_direction(self) -> int:
        """Lanes in each direction of each road."""
        return max(1, min(3, math.floor((0.5 * self.road_width_m - 0.5) / LANE_WIDTH_M)))

    def lane_offsets_m(self) -> FloatArray:
        """Signed offsets of every lane centre line from the road's centre line [m]."""
        n = self.lanes_per_direction
        one_side = LANE_WIDTH_M * (np.arange(n) + 0.5)
        return np.concatenate([-one_side[::-1], one_side])


def _check(spec: IntersectionSpec) -> None:
    bad = spec.problems()
    if bad:
        raise SkycellError("intersection: " + "; ".join(bad))


def generate_intersection(spec: IntersectionSpec) -> Buildings:
    """The buildings on the four corners of a generated intersection (see the module docstring).

    Raises:
        SkycellError: an invalid spec (every problem listed).
    """
    _check(spec)
    rng = np.random.default_rng(spec.seed)
    half = 0.5 * spec.size_m
    inner = 0.5 * spec.road_width_m + PAVEMENT_M  # block edge nearest the junction
    outer = half - 1.0  # keep 1 m inside the map edge
    footprints: list[FloatArray] = []
    for sx in (-1.0, 1.0):
        for sy in (-1.0, 1.0):
            cuts = []
            for _ in range(2):  # jittered split lines along x then y
                t = np.linspace(inner, outer, spec.lots + 1)
                if spec.lots > 1:
                    step = (outer - inner) / spec.lots
                    t[1:-1] += rng.uniform(-0.2, 0.2, spec.lots - 1) * step
                cuts.append(t)
            for i in range(spec.lots):
                for j in range(spec.lots):
                    a0, a1 = cuts[0][i], cuts[0][i + 1]
                    b0, b1 = cuts[1][j], cuts[1][j + 1]
                    setback = rng.uniform(1.0, 3.0, 4)
                    x0, x1 = a0 + setback[0], a1 - setback[1]
                    y0, y1 = b0 + setback[2], b1 - setback[3]
                    if x1 - x0 < 4.0 or y1 - y0 < 4.0:
                        continue
                    xs = sorted((sx * x0, sx * x1))
                    ys = sorted((sy * y0, sy * y1))
                    footprints.append(
                        np.array([[xs[0], ys[0]], [xs[1], ys[0]], [xs[1], ys[1]], [xs[0], ys[1]]])
                    )
    n = len(footprints)
    heights = rng.uniform(spec.min_height_m, spec.max_height_m, n)
    glass = rng.uniform(size=n) < spec.glass_fraction
    materials = tuple("glass" if g else "concrete" for g in glass)
    return Buildings(footprints_m=tuple(footprints), heights_m=heights, materials=materials)


def lane_users(
    spec: IntersectionSpec, count: int, *, seed: int = 0, height_m: float = 1.5
) -> FloatArray:
    """``(count, 3)`` users drawn uniformly along the lane centre lines inside the map [m].

    Every lane of both roads is a segment across the whole map (through the junction); a user
    picks a lane with probability proportional to its length (all equal) and a uniform position
    along it. Used when SUMO is not installed.
    """
    _check(spec)
    rng = np.random.default_rng(seed)
    half = 0.5 * spec.size_m - 0.5
    offsets = spec.lane_offsets_m()
    lane = rng.integers(0, 2 * offsets.size, count)
    along = rng.uniform(-half, half, count)
    off = offsets[lane % offsets.size]
    ns = lane >= offsets.size  # north-south road: x = offset
    x = np.where(ns, off, along)
    y = np.where(ns, along, off)
    return np.column_stack([x, y, np.full(count, float(height_m))])


def sumo_users(
    spec: IntersectionSpec,
    count: int,
    *,
    seed: int = 0,
    height_m: float = 1.5,
    warmup_s: float = 90.0,
) -> FloatArray:
    """``(count, 3)`` vehicles on the intersection's lanes, simulated by SUMO [m].

    The network is a ``netgenerate`` 3 x 3 grid with pitch ``size_m / 2 + RING_MARGIN_M``
    (:func:`skycell.twin.mobility.street_network_for_city` with a matching layout, no
    sidewalks, traffic lights): its centre junction is the intersection and its outer ring
    lies outside the map. Random trips
    (:func:`skycell.twin.mobility.sumo_trajectories`) run for ``warmup_s``; the vehicles inside
    the map at that instant, in id order, are the users (more vehicles are inserted until
    ``count`` are inside).

    Raises:
        SkycellError: SUMO missing (with the install command) or failing.
    """
    from skycell.scenario import GenerateSpec
    from skycell.twin.mobility import street_network_for_city, sumo_trajectories

    _check(spec)
    pitch = 0.5 * spec.size_m + RING_MARGIN_M
    w = float(spec.road_width_m)
    half = 0.5 * spec.size_m
    gen = GenerateSpec(size_m=2 * pitch + w, block_size_m=pitch - w, street_width_m=w)
    # lanes inside the map / all lanes of the network (four arms of the cross inside, the rest
    # outside): request enough vehicles for `count` inside, then more if needed
    share = (4 * half) / (4 * pitch + 8 * pitch)
    vehicles = max(count + 1, math.ceil(1.4 * count / share))
    with tempfile.TemporaryDirectory(prefix="skycell-intersection-") as tmp:
        net = street_network_for_city(gen, tmp, sidewalks=False)
        for _ in range(6):
            traj = sumo_trajectories(
                net, vehicles=vehicles, steps=0, begin_s=warmup_s, seed=seed, height_m=height_m
            )
            xyz = np.array([t.positions_m[0] for t in traj]).reshape(-1, 3)
            inside = (np.abs(xyz[:, 0]) <= half) & (np.abs(xyz[:, 1]) <= half)
            if inside.sum() >= count:
                return np.asarray(xyz[inside][:count], dtype=np.float64)
            vehicles = math.ceil(vehicles * 1.5)
    raise SkycellError(
        f"SUMO placed only {int(inside.sum())} of {count} vehicles inside the "
        f"{spec.size_m:g} m map after {vehicles} insertions; ask for fewer users"
    )


def intersection_users(
    spec: IntersectionSpec,
    count: int,
    *,
    source: UserSource = "auto",
    seed: int = 0,
    height_m: float = 1.5,
) -> tuple[FloatArray, str]:
    """``count`` users on the lanes and where they came from (``"sumo"`` or ``"lanes"``).

    ``source="auto"`` uses SUMO when it is installed (extra ``mobility``) and lane sampling
    otherwise; ``"sumo"`` requires SUMO; ``"lanes"`` never runs it.

    Raises:
        SkycellError: an unknown source, or ``"sumo"`` without SUMO.
    """
    if source not in ("auto", "sumo", "lanes"):
        raise SkycellError(f"unknown user source {source!r}; choose auto, sumo or lanes")
    if not (isinstance(count, int) and count >= 1):
        raise SkycellError(f"count={count!r}: give the number of users (an integer >= 1)")
    if source != "lanes":
        from skycell.twin.mobility import sumo_available

        ok, why = sumo_available()
        if ok:
            return sumo_users(spec, count, seed=seed, height_m=height_m), "sumo"
        if source == "sumo":
            raise SkycellError(f"user source sumo: {why}")
    return lane_users(spec, count, seed=seed, height_m=height_m), "lanes"


#: Presets of the paper's three intersections (geometry stand-ins; see the module docstring).
PRESETS: Final[dict[str, IntersectionSpec]] = {
    # Daeheung: 150 m x 150 m, two lanes each way
    "intersection-150m": IntersectionSpec(
        size_m=150.0, road_width_m=20.0, lots=2, min_height_m=8.0, max_height_m=40.0, seed=1
    ),
    # Sinchon-like: a wide junction (three lanes each way) among mid-rise blocks
    "intersection-300m-wide": IntersectionSpec(
        size_m=300.0, road_width_m=30.0, lots=3, min_height_m=10.0, max_height_m=60.0, seed=2
    ),
    # Ewha-like: narrower roads, lower and denser buildings
    "intersection-300m-dense": IntersectionSpec(
        size_m=300.0, road_width_m=22.0, lots=4, min_height_m=6.0, max_height_m=30.0, seed=3
    ),
    # the tests' tiny bundled scenario: 60 m, one lane each way, one building per corner
    "tiny": IntersectionSpec(
        size_m=60.0, road_width_m=12.0, lots=1, min_height_m=10.0, max_height_m=20.0, seed=0
    ),
}

#: Scenario options of the presets other than the paper's 57 SUMO vehicles and 4 x 4 array.
PRESET_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    "tiny": {
        "users": 8,
        "source": "lanes",
        "max_altitude_m": 50.0,
        "sumrate": {"array_rows": 2, "array_cols": 2, "grid_step_m": 10.0},
    },
}


def intersection_scenario(
    spec: IntersectionSpec,
    *,
    name: str,
    users: int = 57,
    source: UserSource = "auto",
    user_seed: int = 0,
    engine: str = "analytic",
    sumrate: dict[str, Any] | None = None,
    max_altitude_m: float | None = None,
) -> tuple[dict[str, Any], str]:
    """A paper 001 scenario mapping for a generated intersection, and the users' source.

    Radio (paper 001 Table 3 is lost; FR2 values chosen and stated here): 28 GHz, 100 MHz,
    30 dBm total transmit power, user noise figure 10 dB (3GPP FR2 UE), TR 38.901 element
    pattern on the station's 4 x 4 half-wavelength UPA facing the ground, isotropic users,
    Al-Hourani air-to-ground path loss (free space + 1 dB in LoS, + 20 dB in NLoS, urban) with
    the city's geometric line of sight on the analytic engine. Positioning volume: the whole map
    in x-y, 20-120 m (150 m map) or 20-150 m (300 m) above the ground; the candidate grid has
    ``size_m / 30`` m in x-y and 10 m in z. Non-twin positions (Fig. 10's legend names three;
    their values are lost): (0, 0, 50), (0, 0, 100) and (-size/5, size/5, 70) m.

    Args:
        spec: the intersection.
        name: scenario name.
        users: number of vehicles (paper 001: 57).
        source: ``auto`` | ``sumo`` | ``lanes`` (:func:`intersection_users`).
        user_seed: seed of the users.
        engine: ``analytic`` or ``sionna`` (then a grid twice as coarse, 10 000 rays per
            position and dual-polarised users, see :func:`skycell.radio.beamforming.sionna_paths`).
        sumrate: overrides of the ``sumrate`` section.
        max_altitude_m: top of the positioning volume [m] (default 120 m or 150 m, above).
    """
    buildings = generate_intersection(spec)
    xyz, used = intersection_users(spec, users, source=source, seed=user_seed)
    half = 0.5 * spec.size_m
    step = spec.size_m / 30.0
    top = (120.0 if spec.size_m <= 150 else 150.0) if max_altitude_m is None else max_altitude_m
    fixed = [[0.0, 0.0, 50.0], [0.0, 0.0, 100.0], [-spec.size_m / 5, spec.size_m / 5, 70.0]]
    fixed = [p for p in fixed if p[2] <= top] or [[0.0, 0.0, top]]
    section: dict[str, Any] = {
        "grid_step_m": step,
        "altitude_step_m": 10.0,
        "fixed_positions_m": fixed,
    }
    eng: dict[str, Any] = {"kind": engine}
    if engine == "sionna":
        section.update({"grid_step_m": 2 * step, "altitude_step_m": 20.0})
        eng.update({"samples": 10_000, "max_depth": 3, "user_polarization": "cross"})
    section.update(sumrate or {})
    data: dict[str, Any] = {
        "name": name,
        "area": {"x_min_m": -half, "y_min_m": -half, "x_max_m": half, "y_max_m": half},
        "city": {
            "buildings": [
                {
                    "footprint_m": [[round(float(x), 2), round(float(y), 2)] for x, y in fp],
                    "height_m": round(float(h), 2),
                    "material": m,
                }
                for fp, h, m in zip(
                    buildings.footprints_m, buildings.heights_m, buildings.materials, strict=True
                )
            ]
        },
        "users": [
            {"id": f"v{k}", "position_m": [round(float(p[0]), 2), round(float(p[1]), 2), 1.5]}
            for k, p in enumerate(xyz)
        ],
        "fleet": {
            "stations": 1,
            "min_altitude_m": 20.0,
            "max_altitude_m": top,
            "building_clearance_m": 3.0,
        },
        "radio": {
            "frequency_hz": 28e9,
            "tx_power_dbm": 30.0,
            "bandwidth_hz": 100e6,
            "noise_figure_db": 10.0,
            "station_antenna": "tr38901",
            "user_antenna": "isotropic",
            "pathloss_model": "al_hourani",
            "environment": "urban",
        },
        "placement": {"method": "gradient-sumrate"},
        "engine": eng,
        "sumrate": section,
    }
    return data, used


def _main(argv: Sequence[str] | None = None) -> int:
    from skycell.scenario import scenario_from_dict

    parser = argparse.ArgumentParser(
        prog="python -m skycell.city.intersection",
        description="Write a paper 001 intersection scenario (buildings + SUMO vehicles).",
    )
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--users", type=int, default=None, help="vehicles (default 57)")
    parser.add_argument("--source", choices=("auto", "sumo", "lanes"), default=None)
    parser.add_argument("--engine", choices=("analytic", "sionna"), default="analytic")
    parser.add_argument("--seed", type=int, default=0, help="seed of the users")
    args = parser.parse_args(argv)
    spec = PRESETS[args.preset]
    opts = dict(PRESET_OPTIONS.get(args.preset, {}))
    users = args.users if args.users is not None else int(opts.pop("users", 57))
    source = args.source if args.source is not None else opts.pop("source", "auto")
    opts.pop("users", None)
    opts.pop("source", None)
    name = f"paper001-{args.preset}" + ("-sionna" if args.engine == "sionna" else "")
    data, used = intersection_scenario(
        spec,
        name=name,
        users=users,
        source=source,
        user_seed=args.seed,
        engine=args.engine,
        **opts,
    )
    scenario = scenario_from_dict(data, source=name)
    lanes = spec.lanes_per_direction
    header = (
        f"# Paper 001 stand-in: {args.preset} ({spec.size_m:g} m x {spec.size_m:g} m, roads "
        f"{spec.road_width_m:g} m with {lanes} lane(s) each way,\n"
        f"# {spec.lots}x{spec.lots} buildings per corner, {spec.min_height_m:g}-"
        f"{spec.max_height_m:g} m, seed {spec.seed}); {users} vehicles from "
        f"{'SUMO (random trips, snapshot after 90 s)' if used == 'sumo' else 'the lane lines'}"
        f", seed {args.seed}.\n"
        f"# Written by: python -m skycell.city.intersection {args.preset} {args.out}"
        f"{' --engine sionna' if args.engine == 'sionna' else ''}"
        f"{f' --seed {args.seed}' if args.seed else ''}\n"
        f"# Radio: 28 GHz FR2, 100 MHz, 30 dBm, NF 10 dB, {scenario.sumrate.array_rows}x"
        f"{scenario.sumrate.array_cols} UPA (TR 38.901 elements) facing down;\n"
        + (
            "# Sionna RT paths (10 000 rays per position, 3 interactions, dual-polarised users).\n"
            if args.engine == "sionna"
            else "# Al-Hourani urban path loss with geometric LoS on the analytic engine.\n"
        )
    )
    body = scenario.to_yaml().split("\n", 1)[1]
    args.out.write_text(header + body, encoding="utf-8")
    print(f"wrote {args.out} ({len(data['city']['buildings'])} buildings, users from {used})")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
