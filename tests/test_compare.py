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
from engine.metrics import metric
from engine.report import fmt
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
    payload = json.loads(result.stdout)  # warnings go to stderr
    assert payload["range"] == {"start": "2018-03-01", "end": "2025-06-30"}
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
        ).stdout
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


# ---------------------------------------------------------------- terminal table, window, page

READY = [
    CONFIGS / f"{name}.yaml"
    for name in (
        "smallcap_breakout_eth",
        "smallcap_breakout",
        "smallcap_sma_btc",
        "smallcap_breakout_eth_open_monthly",
        "spy",
        "smallcap_breakout_eth_vix",
        "smallcap_momentum_eth",
    )
]


def names_in(text: str) -> set[str]:
    """Every run name of the comparison tables in `text`, put back together from its lines
    (a line whose statistics are all blank continues the name above it)."""
    names: list[str] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        first, *rest = (cell.strip() for cell in line.strip("│").split("│"))
        if any(rest) or not names:
            names.append(first)
        elif first:
            glue = "" if names[-1].endswith(("-", "_")) else " "
            names[-1] += glue + first
    return set(names)


def synthetic_table(n: int) -> pd.DataFrame:
    """A comparison table of `n` configs with long names, and two benchmarks."""
    from engine.metrics import METRICS

    labels = [f"smallcap-breakout-eth-variant-number-{i}" for i in range(n)]
    columns = [*labels, "benchmark SPY:1", f"benchmark SPY:1 ({labels[-1]})"]
    rows = {key: [1234.5678 * (i + 1) for i in range(len(columns))] for key in METRICS}
    return pd.DataFrame(rows, index=columns).T


@pytest.mark.parametrize("n", [5, 7, 9])
def test_comparison_tables_fit_80_columns_with_every_name_whole(n):
    from rich.console import Console

    from engine.report import comparison_rich

    table = synthetic_table(n)
    benchmarks = {c: "benchmark SPY:1" for c in table.columns[:n]}
    benchmarks[table.columns[n - 1]] = table.columns[-1]
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(comparison_rich(table, "Common range", console.width, benchmarks))
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80
    assert "…" not in text
    assert set(map(str, table.columns)) <= names_in(text)
    relative = [k for k in table.index if metric(k).group == "relative"]
    for key in table.index:  # every statistic of every run is shown in full
        runs = table.columns[:n] if key in relative else table.columns
        for run in runs:
            assert fmt(table.loc[key, run], metric(key).format) in text, (key, run)


def test_compare_of_the_ready_configs_is_readable_at_80_columns(tmp_path, shared_data):
    args = [*READY[:5], "--data-dir", shared_data, "--out", tmp_path / "cmp"]
    result = CliRunner().invoke(main, list(map(str, ["compare", *args])), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in result.stdout
    payload = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert set(payload["columns"]) <= names_in(result.stdout)  # configs and both benchmarks
    assert len(payload["columns"]) == 7
    assert "smallcap-breakout-eth-open-monthly" in payload["benchmarks"]
    # several benchmarks: the tables say which config is measured against which
    assert "the benchmark of smallcap-breakout-eth-open-monthly" in " ".join(result.stdout.split())


def test_start_and_end_set_the_window_of_every_config(tmp_path, shared_data):
    args = [CONFIGS / "smallcap_breakout_eth.yaml", CONFIGS / "spy.yaml", "--data-dir"]
    args += [shared_data, "--start", "2020-01-01", "--end", "2021-06-30", "--out", tmp_path / "c"]
    result = CliRunner().invoke(main, list(map(str, ["compare", *args, "--json"])))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["range"] == {"start": "2020-01-02", "end": "2021-06-30"}
    values = pd.read_csv(tmp_path / "c" / "values.csv")
    assert (values["date"].iloc[0], values["date"].iloc[-1]) == ("2020-01-02", "2021-06-30")


def test_a_start_outside_the_years_is_a_one_line_error(tmp_path, shared_data):
    args = ["compare", str(CONFIGS / "spy.yaml"), "--data-dir", str(shared_data)]
    result = CliRunner().invoke(
        main, [*args, "--start", "1700-01-01", "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.count("Error:") == 1 and "--start 1700-01-01" in result.output
    assert not (tmp_path / "c").exists()


def test_configs_sharing_one_benchmark_show_it_once(shared_data):
    configs = [load_config(p, source="csv", dir=str(shared_data)) for p in READY[:2]]
    result = compare(configs)
    assert set(result.benchmarks().values()) == {"benchmark SPY:1"}
    assert list(result.table().columns)[-1:] == ["benchmark SPY:1"]


@pytest.fixture(scope="module")
def seven(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("compare7") / "cmp"
    args = ["compare", *READY, "--data-dir", shared_data, "--out", out, "--tearsheet"]
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return out


def test_compare_page_shows_each_benchmark_beside_the_seven_configs(seven):
    from engine.report import tearsheet_data as data
    from engine.report.tearsheet_multi import benchmark_columns

    folder = data.read_comparison(seven)
    payload = folder.comparison
    benchmarks = benchmark_columns(payload)
    assert len(benchmarks) == 7
    # the open-traded config, without costs, has a benchmark of its own
    own = benchmarks["smallcap-breakout-eth-open-monthly"]
    assert own == "benchmark SPY:1 (smallcap-breakout-eth-open-monthly)"
    assert {b for c, b in benchmarks.items() if c != "smallcap-breakout-eth-open-monthly"} == {
        "benchmark SPY:1"
    }
    assert payload["columns"][-2:] == ["benchmark SPY:1", own]
    text = (seven / "tearsheet.html").read_text(encoding="utf-8")
    for column in payload["columns"]:  # every curve, benchmarks included
        assert f'"name":"{column}"' in text
    assert "Measured against" in text and f"against {own}" in text


def test_yearly_bars_of_seven_configs_get_a_panel_a_year(seven):
    from engine.report import tearsheet_data as data
    from engine.report.tearsheet_multi import benchmark_columns, run_styles, yearly_figure

    folder = data.read_comparison(seven)
    payload = folder.comparison
    columns = payload["columns"]
    cash = [data.implied_initial_cash(payload["statistics"][c]) for c in columns]
    yearly = data.period_returns(folder.values[columns], cash, "year")
    figure = yearly_figure(yearly, run_styles(columns, benchmark_columns(payload)))
    years = len(yearly)
    assert len(figure.data) == years * len(columns)  # one bar per run and year
    titles = [a.text for a in figure.layout.annotations]
    assert titles == [str(y) for y in yearly.index]
    assert figure.layout.height >= 25 * len(columns) * -(-years // 4)  # room for every bar
    for trace in figure.data:  # every value printed, benchmarks hatched
        assert trace.text[0].endswith("%")
        hatched = trace.marker.pattern.shape == "/"
        assert hatched == trace.name.startswith("benchmark")
    colours = {t.name: t.marker.color for t in figure.data}
    assert len({colours[c] for c in columns[:7]}) == 7
