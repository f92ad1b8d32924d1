"""`sma`: the trend against a simple moving average, with a band (docs/semantics.md §4).

    y_t = x_t,  s_t = mean(x_{t-n+1} .. x_t),  upper_t = s_t (1 + b),  lower_t = s_t (1 - b)

with n = `window` bars of the series' own calendar and b = `band` (a fraction, default 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from strategies.params import Fraction, PositiveInt
from strategies.registry import Lines, SignalKind, SignalModel, Spec
from strategies.signals.windows import across, columns, rolling


class SmaSignal(SignalModel):
    """Close above its `window`-bar mean by more than `band` (fraction), with hysteresis."""

    type: Literal["sma"]
    series: str
    window: PositiveInt
    """Bars of the simple moving average (the current bar included)."""
    band: Fraction = 0.0
    """Hysteresis: on above mean x (1 + band), off below mean x (1 - band)."""


class Sma(SignalKind):
    """On when x rises above s (1 + band), off when it falls below s (1 - band)."""

    name = "sma"
    model = SmaSignal
    sweepable = ("window", "band")
    whole = ("window",)

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """window: the mean needs `window` bars, the current one included."""
        return int(params["window"])

    def lines(self, input: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        windows = [int(p["window"]) for p in params_list]
        mean = columns(rolling(input, windows, "mean"), windows)
        band = np.array([float(p.get("band") or 0.0) for p in params_list])
        return Lines(
            value=across(input.to_numpy(), len(params_list)),
            upper=mean * (1 + band),
            lower=mean * (1 - band),
        )

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        title = f"{name}: {c.series} against its {c.window}-day SMA"
        return f"{title} (band {c.band:g})" if c.band else title

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        if not c.band:
            return {"value": c.series, "upper": f"SMA {c.window}", "lower": None}
        return {
            "value": c.series,
            "upper": f"SMA × (1 + {c.band:g})",
            "lower": f"SMA × (1 − {c.band:g})",
        }


SMA = Sma()


def sma(x: pd.Series, window: int, band: float = 0.0) -> pd.Series:
    """Trend with a band around the simple moving average (the single form)."""
    return SMA(x, window=window, band=band)
