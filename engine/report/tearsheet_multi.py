"""Tearsheets of a comparison folder (equity curves overlaid, the comparison table,
drawdowns) and of a sweep folder (heatmap, top combinations, sensitivity)."""

from __future__ import annotations

import pandas as pd

from engine.metrics import METRICS
from engine.metrics import metric as metric_info
from engine.report import plots
from engine.report import tearsheet_data as data
from engine.report import tearsheet_figures as figures
from engine.report import tearsheet_html as h


def comparison_page(folder: data.ComparisonFolder) -> str:
    payload = folder.comparison
    columns = payload["columns"]
    values = folder.values[columns]
    recorded = payload.get("initial_cash", {})
    cash = [recorded.get(c) or data.implied_initial_cash(payload["statistics"][c]) for c in columns]
    drawdown = data.drawdowns(values, cash)
    yearly = data.period_returns(values, cash, "year")
    parts = [
        (
            "equity",
            "Equity curves",
            h.chart(figures.overlay_figure(values, "Equity curves", log=True), "equity"),
        ),
        (
            "drawdowns",
            "Drawdowns",
            h.chart(figures.overlay_figure(drawdown, "Drawdowns", percent=True), "drawdowns"),
        ),
        (
            "yearly",
            "Calendar-year returns",
            h.chart(figures.bars_figure(yearly, {}, "Calendar-year returns"), "yearly"),
        ),
        ("statistics", "Comparison table", _comparison_table(payload)),
        ("regimes", "Time in regime", _time_in_regime(payload)),
    ]
    span = payload["range"]
    configs = folder.manifest.get("configs", {})
    rows = [
        ("Common range", h.esc(f"{span['start']} → {span['end']} ({len(values):,} trading days)"))
    ]
    rows += [
        (label, f"{h.esc(c.get('path'))} <code>{h.esc(c.get('config_sha256'))}</code>")
        for label, c in configs.items()
    ]
    rows.append(("Folder", h.esc(folder.path.resolve())))
    title = f"Comparison of {len(configs) or len(columns)} configs"
    header = f"<header><h1>{title}</h1>{h.meta(rows)}</header>"
    sections = [header, h.nav([(a, t) for a, t, _ in parts])]
    sections += [h.section(a, t, body) for a, t, body in parts]
    return h.page("comparison tearsheet", sections)


def _comparison_table(payload: dict) -> str:
    columns, statistics = payload["columns"], payload["statistics"]
    keys = [k for k in METRICS if any(k in statistics[c] for c in columns)]
    rows = []
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


def sweep_page(folder: data.SweepFolder) -> str:
    summary, table = folder.summary, folder.results
    axes, metric = list(summary["axes"]), summary["metric"]
    label = metric_info(metric).label
    best = summary["top"][0][metric]
    parts = [
        ("heatmap", "Heatmap", _sweep_map(table, summary, axes, metric, label)),
        ("top", "Top combinations", _top_table(table, summary, axes)),
        (
            "distribution",
            "Distribution",
            h.chart(
                plots.histogram_figure(table[metric].to_numpy(dtype=float), label, best),
                "histogram",
            ),
        ),
        ("sensitivity", "Sensitivity", _sensitivity(summary, metric)),
    ]
    span = summary["range"]
    rows = [
        ("Range", h.esc(f"{span['start']} → {span['end']} ({span['days']:,} trading days)")),
        ("Combinations", h.esc(f"{summary['combinations']:,} in {summary['seconds']:.2f} s")),
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
        ("Config sha256", f"<code>{h.esc(folder.manifest.get('config_sha256', 'n/a'))}</code>"),
        ("Folder", h.esc(folder.path.resolve())),
    ]
    notes = "".join(f'<p class="note">{h.esc(n)}</p>' for n in summary.get("notes", []))
    header = f"<header><h1>Sweep: {h.esc(summary['name'])}</h1>{h.meta(rows)}{notes}</header>"
    sections = [header, h.nav([(a, t) for a, t, _ in parts])]
    sections += [h.section(a, t, body) for a, t, body in parts]
    return h.page(f"{summary['name']} sweep tearsheet", sections)


def _sweep_map(table: pd.DataFrame, summary: dict, axes: list, metric: str, label: str) -> str:
    """The heatmap over the axes the sweep chose (summary 'heatmap'), else the first two."""
    pair = summary.get("heatmap") or axes[:2]
    if len(axes) >= 2:
        figure = plots.heatmap_figure(table, pair[0], pair[1], metric, label, axes)
        figure.update_layout(height=520)
        return h.chart(figure, "heatmap")
    by_axis = table.groupby(axes[0])[metric].mean()
    return h.chart(plots.axis_figure(by_axis.index, by_axis.to_numpy(), axes[0], label), "heatmap")


def _top_table(table: pd.DataFrame, summary: dict, axes: list) -> str:
    metric = summary["metric"]
    shown = list(dict.fromkeys([metric, "cagr", "sharpe", "max_drawdown", "trade_dates"]))
    rows = []
    for rank, top in enumerate(summary["top"], start=1):
        row = table.loc[top["row"]]
        cells = [f'<td class="num">{rank}</td>']
        cells += [f'<td class="num">{h.esc(f"{top[a]:g}")}</td>' for a in axes]
        cells += [h.cell(row[c], _kind(c), f"top|{top['row']}|{c}") for c in shown]
        cells += [
            h.cell(top[c], _kind(metric), f"top|{top['row']}|{c}")
            for c in ("neighbour_mean", "neighbour_min")
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    names = [metric_info(c).label for c in shown]
    headers = ["#", *axes, *names, "Neighbour mean", "Neighbour min"]
    return h.table(headers, rows, "top")


def _sensitivity(summary: dict, metric: str) -> str:
    rows = [
        f"<tr><td>{h.esc(axis)}</td>" + h.cell(value, _kind(metric)) + "</tr>"
        for axis, value in summary.get("sensitivity", {}).items()
    ]
    note = (
        f'<p class="note">Median absolute change of {h.esc(metric)} for one step along each '
        "axis (the others held).</p>"
    )
    return note + h.table(["Axis", f"median |Δ {metric}|"], rows, "sensitivity")
