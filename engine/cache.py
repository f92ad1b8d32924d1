"""The price cache: one parquet file per ticker and a small metadata record beside it.

``<dir>/<TICKER>.parquet`` holds the bars as a source gave them (adjusted,
completed sessions only); ``<dir>/<TICKER>.json`` records where they came from,
when, their first and last date, row count, whether they are adjusted, from
which date the history was asked for (None: all of it) and the sha256 of the
parquet file. No network here: `engine.data` fetches, this module stores.

* Writes are atomic: each file is written under a temporary name in the same
  folder, then renamed over the old one (parquet first, then the record).
* A file whose checksum does not match its record, an unreadable file or a
  missing record is reported as corrupt (`CorruptEntry`); callers refetch.
* Everything that reads then writes holds `PriceCache.locked()`, a file lock on
  ``<dir>/.lock``, so two runs at once neither corrupt nor double-fetch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from engine.errors import DataError

LOCK_TIMEOUT = 600.0  # seconds to wait for another process holding the cache


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


@dataclass(frozen=True)
class Entry:
    frame: pd.DataFrame
    meta: Meta


class PriceCache:
    """A folder of cached tickers (see the module docstring)."""

    def __init__(self, directory: str | Path, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self._lock = None

    def parquet_path(self, ticker: str) -> Path:
        return self.directory / f"{ticker}.parquet"

    def meta_path(self, ticker: str) -> Path:
        return self.directory / f"{ticker}.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cache's file lock (re-entrant for this object; other processes wait)."""
        from filelock import FileLock, Timeout

        self.directory.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = FileLock(str(self.directory / ".lock"), timeout=self.lock_timeout)
        try:
            with self._lock:
                yield
        except Timeout:
            raise DataError(
                f"the price cache {self.directory} stayed locked by another rotation process "
                f"for {self.lock_timeout:g} s; wait for it to finish and try again"
            ) from None

    def tickers(self) -> list[str]:
        """Tickers with a parquet file or a record in the cache, sorted."""
        if not self.directory.is_dir():
            return []
        names = {p.stem for p in self.directory.glob("*.parquet")}
        names |= {p.stem for p in self.directory.glob("*.json")}
        return sorted(names)

    def read(self, ticker: str) -> Entry | None:
        """The cached entry, None if there is none.

        Raises:
            CorruptEntry: the files exist but do not agree with the record.
        """
        data_path, meta_path = self.parquet_path(ticker), self.meta_path(ticker)
        if not data_path.exists() and not meta_path.exists():
            return None
        if not meta_path.is_file():
            raise CorruptEntry("it has no metadata record (written by an older version?)")
        try:
            meta = Meta(**json.loads(meta_path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise CorruptEntry(f"its metadata record is unreadable ({exc})") from None
        if not data_path.is_file():
            raise CorruptEntry("its parquet file is missing")
        blob = data_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.sha256:
            raise CorruptEntry("checksum mismatch: the parquet file is damaged or truncated")
        try:
            frame = pd.read_parquet(io.BytesIO(blob))
        except Exception as exc:  # pyarrow raises several kinds for a bad file
            raise CorruptEntry(f"its parquet file is unreadable ({type(exc).__name__})") from None
        return Entry(frame=frame, meta=meta)

    def write(
        self,
        ticker: str,
        frame: pd.DataFrame,
        source: str,
        fetched_at: dt.datetime,
        history_from: dt.date | None = None,
    ) -> Meta:
        """Store `frame` (non-empty, engine shape) and its record, atomically."""
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        blob = buffer.getvalue()
        meta = Meta(
            ticker=ticker,
            source=source,
            fetched_at=fetched_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
            first=str(frame.index[0].date()),
            last=str(frame.index[-1].date()),
            rows=int(len(frame)),
            adjusted=True,
            history_from=str(history_from) if history_from else None,
            sha256=hashlib.sha256(blob).hexdigest(),
        )
        record = json.dumps(asdict(meta), indent=1).encode("utf-8")
        self.directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.parquet_path(ticker), blob)
        _atomic_write(self.meta_path(ticker), record)
        return meta

    def touch(self, ticker: str, meta: Meta, fetched_at: dt.datetime) -> Meta:
        """Record a fetch that brought nothing new (the data stays as it is)."""
        stamp = fetched_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        updated = Meta(**{**asdict(meta), "fetched_at": stamp})
        _atomic_write(self.meta_path(ticker), json.dumps(asdict(updated), indent=1).encode())
        return updated

    def remove(self, ticker: str) -> bool:
        """Delete a ticker's files; True if there was anything to delete."""
        removed = False
        for path in (self.parquet_path(ticker), self.meta_path(ticker)):
            if path.exists():
                path.unlink()
                removed = True
        return removed


def import_csv_folder(folder: Path, directory: Path, max_fill_days: int = 3) -> dict[str, Meta]:
    """Validate every ``folder/<TICKER>.csv`` (as CsvSource reads it), then cache them all.

    Nothing is written unless every file passes. Imported entries count as full
    history fetched now (source ``csv:<file>``).
    """
    from engine.csvfiles import read_price_csv
    from engine.validate import STRUCTURE_ONLY, Checks, clean

    folder = Path(folder)
    paths = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not paths:
        raise DataError(f"{folder}: no <TICKER>.csv files to import (is it the right folder?)")
    checks = Checks(max_fill_days=max_fill_days)
    frames = {}
    for path in paths:
        ticker = path.stem.upper()
        frame = clean(read_price_csv(path, ticker), ticker, str(path), STRUCTURE_ONLY)
        clean(frame, ticker, str(path), checks)  # the full checks: errors stop the import
        frames[ticker] = (path, frame)
    cache = PriceCache(directory)
    now = dt.datetime.now(dt.timezone.utc)
    with cache.locked():
        return {
            ticker: cache.write(ticker, frame, f"csv:{path.resolve()}", now)
            for ticker, (path, frame) in frames.items()
        }


def _atomic_write(path: Path, blob: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
