"""Walk-forward analysis (engine/research/walkforward.py, `rotation sweep --walk-forward`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine import calendar
from engine.cli import main
from engine.data import CsvSource, MemorySource
from engine.errors import ConfigError
from engine.metrics import stats
from engine.research.audit import perturbed, random_walks
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from engine.research.walkforward import _in_range, best_row, parse_spec, walk_forward, windows
from engine.runner import run_backtest
from tests.conftest import CONFIGS

SMALL_GRID = {"entry": [60, 120, 250], "exit": [20, 60], "window": [50, 100]}


def small_raw(data_dir) -> dict:
    raw = yaml.safe_load((CONFIGS / "sweeps" / "breakout_grid.yaml").read_text())
    raw.pop("sweep")
    raw["data"] = {
        "source": "csv",
        "dir": str(data_dir),
        "start": "2019-01-01",
        "end": "2023-12-31",
    }
    signals = raw["signals"]
    signals["ratio_breakout"] |= {"entry": SMALL_GRID["entry"], "exit": SMALL_GRID["exit"]}
    signals["eth_risk_on"] |= {"window": SMALL_GRID["window"]}
    return raw


@pytest.fixture(scope="module")
def market(shared_data):
    return CsvSource(shared_data).load(["IWM", "SPY", "ETH-USD"])


@pytest.fixture(scope="module")
def spec(shared_data):
    return sweep_spec(small_raw(shared_data), "small.yaml")


@pytest.fixture(scope="module")
def result(spec, market):
    return walk_forward(spec, MemorySource(market), parse_spec("train=2y,test=1y"), "sharpe")


# ---------------------------------------------------------------- the spec and the windows


def noise(prices: dict, config, instant: int, rng: np.random.Generator) -> dict:
    """`random_walks` on the bars final after `instant` (UTC ns) by the config's close
    times: these tests take the config's timing as given (the audit itself judges bars
    by label date)."""
    later = {
        ticker: calendar.ticker_close_instants(ticker, frame.index, config.data.close_times)
        > instant
        for ticker, frame in prices.items()
    }
    return random_walks(later, rng)


def test_parse_spec():
    wf = parse_spec("train=3y,test=1y")
    assert wf.train == pd.DateOffset(years=3) and wf.test == wf.step == pd.DateOffset(years=1)
    wf = parse_spec(" train = 18m , test=6m, step=90d ")
    assert (wf.train, wf.test, wf.step) == (
        pd.DateOffset(months=18),
        pd.DateOffset(months=6),
        pd.DateOffset(days=90),
    )
    for bad, words in [
        ("train=3y", "test= is missing"),
        ("train=3y,test=1w", "cannot read"),
        ("train=3y,test=1y,step=2y", "step is longer than test"),
        ("train=0y,test=1y", "longer than 0"),
        ("train=3y,train=2y,test=1y", "twice"),
    ]:
        with pytest.raises(ConfigError, match=words):
            parse_spec(bad)


def test_windows_tile_the_dates_after_the_first_training_range():
    dates = pd.bdate_range("2018-01-01", "2023-06-30")
    cuts = windows(dates, parse_spec("train=2y,test=1y"))
    assert [str(w.test[0].date()) for w in cuts] == [
        "2020-01-01",
        "2021-01-01",
        "2022-01-03",
        "2023-01-02",
    ]
    assert cuts[-1].test[-1] == dates[-1]  # the last test window is cut short by the data
    for w in cuts:
        assert w.train[-1] < w.test[0]
        assert w.train[0] + pd.DateOffset(years=2) > w.train[-1]
    stitched = pd.DatetimeIndex(np.concatenate([w.test for w in cuts]))
    assert stitched.equals(dates[dates >= cuts[0].test[0]])  # no gap, no overlap
    # step < test: each test window ends where the next begins
    quarterly = windows(dates, parse_spec("train=2y,test=1y,step=3m"))
    assert len(quarterly) == 14
    stitched = pd.DatetimeIndex(np.concatenate([w.test for w in quarterly]))
    assert stitched.equals(dates[dates >= quarterly[0].test[0]])


# ---------------------------------------------------------------- the analysis


def test_each_window_picks_the_best_of_its_training_range(spec, market, result):
    source = MemorySource(market)
    assert list(result.windows["window"]) == [1, 2, 3]
    assert list(result.windows["test_start"].astype(str)) == [
        "2021-01-04",
        "2022-01-03",
        "2023-01-03",
    ]
    names = result.axes
    for _, row in result.windows.iterrows():
        trained = run_sweep(
            _in_range(spec, pd.Timestamp(row["train_start"]), pd.Timestamp(row["train_end"])),
            source,
        ).table
        assert trained["sharpe"].max() == pytest.approx(row["is_sharpe"], rel=1e-12)
        best = trained.iloc[best_row(trained, "sharpe")]
        assert [best[n] for n in names] == [row[n] for n in names]


def test_the_stitched_curve_chains_the_test_runs(spec, market, result):
    values = result.values
    cash = spec.base.portfolio.initial_cash
    level = cash
    for _, row in result.windows.iterrows():
        values_for = dict(zip(result.axes, (row[n] for n in result.axes), strict=True))
        config = _in_range(
            spec, pd.Timestamp(row["test_start"]), pd.Timestamp(row["test_end"])
        ).config_for(tuple(values_for[a.name] for a in spec.axes))
        run = run_backtest(config, MemorySource(market))
        segment = values[values["window"] == row["window"]]
        assert list(segment["date"]) == list(run.dates)
        np.testing.assert_allclose(
            segment["strategy"].to_numpy(),
            run.strategy.value.to_numpy() / cash * level,
            rtol=1e-12,
        )
        assert row["oos_sharpe"] == pytest.approx(run.stats["strategy"]["sharpe"], rel=1e-12)
        level = segment["strategy"].iloc[-1]
    dates = pd.DatetimeIndex(values["date"])
    oos = stats.performance(values["strategy"].to_numpy(), dates, cash, 252, 0.0)
    assert result.summary["out_of_sample"]["cagr"] == pytest.approx(oos["cagr"], rel=1e-12)
    assert result.summary["in_sample"]["sharpe"] == pytest.approx(
        result.windows["is_sharpe"].mean(), rel=1e-12
    )


def test_prices_after_a_training_range_do_not_change_its_choice(spec, market, result):
    """SPEC 2 (a) by perturbation: every bar final after the close of window 2's last
    training date is rewritten (equity bars dated after it, crypto bars dated on or
    after it). Windows 1 and 2 choose the same parameters with the same in-sample
    statistics, and window 1's test (which ends on that date) is unchanged."""
    cut = pd.Timestamp(result.windows["train_end"].iloc[1])
    overrides = spec.base.data.close_times
    instant = int(
        calendar.trading_calendar(
            {t: market[t].loc[[cut]] for t in ("IWM", "SPY")}, ["IWM", "SPY"], overrides
        )[1][0]
    )
    for seed in range(3):
        factors = noise(market, spec.base, instant, np.random.default_rng(seed))
        assert all(np.any(f != 0) for f in factors.values())
        for sign in (1.0, -1.0):
            moved = perturbed(market, factors, sign)
            again = walk_forward(
                spec, MemorySource(moved), parse_spec("train=2y,test=1y"), "sharpe"
            )
            params = [*result.axes, "is_sharpe", "is_cagr", "is_max_drawdown"]
            pd.testing.assert_frame_equal(
                again.windows[params].iloc[:2], result.windows[params].iloc[:2], check_exact=True
            )
            first = result.values["window"] == 1
            pd.testing.assert_frame_equal(
                again.values[first], result.values[first], check_exact=True
            )
            # guard: the rewrite reaches window 2's test (the test is not vacuous)
            second = result.values["window"] == 2
            assert not np.array_equal(
                again.values.loc[second, "benchmark"], result.values.loc[second, "benchmark"]
            )


def test_the_perturbation_check_catches_a_peeking_walk_forward(spec, market, result, monkeypatch):
    """The check above has teeth: a walk-forward whose training sweep runs one year
    past its training range (through its own test window) changes window 2's choice
    under the same rewrites."""
    import engine.research.sweep

    real = engine.research.sweep.run_sweep

    def peeking(window_spec, source, *args, **kwargs):
        data = window_spec.base.data
        longer = _in_range(
            window_spec, pd.Timestamp(data.start), pd.Timestamp(data.end) + pd.DateOffset(years=1)
        )
        return real(longer, source, *args, **kwargs)

    monkeypatch.setattr(engine.research.sweep, "run_sweep", peeking)
    cheat = walk_forward(spec, MemorySource(market), parse_spec("train=2y,test=1y"), "sharpe")
    cut = pd.Timestamp(result.windows["train_end"].iloc[1])
    instant = int(
        calendar.trading_calendar(
            {t: market[t].loc[[cut]] for t in ("IWM", "SPY")}, ["IWM", "SPY"], {}
        )[1][0]
    )
    changed = 0
    for seed in range(3):
        factors = noise(market, spec.base, instant, np.random.default_rng(seed))
        for sign in (1.0, -1.0):
            again = walk_forward(
                spec,
                MemorySource(perturbed(market, factors, sign)),
                parse_spec("train=2y,test=1y"),
                "sharpe",
            )
            changed += again.windows["is_sharpe"].iloc[1] != cheat.windows["is_sharpe"].iloc[1]
    assert changed >= 3


# ---------------------------------------------------------------- the command


def test_cli_walk_forward(shared_data, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(small_raw(shared_data)))
    out = tmp_path / "wf"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(config),
            "--walk-forward",
            "train=2y,test=1y",
            "--metric",
            "calmar",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Walk-forward train=2y,test=1y by calmar: 3 windows" in result.output
    assert "Chosen parameters per window" in result.output
    assert {p.name for p in out.iterdir()} == {
        "walkforward.csv",
        "walkforward.json",
        "oos_values.csv",
        "manifest.json",
    }
    summary = json.loads((out / "walkforward.json").read_text())
    assert summary["metric"] == "calmar" and len(summary["per_window"]) == 3
    assert set(summary["in_sample"]) == set(summary["out_of_sample"])
    table = pd.read_csv(out / "walkforward.csv")
    assert list(table["window"]) == [1, 2, 3]
    bad = CliRunner().invoke(
        main, ["sweep", str(config), "--walk-forward", "train=2y", "--out", str(tmp_path / "bad")]
    )
    assert bad.exit_code == 2 and "test= is missing" in bad.output
    assert not (tmp_path / "bad").exists()
    short = CliRunner().invoke(
        main,
        [
            "sweep",
            str(config),
            "--walk-forward",
            "train=10y,test=1y",
            "--out",
            str(tmp_path / "short"),
        ],
    )
    assert short.exit_code == 2 and "too short" in short.output


# ---------------------------------------------------------------- scenarios (issue 13, item 2)


def test_walk_forward_chooses_within_each_fee_level(spec, market, shared_data):
    """Fees are a scenario: each window picks the best of each fee level on its training
    dates (never the cheapest fee of the grid), and each fee level gets its own stitched
    out-of-sample curve, equal to a walk-forward of the sweep run at that fee alone."""
    raw = small_raw(shared_data)
    raw["execution"]["fees_bps"] = [0, 25]
    costly = sweep_spec(raw, "fees.yaml")
    assert costly.scenarios == ("execution.fees_bps",)
    wf = parse_spec("train=2y,test=1y")
    both = walk_forward(costly, MemorySource(market), wf, "sharpe")
    assert [b["label"] for b in both.summary["scenarios"]] == ["fees_bps=0", "fees_bps=25"]
    assert list(both.windows["scenario"]) == ["fees_bps=0", "fees_bps=25"] * 3
    assert list(both.windows["execution.fees_bps"]) == [0, 25] * 3
    assert set(both.values["scenario"]) == {"fees_bps=0", "fees_bps=25"}
    for fee, block in zip((0, 25), both.summary["scenarios"], strict=True):
        raw["execution"]["fees_bps"] = fee
        alone = walk_forward(sweep_spec(raw, "fee.yaml"), MemorySource(market), wf, "sharpe")
        mine = both.windows[both.windows["scenario"] == f"fees_bps={fee}"]
        for name in alone.axes:
            assert list(mine[name]) == list(alone.windows[name]), name
        assert block["out_of_sample"] == pytest.approx(alone.summary["out_of_sample"], rel=1e-12)
        assert block["benchmark_out_of_sample"] == pytest.approx(
            alone.summary["benchmark_out_of_sample"], rel=1e-12
        )
    assert both.summary["out_of_sample"] == both.summary["scenarios"][0]["out_of_sample"]


def test_walk_forward_prints_one_out_of_sample_line_per_scenario(shared_data, tmp_path):
    raw = small_raw(shared_data)
    raw["execution"]["fees_bps"] = [0, 25]
    config = tmp_path / "fees.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "wf"
    args = ["sweep", str(config), "--walk-forward", "train=2y,test=1y", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "chosen within each scenario" in result.output
    lines = [line for line in result.output.splitlines() if "OOS" in line and "Bench" not in line]
    assert len([line for line in lines if "%" in line]) == 2  # one out-of-sample line each
    payload = json.loads((out / "walkforward.json").read_text())
    assert payload["scenario_axes"] == ["execution.fees_bps"]
    assert len(payload["per_window"]) == 6
    assert set(pd.read_csv(out / "oos_values.csv")["scenario"]) == {"fees_bps=0", "fees_bps=25"}


def test_a_walk_forward_without_cost_axes_has_no_scenario_columns(result):
    assert "scenario" not in result.windows and "scenario" not in result.values
    assert "scenarios" not in result.summary


def test_the_walk_forward_tables_fit_80_columns_with_scenarios(shared_data, market):
    from rich.console import Console

    from engine.report.walkforward_tables import summary_table, windows_table

    raw = small_raw(shared_data)
    raw["execution"]["fees_bps"] = [0, 10, 25]  # a scenario axis: a wider table
    spec = sweep_spec(raw, "small.yaml")
    result = walk_forward(spec, MemorySource(market), parse_spec("train=2y,test=1y"), "sharpe")
    console = Console(width=80, record=True)
    console.print(summary_table(result))
    console.print(windows_table(result))
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "fees_bps=25" in text and "2021-01-04" in text  # a scenario, a test start


# ---------------------------------------------------------------- a partial last window


def test_the_last_window_is_partial_when_the_dates_end_before_its_test_does():
    wf = parse_spec("train=2y,test=1y")
    cut = windows(pd.bdate_range("2018-01-01", "2023-06-30"), wf)
    assert [w.partial for w in cut] == [False, False, False, True]  # 2023: half a year
    # dates to Fri 2022-12-30; the last test runs to 2023-01-01 (exclusive): whole
    whole = windows(pd.bdate_range("2018-01-01", "2022-12-30"), wf)
    assert [w.partial for w in whole] == [False, False, False]
    # to 2023-01-03 (exclusive): NYSE is closed on Monday 2023-01-02, weekdays are not
    dates = pd.bdate_range("2018-01-03", "2022-12-30")
    assert windows(dates, wf, "nyse")[-1].partial is False
    assert windows(dates, wf, "weekdays")[-1].partial is True


@pytest.fixture(scope="module")
def partial_run(shared_data, tmp_path_factory):
    """`rotation sweep --walk-forward train=2y,test=1y --tearsheet` on 2019-01-02 ..
    2023-09-29: window 3 tests 2023-01-03 .. 2023-09-29, 187 NYSE sessions of about 250."""
    folder = tmp_path_factory.mktemp("partial")
    raw = small_raw(shared_data)
    raw["data"]["end"] = "2023-09-29"
    config = folder / "partial.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = folder / "wf"
    args = ["sweep", str(config), "--walk-forward", "train=2y,test=1y", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--tearsheet"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result, out, raw


def test_a_partial_window_gives_its_total_return_not_annualised_statistics(partial_run, market):
    _, out, raw = partial_run
    payload = json.loads((out / "walkforward.json").read_text())
    assert payload["partial_window"] == {"window": 3, "test_days": 187, "in_out_of_sample": True}
    first, last = payload["per_window"][0], payload["per_window"][-1]
    assert [w["partial"] for w in payload["per_window"]] == [False, False, True]
    for key in ("cagr", "volatility", "sharpe", "sortino", "calmar"):
        assert last[f"oos_{key}"] is None and last[f"oos_benchmark_{key}"] is None, key
        assert isinstance(first[f"oos_{key}"], float), key
    spec = sweep_spec(raw, "partial.yaml")
    chosen = tuple(last[a.name] for a in spec.axes)
    test = _in_range(spec, pd.Timestamp(last["test_start"]), pd.Timestamp(last["test_end"]))
    run = run_backtest(test.config_for(chosen), MemorySource(market))
    assert len(run.dates) == 187
    strategy, benchmark = run.stats["strategy"], run.stats["benchmark"]
    assert last["oos_total_return"] == pytest.approx(strategy["total_return"], rel=1e-12)
    assert last["oos_benchmark_total_return"] == pytest.approx(benchmark["total_return"], rel=1e-12)
    assert last["oos_max_drawdown"] == pytest.approx(strategy["max_drawdown"], rel=1e-12)
    # the stitched out-of-sample statistics include the partial window's days
    values = pd.read_csv(out / "oos_values.csv")
    assert payload["out_of_sample_range"]["end"] == "2023-09-29"
    assert (values["window"] == 3).sum() == 187


def test_the_tables_flag_the_partial_window_and_say_the_stitched_line_includes_it(partial_run):
    result, out, _ = partial_run
    text = " ".join(result.output.split())
    assert "the partial window 3 (187 trading days) included" in text
    assert "Window 3 is partial: the dates end 187 trading days into its test" in text
    assert "so its sharpe, an annualised figure, is left out" in text
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:2] == "3 "]
    assert rows and rows[0][1:4] == ["2023-01-03", "2023-09-29", "187"]
    assert rows[0][-1] == "partial"
    assert max(len(line) for line in result.output.splitlines()) <= 80
    from engine.report import fmt
    from tests.test_tearsheet import parse

    cells = {
        key: value for _, key, value in parse(out / "tearsheet.html", "table-chosen").cells if key
    }
    assert cells["3|test_days"] == "187 (partial)" and cells["3|oos_sharpe"] == "partial"
    whole = json.loads((out / "walkforward.json").read_text())["per_window"][1]
    assert cells["2|test_days"] == str(whole["test_days"]) and whole["test_days"] > 240
    assert cells["2|oos_sharpe"] == fmt(whole["oos_sharpe"], "num")
    assert "Window 3 is partial" in (out / "tearsheet.html").read_text(encoding="utf-8")
