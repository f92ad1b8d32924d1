"""Deflated Sharpe ratio and PBO/CSCV (engine/research/overfitting.py) on known answers."""

from __future__ import annotations

import itertools
import json
import math
from statistics import NormalDist

import numpy as np
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.research import overfitting
from engine.research.overfitting import (
    add_to_summary,
    against_benchmark,
    cscv_splits,
    deflated_sharpe,
    deflated_sharpe_of_best,
    expected_max_sharpe,
    moments,
    odds_note,
    probabilistic_sharpe,
    probability_of_overfitting,
    sample_trials,
    sweep_odds,
)
from tests import overfitting_reference
from tests.conftest import CONFIGS

PHI = NormalDist()

# ---------------------------------------------------------------- deflated Sharpe


def test_the_numerical_example_of_bailey_and_lopez_de_prado_2014():
    """Their section on a numerical example: annualised SR 2.5 from T = 1250 daily
    returns (250 a year), N = 100 trials whose annualised SRs have variance 0.5,
    skewness -3, kurtosis 10: SR0 = 0.1132 (per day) and DSR = 0.9004."""
    sharpe, variance = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe(100, variance) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe(sharpe, variance, 100, 1250, -3.0, 10.0) == pytest.approx(
        0.9004, abs=5e-5
    )


def test_hand_computed_dsr():
    """N = 10, V[SR] = 0.0004, SR = 0.1, T = 501, skewness 0.5, kurtosis 5, by hand:
    Φ⁻¹(0.9) = 1.281552, Φ⁻¹(1 - 1/(10e)) = Φ⁻¹(0.963212) = 1.789242,
    SR0 = 0.02 (0.422784 x 1.281552 + 0.577216 x 1.789242) = 0.031492,
    z = (0.1 - 0.031492) sqrt(500) / sqrt(1 - 0.05 + 0.01) = 1.563475, DSR = Φ(z) = 0.941030."""
    assert expected_max_sharpe(10, 0.0004) == pytest.approx(0.031492, abs=1e-6)
    assert deflated_sharpe(0.1, 0.0004, 10, 501, 0.5, 5.0) == pytest.approx(0.941030, abs=1e-6)


def test_one_trial_is_the_probabilistic_sharpe_ratio_against_zero():
    assert expected_max_sharpe(1, 0.3) == 0.0
    for sr, t, skew, kurt in [(0.05, 1000, 0.0, 3.0), (0.1, 250, -1.0, 8.0), (-0.02, 400, 0.3, 4)]:
        psr = probabilistic_sharpe(sr, 0.0, t, skew, kurt)
        assert deflated_sharpe(sr, 0.3, 1, t, skew, kurt) == psr
        # normal returns: PSR = Φ(SR sqrt(T-1) / sqrt(1 + SR²/2))
        if skew == 0.0 and kurt == 3.0:
            assert psr == pytest.approx(PHI.cdf(sr * math.sqrt(t - 1) / math.sqrt(1 + sr**2 / 2)))


def test_more_trials_or_more_spread_raise_the_bar():
    bars = [expected_max_sharpe(n, 0.001) for n in (2, 10, 100, 1000, 10_000)]
    assert bars == sorted(bars) and bars[0] > 0
    assert expected_max_sharpe(100, 0.004) == pytest.approx(2 * expected_max_sharpe(100, 0.001))
    dsrs = [deflated_sharpe(0.08, 0.001, n, 1000, 0.0, 3.0) for n in (1, 10, 100, 1000)]
    assert dsrs == sorted(dsrs, reverse=True)


def test_sr0_approximates_the_expected_maximum_of_n_standard_normals():
    rng = np.random.default_rng(1)
    for n in (10, 100, 1000):
        simulated = rng.standard_normal((4000, n)).max(axis=1).mean()
        assert expected_max_sharpe(n, 1.0) == pytest.approx(simulated, rel=0.03)


def test_moments_of_known_samples():
    skew, kurt = moments(np.array([-1.0, 1.0] * 50))
    assert skew == pytest.approx(0.0) and kurt == pytest.approx(1.0)  # two-point: kurtosis 1
    rng = np.random.default_rng(2)
    skew, kurt = moments(rng.standard_normal(200_000))
    assert skew == pytest.approx(0.0, abs=0.02) and kurt == pytest.approx(3.0, abs=0.05)


def test_best_of_many_noise_strategies_looks_significant_alone_but_not_deflated():
    """1,000 zero-mean strategies: the best one's PSR (as if it were the only trial) is
    high, its DSR (knowing 1,000 were tried) is not."""
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0, 0.01, (1000, 1000))
    odds = deflated_sharpe_of_best(returns)
    assert odds["trials"] == 1000 and odds["observations"] == 1000
    assert odds["psr"] > 0.95
    assert odds["dsr"] < 0.8
    # a strategy with a real edge (daily SR 0.15) among them is recognised
    returns[:, 17] = rng.normal(0.0015, 0.01, 1000)
    odds = deflated_sharpe_of_best(returns)
    assert odds["best"] == 17 and odds["dsr"] > 0.95


# ---------------------------------------------------------------- PBO by CSCV


def naive_pbo(returns: np.ndarray, subperiods: int) -> float:
    """CSCV written out loop by loop, straight from the paper (for small cases)."""
    t, n = returns.shape
    block = t // subperiods
    rows = returns[t - block * subperiods :]
    parts = [rows[i * block : (i + 1) * block] for i in range(subperiods)]

    def sharpe(x):
        return x.mean(axis=0) / x.std(axis=0, ddof=1)

    logits = []
    for chosen in itertools.combinations(range(subperiods), subperiods // 2):
        train = np.vstack([parts[i] for i in chosen])
        test = np.vstack([parts[i] for i in range(subperiods) if i not in chosen])
        best = int(np.argmax(sharpe(train)))
        oos = sharpe(test)
        below, equal = np.sum(oos < oos[best]), np.sum(oos == oos[best])
        omega = (below + (equal + 1) / 2) / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return float(np.mean(np.array(logits) <= 0))


def test_vectorized_cscv_equals_the_loop_of_the_paper():
    rng = np.random.default_rng(4)
    for t, n, s in [(203, 7, 6), (120, 3, 4), (400, 25, 8)]:
        returns = rng.normal(0.0002, 0.01, (t, n))
        result = probability_of_overfitting(returns, s)
        assert result["pbo"] == pytest.approx(naive_pbo(returns, s), abs=1e-12)
        assert result["splits"] == math.comb(s, s // 2)
        assert result["dropped_rows"] == t % s and result["block_rows"] == t // s


def test_pure_noise_gives_pbo_near_one_half():
    """With no skill anywhere, the in-sample winner's out-of-sample rank is uniform, so
    P[λ <= 0] = 1/2. One data set's PBO scatters widely around it (its splits share
    data: the standard deviation measured over seeds is about 0.15), so the test
    averages 100 independent data sets: standard error ~0.015, tolerance 0.06 (4 SE)."""
    pbos = []
    for seed in range(100):
        returns = np.random.default_rng(seed).normal(0.0, 0.01, (800, 100))
        pbos.append(probability_of_overfitting(returns, 8)["pbo"])
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.06)
    # and at the default 16 sub-periods with a sweep-sized grid, one data set is near 1/2
    big = np.random.default_rng(100).normal(0.0, 0.01, (2000, 2000))
    assert probability_of_overfitting(big, 16)["pbo"] == pytest.approx(0.5, abs=0.2)


def test_two_hundred_noise_strategies_give_pbo_near_one_half():
    """200 trials of iid normal returns at 16 sub-periods, 30 seeds: each data set's PBO
    scatters around 1/2 (measured standard deviation ~0.16 over seeds), so the mean of
    the 30 is held to 0.5 ± 0.1 (about 3.4 standard errors) and their median to
    0.35..0.65. Fixed seeds: the outcome is the same on every run."""
    pbos = [
        probability_of_overfitting(np.random.default_rng(seed).normal(0.0, 0.01, (1000, 200)))[
            "pbo"
        ]
        for seed in range(200, 230)
    ]
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.1)
    assert 0.35 <= np.median(pbos) <= 0.65


def test_one_strategy_with_an_edge_among_noise_gives_pbo_near_zero():
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.01, (1000, 200))
    returns[:, 42] = rng.normal(0.002, 0.01, 1000)  # daily Sharpe 0.2 (about 3 a year)
    result = probability_of_overfitting(returns, 16)
    assert result["pbo"] < 0.02
    assert result["prob_oos_loss"] < 0.02


def assert_same_odds(fast: dict, slow: dict) -> None:
    """Every field of two PBO results equal: integers and counts exactly, floats to 1e-12
    (NaN equal to NaN), the logit of every split to 1e-12 (so every rank is the same)."""
    assert fast.keys() == slow.keys()
    for key, expected in slow.items():
        if key == "logits":
            assert fast[key].shape == expected.shape
            np.testing.assert_allclose(fast[key], expected, rtol=0, atol=1e-12)
        elif isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(fast[key]), key
        else:
            assert fast[key] == pytest.approx(expected, rel=0, abs=1e-12), key


def _with_ties(returns: np.ndarray, rng) -> np.ndarray:
    """Copies of some columns (exact ties in and out of sample), constant and zero columns
    (Sharpe 0 by definition) and rounded returns (ties between distinct columns)."""
    n = returns.shape[1]
    out = returns.copy()
    if n >= 4:
        out[:, rng.choice(n, n // 4, replace=False)] = out[:, rng.choice(n, n // 4)]
        out[:, n - 1] = 0.0
        out[:, n - 2] = 0.0003
        out[:, : n // 8] = np.round(out[:, : n // 8], 3)
    return out


def test_fast_cscv_equals_the_slow_reference_on_random_data():
    """Same splits, winners and ranks as the implementation before (the reference holds
    each chunk's [512, N] Sharpe ratios in numpy): on noise for any N, and with exact
    ties (duplicate and constant columns) for N a multiple of 16, where OpenBLAS adds
    every column of the 0/1 product in block order."""
    rng = np.random.default_rng(8)
    cases = [(120, 1, 4), (203, 7, 6), (64, 3, 16), (400, 25, 8), (900, 64, 10)]
    cases += [(1000, 301, 16), (777, 512, 12), (100, 40, 2), (500, 160, 16)]
    for t, n, s in cases:
        noise = rng.normal(0.0002, 0.01, (t, n)) * rng.uniform(0.2, 3.0, n)
        fast = probability_of_overfitting(noise, s)
        assert_same_odds(fast, overfitting_reference.probability_of_overfitting(noise, s))
        if n % 16 == 0:
            tied = _with_ties(noise, rng)
            fast = probability_of_overfitting(tied, s)
            assert_same_odds(fast, overfitting_reference.probability_of_overfitting(tied, s))
    one = rng.normal(0.0, 0.01, 300)  # a single trial, as a 1-D array
    assert_same_odds(
        probability_of_overfitting(one, 8), overfitting_reference.probability_of_overfitting(one, 8)
    )


def test_fast_cscv_equals_the_slow_reference_with_ties_for_any_number_of_trials():
    """With ties and any N, the same as the reference once its product adds every column
    in block order (BLAS adds the remainder columns of N in another order, 1 ulp apart,
    which can break the tie of two duplicate columns: the old result then depended on
    where a duplicate sat)."""
    rng = np.random.default_rng(12)
    for t, n, s in [(203, 7, 6), (400, 25, 8), (1000, 301, 16), (300, 45, 12), (100, 40, 2)]:
        tied = _with_ties(rng.normal(0.0002, 0.01, (t, n)) * rng.uniform(0.2, 3.0, n), rng)
        slow = overfitting_reference.probability_of_overfitting(
            tied, s, product=overfitting_reference.block_order_product
        )
        assert_same_odds(probability_of_overfitting(tied, s), slow)


def test_duplicate_trials_tie_wherever_they_sit():
    """A trial and its copy have the same Sharpe ratio in every split, so reordering
    the columns changes no rank and no logit."""
    rng = np.random.default_rng(13)
    base = rng.normal(0.0, 0.01, (1000, 150))
    returns = np.hstack([base, base[:, ::-1], base[:, :1]])  # 301 columns: each twice or more
    result = probability_of_overfitting(returns, 16)
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(returns.shape[1])
        shuffled = probability_of_overfitting(returns[:, order], 16)
        np.testing.assert_array_equal(shuffled["logits"], result["logits"])
        assert shuffled["pbo"] == result["pbo"]


def test_fast_cscv_equals_the_slow_reference_with_missing_and_flat_returns():
    """Trials with a NaN or infinite return (NaN in every split, as BLAS multiplies them
    by 0: the first one wins every split, as np.argmax picks the first NaN) and
    all-constant data keep their old results too."""
    rng = np.random.default_rng(9)
    returns = rng.normal(0.0, 0.01, (320, 30))
    returns[100, 7] = np.nan
    returns[5, 20] = np.nan
    returns[200, 25] = np.inf
    with np.errstate(invalid="ignore"):
        fast = probability_of_overfitting(returns, 16)
        slow = overfitting_reference.probability_of_overfitting(returns, 16)
    assert_same_odds(fast, slow)
    flat = np.full((160, 12), 0.001)
    assert_same_odds(
        probability_of_overfitting(flat, 8),
        overfitting_reference.probability_of_overfitting(flat, 8),
    )


def test_split_order_is_that_of_itertools_combinations():
    for s in (2, 4, 8, 16):
        expected = overfitting_reference.cscv_splits(s)
        np.testing.assert_array_equal(cscv_splits(s), expected)


def test_fast_cscv_equals_the_slow_reference_on_a_ready_sweep(shared_data):
    """configs/sweeps/breakout_grid.yaml (2,000 combinations, 739 of them duplicates):
    the excess returns `sweep_odds` passes in, 16 sub-periods."""
    from engine.data import make_source
    from engine.metrics import stats
    from engine.research.sweep import run_sweep
    from engine.research.sweep_config import load_sweep
    from engine.runner import periods_per_year

    spec, _ = load_sweep(CONFIGS / "sweeps" / "breakout_grid.yaml", source="csv", dir=shared_data)
    values = run_sweep(spec, make_source(spec.base.data), keep_values=True).values
    config = spec.base
    rate = stats.per_period_rate(config.stats.risk_free, periods_per_year(config))
    excess = stats.daily_returns(values, config.portfolio.initial_cash) - rate
    fast = probability_of_overfitting(excess, 16)
    assert_same_odds(fast, overfitting_reference.probability_of_overfitting(excess, 16))
    assert fast["splits"] == 12_870 and 0 < fast["pbo"] < 1


def test_bad_subperiods_are_refused():
    with pytest.raises(ValueError):
        probability_of_overfitting(np.zeros((100, 3)), 5)
    with pytest.raises(ValueError):
        probability_of_overfitting(np.zeros((10, 3)), 8)  # blocks of 1 row


def test_sweep_odds_from_values():
    rng = np.random.default_rng(7)
    values = 100_000 * np.cumprod(1 + rng.normal(0.0003, 0.01, (600, 30)), axis=0)
    odds = sweep_odds(values, 100_000, 0.0, 252, subperiods=16)
    assert odds["trials"] == 30 and odds["pbo"]["splits"] == 12_870
    best = odds["best_by_sharpe"]
    r = values[:, best] / np.concatenate([[100_000], values[:-1, best]]) - 1
    assert odds["best_sharpe_annual"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert "sampled" not in odds["pbo"] and "seeded sample" not in odds_note(odds)


def test_sample_of_trials_is_seeded_without_replacement_and_holds_the_best():
    sample = sample_trials(25_000, 24_321, 10_000, seed=0)
    assert len(sample) == 10_000 == len(np.unique(sample))
    assert np.all(np.diff(sample) > 0) and 24_321 in sample
    assert sample.min() >= 0 and sample.max() < 25_000
    np.testing.assert_array_equal(sample, sample_trials(25_000, 24_321, 10_000, seed=0))
    assert not np.array_equal(sample, sample_trials(25_000, 24_321, 10_000, seed=1))
    assert len(sample_trials(25_000, None, 10_000)) == 10_000
    np.testing.assert_array_equal(sample_trials(300, 7, 10_000), np.arange(300))


def _grid_values(rows: int, columns: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0002, 0.01, (rows, columns))
    returns[:, columns // 3] += 0.001  # one combination with an edge: the best by Sharpe
    return 100_000 * np.cumprod(1 + returns, axis=0)


def test_a_grid_over_the_limit_gets_its_pbo_on_a_seeded_sample(monkeypatch):
    """Limit lowered to 40 for speed: 130 combinations -> PBO on 40 of them (the best
    included), deflated Sharpe on all 130, the same output on every call."""
    monkeypatch.setattr(overfitting, "MAX_TRIALS", 40)
    values = _grid_values(400, 130, 10)
    odds = sweep_odds(values, 100_000, 0.01, 252, subperiods=8)
    assert odds == sweep_odds(values, 100_000, 0.01, 252, subperiods=8)  # deterministic
    pbo = odds["pbo"]
    assert (pbo["sampled"], pbo["of"], pbo["seed"]) == (40, 130, 0)
    best = odds["best_by_sharpe"]
    assert best == 130 // 3
    # the deflated Sharpe counts every combination: the best was chosen among all 130
    from engine.metrics import stats

    excess = stats.daily_returns(values, 100_000) - stats.per_period_rate(0.01, 252)
    assert odds["deflated_sharpe"] == deflated_sharpe_of_best(excess)
    assert odds["deflated_sharpe"]["trials"] == odds["trials"] == 130
    # the PBO is that of the seeded sample
    sample = sample_trials(130, best, 40, seed=0)
    assert best in sample
    expected = probability_of_overfitting(excess[:, sample], 8)
    expected.pop("logits")
    assert {k: pbo[k] for k in expected} == expected
    note = odds_note(odds)
    assert "PBO on a seeded sample of 40 of the 130 combinations" in note
    assert "among 130 trials" in note


def test_a_grid_above_ten_thousand_combinations_gets_odds():
    values = _grid_values(160, overfitting.MAX_TRIALS + 57, 11)
    odds = sweep_odds(values, 100_000, 0.0, 252)
    assert odds["trials"] == 10_057 and odds["deflated_sharpe"]["trials"] == 10_057
    assert (odds["pbo"]["sampled"], odds["pbo"]["of"]) == (10_000, 10_057)
    assert odds["pbo"]["splits"] == 12_870 and 0 <= odds["pbo"]["pbo"] <= 1
    assert "PBO on a seeded sample of 10,000 of the 10,057 combinations" in odds_note(odds)
    assert sweep_odds(values, 100_000, 0.0, 252)["pbo"] == odds["pbo"]


def test_a_sweep_without_values_says_its_odds_were_skipped():
    class NoValues:
        values = None

    summary = {"notes": []}
    add_to_summary(summary, None, NoValues())
    assert "skipped" in summary["overfitting"]
    assert summary["notes"][0].startswith("Overfitting odds skipped")


# ---------------------------------------------------------------- the sweep summary


def test_every_sweep_reports_its_overfitting_odds(shared_data, tmp_path):
    config = tmp_path / "grid.yaml"
    config.write_text(
        (CONFIGS / "sweeps" / "breakout_grid.yaml")
        .read_text()
        .replace("entry: {start: 20, stop: 400, step: 20}", "entry: [60, 120, 250]")
        .replace("exit: {start: 10, stop: 100, step: 10}", "exit: [20, 60]")
        .replace("window: {start: 20, stop: 200, step: 20}", "window: [50, 100]")
    )
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(config),
            "--data-dir",
            str(shared_data),
            "--out",
            str(out),
            "--subperiods",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Overfitting odds: deflated Sharpe" in result.output and "PBO" in result.output
    odds = json.loads((out / "summary.json").read_text())["overfitting"]
    assert odds["trials"] == 12 and odds["pbo"]["subperiods"] == 8
    assert odds["pbo"]["splits"] == 70
    assert 0 <= odds["pbo"]["pbo"] <= 1 and 0 <= odds["deflated_sharpe"]["dsr"] <= 1
    assert set(odds["best_params"]) == {
        "signals.ratio_breakout.entry",
        "signals.ratio_breakout.exit",
        "signals.eth_risk_on.window",
    }
    bad = CliRunner().invoke(
        main,
        [
            "sweep",
            str(config),
            "--data-dir",
            str(shared_data),
            "--out",
            str(tmp_path / "x"),
            "--subperiods",
            "7",
        ],
    )
    assert bad.exit_code == 2 and "even" in bad.output


# ---------------------------------------------------------------- against the benchmark


def test_deflated_sharpe_against_the_benchmark_is_psr_at_the_benchmark_plus_sr0():
    """DSR_b = Φ((SR̂ - SR_b - SR0) sqrt(T-1) / sqrt(1 - γ3 SR̂ + (γ4-1)/4 SR̂²)). By hand with
    the numbers of `test_hand_computed_dsr` (SR0 = 0.031492) and SR_b = 0.05:
    z = (0.1 - 0.05 - 0.031492) sqrt(500) / sqrt(0.96) = 0.42239, Φ(z) = 0.66363."""
    dsr = {
        "best": 0,
        "sharpe": 0.1,
        "expected_max_sharpe": expected_max_sharpe(10, 0.0004),
        "observations": 501,
        "skewness": 0.5,
        "kurtosis": 5.0,
    }
    versus = against_benchmark(dsr, 0.05)
    assert versus["threshold"] == pytest.approx(0.05 + 0.031492, abs=1e-6)
    assert versus["dsr"] == pytest.approx(0.66363, abs=5e-6)
    # a benchmark Sharpe of 0 is the zero null: the deflated Sharpe itself
    assert against_benchmark(dsr, 0.0)["dsr"] == pytest.approx(
        deflated_sharpe(0.1, 0.0004, 10, 501, 0.5, 5.0)
    )
    # a best exactly at the bar is a coin toss; a better benchmark lowers the odds
    assert against_benchmark(dsr, 0.1 - dsr["expected_max_sharpe"])["dsr"] == pytest.approx(0.5)
    odds = [against_benchmark(dsr, b)["dsr"] for b in (-0.05, 0.0, 0.05, 0.1)]
    assert odds == sorted(odds, reverse=True)
    assert math.isnan(against_benchmark({"best": None}, 0.05)["dsr"])


def test_sweep_odds_measure_the_best_against_its_own_benchmark():
    rng = np.random.default_rng(3)
    values = 100_000 * np.cumprod(1 + rng.normal(0.0004, 0.01, (500, 12)), axis=0)
    bench = np.linspace(0.2, 0.9, 12)  # annual, each combination's own
    odds = sweep_odds(values, 100_000, 0.0, 252, subperiods=8, benchmark_sharpes=bench)
    best = odds["best_by_sharpe"]
    versus = odds["deflated_sharpe_vs_benchmark"]
    assert versus["benchmark_sharpe_annual"] == bench[best]
    assert versus["benchmark_sharpe"] == pytest.approx(bench[best] / math.sqrt(252))
    assert versus == {
        **against_benchmark(odds["deflated_sharpe"], bench[best] / math.sqrt(252)),
        "benchmark_sharpe_annual": bench[best],
        "threshold_annual": versus["threshold"] * math.sqrt(252),
    }
    note = odds_note(odds)
    assert f"against the benchmark's Sharpe {bench[best]:.3f} as the null" in note
    assert "deflated_sharpe_vs_benchmark" not in sweep_odds(values, 100_000, 0.0, 252, 8)


def test_the_ready_grid_passes_the_zero_null_but_not_the_benchmark(shared_data, tmp_path):
    """configs/sweeps/breakout_grid.yaml: no combination beats SPY's Sharpe over the same
    dates, so the odds against the benchmark's Sharpe stay below one half while the odds
    against zero are high."""
    out = tmp_path / "grid"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(CONFIGS / "sweeps" / "breakout_grid.yaml"),
            "--data-dir",
            str(shared_data),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    odds = summary["overfitting"]
    assert odds["deflated_sharpe"]["dsr"] > 0.9
    assert odds["deflated_sharpe_vs_benchmark"]["dsr"] < 0.5
    assert summary["beats_benchmark"]["on_metric"] == 0 == summary["beats_benchmark"]["on_cagr"]
    assert "yet 0 of 2,000 combinations beat the benchmark's Sharpe" in summary["notes"][0]
