"""SPEC 2, 4, 6: decision timing, execution and accounting, computed by hand.

Each scenario is a tiny market in a `MemorySource` run through `run_backtest`.
The expected numbers are written out (or derived step by step) in the tests,
with a comment per row, in the manner of freqtrade's
tests/optimize/test_backtest_detail.py. Prices are chosen so that most
quantities are round numbers.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from engine.config import config_from_dict
from engine.data import MemorySource
from engine.runner import BacktestResult, run_backtest

REL = 1e-9  # relative tolerance of every hand-computed number


# ---------------------------------------------------------------- helpers


def bars(dates, close, open_=None) -> pd.DataFrame:
    """Adjusted daily bars; Open defaults to Close, High/Low bracket both."""
    close = np.asarray(close, dtype=float)
    open_ = close.copy() if open_ is None else np.asarray(open_, dtype=float)
    return pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close),
            "Low": np.minimum(open_, close),
            "Close": close,
            "Volume": 1e6,
        },
        index=pd.DatetimeIndex(dates, name="date"),
    )


BASE = {
    "name": "t",
    "data": {"source": "csv", "dir": "unused", "start": "2024-01-02", "end": None},
    "universe": ["AAA", "BBB"],
    "signals": {},
    "regimes": [{"name": "neutral", "weights": {"AAA": 0.5, "BBB": 0.5}}],
    "execution": {"timing": "next_close", "fees_bps": 0, "slippage_bps": 0, "rebalance": "none"},
    "portfolio": {"initial_cash": 100000},
    "benchmark": {"AAA": 1.0},
    "stats": {"periods_per_year": 252},
}


def merge(base: dict, changes: dict) -> dict:
    """BASE with `changes`: the data/execution/portfolio/stats sections are updated key by
    key, every other key (universe, signals, regimes, benchmark) is replaced whole."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if key in ("data", "execution", "portfolio", "stats") and isinstance(value, dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def run(frames: dict[str, pd.DataFrame], **changes) -> BacktestResult:
    config = config_from_dict(merge(BASE, changes), origin="<test>")
    return run_backtest(config, MemorySource(frames))


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def trade_rows(result_sim, date: str | None = None) -> list[tuple]:
    """(date, ticker, quantity, fill_price, fees) of each fill, in fill order."""
    trades = result_sim.trades
    if date is not None:
        trades = trades[trades["date"] == day(date)]
    return [
        (str(r.date.date()), r.ticker, r.quantity, r.fill_price, r.fees)
        for r in trades.itertuples(index=False)
    ]


def assert_fills(actual: list[tuple], expected: list[tuple]) -> None:
    assert [(d, t) for d, t, *_ in actual] == [(d, t) for d, t, *_ in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got[2:] == pytest.approx(want[2:], rel=REL, abs=1e-9), got[:2]


# ---------------------------------------------------------------- breakout timing

# Tue 2024-01-02 .. Wed 2024-01-10 (7 business days)
D7 = pd.bdate_range("2024-01-02", periods=7)
BREAKOUT = {
    #              Jan 2  Jan 3  Jan 4  Jan 5  Jan 8  Jan 9  Jan 10
    "AAA": bars(D7, [10, 10, 10, 10, 12, 12.5, 12.5], [10, 10, 10, 10, 12, 16, 12.5]),
    "BBB": bars(D7, [20, 20, 20, 20, 20, 20, 20], [20, 20, 20, 20, 20, 16, 20]),
}
BREAKOUT_CONFIG = {
    "signals": {"brk": {"type": "donchian", "series": "AAA", "entry": 3, "exit": 2}},
    "regimes": [
        {"name": "risk", "when": "brk", "weights": {"AAA": 0.8, "BBB": 0.2}},
        {"name": "neutral", "weights": {"AAA": 0.2, "BBB": 0.8}},
    ],
}


def test_breakout_signal_and_regime_are_decided_at_the_close_of_the_breakout():
    result = run(BREAKOUT, **BREAKOUT_CONFIG)
    expected = [
        ("2024-01-02", False, "neutral"),  # hi undefined
        ("2024-01-03", False, "neutral"),  # hi undefined
        ("2024-01-04", False, "neutral"),  # hi undefined
        ("2024-01-05", False, "neutral"),  # hi=10, x=10: no breakout
        ("2024-01-08", True, "risk"),  # hi=10, x=12 > 10: breakout at this close
        ("2024-01-09", True, "risk"),  # hi=max(10,10,12)=12, x=12.5 > 12
        ("2024-01-10", True, "risk"),  # hi=12.5, lo=12: hold
    ]
    for date, signal, regime in expected:
        assert result.signals.loc[day(date), "brk"] == signal, date
        assert result.regimes.loc[day(date)] == regime, date


def test_breakout_at_close_of_t_is_traded_at_close_of_t_plus_1_with_next_close():
    result = run(BREAKOUT, **BREAKOUT_CONFIG)
    orders = result.orders
    assert orders.loc[day("2024-01-02")].tolist() == [0.2, 0.8]  # first date: neutral
    for date in ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-10"]:
        assert orders.loc[day(date)].isna().all(), date  # hold; not on the breakout day itself
    assert orders.loc[day("2024-01-09")].tolist() == [0.8, 0.2]  # the day after the breakout

    assert_fills(
        trade_rows(result.strategy),
        [
            # Jan 2 close, V=100000: AAA 0.2*100000/10=2000 (the smaller buy first)
            ("2024-01-02", "AAA", 2000.0, 10.0, 0.0),
            # BBB 0.8*100000/20=4000
            ("2024-01-02", "BBB", 4000.0, 20.0, 0.0),
            # Jan 9 close: V = 2000*12.5 + 4000*20 = 105000; BBB 0.2*105000/20 = 1050: sell 2950
            ("2024-01-09", "BBB", -2950.0, 20.0, 0.0),
            # AAA 0.8*105000/12.5 = 6720: buy 4720 (after the sale)
            ("2024-01-09", "AAA", 4720.0, 12.5, 0.0),
        ],
    )
    values = [
        100000.0,  # Jan 2: 2000*10 + 4000*20
        100000.0,  # Jan 3
        100000.0,  # Jan 4
        100000.0,  # Jan 5
        104000.0,  # Jan 8: 2000*12 + 4000*20 (breakout day: still the old holding)
        105000.0,  # Jan 9: 6720*12.5 + 1050*20
        105000.0,  # Jan 10
    ]
    assert result.strategy.value.tolist() == pytest.approx(values, rel=REL)
    assert result.strategy.shares.loc[day("2024-01-08")].tolist() == pytest.approx([2000, 4000])
    assert result.strategy.shares.loc[day("2024-01-09")].tolist() == pytest.approx([6720, 1050])
    assert result.strategy.cash.tolist() == pytest.approx([0.0] * 7, abs=1e-6)


def test_breakout_at_close_of_t_is_traded_at_open_of_t_plus_1_with_next_open():
    result = run(BREAKOUT, **BREAKOUT_CONFIG, execution={"timing": "next_open"})
    assert_fills(
        trade_rows(result.strategy),
        [
            # Jan 2 open (= close here), V=100000: AAA 2000 @10, BBB 4000 @20
            ("2024-01-02", "AAA", 2000.0, 10.0, 0.0),
            ("2024-01-02", "BBB", 4000.0, 20.0, 0.0),
            # Jan 9 open: V = 2000*16 + 4000*16 = 96000; BBB 0.2*96000/16 = 1200: sell 2800
            ("2024-01-09", "BBB", -2800.0, 16.0, 0.0),
            # AAA 0.8*96000/16 = 4800: buy 2800
            ("2024-01-09", "AAA", 2800.0, 16.0, 0.0),
        ],
    )
    values = [
        100000.0,  # Jan 2
        100000.0,  # Jan 3
        100000.0,  # Jan 4
        100000.0,  # Jan 5
        104000.0,  # Jan 8: 2000*12 + 4000*20
        84000.0,  # Jan 9 close: 4800*12.5 + 1200*20 (bought at the open, valued at the close)
        84000.0,  # Jan 10: 4800*12.5 + 1200*20
    ]
    assert result.strategy.value.tolist() == pytest.approx(values, rel=REL)


# ---------------------------------------------------------------- first backtest date


def test_first_backtest_date_trades_to_the_target_decided_the_date_before():
    # start Jan 9: the date of C before it is Jan 8, decided "risk" (breakout).
    result = run(BREAKOUT, **BREAKOUT_CONFIG, data={"start": "2024-01-09"})
    assert result.dates[0] == day("2024-01-09")
    assert result.orders.iloc[0].tolist() == [0.8, 0.2]
    assert_fills(
        trade_rows(result.strategy),
        [
            # V = 100000: BBB 0.2*100000/20 = 1000 (smaller buy first)
            ("2024-01-09", "BBB", 1000.0, 20.0, 0.0),
            # AAA 0.8*100000/12.5 = 6400
            ("2024-01-09", "AAA", 6400.0, 12.5, 0.0),
        ],
    )


def test_first_backtest_date_on_a_breakout_day_still_uses_the_previous_decision():
    # start Jan 8 (the breakout close): the decision before it (Jan 5) is "neutral";
    # the breakout decided at Jan 8 is traded on Jan 9.
    result = run(BREAKOUT, **BREAKOUT_CONFIG, data={"start": "2024-01-08"})
    assert_fills(
        trade_rows(result.strategy),
        [
            # Jan 8 close, V=100000: AAA 0.2*100000/12 = 1666.67
            ("2024-01-08", "AAA", 20000 / 12, 12.0, 0.0),
            # BBB 0.8*100000/20 = 4000
            ("2024-01-08", "BBB", 4000.0, 20.0, 0.0),
            # Jan 9: V = 1666.67*12.5 + 4000*20 = 100833.33; BBB 0.2 V/20 = 1008.33
            ("2024-01-09", "BBB", 0.2 * (20000 / 12 * 12.5 + 80000) / 20 - 4000, 20.0, 0.0),
            # AAA 0.8 V/12.5
            ("2024-01-09", "AAA", 0.8 * (20000 / 12 * 12.5 + 80000) / 12.5 - 20000 / 12, 12.5, 0.0),
        ],
    )


NOT_BREAKOUT_CONFIG = {
    "signals": {"brk": {"type": "donchian", "series": "AAA", "entry": 3, "exit": 2}},
    "regimes": [
        {"name": "off", "when": "not brk", "weights": {"AAA": 0.1, "BBB": 0.9}},
        {"name": "default", "weights": {"AAA": 0.6, "BBB": 0.4}},
    ],
}


def test_first_backtest_date_on_the_first_date_of_c_uses_the_default_regime():
    # Jan 2 is C's first date: no earlier decision, so the default regime's weights,
    # even though "off" is the regime decided at Jan 2 itself.
    result = run(BREAKOUT, **NOT_BREAKOUT_CONFIG)
    assert result.regimes.loc[day("2024-01-02")] == "off"
    assert result.orders.iloc[0].tolist() == [0.6, 0.4]
    assert result.orders.iloc[1].tolist() == [0.1, 0.9]  # Jan 3: "off" differs from the default
    assert_fills(
        trade_rows(result.strategy),
        [
            # Jan 2, V=100000: BBB 0.4*100000/20 = 2000 (smaller buy first)
            ("2024-01-02", "BBB", 2000.0, 20.0, 0.0),
            # AAA 0.6*100000/10 = 6000
            ("2024-01-02", "AAA", 6000.0, 10.0, 0.0),
            # Jan 3, V = 6000*10 + 2000*20 = 100000: AAA 0.1 V/10 = 1000: sell 5000
            ("2024-01-03", "AAA", -5000.0, 10.0, 0.0),
            # BBB 0.9 V/20 = 4500: buy 2500
            ("2024-01-03", "BBB", 2500.0, 20.0, 0.0),
            # Jan 8: breakout decided -> default regime {0.6, 0.4} traded Jan 9 close:
            # V = 1000*12.5 + 4500*20 = 102500; BBB 0.4 V/20 = 2050: sell 2450
            ("2024-01-09", "BBB", -2450.0, 20.0, 0.0),
            # AAA 0.6 V/12.5 = 4920: buy 3920
            ("2024-01-09", "AAA", 3920.0, 12.5, 0.0),
        ],
    )


def test_first_backtest_date_after_the_first_date_of_c_uses_the_decided_regime():
    # start Jan 3: the decision of Jan 2 ("off") is traded from all cash.
    result = run(BREAKOUT, **NOT_BREAKOUT_CONFIG, data={"start": "2024-01-03"})
    assert result.orders.iloc[0].tolist() == [0.1, 0.9]
    assert_fills(
        trade_rows(result.strategy, "2024-01-03"),
        [
            ("2024-01-03", "AAA", 1000.0, 10.0, 0.0),  # 0.1*100000/10
            ("2024-01-03", "BBB", 4500.0, 20.0, 0.0),  # 0.9*100000/20
        ],
    )


# ---------------------------------------------------------------- crypto close times


def crypto_week(first_monday: str, eth_steps: dict[str, float]) -> dict[str, pd.DataFrame]:
    """Equities Mon..Fri for two weeks; ETH-USD every calendar day: 100, then each
    `eth_steps` value from its date on."""
    monday = day(first_monday)
    equity = pd.bdate_range(monday, monday + pd.Timedelta(days=11))
    crypto = pd.date_range(monday - pd.Timedelta(days=7), monday + pd.Timedelta(days=11))
    eth = pd.Series(100.0, index=crypto)
    for date, value in sorted(eth_steps.items()):
        eth.loc[day(date) :] = value
    return {
        "AAA": bars(equity, [10.0] * len(equity)),
        "BBB": bars(equity, [20.0] * len(equity)),
        "ETH-USD": bars(crypto, eth.to_numpy()),
    }


ETH_CONFIG = {
    "signals": {"eth": {"type": "sma", "series": "ETH-USD", "window": 3, "band": 0.0}},
    "regimes": [
        {"name": "risk", "when": "eth", "weights": {"AAA": 0.7, "BBB": 0.3}},
        {"name": "neutral", "weights": {"AAA": 0.3, "BBB": 0.7}},
    ],
}


# Winter (New York on EST: crypto close 19:00 NY) and summer (EDT: 20:00 NY).
WEEKS = [
    ("2024-01-08", "2024-01-12", "2024-01-13", "2024-01-14", "2024-01-15", "2024-01-16"),
    ("2024-07-08", "2024-07-12", "2024-07-13", "2024-07-14", "2024-07-15", "2024-07-16"),
]


@pytest.mark.parametrize("monday,fri,sat,sun,mon,tue", WEEKS)
def test_friday_crypto_bar_is_first_used_at_mondays_equity_close(monday, fri, sat, sun, mon, tue):
    # ETH: 100 ... then 110 from Friday on. sma window 3 on its own calendar:
    #   Thu bar: s=100, x=100                 -> False
    #   Fri bar: s=(100+100+110)/3=103.3, 110 -> True   (final Sat 00:00 UTC, after Fri's close)
    #   Sat bar: s=106.7, 110                 -> True
    #   Sun bar: s=110, x=110: hold           -> True   (final Mon 00:00 UTC, before Mon's close)
    prices = crypto_week(monday, {fri: 110.0})
    result = run(prices, **ETH_CONFIG, data={"start": monday})
    signal = result.signals["eth"]
    thursday = day(fri) - pd.Timedelta(days=1)
    assert not signal.loc[thursday]  # uses Wednesday's bar
    assert not signal.loc[day(fri)]  # uses Thursday's bar: Friday's is not final yet
    assert signal.loc[day(mon)]  # uses Sunday's bar
    assert result.regimes.loc[day(fri)] == "neutral"
    assert result.regimes.loc[day(mon)] == "risk"
    # decided at Monday's close -> traded at Tuesday's close, not before
    assert result.orders.loc[day(mon)].isna().all()
    assert result.orders.loc[day(tue)].tolist() == [0.7, 0.3]


@pytest.mark.parametrize("monday,fri,sat,sun,mon,tue", WEEKS)
def test_a_crypto_spike_on_friday_alone_is_never_seen_by_an_equity_close(
    monday, fri, sat, sun, mon, tue
):
    # ETH: 100, Fri 110, then 90 from Saturday on. Own calendar, window 3:
    #   Fri bar: s=103.3, 110 -> True
    #   Sat bar: s=(100+110+90)/3=100, 90 < 100 -> False
    #   Sun bar: s=96.7, 90 -> False
    # Friday's close sees Thursday's bar, Monday's close sees Sunday's bar: never True.
    prices = crypto_week(monday, {fri: 110.0, sat: 90.0})
    result = run(prices, **ETH_CONFIG, data={"start": monday})
    own = result.prices["ETH-USD"]["Close"]
    from strategies.signals import sma

    assert sma(own, 3).loc[day(fri)]  # True on its own calendar
    assert not result.signals["eth"].any()  # but never usable at an equity close
    assert (result.regimes == "neutral").all()


@pytest.mark.parametrize("monday,fri,sat,sun,mon,tue", WEEKS)
def test_a_thursday_crypto_bar_is_used_at_fridays_equity_close(monday, fri, sat, sun, mon, tue):
    # ETH 110 from Thursday on: the Thursday bar (final Fri 00:00 UTC) turns the sma on,
    # and Friday's 16:00 New York close is after that.
    thursday = str((day(fri) - pd.Timedelta(days=1)).date())
    prices = crypto_week(monday, {thursday: 110.0})
    result = run(prices, **ETH_CONFIG, data={"start": monday})
    assert not result.signals["eth"].loc[day(thursday)]  # uses Wednesday's bar
    assert result.signals["eth"].loc[day(fri)]  # uses Thursday's bar
    assert result.orders.loc[day(mon)].tolist() == [0.7, 0.3]  # decided Fri, traded Mon


def test_a_close_time_override_makes_the_friday_crypto_bar_usable_at_fridays_close():
    # data.close_times sets ETH-USD final at 16:00 New York on its label date: bar d is
    # then final exactly at the equity close of d, and "<=" makes it usable there.
    monday, fri, mon = "2024-01-08", "2024-01-12", "2024-01-15"
    prices = crypto_week(monday, {fri: 110.0})
    close_times = {"ETH-USD": {"time": "16:00", "tz": "America/New_York", "day_offset": 0}}
    result = run(prices, **ETH_CONFIG, data={"start": monday, "close_times": close_times})
    assert not result.signals["eth"].loc[day("2024-01-11")]  # Thursday's bar: s=100, x=100
    assert result.signals["eth"].loc[day(fri)]  # Friday's own bar, now final at 16:00
    assert result.orders.loc[day(mon)].tolist() == [0.7, 0.3]  # decided Fri, traded Mon


def test_a_ratio_with_a_crypto_leg_is_final_when_its_crypto_leg_is():
    # ETH-USD/AAA exists on business days only; its bar d is final at 00:00 UTC of d+1
    # (the later leg), so Friday's breakout is first seen at Monday's close.
    monday, fri, mon = "2024-01-08", "2024-01-12", "2024-01-15"
    prices = crypto_week(monday, {fri: 110.0})
    config = {
        "signals": {"brk": {"type": "donchian", "series": "ETH-USD/AAA", "entry": 3, "exit": 3}},
        "regimes": [
            {"name": "risk", "when": "brk", "weights": {"AAA": 0.7, "BBB": 0.3}},
            {"name": "neutral", "weights": {"AAA": 0.3, "BBB": 0.7}},
        ],
    }
    result = run(prices, **config, data={"start": monday})
    ratio = result.prices["ETH-USD"]["Close"].reindex(result.calendar) / 10.0
    assert ratio.loc[day(fri)] == 11.0  # 110/10 > max(10, 10, 10): breakout on Friday's bar
    assert not result.signals["brk"].loc[day(fri)]  # Thursday's ratio bar at Friday's close
    assert result.signals["brk"].loc[day(mon)]  # Friday's ratio bar at Monday's close


# ---------------------------------------------------------------- a switch with costs

D4 = pd.bdate_range("2024-01-02", periods=4)  # Tue Jan 2 .. Fri Jan 5
COSTS = {
    #               Jan 2  Jan 3  Jan 4  Jan 5
    "AAA": bars(D4, [50.0, 51.0, 52.0, 55.0]),
    "BBB": bars(D4, [20.0, 20.0, 19.0, 18.0]),
    "CCC": bars(D4, [40.0, 41.0, 42.0, 44.0]),
    "DDD": bars(D4, [10.0, 10.0, 10.5, 11.0]),
    # the signal's own series, not traded: donchian entry 2 breaks out at Jan 4 (2 > max(1, 1))
    "SIG": bars(D4, [1.0, 1.0, 2.0, 2.0]),
}
RISK = {"AAA": 0.1, "BBB": 0.4, "CCC": 0.1, "DDD": 0.3}
COSTS_CONFIG = {
    "universe": ["AAA", "BBB", "CCC", "DDD"],
    "signals": {"brk": {"type": "donchian", "series": "SIG", "entry": 2, "exit": 2}},
    "regimes": [
        {"name": "risk", "when": "brk", "weights": RISK},
        {"name": "neutral", "weights": {"AAA": 0.4, "BBB": 0.1, "CCC": 0.3, "DDD": 0.1}},
    ],
    "execution": {"fees_bps": 10, "slippage_bps": 20},
}


def test_regime_switch_with_fees_and_slippage_is_accounted_exactly():
    f, s = 0.001, 0.002  # 10 bps fees, 20 bps slippage
    result = run(COSTS, **COSTS_CONFIG)
    fills = trade_rows(result.strategy)

    # Jan 2 (first date), V = 100000, all buys of the neutral weights; sorted by value
    # moved, smallest first (BBB and DDD tie at 10000: universe order).
    q0 = {"AAA": 40000 / 50, "BBB": 10000 / 20, "CCC": 30000 / 40, "DDD": 10000 / 10}
    day1 = [
        ("2024-01-02", "BBB", 500.0, 20 * (1 + s), f * 500 * 20 * (1 + s)),  # 10000 moved
        ("2024-01-02", "DDD", 1000.0, 10 * (1 + s), f * 1000 * 10 * (1 + s)),  # 10000 moved
        ("2024-01-02", "CCC", 750.0, 40 * (1 + s), f * 750 * 40 * (1 + s)),  # 30000 moved
        ("2024-01-02", "AAA", 800.0, 50 * (1 + s), f * 800 * 50 * (1 + s)),  # 40000 moved
    ]
    cash0 = 100000 - 90000 * (1 + s) * (1 + f)  # = 9729.82
    assert cash0 == pytest.approx(9729.82, rel=REL)

    # Jan 5 closes 55, 18, 44, 11 (the switch decided at Jan 4 is traded here)
    p = {"AAA": 55.0, "BBB": 18.0, "CCC": 44.0, "DDD": 11.0}
    V = cash0 + sum(q0[k] * p[k] for k in p)  # 9729.82 + 44000 + 9000 + 33000 + 11000
    assert V == pytest.approx(106729.82, rel=REL)
    w = RISK  # the risk regime's weights
    dq = {k: w[k] * V / p[k] - q0[k] for k in p}
    # value moved w V - q p: AAA -33327.0, CCC -22327.0, DDD +21018.9, BBB +33691.9
    sell, buy = 1 - s, 1 + s
    day4 = [
        ("2024-01-05", "AAA", dq["AAA"], 55 * sell, f * -dq["AAA"] * 55 * sell),  # largest sale
        ("2024-01-05", "CCC", dq["CCC"], 44 * sell, f * -dq["CCC"] * 44 * sell),  # second sale
        ("2024-01-05", "DDD", dq["DDD"], 11 * buy, f * dq["DDD"] * 11 * buy),  # smaller buy
        ("2024-01-05", "BBB", dq["BBB"], 18 * buy, f * dq["BBB"] * 18 * buy),  # larger buy
    ]
    assert_fills(fills, day1 + day4)

    cash1 = cash0
    for _date, _ticker, quantity, fill, fee in day4:
        cash1 -= quantity * fill + fee  # a sale adds |q| fill - fee, a buy takes q fill + fee
    shares1 = {k: q0[k] + dq[k] for k in p}
    closes = {
        "2024-01-02": 100000 - 90000 * (1 + s) * (1 + f) + 90000,  # cash0 + holdings at cost p
        "2024-01-03": cash0 + 800 * 51 + 500 * 20 + 750 * 41 + 1000 * 10,
        "2024-01-04": cash0 + 800 * 52 + 500 * 19 + 750 * 42 + 1000 * 10.5,
        "2024-01-05": cash1 + sum(shares1[k] * p[k] for k in p),
    }
    for date, value in closes.items():
        assert result.strategy.value.loc[day(date)] == pytest.approx(value, rel=REL), date
    assert result.strategy.cash.tolist() == pytest.approx([cash0, cash0, cash0, cash1], rel=REL)
    assert result.strategy.shares.loc[day("2024-01-05")].tolist() == pytest.approx(
        [shares1[k] for k in ["AAA", "BBB", "CCC", "DDD"]], rel=REL
    )
    # the traded holding is w_i V / p_i at the execution price before slippage
    for k in p:
        assert shares1[k] * p[k] / V == pytest.approx(w[k], rel=REL)
    fees = sum(row[4] for row in day1 + day4)
    assert result.stats["strategy"]["fees_paid"] == pytest.approx(fees, rel=REL)
    assert result.stats["strategy"]["trade_dates"] == 2


def test_fill_order_follows_the_value_moved_not_the_universe_order():
    # Same switch with the universe listed backwards: the fills are still sorted by
    # value moved w V - q p (AAA -33327, CCC -22327, DDD +21019, BBB +33692).
    config = COSTS_CONFIG | {"universe": ["DDD", "CCC", "BBB", "AAA"]}
    result = run(COSTS, **config)
    switch = result.strategy.trades[result.strategy.trades["date"] == day("2024-01-05")]
    assert switch["ticker"].tolist() == ["AAA", "CCC", "DDD", "BBB"]
    assert np.sign(switch["quantity"]).tolist() == [-1, -1, 1, 1]  # sells before buys


# ---------------------------------------------------------------- cash floor


@pytest.mark.parametrize("universe", [["AAA", "BBB"], ["BBB", "AAA"]])
def test_a_buy_cash_cannot_pay_is_filled_partially_and_cash_stays_at_or_above_zero(universe):
    f, s = 0.01, 0.005  # 100 bps fees, 50 bps slippage; weights sum to 1
    dates = pd.bdate_range("2024-01-02", periods=4)
    prices = {
        #                     Jan 2 Jan 3 Jan 4 Jan 5
        "AAA": bars(dates, [10.0, 10.0, 10.0, 10.0]),
        "BBB": bars(dates, [20.0, 20.0, 20.0, 20.0]),
        "SIG": bars(dates, [1.0, 1.0, 2.0, 2.0]),  # donchian(2, 2) on at Jan 4 -> trade Jan 5
    }
    result = run(
        prices,
        universe=universe,
        signals={"brk": {"type": "donchian", "series": "SIG", "entry": 2, "exit": 2}},
        regimes=[
            {"name": "all_b", "when": "brk", "weights": {"AAA": 0.0, "BBB": 1.0}},
            {"name": "half", "weights": {"AAA": 0.5, "BBB": 0.5}},
        ],
        execution={"fees_bps": 100, "slippage_bps": 50},
        benchmark={"BBB": 1.0},
    )
    price = {"AAA": 10.0, "BBB": 20.0}
    fill = {k: v * (1 + s) for k, v in price.items()}  # buy fill prices
    first, second = universe  # equal buys of 50000: a tie, kept in universe order
    # Jan 2: the first-listed buy is paid in full: 50000/p shares at p(1+s), plus fees
    full_q = 50000 / price[first]
    cash_left = 100000 - full_q * price[first] * (1 + s) * (1 + f)  # 100000 - 50752.5
    assert cash_left == pytest.approx(49247.5, rel=REL)
    # the second is cut to what cash_left pays, fees included: q fill (1+f) = cash_left
    part_q = cash_left / (1 + f) / (price[second] * (1 + s))
    assert part_q < 50000 / price[second]
    # Jan 5 (switch to all BBB): sell all AAA, then buy BBB with every remaining unit of cash
    q_aaa = full_q if first == "AAA" else part_q
    q_bbb = part_q if first == "AAA" else full_q
    proceeds = q_aaa * 10 * (1 - s) * (1 - f)
    buy_q = proceeds / (1 + f) / (20 * (1 + s))
    assert buy_q < (q_aaa * 10 + q_bbb * 20) / 20 - q_bbb  # also cut short
    assert_fills(
        trade_rows(result.strategy),
        [
            ("2024-01-02", first, full_q, fill[first], f * full_q * fill[first]),
            ("2024-01-02", second, part_q, fill[second], cash_left - cash_left / (1 + f)),
            ("2024-01-05", "AAA", -q_aaa, 10 * (1 - s), f * q_aaa * 10 * (1 - s)),
            ("2024-01-05", "BBB", buy_q, 20 * (1 + s), proceeds - proceeds / (1 + f)),
        ],
    )
    assert (result.strategy.cash >= 0).all()
    assert result.strategy.cash.tolist() == pytest.approx([0.0] * 4, abs=1e-6)
    assert (result.strategy.shares >= 0).all().all()
    final = (q_bbb + buy_q) * 20
    assert result.strategy.value.iloc[-1] == pytest.approx(final, rel=REL)
    # the benchmark (all BBB) is cash-limited the same way: 100000/(1+f)/(20(1+s)) shares
    bench_q = 100000 / (1 + f) / (20 * (1 + s))
    assert result.benchmark.shares["BBB"].tolist() == pytest.approx([bench_q] * 4, rel=REL)
    assert (result.benchmark.cash >= 0).all()


def test_a_buy_a_hair_beyond_the_cash_left_is_cut_to_what_the_cash_pays():
    # vectorbt's buy_nb alone would fill BBB in full (its cost exceeds the cash left by
    # less than its 1e-9 relative tolerance) and round the cash to 0, creating the
    # difference; the engine gives that buy the size the cash pays (engine.sim.settle)
    f = 1e-10  # fees_bps = 0.000001: every buy costs (1 + 1e-10) times its value
    dates = pd.bdate_range("2024-01-02", periods=2)
    prices = {"AAA": bars(dates, [10.0, 10.0]), "BBB": bars(dates, [20.0, 20.0])}
    result = run(prices, execution={"fees_bps": f * 1e4})
    # Jan 2, V = 100000, weights 0.5/0.5 (a tie: universe order)
    cash_left = 100000 - 5000 * 10 * (1 + f)  # AAA 5000 @10 paid in full: 49999.999995 left
    bbb = cash_left / (1 + f) / 20  # BBB: 2499.9999995, not the 2500 asked for
    trades = result.strategy.trades
    assert trades["ticker"].tolist() == ["AAA", "BBB"]
    assert trades["quantity"].iloc[0] == pytest.approx(5000.0, rel=1e-12)
    # not 2500 (2e-10 too many, beyond the SPEC's ~1e-12 agreement)
    assert trades["quantity"].iloc[1] == pytest.approx(bbb, rel=1e-12)
    assert result.strategy.cash.iloc[0] == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------- identical weights


def test_a_switch_between_regimes_with_identical_weights_is_no_trade():
    result = run(
        BREAKOUT,
        signals={"brk": {"type": "donchian", "series": "AAA", "entry": 3, "exit": 2}},
        regimes=[
            {"name": "a", "when": "brk", "weights": {"AAA": 0.5, "BBB": 0.5}},
            {"name": "b", "weights": {"AAA": 0.5, "BBB": 0.5}},
        ],
    )
    assert result.regimes.loc[day("2024-01-05")] == "b"
    assert result.regimes.loc[day("2024-01-08")] == "a"  # the regime does switch
    assert result.stats["strategy"]["switches"] == 1
    assert result.orders.iloc[1:].isna().all().all()  # but Jan 9 holds, like every later date
    assert set(result.strategy.trades["date"]) == {day("2024-01-02")}
    assert result.stats["strategy"]["trade_dates"] == 1
    # the held shares drift with prices: 5000 AAA and 2500 BBB all along
    assert result.strategy.shares.iloc[-1].tolist() == pytest.approx([5000, 2500])


# ---------------------------------------------------------------- rebalance rules

# Mon 2024-01-15 .. Fri 2024-03-15; AAA rises 1% a day, BBB is flat
DQ = pd.bdate_range("2024-01-15", "2024-03-15")
DRIFT = {
    "AAA": bars(DQ, 10 * 1.01 ** np.arange(len(DQ))),
    "BBB": bars(DQ, [20.0] * len(DQ)),
}


def test_monthly_rebalance_trades_on_the_first_backtest_date_of_each_month():
    result = run(DRIFT, data={"start": "2024-01-17"}, execution={"rebalance": "monthly"})
    trade_dates = sorted(set(result.strategy.trades["date"]))
    # Jan 17 (first backtest date), Thu Feb 1, Fri Mar 1
    assert trade_dates == [day("2024-01-17"), day("2024-02-01"), day("2024-03-01")]
    assert result.orders.notna().all(axis=1).sum() == 3

    aaa = DRIFT["AAA"]["Close"]
    q = {"AAA": 50000 / aaa[day("2024-01-17")], "BBB": 50000 / 20}  # Jan 17 at the close
    for date in ["2024-02-01", "2024-03-01"]:
        p = aaa[day(date)]
        V = q["AAA"] * p + q["BBB"] * 20
        new = {"AAA": 0.5 * V / p, "BBB": 0.5 * V / 20}
        # AAA has grown above half: it is sold first, then BBB bought
        assert_fills(
            trade_rows(result.strategy, date),
            [
                (date, "AAA", new["AAA"] - q["AAA"], p, 0.0),
                (date, "BBB", new["BBB"] - q["BBB"], 20.0, 0.0),
            ],
        )
        assert result.strategy.value.loc[day(date)] == pytest.approx(V, rel=REL)
        q = new


def test_without_a_rebalance_rule_weights_drift_untouched():
    result = run(DRIFT, data={"start": "2024-01-17"})
    assert set(result.strategy.trades["date"]) == {day("2024-01-17")}


D10 = pd.bdate_range("2024-01-02", periods=10)  # Tue Jan 2 .. Mon Jan 15
# BBB held weight at each close, from 5000 AAA @10 and 2500 BBB bought Jan 2:
THRESHOLD_BBB = [
    20.0,  # d0 Jan 2: bought 5000 AAA, 2500 BBB; w_BBB = 0.5
    21.0,  # d1: 52500/102500 = 0.5122, drift 0.012
    22.0,  # d2: 55000/105000 = 0.5238, drift 0.024
    24.0,  # d3: 60000/110000 = 0.5455, drift 0.045 <= 0.05
    24.5,  # d4: 61250/111250 = 0.5506, drift 0.0506 > 0.05 -> trade next date
    24.5,  # d5: rebalanced at this close to 0.5/0.5 of V=111250
    22.0,  # d6: 2270.41*22 / (55625 + 49948.98) = 0.4731, drift 0.027
    21.0,  # d7: 47678.57 / 103303.57 = 0.4615, drift 0.038
    19.0,  # d8: 43137.76 / 98762.76 = 0.4368, drift 0.063 > 0.05 -> trade next date
    19.0,  # d9: rebalanced
]


def test_threshold_rebalance_trades_the_date_after_a_close_beyond_the_threshold():
    prices = {"AAA": bars(D10, [10.0] * 10), "BBB": bars(D10, THRESHOLD_BBB)}
    result = run(prices, execution={"rebalance": {"threshold": 0.05}})
    trade_dates = sorted(set(result.strategy.trades["date"]))
    assert trade_dates == [D10[0], D10[5], D10[9]]  # never on d1-d4, d6-d8

    # d5: V = 50000 + 2500*24.5 = 111250; BBB 0.5 V/24.5 = 2270.41 (sell first), AAA 5562.5
    V5 = 50000 + 2500 * 24.5
    q5 = {"AAA": 0.5 * V5 / 10, "BBB": 0.5 * V5 / 24.5}
    assert_fills(
        trade_rows(result.strategy, str(D10[5].date())),
        [
            (str(D10[5].date()), "BBB", q5["BBB"] - 2500, 24.5, 0.0),
            (str(D10[5].date()), "AAA", q5["AAA"] - 5000, 10.0, 0.0),
        ],
    )
    # d9: V = 5562.5*10 + 2270.41*19; AAA is now the heavier one and is sold first
    V9 = q5["AAA"] * 10 + q5["BBB"] * 19
    assert_fills(
        trade_rows(result.strategy, str(D10[9].date())),
        [
            (str(D10[9].date()), "AAA", 0.5 * V9 / 10 - q5["AAA"], 10.0, 0.0),
            (str(D10[9].date()), "BBB", 0.5 * V9 / 19 - q5["BBB"], 19.0, 0.0),
        ],
    )


def test_threshold_rebalance_does_not_trade_while_drift_stays_within_the_threshold():
    prices = {"AAA": bars(D10, [10.0] * 10), "BBB": bars(D10, THRESHOLD_BBB)}
    # the largest drift is 0.0633 (d8): a threshold of 0.07 never fires
    result = run(prices, execution={"rebalance": {"threshold": 0.07}})
    assert set(result.strategy.trades["date"]) == {D10[0]}


# ---------------------------------------------------------------- benchmark


def test_benchmark_outside_the_universe_is_a_fixed_weight_portfolio_with_the_same_costs():
    f, s = 0.0005, 0.001  # 5 bps fees, 10 bps slippage
    dates = pd.bdate_range("2024-01-02", periods=4)  # C: Tue Jan 2 .. Fri Jan 5
    spy_dates = pd.bdate_range("2023-12-27", periods=8)  # Dec 27 .. Jan 5: more dates than C
    #            Dec 27 Dec 28 Dec 29 Jan 1  Jan 2  Jan 3  Jan 4  Jan 5
    spy_close = [470.0, 471.0, 472.0, 473.0, 480.0, 476.0, 490.0, 500.0]
    spy_open = [469.0, 470.0, 471.0, 472.0, 475.0, 478.0, 485.0, 495.0]
    prices = {
        "AAA": bars(dates, [10.0] * 4),
        "BBB": bars(dates, [20.0] * 4),
        "SPY": bars(spy_dates, spy_close, spy_open),
    }
    result = run(
        prices,
        benchmark={"SPY": 1.0},
        execution={"timing": "next_open", "fees_bps": 5, "slippage_bps": 10},
    )
    assert result.calendar.equals(dates)  # the benchmark is not part of C
    # Jan 2 open 475: the target 100000/475 shares costs more than the cash once
    # slippage and fees are added, so the buy takes all of it: q = 100000/(1+f)/(475(1+s))
    q = 100000 / (1 + f) / (475 * (1 + s))
    assert_fills(
        trade_rows(result.benchmark),
        [("2024-01-02", "SPY", q, 475 * (1 + s), 100000 - 100000 / (1 + f))],
    )
    values = [
        q * 480,  # Jan 2 close (bought at the open, valued at the close)
        q * 476,  # Jan 3
        q * 490,  # Jan 4
        q * 500,  # Jan 5
    ]
    assert result.benchmark.value.index.equals(result.dates)
    assert result.benchmark.value.tolist() == pytest.approx(values, rel=REL)
    assert result.benchmark.cash.tolist() == pytest.approx([0.0] * 4, abs=1e-6)


def test_benchmark_rebalances_monthly_with_the_strategys_rule():
    result = run(
        DRIFT,
        data={"start": "2024-01-17"},
        benchmark={"AAA": 0.6, "BBB": 0.3},  # 10% cash earning 0
        execution={"rebalance": "monthly"},
    )
    aaa = DRIFT["AAA"]["Close"]
    cash = 100000 - 60000 - 30000
    q = {"AAA": 60000 / aaa[day("2024-01-17")], "BBB": 30000 / 20}
    expected = {}
    for date in result.dates:
        p = aaa[date]
        if date in (day("2024-02-01"), day("2024-03-01")):  # monthly rebalance at the close
            V = cash + q["AAA"] * p + q["BBB"] * 20
            q = {"AAA": 0.6 * V / p, "BBB": 0.3 * V / 20}
            cash = V - q["AAA"] * p - q["BBB"] * 20
        expected[date] = cash + q["AAA"] * p + q["BBB"] * 20
    assert result.benchmark.value.tolist() == pytest.approx(list(expected.values()), rel=REL)
    assert sorted(set(result.benchmark.trades["date"])) == [
        day("2024-01-17"),
        day("2024-02-01"),
        day("2024-03-01"),
    ]
