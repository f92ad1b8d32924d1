"""Decision days and the longer schedules (SPEC 11; docs/semantics.md "Decision schedule").

1. `engine.calendar.decision_mask` with `decide_day` and `quarterly`/`annual` on dates
   worked out by hand (a short month, a month shorter than |decide_day|, the final,
   incomplete period), and equal to the plain-loop reference on random calendars.
2. A hand-computed run: a top-1 ranking that decides on the 2nd date of each month
   (engine and reference, date by date).
3. Bad decide_day values: one `Error:` line naming the field, exit 2, nothing written.
4. A sweep over decide_day equals single runs (signals and ranks aligned once on the
   union of the schedules' decision dates).
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.calendar import decision_mask
from engine.config import config_from_dict
from engine.data import MemorySource
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from engine.runner import run_backtest
from engine.targets import decision_schedules
from tests.ranked_scenarios import base_config, bdays, frame, write_csvs
from tests.reference import decision_flags, reference_backtest
from tests.test_ranked import assert_one_error_line, ranked_raw, run_cli, write_prices
from tests.test_ranked_engine import ranked_market, sweep_raw
from tests.test_ranked_golden import FrameSource
from tests.test_sweep import assert_rows_equal_single_runs

# Weekdays 2024-01-22 .. 2024-03-06 less Presidents' Day (Mon 2024-02-19):
#   January  22 23 24 25 26 29 30 31                 8 dates (C starts mid-month)
#   February 1 2 5 6 7 8 9 12 13 14 15 16 20 21 22 23 26 27 28 29   20 dates
#   March    1 4 5 6                                  4 dates, the final period: incomplete
SPAN = pd.DatetimeIndex(bdays("2024-01-22", "2024-03-06", drop=("2024-02-19",)))


def decided(dates: pd.DatetimeIndex, decide: str, day: int) -> list[str]:
    return [str(d.date()) for d in dates[decision_mask(dates, decide, day)]]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # the 2nd date of each month; March's is known on its 2nd date, before its end
        (2, ["2024-01-23", "2024-02-02", "2024-03-04"]),
        # the 2nd from the last; March has no decision (its last date is not known yet)
        (-2, ["2024-01-30", "2024-02-28"]),
        # January has 8 < 10 dates: its last date; February's 10th is the 14th;
        # March (4 dates, incomplete) may still reach a 10th date: none yet
        (10, ["2024-01-31", "2024-02-14"]),
        # January has 8 < 10 dates: its first; February's 10th from the last is the 15th
        (-10, ["2024-01-22", "2024-02-15"]),
        # every month is shorter than 21 dates (February has 20): the last, then the first
        (21, ["2024-01-31", "2024-02-29"]),
        (-21, ["2024-01-22", "2024-02-01"]),
        # March's 4th date is the final date of C: known on it, so a decision date
        (4, ["2024-01-25", "2024-02-06", "2024-03-06"]),
        # March has only 4 dates so far: no 5th yet, and no end of month either
        (5, ["2024-01-26", "2024-02-07"]),
    ],
)
def test_monthly_decision_days_on_a_short_month_and_an_incomplete_final_month(day, expected):
    assert decided(SPAN, "monthly", day) == expected


def test_the_default_decision_day_is_the_last_date_of_the_period():
    for decide in ("weekly", "monthly", "quarterly", "annual"):
        assert decision_mask(SPAN, decide).tolist() == decision_mask(SPAN, decide, -1).tolist()


# 2023-12-18 .. 2025-01-08 on NYSE-like weekdays (Christmas, New Year, Good Friday closed)
LONG = pd.DatetimeIndex(
    bdays(
        "2023-12-18",
        "2025-01-08",
        drop=("2023-12-25", "2024-01-01", "2024-03-29", "2024-12-25", "2025-01-01"),
    )
)


def test_quarterly_and_annual_decisions():
    # Good Friday 2024-03-29 is closed: Q1 ends on Thursday the 28th
    assert decided(LONG, "quarterly", -1) == [
        "2023-12-29",
        "2024-03-28",
        "2024-06-28",
        "2024-09-30",
        "2024-12-31",
    ]
    # the first date of each quarter: C's first date opens Q4 2023; Q1 2025 has begun
    assert decided(LONG, "quarterly", 1) == [
        "2023-12-18",
        "2024-01-02",
        "2024-04-01",
        "2024-07-01",
        "2024-10-01",
        "2025-01-02",
    ]
    assert decided(LONG, "annual", -1) == ["2023-12-29", "2024-12-31"]
    # 2023 holds 9 dates of C (< 20): its last; 2024's 20th date is Jan 29; 2025 has
    # only 5 dates so far, and its end is not known: no decision
    assert decided(LONG, "annual", 20) == ["2023-12-29", "2024-01-29"]
    # 2023 has fewer than 20 dates: its first one; 2024's 20th from the last is Dec 3
    assert decided(LONG, "annual", -20) == ["2023-12-18", "2024-12-03"]


def random_calendar(seed: int) -> pd.DatetimeIndex:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2021-11-20", periods=int(rng.integers(30, 400)))
    return days[rng.random(len(days)) > 0.2]  # gaps: holidays and missing sessions


@pytest.mark.parametrize("seed", range(6))
def test_decision_mask_equals_the_plain_loop_reference(seed):
    dates = random_calendar(seed)
    plain = [d.date() for d in dates]
    for decide in ("weekly", "monthly", "quarterly", "annual"):
        for day in (1, 2, 3, 7, 30, -1, -2, -4, -25, -70):
            assert decision_mask(dates, decide, day).tolist() == decision_flags(
                plain, decide, day
            ), (decide, day)


def test_schedules_share_the_union_of_their_decision_dates():
    rows = np.arange(len(SPAN))
    schedules = decision_schedules(SPAN, "monthly", (2, -2), rows)
    union = [str(d.date()) for d in SPAN[schedules.decisions]]
    assert union == ["2024-01-23", "2024-01-30", "2024-02-02", "2024-02-28", "2024-03-04"]
    # each schedule reads only its own dates; every row its latest one (-1: none yet)
    assert [union[c] for c in schedules.columns[0]] == ["2024-01-23", "2024-02-02", "2024-03-04"]
    assert [union[c] for c in schedules.columns[1]] == ["2024-01-30", "2024-02-28"]
    feb27 = SPAN.get_loc(pd.Timestamp("2024-02-27"))
    assert schedules.sources[:, 0].tolist() == [-1, -1]  # Jan 22: nothing decided yet
    assert [union[s] for s in schedules.sources[:, feb27]] == ["2024-02-02", "2024-01-30"]


# ---------------------------------------------------------------- 2. a run by hand


def day_two_scenario() -> tuple[dict, dict[str, pd.DataFrame]]:
    """Top 1 of AAA, BBB by 1-day momentum, decided on the 2nd date of each month."""
    dates = [str(d.date()) for d in SPAN]
    jumps = {"AAA": ("2024-01-23", "2024-03-04"), "BBB": ("2024-02-02",)}
    frames = {}
    for ticker, up in jumps.items():
        level, closes = 100.0, []
        for d in dates:
            level *= 1.01 if d in up else 1.0  # +1% on the dates it should lead, else flat
            closes.append(level)
        frames[ticker] = frame(dates, closes)
    rank = {"assets": ["AAA", "BBB"], "score": "mom1", "top": 1}
    config = base_config(
        ["AAA", "BBB"],
        [{"name": "top1", "rank": rank}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start="2024-01-22",
        decide="monthly",
        decide_day=2,
    )
    return config, frames


def test_a_ranking_decided_on_the_second_date_of_each_month(tmp_path):
    config, frames = day_two_scenario()
    raw = copy.deepcopy(config)
    raw["data"] |= {"dir": str(write_csvs(frames, tmp_path))}
    result = run_backtest(config_from_dict(raw), FrameSource(frames))
    held = result.targets.idxmax(axis=1).where(result.targets.sum(axis=1) > 0, "cash")
    expected = {
        "2024-01-22": "cash",  # before the first decision: the ranked default holds cash
        "2024-01-23": "AAA",  # 2nd date of January: AAA +1%, BBB flat
        "2024-02-01": "AAA",  # held until the next decision date
        "2024-02-02": "BBB",  # 2nd date of February: BBB +1%, AAA flat
        "2024-03-01": "BBB",
        "2024-03-04": "AAA",  # 2nd date of March, known before March ends: AAA +1%
        "2024-03-06": "AAA",
    }
    for day, ticker in expected.items():
        assert held.loc[pd.Timestamp(day)] == ticker, day
    theirs = reference_backtest(copy.deepcopy(raw), tmp_path)
    np.testing.assert_allclose(result.strategy.value, theirs["strategy"], rtol=1e-12)
    decisions = [t["date"].date() for t in theirs["targets"] if t["decision"]]
    assert decisions == [dt.date(2024, 1, 23), dt.date(2024, 2, 2), dt.date(2024, 3, 4)]


# ---------------------------------------------------------------- 3. errors


@pytest.fixture(scope="module")
def price_dir(tmp_path_factory):
    return write_prices(tmp_path_factory.mktemp("prices"), ["SPY", "EFA", "EEM", "AGG"])


@pytest.mark.parametrize(
    ("execution", "needles"),
    [
        ({"decide": "monthly", "decide_day": 0}, ["execution.decide_day", "must not be 0"]),
        ({"decide_day": 3}, ["execution.decide_day", "decide: weekly"]),
        ({"decide": "daily", "decide_day": -1}, ["execution.decide_day", "every date decides"]),
        ({"decide": "quarterly", "decide_day": 70}, ["execution.decide_day", "at most 66"]),
        ({"decide": "monthly", "decide_day": -24}, ["execution.decide_day", "at most 23"]),
        ({"decide": "weekly", "decide_day": 6}, ["execution.decide_day", "at most 5"]),
        ({"decide": "annual", "decide_day": 263}, ["execution.decide_day", "at most 262"]),
        ({"decide": "monthly", "decide_day": 2.5}, ["execution.decide_day", "whole number"]),
    ],
)
def test_a_bad_decide_day_is_one_error_line_naming_the_field(
    execution, needles, tmp_path, price_dir
):
    raw = ranked_raw()
    raw["execution"] = execution
    result, out = run_cli(raw, tmp_path, price_dir)
    assert_one_error_line(result, out, "bad.yaml", *needles)


def test_an_all_crypto_universe_may_decide_on_every_calendar_day_of_the_period():
    raw = {
        "name": "crypto",
        "data": {"start": "2022-01-01"},
        "universe": ["BTC-USD"],
        "regimes": [{"name": "all", "weights": {"BTC-USD": 1.0}}],
        "benchmark": {"BTC-USD": 1.0},
        "execution": {"decide": "monthly", "decide_day": 31},
    }
    assert config_from_dict(raw).execution.day == 31
    raw["execution"]["decide_day"] = 32
    with pytest.raises(Exception, match="at most 31"):
        config_from_dict(raw)


# ---------------------------------------------------------------- 4. sweeps


def decide_day_sweep() -> dict:
    raw = sweep_raw(weekly=False)
    raw["signals"]["eth"]["window"] = [10, 30]
    raw["execution"]["decide_day"] = [-1, -5, 1, 3, 22]
    return raw


@pytest.mark.parametrize("decide", ["weekly", "monthly", "quarterly"])
def test_a_sweep_over_decide_day_equals_single_runs(decide):
    raw = decide_day_sweep()
    raw["execution"]["decide"] = decide
    if decide == "weekly":
        raw["execution"]["decide_day"] = [-1, -3, 1, 2, 5]
    spec = sweep_spec(raw, "grid.yaml")
    source = MemorySource(ranked_market(11, 300))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))
    # the decision day shapes the result
    assert len(set(np.round(result.table["total_return"], 12))) > spec.size // 2
