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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import ArrayLike

from skycell.errors import SkycellError
from skycell.radio.engine import BoolArray, FloatArray, _as_points, _per_station

if TYPE_CHECKING:
    from skycell.city.buildings import City

#: Path gain [dB] reported where no traced path (or ray) connects a station and a point.
PATH_GAIN_FLOOR_DB: Final[float] = -250.0

#: Building material names accepted (ITU-R P.2040 types in Sionna RT); an ``itu_`` prefix is
#: stripped, so ``"itu_concrete"`` and ``"concrete"`` are the same.
MATERIALS: Final[tuple[str, ...]] = (
    "concrete",
    "brick",
    "plasterboard",
    "wood",
    "glass",
    "ceiling_board",
    "chipboard",
    "plywood",
    "marble",
    "floorboard",
    "metal",
    "very_dry_ground",
    "medium_dry_ground",
    "wet_ground",
)

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


def check_material(name: str) -> str:
    """The ITU material type for a building material name (``itu_`` prefix allowed).

    Raises:
        ValueError: unknown name (the message lists the allowed names).
    """
    key = name.lower().removeprefix("itu_")
    if key not in MATERIALS:
        allowed = ", ".join(repr(m) for m in MATERIALS)
        raise ValueError(f"unknown building material {name!r}; choose one of: {allowed}")
    return key


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
            pattern and the user antenna; ``PATH_GAIN_FLOOR_DB`` where no ray reached the cell.
        cell_centers_m: ``(ny, nx, 3)`` cell centres [m].
    """

    path_gain_db: FloatArray
    cell_centers_m: FloatArray


def _to_db(linear: ArrayLike) -> FloatArray:
    g = np.asarray(linear, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(g)
    return np.asarray(np.maximum(out, PATH_GAIN_FLOOR_DB), dtype=np.float64)


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
        """Per-user channels from the path solver (LoS + specular reflection + refraction).

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
        rt, _, _ = import_rt()
        self._set_stations(tx, azimuth_deg, tilt_deg)
        self._set_users(rx)
        p = rt.PathSolver()(
            self.scene,
            max_depth=self.max_depth,
            max_num_paths_per_src=self.samples,
            samples_per_src=self.samples,
            synthetic_array=True,
            los=True,
            specular_reflection=True,
            diffuse_reflection=False,
            refraction=True,
            seed=self.seed,
        )
        a_re, a_im = p.a  # [U, rx_ant, N, tx_ant, P]
        # sum the power over the user's ports (one for "V", two for "cross")
        gain = (np.asarray(a_re, np.float64) ** 2 + np.asarray(a_im, np.float64) ** 2).sum(
            axis=(1, 3)
        )
        valid = np.asarray(p.valid, dtype=bool).reshape(u, n, -1)  # [U, N, P]
        inter = np.asarray(p.interactions).reshape(-1, u, n, valid.shape[-1])
        los = valid & np.all(inter == 0, axis=0)  # InteractionType.NONE == 0

        def nu(x: Any) -> FloatArray:
            return np.asarray(np.swapaxes(np.asarray(x, np.float64).reshape(u, n, -1), 0, 1))

        return UserPaths(
            gain=nu(np.where(valid, gain, 0.0)),
            delay_s=nu(p.tau),
            theta_t_rad=nu(p.theta_t),
            phi_t_rad=nu(p.phi_t),
            valid=np.swapaxes(valid, 0, 1),
            los=np.swapaxes(los, 0, 1),
        )

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

    def coverage_map(
        self,
        tx_xyz_m: ArrayLike,
        *,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
        cell_m: float = 10.0,
        height_m: float = 1.5,
    ) -> CoverageMap:
        """Coverage map over the city bounds from the radio-map solver (seeded).

        ``map_samples`` rays are shared by the stations; LoS, specular reflection, refraction
        and (if ``diffuse``) diffuse reflection, up to ``max_depth`` interactions.

        Args:
            tx_xyz_m: ``(N, 3)`` station positions [m].
            azimuth_deg, tilt_deg: station orientation [deg], scalar or ``(N,)``.
            cell_m: cell side [m].
            height_m: height of the measurement plane above ground [m].
        """
        tx = _as_points(tx_xyz_m, "tx_xyz_m")
        n = tx.shape[0]
        if n == 0:
            raise ValueError("coverage_map needs at least one station")
        if not cell_m > 0:
            raise ValueError(f"cell_m must be > 0 [m], got {cell_m}")
        rt, _, _ = import_rt()
        self._set_stations(tx, azimuth_deg, tilt_deg)
        x0, y0, x1, y1 = self.city.bounds_m
        rm = rt.RadioMapSolver()(
            self.scene,
            center=[(x0 + x1) / 2, (y0 + y1) / 2, float(height_m)],
            orientation=[0.0, 0.0, 0.0],
            size=[x1 - x0, y1 - y0],
            cell_size=[float(cell_m), float(cell_m)],
            samples_per_tx=max(1, self.map_samples // n),
            max_depth=self.max_depth,
            los=True,
            specular_reflection=True,
            diffuse_reflection=self.diffuse,
            refraction=True,
            seed=self.seed,
        )
        pg = np.asarray(rm.path_gain, dtype=np.float64)
        centers = np.asarray(rm.cell_centers, dtype=np.float64)
        return CoverageMap(path_gain_db=_to_db(pg), cell_centers_m=centers)

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
