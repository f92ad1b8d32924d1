"""Signal kinds (docs/semantics.md §4-5) as plug-ins: one module per kind, one registry.

`SIGNAL_KINDS` maps each YAML `type` to its `SignalKind` (strategies/registry.py), the
built-in kinds and those of installed packages (entry points `rotation.signals`,
strategies/plugins.py):
its config model, sweep keys, input legs and source, bars needed, lines
(value, upper, lower) and tearsheet labels. Every kind shares one rule:

    on_t = True if y_t > upper_t; False if y_t < lower_t; else on_{t-1}   (False at first)

Kinds use only their input's own past, so computing them on all history and
aligning afterwards by close time is free of look-ahead.

The grid form `signal_grid(kind, input, params_list)` returns one column per
parameter set, sharing rolling work between sets with equal windows; the single
form is the kind called as a function, `SIGNAL_KINDS["rsi"](x, window=14, enter=70)`.

`donchian(x, entry, exit)` and `sma(x, window, band)` are the single forms of the two
seed kinds (the names shadow the submodules as attributes; import the modules'
contents with `from strategies.signals.donchian import ...`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from strategies.plugins import Group, Registry
from strategies.registry import Input, Lines, SignalKind, SignalModel, hysteresis, switch
from strategies.signals.correlation import CORRELATION
from strategies.signals.crossover import CROSSOVER
from strategies.signals.donchian import DONCHIAN, donchian
from strategies.signals.level import LEVEL
from strategies.signals.momentum import MOMENTUM
from strategies.signals.rsi import RSI
from strategies.signals.sma import SMA, sma

BUILT_IN: Mapping[str, SignalKind] = MappingProxyType(
    {kind.name: kind for kind in (DONCHIAN, SMA, MOMENTUM, RSI, LEVEL, CORRELATION, CROSSOVER)}
)
"""The kinds shipped in this package, read-only."""

SIGNALS = Group("rotation.signals", "signal kind", SignalKind, SignalModel, ("type", "series"))
"""The entry-point group of plug-in signal kinds (strategies/plugins.py)."""

SIGNAL_KINDS: Registry[SignalKind] = Registry(SIGNALS, BUILT_IN)
"""The registry: YAML `type` -> kind, the built-in kinds and then the installed plug-ins
(read at the first lookup, strategies/plugins.py)."""


def signal_grid(
    kind: str | SignalKind, input: Input, params_list: Sequence[Mapping[str, Any]]
) -> np.ndarray:
    """Booleans [T, K] of one kind for K parameter sets on an input of T bars (`switch`
    of the kind's lines). `kind` is a registered name or a kind."""
    chosen = SIGNAL_KINDS[kind] if isinstance(kind, str) else kind
    return switch(chosen.lines(input, params_list))


__all__ = [
    "BUILT_IN",
    "SIGNALS",
    "SIGNAL_KINDS",
    "Input",
    "Lines",
    "SignalKind",
    "SignalModel",
    "donchian",
    "hysteresis",
    "signal_grid",
    "sma",
    "switch",
]
