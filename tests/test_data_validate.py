"""Bad data: each case of README "Bad data" with its outcome, and the NYSE calendar behind it."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from engine.data import CsvSource, DataError, MemorySource
from engine.data.market_calendar import (
    calendar_kind,
    early_closes,
    missing_between,
    nyse_holidays,
    sessions,
)
from engine.data.validate import MAX_PRICE, MIN_PRICE, Checks, clean, split_name

JANUARY = sessions("nyse", "2024-01-02", "2024-02-29")  # MLK 01-15, Presidents' Day 02-19


def bars(dates, close=None) -> pd.DataFrame:
    dates = pd.DatetimeIndex(dates)
    close = 100 + np.arange(len(dates), dtype=float) if close is None else np.asarray(close, float)
    return pd.DataFrame(
        {"Open": close, "High": close * 1.01, "Low": close * 0.99, "Close": close, "Volume": 1e6},
        index=dates,
    )


def checked(frame, ticker="SPY", **settings) -> pd.DataFrame:
    return clean(frame, ticker, "test", Checks.of(**settings))


def warnings_in(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# ---------------------------------------------------------------- the outcomes table


def test_clean_series_passes_untouched(caplog):
    frame = bars(JANUARY)
    out = checked(frame)
    pd.testing.assert_frame_equal(out, frame.rename_axis("date").astype(float), check_freq=False)
    assert warnings_in(caplog) == []


def test_unsorted_dates_are_sorted_with_a_warning(caplog):
    frame = bars(JANUARY)
    out = checked(frame.iloc[::-1])
    assert out.index.equals(frame.index.rename("date"))
    assert warnings_in(caplog) == [
        "Warning: SPY from test: dates were not in ascending order; sorted them"
    ]


def test_a_duplicated_date_is_an_error_naming_ticker_and_date():
    frame = bars(JANUARY)
    doubled = pd.concat([frame, frame.iloc[[3]]]).sort_index()
    with pytest.raises(DataError, match=r"^SPY from test: date 2024-01-05 appears twice; fix"):
        checked(doubled)


@pytest.mark.parametrize("value", [0.0, -3.5, np.inf])
def test_a_non_positive_close_is_an_error(value):
    frame = bars(JANUARY)
    frame.iloc[4, frame.columns.get_loc("Close")] = value
    with pytest.raises(DataError, match=r"^SPY from test: non-positive close on 2024-01-08"):
        checked(frame)


@pytest.mark.parametrize(
    ("value", "shown", "side"),
    [
        (1e-300, "1e-300", "below the 1e-08"),
        (5e-9, "5e-09", "below the 1e-08"),
        (2e9, "2e+09", "above the 1e+09"),
        (1e300, "1e+300", "above the 1e+09"),
    ],
)
def test_a_close_too_small_or_too_large_to_simulate_is_refused(value, shown, side):
    frame = bars(JANUARY)
    frame.iloc[4, frame.columns.get_loc("Close")] = value
    with pytest.raises(DataError) as error:
        checked(frame)
    assert str(error.value.message) == (
        f"SPY from test: close on 2024-01-08 is {shown}, {side} a simulation can price "
        "exactly (prices from 1e-08 to 1e+09); fix the data"
    )


def test_an_open_too_small_to_simulate_becomes_the_close(caplog):
    frame = bars(JANUARY)
    frame.iloc[2, frame.columns.get_loc("Open")] = 1e-300
    out = checked(frame)
    assert out["Open"].iloc[2] == out["Close"].iloc[2]
    assert "outside the prices a simulation takes on 1 day(s)" in warnings_in(caplog)[0]


@pytest.mark.parametrize("bound", ["lowest", "highest"])
def test_prices_at_the_bounds_simulate_like_the_same_prices_near_one(bound):
    """Scaling a ticker's prices changes no weight, return or statistic: with each
    ticker's lowest close at twice MIN_PRICE, or its highest at half MAX_PRICE, both
    simulations (vectorbt for a run, the numba kernel for a sweep) give what they give
    on the market's own prices, to 1e-9 (the simulations' own tolerance)."""
    import yaml

    from engine import api
    from engine.data import make_source
    from tests.conftest import CONFIGS

    raw = yaml.safe_load((CONFIGS / "demo_synthetic.yaml").read_text())
    raw["data"] |= {"start": "2019-01-02", "end": "2020-12-31"}
    raw["signals"]["ratio_breakout"] |= {"entry": 40, "exit": 20}
    raw["signals"]["eth_risk_on"] |= {"window": 20}
    frames = make_source("synthetic").load(["IWM", "SPY", "ETH-USD"])  # the demo's market
    near_one = MemorySource(frames)
    at_bound = MemorySource({t: _at_bound(f, bound) for t, f in frames.items()})
    plain, bound = api.run(raw, source=near_one), api.run(raw, source=at_bound)
    assert bound.stats["strategy"]["trade_dates"] == plain.stats["strategy"]["trade_dates"] > 2
    for side in ("strategy", "benchmark"):
        for key in ("total_return", "sharpe", "max_drawdown", "fees_paid"):
            assert bound.stats[side][key] == pytest.approx(plain.stats[side][key], rel=1e-9)
    raw["signals"]["ratio_breakout"]["entry"] = [40, 60]
    grid_plain, grid_bound = api.sweep(raw, source=near_one), api.sweep(raw, source=at_bound)
    for key in ("total_return", "sharpe", "fees_paid"):
        assert grid_bound[key].to_numpy() == pytest.approx(grid_plain[key].to_numpy(), rel=1e-9)


def _at_bound(frame: pd.DataFrame, bound: str) -> pd.DataFrame:
    prices = ["Open", "High", "Low", "Close"]
    if bound == "lowest":
        scale = 2 * MIN_PRICE / frame[prices].min().min()
    else:
        scale = MAX_PRICE / 2 / frame[prices].max().max()
    return frame.assign(**{c: frame[c] * scale for c in prices})


def test_a_missing_or_non_positive_open_high_low_becomes_the_close(caplog):
    frame = bars(JANUARY)
    frame.iloc[2, 0] = np.nan  # Open on 2024-01-04
    frame.iloc[6, 2] = 0.0  # Low on 2024-01-10
    out = checked(frame)
    assert out.iloc[2]["Open"] == out.iloc[2]["Close"]
    assert out.iloc[6]["Low"] == out.iloc[6]["Close"]
    assert warnings_in(caplog) == [
        "Warning: SPY from test: open/high/low missing on 1 day(s) and non-positive on 1 day(s) "
        "(first 2024-01-04); set to the close"
    ]


def test_a_missing_close_is_dropped_then_the_gap_rule_fills_it(caplog):
    frame = bars(JANUARY)
    frame.iloc[5, frame.columns.get_loc("Close")] = np.nan  # 2024-01-09
    out = checked(frame)
    assert len(out) == len(frame)
    assert out.loc["2024-01-09", "Close"] == out.loc["2024-01-08", "Close"]
    assert out.loc["2024-01-09", "Volume"] == 0
    assert warnings_in(caplog) == [
        "Warning: SPY from test: 1 missing session(s) forward-filled from the previous close: "
        "2024-01-09 (data.max_fill_days: 3)"
    ]


def test_a_gap_of_max_fill_days_sessions_is_forward_filled(caplog):
    frame = bars(JANUARY).drop(pd.DatetimeIndex(["2024-01-09", "2024-01-10", "2024-01-11"]))
    out = checked(frame)
    assert out.index.equals(JANUARY.rename("date"))
    assert (out.loc["2024-01-09":"2024-01-11", "Close"] == out.loc["2024-01-08", "Close"]).all()
    assert "3 missing session(s) forward-filled" in warnings_in(caplog)[0]


def test_a_longer_gap_is_an_error_naming_both_dates():
    frame = bars(JANUARY).drop(
        pd.DatetimeIndex(["2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"])
    )
    with pytest.raises(DataError) as info:
        checked(frame)
    assert info.value.message == (
        "SPY from test: no prices between 2024-01-08 and 2024-01-16: 4 nyse sessions missing, "
        "more than the 3 allowed; fill the gap in the data or raise data.max_fill_days (now 3)"
    )
    assert len(checked(frame, max_fill_days=4)) == len(JANUARY)  # configurable


def test_max_fill_days_zero_fills_nothing():
    with pytest.raises(DataError, match="1 nyse sessions missing, more than the 0 allowed"):
        checked(bars(JANUARY).drop(pd.Timestamp("2024-01-09")), max_fill_days=0)


def test_holidays_and_weekends_are_not_gaps(caplog):
    out = checked(bars(JANUARY))  # skips MLK day, Presidents' Day, weekends
    assert len(out) == len(JANUARY) and warnings_in(caplog) == []


def test_crypto_gaps_count_every_day():
    days = pd.date_range("2024-01-01", "2024-01-31")
    with pytest.raises(DataError, match="4 crypto sessions missing"):
        checked(bars(days.drop(days[6:10])), "ETH-USD")
    assert len(checked(bars(days.drop(days[6:9])), "ETH-USD")) == len(days)


def test_other_markets_tolerate_unknown_holidays_but_not_long_gaps(caplog):
    days = pd.bdate_range("2024-01-01", "2024-03-29")
    assert calendar_kind("VOD.L") == "weekdays" and calendar_kind("EURUSD=X") == "weekdays"
    out = checked(bars(days.drop(days[10:15])), "VOD.L")  # a week off: a holiday there?
    assert len(out) == len(days) - 5 and warnings_in(caplog) == []
    with pytest.raises(DataError, match="11 weekdays sessions missing, more than the 10 allowed"):
        checked(bars(days.drop(days[10:21])), "VOD.L")


@pytest.mark.parametrize(
    "ratio, name",
    [
        (0.5, "2:1 split"),
        (1 / 3, "3:1 split"),
        (0.2, "5:1 split"),
        (0.1, "10:1 split"),
        (2.0, "1:2 reverse split"),
        (4.03, "1:4 reverse split"),
        (0.491, "2:1 split"),
    ],
)
def test_a_move_like_an_unadjusted_split_is_an_error(ratio, name):
    close = np.full(len(JANUARY), 100.0)
    close[10:] *= ratio
    with pytest.raises(DataError) as info:
        checked(bars(JANUARY, close))
    day = JANUARY[10].date()
    assert f"it looks like an unadjusted {name} on {day}; use split-adjusted prices" in (
        info.value.message
    )
    before = JANUARY[9].date()
    assert info.value.message.startswith(f"SPY from test: close goes from 100 on {before}")
    assert "data.allow_jumps" in info.value.message


def test_split_like_moves_are_allowed_for_listed_tickers_and_crypto():
    close = np.full(len(JANUARY), 100.0)
    close[10:] *= 0.5
    assert len(checked(bars(JANUARY, close), allow_jumps=["SPY"])) == len(JANUARY)
    days = pd.date_range("2024-01-01", "2024-01-31")
    crypto = np.full(len(days), 100.0)
    crypto[10:] *= 0.5
    assert len(checked(bars(days, crypto), "BTC-USD")) == len(days)


def test_large_moves_away_from_split_factors_pass():
    assert split_name(0.53) is None and split_name(1.6) is None and split_name(0.7) is None
    close = np.full(len(JANUARY), 100.0)
    close[10:] *= 0.45  # a real crash, 10% away from 1/2
    assert len(checked(bars(JANUARY, close))) == len(JANUARY)


def test_no_rows_at_all_is_no_data():
    frame = bars(JANUARY)
    frame["Close"] = np.nan
    with pytest.raises(DataError, match=r"^no data for 'SPY' from test: check the symbol$"):
        checked(frame)


def test_memory_source_checks_structure_only_unless_asked():
    frame = bars(JANUARY).drop(
        pd.DatetimeIndex(["2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"])
    )
    assert len(MemorySource({"SPY": frame}).load(["SPY"])["SPY"]) == len(frame)
    with pytest.raises(DataError, match="4 nyse sessions missing"):
        MemorySource({"SPY": frame}, checks=Checks()).load(["SPY"])


def test_csv_source_applies_the_configured_checks(tmp_path):
    frame = bars(JANUARY).drop(
        pd.DatetimeIndex(["2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"])
    )
    frame.rename_axis("Date").to_csv(tmp_path / "SPY.csv")
    with pytest.raises(DataError, match=f"{tmp_path / 'SPY.csv'}: no prices between"):
        CsvSource(tmp_path).load(["SPY"])
    assert len(CsvSource(tmp_path, Checks.of(max_fill_days=5)).load(["SPY"])["SPY"]) == len(JANUARY)


# ---------------------------------------------------------------- the calendar


def test_nyse_holidays_of_2024_and_2025():
    assert [str(d.date()) for d in nyse_holidays("2024-01-01", "2025-12-31")] == [
        "2024-01-01",
        "2024-01-15",
        "2024-02-19",
        "2024-03-29",
        "2024-05-27",
        "2024-06-19",
        "2024-07-04",
        "2024-09-02",
        "2024-11-28",
        "2024-12-25",
        "2025-01-01",
        "2025-01-09",
        "2025-01-20",
        "2025-02-17",
        "2025-04-18",
        "2025-05-26",
        "2025-06-19",
        "2025-07-04",
        "2025-09-01",
        "2025-11-27",
        "2025-12-25",
    ]


@pytest.mark.parametrize(
    "day, closed",
    [
        ("2001-09-11", True),
        ("2001-09-14", True),
        ("2001-09-17", False),
        ("2004-06-11", True),
        ("2007-01-02", True),
        ("2012-10-29", True),
        ("2012-10-30", True),
        ("2018-12-05", True),
        ("2021-06-18", False),  # Juneteenth only from 2022
        ("2022-06-20", True),  # Juneteenth 2022 fell on a Sunday
        ("2021-12-31", False),  # New Year's Day on a Saturday is not moved to Friday
        ("2021-12-24", True),  # Christmas on a Saturday is
        ("2020-07-03", True),
        ("1997-01-20", False),
        ("1998-01-19", True),  # MLK from 1998
        ("2016-03-25", True),
    ],  # Good Friday
)
def test_nyse_special_rules(day, closed):
    assert (pd.Timestamp(day) in nyse_holidays(day, day)) is closed


def test_early_closes_of_2024_are_the_eves_at_13_new_york():
    closes = early_closes("2024-01-01", "2024-12-31")
    assert [str(d.date()) for d in closes.index] == ["2024-07-03", "2024-11-29", "2024-12-24"]
    local = closes.dt.tz_convert("America/New_York")
    assert [t.strftime("%H:%M") for t in local] == ["13:00"] * 3
    assert set(closes.index) <= set(sessions("nyse", "2024-01-01", "2024-12-31"))  # open days


def test_the_nyse_calendar_reaches_from_1900_to_years_ahead():
    # exchange_calendars' own default starts 20 years back: the engine asks for 1900 on
    early = sessions("nyse", "1900-01-01", "1900-01-31")
    assert len(early) > 20 and early[0] >= pd.Timestamp("1900-01-01")
    assert str(sessions("nyse", "1993-01-29", "1993-02-05")[0].date()) == "1993-01-29"
    ahead = pd.Timestamp.today().normalize() + pd.Timedelta(days=500)
    days = sessions("nyse", ahead, ahead + pd.Timedelta(days=14))
    assert len(days) >= 8 and (days.day_of_week < 5).all()


def test_every_nyse_file_has_exactly_the_calendars_sessions_from_1976(shared_data):
    # the exchange calendar against the real prices: not one session missing or extra
    for path in sorted(shared_data.glob("*.csv")):
        if calendar_kind(path.stem) != "nyse":
            continue
        dates = pd.DatetimeIndex(pd.read_csv(path, usecols=["Date"])["Date"])
        dates = dates[dates >= pd.Timestamp("1976-01-01")]
        assert dates.equals(sessions("nyse", dates[0], dates[-1]).rename(None)), path.stem


def test_missing_between_reports_positions_and_sessions():
    dates = JANUARY.drop(pd.DatetimeIndex(["2024-01-12", "2024-01-16"]))
    gaps = missing_between("nyse", dates)
    assert [(str(dates[p - 1].date()), [str(d.date()) for d in m]) for p, m in gaps] == [
        ("2024-01-11", ["2024-01-12", "2024-01-16"])
    ]


def test_every_shared_file_passes_validation_without_repairs(shared_data, caplog):
    tickers = sorted(p.stem for p in shared_data.glob("*.csv"))
    assert {"SPY", "IWM", "ETH-USD", "BTC-USD", "^GSPC"} <= set(tickers)
    frames = CsvSource(shared_data).load(tickers)
    assert all(
        len(frame) == len(pd.read_csv(shared_data / f"{t}.csv")) for t, frame in frames.items()
    )
    assert warnings_in(caplog) == []


# ---------------------------------------------------------------- the settings in a config


def _config(**data):
    from engine.config import config_from_dict

    raw = {
        "name": "t",
        "data": {"source": "csv", "dir": "x", "start": "2024-01-02", **data},
        "universe": ["SPY"],
        "regimes": [{"name": "all", "weights": {"SPY": 1.0}}],
    }
    return config_from_dict(raw, origin="<test>")


def test_data_settings_reach_the_checks():
    from engine.data import make_source

    source = make_source(_config(max_fill_days=5, allow_jumps=["SPY"]).data)
    assert source.checks == Checks.of(max_fill_days=5, allow_jumps=["SPY"])
    assert make_source(_config().data).checks == Checks()


@pytest.mark.parametrize(
    "data, problem",
    [
        ({"max_fill_days": -1}, "data.max_fill_days: must be at least 0"),
        ({"allow_jumps": ["spy"]}, "data.allow_jumps: write 'spy' in capitals"),
        ({"source": "quandl"}, "data.source: must be yfinance, csv or synthetic, not 'quandl'"),
        ({"seed": -2}, "data.seed: must be at least 0"),
    ],
)
def test_bad_data_settings_are_rejected(data, problem):
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match=problem.replace("(", r"\(")):
        _config(**data)
