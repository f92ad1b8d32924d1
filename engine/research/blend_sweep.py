"""Sweeps of a blend (engine/config/blend.py): its own keys, member weights, members' keys.

A blend file is a sweep config when it writes an axis (a list, a range or
`{values: [...]}`, engine/research/grid.py) at

    blend[j].weight                  a member's weight, e.g. weight: [0.3, 0.5, 0.7]
    blend[j].<path>                  a member's own parameter: an axis written in the
                                     member's file (or inline entry), e.g.
                                     blend[0].signals.brk.entry
    execution.fees_bps, ...          the blend's own execution and portfolio keys (costs,
                                     band, rebalance threshold, cash yield, its
                                     volatility target), as in any sweep config

The grid is the product of the axes in that order (entries in blend order, each its
weight then its member's axes; then the blend's own), the last varying fastest. A
member's axis at a key the blend sets for it (its costs, cash, data) is refused: the
blend's applies. Every combination is validated up front like a blend file (weights
summing to at most 1 among them: the weights' largest values together are checked).
"""

from __future__ import annotations

from pathlib import Path

from engine.config.blend_members import BLEND_EXECUTION, check_blend, inline_members
from engine.errors import ConfigError
from engine.research import grid

SHARED_PATHS = ("data", "benchmark", "stats")


def _member_axes(entry: dict, j: int, max_combos: int):
    """(axes, problems) of entry j: its weight, then its member's own axes."""
    axes, problems = [], []
    where = f"blend[{j}].weight"
    try:
        count = grid._axis_count(entry.get("weight"), where)
        if count is not None:
            values = grid._axis_values(entry["weight"], count, False, where)
            axes.append(grid.Axis(("blend", j, "weight"), values))
    except ConfigError as exc:
        problems.append(exc.message)
    member = {k: v for k, v in entry.items() if k not in ("config", "weight")}
    found, lines, _ = grid.scan_axes(member, max_combos)
    problems += [f"blend[{j}].{line}" for line in lines]
    for axis in found:
        shared = axis.path[0] in SHARED_PATHS
        shared |= axis.path[0] == "execution" and axis.path[1] in BLEND_EXECUTION
        shared |= axis.path[:2] == ("portfolio", "cash_yield")
        if shared:
            problems.append(
                f"blend[{j}].{axis.name}: swept in a member, but the blend's own "
                f"{axis.path[0]} applies to every member; sweep {axis.name} on the blend"
            )
            continue
        axes.append(grid.Axis(("blend", j, *axis.path), axis.values))
    return axes, problems


def blend_axes(raw: dict, max_combos: int) -> tuple[list[grid.Axis], list[str]]:
    """Every axis of a blend (module docstring), with every problem of the grid."""
    axes, problems = [], []
    entries = raw.get("blend") if isinstance(raw.get("blend"), list) else []
    for j, entry in enumerate(entries):
        if isinstance(entry, dict):
            found, lines = _member_axes(entry, j, max_combos)
            axes += found
            problems += lines
    own, lines, _ = grid.scan_axes({k: v for k, v in raw.items() if k != "blend"}, max_combos)
    axes += own
    problems += lines
    size = grid.grid_size(axes)
    if size > max_combos:
        shape = " x ".join(f"{len(a.values):,} {a.name}" for a in axes)
        problems.append(
            f"the grid has {size:,} combinations ({shape}), over the limit of {max_combos:,}; "
            "shrink an axis or raise --max-combos"
        )
    return axes, problems


def _heaviest(axes: list[grid.Axis]) -> tuple:
    """Each weight and member regime axis at its largest value, the others at their first."""
    return tuple(
        max(a.values, key=grid.magnitude)
        if a.path[2:] == ("weight",) or a.path[2:3] == ("regimes",)
        else a.values[0]
        for a in axes
    )


def blend_grid(raw: dict, max_combos: int, path: Path | None = None) -> tuple:
    """(raw with its members inline, their labels, the axes, the base Blend or None, the
    problems) of a blend swept (its member files relative to the blend file `path`,
    default the working folder): what engine.research.sweep_config.sweep_spec makes a
    SweepSpec of."""
    raw, labels, problems = inline_members(raw, path.parent if path else Path("."), path)
    axes, lines = blend_axes(raw, max_combos)
    problems += lines
    if not axes and not lines:
        problems.append(
            "nothing to sweep; write a weight, a member's parameter or one of the blend's "
            "own keys as a list ([0.3, 0.5]), a range or {values: [...]}"
        )
    base = None
    if not problems:
        base, problems = _combinations(raw, axes, labels)
    return raw, tuple(labels), axes, base, problems


def _combinations(raw: dict, axes: list[grid.Axis], labels: list) -> tuple:
    """(the base blend or None, problems): the first value of every axis, each other value
    of each axis, and the heaviest weights, each validated as a blend."""
    first = tuple(a.values[0] for a in axes)
    base, seen = check_blend(grid.with_values(raw, axes, first), labels)
    problems = list(seen)
    variants = [
        (first[:i] + (value,) + first[i + 1 :], f"with {axis.name} = {grid.shown(value)}")
        for i, axis in enumerate(axes)
        for value in axis.values[1:]
    ]
    heaviest = _heaviest(axes)
    if heaviest != first:
        variants.append((heaviest, "with the swept weights and regime values at their largest"))
    for values, which in variants:
        for problem in check_blend(grid.with_values(raw, axes, values), labels)[1]:
            if problem not in problems:
                problems.append(f"{problem} ({which})")
    return (base if not problems else None), problems
