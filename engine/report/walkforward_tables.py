"""The terminal tables of a walk-forward (`rotation sweep --walk-forward`): in-sample beside
out-of-sample statistics, and the windows with their test dates, the parameters chosen and
the metric in and out of sample. A partial last window (engine.research.walkforward) is
flagged: its annualised metric reads `partial`, and a caption gives its total return.
"""

from __future__ import annotations

from engine.metrics import metric as metric_info
from engine.research.grid import shown as shown_value
from engine.research.sweep_config import short_names
from engine.research.walkforward import SHOWN, WalkForwardResult

SCENARIO_SHOWN = ("cagr", "volatility", "sharpe", "max_drawdown", "calmar")
SHORT_LABELS = {"cagr": "CAGR", "volatility": "Vol", "sharpe": "Sharpe", "max_drawdown": "MaxDD"}
SHORT_LABELS |= {"calmar": "Calmar", "sortino": "Sortino"}


def _scalar(value):
    return value.item() if hasattr(value, "item") else value


def summary_table(result: WalkForwardResult):
    """A rich Table: in-sample (mean of windows) beside out-of-sample (stitched); with scenario
    axes, one table with an in-sample, an out-of-sample and a benchmark line per scenario."""
    from rich import box
    from rich.table import Table

    from engine.report import fmt, plain

    s = result.summary
    span = s["out_of_sample_range"]
    title = (
        f"Walk-forward {s['walk_forward']} by {s['metric']}: {s['windows']} windows, "
        f"out of sample {span['start']} → {span['end']}"
    )
    caption = partial_caption(s)
    if s.get("scenarios"):
        # 80 columns: light borders, short headers, Sortino left to walkforward.json
        table = Table(
            title=f"{title}, chosen within each scenario", box=box.SIMPLE_HEAD, caption=caption
        )
        table.add_column("Scenario", no_wrap=True)
        table.add_column("", no_wrap=True)
        for key in SCENARIO_SHOWN:
            table.add_column(SHORT_LABELS[key], justify="right", no_wrap=True)
        lines = (("IS (mean)", "in_sample"), ("OOS", "out_of_sample"))
        lines += (("Bench OOS", "benchmark_out_of_sample"),)
        for block in s["scenarios"]:
            for i, (name, part) in enumerate(lines):
                cells = (fmt(block[part][key], metric_info(key).format) for key in SCENARIO_SHOWN)
                table.add_row(
                    plain(block["label"]) if i == 0 else "",
                    name,
                    *cells,
                    end_section=i == len(lines) - 1,
                )
        return table
    table = Table(title=title, caption=caption)
    table.add_column("Statistic", no_wrap=True)
    for column in ("IS (mean)", "OOS", "Bench IS", "Bench OOS"):
        table.add_column(column, justify="right")
    for key in SHOWN:
        label, kind = metric_info(key).label, metric_info(key).format
        table.add_row(
            label,
            *(
                fmt(s[part][key], kind)
                for part in (
                    "in_sample",
                    "out_of_sample",
                    "benchmark_in_sample",
                    "benchmark_out_of_sample",
                )
            ),
        )
    return table


def partial_caption(summary: dict) -> str | None:
    """The line under the summary saying the stitched statistics include a partial window."""
    partial = summary.get("partial_window")
    if not partial:
        return None
    return (
        f"OOS: the test windows stitched, the partial window {partial['window']} "
        f"({partial['test_days']} trading days) included."
    )


WIDTH = 80  # the windows table fits this many columns, whatever the terminal


def windows_table(result: WalkForwardResult, width: int = WIDTH):
    """A rich Table: one row per window (and scenario) with its test dates (first and last)
    and their number, the chosen parameters and the metric IS / OOS; a partial window's
    annualised OOS metric reads `partial`, and the caption gives its total return instead.
    The first test dates are left out when the table would be wider than `width` (each
    test starts on the session after the previous one's last date)."""
    table = _windows_table(result, with_start=True)
    return table if _width(table) <= width else _windows_table(result, with_start=False)


def _width(table) -> int:
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=10_000)
    return Measurement.get(console, console.options, table).maximum


def _windows_table(result: WalkForwardResult, with_start: bool):
    from rich import box
    from rich.table import Table

    from engine.report import fmt, plain

    metric = result.metric
    kind = metric_info(metric).format
    scenarios = result.summary.get("scenario_axes", [])
    shown = [name for name in result.axes if name not in scenarios]
    short = short_names(result.axes)
    table = Table(
        title="Chosen parameters per window (trained just before each test)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption=_partial_note(result),
    )
    table.add_column("#", justify="right", no_wrap=True)
    if with_start:
        table.add_column("test from", no_wrap=True)
    table.add_column("to" if with_start else "test to", no_wrap=True)
    table.add_column("days", justify="right", no_wrap=True)
    for name in (*scenarios, *shown):  # the scenario's values first, then the chosen ones
        table.add_column(plain(short[name]), justify="right", no_wrap=True)
    table.add_column(f"IS\n{metric}", justify="right", no_wrap=True)  # two-line headers:
    table.add_column(f"OOS\n{metric}", justify="right", no_wrap=True)  # narrower columns
    for _, row in result.windows.iterrows():
        oos = _scalar(row[f"oos_{metric}"])
        hidden = bool(row.get("partial")) and metric_info(metric).annualised
        table.add_row(
            str(row["window"]),
            *([str(row["test_start"])] if with_start else []),
            str(row["test_end"]),
            str(row["test_days"]),
            *(plain(shown_value(row[name])) for name in (*scenarios, *shown)),
            fmt(_scalar(row[f"is_{metric}"]), kind),
            "partial" if hidden else fmt(oos, kind),
        )
    return table


def _partial_note(result: WalkForwardResult) -> str | None:
    """What the windows table says of a partial last window: its length against the
    others', and its total return (with scenarios, walkforward.csv has one per scenario)."""
    partial = result.summary.get("partial_window")
    if not partial:
        return None
    table = result.windows
    rows = table[table["window"] == partial["window"]]
    whole = table.loc[table["window"] != partial["window"], "test_days"]
    others = f"{whole.min()}" if whole.min() == whole.max() else f"{whole.min()}-{whole.max()}"
    note = (
        f"Window {partial['window']} is partial: the dates end {partial['test_days']} trading "
        f"days into its test (the others have {others})"
    )
    if not metric_info(result.metric).annualised:
        return note + "."
    note += f", so its {result.metric}, an annualised figure, is left out"
    if len(rows) > 1:
        return note + "; its total return per scenario is oos_total_return in walkforward.csv."
    from engine.report import fmt

    row = rows.iloc[0]
    return (
        f"{note}. Its total return: {fmt(_scalar(row['oos_total_return']), 'pct')} "
        f"(benchmark {fmt(_scalar(row['oos_benchmark_total_return']), 'pct')})."
    )
