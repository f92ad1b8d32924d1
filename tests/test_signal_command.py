"""`rotation signal CONFIG`: the state at the latest close (engine/live.py) through CliRunner.

On ../shared/data the JSON's regime and target are the last row of the same config's run;
on small hand-made CSV markets (NYSE sessions, known closes) the gaps to flip, the trade,
the sentences, the decision schedule and the staleness have answers worked out by hand.
"Today" is always given ($ROTATION_TODAY), never read from the clock.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource, MemorySource, make_source
from engine.data.market_calendar import sessions
from engine.live import current_state, future_sessions, latest, schedule_ahead
from engine.runner import run_backtest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
KEYS = ["name", "as_of", "today", "stale", "sessions_behind", "warnings", "decide"]
KEYS += ["decided_on", "regime", "target", "held", "trade", "next_decision", "signals", "ranking"]


def invoke(*args, today: str = "2024-03-28"):
    """`rotation signal ARGS` on the given date (the day after the hand-made markets end)."""
    return CliRunner(env={"ROTATION_TODAY": today}).invoke(main, ["signal", *map(str, args)])


def run_latest(path: Path, data_dir: Path):
    """The config's run to the latest date of its data (what `signal` reads)."""
    config = latest(load_config(path, source="csv", dir=data_dir))
    return run_backtest(config, make_source(config.data))


# ---------------------------------------------------------------- reference data


def test_json_regime_and_target_equal_the_last_row_of_the_run(shared_data):
    path = CONFIGS / "smallcap_breakout_eth.yaml"
    cli = invoke(path, "--data-dir", shared_data, "--json", today="2026-08-24")
    assert cli.exit_code == 0, cli.output
    state = json.loads(cli.stdout)
    assert list(state) == KEYS
    assert state["stale"] is False and state["sessions_behind"] == 0 and not state["warnings"]
    result = run_latest(path, shared_data)
    assert state["as_of"] == result.calendar[-1].date().isoformat()
    assert state["regime"] == result.regimes.iloc[-1]
    assert state["target"] == pytest.approx(result.targets.iloc[-1].to_dict(), abs=1e-12)
    assert list(state["signals"]) == ["ratio_breakout", "eth_risk_on"]
    for name, signal in state["signals"].items():
        assert set(signal) == {"on", "value", "upper", "lower", "to_flip", "date"}
        assert signal["on"] == bool(result.signals[name].iloc[-1])


def test_ranked_config_lists_candidates_scores_and_selection(shared_data):
    path = CONFIGS / "taa" / "gem.yaml"
    state = json.loads(invoke(path, "--data-dir", shared_data, "--json").stdout)
    result = run_latest(path, shared_data)
    assert state["regime"] == result.regimes.iloc[-1]
    assert state["target"] == pytest.approx(result.targets.iloc[-1].to_dict(), abs=1e-12)
    (block,) = state["ranking"]
    assert block["regime"] == "equities" and block["top"] == 1
    assert [c["asset"] for c in block["candidates"]] == ["SPY", "EFA"]
    assert sum(c["selected"] for c in block["candidates"]) == 1
    ranks = result.ranks[result.ranks["date"] == pd.Timestamp(state["decided_on"])]
    assert ranks["score"].to_list() == pytest.approx([c["score"] for c in block["candidates"]])
    text = invoke(path, "--data-dir", shared_data).stdout
    assert "Ranking decided on" in text and "EFA" in text and "selected" in text


# ---------------------------------------------------------------- hand-made markets


def write_market(folder: Path, closes: dict[str, list[float]], last: str) -> pd.DatetimeIndex:
    """<folder>/<T>.csv on the NYSE sessions ending `last`, one close per session."""
    folder.mkdir(exist_ok=True)
    n = len(next(iter(closes.values())))
    dates = sessions("nyse", pd.Timestamp(last) - pd.Timedelta(days=2 * n), last)[-n:]
    for ticker, values in closes.items():
        frame = pd.DataFrame(
            {"Open": values, "High": values, "Low": values, "Close": values, "Volume": 1000},
            index=pd.Index(dates.strftime("%Y-%m-%d"), name="Date"),
        )
        frame.to_csv(folder / f"{ticker}.csv")
    return dates


def write_config(
    folder: Path, start: str, decide: str = "daily", ranked: bool = False, rebalance="none"
) -> Path:
    up = {"name": "up", "when": "a_up", "weights": {"AAA": 0.6, "BBB": 0.4}}
    if ranked:
        up = {"name": "up", "when": "a_up", "rank": {"assets": ["AAA", "BBB"], "score": "mom"}}
        up["rank"]["top"] = 1
    raw = {
        "name": "hand-made",
        "data": {"source": "csv", "dir": str(folder), "start": start},
        "universe": ["AAA", "BBB"],
        "signals": {
            "a_up": {"type": "level", "series": "AAA", "above": 110, "below": 90},
            "b_up": {"type": "level", "series": "BBB", "above": 50},
        },
        "scores": {"mom": {"type": "momentum", "lookback": 5}} if ranked else {},
        "regimes": [up, {"name": "flat", "weights": {"AAA": 0.2, "BBB": 0.8}}],
        "execution": {"decide": decide, "fees_bps": 0, "slippage_bps": 0, "rebalance": rebalance},
        "benchmark": {"AAA": 1.0},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def jump_market(tmp_path):
    """AAA at 100 for 59 sessions and 120 on the last (Wednesday 2024-03-27); BBB at 40."""
    data = tmp_path / "data"
    dates = write_market(data, {"AAA": [100.0] * 59 + [120.0], "BBB": [40.0] * 60}, "2024-03-27")
    return write_config(data, str(dates[10].date())), dates


def test_to_flip_is_the_move_that_flips_each_signal_in_its_own_units(jump_market):
    path, dates = jump_market
    state = json.loads(invoke(path, "--json").stdout)
    a_up, b_up = state["signals"]["a_up"], state["signals"]["b_up"]
    # a_up is on at 120: it turns off below 90, a fall of more than 30.
    assert a_up == {"on": True, "value": 120.0, "upper": 110.0, "lower": 90.0,
                    "to_flip": 30.0, "date": "2024-03-27"}  # fmt: skip
    # b_up is off at 40: it turns on above 50, a rise of more than 10.
    assert b_up["on"] is False and b_up["to_flip"] == 10.0


def test_a_new_target_is_a_trade_of_target_minus_held(jump_market):
    path, _ = jump_market
    state = json.loads(invoke(path, "--json").stdout)
    assert state["as_of"] == "2024-03-27" and state["regime"] == "up"
    assert state["target"] == {"AAA": 0.6, "BBB": 0.4}
    held_aaa = 0.2 * 1.2 / (0.2 * 1.2 + 0.8)  # flat's 20% after AAA rose 20%
    assert state["held"]["AAA"] == pytest.approx(held_aaa)
    trade = state["trade"]
    assert trade["needed"] is True and trade["reasons"] == ["target changed"]
    assert trade["orders"] == pytest.approx({"AAA": 0.6 - held_aaa, "BBB": held_aaa - 0.6})
    assert state["next_decision"] == "2024-03-28"  # daily: the next NYSE session


def test_an_unchanged_target_is_no_trade(tmp_path):
    data = tmp_path / "data"
    dates = write_market(data, {"AAA": [100.0] * 60, "BBB": [40.0] * 60}, "2024-03-27")
    state = json.loads(invoke(write_config(data, str(dates[10].date())), "--json").stdout)
    assert state["regime"] == "flat"
    assert state["trade"] == {"needed": False, "reasons": [], "orders": {}}


def test_monthly_rebalance_trades_when_the_next_session_starts_a_month(tmp_path):
    data = tmp_path / "data"
    dates = write_market(data, {"AAA": [100.0] * 60, "BBB": [40.0] * 60}, "2024-03-28")
    path = write_config(data, str(dates[10].date()), rebalance="monthly")
    state = json.loads(invoke(path, "--json").stdout)
    assert state["next_decision"] == "2024-04-01"  # Good Friday closed
    assert state["trade"] == {"needed": True, "reasons": ["monthly rebalance"], "orders": {}}


def test_sentences_name_each_signal_the_regime_and_the_holdings(jump_market, tmp_path, monkeypatch):
    path, _ = jump_market
    monkeypatch.chdir(tmp_path)
    cli = invoke(path)
    assert not (tmp_path / "runs").exists()  # no run folder
    assert cli.exit_code == 0, cli.output
    lines = cli.stdout.splitlines()
    assert lines[0] == "hand-made at the close of 2024-03-27:"
    assert lines[1] == "a_up: AAA 120.00 is 30 above 90: on"
    assert lines[2] == "b_up: BBB 40 is 10 below 50: off"
    assert lines[3] == "regime up; hold AAA 60% BBB 40%"
    assert lines[4] == "trade (target changed): buy AAA +36.9%, sell BBB -36.9%"
    assert lines[5] == "held at the close: AAA 23.1% BBB 76.9%"
    assert all(len(line) <= 80 for line in lines)


def test_a_close_that_ends_the_week_is_decided_now_as_the_run_does_a_session_later(tmp_path):
    """Friday 2024-03-22 ends its ISO week: the run counts it as a decision date only once
    Monday's bar exists, but `signal` gives that decision at Friday's close."""
    data = tmp_path / "data"
    closes = {"AAA": [100.0] * 59 + [120.0], "BBB": [40.0] * 60}
    dates = write_market(data, closes, "2024-03-22")
    path = write_config(data, str(dates[10].date()), decide="weekly", ranked=True)
    state = json.loads(invoke(path, "--json").stdout)
    assert state["decided_on"] == state["as_of"] == "2024-03-22"
    assert state["next_decision"] == "2024-03-28"  # Good Friday: Thursday ends the week
    assert state["regime"] == "up" and state["target"] == {"AAA": 1.0, "BBB": 0.0}
    assert state["trade"]["needed"] is True
    (block,) = state["ranking"]
    assert block["active"] and [c["selected"] for c in block["candidates"]] == [True, False]

    config = latest(load_config(path))
    frames = CsvSource(data).load(["AAA", "BBB"])
    monday = pd.Timestamp("2024-03-25")
    extended = {t: pd.concat([f, f.iloc[[-1]].set_axis([monday])]) for t, f in frames.items()}
    later = run_backtest(config, MemorySource(extended))
    friday = pd.Timestamp("2024-03-22")
    assert later.regimes.loc[friday] == state["regime"]
    assert later.targets.loc[friday].to_dict() == state["target"]
    without = run_backtest(config, MemorySource(frames))
    assert without.regimes.iloc[-1] == "flat"  # the run alone still holds last week's


def test_the_day_before_an_early_close_says_when_the_nyse_closes(tmp_path):
    # Wednesday 2024-11-27: Thursday is Thanksgiving, Friday 11-29 closes at 13:00 New York
    data = tmp_path / "data"
    dates = write_market(data, {"AAA": [100.0] * 60, "BBB": [40.0] * 60}, "2024-11-27")
    cli = invoke(write_config(data, str(dates[10].date())))
    assert cli.exit_code == 0, cli.output
    lines = cli.stdout.splitlines()
    assert "next session: 2024-11-29 (estimated)" in lines
    assert lines[-1] == "note: the NYSE closes early on 2024-11-29 (13:00 New York)"
    state = json.loads(invoke(write_config(data, str(dates[10].date())), "--json").stdout)
    assert list(state) == KEYS  # the JSON keeps its keys


def test_an_ordinary_next_session_has_no_early_close_note(jump_market):
    path, _ = jump_market
    assert "early" not in invoke(path).stdout


@pytest.mark.parametrize(
    ("as_of", "decide", "due_now", "following"),
    [
        ("2024-03-27", "weekly", False, "2024-03-28"),  # Good Friday: Thursday ends week 13
        ("2024-03-28", "weekly", True, "2024-04-05"),
        ("2024-12-27", "weekly", True, "2025-01-03"),  # Mon 30, Tue 31 are ISO week 1 of 2025
        ("2024-12-30", "weekly", False, "2025-01-03"),
        ("2024-12-30", "monthly", False, "2024-12-31"),
        ("2024-12-31", "monthly", True, "2025-01-31"),
        ("2024-11-27", "monthly", False, "2024-11-29"),  # Thanksgiving on the 28th
        ("2024-03-27", "daily", True, "2024-03-28"),
    ],
)
def test_next_decision_on_the_estimated_nyse_sessions(as_of, decide, due_now, following):
    day = pd.Timestamp(as_of)
    now, after = schedule_ahead(day, decide, future_sessions(["SPY", "ETH-USD"], day))
    assert (now, after) == (due_now, pd.Timestamp(following))


def test_an_all_crypto_universe_trades_every_day():
    friday = pd.Timestamp("2024-03-22")
    assert future_sessions(["BTC-USD"], friday)[0] == pd.Timestamp("2024-03-23")
    assert schedule_ahead(friday, "weekly", future_sessions(["BTC-USD"], friday)) == (
        False,
        pd.Timestamp("2024-03-24"),
    )


# ---------------------------------------------------------------- errors


def assert_one_error(cli) -> None:
    """Exit 2, nothing on stdout, one `Error: ...` line (or a header and one line per
    config problem), no traceback."""
    assert cli.exit_code == 2, cli.output
    assert cli.stdout == "" and "Traceback" not in cli.output
    lines = cli.output.splitlines()
    assert lines[0].startswith("Error: ")
    assert len(lines) == 1 or lines[0].endswith(f"{len(lines) - 1} problems:")


def test_a_missing_config_is_one_error_line_and_exit_2(tmp_path):
    assert_one_error(invoke(tmp_path / "missing.yaml", "--json"))


def test_an_invalid_config_is_one_error_report_and_exit_2(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\nuniverse: [SPY]\n")  # no data, no regimes
    assert_one_error(invoke(config))


def test_missing_data_is_one_error_line_and_exit_2(jump_market, tmp_path):
    path, _ = jump_market
    empty = tmp_path / "empty"
    empty.mkdir()
    cli = invoke(path, "--data-dir", empty, "--json")
    assert_one_error(cli)
    assert len(cli.output.splitlines()) == 1


def test_current_state_reads_held_weights_after_the_last_close(jump_market):
    path, _ = jump_market
    result = run_backtest(latest(load_config(path)), CsvSource(path.parent))
    state = current_state(result, dt.date(2024, 3, 28))
    held = result.strategy.held_weights().iloc[-1]
    assert np.allclose([state["held"][t] for t in ("AAA", "BBB")], held.to_numpy())
    assert state["held"]["cash"] == pytest.approx(0.0, abs=1e-12)
