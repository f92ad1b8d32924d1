"""docs/semantics.md §11 statistics of many portfolios in one numba pass (for sweeps).

The same formulas as `engine.metrics.stats` and `engine.metrics.distribution` (whose
docstrings state them), computed column by column in a single compiled loop instead of
many whole-array numpy passes: a sweep's statistics would otherwise cost ten times its
simulation. tests/test_sweep.py holds the two implementations to 1e-9 of each other on
every run (each combination's statistics against a single `rotation run`).

`RUN_ONLY` statistics are left out of sweeps: the tail ratio needs two quantiles of
each combination's returns, a sort that would cost more than the rest together.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

from engine.metrics.distribution import CONFIDENCE, PHI_Z, Z
from engine.metrics.stats import per_period_rate, years_between

PERFORMANCE = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration_days",
    "max_drawdown_duration_calendar_days",
    "calmar",
    "final_value",
)
RELATIVE = ("excess_cagr", "beta", "alpha", "tracking_error", "information_ratio", "correlation")
DISTRIBUTION = (
    "skew",
    "kurtosis",
    "value_at_risk",
    "cvar",
    "best_day",
    "worst_day",
    "best_month",
    "worst_month",
    "best_year",
    "worst_year",
    "win_rate",
    "win_rate_months",
    "ulcer_index",
    "recovery_factor",
)
RUN_ONLY = ("tail_ratio",)
"""engine.metrics.distribution statistics that a sweep does not compute (see above)."""
_INTEGER = {"max_drawdown_duration_days", "max_drawdown_duration_calendar_days"}


@numba.njit(cache=True, inline="always")
def _ratio(num, den):
    """num / den; NaN where den is 0 or either is not finite (engine.metrics.stats._ratio)."""
    if den == 0.0 or not np.isfinite(den) or not np.isfinite(num):
        return np.nan
    return num / den


@numba.njit(cache=True)
def _returns_nb(values, cash, out):
    """r_1 = V_1 / cash - 1, r_t = V_t / V_{t-1} - 1."""
    previous = cash
    for t in range(values.shape[0]):
        out[t] = values[t] / previous - 1.0
        previous = values[t]


@numba.njit(cache=True)
def _mean(x):
    total = 0.0
    for v in x:
        total += v
    return total / x.shape[0]


@numba.njit(cache=True)
def _drawdown_nb(values, cash, day):
    """(max drawdown, longest stretch in steps, in calendar days, sum of squared drawdowns
    of V_1..V_N) on W = (cash, V_1..V_N)."""
    n = values.shape[0]
    peak_value, peak_at = cash, 0  # W_0 = cash at position 0, dated day[0]
    deepest, steps, days, squares = 0.0, 0, 0, 0.0
    for i in range(1, n + 1):
        w = values[i - 1]
        if w >= peak_value:
            if i - peak_at > 1:  # a stretch under water ended at i
                steps = max(steps, i - peak_at)
                days = max(days, day[i - 1] - (day[0] if peak_at == 0 else day[peak_at - 1]))
            peak_value, peak_at = w, i
        else:
            drawdown = w / peak_value - 1.0
            deepest = min(deepest, drawdown)
            squares += drawdown * drawdown
    if n > peak_at:  # still under water at the end
        steps = max(steps, n - peak_at)
        days = max(days, day[n - 1] - (day[0] if peak_at == 0 else day[peak_at - 1]))
    return deepest, steps, days, squares


@numba.njit(cache=True)
def _periods_nb(r, month, year, out):
    """Compounded returns of each calendar month and each year (runs of equal labels):
    out[0..3] (best, worst, positive count, non-zero count) of the months, out[4..7] of
    the years, in one pass."""
    growth_m, growth_y = 1.0, 1.0
    for k in range(2):
        out[4 * k], out[4 * k + 1], out[4 * k + 2], out[4 * k + 3] = -np.inf, np.inf, 0.0, 0.0
    n = r.shape[0]
    for t in range(n):
        growth_m *= 1.0 + r[t]
        growth_y *= 1.0 + r[t]
        last = t == n - 1
        if last or month[t + 1] != month[t]:
            _close_period(growth_m - 1.0, out, 0)
            growth_m = 1.0
        if last or year[t + 1] != year[t]:
            _close_period(growth_y - 1.0, out, 4)
            growth_y = 1.0


@numba.njit(cache=True, inline="always")
def _close_period(period, out, at):
    out[at] = max(out[at], period)
    out[at + 1] = min(out[at + 1], period)
    out[at + 2] += period > 0
    out[at + 3] += period != 0


@numba.njit(cache=True)
def _shape_nb(r, n, moments, ss_r, squares, deepest, periods, z, phi_z, alpha, out):
    """The DISTRIBUTION statistics of one column's returns (engine.metrics.distribution),
    from its moments (m3, m4, sum, best, worst, wins, non-zero: gathered in the main
    loop) and its months' and years' compounded returns (`_periods_nb`)."""
    m3, m4, total, best, worst, wins, nonzero = moments
    mean_r = total / n
    std = math.sqrt(ss_r / (n - 1)) if n >= 2 else np.nan
    out[0] = (
        _ratio(m3, ss_r * math.sqrt(ss_r)) * (n * math.sqrt(n - 1) / (n - 2)) if n >= 3 else np.nan
    )
    inner = n * (n + 1) * _ratio(m4, ss_r * ss_r) - 3.0 * (n - 1)
    out[1] = inner * ((n - 1) / ((n - 2) * (n - 3))) if n >= 4 else np.nan
    out[2] = mean_r + z * std if std > 0 else np.nan
    out[3] = mean_r if std == 0 or np.isnan(std) else mean_r - std * phi_z / alpha
    out[4], out[5] = best, worst
    out[6], out[7] = periods[0], periods[1]
    out[10] = wins / nonzero if nonzero > 0 else 0.0
    out[11] = periods[2] / periods[3] if periods[3] > 0 else 0.0
    out[8], out[9] = periods[4], periods[5]
    out[12] = math.sqrt(_ratio(squares, n - 1.0))
    out[13] = abs(_ratio(total, deepest))


@numba.njit(cache=True)
def _columns_nb(
    values,
    bench,
    bench_col,
    cash,
    rf_d,
    rf_series,
    periods,
    years,
    day,
    month,
    year,
    perf,
    rel,
    shape,
):
    """Fill perf [G, 10], rel [G, 6] and shape [G, 14] (orders of PERFORMANCE, RELATIVE and
    DISTRIBUTION); the risk-free rate is `rf_series` [N] per date when it has N values, else
    the number `rf_d`."""
    n_combos, n = values.shape
    root = math.sqrt(periods)
    r = np.empty(n)
    series = rf_series.shape[0] > 0
    mean_rf = _mean(rf_series) if series else rf_d
    # each benchmark's returns, mean and squared deviations once, not once per combination
    n_bench = bench.shape[0]
    bench_r = np.empty((n_bench, n))
    bench_mean = np.empty(n_bench)
    bench_ss = np.empty(n_bench)
    for u in range(n_bench):
        _returns_nb(bench[u], cash, bench_r[u])
        bench_mean[u] = _mean(bench_r[u])
        ss_b = 0.0
        for t in range(n):
            db = bench_r[u, t] - bench_mean[u]
            ss_b += db * db
        bench_ss[u] = ss_b
    calendar = np.empty(8)  # months' and years' (best, worst, wins, non-zero)
    for g in range(n_combos):
        previous, total = cash, 0.0  # the returns and their sum in one pass (_returns_nb)
        for t in range(n):
            r[t] = values[g, t] / previous - 1.0
            previous = values[g, t]
            total += r[t]
        u = bench_col[g]
        b = bench_r[u]
        growth = values[g, n - 1] / cash
        cagr = growth ** (1.0 / years) - 1.0 if years > 0 else np.nan
        b_growth = bench[u, n - 1] / cash
        b_cagr = b_growth ** (1.0 / years) - 1.0 if years > 0 else np.nan
        mean_r, mean_b = total / n, bench_mean[u]
        mean_e = mean_r - mean_rf
        ss_r = cross = ss_a = down = ss_e = m3 = m4 = 0.0
        best, worst, wins, nonzero = -np.inf, np.inf, 0.0, 0.0
        ss_b = bench_ss[u]
        mean_a = mean_r - mean_b
        for t in range(n):
            dr, db = r[t] - mean_r, b[t] - mean_b
            d2 = dr * dr
            ss_r += d2
            m3 += d2 * dr
            m4 += d2 * d2
            best, worst = max(best, r[t]), min(worst, r[t])
            wins += r[t] > 0
            nonzero += r[t] != 0
            cross += dr * db
            da = (r[t] - b[t]) - mean_a
            ss_a += da * da
            e = r[t] - (rf_series[t] if series else rf_d)
            if e < 0:
                down += e * e
            if series:  # excess returns vary with the rate: their own spread
                de = e - mean_e
                ss_e += de * de
        deepest, steps, days, squares = _drawdown_nb(values[g], cash, day)
        _periods_nb(r, month, year, calendar)
        moments = (m3, m4, total, best, worst, wins, nonzero)
        _shape_nb(
            r, n, moments, ss_r, squares, deepest, calendar, Z, PHI_Z, 1 - CONFIDENCE, shape[g]
        )
        many = n >= 2
        std_r = math.sqrt(ss_r / (n - 1)) if many else np.nan
        std_b = math.sqrt(ss_b / (n - 1)) if many else np.nan
        perf[g, 0] = growth - 1.0
        perf[g, 1] = cagr
        perf[g, 2] = std_r * root
        std_e = (math.sqrt(ss_e / (n - 1)) if many else np.nan) if series else std_r
        perf[g, 3] = _ratio(mean_e, std_e) * root if many else np.nan
        perf[g, 4] = _ratio(mean_e, math.sqrt(down / n)) * root if many else np.nan
        perf[g, 5] = deepest
        perf[g, 6] = steps
        perf[g, 7] = days
        perf[g, 8] = _ratio(cagr, abs(deepest))
        perf[g, 9] = values[g, n - 1]
        beta = _ratio(cross / (n - 1), ss_b / (n - 1)) if many else np.nan
        error = math.sqrt(ss_a / (n - 1)) * root if many else np.nan
        rel[g, 0] = cagr - b_cagr
        rel[g, 1] = beta
        rel[g, 2] = (mean_e - beta * (mean_b - mean_rf)) * periods
        rel[g, 3] = error
        rel[g, 4] = _ratio(mean_a * periods, error)
        rel[g, 5] = _ratio(cross / (n - 1), std_r * std_b) if many else np.nan


@numba.njit(cache=True)
def _regimes_nb(decided, n_regimes, counts, switches):
    """For each column of the decided regime codes [rows, G]: how many rows hold each code
    0..n_regimes-1 (counts [n_regimes, G]) and how many consecutive rows differ."""
    rows, n_combos = decided.shape
    for g in range(n_combos):
        changed = 0
        for t in range(rows):
            code = decided[t, g]
            if t > 0 and code != decided[t - 1, g]:
                changed += 1
            if 0 <= code < n_regimes:
                counts[code, g] += 1
        switches[g] = changed


def regime_statistics(decided: np.ndarray, n_regimes: int) -> tuple[np.ndarray, np.ndarray]:
    """(switches [G], time in each regime [n_regimes, G]) of the decided regime codes
    [rows, G]: `stats.switches` and `stats.time_in_regime` of codes 0..n_regimes-1 in one
    compiled pass (the same numbers: a share is its count / rows, as np.mean of a mask)."""
    codes = np.asarray(decided, dtype=np.int64)
    counts = np.zeros((n_regimes, codes.shape[1]), dtype=np.int64)
    switches = np.zeros(codes.shape[1], dtype=np.int64)
    _regimes_nb(codes, n_regimes, counts, switches)
    with np.errstate(invalid="ignore", divide="ignore"):
        return switches, counts / np.float64(codes.shape[0])


def grid_statistics(
    values: np.ndarray,
    bench: np.ndarray,
    bench_column: np.ndarray,
    dates: pd.DatetimeIndex,
    initial_cash: float,
    periods: int,
    risk_free,
) -> dict[str, np.ndarray]:
    """`stats.performance`, `stats.relative` and `distribution.distribution` (less
    `RUN_ONLY`) of every column, in one pass.

    Args:
        values: [N, G] daily values of the combinations.
        bench: [N, U] daily values of the distinct benchmarks.
        bench_column: [G] which benchmark column each combination is measured against.
        risk_free: the annual rate, or an [N] per-date series (docs/semantics.md §11).
    """
    rows = np.ascontiguousarray(np.asarray(values, dtype=np.float64).T)
    bench_rows = np.ascontiguousarray(np.asarray(bench, dtype=np.float64).T)
    day = np.asarray((dates - dates[0]).days, dtype=np.int64)
    years = years_between(dates)
    perf = np.empty((rows.shape[0], len(PERFORMANCE)))
    rel = np.empty((rows.shape[0], len(RELATIVE)))
    shape = np.empty((rows.shape[0], len(DISTRIBUTION)))
    number = np.ndim(risk_free) == 0
    series = np.empty(0) if number else np.ascontiguousarray(risk_free, dtype=np.float64)
    _columns_nb(
        rows,
        bench_rows,
        np.asarray(bench_column, dtype=np.int64),
        float(initial_cash),
        per_period_rate(float(risk_free), periods) if number else 0.0,
        series,
        float(periods),
        years,
        day,
        np.asarray(dates.year * 100 + dates.month, dtype=np.int64),
        np.asarray(dates.year, dtype=np.int64),
        perf,
        rel,
        shape,
    )
    out = {
        k: perf[:, i].astype(np.int64) if k in _INTEGER else perf[:, i]
        for i, k in enumerate(PERFORMANCE)
    }
    out |= {k: rel[:, i] for i, k in enumerate(RELATIVE)}
    return out | {k: shape[:, i] for i, k in enumerate(DISTRIBUTION)}
