"""When to trade (docs/semantics.md §10): targets decided on calendar C -> orders on backtest dates.

The target decided at the close of `t` is traded on the next date of C, so
the order on backtest date `u` is always the target decided on the date of C
before `u`. Orders are target weights on trade dates and NaN ("hold") on all
other dates. Trade dates are:

1. the first backtest date (all cash -> the target decided the date before,
   or the default regime's weights when C has no earlier date);
2. every `u` whose prior-date target differs from the one before it (weights
   are compared, so a switch between regimes with equal weights is no trade);
3. the rebalance rule: `monthly` on the first backtest date of each month;
   `threshold: x` on the date after a close at which some asset's held weight
   is more than x away from the target decided at that close.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.config import ThresholdRule
from engine.rules import new_month, same_target


def base_orders(prior: pd.DataFrame, rebalance: object) -> pd.DataFrame:
    """Orders from rules 1, 2 and monthly rebalancing (threshold is added by `threshold_orders`)."""
    values = prior.to_numpy()
    trade = np.zeros(len(prior), dtype=bool)
    trade[0] = True
    trade[1:] = ~same_target(values[1:], values[:-1])
    if rebalance == "monthly":
        trade |= new_month(prior.index)
    return prior.where(pd.Series(trade, index=prior.index), np.nan)


def drift_breaches(held: pd.DataFrame, decided: pd.DataFrame, limit: float) -> np.ndarray:
    """Dates whose close has some |held value_i / V - w_i| > limit (cash not compared)."""
    return np.any(np.abs(held.to_numpy() - decided.to_numpy()) > limit, axis=1)


def threshold_hint(
    close: pd.DataFrame,
    price: pd.DataFrame,
    prior: pd.DataFrame,
    decided: pd.DataFrame,
    rule: ThresholdRule,
    fees: float,
    slippage: float,
    initial_cash: float,
) -> np.ndarray:
    """Dates the threshold rule makes trade dates, found in one pass of the numba kernel.

    The kernel applies the same accounting as vectorbt, so its answer is
    normally final; `threshold_orders_fast` checks it against vectorbt.
    """
    from engine.sim.fastsim import simulate_grid

    # Row 0: target traded on the first date; row j + 1: target decided at date j.
    rows = np.vstack([prior.to_numpy()[:1], decided.to_numpy()])
    table, codes = np.unique(rows, axis=0, return_inverse=True)
    result = simulate_grid(
        close.to_numpy(),
        price.to_numpy(),
        table[None],
        np.asfortranarray(codes.reshape(-1, 1)),
        new_month(prior.index),
        np.array([False]),
        np.array([rule.threshold]),
        np.array([fees]),
        np.array([slippage]),
        initial_cash,
    )
    return result.rebalanced[:, 0]


def threshold_orders_fast(
    orders: pd.DataFrame,
    prior: pd.DataFrame,
    decided: pd.DataFrame,
    rule: ThresholdRule,
    hint: np.ndarray,
    simulate: Callable[[pd.DataFrame], object],
) -> tuple[pd.DataFrame, object] | None:
    """Orders with the hinted threshold trades, simulated once; None if the simulation's own
    drift says otherwise (then `threshold_orders` settles it date by date)."""
    base = orders.notna().any(axis=1).to_numpy()
    hinted = orders.where(pd.Series(~hint | base, index=orders.index), prior)
    result = simulate(hinted)
    breach = drift_breaches(result.held_weights(), decided, rule.threshold)
    implied = np.zeros(len(orders), dtype=bool)
    implied[1:] = breach[:-1] & ~base[1:]
    return (hinted, result) if np.array_equal(implied, hint & ~base) else None


def threshold_orders(
    orders: pd.DataFrame,
    decided: pd.DataFrame,
    rule: ThresholdRule,
    simulate: Callable[[pd.DataFrame], object],
) -> tuple[pd.DataFrame, object]:
    """Add threshold rebalances, one at a time, since each changes every later holding.

    Simulates, finds the first close `t` (after those already settled) whose
    drift breaches the threshold while the next date has no order yet, orders
    the target decided at `t` for the next date, and simulates again.

    Args:
        orders: orders from `base_orders`.
        decided: target decided at each backtest date (same index as orders).
        rule: the threshold.
        simulate: orders -> a simulation with `.held_weights()`.

    Returns:
        (final orders, simulation of them).
    """
    orders = orders.copy()
    settled = 0  # closes before this position need no further check
    while True:
        result = simulate(orders)
        breach = drift_breaches(result.held_weights(), decided, rule.threshold)
        has_order = orders.notna().any(axis=1).to_numpy()
        candidates = breach[:-1] & ~has_order[1:]
        candidates[:settled] = False
        hits = np.flatnonzero(candidates)
        if hits.size == 0:
            return orders, result
        t = int(hits[0])
        orders.iloc[t + 1] = decided.iloc[t].to_numpy()
        settled = t + 1
