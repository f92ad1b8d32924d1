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

Cells: dates must be real calendar dates; a blank, ``null`` or ``NaN`` price is
missing (a row without a close is dropped and the gap rule judges the hole);
any other text is an error naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DataError

NEEDED = ["date", "open", "high", "low", "close", "volume"]
NAMES = {"date": "Date", "open": "Open", "high": "High", "low": "Low", "close": "Close",
         "adj close": "Adj Close", "volume": "Volume"}  # fmt: skip
MISSING_TEXT = {"", "null", "nan", "none", "n/a"}
_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
SHAPES = (
    "Date, Open, High, Low, Close, Volume (Adj Close optional; any letter case), "
    "or a yfinance CSV export (Price and Ticker header rows)"
)


def _key(name: str) -> str:
    return " ".join(str(name).strip().lower().replace("_", " ").split())


def _table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, header=None, keep_default_na=False)
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
        found = [str(c) for c in table.iloc[0 if _key(table.iat[0, 0]) == "price" else 1]]
    else:
        names, start, keep = [_key(c) for c in table.iloc[0]], 1, list(range(table.shape[1]))
        found = [str(c) for c in table.iloc[0]]
    missing = [NAMES[c] for c in NEEDED if c not in names]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; found {found}, need {SHAPES}")
    body = table.iloc[start:, keep].reset_index(drop=True)
    body.columns = names
    body = body.loc[:, ~body.columns.duplicated()]
    wanted = [c for c in NAMES if c in body.columns]
    return body[wanted].rename(columns=NAMES), start + 1


def _dates(cells: pd.Series, path: Path, first_line: int) -> pd.DatetimeIndex:
    text = cells.str.strip()
    parts = text.str.extract(_DATE, expand=False)
    dates = pd.to_datetime(parts, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(
            f"{path}: row {row + first_line} has date {text.iloc[row]!r}; "
            "dates must be YYYY-MM-DD (a time and offset after it are allowed)"
        )
    return pd.DatetimeIndex(dates, name="Date")


def parse_cells(body: pd.DataFrame, path: Path, first_line: int) -> pd.DataFrame:
    """Text cells -> dates and floats; text that is neither a number nor blank is an error."""
    dates = _dates(body["Date"], path, first_line)
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
        out[column] = values.to_numpy(dtype=float)
    return out


def adjust_ohlc(raw: pd.DataFrame) -> pd.DataFrame:
    """Total-return adjust a bar frame with an ``Adj Close`` column (SPEC 1).

    factor = Adj Close / Close; Open, High, Low are multiplied by it and
    Close becomes Adj Close. Volume is left as it is.
    """
    factor = raw["Adj Close"] / raw["Close"]
    adjusted = raw[["Open", "High", "Low", "Close", "Volume"]].copy()
    for column in ("Open", "High", "Low"):
        adjusted[column] = raw[column] * factor
    adjusted["Close"] = raw["Adj Close"]
    return adjusted


def read_price_csv(path: Path, ticker: str) -> pd.DataFrame:
    """One ticker's bars from `path`, total-return adjusted, not yet validated."""
    body, first_line = read_table(path, ticker)
    raw = parse_cells(body, path, first_line)
    return adjust_ohlc(raw) if "Adj Close" in raw.columns else raw
