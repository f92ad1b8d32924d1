"""Tearsheets as a person sees them: each page opened in a real headless Chromium
(Debian's chromium and chromium-driver, driven by selenium), no JavaScript error,
every chart rendered with something drawn in it, nothing fetched from outside,
the log-scale button working; a full-page screenshot is saved and its path, the
page's size and its load time are printed.

Skips, saying why, when chromium, chromedriver or selenium is missing
(.ci/run installs them)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.report.tearsheet import FILENAME
from tests.conftest import CONFIGS

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
)  # fmt: skip
# Installed before the page's own scripts run: every error and rejected promise is kept.
CATCH_ERRORS = """
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('unhandledrejection',
    e => window.__errors.push('unhandled rejection: ' + String(e.reason)));
"""
# Per chart: traces plotly knows of, data marks actually painted (a line or area path
# with a real outline, a bar, a heatmap's image), and the size of the drawing.
CHARTS = """
const painted = gd => [
  ...Array.from(gd.querySelectorAll('.cartesianlayer path.js-line, .cartesianlayer path.js-fill,'
                                   + ' .cartesianlayer .bars .point path'))
     .filter(p => (p.getAttribute('d') || '').length > 10),
  ...Array.from(gd.querySelectorAll('.cartesianlayer g.hm image'))
     .filter(i => (i.getAttribute('href') || i.getAttribute('xlink:href') || '').length > 100),
].length;
return Array.from(document.querySelectorAll('.plotly-graph-div')).map(gd => {
  const svg = gd.querySelector('.main-svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {id: gd.id, traces: gd._fullData ? gd._fullData.length : 0, drawn: painted(gd),
          width: box.width, height: box.height};
});
"""
OUTSIDE = """
return performance.getEntriesByType('resource').map(r => r.name)
  .filter(n => !n.startsWith('file:') && !n.startsWith('data:') && !n.startsWith('blob:'));
"""


def _binary(names) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')"
    )
    binary, driver_path = _binary(BROWSERS), _binary(["chromedriver"])
    if binary is None or driver_path is None:
        pytest.skip(
            "no headless browser: install Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver; .ci/run does it as root)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="tearsheet-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_ERRORS})
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _invoke(*args) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)


TEN_WEEKLY = {  # a ranked config: ten candidates, weekly decisions, 17 years
    "name": "ten-weekly",
    "data": {"source": "csv", "start": "2008-07-01", "end": "2025-06-30"},
    "universe": ["SPY", "QQQ", "IWM", "EFA", "EEM", "VNQ", "GLD", "TLT", "DBC", "IEF", "SHY"],
    "signals": {"spy_trend": {"type": "sma", "series": "SPY", "window": 200}},
    "scores": {"mom6": {"type": "momentum", "lookback": 126}},
    "regimes": [
        {
            "name": "risk_on",
            "when": "spy_trend",
            "rank": {
                "assets": ["SPY", "QQQ", "IWM", "EFA", "EEM", "VNQ", "GLD", "TLT", "DBC", "IEF"],
                "score": "mom6",
                "top": 3,
                "weighting": "inverse_vol",
                "vol_window": 63,
                "min_score": 0,
                "fallback": "SHY",
            },
        },
        {"name": "risk_off", "rank": {"assets": ["TLT", "IEF", "SHY"], "score": "mom6", "top": 1}},
    ],
    "execution": {"decide": "weekly", "fees_bps": 2, "slippage_bps": 1},
}


@pytest.fixture(scope="module")
def pages(tmp_path_factory, shared_data) -> dict[str, Path]:
    """One page of each kind, the 20-year run (SPY only, 2005 to the latest price) and a
    ranked run (ten candidates decided weekly over 17 years)."""
    import yaml

    root = tmp_path_factory.mktemp("browser")
    ready, spy = CONFIGS / "smallcap_breakout_eth.yaml", CONFIGS / "spy.yaml"
    raw = yaml.safe_load(spy.read_text())
    raw.update(name="spy-20y", data={"source": "yfinance", "start": "2005-01-01"})
    long = root / "spy_20y.yaml"
    long.write_text(yaml.safe_dump(raw))
    data = ("--data-dir", shared_data, "--tearsheet")
    _invoke("run", ready, "--out", root / "run", *data)
    _invoke("run", long, "--out", root / "run20", *data)
    ranked = root / "ten_weekly.yaml"
    ranked.write_text(yaml.safe_dump(TEN_WEEKLY))
    _invoke("run", ranked, "--out", root / "ranked", *data)
    _invoke("compare", ready, spy, "--out", root / "compare", *data)
    grid = CONFIGS / "sweeps" / "weights_costs.yaml"
    _invoke("sweep", grid, "--out", root / "sweep", *data)
    wide = CONFIGS / "sweeps" / "breakout_grid.yaml"  # three long parameter names
    _invoke("sweep", wide, "--out", root / "sweep-wide", *data)
    kinds = ("run", "run20", "ranked", "compare", "sweep", "sweep-wide")
    return {kind: root / kind / FILENAME for kind in kinds}


def _open(browser, page: Path) -> float:
    """Load the page; seconds from navigation until every chart is drawn."""
    browser.get_log("browser")  # drop what earlier pages logged
    began = time.perf_counter()
    browser.get(page.as_uri())
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const all = Array.from(document.querySelectorAll('.plotly-graph-div'));"
        "const wait = () => all.every(gd => gd._fullLayout && gd.querySelector('.main-svg'))"
        "  ? done() : setTimeout(wait, 20); wait();"
    )
    return time.perf_counter() - began


def _screenshot(browser, page: Path, name: str, shots: Path) -> Path:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 40, 12000))
    time.sleep(0.3)  # charts are responsive: let them settle at the new size
    path = shots / f"{name}.png"
    assert browser.save_screenshot(str(path))
    browser.set_window_size(1400, 1000)
    return path


@pytest.mark.parametrize(
    ("kind", "charts"),
    [
        ("run", ["equity", "signal-0", "signal-1", "weights", "rolling", "monthly", "yearly"]),
        ("run20", ["equity", "weights", "rolling", "monthly", "yearly"]),
        (
            "ranked",
            ["equity", "signal-0", "rank-0", "rank-1", "weights", "rolling", "monthly", "yearly"],
        ),
        ("compare", ["equity", "drawdowns", "yearly"]),
        ("sweep", ["best", "heatmap", "histogram"]),
    ],
)
def test_page_renders_in_a_real_browser(browser, pages, kind, charts, tmp_path_factory, capsys):
    page = pages[kind]
    seconds = _open(browser, page)
    errors = browser.execute_script("return window.__errors")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [] and severe == []
    drawn = browser.execute_script(CHARTS)
    assert [c["id"] for c in drawn] == [f"chart-{c}" for c in charts]
    for chart in drawn:  # every chart has its traces, something drawn, and a real size
        assert chart["traces"] > 0 and chart["drawn"] > 0, chart
        assert chart["width"] > 600 and chart["height"] > 200, chart
    assert browser.execute_script(OUTSIDE) == []  # opens offline: nothing fetched
    shot = _screenshot(browser, page, kind, tmp_path_factory.mktemp("screenshots"))
    with capsys.disabled():
        print(
            f"\n{kind} tearsheet: {page.stat().st_size / 1e6:.2f} MB, charts drawn "
            f"{seconds:.2f} s after navigation; screenshot {shot}"
        )


def test_the_error_catcher_catches(browser, tmp_path):
    """The no-error assertions above can fail: a throwing script is seen."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>throw new Error('boom')</script></body></html>")
    browser.get(page.as_uri())
    assert any("boom" in e for e in browser.execute_script("return window.__errors"))


def test_log_button_switches_the_equity_axis(browser, pages):
    _open(browser, pages["run"])
    layout = "return document.getElementById('chart-equity').layout.yaxis.type"
    assert browser.execute_script(layout) in ("linear", "-", None)
    buttons = browser.find_elements("css selector", "#chart-equity .updatemenu-button")
    [log] = [b for b in buttons if b.text == "Log"]
    log.click()
    time.sleep(0.2)
    assert browser.execute_script(layout) == "log"
    assert browser.execute_script("return window.__errors") == []


@pytest.mark.parametrize("kind", ["sweep", "sweep-wide"])
def test_the_sweep_top_table_fits_a_1400_pixel_window(browser, pages, kind):
    """The top combinations table ends inside the 1400-pixel window and the page never
    scrolls sideways (long parameter names are shown by their short names)."""
    _open(browser, pages[kind])
    box = browser.execute_script(
        "const tables = Array.from(document.querySelectorAll('#top table'));"
        "const d = document.documentElement;"
        "return {right: Math.max(...tables.map(t => t.getBoundingClientRect().right)),"
        "        tables: tables.length, client: d.clientWidth, scroll: d.scrollWidth};"
    )
    assert box["tables"] >= 1 and box["client"] <= 1400
    assert box["right"] <= box["client"] and box["scroll"] <= box["client"], box
