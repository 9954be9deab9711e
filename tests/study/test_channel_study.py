"""Channel study (paper 002 §3.5-§4): input checks, user draw, tables, files, and one small
end-to-end Sionna RT run (skipped without the `rt` extra)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skycell.city.buildings import City
from skycell.errors import SkycellError
from skycell.radio.pathloss import SPEED_OF_LIGHT_M_S, free_space_path_loss_db
from skycell.radio.sionna_engine import rt_available
from skycell.scenario import Scenario, scenario_from_dict
from skycell.study import (
    ChannelStudyResult,
    RssMap,
    run_channel_study,
    table9,
    table10,
    write_channel_study,
)
from skycell.study.channel import TracedPaths, analyse_frequency, draw_users

C = SPEED_OF_LIGHT_M_S
_RT_OK, _RT_WHY = rt_available()


def _box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _tiny_scenario() -> Scenario:
    """A 200 m x 200 m settlement: two concrete blocks beside an open square."""
    return scenario_from_dict(
        {
            "name": "tiny-settlement",
            "area": {"x_min_m": -100, "y_min_m": -100, "x_max_m": 100, "y_max_m": 100},
            "city": {
                "buildings": [
                    {"footprint_m": _box(30, -60, 60, 60), "height_m": 20},
                    {"footprint_m": _box(-70, 30, -30, 70), "height_m": 12},
                ]
            },
            "areas_of_interest": [{"id": "event", "center_m": [0, 0], "radius_m": 25}],
            "fleet": {"stations": 1, "altitude_m": 30},
            "radio": {"tx_power_dbm": 37.0, "station_antenna": "isotropic"},
            "placement": {
                "grid_margin_m": 20,
                "demand": {"max_range_m": 150, "receiver_sensitivity_dbm": -100},
            },
        }
    )


@pytest.fixture(scope="module")
def tiny() -> tuple[Scenario, City]:
    sc = _tiny_scenario()
    return sc, sc.build_city()


# ---------------------------------------------------------------------------- inputs


def test_bad_inputs_are_all_reported_at_once(tiny: tuple[Scenario, City]) -> None:
    sc, city = tiny
    with pytest.raises(SkycellError) as exc:
        run_channel_study(
            sc,
            city,
            frequencies_hz=[7e6, 26e9, 26e9],
            foliage_model="trees",
            foliage_depth_m=-1.0,
            combining="max",
            users=0,
            seed=-3,
        )
    msg = str(exc.value)
    for part in (
        "frequencies must lie in [1e9, 1e12] Hz",
        "repeats a frequency",
        "foliage_model",
        "foliage_depth_m",
        "combining",
        "users must be between 1 and 100000",
        "seed must be an integer >= 0",
    ):
        assert part in msg


def test_station_inside_a_building_or_outside_the_area_is_refused(
    tiny: tuple[Scenario, City],
) -> None:
    sc, city = tiny
    with pytest.raises(SkycellError, match="inside a building; move it above the roof"):
        run_channel_study(sc, city, station_xyz_m=(45.0, 0.0, 10.0))
    with pytest.raises(SkycellError, match="outside the scenario area"):
        run_channel_study(sc, city, station_xyz_m=(500.0, 0.0, 30.0))
    with pytest.raises(SkycellError, match="three finite numbers"):
        run_channel_study(sc, city, station_xyz_m=(0.0, 0.0))
    with pytest.raises(SkycellError, match="above the users"):
        run_channel_study(sc, city, station_xyz_m=(0.0, 0.0, 1.0))
    with pytest.raises(SkycellError, match="given user position"):
        run_channel_study(sc, city, users=np.array([[45.0, 0.0, 1.5]]))


def test_users_are_seeded_outdoors_and_in_range(tiny: tuple[Scenario, City]) -> None:
    _, city = tiny
    st = np.array([0.0, 0.0, 30.0])
    a = draw_users(city, st, 300, np.random.default_rng(5), max_range_m=120.0)
    b = draw_users(city, st, 300, np.random.default_rng(5), max_range_m=120.0)
    c = draw_users(city, st, 300, np.random.default_rng(6), max_range_m=120.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (300, 3) and np.all(a[:, 2] == 1.5)
    assert not city.inside_building(a).any()
    assert np.all(np.linalg.norm(a - st, axis=1) <= 120.0 + 1e-9)
    assert np.all(np.abs(a[:, :2]) <= 100.0)
    with pytest.raises(SkycellError, match="raise max_range_m"):
        draw_users(city, st, 10, np.random.default_rng(0), max_range_m=20.0)


# ---------------------------------------------------------------------------- tables and files


def _synthetic_result(city: City) -> ChannelStudyResult:
    """Two users, one LoS one NLoS, at 7 and 140 GHz, with a small synthetic heat map."""
    station = np.array([0.0, 0.0, 30.0])
    users = np.array([[50.0, 0.0, 1.5], [-20.0, -80.0, 1.5], [0.0, 90.0, 1.5]])
    dist = np.linalg.norm(users - station, axis=1)
    per = []
    for f in (7e9, 140e9):
        lam = C / f
        a = np.zeros((3, 2, 2), dtype=complex)
        a[0, 0, 0] = lam / (4 * np.pi * dist[0])
        a[1, 0, 0] = 0.1 * lam / (4 * np.pi * dist[1])
        a[1, 1, 1] = 0.05 * lam / (4 * np.pi * dist[1])
        tau = np.array([[dist[0], 0.0], [dist[1] + 5, dist[1] + 40], [0.0, 0.0]]) / C
        valid = np.array([[True, False], [True, True], [False, False]])
        los = np.array([[True, False], [False, False], [False, False]])
        ny, nx = 4, 5
        rmap = RssMap(
            rss_dbm=np.linspace(-110, -40, ny * nx).reshape(ny, nx),
            los=np.arange(ny * nx).reshape(ny, nx) % 2 == 0,
            extent_m=(-100.0, 100.0, -100.0, 100.0),
            cell_m=40.0,
        )
        per.append(
            analyse_frequency(
                TracedPaths(a=a, delay_s=tau, valid=valid, los=los),
                f,
                dist,
                tx_power_dbm=37.0,
                sensitivity_dbm=-100.0,
                gas_db_per_km=0.5,
                rain_db_per_km=0.0,
                foliage_db=2.0,
                rss_map=rmap,
            )
        )
    return ChannelStudyResult(
        scenario_name="synthetic",
        station_xyz_m=station,
        users_xyz_m=users,
        distance_m=dist,
        frequencies=tuple(per),
        settings={"tx_power_dbm": 37.0, "sensitivity_dbm": -100.0, "max_range_m": 150.0},
        notes=("a note",),
        wall_time_s=0.1,
        city=city,
        areas_of_interest=((0.0, 0.0, 25.0),),
    )


def test_tables_put_the_paper_rows_beside_ours(tiny: tuple[Scenario, City]) -> None:
    res = _synthetic_result(tiny[1])
    t9 = table9(res)
    assert t9.columns[:2] == ("GHz", "source") and len(t9.columns) == 10
    assert [r[:2] for r in t9.rows] == [
        ("7", "skycell"),
        ("7", "paper 002"),
        ("140", "skycell"),
        ("140", "paper 002"),
    ]
    assert t9.rows[1][5] == "102.3" and t9.rows[3][6] == "567"
    ours = res.frequencies[0].table9_row()
    assert t9.rows[0][5] == f"{ours['final_path_loss_db']:.1f}"
    assert t9.rows[0][6] == "1"  # the user without a path is in outage
    assert len(table9(res, with_paper=False).rows) == 2
    t10 = table10(res)
    assert t10.rows[0][:3] == ("LoS", "7", "skycell")
    assert t10.rows[1][2:] == ("paper 002", "", "15.00", "5.10", "10.00")
    nlos = [r for r in t10.rows if r[0] == "NLoS" and r[2] == "skycell"]
    assert nlos[0][3] == "1"


def test_write_channel_study_files(tiny: tuple[Scenario, City], tmp_path: Path) -> None:
    res = _synthetic_result(tiny[1])
    written = write_channel_study(res, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "channel-study.json",
            "channel-table9.csv",
            "channel-table10.csv",
            "channel-users.csv",
            "channel-ci-fit.png",
            "channel-heatmap-7ghz.png",
            "channel-heatmap-140ghz.png",
            "channel-boxplot.png",
        ]
    )
    for p in written:
        assert p.stat().st_size > 0
    summary: dict[str, Any] = json.loads((tmp_path / "out" / "channel-study.json").read_text())
    assert summary["users"] == 3 and summary["notes"] == ["a note"]
    f7 = summary["frequencies"][0]
    assert f7["paper_table9"]["final_path_loss_db"] == 102.3
    assert f7["table9"]["outage_users"] == 1
    with (tmp_path / "out" / "channel-users.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and rows[2]["rss_final_dbm"] == "" and rows[2]["outage"] == "1"
    assert not list((tmp_path / "out").glob(".*tmp"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(SkycellError, match="not a folder"):
        write_channel_study(res, tmp_path / "file")


# ---------------------------------------------------------------------------- end to end


@pytest.mark.skipif(not _RT_OK, reason=f"Sionna RT unavailable: {_RT_WHY}")
def test_end_to_end_small_settlement(tiny: tuple[Scenario, City], tmp_path: Path) -> None:
    sc, city = tiny
    kw: dict[str, Any] = {
        "frequencies_hz": [7e9, 26e9],
        "users": 12,
        "seed": 3,
        "samples": 20_000,
        "map_cell_m": 20.0,
        "map_samples": 20_000,
    }
    res = run_channel_study(sc, city, **kw)
    assert res.users_xyz_m.shape == (12, 3)
    np.testing.assert_allclose(res.station_xyz_m, [0.0, 0.0, 30.0])
    assert "medium_dry_ground" in " ".join(res.notes)  # P.2040 ground ends at 10 GHz
    for fs in res.frequencies:
        hp = fs.has_path
        assert hp.sum() >= 10 and fs.los.sum() >= 3
        # adding weather and foliage only loses power: final PL >= PL with concrete only
        pl_concrete = 37.0 - fs.rss_concrete_dbm[hp]
        assert np.all(fs.path_loss_db[hp] >= pl_concrete + fs.foliage_db - 0.05)
        # the LoS path alone is free space plus the extra losses (Sionna RT vs closed form)
        d = res.distance_m[fs.los]
        expect = free_space_path_loss_db(d, fs.frequency_hz) + fs.gas_db_per_km * d / 1e3
        np.testing.assert_allclose(fs.los_path_loss_db[fs.los], expect + fs.foliage_db, atol=0.5)
        assert fs.rss_map is not None and np.isfinite(fs.rss_map.rss_dbm).mean() > 0.5
        assert fs.ci_fit is not None and 1.5 < fs.ci_fit.exponent < 4.5
        ds = fs.delay_spread_s[hp]
        assert np.all((ds >= 0) & (ds < 2e-6))
        assert np.all(np.abs(fs.phase_deg[hp]) <= 180.0)
    # deterministic per seed
    again = run_channel_study(sc, city, **{**kw, "radio_map": False})
    for a, b in zip(res.frequencies, again.frequencies, strict=True):
        np.testing.assert_array_equal(a.has_path, b.has_path)
        np.testing.assert_array_equal(a.n_paths, b.n_paths)
        np.testing.assert_allclose(a.rss_final_dbm, b.rss_final_dbm, rtol=1e-12)
        np.testing.assert_allclose(a.delay_spread_s, b.delay_spread_s, rtol=1e-12)
    written = write_channel_study(res, tmp_path)
    assert len(written) == 8  # json, 3 csv, CI fit, 2 heat maps, box plot
    assert math.isfinite(json.loads((tmp_path / "channel-study.json").read_text())["wall_time_s"])
