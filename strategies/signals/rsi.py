"""`rsi`: Wilder's relative strength index against enter and exit levels (docs/semantics.md §5).

    d_t = x_t - x_{t-1},  U_t = max(d_t, 0),  D_t = max(-d_t, 0)
    AU_n = mean(U_1 .. U_n),  AU_t = (AU_{t-1} (n - 1) + U_t) / n  for t > n  (AD likewise)
    y_t = 100 - 100 / (1 + AU_t / AD_t);  100 when AD_t = 0 < AU_t;  50 when both are 0

n = `window` bars of the series' own calendar; y is defined from bar n (the
(n+1)-th bar). upper = `enter` a, lower = `exit` c (c <= a, default c = a), both
on the 0-100 scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import ValidationInfo, field_validator

from strategies.params import Percent, PositiveInt, bound_pair, not_above
from strategies.registry import Lines, SignalKind, SignalModel, Spec
from strategies.signals.windows import columns, flat


class RsiSignal(SignalModel):
    """On when Wilder's RSI over `window` bars rises above `enter`, off below `exit`."""

    type: Literal["rsi"]
    series: str
    window: PositiveInt
    """Bars of Wilder's smoothing."""
    enter: Percent
    """On when the RSI (0 to 100) rises above this level."""
    exit: Percent | None = None
    """Off when the RSI falls below this level, at most `enter` (default: `enter`)."""

    @field_validator("exit")
    @classmethod
    def _exit_not_above_enter(cls, value: float | None, info: ValidationInfo) -> float | None:
        return not_above(value, info.data.get("enter"), ("exit", "enter"))


def wilder_average(moves: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing of moves m_1 .. m_{T-1} (index 0 unused): NaN before bar n,
    mean(m_1 .. m_n) at bar n, then (A_{t-1} (n - 1) + m_t) / n.

    The recursion is an exponential average with weight 1/n seeded by the plain mean.
    """
    out = np.full(len(moves), np.nan)
    if len(moves) <= n:
        return out
    seeded = np.concatenate([[moves[1 : n + 1].mean()], moves[n + 1 :]])
    out[n:] = pd.Series(seeded).ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
    return out


def wilder_rsi(x: np.ndarray, n: int) -> np.ndarray:
    """RSI y_t on the 0-100 scale, NaN before bar n."""
    d = np.diff(x, prepend=np.nan)
    au = wilder_average(np.maximum(d, 0.0), n)
    ad = wilder_average(np.maximum(-d, 0.0), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = 100.0 - 100.0 / (1.0 + au / ad)
    y[ad == 0] = np.where(au[ad == 0] > 0, 100.0, 50.0)
    return y


def levels(params: Mapping[str, Any]) -> tuple[float, float]:
    """(enter a, exit c) of a parameter set; c defaults to a."""
    return bound_pair(params, "enter", "exit")


class Rsi(SignalKind):
    """On when the RSI rises above `enter`, off when it falls below `exit`."""

    name = "rsi"
    model = RsiSignal
    sweepable = ("window", "enter", "exit")
    whole = ("window",)
    price_axis = False

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """window + 1: n changes need n + 1 bars."""
        return int(params["window"]) + 1

    def lines(self, input: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        x = input.to_numpy(dtype=float)
        windows = [int(p["window"]) for p in params_list]
        rsi = {n: wilder_rsi(x, n) for n in set(windows)}
        enter, exit_ = zip(*(levels(p) for p in params_list), strict=True)
        return Lines(
            value=columns(rsi, windows), upper=flat(len(x), enter), lower=flat(len(x), exit_)
        )

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        return f"{name}: {c.series} RSI over {c.window} bars (Wilder)"

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        enter, exit_ = levels(c.model_dump())
        lower = None if exit_ == enter else f"exit {exit_:g}"
        return {"value": f"RSI {c.window}", "upper": f"enter {enter:g}", "lower": lower}


RSI = Rsi()
