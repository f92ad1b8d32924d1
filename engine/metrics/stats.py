"""Statistics of docs/semantics.md §11: pure functions, daily values in, numbers out.

Notation: V_1..V_N are the daily portfolio values on the N backtest dates,
V_0 = initial cash, P periods per year, rf the annual risk-free rate and
rf_d = (1 + rf)^(1/P) - 1 its per-period equivalent, or (a ticker's rate, §11) a
per-date series rf_t given as an [N] array in place of the annual number. Returns are simple
returns r_t = V_t / V_{t-1} - 1, one per backtest date (r_1 against the
initial cash). A ratio whose denominator is zero is NaN (written as null).

Every function takes values or returns either as a 1-D array (one portfolio,
giving a scalar) or as a 2-D array [N, G] with one column per portfolio
(giving one number per column), so a sweep and a single run share the same
formulas. Time runs along axis 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.25


def _ratio(numerator, denominator):
    """numerator / denominator, NaN where the denominator is 0 or not finite."""
    num, den = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    ok = (den != 0) & np.isfinite(den) & np.isfinite(num)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ok, num / np.where(ok, den, 1.0), np.nan)
    return out[()] if out.ndim == 0 else out


def _nan_if_short(result, n: int):
    """Sample statistics need at least two observations."""
    return result if n >= 2 else np.full_like(np.asarray(result, dtype=float), np.nan)[()]


def daily_returns(values: np.ndarray, initial_cash: float) -> np.ndarray:
    """r_1 = V_1 / initial_cash - 1, r_t = V_t / V_{t-1} - 1 (N returns)."""
    values = np.asarray(values, dtype=float)
    first = np.full((1,) + values.shape[1:], float(initial_cash))
    return values / np.concatenate([first, values[:-1]]) - 1.0


def per_period_rate(annual: float, periods: int) -> float:
    """rf_d = (1 + rf)^(1/P) - 1."""
    return (1.0 + annual) ** (1.0 / periods) - 1.0


def per_date_rate(risk_free, periods: int, returns=None):
    """rf_d for an annual number; an [N] per-date series as it is (shaped [N, 1] to
    subtract from `returns` [N, G])."""
    if np.ndim(risk_free) == 0:
        return per_period_rate(float(risk_free), periods)
    series = np.asarray(risk_free, dtype=float)
    return series[:, None] if returns is not None and np.ndim(returns) == 2 else series


def years_between(dates: pd.DatetimeIndex) -> float:
    """(last date - first date) in days / 365.25."""
    return (dates[-1] - dates[0]).days / DAYS_PER_YEAR


def total_return(values: np.ndarray, initial_cash: float):
    """V_N / initial_cash - 1."""
    return np.asarray(values, dtype=float)[-1] / initial_cash - 1.0


def cagr(values: np.ndarray, initial_cash: float, years: float):
    """(V_N / initial_cash)^(1 / years) - 1; NaN for a zero-length period."""
    growth = np.asarray(values, dtype=float)[-1] / initial_cash
    if years <= 0:
        return np.full_like(growth, np.nan)[()]
    return growth ** (1.0 / years) - 1.0


def volatility(returns: np.ndarray, periods: int):
    """Annual volatility: std(r, ddof=1) * sqrt(P)."""
    if len(returns) < 2:
        return _nan_if_short(np.mean(returns, axis=0), 1)
    return np.std(returns, ddof=1, axis=0) * math.sqrt(periods)


def sharpe(returns: np.ndarray, rf_d, periods: int):
    """mean(r - rf_d) / std(r - rf_d, ddof=1) * sqrt(P) (rf_d a number or a per-date series)."""
    excess = np.asarray(returns) - rf_d
    if len(excess) < 2:
        return _nan_if_short(np.mean(excess, axis=0), 1)
    return _ratio(np.mean(excess, axis=0), np.std(excess, ddof=1, axis=0)) * math.sqrt(periods)


def sortino(returns: np.ndarray, rf_d, periods: int):
    """mean(r - rf_d) / sqrt(mean(min(r - rf_d, 0)^2)) * sqrt(P)."""
    excess = np.asarray(returns) - rf_d
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2, axis=0))
    result = _ratio(np.mean(excess, axis=0), downside) * math.sqrt(periods)
    return _nan_if_short(result, len(excess))  # like the other sample ratios


def _wealth(values: np.ndarray, initial_cash: float) -> np.ndarray:
    """W = (initial_cash, V_1 .. V_N)."""
    values = np.asarray(values, dtype=float)
    return np.concatenate([np.full((1,) + values.shape[1:], float(initial_cash)), values])


def drawdown_series(values: np.ndarray, initial_cash: float) -> np.ndarray:
    """D_t = W_t / max_{s<=t} W_s - 1 on W = (initial_cash, V_1 .. V_N)."""
    wealth = _wealth(values, initial_cash)
    return wealth / np.maximum.accumulate(wealth, axis=0) - 1.0


def max_drawdown(values: np.ndarray, initial_cash: float):
    """min_t D_t (a negative fraction, 0 if the value never fell)."""
    return drawdown_series(values, initial_cash).min(axis=0)


def drawdown_durations(values: np.ndarray, initial_cash: float, dates: pd.DatetimeIndex):
    """Longest under-water stretch, in steps of the series and in calendar days.

    The series is W = (initial_cash, V_1 .. V_N); the initial cash is dated
    the first backtest date. A stretch runs from a peak to the first point
    back at or above it, or to the last point if it never recovers. Steps and
    calendar days are each maximised over stretches separately.

    Returns:
        (steps, calendar days): ints for 1-D values, int arrays for 2-D.
    """
    wealth = _wealth(values, initial_cash)
    shape = (-1,) + (1,) * (wealth.ndim - 1)
    position = np.arange(len(wealth)).reshape(shape)
    day = np.concatenate([[0], (dates - dates[0]).days.to_numpy()]).reshape(shape)
    running_max = np.maximum.accumulate(wealth, axis=0)
    is_peak = np.ones(wealth.shape, dtype=bool)
    is_peak[1:] = wealth[1:] >= running_max[:-1]
    # peak[i]: the last peak at or before i (where the current stretch started)
    peak = np.maximum.accumulate(np.where(is_peak, position, 0), axis=0)
    recovered = is_peak[1:] & (position[1:] - peak[:-1] > 1)  # a stretch ends at i
    steps = np.where(recovered, position[1:] - peak[:-1], 0).max(axis=0, initial=0)
    days = np.where(
        recovered,
        day[1:] - np.take_along_axis(np.broadcast_to(day, wealth.shape), peak[:-1], axis=0),
        0,
    ).max(axis=0, initial=0)
    last_peak = peak[-1]
    steps = np.maximum(steps, len(wealth) - 1 - last_peak)
    days = np.maximum(days, day[-1] - np.asarray(day).ravel()[last_peak])
    return steps[()] if np.ndim(steps) == 0 else steps, days[()] if np.ndim(days) == 0 else days


def switches(decided: np.ndarray):
    """Number of consecutive backtest dates whose decided regimes differ."""
    labels = np.asarray(decided)
    return np.count_nonzero(labels[1:] != labels[:-1], axis=0)


def time_in_regime(decided: np.ndarray, names: Sequence) -> dict:
    """Share of backtest dates on which each regime was the decided one."""
    labels = np.asarray(decided)
    return {name: np.mean(labels == name, axis=0) for name in names}


def average_exposure(cash: np.ndarray, values: np.ndarray):
    """avg_exposure = mean over the N backtest dates of 1 - cash_t / V_t: the share of
    the value held in assets at each close (a fraction; NaN if some V_t is 0)."""
    cash, values = np.asarray(cash, dtype=float), np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(values != 0, 1.0 - cash / values, np.nan)
    out = np.mean(share, axis=0)
    return out[()] if np.ndim(out) == 0 else out


def turnover(traded_value, values: np.ndarray, years: float):
    """One-way annual turnover: sum(|quantity * fill price|) / 2 / mean(V) / years."""
    return _ratio(np.asarray(traded_value, dtype=float) / 2.0, np.mean(values, axis=0) * years)


def _covariance(a: np.ndarray, b: np.ndarray):
    """Sample covariance (ddof 1) along axis 0."""
    a_dev = a - np.mean(a, axis=0)
    b_dev = b - np.mean(b, axis=0)
    return np.sum(a_dev * b_dev, axis=0) / (len(a) - 1)


def beta(returns: np.ndarray, bench: np.ndarray):
    """cov(r, b) / var(b), both with ddof 1."""
    if len(returns) < 2:
        return _nan_if_short(np.mean(returns, axis=0), 1)
    return _ratio(_covariance(returns, bench), np.var(bench, ddof=1, axis=0))


def alpha(returns: np.ndarray, bench: np.ndarray, rf_d, periods: int, slope=None):
    """Annual alpha: (mean(r - rf_d) - beta * mean(b - rf_d)) * P (`slope`: beta if known)."""
    slope = beta(returns, bench) if slope is None else slope
    return (np.mean(returns - rf_d, axis=0) - slope * np.mean(bench - rf_d, axis=0)) * periods


def tracking_error(returns: np.ndarray, bench: np.ndarray, periods: int):
    """std(r - b, ddof=1) * sqrt(P)."""
    return volatility(returns - bench, periods)


def information_ratio(returns: np.ndarray, bench: np.ndarray, periods: int, error=None):
    """mean(r - b) * P / tracking error (`error`: the tracking error if known)."""
    error = tracking_error(returns, bench, periods) if error is None else error
    return _ratio(np.mean(returns - bench, axis=0) * periods, error)


def correlation(returns: np.ndarray, bench: np.ndarray):
    """Pearson correlation of r and b."""
    if len(returns) < 2:
        return _nan_if_short(np.mean(returns, axis=0), 1)
    spread = np.std(returns, ddof=1, axis=0) * np.std(bench, ddof=1, axis=0)
    return _ratio(_covariance(returns, bench), spread)


def performance(
    values: np.ndarray,
    dates: pd.DatetimeIndex,
    initial_cash: float,
    periods: int,
    risk_free,
) -> dict:
    """Return, risk and drawdown statistics of daily values (1-D, or [N, G] columns);
    `risk_free` the annual rate or an [N] per-date series."""
    returns = daily_returns(values, initial_cash)
    rf_d = per_date_rate(risk_free, periods, returns)
    years = years_between(dates)
    growth = cagr(values, initial_cash, years)
    deepest = max_drawdown(values, initial_cash)
    steps, days = drawdown_durations(values, initial_cash, dates)
    return {
        "total_return": total_return(values, initial_cash),
        "cagr": growth,
        "volatility": volatility(returns, periods),
        "sharpe": sharpe(returns, rf_d, periods),
        "sortino": sortino(returns, rf_d, periods),
        "max_drawdown": deepest,
        "max_drawdown_duration_days": steps,
        "max_drawdown_duration_calendar_days": days,
        "calmar": _ratio(growth, np.abs(deepest)),
        "final_value": np.asarray(values, dtype=float)[-1],
    }


def trading(values: np.ndarray, dates: pd.DatetimeIndex, trade_dates, fees_paid, traded_value):
    """Trading activity: trade dates, fees paid (currency) and one-way annual turnover."""
    return {
        "trade_dates": trade_dates,
        "fees_paid": fees_paid,
        "turnover": turnover(traded_value, values, years_between(dates)),
    }


def relative(
    strategy: np.ndarray,
    benchmark: np.ndarray,
    dates: pd.DatetimeIndex,
    initial_cash: float,
    periods: int,
    risk_free,
) -> dict:
    """Strategy against benchmark, both daily values on the same dates (columns pair up);
    `risk_free` the annual rate or an [N] per-date series."""
    r = daily_returns(strategy, initial_cash)
    b = daily_returns(benchmark, initial_cash)
    rf_d = per_date_rate(risk_free, periods, r)
    years = years_between(dates)
    slope, error = beta(r, b), tracking_error(r, b, periods)
    return {
        "excess_cagr": cagr(strategy, initial_cash, years) - cagr(benchmark, initial_cash, years),
        "beta": slope,
        "alpha": alpha(r, b, rf_d, periods, slope),
        "tracking_error": error,
        "information_ratio": information_ratio(r, b, periods, error),
        "correlation": correlation(r, b),
    }
