"""The tearsheet's panels of external series (docs/series.md), from a run folder's
series.csv and regimes.csv: each series by its own dates and as it was known (a step
at each release), release dates marked, and below it the signals that read it, on or
off as usable at each close."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.report import tearsheet_html as h
from engine.report.plots import LAYOUT, LINES, line

MARKED_RELEASES = 600  # more releases than this (a daily series) are drawn as the step alone


def readers(config: dict, name: str) -> list[str]:
    """The signals of `config` whose series (alone or as a leg of a ratio) or `other` is
    the external series `name`, in config order."""
    out = []
    for signal, spec in (config.get("signals") or {}).items():
        legs = str(spec.get("series", "")).split("/") + [str(spec.get("other", ""))]
        if name in legs:
            out.append(signal)
    return out


def series_figure(name: str, values: pd.DataFrame, states: pd.DataFrame, end: str):
    """Top: the series by its own dates (dots) and as known (a step from each release to
    the next, markers at the releases); bottom: each signal reading it, 1 while on as
    usable at each close (stacked). `values`: date, released, value; `states`: the
    aligned 0/1 columns of those signals, indexed by date."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06
    )
    value = values["value"].to_numpy(dtype=float)
    dated = go.Scatter(
        x=values["date"],
        y=value,
        name=f"{name} by its date",
        mode="markers",
        marker={"size": 4, "color": "#999999"},
    )
    figure.add_trace(dated, row=1, col=1)
    known_x = [*values["released"], end] if len(values) else []
    known_y = [*value, value[-1]] if len(values) else []
    figure.add_trace(
        line(known_x, np.asarray(known_y), f"{name} as known", LINES[0], line_shape="hv"),
        row=1,
        col=1,
    )
    if 0 < len(values) <= MARKED_RELEASES:
        released = go.Scatter(
            x=values["released"],
            y=value,
            name="released (16:00 New York)",
            mode="markers",
            marker={"symbol": "line-ns-open", "size": 10, "color": LINES[1]},
        )
        figure.add_trace(released, row=1, col=1)
    for i, signal in enumerate(states.columns):
        on = states[signal].to_numpy(dtype=float) * 0.8 + 1.2 * i
        color = LINES[(i + 2) % len(LINES)]
        step = line(states.index, on, f"{signal} on", color, line_shape="hv")
        figure.add_trace(step, row=2, col=1)
    figure.update_yaxes(title_text=name, row=1, col=1)
    figure.update_yaxes(showticklabels=False, title_text="signals", row=2, col=1)
    title = f"{name}: each value as known from its release"
    figure.update_layout(**LAYOUT, height=480, title=title)
    return figure


def series_section(run) -> str:
    """The 'External series' section of a run's tearsheet (`run`: a RunFolder with
    series.csv)."""
    parts = [
        '<p class="note">Each external series by the dates of its values (grey dots) and as '
        "known at each close: a step from each release (the value's date + lag_days, at "
        "16:00 New York; marked) to the next. Below, the signals that read it, on or off "
        "as usable at each close.</p>"
    ]
    end = run.dates[-1]
    for i, (name, values) in enumerate(run.series.groupby("series", sort=False)):
        reading = [s for s in readers(run.config, name) if s in run.regimes.columns]
        states = run.regimes[reading]
        states.index = states.index.strftime("%Y-%m-%d")
        figure = series_figure(name, values.reset_index(drop=True), states, end)
        parts.append(h.chart(figure, f"series-{i}"))
    return "\n".join(parts)
