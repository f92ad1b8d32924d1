"""`rotation timing`'s table, sentence and folder (formatting only; the numbers come
from engine.research.timing).

A timing folder holds
  timing.json    the `--json` document: config, decide, days (decide_day, cagr, sharpe,
                 max_drawdown, trade_dates), tranches (n, cagr, sharpe, max_drawdown),
                 spread (cagr_min, cagr_median, cagr_max), benchmark (cagr, sharpe,
                 max_drawdown)
  values.csv     date, one column of daily values per decide_day (named by the day),
                 tranches, benchmark
  manifest.json  name, config path and hash, data hashes and ranges, benchmark, initial
                 cash, warnings, library versions, time of the run
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.report import fmt, plain, write_csv, write_json
from engine.report.folders import atomic_folder

COLUMNS = (("cagr", "CAGR", "pct"), ("sharpe", "Sharpe", "num"), ("max_drawdown", "Max DD", "pct"))


def _row(label: str, values: dict, trades) -> list[str]:
    cells = [fmt(values.get(key), kind) for key, _, kind in COLUMNS]
    return [label, *cells, "" if trades is None else f"{int(trades):,}"]


def timing_table(result):
    """A rich Table (it fits 80 columns): each decision day's CAGR, Sharpe, max drawdown
    and trade dates; then the spread of CAGR (lowest, median, highest, with their days),
    the tranche blend and the benchmark."""
    from rich.table import Table

    span = f"{result.dates[0].date()} → {result.dates[-1].date()}"
    table = Table(title=plain(f"{result.name} decided {result.decide}: {span}"))
    table.add_column("decide_day", justify="right")
    for _, label, _ in COLUMNS:
        table.add_column(label, justify="right")
    table.add_column("Trade dates", justify="right")
    for row in result.table.itertuples():
        table.add_row(*_row(str(row.decide_day), row._asdict(), row.trade_dates))
    table.add_section()
    cagr = result.table.set_index("decide_day")["cagr"]
    spread = result.spread
    for label, key in (("lowest", "cagr_min"), ("median", "cagr_median"), ("highest", "cagr_max")):
        day = (
            ""
            if key == "cagr_median"
            else f" (day {int(cagr.idxmin() if key == 'cagr_min' else cagr.idxmax())})"
        )
        table.add_row(f"{label}{day}", fmt(spread[key], "pct"), "", "", "")
    table.add_section()
    tranches = result.tranches
    table.add_row(*_row(f"{tranches['n']} tranches", tranches, tranches["trade_dates"]))
    label = "benchmark " + "+".join(result.benchmark_label)
    table.add_row(*_row(label, result.benchmark, result.benchmark.get("trade_dates")))
    return table


def timing_sentence(result) -> str:
    """'Decided on another day of the month, gtaa5's CAGR ranges from 3.60% (day 5) to
    5.70% (day 18): 2.10 points apart; its 4 tranches make 4.43%, SPY 10.12%.'"""
    cagr = result.table.set_index("decide_day")["cagr"]
    spread = result.spread
    period = {"weekly": "week", "monthly": "month", "quarterly": "quarter", "annual": "year"}
    gap = (spread["cagr_max"] - spread["cagr_min"]) * 100
    bench = "+".join(result.benchmark_label)
    return (
        f"Decided on another day of the {period[result.decide]}, {result.name}'s CAGR ranges "
        f"from {fmt(spread['cagr_min'], 'pct')} (day {int(cagr.idxmin())}) to "
        f"{fmt(spread['cagr_max'], 'pct')} (day {int(cagr.idxmax())}): {gap:.2f} points "
        f"apart; its {result.tranches['n']} tranches make {fmt(result.tranches['cagr'], 'pct')}, "
        f"{bench} {fmt(result.benchmark['cagr'], 'pct')}."
    )


def timing_values(result) -> pd.DataFrame:
    """values.csv: each day's daily values, the tranche blend's and the benchmark's."""
    frame = pd.DataFrame({"date": result.dates.strftime("%Y-%m-%d")})
    for k, day in enumerate(result.days):
        frame[str(day)] = result.values[:, k]
    frame["tranches"] = result.tranche_values
    frame["benchmark"] = result.bench_values
    return frame


def write_timing(destination: Path, result, manifest: dict) -> Path:
    """The timing folder (module docstring), written atomically."""
    with atomic_folder(destination) as staging:
        write_json(staging / "timing.json", result.as_dict())
        write_csv(timing_values(result), staging / "values.csv")
        write_json(staging / "manifest.json", manifest)
    return Path(destination)
