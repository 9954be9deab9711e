"""Cross-check of the channel engines (issue 4, item 6): Sionna RT against free space on open
ground, and the analytic engine against the ray tracer in a small city.

The ray-tracing tests are skipped, with the reason, when Sionna RT or LLVM 16+ is missing; the
pure helpers (user draw, two-ray model, statistics) run everywhere.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from skycell.radio.names import PATHLOSS_MODELS
from skycell.radio.pathloss import free_space_path_loss_db
from skycell.radio.sionna_engine import rt_available
from skycell.scenario import Scenario, scenario_from_dict
from skycell.validate import (
    CITY_COLUMNS,
    OPEN_GROUND_COLUMNS,
    AgreementStats,
    CityCrosscheck,
    crosscheck_city,
    crosscheck_open_ground,
    ground_permittivity,
    render,
    run_crosscheck,
    sample_aoi_users,
    two_ray_path_gain_db,
)

F = 3.5e9
FREE_SPACE = "free_space"
assert FREE_SPACE in PATHLOSS_MODELS


def _needs_rt() -> None:
    ok, why = rt_available()
    if not ok:
        pytest.skip(f"Sionna RT engine unavailable: {why}")


def _box(x: float, y: float, w: float, d: float) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + d], [x, y + d]]


@pytest.fixture(scope="module")
def small() -> Scenario:
    """Five buildings in a 500 m square, two AOIs, two stations."""
    return scenario_from_dict(
        {
            "name": "small-city",
            "area": {"x_min_m": -250.0, "y_min_m": -250.0, "x_max_m": 250.0, "y_max_m": 250.0},
            "city": {
                "buildings": [
                    {"footprint_m": _box(-120, -100, 60, 50), "height_m": 40.0},
                    {"footprint_m": _box(40, 30, 50, 70), "height_m": 25.0},
                    {"footprint_m": _box(-30, 60, 40, 40), "height_m": 90.0},
                    {"footprint_m": _box(60, -140, 70, 40), "height_m": 15.0},
                    {"footprint_m": _box(-180, 80, 40, 60), "height_m": 30.0},
                ]
            },
            "areas_of_interest": [
                {"id": "a", "center_m": [-60.0, 0.0], "radius_m": 120.0},
                {"id": "b", "center_m": [90.0, -40.0], "radius_m": 100.0},
            ],
            "fleet": {"stations": 2, "min_separation_m": 100.0},
            "placement": {"max_iterations": 200},
        },
        source="test",
    )


STATIONS = np.array([[-80.0, 20.0, 70.0], [110.0, -60.0, 70.0]])


# ------------------------------------------------------------------------------ pure helpers


def test_sample_aoi_users_outdoor_inside_aois_and_seeded(small: Scenario) -> None:
    city = small.build_city()
    a = sample_aoi_users(small, city, 25, np.random.default_rng(4))
    b = sample_aoi_users(small, city, 25, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (25, 3)
    assert not city.inside_building(a).any()
    np.testing.assert_array_equal(a[:, 2], small.radio.user_height_m)
    aois = small.areas_of_interest
    inside = [np.hypot(*(a[:, :2] - x.center_m).T) <= x.radius_m for x in aois]
    # split evenly, the first AOI takes the remainder
    assert inside[0][:13].all() and inside[1][13:].all()


def test_ground_permittivity_is_itu_p2040() -> None:
    eta = ground_permittivity("itu_medium_dry_ground", F)
    assert eta.real == pytest.approx(15.0 * 3.5**-0.1)
    sigma = -eta.imag * 2 * np.pi * F * 8.8541878128e-12
    assert sigma == pytest.approx(0.035 * 3.5**1.63)
    with pytest.raises(ValueError, match="medium_dry_ground"):
        ground_permittivity("sand", F)


def test_two_ray_limits() -> None:
    tx = np.array([[0.0, 0.0, 1.5]])
    # grazing incidence: |Gamma| -> 1, the reflected ray doubles the power (+3 dB)
    far = np.array([[1e5, 0.0, 1.5]])
    g = two_ray_path_gain_db(tx, far, frequency_hz=F)[0, 0]
    assert g + free_space_path_loss_db(1e5, F) == pytest.approx(10 * np.log10(2.0), abs=0.01)
    # steep incidence on lossy ground adds less than grazing
    tx_high = np.array([[0.0, 0.0, 100.0]])
    near = np.array([[10.0, 0.0, 1.5]])
    g = two_ray_path_gain_db(tx_high, near, frequency_hz=F)[0, 0]
    d = float(np.linalg.norm(near - tx_high))
    assert 0.0 < g + free_space_path_loss_db(d, F) < 2.0


def test_agreement_stats_of_matches_numpy() -> None:
    x = np.array([1.0, -2.0, 3.5, np.nan, 0.25])
    found = np.isfinite(x)
    s = AgreementStats.of(x, found)
    v = x[found]
    assert (s.count, s.no_path) == (4, 1)
    assert s.median_abs_db == pytest.approx(np.median(np.abs(v)))
    assert s.p90_abs_db == pytest.approx(np.percentile(np.abs(v), 90))
    assert s.bias_db == pytest.approx(np.mean(v))
    empty = AgreementStats.of(x, np.zeros(5, bool))
    assert empty.count == 0 and np.isnan(empty.median_abs_db)
    assert empty.to_dict()["median_abs_db"] is None


# ------------------------------------------------------------------------------ ray tracing


def test_open_ground_los_matches_free_space_within_half_a_db() -> None:
    _needs_rt()
    r = crosscheck_open_ground(F)
    assert r.los_paths.shape == (3, 6)
    assert np.all(r.los_paths == 1), "every link must have exactly one LoS path"
    fspl = free_space_path_loss_db(r.distance_m, F)
    np.testing.assert_allclose(r.los_path_gain_db, -fspl, atol=0.5)
    assert r.max_abs_los_error_db <= 0.5
    assert r.passed
    # information: LoS + ground reflection follows the two-ray ground model
    assert r.max_abs_two_ray_error_db < 0.5
    assert np.all(r.total_path_gain_db >= r.los_path_gain_db)
    cols, rows = render(r)
    assert cols == OPEN_GROUND_COLUMNS and rows[0][-1] == "pass"
    json.dumps(r.to_dict(), allow_nan=False)


@pytest.fixture(scope="module")
def city_fs(small: Scenario) -> CityCrosscheck:
    _needs_rt()
    return crosscheck_city(
        small,
        small.build_city(),
        STATIONS,
        users=30,
        samples=20_000,
        seed=1,
        pathloss_model=FREE_SPACE,
    )


def test_small_city_los_links_agree_with_free_space(city_fs: CityCrosscheck) -> None:
    r = city_fs
    assert r.settings["pathloss_model"] == FREE_SPACE
    assert r.settings["user_polarization"] == "cross"
    # the ray tracer finds the direct path exactly where the geometry says LoS
    np.testing.assert_array_equal(r.rt_los, r.los)
    los = r.los & r.found
    assert los.sum() >= 20
    # same pattern, orientation and power: the direct path alone equals the free-space engine
    assert r.direct_stats.count == int(r.los.sum()) and r.direct_stats.no_path == 0
    assert r.direct_stats.p90_abs_db < 0.05
    # the ray tracer only adds power to it (ground and wall reflections): 0 <= delta, small
    delta = r.link_delta_db[los]
    assert delta.min() > -0.05
    assert r.link_stats["los"].median_abs_db < 2.0
    assert r.user_stats["los"].median_abs_db < 2.0
    assert r.user_stats["los"].p90_abs_db < 3.0


def test_small_city_report_statistics_equal_numpy(city_fs: CityCrosscheck) -> None:
    r = city_fs
    n, u = r.station_xyz_m.shape[0], r.users_xyz_m.shape[0]
    assert r.analytic_dbm.shape == r.raytraced_dbm.shape == r.los.shape == (n, u)
    cols = np.arange(u)
    np.testing.assert_array_equal(r.serving, np.argmax(r.analytic_dbm, axis=0))
    d_user = r.raytraced_dbm[r.serving, cols] - r.analytic_dbm[r.serving, cols]
    f_user = r.found[r.serving, cols]
    l_user = r.los[r.serving, cols]
    np.testing.assert_allclose(r.user_delta_db[f_user], d_user[f_user])
    assert np.isnan(r.user_delta_db[~f_user]).all()
    cases: list[tuple[dict[str, AgreementStats], Any, Any, Any]] = [
        (r.user_stats, r.user_delta_db, f_user, l_user),
        (r.link_stats, r.link_delta_db, r.found, r.los),
    ]
    for stats, delta, found, los in cases:
        for group, mask in (("all", np.ones_like(los)), ("los", los), ("nlos", ~los)):
            s = stats[group]
            v = delta[mask & found]
            assert s.count == v.size
            assert s.no_path == int((mask & ~found).sum())
            if v.size:
                assert s.median_abs_db == pytest.approx(np.median(np.abs(v)))
                assert s.p90_abs_db == pytest.approx(np.percentile(np.abs(v), 90))
                assert s.bias_db == pytest.approx(np.mean(v))
    data = r.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["users"]["los"]["count"] == r.user_stats["los"].count
    assert len(data["per_user"]) == u
    cols_, rows = render(r)
    assert cols_ == CITY_COLUMNS and len(rows) == 7
    assert all(len(row) == len(CITY_COLUMNS) for row in rows)


def test_small_city_deterministic_per_seed(small: Scenario, city_fs: CityCrosscheck) -> None:
    again = crosscheck_city(
        small,
        small.build_city(),
        STATIONS,
        users=30,
        samples=20_000,
        seed=1,
        pathloss_model=FREE_SPACE,
    )
    np.testing.assert_array_equal(again.users_xyz_m, city_fs.users_xyz_m)
    np.testing.assert_allclose(again.raytraced_dbm, city_fs.raytraced_dbm, atol=1e-9)
    np.testing.assert_array_equal(again.found, city_fs.found)
    other = crosscheck_city(
        small, small.build_city(), STATIONS, users=30, samples=2_000, seed=2, max_depth=1
    )
    assert not np.array_equal(other.users_xyz_m, city_fs.users_xyz_m)
    assert other.settings["pathloss_model"] == small.radio.pathloss_model


def test_run_crosscheck_plans_and_writes_files(small: Scenario, tmp_path: Any) -> None:
    _needs_rt()
    run = run_crosscheck(
        small, tmp_path / "cc", users=12, samples=5_000, max_depth=2, open_ground=False
    )
    assert run.json_path.is_file() and run.png_path.is_file()
    assert run.png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(run.json_path.read_text())
    assert data["open_ground"] is None
    assert data["city"]["user_count"] == 12
    assert len(data["city"]["stations"]) == small.fleet.stations
    assert data["city"]["users"]["all"]["count"] == run.city.user_stats["all"].count
    assert "planned with gradient" in data["deployment"]


def test_run_crosscheck_reads_a_deployment(small: Scenario, tmp_path: Any) -> None:
    _needs_rt()
    from skycell.plan.pipeline import plan_scenario

    dep = plan_scenario(small, seed=3).deployment
    st = dep.stations
    st[0] = st[0].model_copy(update={"tilt_deg": 60.0, "azimuth_deg": 45.0, "tx_power_dbm": 30.0})
    path = dep.save(tmp_path / "deployment.json")
    run = run_crosscheck(
        None,
        tmp_path / "cc",
        deployment=path,
        users=10,
        samples=2_000,
        max_depth=1,
        open_ground=False,
    )
    assert run.deployment_source == str(path)
    np.testing.assert_allclose(run.city.station_xyz_m, dep.station_xyz_m())
    assert run.city.tilt_deg[0] == 60.0 and run.city.azimuth_deg[0] == 45.0
    assert run.city.tx_power_dbm[0] == 30.0
    assert run.city.scenario_name == small.name
    assert json.loads(run.json_path.read_text())["city"]["stations"][0]["tilt_deg"] == 60.0


def test_cli_crosscheck_writes_its_report(tmp_path: Any) -> None:
    _needs_rt()
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "cc"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "skycell.cli",
            "crosscheck",
            str(root / "examples" / "small.yaml"),
            "--users",
            "20",
            "--samples",
            "20000",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "150"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Sionna LoS path vs free space" in proc.stdout and "pass" in proc.stdout
    data = json.loads((out / "crosscheck.json").read_text())
    assert data["open_ground"]["max_abs_los_error_db"] < 0.5
    assert (out / "crosscheck.png").stat().st_size > 10_000
