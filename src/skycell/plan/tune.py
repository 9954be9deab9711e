"""Antenna azimuth, tilt and transmit-power tuning of airborne base stations (paper 000 §V-B).

Once the stations hover at their final positions, every station's mechanical azimuth ``phi_i``,
mechanical tilt ``theta_i`` and transmit power ``P_i`` are tuned by gradient descent on a
coverage map ``C`` (path gain of every station in every ground cell):

* eq. 9, SIR map ``R_i = P_i C_i / (sum_{j != i} P_j C_j + eps)`` with ``eps = 1e-20`` [W];
* eq. 10-11, effective SIR ``r_i`` = mean of ``10 log10 R_i`` over the cells of the mask ``M_i``;
* eq. 12-15, ``maxmin``: ``L_o = -NLSE(r, beta_L) + xi * (-mean r)`` with
  ``NLSE(r, beta) = -(1/beta) log sum exp(-beta r)`` (a smooth minimum), ``beta_L = 1``,
  ``xi = 0.25``; RMSProp, learning rate 0.1, 150 epochs, learning rate halved after 5 epochs
  without improvement;
* eq. 16-20, ``aoi``: ``L_w = -sum_m w_m LSE(r*_m, beta_L)`` where ``r*_m`` are the stations'
  effective SIRs over the square of ``+-r_m`` around AOI ``m``'s centre, ``LSE`` the smooth
  maximum ``(1/beta) log sum exp(beta r)`` (the serving station) and
  ``w_m = softmin(LSE_m / T)`` with ``T = 25``; learning rate
  0.05;
* ``avgsir``: the naive baseline ``L_avgSIR = -mean r`` (eq. 14 alone), RMSProp as ``maxmin``;
* ``random``: 50 settings drawn uniformly in the bounds from the run's generator; as the paper's
  Table V, the reported per-station SIRs are their mean [dB] over the samples, and min, mean,
  standard deviation and Jain's fairness are taken over that mean column.

Fast tuning ("trace once", issue 4 item 4): the geometry does not change while only azimuth, tilt
and power change. :class:`TuneProblem` evaluates the channel engine once per set of positions with
an isotropic station antenna (the user antenna included) — the ``(N, C)`` path gain without the
station pattern [dB] — and keeps the ``(N, C, 3)`` unit directions station -> cell. Each step only
re-weights it: ``gain_db = G_iso + G_station(direction; phi, theta) + P_dBm``, with the 3GPP
TR 38.901 pattern written in torch (:func:`pattern_gain_dbi_torch`, the same formula and frame as
:func:`skycell.radio.antenna.tr38901_gain_dbi`). On the analytic engine this is exact: the
re-weighted map equals a fresh :meth:`AnalyticEngine.path_gain_db` of the same settings.

Readings of the paper (each written here once):

* **Mask (eq. 10).** A ray-traced map is zero where no ray lands, so ``M_i = 1{C_i > 0}`` keeps a
  station's average to the cells it reaches. On the analytic engine every cell hears every
  station, and eq. 10 read literally would average each station over the whole map, mostly where
  it is an interferer. ``M_i`` is therefore station ``i``'s best-server area (the cells where it
  gives the highest received power, i.e. the highest SIR) at the START, under the initial
  settings, and is held fixed during tuning — the same reading as :func:`skycell.metrics.evaluate`.
  Being fixed, it cannot be gamed by the optimiser (a station cannot shrink its area to its best
  cells), and before/after SIRs are averaged over the same cells.
* **Smooth maximum (eq. 17).** The paper writes ``LSE(r) = -NLSE(r)``, which with eq. 13 is
  ``(1/beta) log sum exp(-beta r)`` = minus the smooth *minimum*, while the text calls it the
  smooth maximum and wants the serving (highest-SIR) station's SIR raised; minimising eq. 19 with
  the literal formula would instead push the weakest station of each AOI further down. skycell
  implements the stated intent, ``LSE(r) = -NLSE(-r) = (1/beta) log sum exp(beta r)``.
* **AOI squares (eq. 16).** The per-AOI effective SIR of station ``i`` averages ``R_i^dB`` over all
  outdoor cells with ``|x - z_m| <= r_m`` and ``|y - w_m| <= r_m`` (on an analytic engine
  ``C_i > 0`` everywhere, so this is eq. 10 literally); a best-server mask would leave most
  stations without cells in most AOIs. The softmin weights of eq. 20 are differentiated through,
  as written. Per AOI the *serving* station is the one with the highest AOI SIR (Table VI's bold
  entries); ``aoi_serving_change_db`` is that station's change after - before, with the serving
  station chosen after tuning (for ``random``: in the mean-over-samples table, which gives the
  paper's -6 to -11 dB random row; a per-sample best-of-N choice would be biased upward).
* **Bounds and parametrisation.** Azimuth in ``[-2 pi, 2 pi]``, tilt in ``[pi/7, 6 pi/7]`` [rad]
  (paper §V-C3), power in ``[P_min, P_max]`` [dBm] with ``P_max`` the scenario's
  ``radio.tx_power_dbm`` (the fleet's maximum; 43 dBm by default) unless given, and
  ``P_min = P_max - 20 dB`` (the paper gives no floor; its Table VIII goes down to 26.9 dBm, 16 dB
  below the start). The parameters are the raw values (radians, dBm) and are projected onto the
  box after every optimiser step (clamp): the start sits on the upper power bound (43 dBm), which a
  sigmoid reparametrisation cannot represent, and the paper's Table VIII reports tilts exactly on
  the bounds (25.71 deg, 154.29 deg), the signature of clamping.
* **Optimiser.** RMSProp with the Keras/TensorFlow defaults the paper used (decay ``rho = 0.9``,
  no momentum; torch's default 0.99 would take 10x the learning rate on the first step), torch's
  ``ReduceLROnPlateau(factor=0.5, patience=5)`` on the loss. All epochs run; the kept settings
  are those of the lowest loss seen (the final iterate included), in the spirit of the paper's
  early-stopping criterion.
* **Start.** Azimuth 0, tilt 90 deg (the panel faces the ground), ``P_max`` (43 dBm), as §V-B.

Units: angles in the public API in degrees (``*_deg``), inside the optimiser in radians
(``*_rad``); powers in dBm; SIR in dB.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from skycell.errors import SkycellError
from skycell.fileio import atomic_write
from skycell.metrics import SIR_EPSILON, ground_grid, jain_fairness
from skycell.radio.antenna_torch import pattern_field_torch, pattern_gain_dbi_torch
from skycell.radio.sionna_engine import RayMap, RayTensors

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.radio.sionna_engine import SionnaEngine
    from skycell.scenario import Scenario

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Tuning methods by checked name.
TUNE_METHODS: Final[tuple[str, ...]] = ("maxmin", "aoi", "avgsir", "random")

#: Azimuth bounds [rad] (paper 000 §V-C3: [-2 pi, 2 pi]).
AZIMUTH_BOUNDS_RAD: Final[tuple[float, float]] = (-2.0 * math.pi, 2.0 * math.pi)
#: Tilt bounds [rad] (paper 000 §V-C3: [pi/7, 6 pi/7]; 90 deg = facing the ground).
TILT_BOUNDS_RAD: Final[tuple[float, float]] = (math.pi / 7.0, 6.0 * math.pi / 7.0)
#: Default power range below the maximum [dB] (P_min = P_max - this; not in the paper).
POWER_RANGE_DB: Final[float] = 20.0
#: Starting orientation (paper 000 §V-B): azimuth 0, tilt 90 deg.
START_AZIMUTH_DEG: Final[float] = 0.0
START_TILT_DEG: Final[float] = 90.0
#: Direction bin [deg] of the merged rays on the Sionna engine (see ``RayMap.merged``).
DIRECTION_BIN_DEG: Final[float] = 1.0
#: Linear path gain added before dB on the Sionna engine: -300 dB where no ray arrives.
_NO_RAY: Final[float] = 1e-30


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run a block with ``count`` torch intra-op threads (``None``: leave as is), then restore.

    A tuning step works on ``(N, C)`` tensors of ~10^5 elements, where a second thread gains
    little; on a machine whose cores are shared with other processes, OpenMP threads that spin
    waiting for each other made steps up to 100x slower (measured on a loaded 2-core machine:
    0.012 s per step with one thread, 0.01-1.1 s with two). :func:`tune` therefore uses one thread
    by default.
    """
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(max(int(count), 1))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class TuneSettings:
    """Hyper-parameters of one tuning method (paper 000 §V-C3/4, Table III).

    Attributes:
        learning_rate: RMSProp initial learning rate (0.1 for ``maxmin``/``avgsir``, 0.05 ``aoi``).
        epochs: optimiser steps (150).
        beta_l: smoothness beta_L of the (N)LSE, eqs. 13 and 17 (1.0).
        xi: weight of L_avgSIR in L_o, eq. 15 (0.25).
        temperature: softmin temperature T, eq. 20 (25).
        patience: epochs without improvement before the learning rate is multiplied by
            ``lr_factor`` (5, 0.5).
        lr_factor: learning-rate decay factor (0.5).
        rmsprop_alpha: RMSProp decay rho (0.9, the Keras default the paper used).
        samples: number of random settings of the ``random`` baseline (50).
        epsilon: noise proxy of eq. 9 [W] (1e-20).
    """

    learning_rate: float = 0.1
    epochs: int = 150
    beta_l: float = 1.0
    xi: float = 0.25
    temperature: float = 25.0
    patience: int = 5
    lr_factor: float = 0.5
    rmsprop_alpha: float = 0.9
    samples: int = 50
    epsilon: float = SIR_EPSILON


#: The paper's settings per method.
DEFAULT_SETTINGS: Final[dict[str, TuneSettings]] = {
    "maxmin": TuneSettings(learning_rate=0.1),
    "avgsir": TuneSettings(learning_rate=0.1),
    "aoi": TuneSettings(learning_rate=0.05),
    "random": TuneSettings(),
}


# --------------------------------------------------------------------------------------------
# the precomputed problem


@dataclass(frozen=True)
class TuneProblem:
    """Everything that stays fixed while azimuth, tilt and power change ("trace once").

    Attributes:
        station_xyz_m: ``(N, 3)`` station positions [m].
        cells_xyz_m: ``(C, 3)`` centres of the outdoor ground cells [m].
        grid_shape: ``(ny, nx)`` of the full ground grid.
        outdoor: ``(ny * nx,)`` True for the cells kept in ``cells_xyz_m``.
        extent_m: ``(x0, x1, y0, y1)`` of the full grid (for ``imshow``).
        cell_m: cell side [m].
        gain_iso_db: ``(N, C)`` path gain with an isotropic station antenna, user antenna
            included [dB] (negative path loss); analytic engine only (empty with rays).
        direction: ``(N, C, 3)`` unit vectors station -> cell centre; analytic engine only.
        station_antenna: the station pattern name re-weighted at every step.
        engine: ``"analytic"`` or ``"sionna"``.
        rays: the ray-traced contributions (:class:`~skycell.radio.sionna_engine.RayMap`,
            merged into direction bins) on the Sionna engine, else None.
        ray_cell: ``(ny * nx,)`` tuning-cell index of each map cell (-1: not a tuning cell);
            Sionna engine only.
        covered: ``(N, C)`` True where station i reaches cell c (``C_i > 0``; all True on the
            analytic engine, where every cell hears every station).
        aoi_ids: AOI ids.
        aoi_centers_m: ``(M, 2)`` AOI centres [m].
        aoi_radii_m: ``(M,)`` AOI radii [m].
        aoi_cells: ``(M, C)`` True for the cells in AOI m's square of +-r_m (eq. 16).
        azimuth_bounds_rad, tilt_bounds_rad, power_bounds_dbm: the box of the parameters.
        initial_azimuth_deg, initial_tilt_deg, initial_tx_power_dbm: ``(N,)`` start settings.
        mask: ``(N, C)`` eq. 10's mask: on the Sionna engine ``C_i > 0`` literally
            (``covered``); on the analytic engine each station's best-server cells under the
            initial settings (see the module docstring).
        precompute_s: wall time of the engine call and the rest of :meth:`build` [s].
    """

    station_xyz_m: FloatArray
    cells_xyz_m: FloatArray
    grid_shape: tuple[int, int]
    outdoor: BoolArray
    extent_m: tuple[float, float, float, float]
    cell_m: float
    gain_iso_db: FloatArray
    direction: FloatArray
    station_antenna: str
    engine: str
    rays: RayMap | None
    ray_cell: IntArray | None
    covered: BoolArray
    aoi_ids: tuple[str, ...]
    aoi_centers_m: FloatArray
    aoi_radii_m: FloatArray
    aoi_cells: BoolArray
    azimuth_bounds_rad: tuple[float, float]
    tilt_bounds_rad: tuple[float, float]
    power_bounds_dbm: tuple[float, float]
    initial_azimuth_deg: FloatArray
    initial_tilt_deg: FloatArray
    initial_tx_power_dbm: FloatArray
    mask: BoolArray
    precompute_s: float

    @property
    def stations(self) -> int:
        """Number of stations N."""
        return int(self.station_xyz_m.shape[0])

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        city: City,
        station_xyz_m: ArrayLike,
        *,
        cell_m: float | None = None,
        max_power_dbm: float | None = None,
        power_range_db: float = POWER_RANGE_DB,
        initial_azimuth_deg: ArrayLike | None = None,
        initial_tilt_deg: ArrayLike | None = None,
        initial_tx_power_dbm: ArrayLike | None = None,
        engine: SionnaEngine | None = None,
        direction_bin_deg: float = DIRECTION_BIN_DEG,
    ) -> TuneProblem:
        """Evaluate the channel once for a set of station positions.

        Analytic engine (``engine=None``): one vectorised :meth:`AnalyticEngine.path_gain_db`
        call with the scenario's radio settings but an isotropic station antenna, over the
        outdoor cells of the ground grid (``cell_m`` cells, default ``evaluation.grid_cell_m``,
        at ``radio.user_height_m``).

        Sionna engine: one :meth:`SionnaEngine.ray_map` trace over the same grid (the paper's
        ray budget, shared by the stations), merged into ``direction_bin_deg`` direction bins
        (:meth:`RayMap.merged`); the tuning cells are the outdoor cells that some station
        reaches.

        Args:
            scenario: the scenario (radio settings, AOIs, evaluation grid).
            city: its city.
            station_xyz_m: ``(N, 3)`` station positions [m].
            cell_m: ground cell side [m] (default the scenario's ``evaluation.grid_cell_m``).
            max_power_dbm: P_max [dBm] (default ``radio.tx_power_dbm``).
            power_range_db: P_max - P_min [dB] (default 20).
            initial_azimuth_deg: start azimuth(s) [deg] (default 0).
            initial_tilt_deg: start tilt(s) [deg] (default 90, facing the ground).
            initial_tx_power_dbm: start power(s) [dBm] (default P_max).
            engine: a :class:`~skycell.radio.sionna_engine.SionnaEngine` to tune on ray-traced
                maps (its station antenna must be the scenario's), or None (analytic engine).
            direction_bin_deg: direction bin of the merged rays [deg] (Sionna engine; 0 keeps
                every ray: exact, about 3x slower per step).

        Raises:
            SkycellError: every bad input at once (shape, non-finite values, start outside the
                bounds), with the allowed range.
        """

        t0 = time.perf_counter()
        problems: list[str] = []
        xyz = np.asarray(station_xyz_m, dtype=np.float64)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or xyz.shape[0] < 1:
            raise SkycellError(
                f"tune: station_xyz_m must have shape (N, 3) with N >= 1 [m], got {xyz.shape}"
            )
        n = xyz.shape[0]
        if not np.all(np.isfinite(xyz)):
            problems.append("station_xyz_m has non-finite values; give finite positions [m]")
        r = scenario.radio
        cell = float(scenario.evaluation.grid_cell_m if cell_m is None else cell_m)
        if not (math.isfinite(cell) and cell > 0):
            problems.append(f"cell_m must be a positive number of metres, got {cell}")
        p_max = float(r.tx_power_dbm if max_power_dbm is None else max_power_dbm)
        if not math.isfinite(p_max):
            problems.append(f"max_power_dbm must be finite [dBm], got {p_max}")
        if not (math.isfinite(power_range_db) and power_range_db >= 0):
            problems.append(f"power_range_db must be >= 0 [dB], got {power_range_db}")
        power_bounds = (p_max - float(power_range_db), p_max)
        az0 = _per_station(
            initial_azimuth_deg, n, START_AZIMUTH_DEG, "initial_azimuth_deg", problems
        )
        tilt0 = _per_station(initial_tilt_deg, n, START_TILT_DEG, "initial_tilt_deg", problems)
        p0 = _per_station(initial_tx_power_dbm, n, p_max, "initial_tx_power_dbm", problems)
        for name, values, (lo, hi), unit in (
            ("initial_azimuth_deg", np.radians(az0), AZIMUTH_BOUNDS_RAD, "rad"),
            ("initial_tilt_deg", np.radians(tilt0), TILT_BOUNDS_RAD, "rad"),
            ("initial_tx_power_dbm", p0, power_bounds, "dBm"),
        ):
            bad = ~((values >= lo - 1e-12) & (values <= hi + 1e-12))
            if bad.any():
                problems.append(
                    f"{name} of station(s) {', '.join(str(i) for i in np.nonzero(bad)[0])} is "
                    f"outside [{lo:.4g}, {hi:.4g}] {unit}; start inside the bounds"
                )
        if problems:
            raise SkycellError("tune: " + "; ".join(problems))

        if engine is not None and engine.station_antenna != r.station_antenna:
            raise SkycellError(
                f"tune: the Sionna engine's station antenna {engine.station_antenna!r} differs "
                f"from the scenario's radio.station_antenna {r.station_antenna!r}"
            )
        cells, shape, outdoor = ground_grid(city, cell_m=cell, height_m=r.user_height_m)
        rays: RayMap | None = None
        ray_cell: IntArray | None = None
        if engine is None:
            from skycell.radio.engine import AnalyticEngine

            analytic = AnalyticEngine(
                city,
                frequency_hz=r.frequency_hz,
                pathloss_model=r.pathloss_model,
                environment=r.environment,
                station_antenna="isotropic",
                user_antenna=r.user_antenna,
            )
            gain_iso = np.asarray(analytic.path_gain_db(xyz, cells), dtype=np.float64)
            delta = cells[None, :, :] - xyz[:, None, :]
            norm = np.linalg.norm(delta, axis=-1, keepdims=True)
            direction = delta / np.maximum(norm, 1e-12)
            covered = np.ones((n, cells.shape[0]), dtype=bool)
        else:
            from skycell.radio.sionna_engine import MapGrid

            x_min, y_min, _, _ = city.bounds_m
            grid = MapGrid(x_min, y_min, int(shape[1]), int(shape[0]), cell, r.user_height_m)
            rays = engine.ray_map(xyz, grid=grid).merged(direction_bin_deg)
            reach = np.zeros((n, grid.cells), dtype=bool)
            reach[rays.ray_station[rays.record_ray], rays.record_cell] = True
            keep = np.asarray(outdoor, dtype=bool) & reach.any(axis=0)
            outdoor = keep
            ray_cell = np.full(grid.cells, -1, dtype=np.int64)
            ray_cell[keep] = np.arange(int(keep.sum()))
            cells = grid.centers_m().reshape(-1, 3)[keep]
            covered = reach[:, keep]
            gain_iso = np.zeros((0, 0))
            direction = np.zeros((0, 0, 3))

        aois = scenario.areas_of_interest
        centers = np.array([a.center_m for a in aois], dtype=np.float64).reshape(-1, 2)
        radii = np.array([a.radius_m for a in aois], dtype=np.float64).reshape(-1)
        off = np.abs(cells[None, :, :2] - centers[:, None, :])  # (M, C, 2)
        aoi_cells = np.all(off <= radii[:, None, None], axis=-1)

        x_min, y_min, _, _ = city.bounds_m
        extent = (x_min, x_min + shape[1] * cell, y_min, y_min + shape[0] * cell)
        partial = cls(
            station_xyz_m=xyz,
            cells_xyz_m=cells,
            grid_shape=(int(shape[0]), int(shape[1])),
            outdoor=np.asarray(outdoor, dtype=bool),
            extent_m=extent,
            cell_m=cell,
            gain_iso_db=gain_iso,
            direction=direction,
            station_antenna=r.station_antenna,
            engine="analytic" if engine is None else "sionna",
            rays=rays,
            ray_cell=ray_cell,
            covered=covered,
            aoi_ids=tuple(a.id for a in aois),
            aoi_centers_m=centers,
            aoi_radii_m=radii,
            aoi_cells=aoi_cells,
            azimuth_bounds_rad=AZIMUTH_BOUNDS_RAD,
            tilt_bounds_rad=TILT_BOUNDS_RAD,
            power_bounds_dbm=power_bounds,
            initial_azimuth_deg=az0,
            initial_tilt_deg=tilt0,
            initial_tx_power_dbm=p0,
            mask=covered,
            precompute_s=0.0,
        )
        if engine is None:  # the analytic reading of eq. 10: best-server cells at the start
            serving = association(partial, az0, tilt0, p0)
            mask = serving[None, :] == np.arange(n)[:, None]
        else:  # eq. 10 literally: the cells each station's rays reach
            mask = covered
        return _replace(partial, mask=mask, precompute_s=time.perf_counter() - t0)

    # torch views (float64), built on demand -------------------------------------------------

    def tensors(self) -> _Tensors:
        """The fixed arrays as torch tensors (float64; the ray records float32)."""
        rays = None
        if self.rays is not None and self.ray_cell is not None:
            rm = self.rays
            cell = self.ray_cell[rm.record_cell]
            keep = cell >= 0
            station = rm.ray_station[rm.record_ray[keep]]
            rays = RayTensors(
                ray_station=torch.from_numpy(rm.ray_station),
                ray_direction=torch.from_numpy(rm.ray_direction.astype(np.float32)),
                record_ray=torch.from_numpy(rm.record_ray[keep]),
                record_q=torch.from_numpy(rm.record_q[keep].astype(np.float32)),
                record_index=torch.from_numpy(station * self.cells_xyz_m.shape[0] + cell[keep]),
            )
        covered = self.covered.astype(np.float64)
        aoi = self.aoi_cells.astype(np.float64)
        aoi_count = covered @ aoi.T  # (N, M) covered cells of each station in each AOI square
        return _Tensors(
            gain_iso_db=torch.from_numpy(self.gain_iso_db),
            direction=torch.from_numpy(self.direction),
            rays=rays,
            cells=int(self.cells_xyz_m.shape[0]),
            covered=torch.from_numpy(covered),
            mask=torch.from_numpy(self.mask.astype(np.float64)),
            mask_count=torch.from_numpy(np.maximum(self.mask.sum(axis=1), 1).astype(np.float64)),
            station_valid=torch.from_numpy(self.mask.any(axis=1)),
            aoi_cells=torch.from_numpy(aoi),
            aoi_count=torch.from_numpy(np.maximum(aoi_count, 1.0)),
            aoi_station_valid=torch.from_numpy(aoi_count > 0),
            aoi_valid=torch.from_numpy((aoi_count > 0).any(axis=0)),
        )


@dataclass(frozen=True)
class _Tensors:
    gain_iso_db: torch.Tensor  # analytic engine
    direction: torch.Tensor  # analytic engine
    rays: RayTensors | None  # Sionna engine; record_index = station * cells + tuning cell
    cells: int
    covered: torch.Tensor  # (N, C) 1 where station i reaches cell c
    mask: torch.Tensor
    mask_count: torch.Tensor  # cells per mask, at least 1
    station_valid: torch.Tensor  # stations with a non-empty mask
    aoi_cells: torch.Tensor
    aoi_count: torch.Tensor  # (N, M) covered cells per AOI square and station, at least 1
    aoi_station_valid: torch.Tensor  # (N, M) the station reaches a cell of the AOI square
    aoi_valid: torch.Tensor  # (M,) AOIs some station reaches


def _replace(problem: TuneProblem, **changes: Any) -> TuneProblem:
    from dataclasses import replace

    return replace(problem, **changes)


def _per_station(
    value: ArrayLike | None, n: int, default: float, name: str, problems: list[str]
) -> FloatArray:
    if value is None:
        return np.full(n, float(default))
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(n, float(v))
    v = v.reshape(-1)
    if v.shape != (n,):
        problems.append(f"{name} must be a scalar or have shape ({n},), got {np.shape(value)}")
        return np.full(n, float(default))
    if not np.all(np.isfinite(v)):
        problems.append(f"{name} has non-finite values")
    return v


# --------------------------------------------------------------------------------------------
# the forward model (eqs. 9-11, 16)


def _gain_db(
    t: _Tensors, pattern: str, azimuth_rad: torch.Tensor, tilt_rad: torch.Tensor
) -> torch.Tensor:
    """``(N, C)`` path gain with the station pattern at (azimuth, tilt) [dB]; on the Sionna
    engine the re-weighted rays (:meth:`RayMap.path_gain_torch`), ``-300 dB`` where a station's
    rays do not reach a cell."""
    if t.rays is None:
        g = pattern_gain_dbi_torch(pattern, t.direction, azimuth_rad[:, None], tilt_rad[:, None])
        return t.gain_iso_db + g
    r = t.rays
    alpha, beta = pattern_field_torch(
        pattern,
        r.ray_direction,
        azimuth_rad.to(torch.float32)[r.ray_station],
        tilt_rad.to(torch.float32)[r.ray_station],
    )
    a = alpha[r.record_ray]
    b = beta[r.record_ray]
    q = r.record_q
    value = a * a * q[:, 0] + b * b * q[:, 1] + 2.0 * a * b * q[:, 2]
    n = azimuth_rad.shape[0]
    linear = torch.zeros(n * t.cells, dtype=torch.float64).index_add(
        0, r.record_index, value.to(torch.float64)
    )
    return 10.0 * torch.log10(torch.clamp(linear, min=0.0).reshape(n, t.cells) + _NO_RAY)


def _sir_db(
    t: _Tensors,
    pattern: str,
    azimuth_rad: torch.Tensor,
    tilt_rad: torch.Tensor,
    power_dbm: torch.Tensor,
    epsilon: float,
) -> torch.Tensor:
    """``(N, C)`` SIR maps of eq. 9 in dB: ``10 log10(P_i C_i / (sum_{j!=i} P_j C_j + eps))``."""
    rss_db = _gain_db(t, pattern, azimuth_rad, tilt_rad) + (power_dbm[:, None] - 30.0)  # dBW
    rss_w = torch.pow(10.0, rss_db / 10.0)
    interference_w = rss_w.sum(dim=0, keepdim=True) - rss_w
    return rss_db - 10.0 * torch.log10(interference_w + epsilon)


def _effective(t: _Tensors, sir_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-station effective SIR (eq. 11, ``(N,)``) and per-station-per-AOI SIR (eq. 16 with
    eq. 11 over the cells the station reaches, ``(N, M)``) [dB]; 0 where the mask or the AOI
    square is empty (see ``station_valid``/``aoi_station_valid``; :func:`evaluate_settings`
    reports NaN there)."""
    station = (sir_db * t.mask).sum(dim=1) / t.mask_count
    aoi = ((sir_db * t.covered) @ t.aoi_cells.T) / t.aoi_count
    return station, aoi


def _nlse(r: torch.Tensor, beta: float) -> torch.Tensor:
    """Smooth minimum of eq. 13: ``-(1/beta) log sum exp(-beta r)``."""
    return -torch.logsumexp(-beta * r, dim=0) / beta


def _loss(
    method: str, t: _Tensors, station: torch.Tensor, aoi: torch.Tensor, settings: TuneSettings
) -> torch.Tensor:
    """The method's loss from the effective SIRs (stations / AOIs with no cells left out)."""
    r = station[t.station_valid]
    if method in ("maxmin", "random"):
        return -_nlse(r, settings.beta_l) + settings.xi * (-r.mean())  # eq. 15
    if method == "avgsir":
        return -r.mean()  # eq. 14
    if method == "aoi":
        a = torch.where(t.aoi_station_valid, aoi, torch.full_like(aoi, -math.inf))
        x = -_nlse(-a[:, t.aoi_valid], settings.beta_l)  # eq. 17: smooth max over stations
        w = torch.softmax(-x / settings.temperature, dim=0)  # eq. 20
        return -(w * x).sum()  # eq. 19
    raise AssertionError(method)


def evaluate_settings(
    problem: TuneProblem,
    azimuth_deg: ArrayLike,
    tilt_deg: ArrayLike,
    tx_power_dbm: ArrayLike,
    *,
    epsilon: float = SIR_EPSILON,
) -> tuple[FloatArray, FloatArray]:
    """Per-station effective SIR ``(N,)`` and per-station-per-AOI SIR ``(N, M)`` [dB] of settings
    (paper 000 eqs. 9-11 and 16, the problem's fixed mask)."""
    t = problem.tensors()
    n = problem.stations
    with torch.no_grad():
        sir = _sir_db(
            t,
            problem.station_antenna,
            torch.from_numpy(np.radians(np.broadcast_to(np.asarray(azimuth_deg, float), (n,)))),
            torch.from_numpy(np.radians(np.broadcast_to(np.asarray(tilt_deg, float), (n,)))),
            torch.from_numpy(np.broadcast_to(np.asarray(tx_power_dbm, float), (n,)).copy()),
            epsilon,
        )
        station, aoi = _effective(t, sir)
    station_db = np.where(_has_cells(problem.mask), station.numpy(), np.nan)
    aoi_db = np.where(t.aoi_station_valid.numpy(), aoi.numpy(), np.nan)
    return station_db, aoi_db


def _has_cells(mask: BoolArray) -> BoolArray:
    """``(K,)`` True for the rows of a ``(K, C)`` mask with at least one cell."""
    return np.asarray(mask.any(axis=1), dtype=bool)


def association(
    problem: TuneProblem, azimuth_deg: ArrayLike, tilt_deg: ArrayLike, tx_power_dbm: ArrayLike
) -> IntArray:
    """``(C,)`` best-server station per outdoor cell: the highest received power, which is also
    the highest SIR (eq. 9 is increasing in a station's own power at fixed total) — Fig. 7."""
    return np.asarray(
        np.argmax(received_power_dbm(problem, azimuth_deg, tilt_deg, tx_power_dbm), axis=0),
        dtype=np.int64,
    )


def received_power_dbm(
    problem: TuneProblem, azimuth_deg: ArrayLike, tilt_deg: ArrayLike, tx_power_dbm: ArrayLike
) -> FloatArray:
    """``(N, C)`` received power [dBm] of every station in every tuning cell under the settings
    (the problem's map re-weighted; ``-300 dB`` of path gain where a station's rays do not
    reach a cell on the Sionna engine)."""
    n = problem.stations
    az = np.radians(np.broadcast_to(np.asarray(azimuth_deg, dtype=np.float64), (n,)))
    tilt = np.radians(np.broadcast_to(np.asarray(tilt_deg, dtype=np.float64), (n,)))
    p = np.broadcast_to(np.asarray(tx_power_dbm, dtype=np.float64), (n,))
    with torch.no_grad():
        g = _gain_db(
            problem.tensors(),
            problem.station_antenna,
            torch.from_numpy(az.copy()),
            torch.from_numpy(tilt.copy()),
        ).numpy()
    return np.asarray(g + p[:, None], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class SirSummary:
    """Statistics of the per-station effective SIR (Table V's last rows).

    Attributes:
        min_db, mean_db, std_db: minimum, mean and population standard deviation [dB].
        jain: Jain's fairness over the linear values ``10^(r/10)`` (footnote 4).
    """

    min_db: float
    mean_db: float
    std_db: float
    jain: float

    @classmethod
    def of(cls, sir_db: FloatArray) -> SirSummary:
        """Summary of the finite entries of ``sir_db``."""
        x = np.asarray(sir_db, dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size == 0:
            nan = float("nan")
            return cls(nan, nan, nan, nan)
        return cls(
            min_db=float(x.min()),
            mean_db=float(x.mean()),
            std_db=float(x.std()),
            jain=jain_fairness(10.0 ** (x / 10.0)),
        )


@dataclass(frozen=True)
class RetraceCheck:
    """A fresh full trace of the final settings against the re-weighted map (issue 4 item 4).

    Compared over the (station, tuning cell) pairs the station's rays reach, in dB.

    Attributes:
        pairs: number of (station, cell) pairs compared.
        median_abs_db, p90_abs_db, max_abs_db: statistics of ``|re-weighted - traced|`` [dB].
        trace_s: wall time of the fresh trace [s].
    """

    pairs: int
    median_abs_db: float
    p90_abs_db: float
    max_abs_db: float
    trace_s: float

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a dict."""
        return {
            "pairs": self.pairs,
            "median_abs_db": self.median_abs_db,
            "p90_abs_db": self.p90_abs_db,
            "max_abs_db": self.max_abs_db,
            "trace_s": self.trace_s,
        }


def retrace_check(
    problem: TuneProblem,
    engine: SionnaEngine,
    azimuth_deg: ArrayLike,
    tilt_deg: ArrayLike,
) -> RetraceCheck:
    """Trace the coverage map afresh with the station pattern at the given orientation and
    compare it with the problem's re-weighted map, cell by cell (same rays, same seed)."""
    from skycell.radio.sionna_engine import MapGrid

    if problem.ray_cell is None:
        raise SkycellError("retrace_check needs a problem built on the Sionna engine")
    t0 = time.perf_counter()
    ny, nx = problem.grid_shape
    x0, _, y0, _ = problem.extent_m
    grid = MapGrid(x0, y0, nx, ny, problem.cell_m, float(problem.cells_xyz_m[0, 2]))
    fresh = engine.coverage_map(
        problem.station_xyz_m, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg, grid=grid
    ).path_gain_db.reshape(problem.stations, -1)[:, problem.ray_cell >= 0]
    trace_s = time.perf_counter() - t0
    mine = received_power_dbm(problem, azimuth_deg, tilt_deg, 0.0)
    diff = np.abs(mine - fresh)[problem.covered]
    if diff.size == 0:
        nan = float("nan")
        return RetraceCheck(0, nan, nan, nan, trace_s)
    return RetraceCheck(
        pairs=int(diff.size),
        median_abs_db=float(np.median(diff)),
        p90_abs_db=float(np.percentile(diff, 90)),
        max_abs_db=float(diff.max()),
        trace_s=trace_s,
    )


@dataclass(frozen=True)
class TuneResult:
    """Outcome of one tuning run (Tables V, VI, VIII and Fig. 7 of paper 000).

    Attributes:
        method: the method name.
        seed: the run's seed.
        problem: the precomputed problem (positions, grid, mask, AOI squares).
        initial_azimuth_deg, initial_tilt_deg, initial_tx_power_dbm: ``(N,)`` start settings.
        final_azimuth_deg, final_tilt_deg, final_tx_power_dbm: ``(N,)`` tuned settings (for
            ``random``: the sample whose per-station SIRs are closest, RMS in dB, to the mean
            over the samples).
        sir_before_db, sir_after_db: ``(N,)`` per-station effective SIR [dB] (eq. 11, the fixed
            mask; for ``random`` the mean over samples).
        before, after: their summaries.
        aoi_sir_before_db, aoi_sir_after_db: ``(N, M)`` per-station SIR over each AOI square [dB].
        aoi_serving_before, aoi_serving_after: ``(M,)`` the serving station (highest AOI SIR).
        aoi_serving_change_db: ``(M,)`` the AOI SIR change after - before [dB] of the station
            serving the AOI after tuning (for ``random``: serving in the mean-over-samples table,
            i.e. the mean change of that station over the samples).
        association_before, association_after: ``(C,)`` best-server station per outdoor cell.
        loss_history: loss per epoch (for ``random``: L_o of each sample).
        iterations: epochs (or samples) run.
        seconds_per_iteration: median wall time of one step (forward, backward, update) [s].
        total_s: wall time of the run, precomputation included [s].
        settings: the hyper-parameters used.
        retrace: on the Sionna engine, the agreement of the re-weighted map of the final
            settings with a fresh full trace (:class:`RetraceCheck`); else None.
    """

    method: str
    seed: int
    problem: TuneProblem = field(repr=False)
    initial_azimuth_deg: FloatArray
    initial_tilt_deg: FloatArray
    initial_tx_power_dbm: FloatArray
    final_azimuth_deg: FloatArray
    final_tilt_deg: FloatArray
    final_tx_power_dbm: FloatArray
    sir_before_db: FloatArray
    sir_after_db: FloatArray
    before: SirSummary
    after: SirSummary
    aoi_sir_before_db: FloatArray
    aoi_sir_after_db: FloatArray
    aoi_serving_before: IntArray
    aoi_serving_after: IntArray
    aoi_serving_change_db: FloatArray
    association_before: IntArray = field(repr=False)
    association_after: IntArray = field(repr=False)
    loss_history: FloatArray = field(repr=False)
    iterations: int
    seconds_per_iteration: float
    total_s: float
    settings: TuneSettings
    retrace: RetraceCheck | None = None

    def association_grid(self, which: str = "after") -> NDArray[np.float64]:
        """``(ny, nx)`` association map with NaN inside buildings (``which``: before/after)."""
        if which not in ("before", "after"):
            raise SkycellError(
                f"association_grid: which must be 'before' or 'after', got {which!r}"
            )
        a = self.association_before if which == "before" else self.association_after
        full = np.full(self.problem.outdoor.size, np.nan)
        full[self.problem.outdoor] = a
        return full.reshape(self.problem.grid_shape)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (no maps; non-finite floats become None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return clean(v.tolist())
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            if isinstance(v, float):
                return v if math.isfinite(v) else None
            return v

        def summary(s: SirSummary) -> dict[str, Any]:
            return {k: clean(getattr(s, k)) for k in ("min_db", "mean_db", "std_db", "jain")}

        return {
            "method": self.method,
            "seed": self.seed,
            "cell_m": self.problem.cell_m,
            "power_bounds_dbm": clean(self.problem.power_bounds_dbm),
            "initial_azimuth_deg": clean(self.initial_azimuth_deg),
            "initial_tilt_deg": clean(self.initial_tilt_deg),
            "initial_tx_power_dbm": clean(self.initial_tx_power_dbm),
            "final_azimuth_deg": clean(self.final_azimuth_deg),
            "final_tilt_deg": clean(self.final_tilt_deg),
            "final_tx_power_dbm": clean(self.final_tx_power_dbm),
            "sir_before_db": clean(self.sir_before_db),
            "sir_after_db": clean(self.sir_after_db),
            "before": summary(self.before),
            "after": summary(self.after),
            "aoi_ids": list(self.problem.aoi_ids),
            "aoi_sir_before_db": clean(self.aoi_sir_before_db),
            "aoi_sir_after_db": clean(self.aoi_sir_after_db),
            "aoi_serving_before": clean(self.aoi_serving_before),
            "aoi_serving_after": clean(self.aoi_serving_after),
            "aoi_serving_change_db": clean(self.aoi_serving_change_db),
            "engine": self.problem.engine,
            "retrace": None if self.retrace is None else self.retrace.to_dict(),
            "iterations": self.iterations,
            "seconds_per_iteration": self.seconds_per_iteration,
            "precompute_s": self.problem.precompute_s,
            "total_s": self.total_s,
            "loss_history": clean(self.loss_history),
        }


# --------------------------------------------------------------------------------------------
# the methods


def tune(
    scenario: Scenario,
    city: City,
    station_xyz_m: ArrayLike,
    *,
    method: str,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    epochs: int | None = None,
    settings: TuneSettings | None = None,
    problem: TuneProblem | None = None,
    cell_m: float | None = None,
    max_power_dbm: float | None = None,
    power_range_db: float = POWER_RANGE_DB,
    threads: int | None = 1,
    engine: SionnaEngine | None = None,
    verify: bool = True,
) -> TuneResult:
    """Tune every station's azimuth, tilt and power (paper 000 §V-B).

    Args:
        scenario: the scenario (radio, AOIs, evaluation grid).
        city: its city.
        station_xyz_m: ``(N, 3)`` station positions [m] (must match ``problem``'s when given).
        method: one of ``TUNE_METHODS``: ``maxmin`` (L_o, eq. 15), ``aoi`` (L_w, eq. 19),
            ``avgsir`` (eq. 14 alone), ``random`` (uniform settings in the bounds).
        seed: seed of the run's one random generator (used by ``random``; the gradient methods
            start from the deterministic paper start and are deterministic).
        progress: ``progress(iteration, loss)`` after every epoch (sample).
        epochs: overrides the method's number of epochs (samples for ``random``).
        settings: overrides the method's hyper-parameters (default ``DEFAULT_SETTINGS[method]``).
        problem: a :class:`TuneProblem` already built for these positions (saves the engine call
            when several methods run on one deployment).
        cell_m, max_power_dbm, power_range_db: passed to :meth:`TuneProblem.build`.
        threads: torch intra-op threads during the run (default 1, see :func:`torch_threads`;
            ``None`` keeps torch's setting).
        engine: tune on ray-traced maps of this Sionna engine (traced once, re-weighted at
            every step); None: the analytic engine.
        verify: on the Sionna engine, trace the final settings afresh and compare
            (``TuneResult.retrace``).

    Returns:
        A :class:`TuneResult`.

    Raises:
        SkycellError: an unknown method (the message lists the allowed ones), epochs < 1, or bad
            positions / settings.
    """
    t_start = time.perf_counter()
    if method not in TUNE_METHODS:
        allowed = ", ".join(repr(m) for m in TUNE_METHODS)
        raise SkycellError(f"unknown tuning method {method!r}; choose one of: {allowed}")
    s = settings if settings is not None else DEFAULT_SETTINGS[method]
    if epochs is not None:
        if int(epochs) < 1:
            raise SkycellError(f"tune: epochs must be >= 1, got {epochs}")
        from dataclasses import replace

        s = replace(s, epochs=int(epochs), samples=int(epochs))
    if problem is not None:
        given = np.asarray(station_xyz_m, dtype=np.float64)
        if given.shape != problem.station_xyz_m.shape or not np.allclose(
            given, problem.station_xyz_m
        ):
            raise SkycellError(
                "tune: station_xyz_m differs from the positions the problem was built for; "
                "build a new TuneProblem for these positions"
            )
    with torch_threads(threads):
        if problem is None:
            problem = TuneProblem.build(
                scenario,
                city,
                station_xyz_m,
                cell_m=cell_m,
                max_power_dbm=max_power_dbm,
                power_range_db=power_range_db,
                engine=engine,
            )
        result = _tune(problem, method, seed, progress, s, t_start)
    if engine is not None and verify and problem.rays is not None:
        from dataclasses import replace

        check = retrace_check(problem, engine, result.final_azimuth_deg, result.final_tilt_deg)
        result = replace(result, retrace=check)
    return result


def _tune(
    problem: TuneProblem,
    method: str,
    seed: int,
    progress: Callable[[int, float], None] | None,
    s: TuneSettings,
    t_start: float,
) -> TuneResult:
    t = problem.tensors()
    sir0, aoi0 = evaluate_settings(
        problem,
        problem.initial_azimuth_deg,
        problem.initial_tilt_deg,
        problem.initial_tx_power_dbm,
        epsilon=s.epsilon,
    )
    if method == "random":
        run = _run_random(problem, t, s, seed, aoi0, progress)
    else:
        run = _run_gradient(problem, t, s, method, progress)
    az1, tilt1, p1, sir1, aoi1, history, step_s = run

    serving0 = _serving(aoi0)
    serving1 = _serving(aoi1)
    change = _serving_change(aoi0, aoi1, serving1)
    return TuneResult(
        method=method,
        seed=seed,
        problem=problem,
        initial_azimuth_deg=problem.initial_azimuth_deg.copy(),
        initial_tilt_deg=problem.initial_tilt_deg.copy(),
        initial_tx_power_dbm=problem.initial_tx_power_dbm.copy(),
        final_azimuth_deg=az1,
        final_tilt_deg=tilt1,
        final_tx_power_dbm=p1,
        sir_before_db=sir0,
        sir_after_db=sir1,
        before=SirSummary.of(sir0),
        after=SirSummary.of(sir1),
        aoi_sir_before_db=aoi0,
        aoi_sir_after_db=aoi1,
        aoi_serving_before=serving0,
        aoi_serving_after=serving1,
        aoi_serving_change_db=change,
        association_before=association(
            problem,
            problem.initial_azimuth_deg,
            problem.initial_tilt_deg,
            problem.initial_tx_power_dbm,
        ),
        association_after=association(problem, az1, tilt1, p1),
        loss_history=history,
        iterations=int(history.size),
        seconds_per_iteration=float(np.median(step_s)) if step_s.size else float("nan"),
        total_s=time.perf_counter() - t_start + problem.precompute_s,
        settings=s,
    )


#: (azimuth_deg, tilt_deg, power_dbm, station SIR dB, AOI SIR dB, loss history, step seconds)
_Run = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def _serving(aoi_sir_db: FloatArray) -> IntArray:
    """``(M,)`` station with the highest SIR in each AOI square (-1 for an empty square)."""
    a = np.where(np.isfinite(aoi_sir_db), aoi_sir_db, -np.inf)
    idx = np.argmax(a, axis=0) if a.size else np.zeros(a.shape[1], dtype=np.int64)
    return np.where(np.isfinite(a).any(axis=0), idx, -1).astype(np.int64)


def _serving_change(before: FloatArray, after: FloatArray, serving: IntArray) -> FloatArray:
    m = np.arange(serving.size)
    k = np.maximum(serving, 0)
    change = after[k, m] - before[k, m]
    return np.where(serving >= 0, change, np.nan)


def _run_gradient(
    problem: TuneProblem,
    t: _Tensors,
    s: TuneSettings,
    method: str,
    progress: Callable[[int, float], None] | None,
) -> _Run:
    """RMSProp with projection onto the bounds and ReduceLROnPlateau (paper 000 §V-C3)."""
    pattern = problem.station_antenna
    az = torch.tensor(np.radians(problem.initial_azimuth_deg), requires_grad=True)
    tilt = torch.tensor(np.radians(problem.initial_tilt_deg), requires_grad=True)
    power = torch.tensor(problem.initial_tx_power_dbm.copy(), requires_grad=True)
    bounds = (problem.azimuth_bounds_rad, problem.tilt_bounds_rad, problem.power_bounds_dbm)
    opt = torch.optim.RMSprop([az, tilt, power], lr=s.learning_rate, alpha=s.rmsprop_alpha)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=s.lr_factor, patience=s.patience
    )

    def forward() -> torch.Tensor:
        sir = _sir_db(t, pattern, az, tilt, power, s.epsilon)
        station, aoi = _effective(t, sir)
        return _loss(method, t, station, aoi, s)

    history = np.empty(s.epochs)
    step_s = np.empty(s.epochs)
    best_loss = math.inf
    best = (az.detach().clone(), tilt.detach().clone(), power.detach().clone())
    for epoch in range(s.epochs):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = forward()
        loss.backward()  # type: ignore[no-untyped-call]
        value = float(loss.detach())
        if value < best_loss:
            best_loss = value
            best = (az.detach().clone(), tilt.detach().clone(), power.detach().clone())
        opt.step()
        with torch.no_grad():
            for p, (lo, hi) in zip((az, tilt, power), bounds, strict=True):
                p.clamp_(lo, hi)
        sched.step(value)
        step_s[epoch] = time.perf_counter() - t0
        history[epoch] = value
        if progress is not None:
            progress(epoch + 1, value)
    with torch.no_grad():
        last = float(forward())
    if last < best_loss:
        best = (az.detach().clone(), tilt.detach().clone(), power.detach().clone())
    az1 = np.degrees(best[0].numpy())
    tilt1 = np.degrees(best[1].numpy())
    p1 = best[2].numpy().copy()
    sir1, aoi1 = evaluate_settings(problem, az1, tilt1, p1, epsilon=s.epsilon)
    return az1, tilt1, p1, sir1, aoi1, history, step_s


def _run_random(
    problem: TuneProblem,
    t: _Tensors,
    s: TuneSettings,
    seed: int,
    aoi0: FloatArray,
    progress: Callable[[int, float], None] | None,
) -> _Run:
    """``samples`` uniform draws in the bounds from one generator; the mean of the metrics."""
    rng = np.random.default_rng(seed)
    n = problem.stations
    k = s.samples
    draws = np.stack(
        [
            rng.uniform(*problem.azimuth_bounds_rad, size=(k, n)),
            rng.uniform(*problem.tilt_bounds_rad, size=(k, n)),
            rng.uniform(*problem.power_bounds_dbm, size=(k, n)),
        ],
        axis=1,
    )  # (K, 3, N): azimuth [rad], tilt [rad], power [dBm]
    station_sir = np.empty((k, n))
    aoi_sir = np.empty((k, n, aoi0.shape[1]))
    history = np.empty(k)
    step_s = np.empty(k)
    with torch.no_grad():
        for i in range(k):
            t0 = time.perf_counter()
            az, tilt, power = (torch.from_numpy(draws[i, j].copy()) for j in range(3))
            sir = _sir_db(t, problem.station_antenna, az, tilt, power, s.epsilon)
            station, aoi = _effective(t, sir)
            history[i] = float(_loss("maxmin", t, station, aoi, s))
            station_sir[i] = np.where(_has_cells(problem.mask), station.numpy(), np.nan)
            aoi_sir[i] = np.where(_has_cells(problem.aoi_cells)[None, :], aoi.numpy(), np.nan)
            step_s[i] = time.perf_counter() - t0
            if progress is not None:
                progress(i + 1, float(history[i]))
    sir_mean = station_sir.mean(axis=0)
    aoi_mean = aoi_sir.mean(axis=0)
    finite = np.isfinite(sir_mean)
    rms = np.sqrt(np.mean((station_sir[:, finite] - sir_mean[finite]) ** 2, axis=1))
    rep = int(np.argmin(rms))
    az1 = np.degrees(draws[rep, 0])
    tilt1 = np.degrees(draws[rep, 1])
    p1 = draws[rep, 2].copy()
    return az1, tilt1, p1, sir_mean, aoi_mean, history, step_s


# --------------------------------------------------------------------------------------------
# plot


def plot_association(
    result: TuneResult, city: City, path: str | os.PathLike[str], *, dpi: int = 130
) -> Path:
    """Two-panel PNG of the cell-to-station association before and after tuning (paper 000
    Fig. 7): each outdoor ground cell coloured by its best-server station (the highest SIR),
    buildings blank, stations as triangles, AOIs as circles with their +-r_m squares.

    Args:
        result: a tuning result.
        city: its city (for the map bounds).
        path: PNG file to write (atomically, via :func:`skycell.fileio.atomic_write`).
        dpi: resolution.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Circle, Rectangle

    pr = result.problem
    n = pr.stations
    base = plt.get_cmap("tab10" if n <= 10 else "tab20")
    colors = [base(i % base.N) for i in range(n)]
    cmap = ListedColormap(colors).with_extremes(bad="white")
    norm = BoundaryNorm(np.arange(-0.5, n + 0.5), n)
    x0, y0, x1, y1 = city.bounds_m
    fig, axes = plt.subplots(1, 2, figsize=(14.0, 5.8), squeeze=False)
    titles = (
        f"before: tilt {float(np.median(result.initial_tilt_deg)):.0f} deg, "
        f"{float(np.max(result.initial_tx_power_dbm)):.0f} dBm (min SIR "
        f"{result.before.min_db:+.2f} dB, Jain {result.before.jain:.3f})",
        f"after: {result.method} (min SIR {result.after.min_db:+.2f} dB, "
        f"Jain {result.after.jain:.3f})",
    )
    im = None
    for ax, which, title in zip(axes[0], ("before", "after"), titles, strict=True):
        grid = np.ma.masked_invalid(result.association_grid(which))
        im = ax.imshow(
            grid, origin="lower", extent=pr.extent_m, cmap=cmap, norm=norm, interpolation="nearest"
        )
        for c, r in zip(pr.aoi_centers_m, pr.aoi_radii_m, strict=True):
            ax.add_patch(Circle((c[0], c[1]), r, fill=False, color="black", lw=1.6))
            ax.add_patch(
                Rectangle(
                    (c[0] - r, c[1] - r), 2 * r, 2 * r, fill=False, color="black", lw=0.6, ls="--"
                )
            )
        xyz = pr.station_xyz_m
        ax.scatter(xyz[:, 0], xyz[:, 1], c=colors, marker="^", s=90, edgecolors="black", zorder=5)
        for i in range(n):
            ax.annotate(f"s{i}", xyz[i, :2], xytext=(5, 5), textcoords="offset points", fontsize=8)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        ax.set_title(title, fontsize=10)
    if im is not None:
        cbar = fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, ticks=np.arange(n))
        cbar.ax.set_yticklabels([f"s{i}" for i in range(n)])
        cbar.set_label("serving station (highest SIR)")
    fig.suptitle("cell-to-station association (paper 000 Fig. 7 shape)", fontsize=11)
    out = Path(path)
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"), suffix=".png")
    plt.close(fig)
    return out
