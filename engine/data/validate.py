"""Checks every loaded price series and repairs what can safely be repaired.

`clean(frame, ticker, origin, checks)` returns the series in the engine's shape
(tz-naive ns ``DatetimeIndex`` named ``date``, float64 ``Open, High, Low, Close,
Volume``) or raises `DataError` naming the ticker, the origin and the date.
Outcomes, in the order applied (docs/data.md "Bad data" has the same table):

1. a row without a close is dropped (the gap rule below then judges the hole);
2. no rows left: error "no data for 'T' from ORIGIN: check the symbol";
3. dates out of order: sorted, with a warning;
4. a date twice: error;
5. a close that is zero, negative, infinite, or outside [`MIN_PRICE`, `MAX_PRICE`] (the
   prices a simulation takes exactly: see there): error naming the date and the value
   (so is a date outside the years `YEARS`);
6. an open/high/low missing, zero, negative, infinite or outside [`MIN_PRICE`,
   `MAX_PRICE`]: set to that day's close, with a warning (``next_open`` fills are
   always finite);
7. (calendar checks) a one-day close ratio within 2% of 2, 3, 4, 5, 10 or their
   inverses on a non-crypto ticker not in ``data.allow_jumps``: error, it looks
   like an unadjusted split;
8. (calendar checks) sessions missing between two rows (`engine.data.market_calendar`):
   at most ``max_fill_days`` of them are forward-filled from the previous close
   (volume 0) with a warning; more is an error naming both dates. For markets
   whose holidays are unknown (``weekdays``) up to `WEEKDAY_SLACK` missing weekdays
   pass unchanged and more is an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.data.market_calendar import calendar_kind, missing_between
from engine.errors import DataError
from engine.limits import YEARS
from engine.notices import warn

PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Volume"]
SPLIT_FACTORS = (2, 3, 4, 5, 10)
SPLIT_TOLERANCE = 0.02  # relative distance of a close ratio from a split factor
WEEKDAY_SLACK = 10  # missing weekdays tolerated where the holidays are unknown
MIN_PRICE = 1e-8
MAX_PRICE = 1e9
"""The prices the simulation can take exactly, in the data's currency units (one share).

A close outside [MIN_PRICE, MAX_PRICE] is refused; an open, high or low outside it is
set to the close. Why these bounds: both simulations (vectorbt and engine.sim.fastsim)
count a price, a cash amount or a share position within 1e-12 of zero as zero, and
refuse to size an order at a price they count as zero (vectorbt raises for a close of
1e-12). At MIN_PRICE a price is 10,000 times that tolerance, so no fill or valuation
price is ever taken for zero; at MAX_PRICE the 1e-12 shares that count as none are
worth at most 0.001 currency units, so no position of a tenth of a cent is dropped.
Between them, every ratio of two prices (returns, signal ratios such as IWM/SPY) is
within 1e17, position sizes stay below 1e23 shares at the largest initial cash
(engine.limits.MAX_INITIAL_CASH), and returns, fees and values stay finite. Real quotes
lie well inside: the smallest crypto tokens trade near 1e-8 (quote them per thousand
or per million units below it), the dearest stocks near 1e6. engine.data.csvfiles also
refuses cells above 1e12 with their line number.
"""


@dataclass(frozen=True)
class Checks:
    """What `clean` checks beyond the structure of the data.

    Attributes:
        max_fill_days: longest run of missing sessions forward-filled (0: none).
        allow_jumps: tickers exempt from the split-like move check.
        calendar: run the split and gap checks (7, 8); False for hand-made frames.
    """

    max_fill_days: int = 3
    allow_jumps: frozenset[str] = field(default_factory=frozenset)
    calendar: bool = True

    @classmethod
    def of(cls, max_fill_days: int = 3, allow_jumps: Iterable[str] = ()) -> Checks:
        return cls(max_fill_days=max_fill_days, allow_jumps=frozenset(allow_jumps))


DEFAULT_CHECKS = Checks()
STRUCTURE_ONLY = Checks(calendar=False)


def clean(
    frame: pd.DataFrame, ticker: str, origin: str, checks: Checks = DEFAULT_CHECKS
) -> pd.DataFrame:
    """The series in the engine's shape, checked and repaired (see the module docstring)."""
    frame = _standard_shape(frame, ticker, origin)
    frame = frame[frame["Close"].notna()]
    if frame.empty:
        raise DataError(f"no data for {ticker!r} from {origin}: check the symbol")
    if not frame.index.is_monotonic_increasing:
        warn(f"{ticker} from {origin}: dates were not in ascending order; sorted them")
        frame = frame.sort_index(kind="stable")
    if frame.index.has_duplicates:
        day = frame.index[frame.index.duplicated()][0].date()
        raise DataError(f"{ticker} from {origin}: date {day} appears twice; fix the data")
    _reject_bad_closes(frame, ticker, origin)
    frame = _repair_open_high_low(frame, ticker, origin)
    if checks.calendar:
        if ticker not in checks.allow_jumps:
            _reject_split_jumps(frame, ticker, origin)
        frame = _fill_gaps(frame, ticker, origin, checks.max_fill_days)
    return frame


def _standard_shape(frame: pd.DataFrame, ticker: str, origin: str) -> pd.DataFrame:
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{ticker} from {origin}: missing columns {missing}; found {list(frame.columns)}, "
            f"need {PRICE_COLUMNS}"
        )
    try:
        index = pd.DatetimeIndex(frame.index)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{ticker} from {origin}: the index is not dates ({exc})") from None
    if index.tz is not None:
        index = index.tz_localize(None)
    out = frame[PRICE_COLUMNS].astype("float64")
    out.index = index.normalize().as_unit("ns").rename("date")
    return out


def _reject_bad_closes(frame: pd.DataFrame, ticker: str, origin: str) -> None:
    years = frame.index.year
    outside = (years < YEARS[0]) | (years > YEARS[1])
    if outside.any():
        day = frame.index[outside][0].date()
        raise DataError(
            f"{ticker} from {origin}: date {day} lies outside the years {YEARS[0]} to "
            f"{YEARS[1]}; fix the data"
        )
    close = frame["Close"].to_numpy()
    bad = ~np.isfinite(close) | (close <= 0)
    if bad.any():
        day = frame.index[bad][0].date()
        raise DataError(
            f"{ticker} from {origin}: non-positive close on {day} ({close[bad][0]:g}); "
            + _fix(origin)
        )
    outside = (close > MAX_PRICE) | (close < MIN_PRICE)
    if outside.any():
        day, value = frame.index[outside][0].date(), close[outside][0]
        side = f"above the {MAX_PRICE:g}" if value > MAX_PRICE else f"below the {MIN_PRICE:g}"
        raise DataError(
            f"{ticker} from {origin}: close on {day} is {value:g}, {side} a simulation "
            f"can price exactly (prices from {MIN_PRICE:g} to {MAX_PRICE:g}); " + _fix(origin)
        )


def _fix(origin: str) -> str:
    if origin == "yfinance":  # nothing was cached: the next run asks again
        return "Yahoo sent a bad price: try again later, or supply the ticker with --data-dir DIR"
    return "fix the data"


def _repair_open_high_low(frame: pd.DataFrame, ticker: str, origin: str) -> pd.DataFrame:
    """A missing, non-positive or non-finite open/high/low becomes the close (next_open fills
    are always finite)."""
    parts = frame[["Open", "High", "Low"]]
    blank, negative = parts.isna(), parts <= 0
    wild = ~blank & ~negative & ~((parts >= MIN_PRICE) & (parts <= MAX_PRICE))  # or infinite
    bad = blank | negative | wild
    if not bad.any().any():
        return frame
    frame = frame.copy()
    for column in ("Open", "High", "Low"):
        frame[column] = frame[column].where(~bad[column], frame["Close"])
    rows = bad.any(axis=1).to_numpy()
    counts = [
        f"{label} on {int(mask.any(axis=1).sum())} day(s)"
        for label, mask in (
            ("missing", blank),
            ("non-positive", negative),
            ("infinite or outside the prices a simulation takes", wild),
        )
        if mask.any().any()
    ]
    warn(
        f"{ticker} from {origin}: open/high/low {' and '.join(counts)} "
        f"(first {frame.index[rows][0].date()}); set to the close"
    )
    return frame


def split_name(ratio: float) -> str | None:
    """'2:1 split' for a close ratio near 1/2, '1:2 reverse split' near 2, else None."""
    for factor in SPLIT_FACTORS:
        if abs(ratio * factor - 1) <= SPLIT_TOLERANCE:
            return f"{factor}:1 split"
        if abs(ratio / factor - 1) <= SPLIT_TOLERANCE:
            return f"1:{factor} reverse split"
    return None


def _reject_split_jumps(frame: pd.DataFrame, ticker: str, origin: str) -> None:
    if calendar_kind(ticker) == "crypto" or len(frame) < 2:
        return
    close = frame["Close"].to_numpy()
    ratio = close[1:] / close[:-1]
    near = np.zeros(len(ratio), dtype=bool)
    for factor in SPLIT_FACTORS:
        near |= np.abs(ratio * factor - 1) <= SPLIT_TOLERANCE
        near |= np.abs(ratio / factor - 1) <= SPLIT_TOLERANCE
    if not near.any():
        return
    i = int(np.flatnonzero(near)[0])
    day, before = frame.index[i + 1].date(), frame.index[i].date()
    raise DataError(
        f"{ticker} from {origin}: close goes from {close[i]:g} on {before} to "
        f"{close[i + 1]:g} on {day} (x{ratio[i]:.3f}); it looks like an unadjusted "
        f"{split_name(ratio[i])} on {day}; use split-adjusted prices (or list {ticker} in "
        "data.allow_jumps if the move is real)"
    )


def _fill_gaps(frame: pd.DataFrame, ticker: str, origin: str, max_fill: int) -> pd.DataFrame:
    kind = calendar_kind(ticker)
    gaps = missing_between(kind, frame.index)
    limit = WEEKDAY_SLACK if kind == "weekdays" else max_fill
    for pos, missing in gaps:
        if len(missing) > limit:
            first, last = frame.index[pos - 1].date(), frame.index[pos].date()
            fix = (
                "fill the gap in the data"
                if kind == "weekdays"
                else f"fill the gap in the data or raise data.max_fill_days (now {max_fill})"
            )
            raise DataError(
                f"{ticker} from {origin}: no prices between {first} and {last}: "
                f"{len(missing)} {kind} sessions missing, more than the {limit} allowed; {fix}"
            )
    if kind == "weekdays" or not gaps:
        return frame
    added = pd.DatetimeIndex(np.concatenate([m.asi8 for _, m in gaps])).as_unit("ns")
    filled = frame.reindex(frame.index.union(added))
    previous = filled["Close"].ffill()
    for column in ("Open", "High", "Low", "Close"):
        filled[column] = filled[column].fillna(previous)
    filled["Volume"] = filled["Volume"].fillna(0.0)
    shown = ", ".join(str(d.date()) for d in added[:5]) + (" ..." if len(added) > 5 else "")
    warn(
        f"{ticker} from {origin}: {len(added)} missing session(s) forward-filled from the "
        f"previous close: {shown} (data.max_fill_days: {max_fill})"
    )
    return filled.rename_axis("date")
