"""What a sweep found: the ranking, the neighbourhood of the best, the benchmark, the heatmap.

Selection and wording only; every number comes from engine.research.sweep.

Everything is taken within each scenario (engine.research.sweep_config.scenario_groups):
the best combination, its neighbours (one grid step along a choice axis), the
sensitivity and how many combinations beat their benchmark. A sweep without scenario
axes is one scenario holding the whole grid.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from engine.config import suggest
from engine.errors import ConfigError
from engine.metrics import METRICS, lower_is_better
from engine.metrics import metric as metric_info
from engine.metrics.fast_stats import RUN_ONLY
from engine.report.plots import RELATIVE_NULLS  # the benchmark's own excess CAGR, alpha, IR
from engine.research.grid import shown
from engine.research.sweep import SweepResult, axis_sensitivity, neighbour_stability
from engine.research.sweep_config import (
    Scenario,
    SweepOptions,
    SweepSpec,
    resolve_axis,
    scenario_groups,
    short_names,
)


def ranking_metrics(spec: SweepSpec) -> list[str]:
    """Statistics a sweep can rank by (all but the run-only ones, fast_stats.RUN_ONLY)."""
    measured = [key for key in METRICS if key not in RUN_ONLY]
    return [*measured, *(f"time_in_{r.name}" for r in spec.base.regimes)]


def check_options(spec: SweepSpec, options: SweepOptions) -> None:
    """Reject an unknown metric or heatmap axis before any work is done."""
    known = ranking_metrics(spec)
    if options.metric in RUN_ONLY:
        raise ConfigError(
            f"{spec.origin}: metric {options.metric!r} is computed for a single run only, not "
            "for each combination of a sweep (docs/semantics.md §11); rank by another statistic"
        )
    if options.metric not in known:
        hint = suggest(options.metric, known)
        raise ConfigError(
            f"{spec.origin}: metric {options.metric!r} is unknown{hint}; "
            f"choose one of {', '.join(known)}"
        )
    if options.heatmap:
        x, y = (resolve_axis(spec, name, "heatmap") for name in options.heatmap)
        if x == y:
            raise ConfigError(f"{spec.origin}: the heatmap needs two different parameters")


def _params(row: pd.Series, names: list[str]) -> dict:
    return {name: row[name].item() if hasattr(row[name], "item") else row[name] for name in names}


def benchmark_values(table: pd.DataFrame, metric: str) -> np.ndarray | None:
    """Each combination's benchmark's value of `metric` (its own: the benchmark runs with the
    combination's costs and rebalance rule), or None when holding the benchmark has no
    value of it (`time_in_<regime>`, beta, tracking error, correlation)."""
    column = f"benchmark_{metric}"
    if column in table:
        return table[column].to_numpy(dtype=float)
    if metric in RELATIVE_NULLS:
        return np.full(len(table), RELATIVE_NULLS[metric])
    return None


def beats(values: np.ndarray, benchmark: np.ndarray, metric: str) -> np.ndarray:
    """True where a combination is strictly better than its benchmark (lower where the
    metric ranks lower first); NaN never beats."""
    with np.errstate(invalid="ignore"):
        return values < benchmark if lower_is_better(metric) else values > benchmark


def beats_benchmark(table: pd.DataFrame, metric: str) -> dict:
    """How many rows of `table` beat their own benchmark on `metric` and on CAGR.

    Returns {"of", "metric", "on_metric" (None without a benchmark value), "on_cagr",
    "benchmark_metric" and "benchmark_cagr" ({"min", "max"} over the rows: one value when
    the costs are fixed)}.
    """
    out: dict = {"of": len(table), "metric": metric}
    for key, name in ((metric, "metric"), ("cagr", "cagr")):
        bench = benchmark_values(table, key)
        if bench is None:
            out[f"on_{name}"], out[f"benchmark_{name}"] = None, None
            continue
        won = beats(table[key].to_numpy(dtype=float), bench, key)
        out[f"on_{name}"] = int(won.sum())
        out[f"benchmark_{name}"] = {"min": float(np.nanmin(bench)), "max": float(np.nanmax(bench))}
    return out


def _shown(span: dict | None, kind: str) -> str:
    from engine.report import fmt

    if span is None:
        return "n/a"
    low, high = fmt(span["min"], kind), fmt(span["max"], kind)
    return low if low == high else f"{low} to {high}"


def beats_note(counts: dict) -> str:
    """`0 of 2,000 combinations beat the benchmark's Sharpe (0.812) and 0 its CAGR (15.23%)`."""
    metric = counts["metric"]
    label, kind = metric_info(metric).label, metric_info(metric).format
    cagr = f"{counts['on_cagr']:,} its CAGR ({_shown(counts['benchmark_cagr'], 'pct')})"
    if counts["on_metric"] is None:
        return (
            f"{counts['on_cagr']:,} of {counts['of']:,} combinations beat the benchmark's CAGR "
            f"({_shown(counts['benchmark_cagr'], 'pct')}); the benchmark has no {label}"
        )
    if metric == "cagr":
        return f"{counts['on_cagr']:,} of {counts['of']:,} combinations beat the benchmark's " + (
            f"CAGR ({_shown(counts['benchmark_cagr'], 'pct')})"
        )
    return (
        f"{counts['on_metric']:,} of {counts['of']:,} combinations beat the benchmark's {label} "
        f"({_shown(counts['benchmark_metric'], kind)}) and {cagr}"
    )


def _stability(result: SweepResult, spec: SweepSpec, group: Scenario, metric: str):
    """(neighbour columns, sensitivity) of one scenario: neighbours along the choice axes."""
    sub = SweepResult(
        table=result.table.iloc[group.rows].reset_index(drop=True),
        axes=spec.choices,
        dates=result.dates,
    )
    if not spec.choices:  # every axis is a scenario: one combination, no neighbours
        nan = np.full(len(group.rows), np.nan)
        frame = pd.DataFrame({"neighbour_mean": nan, "neighbour_min": nan, "gap": nan})
        return frame.set_axis(group.rows), {}
    frame = neighbour_stability(sub, metric).set_axis(result.table.index[group.rows])
    return frame, axis_sensitivity(sub, metric)


def summarize(spec: SweepSpec, options: SweepOptions, result: SweepResult):
    """(table with neighbour columns, summary dict). The heatmap over summary["heatmap"]
    is drawn by the tearsheet (engine.report.plots.sweep_heatmap), not here: building it
    costs more than the rest of a 2,000-combination sweep's summary.

    summary["scenarios"] holds one block per scenario: its "label" and "values", the
    number of "combinations", the "top" rows (each with its "row" in the results table),
    the "sensitivity", "beats_benchmark" (`beats_benchmark`) and its "notes" (also in the
    summary's "notes"). The summary's own "top",
    "sensitivity" and "beats_benchmark" are the first scenario's (the whole grid's when
    there are no scenario axes). The results table gets a "scenario" column (the label)
    when there are scenario axes.
    """
    metric = options.metric
    names = [a.name for a in spec.axes]
    choices = [a.name for a in spec.choices]
    short = short_names(names)
    ascending = lower_is_better(metric)
    groups = scenario_groups(spec)
    parts, blocks, notes = [], [], []
    for group in groups:
        stability, sensitivity = _stability(result, spec, group, metric)
        parts.append(stability)
        sub = result.table.iloc[group.rows].join(stability)
        order = sub[metric].sort_values(ascending=ascending, na_position="last", kind="stable")
        bench = benchmark_values(sub, metric)
        top = []
        for row_id in order.index[: options.top]:
            row = sub.loc[row_id]
            entry = {
                "row": int(row_id),
                **_params(row, names),
                metric: row[metric],
                "neighbour_mean": row["neighbour_mean"],
                "neighbour_min": row["neighbour_min"],
            }
            if bench is not None:
                entry[f"benchmark_{metric}"] = float(bench[sub.index.get_loc(row_id)])
            top.append(entry)
        counts = beats_benchmark(sub, metric)
        notes.append(_best_note(group, sub, top[0], metric, choices, short, counts))
        blocks.append(
            {
                "label": group.label,
                "values": group.values,
                "combinations": len(group.rows),
                "top": top,
                "sensitivity": sensitivity,
                "beats_benchmark": counts,
                "notes": [notes[-1]],
            }
        )
    neighbours = pd.concat(parts).reindex(result.table.index)
    table = result.table.join(neighbours)
    if spec.scenarios:
        label = pd.Series("", index=table.index, dtype=object)
        for group in groups:
            label.iloc[group.rows] = group.label
        table.insert(len(names), "scenario", label)
    summary = {
        "name": spec.base.name,
        "range": {
            "start": str(result.dates[0].date()),
            "end": str(result.dates[-1].date()),
            "days": len(result.dates),
        },
        "combinations": spec.size,
        "axes": {a.name: list(a.values) for a in spec.axes},
        "scenario_axes": list(spec.scenarios),
        "metric": metric,
        "lower_is_better": ascending,
        "top": blocks[0]["top"],
        "sensitivity": blocks[0]["sensitivity"],
        "beats_benchmark": blocks[0]["beats_benchmark"],
        "scenarios": blocks,
        "heatmap": heatmap_axes(spec, options),
        "notes": notes,
    }
    return table, summary


def _best_note(group, sub, best, metric, choices, short, counts) -> str:
    """The best of one scenario, its neighbours and how the grid fares against the benchmark."""
    quartile = np.nanquantile(sub[metric], 0.25 if lower_is_better(metric) else 0.75)
    mean = best["neighbour_mean"]
    where = ", ".join(f"{short[k]}={shown(best[k])}" for k in choices) or "its only combination"
    head = f"{group.label}: " if group.label else ""
    text = f"{head}Best {metric} {best[metric]:.4g} at {where}"
    if math.isnan(mean):
        return f"{text}; {beats_note(counts)}."
    robust = mean <= quartile if lower_is_better(metric) else mean >= quartile
    verdict = (
        "a robust region of the grid: its neighbours are in the best quarter"
        if robust
        else "a lone peak: its neighbours fall outside the best quarter of the grid"
    )
    text += f"; neighbours average {mean:.4g} (min {best['neighbour_min']:.4g}): {verdict}"
    if counts["on_metric"] == 0 or counts["on_cagr"] == 0:
        return f"{text}; yet {beats_note(counts)}."
    return f"{text}; {beats_note(counts)}."


def heatmap_axes(spec: SweepSpec, options: SweepOptions) -> tuple[str, str] | None:
    """The two parameters of the heatmap: the chosen ones, else the first two choice axes
    (else the first two axes)."""
    if options.heatmap:
        x, y = (resolve_axis(spec, name, "heatmap") for name in options.heatmap)
        return x, y
    names = [a.name for a in spec.choices]
    if len(names) < 2:
        names = [a.name for a in spec.axes]
    return (names[0], names[1]) if len(names) >= 2 else None


def best_curves(spec: SweepSpec, summary: dict, result: SweepResult) -> pd.DataFrame:
    """Daily values of each scenario's best combination and of its own benchmark: date,
    scenario (label), strategy, benchmark; None when the sweep kept no daily values.

    Both are the sweep's own: `result.values` for the strategy and, for the benchmark, the
    simulation of the combination's cost and rebalance setting among `result.bench_values`
    (tests/test_scenarios.py checks both against `rotation run` of that combination)."""
    if result.values is None or result.bench_values is None:
        return None
    from engine import pipeline
    from engine.research.chunks import benchmark_of

    dates = result.dates
    rows = [int(block["top"][0]["row"]) for block in summary["scenarios"]]
    index = pipeline.grid_index(spec.axes)[:, rows]
    column = benchmark_of(spec.base, spec.axes, index, result.bench_keys, result.yield_settings)
    bench = result.bench_values[:, column]
    day = dates.strftime("%Y-%m-%d")
    frames = [
        pd.DataFrame(
            {
                "date": day,
                "scenario": block["label"],
                "strategy": result.values[:, row],
                "benchmark": bench[:, k],
            }
        )
        for k, (row, block) in enumerate(zip(rows, summary["scenarios"], strict=True))
    ]
    return pd.concat(frames, ignore_index=True)
