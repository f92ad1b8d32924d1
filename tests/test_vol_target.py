"""The volatility target `portfolio.target_vol` (SPEC 11; docs/semantics.md).

1. Scales worked out by hand: undefined sigma, uncapped, sigma = 0, capped at
   max_exposure; the engine, weights.csv's `scale` column and the plain-loop reference.
2. Before the first decision date the default target stands unscaled.
3. Bad target_vol blocks, one `Error:` line; a run equals its one-combination sweep,
   sweeps over annual, window and max_exposure equal single runs; the tearsheet's
   exposure panel.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from engine.config import config_from_dict
from engine.data import MemorySource
from engine.report import run_frames
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from engine.runner import run_backtest
from engine.vol_target import scale_of, target_sigma
from tests.ranked_scenarios import base_config, bdays, frame, write_csvs
from tests.reference import reference_backtest
from tests.test_ranked import assert_one_error_line, ranked_raw, run_cli, write_prices
from tests.test_ranked_engine import ranked_market, sweep_raw
from tests.test_ranked_golden import FrameSource
from tests.test_sweep import assert_rows_equal_single_runs

# ---------------------------------------------------------------- 1. by hand

DATES = bdays("2024-01-08", "2024-01-15")  # d0 .. d5
AAA = [100.0, 100.0, 102.0, 102.0, 102.0, 102.0102]
P = 252
SIGMA_2PCT = 0.02 / math.sqrt(2) * math.sqrt(P)  # std of the returns (0, 0.02), ddof 1
SCALES = [
    0.8,  # d0: no return yet: sigma undefined, scale min(1, m) = 0.8
    0.8,  # d1: one return (0): a window of 2 needs 3 dates of C: undefined, 0.8
    0.1 / SIGMA_2PCT,  # d2: returns 0, +2%: sigma 22.45%, scale 0.1 / 0.2245 = 0.4454
    0.1 / SIGMA_2PCT,  # d3: returns +2%, 0: the same sigma
    0.8,  # d4: returns 0, 0: sigma = 0, scale m
    0.8,  # d5: returns 0, +0.01%: sigma 0.11%, 0.1 / sigma = 89 capped at m = 0.8
]


def vol_scenario(**target) -> tuple[dict, dict[str, pd.DataFrame]]:
    frames = {"AAA": frame(DATES, AAA), "BBB": frame(DATES, [50.0] * len(DATES))}
    config = base_config(
        ["AAA", "BBB"],
        [{"name": "all", "weights": {"AAA": 1.0}}],
        {},
        start=DATES[0],
    )
    config["portfolio"]["target_vol"] = {"annual": 0.1, "window": 2, "max_exposure": 0.8}
    config["portfolio"]["target_vol"] |= target
    config["stats"] = {"periods_per_year": P}
    return config, frames


def run_scenario(config, frames, tmp_path):
    raw = copy.deepcopy(config)
    raw["data"] |= {"dir": str(write_csvs(frames, tmp_path))}
    return raw, run_backtest(config_from_dict(raw), FrameSource(frames))


def test_scales_undefined_uncapped_zero_and_capped(tmp_path):
    raw, result = run_scenario(*vol_scenario(), tmp_path)
    assert SCALES[2] == pytest.approx(0.445435, abs=1e-6)
    np.testing.assert_allclose(result.scales.to_numpy(), SCALES, rtol=1e-12)
    np.testing.assert_allclose(result.targets["AAA"].to_numpy(), SCALES, rtol=1e-12)
    assert (result.targets["BBB"] == 0).all()
    # weights.csv: the scale of the target each date trades to (decided the date before;
    # the first date, with no earlier date of C, trades to the unscaled default)
    weights = run_frames(result)["weights.csv"]
    assert weights["scale"].tolist() == pytest.approx([1.0, *SCALES[:-1]], rel=1e-12)
    theirs = reference_backtest(copy.deepcopy(raw), tmp_path)
    assert [t["scale"] for t in theirs["targets"]] == pytest.approx(SCALES, rel=1e-12)
    np.testing.assert_allclose(result.strategy.value, theirs["strategy"], rtol=1e-12)
    # the dates trading targets of undefined volatility are named (d1, d2 trade d0's, d1's)
    assert any("portfolio.target_vol" in w and "on 2 of 6" in w for w in result.warnings)


def test_undefined_sigma_scales_by_one_without_a_cap(tmp_path):
    config, frames = vol_scenario(max_exposure=1.0)
    _, result = run_scenario(config, frames, tmp_path)
    assert result.scales.iloc[:2].tolist() == [1.0, 1.0]  # undefined: min(1, m) = 1
    assert result.scales.iloc[4] == 1.0  # sigma = 0: m


def test_scale_formulas_directly():
    returns = np.array([[np.nan], [0.0], [0.02], [0.0]])
    sigma = target_sigma(np.array([[1.0], [0.5], [1.0]]), np.array([1, 2, 3]), returns, 2, P)
    assert math.isnan(sigma[0])  # position 1 < window 2
    assert sigma[1] == pytest.approx(0.5 * SIGMA_2PCT, rel=1e-12)  # half the weight
    assert sigma[2] == pytest.approx(SIGMA_2PCT, rel=1e-12)
    assert scale_of(np.array([np.nan, 0.0, 0.5, 0.05]), 0.1, 0.9).tolist() == pytest.approx(
        [0.9, 0.9, 0.2, 0.9]
    )


# ---------------------------------------------------------------- 2. before the first decision


def test_before_the_first_decision_the_default_target_stands_unscaled(tmp_path):
    dates = bdays("2024-01-03", "2024-01-19")
    frames = {
        "AAA": frame(dates, [100.0 * 1.01 ** (i % 2) for i in range(len(dates))]),
        "BBB": frame(dates, [50.0] * len(dates)),
    }
    config = base_config(
        ["AAA", "BBB"], [{"name": "all", "weights": {"AAA": 0.6}}], {}, start=dates[0]
    )
    config["execution"] = {"decide": "weekly"}
    config["portfolio"]["target_vol"] = {"annual": 0.05, "window": 2}
    raw, result = run_scenario(config, frames, tmp_path)
    first_decision = pd.Timestamp("2024-01-05")  # the last date of the first ISO week
    before = result.targets.loc[result.targets.index < first_decision, "AAA"]
    assert (before == 0.6).all() and len(before) == 2
    after = result.targets.loc[first_decision:, "AAA"]
    assert (after < 0.6).all()  # scaled down from the first decision on
    theirs = reference_backtest(copy.deepcopy(raw), tmp_path)
    np.testing.assert_allclose(result.strategy.value, theirs["strategy"], rtol=1e-12)


# ---------------------------------------------------------------- 3. errors, sweeps, pages


@pytest.fixture(scope="module")
def price_dir(tmp_path_factory):
    return write_prices(tmp_path_factory.mktemp("prices"), ["SPY", "EFA", "EEM", "AGG"])


@pytest.mark.parametrize(
    ("target", "needles"),
    [
        ({"annual": 0.1}, ["portfolio.target_vol.window", "required"]),
        ({"annual": 0.1, "window": 20, "max_exposure": 1.5}, ["max_exposure", "at most 1"]),
        ({"annual": 0.0, "window": 20}, ["portfolio.target_vol.annual", "above 0"]),
        ({"annual": -0.1, "window": 20}, ["portfolio.target_vol.annual", "above 0"]),
        ({"annual": 0.1, "window": 1}, ["portfolio.target_vol.window", "at least 2"]),
        ({"annual": 0.1, "window": 20, "max_exposure": 0}, ["max_exposure", "above 0"]),
        ({"annual": 0.1, "window": 20, "cap": 1}, ["portfolio.target_vol.cap", "unknown key"]),
    ],
)
def test_a_bad_target_vol_is_one_error_line_naming_the_field(target, needles, tmp_path, price_dir):
    raw = ranked_raw()
    raw["portfolio"] = {"target_vol": target}
    result, out = run_cli(raw, tmp_path, price_dir)
    assert_one_error_line(result, out, "bad.yaml", *needles)


def vol_sweep() -> dict:
    raw = sweep_raw()
    raw["signals"]["eth"]["window"] = [10, 30]
    raw["regimes"][0]["rank"] |= {"top": 2, "keep": [2, 3]}
    raw["regimes"][1]["weights"] = {"DDD": 0.5, "AAA": 0.3}
    raw["portfolio"] = {"target_vol": {"annual": [0.05, 0.1], "window": [5, 20]}}
    raw["portfolio"]["target_vol"]["max_exposure"] = [0.7, 1.0]
    return raw


@pytest.mark.parametrize("decide", ["daily", "weekly"])
def test_a_sweep_over_the_volatility_target_equals_single_runs(decide):
    raw = vol_sweep()
    raw["execution"]["decide"] = decide
    spec = sweep_spec(raw, "grid.yaml")
    assert spec.size == 32
    source = MemorySource(ranked_market(11, 300))
    result = run_sweep(spec, source, keep_values=True)
    rows = range(spec.size) if decide == "daily" else np.arange(0, spec.size, 3)
    assert_rows_equal_single_runs(spec, source, result, rows)
    assert len(set(np.round(result.table["total_return"], 12))) > spec.size // 2


def test_a_vol_targeted_run_equals_its_one_combination_sweep():
    raw = sweep_raw()
    raw["portfolio"] = {"target_vol": {"annual": 0.08, "window": 30, "max_exposure": 0.9}}
    raw["execution"]["fees_bps"] = [2]
    spec = sweep_spec(raw, "grid.yaml")
    assert spec.size == 1
    source = MemorySource(ranked_market(11, 300))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, [0])


def test_the_run_tearsheet_shows_exposure_and_scale(tmp_path):
    from engine.report import write_run_folder
    from engine.report.tearsheet import build_page

    config, frames = vol_scenario()
    _, result = run_scenario(config, frames, tmp_path / "data")
    folder = write_run_folder(tmp_path / "run", result, {"data": {}})
    html = build_page(folder)
    assert "Exposure and the volatility target" in html
    assert "<dt>Volatility target</dt><dd>10.00% a year over 2 dates, at most 80.00%" in html


def test_a_plain_config_has_no_scale_column(tmp_path):
    config, frames = vol_scenario()
    del config["portfolio"]["target_vol"]
    _, result = run_scenario(config, frames, tmp_path)
    assert result.scales is None
    assert "scale" not in run_frames(result)["weights.csv"].columns
