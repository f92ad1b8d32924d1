"""SPEC 2, tests (a) and (b): no look-ahead, on random markets (hypothesis).

Each example draws a small market (two equities, one of them missing a few
dates so that C is an intersection, and ETH-USD on every calendar day), and a
config with a donchian signal on the ratio AAA/BBB and an sma filter on
ETH-USD, random windows, timing, costs and rebalance rule. Then:

(a) every bar that becomes final after the close of a trading date `t` is
    rewritten: equity bars dated after `t`, crypto bars dated on or after `t`
    (crypto bar `d` is final at 00:00 UTC of `d+1`, after the 16:00 New York
    close of `d`). Decisions, orders, holdings, cash, values and trades up to
    and including `t` must not move.
(b) for a backtest date `u` with previous date `p` in C, every bar final after
    the close of `p` is rewritten except `u`'s own execution prices (close for
    next_close, open for next_open) of the traded assets. The quantities traded
    on `u` must not move.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import config_from_dict
from engine.data import MemorySource
from engine.data.series import External, external
from engine.research.audit import release_eves
from engine.runner import BacktestResult, run_backtest

EQUITIES = ["AAA", "BBB"]
CRYPTO = "ETH-USD"
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------------- random markets


def random_bars(rng: np.random.Generator, dates: pd.DatetimeIndex, vol: float) -> pd.DataFrame:
    """A random walk of consistent OHLC bars (Low <= Open, Close <= High)."""
    close = 100 * np.exp(np.cumsum(rng.normal(0, vol, len(dates))))
    previous = np.concatenate([[100.0], close[:-1]])
    open_ = previous * np.exp(rng.normal(0, vol / 2, len(dates)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 4, len(dates))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 4, len(dates))))
    volume = rng.integers(1_000, 1_000_000, len(dates)).astype(float)
    return pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume},
        index=pd.DatetimeIndex(dates, name="date"),
    )


def random_market(seed: int, days: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    equity = pd.bdate_range("2023-01-02", periods=days)
    crypto = pd.date_range(equity[0] - pd.Timedelta(days=5), equity[-1] + pd.Timedelta(days=3))
    gaps = rng.choice(np.arange(1, days - 1), size=3, replace=False)  # BBB "holidays"
    return {
        "AAA": random_bars(rng, equity, 0.02),
        "BBB": random_bars(rng, equity.delete(gaps), 0.015),
        CRYPTO: random_bars(rng, crypto, 0.04),
    }


def weights(draw) -> dict[str, float]:
    a = draw(st.integers(0, 10)) / 10
    b = draw(st.integers(0, 10)) / 10 * (1 - a)
    if a + b == 0:
        a = 0.5
    return {"AAA": a, "BBB": round(b, 10)}


@st.composite
def raw_scenarios(draw):
    """(market, raw config, seed): the random market and the config as a mapping."""
    seed = draw(st.integers(0, 2**32 - 1))
    days = draw(st.integers(80, 130))
    market = random_market(seed, days)
    calendar = market["AAA"].index.intersection(market["BBB"].index)
    start = calendar[draw(st.integers(0, 30))]
    end = calendar[-1 - draw(st.integers(0, 10))]
    rebalance = draw(st.sampled_from(["none", "monthly", {"threshold": 0.04}, {"threshold": 0.1}]))
    when = draw(st.sampled_from(["brk and eth", "brk or eth", "brk and not eth", "brk"]))
    raw = {
        "name": "lookahead",
        "data": {
            "source": "csv",
            "dir": "unused",
            "start": str(start.date()),
            "end": str(end.date()),
        },
        "universe": list(EQUITIES),
        "signals": {
            "brk": {
                "type": "donchian",
                "series": "AAA/BBB",
                "entry": draw(st.integers(2, 20)),
                "exit": draw(st.integers(1, 20)),
            },
            "eth": {
                "type": "sma",
                "series": CRYPTO,
                "window": draw(st.integers(2, 20)),
                "band": draw(st.sampled_from([0.0, 0.01, 0.05])),
            },
        },
        "regimes": [
            {"name": "risk", "when": when, "weights": weights(draw)},
            {"name": "neutral", "weights": weights(draw)},
        ],
        "execution": {
            "timing": draw(st.sampled_from(["next_close", "next_open"])),
            "fees_bps": draw(st.sampled_from([0, 2, 10, 50])),
            "slippage_bps": draw(st.sampled_from([0, 1, 5, 30])),
            "rebalance": rebalance,
        },
        "portfolio": {"initial_cash": 100000},
        "benchmark": weights(draw),
        "stats": {"periods_per_year": 252},
    }
    return market, raw, seed


@st.composite
def scenarios(draw):
    market, raw, seed = draw(raw_scenarios())
    return market, config_from_dict(raw, origin="<hypothesis>"), seed


# ---------------------------------------------------------------- external series


def random_series(seed: int, market: dict, lag: int) -> dict[str, External]:
    """A synthetic external series MAC: values 1 to 12 calendar days apart (weekends
    too), from 40 days before the market to 10 days after it, released `lag` days after
    their dates."""
    rng = np.random.default_rng(seed + 3)
    first, last = market["AAA"].index[0], market["AAA"].index[-1]
    gaps = np.cumsum(rng.integers(1, 13, 200))
    dates = (first - pd.Timedelta(days=40)) + pd.to_timedelta(gaps, unit="D")
    dates = dates[dates <= last + pd.Timedelta(days=10)]
    values = 10 * np.exp(np.cumsum(rng.normal(0, 0.05, len(dates))))
    return {"MAC": external("MAC", pd.Series(values, index=dates), lag)}


def mac_signal(kind: str, series: External, lookback: int) -> dict:
    """A signal reading MAC: a level on it (bounds about its median), a momentum on it,
    or a momentum on its ratio with the traded AAA (the dates both have)."""
    if kind == "level":
        middle = float(np.median(series.values))
        return {"type": "level", "series": "MAC", "above": middle, "below": middle * 0.98}
    return {"type": "momentum", "series": "MAC" if kind == "momentum" else "MAC/AAA",
            "lookback": lookback}  # fmt: skip


@st.composite
def series_scenarios(draw):
    """(market, config, seed, series): the scenarios above with the external series MAC
    (random lag) read by a signal `mac` that the regimes use."""
    market, raw, seed = draw(raw_scenarios())
    series = random_series(seed, market, draw(st.sampled_from([0, 1, 2, 5, 15, 40])))
    kind = draw(st.sampled_from(["level", "momentum", "ratio"]))
    raw["signals"]["mac"] = mac_signal(kind, series["MAC"], draw(st.integers(1, 3)))
    raw["regimes"][0]["when"] = draw(st.sampled_from(["mac", "brk and mac", "mac or eth"]))
    raw["data"]["series"] = {"MAC": {"lag_days": series["MAC"].lag_days}}
    return market, config_from_dict(raw, origin="<hypothesis>"), seed, series


def moved_series(series: dict | None, after: pd.Timestamp, seed: int) -> dict | None:
    """Every external value released after the close of `after` (release date after it)
    rewritten: scaled and shifted at random, another future rather than noise."""
    if not series:
        return series
    rng = np.random.default_rng(seed + 2)
    out = {}
    for name, s in series.items():
        later = np.asarray(s.released > after)
        values = s.values.to_numpy().copy()
        scale = np.exp(rng.normal(0, 0.3, later.sum()))
        values[later] = values[later] * scale + rng.normal(0, float(np.std(values)), later.sum())
        out[name] = external(name, pd.Series(values, index=s.values.index), s.lag_days)
    return out


def near_releases(series: dict | None, dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The dates among `dates` that are the last one before some release date (where a
    value read a day early first changes a decision); all of `dates` when there are none."""
    eves = release_eves(series or {}, dates)
    return dates[eves] if eves else dates


@st.composite
def money_scenarios(draw):
    """`scenarios` with SPEC 11's money keys: a no-trade band, a cash yield (a number or a
    rate ticker RATE outside the universe), a risk-free ticker, quarterly or annual
    rebalancing, and a benchmark with its own rule."""
    market, config, seed = draw(scenarios())
    rng = np.random.default_rng(seed + 7)
    market = market | {"RATE": random_bars(rng, market["AAA"].index, 0.001)}
    raw = config.resolved()
    raw["execution"]["tolerance"] = draw(st.sampled_from([0.0, 0.02, 0.1]))
    raw["execution"]["rebalance"] = draw(
        st.sampled_from(["quarterly", "annual", "monthly", {"threshold": 0.03}])
    )
    raw["portfolio"]["cash_yield"] = draw(st.sampled_from([0.05, "RATE", -0.1]))
    raw["stats"]["risk_free"] = draw(st.sampled_from([0.02, "RATE"]))
    rule = draw(st.sampled_from(["none", "quarterly", {"threshold": 0.05}]))
    raw["benchmark"] = {"weights": raw["benchmark"], "rebalance": rule}
    return market, config_from_dict(raw, origin="<hypothesis>"), seed


def perturbed(
    market: dict[str, pd.DataFrame],
    equity_after: pd.Timestamp,
    crypto_from: pd.Timestamp,
    seed: int,
    keep: dict[str, tuple[pd.Timestamp, str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Scale every later bar by a random walk of factors (a whole bar at once, so OHLC
    stays consistent): another future, trending differently, not just noise.

    Equity bars dated after `equity_after` and crypto bars dated on or after
    `crypto_from` change. `keep` maps a ticker to (date, column) left as it was.
    """
    rng = np.random.default_rng(seed + 1)
    out = {}
    for ticker, frame in market.items():
        frame = frame.copy()
        later = frame.index >= crypto_from if ticker == CRYPTO else frame.index > equity_after
        factor = np.exp(np.cumsum(rng.normal(0, 0.03, later.sum())) + rng.normal(0, 0.02))
        for column in ("Open", "High", "Low", "Close"):
            frame.loc[later, column] = frame.loc[later, column].to_numpy() * factor
        frame.loc[later, "Volume"] = frame.loc[later, "Volume"].to_numpy() * 2
        if keep and ticker in keep:
            date, column = keep[ticker]
            frame.loc[date, column] = market[ticker].loc[date, column]
            frame.loc[date, "High"] = frame.loc[date, ["Open", "High", "Close"]].max()
            frame.loc[date, "Low"] = frame.loc[date, ["Open", "Low", "Close"]].min()
        out[ticker] = frame
    return out


@pytest.fixture(scope="module", autouse=True)
def _warm_engine():
    """One run before hypothesis starts: the first import of vectorbt (numba) is slow
    and raises the recursion limit, which hypothesis would otherwise warn about."""
    run(
        random_market(0, 60),
        config_from_dict(
            {
                "name": "warm",
                "data": {"start": "2023-01-02"},
                "universe": ["AAA"],
                "regimes": [{"name": "all", "weights": {"AAA": 1.0}}],
                "benchmark": {"AAA": 1.0},
            }
        ),
    )


def run(market, config, series: dict | None = None) -> BacktestResult:
    return run_backtest(config, MemorySource(market), series)


def upto(frame, t):
    return frame.loc[frame.index <= t]


def trades_upto(sim, t) -> pd.DataFrame:
    return sim.trades[sim.trades["date"] <= t].reset_index(drop=True)


def exact(a, b) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    else:
        pd.testing.assert_series_equal(a, b, check_exact=True)


# ---------------------------------------------------------------- (a)


@SETTINGS
@given(scenario=scenarios(), pick=st.floats(0.0, 1.0))
def test_bars_final_after_the_close_of_t_change_nothing_up_to_t(scenario, pick):
    check_nothing_up_to_t_changes(*scenario, pick)


def check_nothing_up_to_t_changes(
    market, config, seed: int, pick: float, series: dict | None = None, eves: bool = False
) -> None:
    """Property (a) at the backtest date picked by `pick` in [0, 1] (also for ranked
    configs: their rank rows up to t too; with external `series`, their values released
    after t change too, and with `eves` t is picked among the release eves)."""
    base = run(market, config, series)
    dates = near_releases(series, base.dates) if eves else base.dates
    t = dates[min(int(pick * len(dates)), len(dates) - 1)]
    # equity bars dated after t; crypto bars dated t or later (bar t is final at
    # 00:00 UTC of t+1, i.e. 19:00/20:00 New York on t, after t's 16:00 close)
    other_market = perturbed(market, equity_after=t, crypto_from=t, seed=seed)
    changed = run(other_market, config, moved_series(series, t, seed))

    exact(upto(base.signals, t), upto(changed.signals, t))
    exact(upto(base.regimes, t), upto(changed.regimes, t))
    exact(upto(base.targets, t), upto(changed.targets, t))
    exact(upto(base.orders, t), upto(changed.orders, t))
    ranks_a = base.ranks[base.ranks["date"] <= t].reset_index(drop=True)
    ranks_b = changed.ranks[changed.ranks["date"] <= t].reset_index(drop=True)
    exact(ranks_a, ranks_b)  # scores, eligibility, ranks, failures, weights
    for name in ("strategy", "benchmark"):
        a, b = getattr(base, name), getattr(changed, name)
        exact(upto(a.shares, t), upto(b.shares, t))
        exact(upto(a.cash, t), upto(b.cash, t))
        exact(upto(a.value, t), upto(b.value, t))
        exact(trades_upto(a, t), trades_upto(b, t))

    # guard: the rewrite does reach the dates after t (the test is not vacuous)
    after = base.dates > t
    if after.any():
        assert not np.array_equal(
            base.benchmark.value[after].to_numpy(), changed.benchmark.value[after].to_numpy()
        )


@SETTINGS
@given(scenario=money_scenarios(), pick=st.floats(0.0, 1.0))
def test_money_keys_do_not_see_bars_final_after_the_close_of_t(scenario, pick):
    check_nothing_up_to_t_changes(*scenario, pick)


# ---------------------------------------------------------------- (b)


@SETTINGS
@given(scenario=scenarios(), pick=st.floats(0.0, 1.0), on_trade_date=st.booleans())
def test_quantities_traded_on_u_depend_only_on_bars_final_by_the_prior_close_and_u_prices(
    scenario, pick, on_trade_date
):
    check_trades_on_u_read_only_the_past(*scenario, pick, on_trade_date)


def check_trades_on_u_read_only_the_past(
    market,
    config,
    seed: int,
    pick: float,
    on_trade_date: bool,
    series: dict | None = None,
    eves: bool = False,
) -> None:
    """Property (b) at the backtest date picked by `pick` (mostly a trade date; with
    external `series`, their values released after p change too, and with `eves` p is
    a release eve)."""
    base = run(market, config, series)
    cal = base.calendar
    # u: a backtest date with a previous date p in C (the first date of C has none),
    # mostly one on which the strategy trades
    candidates = base.dates[base.dates > cal[0]]
    if eves:
        before = cal[cal.get_indexer(candidates) - 1]
        candidates = candidates[before.isin(near_releases(series, cal))]
    trade_dates = candidates[base.orders.loc[candidates].notna().any(axis=1).to_numpy()]
    if on_trade_date and len(trade_dates):
        candidates = trade_dates
    u = candidates[min(int(pick * len(candidates)), len(candidates) - 1)]
    p = cal[cal.get_loc(u) - 1]
    column = "Open" if config.execution.timing == "next_open" else "Close"
    traded = set(config.universe) | set(config.benchmark)
    keep = {ticker: (u, column) for ticker in traded}
    other_market = perturbed(market, equity_after=p, crypto_from=p, seed=seed, keep=keep)
    changed = run(other_market, config, moved_series(series, p, seed))

    exact(base.orders.loc[[u]], changed.orders.loc[[u]])
    for name in ("strategy", "benchmark"):
        a, b = getattr(base, name).trades, getattr(changed, name).trades
        on_u_a = a[a["date"] == u].reset_index(drop=True)
        on_u_b = b[b["date"] == u].reset_index(drop=True)
        exact(on_u_a, on_u_b)  # same tickers, quantities, fill prices and fees, same order

    # guard: everything else about u did change: its close (next_open) or open (next_close)
    other = "Close" if column == "Open" else "Open"
    assert other_market["AAA"].loc[u, other] != market["AAA"].loc[u, other]
    assert other_market["AAA"].loc[u, column] == market["AAA"].loc[u, column]


# ---------------------------------------------------------------- (a) and (b), external series


@SETTINGS
@given(scenario=series_scenarios(), pick=st.floats(0.0, 1.0), eves=st.booleans())
def test_external_values_released_after_the_close_of_t_change_nothing_up_to_t(scenario, pick, eves):
    market, config, seed, series = scenario
    check_nothing_up_to_t_changes(market, config, seed, pick, series, eves)


@SETTINGS
@given(scenario=series_scenarios(), pick=st.floats(0.0, 1.0), eves=st.booleans())
def test_quantities_traded_on_u_read_no_external_value_released_after_the_prior_close(
    scenario, pick, eves
):
    market, config, seed, series = scenario
    check_trades_on_u_read_only_the_past(market, config, seed, pick, True, series, eves)


def peeking_release_time(lag_days: int):
    """A planted bug: each external value read one day before its release."""
    from engine.config import CloseTime

    return CloseTime.model_construct(time="16:00", tz="America/New_York", day_offset=lag_days - 1)


def test_reading_a_value_a_day_before_its_release_breaks_property_a(monkeypatch):
    """With the planted peek, property (a) at release eves fails (it holds without it:
    the hypothesis tests above)."""
    import engine.calendar

    monkeypatch.setattr(engine.calendar, "release_time", peeking_release_time)
    failed = 0
    for seed in range(4):
        market = random_market(seed, 120)
        series = random_series(seed, market, 15)
        raw = {
            "name": "peek",
            "data": {"source": "csv", "dir": "unused", "start": "2023-01-02",
                     "series": {"MAC": {"lag_days": 15}}},
            "universe": list(EQUITIES),
            "signals": {"mac": mac_signal("level", series["MAC"], 1)},
            "regimes": [{"name": "a", "when": "mac", "weights": {"AAA": 1.0}},
                        {"name": "b", "weights": {"BBB": 1.0}}],
            "benchmark": {"AAA": 1.0},
        }  # fmt: skip
        for pick in (0.3, 0.7):
            try:
                check_nothing_up_to_t_changes(
                    market, config_from_dict(raw), seed, pick, series, True
                )
            except AssertionError:
                failed += 1
    # 3 of these 8 release eves: those a day before a release whose value flips `mac`
    assert failed >= 2, failed


@SETTINGS
@given(scenario=money_scenarios(), pick=st.floats(0.0, 1.0), on_trade_date=st.booleans())
def test_money_keys_trade_on_u_from_the_past_and_u_prices_only(scenario, pick, on_trade_date):
    # the cash yield of u is RATE's return into the date before u: final by its close
    check_trades_on_u_read_only_the_past(*scenario, pick, on_trade_date)
