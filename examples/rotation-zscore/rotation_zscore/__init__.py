"""`zscore`: the series' z-score over a window, with enter/exit bounds (a rotation plug-in).

    m_t = mean(x_{t-n+1} .. x_t),   s_t = std(x_{t-n+1} .. x_t, ddof 1)
    y_t = (x_t - m_t) / s_t,        upper = enter a,   lower = exit c (c <= a, default a)

over the last n = `window` (>= 2) bars of the series' own calendar, the current one
included: the number of standard deviations x stands above its recent mean. Defined
from bar n-1 (the n-th bar); where the n values are all equal, s_t = 0 and y has no
value, so the signal keeps its state. Like every kind, on when y > upper, off when
y < lower, otherwise unchanged (False until y is defined).

rotation finds the kind through the entry point `zscore = rotation_zscore:ZSCORE` in
the group `rotation.signals` (pyproject.toml): config validation, sweeps, the
tearsheet, `rotation signal` and `rotation kinds` then treat it like a built-in kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import ValidationInfo, field_validator

from strategies.params import FiniteFloat, bound_pair, not_above, whole_at_least
from strategies.registry import Lines, SignalKind, SignalModel, Spec
from strategies.signals.windows import columns, flat, rolling

__version__ = "0.1.0"


class ZScoreSignal(SignalModel):
    """On when the series' `window`-bar z-score rises above `enter`, off below `exit`."""

    type: Literal["zscore"]
    series: str
    window: whole_at_least(2)
    enter: FiniteFloat
    exit: FiniteFloat | None = None

    @field_validator("exit")
    @classmethod
    def _exit_not_above_enter(cls, value: float | None, info: ValidationInfo) -> float | None:
        return not_above(value, info.data.get("enter"), ("exit", "enter"))


def zscore(x: pd.Series, windows: Sequence[int]) -> np.ndarray:
    """[T, K]: column k is (x_t - mean) / std (ddof 1) over the last windows[k] bars; NaN
    before bar n-1 and where the window is flat (std 0)."""
    means = columns(rolling(x, windows, "mean"), windows)
    stds = columns(rolling(x, windows, "std"), windows)
    values = x.to_numpy(dtype=float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(stds > 0, (values - means) / stds, np.nan)


class ZScore(SignalKind):
    """The z-score kind: value y, bounds enter and exit."""

    name = "zscore"
    model = ZScoreSignal
    sweepable = ("window", "enter", "exit")
    whole = ("window",)
    price_axis = False  # y is in standard deviations, drawn on its own axis

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """window: the mean and std need `window` bars, the current one included."""
        return int(params["window"])

    def lines(self, input: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        upper, lower = zip(*(bound_pair(p, "enter", "exit") for p in params_list), strict=True)
        return Lines(
            value=zscore(input, [int(p["window"]) for p in params_list]),
            upper=flat(len(input), upper),
            lower=flat(len(input), lower),
        )

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        return f"{name}: {c.series} z-score over {c.window} bars"

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        upper, lower = bound_pair(c.model_dump(), "enter", "exit")
        return {
            "value": "z-score",
            "upper": f"enter {upper:g}",
            "lower": None if lower == upper else f"exit {lower:g}",
        }


ZSCORE = ZScore()
