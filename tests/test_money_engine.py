"""SPEC 11's money keys across the engine: the ready config and variants against the
plain-loop reference on real data, sweeps against single runs, and the numba kernel
against the vectorbt path on random markets (band, cash caps, cash yield, thresholds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from engine.config import config_from_dict
from engine.data import CsvSource, MemorySource
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from engine.rules import period_starts
from engine.runner import run_portfolio
from engine.sim.fastsim import simulate_grid
from tests.conftest import CONFIGS
from tests.test_fastsim import _market, _path, _table
from tests.test_golden_configs import _check
from tests.test_sweep import assert_rows_equal_single_runs


def _taa(name: str, data_dir, **changes) -> dict:
    raw = yaml.safe_load((CONFIGS / "taa" / f"{name}.yaml").read_text())
    raw["data"] = {**raw["data"], "source": "csv", "dir": str(data_dir)}
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        raw[section][key] = value
    return raw


VARIANTS = {
    "gem_cash": ("gem_cash", {}),
    "gem_cash_half_bonds": ("gem_cash", {"regimes__1": {"name": "bonds", "weights": {"AGG": 0.5}}}),
    "top2_band": ("top2_of_7", {"execution__tolerance": 0.05}),
    "top2_band_threshold_open_yield": (
        "top2_of_7",
        {
            "execution__tolerance": 0.03,
            "execution__rebalance": {"threshold": 0.05},
            "execution__timing": "next_open",
            "portfolio__cash_yield": 0.04,
        },
    ),
    "gtaa5_quarterly_own_benchmark": (
        "gtaa5",
        {
            "execution__rebalance": "quarterly",
            "benchmark__": {"weights": {"SPY": 0.6, "IEF": 0.4}, "rebalance": "annual"},
        },
    ),
    "gtaa5_annual_threshold_benchmark_shy_yield": (
        "gtaa5",
        {
            "execution__rebalance": "annual",
            "benchmark__": {"weights": {"SPY": 0.6, "IEF": 0.3}, "rebalance": {"threshold": 0.05}},
            "portfolio__cash_yield": "SHY",
        },
    ),
}


def _variant(name: str, data_dir) -> dict:
    base, changes = VARIANTS[name]
    raw = _taa(base, data_dir)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        if section == "regimes":
            raw["regimes"][int(key)] = value
        elif key:
            raw[section][key] = value
        else:
            raw[section] = value
    return raw


@pytest.mark.parametrize("name", list(VARIANTS))
def test_money_configs_match_the_independent_reference(name, shared_data):
    _check(_variant(name, shared_data), shared_data)


def test_gem_cash_measures_sharpe_against_bills_and_earns_on_its_cash(shared_data):
    from engine.runner import run_backtest

    source = CsvSource(shared_data)
    cash = run_backtest(config_from_dict(_taa("gem_cash", shared_data)), source)
    plain = run_backtest(config_from_dict(_taa("gem", shared_data)), source)
    # fully invested: the same trades and values; only the ratios move (BIL paid > 0)
    np.testing.assert_allclose(cash.strategy.value, plain.strategy.value, rtol=1e-12)
    assert cash.stats["strategy"]["sharpe"] < plain.stats["strategy"]["sharpe"]
    assert cash.stats["strategy"]["cash_interest"] == pytest.approx(0.0, abs=1e-6)
    half = run_backtest(config_from_dict(_variant("gem_cash_half_bonds", shared_data)), source)
    assert half.stats["strategy"]["cash_interest"] > 1000  # half of the bond years in bills


def test_a_money_sweep_equals_single_runs_and_treats_band_and_yield_as_scenarios(shared_data):
    raw = _taa(
        "gtaa5",
        shared_data,
        execution__tolerance=[0.0, 0.04],
        execution__rebalance={"threshold": [0.03, 0.1]},
        portfolio__cash_yield=[0.0, 0.05],
        stats__risk_free="BIL",
    )
    raw["data"] |= {"start": "2012-01-03", "end": "2016-12-30"}
    raw["regimes"][0]["rank"]["fallback"] = None  # failed slots stay in cash, which earns
    raw["benchmark"] = {"weights": {"SPY": 0.5, "IEF": 0.3}, "rebalance": "quarterly"}
    spec = sweep_spec(raw, "money.yaml")
    assert spec.scenarios == ("execution.tolerance", "portfolio.cash_yield")
    source = MemorySource(CsvSource(shared_data).load(spec.base.tickers()))
    result = run_sweep(spec, source, keep_values=True)
    assert result.table["cash_interest"].max() > 0
    assert result.table["benchmark_trade_dates"].nunique() == 1  # its own rule, never swept
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))


# --------------------------------------------------------------------------
# the kernel against the vectorbt path, on random markets


def _engine_run(dates, close, price, table, decided, rule, band, fees, slippage, yields):
    """One combination through engine.runner.run_portfolio (hint, settle, vectorbt)."""
    columns = [f"X{i}" for i in range(close.shape[1])]
    prices = {
        c: pd.DataFrame({"Close": close[:, i], "Open": price[:, i]}, index=dates)
        for i, c in enumerate(columns)
    }
    raw = {
        "name": "random",
        "data": {"start": str(dates[0].date())},
        "universe": columns,
        "regimes": [{"name": "r", "weights": {}}],
        "execution": {
            "timing": "next_open",
            "fees_bps": fees * 1e4,
            "slippage_bps": slippage * 1e4,
        },
    }
    config = config_from_dict(raw)
    prior = pd.DataFrame(table[decided[:-1]], index=dates, columns=columns)
    targets = pd.DataFrame(table[decided[1:]], index=dates, columns=columns)
    book, sim = run_portfolio(config, prices, columns, dates, prior, targets, rule, band, yields)
    trades = sim.trades
    return sim.value.to_numpy(), float(trades["fees"].sum()), int(trades["date"].nunique())


@pytest.mark.parametrize("seed", [3, 4])
def test_kernel_matches_the_vectorbt_path_with_band_yield_and_caps(seed):
    from engine.config import ThresholdRule

    rng = np.random.default_rng(seed)
    n, a, k = 180, 3, 4
    dates, close, opens = _market(rng, n, a, flat=0.2)
    setups = [  # (rule, band, fees, slippage, annual yield)
        ("none", 0.02, 0.0, 0.0, 0.05),
        ("quarterly", 0.05, 0.0002, 0.0001, -0.02),
        (ThresholdRule(threshold=0.03), 0.01, 0.0, 0.0, 0.0),
        (ThresholdRule(threshold=0.05), 0.1, 0.01, 0.002, 0.2),
        ("annual", 0.0, 1e-9, 0.0, 0.03),  # buys a hair beyond the cash: caps
    ]
    g_count = len(setups)
    weights = np.stack([_table(rng, k, a) for _ in range(g_count)])
    weights[4, :] = np.array([0.5, 0.3, 0.2])  # fully invested: the last buy meets the floor
    decided = np.stack([_path(rng, n, k) for _ in range(g_count)], axis=1)
    yields = np.zeros((n, g_count))
    for g, (_, _, _, _, y) in enumerate(setups):
        yields[1:, g] = (1 + y) ** (1 / 252) - 1
    rules = [s[0] for s in setups]
    result = simulate_grid(
        close,
        opens,
        weights,
        decided,
        period_starts(dates),
        np.array(
            [{"quarterly": 1, "annual": 2}.get(r, -1) if isinstance(r, str) else -1 for r in rules]
        ),
        np.array([r.threshold if isinstance(r, ThresholdRule) else np.nan for r in rules]),
        np.array([s[2] for s in setups]),
        np.array([s[3] for s in setups]),
        100_000.0,
        tolerance=np.array([s[1] for s in setups]),
        cash_rates=yields,
        rate_of=np.arange(g_count),
    )
    for g, (rule, band, fees, slippage, _) in enumerate(setups):
        values, paid, trade_dates = _engine_run(
            dates, close, opens, weights[g], decided[:, g], rule, band, fees, slippage, yields[:, g]
        )
        np.testing.assert_allclose(result.values[:, g], values, rtol=1e-10, err_msg=str(g))
        assert result.fees_paid[g] == pytest.approx(paid, rel=1e-9, abs=1e-9), g
        assert result.trade_dates[g] == trade_dates, g


def test_settling_date_by_date_from_no_hints_reaches_the_hinted_book(monkeypatch):
    """The fallback of engine.sim.settle (what runs when a kernel hint disagrees with
    vectorbt): from a book without threshold dates, band skips or cash caps it settles,
    date by date, on the same orders, skips, caps and fills as the hinted book."""
    from engine.config import ThresholdRule
    from engine.sim import settle

    rng = np.random.default_rng(11)
    n, a = 120, 3
    dates, close, opens = _market(rng, n, a, flat=0.2)
    table = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.0, 0.45, 0.45]])
    decided = _path(rng, n, 3)
    args = (dates, close, opens, table, decided, ThresholdRule(threshold=0.04), 0.03, 1e-10, 0.0)
    yields = np.r_[0.0, np.full(n - 1, 0.0002)]
    captured = []
    real_settle = settle.settle

    def keep(book, rules, simulate):
        out = real_settle(book, rules, simulate)
        captured.append(out[0])
        return out

    monkeypatch.setattr(settle, "settle", keep)
    hinted = _engine_run(*args, yields)
    real_hint = settle.hint

    def no_hints(close, price, prior, orders, rules, slippage, rates):
        book = real_hint(close, price, prior, orders, rules, slippage, rates)
        assert book.skip.any() and np.isfinite(book.cap).any()  # there is work to redo
        return settle.Book(orders, np.zeros_like(book.skip), np.full(book.cap.shape, np.nan))

    monkeypatch.setattr(settle, "hint", no_hints)
    settled = _engine_run(*args, yields)
    np.testing.assert_allclose(settled[0], hinted[0], rtol=1e-13)
    assert settled[1] == pytest.approx(hinted[1], rel=1e-12)  # fees paid
    assert settled[2] == hinted[2]  # trade dates
    first, second = captured
    pd.testing.assert_frame_equal(first.orders, second.orders)
    np.testing.assert_array_equal(first.skip, second.skip)
    np.testing.assert_allclose(first.cap, second.cap, rtol=1e-12)  # NaN where no cap
