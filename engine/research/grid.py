"""Parameter grids: numeric config values written as axes (lists, ranges, `values:`).

In a sweep config any numeric parameter (any signal or score parameter its kind
declares sweepable in strategies/signals/ or strategies/scores/, a regime weight, a
ranked allocation's top, vol_window, exposure, numeric min_score, keep or filter parameter,
fees_bps, slippage_bps, a rebalance threshold, the no-trade band `tolerance`, decide_day,
a numeric `cash_yield`, a volatility target's annual, window or max_exposure) may be
written as

    entry: {values: [60, 120, 250]}               # an axis of these values
    entry: [60, 120, 250]                         # the same, for a one-number parameter
    entry: {start: 20, stop: 260, step: 20}       # an inclusive range: 20, 40, ..., 260

A parameter that takes a list as ONE value (momentum's `lookback: [21, 63]` is a
blend of two lookbacks: `listed` below) is swept only as `{values: [...]}`, each item
one value: `lookback: {values: [[21, 63], [126, 252]]}` sweeps two blends,
`{values: [21, 63]}` two single lookbacks. A plain list there could mean either, so in
a sweep config it is refused with both spellings; in an ordinary config it is the blend
(and does not make the config a sweep config).

The grid is the Cartesian product of all such axes, in config order, the last
axis varying fastest. Each combination is an ordinary config. Its size is
counted before any axis is expanded (a grid over the limit fails at once);
values must be finite, and no axis may give the same value twice.
"""

from __future__ import annotations

import copy
import functools
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
VALUES_KEY = "values"  # {values: [...]}: an axis of exactly these values
_DECIMALS = 12  # float range values are rounded to this many decimals (0.1 + 0.2 ...)


AxisValue = float | tuple[float, ...]
"""One value of an axis: a number, or a tuple for a list-valued parameter (a blend)."""


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its path in the config and its values (numbers, or tuples of
    numbers for a list-valued parameter such as momentum's blended `lookback`)."""

    path: tuple[str | int, ...]
    values: tuple[AxisValue, ...]

    @property
    def name(self) -> str:
        """Dotted name, e.g. ``signals.ratio_breakout.entry`` or ``regimes[0].weights.IWM``."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text.lstrip(".")

    @property
    def labelled(self) -> bool:
        """True when a value is a list (a blend): the results table then holds each value
        as its text (`shown`), since a column mixing 21 and [21, 63] is neither numbers
        nor storable as parquet."""
        return any(isinstance(v, tuple) for v in self.values)

    def cell(self, value: AxisValue) -> AxisValue | str:
        """`value` as the results table holds it (`column`)."""
        return shown(value) if self.labelled else value

    def column(self, positions: Any) -> Any:
        """The results-table column of the combinations at `positions` along this axis:
        the numbers, or for a `labelled` axis each value's text (`[21, 63]`, `126`)."""
        import numpy as np

        if self.labelled:
            return np.array([shown(v) for v in self.values], dtype=object)[positions]
        return np.asarray(self.values)[positions]


def shown(value: Any) -> str:
    """An axis value as text: a number as `:g` (0.05, 120), a blend as `[21, 63]`, text
    (a labelled table cell) as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return f"{value:g}"


def magnitude(value: AxisValue) -> float:
    """A value's size for 'the largest value' of an axis: a blend by its longest lookback."""
    return max(value) if isinstance(value, tuple) else value


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


def _item_problem(item: Any, listed: bool) -> str | None:
    """Why `item` is not one value of an axis: a number, or (`listed`) a non-empty list of
    numbers; None when it is."""
    if listed and isinstance(item, list):
        if not item:
            return "an empty list is not a value; list one or more numbers"
        for j, number in enumerate(item):
            problem = _number_problem(number)
            if problem:
                return f"[{j}] {problem}"
        return None
    return _number_problem(item)


def _ambiguous(value: list, where: str) -> str:
    """The problem of a plain list at a list-valued parameter of a sweep config."""
    text = shown(value) if all(_number(v) for v in value) else "[...]"
    if all(_number(v) for v in value):
        return (
            f"{where}: {text} could be one blend of lookbacks or an axis of them; in a sweep "
            f"config write {{values: {text}}} to sweep each alone, or {{values: [{text}]}} "
            "to keep this blend in every combination"
        )
    return f"{where}: a list-valued parameter is swept as {{values: {text}}}"


def _values_axis(value: dict, where: str, listed: bool) -> int:
    """Number of values of `{values: [...]}` (each checked: `_item_problem`)."""
    if set(value) != {VALUES_KEY}:
        others = ", ".join(map(str, sorted(set(value) - {VALUES_KEY}, key=str)))
        raise ConfigError(f"{where}: an axis {{values: [...]}} takes no other key ({others})")
    items = value[VALUES_KEY]
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}.values: must be a list of one or more values")
    for i, item in enumerate(items):
        problem = _item_problem(item, listed)
        if problem:
            raise ConfigError(f"{where}.values[{i}]: {problem}")
    return len(items)


def _axis_count(value: Any, where: str, listed: bool = False) -> int | None:
    """Number of values of a swept parameter, or None when `value` is not an axis (a
    list, a range or `{values: [...]}`). `listed`: the parameter takes a list as one
    value, so a plain list there is refused as ambiguous (`_ambiguous`)."""
    if isinstance(value, dict) and VALUES_KEY in value:
        return _values_axis(value, where, listed)
    if isinstance(value, list):
        if listed:
            raise ConfigError(_ambiguous(value, where))
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


def _whole_number(value: float, where: str) -> int:
    if not float(value).is_integer():
        raise ConfigError(f"{where}: {value:g} is not a whole number (it counts bars)")
    return int(value)


def _typed(values: tuple, whole: bool, where: str, from_range: bool) -> tuple:
    """`values` as the parameter's type (int when it counts bars; a list as a tuple of
    them); refuse repeats, which would inflate the number of trials the overfitting odds
    are computed for."""
    if whole:
        values = tuple(
            tuple(_whole_number(n, where) for n in v)
            if isinstance(v, list)
            else _whole_number(v, where)
            for v in values
        )
    else:
        values = tuple(tuple(v) if isinstance(v, list) else v for v in values)
    seen = set()
    for value in values:
        if value in seen:
            if from_range:
                raise ConfigError(
                    f"{where}: rounded to {_DECIMALS} decimals, the range gives {value:g} "
                    "more than once; use a larger step"
                )
            raise ConfigError(f"{where}: {shown(value)} is listed twice; list each value once")
        seen.add(value)
    return values


def _axis_values(value: Any, count: int, whole: bool, where: str) -> tuple[AxisValue, ...]:
    """The values of a list, `{values: [...]}` or (already counted) range, in the
    parameter's type."""
    if isinstance(value, dict) and VALUES_KEY in value:
        return _typed(tuple(value[VALUES_KEY]), whole, where, from_range=False)
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


@functools.cache
def _listed_keys(model: type) -> frozenset[str]:
    """Fields of a kind's config model that take a list as one value (their JSON schema
    admits an array: momentum's `lookback`, `weights`), read from the model so a plug-in
    kind's list-valued parameter is known too."""

    def admits_array(prop: dict) -> bool:
        return prop.get("type") == "array" or any(map(admits_array, prop.get("anyOf", ())))

    properties = model.model_json_schema().get("properties", {})
    return frozenset(key for key, prop in properties.items() if admits_array(prop))


def listed(kind: Any, key: str) -> bool:
    """True when `key` of a signal or score kind takes a list as one value."""
    return key in _listed_keys(kind.model)


Place = tuple[tuple, Any, bool]
"""(path, raw value, whether the parameter is list-valued) of a place that may be swept."""


def _entry_sweepable(kind: Any, entry: dict, path: tuple) -> Iterator[Place]:
    for key in kind.sweep_keys(entry):
        if key in entry:
            yield (*path, key), entry[key], listed(kind, key)


def _rank_sweepable(i: int, rank: Any) -> Iterator[Place]:
    """The places of regime i's ranked allocation and its filter."""
    if not isinstance(rank, dict):
        return
    for key in RANK_AXES:
        if key in rank:
            yield ("regimes", i, "rank", key), rank[key], False
    spec = rank.get("filter")
    kind = _kind(SIGNAL_KINDS, spec)
    if kind is not None:
        yield from _entry_sweepable(kind, spec, ("regimes", i, "rank", "filter"))


def _sweepable(raw: dict) -> Iterator[Place]:
    """Every place a number may be swept; sections of the wrong shape are skipped here
    (the schema names them when the base config is validated)."""
    for section, registry in (("signals", SIGNAL_KINDS), ("scores", SCORE_KINDS)):
        entries = raw.get(section)
        for name, entry in entries.items() if isinstance(entries, dict) else ():
            kind = _kind(registry, entry)
            if kind is not None:  # an unknown type is named when the base config is validated
                yield from _entry_sweepable(kind, entry, (section, name))
    regimes = raw.get("regimes")
    for i, regime in enumerate(regimes if isinstance(regimes, list) else ()):
        if isinstance(regime, dict) and isinstance(regime.get("weights"), dict):
            for ticker, weight in regime["weights"].items():
                yield ("regimes", i, "weights", ticker), weight, False
        if isinstance(regime, dict):
            yield from _rank_sweepable(i, regime.get("rank"))
    for path in SECTION_AXES:
        node = raw
        for part in path:
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node is not _ABSENT:
            yield path, node, False


_ABSENT = object()

TARGET_VOL_AXES = ("annual", "window", "max_exposure")
"""Numeric keys of `portfolio.target_vol` that may be swept."""

SECTION_AXES: tuple[tuple[str, ...], ...] = (
    ("execution", "fees_bps"),
    ("execution", "slippage_bps"),
    ("execution", "rebalance", "threshold"),
    ("execution", "tolerance"),
    ("execution", "decide_day"),
    ("portfolio", "cash_yield"),
    *(("portfolio", "target_vol", key) for key in TARGET_VOL_AXES),
)
"""The sweepable places of the config's own sections, in config order (besides signal and
score parameters, regime weights and RANK_AXES): read here and by the JSON schema
(engine/config/schema.py)."""


TEXT_KEYS = {
    "signals": ("type", "series", "other"),
    "scores": ("type", "series"),
    "rank": ("score", "order", "weighting", "fallback"),
    "filter": ("type", "other"),
    "execution": ("timing", "decide", "rebalance"),
}
"""Keys whose values are names or choices, not numbers: a list there cannot be an axis."""


def _axis_like(value: Any, listed: bool = False) -> bool:
    """True when `value` is written as an axis: `{values: ...}`, a range, or a plain list
    (at a parameter that takes one number; at a list-valued one it is its value)."""
    if isinstance(value, dict):
        return VALUES_KEY in value or bool(set(value) & set(RANGE_KEYS))
    return isinstance(value, list) and not listed


def _text_lists(raw: dict) -> Iterator[str]:
    """Dotted names of the places in TEXT_KEYS where a list or `{values: ...}` is written."""

    def lists(node: Any, keys: tuple, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            for key in keys:
                value = node.get(key)
                if isinstance(value, list) or (isinstance(value, dict) and VALUES_KEY in value):
                    yield f"{where}.{key}"

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
    """Dotted names of the parameters written as an axis (`_axis_like`, well formed or
    not), and of the lists at non-numeric keys: what makes a config a sweep config. A
    plain list at a list-valued parameter is not one (in a config it is a blend)."""
    places = _sweepable(raw)
    named = [Axis(path, ()).name for path, value, many in places if _axis_like(value, many)]
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
    for path, value, many in _sweepable(raw):
        where = Axis(path, ()).name
        try:
            count = _axis_count(value, where, many)
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
        set_path(out, axis.path, list(value) if isinstance(value, tuple) else value)
    return out


def combinations(axes: list[Axis]) -> Iterator[tuple]:
    """All value tuples of the grid, the last axis varying fastest."""
    return itertools.product(*(axis.values for axis in axes))
