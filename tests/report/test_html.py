"""The interactive HTML report: self-contained, the right layers, geometry that adds up."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import shapely

from skycell.plan.pipeline import plan_scenario, tune_deployment
from skycell.report.html import (
    ReportInputs,
    build_report_html,
    building_mesh,
    city_figure,
    write_report,
)
from skycell.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "small.yaml"


@pytest.fixture(scope="module")
def small_plan():  # type: ignore[no-untyped-def]
    sc = load_scenario(SMALL)
    city = sc.build_city()
    return sc, city, plan_scenario(sc, seed=0, city=city)


def test_report_is_one_offline_file(small_plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, city, outcome = small_plan
    path = write_report(outcome.deployment, tmp_path / "r.html", city=city, metrics=outcome.metrics)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external script, stylesheet, image or font in the markup (the
    # embedded plotly.js mentions URLs in strings, e.g. its logo link, but loads none)
    markup = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", text, flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup, re.I)
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", markup, re.I)
    assert "window.skycellFigures = 1;" in text and "plotly.js" in text
    assert len(text) > 3_000_000  # plotly.js itself is embedded
    # the tables carry the deployment's numbers
    assert "AOI satisfaction S_AOI (eq. 21)" in text
    s_aoi = outcome.deployment.metrics["aoi_satisfaction"]
    assert f"<td>{s_aoi:.3f}</td>" in text
    for st in outcome.deployment.stations:
        assert f"{st.position_m[0]:.1f}" in text


def test_building_mesh_walls_and_roofs_add_up(small_plan) -> None:  # type: ignore[no-untyped-def]
    _, city, _ = small_plan
    v, f, vh = building_mesh(city)
    b = city.buildings
    starts, _, _ = b.edges_m
    n_edges = starts.shape[0]
    assert v.shape[0] == 4 * n_edges + 3 * (f.shape[0] - 2 * n_edges)
    tri = v[f]  # (F, 3, 3)
    roofs = tri[2 * n_edges :]
    # every roof triangle is flat at its building's height, and the roofs tile the footprints
    assert np.allclose(roofs[:, :, 2], roofs[:, :1, 2])
    e1 = roofs[:, 1, :2] - roofs[:, 0, :2]
    e2 = roofs[:, 2, :2] - roofs[:, 0, :2]
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    assert area.sum() == pytest.approx(float(shapely.area(b.polygons).sum()), rel=1e-9)
    # walls reach from the ground to the roof: the L-shaped and triangular buildings included
    walls = tri[: 2 * n_edges]
    assert walls[:, :, 2].min() == 0.0
    assert set(np.round(np.unique(roofs[:, 0, 2]), 6)) == set(np.round(b.heights_m, 6))
    assert np.all((vh >= b.heights_m.min()) & (vh <= b.heights_m.max()))
    tall = b.heights_m > 60
    v2, _, _ = building_mesh(city, mask=tall, vertical_exaggeration=2.0)
    assert v2[:, 2].max() == pytest.approx(2.0 * b.heights_m[tall].max())


def test_city_figure_layers_and_menus(small_plan) -> None:  # type: ignore[no-untyped-def]
    _, city, outcome = small_plan
    fig = city_figure(outcome.deployment, city, outcome.metrics)
    names = [t.name for t in fig.data]
    ground = [t for t in fig.data if t.type == "surface"]
    assert [t.name for t in ground] == [
        "ground: path gain",
        "ground: SINR",
        "ground: serving station",
    ]
    assert [bool(t.visible) for t in ground] == [False, True, False]
    sinr, _ = outcome.metrics.sinr_map
    assert np.array_equal(np.asarray(ground[1].surfacecolor), sinr, equal_nan=True)
    serving = np.asarray(ground[2].surfacecolor)
    n = len(outcome.deployment.stations)
    assert set(np.unique(serving[np.isfinite(serving)]).astype(int)) <= set(range(n))
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == [
        "ground: path gain",
        "ground: SINR",
        "ground: serving station",
    ]
    for k, b in enumerate(menu.buttons):
        assert list(b.args[0]["visible"]) == [i == k for i in range(3)]
        assert list(b.args[1]) == [0, 1, 2]
    for needed in ("stations", "routes", "areas of interest", "antenna boresight"):
        assert needed in names
    st = next(t for t in fig.data if t.name == "stations")
    assert list(st.text) == [s.id for s in outcome.deployment.stations]
    # the small scenario lists four users: drawn, coloured by their strongest station
    users = next(t for t in fig.data if t.name == "users (by serving station)")
    assert len(users.x) == 4
    assert fig.layout.updatemenus[1].buttons[1].label == "users: by rate"


def test_user_driven_plan_colours_users_by_their_recorded_station(tmp_path: Path) -> None:
    sc = load_scenario(ROOT / "examples" / "paper004-scenario-a.yaml")
    city = sc.build_city()
    outcome = plan_scenario(sc, seed=0, city=city, method="fixed-users")
    dep = outcome.deployment
    fig = city_figure(dep, city, outcome.metrics)
    users = next(t for t in fig.data if t.name == "users (by serving station)")
    ids = {s.id: i for i, s in enumerate(dep.stations)}
    want = [ids[u.serving_station] for u in dep.users if u.serving_station]
    assert list(np.asarray(users.marker.color).astype(int)) == want
    rate = next(t for t in fig.data if t.name == "users (by rate)")
    got = np.asarray(rate.marker.color)
    assert np.allclose(got, [u.rate_bps / 1e6 for u in dep.users if u.serving_station])


def test_tuning_simulation_and_ns3_sections(small_plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sc, city, outcome = small_plan
    tuned, result, metrics = tune_deployment(outcome.deployment, sc, city, method="maxmin", seed=0)
    sim = tmp_path / "sir_per_area.csv"
    sim.write_text("step,t_s,market:plan,station:plan\n0,0,10.5,3.25\n1,1,11.5,2.75\n")
    ns3 = tmp_path / "ns3.json"
    ns3.write_text(
        json.dumps(
            {
                "deployments": [
                    {
                        "label": "plan",
                        "runs": 30,
                        "users": 4,
                        "stations": 3,
                        "offered_mbps": 8.5,
                        "throughput_mbps": {"p50": 8.25, "p90": 8.5},
                        "delay_ms": {"p50": 1.5, "p90": 2.5},
                        "loss_ratio_median": 0.01,
                    }
                ],
                "gains_over": {"rooftop": {"p50": 0.25}},
                "notes": [],
            }
        )
    )
    text = build_report_html(
        tuned,
        city=city,
        metrics=metrics,
        inputs=ReportInputs(simulation_csv=sim, ns3_json=ns3),
    )
    assert "window.skycellFigures = 3;" in text  # city, tuning loss, simulation
    assert "Antenna tuning (paper 000 §V-B)" in text and "Table VI shape" in text
    for k, change in enumerate(result.aoi_serving_change_db):
        assert f"<td>s{result.aoi_serving_after[k]}</td><td>{change:.3f}</td>" in text
    assert "Simulation over time" in text and "<td>market:plan</td><td>11.000</td>" in text
    assert "ns-3 validation" in text and "8.250 / 8.500" in text and "rooftop" in text


def test_user_text_is_escaped(small_plan) -> None:  # type: ignore[no-untyped-def]
    _, city, outcome = small_plan
    dep = outcome.deployment
    evil = dep.model_copy(
        update={
            "stations": [
                dep.stations[0].model_copy(update={"id": "<script>alert(1)</script>"}),
                *dep.stations[1:],
            ],
            "notes": ["<img src=x onerror=alert(1)>"],
        }
    )
    text = build_report_html(evil, city=city, metrics=outcome.metrics)
    assert "<script>alert(1)</script>" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_cli_plan_writes_the_report_and_report_rebuilds_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    def skycell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "skycell.cli", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
            check=False,
        )

    out = tmp_path / "plan"
    r = skycell("plan", str(SMALL), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["deployment.json", "plan.png", "report.html"]
    first = (out / "report.html").read_text()
    assert "window.skycellFigures = 1;" in first
    bare = tmp_path / "bare"
    r = skycell("plan", str(SMALL), "--out", str(bare), "--quiet", "--no-report")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in bare.iterdir()) == ["deployment.json", "plan.png"]
    again = tmp_path / "again.html"
    r = skycell("report", str(out / "deployment.json"), "--out", str(again))
    assert r.returncode == 0, r.stderr and "wrote" in r.stdout
    # rebuilt from deployment.json alone (city and metrics re-evaluated): the same station
    # table and metrics as the report written by plan
    table = re.compile(r"<section><h2>Stations</h2>.*?</section>", re.S)
    assert table.search(again.read_text()).group(0) == table.search(first).group(0)  # type: ignore[union-attr]
    bad = skycell("report", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
