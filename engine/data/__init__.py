"""Price sources: the ONLY module that touches the network.

A source turns ticker symbols into daily bars. Every source returns, per
ticker, a DataFrame indexed by the bar's date label (tz-naive midnight, ns,
ascending, unique, index name ``date``) with float64 columns
``Open, High, Low, Close`` holding **total-return adjusted** prices (docs/semantics.md §1)
and ``Volume``, checked by `engine.data.validate.clean`. Sources are injected into
the runner, so tests use `MemorySource` (or a fake download) and never the network.

* `CsvSource`: ``<dir>/<TICKER>.csv`` in the shapes `engine.data.csvfiles` reads.
* `YFinanceSource`: Yahoo Finance through yfinance, kept in `engine.data.cache`.
* `SyntheticSource` (`engine.data.synthetic`): seeded random markets, no files.
* `MemorySource`: frames already in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from engine.data.cache import CACHE_ENV, CorruptEntry, Entry, PriceCache
from engine.data.csvfiles import adjust_ohlc, read_price_csv
from engine.data.freshness import (
    covers_history,
    final_rows,
    is_fresh,
    merge_tail,
    tail_start,
    wanted_last,
)
from engine.data.validate import (
    DEFAULT_CHECKS,
    PRICE_COLUMNS,
    STRUCTURE_ONLY,
    Checks,
    clean,
)
from engine.data.yahoo import (
    OFFLINE_HINT,
    Failure,
    RetryPolicy,
    fetch_with_retries,
    split_download,
    yfinance_errors,
)
from engine.errors import DataError
from engine.limits import SYMBOL_CHARS, is_symbol
from engine.notices import warn

__all__ = [
    "PRICE_COLUMNS", "CSV_COLUMNS", "PriceSource", "MemorySource", "CsvSource", "YFinanceSource",
    "RetryPolicy", "make_source", "describe", "data_hash", "split_download", "adjust_ohlc",
    "default_cache_dir", "DataError", "Checks",
]  # fmt: skip

CSV_COLUMNS = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]


class PriceSource(Protocol):
    """Anything that can load adjusted daily bars for a list of tickers."""

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        """Full available history of each ticker, adjusted (see module docstring)."""
        ...


class CsvSource:
    """Reads ``<dir>/<TICKER>.csv`` (see `engine.data.csvfiles` for the accepted shapes)."""

    def __init__(self, directory: str | Path, checks: Checks = DEFAULT_CHECKS) -> None:
        self.directory = Path(directory)
        self.checks = checks

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        if not self.directory.is_dir():
            raise DataError(f"data folder {self.directory} does not exist; pass an existing folder")
        return {ticker: self.read(ticker) for ticker in tickers}

    def read(self, ticker: str) -> pd.DataFrame:
        if not is_symbol(ticker):
            raise DataError(
                f"{ticker!r} is not a ticker symbol ({SYMBOL_CHARS}); it cannot name a file "
                f"in {self.directory}"
            )
        path = self.directory / f"{ticker}.csv"
        if not path.exists():  # a FIFO or folder is refused, unopened, by read_price_csv
            raise DataError(
                f"{path}: no such file (needed for ticker {ticker!r}); "
                f"add {ticker}.csv to {self.directory} or fix the ticker"
            )
        return clean(read_price_csv(path, ticker), ticker, str(path), self.checks)


class MemorySource:
    """Frames already in memory (tests, notebooks): ``{ticker: DataFrame}``, already adjusted.

    Only the structural checks run by default (hand-made markets need not follow
    an exchange calendar); pass ``checks=Checks()`` for all of them.
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame], checks: Checks = STRUCTURE_ONLY):
        self.frames = dict(frames)
        self.checks = checks

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        missing = [t for t in tickers if t not in self.frames]
        if missing:
            raise DataError(f"no data for {missing[0]!r} in the given frames; add it")
        return {t: clean(self.frames[t], t, "memory", self.checks) for t in tickers}


def default_cache_dir() -> Path:
    """``$ROTATION_CACHE_DIR`` if set, else the platform's user cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rotation")) / "prices"


DEFAULT_RETRY = RetryPolicy()


def _yf_download(tickers: list[str], start: dt.date | None = None) -> pd.DataFrame:
    """One batched ``yfinance.download``: all history (start None) or from `start`.

    The reply's ``attrs["errors"]`` holds yfinance's reason for each ticker it
    could not fetch. A progress bar (on stderr) shows when several tickers
    are fetched for a terminal.
    """
    import yfinance

    span = {"period": "max"} if start is None else {"start": start.isoformat()}
    with yfinance_errors() as errors, warnings.catch_warnings():
        # yfinance 1.7 calls pandas methods with inplace=True, deprecated in pandas 3
        warnings.filterwarnings("ignore", message="The inplace keyword")
        reply = yfinance.download(
            tickers,
            interval="1d",
            auto_adjust=True,  # prices come total-return adjusted: no Adj Close column
            actions=False,
            group_by="column",
            multi_level_index=True,
            progress=len(tickers) > 1 and sys.stderr.isatty(),
            threads=True,
            **span,  # signals use all history before `start` (docs/semantics.md §4)
        )
    if reply is not None:
        reply.attrs["errors"] = dict(errors)
    return reply


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


Download = Callable[[list[str], "dt.date | None"], pd.DataFrame]


class YFinanceSource:
    """Yahoo Finance through yfinance (auto_adjust=True), cached per ticker (engine.data.cache).

    Args:
        cache_dir: the cache folder (default: `default_cache_dir()`).
        download: ``download(tickers, start)`` -> a ``yfinance.download`` reply
            (start None: full history); default `_yf_download`.
        end: last date the runs need (None: latest); decides whether the cache is fresh.
        refresh: fetch every ticker's full history again.
        checks: validation settings.
        retry: attempts and backoff (default `DEFAULT_RETRY`; tests pass a sleep that
            does not sleep).
        clock: the current time, UTC-aware.
        history_from: fetch history from this date instead of all of it (`rotation
            data fetch --start`); such an entry is refetched in full by a run.
    """

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        download: Download | None = None,
        *,
        end: dt.date | None = None,
        refresh: bool = False,
        checks: Checks = DEFAULT_CHECKS,
        retry: RetryPolicy | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        history_from: dt.date | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.cache = PriceCache(self.cache_dir)
        self.download = download if download is not None else _yf_download
        self.end, self.refresh, self.checks = end, refresh, checks
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.clock, self.history_from = clock, history_from
        self._corrupt: dict[str, str] = {}  # ticker -> why its cached entry was not used

    def cache_path(self, ticker: str) -> Path:
        return self.cache.parquet_path(ticker)

    def load(self, tickers: Sequence[str], end: dt.date | None = None) -> dict[str, pd.DataFrame]:
        """Every ticker's full adjusted history, from the cache where it is fresh.

        At most one download of the full history of the tickers the cache lacks
        and one of the recent tail of the stale ones (each retried).
        """
        end = end if end is not None else self.end
        with self.cache.locked():
            now, self._corrupt = self.clock(), {}
            entries = {t: self._entry(t) for t in tickers}
            frames, origins = self._update(list(tickers), entries, end, now)
        return {t: clean(frames[t], t, origins[t], self.checks) for t in tickers}

    def _entry(self, ticker: str) -> Entry | None:
        try:
            return self.cache.read(ticker)
        except CorruptEntry as problem:
            warn(f"cached {ticker} ({self.cache_path(ticker)}) is corrupt: {problem}; refetching")
            self._corrupt[ticker] = str(problem)
            return None

    def _action(self, entry: Entry | None, ticker: str, end, now: dt.datetime) -> str:
        if entry is None or self.refresh:
            return "full"
        if not covers_history(entry.meta, self.history_from):
            return "full"
        return "cache" if is_fresh(entry.meta, ticker, end, now) else "tail"

    def _update(self, tickers: list[str], entries: dict, end, now) -> tuple[dict, dict]:
        plan = {t: self._action(entries[t], t, end, now) for t in tickers}
        frames = {t: entries[t].frame for t in tickers if plan[t] == "cache"}
        full = [t for t in tickers if plan[t] == "full"]
        fetched, failures = self._fetch(full, self.history_from)
        history = {t: self.history_from for t in fetched}
        stale = [t for t in tickers if plan[t] == "tail"]
        if stale:
            merged, redo, tail_failures = self._tails(stale, entries)
            again, more = self._fetch(redo, self.history_from)
            history |= {t: entries[t].meta.history_from for t in merged}
            history |= {t: self.history_from for t in again}
            fetched |= merged | again
            failures |= tail_failures | more
        for ticker, frame in fetched.items():
            frame = clean(frame, ticker, "yfinance", STRUCTURE_ONLY)
            frame = final_rows(frame, ticker, now)
            if frame.empty:
                failures[ticker] = Failure("unknown", "no completed session yet")
                continue
            self.cache.write(ticker, frame, "yfinance", now, history[ticker])
            frames[ticker] = frame
        self._fall_back(failures, entries, frames, end, now)
        return frames, {t: _origin(entries[t], t not in fetched) for t in tickers}

    def _tails(self, stale: list[str], entries: dict) -> tuple[dict, list[str], dict]:
        """Fetch the recent tail of stale tickers; append it where the overlap agrees."""
        start = min(tail_start(entries[t].meta) for t in stale)
        tails, failures = self._fetch(stale, start)
        merged, redo = {}, []
        for ticker, tail in tails.items():
            tail = clean(tail, ticker, "yfinance", STRUCTURE_ONLY)
            joined = merge_tail(entries[ticker].frame, tail)
            if joined is None:
                warn(
                    f"{ticker}: Yahoo's adjusted prices changed since they were cached (a new "
                    "dividend or split re-scales the history); fetching its full history again"
                )
                redo.append(ticker)
            else:
                merged[ticker] = joined
        # A stale ticker Yahoo has nothing recent for keeps its cache (delisted, or no
        # session since): only a network failure is worth reporting.
        failures = {t: f for t, f in failures.items() if f.kind == "network"}
        for ticker in [t for t in stale if t not in tails and t not in failures]:
            merged[ticker] = entries[ticker].frame
        return merged, redo, failures

    def _fall_back(self, failures: dict, entries: dict, frames: dict, end, now) -> None:
        """Tickers that could not be fetched: the cache with a warning, else an error."""
        unknown = [t for t, f in failures.items() if entries[t] is None and f.kind != "network"]
        if unknown:
            names = ", ".join(repr(t) for t in unknown)
            plural = "s" if len(unknown) > 1 else ""
            raise DataError(f"no data for {names} from yfinance: check the symbol{plural}")
        offline = [t for t in failures if entries[t] is None]
        corrupt = [t for t in offline if t in self._corrupt]
        if corrupt:
            ticker = corrupt[0]
            raise DataError(
                f"could not download {ticker} from yfinance ({failures[ticker].detail}) and its "
                f"cached copy {self.cache_path(ticker)} is corrupt ({self._corrupt[ticker]}); "
                f"when online, run `rotation data fetch {ticker} --refresh` (or `rotation data "
                f"clear {ticker}`, or `rotation run --refresh`), or supply it with --data-dir DIR"
            )
        if offline:
            first = failures[offline[0]]
            raise DataError(
                f"could not download {offline} from yfinance after {first.attempts} "
                f"attempt(s) ({first.detail}) and they are not in the cache {self.cache_dir}; "
                + OFFLINE_HINT
            )
        for ticker, failure in failures.items():
            meta = entries[ticker].meta
            self._check_covered(ticker, meta, end, now, failure)
            got = f"fetched {meta.fetched_at}" if meta.source == "yfinance" else meta.source
            warn(
                f"could not update {ticker} from yfinance ({failure.detail}); using the cache "
                f"up to {meta.last} ({got})"
            )
            frames[ticker] = entries[ticker].frame

    def _fetch(self, tickers: list[str], start: dt.date | None) -> tuple[dict, dict]:
        return fetch_with_retries(self.download, tickers, start, self.retry)

    def _check_covered(self, ticker: str, meta, end, now, failure: Failure) -> None:
        if end is None or pd.Timestamp(meta.last) >= wanted_last(ticker, end, now):
            return
        raise DataError(
            f"could not update {ticker} from yfinance ({failure.detail}) and the cache holds it "
            f"only up to {meta.last}, before data.end {end}; {OFFLINE_HINT}, or set an earlier end"
        )


def _origin(entry: Entry | None, from_cache: bool) -> str:
    if entry is None or not from_cache or entry.meta.source == "yfinance":
        return "yfinance"
    return f"{entry.meta.source.removeprefix('csv:')} (imported)"


def make_source(source: Any, directory: str | Path | None = None, *, refresh: bool = False):
    """The source a config's ``data`` section names.

    Args:
        source: a `DataConfig` (preferred: its dir, end, seed, max_fill_days and
            allow_jumps are used) or a source name, ``csv`` | ``yfinance`` | ``synthetic``.
        directory: the CSV folder when `source` is a name.
        refresh: yfinance only: fetch every ticker's full history again.
    """
    if isinstance(source, str):
        name, end, seed, checks = source, None, 0, DEFAULT_CHECKS
    else:
        name, directory, end, seed = source.source, source.dir, source.end, source.seed or 0
        checks = Checks.of(source.max_fill_days, source.allow_jumps)
    if name == "csv":
        return CsvSource(directory, checks=checks)  # type: ignore[arg-type]
    if name == "synthetic":
        from engine.data.synthetic import SyntheticSource

        return SyntheticSource(seed=seed, end=end, checks=checks)
    return YFinanceSource(end=end, refresh=refresh, checks=checks)


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
