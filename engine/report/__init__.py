"""Formatting and files only: never computes a statistic.

A run folder holds:
  stats.json     {"strategy", "benchmark", "relative", "period"} (snake_case keys)
  values.csv     date,strategy,benchmark (daily portfolio values; and risk_free, the
                 per-date rate, when stats.risk_free is a ticker)
  weights.csv    date, <T>_target (traded target), <T>_held (weight at the close), cash_held;
                 with a volatility target, scale (the scale of the target in force)
  regimes.csv    date, regime decided at the close, each aligned signal (0/1)
  trades.csv     portfolio,date,ticker,quantity,fill_price,value,fees,reason (and a row of
                 quantity 0 per order a no-trade band skipped on a trade date)
  signals.csv    signal,date,x,value,upper,lower,on: each signal on its own calendar
  ranks.csv      (ranked configs) date,regime,active,asset,score,eligible,rank,selected,
                 (kept, with a rank buffer,) failed,weight,fallback,fallback_weight: each
                 decision date's ranking
  series.csv     (configs with external series) series,date,released,value: each value
                 the backtest could read, with its release date (at 16:00 New York)
  config.yaml    the resolved config (every default filled in; data.dir relative to the
                 folder, or left out: engine.report.paths); a blend's holds its members
                 inline
  members.csv,   (blends and configs in tranches) each member's regime, target,
  blend.json     contribution and values alone; engine.report.blend_files
  manifest.json  config hash, data hashes and ranges, library versions, time of the run
The folder is built under a temporary name beside its destination and renamed
into place when complete, so an interrupted run leaves no half folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.metrics import (
    METRICS,
    PERFORMANCE_KEYS,
    RELATIVE_KEYS,
    metric,
    optional_keys,
    second_block,
)
from engine.report.folders import atomic_folder
from engine.report.paths import saved_config_text
from engine.research.grid import shown as shown_value


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
    """A rich Table: statistics of the strategy beside its benchmark (the performance block,
    then the distribution block), then relative ones."""
    from rich.table import Table

    period = stats["period"]
    table = Table(
        title=plain(f"{title}  {period['start']} → {period['end']} ({period['days']} days)")
    )
    table.add_column("Statistic", no_wrap=True)
    table.add_column("Strategy", justify="right")
    table.add_column("Benchmark", justify="right")
    for key in [*PERFORMANCE_KEYS, *optional_keys(stats["strategy"])]:
        label, kind = metric(key).label, metric(key).format
        table.add_row(
            label, fmt(stats["strategy"].get(key), kind), fmt(stats["benchmark"].get(key), kind)
        )
    table.add_section()
    for key in second_block(stats["strategy"]):
        label, kind = metric(key).label, metric(key).format
        table.add_row(
            label, fmt(stats["strategy"].get(key), kind), fmt(stats["benchmark"].get(key), kind)
        )
    table.add_section()
    for key in RELATIVE_KEYS:
        label, kind = METRICS[key].label, METRICS[key].format
        table.add_row(label, fmt(stats["relative"].get(key), kind), "")
    table.add_section()
    for regime, share in stats["strategy"].get("time_in_regime", {}).items():
        table.add_row(plain(f"Time in {regime}"), fmt(share, "pct"), "")
    return table


def plain(text: str):
    """A rich Text of `text` as it is: no markup read in it, its control characters but
    line breaks made visible (engine.terminal.printable), so a user's name cannot restyle
    or rewrite the terminal."""
    from rich.text import Text

    from engine.terminal import printable

    return Text(printable(text, newlines=True))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")


def run_frames(result) -> dict[str, pd.DataFrame]:
    """The tabular artifacts of a BacktestResult, ready to write."""
    from engine.report.reasons import BENCHMARK, band_skips, trade_reasons

    dates = result.dates
    day = dates.strftime("%Y-%m-%d")
    values = pd.DataFrame(
        {
            "date": day,
            "strategy": result.strategy.value.to_numpy(),
            "benchmark": result.benchmark.value.to_numpy(),
        }
    )
    if np.ndim(result.risk_free):  # a ticker's per-date risk-free series (§11)
        values["risk_free"] = result.risk_free
    sim = result.strategy
    held = sim.held_weights().to_numpy()
    weights = pd.DataFrame({"date": day})
    for ticker in result.orders.columns:
        weights[f"{ticker}_target"] = result.orders[ticker].to_numpy()
    for i, ticker in enumerate(result.orders.columns):
        weights[f"{ticker}_held"] = held[:, i]
    weights["cash_held"] = sim.cash.to_numpy() / sim.value.to_numpy()
    if result.scales is not None:
        weights["scale"] = scale_in_force(result.scales, result.calendar, dates)
    regimes = pd.DataFrame({"date": day, "regime": result.regimes.reindex(dates).to_numpy()})
    for name in result.signals.columns:
        regimes[name] = result.signals[name].reindex(dates).astype(int).to_numpy()
    fills = result.strategy.trades
    reasons = trade_reasons(result).reindex(pd.DatetimeIndex(fills["date"])).to_numpy()
    fills = fills.assign(portfolio="strategy", reason=reasons)
    skips = band_skips(result)
    if len(skips):  # each order the no-trade band skipped, after the date's fills
        skipped = pd.DataFrame(
            {
                "date": skips["date"],
                "ticker": skips["ticker"],
                "quantity": 0.0,
                "fill_price": np.nan,
                "value": 0.0,
                "fees": 0.0,
                "portfolio": "strategy",
                "reason": [
                    f"skipped by tolerance: held {h:.2%}, target {w:.2%}"
                    for h, w in zip(skips["held"], skips["target"], strict=True)
                ],
            }
        )
        fills = pd.concat([fills, skipped], ignore_index=True)
        fills = fills.sort_values("date", kind="stable").reset_index(drop=True)
    trades = pd.concat(
        [fills, result.benchmark.trades.assign(portfolio="benchmark", reason=BENCHMARK)],
        ignore_index=True,
    )[["portfolio", "date", "ticker", "quantity", "fill_price", "value", "fees", "reason"]]
    frames = {
        "values.csv": values,
        "weights.csv": weights,
        "regimes.csv": regimes,
        "trades.csv": trades,
        "signals.csv": signal_lines(result),
    }
    if getattr(result, "series", None):
        frames["series.csv"] = series_values(result)
    if len(result.ranks):
        ranks = result.ranks.copy()
        for flag in ("active", "eligible", "selected", "kept", "failed"):
            if flag in ranks:
                ranks[flag] = ranks[flag].astype(int)
        frames["ranks.csv"] = ranks
    if getattr(result, "blend", None) is not None:  # a blend: its members (members.csv)
        from engine.report.blend_files import blend_frames

        frames |= blend_frames(result)
    return frames


def scale_in_force(
    scales: pd.Series, calendar: pd.DatetimeIndex, dates: pd.DatetimeIndex
) -> np.ndarray:
    """[dates] the volatility target's scale of the target each backtest date trades to:
    decided on the date of C before it (1, the default's unscaled target, when C has no
    earlier date)."""
    before = calendar.get_indexer(dates) - 1
    return np.where(before >= 0, scales.to_numpy()[np.maximum(before, 0)], 1.0)


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


def series_values(result) -> pd.DataFrame:
    """Long table of the external series over the backtest span: series, date (the
    value's), released (its date + lag_days: usable from 16:00 New York that day) and
    value; the values released by the last backtest date, from the one in force at the
    first (so a chart starts with what the first decision read)."""
    start, end = result.dates[0], result.dates[-1]
    parts = []
    for name, series in result.series.items():
        released = series.released
        before = released < start
        floor = released[before].max() if before.any() else released[0]
        shown = (released >= floor) & (released <= end)
        parts.append(
            pd.DataFrame(
                {
                    "series": name,
                    "date": series.values.index[shown].strftime("%Y-%m-%d"),
                    "released": released[shown].strftime("%Y-%m-%d"),
                    "value": series.values.to_numpy()[shown],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


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
        saved = saved_config_text(result.config.resolved(), Path(destination))
        (staging / "config.yaml").write_text(saved, encoding="utf-8")
        write_json(staging / "manifest.json", manifest)
        if getattr(result, "blend", None) is not None:
            from engine.report.blend_files import blend_json

            write_json(staging / "blend.json", blend_json(result))
        for name, payload in (extra_json or {}).items():
            write_json(staging / name, payload)
    return Path(destination)


NAME_WIDTH = 22  # the widest line of a run's name in the comparison tables (wider terminals: 1/5)


def comparison_rich(
    table: pd.DataFrame, title: str, width: int = 80, benchmarks: dict[str, str] | None = None
):
    """Rich tables of a comparison that fit `width` columns: one row per config, then one
    per benchmark (names wrapped at hyphens, never cut), the statistics in as many blocks
    of columns as the width needs; statistics against the benchmark in blocks of their
    own, configs only. `benchmarks`: config -> its benchmark's column."""
    from rich.console import Group

    runs = [str(c) for c in table.columns]
    benchmarks = benchmarks or {c: "" for c in runs if not c.startswith("benchmark")}
    configs = [c for c in runs if c in benchmarks]
    cells = {
        key: {str(c): fmt(_scalar(v), metric(key).format) for c, v in table.loc[key].items()}
        for key in table.index
    }
    relative = [k for k in table.index if metric(k).group == "relative"]
    own = [k for k in table.index if k not in relative]
    name_width = min(max(map(len, runs)), max(12, min(max(NAME_WIDTH, width // 5), width // 3)))
    names = {run: plain(wrap_name(run, name_width)) for run in runs}
    out = []
    for keys in _stat_blocks(own, cells, width - name_width - 4):
        out.append(
            _stat_block(keys, cells, runs, configs, names, name_width, title if not out else None)
        )
    against = sorted(set(benchmarks.values()) - {""})
    heading = f"Against {against[0]}" if len(against) == 1 else "Against each config's benchmark"
    for i, keys in enumerate(_stat_blocks(relative, cells, width - name_width - 4)):
        out.append(
            _stat_block(keys, cells, configs, configs, names, name_width, None if i else heading)
        )
    if len(against) > 1:
        for bench in against:
            members = ", ".join(c for c in configs if benchmarks[c] == bench)
            out.append(plain(f"{bench}: the benchmark of {members}"))
    return Group(*out)


def wrap_name(name: str, width: int) -> str:
    """`name` in lines of at most `width`, broken after a hyphen, underscore or space
    (a run of more than `width` without one is cut at the width)."""
    import re

    lines, line = [], ""
    for piece in re.findall(r"[^-_ ]*[-_ ]|[^-_ ]+$", name):
        while len(piece) > width:  # nowhere to break: cut it
            room = width - len(line)
            lines.append(line + piece[:room])
            line, piece = "", piece[room:]
        if len((line + piece).rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    lines.append(line.rstrip())
    return "\n".join(x for x in lines if x)


def _column_width(key: str, cells: dict) -> int:
    """The widest cell of a statistic, or its label's longest word (the header wraps)."""
    return max(*map(len, cells[key].values()), *map(len, metric(key).label.split()))


def _stat_blocks(keys: list[str], cells: dict, room: int) -> list[list[str]]:
    """`keys` in order, in as few blocks as fit `room` (a column takes its width + 3),
    filled evenly."""
    need = [_column_width(key, cells) + 3 for key in keys]
    fewest = len(_pack(need, room))
    limit = max([*need, -(-sum(need) // max(fewest, 1))])
    while len(_pack(need, limit)) > fewest:
        limit += 1
    return [[keys[i] for i in block] for block in _pack(need, limit)]


def _pack(need: list[int], room: int) -> list[list[int]]:
    """Greedy: positions of `need` in order, a new block whenever the next would not fit."""
    blocks: list[list[int]] = []
    used = room + 1
    for i, width in enumerate(need):
        if used + width > room:
            blocks.append([])
            used = 0
        blocks[-1].append(i)
        used += width
    return blocks


def _stat_block(keys, cells, rows, configs, names, name_width: int, title: str | None):
    """One rich Table: a row per run in `rows`, a column per statistic in `keys`."""
    from rich.table import Table

    out = Table(title=None if title is None else plain(title), title_justify="left")
    out.add_column("Config", width=name_width, overflow="fold")
    for key in keys:
        out.add_column(
            plain(metric(key).label),
            justify="right",
            width=_column_width(key, cells),
            overflow="fold",
        )
    for i, run in enumerate(rows):
        end = i + 1 < len(rows) and run in configs and rows[i + 1] not in configs
        out.add_row(names[run], *(cells[key][run] for key in keys), end_section=end)
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
    """comparison.csv/.md/.json, values.csv (every run's daily values) and manifest.json.
    comparison.json's `benchmarks` names each config's benchmark column."""
    payload = {
        "range": {"start": str(comparison.start.date()), "end": str(comparison.end.date())},
        "columns": list(map(str, table.columns)),
        "benchmarks": comparison.benchmarks(),
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


SWEEP_HEADERS = {
    "neighbour_mean": "nbr\nmean",
    "neighbour_min": "nbr\nmin",
    "cagr": "CAGR",
    "benchmark_cagr": "bench\nCAGR",
    "max_drawdown": "max\nDD",
    "trade_dates": "trade\ndates",
}


SWEEP_DROPPED = ("trade_dates", "neighbour_min", "max_drawdown", "benchmark_cagr", "cagr")
"""Columns of the sweep's top table given up, in this order, when the width is short."""


def sweep_rich(
    top: pd.DataFrame,
    params: list[str],
    ranked_by: str,
    title: str,
    short: dict[str, str] | None = None,
    width: int = 80,
):
    """A rich Table of the best combinations: parameters (by `short` names, a long one on two
    lines after its last dot), the metric beside each row's benchmark's, its neighbours, CAGR
    beside the benchmark's, max drawdown and trade dates. Compact headers, one space between
    columns; when that still exceeds `width` the columns of SWEEP_DROPPED go, in order, so
    nothing is ever cut."""
    from rich.table import Table

    bench = f"benchmark_{ranked_by}"
    shown = [*params, ranked_by]
    if bench in top and ranked_by != "cagr":
        shown.append(bench)
    shown += ["neighbour_mean", "neighbour_min", "cagr", "benchmark_cagr"]
    shown += ["max_drawdown", "trade_dates"]
    shown = list(dict.fromkeys(c for c in shown if c in top))  # the metric may be listed
    metric_format = metric(ranked_by).format
    short = short or {}
    label = metric(ranked_by).label if len(metric(ranked_by).label) <= 8 else ranked_by
    headers = {**SWEEP_HEADERS, ranked_by: label, bench: "bench"}
    for name in params:
        text = short.get(name, name)
        head, dot, tail = text.rpartition(".")
        headers[name] = f"{head}.\n{tail}" if dot and len(text) > 10 else text
    cells: dict[str, list[str]] = {}
    for column in shown:
        if column in params:
            cells[column] = [shown_value(v) for v in top[column]]
        elif column.startswith("neighbour_") or column == bench:
            cells[column] = [fmt(_scalar(v), metric_format) for v in top[column]]
        else:
            kind = metric(column.removeprefix("benchmark_")).format
            cells[column] = [fmt(_scalar(v), kind) for v in top[column]]

    def needed(columns: list[str]) -> int:
        wide = [max(map(len, [*headers.get(c, c).split("\n"), *cells[c]])) for c in columns]
        return sum(wide) + len(columns) - 1

    for column in SWEEP_DROPPED:
        if needed(shown) <= width:
            break
        if column != ranked_by and column in shown:
            shown.remove(column)
    out = Table(title=plain(title), box=None, pad_edge=False, padding=(0, 0, 0, 1))
    for column in shown:
        out.add_column(plain(headers.get(column, column)), justify="right", no_wrap=True)
    for i in range(len(top)):
        out.add_row(*(plain(cells[column][i]) for column in shown))
    return out
