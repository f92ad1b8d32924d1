"""Signal kinds (SPEC 3): pure functions from a price series to booleans.

Each kind takes `x`, a series on its own calendar (a ticker's adjusted close
or a ratio A/B), and returns booleans on the same index. They use only the
series' own past, so computing them on all history and aligning afterwards by
close time is free of look-ahead.

Every kind has a grid form taking a list of parameter sets and returning one
column per set, sharing the rolling windows between sets (a sweep computes each
distinct window once); the single form is the grid form with one set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


def hysteresis(turn_on: np.ndarray, turn_off: np.ndarray) -> np.ndarray:
    """State machine, per column: on if `turn_on`, else off if `turn_off`, else unchanged.

    Starts off. `turn_on` wins when both hold on the same bar. Time is axis 0.
    """
    state = np.where(turn_on, 1.0, np.where(turn_off, 0.0, np.nan))
    return pd.DataFrame(state.reshape(len(state), -1)).ffill().to_numpy().reshape(state.shape) > 0.5


def _rolling(x: pd.Series, windows: Sequence[int], how: str, shift: int) -> dict[int, np.ndarray]:
    source = x.shift(shift) if shift else x
    return {w: getattr(source.rolling(w, min_periods=w), how)().to_numpy() for w in set(windows)}


def donchian_grid(x: pd.Series, params: Sequence[dict]) -> np.ndarray:
    """Breakout with hysteresis over prior values only, one column per {entry, exit}.

    hi_t = max(x_{t-entry} .. x_{t-1}), lo_t = min(x_{t-exit} .. x_{t-1});
    on_t = True if x_t > hi_t, False if x_t < lo_t, else on_{t-1};
    False until hi is defined (the first `entry` bars).
    """
    highs = _rolling(x, [p["entry"] for p in params], "max", shift=1)
    lows = _rolling(x, [p["exit"] for p in params], "min", shift=1)
    hi = np.column_stack([highs[p["entry"]] for p in params])
    lo = np.column_stack([lows[p["exit"]] for p in params])
    values = x.to_numpy()[:, None]
    with np.errstate(invalid="ignore"):
        return hysteresis(values > hi, values < lo)  # comparisons with NaN are False


def sma_grid(x: pd.Series, params: Sequence[dict]) -> np.ndarray:
    """Trend with a band, one column per {window, band}.

    s_t = mean(x_{t-window+1} .. x_t); on_t = True if x_t > s_t (1 + band),
    False if x_t < s_t (1 - band), else on_{t-1}; False until s is defined.
    """
    means = _rolling(x, [p["window"] for p in params], "mean", shift=0)
    mean = np.column_stack([means[p["window"]] for p in params])
    band = np.array([p.get("band", 0.0) for p in params])
    values = x.to_numpy()[:, None]
    with np.errstate(invalid="ignore"):
        return hysteresis(values > mean * (1 + band), values < mean * (1 - band))


def donchian(x: pd.Series, entry: int, exit: int) -> pd.Series:
    """`donchian_grid` for one parameter set, as a series on x's index."""
    on = donchian_grid(x, [{"entry": entry, "exit": exit}])[:, 0]
    return pd.Series(on, index=x.index, name=x.name)


def sma(x: pd.Series, window: int, band: float = 0.0) -> pd.Series:
    """`sma_grid` for one parameter set, as a series on x's index."""
    on = sma_grid(x, [{"window": window, "band": band}])[:, 0]
    return pd.Series(on, index=x.index, name=x.name)


def donchian_lines(x: pd.Series, entry: int, exit: int) -> pd.DataFrame:
    """The channel a donchian signal compares x with: upper = hi_t, lower = lo_t."""
    highs = _rolling(x, [entry], "max", shift=1)[entry]
    lows = _rolling(x, [exit], "min", shift=1)[exit]
    return pd.DataFrame({"upper": highs, "lower": lows}, index=x.index)


def sma_lines(x: pd.Series, window: int, band: float = 0.0) -> pd.DataFrame:
    """The band an sma signal compares x with: s_t (1 + band) and s_t (1 - band)."""
    mean = _rolling(x, [window], "mean", shift=0)[window]
    return pd.DataFrame({"upper": mean * (1 + band), "lower": mean * (1 - band)}, index=x.index)


def bars_needed(kind: str, params: dict) -> int:
    """Bars of history a signal needs before it can ever be True."""
    if kind == "donchian":
        return int(params["entry"]) + 1
    return int(params["window"])


SIGNAL_KINDS: dict[str, Callable[..., pd.Series]] = {"donchian": donchian, "sma": sma}
LINE_KINDS: dict[str, Callable[..., pd.DataFrame]] = {"donchian": donchian_lines, "sma": sma_lines}
GRID_KINDS: dict[str, Callable[[pd.Series, Sequence[dict]], np.ndarray]] = {
    "donchian": donchian_grid,
    "sma": sma_grid,
}
