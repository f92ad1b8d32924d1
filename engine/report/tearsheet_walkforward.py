"""The tearsheet of a walk-forward folder (`rotation sweep --walk-forward ... --tearsheet`):
the in- and out-of-sample table beside the benchmark's, the stitched out-of-sample curve
and its drawdown against the benchmark with the windows marked, the parameters chosen in
each window, and each window's metric in and out of sample.

Built only from the folder's files (walkforward.json, oos_values.csv, manifest.json):
every number in the tables is walkforward.json's, formatted by engine.report.fmt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.metrics import metric as metric_info
from engine.report import tearsheet_data as data
from engine.report import tearsheet_html as h
from engine.report.plots import BENCHMARK, FILLS, LAYOUT, LINES, STRATEGY, line, log_toggle
from engine.report.readback import read_folder

PARTS = {  # walkforward.json section -> column heading
    "in_sample": "In sample (mean of windows)",
    "out_of_sample": "Out of sample (stitched)",
    "benchmark_in_sample": "Benchmark in sample",
    "benchmark_out_of_sample": "Benchmark out of sample",
}
WINDOW_KEYS = ("window", "train_start", "train_end", "test_start", "test_end", "train_days")


@dataclass(frozen=True)
class Scenario:
    """One scenario's statistics (walkforward.json's block), windows and stitched values."""

    label: str
    block: dict
    windows: list[dict]
    values: pd.DataFrame


@dataclass(frozen=True)
class WalkForwardFolder:
    path: Path
    summary: dict  # walkforward.json without per_window
    windows: list[dict]  # walkforward.json's per_window
    manifest: dict
    values: pd.DataFrame  # stitched: strategy, benchmark, window (dated)

    @property
    def name(self) -> str:
        return self.manifest.get("name") or Path(self.manifest.get("sweep_path", "sweep")).stem

    @property
    def axes(self) -> list[str]:
        """The swept parameters: the manifest's, else the per-window keys between the
        ranges and the statistics."""
        if self.manifest.get("axes"):
            return list(self.manifest["axes"])
        keys = list(self.windows[0]) if self.windows else []
        skip = {*WINDOW_KEYS, "test_days", "scenario"}
        return [k for k in keys if k not in skip and not k.startswith(("is_", "oos_"))]

    @property
    def benchmark(self) -> str:
        from engine.report.tearsheet_run import benchmark_label

        weights = self.manifest.get("benchmark")
        return f"benchmark ({benchmark_label(weights)})" if weights else "benchmark"

    @property
    def scenario_axes(self) -> list[str]:
        return list(self.summary.get("scenario_axes", []))

    @property
    def chosen_axes(self) -> list[str]:
        """The swept parameters chosen in each window (scenario axes are given, not chosen)."""
        return [a for a in self.axes if a not in self.scenario_axes]

    def scenarios(self) -> list[Scenario]:
        """One per scenario (costs and the like, never chosen); a single unnamed one for a
        walk-forward without scenario axes."""
        if not self.summary.get("scenarios"):
            return [Scenario("", self.summary, self.windows, self.values)]
        out = []
        for block in self.summary["scenarios"]:
            label = block["label"]
            windows = [w for w in self.windows if w.get("scenario") == label]
            values = self.values[self.values["scenario"] == label]
            out.append(Scenario(label, block, windows, values))
        return out

    @property
    def initial_cash(self) -> float:
        """The config's initial cash (older folders: the stitched curve's first value)."""
        cash = self.manifest.get("initial_cash")
        return float(cash) if cash else float(self.values["strategy"].iloc[0])


def read_walkforward(folder: Path) -> WalkForwardFolder:
    """A walk-forward folder, its files read and checked by engine.report.readback."""
    files = read_folder(folder, "walk-forward")
    payload = files["walkforward.json"]
    return WalkForwardFolder(
        path=files.path,
        summary={k: v for k, v in payload.items() if k != "per_window"},
        windows=payload["per_window"],
        manifest=files["manifest.json"] or {},
        values=data._dated(files["oos_values.csv"]),
    )


def walkforward_page(folder: WalkForwardFolder) -> str:
    metric = folder.summary["metric"]
    parts = [
        ("summary", "In and out of sample", _summary_table(folder)),
        ("stitched", "Stitched out-of-sample curve", _stitched(folder)),
        ("chosen", "Parameters chosen per window", _chosen(folder)),
        ("windows", f"{metric_info(metric).label} per window", _per_window(folder)),
        ("provenance", "Provenance", _provenance(folder)),
    ]
    sections = [_header(folder), h.nav([(a, t) for a, t, _ in parts])]
    sections += [h.section(anchor, title, body) for anchor, title, body in parts]
    return h.page(f"{folder.name} walk-forward tearsheet", sections)


def _header(folder: WalkForwardFolder) -> str:
    s = folder.summary
    span = s["out_of_sample_range"]
    rows = [
        ("Walk-forward", h.esc(s["walk_forward"])),
        (
            "Chosen by",
            h.esc(f"{s['metric']} ({_direction(s['metric'])}), on each window's training dates"),
        ),
        ("Windows", h.esc(f"{s['windows']}")),
        (
            "Out of sample",
            h.esc(f"{span['start']} → {span['end']} ({span['days']:,} trading days)"),
        ),
        ("Benchmark", h.esc(folder.benchmark)),
        ("Sweep config", h.esc(folder.manifest.get("sweep_path", "n/a"))),
        ("Config sha256", f"<code>{h.esc(folder.manifest.get('config_sha256', 'n/a'))}</code>"),
        ("Folder", h.esc(folder.path.resolve().name)),
    ]
    description = folder.manifest.get("description") or ""
    return (
        f"<header><h1>Walk-forward: {h.esc(folder.name)}</h1>"
        f'<p class="description">{h.esc(description)}</p>{h.meta(rows)}</header>'
    )


def _direction(metric: str) -> str:
    return "higher is better" if metric_info(metric).higher_is_better else "lower is better"


def _summary_table(folder: WalkForwardFolder) -> str:
    """Each statistic in and out of sample, the benchmark's beside (walkforward.json); with
    scenarios, a line per scenario and part, the statistics across."""
    note = (
        '<p class="note">In sample: the mean over windows of the chosen combination\'s '
        "statistics on its own training dates (training ranges overlap, so they are not "
        "stitched). Out of sample: the statistics of the test segments chained into one "
        "curve, each starting where the previous one ended. The benchmark likewise.</p>"
    )
    partial = folder.summary.get("partial_window")
    if partial:
        note += (
            f'<p class="note">The last window, {partial["window"]}, is partial: the dates end '
            f"{partial['test_days']} trading days into its test. Its days are part of the "
            "out-of-sample curve and statistics.</p>"
        )
    scenarios = folder.scenarios()
    keys = list(folder.summary["in_sample"])
    if len(scenarios) == 1 and not scenarios[0].label:
        s = folder.summary
        rows = []
        for key in keys:
            label, kind = metric_info(key).label, metric_info(key).format
            cells = "".join(h.cell(s[part].get(key), kind, f"{part}.{key}") for part in PARTS)
            rows.append(f"<tr><td>{h.esc(label)}</td>{cells}</tr>")
        return note + h.table(["Statistic", *PARTS.values()], rows, "summary")
    rows = []
    for i, scenario in enumerate(scenarios):
        for j, (part, heading) in enumerate(PARTS.items()):
            cells = "".join(
                h.cell(scenario.block[part].get(key), metric_info(key).format,
                       f"scenarios.{i}.{part}.{key}")
                for key in keys
            )  # fmt: skip
            name = h.esc(scenario.label) if j == 0 else ""
            rows.append(f"<tr><td>{name}</td><td>{h.esc(heading)}</td>{cells}</tr>")
    axes = ", ".join(folder.scenario_axes)
    note += (
        f'<p class="note">Scenarios ({h.esc(axes)}) are given, not chosen: each window picks '
        "the best combination within each scenario, and each scenario has its own curve.</p>"
    )
    headers = ["Scenario", "", *(metric_info(k).label for k in keys)]
    return note + h.table(headers, rows, "summary")


def _stitched(folder: WalkForwardFolder) -> str:
    return h.chart(stitched_figure(folder), "stitched")


def stitched_figure(folder: WalkForwardFolder):
    """The stitched out-of-sample curve (one per scenario) against the benchmark's (dotted;
    shown once when every scenario's is the same), log toggle, over their drawdowns; every
    other test window shaded, each labelled with its number."""
    from plotly.subplots import make_subplots

    from engine.report.plots import shade, spans

    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
    )
    scenarios = folder.scenarios()
    benchmarks = [sc.values["benchmark"].to_numpy() for sc in scenarios]
    one_benchmark = all(np.array_equal(b, benchmarks[0]) for b in benchmarks)
    cash = folder.initial_cash
    for i, scenario in enumerate(scenarios):
        values = scenario.values
        dates = values.index.strftime("%Y-%m-%d").to_numpy()
        drawdown = data.drawdowns(values[["strategy", "benchmark"]], cash)
        color = STRATEGY if len(scenarios) == 1 else LINES[i % len(LINES)]
        if scenario.label:  # one legend entry per scenario: its curve and its benchmark's
            traces = [("strategy", scenario.label, color, "solid", True)]
            if i == 0 or not one_benchmark:
                bench_color = BENCHMARK if one_benchmark else color
                traces.append(("benchmark", scenario.label, bench_color, "dot", False))
        else:
            traces = [("strategy", f"{folder.name} (out of sample)", color, "solid", True)]
            traces.append(("benchmark", folder.benchmark, BENCHMARK, "dot", True))
        for column, name, trace_color, dash, shown in traces:
            style = dict(name=name, color=trace_color, legendgroup=name, line={"dash": dash})
            figure.add_trace(
                line(dates, values[column].to_numpy(), **style, showlegend=shown), row=1, col=1
            )
            figure.add_trace(
                line(dates, drawdown[column].to_numpy(), **style, showlegend=False), row=2, col=1
            )
    first = scenarios[0].values
    dates = first.index.strftime("%Y-%m-%d").to_numpy()
    windows = first["window"].to_numpy()
    runs = spans(list(dates), windows.tolist())
    shaded = {w: FILLS[-1] for w in np.unique(windows)[::2]}  # every other window
    for row in (1, 2):
        shade(figure, runs, shaded, row=row, opacity=0.1)
    for start, _, window in runs:
        figure.add_annotation(
            x=start,
            y=1.0,
            yref="y domain",
            text=f"W{window}",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "#666666"},
            row=1,
            col=1,
        )
    figure.update_layout(
        **LAYOUT,
        height=620,
        updatemenus=log_toggle("yaxis"),
        title="Stitched out-of-sample value (solid) against the benchmark (dotted); grey "
        "bands: every other test window"
        + ("; one colour per scenario" if len(scenarios) > 1 else ""),
    )
    figure.update_yaxes(title_text="value", row=1, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    return figure


def _chosen(folder: WalkForwardFolder) -> str:
    """The per-window table (ranges, scenario, chosen parameters, the metric in and out of
    sample) and a chart of each parameter's choice over the windows."""
    from engine.research.sweep_config import short_names

    metric = folder.summary["metric"]
    kind = metric_info(metric).format
    axes = folder.chosen_axes
    short = short_names(folder.axes)
    labelled = bool(folder.scenario_axes)
    rows = []
    for w in folder.windows:
        n = w["window"]
        key = f"{n}|{w['scenario']}" if labelled else f"{n}"
        partial = bool(w.get("partial"))
        days = f"{w.get('test_days', '')}" + (" (partial)" if partial else "")
        cells = [f'<td class="num">{h.esc(n)}</td>']
        cells += [f"<td>{h.esc(w['train_start'])} → {h.esc(w['train_end'])}</td>"]
        cells += [f"<td>{h.esc(w['test_start'])} → {h.esc(w['test_end'])}</td>"]
        cells += [f'<td class="num" data-key="{key}|test_days">{h.esc(days)}</td>']
        cells += [f"<td>{h.esc(w['scenario'])}</td>"] if labelled else []
        cells += [f'<td class="num" data-key="{key}|{h.esc(a)}">{_param(w[a])}</td>' for a in axes]
        cells += [h.cell(w.get(f"is_{metric}"), kind, f"{key}|is_{metric}")]
        for part in ("oos_", "oos_benchmark_"):
            if partial and metric_info(metric).annualised:
                cells += [f'<td class="num" data-key="{key}|{part}{metric}">partial</td>']
            else:
                cells += [h.cell(w.get(f"{part}{metric}"), kind, f"{key}|{part}{metric}")]
        cells += [
            h.cell(w.get(f"{part}total_return"), "pct", f"{key}|{part}total_return")
            for part in ("oos_", "oos_benchmark_")
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    headers = ["#", "Trained on", "Tested on", "Test days", *(["Scenario"] if labelled else [])]
    headers += [short[a] for a in axes]
    headers += [f"{metric} in sample", f"{metric} out of sample", f"benchmark {metric} out"]
    headers += ["return out of sample", "benchmark return out"]
    table = _partial_note(folder) + h.table(headers, rows, "chosen", scroll=len(rows) > 16)
    if not axes:
        return table
    return table + h.chart(parameters_figure(folder, axes, short), "parameters")


def _partial_note(folder: WalkForwardFolder) -> str:
    """Why a partial window's annualised metric is not shown (empty without one)."""
    partial = folder.summary.get("partial_window")
    if not partial:
        return ""
    return (
        f'<p class="note">Window {partial["window"]} is partial: the dates end '
        f"{partial['test_days']} trading days into its test, so its annualised statistics "
        "are left out and its total return is shown instead.</p>"
    )


def _param(value) -> str:
    from engine.research.grid import shown

    return h.esc(shown(value))


def parameters_figure(folder: WalkForwardFolder, axes: list[str], short: dict):
    """Each parameter's chosen value, window by window (one row each, held over each test
    window; a line per scenario)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=len(axes),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[short[a] for a in axes],
        vertical_spacing=min(0.12, 0.5 / len(axes)),
    )
    scenarios = folder.scenarios()
    for i, scenario in enumerate(scenarios):
        windows = scenario.windows
        starts = [w["test_start"] for w in windows]
        end = windows[-1]["test_end"]
        color = LINES[i % len(LINES)]
        for row, axis in enumerate(axes, start=1):
            chosen = [w[axis] for w in windows]
            figure.add_trace(
                go.Scatter(
                    x=[*starts, end],
                    y=[*chosen, chosen[-1]],
                    name=scenario.label or short[axis],
                    legendgroup=scenario.label,
                    mode="lines+markers",
                    line_shape="hv",
                    line={"color": color, "width": 2},
                    marker={"size": [8] * len(chosen) + [0]},
                    text=[f"window {w['window']}" for w in windows] + [""],
                    hovertemplate="%{text}: %{y}<extra>" + h.esc(short[axis]) + "</extra>",
                    showlegend=bool(scenario.label) and row == 1,
                ),
                row=row,
                col=1,
            )
    title = "Chosen parameters per test window" + (", per scenario" if len(scenarios) > 1 else "")
    figure.update_layout(
        **{**LAYOUT, "hovermode": "closest"}, title=title, height=max(260, 150 * len(axes) + 90)
    )
    return figure


def _per_window(folder: WalkForwardFolder) -> str:
    """The ranking metric of each window: the chosen combination in sample and out of
    sample, and the benchmark out of sample (with scenarios: out of sample per scenario)."""
    import plotly.graph_objects as go

    metric = folder.summary["metric"]
    label, kind = metric_info(metric).label, metric_info(metric).format
    scenarios = folder.scenarios()
    first = scenarios[0].windows
    x = [
        f"W{w['window']} {w['test_start'][:7]}" + (" (partial)" if w.get("partial") else "")
        for w in first
    ]
    bars = []
    if len(scenarios) == 1:
        bars.append((f"is_{metric}", "in sample (training dates)", "#9ecae1", first))
        bars.append((f"oos_{metric}", "out of sample (test dates)", STRATEGY, first))
    else:
        bars += [
            (f"oos_{metric}", f"{sc.label} out of sample", LINES[i % len(LINES)], sc.windows)
            for i, sc in enumerate(scenarios)
        ]
    suffix = f" ({scenarios[0].label})" if scenarios[0].label else ""
    bars.append((f"oos_benchmark_{metric}", f"benchmark out of sample{suffix}", BENCHMARK, first))
    figure = go.Figure()
    for key, name, color, windows in bars:
        y = [_number(w.get(key)) for w in windows]
        if not np.isnan(y).all():
            figure.add_trace(go.Bar(x=x, y=y, name=name, marker_color=color))
    figure.update_layout(
        **{**LAYOUT, "hovermode": "x"},
        title=f"{label} of the chosen combination in each window",
        height=380,
        barmode="group",
        yaxis={"tickformat": ".0%" if kind == "pct" else None},
    )
    return h.chart(figure, "per-window")


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _provenance(folder: WalkForwardFolder) -> str:
    manifest = folder.manifest
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    rows = [
        ("Sweep config", h.esc(manifest.get("sweep_path", "n/a"))),
        ("Config sha256", f"<code>{h.esc(manifest.get('config_sha256', 'n/a'))}</code>"),
        ("Swept parameters", h.esc(", ".join(folder.axes) or "n/a")),
        ("Versions", h.esc(versions)),
    ]
    return h.meta(rows)
