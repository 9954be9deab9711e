"""Sweep files: which scenarios, methods, seeds and parameter grids to run, expanded into runs.

A sweep file (YAML or JSON) names

* ``scenarios``: scenario files (``file: PATH``, relative to the sweep file) or generators with
  parameters (``generator: NAME``, ``params: {...}``, see :mod:`skycell.sweep.generators`), each
  with optional fixed overrides (``set: {fleet.stations: 20}``) and a ``name``;
* ``methods``: placement methods (``gradient``, ``demand``, ...) or mappings
  ``{place: gradient, tune: aoi}`` that also tune the antennas (paper 000 §V-B);
* ``engine``: the channel engine of the tuning (``analytic`` or ``sionna``; it sets every
  scenario's ``engine.kind``);
* ``seeds``: a count (``50`` = seeds 0-49), a list, or ``{start: 100, count: 50}``;
* ``grid``: parameters to vary, every combination run: dotted scenario fields with a list of
  values (``fleet.stations: [5, 10]``, ``areas_of_interest.0.radius_m: [200, 300]``), generator
  parameters (``params.users: [1000, 10000]``), or every subset of a list-valued field taken
  ``m`` at a time (``areas_of_interest: {subsets: [1, 2, 3, 4, 5]}``: paper 000 Fig. 5's 31
  combinations);
* ``metrics``: ``full`` (the deployment's metrics on the analytic engine, what ``skycell plan``
  reports) or ``placement`` (placement, S_AOI and the exact route checks only, no ground map:
  paper 000 Fig. 5's protocol, about three times faster);
* ``outputs``: ``{deployments: true}`` also keeps every run's ``deployment.json``;
* ``summary``: named DuckDB queries over the runs, each with an optional plot.

Expansion: scenarios x grid points x methods x seeds, in that order. Each run is identified by a
content hash of its inputs: the validated scenario's fields that differ from their defaults
(so a value written out that equals the default is the same run, and a skycell release that adds
a field with a default keeps every stored result valid), the method, the tuning, the metrics
mode, the seed, the bytes of a GeoJSON city file, and :data:`RUN_FORMAT`. The same run in two
sweeps has the same id, a changed input gets a new one, and a store of finished runs can be
resumed safely, also by a newer skycell. What is *not* hashed is the code: a release that
changes an algorithm or a default value bumps :data:`RUN_FORMAT`, and every row records the
``skycell_version`` that computed it. The run itself carries the scenario with every default
filled in, so a worker with another skycell version fails loudly rather than using its own
defaults.

Loading reports every problem of the file at once, each with its location and line, as one
:class:`~skycell.errors.ScenarioError` — including the problems of every scenario the grid
produces (``grid.fleet.stations[1]: fleet.stations: must be >= 1, got 0``).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skycell.errors import Problem, ScenarioError

__all__ = [
    "METRICS_MODES",
    "PLOT_KINDS",
    "RUN_FORMAT",
    "MethodSpec",
    "PlotSpec",
    "RunSpec",
    "SummarySpec",
    "Sweep",
    "load_sweep",
    "run_hash",
    "sweep_from_dict",
]

#: Version of what a run computes and stores; part of every run's hash. Bump it when the same
#: inputs would give different result columns, so old results are not mistaken for new ones.
RUN_FORMAT = 1
#: ``metrics`` modes.
METRICS_MODES: tuple[str, ...] = ("full", "placement")
#: Summary plot kinds.
PLOT_KINDS: tuple[str, ...] = ("bar", "line", "box", "scatter")
#: Most runs one sweep may expand to.
MAX_RUNS = 1_000_000

_TOP_KEYS = (
    "name",
    "description",
    "scenarios",
    "methods",
    "engine",
    "metrics",
    "seeds",
    "grid",
    "outputs",
    "summary",
)
_SCENARIO_KEYS = ("name", "file", "generator", "params", "set")
_METHOD_KEYS = ("place", "tune", "label")
_SUMMARY_KEYS = ("name", "title", "query", "plot")
_PLOT_KEYS = ("kind", "x", "y", "reference", "xlabel", "ylabel", "title")
_OUTPUT_KEYS = ("deployments",)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class MethodSpec:
    """A placement method, optionally followed by antenna tuning."""

    place: str
    tune: str | None = None
    label: str = ""

    @property
    def name(self) -> str:
        """The label, or ``place`` / ``place+tune``."""
        return self.label or (self.place if self.tune is None else f"{self.place}+{self.tune}")


@dataclass(frozen=True)
class PlotSpec:
    """How a summary query is drawn: ``kind`` over column ``x``, one series per ``y`` column,
    horizontal ``reference`` lines ``(value, label)``."""

    kind: str
    x: str
    y: tuple[str, ...]
    reference: tuple[tuple[float, str], ...] = ()
    xlabel: str | None = None
    ylabel: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class SummarySpec:
    """A named DuckDB query over the sweep's runs (table ``runs``), with an optional plot."""

    name: str
    query: str
    title: str = ""
    plot: PlotSpec | None = None


@dataclass(frozen=True)
class RunSpec:
    """One run: everything a worker needs, and nothing it would have to read from disk
    (except a GeoJSON city file, whose bytes are in the hash).

    Attributes:
        run_id: content hash (16 hex digits) of the inputs.
        index: position in the sweep's expansion order.
        sweep: the sweep's name.
        scenario_label: the scenario entry's name.
        scenario: the validated scenario with every default filled in (``Scenario.to_dict``).
        method: placement method name.
        tune: tuning method name, or None.
        method_label: the method's label.
        metrics: ``full`` or ``placement``.
        seed: seed of the run's random generator.
        params: ``(column, value)`` of each grid parameter (subsets as ``id+id``).
        keep_deployment: also return the deployment JSON.
    """

    run_id: str
    index: int
    sweep: str
    scenario_label: str
    scenario: dict[str, Any] = field(repr=False)
    method: str
    tune: str | None
    method_label: str
    metrics: str
    seed: int
    params: tuple[tuple[str, Any], ...] = ()
    keep_deployment: bool = False

    @property
    def engine(self) -> str:
        """The channel engine of the tuning (the scenario's ``engine.kind``)."""
        return str(self.scenario.get("engine", {}).get("kind", "analytic"))


@dataclass(frozen=True)
class Sweep:
    """A validated, expanded sweep."""

    name: str
    description: str
    source: str
    text: str
    runs: tuple[RunSpec, ...]
    summaries: tuple[SummarySpec, ...]
    scenario_count: int
    grid_points: int
    methods: tuple[MethodSpec, ...]
    seeds: tuple[int, ...]

    @property
    def param_columns(self) -> tuple[str, ...]:
        """Column names of the grid parameters, in file order."""
        return tuple(c for c, _ in self.runs[0].params) if self.runs else ()


def run_hash(payload: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of ``payload`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_sweep(path: str | Path) -> Sweep:
    """Read, validate and expand a sweep file (``.yaml``, ``.yml`` or ``.json``).

    Raises:
        ScenarioError: every problem of the file (and of every scenario it produces) at once,
            each with its location and line.
    """
    from skycell.scenario import _parse_json, _parse_yaml

    p = Path(path)
    source = str(path)
    if p.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ScenarioError(
            source,
            [Problem("", f"unknown file extension {p.suffix or '(none)'!r}; use .yaml or .json")],
        )
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, [Problem("", "file not found; check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [Problem("", f"cannot read the file: {exc}")]) from None
    parse = _parse_json if p.suffix.lower() == ".json" else _parse_yaml
    data, lines, problems = parse(text)
    return _build(
        data,
        source=source,
        text=text,
        base_dir=p.resolve().parent,
        lines=lines,
        problems=problems,
        default_name=p.stem,
    )


def sweep_from_dict(
    data: Any, *, source: str = "<sweep>", base_dir: str | Path | None = None
) -> Sweep:
    """Validate and expand an in-memory sweep (scenario files relative to ``base_dir``, default
    the working directory)."""
    base = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    text = json.dumps(data, indent=1, default=str)
    return _build(
        data, source=source, text=text, base_dir=base, lines={}, problems=[], default_name="sweep"
    )


class _Problems:
    """Collects problems with their lines (reported sorted by line, ties in order)."""

    def __init__(self, lines: dict[Loc, int], problems: list[Problem]) -> None:
        self.lines = lines
        self.items = list(problems)

    def sorted(self) -> list[Problem]:
        return sorted(self.items, key=lambda p: (p.line is None, p.line or 0))

    def line(self, loc: Loc) -> int | None:
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return None

    def add(self, loc: Loc, message: str) -> None:
        from skycell.scenario import _loc_str

        self.items.append(Problem(_loc_str(loc), message, self.line(loc)))

    def unknown_keys(self, data: Mapping[str, Any], allowed: Sequence[str], loc: Loc) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), list(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.add(
                    (*loc, str(key)),
                    f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}",
                )


@dataclass
class _ScenarioEntry:
    label: str
    loc: Loc
    base: dict[str, Any] | None  # validated to_dict of a file scenario
    generator: str | None
    params: dict[str, Any]
    overrides: list[tuple[tuple[str, ...], Any, Loc]]
    geojson_sha: str | None = None


@dataclass
class _GridAxis:
    key: str
    loc: Loc
    path: tuple[str, ...]
    values: list[Any]  # for subsets: tuples of sizes, expanded per scenario
    subsets: tuple[int, ...] | None = None
    is_param: bool = False

    @property
    def column(self) -> str:
        return "p_" + re.sub(r"[^A-Za-z0-9]+", "_", self.key).strip("_")


def _build(
    data: Any,
    *,
    source: str,
    text: str,
    base_dir: Path,
    lines: dict[Loc, int],
    problems: list[Problem],
    default_name: str,
) -> Sweep:
    pr = _Problems(lines, problems)
    if data is None and not pr.items:
        pr.add((), "the sweep file is empty; give at least scenarios and methods")
    if not isinstance(data, Mapping):
        if data is not None:
            pr.add((), "the top level must be a mapping (key: value pairs)")
        raise ScenarioError(source, pr.sorted())
    pr.unknown_keys(data, _TOP_KEYS, ())

    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        pr.add(("name",), f"must be a name of letters, digits, '-', '_' or '.', got {name!r}")
        name = default_name
    description = data.get("description", "")
    if not isinstance(description, str):
        pr.add(("description",), f"must be text, got {description!r}")
        description = ""

    metrics = data.get("metrics", "full")
    if metrics not in METRICS_MODES:
        pr.add(("metrics",), f"must be one of {', '.join(METRICS_MODES)}, got {metrics!r}")
        metrics = "full"
    engine = data.get("engine")
    if engine is not None:
        from skycell.scenario import ENGINE_KINDS

        if engine not in ENGINE_KINDS:
            pr.add(("engine",), f"must be one of {', '.join(ENGINE_KINDS)}, got {engine!r}")
            engine = None
        elif engine == "sionna":
            from skycell.radio.sionna_engine import rt_available

            ok, why = rt_available()
            if not ok:
                pr.add(("engine",), f"sionna: {why}; or use engine: analytic")
    methods = _methods(data.get("methods", ["auto"]), pr, metrics)
    seeds = _seeds(data.get("seeds", 1), pr)
    keep = _outputs(data.get("outputs", {}), pr)
    summaries = _summaries(data.get("summary", []), pr)
    entries = _scenarios(data.get("scenarios"), pr, base_dir)
    axes = _grid(data.get("grid", {}), pr, entries)
    if pr.items:
        raise ScenarioError(source, pr.sorted())

    variants = _variants(entries, axes, engine, pr)
    if pr.items:
        raise ScenarioError(source, pr.sorted())
    total = len(variants) * len(methods) * len(seeds)
    if total > MAX_RUNS:
        pr.add((), f"the sweep expands to {total} runs, more than {MAX_RUNS}; split it")
        raise ScenarioError(source, pr.sorted())

    runs: list[RunSpec] = []
    seen: dict[str, int] = {}
    for (label, scenario, identity, params, sha), m, seed in itertools.product(
        variants, methods, seeds
    ):
        run_id = run_hash(
            {
                "format": RUN_FORMAT,
                "scenario": identity,
                "place": m.place,
                "tune": m.tune,
                "metrics": metrics,
                "seed": seed,
                "inputs": {"geojson_sha256": sha} if sha else {},
            }
        )
        if run_id in seen:
            continue  # the same run twice (e.g. two entries naming the same file): run it once
        seen[run_id] = len(runs)
        runs.append(
            RunSpec(
                run_id=run_id,
                index=len(runs),
                sweep=name,
                scenario_label=label,
                scenario=scenario,
                method=m.place,
                tune=m.tune,
                method_label=m.name,
                metrics=metrics,
                seed=seed,
                params=params,
                keep_deployment=keep,
            )
        )
    return Sweep(
        name=name,
        description=description,
        source=source,
        text=text,
        runs=tuple(runs),
        summaries=tuple(summaries),
        scenario_count=len(entries),
        grid_points=len(variants) // max(len(entries), 1),
        methods=tuple(methods),
        seeds=tuple(seeds),
    )


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _methods(value: Any, pr: _Problems, metrics: str) -> list[MethodSpec]:
    from skycell.scenario import PLACEMENT_METHODS

    loc: Loc = ("methods",)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        pr.add(
            loc,
            "must be a non-empty list of methods, e.g. [gradient] or [{place: gradient, "
            "tune: aoi}]",
        )
        return []
    out: list[MethodSpec] = []
    for k, item in enumerate(value):
        here: Loc = (*loc, k)
        given_as_name = isinstance(item, str)
        if isinstance(item, str):
            item = {"place": item}
        if not isinstance(item, Mapping):
            pr.add(here, f"must be a method name or {{place, tune, label}}, got {item!r}")
            continue
        pr.unknown_keys(item, _METHOD_KEYS, here)
        place = item.get("place")
        if place not in PLACEMENT_METHODS:
            close = difflib.get_close_matches(str(place), list(PLACEMENT_METHODS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            pr.add(
                here if given_as_name or "place" not in item else (*here, "place"),
                f"unknown placement method {place!r}{hint}; choose one of "
                f"{', '.join(PLACEMENT_METHODS)}",
            )
            continue
        tune = item.get("tune")
        if tune is not None:
            from skycell.plan.tune import TUNE_METHODS

            if tune not in TUNE_METHODS:
                pr.add(
                    (*here, "tune"),
                    f"unknown tuning method {tune!r}; choose one of "
                    f"{', '.join(TUNE_METHODS)} or leave it out",
                )
                continue
        label = item.get("label", "")
        if not isinstance(label, str):
            pr.add((*here, "label"), f"must be text, got {label!r}")
            label = ""
        if metrics == "placement" and (place != "gradient" or tune is not None):
            pr.add(
                here,
                "metrics: placement measures paper 000's gradient placement only; use "
                "metrics: full for other methods and for tuning",
            )
            continue
        spec = MethodSpec(place=str(place), tune=tune, label=label)
        if spec.name in {m.name for m in out}:
            pr.add(here, f"method {spec.name!r} is listed twice; give each a distinct label")
            continue
        out.append(spec)
    return out


def _seeds(value: Any, pr: _Problems) -> list[int]:
    loc: Loc = ("seeds",)
    bad = (
        "must be a count (50 = seeds 0-49), a list of seeds, or {start: S, count: N} with "
        "whole numbers, seeds >= 0 and a count >= 1"
    )
    if isinstance(value, bool):
        pr.add(loc, f"{bad}; got {value!r}")
        return []
    if isinstance(value, int):
        if value < 1:
            pr.add(loc, f"{bad}; got {value!r}")
            return []
        return list(range(value))
    if isinstance(value, Mapping):
        pr.unknown_keys(value, ("start", "count"), loc)
        start, count = value.get("start", 0), value.get("count")
        if (
            not isinstance(start, int)
            or not isinstance(count, int)
            or isinstance(start, bool)
            or isinstance(count, bool)
            or start < 0
            or count < 1
        ):
            pr.add(loc, f"{bad}; got {dict(value)!r}")
            return []
        return list(range(start, start + count))
    if isinstance(value, list) and value:
        out: list[int] = []
        for k, s in enumerate(value):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                pr.add((*loc, k), f"a seed must be a whole number >= 0, got {s!r}")
            elif s in out:
                pr.add((*loc, k), f"seed {s} is listed twice")
            else:
                out.append(s)
        return out
    pr.add(loc, f"{bad}; got {value!r}")
    return []


def _outputs(value: Any, pr: _Problems) -> bool:
    if not isinstance(value, Mapping):
        pr.add(("outputs",), f"must be a mapping such as {{deployments: true}}, got {value!r}")
        return False
    pr.unknown_keys(value, _OUTPUT_KEYS, ("outputs",))
    keep = value.get("deployments", False)
    if not isinstance(keep, bool):
        pr.add(("outputs", "deployments"), f"must be true or false, got {keep!r}")
        return False
    return keep


def _summaries(value: Any, pr: _Problems) -> list[SummarySpec]:
    loc: Loc = ("summary",)
    if not isinstance(value, list):
        pr.add(loc, f"must be a list of {{name, query, plot}}, got {value!r}")
        return []
    out: list[SummarySpec] = []
    for k, item in enumerate(value):
        here: Loc = (*loc, k)
        if not isinstance(item, Mapping):
            pr.add(here, f"must be a mapping {{name, query, title, plot}}, got {item!r}")
            continue
        pr.unknown_keys(item, _SUMMARY_KEYS, here)
        name, query, title = item.get("name"), item.get("query"), item.get("title", "")
        ok = True
        if not isinstance(name, str) or not _NAME_RE.match(name):
            pr.add((*here, "name"), f"must be a file-name-safe name, got {name!r}")
            ok = False
        elif name in {s.name for s in out}:
            pr.add((*here, "name"), f"summary {name!r} is defined twice")
            ok = False
        if not isinstance(query, str) or not query.strip():
            pr.add((*here, "query"), "must be a SQL query over the table `runs` (DuckDB)")
            ok = False
        if not isinstance(title, str):
            pr.add((*here, "title"), f"must be text, got {title!r}")
            ok = False
        plot = _plot(item.get("plot"), pr, (*here, "plot"))
        if ok:
            out.append(SummarySpec(name=str(name), query=str(query), title=title, plot=plot))
    return out


def _plot(value: Any, pr: _Problems, loc: Loc) -> PlotSpec | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        pr.add(loc, f"must be a mapping {{kind, x, y}}, got {value!r}")
        return None
    pr.unknown_keys(value, _PLOT_KEYS, loc)
    kind, x, y = value.get("kind", "bar"), value.get("x"), value.get("y")
    ok = True
    if kind not in PLOT_KINDS:
        pr.add((*loc, "kind"), f"must be one of {', '.join(PLOT_KINDS)}, got {kind!r}")
        ok = False
    if not isinstance(x, str):
        pr.add((*loc, "x"), f"must be the name of a column of the query, got {x!r}")
        ok = False
    ys = [y] if isinstance(y, str) else y
    if not isinstance(ys, list) or not ys or not all(isinstance(c, str) for c in ys):
        pr.add((*loc, "y"), f"must be a column name or a list of them, got {y!r}")
        ok = False
    refs: list[tuple[float, str]] = []
    raw = value.get("reference", [])
    for k, r in enumerate(raw if isinstance(raw, list) else [raw]):
        if isinstance(r, Mapping) and isinstance(r.get("value"), int | float):
            refs.append((float(r["value"]), str(r.get("label", ""))))
        elif isinstance(r, int | float) and not isinstance(r, bool):
            refs.append((float(r), ""))
        else:
            pr.add(
                (*loc, "reference", k) if isinstance(raw, list) else (*loc, "reference"),
                f"must be a number or {{value, label}}, got {r!r}",
            )
            ok = False
    labels = {}
    for key in ("xlabel", "ylabel", "title"):
        v = value.get(key)
        if v is not None and not isinstance(v, str):
            pr.add((*loc, key), f"must be text, got {v!r}")
            ok = False
        labels[key] = v
    if not ok:
        return None
    return PlotSpec(
        kind=str(kind),
        x=str(x),
        y=tuple(ys),  # type: ignore[arg-type]  # checked above
        reference=tuple(refs),
        xlabel=labels["xlabel"],
        ylabel=labels["ylabel"],
        title=labels["title"],
    )


def _scenarios(value: Any, pr: _Problems, base_dir: Path) -> list[_ScenarioEntry]:
    from skycell.scenario import load_scenario

    from .generators import GENERATORS

    loc: Loc = ("scenarios",)
    if not isinstance(value, list) or not value:
        pr.add(loc, "must be a non-empty list of {file: PATH} or {generator: NAME, params: {...}}")
        return []
    out: list[_ScenarioEntry] = []
    labels: set[str] = set()
    for k, item in enumerate(value):
        here: Loc = (*loc, k)
        if isinstance(item, str):
            item = {"file": item}
        if not isinstance(item, Mapping):
            pr.add(here, f"must be {{file: PATH}} or {{generator: NAME}}, got {item!r}")
            continue
        pr.unknown_keys(item, _SCENARIO_KEYS, here)
        has_file, has_gen = "file" in item, "generator" in item
        if has_file == has_gen:
            pr.add(
                here,
                "give exactly one of file (a scenario file) or generator (a built-in "
                f"generator: {', '.join(GENERATORS)})",
            )
            continue
        overrides = _overrides(item.get("set", {}), pr, (*here, "set"))
        base: dict[str, Any] | None = None
        sha: str | None = None
        gen_name: str | None = None
        params: dict[str, Any] = {}
        if has_file:
            f = item["file"]
            if not isinstance(f, str) or not f:
                pr.add((*here, "file"), f"must be a path, got {f!r}")
                continue
            if "params" in item:
                pr.add((*here, "params"), "params belong to a generator; a file gives its own")
            path = (base_dir / f).resolve()
            try:
                sc = load_scenario(path)
            except ScenarioError as exc:
                for p in exc.problems:
                    where = f"line {p.line}: " if p.line is not None else ""
                    pr.add((*here, "file"), f"{f}: {where}{p.location or '<file>'}: {p.message}")
                continue
            base = sc.to_dict()
            sha = _geojson_sha(base, pr, (*here, "file"))
            default_label = Path(f).stem
        else:
            gen_name = item["generator"]
            gen = GENERATORS.get(gen_name) if isinstance(gen_name, str) else None
            if gen is None:
                close = difflib.get_close_matches(str(gen_name), list(GENERATORS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                pr.add(
                    (*here, "generator"),
                    f"unknown generator {gen_name!r}{hint}; choose one of {', '.join(GENERATORS)}",
                )
                continue
            raw = item.get("params", {})
            if not isinstance(raw, Mapping):
                pr.add((*here, "params"), f"must be a mapping of parameters, got {raw!r}")
                continue
            pr.unknown_keys(raw, list(gen.params), (*here, "params"))
            for key, v in raw.items():
                if key in gen.params:
                    why = gen.params[key].check(v)
                    if why:
                        pr.add((*here, "params", str(key)), why)
            params = dict(raw)
            default_label = str(gen_name)
        label = item.get("name", default_label)
        if not isinstance(label, str) or not label:
            pr.add((*here, "name"), f"must be text, got {label!r}")
            label = default_label
        if label in labels:
            pr.add((*here, "name"), f"scenario name {label!r} is used twice; give a distinct name")
        labels.add(label)
        out.append(
            _ScenarioEntry(
                label=label,
                loc=here,
                base=base,
                generator=gen_name,
                params=params,
                overrides=overrides,
                geojson_sha=sha,
            )
        )
    return out


def _geojson_sha(scenario: dict[str, Any], pr: _Problems, loc: Loc) -> str | None:
    gj = (scenario.get("city") or {}).get("geojson")
    if not gj:
        return None
    try:
        return hashlib.sha256(Path(gj["path"]).read_bytes()).hexdigest()
    except OSError as exc:
        pr.add(loc, f"cannot read the GeoJSON city {gj['path']}: {exc.strerror or exc}")
        return None


def _overrides(value: Any, pr: _Problems, loc: Loc) -> list[tuple[tuple[str, ...], Any, Loc]]:
    if not isinstance(value, Mapping):
        pr.add(loc, f"must be a mapping of dotted scenario fields to values, got {value!r}")
        return []
    out = []
    for key, v in value.items():
        here = (*loc, str(key))
        why = _field_problem(str(key))
        if why:
            pr.add(here, why)
            continue
        out.append((tuple(str(key).split(".")), v, here))
    return out


def _field_problem(key: str) -> str | None:
    """Why ``key`` (dotted, e.g. ``fleet.stations`` or ``areas_of_interest.0.radius_m``) is not a
    scenario field (None when it is)."""
    from pydantic import BaseModel

    from skycell.scenario import Scenario, _strip

    if not key or any(not part for part in key.split(".")):
        return f"{key!r} is not a dotted scenario field such as fleet.stations"
    tp: Any = Scenario
    where = "the scenario"
    for part in key.split("."):
        tp = _strip(tp)
        origin = getattr(tp, "__origin__", None)
        if origin in (tuple, list):
            if not part.isdigit():
                return f"{where} is a list; index it with a number (e.g. {key.split('.')[0]}.0)"
            args = getattr(tp, "__args__", ())
            tp = args[0] if args else Any
            where = f"item {part}"
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = tp.model_fields
            if part not in fields:
                close = difflib.get_close_matches(part, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                return f"{where} has no field {part!r}{hint}; fields: {', '.join(fields)}"
            tp = fields[part].annotation
            where = part
            continue
        return f"{where} is a value, not a section; {key!r} goes too deep"
    return None


def _is_list_field(key: str) -> bool:
    from skycell.scenario import Scenario, _strip

    info = Scenario.model_fields.get(key)
    if info is None:
        return False
    return getattr(_strip(info.annotation), "__origin__", None) in (tuple, list)


def _grid(value: Any, pr: _Problems, entries: list[_ScenarioEntry]) -> list[_GridAxis]:
    from .generators import GENERATORS

    loc: Loc = ("grid",)
    if not isinstance(value, Mapping):
        pr.add(loc, f"must be a mapping of parameters to lists of values, got {value!r}")
        return []
    axes: list[_GridAxis] = []
    for key, v in value.items():
        key = str(key)
        here: Loc = (*loc, key)
        if key.startswith("params."):
            pname = key[len("params.") :]
            gens = [e for e in entries if e.generator is not None]
            if not gens or len(gens) != len(entries):
                pr.add(
                    here,
                    "params.* varies a generator's parameter; every scenario of this "
                    "sweep must then be a generator",
                )
                continue
            bad = [e.generator for e in gens if pname not in GENERATORS[str(e.generator)].params]
            if bad:
                pr.add(
                    here,
                    f"generator {bad[0]} has no parameter {pname!r}; it has "
                    f"{', '.join(GENERATORS[str(bad[0])].params)}",
                )
                continue
            values = _values(v, pr, here)
            for k, item in enumerate(values):
                for e in gens:
                    why = GENERATORS[str(e.generator)].params[pname].check(item)
                    if why:
                        pr.add((*here, k), why)
                        break
            axes.append(_GridAxis(key, here, (pname,), values, is_param=True))
            continue
        why = _field_problem(key)
        if why:
            pr.add(here, why)
            continue
        if isinstance(v, Mapping):
            pr.unknown_keys(v, ("subsets",), here)
            sizes = v.get("subsets")
            if not _is_list_field(key):
                pr.add(
                    here,
                    f"{{subsets: ...}} selects items of a list field (areas_of_interest, "
                    f"users, user_groups); {key} is not one",
                )
                continue
            if isinstance(sizes, int) and not isinstance(sizes, bool):
                sizes = [sizes]
            if (
                not isinstance(sizes, list)
                or not sizes
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
                or len(set(sizes)) != len(sizes)
            ):
                pr.add(
                    (*here, "subsets"),
                    f"must be a list of distinct subset sizes >= 1, e.g. [1, 2, 3], got {sizes!r}",
                )
                continue
            axes.append(_GridAxis(key, here, (key,), [], subsets=tuple(sizes)))
            continue
        values = _values(v, pr, here)
        axes.append(_GridAxis(key, here, tuple(key.split(".")), values))
    return axes


def _values(v: Any, pr: _Problems, loc: Loc) -> list[Any]:
    if not isinstance(v, list) or not v:
        pr.add(loc, f"must be a non-empty list of values, got {v!r}")
        return []
    seen: list[str] = []
    for k, item in enumerate(v):
        text = json.dumps(item, sort_keys=True, default=str)
        if text in seen:
            pr.add((*loc, k), f"value {item!r} is listed twice")
        seen.append(text)
    return list(v)


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------

#: (label, scenario with every default, its non-default fields, grid columns, GeoJSON digest)
_Variant = tuple[str, dict[str, Any], dict[str, Any], tuple[tuple[str, Any], ...], str | None]


def _set_path(data: dict[str, Any], path: Sequence[str], value: Any) -> str | None:
    """Set ``data[path]`` in place, creating sections; why it cannot be set (None when set)."""
    node: Any = data
    for k, part in enumerate(path[:-1]):
        if isinstance(node, list):
            if int(part) >= len(node):
                return f"{'.'.join(path[: k + 1])} does not exist (the list has {len(node)} items)"
            nxt = node[int(part)]
        else:
            nxt = node.get(part)
        if nxt is None:
            nxt = {}
            node[part] = nxt
        if not isinstance(nxt, dict | list):
            return f"{'.'.join(path[: k + 1])} is a value, not a section"
        node = nxt
    last = path[-1]
    if isinstance(node, list):
        if int(last) >= len(node):
            return f"{'.'.join(path)} does not exist (the list has {len(node)} items)"
        node[int(last)] = value
    else:
        node[last] = value
    return None


def _variants(
    entries: list[_ScenarioEntry], axes: list[_GridAxis], engine: str | None, pr: _Problems
) -> list[_Variant]:
    import copy

    from skycell.scenario import scenario_from_dict

    from .generators import generate_scenario

    out: list[_Variant] = []
    reported: set[tuple[str, str]] = set()

    def report(loc: Loc, message: str, *, key: str | None = None) -> None:
        k = (str(loc), key if key is not None else message)
        if k not in reported:
            reported.add(k)
            pr.add(loc, message)

    for e in entries:
        param_axes = [a for a in axes if a.is_param]
        field_axes = [a for a in axes if not a.is_param]
        for p_values in itertools.product(*(a.values for a in param_axes)):
            if e.generator is not None:
                params = {
                    **e.params,
                    **{a.path[0]: v for a, v in zip(param_axes, p_values, strict=True)},
                }
                try:
                    base = generate_scenario(e.generator, params)
                except ValueError as exc:
                    report((*e.loc, "params"), str(exc))
                    continue
            else:
                assert e.base is not None
                base = e.base
            # subset axes expand against this base's list
            choices: list[list[tuple[Any, Any]]] = []  # per axis: (value to set, column value)
            ok = True
            for a in field_axes:
                if a.subsets is None:
                    choices.append([(v, v) for v in a.values])
                    continue
                items = base.get(a.key) or []
                if max(a.subsets) > len(items):
                    report(
                        (*a.loc, "subsets"),
                        f"scenario {e.label!r} has {len(items)} {a.key}; a subset of "
                        f"{max(a.subsets)} cannot be taken",
                    )
                    ok = False
                    continue
                combos = [
                    c for m in a.subsets for c in itertools.combinations(range(len(items)), m)
                ]
                choices.append(
                    [
                        ([items[i] for i in c], "+".join(_item_id(items[i], i) for i in c))
                        for c in combos
                    ]
                )
            if not ok:
                continue
            for combo in itertools.product(*choices):
                data = copy.deepcopy(base)
                bad = False
                for path, value, loc in e.overrides:
                    why = _set_path(data, path, copy.deepcopy(value))
                    if why:
                        report(loc, f"cannot set it in scenario {e.label!r}: {why}")
                        bad = True
                for a, (value, _) in zip(field_axes, combo, strict=True):
                    why = _set_path(data, a.path, copy.deepcopy(value))
                    if why:
                        report(a.loc, f"cannot set it in scenario {e.label!r}: {why}")
                        bad = True
                if engine is not None:
                    data["engine"] = {**(data.get("engine") or {}), "kind": engine}
                if bad:
                    continue
                columns = tuple(
                    [(a.column, v) for a, v in zip(param_axes, p_values, strict=True)]
                    + [(a.column, col) for a, (_, col) in zip(field_axes, combo, strict=True)]
                )
                try:
                    sc = scenario_from_dict(data, source=e.label)
                except ScenarioError as exc:
                    point = ", ".join(f"{c[2:]}={v}" for c, v in columns)
                    for p in exc.problems:
                        where = _blame(p, e, param_axes + field_axes)
                        text = f"scenario {e.label!r}: {p.location or '<scenario>'}: {p.message}"
                        if point:
                            text += f" (first at grid point {{{point}}})"
                        report(where, text, key=f"{e.label}|{p.location}|{p.message}")
                    continue
                identity = sc.model_dump(mode="json", exclude_defaults=True)
                out.append((e.label, sc.to_dict(), identity, columns, e.geojson_sha))
    return out


def _item_id(item: Any, index: int) -> str:
    if isinstance(item, Mapping) and isinstance(item.get("id"), str):
        return str(item["id"])
    return str(index)


def _blame(problem: Problem, entry: _ScenarioEntry, axes: list[_GridAxis]) -> Loc:
    """The sweep location a scenario problem comes from: the grid axis or override whose field
    the problem names, else the scenario entry."""
    where = problem.location.replace("[", ".").replace("]", "")
    for a in axes:
        name = ".".join(a.path)
        if not a.is_param and (where == name or where.startswith(name + ".")):
            return a.loc
    for path, _, loc in entry.overrides:
        name = ".".join(path)
        if where == name or where.startswith(name + "."):
            return loc
    return entry.loc
