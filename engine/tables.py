"""The tables of target vectors the simulators read, and each combination's codes into them.

Both simulators take the targets as a table of distinct vectors plus codes into it. For
K regimes, R ranked regimes and S decision dates that some simulated row reads (slots of
the union of every schedule's decision dates, engine.targets.Schedules; a rank buffer
also walks earlier decision dates, which need no row), a table's rows are

    [0, K)                    regime k's fixed weights (zeros, i.e. cash, for a ranked one):
                              the default's target before the first decision
    K + r S + s               ranked regime r's plain ranking at decision slot s
    K + R S + k S + s         fixed regime k at decision slot s (only with a volatility
                              target, whose scale depends on the date)
    then, per ranked regime   its rank buffer's selections that differ from the plain
    with `keep`               ranking (engine.rank_buffer), a block as long as the longest
                              of the tables' (the others padded with zeros)

and with `portfolio.target_vol` every row from K on is scaled by its date's scale
(engine.vol_target; the volatility of the plain and fixed rows is computed once per sweep
and window, `VolInputs.cache`). Combinations that differ only in signal parameters,
costs or decide_day share a table (`Targets.table_of`): one table per distinct weight
set, ranking parameter set and volatility target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine import rank_buffer, vol_target
from engine.config import Config
from engine.research.grid import Axis
from engine.targets import (
    RankInputs,
    RankPlan,
    Schedules,
    Targets,
    rank_set,
    ranked_weights,
    scheduled,
    weighing_inputs,
)


@dataclass(frozen=True)
class VolInputs:
    """What the volatility target reads: the universe's daily returns on C ([C, A]),
    the periods per year, and per combination its annual target, window and cap."""

    returns: np.ndarray
    periods: int
    annual: np.ndarray
    window: np.ndarray
    cap: np.ndarray
    cache: dict = field(default_factory=dict)  # sigma of plain and fixed rows, per sweep


def _set_index(axes: Sequence[Axis], owned: list[int], index: np.ndarray) -> np.ndarray:
    """[G] position of each combination's values of the `owned` axes in their grid order."""
    if not owned:
        return np.zeros(index.shape[1], dtype=np.int64)
    return np.ravel_multi_index(index[owned], [len(axes[i].values) for i in owned])


def _table_keys(
    axes: Sequence[Axis], index: np.ndarray, plans: Sequence[RankPlan]
) -> tuple[np.ndarray, int]:
    """[G, keys] what tells tables apart (weight axes, each ranked plan's axes, then the
    volatility target's axes), and how many leading columns are the base (unscaled) key."""
    weight_axes = [
        i for i, a in enumerate(axes) if a.path[:1] == ("regimes",) and "weights" in a.path
    ]
    keys = [_set_index(axes, weight_axes, index)] if weight_axes else []
    keys += [_set_index(axes, plan.owned, index) for plan in plans]
    base = len(keys)
    vol_axes = [i for i, a in enumerate(axes) if a.path[:2] == ("portfolio", "target_vol")]
    if vol_axes:
        keys.append(_set_index(axes, vol_axes, index))
    if not keys:
        keys = [np.zeros(index.shape[1], dtype=np.int64)]
    return np.stack(keys, axis=1), base


def _decision_codes(codes, plans, fixed_regimes, n_regimes: int, vol: bool):
    """[G, S] table row of each combination's target on each decision slot, from its
    decided regime there (`codes` [G, S]): ranked regime r -> K + r S + s; fixed regime
    k -> k, or with a volatility target K + R S + k S + s."""
    n_slots = codes.shape[1]
    first_row = np.full(n_regimes, -1, dtype=np.int64)
    for r, plan in enumerate(plans):
        first_row[plan.regime] = n_regimes + r * n_slots
    if vol:
        for k in fixed_regimes:
            first_row[k] = n_regimes + (len(plans) + k) * n_slots
    row = first_row[codes]
    fixed_row = row < 0
    row += np.arange(n_slots)
    np.copyto(row, codes, where=fixed_row)
    return row


@dataclass
class _Block:
    """A ranked regime's parameter set in the tables: its plain rows ([S, A], one per
    slot), and its buffered rows (weights [E, A] at union decision dates [E]) from `start`
    on; `key` names its plain ranking (for the volatility cache)."""

    plain: np.ndarray
    start: int
    key: str
    extra: np.ndarray | None = None
    dates: np.ndarray | None = None


@dataclass(frozen=True)
class _Grid:
    """The combinations being decided: their table keys, tables and schedules."""

    distinct: np.ndarray  # [T, keys] the distinct table keys
    offset: int  # column of the first ranked plan's key
    table_of: np.ndarray  # [G] table of each combination
    schedules: Schedules
    which: np.ndarray  # [G] schedule of each combination


def _ranked_blocks(grid: _Grid, plans, codes, dc, inputs, universe, n_regimes, start, record):
    """Rank every parameter set once (plain rankings shared by sets that differ only in
    `keep`), chain the rank buffer of each set's combinations, and write their codes into
    `dc`. Returns {(r, set id): _Block} and the first row after the buffered blocks."""
    read = grid.schedules.read
    decided = np.flatnonzero((codes >= 0).any(axis=0))
    walked = int(decided[0]) if len(decided) else codes.shape[1]  # before: decided by none
    blocks: dict[tuple[int, int], _Block] = {}
    free = start
    for r, plan in enumerate(plans):
        set_ids = grid.distinct[:, grid.offset + r]
        used = [plan.sets[int(i)] for i in np.unique(set_ids)]
        inputs.prefetch(plan.score_type, [s.score for s in used], plan.rank.assets)
        if plan.rank.weighting == "inverse_vol":
            windows = [{"window": s.vol_window} for s in used]
            inputs.prefetch("volatility", windows, plan.rank.assets)
        plain_of: dict[str, object] = {}
        longest = 0
        for set_id in np.unique(set_ids):
            chosen = plan.sets[int(set_id)]
            key = chosen.ranking_key()
            if key not in plain_of:
                plain_of[key] = rank_set(plan, chosen, inputs)
            ranking = plain_of[key]
            block = _Block(ranked_weights(plan, ranking, universe)[read], free, key)
            seen = ranking
            if chosen.keep is not None:
                members = np.flatnonzero(set_ids[grid.table_of] == set_id)
                extra = _buffer(
                    grid,
                    (r, plan, chosen),
                    ranking,
                    codes,
                    dc,
                    members,
                    walked,
                    (n_regimes + r * len(read), free),
                    inputs,
                )
                block.extra = ranked_weights(plan, extra.ranking, universe)
                block.dates = extra.dates
                longest = max(longest, len(extra.dates))
                if record is not None:
                    on_dates = np.full(codes.shape[1], -1, dtype=np.int64)
                    on_dates[read] = dc[0]
                    seen = rank_buffer.as_seen(ranking, extra, on_dates, free)
            if record is not None:
                record[plan.regime] = seen
            blocks[(r, int(set_id))] = block
        free += longest
    return blocks, free


def _buffer(grid: _Grid, ranked, ranking, codes, dc, members, walked, rows, inputs):
    """The buffered selections of one ranked parameter set for its combinations `members`,
    chained per schedule from the first date some combination decided (`walked`), their
    codes written into `dc` (`rows`: the set's first plain row and first buffered row);
    returns them weighed (rank_buffer.Buffered)."""
    r, plan, chosen = ranked
    plain_row, extra_row = rows
    states, dates = [], []
    for j in np.unique(grid.which[members]):
        group = members[grid.which[members] == j]
        columns = grid.schedules.columns[j]
        found, at = rank_buffer.buffered_codes(
            codes,
            group,
            columns[columns >= walked],
            plan.regime,
            ranking,
            chosen.top,
            chosen.keep,
            dc,
            grid.schedules.slots,
            plain_row,
            extra_row + sum(len(s) for s in states),
        )
        states.append(found)
        dates.append(at)
    m = len(plan.rank.assets)
    states = np.concatenate(states) if states else np.zeros((0, m), dtype=bool)
    dates = np.concatenate(dates) if dates else np.zeros(0, dtype=np.int64)
    vol, threshold, passed = weighing_inputs(plan, chosen, inputs)
    return rank_buffer.weigh_states(
        ranking, states, dates, chosen.top, chosen.exposure, vol, threshold, passed
    )


def build_targets(
    config: Config,
    axes: Sequence[Axis],
    index: np.ndarray,
    regimes: np.ndarray,
    codes: np.ndarray,
    schedules: Schedules,
    which: np.ndarray,
    plans: Sequence[RankPlan],
    inputs: RankInputs | None,
    fixed: np.ndarray,
    vol: VolInputs | None = None,
    record: dict | None = None,
) -> Targets:
    """Tables and codes for the combinations `index` ([axes, G]).

    Args:
        regimes: [G, rows] decided regime per row (the prior row included, if any).
        codes: [G, P] decided regime on the union of decision dates.
        schedules, which: the schedules and each combination's ([G]).
        fixed: [G, K, A] fixed weights of each regime per combination (zeros for ranked).
        vol: the volatility target's inputs, None without one.
        record: when a dict, filled with {regime position: Ranking as acted on} (runs).
    """
    n_regimes = fixed.shape[1]
    if not plans and vol is None:
        return Targets(fixed, np.arange(index.shape[1]), regimes)
    universe = list(config.universe)
    n_slots = len(schedules.read)
    keys, base = _table_keys(axes, index, plans)
    distinct, table_of = np.unique(keys, axis=0, return_inverse=True)
    table_of = table_of.reshape(-1)
    first = np.zeros(len(distinct), dtype=np.int64)
    first[table_of[::-1]] = np.arange(index.shape[1])[::-1]  # a combination per table
    fixed_regimes = [k for k, r in enumerate(config.regimes) if r.rank is None]
    dc = _decision_codes(
        schedules.on_read(codes),
        plans,
        fixed_regimes,
        n_regimes,
        vol is not None,
    )
    start = n_regimes + (len(plans) + (n_regimes if vol is not None else 0)) * n_slots
    grid = _Grid(distinct, base - len(plans), table_of, schedules, which)
    blocks, size = _ranked_blocks(
        grid, plans, codes, dc, inputs, universe, n_regimes, start, record
    )
    tables = _filled(grid, blocks, fixed[first], (size, n_slots, len(plans)), vol is not None)
    scales = None
    if vol is not None:
        scales = _scale(tables, grid, blocks, fixed, first, (len(plans), fixed_regimes), vol)
    rows = scheduled(dc, schedules.on_slots(), n_regimes - 1, which)
    if regimes.shape[1] > rows.shape[1]:  # the prior row: the default before any decision
        prior = np.full((rows.shape[0], 1), n_regimes - 1, dtype=np.int64)
        rows = np.hstack([prior, rows])
    return Targets(tables, table_of, rows, scales)


def _filled(grid: _Grid, blocks, fixed: np.ndarray, sizes: tuple, vol: bool):
    """[T, rows, A] the tables (layout in the module docstring) from each table's fixed
    weights ([T, K, A]) and the ranked blocks (`sizes`: rows of a table, slots, ranked
    regimes); with a volatility target the fixed rows are repeated per slot (scaled
    afterwards)."""
    size, n_slots, n_plans = sizes
    n_tables, n_regimes, n_assets = fixed.shape
    tables = np.zeros((n_tables, size, n_assets))
    tables[:, :n_regimes] = fixed
    for (r, set_id), block in blocks.items():
        on = grid.distinct[:, grid.offset + r] == set_id
        tables[on, n_regimes + r * n_slots : n_regimes + (r + 1) * n_slots] = block.plain
        if block.extra is not None:
            tables[on, block.start : block.start + len(block.dates)] = block.extra
    if vol:
        for k in range(n_regimes):
            at = n_regimes + (n_plans + k) * n_slots
            tables[:, at : at + n_slots] = fixed[:, k][:, None, :]
    return tables


def _scale(tables, grid: _Grid, blocks, fixed, first, regimes: tuple, vol: VolInputs):
    """Scale, in place, every row from K on of each table by its volatility target
    (engine.vol_target); returns the scales ([T, rows], 1 where unscaled). `regimes`: the
    number of ranked regimes and the positions of the fixed ones. The volatility of plain
    ranked rows and fixed rows is kept in `vol.cache` for the whole sweep (it depends only
    on the weights, the dates and the window), that of buffered rows (which depend on the
    combinations at hand) for this call."""
    n_regimes = fixed.shape[1]
    n_plans, fixed_regimes = regimes
    schedules = grid.schedules
    ends = schedules.decisions[schedules.read]  # positions in C of the slots' dates
    n_slots = len(ends)
    scales = np.ones(tables.shape[:2])
    here: dict[tuple, np.ndarray] = {}

    def sigma(key: tuple, weights: np.ndarray, at: np.ndarray, window: int) -> np.ndarray:
        memo = here if key[0] == "buffer" else vol.cache
        if key not in memo:
            memo[key] = vol_target.target_sigma(weights, at, vol.returns, window, vol.periods)
        return memo[key]

    for t, g in enumerate(first):
        window = int(vol.window[g])
        parts = []
        for (r, set_id), block in blocks.items():
            if grid.distinct[t, grid.offset + r] != set_id:
                continue
            rows = n_regimes + r * n_slots + np.arange(n_slots)
            parts.append((rows, sigma(("rank", r, block.key, window), block.plain, ends, window)))
            if block.extra is not None:
                extra = block.start + np.arange(len(block.dates))
                at = schedules.decisions[block.dates]
                parts.append((extra, sigma(("buffer", r, set_id, window), block.extra, at, window)))
        for k in fixed_regimes:
            rows = n_regimes + (n_plans + k) * n_slots + np.arange(n_slots)
            weights = np.broadcast_to(fixed[g, k], (n_slots, fixed.shape[2]))
            key = ("fixed", k, tuple(fixed[g, k].tolist()), window)
            parts.append((rows, sigma(key, weights, ends, window)))
        for rows, values in parts:
            scale = vol_target.scale_of(values, float(vol.annual[g]), float(vol.cap[g]))
            tables[t, rows] *= scale[:, None]
            scales[t, rows] = scale
    return scales
