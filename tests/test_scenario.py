"""Scenario files: defaults from paper 000, round trips, and every kind of bad input reported at
once with its location and line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

import skycell.radio.names as names
import skycell.scenario as scenario_module
from skycell.errors import Problem, ScenarioError
from skycell.scenario import (
    PLACEMENT_METHODS,
    Scenario,
    default_scenario,
    load_scenario,
    scenario_from_dict,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# A minimal valid scenario; the line numbers below refer to it (line 1 is `name:`).
MINIMAL = """\
name: t
area: {x_min_m: -500, y_min_m: -500, x_max_m: 500, y_max_m: 500}
city:
  generate: {size_m: 1000}
areas_of_interest:
  - {center_m: [0, 0], radius_m: 100}
  - {center_m: [200, 200], radius_m: 50}
fleet:
  stations: 3
"""


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str, name: str = "s.yaml") -> list[Problem]:
    path = _write(tmp_path, text, name)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.source == str(path)
    return info.value.problems


def _one(problems: list[Problem], location: str) -> Problem:
    found = [p for p in problems if p.location == location]
    assert len(found) == 1, f"expected one problem at {location!r}, got {problems}"
    return found[0]


# ---------------------------------------------------------------------------------------------
# Defaults, round trips, examples
# ---------------------------------------------------------------------------------------------


def test_default_scenario_has_paper_000_values() -> None:
    s = default_scenario()
    assert s.name == "default-downtown"
    assert s.area.bounds_m == (-1200.0, -1200.0, 1200.0, 1200.0)
    g = s.city.generate
    assert g is not None and s.city.kind == "generate"
    assert (g.seed, g.size_m, g.block_size_m, g.street_width_m) == (0, 2400.0, 100.0, 20.0)
    assert (g.tall_fraction, g.max_height_m) == (0.12, 220.0)
    # Table IV
    assert [a.id for a in s.areas_of_interest] == ["aoi0", "aoi1", "aoi2", "aoi3", "aoi4"]
    assert [a.center_m for a in s.areas_of_interest] == [
        (450.0, 168.0),
        (-247.0, 145.0),
        (-423.0, -416.0),
        (353.0, -622.0),
        (-852.0, 133.0),
    ]
    assert [a.radius_m for a in s.areas_of_interest] == [300.0, 250.0, 250.0, 250.0, 250.0]
    assert all(a.weight == 1.0 for a in s.areas_of_interest)
    assert s.users == ()
    # Table III
    f = s.fleet
    assert (f.stations, f.altitude_m, f.min_separation_m, f.building_clearance_m) == (
        10,
        70.0,
        400.0,
        15.0,
    )
    assert f.launch_area is None
    p = s.placement
    assert (
        p.method == "gradient" and s.placement_method == "gradient" and "auto" in PLACEMENT_METHODS
    )
    assert (p.alpha, p.beta, p.gamma, p.eta) == (0.01, 1.0, 0.8, 1.0)
    assert (p.kappa_a, p.kappa_b, p.kappa_i) == (0.02, 0.5, 0.25)
    assert (p.grid_points, p.grid_margin_m) == (5, 150.0)
    assert (p.learning_rate, p.max_iterations, p.patience) == (2.0, 2500, 20)
    r = s.radio
    assert (r.frequency_hz, r.tx_power_dbm, r.station_antenna) == (3.5e9, 43.0, "tr38901")
    assert r.pathloss_model == names.PATHLOSS_MODELS[0]
    assert r.environment == "urban" and r.environment in names.ENVIRONMENTS
    assert s.evaluation.grid_cell_m == 20.0


def test_default_scenario_validates_and_is_frozen() -> None:
    s = default_scenario()
    assert Scenario.model_validate(s.to_dict()) == s
    assert scenario_from_dict(s.to_dict()) == s
    with pytest.raises(ValidationError):
        s.fleet.stations = 3  # type: ignore[misc]
    json.dumps(s.to_dict())  # JSON-safe


@pytest.mark.parametrize("make", [default_scenario, lambda: load_scenario(EXAMPLES / "small.yaml")])
def test_yaml_and_json_round_trip(tmp_path: Path, make: Any) -> None:
    s = make()
    assert load_scenario(_write(tmp_path, s.to_yaml(), "r.yaml")) == s
    assert load_scenario(_write(tmp_path, s.to_json(), "r.json")) == s


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    s = load_scenario(path)
    assert s.fleet.stations >= 1


def test_default_yaml_is_the_builtin_default() -> None:
    assert load_scenario(EXAMPLES / "default.yaml") == default_scenario()


def test_small_example_is_small() -> None:
    s = load_scenario(EXAMPLES / "small.yaml")
    assert s.city.buildings is not None and 3 <= len(s.city.buildings) <= 6
    assert len(s.areas_of_interest) == 2 and s.fleet.stations == 3
    assert 1 <= len(s.users) and any(u.trajectory_m for u in s.users)


def test_only_required_fields_give_defaults_and_ids(tmp_path: Path) -> None:
    text = MINIMAL + "users:\n  - {position_m: [0, 0, 1.5]}\n"
    s = load_scenario(_write(tmp_path, text))
    assert [a.id for a in s.areas_of_interest] == ["aoi0", "aoi1"]
    assert s.users[0].id == "user0" and s.users[0].demand_bps == 0.0
    assert s.radio == default_scenario().radio
    assert s.placement == default_scenario().placement.model_copy(update={"method": "auto"})
    assert s.placement_method == "gradient"  # auto, with areas of interest
    assert s.fleet.altitude_m == 70.0


def test_yaml_12_floats_are_numbers(tmp_path: Path) -> None:
    s = load_scenario(
        _write(tmp_path, MINIMAL + "radio: {frequency_hz: 2.4e9, bandwidth_hz: 1e6}\n")
    )
    assert s.radio.frequency_hz == 2.4e9 and s.radio.bandwidth_hz == 1e6


def test_json_input_works_with_lines(tmp_path: Path) -> None:
    data = default_scenario().to_dict()
    s = load_scenario(_write(tmp_path, json.dumps(data, indent=2), "s.json"))
    assert s == default_scenario()
    data["areas_of_interest"][1]["radius_m"] = -1
    text = json.dumps(data, indent=2)
    problems = _problems(tmp_path, text, "bad.json")
    p = _one(problems, "areas_of_interest[1].radius_m")
    expected_line = next(
        k for k, line in enumerate(text.splitlines(), 1) if '"radius_m": -1' in line
    )
    assert p.line == expected_line and "got -1" in p.message


# ---------------------------------------------------------------------------------------------
# Bad input: one test per kind, each checking location and line
# ---------------------------------------------------------------------------------------------


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, "name: x\narea: {x_min_m: 0\nfleet: [1, 2\n")
    assert p.location == "" and "invalid YAML" in p.message and p.line in (2, 3, 4)
    (p,) = _problems(tmp_path, "name: x\nfleet:\n  stations: 3\n    altitude_m: 5\n")
    assert p.line == 4 and "invalid YAML" in p.message


def test_json_syntax_error_has_line(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, '{\n  "name": "x",\n  "fleet": {"stations": 3,}\n}\n', "s.json")
    assert p.location == "" and p.line == 3 and "invalid JSON" in p.message


@pytest.mark.parametrize(
    ("text", "what"),
    [("- a\n- b\n", "got a list"), ("42\n", "got a number"), ("", "empty"), ("# only\n", "empty")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, what: str) -> None:
    (p,) = _problems(tmp_path, text)
    assert p.location == "" and what in p.message


def test_missing_fields_point_at_parent(tmp_path: Path) -> None:
    text = "name: t\narea: {x_min_m: -500, y_min_m: -500, x_max_m: 500}\nfleet:\n  altitude_m: 80\n"
    problems = _problems(tmp_path, text)
    assert _one(problems, "area.y_max_m").line == 2
    assert _one(problems, "fleet.stations").line == 3
    assert "'stations' is missing" in _one(problems, "fleet.stations").message
    assert _one(problems, "city").line == 1  # missing at the top level: the document's first line
    assert _one(problems, "areas_of_interest").line == 1


def test_wrong_types(tmp_path: Path) -> None:
    text = MINIMAL.replace("radius_m: 50", "radius_m: big").replace("stations: 3", "stations: true")
    text += "radio: {frequency_hz: [1, 2]}\nusers: {id: a}\n"
    problems = _problems(tmp_path, text)
    p = _one(problems, "areas_of_interest[1].radius_m")
    assert p.line == 7 and "must be a number, got 'big'" in p.message
    p = _one(problems, "fleet.stations")
    assert p.line == 9 and "whole number, got True" in p.message
    assert _one(problems, "radio.frequency_hz").line == 10
    assert "must be a list" in _one(problems, "users").message


def test_unknown_keys_are_reported_with_suggestion(tmp_path: Path) -> None:
    text = MINIMAL.replace("radius_m: 50}", "raduis_m: 50}") + "  altitud_m: 60\nplacment: {}\n"
    problems = _problems(tmp_path, text)
    p = _one(problems, "areas_of_interest[1].raduis_m")
    assert p.line == 7 and "did you mean 'radius_m'" in p.message
    assert _one(problems, "areas_of_interest[1].radius_m").line == 7  # and so it is missing
    p = _one(problems, "fleet.altitud_m")
    assert p.line == 10 and "did you mean 'altitude_m'" in p.message
    p = _one(problems, "placment")
    assert p.line == 11 and "did you mean 'placement'" in p.message


def test_negative_radius(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, MINIMAL.replace("radius_m: 50", "radius_m: -5"))
    assert p.location == "areas_of_interest[1].radius_m" and p.line == 7
    assert p.message == "must be > 0, got -5; give the AOI radius in metres"


def test_aoi_circle_outside_area(tmp_path: Path) -> None:
    (p,) = _problems(
        tmp_path, MINIMAL.replace("[200, 200], radius_m: 50", "[480, 0], radius_m: 50")
    )
    assert p.location == "areas_of_interest[1].center_m" and p.line == 7
    assert "reaches 30 m outside" in p.message and "enlarge `area`" in p.message


def test_station_count_zero(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, MINIMAL.replace("stations: 3", "stations: 0"))
    assert p.location == "fleet.stations" and p.line == 9 and "must be >= 1, got 0" in p.message


@pytest.mark.parametrize(
    ("extra", "location", "allowed"),
    [
        ("radio: {pathloss_model: freespace}", "radio.pathloss_model", "free_space"),
        ("radio: {environment: jungle}", "radio.environment", "urban"),
        ("radio: {station_antenna: yagi}", "radio.station_antenna", "tr38901"),
        ("radio: {user_antenna: yagi}", "radio.user_antenna", "isotropic"),
        ("placement: {method: pso}", "placement.method", "gradient"),
        ("engine: {kind: raytracer}", "engine.kind", "sionna"),
        ("engine: {user_polarization: H}", "engine.user_polarization", "cross"),
        ("engine: {material: cheese}", "engine.material", "concrete"),
    ],
)
def test_unknown_model_names(tmp_path: Path, extra: str, location: str, allowed: str) -> None:
    (p,) = _problems(tmp_path, MINIMAL + extra + "\n")
    assert p.location == location and p.line == 10
    assert "unknown" in p.message and allowed in p.message


def test_model_names_follow_the_shared_tuples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(names, "PATHLOSS_MODELS", (*names.PATHLOSS_MODELS, "my_model"))
    monkeypatch.setattr(scenario_module, "PLACEMENT_METHODS", ("gradient", "pso"))
    s = load_scenario(
        _write(
            tmp_path,
            MINIMAL
            + "radio: {pathloss_model: my_model}\nplacement: {method: pso}\n"
            + "users: [{position_m: [0, 0, 1.5]}]\n",
        )
    )
    assert s.radio.pathloss_model == "my_model" and s.placement.method == "pso"


def test_area_must_be_ordered(tmp_path: Path) -> None:
    text = MINIMAL.replace("x_max_m: 500", "x_max_m: -600")
    problems = _problems(tmp_path, text)
    p = _one(problems, "area.x_max_m")
    assert p.line == 2 and "greater than x_min_m (-500), got -600" in p.message


def test_launch_area_outside_map(tmp_path: Path) -> None:
    text = MINIMAL + "  launch_area: {x_min_m: 0, y_min_m: 0, x_max_m: 600, y_max_m: 100}\n"
    (p,) = _problems(tmp_path, text)
    assert p.location == "fleet.launch_area" and p.line == 10 and "100 m outside" in p.message
    text = MINIMAL + "  launch_area: {x_min_m: 0, y_min_m: 0, x_max_m: 100, y_max_m: -100}\n"
    (p,) = _problems(tmp_path, text)
    assert p.location == "fleet.launch_area.y_max_m" and p.line == 10


def test_duplicate_ids(tmp_path: Path) -> None:
    text = MINIMAL.replace("- {center_m: [200, 200]", "- {id: aoi0, center_m: [200, 200]")
    text += "users:\n  - {id: a, position_m: [0, 0, 0]}\n  - {id: a, position_m: [1, 0, 0]}\n"
    problems = _problems(tmp_path, text)
    p = _one(problems, "areas_of_interest[1].id")
    assert p.line == 7 and "duplicate id 'aoi0'" in p.message
    assert "areas_of_interest[0]" in p.message
    assert _one(problems, "users[1].id").line == 12


def test_city_needs_exactly_one_source(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  generate: {size_m: 1000}\n", "  generate: {size_m: 1000}\n  buildings: []\n"
    )
    (p,) = _problems(tmp_path, text)
    assert p.location == "city.buildings" and p.line == 5 and "more than one" in p.message
    (p,) = _problems(tmp_path, MINIMAL.replace("  generate: {size_m: 1000}\n", "  {}\n"))
    assert p.location == "city" and p.line == 3 and "exactly one" in p.message


def test_geojson_path_must_exist(tmp_path: Path) -> None:
    text = MINIMAL.replace("  generate: {size_m: 1000}\n", "  geojson: {path: nowhere.geojson}\n")
    (p,) = _problems(tmp_path, text)
    assert p.location == "city.geojson.path" and p.line == 4
    assert str(tmp_path / "nowhere.geojson") in p.message


def test_geojson_path_is_resolved_against_the_scenario_folder(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    _write_geojson(sub / "city.geojson", [(-50.0, -50.0, 10.0)])
    text = MINIMAL.replace(
        "  generate: {size_m: 1000}\n", "  geojson: {path: city.geojson, coordinates: metric}\n"
    )
    s = load_scenario(_write(sub, text))
    assert s.city.geojson is not None
    assert (
        s.city.geojson.path == (sub / "city.geojson").resolve()
        and s.city.geojson.path.is_absolute()
    )
    assert load_scenario(_write(tmp_path, s.to_yaml(), "elsewhere.yaml")) == s


def test_invalid_building_footprints(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  generate: {size_m: 1000}\n",
        "  buildings:\n"
        "    - {footprint_m: [[0, 0], [10, 10], [10, 0], [0, 10]], height_m: 5}\n"
        "    - {footprint_m: [[0, 0], [10, 0]], height_m: 0}\n"
        "    - {footprint_m: [[490, 0], [520, 0], [520, 20]], height_m: 5}\n",
    )
    problems = _problems(tmp_path, text)
    p = _one(problems, "city.buildings[0].footprint_m")
    assert p.line == 5 and "not a valid simple polygon" in p.message
    p = _one(problems, "city.buildings[1].footprint_m")
    assert p.line == 6 and "at least 3" in p.message
    assert _one(problems, "city.buildings[1].height_m").line == 6
    p = _one(problems, "city.buildings[2].footprint_m")
    assert p.line == 7 and "20 m outside" in p.message


def test_users_outside_area_or_underground(tmp_path: Path) -> None:
    text = MINIMAL + (
        "users:\n"
        "  - {position_m: [600, 0, 1.5]}\n"
        "  - position_m: [0, 0, -1]\n"
        "    trajectory_m: [[0, 0, 0], [0, 900, 0]]\n"
    )
    problems = _problems(tmp_path, text)
    assert _one(problems, "users[0].position_m").line == 11
    p = _one(problems, "users[1].position_m[2]")
    assert p.line == 12 and "must be >= 0, got -1" in p.message
    assert _one(problems, "users[1].trajectory_m[1]").line == 13


@pytest.mark.parametrize("bad", [".nan", ".inf", "-.inf"])
def test_numbers_must_be_finite(tmp_path: Path, bad: str) -> None:
    (p,) = _problems(tmp_path, MINIMAL + f"radio: {{tx_power_dbm: {bad}}}\n")
    assert p.location == "radio.tx_power_dbm" and p.line == 10 and "finite" in p.message


def test_generator_settings_are_checked(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "generate: {size_m: 1000}",
        "generate: {size_m: 1200, block_size_m: 20, street_width_m: 30, max_height_m: 50}",
    )
    problems = _problems(tmp_path, text)
    assert _one(problems, "city.generate.block_size_m").line == 4
    assert _one(problems, "city.generate.max_height_m").line == 4
    p = _one(problems, "city.generate.size_m")
    assert p.line == 4 and "100 m outside" in p.message


def test_duplicate_yaml_keys(tmp_path: Path) -> None:
    problems = _problems(tmp_path, MINIMAL + "  stations: 4\n")
    p = _one(problems, "fleet.stations")
    assert p.line == 10 and "duplicate key" in p.message and "line 9" in p.message


def test_all_problems_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = """\
    name: bad
    area: {x_min_m: -500, y_min_m: -500, x_max_m: 500, y_max_m: 500}
    city:
      generate: {seed: 1, size_m: 1000}
      buildings: []
    areas_of_interest:
      - center_m: [0, 0]
        radius_m: -5
      - id: aoi0
        center_m: [450, 0]
        radius_m: 100
      - center_m: [1]
        wieght: 2
    fleet:
      stations: 0
      launch_area: {x_min_m: 0, y_min_m: 0, x_max_m: 600, y_max_m: 100}
    radio:
      pathloss_model: freespace
      frequency_hz: 0
    placement:
      max_iterations: 10.5
    """
    problems = _problems(tmp_path, text)
    got = [(p.line, p.location) for p in problems]
    assert got == [
        (5, "city.buildings"),
        (8, "areas_of_interest[0].radius_m"),
        (9, "areas_of_interest[1].id"),
        (10, "areas_of_interest[1].center_m"),
        (12, "areas_of_interest[2].center_m[1]"),
        (12, "areas_of_interest[2].radius_m"),  # missing: the line of its mapping
        (13, "areas_of_interest[2].wieght"),
        (15, "fleet.stations"),
        (16, "fleet.launch_area"),
        (18, "radio.pathloss_model"),
        (19, "radio.frequency_hz"),
        (21, "placement.max_iterations"),
    ]
    error_text = str(ScenarioError("s.yaml", problems))
    assert (
        "12 problem(s) found" in error_text
        and "line 8: areas_of_interest[0].radius_m" in error_text
    )


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, MINIMAL, "s.toml")
    assert "unknown file extension '.toml'" in p.message and ".yaml" in p.message
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "absent.yaml")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "dir.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "a: [",
        "{",
        "\t- x",
        "!!python/object/apply:os.system ['true']",
        "a: 1\n---\nb: 2\n",
        "&a [*a]",
        "city: []\narea: 5\nareas_of_interest: [1, [2], {}]\nfleet: {stations: '3'}\n",
        "area: {x_min_m: null}\ncity: {generate: 5, geojson: {path: 7}}\n"
        "users: [{position_m: 1}]\n",
        "fleet: {launch_area: [1]}\nradio: null\nplacement: {method: 1}\n",
        "areas_of_interest: [{center_m: ['a', 'b'], radius_m: null, id: 3}]\n",
        "\xff\xfe",
        "a: \x00",
    ],
)
def test_malformed_input_never_escapes_as_raw_exception(tmp_path: Path, text: str) -> None:
    problems = _problems(tmp_path, text)
    assert problems and all(isinstance(p, Problem) and p.message for p in problems)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(path)


@pytest.mark.parametrize("text", ["[1, 2", "[1, 2]", '{"a": NaN, "a": 2}', "null", ""])
def test_malformed_json_gives_scenario_error(tmp_path: Path, text: str) -> None:
    assert _problems(tmp_path, text, "s.json")


def test_json_duplicate_keys_and_missing_fields(tmp_path: Path) -> None:
    text = '{\n  "name": "a",\n  "name": "b",\n  "fleet": {\n    "altitude_m": 5\n  }\n}\n'
    problems = _problems(tmp_path, text, "s.json")
    assert _one(problems, "name").line == 3
    assert _one(problems, "fleet.stations").line == 4
    assert _one(problems, "area").line == 1


# ---------------------------------------------------------------------------------------------
# In-memory use
# ---------------------------------------------------------------------------------------------


def test_scenario_from_dict_reports_like_files() -> None:
    data = default_scenario().to_dict()
    data["areas_of_interest"][2]["radius_m"] = -5.0
    data["fleet"]["stations"] = 0
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="mine")
    assert info.value.source == "mine"
    assert [(p.location, p.line) for p in info.value.problems] == [
        ("areas_of_interest[2].radius_m", None),
        ("fleet.stations", None),
    ]
    assert "got -5.0; give the AOI radius in metres" in info.value.problems[0].message
    with pytest.raises(ScenarioError, match="top level must be a mapping"):
        scenario_from_dict([1, 2])


def test_model_validate_runs_the_cross_checks() -> None:
    data = default_scenario().to_dict()
    data["areas_of_interest"][0]["center_m"] = [1190.0, 0.0]
    with pytest.raises(ValidationError, match="outside the map area"):
        Scenario.model_validate(data)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    (p,) = info.value.problems
    assert p.location == "areas_of_interest[0].center_m"


# ---------------------------------------------------------------------------------------------
# build_city (uses skycell.city; kept last)
# ---------------------------------------------------------------------------------------------


def _write_geojson(path: Path, boxes: list[tuple[float, float, float]]) -> None:
    """Square 20 m buildings with lower-left corners (x, y) and heights, in metric coordinates."""
    features = [
        {
            "type": "Feature",
            "properties": {"height": h},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x, y], [x + 20, y], [x + 20, y + 20], [x, y + 20], [x, y]]],
            },
        }
        for x, y, h in boxes
    ]
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "skycell:local-metric"}},
        "features": features,
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_build_city_from_explicit_buildings() -> None:
    s = load_scenario(EXAMPLES / "small.yaml")
    city = s.build_city()
    assert city.bounds_m == s.area.bounds_m
    assert len(city.buildings) == len(s.city.buildings or ())
    assert city.buildings.materials[2] == "concrete"  # unspecified material
    np.testing.assert_allclose(
        city.buildings.heights_m, [b.height_m for b in s.city.buildings or ()]
    )


def test_build_city_generated_fits_the_area(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, MINIMAL))
    city = s.build_city()
    assert len(city.buildings) > 10
    bbox = city.buildings.bbox_m
    assert bbox[:, 0].min() >= -500 and bbox[:, 2].max() <= 500


def test_build_city_from_geojson_and_outside_check(tmp_path: Path) -> None:
    _write_geojson(tmp_path / "city.geojson", [(-50.0, -50.0, 10.0), (100.0, 0.0, 30.0)])
    text = MINIMAL.replace(
        "  generate: {size_m: 1000}\n", "  geojson: {path: city.geojson, coordinates: metric}\n"
    )
    city = load_scenario(_write(tmp_path, text)).build_city()
    assert len(city.buildings) == 2
    np.testing.assert_allclose(sorted(city.buildings.heights_m), [10.0, 30.0])

    _write_geojson(tmp_path / "city.geojson", [(-50.0, -50.0, 10.0), (490.0, 0.0, 30.0)])
    s = load_scenario(tmp_path / "s.yaml")
    with pytest.raises(ScenarioError) as info:
        s.build_city()
    (p,) = info.value.problems
    assert p.location == "city.geojson" and "building 1 reaches 10 m outside" in p.message


def test_engine_section_bounds(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, MINIMAL + "engine: {max_depth: -1, map_samples: 10, direction_bin_deg: -1}\n"
    )
    assert {p.location for p in problems} == {
        "engine.max_depth",
        "engine.map_samples",
        "engine.direction_bin_deg",
    }
    assert all(p.line == 10 for p in problems)
