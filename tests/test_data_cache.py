"""The price cache: freshness, tails, refresh, offline use, corruption, atomic writes, locking."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import time

import numpy as np
import pandas as pd
import pytest

from engine.data import DataError, freshness
from engine.data.cache import PriceCache, import_csv_folder
from tests.yahoo_replica import (
    AFTER_JANUARY,
    WEEKDAYS,
    FakeYahoo,
    histories,
    make_source,
    must_not_download,
    no_network,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.usefixtures("no_network")
UTC = dt.timezone.utc


def upto(data: dict, last: str) -> dict:
    """Each history cut after `last` (what Yahoo had on that day)."""
    return {t: h[h.index.tz_localize(None) <= pd.Timestamp(last)] for t, h in data.items()}


def offline(tickers, start=None):
    raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---------------------------------------------------------------- hits, misses, metadata


def test_cache_hit_makes_no_call(tmp_path):
    before = make_source(tmp_path, FakeYahoo(histories())).load(["SPY", "ETH-USD"])
    again = make_source(tmp_path, must_not_download).load(["ETH-USD", "SPY"])
    for ticker in ("SPY", "ETH-USD"):
        pd.testing.assert_frame_equal(again[ticker], before[ticker])


def test_partial_cache_fetches_only_the_missing_tickers(tmp_path):
    make_source(tmp_path, FakeYahoo(histories())).load(["SPY"])
    fake = FakeYahoo(histories())
    frames = make_source(tmp_path, fake).load(["IWM", "SPY", "ETH-USD"])
    assert fake.calls == [["IWM", "ETH-USD"]]
    assert set(frames) == {"IWM", "SPY", "ETH-USD"}


def test_entry_is_parquet_plus_a_metadata_record(tmp_path):
    source = make_source(tmp_path, FakeYahoo(histories()))
    frames = source.load(["SPY", "ETH-USD"])
    for ticker, frame in frames.items():
        stored = pd.read_parquet(tmp_path / f"{ticker}.parquet")
        pd.testing.assert_frame_equal(stored, frame, check_freq=False)
        meta = json.loads((tmp_path / f"{ticker}.json").read_text())
        assert meta["source"] == "yfinance" and meta["adjusted"] is True
        assert meta["fetched_at"] == "2024-02-01T12:00:00+00:00"
        assert (meta["first"], meta["last"], meta["rows"]) == (
            str(frame.index[0].date()),
            "2024-01-31",
            len(frame),
        )
        assert meta["history_from"] is None and len(meta["sha256"]) == 64
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_run_whose_end_the_cache_covers_makes_no_call_years_later(tmp_path):
    make_source(tmp_path, FakeYahoo(histories())).load(["SPY", "ETH-USD"])
    later = make_source(
        tmp_path, must_not_download, now=at("2027-03-01T12:00"), end=dt.date(2024, 1, 28)
    )  # a Sunday: the last session is Friday 26th
    assert set(later.load(["SPY", "ETH-USD"])) == {"SPY", "ETH-USD"}


def test_bars_not_final_when_fetched_are_not_stored(tmp_path):
    """At 13:00 New York on 2024-01-31 SPY's bar of that day is still moving."""
    source = make_source(tmp_path, FakeYahoo(histories()), now=at("2024-01-31T18:00"))
    frames = source.load(["SPY", "ETH-USD"])
    assert frames["SPY"].index[-1] == pd.Timestamp("2024-01-30")
    assert frames["ETH-USD"].index[-1] == pd.Timestamp("2024-01-30")  # final at 00:00 UTC + 1 h


# ---------------------------------------------------------------- staleness and tails


def test_freshness_rule():
    # Latest final session as of a moment, per market:
    assert freshness.wanted_last("SPY", None, at("2024-01-31T18:00")) == pd.Timestamp("2024-01-30")
    assert freshness.wanted_last("SPY", None, at("2024-01-31T22:30")) == pd.Timestamp("2024-01-31")
    assert freshness.wanted_last("SPY", None, at("2024-01-16T03:00")) == pd.Timestamp("2024-01-12")
    assert freshness.wanted_last("ETH-USD", None, at("2024-01-16T03:00")) == pd.Timestamp(
        "2024-01-15"
    )
    assert freshness.wanted_last("SPY", dt.date(2024, 1, 15), at("2027-01-01T00:00")) == (
        pd.Timestamp("2024-01-12")
    )  # MLK day: the session before


def test_a_bar_of_an_early_close_is_final_an_hour_after_13_new_york():
    # Friday 2024-11-29 closes at 13:00 New York (18:00 UTC); final with SETTLE at 19:00 UTC
    assert freshness.wanted_last("SPY", None, at("2024-11-29T18:30")) == pd.Timestamp("2024-11-27")
    assert freshness.wanted_last("SPY", None, at("2024-11-29T19:00")) == pd.Timestamp("2024-11-29")
    days = pd.DatetimeIndex(["2024-11-27", "2024-11-29"])
    assert [str(t) for t in freshness.close_instants("SPY", days)] == [
        "2024-11-27 21:00:00+00:00",  # a full session: 16:00 New York
        "2024-11-29 18:00:00+00:00",  # the early close
    ]
    assert freshness.close_instants("ETH-USD", days)[1] == pd.Timestamp("2024-11-30", tz="UTC")


def test_a_run_past_the_cached_end_fetches_only_the_tail(tmp_path):
    make_source(
        tmp_path, FakeYahoo(upto(histories(), "2024-01-19")), now=at("2024-01-20T12:00")
    ).load(["SPY", "ETH-USD"])
    fake = FakeYahoo(histories())
    frames = make_source(tmp_path, fake).load(["SPY", "ETH-USD"])
    assert fake.calls == [["SPY", "ETH-USD"]] and fake.starts == [dt.date(2024, 1, 9)]
    expected = make_source(tmp_path / "fresh", FakeYahoo(histories())).load(["SPY", "ETH-USD"])
    for ticker in ("SPY", "ETH-USD"):
        pd.testing.assert_frame_equal(frames[ticker], expected[ticker])
    meta = json.loads((tmp_path / "SPY.json").read_text())
    assert meta["last"] == "2024-01-31" and meta["rows"] == len(WEEKDAYS)
    make_source(tmp_path, must_not_download).load(["SPY", "ETH-USD"])  # fresh now


def test_a_new_dividend_rescales_history_so_the_full_history_is_fetched(tmp_path, caplog):
    make_source(
        tmp_path, FakeYahoo(upto(histories(), "2024-01-19")), now=at("2024-01-20T12:00")
    ).load(["SPY", "IWM"])
    rescaled = histories()
    spy = rescaled["SPY"]
    early = spy.index.tz_localize(None) < pd.Timestamp("2024-01-25")
    spy.loc[early, ["Open", "High", "Low", "Close"]] *= 0.995  # ex-dividend on the 25th
    fake = FakeYahoo(rescaled)
    frames = make_source(tmp_path, fake).load(["SPY", "IWM"])
    assert fake.calls == [["SPY", "IWM"], ["SPY"]]
    assert fake.starts == [dt.date(2024, 1, 9), None]
    np.testing.assert_allclose(frames["SPY"]["Close"].to_numpy(), spy["Close"].to_numpy())
    assert "SPY: Yahoo's adjusted prices changed since they were cached" in caplog.text


def test_a_stale_ticker_with_nothing_new_keeps_its_cache_and_is_not_asked_again(tmp_path):
    old = upto(histories(), "2024-01-19")
    make_source(tmp_path, FakeYahoo(old), now=at("2024-01-20T12:00")).load(["SPY"])
    delisted = FakeYahoo({}, errors={"SPY": "possibly delisted; no price data found"})
    frame = make_source(tmp_path, delisted).load(["SPY"])["SPY"]
    assert frame.index[-1] == pd.Timestamp("2024-01-19")
    make_source(tmp_path, must_not_download).load(["SPY"])


def test_refresh_refetches_the_full_history(tmp_path):
    make_source(tmp_path, FakeYahoo(histories())).load(["SPY"])
    fake = FakeYahoo(histories())
    make_source(tmp_path, fake, refresh=True).load(["SPY"])
    assert fake.calls == [["SPY"]] and fake.starts == [None]


def test_a_partial_history_is_refetched_in_full_by_a_run(tmp_path):
    fake = FakeYahoo(histories())
    make_source(tmp_path, fake, history_from=dt.date(2024, 1, 10)).load(["SPY"])
    assert fake.starts == [dt.date(2024, 1, 10)]
    assert json.loads((tmp_path / "SPY.json").read_text())["history_from"] == "2024-01-10"
    make_source(tmp_path, must_not_download, history_from=dt.date(2024, 1, 20)).load(["SPY"])
    full = FakeYahoo(histories())
    frame = make_source(tmp_path, full).load(["SPY"])["SPY"]
    assert full.starts == [None] and len(frame) == len(WEEKDAYS)


# ---------------------------------------------------------------- offline


def test_offline_with_the_cache_goes_on_with_a_warning(tmp_path, caplog):
    make_source(
        tmp_path, FakeYahoo(upto(histories(), "2024-01-19")), now=at("2024-01-20T12:00")
    ).load(["SPY", "ETH-USD"])
    frames = make_source(tmp_path, offline).load(["SPY", "ETH-USD"])
    assert frames["SPY"].index[-1] == pd.Timestamp("2024-01-19")
    lines = [r.getMessage() for r in caplog.records if "could not update" in r.getMessage()]
    assert len(lines) == 2 and all(line.startswith("Warning: ") for line in lines)
    assert "could not update SPY from yfinance (ConnectionError: Failed to resolve" in lines[0]
    assert "using the cache up to 2024-01-19 (fetched 2024-01-20T12:00:00+00:00)" in lines[0]


def test_imported_files_are_not_fresh_by_their_import_time(tmp_path, caplog):
    """An import says nothing of what Yahoo has: a run wanting the latest asks for the tail."""
    folder = tmp_path / "csv"
    folder.mkdir()
    frame = make_source(
        tmp_path / "scratch", FakeYahoo(upto(histories(), "2024-01-19")), now=at("2024-01-20T12:00")
    ).load(["SPY"])["SPY"]
    frame.rename_axis("Date").to_csv(folder / "SPY.csv")
    import_csv_folder(folder, tmp_path / "cache")
    fake = FakeYahoo(histories())
    frames = make_source(tmp_path / "cache", fake).load(["SPY"])
    assert fake.starts == [dt.date(2024, 1, 9)] and frames["SPY"].index[-1] == pd.Timestamp(
        "2024-01-31"
    )
    assert json.loads((tmp_path / "cache" / "SPY.json").read_text())["source"] == "yfinance"


def test_offline_with_a_cache_short_of_the_wanted_end_is_an_error(tmp_path):
    make_source(
        tmp_path, FakeYahoo(upto(histories(), "2024-01-19")), now=at("2024-01-20T12:00")
    ).load(["SPY"])
    with pytest.raises(
        DataError,
        match=r"holds it only up to 2024-01-19, before data.end "
        r"2024-01-26; .*--data-dir",
    ):
        make_source(tmp_path, offline, end=dt.date(2024, 1, 26)).load(["SPY"])


def test_offline_without_the_cache_says_how_to_supply_data(tmp_path):
    make_source(tmp_path, FakeYahoo(histories())).load(["SPY"])
    with pytest.raises(DataError) as info:
        make_source(tmp_path, offline).load(["SPY", "IWM"])
    message = info.value.message
    assert "could not download ['IWM'] from yfinance after 2 attempt(s)" in message
    assert "--data-dir DIR" in message and "rotation data import DIR" in message


# ---------------------------------------------------------------- corruption and atomicity


@pytest.mark.parametrize(
    "damage, reason",
    [
        (
            lambda d: (d / "SPY.parquet").write_bytes((d / "SPY.parquet").read_bytes()[:100]),
            "checksum mismatch",
        ),
        (lambda d: (d / "SPY.parquet").write_bytes(b"\0" * 2000), "checksum mismatch"),
        (lambda d: (d / "SPY.json").write_text("{not json"), "metadata record is unreadable"),
        (lambda d: (d / "SPY.json").unlink(), "no metadata record"),
    ],
    ids=["truncated", "overwritten", "bad record", "no record"],
)
def test_a_corrupt_entry_is_reported_and_refetched(tmp_path, caplog, damage, reason):
    first = make_source(tmp_path, FakeYahoo(histories())).load(["SPY", "IWM"])
    damage(tmp_path)
    fake = FakeYahoo(histories())
    again = make_source(tmp_path, fake).load(["SPY", "IWM"])
    assert fake.calls == [["SPY"]]
    pd.testing.assert_frame_equal(again["SPY"], first["SPY"])
    assert f"cached SPY ({tmp_path / 'SPY.parquet'}) is corrupt" in caplog.text
    assert reason in caplog.text
    make_source(tmp_path, must_not_download).load(["SPY", "IWM"])  # repaired


def test_a_corrupt_entry_while_offline_is_an_error(tmp_path):
    make_source(tmp_path, FakeYahoo(histories())).load(["SPY"])
    (tmp_path / "SPY.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(DataError, match="could not download"):
        make_source(tmp_path, offline).load(["SPY"])


def test_a_failed_write_leaves_the_old_entry_intact(tmp_path, monkeypatch):
    make_source(
        tmp_path, FakeYahoo(upto(histories(), "2024-01-19")), now=at("2024-01-20T12:00")
    ).load(["SPY"])
    before = (tmp_path / "SPY.parquet").read_bytes()
    real_replace = os.replace

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        make_source(tmp_path, FakeYahoo(histories()), refresh=True).load(["SPY"])
    monkeypatch.setattr(os, "replace", real_replace)
    assert (tmp_path / "SPY.parquet").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert make_source(tmp_path, must_not_download, end=dt.date(2024, 1, 19)).load(["SPY"])


# ---------------------------------------------------------------- two runs at once


def _slow_run(cache_dir, log_path, delay):
    def download(tickers, start=None):
        with open(log_path, "a") as log:
            log.write(f"{os.getpid()} {tickers}\n")
        time.sleep(delay)
        return FakeYahoo(histories())(tickers, start)

    make_source(cache_dir, download).load(["SPY", "ETH-USD"])


def _writer(cache_dir, seed):
    cache = PriceCache(cache_dir)
    frame = make_source(cache_dir / f"scratch{seed}", FakeYahoo(histories())).load(["SPY"])["SPY"]
    for i in range(30):
        with cache.locked():
            cache.write("SPY", frame * (1 + seed + i / 100), "yfinance", AFTER_JANUARY)
    if seed == 1:  # one of them also reads while the others write
        from engine.data.cache import CorruptEntry

        bad = 0
        for _ in range(30):
            with cache.locked():
                try:
                    cache.read("SPY")
                except CorruptEntry:
                    bad += 1
        (cache_dir / "corrupt_reads").write_text(str(bad))


def _processes(target, args_list):
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=target, args=args) for args in args_list]
    for proc in procs:
        proc.start()
        time.sleep(0.05)
    for proc in procs:
        proc.join(60)
    return [proc.exitcode for proc in procs]


def test_two_runs_at_once_download_once(tmp_path):
    log = tmp_path / "downloads.log"
    assert _processes(
        _slow_run, [(tmp_path / "cache", log, 0.6), (tmp_path / "cache", log, 0)]
    ) == [0, 0]
    assert len(log.read_text().splitlines()) == 1  # the second run waited, then hit the cache
    make_source(tmp_path / "cache", must_not_download).load(["SPY", "ETH-USD"])


def test_concurrent_writers_never_leave_a_corrupt_entry(tmp_path):
    assert _processes(_writer, [(tmp_path, 1), (tmp_path, 2), (tmp_path, 3)]) == [0, 0, 0]
    assert (tmp_path / "corrupt_reads").read_text() == "0"
    entry = PriceCache(tmp_path).read("SPY")  # raises CorruptEntry if the pair disagrees
    assert entry.meta.rows == len(entry.frame) == len(WEEKDAYS)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_lock_held_too_long_is_a_clear_error(tmp_path):
    from filelock import FileLock

    tmp_path.mkdir(exist_ok=True)
    with FileLock(str(tmp_path / ".lock")):
        cache = PriceCache(tmp_path, lock_timeout=0.2)
        with pytest.raises(DataError, match="stayed locked by another rotation process"):
            with cache.locked():
                pass
