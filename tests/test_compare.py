"""`rotation compare`: common range, shared data, sorting, outputs, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource
from engine.research.compare import SharedSource, compare, sort_columns
from tests.conftest import CONFIGS


class CountingSource(CsvSource):
    def __init__(self, directory):
        super().__init__(directory)
        self.calls: list[list[str]] = []

    def load(self, tickers):
        self.calls.append(list(tickers))
        return super().load(tickers)


def _late_spy(tmp_path, shared_data):
    raw = yaml.safe_load((CONFIGS / "spy.yaml").read_text())
    raw["name"] = "spy-late"
    raw["data"] |= {"start": "2020-03-02", "end": "2026-01-30"}
    path = tmp_path / "spy_late.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shared_source_loads_each_ticker_once(shared_data):
    counting = CountingSource(shared_data)
    shared = SharedSource(counting)
    shared.load(["SPY", "IWM"])
    shared.load(["IWM", "SPY", "ETH-USD"])
    assert counting.calls == [["SPY", "IWM"], ["ETH-USD"]]


def test_compare_runs_every_config_on_the_common_range(tmp_path, shared_data):
    paths = [CONFIGS / "smallcap_breakout_eth.yaml", _late_spy(tmp_path, shared_data)]
    configs = [load_config(p, source="csv", dir=str(shared_data)) for p in paths]
    result = compare(configs)
    # latest first date (2020-03-02) and earliest last date (2025-06-30)
    assert (result.start.date().isoformat(), result.end.date().isoformat()) == (
        "2020-03-02",
        "2025-06-30",
    )
    for run in result.results:
        assert run.dates[0] == result.start and run.dates[-1] == result.end
    # one benchmark column: both configs have the same SPY benchmark and costs
    assert list(result.table().columns) == ["smallcap-breakout-eth", "spy-late", "benchmark SPY:1"]


def test_sort_orders_configs_best_first_and_keeps_benchmarks_last():
    table = pd.DataFrame(
        {"a": [0.5, 0.2], "b": [0.9, 0.1], "benchmark SPY:1": [0.7, 0.15]},
        index=["sharpe", "volatility"],
    )
    assert list(sort_columns(table, ["a", "b"], "sharpe").columns) == ["b", "a", "benchmark SPY:1"]
    # lower volatility is better
    assert list(sort_columns(table, ["a", "b"], "volatility").columns)[:2] == ["b", "a"]


def test_compare_cli_writes_tables_and_values(tmp_path, shared_data):
    out = tmp_path / "cmp"
    args = [
        "compare",
        str(CONFIGS / "smallcap_breakout_eth.yaml"),
        str(CONFIGS / "spy.yaml"),
        "--data-dir",
        str(shared_data),
        "--sort",
        "sharpe",
        "--out",
        str(out),
        "--json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["range"] == {"start": "2018-01-02", "end": "2025-06-30"}
    assert payload["columns"][0] == "spy"  # higher Sharpe first
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.csv",
        "comparison.json",
        "comparison.md",
        "manifest.json",
        "values.csv",
    ]
    values = pd.read_csv(out / "values.csv")
    assert list(values.columns) == ["date", "spy", "smallcap-breakout-eth", "benchmark SPY:1"]
    single = json.loads(
        (
            CliRunner().invoke(
                main,
                [
                    "run",
                    str(CONFIGS / "spy.yaml"),
                    "--data-dir",
                    str(shared_data),
                    "--out",
                    str(tmp_path / "single"),
                    "--json",
                ],
            )
        ).output
    )
    assert payload["statistics"]["spy"]["sharpe"] == pytest.approx(
        single["strategy"]["sharpe"], rel=1e-12
    )


def test_one_broken_config_stops_compare_before_any_work(tmp_path, shared_data):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nuniverse: [SPY]\n")
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(CONFIGS / "spy.yaml"),
            str(broken),
            "--data-dir",
            str(shared_data),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2
    assert str(broken) in result.output and "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == [broken]


def test_unknown_sort_metric_is_rejected_up_front(shared_data):
    result = CliRunner().invoke(
        main,
        ["compare", str(CONFIGS / "spy.yaml"), "--sort", "shrpe", "--data-dir", str(shared_data)],
    )
    assert result.exit_code == 2 and "--sort shrpe" in result.output


def test_configs_on_different_calendars_compare_on_the_union_of_dates(tmp_path, shared_data):
    crypto = tmp_path / "btc.yaml"
    crypto.write_text(
        "name: btc\n"
        "data: {source: csv, dir: unused, start: 2019-01-01, end: 2019-12-31}\n"
        "universe: [BTC-USD]\n"
        "regimes: [{name: hold, weights: {BTC-USD: 1.0}}]\n"
        "benchmark: {BTC-USD: 1.0}\n"
    )
    configs = [
        load_config(p, source="csv", dir=str(shared_data)) for p in (crypto, CONFIGS / "spy.yaml")
    ]
    result = compare(configs)
    values = result.values()
    saturday = pd.Timestamp("2019-06-01")
    assert values.loc[saturday, "btc"] > 0 and pd.isna(values.loc[saturday, "spy"])
    assert values["spy"].count() == len(result.results[1].dates)
