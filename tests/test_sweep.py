"""Sweep files: validation (every problem at once, located), expansion, content hashes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from skycell.errors import ScenarioError
from skycell.sweep import load_sweep, run_hash, sweep_from_dict
from skycell.sweep.generators import GENERATORS, generate_scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(ROOT / "examples" / "small.yaml")


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_paper000_fig5_sweep_is_the_1550_run_protocol() -> None:
    sw = load_sweep(ROOT / "examples" / "sweeps" / "paper000-fig5.yaml")
    assert len(sw.runs) == 1550
    assert len({r.run_id for r in sw.runs}) == 1550
    combos = {dict(r.params)["p_areas_of_interest"] for r in sw.runs}
    assert len(combos) == 31
    by_m = Counter(len(r.scenario["areas_of_interest"]) for r in sw.runs)
    assert by_m == {1: 250, 2: 500, 3: 500, 4: 250, 5: 50}  # Fig. 5 caption
    assert {r.seed for r in sw.runs} == set(range(50))
    assert {r.metrics for r in sw.runs} == {"placement"}
    # Table III / IV: every run is the default downtown with a subset of its five AOIs
    r = sw.runs[0]
    assert r.scenario["fleet"]["stations"] == 10 and r.scenario["fleet"]["altitude_m"] == 70.0
    assert r.scenario["placement"]["learning_rate"] == 2.0
    assert r.scenario["placement"]["patience"] == 20


def test_paper000_table7_sweep_is_50_tuned_deployments() -> None:
    sw = load_sweep(ROOT / "examples" / "sweeps" / "paper000-table7.yaml")
    assert len(sw.runs) == 50
    assert {(r.method, r.tune, r.engine) for r in sw.runs} == {("gradient", "aoi", "analytic")}
    assert {r.scenario["evaluation"]["grid_cell_m"] for r in sw.runs} == {10.0}
    assert len(sw.runs[0].scenario["areas_of_interest"]) == 5
    assert [s.name for s in sw.summaries] == ["table7", "table7-stations"]


def test_expansion_order_columns_and_counts(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        f"""
name: t
scenarios: [{{file: {SMALL}}}]
methods: [gradient, {{place: gradient, tune: maxmin, label: tuned}}]
seeds: {{start: 7, count: 2}}
grid:
  fleet.stations: [2, 3]
  areas_of_interest: {{subsets: [1, 2]}}
""",
    )
    sw = load_sweep(p)
    # 2 stations values x 3 AOI subsets (2 singles + the pair) x 2 methods x 2 seeds
    assert len(sw.runs) == 2 * 3 * 2 * 2
    assert sw.param_columns == ("p_fleet_stations", "p_areas_of_interest")
    first = sw.runs[0]
    assert dict(first.params) == {"p_fleet_stations": 2, "p_areas_of_interest": "market"}
    assert first.seed == 7 and first.method_label == "gradient"
    assert sw.runs[1].seed == 8
    assert sw.runs[2].method_label == "tuned" and sw.runs[2].tune == "maxmin"
    pair = [r for r in sw.runs if dict(r.params)["p_areas_of_interest"] == "market+station"]
    assert len(pair) == 8
    assert all(len(r.scenario["areas_of_interest"]) == 2 for r in pair)
    assert all(r.scenario["fleet"]["stations"] in (2, 3) for r in sw.runs)
    assert [r.index for r in sw.runs] == list(range(len(sw.runs)))


def test_run_hash_is_a_content_hash(tmp_path: Path) -> None:
    base = {"scenarios": [{"file": SMALL}], "methods": ["gradient"], "seeds": [0, 1]}
    a = sweep_from_dict(base)
    b = sweep_from_dict({**base, "name": "another-name"})
    assert [r.run_id for r in a.runs] == [r.run_id for r in b.runs]  # name is not an input
    # a default written out explicitly is the same scenario, hence the same run
    c = sweep_from_dict({**base, "scenarios": [{"file": SMALL, "set": {"fleet.altitude_m": 50}}]})
    assert [r.run_id for r in c.runs] == [r.run_id for r in a.runs]
    d = sweep_from_dict({**base, "scenarios": [{"file": SMALL, "set": {"fleet.altitude_m": 51}}]})
    assert not {r.run_id for r in d.runs} & {r.run_id for r in a.runs}
    assert a.runs[0].run_id != a.runs[1].run_id  # the seed is an input
    # the hash is the documented canonical JSON digest
    assert run_hash({"b": 1, "a": [1.5, None]}) == run_hash({"a": [1.5, None], "b": 1})
    assert len(a.runs[0].run_id) == 16 and int(a.runs[0].run_id, 16) >= 0


def test_geojson_bytes_are_part_of_the_hash(tmp_path: Path) -> None:
    def city(height: float) -> str:
        return json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"height": height},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [30, 0], [30, 30], [0, 30], [0, 0]]],
                        },
                    }
                ],
            }
        )

    (tmp_path / "city.geojson").write_text(city(20.0))
    write(
        tmp_path,
        """
area: {x_min_m: -200, y_min_m: -200, x_max_m: 200, y_max_m: 200}
city: {geojson: {path: city.geojson, coordinates: metric}}
areas_of_interest: [{center_m: [100, 100], radius_m: 50}]
fleet: {stations: 1}
""",
        "scenario.yaml",
    )
    sweep = write(tmp_path, "scenarios: [scenario.yaml]\nmethods: [gradient]\n")
    first = load_sweep(sweep).runs[0].run_id
    assert load_sweep(sweep).runs[0].run_id == first
    (tmp_path / "city.geojson").write_text(city(25.0))  # same path, other buildings
    assert load_sweep(sweep).runs[0].run_id != first


BAD = """\
name: bad sweep
scenarios:
  - file: does-not-exist.yaml
  - generator: city-scale
    params: {users: 0, colour: red}
  - generator: paper000-downtwn
methods: [gradient, {place: gradient, tune: maxmn}, gradiant]
seed: 3
seeds: -2
grid:
  fleet.statons: [1, 2]
  fleet.altitude_m: 70
  areas_of_interest: {subsets: [0]}
summary:
  - {name: s1, plot: {kind: pie, x: 1}}
"""


def test_bad_sweep_reports_every_problem_with_location_and_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_sweep(write(tmp_path, BAD))
    probs = {(p.location, p.line): p.message for p in info.value.problems}
    text = str(info.value)
    expected = {
        ("name", 1): "letters",
        ("scenarios[0].file", 3): "does-not-exist.yaml",
        ("scenarios[1].params.users", 5): ">= 1",
        ("scenarios[1].params.colour", 5): "unknown key 'colour'",
        ("scenarios[2].generator", 6): "did you mean 'paper000-downtown'",
        ("methods[1].tune", 7): "unknown tuning method 'maxmn'",
        ("methods[2]", 7): "did you mean 'gradient'",
        ("seed", 8): "did you mean 'seeds'",
        ("seeds", 9): "count",
        ("grid.fleet.statons", 11): "did you mean 'stations'",
        ("grid.fleet.altitude_m", 12): "non-empty list",
        ("grid.areas_of_interest.subsets", 13): "subset sizes >= 1",
        ("summary[0].query", 15): "SQL query",
        ("summary[0].plot.kind", 15): "pie",
        ("summary[0].plot.x", 15): "column",
        ("summary[0].plot.y", 15): "column name",
    }
    for (loc, line), needle in expected.items():
        assert (loc, line) in probs, f"missing {loc} (line {line}) in:\n{text}"
        assert needle in probs[(loc, line)], (loc, probs[(loc, line)])
    assert text.startswith(f"{tmp_path / 'sweep.yaml'}: {len(info.value.problems)} problem(s)")


def test_problems_of_expanded_scenarios_are_located_at_the_grid(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        f"""
scenarios: [{{file: {SMALL}, name: small}}]
methods: [gradient]
grid:
  fleet.stations: [3, 0]
  radio.frequency_hz: [3.5e9, -1]
""",
    )
    with pytest.raises(ScenarioError) as info:
        load_sweep(p)
    msgs = [(x.location, x.line, x.message) for x in info.value.problems]
    assert any(
        loc == "grid.fleet.stations" and line == 5 and "fleet.stations" in m and ">= 1" in m
        for loc, line, m in msgs
    ), msgs
    assert any(loc == "grid.radio.frequency_hz" and line == 6 for loc, line, _ in msgs), msgs
    # each bad value once, not once per grid point it appears in
    assert len([m for m in msgs if m[0] == "grid.fleet.stations"]) == 1


def test_subsets_larger_than_the_list_and_metrics_mode_checks(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        f"""
scenarios: [{{file: {SMALL}}}]
methods: [{{place: demand}}]
metrics: placement
grid: {{areas_of_interest: {{subsets: [3]}}}}
""",
    )
    with pytest.raises(ScenarioError) as info:
        load_sweep(p)
    locs = {x.location for x in info.value.problems}
    assert "methods[0]" in locs  # placement metrics are the gradient protocol only
    q = write(
        tmp_path, f"scenarios: [{{file: {SMALL}}}]\ngrid: {{areas_of_interest: {{subsets: [3]}}}}\n"
    )
    with pytest.raises(ScenarioError, match="has 2 areas_of_interest"):
        load_sweep(q)


def test_generators_and_their_grid_parameters(tmp_path: Path) -> None:
    for name, gen in GENERATORS.items():  # every generator's defaults give a valid scenario
        from skycell.scenario import scenario_from_dict

        sc = scenario_from_dict(generate_scenario(name))
        assert sc.name
        for key, param in gen.params.items():
            assert param.check(param.default) is None, (name, key)
    sw = sweep_from_dict(
        {
            "scenarios": [{"generator": "city-scale", "params": {"size_m": 800.0}}],
            "methods": ["demand"],
            "grid": {"params.users": [100, 400], "params.stations": [4, 8]},
        }
    )
    assert len(sw.runs) == 4
    assert [dict(r.params) for r in sw.runs][:2] == [
        {"p_params_users": 100, "p_params_stations": 4},
        {"p_params_users": 100, "p_params_stations": 8},
    ]
    groups = [r.scenario["user_groups"][0]["count"] for r in sw.runs]
    assert groups == [100, 100, 400, 400]
    assert sw.runs[1].scenario["fleet"]["max_users_per_uav"] == 100 // 8 + 1  # ceil(100 / 8)
    with pytest.raises(ScenarioError, match=r"params\.users"):
        sweep_from_dict(
            {"scenarios": [{"file": SMALL}], "methods": ["gradient"], "grid": {"params.users": [1]}}
        )
