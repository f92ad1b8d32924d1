"""`volatility` score: the standard deviation of daily returns (docs/scores.md).

    r_t = x_t / x_{t-1} - 1,   y_t = std(r_{t-n+1} .. r_t, ddof = 1)

over the last n = `window` (>= 2) returns of the asset's own calendar, so n + 1 bars;
a daily fraction, not annualised. The inverse-volatility weighting divides by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from strategies.params import whole_at_least
from strategies.scores.registry import ScoreKind, ScoreModel


class VolatilityScore(ScoreModel):
    """Standard deviation (ddof 1) of the last `window` daily returns."""

    type: Literal["volatility"]
    window: whole_at_least(2)
    """Daily returns the standard deviation is taken over (at least 2)."""


def volatility(close: pd.Series, windows: Sequence[int]) -> np.ndarray:
    """[T, K]: column k is the rolling std (ddof 1) of the last windows[k] daily returns."""
    returns = close.astype(float).pct_change(fill_method=None)
    cache = {
        n: returns.rolling(n, min_periods=n).std(ddof=1).to_numpy(dtype=float) for n in set(windows)
    }
    return np.column_stack([cache[n] for n in windows]).reshape(len(close), len(windows))


class Volatility(ScoreKind):
    name = "volatility"
    model = VolatilityScore
    sweepable = ("window",)
    whole = ("window",)

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """window + 1 (window returns)."""
        return int(params["window"]) + 1

    def values(self, close: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return volatility(close, [int(p["window"]) for p in params_list])

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"{int(params['window'])}-day volatility"


VOLATILITY = Volatility()
