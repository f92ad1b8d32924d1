"""Tearsheets of a comparison folder (equity curves overlaid, the comparison table,
drawdowns) and of a sweep folder (heatmap, top combinations, sensitivity)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.metrics import METRICS
from engine.metrics import metric as metric_info
from engine.report import plots
from engine.report import tearsheet_data as data
from engine.report import tearsheet_html as h
from engine.report.plots import BENCHMARK, LAYOUT, LINES, line, log_toggle
from engine.research.grid import shown as shown_value


def comparison_page(folder: data.ComparisonFolder) -> str:
    payload = folder.comparison
    columns = payload["columns"]
    benchmarks = benchmark_columns(payload)
    styles = run_styles(columns, benchmarks)
    values = folder.values[columns]
    recorded = payload.get("initial_cash", {})
    cash = [recorded.get(c) or data.implied_initial_cash(payload["statistics"][c]) for c in columns]
    drawdown = data.drawdowns(values, cash)
    yearly = data.period_returns(values, cash, "year")
    parts = [
        (
            "equity",
            "Equity curves",
            h.chart(overlay(values, "Equity curves", styles, log=True), "equity"),
        ),
        (
            "drawdowns",
            "Drawdowns",
            h.chart(overlay(drawdown, "Drawdowns", styles, percent=True), "drawdowns"),
        ),
        (
            "yearly",
            "Calendar-year returns",
            h.chart(yearly_figure(yearly, styles), "yearly"),
        ),
        ("statistics", "Comparison table", _comparison_table(payload, benchmarks)),
        ("regimes", "Time in regime", _time_in_regime(payload)),
    ]
    span = payload["range"]
    configs = folder.manifest.get("configs", {})
    rows = [
        ("Common range", h.esc(f"{span['start']} → {span['end']} ({len(values):,} trading days)"))
    ]
    rows += [
        (
            label,
            f"{h.esc(c.get('path'))} <code>{h.esc(c.get('config_sha256'))}</code>"
            + (f" against {h.esc(benchmarks[label])}" if benchmarks.get(label) else ""),
        )
        for label, c in configs.items()
    ]
    rows.append(("Benchmarks", h.esc(_benchmark_note(benchmarks))))
    rows.append(("Folder", h.esc(folder.path.resolve().name)))
    title = f"Comparison of {len(configs) or len(benchmarks)} configs"
    header = f"<header><h1>{title}</h1>{h.meta(rows)}</header>"
    sections = [header, h.nav([(a, t) for a, t, _ in parts])]
    sections += [h.section(a, t, body) for a, t, body in parts]
    return h.page("comparison tearsheet", sections)


def benchmark_columns(payload: dict) -> dict[str, str]:
    """Config column -> its benchmark's column (comparison.json's `benchmarks`; in older
    folders the one benchmark column, or "" when there are several)."""
    if "benchmarks" in payload:
        return dict(payload["benchmarks"])
    columns = payload["columns"]
    benches = [c for c in columns if c.startswith("benchmark ")]
    only = benches[0] if len(benches) == 1 else ""
    return {c: only for c in columns if c not in benches}


def _benchmark_note(benchmarks: dict[str, str]) -> str:
    used = list(dict.fromkeys(b for b in benchmarks.values() if b))
    if len(used) == 1:
        return f"{used[0]}, the same curve for every config (shown once)"
    return "; ".join(
        f"{b} for {', '.join(c for c, own in benchmarks.items() if own == b)}" for b in used
    )


def run_styles(columns: list[str], benchmarks: dict[str, str]) -> dict[str, dict]:
    """Colour and dash of each run: configs in turn, a benchmark dotted, grey when it is
    the only one, else in the colour of its first config."""
    configs = [c for c in columns if c in benchmarks]
    used = {b for b in benchmarks.values() if b}
    styles = {c: {"color": LINES[i % len(LINES)], "dash": "solid"} for i, c in enumerate(configs)}
    for column in columns:
        if column in styles:
            continue
        owner = next((c for c in configs if benchmarks[c] == column), None)
        color = BENCHMARK if len(used) <= 1 or owner is None else styles[owner]["color"]
        styles[column] = {"color": color, "dash": "dot"}
    return styles


def overlay(frame: pd.DataFrame, title: str, styles: dict, percent=False, log=False):
    """Every column of `frame` as a line on one chart, styled by `run_styles`."""
    import plotly.graph_objects as go

    dates = frame.index.strftime("%Y-%m-%d").to_numpy()
    figure = go.Figure()
    for column in frame.columns:
        style = styles[column]
        width = 2.0 if style["dash"] == "dot" else 1.5
        figure.add_trace(
            line(
                dates,
                frame[column].to_numpy(),
                str(column),
                style["color"],
                line={"dash": style["dash"], "width": width},
                connectgaps=True,  # a run on a weekday calendar beside a daily one
            )
        )
    figure.update_layout(**LAYOUT, title=title, height=480)
    if percent:
        figure.update_yaxes(tickformat=".0%")
    if log:
        figure.update_layout(updatemenus=log_toggle("yaxis"))
    return figure


GROUPED_UP_TO = 4  # runs: up to this many, one chart of grouped bars; more, a panel a year


def yearly_figure(yearly: pd.DataFrame, styles: dict):
    """Calendar-year returns of every run: grouped bars for a few runs; for more, one
    panel per year with a horizontal bar per run (configs top down, benchmarks hatched),
    every value printed beside its bar, one shared scale."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    title = "Calendar-year returns (first and last years partial)"
    runs = [str(c) for c in yearly.columns]
    years = [str(y) for y in yearly.index]
    hatch = {r: "/" if styles[r]["dash"] == "dot" else "" for r in runs}
    if len(runs) <= GROUPED_UP_TO:
        figure = go.Figure()
        for run in runs:
            figure.add_trace(
                go.Bar(
                    x=years,
                    y=yearly[run].to_numpy(dtype=float),
                    name=run,
                    marker={"color": styles[run]["color"], "pattern": {"shape": hatch[run]}},
                    text=[f"{v:.1%}" for v in yearly[run]],
                    textposition="outside",
                )
            )
        figure.update_layout(
            **{**LAYOUT, "hovermode": "x"},
            title=title,
            height=420,
            yaxis={"tickformat": ".0%"},
            barmode="group",
        )
        return figure
    cols = min(4, len(years))
    rows = -(-len(years) // cols)
    panel = 30 * len(runs) + 40
    figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=years,
        shared_xaxes="all",
        shared_yaxes=True,
        horizontal_spacing=0.02,
        vertical_spacing=min(0.12, 60 / (rows * panel)),
    )
    names = [_wrap(r, 28) for r in runs]  # the first column's labels name every bar
    for k, year in enumerate(yearly.index):
        row, col = divmod(k, cols)
        returns = yearly.loc[year].to_numpy(dtype=float)
        for run, name, value in zip(runs, names, returns, strict=True):
            figure.add_trace(
                go.Bar(
                    x=[value],
                    y=[name],
                    orientation="h",
                    name=run,
                    showlegend=False,
                    marker={"color": styles[run]["color"], "pattern": {"shape": hatch[run]}},
                    text=[f"{value:.1%}"],
                    textposition="outside",
                    cliponaxis=False,
                    hovertemplate=f"{h.esc(run)} {year}: %{{x:.2%}}<extra></extra>",
                ),
                row=row + 1,
                col=col + 1,
            )
    low, high = np.nanmin(yearly.to_numpy()), np.nanmax(yearly.to_numpy())
    pad = 0.3 * max(high - low, 0.01)  # room for the printed values
    figure.update_xaxes(
        tickformat=".0%", range=[min(low, 0) - pad, max(high, 0) + pad], zeroline=True
    )
    figure.update_yaxes(
        autorange="reversed", categoryorder="array", categoryarray=names, ticksuffix="  "
    )
    figure.update_layout(
        **{**LAYOUT, "hovermode": "closest"},
        title=title + ": one panel a year, benchmarks hatched",
        height=rows * panel + 150,
        bargap=0.15,
        uniformtext={"minsize": 9, "mode": "show"},
    )
    return figure


def _wrap(name: str, width: int) -> str:
    """A run's name in lines (plotly's <br>) of at most `width`, broken after - _ or space."""
    from engine.report import wrap_name

    return "<br>".join(h.esc(x) for x in wrap_name(name, width).split("\n"))


def _comparison_table(payload: dict, benchmarks: dict[str, str]) -> str:
    columns, statistics = payload["columns"], payload["statistics"]
    keys = [k for k in METRICS if any(k in statistics[c] for c in columns)]
    against = "".join(
        f"<td>{h.esc(benchmarks.get(c) or '')}</td>" if c in benchmarks else "<td>benchmark</td>"
        for c in columns
    )
    rows = [f"<tr><td>Measured against</td>{against}</tr>"]
    for key in keys:
        label, kind = METRICS[key].label, METRICS[key].format
        cells = "".join(h.cell(statistics[c].get(key), kind, f"{c}|{key}") for c in columns)
        rows.append(f"<tr><td>{h.esc(label)}</td>{cells}</tr>")
    return h.table(["Statistic", *columns], rows, "comparison")


def _time_in_regime(payload: dict) -> str:
    rows = [
        f"<tr><td>{h.esc(label)}</td><td>{h.esc(regime)}</td>"
        + h.cell(share, "pct", f"{label}|time_in_regime|{regime}")
        + "</tr>"
        for label, shares in payload.get("time_in_regime", {}).items()
        for regime, share in shares.items()
    ]
    return h.table(["Config", "Regime", "Share of dates"], rows, "time-in-regime")


def _kind(metric: str) -> str:
    return metric_info(metric).format


def _combinations(summary: dict, manifest: dict) -> str:
    """'2,000' and, when the manifest recorded it, 'in 1.42 s'."""
    total = (manifest.get("timing") or {}).get("total") or summary.get("seconds")
    return f"{summary['combinations']:,}" + (f" in {total:.2f} s" if total else "")


def sweep_page(folder: data.SweepFolder) -> str:
    """A sweep's page: each scenario's best against the benchmark (equity curves), the
    heatmap (colours centred on the benchmark), the top combinations per scenario, the
    metric's distribution with the benchmark marked, and the sensitivity."""
    summary = folder.summary
    axes, metric = list(summary["axes"]), summary["metric"]
    label = metric_info(metric).label
    blocks = _blocks(summary)
    parts = []
    curves = _best_curves(folder)
    if curves is not None:
        parts.append(("best", "Best against the benchmark", curves))
    bench, best = _benchmark_span(blocks), blocks[0]["top"][0][metric]
    parts += [
        ("heatmap", "Heatmap", _sweep_map(folder.heatmap, summary, axes, metric, label)),
        ("top", "Top combinations", _top_table(folder.ranked(), summary, axes)),
        ("distribution", "Distribution", _distribution(folder.histogram, best, bench, label)),
        ("sensitivity", "Sensitivity", _sensitivity(summary, metric)),
    ]
    span = summary["range"]
    rows = [
        ("Range", h.esc(f"{span['start']} → {span['end']} ({span['days']:,} trading days)")),
        ("Combinations", h.esc(_combinations(summary, folder.manifest))),
        (
            "Ranked by",
            h.esc(f"{metric} ({'lower' if summary['lower_is_better'] else 'higher'} is better)"),
        ),
        (
            "Axes",
            "<br>".join(
                h.esc(f"{a}: {', '.join(map(str, v))}") for a, v in summary["axes"].items()
            ),
        ),
    ]
    if summary.get("scenario_axes"):
        rows.append(
            (
                "Scenarios",
                h.esc(
                    f"{', '.join(summary['scenario_axes'])}: not chosen; every result is "
                    "taken within each scenario"
                ),
            )
        )
    rows += [
        ("Config sha256", f"<code>{h.esc(folder.manifest.get('config_sha256', 'n/a'))}</code>"),
        ("Folder", h.esc(folder.path.resolve().name)),
    ]
    notes = "".join(f'<p class="note">{h.esc(n)}</p>' for n in summary.get("notes", []))
    header = f"<header><h1>Sweep: {h.esc(summary['name'])}</h1>{h.meta(rows)}{notes}</header>"
    sections = [header, h.nav([(a, t) for a, t, _ in parts])]
    sections += [h.section(a, t, body) for a, t, body in parts]
    return h.page(f"{summary['name']} sweep tearsheet", sections)


def _blocks(summary: dict) -> list[dict]:
    """The scenario blocks (a folder written before scenarios: one block of the whole grid)."""
    return summary.get("scenarios") or [{"label": "", "top": summary["top"]}]


def _best_curves(folder: data.SweepFolder) -> str | None:
    """Each scenario's best combination and its benchmark (best_values.csv), log scale."""
    frame = folder.best_values
    if frame is None:
        return None
    import plotly.graph_objects as go

    figure = go.Figure()
    labels = list(dict.fromkeys(frame["scenario"]))
    for i, scenario in enumerate(labels):
        part = frame[frame["scenario"] == scenario]
        name = f"best, {scenario}" if scenario else "best"
        bench = f"benchmark, {scenario}" if scenario else "benchmark"
        color = LINES[i % len(LINES)]
        dates = part["date"].to_numpy()
        figure.add_trace(line(dates, part["strategy"].to_numpy(), name, color))
        figure.add_trace(
            line(
                dates,
                part["benchmark"].to_numpy(),
                bench,
                BENCHMARK if len(labels) == 1 else color,
                line={"dash": "dot"},
            )
        )
    title = "The best combination against holding the benchmark"
    if len(labels) > 1:
        title = "The best combination of each scenario against its benchmark (dotted)"
    figure.update_layout(**LAYOUT, title=title, height=460, updatemenus=log_toggle("yaxis"))
    return h.chart(figure, "best")


def _benchmark_span(blocks: list[dict]) -> tuple[float, float] | None:
    """(lowest, highest) benchmark value of the ranking metric over every scenario
    (summary's beats_benchmark), None when the benchmark has no value of it."""
    spans = [(block.get("beats_benchmark") or {}).get("benchmark_metric") or {} for block in blocks]
    lows = [s["min"] for s in spans if s.get("min") is not None]
    highs = [s["max"] for s in spans if s.get("max") is not None]
    return (min(lows), max(highs)) if lows and highs else None


def _distribution(bins: pd.DataFrame, best: float, bench, label: str) -> str:
    return h.chart(distribution_figure(bins, best, bench, label), "histogram")


def distribution_figure(bins: pd.DataFrame, best: float, bench, label: str):
    """The metric over every combination (histogram.csv's bins), the best dashed and the
    benchmark's value (`bench`: its lowest and highest over the combinations, a band when
    the costs make it differ) marked, inside the x range even when every combination
    lies on one side of it."""
    figure = plots.histogram_figure(bins, label, best)
    note = "no benchmark value"
    if bench is not None and all(np.isfinite(bench)):
        low, high = bench
        if high - low > 1e-12 * max(1.0, abs(high)):
            figure.add_vrect(x0=low, x1=high, fillcolor=BENCHMARK, opacity=0.25, line_width=0)
            note = f"grey band: the benchmark, {low:.3f} to {high:.3f} with the costs"
        else:
            figure.add_vline(x=low, line_color=BENCHMARK, line_width=2)
            note = f"grey line: the benchmark, {low:.3f}"
        if len(bins):
            shown = np.array([bins["low"].min(), bins["high"].max()], dtype=float)
            if low < shown.min() or high > shown.max():
                figure.update_xaxes(range=_span_with(shown, low, high))
    figure.update_layout(title=f"{label} over every combination (dashed: the best; {note})")
    return figure


def _span_with(values: np.ndarray, low: float, high: float) -> list[float]:
    """An x range holding every value and the benchmark's [low, high], 5% spare each side
    (the bars' own range when the benchmark lies outside it would hide its line)."""
    left, right = min(values.min(), low), max(values.max(), high)
    spare = 0.05 * (right - left or max(abs(right), 1.0))
    return [left - spare, right + spare]


def _sweep_map(cells: pd.DataFrame, summary: dict, axes: list, metric: str, label: str) -> str:
    """The heatmap over the axes the sweep chose (summary 'heatmap'), else the first two;
    its colours centred on the benchmark (plots.sweep_heatmap)."""
    pair = summary.get("heatmap") or axes[:2]
    if len(axes) >= 2:
        figure = plots.sweep_heatmap(cells, {**summary, "heatmap": pair})
        figure.update_layout(height=520)
        return h.chart(figure, "heatmap")
    x, y = cells["x"].to_numpy(), cells["metric"].to_numpy(dtype=float)
    return h.chart(plots.axis_figure(x, y, axes[0], label), "heatmap")


def _top_table(table: pd.DataFrame, summary: dict, axes: list) -> str:
    """One table of the best combinations per scenario, each beside its benchmark; the
    parameters by their short names (the header's Axes gives the full ones), so the table
    fits a 1400-pixel window. `table`: the rows ranked by the summary's metric, by grid
    row (top.parquet)."""
    from engine.research.sweep_config import short_names

    metric = summary["metric"]
    short = short_names(axes)
    axes = [a for a in axes if a not in summary.get("scenario_axes", [])]  # fixed per table
    shown = list(dict.fromkeys([metric, "cagr", "sharpe", "max_drawdown", "trade_dates"]))
    bench = [c for c in (f"benchmark_{metric}", "benchmark_cagr") if c in table]
    bench = list(dict.fromkeys(bench))
    names = [metric_info(c).label for c in shown]
    headers = ["#", *(short[a] for a in axes), *names]
    headers += [f"Benchmark {metric_info(c[10:]).label}" for c in bench]
    headers += ["Neighbour mean", "Neighbour min"]
    out = []
    for k, block in enumerate(_blocks(summary)):
        rows = []
        for rank, top in enumerate(block["top"], start=1):
            row = table.loc[top["row"]]
            cells = [f'<td class="num">{rank}</td>']
            cells += [f'<td class="num">{h.esc(shown_value(top[a]))}</td>' for a in axes]
            cells += [
                h.cell(row[c], _kind(c.removeprefix("benchmark_")), f"top|{top['row']}|{c}")
                for c in shown + bench
            ]
            cells += [
                h.cell(top[c], _kind(metric), f"top|{top['row']}|{c}")
                for c in ("neighbour_mean", "neighbour_min")
            ]
            rows.append("<tr>" + "".join(cells) + "</tr>")
        if block["label"]:
            out.append(f"<h3>{h.esc(block['label'])}</h3>")
        counts = block.get("beats_benchmark")
        if counts:
            from engine.research.sweep_summary import beats_note

            out.append(f'<p class="note">{h.esc(beats_note(counts))}.</p>')
        out.append(h.table(headers, rows, f"top-{k + 1}", wide=True))
    return "".join(out)


def _sensitivity(summary: dict, metric: str) -> str:
    rows = [
        f"<tr><td>{h.esc(axis)}</td>" + h.cell(value, _kind(metric)) + "</tr>"
        for axis, value in summary.get("sensitivity", {}).items()
    ]
    within = " within the first scenario" if summary.get("scenario_axes") else ""
    note = (
        f'<p class="note">Median absolute change of {h.esc(metric)} for one step along each '
        f"axis (the others held){within}.</p>"
    )
    return note + h.table(["Axis", f"median |Δ {metric}|"], rows, "sensitivity")
