"""A blend's target tables and codes, from its members' (engine/blend.py).

Combinations whose members read the same tables with the same weights (and the same
volatility target of the blend's own) share one blend table. Its rows are the distinct
tuples (code of member 0, ..., code of member J-1[, latest date some member decided])
over those combinations and dates, each row

    sum_j W_j * row_j   (over the blend's universe, members added in blend order)

scaled, with the blend's `portfolio.target_vol`, by its volatility at the latest date
some member decided (engine.vol_target; unscaled before any member decides). The
decided regime is the tuple of the members' regimes: its position among the joined
names (product order) while they are few (engine.config.blend.MOST_REGIMES), else a code
that only tells tuples apart (what `switches` needs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from engine import pipeline, vol_target
from engine.config.blend import MOST_REGIMES, Blend
from engine.research.grid import Axis
from engine.targets import Targets


def tuple_ids(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, first): a dense id per position of the equally long integer `columns` (>= 0),
    equal for equal tuples, and the first position of each id (ids ascend with the
    tuples' lexicographic order). One sort per column: no product of sizes overflows."""
    n = len(columns[0]) if len(columns) else 0
    ids = np.zeros(n, dtype=np.int64)
    for column in columns:
        column = np.asarray(column, dtype=np.int64)
        _, ids = np.unique(ids * (int(column.max(initial=0)) + 1) + column, return_inverse=True)
        ids = ids.reshape(-1).astype(np.int64)
    count = int(ids.max(initial=-1)) + 1
    first = np.zeros(count, dtype=np.int64)
    first[ids[::-1]] = np.arange(n)[::-1]
    return ids, first


def joined_codes(blend: Blend, regimes: Sequence[np.ndarray]) -> np.ndarray:
    """[G, rows] the blend's decided regime from each member's ([G, rows] each): the
    position of the joined name in product order (members in blend order, the first
    varying slowest), or beyond MOST_REGIMES a code telling the tuples apart."""
    sizes = [len(m.config.regimes) for m in blend.members]
    if math.prod(sizes) <= MOST_REGIMES:
        code = np.zeros_like(regimes[0])
        for size, regime in zip(sizes, regimes, strict=True):
            code = code * size + regime
        return code
    ids, _ = tuple_ids([r.ravel() for r in regimes])
    return ids.reshape(regimes[0].shape)


def member_weights(blend: Blend, axes: Sequence[Axis], index: np.ndarray) -> np.ndarray:
    """[G, J] each combination's member weights W_j (`blend[j].weight`, swept or not)."""
    return np.column_stack(
        [
            pipeline.per_combo(axes, index, ("blend", j, "weight"), member.weight)
            for j, member in enumerate(blend.members)
        ]
    )


def _blend_vol(blend: Blend, axes: Sequence[Axis], index: np.ndarray):
    """[G, 3] the blend's own volatility target (annual, window, cap) per combination, or
    None without one."""
    target = blend.portfolio.target_vol
    if target is None:
        return None
    path = ("portfolio", "target_vol")
    return np.column_stack(
        [
            pipeline.per_combo(axes, index, (*path, key), getattr(target, key))
            for key in ("annual", "window", "max_exposure")
        ]
    )


def blend_targets(blend: Blend, decisions, axes: Sequence[Axis], index: np.ndarray, members):
    """The blend's Targets for the combinations `index` from its members' decisions
    (engine.blend.Decided, one per member): see the module docstring."""
    universe = list(blend.universe)
    columns = [np.array([universe.index(t) for t in m.config.universe]) for m in blend.members]
    weights = member_weights(blend, axes, index)
    vol = _blend_vol(blend, axes, index)
    keys = [m.targets.table_of for m in members]
    keys.append(np.unique(weights, axis=0, return_inverse=True)[1].reshape(-1))
    if vol is not None:
        keys.append(np.unique(vol, axis=0, return_inverse=True)[1].reshape(-1))
    group, firsts = tuple_ids(keys)
    shape = members[0].targets.codes.shape
    codes = np.empty(shape, dtype=np.int64)
    tables, scales = [], []
    for t, g0 in enumerate(firsts):
        combos = np.flatnonzero(group == t)
        parts = [m.targets.codes[combos].ravel() for m in members]
        latest = None
        if vol is not None:
            latest = np.max([m.latest[combos] for m in members], axis=0).ravel()
            parts.append(latest + 1)
        ids, first = tuple_ids(parts)
        codes[combos] = ids.reshape(len(combos), shape[1])
        table = np.zeros((len(first), len(universe)))
        for j, member in enumerate(members):
            rows = member.targets.tables[member.targets.table_of[g0]][parts[j][first]]
            table[:, columns[j]] += weights[g0, j] * rows
        scale = np.ones(len(first))
        if vol is not None:
            scale = _scaled(table, latest[first], vol[g0], decisions, blend)
        tables.append(table)
        scales.append(scale)
    size = max(len(table) for table in tables)
    padded = np.zeros((len(tables), size, len(universe)))
    out_scales = np.ones((len(tables), size))
    for t, (table, scale) in enumerate(zip(tables, scales, strict=True)):
        padded[t, : len(table)] = table
        out_scales[t, : len(table)] = scale
    return Targets(padded, group, codes, out_scales if vol is not None else None)


def _scaled(table: np.ndarray, latest: np.ndarray, vol: np.ndarray, decisions, blend: Blend):
    """Scale, in place, the rows of `table` decided at `latest` (positions in C; -1: no
    member has decided yet, unscaled) by the blend's volatility target; their scales."""
    annual, window, cap = float(vol[0]), int(vol[1]), float(vol[2])
    scale = np.ones(len(table))
    decided = np.flatnonzero(latest >= 0)
    if len(decided):
        periods = blend.annual_periods()
        sigma = vol_target.target_sigma(
            table[decided], latest[decided], decisions.returns, window, periods
        )
        scale[decided] = vol_target.scale_of(sigma, annual, cap)
        table[decided] *= scale[decided][:, None]
    return scale
