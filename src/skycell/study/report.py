"""Files of the channel study: JSON summary, CSV tables and per-user data, PNG figures
(paper 002 Figs. 11-13). Every file is written atomically (:func:`skycell.fileio.atomic_write`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skycell.errors import SkycellError
from skycell.fileio import atomic_write, atomic_write_text
from skycell.study.channel import StudyTable, table9, table10

if TYPE_CHECKING:
    from skycell.study.channel import ChannelStudyResult, FrequencyStudy

#: Colour scale of the heat maps and the box plot [dBm] (paper 002 Fig. 12: -110 to -40).
RSS_RANGE_DBM = (-110.0, -40.0)


def write_channel_study(result: ChannelStudyResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the study to ``out_dir`` (created if needed); every file whole or not at all.

    Files: ``channel-study.json`` (summary, settings, notes, paper 002's figures),
    ``channel-table9.csv``, ``channel-table10.csv``, ``channel-users.csv`` (one row per
    frequency and user), ``channel-ci-fit.png`` (Fig. 11), ``channel-heatmap-<f>ghz.png`` per
    frequency with a radio map (Fig. 12) and ``channel-boxplot.png`` (Fig. 13).

    Returns:
        the paths written.

    Raises:
        SkycellError: ``out_dir`` is not a writable folder.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SkycellError(f"output {out} exists and is not a folder; choose another path")
    written: list[Path] = []
    try:
        p = out / "channel-study.json"
        atomic_write_text(p, json.dumps(result.summary(), indent=2, allow_nan=False) + "\n")
        written.append(p)
        tables = (("channel-table9.csv", table9(result)), ("channel-table10.csv", table10(result)))
        for name, tab in tables:
            p = out / name
            atomic_write_text(p, _table_csv(tab))
            written.append(p)
        p = out / "channel-users.csv"
        atomic_write_text(p, _users_csv(result))
        written.append(p)
        written.append(plot_close_in_fit(result, out / "channel-ci-fit.png"))
        for fs in result.frequencies:
            if fs.rss_map is not None:
                name = f"channel-heatmap-{fs.frequency_ghz:g}ghz.png"
                written.append(plot_heatmap(result, fs, out / name))
        written.append(plot_boxplot(result, out / "channel-boxplot.png"))
    except OSError as exc:
        raise SkycellError(
            f"cannot write to {out}: {exc.strerror or exc}; choose a folder you can write to"
        ) from None
    return written


def _table_csv(tab: StudyTable) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(tab.columns)
    w.writerows(tab.rows)
    return buf.getvalue()


def _num(v: float, digits: int = 3) -> str:
    return "" if not math.isfinite(v) else f"{v:.{digits}f}"


def _users_csv(result: ChannelStudyResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        (
            "frequency_ghz",
            "user",
            "x_m",
            "y_m",
            "z_m",
            "distance_m",
            "los",
            "paths",
            "rss_concrete_dbm",
            "rss_weather_dbm",
            "rss_final_dbm",
            "path_loss_db",
            "outage",
            "delay_spread_ns",
            "phase_deg",
        )
    )
    xyz = result.users_xyz_m
    for fs in result.frequencies:
        for j in range(xyz.shape[0]):
            w.writerow(
                (
                    f"{fs.frequency_ghz:g}",
                    j,
                    _num(xyz[j, 0], 2),
                    _num(xyz[j, 1], 2),
                    _num(xyz[j, 2], 2),
                    _num(result.distance_m[j], 2),
                    int(fs.los[j]),
                    int(fs.n_paths[j]),
                    _num(fs.rss_concrete_dbm[j]),
                    _num(fs.rss_weather_dbm[j]),
                    _num(fs.rss_final_dbm[j]),
                    _num(fs.path_loss_db[j]),
                    int(fs.outage[j]),
                    _num(fs.delay_spread_s[j] * 1e9),
                    _num(fs.phase_deg[j], 2),
                )
            )
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, dpi: int = 120) -> Path:
    plt = _pyplot()
    try:
        atomic_write(
            path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"), suffix=".png"
        )
    finally:
        plt.close(fig)
    return path


def plot_close_in_fit(result: ChannelStudyResult, path: str | os.PathLike[str]) -> Path:
    """Paper 002 Fig. 11: RSS against log10(distance) per frequency with the fitted close-in
    model, the mean RSS, and the residuals (simulated minus model RSS) on a second axis;
    residuals beyond ±2 sigma are circled in red."""
    plt = _pyplot()
    fr = result.frequencies
    fig, axes = plt.subplots(1, len(fr), figsize=(5.2 * len(fr), 4.4), squeeze=False)
    p_tx = float(result.settings["tx_power_dbm"])
    for ax, fs in zip(axes[0], fr, strict=True):
        fit = fs.ci_fit
        ok = fs.has_path & np.isfinite(fs.path_loss_db)
        x = np.log10(result.distance_m[ok])
        rss = fs.rss_final_dbm[ok]
        los = fs.los[ok]
        ax.scatter(x[los], rss[los], s=4, color="tab:blue", alpha=0.5, label="RSS, LoS users")
        ax.scatter(x[~los], rss[~los], s=4, color="tab:purple", alpha=0.5, label="RSS, NLoS users")
        if rss.size:
            ax.axhline(float(rss.mean()), color="tab:green", ls="--", lw=1, label="mean RSS")
        sens = float(result.settings["sensitivity_dbm"])
        ax.axhline(sens, color="gray", ls=":", lw=1, label="sensitivity")
        ax.set_xlabel("log10(distance / 1 m)")
        ax.set_ylabel("RSS [dBm]")
        title = f"{fs.frequency_ghz:g} GHz"
        if fit is not None:
            xs = np.linspace(x.min(), x.max(), 50)
            ax.plot(xs, p_tx - fit.path_loss_db(10**xs), color="k", lw=1.5, label="close-in fit")
            res = -fit.residual_db  # simulated minus model RSS
            ax2 = ax.twinx()
            ax2.scatter(x, res, s=3, color="tab:orange", alpha=0.35)
            out = np.abs(res) > 2 * fit.sigma_db
            ax2.scatter(
                x[out],
                res[out],
                s=22,
                facecolors="none",
                edgecolors="red",
                lw=0.8,
                label=f"outliers (|res| > 2σ): {int(out.sum())}",
            )
            ax2.axhline(0.0, color="tab:orange", lw=0.6)
            ax2.set_ylabel("residual [dB]", color="tab:orange")
            ax2.legend(loc="upper right", fontsize=7)
            title += f": n = {fit.exponent:.2f}, σ = {fit.sigma_db:.1f} dB"
        ax.set_title(title)
        ax.legend(loc="lower left", fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Close-in path-loss fit, {result.scenario_name} (paper 002 Fig. 11)")
    fig.tight_layout()
    return _save(fig, Path(path), dpi=100)


def plot_heatmap(
    result: ChannelStudyResult, fs: FrequencyStudy, path: str | os.PathLike[str]
) -> Path:
    """Paper 002 Fig. 12 for one frequency: the RSS map at user height split into cells with
    line of sight to the station (left) and without (right), -110 to -40 dBm; buildings grey,
    the scenario's areas of interest red dashed, the users' range blue dashed."""
    if fs.rss_map is None:
        raise ValueError(f"no radio map was computed at {fs.frequency_ghz:g} GHz")
    plt = _pyplot()
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Circle

    m = fs.rss_map
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 5.6), squeeze=False)
    st = result.station_xyz_m
    r_h = math.sqrt(
        max(float(result.settings["max_range_m"]) ** 2 - (st[2] - result.users_xyz_m[0, 2]) ** 2, 0)
    )
    im = None
    for ax, (label, mask) in zip(
        axes[0], (("LoS cells", m.los), ("NLoS cells", ~m.los)), strict=True
    ):
        data = np.where(mask, m.rss_dbm, np.nan)
        im = ax.imshow(
            data,
            origin="lower",
            extent=m.extent_m,
            cmap="jet",
            vmin=RSS_RANGE_DBM[0],
            vmax=RSS_RANGE_DBM[1],
            interpolation="nearest",
        )
        polys = [np.asarray(fp) for fp in result.city.buildings.footprints_m]
        if polys:
            ax.add_collection(
                PolyCollection(polys, facecolor="0.75", edgecolor="0.4", lw=0.3, zorder=2)
            )
        for cx, cy, r in result.areas_of_interest:
            ax.add_patch(Circle((cx, cy), r, fill=False, ec="red", ls="--", lw=1.2, zorder=3))
        ax.add_patch(Circle((st[0], st[1]), r_h, fill=False, ec="blue", ls="--", lw=1.0, zorder=3))
        ax.plot(st[0], st[1], marker="^", color="k", ms=8, zorder=4)
        share = 100.0 * float(np.isfinite(data).sum()) / max(1, int(np.isfinite(m.rss_dbm).sum()))
        ax.set_title(f"{fs.frequency_ghz:g} GHz, {label} ({share:.0f} % of reached cells)")
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        ax.set_xlim(m.extent_m[0], m.extent_m[1])
        ax.set_ylim(m.extent_m[2], m.extent_m[3])
        ax.set_aspect("equal")
    fig.colorbar(im, ax=axes[0].tolist(), label="RSS [dBm]", shrink=0.85)
    fig.suptitle(
        f"RSS at {result.users_xyz_m[0, 2]:g} m, station at ({st[0]:g}, {st[1]:g}, {st[2]:g}) m "
        "(paper 002 Fig. 12)"
    )
    return _save(fig, Path(path))


def plot_boxplot(result: ChannelStudyResult, path: str | os.PathLike[str]) -> Path:
    """Paper 002 Fig. 13: box plot of the final RSS of the users with a path per frequency
    (median red, boxes Q1-Q3, whiskers 1.5 IQR, outliers red dots), sensitivity dashed."""
    plt = _pyplot()
    fr = result.frequencies
    data = [fs.rss_final_dbm[fs.has_path & np.isfinite(fs.rss_final_dbm)] for fs in fr]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(fr), 4.6))
    ax.boxplot(
        data,
        whis=1.5,
        medianprops={"color": "red"},
        flierprops={"marker": ".", "markerfacecolor": "red", "markeredgecolor": "red", "ms": 3},
    )
    ax.set_xticks(range(1, len(fr) + 1), [f"{fs.frequency_ghz:g} GHz" for fs in fr])
    ax.axhline(
        float(result.settings["sensitivity_dbm"]), color="gray", ls="--", lw=1, label="sensitivity"
    )
    for k, d in enumerate(data, start=1):
        if d.size:
            ax.annotate(
                f"{np.median(d):.1f}", (k + 0.28, float(np.median(d))), fontsize=7, color="red"
            )
    ax.set_ylabel("RSS [dBm]")
    ax.set_title("Received signal strength per carrier (paper 002 Fig. 13)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, Path(path))
