"""`donchian`: a breakout over the prior channel, with hysteresis (docs/semantics.md §4).

    y_t = x_t,  upper_t = max(x_{t-n} .. x_{t-1}),  lower_t = min(x_{t-m} .. x_{t-1})

with n = `entry` and m = `exit` bars of the series' own calendar (prior values only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from strategies.params import PositiveInt
from strategies.registry import Lines, SignalKind, SignalModel, Spec
from strategies.signals.windows import across, columns, rolling


class DonchianSignal(SignalModel):
    """Breakout with hysteresis over prior `entry` highs / `exit` lows."""

    type: Literal["donchian"]
    series: str
    entry: PositiveInt
    """Bars of the channel's high: on when the series closes above the high of the prior
    `entry` bars."""
    exit: PositiveInt
    """Bars of the channel's low: off when the series closes below the low of the prior
    `exit` bars."""


class Donchian(SignalKind):
    """On when x breaks above its prior `entry`-bar high, off below its prior `exit`-bar low."""

    name = "donchian"
    model = DonchianSignal
    sweepable = ("entry", "exit")
    whole = ("entry", "exit")

    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """entry + 1: the channel needs `entry` prior bars."""
        return int(params["entry"]) + 1

    def lines(self, input: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        entries = [int(p["entry"]) for p in params_list]
        exits = [int(p["exit"]) for p in params_list]
        highs = rolling(input, entries, "max", shift=1)
        lows = rolling(input, exits, "min", shift=1)
        return Lines(
            value=across(input.to_numpy(), len(params_list)),
            upper=columns(highs, entries),
            lower=columns(lows, exits),
        )

    def title(self, name: str, spec: Spec) -> str:
        c = self.config(spec)
        return f"{name}: {c.series} breakout channel (entry {c.entry}, exit {c.exit})"

    def labels(self, spec: Spec) -> dict[str, str | None]:
        c = self.config(spec)
        return {
            "value": c.series,
            "upper": f"high of prior {c.entry}",
            "lower": f"low of prior {c.exit}",
        }


DONCHIAN = Donchian()


def donchian(x: pd.Series, entry: int, exit: int) -> pd.Series:
    """Breakout with hysteresis (the single form, `DONCHIAN(x, entry=..., exit=...)`)."""
    return DONCHIAN(x, entry=entry, exit=exit)
