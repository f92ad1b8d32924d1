"""Walk-forward analysis of a sweep: choose on the past, trade the future, stitch.

`train=3y,test=1y[,step=1y]` (units y, m, d; step defaults to test) cuts the
sweep config's backtest dates into windows. Window k trains on the dates in
[first + k*step, first + k*step + train) and tests on the dates of the
following `test` (cut where the next window's test begins when step < test,
so out-of-sample segments never overlap; step > test would leave dates
untested and is refused). In each window:

1. the whole grid is swept on the training dates only (`run_sweep` with the
   config's `data.start`/`data.end` set to the training range);
2. the combination best by the chosen metric is picked (first in grid order on
   ties; NaN never wins);
3. that combination is run on the test dates with `run_backtest` (starting
   from cash, so its entry trade and costs count);
4. its values are scaled to start at the previous segment's last value and
   appended to the stitched out-of-sample curve (the benchmark likewise).

Each test segment starts after its training range ends, and every signal and
trade is computed with the engine's no-look-ahead rules, so nothing from the
test dates reaches the choice (tests/test_walkforward.py proves it by
perturbation).

With scenario axes (engine.research.sweep_config: costs by default) step 2 picks the
best within each scenario, and each scenario gets its own stitched curve, statistics
and rows of the tables (a `scenario` column in walkforward.csv and oos_values.csv;
walkforward.json's `scenarios`, its top-level statistics being the first scenario's):
a cost is never chosen.

In-sample statistics are the mean over windows of the chosen combination's
statistics on its own training range (training ranges overlap when step <
train, so they are not stitched); out-of-sample statistics are those of the
stitched curve (`engine.metrics.stats.performance`).

The last window is *partial* when the dates end before its test does (a session of the
portfolio's market falls after the last date and before the window's nominal end): its
annualised out-of-sample statistics (CAGR, Sharpe, Calmar, ...: `Metric.annualised`),
extrapolated from a few weeks, are left empty in its row, which gives its total return
instead; the stitched curve includes it, and the summary's `partial_window` says so.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine import calendar
from engine.data import MemorySource, PriceSource
from engine.data.market_calendar import sessions, universe_kind
from engine.errors import ConfigError
from engine.metrics import lower_is_better, stats
from engine.metrics import metric as metric_info
from engine.research.sweep_config import SweepSpec, scenario_groups

SHOWN = ("cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar")
_PART = re.compile(r"^\s*(train|test|step)\s*=\s*(\d+)\s*([ymd])\s*$")
_UNITS = {"y": "years", "m": "months", "d": "days"}


@dataclass(frozen=True)
class WalkForwardSpec:
    """Window lengths as calendar offsets; `text` is what the user wrote."""

    train: pd.DateOffset
    test: pd.DateOffset
    step: pd.DateOffset
    text: str


def _days(offset: pd.DateOffset) -> float:
    """Rough length in days, to compare offsets (a year = 365.25 days, a month = 1/12 of it)."""
    kwds = offset.kwds
    return kwds.get("years", 0) * 365.25 + kwds.get("months", 0) * 365.25 / 12 + kwds.get("days", 0)


def parse_spec(text: str, what: str = "--walk-forward") -> WalkForwardSpec:
    """Parse `train=3y,test=1y[,step=1y]` (units: y years, m months, d calendar days);
    `what` names it in errors (the CLI option, or the API's argument).

    Raises:
        ConfigError: a malformed part, a missing train or test, a zero length,
            or a step longer than the test (dates would go untested).
    """
    parts: dict[str, pd.DateOffset] = {}
    for piece in text.split(","):
        match = _PART.match(piece)
        if not match:
            raise ConfigError(
                f"{what} {text!r}: cannot read {piece.strip()!r}; write e.g. "
                "train=3y,test=1y,step=1y (units y, m, d)"
            )
        key, number, unit = match.groups()
        if key in parts:
            raise ConfigError(f"{what} {text!r}: {key} is given twice")
        if int(number) == 0:
            raise ConfigError(f"{what} {text!r}: {key} must be longer than 0")
        parts[key] = pd.DateOffset(**{_UNITS[unit]: int(number)})
    for key in ("train", "test"):
        if key not in parts:
            raise ConfigError(f"{what} {text!r}: {key}= is missing (e.g. train=3y,test=1y)")
    step = parts.get("step", parts["test"])
    if _days(step) > _days(parts["test"]) + 1e-9:
        raise ConfigError(
            f"{what} {text!r}: step is longer than test, which would leave dates "
            "between test windows untested; use step <= test"
        )
    return WalkForwardSpec(train=parts["train"], test=parts["test"], step=step, text=text)


@dataclass(frozen=True)
class Window:
    """Training and test dates of one window (backtest dates of the calendar); `partial`
    when the dates end before its test window does."""

    train: pd.DatetimeIndex
    test: pd.DatetimeIndex
    partial: bool = False


def _cut_short(end: pd.Timestamp, last: pd.Timestamp, kind: str) -> bool:
    """Whether a test window ending before `end` (exclusive) lost sessions of the `kind`
    market (engine.data.market_calendar) because the dates stop at `last`."""
    if end <= last + pd.Timedelta(days=1):
        return False
    return len(sessions(kind, last + pd.Timedelta(days=1), end - pd.Timedelta(days=1))) > 0


def windows(dates: pd.DatetimeIndex, spec: WalkForwardSpec, kind: str = "weekdays") -> list[Window]:
    """The windows over `dates` (see the module docstring); test segments of < 2 dates end it.
    `kind` is the market calendar of the dates, which tells a partial last window."""
    out = []
    k = 0
    while True:
        begin = dates[0] + spec.step * k if k else dates[0]
        train_end = begin + spec.train  # exclusive
        test_end = min(train_end + spec.test, train_end + spec.step)  # exclusive
        train = dates[(dates >= begin) & (dates < train_end)]
        test = dates[(dates >= train_end) & (dates < test_end)]
        if len(test) < 2:
            break
        if len(train) >= 2:
            partial = _cut_short(test_end, dates[-1], kind)
            out.append(Window(train=train, test=test, partial=partial))
        k += 1
    return out


def _in_range(spec: SweepSpec, start: pd.Timestamp, end: pd.Timestamp) -> SweepSpec:
    """The sweep with data.start/end set to [start, end] (raw and base both)."""
    window = {"start": start.date(), "end": end.date()}
    raw = {**spec.raw, "data": {**spec.raw["data"], **window}}
    base = spec.base.model_copy(update={"data": spec.base.data.model_copy(update=window)})
    return dataclasses.replace(spec, raw=raw, base=base)


def best_row(table: pd.DataFrame, metric: str) -> int:
    """Position of the best row by `metric` (smaller first where engine.metrics says so);
    NaN never wins; ties go to the first row in grid order."""
    column = table[metric].to_numpy(dtype=float)
    if np.all(np.isnan(column)):
        return 0
    order = pd.Series(column).sort_values(
        ascending=lower_is_better(metric), na_position="last", kind="stable"
    )
    return int(order.index[0])


@dataclass(frozen=True)
class WalkForwardResult:
    """Per-window choices and statistics, the stitched curves and the side-by-side summary.

    Attributes:
        spec: the windows' lengths (train, test, step) as written.
        metric: the statistic each window's best combination was chosen by.
        axes: the swept parameters' names.
        windows: one row per window (and scenario): its dates, the chosen values, the
            metric in and out of sample (walkforward.csv).
        values: the stitched out-of-sample values: date, strategy, benchmark, window
            (oos_values.csv).
        summary: in-sample (mean of the windows) and out-of-sample (stitched) statistics,
            the benchmark's, per scenario when there are scenario axes (walkforward.json
            without its per-window rows).
    """

    spec: WalkForwardSpec
    metric: str
    axes: list[str]
    windows: pd.DataFrame
    values: pd.DataFrame
    summary: dict

    def as_dict(self) -> dict:
        """walkforward.json: the summary and `per_window`, the windows' rows (dates as
        text)."""
        rows = self.windows.to_dict(orient="records")
        per_window = [
            {k: str(v) if hasattr(v, "isoformat") else v for k, v in row.items()} for row in rows
        ]
        return {**self.summary, "per_window": per_window}


def _scalar(value):
    return value.item() if hasattr(value, "item") else value


def _run_metric(run_stats: dict, metric: str):
    """A sweep-table metric read from a run's stats.json layout."""
    if metric.startswith("time_in_") and metric not in run_stats["strategy"]:
        return run_stats["strategy"]["time_in_regime"].get(metric.removeprefix("time_in_"))
    if metric in run_stats["strategy"]:
        return _scalar(run_stats["strategy"][metric])
    return _scalar(run_stats["relative"].get(metric))


def walk_forward(
    spec: SweepSpec,
    source: PriceSource,
    wf: WalkForwardSpec,
    metric: str,
    progress=None,
    sweeps=None,
) -> WalkForwardResult:
    """Run the walk-forward analysis (see the module docstring).

    Args:
        sweeps: (window specs, prices) -> their SweepResults in window order (default:
            run_sweep one after another; engine.research.distributed runs them on Dask).
    """
    from engine.pipeline import backtest_dates
    from engine.research.sweep import run_sweep
    from engine.runner import periods_per_year, run_backtest

    config = spec.base
    prices = source.load(config.tickers())
    memory = MemorySource(prices)
    cal, _ = calendar.trading_calendar(prices, list(config.universe), config.data.close_times)
    dates = backtest_dates(config, prices, cal)
    cuts = windows(dates, wf, universe_kind(config.universe))
    if not cuts:
        raise ConfigError(
            f"{spec.origin}: {dates[0].date()} to {dates[-1].date()} is too short for "
            f"--walk-forward {wf.text} (no window has >= 2 training and >= 2 test dates)"
        )
    cash, rf = config.portfolio.initial_cash, _risk_free(config, prices, cal, dates)
    periods = periods_per_year(config)
    shape = tuple(len(a.values) for a in spec.axes)
    names = [a.name for a in spec.axes]
    groups = scenario_groups(spec)
    labelled = bool(spec.scenarios)  # scenario axes: choose within each, one curve each
    rows, segments = [], {group.label: [] for group in groups}
    levels = {group.label: (cash, cash) for group in groups}
    specs = [_in_range(spec, window.train[0], window.train[-1]) for window in cuts]
    trained_all = sweeps(specs, memory) if sweeps else (run_sweep(s, memory) for s in specs)
    for k, (window, trained) in enumerate(zip(cuts, trained_all, strict=True)):
        for group in groups:
            within = trained.table.iloc[group.rows].reset_index(drop=True)
            row = int(group.rows[best_row(within, metric)])
            position = np.unravel_index(row, shape)
            values = tuple(axis.values[i] for axis, i in zip(spec.axes, position, strict=True))
            tested = _in_range(spec, window.test[0], window.test[-1]).config_for(values)
            result = run_backtest(tested, memory)
            chosen = trained.table.iloc[row]
            strategy = result.strategy.value.to_numpy()
            benchmark = result.benchmark.value.to_numpy()
            oos = _whole_only(result.stats["strategy"], window.partial)
            bench_oos = _whole_only(result.stats["benchmark"], window.partial)
            record = {
                "window": k + 1,
                **({"scenario": group.label} if labelled else {}),
                "train_start": window.train[0].date(),
                "train_end": window.train[-1].date(),
                "test_start": window.test[0].date(),
                "test_end": window.test[-1].date(),
                "train_days": len(window.train),
                "test_days": len(window.test),
                "partial": window.partial,
                **{a.name: a.cell(_scalar(v)) for a, v in zip(spec.axes, values, strict=True)},
                **{f"is_{key}": float(chosen[key]) for key in SHOWN},
                **{f"is_benchmark_{key}": float(chosen[f"benchmark_{key}"]) for key in SHOWN},
                **{f"oos_{key}": _scalar(oos[key]) for key in SHOWN},
                **{f"oos_benchmark_{key}": _scalar(bench_oos[key]) for key in SHOWN},
                "oos_total_return": _scalar(oos["total_return"]),
                "oos_benchmark_total_return": _scalar(bench_oos["total_return"]),
            }
            if metric not in SHOWN:
                record[f"is_{metric}"] = float(chosen[metric])
                shown = _run_metric(result.stats, metric)
                whole = not (window.partial and metric_info(metric).annualised)
                record[f"oos_{metric}"] = shown if whole else float("nan")
            rows.append(record)
            level_s, level_b = levels[group.label]
            segment = pd.DataFrame(
                {
                    "date": result.dates,
                    "strategy": strategy / cash * level_s,
                    "benchmark": benchmark / cash * level_b,
                    "window": k + 1,
                    **({"scenario": group.label} if labelled else {}),
                }
            )
            segments[group.label].append(segment)
            levels[group.label] = (segment["strategy"].iloc[-1], segment["benchmark"].iloc[-1])
        if progress:
            progress(k + 1, len(cuts))
    table = pd.DataFrame(rows)
    blocks = []
    for group in groups:
        stitched = pd.concat(segments[group.label], ignore_index=True)
        part = table[table["scenario"] == group.label] if labelled else table
        blocks.append(
            {
                "label": group.label,
                "values": group.values,
                **_side_by_side(stitched, part, cash, periods, rf),
            }
        )
    stitched = pd.concat([s for group in groups for s in segments[group.label]], ignore_index=True)
    first = {k: v for k, v in blocks[0].items() if k not in ("label", "values")}
    partial = [k + 1 for k, window in enumerate(cuts) if window.partial]
    summary = {
        "walk_forward": wf.text,
        "metric": metric,
        "windows": len(cuts),
        "partial_window": (
            {"window": partial[0], "test_days": len(cuts[-1].test), "in_out_of_sample": True}
            if partial
            else None
        ),
        **first,  # the first scenario's (the only one without scenario axes)
        "in_sample_means": "mean over windows of the chosen combination on its training range",
        "out_of_sample_from": "the stitched test segments",
    }
    if labelled:
        summary["scenario_axes"] = list(spec.scenarios)
        summary["scenarios"] = blocks
    return WalkForwardResult(
        spec=wf, metric=metric, axes=names, windows=table, values=stitched, summary=summary
    )


def _whole_only(period_stats: dict, partial: bool) -> dict:
    """A window's statistics; for a partial window the annualised ones (Metric.annualised)
    are NaN: a CAGR or Calmar extrapolated from a few weeks would read as a year's."""
    if not partial:
        return period_stats
    return {
        key: float("nan") if metric_info(key).annualised else value
        for key, value in period_stats.items()
    }


def _risk_free(config, prices: dict, cal: pd.DatetimeIndex, dates: pd.DatetimeIndex):
    """stats.risk_free: the annual number, or a ticker's per-date series on `dates` (a
    Series: the stitched out-of-sample dates read their part of it)."""
    from engine import rates

    rate = config.stats.risk_free
    if not isinstance(rate, str):
        return rate
    series = rates.risk_free_series(prices, rate, cal, cal.get_loc(dates[0]), len(dates))
    return pd.Series(series, index=dates)


def _side_by_side(stitched: pd.DataFrame, table: pd.DataFrame, cash, periods, rf) -> dict:
    """The out-of-sample range and the in-sample means beside the stitched curve's statistics,
    the benchmark's likewise (one scenario)."""
    oos_dates = pd.DatetimeIndex(stitched["date"])
    if isinstance(rf, pd.Series):
        rf = rf.reindex(oos_dates).to_numpy()
    out_strategy = stats.performance(stitched["strategy"].to_numpy(), oos_dates, cash, periods, rf)
    out_bench = stats.performance(stitched["benchmark"].to_numpy(), oos_dates, cash, periods, rf)
    return {
        "out_of_sample_range": {
            "start": str(oos_dates[0].date()),
            "end": str(oos_dates[-1].date()),
            "days": len(oos_dates),
        },
        "in_sample": {key: float(table[f"is_{key}"].mean()) for key in SHOWN},
        "out_of_sample": {key: _scalar(out_strategy[key]) for key in SHOWN},
        "benchmark_in_sample": {key: float(table[f"is_benchmark_{key}"].mean()) for key in SHOWN},
        "benchmark_out_of_sample": {key: _scalar(out_bench[key]) for key in SHOWN},
    }


def write_walkforward(destination: Path, result: WalkForwardResult, manifest: dict) -> Path:
    """walkforward.csv (per window), walkforward.json (summary + windows), oos_values.csv."""
    from engine.report import atomic_folder, write_csv, write_json

    payload = result.as_dict()
    with atomic_folder(destination) as staging:
        write_csv(result.windows, staging / "walkforward.csv")
        write_json(staging / "walkforward.json", payload)
        write_csv(result.values, staging / "oos_values.csv")
        write_json(staging / "manifest.json", manifest)
    return Path(destination)
