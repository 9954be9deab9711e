"""Metrics of a deployment: AOI satisfaction, coverage, effective SIR, fairness, routes.

Pure, vectorised functions; :func:`evaluate` orchestrates them over a city, a channel engine and a
set of stations, and returns a :class:`Metrics` record that goes into ``deployment.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.radio.engine import ChannelEngine

FloatArray = NDArray[np.float64]

#: Noise proxy of paper 000 eq. 9 (Table III: epsilon = 1e-20).
SIR_EPSILON = 1e-20


def aoi_served(
    station_xy_m: FloatArray, aoi_centers_m: FloatArray, aoi_radii_m: FloatArray
) -> NDArray[np.bool_]:
    """Whether each AOI has a station within 2/3 of its radius (the indicator of paper 000 eq. 21).

    Args:
        station_xy_m: ``(N, 2)`` station positions [m].
        aoi_centers_m: ``(M, 2)`` AOI centres [m].
        aoi_radii_m: ``(M,)`` AOI radii [m].

    Returns:
        ``(M,)`` booleans.
    """
    p = np.asarray(station_xy_m, dtype=np.float64).reshape(-1, 2)
    c = np.asarray(aoi_centers_m, dtype=np.float64).reshape(-1, 2)
    r = np.asarray(aoi_radii_m, dtype=np.float64).reshape(-1)
    d = np.linalg.norm(p[:, None, :] - c[None, :, :], axis=-1)
    return np.asarray((d <= 2.0 * r[None, :] / 3.0).any(axis=0))


def aoi_satisfaction(
    station_xy_m: FloatArray, aoi_centers_m: FloatArray, aoi_radii_m: FloatArray
) -> float:
    """AOI satisfaction rate S_AOI of paper 000 eq. 21: the share of AOIs with at least one
    station within ``2 r_m / 3`` of the centre (several stations in one AOI count once)."""
    served = aoi_served(station_xy_m, aoi_centers_m, aoi_radii_m)
    return float(served.mean()) if served.size else 1.0


def jain_fairness(values_linear: FloatArray) -> float:
    """Jain's fairness index (paper 000 footnote 4): ``(sum x)^2 / (n sum x^2)`` in ``[1/n, 1]``.

    Args:
        values_linear: non-negative values in linear scale (paper 000 converts SIR from dB).
    """
    x = np.asarray(values_linear, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("jain_fairness: needs at least one value")
    if np.any(x < 0):
        raise ValueError("jain_fairness: values must be non-negative linear quantities")
    denom = x.size * float(np.sum(x * x))
    return float(np.sum(x) ** 2 / denom) if denom > 0 else 1.0


def sir_maps(
    path_gain_linear: FloatArray, tx_power_w: FloatArray, *, epsilon: float = SIR_EPSILON
) -> FloatArray:
    """Per-station SIR maps of paper 000 eq. 9: ``R_i = P_i C_i / (sum_{j != i} P_j C_j + eps)``.

    Args:
        path_gain_linear: ``(N, C)`` path gain of every station in every cell (linear).
        tx_power_w: ``(N,)`` transmit powers [W].
        epsilon: the noise proxy (1e-20 in the paper).

    Returns:
        ``(N, C)`` linear SIR.
    """
    rss = np.asarray(tx_power_w, dtype=np.float64).reshape(-1, 1) * path_gain_linear
    interference = rss.sum(axis=0, keepdims=True) - rss
    return np.asarray(rss / (interference + epsilon))


def effective_sir_db(
    path_gain_linear: FloatArray,
    tx_power_w: FloatArray,
    *,
    mask: NDArray[np.bool_] | None = None,
    epsilon: float = SIR_EPSILON,
) -> FloatArray:
    """Effective average SIR per station [dB], paper 000 eqs. 9-11.

    The mean of ``10 log10 R_i`` over the cells of the mask M_i. Eq. 10's mask is the cells the
    station covers at all (``C_i > 0``: a ray-traced map is zero where no ray lands), so that
    cells without coverage do not dilute the average; that is the default.

    Args:
        path_gain_linear: ``(N, C)`` path gains (linear).
        tx_power_w: ``(N,)`` transmit powers [W].
        mask: ``(N, C)`` cells to average over; default eq. 10.
        epsilon: noise proxy of eq. 9.

    Returns:
        ``(N,)`` SIR [dB]; NaN for a station whose mask is empty.
    """
    g = np.asarray(path_gain_linear, dtype=np.float64)
    r = sir_maps(g, tx_power_w, epsilon=epsilon)
    mask = g > 0 if mask is None else np.asarray(mask, dtype=bool) & (g > 0)
    r_db = 10.0 * np.log10(np.where(mask, r, 1.0))
    count = mask.sum(axis=1)
    total = np.where(mask, r_db, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def route_lengths_m(routes_m: list[FloatArray]) -> FloatArray:
    """Length [m] of each route, a list of ``(T_i, 3)`` waypoint arrays."""
    return np.array(
        [
            float(np.linalg.norm(np.diff(r, axis=0), axis=1).sum()) if len(r) > 1 else 0.0
            for r in routes_m
        ]
    )


def min_pairwise_distance_m(xy_m: FloatArray) -> float:
    """Smallest horizontal distance between two stations [m] (inf for one station)."""
    p = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
    if p.shape[0] < 2:
        return float("inf")
    d = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    d[np.diag_indices_from(d)] = np.inf
    return float(d.min())


def ground_grid(
    city: City, *, cell_m: float, height_m: float
) -> tuple[FloatArray, tuple[int, int], NDArray[np.bool_]]:
    """Cell centres of the ground evaluation grid.

    Returns:
        ``(C, 3)`` centres of the cells that are not inside a building, the full grid shape
        ``(ny, nx)``, and the ``(ny * nx,)`` mask of the kept cells.
    """
    x_min, y_min, x_max, y_max = city.bounds_m
    xs = np.arange(x_min + cell_m / 2, x_max, cell_m)
    ys = np.arange(y_min + cell_m / 2, y_max, cell_m)
    gx, gy = np.meshgrid(xs, ys, indexing="xy")
    pts = np.column_stack((gx.ravel(), gy.ravel(), np.full(gx.size, height_m)))
    outdoor = ~city.inside_building(pts)
    return pts[outdoor], (ys.size, xs.size), outdoor


@dataclass(frozen=True)
class Metrics:
    """Metrics of one deployment (all JSON-serialisable through :meth:`to_dict`)."""

    aoi_satisfaction: float
    aoi_served: list[bool]
    coverage_fraction: float
    sinr_threshold_db: float
    mean_sinr_db: float
    min_sinr_db: float
    median_sinr_db: float
    aoi_mean_sinr_db: list[float]
    effective_sir_db: list[float]  # eqs. 9, 11 over each station's best-server cells
    jain_fairness: float
    min_station_separation_m: float
    stations_inside_buildings: int
    route_length_m: list[float]
    route_min_clearance_m: list[float]
    routes_enter_buildings: bool
    evaluation_cells: int
    user_sinr_db: list[float] | None = None
    user_rate_bps: list[float] | None = None
    users_satisfied: float | None = None
    #: ``(sinr_db (ny, nx), extent (x0, x1, y0, y1))`` of the ground grid, NaN inside buildings;
    #: kept for plots, not serialised.
    sinr_map: tuple[FloatArray, tuple[float, float, float, float]] | None = field(
        default=None, repr=False, compare=False
    )
    #: ``(ny, nx)`` ground layers on the same grid as ``sinr_map`` (NaN inside buildings):
    #: ``path_gain_db`` of the serving station (antennas included) and ``serving_station``
    #: (its index); kept for the interactive report, not serialised.
    ground_maps: dict[str, FloatArray] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite floats become None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return v if np.isfinite(v) else None
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        skip = ("sinr_map", "ground_maps")
        return {f.name: clean(getattr(self, f.name)) for f in fields(self) if f.name not in skip}


def gain_db_serving(
    rx_dbm: FloatArray, tx_power_dbm: FloatArray, serving: NDArray[np.int64], cols: NDArray[Any]
) -> FloatArray:
    """Path gain [dB] of each cell's serving station: ``rx[s, c] - P_tx[s]``."""
    return np.asarray(rx_dbm[serving, cols] - tx_power_dbm[serving], dtype=np.float64)


def evaluate(
    city: City,
    engine: ChannelEngine,
    *,
    station_xyz_m: FloatArray,
    tx_power_dbm: FloatArray,
    azimuth_deg: FloatArray,
    tilt_deg: FloatArray,
    routes_m: list[FloatArray],
    aoi_centers_m: FloatArray,
    aoi_radii_m: FloatArray,
    noise_dbm: float,
    bandwidth_hz: float,
    cell_m: float,
    user_height_m: float,
    sinr_threshold_db: float,
    users_xyz_m: FloatArray | None = None,
    users_demand_bps: FloatArray | None = None,
) -> Metrics:
    """Evaluate a deployment on a ground grid and for its users.

    Computes the received power of every station in every outdoor ground cell (``cell_m`` cells at
    ``user_height_m``) with the channel engine, the SINR with all other stations as interferers,
    the coverage fraction (SINR >= threshold), the per-station effective SIR (paper 000 eqs. 9-11)
    and Jain's fairness over it, S_AOI (eq. 21), the station separations and the route checks
    (clearance from buildings taller than the flight altitude, entering a building).
    """
    from skycell.radio.link import shannon_rate_bps, sinr

    xyz = np.asarray(station_xyz_m, dtype=np.float64).reshape(-1, 3)
    power = np.broadcast_to(np.asarray(tx_power_dbm, dtype=np.float64), (xyz.shape[0],))
    cells, shape, outdoor = ground_grid(city, cell_m=cell_m, height_m=user_height_m)
    rx_dbm = engine.received_power_dbm(
        xyz, cells, tx_power_dbm=power, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg
    )
    link = sinr(rx_dbm, noise_dbm)
    sinr_db = link.sinr_db
    gain_lin = 10.0 ** ((rx_dbm - power[:, None]) / 10.0)
    # An analytic engine reaches every cell from every station, so eq. 10's mask (C_i > 0) would
    # average each station's SIR over the whole map, mostly where it is an interferer. Its intent
    # — the cells the station actually serves — is taken literally: its best-server area.
    serving_mask = link.serving[None, :] == np.arange(xyz.shape[0])[:, None]
    eff = effective_sir_db(gain_lin, 10.0 ** ((power - 30.0) / 10.0), mask=serving_mask)
    finite = eff[np.isfinite(eff)]
    fairness = jain_fairness(10.0 ** (finite / 10.0)) if finite.size else float("nan")

    centers = np.asarray(aoi_centers_m, dtype=np.float64).reshape(-1, 2)
    radii = np.asarray(aoi_radii_m, dtype=np.float64).reshape(-1)
    d_cell = np.linalg.norm(cells[:, None, :2] - centers[None, :, :], axis=-1)
    in_aoi = d_cell <= radii[None, :]
    aoi_sinr = [
        float(np.mean(sinr_db[in_aoi[:, k]])) if in_aoi[:, k].any() else float("nan")
        for k in range(centers.shape[0])
    ]

    altitude = xyz[:, 2]
    clearances: list[float] = []
    enters = False
    inside = int(city.inside_building(xyz).sum())
    for r, h in zip(routes_m, altitude, strict=True):
        r = np.asarray(r, dtype=np.float64).reshape(-1, 3)
        if r.shape[0] < 2:
            r = np.vstack((r, r))
        clear = city.segment_clearance_m(r[:-1], r[1:], min_height_m=float(h))
        clearances.append(float(clear.min()))
        if not bool(np.all(city.line_of_sight(r[:-1], r[1:]))):
            enters = True
        if bool(np.any(city.inside_building(r))):
            enters = True

    served = aoi_served(xyz[:, :2], centers, radii)
    user_sinr: list[float] | None = None
    user_rate: list[float] | None = None
    users_ok: float | None = None
    if users_xyz_m is not None and len(users_xyz_m):
        u = np.asarray(users_xyz_m, dtype=np.float64).reshape(-1, 3)
        u_rx = engine.received_power_dbm(
            xyz, u, tx_power_dbm=power, azimuth_deg=azimuth_deg, tilt_deg=tilt_deg
        )
        u_link = sinr(u_rx, noise_dbm)
        rate = shannon_rate_bps(u_link.sinr_db, bandwidth_hz)
        user_sinr = [float(x) for x in u_link.sinr_db]
        user_rate = [float(x) for x in rate]
        if users_demand_bps is not None:
            users_ok = float(np.mean(rate >= np.asarray(users_demand_bps)))

    full = np.full(shape[0] * shape[1], np.nan)
    full[outdoor] = sinr_db
    cols = np.arange(cells.shape[0])
    layers = {}
    for name, values in (
        ("path_gain_db", gain_db_serving(rx_dbm, power, link.serving, cols)),
        ("serving_station", link.serving.astype(np.float64)),
    ):
        grid = np.full(shape[0] * shape[1], np.nan)
        grid[outdoor] = values
        layers[name] = grid.reshape(shape)
    x_min, y_min, _, _ = city.bounds_m
    extent = (x_min, x_min + shape[1] * cell_m, y_min, y_min + shape[0] * cell_m)
    return Metrics(
        sinr_map=(full.reshape(shape), extent),
        ground_maps=layers,
        aoi_satisfaction=float(served.mean()) if served.size else 1.0,
        aoi_served=[bool(s) for s in served],
        coverage_fraction=float(np.mean(sinr_db >= sinr_threshold_db)),
        sinr_threshold_db=float(sinr_threshold_db),
        mean_sinr_db=float(np.mean(sinr_db)),
        min_sinr_db=float(np.min(sinr_db)),
        median_sinr_db=float(np.median(sinr_db)),
        aoi_mean_sinr_db=aoi_sinr,
        effective_sir_db=[float(x) for x in eff],
        jain_fairness=fairness,
        min_station_separation_m=min_pairwise_distance_m(xyz[:, :2]),
        stations_inside_buildings=inside,
        route_length_m=[float(x) for x in route_lengths_m(routes_m)],
        route_min_clearance_m=clearances,
        routes_enter_buildings=enters,
        evaluation_cells=int(cells.shape[0]),
        user_sinr_db=user_sinr,
        user_rate_bps=user_rate,
        users_satisfied=users_ok,
    )
