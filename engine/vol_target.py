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

from engine.config import Config
from engine.notices import warn_shaped

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


def warn_undefined(config: Config, first: int, dates: pd.DatetimeIndex) -> None:
    """Warn when the volatility target is still undefined (scale min(1, max_exposure)) for
    the targets some backtest dates trade to: those decided on C's first `window` dates
    (`first`: the position in C of the first backtest date)."""
    target = config.portfolio.target_vol
    if target is None:
        return
    behind = first + np.arange(len(dates)) - 1  # where each date's target is decided
    undefined = (behind >= 0) & (behind < target.window)  # -1: the default, unscaled
    n = int(np.count_nonzero(undefined))
    if n:
        last = int(np.flatnonzero(undefined)[-1]) + 1
        until = f"until {dates[last].date()}" if last < len(dates) else "throughout"
        warn_shaped(
            f"portfolio.target_vol: the volatility of a target is undefined (scale "
            f"{min(1.0, target.max_exposure):g}) on {n:,} of {len(dates):,} backtest dates, "
            f"{until}: a window of {target.window} needs {target.window + 1} dates of the "
            "trading calendar"
        )
