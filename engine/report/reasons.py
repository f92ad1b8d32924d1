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
- "monthly rebalance" / "threshold rebalance": the target did not change; the
  rebalance rule traded back to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.rules import SAME_TARGET, same_target

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
    if rule == "monthly":
        return "monthly rebalance"
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
