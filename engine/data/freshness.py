"""When a cached series is up to date, and how a fetched tail joins it (no network).

* A bar is **final** `SETTLE` after its close time (engine.calendar's defaults:
  16:00 New York for equities, or the session's early close, 13:00 on the day after
  Thanksgiving; 00:00 UTC of the next day for ``*-USD``). Bars not final when
  fetched (today's bar during the session) are never stored.
* The **wanted last session** of a ticker is the latest session of its market
  (engine.data.market_calendar) on or before ``data.end`` (or today when ``end`` is
  None, "latest") whose bar is final now.
* A cache entry is **fresh** when its last date reaches the wanted last session,
  or when it was fetched from Yahoo after that session's bar was final (Yahoo had
  nothing newer then: a delisted ticker or an unscheduled closure is not
  refetched on every run). Else it is **stale** and only the tail is fetched.
* A **tail** is fetched from `OVERLAP_DAYS` before the cached last date. With
  ``auto_adjust=True`` a new dividend or split re-scales all earlier adjusted
  prices, so the overlapping rows must agree with the cache to `OVERLAP_RTOL`;
  if they do not, the whole history is fetched again.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from engine.data.cache import Meta
from engine.data.market_calendar import calendar_kind, early_closes, sessions

SETTLE = pd.Timedelta(hours=1)
OVERLAP_DAYS = 10
OVERLAP_RTOL = 1e-6
COMPARED = ["Open", "High", "Low", "Close"]


def close_instants(ticker: str, dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """UTC instants at which the bars labelled `dates` (sorted) become final: the engine's
    default close time, or an NYSE session's early close (13:00 New York on the day after
    Thanksgiving, ...). Only here: knowing a bar is final sooner changes no decision, whose
    alignment keeps the contract's 16:00 (engine.data.market_calendar)."""
    from engine.calendar import close_instants as instants
    from engine.calendar import default_close_time

    final = pd.DatetimeIndex(instants(dates, default_close_time(ticker)), tz="UTC")
    if calendar_kind(ticker) != "nyse" or not len(dates):
        return final
    early = early_closes(dates[0], dates[-1])
    hit = dates.isin(early.index)
    if not hit.any():
        return final
    utc = early.reindex(dates).dt.tz_convert(None).to_numpy("datetime64[ns]")
    return pd.DatetimeIndex(np.where(hit, utc, final.tz_convert(None).to_numpy()), tz="UTC")


def final_rows(frame: pd.DataFrame, ticker: str, now: dt.datetime) -> pd.DataFrame:
    """The rows whose bar was final (close time + SETTLE) at `now`."""
    if frame.empty:
        return frame
    done = close_instants(ticker, frame.index) + SETTLE <= pd.Timestamp(now)
    return frame[np.asarray(done)]


def wanted_last(ticker: str, end: dt.date | None, now: dt.datetime) -> pd.Timestamp:
    """The latest session on or before `end` (or today) whose bar is final at `now`."""
    today = pd.Timestamp(now).tz_convert("UTC").tz_localize(None).normalize()
    limit = min(pd.Timestamp(end), today) if end else today
    kind = calendar_kind(ticker)
    days = sessions(kind, limit - pd.Timedelta(days=20), limit)
    done = close_instants(ticker, days) + SETTLE <= pd.Timestamp(now)
    return days[np.asarray(done)][-1]


def is_fresh(meta: Meta, ticker: str, end: dt.date | None, now: dt.datetime) -> bool:
    """True when the cache needs no fetch for a run ending at `end` (see the docstring)."""
    target = wanted_last(ticker, end, now)
    if pd.Timestamp(meta.last) >= target:
        return True
    if meta.source != "yfinance":  # imported files: their import time says nothing of Yahoo
        return False
    became_final = close_instants(ticker, pd.DatetimeIndex([target]))[0] + SETTLE
    return pd.Timestamp(meta.fetched) >= became_final


def covers_history(meta: Meta, wanted_from: dt.date | None) -> bool:
    """True when the entry's history starts early enough (None: all history is wanted)."""
    if meta.history_from is None:
        return True
    return wanted_from is not None and dt.date.fromisoformat(meta.history_from) <= wanted_from


def tail_start(meta: Meta) -> dt.date:
    """First date of a tail fetch: a few days before the cached end, to compare."""
    return dt.date.fromisoformat(meta.last) - dt.timedelta(days=OVERLAP_DAYS)


def merge_tail(cached: pd.DataFrame, tail: pd.DataFrame) -> pd.DataFrame | None:
    """`cached` with the rows of `tail` after its end; None when they disagree.

    They disagree when no date overlaps (nothing to compare) or when an overlapping
    price differs by more than `OVERLAP_RTOL` (the adjusted history was re-scaled).
    """
    overlap = cached.index.intersection(tail.index)
    if overlap.empty:
        return None
    old = cached.loc[overlap, COMPARED].to_numpy()
    new = tail.loc[overlap, COMPARED].to_numpy()
    if not np.allclose(new, old, rtol=OVERLAP_RTOL, atol=0.0, equal_nan=True):
        return None
    later = tail[tail.index > cached.index[-1]]
    return pd.concat([cached, later]) if len(later) else cached
