"""run_backtest(config, source) -> BacktestResult: the one place the stages are wired.

1. Load full price history of every ticker the config needs.
2. Build the trading calendar C and each date's close time.
3. Compute each signal on its series' own calendar; align it to C by close time.
4. Decide the regime at each date of C; its weights are the target.
5. Turn targets into orders on the backtest dates (one-date lag, rebalance rule).
6. Simulate the strategy and the fixed-weight benchmark with the same rules.
7. Compute the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from engine import calendar, schedule, stats
from engine.config import Config, ThresholdRule
from engine.data import PriceSource
from engine.errors import DataError
from engine.notices import warn
from engine.portfolio import Simulation, simulate
from strategies.regimes import decide_regimes, target_weights
from strategies.signals import SIGNAL_KINDS, bars_needed, lines


@dataclass(frozen=True)
class BacktestResult:
    """Every intermediate of a run, for inspection in a notebook.

    Attributes:
        config: the validated config.
        prices: adjusted daily bars per ticker, full history.
        calendar: trading calendar C (all dates every traded asset has).
        signals: aligned signal values on C (bool, one column per signal).
        signal_series: per signal, on its own calendar: the series x, the lines it is
            compared with (upper, lower) and the signal itself (on).
        regimes: decided regime name on C.
        targets: target weights decided on C (fractions of V).
        dates: the backtest dates.
        orders: target weights traded on each backtest date (NaN = hold).
        strategy, benchmark: simulations on the backtest dates.
        stats: {"strategy": {...}, "benchmark": {...}, "relative": {...}}.
    """

    config: Config
    prices: dict[str, pd.DataFrame]
    calendar: pd.DatetimeIndex
    signals: pd.DataFrame
    signal_series: dict[str, pd.DataFrame]
    regimes: pd.Series
    targets: pd.DataFrame
    dates: pd.DatetimeIndex
    orders: pd.DataFrame
    strategy: Simulation
    benchmark: Simulation
    stats: dict[str, dict]


def series_values(prices: dict[str, pd.DataFrame], series: str) -> pd.Series:
    """Adjusted close of a ticker, or the ratio A/B on the dates both legs have."""
    legs = [prices[leg]["Close"] for leg in series.split("/")]
    if len(legs) == 1:
        return legs[0].rename(series)
    both = pd.concat(legs, axis=1, join="inner")
    return (both.iloc[:, 0] / both.iloc[:, 1]).rename(series)


def compute_signals(
    config: Config, prices: dict[str, pd.DataFrame], instants: np.ndarray, dates: pd.DatetimeIndex
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Every signal on its own calendar, then aligned to C by close time (SPEC 3, 4).

    Returns:
        (aligned booleans on C, per-signal frames on their own calendars).
    """
    overrides = config.data.close_times
    aligned, own_frames = {}, {}
    for name, spec in config.signals.items():
        x = series_values(prices, spec.series)
        params = spec.model_dump(exclude={"type", "series"})
        needed = bars_needed(spec.type, params)
        if len(x) < needed:
            raise DataError(
                f"signals.{name}: {spec.series} has {len(x)} bars, fewer than the {needed} "
                f"that {spec.type} {params} needs; use a shorter window or a longer series"
            )
        own = SIGNAL_KINDS[spec.type](x, **params)
        own_instants = calendar.series_close_instants(spec.series, x.index, overrides)
        aligned[name] = calendar.align_asof(own, own_instants, instants)
        bounds = lines(spec.type, x, **params)
        own_frames[name] = pd.DataFrame({"x": x, **bounds, "on": own})
    frame = pd.DataFrame(aligned, index=dates, columns=list(config.signals), dtype=bool)
    return frame, own_frames


def backtest_dates(config: Config, prices: dict, dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Dates of C from the first on/after `start` to the last on/before `end`."""
    start = pd.Timestamp(config.data.start)
    for ticker in config.universe:
        first = prices[ticker].index[0]
        if first > start:
            raise DataError(
                f"data.start {config.data.start} is before the first price of {ticker} "
                f"({first.date()}); set start to {first.date()} or later"
            )
    end = pd.Timestamp(config.data.end) if config.data.end else dates[-1] if len(dates) else start
    chosen = dates[(dates >= start) & (dates <= end)]
    if len(chosen) and end - chosen[-1] > pd.Timedelta(days=7):  # more than a long weekend
        warn(
            f"data.end {end.date()} is after the last date on which all of "
            f"{config.universe} have prices ({chosen[-1].date()}); the backtest ends there"
        )
    if chosen.empty:
        raise DataError(
            f"no trading date between {config.data.start} and {end.date()} on which all of "
            f"{config.universe} have prices; check data.start and data.end"
        )
    return chosen


def _frame(prices: dict, tickers: list[str], column: str, dates: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({t: prices[t][column].reindex(dates) for t in tickers}, index=dates)


def _check_benchmark(prices: dict, tickers: list[str], dates: pd.DatetimeIndex) -> None:
    for ticker in tickers:
        missing = dates.difference(prices[ticker].index)
        if len(missing):
            raise DataError(
                f"benchmark.{ticker}: no price on {len(missing)} backtest date(s), first "
                f"{missing[0].date()}; a benchmark must trade on every backtest date"
            )


def run_portfolio(
    config: Config,
    prices: dict,
    tickers: list[str],
    dates: pd.DatetimeIndex,
    prior: pd.DataFrame,
    decided: pd.DataFrame,
) -> tuple[pd.DataFrame, Simulation]:
    """Orders from the schedule rules, simulated with the config's costs and timing."""
    execution = config.execution
    close = _frame(prices, tickers, "Close", dates)
    price_column = "Open" if execution.timing == "next_open" else "Close"
    price = _frame(prices, tickers, price_column, dates)
    run = partial(
        simulate,
        close,
        price,
        initial_cash=config.portfolio.initial_cash,
        fees=execution.fees,
        slippage=execution.slippage,
    )
    orders = schedule.base_orders(prior, execution.rebalance)
    rule = execution.rebalance
    if isinstance(rule, ThresholdRule):
        hint = schedule.threshold_hint(
            close,
            price,
            prior,
            decided,
            rule,
            execution.fees,
            execution.slippage,
            config.portfolio.initial_cash,
        )
        fast = schedule.threshold_orders_fast(orders, prior, decided, rule, hint, run)
        return fast or schedule.threshold_orders(orders, decided, rule, run)
    return orders, run(orders)


def periods_per_year(config: Config) -> int:
    """stats.periods_per_year, else 365 when every traded asset is crypto, else 252."""
    if config.stats.periods_per_year:
        return config.stats.periods_per_year
    return 365 if all(calendar.is_crypto(t) for t in config.universe) else 252


def _activity(sim: Simulation, dates: pd.DatetimeIndex) -> dict:
    return stats.trading(
        sim.value.to_numpy(),
        dates,
        trade_dates=sim.trades["date"].nunique(),
        fees_paid=float(sim.trades["fees"].sum()),
        traded_value=float(sim.trades["value"].abs().sum()),
    )


def compute_stats(
    config: Config, dates: pd.DatetimeIndex, names: pd.Series, strat: Simulation, bench: Simulation
) -> dict[str, dict]:
    """SPEC 7 statistics of the strategy, the benchmark and the one against the other."""
    cash, rf = config.portfolio.initial_cash, config.stats.risk_free
    periods = periods_per_year(config)
    s_values, b_values = strat.value.to_numpy(), bench.value.to_numpy()
    regime_names = [r.name for r in config.regimes]
    strategy = stats.performance(s_values, dates, cash, periods, rf) | _activity(strat, dates)
    strategy["switches"] = stats.switches(names.to_numpy())
    strategy["time_in_regime"] = stats.time_in_regime(names.to_numpy(), regime_names)
    benchmark = stats.performance(b_values, dates, cash, periods, rf) | _activity(bench, dates)
    benchmark["switches"] = 0
    benchmark["time_in_regime"] = {}
    relative = stats.relative(s_values, b_values, dates, cash, periods, rf)
    info = {
        "start": str(dates[0].date()),
        "end": str(dates[-1].date()),
        "days": len(dates),
        "periods_per_year": periods,
        "risk_free": rf,
    }
    return {"strategy": strategy, "benchmark": benchmark, "relative": relative, "period": info}


def run_backtest(config: Config, source: PriceSource) -> BacktestResult:
    """Run one config end to end (see the module docstring for the steps)."""
    prices = source.load(config.tickers())
    universe = list(config.universe)
    cal, instants = calendar.trading_calendar(prices, universe, config.data.close_times)
    dates = backtest_dates(config, prices, cal)

    signals, signal_series = compute_signals(config, prices, instants, cal)
    regimes = config.parsed_regimes()
    decided = decide_regimes(regimes, signals)
    targets = target_weights(regimes, decided, universe)
    names = pd.Series([regimes[i].name for i in decided.to_numpy()], index=cal, name="regime")

    default = targets.columns.map(lambda t: regimes[-1].weights.get(t, 0.0)).to_numpy(float)
    prior = schedule.prior_targets(targets, dates, default)
    orders, strategy = run_portfolio(config, prices, universe, dates, prior, targets.reindex(dates))

    bench_tickers = list(config.benchmark)
    _check_benchmark(prices, bench_tickers, dates)
    fixed = pd.DataFrame(
        [list(config.benchmark.values())] * len(dates),
        index=dates,
        columns=bench_tickers,
        dtype=float,
    )
    _, benchmark = run_portfolio(config, prices, bench_tickers, dates, fixed, fixed)

    result_stats = compute_stats(config, dates, names.reindex(dates), strategy, benchmark)
    return BacktestResult(
        config=config,
        prices=prices,
        calendar=cal,
        signals=signals,
        signal_series=signal_series,
        regimes=names,
        targets=targets,
        dates=dates,
        orders=orders,
        strategy=strategy,
        benchmark=benchmark,
        stats=result_stats,
    )
