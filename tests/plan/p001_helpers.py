"""The tiny bundled paper 001 scenario (``examples/paper001-tiny.yaml``) with test overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skycell.scenario import Scenario, load_scenario, scenario_from_dict

TINY = Path(__file__).resolve().parents[2] / "examples" / "paper001-tiny.yaml"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def tiny_scenario(
    *,
    grid_step_m: float | None = None,
    top_m: float | None = None,
    engine: str | None = None,
    sumrate: dict[str, Any] | None = None,
    **top_level: Any,
) -> Scenario:
    """``examples/paper001-tiny.yaml`` (a 60 m intersection, 8 vehicles on the lanes, a 2 x 2
    array, a 7 x 7 x 4 grid) with overrides: the x-y grid step, the top of the positioning
    volume, the engine kind, the ``sumrate`` section (merged) and any top-level section
    (merged)."""
    data = load_scenario(TINY).to_dict()
    extra: dict[str, Any] = {"sumrate": dict(sumrate or {}), **top_level}
    if grid_step_m is not None:
        extra["sumrate"]["grid_step_m"] = grid_step_m
    if top_m is not None:
        extra.setdefault("fleet", {})["max_altitude_m"] = top_m
    if engine is not None:
        extra.setdefault("engine", {})["kind"] = engine
    return scenario_from_dict(_merge(data, extra), source="p001-tiny")
