"""Small CLI behaviours: `run --json` names its folder on stderr, `runs/latest` follows the
newest folder under the default runs/, and `data clear` without tickers asks first."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import engine.cli.data
from engine.cli import main
from engine.data.cache import PriceCache
from engine.report import folders
from engine.report.folders import link_latest
from tests.conftest import CONFIGS

DEMO = CONFIGS / "demo_synthetic.yaml"  # no network, no files


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def variant(tmp_path: Path, filename: str, **edits) -> Path:
    """A copy of the demo config with top-level or (for `entry`) signal edits."""
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    entry = edits.pop("entry", None)
    if entry is not None:
        raw["signals"]["ratio_breakout"]["entry"] = entry
    raw |= edits
    path = tmp_path / filename
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """The test runs in tmp_path, so the default runs/ folder is tmp_path/runs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------- run --json


def test_run_json_keeps_stdout_pure_json_and_names_the_folder_on_stderr(in_tmp):
    result = invoke("run", DEMO, "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert set(stats) == {"strategy", "benchmark", "relative", "period"}
    folder = next(p for p in (in_tmp / "runs").iterdir() if p.name.startswith("demo-synthetic-"))
    assert result.stderr.splitlines()[-1] == f"Run folder: {Path('runs') / folder.name}"


# ---------------------------------------------------------------- runs/latest


def test_runs_latest_is_a_relative_link_to_the_newest_run(in_tmp):
    runs = in_tmp / "runs"
    assert invoke("run", DEMO, "--json").exit_code == 0
    first = os.readlink(runs / "latest")
    assert invoke("run", variant(in_tmp, "b.yaml", name="second"), "--json").exit_code == 0
    second = os.readlink(runs / "latest")
    assert first.startswith("demo-synthetic-") and second.startswith("second-")
    assert not Path(second).is_absolute() and (runs / "latest" / "stats.json").is_file()
    assert sorted(p.name for p in runs.iterdir()) == sorted([first, second, "latest"])


def test_a_run_outside_the_default_runs_folder_leaves_latest_alone(in_tmp):
    assert invoke("run", DEMO, "--json").exit_code == 0
    before = os.readlink(in_tmp / "runs" / "latest")
    assert invoke("run", DEMO, "--json", "--out", in_tmp / "elsewhere" / "run").exit_code == 0
    assert os.readlink(in_tmp / "runs" / "latest") == before
    assert not (in_tmp / "elsewhere" / "latest").exists()


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_compare_and_sweep_folders_become_latest(in_tmp, command):
    if command == "compare":
        other = variant(in_tmp, "other.yaml", name="other")
        args, prefix = ("compare", DEMO, other, "--json"), "compare-"
    else:
        args, prefix = ("sweep", variant(in_tmp, "grid.yaml", entry=[100, 120]), "--json"), ""
        prefix = "demo-synthetic-sweep-"
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert os.readlink(in_tmp / "runs" / "latest").startswith(prefix)


def test_latest_link_never_replaces_a_real_folder_or_file(in_tmp):
    runs = in_tmp / "runs"
    (runs / "new").mkdir(parents=True)
    (runs / "latest").mkdir()
    (runs / "latest" / "keep.txt").write_text("mine")
    assert link_latest(runs / "new") is None
    assert (runs / "latest" / "keep.txt").read_text() == "mine"
    (runs / "latest" / "keep.txt").unlink()
    (runs / "latest").rmdir()
    (runs / "latest").write_text("a file")
    assert link_latest(Path("runs/new")) is None
    assert (runs / "latest").read_text() == "a file"
    assert sorted(p.name for p in runs.iterdir()) == ["latest", "new"]  # no temporary left


def test_latest_link_points_only_at_folders_directly_under_runs(in_tmp):
    (in_tmp / "runs" / "deep" / "run").mkdir(parents=True)
    (in_tmp / "other").mkdir()
    assert link_latest(Path("runs/deep/run")) is None
    assert link_latest(in_tmp / "other") is None
    assert link_latest(Path("runs/missing")) is None
    assert link_latest(Path("runs/deep")) == Path("runs/latest")
    assert os.readlink("runs/latest") == "deep"


def test_without_symlinks_latest_is_skipped_silently(in_tmp, monkeypatch):
    (in_tmp / "runs" / "run").mkdir(parents=True)

    def refuse(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(folders.os, "symlink", refuse)
    assert link_latest(Path("runs/run")) is None
    assert [p.name for p in (in_tmp / "runs").iterdir()] == ["run"]


# ---------------------------------------------------------------- data clear


@pytest.fixture
def cached() -> PriceCache:
    """A cache holding SPY and IWM."""
    cache = PriceCache(Path(os.environ["ROTATION_CACHE_DIR"]))
    dates = pd.bdate_range("2024-01-02", periods=5)
    close = np.linspace(100.0, 104.0, 5)
    frame = pd.DataFrame(
        {"Open": close, "High": close, "Low": close, "Close": close, "Volume": 1.0}, index=dates
    )
    now = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    for ticker in ("SPY", "IWM"):
        cache.write(ticker, frame, "yfinance", now)
    assert cache.tickers() == ["IWM", "SPY"]
    return cache


def test_clear_all_without_a_terminal_refuses_and_asks_for_yes(cached):
    result = invoke("data", "clear")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "--yes" in lines[0]
    assert "nothing was deleted" in lines[0]
    assert cached.tickers() == ["IWM", "SPY"]


def test_clear_all_with_yes_deletes_every_ticker(cached):
    result = invoke("data", "clear", "--yes")
    assert result.exit_code == 0, result.output
    assert "Removed 2 ticker(s)" in result.stdout
    assert cached.tickers() == []


def test_clear_all_at_a_terminal_deletes_only_on_yes(cached, monkeypatch):
    monkeypatch.setattr(engine.cli.data, "_interactive", lambda: True)
    for answer in ("\n", "n\n"):  # Enter alone: the default, No
        kept = invoke("data", "clear", input=answer)
        assert kept.exit_code == 1
        assert "Delete every ticker (2)" in kept.stderr and "Nothing was deleted." in kept.stderr
        assert cached.tickers() == ["IWM", "SPY"]
    removed = invoke("data", "clear", input="y\n")
    assert removed.exit_code == 0, removed.output
    assert "Removed 2 ticker(s)" in removed.stdout
    assert cached.tickers() == []


def test_clear_named_tickers_needs_no_confirmation(cached):
    result = invoke("data", "clear", "SPY")
    assert result.exit_code == 0, result.output
    assert cached.tickers() == ["IWM"]
