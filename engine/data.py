"""Price sources: the ONLY module that touches the network.

A source turns ticker symbols into daily bars. Every source returns, per
ticker, a DataFrame indexed by the bar's date label (tz-naive midnight,
ascending, unique, index name ``date``) with float columns
``Open, High, Low, Close`` holding **total-return adjusted** prices (SPEC 1)
and ``Volume``. Sources are injected into the runner, so tests use
`MemorySource` and never the network.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from engine.errors import DataError

PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Volume"]
CSV_COLUMNS = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
PRICE_NEEDED = {"Close", "Adj Close"}  # a blank here is an error; a blank Open/High/Low is filled


class PriceSource(Protocol):
    """Anything that can load adjusted daily bars for a list of tickers."""

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        """Full available history of each ticker, adjusted (see module docstring)."""
        ...


def _tidy(frame: pd.DataFrame, ticker: str, origin: str) -> pd.DataFrame:
    """Normalise index and columns; drop rows without a close; reject unusable data."""
    frame = frame.copy()
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    frame.index = index.normalize().as_unit("ns").rename("date")
    frame = frame[PRICE_COLUMNS].astype("float64")
    frame = frame[frame["Close"].notna()]
    if frame.empty:
        raise DataError(f"no data for {ticker!r} from {origin}: check the symbol")
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()
    if frame.index.has_duplicates:
        day = frame.index[frame.index.duplicated()][0].date()
        raise DataError(f"{ticker} from {origin}: date {day} appears twice; fix the data")
    bad = frame["Close"] <= 0
    if bad.any():
        day = frame.index[bad.to_numpy()][0].date()
        raise DataError(f"{ticker} from {origin}: non-positive close on {day}; fix the data")
    # A missing open/high/low is filled from the close so next_open never sees NaN.
    for column in ("Open", "High", "Low"):
        frame[column] = frame[column].fillna(frame["Close"])
    return frame


def adjust_ohlc(raw: pd.DataFrame) -> pd.DataFrame:
    """Total-return adjust a bar frame with an ``Adj Close`` column (SPEC 1).

    factor = Adj Close / Close; Open, High, Low are multiplied by it and
    Close becomes Adj Close. Volume is left as it is.
    """
    factor = raw["Adj Close"] / raw["Close"]
    adjusted = raw[PRICE_COLUMNS].copy()
    for column in ("Open", "High", "Low"):
        adjusted[column] = raw[column] * factor
    adjusted["Close"] = raw["Adj Close"]
    return adjusted


def _parse_csv(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Text cells -> dates and floats; a cell that is not one is an error naming its row."""
    dates = pd.to_datetime(raw["Date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(
            f"{path}: row {row + 2} has date {raw['Date'].iloc[row]!r}; dates must be YYYY-MM-DD"
        )
    out = pd.DataFrame(index=pd.DatetimeIndex(dates, name="Date"))
    for column in [c for c in CSV_COLUMNS[1:] if c in raw.columns]:
        text = raw[column].str.strip()
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna().to_numpy() & ((text != "").to_numpy() | (column in PRICE_NEEDED))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}: {column} on {dates.iloc[row].date()} is {text.iloc[row]!r}, not a "
                "number; fix or delete that row"
            )
        out[column] = values.to_numpy()
    return out


class CsvSource:
    """Reads ``<dir>/<TICKER>.csv`` shaped ``Date,Open,High,Low,Close,Adj Close,Volume``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        if not self.directory.is_dir():
            raise DataError(f"data folder {self.directory} does not exist; pass an existing folder")
        return {ticker: self._read(ticker) for ticker in tickers}

    def _read(self, ticker: str) -> pd.DataFrame:
        path = self.directory / f"{ticker}.csv"
        if not path.is_file():
            raise DataError(
                f"{path}: no such file (needed for ticker {ticker!r}); "
                f"add {ticker}.csv to {self.directory} or fix the ticker"
            )
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read it as CSV ({exc})") from None
        missing = [c for c in CSV_COLUMNS if c not in raw.columns and c != "Adj Close"]
        if missing:
            raise DataError(
                f"{path}: missing columns {missing}; found {list(raw.columns)}, need {CSV_COLUMNS}"
            )
        raw = _parse_csv(raw, path)
        frame = adjust_ohlc(raw) if "Adj Close" in raw.columns else raw
        return _tidy(frame, ticker, str(path))


class MemorySource:
    """Frames already in memory (tests, notebooks): ``{ticker: DataFrame}``, already adjusted."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self.frames = dict(frames)

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        missing = [t for t in tickers if t not in self.frames]
        if missing:
            raise DataError(f"no data for {missing[0]!r} in the given frames; add it")
        return {t: _tidy(self.frames[t], t, "memory") for t in tickers}


def default_cache_dir() -> Path:
    """``$ROTATION_CACHE_DIR`` if set, else the platform's user cache folder."""
    override = os.environ.get("ROTATION_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rotation")) / "prices"


def _yf_download(tickers: list[str]) -> pd.DataFrame:
    import yfinance

    return yfinance.download(
        tickers,
        period="max",  # signals use all history before `start` (SPEC 3)
        interval="1d",
        auto_adjust=True,  # prices come total-return adjusted: no Adj Close column
        actions=False,
        group_by="column",
        multi_level_index=True,
        progress=False,
        threads=True,
    )


def split_download(frame: pd.DataFrame | None, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Split a ``yfinance.download`` reply into one frame per ticker.

    Handles both column layouts yfinance produces: ``(Price, Ticker)``
    (group_by="column", the default) and ``(Ticker, Price)``, and a flat
    single-ticker frame. A ticker whose columns are absent or all NaN is
    simply not in the result.
    """
    if frame is None or frame.empty:
        return {}
    if not isinstance(frame.columns, pd.MultiIndex):
        return {tickers[0]: frame} if len(tickers) == 1 else {}
    price_level = 0 if "Close" in frame.columns.get_level_values(0) else 1
    out = {}
    for ticker in tickers:
        try:
            sub = frame.xs(ticker, axis=1, level=1 - price_level)
        except KeyError:
            continue
        if "Close" in sub.columns and sub["Close"].notna().any():
            out[ticker] = sub
    return out


class YFinanceSource:
    """Yahoo Finance through yfinance, cached as one parquet file per ticker.

    Tickers missing from the cache are fetched in ONE batched call with
    `auto_adjust=True` over the full history; tickers in the cache are not
    fetched again (a second run needs no network).
    """

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        download: Callable[[list[str]], pd.DataFrame] = _yf_download,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.download = download

    def cache_path(self, ticker: str) -> Path:
        return self.cache_dir / f"{ticker}.parquet"

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        frames = {t: pd.read_parquet(self.cache_path(t)) for t in tickers if self._cached(t)}
        missing = [t for t in tickers if t not in frames]
        if missing:
            try:
                reply = self.download(list(missing))
            except Exception as exc:  # yfinance raises many kinds; all mean "no reply"
                raise DataError(
                    f"could not download {missing} from yfinance ({type(exc).__name__}: {exc}); "
                    "check the network, or use --data-dir DIR with CSV files"
                ) from None
            fetched = split_download(reply, missing)
            for ticker in missing:
                if ticker not in fetched:
                    raise DataError(f"no data for {ticker!r} from yfinance: check the symbol")
                frames[ticker] = _tidy(fetched[ticker], ticker, "yfinance")
                self._store(ticker, frames[ticker])
        return {t: _tidy(frames[t], t, "yfinance cache") for t in tickers}

    def _cached(self, ticker: str) -> bool:
        return self.cache_path(ticker).is_file()

    def _store(self, ticker: str, frame: pd.DataFrame) -> None:
        """Write atomically: a temporary file in the same folder, then rename."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".parquet.tmp")
        os.close(handle)
        try:
            frame.to_parquet(tmp)
            os.replace(tmp, self.cache_path(ticker))
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def make_source(source: str, directory: str | Path | None) -> PriceSource:
    """The source a config names: ``csv`` (reads `directory`) or ``yfinance`` (cached)."""
    if source == "csv":
        return CsvSource(directory)  # type: ignore[arg-type]
    return YFinanceSource()


def data_hash(frame: pd.DataFrame) -> str:
    """sha256 of a price frame's dates and values (what the backtest actually read)."""
    digest = hashlib.sha256()
    digest.update(frame.index.asi8.tobytes())
    digest.update(np.ascontiguousarray(frame[PRICE_COLUMNS].to_numpy(np.float64)).tobytes())
    return digest.hexdigest()


def describe(frames: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Per-ticker record for the manifest: hash, first and last date, rows."""
    return {
        ticker: {
            "sha256": data_hash(frame),
            "first": str(frame.index[0].date()),
            "last": str(frame.index[-1].date()),
            "rows": int(len(frame)),
        }
        for ticker, frame in sorted(frames.items())
    }
