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
from tests.test_signal_command import write_market


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
