"""What a sweep found: the ranking, the neighbourhood of the best, the heatmap.

Selection and wording only; every number comes from engine.research.sweep.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.config import suggest
from engine.errors import ConfigError
from engine.metrics import METRICS, lower_is_better
from engine.metrics import metric as metric_info
from engine.research.sweep import SweepResult, axis_sensitivity, neighbour_stability
from engine.research.sweep_config import SweepOptions, SweepSpec, resolve_axis


def ranking_metrics(spec: SweepSpec) -> list[str]:
    """Statistics a sweep can rank by."""
    return [*METRICS, *(f"time_in_{r.name}" for r in spec.base.regimes)]


def check_options(spec: SweepSpec, options: SweepOptions) -> None:
    """Reject an unknown metric or heatmap axis before any work is done."""
    known = ranking_metrics(spec)
    if options.metric not in known:
        hint = suggest(options.metric, known)
        raise ConfigError(
            f"{spec.origin}: metric {options.metric!r} is unknown{hint}; "
            f"choose one of {', '.join(known)}"
        )
    if options.heatmap:
        x, y = (resolve_axis(spec, name) for name in options.heatmap)
        if x == y:
            raise ConfigError(f"{spec.origin}: the heatmap needs two different parameters")


def _params(row: pd.Series, names: list[str]) -> dict:
    return {name: row[name].item() if hasattr(row[name], "item") else row[name] for name in names}


def summarize(spec: SweepSpec, options: SweepOptions, result: SweepResult, seconds: float):
    """(table with neighbour columns, summary dict, heatmap figure or None)."""
    metric = options.metric
    names = [a.name for a in spec.axes]
    table = result.table.join(neighbour_stability(result, metric))
    ascending = lower_is_better(metric)
    order = table[metric].sort_values(ascending=ascending, na_position="last", kind="stable")
    top = []
    for row_id in order.index[: options.top]:
        row = table.loc[row_id]
        top.append(
            {
                "row": int(row_id),
                **_params(row, names),
                metric: row[metric],
                "neighbour_mean": row["neighbour_mean"],
                "neighbour_min": row["neighbour_min"],
            }
        )
    best = top[0]
    quartile = np.nanquantile(table[metric], 0.25 if ascending else 0.75)
    robust = best["neighbour_mean"] <= quartile if ascending else best["neighbour_mean"] >= quartile
    verdict = (
        "a robust region: its neighbours are in the best quarter of the grid"
        if robust
        else "a lone peak: its neighbours fall outside the best quarter of the grid"
    )
    where = ", ".join(f"{k}={v:g}" for k, v in _params(table.loc[best["row"]], names).items())
    notes = [
        f"Best {metric} {best[metric]:.4g} at {where}; neighbours average "
        f"{best['neighbour_mean']:.4g} (min {best['neighbour_min']:.4g}): {verdict}.",
        f"{spec.size:,} combinations in {seconds:.2f} s "
        f"({seconds / spec.size * 1000:.3f} ms per combination).",
    ]
    summary = {
        "name": spec.base.name,
        "range": {
            "start": str(result.dates[0].date()),
            "end": str(result.dates[-1].date()),
            "days": len(result.dates),
        },
        "combinations": spec.size,
        "axes": {a.name: list(a.values) for a in spec.axes},
        "metric": metric,
        "lower_is_better": ascending,
        "top": top,
        "sensitivity": axis_sensitivity(result, metric),
        "heatmap": heatmap_axes(spec, options),
        "seconds": seconds,
        "notes": notes,
    }
    return table, summary, _heatmap(spec, options, table, names)


def heatmap_axes(spec: SweepSpec, options: SweepOptions) -> tuple[str, str] | None:
    """The two parameters of the heatmap: the chosen ones, else the first two axes."""
    if options.heatmap:
        x, y = (resolve_axis(spec, name) for name in options.heatmap)
        return x, y
    names = [a.name for a in spec.axes]
    return (names[0], names[1]) if len(names) >= 2 else None


def _heatmap(spec: SweepSpec, options: SweepOptions, table: pd.DataFrame, names: list[str]):
    pair = heatmap_axes(spec, options)
    if pair is None:
        return None
    from engine.report.plots import heatmap_figure

    label = metric_info(options.metric).label
    return heatmap_figure(table, pair[0], pair[1], options.metric, label, names)
