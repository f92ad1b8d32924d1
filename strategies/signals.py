"""Signal kinds (SPEC 3): pure functions from a price series to booleans.

Each function takes `x`, a series on its own calendar (a ticker's adjusted
close or a ratio A/B), and returns a boolean series on the same index.
They use only the series' own past, so computing them on all history and
aligning afterwards by close time is free of look-ahead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def hysteresis(turn_on: np.ndarray, turn_off: np.ndarray) -> np.ndarray:
    """State machine: on if `turn_on`, else off if `turn_off`, else the previous state.

    Starts off. `turn_on` wins when both hold on the same bar.
    """
    state = pd.Series(np.where(turn_on, 1.0, np.where(turn_off, 0.0, np.nan)))
    return state.ffill().fillna(0.0).to_numpy() > 0.5


def donchian(x: pd.Series, entry: int, exit: int) -> pd.Series:
    """Breakout with hysteresis over prior values only.

    hi_t = max(x_{t-entry} .. x_{t-1}), lo_t = min(x_{t-exit} .. x_{t-1});
    on_t = True if x_t > hi_t, False if x_t < lo_t, else on_{t-1};
    False until hi is defined (the first `entry` bars).
    """
    prior = x.shift(1)
    hi = prior.rolling(entry, min_periods=entry).max().to_numpy()
    lo = prior.rolling(exit, min_periods=exit).min().to_numpy()
    values = x.to_numpy()
    with np.errstate(invalid="ignore"):
        on = hysteresis(values > hi, values < lo)  # comparisons with NaN are False
    return pd.Series(on, index=x.index, name=x.name)


def sma(x: pd.Series, window: int, band: float = 0.0) -> pd.Series:
    """Trend with a band around the simple moving average.

    s_t = mean(x_{t-window+1} .. x_t); on_t = True if x_t > s_t (1 + band),
    False if x_t < s_t (1 - band), else on_{t-1}; False until s is defined.
    """
    mean = x.rolling(window, min_periods=window).mean().to_numpy()
    values = x.to_numpy()
    with np.errstate(invalid="ignore"):
        on = hysteresis(values > mean * (1 + band), values < mean * (1 - band))
    return pd.Series(on, index=x.index, name=x.name)


def bars_needed(kind: str, params: dict) -> int:
    """Bars of history a signal needs before it can ever be True."""
    if kind == "donchian":
        return int(params["entry"]) + 1
    return int(params["window"])


SIGNAL_KINDS: dict[str, Callable[..., pd.Series]] = {"donchian": donchian, "sma": sma}
