"""Sanity tests of the reference implementation itself (tests/reference.py).

The tiny hand-made price sets below are written to tmp_path; every expected
number is worked out by hand in the comments. The last tests run the example
config on the shared market data (../shared/data relative to the repo root)
and check invariants that must hold whatever the numbers are.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import (  # noqa: E402
    Data,
    compute_signal,
    donchian,
    drawdown_stats,
    eval_when,
    level,
    momentum,
    parse_when,
    reference_backtest,
    rsi,
    sma,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

EXAMPLE_CONFIG = """
name: smallcap-breakout-eth
data:
  source: csv
  start: 2018-01-01
  end: 2025-06-30
  close_times:
    ETH-USD: {time: "16:00", tz: America/New_York, day_offset: 0}
universe: [IWM, SPY]
signals:
  ratio_breakout: {type: donchian, series: IWM/SPY, entry: 120, exit: 60}
  eth_risk_on:    {type: sma, series: ETH-USD, window: 100}
regimes:
  - {name: overweight_small, when: ratio_breakout and eth_risk_on, weights: {IWM: 0.7, SPY: 0.3}}
  - {name: neutral, weights: {IWM: 0.3, SPY: 0.7}}
execution: {timing: next_close, fees_bps: 2, slippage_bps: 1, rebalance: none}
portfolio: {initial_cash: 100000}
benchmark: {SPY: 1.0}
stats: {periods_per_year: 252, risk_free: 0.0}
"""


# ---------------------------------------------------------------- helpers


def write_csv(directory: Path, ticker: str, dates, close, adj=None, open_=None):
    """One CSV in the shared-data format. High/Low are irrelevant to the contract."""
    adj = list(close) if adj is None else list(adj)
    open_ = list(close) if open_ is None else list(open_)
    frame = pd.DataFrame(
        {
            "Date": [str(d) for d in dates],
            "Open": open_,
            "High": [max(o, c) for o, c in zip(open_, close, strict=False)],
            "Low": [min(o, c) for o, c in zip(open_, close, strict=False)],
            "Close": list(close),
            "Adj Close": adj,
            "Volume": [1000] * len(dates),
        }
    )
    frame.to_csv(directory / f"{ticker}.csv", index=False)


def weekdays(start: str, end: str):
    return [d.date() for d in pd.bdate_range(start, end)]


def all_days(start: str, end: str):
    return [d.date() for d in pd.date_range(start, end, freq="D")]


# 2024-01-02 (Tue) .. 2024-01-10 (Wed): d1..d7
D = weekdays("2024-01-02", "2024-01-10")
assert len(D) == 7


def breakout_config(**execution):
    return {
        "name": "tiny",
        "data": {"source": "csv", "start": "2024-01-04"},  # d3
        "universe": ["AAA", "BBB"],
        "signals": {"brk": {"type": "donchian", "series": "AAA", "entry": 2, "exit": 2}},
        "regimes": [
            {"name": "risk_on", "when": "brk", "weights": {"AAA": 1.0}},
            {"name": "off", "weights": {"BBB": 1.0}},
        ],
        "execution": execution,
        "portfolio": {"initial_cash": 1000},
        "benchmark": {"BBB": 1.0},
    }


@pytest.fixture
def breakout_dir(tmp_path):
    # AAA: 10 10 10 12 12 15 15 ; donchian(entry 2, exit 2):
    #   d1, d2: hi undefined -> False
    #   d3: x=10, hi=max(10,10)=10 not >, lo=10 not < -> stays False
    #   d4: x=12 > hi=10 -> True (breakout)
    #   d5: x=12, hi=12 not >, lo=10 not < -> True ; d6: 15 > 12 -> True ; d7: stays True
    write_csv(tmp_path, "AAA", D, [10, 10, 10, 12, 12, 15, 15])
    write_csv(tmp_path, "BBB", D, [20, 20, 20, 21, 22, 22, 23])
    return tmp_path


# ---------------------------------------------------------------- tiny hand-made cases


def test_breakout_trades_next_close_without_costs(breakout_dir):
    res = reference_backtest(breakout_config(), breakout_dir)
    assert res["dates"] == [pd.Timestamp(d) for d in D[2:]]
    # decided regime on d3..d7
    assert res["regimes"] == ["off", "risk_on", "risk_on", "risk_on", "risk_on"]
    # d3: trades to the target decided on d2 (off): 1000/20 = 50 BBB     -> V = 1000
    # d4: breakout decided, nothing traded yet: 50*21                    -> V = 1050
    # d5: V = 50*22 = 1100; sell 50 BBB @22, buy 1100/12 AAA @12          -> V = 1100
    # d6: 1100/12*15 = 1375 ; d7: 1375
    np.testing.assert_allclose(res["strategy"], [1000, 1050, 1100, 1375, 1375], rtol=1e-14)
    np.testing.assert_allclose(res["benchmark"], [1000, 1050, 1100, 1100, 1150], rtol=1e-14)
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    assert [(t["date"], t["ticker"]) for t in strat] == [
        (pd.Timestamp(D[2]), "BBB"),
        (pd.Timestamp(D[4]), "BBB"),
        (pd.Timestamp(D[4]), "AAA"),
    ]
    assert strat[0]["quantity"] == pytest.approx(50)
    assert strat[1]["quantity"] == pytest.approx(-50)  # sell first
    assert strat[2]["quantity"] == pytest.approx(1100 / 12)
    assert all(t["fees"] == 0 for t in res["trades"])
    s = res["stats"]["strategy"]
    assert s["switches"] == 1
    assert s["time_in_regime"] == {"risk_on": 0.8, "off": 0.2}
    assert s["trade_dates"] == 2
    assert s["total_return"] == pytest.approx(0.375)
    # returns 0, .05, 1100/1050-1, 1375/1100-1, 0 ; no drawdown at all
    assert s["max_drawdown"] == 0
    assert s["max_drawdown_duration_days"] == 0
    # years = 6 calendar days / 365.25 ; turnover = (1000 + 1100 + 1100) / 2 / mean(V) / years
    years = 6 / 365.25
    assert s["cagr"] == pytest.approx(1.375 ** (1 / years) - 1)
    assert s["turnover"] == pytest.approx(
        3200 / 2 / np.mean([1000, 1050, 1100, 1375, 1375]) / years
    )
    b = res["stats"]["benchmark"]
    assert b["time_in_regime"] == {} and b["switches"] == 0 and b["trade_dates"] == 1


def test_start_before_first_date_trades_to_default(breakout_dir):
    cfg = breakout_config()
    cfg["data"]["start"] = dt.date(2023, 12, 1)  # before the first date of C
    res = reference_backtest(cfg, breakout_dir)
    assert res["dates"][0] == pd.Timestamp(D[0])
    # d1 has no previous date of C: trades to the default regime (off: 50 BBB);
    # d2 trades nothing: the decision of d1 (off) equals the default it traded to;
    # d3 nothing (d2 decided off); d4 decides risk_on -> trade on d5
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    assert [(str(t["date"].date()), t["ticker"]) for t in strat] == [
        ("2024-01-02", "BBB"),
        ("2024-01-08", "BBB"),
        ("2024-01-08", "AAA"),
    ]
    assert res["regimes"] == ["off"] * 3 + ["risk_on"] * 4


def test_breakout_with_fees_slippage_and_partial_fill(breakout_dir):
    # f = s = 10 bps = 0.001
    res = reference_backtest(breakout_config(fees_bps=10, slippage_bps=10), breakout_dir)
    f = s = 0.001
    # d3: V = 1000, target 50 BBB; buy fill 20*(1+s) = 20.02; 50*20.02 = 1001 (+ fee 1.001) > 1000
    #     -> partial buy: q_B = 1000 / (20.02 * 1.001); cash = 0
    q_b = 1000 / (20 * (1 + s) * (1 + f))
    # d5: V = q_B*22; sell q_B at 22*(1-s) = 21.978: cash = q_B*21.978*(1-f)
    #     target AAA = V/12 shares costs V*(1+s)*(1+f) > cash -> partial: q_A = cash/(12.012*1.001)
    cash = q_b * 22 * (1 - s) * (1 - f)
    q_a = cash / (12 * (1 + s) * (1 + f))
    expected = [q_b * 20, q_b * 21, q_a * 12, q_a * 15, q_a * 15]
    np.testing.assert_allclose(res["strategy"], expected, rtol=1e-13)
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    assert strat[0]["fill_price"] == pytest.approx(20.02)
    assert strat[0]["quantity"] == pytest.approx(q_b)
    assert strat[0]["fees"] == pytest.approx(f * q_b * 20.02)
    assert strat[1]["fill_price"] == pytest.approx(21.978)
    assert strat[1]["fees"] == pytest.approx(f * q_b * 21.978)
    assert strat[2]["fill_price"] == pytest.approx(12.012)
    assert strat[2]["quantity"] == pytest.approx(q_a)
    fees = f * q_b * 20.02 + f * q_b * 21.978 + f * q_a * 12.012
    assert res["stats"]["strategy"]["fees_paid"] == pytest.approx(fees)
    # benchmark: the same partial first buy of BBB, then held: q_B * BBB close
    np.testing.assert_allclose(
        res["benchmark"], [q_b * p for p in [20, 21, 22, 22, 23]], rtol=1e-13
    )


def test_full_buy_when_cash_suffices_then_partial_last_buy(tmp_path):
    # weights 0.4/0.4 leave 20 % cash, so both buys are filled in full even with costs
    write_csv(tmp_path, "AAA", D, [10] * 7)
    write_csv(tmp_path, "BBB", D, [20] * 7)
    cfg = {
        "data": {"start": D[0]},  # a datetime.date is accepted too
        "universe": ["AAA", "BBB"],
        "regimes": [{"name": "only", "weights": {"AAA": 0.4, "BBB": 0.4}}],
        "execution": {"fees_bps": 10, "slippage_bps": 10},
        "portfolio": {"initial_cash": 1000},
        "benchmark": {"AAA": 0.5, "BBB": 0.5},
    }
    res = reference_backtest(cfg, tmp_path)
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    # AAA: 400/10 = 40 shares @10.01, cost 400.4 + fee 0.4004; BBB: 20 shares @20.02, same
    assert [t["quantity"] for t in strat] == pytest.approx([40, 20])
    # V_1 = 1000 - 2*(400.4 + 0.4004) + 800 = 998.3992
    assert res["strategy"][0] == pytest.approx(998.3992, rel=1e-13)
    # benchmark 0.5/0.5: tie of moves (500, 500) -> universe order AAA then BBB;
    # AAA full: cash = 1000 - 500.5 - 0.5005 = 498.9995; BBB wants 25 @20.02 = 500.5+fee: partial
    bench = [t for t in res["trades"] if t["portfolio"] == "benchmark"]
    assert [t["ticker"] for t in bench] == ["AAA", "BBB"]
    assert bench[0]["quantity"] == pytest.approx(50)
    q_bbb = 498.9995 / (20.02 * 1.001)
    assert bench[1]["quantity"] == pytest.approx(q_bbb, rel=1e-13)
    assert res["benchmark"][0] == pytest.approx(500 + q_bbb * 20, rel=1e-13)  # cash is 0


def test_fee_alone_makes_a_buy_partial(tmp_path):
    # weight 0.9995, fees 10 bps, no slippage: the buy itself costs 999.5 <= 1000 but with its
    # fee 0.9995 it needs 1000.4995 -> partial: q = 1000 / (10 * 1.001), cash exactly 0
    write_csv(tmp_path, "AAA", D, [10] * 7)
    cfg = {
        "data": {"start": "2024-01-02", "end": dt.date(2024, 1, 3)},
        "universe": ["AAA"],
        "regimes": [{"name": "only", "weights": {"AAA": 0.9995}}],
        "execution": {"fees_bps": 10},
        "portfolio": {"initial_cash": 1000},
        "benchmark": {"AAA": 1.0},
    }
    res = reference_backtest(cfg, tmp_path)
    assert len(res["dates"]) == 2
    first = res["trades"][0]
    assert first["quantity"] == pytest.approx(1000 / 10.01, rel=1e-13)
    assert first["fees"] == pytest.approx(0.001 * 1000 / 10.01 * 10, rel=1e-13)
    np.testing.assert_allclose(res["strategy"], [1000 / 10.01 * 10] * 2, rtol=1e-13)


def test_drawdown_durations_by_hand():
    days = [pd.Timestamp(d) for d in weekdays("2024-01-02", "2024-01-09")]  # Tue .. next Tue
    # points: 100 (initial, dated 01-02), 100 @01-02, 90 @01-03, 95 @01-04, 101 @01-05,
    #         99 @01-08, 98 @01-09
    # stretch 1: peak = the 100 of 01-02 (index 1), back at/above it at 101 (index 4):
    #            3 steps, 3 calendar days; stretch 2: peak 101 @01-05 to the end @01-09:
    #            2 steps, 4 calendar days. Each maximised separately: 3 steps, 4 days.
    assert drawdown_stats([100, 90, 95, 101, 99, 98], days, 100) == (pytest.approx(-0.1), 3, 4)
    # under water from the initial cash (dated the first date) until 100.5 on 01-04:
    # 3 steps, 2 calendar days
    dd, steps, cal = drawdown_stats([99, 98, 100.5], days[:3], 100)
    assert (dd, steps, cal) == (pytest.approx(-0.02), 3, 2)
    # exactly back at the peak ends the stretch
    assert drawdown_stats([100, 99, 100, 100], days[:4], 100)[1:] == (2, 2)
    assert drawdown_stats([101, 102], days[:2], 100) == (0.0, 0, 0)


def test_order_sells_largest_first_then_buys(tmp_path):
    # BBB breaks out on d4 (30 > 20); default holds AAA/BBB half-half, breakout holds CCC
    write_csv(tmp_path, "AAA", D, [10] * 7)
    write_csv(tmp_path, "BBB", D, [20, 20, 20, 30, 30, 30, 30])
    write_csv(tmp_path, "CCC", D, [5] * 7)
    cfg = {
        "data": {"start": "2024-01-04"},
        "universe": ["AAA", "BBB", "CCC"],
        "signals": {"brk": {"type": "donchian", "series": "BBB", "entry": 2, "exit": 2}},
        "regimes": [
            {"name": "ccc", "when": "brk", "weights": {"CCC": 1.0}},
            {"name": "ab", "weights": {"AAA": 0.5, "BBB": 0.5}},
        ],
        "portfolio": {"initial_cash": 1000},
        "benchmark": {"AAA": 1.0},
    }
    res = reference_backtest(cfg, tmp_path)
    strat = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    # d3: 50 AAA, 25 BBB (tie, universe order). d4: V = 500 + 750 = 1250, breakout decided.
    # d5: moves AAA -500, BBB -750, CCC +1250 -> BBB sold first, then AAA, then CCC bought
    assert [(t["ticker"], t["quantity"]) for t in strat] == [
        ("AAA", 50),
        ("BBB", 25),
        ("BBB", -25),
        ("AAA", -50),
        ("CCC", 250),
    ]
    np.testing.assert_allclose(res["strategy"], [1000, 1250, 1250, 1250, 1250])


def test_next_open_uses_adjusted_open(tmp_path):
    # BBB: raw Close 40, Adj Close 20 -> factor 0.5; raw Open 38 -> adjusted open 19
    write_csv(tmp_path, "AAA", D, [10] * 7)
    write_csv(tmp_path, "BBB", D, [40] * 7, adj=[20] * 7, open_=[38] * 7)
    cfg = {
        "data": {"start": "2024-01-04"},
        "universe": ["AAA", "BBB"],
        "regimes": [{"name": "only", "weights": {"BBB": 1.0}}],
        "execution": {"timing": "next_open"},
        "portfolio": {"initial_cash": 1000},
        "benchmark": {"BBB": 1.0},
    }
    res = reference_backtest(cfg, tmp_path)
    first = res["trades"][0]
    assert first["fill_price"] == pytest.approx(19)
    assert first["quantity"] == pytest.approx(1000 / 19)
    # valued at the adjusted close 20
    assert res["strategy"][0] == pytest.approx(1000 / 19 * 20)


@pytest.mark.parametrize(
    "rebalance, trade_days",
    [
        ("none", ["2024-01-29"]),
        ("monthly", ["2024-01-29", "2024-02-01"]),
        ({"threshold": 0.1}, ["2024-01-29", "2024-02-01"]),
        ({"threshold": 0.2}, ["2024-01-29"]),
    ],
)
def test_rebalance_rules(tmp_path, rebalance, trade_days):
    # Mon 2024-01-29 .. Fri 2024-02-02. AAA doubles on Wed 01-31.
    days = weekdays("2024-01-29", "2024-02-02")
    write_csv(tmp_path, "AAA", days, [10, 10, 20, 20, 20])
    write_csv(tmp_path, "BBB", days, [10] * 5)
    cfg = {
        "data": {"start": "2024-01-29"},
        "universe": ["AAA", "BBB"],
        "regimes": [{"name": "only", "weights": {"AAA": 0.5, "BBB": 0.5}}],
        "execution": {"rebalance": rebalance},
        "portfolio": {"initial_cash": 1000},
        "benchmark": {"AAA": 0.5, "BBB": 0.5},
    }
    res = reference_backtest(cfg, tmp_path)
    # 01-29: 50 AAA + 50 BBB. Close of 01-31: V = 1500, AAA weight 1000/1500 = 0.667:
    # drift 0.167 > 0.1 -> trade on 02-01 (also the first date of February) ; 0.167 < 0.2 -> none
    for portfolio in ("strategy", "benchmark"):
        got = sorted({str(t["date"].date()) for t in res["trades"] if t["portfolio"] == portfolio})
        assert got == trade_days
    if len(trade_days) == 2:
        feb = [t for t in res["trades"] if t["portfolio"] == "strategy" and t["date"].month == 2]
        # V = 1500 -> 37.5 AAA, 75 BBB: sell 12.5 AAA, buy 25 BBB
        assert [(t["ticker"], t["quantity"]) for t in feb] == [("AAA", -12.5), ("BBB", 25)]
    np.testing.assert_allclose(res["strategy"], res["benchmark"], rtol=1e-15)


def _crypto_setup(tmp_path, crypto_days, crypto_values, eq_days):
    write_csv(tmp_path, "AAA", eq_days, [10] * len(eq_days))
    write_csv(tmp_path, "BBB", eq_days, [20] * len(eq_days))
    write_csv(tmp_path, "XXX-USD", crypto_days, crypto_values)


def _crypto_config(start, close_times=None):
    cfg = {
        "data": {"start": start},
        "universe": ["AAA", "BBB"],
        # sma window 2: on when x_t > (x_{t-1} + x_t)/2, i.e. when x rises; off when it falls
        "signals": {"up": {"type": "sma", "series": "XXX-USD", "window": 2}},
        "regimes": [
            {"name": "on", "when": "up", "weights": {"AAA": 1.0}},
            {"name": "off", "weights": {"BBB": 1.0}},
        ],
        "benchmark": {"AAA": 1.0},
    }
    if close_times:
        cfg["data"]["close_times"] = close_times
    return cfg


def test_crypto_friday_bar_first_usable_monday(tmp_path):
    eq = weekdays("2024-01-02", "2024-01-10")
    crypto = all_days("2023-12-30", "2024-01-10")
    # x = 1 up to Thu 01-04, 2 from Fri 01-05: on from the Fri bar (2 > 1.5);
    # then 2 == mean keeps it
    _crypto_setup(tmp_path, crypto, [1 if d < dt.date(2024, 1, 5) else 2 for d in crypto], eq)
    res = reference_backtest(_crypto_config("2024-01-02"), tmp_path)
    # Fri bar final at 00:00 UTC Sat = 19:00 New York Fri, after Fri's 16:00 close -> Mon
    assert res["regimes"] == ["off", "off", "off", "off", "on", "on", "on"]
    # same series made final at 16:00 New York on its own date: usable on Fri itself.
    # The unquoted YAML 16:00 arrives as the integer 960 (minutes).
    ct = yaml.safe_load("XXX-USD: {time: 16:00, tz: America/New_York, day_offset: 0}")
    assert ct["XXX-USD"]["time"] == 960
    res = reference_backtest(_crypto_config("2024-01-02", ct), tmp_path)
    assert res["regimes"] == ["off", "off", "off", "on", "on", "on", "on"]


def test_close_times_compared_as_instants_across_dst(tmp_path):
    # crypto made final at 20:30 UTC on its own date. US DST starts Sun 2024-03-10:
    # before it the equity close is 21:00 UTC (bar usable the same day), after it 20:00 UTC
    # (bar usable the next trading day).
    eq = weekdays("2024-03-04", "2024-03-20")
    crypto = all_days("2024-03-01", "2024-03-20")
    values = [
        1 if d < dt.date(2024, 3, 8) else (2 if d < dt.date(2024, 3, 15) else 1) for d in crypto
    ]
    _crypto_setup(tmp_path, crypto, values, eq)
    cfg = _crypto_config("2024-03-04", {"XXX-USD": {"time": "20:30", "tz": "UTC", "day_offset": 0}})
    res = reference_backtest(cfg, tmp_path)
    by_date = dict(zip([str(d.date()) for d in res["dates"]], res["regimes"], strict=False))
    assert by_date["2024-03-07"] == "off"
    assert by_date["2024-03-08"] == "on"  # Fri Mar 8 bar (rise) usable on Fri (EST)
    assert by_date["2024-03-15"] == "on"  # Fri Mar 15 bar (fall) final 16:30 EDT: not yet
    assert by_date["2024-03-18"] == "off"  # ... usable Mon
    # the ratio XXX-USD/AAA exists on weekdays only and is final at the later leg (the crypto)
    cfg["signals"]["up"]["series"] = "XXX-USD/AAA"
    res2 = reference_backtest(cfg, tmp_path)
    assert res2["regimes"] == res["regimes"]


def test_no_look_ahead_on_tiny_data(breakout_dir):
    base = reference_backtest(breakout_config(fees_bps=5, slippage_bps=3), breakout_dir)
    # change every bar after d4: nothing up to and including d4 may change
    write_csv(breakout_dir, "AAA", D, [10, 10, 10, 12, 3, 30, 1])
    write_csv(breakout_dir, "BBB", D, [20, 20, 20, 21, 50, 7, 9])
    changed = reference_backtest(breakout_config(fees_bps=5, slippage_bps=3), breakout_dir)
    # d3, d4 are the first two backtest dates
    assert list(changed["strategy"][:2]) == list(base["strategy"][:2])
    assert changed["regimes"][:2] == base["regimes"][:2]
    # quantities traded on d5 depend only on decisions up to d4 and d5's prices: here d5
    # prices changed, so compare instead with the d5 prices held fixed
    write_csv(breakout_dir, "AAA", D, [10, 10, 10, 12, 12, 30, 1])
    write_csv(breakout_dir, "BBB", D, [20, 20, 20, 21, 22, 7, 9])
    held = reference_backtest(breakout_config(fees_bps=5, slippage_bps=3), breakout_dir)

    def key(r):
        return [
            (t["date"], t["ticker"], t["quantity"])
            for t in r["trades"]
            if t["date"] <= pd.Timestamp(D[4])
        ]

    assert key(held) == key(base)


def test_when_parser():
    values = {"a": True, "b": False, "c": True}
    assert eval_when(parse_when("a and not (b or c)"), values) is False
    assert eval_when(parse_when("a and not b"), values) is True
    assert eval_when(parse_when("b or c and a"), values) is True  # and binds tighter
    assert eval_when(parse_when("not not a"), values) is True
    assert eval_when(parse_when("(b or (not c)) or b"), values) is False
    for bad in ["a and", "(a", "a b", "a or or b", "a && b", ""]:
        with pytest.raises(ValueError):
            parse_when(bad)
    with pytest.raises(ValueError):
        eval_when(parse_when("zzz"), values)


def test_signal_definitions_by_hand():
    # donchian entry 3, exit 2 on x: on at x > max(prior 3), off at x < min(prior 2)
    x = [5, 6, 7, 8, 7.5, 7.6, 7.4, 9, 8.9]
    # t=0..2: hi undefined -> F ; t=3: 8 > 7 -> T ; t=4: 7.5 not < min(7,8) -> T
    # t=5: 7.6 -> T ; t=6: 7.4 < min(7.5, 7.6) -> F ; t=7: 9 > max(7.5,7.6,7.4) -> T ; t=8: T
    assert donchian(x, 3, 2) == [False, False, False, True, True, True, False, True, True]
    # sma window 3 band 0.01: s_2 = 6 -> 7 > 6.06 T ; s_3 = 7: 8 > 7.07 T ; s_4 = 7.5: stays T
    # s_5 = 7.7: 7.6 inside [7.623, 7.777]? 7.6 < 7.623 -> F ; s_6 = 7.5: 7.4 < 7.425 -> F
    # s_7 = 8: 9 > 8.08 T ; s_8 = 8.433: 8.9 > 8.518 T
    assert sma(x, 3, 0.01) == [False, False, True, True, True, False, False, True, True]


def _two_regimes(signal: dict, start: str, close_times=None) -> dict:
    cfg = {
        "data": {"start": start},
        "universe": ["AAA", "BBB"],
        "signals": {"sig": signal},
        "regimes": [
            {"name": "on", "when": "sig", "weights": {"AAA": 1.0}},
            {"name": "off", "weights": {"BBB": 1.0}},
        ],
        "benchmark": {"AAA": 1.0},
    }
    if close_times:
        cfg["data"]["close_times"] = close_times
    return cfg


def test_level_signal_on_a_series_outside_the_universe(tmp_path):
    days = weekdays("2024-01-02", "2024-01-10")
    write_csv(tmp_path, "AAA", days, [10] * 7)
    write_csv(tmp_path, "BBB", days, [20] * 7)
    # above 25, below 20: 18 F, 26 T, 24 hold T, 19 F, 22 hold F, 30 T, 21 hold T
    write_csv(tmp_path, "VVV", days, [18, 26, 24, 19, 22, 30, 21])
    signal = {"type": "level", "series": "VVV", "above": 25, "below": 20}
    res = reference_backtest(_two_regimes(signal, "2024-01-02"), tmp_path)
    # an equity-like bar is final at 16:00 New York: usable at the same date's close
    assert res["regimes"] == ["off", "on", "on", "off", "off", "on", "on"]


def test_correlation_with_crypto_is_final_at_the_later_close(tmp_path):
    eq = weekdays("2024-01-02", "2024-01-10")  # D: Tue 2, Wed 3, Thu 4, Fri 5, Mon 8 .. Wed 10
    write_csv(tmp_path, "AAA", eq, [10, 11, 10, 11, 10, 11, 10])  # r: +.1 -.09 +.1 -.09 ...
    write_csv(tmp_path, "BBB", eq, [20] * 7)
    # XXX on D: 100, 90, 99, 118.8, 106.92, 117.612, 105.8508 (s: -.1 +.1 +.2 -.1 +.1 -.1);
    # weekend bars (Sat 6, Sun 7) are junk that a pairing on D never reads.
    on_d = dict(zip(eq, [100, 90, 99, 118.8, 106.92, 117.612, 105.8508], strict=True))
    crypto = all_days("2024-01-02", "2024-01-10")
    write_csv(tmp_path, "XXX-USD", crypto, [on_d.get(d, 1000.0) for d in crypto])
    # window 2, above 0.5: two pairs correlate at +1 when both moves change the same way.
    # k0, k1 undefined -> F; k2 Thu: r falls, s rises: -1 -> F; k3 Fri: both rise: +1 -> T;
    # then +1 every bar -> T.
    signal = {"type": "correlation", "series": "AAA", "other": "XXX-USD", "window": 2}
    res = reference_backtest(_two_regimes({**signal, "above": 0.5}, "2024-01-02"), tmp_path)
    # each bar of D is final at 00:00 UTC the next day (the crypto leg): Fri's bar -> Mon
    assert res["regimes"] == ["off", "off", "off", "off", "on", "on", "on"]
    same_day = {"XXX-USD": {"time": "16:00", "tz": "America/New_York", "day_offset": 0}}
    cfg = _two_regimes({**signal, "above": 0.5}, "2024-01-02", same_day)
    assert reference_backtest(cfg, tmp_path)["regimes"] == [
        "off",
        "off",
        "off",
        "on",
        "on",
        "on",
        "on",
    ]


def test_compute_signal_dispatches_the_new_kinds(tmp_path):
    days = weekdays("2024-01-02", "2024-01-12")
    closes = [10, 11, 12, 11, 13, 12, 10, 9, 11]
    write_csv(tmp_path, "AAA", days, closes)
    data = Data(tmp_path, None)
    specs = [
        (
            {"type": "momentum", "series": "AAA", "lookback": [1, 2], "weights": [1, 3]},
            momentum(closes, [1, 2], [1, 3]),
        ),
        (
            {"type": "rsi", "series": "AAA", "window": 3, "enter": 60, "exit": 40},
            rsi(closes, 3, 60, 40),
        ),
        ({"type": "level", "series": "AAA", "above": 11.5}, level(closes, 11.5)),
    ]
    for spec, expected in specs:
        assert compute_signal(spec, data)[1] == expected
    # by hand: level 11.5: 10 F, 11 F, 12 T, 11 F, 13 T, 12 T, 10 F, 9 F, 11 F
    assert specs[2][1] == [False, False, True, False, True, True, False, False, False]


# ---------------------------------------------------------------- shared market data


def _need_shared_data():
    if not (SHARED_DATA / "SPY.csv").exists():
        pytest.skip(
            f"shared market data not found at {SHARED_DATA} (expected ../shared/data "
            "relative to the repo root)"
        )


def _load_adj_close(ticker):
    frame = pd.read_csv(SHARED_DATA / f"{ticker}.csv", parse_dates=["Date"], index_col="Date")
    return frame["Adj Close"]


def test_example_config_invariants():
    _need_shared_data()
    cfg = yaml.safe_load(EXAMPLE_CONFIG)
    res = reference_backtest(cfg, SHARED_DATA)

    dates = res["dates"]
    n = len(dates)
    assert dates[0] == pd.Timestamp("2018-01-02") and dates[-1] == pd.Timestamp("2025-06-30")
    assert all(a < b for a, b in zip(dates, dates[1:], strict=False))
    assert len(res["strategy"]) == len(res["benchmark"]) == len(res["regimes"]) == n
    assert set(res["regimes"]) <= {"overweight_small", "neutral"}
    assert np.all(res["strategy"] > 0) and np.all(res["benchmark"] > 0)

    iwm, spy = _load_adj_close("IWM"), _load_adj_close("SPY")
    idx = pd.DatetimeIndex(dates)

    # benchmark = SPY bought on the first date (partial buy: cash pays fill 1.0001 and fee 2 bps)
    spy_bt = spy.reindex(idx).to_numpy()
    expected_bench = 100000 / (1.0001 * 1.0002) * spy_bt / spy_bt[0]
    np.testing.assert_allclose(res["benchmark"], expected_bench, rtol=1e-12)

    # replay the strategy's trades: V_t = cash + shares at the adjusted close, cash >= 0
    close = {"IWM": iwm.reindex(idx).to_numpy(), "SPY": spy_bt}
    trades = [t for t in res["trades"] if t["portfolio"] == "strategy"]
    cash, q = 100000.0, {"IWM": 0.0, "SPY": 0.0}
    by_date = {}
    for t in trades:
        by_date.setdefault(t["date"], []).append(t)
    for j, d in enumerate(dates):
        fills = by_date.get(d, [])
        # sells come before buys on every trade date
        signs = [np.sign(t["quantity"]) for t in fills]
        assert signs == sorted(signs)
        for t in fills:
            cash -= t["quantity"] * t["fill_price"] + t["fees"]
            q[t["ticker"]] += t["quantity"]
            assert cash >= -1e-9
            assert t["fees"] == pytest.approx(0.0002 * abs(t["quantity"]) * t["fill_price"])
            assert q[t["ticker"]] >= -1e-9
        v = cash + q["IWM"] * close["IWM"][j] + q["SPY"] * close["SPY"][j]
        assert v == pytest.approx(res["strategy"][j], rel=1e-12)

    # trades only the day after the decided regime changed (both regimes have distinct weights)
    traded = {d for d in by_date}
    for j in range(2, n):
        assert (dates[j] in traded) == (res["regimes"][j - 1] != res["regimes"][j - 2])
    assert dates[0] in traded

    s, b, rel = res["stats"]["strategy"], res["stats"]["benchmark"], res["stats"]["relative"]
    keys = {
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "max_drawdown_duration_days",
        "max_drawdown_duration_calendar_days",
        "calmar",
        "switches",
        "time_in_regime",
        "trade_dates",
        "fees_paid",
        "turnover",
        "final_value",
    }
    assert set(s) == keys and set(b) == keys
    assert set(rel) == {
        "excess_cagr",
        "beta",
        "alpha",
        "tracking_error",
        "information_ratio",
        "correlation",
    }
    for st, values in ((s, res["strategy"]), (b, res["benchmark"])):
        assert st["final_value"] == values[-1]
        assert st["total_return"] == pytest.approx(values[-1] / 100000 - 1)
        assert -1 < st["max_drawdown"] < 0
        assert st["max_drawdown_duration_calendar_days"] >= st["max_drawdown_duration_days"] > 0
        assert st["calmar"] == pytest.approx(st["cagr"] / -st["max_drawdown"])
    assert sum(s["time_in_regime"].values()) == pytest.approx(1)
    assert s["switches"] == sum(
        a != c for a, c in zip(res["regimes"], res["regimes"][1:], strict=False)
    )
    assert s["trade_dates"] == len(traded)
    assert s["fees_paid"] == pytest.approx(sum(t["fees"] for t in trades))
    assert b["trade_dates"] == 1 and b["time_in_regime"] == {}
    # benchmark figures from the closed form, computed here with pandas
    r_b = pd.Series(expected_bench).pct_change().fillna(expected_bench[0] / 100000 - 1)
    assert b["volatility"] == pytest.approx(r_b.std() * math.sqrt(252), rel=1e-9)
    assert b["sharpe"] == pytest.approx(r_b.mean() / r_b.std() * math.sqrt(252), rel=1e-9)
    dd = pd.Series(np.r_[100000, expected_bench])
    assert b["max_drawdown"] == pytest.approx((dd / dd.cummax() - 1).min(), rel=1e-9)
    assert rel["excess_cagr"] == pytest.approx(s["cagr"] - b["cagr"])
    assert 0 < rel["correlation"] <= 1 and rel["beta"] > 0


def test_example_signals_match_pandas_rolling():
    """The two signals of the example, rebuilt with pandas rolling windows."""
    _need_shared_data()
    ratio = (_load_adj_close("IWM") / _load_adj_close("SPY")).dropna()
    x = ratio.to_list()
    hi = ratio.rolling(120).max().shift(1)
    lo = ratio.rolling(60).min().shift(1)
    state, expected = False, []
    for xt, h, low in zip(x, hi, lo, strict=False):
        if np.isnan(h):
            state = False
        elif xt > h:
            state = True
        elif xt < low:
            state = False
        expected.append(state)
    assert donchian(x, 120, 60) == expected

    eth = _load_adj_close("ETH-USD")
    y = eth.to_list()
    mean = eth.rolling(100).mean()
    state, expected = False, []
    for yt, m in zip(y, mean, strict=False):
        if np.isnan(m):
            state = False
        elif yt > m:
            state = True
        elif yt < m:
            state = False
        expected.append(state)
    got = sma(y, 100)
    # rolling().mean() is not exactly rounded; allow disagreement only at near-ties
    diffs = [i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b]
    assert all(abs(y[i] / mean.iloc[i] - 1) < 1e-9 for i in diffs)


def test_no_look_ahead_on_shared_data(tmp_path):
    """SPEC 2 (a): bars final after the close of t cannot change anything up to t."""
    _need_shared_data()
    for name in ("IWM", "SPY", "ETH-USD"):
        shutil.copy(SHARED_DATA / f"{name}.csv", tmp_path / f"{name}.csv")
    cfg = yaml.safe_load(EXAMPLE_CONFIG)
    cfg["data"]["end"] = "2022-12-30"
    base = reference_backtest(cfg, tmp_path)
    cut = pd.Timestamp("2021-06-30")
    # with the config's close time, ETH's bar of 2021-06-30 is final at the equity close:
    # scramble every bar dated after the cut
    rng = np.random.default_rng(0)
    for name in ("IWM", "SPY", "ETH-USD"):
        frame = pd.read_csv(tmp_path / f"{name}.csv")
        later = pd.to_datetime(frame["Date"]) > cut
        factor = rng.uniform(0.5, 1.5, later.sum())
        for col in ("Open", "High", "Low", "Close", "Adj Close"):
            frame.loc[later, col] = frame.loc[later, col] * factor
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    changed = reference_backtest(cfg, tmp_path)
    upto = sum(d <= cut for d in base["dates"])
    assert list(changed["strategy"][:upto]) == list(base["strategy"][:upto])
    assert list(changed["benchmark"][:upto]) == list(base["benchmark"][:upto])
    assert changed["regimes"][:upto] == base["regimes"][:upto]
    assert [t for t in changed["trades"] if t["date"] <= cut] == [
        t for t in base["trades"] if t["date"] <= cut
    ]
