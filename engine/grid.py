"""Parameter grids: numeric config values written as lists or ranges.

In a sweep config any numeric parameter (a signal's entry/exit/window/band, a
regime weight, fees_bps, slippage_bps, a rebalance threshold) may be written as

    entry: [60, 120, 250]                         # a list of values
    entry: {start: 20, stop: 260, step: 20}       # an inclusive range: 20, 40, ..., 260

The grid is the Cartesian product of all such axes, in config order, the last
axis varying fastest. Each combination is an ordinary config.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError

RANGE_KEYS = {"start", "stop", "step"}


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its path in the config and its values."""

    path: tuple[str | int, ...]
    values: tuple[float, ...]

    @property
    def name(self) -> str:
        """Dotted name, e.g. ``signals.ratio_breakout.entry`` or ``regimes[0].weights.IWM``."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text.lstrip(".")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _expand_range(spec: dict, where: str) -> tuple[float, ...]:
    start, stop, step = spec["start"], spec["stop"], spec["step"]
    if not all(_number(v) for v in (start, stop, step)) or step <= 0 or stop < start:
        raise ConfigError(f"{where}: a range needs numbers with step > 0 and stop >= start")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    whole = all(isinstance(v, int) for v in (start, stop, step))
    return tuple(start + i * step if whole else round(start + i * step, 12) for i in range(count))


def _axis_values(value: Any, where: str) -> tuple[float, ...] | None:
    if isinstance(value, list):
        if not value or not all(_number(v) for v in value):
            raise ConfigError(f"{where}: a swept list must hold one or more numbers")
        return tuple(value)
    if isinstance(value, dict) and set(value) == RANGE_KEYS:
        return _expand_range(value, where)
    return None


def _sweepable(raw: dict) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every place a number may be swept."""
    for name, signal in (raw.get("signals") or {}).items():
        if isinstance(signal, dict):
            for key in ("entry", "exit", "window", "band"):
                if key in signal:
                    yield ("signals", name, key), signal[key]
    for i, regime in enumerate(raw.get("regimes") or []):
        if isinstance(regime, dict) and isinstance(regime.get("weights"), dict):
            for ticker, weight in regime["weights"].items():
                yield ("regimes", i, "weights", ticker), weight
    execution = raw.get("execution") or {}
    if isinstance(execution, dict):
        for key in ("fees_bps", "slippage_bps"):
            if key in execution:
                yield ("execution", key), execution[key]
        rule = execution.get("rebalance")
        if isinstance(rule, dict) and "threshold" in rule:
            yield ("execution", "rebalance", "threshold"), rule["threshold"]


def find_axes(raw: dict, origin: str = "<config>") -> list[Axis]:
    """Every swept parameter of a raw (parsed YAML) config, in config order."""
    axes = []
    for path, value in _sweepable(raw):
        where = f"{origin}: " + Axis(path, ()).name
        values = _axis_values(value, where)
        if values is not None:
            axes.append(Axis(path, values))
    return axes


def grid_size(axes: list[Axis]) -> int:
    return math.prod(len(axis.values) for axis in axes)


def set_path(raw: dict, path: tuple, value: Any) -> None:
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def with_values(raw: dict, axes: list[Axis], values: tuple) -> dict:
    """A copy of `raw` with each axis set to the matching value (one combination)."""
    out = copy.deepcopy(raw)
    for axis, value in zip(axes, values, strict=True):
        set_path(out, axis.path, value)
    return out


def combinations(axes: list[Axis]) -> Iterator[tuple]:
    """All value tuples of the grid, the last axis varying fastest."""
    return itertools.product(*(axis.values for axis in axes))
