"""Issue 3 from the command line: every user-driven method on the shipped scenario files, with the
constraints checked on what it wrote; `skycell size`; infeasible inputs end in a message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from skycell.deployment import Deployment
from skycell.plan.assignment import UserPlacement, check_placement
from skycell.plan.pipeline import deployment_city
from skycell.scenario import load_scenario
from test_cli import skycell

P004 = "examples/paper004-scenario-a.yaml"
P003 = "examples/paper003-scenario-a-homogeneous.yaml"
P002 = "examples/paper002-design-1.yaml"


def _constraints_hold(scenario_file: str | Path, out: Path) -> Deployment:
    dep = Deployment.load(out / "deployment.json")
    sc = load_scenario(scenario_file)
    city = deployment_city(dep)
    users = sc.users_in(city)
    ids = {s.id: k for k, s in enumerate(dep.stations)}
    assoc = np.array([ids[u.serving_station] if u.serving_station else -1 for u in dep.users])
    placement = UserPlacement("cli", dep.station_xyz_m(), assoc)
    assert [u.id for u in dep.users] == [u.id for u in users]
    assert check_placement(sc, city, users, placement) == []
    served = [u for u in dep.users if u.serving_station]
    assert all(u.rate_bps >= u.demand_bps * (1 - 1e-9) for u in served)
    for key in ("station_count", "users_served", "users_in_los", "demand_satisfied_fraction"):
        assert key in dep.metrics
    return dep


@pytest.mark.parametrize(
    ("scenario_file", "method"),
    [
        (P004, "exact"),
        (P004, "emtad"),
        (P004, "fixed-altitude"),
        (P004, "fixed-users"),
        (P003, "los-search"),
        (P003, "rooftop"),
        (P002, "demand"),
    ],
)
def test_method_from_cli_meets_constraints(scenario_file: str, method: str, tmp_path: Path) -> None:
    out = tmp_path / method
    r = skycell("plan", scenario_file, "--method", method, "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    dep = _constraints_hold(scenario_file, out)
    assert dep.method["name"] == method
    if method == "exact":
        assert dep.method["proven_optimal"] is True
        assert dep.metrics["station_count"] == dep.method["lower_bound"]


def test_rltopa_from_cli_short_training(tmp_path: Path) -> None:
    pytest.importorskip(
        "stable_baselines3", reason="the rl extra is not installed: pip install 'skycell[rl]'"
    )
    data = yaml.safe_load(Path(P003).read_text())
    data["placement"]["rltopa"] = {"episodes": 2, "steps_per_episode": 300}
    f = tmp_path / "short.yaml"
    f.write_text(yaml.safe_dump(data))
    out = tmp_path / "rl"
    r = skycell("plan", str(f), "--method", "rltopa", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    dep = _constraints_hold(f, out)
    assert dep.method["training_s"] > 0


def test_size_reports_bounds_and_counts() -> None:
    r = skycell("size", P004, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    counts = {m["method"]: m["uavs"] for m in res["methods"]}
    assert counts["exact"] <= counts["emtad"]
    assert res["bounds"]["lower_bound"] <= counts["exact"]
    assert all(m["valid"] for m in res["methods"])


def _variant(tmp_path: Path, base: str, edit: dict[str, object]) -> Path:
    data = yaml.safe_load(Path(base).read_text())
    for dotted, value in edit.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[leaf] = value
    f = tmp_path / "variant.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


@pytest.mark.parametrize(
    ("edit", "method", "needle"),
    [
        # a demand no 802.11ac MCS carries on one 160 MHz stream
        ({"user_groups.0.demand_bps": [6.5e6, 2.0e9]}, "exact", r"ue-1"),
        # fewer UAVs available than the demand needs
        ({"user_groups.0.demand_bps": [52e6], "fleet.stations": 1}, "exact", r"fleet\.stations"),
        # users no position in the volume can reach: they transmit at -40 dBm
        ({"radio.user_tx_power_dbm": -40.0}, "emtad", r"ue-\d+"),
    ],
)
def test_infeasible_inputs_name_users(
    tmp_path: Path, edit: dict[str, object], method: str, needle: str
) -> None:
    f = _variant(tmp_path, P004, edit)
    out = tmp_path / "out"
    r = skycell("plan", str(f), "--method", method, "--out", str(out))
    assert r.returncode == 2, r.stdout
    assert "Traceback" not in r.stderr
    assert re.search(needle, r.stderr), r.stderr
    assert not out.exists()
