"""The tearsheet of a timing folder (`rotation timing`): the fan of every decision day's
equity curve with the tranche blend drawn over it and the benchmark, the CAGR of each
day as bars (the tranche blend's and the benchmark's as lines across them), and the
table of timing.json. Built from the folder's files alone (engine.report.readback)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.report import fmt, plots
from engine.report import tearsheet_html as h
from engine.report.readback import read_folder

FAN = "rgba(31, 119, 180, 0.22)"  # each decision day's curve: faint, so the fan shows
TRANCHES = "#d62728"


def timing_page(folder) -> str:
    """The page of a timing folder."""
    files = read_folder(folder, "timing")
    payload, manifest = files["timing.json"], files["manifest.json"] or {}
    values = files["values.csv"]
    dates = values["date"].to_numpy(dtype=str)
    name = manifest.get("name") or payload["config"]
    spread = payload["spread"]
    bench = "+".join(manifest.get("benchmark") or {"benchmark": 1})
    rows = [
        ("Config", h.esc(payload["config"])),
        ("Decided", h.esc(f"{payload['decide']}, on each of {len(payload['days'])} days")),
        ("Period", h.esc(f"{dates[0]} → {dates[-1]} ({len(dates):,} trading days)")),
        (
            "CAGR across the days",
            h.esc(
                f"{fmt(spread['cagr_min'], 'pct')} to {fmt(spread['cagr_max'], 'pct')} "
                f"(median {fmt(spread['cagr_median'], 'pct')})"
            ),
        ),
        ("Folder", h.esc(files.path.resolve().name)),
    ]
    header = (
        f"<header><h1>{h.esc(name)}: timing luck</h1>"
        '<p class="description">The same strategy decided on every day of its period, and '
        f"the blend of {payload['tranches']['n']} tranches deciding on spread days.</p>"
        + h.meta(rows)
        + "</header>"
    )
    parts = [
        ("fan", "Equity of every decision day", h.chart(_fan(values, payload, bench), "fan")),
        ("cagr", "CAGR of each decision day", h.chart(_bars(payload, bench), "cagr")),
        ("table", "Every day", _table(payload, bench)),
    ]
    sections = [header, h.nav([(a, t) for a, t, _ in parts])]
    sections += [h.section(anchor, title, body) for anchor, title, body in parts]
    return h.page(f"{name} timing", sections)


def _fan(values: pd.DataFrame, payload: dict, bench: str):
    import plotly.graph_objects as go

    dates = values["date"].to_numpy(dtype=str)
    keep = plots.sampled_points(len(dates))
    figure = go.Figure()
    for k, day in enumerate(d["decide_day"] for d in payload["days"]):
        figure.add_trace(
            go.Scatter(
                x=dates[keep],
                y=values[str(day)].to_numpy(dtype=float)[keep],
                name="each decision day" if k == 0 else f"day {day}",
                legendgroup="days",
                showlegend=k == 0,
                mode="lines",
                line={"width": 1, "color": FAN},
                hovertemplate=f"day {day}: %{{y:,.0f}}<extra></extra>",
            )
        )
    n = payload["tranches"]["n"]
    for column, label, color, width, dash in (
        ("tranches", f"{n} tranches", TRANCHES, 2.5, "solid"),
        ("benchmark", f"benchmark {bench}", plots.BENCHMARK, 1.5, "dot"),
    ):
        figure.add_trace(
            plots.line(
                dates, values[column].to_numpy(dtype=float), label, color,
                line={"width": width, "dash": dash},
            )
        )  # fmt: skip
    figure.update_layout(
        **{**plots.LAYOUT, "hovermode": "closest"},
        height=520,
        title=f"Every decision day's equity (faint), the {n} tranches over them",
        updatemenus=plots.log_toggle("yaxis"),
    )
    return figure


def _bars(payload: dict, bench: str):
    import plotly.graph_objects as go

    days = [str(d["decide_day"]) for d in payload["days"]]
    cagr = np.array([np.nan if d["cagr"] is None else d["cagr"] for d in payload["days"]])
    figure = go.Figure(
        go.Bar(x=days, y=cagr, name="CAGR of the day", marker_color=plots.STRATEGY,
               hovertemplate="day %{x}: %{y:.2%}<extra></extra>")
    )  # fmt: skip
    n = payload["tranches"]["n"]
    for value, label, color in (
        (payload["tranches"]["cagr"], f"{n} tranches", TRANCHES),
        (payload["benchmark"]["cagr"], f"benchmark {bench}", plots.BENCHMARK),
    ):
        if value is not None:
            figure.add_hline(y=value, line={"color": color, "dash": "dash"})
            figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label,
                                        line={"color": color, "dash": "dash"}))  # fmt: skip
    figure.update_layout(
        **{**plots.LAYOUT, "hovermode": "closest"},
        height=380,
        title="CAGR of each decision day (1 = first date of the period, -1 = the last)",
        xaxis={"type": "category", "title": "decide_day"},
        yaxis={"tickformat": ".1%"},
    )
    return figure


def _table(payload: dict, bench: str) -> str:
    kinds = (("cagr", "pct"), ("sharpe", "num"), ("max_drawdown", "pct"))
    rows = []
    for i, day in enumerate(payload["days"]):
        cells = "".join(h.cell(day[k], kind, f"days.{i}.{k}") for k, kind in kinds)
        trades = h.cell(day["trade_dates"], "int", f"days.{i}.trade_dates")
        rows.append(f"<tr><td>{day['decide_day']}</td>{cells}{trades}</tr>")
    for label, key in ((f"{payload['tranches']['n']} tranches", "tranches"), (bench, "benchmark")):
        cells = "".join(h.cell(payload[key][k], kind, f"{key}.{k}") for k, kind in kinds)
        rows.append(f"<tr><td>{h.esc(label)}</td>{cells}<td></td></tr>")
    headers = ["decide_day", "CAGR", "Sharpe", "Max drawdown", "Trade dates"]
    return h.table(headers, rows, "timing", scroll=True)
