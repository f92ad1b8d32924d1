"""Trade reasons and the tearsheet of ranked configs: each trade date says why it traded
(first date, regime change, new selection, new weights, monthly or threshold rebalance),
read one date after the decision it trades; the run page of a ranked config has a panel
per rank regime and the holdings as a stacked area; a fixed-weight page keeps its charts."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import ThresholdRule
from engine.report import tearsheet_data as data
from engine.report.reasons import trade_reasons
from engine.report.tearsheet import FILENAME, write_tearsheet

TICKERS = ["A", "B", "C"]


# ---------------------------------------------------------------- constructed results


def fake_result(calendar, rows, trade_dates, first=1, rebalance="none", default="fixed"):
    """The parts of a BacktestResult trade_reasons reads: targets and regimes decided on
    `calendar` (rows: (regime, {ticker: weight})), backtest dates from calendar[first],
    the first order, fills on `trade_dates` and the rebalance rule."""
    cal = pd.DatetimeIndex(calendar)
    targets = pd.DataFrame(
        [[w.get(t, 0.0) for t in TICKERS] for _, w in rows], index=cal, columns=TICKERS
    )
    dates = cal[first:]
    orders = pd.DataFrame(np.nan, index=dates, columns=TICKERS)
    orders.iloc[0] = targets.iloc[first - 1] if first else [0.0, 0.0, 1.0]  # default: C
    fills = pd.DataFrame({"date": pd.DatetimeIndex(trade_dates).repeat(2), "ticker": "A"})
    config = SimpleNamespace(
        regimes=[SimpleNamespace(name="ranked"), SimpleNamespace(name=default)],
        execution=SimpleNamespace(rebalance=rebalance),
    )
    return SimpleNamespace(
        calendar=cal,
        dates=dates,
        targets=targets,
        regimes=pd.Series([r for r, _ in rows], index=cal, name="regime"),
        orders=orders,
        strategy=SimpleNamespace(trades=fills),
        config=config,
    )


CALENDAR = pd.bdate_range("2021-03-25", periods=9)  # 03-25 .. 04-06
ROWS = [
    ("fixed", {"C": 1.0}),  # 03-25: decided before the first backtest date
    ("fixed", {"C": 1.0}),  # 03-26
    ("ranked", {"A": 1.0}),  # 03-29
    ("ranked", {"B": 1.0}),  # 03-30
    ("ranked", {"A": 0.5, "B": 0.5}),  # 03-31
    ("ranked", {"A": 0.6, "B": 0.4}),  # 04-01
    ("ranked", {"A": 0.6, "B": 0.4}),  # 04-02
    ("ranked", {"A": 0.6}),  # 04-05: B failed its filter, its slot in cash
    ("fixed", {"C": 1.0}),  # 04-06: decided on the last date, traded after the run
]
TRADED = ["2021-03-26", "2021-03-30", "2021-03-31", "2021-04-01", "2021-04-02", "2021-04-05"]
TRADED += ["2021-04-06"]


def test_each_reason_names_the_target_decided_the_date_before():
    result = fake_result(CALENDAR, ROWS, TRADED, rebalance=ThresholdRule(threshold=0.05))
    reasons = trade_reasons(result)
    assert reasons.to_dict() == {
        pd.Timestamp("2021-03-26"): "first date",
        pd.Timestamp("2021-03-30"): "regime change: fixed -> ranked",  # decided 03-29
        pd.Timestamp("2021-03-31"): "new selection: +B -A",
        pd.Timestamp("2021-04-01"): "new selection: +A",
        pd.Timestamp("2021-04-02"): "new weights",
        pd.Timestamp("2021-04-05"): "threshold rebalance",  # 04-02's target = 04-01's
        pd.Timestamp("2021-04-06"): "new selection: -B",
    }
    assert reasons.index.name == "date" and reasons.name == "reason"


def test_an_unchanged_target_traded_by_the_monthly_rule_is_a_monthly_rebalance():
    rows = [("fixed", {"C": 1.0})] * 3 + [("other", {"A": 0.5, "C": 0.5})] * 6
    traded = ["2021-03-26", "2021-03-31", "2021-04-01"]
    reasons = trade_reasons(fake_result(CALENDAR, rows, traded, rebalance="monthly"))
    assert reasons.tolist() == ["first date", "regime change: fixed -> other", "monthly rebalance"]


def test_first_date_without_an_earlier_calendar_date_trades_the_default_regime():
    rows = [("ranked", {"A": 1.0})] * 2 + ROWS[2:]
    result = fake_result(CALENDAR, rows, ["2021-03-25", "2021-03-26"], first=0, default="base")
    # 03-25 traded the default regime's weights (C); 03-26 trades what 03-25 decided
    assert trade_reasons(result).tolist() == ["first date", "regime change: base -> ranked"]


# ---------------------------------------------------------------- real runs on made-up prices


def bars(closes: pd.Series) -> pd.DataFrame:
    """Daily bars with every price the close (adjusted = listed)."""
    frame = pd.DataFrame({c: closes for c in ("Open", "High", "Low", "Close", "Adj Close")})
    return frame.assign(Volume=1000)


def made_up_prices(folder: Path) -> Path:
    """A beats B by one-day return until 2021-02-10, B beats A from 2021-02-11; C flat; X
    (not traded) jumps from 1 to 10 at the close of 2021-03-11."""
    days = pd.bdate_range("2021-01-04", "2021-04-30", name="Date")
    early = days <= "2021-02-10"
    a = 50 * np.cumprod(np.where(early, 1.002, 1.001))
    b = 40 * np.cumprod(np.where(early, 1.001, 1.002))
    closes = {"A": a, "B": b, "C": np.full(len(days), 30.0)}
    closes["X"] = np.where(days <= "2021-03-10", 1.0, 10.0)
    folder.mkdir(parents=True, exist_ok=True)
    for ticker, close in closes.items():
        frame = bars(pd.Series(close, index=days))
        frame.to_csv(folder / f"{ticker}.csv", date_format="%Y-%m-%d")
    return folder


def ranked_config(folder: Path, prices: Path) -> Path:
    """Half in the one-day momentum leader of A and B while X is low; A and C once it is
    high; monthly rebalance, no costs."""
    raw = {
        "name": "ranked-reasons",
        "description": "rank A and B by one-day return, A and C once X jumps",
        "data": {"source": "csv", "dir": str(prices), "start": "2021-02-01", "allow_jumps": ["X"]},
        "universe": ["A", "B", "C"],
        "signals": {"x_high": {"type": "level", "series": "X", "above": 5}},
        "scores": {"mom1": {"type": "momentum", "lookback": 1}},
        "regimes": [
            {
                "name": "pick",
                "when": "not x_high",
                "rank": {"assets": ["A", "B"], "score": "mom1", "top": 1, "exposure": 0.5},
            },
            {"name": "safe", "weights": {"A": 0.5, "C": 0.5}},
        ],
        "execution": {"rebalance": "monthly", "fees_bps": 0, "slippage_bps": 0},
        "benchmark": {"A": 1.0},
    }
    path = folder / "ranked.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def fixed_config(folder: Path, prices: Path) -> Path:
    raw = yaml.safe_load(ranked_config(folder, prices).read_text())
    raw.pop("scores")
    raw["name"] = "fixed-weights"
    raw["regimes"][0] = {"name": "tilt", "when": "not x_high", "weights": {"B": 0.5}}
    path = folder / "fixed.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(config: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["run", str(config), "--out", str(out), "--tearsheet"])
    assert result.exit_code == 0, (result.output, result.exception)
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ranked")
    prices = made_up_prices(root / "data")
    return {
        "ranked": run(ranked_config(root, prices), root / "ranked"),
        "fixed": run(fixed_config(root, prices), root / "fixed"),
    }


def reasons_of(folder: Path) -> dict[str, str]:
    trades = pd.read_csv(folder / "trades.csv")
    strategy = trades[trades["portfolio"] == "strategy"]
    assert (strategy.groupby("date")["reason"].nunique() == 1).all()  # one reason a date
    assert set(trades.loc[trades["portfolio"] == "benchmark", "reason"]) == {"benchmark"}
    return strategy.groupby("date")["reason"].first().to_dict()


def test_trades_csv_says_why_each_date_of_a_run_traded(folders):
    assert reasons_of(folders["ranked"]) == {
        "2021-02-01": "first date",  # A led on 2021-01-29
        "2021-02-12": "new selection: +B -A",  # B leads at the close of 02-11
        "2021-03-01": "monthly rebalance",  # B's half drifted up against cash
        "2021-03-12": "regime change: pick -> safe",  # X is high at the close of 03-11
        "2021-04-01": "monthly rebalance",  # A drifted up against C
    }
    assert reasons_of(folders["fixed"]) == {
        "2021-02-01": "first date",
        "2021-03-01": "monthly rebalance",
        "2021-03-12": "regime change: tilt -> safe",
        "2021-04-01": "monthly rebalance",
    }


def figure(page: str, chart: str) -> tuple[list[dict], dict]:
    """(traces, layout) of one chart, from its Plotly.newPlot call."""
    match = re.search(rf'Plotly\.newPlot\(\s*"chart-{chart}",\s*', page)
    assert match, chart
    text = page[match.end() :]
    decoder = json.JSONDecoder()
    traces, used = decoder.raw_decode(text)
    layout, _ = decoder.raw_decode(text[used:].lstrip(" \n,"))
    return traces, layout


def names(traces: list[dict], **having) -> list[str]:
    return [t.get("name") for t in traces if all(t.get(k) == v for k, v in having.items())]


def chart_ids(page: str) -> list[str]:
    return re.findall(r'<div id="chart-([\w-]+)" class="plotly-graph-div"', page)


def test_ranked_page_has_a_rank_panel_and_holdings_as_a_stacked_area(folders):
    page = (folders["ranked"] / FILENAME).read_text(encoding="utf-8")
    assert chart_ids(page) == ["equity", "signal-0", "rank-0", "weights", "monthly", "yearly"]
    assert '<a href="#rankings">Rankings</a>' in page
    traces, layout = figure(page, "rank-0")
    assert names(traces, type="scatter", mode="lines") == ["A", "B"]  # the scores
    assert names(traces, mode="markers", showlegend=False) == ["A selected", "B selected"]
    assert names(traces, type="heatmap") == ["slot weights"]
    assert "another regime decided" in names(traces)  # safe was decided from 03-11
    assert layout["title"]["text"] == "pick: top 1 of 2 by mom1 (1-bar momentum), highest first"
    assert len(layout["shapes"]) == 2  # the inactive run, shaded on both rows
    traces, _ = figure(page, "weights")
    assert names(traces, stackgroup="held") == ["A", "B", "C", "cash"]
    [marks] = [t for t in traces if t.get("name") == "trade (hover: why)"]
    assert marks["hovertext"][1] == "new selection: +B -A" and marks["x"][1] == "2021-02-12"
    assert "<th>reason</th>" in page and "<td>regime change: pick -&gt; safe</td>" in page
    assert "Strategy trade dates by reason: first date 1, new selection 1, " in page


def test_fallback_periods_are_the_decided_runs_with_weight_in_the_fallback(folders):
    run = data.read_run(folders["ranked"])
    [panel] = data.rank_panels(run)
    assert panel.fallback == "" and not (panel.fallback_weight > 0).any()
    assert {label for _, _, label in panel.runs(run.dates[-1])} == {"active", "inactive"}
    assert panel.runs(run.dates[-1])[-1] == ("2021-03-11", run.dates[-1], "inactive")
    half = np.where(panel.dates == "2021-02-26", 0.5, 0.0)  # one decision half in cash
    runs = replace(panel, fallback_weight=half).runs(run.dates[-1])
    assert ("2021-02-26", "2021-03-01", "fallback") in runs


def test_fixed_weight_page_keeps_its_charts_and_gains_only_the_reasons(folders):
    page = (folders["fixed"] / FILENAME).read_text(encoding="utf-8")
    assert chart_ids(page) == ["equity", "signal-0", "weights", "monthly", "yearly"]
    assert 'href="#rankings"' not in page
    traces, _ = figure(page, "weights")
    assert names(traces) == ["A held", "B held", "C held", "cash held", "A target", "B target",
                             "C target"]  # fmt: skip
    assert not names(traces, stackgroup="held")
    assert not (folders["fixed"] / "ranks.csv").exists()


def test_a_ranked_folder_from_before_reasons_and_ranks_csv_still_gets_a_page(folders, tmp_path):
    old = Path(shutil.copytree(folders["ranked"], tmp_path / "old"))
    (old / "ranks.csv").unlink()
    trades = pd.read_csv(old / "trades.csv").drop(columns="reason")
    trades.to_csv(old / "trades.csv", index=False)
    page = write_tearsheet(old).read_text(encoding="utf-8")
    assert "This folder has no ranks.csv" in page and "<th>reason</th>" not in page
    traces, _ = figure(page, "weights")
    assert names(traces, stackgroup="held") == ["A", "B", "C", "cash"]
    assert "trade (hover: why)" not in names(traces)
