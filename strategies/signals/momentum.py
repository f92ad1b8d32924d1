"""`momentum`: the (blended) return over a lookback against a threshold (docs/semantics.md §5).

    y_t = sum_j c_j (x_t / x_{t-L_j} - 1) / sum_j c_j,   upper = θ + b,   lower = θ - b

with lookbacks L_j in bars of the series' own calendar (one integer, or a list
blended with weights c_j, default all 1), threshold θ and band b (both returns,
as fractions, default 0). Defined from the first bar with max L_j bars before it.
On a ratio SPY/BIL with θ = 0 it is on exactly when SPY's total return over the
lookback beat BIL's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BeforeValidator, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from strategies.params import MAX_BARS, FiniteFloat, NonNegativeFloat, whole_number
from strategies.registry import Lines, SignalKind, SignalModel, Spec
from strategies.signals.windows import flat


def _lookbacks(value: Any) -> int | list[int]:
    """One whole number >= 1, or a non-empty list of them."""
    many = isinstance(value, (list, tuple))
    items = list(value) if many else [value]
    if not items:
        raise PydanticCustomError("empty_lookback", "must list at least one lookback")
    out = [whole_number(item) for item in items]
    if min(out) < 1:
        raise PydanticCustomError("lookback_min", "every lookback must be at least 1 bar")
    if max(out) > MAX_BARS:
        raise PydanticCustomError(
            "lookback_max", "every lookback must be at most {most} bars", {"most": MAX_BARS}
        )
    return out if many else out[0]


Lookback = Annotated[int | list[int], BeforeValidator(_lookbacks)]


def _weights(weights: list[float] | None, info: ValidationInfo) -> list[float] | None:
    """One weight per lookback of a list, with a positive sum."""
    lookback = info.data.get("lookback")
    if weights is None or lookback is None:
        return weights
    if not isinstance(lookback, list):
        raise PydanticCustomError(
            "weights_single",
            "weights blend a list of lookbacks; with one lookback leave them out",
        )
    if len(weights) != len(lookback):
        raise PydanticCustomError(
            "weights_length",
            "has {w} weight(s) for {n} lookbacks; give one weight per lookback",
            {"w": len(weights), "n": len(lookback)},
        )
    if sum(weights) <= 0:
        raise PydanticCustomError(
            "weights_sum", "must have a positive sum (at least one weight above 0)"
        )
    return weights


check_weights = field_validator("weights")(_weights)
"""The `weights` rule, shared by the momentum signal and the momentum score."""


class MomentumSignal(SignalModel):
    """Return over `lookback` bars (or a weighted blend of lookbacks) above `threshold`."""

    type: Literal["momentum"]
    series: str
    lookback: Lookback
    """Bars the return is measured over; a list [21, 63, ...] is one value, a blend of
    lookbacks (sweep it as {values: [...]})."""
    weights: list[NonNegativeFloat] | None = None
    """The blend's weights, one per lookback of a list (default all 1)."""
    threshold: FiniteFloat = 0.0
    """The return the momentum is compared with (a fraction: 0.05 = 5%)."""
    band: NonNegativeFloat = 0.0
    """Hysteresis around the threshold: on above threshold + band, off below threshold -
    band."""

    _weights = check_weights


def blend(params: Mapping[str, Any]) -> tuple[list[int], list[float]]:
    """(lookbacks L_j, weights c_j) of a parameter set, weights defaulting to all 1."""
    lookback = params["lookback"]
    many = isinstance(lookback, (list, tuple))
    lookbacks = [int(n) for n in lookback] if many else [int(lookback)]
    weights = params.get("weights")
    return lookbacks, [1.0] * len(lookbacks) if weights is None else [float(c) for c in weights]


def change(x: np.ndarray, lookback: int) -> np.ndarray:
    """x_t / x_{t-L} - 1, NaN for the first L bars."""
    out = np.full(len(x), np.nan)
    if lookback < len(x):
        out[lookback:] = x[lookback:] / x[: len(x) - lookback] - 1
    return out


class Momentum(SignalKind):
    """On when the blended return rises above θ + b, off when it falls below θ - b."""

    name = "momentum"
    model = MomentumSignal
    sweepable = ("lookback", "threshold", "band")
    whole = ("lookback",)
    price_axis = False

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """max L_j + 1."""
        return max(blend(params)[0]) + 1

    def lines(self, input: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        x = input.to_numpy(dtype=float)
        sets = [blend(p) for p in params_list]
        changes = {n: change(x, n) for lookbacks, _ in sets for n in set(lookbacks)}
        value = np.column_stack(
            [
                sum(c * changes[n] for n, c in zip(lookbacks, weights, strict=True)) / sum(weights)
                for lookbacks, weights in sets
            ]
        )
        theta = np.array([float(p.get("threshold") or 0.0) for p in params_list])
        band = np.array([float(p.get("band") or 0.0) for p in params_list])
        return Lines(
            value=value, upper=flat(len(x), theta + band), lower=flat(len(x), theta - band)
        )

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        lookbacks, weights = blend(c.model_dump())
        over = "/".join(map(str, lookbacks))
        blended = f", weights {'/'.join(f'{w:g}' for w in weights)}" if len(lookbacks) > 1 else ""
        return f"{name}: {c.series} momentum over {over} bars{blended}"

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        if not c.band:
            return {"value": "momentum", "upper": f"threshold {c.threshold:g}", "lower": None}
        return {
            "value": "momentum",
            "upper": f"threshold + band ({c.threshold + c.band:g})",
            "lower": f"threshold − band ({c.threshold - c.band:g})",
        }


MOMENTUM = Momentum()
