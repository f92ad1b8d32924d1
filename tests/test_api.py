"""engine.api, the notebook API: load, run and sweep give what the CLI computes, as pandas."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from engine import api
from engine.config import load_config
from engine.data import CsvSource, make_source
from engine.errors import ConfigError, RotationError
from engine.research.sweep import run_sweep
from engine.research.sweep_config import load_sweep
from engine.runner import run_backtest
from tests.conftest import CONFIGS

ETH_CONFIG = CONFIGS / "smallcap_breakout_eth.yaml"
DEMO = CONFIGS / "demo_synthetic.yaml"
SWEEP = CONFIGS / "sweeps" / "weights_costs.yaml"


def raw(path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def eth_run(shared_data):
    return api.run(ETH_CONFIG, data_dir=shared_data)


def test_importing_the_api_imports_no_pandas_or_vectorbt():
    code = (
        "import sys, engine, engine.api; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'numpy', 'vectorbt', 'numba', 'pydantic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_from_a_dict_equals_load_from_the_file(shared_data):
    from_file = api.load(ETH_CONFIG, data_dir=shared_data)
    from_dict = api.load(raw(ETH_CONFIG), data_dir=shared_data)
    assert from_dict == from_file == load_config(ETH_CONFIG, source="csv", dir=shared_data)
    assert from_dict.data.source == "csv" and from_dict.data.dir == shared_data.resolve()


def test_load_overrides_the_window_of_a_file_a_dict_or_a_config():
    config = api.load(DEMO, start="2020-01-02", end="2021-06-30")
    assert (str(config.data.start), str(config.data.end)) == ("2020-01-02", "2021-06-30")
    assert api.load(raw(DEMO), start="2020-01-02", end="2021-06-30") == config
    assert api.load(api.load(DEMO), start="2020-01-02", end="2021-06-30") == config
    plain = api.load(DEMO)
    assert api.load(plain) is plain  # nothing to change


def test_load_reports_every_problem_of_a_dict():
    broken = raw(DEMO) | {"universe": ["IWM", "SPY"], "colour": "red"}
    broken["signals"]["ratio_breakout"]["entry"] = 0
    with pytest.raises(ConfigError) as error:
        api.load(broken)
    assert "colour" in str(error.value) and "entry" in str(error.value)


def test_run_gives_the_backtest_of_run_backtest(eth_run, shared_data):
    reference = run_backtest(load_config(ETH_CONFIG), CsvSource(shared_data))
    assert eth_run.stats == reference.stats
    assert eth_run.warnings == reference.warnings
    assert eth_run.config.name == "smallcap-breakout-eth"
    assert type(eth_run.portfolio).__name__ == "Portfolio"
    assert eth_run.portfolio is eth_run.result.strategy.portfolio


def test_run_frames_are_indexed_by_the_backtest_dates(eth_run):
    dates = eth_run.result.dates
    for frame in (eth_run.values, eth_run.weights, eth_run.signals, eth_run.regimes):
        assert frame.index.equals(dates) and frame.index.name == "date"
    assert list(eth_run.values.columns) == ["strategy", "benchmark"]
    assert eth_run.values["strategy"].iloc[-1] == pytest.approx(
        100_000 * (1 + eth_run.stats["strategy"]["total_return"])
    )
    assert list(eth_run.signals.columns) == ["ratio_breakout", "eth_risk_on"]
    assert eth_run.signals.dtypes.eq(bool).all()
    assert set(eth_run.regimes) == {"overweight_small", "neutral"}


def test_run_weights_hold_targets_and_held_weights_summing_to_one(eth_run):
    weights = eth_run.weights
    assert list(weights.columns) == [
        ("target", "IWM"),
        ("target", "SPY"),
        ("held", "IWM"),
        ("held", "SPY"),
        ("held", "cash"),
    ]
    assert weights["held"].sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert weights["target"].iloc[0].to_dict() == {"IWM": 0.3, "SPY": 0.7}  # first date
    assert weights["target"].notna().any(axis=1).sum() == eth_run.stats["strategy"]["trade_dates"]


def test_run_trades_carry_dates_and_reasons(eth_run):
    trades = eth_run.trades
    assert list(trades.columns) == [
        "portfolio",
        "date",
        "ticker",
        "quantity",
        "fill_price",
        "value",
        "fees",
        "reason",
    ]
    assert pd.api.types.is_datetime64_any_dtype(trades["date"])
    strategy = trades[trades["portfolio"] == "strategy"]
    assert strategy["date"].nunique() == eth_run.stats["strategy"]["trade_dates"]
    assert strategy["reason"].iloc[0] == "first date"
    assert eth_run.ranks.empty  # no ranked regime


def test_run_takes_a_dict_and_a_source_of_its_own():
    config = raw(DEMO) | {"name": "from-a-dict"}
    run = api.run(config, start="2022-01-03")
    assert repr(run) == "<Run from-a-dict 2022-01-03 to 2025-06-30>"
    assert run.values.shape == (len(run.result.dates), 2)
    seed_0 = api.run(config, start="2022-01-03", source=make_source("synthetic"))  # not 7
    assert seed_0.stats["strategy"]["cagr"] != run.stats["strategy"]["cagr"]


def test_sweep_table_equals_run_sweeps(shared_data):
    table = api.sweep(SWEEP, data_dir=shared_data)
    spec, _ = load_sweep(SWEEP, source="csv", dir=shared_data)
    reference = run_sweep(spec, make_source(spec.base.data))
    pd.testing.assert_frame_equal(table, reference.table)
    assert table.attrs["axes"] == [a.name for a in spec.axes] == list(table.columns[:3])
    assert table.attrs["warnings"] == reference.warnings
    assert len(table) == 6 * 5 * 3


def test_sweep_takes_a_dict_and_ignores_its_sweep_section():
    grid = raw(DEMO) | {"sweep": {"metric": "calmar"}}
    grid["signals"]["ratio_breakout"]["entry"] = [100, 120]
    table = api.sweep(grid, end="2020-12-31")
    assert table.attrs["axes"] == ["signals.ratio_breakout.entry"]
    assert list(table["signals.ratio_breakout.entry"]) == [100, 120]
    single = api.run(raw(DEMO), end="2020-12-31")
    assert table.loc[1, "sharpe"] == pytest.approx(single.stats["strategy"]["sharpe"], abs=1e-9)


def test_dir_of_the_api_shows_the_api_and_nothing_its_annotations_import():
    assert dir(api) == sorted(api.__all__) == ["Run", "load", "run", "sweep"]
    assert all(callable(getattr(api, name)) for name in api.__all__)


@pytest.mark.parametrize("call", [api.run, api.sweep])
@pytest.mark.parametrize("source", ["x", 3, CONFIGS])
def test_a_source_that_is_not_a_price_source_is_one_error_naming_the_argument(call, source):
    with pytest.raises(RotationError) as error:
        call(raw(DEMO), source=source)
    message = error.value.format_message()
    assert message.startswith("source: expected a price source with a load(tickers) method")
    assert f"got {type(source).__name__} " in message and "\n" not in message


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_max_combos_below_one_is_refused_before_any_work(bad, monkeypatch):
    def no_sweep(*_args, **_kwargs):
        raise AssertionError("the grid ran")

    monkeypatch.setattr("engine.research.sweep.run_sweep", no_sweep)
    with pytest.raises(RotationError, match=r"^max_combos: must be a whole number >= 1"):
        api.sweep(raw(DEMO), max_combos=bad)


def test_max_combos_one_refuses_a_grid_of_two():
    grid = raw(DEMO)
    grid["signals"]["ratio_breakout"]["entry"] = [100, 120]
    with pytest.raises(ConfigError, match="the grid has 2 combinations .* over the limit of 1"):
        api.sweep(grid, max_combos=1)
