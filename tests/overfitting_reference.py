"""The PBO/CSCV of engine/research/overfitting.py as it was before issue 14, kept as a slow
reference: the fast implementation must give the same splits, winners and ranks.

Bailey, Borwein, López de Prado and Zhu (2015), section 2: for each of the C(S, S/2)
in-sample halves J of S blocks, the trial with the best in-sample Sharpe n* is ranked
among all N trials out of sample, ω = rank / (N + 1) (rank 1 = worst, ties take their
average rank), λ = ln(ω / (1 - ω)), PBO = share of splits with λ <= 0. Each split's sums
are the 0/1 membership matrix times the per-block sums, 512 splits at a time, and every
Sharpe ratio of the chunk is held as a [512, N] array (a few seconds for 2,000 trials).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

SPLITS_PER_CHUNK = 512  # CSCV splits evaluated together (memory: chunk x N floats)


def cscv_splits(subperiods: int) -> np.ndarray:
    """Boolean [C(S, S/2), S]: each row marks the S/2 blocks of one in-sample half."""
    if subperiods < 2 or subperiods % 2:
        raise ValueError("the number of sub-periods must be an even number >= 2")
    rows = list(itertools.combinations(range(subperiods), subperiods // 2))
    out = np.zeros((len(rows), subperiods), dtype=bool)
    for i, chosen in enumerate(rows):
        out[i, list(chosen)] = True
    return out


def sharpe_from_sums(total: np.ndarray, squares: np.ndarray, n: int) -> np.ndarray:
    """Per-period Sharpe (ddof 1) from sums of returns and of squared returns over n rows."""
    mean = total / n
    variance = np.maximum(squares - n * mean**2, 0.0) / (n - 1)
    spread = np.sqrt(variance)
    # Constant columns have no Sharpe ratio; they rank as 0 (neither skill nor loss).
    tiny = spread <= 1e-15 * np.maximum(np.abs(mean), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tiny, 0.0, mean / np.where(tiny, 1.0, spread))


def block_order_product(chosen: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """chosen @ sums for a 0/1 `chosen` [c, S] and finite `sums` [S, N], every entry
    added in increasing block order (((0 + s_b1) + s_b2) + ...): what BLAS computes for
    most columns, but for every column alike."""
    out = np.zeros((len(chosen), sums.shape[1]))
    for i, row in enumerate(chosen):
        for b in np.flatnonzero(row):
            out[i] += sums[b]
    return out


def probability_of_overfitting(
    excess_returns: np.ndarray, subperiods: int = 16, product=np.matmul
) -> dict:
    """PBO by CSCV, the implementation before issue 14 (same output dict as the fast one).

    `product(chosen, sums)` evaluates the 0/1 matrix product, np.matmul (BLAS) as before.
    OpenBLAS adds the S products of a column in block order, except for the columns its
    kernel handles as a remainder of N (e.g. N = 301: columns 296-299), which it adds in
    another order: a 1-ulp difference that can split an exact tie between two duplicate
    columns. `block_order_product` adds every column in block order, as the fast
    implementation does.
    """
    r = np.asarray(excess_returns, dtype=float)
    r = r[:, None] if r.ndim == 1 else r
    n_rows, n_trials = r.shape
    block = n_rows // subperiods
    if block < 2:
        raise ValueError(
            f"{n_rows} returns cannot be cut into {subperiods} sub-periods of >= 2 rows"
        )
    dropped = n_rows - block * subperiods
    blocks = r[dropped:].reshape(subperiods, block, n_trials)
    sums, squares = blocks.sum(axis=1), (blocks**2).sum(axis=1)  # [S, N]
    total, total_sq = sums.sum(axis=0), squares.sum(axis=0)
    half = subperiods // 2 * block
    splits = cscv_splits(subperiods)
    logits = np.empty(len(splits))
    is_best = np.empty(len(splits))
    oos_best = np.empty(len(splits))
    for start in range(0, len(splits), SPLITS_PER_CHUNK):
        chosen = splits[start : start + SPLITS_PER_CHUNK].astype(float)
        is_sum, is_sq = product(chosen, sums), product(chosen, squares)  # [c, N]
        in_sample = sharpe_from_sums(is_sum, is_sq, half)
        out_sample = sharpe_from_sums(total - is_sum, total_sq - is_sq, half)
        winner = np.argmax(in_sample, axis=1)
        rows = np.arange(len(chosen))
        oos_winner = out_sample[rows, winner]
        below = np.count_nonzero(out_sample < oos_winner[:, None], axis=1)
        equal = np.count_nonzero(out_sample == oos_winner[:, None], axis=1)
        rank = below + (equal + 1) / 2.0  # average rank among ties, 1 = worst
        omega = rank / (n_trials + 1)
        logits[start : start + len(chosen)] = np.log(omega / (1.0 - omega))
        is_best[start : start + len(chosen)] = in_sample[rows, winner]
        oos_best[start : start + len(chosen)] = oos_winner
    slope = math.nan
    if np.ptp(is_best) > 0:
        slope = float(np.polyfit(is_best, oos_best, 1)[0])
    return {
        "pbo": float(np.mean(logits <= 0)),
        "subperiods": subperiods,
        "splits": len(splits),
        "block_rows": block,
        "dropped_rows": dropped,
        "logit_median": float(np.median(logits)),
        "prob_oos_loss": float(np.mean(oos_best < 0)),
        "degradation_slope": slope,
        "logits": logits,
    }
