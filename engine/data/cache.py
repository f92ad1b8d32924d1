"""The price cache: one parquet file per ticker and a small metadata record beside it.

``<dir>/<TICKER>.parquet`` holds the bars as a source gave them (adjusted,
completed sessions only); ``<dir>/<TICKER>.json`` records where they came from,
when, their first and last date, row count, whether they are adjusted, from
which date the history was asked for (None: all of it) and the sha256 of the
parquet file. No network here: `engine.data` fetches, this module stores.

* Writes are atomic: each file is written under a temporary name in the same
  folder, then renamed over the old one (parquet first, then the record).
* A file whose checksum does not match its record, an unreadable file, a
  missing record or one with a missing, extra or ill-typed field
  (`engine.data.cache_meta.parse_meta`) is reported as corrupt (`CorruptEntry`); callers refetch.
* Everything that reads then writes holds `PriceCache.locked()`, a file lock on
  ``<dir>/.lock``, so two runs at once neither corrupt nor double-fetch.
* A cache that cannot be written (read-only folder or file system, no space) is
  still read: one warning says so and nothing new is saved, unless the cache is
  ``strict`` (`rotation data import`, `clear`: writing is their whole point), which
  makes it an error. A cache path that is a file or cannot be created is an error
  naming `CACHE_ENV`.
* Entry paths are built only from ticker symbols (`engine.limits.is_symbol`) and
  must resolve inside the folder: nothing outside it is ever read, written or deleted.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from engine.data.cache_meta import CorruptEntry, Meta, parse_meta, verify_frame
from engine.errors import DataError
from engine.integrity import write_whole
from engine.limits import SYMBOL_CHARS, is_symbol
from engine.notices import warn

LOCK_TIMEOUT = 600.0  # seconds to wait for another process holding the cache
CACHE_ENV = "ROTATION_CACHE_DIR"
# Errors that mean "this folder cannot be written" rather than a bug.
UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


@dataclass(frozen=True)
class Entry:
    frame: pd.DataFrame
    meta: Meta


class PriceCache:
    """A folder of cached tickers (see the module docstring).

    Args:
        directory: the folder (created on first use).
        lock_timeout: seconds to wait for another process holding the lock.
        strict: a cache that cannot be written is an error instead of a warning.
    """

    def __init__(
        self, directory: str | Path, lock_timeout: float = LOCK_TIMEOUT, strict: bool = False
    ) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self.strict = strict
        self.writable = True
        self._lock = None

    def _entry_path(self, ticker: str, suffix: str) -> Path:
        """``<dir>/<ticker><suffix>``, refused unless it is a symbol resolving inside the folder."""
        if not is_symbol(ticker):
            raise DataError(
                f"{ticker!r} is not a ticker symbol ({SYMBOL_CHARS}); the price cache "
                f"{self.directory} only holds files named after symbols"
            )
        path = self.directory / f"{ticker}{suffix}"
        if path.resolve().parent != self.directory.resolve():
            raise DataError(
                f"refusing to use {path}: it resolves outside the price cache {self.directory}"
            )
        return path

    def parquet_path(self, ticker: str) -> Path:
        return self._entry_path(ticker, ".parquet")

    def meta_path(self, ticker: str) -> Path:
        return self._entry_path(ticker, ".json")

    def _ensure_directory(self) -> None:
        """Create the folder; a file in its place or a path that cannot be made is an error."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            what = (
                "is a file, not a folder"
                if self.directory.exists()
                else f"cannot be created ({exc.strerror or exc})"
            )
            raise DataError(
                f"the price cache {self.directory} {what}; set {CACHE_ENV} to a folder you "
                "can write"
            ) from None

    def _cannot_write(self, exc: OSError) -> None:
        """Read-only from now on: one warning (an error when strict); other errors propagate."""
        if exc.errno not in UNWRITABLE:
            raise exc
        reason = exc.strerror or str(exc)
        if self.strict:
            raise DataError(
                f"cannot write to the price cache {self.directory} ({reason}); make it "
                f"writable or set {CACHE_ENV} to a folder you can write"
            ) from None
        if self.writable:
            warn(
                f"cannot write to the price cache {self.directory} ({reason}); reading it as "
                f"it is and saving nothing (make it writable or set {CACHE_ENV})"
            )
        self.writable = False

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cache's file lock (re-entrant for this object; other processes wait).

        A lock that cannot be created (read-only cache) is not waited for: the cache
        is then read unlocked and never written (`_cannot_write`).
        """
        from filelock import FileLock, Timeout

        self._ensure_directory()
        if self._lock is None:
            self._lock = FileLock(str(self.directory / ".lock"), timeout=self.lock_timeout)
        try:
            self._lock.acquire()
        except Timeout:  # a TimeoutError, hence an OSError: first
            raise DataError(
                f"the price cache {self.directory} stayed locked by another rotation process "
                f"for {self.lock_timeout:g} s; wait for it to finish and try again"
            ) from None
        except OSError as exc:
            self._cannot_write(exc)
            yield
            return
        try:
            yield
        finally:
            self._lock.release()

    def tickers(self) -> list[str]:
        """Tickers with a parquet file or a record in the cache, sorted."""
        if not self.directory.is_dir():
            return []
        names = {p.stem for p in self.directory.glob("*.parquet")}
        names |= {p.stem for p in self.directory.glob("*.json")}
        return sorted(n for n in names if is_symbol(n))

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
            record = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptEntry(f"its metadata record is unreadable ({exc})") from None
        meta = parse_meta(record, ticker)
        if not data_path.is_file():
            raise CorruptEntry("its parquet file is missing")
        try:
            blob = data_path.read_bytes()
        except OSError as exc:
            raise CorruptEntry(f"its parquet file is unreadable ({exc.strerror or exc})") from None
        if hashlib.sha256(blob).hexdigest() != meta.sha256:
            raise CorruptEntry("checksum mismatch: the parquet file is damaged or truncated")
        try:
            frame = pd.read_parquet(io.BytesIO(blob))
        except Exception as exc:  # pyarrow raises several kinds for a bad file
            raise CorruptEntry(f"its parquet file is unreadable ({type(exc).__name__})") from None
        verify_frame(frame, meta)
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
        self._store({self.parquet_path(ticker): blob, self.meta_path(ticker): _record(meta)})
        return meta

    def touch(self, ticker: str, meta: Meta, fetched_at: dt.datetime) -> Meta:
        """Record a fetch that brought nothing new (the data stays as it is)."""
        stamp = fetched_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        updated = Meta(**{**asdict(meta), "fetched_at": stamp})
        self._store({self.meta_path(ticker): _record(updated)})
        return updated

    def _store(self, blobs: dict[Path, bytes]) -> None:
        """Write each file atomically, in order; a read-only cache skips (see `_cannot_write`)."""
        if not self.writable:
            return
        try:
            self._ensure_directory()
            for path, blob in blobs.items():
                write_whole(path, blob)  # temporary file, fsync, rename
        except OSError as exc:
            self._cannot_write(exc)

    def remove(self, ticker: str) -> bool:
        """Delete a ticker's files; True if there was anything to delete.

        Only paths inside the cache folder are touched (`_entry_path`).
        """
        removed = False
        for path in (self.parquet_path(ticker), self.meta_path(ticker)):
            if path.is_file():
                try:
                    path.unlink()
                except OSError as exc:
                    self._cannot_write(exc)
                    return removed
                removed = True
        return removed


def _record(meta: Meta) -> bytes:
    return json.dumps(asdict(meta), indent=1).encode("utf-8")


def import_csv_folder(folder: Path, directory: Path, max_fill_days: int = 3) -> dict[str, Meta]:
    """Validate every ``folder/<TICKER>.csv`` (as CsvSource reads it), then cache them all.

    Nothing is written unless every file passes. Imported entries count as full
    history fetched now (source ``csv:<file>``).
    """
    from engine.data.csvfiles import read_price_csv
    from engine.data.validate import STRUCTURE_ONLY, Checks, clean

    folder = Path(folder)
    paths = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not paths:
        raise DataError(f"{folder}: no <TICKER>.csv files to import (is it the right folder?)")
    checks = Checks(max_fill_days=max_fill_days)
    frames = {}
    for path in paths:
        ticker = path.stem.upper()
        if not is_symbol(ticker):
            raise DataError(
                f"{path}: {path.stem!r} is not a ticker symbol ({SYMBOL_CHARS}); name the file "
                "<TICKER>.csv or move it out of the folder"
            )
        frame = clean(read_price_csv(path, ticker), ticker, str(path), STRUCTURE_ONLY)
        clean(frame, ticker, str(path), checks)  # the full checks: errors stop the import
        frames[ticker] = (path, frame)
    cache = PriceCache(directory, strict=True)
    now = dt.datetime.now(dt.timezone.utc)
    with cache.locked():
        return {
            ticker: cache.write(ticker, frame, f"csv:{path.resolve()}", now)
            for ticker, (path, frame) in frames.items()
        }
