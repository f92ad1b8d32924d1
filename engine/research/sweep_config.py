"""Sweep configs: an ordinary config whose numeric values may be lists or ranges,
plus an optional `sweep:` section of display options.

    sweep: {metric: sharpe, top: 10, heatmap: [signals.brk.entry, signals.brk.exit],
            scenarios: [execution.fees_bps, execution.slippage_bps]}

Scenario axes are swept but not chosen: every result (the best combination, its
neighbours, the overfitting odds, the walk-forward choice) is taken within each
scenario, one combination of the scenario axes' values. Costs are scenarios by
default (`COST_AXES`, when swept: also the no-trade band and the cash yield);
`scenarios: []` makes every axis a choice.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.config import Config, config_from_dict, read_yaml, with_overrides
from engine.config.types import Whole
from engine.errors import ConfigError
from engine.limits import MAX_COMBOS as DEFAULT_MAX_COMBOS
from engine.research import grid


class SweepOptions(BaseModel):
    """What to rank by and show; each may be overridden on the command line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = "sharpe"
    top: Whole = Field(default=10, ge=1)
    heatmap: tuple[str, str] | None = None
    scenarios: list[str] | None = None  # None: the swept COST_AXES; []: none


COST_AXES = (
    "execution.fees_bps",
    "execution.slippage_bps",
    "execution.tolerance",
    "portfolio.cash_yield",
)
"""Axes that are scenarios unless `sweep.scenarios` says otherwise: costs, the no-trade
band and the cash yield are conditions to judge a strategy under, not knobs."""


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the base config (first value of every axis) and the axes."""

    raw: dict
    base: Config
    axes: list[grid.Axis]
    origin: str
    scenarios: tuple[str, ...] = ()  # full names of the scenario axes, in axis order

    @property
    def choices(self) -> list[grid.Axis]:
        """The axes chosen within each scenario (every axis that is not a scenario)."""
        return [a for a in self.axes if a.name not in self.scenarios]

    @property
    def size(self) -> int:
        return grid.grid_size(self.axes)

    def config_for(self, values: tuple) -> Config:
        """The ordinary config of one combination."""
        return config_from_dict(grid.with_values(self.raw, self.axes, values), self.origin)


def sweep_spec(
    raw: dict,
    origin: str,
    max_combos: int = DEFAULT_MAX_COMBOS,
    scenarios: list[str] | None = None,
) -> SweepSpec:
    """Find the axes (the grid size is checked before they are expanded), and
    validate every axis value. `scenarios`: the scenario axes by full or trailing
    name (`resolve_axis`); None for the default, every swept axis of COST_AXES.

    Raises:
        ConfigError: no axis, a grid over `max_combos`, an invalid value, or a
            scenario that is not a swept parameter.
    """
    axes = grid.find_axes(raw, origin, max_combos)
    if not axes:
        raise ConfigError(
            f"{origin}: nothing to sweep; write a numeric parameter as a list "
            "([60, 120]) or a range ({start: 20, stop: 260, step: 20})"
        )
    first = tuple(a.values[0] for a in axes)
    base = config_from_dict(grid.with_values(raw, axes, first), origin)
    for i, axis in enumerate(axes):  # each value once, others at their first value
        for value in axis.values[1:]:
            config_from_dict(
                grid.with_values(raw, axes, first[:i] + (value,) + first[i + 1 :]), origin
            )
    heaviest = tuple(max(a.values) if a.path[0] == "regimes" else a.values[0] for a in axes)
    config_from_dict(grid.with_values(raw, axes, heaviest), origin)  # largest weight sums
    spec = SweepSpec(raw=raw, base=base, axes=axes, origin=origin)
    names = [a.name for a in axes]
    if scenarios is None:
        chosen = {n for n in names if n in COST_AXES}
    else:
        chosen = {resolve_axis(spec, name, "scenarios") for name in scenarios}
    return dataclasses.replace(spec, scenarios=tuple(n for n in names if n in chosen))


def resolve_axis(spec: SweepSpec, name: str, what: str = "") -> str:
    """Full axis name from a full or unambiguous trailing part (`entry` for `signals.x.entry`);
    `what` names the option in the error (`scenarios`, `heatmap`)."""
    names = [a.name for a in spec.axes]
    if name in names:
        return name
    matches = [n for n in names if n.endswith("." + name)]
    if len(matches) == 1:
        return matches[0]
    where = f"sweep.{what}: " if what else ""
    raise ConfigError(
        f"{spec.origin}: {where}{name!r} is not one of the swept parameters {names} "
        "(or is ambiguous)"
    )


def load_sweep(
    path: str | Path, max_combos: int = DEFAULT_MAX_COMBOS, **overrides: Any
) -> tuple[SweepSpec, SweepOptions]:
    """Read a sweep YAML file; `overrides` replace `data.*` keys as in `load_config`."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        options = SweepOptions.model_validate(raw.pop("sweep", None) or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f".{p}" for p in first["loc"])
        message = first["msg"].replace(" or instance of SweepOptions", "")
        raise ConfigError(f"{path}: sweep{where}: {message}") from None
    raw = with_overrides(raw, path, **overrides)
    return sweep_spec(raw, str(path), max_combos, options.scenarios), options


def short_names(names: list[str]) -> dict[str, str]:
    """Each axis by its shortest unambiguous trailing part: `entry` for
    `signals.ratio_breakout.entry`, `eth_risk_on.window` when another axis ends in
    `.window` too; the full name when nothing shorter is unique."""
    out = {}
    for name in names:
        parts = name.split(".")
        for size in range(1, len(parts) + 1):
            short = ".".join(parts[-size:])
            if sum(n == short or n.endswith("." + short) for n in names) == 1:
                break
        out[name] = short
    return out


@dataclass(frozen=True)
class Scenario:
    """One combination of the scenario axes' values and the grid rows that have it.

    Attributes:
        values: {full axis name: value} of the scenario axes ({} when there are none).
        rows: positions of its combinations in the grid (results table), in grid order.
        label: `fees_bps=0, slippage_bps=1` by short names ("" when there are none).
    """

    values: dict
    rows: np.ndarray
    label: str


def scenario_groups(spec: SweepSpec) -> list[Scenario]:
    """The scenarios of a sweep in grid order (the scenario axes' values as a product, the
    last varying fastest); a single scenario holding every row when there are none.

    Within a scenario the rows keep grid order, so they form the grid of the choice axes
    (`SweepSpec.choices`) in its own order: the neighbours along a choice axis are the
    same as in the full grid."""
    shape = tuple(len(a.values) for a in spec.axes)
    position = np.indices(shape).reshape(len(shape), -1)  # [axes, rows]: index along each
    which = [i for i, a in enumerate(spec.axes) if a.name in spec.scenarios]
    short = short_names([a.name for a in spec.axes])
    out = []
    for picked in itertools.product(*(range(shape[i]) for i in which)):
        mask = np.ones(position.shape[1], dtype=bool)
        for i, k in zip(which, picked, strict=True):
            mask &= position[i] == k
        pairs = zip(which, picked, strict=True)
        values = {spec.axes[i].name: spec.axes[i].values[k] for i, k in pairs}
        label = ", ".join(f"{short[name]}={value:g}" for name, value in values.items())
        out.append(Scenario(values=values, rows=np.flatnonzero(mask), label=label))
    return out
