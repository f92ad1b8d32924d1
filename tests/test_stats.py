"""SPEC 7 statistics: hand-computed cases, 1-D vs 2-D agreement, and a cross-check
against vectorbt's own returns accessor (an independent implementation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.metrics import stats

DATES = pd.bdate_range("2024-01-01", periods=6)


def test_first_return_is_measured_against_initial_cash():
    r = stats.daily_returns(np.array([110.0, 99.0, 108.9]), 100.0)
    # 110/100-1, 99/110-1, 108.9/99-1
    np.testing.assert_allclose(r, [0.10, -0.10, 0.10])


def test_cagr_uses_calendar_days_over_365_25():
    dates = pd.DatetimeIndex(["2020-01-01", "2021-12-31"])  # 730 days
    values = np.array([100.0, 121.0])
    assert stats.cagr(values, 100.0, stats.years_between(dates)) == pytest.approx(
        1.21 ** (365.25 / 730) - 1
    )


def test_sharpe_and_sortino_by_hand():
    r = np.array([0.01, -0.02, 0.03, 0.0])
    mean, sd = r.mean(), r.std(ddof=1)
    assert stats.sharpe(r, 0.0, 252) == pytest.approx(mean / sd * math.sqrt(252))
    downside = math.sqrt((0.02**2) / 4)  # only -0.02 is below zero; mean over all 4
    assert stats.sortino(r, 0.0, 252) == pytest.approx(mean / downside * math.sqrt(252))


def test_risk_free_is_compounded_per_period():
    rf_d = stats.per_period_rate(0.05, 252)
    assert (1 + rf_d) ** 252 == pytest.approx(1.05)
    r = np.array([0.01, -0.02, 0.03, 0.0])
    assert stats.sharpe(r, rf_d, 252) == pytest.approx(
        (r - rf_d).mean() / (r - rf_d).std(ddof=1) * math.sqrt(252)
    )


def test_drawdown_counts_initial_cash_as_the_first_peak():
    # W = 100 (initial), 90, 95, 100, 80, 85 : deepest 80/100-1 = -20%
    values = np.array([90.0, 95.0, 100.0, 80.0, 85.0, 101.0])
    assert stats.max_drawdown(values, 100.0) == pytest.approx(-0.2)
    # stretches: 100@0 -> back to 100 at step 3 (3 steps); 100@3 -> 101 at step 6 (3 steps)
    steps, days = stats.drawdown_durations(values, 100.0, DATES)
    assert steps == 3
    # calendar: first stretch from the initial point (dated day 0) to DATES[2]: Jan 1 -> Jan 3;
    # second from DATES[2] (Jan 3) to DATES[5] (Jan 8): 5 days
    assert days == 5


def test_unrecovered_drawdown_runs_to_the_last_date():
    values = np.array([100.0, 120.0, 110.0, 100.0, 90.0, 95.0])
    steps, days = stats.drawdown_durations(values, 100.0, DATES)
    assert steps == 4  # peak 120 at step 2, still under at step 6
    assert days == (DATES[5] - DATES[1]).days


def test_steps_and_calendar_days_are_maximised_separately():
    dates = pd.DatetimeIndex(
        ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-02-01", "2024-02-02"]
    )
    # stretch A: 3 steps within 3 days; stretch B: 2 steps across 29 days
    values = np.array([100.0, 90.0, 95.0, 100.0, 90.0, 100.0])
    steps, days = stats.drawdown_durations(values, 100.0, dates)
    assert steps == 3  # from the initial cash (step 0) to 100 at step 4
    assert days == 29  # Jan 4 -> Feb 2


def test_zero_volatility_ratios_are_nan_not_infinite():
    values = np.full(5, 100.0)
    perf = stats.performance(values, DATES[:5], 100.0, 252, 0.0)
    assert math.isnan(perf["sharpe"]) and math.isnan(perf["calmar"])
    assert perf["max_drawdown"] == 0.0


def test_beta_alpha_tracking_error_by_hand():
    b = np.array([0.01, -0.01, 0.02, 0.0, 0.005])
    r = 2 * b + 0.001
    assert stats.beta(r, b) == pytest.approx(2.0)
    assert stats.alpha(r, b, 0.0, 252) == pytest.approx(0.001 * 252)
    assert stats.tracking_error(r, b, 252) == pytest.approx(
        np.std(b + 0.001, ddof=1) * math.sqrt(252)
    )
    assert stats.correlation(r, b) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-0.08, 0.08, allow_nan=False), min_size=3, max_size=40),
    st.lists(st.floats(-0.08, 0.08, allow_nan=False), min_size=3, max_size=40),
)
def test_two_dimensional_columns_equal_one_dimensional_runs(a, b):
    n = min(len(a), len(b))
    values = 100.0 * np.cumprod(1 + np.column_stack([a[:n], b[:n]]), axis=0)
    dates = pd.bdate_range("2024-01-01", periods=n)
    both = stats.performance(values, dates, 100.0, 252, 0.02)
    rel = stats.relative(values, values[:, ::-1], dates, 100.0, 252, 0.02)
    for column in range(2):
        one = stats.performance(values[:, column], dates, 100.0, 252, 0.02)
        one_rel = stats.relative(values[:, column], values[:, 1 - column], dates, 100.0, 252, 0.02)
        for key, value in one.items():
            np.testing.assert_allclose(
                both[key][column], value, rtol=1e-12, atol=1e-12, err_msg=key
            )
        for key, value in one_rel.items():
            np.testing.assert_allclose(rel[key][column], value, rtol=1e-12, atol=1e-12, err_msg=key)


def test_matches_vectorbt_returns_accessor_with_252_day_year():
    import vectorbt as vbt  # noqa: F401  (registers the .vbt accessor)

    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2020-01-01", periods=500)
    r = pd.Series(rng.normal(0.0004, 0.01, len(dates)), index=dates)
    values = 100_000 * np.cumprod(1 + r.to_numpy())
    ours = stats.performance(values, dates, 100_000, 252, 0.0)
    # vectorbt treats each row as one day and a year as 252 of them when told so.
    acc = r.vbt.returns(freq="1D", year_freq="252D")
    assert ours["volatility"] == pytest.approx(acc.annualized_volatility(), rel=1e-9)
    assert ours["sharpe"] == pytest.approx(acc.sharpe_ratio(), rel=1e-9)
    assert ours["sortino"] == pytest.approx(acc.sortino_ratio(), rel=1e-9)
    assert ours["max_drawdown"] == pytest.approx(acc.max_drawdown(), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(-0.08, 0.08, allow_nan=False), min_size=1, max_size=30),
    st.integers(0, 3),
    st.floats(0.0, 0.05),
)
def test_numba_grid_statistics_equal_the_numpy_formulas(steps, flat_columns, risk_free):
    from engine.metrics.distribution import distribution
    from engine.metrics.fast_stats import DISTRIBUTION, PERFORMANCE, RELATIVE, grid_statistics

    n = len(steps)
    rng = np.random.default_rng(n)
    columns = [100.0 * np.cumprod(1 + np.asarray(steps))]
    columns += [100.0 * np.cumprod(1 + rng.normal(0, 0.01, n)) for _ in range(2)]
    columns += [np.full(n, 100.0)] * flat_columns  # flat: zero volatility, zero drawdown
    values = np.column_stack(columns)
    bench = np.column_stack([100.0 * np.cumprod(1 + rng.normal(0, 0.01, n)), np.full(n, 100.0)])
    which = np.arange(values.shape[1]) % 2
    dates = pd.bdate_range("2024-01-01", periods=n)
    fast = grid_statistics(values, bench, which, dates, 100.0, 252, risk_free)
    for g in range(values.shape[1]):
        slow = stats.performance(values[:, g], dates, 100.0, 252, risk_free)
        slow |= stats.relative(values[:, g], bench[:, which[g]], dates, 100.0, 252, risk_free)
        slow |= distribution(values[:, g], dates, 100.0)
        excess = stats.daily_returns(values[:, g], 100.0) - stats.per_date_rate(risk_free, 252)
        # returns constant but for a rounding step (std ~1e-16 of a mean ~1e-4): both
        # Sharpe ratios are ~1e13 of float noise, equal only to the data's conditioning
        noise = len(excess) > 1 and np.std(excess, ddof=1) < 1e-9 * abs(np.mean(excess))
        for key in (*PERFORMANCE, *RELATIVE, *DISTRIBUTION):
            if key == "sharpe" and noise:
                continue
            np.testing.assert_allclose(
                fast[key][g], slow[key], rtol=1e-9, atol=1e-12, err_msg=f"{key} column {g}"
            )
