"""Paper 001: where one multi-antenna UAV should hover for the highest zero-forcing sum rate.

The UAV carries an ``M_T``-element planar array and serves the scenario's users (vehicles at an
intersection) by rank-adaptive zero forcing (:mod:`skycell.radio.beamforming`); the objective at
a position is paper 001's reward, the average over transmission ranks of the ZF sum rate
(eq. 5). This module holds what every paper 001 method shares and the three non-learning ones:

* :class:`SumRateProblem` — users, array, radio and the channel of ``engine.kind``: the analytic
  engine's geometric paths, or every path traced by Sionna RT (extra ``rt``); ``evaluate``
  gives eq. 5, the best-rank rate, SINR and received power at any batch of positions.
* :class:`SumRateField` — the grid of candidate positions (``fleet.positioning_area`` x
  ``fleet.min_altitude_m..max_altitude_m``, ``sumrate.grid_step_m`` / ``altitude_step_m``),
  feasible where the UAV keeps ``fleet.building_clearance_m`` from every building box. Metrics
  are computed on demand in batches and kept for every point visited (a few floats each);
  channels are kept in a bounded LRU cache (``sumrate.max_cached_channels``); ``interpolate``
  gives the metrics between grid points (trilinear). Measured on a 2-core CPU: a whole grid
  costs about 7 s per 10 000 points on the analytic engine (57 users, 4 x 4 array, 16 ranks)
  and about 90 ms per position on Sionna RT (10 000 rays, 3 interactions), after which a lookup
  costs microseconds — what makes an agent's step cost milliseconds, not a ray trace.
* :func:`place_exhaustive` — every feasible grid point (the paper's reference): the best, and the
  values at the top 1 %, 10 % and 30 % (the 99th, 90th and 70th percentiles of the grid's
  eq. 5 values, the dashed lines of Fig. 6).
* :func:`place_gradient_sumrate` — skycell's faster way: multi-start Adam ascent on a
  differentiable eq. 5 with respect to the continuous UAV position, minus paper 000 eq. 6's
  building penalty (see its docstring).
* :func:`place_fixed_dft` — Fig. 10's "non-twin" operation: the UAV at a fixed position
  (``sumrate.fixed_positions_m``), DFT-codebook beams (and, for reference, ZF) there.

The DDPG and DQN agents live in :mod:`skycell.plan.place_sumrate_rl`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.plan.assignment import UserPlacement, users_xyz_m
from skycell.radio.beamforming import (
    PathSet,
    PlanarArray,
    RankAdaptiveResult,
    analytic_paths,
    dft_beam_transmission,
    dft_codebook,
    rank_adaptive_zf,
)

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.radio.engine import AnalyticEngine
    from skycell.radio.sionna_engine import SionnaEngine
    from skycell.scenario import Scenario, User

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
ComplexArray = NDArray[np.complex128]

#: Positions evaluated per batch on the analytic engine (memory: B x K x M_T complex).
ANALYTIC_BATCH: Final[int] = 1024
#: Positions traced per Sionna RT path-solver call.
SIONNA_BATCH: Final[int] = 64
#: Percentiles reported by the exhaustive search: top 1 %, 10 %, 30 %.
TOP_FRACTIONS: Final[tuple[float, ...]] = (0.01, 0.10, 0.30)
#: Metric names of :meth:`SumRateProblem.evaluate`.
METRICS: Final[tuple[str, ...]] = (
    "sum_rate_bps_hz",
    "best_rank_sum_rate_bps_hz",
    "best_rank",
    "mean_sinr_db",
    "mean_rx_power_dbm",
    "users_in_los",
)


def _dbm_to_w(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))


def _undefined_materials(frequency_hz: float, materials: tuple[str, ...]) -> list[str]:
    """ITU materials (P.2040) that Sionna RT cannot evaluate at ``frequency_hz``."""
    from sionna.rt.radio_materials.itu import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
        ITU_MATERIALS_PROPERTIES,
    )

    bad = []
    f_ghz = frequency_hz / 1e9
    for m in sorted(set(materials)):
        ranges = ITU_MATERIALS_PROPERTIES.get(m, [])
        if not any(lo <= f_ghz <= hi for lo, hi in ranges):
            spans = ", ".join(f"{lo:g}-{hi:g} GHz" for lo, hi in ranges)
            bad.append(f"{m!r} ({spans})")
    return bad


def make_sumrate_sionna_engine(scenario: Scenario, city: City) -> SionnaEngine:
    """The Sionna RT engine of the sum-rate methods: the scenario's ``engine`` settings with a
    concrete ground (ITU-R P.2040's ground types stop at 10 GHz; concrete, valid to 100 GHz,
    stands in for the asphalt of an intersection).

    Raises:
        SkycellError: the ``rt`` extra or LLVM 16+ is missing, or a building material that
            P.2040 does not define at the carrier (each listed with its range).
    """
    from skycell.radio.materials import check_material
    from skycell.radio.sionna_engine import rt_available

    ok, why = rt_available()
    if not ok:
        raise SkycellError(f"engine sionna: {why}; or set engine.kind: analytic")
    r, e = scenario.radio, scenario.engine
    mats = tuple(check_material(m) for m in city.buildings.materials) or (
        check_material(e.material),
    )
    bad = _undefined_materials(r.frequency_hz, (*mats, "concrete"))
    if bad:
        raise SkycellError(
            f"engine sionna at {r.frequency_hz / 1e9:g} GHz: ITU-R P.2040 does not define "
            f"{', '.join(bad)}; give the buildings materials valid there (concrete, glass, "
            "metal, wood, ...)"
        )
    from skycell.plan.pipeline import make_sionna_engine

    return make_sionna_engine(scenario, city, ground_material="concrete")


@dataclass
class SumRateProblem:
    """One UAV with a planar array serving the scenario's users by rank-adaptive ZF.

    Attributes:
        scenario: the scenario.
        city: its city.
        users_xyz_m: ``(K, 3)`` user positions [m].
        array: the station's array (``sumrate.array_*``).
        offsets_m: ``(M_T, 3)`` element offsets, array facing the ground [m].
        tx_power_w: total transmit power ``radio.tx_power_dbm`` [W].
        noise_power_w: user noise power (``scenario.noise_floor_dbm``) [W].
        max_rank: ``N_R`` of eq. 5.
        engine_kind: ``analytic`` or ``sionna``.
        engine: the channel engine.
        bounds_m: ``(x_min, y_min, z_min, x_max, y_max, z_max)`` of the positioning volume.
        boxes_m: ``(B, 5)`` building boxes ``[x_min, y_min, x_max, y_max, height]`` [m].
        clearance_m: ``fleet.building_clearance_m`` [m].
    """

    scenario: Scenario
    city: City
    users_xyz_m: FloatArray
    array: PlanarArray
    offsets_m: FloatArray
    tx_power_w: float
    noise_power_w: float
    max_rank: int
    engine_kind: str
    engine: AnalyticEngine | SionnaEngine
    bounds_m: tuple[float, float, float, float, float, float]
    boxes_m: FloatArray
    clearance_m: float
    traced_positions: int = 0

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        city: City,
        users: tuple[User, ...],
        *,
        engine_kind: str | None = None,
    ) -> SumRateProblem:
        """The problem of a scenario's users (see the class docstring).

        Raises:
            SkycellError: no users, a rank above the users or elements, or a Sionna engine
                that cannot run here.
        """
        from skycell.plan.pipeline import make_engine

        if not users:
            raise SkycellError(
                "the sum-rate methods serve the scenario's users, but it has none; add `users` "
                "or `user_groups`"
            )
        s = scenario.sumrate
        array = PlanarArray(s.array_rows, s.array_cols, s.array_spacing_wavelengths)
        xyz = users_xyz_m(users)
        n_max = min(array.elements, xyz.shape[0])
        rank = n_max if s.max_rank is None else int(s.max_rank)
        if rank > n_max:
            raise SkycellError(
                f"sumrate.max_rank = {rank} exceeds min(M_T = {array.elements}, users = "
                f"{xyz.shape[0]}) = {n_max}; lower it or leave it null"
            )
        kind = engine_kind or scenario.engine.kind
        engine: AnalyticEngine | SionnaEngine
        if kind == "sionna":
            engine = make_sumrate_sionna_engine(scenario, city)
        elif kind == "analytic":
            engine = make_engine(scenario, city)
        else:
            raise SkycellError(f"unknown engine {kind!r}; choose analytic or sionna")
        a = scenario.fleet.positioning_area or scenario.area
        z_lo, z_hi = scenario.altitude_range_m
        b = city.buildings
        boxes = np.column_stack([b.bbox_m, b.heights_m]) if len(b) else np.zeros((0, 5), np.float64)
        return cls(
            scenario=scenario,
            city=city,
            users_xyz_m=xyz,
            array=array,
            offsets_m=array.element_offsets_m(scenario.radio.frequency_hz),
            tx_power_w=_dbm_to_w(scenario.radio.tx_power_dbm),
            noise_power_w=_dbm_to_w(scenario.noise_floor_dbm),
            max_rank=rank,
            engine_kind=kind,
            engine=engine,
            bounds_m=(a.x_min_m, a.y_min_m, z_lo, a.x_max_m, a.y_max_m, z_hi),
            boxes_m=np.asarray(boxes, dtype=np.float64),
            clearance_m=float(scenario.fleet.building_clearance_m),
        )

    # ------------------------------------------------------------------ geometry

    def box_distance_m(self, xyz_m: FloatArray) -> FloatArray:
        """``(P, B)`` 3-D distance [m] from each position to each building's box (0 inside):
        paper 000 eq. 7 extended by the height, ``dz = max(z - H, 0)``."""
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        bx = self.boxes_m
        dx = np.maximum(
            np.maximum(bx[None, :, 0] - p[:, None, 0], p[:, None, 0] - bx[None, :, 2]), 0
        )
        dy = np.maximum(
            np.maximum(bx[None, :, 1] - p[:, None, 1], p[:, None, 1] - bx[None, :, 3]), 0
        )
        dz = np.maximum(p[:, None, 2] - bx[None, :, 4], 0.0)
        return np.asarray(np.sqrt(dx * dx + dy * dy + dz * dz), dtype=np.float64)

    def feasible(self, xyz_m: FloatArray) -> BoolArray:
        """``(P,)`` inside the positioning volume and at least ``clearance_m`` from every
        building box."""
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        lo = np.array(self.bounds_m[:3]) - 1e-9
        hi = np.array(self.bounds_m[3:]) + 1e-9
        ok = np.all((p >= lo) & (p <= hi), axis=1)
        if self.boxes_m.shape[0]:
            ok &= np.all(self.box_distance_m(p) >= self.clearance_m, axis=1)
        return np.asarray(ok, dtype=bool)

    # ------------------------------------------------------------------ channels

    def paths(self, xyz_m: FloatArray) -> PathSet:
        """Paths from each position ``(B, 3)`` to every user (analytic or Sionna RT)."""
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        if self.engine_kind == "sionna":
            from skycell.radio.beamforming import sionna_paths
            from skycell.radio.sionna_engine import SionnaEngine

            assert isinstance(self.engine, SionnaEngine)
            self.traced_positions += p.shape[0]
            return sionna_paths(self.engine, p, self.users_xyz_m, batch=SIONNA_BATCH)
        from skycell.radio.engine import AnalyticEngine

        assert isinstance(self.engine, AnalyticEngine)
        return analytic_paths(self.engine, p, self.users_xyz_m)

    def channels(self, xyz_m: FloatArray) -> tuple[ComplexArray, BoolArray]:
        """``(B, K, M_T)`` channels and ``(B, K)`` direct-path flags at each position."""
        ps = self.paths(xyz_m)
        return ps.channel(self.offsets_m), ps.any_los

    def zf(self, channel: ComplexArray) -> RankAdaptiveResult:
        """Rank-adaptive ZF of ``(B, K, M_T)`` channels (eq. 5)."""
        return rank_adaptive_zf(
            channel,
            tx_power_w=self.tx_power_w,
            noise_power_w=self.noise_power_w,
            max_rank=self.max_rank,
        )

    def dft(self, channel: ComplexArray) -> RankAdaptiveResult:
        """DFT-codebook transmission of ``(B, K, M_T)`` channels (the non-twin baseline)."""
        cb = dft_codebook(self.array, oversampling=self.scenario.sumrate.dft_oversampling)
        return dft_beam_transmission(
            channel,
            cb,
            tx_power_w=self.tx_power_w,
            noise_power_w=self.noise_power_w,
            max_rank=self.max_rank,
        )

    def metrics_of(self, res: RankAdaptiveResult, los: BoolArray) -> dict[str, FloatArray]:
        """The :data:`METRICS` of a transmission result ``(B,)`` each."""
        return {
            "sum_rate_bps_hz": res.average_sum_rate_bps_hz,
            "best_rank_sum_rate_bps_hz": res.best_sum_rate_bps_hz,
            "best_rank": res.best_rank.astype(np.float64),
            "mean_sinr_db": res.mean_sinr_db,
            "mean_rx_power_dbm": res.mean_signal_power_dbm,
            "users_in_los": los.sum(axis=-1).astype(np.float64),
        }

    def evaluate(self, xyz_m: FloatArray) -> tuple[dict[str, FloatArray], ComplexArray]:
        """:data:`METRICS` (``(B,)`` each) and channels at positions ``(B, 3)`` [m] (eq. 5 with
        rank-adaptive ZF; ``sum_rate_bps_hz`` is the reward)."""
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        step = SIONNA_BATCH * 4 if self.engine_kind == "sionna" else ANALYTIC_BATCH
        parts: list[dict[str, FloatArray]] = []
        chans: list[ComplexArray] = []
        for s in range(0, p.shape[0], step):
            h, los = self.channels(p[s : s + step])
            parts.append(self.metrics_of(self.zf(h), los))
            chans.append(h)
        if not parts:
            m = self.array.elements
            empty = {k: np.zeros(0) for k in METRICS}
            return empty, np.zeros((0, self.users_xyz_m.shape[0], m), dtype=np.complex128)
        return {k: np.concatenate([d[k] for d in parts]) for k in METRICS}, np.concatenate(chans)


@dataclass
class SumRateField:
    """Eq. 5 and its companions on the grid of candidate positions, computed on demand.

    Attributes:
        problem: the sum-rate problem.
        x_m, y_m, z_m: grid axes [m].
        feasible: ``(X, Y, Z)`` the UAV may hover there.
        values: metric name -> ``(X, Y, Z)`` array, NaN where not computed yet.
        computed: ``(X, Y, Z)`` metrics are known.
        evaluations: positions evaluated so far (channel computations).
    """

    problem: SumRateProblem
    x_m: FloatArray
    y_m: FloatArray
    z_m: FloatArray
    feasible: BoolArray
    values: dict[str, FloatArray]
    computed: BoolArray
    evaluations: int = 0
    _channels: OrderedDict[tuple[int, int, int], ComplexArray] = field(default_factory=OrderedDict)

    @classmethod
    def build(cls, problem: SumRateProblem) -> SumRateField:
        """The grid of ``problem``'s positioning volume (see the module docstring).

        Raises:
            SkycellError: no feasible grid point.
        """
        s = problem.scenario.sumrate
        x0, y0, z0, x1, y1, z1 = problem.bounds_m

        def axis(lo: float, hi: float, step: float) -> FloatArray:
            n = int(np.floor((hi - lo) / step + 1e-9)) + 1
            return np.asarray(lo + step * np.arange(n), dtype=np.float64)

        x, y = axis(x0, x1, s.grid_step_m), axis(y0, y1, s.grid_step_m)
        z = axis(z0, z1, s.altitude_step_m)
        gx, gy, gz = np.meshgrid(x, y, z, indexing="ij")
        pts = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
        feas = problem.feasible(pts).reshape(gx.shape)
        if not feas.any():
            raise SkycellError(
                "no grid point of the positioning volume keeps fleet.building_clearance_m "
                f"({problem.clearance_m:g} m) from every building; enlarge the volume "
                "(fleet.positioning_area, max_altitude_m) or lower the clearance"
            )
        vals = {k: np.full(gx.shape, np.nan) for k in METRICS}
        return cls(problem, x, y, z, feas, vals, np.zeros(gx.shape, dtype=bool))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(X, Y, Z)`` points per axis."""
        return (self.x_m.size, self.y_m.size, self.z_m.size)

    def points_m(self, index: IntArray) -> FloatArray:
        """Positions ``(P, 3)`` [m] of grid indices ``(P, 3)``."""
        i = np.asarray(index, dtype=np.int64).reshape(-1, 3)
        return np.column_stack([self.x_m[i[:, 0]], self.y_m[i[:, 1]], self.z_m[i[:, 2]]])

    def nearest_index(self, xyz_m: FloatArray) -> IntArray:
        """Grid index ``(P, 3)`` of the grid point nearest each position ``(P, 3)``."""
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        out = np.empty(p.shape, dtype=np.int64)
        for a, ax in enumerate((self.x_m, self.y_m, self.z_m)):
            step = ax[1] - ax[0] if ax.size > 1 else 1.0
            out[:, a] = np.clip(np.rint((p[:, a] - ax[0]) / step), 0, ax.size - 1)
        return out

    def feasible_index(self) -> IntArray:
        """``(F, 3)`` indices of the feasible grid points (x, then y, then z order)."""
        return np.asarray(np.argwhere(self.feasible), dtype=np.int64)

    def ensure(self, index: IntArray) -> None:
        """Compute the metrics (and cache the channels) of grid points not computed yet;
        infeasible points are skipped (their metrics stay NaN)."""
        i = np.asarray(index, dtype=np.int64).reshape(-1, 3)
        need = i[
            ~self.computed[i[:, 0], i[:, 1], i[:, 2]] & self.feasible[i[:, 0], i[:, 1], i[:, 2]]
        ]
        if need.shape[0] == 0:
            return
        need = np.unique(need, axis=0)
        metrics, chans = self.problem.evaluate(self.points_m(need))
        t = (need[:, 0], need[:, 1], need[:, 2])
        for k in METRICS:
            self.values[k][t] = metrics[k]
        self.computed[t] = True
        self.evaluations += need.shape[0]
        cap = self.problem.scenario.sumrate.max_cached_channels
        for row, h in zip(need, chans, strict=True):
            self._channels[(int(row[0]), int(row[1]), int(row[2]))] = h
        while len(self._channels) > cap:
            self._channels.popitem(last=False)

    def metric(self, name: str, index: IntArray) -> FloatArray:
        """``(P,)`` metric ``name`` at grid indices (computed on demand; NaN if infeasible)."""
        i = np.asarray(index, dtype=np.int64).reshape(-1, 3)
        self.ensure(i)
        return np.asarray(self.values[name][i[:, 0], i[:, 1], i[:, 2]], dtype=np.float64)

    def reward(self, index: IntArray) -> FloatArray:
        """Paper 001's reward (eq. 5) at grid indices."""
        return self.metric("sum_rate_bps_hz", index)

    def interpolate(self, names: tuple[str, ...], xyz_m: FloatArray) -> dict[str, FloatArray]:
        """Metrics at continuous positions ``(P, 3)`` [m], trilinear between the 8 grid points
        of each position's cell (computed on demand).

        Corners that are infeasible (within a building's clearance) are left out and the
        remaining weights renormalised; a position whose corners are all infeasible takes the
        nearest feasible grid point's value. Exact at grid points.
        """
        p = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3)
        lo = np.empty(p.shape, dtype=np.int64)
        frac = np.empty(p.shape)
        for a, ax in enumerate((self.x_m, self.y_m, self.z_m)):
            if ax.size == 1:
                lo[:, a], frac[:, a] = 0, 0.0
                continue
            t = np.clip((p[:, a] - ax[0]) / (ax[1] - ax[0]), 0.0, ax.size - 1.0)
            lo[:, a] = np.minimum(np.floor(t).astype(np.int64), ax.size - 2)
            frac[:, a] = t - lo[:, a]
        bits = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
        corners = lo[:, None, :] + bits[None, :, :]  # (P, 8, 3)
        corners = np.minimum(corners, np.array(self.shape) - 1)
        w = np.prod(np.where(bits[None] == 1, frac[:, None, :], 1.0 - frac[:, None, :]), axis=-1)
        flat = corners.reshape(-1, 3)
        ok = self.feasible[flat[:, 0], flat[:, 1], flat[:, 2]].reshape(w.shape)
        self.ensure(flat[ok.reshape(-1)])
        w = np.where(ok, w, 0.0)
        total = w.sum(axis=1)
        none = total <= 1e-12
        out: dict[str, FloatArray] = {}
        nearest = None
        if none.any():
            feas = self.feasible_index()
            pts = self.points_m(feas)
            d = ((p[none][:, None, :] - pts[None, :, :]) ** 2).sum(axis=-1)
            nearest = feas[np.argmin(d, axis=1)]
            self.ensure(nearest)
        for name in names:
            v = self.values[name][flat[:, 0], flat[:, 1], flat[:, 2]].reshape(w.shape)
            val = np.where(
                none, 0.0, (np.where(ok, v, 0.0) * w).sum(axis=1) / np.where(none, 1, total)
            )
            if nearest is not None:
                val[none] = self.values[name][nearest[:, 0], nearest[:, 1], nearest[:, 2]]
            out[name] = np.asarray(val, dtype=np.float64)
        return out

    def channel(self, index: IntArray) -> ComplexArray:
        """``(P, K, M_T)`` channels at grid indices (from the cache, else recomputed)."""
        i = np.asarray(index, dtype=np.int64).reshape(-1, 3)
        out = np.empty(
            (i.shape[0], self.problem.users_xyz_m.shape[0], self.problem.array.elements),
            dtype=np.complex128,
        )
        missing = []
        for j, row in enumerate(i):
            key = (int(row[0]), int(row[1]), int(row[2]))
            h = self._channels.get(key)
            if h is None:
                missing.append(j)
            else:
                self._channels.move_to_end(key)
                out[j] = h
        if missing:
            h, _ = self.problem.channels(self.points_m(i[missing]))
            out[missing] = h
        return out

    def prefill(self, progress: Callable[[str, float], None] | None = None) -> None:
        """Compute every feasible grid point (in chunks; ``progress`` after each)."""
        idx = self.feasible_index()
        todo = idx[~self.computed[idx[:, 0], idx[:, 1], idx[:, 2]]]
        chunk = SIONNA_BATCH * 4 if self.problem.engine_kind == "sionna" else 4 * ANALYTIC_BATCH
        for s in range(0, todo.shape[0], chunk):
            self.ensure(todo[s : s + chunk])
            if progress is not None:
                progress(
                    f"evaluating the grid ({min(s + chunk, todo.shape[0])}/{todo.shape[0]})",
                    min(1.0, (s + chunk) / max(todo.shape[0], 1)),
                )


def field_for(
    scenario: Scenario, city: City, users: tuple[User, ...], *, engine_kind: str | None = None
) -> SumRateField:
    """The :class:`SumRateField` of a scenario's users."""
    return SumRateField.build(SumRateProblem.build(scenario, city, users, engine_kind=engine_kind))


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


def _placement(
    method: str,
    problem: SumRateProblem,
    position_m: FloatArray,
    metrics: dict[str, float],
    t0: float,
    extra: dict[str, Any],
    notes: list[str] | None = None,
) -> UserPlacement:
    """A one-UAV :class:`UserPlacement` serving every user (in time, over the ranks)."""
    n_users = problem.users_xyz_m.shape[0]
    sc = problem.scenario
    out_notes = list(notes or [])
    if sc.fleet.stations > 1:
        out_notes.append(
            f"paper 001 positions one UAV; fleet.stations = {sc.fleet.stations}, one is placed"
        )
    bw = sc.radio.bandwidth_hz
    return UserPlacement(
        method=method,
        station_xyz_m=np.asarray(position_m, dtype=np.float64).reshape(1, 3),
        association=np.zeros(n_users, dtype=np.int64),
        wall_time_s=time.perf_counter() - t0,
        notes=out_notes,
        extra={
            **{k: float(v) for k, v in metrics.items()},
            "sum_rate_bps": float(metrics["sum_rate_bps_hz"]) * bw,
            "engine": problem.engine_kind,
            "array_elements": problem.array.elements,
            "max_rank": problem.max_rank,
            **extra,
        },
    )


def _scalar_metrics(metrics: dict[str, FloatArray], j: int = 0) -> dict[str, float]:
    return {k: float(v[j]) for k, v in metrics.items()}


@dataclass(frozen=True)
class ExhaustiveResult:
    """Every feasible grid point's eq. 5 value.

    Attributes:
        points_m: ``(F, 3)`` feasible grid positions [m].
        values_bps_hz: ``(F,)`` their average sum rates (eq. 5) [bit/s/Hz].
        best_m: the best position [m].
        top_bps_hz: fraction -> the value at the top fraction (1 % -> 99th percentile).
        wall_time_s: evaluation time [s].
    """

    points_m: FloatArray
    values_bps_hz: FloatArray
    best_m: FloatArray
    top_bps_hz: dict[float, float]
    wall_time_s: float


def exhaustive_search(
    grid: SumRateField, *, progress: Callable[[str, float], None] | None = None
) -> ExhaustiveResult:
    """Evaluate every feasible grid point (vectorised in batches) and rank them.

    The top-``q`` value is ``numpy.quantile(values, 1 - q)`` (linear interpolation): a position
    reaches the top 1 % when its eq. 5 value is at least the 99th percentile.
    """
    t0 = time.perf_counter()
    grid.prefill(progress)
    idx = grid.feasible_index()
    vals = grid.values["sum_rate_bps_hz"][idx[:, 0], idx[:, 1], idx[:, 2]]
    pts = grid.points_m(idx)
    best = int(np.argmax(vals))
    return ExhaustiveResult(
        points_m=pts,
        values_bps_hz=np.asarray(vals, dtype=np.float64),
        best_m=pts[best],
        top_bps_hz={q: float(np.quantile(vals, 1.0 - q)) for q in TOP_FRACTIONS},
        wall_time_s=time.perf_counter() - t0,
    )


def place_exhaustive(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> UserPlacement:
    """Paper 001's exhaustive reference: the best of every feasible grid position (eq. 5).

    ``extra`` holds the metrics at the best point, ``top_1pct_bps_hz``, ``top_10pct_bps_hz``,
    ``top_30pct_bps_hz`` (the Fig. 6 dashed lines), ``grid_points`` and ``median_bps_hz``.
    ``seed`` is unused (the search is deterministic).
    """
    del seed
    t0 = time.perf_counter()
    grid = field_for(scenario, city, users)
    res = exhaustive_search(grid, progress=progress)
    best_idx = grid.nearest_index(res.best_m.reshape(1, 3))
    metrics = {k: float(grid.values[k][tuple(best_idx[0])]) for k in METRICS}
    return _placement(
        "exhaustive",
        grid.problem,
        res.best_m,
        metrics,
        t0,
        {
            "grid_points": int(res.values_bps_hz.size),
            "grid_shape": list(grid.shape),
            "top_1pct_bps_hz": res.top_bps_hz[0.01],
            "top_10pct_bps_hz": res.top_bps_hz[0.10],
            "top_30pct_bps_hz": res.top_bps_hz[0.30],
            "median_bps_hz": float(np.median(res.values_bps_hz)),
            "search_s": res.wall_time_s,
            "values_bps_hz": res.values_bps_hz.tolist(),
        },
    )


# ---------------------------------------------------------------------------------------------
# Non-twin: fixed positions, DFT codebook
# ---------------------------------------------------------------------------------------------


def fixed_position_table(problem: SumRateProblem, positions_m: FloatArray) -> list[dict[str, Any]]:
    """At each fixed position: DFT-codebook and rank-adaptive ZF metrics (Fig. 10's non-twin
    bars). Infeasible positions (inside a building's clearance) are reported as such."""
    p = np.asarray(positions_m, dtype=np.float64).reshape(-1, 3)
    h, los = problem.channels(p)
    dft = problem.metrics_of(problem.dft(h), los)
    zf = problem.metrics_of(problem.zf(h), los)
    ok = problem.feasible(p)
    return [
        {
            "position_m": [float(v) for v in p[j]],
            "feasible": bool(ok[j]),
            "dft": _scalar_metrics(dft, j),
            "zf": _scalar_metrics(zf, j),
        }
        for j in range(p.shape[0])
    ]


def place_fixed_dft(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> UserPlacement:
    """Paper 001's non-twin operation (Fig. 10): the UAV at ``sumrate.fixed_positions_m[0]``,
    users served on DFT-codebook beams (beam sweep, no channel knowledge, no position
    optimisation).

    ``extra`` holds the DFT metrics at that position (the headline figures) and
    ``fixed_positions``: DFT and rank-adaptive ZF metrics at every listed position.
    """
    del seed
    t0 = time.perf_counter()
    problem = SumRateProblem.build(scenario, city, users)
    pos = np.asarray(scenario.sumrate.fixed_positions_m, dtype=np.float64).reshape(-1, 3)
    table = fixed_position_table(problem, pos)
    notes = []
    if not table[0]["feasible"]:
        notes.append(
            f"the fixed position {table[0]['position_m']} is within "
            f"fleet.building_clearance_m of a building or outside the positioning volume"
        )
    if progress is not None:
        progress("fixed-dft: done", 1.0)
    return _placement(
        "fixed-dft",
        problem,
        pos[0],
        table[0]["dft"],
        t0,
        {"zf_sum_rate_bps_hz": table[0]["zf"]["sum_rate_bps_hz"], "fixed_positions": table},
        notes,
    )


# ---------------------------------------------------------------------------------------------
# gradient-sumrate
# ---------------------------------------------------------------------------------------------


def sobol_starts(problem: SumRateProblem, count: int, rng: np.random.Generator) -> FloatArray:
    """``count`` feasible starting positions [m]: a scrambled Sobol sequence over the
    positioning volume (seeded from ``rng``), infeasible points skipped.

    Raises:
        SkycellError: fewer than ``count`` feasible points in 64 x ``count`` draws.
    """
    from scipy.stats import qmc

    lo = np.array(problem.bounds_m[:3])
    hi = np.array(problem.bounds_m[3:])
    sampler = qmc.Sobol(d=3, scramble=True, seed=rng)
    n = 1 << max(1, math.ceil(math.log2(max(2, 4 * count))))
    pts = lo + (hi - lo) * sampler.random(n)
    ok = problem.feasible(pts)
    if ok.sum() < count:
        more = lo + (hi - lo) * sampler.random(64 * n)
        pts = np.concatenate([pts, more])
        ok = problem.feasible(pts)
    if ok.sum() < count:
        raise SkycellError(
            f"could not draw {count} feasible starting positions in the positioning volume; "
            "lower fleet.building_clearance_m or enlarge the volume"
        )
    return np.asarray(pts[ok][:count], dtype=np.float64)


def _distinct_best(
    positions_m: FloatArray, values: FloatArray, count: int, *, min_distance_m: float
) -> FloatArray:
    """Up to ``count`` positions, best value first, each at least ``min_distance_m`` from the
    ones already taken (starts that converged to the same optimum count once)."""
    taken: list[FloatArray] = []
    for j in np.argsort(-np.asarray(values), kind="stable"):
        p = np.asarray(positions_m[j], dtype=np.float64)
        if all(np.linalg.norm(p - q) >= min_distance_m for q in taken):
            taken.append(p)
        if len(taken) == count:
            break
    return np.asarray(taken, dtype=np.float64).reshape(-1, 3)


def place_gradient_sumrate(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> UserPlacement:
    """Multi-start gradient ascent on the differentiable rank-averaged ZF sum rate (skycell).

    Maximises ``J(p) = r(p) - eta P_b(p)`` over the continuous UAV position ``p`` with Adam
    (:mod:`skycell.plan.sumrate_grad`): ``r`` is eq. 5 with the channel built in torch from the
    geometry (distances, departure angles, element pattern, array steering vectors) and the
    engine's path loss, ``P_b = sum_b exp(kappa_b (c_b - d_b))`` paper 000 eq. 6's building
    penalty on the 3-D box distance. ``sumrate.gradient.starts`` scrambled-Sobol starts run as
    one batch. See :func:`skycell.plan.sumrate_grad.ascend` for the details (held LoS and user
    selection, the hard clearance guard, Sionna RT anchors).

    On Sionna RT every exact value costs a ray trace (~0.1 s per position), so the starts first
    ascend on the analytic twin of the same scene (geometric LoS, the same array; about a
    second, no tracing), and the ``sumrate.gradient.refine_starts`` best distinct results are
    then refined on traced paths (image-method anchors, re-traced every ``trust_radius_m``).
    ``refine_starts: 0`` traces every start from the beginning instead (slower; measured on
    the 150 m intersection: 12 starts, ~130 traced positions, 20-30 s, the same optimum).

    ``extra``: the metrics at the result, ``iterations``, ``evaluations`` (positions whose
    channel was computed), ``starts``, ``start_values_bps_hz`` and ``trajectory_m`` of the
    winning start.
    """
    from skycell.plan.sumrate_grad import ascend

    t0 = time.perf_counter()
    problem = SumRateProblem.build(scenario, city, users)
    rng = np.random.default_rng(seed)
    cfg = scenario.sumrate.gradient
    starts = sobol_starts(problem, cfg.starts, rng)
    warm: dict[str, Any] = {}
    if problem.engine_kind == "sionna" and cfg.refine_starts > 0:
        # the analytic twin first (no ray tracing), then its best results on traced paths
        coarse = SumRateProblem.build(scenario, city, users, engine_kind="analytic")
        first = ascend(coarse, starts)
        starts = _distinct_best(
            first.final_positions_m,
            first.final_values_bps_hz,
            cfg.refine_starts,
            min_distance_m=cfg.trust_radius_m,
        )
        warm = {
            "analytic_values_bps_hz": first.final_values_bps_hz.tolist(),
            "analytic_s": first.wall_time_s,
            "refined_starts_m": starts.tolist(),
        }
    out = ascend(problem, starts, progress=progress)
    metrics, _ = problem.evaluate(out.best_m.reshape(1, 3))
    return _placement(
        "gradient-sumrate",
        problem,
        out.best_m,
        _scalar_metrics(metrics),
        t0,
        {
            "iterations": out.iterations,
            "evaluations": out.evaluations,
            "starts": cfg.starts,
            "start_values_bps_hz": out.start_values_bps_hz.tolist(),
            "final_values_bps_hz": out.final_values_bps_hz.tolist(),
            "trajectory_m": out.trajectory_m.tolist(),
            "ascent_s": out.wall_time_s,
            **warm,
        },
    )
