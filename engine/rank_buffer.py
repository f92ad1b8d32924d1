"""The rank buffer `rank.keep` (docs/semantics.md "Rank buffer"): selections that hold on.

At a decision date t of a combination, if its previous decision date decided the same
ranked regime, the assets holding slots there keep them while they are eligible and
ranked <= K at t; the other slots go to the best-ranked eligible assets not yet in a
slot. Otherwise (the first decision of a run of the regime) the selection is the plain
top k of the ranking (section 9).

So the selection at t depends on t and on the decision date s at which the current run
of the regime began, through the chain of selections from s to t, and two chains that
reach the same selection on the same date go on together. `buffered_codes` walks the
decision dates of one schedule once for a group of combinations (a numba loop: dates
outside, combinations inside, each distinct step computed once per date and reused),
keeps one row per distinct (date, selection) that differs from the plain ranking, and
writes each combination's table row into its codes. The rows' weights come from
`strategies.ranking.weigh`, like every ranked target. Nothing here depends on the order
of the combinations: a run and its one-combination sweep get the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from strategies.ranking import Ranking, weigh


@numba.njit(cache=True)
def _step(held, rank, eligible, top, keep):
    """The selection at a date from the assets `held` at the previous decision date:
    the held ones still eligible and ranked <= keep, then the best-ranked others."""
    m = rank.shape[0]
    chosen = np.zeros(m, dtype=np.bool_)
    count = 0
    for a in range(m):
        if held[a] and eligible[a] and rank[a] <= keep:
            chosen[a] = True
            count += 1
    by_rank = np.full(m, -1, dtype=np.int64)
    for a in range(m):
        if eligible[a]:
            by_rank[rank[a] - 1] = a
    for position in range(m):
        if count >= top:
            break
        a = by_rank[position]
        if a < 0:
            break
        if not chosen[a]:
            chosen[a] = True
            count += 1
    return chosen


@numba.njit(cache=True)
def _equal(a, b):
    """Whether two selections hold the same assets."""
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True


@numba.njit(cache=True)
def _find(states, start, stop, chosen):
    """Index of the row in states[start:stop] equal to `chosen`, or -1."""
    for s in range(start, stop):
        if _equal(states[s], chosen):
            return s
    return -1


@numba.njit(cache=True)
def _stored(states, dates, n, chosen, q):
    """`states`, `dates` with `chosen` (dated q) at position n, grown when full."""
    if n == states.shape[0]:
        grown = np.zeros((2 * n, states.shape[1]), dtype=np.bool_)
        grown[:n] = states
        grown_dates = np.zeros(2 * n, dtype=np.int64)
        grown_dates[:n] = dates
        states, dates = grown, grown_dates
    states[n] = chosen
    dates[n] = q
    return states, dates


@numba.njit(cache=True)
def _chains(
    regimes,
    combos,
    columns,
    regime,
    plain,
    rank,
    eligible,
    top,
    keep,
    codes,
    slots,
    plain_rows,
    extra_row,
):
    """Walk the decision dates `columns` (ascending) of one schedule for `combos`.

    Writes codes[g, slots[q]] (dates with slot -1 are history: walked, not written) for
    every combination g of `combos` deciding `regime` there: `plain_rows[q]` when its
    selection is the plain one, else `extra_row + e` for the e-th distinct buffered state.
    Returns the states [E, M] and the position q of each.
    """
    n_dates, m = plain.shape
    states = np.zeros((16, m), dtype=np.bool_)
    dates = np.zeros(16, dtype=np.int64)
    n = 0
    current = np.full(len(combos), -2, dtype=np.int64)  # -2: not in the regime; -1: plain
    previous_start = 0
    for q in range(n_dates):
        column = columns[q]
        start = n
        nexts = np.full(max(start - previous_start, 0), -3, dtype=np.int64)  # -3: not yet
        next_plain = -3
        for i in range(len(combos)):
            g = combos[i]
            if regimes[g, column] != regime:
                current[i] = -2
                continue
            before = current[i]
            if before == -2:
                current[i] = -1
            else:
                cached = next_plain if before == -1 else nexts[before - previous_start]
                if cached == -3:
                    held = plain[q - 1] if before == -1 else states[before]
                    chosen = _step(held, rank[q], eligible[q], top, keep)
                    if _equal(chosen, plain[q]):
                        cached = -1
                    else:
                        cached = _find(states, start, n, chosen)
                        if cached < 0:
                            states, dates = _stored(states, dates, n, chosen, q)
                            cached = n
                            n += 1
                    if before == -1:
                        next_plain = cached
                    else:
                        nexts[before - previous_start] = cached
                current[i] = cached
            state = current[i]
            if slots[q] >= 0:
                codes[g, slots[q]] = plain_rows[q] if state == -1 else extra_row + state
        previous_start = start
    return states[:n], dates[:n]


@dataclass(frozen=True)
class Buffered:
    """The buffered selections of one ranked parameter set that differ from its plain
    ranking, as a Ranking over E rows (`ranking`), each at decision date `dates[e]`
    (positions in the union of decision dates)."""

    ranking: Ranking
    dates: np.ndarray


def buffered_codes(
    regimes: np.ndarray,
    combos: np.ndarray,
    columns: np.ndarray,
    regime: int,
    plain: Ranking,
    top: int,
    keep: int,
    codes: np.ndarray,
    slots: np.ndarray,
    plain_row: int,
    extra_row: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The buffered selections of `combos` ([g] rows of `regimes`, [G, P] decided regime on
    the union of decision dates) on the decision dates `columns` of their schedule.

    Writes into `codes` ([G, S], one column per decision slot: `slots` [P] gives each
    date's, -1 for a date walked only as history) the table row of each combination's
    target where it decides `regime`: `plain_row + slot` where the buffer leaves the
    plain ranking's selection, else `extra_row + e` for the e-th returned state. Returns
    (states [E, M] selected masks, their dates [E] as positions in the union of decision
    dates).
    """
    states, at = _chains(
        regimes,
        combos.astype(np.int64),
        columns.astype(np.int64),
        regime,
        np.ascontiguousarray(plain.selected[columns]),
        np.ascontiguousarray(plain.rank[columns]).astype(np.int64),
        np.ascontiguousarray(plain.eligible[columns]),
        top,
        keep,
        codes,
        np.ascontiguousarray(slots[columns], dtype=np.int64),
        np.ascontiguousarray(plain_row + slots[columns], dtype=np.int64),
        extra_row,
    )
    return states, columns[at]


def weigh_states(
    plain: Ranking,
    states: np.ndarray,
    dates: np.ndarray,
    top: int,
    exposure: float,
    vol: np.ndarray | None,
    threshold: np.ndarray | float | None,
    passed: np.ndarray | None,
) -> Buffered:
    """Weights of buffered selections `states` [E, M] at `dates` (as `rank_assets` weighs
    the plain selections: slots, inverse volatility, filters after)."""
    k = np.array([[top]], dtype=np.int64)
    share = np.array([[exposure / top]])
    limit = threshold
    if isinstance(threshold, np.ndarray) and threshold.ndim:
        limit = threshold[dates]
    ranking = weigh(
        plain.score[dates],
        plain.eligible[dates],
        plain.rank[dates],
        states,
        k,
        share,
        None if vol is None else vol[dates],
        limit,
        None if passed is None else passed[dates],
    )
    return Buffered(ranking, dates)


def as_seen(plain: Ranking, buffered: Buffered, codes: np.ndarray, first_row: int) -> Ranking:
    """The ranking one combination acted on ([P, M]): the plain one, with the buffered
    selection, failures and weights on the decision dates where its `codes` ([P] table
    rows) point at a buffered row (`first_row` + e)."""
    rows = codes - first_row
    on = (rows >= 0) & (rows < len(buffered.dates))
    fields = {}
    for name in ("selected", "failed", "weight", "fallback"):
        values = np.array(getattr(plain, name))
        values[on] = getattr(buffered.ranking, name)[rows[on]]
        fields[name] = values
    return Ranking(score=plain.score, eligible=plain.eligible, rank=plain.rank, **fields)


def kept(ranking: Ranking, top: int) -> np.ndarray:
    """[P, M] assets holding a slot only by the buffer: selected while ranked beyond top."""
    return ranking.selected & (ranking.rank > top)


def step(held: np.ndarray, ranking: Ranking, top: int, keep: int) -> np.ndarray:
    """[M] the buffered selection at the one date of `ranking` ([1, M] arrays), from the
    assets `held` ([M]) at the previous decision date (for `rotation signal`)."""
    return _step(
        np.asarray(held, dtype=np.bool_),
        np.ascontiguousarray(ranking.rank[0], dtype=np.int64),
        np.ascontiguousarray(ranking.eligible[0]),
        top,
        keep,
    )


def fill_history(
    codes: np.ndarray,
    schedules,
    which: np.ndarray,
    buffered: list[int],
    decided: Callable[[np.ndarray, np.ndarray], np.ndarray],
    block: int = 32,
) -> None:
    """Fill, in place, the decided regimes `codes` ([G, P], -1 where not decided yet) on
    the decision dates before the first one some row reads, as far back as the buffer
    needs: a combination whose first read decision is a ranked regime r chains its
    selection from the start of that run of r, so its earlier dates are decided in
    blocks going back until one of its own decision dates decides another regime (or C
    begins). The others' earlier dates stay -1 (never in a ranked regime), since their
    first read selection starts afresh. `decided(combos, columns)` gives [g, c] regimes.
    """
    first_read = np.full(codes.shape[0], codes.shape[1], dtype=np.int64)
    for j in np.unique(which):
        columns = schedules.columns[j]
        read = columns[schedules.slots[columns] >= 0]
        if len(read):
            first_read[which == j] = read[0]
    reached = first_read < codes.shape[1]
    held = np.where(
        reached, codes[np.arange(len(codes)), np.minimum(first_read, codes.shape[1] - 1)], -1
    )
    pending = np.flatnonzero(reached & np.isin(held, buffered))
    end = int(first_read.min(initial=codes.shape[1]))
    checked = first_read.copy()  # per combination: its dates from here on are checked
    while len(pending) and end > 0:
        start = max(0, end - block)
        codes[pending, start:end] = decided(pending, np.arange(start, end))
        left = []
        for j in np.unique(which[pending]):
            group = pending[which[pending] == j]
            columns = schedules.columns[j]  # its dates not checked yet: [start, checked)
            columns = columns[(columns >= start) & (columns < checked[group[0]])]
            other = codes[group[:, None], columns[None, :]] != held[group, None]
            left.append(group[~other.any(axis=1)])
        checked[pending] = start
        pending = np.concatenate(left)
        end, block = start, block * 2
