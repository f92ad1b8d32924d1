"""Charts (plotly), kept apart from the numbers: figures are built from results
already computed, never recomputing a statistic."""

from __future__ import annotations

import pandas as pd


def heatmap_figure(table: pd.DataFrame, x: str, y: str, metric: str, label: str, params: list[str]):
    """Heatmap of `metric` over swept parameters `x` and `y` (mean over the other `params`)."""
    import plotly.graph_objects as go

    pivot = table.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
    note = " (mean over the other parameters)" if len(params) > 2 else ""
    figure = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=[str(v) for v in pivot.columns],
            y=[str(v) for v in pivot.index],
            colorscale="RdYlGn",
            colorbar={"title": label},
            hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{label}=%{{z:.4f}}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{label} by {x} and {y}{note}",
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
    )
    return figure


def write_html(figure, path) -> None:
    """A self-contained page: plotly.js inlined so it opens offline."""
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)
