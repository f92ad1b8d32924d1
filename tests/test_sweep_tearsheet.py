"""The sweep's tearsheet shows the benchmark (issue 13, item 1): the best combination's
equity curve against it, the benchmark marked in the metric's distribution, the heatmap
centred on it, and how many combinations beat it."""

from __future__ import annotations

import html
import json

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from tests.conftest import CONFIGS


@pytest.fixture(scope="module")
def folder(tmp_path_factory, shared_data):
    raw = yaml.safe_load((CONFIGS / "sweeps" / "breakout_grid.yaml").read_text())
    raw["data"] |= {"source": "csv", "dir": str(shared_data), "start": "2019-06-03"}
    raw["signals"]["ratio_breakout"] |= {"entry": [40, 120, 250], "exit": [20, 60]}
    raw["signals"]["eth_risk_on"] |= {"window": [50, 100]}
    base = tmp_path_factory.mktemp("sweep-page")
    path = base / "grid.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = base / "out"
    args = ["sweep", str(path), "--out", str(out), "--tearsheet", "--subperiods", "8"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out


def test_the_page_draws_the_best_against_the_benchmark(folder):
    page = (folder / "tearsheet.html").read_text(encoding="utf-8")
    assert (
        'id="chart-best"' in page and "The best combination against holding the benchmark" in page
    )
    curves = pd.read_csv(folder / "best_values.csv", keep_default_na=False)
    results = pd.read_parquet(folder / "results")
    best = json.loads((folder / "summary.json").read_text())["top"][0]
    row = results.loc[best["row"]]
    assert curves["strategy"].iloc[-1] == pytest.approx(row["final_value"], rel=1e-9)
    assert curves["benchmark"].iloc[-1] == pytest.approx(row["benchmark_final_value"], rel=1e-9)


def test_the_distribution_marks_the_benchmark_and_the_heatmap_is_centred_on_it(folder):
    page = (folder / "tearsheet.html").read_text(encoding="utf-8")
    bench = pd.read_parquet(folder / "results")["benchmark_sharpe"].iloc[0]
    assert f"grey line: the benchmark, {bench:.3f}" in page
    assert "Colours centred on the benchmark" in page


def test_the_top_table_says_how_many_beat_the_benchmark(folder):
    page = (folder / "tearsheet.html").read_text(encoding="utf-8")
    summary = json.loads((folder / "summary.json").read_text())
    counts = summary["beats_benchmark"]
    expected = f"{counts['on_metric']:,} of 12 combinations beat the benchmark's Sharpe"
    assert html.escape(expected) in page
    assert "Benchmark Sharpe" in page and "Benchmark CAGR" in page


def test_the_benchmark_line_lies_inside_the_distribution_range(folder):
    """Every combination's Sharpe lies below the benchmark's here: the x range is widened
    to hold its line (plotly's own range would end at the bars and hide it)."""
    from engine.report.tearsheet_multi import distribution_figure

    results = pd.read_parquet(folder / "results")
    bins = pd.read_csv(folder / "histogram.csv")
    bench = results["benchmark_sharpe"].iloc[0]
    assert results["sharpe"].max() < bench  # the case this test is about
    assert bins["combinations"].sum() == len(results)  # every combination counted once
    assert bins["low"].iloc[0] == results["sharpe"].min()
    assert bins["high"].iloc[-1] == results["sharpe"].max()
    figure = distribution_figure(bins, results["sharpe"].max(), (bench, bench), "Sharpe")
    low, high = figure.layout.xaxis.range
    assert low < results["sharpe"].min() and high > bench


def test_a_benchmark_inside_the_bars_leaves_the_range_to_plotly():
    from engine.report.tearsheet_multi import distribution_figure

    bins = pd.DataFrame({"low": [0.2, 0.5], "high": [0.5, 0.9], "combinations": [1, 2]})
    assert distribution_figure(bins, 0.9, (0.6, 0.6), "Sharpe").layout.xaxis.range is None
    low, high = distribution_figure(bins, 0.9, (-0.4, -0.3), "Sharpe").layout.xaxis.range
    assert low < -0.4 and 0.9 < high < 1.1  # a band, below every bar


def test_the_top_table_names_the_parameters_by_their_short_names(folder):
    page = (folder / "tearsheet.html").read_text(encoding="utf-8")
    head = page[page.index('<table id="table-top-1">') :].split("</thead>")[0]
    assert "<th>window</th><th>entry</th><th>exit</th>" in head  # the axes in the order swept
    assert "signals.ratio_breakout.entry" not in head
    assert "signals.ratio_breakout.entry: 40, 120, 250" in page  # the header says the full name
