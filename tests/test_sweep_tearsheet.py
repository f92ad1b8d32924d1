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
    results = pd.read_parquet(folder / "results.parquet")
    best = json.loads((folder / "summary.json").read_text())["top"][0]
    row = results.loc[best["row"]]
    assert curves["strategy"].iloc[-1] == pytest.approx(row["final_value"], rel=1e-9)
    assert curves["benchmark"].iloc[-1] == pytest.approx(row["benchmark_final_value"], rel=1e-9)


def test_the_distribution_marks_the_benchmark_and_the_heatmap_is_centred_on_it(folder):
    page = (folder / "tearsheet.html").read_text(encoding="utf-8")
    bench = pd.read_parquet(folder / "results.parquet")["benchmark_sharpe"].iloc[0]
    assert f"grey line: the benchmark, {bench:.3f}" in page
    assert "Colours centred on the benchmark" in page


def test_the_top_table_says_how_many_beat_the_benchmark(folder):
    page = (folder / "tearsheet.html").read_text(encoding="utf-8")
    summary = json.loads((folder / "summary.json").read_text())
    counts = summary["beats_benchmark"]
    expected = f"{counts['on_metric']:,} of 12 combinations beat the benchmark's Sharpe"
    assert html.escape(expected) in page
    assert "Benchmark Sharpe" in page and "Benchmark CAGR" in page
