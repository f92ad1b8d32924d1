"""Signal kinds (SPEC 3): pure functions from a price series to booleans.

Each kind takes `x`, a series on its own calendar (a ticker's adjusted close
or a ratio A/B), and returns booleans on the same index. They use only the
series' own past, so computing them on all history and aligning afterwards by
close time is free of look-ahead.

Every kind is two bounds and one rule: on when x rises above the upper bound,
off when it falls below the lower one, else unchanged (`signal_grid`). The grid
form takes a list of parameter sets and returns one column per set, sharing the
rolling windows between sets (a sweep computes each distinct window once); the
single form is the grid form with one set.
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


def donchian_bounds(x: pd.Series, params: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The channel of a donchian signal, one column per {entry, exit}:
    upper hi_t = max(x_{t-entry} .. x_{t-1}), lower lo_t = min(x_{t-exit} .. x_{t-1})."""
    highs = _rolling(x, [p["entry"] for p in params], "max", shift=1)
    lows = _rolling(x, [p["exit"] for p in params], "min", shift=1)
    upper = np.column_stack([highs[p["entry"]] for p in params])
    return upper, np.column_stack([lows[p["exit"]] for p in params])


def sma_bounds(x: pd.Series, params: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The band of an sma signal, one column per {window, band}:
    s_t (1 + band) and s_t (1 - band), s_t = mean(x_{t-window+1} .. x_t)."""
    means = _rolling(x, [p["window"] for p in params], "mean", shift=0)
    mean = np.column_stack([means[p["window"]] for p in params])
    band = np.array([p.get("band", 0.0) for p in params])
    return mean * (1 + band), mean * (1 - band)


BOUNDS: dict[str, Callable[[pd.Series, Sequence[dict]], tuple[np.ndarray, np.ndarray]]] = {
    "donchian": donchian_bounds,
    "sma": sma_bounds,
}


def signal_grid(kind: str, x: pd.Series, params: Sequence[dict]) -> np.ndarray:
    """on_t = True if x_t > upper_t, False if x_t < lower_t, else on_{t-1}; False until the
    bounds are defined. One column per parameter set (donchian: a breakout over the prior
    channel; sma: the trend with a band)."""
    upper, lower = BOUNDS[kind](x, params)
    values = x.to_numpy()[:, None]
    with np.errstate(invalid="ignore"):
        return hysteresis(values > upper, values < lower)  # comparisons with NaN are False


def donchian(x: pd.Series, entry: int, exit: int) -> pd.Series:
    """Breakout with hysteresis over prior values only (`signal_grid` of one set)."""
    on = signal_grid("donchian", x, [{"entry": entry, "exit": exit}])[:, 0]
    return pd.Series(on, index=x.index, name=x.name)


def sma(x: pd.Series, window: int, band: float = 0.0) -> pd.Series:
    """Trend with a band around the simple moving average (`signal_grid` of one set)."""
    on = signal_grid("sma", x, [{"window": window, "band": band}])[:, 0]
    return pd.Series(on, index=x.index, name=x.name)


def lines(kind: str, x: pd.Series, **params) -> pd.DataFrame:
    """What a signal compares x with, for display: columns upper and lower."""
    upper, lower = BOUNDS[kind](x, [params])
    return pd.DataFrame({"upper": upper[:, 0], "lower": lower[:, 0]}, index=x.index)


def bars_needed(kind: str, params: dict) -> int:
    """Bars of history a signal needs before it can ever be True."""
    if kind == "donchian":
        return int(params["entry"]) + 1
    return int(params["window"])


SIGNAL_KINDS: dict[str, Callable[..., pd.Series]] = {"donchian": donchian, "sma": sma}
