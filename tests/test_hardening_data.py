"""Hostile data at the boundary: odd CSV files, a damaged or read-only cache, path tricks.

Each refusal is one ``Error:`` line (exit 2, no traceback) naming the file or
ticker, and leaves nothing written or deleted. Tests run as root, where ``chmod
-w`` does not stop writes, so a read-only cache is simulated by `refuse_writes`:
``os.open`` (used by the lock file and by every atomic write) and ``os.unlink``
raise ``PermissionError`` for paths inside the cache folder, as the kernel would.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import engine.data
import engine.data.csvfiles
from engine.cli import main
from engine.data import DataError, MemorySource, RetryPolicy
from engine.data.cache import PriceCache
from engine.data.csvfiles import adjust_ohlc
from engine.data.synthetic import SyntheticSource
from tests.conftest import CONFIGS
from tests.yahoo_replica import (
    AFTER_JANUARY,
    WEEKDAYS,
    FakeYahoo,
    Sleeps,
    histories,
    make_source,
    must_not_download,
    no_network,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.usefixtures("no_network")
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def cache_dir() -> Path:
    return Path(os.environ["ROTATION_CACHE_DIR"])


def one_error(result, *parts: str) -> str:
    """The single `Error:` line of a refused command, checked to contain `parts`."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def cached_files() -> list[str]:
    folder = cache_dir()
    return sorted(p.name for p in folder.iterdir() if p.name != ".lock") if folder.is_dir() else []


def csv_folder(tmp_path: Path, text: str, name: str = "SPY.csv") -> Path:
    folder = tmp_path / "csv"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def rows(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


GOOD = "2024-01-02,10,11,9,10,5,100"


@pytest.fixture
def yahoo(monkeypatch):
    fake = FakeYahoo(histories())
    monkeypatch.setattr(engine.data, "_yf_download", fake)
    monkeypatch.setattr(engine.data, "DEFAULT_RETRY", RetryPolicy(sleep=Sleeps()))
    return fake


def refuse_writes(monkeypatch, folder: Path) -> None:
    """Make `folder` behave as read-only for this process (see the module docstring)."""
    real_open, real_unlink, root = os.open, os.unlink, folder.resolve()

    def inside(path) -> bool:
        return Path(os.fsdecode(path)).resolve().parent == root

    def guarded_open(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_unlink(path, *args, **kwargs):
        if inside(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "unlink", guarded_unlink)


# ---------------------------------------------------------------- CSV files


@pytest.mark.parametrize("header", ["Close,Close", "Close, close "])
def test_a_repeated_column_is_an_error_naming_the_file_and_column(tmp_path, header):
    line = "2024-01-02,10,11,9,10,10,100"
    folder = csv_folder(tmp_path, rows(line, header=f"Date,Open,High,Low,{header},Volume"))
    one_error(invoke("data", "import", folder), "SPY.csv", "'Close' appears twice")
    assert cached_files() == []


@pytest.mark.parametrize("close", ["0", "-2.5"])
def test_a_non_positive_raw_close_beside_adj_close_is_refused_naming_the_line(tmp_path, close):
    folder = csv_folder(tmp_path, rows(GOOD, f"2024-01-03,10,11,9,{close},5,100"))
    one_error(
        invoke("data", "import", folder), "SPY.csv", "row 3", "Adj Close is 5", "fix that Close"
    )
    assert cached_files() == []


def test_an_unscalable_close_never_gives_an_infinite_open():
    """`adjust_ohlc` (also public) leaves O/H/L missing; validation then sets them to the close."""
    raw = pd.DataFrame(
        {"Open": [10.0, 10.0], "High": 11.0, "Low": 9.0, "Close": [10.0, 0.0], "Volume": 1.0},
        index=pd.DatetimeIndex(WEEKDAYS[:2]),
    ).assign(**{"Adj Close": [5.0, 5.0]})
    adjusted = adjust_ohlc(raw)
    assert np.isnan(adjusted["Open"].iloc[1]) and adjusted["Open"].iloc[0] == 5.0
    clean = MemorySource({"SPY": adjusted}).load(["SPY"])["SPY"]
    assert np.isfinite(clean[["Open", "High", "Low", "Close"]].to_numpy()).all()


@pytest.mark.parametrize(
    "cell, column",
    [("inf", "Open"), ("-Infinity", "Low"), ("1e400", "Close"), ("2e12", "High")],
)
def test_infinite_or_overflowing_prices_are_refused_naming_the_line(tmp_path, cell, column):
    values = {"Open": "10", "High": "11", "Low": "9", "Close": "10"} | {column: cell}
    line = f"2024-01-03,{values['Open']},{values['High']},{values['Low']},{values['Close']},5,1"
    folder = csv_folder(tmp_path, rows(GOOD, line))
    one_error(invoke("data", "import", folder), "SPY.csv", f"{column} on 2024-01-03 (row 3)")
    assert cached_files() == []


@pytest.mark.parametrize("day", ["1899-12-29", "2201-01-03"])
def test_dates_outside_1900_to_2200_are_refused(tmp_path, day):
    folder = csv_folder(tmp_path, rows(GOOD, f"{day},10,11,9,10,5,100"))
    one_error(
        invoke("data", "import", folder), "SPY.csv", f"row 3 has date '{day}'", "1900 to 2200"
    )


def test_a_fifo_named_like_a_csv_is_refused_without_blocking(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    os.mkfifo(folder / "SPY.csv")  # opening it to read would wait for a writer forever
    done = subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", "data", "import", folder],
        capture_output=True,
        text=True,
        timeout=30,
        env=os.environ.copy(),
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"Error: {folder / 'SPY.csv'}: is a named pipe (FIFO), not a regular file; "
        "put the CSV file itself there"
    )
    assert cached_files() == []


@pytest.mark.parametrize("kind", ["folder", "device"])
def test_a_folder_or_device_named_like_a_csv_is_refused(tmp_path, kind):
    folder = tmp_path / "csv"
    folder.mkdir()
    if kind == "folder":
        (folder / "SPY.csv").mkdir()
    else:
        (folder / "SPY.csv").symlink_to("/dev/zero")  # endless bytes if it were read
    expected = "is a folder" if kind == "folder" else "is a device"
    one_error(invoke("data", "import", folder), "SPY.csv", expected, "not a regular file")


@pytest.mark.parametrize(
    "shape, expected",
    [("large", "more than the 64 MiB"), ("wide", "65 columns"), ("long", "200,002 lines")],
)
def test_files_too_large_wide_or_long_are_refused_before_parsing(
    tmp_path, monkeypatch, shape, expected
):
    folder = tmp_path / "csv"
    folder.mkdir()
    path = folder / "SPY.csv"
    if shape == "large":
        path.write_text(rows(GOOD))
        os.truncate(path, 64 * 2**20 + 1)  # sparse: no disk used
    elif shape == "wide":
        path.write_text(rows(GOOD, header=HEADER + "".join(f",x{i}" for i in range(58))))
    else:
        path.write_text(rows(*[GOOD] * 200_001))

    def parse(*args, **kwargs):
        raise AssertionError("the file was parsed before its size was checked")

    monkeypatch.setattr(engine.data.csvfiles.pd, "read_csv", parse)
    one_error(invoke("data", "import", folder), "SPY.csv", expected)


# ---------------------------------------------------------------- cache metadata


DAMAGE = {
    "last garbage": lambda m: m | {"last": "garbage"},
    "rows many": lambda m: m | {"rows": "many"},
    "rows wrong": lambda m: m | {"rows": 5},
    "missing key": lambda m: {k: v for k, v in m.items() if k != "sha256"},
    "wrong type": lambda m: m | {"adjusted": "yes", "fetched_at": 12},
    "not a dict": lambda m: [m],
}


def damage_record(ticker: str, change) -> None:
    path = cache_dir() / f"{ticker}.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


@pytest.mark.parametrize("change", DAMAGE.values(), ids=DAMAGE.keys())
def test_corrupt_metadata_is_refetched_like_a_bad_checksum(change, caplog):
    make_source(cache_dir(), FakeYahoo(histories())).load(["SPY", "IWM"])
    damage_record("SPY", change)
    fake = FakeYahoo(histories())
    frames = make_source(cache_dir(), fake).load(["SPY", "IWM"])
    assert fake.calls == [["SPY"]] and frames["SPY"].index[-1] == pd.Timestamp("2024-01-31")
    assert "cached SPY" in caplog.text and "is corrupt: its metadata record" in caplog.text
    make_source(cache_dir(), must_not_download).load(["SPY", "IWM"])  # rewritten whole


def test_corrupt_metadata_offline_is_one_error_naming_the_ticker_and_the_fix(monkeypatch):
    make_source(cache_dir(), FakeYahoo(histories())).load(["SPY"])
    damage_record("SPY", DAMAGE["last garbage"])

    def offline(tickers, start=None):
        raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")

    monkeypatch.setattr(engine.data, "_yf_download", offline)
    monkeypatch.setattr(engine.data, "DEFAULT_RETRY", RetryPolicy(sleep=Sleeps()))
    one_error(
        invoke("data", "fetch", "SPY"),
        "could not download SPY",
        "is corrupt (its metadata record has an invalid last ('garbage'))",
        "rotation data clear SPY",
        "--refresh",
    )


# ---------------------------------------------------------------- read-only or misplaced cache


def test_a_read_only_cache_serves_reads_and_warns_once(yahoo, monkeypatch, caplog):
    stale = make_source(
        cache_dir(), FakeYahoo({t: h.iloc[:10] for t, h in histories().items()})
    )  # up to 2024-01-16: both tickers are stale now
    stale.load(["SPY", "IWM"])
    before = {p.name: p.read_bytes() for p in cache_dir().iterdir()}
    refuse_writes(monkeypatch, cache_dir())
    with caplog.at_level(logging.WARNING, logger="rotation.data"):
        result = invoke("data", "fetch", "SPY", "IWM")
        listed = invoke("data", "list", "--json")
    assert result.exit_code == 0, result.output
    assert "SPY: 2024-01-02 to 2024-01-31" in result.output  # the new tail, served unsaved
    assert [r["last"] for r in json.loads(listed.output)] == ["2024-01-16", "2024-01-16"]
    warnings = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(warnings) == 2  # once per command, not once per file
    assert f"cannot write to the price cache {cache_dir()} (Permission denied)" in warnings[0]
    assert {p.name: p.read_bytes() for p in cache_dir().iterdir()} == before


def test_an_offline_run_reads_a_read_only_cache(tmp_path, shared_data, monkeypatch, caplog):
    folder = tmp_path / "csv"
    folder.mkdir()
    for ticker in ("SPY", "IWM"):
        shutil.copy(shared_data / f"{ticker}.csv", folder / f"{ticker}.csv")
    assert invoke("data", "import", folder).exit_code == 0
    refuse_writes(monkeypatch, cache_dir())
    monkeypatch.setattr(engine.data, "_yf_download", must_not_download)
    with caplog.at_level(logging.WARNING, logger="rotation.data"):
        run = invoke("run", CONFIGS / "smallcap_breakout.yaml", "--out", tmp_path / "a", "--json")
    assert run.exit_code == 0, run.output
    assert caplog.text.count("cannot write to the price cache") == 1


@pytest.mark.parametrize("command", [("data", "import", "FOLDER"), ("data", "clear", "SPY")])
def test_import_and_clear_on_a_read_only_cache_are_an_error(tmp_path, monkeypatch, command):
    make_source(cache_dir(), FakeYahoo(histories())).load(["SPY"])
    folder = csv_folder(tmp_path, rows(GOOD))
    refuse_writes(monkeypatch, cache_dir())
    args = [folder if a == "FOLDER" else a for a in command]
    one_error(invoke(*args), f"cannot write to the price cache {cache_dir()}", "ROTATION_CACHE_DIR")
    assert cached_files() == ["SPY.json", "SPY.parquet"]


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_cache_path_that_is_a_file_or_cannot_be_created_is_one_error(
    tmp_path, monkeypatch, where
):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    path = blocker if where == "a file" else blocker / "prices"
    monkeypatch.setenv("ROTATION_CACHE_DIR", str(path))
    line = one_error(invoke("data", "list"), f"the price cache {path}", "ROTATION_CACHE_DIR")
    assert ("is a file" in line) == (where == "a file")
    assert blocker.read_text() == "not a folder"


# ---------------------------------------------------------------- data clear and paths


@pytest.mark.parametrize("name", ["../VICTIM/X", "..", "/tmp/X", "sub/X", "..\\X"])
def test_data_clear_takes_symbols_only_and_deletes_nothing(tmp_path, monkeypatch, name):
    monkeypatch.setenv("ROTATION_CACHE_DIR", str(tmp_path / "cache"))
    victim = tmp_path / "VICTIM"
    victim.mkdir()
    for suffix in (".parquet", ".json"):
        (victim / f"X{suffix}").write_text("precious")
    one_error(invoke("data", "clear", "SPY", name), f"{name!r} is not a ticker symbol")
    assert sorted(p.name for p in victim.iterdir()) == ["X.json", "X.parquet"]
    assert not (tmp_path / "cache").exists()  # refused before anything was touched


def test_price_cache_remove_refuses_paths_that_resolve_outside_it(tmp_path):
    victim = tmp_path / "VICTIM.parquet"
    victim.write_text("precious")
    cache = PriceCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "SPY.parquet").symlink_to(victim)
    for ticker in ("../VICTIM", "SPY"):
        with pytest.raises(DataError, match="not a ticker symbol|resolves outside"):
            cache.remove(ticker)
    assert victim.read_text() == "precious"


def test_a_csv_source_will_not_read_outside_its_folder(tmp_path):
    (tmp_path / "X.csv").write_text(rows(GOOD))
    (tmp_path / "csv").mkdir()
    with pytest.raises(DataError, match=r"^'../X' is not a ticker symbol"):
        engine.data.CsvSource(tmp_path / "csv").load(["../X"])


def test_a_synthetic_market_ends_by_2200():
    with pytest.raises(DataError, match="after 2200"):
        SyntheticSource(end=pd.Timestamp("9999-12-31").date()).load(["SPY"])


# ---------------------------------------------------------------- yfinance replies


@pytest.mark.parametrize("value", [0.0, np.inf, -np.inf])
def test_a_yfinance_reply_with_a_bad_close_is_an_error_and_not_cached(monkeypatch, value):
    data = histories()
    data["SPY"].iloc[3, data["SPY"].columns.get_loc("Close")] = value
    monkeypatch.setattr(engine.data, "_yf_download", FakeYahoo(data))
    one_error(
        invoke("data", "fetch", "SPY"),
        "SPY from yfinance: non-positive close on 2024-01-05",
        "Yahoo sent a bad price",
    )
    assert cached_files() == []


def test_a_yfinance_reply_with_an_infinite_open_is_set_to_the_close(caplog):
    data = histories()
    data["SPY"].iloc[3, data["SPY"].columns.get_loc("Open")] = np.inf
    frame = make_source(cache_dir(), FakeYahoo(data), now=AFTER_JANUARY).load(["SPY"])["SPY"]
    assert np.isfinite(frame[["Open", "High", "Low"]].to_numpy()).all()
    assert frame["Open"].iloc[3] == frame["Close"].iloc[3]
    assert "open/high/low infinite or outside the prices a simulation takes on 1 day(s)" in (
        caplog.text
    )
