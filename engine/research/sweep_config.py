"""Sweep configs: an ordinary config whose numeric values may be lists or ranges,
plus an optional `sweep:` section of display options.

    sweep: {metric: sharpe, top: 10, heatmap: [signals.brk.entry, signals.brk.exit]}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the base config (first value of every axis) and the axes."""

    raw: dict
    base: Config
    axes: list[grid.Axis]
    origin: str

    @property
    def size(self) -> int:
        return grid.grid_size(self.axes)

    def config_for(self, values: tuple) -> Config:
        """The ordinary config of one combination."""
        return config_from_dict(grid.with_values(self.raw, self.axes, values), self.origin)


def sweep_spec(raw: dict, origin: str, max_combos: int = DEFAULT_MAX_COMBOS) -> SweepSpec:
    """Find the axes (the grid size is checked before they are expanded), and
    validate every axis value.

    Raises:
        ConfigError: no axis, a grid over `max_combos`, or an invalid value.
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
    return SweepSpec(raw=raw, base=base, axes=axes, origin=origin)


def resolve_axis(spec: SweepSpec, name: str) -> str:
    """Full axis name from a full or unambiguous trailing part (`entry` for `signals.x.entry`)."""
    names = [a.name for a in spec.axes]
    if name in names:
        return name
    matches = [n for n in names if n.endswith("." + name)]
    if len(matches) == 1:
        return matches[0]
    raise ConfigError(
        f"{spec.origin}: {name!r} is not one of the swept parameters {names} (or is ambiguous)"
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
    return sweep_spec(with_overrides(raw, path, **overrides), str(path), max_combos), options
