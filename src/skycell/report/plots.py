"""PNG figures: the plan map (paper 000 Fig. 6) and the SINR map of a deployment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skycell.fileio import atomic_write

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.deployment import Deployment


def _save_atomic(fig: Any, path: Path, dpi: int) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"), suffix=".png")


def plot_plan(
    deployment: Deployment,
    city: City,
    path: str | os.PathLike[str],
    *,
    altitude_m: float | None = None,
    sinr_map: tuple[np.ndarray[Any, Any], tuple[float, float, float, float]] | None = None,
    dpi: int = 130,
) -> Path:
    """Draw the plan like paper 000 Fig. 6: buildings shaded by height (those a station at the
    hover altitude must avoid outlined in red), AOIs with their 2r/3 service circle, every
    station's route from its start (o) to its final position (^).

    Args:
        deployment: the deployment to draw.
        city: its city.
        path: PNG file to write (atomically).
        altitude_m: hover altitude for the outline of obstacle buildings (default: the stations').
        sinr_map: optional ``(sinr_db (ny, nx) with NaN inside buildings, extent)`` drawn as a
            second panel.
        dpi: resolution.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Circle

    panels = 2 if sinr_map is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(8.0 * panels, 7.2), squeeze=False)
    ax = axes[0, 0]
    b = city.buildings
    x0, y0, x1, y1 = city.bounds_m
    xyz = deployment.station_xyz_m()
    h = float(altitude_m if altitude_m is not None else xyz[:, 2].max())
    if len(b):
        heights = b.heights_m
        polys = PolyCollection(
            list(b.footprints_m),
            array=heights,
            cmap="Greys",
            clim=(0.0, max(float(heights.max()), h)),
            edgecolors="none",
            zorder=1,
        )
        ax.add_collection(polys)
        fig.colorbar(polys, ax=ax, shrink=0.75, label="building height [m]")
        tall = [fp for fp, hh in zip(b.footprints_m, heights, strict=True) if hh > h]
        if tall:
            ax.add_collection(
                PolyCollection(
                    tall, facecolors="none", edgecolors="tab:red", linewidths=0.6, zorder=2
                )
            )
    for a in deployment.areas_of_interest:
        ax.add_patch(Circle(a.center_m, a.radius_m, fill=False, color="gold", lw=2.0, zorder=3))
        ax.add_patch(
            Circle(
                a.center_m, 2 * a.radius_m / 3, fill=False, color="gold", lw=1.0, ls="--", zorder=3
            )
        )
        ax.annotate(a.id, a.center_m, color="darkgoldenrod", ha="center", va="center", zorder=4)
    colors = plt.get_cmap("tab10")
    for i, (st, route) in enumerate(zip(deployment.stations, deployment.routes_m(), strict=True)):
        c = colors(i % 10)
        ax.plot(route[:, 0], route[:, 1], color=c, lw=1.4, zorder=5)
        ax.plot(route[0, 0], route[0, 1], "o", color=c, ms=5, mfc="white", zorder=6)
        ax.plot(st.position_m[0], st.position_m[1], "^", color=c, ms=9, mec="black", zorder=7)
        ax.annotate(
            st.id if not deployment.users else f"{st.id} ({st.position_m[2]:.0f} m)",
            st.position_m[:2],
            xytext=(5, 5),
            textcoords="offset points",
            fontsize=8,
            zorder=8,
        )
    if deployment.users:
        ids = {st.id: i for i, st in enumerate(deployment.stations)}
        ux = np.array([u.position_m[0] for u in deployment.users])
        uy = np.array([u.position_m[1] for u in deployment.users])
        k = np.array([ids.get(u.serving_station or "", -1) for u in deployment.users])
        served = k >= 0
        if served.any():
            ax.scatter(ux[served], uy[served], s=6, c=colors(k[served] % 10), zorder=6)
        if (~served).any():
            ax.scatter(ux[~served], uy[~served], s=14, c="black", marker="x", zorder=6,
                       label="unserved user")  # fmt: skip
            ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    if deployment.users:
        served_n = sum(1 for u in deployment.users if u.serving_station)
        z_m = xyz[:, 2]
        height_text = (
            f"{z_m.min():.0f} m" if np.ptp(z_m) < 0.5 else f"{z_m.min():.0f}-{z_m.max():.0f} m"
        )
        name = deployment.method.get("name", "")
        title = (
            f"{name}: {len(deployment.stations)} station(s) at "
            f"{height_text}, {served_n}/{len(deployment.users)} users served\n"
            "(dots: users coloured by serving station; red outline: taller than the highest "
            "station)"
        )
    else:
        s_aoi = deployment.metrics.get("aoi_satisfaction")
        title = f"{len(deployment.stations)} stations at {h:g} m"
        if s_aoi is not None and deployment.areas_of_interest:
            title += f" — S_AOI = {s_aoi:.2f}"
        title += "\n(o start, ^ final; red outline: taller than the hover altitude)"
    ax.set_title(title, fontsize=10)

    if sinr_map is not None:
        ax2 = axes[0, 1]
        grid, extent = sinr_map
        im = ax2.imshow(grid, origin="lower", extent=extent, cmap="viridis", vmin=-10, vmax=30)
        fig.colorbar(im, ax=ax2, shrink=0.75, label="SINR [dB]")
        for a in deployment.areas_of_interest:
            ax2.add_patch(Circle(a.center_m, a.radius_m, fill=False, color="white", lw=1.5))
        ax2.plot(xyz[:, 0], xyz[:, 1], "^", color="red", mec="black", ms=8)
        ax2.set_aspect("equal")
        ax2.set_xlabel("x [m]")
        ax2.set_title("downlink SINR at ground level (analytic engine)", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    _save_atomic(fig, out, dpi)
    plt.close(fig)
    return out
