"""Tables of a tuning run (paper 000 Tables V, VI and VIII shapes), as rows and as Markdown.

One source for what ``skycell plan --tune`` prints (rich tables) and saves (``tuning.md``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skycell.plan.tune import TuneResult

Table = tuple[str, list[str], list[list[str]]]  # title, columns, rows


def _f(x: float, fmt: str = "{:.2f}") -> str:
    return "n/a" if not math.isfinite(float(x)) else fmt.format(float(x))


def tuning_tables(result: TuneResult) -> list[Table]:
    """The run's tables: per station (settings and effective SIR before/after, Tables V and
    VIII), the summary (min, mean, std, Jain), per AOI (serving station and its SIR change,
    Table VI), and on the Sionna engine the fresh-trace check."""
    engine = result.problem.engine
    stations: list[list[str]] = []
    for i in range(result.problem.stations):
        b, a = result.sir_before_db[i], result.sir_after_db[i]
        stations.append(
            [
                f"s{i}",
                _f(result.final_azimuth_deg[i], "{:.1f}"),
                _f(result.final_tilt_deg[i], "{:.1f}"),
                _f(result.final_tx_power_dbm[i], "{:.1f}"),
                _f(b),
                _f(a),
                _f(a - b, "{:+.2f}"),
            ]
        )
    summary: list[list[str]] = []
    labels = {"min_db": "minimum", "mean_db": "average", "std_db": "std. dev.", "jain": "Jain"}
    for name, label in labels.items():
        b, a = getattr(result.before, name), getattr(result.after, name)
        fmt = "{:.3f}" if name == "jain" else "{:.2f}"
        summary.append([label, _f(b, fmt), _f(a, fmt), _f(a - b, "{:+" + fmt[2:])])
    aois: list[list[str]] = []
    pr = result.problem
    for m, aoi_id in enumerate(pr.aoi_ids):
        s0, s1 = int(result.aoi_serving_before[m]), int(result.aoi_serving_after[m])
        aois.append(
            [
                aoi_id,
                "n/a" if s0 < 0 else f"s{s0}",
                "n/a" if s1 < 0 else f"s{s1}",
                "n/a" if s1 < 0 else _f(result.aoi_sir_before_db[s1, m]),
                "n/a" if s1 < 0 else _f(result.aoi_sir_after_db[s1, m]),
                _f(result.aoi_serving_change_db[m], "{:+.2f}"),
            ]
        )
    tables: list[Table] = [
        (
            f"stations after tuning ({result.method}, {engine} engine): effective SIR [dB]",
            [
                "station",
                "azimuth [deg]",
                "tilt [deg]",
                "power [dBm]",
                "SIR before",
                "SIR after",
                "change",
            ],
            stations,
        ),
        ("effective SIR over the stations [dB]", ["", "before", "after", "change"], summary),
        (
            "areas of interest: SIR of the serving station over the AOI square [dB]",
            ["AOI", "serving before", "serving after", "before", "after", "change"],
            aois,
        ),
    ]
    if result.retrace is not None:
        c = result.retrace
        tables.append(
            (
                "re-weighted map vs a fresh full trace of the final settings",
                ["pairs", "median |diff| [dB]", "p90 |diff| [dB]", "max |diff| [dB]", "trace [s]"],
                [
                    [
                        str(c.pairs),
                        _f(c.median_abs_db, "{:.4f}"),
                        _f(c.p90_abs_db, "{:.4f}"),
                        _f(c.max_abs_db, "{:.3f}"),
                        _f(c.trace_s, "{:.1f}"),
                    ]
                ],
            )
        )
    return tables


def tuning_markdown(result: TuneResult) -> str:
    """The tables of :func:`tuning_tables` as a Markdown document."""
    lines = [
        f"# Tuning: {result.method} on the {result.problem.engine} engine",
        "",
        f"{result.iterations} iterations, {1e3 * result.seconds_per_iteration:.1f} ms per "
        f"iteration (median), precomputation {result.problem.precompute_s:.1f} s, total "
        f"{result.total_s:.1f} s; {result.problem.cells_xyz_m.shape[0]} cells of "
        f"{result.problem.cell_m:g} m.",
        "",
    ]
    for title, columns, rows in tuning_tables(result):
        lines += [f"## {title}", "", "| " + " | ".join(columns) + " |"]
        lines.append("|" + "|".join(" --- " for _ in columns) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines)
