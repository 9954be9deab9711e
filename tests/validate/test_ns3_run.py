"""ns-3 network validation (issue 6): the network built from a deployment, runs in ns-3, the CLI.

The pure parts (channels, noise figure, the network's geometry) run everywhere; the parts that
simulate need the ``ns3`` extra and skip with its reason only where it is absent. Simulations are
small (paper 003 scenario A: one UAV, four users) and short (0.5-1 s of traffic).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from skycell.cli import app
from skycell.deployment import Deployment
from skycell.errors import SkycellError
from skycell.plan.pipeline import plan_scenario
from skycell.scenario import load_scenario
from skycell.validate.ns3 import (
    IP_UDP_HEADER_BYTES,
    baseline_deployments,
    compare,
    noise_figure_for_floor_db,
    validate_network,
    wifi_channel_center_hz,
    wifi_channels,
    wifi_network,
)
from skycell.validate.ns3_bindings import ns3_available

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NS3_OK, NS3_WHY = ns3_available()


@pytest.fixture(scope="module")
def plan_a() -> Deployment:
    """Paper 003 scenario A (homogeneous), planned by the LoS search: every user in LoS."""
    sc = load_scenario(EXAMPLES / "paper003-scenario-a-homogeneous.yaml")
    return plan_scenario(sc, seed=0).deployment


# ----------------------------------------------------------------------------- pure parts


def test_channels_follow_width_and_frequency() -> None:
    # 160 MHz: channel 50 is centred on 5250 MHz (paper 003's "Wi-Fi channel 50"), then 114.
    assert wifi_channel_center_hz(50) == 5.25e9
    assert wifi_channels(3, 160, 5.25e9) == [50, 114, 50]
    # 20 MHz: 48 (5240) and 52 (5260) are equally close to 5250; the higher one is taken.
    twenty = wifi_channels(4, 20, 5.25e9)
    assert twenty[:2] == [52, 48] and len(set(twenty)) == 4
    assert wifi_channels(3, 80, 5.25e9, shared=True) == [58, 58, 58]
    with pytest.raises(ValueError, match="20, 40, 80 or 160"):
        wifi_channels(1, 30, 5.25e9)


def test_noise_figure_reproduces_the_noise_floor() -> None:
    # kTB at 290 K: -173.98 dBm/Hz; 160 MHz -> -91.94 dBm, so -85 dBm needs NF 6.94 dB.
    assert noise_figure_for_floor_db(-85.0, 160e6) == pytest.approx(6.94, abs=0.01)
    assert noise_figure_for_floor_db(-85.0, 20e6) == pytest.approx(15.97, abs=0.01)
    assert noise_figure_for_floor_db(-120.0, 20e6) == 0.0


def test_network_of_a_plan(plan_a: Deployment) -> None:
    net = wifi_network(plan_a)
    assert net.station_ids == ("s0",) and len(net.user_ids) == 4
    assert net.offered_load_bps == pytest.approx(4 * 58.5e6)
    assert list(net.serving) == [0, 0, 0, 0]
    assert list(net.channel) == [50]
    assert net.los[0, 1:].all()  # the LoS search put the UAV in LoS of everyone
    assert net.noise_figure_db == pytest.approx(6.94, abs=0.03)
    assert net.packet_size_bytes == 1400


def test_unserved_users_join_their_least_loss_station(plan_a: Deployment) -> None:
    users = [u.model_copy(update={"serving_station": None}) for u in plan_a.users]
    net = wifi_network(plan_a.model_copy(update={"users": users}))
    assert list(net.serving) == [0, 0, 0, 0]
    assert any("least-loss" in n for n in net.notes)


def test_deployment_without_users_is_refused(plan_a: Deployment) -> None:
    with pytest.raises(SkycellError, match="no users"):
        wifi_network(plan_a.model_copy(update={"users": []}))


def test_offset_baseline_moves_the_station_10_m(plan_a: Deployment) -> None:
    deps, notes = baseline_deployments(plan_a, "offset-10m")
    x0 = plan_a.station_xyz_m()[0]
    for label, dep in deps:
        d = dep.station_xyz_m()[0] - x0
        assert np.hypot(d[0], d[1]) == pytest.approx(10.0) and d[2] == 0.0, label
    assert len(deps) + len(notes) == 4
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_deployments(plan_a, "sideways")


# ----------------------------------------------------------------------------- ns-3 runs


@pytest.fixture(scope="module")
def runs_a(plan_a: Deployment):  # type: ignore[no-untyped-def]
    if not NS3_OK:
        pytest.skip(NS3_WHY)
    return validate_network(wifi_network(plan_a), runs=[1, 2, 1], sim_time_s=1.0, workers=2)


@pytest.mark.skipif(not NS3_OK, reason=NS3_WHY)
@pytest.mark.xdist_group("ns3")
def test_throughput_meets_the_offered_load_in_los(runs_a) -> None:  # type: ignore[no-untyped-def]
    """Done-when: all four users in LoS and close, the aggregate throughput within 5 % of the
    offered load (4 x 58.5 Mbit/s on 160 MHz, far below the channel's capacity)."""
    offered = runs_a.network.offered_load_bps
    for r in runs_a.runs:
        assert abs(r.aggregate_throughput_bps / offered - 1.0) < 0.05, r.run
        assert np.all(np.abs(r.throughput_bps / 58.5e6 - 1.0) < 0.05)
        # the applications' payload: FlowMonitor's IP bytes minus 28 bytes of headers a packet
        assert np.array_equal(r.rx_payload_bytes, 1400 * r.rx_packets)
        assert r.loss_ratio < 0.02
        assert 0.0 < r.mean_delay_s < 0.05
    # about 1 s of 58.5 Mbit/s in 1400-byte packets: 5223 packets per user
    assert np.all(np.abs(runs_a.runs[0].tx_packets - 58.5e6 / (8 * 1400)) < 60)
    assert IP_UDP_HEADER_BYTES == 28


@pytest.mark.skipif(not NS3_OK, reason=NS3_WHY)
@pytest.mark.xdist_group("ns3")
def test_runs_are_reproducible_and_seeded(runs_a) -> None:  # type: ignore[no-untyped-def]
    first, second, again = runs_a.runs
    assert first.run == again.run == 1 and second.run == 2
    # the same run number in another forked worker: identical to the packet
    assert np.array_equal(first.rx_packets, again.rx_packets)
    assert np.array_equal(first.delay_sum_s, again.delay_sum_s)
    # another run number: other start jitters and backoffs, so other delays
    assert not np.array_equal(first.delay_sum_s, second.delay_sum_s)


@pytest.mark.skipif(not NS3_OK, reason=NS3_WHY)
@pytest.mark.xdist_group("ns3")
def test_blocked_links_use_the_nlos_model(plan_a: Deployment) -> None:
    """The rooftop AP sits on the central roof, which hides every user (geometric NLoS): the
    over-rooftop model's ~108 dB leaves about -88 dBm against a -85 dBm floor, below MCS 0, so
    nothing arrives. Were the LoS model used (~75-82 dB), everything would."""
    (label, dep), *_ = baseline_deployments(plan_a, "rooftop")[0]
    net = wifi_network(dep)
    assert not net.los[0, 1:].any()
    assert (net.link_loss_db() > 100.0).all()
    res = validate_network(net, runs=1, sim_time_s=0.5, workers=1, label=label)
    r = res.runs[0]
    assert r.aggregate_throughput_bps == 0.0 and r.rx_packets.sum() == 0
    assert r.loss_ratio == 1.0 and r.tx_packets.sum() > 0
    assert math.isnan(r.mean_delay_s)


@pytest.mark.skipif(not NS3_OK, reason=NS3_WHY)
@pytest.mark.xdist_group("ns3")
def test_compare_reports_paper003_gains(runs_a) -> None:  # type: ignore[no-untyped-def]
    g = compare(runs_a, runs_a)
    assert g["throughput_gain_p50_pct"] == pytest.approx(0.0)
    assert g["delay_reduction_p90_pct"] == pytest.approx(0.0)


@pytest.mark.skipif(not NS3_OK, reason=NS3_WHY)
@pytest.mark.xdist_group("ns3")
def test_cli_validate_end_to_end(plan_a: Deployment, tmp_path: Path) -> None:
    dep_path = plan_a.save(tmp_path / "plan" / "deployment.json")
    out = tmp_path / "val"
    res = CliRunner().invoke(
        app,
        [
            "validate", str(dep_path), "--ns3", "--runs", "2", "--sim-time", "0.5",
            "--baseline", "offset-10m", "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "per run" in res.output and "gains of plan" in res.output
    data = json.loads((out / "ns3.json").read_text())
    assert data["deployments"][0]["label"] == "plan"
    assert len(data["deployments"]) >= 2
    assert set(data["gains_over"]) == {d["label"] for d in data["deployments"][1:]}
    plan_runs = data["deployments"][0]["per_run"]
    assert [r["run"] for r in plan_runs] == [1, 2]
    assert abs(plan_runs[0]["aggregate_throughput_bps"] / 234e6 - 1) < 0.05
    csv = (out / "runs.csv").read_text().splitlines()
    assert len(csv) == 1 + 2 * len(data["deployments"])
    for png in ("throughput-ccdf.png", "delay-cdf.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_validate_bad_inputs(plan_a: Deployment, tmp_path: Path) -> None:
    dep_path = plan_a.save(tmp_path / "deployment.json")
    out = tmp_path / "val"
    runner = CliRunner()
    cases = [
        ([str(dep_path)], "--ns3"),
        ([str(dep_path), "--ns3", "--baseline", "sideways"], "unknown --baseline"),
        ([str(tmp_path / "missing.json"), "--ns3"], "cannot read"),
    ]
    no_users = plan_a.model_copy(update={"users": []}).save(tmp_path / "empty.json")
    if NS3_OK:
        cases.append(([str(no_users), "--ns3"], "no users"))
    for args, message in cases:
        res = runner.invoke(app, ["validate", *args, "--out", str(out)])
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output, (args, res.output)
        assert "Traceback" not in res.output
    assert not (out / "ns3.json").exists()
