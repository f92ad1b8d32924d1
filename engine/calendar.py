"""Close times and as-of alignment of one calendar onto another (docs/semantics.md §2-3).

Every daily bar has a *close time*: the instant (UTC nanoseconds here) it
becomes final. A value from a series is usable at a trading date `t` only if
its bar's close time is <= the close time of `t`. This module is the one
place that rule lives; strategies never shift data themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from engine.config import CloseTime, Config
from engine.data.market_calendar import is_crypto  # the one rule for what is crypto

EQUITY_CLOSE = CloseTime(time="16:00", tz="America/New_York", day_offset=0)
# yfinance labels a crypto bar by its UTC day: bar d is final at 00:00 UTC of d+1.
CRYPTO_CLOSE = CloseTime(time="00:00", tz="UTC", day_offset=1)


def default_close_time(ticker: str) -> CloseTime:
    return CRYPTO_CLOSE if is_crypto(ticker) else EQUITY_CLOSE


def release_time(lag_days: int) -> CloseTime:
    """When a value of an external series is final (docs/series.md): 16:00 New York on
    its date + `lag_days` calendar days. Built without `CloseTime`'s validation, whose
    week-long cap on `day_offset` is for price bars: a release lag may be months."""
    return CloseTime.model_construct(time="16:00", tz="America/New_York", day_offset=lag_days)


def close_overrides(config: Config) -> dict[str, CloseTime]:
    """The close-time overrides of every series a signal may read: `data.close_times`,
    and each external series' release time (the config refuses a close time for one)."""
    releases = {name: release_time(s.lag_days) for name, s in config.data.series.items()}
    return {**config.data.close_times, **releases}


def close_instants(dates: pd.DatetimeIndex, close: CloseTime) -> np.ndarray:
    """UTC instants (int64 ns) at which the bars labelled `dates` become final.

    Never before the start of a bar's own label date in `close.tz`: `CloseTime`
    holds `day_offset` to 0..7, and a DST change only moves an instant later.
    """
    hours, minutes = (int(part) for part in close.time.split(":"))
    local = dates + pd.Timedelta(days=close.day_offset, hours=hours, minutes=minutes)
    # A wall time skipped or repeated by a DST change is taken as the later instant.
    stamped = local.tz_localize(close.tz, nonexistent="shift_forward", ambiguous=False)
    return stamped.tz_convert("UTC").as_unit("ns").asi8


def ticker_close_instants(
    ticker: str, dates: pd.DatetimeIndex, overrides: Mapping[str, CloseTime]
) -> np.ndarray:
    """Close instants of one ticker's bars (config override, else the default)."""
    return close_instants(dates, overrides.get(ticker) or default_close_time(ticker))


def series_close_instants(
    series: str, dates: pd.DatetimeIndex, overrides: Mapping[str, CloseTime]
) -> np.ndarray:
    """Close instants of a ticker or ratio `A/B`: a ratio bar is final when both legs are."""
    if series in overrides:
        return close_instants(dates, overrides[series])
    legs = series.split("/")
    return np.max([ticker_close_instants(leg, dates, overrides) for leg in legs], axis=0)


def trading_calendar(
    frames: Mapping[str, pd.DataFrame],
    universe: Sequence[str],
    overrides: Mapping[str, CloseTime],
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Calendar C: dates on which every traded asset has a price, and each date's close time.

    Returns:
        (dates, close instants in UTC ns): the close time of `t` is the latest
        close time among the traded assets on `t`.
    """
    dates = frames[universe[0]].index
    for ticker in universe[1:]:
        dates = dates.intersection(frames[ticker].index)
    instants = np.max([ticker_close_instants(t, dates, overrides) for t in universe], axis=0)
    return dates, instants


def align_asof(
    values: pd.Series | np.ndarray, value_instants: np.ndarray, target_instants: np.ndarray
) -> np.ndarray:
    """Value of the latest bar final at or before each target instant; False if none yet.

    Args:
        values: booleans on their own calendar (ascending), 1-D or [bars, columns].
        value_instants: close instant of each of its bars (ascending, UTC ns).
        target_instants: close instants of the trading dates.
    """
    position = np.searchsorted(value_instants, target_instants, side="right") - 1
    source = np.asarray(values, dtype=bool)
    usable = (position >= 0).reshape((-1,) + (1,) * (source.ndim - 1))
    return np.where(usable, source[np.maximum(position, 0)], False)


def align_asof_values(
    values: np.ndarray, value_instants: np.ndarray, target_instants: np.ndarray
) -> np.ndarray:
    """Like `align_asof` for real values (scores): the latest bar final at or before each
    target instant, NaN where there is none yet. `values` is [bars, ...]."""
    position = np.searchsorted(value_instants, target_instants, side="right") - 1
    source = np.asarray(values, dtype=float)
    usable = (position >= 0).reshape((-1,) + (1,) * (source.ndim - 1))
    return np.where(usable, source[np.maximum(position, 0)], np.nan)


DECIDE_PERIODS = ("weekly", "monthly", "quarterly", "annual")


def period_keys(dates: pd.DatetimeIndex, decide: str) -> np.ndarray:
    """[dates] an integer per date naming its decision period, increasing with the date:
    ISO year and week (`weekly`), year and month, quarter (`quarterly`) or year."""
    if decide == "weekly":
        iso = dates.isocalendar()
        return iso["year"].to_numpy(dtype=np.int64) * 100 + iso["week"].to_numpy(dtype=np.int64)
    if decide == "monthly":
        return np.asarray(dates.year * 12 + dates.month, dtype=np.int64)
    if decide == "quarterly":
        return np.asarray(dates.year * 4 + (dates.month - 1) // 3, dtype=np.int64)
    if decide == "annual":
        return np.asarray(dates.year, dtype=np.int64)
    raise ValueError(f"unknown decision schedule {decide!r}")


def decision_mask(dates: pd.DatetimeIndex, decide: str, day: int = -1) -> np.ndarray:
    """True on the decision dates of the calendar `dates` (docs/semantics.md, decision
    schedule): every date (`daily`), or one date of each ISO week (`weekly`), calendar
    month, quarter or year: the `day`-th date of the period (1 = its first), or for
    `day` <= -1 the |day|-th from its last (-1 = the last date, the default).

    A period with fewer than |day| dates decides on its last date (day >= 1) or its first
    (day <= -1). A choice that needs the period's last date (every day <= -1, and
    day >= 1 in a period with fewer than `day` dates) is known only when the next date
    falls in a later period: the final period of `dates` then has no decision date, and
    the final date is a decision date only for `daily` (or a `day` >= 1 reached on it).
    """
    if decide == "daily":
        return np.ones(len(dates), dtype=bool)
    period = period_keys(dates, decide)
    mask = np.zeros(len(dates), dtype=bool)
    if not len(dates):
        return mask
    starts = np.flatnonzero(np.concatenate([[True], period[1:] != period[:-1]]))
    ends = np.append(starts[1:], len(dates))  # one past each period's last date
    count, complete = ends - starts, ends < len(dates)
    if day >= 1:
        enough = count >= day
        position = np.where(enough, starts + day - 1, ends - 1)
        known = enough | complete
    else:
        position = np.where(count >= -day, ends + day, starts)
        known = complete
    mask[position[known]] = True
    return mask
