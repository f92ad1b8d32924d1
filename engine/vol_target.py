"""Volatility target `portfolio.target_vol` (docs/semantics.md "Volatility target").

At a decision date t with decided target w (over the universe), the target becomes
s_t * w (the rest cash), with

    sigma_t = std(sum_i w_i r_{i,s}, ddof 1) * sqrt(P)   over the last n dates s <= t of C,
    r_{i,s} = close_i(s) / close_i(date of C before s) - 1   (adjusted closes),
    s_t     = min(m, annual / sigma_t);  m when sigma_t = 0;  min(1, m) while sigma_t is
              undefined (t has fewer than n dates of C before it),

n = `window`, m = `max_exposure`, P the periods per year. The scale depends only on the
target vector and its date, so it is computed once per distinct target row of the
tables the simulators read (engine.targets), vectorised over rows with sliding windows
of the asset returns, and both simulators read the same scaled rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

BLOCK = 2**21  # floats of the [rows, window, assets] returns gathered at once (16 MB)


def calendar_returns(
    prices: Mapping[str, pd.DataFrame], universe: Sequence[str], dates: pd.DatetimeIndex
) -> np.ndarray:
    """[C, A] each traded asset's adjusted-close return from the previous date of C (NaN on
    C's first date); every traded asset has a price on every date of C."""
    close = np.column_stack([prices[t]["Close"].reindex(dates).to_numpy() for t in universe])
    returns = np.full(close.shape, np.nan)
    returns[1:] = close[1:] / close[:-1] - 1.0
    return returns


def target_sigma(
    weights: np.ndarray, ends: np.ndarray, returns: np.ndarray, window: int, periods: int
) -> np.ndarray:
    """[R] annualised volatility of each target row's daily returns over the `window`
    dates of C ending at its date (`weights` [R, A], `ends` [R] positions in C; NaN where
    fewer than window + 1 dates of C lead up to it)."""
    sigma = np.full(len(ends), np.nan)
    defined = np.flatnonzero(ends >= window)
    offsets = np.arange(1 - window, 1)
    block = max(1, BLOCK // (window * max(returns.shape[1], 1)))
    for start in range(0, len(defined), block):
        rows = defined[start : start + block]
        windows = returns[ends[rows, None] + offsets]  # [rows, window, A]
        daily = np.einsum("rna,ra->rn", windows, weights[rows])
        sigma[rows] = daily.std(axis=1, ddof=1) * math.sqrt(periods)
    return sigma


def scale_of(sigma: np.ndarray, annual: float, max_exposure: float) -> np.ndarray:
    """[R] the scale s_t of each row from its sigma_t (see the module docstring)."""
    with np.errstate(divide="ignore"):
        scale = np.minimum(max_exposure, annual / sigma)
    scale = np.where(sigma == 0.0, max_exposure, scale)
    return np.where(np.isnan(sigma), min(1.0, max_exposure), scale)
