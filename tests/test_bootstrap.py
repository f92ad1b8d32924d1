"""Stationary bootstrap (engine/research/bootstrap.py) and `rotation run --bootstrap N`."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.metrics import stats
from engine.research.bootstrap import _measure, bootstrap, stationary_indices
from tests.conftest import CONFIGS

DATES = pd.bdate_range("2020-01-01", periods=750)


def curve(rng, mean, vol, n=750):
    return 100_000 * np.cumprod(1 + rng.normal(mean, vol, n))


def test_indices_run_in_blocks_of_geometric_length_with_the_given_mean():
    rng = np.random.default_rng(0)
    index = stationary_indices(500, 400, 20.0, rng)
    assert index.shape == (400, 500) and index.min() >= 0 and index.max() < 500
    continues = index[:, 1:] == (index[:, :-1] + 1) % 500
    # a block continues with probability 1 - 1/20 (a new start may also continue by chance)
    assert continues.mean() == pytest.approx(1 - 1 / 20 + 1 / 20 / 500, abs=0.005)
    # every position is drawn equally often (the resample is stationary)
    counts = np.bincount(index.ravel(), minlength=500) / index.size
    assert counts.max() - counts.min() < 0.002


def test_block_length_one_is_the_iid_bootstrap_and_a_huge_one_a_circular_shift():
    rng = np.random.default_rng(1)
    iid = stationary_indices(1000, 50, 1.0, rng)
    assert ((iid[:, 1:] == (iid[:, :-1] + 1) % 1000).mean()) < 0.01
    one_block = stationary_indices(300, 20, 1e12, rng)
    assert np.array_equal(one_block, (one_block[:, :1] + np.arange(300)) % 300)


def test_measures_are_engine_stats_of_the_resampled_curve():
    """The identity resample reproduces the run's own statistics (same formulas)."""
    rng = np.random.default_rng(2)
    values = curve(rng, 0.0004, 0.01)
    returns = stats.daily_returns(values, 100_000)
    measured = _measure(returns[:, None], DATES, 100_000, 252, 0.02)
    expected = stats.performance(values, DATES, 100_000, 252, 0.02)
    for key in ("cagr", "sharpe", "max_drawdown", "total_return"):
        assert measured[key][0] == pytest.approx(expected[key], rel=1e-10)


def test_seeded_deterministic_and_paired():
    rng = np.random.default_rng(3)
    s, b = curve(rng, 0.0004, 0.01), curve(rng, 0.0003, 0.01)
    first = bootstrap(s, b, DATES, 100_000, 252, 0.0, resamples=300, seed=7)
    assert first == bootstrap(s, b, DATES, 100_000, 252, 0.0, resamples=300, seed=7)
    assert first != bootstrap(s, b, DATES, 100_000, 252, 0.0, resamples=300, seed=8)
    # the same series as strategy and benchmark: identical intervals, never strictly beats
    same = bootstrap(s, s, DATES, 100_000, 252, 0.0, resamples=300, seed=7)
    assert same["strategy"] == same["benchmark"] and same["beats_benchmark"] == 0.0
    # a strategy that is the benchmark plus 5 bp a day beats it in every paired resample
    better = b * np.cumprod(np.full(len(b), 1.0005))
    paired = bootstrap(better, b, DATES, 100_000, 252, 0.0, resamples=300, seed=7)
    assert paired["beats_benchmark"] == 1.0
    assert set(first["strategy"]) == {"cagr", "sharpe", "max_drawdown", "total_return"}
    assert set(first["strategy"]["cagr"]) == {"p05", "p50", "p95"}


@pytest.mark.parametrize("chunk", [1, 7, 100, 299, 300, 10_000])
def test_chunking_does_not_change_the_answer(chunk, monkeypatch):
    """The resamples are drawn in chunks of CHUNK (memory); any chunk size gives the same
    resamples, hence the same quantiles and share, to the last bit."""
    import engine.research.bootstrap as module

    rng = np.random.default_rng(3)
    s, b = curve(rng, 0.0004, 0.01), curve(rng, 0.0003, 0.01)
    whole = bootstrap(s, b, DATES, 100_000, 252, 0.0, resamples=300, seed=7)
    monkeypatch.setattr(module, "CHUNK", chunk)
    assert bootstrap(s, b, DATES, 100_000, 252, 0.0, resamples=300, seed=7) == whole


def test_intervals_cover_the_truth_of_a_known_process():
    """i.i.d. daily returns with annual Sharpe 1: the 90% interval of the Sharpe ratio
    contains 1, and is about as wide as theory says (±1.645 sqrt((1 + SR²/2)/years))."""
    rng = np.random.default_rng(4)
    daily_sr = 1 / math.sqrt(252)
    values = curve(rng, 0.01 * daily_sr, 0.01, n=len(DATES))
    out = bootstrap(values, values, DATES, 100_000, 252, 0.0, resamples=2000, mean_block=5)
    low, high = out["strategy"]["sharpe"]["p05"], out["strategy"]["sharpe"]["p95"]
    years = len(DATES) / 252
    assert low < 1 < high
    assert high - low == pytest.approx(2 * 1.645 * math.sqrt((1 + 1 / 252 / 2) / years), rel=0.2)


def test_run_with_bootstrap_prints_intervals_and_keeps_stats_json(shared_data, tmp_path):
    config = CONFIGS / "smallcap_breakout_eth.yaml"
    plain, boot = tmp_path / "plain", tmp_path / "boot"
    a = CliRunner().invoke(
        main, ["run", str(config), "--data-dir", str(shared_data), "--out", str(plain)]
    )
    b = CliRunner().invoke(
        main,
        [
            "run",
            str(config),
            "--data-dir",
            str(shared_data),
            "--out",
            str(boot),
            "--bootstrap",
            "500",
            "--seed",
            "3",
        ],
    )
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    assert "Stationary bootstrap: 500 resamples" in b.output
    assert "Strategy beats benchmark" in b.output
    assert (plain / "stats.json").read_bytes() == (boot / "stats.json").read_bytes()
    assert not (plain / "bootstrap.json").exists()
    result = json.loads((boot / "bootstrap.json").read_text())
    assert result["resamples"] == 500 and result["seed"] == 3 and result["mean_block"] == 20
    run_stats = json.loads((plain / "stats.json").read_text())
    for key in ("cagr", "sharpe"):
        q = result["strategy"][key]
        assert q["p05"] < run_stats["strategy"][key] < q["p95"]
    assert 0 <= result["beats_benchmark"] <= 1
    # --json carries the same intervals under "bootstrap"
    c = CliRunner().invoke(
        main,
        [
            "run",
            str(config),
            "--data-dir",
            str(shared_data),
            "--out",
            str(tmp_path / "json"),
            "--bootstrap",
            "500",
            "--seed",
            "3",
            "--json",
        ],
    )
    assert json.loads(c.stdout)["bootstrap"] == result
