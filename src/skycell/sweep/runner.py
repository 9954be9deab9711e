"""One sweep run, on whichever process or machine executes it: scenario in, one result row out.

:func:`execute_run` is the unit of work of every executor (local processes, Ray tasks): it
takes a :class:`~skycell.sweep.spec.RunSpec` (self-contained: the validated scenario travels
with it), plans the scenario with its method and seed, optionally tunes the antennas, and
returns one flat row of plain Python values. It never raises for a failed run: the error is the
row's ``status``/``error``, so one bad run cannot stop a sweep of thousands. It writes nothing;
the driver stores the row.

The row's columns (:data:`RESULT_COLUMNS`) are fixed, so every run's Parquet file has the same
schema and DuckDB reads them as one table; the grid parameters add ``p_*`` columns. Columns in
:data:`VOLATILE_COLUMNS` (wall times, host, process, session) differ between two executions of
the same run; every other column is a deterministic function of the run's inputs, which is what
"the Ray and local executors give the same results" means and what the tests check.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from skycell.errors import SkycellError

if TYPE_CHECKING:
    import pyarrow as pa

    from skycell.city.buildings import City
    from skycell.deployment import Deployment
    from skycell.scenario import Scenario

    from .spec import RunSpec

__all__ = [
    "RESULT_COLUMNS",
    "VOLATILE_COLUMNS",
    "execute_run",
    "result_schema",
]

#: Column name -> Arrow type name (``string``, ``int64``, ``float64``, ``bool``, ``timestamp``,
#: ``list<T>``). Units are in the names.
RESULT_COLUMNS: dict[str, str] = {
    # identity
    "run_id": "string",
    "run_index": "int64",
    "sweep": "string",
    "scenario": "string",
    "method": "string",
    "tune": "string",
    "method_label": "string",
    "engine": "string",
    "metrics_mode": "string",
    "seed": "int64",
    "status": "string",
    "error": "string",
    # the problem
    "n_aoi": "int64",
    "n_users": "int64",
    "n_buildings": "int64",
    "fleet_stations": "int64",
    "aoi_ids": "list<string>",
    # deployment metrics (paper 000 eq. 21, eqs. 9-11; analytic engine)
    "aoi_satisfaction": "float64",
    "aoi_served": "list<bool>",
    "coverage_fraction": "float64",
    "sinr_threshold_db": "float64",
    "mean_sinr_db": "float64",
    "median_sinr_db": "float64",
    "min_sinr_db": "float64",
    "aoi_mean_sinr_db": "list<float64>",
    "effective_sir_db": "list<float64>",
    "jain_fairness": "float64",
    "min_station_separation_m": "float64",
    "stations_inside_buildings": "int64",
    "routes_enter_buildings": "bool",
    "route_length_m": "list<float64>",
    "route_min_clearance_m": "list<float64>",
    "evaluation_cells": "int64",
    "users_satisfied": "float64",
    # user-driven plans
    "station_count": "int64",
    "users_served": "int64",
    "users_in_los": "int64",
    "demand_satisfied_fraction": "float64",
    "aggregate_rate_bps": "float64",
    "proven_optimal": "bool",
    "lower_bound": "float64",
    # the method
    "iterations": "int64",
    "stop_reason": "string",
    "final_loss": "float64",
    "station_x_m": "list<float64>",
    "station_y_m": "list<float64>",
    "station_z_m": "list<float64>",
    "station_azimuth_deg": "list<float64>",
    "station_tilt_deg": "list<float64>",
    "station_tx_power_dbm": "list<float64>",
    "notes": "list<string>",
    # antenna tuning (paper 000 §V-B, Tables V-VII)
    "tune_iterations": "int64",
    "tune_sir_before_db": "list<float64>",
    "tune_sir_after_db": "list<float64>",
    "tune_before_min_db": "float64",
    "tune_before_mean_db": "float64",
    "tune_before_std_db": "float64",
    "tune_before_jain": "float64",
    "tune_after_min_db": "float64",
    "tune_after_mean_db": "float64",
    "tune_after_std_db": "float64",
    "tune_after_jain": "float64",
    "tune_aoi_serving_before": "list<int64>",
    "tune_aoi_serving_after": "list<int64>",
    "tune_aoi_serving_change_db": "list<float64>",
    # timing and provenance (volatile)
    "wall_s": "float64",
    "seconds_per_iteration": "float64",
    "method_wall_time_s": "float64",
    "tune_seconds_per_iteration": "float64",
    "tune_total_s": "float64",
    "host": "string",
    "pid": "int64",
    "executor": "string",
    "session": "string",
    "finished_at": "timestamp",
    "skycell_version": "string",
}

#: Columns that legitimately differ between two executions of the same run.
VOLATILE_COLUMNS: frozenset[str] = frozenset(
    {
        "wall_s",
        "seconds_per_iteration",
        "method_wall_time_s",
        "tune_seconds_per_iteration",
        "tune_total_s",
        "host",
        "pid",
        "executor",
        "session",
        "finished_at",
        "skycell_version",
    }
)

#: Key of the deployment JSON text in a row (``outputs.deployments``); the store writes it to
#: its own file and drops it from the row.
DEPLOYMENT_KEY = "_deployment_json"

_CITY_CACHE: OrderedDict[str, City] = OrderedDict()
_CITY_CACHE_SIZE = 4


def _arrow_type(name: str) -> pa.DataType:
    import pyarrow as pa

    if name.startswith("list<"):
        return pa.list_(_arrow_type(name[5:-1]))
    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[name]


def result_schema(params: dict[str, Any] | None = None) -> pa.Schema:
    """The Arrow schema of a result row: :data:`RESULT_COLUMNS` plus the grid's ``p_*``
    columns, typed from their values (``params``: column -> a value)."""
    import pyarrow as pa

    fields = [pa.field(k, _arrow_type(t)) for k, t in RESULT_COLUMNS.items()]
    for col, value in (params or {}).items():
        if isinstance(value, bool):
            t = pa.bool_()
        elif isinstance(value, int):
            t = pa.int64()
        elif isinstance(value, float):
            t = pa.float64()
        else:
            t = pa.string()
        fields.append(pa.field(col, t))
    return pa.schema(fields)


def param_value(value: Any) -> Any:
    """A grid value as stored in its ``p_*`` column (mappings and lists as JSON text)."""
    import json

    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return json.dumps(value, sort_keys=True)


def _city(scenario: Scenario, data: dict[str, Any]) -> City:
    """The scenario's city, built once per process for every run over the same city."""
    from .spec import run_hash

    key = run_hash({"area": data.get("area"), "city": data.get("city")})
    city = _CITY_CACHE.get(key)
    if city is None:
        city = scenario.build_city()
        city.grid  # noqa: B018  # build the line-of-sight index once, outside the runs' timing
        _CITY_CACHE[key] = city
        while len(_CITY_CACHE) > _CITY_CACHE_SIZE:
            _CITY_CACHE.popitem(last=False)
    else:
        _CITY_CACHE.move_to_end(key)
    return city


def execute_run(spec: RunSpec, *, executor: str = "local", session: str = "") -> dict[str, Any]:
    """Run one sweep run and return its result row (never raises for a failed run).

    Args:
        spec: the run.
        executor: recorded in the row (``local`` or ``ray``).
        session: id of the sweep invocation, recorded in the row.

    Returns:
        ``{column: value}`` with every column of :data:`RESULT_COLUMNS` (None when not
        applicable), the ``p_*`` grid columns and, with ``outputs.deployments``, the deployment
        JSON under :data:`DEPLOYMENT_KEY`.
    """
    from skycell import __version__

    row: dict[str, Any] = dict.fromkeys(RESULT_COLUMNS)
    row.update(
        run_id=spec.run_id,
        run_index=spec.index,
        sweep=spec.sweep,
        scenario=spec.scenario_label,
        method=spec.method,
        tune=spec.tune,
        method_label=spec.method_label,
        engine=spec.engine,
        metrics_mode=spec.metrics,
        seed=spec.seed,
        host=socket.gethostname(),
        pid=os.getpid(),
        executor=executor,
        session=session,
        skycell_version=__version__,
    )
    for col, value in spec.params:
        row[col] = param_value(value)
    data = spec.scenario
    aois = data.get("areas_of_interest") or []
    row["n_aoi"] = len(aois)
    row["aoi_ids"] = [str(a.get("id")) for a in aois]
    row["n_users"] = len(data.get("users") or []) + sum(
        int(g.get("count", 0)) for g in data.get("user_groups") or []
    )
    row["fleet_stations"] = int((data.get("fleet") or {}).get("stations", 0))
    from skycell.plan import pipeline  # noqa: F401  # imported before the timing starts
    from skycell.scenario import scenario_from_dict

    t0 = time.perf_counter()
    try:
        scenario = scenario_from_dict(data, source=f"run {spec.run_id}")
        city = _city(scenario, data)
        row["n_buildings"] = len(city.buildings)
        if spec.metrics == "placement":
            row.update(_placement_only(scenario, city, spec.seed))
        else:
            row.update(_full(scenario, city, spec))
        row["status"] = "ok"
    except SkycellError as exc:
        row["status"] = "error"
        row["error"] = str(exc)
    except Exception as exc:  # a bug: record it with its traceback, keep the sweep going
        row["status"] = "error"
        tb = traceback.format_exc(limit=8)
        row["error"] = f"{type(exc).__name__}: {exc}\n{tb}"
    row["wall_s"] = time.perf_counter() - t0
    row["finished_at"] = datetime.now(UTC)
    return row


def _placement_only(scenario: Scenario, city: City, seed: int) -> dict[str, Any]:
    """Paper 000 Fig. 5's protocol: the gradient placement, S_AOI (eq. 21), and every segment of
    every route tested exactly against the prisms (no ground map)."""
    from skycell.metrics import aoi_served, min_pairwise_distance_m, route_lengths_m
    from skycell.plan.pipeline import place_stations, separation_notes

    problem, res = place_stations(scenario, city, seed=seed)
    h = scenario.fleet.altitude_m
    r = res.routes_xy_m  # (T + 1, N, 2)
    n = r.shape[1]
    z = np.full((r.shape[0], n, 1), h)
    routes = np.concatenate((r, z), axis=2)  # (T + 1, N, 3)
    a = routes[:-1].reshape(-1, 3)
    b = routes[1:].reshape(-1, 3)
    enters = bool(a.shape[0]) and not bool(np.all(city.line_of_sight(a, b)))
    enters = enters or bool(np.any(city.inside_building(routes.reshape(-1, 3))))
    final = res.final_xy_m
    xyz = np.column_stack((final, np.full(n, h)))
    served = aoi_served(final, problem.aoi_centers_m, problem.aoi_radii_m)
    lengths = route_lengths_m([routes[:, i, :] for i in range(n)])
    return {
        "aoi_satisfaction": float(served.mean()) if served.size else 1.0,
        "aoi_served": [bool(s) for s in served],
        "min_station_separation_m": _finite(min_pairwise_distance_m(final)),
        "stations_inside_buildings": int(city.inside_building(xyz).sum()),
        "routes_enter_buildings": enters,
        "route_length_m": [float(x) for x in lengths],
        "iterations": int(res.iterations),
        "stop_reason": res.stop_reason,
        "final_loss": float(res.final_terms.total),
        "seconds_per_iteration": float(res.seconds_per_iteration),
        "station_x_m": [float(v) for v in xyz[:, 0]],
        "station_y_m": [float(v) for v in xyz[:, 1]],
        "station_z_m": [float(v) for v in xyz[:, 2]],
        "notes": separation_notes(final, scenario),
    }


def _full(scenario: Scenario, city: City, spec: RunSpec) -> dict[str, Any]:
    """``skycell plan`` (and ``--tune``): the deployment and its metrics."""
    from skycell.plan.pipeline import plan_scenario, tune_deployment

    outcome = plan_scenario(scenario, seed=spec.seed, city=city, method=spec.method)
    dep = outcome.deployment
    if spec.tune is not None:
        dep, _, _ = tune_deployment(dep, scenario, city, method=spec.tune, seed=spec.seed)
    out = deployment_columns(dep)
    if spec.keep_deployment:
        out[DEPLOYMENT_KEY] = dep.to_json()
    return out


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if np.isfinite(v) else None


def _floats(values: Any) -> list[float | None] | None:
    if values is None:
        return None
    return [_finite(v) for v in values]


def deployment_columns(dep: Deployment) -> dict[str, Any]:
    """The result columns a deployment fills (metrics, method figures, stations, tuning)."""
    m = dep.metrics
    meth = dep.method
    st = dep.stations
    out: dict[str, Any] = {
        "aoi_satisfaction": _finite(m.get("aoi_satisfaction")),
        "aoi_served": [bool(s) for s in m.get("aoi_served") or []],
        "coverage_fraction": _finite(m.get("coverage_fraction")),
        "sinr_threshold_db": _finite(m.get("sinr_threshold_db")),
        "mean_sinr_db": _finite(m.get("mean_sinr_db")),
        "median_sinr_db": _finite(m.get("median_sinr_db")),
        "min_sinr_db": _finite(m.get("min_sinr_db")),
        "aoi_mean_sinr_db": _floats(m.get("aoi_mean_sinr_db")),
        "effective_sir_db": _floats(m.get("effective_sir_db")),
        "jain_fairness": _finite(m.get("jain_fairness")),
        "min_station_separation_m": _finite(m.get("min_station_separation_m")),
        "stations_inside_buildings": m.get("stations_inside_buildings"),
        "routes_enter_buildings": m.get("routes_enter_buildings"),
        "route_length_m": _floats(m.get("route_length_m")),
        "route_min_clearance_m": _floats(m.get("route_min_clearance_m")),
        "evaluation_cells": m.get("evaluation_cells"),
        "users_satisfied": _finite(m.get("users_satisfied")),
        "station_count": m.get("station_count", len(st)),
        "users_served": m.get("users_served"),
        "users_in_los": m.get("users_in_los"),
        "demand_satisfied_fraction": _finite(m.get("demand_satisfied_fraction")),
        "aggregate_rate_bps": _finite(m.get("aggregate_rate_bps")),
        "proven_optimal": meth.get("proven_optimal"),
        "lower_bound": _finite(meth.get("lower_bound")),
        "iterations": meth.get("iterations"),
        "stop_reason": meth.get("stop_reason"),
        "final_loss": _finite(meth.get("final_loss")),
        "seconds_per_iteration": _finite(meth.get("seconds_per_iteration")),
        "method_wall_time_s": _finite(meth.get("wall_time_s")),
        "station_x_m": [s.position_m[0] for s in st],
        "station_y_m": [s.position_m[1] for s in st],
        "station_z_m": [s.position_m[2] for s in st],
        "station_azimuth_deg": [s.azimuth_deg for s in st],
        "station_tilt_deg": [s.tilt_deg for s in st],
        "station_tx_power_dbm": [s.tx_power_dbm for s in st],
        "notes": list(dep.notes),
    }
    t = m.get("tuning")
    if isinstance(t, dict):
        before, after = t.get("before") or {}, t.get("after") or {}
        out.update(
            {
                "tune_iterations": t.get("iterations"),
                "tune_sir_before_db": _floats(t.get("sir_before_db")),
                "tune_sir_after_db": _floats(t.get("sir_after_db")),
                "tune_before_min_db": _finite(before.get("min_db")),
                "tune_before_mean_db": _finite(before.get("mean_db")),
                "tune_before_std_db": _finite(before.get("std_db")),
                "tune_before_jain": _finite(before.get("jain")),
                "tune_after_min_db": _finite(after.get("min_db")),
                "tune_after_mean_db": _finite(after.get("mean_db")),
                "tune_after_std_db": _finite(after.get("std_db")),
                "tune_after_jain": _finite(after.get("jain")),
                "tune_aoi_serving_before": [int(x) for x in t.get("aoi_serving_before") or []],
                "tune_aoi_serving_after": [int(x) for x in t.get("aoi_serving_after") or []],
                "tune_aoi_serving_change_db": _floats(t.get("aoi_serving_change_db")),
                "tune_seconds_per_iteration": _finite(t.get("seconds_per_iteration")),
                "tune_total_s": _finite(t.get("total_s")),
            }
        )
    return out
