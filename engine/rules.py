"""Rules every stage and both simulators share, defined once (docs/semantics.md §10).

Nothing here imports anything above numpy and pandas, so the numba kernel, the
vectorbt wrapper and the pipeline can all use it without import cycles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# A fill moving at most this fraction of V is the floating-point residue of
# rebalancing to the weights already held (~1e-14 shares), not a trade.
RESIDUE = 1e-9

# An order moving at most this fraction of V is float noise (docs/semantics.md §6): the
# no-trade band's exits and entries are placed unless they are (§11).
FLOAT_NOISE = 1e-10

# Two targets are the same when no weight differs by more than this (a switch between
# regimes with equal weights, or a ranking that selects the same assets, is no trade).
SAME_TARGET = 1e-12


def same_target(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where target rows `a` and `b` (last axis: assets) are the same target."""
    return ~np.any(np.abs(a - b) > SAME_TARGET, axis=-1)


def bps_to_fraction(bps: float | np.ndarray) -> float | np.ndarray:
    """Basis points to a fraction: 2 bps -> 0.0002 (fees of traded value, slippage of price)."""
    return bps / 10_000


def execution_column(timing: str) -> str:
    """The price column orders fill at: the next date's `Open` for next_open, else `Close`."""
    return "Open" if timing == "next_open" else "Close"


def new_month(dates: pd.DatetimeIndex) -> np.ndarray:
    """True on each date whose month differs from the previous date's (False on the first):
    the dates `rebalance: monthly` trades on."""
    months = np.asarray(dates.year * 12 + dates.month)
    return np.concatenate([[False], months[1:] != months[:-1]])


PERIODS = ("monthly", "quarterly", "annual")
"""The calendar rebalance rules, in the column order of `period_starts`."""


def period_starts(dates: pd.DatetimeIndex) -> np.ndarray:
    """[N, 3] True on each date whose month / quarter / year differs from the previous
    date's (False on the first): the dates `rebalance: monthly | quarterly | annual`
    trades on (columns in `PERIODS` order)."""
    year, month = np.asarray(dates.year), np.asarray(dates.month)
    out = np.zeros((len(dates), len(PERIODS)), dtype=bool)
    for column, key in enumerate((year * 12 + month, year * 4 + (month - 1) // 3, year)):
        out[1:, column] = key[1:] != key[:-1]
    return out


def period_column(rule: object) -> int:
    """Column of `period_starts` a rebalance rule fires on, -1 for none or a threshold."""
    return PERIODS.index(rule) if isinstance(rule, str) and rule in PERIODS else -1
