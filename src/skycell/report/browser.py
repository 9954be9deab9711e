"""Open a report in headless Chromium: did it render, without console errors, and what it shows.

Used by the test suite (the report must render offline, with no console error, and its 3D
canvas must not be blank) and by ``skycell report --screenshot PNG``. It drives the system's
Chromium through its chromedriver with Selenium (no browser is downloaded): on Debian,
``apt-get install chromium chromium-driver`` (``scripts/ensure-chromium.sh``). Chromium runs
headless, sandbox-free, with software WebGL (SwiftShader) and every background network feature
off, in a fresh profile that is removed afterwards; the page is a ``file://`` URL and needs no
network.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skycell.errors import SkycellError

__all__ = ["RenderCheck", "chromium_available", "render_report"]

#: Chromium flags: headless, no sandbox (containers run as root), software WebGL, no network.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--hide-scrollbars",
)
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _which(names: tuple[str, ...], env: str) -> str | None:
    given = os.environ.get(env)
    if given and Path(given).is_file():
        return given
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


def chromium_available() -> tuple[bool, str]:
    """Whether Chromium, its chromedriver and Selenium are installed (and, if not, why and what
    to install). ``SKYCELL_CHROMIUM`` / ``SKYCELL_CHROMEDRIVER`` override the paths."""
    browser = _which(_BROWSERS, "SKYCELL_CHROMIUM")
    driver = _which(("chromedriver",), "SKYCELL_CHROMEDRIVER")
    missing = []
    if browser is None:
        missing.append("chromium")
    if driver is None:
        missing.append("chromium-driver (chromedriver)")
    if missing:
        return False, (
            f"{' and '.join(missing)} not found; install with `sudo apt-get install chromium "
            "chromium-driver` (scripts/ensure-chromium.sh)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False, "selenium is not installed; pip install selenium"
    return True, f"{browser} with {driver}"


@dataclass
class RenderCheck:
    """What the browser saw.

    Attributes:
        figures: plotly figures the page declares.
        rendered: figures drawn (plotly's promise resolved).
        console_errors: console messages at level SEVERE (errors), with their text.
        console_warnings: the other console messages.
        canvas_count: WebGL/2D canvases in the page.
        scene_box_px: ``(x, y, w, h)`` of the 3D figure in the screenshot [CSS px].
        non_background_fraction: share of the 3D figure's pixels that differ from the page
            background by more than 8 levels in some channel.
        distinct_colors: distinct colours (quantised to 4 bits per channel) there.
        screenshot: the PNG written, if any.
        load_s: seconds from navigation until every figure was drawn.
        script_result: what ``after_render_js`` returned.
    """

    figures: int
    rendered: int
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    canvas_count: int = 0
    scene_box_px: tuple[int, int, int, int] = (0, 0, 0, 0)
    non_background_fraction: float = 0.0
    distinct_colors: int = 0
    screenshot: Path | None = None
    load_s: float = 0.0
    script_result: Any = None


def render_report(
    html_path: str | os.PathLike[str],
    *,
    screenshot: str | os.PathLike[str] | None = None,
    width_px: int = 1400,
    height_px: int = 1000,
    timeout_s: float = 120.0,
    settle_s: float = 1.5,
    after_render_js: str | None = None,
) -> RenderCheck:
    """Load a report in headless Chromium, wait until every figure is drawn, collect console
    messages, measure the 3D figure's pixels and optionally save a screenshot (PNG).

    ``after_render_js``: JavaScript run once every figure is drawn (e.g. what a menu button does:
    ``Plotly.restyle(...)``); if it returns a promise, the measurement waits for it. Its return
    value is kept in :attr:`RenderCheck.script_result`.

    Raises:
        SkycellError: Chromium/Selenium missing, or the page did not finish drawing within
            ``timeout_s``.
    """
    ok, why = chromium_available()
    if not ok:
        raise SkycellError(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    path = Path(html_path).resolve()
    if not path.is_file():
        raise SkycellError(f"report not found: {path}")
    browser = _which(_BROWSERS, "SKYCELL_CHROMIUM")
    driver_path = _which(("chromedriver",), "SKYCELL_CHROMEDRIVER")
    assert browser is not None and driver_path is not None
    profile = tempfile.mkdtemp(prefix="skycell-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width_px},{height_px}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv: Any = None
    try:
        drv = webdriver.Chrome(service=Service(driver_path), options=options)
        drv.set_page_load_timeout(timeout_s)
        drv.set_script_timeout(timeout_s)
        t0 = time.perf_counter()
        drv.get(path.as_uri())
        figures = int(drv.execute_script("return window.skycellFigures || 0"))
        rendered = 0
        while time.perf_counter() - t0 < timeout_s:
            rendered = int(drv.execute_script("return window.skycellRendered || 0"))
            if figures and rendered >= figures:
                break
            time.sleep(0.1)
        load_s = time.perf_counter() - t0
        if rendered < figures:
            raise SkycellError(
                f"the report drew {rendered} of {figures} figures within {timeout_s:g} s"
            )
        time.sleep(settle_s)  # let WebGL finish its frames
        check = RenderCheck(figures=figures, rendered=rendered, load_s=load_s)
        if after_render_js is not None:
            check.script_result = drv.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                f"Promise.resolve((function(){{ {after_render_js} }})())"
                ".then(v => done(v === undefined ? null : v), e => done('error: ' + e));"
            )
            time.sleep(settle_s)
        for entry in drv.get_log("browser"):
            text = f"{entry.get('level')}: {entry.get('message')}"
            (
                check.console_errors if entry.get("level") == "SEVERE" else check.console_warnings
            ).append(text)
        check.canvas_count = int(
            drv.execute_script("return document.querySelectorAll('canvas').length")
        )
        box = drv.execute_script(
            "const e = document.querySelector('#plot-city .svg-container') || "
            "document.getElementById('plot-city'); if (!e) return null; "
            "e.scrollIntoView({block: 'start'}); const r = e.getBoundingClientRect(); "
            "return [r.left, r.top, r.width, r.height, window.devicePixelRatio];"
        )
        time.sleep(0.3)
        png = drv.get_screenshot_as_png()
        if box is not None:
            x, y, w, h = (round(float(v)) for v in box[:4])
            check.scene_box_px = (x, y, w, h)
            frac, colors = _pixels(png, box)
            check.non_background_fraction = frac
            check.distinct_colors = colors
        if screenshot is not None:
            out = Path(screenshot)
            out.parent.mkdir(parents=True, exist_ok=True)
            from skycell.fileio import atomic_write

            atomic_write(out, lambda tmp: Path(tmp).write_bytes(png), suffix=".png")
            check.screenshot = out
        return check
    finally:
        if drv is not None:
            drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _pixels(png: bytes, box: list[float]) -> tuple[float, int]:
    """Share of non-background pixels and distinct colours inside ``box`` of a PNG screenshot."""
    import io

    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png), format="png")  # float RGBA in [0, 1]
    dpr = float(box[4]) if len(box) > 4 and box[4] else 1.0
    x, y, w, h = (round(float(v) * dpr) for v in box[:4])
    x0, y0 = max(x, 0), max(y, 0)
    crop = np.asarray(img[y0 : max(y0, y + h), x0 : max(x0, x + w), :3] * 255.0)
    if crop.size == 0:
        return 0.0, 0
    bg = np.median(crop[: max(1, crop.shape[0] // 50)].reshape(-1, 3), axis=0)  # top rows
    diff = np.abs(crop - bg).max(axis=-1) > 8.0
    q = (crop.astype(np.int64) >> 4).reshape(-1, 3)
    codes = (q[:, 0] << 8) | (q[:, 1] << 4) | q[:, 2]
    return float(diff.mean()), int(np.unique(codes).size)
