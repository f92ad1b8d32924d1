"""Formatting and files only: never computes a statistic.

A run folder holds:
  stats.json     {"strategy", "benchmark", "relative", "period"} (snake_case keys)
  values.csv     date,strategy,benchmark (daily portfolio values)
  weights.csv    date, <T>_target (traded target), <T>_held (weight at the close), cash_held
  regimes.csv    date, regime decided at the close, each aligned signal (0/1)
  trades.csv     portfolio,date,ticker,quantity,fill_price,value,fees
  signals.csv    signal,date,x,value,upper,lower,on: each signal on its own calendar
  ranks.csv      (ranked configs) date,regime,active,asset,score,eligible,rank,selected,
                 failed,weight,fallback,fallback_weight: each decision date's ranking
  config.yaml    the resolved config (every default filled in)
  manifest.json  config hash, data hashes and ranges, library versions, time of the run
The folder is built under a temporary name beside its destination and renamed
into place when complete, so an interrupted run leaves no half folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from engine.metrics import METRICS, PERFORMANCE_KEYS, RELATIVE_KEYS, metric
from engine.report.folders import atomic_folder


def fmt(value: Any, kind: str) -> str:
    """Display one number: pct (0.1234 -> 12.34%), num, int, money."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "money":
        return f"{value:,.2f}"
    return f"{value:.3f}"


def clean_json(value: Any) -> Any:
    """NaN and infinities -> None (JSON null); tuples -> lists; recursively."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return clean_json(value.item())
    return value


def stats_json(stats: dict) -> str:
    """Deterministic JSON text of the statistics (same stats -> same bytes)."""
    return json.dumps(clean_json(stats), indent=2, allow_nan=False) + "\n"


def stats_table(stats: dict, title: str):
    """A rich Table: statistics of the strategy beside its benchmark, then relative ones."""
    from rich.table import Table

    period = stats["period"]
    table = Table(title=f"{title}  {period['start']} → {period['end']} ({period['days']} days)")
    table.add_column("Statistic", no_wrap=True)
    table.add_column("Strategy", justify="right")
    table.add_column("Benchmark", justify="right")
    for key in PERFORMANCE_KEYS:
        label, kind = METRICS[key].label, METRICS[key].format
        table.add_row(
            label, fmt(stats["strategy"].get(key), kind), fmt(stats["benchmark"].get(key), kind)
        )
    table.add_section()
    for key in RELATIVE_KEYS:
        label, kind = METRICS[key].label, METRICS[key].format
        table.add_row(label, fmt(stats["relative"].get(key), kind), "")
    table.add_section()
    for regime, share in stats["strategy"].get("time_in_regime", {}).items():
        table.add_row(f"Time in {regime}", fmt(share, "pct"), "")
    return table


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")


def run_frames(result) -> dict[str, pd.DataFrame]:
    """The tabular artifacts of a BacktestResult, ready to write."""
    from engine.report.reasons import BENCHMARK, trade_reasons

    dates = result.dates
    day = dates.strftime("%Y-%m-%d")
    values = pd.DataFrame(
        {
            "date": day,
            "strategy": result.strategy.value.to_numpy(),
            "benchmark": result.benchmark.value.to_numpy(),
        }
    )
    sim = result.strategy
    held = sim.held_weights().to_numpy()
    weights = pd.DataFrame({"date": day})
    for ticker in result.orders.columns:
        weights[f"{ticker}_target"] = result.orders[ticker].to_numpy()
    for i, ticker in enumerate(result.orders.columns):
        weights[f"{ticker}_held"] = held[:, i]
    weights["cash_held"] = sim.cash.to_numpy() / sim.value.to_numpy()
    regimes = pd.DataFrame({"date": day, "regime": result.regimes.reindex(dates).to_numpy()})
    for name in result.signals.columns:
        regimes[name] = result.signals[name].reindex(dates).astype(int).to_numpy()
    fills = result.strategy.trades
    reasons = trade_reasons(result).reindex(pd.DatetimeIndex(fills["date"])).to_numpy()
    trades = pd.concat(
        [
            fills.assign(portfolio="strategy", reason=reasons),
            result.benchmark.trades.assign(portfolio="benchmark", reason=BENCHMARK),
        ],
        ignore_index=True,
    )[["portfolio", "date", "ticker", "quantity", "fill_price", "value", "fees", "reason"]]
    frames = {
        "values.csv": values,
        "weights.csv": weights,
        "regimes.csv": regimes,
        "trades.csv": trades,
        "signals.csv": signal_lines(result),
    }
    if len(result.ranks):
        ranks = result.ranks.copy()
        for flag in ("active", "eligible", "selected", "failed"):
            ranks[flag] = ranks[flag].astype(int)
        frames["ranks.csv"] = ranks
    return frames


def signal_lines(result) -> pd.DataFrame:
    """Long table of every signal on its own calendar over the backtest span: signal,
    date, x (the series), value (what the rule compares: x itself for donchian, sma and
    level; the momentum, RSI or correlation), upper and lower (its bounds), on (0/1)."""
    start, end = result.dates[0], result.dates[-1]
    parts = []
    for name, frame in result.signal_series.items():
        span = frame.loc[start:end]
        parts.append(
            pd.DataFrame(
                {
                    "signal": name,
                    "date": span.index.strftime("%Y-%m-%d"),
                    "x": span["x"].to_numpy(),
                    "value": span["value"].to_numpy(),
                    "upper": span["upper"].to_numpy(),
                    "lower": span["lower"].to_numpy(),
                    "on": span["on"].astype(int).to_numpy(),
                }
            )
        )
    columns = ["signal", "date", "x", "value", "upper", "lower", "on"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(clean_json(payload), indent=2) + "\n", encoding="utf-8")


def write_run_folder(
    destination: Path, result, manifest: dict, extra_json: dict[str, Any] | None = None
) -> Path:
    """Write every artifact of one run (and any `extra_json` files) into `destination`,
    atomically."""
    with atomic_folder(destination) as staging:
        (staging / "stats.json").write_text(stats_json(result.stats), encoding="utf-8")
        for name, frame in run_frames(result).items():
            write_csv(frame, staging / name)
        resolved = yaml.safe_dump(result.config.resolved(), sort_keys=False)
        (staging / "config.yaml").write_text(resolved, encoding="utf-8")
        write_json(staging / "manifest.json", manifest)
        for name, payload in (extra_json or {}).items():
            write_json(staging / name, payload)
    return Path(destination)


def comparison_rich(table: pd.DataFrame, title: str):
    """A rich Table of a comparison: statistics as rows, runs as columns."""
    from rich.table import Table

    out = Table(title=title)
    out.add_column("Statistic", no_wrap=True)
    for column in table.columns:
        out.add_column(str(column), justify="right")
    for key in table.index:
        label, kind = metric(key).label, metric(key).format
        out.add_row(label, *(fmt(_scalar(v), kind) for v in table.loc[key]))
    return out


def _scalar(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def comparison_markdown(table: pd.DataFrame) -> str:
    """GitHub-flavoured markdown of a comparison table, display labels and units."""
    header = "| statistic | " + " | ".join(map(str, table.columns)) + " |"
    lines = [header, "|---|" + "---:|" * len(table.columns)]
    for key in table.index:
        label, kind = metric(key).label, metric(key).format
        cells = " | ".join(fmt(_scalar(v), kind) for v in table.loc[key])
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines) + "\n"


def write_comparison(destination: Path, comparison, table: pd.DataFrame, manifest: dict) -> Path:
    """comparison.csv/.md/.json, values.csv (every run's daily values) and manifest.json."""
    payload = {
        "range": {"start": str(comparison.start.date()), "end": str(comparison.end.date())},
        "columns": list(map(str, table.columns)),
        "statistics": {str(c): table[c].to_dict() for c in table.columns},
        "initial_cash": {
            label: r.config.portfolio.initial_cash
            for label, r in zip(comparison.labels, comparison.results, strict=True)
        },
        "time_in_regime": {
            label: r.stats["strategy"]["time_in_regime"]
            for label, r in zip(comparison.labels, comparison.results, strict=True)
        },
    }
    values = comparison.values()[list(table.columns)]
    with atomic_folder(destination) as staging:
        table.rename_axis("statistic").to_csv(staging / "comparison.csv", lineterminator="\n")
        (staging / "comparison.md").write_text(comparison_markdown(table), encoding="utf-8")
        (staging / "comparison.json").write_text(
            json.dumps(clean_json(payload), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        write_csv(
            values.reset_index().assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d")),
            staging / "values.csv",
        )
        write_json(staging / "manifest.json", manifest)
    return Path(destination)


def sweep_rich(top: pd.DataFrame, params: list[str], ranked_by: str, title: str):
    """A rich Table of the best combinations: parameters, the metric and its neighbours."""
    from rich.table import Table

    out = Table(title=title)
    shown = [
        *params,
        ranked_by,
        "neighbour_mean",
        "neighbour_min",
        "cagr",
        "max_drawdown",
        "trade_dates",
    ]
    shown = list(dict.fromkeys(shown))  # the ranking metric may already be listed
    metric_format = metric(ranked_by).format
    for column in shown:
        out.add_column(column, justify="right")
    for _, row in top.iterrows():
        cells = []
        for column in shown:
            kind = metric(column).format
            if column in params:
                cells.append(f"{row[column]:g}")
            elif column.startswith("neighbour_"):
                cells.append(fmt(_scalar(row[column]), metric_format))
            else:
                cells.append(fmt(_scalar(row[column]), kind))
        out.add_row(*cells)
    return out


def write_sweep(
    destination: Path, table: pd.DataFrame, summary: dict, manifest: dict, heatmap=None
) -> Path:
    """results.csv/.parquet (one row per combination), summary.json, heatmap.html, manifest."""
    from engine.report.plots import write_html

    with atomic_folder(destination) as staging:
        table.to_csv(staging / "results.csv", index=False, lineterminator="\n")
        table.to_parquet(staging / "results.parquet", index=False)
        write_json(staging / "summary.json", summary)
        write_json(staging / "manifest.json", manifest)
        if heatmap is not None:
            write_html(heatmap, staging / "heatmap.html")
    return Path(destination)
