"""Plain HTML pieces of a tearsheet: one page, plotly.js inlined once in its head,
every user-supplied text escaped. Numbers are formatted by engine.report.fmt, the
same function the terminal table uses; each statistic's cell names its source in
stats.json (data-key="section.key") so a test can check it against the file."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

import pandas as pd

from engine.metrics import (
    METRICS,
    PERFORMANCE_KEYS,
    RELATIVE_KEYS,
    metric,
    optional_keys,
    second_block,
)
from engine.report import fmt

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #222; background: #f6f7f9; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { margin: 8px 0 4px; } h2 { margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
.description { color: #555; margin: 0 0 12px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 14px; }
.meta dt { color: #666; } .meta dd { margin: 0; }
code { font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #e2e4e8; border-radius: 6px; padding: 8px 14px;
        min-width: 120px; }
.card .label { font-size: 12px; color: #666; }
.card .value { font-size: 22px; font-weight: 600; }
.card .bench { font-size: 12px; color: #666; }
.chart { background: #fff; border: 1px solid #e2e4e8; border-radius: 6px; margin: 12px 0;
         padding: 4px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f0f1f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wide { max-width: 100%; overflow-x: auto; }
.scroll { max-height: 420px; overflow: auto; border: 1px solid #e2e4e8; display: inline-block; }
pre { background: #fff; border: 1px solid #e2e4e8; padding: 10px; font-size: 12px;
      overflow: auto; }
nav a { margin-right: 12px; font-size: 14px; }
.note { color: #666; font-size: 13px; }
"""

HEADLINE = ["total_return", "cagr", "volatility", "sharpe", "max_drawdown", "calmar"]
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, sections: Iterable[str]) -> str:
    """The whole document: plotly.js once in the head, then the sections."""
    from plotly.offline import get_plotlyjs

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n'
        "<body>\n<main>\n" + "\n".join(sections) + "\n</main>\n</body>\n</html>\n"
    )


def chart(figure, div_id: str) -> str:
    """A figure's div and its Plotly.newPlot call (plotly.js is in the page head)."""
    from engine.report.plots import top_title

    top_title(figure)
    body = figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"chart-{div_id}", config=PLOT_CONFIG
    )
    return f'<div class="chart">{body}</div>'


def section(anchor: str, title: str, *parts: str) -> str:
    return (
        f'<section id="{esc(anchor)}">\n<h2>{esc(title)}</h2>\n' + "\n".join(parts) + "\n</section>"
    )


def nav(anchors: Sequence[tuple[str, str]]) -> str:
    return "<nav>" + "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in anchors) + "</nav>"


def meta(rows: Sequence[tuple[str, str]]) -> str:
    """A definition list; values are HTML already (escape them before)."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="meta">{items}</dl>'


def cell(value, kind: str, key: str | None = None) -> str:
    source = f' data-key="{esc(key)}"' if key else ""
    return f'<td class="num"{source}>{esc(fmt(_plain(value), kind))}</td>'


def _plain(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def table(
    headers: Sequence[str], rows: Iterable[str], table_id: str, scroll=False, wide=False
) -> str:
    """rows: already-built <tr> strings; its id is `table-<table_id>` (as a chart's is
    `chart-<id>`), so it never repeats a section's anchor (`bootstrap`, `top`). `scroll`:
    in a box of limited height; `wide`: in a box that scrolls sideways rather than widen
    the page when the window is narrow."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join(rows)
    out = (
        f'<table id="table-{esc(table_id)}">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table>"
    )
    if scroll:
        return f'<div class="scroll">{out}</div>'
    return f'<div class="wide">{out}</div>' if wide else out


def headline_cards(stats: dict, bench_label: str) -> str:
    """Key statistics of the strategy, the benchmark's beneath each (from stats.json)."""
    cards = []
    for key in HEADLINE:
        label, kind = METRICS[key].label, METRICS[key].format
        cards.append(
            f'<div class="card"><div class="label">{esc(label)}</div>'
            f'<div class="value" data-key="strategy.{key}">'
            f"{esc(fmt(stats['strategy'].get(key), kind))}</div>"
            f'<div class="bench">{esc(bench_label)} <span data-key="benchmark.{key}">'
            f"{esc(fmt(stats['benchmark'].get(key), kind))}</span></div></div>"
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def stats_rows(stats: dict) -> list[str]:
    """Every statistic of stats.json as the terminal table shows it (report.fmt)."""
    rows = []
    for key in [*PERFORMANCE_KEYS, *optional_keys(stats["strategy"])]:
        label, kind = metric(key).label, metric(key).format
        rows.append(
            f"<tr><td>{esc(label)}</td>"
            + cell(stats["strategy"].get(key), kind, f"strategy.{key}")
            + cell(stats["benchmark"].get(key), kind, f"benchmark.{key}")
            + "</tr>"
        )
    for key in second_block(stats["strategy"]):
        label, kind = metric(key).label, metric(key).format
        rows.append(
            f"<tr><td>{esc(label)}</td>"
            + cell(stats["strategy"].get(key), kind, f"strategy.{key}")
            + cell(stats["benchmark"].get(key), kind, f"benchmark.{key}")
            + "</tr>"
        )
    for key in RELATIVE_KEYS:
        label, kind = METRICS[key].label, METRICS[key].format
        rows.append(
            f"<tr><td>{esc(label)}</td>"
            + cell(stats["relative"].get(key), kind, f"relative.{key}")
            + "<td></td></tr>"
        )
    for regime, share in stats["strategy"].get("time_in_regime", {}).items():
        rows.append(
            f"<tr><td>Time in {esc(regime)}</td>"
            + cell(share, "pct", f"strategy.time_in_regime.{regime}")
            + "<td></td></tr>"
        )
    return rows


def frame_rows(frame: pd.DataFrame, kinds: dict[str, str]) -> list[str]:
    """<tr>s of a frame; columns in `kinds` are formatted with fmt, others escaped."""
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            if column in kinds:
                cells.append(cell(value, kinds[column]))
            else:
                cells.append(f"<td>{esc(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return rows


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"
