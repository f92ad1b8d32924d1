"""Price sources without the network: YFinanceSource fed by a fake download, and CsvSource.

`yahoo_download` below rebuilds, step by step, what yfinance 1.x's
`yfinance.download(tickers, period="max", auto_adjust=True, group_by="column",
multi_level_index=True, progress=False)` returns (yfinance/multi.py
`_download_impl` and `reindex_dfs`):

* each ticker's `Ticker.history(auto_adjust=True, actions=False)` frame has
  columns Open, High, Low, Close, Volume (Volume int64), a tz-aware daily
  index at midnight in the exchange's zone (unit "s" under pandas 3), named
  "Date";
* a ticker yfinance cannot find is replaced by `utils.empty_df()`: Open, High,
  Low, Close, Adj Close, Volume, all NaN, no rows;
* indexes are made tz-naive (ignore_tz for daily bars) and every frame is
  reindexed to the UNION of all tickers' dates (so equities get NaN rows on
  crypto's weekends);
* frames are concatenated with keys (names ['Ticker', 'Price']), the levels
  swapped to ['Price', 'Ticker'] and the columns sorted (Close, High, Low,
  Open, Volume; a failed ticker adds an 'Adj Close' block).

`test_fake_matches_real_yfinance_download` checks this replica against the
real `yfinance.download` with only `Ticker` (the per-ticker HTTP fetch)
replaced, so the fake cannot drift from the library unnoticed.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yfinance
import yfinance.multi

import engine.data
from engine.config import load_config
from engine.data import PRICE_COLUMNS, CsvSource, DataError, YFinanceSource
from engine.runner import run_backtest

REPO = Path(__file__).resolve().parents[1]
SMALLCAP_CONFIG = REPO / "configs" / "smallcap_breakout.yaml"
NEW_YORK = "America/New_York"

pytestmark = pytest.mark.filterwarnings(
    # yfinance 1.7's multi.py uses DataFrame.rename/sort_index(inplace=True), deprecated in pandas 3
    "ignore:The inplace keyword:DeprecationWarning"
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Python-level sockets refuse to connect: nothing here may reach the network."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---------------------------------------------------------------- the yfinance replica


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
    frame = pd.DataFrame(index=[], data={"Open": np.nan, "High": np.nan, "Low": np.nan,
                                         "Close": np.nan, "Adj Close": np.nan,
                                         "Volume": np.nan})
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
    data = pd.concat(list(dfs.values()), axis=1, sort=True, keys=list(dfs.keys()),
                     names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


class FakeYahoo:
    """A `download(tickers)` callable for YFinanceSource that records every call."""

    def __init__(self, histories: dict[str, pd.DataFrame]) -> None:
        self.histories = histories
        self.calls: list[list[str]] = []

    def __call__(self, tickers: list[str]) -> pd.DataFrame:
        self.calls.append(list(tickers))
        return yahoo_download({t: self.histories.get(t.upper()) for t in tickers})


def must_not_download(tickers):
    raise AssertionError(f"download called for {tickers} although the cache has them")


# Hand-made market: SPY and IWM trade Mon-Fri (a holiday on Wed 2024-01-17 for both),
# ETH-USD trades every day. 2024-01-05 is a Friday.
WEEKDAYS = pd.bdate_range("2024-01-02", "2024-01-31").drop(pd.Timestamp("2024-01-17"))
EVERY_DAY = pd.date_range("2024-01-01", "2024-01-31", freq="D")


def histories() -> dict[str, pd.DataFrame]:
    n, m = len(WEEKDAYS), len(EVERY_DAY)
    return {
        "SPY": yahoo_history(WEEKDAYS, 470 + np.arange(n), NEW_YORK),
        "IWM": yahoo_history(WEEKDAYS, 200 - 0.5 * np.arange(n), NEW_YORK),
        "ETH-USD": yahoo_history(EVERY_DAY, 2300 + 10 * np.sin(np.arange(m)), "UTC"),
    }


# ---------------------------------------------------------------- the replica is faithful


class _FakeTicker:
    """Stands in for yfinance.Ticker: returns our histories instead of calling Yahoo."""

    histories: dict[str, pd.DataFrame] = {}
    requests: list[dict] = []

    def __init__(self, ticker: str, session=None) -> None:
        self.ticker = ticker.upper()
        self._price_history = None

    def history(self, **kwargs) -> pd.DataFrame:
        type(self).requests.append({"ticker": self.ticker, **kwargs})
        if self.ticker not in self.histories:
            raise ValueError(f"${self.ticker}: possibly delisted; no price data found")
        return self.histories[self.ticker].copy()


@pytest.fixture
def offline_yfinance(monkeypatch):
    """The real yfinance.download machinery, with only the per-ticker HTTP fetch replaced."""
    monkeypatch.setattr(_FakeTicker, "histories", histories())
    monkeypatch.setattr(_FakeTicker, "requests", [])
    monkeypatch.setattr(yfinance.multi, "Ticker", _FakeTicker)
    return _FakeTicker


def test_fake_matches_real_yfinance_download(offline_yfinance):
    tickers = ["SPY", "ETH-USD", "IWMM"]
    real = yfinance.download(tickers, period="max", auto_adjust=True, group_by="column",
                             multi_level_index=True, progress=False)
    fake = FakeYahoo(histories())(tickers)
    pd.testing.assert_frame_equal(fake, real)
    # The features the engine must cope with, spelled out:
    assert real.columns.names == ["Price", "Ticker"]
    assert list(dict.fromkeys(real.columns.get_level_values(0))) == [
        "Adj Close", "Close", "High", "Low", "Open", "Volume"]
    assert real.index.name == "Date" and real.index.tz is None
    assert real.index.equals(EVERY_DAY.rename("Date").as_unit(real.index.unit))
    assert real[("Close", "SPY")].isna().sum() == len(EVERY_DAY) - len(WEEKDAYS)
    assert real.xs("IWMM", axis=1, level="Ticker").isna().all().all()


def test_fake_matches_real_yfinance_download_when_all_tickers_exist(offline_yfinance):
    tickers = ["IWM", "SPY"]
    real = yfinance.download(tickers, period="max", auto_adjust=True, group_by="column",
                             multi_level_index=True, progress=False)
    pd.testing.assert_frame_equal(FakeYahoo(histories())(tickers), real)
    assert list(dict.fromkeys(real.columns.get_level_values(0))) == [
        "Close", "High", "Low", "Open", "Volume"]
    assert real[("Volume", "SPY")].dtype == np.int64  # same dates: no NaN, Volume stays int


def test_production_download_function_works_offline(offline_yfinance, tmp_path):
    """YFinanceSource's own default download (engine.data._yf_download) through real yfinance."""
    source = YFinanceSource(cache_dir=tmp_path)
    assert source.download is engine.data._yf_download
    frames = source.load(["SPY", "ETH-USD"])
    assert sorted(r["ticker"] for r in offline_yfinance.requests) == ["ETH-USD", "SPY"]
    for request in offline_yfinance.requests:
        assert request["period"] == "max" and request["auto_adjust"] is True
    assert len(frames["SPY"]) == len(WEEKDAYS) and len(frames["ETH-USD"]) == len(EVERY_DAY)
    with pytest.raises(DataError, match=r"^no data for 'IWMM' from yfinance: check the symbol$"):
        source.load(["IWMM"])


# ---------------------------------------------------------------- YFinanceSource behaviour


def test_missing_tickers_are_fetched_in_one_batched_call(tmp_path):
    fake = FakeYahoo(histories())
    frames = YFinanceSource(cache_dir=tmp_path, download=fake).load(["SPY", "IWM", "ETH-USD"])
    assert fake.calls == [["SPY", "IWM", "ETH-USD"]]
    assert list(frames) == ["SPY", "IWM", "ETH-USD"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ETH-USD.parquet", "IWM.parquet", "SPY.parquet"]


def test_cache_hit_makes_no_call(tmp_path):
    first = YFinanceSource(cache_dir=tmp_path, download=FakeYahoo(histories()))
    before = first.load(["SPY", "ETH-USD"])
    again = YFinanceSource(cache_dir=tmp_path, download=must_not_download).load(["ETH-USD", "SPY"])
    for ticker in ("SPY", "ETH-USD"):
        pd.testing.assert_frame_equal(again[ticker], before[ticker])


def test_partial_cache_fetches_only_the_missing_tickers(tmp_path):
    YFinanceSource(cache_dir=tmp_path, download=FakeYahoo(histories())).load(["SPY"])
    fake = FakeYahoo(histories())
    frames = YFinanceSource(cache_dir=tmp_path, download=fake).load(["IWM", "SPY", "ETH-USD"])
    assert fake.calls == [["IWM", "ETH-USD"]]
    assert set(frames) == {"IWM", "SPY", "ETH-USD"}


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ROTATION_CACHE_DIR", str(tmp_path / "elsewhere"))
    fake = FakeYahoo(histories())
    YFinanceSource(download=fake).load(["SPY"])
    assert (tmp_path / "elsewhere" / "SPY.parquet").is_file()


def test_unknown_ticker_is_a_data_error(tmp_path):
    fake = FakeYahoo(histories())
    source = YFinanceSource(cache_dir=tmp_path, download=fake)
    with pytest.raises(DataError) as info:
        source.load(["SPY", "IWMM"])
    assert info.value.message == "no data for 'IWMM' from yfinance: check the symbol"
    assert info.value.exit_code == 2
    assert not (tmp_path / "IWMM.parquet").exists()


def test_only_unknown_tickers_is_a_data_error(tmp_path):
    """Every ticker failed: yfinance returns an all-NaN frame with no rows."""
    source = YFinanceSource(cache_dir=tmp_path, download=FakeYahoo({}))
    with pytest.raises(DataError, match=r"^no data for 'NOPE' from yfinance: check the symbol$"):
        source.load(["NOPE"])


def test_download_exception_is_a_data_error_pointing_at_data_dir(tmp_path):
    def offline(tickers):
        raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")

    with pytest.raises(DataError) as info:
        YFinanceSource(cache_dir=tmp_path, download=offline).load(["SPY", "IWM"])
    message = info.value.message
    assert "--data-dir" in message
    assert "['SPY', 'IWM']" in message and "ConnectionError" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_cached_parquet_round_trips_the_same_frame(tmp_path):
    source = YFinanceSource(cache_dir=tmp_path, download=FakeYahoo(histories()))
    frames = source.load(["SPY", "ETH-USD"])
    for ticker, frame in frames.items():
        stored = pd.read_parquet(source.cache_path(ticker))
        pd.testing.assert_frame_equal(stored, frame, check_freq=False)
        assert list(frame.columns) == PRICE_COLUMNS
        assert frame.index.name == "date" and frame.index.dtype == "datetime64[ns]"
        assert (frame.dtypes == "float64").all()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_equity_weekend_nan_rows_are_dropped(tmp_path):
    reply_source = FakeYahoo(histories())
    assert reply_source(["SPY", "ETH-USD"])[("Close", "SPY")].isna().any()  # the reply has them
    frames = YFinanceSource(cache_dir=tmp_path, download=reply_source).load(["SPY", "ETH-USD"])
    spy, eth = frames["SPY"], frames["ETH-USD"]
    assert spy.index.equals(pd.DatetimeIndex(WEEKDAYS.as_unit("ns"), name="date"))
    assert not spy.isna().any().any()
    assert (spy.index.day_of_week < 5).all()
    assert eth.index.equals(pd.DatetimeIndex(EVERY_DAY.as_unit("ns"), name="date"))
    # The values are the ticker's own, untouched (auto_adjust already applied by Yahoo).
    expected = histories()["SPY"]
    np.testing.assert_array_equal(spy["Close"].to_numpy(), expected["Close"].to_numpy())
    np.testing.assert_array_equal(spy["Open"].to_numpy(), expected["Open"].to_numpy())
    np.testing.assert_array_equal(spy["Volume"].to_numpy(), expected["Volume"].to_numpy())


# ---------------------------------------------------------------- CsvSource


def test_csv_source_reads_shared_files_and_adjusts(shared_data):
    frames = CsvSource(shared_data).load(["SPY", "ETH-USD"])
    for ticker, frame in frames.items():
        raw = pd.read_csv(shared_data / f"{ticker}.csv")
        factor = (raw["Adj Close"] / raw["Close"]).to_numpy()
        assert list(frame.columns) == PRICE_COLUMNS
        assert frame.index.name == "date" and frame.index.dtype == "datetime64[ns]"
        assert len(frame) == len(raw)
        assert [str(d.date()) for d in frame.index[[0, -1]]] == [raw["Date"].iloc[0],
                                                                  raw["Date"].iloc[-1]]
        np.testing.assert_allclose(frame["Close"], raw["Adj Close"], rtol=1e-15)
        for column in ("Open", "High", "Low"):
            np.testing.assert_allclose(frame[column], raw[column] * factor, rtol=1e-12)
        np.testing.assert_array_equal(frame["Volume"], raw["Volume"].astype(float))
    spy = pd.read_csv(shared_data / "SPY.csv")
    assert spy["Adj Close"].iloc[0] / spy["Close"].iloc[0] < 0.9  # SPY really is adjusted
    assert frames["SPY"]["Open"].iloc[0] < spy["Open"].iloc[0] * 0.9


def test_csv_missing_a_column_names_found_and_needed(tmp_path):
    (tmp_path / "ABC.csv").write_text(
        "Date,Open,High,Low,Adj Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        CsvSource(tmp_path).load(["ABC"])
    message = info.value.message
    assert str(tmp_path / "ABC.csv") in message
    assert "missing columns ['Close']" in message
    assert "found ['Date', 'Open', 'High', 'Low', 'Adj Close', 'Volume']" in message
    assert "need ['Date', 'Open', 'High', 'Low', 'Close', 'Adj Close', 'Volume']" in message


def test_csv_without_date_column_is_a_data_error(tmp_path):
    (tmp_path / "ABC.csv").write_text("Day,Close\n2024-01-02,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="Date"):
        CsvSource(tmp_path).load(["ABC"])


def test_csv_duplicate_date_is_a_data_error(tmp_path):
    (tmp_path / "ABC.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,1,2,0.5,1.5,1.5,10\n2024-01-02,1,2,0.5,1.5,1.5,10\n", encoding="utf-8")
    with pytest.raises(DataError, match="2024-01-02 appears twice"):
        CsvSource(tmp_path).load(["ABC"])


# ---------------------------------------------------------------- end to end


def _flatten(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_yfinance_source_backtest_equals_csv_source_backtest(shared_data, tmp_path):
    """configs/smallcap_breakout.yaml via a yfinance-shaped reply built from the shared CSVs."""
    config = load_config(SMALLCAP_CONFIG)
    tickers = config.tickers()
    assert config.data.source == "yfinance" and tickers == ["IWM", "SPY"]
    fake = FakeYahoo({t: history_from_csv(shared_data / f"{t}.csv", NEW_YORK) for t in tickers})
    via_yahoo = run_backtest(config, YFinanceSource(cache_dir=tmp_path, download=fake))
    via_csv = run_backtest(load_config(SMALLCAP_CONFIG, source="csv", dir=shared_data),
                           CsvSource(shared_data))
    assert fake.calls == [tickers]
    got, want = dict(_flatten(via_yahoo.stats)), dict(_flatten(via_csv.stats))
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float) and math.isfinite(value):
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        else:
            assert got[key] == value, key
    assert via_yahoo.dates.equals(via_csv.dates)
    np.testing.assert_allclose(via_yahoo.strategy.value.to_numpy(),
                               via_csv.strategy.value.to_numpy(), rtol=1e-9)
