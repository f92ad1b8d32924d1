"""`rotation signal`: answers that say when they are stale, and distances in the value's
units (issue 18, item 6), on small hand-made CSV markets with known closes.

"Today" is injected ($ROTATION_TODAY or `current_state(on=...)`), never read from the clock.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource, MemorySource
from engine.freshness import sessions_behind, today
from engine.live import current_state, latest
from engine.runner import run_backtest
from tests.test_signal_command import write_config, write_market

LAST = "2024-03-27"  # a Wednesday; Friday 2024-03-29 is Good Friday (NYSE closed)


def signal(path, *args, today: str = "2024-03-28"):
    return CliRunner(env={"ROTATION_TODAY": today}).invoke(main, ["signal", str(path), *args])


@pytest.fixture
def market(tmp_path):
    """AAA and BBB on the 60 NYSE sessions ending LAST, AAA flat then rising."""
    data = tmp_path / "data"
    dates = write_market(data, {"AAA": [100.0] * 59 + [120.0], "BBB": [40.0] * 60}, LAST)
    return write_config(data, str(dates[10].date())), dates


# ---------------------------------------------------------------- stale


@pytest.mark.parametrize(
    ("on", "behind"),
    [
        ("2024-03-27", 0),  # the same day: its close is the data's
        ("2024-03-28", 0),  # Thursday: its own close may not have come yet
        ("2024-03-30", 1),  # Saturday: Thursday's close is missing (Friday was a holiday)
        ("2024-04-01", 1),  # Monday: still only Thursday
        ("2024-04-03", 3),  # Wednesday: Thursday, Monday and Tuesday
        ("2024-12-02", 171),
    ],
)
def test_sessions_behind_counts_the_nyse_sessions_missing_before_today(market, on, behind):
    path, _ = market
    cli = signal(path, "--json", today=on)
    assert cli.exit_code == 0, cli.output
    state = json.loads(cli.stdout)
    assert (state["today"], state["sessions_behind"], state["stale"]) == (on, behind, behind > 0)
    assert state["as_of"] == LAST


def test_a_stale_answer_says_so_under_its_header(market):
    path, _ = market
    lines = signal(path, today="2024-04-03").stdout.splitlines()
    assert lines[0] == "hand-made at the close of 2024-03-27:"
    assert lines[1] == "stale: the data misses 3 sessions before today (2024-04-03); refresh it"
    assert lines[2].startswith("a_up: ")
    fresh = signal(path, today="2024-03-28").stdout.splitlines()
    assert fresh[1].startswith("a_up: ")


def test_crypto_and_weekday_markets_count_their_own_sessions():
    sunday = pd.Timestamp("2024-03-24")
    assert sessions_behind(sunday, dt.date(2024, 3, 27), "crypto") == 2  # Monday, Tuesday
    friday = pd.Timestamp("2024-03-22")
    assert sessions_behind(friday, dt.date(2024, 3, 26), "weekdays") == 1  # Monday
    assert sessions_behind(friday, dt.date(2024, 3, 20), "nyse") == 0  # today before as_of


def test_today_is_the_environment_date_and_a_bad_one_is_one_error_line(market):
    assert today({"ROTATION_TODAY": "2024-02-29"}) == dt.date(2024, 2, 29)
    path, _ = market
    for bad in ("2024-02-30", "tomorrow", "20240301"):
        cli = signal(path, today=bad)
        assert cli.exit_code == 2 and cli.stdout == ""
        assert cli.stderr == (
            f"Error: ROTATION_TODAY={bad!r}: must be a date written YYYY-MM-DD, or unset for "
            "the machine's date\n"
        )


# ---------------------------------------------------------------- lagging tickers


def test_an_asset_without_the_latest_bar_is_named_and_the_answer_is_for_the_day_before(tmp_path):
    data = tmp_path / "data"
    dates = write_market(data, {"AAA": [100.0] * 59 + [120.0], "BBB": [40.0] * 60}, LAST)
    bbb = pd.read_csv(data / "BBB.csv")
    bbb.iloc[:-1].to_csv(data / "BBB.csv", index=False)  # BBB ends Tuesday 2024-03-26
    state = json.loads(signal(write_config(data, str(dates[10].date())), "--json").stdout)
    assert state["as_of"] == "2024-03-26"
    assert state["warnings"] == [
        "BBB: latest bar 2024-03-26, 1 session older than the others' (2024-03-27); the "
        "answer is for 2024-03-26, the latest date all traded assets and thresholds have"
    ]
    # One session behind on Thursday: Wednesday's close is missing for BBB.
    assert state["sessions_behind"] == 1 and state["stale"] is True


def test_a_stale_min_score_ticker_is_named_and_the_answer_waits_for_it(tmp_path):
    """CCC, a min_score threshold, ends 5 sessions before the traded assets: the answer is
    the one given at CCC's last close, with all prices cut there."""
    data = tmp_path / "data"
    closes = {"AAA": [100.0 + i for i in range(60)], "BBB": [40.0] * 60, "CCC": [50.0] * 60}
    dates = write_market(data, closes, LAST)
    ccc = pd.read_csv(data / "CCC.csv")
    ccc.iloc[:-5].to_csv(data / "CCC.csv", index=False)  # CCC ends 2024-03-20
    path = write_config(data, str(dates[10].date()), ranked=True)
    raw = yaml.safe_load(path.read_text())
    raw["regimes"][0]["rank"]["min_score"] = "CCC"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    state = json.loads(signal(path, "--json").stdout)
    assert state["as_of"] == "2024-03-20"
    assert state["warnings"] == [
        "CCC (regimes[0].rank.min_score): latest bar 2024-03-20, 5 sessions older than the "
        "others' (2024-03-27); the answer is for 2024-03-20, the latest date all traded "
        "assets and thresholds have"
    ]
    config = latest(load_config(path))
    frames = CsvSource(data).load(["AAA", "BBB", "CCC"])
    cut = run_backtest(config, MemorySource({t: f.loc[:"2024-03-20"] for t, f in frames.items()}))
    assert state["regime"] == cut.regimes.iloc[-1]
    assert state["target"] == cut.targets.iloc[-1].to_dict()


# ---------------------------------------------------------------- every kind, by hand


@pytest.fixture
def kinds_market(tmp_path):
    """AAA: 100 for 55 sessions, then 101, 102, 103, 104, 110. BBB: 40, then 43 and 42.
    CCC = AAA / 2 (the same returns as AAA). One signal of each kind."""
    data = tmp_path / "data"
    aaa = [100.0] * 55 + [101.0, 102.0, 103.0, 104.0, 110.0]
    closes = {"AAA": aaa, "BBB": [40.0] * 58 + [43.0, 42.0], "CCC": [a / 2 for a in aaa]}
    dates = write_market(data, closes, LAST)
    path = write_config(data, str(dates[10].date()))
    raw = yaml.safe_load(path.read_text())
    raw["signals"] = {
        "brk": {"type": "donchian", "series": "AAA", "entry": 5, "exit": 3},
        "trend": {"type": "sma", "series": "AAA", "window": 4},
        "mom": {"type": "momentum", "series": "AAA", "lookback": 5},
        "osc": {"type": "rsi", "series": "BBB", "window": 2, "enter": 70, "exit": 50},
        "line": {"type": "level", "series": "BBB", "above": 45},
        "corr": {"type": "correlation", "series": "AAA", "other": "CCC", "window": 5,
                 "above": 0.5},
    }  # fmt: skip
    raw["regimes"][0]["when"] = "brk and trend and mom and osc and corr and not line"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# (signal, on, value, bound that flips it, to_flip, sentence), each worked by hand:
KINDS = [
    # high of the prior 5 closes (100..104) is 104 < 110: on; low of the prior 3 is 102
    ("brk", True, 110.0, 102.0, 8.0, "brk: AAA 110.00 is 8 above low of prior 3 (102.00): on"),
    # mean of the last 4 closes (102, 103, 104, 110) = 104.75
    ("trend", True, 110.0, 104.75, 5.25, "trend: AAA 110.00 is 5.25 above SMA 4 (104.75): on"),
    # 110 / 100 - 1 = 0.1 above the threshold 0
    ("mom", True, 0.1, 0.0, 0.1, "mom: momentum 0.1 is 0.1 above threshold 0: on"),
    # Wilder n=2: +3 gives AU 1.5, AD 0 (RSI 100, on); -1 gives AU 0.75, AD 0.5: RSI 60
    ("osc", True, 60.0, 50.0, 10.0, "osc: RSI 2 60 is 10 above exit 50: on"),
    # 42 is below the line 45: off, 3 to rise
    ("line", False, 42.0, 45.0, 3.0, "line: BBB 42 is 3 below 45: off"),
    # AAA and CCC = AAA / 2 have the same returns: correlation 1, 0.5 above the line
    ("corr", True, 1.0, 0.5, 0.5, "corr: correlation 5 1 is 0.5 above 0.5: on"),
]


@pytest.mark.parametrize(("name", "on", "value", "bound", "to_flip", "sentence"), KINDS)
def test_each_kind_says_its_gap_to_flip_in_its_own_units(
    kinds_market, name, on, value, bound, to_flip, sentence
):
    cli = signal(kinds_market, "--json")
    assert cli.exit_code == 0, cli.output
    state = json.loads(cli.stdout)["signals"][name]
    assert (state["on"], state["value"], state["to_flip"]) == (on, value, to_flip)
    assert state["lower" if on else "upper"] == bound
    lines = signal(kinds_market).stdout.splitlines()
    assert sentence in lines


def test_json_numbers_carry_no_float_dust(kinds_market):
    text = signal(kinds_market, "--json").stdout
    # 110 / 100 - 1 is 0.10000000000000009 in floating point; correlations end in ...9998
    assert "0000000" not in text and "9999999" not in text
    state = json.loads(text)
    assert state["signals"]["mom"]["value"] == 0.1


def test_current_state_takes_today_as_a_parameter(market):
    path, _ = market
    result = run_backtest(latest(load_config(path)), CsvSource(path.parent))
    state = current_state(result, dt.date(2024, 4, 3))
    assert (state["today"], state["sessions_behind"], state["stale"]) == ("2024-04-03", 3, True)
