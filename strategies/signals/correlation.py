"""`correlation`: the rolling correlation of two tickers' returns (docs/semantics.md §5).

On the dates D where both the `series` x and the `other` ticker z have a bar,
paired returns over consecutive dates of D,

    r_k = x_{d_k} / x_{d_{k-1}} - 1,   s_k = z_{d_k} / z_{d_{k-1}} - 1,

and y at d_k is the Pearson correlation of the last n pairs (r, s), n = `window`,
defined from the (n+1)-th date of D. Where all n returns of x, or all n of z, are
equal, y has no value (NaN) and the signal keeps its state. upper = `above` a,
lower = `below` c (c <= a, default a). The signal lives on D, each bar final at the
later of the two close times (like a ratio: its calendar key is `series/other`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from strategies.params import CorrelationBound, not_above, whole_at_least
from strategies.registry import Input, Lines, SignalKind, SignalModel, Spec, as_dict
from strategies.signals.level import bounds
from strategies.signals.windows import columns, flat

Window = whole_at_least(2)  # n returns of each leg; a correlation needs at least 2 pairs


class CorrelationSignal(SignalModel):
    """On when the `window`-bar correlation of two tickers' returns rises above `above`."""

    type: Literal["correlation"]
    series: str
    other: str
    """The second ticker, whose daily returns are paired with the series'."""
    window: Window
    """Paired daily returns the Pearson correlation is taken over (at least 2)."""
    above: CorrelationBound
    """On when the correlation (-1 to 1) rises above this level."""
    below: CorrelationBound | None = None
    """Off when the correlation falls below this level, at most `above` (default: `above`)."""

    @field_validator("series", "other")
    @classmethod
    def _a_ticker(cls, value: str) -> str:
        if "/" in value:
            raise PydanticCustomError(
                "ticker_not_ratio", "must be a ticker, not a ratio ({value})", {"value": value}
            )
        return value

    @field_validator("other")
    @classmethod
    def _not_itself(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("series"):
            raise PydanticCustomError(
                "self_correlation",
                "must differ from series ({value}): a ticker's correlation with itself is always 1",
                {"value": value},
            )
        return value

    @field_validator("below")
    @classmethod
    def _below_not_above_above(cls, value: float | None, info: ValidationInfo) -> float | None:
        return not_above(value, info.data.get("above"), ("below", "above"))


def rolling_correlation(x: np.ndarray, z: np.ndarray, n: int) -> np.ndarray:
    """y over the dates of D: NaN for the first n dates and where either leg's n returns
    are all equal; otherwise sum(dr ds) / sqrt(sum(dr^2) sum(ds^2)), dr = r - mean(r)."""
    out = np.full(len(x), np.nan)
    if len(x) <= n:
        return out
    r = sliding_window_view(x[1:] / x[:-1] - 1, n)  # row k: returns ending at date k + n
    s = sliding_window_view(z[1:] / z[:-1] - 1, n)
    dr = r - r.mean(axis=1, keepdims=True)
    ds = s - s.mean(axis=1, keepdims=True)
    flat_window = (r.max(axis=1) == r.min(axis=1)) | (s.max(axis=1) == s.min(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = (dr * ds).sum(axis=1) / np.sqrt((dr * dr).sum(axis=1) * (ds * ds).sum(axis=1))
    out[n:] = np.where(flat_window, np.nan, y)
    return out


class Correlation(SignalKind):
    """On when the two tickers move together more than `above`, off below `below`."""

    name = "correlation"
    model = CorrelationSignal
    inputs = ("type", "series", "other")
    sweepable = ("window", "above", "below")
    whole = ("window",)
    price_axis = False

    def legs(self, spec: Spec) -> list[str]:
        entry = as_dict(spec)
        return [str(entry["series"]), str(entry["other"])]

    def source(self, prices: Mapping[str, pd.DataFrame], spec: Spec) -> tuple[Input, str]:
        """The two adjusted closes on their common dates D (columns series, other), and
        the key `series/other`: final at the later of the two close times."""
        series, other = self.legs(spec)
        pair = pd.concat(
            [prices[series]["Close"].rename(series), prices[other]["Close"].rename(other)],
            axis=1,
            join="inner",
        )
        return pair, f"{series}/{other}"

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """window + 1 dates of D: n returns need n + 1 closes."""
        return int(params["window"]) + 1

    def lines(self, input: pd.DataFrame, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        x, z = (input.iloc[:, i].to_numpy(dtype=float) for i in (0, 1))
        windows = [int(p["window"]) for p in params_list]
        corr = {n: rolling_correlation(x, z, n) for n in set(windows)}
        upper, lower = zip(*(bounds(p) for p in params_list), strict=True)
        return Lines(
            value=columns(corr, windows), upper=flat(len(x), upper), lower=flat(len(x), lower)
        )

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        return f"{name}: correlation of {c.series} and {c.other} returns over {c.window} bars"

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        upper, lower = bounds(c.model_dump())
        return {
            "value": f"correlation {c.window}",
            "upper": f"above {upper:g}",
            "lower": None if lower == upper else f"below {lower:g}",
        }


CORRELATION = Correlation()
