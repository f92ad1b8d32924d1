"""The metadata record of a cached ticker, and the checks that make a damaged one corrupt.

A record is JSON written by `engine.data.cache.PriceCache.write`; anything else in its
place (not an object, a missing or unknown field, a field of the wrong type or
form, first after last, another ticker's record) is a `CorruptEntry`, handled
like a checksum mismatch: refetched online, an error naming the fix offline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import pandas as pd

from engine.data.validate import PRICE_COLUMNS
from engine.limits import is_symbol


class CorruptEntry(Exception):
    """A cache entry that cannot be trusted; the message says why."""


@dataclass(frozen=True)
class Meta:
    """The metadata record of one cached ticker."""

    ticker: str
    source: str  # "yfinance" or "csv:<file>" (imported)
    fetched_at: str  # ISO 8601, UTC
    first: str
    last: str
    rows: int
    adjusted: bool
    history_from: str | None  # None: full history was asked for
    sha256: str

    @property
    def fetched(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.fetched_at)


def _is_day(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_instant(value: object) -> bool:
    try:
        return dt.datetime.fromisoformat(value).tzinfo is not None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


_FIELD_CHECKS = {
    "ticker": lambda v: isinstance(v, str) and is_symbol(v),
    "source": lambda v: isinstance(v, str) and v != "",
    "fetched_at": _is_instant,
    "first": _is_day,
    "last": _is_day,
    "rows": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "adjusted": lambda v: isinstance(v, bool),
    "history_from": lambda v: v is None or _is_day(v),
    "sha256": lambda v: isinstance(v, str) and len(v) == 64 and set(v) <= set("0123456789abcdef"),
}


def parse_meta(record: object, ticker: str) -> Meta:
    """The metadata record of `ticker` as a `Meta`; `CorruptEntry` names what is wrong."""
    if not isinstance(record, dict):
        raise CorruptEntry(f"its metadata record is a JSON {type(record).__name__}, not an object")
    names = [f.name for f in fields(Meta)]
    missing = [n for n in names if n not in record]
    extra = sorted(str(k) for k in record if k not in names)
    if missing or extra:
        what = f"lacks {missing}" if missing else f"has unknown fields {extra}"
        raise CorruptEntry(f"its metadata record {what}")
    for name, valid in _FIELD_CHECKS.items():
        if not valid(record[name]):
            raise CorruptEntry(f"its metadata record has an invalid {name} ({record[name]!r})")
    if record["ticker"] != ticker or record["first"] > record["last"]:
        raise CorruptEntry(
            f"its metadata record does not fit it (ticker {record['ticker']!r}, "
            f"{record['first']} to {record['last']})"
        )
    return Meta(**record)


def verify_frame(frame: pd.DataFrame, meta: Meta) -> None:
    """The parquet content must be the bars the record describes."""
    if not isinstance(frame.index, pd.DatetimeIndex) or list(frame.columns) != PRICE_COLUMNS:
        raise CorruptEntry(f"its parquet file does not hold {PRICE_COLUMNS} by date")
    span = (str(frame.index[0].date()), str(frame.index[-1].date())) if len(frame) else None
    if len(frame) != meta.rows or span != (meta.first, meta.last):
        raise CorruptEntry("its metadata record does not match the parquet file's dates and rows")
