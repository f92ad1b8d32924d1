"""`crossover`: a fast moving average against a slow one, with a band (docs/semantics.md §8).

    y_t = F_t / S_t - 1,   upper = b,   lower = -b

with F and S the averages of x over f = `fast` and s = `slow` bars (1 <= f < s) of the
series' own calendar and b = `band` (a fraction, default 0): on while the fast average
is above the slow one by more than b, off once it is below by more than b.

`average: sma` (default): the mean of the last n values, defined from bar n-1 (the n-th
bar). `average: ema`: α = 2 / (n + 1); the first value, at bar n-1, is the mean of the
first n values, then E_t = E_{t-1} + α (x_t - E_{t-1}). Either way y is defined from bar
s-1, so the signal needs s bars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from strategies.params import Fraction, PositiveInt
from strategies.registry import Lines, SignalKind, SignalModel, Spec
from strategies.signals.windows import flat

Average = Literal["sma", "ema"]


class CrossoverSignal(SignalModel):
    """Fast average above the slow one by more than `band` (fraction), with hysteresis."""

    type: Literal["crossover"]
    series: str
    fast: PositiveInt
    """Bars of the fast moving average (fewer than `slow`)."""
    slow: PositiveInt
    """Bars of the slow moving average."""
    average: Average = "sma"
    """The kind of both averages: sma (simple) or ema (exponential)."""
    band: Fraction = 0.0
    """Hysteresis: on when fast / slow - 1 rises above band, off below -band."""

    @field_validator("slow")
    @classmethod
    def _slow_above_fast(cls, value: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and value <= fast:
            raise PydanticCustomError(
                "slow_not_above_fast",
                "must be more than fast ({fast}), not {value}: the slow average is the longer one",
                {"fast": fast, "value": value},
            )
        return value


def moving_average(x: pd.Series, n: int, average: str) -> np.ndarray:
    """The `average` ('sma' or 'ema') of x over n bars, NaN before bar n-1."""
    if average == "sma":
        return x.rolling(n, min_periods=n).mean().to_numpy(dtype=float)
    out = np.full(len(x), np.nan)
    if len(x) >= n:
        values = x.to_numpy(dtype=float)
        seeded = pd.Series(values[n - 1 :]).copy()
        seeded.iloc[0] = values[:n].mean()  # the seed: the mean of the first n values
        out[n - 1 :] = seeded.ewm(alpha=2.0 / (n + 1), adjust=False).mean().to_numpy()
    return out


class Crossover(SignalKind):
    """On when F / S - 1 rises above band, off when it falls below -band."""

    name = "crossover"
    model = CrossoverSignal
    sweepable = ("fast", "slow", "band")
    whole = ("fast", "slow")
    price_axis = False

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """slow: the slow average is defined from bar slow - 1."""
        return int(params["slow"])

    def lines(self, input: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        kinds = [str(p.get("average") or "sma") for p in params_list]
        fast = [(a, int(p["fast"])) for a, p in zip(kinds, params_list, strict=True)]
        slow = [(a, int(p["slow"])) for a, p in zip(kinds, params_list, strict=True)]
        cache = {key: moving_average(input, key[1], key[0]) for key in set(fast) | set(slow)}
        value = np.column_stack(
            [cache[f] / cache[s] - 1.0 for f, s in zip(fast, slow, strict=True)]
        )
        band = np.array([float(p.get("band") or 0.0) for p in params_list])
        return Lines(value=value, upper=flat(len(input), band), lower=flat(len(input), -band))

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        title = f"{name}: {c.series} {c.fast}-bar against {c.slow}-bar {c.average.upper()}"
        return f"{title} (band {c.band:g})" if c.band else title

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        value = f"{c.average.upper()} {c.fast} / {c.average.upper()} {c.slow} − 1"
        if not c.band:
            return {"value": value, "upper": "0 (averages equal)", "lower": None}
        return {"value": value, "upper": f"band {c.band:g}", "lower": f"band −{c.band:g}"}


CROSSOVER = Crossover()
