"""`level`: the series against fixed lines (docs/semantics.md §5).

    y_t = x_t,  upper = `above` a,  lower = `below` c  (c <= a, default c = a)

in the series' own units: e.g. `vix_high` on while ^VIX is above 25 and until it
falls below 20 (`{type: level, series: ^VIX, above: 25, below: 20}`); write
`not vix_high` for "below".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import ValidationInfo, field_validator

from strategies.params import FiniteFloat, bound_pair, not_above
from strategies.registry import Lines, SignalKind, SignalModel, Spec
from strategies.signals.windows import across, flat


class LevelSignal(SignalModel):
    """On when the series rises above `above`, off when it falls below `below`."""

    type: Literal["level"]
    series: str
    above: FiniteFloat
    """On when the series rises above this level."""
    below: FiniteFloat | None = None
    """Off when the series falls below this level, at most `above` (default: `above`)."""

    @field_validator("below")
    @classmethod
    def _below_not_above_above(cls, value: float | None, info: ValidationInfo) -> float | None:
        return not_above(value, info.data.get("above"), ("below", "above"))


def bounds(params: Mapping[str, Any]) -> tuple[float, float]:
    """(upper a, lower c) of a parameter set; c defaults to a."""
    return bound_pair(params, "above", "below")


class Level(SignalKind):
    """A fixed resistance line, with an optional lower line for hysteresis."""

    name = "level"
    model = LevelSignal
    sweepable = ("above", "below")

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """1: y_t = x_t is defined on every bar."""
        return 1

    def lines(self, input: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        upper, lower = zip(*(bounds(p) for p in params_list), strict=True)
        t = len(input)
        return Lines(
            value=across(input.to_numpy(), len(params_list)),
            upper=flat(t, upper),
            lower=flat(t, lower),
        )

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        upper, lower = bounds(c.model_dump())
        between = f"above {upper:g}" if lower == upper else f"above {upper:g}, below {lower:g}"
        return f"{name}: {c.series} against fixed levels ({between})"

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        upper, lower = bounds(c.model_dump())
        return {
            "value": c.series,
            "upper": f"above {upper:g}",
            "lower": None if lower == upper else f"below {lower:g}",
        }


LEVEL = Level()
