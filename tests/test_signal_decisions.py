"""`rotation signal` with SPEC 11's decision keys: a decide_day counted from the month's
end, the rank buffer and the volatility target (engine/live.py, engine/live_decision.py).

Wednesday 2024-03-27 is the second-to-last NYSE session of March (Good Friday closed):
under `decide: monthly, decide_day: -2` it is a decision date, which the run counts only
once April has begun. `signal` decides at its close with the run's rules: the buffer
continued from February's decision, the target scaled by the volatility target. The run
extended by two sessions must then agree.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource, MemorySource
from engine.live import latest
from engine.runner import run_backtest
from tests.test_signal_command import invoke, write_config, write_market


@pytest.fixture
def buffered_market(tmp_path):
    rng = np.random.default_rng(1)  # a market in which the buffer keeps AAA at rank 2
    closes = {
        t: list(100 * np.exp(np.cumsum(rng.normal(0.0005, 0.015, 120))))
        for t in ["AAA", "BBB", "CCC"]
    }
    dates = write_market(tmp_path, closes, "2024-03-27")
    rank = {"assets": ["AAA", "BBB", "CCC"], "score": "mom", "top": 1, "keep": 2}
    raw = {
        "name": "live",
        "data": {"source": "csv", "dir": str(tmp_path), "start": str(dates[30].date())},
        "universe": ["AAA", "BBB", "CCC"],
        "scores": {"mom": {"type": "momentum", "lookback": 10}},
        "regimes": [{"name": "top", "rank": rank}],
        "execution": {"decide": "monthly", "decide_day": -2},
        "portfolio": {"target_vol": {"annual": 0.08, "window": 20}},
        "benchmark": {"AAA": 1.0},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_signal_decides_the_buffer_and_scale_as_the_run_does_once_the_month_ends(
    buffered_market,
):
    path = buffered_market
    state = json.loads(CliRunner().invoke(main, ["signal", str(path), "--json"]).stdout)
    assert state["decided_on"] == state["as_of"] == "2024-03-27"
    assert state["decide_day"] == -2
    assert state["next_decision"] == "2024-04-29"  # Mon 29: April 30 is its last session
    (block,) = state["ranking"]
    assert block["keep"] == 2
    kept = [c["asset"] for c in block["candidates"] if c["kept"]]
    assert kept == ["AAA"]
    assert [c["rank"] for c in block["candidates"] if c["kept"]] == [2]
    assert 0 < state["scale"] < 1
    assert state["target"]["AAA"] == pytest.approx(state["scale"])

    # the run, given March 28 and April 1, decides March 27 the same way
    config = latest(load_config(path))
    frames = CsvSource(path.parent).load(["AAA", "BBB", "CCC"])
    more = pd.DatetimeIndex(["2024-03-28", "2024-04-01"])
    extended = {t: pd.concat([f, f.iloc[[-1, -1]].set_axis(more)]) for t, f in frames.items()}
    later = run_backtest(config, MemorySource(extended))
    march27 = pd.Timestamp("2024-03-27")
    assert later.targets.loc[march27].to_dict() == pytest.approx(state["target"], rel=1e-12)
    assert later.scales.loc[march27] == pytest.approx(state["scale"], rel=1e-12)
    rows = later.ranks[(later.ranks["date"] == march27) & later.ranks["active"]]
    assert rows.loc[rows["kept"], "asset"].tolist() == kept
    # without the new sessions the run still holds February's decision
    before = run_backtest(config, MemorySource(frames))
    assert before.targets.iloc[-1].to_dict() != pytest.approx(state["target"])


def test_signal_sentences_state_the_buffer_and_the_scale(buffered_market):
    cli = CliRunner().invoke(main, ["signal", str(buffered_market)])
    assert cli.exit_code == 0, cli.output
    text = cli.stdout
    assert "rank buffer (top 1, keep 2): AAA (rank 2) holds its slot" in text
    assert "volatility target 8% a year over 20 dates: scale 0.408" in text
    assert "decided at this close (monthly, day -2)" in text
    assert "kept" in text  # the ranking table's column


# ---- the trade rule one session ahead: longer calendar rebalances, the no-trade band


@pytest.mark.parametrize(
    "rule, last, trades",
    [
        ("quarterly", "2024-03-28", True),  # Thursday before Good Friday: April is Q2
        ("annual", "2024-03-28", False),  # ... but the same year
        ("quarterly", "2024-02-28", False),  # February: the quarter goes on
        ("annual", "2024-12-31", True),  # the next session is in 2025
    ],
)
def test_signal_follows_quarterly_and_annual_rebalances(rule, last, trades, tmp_path):
    data = tmp_path / "data"
    dates = write_market(data, {"AAA": [100.0] * 60, "BBB": [40.0] * 60}, last)
    path = write_config(data, str(dates[10].date()), rebalance=rule)
    state = json.loads(invoke(path, "--json", today=last).stdout)
    reasons = [f"{rule} rebalance"] if trades else []
    assert state["trade"] == {"needed": trades, "reasons": reasons, "orders": {}}


def _band_market(tmp_path, off: dict, tolerance: float) -> tuple:
    """AAA, BBB, CCC, DDD flat; SIG (not traded) drops through its level at the last close
    (Wednesday 2024-03-27), so the next session trades from `on` to `off`."""
    data = tmp_path / "data"
    flat = [100.0] * 60
    closes = {"AAA": flat, "BBB": flat, "CCC": flat, "DDD": flat, "SIG": [120.0] * 59 + [80.0]}
    dates = write_market(data, closes, "2024-03-27")
    raw = {
        "name": "band",
        "data": {"source": "csv", "dir": str(data), "start": str(dates[10].date())},
        "universe": ["AAA", "BBB", "CCC", "DDD"],
        "signals": {"sig_up": {"type": "level", "series": "SIG", "above": 100}},
        "regimes": [
            {"name": "on", "when": "sig_up", "weights": {"AAA": 0.5, "BBB": 0.48, "CCC": 0.02}},
            {"name": "off", "weights": off},
        ],
        "execution": {"tolerance": tolerance},
        "benchmark": {"AAA": 1.0},
    }
    path = data / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path, data


def _next_session(path, data) -> object:
    """The run given one more session at the same prices: what the next session did."""
    tickers = ["AAA", "BBB", "CCC", "DDD", "SIG"]
    frames = CsvSource(data).load(tickers)
    more = pd.DatetimeIndex(["2024-03-28"])
    extended = {t: pd.concat([f, f.iloc[[-1]].set_axis(more)]) for t, f in frames.items()}
    return run_backtest(latest(load_config(path)), MemorySource(extended))


def test_signal_states_the_orders_the_band_skips_and_places_exits_and_entries(tmp_path):
    off = {"AAA": 0.47, "BBB": 0.5, "DDD": 0.03}  # CCC exits, DDD enters: both within 5%
    path, data = _band_market(tmp_path, off, 0.05)
    cli = invoke(path, "--json")
    trade = json.loads(cli.stdout)["trade"]
    assert trade["needed"] is True and trade["reasons"] == ["target changed"]
    assert trade["tolerance"] == 0.05
    assert trade["orders"] == pytest.approx({"CCC": -0.02, "DDD": 0.03})  # always placed
    assert trade["skipped"] == pytest.approx({"AAA": -0.03, "BBB": 0.02})  # within the band
    text = invoke(path).stdout.replace("\n  ", " ")
    assert "trade (target changed): sell CCC -2%, buy DDD +3%" in text
    assert "the no-trade band (5%) skips sell AAA -3%, buy BBB +2%; a sale to zero" in text

    # the run, given the next session, places and skips the same orders
    later = _next_session(path, data)
    day = pd.Timestamp("2024-03-28")
    fills = later.strategy.trades[later.strategy.trades["date"] == day]
    assert sorted(fills["ticker"]) == ["CCC", "DDD"]
    skipped = later.skipped.loc[day]
    assert sorted(skipped[skipped].index) == ["AAA", "BBB"]


def test_a_band_that_skips_every_order_means_no_trade(tmp_path):
    off = {"AAA": 0.47, "BBB": 0.5, "CCC": 0.03}  # every change within 5%, no exit or entry
    path, data = _band_market(tmp_path, off, 0.05)
    trade = json.loads(invoke(path, "--json").stdout)["trade"]
    assert trade["needed"] is False and trade["reasons"] == ["target changed"]
    assert trade["orders"] == {}
    assert set(trade["skipped"]) == {"AAA", "BBB", "CCC"}
    text = invoke(path).stdout.replace("\n  ", " ")
    assert "; no trade" in text
    assert "skips every order (sell AAA -3%, buy BBB +2%, buy CCC +1%), so no trade" in text
    later = _next_session(path, data)
    assert pd.Timestamp("2024-03-28") not in set(later.strategy.trades["date"])

    (tmp_path / "narrow").mkdir()
    narrow, _ = _band_market(tmp_path / "narrow", off, 0.005)  # a band below every change
    trade = json.loads(invoke(narrow, "--json").stdout)["trade"]
    assert trade["needed"] is True and trade["skipped"] == {}
    assert "the no-trade band (0.5%) skips no order" in invoke(narrow).stdout
