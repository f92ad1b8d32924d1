"""Warnings about what silently shaped a result: one line each on stderr and in the run's
and the sweep's manifest.json; they fire on constructed data and stay silent where
nothing was shaped."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict, load
from engine.data import MemorySource, make_source
from engine.research.sweep import run_sweep
from engine.research.sweep_config import load_sweep, sweep_spec
from engine.runner import run_backtest
from tests.conftest import CONFIGS
from tests.test_no_lookahead import random_bars


def market() -> dict[str, pd.DataFrame]:
    """AAA 2020-2022; BBB ends half a year early; LATE starts in mid 2021."""
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2020-01-01", "2022-12-30")
    return {
        "AAA": random_bars(rng, days, 0.01),
        "BBB": random_bars(rng, days[days <= "2022-06-30"], 0.01),
        "LATE": random_bars(rng, days[days >= "2021-06-01"], 0.01),
    }


def config(**changes) -> dict:
    raw = {
        "name": "shaped",
        "data": {"start": "2020-03-02"},
        "universe": ["AAA"],
        "signals": {"late_up": {"type": "sma", "series": "LATE", "window": 20}},
        "regimes": [
            {"name": "on", "when": "late_up", "weights": {"AAA": 1.0}},
            {"name": "off", "weights": {}},
        ],
        "benchmark": {"AAA": 1.0},
    }
    raw.update(changes)
    return raw


def warnings_of(raw: dict) -> list[str]:
    return run_backtest(config_from_dict(raw), MemorySource(market())).warnings


def test_an_end_cut_short_by_one_asset_names_it_and_the_others_last_date():
    raw = config(universe=["AAA", "BBB"], signals={}, regimes=[{"name": "all", "weights": {}}])
    (line,) = warnings_of(raw)
    assert (
        line
        == "the backtest ends 2022-06-30, cut short: BBB ends 2022-06-30; AAA run to 2022-12-30"
    )


def test_a_signal_still_undefined_on_backtest_dates_says_how_many_and_until_when():
    (line,) = warnings_of(config())
    # LATE starts 2021-06-01; its 20-day mean exists from its 20th bar, 2021-06-28
    first = pd.bdate_range("2021-06-01", periods=20)[-1]
    n = len(pd.bdate_range("2020-03-02", first)) - 1
    assert line == (
        f"signals.late_up is undefined (read as False) on {n:,} of "
        f"{len(pd.bdate_range('2020-03-02', '2022-12-30')):,} backtest dates, until "
        f"{first.date()}; read by the `when` of on"
    )


def test_a_ranked_asset_without_enough_history_is_named():
    raw = config(
        universe=["AAA", "LATE"],
        data={"start": "2021-07-01"},
        signals={},
        scores={"mom": {"type": "momentum", "lookback": 60}},
        regimes=[{"name": "best", "rank": {"assets": ["AAA", "LATE"], "score": "mom", "top": 1}}],
    )
    (line,) = warnings_of(raw)
    first = pd.bdate_range("2021-06-01", periods=61)[-1]  # 60 bars before it
    assert line.startswith("regimes[0].rank: LATE has too little history to be ranked (61 bars")
    assert line.endswith(f"until {first.date()}")


def test_nothing_is_said_when_nothing_was_shaped():
    raw = config(signals={"aaa_up": {"type": "sma", "series": "AAA", "window": 20}})
    raw["regimes"][0]["when"] = "aaa_up"
    assert warnings_of(raw) == []


def test_the_warnings_reach_the_log_and_the_run_manifest(tmp_path, caplog):
    folder = tmp_path / "data"
    folder.mkdir()
    for ticker, frame in market().items():
        out = frame.copy()
        out.index.name = "Date"
        out.to_csv(folder / f"{ticker}.csv", date_format="%Y-%m-%d")
    raw = config(data={"source": "csv", "dir": str(folder), "start": "2020-03-02"})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    # stderr when no logging is set up (pytest's own handler receives it here)
    assert "Warning: signals.late_up is undefined" in caplog.text
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert len(manifest["warnings"]) == 1 and "signals.late_up" in manifest["warnings"][0]


def test_a_sweep_keeps_its_warnings():
    raw = config()
    raw["signals"]["late_up"]["window"] = [10, 20]
    result = run_sweep(sweep_spec(raw, "grid.yaml"), MemorySource(market()))
    (line,) = result.warnings
    assert line.startswith("signals.late_up is undefined (read as False) on ")


READY = sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.glob("**/*.yaml"))
# configs/valuation/ needs the user's P/E files: tests/test_valuation_example.py runs it
# (without warnings) on synthetic ones
READY = [name for name in READY if not name.startswith(("sweeps/", "valuation/"))]


@pytest.mark.parametrize("name", READY)
def test_every_ready_config_runs_without_warnings(name, shared_data):
    raw = yaml.safe_load((CONFIGS / name).read_text())
    if raw["data"].get("source") != "synthetic":
        raw["data"] = {**raw["data"], "source": "csv", "dir": str(shared_data)}
    config = load.config_from_dict(raw, name, CONFIGS / name)  # blends and tranches too
    assert run_backtest(config, make_source(config.data)).warnings == []


@pytest.mark.parametrize("name", ["breakout_grid.yaml", "weights_costs.yaml"])
def test_the_ready_sweeps_run_without_warnings(name, shared_data):
    spec, _ = load_sweep(CONFIGS / "sweeps" / name, source="csv", dir=str(shared_data))
    assert run_sweep(spec, make_source(spec.base.data)).warnings == []
