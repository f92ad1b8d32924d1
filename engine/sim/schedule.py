"""When to trade (docs/semantics.md §10): targets decided on calendar C -> orders on backtest dates.

The target decided at the close of `t` is traded on the next date of C, so
the order on backtest date `u` is always the target decided on the date of C
before `u`. Orders are target weights on trade dates and NaN ("hold") on all
other dates. Trade dates are:

1. the first backtest date (all cash -> the target decided the date before,
   or the default regime's weights when C has no earlier date);
2. every `u` whose prior-date target differs from the one before it (weights
   are compared, so a switch between regimes with equal weights is no trade);
3. the rebalance rule: `monthly`, `quarterly`, `annual` on the first backtest date
   of each month, quarter, year; `threshold: x` on the date after a close at which
   some asset's held weight is more than x away from the target decided at that
   close (settled against the simulation's holdings: engine.sim.settle).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.config import ThresholdRule
from engine.rules import period_column, period_starts, same_target
from engine.sim.settle import Book, Rules, settle


def base_orders(prior: pd.DataFrame, rebalance: object) -> pd.DataFrame:
    """Orders from rules 1, 2 and the calendar rules (threshold dates come from
    engine.sim.settle)."""
    values = prior.to_numpy()
    trade = np.zeros(len(prior), dtype=bool)
    trade[0] = True
    trade[1:] = ~same_target(values[1:], values[:-1])
    column = period_column(rebalance)
    if column >= 0:
        trade |= period_starts(prior.index)[:, column]
    return prior.where(pd.Series(trade, index=prior.index), np.nan)


def threshold_orders(
    orders: pd.DataFrame,
    decided: pd.DataFrame,
    rule: ThresholdRule,
    simulate: Callable[[pd.DataFrame], object],
) -> tuple[pd.DataFrame, object]:
    """Add threshold rebalances to `orders` (from `base_orders`), settled date by date
    against the holdings `simulate(orders)` produces (engine.sim.settle, without a band
    or the cash check: vectorbt's fills as they come).

    Returns:
        (final orders, simulation of them).
    """
    shape = orders.shape
    rules = Rules(
        base=orders.notna().any(axis=1).to_numpy(),
        decided=decided,
        threshold=rule.threshold,
        band=0.0,
        fees=0.0,
        initial_cash=0.0,
        units=np.ones(shape),
        cash_checked=False,
    )
    book = Book(orders, np.zeros(shape, dtype=bool), np.full(shape, np.nan))
    book, result = settle(book, rules, lambda b: simulate(b.orders))
    return book.orders, result
