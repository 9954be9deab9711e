"""Paper 001's figures from skycell's runs: learning curves (Figs. 6, 8, 9), the UAV trajectory
during training (Fig. 7) and the method comparison with the non-twin baseline (Fig. 10).

Each function takes plain numbers (the ``extra`` of the methods' :class:`UserPlacement`) and
writes one PNG; ``benchmarks/bench_paper001.py`` calls them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: Line styles of the top 1 / 10 / 30 % lines (Fig. 6: dashed, dash-dot, dash-dot-dot).
TOP_STYLES = {0.01: (0, (5, 3)), 0.10: (0, (6, 2, 1, 2)), 0.30: (0, (6, 2, 1, 2, 1, 2))}


def moving_average(values: ArrayLike, window: int = 100) -> FloatArray:
    """Trailing moving average over up to ``window`` samples (Fig. 6's red line)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    n = np.arange(1, v.size + 1)
    lo = np.maximum(n - window, 0)
    return np.asarray((c[n] - c[lo]) / (n - lo), dtype=np.float64)


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_learning(
    path: Path,
    curves: Mapping[str, Sequence[float]],
    tops: Mapping[str, Mapping[float, float]],
    *,
    title: str,
    window: int = 100,
) -> Path:
    """Fig. 6: received power, SINR and sum rate per episode, their moving average and the
    exhaustive top 1 / 10 / 30 % lines.

    Args:
        path: PNG to write.
        curves: ``rx_power_curve_dbm``, ``sinr_curve_db``, ``reward_curve_bps_hz`` per episode.
        tops: the same keys -> ``{0.01: value, 0.10: value, 0.30: value}`` over the grid.
        title: figure title.
        window: moving-average window [episodes].
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("rx_power_curve_dbm", "received power [dBm]"),
        ("sinr_curve_db", "SINR [dB]"),
        ("reward_curve_bps_hz", "average sum rate, eq. 5 [bit/s/Hz]"),
    )
    fig, axes = plt.subplots(3, 1, figsize=(8, 8.5), sharex=True)
    for ax, (key, label) in zip(axes, panels, strict=True):
        v = np.asarray(curves[key], dtype=np.float64)
        ep = np.arange(1, v.size + 1)
        ax.plot(ep, v, color="tab:blue", lw=0.4, alpha=0.6, label="per episode")
        ax.plot(
            ep, moving_average(v, window), color="tab:red", lw=1.6, label=f"moving avg {window}"
        )
        for q, val in sorted(tops.get(key, {}).items()):
            ax.axhline(val, color="k", lw=1.0, ls=TOP_STYLES.get(q, "--"), label=f"top {q:.0%}")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8, ncol=3)
    axes[-1].set_xlabel("episode")
    fig.suptitle(title)
    return _save(fig, path)


def plot_trajectory(
    path: Path,
    positions_m: ArrayLike,
    *,
    bounds_m: Sequence[float],
    boxes_m: ArrayLike | None = None,
    users_xyz_m: ArrayLike | None = None,
    refused: ArrayLike | None = None,
    title: str,
) -> Path:
    """Fig. 7: (a) the UAV's positions during training in 3-D (colour = episode) over the
    buildings and users, (b) its x, y and z against the episode. Episodes whose position was
    refused (inside a building's clearance: the UAV stayed at the start) are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = np.asarray(positions_m, dtype=np.float64).reshape(-1, 3)
    ep = np.arange(p.shape[0])
    if refused is not None:
        keep = ~np.asarray(refused, dtype=bool).reshape(-1)
        p, ep = p[keep], ep[keep]
    fig = plt.figure(figsize=(12, 5))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    if boxes_m is not None:
        for x0, y0, x1, y1, h in np.asarray(boxes_m, dtype=np.float64).reshape(-1, 5):
            xs = [x0, x1, x1, x0, x0]
            ys = [y0, y0, y1, y1, y0]
            ax.plot(xs, ys, [h] * 5, color="0.5", lw=0.6)
            for x, y in zip(xs[:4], ys[:4], strict=True):
                ax.plot([x, x], [y, y], [0, h], color="0.7", lw=0.4)
    if users_xyz_m is not None:
        u = np.asarray(users_xyz_m, dtype=np.float64).reshape(-1, 3)
        ax.scatter(u[:, 0], u[:, 1], u[:, 2], s=6, color="tab:blue", label="vehicles")
    ax.plot(p[:, 0], p[:, 1], p[:, 2], color="0.6", lw=0.3)
    sc = ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=ep, cmap="viridis", s=4)
    ax.scatter(*p[-1], color="tab:red", s=40, marker="*", label="final")
    x0, y0, _, x1, y1, z1 = bounds_m
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_zlim(0, z1)
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_zlabel("z [m]")
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(sc, ax=ax, shrink=0.6, label="episode")
    ax2 = fig.add_subplot(1, 2, 2)
    for a, (name, color) in enumerate((("x", "tab:blue"), ("y", "tab:orange"), ("z", "tab:green"))):
        ax2.plot(ep + 1, p[:, a], color=color, lw=0.6, label=name)
    ax2.set_xlabel("episode")
    ax2.set_ylabel("UAV coordinate [m]")
    ax2.grid(alpha=0.3)
    ax2.legend()
    fig.suptitle(title)
    return _save(fig, path)


def plot_curves(
    path: Path,
    curves: Mapping[str, Sequence[float]],
    *,
    title: str,
    ylabel: str = "average sum rate, eq. 5 [bit/s/Hz]",
    window: int = 100,
    tops: Mapping[str, float] | None = None,
) -> Path:
    """Figs. 8 and 9: moving averages of several learning curves (label -> per-episode values),
    with optional horizontal reference lines (label -> value)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, v in curves.items():
        y = moving_average(v, window)
        ax.plot(np.arange(1, y.size + 1), y, lw=1.4, label=label)
    for label, val in (tops or {}).items():
        ax.axhline(val, color="k", lw=0.9, ls="--")
        ax.annotate(label, (0, val), xytext=(4, 2), textcoords="offset points", fontsize=7)
    ax.set_xlabel("episode")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def plot_comparison(
    path: Path,
    bars: Sequence[tuple[str, float, str]],
    *,
    title: str,
    tops: Mapping[float, float] | None = None,
) -> Path:
    """Fig. 10: the eq. 5 value of each method (label, value, group) as bars, grouped by colour
    (twin-based methods vs the non-twin fixed positions), with the exhaustive top lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colours = {
        "twin": "tab:green",
        "reference": "0.4",
        "non-twin ZF": "tab:blue",
        "non-twin DFT": "tab:orange",
    }
    fig, ax = plt.subplots(figsize=(max(7.0, 0.75 * len(bars)), 4.8))
    x = np.arange(len(bars))
    ax.bar(x, [b[1] for b in bars], color=[colours.get(b[2], "tab:gray") for b in bars])
    for q, val in sorted((tops or {}).items()):
        ax.axhline(
            val, color="k", lw=0.9, ls=TOP_STYLES.get(q, "--"), label=f"exhaustive top {q:.0%}"
        )
    ax.set_xticks(x, [b[0] for b in bars], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("average sum rate, eq. 5 [bit/s/Hz]")
    handles: list[Any] = [
        Patch(color=c, label=g) for g, c in colours.items() if any(b[2] == g for b in bars)
    ]
    line_handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + list(line_handles), fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title)
    return _save(fig, path)
