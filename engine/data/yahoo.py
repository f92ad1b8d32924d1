"""Making sense of ``yfinance.download`` replies (no network here: engine.data downloads).

* `fetch_with_retries` calls a download function with backoff (`RetryPolicy`).

* `split_download` cuts the reply into one frame per ticker, whatever its shape.
* yfinance does not raise for a ticker it could not fetch: it logs the error and
  puts an empty block in the reply. `yfinance_errors` collects those log lines
  per ticker while a download runs (and keeps them off the terminal: the engine
  reports each failure itself), and `Failure` tells a network problem (timeout,
  rate limit, no connection: worth retrying, then the cache) from a symbol
  Yahoo does not know.
"""

from __future__ import annotations

import ast
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pandas as pd

from engine.errors import DataError

OFFLINE_HINT = (
    "check the network, or run with --data-dir DIR (a folder of <TICKER>.csv files), "
    "or load such a folder into the cache once with `rotation data import DIR`"
)

_NETWORK = re.compile(
    r"rate ?limit|too many requests|timed? ?out|timeout|connection|resolve|network|"
    r"unreachable|ssl|temporar|curl: \((5|6|7|28|35|52|55|56)\)|http error 5\d\d",
    re.IGNORECASE,
)
_OFFLINE = re.compile(r"resolve|dns|unreachable|refused|no route", re.IGNORECASE)
_LOGGED = re.compile(r"^\s*(\[[^\]]*\]): (.*)$", re.DOTALL)
# Logged while yfinance looks up a ticker's time zone; the download later says only
# "no timezone found", so this line is the one that tells a network failure.
_TZ_LOOKUP = re.compile(r"Failed to get ticker '([^']+)' reason: (.*)$", re.DOTALL)


@dataclass(frozen=True)
class Failure:
    """Why a ticker is missing from a reply.

    kind: ``network`` (timeouts and rate limits: retried; no connection at all: retried
    once; then the cache), ``unknown`` (Yahoo answered that it has no data: retried
    once), ``empty`` (no reason given: retried, then taken as unknown) or ``other``
    (a bug or an API change: reported at once).
    """

    kind: str
    detail: str
    attempts: int = 1

    @classmethod
    def of_message(cls, message: str | None) -> Failure:
        if not message:
            return cls("empty", "empty reply")
        return cls("network" if _NETWORK.search(message) else "unknown", message)

    def worse(self, other: Failure | None) -> Failure:
        """This failure, unless `other` (an earlier one) was a network failure: keep that
        (after a network error yfinance may only say "no timezone found")."""
        return other if other is not None and other.kind == "network" else self

    @property
    def worth_retrying(self) -> bool:
        """Timeouts, rate limits and empty replies; not an unknown symbol or no network."""
        if self.kind == "empty":
            return True
        return self.kind == "network" and not _OFFLINE.search(self.detail)

    @classmethod
    def of_exception(cls, exc: BaseException) -> Failure:
        text = f"{type(exc).__name__}: {exc}"
        network = isinstance(exc, (OSError, TimeoutError)) or _NETWORK.search(text)
        return cls("network" if network else "other", text)


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` downloads at most; waits `delay`, 2x`delay`, 4x`delay`... between them.

    When no failure is worth more retries (Yahoo says it has no such symbol, or the
    host cannot be reached at all), one retry only.
    """

    attempts: int = 4
    delay: float = 2.0
    sleep: Callable[[float], None] = time.sleep


def fetch_with_retries(
    download: Callable, tickers: list[str], start: dt.date | None, retry: RetryPolicy
) -> tuple[dict[str, pd.DataFrame], dict[str, Failure]]:
    """Call ``download(pending, start)`` until every ticker came or retries run out.

    Returns:
        ({ticker: its part of a reply}, {ticker: why it is still missing}).
    """
    got: dict[str, pd.DataFrame] = {}
    failures: dict[str, Failure] = {}
    pending = list(tickers)
    for attempt in range(retry.attempts):
        if not pending:
            break
        if attempt:
            retry.sleep(retry.delay * 2 ** (attempt - 1))
        now = _attempt(download, pending, start, got)
        failures = {t: replace(f.worse(failures.get(t)), attempts=attempt + 1)
                    for t, f in now.items()}  # fmt: skip
        pending = list(failures)
        if attempt >= 1 and not any(f.worth_retrying for f in failures.values()):
            break
    return got, failures


def _attempt(download: Callable, pending: list[str], start, got: dict) -> dict[str, Failure]:
    try:
        reply = download(list(pending), start)
    except Exception as exc:  # yfinance raises many kinds
        failure = Failure.of_exception(exc)
        if failure.kind != "network":
            raise DataError(
                f"could not download {pending} from yfinance ({failure.detail}); " + OFFLINE_HINT
            ) from None
        return {t: failure for t in pending}
    frames = split_download(reply, pending)
    got.update(frames)
    errors = getattr(reply, "attrs", {}).get("errors", {}) if reply is not None else {}
    return {t: Failure.of_message(errors.get(t)) for t in pending if t not in frames}


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
        if len(tickers) == 1 and "Close" in frame.columns and frame["Close"].notna().any():
            return {tickers[0]: frame}
        return {}
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


class _ErrorCollector(logging.Handler):
    """Collects yfinance's error lines as {ticker: reasons} (several joined by "; ")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match, lookup = _LOGGED.match(message), _TZ_LOOKUP.search(message)
        if lookup:
            self._add([lookup.group(1)], lookup.group(2))
        elif match:
            try:
                names = ast.literal_eval(match.group(1))
            except (ValueError, SyntaxError):
                return
            self._add(names, match.group(2))

    def _add(self, names, reason: str) -> None:
        reason = " ".join(str(reason).split())
        reason = re.sub(r"\s*See https?://\S+ first for more details\.?", "", reason)
        for name in names:
            key = str(name).upper()
            known = self.errors.get(key)
            if not known:
                self.errors[key] = reason
            elif reason not in known and known.rstrip(".") not in reason:
                self.errors[key] = f"{known}; {reason}"


@contextmanager
def yfinance_errors() -> Iterator[dict[str, str]]:
    """While active, yfinance's per-ticker errors go into the yielded dict, not the terminal."""
    logger = logging.getLogger("yfinance")
    collector = _ErrorCollector()
    propagate = logger.propagate
    logger.addHandler(collector)
    logger.propagate = False
    try:
        yield collector.errors
    finally:
        logger.removeHandler(collector)
        logger.propagate = propagate
