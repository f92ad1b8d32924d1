"""Parameter grids: numeric config values written as lists or ranges.

In a sweep config any numeric parameter (any signal or score parameter its kind
declares sweepable in strategies/signals/ or strategies/scores/, a regime weight, a
ranked allocation's top, vol_window, exposure, numeric min_score, keep or filter parameter,
fees_bps, slippage_bps, a rebalance threshold, the no-trade band `tolerance`, decide_day,
a numeric `cash_yield`, a volatility target's annual, window or max_exposure) may be
written as

    entry: [60, 120, 250]                         # a list of values
    entry: {start: 20, stop: 260, step: 20}       # an inclusive range: 20, 40, ..., 260

The grid is the Cartesian product of all such axes, in config order, the last
axis varying fastest. Each combination is an ordinary config. Its size is
counted before any axis is expanded (a grid over the limit fails at once);
values must be finite, and no axis may give the same value twice.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.limits import MAX_COMBOS
from strategies.scores import SCORE_KINDS
from strategies.signals import SIGNAL_KINDS

RANGE_KEYS = ("start", "stop", "step")
_DECIMALS = 12  # float range values are rounded to this many decimals (0.1 + 0.2 ...)


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


def _number_problem(value: Any) -> str | None:
    """Why `value` is not a usable number (a bool, text, NaN, infinite, huge), or None."""
    if isinstance(value, bool):
        return f"must be a number, not {str(value).lower()}"
    if not _number(value):
        return f"must be a number, not {value!r:.40}"
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int with hundreds of digits
        return "must be a smaller number (it does not fit a float)"
    return None if finite else f"must be a finite number, not {value}"


def _shown(count: int) -> str:
    return f"{count:,}" if count < 10**15 else "more than 10^15"


def _range_count(spec: dict, where: str) -> int:
    """How many values an inclusive range has, by arithmetic (nothing is expanded)."""
    for key in RANGE_KEYS:
        problem = _number_problem(spec[key])
        if problem:
            raise ConfigError(f"{where}.{key}: {problem}")
    start, stop, step = (spec[key] for key in RANGE_KEYS)
    if step <= 0:
        raise ConfigError(f"{where}.step: must be above 0, not {step:g}")
    if start > stop:
        raise ConfigError(f"{where}: start {start:g} is above stop {stop:g}")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return (stop - start) // step + 1
    span = (stop - start) / step
    if not math.isfinite(span):
        raise ConfigError(f"{where}: {start:g} to {stop:g} by {step:g} has too many values")
    return math.floor(span + 1e-9) + 1


def _axis_count(value: Any, where: str) -> int | None:
    """Number of values of a swept parameter, or None when `value` is not a list or range."""
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: a swept list must hold one or more numbers")
        for i, item in enumerate(value):
            problem = _number_problem(item)
            if problem:
                raise ConfigError(f"{where}[{i}]: {problem}")
        return len(value)
    if isinstance(value, dict) and set(value) & set(RANGE_KEYS):
        if set(value) != set(RANGE_KEYS):
            raise ConfigError(
                f"{where}: a range needs exactly start, stop and step, not "
                + ", ".join(map(str, value))
            )
        return _range_count(value, where)
    return None


def _typed(values: tuple, whole: bool, where: str, from_range: bool) -> tuple:
    """`values` as the parameter's type (int when it counts bars); refuse repeats, which
    would inflate the number of trials the overfitting odds are computed for."""
    if whole:
        for value in values:
            if not float(value).is_integer():
                raise ConfigError(f"{where}: {value:g} is not a whole number (it counts bars)")
        values = tuple(int(v) for v in values)
    seen = set()
    for value in values:
        if value in seen:
            if from_range:
                raise ConfigError(
                    f"{where}: rounded to {_DECIMALS} decimals, the range gives {value:g} "
                    "more than once; use a larger step"
                )
            raise ConfigError(f"{where}: {value:g} is listed twice; list each value once")
        seen.add(value)
    return values


def _axis_values(value: Any, count: int, whole: bool, where: str) -> tuple[float, ...]:
    """The values of a list or (already counted) range, in the parameter's type."""
    if isinstance(value, list):
        return _typed(tuple(value), whole, where, from_range=False)
    start, step = value["start"], value["step"]
    if all(isinstance(v, int) for v in (start, step)):
        values = tuple(start + i * step for i in range(count))
    else:
        values = tuple(round(start + i * step, _DECIMALS) for i in range(count))
    return _typed(values, whole, where, from_range=True)


RANK_AXES = ("top", "vol_window", "exposure", "min_score", "keep")
"""Numeric keys of a ranked allocation that may be swept (besides its filter's)."""


def _whole(raw: dict, path: tuple) -> bool:
    """True for a parameter counted in bars or assets (a window, lookback, top, ...)."""
    if path[0] == "signals":
        return path[2] in SIGNAL_KINDS[raw["signals"][path[1]]["type"]].whole
    if path[0] == "scores":
        return path[2] in SCORE_KINDS[raw["scores"][path[1]]["type"]].whole
    if path[0] == "regimes" and path[2] == "rank":
        if path[3] == "filter":
            return path[4] in SIGNAL_KINDS[raw["regimes"][path[1]]["rank"]["filter"]["type"]].whole
        return path[3] in ("top", "vol_window", "keep")
    return path in (("execution", "decide_day"), ("portfolio", "target_vol", "window"))


def _kind(registry: dict, entry: Any) -> Any:
    """The registered kind of a raw entry by its `type`, or None (not a mapping, no
    `type`, or one that is not a registered name)."""
    tag = entry.get("type") if isinstance(entry, dict) else None
    return registry.get(tag) if isinstance(tag, str) else None


def _rank_sweepable(i: int, rank: Any) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of the numeric keys of regime i's ranked allocation and its filter."""
    if not isinstance(rank, dict):
        return
    for key in RANK_AXES:
        if key in rank:
            yield ("regimes", i, "rank", key), rank[key]
    spec = rank.get("filter")
    kind = _kind(SIGNAL_KINDS, spec)
    if kind is not None:
        for key in kind.sweep_keys(spec):
            if key in spec:
                yield ("regimes", i, "rank", "filter", key), spec[key]


def _sweepable(raw: dict) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every place a number may be swept; sections of the wrong shape
    are skipped here (the schema names them when the base config is validated)."""
    signals = raw.get("signals")
    for name, signal in signals.items() if isinstance(signals, dict) else ():
        kind = _kind(SIGNAL_KINDS, signal)
        if kind is not None:  # an unknown type is named when the base config is validated
            for key in kind.sweep_keys(signal):
                if key in signal:
                    yield ("signals", name, key), signal[key]
    scores = raw.get("scores")
    for name, score in scores.items() if isinstance(scores, dict) else ():
        kind = _kind(SCORE_KINDS, score)
        if kind is not None:
            for key in kind.sweep_keys(score):
                if key in score:
                    yield ("scores", name, key), score[key]
    regimes = raw.get("regimes")
    for i, regime in enumerate(regimes if isinstance(regimes, list) else ()):
        if isinstance(regime, dict) and isinstance(regime.get("weights"), dict):
            for ticker, weight in regime["weights"].items():
                yield ("regimes", i, "weights", ticker), weight
        if isinstance(regime, dict):
            yield from _rank_sweepable(i, regime.get("rank"))
    execution = raw.get("execution")
    if isinstance(execution, dict):
        for key in ("fees_bps", "slippage_bps"):
            if key in execution:
                yield ("execution", key), execution[key]
        rule = execution.get("rebalance")
        if isinstance(rule, dict) and "threshold" in rule:
            yield ("execution", "rebalance", "threshold"), rule["threshold"]
        if "tolerance" in execution:
            yield ("execution", "tolerance"), execution["tolerance"]
        if "decide_day" in execution:
            yield ("execution", "decide_day"), execution["decide_day"]
    portfolio = raw.get("portfolio")
    if isinstance(portfolio, dict) and "cash_yield" in portfolio:
        yield ("portfolio", "cash_yield"), portfolio["cash_yield"]
    yield from _target_vol_sweepable(portfolio)


TARGET_VOL_AXES = ("annual", "window", "max_exposure")
"""Numeric keys of `portfolio.target_vol` that may be swept."""


def _target_vol_sweepable(portfolio: Any) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of the numeric keys of `portfolio.target_vol`."""
    target = portfolio.get("target_vol") if isinstance(portfolio, dict) else None
    if isinstance(target, dict):
        for key in TARGET_VOL_AXES:
            if key in target:
                yield ("portfolio", "target_vol", key), target[key]


TEXT_KEYS = {
    "signals": ("type", "series", "other"),
    "scores": ("type", "series"),
    "rank": ("score", "order", "weighting", "fallback"),
    "filter": ("type", "other"),
    "execution": ("timing", "decide", "rebalance"),
}
"""Keys whose values are names or choices, not numbers: a list there cannot be an axis."""


def _text_lists(raw: dict) -> Iterator[str]:
    """Dotted names of the places in TEXT_KEYS where a list is written."""

    def lists(node: Any, keys: tuple, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            yield from (f"{where}.{k}" for k in keys if isinstance(node.get(k), list))

    for section in ("signals", "scores"):
        entries = raw.get(section)
        for name, entry in entries.items() if isinstance(entries, dict) else ():
            yield from lists(entry, TEXT_KEYS[section], f"{section}.{name}")
    regimes = raw.get("regimes")
    for i, regime in enumerate(regimes if isinstance(regimes, list) else ()):
        rank = regime.get("rank") if isinstance(regime, dict) else None
        yield from lists(rank, TEXT_KEYS["rank"], f"regimes[{i}].rank")
        if isinstance(rank, dict):
            yield from lists(rank.get("filter"), TEXT_KEYS["filter"], f"regimes[{i}].rank.filter")
    yield from lists(raw.get("execution"), TEXT_KEYS["execution"], "execution")


def text_list_problems(raw: dict) -> list[tuple[str, str]]:
    """(field, problem) for each list at a non-numeric key (`series: [IWM/SPY, QQQ/SPY]`)."""
    return [
        (
            where,
            "only numeric parameters can be swept (a list here is read as a sweep axis); "
            f"run one config per {where.rsplit('.', 1)[-1]}, or compare them with "
            "rotation compare",
        )
        for where in _text_lists(raw)
    ]


def swept(raw: dict) -> list[str]:
    """Dotted names of the parameters written as a list or a range (well formed or not),
    and of the lists at non-numeric keys: what makes a config a sweep config."""
    named = [
        Axis(path, ()).name
        for path, value in _sweepable(raw)
        if isinstance(value, list) or (isinstance(value, dict) and set(value) & set(RANGE_KEYS))
    ]
    return named + [where for where, _ in text_list_problems(raw)]


def scan_axes(raw: dict, max_combos: int = MAX_COMBOS) -> tuple[list[Axis], list[str], list[str]]:
    """Every swept parameter of a raw (parsed YAML) config, in config order, with every
    problem of the grid at once.

    The grid's size is counted from the lists' lengths and the ranges' arithmetic
    before anything is expanded, so a huge grid is refused at once (no axes then).

    Returns:
        (axes, problems `field: message`, dotted names of the malformed places): a list at
        a non-numeric key, a malformed list or range, repeated values.
    """
    problems, broken = [], []
    for where, problem in text_list_problems(raw):
        problems.append(f"{where}: {problem}")
        broken.append(where)
    found = []
    for path, value in _sweepable(raw):
        where = Axis(path, ()).name
        try:
            count = _axis_count(value, where)
        except ConfigError as exc:
            problems.append(exc.message)
            broken.append(where)
            continue
        if count is not None:
            found.append((path, value, count, where))
    size = math.prod(count for _, _, count, _ in found)
    if size > max_combos:
        shape = " x ".join(f"{_shown(count)} {Axis(path, ()).name}" for path, _, count, _ in found)
        problems.append(
            f"the grid has {_shown(size)} combinations ({shape}), over the limit "
            f"of {max_combos:,}; shrink an axis or raise --max-combos"
        )
        return [], problems, broken
    axes = []
    for path, value, count, where in found:
        try:
            axes.append(Axis(path, _axis_values(value, count, _whole(raw, path), where)))
        except ConfigError as exc:
            problems.append(exc.message)
            broken.append(where)
    return axes, problems, broken


def find_axes(raw: dict, origin: str = "<config>", max_combos: int = MAX_COMBOS) -> list[Axis]:
    """The axes of `scan_axes`.

    Raises:
        ConfigError: listing every problem of the grid (`scan_axes`).
    """
    axes, problems, _ = scan_axes(raw, max_combos)
    if problems:
        raise ConfigError.listing(origin, problems)
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
