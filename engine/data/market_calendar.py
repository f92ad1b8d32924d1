"""Which days a market is open: NYSE sessions, crypto's every day, plain weekdays.

Used to tell a real gap in a price series from a weekend or a holiday, to
place synthetic bars, and to decide whether a cached series is up to date.
No network, no exchange-calendar package: the NYSE rules are written out with
pandas' holiday machinery.

* ``nyse`` (US equities and ETFs, ``^`` indexes): Monday to Friday less the
  NYSE full-day holidays (New Year's Day, Martin Luther King Jr. Day from 1998,
  Washington's Birthday, Good Friday, Memorial Day, Juneteenth from 2022,
  Independence Day, Labor Day, Thanksgiving, Christmas; a Sunday holiday is
  kept on Monday, a Saturday one on Friday except New Year's Day) and the
  special closures listed in `SPECIAL_CLOSURES`. The rules hold from
  `NYSE_RULES_FROM` (1976) on; earlier history is not gap-checked.
* ``crypto`` (Yahoo pairs such as ``BTC-USD``, ``ETH-EUR``; see `is_crypto`): every
  calendar day.
* ``weekdays`` (other markets, ``VOD.L``, ``EURUSD=X``, ``GC=F``): Monday to
  Friday; their holidays are unknown here, so gaps are judged loosely.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd
from pandas.tseries.holiday import (
    MO,
    TH,
    AbstractHolidayCalendar,
    DateOffset,
    GoodFriday,
    Holiday,
    nearest_workday,
    sunday_to_monday,
)

NYSE_RULES_FROM = pd.Timestamp("1976-01-01")

SPECIAL_CLOSURES = pd.DatetimeIndex(
    [
        "1976-11-02",  # election day (a holiday until 1980)
        "1977-07-14",  # New York City blackout
        "1980-11-04",  # election day
        "1985-09-27",  # Hurricane Gloria
        "1994-04-27",  # President Nixon's funeral
        "2001-09-11",
        "2001-09-12",
        "2001-09-13",
        "2001-09-14",  # September 11
        "2004-06-11",  # President Reagan's funeral
        "2007-01-02",  # President Ford's funeral
        "2012-10-29",
        "2012-10-30",  # Hurricane Sandy
        "2018-12-05",  # President G. H. W. Bush's funeral
        "2025-01-09",  # President Carter's funeral
    ]
)


class NYSEHolidays(AbstractHolidayCalendar):
    """NYSE full-day holidays (the recurring rules; special closures are added apart)."""

    rules = [
        Holiday("New Year's Day", month=1, day=1, observance=sunday_to_monday),
        Holiday("MLK Day", month=1, day=1, offset=DateOffset(weekday=MO(3)), start_date="1998"),
        Holiday("Washington's Birthday", month=2, day=1, offset=DateOffset(weekday=MO(3))),
        GoodFriday,
        Holiday("Memorial Day", month=5, day=31, offset=DateOffset(weekday=MO(-1))),
        Holiday("Juneteenth", month=6, day=19, observance=nearest_workday, start_date="2022"),
        Holiday("Independence Day", month=7, day=4, observance=nearest_workday),
        Holiday("Labor Day", month=9, day=1, offset=DateOffset(weekday=MO(1))),
        Holiday("Thanksgiving", month=11, day=1, offset=DateOffset(weekday=TH(4))),
        Holiday("Christmas", month=12, day=25, observance=nearest_workday),
    ]


# Quote currencies of Yahoo's crypto pairs (BTC-USD, ETH-EUR, SOL-USDT, ETH-BTC). A share
# class (BRK-B, BF-A) has a one-letter suffix, so it never matches.
CRYPTO_QUOTES = frozenset(
    "USD USDT USDC EUR GBP JPY CAD AUD CHF KRW CNY INR BRL BTC ETH BNB".split()
)


def is_crypto(ticker: str) -> bool:
    """A crypto pair as Yahoo spells it: <COIN>-<quote currency>, e.g. BTC-USD, ETH-EUR."""
    coin, _, quote = ticker.upper().rpartition("-")
    return bool(coin) and quote in CRYPTO_QUOTES


def calendar_kind(ticker: str) -> str:
    """``crypto`` for Yahoo crypto pairs (`is_crypto`); ``weekdays`` for tickers with an
    exchange suffix (``.L``) or a Yahoo FX/futures mark (``=``); else ``nyse``."""
    symbol = ticker.upper()
    if is_crypto(symbol):
        return "crypto"
    if "." in symbol or "=" in symbol:
        return "weekdays"
    return "nyse"


def universe_kind(tickers) -> str:
    """The calendar of a portfolio of `tickers`: ``crypto`` when every one is crypto,
    ``nyse`` when any trades on the NYSE calendar, else ``weekdays``."""
    kinds = {calendar_kind(t) for t in tickers}
    return "crypto" if kinds == {"crypto"} else "nyse" if "nyse" in kinds else "weekdays"


@lru_cache(maxsize=64)
def _nyse_closed(first_year: int, last_year: int) -> pd.DatetimeIndex:
    start, end = pd.Timestamp(first_year, 1, 1), pd.Timestamp(last_year, 12, 31)
    holidays = NYSEHolidays().holidays(start, end)
    special = SPECIAL_CLOSURES[(SPECIAL_CLOSURES >= start) & (SPECIAL_CLOSURES <= end)]
    return holidays.union(special).as_unit("ns")


def nyse_holidays(start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
    """Weekday NYSE closures from `start` to `end` (inclusive)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    closed = _nyse_closed(start.year, end.year)
    closed = closed[(closed >= start) & (closed <= end) & (closed.day_of_week < 5)]
    return closed


def sessions(kind: str, start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
    """Dates the market of `kind` is open from `start` to `end` (inclusive), tz-naive ns."""
    return _sessions(kind, pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize())


@lru_cache(maxsize=256)
def _sessions(kind: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    if kind == "crypto":
        days = pd.date_range(start, end, freq="D")
    else:
        days = pd.bdate_range(start, end)
        if kind == "nyse" and len(days):
            days = days.difference(nyse_holidays(start, end))
    return pd.DatetimeIndex(days, name="date").as_unit("ns")


def last_session(kind: str, on_or_before: dt.date | str) -> pd.Timestamp:
    """The latest session of `kind` on or before the given date."""
    end = pd.Timestamp(on_or_before).normalize()
    return sessions(kind, end - pd.Timedelta(days=14), end)[-1]


def missing_between(kind: str, dates: pd.DatetimeIndex) -> list[tuple[int, pd.DatetimeIndex]]:
    """Sessions absent between consecutive `dates` (sorted, unique, tz-naive midnight).

    Returns:
        (position of the row after the gap, the missing sessions) for each gap.
        For ``nyse`` only gaps after `NYSE_RULES_FROM` count (older rules are not modelled).
    """
    if len(dates) < 2:
        return []
    first = max(dates[0], NYSE_RULES_FROM) if kind == "nyse" else dates[0]
    if first >= dates[-1]:
        return []
    expected = sessions(kind, first, dates[-1])
    after_prev = expected.searchsorted(dates[:-1], side="right")
    before_next = expected.searchsorted(dates[1:], side="left")
    gaps = []
    for i in (before_next - after_prev).nonzero()[0]:
        gaps.append((int(i) + 1, expected[after_prev[i] : before_next[i]]))
    return gaps
