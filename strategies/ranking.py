"""Ranked allocations (docs/scores.md, docs/semantics.md "Ranked allocations"): scores ->
selected assets -> target weights, for many dates and parameter sets at once.

At each decision date, over the M candidate assets of one rank regime:

1. eligible: the score is defined (and, for inverse_vol, the volatility is defined and > 0);
2. eligible assets are sorted by score (highest first, or lowest first), ties keeping
   the order of `assets`; the first k fill the k slots, each carrying E/k
   (E = exposure); with fewer than k eligible assets the other slots stay empty;
3. inverse_vol: the f filled slots' total E f / k is split in proportion to 1 / sigma_i;
4. absolute filters after ranking: a selected asset whose score is <= min_score (or
   whose threshold is undefined), or whose filter signal is False, keeps its slot and
   gives the slot's weight to the fallback (or cash); so does every empty slot.

Every array has the shape [..., D, M] (or [..., D] per date): leading axes are
parameter sets, D decision dates, M candidates in `assets` order. No Python loop
over dates or sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranking:
    """What a rank regime decided, per parameter set, date and candidate.

    Attributes:
        score: [..., D, M] the scores ranked (NaN where undefined).
        eligible: [..., D, M] the score (and volatility, for inverse_vol) is usable.
        rank: [..., D, M] 1-based position among the eligible, 0 when not eligible.
        selected: [..., D, M] in one of the top k slots.
        failed: [..., D, M] selected but failing min_score or the filter (slot to fallback).
        weight: [..., D, M] weight held in each candidate (0 when failed or not selected).
        fallback: [..., D] weight given to the fallback (or cash): failed and empty slots.
    """

    score: np.ndarray
    eligible: np.ndarray
    rank: np.ndarray
    selected: np.ndarray
    failed: np.ndarray
    weight: np.ndarray
    fallback: np.ndarray


def _stable_order(key: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """np.argsort(key, kind="stable") along the last axis, at the positions that are used
    (the eligible assets'; ineligible keys are +inf and come after them). A quicksort
    gives the same positions on a row whose finite keys are all distinct and whose
    eligible keys are all finite, and is several times faster; other rows are sorted
    again with the stable sort."""
    order = np.argsort(key, axis=-1)
    ranked = np.take_along_axis(key, order, axis=-1)
    tied = ((ranked[..., 1:] == ranked[..., :-1]) & np.isfinite(ranked[..., 1:])).any(axis=-1)
    tied |= (eligible & ~np.isfinite(key)).any(axis=-1)
    if tied.any():
        order[tied] = np.argsort(key[tied], axis=-1, kind="stable")
    return order


def rank_assets(
    score: np.ndarray,
    top: np.ndarray | int,
    exposure: np.ndarray | float = 1.0,
    lowest: bool = False,
    vol: np.ndarray | None = None,
    threshold: np.ndarray | float | None = None,
    passed: np.ndarray | None = None,
) -> Ranking:
    """Rank candidates and weigh the selection (steps 1-4 of the module docstring).

    Args:
        score: [..., D, M] scores, NaN where undefined.
        top: k, a scalar or one per leading set (shape broadcastable to score[..., 0, 0]).
        exposure: E in (0, 1], like `top`.
        lowest: sort lowest score first (`order: lowest`).
        vol: [..., D, M] volatility for inverse_vol weighting, None for equal weights.
        threshold: min_score per date ([..., D], NaN = undefined threshold) or a number;
            None for no min_score.
        passed: [..., D, M] the filter signal of each candidate, None for no filter.
    """
    score = np.asarray(score, dtype=float)
    lead = score.shape[:-2]
    k = np.broadcast_to(np.asarray(top, dtype=np.int64), lead)[..., None, None]
    share = np.broadcast_to(np.asarray(exposure, dtype=float), lead)[..., None, None] / k

    eligible = ~np.isnan(score)
    if vol is not None:
        with np.errstate(invalid="ignore"):
            eligible &= vol > 0  # NaN compares False
    key = np.where(eligible, score if lowest else -score, np.inf)
    order = _stable_order(key, eligible)  # ties keep the order of `assets`
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.arange(score.shape[-1]), axis=-1)
    selected = eligible & (position < k)
    rank = np.where(eligible, position + 1, 0)

    return weigh(score, eligible, rank, selected, k, share, vol, threshold, passed)


def weigh(
    score: np.ndarray,
    eligible: np.ndarray,
    rank: np.ndarray,
    selected: np.ndarray,
    k: np.ndarray,
    share: np.ndarray,
    vol: np.ndarray | None = None,
    threshold: np.ndarray | float | None = None,
    passed: np.ndarray | None = None,
) -> Ranking:
    """Weights of a selection (steps 3-4 of the module docstring): each filled slot E/k,
    or with `vol` the f filled slots' total E f / k split in proportion to 1 / sigma;
    then the absolute filters move failed slots' weight, and empty slots', to the
    fallback. The rank buffer (engine.rank_buffer) weighs its own selections here too.

    Args:
        score, eligible, rank: as ranked ([..., D, M]).
        selected: [..., D, M] the assets holding the k slots (at most k per date).
        k: top, broadcastable to [..., 1, 1]; share: E / k, likewise.
        vol, threshold, passed: as for `rank_assets`.
    """
    filled = selected.sum(axis=-1, keepdims=True)
    if vol is None:
        weight = np.where(selected, share, 0.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = np.where(selected, 1.0 / vol, 0.0)
            total = inverse.sum(axis=-1, keepdims=True)
            weight = np.where(selected, share * filled * inverse / total, 0.0)

    failed = np.zeros_like(selected)
    if threshold is not None:
        limit = np.asarray(threshold, dtype=float)
        limit = limit[..., None] if limit.ndim else limit
        with np.errstate(invalid="ignore"):
            failed |= selected & ~(score > limit)  # <= threshold, or threshold undefined
    if passed is not None:
        failed |= selected & ~np.asarray(passed, dtype=bool)
    given = np.where(failed, weight, 0.0).sum(axis=-1)
    empty = (k - filled)[..., 0] * share[..., 0]
    return Ranking(
        score=score,
        eligible=eligible,
        rank=rank,
        selected=selected,
        failed=failed,
        weight=np.where(failed, 0.0, weight),
        fallback=given + empty,
    )
