"""The report in a real browser: headless Chromium (Debian's chromium + chromium-driver, installed
by scripts/ensure-chromium.sh) opens it offline, draws it without console errors, and its 3D
canvas is not blank. The default downtown's screenshot is the one the README shows
(``SKYCELL_SCREENSHOT_DIR=docs/images`` writes it there)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from skycell.report.browser import _BROWSERS, render_report

_BROWSER = next((shutil.which(b) for b in _BROWSERS if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    _BROWSER is None or shutil.which("chromedriver") is None,
    reason="Chromium and chromedriver are not installed: run scripts/ensure-chromium.sh "
    "(sudo apt-get install chromium chromium-driver)",
)

ROOT = Path(__file__).resolve().parents[2]

SWITCH_TO_SERVING = """
const gd = document.getElementById('plot-city');
const b = gd.layout.updatemenus[0].buttons[2];
return Plotly.restyle(gd, b.args[0], b.args[1]).then(() =>
    [gd.data[0].visible, gd.data[1].visible, gd.data[2].visible, b.label]);
"""


def _save(check_png: Path, name: str) -> None:
    target = os.environ.get("SKYCELL_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(check_png, Path(target) / name)


def test_default_downtown_report_renders_offline_without_errors(tmp_path: Path) -> None:
    from skycell.plan.pipeline import plan_scenario
    from skycell.report.html import write_report
    from skycell.scenario import default_scenario

    sc = default_scenario()
    city = sc.build_city()
    outcome = plan_scenario(sc, seed=0, city=city)
    html = write_report(
        outcome.deployment, tmp_path / "report.html", city=city, metrics=outcome.metrics
    )
    png = tmp_path / "report-default.png"
    check = render_report(html, screenshot=png, width_px=1400, height_px=900)
    assert check.figures == check.rendered == 1
    assert check.console_errors == [], check.console_errors
    assert check.canvas_count >= 1
    w, h = check.scene_box_px[2:]
    assert w > 800 and h > 500
    # the 3D scene is drawn: most of it is not the page background, and it has many colours
    # (grey buildings, red obstacles, the SINR ground, station colours)
    assert check.non_background_fraction > 0.12, check.non_background_fraction
    assert check.distinct_colors > 100, check.distinct_colors
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _save(png, "report-default.png")


def test_ground_layer_switch_redraws_the_scene(tmp_path: Path) -> None:
    from skycell.plan.pipeline import plan_scenario
    from skycell.report.html import write_report
    from skycell.scenario import load_scenario

    sc = load_scenario(ROOT / "examples" / "small.yaml")
    city = sc.build_city()
    outcome = plan_scenario(sc, seed=0, city=city)
    html = write_report(outcome.deployment, tmp_path / "r.html", city=city, metrics=outcome.metrics)
    sinr = render_report(html, screenshot=tmp_path / "sinr.png")
    served = render_report(
        html, screenshot=tmp_path / "serving.png", after_render_js=SWITCH_TO_SERVING
    )
    assert sinr.console_errors == [] and served.console_errors == []
    assert served.script_result == [False, False, True, "ground: serving station"]
    assert sinr.non_background_fraction > 0.12 and served.non_background_fraction > 0.12
    # a different ground layer is on screen: the pictures differ
    assert (tmp_path / "sinr.png").read_bytes() != (tmp_path / "serving.png").read_bytes()


def test_blank_page_is_detected_as_blank(tmp_path: Path) -> None:
    """The pixel measure can fail: an empty figure area scores (almost) nothing."""
    page = tmp_path / "blank.html"
    page.write_text(
        "<!DOCTYPE html><html><body style='margin:0;background:#fff'>"
        "<div id='plot-city' style='width:1000px;height:700px'></div>"
        "<script>window.skycellFigures = 1; window.skycellRendered = 1;</script></body></html>"
    )
    check = render_report(page, settle_s=0.2)
    assert check.non_background_fraction < 0.01 and check.distinct_colors <= 2
    assert check.console_errors == []
