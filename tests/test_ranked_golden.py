"""The engine on ranked allocations and decision schedules equals the hand-computed
scenarios of tests/ranked_scenarios.py and the plain-loop reference (tests/reference.py),
and every ready configs/taa/ config equals the reference on ../shared/data to 1e-9."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from engine.calendar import decision_mask
from engine.config import config_from_dict
from engine.runner import run_backtest
from tests.conftest import CONFIGS
from tests.ranked_scenarios import SCENARIOS, Scenario, write_csvs
from tests.reference import reference_backtest
from tests.test_golden_configs import _check

TAA = sorted(p.name for p in (CONFIGS / "taa").glob("*.yaml"))
VALUE_TOL = 1e-10


def _engine_config(scenario: Scenario, folder) -> dict:
    raw = copy.deepcopy(scenario.config)
    data = dict(raw["data"], source="csv", dir=str(folder))
    if data.get("start") is None:  # the reference starts at C's first date
        firsts = [scenario.frames[t].index[0] for t in raw["universe"]]
        data["start"] = str(max(firsts).date())
    raw["data"] = data
    return raw


class FrameSource:
    """The scenario's bars as they are. The CSV layer would (rightly) call their jumps
    splits and fill the sessions they leave out on purpose (a missing Friday moves the
    weekly decision); these tests are about what the pipeline does with given bars."""

    def __init__(self, frames: dict[str, pd.DataFrame]):
        self.frames = frames

    def load(self, tickers):
        return {t: self.frames[t][["Open", "High", "Low", "Close", "Volume"]] for t in tickers}


@pytest.fixture(params=SCENARIOS, ids=[f.__name__.removeprefix("scenario_") for f in SCENARIOS])
def scenario_result(request, tmp_path):
    scenario = request.param()
    write_csvs(scenario.frames, tmp_path)
    raw = _engine_config(scenario, tmp_path)
    result = run_backtest(config_from_dict(raw), FrameSource(scenario.frames))
    return scenario, raw, result, tmp_path


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def test_engine_targets_equal_the_hand_computed_ones(scenario_result):
    scenario, raw, result, _ = scenario_result
    universe = raw["universe"]
    for date, expected in scenario.targets.items():
        got = result.targets.loc[pd.Timestamp(date)]
        for ticker in universe:
            assert got[ticker] == pytest.approx(expected.get(ticker, 0.0), abs=1e-12), (
                f"{scenario.name} {date} {ticker}"
            )
    for date, regime in scenario.regimes.items():
        assert result.regimes.loc[pd.Timestamp(date)] == regime, f"{scenario.name} {date}"


def test_engine_trades_values_and_decision_dates_equal_the_hand_computed_ones(scenario_result):
    scenario, raw, result, _ = scenario_result
    np.testing.assert_allclose(result.strategy.value.to_numpy(), scenario.values, rtol=1e-12)
    traded = sorted({_day(d) for d in result.strategy.trades["date"]})
    assert traded == scenario.trade_dates, scenario.name
    decide = raw.get("execution", {}).get("decide", "daily")
    mask = decision_mask(result.calendar, decide)
    on_dates = [_day(d) for d, m in zip(result.calendar, mask, strict=True) if m]
    assert [d for d in on_dates if d in {_day(x) for x in result.dates}] == (
        scenario.decision_dates
    )


def test_engine_ranks_equal_the_hand_computed_ones(scenario_result):
    scenario, _, result, _ = scenario_result
    ranks = result.ranks
    for date, expected in scenario.ranks.items():
        rows = ranks[(ranks["date"] == pd.Timestamp(date)) & ranks["active"]]
        assert len(rows), f"{scenario.name}: no active ranking on {date}"
        by_asset = rows.set_index("asset")
        for asset, (rank, failed) in expected.items():
            row = by_asset.loc[asset]
            assert int(row["rank"]) == (rank or 0), f"{scenario.name} {date} {asset}"
            assert bool(row["selected"]) == (failed is not None), f"{scenario.name} {date}"
            assert bool(row["failed"]) == bool(failed), f"{scenario.name} {date} {asset}"


def test_engine_equals_the_reference_day_by_day(scenario_result):
    scenario, raw, result, folder = scenario_result
    expected = reference_backtest(copy.deepcopy(raw), folder)
    assert [d.date() for d in result.dates] == [d.date() for d in expected["dates"]]
    np.testing.assert_allclose(result.strategy.value, expected["strategy"], rtol=VALUE_TOL)
    assert result.regimes.reindex(result.dates).tolist() == expected["regimes"]


@pytest.mark.parametrize("name", TAA)
def test_ready_taa_config_matches_independent_reference(name, shared_data):
    raw = yaml.safe_load((CONFIGS / "taa" / name).read_text())
    raw["data"] = {**raw["data"], "source": "csv", "dir": str(shared_data)}
    _check(raw, shared_data)


def test_every_ready_taa_config_is_tested():
    assert {"gem.yaml"} <= set(TAA)
