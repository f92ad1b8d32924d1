"""Signal kinds (docs/semantics.md §4-5) as plug-ins: one module per kind, one registry.

`SIGNAL_KINDS` maps each YAML `type` to its `SignalKind` (strategies/registry.py):
its config model, sweep keys, input legs and source, bars needed, lines
(value, upper, lower) and tearsheet labels. Every kind shares one rule:

    on_t = True if y_t > upper_t; False if y_t < lower_t; else on_{t-1}   (False at first)

Kinds use only their input's own past, so computing them on all history and
aligning afterwards by close time is free of look-ahead.

The grid form `signal_grid(kind, input, params_list)` returns one column per
parameter set, sharing rolling work between sets with equal windows; the single
form is the kind called as a function, `SIGNAL_KINDS["rsi"](x, window=14, enter=70)`.

Compatibility with callers of the former single module: `donchian(x, entry, exit)`
and `sma(x, window, band)` are single-form functions (the names shadow the
submodules as attributes; import the modules' contents with
`from strategies.signals.donchian import ...`); `bars_needed(kind, params)` and
`lines(kind, x, **params)` take a kind's name and read the kinds shipped here
(`BUILT_IN`), and `signal_grid` calls a plain function found in `SIGNAL_KINDS` once
per parameter set, so a test that swaps a function in for a kind still runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from strategies.registry import Input, Lines, SignalKind, SignalModel, hysteresis, switch
from strategies.signals.correlation import CORRELATION
from strategies.signals.donchian import DONCHIAN, donchian
from strategies.signals.level import LEVEL
from strategies.signals.momentum import MOMENTUM
from strategies.signals.rsi import RSI
from strategies.signals.sma import SMA, sma

BUILT_IN: Mapping[str, SignalKind] = MappingProxyType(
    {kind.name: kind for kind in (DONCHIAN, SMA, MOMENTUM, RSI, LEVEL, CORRELATION)}
)
"""The kinds shipped in this package, read-only."""

SIGNAL_KINDS: dict[str, SignalKind] = dict(BUILT_IN)
"""The registry: YAML `type` -> kind. Add a kind by adding an entry."""


def signal_grid(
    kind: str | SignalKind, input: Input, params_list: Sequence[Mapping[str, Any]]
) -> np.ndarray:
    """Booleans [T, K] of one kind for K parameter sets on an input of T bars (`switch`
    of the kind's lines). `kind` is a registered name or a kind.

    A registry entry that is a plain function `(x, **params) -> bool Series` (a test's
    stand-in, as the former module allowed) is called once per set.
    """
    chosen = SIGNAL_KINDS[kind] if isinstance(kind, str) else kind
    if not isinstance(chosen, SignalKind):
        return np.column_stack([chosen(input, **p).to_numpy(dtype=bool) for p in params_list])
    return switch(chosen.lines(input, params_list))


def bars_needed(kind: str, params: Mapping[str, Any]) -> int:
    """Bars of its own calendar a signal needs before it can ever be True."""
    return BUILT_IN[kind].bars_needed(params)


def lines(kind: str, x: Input, **params: Any) -> pd.DataFrame:
    """What a signal compares, for display, one parameter set: columns upper and lower
    (the former single-module form; `SignalKind.lines` also gives the value)."""
    drawn = BUILT_IN[kind].lines(x, [params])
    return pd.DataFrame({"upper": drawn.upper[:, 0], "lower": drawn.lower[:, 0]}, index=x.index)


__all__ = [
    "BUILT_IN",
    "SIGNAL_KINDS",
    "Input",
    "Lines",
    "SignalKind",
    "SignalModel",
    "bars_needed",
    "donchian",
    "hysteresis",
    "lines",
    "signal_grid",
    "sma",
    "switch",
]
