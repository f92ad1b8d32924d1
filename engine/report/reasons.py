"""Why each trade happened: one reason per strategy trade date, for trades.csv and the
tearsheet.

The order on backtest date `u` trades the target decided on the date of C before `u`
(docs/semantics.md §9-10; engine/sim/schedule.py), so a trade's reason compares that
target, and the regime behind it, with the one decided the date before. In order of
precedence:

- "first date": the first backtest date (from all cash);
- "regime change: A -> B": the decided regime behind the traded target changed;
- "new selection: +X -Y": same (ranked) regime, the set of assets it holds changed
  (tickers added, then removed, in universe order; a pick failing `min_score` or
  `filter` leaves the set, its fallback joins it);
- "new weights": same regime and assets, other weights (e.g. inverse-volatility
  re-weighting at a decision date);
- "monthly rebalance" / "quarterly rebalance" / "annual rebalance" / "threshold
  rebalance": the target did not change; the rebalance rule traded back to it.

With a no-trade band (`execution.tolerance`), each order the band skipped on a trade
date is a row of its own (quantity 0, no fill price): "skipped by tolerance: held h,
target w" (h at the execution prices before the date's orders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.rules import FLOAT_NOISE, SAME_TARGET, same_target

FIRST = "first date"
NEW_WEIGHTS = "new weights"
BENCHMARK = "benchmark"


def traded_targets(result) -> tuple[np.ndarray, np.ndarray]:
    """Per backtest date: the target weights it would trade (decided on the date of C
    before it) and the name of the regime that decided them. The first backtest date,
    when C has no earlier date, trades the default regime's target (its first order)."""
    positions = result.calendar.get_indexer(result.dates)
    behind = positions - 1
    earlier = np.maximum(behind, 0)
    targets = result.targets.to_numpy(dtype=float)[earlier]
    names = result.regimes.to_numpy(dtype=object)[earlier]
    if behind[0] < 0:  # only the first backtest date can lack an earlier date of C
        targets[0] = result.orders.iloc[0].to_numpy(dtype=float)
        names[0] = result.config.regimes[-1].name
    return targets, names


def _rebalance(rule) -> str:
    """The rule that traded back to an unchanged target (`rebalance: none` never does)."""
    if rule in ("monthly", "quarterly", "annual"):
        return f"{rule} rebalance"
    return "threshold rebalance" if hasattr(rule, "threshold") else "rebalance"


def _selection(before: np.ndarray, after: np.ndarray, tickers: list[str]) -> str:
    held_before, held_after = before > SAME_TARGET, after > SAME_TARGET
    added = [f"+{t}" for t, b, a in zip(tickers, held_before, held_after, strict=True) if a > b]
    removed = [f"-{t}" for t, b, a in zip(tickers, held_before, held_after, strict=True) if b > a]
    return "new selection: " + " ".join(added + removed) if added or removed else NEW_WEIGHTS


def trade_reasons(result) -> pd.Series:
    """One reason string per strategy trade date (a date with at least one fill), indexed
    by those dates in order (see the module docstring for the wording)."""
    dates = result.dates
    targets, names = traded_targets(result)
    tickers = list(result.targets.columns)
    changed = np.zeros(len(dates), dtype=bool)
    changed[1:] = ~same_target(targets[1:], targets[:-1])
    rule = result.config.execution.rebalance
    traded = pd.DatetimeIndex(result.strategy.trades["date"]).unique().sort_values()
    reasons = []
    for j in dates.get_indexer(traded):
        if j == 0:
            reasons.append(FIRST)
        elif not changed[j]:
            reasons.append(_rebalance(rule))
        elif names[j] != names[j - 1]:
            reasons.append(f"regime change: {names[j - 1]} -> {names[j]}")
        else:
            reasons.append(_selection(targets[j - 1], targets[j], tickers))
    return pd.Series(
        reasons, index=pd.DatetimeIndex(traded, name="date"), name="reason", dtype=object
    )


def band_skips(result) -> pd.DataFrame:
    """One row per order the no-trade band skipped on a strategy trade date (a date with
    a fill): date, ticker, held (h_i, at the execution prices before the date's orders),
    target (w_i). Empty without a band. An order that would move nothing (|w - h| within
    float noise) is not listed."""
    from engine import pipeline

    columns = ["date", "ticker", "held", "target"]
    if result.skipped is None:
        return pd.DataFrame(columns=columns)
    sim, dates = result.strategy, result.dates
    tickers = list(result.skipped.columns)
    _, price = pipeline.execution_prices(result.config, result.prices, tickers, dates)
    shares = sim.shares.shift(1, fill_value=0.0).to_numpy()
    cash = sim.cash.shift(1, fill_value=float(result.config.portfolio.initial_cash)).to_numpy()
    if result.cash_yield is not None:
        cash = cash * (1.0 + result.cash_yield)
    held_value = shares * price.to_numpy()
    value = cash + held_value.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        held = held_value / value[:, None]
    target = result.orders.to_numpy()
    traded = dates.isin(pd.DatetimeIndex(sim.trades["date"]))
    listed = result.skipped.to_numpy() & traded[:, None] & (np.abs(target - held) > FLOAT_NOISE)
    rows, cols = np.nonzero(listed)
    return pd.DataFrame(
        {
            "date": dates[rows],
            "ticker": [tickers[c] for c in cols],
            "held": held[rows, cols],
            "target": target[rows, cols],
        },
        columns=columns,
    )
