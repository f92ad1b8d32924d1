"""Statistics of SPEC 7: pure functions, daily values in, numbers out.

Notation: V_1..V_N are the daily portfolio values on the N backtest dates,
V_0 = initial cash, P periods per year, rf the annual risk-free rate and
rf_d = (1 + rf)^(1/P) - 1 its per-period equivalent. Returns are simple
returns r_t = V_t / V_{t-1} - 1, one per backtest date (r_1 against the
initial cash). Ratios that divide by zero are NaN (written as null).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.25


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or not np.isfinite(denominator) or not np.isfinite(numerator):
        return math.nan
    return float(numerator / denominator)


def daily_returns(values: np.ndarray, initial_cash: float) -> np.ndarray:
    """r_1 = V_1 / initial_cash - 1, r_t = V_t / V_{t-1} - 1 (N returns)."""
    values = np.asarray(values, dtype=float)
    previous = np.concatenate([[initial_cash], values[:-1]])
    return values / previous - 1.0


def per_period_rate(annual: float, periods: int) -> float:
    """rf_d = (1 + rf)^(1/P) - 1."""
    return (1.0 + annual) ** (1.0 / periods) - 1.0


def years_between(dates: pd.DatetimeIndex) -> float:
    """(last date - first date) in days / 365.25."""
    return (dates[-1] - dates[0]).days / DAYS_PER_YEAR


def total_return(values: np.ndarray, initial_cash: float) -> float:
    """V_N / initial_cash - 1."""
    return float(values[-1] / initial_cash - 1.0)


def cagr(values: np.ndarray, initial_cash: float, years: float) -> float:
    """(V_N / initial_cash)^(1 / years) - 1; NaN for a zero-length period."""
    if years <= 0:
        return math.nan
    return float((values[-1] / initial_cash) ** (1.0 / years) - 1.0)


def volatility(returns: np.ndarray, periods: int) -> float:
    """Annual volatility: std(r, ddof=1) * sqrt(P)."""
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns, ddof=1) * math.sqrt(periods))


def sharpe(returns: np.ndarray, rf_d: float, periods: int) -> float:
    """mean(r - rf_d) / std(r - rf_d, ddof=1) * sqrt(P)."""
    if len(returns) < 2:
        return math.nan
    excess = returns - rf_d
    return _ratio(np.mean(excess), np.std(excess, ddof=1)) * math.sqrt(periods)


def sortino(returns: np.ndarray, rf_d: float, periods: int) -> float:
    """mean(r - rf_d) / sqrt(mean(min(r - rf_d, 0)^2)) * sqrt(P)."""
    excess = returns - rf_d
    downside = math.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    return _ratio(np.mean(excess), downside) * math.sqrt(periods)


def drawdown_series(values: np.ndarray, initial_cash: float) -> np.ndarray:
    """D_t = W_t / max_{s<=t} W_s - 1 on W = (initial_cash, V_1 .. V_N)."""
    wealth = np.concatenate([[initial_cash], np.asarray(values, dtype=float)])
    return wealth / np.maximum.accumulate(wealth) - 1.0


def max_drawdown(values: np.ndarray, initial_cash: float) -> float:
    """min_t D_t (a negative fraction, 0 if the value never fell)."""
    return float(drawdown_series(values, initial_cash).min())


def drawdown_durations(
    values: np.ndarray, initial_cash: float, dates: pd.DatetimeIndex
) -> tuple[int, int]:
    """Longest under-water stretch, in steps of the series and in calendar days.

    The series is W = (initial_cash, V_1 .. V_N); the initial cash is dated
    the first backtest date. A stretch runs from a peak to the first point
    back at or above it, or to the last point if it never recovers. Steps and
    calendar days are each maximised over stretches separately.
    """
    wealth = np.concatenate([[initial_cash], np.asarray(values, dtype=float)])
    days = (dates - dates[0]).days.to_numpy()
    stamps = np.concatenate([[0], days])
    longest_steps = longest_days = 0
    peak = 0
    for i in range(1, len(wealth)):
        if wealth[i] >= wealth[peak]:
            if i - peak > 1:  # a stretch below the peak just ended at i
                longest_steps = max(longest_steps, i - peak)
                longest_days = max(longest_days, int(stamps[i] - stamps[peak]))
            peak = i
    last = len(wealth) - 1
    if last > peak:  # still under water at the end
        longest_steps = max(longest_steps, last - peak)
        longest_days = max(longest_days, int(stamps[last] - stamps[peak]))
    return longest_steps, longest_days


def switches(decided: Sequence[str]) -> int:
    """Number of consecutive backtest dates whose decided regimes differ."""
    labels = np.asarray(decided)
    return int(np.count_nonzero(labels[1:] != labels[:-1]))


def time_in_regime(decided: Sequence[str], names: Sequence[str]) -> dict[str, float]:
    """Share of backtest dates on which each regime was the decided one."""
    labels = np.asarray(decided)
    return {name: float(np.mean(labels == name)) for name in names}


def turnover(traded_value: float, values: np.ndarray, years: float) -> float:
    """One-way annual turnover: sum(|quantity * fill price|) / 2 / mean(V) / years."""
    if years <= 0:
        return math.nan
    return float(traded_value / 2.0 / np.mean(values) / years)


def beta(returns: np.ndarray, bench: np.ndarray) -> float:
    """cov(r, b) / var(b), both with ddof 1."""
    if len(returns) < 2:
        return math.nan
    return _ratio(np.cov(returns, bench, ddof=1)[0, 1], np.var(bench, ddof=1))


def alpha(returns: np.ndarray, bench: np.ndarray, rf_d: float, periods: int) -> float:
    """Annual alpha: (mean(r - rf_d) - beta * mean(b - rf_d)) * P."""
    b = beta(returns, bench)
    return float((np.mean(returns - rf_d) - b * np.mean(bench - rf_d)) * periods)


def tracking_error(returns: np.ndarray, bench: np.ndarray, periods: int) -> float:
    """std(r - b, ddof=1) * sqrt(P)."""
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns - bench, ddof=1) * math.sqrt(periods))


def information_ratio(returns: np.ndarray, bench: np.ndarray, periods: int) -> float:
    """mean(r - b) * P / tracking error."""
    return _ratio(np.mean(returns - bench) * periods, tracking_error(returns, bench, periods))


def correlation(returns: np.ndarray, bench: np.ndarray) -> float:
    """Pearson correlation of r and b."""
    if len(returns) < 2:
        return math.nan
    return _ratio(
        np.cov(returns, bench, ddof=1)[0, 1], np.std(returns, ddof=1) * np.std(bench, ddof=1)
    )


def performance(
    values: np.ndarray,
    dates: pd.DatetimeIndex,
    initial_cash: float,
    periods: int,
    risk_free: float,
) -> dict[str, float]:
    """Return, risk and drawdown statistics of one daily value series."""
    returns = daily_returns(values, initial_cash)
    rf_d = per_period_rate(risk_free, periods)
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
        "calmar": _ratio(growth, abs(deepest)),
        "final_value": float(values[-1]),
    }


def trading(
    values: np.ndarray,
    dates: pd.DatetimeIndex,
    trade_dates: int,
    fees_paid: float,
    traded_value: float,
) -> dict[str, float]:
    """Trading activity: trade dates, fees paid (currency) and one-way annual turnover."""
    return {
        "trade_dates": int(trade_dates),
        "fees_paid": float(fees_paid),
        "turnover": turnover(traded_value, values, years_between(dates)),
    }


def relative(
    strategy: np.ndarray,
    benchmark: np.ndarray,
    dates: pd.DatetimeIndex,
    initial_cash: float,
    periods: int,
    risk_free: float,
) -> dict[str, float]:
    """Strategy against benchmark, both as daily values on the same dates."""
    r = daily_returns(strategy, initial_cash)
    b = daily_returns(benchmark, initial_cash)
    rf_d = per_period_rate(risk_free, periods)
    years = years_between(dates)
    return {
        "excess_cagr": cagr(strategy, initial_cash, years) - cagr(benchmark, initial_cash, years),
        "beta": beta(r, b),
        "alpha": alpha(r, b, rf_d, periods),
        "tracking_error": tracking_error(r, b, periods),
        "information_ratio": information_ratio(r, b, periods),
        "correlation": correlation(r, b),
    }
