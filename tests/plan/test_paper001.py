"""Paper 001's non-learning methods on tiny intersections: the cached grid equals direct
evaluation, the exhaustive percentiles, the differentiable sum rate (values and gradients against
numpy and finite differences, the image-method extrapolation exact in free space), gradient
ascent reaching the exhaustive top 1 %, the non-twin baseline, the CLI end to end, and the same
on Sionna RT paths (skipped without the rt extra)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from skycell.errors import SkycellError
from skycell.plan.assignment import check_placement
from skycell.plan.place_sumrate import (
    METRICS,
    SumRateProblem,
    exhaustive_search,
    field_for,
    place_exhaustive,
    place_fixed_dft,
    place_gradient_sumrate,
)
from skycell.plan.sumrate_grad import (
    analytic_channel_torch,
    anchored_channel_torch,
    building_penalty_torch,
)
from skycell.radio.beamforming import (
    greedy_user_order,
    rank_adaptive_zf,
    rank_average_sum_rate_torch,
)
from skycell.radio.sionna_engine import rt_available

from .p001_helpers import tiny_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny() -> tuple:  # type: ignore[type-arg]
    sc = tiny_scenario()
    city = sc.build_city()
    return sc, city, sc.users_in(city)


def test_field_caches_exactly_what_direct_evaluation_gives(tiny: tuple) -> None:  # type: ignore[type-arg]
    sc, city, users = tiny
    sc = sc.model_copy(
        update={"sumrate": sc.sumrate.model_copy(update={"max_cached_channels": 10})}
    )
    field = field_for(sc, city, users)
    idx = field.feasible_index()[::7]
    direct, chans = field.problem.evaluate(field.points_m(idx))
    for name in METRICS:
        np.testing.assert_allclose(field.metric(name, idx), direct[name], rtol=1e-12)
    assert field.evaluations == idx.shape[0]
    field.metric("sum_rate_bps_hz", idx)  # cached: no new evaluation
    assert field.evaluations == idx.shape[0]
    assert len(field._channels) == 10  # bounded: only the last 10 channels are kept
    np.testing.assert_allclose(field.channel(idx), chans, rtol=1e-12)  # misses recomputed
    # infeasible points (inside a building's clearance) are never evaluated
    bad = np.argwhere(~field.feasible)
    assert bad.shape[0] > 0
    assert np.all(np.isnan(field.reward(bad[:3])))


def test_exhaustive_search_ranks_every_feasible_point(tiny: tuple) -> None:  # type: ignore[type-arg]
    sc, city, users = tiny
    field = field_for(sc, city, users)
    res = exhaustive_search(field)
    assert res.values_bps_hz.size == int(field.feasible.sum())
    q = res.top_bps_hz
    assert q[0.01] == pytest.approx(np.quantile(res.values_bps_hz, 0.99))
    assert q[0.10] == pytest.approx(np.quantile(res.values_bps_hz, 0.90))
    assert res.values_bps_hz.max() >= q[0.01] > q[0.10] > q[0.30] > np.median(res.values_bps_hz)
    assert field.problem.feasible(res.best_m.reshape(1, 3))[0]
    up = place_exhaustive(sc, city, users)
    assert up.extra["sum_rate_bps_hz"] == pytest.approx(res.values_bps_hz.max())
    np.testing.assert_allclose(up.station_xyz_m[0], res.best_m)
    assert up.extra["top_1pct_bps_hz"] == pytest.approx(q[0.01])
    assert check_placement(sc, city, users, up) == []


def test_differentiable_channel_and_rate_equal_numpy_with_right_gradients(tiny: tuple) -> None:  # type: ignore[type-arg]
    sc, city, users = tiny
    pr = SumRateProblem.build(sc, city, users)
    pts = np.array([[3.0, -4.0, 42.0], [-12.5, 7.0, 33.0], [0.5, 0.5, 48.0]])
    p = torch.tensor(pts, requires_grad=True)
    h, los = analytic_channel_torch(pr, p)
    hn, los_n = pr.channels(pts)
    np.testing.assert_allclose(h.detach().numpy(), hn, rtol=1e-9, atol=1e-15)
    assert np.array_equal(los, los_n)
    order = greedy_user_order(hn, pr.max_rank)
    r = rank_average_sum_rate_torch(
        h, torch.from_numpy(order), tx_power_w=pr.tx_power_w, noise_power_w=pr.noise_power_w
    )
    ref = pr.zf(hn).average_sum_rate_bps_hz
    np.testing.assert_allclose(r.detach().numpy(), ref, rtol=1e-9)
    r.sum().backward()
    assert p.grad is not None
    grad = p.grad.numpy()
    step = 1e-3
    for a in range(3):
        up, dn = pts.copy(), pts.copy()
        up[:, a] += step
        dn[:, a] -= step

        def val(x: np.ndarray) -> np.ndarray:
            return rank_adaptive_zf(
                pr.channels(x)[0],
                tx_power_w=pr.tx_power_w,
                noise_power_w=pr.noise_power_w,
                order=order,
            ).average_sum_rate_bps_hz

        fd = (val(up) - val(dn)) / (2 * step)
        np.testing.assert_allclose(grad[:, a], fd, rtol=1e-4, atol=1e-6)


def test_image_method_extrapolation_is_exact_in_free_space() -> None:
    sc = tiny_scenario(
        radio={
            "frequency_hz": 28e9,
            "tx_power_dbm": 30.0,
            "bandwidth_hz": 1e8,
            "station_antenna": "isotropic",
            "pathloss_model": "free_space",
        }
    )
    city = sc.build_city()
    pr = SumRateProblem.build(sc, city, sc.users_in(city))
    anchor = np.array([[2.0, -3.0, 40.0], [10.0, 12.0, 30.0]])
    paths = pr.paths(anchor)
    moved = anchor + np.array([[1.3, -0.7, 2.1], [-2.0, 0.4, -1.5]])
    h = anchored_channel_torch(pr, paths, torch.tensor(moved)).numpy()
    exact, _ = pr.channels(moved)
    # free space: amplitude 1/L, the direct path's virtual receiver is the user itself
    np.testing.assert_allclose(h, exact, rtol=1e-9)
    # the large-scale (phase-frozen) channel differs by one phase per user: same ZF rates
    frozen = anchored_channel_torch(pr, paths, torch.tensor(moved), frozen_phase=True).numpy()
    ratio = frozen / exact
    np.testing.assert_allclose(np.abs(ratio), 1.0, rtol=1e-9)
    np.testing.assert_allclose(ratio, ratio[..., :1] * np.ones(ratio.shape[-1]), rtol=1e-9)
    np.testing.assert_allclose(
        pr.zf(frozen).sum_rate_bps_hz, pr.zf(exact).sum_rate_bps_hz, rtol=1e-9
    )


def test_building_penalty_is_paper000_eq6_on_3d_box_distances(tiny: tuple) -> None:  # type: ignore[type-arg]
    sc, city, users = tiny
    pr = SumRateProblem.build(sc, city, users)
    x0, y0, x1, y1, height = pr.boxes_m[0]
    above = np.array([[0.5 * (x0 + x1), 0.5 * (y0 + y1), height + 5.0]])  # 5 m over the roof
    pen = building_penalty_torch(pr, torch.tensor(above)).item()
    d = pr.box_distance_m(above)[0]
    assert d[0] == pytest.approx(5.0)
    kb, cb = sc.sumrate.gradient.kappa_b, pr.clearance_m
    assert pen == pytest.approx(np.exp(kb * (cb - d)).sum(), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_ascent_reaches_the_exhaustive_top_1pct(tiny: tuple, seed: int) -> None:  # type: ignore[type-arg]
    sc, city, users = tiny
    top1 = exhaustive_search(field_for(sc, city, users)).top_bps_hz[0.01]
    up = place_gradient_sumrate(sc, city, users, seed=seed)
    assert up.extra["sum_rate_bps_hz"] >= top1
    assert up.extra["sum_rate_bps_hz"] >= max(up.extra["start_values_bps_hz"])
    assert SumRateProblem.build(sc, city, users).feasible(up.station_xyz_m)[0]
    assert check_placement(sc, city, users, up) == []
    again = place_gradient_sumrate(sc, city, users, seed=seed)
    np.testing.assert_array_equal(up.station_xyz_m, again.station_xyz_m)


def test_fixed_dft_is_the_non_twin_baseline(tiny: tuple) -> None:  # type: ignore[type-arg]
    sc, city, users = tiny
    fixed = ((0.0, 0.0, 40.0), (-10.0, 10.0, 30.0))
    sc = sc.model_copy(
        update={"sumrate": sc.sumrate.model_copy(update={"fixed_positions_m": fixed})}
    )
    up = place_fixed_dft(sc, city, users)
    np.testing.assert_allclose(up.station_xyz_m[0], fixed[0])
    table = up.extra["fixed_positions"]
    assert len(table) == 2
    pr = SumRateProblem.build(sc, city, users)
    h, _ = pr.channels(np.array(fixed))
    np.testing.assert_allclose(
        [t["dft"]["sum_rate_bps_hz"] for t in table], pr.dft(h).average_sum_rate_bps_hz
    )
    # channel knowledge pays: ZF at the same positions beats the codebook
    assert all(t["zf"]["sum_rate_bps_hz"] > t["dft"]["sum_rate_bps_hz"] for t in table)
    assert up.extra["sum_rate_bps_hz"] == pytest.approx(table[0]["dft"]["sum_rate_bps_hz"])


def test_bad_inputs_are_reported(tiny: tuple) -> None:  # type: ignore[type-arg]
    sc, city, users = tiny
    with pytest.raises(SkycellError, match="max_rank"):
        bad = sc.model_copy(update={"sumrate": sc.sumrate.model_copy(update={"max_rank": 5})})
        SumRateProblem.build(bad, city, users)
    with pytest.raises(SkycellError, match="users"):
        SumRateProblem.build(sc, city, ())
    from skycell.errors import ScenarioError
    from skycell.scenario import scenario_from_dict

    data = sc.to_dict()
    data["sumrate"]["ddpg"]["noise"] = "pink"
    data["sumrate"]["array_rows"] = 0
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data, source="bad")
    text = str(err.value)
    assert "sumrate.ddpg.noise" in text and "sumrate.array_rows" in text


@pytest.mark.parametrize("method", ["exhaustive", "gradient-sumrate", "fixed-dft"])
def test_cli_plans_every_non_learning_method(tmp_path: Path, method: str) -> None:
    from typer.testing import CliRunner

    from skycell.cli import app

    f = tmp_path / "tiny.yaml"
    f.write_text(tiny_scenario().to_yaml())
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["plan", str(f), "--method", method, "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    dep = json.loads((out / "deployment.json").read_text())
    assert dep["method"]["name"] == method
    assert dep["method"]["sum_rate_bps_hz"] > 0
    assert len(dep["stations"]) == 1
    assert (out / "plan.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_rejects_bad_sumrate_settings(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from skycell.cli import app

    text = tiny_scenario().to_yaml().replace("array_rows: 2", "array_rows: -1")
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    r = CliRunner().invoke(app, ["plan", str(f), "--method", "exhaustive", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "sumrate.array_rows" in r.output and "Traceback" not in r.output


# --------------------------------------------------------------------------- Sionna RT

_OK, _WHY = rt_available()


@pytest.mark.skipif(not _OK, reason=f"Sionna RT engine unavailable: {_WHY}")
def test_image_method_follows_a_fresh_sionna_trace() -> None:
    sc = tiny_scenario(engine="sionna")
    sc = sc.model_copy(
        update={
            "engine": sc.engine.model_copy(update={"samples": 20_000, "user_polarization": "cross"})
        }
    )
    city = sc.build_city()
    pr = SumRateProblem.build(sc, city, sc.users_in(city))
    anchor = np.array([[3.0, -4.0, 42.0], [-11.0, 7.5, 33.0]])
    paths = pr.paths(anchor)
    assert (paths.valid.sum(axis=-1) > 1).any()  # reflections as well as direct paths
    moved = anchor + np.array([[0.4, -0.2, 0.1], [-0.3, 0.35, -0.2]])
    fresh = pr.paths(moved)
    # the image method: every traced path leaves the UAV as if toward its virtual receiver
    # p0 + L k, so at p it is |v - p| long and leaves along (v - p) / |v - p| (exact for the
    # direct path, specular reflections and straight-through refraction)
    virtual = anchor[:, None, None, :] + paths.length_m[..., None] * paths.direction
    w = virtual - moved[:, None, None, :]
    length = np.linalg.norm(w, axis=-1)
    direction = w / length[..., None]
    same = paths.valid.sum(-1) == fresh.valid.sum(-1)  # links whose path set did not change
    assert same.mean() > 0.8
    checked = 0
    for b, k in zip(*np.nonzero(same), strict=True):
        old = np.flatnonzero(paths.valid[b, k])
        new = np.flatnonzero(fresh.valid[b, k])
        for j in old:  # each extrapolated path has a traced twin
            i = new[np.argmin(np.abs(fresh.length_m[b, k, new] - length[b, k, j]))]
            assert abs(fresh.length_m[b, k, i] - length[b, k, j]) < 2e-3  # [m]
            np.testing.assert_allclose(fresh.direction[b, k, i], direction[b, k, j], atol=2e-4)
            checked += 1
    assert checked > 20
    h = anchored_channel_torch(pr, paths, torch.tensor(moved)).numpy()
    hf = fresh.channel(pr.offsets_m)
    corr = np.abs((h.conj() * hf).sum(-1)) / (
        np.linalg.norm(h, axis=-1) * np.linalg.norm(hf, axis=-1)
    )
    # the array response follows; the amplitudes (patterns, interaction coefficients and the
    # dual-polarised users' combiners) are held at the anchor
    assert np.median(corr) > 0.999


@pytest.mark.skipif(not _OK, reason=f"Sionna RT engine unavailable: {_WHY}")
def test_sionna_paths_drive_every_non_learning_method() -> None:
    sc = tiny_scenario(
        engine="sionna",
        grid_step_m=20.0,
        top_m=40.0,
        sumrate={"gradient": {"starts": 4, "iterations": 30}},
    )
    sc = sc.model_copy(
        update={"engine": sc.engine.model_copy(update={"samples": 5000, "user_polarization": "V"})}
    )
    city = sc.build_city()
    users = sc.users_in(city)
    field = field_for(sc, city, users)
    assert field.problem.engine_kind == "sionna"
    ex = exhaustive_search(field)
    assert ex.values_bps_hz.size == int(field.feasible.sum())
    # the traced grid is no analytic grid: reflections change the channels
    ana = exhaustive_search(field_for(sc, city, users, engine_kind="analytic"))
    assert not np.allclose(ex.values_bps_hz, ana.values_bps_hz, rtol=1e-3)
    g = place_gradient_sumrate(sc, city, users, seed=0)
    assert g.extra["engine"] == "sionna"
    assert g.extra["sum_rate_bps_hz"] >= max(g.extra["start_values_bps_hz"]) - 1e-9
    assert g.extra["evaluations"] >= 4  # every start traced, and the result traced again
    f = place_fixed_dft(sc, city, users)
    assert f.extra["engine"] == "sionna" and f.extra["sum_rate_bps_hz"] > 0
