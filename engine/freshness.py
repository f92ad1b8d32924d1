"""How fresh an answer of `rotation signal` is (engine/live.py).

* `sessions_behind`: market sessions after the latest close in the data and before
  today's date, on the market calendar of the traded assets
  (engine.data.market_calendar: NYSE sessions when a US ticker is traded, every day for
  an all-crypto universe, else weekdays). Today's own session is not counted: its close
  may not have come yet. The answer is `stale` when any session is missing.
* `lagging`: the traded assets and min_score threshold tickers whose latest bar is older
  than the others' latest, by at least one session of the ticker's own calendar (a
  stock's Friday bar does not lag a crypto pair's Sunday bar). `run_latest` then answers
  for the latest date all of them have, and says so.

"Today" is the machine's date, or `$ROTATION_TODAY` (YYYY-MM-DD) when set, so a test or a
scheduled job can fix it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from engine.data.market_calendar import calendar_kind, sessions
from engine.errors import RotationError

TODAY_ENV = "ROTATION_TODAY"


def today(environ: Mapping[str, str] | None = None) -> dt.date:
    """`$ROTATION_TODAY` (YYYY-MM-DD) when set, else the machine's date.

    Raises:
        RotationError: the variable is set to anything but a date YYYY-MM-DD.
    """
    given = (os.environ if environ is None else environ).get(TODAY_ENV)
    if given is None:
        return dt.date.today()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", given):
            raise ValueError
        return dt.date.fromisoformat(given)
    except ValueError:
        raise RotationError(
            f"{TODAY_ENV}={given[:40]!r}: must be a date written YYYY-MM-DD, or unset for "
            "the machine's date"
        ) from None


def sessions_behind(as_of: pd.Timestamp, on: dt.date, kind: str) -> int:
    """Sessions of `kind` after `as_of` and before the date `on` (0 when `on` is not
    after the session following `as_of`)."""
    first, last = as_of.normalize() + pd.Timedelta(days=1), pd.Timestamp(on) - pd.Timedelta(days=1)
    return 0 if last < first else len(sessions(kind, first, last))


@dataclass(frozen=True)
class Lag:
    """A ticker whose latest bar is older than the others': `behind` sessions of its own
    calendar before `latest`, the latest bar among the tickers compared."""

    ticker: str
    role: str  # "asset" or the min_score field naming it
    last: pd.Timestamp
    latest: pd.Timestamp
    behind: int


def lagging(config, prices: Mapping[str, pd.DataFrame]) -> list[Lag]:
    """The traded assets and threshold tickers whose latest bar lags (module docstring)."""
    roles = {t: "asset" for t in config.universe}
    roles |= {t: field for t, field in config.thresholds().items() if t not in roles}
    lasts = {t: prices[t].index[-1] for t in roles if t in prices and len(prices[t])}
    if not lasts:
        return []
    latest = max(lasts.values())
    lags = []
    for ticker, last in lasts.items():
        kind = calendar_kind(ticker)
        behind = len(sessions(kind, last + pd.Timedelta(days=1), latest)) if last < latest else 0
        if behind:
            lags.append(Lag(ticker, roles[ticker], last, latest, behind))
    return lags


def lag_warning(lag: Lag, answer: pd.Timestamp) -> str:
    """'IWM's latest bar is 2024-03-26, 1 session older than the others' (2024-03-27): ...'."""
    who = lag.ticker if lag.role == "asset" else f"{lag.ticker} ({lag.role})"
    sessions_text = f"{lag.behind} session{'s' if lag.behind != 1 else ''}"
    return (
        f"{who}: latest bar {lag.last.date()}, {sessions_text} older than the others' "
        f"({lag.latest.date()}); the answer is for {answer.date()}, the latest date all "
        "traded assets and thresholds have"
    )


def run_latest(config, source):
    """The run of `config` (its `data.end` already dropped) to the latest date that all
    its traded assets and min_score thresholds have, and one warning per lagging ticker.

    The calendar of a run already ends where every traded asset has a price; a lagging
    threshold ticker would only be read as of its last bar, so then the run is repeated
    on the prices cut at the common date.

    Returns:
        (BacktestResult, warnings).
    """
    from engine.data import MemorySource
    from engine.runner import run_backtest

    result = run_backtest(config, source)
    lags = lagging(config, result.prices)
    if not lags:
        return result, []
    common = min(lag.last for lag in lags)
    if common < result.calendar[-1]:
        cut = {t: frame.loc[:common] for t, frame in result.prices.items()}
        result = run_backtest(config, MemorySource(cut))
    return result, [lag_warning(lag, result.calendar[-1]) for lag in lags]
