"""Ranked configs through the engine (issue 12): sweeps equal single runs, no look-ahead
(SPEC tests (a) and (b), hypothesis), walk-forward and the look-ahead audit.

The markets are random walks in memory (or written as CSVs for the command line):
three equities AAA, BBB (missing a few dates, so C is an intersection), CCC and DDD,
a non-traded BIL for `min_score`, and ETH-USD on every calendar day (signals, a
crypto `min_score` ticker and correlation filters read it on its own calendar).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.config import config_from_dict
from engine.data import MemorySource
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from engine.runner import BacktestResult, run_backtest
from strategies.scores import SCORE_KINDS
from tests.conftest import CONFIGS
from tests.test_no_lookahead import (
    check_nothing_up_to_t_changes,
    check_trades_on_u_read_only_the_past,
    random_bars,
)
from tests.test_sweep import assert_rows_equal_single_runs

CRYPTO = "ETH-USD"
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def ranked_market(seed: int, days: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    equity = pd.bdate_range("2022-01-03", periods=days)
    crypto = pd.date_range(equity[0] - pd.Timedelta(days=5), equity[-1] + pd.Timedelta(days=3))
    gaps = rng.choice(np.arange(1, days - 1), size=3, replace=False)  # BBB "holidays"
    market = {t: random_bars(rng, equity, v) for t, v in [("AAA", 0.016), ("CCC", 0.014)]}
    market["BBB"] = random_bars(rng, equity.delete(gaps), 0.015)
    market["DDD"] = random_bars(rng, equity, 0.005)
    market["BIL"] = random_bars(rng, equity, 0.002)
    market[CRYPTO] = random_bars(rng, crypto, 0.04)
    return market


def run(market, config) -> BacktestResult:
    return run_backtest(config, MemorySource(market))


@pytest.fixture(scope="module", autouse=True)
def _warm_engine():
    """One run before hypothesis starts (the first vectorbt import is slow)."""
    market = ranked_market(0, 40)
    run(market, config_from_dict(sweep_raw(weekly=False) | {"data": {"start": "2022-01-03"}}))


# ---------------------------------------------------------------- 4. sweeps = single runs


def sweep_raw(weekly: bool = True) -> dict:
    return {
        "name": "ranked-sweep",
        "data": {"source": "csv", "dir": "unused", "start": "2022-04-01"},
        "universe": ["AAA", "BBB", "CCC", "DDD"],
        "signals": {"eth": {"type": "sma", "series": CRYPTO, "window": 20}},
        "scores": {"mom": {"type": "momentum", "lookback": 20}},
        "regimes": [
            {
                "name": "risk",
                "when": "eth",
                "rank": {"assets": ["AAA", "BBB", "CCC"], "score": "mom", "top": 1},
            },
            {"name": "safe", "weights": {"DDD": 1.0}},
        ],
        "execution": {"decide": "weekly" if weekly else "monthly", "fees_bps": 2},
        "benchmark": {"AAA": 0.5, "DDD": 0.5},
    }


def weekly_inverse_vol() -> dict:
    raw = sweep_raw()
    raw["scores"]["mom"]["lookback"] = {"start": 10, "stop": 30, "step": 10}
    raw["regimes"][0]["rank"] |= {
        "top": [1, 2, 3],
        "weighting": "inverse_vol",
        "vol_window": [5, 15],
        "fallback": "DDD",
    }
    return raw


def monthly_filtered() -> dict:
    raw = sweep_raw(weekly=False)
    raw["regimes"][0]["rank"] |= {
        "top": [1, 2],
        "exposure": [0.6, 1.0],
        "min_score": [-0.01, 0.02],
        "filter": {"type": "sma", "window": [5, 20]},
    }
    raw["execution"] |= {"timing": "next_open", "fees_bps": 5, "slippage_bps": 2}
    return raw


def monthly_threshold() -> dict:
    raw = sweep_raw(weekly=False)
    # a blend held in every combination: one value of the list-valued `lookback`
    raw["scores"]["mom"] |= {"lookback": {"values": [[15, 30]]}, "weights": [2, 1]}
    raw["scores"]["calm"] = {"type": "volatility", "window": [10, 20]}
    raw["regimes"][0]["rank"] |= {"top": [1, 2], "min_score": "BIL", "fallback": "DDD"}
    raw["regimes"][1] = {
        "name": "safe",
        "rank": {"assets": ["AAA", "BBB", "CCC"], "score": "calm", "order": "lowest", "top": 1},
    }
    raw["execution"] |= {"rebalance": {"threshold": 0.05}, "fees_bps": [0, 5]}
    return raw


def monthly_blends() -> dict:
    """Blends as axis values (issue 23 item 7): the score's lookback is a single lookback,
    a blend of two or of three; the filter's momentum a single lookback or a blend."""
    raw = sweep_raw(weekly=False)
    raw["scores"]["mom"]["lookback"] = {"values": [20, [10, 30], [5, 15, 40]]}
    raw["regimes"][0]["rank"] |= {
        "top": [1, 2],
        "filter": {"type": "momentum", "lookback": {"values": [[5, 25], 10]}},
    }
    return raw


SWEEPS = {
    "monthly-blend-axes": (monthly_blends, 3 * 2 * 2),
    "weekly-inverse-vol": (weekly_inverse_vol, 3 * 3 * 2),
    "monthly-filter-min-score-exposure": (monthly_filtered, 2 * 2 * 2 * 2),
    "monthly-threshold-rebalance": (monthly_threshold, 2 * 2 * 2),
}


@pytest.fixture(scope="module")
def sweep_market():
    return ranked_market(11, 300)


@pytest.mark.parametrize("case", SWEEPS)
def test_every_ranked_combination_equals_a_single_run_of_it(case, sweep_market):
    build, size = SWEEPS[case]
    spec = sweep_spec(build(), "grid.yaml")
    assert spec.size == size
    source = MemorySource(sweep_market)
    result = run_sweep(spec, source, keep_values=True)
    assert len(result.table) == size
    rows = range(size) if size <= 10 else np.linspace(0, size - 1, 10).astype(int)
    assert_rows_equal_single_runs(spec, source, result, rows)
    # the grid is not degenerate: the parameters change the outcome
    assert len(set(np.round(result.table["total_return"], 12))) > size // 2


def test_a_swept_lookback_range_gives_whole_bar_counts():
    raw = weekly_inverse_vol()
    raw["scores"]["mom"]["lookback"] = {"start": 10, "stop": 30, "step": 10.0}
    spec = sweep_spec(raw, "grid.yaml")
    lookback = next(a for a in spec.axes if a.name == "scores.mom.lookback")
    assert lookback.values == (10, 20, 30)
    assert all(isinstance(v, int) for v in lookback.values)


# ---------------------------------------------------------------- 5. no look-ahead


@st.composite
def ranked_scenarios(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    days = draw(st.integers(90, 140))
    market = ranked_market(seed, days)
    calendar = market["AAA"].index.intersection(market["BBB"].index)
    start = calendar[draw(st.integers(0, 40))]
    end = calendar[-1 - draw(st.integers(0, 10))]
    weighting = draw(st.sampled_from(["equal", "inverse_vol"]))
    rank = {
        "assets": ["AAA", "BBB", "CCC"],
        "score": "mom",
        "order": draw(st.sampled_from(["highest", "lowest"])),
        "top": draw(st.integers(1, 3)),
        "weighting": weighting,
        "exposure": draw(st.sampled_from([1.0, 0.7])),
    }
    if weighting == "inverse_vol":
        rank["vol_window"] = draw(st.integers(2, 15))
    min_score = draw(st.sampled_from([None, 0.0, CRYPTO, "BIL"]))
    if min_score is not None:
        rank["min_score"] = min_score
    filters = [
        None,
        {"type": "sma", "window": draw(st.integers(2, 15))},
        {"type": "donchian", "entry": draw(st.integers(2, 10)), "exit": 3},
        {"type": "correlation", "other": CRYPTO, "window": 5, "above": 0.2, "below": -0.2},
    ]
    chosen = draw(st.sampled_from(filters))
    if chosen is not None:
        rank["filter"] = chosen
    if draw(st.booleans()):
        rank["fallback"] = "CCC"
    lookback = draw(st.sampled_from([1, 5, 12, [3, 10]]))
    default = draw(
        st.sampled_from(
            [
                {"name": "calm", "weights": {"CCC": 0.6}},
                {
                    "name": "calm",
                    "rank": {
                        "assets": ["AAA", "BBB", "CCC"],
                        "score": "vol",
                        "order": "lowest",
                        "top": 1,
                    },
                },
            ]
        )
    )
    raw = {
        "name": "ranked-lookahead",
        "data": {
            "source": "csv",
            "dir": "unused",
            "start": str(start.date()),
            "end": str(end.date()),
        },
        "universe": ["AAA", "BBB", "CCC"],
        "signals": {
            "eth": {"type": "sma", "series": CRYPTO, "window": draw(st.integers(2, 20))},
        },
        "scores": {
            "mom": {"type": "momentum", "lookback": lookback},
            "vol": {"type": "volatility", "window": draw(st.integers(2, 10))},
        },
        "regimes": [
            {"name": "ranked", "when": draw(st.sampled_from(["eth", "not eth"])), "rank": rank},
            default,
        ],
        "execution": {
            "timing": draw(st.sampled_from(["next_close", "next_open"])),
            "decide": draw(st.sampled_from(["daily", "weekly", "monthly"])),
            "fees_bps": draw(st.sampled_from([0, 5])),
            "slippage_bps": draw(st.sampled_from([0, 3])),
            "rebalance": draw(st.sampled_from(["none", "monthly", {"threshold": 0.05}])),
        },
        "benchmark": {"AAA": 0.5, "CCC": 0.5},
        "stats": {"periods_per_year": 252},
    }
    return market, config_from_dict(raw, origin="<hypothesis>"), seed


@SETTINGS
@given(scenario=ranked_scenarios(), pick=st.floats(0.0, 1.0))
def test_ranked_bars_final_after_the_close_of_t_change_nothing_up_to_t(scenario, pick):
    check_nothing_up_to_t_changes(*scenario, pick)


@SETTINGS
@given(scenario=ranked_scenarios(), pick=st.floats(0.0, 1.0), on_trade_date=st.booleans())
def test_ranked_quantities_traded_on_u_depend_only_on_bars_final_by_the_prior_close(
    scenario, pick, on_trade_date
):
    check_trades_on_u_read_only_the_past(*scenario, pick, on_trade_date)


# ---------------------------------------------------------------- 6. walk-forward and audit


def write_csvs(market: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir()
    for ticker, frame in market.items():
        out = frame.copy()
        out.insert(4, "Adj Close", out["Close"])
        out.index = out.index.strftime("%Y-%m-%d")
        out.index.name = "Date"
        out.to_csv(folder / f"{ticker}.csv")
    return folder


def test_walk_forward_runs_on_a_ranked_sweep(tmp_path):
    data = write_csvs(ranked_market(5, 420), tmp_path / "data")
    raw = sweep_raw(weekly=False)
    raw["data"] = {"source": "csv", "dir": str(data), "start": "2022-03-01"}
    raw["scores"]["mom"]["lookback"] = {"start": 10, "stop": 40, "step": 30}  # 10, 40
    raw["regimes"][0]["rank"] |= {"top": [1, 2], "min_score": "BIL", "fallback": "DDD"}
    config = tmp_path / "ranked_sweep.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = tmp_path / "wf"
    result = CliRunner().invoke(
        main,
        ["sweep", str(config), "--walk-forward", "train=6m,test=3m", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "Walk-forward train=6m,test=3m by sharpe" in result.output
    summary = json.loads((out / "walkforward.json").read_text())
    assert len(summary["per_window"]) >= 2
    table = pd.read_csv(out / "walkforward.csv")
    assert set(table["regimes[0].rank.top"]) <= {1, 2}
    assert set(table["scores.mom.lookback"]) <= {10, 40}


def test_gem_audits_clean(shared_data):
    result = CliRunner().invoke(
        main,
        ["audit", str(CONFIGS / "taa" / "gem.yaml"), "--data-dir", str(shared_data), "--cuts", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "Look-ahead audit: clean" in result.output


def test_a_score_reading_one_bar_ahead_is_caught_by_the_audit(shared_data, monkeypatch):
    # Under monthly decisions the audit cuts on decision dates (month ends), where a
    # one-bar peek reads a rewritten bar; cuts mid-month would read nothing new.
    honest = SCORE_KINDS["momentum"]

    class Leaky(type(honest)):
        def values(self, close, params_list):
            return super().values(close.shift(-1).ffill(), params_list)

    monkeypatch.setitem(SCORE_KINDS, "momentum", Leaky())
    result = CliRunner().invoke(
        main,
        ["audit", str(CONFIGS / "taa" / "gem.yaml"), "--data-dir", str(shared_data), "--cuts", "3"],
    )
    assert result.exit_code == 1, result.output
    assert "LEAKS" in result.output


def test_a_score_peek_too_small_to_change_a_selection_is_caught_in_the_ranks(
    shared_data, monkeypatch
):
    # 1e-9 of tomorrow's price: the selection and targets stay the same, the scores do not
    honest = SCORE_KINDS["momentum"]

    class Peeking(type(honest)):
        def values(self, close, params_list):
            tomorrow = close.shift(-1).ffill().to_numpy()[:, None]
            return super().values(close, params_list) + 1e-9 * tomorrow

    monkeypatch.setitem(SCORE_KINDS, "momentum", Peeking())
    result = CliRunner().invoke(
        main,
        ["audit", str(CONFIGS / "taa" / "gem.yaml"), "--data-dir", str(shared_data), "--cuts", "3"],
    )
    assert result.exit_code == 1, result.output
    assert "ranks" in result.output
