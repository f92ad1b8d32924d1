"""Which days a market is open: NYSE sessions, crypto's every day, plain weekdays.

Used to tell a real gap in a price series from a weekend or a holiday, to
place synthetic bars, to decide whether a cached series is up to date and to
estimate the sessions `rotation signal` looks ahead to. No network.

* ``nyse`` (US equities and ETFs, ``^`` indexes): the sessions of exchange_calendars'
  ``XNYS`` calendar (its holiday rules, observances and special closures, kept by
  that project), built from `FIRST_DAY` (the data layer's earliest accepted date:
  exchange_calendars' own default starts only 20 years back) to a few years ahead.
  Gaps are checked from `NYSE_RULES_FROM` (1976) on: Yahoo's older index history
  (^GSPC from 1927) follows closures the calendar does not list.
  Early closes (13:00 New York on the day after Thanksgiving, Christmas Eve, ...)
  are known (`early_closes`); the engine still dates every US equity bar at the
  contract's 16:00 New York close for alignment (docs/semantics.md §2), and uses the
  early close only to know that a bar is already final (cache freshness, engine.data.
  freshness), where an earlier instant cannot feed a decision.
* ``crypto`` (Yahoo pairs such as ``BTC-USD``, ``ETH-EUR``; see `is_crypto`): every
  calendar day.
* ``weekdays`` (other markets, ``VOD.L``, ``EURUSD=X``, ``GC=F``): Monday to
  Friday; their holidays are unknown here, so gaps are judged loosely.

exchange_calendars is imported inside the functions that need it (CLI start-up
stays lean); the calendar is built once per process.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache

import pandas as pd

from engine.limits import FIRST_YEAR

NYSE_RULES_FROM = pd.Timestamp("1976-01-01")
FIRST_DAY = pd.Timestamp(FIRST_YEAR, 1, 1)
AHEAD_YEARS = 2  # the calendar reaches at least this many years past today
NEW_YORK = "America/New_York"

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


def _last_year(year: int) -> int:
    """The calendar's last year for a request reaching `year`: at least `AHEAD_YEARS`
    past today, rounded up to a decade so later requests reuse the same calendar."""
    wanted = max(year, dt.date.today().year + AHEAD_YEARS)
    return -(-wanted // 10) * 10


@lru_cache(maxsize=4)
def _xnys(last_year: int):
    """exchange_calendars' XNYS from `FIRST_DAY` to the end of `last_year`."""
    import exchange_calendars

    with warnings.catch_warnings():  # its own use of a pandas API that pandas deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        return exchange_calendars.get_calendar(
            "XNYS", start=FIRST_DAY.date().isoformat(), end=f"{last_year}-12-31"
        )


def _nyse_sessions(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """XNYS sessions from `start` to `end` (weekdays before `FIRST_DAY`, which no
    accepted data reaches)."""
    days = _xnys(_last_year(end.year)).sessions
    inside = days[(days >= start) & (days <= end)]
    if start < FIRST_DAY:
        inside = pd.bdate_range(start, min(end, FIRST_DAY - pd.Timedelta(days=1))).append(inside)
    return inside


def nyse_holidays(start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
    """Weekday NYSE closures from `start` to `end` (inclusive)."""
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    weekdays = pd.bdate_range(start, end)
    return weekdays.difference(_nyse_sessions(start, end)).as_unit("ns")


def early_closes(start: dt.date | str, end: dt.date | str) -> pd.Series:
    """NYSE sessions from `start` to `end` that close before 16:00 New York: session date
    (tz-naive) -> close instant (UTC), e.g. 2024-11-29 -> 13:00 New York."""
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    calendar = _xnys(_last_year(end.year))
    closes = calendar.closes
    closes = closes[(closes.index >= start) & (closes.index <= end)]
    local = closes.dt.tz_convert(NEW_YORK)
    early = (local.dt.hour * 60 + local.dt.minute) < 16 * 60
    return closes[early.to_numpy()].rename("close")


def sessions(kind: str, start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
    """Dates the market of `kind` is open from `start` to `end` (inclusive), tz-naive ns."""
    return _sessions(kind, pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize())


@lru_cache(maxsize=256)
def _sessions(kind: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    if kind == "crypto":
        days = pd.date_range(start, end, freq="D")
    elif kind == "nyse" and start <= end:
        days = pd.DatetimeIndex(_nyse_sessions(start, end).to_numpy())
    else:
        days = pd.bdate_range(start, end)
    return pd.DatetimeIndex(days, name="date").as_unit("ns")


def last_session(kind: str, on_or_before: dt.date | str) -> pd.Timestamp:
    """The latest session of `kind` on or before the given date."""
    end = pd.Timestamp(on_or_before).normalize()
    return sessions(kind, end - pd.Timedelta(days=14), end)[-1]


def missing_between(kind: str, dates: pd.DatetimeIndex) -> list[tuple[int, pd.DatetimeIndex]]:
    """Sessions absent between consecutive `dates` (sorted, unique, tz-naive midnight).

    Returns:
        (position of the row after the gap, the missing sessions) for each gap.
        For ``nyse`` only gaps after `NYSE_RULES_FROM` count (see the module docstring).
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
