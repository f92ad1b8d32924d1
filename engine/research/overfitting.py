"""Overfitting odds of a parameter sweep: the deflated Sharpe ratio and the
probability of backtest overfitting (PBO) by combinatorially symmetric
cross-validation (CSCV).

Both take the daily returns of every combination that was tried, as an array
[T, N] (time along axis 0, one column per trial). Sharpe ratios here are
**per period** (daily, not annualised) and measured on returns in excess of
the per-period risk-free rate, as the papers define them.

References:
    Bailey, D. H. and López de Prado, M. (2014). "The Deflated Sharpe Ratio:
    Correcting for Selection Bias, Backtest Overfitting and Non-Normality".
    Journal of Portfolio Management 40 (5), 94-107.

    Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2015). "The
    Probability of Backtest Overfitting". Journal of Computational Finance 20 (4),
    39-69.
"""

from __future__ import annotations

import functools
import itertools
import math
from statistics import NormalDist

import numba
import numpy as np

from engine.interrupts import deferred

EULER_GAMMA = 0.5772156649015329  # Euler-Mascheroni constant
_NORMAL = NormalDist()


# ---------------------------------------------------------------- deflated Sharpe


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """SR0: the expected maximum of `n_trials` Sharpe estimates whose true value is 0.

    Bailey and López de Prado (2014), eq. (2), from the False Strategy theorem:

        SR0 = sqrt(V[SR_n]) * ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))

    with γ the Euler-Mascheroni constant, Φ⁻¹ the standard normal quantile and
    V[SR_n] the variance of the trials' Sharpe estimates. With one trial
    there is nothing to select from and SR0 = 0.
    """
    if n_trials < 1:
        raise ValueError("n_trials must be at least 1")
    if n_trials == 1:
        return 0.0
    z_first = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    z_second = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    spread = math.sqrt(max(sharpe_variance, 0.0))
    return spread * ((1.0 - EULER_GAMMA) * z_first + EULER_GAMMA * z_second)


def probabilistic_sharpe(
    sharpe: float, benchmark: float, n_obs: int, skewness: float, kurtosis: float
) -> float:
    """PSR: probability that the true Sharpe ratio exceeds `benchmark`.

    Bailey and López de Prado (2012, 2014):

        PSR = Φ((SR̂ - SR*) sqrt(T - 1) / sqrt(1 - γ3 SR̂ + (γ4 - 1)/4 SR̂²))

    with SR̂ the per-period Sharpe estimate from T observations, γ3 the
    skewness and γ4 the (non-excess) kurtosis of the returns (3 for normal).
    """
    if n_obs < 2 or not math.isfinite(sharpe):
        return math.nan
    spread = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if spread <= 0 or not math.isfinite(spread):
        return math.nan
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(spread))


def deflated_sharpe(
    sharpe: float,
    sharpe_variance: float,
    n_trials: int,
    n_obs: int,
    skewness: float,
    kurtosis: float,
) -> float:
    """DSR: the PSR of the selected (best) Sharpe against SR0, the best of N zero-skill trials.

    Bailey and López de Prado (2014), eq. (1)-(2):

        DSR = Φ((SR̂ - SR0) sqrt(T - 1) / sqrt(1 - γ3 SR̂ + (γ4 - 1)/4 SR̂²))

    See `expected_max_sharpe` for SR0. All Sharpe ratios per period (not
    annualised). With one trial, DSR is the PSR against 0.
    """
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe(sharpe, benchmark, n_obs, skewness, kurtosis)


def moments(returns: np.ndarray) -> tuple[float, float]:
    """(skewness γ3, non-excess kurtosis γ4) of a 1-D sample (population moments)."""
    r = np.asarray(returns, dtype=float)
    dev = r - r.mean()
    var = np.mean(dev**2)
    if var <= 0:
        return math.nan, math.nan
    return float(np.mean(dev**3) / var**1.5), float(np.mean(dev**4) / var**2)


def per_period_sharpes(returns: np.ndarray) -> np.ndarray:
    """mean / std (ddof 1) of each column: per-period Sharpe ratios, NaN for flat columns.
    A column-ordered array is taken SHARPE_BLOCK columns at a time: each column is still
    reduced alone, as numpy reduces it in the whole array (the same bits), with
    temporaries that stay in cache instead of copies of the whole array."""
    r = np.asarray(returns, dtype=float)
    if r.ndim == 2 and r.shape[1] > SHARPE_BLOCK and r.flags.f_contiguous:
        blocks = range(0, r.shape[1], SHARPE_BLOCK)
        return np.concatenate([per_period_sharpes(r[:, k : k + SHARPE_BLOCK]) for k in blocks])
    spread = np.std(r, ddof=1, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, np.mean(r, axis=0) / np.where(spread > 0, spread, 1.0), np.nan)


SHARPE_BLOCK = 256  # columns at a time in per_period_sharpes


def deflated_sharpe_of_best(excess_returns: np.ndarray) -> dict:
    """DSR of the trial with the highest Sharpe ratio among all columns of [T, N].

    N = number of columns (every trial counts, also duplicates: conservative),
    V[SR_n] = variance (ddof 1) of the columns' per-period Sharpe ratios, γ3 and
    γ4 from the best column's returns, T its number of returns.
    """
    r = np.asarray(excess_returns, dtype=float)
    r = r[:, None] if r.ndim == 1 else r
    return _deflated_sharpe(per_period_sharpes(r), lambda best: r[:, best])


def _deflated_sharpe(sharpes: np.ndarray, returns_of, n_trials: int | None = None) -> dict:
    """`deflated_sharpe_of_best` from every trial's per-period Sharpe ratio [N] and a
    function giving the returns [T] of one trial (the best) by its column; `n_trials`:
    the trials the Sharpe ratios are a sample of (default: they are every trial)."""
    finite = np.isfinite(sharpes)
    if not finite.any():
        return {"best": None, "dsr": math.nan}
    best = int(np.nanargmax(sharpes))
    n_trials = n_trials or len(sharpes)
    variance = float(np.var(sharpes[finite], ddof=1)) if finite.sum() > 1 else 0.0
    returns = returns_of(best)
    skewness, kurtosis = moments(returns)
    threshold = expected_max_sharpe(n_trials, variance)
    sharpe = float(sharpes[best])
    return {
        "best": best,
        "trials": n_trials,
        "observations": len(returns),
        "sharpe": sharpe,
        "sharpe_variance": variance,
        "expected_max_sharpe": threshold,
        "skewness": skewness,
        "kurtosis": kurtosis,
        "psr": probabilistic_sharpe(sharpe, 0.0, len(returns), skewness, kurtosis),
        "dsr": probabilistic_sharpe(sharpe, threshold, len(returns), skewness, kurtosis),
    }


# ---------------------------------------------------------------- PBO by CSCV


def cscv_splits(subperiods: int) -> np.ndarray:
    """Boolean [C(S, S/2), S]: each row marks the S/2 blocks of one in-sample half."""
    if subperiods < 2 or subperiods % 2:
        raise ValueError("the number of sub-periods must be an even number >= 2")
    chosen = _split_blocks(subperiods)
    out = np.zeros((len(chosen), subperiods), dtype=bool)
    out[np.arange(len(chosen))[:, None], chosen] = True
    return out


@functools.lru_cache(maxsize=8)
def _split_blocks(subperiods: int) -> np.ndarray:
    """Int [C(S, S/2), S/2]: the in-sample blocks of each split, increasing, in the
    lexicographic order of itertools.combinations (read-only, cached)."""
    half = subperiods // 2
    flat = itertools.chain.from_iterable(itertools.combinations(range(subperiods), half))
    chosen = np.fromiter(flat, dtype=np.int64).reshape(-1, half)
    chosen.flags.writeable = False
    return chosen


@numba.njit(cache=True, inline="always", error_model="numpy")
def _sharpe_nb(total: float, squares: float, n: float) -> float:
    """Per-period Sharpe (ddof 1) of n rows from their sum Σr and sum of squares Σr²:

        m = Σr / n,  s = sqrt(max(Σr² - n m², 0) / (n - 1)),  SR = m / s

    and SR = 0 when s <= 1e-15 max(|m|, 1e-300) (a constant column has no Sharpe
    ratio; it ranks as 0, neither skill nor loss). NaN propagates as in numpy.
    """
    mean = total / n
    variance = squares - n * (mean * mean)
    variance = 0.0 if variance < 0.0 else variance
    spread = math.sqrt(variance / (n - 1.0))
    scale = abs(mean)
    scale = 1e-300 if scale < 1e-300 else scale
    ratio = mean / spread
    return 0.0 if spread <= 1e-15 * scale else ratio


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _cscv_nb(chosen, membership, sums, squares, total, total_sq, rows, n_tasks, odd):
    """Every CSCV split at once: in-sample winner, its out-of-sample rank counts.

    chosen [C, S/2]: the in-sample blocks of each split (increasing); membership [C, S]:
    the same as 0/1 floats; sums, squares [S, N]: per-block Σr and Σr²; total, total_sq
    [N]: over all S blocks; rows: returns per half; n_tasks: chunks of splits run in
    parallel; odd: the trials with a non-finite per-block sum. For split c, in-sample
    sums are Σ_{b ∈ J_c} sums[b] added in increasing b (the 0/1 matrix product, in the
    order BLAS adds it), out-of-sample sums are total - in-sample. For the `odd` trials
    the product is written out as Σ_b membership[c, b] sums[b], as BLAS computes it
    (0 x inf and 0 x NaN are NaN: such a trial is NaN in every split). n* = first index
    of the largest in-sample Sharpe (np.argmax: a NaN wins at its first index); below /
    equal = number of trials whose out-of-sample Sharpe is < / == that of n*.

    Returns (winner, below, equal, is_best, oos_best), each [C].
    """
    n_splits, depth = chosen.shape
    n_trials = sums.shape[1]
    winner = np.empty(n_splits, dtype=np.int64)
    below = np.empty(n_splits, dtype=np.int64)
    equal = np.empty(n_splits, dtype=np.int64)
    is_best = np.empty(n_splits)
    oos_best = np.empty(n_splits)
    n = float(rows)
    for task in numba.prange(n_tasks):
        lo = task * n_splits // n_tasks
        hi = (task + 1) * n_splits // n_tasks
        partial = np.empty((depth, n_trials))  # partial[k]: Σ of the split's first k+1 blocks
        partial_sq = np.empty((depth, n_trials))
        is_sr = np.empty(n_trials)
        oos_sr = np.empty(n_trials)
        for c in range(lo, hi):
            # Splits come in lexicographic order: keep the partial sums of the blocks shared
            # with the previous split, add the rest (same additions, same order, fewer).
            level = 0
            if c > lo:
                while chosen[c, level] == chosen[c - 1, level]:
                    level += 1
            if level == 0:
                first = chosen[c, 0]
                for j in range(n_trials):
                    partial[0, j] = sums[first, j]
                    partial_sq[0, j] = squares[first, j]
                level = 1
            for k in range(level, depth):
                b = chosen[c, k]
                for j in range(n_trials):
                    partial[k, j] = partial[k - 1, j] + sums[b, j]
                    partial_sq[k, j] = partial_sq[k - 1, j] + squares[b, j]
            is_sum = partial[depth - 1]
            is_sq = partial_sq[depth - 1]
            for j in range(n_trials):
                is_sr[j] = _sharpe_nb(is_sum[j], is_sq[j], n)
                oos_sr[j] = _sharpe_nb(total[j] - is_sum[j], total_sq[j] - is_sq[j], n)
            for j in odd:
                product = 0.0
                product_sq = 0.0
                for b in range(membership.shape[1]):
                    product += membership[c, b] * sums[b, j]
                    product_sq += membership[c, b] * squares[b, j]
                is_sr[j] = _sharpe_nb(product, product_sq, n)
                oos_sr[j] = _sharpe_nb(total[j] - product, total_sq[j] - product_sq, n)
            best = 0
            top = is_sr[0]
            if not np.isnan(top):
                for j in range(1, n_trials):
                    v = is_sr[j]
                    if np.isnan(v):
                        best = j
                        break
                    if v > top:
                        top = v
                        best = j
            target = oos_sr[best]
            n_below = 0
            n_equal = 0
            for j in range(n_trials):
                v = oos_sr[j]
                n_below += v < target
                n_equal += v == target
            winner[c] = best
            below[c] = n_below
            equal[c] = n_equal
            is_best[c] = is_sr[best]
            oos_best[c] = target
    return winner, below, equal, is_best, oos_best


def probability_of_overfitting(excess_returns: np.ndarray, subperiods: int = 16) -> dict:
    """PBO by combinatorially symmetric cross-validation.

    Bailey, Borwein, López de Prado and Zhu (2015), section 2:
    1. the T rows of the [T, N] matrix of trial returns are cut into S equal
       blocks of B = T // S rows (the T mod S oldest rows are dropped);
    2. for each of the C(S, S/2) ways of choosing S/2 blocks as the in-sample
       set J (the other half J̄ is out of sample), the trial with the best
       in-sample Sharpe ratio n* is selected (the first one on a tie);
    3. its out-of-sample Sharpe is ranked among all N trials' out-of-sample
       Sharpe ratios: relative rank ω = rank / (N + 1) with
       rank = #{n: SR̄_n < SR̄_n*} + (#{n: SR̄_n = SR̄_n*} + 1) / 2 (rank 1 = worst,
       ties take their average rank), logit λ = ln(ω / (1 - ω));
    4. PBO = share of splits with λ <= 0: how often the in-sample winner does
       no better than the median trial out of sample.

    The per-block sums Σr and Σr² ([S, N]) are computed once. A split's in-sample
    sums are the 0/1 membership row times them (Σ over its S/2 blocks, added in
    increasing block order as BLAS adds the product, the partial sums of the blocks
    shared with the lexicographically previous split reused), its out-of-sample sums
    the totals minus those, and each Sharpe ratio comes from its
    sums over n = S/2 B rows: m = Σr / n, SR = m / sqrt(max(Σr² - n m², 0) / (n - 1)),
    0 for a constant column. One compiled pass over all splits (numba, both cores)
    does the sums, Sharpe ratios, argmax and rank counts without holding any
    [splits, N] array: C(16, 8) = 12,870 splits of 2,000 trials take about 0.2 s of CPU
    (bench/pbo_speed.py; the implementation before, kept in tests/overfitting_reference.py,
    took 5 s and gives the same output bit for bit).

    Returns:
        {"pbo", "subperiods", "splits", "block_rows", "dropped_rows",
         "logit_median", "prob_oos_loss" (share of splits where the winner's
         out-of-sample Sharpe is < 0), "degradation_slope" (OLS slope of the
         winner's OOS Sharpe on its IS Sharpe), "logits" (array per split)}.
    """
    r = np.asarray(excess_returns, dtype=float)
    r = r[:, None] if r.ndim == 1 else r
    n_rows, n_trials = r.shape
    if n_trials < 1:
        raise ValueError("no trials: the returns have no column")
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
    if subperiods < 2 or subperiods % 2:
        raise ValueError("the number of sub-periods must be an even number >= 2")
    chosen = _split_blocks(subperiods)
    membership = np.zeros((len(chosen), subperiods))
    membership[np.arange(len(chosen))[:, None], chosen] = 1.0
    odd = np.flatnonzero(~(np.isfinite(sums).all(axis=0) & np.isfinite(squares).all(axis=0)))
    with deferred():  # a stop signal waits for the parallel kernel (engine/interrupts.py)
        _, below, equal, is_best, oos_best = _cscv_nb(
            chosen,
            membership,
            np.ascontiguousarray(sums),
            np.ascontiguousarray(squares),
            total,
            total_sq,
            half,
            min(len(chosen), 8 * numba.get_num_threads()),
            odd,
        )
    rank = below + (equal + 1) / 2.0  # average rank among ties, 1 = worst
    omega = rank / (n_trials + 1)
    logits = np.log(omega / (1.0 - omega))
    slope = math.nan
    if np.ptp(is_best) > 0:
        slope = float(np.polyfit(is_best, oos_best, 1)[0])
    return {
        "pbo": float(np.mean(logits <= 0)),
        "subperiods": subperiods,
        "splits": len(chosen),
        "block_rows": block,
        "dropped_rows": dropped,
        "logit_median": float(np.median(logits)),
        "prob_oos_loss": float(np.mean(oos_best < 0)),
        "degradation_slope": slope,
        "logits": logits,
    }


# ---------------------------------------------------------------- sweeps


MAX_TRIALS = 10_000  # PBO of larger grids: on a seeded sample of this many combinations
SAMPLE_SEED = 0


def sample_trials(n_trials: int, best: int | None, size: int = MAX_TRIALS, seed: int = 0):
    """Sorted column indices of a seeded sample of `size` of `n_trials` trials, without
    replacement, always holding `best` (when given): `best`, plus size - 1 others drawn by
    numpy's default_rng(seed).choice among the remaining n_trials - 1 columns. All
    columns when n_trials <= size."""
    if n_trials <= size:
        return np.arange(n_trials)
    rng = np.random.default_rng(seed)
    if best is None:
        return np.sort(rng.choice(n_trials, size, replace=False))
    others = np.delete(np.arange(n_trials), best)
    picked = others[rng.choice(n_trials - 1, size - 1, replace=False)]
    return np.sort(np.append(picked, best))


def _excess_in_place(values: np.ndarray, initial_cash: float, rate: float) -> np.ndarray:
    """`values` turned into their daily returns in excess of `rate`, block of columns by
    block of columns (element by element the same operations as
    engine.metrics.stats.daily_returns(values) - rate, so the same bits)."""
    from engine.metrics import stats

    for start in range(0, values.shape[1], 256):
        block = slice(start, start + 256)
        values[:, block] = stats.daily_returns(values[:, block], initial_cash) - rate
    return values


def against_benchmark(dsr: dict, benchmark_sharpe: float) -> dict:
    """The deflated Sharpe of the best trial with the benchmark's Sharpe as the null.

    Under the null that every trial's true Sharpe ratio equals the benchmark's, SR_b,
    the best of N trials would show SR_b + SR0 (the False Strategy theorem shifted by
    SR_b; SR0 from `expected_max_sharpe`), so the bar is that sum:

        DSR_b = PSR(SR̂, SR_b + SR0)
              = Φ((SR̂ - SR_b - SR0) sqrt(T - 1) / sqrt(1 - γ3 SR̂ + (γ4 - 1)/4 SR̂²))

    the probability that the best trial's true Sharpe ratio is above the benchmark's
    once the search is accounted for. Per-period Sharpe ratios; SR_b is the benchmark's
    over the same dates and costs, taken as a known number (as PSR takes its SR*): its
    own estimation error is not counted. For a strategy correlated with its benchmark
    by more than about 0.5 that overstates the noise of the difference SR̂ - SR_b, so
    the figure errs on the side of caution.

    Args:
        dsr: `deflated_sharpe_of_best`'s output (with "sharpe", "expected_max_sharpe",
            "observations", "skewness", "kurtosis").
        benchmark_sharpe: SR_b, per period.

    Returns:
        {"benchmark_sharpe": SR_b, "threshold": SR_b + SR0, "dsr": DSR_b}.
    """
    if dsr.get("best") is None or not math.isfinite(benchmark_sharpe):
        return {"benchmark_sharpe": benchmark_sharpe, "threshold": math.nan, "dsr": math.nan}
    threshold = benchmark_sharpe + dsr["expected_max_sharpe"]
    value = probabilistic_sharpe(
        dsr["sharpe"], threshold, dsr["observations"], dsr["skewness"], dsr["kurtosis"]
    )
    return {"benchmark_sharpe": benchmark_sharpe, "threshold": threshold, "dsr": value}


def sweep_odds(
    values: np.ndarray,
    initial_cash: float,
    risk_free,
    periods: int,
    subperiods: int = 16,
    benchmark_sharpes: np.ndarray | None = None,
    trials: int | None = None,
    overwrite: bool = False,
) -> dict:
    """Deflated Sharpe of the best combination and PBO of a sweep's daily values [T, N].

    `trials`: the values are those of a seeded sample (engine.research.reduce.draw, the
    best included) of this many combinations: the deflated Sharpe then counts every
    trial (N = `trials`) with V[SR_n] estimated on the sample, the PBO is the sample's,
    and both say so (`"sample"`, and the PBO's `"sampled"`, `"of"`, `"seed"`).
    `overwrite`: the returns may replace the values in their array (no second [T, N]
    array; the same bits).

    `benchmark_sharpes` [N]: each combination's benchmark's annualised Sharpe ratio (the
    benchmark depends on costs); when given, the deflated Sharpe of the best is also
    measured against its own benchmark's Sharpe as the null (`against_benchmark`), under
    "deflated_sharpe_vs_benchmark".

    Returns are `engine.metrics.stats.daily_returns` of the values, in excess of the
    per-period risk-free rate (or of its per-date series, [T]); trials = every combination. The best
    combination is the one with the highest Sharpe ratio (a sweep ranked by
    another metric still has its odds measured on Sharpe, as in the papers).
    Sub-periods that would hold fewer than 2 returns are reduced to the largest
    even number that fits.

    Grids of more than MAX_TRIALS combinations: the deflated Sharpe still uses every
    combination (N, V[SR_n] and the best over all N: the best was selected among N, so
    SR0, the best of N zero-skill trials, is the bar it must clear; a sample would
    lower it). The PBO is measured on a seeded sample of MAX_TRIALS combinations
    (`sample_trials`, seed SAMPLE_SEED, always holding the best), and says so:
    `"sampled": MAX_TRIALS, "of": N, "seed"`. It is then the PBO of choosing among
    those MAX_TRIALS: an estimate for the whole grid, deterministic for a given grid.
    """
    from engine.metrics import stats

    values = np.asarray(values, dtype=float)
    rate = stats.per_date_rate(risk_free, periods, values)
    n_rows, n_trials = values.shape

    def excess(columns) -> np.ndarray:
        return stats.daily_returns(values[:, columns], initial_cash) - rate

    sampled = trials is not None and trials > n_trials
    if overwrite and (sampled or n_trials <= MAX_TRIALS):
        every = _excess_in_place(values, initial_cash, rate)
        dsr = _deflated_sharpe(per_period_sharpes(every), lambda best: every[:, best], trials)
    elif sampled:
        every = excess(slice(None))
        dsr = _deflated_sharpe(per_period_sharpes(every), lambda best: every[:, best], trials)
    elif n_trials <= MAX_TRIALS:
        every = excess(slice(None))
        dsr = deflated_sharpe_of_best(every)
    else:  # Sharpe ratios by chunks of columns: no second [T, N] array
        sharpes = np.concatenate(
            [
                per_period_sharpes(excess(slice(start, start + MAX_TRIALS)))
                for start in range(0, n_trials, MAX_TRIALS)
            ]
        )
        dsr = _deflated_sharpe(sharpes, lambda best: excess(best))
    usable = min(subperiods, n_rows // 2)
    usable -= usable % 2
    odds = {
        "trials": int(trials if sampled else n_trials),
        "periods_per_year": periods,
        "best_by_sharpe": dsr["best"],
        "best_sharpe_annual": dsr.get("sharpe", math.nan) * math.sqrt(periods),
        "expected_max_sharpe_annual": dsr.get("expected_max_sharpe", math.nan) * math.sqrt(periods),
        "deflated_sharpe": dsr,
    }
    if benchmark_sharpes is not None:
        best = dsr["best"]
        annual = math.nan if best is None else float(np.asarray(benchmark_sharpes)[best])
        versus = against_benchmark(dsr, annual / math.sqrt(periods))
        odds["deflated_sharpe_vs_benchmark"] = {
            **versus,
            "benchmark_sharpe_annual": annual,
            "threshold_annual": versus["threshold"] * math.sqrt(periods),
        }
    if sampled:
        odds["sample"] = {"size": int(n_trials), "of": int(trials), "seed": SAMPLE_SEED}
    if usable < 2:
        odds["pbo"] = None
    elif sampled:
        odds["pbo"] = {
            **probability_of_overfitting(every, usable),
            "sampled": int(n_trials),
            "of": int(trials),
            "seed": SAMPLE_SEED,
        }
    elif n_trials <= MAX_TRIALS:
        odds["pbo"] = probability_of_overfitting(every, usable)
    else:
        sample = sample_trials(n_trials, dsr["best"], MAX_TRIALS, SAMPLE_SEED)
        odds["pbo"] = {
            **probability_of_overfitting(excess(sample), usable),
            "sampled": len(sample),
            "of": int(n_trials),
            "seed": SAMPLE_SEED,
        }
    if odds["pbo"] is not None:
        odds["pbo"].pop("logits")
    return odds


def odds_note(odds: dict, scenario: str = "") -> str:
    """One line for the sweep summary (`scenario`: the scenario's label, if any)."""
    dsr = odds["deflated_sharpe"]
    where = f" within {scenario}" if scenario else ""
    text = (
        f"Overfitting odds{where}: deflated Sharpe {dsr['dsr']:.3f} for the best Sharpe "
        f"{odds['best_sharpe_annual']:.3f} among {odds['trials']:,} trials (the best of as many "
        f"zero-skill trials would show {odds['expected_max_sharpe_annual']:.3f})"
    )
    sample = odds.get("sample")
    if sample:
        text += (
            f" on a seeded sample of {sample['size']:,} of the {sample['of']:,} combinations "
            f"(seed {sample['seed']}, the best included; their daily returns recomputed)"
        )
    versus = odds.get("deflated_sharpe_vs_benchmark")
    if versus is not None:
        text += (
            f"; against the benchmark's Sharpe {versus['benchmark_sharpe_annual']:.3f} as the "
            f"null (bar {versus['threshold_annual']:.3f}) it is {versus['dsr']:.3f}"
        )
    pbo = odds.get("pbo")
    if pbo:
        text += f"; PBO {pbo['pbo']:.3f}"
        if "sampled" in pbo and not sample:
            text += (
                f" (PBO on a seeded sample of {pbo['sampled']:,} of the {pbo['of']:,} "
                f"combinations, seed {pbo['seed']}, the best included)"
            )
        text += (
            f" over {pbo['splits']:,} CSCV splits of {pbo['subperiods']} sub-periods "
            f"(out-of-sample Sharpe < 0 in {pbo['prob_oos_loss']:.0%} of them)"
        )
    return text + "."


def add_to_summary(summary: dict, spec, result, subperiods: int = 16) -> None:
    """Put the odds of a sweep (engine.research.sweep.SweepResult with values) into its summary.

    The odds are taken within each scenario (`summary["scenarios"]`, from
    `engine.research.sweep_summary.summarize`): the trials are the combinations of that
    scenario only (N = combinations per scenario), since a scenario is not chosen. Each
    block gets its "overfitting"; the summary's own "overfitting" is the first
    scenario's (the whole grid's when there are no scenario axes), and one note per
    scenario is added. The deflated Sharpe is given against zero and against the best
    combination's own benchmark's Sharpe (`against_benchmark`).

    A sweep run without keeping its daily values (`run_sweep(keep_values=False)`) gets
    no odds, and the summary says they were skipped. Grids of more than MAX_TRIALS
    combinations get their PBO on a seeded sample (see `sweep_odds`).
    """
    if result.values is None:
        summary["overfitting"] = {"skipped": "the daily values of the combinations were not kept"}
        for block in summary.get("scenarios", []):
            block["overfitting"] = summary["overfitting"]
        summary["notes"].append(
            "Overfitting odds skipped: the daily values of the combinations were not kept."
        )
        return
    from engine.research.sweep_config import scenario_groups
    from engine.runner import periods_per_year

    config = spec.base
    groups = scenario_groups(spec)
    blocks = summary.setdefault("scenarios", [{} for _ in groups])
    bench = result.table["benchmark_sharpe"].to_numpy(dtype=float)
    for k, (group, block) in enumerate(zip(groups, blocks, strict=True)):
        rows = group.rows
        odds = sweep_odds(
            result.values[:, rows],
            config.portfolio.initial_cash,
            result.risk_free,
            periods_per_year(config),
            subperiods,
            benchmark_sharpes=bench[rows],
        )
        frame = result.table.iloc[rows]
        _place(summary, block, k, odds, (rows, frame, group.label), spec)


def add_sampled_odds(summary: dict, spec, reduced, values_of, subperiods: int = 16) -> None:
    """`add_to_summary` for a sweep that kept no daily values (a sweep folder): the odds of
    each scenario on a seeded sample of its combinations whose daily values are
    recomputed (`values_of(rows)` -> (values [T, k], their rows' parameters and
    benchmark Sharpe)).

    The sample is every combination of a scenario of up to engine.research.reduce.SAMPLE
    (the odds are then those of `add_to_summary`, bit for bit); above it, the first
    SAMPLE - 1 positions `reduce.draw` draws plus the best by Sharpe (the SAMPLE-th drawn
    when the best is among them), the same for a grid whatever ran it.
    """
    from engine.research.reduce import SAMPLE, draw
    from engine.runner import periods_per_year

    shape = reduced.outline
    config = spec.base
    n = shape.per_scenario
    for s, block in enumerate(summary["scenarios"]):
        positions = np.arange(n) if n <= SAMPLE else _with_best(draw(n), reduced, s)
        rows = shape.rows_of(s, positions)
        values, frame = values_of(rows)
        frame = frame.drop(columns="scenario", errors="ignore")
        odds = sweep_odds(
            values,
            config.portfolio.initial_cash,
            config.stats.risk_free,
            periods_per_year(config),
            subperiods,
            benchmark_sharpes=frame["benchmark_sharpe"].to_numpy(dtype=float),
            trials=n,
            overwrite=True,
        )
        del values
        _place(summary, block, s, odds, (rows, frame, block.get("label", "")), spec)


def _with_best(drawn: np.ndarray, reduced, s: int) -> np.ndarray:
    """Sorted sample positions: the first len(drawn) - 1 drawn, and the best by Sharpe
    (or the last drawn when the best is among them)."""
    shape = reduced.outline
    rows, _ = reduced.top_rows("sharpe", s)
    first = drawn[:-1]
    if not len(rows):
        return np.sort(drawn)
    at = np.unravel_index(int(rows[0]), shape.shape)
    dims = [shape.shape[i] for i in shape.choice_axes]
    best = int(np.ravel_multi_index([at[i] for i in shape.choice_axes], dims)) if dims else 0
    return np.sort(drawn if best in set(first.tolist()) else np.append(first, best))


def _place(summary, block, k, odds, trials, spec) -> None:
    """Put one scenario's odds into its block (and the summary's own, for the first);
    `trials`: (grid rows of the values' columns, their statistics, the scenario's label)."""
    rows, frame, label = trials
    if odds["trials"] < 2:
        odds["pbo"] = None  # one trial: nothing was chosen, so nothing can be overfit
    best = odds["best_by_sharpe"]
    if best is not None:
        row = frame.iloc[int(best)]
        odds["best_by_sharpe"] = int(rows[best])  # a row of the whole results table
        odds["best_params"] = {a.name: row[a.name] for a in spec.axes}
    block["overfitting"] = odds
    if k == 0:
        summary["overfitting"] = odds
    note = odds_note(odds, label)
    summary["notes"].append(note)
    block.setdefault("notes", []).append(note)
