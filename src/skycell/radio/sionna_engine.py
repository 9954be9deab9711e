"""Ray-traced channel engine on Sionna RT (extra ``rt``) behind the ``ChannelEngine`` protocol.

:class:`SionnaEngine` builds a Sionna RT scene in memory from a
:class:`~skycell.city.buildings.City` (one closed prism per building, concave footprints
triangulated with ``mapbox_earcut``, an ITU-R P.2040 material per building, a flat ground plane
at ``z = 0``), places the stations as transmitters and the users as receivers, and traces paths
(``sionna.rt.PathSolver``) or coverage maps (``sionna.rt.RadioMapSolver``) with a fixed seed, so
results are reproducible.

Conventions are skycell's (see :mod:`skycell.radio.engine`): positions ``(N, 3)`` / ``(U, 3)`` [m]
in the city's local frame; link quantities ``(N, U)``; a station's azimuth is counter-clockwise
from ``+x`` and its tilt is measured downward from the horizon (90 = straight down). In Sionna a
transmitter's orientation is ``(yaw, pitch, roll)`` with yaw about ``z`` (counter-clockwise from
``+x``) and positive pitch tilting the boresight down, so ``(azimuth, tilt, 0)`` in radians maps
directly.

Where no traced path connects a station and a user (or no ray reaches a map cell) the path gain
is ``PATH_GAIN_FLOOR_DB`` (-250 dB) rather than ``-inf``, so downstream sums stay finite; anything
at or below it means "no path".

Sionna RT runs on the CPU through Dr.Jit's LLVM backend, which needs the LLVM 16+ shared library
(LLVM 15 aborts in code generation). :func:`ensure_llvm` finds it and sets ``DRJIT_LIBLLVM_PATH``
before ``sionna.rt`` is imported; :func:`rt_available` tells whether the engine can run here.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from skycell.errors import SkycellError
from skycell.radio.antenna_torch import pattern_field_torch
from skycell.radio.engine import (
    PATH_GAIN_FLOOR_DB as PATH_GAIN_FLOOR_DB,
)
from skycell.radio.engine import (
    BoolArray,
    FloatArray,
    _as_points,
    _per_station,
)
from skycell.radio.materials import check_material

if TYPE_CHECKING:
    from skycell.city.buildings import City

IntArray = NDArray[np.int64]


#: Memory one path-solver call takes per (user, ray shot) [bytes], measured with sionna-rt 2.2 on
#: the CPU (LLVM): 10 stations x 100 000 rays took 1.9 GB for 10 users, 3.6 GB for 25 and 7.4 GB
#: for 60, about 0.11 GB per user (the deterministic candidate generator keeps a record per ray,
#: depth and user of the call), rounded up for the allocator's slack over repeated calls.
_BYTES_PER_USER_RAY: Final[float] = 140.0
#: Memory that does not grow with the users of a call [bytes]: the process (Python, torch, the
#: scene, Dr.Jit's kernels; about 1 GB) and the call's own base (about 0.8 GB).
_CALL_BASE_BYTES: Final[float] = 2.0e9
#: Candidate chains the solver may keep per station and user of a call (it kept at most about
#: 900 in the default city at depth 3; the cap is per station over all users of a call, and
#: paths beyond it would be dropped silently, so a call's cap grows with its users).
_CANDIDATES_PER_USER: Final[int] = 4096
#: Slots of the solver's candidate hash tables per station and user of a call. Sionna drops a
#: candidate whose hash slot another chain already holds; with its default table (one million
#: slots per station) a call of 60 users lost 1 of 600 links (a -107 dB one) against tracing the
#: users one by one, with 128 Ki slots per user none (gains equal to the last digit). The two
#: tables take 8 bytes per slot and station.
_HASH_SLOTS_PER_USER: Final[int] = 131_072

#: skycell antenna pattern name -> Sionna RT pattern name (``dipole`` is the half-wave dipole).
_PATTERNS: Final[dict[str, str]] = {
    "isotropic": "iso",
    "iso": "iso",
    "dipole": "hw_dipole",
    "tr38901": "tr38901",
}

_LLVM_HINT: Final[str] = (
    "Sionna RT on the CPU needs the LLVM 16+ shared library: install Debian's libllvm19 "
    "(`apt-get install libllvm19`) or point DRJIT_LIBLLVM_PATH at LLVM 16+"
)


def _find_llvm() -> str | None:
    env = os.environ.get("DRJIT_LIBLLVM_PATH")
    if env:
        return env if os.path.exists(env) else None
    for v in (20, 19, 18, 17, 16):
        hits = sorted(
            glob.glob(f"/usr/lib/*/libLLVM-{v}*.so")
            + glob.glob(f"/usr/lib/*/libLLVM.so.{v}*")
            + glob.glob(f"/usr/lib/llvm-{v}/lib/libLLVM*.so*")
        )
        if hits:
            return hits[0]
    return None


def ensure_llvm() -> str:
    """Find LLVM >= 16 for Dr.Jit and set ``DRJIT_LIBLLVM_PATH``; call before importing sionna.rt.

    Looks at ``DRJIT_LIBLLVM_PATH`` first (used as given when the file exists), then at
    ``/usr/lib/*/libLLVM-{16..20}*.so``, ``/usr/lib/*/libLLVM.so.{16..20}*`` and
    ``/usr/lib/llvm-{16..20}/lib``.

    Returns:
        the path of the library.

    Raises:
        SkycellError: no usable LLVM found (the message says how to install it).
    """
    path = _find_llvm()
    if path is None:
        env = os.environ.get("DRJIT_LIBLLVM_PATH")
        extra = f" (DRJIT_LIBLLVM_PATH={env!r} does not exist)" if env else ""
        raise SkycellError(_LLVM_HINT + extra)
    os.environ["DRJIT_LIBLLVM_PATH"] = path
    return path


def rt_available() -> tuple[bool, str]:
    """Whether the Sionna RT engine can run here: ``(True, "")`` or ``(False, reason)``.

    Checks that ``sionna``, ``mitsuba``, ``drjit`` and ``mapbox_earcut`` are installed (extra
    ``rt``) and that LLVM 16+ is found; imports nothing (cheap, safe at test collection).
    """
    missing = [m for m in ("sionna", "mitsuba", "drjit", "mapbox_earcut") if _spec(m) is None]
    if missing:
        return False, (
            f"the `rt` extra is not installed (missing {', '.join(missing)}): "
            "pip install 'skycell[rt]'"
        )
    if _find_llvm() is None:
        env = os.environ.get("DRJIT_LIBLLVM_PATH")
        return False, _LLVM_HINT + (f" (DRJIT_LIBLLVM_PATH={env!r} does not exist)" if env else "")
    return True, ""


def _spec(module: str) -> Any:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def import_rt() -> tuple[Any, Any, Any]:
    """``(sionna.rt, mitsuba, drjit)``, importing them after :func:`ensure_llvm`.

    Raises:
        SkycellError: the ``rt`` extra or LLVM 16+ is missing.
    """
    ok, why = rt_available()
    if not ok:
        raise SkycellError(why)
    ensure_llvm()
    import drjit as dr  # type: ignore[import-not-found,import-untyped,unused-ignore]
    import mitsuba as mi  # type: ignore[import-not-found,import-untyped,unused-ignore]
    import sionna.rt as rt  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return rt, mi, dr


def _mesh(mi: Any, name: str, verts: np.ndarray, faces: np.ndarray) -> Any:
    m = mi.Mesh(
        name,
        vertex_count=len(verts),
        face_count=len(faces),
        has_vertex_normals=False,
        has_vertex_texcoords=False,
    )
    p = mi.traverse(m)
    p["vertex_positions"] = mi.Float(np.asarray(verts, np.float32).ravel())
    p["faces"] = mi.UInt32(np.asarray(faces, np.uint32).ravel())
    p.update()
    return m


def prism_faces(footprint_m: ArrayLike, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(2n, 3)`` and outward-facing triangles ``(F, 3)`` of a closed prism.

    The footprint (any orientation, concave allowed, not closed) is made counter-clockwise,
    triangulated with ``mapbox_earcut`` for the roof and floor, and extruded from ``z = 0`` to
    ``height_m``.
    """
    import mapbox_earcut as earcut  # type: ignore[import-not-found,import-untyped,unused-ignore]

    fp = np.asarray(footprint_m, dtype=np.float64).reshape(-1, 2)
    x, y = fp[:, 0], fp[:, 1]
    if 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) < 0:
        fp = fp[::-1]
    n = len(fp)
    cap = np.asarray(
        earcut.triangulate_float64(fp, np.array([n], dtype=np.uint32)), dtype=np.int64
    ).reshape(-1, 3)
    a, b, c = fp[cap[:, 0]], fp[cap[:, 1]], fp[cap[:, 2]]
    cross = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
    cap[cross < 0] = cap[cross < 0][:, ::-1]  # roof triangles face +z
    i = np.arange(n)
    j = (i + 1) % n
    walls = np.concatenate([np.c_[i, j, n + j], np.c_[i, n + j, n + i]])
    faces = np.concatenate([walls, cap + n, cap[:, ::-1]]).astype(np.uint32)
    verts = np.vstack([np.c_[fp, np.zeros(n)], np.c_[fp, np.full(n, float(height_m))]])
    return verts, faces


@dataclass(frozen=True)
class UserPaths:
    """Traced paths between stations and users; arrays are ``(N, U, P)``, P = paths per link.

    Attributes:
        gain: ``|a|^2`` per path (linear, includes both antenna patterns), 0 where not valid.
        delay_s: propagation delay [s] per path.
        theta_t_rad, phi_t_rad: departure zenith and azimuth [rad] per path (global frame).
        valid: True where the path exists.
        los: True for the direct (line-of-sight) path, no interaction.
    """

    gain: FloatArray
    delay_s: FloatArray
    theta_t_rad: FloatArray
    phi_t_rad: FloatArray
    valid: BoolArray
    los: BoolArray

    def path_gain_db(self) -> FloatArray:
        """``(N, U)`` total path gain [dB] (sum over valid paths), floored at the no-path floor."""
        return _to_db(self.gain.sum(axis=-1))


@dataclass(frozen=True)
class CoverageMap:
    """A ray-traced coverage map.

    Attributes:
        path_gain_db: ``(N, ny, nx)`` path gain per station per cell [dB], including the station
            pattern; the receiver is Sionna's radio-map receiver, an ideal isotropic antenna
            that collects both polarisations (radio maps ignore ``scene.rx_array``);
            ``PATH_GAIN_FLOOR_DB`` where no ray reached the cell.
        cell_centers_m: ``(ny, nx, 3)`` cell centres [m].
    """

    path_gain_db: FloatArray
    cell_centers_m: FloatArray


@dataclass(frozen=True)
class MapGrid:
    """A horizontal grid of square map cells: cell ``(iy, ix)`` is centred on
    ``(x_min_m + (ix + 1/2) cell_m, y_min_m + (iy + 1/2) cell_m, height_m)``; flat index
    ``iy * nx + ix``.

    Attributes:
        x_min_m, y_min_m: lower-left corner of the grid [m].
        nx, ny: cells along x and y.
        cell_m: cell side [m].
        height_m: height of the measurement plane above ground [m].
    """

    x_min_m: float
    y_min_m: float
    nx: int
    ny: int
    cell_m: float
    height_m: float = 1.5

    @classmethod
    def over(cls, city: City, *, cell_m: float, height_m: float = 1.5) -> MapGrid:
        """The grid of :func:`skycell.metrics.ground_grid` over the city bounds (same cells)."""
        if not (np.isfinite(cell_m) and cell_m > 0):
            raise ValueError(f"cell_m must be > 0 [m], got {cell_m}")
        x0, y0, x1, y1 = city.bounds_m
        nx = int(np.arange(x0 + cell_m / 2, x1, cell_m).size)
        ny = int(np.arange(y0 + cell_m / 2, y1, cell_m).size)
        return cls(float(x0), float(y0), max(nx, 1), max(ny, 1), float(cell_m), float(height_m))

    @property
    def cells(self) -> int:
        """Number of cells ``nx * ny``."""
        return self.nx * self.ny

    def centers_m(self) -> FloatArray:
        """``(ny, nx, 3)`` cell centres [m]."""
        xs = self.x_min_m + (np.arange(self.nx) + 0.5) * self.cell_m
        ys = self.y_min_m + (np.arange(self.ny) + 0.5) * self.cell_m
        gx, gy = np.meshgrid(xs, ys, indexing="xy")
        return np.stack([gx, gy, np.full_like(gx, self.height_m)], axis=-1)

    def solver_kwargs(self) -> dict[str, Any]:
        """``center``, ``orientation``, ``size``, ``cell_size`` for ``sionna.rt.RadioMapSolver``
        (a size that is a whole number of cells, so Sionna does not widen the grid)."""
        w, h = self.nx * self.cell_m, self.ny * self.cell_m
        return {
            "center": [self.x_min_m + w / 2, self.y_min_m + h / 2, float(self.height_m)],
            "orientation": [0.0, 0.0, 0.0],
            "size": [w, h],
            "cell_size": [float(self.cell_m), float(self.cell_m)],
        }


@dataclass(frozen=True)
class RayMap:
    """Every traced ray's contribution to every map cell it crosses, for re-weighting.

    Traced once per set of station positions with an isotropic source in both polarisations
    (Sionna's ``"iso"`` pattern, ``polarization="VH"``, orientation identity; see
    :meth:`SionnaEngine.ray_map`). A ray leaving station ``s`` in direction ``d`` with the
    initial field ``theta_hat(d)`` (V) arrives in a cell with the field ``u``; with
    ``phi_hat(d)`` (H) with ``v`` (Sionna's transport is linear in the field). An antenna whose
    far field toward ``d`` is ``alpha theta_hat + beta phi_hat`` (real, see
    :func:`skycell.radio.antenna_torch.pattern_field_torch`) therefore contributes
    ``alpha^2 |u|^2 + beta^2 |v|^2 + 2 alpha beta Re(u^H v)`` to the cell's path gain, with the
    same ray weight (ray-tube solid angle over the cell area) as Sionna's radio map. Summed over
    the records this is exactly the radio map a fresh trace with that antenna would give, for any
    azimuth, tilt and pattern (same rays, same seed; the material sampling does not depend on
    the field), without tracing again.

    Attributes:
        grid: the map grid.
        stations: number of stations N.
        ray_station: ``(L,)`` station of each contributing ray.
        ray_direction: ``(L, 3)`` departure unit vector of each contributing ray (global).
        record_ray: ``(R,)`` index into the rays of each (ray, cell) record.
        record_cell: ``(R,)`` flat cell index of each record.
        record_q: ``(R, 3)`` ``[|u|^2, |v|^2, Re(u^H v)]`` times the ray weight (linear path
            gain), summed over the crossings of one ray through one cell.
        rays_per_station: rays shot per station.
        trace_s: wall time of the trace and the bookkeeping [s].
    """

    grid: MapGrid
    stations: int
    ray_station: IntArray
    ray_direction: FloatArray
    record_ray: IntArray
    record_cell: IntArray
    record_q: FloatArray
    rays_per_station: int
    trace_s: float

    def path_gain_torch(
        self,
        pattern: str,
        azimuth_rad: torch.Tensor,
        tilt_rad: torch.Tensor,
        *,
        tensors: RayTensors | None = None,
    ) -> torch.Tensor:
        """``(N, ny * nx)`` linear path gain with the station ``pattern`` at the given
        orientation (``(N,)`` radians each); differentiable in both. ``tensors`` caches the
        record arrays as torch tensors across calls (:meth:`tensors`)."""
        t = tensors if tensors is not None else self.tensors()
        alpha, beta = pattern_field_torch(
            pattern, t.ray_direction, azimuth_rad[t.ray_station], tilt_rad[t.ray_station]
        )
        a = alpha[t.record_ray]
        b = beta[t.record_ray]
        q = t.record_q
        value = a * a * q[:, 0] + b * b * q[:, 1] + 2.0 * a * b * q[:, 2]
        out = torch.zeros(self.stations * self.grid.cells, dtype=value.dtype)
        out = out.index_add(0, t.record_index, value)
        # the cross term can leave -1e-30 of round-off where the sum is zero
        return torch.clamp(out, min=0.0).reshape(self.stations, self.grid.cells)

    def merged(self, direction_bin_deg: float) -> RayMap:
        """The rays of each station that reach the same cell from directions within one bin of
        ``direction_bin_deg`` x ``direction_bin_deg`` (zenith x azimuth) merged into one ray.

        The merged ray carries the sum of the records' field terms and departs in their
        power-weighted mean direction; re-weighting it applies the pattern once at that
        direction instead of at each ray's own. The error is second order in the spread of
        the directions inside a bin (below 0.01 dB for 1 deg bins and the TR 38.901 pattern,
        whose curvature is 12 / 65^2 dB per deg^2); the records shrink 3x (1 deg) to 6x (2 deg)
        on the default city. ``0`` returns the map unchanged (exact).
        """
        if not (np.isfinite(direction_bin_deg) and direction_bin_deg >= 0):
            raise ValueError(f"direction_bin_deg must be >= 0 [deg], got {direction_bin_deg}")
        if direction_bin_deg == 0 or self.record_ray.size == 0:
            return self
        d = self.ray_direction[self.record_ray]
        station = self.ray_station[self.record_ray]
        zen = np.degrees(np.arccos(np.clip(d[:, 2], -1.0, 1.0)))
        azi = np.degrees(np.arctan2(d[:, 1], d[:, 0])) + 180.0
        n_zen = int(np.ceil(180.0 / direction_bin_deg)) + 1
        n_azi = int(np.ceil(360.0 / direction_bin_deg)) + 1
        b_zen = np.floor(zen / direction_bin_deg).astype(np.int64)
        b_azi = np.floor(azi / direction_bin_deg).astype(np.int64)
        key = ((station * self.grid.cells + self.record_cell) * n_zen + b_zen) * n_azi + b_azi
        uniq, inverse = np.unique(key, return_inverse=True)
        inverse = inverse.reshape(-1)
        m = uniq.size
        q = np.stack(
            [np.bincount(inverse, weights=self.record_q[:, k], minlength=m) for k in range(3)],
            axis=-1,
        ).astype(np.float64)
        w = self.record_q[:, 0] + self.record_q[:, 1]
        mean = np.stack(
            [np.bincount(inverse, weights=w * d[:, k], minlength=m) for k in range(3)], axis=-1
        )
        first = np.zeros(m, dtype=np.int64)
        first[inverse[::-1]] = np.arange(inverse.size)[::-1]  # a member of each group
        norm = np.linalg.norm(mean, axis=-1, keepdims=True)
        direction = np.where(norm > 0, mean / np.where(norm > 0, norm, 1.0), d[first])
        return RayMap(
            grid=self.grid,
            stations=self.stations,
            ray_station=np.asarray(station[first], dtype=np.int64),
            ray_direction=np.asarray(direction, dtype=np.float64),
            record_ray=np.arange(m, dtype=np.int64),
            record_cell=np.asarray(self.record_cell[first], dtype=np.int64),
            record_q=q,
            rays_per_station=self.rays_per_station,
            trace_s=self.trace_s,
        )

    def tensors(self) -> RayTensors:
        """The record arrays as torch tensors (float64 / int64)."""
        station_of_record = self.ray_station[self.record_ray]
        return RayTensors(
            ray_station=torch.from_numpy(self.ray_station),
            ray_direction=torch.from_numpy(self.ray_direction),
            record_ray=torch.from_numpy(self.record_ray),
            record_q=torch.from_numpy(self.record_q),
            record_index=torch.from_numpy(station_of_record * self.grid.cells + self.record_cell),
        )

    def path_gain_db(
        self,
        pattern: str,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
    ) -> FloatArray:
        """``(N, ny, nx)`` path gain [dB] re-weighted for ``pattern`` at the orientation
        (degrees, scalar or ``(N,)``; defaults 0 and 90), ``PATH_GAIN_FLOOR_DB`` where no ray
        reached the cell — what :meth:`SionnaEngine.coverage_map` would trace."""
        n = self.stations
        az = np.deg2rad(_per_station(azimuth_deg, n, "azimuth_deg", 0.0)[:, 0])
        tilt = np.deg2rad(_per_station(tilt_deg, n, "tilt_deg", 90.0)[:, 0])
        with torch.no_grad():
            g = self.path_gain_torch(pattern, torch.from_numpy(az), torch.from_numpy(tilt))
        return _to_db(g.numpy()).reshape(n, self.grid.ny, self.grid.nx)


@dataclass(frozen=True)
class RayTensors:
    """:class:`RayMap` records as torch tensors; ``record_index`` = station * cells + cell."""

    ray_station: torch.Tensor
    ray_direction: torch.Tensor
    record_ray: torch.Tensor
    record_q: torch.Tensor
    record_index: torch.Tensor


def _to_db(linear: ArrayLike) -> FloatArray:
    g = np.asarray(linear, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(g)
    return np.asarray(np.maximum(out, PATH_GAIN_FLOOR_DB), dtype=np.float64)


def _concat_users(parts: list[UserPaths]) -> UserPaths:
    """Join per-chunk paths along the user axis, padding the path axis with invalid paths."""
    if len(parts) == 1:
        return parts[0]
    width = max(p.valid.shape[-1] for p in parts)

    def cat(field: str) -> Any:
        arrays = [getattr(p, field) for p in parts]
        pad = [((0, 0), (0, 0), (0, width - a.shape[-1])) for a in arrays]
        return np.concatenate([np.pad(a, w) for a, w in zip(arrays, pad, strict=True)], axis=1)

    return UserPaths(
        gain=cat("gain"),
        delay_s=cat("delay_s"),
        theta_t_rad=cat("theta_t_rad"),
        phi_t_rad=cat("phi_t_rad"),
        valid=cat("valid"),
        los=cat("los"),
    )


class SionnaEngine:
    """Ray-traced channel (Sionna RT) in the city's geometry; same interface as AnalyticEngine.

    The Sionna scene is built once per engine, on first use, and reused; each call replaces the
    scene's transmitters and receivers.

    Args:
        city: the city geometry (buildings become prisms; a ground plane covers the bounds plus a
            margin).
        frequency_hz: carrier frequency [Hz].
        station_antenna: station pattern, ``"tr38901"`` (default, 8 dBi peak), ``"isotropic"`` or
            ``"dipole"`` (half-wave), vertically polarised, oriented by azimuth/tilt.
        user_antenna: user pattern, ``"isotropic"`` (default, alias ``"iso"``) or ``"dipole"``,
            fixed orientation (a dipole stands vertical).
        user_polarization: ``"V"`` (default: vertically polarised, as Sionna and paper 000; a
            tilted station then loses power to polarisation mismatch, e.g. about 8 dB toward a
            user beside a straight-down station) or ``"cross"`` (an ideal dual-polarised user
            whose two ports' powers are summed: no polarisation loss, which is what the analytic
            engine assumes; exact for the isotropic pattern).
        max_depth: most interactions (reflections/refractions) per path; paper 000 uses 3.
        samples: rays shot per station by the path solver (per-user channels).
        map_samples: rays per coverage map, shared by the stations (paper 000: 5 million).
        seed: random seed of both solvers; fixed seed -> reproducible results.
        material: material of buildings without one (``"itu_concrete"``); per-building
            materials come from ``city.buildings.materials`` (``concrete``, ``brick``, ``glass``,
            ``marble``, ``wood``, ``metal``, ... see ``MATERIALS``).
        ground_material: ITU material of the ground plane.
        scattering_coefficient: building materials' scattering coefficient (0 = no diffuse
            reflection, the default; paper 000 enables diffuse reflection, which needs > 0).
        diffuse: trace diffuse reflections in coverage maps (only matters when the scattering
            coefficient is > 0).
        diffraction: per-user paths also diffract once on building edges (Sionna's wedge
            diffraction; about 3.5x the time of a trace without, and it reaches street-level
            users whom no path of ``max_depth`` reflections and refractions reaches). Coverage
            maps are unaffected.
        memory_gb: memory the per-user path tracing may take, the process included [GB]:
            per-user channels are traced in chunks of users sized to it (the solver's memory
            grows with users x rays; a user's paths do not depend on the other users of its
            call).

    Raises:
        SkycellError: the ``rt`` extra or LLVM 16+ is missing (on first use).
        ValueError: bad frequency, pattern or material name.
    """

    def __init__(
        self,
        city: City,
        *,
        frequency_hz: float,
        station_antenna: str = "tr38901",
        user_antenna: str = "isotropic",
        user_polarization: str = "V",
        max_depth: int = 3,
        samples: int = 100_000,
        map_samples: int = 5_000_000,
        seed: int = 0,
        material: str = "itu_concrete",
        ground_material: str = "medium_dry_ground",
        scattering_coefficient: float = 0.0,
        diffuse: bool = True,
        diffraction: bool = False,
        memory_gb: float = 8.0,
    ) -> None:
        if not (np.isfinite(frequency_hz) and frequency_hz > 0):
            raise ValueError(f"frequency_hz must be a positive number [Hz], got {frequency_hz}")
        for label, pat in (("station_antenna", station_antenna), ("user_antenna", user_antenna)):
            if pat not in _PATTERNS:
                allowed = ", ".join(repr(p) for p in _PATTERNS)
                raise ValueError(f"unknown {label} {pat!r}; choose one of: {allowed}")
        if user_polarization not in ("V", "cross"):
            raise ValueError(
                f"unknown user_polarization {user_polarization!r}; choose one of: 'V', 'cross'"
            )
        if max_depth < 0 or samples < 1 or map_samples < 1:
            raise ValueError("max_depth must be >= 0 and samples, map_samples >= 1")
        if not 0.0 <= scattering_coefficient <= 1.0:
            raise ValueError("scattering_coefficient must be in [0, 1]")
        if not (np.isfinite(memory_gb) and memory_gb > 0):
            raise ValueError(f"memory_gb must be a positive number [GB], got {memory_gb}")
        self.city = city
        self.frequency_hz = float(frequency_hz)
        self.station_antenna = station_antenna
        self.user_antenna = user_antenna
        self.user_polarization = user_polarization
        self.max_depth = int(max_depth)
        self.samples = int(samples)
        self.map_samples = int(map_samples)
        self.seed = int(seed)
        self.material = check_material(material)
        self.ground_material = check_material(ground_material)
        self.building_materials = tuple(
            check_material(m) if m else self.material for m in city.buildings.materials
        ) or (self.material,) * len(city.buildings)
        self.scattering_coefficient = float(scattering_coefficient)
        self.diffuse = bool(diffuse)
        self.diffraction = bool(diffraction)
        self.memory_gb = float(memory_gb)
        #: paths the last :meth:`paths` call dropped because Sionna returned them with non-finite
        #: amplitudes (duplicates of a direct path, seen with sionna-rt 2.2)
        self.dropped_paths = 0
        self._scene: Any = None

    def __repr__(self) -> str:
        return (
            f"SionnaEngine(frequency_hz={self.frequency_hz:g}, "
            f"station_antenna={self.station_antenna!r}, user_antenna={self.user_antenna!r}, "
            f"max_depth={self.max_depth}, samples={self.samples}, "
            f"map_samples={self.map_samples}, seed={self.seed})"
        )

    # ------------------------------------------------------------------ scene

    @property
    def scene(self) -> Any:
        """The Sionna RT scene (built on first use, then cached)."""
        if self._scene is None:
            self._scene = self._build_scene()
        return self._scene

    def _build_scene(self) -> Any:
        rt, mi, _ = import_rt()
        scene = rt.load_scene()  # empty scene
        scene.frequency = self.frequency_hz
        mats: dict[str, Any] = {}

        def mat(kind: str, thickness: float = 0.2, scattering: float = 0.0) -> Any:
            if kind not in mats:
                mats[kind] = rt.ITURadioMaterial(
                    f"itu-{kind}",
                    kind,
                    thickness=thickness,
                    scattering_coefficient=scattering,
                )
            return mats[kind]

        objs = []
        b = self.city.buildings
        for i, (fp, h) in enumerate(zip(b.footprints_m, b.heights_m, strict=True)):
            if len(fp) < 3 or not h > 0:
                continue
            verts, faces = prism_faces(fp, float(h))
            name = f"building-{i}"
            objs.append(
                rt.SceneObject(
                    mi_mesh=_mesh(mi, name, verts, faces),
                    name=name,
                    radio_material=mat(
                        self.building_materials[i], scattering=self.scattering_coefficient
                    ),
                )
            )
        x0, y0, x1, y1 = self.city.bounds_m
        m = max(50.0, 0.1 * max(x1 - x0, y1 - y0))
        g = np.array(
            [[x0 - m, y0 - m, 0], [x1 + m, y0 - m, 0], [x1 + m, y1 + m, 0], [x0 - m, y1 + m, 0]]
        )
        gmat = rt.ITURadioMaterial("ground-mat", self.ground_material, thickness=1.0)
        objs.append(
            rt.SceneObject(
                mi_mesh=_mesh(mi, "ground", g, np.array([[0, 1, 2], [0, 2, 3]])),
                name="ground",
                radio_material=gmat,
            )
        )
        scene.edit(add=objs)  # one scene rebuild for all objects
        scene.tx_array = rt.PlanarArray(
            num_rows=1, num_cols=1, pattern=_PATTERNS[self.station_antenna], polarization="V"
        )
        scene.rx_array = rt.PlanarArray(
            num_rows=1,
            num_cols=1,
            pattern=_PATTERNS[self.user_antenna],
            polarization=self.user_polarization,
        )
        return scene

    def _set_stations(
        self,
        tx: FloatArray,
        azimuth_deg: ArrayLike | None,
        tilt_deg: ArrayLike | None,
        power_dbm: ArrayLike | None = None,
    ) -> None:
        rt, _, _ = import_rt()
        n = tx.shape[0]
        az = np.deg2rad(_per_station(azimuth_deg, n, "azimuth_deg", 0.0)[:, 0])
        tilt = np.deg2rad(_per_station(tilt_deg, n, "tilt_deg", 90.0)[:, 0])
        pw = _per_station(power_dbm, n, "tx_power_dbm", 0.0)[:, 0]
        scene = self.scene
        for name in list(scene.transmitters):
            scene.remove(name)
        for i in range(n):
            scene.add(
                rt.Transmitter(
                    f"station-{i}",
                    position=[float(v) for v in tx[i]],
                    orientation=[float(az[i]), float(tilt[i]), 0.0],
                    power_dbm=float(pw[i]),
                )
            )

    def _set_users(self, rx: FloatArray) -> None:
        rt, _, _ = import_rt()
        scene = self.scene
        for name in list(scene.receivers):
            scene.remove(name)
        for j in range(rx.shape[0]):
            scene.add(rt.Receiver(f"user-{j}", position=[float(v) for v in rx[j]]))

    # ------------------------------------------------------------------ queries

    def line_of_sight(self, tx_xyz_m: ArrayLike, rx_xyz_m: ArrayLike) -> BoolArray:
        """``(N, U)`` True where the station-user segment crosses no building (the city's exact
        prism geometry, as the analytic engine; no ray tracing)."""
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        rx = _as_points(rx_xyz_m, "rx_xyz_m")
        return self.city.line_of_sight_matrix(tx, rx)

    def paths(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
    ) -> UserPaths:
        """Per-user channels from the path solver (LoS + specular reflection + refraction, and
        one edge diffraction with ``diffraction``).

        The solver's memory grows with the users of a call x stations x rays, so the users are
        traced in chunks of :meth:`users_per_call` (from ``memory_gb``); the candidate cap and
        the de-duplication hash tables grow with the chunk, so that a user's paths do not depend
        on the other users of its call (60 users in one call and one user per call gave equal
        gains on the default city). Paths Sionna returns with non-finite amplitudes are dropped
        (counted in ``dropped_paths``).

        Args:
            tx_xyz_m: ``(N, 3)`` station positions [m].
            rx_xyz_m: ``(U, 3)`` user positions [m].
            azimuth_deg, tilt_deg: station orientation [deg], scalar or ``(N,)``; defaults 0
                and 90 (straight down).
        """
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        rx = _as_points(rx_xyz_m, "rx_xyz_m")
        n, u = tx.shape[0], rx.shape[0]
        if n == 0 or u == 0:
            z = np.zeros((n, u, 0))
            return UserPaths(z, z, z, z, z.astype(bool), z.astype(bool))
        self._set_stations(tx, azimuth_deg, tilt_deg)
        chunk = self.users_per_call(n)
        parts = [self._trace_users(rx[k : k + chunk], n) for k in range(0, u, chunk)]
        self.dropped_paths = sum(d for _, d in parts)
        return _concat_users([p for p, _ in parts])

    def path_solver_kwargs(self) -> dict[str, Any]:
        """The per-user path solver's settings every caller shares: depth, rays per station,
        synthetic arrays, LoS + specular reflection + refraction (no diffuse), the seed."""
        return {
            "max_depth": self.max_depth,
            "samples_per_src": self.samples,
            "synthetic_array": True,
            "los": True,
            "specular_reflection": True,
            "diffuse_reflection": False,
            "refraction": True,
            "seed": self.seed,
        }

    def users_per_call(self, stations: int) -> int:
        """Users one path-solver call traces, from ``memory_gb`` (at least 1)."""
        per_user = max(stations, 1) * (
            _BYTES_PER_USER_RAY * self.samples + 8.0 * _HASH_SLOTS_PER_USER
        )
        return max(1, int((self.memory_gb * 1e9 - _CALL_BASE_BYTES) // per_user))

    def _trace_users(self, rx: FloatArray, n: int) -> tuple[UserPaths, int]:
        """One path-solver call for the stations already in the scene and the users ``rx``;
        returns the paths and how many non-finite paths were dropped."""
        rt, _, _ = import_rt()
        from sionna.rt.path_solvers.sb_candidate_generator import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
            SBCandidateGenerator,
        )

        u = rx.shape[0]
        self._set_users(rx)
        # the hash tables that de-duplicate candidates grow with the users of the call (Sionna
        # sizes them max(max_num_paths_per_src, MIN_SPEC_COUNT_SIZE) per station; the two
        # tables' indices must fit in 32 bits over all stations)
        default_slots = SBCandidateGenerator.MIN_SPEC_COUNT_SIZE
        slots = min(max(default_slots, _HASH_SLOTS_PER_USER * u), 0x7FFFFFFF // max(n, 1))
        SBCandidateGenerator.MIN_SPEC_COUNT_SIZE = slots
        try:
            p = rt.PathSolver(deterministic=True)(
                self.scene,
                max_num_paths_per_src=max(self.samples, _CANDIDATES_PER_USER * u),
                diffraction=self.diffraction,
                **self.path_solver_kwargs(),
            )
        finally:
            SBCandidateGenerator.MIN_SPEC_COUNT_SIZE = default_slots
        a_re, a_im = p.a  # [U, rx_ant, N, tx_ant, P]
        # sum the power over the user's ports (one for "V", two for "cross")
        gain = (np.asarray(a_re, np.float64) ** 2 + np.asarray(a_im, np.float64) ** 2).sum(
            axis=(1, 3)
        )
        valid = np.asarray(p.valid, dtype=bool).reshape(u, n, -1)  # [U, N, P]
        if valid.shape[-1] == 0:  # no path at all between any station and any user
            z = np.zeros((n, u, 0))
            return UserPaths(z, z, z, z, z.astype(bool), z.astype(bool)), 0
        # sionna-rt 2.2 sometimes returns extra copies of a direct path, marked valid, with NaN
        # amplitudes (the finite original is also there): they carry no power, drop them
        finite = np.isfinite(gain)
        dropped = int((valid & ~finite).sum())
        valid &= finite
        inter = np.asarray(p.interactions).reshape(-1, u, n, valid.shape[-1])
        los = valid & np.all(inter == 0, axis=0)  # InteractionType.NONE == 0

        def nu(x: Any) -> FloatArray:
            y = np.asarray(x, np.float64).reshape(u, n, -1)
            return np.asarray(np.swapaxes(np.where(valid, y, 0.0), 0, 1))

        return UserPaths(
            gain=nu(gain),
            delay_s=nu(p.tau),
            theta_t_rad=nu(p.theta_t),
            phi_t_rad=nu(p.phi_t),
            valid=np.swapaxes(valid, 0, 1),
            los=np.swapaxes(los, 0, 1),
        ), dropped

    def path_gain_db(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
        los: ArrayLike | None = None,
    ) -> FloatArray:
        """``(N, U)`` ray-traced path gain [dB]: sum of ``|a|^2`` over the valid paths, both
        antenna patterns included; ``PATH_GAIN_FLOOR_DB`` where no path was found.

        ``los`` is accepted for interface compatibility and ignored: the ray tracer decides
        visibility itself.
        """
        del los
        return self.paths(
            tx_xyz_m, rx_xyz_m, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg
        ).path_gain_db()

    def received_power_dbm(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        tx_power_dbm: ArrayLike,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
    ) -> FloatArray:
        """``(N, U)`` received power [dBm] = ``tx_power_dbm`` (scalar or ``(N,)``) + path gain."""
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        p_tx = _per_station(tx_power_dbm, tx.shape[0], "tx_power_dbm", 0.0)
        gain = self.path_gain_db(tx, rx_xyz_m, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg)
        return np.asarray(p_tx + gain, dtype=np.float64)

    def _map_kwargs(self, stations: int) -> dict[str, Any]:
        """Solver settings shared by :meth:`coverage_map` and :meth:`ray_map` (same rays)."""
        return {
            "samples_per_tx": max(1, self.map_samples // stations),
            "max_depth": self.max_depth,
            "los": True,
            "specular_reflection": True,
            "diffuse_reflection": self.diffuse,
            "refraction": True,
            "seed": self.seed,
        }

    def coverage_map(
        self,
        tx_xyz_m: ArrayLike,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
        cell_m: float = 10.0,
        height_m: float = 1.5,
        grid: MapGrid | None = None,
    ) -> CoverageMap:
        """Coverage map over the city bounds from the radio-map solver (seeded).

        ``map_samples`` rays are shared by the stations; LoS, specular reflection, refraction
        and (if ``diffuse``) diffuse reflection, up to ``max_depth`` interactions.

        Args:
            tx_xyz_m: ``(N, 3)`` station positions [m].
            azimuth_deg, tilt_deg: station orientation [deg], scalar or ``(N,)``.
            cell_m: cell side [m].
            height_m: height of the measurement plane above ground [m].
            grid: the map grid (default :meth:`MapGrid.over` the city with ``cell_m`` and
                ``height_m``).
        """
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        n = tx.shape[0]
        if n == 0:
            raise ValueError("coverage_map needs at least one station")
        g = grid if grid is not None else MapGrid.over(self.city, cell_m=cell_m, height_m=height_m)
        rt, _, _ = import_rt()
        self._set_stations(tx, azimuth_deg, tilt_deg)
        rm = rt.RadioMapSolver()(self.scene, **g.solver_kwargs(), **self._map_kwargs(n))
        pg = np.asarray(rm.path_gain, dtype=np.float64).reshape(n, g.ny, g.nx)
        return CoverageMap(path_gain_db=_to_db(pg), cell_centers_m=g.centers_m())

    def ray_map(self, tx_xyz_m: ArrayLike, *, grid: MapGrid) -> RayMap:
        """Trace the coverage map once and keep every ray's contribution to every cell.

        The same solver call as :meth:`coverage_map` (same rays, seed and interactions) with an
        isotropic source in both polarisations at orientation identity; a recording radio map
        stores, for every crossing of a ray through the measurement plane, the ray, the cell and
        the field terms ``|u|^2, |v|^2, Re(u^H v)`` times Sionna's ray weight (see
        :class:`RayMap`). :meth:`RayMap.path_gain_db` then gives the coverage map of any
        station pattern, azimuth and tilt without tracing again (issue 4, "trace once").

        Memory: up to ``(max_depth + 1) * map_samples`` crossings are buffered during the trace
        (20 bytes each; 400 MB for 5 million rays at depth 3), then merged per (ray, cell).

        Args:
            tx_xyz_m: ``(N, 3)`` station positions [m].
            grid: the map grid.

        Raises:
            SkycellError: the ``rt`` extra or LLVM 16+ is missing.
        """
        t0 = time.perf_counter()
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        n = tx.shape[0]
        if n == 0:
            raise ValueError("ray_map needs at least one station")
        rt, mi, dr = import_rt()
        import sionna.rt.radio_map_solvers.radio_map_solver as rms  # type: ignore[import-not-found,import-untyped,unused-ignore]
        from sionna.rt.utils import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
            fibonacci_lattice,
        )

        kwargs = self._map_kwargs(n)
        per_station = int(kwargs["samples_per_tx"])
        total = per_station * n
        recorder = _recording_map_class()
        recorder.capacity = total * (self.max_depth + 1)
        recorder.lane_ids = dr.arange(mi.UInt, total)
        dr.make_opaque(recorder.lane_ids)
        self._set_stations(tx, np.zeros(n), np.zeros(n))  # orientation identity
        scene = self.scene
        station_array = scene.tx_array
        scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="VH")
        original = rms.PlanarRadioMap
        rms.PlanarRadioMap = recorder
        try:
            rm = rt.RadioMapSolver()(scene, **grid.solver_kwargs(), **kwargs)
        finally:
            rms.PlanarRadioMap = original
            scene.tx_array = station_array
            recorder.lane_ids = None
        count = int(np.asarray(rm.rec_counter)[0])
        if count > recorder.capacity:  # cannot happen: one crossing per segment at most
            raise SkycellError(f"ray_map: {count} crossings overflowed {recorder.capacity} slots")
        lane = np.asarray(rm.rec_lane, dtype=np.int64)[:count]
        cell = np.asarray(rm.rec_cell, dtype=np.int64)[:count] % grid.cells  # drop station
        # the default precoding scales each of the two patterns by 1/sqrt(2): undo it
        q = 2.0 * np.stack(
            [np.asarray(a, dtype=np.float64)[:count] for a in (rm.rec_uu, rm.rec_vv, rm.rec_uv)],
            axis=-1,
        )
        del rm
        key, inverse = np.unique(lane * grid.cells + cell, return_inverse=True)
        record_q = np.stack(
            [np.bincount(inverse, weights=q[:, k], minlength=key.size) for k in range(3)],
            axis=-1,
        ).astype(np.float64)
        lanes, record_ray = np.unique(key // grid.cells, return_inverse=True)
        k = mi.warp.square_to_uniform_sphere(fibonacci_lattice(per_station))
        lattice = np.stack([np.asarray(c, dtype=np.float64) for c in (k.x, k.y, k.z)], axis=-1)
        direction = lattice[lanes % per_station]
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        return RayMap(
            grid=grid,
            stations=n,
            ray_station=np.asarray(lanes // per_station, dtype=np.int64),
            ray_direction=direction,
            record_ray=np.asarray(record_ray, dtype=np.int64).reshape(-1),
            record_cell=np.asarray(key % grid.cells, dtype=np.int64),
            record_q=record_q,
            rays_per_station=per_station,
            trace_s=time.perf_counter() - t0,
        )

    def coverage_path_gain_db(
        self,
        tx_xyz_m: ArrayLike,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
        cell_m: float = 10.0,
        height_m: float = 1.5,
    ) -> FloatArray:
        """``(N, ny, nx)`` path gain [dB] per station per cell; see :meth:`coverage_map`."""
        return self.coverage_map(
            tx_xyz_m, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg, cell_m=cell_m, height_m=height_m
        ).path_gain_db


_RECORDER: Any = None


def _recording_map_class() -> Any:
    """A ``PlanarRadioMap`` that records every ray crossing instead of only summing it.

    ``RadioMapSolver`` builds its ``PlanarRadioMap`` internally; :meth:`SionnaEngine.ray_map`
    substitutes this subclass for the call. Its ``add_paths`` computes what Sionna's does (cell
    index, ray weight ``solid_angle / |cos|`` times the normalisation) but, instead of one
    coherent sum over the antenna patterns, keeps the two polarisations' fields apart and appends
    ``(lane, station * cells + cell, |u|^2 w, |v|^2 w, (u . v) w)`` to preallocated buffers
    through an atomic counter. ``lane`` identifies the ray (station-major, as Sionna spawns
    them), hence its departure direction on the Fibonacci lattice. Written for sionna-rt 2.2
    (the version the ``rt`` extra pins).
    """
    global _RECORDER
    if _RECORDER is not None:
        return _RECORDER
    _, mi, dr = import_rt()
    from sionna.rt.radio_map_solvers.planar_radio_map import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
        PlanarRadioMap,
    )

    class _RecordingRadioMap(PlanarRadioMap):  # type: ignore[misc]
        capacity: int = 0
        lane_ids: Any = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            cap = type(self).capacity
            self.rec_counter = dr.zeros(mi.UInt, 1)
            self.rec_lane = dr.zeros(mi.UInt, cap)
            self.rec_cell = dr.zeros(mi.UInt, cap)
            self.rec_uu = dr.zeros(mi.Float, cap)
            self.rec_vv = dr.zeros(mi.Float, cap)
            self.rec_uv = dr.zeros(mi.Float, cap)

        def add_paths(
            self,
            e_fields: list[Any],
            array_w: list[Any],
            si: Any,
            k_world: Any,
            tx_indices: Any,
            active: Any,
            diffracted_paths: bool,
            solid_angle: Any = None,
            **kwargs: Any,
        ) -> None:
            if diffracted_paths:
                raise SkycellError("ray_map does not record diffracted paths")
            cell_ind = mi.UInt(self._local_to_cell_ind(si.uv))
            u = array_w[0] @ e_fields[0]
            v = array_w[1] @ e_fields[1]
            cos_theta = dr.abs(si.to_local(k_world).z)
            w = solid_angle * dr.rcp(cos_theta) * self._normalization_factor
            slot = dr.scatter_inc(self.rec_counter, mi.UInt(0), active)
            ok = active & (slot < type(self).capacity)
            dr.scatter(self.rec_lane, type(self).lane_ids, slot, ok)
            dr.scatter(self.rec_cell, tx_indices * self.cells_count + cell_ind, slot, ok)
            dr.scatter(self.rec_uu, dr.squared_norm(u) * w, slot, ok)
            dr.scatter(self.rec_vv, dr.squared_norm(v) * w, slot, ok)
            dr.scatter(self.rec_uv, dr.dot(u, v) * w, slot, ok)

    _RECORDER = _RecordingRadioMap
    return _RECORDER
