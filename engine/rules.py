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
