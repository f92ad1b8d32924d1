"""The statistics quantstats users read first (docs/semantics.md §11, second block): the
shape of the daily returns, their tails, the best and worst periods, win rates and the
pain of drawdowns. Pure functions, daily values or returns in, numbers out.

Each equals quantstats 0.0.86's function of the same name on the same daily returns
(tests/test_distribution.py holds them to 1e-9 on every ready config), with its
conventions, which are not always ours:

* returns are SPEC 7's, `r_1 = V_1 / initial_cash - 1`, then `r_t = V_t / V_{t-1} - 1`;
* `skew` and `kurtosis` are pandas' bias-corrected sample moments (G1, and G2 the
  excess kurtosis), undefined for fewer than 3 (4) returns or a constant series;
* `value_at_risk` and `cvar` are parametric (a normal distribution fitted with the
  sample mean and the std with ddof 1), daily, at 95 %;
* `win_rate` leaves zero returns out of the count (a day in cash is neither);
* months and years are calendar months and years of the backtest dates, compounded;
* `recovery_factor` divides the plain SUM of the daily returns (not the compounded
  total return) by the depth of the deepest drawdown.

Like engine.metrics.stats, every function takes a 1-D array (one portfolio, giving a
scalar) or a 2-D array [N, G] (giving one number per column); time runs along axis 0.
An undefined value is NaN (null in stats.json).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from engine.metrics.stats import _ratio, daily_returns, drawdown_series, max_drawdown

CONFIDENCE = 0.95  # quantstats' default for VaR and CVaR
TAIL = 0.95  # quantstats' default cutoff of the tail ratio
Z = NormalDist().inv_cdf(1 - CONFIDENCE)  # -1.6448536269514729: the normal 5 % quantile
PHI_Z = NormalDist().pdf(Z)  # the normal density there


def _scalar(result):
    """A 0-d array as a numpy scalar, anything else as is."""
    result = np.asarray(result, dtype=float)
    return result[()] if result.ndim == 0 else result


def _moments(returns: np.ndarray):
    """(n, M2, M3, M4): the count and the sums of the 2nd, 3rd and 4th powers of the
    deviations from the mean."""
    r = np.asarray(returns, dtype=float)
    d = r - np.mean(r, axis=0)
    d2 = d * d
    return len(r), np.sum(d2, axis=0), np.sum(d2 * d, axis=0), np.sum(d2 * d2, axis=0)


def skew(returns: np.ndarray):
    """Sample skewness G1 = n sqrt(n - 1) / (n - 2) * M3 / M2^1.5 (M_k the sum of the k-th
    powers of the deviations from the mean); NaN for n < 3 or M2 = 0. Unitless."""
    n, m2, m3, _ = _moments(returns)
    if n < 3:
        return _scalar(np.full_like(m2, np.nan))
    return _scalar(_ratio(m3, m2 * np.sqrt(m2)) * (n * math.sqrt(n - 1) / (n - 2)))


def kurtosis(returns: np.ndarray):
    """Sample excess kurtosis G2 = (n - 1) / ((n - 2)(n - 3)) * (n (n + 1) M4 / M2^2 -
    3 (n - 1)); 0 for a normal distribution, NaN for n < 4 or M2 = 0. Unitless."""
    n, m2, _, m4 = _moments(returns)
    if n < 4:
        return _scalar(np.full_like(m2, np.nan))
    inner = n * (n + 1) * _ratio(m4, m2 * m2) - 3 * (n - 1)
    return _scalar(inner * ((n - 1) / ((n - 2) * (n - 3))))


def _mean_std(returns: np.ndarray):
    r = np.asarray(returns, dtype=float)
    std = np.std(r, ddof=1, axis=0) if len(r) >= 2 else np.full(r.shape[1:], np.nan)
    return np.mean(r, axis=0), std


def value_at_risk(returns: np.ndarray):
    """Daily value at risk at 95 %, parametric: mean(r) + z_0.05 * std(r, ddof=1), z_0.05 =
    -1.645 the normal 5 % quantile. A daily return (negative: a loss); NaN when the std is
    0 or undefined."""
    mean, std = _mean_std(returns)
    return _scalar(np.where(std > 0, mean + Z * std, np.nan))


def cvar(returns: np.ndarray):
    """Daily conditional value at risk (expected shortfall) at 95 %, parametric: the mean
    of a normal distribution below its 5 % quantile, mean(r) - std(r, ddof=1) * phi(z_0.05)
    / 0.05 (phi the normal density). A daily return; mean(r) when the std is 0 or
    undefined."""
    mean, std = _mean_std(returns)
    shortfall = mean - std * PHI_Z / (1 - CONFIDENCE)
    return _scalar(np.where((std == 0) | np.isnan(std), mean, shortfall))


def best(returns: np.ndarray):
    """The highest return: max(r)."""
    return _scalar(np.max(returns, axis=0))


def worst(returns: np.ndarray):
    """The lowest return: min(r)."""
    return _scalar(np.min(returns, axis=0))


def period_returns(returns: np.ndarray, dates: pd.DatetimeIndex, period: str) -> np.ndarray:
    """Compounded returns of each calendar `period` ('month' or 'year') that the dates
    touch: prod(1 + r_t) - 1 over its dates, [P] or [P, G] in date order."""
    labels = (dates.year * 100 + (dates.month if period == "month" else 0)).to_numpy()
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    growth = 1.0 + np.asarray(returns, dtype=float)
    return np.multiply.reduceat(growth, starts, axis=0) - 1.0


def win_rate(returns: np.ndarray):
    """Share of the non-zero returns that are positive: count(r > 0) / count(r != 0); 0
    when every return is 0 (quantstats' convention)."""
    r = np.asarray(returns, dtype=float)
    nonzero = np.count_nonzero(r != 0, axis=0)
    wins = np.count_nonzero(r > 0, axis=0)
    return _scalar(np.where(nonzero > 0, wins / np.maximum(nonzero, 1), 0.0))


def ulcer_index(values: np.ndarray, initial_cash: float):
    """sqrt(sum(D_t^2) / (N - 1)), D_t the drawdown of `stats.drawdown_series` on each of the
    N backtest dates (the starting cash is the first peak). A fraction; NaN for N < 2."""
    drawdowns = drawdown_series(values, initial_cash)[1:]
    return _scalar(_ratio(np.sum(drawdowns * drawdowns, axis=0), len(drawdowns) - 1) ** 0.5)


def tail_ratio(returns: np.ndarray):
    """|q_0.95(r) / q_0.05(r)|, the quantiles interpolated linearly (numpy and pandas'
    default); NaN when q_0.05 is 0. Unitless: above 1, the right tail is the longer."""
    upper, lower = np.quantile(np.asarray(returns, dtype=float), [TAIL, 1 - TAIL], axis=0)
    return _scalar(np.abs(_ratio(upper, lower)))


def recovery_factor(returns: np.ndarray, values: np.ndarray, initial_cash: float):
    """|sum(r)| / |max drawdown|: the plain sum of the daily returns (quantstats', not the
    compounded total return) over the depth of the deepest drawdown; NaN without one."""
    return _scalar(np.abs(_ratio(np.sum(returns, axis=0), max_drawdown(values, initial_cash))))


def distribution(values: np.ndarray, dates: pd.DatetimeIndex, initial_cash: float) -> dict:
    """Every statistic of this module for daily values (1-D, or [N, G] columns), keyed as
    in stats.json (engine.metrics' "distribution" group)."""
    returns = daily_returns(values, initial_cash)
    months = period_returns(returns, dates, "month")
    years = period_returns(returns, dates, "year")
    return {
        "skew": skew(returns),
        "kurtosis": kurtosis(returns),
        "value_at_risk": value_at_risk(returns),
        "cvar": cvar(returns),
        "best_day": best(returns),
        "worst_day": worst(returns),
        "best_month": best(months),
        "worst_month": worst(months),
        "best_year": best(years),
        "worst_year": worst(years),
        "win_rate": win_rate(returns),
        "win_rate_months": win_rate(months),
        "ulcer_index": ulcer_index(values, initial_cash),
        "tail_ratio": tail_ratio(returns),
        "recovery_factor": recovery_factor(returns, values, initial_cash),
    }
