"""The figures of a run's and a comparison's tearsheet, from series already read or
derived (engine.report.tearsheet_data); long lines are thinned by engine.report.plots.line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.report.plots import (
    BENCHMARK,
    CASH,
    FILLS,
    LAYOUT,
    LINES,
    STRATEGY,
    legend_patch,
    line,
    log_toggle,
    sampled_points,
    shade,
    spans,
)


def equity_figure(dates, values: pd.DataFrame, drawdown: pd.DataFrame, labels: dict, regimes):
    """Equity (top, log toggle) and drawdown (bottom) of strategy and benchmark, the
    decided regime shaded behind both. `regimes`: (runs, {regime: colour}, default
    regime's name); regimes without a colour (the default) stay unshaded."""
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.04
    )
    colors = {"strategy": STRATEGY, "benchmark": BENCHMARK}
    for column in values.columns:
        trace = dict(name=labels[column], color=colors[column], legendgroup=column)
        figure.add_trace(line(dates, values[column].to_numpy(), **trace), row=1, col=1)
        fill = "tozeroy" if column == "strategy" else None
        figure.add_trace(
            line(dates, drawdown[column].to_numpy(), **trace, showlegend=False, fill=fill),
            row=2,
            col=1,
        )
    runs, fills, default = regimes
    for name, color in fills.items():
        figure.add_trace(legend_patch(f"regime: {name}", color, "regimes"), row=1, col=1)
    for row in (1, 2):
        shade(figure, runs, fills, row=row)
    title = "Equity and drawdown"
    if fills:
        title += f" (shaded: the regime decided at each close; unshaded: {default})"
    figure.update_layout(**LAYOUT, height=620, updatemenus=log_toggle("yaxis"), title=title)
    figure.update_yaxes(title_text="value", row=1, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    return figure


def signal_figure(title: str, frame: pd.DataFrame, names: dict):
    """One signal on its own calendar: the value its rule compares (the series itself, or
    its momentum, RSI, correlation), its bounds, turns on and off marked, on-periods
    shaded. `frame`: date, x, value (absent in older folders: x), upper, lower, on;
    `names`: line names of value, upper and lower (lower None when it is upper's line)."""
    import plotly.graph_objects as go

    dates = frame["date"].to_numpy()
    on = frame["on"].to_numpy(dtype=int)
    value = frame["value" if "value" in frame else "x"].to_numpy()
    figure = go.Figure()
    figure.add_trace(line(dates, value, names.get("value") or "series", "#222222"))
    figure.add_trace(
        line(
            dates,
            frame["upper"].to_numpy(),
            names["upper"],
            LINES[0],
            line={"dash": "dash", "width": 1},
        )
    )
    if names.get("lower"):
        figure.add_trace(
            line(
                dates,
                frame["lower"].to_numpy(),
                names["lower"],
                LINES[1],
                line={"dash": "dot", "width": 1},
            )
        )
    change = np.flatnonzero(np.diff(on)) + 1
    for kind, state, symbol, color in (
        ("on", 1, "triangle-up", "#2ca02c"),
        ("off", 0, "triangle-down", "#d62728"),
    ):
        at = change[on[change] == state]
        figure.add_trace(
            go.Scatter(
                x=dates[at],
                y=value[at],
                mode="markers",
                name=f"turns {kind}",
                marker={"symbol": symbol, "size": 10, "color": color, "line": {"width": 1}},
            )
        )
    figure.add_trace(legend_patch("on", FILLS[0], "on"))
    shade(figure, spans(list(dates), on), {1: FILLS[0]})
    figure.update_layout(**LAYOUT, height=380, title=title, updatemenus=log_toggle("yaxis"))
    if len(dates):
        figure.update_xaxes(range=[dates[0], dates[-1]])
    return figure


def weights_figure(dates, held: pd.DataFrame, targets: pd.DataFrame):
    """Each asset's held weight at the close (solid) and traded target (dashed steps,
    the same colour); cash held in grey."""
    import plotly.graph_objects as go

    figure = go.Figure()
    colors = {c: LINES[i % len(LINES)] for i, c in enumerate(targets.columns)}
    for column in held.columns:
        color = colors.get(column, "#999999")
        figure.add_trace(
            line(dates, held[column].to_numpy(), f"{column} held", color, legendgroup=column)
        )
    for column in targets.columns:
        steps = targets[column].dropna()
        steps = steps[steps.ne(steps.shift())]
        if steps.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=[*steps.index, dates[-1]],
                y=[*steps.to_numpy(), steps.iloc[-1]],
                name=f"{column} target",
                mode="lines",
                line_shape="hv",
                legendgroup=column,
                line={"color": colors[column], "dash": "dash", "width": 2},
            )
        )
    figure.update_layout(
        **LAYOUT,
        height=380,
        yaxis={"tickformat": ".0%"},
        title="Weights: held at each close (solid), traded targets (dashed)",
    )
    return figure


def exposure_figure(dates, exposure: np.ndarray, scale: np.ndarray, target: str):
    """The volatility target at work: the scale of the target traded to (steps) and the
    exposure held at each close (1 - cash share); `target` names the target in the title."""
    import plotly.graph_objects as go

    figure = go.Figure()
    figure.add_trace(line(dates, exposure, "exposure held (1 - cash)", STRATEGY))
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=scale,
            name="scale of the target",
            mode="lines",
            line_shape="hv",
            line={"color": LINES[1], "dash": "dash", "width": 1.5},
        )
    )
    figure.update_layout(
        **LAYOUT,
        height=320,
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        title=f"Exposure and the volatility target's scale ({target})",
    )
    return figure


def holdings_figure(dates, held: pd.DataFrame, colors: dict, reasons: pd.Series | None = None):
    """Held weights at each close as a stacked area (each asset in universe order, then
    cash on top), one colour per asset; long runs keep a shared sample of dates plus both
    sides of every trade. `reasons` (trade date -> reason): a marker on top of each trade
    date saying why it traded."""
    import plotly.graph_objects as go

    dates = np.asarray(dates)
    trades = np.flatnonzero(np.isin(dates, reasons.index)) if reasons is not None else []
    keep = sampled_points(len(dates), trades)
    figure = go.Figure()
    for column in held.columns:
        figure.add_trace(
            go.Scatter(
                x=dates[keep],
                y=held[column].to_numpy(dtype=np.float32)[keep],  # enough for a chart
                name=column,
                mode="lines",
                stackgroup="held",
                line={"width": 0.5, "color": colors.get(column, CASH)},
                fillcolor=colors.get(column, CASH),
                hovertemplate="%{y:.1%}",
            )
        )
    if reasons is not None and len(reasons):
        figure.add_trace(
            go.Scatter(
                x=reasons.index.to_numpy(dtype=str),
                y=np.full(len(reasons), 1.0),
                name="trade (hover: why)",
                mode="markers",
                marker={"symbol": "triangle-down", "size": 7, "color": "#222222"},
                hovertext=reasons.to_numpy(dtype=str),
                hovertemplate="%{hovertext}",
            )
        )
    figure.update_layout(
        **LAYOUT,
        height=420,
        yaxis={"tickformat": ".0%", "range": [0, 1.04]},
        legend_traceorder="normal",  # universe order (stacked areas default to reversed)
        title="Holdings: weight held at each close (stacked; cash on top)",
    )
    return figure


# Marker symbols by plotly's number (a number array is sent packed, names are not):
SELECTED = 0  # circle: selected while the regime was decided
UNUSED = 100  # circle-open: selected while another regime was decided
FAILED = 4  # x: selected, failed min_score or filter; its slot went to the fallback
SHADES = {"fallback": "#ff7f0e", "inactive": "#7f7f7f"}


def rank_figure(panel, colors: dict, end: str):
    """A ranked regime over its decision dates: each candidate's score (top) with its
    selections marked, and a strip of the slot weights (bottom, the fallback's too);
    shaded where the regime was decided and part of its target went to the fallback,
    and (grey) where another regime was decided. `end`: the last backtest date."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = len(panel.assets) + 1  # the strip's rows: each candidate and the fallback
    scores_px, strip_px = 320, max(60, 16 * rows)
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[scores_px, strip_px],
        vertical_spacing=0.04,
    )
    dates = np.asarray(panel.dates)
    shown = set()  # the marker symbols drawn, for the legend
    for asset in panel.assets:
        color = colors.get(asset, LINES[0])
        score = panel.scores[asset].to_numpy(dtype=float)
        figure.add_trace(line(dates, score, asset, color, legendgroup=asset), row=1, col=1)
        picked = panel.selected[asset].to_numpy()
        symbol = np.where(
            panel.failed[asset].to_numpy(), FAILED, np.where(panel.active, SELECTED, UNUSED)
        )[picked]
        shown.update(symbol.tolist())
        figure.add_trace(
            go.Scatter(
                x=dates[picked],
                y=score[picked],
                name=f"{asset} selected",
                mode="markers",
                legendgroup=asset,
                showlegend=False,
                marker={"symbol": symbol.astype(np.int8), "size": 7, "color": color},
                hovertemplate="selected",
            ),
            row=1,
            col=1,
        )
    strip = panel.weights.copy()
    sink = f"{panel.fallback or 'cash'} (fallback)"
    if (panel.fallback_weight > 0).any():
        strip[sink] = panel.fallback_weight
    z = strip.to_numpy(dtype=float).T
    figure.add_trace(
        go.Heatmap(
            z=np.where(z > 0, z, np.nan).astype(np.float32),
            x=dates,
            y=list(strip.columns),
            name="slot weights",
            colorscale=[[0, "#c6dbef"], [1, "#08306b"]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=0,
            ygap=1,
            hovertemplate="%{y}: %{z:.1%}<extra>slot weight</extra>",
        ),
        row=2,
        col=1,
    )
    for name, symbol in (
        ("selected (regime decided)", SELECTED),
        ("selected (another regime decided)", UNUSED),
        ("selected, failed min_score / filter", FAILED),
    ):
        if symbol not in shown:
            continue
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=name, legendgroup="marks",
                marker={"symbol": symbol, "size": 8, "color": "#444444"},
            ),
            row=1,
            col=1,
        )  # fmt: skip
    runs = panel.runs(end)
    patches = {"fallback": f"part of the target in {sink}", "inactive": "another regime decided"}
    for label, color in SHADES.items():
        if any(run[2] == label for run in runs):
            figure.add_trace(legend_patch(patches[label], color, "shades"), row=1, col=1)
    for row in (1, 2):
        shade(figure, runs, SHADES, row=row)
    figure.update_layout(**LAYOUT, height=scores_px + strip_px + 190, title=panel.title)
    figure.update_yaxes(title_text="score", tickformat=".1%", row=1, col=1)
    figure.update_yaxes(autorange="reversed", dtick=1, tickfont={"size": 10}, row=2, col=1)
    if len(dates):
        figure.update_xaxes(range=[dates[0], max(end, dates[-1])])
    return figure


def rolling_figure(rolling: dict[str, pd.DataFrame], labels: dict, window: int):
    """Rolling statistics (one row each) of strategy and benchmark."""
    from plotly.subplots import make_subplots

    titles = list(rolling)
    figure = make_subplots(
        rows=len(titles), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.07
    )
    colors = {"strategy": STRATEGY, "benchmark": BENCHMARK}
    for row, (title, frame) in enumerate(rolling.items(), start=1):
        for column in frame.columns:
            figure.add_trace(
                line(
                    frame.index.strftime("%Y-%m-%d").to_numpy(),
                    frame[column].to_numpy(),
                    labels[column],
                    colors[column],
                    legendgroup=column,
                    showlegend=row == 1,
                ),
                row=row,
                col=1,
            )
        if "Sharpe" not in title:
            figure.update_yaxes(tickformat=".0%", row=row, col=1)
    figure.update_layout(**LAYOUT, height=640, title=f"Rolling {window}-day statistics")
    return figure


def monthly_figure(table: pd.DataFrame):
    """Heatmap of monthly returns: years (rows) by months (columns), values shown."""
    import plotly.graph_objects as go

    z = table.to_numpy(dtype=float)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(table.columns),
            y=[str(y) for y in table.index],
            zmid=0,
            colorscale="RdYlGn",
            text=[[f"{v:.1%}" if np.isfinite(v) else "" for v in r] for r in z],
            texttemplate="%{text}",
            hovertemplate="%{y} %{x}: %{text}<extra></extra>",
            colorbar={"tickformat": ".0%"},
        )
    )
    figure.update_layout(
        **{**LAYOUT, "hovermode": "closest"},
        title="Monthly returns",
        height=max(260, 60 + 26 * len(table)),
        yaxis={"autorange": "reversed"},
    )
    return figure


def bars_figure(table: pd.DataFrame, labels: dict, title: str):
    """Grouped bars, one group per row of `table`, one bar per column."""
    import plotly.graph_objects as go

    colors = {"strategy": STRATEGY, "benchmark": BENCHMARK}
    figure = go.Figure()
    for i, column in enumerate(table.columns):
        values = table[column].to_numpy(dtype=float)
        figure.add_trace(
            go.Bar(
                x=[str(v) for v in table.index],
                y=values,
                name=labels.get(column, column),
                marker_color=colors.get(column, LINES[i % len(LINES)]),
                text=[f"{v:.1%}" for v in values] if len(table) <= 12 else None,
                textposition="outside",
            )
        )
    figure.update_layout(
        **{**LAYOUT, "hovermode": "x"},
        title=title,
        height=360,
        yaxis={"tickformat": ".0%"},
        barmode="group",
    )
    return figure


def overlay_figure(frame: pd.DataFrame, title: str, percent: bool = False, log: bool = False):
    """Every column of `frame` as a line on one chart (a comparison)."""
    import plotly.graph_objects as go

    dates = frame.index.strftime("%Y-%m-%d").to_numpy()
    figure = go.Figure()
    for i, column in enumerate(frame.columns):
        dash = "dot" if str(column).startswith("benchmark") else "solid"
        figure.add_trace(
            line(
                dates,
                frame[column].to_numpy(),
                str(column),
                LINES[i % len(LINES)],
                line={"dash": dash},
            )
        )
    figure.update_layout(**LAYOUT, title=title, height=460)
    if percent:
        figure.update_yaxes(tickformat=".0%")
    if log:
        figure.update_layout(updatemenus=log_toggle("yaxis"))
    return figure
