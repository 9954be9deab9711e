"""The interactive report: one self-contained HTML file a planner opens in any browser, offline.

``skycell report DEPLOYMENT --out report.html`` (and ``skycell plan``, next to
``deployment.json``) writes a single file with plotly's JavaScript embedded — no network, no
server — holding:

* a 3D view of the city: every building extruded from its footprint (those taller than the
  hover altitude, which the stations must fly around, in red), the stations with their antenna
  boresight (cones), their routes from start to hover position, the areas of interest with their
  2r/3 service circle (paper 000 eq. 21), and the users coloured by serving station or by rate
  (a menu switches);
* a ground layer switchable between the serving station's path gain, the downlink SINR and the
  serving station (the analytic engine on the scenario's evaluation grid, the same figures as
  ``deployment.json``'s metrics);
* the metrics and stations tables and, where present, the antenna tuning (paper 000 Tables V-VI),
  the time-stepped simulation (``sir_per_area.csv`` of ``skycell simulate``, Fig. 9), the ns-3
  validation (``ns3.json`` of ``skycell validate``) and the recovery (``metrics.recovery``).

Vertical scale: the 3D view exaggerates heights (``vertical_exaggeration``, default 1.5, stated
on the z axis) so 70 m over a 2.4 km city stays readable. Large inputs stay light: the ground
grid is coarsened to at most ``max_ground_cells`` cells, routes to at most
``max_route_points`` waypoints per station, and every array is written in plotly's binary
(base64) form; 100 000 users make a file of a few megabytes.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.fileio import atomic_write_text

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from skycell.city.buildings import City
    from skycell.deployment import Deployment
    from skycell.metrics import Metrics

__all__ = ["ReportInputs", "build_report_html", "find_attachments", "write_report"]

FloatArray = NDArray[np.float64]

#: Qualitative palette for stations (cycled beyond its length).
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)
#: Plotly traces rendered: the report sets ``window.skycellRendered`` to the number of figures
#: drawn and ``window.skycellFigures`` to how many there are (for headless checks).
READY_FLAG = "skycellRendered"


@dataclass(frozen=True)
class ReportInputs:
    """Results shown beside the deployment when present.

    Attributes:
        simulation_csv: ``sir_per_area.csv`` of ``skycell simulate`` (per step and AOI SIR).
        ns3_json: ``ns3.json`` of ``skycell validate --ns3``.
    """

    simulation_csv: Path | None = None
    ns3_json: Path | None = None


def find_attachments(deployment_path: str | os.PathLike[str]) -> ReportInputs:
    """The simulation and ns-3 results written next to a deployment file, if any."""
    folder = Path(deployment_path).parent
    sim = folder / "sir_per_area.csv"
    ns3 = folder / "ns3.json"
    return ReportInputs(
        simulation_csv=sim if sim.is_file() else None, ns3_json=ns3 if ns3.is_file() else None
    )


def write_report(
    deployment: Deployment,
    path: str | os.PathLike[str],
    *,
    city: City | None = None,
    metrics: Metrics | None = None,
    inputs: ReportInputs | None = None,
    title: str | None = None,
    vertical_exaggeration: float = 1.5,
    max_ground_cells: int = 90_000,
    max_route_points: int = 300,
) -> Path:
    """Write the interactive report of a deployment (atomically).

    Args:
        deployment: the deployment.
        path: the HTML file to write.
        city: its city (default: rebuilt from the deployment's buildings).
        metrics: its metrics with the ground maps (default: re-evaluated on the analytic engine,
            as ``skycell evaluate`` does).
        inputs: simulation and ns-3 results to include.
        title: page title (default: the scenario's name and the method).
        vertical_exaggeration: factor on heights in the 3D view (> 0).
        max_ground_cells: most ground cells drawn (the grid is strided beyond).
        max_route_points: most waypoints drawn per route.

    Returns:
        The path written.

    Raises:
        SkycellError: plotly is missing, or a parameter is out of range.
    """
    text = build_report_html(
        deployment,
        city=city,
        metrics=metrics,
        inputs=inputs,
        title=title,
        vertical_exaggeration=vertical_exaggeration,
        max_ground_cells=max_ground_cells,
        max_route_points=max_route_points,
    )
    target = Path(path)
    atomic_write_text(target, text)
    return target


def build_report_html(
    deployment: Deployment,
    *,
    city: City | None = None,
    metrics: Metrics | None = None,
    inputs: ReportInputs | None = None,
    title: str | None = None,
    vertical_exaggeration: float = 1.5,
    max_ground_cells: int = 90_000,
    max_route_points: int = 300,
) -> str:
    """The report as HTML text (see :func:`write_report`)."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise SkycellError("the HTML report needs plotly: pip install plotly") from None
    if not (math.isfinite(vertical_exaggeration) and vertical_exaggeration > 0):
        raise SkycellError(f"vertical_exaggeration must be > 0, got {vertical_exaggeration}")
    if max_ground_cells < 1 or max_route_points < 2:
        raise SkycellError("max_ground_cells must be >= 1 and max_route_points >= 2")
    from skycell.plan.pipeline import deployment_city, evaluate_deployment

    if city is None:
        city = deployment_city(deployment)
    if metrics is None or metrics.ground_maps is None:
        metrics = evaluate_deployment(deployment, city)
    inputs = inputs or ReportInputs()
    name = str(deployment.scenario.get("name", "deployment"))
    method = str(deployment.method.get("name", ""))
    page_title = title or f"skycell — {name} ({method})"

    figures: list[tuple[str, go.Figure]] = [
        (
            "city",
            city_figure(
                deployment,
                city,
                metrics,
                vertical_exaggeration=vertical_exaggeration,
                max_ground_cells=max_ground_cells,
                max_route_points=max_route_points,
            ),
        )
    ]
    sections: list[str] = [
        _section("Deployment metrics (analytic engine)", _metrics_html(deployment.metrics)),
        _section("Stations", _stations_html(deployment)),
    ]
    tuning = deployment.metrics.get("tuning")
    if isinstance(tuning, dict):
        fig, body = _tuning(tuning)
        sections.append(_section("Antenna tuning (paper 000 §V-B)", body, figure_id="tuning"))
        if fig is not None:
            figures.append(("tuning", fig))
    if inputs.simulation_csv is not None:
        fig, body = _simulation(inputs.simulation_csv)
        sections.append(
            _section("Simulation over time (paper 000 Fig. 9)", body, figure_id="simulation")
        )
        if fig is not None:
            figures.append(("simulation", fig))
    recovery = deployment.metrics.get("recovery")
    if isinstance(recovery, dict):
        sections.append(_section("Recovery (paper 000 §VII)", _recovery_html(recovery)))
    if inputs.ns3_json is not None:
        sections.append(_section("ns-3 validation", _ns3_html(inputs.ns3_json)))
    if deployment.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in deployment.notes)
        sections.append(_section("Notes", f"<ul>{items}</ul>"))
    return _page(page_title, deployment, figures, sections)


# --------------------------------------------------------------------------------------------
# The 3D city
# --------------------------------------------------------------------------------------------


def station_colors(n: int) -> list[str]:
    """The colour of each of ``n`` stations (the palette, cycled)."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def building_mesh(
    city: City, *, vertical_exaggeration: float = 1.0, mask: NDArray[np.bool_] | None = None
) -> tuple[FloatArray, NDArray[np.int64], FloatArray]:
    """Triangles of the city's extruded buildings: walls (two triangles per footprint edge) and
    roofs (constrained Delaunay triangulation of each footprint, concave ones included).

    Args:
        city: the city.
        vertical_exaggeration: factor on heights.
        mask: ``(B,)`` buildings to include (default all).

    Returns:
        ``(V, 3)`` vertices [m], ``(F, 3)`` vertex indices of the triangles, ``(V,)`` the
        building height of each vertex [m] (for colouring).
    """
    import shapely

    b = city.buildings
    n_b = len(b)
    keep = np.ones(n_b, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if n_b == 0 or not keep.any():
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    heights = np.asarray(b.heights_m, dtype=np.float64)
    starts, ends, owner = b.edges_m
    sel = keep[owner]
    s, e, o = starts[sel], ends[sel], owner[sel]
    h = heights[o] * vertical_exaggeration
    zeros = np.zeros_like(h)
    # walls: s0, e0, e1, s1 per edge
    wall = np.stack(
        [
            np.column_stack((s, zeros)),
            np.column_stack((e, zeros)),
            np.column_stack((e, h)),
            np.column_stack((s, h)),
        ],
        axis=1,
    ).reshape(-1, 3)
    base = 4 * np.arange(s.shape[0], dtype=np.int64)[:, None]
    wall_faces = np.concatenate((base + np.array([0, 1, 2]), base + np.array([0, 2, 3])))
    wall_h = np.repeat(heights[o], 4)
    # roofs
    polys = np.asarray(b.polygons)[keep]
    idx_b = np.flatnonzero(keep)
    tris, which = shapely.get_parts(
        shapely.constrained_delaunay_triangles(polys), return_index=True
    )
    coords = shapely.get_coordinates(tris).reshape(-1, 4, 2)[:, :3, :]
    roof_owner = idx_b[which]
    roof_z = np.repeat(heights[roof_owner] * vertical_exaggeration, 3)
    roof = np.column_stack((coords.reshape(-1, 2), roof_z))
    roof_faces = wall.shape[0] + np.arange(roof.shape[0], dtype=np.int64).reshape(-1, 3)
    vertices = np.concatenate((wall, roof))
    faces = np.concatenate((wall_faces, roof_faces))
    vh = np.concatenate((wall_h, np.repeat(heights[roof_owner], 3)))
    return vertices, faces, vh


def discrete_colorscale(n: int) -> list[list[Any]]:
    """A stepped plotly colour scale giving integer ``k`` in ``[0, n)`` (with ``cmin = -0.5``,
    ``cmax = n - 0.5``) the colour of station ``k``."""
    steps: list[list[Any]] = []
    for i, c in enumerate(station_colors(n)):
        steps += [[i / n, c], [(i + 1) / n, c]]
    return steps


def _stride_for(ny: int, nx: int, max_cells: int) -> int:
    return max(1, math.ceil(math.sqrt(ny * nx / max_cells)))


def _ground_traces(
    metrics: Metrics, n_stations: int, max_cells: int
) -> list[tuple[str, go.Surface]]:
    import plotly.graph_objects as go

    assert metrics.sinr_map is not None and metrics.ground_maps is not None
    sinr, (x0, x1, y0, y1) = metrics.sinr_map
    ny, nx = sinr.shape
    k = _stride_for(ny, nx, max_cells)
    cell_x = (x1 - x0) / nx
    cell_y = (y1 - y0) / ny
    xs = x0 + cell_x * (np.arange(nx) + 0.5)
    ys = y0 + cell_y * (np.arange(ny) + 0.5)
    xs, ys = xs[::k], ys[::k]
    layers = {
        "path gain": (metrics.ground_maps["path_gain_db"], "path gain [dB]", "Cividis"),
        "SINR": (sinr, "SINR [dB]", "Viridis"),
        "serving station": (metrics.ground_maps["serving_station"], "serving station", None),
    }
    out = []
    for label, (grid, unit, scale) in layers.items():
        g = np.asarray(grid, dtype=np.float64)[::k, ::k]
        z = np.where(np.isnan(g), np.nan, 0.0)
        finite = g[np.isfinite(g)]
        kwargs: dict[str, Any] = {}
        if label == "serving station":
            m = max(n_stations, 1)
            kwargs.update(
                colorscale=discrete_colorscale(m),
                cmin=-0.5,
                cmax=m - 0.5,
                colorbar={"title": {"text": unit}, "tickvals": list(range(m))[:: max(1, m // 10)]},
                hovertemplate="x %{x:.0f} m, y %{y:.0f} m<br>served by s%{surfacecolor:.0f}"
                "<extra></extra>",
            )
        else:
            lo, hi = (
                (float(np.percentile(finite, 2)), float(np.percentile(finite, 98)))
                if finite.size
                else (0.0, 1.0)
            )
            if label == "SINR":
                lo, hi = max(lo, -10.0), min(max(hi, lo + 1.0), 40.0)
            kwargs.update(
                colorscale=scale,
                cmin=lo,
                cmax=hi if hi > lo else lo + 1.0,
                colorbar={"title": {"text": unit}},
                hovertemplate=f"x %{{x:.0f}} m, y %{{y:.0f}} m<br>{unit}: "
                "%{surfacecolor:.1f}<extra></extra>",
            )
        out.append(
            (
                label,
                go.Surface(
                    x=xs,
                    y=ys,
                    z=z,
                    surfacecolor=g,
                    name=f"ground: {label}",
                    showlegend=False,
                    lighting={"ambient": 1.0, "diffuse": 0.0, "specular": 0.0},
                    opacity=1.0,
                    visible=label == "SINR",
                    **kwargs,
                ),
            )
        )
    return out


def _downsample_route(route: FloatArray, max_points: int) -> FloatArray:
    if route.shape[0] <= max_points:
        return route
    idx = np.unique(np.linspace(0, route.shape[0] - 1, max_points).round().astype(np.int64))
    return route[idx]


def _circle(cx: float, cy: float, r: float, z: float, n: int = 72) -> FloatArray:
    t = np.linspace(0.0, 2.0 * np.pi, n)
    return np.column_stack((cx + r * np.cos(t), cy + r * np.sin(t), np.full(n, z)))


def _nan_join(parts: list[FloatArray]) -> FloatArray:
    if not parts:
        return np.zeros((0, 3))
    gap = np.full((1, 3), np.nan)
    out = [parts[0]]
    for p in parts[1:]:
        out += [gap, p]
    return np.concatenate(out)


def _users(
    deployment: Deployment, city: City, metrics: Metrics
) -> tuple[FloatArray, NDArray[np.int64], FloatArray] | None:
    """Users' positions [m], serving-station index (-1 unserved) and rate [bit/s]."""
    ids = {s.id: i for i, s in enumerate(deployment.stations)}
    if deployment.users:
        xyz = np.array([u.position_m for u in deployment.users], dtype=np.float64)
        serving = np.array(
            [ids.get(u.serving_station or "", -1) for u in deployment.users], dtype=np.int64
        )
        rate = np.array([u.rate_bps for u in deployment.users], dtype=np.float64)
        return xyz, serving, rate
    users = deployment.scenario.get("users") or []
    if not users:
        return None
    from skycell.plan.pipeline import deployment_scenario, make_engine

    xyz = np.array([u["position_m"] for u in users], dtype=np.float64).reshape(-1, 3)
    sc = deployment_scenario(deployment)
    st = deployment.stations
    rx = make_engine(sc, city).received_power_dbm(
        deployment.station_xyz_m(),
        xyz,
        tx_power_dbm=np.array([s.tx_power_dbm for s in st]),
        azimuth_deg=np.array([s.azimuth_deg for s in st]),
        tilt_deg=np.array([s.tilt_deg for s in st]),
    )
    serving = np.argmax(rx, axis=0).astype(np.int64)
    rates = metrics.user_rate_bps
    rate = (
        np.array([np.nan if r is None else r for r in rates], dtype=np.float64)
        if rates is not None and len(rates) == xyz.shape[0]
        else np.full(xyz.shape[0], np.nan)
    )
    return xyz, serving, rate


def city_figure(
    deployment: Deployment,
    city: City,
    metrics: Metrics,
    *,
    vertical_exaggeration: float = 1.5,
    max_ground_cells: int = 90_000,
    max_route_points: int = 300,
) -> go.Figure:
    """The 3D figure: buildings, ground layers, AOIs, stations, boresights, routes, users."""
    import plotly.graph_objects as go

    ve = float(vertical_exaggeration)
    st = deployment.stations
    xyz = deployment.station_xyz_m()
    n = xyz.shape[0]
    colors = station_colors(n)
    hover_alt = float(xyz[:, 2].max()) if n else 0.0
    traces: list[Any] = []
    # ground layers first (their indices are used by the menu)
    ground = _ground_traces(metrics, n, max_ground_cells)
    ground_idx = list(range(len(ground)))
    traces += [t for _, t in ground]
    # buildings: below and above the hover altitude
    heights = np.asarray(city.buildings.heights_m, dtype=np.float64)
    for label, mask, colour in (
        ("buildings", heights <= hover_alt, "#b9b9b9"),
        (f"buildings taller than {hover_alt:.0f} m (obstacles)", heights > hover_alt, "#e07b73"),
    ):
        v, f, vh = building_mesh(city, vertical_exaggeration=ve, mask=mask)
        if not f.shape[0]:
            continue
        traces.append(
            go.Mesh3d(
                x=v[:, 0],
                y=v[:, 1],
                z=v[:, 2],
                i=f[:, 0],
                j=f[:, 1],
                k=f[:, 2],
                color=colour,
                flatshading=True,
                lighting={"ambient": 0.55, "diffuse": 0.7, "specular": 0.05, "roughness": 0.9},
                lightposition={"x": 6e4, "y": 3e4, "z": 1e5},
                customdata=vh,
                hovertemplate="building %{customdata:.0f} m tall<extra></extra>",
                name=label,
                showlegend=True,
            )
        )
    # areas of interest
    circles = []
    inner = []
    for a in deployment.areas_of_interest:
        circles.append(_circle(a.center_m[0], a.center_m[1], a.radius_m, 1.0))
        inner.append(_circle(a.center_m[0], a.center_m[1], 2.0 * a.radius_m / 3.0, 1.0))
    if circles:
        c = _nan_join(circles)
        traces.append(
            go.Scatter3d(
                x=c[:, 0],
                y=c[:, 1],
                z=c[:, 2],
                mode="lines",
                name="areas of interest",
                line={"color": "gold", "width": 6},
                hoverinfo="skip",
            )
        )
        c = _nan_join(inner)
        traces.append(
            go.Scatter3d(
                x=c[:, 0],
                y=c[:, 1],
                z=c[:, 2],
                mode="lines",
                name="2r/3 service circle (eq. 21)",
                line={"color": "goldenrod", "width": 3, "dash": "dash"},
                hoverinfo="skip",
            )
        )
        traces.append(
            go.Scatter3d(
                x=[a.center_m[0] for a in deployment.areas_of_interest],
                y=[a.center_m[1] for a in deployment.areas_of_interest],
                z=[2.0] * len(deployment.areas_of_interest),
                mode="text",
                text=[a.id for a in deployment.areas_of_interest],
                textfont={"color": "#8a6d00", "size": 13},
                name="AOI names",
                showlegend=False,
                hoverinfo="skip",
            )
        )
    # routes
    routes = [_downsample_route(r, max_route_points) for r in deployment.routes_m()]
    if any(r.shape[0] > 1 for r in routes):
        path = _nan_join([r * [1.0, 1.0, ve] for r in routes])
        col = []
        for i, r in enumerate(routes):
            col += [colors[i]] * r.shape[0] + ([colors[i]] if i < len(routes) - 1 else [])
        traces.append(
            go.Scatter3d(
                x=path[:, 0],
                y=path[:, 1],
                z=path[:, 2],
                mode="lines",
                name="routes",
                line={"color": col, "width": 4},
                hoverinfo="skip",
            )
        )
        starts = np.array([r[0] for r in routes])
        traces.append(
            go.Scatter3d(
                x=starts[:, 0],
                y=starts[:, 1],
                z=starts[:, 2] * ve,
                mode="markers",
                name="route starts",
                marker={"size": 3, "color": colors, "symbol": "circle-open"},
                hoverinfo="skip",
            )
        )
    # stations and their boresights
    served = _served_counts(deployment)
    eff = deployment.metrics.get("effective_sir_db") or []
    custom = np.array(
        [
            [
                s.position_m[2],
                s.azimuth_deg,
                s.tilt_deg,
                s.tx_power_dbm,
                served.get(s.id, np.nan),
                (eff[i] if i < len(eff) and eff[i] is not None else np.nan),
            ]
            for i, s in enumerate(st)
        ],
        dtype=np.float64,
    )
    traces.append(
        go.Scatter3d(
            x=xyz[:, 0],
            y=xyz[:, 1],
            z=xyz[:, 2] * ve,
            mode="markers+text",
            text=[s.id for s in st],
            textposition="top center",
            marker={"size": 7, "color": colors, "symbol": "diamond", "line": {"width": 1}},
            customdata=custom,
            hovertemplate="<b>%{text}</b><br>x %{x:.1f} m, y %{y:.1f} m, z %{customdata[0]:.1f}"
            " m<br>azimuth %{customdata[1]:.1f}°, tilt %{customdata[2]:.1f}°<br>power "
            "%{customdata[3]:.1f} dBm<br>users served %{customdata[4]}<br>effective SIR "
            "%{customdata[5]:.1f} dB<extra></extra>",
            name="stations",
        )
    )
    az = np.radians([s.azimuth_deg for s in st])
    tilt = np.radians([s.tilt_deg for s in st])
    span = max(city.bounds_m[2] - city.bounds_m[0], city.bounds_m[3] - city.bounds_m[1])
    if n:
        length = 0.03 * span  # drawn length of the boresight [m]
        tip = xyz + length * np.column_stack(
            (np.cos(tilt) * np.cos(az), np.cos(tilt) * np.sin(az), -np.sin(tilt))
        )
        seg = _nan_join([np.vstack((xyz[i], tip[i])) * [1.0, 1.0, ve] for i in range(n)])
        traces.append(
            go.Scatter3d(
                x=seg[:, 0],
                y=seg[:, 1],
                z=seg[:, 2],
                mode="lines",
                name="antenna boresight",
                line={"color": "#222222", "width": 5},
                hoverinfo="skip",
            )
        )
    # users: by serving station, by rate (menu)
    user_idx: list[int] = []
    users = _users(deployment, city, metrics)
    if users is not None:
        u_xyz, serving, rate = users
        ok = serving >= 0
        rate_mbps = rate / 1e6
        size = 3 if u_xyz.shape[0] > 2000 else 5
        cust = np.column_stack((serving.astype(np.float64), rate_mbps))
        user_idx = [len(traces), len(traces) + 1]
        m = max(n, 1)
        traces.append(
            go.Scatter3d(
                x=u_xyz[ok, 0],
                y=u_xyz[ok, 1],
                z=u_xyz[ok, 2] * ve,
                mode="markers",
                marker={
                    "size": size,
                    "color": serving[ok].astype(np.float64),
                    "colorscale": discrete_colorscale(m),
                    "cmin": -0.5,
                    "cmax": m - 0.5,
                },
                customdata=cust[ok],
                name="users (by serving station)",
                hovertemplate="user served by s%{customdata[0]:.0f}<br>rate "
                "%{customdata[1]:.2f} Mbit/s<extra></extra>",
            )
        )
        finite = rate_mbps[ok & np.isfinite(rate_mbps)]
        traces.append(
            go.Scatter3d(
                x=u_xyz[ok, 0],
                y=u_xyz[ok, 1],
                z=u_xyz[ok, 2] * ve,
                mode="markers",
                marker={
                    "size": size,
                    "color": rate_mbps[ok],
                    "colorscale": "Plasma",
                    "cmin": float(finite.min()) if finite.size else 0.0,
                    "cmax": float(finite.max()) if finite.size else 1.0,
                    "colorbar": {"title": {"text": "rate [Mbit/s]"}, "x": 1.12},
                },
                customdata=cust[ok],
                name="users (by rate)",
                visible=False,
                hovertemplate="user served by s%{customdata[0]:.0f}<br>rate "
                "%{customdata[1]:.2f} Mbit/s<extra></extra>",
            )
        )
        if (~ok).any():
            traces.append(
                go.Scatter3d(
                    x=u_xyz[~ok, 0],
                    y=u_xyz[~ok, 1],
                    z=u_xyz[~ok, 2] * ve,
                    mode="markers",
                    marker={"size": size + 1, "color": "black", "symbol": "x"},
                    name=f"unserved users ({int((~ok).sum())})",
                    hoverinfo="skip",
                )
            )
    fig = go.Figure(data=traces)
    x0, y0, x1, y1 = city.bounds_m
    z_top = max(float(heights.max()) if heights.size else 0.0, hover_alt) * ve
    ratio_y = (y1 - y0) / max(x1 - x0, 1e-9)
    ratio_z = max(0.08, z_top / max(x1 - x0, 1e-9))
    menus = [
        {
            "buttons": [
                {
                    "label": f"ground: {label}",
                    "method": "restyle",
                    "args": [{"visible": [g == label for g, _ in ground]}, ground_idx],
                }
                for label, _ in ground
            ],
            "active": [g for g, _ in ground].index("SINR"),
            "x": 0.0,
            "y": 1.08,
            "xanchor": "left",
            "yanchor": "top",
            "direction": "down",
            "showactive": True,
        }
    ]
    if user_idx:
        menus.append(
            {
                "buttons": [
                    {
                        "label": "users: by serving station",
                        "method": "restyle",
                        "args": [{"visible": [True, False]}, user_idx],
                    },
                    {
                        "label": "users: by rate",
                        "method": "restyle",
                        "args": [{"visible": [False, True]}, user_idx],
                    },
                ],
                "x": 0.3,
                "y": 1.08,
                "xanchor": "left",
                "yanchor": "top",
                "direction": "down",
                "showactive": True,
            }
        )
    fig.update_layout(
        scene={
            "xaxis": {"title": {"text": "x [m]"}, "range": [x0, x1]},
            "yaxis": {"title": {"text": "y [m]"}, "range": [y0, y1]},
            "zaxis": {
                "title": {"text": f"z [m] × {ve:g}"},
                "range": [0.0, z_top * 1.05],
                "nticks": 4,
            },
            "aspectmode": "manual",
            "aspectratio": {"x": 1.0, "y": ratio_y, "z": ratio_z},
            "camera": {"eye": {"x": -0.6, "y": -1.0, "z": 0.8}},
        },
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        legend={"x": 0.0, "y": 0.95, "bgcolor": "rgba(255,255,255,0.7)"},
        updatemenus=menus,
        height=760,
    )
    return fig


def _served_counts(deployment: Deployment) -> dict[str, int]:
    out: dict[str, int] = {}
    for u in deployment.users:
        if u.serving_station:
            out[u.serving_station] = out.get(u.serving_station, 0) + 1
    return out


# --------------------------------------------------------------------------------------------
# Tables and attachments
# --------------------------------------------------------------------------------------------


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a"
        return f"{v:.{digits}g}" if abs(v) >= 1e4 or abs(v) < 1e-3 else f"{v:.{digits}f}"
    return html.escape(str(v))


def _table(columns: list[str], rows: list[list[str]], *, cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _metrics_html(m: dict[str, Any]) -> str:
    rows: list[list[str]] = []

    def row(name: str, value: str) -> None:
        rows.append([html.escape(name), value])

    served = m.get("aoi_served") or []
    row("AOI satisfaction S_AOI (eq. 21)", _fmt(m.get("aoi_satisfaction")))
    row("AOIs served", f"{sum(bool(s) for s in served)} / {len(served)}")
    thr = m.get("sinr_threshold_db")
    row(f"ground coverage (SINR ≥ {_fmt(thr, 2)} dB)", _fmt(m.get("coverage_fraction")))
    row(
        "mean / median / min SINR [dB]",
        " / ".join(_fmt(m.get(k), 3) for k in ("mean_sinr_db", "median_sinr_db", "min_sinr_db")),
    )
    eff = [x for x in (m.get("effective_sir_db") or []) if x is not None]
    if eff:
        row(
            "effective SIR per station [dB] (eqs. 9-11)",
            f"min {min(eff):.1f}, mean {sum(eff) / len(eff):.1f}",
        )
    row("Jain's fairness of effective SIR", _fmt(m.get("jain_fairness")))
    row("min station separation [m]", _fmt(m.get("min_station_separation_m")))
    row("stations inside buildings", _fmt(m.get("stations_inside_buildings")))
    lengths = m.get("route_length_m") or []
    if lengths:
        row("route length [m] (max / total)", f"{max(lengths):.0f} / {sum(lengths):.0f}")
    clear = [c for c in (m.get("route_min_clearance_m") or []) if c is not None]
    if clear:
        row("min route clearance from tall buildings [m]", f"{min(clear):.1f}")
    row("any route enters a building", _fmt(bool(m.get("routes_enter_buildings"))))
    for key, label in (
        ("users_satisfied", "users whose rate meets their demand"),
        ("station_count", "stations used"),
        ("users_served", "users served"),
        ("users_in_los", "users in line of sight of a station"),
        ("demand_satisfied_fraction", "users whose demand is met"),
    ):
        if m.get(key) is not None:
            row(label, _fmt(m.get(key)))
    agg = m.get("aggregate_rate_bps")
    if agg is not None:
        row("aggregate rate [Mbit/s]", f"{agg / 1e6:.1f}")
    aois = m.get("aoi_mean_sinr_db")
    if aois:
        row("mean SINR per AOI [dB]", ", ".join(_fmt(x, 3) for x in aois))
    return _table(["metric", "value"], rows, cls="kv")


def _stations_html(dep: Deployment) -> str:
    lengths = dep.metrics.get("route_length_m") or []
    eff = dep.metrics.get("effective_sir_db") or []
    served = _served_counts(dep)
    colors = station_colors(len(dep.stations))
    rows = []
    for i, s in enumerate(dep.stations):
        x, y, z = s.position_m
        rows.append(
            [
                f'<span class="dot" style="background:{colors[i]}"></span>{html.escape(s.id)}',
                f"{x:.1f}",
                f"{y:.1f}",
                f"{z:.1f}",
                f"{s.azimuth_deg:.1f}",
                f"{s.tilt_deg:.1f}",
                f"{s.tx_power_dbm:.1f}",
                _fmt(lengths[i] if i < len(lengths) else None),
                _fmt(eff[i] if i < len(eff) else None),
                str(served.get(s.id, "")) if dep.users else "",
            ]
        )
    cols = [
        "id",
        "x [m]",
        "y [m]",
        "z [m]",
        "azimuth [°]",
        "tilt [°]",
        "power [dBm]",
        "route [m]",
        "effective SIR [dB]",
        "users served",
    ]
    return _table(cols, rows)


def _tuning(t: dict[str, Any]) -> tuple[go.Figure | None, str]:
    import plotly.graph_objects as go

    before, after = t.get("before") or {}, t.get("after") or {}
    rows = [
        [name, *(_fmt(d.get(k), 3) for k in ("min_db", "mean_db", "std_db", "jain"))]
        for name, d in (("before", before), ("after", after))
    ]
    body = (
        f"<p>method <b>{html.escape(str(t.get('method')))}</b> on the "
        f"{html.escape(str(t.get('engine')))} engine, {t.get('iterations')} iterations, "
        f"{_fmt(t.get('cell_m'))} m cells.</p>"
        + _table(["effective SIR [dB]", "min", "mean", "std", "Jain"], rows)
    )
    sb, sa = t.get("sir_before_db") or [], t.get("sir_after_db") or []
    if sb and sa:
        per = [
            [f"s{i}", _fmt(b, 3), _fmt(a, 3)] for i, (b, a) in enumerate(zip(sb, sa, strict=False))
        ]
        body += "<h3>per station (Table V shape)</h3>" + _table(
            ["station", "before [dB]", "after [dB]"], per
        )
    ids = t.get("aoi_ids") or []
    change = t.get("aoi_serving_change_db") or []
    serving = t.get("aoi_serving_after") or []
    if ids:
        per = [
            [
                html.escape(str(a)),
                f"s{serving[k]}" if k < len(serving) else "",
                _fmt(change[k] if k < len(change) else None, 3),
            ]
            for k, a in enumerate(ids)
        ]
        body += "<h3>serving station's SIR change per AOI (Table VI shape)</h3>" + _table(
            ["AOI", "serving station", "change [dB]"], per
        )
    hist = t.get("loss_history") or []
    fig = None
    if hist:
        fig = go.Figure(go.Scatter(y=[np.nan if v is None else v for v in hist], mode="lines"))
        fig.update_layout(
            height=280,
            margin={"l": 50, "r": 10, "t": 30, "b": 40},
            title={"text": "loss per iteration"},
            xaxis_title="iteration",
            yaxis_title="loss",
        )
    return fig, body


def _simulation(path: Path) -> tuple[go.Figure | None, str]:
    import csv

    import plotly.graph_objects as go

    try:
        with path.open(encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        return None, f"<p>cannot read {html.escape(str(path))}: {html.escape(str(exc))}</p>"
    if len(rows) < 2:
        return None, "<p>the simulation file has no steps.</p>"
    head, data = rows[0], rows[1:]
    t = np.array([float(r[1]) for r in data])
    fig = go.Figure()
    means = []
    for k, col in enumerate(head[2:], start=2):
        y = np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in data])
        fig.add_trace(go.Scatter(x=t, y=y, mode="lines", name=col))
        means.append(
            [html.escape(col), _fmt(float(np.nanmean(y)) if np.isfinite(y).any() else None)]
        )
    fig.update_layout(
        height=340,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis_title="t [s]",
        yaxis_title="mean SIR of the AOI's users [dB]",
    )
    body = f"<p>{len(data)} steps from {html.escape(path.name)}.</p>" + _table(
        ["AOI:run", "mean SIR over time [dB]"], means
    )
    return fig, body


def _ns3_html(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"<p>cannot read {html.escape(str(path))}: {html.escape(str(exc))}</p>"
    rows = []
    for d in data.get("deployments", []):
        thr = d.get("throughput_mbps") or {}
        dly = d.get("delay_ms") or {}
        rows.append(
            [
                html.escape(str(d.get("label"))),
                _fmt(d.get("runs")),
                _fmt(d.get("users")),
                _fmt(d.get("stations")),
                _fmt(d.get("offered_mbps")),
                " / ".join(_fmt(thr.get(k)) for k in ("p50", "p90")),
                " / ".join(_fmt(dly.get(k)) for k in ("p50", "p90")),
                _fmt(d.get("loss_ratio_median")),
            ]
        )
    body = _table(
        [
            "deployment",
            "runs",
            "users",
            "stations",
            "offered [Mbit/s]",
            "throughput p50 / p90 [Mbit/s]",
            "delay p50 / p90 [ms]",
            "loss ratio (median)",
        ],
        rows,
    )
    gains = data.get("gains_over") or {}
    if gains:
        g_rows = [
            [
                html.escape(str(k)),
                ", ".join(f"{html.escape(str(n))} {_fmt(x)}" for n, x in g.items()),
            ]
            for k, g in gains.items()
        ]
        body += "<h3>gains</h3>" + _table(["over", "gains"], g_rows)
    return body


def _recovery_html(r: dict[str, Any]) -> str:
    rows = [
        [html.escape(k), _fmt(v)]
        for k, v in r.items()
        if isinstance(v, str | int | float | bool) or v is None
    ]
    return _table(["field", "value"], rows, cls="kv")


def _section(title: str, body: str, *, figure_id: str | None = None) -> str:
    fig = f'<div class="figure" id="fig-{figure_id}"></div>' if figure_id else ""
    return f"<section><h2>{html.escape(title)}</h2>{fig}{body}</section>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1d3557;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;font-size:13px;opacity:.85}
main{padding:12px 24px 40px}section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;
margin:14px 0;padding:10px 16px}
h2{font-size:17px;margin:6px 0 10px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{border-bottom:1px solid #eee;padding:3px 10px;text-align:right}
th{background:#f3f5f8}table.kv td:first-child{text-align:left}
td:first-child,th:first-child{text-align:left}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px}
.hint{font-size:12px;color:#555}
"""


def _page(
    title: str,
    dep: Deployment,
    figures: list[tuple[str, go.Figure]],
    sections: list[str],
) -> str:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    from skycell import __version__

    divs: dict[str, str] = {}
    for fid, fig in figures:
        divs[fid] = pio.to_html(
            fig,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"plot-{fid}",
            config={"displaylogo": False, "responsive": True},
            post_script=f"window.{READY_FLAG} = (window.{READY_FLAG} || 0) + 1;",
        )
    body = "".join(sections)
    for fid, div in divs.items():
        if fid == "city":
            continue
        body = body.replace(f'<div class="figure" id="fig-{fid}"></div>', div)
    m = dep.method
    scenario = dep.scenario
    users = len(dep.users) or len(scenario.get("users") or [])
    subtitle = (
        f"method {html.escape(str(m.get('name', '')))}, seed {html.escape(str(m.get('seed', '')))}"
        f" · {len(dep.stations)} station(s) · {len(dep.areas_of_interest)} area(s) of interest · "
        f"{users} user(s) · {len(dep.buildings)} buildings · skycell {__version__}"
    )
    city = (
        _section("City, stations, routes and ground layer", "")
        .replace("</h2>", "</h2>" + divs["city"], 1)
        .replace(
            "</section>",
            '<p class="hint">Drag to rotate, scroll to zoom; the menus switch the ground layer '
            "(serving station's path gain, SINR, serving station) and the users' colouring; "
            "click a legend entry to hide it. Heights are exaggerated as stated on the z axis."
            "</p></section>",
        )
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='generator' content='skycell {__version__}'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>window.skycellFigures = {len(figures)};</script>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{subtitle}</p></header>"
        f"<main>{city}{body}</main></body></html>\n"
    )
