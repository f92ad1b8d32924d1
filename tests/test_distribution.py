"""The statistics quantstats users read first (engine/metrics/distribution.py).

A hand-computed market with one comment per row, then scipy as an independent
implementation of the moments and the normal quantile, the degenerate cases, and
quantstats 0.0.86 itself on the daily returns (SPEC 7) of every ready config's
strategy and benchmark, to 1e-9. Then where they show: stats.json, the run table's
second block, `rotation compare` (and the tearsheet: tests/test_tearsheet.py).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource
from engine.metrics import DISTRIBUTION_KEYS, METRICS, second_block
from engine.metrics.distribution import distribution, period_returns
from engine.metrics.stats import daily_returns
from engine.report import fmt
from engine.runner import run_backtest
from tests.conftest import CONFIGS

CASH = 100.0
# (date, V_t, r_t): 2023's last two sessions, then three of 2024
MARKET = [
    ("2023-12-28", 110.0),  # r = 110/100 - 1 = +0.10 (against the initial cash); a peak
    ("2023-12-29", 110.0),  # r = 0: neither a win nor a loss
    ("2024-01-02", 99.0),  # r = 99/110 - 1 = -0.10; drawdown -0.10
    ("2024-01-03", 108.9),  # r = +0.10; drawdown 108.9/110 - 1 = -0.01
    ("2024-01-04", 99.0),  # r = 99/108.9 - 1 = -0.0909...; drawdown -0.10
]


def hand_market() -> tuple[np.ndarray, pd.DatetimeIndex]:
    return np.array([v for _, v in MARKET]), pd.DatetimeIndex([d for d, _ in MARKET])


def test_the_hand_market():
    values, dates = hand_market()
    got = distribution(values, dates, CASH)
    assert got["best_day"] == pytest.approx(0.10) and got["worst_day"] == pytest.approx(-0.10)
    # December: 1.1 * 1.0 - 1 = +0.10; January: 0.9 * 1.1 * (10/11) - 1 = -0.10 (99/110 - 1)
    assert got["best_month"] == pytest.approx(0.10) and got["worst_month"] == pytest.approx(-0.10)
    assert got["best_year"] == pytest.approx(0.10) and got["worst_year"] == pytest.approx(-0.10)
    assert got["win_rate"] == pytest.approx(2 / 4)  # the zero return is left out (not 2/5)
    assert got["win_rate_months"] == pytest.approx(1 / 2)
    # ulcer: sqrt((0 + 0 + 0.1^2 + 0.01^2 + 0.1^2) / (5 - 1))
    assert got["ulcer_index"] == pytest.approx(math.sqrt(0.0201 / 4))
    # recovery: |0.1 + 0 - 0.1 + 0.1 - 1/11| / 0.1 = 0.0909 (the SUM of returns, where the
    # compounded total return, -1%, would give 0.1)
    assert got["recovery_factor"] == pytest.approx((0.1 - 1 / 11) / 0.1)
    # sorted r: -0.1, -0.0909, 0, 0.1, 0.1; linear quantiles at 0.95 * 4 = 3.8 and 0.05 * 4 =
    # 0.2 positions: 0.1 and -0.1 + 0.2 (0.1 - 0.0909) = -0.0982
    assert got["tail_ratio"] == pytest.approx(0.1 / (0.1 - 0.2 * (0.1 - 1 / 11)))
    assert set(got) == set(DISTRIBUTION_KEYS)


def test_moments_and_the_normal_quantile_agree_with_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2015-01-01", periods=900)
    values = 1e5 * np.cumprod(1 + rng.standard_t(3, 900) * 0.01)
    r = daily_returns(values, 1e5)
    got = distribution(values, dates, 1e5)
    assert got["skew"] == pytest.approx(scipy_stats.skew(r, bias=False), rel=1e-12)
    assert got["kurtosis"] == pytest.approx(scipy_stats.kurtosis(r, bias=False), rel=1e-12)
    mean, std = r.mean(), r.std(ddof=1)
    assert got["value_at_risk"] == pytest.approx(scipy_stats.norm.ppf(0.05, mean, std), rel=1e-12)
    tail = scipy_stats.norm.expect(lambda x: x, loc=mean, scale=std, ub=mean - 1.6448536 * std)
    assert got["cvar"] == pytest.approx(tail / 0.05, rel=1e-6)  # E[r | r below VaR]


def test_a_portfolio_left_in_cash_has_no_shape_and_no_wins():
    dates = pd.bdate_range("2024-01-01", periods=30)
    got = distribution(np.full(30, CASH), dates, CASH)
    for key in ("skew", "kurtosis", "value_at_risk", "tail_ratio", "recovery_factor"):
        assert math.isnan(got[key]), key
    assert got["cvar"] == 0.0 and got["ulcer_index"] == 0.0  # quantstats: the mean; no drawdown
    assert got["win_rate"] == got["win_rate_months"] == 0.0
    assert got["best_month"] == got["worst_year"] == 0.0


def test_columns_equal_one_portfolio_at_a_time():
    rng = np.random.default_rng(2)
    dates = pd.bdate_range("2022-11-01", periods=120)
    values = 50.0 * np.cumprod(1 + rng.normal(0, 0.01, (120, 3)), axis=0)
    together = distribution(values, dates, 50.0)
    for g in range(3):
        alone = distribution(values[:, g], dates, 50.0)
        for key in DISTRIBUTION_KEYS:
            assert together[key][g] == pytest.approx(alone[key], rel=1e-12), key
    months = period_returns(daily_returns(values, 50.0), dates, "month")
    assert months.shape == (6, 3)  # November 2022 to April 2023


# ---------------------------------------------------------------- quantstats itself

READY = sorted(CONFIGS.glob("*.yaml")) + sorted((CONFIGS / "taa").glob("*.yaml"))


def quantstats_of(returns: pd.Series) -> dict[str, float]:
    """quantstats 0.0.86's numbers for each key (the functions and arguments the issue names)."""
    qs = pytest.importorskip("quantstats", reason="a test dependency: pip install -e '.[test]'")
    s = qs.stats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "skew": s.skew(returns),
            "kurtosis": s.kurtosis(returns),
            "value_at_risk": s.value_at_risk(returns),
            "cvar": s.conditional_value_at_risk(returns),
            "best_day": s.best(returns),
            "worst_day": s.worst(returns),
            "best_month": s.best(returns, aggregate="ME"),
            "worst_month": s.worst(returns, aggregate="ME"),
            "best_year": s.best(returns, aggregate="YE"),
            "worst_year": s.worst(returns, aggregate="YE"),
            "win_rate": s.win_rate(returns),
            "win_rate_months": s.win_rate(returns, aggregate="ME"),
            "ulcer_index": s.ulcer_index(returns),
            "tail_ratio": s.tail_ratio(returns),
            "recovery_factor": s.recovery_factor(returns),
        }


@pytest.mark.parametrize("path", READY, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_ready_config_equals_quantstats(path: Path, shared_data):
    config = load_config(path, source="csv", dir=shared_data)
    result = run_backtest(config, CsvSource(shared_data))
    cash = config.portfolio.initial_cash
    for side, sim in (("strategy", result.strategy), ("benchmark", result.benchmark)):
        returns = pd.Series(daily_returns(sim.value.to_numpy(), cash), index=result.dates)
        theirs = quantstats_of(returns)
        ours = result.stats[side]
        assert set(theirs) == set(DISTRIBUTION_KEYS)
        for key, expected in theirs.items():
            got = ours[key]
            if math.isnan(expected):
                assert math.isnan(got), (side, key)
            else:
                assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-9), (side, key)


# ---------------------------------------------------------------- where they show


def test_stats_json_and_the_run_table_carry_the_second_block(shared_data, tmp_path):
    run = CliRunner().invoke(
        main,
        ["run", str(CONFIGS / "spy.yaml"), "--data-dir", str(shared_data)]
        + ["--out", str(tmp_path / "run")],
    )
    assert run.exit_code == 0, run.output
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    for side in ("strategy", "benchmark"):
        assert set(DISTRIBUTION_KEYS) <= set(stats[side])
    lines = run.stdout.splitlines()
    labels = [METRICS[k].label for k in second_block(stats["strategy"])]
    rows = [next(line for line in lines if f" {label} " in line) for label in labels]
    assert [lines.index(r) for r in rows] == sorted(lines.index(r) for r in rows)
    assert lines.index(rows[0]) > next(i for i, x in enumerate(lines) if " Regime switches " in x)
    skew = fmt(stats["strategy"]["skew"], "num")
    assert rows[0].count(skew) == 2  # SPY held alone: the strategy's skew is its benchmark's


def test_compare_lists_the_second_block_for_each_config_and_benchmark(shared_data, tmp_path):
    result = CliRunner().invoke(
        main,
        ["compare", str(CONFIGS / "spy.yaml"), str(CONFIGS / "taa" / "gem.yaml")]
        + ["--data-dir", str(shared_data), "--out", str(tmp_path / "cmp"), "--json"],
    )
    assert result.exit_code == 0, result.output
    statistics = json.loads(result.stdout)["statistics"]
    assert len(statistics) == 3  # two configs and their shared benchmark
    for column in statistics.values():
        assert set(DISTRIBUTION_KEYS) <= set(column)


def test_a_sweep_ranked_by_a_run_only_statistic_is_one_error_line(shared_data, tmp_path):
    result = CliRunner().invoke(
        main,
        ["sweep", str(CONFIGS / "sweeps" / "breakout_grid.yaml"), "--metric", "tail_ratio"]
        + ["--data-dir", str(shared_data), "--out", str(tmp_path / "sweep")],
    )
    assert result.exit_code == 2
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert "'tail_ratio' is computed for a single run only" in line
    assert not (tmp_path / "sweep").exists()
