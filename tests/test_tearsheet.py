"""Tearsheets: written by --tearsheet and `rotation tearsheet`, built only from the
folder's files, every number shown equal to the folder's statistics, plotly.js
inlined once, user text escaped, long series thinned without losing extremes."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.errors import RotationError
from engine.metrics import DISTRIBUTION_KEYS, METRICS, PERFORMANCE_KEYS, RELATIVE_KEYS
from engine.report import fmt
from engine.report import tearsheet_data as data
from engine.report import tearsheet_figures as figures
from engine.report.plots import CHART_WIDTH, visible_points
from engine.report.tearsheet import FILENAME, write_tearsheet
from tests.conftest import CONFIGS

READY = CONFIGS / "smallcap_breakout_eth.yaml"


def invoke(*args) -> object:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def spy_from_2005(folder: Path) -> Path:
    """The 20-year config: SPY only, from 2005 to the latest price."""
    raw = yaml.safe_load((CONFIGS / "spy.yaml").read_text())
    raw["name"] = "spy-20y"
    raw["data"] = {"source": "yfinance", "start": "2005-01-01"}
    path = folder / "spy_20y.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("tearsheet") / "run"
    result = invoke(
        "run", READY, "--data-dir", shared_data, "--out", out, "--tearsheet", "--bootstrap", 40
    )
    assert f"Tearsheet: {out / FILENAME}" in result.output
    return out


@pytest.fixture(scope="module")
def long_folder(tmp_path_factory, shared_data) -> Path:
    root = tmp_path_factory.mktemp("tearsheet20")
    out = root / "run"
    invoke("run", spy_from_2005(root), "--data-dir", shared_data, "--out", out, "--tearsheet")
    return out


class Cells(HTMLParser):
    """Text of every element carrying data-key, and of every cell of table `table_id`."""

    def __init__(self, table_id: str | None = None) -> None:
        super().__init__()
        self.keyed: dict[str, str] = {}
        self.table_id, self.in_table, self.cells = table_id, False, []
        self._key: str | None = None
        self._cell: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == self.table_id:
            self.in_table = True
        if "data-key" in attrs:
            self._key, self._text = attrs["data-key"], ""
        if self.in_table and tag == "td":
            self._cell = [attrs.get("class"), attrs.get("data-key"), ""]

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        if tag == "td" and self._cell is not None:
            self.cells.append(tuple(self._cell))
            self._cell = None
        if tag in ("td", "div", "span") and self._key is not None:
            self.keyed[self._key] = self._text
            self._key = None

    def handle_data(self, text):
        if self._key is not None:
            self._text += text
        if self._cell is not None:
            self._cell[2] += text


def parse(page: Path, table_id: str | None = None) -> Cells:
    cells = Cells(table_id)
    cells.feed(page.read_text(encoding="utf-8"))
    return cells


def expected_run_cells(stats: dict) -> dict[str, str]:
    """Every statistic of stats.json, formatted as the terminal table formats it."""
    out = {}
    for section in ("strategy", "benchmark"):
        for key in (*PERFORMANCE_KEYS, *DISTRIBUTION_KEYS):
            out[f"{section}.{key}"] = fmt(stats[section].get(key), METRICS[key].format)
    for key in RELATIVE_KEYS:
        out[f"relative.{key}"] = fmt(stats["relative"].get(key), METRICS[key].format)
    for regime, share in stats["strategy"]["time_in_regime"].items():
        out[f"strategy.time_in_regime.{regime}"] = fmt(share, "pct")
    return out


def test_every_number_of_the_statistics_table_is_stats_json_formatted(run_folder):
    stats = data.read_run(run_folder).stats
    expected = expected_run_cells(stats)
    page = parse(run_folder / FILENAME, "table-stats")
    shown = {key: text for _, key, text in page.cells if key}
    assert shown == expected  # every statistic present, each equal to the file's
    # no number in the table that is not tied to stats.json
    assert all(key for cls, key, _ in page.cells if cls == "num")
    # the headline cards beside the benchmark say the same (same keys, same text)
    assert page.keyed.keys() >= expected.keys()
    assert all(page.keyed[k] == v for k, v in expected.items())
    assert stats["strategy"]["cagr"] != stats["benchmark"]["cagr"]  # the check can fail


def test_page_is_one_offline_file_with_plotly_inlined_once(run_folder):
    from plotly.offline import get_plotlyjs

    text = (run_folder / FILENAME).read_text(encoding="utf-8")
    assert text.count(get_plotlyjs()) == 1
    own = text.replace(get_plotlyjs(), "")  # the page besides plotly.js loads nothing
    assert "<script src" not in own and "<link" not in own and "cdn.plot.ly" not in own
    charts = text.count('class="plotly-graph-div"')
    assert charts == text.count("Plotly.newPlot(") == 7  # equity, 2 signals, weights, ...
    assert not [p for p in run_folder.iterdir() if p.name.startswith(f".{FILENAME}")]


def test_header_trades_and_config_come_from_the_folder(run_folder):
    run = data.read_run(run_folder)
    text = (run_folder / FILENAME).read_text(encoding="utf-8")
    assert run.manifest["config_sha256"] in text
    assert "2018-03-01 → 2025-06-30 (1,843 trading days)" in text
    assert "Overweight small caps when IWM/SPY breaks out" in text
    titles = text.replace("\\u002f", "/")  # chart titles sit in the figures' JSON
    assert "ratio_breakout: IWM/SPY breakout channel (entry 120, exit 60)" in titles
    assert "eth_risk_on: ETH-USD against its 100-day SMA" in titles
    trades = parse(run_folder / FILENAME, "table-trades-strategy").cells
    strategy = run.trades[run.trades["portfolio"] == "strategy"]
    assert len(trades) == 7 * len(strategy)  # six fields and the reason
    assert [c[2] for c in trades[:6]] == [
        strategy["date"].iloc[0],
        strategy["ticker"].iloc[0],
        *(fmt(strategy[c].iloc[0], k) for c, k in
          (("quantity", "num"), ("fill_price", "num"), ("value", "money"), ("fees", "money"))),
    ]  # fmt: skip
    assert "when: ratio_breakout and eth_risk_on" in text  # the resolved config, verbatim


def test_display_series_agree_with_stats_json(run_folder):
    run = data.read_run(run_folder)
    stats, cash = run.stats, run.initial_cash
    drawdown = data.drawdowns(run.values, cash)
    monthly = data.period_returns(run.values, cash, "month")
    yearly = data.period_returns(run.values, cash, "year")
    for side in ("strategy", "benchmark"):
        assert drawdown[side].min() == pytest.approx(stats[side]["max_drawdown"], abs=1e-12)
        for table in (monthly, yearly):
            compounded = (1 + table[side]).prod() - 1
            assert compounded == pytest.approx(stats[side]["total_return"], rel=1e-10)
    rolling = data.rolling_year(run.values, cash, run.periods, run.risk_free)
    assert list(rolling) == ["1-year return", "1-year volatility (ann.)", "1-year Sharpe"]
    assert rolling["1-year Sharpe"].index[0] == run.values.index[run.periods - 1]
    whole = data.rolling_year(run.values, cash, len(run.values), run.risk_free)
    # a window as long as the run, annualised by P, is the run's own statistic
    p = run.periods / len(run.values)
    assert whole["1-year volatility (ann.)"]["strategy"].iloc[0] == pytest.approx(
        stats["strategy"]["volatility"] / np.sqrt(p), rel=1e-12
    )
    assert whole["1-year return"]["strategy"].iloc[0] == pytest.approx(
        stats["strategy"]["total_return"], rel=1e-12
    )


def test_rebuild_from_the_folder_gives_the_same_page(run_folder):
    before = (run_folder / FILENAME).read_bytes()
    result = invoke("tearsheet", run_folder)
    assert result.output.strip() == f"Tearsheet: {run_folder / FILENAME}"
    assert (run_folder / FILENAME).read_bytes() == before


def test_json_output_stays_json_with_the_path_on_stderr(tmp_path, shared_data):
    import json

    out = tmp_path / "run"
    spy = CONFIGS / "spy.yaml"
    result = invoke("run", spy, "--data-dir", shared_data, "--out", out, "--json", "--tearsheet")
    assert json.loads(result.stdout)["strategy"]["cagr"] > 0
    assert result.stderr.splitlines() == [f"Run folder: {out}", f"Tearsheet: {out / FILENAME}"]
    assert "no signals" in (out / FILENAME).read_text(encoding="utf-8")


def test_user_text_is_escaped(run_folder, tmp_path):
    copy = Path(shutil.copytree(run_folder, tmp_path / "copy"))
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["description"] = '<script>alert("x")</script> & <b>bold</b>'
    (copy / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    text = write_tearsheet(copy).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold" in text
    assert '<script>alert("x")' not in text and "<b>bold" not in text


def test_a_folder_made_before_signals_csv_still_gets_a_page(run_folder, tmp_path):
    copy = Path(shutil.copytree(run_folder, tmp_path / "old"))
    (copy / "signals.csv").unlink()
    text = write_tearsheet(copy).read_text(encoding="utf-8")
    assert "has no signals.csv" in text and 'id="chart-signal-aligned"' in text


def test_the_bootstrap_intervals_are_bootstrap_json_formatted(run_folder, long_folder):
    import json

    boot = json.loads((run_folder / "bootstrap.json").read_text(encoding="utf-8"))
    shown = parse(run_folder / FILENAME).keyed
    expected = {"bootstrap.beats_benchmark": fmt(boot["beats_benchmark"], "pct")}
    for side in ("strategy", "benchmark"):
        for key in ("cagr", "sharpe", "max_drawdown", "total_return"):
            for q in ("p05", "p50", "p95"):
                value = fmt(boot[side][key][q], METRICS[key].format)
                expected[f"bootstrap.{side}.{key}.{q}"] = value
    assert {k: v for k, v in shown.items() if k.startswith("bootstrap.")} == expected
    assert 'href="#bootstrap"' in (run_folder / FILENAME).read_text(encoding="utf-8")
    assert not (long_folder / "bootstrap.json").exists()  # without --bootstrap: no section
    assert 'id="bootstrap"' not in (long_folder / FILENAME).read_text(encoding="utf-8")


def test_a_folder_of_no_known_kind_is_a_one_line_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / "lone").mkdir()
    (tmp_path / "lone" / "stats.json").write_text("{}")  # a run's marker and nothing else
    cases = {
        tmp_path: "not a folder rotation wrote",
        tmp_path / "nope": "no such folder",
        tmp_path / "notes.txt": "is a file, not a folder",
        tmp_path / "lone": "stats.json: strategy: missing; the run folder was changed",
    }
    for folder, says in cases.items():
        result = CliRunner().invoke(main, ["tearsheet", str(folder)])
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {folder}{'/' * (says[0] == 's')}")
        assert says in lines[0]
    assert not (tmp_path / FILENAME).exists() and not (tmp_path / "lone" / FILENAME).exists()


def test_a_failed_write_leaves_the_old_page_and_no_temp_file(run_folder, tmp_path, monkeypatch):
    copy = Path(shutil.copytree(run_folder, tmp_path / "copy"))
    before = (copy / FILENAME).read_bytes()

    def broken(*_):
        raise OSError("disk full")

    monkeypatch.setattr("engine.report.tearsheet.os.replace", broken)
    with pytest.raises(RotationError, match="tearsheet.html: cannot write it \\(disk full\\)"):
        write_tearsheet(copy)
    assert (copy / FILENAME).read_bytes() == before
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in run_folder.iterdir())


def test_visible_points_keep_every_extreme_and_the_ends():
    rng = np.random.default_rng(0)
    short = rng.normal(size=3 * CHART_WIDTH)
    assert np.array_equal(visible_points(short), np.arange(len(short)))
    y = np.cumsum(rng.normal(size=20_000))
    y[:500] = np.nan  # a gap before a series starts stays a gap
    keep = visible_points(y)
    assert len(keep) <= 2 * CHART_WIDTH + 2 and keep[0] == 0 and keep[-1] == len(y) - 1
    assert np.all(np.diff(keep) > 0)
    assert np.nanmin(y[keep]) == np.nanmin(y) and np.nanmax(y[keep]) == np.nanmax(y)
    edges = np.linspace(0, len(y), CHART_WIDTH + 1).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):  # each pixel's range is drawn
        part, drawn = y[lo:hi], y[keep[(keep >= lo) & (keep < hi)]]
        if np.isfinite(part).any():
            assert np.nanmin(drawn) == np.nanmin(part) and np.nanmax(drawn) == np.nanmax(part)


def test_twenty_year_run_is_thinned_where_the_eye_cannot_see(long_folder):
    run = data.read_run(long_folder)
    assert len(run.values) > 5000  # 2005 to the latest price
    page = long_folder / FILENAME
    size = page.stat().st_size
    from plotly.offline import get_plotlyjs

    own = size - len(get_plotlyjs().encode())
    print(f"20-year page: {size / 1e6:.2f} MB ({own / 1e6:.2f} MB besides plotly.js)")
    assert own < 1_500_000
    drawdown = data.drawdowns(run.values, run.initial_cash)
    figure = figures.equity_figure(run.dates, run.values, drawdown, {"strategy": "s",
                                   "benchmark": "b"}, data.regime_runs(run))  # fmt: skip
    for trace in figure.data:
        if trace.y is not None and len(trace.y) > 1:
            assert len(trace.y) <= 2 * CHART_WIDTH + 2
    lowest = min(np.nanmin(t.y) for t in figure.data if t.yaxis == "y2")
    assert lowest == pytest.approx(run.stats["strategy"]["max_drawdown"], abs=1e-12)
    highest = max(np.nanmax(t.y) for t in figure.data if t.yaxis == "y" and t.y[0] is not None)
    assert highest == run.values.to_numpy().max()


@pytest.fixture(scope="module")
def comparison_folder(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("tearsheet-compare") / "cmp"
    spy = CONFIGS / "spy.yaml"
    invoke("compare", READY, spy, "--data-dir", shared_data, "--out", out, "--tearsheet")
    return out


def test_comparison_page_numbers_equal_comparison_json(comparison_folder):
    folder = data.read_comparison(comparison_folder)
    payload = folder.comparison
    page = parse(comparison_folder / FILENAME, "table-comparison")
    shown = {key: text for _, key, text in page.cells if key}
    expected = {
        f"{column}|{key}": fmt(payload["statistics"][column].get(key), METRICS[key].format)
        for key in METRICS
        for column in payload["columns"]
    }
    assert shown == expected
    text = (comparison_folder / FILENAME).read_text(encoding="utf-8")
    for chart in ("chart-equity", "chart-drawdowns", "chart-yearly"):
        assert f'id="{chart}"' in text
    columns = payload["columns"]
    cash = [data.implied_initial_cash(payload["statistics"][c]) for c in columns]
    drawdown = data.drawdowns(folder.values[columns], cash)
    for column in columns:
        deepest = payload["statistics"][column]["max_drawdown"]
        assert drawdown[column].min() == pytest.approx(deepest, abs=1e-12)


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("tearsheet-sweep") / "sweep"
    grid = CONFIGS / "sweeps" / "weights_costs.yaml"
    invoke("sweep", grid, "--data-dir", shared_data, "--out", out, "--tearsheet", "--top", "3")
    return out


def test_sweep_page_shows_the_heatmap_and_the_top_rows_of_the_results(sweep_folder):
    folder = data.read_sweep(sweep_folder)
    summary = folder.summary
    results = pd.read_parquet(sweep_folder / "results")  # the page reads top.parquet
    page = parse(sweep_folder / FILENAME, "table-top-1")
    shown = {key: text for _, key, text in page.cells if key}
    assert len(summary["top"]) == 3
    for top in summary["top"]:
        for column in ("cagr", "max_drawdown", "trade_dates", summary["metric"]):
            kind = METRICS[column].format
            assert shown[f"top|{top['row']}|{column}"] == fmt(results.loc[top["row"], column], kind)
    text = (sweep_folder / FILENAME).read_text(encoding="utf-8")
    assert 'id="chart-heatmap"' in text and 'id="chart-histogram"' in text
    assert pd.notna(results[summary["metric"]]).all()


def page_ids(page: Path) -> list[str]:
    import re

    return re.findall(r'\sid="([^"]*)"', page.read_text(encoding="utf-8"))


def test_every_id_of_a_page_is_unique(run_folder, comparison_folder, sweep_folder):
    """An anchor, a table or a chart names one element (issue 18: the sweep page had a
    section and a table both id="top")."""
    for folder in (run_folder, comparison_folder, sweep_folder):
        ids = page_ids(folder / FILENAME)
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        assert ids and repeated == [], (folder.name, repeated)


def test_the_top_tables_are_found_inside_the_top_section(sweep_folder):
    page = (sweep_folder / FILENAME).read_text(encoding="utf-8")
    section = page[page.index('<section id="top">') :].split("</section>")[0]
    assert '<table id="table-top-1">' in section
