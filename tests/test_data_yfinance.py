"""YFinanceSource without the network: reply shapes, one batched call, retries, unknown symbols.

The fake replies (tests/yahoo_replica.py) are checked against the real
`yfinance.download` with only `Ticker` (the per-ticker HTTP fetch) replaced, so
they cannot drift from the library unnoticed.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

import numpy as np
import pandas as pd
import pytest
import yfinance
import yfinance.multi
from yfinance.exceptions import YFRateLimitError

import engine.data
from engine.config import load_config
from engine.data import PRICE_COLUMNS, CsvSource, DataError, RetryPolicy, split_download
from engine.runner import run_backtest
from tests.conftest import CONFIGS
from tests.yahoo_replica import (
    EVERY_DAY,
    NEW_YORK,
    WEEKDAYS,
    FakeYahoo,
    Sleeps,
    histories,
    history_from_csv,
    make_source,
    no_network,  # noqa: F401  (fixture)
    yahoo_download,
)

SMALLCAP_CONFIG = CONFIGS / "smallcap_breakout.yaml"

pytestmark = [
    pytest.mark.usefixtures("no_network"),
    # yfinance 1.7's multi.py uses DataFrame.rename/sort_index(inplace=True), deprecated in pandas 3
    pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"),
]


# ---------------------------------------------------------------- the replica is faithful


class _FakeTicker:
    """Stands in for yfinance.Ticker: returns our histories instead of calling Yahoo."""

    histories: dict[str, pd.DataFrame] = {}
    requests: list[dict] = []
    # The n-th request of a ticker raises fail_with[n] (the last one beyond; None: no error).
    fail_with: list[Exception | None] = []

    def __init__(self, ticker: str, session=None) -> None:
        self.ticker = ticker.upper()
        self._price_history = None

    def history(self, **kwargs) -> pd.DataFrame:
        type(self).requests.append({"ticker": self.ticker, **kwargs})
        if self.fail_with:
            made = sum(r["ticker"] == self.ticker for r in self.requests) - 1
            error = self.fail_with[min(made, len(self.fail_with) - 1)]
            if error is not None:
                raise error
        if self.ticker not in self.histories:
            raise ValueError(f"${self.ticker}: possibly delisted; no price data found")
        return self.histories[self.ticker].copy()


@pytest.fixture
def offline_yfinance(monkeypatch):
    """The real yfinance.download machinery, with only the per-ticker HTTP fetch replaced."""
    monkeypatch.setattr(_FakeTicker, "histories", histories())
    monkeypatch.setattr(_FakeTicker, "requests", [])
    monkeypatch.setattr(_FakeTicker, "fail_with", [])
    monkeypatch.setattr(yfinance.multi, "Ticker", _FakeTicker)
    return _FakeTicker


def _real(tickers, **kwargs):
    return yfinance.download(
        tickers,
        period="max",
        auto_adjust=True,
        group_by="column",
        multi_level_index=True,
        progress=False,
        **kwargs,
    )


def test_fake_matches_real_yfinance_download(offline_yfinance):
    tickers = ["SPY", "ETH-USD", "IWMM"]
    real = _real(tickers)
    pd.testing.assert_frame_equal(yahoo_download({t: histories().get(t) for t in tickers}), real)
    # The features the engine must cope with, spelled out:
    assert real.columns.names == ["Price", "Ticker"]
    assert list(dict.fromkeys(real.columns.get_level_values(0))) == [
        "Adj Close",
        "Close",
        "High",
        "Low",
        "Open",
        "Volume",
    ]
    assert real.index.name == "Date" and real.index.tz is None
    assert real.index.equals(EVERY_DAY.rename("Date").as_unit(real.index.unit))
    assert real[("Close", "SPY")].isna().sum() == len(EVERY_DAY) - len(WEEKDAYS)
    assert real.xs("IWMM", axis=1, level="Ticker").isna().all().all()


def test_fake_matches_real_yfinance_download_when_all_tickers_exist(offline_yfinance):
    real = _real(["IWM", "SPY"])
    pd.testing.assert_frame_equal(yahoo_download({t: histories()[t] for t in ["IWM", "SPY"]}), real)
    assert list(dict.fromkeys(real.columns.get_level_values(0))) == [
        "Close",
        "High",
        "Low",
        "Open",
        "Volume",
    ]
    assert real[("Volume", "SPY")].dtype == np.int64  # same dates: no NaN, Volume stays int


def test_production_download_function_works_offline(offline_yfinance, tmp_path):
    """YFinanceSource's own default download (engine.data._yf_download) through real yfinance."""
    source = make_source(tmp_path, None)
    assert source.download is engine.data._yf_download
    frames = source.load(["SPY", "ETH-USD"])
    assert sorted(r["ticker"] for r in offline_yfinance.requests) == ["ETH-USD", "SPY"]
    for request in offline_yfinance.requests:
        assert request["period"] == "max" and request["auto_adjust"] is True
    assert len(frames["SPY"]) == len(WEEKDAYS) and len(frames["ETH-USD"]) == len(EVERY_DAY)
    with pytest.raises(DataError, match=r"^no data for 'IWMM' from yfinance: check the symbol$"):
        source.load(["IWMM"])
    assert source.retry.sleep == [2.0]  # a symbol Yahoo says it lacks is retried once only


def test_production_download_reports_each_failure_and_keeps_the_terminal_quiet(
    offline_yfinance, capfd
):
    reply = engine.data._yf_download(["SPY", "IWMM"])
    assert reply.attrs["errors"] == {"IWMM": "ValueError('possibly delisted; no price data found')"}
    assert "Failed download" not in capfd.readouterr().err  # the engine reports it instead
    assert not logging.getLogger("yfinance").handlers


def test_production_download_asks_for_a_tail_from_its_start(offline_yfinance):
    engine.data._yf_download(["SPY"], pd.Timestamp("2024-01-20").date())
    request = offline_yfinance.requests[0]
    assert request["start"] == "2024-01-20" and request["period"] != "max"


def test_no_network_through_real_yfinance_is_retried_once_and_named(offline_yfinance, tmp_path):
    offline_yfinance.fail_with = [
        ConnectionError("Failed to resolve 'query2.finance.yahoo.com'"),
        # what yfinance 1.7 says on later attempts in the same process:
        ValueError("possibly delisted; no timezone found"),
    ]
    source = make_source(tmp_path, None)
    with pytest.raises(DataError) as info:
        source.load(["SPY", "IWM"])
    message = info.value.message
    assert message.startswith(
        "could not download ['SPY', 'IWM'] from yfinance after 2 attempt(s) "
        "(ConnectionError(\"Failed to resolve 'query2.finance.yahoo.com'\"))"
    )
    assert "--data-dir" in message and "check the symbol" not in message
    assert source.retry.sleep == [2.0]


def test_timeouts_through_real_yfinance_are_retried_with_backoff(offline_yfinance, tmp_path):
    offline_yfinance.fail_with = [TimeoutError("Read timed out")] * 2 + [None]
    source = make_source(tmp_path, None)
    frames = source.load(["SPY", "ETH-USD"])
    assert len(frames["SPY"]) == len(WEEKDAYS) and source.retry.sleep == [2.0, 4.0]


# ---------------------------------------------------------------- reply shapes


def _by_ticker(reply: pd.DataFrame) -> pd.DataFrame:
    """The same reply as group_by="ticker" gives it: (Ticker, Price) columns."""
    swapped = reply.copy()
    swapped.columns = swapped.columns.swaplevel(0, 1)
    return swapped.sort_index(axis=1)


def test_split_download_handles_every_shape():
    spy = histories()["SPY"]
    column_layout = yahoo_download({"SPY": spy, "ETH-USD": histories()["ETH-USD"]})
    flat = column_layout.xs("SPY", axis=1, level="Ticker")  # multi_level_index=False, one ticker
    aware = spy.copy()  # ignore_tz=False keeps the exchange's zone
    shapes = {
        "price-ticker": (column_layout, ["SPY", "ETH-USD"]),
        "ticker-price": (_by_ticker(column_layout), ["SPY", "ETH-USD"]),
        "flat single ticker": (flat, ["SPY"]),
        "tz-aware single ticker": (aware, ["SPY"]),
    }
    for name, (reply, tickers) in shapes.items():
        frames = split_download(reply, tickers)
        assert sorted(frames) == sorted(tickers), name
        close = frames["SPY"]["Close"].dropna().to_numpy()
        np.testing.assert_array_equal(close, spy["Close"].to_numpy(), err_msg=name)
    assert split_download(None, ["SPY"]) == {}
    assert split_download(yahoo_download({"NOPE": None}), ["NOPE"]) == {}


@pytest.mark.parametrize("shape", ["price-ticker", "ticker-price", "flat", "tz-aware"])
def test_source_loads_every_reply_shape_into_the_engine_shape(tmp_path, shape):
    spy = histories()["SPY"]

    def download(tickers, start=None):
        if shape == "price-ticker":
            return yahoo_download({"SPY": spy})
        if shape == "ticker-price":
            return _by_ticker(yahoo_download({"SPY": spy}))
        if shape == "flat":
            return yahoo_download({"SPY": spy}).xs("SPY", axis=1, level="Ticker")
        return spy  # tz-aware index, flat columns

    frame = make_source(tmp_path, download).load(["SPY"])["SPY"]
    assert frame.index.equals(pd.DatetimeIndex(WEEKDAYS.as_unit("ns"), name="date"))
    assert list(frame.columns) == PRICE_COLUMNS and (frame.dtypes == "float64").all()
    np.testing.assert_array_equal(frame["Close"].to_numpy(), spy["Close"].to_numpy())


def test_missing_rows_for_one_ticker_are_judged_by_its_calendar(tmp_path, caplog):
    """A reply where SPY lacks one session other tickers have: one day is forward-filled."""
    data = histories()
    data["SPY"] = data["SPY"].drop(data["SPY"].index[5])  # 2024-01-09, a Tuesday
    frames = make_source(tmp_path, FakeYahoo(data)).load(["SPY", "IWM"])
    assert len(frames["SPY"]) == len(WEEKDAYS)
    filled = frames["SPY"].loc["2024-01-09"]
    assert filled["Close"] == frames["SPY"].loc["2024-01-08", "Close"] and filled["Volume"] == 0
    assert "SPY from yfinance: 1 missing session(s) forward-filled" in caplog.text
    assert "2024-01-09" in caplog.text


# ---------------------------------------------------------------- batching and symbols


def test_missing_tickers_are_fetched_in_one_batched_call(tmp_path):
    fake = FakeYahoo(histories())
    frames = make_source(tmp_path, fake).load(["SPY", "IWM", "ETH-USD"])
    assert fake.calls == [["SPY", "IWM", "ETH-USD"]] and fake.starts == [None]
    assert list(frames) == ["SPY", "IWM", "ETH-USD"]
    stored = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert stored == [
        "ETH-USD.json",
        "ETH-USD.parquet",
        "IWM.json",
        "IWM.parquet",
        "SPY.json",
        "SPY.parquet",
    ]


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ROTATION_CACHE_DIR", str(tmp_path / "elsewhere"))
    engine.data.YFinanceSource(download=FakeYahoo(histories())).load(["SPY"])
    assert (tmp_path / "elsewhere" / "SPY.parquet").is_file()


def test_unknown_ticker_is_named(tmp_path):
    fake = FakeYahoo(histories(), errors={"IWMM": "possibly delisted; no price data found"})
    source = make_source(tmp_path, fake)
    with pytest.raises(DataError) as info:
        source.load(["SPY", "IWMM"])
    assert info.value.message == "no data for 'IWMM' from yfinance: check the symbol"
    assert info.value.exit_code == 2
    assert fake.calls == [["SPY", "IWMM"], ["IWMM"]]  # retried once, alone
    assert not (tmp_path / "IWMM.parquet").exists()
    assert (tmp_path / "SPY.parquet").exists()  # the good one is kept


def test_several_unknown_tickers_are_all_named(tmp_path):
    with pytest.raises(
        DataError,
        match=r"^no data for 'AAAA', 'BBBB' from yfinance: "
        r"check the symbols$",
    ):
        make_source(tmp_path, FakeYahoo({})).load(["AAAA", "BBBB"])


def test_an_empty_reply_is_retried_then_taken_as_an_unknown_symbol(tmp_path):
    """Every ticker failed without a reason: yfinance returns an all-NaN frame, no rows."""
    fake = FakeYahoo({})
    source = make_source(tmp_path, fake)
    with pytest.raises(DataError, match=r"^no data for 'NOPE' from yfinance: check the symbol$"):
        source.load(["NOPE"])
    assert len(fake.calls) == 4 and source.retry.sleep == [2.0, 4.0, 8.0]


# ---------------------------------------------------------------- retries


def test_rate_limit_is_retried_with_backoff_then_succeeds(tmp_path):
    fake = FakeYahoo(histories())
    failures = [YFRateLimitError(), TimeoutError("read timed out")]

    def flaky(tickers, start=None):
        if failures:
            raise failures.pop(0)
        return fake(tickers, start)

    source = make_source(tmp_path, flaky)
    frames = source.load(["SPY", "IWM"])
    assert set(frames) == {"SPY", "IWM"} and fake.calls == [["SPY", "IWM"]]
    assert source.retry.sleep == [2.0, 4.0]


def test_rate_limit_reported_per_ticker_is_retried_for_that_ticker_only(tmp_path):
    data = histories()
    replies = [{"IWM": "YFRateLimitError('Too Many Requests. Rate limited.')"}, {}]

    def download(tickers, start=None):
        errors = replies.pop(0)
        reply = yahoo_download({t: None if t in errors else data[t] for t in tickers})
        reply.attrs["errors"] = errors
        calls.append(list(tickers))
        return reply

    calls: list = []
    frames = make_source(tmp_path, download).load(["SPY", "IWM"])
    assert calls == [["SPY", "IWM"], ["IWM"]] and set(frames) == {"SPY", "IWM"}


def test_persistent_timeout_gives_a_clear_final_message(tmp_path):
    def timeout(tickers, start=None):
        raise TimeoutError("Read timed out. (read timeout=10)")

    source = make_source(
        tmp_path, timeout, retry=RetryPolicy(attempts=3, delay=0.5, sleep=Sleeps())
    )
    with pytest.raises(DataError) as info:
        source.load(["SPY", "IWM"])
    message = info.value.message
    assert message.startswith(
        "could not download ['SPY', 'IWM'] from yfinance after 3 "
        "attempt(s) (TimeoutError: Read timed out."
    )
    assert "--data-dir" in message and "rotation data import" in message and "\n" not in message
    assert source.retry.sleep == [0.5, 1.0]
    assert [p for p in tmp_path.iterdir() if p.suffix in (".parquet", ".json")] == []


def test_an_unexpected_error_is_not_retried(tmp_path):
    def broken(tickers, start=None):
        raise KeyError("chart")

    source = make_source(tmp_path, broken)
    with pytest.raises(
        DataError,
        match=r"could not download \['SPY'\] from yfinance "
        r"\(KeyError: 'chart'\)",
    ):
        source.load(["SPY"])
    assert source.retry.sleep == []


# ---------------------------------------------------------------- shape of what is loaded


def test_equity_weekend_nan_rows_are_dropped(tmp_path):
    reply_source = FakeYahoo(histories())
    assert reply_source(["SPY", "ETH-USD"])[("Close", "SPY")].isna().any()  # the reply has them
    frames = make_source(tmp_path, reply_source).load(["SPY", "ETH-USD"])
    spy, eth = frames["SPY"], frames["ETH-USD"]
    assert spy.index.equals(pd.DatetimeIndex(WEEKDAYS.as_unit("ns"), name="date"))
    assert not spy.isna().any().any()
    assert eth.index.equals(pd.DatetimeIndex(EVERY_DAY.as_unit("ns"), name="date"))
    # The values are the ticker's own, untouched (auto_adjust already applied by Yahoo).
    expected = histories()["SPY"]
    for column in ("Close", "Open", "Volume"):
        np.testing.assert_array_equal(spy[column].to_numpy(), expected[column].to_numpy())


def test_csv_source_reads_shared_files_and_adjusts(shared_data):
    frames = CsvSource(shared_data).load(["SPY", "ETH-USD"])
    for ticker, frame in frames.items():
        raw = pd.read_csv(shared_data / f"{ticker}.csv")
        factor = (raw["Adj Close"] / raw["Close"]).to_numpy()
        assert list(frame.columns) == PRICE_COLUMNS
        assert frame.index.name == "date" and frame.index.dtype == "datetime64[ns]"
        assert len(frame) == len(raw)
        assert [str(d.date()) for d in frame.index[[0, -1]]] == [
            raw["Date"].iloc[0],
            raw["Date"].iloc[-1],
        ]
        np.testing.assert_allclose(frame["Close"], raw["Adj Close"], rtol=1e-15)
        for column in ("Open", "High", "Low"):
            np.testing.assert_allclose(frame[column], raw[column] * factor, rtol=1e-12)
        np.testing.assert_array_equal(frame["Volume"], raw["Volume"].astype(float))
    spy = pd.read_csv(shared_data / "SPY.csv")
    assert spy["Adj Close"].iloc[0] / spy["Close"].iloc[0] < 0.9  # SPY really is adjusted
    assert frames["SPY"]["Open"].iloc[0] < spy["Open"].iloc[0] * 0.9


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
    source = make_source(tmp_path, fake, now=dt.datetime.now(dt.timezone.utc), end=config.data.end)
    via_yahoo = run_backtest(config, source)
    via_csv = run_backtest(
        load_config(SMALLCAP_CONFIG, source="csv", dir=shared_data), CsvSource(shared_data)
    )
    assert fake.calls == [tickers]
    got, want = dict(_flatten(via_yahoo.stats)), dict(_flatten(via_csv.stats))
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float) and math.isfinite(value):
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        else:
            assert got[key] == value, key
    assert via_yahoo.dates.equals(via_csv.dates)
    np.testing.assert_allclose(
        via_yahoo.strategy.value.to_numpy(), via_csv.strategy.value.to_numpy(), rtol=1e-9
    )
