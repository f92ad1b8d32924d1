"""What `yfinance.download` returns, rebuilt without the network (shared by tests/test_data_*.py).

`yahoo_download` below rebuilds, step by step, what yfinance 1.x's
`yfinance.download(tickers, period="max", auto_adjust=True, group_by="column",
multi_level_index=True, progress=False)` returns (yfinance/multi.py
`_download_impl` and `reindex_dfs`):

* each ticker's `Ticker.history(auto_adjust=True, actions=False)` frame has
  columns Open, High, Low, Close, Volume (Volume int64), a tz-aware daily
  index at midnight in the exchange's zone, named "Date";
* a ticker yfinance cannot find is replaced by `utils.empty_df()`: Open, High,
  Low, Close, Adj Close, Volume, all NaN, no rows;
* indexes are made tz-naive (ignore_tz for daily bars) and every frame is
  reindexed to the UNION of all tickers' dates (so equities get NaN rows on
  crypto's weekends);
* frames are concatenated with keys (names ['Ticker', 'Price']), the levels
  swapped to ['Price', 'Ticker'] and the columns sorted (Close, High, Low,
  Open, Volume; a failed ticker adds an 'Adj Close' block).

tests/test_data_yfinance.py checks this replica against the real
`yfinance.download` with only `Ticker` (the per-ticker HTTP fetch) replaced.
"""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data import RetryPolicy, YFinanceSource

NEW_YORK = "America/New_York"
# Hand-made market: SPY and IWM trade on NYSE sessions (Monday 2024-01-15 is Martin
# Luther King Jr. Day), ETH-USD trades every day. 2024-01-05 is a Friday.
WEEKDAYS = pd.bdate_range("2024-01-02", "2024-01-31").drop(pd.Timestamp("2024-01-15"))
EVERY_DAY = pd.date_range("2024-01-01", "2024-01-31", freq="D")
# Noon UTC on Thursday 2024-02-01: every bar up to 2024-01-31 is final.
AFTER_JANUARY = dt.datetime(2024, 2, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def no_network(monkeypatch):
    """Python-level sockets refuse to connect: nothing may reach the network."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def yahoo_history(dates, close, tz: str, seed: float = 0.0) -> pd.DataFrame:
    """One ticker as `Ticker.history(period="max", auto_adjust=True, actions=False)` gives it."""
    index = pd.to_datetime(pd.DatetimeIndex(dates).date).tz_localize(tz)
    index.name = "Date"
    close = np.asarray(close, dtype=float)
    return pd.DataFrame(
        {
            "Open": close * (1 - 0.002) + seed,
            "High": close * 1.01 + seed,
            "Low": close * 0.99 + seed,
            "Close": close + seed,
            "Volume": np.arange(len(close), dtype=np.int64) * 10 + 1000,
        },
        index=index,
    )


def history_from_csv(path: Path, tz: str) -> pd.DataFrame:
    """A shared CSV turned into what yfinance's history gives: auto-adjusted, no Adj Close."""
    raw = pd.read_csv(path)
    ratio = (raw["Adj Close"] / raw["Close"]).to_numpy()  # as yfinance.utils.auto_adjust
    index = pd.to_datetime(pd.DatetimeIndex(raw["Date"]).date).tz_localize(tz)
    index.name = "Date"
    return pd.DataFrame(
        {
            "Open": raw["Open"].to_numpy() * ratio,
            "High": raw["High"].to_numpy() * ratio,
            "Low": raw["Low"].to_numpy() * ratio,
            "Close": raw["Adj Close"].to_numpy(),
            "Volume": raw["Volume"].to_numpy().astype(np.int64),
        },
        index=index,
    )


def failed_block() -> pd.DataFrame:
    """yfinance.utils.empty_df(): what a ticker Yahoo does not know contributes."""
    frame = pd.DataFrame(
        index=[],
        data={
            "Open": np.nan,
            "High": np.nan,
            "Low": np.nan,
            "Close": np.nan,
            "Adj Close": np.nan,
            "Volume": np.nan,
        },
    )
    frame.index.name = "Date"
    return frame


def yahoo_download(histories: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Combine per-ticker histories exactly as yfinance.download(group_by="column") does."""
    dfs = {t.upper(): (failed_block() if h is None else h.copy()) for t, h in histories.items()}
    for frame in dfs.values():
        if not frame.empty:
            frame.index = frame.index.tz_localize(None)
    index = None
    for frame in dfs.values():
        if not frame.empty:
            index = frame.index if index is None else index.union(frame.index)
    if index is None:
        index = pd.DatetimeIndex([])
    dfs = {t: frame.reindex(index) for t, frame in dfs.items()}
    data = pd.concat(
        list(dfs.values()), axis=1, sort=True, keys=list(dfs.keys()), names=["Ticker", "Price"]
    )
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


def histories() -> dict[str, pd.DataFrame]:
    n, m = len(WEEKDAYS), len(EVERY_DAY)
    return {
        "SPY": yahoo_history(WEEKDAYS, 470 + np.arange(n), NEW_YORK),
        "IWM": yahoo_history(WEEKDAYS, 200 - 0.5 * np.arange(n), NEW_YORK),
        "ETH-USD": yahoo_history(EVERY_DAY, 2300 + 10 * np.sin(np.arange(m)), "UTC"),
    }


class FakeYahoo:
    """A `download(tickers, start)` callable for YFinanceSource that records every call.

    `start` keeps the bars dated on or after it (as yfinance's `start=`); `errors`
    ({ticker: reason}) becomes the reply's ``attrs["errors"]`` for missing tickers.
    """

    def __init__(self, histories: dict[str, pd.DataFrame], errors: dict | None = None) -> None:
        self.histories = histories
        self.errors = errors or {}
        self.calls: list[list[str]] = []
        self.starts: list[dt.date | None] = []

    def __call__(self, tickers: list[str], start: dt.date | None = None) -> pd.DataFrame:
        self.calls.append(list(tickers))
        self.starts.append(start)
        chosen = {}
        for ticker in tickers:
            history = self.histories.get(ticker.upper())
            if history is not None and start is not None:
                history = history[history.index.tz_localize(None) >= pd.Timestamp(start)]
                history = history if len(history) else None
            chosen[ticker] = history
        reply = yahoo_download(chosen)
        reply.attrs["errors"] = {t: e for t, e in self.errors.items() if chosen.get(t) is None}
        return reply


def must_not_download(tickers, start=None):
    raise AssertionError(f"download called for {tickers} although the cache has them")


class Sleeps(list):
    """A RetryPolicy sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_source(cache_dir, download, now: dt.datetime = AFTER_JANUARY, **kwargs) -> YFinanceSource:
    """A YFinanceSource on a fixed clock that never really sleeps."""
    kwargs.setdefault("retry", RetryPolicy(sleep=Sleeps()))
    return YFinanceSource(cache_dir=cache_dir, download=download, clock=lambda: now, **kwargs)
