"""Reading one ticker's daily bars from a CSV file, in the shapes people actually have.

Accepted (header names in any letter case; extra columns such as Dividends or
Stock Splits are ignored):

* ``Date,Open,High,Low,Close,Adj Close,Volume`` (Yahoo's download button;
  ``Adj Close`` optional, also spelled ``adj_close``);
* ``date,open,high,low,close,volume``;
* ``Ticker.history().to_csv()``: dates such as ``2024-01-02 00:00:00-05:00``
  (the date part is the bar's label);
* ``yfinance.download(...).to_csv()``: two header rows ``Price,...`` and
  ``Ticker,...`` (either order) and a ``Date,,,`` row; the columns of the file's
  own ticker are read (or of its only ticker).

Cells: dates must be real calendar dates in the years `YEARS`; a blank, ``null``
or ``NaN`` price is missing (a row without a close is dropped and the gap rule
judges the hole); any other text, an infinite number or one beyond `MAX_PRICE`
(`MAX_VOLUME` for volume) is an error naming the line. With ``Adj Close``, a raw
close that is zero or negative is an error (the adjustment divides by it).

Before anything is parsed, the path must be a regular file (a FIFO, device or
folder is refused without being read) of at most `MAX_BYTES`, `MAX_COLUMNS` and
`MAX_ROWS`: far beyond any real daily history, so a wrong file fails fast.
"""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DataError
from engine.limits import YEARS

NEEDED = ["date", "open", "high", "low", "close", "volume"]
NAMES = {"date": "Date", "open": "Open", "high": "High", "low": "Low", "close": "Close",
         "adj close": "Adj Close", "volume": "Volume"}  # fmt: skip
MISSING_TEXT = {"", "null", "nan", "none", "n/a"}
_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
MAX_PRICE = 1e12  # above any real quote; larger numbers would overflow the adjustments
MAX_VOLUME = 1e15
MAX_BYTES = 64 * 2**20  # ^GSPC daily since 1927 is under 2 MiB
MAX_COLUMNS = 64  # a yfinance export of up to 12 tickers (1 + 5 per ticker)
MAX_ROWS = 200_000  # ~800 years of daily bars
SHAPES = (
    "Date, Open, High, Low, Close, Volume (Adj Close optional; any letter case), "
    "or a yfinance CSV export (Price and Ticker header rows)"
)


def _key(name: str) -> str:
    return " ".join(str(name).strip().lower().replace("_", " ").split())


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "a special file"


def _not_regular(path: Path, mode: int) -> DataError:
    return DataError(f"{path}: is {_kind(mode)}, not a regular file; put the CSV file itself there")


def _too_big(path: Path, size: int, what: str) -> DataError:
    return DataError(
        f"{path}: {size / 2**20:.0f} MiB, more than the {MAX_BYTES >> 20} MiB {what} "
        "can need; is it the right file?"
    )


def read_bytes(path: Path, what: str = "a daily price file") -> bytes:
    """The file's bytes, refused unread when it is not a regular file or too large
    (`what` names the kind of file in that error).

    `stat` comes first so a FIFO or device is never opened (opening a FIFO blocks
    until a writer appears); the open is non-blocking and re-checked against a swap.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        if info.st_size > MAX_BYTES:
            raise _too_big(path, info.st_size, what)
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(handle, "rb") as stream:
            mode = os.fstat(stream.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(path, mode)
            blob = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DataError(
            f"{path}: cannot read it ({exc.strerror or exc}); check the path and its permissions"
        ) from None
    if len(blob) > MAX_BYTES:
        raise _too_big(path, len(blob), what)
    return blob


def _check_extent(blob: bytes, path: Path) -> None:
    """Refuse a file too wide or too long to be daily prices before pandas parses it."""
    first = blob.split(b"\n", 1)[0]
    columns = first.count(b",") + 1
    if columns > MAX_COLUMNS:
        raise DataError(
            f"{path}: {columns} columns, more than the {MAX_COLUMNS} a price file can have; "
            "save one ticker per file"
        )
    lines = max(blob.count(b"\n"), blob.count(b"\r"))
    if lines > MAX_ROWS:
        raise DataError(
            f"{path}: {lines:,} lines, more than the {MAX_ROWS:,} rows a daily price file can "
            "have; is it the right file?"
        )


def _table(path: Path) -> pd.DataFrame:
    blob = read_bytes(path)
    _check_extent(blob, path)
    try:
        return pd.read_csv(io.BytesIO(blob), dtype=str, header=None, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; it needs a header row and prices") from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it as CSV ({' '.join(str(exc).split())})") from None


def _yfinance_export(table: pd.DataFrame, path: Path, ticker: str) -> tuple[list[str], int, list]:
    """(column names, first data row, kept column positions) of a yfinance download export."""
    first, second = _key(table.iat[0, 0]), _key(table.iat[1, 0])
    price_row, ticker_row = (0, 1) if first == "price" else (1, 0)
    if {first, second} != {"price", "ticker"} or _key(table.iat[2, 0]) != "date":
        raise DataError(f"{path}: unrecognised header rows; need {SHAPES}")
    symbols = [str(s).strip() for s in table.iloc[ticker_row, 1:]]
    present = sorted(set(symbols))
    chosen = ticker if ticker in present else present[0] if len(present) == 1 else None
    if chosen is None:
        raise DataError(
            f"{path}: a yfinance export of {present} without {ticker!r}; "
            f"export {ticker} alone or name the file after one of them"
        )
    keep = [0] + [i + 1 for i, s in enumerate(symbols) if s == chosen]
    names = ["date"] + [_key(table.iat[price_row, i]) for i in keep[1:]]
    return names, 3, keep


def read_table(path: Path, ticker: str) -> tuple[pd.DataFrame, int]:
    """The file as text cells under canonical names, and the file line of its first row."""
    table = _table(path)
    if len(table) >= 3 and _key(table.iat[0, 0]) in ("price", "ticker"):
        names, start, keep = _yfinance_export(table, path, ticker)
        header = table.iloc[0 if _key(table.iat[0, 0]) == "price" else 1]
    else:
        names, start, keep = [_key(c) for c in table.iloc[0]], 1, list(range(table.shape[1]))
        header = table.iloc[0]
    found = [str(c) for c in header]
    missing = [NAMES[c] for c in NEEDED if c not in names]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; found {found}, need {SHAPES}")
    _refuse_repeats(names, [found[i] for i in keep], path)
    body = table.iloc[start:, keep].reset_index(drop=True)
    body.columns = names
    body = body.loc[:, ~body.columns.duplicated()]  # repeated extra columns are ignored anyway
    wanted = [c for c in NAMES if c in body.columns]
    return body[wanted].rename(columns=NAMES), start + 1


def _refuse_repeats(names: list[str], labels: list[str], path: Path) -> None:
    """A column read twice (``Close`` and ``close ``) is ambiguous: refuse it."""
    seen: dict[str, str] = {}
    for name, label in zip(names, labels, strict=True):
        if name in NAMES and name in seen:
            raise DataError(
                f"{path}: column {NAMES[name]!r} appears twice in the header ({seen[name]!r} "
                f"and {label!r}); keep one"
            )
        seen[name] = label


def parse_dates(cells: pd.Series, path: Path, first_line: int) -> pd.DatetimeIndex:
    """Date cells -> dates (the date part of each), or an error naming the first bad row."""
    text = cells.str.strip()
    parts = text.str.extract(_DATE, expand=False)
    years = pd.to_numeric(parts.str[:4], errors="coerce").to_numpy(dtype=float)
    outside = (years < YEARS[0]) | (years > YEARS[1])
    dates = pd.to_datetime(parts.where(~outside), format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        rule = (
            f"dates must lie in the years {YEARS[0]} to {YEARS[1]}"
            if outside[row]
            else "dates must be YYYY-MM-DD (a time and offset after it are allowed)"
        )
        raise DataError(f"{path}: row {row + first_line} has date {text.iloc[row]!r}; {rule}")
    return pd.DatetimeIndex(dates, name="Date")


def parse_cells(body: pd.DataFrame, path: Path, first_line: int) -> pd.DataFrame:
    """Text cells -> dates and floats; text that is neither a number nor blank is an error."""
    dates = parse_dates(body["Date"], path, first_line)
    out = pd.DataFrame(index=dates)
    for column in [c for c in body.columns if c != "Date"]:
        text = body[column].str.strip()
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna().to_numpy() & ~text.str.lower().isin(MISSING_TEXT).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}: {column} on {dates[row].date()} (row {row + first_line}) is "
                f"{text.iloc[row]!r}, not a number; fix or delete that row"
            )
        numbers = values.to_numpy(dtype=float)
        _refuse_wild(numbers, column, text, dates, path, first_line)
        out[column] = numbers
    return out


def _refuse_wild(
    numbers: np.ndarray,
    column: str,
    text: pd.Series,
    dates: pd.DatetimeIndex,
    path: Path,
    first_line: int,
) -> None:
    """An infinite number, or one beyond any real price or volume, would overflow later."""
    limit = MAX_VOLUME if column == "Volume" else MAX_PRICE
    with np.errstate(invalid="ignore"):
        wild = np.isinf(numbers) | (np.abs(numbers) > limit)
    if wild.any():
        row = int(np.flatnonzero(wild)[0])
        raise DataError(
            f"{path}: {column} on {dates[row].date()} (row {row + first_line}) is "
            f"{text.iloc[row]!r}, not a finite number within {limit:g}; fix or delete that row"
        )


def _refuse_unscalable(raw: pd.DataFrame, path: Path, first_line: int) -> None:
    """With Adj Close, a zero or negative raw Close cannot give the factor Adj Close / Close."""
    close, adjusted = raw["Close"].to_numpy(), raw["Adj Close"].to_numpy()
    with np.errstate(invalid="ignore"):
        bad = (close <= 0) & ~np.isnan(adjusted)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: Close on {raw.index[row].date()} (row {row + first_line}) is "
            f"{close[row]:g} while Adj Close is {adjusted[row]:g}; Open, High and Low are "
            "scaled by Adj Close / Close, so fix that Close or delete the row"
        )


def adjust_ohlc(raw: pd.DataFrame) -> pd.DataFrame:
    """Total-return adjust a bar frame with an ``Adj Close`` column (docs/semantics.md §1).

    factor = Adj Close / Close; Open, High, Low are multiplied by it and
    Close becomes Adj Close. Volume is left as it is. A factor that is not a
    positive number leaves Open, High, Low missing (never infinite).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = raw["Adj Close"] / raw["Close"]
    factor = factor.where(np.isfinite(factor) & (factor > 0))  # NaN: validate sets O/H/L = close
    adjusted = raw[["Open", "High", "Low", "Close", "Volume"]].copy()
    for column in ("Open", "High", "Low"):
        adjusted[column] = raw[column] * factor
    adjusted["Close"] = raw["Adj Close"]
    return adjusted


def read_price_csv(path: Path, ticker: str) -> pd.DataFrame:
    """One ticker's bars from `path`, total-return adjusted, not yet validated."""
    body, first_line = read_table(path, ticker)
    raw = parse_cells(body, path, first_line)
    if "Adj Close" in raw.columns:
        _refuse_unscalable(raw, path, first_line)
    return adjust_ohlc(raw) if "Adj Close" in raw.columns else raw
