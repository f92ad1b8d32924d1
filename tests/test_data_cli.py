"""`rotation data fetch | list | clear | import` and `rotation run --refresh`, without network."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import engine.data
from engine.cli import main
from engine.data import RetryPolicy
from tests.conftest import CONFIGS
from tests.yahoo_replica import (
    WEEKDAYS,
    FakeYahoo,
    Sleeps,
    histories,
    must_not_download,
    no_network,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.usefixtures("no_network")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def cache_dir() -> Path:
    return Path(os.environ["ROTATION_CACHE_DIR"])


@pytest.fixture
def yahoo(monkeypatch):
    fake = FakeYahoo(histories(), errors={"IWMM": "possibly delisted; no price data found"})
    monkeypatch.setattr(engine.data, "_yf_download", fake)
    monkeypatch.setattr(engine.data, "DEFAULT_RETRY", RetryPolicy(sleep=Sleeps()))
    return fake


def test_the_data_group_imports_only_click():
    code = (
        "import sys, engine.cli.data; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'numpy', 'yfinance', 'pyarrow')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fetch_then_list_then_clear(yahoo):
    result = invoke("data", "fetch", "SPY", "eth-usd")
    assert result.exit_code == 0, result.output
    assert "SPY: 2024-01-02 to 2024-01-31, 21 rows" in result.output
    assert yahoo.calls == [["SPY", "ETH-USD"]]
    assert invoke("data", "fetch", "SPY").exit_code == 0
    assert yahoo.calls == [["SPY", "ETH-USD"]]  # fetched just now: fresh, not asked again
    listed = json.loads(invoke("data", "list", "--json").output)
    assert [
        (r["ticker"], r["first"], r["last"], r["rows"], r["source"], r["status"]) for r in listed
    ] == [
        ("ETH-USD", "2024-01-01", "2024-01-31", 31, "yfinance", "ok"),
        ("SPY", "2024-01-02", "2024-01-31", 21, "yfinance", "ok"),
    ]
    assert listed[0]["age"].endswith(("s", "min"))
    table = invoke("data", "list").output
    assert "SPY" in table and "2024-01-31" in table and "ETH-USD" in table
    cleared = invoke("data", "clear", "SPY", "QQQ")
    assert cleared.exit_code == 0
    assert "Removed 1 ticker(s)" in cleared.output and "Not in the cache: QQQ" in cleared.output
    assert [r["ticker"] for r in json.loads(invoke("data", "list", "--json").output)] == ["ETH-USD"]
    assert "Removed 1 ticker(s)" in invoke("data", "clear", "--yes").output
    assert json.loads(invoke("data", "list", "--json").output) == []


def test_fetch_with_start_keeps_a_partial_history(yahoo):
    result = invoke("data", "fetch", "SPY", "--start", "2024-01-10")
    assert result.exit_code == 0, result.output
    assert yahoo.starts == [pd.Timestamp("2024-01-10").date()]
    [row] = json.loads(invoke("data", "list", "--json").output)
    assert row["source"] == "yfinance from 2024-01-10" and row["first"] == "2024-01-10"


def test_fetch_of_an_unknown_symbol(yahoo):
    result = invoke("data", "fetch", "SPY", "IWMM")
    assert result.exit_code == 2
    assert result.output.strip() == "Error: no data for 'IWMM' from yfinance: check the symbol"


def test_list_reports_a_corrupt_entry(yahoo):
    invoke("data", "fetch", "SPY")
    (cache_dir() / "SPY.parquet").write_bytes(b"garbage")
    [row] = json.loads(invoke("data", "list", "--json").output)
    assert row["status"].startswith("corrupt: checksum mismatch")


def test_import_validates_and_loads_a_folder(tmp_path, shared_data):
    folder = tmp_path / "csv"
    folder.mkdir()
    for ticker in ("SPY", "IWM"):
        shutil.copy(shared_data / f"{ticker}.csv", folder / f"{ticker}.csv")
    result = invoke("data", "import", folder)
    assert result.exit_code == 0, result.output
    assert "Imported 2 ticker(s)" in result.output
    rows = {r["ticker"]: r for r in json.loads(invoke("data", "list", "--json").output)}
    assert rows["SPY"]["source"] == f"csv:{(folder / 'SPY.csv').resolve()}"
    assert rows["SPY"]["rows"] == len(pd.read_csv(shared_data / "SPY.csv"))


def test_import_stops_at_a_bad_file_and_writes_nothing(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    good = pd.DataFrame(
        {"date": WEEKDAYS, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 5}
    )
    good.to_csv(folder / "AAA.csv", index=False)
    bad = good.copy()
    bad.loc[8:, "close"] = 0.5  # halves overnight: an unadjusted 2:1 split
    bad.to_csv(folder / "BBB.csv", index=False)
    result = invoke("data", "import", folder)
    assert result.exit_code == 2
    assert "BBB.csv: close goes from 1 on 2024-01-11 to 0.5 on 2024-01-12" in result.output
    assert json.loads(invoke("data", "list", "--json").output) == []
    assert invoke("data", "import", tmp_path / "nothing").exit_code == 2


def test_imported_files_run_a_yfinance_config_without_network(
    tmp_path, shared_data, monkeypatch, caplog
):
    folder = tmp_path / "csv"
    folder.mkdir()
    for ticker in ("SPY", "IWM"):
        shutil.copy(shared_data / f"{ticker}.csv", folder / f"{ticker}.csv")
    assert invoke("data", "import", folder).exit_code == 0
    monkeypatch.setattr(engine.data, "_yf_download", must_not_download)
    config = CONFIGS / "smallcap_breakout.yaml"  # source: yfinance, end 2025-06-30
    via_cache = invoke("run", config, "--out", tmp_path / "a", "--json")
    assert via_cache.exit_code == 0, via_cache.output
    via_csv = invoke("run", config, "--data-dir", shared_data, "--out", tmp_path / "b", "--json")
    assert json.loads(via_cache.stdout) == json.loads(via_csv.stdout)

    sleeps = Sleeps()
    monkeypatch.setattr(engine.data, "DEFAULT_RETRY", RetryPolicy(attempts=2, sleep=sleeps))
    monkeypatch.setattr(
        engine.data,
        "_yf_download",
        lambda tickers, start=None: (_ for _ in ()).throw(ConnectionError("no route to host")),
    )
    with caplog.at_level(logging.WARNING, logger="rotation.data"):
        refreshed = invoke("run", config, "--refresh", "--out", tmp_path / "c", "--json")
    assert refreshed.exit_code == 0, refreshed.output
    assert json.loads(refreshed.stdout) == json.loads(via_csv.stdout)  # stdout stays clean
    assert sleeps == [2.0]  # --refresh did try the network
    assert "could not update IWM from yfinance (ConnectionError: no route to host)" in caplog.text
