"""The rank buffer `rank.keep` (SPEC 11; docs/scores.md "Rank buffer").

1. A hand-computed run: top 1 of AAA, BBB, CCC by 1-day momentum with keep 2, a kept
   asset at rank K, dropped at K + 1, no buffer right after a regime switch; engine,
   ranks.csv's `kept` column and the plain-loop reference, date by date.
2. The chain kernel: combinations whose runs start on different dates share the rows
   of the selections they reach, and the order of the combinations does not matter.
3. Bad keep values, one `Error:` line; sweeps over keep equal single runs.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from engine import rank_buffer
from engine.config import config_from_dict
from engine.data import MemorySource
from engine.rank_buffer import fill_history
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from engine.runner import run_backtest
from engine.targets import decision_schedules
from strategies.ranking import rank_assets
from tests.ranked_scenarios import base_config, bdays, frame, write_csvs
from tests.reference import reference_backtest
from tests.test_ranked import assert_one_error_line, ranked_raw, run_cli, write_prices
from tests.test_ranked_engine import ranked_market, sweep_raw
from tests.test_ranked_golden import FrameSource
from tests.test_sweep import assert_rows_equal_single_runs

# ---------------------------------------------------------------- 1. by hand

DATES = bdays("2024-01-08", "2024-01-16")  # d0 .. d6
# Daily returns (the 1-day momentum score) and the signal, date by date:
RETURNS = {
    #          d0    d1    d2    d3    d4    d5    d6
    "AAA": [None, 0.03, 0.02, 0.01, 0.00, 0.03, 0.02],
    "BBB": [None, 0.02, 0.03, 0.03, 0.01, 0.02, 0.03],
    "CCC": [None, 0.01, 0.01, 0.02, 0.00, 0.01, 0.01],
}
SIG = [1, 1, 1, 1, 0.25, 1, 1]  # the ranked regime is decided while SIG > 0.5
EXPECTED = [
    # (date, selected, kept, ranks of AAA/BBB/CCC)
    ("2024-01-08", None, None, None),  # d0: no score yet: the slot is empty (cash)
    ("2024-01-09", "AAA", None, (1, 2, 3)),  # d1: nothing held before: plain top 1
    ("2024-01-10", "AAA", "AAA", (2, 1, 3)),  # d2: AAA held, ranked 2 <= keep: kept at K
    ("2024-01-11", "BBB", None, (3, 1, 2)),  # d3: AAA ranked 3 > keep: dropped at K + 1
    ("2024-01-12", "CCC", None, None),  # d4: SIG off: the default regime, CCC (BBB
    #                                       would lead the ranking, which is not decided)
    ("2024-01-15", "AAA", None, (1, 2, 3)),  # d5: previous decision was the default: no
    #                                          buffer, BBB (rank 2) is not kept
    ("2024-01-16", "AAA", "AAA", (2, 1, 3)),  # d6: the run goes on: AAA kept at rank 2
]


def buffer_scenario() -> tuple[dict, dict[str, pd.DataFrame]]:
    frames = {}
    for ticker, returns in RETURNS.items():
        closes, level = [], 100.0
        for r in returns:
            level *= 1.0 + (r or 0.0)
            closes.append(level)
        frames[ticker] = frame(DATES, closes)
    frames["SIG"] = frame(DATES, [float(s) for s in SIG])
    rank = {"assets": ["AAA", "BBB", "CCC"], "score": "mom1", "top": 1, "keep": 2}
    config = base_config(
        ["AAA", "BBB", "CCC"],
        [{"name": "ranked", "when": "on", "rank": rank}, {"name": "calm", "weights": {"CCC": 1.0}}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start=DATES[0],
        signals={"on": {"type": "level", "series": "SIG", "above": 0.5}},
    )
    return config, frames


@pytest.fixture(scope="module")
def buffer_run(tmp_path_factory):
    config, frames = buffer_scenario()
    folder = write_csvs(frames, tmp_path_factory.mktemp("buffer"))
    raw = copy.deepcopy(config)
    raw["data"] |= {"dir": str(folder)}
    return raw, folder, run_backtest(config_from_dict(raw), FrameSource(frames))


def test_a_held_asset_is_kept_at_rank_keep_and_dropped_beyond_it(buffer_run):
    _, _, result = buffer_run
    ranks = result.ranks[result.ranks["active"]]
    for day, selected, kept, order in EXPECTED:
        target = result.targets.loc[pd.Timestamp(day)]
        held = target.idxmax() if target.sum() > 0 else None
        assert held == selected, day
        rows = ranks[ranks["date"] == pd.Timestamp(day)].set_index("asset")
        if order is None:
            continue
        assert rows["rank"].tolist() == list(order), day
        assert rows.index[rows["selected"]].tolist() == [selected], day
        assert rows.index[rows["kept"]].tolist() == ([kept] if kept else []), day


def test_the_buffer_run_equals_the_reference(buffer_run):
    raw, folder, result = buffer_run
    theirs = reference_backtest(copy.deepcopy(raw), folder)
    np.testing.assert_allclose(result.strategy.value, theirs["strategy"], rtol=1e-12)
    for row in theirs["targets"]:  # the target decided on every date
        ours = result.targets.loc[row["date"]]
        assert ours.to_dict() == pytest.approx(row["decided"], abs=1e-12), row["date"]
    kept = {
        r["date"].strftime("%Y-%m-%d"): [c["ticker"] for c in r["candidates"] if c["kept"]]
        for r in theirs["ranks"]
        if r["decided"]
    }
    assert kept == {day: [k] if k else [] for day, _, k, order in EXPECTED if order or day in kept}


def test_without_keep_the_same_market_trades_the_plain_top_one(buffer_run):
    raw, _, _ = buffer_run
    plain = copy.deepcopy(raw)
    del plain["regimes"][0]["rank"]["keep"]
    config, frames = buffer_scenario()
    result = run_backtest(config_from_dict(plain), FrameSource(frames))
    assert result.targets.loc[pd.Timestamp("2024-01-10")].idxmax() == "BBB"
    assert "kept" not in result.ranks.columns  # ranks.csv unchanged without keep


# ---------------------------------------------------------------- 2. the kernel


def held_masks(codes, states, plain) -> list:
    """The selection each code stands for: plain row 10 + p, buffered row 100 + e."""
    return [
        [
            None if c < 0 else tuple(states[c - 100]) if c >= 100 else tuple(plain.selected[c - 10])
            for c in row
        ]
        for row in codes
    ]


def test_chains_from_different_starts_reach_the_same_rows_in_any_order():
    # four dates, three assets A, B, C; the plain top 1 is A, B, B, C
    score = np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [2.0, 3.0, 1.0], [1.0, 2.0, 3.0]])
    plain = rank_assets(score, 1)
    # combination 0 decides the ranked regime (0) from date 0, combination 1 from date 1
    regimes = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    codes = np.full(regimes.shape, -9, dtype=np.int64)
    states, dates = rank_buffer.buffered_codes(
        regimes, np.array([0, 1]), np.arange(4), 0, plain, 1, 2, codes, np.arange(4), 10, 100
    )
    # combination 0 holds A from date 0; A is ranked 2 <= keep on dates 1 and 2 (kept:
    # one buffered row per date), 3 > keep on date 3 (dropped: the plain C). Combination
    # 1 starts on date 1 with the plain B; B stays first on date 2 (plain), and on date 3
    # is ranked 2 <= keep: kept, a third buffered row.
    assert states.tolist() == [[True, False, False], [True, False, False], [False, True, False]]
    assert dates.tolist() == [1, 2, 3]
    assert codes[0].tolist() == [10, 100, 101, 13]
    assert codes[1].tolist() == [-9, 11, 12, 102]
    assert codes[2].tolist() == [-9] * 4  # not in the group: untouched
    # the order of the combinations may number the rows differently, never change them
    again = np.full(regimes.shape, -9, dtype=np.int64)
    other, _ = rank_buffer.buffered_codes(
        regimes, np.array([1, 0]), np.arange(4), 0, plain, 1, 2, again, np.arange(4), 10, 100
    )
    assert held_masks(again, other, plain) == held_masks(codes, states, plain)


# ---------------------------------------------------------------- 3. errors and sweeps


@pytest.fixture(scope="module")
def price_dir(tmp_path_factory):
    return write_prices(tmp_path_factory.mktemp("prices"), ["SPY", "EFA", "EEM", "AGG"])


@pytest.mark.parametrize(
    ("keep", "needles"),
    [
        (1, ["regimes[0].rank.keep", "at least top (2)"]),
        (4, ["regimes[0].rank.keep", "at most the 3 assets"]),
        (0, ["regimes[0].rank.keep", "at least 1"]),
        (2.5, ["regimes[0].rank.keep", "whole number"]),
    ],
)
def test_a_bad_keep_is_one_error_line_naming_the_field(keep, needles, tmp_path, price_dir):
    raw = ranked_raw()
    raw["regimes"][0]["rank"] |= {"top": 2, "keep": keep}
    result, out = run_cli(raw, tmp_path, price_dir)
    assert_one_error_line(result, out, "bad.yaml", *needles)


def keep_sweep(decide: str) -> dict:
    raw = sweep_raw(weekly=decide == "weekly")
    raw["execution"]["decide"] = decide
    raw["signals"]["eth"]["window"] = [10, 30]
    raw["regimes"][0]["rank"] |= {
        "top": 1,
        "keep": [1, 2, 3],
        "weighting": "inverse_vol",
        "vol_window": 10,
        "fallback": "DDD",
        "min_score": [-1.0, 0.0],
    }
    return raw


@pytest.mark.parametrize("decide", ["daily", "weekly"])
def test_a_sweep_over_keep_equals_single_runs(decide):
    spec = sweep_spec(keep_sweep(decide), "grid.yaml")
    source = MemorySource(ranked_market(11, 300))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))
    keep = result.table["regimes[0].rank.keep"].to_numpy()
    assert not np.allclose(
        result.table["total_return"][keep == 1], result.table["total_return"][keep == 3]
    )


def test_a_sweep_over_keep_and_decide_day_equals_single_runs():
    raw = keep_sweep("monthly")
    raw["execution"]["decide_day"] = [-1, 2]
    raw["regimes"][0]["rank"]["min_score"] = -1.0
    spec = sweep_spec(raw, "grid.yaml")
    source = MemorySource(ranked_market(11, 300))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))


def test_a_buffered_run_equals_its_one_combination_sweep():
    raw = keep_sweep("weekly")
    raw["regimes"][0]["rank"] |= {"keep": 2, "min_score": 0.0}
    raw["signals"]["eth"]["window"] = 10
    raw["execution"]["fees_bps"] = [2]
    spec = sweep_spec(raw, "grid.yaml")
    assert spec.size == 1
    source = MemorySource(ranked_market(11, 300))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))


def test_history_is_decided_back_to_the_start_of_each_buffered_run_only():
    # 12 decision dates, the last 4 read by rows; regime 0 is buffered, 1 is not
    truth = np.array(
        [
            [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1],  # run of 0 started at 7: back to 6
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # in 0 since C began: back to 0
            [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],  # first read decision is 1: no history
        ]
    )
    schedules = decision_schedules(
        pd.bdate_range("2024-01-01", periods=12), "daily", (-1,), np.arange(8, 12), history=True
    )
    codes = np.full(truth.shape, -1)
    codes[:, 8:] = truth[:, 8:]
    asked = []

    def decided(combos, columns):
        asked.append((combos.tolist(), columns.tolist()))
        return truth[np.ix_(combos, columns)]

    fill_history(codes, schedules, np.zeros(3, dtype=np.int64), [0], decided, block=2)
    assert codes[0].tolist() == [-1] * 6 + truth[0, 6:].tolist()
    assert codes[1].tolist() == truth[1].tolist()
    assert codes[2].tolist() == [-1] * 8 + truth[2, 8:].tolist()
    assert asked[0] == ([0, 1], [6, 7])  # blocks of 2, 4, ... going back
    assert asked[1] == ([1], [2, 3, 4, 5])


def test_a_buffered_sweep_without_any_decision_date_holds_the_default():
    raw = keep_sweep("weekly")
    raw["execution"]["decide"] = "annual"  # 5 months of data: no year ends in them
    raw["regimes"][0]["rank"]["min_score"] = -1.0
    spec = sweep_spec(raw, "grid.yaml")
    source = MemorySource(ranked_market(11, 110))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))
    assert (result.table["time_in_safe"] == 1.0).all()
