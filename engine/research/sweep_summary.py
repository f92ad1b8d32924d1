"""What a sweep found: the ranking, the neighbourhood of the best, the benchmark, the heatmap.

Selection and wording only; every number comes from engine.research.sweep.

Everything is taken within each scenario (engine.research.sweep_config.scenario_groups):
the best combination, its neighbours (one grid step along a choice axis), the
sensitivity and how many combinations beat their benchmark. A sweep without scenario
axes is one scenario holding the whole grid.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from engine.config import suggest
from engine.errors import ConfigError
from engine.metrics import METRICS, lower_is_better
from engine.metrics import metric as metric_info
from engine.metrics.fast_stats import RUN_ONLY
from engine.report.plots import RELATIVE_NULLS  # the benchmark's own excess CAGR, alpha, IR
from engine.research.grid import shown
from engine.research.reduce import Outline, Reduction, digest, outline_of
from engine.research.sweep import SweepResult, neighbour_stability
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


def outline(spec: SweepSpec, options: SweepOptions) -> Outline:
    """What each chunk's reduction needs (engine.research.reduce.Outline)."""
    return outline_of(
        spec, options.metric, options.top, heatmap_axes(spec, options), ranking_metrics(spec)
    )


def summarize(spec: SweepSpec, options: SweepOptions, result: SweepResult):
    """(table with neighbour columns, summary dict) of a sweep held in memory: the summary
    is `summary_of` the reduction of the whole table (one chunk), the same as a sweep
    folder's; the table gets the neighbourhood of every row (neighbour_mean,
    neighbour_min, gap: one grid step along each choice axis, within its scenario) and
    a "scenario" column (the label) when there are scenario axes."""
    from engine import pipeline

    shape = outline(spec, options)
    reduced = Reduction(shape)
    columns = {name: result.table[name].to_numpy() for name in result.table.columns}
    reduced.add(digest(shape, 0, spec.size, pipeline.grid_index(spec.axes), columns))
    summary = summary_of(spec, options, reduced, lambda rows: result.table.iloc[rows], result.dates)
    groups = scenario_groups(spec)
    parts = [_stability(result, spec, group, options.metric) for group in groups]
    table = result.table.join(pd.concat(parts).reindex(result.table.index))
    if spec.scenarios:
        label = pd.Series("", index=table.index, dtype=object)
        for group in groups:
            label.iloc[group.rows] = group.label
        table.insert(len(spec.axes), "scenario", label)
    return table, summary


def _stability(result: SweepResult, spec: SweepSpec, group: Scenario, metric: str):
    """The neighbour columns of one scenario's rows (along its choice axes)."""
    sub = SweepResult(
        table=result.table.iloc[group.rows].reset_index(drop=True),
        axes=spec.choices,
        dates=result.dates,
    )
    if not spec.choices:  # every axis is a scenario: one combination, no neighbours
        nan = np.full(len(group.rows), np.nan)
        frame = pd.DataFrame({"neighbour_mean": nan, "neighbour_min": nan, "gap": nan})
        return frame.set_axis(group.rows)
    return neighbour_stability(sub, metric).set_axis(result.table.index[group.rows])


def neighbours(shape: Outline, row: int) -> list[int | None]:
    """The grid rows one step down and up along each choice axis (None off the grid), in
    the order the neighbour mean adds them."""
    at = np.unravel_index(row, shape.shape)
    out: list[int | None] = []
    for axis in shape.choice_axes:
        for step in (-1, 1):
            k = at[axis] + step
            inside = 0 <= k < shape.shape[axis]
            moved = tuple(k if i == axis else v for i, v in enumerate(at))
            out.append(int(np.ravel_multi_index(moved, shape.shape)) if inside else None)
    return out


def neighbourhood(values: list[float]) -> tuple[float, float]:
    """(mean, min) of the neighbours' values, NaN and missing ones left out (NaN when none):
    added one after the other, as numpy reduces a stack of neighbour grids."""
    total, count, low = 0.0, 0, math.nan
    for value in values:
        if math.isnan(value):
            total += 0.0
            continue
        total += value
        count += 1
        low = value if math.isnan(low) else min(low, value)
    return (total / count if count else math.nan), low


def summary_of(spec: SweepSpec, options: SweepOptions, reduced: Reduction, rows_of, dates) -> dict:
    """The summary of a reduced sweep (see `summarize`).

    `rows_of(rows)` gives the full rows (parameters and statistics) of grid rows: the best
    combinations and their neighbours are looked up by their grid index, never kept.

    summary["scenarios"] holds one block per scenario: its "label" and "values", the
    number of "combinations", the "top" rows (each with its "row" in the results), the
    "sensitivity", "beats_benchmark" (`beats_benchmark`) and its "notes" (also in the
    summary's "notes"). The summary's own "top", "sensitivity" and "beats_benchmark" are
    the first scenario's (the whole grid's when there are no scenario axes). Sensitivity
    and the best quarter are taken over the seeded sample (engine.research.reduce.SAMPLE
    combinations of each scenario, every one when it has no more), which a block then
    names under "sample".
    """
    shape = reduced.outline
    metric = options.metric
    names = [a.name for a in spec.axes]
    wanted: dict[int, list] = {}
    for s in range(shape.scenarios):
        for row in reduced.top_rows(metric, s)[0].tolist():
            wanted[row] = neighbours(shape, row)
    every = sorted(set(wanted) | {n for ns in wanted.values() for n in ns if n is not None})
    found = rows_of(np.array(every, dtype=np.int64)) if every else None
    if found is not None:  # numbers only, as a row of the results without labels reads
        found = found.drop(columns="scenario", errors="ignore")
    looked = dict(zip(every, range(len(every)), strict=True))
    kept_rows, kept_values = reduced.kept()
    blocks, notes = [], []
    for s, label in enumerate(shape.labels):
        top = []
        for row in reduced.top_rows(metric, s)[0].tolist():
            full = found.iloc[looked[row]]
            around = [
                math.nan if n is None else float(found.iloc[looked[n]][metric]) for n in wanted[row]
            ]
            mean, low = neighbourhood(around)
            entry = {"row": row, **_params(full, names), metric: full[metric]}
            entry |= {"neighbour_mean": mean, "neighbour_min": low}
            bench = benchmark_values(found.iloc[[looked[row]]], metric)
            if bench is not None:
                entry[f"benchmark_{metric}"] = float(bench[0])
            top.append(entry)
        sample = shape.rows_of(s, shape.sample)
        at = np.searchsorted(kept_rows, sample)
        counts = _counts(reduced, s, metric, shape.per_scenario)
        quarter = np.nanquantile(kept_values[at], 0.25 if lower_is_better(metric) else 0.75)
        values = _scenario_values(spec, shape, s)
        notes.append(_best_note(label, top[0], metric, quarter, names, spec, counts))
        block = {
            "label": label,
            "values": values,
            "combinations": shape.per_scenario,
            "top": top,
            "sensitivity": _sensitivity(spec, shape, s, kept_rows, kept_values),
            "beats_benchmark": counts,
            "notes": [notes[-1]],
        }
        if len(shape.sample) < shape.per_scenario:
            block["sample"] = {"size": len(shape.sample), "of": shape.per_scenario, "seed": 0}
        blocks.append(block)
    return {
        "name": spec.base.name,
        "range": {"start": str(dates[0].date()), "end": str(dates[-1].date()), "days": len(dates)},
        "combinations": spec.size,
        "axes": {a.name: list(a.values) for a in spec.axes},
        "scenario_axes": list(spec.scenarios),
        "metric": metric,
        "lower_is_better": lower_is_better(metric),
        "top": blocks[0]["top"],
        "sensitivity": blocks[0]["sensitivity"],
        "beats_benchmark": blocks[0]["beats_benchmark"],
        "scenarios": blocks,
        "heatmap": heatmap_axes(spec, options),
        "notes": notes,
    }


def _scenario_values(spec: SweepSpec, shape: Outline, s: int) -> dict:
    dims = [shape.shape[i] for i in shape.scenario_axes]
    picked = np.unravel_index(s, dims) if dims else ()
    return {
        spec.axes[i].name: spec.axes[i].values[int(k)]
        for i, k in zip(shape.scenario_axes, picked, strict=True)
    }


def _counts(reduced: Reduction, s: int, metric: str, size: int) -> dict:
    """`beats_benchmark` of scenario `s` from the reduction."""
    out: dict = {"of": size, "metric": metric}
    for k, (key, name) in enumerate(((metric, "metric"), ("cagr", "cagr"))):
        low, high = reduced.bench[s, k]
        if not _has_benchmark(key, reduced):
            out[f"on_{name}"], out[f"benchmark_{name}"] = None, None
            continue
        out[f"on_{name}"] = int(reduced.beats[s, k])
        out[f"benchmark_{name}"] = {"min": float(low), "max": float(high)}
    return out


def _has_benchmark(key: str, reduced: Reduction) -> bool:
    """Whether combinations have a benchmark value of `key` (a benchmark_<key> column,
    or a natural zero)."""
    return key in reduced.benchmarked


def _sensitivity(spec, shape: Outline, s: int, kept_rows, kept_values) -> dict[str, float]:
    """Median |change of the metric| per one step along each choice axis, over the
    sample's rows of scenario `s` that have a next neighbour along it."""
    out = {}
    choice_dims = [shape.shape[i] for i in shape.choice_axes]
    at = np.array(np.unravel_index(shape.sample, choice_dims)) if choice_dims else None
    rows = shape.rows_of(s, shape.sample)
    strides = np.cumprod((1, *shape.shape[::-1]))[::-1][1:]
    for k, axis in enumerate(shape.choice_axes):
        if shape.shape[axis] < 2:
            continue
        inside = at[k] < choice_dims[k] - 1
        here = rows[inside]
        there = here + strides[axis]
        step = (
            kept_values[np.searchsorted(kept_rows, there)]
            - kept_values[np.searchsorted(kept_rows, here)]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # every difference NaN
            out[spec.axes[axis].name] = float(np.nanmedian(np.abs(step)))
    return out


def _best_note(label, best, metric, quarter, names, spec, counts) -> str:
    """The best of one scenario, its neighbours and how the grid fares against the benchmark."""
    short = short_names(names)
    choices = [a.name for a in spec.choices]
    mean = best["neighbour_mean"]
    where = ", ".join(f"{short[k]}={shown(best[k])}" for k in choices) or "its only combination"
    head = f"{label}: " if label else ""
    text = f"{head}Best {metric} {best[metric]:.4g} at {where}"
    if math.isnan(mean):
        return f"{text}; {beats_note(counts)}."
    robust = mean <= quarter if lower_is_better(metric) else mean >= quarter
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


def best_rows(summary: dict) -> list[int]:
    """The grid row of each scenario's best combination."""
    return [int(block["top"][0]["row"]) for block in summary["scenarios"]]


def best_curves(spec: SweepSpec, summary: dict, result: SweepResult) -> pd.DataFrame:
    """Daily values of each scenario's best combination and of its own benchmark: date,
    scenario (label), strategy, benchmark; None when the sweep kept no daily values.

    Both are the sweep's own: `result.values` for the strategy and, for the benchmark, the
    simulation of the combination's cost and rebalance setting among `result.bench_values`
    (tests/test_scenarios.py checks both against `rotation run` of that combination)."""
    if result.values is None or result.bench_values is None:
        return None
    strategy = result.values[:, best_rows(summary)]
    return curves(
        spec,
        summary,
        result.dates,
        strategy,
        result.bench_values,
        result.bench_keys,
        result.yield_settings,
    )


def curves(
    spec, summary, dates, strategy, bench_values, bench_keys, yield_settings=()
) -> pd.DataFrame:
    """`best_curves` from the best combinations' daily values `strategy` ([N, scenarios])."""
    from engine.research.chunks import benchmark_of

    index = np.array(np.unravel_index(best_rows(summary), [len(a.values) for a in spec.axes]))
    column = benchmark_of(spec.base, spec.axes, index, bench_keys, yield_settings)
    bench = bench_values[:, column]
    day = dates.strftime("%Y-%m-%d")
    frames = [
        pd.DataFrame(
            {
                "date": day,
                "scenario": block["label"],
                "strategy": strategy[:, k],
                "benchmark": bench[:, k],
            }
        )
        for k, block in enumerate(summary["scenarios"])
    ]
    return pd.concat(frames, ignore_index=True)


def top_frame(reduced: Reduction, rows_of) -> pd.DataFrame:
    """The best `top` combinations of each scenario by each ranking metric, full rows
    (looked up by grid index with `rows_of`): ranked_by, rank (1 = best), row, then the
    parameters, scenario and statistics; by metric (the ranking metric first), scenario,
    rank."""
    shape = reduced.outline
    picked = []
    for metric in shape.ranking:
        if metric not in reduced.tops:
            continue
        for s in range(shape.scenarios):
            rows, _ = reduced.top_rows(metric, s)
            picked += [(metric, k + 1, int(row)) for k, row in enumerate(rows.tolist())]
    every = np.array(sorted({row for _, _, row in picked}), dtype=np.int64)
    found = rows_of(every).reset_index(drop=True)
    where = np.searchsorted(every, [row for _, _, row in picked])
    head = pd.DataFrame(
        {
            "ranked_by": [m for m, _, _ in picked],
            "rank": np.array([k for _, k, _ in picked], dtype=np.int64),
            "row": np.array([r for _, _, r in picked], dtype=np.int64),
        }
    )
    return pd.concat([head, found.iloc[where].reset_index(drop=True)], axis=1)


def heatmap_cells(spec: SweepSpec, summary: dict, reduced: Reduction) -> pd.DataFrame:
    """The heatmap's cells (a sweep folder's heatmap.csv): x, y (the values of the heatmap's
    parameters; no y with one axis), the combinations, the metric's mean over the other
    parameters, the mean of metric minus each combination's own benchmark's, and the
    benchmark's min and max. Every scenario's rows when a heatmap axis is a scenario axis
    (or there is one scenario), else the first scenario's (plots.sweep_heatmap says so)."""
    shape = reduced.outline
    pair = summary.get("heatmap") or []
    scope = list(range(shape.scenarios))
    if shape.scenarios > 1 and not set(pair) & set(spec.scenarios):
        scope = [0]
    cells = reduced.heat_cells(scope)
    hx, hy = shape.heat
    frame = {"x": spec.axes[hx].column(cells["x"])}
    if hy is not None:
        frame["y"] = spec.axes[hy].column(cells["y"])
    for key in ("combinations", "metric", "excess", "benchmark_min", "benchmark_max"):
        frame[key] = cells[key]
    return pd.DataFrame(frame)


def heatmap_of(spec: SweepSpec, options: SweepOptions, result: SweepResult) -> pd.DataFrame:
    """`heatmap_cells` of a sweep held in memory."""
    from engine import pipeline

    shape = outline(spec, options)
    reduced = Reduction(shape)
    columns = {name: result.table[name].to_numpy() for name in result.table.columns}
    reduced.add(digest(shape, 0, spec.size, pipeline.grid_index(spec.axes), columns))
    return heatmap_cells(spec, {"heatmap": heatmap_axes(spec, options)}, reduced)
