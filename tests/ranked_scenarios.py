"""Hand-made scenarios for SPEC sections 9 (scores, ranked allocations) and 10
(decision schedule), with their expected numbers worked out by hand.

Each ``scenario_*`` function returns a :class:`Scenario`: a config dict (as
``yaml.safe_load`` gives it), one price DataFrame per ticker (Date index;
Open, High, Low, Close, Adj Close, Volume like the CSVs in shared/data; Adj
Close = Close = Open, so the adjusted close is the listed price) and the
expected results. Every expected number is derived below from the literal
prices by arithmetic written out next to it; nothing here runs a backtest, so
the same scenarios can be run through the reference (tests/reference.py) and
through the engine.

Conventions of the expected values (dates are 'YYYY-MM-DD' strings):
- ``targets[date]``: the target decided at that backtest date (held between
  decision dates), {ticker: weight}; tickers not listed have weight 0, the rest
  is cash. Every backtest date is listed.
- ``regimes[date]``: the decided regime of the date (only where given).
- ``ranks[date]``: for the decided ranked regime on that decision date, per
  candidate: (rank or None if not eligible, failed filters or None if not
  selected).
- ``decision_dates``: the decision dates among the backtest dates.
- ``trade_dates``: the backtest dates on which the strategy places an order.
- ``values``: the strategy's daily value on every backtest date (no costs).
  These three are required: every scenario is checked against the engine's schedule,
  trades and values, not only its targets.
- ``thresholds[date]``: the min_score threshold on that decision date (NaN when
  undefined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

INITIAL_CASH = 100000.0
NAN = float("nan")


@dataclass
class Scenario:
    name: str
    proves: str
    config: dict
    frames: dict[str, pd.DataFrame]
    targets: dict[str, dict[str, float]]
    decision_dates: list[str]
    trade_dates: list[str]
    values: list[float]
    regimes: dict[str, str] = field(default_factory=dict)
    ranks: dict[str, dict[str, tuple]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def inputs(self) -> tuple[dict, dict[str, pd.DataFrame]]:
        """(config dict, {ticker: DataFrame}) as the brief of the scenarios asks."""
        return self.config, self.frames


# ---------------------------------------------------------------- helpers


def bdays(start: str, end: str, drop: tuple[str, ...] = ()) -> list[str]:
    """Weekdays from start to end (inclusive) as ISO strings, without `drop`."""
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range(start, end)]
    return [d for d in days if d not in drop]


def frame(dates: list[str], closes: list[float]) -> pd.DataFrame:
    """Daily bars in the shared-data CSV layout; Open = Close = Adj Close."""
    assert len(dates) == len(closes)
    closes = [float(c) for c in closes]
    return pd.DataFrame(
        {
            "Open": closes,
            "High": closes,
            "Low": closes,
            "Close": closes,
            "Adj Close": closes,
            "Volume": [1000] * len(closes),
        },
        index=pd.DatetimeIndex(pd.to_datetime(dates), name="Date"),
    )


def write_csvs(frames: dict[str, pd.DataFrame], directory: Path) -> Path:
    """One <ticker>.csv per frame, Date as the first column (YYYY-MM-DD)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for ticker, bars in frames.items():
        bars.to_csv(directory / f"{ticker}.csv", index_label="Date", date_format="%Y-%m-%d")
    return directory


def base_config(universe, regimes, scores, start=None, signals=None, **execution) -> dict:
    data = {"source": "csv"}
    if start is not None:
        data["start"] = start
    return {
        "name": "scenario",
        "data": data,
        "universe": list(universe),
        "signals": dict(signals or {}),
        "scores": dict(scores),
        "regimes": list(regimes),
        "execution": dict(execution),
        "portfolio": {"initial_cash": INITIAL_CASH},
        "benchmark": {universe[0]: 1.0},
    }


def mom(prices: list[float], t: int, lookback: int) -> float:
    """x_t / x_{t-L} - 1 on the series' own bars (NaN before L bars exist)."""
    return prices[t] / prices[t - lookback] - 1.0 if t >= lookback else NAN


def std2(r1: float, r2: float) -> float:
    """Sample std (ddof 1) of two returns: sqrt(((r1-m)^2 + (r2-m)^2) / 1)."""
    m = (r1 + r2) / 2.0
    return math.sqrt((r1 - m) ** 2 + (r2 - m) ** 2)


# ---------------------------------------------------------------- scenarios


def scenario_ties() -> Scenario:
    """Equal scores keep the order of `assets` (not of the universe)."""
    d = bdays("2024-01-08", "2024-01-11")  # Mon..Thu
    aaa = [10.0, 11.0, 11.0, 12.0]
    bbb = [20.0, 22.0, 22.0, 22.0]
    ccc = [30.0, 31.0, 33.0, 33.0]
    # d1: AAA 11/10-1 and BBB 22/20-1 are the same float (both quotients round to 1.1)
    assert mom(aaa, 1, 1) == mom(bbb, 1, 1) > mom(ccc, 1, 1)
    # d2: AAA 11/11-1 = 0 = BBB 22/22-1; CCC 33/31-1 > 0
    assert mom(aaa, 2, 1) == mom(bbb, 2, 1) == 0.0 < mom(ccc, 2, 1)
    # d3: AAA 12/11-1 > 0; BBB 0 = CCC 0
    assert mom(aaa, 3, 1) > 0.0 == mom(bbb, 3, 1) == mom(ccc, 3, 1)
    rank = {"assets": ["BBB", "AAA", "CCC"], "score": "mom1", "top": 2}
    cfg = base_config(
        ["AAA", "BBB", "CCC"],
        [{"name": "top2", "rank": rank}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start=d[0],
    )
    # values: d0, d1 all cash. d2 trades to the d1 decision (BBB .5, AAA .5) at d2's
    # closes: q_B = 50000/22, q_A = 50000/11, V = 100000. d3 values those at d3's
    # closes, then trades to the d2 decision (CCC .5, BBB .5) at the same closes.
    v3 = 50000 / 22 * 22.0 + 50000 / 11 * 12.0
    return Scenario(
        name="ties",
        proves="ties keep the order of `assets`: BBB (listed first) ranks above AAA",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb), "CCC": frame(d, ccc)},
        targets={
            d[0]: {},  # no score defined (lookback 1 needs a bar before): empty slots, cash
            d[1]: {"BBB": 0.5, "AAA": 0.5},  # tie BBB = AAA: BBB rank 1, AAA rank 2
            d[2]: {"CCC": 0.5, "BBB": 0.5},  # CCC first; tie BBB = AAA for slot 2: BBB
            d[3]: {"AAA": 0.5, "BBB": 0.5},  # AAA first; tie BBB = CCC for slot 2: BBB
        },
        ranks={
            d[1]: {"BBB": (1, []), "AAA": (2, []), "CCC": (3, None)},
            d[2]: {"CCC": (1, []), "BBB": (2, []), "AAA": (3, None)},
            d[3]: {"AAA": (1, []), "BBB": (2, []), "CCC": (3, None)},
        },
        decision_dates=list(d),
        trade_dates=[d[2], d[3]],  # d0 trades to cash (ranked default): no order
        values=[INITIAL_CASH, INITIAL_CASH, INITIAL_CASH, v3],
    )


def scenario_fewer_eligible() -> Scenario:
    """With fewer eligible assets than `top`, the empty slots stay in cash; scores
    count bars of the asset's own calendar, also those before C begins."""
    d = bdays("2024-01-08", "2024-01-12")  # d0..d4
    aaa = [10.0, 10.0, 12.0, 12.0, 12.0]
    bbb = [20.0, 20.0, 21.0, 22.0, 22.0]
    ccc = [30.0, 30.0, 36.0]  # only from d2: C = d2, d3, d4
    third = 1.0 / 3.0
    # d2 (AAA/BBB index 2, CCC index 0): AAA 12/10-1 = .2, BBB 21/20-1 = .05, CCC undefined
    assert mom(aaa, 2, 2) > mom(bbb, 2, 2) > 0 and math.isnan(mom(ccc, 0, 2))
    # d3: AAA 12/10-1 = .2, BBB 22/20-1 = .1, CCC undefined (1 bar before)
    assert mom(aaa, 3, 2) > mom(bbb, 3, 2) and math.isnan(mom(ccc, 1, 2))
    # d4: CCC 36/30-1 = .2 > BBB 22/21-1 > AAA 12/12-1 = 0
    assert mom(ccc, 2, 2) > mom(bbb, 4, 2) > mom(aaa, 4, 2) == 0.0
    rank = {"assets": ["AAA", "BBB", "CCC"], "score": "mom2", "top": 3}
    cfg = base_config(
        ["AAA", "BBB", "CCC"],
        [{"name": "top3", "rank": rank}],
        {"mom2": {"type": "momentum", "lookback": 2}},
    )
    return Scenario(
        name="fewer_eligible",
        proves="2 eligible of top 3: each filled slot 1/3, the empty slot 1/3 stays cash",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb), "CCC": frame(d[2:], ccc)},
        targets={
            d[2]: {"AAA": third, "BBB": third},
            d[3]: {"AAA": third, "BBB": third},
            d[4]: {"AAA": third, "BBB": third, "CCC": third},
        },
        ranks={
            d[2]: {"AAA": (1, []), "BBB": (2, []), "CCC": (None, None)},
            d[4]: {"CCC": (1, []), "BBB": (2, []), "AAA": (3, [])},
        },
        decision_dates=d[2:],
        # d2 is the first date of C: it trades to cash (ranked default), no order;
        # d3 trades to the d2 decision; d4 to the d3 decision (the same): no trade
        trade_dates=[d[3]],
        # d2 cash; d3 buys AAA 100000/3/12 and BBB 100000/3/22 at d3's closes (value
        # 100000); d4: AAA 12 -> 12, BBB 22 -> 22, a third in cash: still 100000
        values=[INITIAL_CASH] * 3,
    )


def scenario_inverse_vol() -> Scenario:
    """inverse_vol: the filled total E*f/k split in proportion to 1/sigma; sigma = 0
    is not eligible."""
    d = bdays("2024-01-08", "2024-01-11")  # d0..d3
    aaa = [100.0, 110.0, 99.0, 108.9]  # returns +.1, -.1, +.1
    bbb = [100.0, 101.0, 99.99, 100.9899]  # returns +.01, -.01, +.01
    ccc = [100.0, 100.0, 200.0, 400.0]  # returns 0, 1, 1: sigma over the last 2 = 0
    # d3: momentum lookback 3: CCC 400/100-1 = 3 > AAA 108.9/100-1 = .089 > BBB .009899
    assert mom(ccc, 3, 3) > mom(aaa, 3, 3) > mom(bbb, 3, 3) > 0
    # sigma (vol_window 2) from the last two returns x_t/x_{t-1}-1
    s_a = std2(aaa[2] / aaa[1] - 1, aaa[3] / aaa[2] - 1)  # about 0.1414
    s_b = std2(bbb[2] / bbb[1] - 1, bbb[3] / bbb[2] - 1)  # about 0.01414
    s_c = std2(ccc[2] / ccc[1] - 1, ccc[3] / ccc[2] - 1)  # exactly 0: not eligible
    assert s_c == 0.0
    E, k, f = 0.9, 3, 2  # exposure, slots, filled slots (CCC not eligible)
    filled = E * f / k  # 0.6 split between AAA and BBB in proportion to 1/sigma
    w_a = filled * (1 / s_a) / (1 / s_a + 1 / s_b)  # about 0.6 * 1/11
    w_b = filled * (1 / s_b) / (1 / s_a + 1 / s_b)  # about 0.6 * 10/11
    rank = {
        "assets": ["AAA", "BBB", "CCC"],
        "score": "mom3",
        "top": 3,
        "weighting": "inverse_vol",
        "vol_window": 2,
        "exposure": E,
    }
    cfg = base_config(
        ["AAA", "BBB", "CCC"],
        [{"name": "ivol", "rank": rank}],
        {"mom3": {"type": "momentum", "lookback": 3}},
        start=d[0],
    )
    return Scenario(
        name="inverse_vol",
        proves="E*f/k = 0.9*2/3 split 1/sigma (about 1:10); sigma 0 not eligible; cash 0.4",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb), "CCC": frame(d, ccc)},
        targets={d[0]: {}, d[1]: {}, d[2]: {}, d[3]: {"AAA": w_a, "BBB": w_b}},
        ranks={d[3]: {"AAA": (1, []), "BBB": (2, []), "CCC": (None, None)}},
        decision_dates=list(d),  # daily
        # d0 trades to cash (ranked default); d1..d3 to the cash decided on d0..d2; the
        # d3 decision would trade on a d4 beyond the data: no order, all cash throughout
        trade_dates=[],
        values=[INITIAL_CASH] * 4,
    )


def scenario_min_score_number() -> Scenario:
    """min_score 0: a selected asset with score <= 0 keeps its slot and gives it to
    the fallback; the next-ranked asset does not move up."""
    d = bdays("2024-01-08", "2024-01-11")  # d0..d3
    aaa = [10.0, 11.0, 11.0, 10.45]  # d1 +.1, d2 0 (exactly), d3 -.05
    bbb = [20.0, 19.0, 19.95, 17.955]  # d1 -.05, d2 +.05, d3 -.1
    ccc = [18.0, 16.2, 15.39, 15.39]  # d1 -.1, d2 -.05, d3 0 (exactly)
    safe = [50.0] * 4
    assert mom(aaa, 1, 1) > 0 > mom(bbb, 1, 1) > mom(ccc, 1, 1)  # d1: AAA, BBB, CCC
    assert mom(bbb, 2, 1) > mom(aaa, 2, 1) == 0.0 > mom(ccc, 2, 1)  # d2: BBB, AAA, CCC
    assert mom(ccc, 3, 1) == 0.0 > mom(aaa, 3, 1) > mom(bbb, 3, 1)  # d3: CCC, AAA, BBB
    rank = {
        "assets": ["AAA", "BBB", "CCC"],
        "score": "mom1",
        "top": 2,
        "min_score": 0,
        "fallback": "SAFE",
    }
    cfg = base_config(
        ["AAA", "BBB", "CCC", "SAFE"],
        [{"name": "top2", "rank": rank}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start=d[0],
    )
    frames = {t: frame(d, p) for t, p in zip(cfg["universe"], [aaa, bbb, ccc, safe], strict=True)}
    return Scenario(
        name="min_score_number",
        proves="score <= 0 fails (also exactly 0); its slot goes to the fallback, CCC stays out",
        config=cfg,
        frames=frames,
        targets={
            d[0]: {"SAFE": 1.0},  # no score yet: both slots empty -> fallback
            d[1]: {"AAA": 0.5, "SAFE": 0.5},  # BBB (rank 2, -.05) fails
            d[2]: {"BBB": 0.5, "SAFE": 0.5},  # AAA (rank 2, exactly 0) fails
            d[3]: {"SAFE": 1.0},  # CCC (0) and AAA (-.05) fail
        },
        ranks={
            d[1]: {"AAA": (1, []), "BBB": (2, ["min_score"]), "CCC": (3, None)},
            d[2]: {"BBB": (1, []), "AAA": (2, ["min_score"]), "CCC": (3, None)},
            d[3]: {"CCC": (1, ["min_score"]), "AAA": (2, ["min_score"]), "BBB": (3, None)},
        },
        thresholds={d[1]: 0.0, d[2]: 0.0},
        decision_dates=list(d),  # daily
        # d0: no earlier decision, cash. d1 buys SAFE 100000/50 = 2000 at 50 (d0's target).
        # d2: SAFE still 50 (value 100000); trades to d1's {AAA .5, SAFE .5}: AAA
        # 50000/11 at 11, SAFE down to 1000. d3: AAA 11 -> 10.45 (-5%): 47500 + 50000.
        trade_dates=[d[1], d[2], d[3]],
        values=[INITIAL_CASH, INITIAL_CASH, INITIAL_CASH, 50000 / 11 * 10.45 + 1000 * 50.0],
    )


def scenario_min_score_ticker() -> Scenario:
    """min_score a ticker outside the universe (with missing bars): its score of the
    same name, aligned like a signal, is the threshold; undefined -> fallback."""
    d = bdays("2024-01-08", "2024-01-12")  # d0..d4
    aaa = [10.0, 10.0, 10.2, 10.251, 10.45602]  # 0, +.02, +.005, +.02
    bbb = [20.0, 20.0, 20.1, 20.4015, 20.9115375]  # 0, +.005, +.015, +.025
    cashx_dates = [d[1], d[2], d[4]]  # no bar on d0 and d3
    cashx = [100.0, 101.0, 104.03]  # +.01 (d2), +.03 (d4 over its own previous bar d2)
    safe = [50.0] * 5
    thr_d2 = cashx[1] / cashx[0] - 1  # .01
    thr_d4 = cashx[2] / cashx[1] - 1  # .03
    # d1: AAA 0 = BBB 0 (tie -> AAA), threshold undefined (CASHX's first bar) -> fails
    assert mom(aaa, 1, 1) == mom(bbb, 1, 1) == 0.0
    # d2: AAA .02 > threshold .01 passes
    assert mom(aaa, 2, 1) > mom(bbb, 2, 1) and mom(aaa, 2, 1) > thr_d2
    # d3: BBB .015 first; threshold still d2's .01 (latest CASHX bar by d3's close): passes
    assert mom(bbb, 3, 1) > mom(aaa, 3, 1) and mom(bbb, 3, 1) > thr_d2
    # d4: BBB .025 first, below CASHX's .03: fails
    assert mom(bbb, 4, 1) > mom(aaa, 4, 1) and mom(bbb, 4, 1) < thr_d4
    rank = {
        "assets": ["AAA", "BBB"],
        "score": "mom1",
        "top": 1,
        "min_score": "CASHX",
        "fallback": "SAFE",
    }
    cfg = base_config(
        ["AAA", "BBB", "SAFE"],
        [{"name": "best", "rank": rank}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start=d[0],
    )
    frames = {
        "AAA": frame(d, aaa),
        "BBB": frame(d, bbb),
        "SAFE": frame(d, safe),
        "CASHX": frame(cashx_dates, cashx),
    }
    return Scenario(
        name="min_score_ticker",
        proves="ticker threshold: undefined -> fallback, carried over a missing bar, own lookback",
        config=cfg,
        frames=frames,
        targets={
            d[0]: {"SAFE": 1.0},  # no eligible asset: the empty slot goes to the fallback
            d[1]: {"SAFE": 1.0},  # AAA selected, threshold undefined: fails
            d[2]: {"AAA": 1.0},
            d[3]: {"BBB": 1.0},
            d[4]: {"SAFE": 1.0},
        },
        ranks={
            d[0]: {"AAA": (None, None), "BBB": (None, None)},
            d[1]: {"AAA": (1, ["min_score"]), "BBB": (2, None)},
            d[2]: {"AAA": (1, []), "BBB": (2, None)},
            d[3]: {"BBB": (1, []), "AAA": (2, None)},
            d[4]: {"BBB": (1, ["min_score"]), "AAA": (2, None)},
        },
        thresholds={d[0]: NAN, d[1]: NAN, d[2]: thr_d2, d[3]: thr_d2, d[4]: thr_d4},
        decision_dates=list(d),  # daily
        # d1 buys SAFE 2000 at 50 (d0's target); d2 keeps it (d1's target is the same);
        # d3 sells SAFE at 50 and buys AAA 100000/10.251 (d2's target); d4: AAA
        # 10.251 -> 10.45602 (+2%), then BBB (d3's target)
        trade_dates=[d[1], d[3], d[4]],
        values=[INITIAL_CASH] * 4 + [INITIAL_CASH / aaa[3] * aaa[4]],
    )


def scenario_filter_fail() -> Scenario:
    """A selected asset whose filter (sma on its own close) is False keeps its slot,
    whose weight stays in cash (no fallback); rank 3 does not move up."""
    d = bdays("2024-01-08", "2024-01-11")  # d0..d3
    aaa = [10.0, 13.0, 12.0, 12.6]
    bbb = [10.0, 14.0, 11.5, 12.5]
    ccc = [10.0, 10.5, 11.0, 11.55]

    def sma3(p, t):
        return (p[t - 2] + p[t - 1] + p[t]) / 3

    # d2: momentum 2: AAA .2 > BBB .15 > CCC .1
    assert mom(aaa, 2, 2) > mom(bbb, 2, 2) > mom(ccc, 2, 2)
    assert aaa[2] > sma3(aaa, 2)  # 12 > 35/3: passes
    assert bbb[2] < sma3(bbb, 2)  # 11.5 < 35.5/3: fails
    assert ccc[2] > sma3(ccc, 2)  # would pass, but rank 3 is not selected
    # d3: CCC 11.55/10.5-1 = .1 > AAA 12.6/13-1 (about -.03) > BBB 12.5/14-1 (about -.107)
    assert mom(ccc, 3, 2) > mom(aaa, 3, 2) > mom(bbb, 3, 2)
    assert ccc[3] > sma3(ccc, 3) and aaa[3] > sma3(aaa, 3)
    rank = {
        "assets": ["AAA", "BBB", "CCC"],
        "score": "mom2",
        "top": 2,
        "filter": {"type": "sma", "window": 3},
    }
    cfg = base_config(
        ["AAA", "BBB", "CCC"],
        [{"name": "trend_top2", "rank": rank}],
        {"mom2": {"type": "momentum", "lookback": 2}},
        start=d[0],
    )
    return Scenario(
        name="filter_fail",
        proves="failed filter: the slot's weight stays in cash, the next-ranked does not move up",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb), "CCC": frame(d, ccc)},
        targets={
            d[0]: {},
            d[1]: {},
            d[2]: {"AAA": 0.5},  # BBB fails its sma filter: its 0.5 stays in cash
            d[3]: {"CCC": 0.5, "AAA": 0.5},
        },
        ranks={
            d[2]: {"AAA": (1, []), "BBB": (2, ["filter"]), "CCC": (3, None)},
            d[3]: {"CCC": (1, []), "AAA": (2, []), "BBB": (3, None)},
        },
        decision_dates=list(d),  # daily
        # cash (decided d0, d1) until d3 buys AAA 50000/12.6 at d3's close (d2's target)
        trade_dates=[d[3]],
        values=[INITIAL_CASH] * 4,
    )


def scenario_fallback_selected() -> Scenario:
    """The fallback is itself selected: its own slot and the failed slot add."""
    d = bdays("2024-01-08", "2024-01-09")  # d0, d1
    aaa = [10.0, 9.5]  # -.05 <= -.02: fails
    bbb = [20.0, 20.1]  # +.005
    safe = [50.0, 50.5]  # +.01
    assert mom(safe, 1, 1) > mom(bbb, 1, 1) > -0.02 >= mom(aaa, 1, 1)
    third = 1.0 / 3.0
    rank = {
        "assets": ["AAA", "BBB", "SAFE"],
        "score": "mom1",
        "top": 3,
        "min_score": -0.02,
        "fallback": "SAFE",
    }
    cfg = base_config(
        ["AAA", "BBB", "SAFE"],
        [{"name": "top3", "rank": rank}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start=d[0],
    )
    return Scenario(
        name="fallback_selected",
        proves="SAFE's own 1/3 + AAA's failed 1/3 = 2/3; all three empty slots -> SAFE 1",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb), "SAFE": frame(d, safe)},
        targets={
            d[0]: {"SAFE": third + third + third},  # three empty slots
            d[1]: {"SAFE": third + third, "BBB": third},
        },
        ranks={d[1]: {"SAFE": (1, []), "BBB": (2, []), "AAA": (3, ["min_score"])}},
        decision_dates=list(d),  # daily
        trade_dates=[d[1]],  # d1 buys SAFE 100000/50.5 at its close (d0's target, SAFE 1)
        values=[INITIAL_CASH, INITIAL_CASH],
    )


def scenario_exposure() -> Scenario:
    """exposure 0.6 with top 2: each slot 0.3, the other 0.4 is always cash."""
    d = bdays("2024-01-08", "2024-01-10")  # d0..d2
    aaa = [10.0, 11.0, 12.1]  # +.1, +.1
    bbb = [20.0, 21.0, 19.95]  # +.05, -.05
    ccc = [30.0, 30.3, 30.3]  # +.01, 0
    safe = [50.0] * 3
    assert mom(aaa, 1, 1) > mom(bbb, 1, 1) > mom(ccc, 1, 1) > 0
    assert mom(aaa, 2, 1) > mom(ccc, 2, 1) == 0.0 > mom(bbb, 2, 1)
    E, k = 0.6, 2
    rank = {
        "assets": ["AAA", "BBB", "CCC"],
        "score": "mom1",
        "top": k,
        "min_score": 0.0,
        "fallback": "SAFE",
        "exposure": E,
    }
    cfg = base_config(
        ["AAA", "BBB", "CCC", "SAFE"],
        [{"name": "top2", "rank": rank}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start=d[0],
    )
    frames = {t: frame(d, p) for t, p in zip(cfg["universe"], [aaa, bbb, ccc, safe], strict=True)}
    return Scenario(
        name="exposure",
        proves="slots carry E/k = 0.3; empty or failed slots give 0.3 to SAFE; 1-E is cash",
        config=cfg,
        frames=frames,
        targets={
            d[0]: {"SAFE": E / k + E / k},  # two empty slots
            d[1]: {"AAA": E / k, "BBB": E / k},
            d[2]: {"AAA": E / k, "SAFE": E / k},  # CCC (rank 2, exactly 0) fails
        },
        ranks={d[2]: {"AAA": (1, []), "CCC": (2, ["min_score"]), "BBB": (3, None)}},
        decision_dates=list(d),  # daily
        # d1 buys SAFE 0.6 x 100000 / 50 = 1200 at 50, 40000 stays cash (d0's target);
        # d2: SAFE still 50 (value 100000), trades to d1's {AAA .3, BBB .3} at d2's closes
        trade_dates=[d[1], d[2]],
        values=[INITIAL_CASH] * 3,
    )


def scenario_order_lowest() -> Scenario:
    """order lowest by volatility; min_score still fails at score <= threshold."""
    d = bdays("2024-01-08", "2024-01-11")  # d0..d3
    aaa = [10.0, 10.0, 10.0, 10.0]  # volatility exactly 0
    bbb = [10.0, 11.0, 10.0, 10.5]
    ccc = [10.0, 10.1, 10.0, 12.0]

    def vol(p, t):  # window 2: the returns of bars t-1 and t
        return std2(p[t - 1] / p[t - 2] - 1, p[t] / p[t - 1] - 1)

    # d2: AAA 0 < CCC (about .014) < BBB (about .135)
    assert vol(aaa, 2) == 0.0 < vol(ccc, 2) < vol(bbb, 2)
    # d3: AAA 0 < BBB (about .0996) < CCC (about .148)
    assert vol(aaa, 3) == 0.0 < vol(bbb, 3) < vol(ccc, 3)
    rank = {
        "assets": ["AAA", "BBB", "CCC"],
        "score": "vol2",
        "order": "lowest",
        "top": 2,
        "min_score": 0,
        "fallback": "SAFE",
    }
    cfg = base_config(
        ["AAA", "BBB", "CCC", "SAFE"],
        [{"name": "calm2", "rank": rank}],
        {"vol2": {"type": "volatility", "window": 2}},
        start=d[0],
    )
    frames = {
        t: frame(d, p) for t, p in zip(cfg["universe"], [aaa, bbb, ccc, [50.0] * 4], strict=True)
    }
    return Scenario(
        name="order_lowest",
        proves="lowest first; AAA (vol 0 <= min_score 0) ranks 1st but fails -> SAFE",
        config=cfg,
        frames=frames,
        targets={
            d[0]: {"SAFE": 1.0},  # volatility needs 3 bars: both slots empty
            d[1]: {"SAFE": 1.0},
            d[2]: {"SAFE": 0.5, "CCC": 0.5},
            d[3]: {"SAFE": 0.5, "BBB": 0.5},
        },
        ranks={
            d[2]: {"AAA": (1, ["min_score"]), "CCC": (2, []), "BBB": (3, None)},
            d[3]: {"AAA": (1, ["min_score"]), "BBB": (2, []), "CCC": (3, None)},
        },
        decision_dates=list(d),  # daily
        # d1 buys SAFE 2000 at 50 (d0's target); d2 keeps it (d1's target is the same);
        # d3: SAFE still 50, sells 1000 and buys CCC 50000/12 at d3's close (d2's target)
        trade_dates=[d[1], d[3]],
        values=[INITIAL_CASH] * 4,
    )


def scenario_weekly() -> Scenario:
    """decide weekly: the last date of C in each ISO week (a missing Friday moves it
    to Thursday; Dec 31 -> Jan 2 is one ISO week), held in between; before the first
    decision the default's fixed weights; the final date of C is no decision."""
    d = [
        "2024-12-19",  # 0 Thu  ISO 2024-W51
        "2024-12-20",  # 1 Fri  W51 last -> decision
        "2024-12-23",  # 2 Mon  W52
        "2024-12-24",  # 3 Tue
        "2024-12-26",  # 4 Thu  W52 last (no Dec 25, Dec 27) -> decision
        "2024-12-30",  # 5 Mon  ISO 2025-W01
        "2024-12-31",  # 6 Tue
        "2025-01-02",  # 7 Thu  (new month, same ISO week: no decision)
        "2025-01-03",  # 8 Fri  2025-W01 last -> decision
        "2025-01-06",  # 9 Mon  W02
        "2025-01-07",  # 10
        "2025-01-08",  # 11
        "2025-01-09",  # 12
        "2025-01-10",  # 13 Fri: final date of C, not a decision date
    ]
    aaa = [100, 101, 99, 98, 97, 99, 100, 101, 102, 101, 100, 99, 98, 97]
    bbb = [40, 40, 40.4, 40.8, 41, 41, 41.2, 41, 40, 40, 40, 40, 40, 40]
    ccc = [50, 51, 52, 51, 50, 51, 50, 49, 49.245, 50, 51, 52, 53, 54]
    aaa, bbb, ccc = ([float(v) for v in p] for p in (aaa, bbb, ccc))
    # decision 1 (Dec 20): AAA up (aaa_up on) -> risk_on; CCC 51/50-1 > AAA 101/100-1
    assert mom(aaa, 1, 1) > 0 and mom(ccc, 1, 1) > mom(aaa, 1, 1)
    # decision 4 (Dec 26): AAA 97 < 98 -> aaa_up off -> defensive
    assert mom(aaa, 4, 1) < 0
    # decision 8 (Jan 3): AAA up -> risk_on; AAA 102/101-1 > CCC 49.245/49-1
    assert mom(aaa, 8, 1) > 0 and mom(aaa, 8, 1) > mom(ccc, 8, 1)
    # a daily decision would differ on dates 2 (AAA down) and 5 (AAA up): held instead
    assert mom(aaa, 2, 1) < 0 < mom(aaa, 5, 1)
    cfg = base_config(
        ["AAA", "BBB", "CCC"],
        [
            {
                "name": "risk_on",
                "when": "aaa_up",
                "rank": {"assets": ["AAA", "CCC"], "score": "mom1", "top": 1},
            },
            {"name": "defensive", "weights": {"BBB": 1.0}},
        ],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start=d[0],
        signals={"aaa_up": {"type": "momentum", "series": "AAA", "lookback": 1}},
        decide="weekly",
    )
    held = [
        ("defensive", {"BBB": 1.0}),  # 0: before the first decision: default fixed weights
        *[("risk_on", {"CCC": 1.0})] * 3,  # 1..3: decided Dec 20
        *[("defensive", {"BBB": 1.0})] * 4,  # 4..7: decided Dec 26
        *[("risk_on", {"AAA": 1.0})] * 6,  # 8..13: decided Jan 3
    ]
    # values, no costs, trades at the close:
    q_b = INITIAL_CASH / bbb[0]  # 0: first date, no earlier date in C: default {BBB: 1}
    values = [q_b * bbb[0], q_b * bbb[1]]
    q_c = q_b * bbb[2] / ccc[2]  # 2: trades to the Dec 20 decision (CCC)
    values += [q_c * ccc[2], q_c * ccc[3], q_c * ccc[4]]
    q_b = q_c * ccc[5] / bbb[5]  # 5: trades to the Dec 26 decision (BBB)
    values += [q_b * bbb[t] for t in (5, 6, 7, 8)]
    q_a = q_b * bbb[9] / aaa[9]  # 9: trades to the Jan 3 decision (AAA)
    values += [q_a * aaa[t] for t in range(9, 14)]
    return Scenario(
        name="weekly",
        proves="weekly decisions on the ISO week's last date of C, held; default before",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb), "CCC": frame(d, ccc)},
        targets={d[i]: w for i, (_, w) in enumerate(held)},
        regimes={d[i]: r for i, (r, _) in enumerate(held)},
        ranks={
            d[1]: {"CCC": (1, []), "AAA": (2, None)},
            d[8]: {"AAA": (1, []), "CCC": (2, None)},
        },
        decision_dates=[d[1], d[4], d[8]],
        trade_dates=[d[0], d[2], d[5], d[9]],
        values=values,
    )


def scenario_monthly_ranked_default() -> Scenario:
    """decide monthly with a ranked default: cash before the first decision date
    (also on backtest dates with earlier dates in C); the last date of C in the
    month decides (Jan 30 when Jan 31 is missing); the final date decides nothing."""
    d = bdays("2024-01-22", "2024-03-06", drop=("2024-01-31",))
    assert len(d) == 32 and d[6] == "2024-01-30" and d[7] == "2024-02-01"
    assert d[27] == "2024-02-29" and d[28] == "2024-03-01"
    aaa = [100.0 + 2 * i if i <= 17 else 134.0 - 3 * (i - 17) for i in range(32)]
    bbb = [100.0 + 0.5 * i for i in range(32)]
    # Jan 30 (i=6): AAA 112/106-1 > BBB 103/101.5-1 ; Feb 29 (i=27): BBB > 0 > AAA
    assert mom(aaa, 6, 3) > mom(bbb, 6, 3) > 0
    assert mom(bbb, 27, 3) > 0 > mom(aaa, 27, 3)
    cfg = base_config(
        ["AAA", "BBB"],
        [{"name": "best", "rank": {"assets": ["AAA", "BBB"], "score": "mom3", "top": 1}}],
        {"mom3": {"type": "momentum", "lookback": 3}},
        start="2024-01-26",
        decide="monthly",
    )
    bt = list(range(4, 32))  # Jan 26 .. Mar 6
    targets = {}
    for i in bt:
        if i < 6:
            targets[d[i]] = {}  # before the first decision (Jan 30): ranked default -> cash
        elif i < 27:
            targets[d[i]] = {"AAA": 1.0}  # decided Jan 30
        else:
            targets[d[i]] = {"BBB": 1.0}  # decided Feb 29, held to Mar 6
    values = []
    q_a = INITIAL_CASH / aaa[7]  # Feb 1 trades to the Jan 30 decision
    q_b = q_a * aaa[28] / bbb[28]  # Mar 1 trades to the Feb 29 decision
    for i in bt:
        if i < 7:
            values.append(INITIAL_CASH)
        elif i < 28:
            values.append(q_a * aaa[i])
        else:
            values.append(q_b * bbb[i])
    return Scenario(
        name="monthly_ranked_default",
        proves="monthly decisions on Jan 30 / Feb 29; cash before; no decision on Mar 6",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb)},
        targets=targets,
        regimes={d[i]: "best" for i in bt},
        ranks={d[6]: {"AAA": (1, []), "BBB": (2, None)}, d[27]: {"BBB": (1, []), "AAA": (2, None)}},
        decision_dates=[d[6], d[27]],
        trade_dates=[d[7], d[28]],
        values=values,
    )


def scenario_monthly_threshold() -> Scenario:
    """decide monthly with rebalance {threshold: 0.1}: the drift check compares with
    the target held since the last decision (made before start) and trades back to it."""
    d = bdays("2024-01-24", "2024-02-09")
    assert d[5] == "2024-01-31" and d[6] == "2024-02-01" and d[8] == "2024-02-05"
    aaa = [10.0] * 5 + [10.5] * 3 + [16.8] * 5  # Jan 31 +.05; Feb 5 x1.6
    bbb = [20.0] * 5 + [20.2] * 8  # Jan 31 +.01
    ccc = [30.0] * 5 + [29.7] * 3 + [35.0] * 5  # Jan 31 -.01; Feb 5 up (a daily rank would buy)
    # Jan 31 (decision): AAA .05 > BBB .01 > CCC -.01 -> AAA .5, BBB .5
    assert mom(aaa, 5, 1) > mom(bbb, 5, 1) > mom(ccc, 5, 1)
    assert mom(ccc, 8, 1) > mom(bbb, 8, 1)  # Feb 5: CCC would displace BBB daily
    rank = {"assets": ["AAA", "BBB", "CCC"], "score": "mom1", "top": 2}
    cfg = base_config(
        ["AAA", "BBB", "CCC"],
        [{"name": "top2", "rank": rank}],
        {"mom1": {"type": "momentum", "lookback": 1}},
        start="2024-02-01",
        decide="monthly",
        rebalance={"threshold": 0.1},
    )
    # Feb 1 (first backtest date) trades to the Jan 31 decision at Feb 1's closes
    q_a, q_b = 50000 / aaa[6], 50000 / bbb[6]
    v = [q_a * aaa[i] + q_b * bbb[i] for i in (6, 7, 8)]  # 100000, 100000, 130000
    # Feb 5's close: AAA holds 80000/130000 = .615 -> |.615 - .5| > .1 -> trade on Feb 6
    assert abs(q_a * aaa[8] / v[2] - 0.5) > 0.1
    v6 = q_a * aaa[9] + q_b * bbb[9]
    q_a, q_b = 0.5 * v6 / aaa[9], 0.5 * v6 / bbb[9]
    v += [q_a * aaa[i] + q_b * bbb[i] for i in (9, 10, 11, 12)]
    return Scenario(
        name="monthly_threshold",
        proves="threshold drift vs the held monthly target trades back to it between decisions",
        config=cfg,
        frames={"AAA": frame(d, aaa), "BBB": frame(d, bbb), "CCC": frame(d, ccc)},
        targets={d[i]: {"AAA": 0.5, "BBB": 0.5} for i in range(6, 13)},
        decision_dates=[],  # Jan 31 is before start; Feb 9 is the final date of C
        trade_dates=[d[6], d[9]],
        values=v,
    )


SCENARIOS = [
    scenario_ties,
    scenario_fewer_eligible,
    scenario_inverse_vol,
    scenario_min_score_number,
    scenario_min_score_ticker,
    scenario_filter_fail,
    scenario_fallback_selected,
    scenario_exposure,
    scenario_order_lowest,
    scenario_weekly,
    scenario_monthly_ranked_default,
    scenario_monthly_threshold,
]
