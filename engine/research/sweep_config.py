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

import copy
import dataclasses
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.config import Config, check_config, read_yaml, with_overrides
from engine.config.repair import touches, validate
from engine.config.types import Whole
from engine.config.words import shown
from engine.errors import ConfigError
from engine.limits import MAX_COMBOS as DEFAULT_MAX_COMBOS
from engine.research import grid


class SweepOptions(BaseModel):
    """What to rank by and show; each may be overridden on the command line."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    metric: str = "sharpe"
    """The statistic combinations are ranked by (default of --metric), e.g. sharpe, calmar."""
    top: Whole = Field(default=10, ge=1)
    """How many of the best combinations the tables show (default of --top)."""
    heatmap: tuple[str, str] | None = None
    """The two axes of the tearsheet's heatmap, full or trailing names (default of
    --heatmap), e.g. [entry, exit]."""
    scenarios: list[str] | None = None  # None: the swept COST_AXES; []: none
    """Axes swept but never chosen: every result is taken within each combination of their
    values (default: the swept costs, tolerance and cash_yield; [] makes every axis a
    choice)."""


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
    labels: tuple = ()  # a blend's: where each member came from (engine.config.blend_members)

    @property
    def choices(self) -> list[grid.Axis]:
        """The axes chosen within each scenario (every axis that is not a scenario)."""
        return [a for a in self.axes if a.name not in self.scenarios]

    @property
    def size(self) -> int:
        return grid.grid_size(self.axes)

    def config_for(self, values: tuple) -> Config:
        """The ordinary config of one combination (a Blend for a blend or a config in
        tranches: engine.config.load)."""
        raw = grid.with_values(self.raw, self.axes, values)
        if "blend" in raw:
            from engine.config.blend_members import check_blend

            blend, problems = check_blend(raw, list(self.labels))
            if problems:
                raise ConfigError.listing(self.origin, problems)
            return blend
        from engine.config.load import config_from_dict

        return config_from_dict(raw, self.origin)


def sweep_spec(
    raw: dict,
    origin: str,
    max_combos: int = DEFAULT_MAX_COMBOS,
    scenarios: list[str] | None = None,
    problems: Sequence[str] = (),
    path: Path | None = None,
) -> SweepSpec:
    """Find the axes (the grid size is checked before they are expanded), and
    validate every axis value. `scenarios`: the scenario axes by full or trailing
    name (`resolve_axis`); None for the default, every swept axis of COST_AXES.
    `problems`: found before (in the `sweep:` section), reported with the others.
    A blend is swept by engine.research.blend_sweep (its member files relative to
    `path`, the file read), a config in tranches as the blend of its copies.

    Raises:
        ConfigError: every problem at once: no axis, a grid over `max_combos`, a
            malformed axis, a config problem of the base combination or of any axis
            value (saying which), or a scenario that is not a swept parameter.
    """
    labels = ()
    if "blend" in raw:
        from engine.research.blend_sweep import blend_grid

        raw, labels, axes, base, found = blend_grid(raw, max_combos, path)
        problems = [*problems, *found]
    else:
        axes, found, broken = grid.scan_axes(raw, max_combos)
        problems = [*problems, *found]
        if not axes and not found:
            problems.append(
                "nothing to sweep; write a numeric parameter as a list ([60, 120]), a range "
                "({start: 20, stop: 260, step: 20}) or {values: [60, 120]}"
            )
        base = _combination_problems(raw, axes, broken, problems)
    names = [a.name for a in axes]
    if scenarios is None:
        chosen = {n for n in names if n in COST_AXES}
    else:
        chosen = set()
        for name in scenarios:
            full = axis_named(names, name)
            if full is None:
                problems.append(f"sweep.scenarios: {_not_an_axis(name, names)}")
            chosen.add(full)
    if problems or base is None:
        raise ConfigError.listing(origin, problems)
    if base.execution.tranches is not None and not hasattr(base, "members"):
        from engine.config.blend import tranche_blend  # each combination: its tranches

        base = tranche_blend(base)
    spec = SweepSpec(raw=raw, base=base, axes=axes, origin=origin, labels=labels)
    return dataclasses.replace(spec, scenarios=tuple(n for n in names if n in chosen))


def _combination_problems(
    raw: dict, axes: list[grid.Axis], broken: list[str], problems: list[str]
) -> Config | None:
    """Validate the base combination (every axis at its first value), each other value of
    each axis (the others at their first) and the heaviest combination (regime axes at
    their largest); add each new problem to `problems`, saying which value gives it.
    Returns the base config, or None when it has problems."""
    plain = copy.deepcopy(raw)
    for name in broken:  # a malformed axis is reported by the grid; check the rest
        path = _path(plain, name)
        if path is not None:
            grid.set_path(plain, path, None)
    first = tuple(a.values[0] for a in axes)
    base, seen = check_config(grid.with_values(plain, axes, first))
    problems += [p for p in seen if not touches(p.split(":", 1)[0], broken)]
    seen = set(seen)
    variants = [
        (first[:i] + (value,) + first[i + 1 :], f"with {axis.name} = {grid.shown(value)}")
        for i, axis in enumerate(axes)
        for value in axis.values[1:]
    ]
    heaviest = tuple(
        max(a.values, key=grid.magnitude) if a.path[0] == "regimes" else a.values[0] for a in axes
    )
    if heaviest != first:
        variants.append((heaviest, "with the swept regime values at their largest"))
    for values, which in variants:
        for problem in check_config(grid.with_values(plain, axes, values))[1]:
            if problem not in seen and not touches(problem.split(":", 1)[0], broken):
                seen.add(problem)
                problems.append(f"{problem} ({which})")
    return base


def _path(raw: dict, name: str) -> tuple | None:
    """The path of a dotted name (`regimes[0].weights.IWM`) in `raw`, or None."""
    node, path = raw, []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", name):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
        path.append(key)
    return tuple(path)


def axis_named(names: list[str], name: str) -> str | None:
    """The full axis name of a full or unambiguous trailing part (`entry` for
    `signals.x.entry`), or None."""
    if name in names:
        return name
    matches = [n for n in names if n.endswith("." + name)]
    return matches[0] if len(matches) == 1 else None


def _not_an_axis(name: str, names: list[str]) -> str:
    return f"{name!r} is not one of the swept parameters {names} (or is ambiguous)"


def resolve_axis(spec: SweepSpec, name: str, what: str = "") -> str:
    """Full axis name from a full or unambiguous trailing part (`entry` for `signals.x.entry`);
    `what` names the option in the error (`scenarios`, `heatmap`)."""
    names = [a.name for a in spec.axes]
    full = axis_named(names, name)
    if full is not None:
        return full
    where = f"sweep.{what}: " if what else ""
    raise ConfigError(f"{spec.origin}: {where}{_not_an_axis(name, names)}")


def load_sweep(
    path: str | Path, max_combos: int = DEFAULT_MAX_COMBOS, **overrides: Any
) -> tuple[SweepSpec, SweepOptions]:
    """Read a sweep YAML file; `overrides` replace `data.*` keys as in `load_config`.

    Raises:
        ConfigError: every problem at once, the `sweep:` section's with the others.
    """
    path = Path(path)
    return sweep_of(read_yaml(path), str(path), path, max_combos, **overrides)


def sweep_of(
    raw: dict, origin: str, path: Path, max_combos: int = DEFAULT_MAX_COMBOS, **overrides: Any
) -> tuple[SweepSpec, SweepOptions]:
    """`load_sweep` of a parsed sweep config (a dict shaped like the YAML; it is not
    changed): `origin` names it in errors, a relative `data.dir` is read from `path`'s
    folder.

    Raises:
        ConfigError: every problem at once, the `sweep:` section's with the others.
    """
    raw = dict(raw)
    raw_section = raw.pop("sweep", None)
    options, problems = sweep_options(raw_section)
    raw = with_overrides(raw, path, **overrides)
    if options is not None:
        scenarios = options.scenarios
    else:  # a broken section: its scenario names are still checked when they are names
        given = raw_section.get("scenarios") if isinstance(raw_section, dict) else None
        names = isinstance(given, list) and all(isinstance(n, str) for n in given)
        scenarios = given if names else None
    spec = sweep_spec(raw, origin, max_combos, scenarios, problems, path)
    return spec, options


def sweep_options(section: Any) -> tuple[SweepOptions | None, list[str]]:
    """The `sweep:` section (absent: the defaults), or None and its problems in our words."""
    if section is None:
        return SweepOptions(), []
    if not isinstance(section, dict):
        return None, [f"sweep: must be a mapping (metric:, top:, ...), not {shown(section)}"]
    options, problems = validate(section, SweepOptions, ())
    return options, [f"sweep.{p}" for p in problems]


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
        label = ", ".join(f"{short[name]}={grid.shown(value)}" for name, value in values.items())
        out.append(Scenario(values=values, rows=np.flatnonzero(mask), label=label))
    return out
