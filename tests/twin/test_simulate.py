"""Time-stepped simulation (issue 5 item 2): sampling of trajectories, station tracks, SIR and
SINR against closed form, the batched and per-step paths agree, Parquet round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skycell.city.buildings import Buildings, City
from skycell.deployment import TrajectoryRecord
from skycell.errors import SkycellError
from skycell.radio.engine import AnalyticEngine
from skycell.twin.simulate import (
    UserTracks,
    area_table,
    plot_area_sir,
    route_track,
    simulate,
    write_area_csv,
    write_parquet,
)

F = 3.5e9
C = 299_792_458.0


def _engine() -> AnalyticEngine:
    city = City(bounds_m=(-500.0, -500.0, 500.0, 500.0), buildings=Buildings.empty())
    return AnalyticEngine(
        city,
        frequency_hz=F,
        pathloss_model="free_space",
        station_antenna="isotropic",
        user_antenna="isotropic",
    )


def test_resample_interpolates_and_holds_the_last_position() -> None:
    rec = TrajectoryRecord(
        id="a", dt_s=2.0, positions_m=[(0, 0, 1.5), (10, 0, 1.5), (10, 20, 1.5)], area="z"
    )
    tracks = UserTracks.resample([rec], steps=6, dt_s=1.0)
    np.testing.assert_allclose(tracks.xyz_m[:, 0, 0], [0, 5, 10, 10, 10, 10, 10])
    np.testing.assert_allclose(tracks.xyz_m[:, 0, 1], [0, 0, 0, 10, 20, 20, 20])
    assert tracks.areas == ("z",) and tracks.steps == 6
    with pytest.raises(SkycellError, match="no users"):
        UserTracks.resample([], steps=3, dt_s=1.0)
    with pytest.raises(SkycellError, match="steps must be"):
        UserTracks.resample([rec], steps=0, dt_s=1.0)


def test_route_track_flies_at_the_given_speed_then_hovers() -> None:
    route = [(0.0, 0.0, 70.0), (30.0, 0.0, 70.0), (30.0, 40.0, 70.0)]
    t = route_track(route, steps=12, dt_s=1.0, speed_mps=10.0)
    steps = np.linalg.norm(np.diff(t, axis=0), axis=1)
    assert np.all(steps <= 10.0 + 1e-9)
    np.testing.assert_allclose(t[3], [30, 0, 70])
    np.testing.assert_allclose(t[-1], [30, 40, 70])
    np.testing.assert_allclose(t[7:], np.repeat([[30, 40, 70]], 6, axis=0))


def test_sir_and_sinr_match_free_space_closed_form() -> None:
    eng = _engine()
    tx = np.array([[0.0, 0.0, 50.0], [300.0, 0.0, 50.0]])
    recs = [
        TrajectoryRecord(id=f"u{j}", positions_m=[(x, 0.0, 1.5), (x + 50, 0.0, 1.5)], area="a")
        for j, x in enumerate((20.0, 150.0, 280.0))
    ]
    users = UserTracks.resample(recs, steps=2, dt_s=1.0)
    res = simulate(
        eng,
        users,
        station_ids=["s0", "s1"],
        station_xyz_m=tx,
        tx_power_dbm=[30.0, 30.0],
        azimuth_deg=[0.0, 0.0],
        tilt_deg=[90.0, 90.0],
        noise_dbm=-100.0,
    )
    d = np.linalg.norm(users.xyz_m[:, None, :, :] - tx[None, :, None, :], axis=-1)  # (T,N,U)
    p = 30.0 - 20 * np.log10(4 * np.pi * d * F / C)
    np.testing.assert_allclose(res.rx_power_dbm, p, atol=1e-9)
    serving = np.argmax(p, axis=1)
    np.testing.assert_array_equal(res.serving, serving)
    pw = 10 ** ((p - 30) / 10)
    s = np.take_along_axis(pw, serving[:, None, :], axis=1)[:, 0]
    i = pw.sum(axis=1) - s
    np.testing.assert_allclose(res.sir_db, 10 * np.log10(s / i), atol=1e-9)
    np.testing.assert_allclose(res.sinr_db, 10 * np.log10(s / (i + 1e-13)), atol=1e-9)
    ids, mean = res.area_mean_sir_db()
    assert ids == ("a",)
    np.testing.assert_allclose(mean[:, 0], res.sir_db.mean(axis=1))


def test_moving_stations_use_the_per_step_path() -> None:
    eng = _engine()
    recs = [TrajectoryRecord(id="u", positions_m=[(0.0, 0.0, 1.5)] * 4)]
    users = UserTracks.resample(recs, steps=3, dt_s=1.0)
    track = np.zeros((4, 1, 3))
    track[:, 0, 0] = [0.0, 100.0, 200.0, 300.0]
    track[:, 0, 2] = 60.0
    res = simulate(
        eng,
        users,
        station_ids=["s0"],
        station_xyz_m=track,
        tx_power_dbm=[30.0],
        azimuth_deg=[0.0],
        tilt_deg=[90.0],
        noise_dbm=-100.0,
    )
    d = np.hypot(track[:, 0, 0], 58.5)
    np.testing.assert_allclose(
        res.rx_power_dbm[:, 0, 0], 30.0 - 20 * np.log10(4 * np.pi * d * F / C), atol=1e-9
    )
    with pytest.raises(SkycellError, match="must have shape"):
        simulate(
            eng,
            users,
            station_ids=["s0"],
            station_xyz_m=np.zeros((2, 1, 3)),
            tx_power_dbm=[30.0],
            azimuth_deg=[0.0],
            tilt_deg=[90.0],
            noise_dbm=-100.0,
        )


def test_outputs_round_trip(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    eng = _engine()
    recs = [
        TrajectoryRecord(id="u0", positions_m=[(10.0, 0.0, 1.5)] * 3, area="a", kind="pedestrian"),
        TrajectoryRecord(id="u1", positions_m=[(200.0, 0.0, 1.5)] * 3, area="b"),
    ]
    users = UserTracks.resample(recs, steps=2, dt_s=1.0)
    runs = [
        simulate(
            eng,
            users,
            station_ids=["s0", "s1"],
            station_xyz_m=[[0.0, 0.0, 50.0], [250.0, 0.0, 50.0]],
            tx_power_dbm=[p, 30.0],
            azimuth_deg=[0.0, 0.0],
            tilt_deg=[90.0, 90.0],
            noise_dbm=-100.0,
            label=label,
        )
        for label, p in (("before", 30.0), ("after", 36.0))
    ]
    table = pq.read_table(write_parquet(runs, tmp_path / "sim.parquet"))
    assert table.num_rows == 2 * 3 * 2
    assert set(table.column("run").to_pylist()) == {"before", "after"}
    got = np.array(table.column("sir_db").to_pylist()).reshape(2, 3, 2)
    np.testing.assert_allclose(got[1], runs[1].sir_db)
    assert table.column("stations_reached").to_pylist() == [2] * 12
    columns, rows = area_table(runs)
    # every link has a path on the analytic engine: no "links without a path" column
    assert columns[-2:] == ["change [dB]", "mean SINR after [dB]"]
    assert [r[0] for r in rows] == ["a", "b"]
    # station 0 gained 6 dB: area a's SIR rises by 6 dB, area b's falls by 6 dB
    assert float(rows[0][-2]) == pytest.approx(6.0, abs=0.01)
    assert float(rows[1][-2]) == pytest.approx(-6.0, abs=0.01)
    sinr_a = runs[1].sinr_db[:, 0].mean()
    assert float(rows[0][-1]) == pytest.approx(sinr_a, abs=0.006)
    assert runs[1].no_path_share() == 0.0
    csv = write_area_csv(runs, tmp_path / "a.csv").read_text().splitlines()
    assert csv[0] == "step,t_s,a:before,b:before,a:after,b:after" and len(csv) == 4
    assert plot_area_sir(runs, tmp_path / "fig9.png").stat().st_size > 5_000


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tuned_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skycell.plan.pipeline import plan_scenario, tune_deployment
    from skycell.scenario import default_scenario

    sc = default_scenario()
    out = plan_scenario(sc, seed=0)
    dep, _, _ = tune_deployment(out.deployment, sc, out.city, method="aoi")
    path = tmp_path_factory.mktemp("dep") / "deployment.json"
    dep.save(path)
    return path


def test_run_simulation_before_and_after_tuning(tuned_default: Path) -> None:
    from skycell.deployment import Deployment
    from skycell.twin.simulate import run_simulation

    dep = Deployment.load(tuned_default)
    run = run_simulation(dep, steps=10, users_per_area=8, seed=3)
    before, after = run.results
    assert (before.label, after.label) == ("before tuning", "after tuning")
    assert before.rx_power_dbm.shape == (11, 10, 40)
    # same users, same positions; only the station settings differ
    np.testing.assert_array_equal(before.users.xyz_m, after.users.xyz_m)
    # aoi tuning (L_w) raises the users' SIR in the areas on average (paper 000 Fig. 9)
    ids, b = before.area_mean_sir_db()
    _, a = after.area_mean_sir_db()
    assert len(ids) == 5 and float(np.mean(a - b)) > 1.0
    # the users walk inside their spawn squares and the records carry them out
    added = [t for t in run.deployment.user_trajectories if t.kind == "pedestrian"]
    assert len(added) == 40 and all(len(t.positions_m) == 11 for t in added)
    again = run_simulation(dep, steps=10, users_per_area=8, seed=3)
    np.testing.assert_array_equal(again.results[1].sir_db, after.sir_db)
    with pytest.raises(SkycellError, match="unknown engine"):
        run_simulation(dep, steps=2, users_per_area=1, engine="magic")


def test_cli_simulate_writes_everything(tuned_default: Path, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    import pyarrow.parquet as pq

    out = tmp_path / "sim"
    r = subprocess.run(
        [sys.executable, "-m", "skycell.cli", "simulate", str(tuned_default), "--steps", "5",
         "--users-per-area", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "150"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "mean SIR after tuning" in r.stdout
    table = pq.read_table(out / "simulation.parquet")
    assert table.num_rows == 2 * 6 * 20
    assert (out / "sir_per_area.png").stat().st_size > 10_000
    dep = json.loads((out / "deployment.json").read_text())
    assert sum(t["kind"] == "pedestrian" for t in dep["user_trajectories"]) == 20
    bad = subprocess.run(
        [sys.executable, "-m", "skycell.cli", "simulate", str(tmp_path / "missing.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_simulation_on_the_ray_tracer(tmp_path: Path) -> None:
    from skycell.plan.pipeline import plan_scenario
    from skycell.radio.sionna_engine import rt_available
    from skycell.scenario import load_scenario
    from skycell.twin.simulate import run_simulation

    ok, why = rt_available()
    if not ok:
        pytest.skip(f"Sionna RT engine unavailable: {why}")
    sc = load_scenario(ROOT / "examples" / "small.yaml")
    dep = plan_scenario(sc, seed=0, method="gradient").deployment
    run = run_simulation(dep, steps=3, users_per_area=3, engine="sionna", samples=5000)
    (res,) = run.results
    assert res.label == "deployed" and res.rx_power_dbm.shape == (4, 3, 7)
    assert np.isfinite(res.rx_power_dbm).all()
    # the strongest traced station serves every user, and the users near it hear it best
    assert (res.serving_power_dbm() >= res.rx_power_dbm.max(axis=1) - 1e-9).all()


def test_recover_a_walker_of_the_default_scenario(tuned_default: Path) -> None:
    from skycell.deployment import Deployment
    from skycell.twin.recovery import run_recovery
    from skycell.twin.simulate import run_simulation

    sim = run_simulation(Deployment.load(tuned_default), steps=20, users_per_area=2, seed=1)
    walker = next(t.id for t in sim.deployment.user_trajectories if t.kind == "pedestrian")
    # 43 dBm over the downtown keeps a walker above T_min = 1e-14 W: nothing to recover ...
    run = run_recovery(sim.deployment, walker)
    assert run.recovery.drops == () and run.power_before_w.shape == (21,)
    np.testing.assert_array_equal(run.power_after_w, run.power_before_w)
    # ... while a stricter threshold finds drops and plans a manoeuvre for them
    strict = run_recovery(sim.deployment, walker, t_min_w=float(run.power_before_w.max()) * 2)
    assert len(strict.recovery.drops) == 1 and strict.recovery.drops[0].open_end


def test_links_without_a_traced_path_leave_the_sir_bounded() -> None:
    # line of sight only (max_depth 0) and a block between station 1 and the user: the ray
    # tracer finds no path, the user hears no interference and its SIR is P_s / eps (eq. 9)
    from skycell.metrics import SIR_EPSILON
    from skycell.radio.sionna_engine import SionnaEngine, rt_available

    ok, why = rt_available()
    if not ok:
        pytest.skip(f"Sionna RT engine unavailable: {why}")
    box = np.array([[40.0, -20.0], [60.0, -20.0], [60.0, 20.0], [40.0, 20.0]])
    city = City(bounds_m=(-300.0, -300.0, 300.0, 300.0), buildings=Buildings((box,), [30.0]))
    eng = SionnaEngine(city, frequency_hz=F, station_antenna="isotropic", samples=2000, max_depth=0)
    recs = [
        TrajectoryRecord(id="u0", positions_m=[(0.0, 0.0, 1.5)] * 2, area="a"),
        TrajectoryRecord(id="u1", positions_m=[(80.0, 60.0, 1.5)] * 2, area="b"),
    ]
    users = UserTracks.resample(recs, steps=1, dt_s=1.0)
    res = simulate(
        eng,
        users,
        station_ids=["s0", "s1"],
        station_xyz_m=[[-30.0, 0.0, 10.0], [100.0, 0.0, 10.0]],
        tx_power_dbm=[30.0, 30.0],
        azimuth_deg=[0.0, 0.0],
        tilt_deg=[0.0, 0.0],
        noise_dbm=-100.0,
    )
    assert res.linked is not None
    np.testing.assert_array_equal(res.linked[0], [[True, True], [False, True]])
    s_w = 10 ** ((res.rx_power_dbm[:, 0, 0] - 30.0) / 10)
    np.testing.assert_allclose(res.sir_db[:, 0], 10 * np.log10(s_w / SIR_EPSILON), atol=1e-3)
    assert np.isfinite(res.sir_db).all() and res.no_path_share() == pytest.approx(0.25)
    columns, rows = area_table([res])
    assert columns[-1] == "links without a path [%]"
    assert [r[-1] for r in rows] == ["50.0", "0.0"]
