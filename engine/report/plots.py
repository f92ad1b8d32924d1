"""Charts (plotly), kept apart from the numbers: figures are built from results
already computed, never recomputing a statistic.

Long series are thinned only where the eye cannot tell: a line with more than
three points per pixel of a chart keeps, per pixel-wide bucket, its lowest and
highest point (plus both ends), so every peak, trough and the overall extremes
are drawn exactly where they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CHART_WIDTH = 1200  # px: the plot width the page is laid out for
STRATEGY = "#1f77b4"
BENCHMARK = "#555555"
LINES = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
FILLS = ["#2ca02c", "#ff7f0e", "#9467bd", "#d62728", "#17becf", "#8c564b", "#bcbd22", "#7f7f7f"]
# One colour per traded asset, wherever it is drawn (holdings, rank panels): twenty distinct
# qualitative colours, no grey (grey is cash), so ten or more assets stay apart.
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#7b4173", "#6baed6", "#fd8d3c",
    "#74c476", "#9e9ac8", "#e7969c", "#843c39",
]  # fmt: skip
CASH = "#c7c7c7"
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 90, "b": 40},  # title, then legend and buttons
    "hovermode": "x unified",
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
}


def top_title(figure):
    """Title on the top row (beside plotly's mode bar), legend and buttons below it."""
    return figure.update_layout(title_y=1.0, title_yanchor="top", title_pad_t=12)


def visible_points(y: np.ndarray, width: int = CHART_WIDTH) -> np.ndarray:
    """Indices of `y` worth drawing: all when there are at most 3 per pixel, else the
    first and last points and each of `width` buckets' minimum and maximum (NaN-aware;
    an all-NaN bucket keeps its first point so gaps stay gaps)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n <= 3 * width:
        return np.arange(n)
    edges = np.linspace(0, n, width + 1).astype(int)
    keep = {0, n - 1}
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        part = y[lo:hi]
        finite = np.isfinite(part)
        if not finite.any():
            keep.add(lo)
            continue
        keep.add(lo + int(np.argmin(np.where(finite, part, np.inf))))
        keep.add(lo + int(np.argmax(np.where(finite, part, -np.inf))))
    return np.array(sorted(keep))


def line(x: np.ndarray, y: np.ndarray, name: str, color: str, **kwargs):
    """A scatter line thinned by `visible_points`."""
    import plotly.graph_objects as go

    keep = visible_points(y)
    return go.Scatter(
        x=np.asarray(x)[keep],
        y=np.asarray(y, dtype=float)[keep],
        name=name,
        mode="lines",
        line={"color": color, "width": 1.5, **kwargs.pop("line", {})},
        **kwargs,
    )


def asset_colors(tickers: Sequence[str]) -> dict[str, str]:
    """{ticker: colour} in universe order (PALETTE, repeating after twenty), cash grey."""
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(tickers)} | {"cash": CASH}


def sampled_points(n: int, keep: Sequence[int] = (), width: int = CHART_WIDTH) -> np.ndarray:
    """Indices of n dates shared by the traces of a stacked chart (which cannot be thinned
    trace by trace): all when there are at most 2 per pixel, else `width` evenly spaced
    ones plus each index in `keep` and the one before it (both sides of a trade's step)."""
    if n <= 2 * width:
        return np.arange(n)
    keep = np.asarray(keep, dtype=int)
    grid = np.linspace(0, n - 1, width).round().astype(int)
    both = np.concatenate([grid, keep, keep - 1])
    return np.unique(both[(both >= 0) & (both < n)])


def spans(dates: Sequence[str], labels: Sequence) -> list[tuple[str, str, object]]:
    """Runs of equal labels as (first date, date the next run starts or last date, label)."""
    labels = list(labels)
    out, begin = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[begin]:
            out.append((dates[begin], dates[min(i, len(labels) - 1)], labels[begin]))
            begin = i
    return out


def shade(figure, runs, colors: dict, row=None, opacity: float = 0.13) -> None:
    """Background rectangles for each run whose label has a colour (others stay white)."""
    for start, end, label in runs:
        if label in colors:
            figure.add_vrect(
                x0=start,
                x1=end,
                fillcolor=colors[label],
                opacity=opacity,
                line_width=0,
                layer="below",
                row=row,
                col=1 if row else None,
            )


def legend_patch(name: str, color: str, group: str):
    """A legend entry for a shaded background (no data of its own)."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        name=name,
        legendgroup=group,
        marker={"symbol": "square", "size": 12, "color": color, "opacity": 0.4},
    )


def log_toggle(axis: str = "yaxis") -> list[dict]:
    """Buttons switching an axis between linear and log scale."""
    return [
        {
            "type": "buttons",
            "direction": "right",
            "x": 1.0,
            "xanchor": "right",
            "y": 1.0,
            "yanchor": "bottom",
            "showactive": True,
            "pad": {"b": 4},
            "font": {"size": 11},
            "buttons": [
                {"label": "Linear", "method": "relayout", "args": [{f"{axis}.type": "linear"}]},
                {"label": "Log", "method": "relayout", "args": [{f"{axis}.type": "log"}]},
            ],
        }
    ]


def histogram_figure(bins: pd.DataFrame, label: str, best: float):
    """Distribution of a sweep's metric over every combination (histogram.csv's bins: low,
    high, combinations), the best marked."""
    import plotly.graph_objects as go

    low, high = bins["low"].to_numpy(dtype=float), bins["high"].to_numpy(dtype=float)
    bars = go.Bar(
        x=(low + high) / 2,
        y=bins["combinations"].to_numpy(),
        width=high - low,
        marker_color=STRATEGY,
        name=label,
        customdata=np.column_stack([low, high]) if len(low) else None,
        hovertemplate="%{customdata[0]:.4g} to %{customdata[1]:.4g}: %{y:,}<extra></extra>",
    )
    figure = go.Figure(bars)
    figure.add_vline(x=best, line_dash="dash", line_color="#d62728")
    figure.update_layout(
        **{**LAYOUT, "hovermode": "x"},
        height=320,
        bargap=0,
        xaxis_title=label,
        yaxis_title="combinations",
        title=f"{label} over every combination (dashed: the best)",
    )
    return figure


RELATIVE_NULLS = {"excess_cagr": 0.0, "alpha": 0.0, "information_ratio": 0.0}
"""What holding the benchmark scores on the relative statistics with a natural zero."""


def heatmap_figure(
    cells: pd.DataFrame, x: str, y: str, metric: str, label: str, note: str, scope: str = ""
):
    """Heatmap of `metric` over swept parameters `x` and `y` from a sweep's heatmap cells
    (heatmap.csv: x, y, metric = the mean over the other parameters, excess = the mean of
    metric minus each combination's own benchmark, benchmark_min, benchmark_max), its
    diverging colour scale centred on the benchmark's value: green cells beat holding the
    benchmark over the same dates, red ones do not.

    When the benchmark's value is one number over the cells (costs fixed) the cells show
    the metric and the scale's midpoint is that number; when it differs (a cost axis
    among the rows) each cell shows the mean of metric minus its own benchmark's, centred
    on 0. A metric the benchmark has no value of (time in a regime, beta, ...) keeps a
    plain scale, and the title says so. `note` and `scope` are appended to the title.
    """
    import plotly.graph_objects as go

    low = np.fmin.reduce(cells["benchmark_min"].to_numpy(dtype=float))
    high = np.fmax.reduce(cells["benchmark_max"].to_numpy(dtype=float))
    mid, shown, title_label = None, "metric", label
    centre = "No benchmark value to centre the colours on"
    if np.isfinite(low) and np.isfinite(high):
        if high - low <= 1e-12 * max(1.0, abs(high), abs(low)):
            mid = float(low)
            centre = (
                f"Colours centred on the benchmark's {label} {mid:.3g}: green beats holding it, "
                "red does not"
            )
        else:
            mid, shown, title_label = 0.0, "excess", f"{label} minus the benchmark's"
            centre = (
                "Each combination minus its own benchmark (same dates and costs), centred on 0: "
                "green beats holding it, red does not"
            )
    pivot = cells.pivot(index="y", columns="x", values=shown)
    for name, along in (("y", "index"), ("x", "columns")):  # blends (`[21, 63]`) as swept,
        if not pd.api.types.is_numeric_dtype(cells[name]):  # not sorted as text
            pivot = pivot.reindex(**{along: pd.unique(cells[name])})
    trace = {"zmid": mid} if mid is not None else {}
    figure = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=[str(v) for v in pivot.columns],
            y=[str(v) for v in pivot.index],
            colorscale="RdYlGn",
            reversescale=mid is not None and _lower_first(metric),
            colorbar={"title": title_label},
            hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{title_label}=%{{z:.4f}}<extra></extra>",
            **trace,
        )
    )
    figure.update_layout(
        title=f"{title_label} by {x} and {y}{note}{scope}<br><sup>{centre}</sup>",
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
    )
    return figure


def _lower_first(metric: str) -> bool:
    from engine.metrics import lower_is_better

    return lower_is_better(metric)


def sweep_heatmap(cells: pd.DataFrame, summary: dict):
    """The heatmap of a sweep from its cells (heatmap.csv) and summary: over
    summary["heatmap"]; the cells hold every row when a heatmap axis is a scenario axis
    (or there are none), else the first scenario's rows, and the title says which."""
    from engine.metrics import metric as metric_info

    x, y = summary["heatmap"]
    metric = summary["metric"]
    scenario_axes = summary.get("scenario_axes", [])
    params = [a for a in summary["axes"] if a not in scenario_axes]
    scope = ""
    scenarios = summary.get("scenarios") or []
    if len(scenarios) > 1 and not {x, y} & set(scenario_axes):
        first = scenarios[0]["label"]
        scope = f", scenario {first} (the first of {len(scenarios)})"
    elif len(scenarios) > 1:
        params = list(summary["axes"])
    note = " (mean over the other parameters)" if len(params) > 2 else ""
    return heatmap_figure(cells, x, y, metric, metric_info(metric).label, note, scope)


def axis_figure(x: Sequence, y: np.ndarray, axis: str, label: str):
    """A sweep's metric along its only axis."""
    import plotly.graph_objects as go

    figure = go.Figure(go.Scatter(x=[str(v) for v in x], y=y, mode="lines+markers", name=label))
    figure.update_layout(
        **{**LAYOUT, "hovermode": "x"},
        height=360,
        xaxis_title=axis,
        yaxis_title=label,
        title=f"{label} by {axis}",
    )
    return figure
