"""`momentum` score: the (blended) return over a lookback (docs/scores.md).

    y_t = sum_j c_j (x_t / x_{t-L_j} - 1) / sum_j c_j

the same value as the momentum signal's (strategies/signals/momentum.py), with
lookbacks L_j in bars of the asset's own calendar and weights c_j (default all 1);
defined from the first bar with max L_j bars before it. A return, as a fraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from strategies.params import NonNegativeFloat
from strategies.scores.registry import ScoreKind, ScoreModel
from strategies.signals.momentum import Lookback, blend, change, check_weights


class MomentumScore(ScoreModel):
    """Return over `lookback` bars, or a weighted blend of several lookbacks."""

    type: Literal["momentum"]
    lookback: Lookback
    """Bars the return is measured over; a list [21, 63, ...] is one value, a blend of
    lookbacks (sweep it as {values: [...]})."""
    weights: list[NonNegativeFloat] | None = None
    """The blend's weights, one per lookback of a list (default all 1)."""

    _weights = check_weights


class Momentum(ScoreKind):
    name = "momentum"
    model = MomentumScore
    sweepable = ("lookback",)
    whole = ("lookback",)

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """max L_j + 1."""
        return max(blend(params)[0]) + 1

    def values(self, close: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> np.ndarray:
        x = close.to_numpy(dtype=float)
        sets = [blend(p) for p in params_list]
        changes = {n: change(x, n) for lookbacks, _ in sets for n in set(lookbacks)}
        return np.column_stack(
            [
                sum(c * changes[n] for n, c in zip(lookbacks, weights, strict=True)) / sum(weights)
                for lookbacks, weights in sets
            ]
        ).reshape(len(x), len(sets))

    def describe(self, params: Mapping[str, Any]) -> str:
        lookbacks, weights = blend(params)
        if len(lookbacks) == 1:
            return f"{lookbacks[0]}-bar momentum"
        over = "/".join(map(str, lookbacks))
        return f"momentum blended over {over} bars (weights {'/'.join(f'{w:g}' for w in weights)})"


MOMENTUM = Momentum()
