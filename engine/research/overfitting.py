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

import itertools
import math
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329  # Euler-Mascheroni constant
_NORMAL = NormalDist()
SPLITS_PER_CHUNK = 512  # CSCV splits evaluated together (memory: chunk x N floats)


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
    """mean / std (ddof 1) of each column: per-period Sharpe ratios, NaN for flat columns."""
    r = np.asarray(returns, dtype=float)
    spread = np.std(r, ddof=1, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, np.mean(r, axis=0) / np.where(spread > 0, spread, 1.0), np.nan)


def deflated_sharpe_of_best(excess_returns: np.ndarray) -> dict:
    """DSR of the trial with the highest Sharpe ratio among all columns of [T, N].

    N = number of columns (every trial counts, also duplicates: conservative),
    V[SR_n] = variance (ddof 1) of the columns' per-period Sharpe ratios, γ3 and
    γ4 from the best column's returns, T its number of returns.
    """
    r = np.asarray(excess_returns, dtype=float)
    r = r[:, None] if r.ndim == 1 else r
    sharpes = per_period_sharpes(r)
    finite = np.isfinite(sharpes)
    if not finite.any():
        return {"best": None, "dsr": math.nan}
    best = int(np.nanargmax(sharpes))
    n_trials = r.shape[1]
    variance = float(np.var(sharpes[finite], ddof=1)) if finite.sum() > 1 else 0.0
    skewness, kurtosis = moments(r[:, best])
    threshold = expected_max_sharpe(n_trials, variance)
    return {
        "best": best,
        "trials": n_trials,
        "observations": len(r),
        "sharpe": float(sharpes[best]),
        "sharpe_variance": variance,
        "expected_max_sharpe": threshold,
        "skewness": skewness,
        "kurtosis": kurtosis,
        "psr": probabilistic_sharpe(float(sharpes[best]), 0.0, len(r), skewness, kurtosis),
        "dsr": probabilistic_sharpe(float(sharpes[best]), threshold, len(r), skewness, kurtosis),
    }


# ---------------------------------------------------------------- PBO by CSCV


def cscv_splits(subperiods: int) -> np.ndarray:
    """Boolean [C(S, S/2), S]: each row marks the S/2 blocks of one in-sample half."""
    if subperiods < 2 or subperiods % 2:
        raise ValueError("the number of sub-periods must be an even number >= 2")
    rows = list(itertools.combinations(range(subperiods), subperiods // 2))
    out = np.zeros((len(rows), subperiods), dtype=bool)
    for i, chosen in enumerate(rows):
        out[i, list(chosen)] = True
    return out


def _sharpe_from_sums(total: np.ndarray, squares: np.ndarray, n: int) -> np.ndarray:
    """Per-period Sharpe (ddof 1) from sums of returns and of squared returns over n rows."""
    mean = total / n
    variance = np.maximum(squares - n * mean**2, 0.0) / (n - 1)
    spread = np.sqrt(variance)
    # Constant columns have no Sharpe ratio; they rank as 0 (neither skill nor loss).
    tiny = spread <= 1e-15 * np.maximum(np.abs(mean), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tiny, 0.0, mean / np.where(tiny, 1.0, spread))


def probability_of_overfitting(excess_returns: np.ndarray, subperiods: int = 16) -> dict:
    """PBO by combinatorially symmetric cross-validation.

    Bailey, Borwein, López de Prado and Zhu (2015), section 2:
    1. the T rows of the [T, N] matrix of trial returns are cut into S equal
       blocks (the T mod S oldest rows are dropped);
    2. for each of the C(S, S/2) ways of choosing S/2 blocks as the in-sample
       set J (the other half J̄ is out of sample), the trial with the best
       in-sample Sharpe ratio n* is selected;
    3. its out-of-sample Sharpe is ranked among all N trials' out-of-sample
       Sharpe ratios: relative rank ω = rank / (N + 1) (rank 1 = worst, ties
       take their average rank), logit λ = ln(ω / (1 - ω));
    4. PBO = share of splits with λ <= 0: how often the in-sample winner does
       no better than the median trial out of sample.

    The Sharpe ratios of every split come from per-block sums of r and r²
    (a split's sums are a 0/1 matrix product), so C(16, 8) = 12,870 splits of
    thousands of trials take seconds.

    Returns:
        {"pbo", "subperiods", "splits", "block_rows", "dropped_rows",
         "logit_median", "prob_oos_loss" (share of splits where the winner's
         out-of-sample Sharpe is < 0), "degradation_slope" (OLS slope of the
         winner's OOS Sharpe on its IS Sharpe), "logits" (array per split)}.
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
        is_sum, is_sq = chosen @ sums, chosen @ squares  # [c, N]
        in_sample = _sharpe_from_sums(is_sum, is_sq, half)
        out_sample = _sharpe_from_sums(total - is_sum, total_sq - is_sq, half)
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


# ---------------------------------------------------------------- sweeps


MAX_TRIALS = 10_000  # larger grids: the odds are skipped (values would not fit in memory)


def sweep_odds(
    values: np.ndarray, initial_cash: float, risk_free: float, periods: int, subperiods: int = 16
) -> dict:
    """Deflated Sharpe of the best combination and PBO of a sweep's daily values [T, N].

    Returns are `engine.metrics.stats.daily_returns` of the values, in excess of the
    per-period risk-free rate; trials = every combination. The best
    combination is the one with the highest Sharpe ratio (a sweep ranked by
    another metric still has its odds measured on Sharpe, as in the papers).
    Sub-periods that would hold fewer than 2 returns are reduced to the largest
    even number that fits.
    """
    from engine.metrics import stats

    excess = stats.daily_returns(values, initial_cash) - stats.per_period_rate(risk_free, periods)
    dsr = deflated_sharpe_of_best(excess)
    usable = min(subperiods, len(excess) // 2)
    usable -= usable % 2
    odds = {
        "trials": int(excess.shape[1]),
        "periods_per_year": periods,
        "best_by_sharpe": dsr["best"],
        "best_sharpe_annual": dsr.get("sharpe", math.nan) * math.sqrt(periods),
        "expected_max_sharpe_annual": dsr.get("expected_max_sharpe", math.nan) * math.sqrt(periods),
        "deflated_sharpe": dsr,
    }
    if usable >= 2:
        pbo = probability_of_overfitting(excess, usable)
        pbo.pop("logits")
        odds["pbo"] = pbo
    else:
        odds["pbo"] = None
    return odds


def odds_note(odds: dict) -> str:
    """One line for the sweep summary."""
    dsr = odds["deflated_sharpe"]
    text = (
        f"Overfitting odds: deflated Sharpe {dsr['dsr']:.3f} for the best Sharpe "
        f"{odds['best_sharpe_annual']:.3f} among {odds['trials']:,} trials (the best of as many "
        f"zero-skill trials would show {odds['expected_max_sharpe_annual']:.3f})"
    )
    pbo = odds.get("pbo")
    if pbo:
        text += (
            f"; PBO {pbo['pbo']:.3f} over {pbo['splits']:,} CSCV splits of {pbo['subperiods']} "
            f"sub-periods (out-of-sample Sharpe < 0 in {pbo['prob_oos_loss']:.0%} of them)"
        )
    return text + "."


def add_to_summary(summary: dict, spec, result, subperiods: int = 16) -> None:
    """Put the odds of a sweep (engine.research.sweep.SweepResult with values) into its summary.

    Grids of more than MAX_TRIALS combinations are run without keeping their
    values, and the summary says the odds were skipped.
    """
    if result.values is None:
        summary["overfitting"] = {"skipped": f"more than {MAX_TRIALS:,} combinations"}
        summary["notes"].append(
            f"Overfitting odds skipped: more than {MAX_TRIALS:,} combinations (shrink the grid)."
        )
        return
    from engine.runner import periods_per_year

    config = spec.base
    odds = sweep_odds(
        result.values,
        config.portfolio.initial_cash,
        config.stats.risk_free,
        periods_per_year(config),
        subperiods,
    )
    best = odds["best_by_sharpe"]
    if best is not None:
        row = result.table.iloc[best]
        odds["best_params"] = {a.name: row[a.name] for a in spec.axes}
    summary["overfitting"] = odds
    summary["notes"].append(odds_note(odds))
