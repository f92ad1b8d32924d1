"""The reference (tests/reference.py) on SPEC sections 9 and 10: ranked allocations
and the decision schedule, against the hand-computed scenarios of
tests/ranked_scenarios.py (their expected numbers are arithmetic on the literal
prices, written out there), plus a few checks written out here and invariants on
the real prices of ../shared/data."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from tests.ranked_scenarios import (
    INITIAL_CASH,
    SCENARIOS,
    Scenario,
    base_config,
    bdays,
    frame,
    std2,
    write_csvs,
)
from tests.reference import reference_backtest

TOL = 1e-12


def _run(scenario: Scenario, tmp_path, **config_changes) -> dict:
    write_csvs(scenario.frames, tmp_path)
    config = copy.deepcopy(scenario.config)
    config.update(config_changes)
    return reference_backtest(config, tmp_path)


def _day(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def _full(weights: dict, universe) -> dict:
    return {t: float(weights.get(t, 0.0)) for t in universe}


def _assert_weights(got: dict, expected: dict, universe, where: str) -> None:
    expected = _full(expected, universe)
    assert set(got) == set(universe), where
    for t in universe:
        assert got[t] == pytest.approx(expected[t], rel=TOL, abs=TOL), f"{where} {t}"


def _decided_record(res: dict, date: str) -> dict:
    rows = [r for r in res["ranks"] if _day(r["date"]) == date and r["decided"]]
    assert len(rows) == 1, date
    return rows[0]


@pytest.fixture(params=SCENARIOS, ids=[f.__name__.removeprefix("scenario_") for f in SCENARIOS])
def scenario_run(request, tmp_path):
    scenario = request.param()
    return scenario, _run(scenario, tmp_path)


# ---------------------------------------------------------------- every scenario


def test_targets_on_every_backtest_date(scenario_run):
    scenario, res = scenario_run
    universe = scenario.config["universe"]
    assert [_day(d) for d in res["dates"]] == sorted(scenario.targets)
    assert [_day(t["date"]) for t in res["targets"]] == sorted(scenario.targets)
    for row in res["targets"]:
        day = _day(row["date"])
        _assert_weights(row["decided"], scenario.targets[day], universe, day)
        assert sum(row["decided"].values()) <= 1.0 + TOL


def test_traded_to_is_the_previous_dates_decision(scenario_run):
    scenario, res = scenario_run
    rows = res["targets"]
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row["traded_to"] == prev["decided"], _day(row["date"])


def test_regimes_ranks_and_thresholds(scenario_run):
    scenario, res = scenario_run
    universe = scenario.config["universe"]
    by_day = dict(zip((_day(d) for d in res["dates"]), res["regimes"], strict=True))
    for day, regime in scenario.regimes.items():
        assert by_day[day] == regime, day
    for day, expected in scenario.ranks.items():
        record = _decided_record(res, day)
        rows = {c["ticker"]: c for c in record["candidates"]}
        for ticker, (rank, failed) in expected.items():
            assert rows[ticker]["rank"] == rank, (day, ticker)
            assert rows[ticker]["eligible"] == (rank is not None), (day, ticker)
            assert rows[ticker]["failed"] == failed, (day, ticker)
        # the decided record's weights are the target decided that day
        decided = next(t for t in res["targets"] if _day(t["date"]) == day)["decided"]
        _assert_weights(record["weights"], decided, universe, day)
    for day, threshold in scenario.thresholds.items():
        got = _decided_record(res, day)["threshold"]
        if math.isnan(threshold):
            assert math.isnan(got), day
        else:
            assert got == pytest.approx(threshold, rel=TOL), day


def test_schedule_trades_and_values(scenario_run):
    scenario, res = scenario_run
    got = [_day(t["date"]) for t in res["targets"] if t["decision"]]
    assert got == scenario.decision_dates
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    assert sorted({_day(t["date"]) for t in strat}) == scenario.trade_dates
    np.testing.assert_allclose(res["strategy"], scenario.values, rtol=1e-12)


# ---------------------------------------------------------------- arithmetic written out here


def test_ties_follow_assets_order_not_universe_order(tmp_path):
    scenario = SCENARIOS[0]()
    res = _run(scenario, tmp_path)
    # 2024-01-10: AAA 11/11-1 = 0 = BBB 22/22-1; assets lists BBB before AAA
    record = _decided_record(res, "2024-01-10")
    ranks = {c["ticker"]: c["rank"] for c in record["candidates"]}
    assert ranks == {"CCC": 1, "BBB": 2, "AAA": 3}
    # the first backtest date has no earlier date in C and the default is ranked: cash
    assert set(res["targets"][0]["traded_to"].values()) == {0.0}
    # reversing `assets` reverses the tie: AAA takes slot 2 on 2024-01-10
    config = copy.deepcopy(scenario.config)
    config["regimes"][0]["rank"]["assets"] = ["AAA", "BBB", "CCC"]
    res = reference_backtest(config, tmp_path)
    decided = {_day(t["date"]): t["decided"] for t in res["targets"]}
    assert decided["2024-01-10"] == {"AAA": 0.5, "BBB": 0.0, "CCC": 0.5}


def test_inverse_vol_split_written_out(tmp_path):
    res = _run(SCENARIOS[2](), tmp_path)
    record = _decided_record(res, "2024-01-11")
    rows = {c["ticker"]: c for c in record["candidates"]}
    # sigma from the last two returns of each asset (vol_window 2)
    s_a = std2(99 / 110 - 1, 108.9 / 99 - 1)
    s_b = std2(99.99 / 101 - 1, 100.9899 / 99.99 - 1)
    assert rows["AAA"]["vol"] == pytest.approx(s_a, rel=1e-12)
    assert rows["BBB"]["vol"] == pytest.approx(s_b, rel=1e-12)
    assert rows["CCC"]["vol"] == 0.0 and not rows["CCC"]["eligible"]
    assert rows["CCC"]["score"] == pytest.approx(400 / 100 - 1)  # highest score, still out
    # 0.9 * 2/3 = 0.6 in all, AAA : BBB = (1/s_a) : (1/s_b), about 1 : 10
    w_a, w_b = record["weights"]["AAA"], record["weights"]["BBB"]
    assert w_a + w_b == pytest.approx(0.6, rel=1e-12)
    assert w_b / w_a == pytest.approx(s_a / s_b, rel=1e-12)
    assert w_a == pytest.approx(0.6 / 11, rel=1e-6)  # returns are +-.1 and +-.01 up to rounding


def test_weekly_regime_statistics(tmp_path):
    res = _run(SCENARIOS[9](), tmp_path)
    s = res["stats"]["strategy"]
    # held regimes: defensive, risk_on x3, defensive x4, risk_on x6 -> 3 switches
    assert s["switches"] == 3
    assert s["time_in_regime"] == pytest.approx({"risk_on": 9 / 14, "defensive": 5 / 14})
    # the same config decided daily switches on the non-decision dates too
    daily = _run(SCENARIOS[9](), tmp_path, execution={"decide": "daily"})
    assert daily["stats"]["strategy"]["switches"] > 3
    # ranked records exist on decision dates only
    assert sorted({_day(r["date"]) for r in res["ranks"]}) == [
        "2024-12-20",
        "2024-12-26",
        "2025-01-03",
    ]


def test_monthly_threshold_without_the_rule_trades_once(tmp_path):
    scenario = SCENARIOS[11]()
    config = copy.deepcopy(scenario.config)
    config["execution"]["rebalance"] = "none"
    write_csvs(scenario.frames, tmp_path)
    res = reference_backtest(config, tmp_path)
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    assert sorted({_day(t["date"]) for t in strat}) == ["2024-02-01"]
    # buy 50000/10.5 AAA and 50000/20.2 BBB on Feb 1, then hold: Feb 9 = AAA 16.8, BBB 20.2
    assert res["strategy"][-1] == pytest.approx(50000 / 10.5 * 16.8 + 50000, rel=1e-12)


def test_target_change_within_1e_12_is_no_trade(tmp_path):
    d = bdays("2024-01-08", "2024-01-12")
    frames = {
        "AAA": frame(d, [10.0, 10.0, 12.0, 12.0, 12.0]),
        "BBB": frame(d, [10.0] * 5),
    }
    write_csvs(frames, tmp_path)
    regimes = [
        {"name": "up", "when": "aaa_high", "weights": {"AAA": 0.5 + 1e-13, "BBB": 0.5 - 1e-13}},
        {"name": "flat", "weights": {"AAA": 0.5, "BBB": 0.5}},
    ]
    config = base_config(
        ["AAA", "BBB"],
        regimes,
        {},
        start=d[0],
        signals={"aaa_high": {"type": "level", "series": "AAA", "above": 11}},
    )
    res = reference_backtest(config, tmp_path)
    assert res["regimes"] == ["flat", "flat", "up", "up", "up"]
    # the switch on d2 changes the weights by 1e-13 only: no trade on d3, the drift stays
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    assert {_day(t["date"]) for t in strat} == {d[0]}
    assert res["strategy"][-1] == pytest.approx(INITIAL_CASH / 2 / 10 * 12 + INITIAL_CASH / 2)
    assert res["ranks"] == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"weights": {"AAA": 1.0}}, "both"),
        ({"rank": {"assets": ["AAA"], "score": "mom1", "top": 2}}, "top"),
        ({"rank": {"assets": ["AAA", "ZZZ"], "score": "mom1", "top": 1}}, "universe"),
        ({"rank": {"assets": ["AAA"], "score": "nope", "top": 1}}, "score"),
        ({"rank": {"assets": ["AAA"], "score": "mom1", "top": 1, "fallback": "ZZZ"}}, "fallback"),
        ({"rank": {"assets": ["AAA"], "score": "mom1", "top": 1, "exposure": 0}}, "exposure"),
        (
            {"rank": {"assets": ["AAA"], "score": "mom1", "top": 1, "weighting": "inverse_vol"}},
            "vol_window",
        ),
        (
            {
                "rank": {
                    "assets": ["AAA"],
                    "score": "mom1",
                    "top": 1,
                    "filter": {"type": "sma", "series": "AAA", "window": 2},
                }
            },
            "series",
        ),
    ],
)
def test_bad_rank_blocks_are_refused(tmp_path, change, message):
    scenario = SCENARIOS[0]()
    config = copy.deepcopy(scenario.config)
    regime = {"name": "top2", "rank": {"assets": ["AAA"], "score": "mom1", "top": 1}}
    regime.update(change)
    config["regimes"] = [regime]
    write_csvs(scenario.frames, tmp_path)
    with pytest.raises(ValueError, match=message):
        reference_backtest(config, tmp_path)


# ---------------------------------------------------------------- real prices


def test_real_data_top2_by_12_month_momentum_monthly(shared_data):
    assets = ["SPY", "EFA", "EEM", "AGG"]
    config = {
        "name": "top2-momentum",
        "data": {"source": "csv", "start": "2010-01-01", "end": "2020-12-31"},
        "universe": assets,
        "scores": {"mom12": {"type": "momentum", "lookback": 252}},
        "regimes": [{"name": "top2", "rank": {"assets": assets, "score": "mom12", "top": 2}}],
        "execution": {"decide": "monthly", "fees_bps": 2, "slippage_bps": 1},
        "benchmark": {"SPY": 1.0},
    }
    res = reference_backtest(config, shared_data)
    assert len(res["dates"]) > 2000
    decided = [r for r in res["ranks"] if r["decided"]]
    assert len(decided) == len(res["ranks"])  # one ranked regime: always the decided one
    in_window = [r for r in decided if r["date"] >= res["dates"][0]]
    assert 125 <= len(in_window) <= 133  # one decision per month, 2010..2020

    closes = {
        t: pd.read_csv(shared_data / f"{t}.csv", index_col="Date")["Adj Close"] for t in assets
    }
    for record in in_window:
        rows = record["candidates"]
        weights = record["weights"]
        assert sum(weights.values()) <= 1.0 + TOL
        chosen = [c for c in rows if c["selected"]]
        assert len(chosen) == 2 and all(c["eligible"] for c in chosen)
        assert sorted(c["rank"] for c in chosen) == [1, 2]
        others = [c["score"] for c in rows if c["eligible"] and not c["selected"]]
        assert min(c["score"] for c in chosen) >= max(others, default=-math.inf)
        for c in rows:
            assert weights[c["ticker"]] == (0.5 if c["selected"] else 0.0)
            # the score is the asset's own 252-bar total return (all assets trade that day)
            series = closes[c["ticker"]]
            i = series.index.get_loc(record["date"].strftime("%Y-%m-%d"))
            assert c["score"] == pytest.approx(series.iloc[i] / series.iloc[i - 252] - 1, rel=1e-12)

    # between decision dates the decided target is held; trades follow target changes
    rows = res["targets"]
    for prev, row in zip(rows, rows[1:], strict=False):
        if not row["decision"]:
            assert row["decided"] == prev["decided"]
    strat_days = sorted({t["date"] for t in res["trades"] if t["portfolio"] == "strategy"})
    changed = [rows[0]["date"]]
    for j in range(1, len(rows)):
        if rows[j]["traded_to"] != rows[j - 1]["traded_to"]:
            changed.append(rows[j]["date"])
    assert set(strat_days) <= set(changed)
    assert res["stats"]["strategy"]["time_in_regime"] == {"top2": 1.0}
