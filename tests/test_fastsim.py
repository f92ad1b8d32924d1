"""engine.sim.fastsim.simulate_grid reproduces the engine (schedule + vectorbt) per combination.

1. Random small markets, regime tables and regime paths, every rebalance mode,
   costs from zero to large (partial buys at the cash floor): each kernel
   column against `engine.sim.portfolio.simulate` driven by orders built exactly as
   `engine.runner.run_portfolio` builds them.
2. The real engine (`run_backtest`) on ../shared/data for a ready config and a
   few variants, through `grid_inputs_from_result`.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from engine.config import ThresholdRule, load_config
from engine.data import CsvSource
from engine.metrics import stats
from engine.pipeline import grid_inputs_from_result
from engine.runner import run_backtest
from engine.sim import schedule
from engine.sim.fastsim import GridResult, simulate_grid
from engine.sim.portfolio import simulate
from tests.conftest import CONFIGS

VALUE_RTOL = 1e-10
MONEY_RTOL = 1e-9
CASH = 100_000.0


# --------------------------------------------------------------------------
# random inputs


def _market(rng: np.random.Generator, n: int, a: int, flat: float = 0.0):
    """Business dates, random-walk closes and opens; `flat`: share of days repeating a bar."""
    dates = pd.bdate_range("2021-01-04", periods=n)
    steps = rng.normal(0.0003, 0.02, size=(n, a))
    close = 100 * np.exp(np.cumsum(steps, axis=0)) * rng.uniform(0.2, 5.0, size=a)
    opens = close * np.exp(rng.normal(0.0, 0.01, size=(n, a)))
    for j in range(1, n):
        if rng.random() < flat:
            close[j], opens[j] = close[j - 1], opens[j - 1]
    return dates, close, opens


def _table(rng: np.random.Generator, k: int, a: int) -> np.ndarray:
    """K regime weight rows: sums of 1, sums below 1, single assets, all cash, repeated rows."""
    rows: list[np.ndarray] = []
    while len(rows) < k:
        kind = rng.integers(5)
        if kind == 0 and rows:
            rows.append(rows[rng.integers(len(rows))].copy())  # same weights, another regime
        elif kind == 1:
            rows.append(rng.dirichlet(np.ones(a)))
        elif kind == 2:
            w = rng.dirichlet(np.ones(a)) * rng.uniform(0.2, 0.99)
            w[rng.integers(a)] = 0.0
            rows.append(w)
        elif kind == 3:
            w = np.zeros(a)
            w[rng.integers(a)] = 1.0
            rows.append(w)
        elif rng.random() < 0.3:
            rows.append(np.zeros(a))
    return np.array(rows)


def _path(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Regime decided before the first date, then at each of the n dates."""
    stay = rng.uniform(0.7, 0.98)
    decided = np.empty(n + 1, dtype=np.int64)
    decided[0] = rng.integers(k)
    for j in range(1, n + 1):
        decided[j] = decided[j - 1] if rng.random() < stay else rng.integers(k)
    return decided


def _new_month(dates: pd.DatetimeIndex) -> np.ndarray:
    months = np.asarray(dates.year * 12 + dates.month)
    return np.r_[False, months[1:] != months[:-1]]


# --------------------------------------------------------------------------
# the engine, wired as engine.runner.run_portfolio wires it


def _engine(dates, close, price, table, decided, rebalance, fees, slippage, has_prior):
    """(values, fees paid, traded value, trade dates) of one combination through vectorbt.

    has_prior: the calendar C has a date before the first backtest date (on which
    decided[0] was decided); otherwise C starts there and decided[0] must be the default.
    """
    columns = [f"X{i}" for i in range(close.shape[1])]
    close_df = pd.DataFrame(close, index=dates, columns=columns)
    price_df = pd.DataFrame(price, index=dates, columns=columns)
    if not has_prior:
        assert decided[0] == len(table) - 1
    # Order on date j: the target decided on the date before (row j); decided at j: row j + 1.
    prior = pd.DataFrame(table[decided[:-1]], index=dates, columns=columns)
    targets = pd.DataFrame(table[decided[1:]], index=dates, columns=columns)
    run = partial(simulate, close_df, price_df, initial_cash=CASH, fees=fees, slippage=slippage)
    orders = schedule.base_orders(prior, "monthly" if rebalance == "monthly" else "none")
    if isinstance(rebalance, float):
        rule = ThresholdRule(threshold=rebalance)
        _, sim = schedule.threshold_orders(orders, targets.reindex(dates), rule, run)
    else:
        sim = run(orders)
    trades = sim.trades
    return (
        sim.value.to_numpy(),
        float(trades["fees"].sum()),
        float(trades["value"].abs().sum()),
        int(trades["date"].nunique()),
    )


def _assert_column(result: GridResult, g: int, expected, where: str) -> None:
    values, fees_paid, traded_value, trade_dates = expected
    np.testing.assert_allclose(result.values[:, g], values, rtol=VALUE_RTOL, atol=0, err_msg=where)
    assert result.fees_paid[g] == pytest.approx(fees_paid, rel=MONEY_RTOL, abs=1e-9), where
    assert result.traded_value[g] == pytest.approx(traded_value, rel=MONEY_RTOL, abs=1e-9), where
    assert result.trade_dates[g] == trade_dates, where


# (fees, slippage) per combination: none, realistic, large enough that every buy
# after a sale runs into the cash floor and fills partially
COSTS = [(0.0, 0.0), (0.0002, 0.0001), (0.01, 0.002), (0.05, 0.1)]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("rebalance", ["none", "monthly", 0.03])
def test_kernel_matches_engine_on_random_markets(seed, rebalance):
    rng = np.random.default_rng([seed, {"none": 0, "monthly": 1}.get(rebalance, 2)])
    n, a, k = 200, 3, 4
    dates, close, opens = _market(rng, n, a)
    price = opens if seed == 1 else close
    g_count = len(COSTS)
    weights = np.stack([_table(rng, k, a) for _ in range(g_count)])
    decided = np.stack([_path(rng, n, k) for _ in range(g_count)], axis=1)
    has_prior = np.array([True, True, False, True])
    decided[0, ~has_prior] = k - 1  # no date before: the default regime
    fees, slippage = np.array(COSTS).T
    result = simulate_grid(
        close,
        price,
        weights,
        decided,
        _new_month(dates),
        np.full(g_count, rebalance == "monthly"),
        np.full(g_count, rebalance if isinstance(rebalance, float) else np.nan),
        fees,
        slippage,
        CASH,
    )
    assert result.values.shape == (n, g_count)
    for g in range(g_count):
        expected = _engine(
            dates,
            close,
            price,
            weights[g],
            decided[:, g],
            rebalance,
            fees[g],
            slippage[g],
            has_prior[g],
        )
        _assert_column(result, g, expected, f"seed {seed} {rebalance} combination {g}")


def test_mixed_modes_and_residue_on_flat_prices():
    """Flat stretches make rebalances to the weights already held: fills below 1e-9 of V
    are executed (as vectorbt does) but not counted (as engine.sim.portfolio drops them).
    With this seed combination 1 (weights summing to 1, threshold 0.001, fees 0) has
    five such fills in the engine's records (skipping them would shift V by ~2e-12)."""
    rng = np.random.default_rng(7)
    n, a, k = 150, 2, 3
    dates, close, opens = _market(rng, n, a, flat=0.4)
    modes = ["monthly", 0.001, 0.02, "none", 0.05]
    costs = [(0.0, 0.0), (0.0, 0.0001), (0.0002, 0.1), (0.05, 0.1), (0.0002, 0.0)]
    g_count = len(modes)
    weights = np.stack([_table(rng, k, a) for _ in range(g_count)])
    weights[1, 0] = [0.6, 0.4]  # sums to 1: the last buy meets the cash floor
    decided = np.asfortranarray(np.stack([_path(rng, n, k) for _ in range(g_count)], axis=1))
    fees, slippage = np.array(costs).T
    result = simulate_grid(
        close,
        opens,
        weights,
        decided,
        _new_month(dates),
        np.array([m == "monthly" for m in modes]),
        np.array([m if isinstance(m, float) else np.nan for m in modes]),
        fees,
        slippage,
        CASH,
    )
    for g in range(g_count):
        expected = _engine(
            dates, close, opens, weights[g], decided[:, g], modes[g], fees[g], slippage[g], True
        )
        _assert_column(result, g, expected, f"flat market, combination {g} ({modes[g]})")


def test_same_weights_under_another_regime_is_no_trade():
    dates = pd.bdate_range("2022-03-01", periods=6)
    close = np.array([[10.0, 20.0], [11, 19], [12, 18], [13, 17], [14, 16], [15, 15]])
    weights = np.array([[[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]]])
    # regime 2 traded on date 0, then 0 from date 1, then 0 <-> 1 (equal weights)
    decided = np.array([[2], [0], [1], [0], [1], [1], [1]])
    kwargs = dict(
        close=close,
        price=close,
        weights=weights,
        decided=decided,
        new_month=_new_month(dates),
        monthly=np.array([False]),
        threshold=np.array([np.nan]),
        fees=np.array([0.0]),
        slippage=np.array([0.0]),
        initial_cash=CASH,
    )
    result = simulate_grid(**kwargs)
    assert result.trade_dates[0] == 2  # the first date and the switch to 0.5/0.5
    decided[3:, 0] = 2  # back to 1.0/0.0 from date 2 on: a third trade date
    assert simulate_grid(**kwargs).trade_dates[0] == 3


def test_bad_regime_index_raises():
    close = np.full((3, 2), 10.0)
    with pytest.raises(ValueError, match="regime index"):
        simulate_grid(
            close,
            close,
            np.ones((1, 2, 2)) / 2,
            np.array([[0], [1], [2], [0]]),
            np.zeros(3, dtype=bool),
            np.array([False]),
            np.array([np.nan]),
            np.array([0.0]),
            np.array([0.0]),
            CASH,
        )


# --------------------------------------------------------------------------
# the real engine on the reference data


VARIANTS = {
    "as_configured": {},
    "threshold_3pct": {"rebalance": ThresholdRule(threshold=0.03)},
    "monthly_next_open": {"rebalance": "monthly", "timing": "next_open"},
    "fees_10bps": {"fees_bps": 10.0},
    "threshold_1pct_open_costly": {
        "rebalance": ThresholdRule(threshold=0.01),
        "timing": "next_open",
        "fees_bps": 50.0,
        "slippage_bps": 30.0,
    },
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_kernel_reproduces_run_backtest(shared_data, variant):
    config = load_config(CONFIGS / "smallcap_breakout_eth.yaml", source="csv", dir=str(shared_data))
    execution = config.execution.model_copy(update=VARIANTS[variant])
    config = config.model_copy(update={"execution": execution})
    result = run_backtest(config, CsvSource(shared_data))

    inputs = grid_inputs_from_result(result)
    grid = simulate_grid(**inputs)

    value = result.strategy.value.to_numpy()
    np.testing.assert_allclose(grid.values[:, 0], value, rtol=VALUE_RTOL, atol=0)
    trades = result.strategy.trades
    assert grid.fees_paid[0] == pytest.approx(trades["fees"].sum(), rel=MONEY_RTOL, abs=1e-9)
    assert grid.traded_value[0] == pytest.approx(
        trades["value"].abs().sum(), rel=MONEY_RTOL, abs=1e-9
    )
    ours = stats.trading(
        grid.values[:, 0],
        result.dates,
        trade_dates=int(grid.trade_dates[0]),
        fees_paid=float(grid.fees_paid[0]),
        traded_value=float(grid.traded_value[0]),
    )
    theirs = result.stats["strategy"]
    assert ours["trade_dates"] == theirs["trade_dates"]
    assert ours["fees_paid"] == pytest.approx(theirs["fees_paid"], rel=MONEY_RTOL, abs=1e-9)
    assert ours["turnover"] == pytest.approx(theirs["turnover"], rel=MONEY_RTOL)


def test_grid_inputs_shapes(shared_data):
    config = load_config(CONFIGS / "smallcap_breakout_eth.yaml", source="csv", dir=str(shared_data))
    result = run_backtest(config, CsvSource(shared_data))
    inputs = grid_inputs_from_result(result)
    n, a, k = len(result.dates), len(config.universe), len(config.regimes)
    assert inputs["close"].shape == inputs["price"].shape == (n, a)
    assert inputs["weights"].shape == (1, k, a)
    assert inputs["decided"].shape == (n + 1, 1)
    # row j + 1 is the regime decided at date j; its weights are the engine's target there
    table = inputs["weights"][0]
    np.testing.assert_array_equal(
        table[inputs["decided"][1:, 0]], result.targets.reindex(result.dates).to_numpy()
    )
    # the first backtest date trades to the target decided the date before (or the default)
    first = result.orders.iloc[0].to_numpy()
    np.testing.assert_array_equal(table[inputs["decided"][0, 0]], first)
