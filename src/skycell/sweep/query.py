"""SQL over a sweep's results (DuckDB), and the summary tables and plots of a sweep file.

:func:`connect` opens an in-memory DuckDB database with three views over a sweep folder:

* ``runs``: every stored result row (``runs/*.parquet``, one file per run, read as one table);
* ``manifest``: every run of the sweep as last started (``manifest.parquet``);
* ``pending``: the manifest's runs without a result yet.

Example (paper 000 Fig. 5)::

    SELECT n_aoi AS m, count(*) AS runs, avg(aoi_satisfaction) AS s_aoi
    FROM runs WHERE status = 'ok' GROUP BY m ORDER BY m

List columns (``aoi_ids``, ``tune_aoi_serving_change_db``, ...) unnest side by side:
``SELECT unnest(aoi_ids) AS aoi, unnest(tune_aoi_serving_change_db) AS change FROM runs``.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skycell.errors import SkycellError
from skycell.fileio import atomic_write, atomic_write_text

if TYPE_CHECKING:
    import duckdb

    from .spec import PlotSpec, SummarySpec

__all__ = ["QueryResult", "SummaryOutput", "connect", "query", "write_summaries"]


@dataclass(frozen=True)
class QueryResult:
    """Columns and rows of a query."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        """The values of one column."""
        k = self.columns.index(name)
        return [r[k] for r in self.rows]

    def to_csv(self) -> str:
        """CSV text (lists as JSON)."""
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow([json.dumps(v) if isinstance(v, list | dict) else v for v in r])
        return buf.getvalue()

    def to_markdown(self) -> str:
        """A Markdown table (floats to 4 significant digits)."""
        head = "| " + " | ".join(self.columns) + " |"
        sep = "| " + " | ".join("---:" for _ in self.columns) + " |"
        body = ["| " + " | ".join(format_value(v) for v in r) + " |" for r in self.rows]
        return "\n".join([head, sep, *body]) + "\n"


def format_value(v: Any) -> str:
    """A cell for tables: floats to 4 significant digits, None as empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.4e}"
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    return str(v)


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


def connect(sweep_dir: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the views ``runs``, ``manifest`` and ``pending``.

    Raises:
        SkycellError: the folder is not a sweep folder, or DuckDB is missing.
    """
    try:
        import duckdb
    except ImportError:
        raise SkycellError("querying sweeps needs DuckDB: pip install duckdb") from None
    root = Path(sweep_dir)
    manifest = root / "manifest.parquet"
    if not manifest.is_file():
        raise SkycellError(
            f"{root} is not a sweep folder (no manifest.parquet); give the --out folder of "
            "`skycell sweep`"
        )
    con = duckdb.connect(":memory:")
    con.execute(f"CREATE VIEW manifest AS SELECT * FROM read_parquet('{_sql_path(manifest)}')")
    runs = root / "runs"
    if any(runs.glob("*.parquet")):
        glob = _sql_path(runs / "*.parquet")
        con.execute(
            f"CREATE VIEW runs AS SELECT * FROM read_parquet('{glob}', union_by_name = true)"
        )
    else:  # no result yet: an empty table with the manifest's columns and the result columns
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .runner import result_schema

        names = pq.read_schema(manifest)
        schema = result_schema()
        for n in names.names:
            if n.startswith("p_"):
                schema = schema.append(names.field(n))
        empty = pa.Table.from_pylist([], schema=schema)
        con.register("_empty_runs", empty)
        con.execute("CREATE VIEW runs AS SELECT * FROM _empty_runs")
    con.execute(
        "CREATE VIEW pending AS SELECT m.* FROM manifest m "
        "WHERE m.run_id NOT IN (SELECT run_id FROM runs)"
    )
    return con


def query(sweep_dir: str | os.PathLike[str], sql: str) -> QueryResult:
    """Run ``sql`` over a sweep folder (see :func:`connect`).

    Raises:
        SkycellError: the SQL is invalid (DuckDB's message, with the columns of ``runs``).
    """
    import duckdb

    con = connect(sweep_dir)
    try:
        rel = con.execute(sql)
        columns = tuple(d[0] for d in rel.description or ())
        rows = [tuple(r) for r in rel.fetchall()]
    except duckdb.Error as exc:
        cols = [d[0] for d in con.execute("SELECT * FROM runs LIMIT 0").description or ()]
        raise SkycellError(
            f"query failed: {str(exc).strip().splitlines()[0]}\n  tables: runs, manifest, "
            f"pending; columns of runs: {', '.join(cols)}"
        ) from None
    finally:
        con.close()
    return QueryResult(columns, rows)


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryOutput:
    """A summary written to ``SWEEP_DIR/summary``: its result and the files."""

    name: str
    title: str
    result: QueryResult
    paths: tuple[Path, ...]


def summaries_to_json(summaries: tuple[SummarySpec, ...]) -> str:
    """The summary specs as JSON (stored in the sweep folder, read back by ``skycell results``)."""
    from dataclasses import asdict

    return json.dumps([asdict(s) for s in summaries], indent=1)


def summaries_from_json(text: str) -> tuple[SummarySpec, ...]:
    """Inverse of :func:`summaries_to_json`."""
    from .spec import PlotSpec, SummarySpec

    out = []
    for d in json.loads(text):
        plot = d.get("plot")
        spec_plot = None
        if plot is not None:
            spec_plot = PlotSpec(
                kind=plot["kind"],
                x=plot["x"],
                y=tuple(plot["y"]),
                reference=tuple((float(v), str(lab)) for v, lab in plot.get("reference", ())),
                xlabel=plot.get("xlabel"),
                ylabel=plot.get("ylabel"),
                title=plot.get("title"),
            )
        out.append(
            SummarySpec(name=d["name"], query=d["query"], title=d.get("title", ""), plot=spec_plot)
        )
    return tuple(out)


def write_summaries(
    sweep_dir: str | os.PathLike[str], summaries: tuple[SummarySpec, ...] | None = None
) -> list[SummaryOutput]:
    """Run every summary query and write ``summary/<name>.csv``, ``.md`` and (with a plot)
    ``.png``, each atomically. ``summaries`` defaults to those stored in the sweep folder.

    Raises:
        SkycellError: a query fails or names a column the plot cannot find.
    """
    root = Path(sweep_dir)
    if summaries is None:
        path = root / "summaries.json"
        summaries = summaries_from_json(path.read_text()) if path.is_file() else ()
    out: list[SummaryOutput] = []
    folder = root / "summary"
    for s in summaries:
        try:
            res = query(root, s.query)
        except SkycellError as exc:
            raise SkycellError(f"summary {s.name!r}: {exc}") from None
        paths = [folder / f"{s.name}.csv", folder / f"{s.name}.md"]
        atomic_write_text(paths[0], res.to_csv())
        title = s.title or s.name
        atomic_write_text(paths[1], f"### {title}\n\n{res.to_markdown()}")
        if s.plot is not None and res.rows:
            png = folder / f"{s.name}.png"
            plot_summary(res, s.plot, png, title=s.plot.title or title)
            paths.append(png)
        out.append(SummaryOutput(s.name, title, res, tuple(paths)))
    return out


def plot_summary(res: QueryResult, plot: PlotSpec, path: Path, *, title: str) -> Path:
    """Draw a summary query (``bar``: grouped bars per ``x``; ``line``/``scatter``: ``y`` over a
    numeric ``x``; ``box``: the distribution of the first ``y`` per ``x``) to a PNG.

    Raises:
        SkycellError: a plot column is not a column of the query.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    missing = [c for c in (plot.x, *plot.y) if c not in res.columns]
    if missing:
        raise SkycellError(
            f"plot columns {', '.join(missing)} are not columns of the query "
            f"({', '.join(res.columns)}); fix plot.x / plot.y or the query"
        )
    xs = res.column(plot.x)
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    if plot.kind == "bar":
        labels = [format_value(x) for x in xs]
        pos = np.arange(len(labels))
        width = 0.8 / len(plot.y)
        for k, col in enumerate(plot.y):
            vals = np.array([np.nan if v is None else float(v) for v in res.column(col)])
            bars = ax.bar(pos + (k - (len(plot.y) - 1) / 2) * width, vals, width, label=col)
            if len(labels) <= 12:
                ax.bar_label(bars, labels=[format_value(float(v)) for v in vals], fontsize=7)
        if len(labels) > 8:
            ax.set_xticks(pos, labels, rotation=70, ha="right", fontsize=7)
        else:
            ax.set_xticks(pos, labels)
    elif plot.kind == "box":
        col = plot.y[0]
        groups: dict[str, list[float]] = {}
        for x, v in zip(xs, res.column(col), strict=True):
            if v is not None:
                groups.setdefault(format_value(x), []).append(float(v))
        ax.boxplot(list(groups.values()), tick_labels=list(groups))
        ax.set_ylabel(col)
    else:
        x = np.array([float(v) for v in xs])
        for col in plot.y:
            vals = np.array([np.nan if v is None else float(v) for v in res.column(col)])
            style = "o-" if plot.kind == "line" else "o"
            ax.plot(x, vals, style, label=col, ms=4)
    for value, label in plot.reference:
        ax.axhline(value, color="tab:red", ls="--", lw=1.0, label=label or None)
    ax.set_xlabel(plot.xlabel or plot.x)
    if plot.ylabel or plot.kind != "box":
        ax.set_ylabel(plot.ylabel or ", ".join(plot.y))
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=10)
    if len(plot.y) > 1 or plot.reference:
        ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"), suffix=".png")
    plt.close(fig)
    return path
