"""Compare configs side by side on their common date range.

1. Load every config first (a broken one stops everything before any work).
2. Load the prices every config needs once per source (one batched download).
3. Find each config's backtest dates; the common range runs from the latest
   first date to the earliest last date.
4. Run every config on that range; collect strategy and benchmark statistics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from engine import calendar
from engine.config import Config, suggest
from engine.data import PriceSource, make_source
from engine.errors import DataError, RotationError
from engine.metrics import METRICS, in_table_order, lower_is_better
from engine.pipeline import backtest_dates
from engine.runner import BacktestResult, run_backtest


class SharedSource:
    """Wraps a source so each ticker is loaded at most once across configs."""

    def __init__(self, inner: PriceSource) -> None:
        self.inner = inner
        self.frames: dict[str, pd.DataFrame] = {}

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        missing = [t for t in tickers if t not in self.frames]
        if missing:
            self.frames.update(self.inner.load(missing))
        return {t: self.frames[t] for t in tickers}


@dataclass(frozen=True)
class Comparison:
    """Runs of several configs on one date range.

    Attributes:
        results: one BacktestResult per config, in the order given.
        labels: unique column label per config (its name, suffixed if repeated).
        start, end: the common range actually used.
        sort_by: a statistic ordering the config columns of `table` best first (None:
            the order given).
    """

    results: list[BacktestResult]
    labels: list[str]
    start: pd.Timestamp
    end: pd.Timestamp
    sort_by: str | None = None  # `table` orders the configs best first by this statistic

    def runs(self) -> dict[str, tuple[dict, pd.Series]]:
        """Column label -> (scalar statistics, daily values): each config, then each
        distinct benchmark (`benchmarks`)."""
        runs = {
            label: (_flat(r.stats["strategy"] | r.stats["relative"]), r.strategy.value)
            for label, r in zip(self.labels, self.results, strict=True)
        }
        benchmarks = self.benchmarks()
        for label, result in zip(self.labels, self.results, strict=True):
            name = benchmarks[label]
            runs.setdefault(name, (_flat(result.stats["benchmark"]), result.benchmark.value))
        return runs

    def benchmarks(self) -> dict[str, str]:
        """Config label -> the column of the benchmark it is measured against. Configs whose
        benchmarks have the same weights, dates, values and statistics share one column,
        `benchmark SPY:1`; a differing one is suffixed with its first config's label."""
        out: dict[str, str] = {}
        seen: dict[str, BacktestResult] = {}  # column -> the first run measured against it
        for label, result in zip(self.labels, self.results, strict=True):
            weights = "+".join(f"{t}:{w:g}" for t, w in result.config.benchmark.items())
            plain = f"benchmark {weights}"
            same = [
                name
                for name, first in seen.items()
                if name.split(" (")[0] == plain and _same_benchmark(first, result)
            ]
            name = same[0] if same else plain if plain not in seen else f"{plain} ({label})"
            seen.setdefault(name, result)
            out[label] = name
        return out

    def table(self) -> pd.DataFrame:
        """Statistics (rows) by run (columns): the configs (best first by `sort_by` when
        set), then each distinct benchmark (comparison.csv)."""
        table = pd.DataFrame({label: stats for label, (stats, _) in self.runs().items()})
        table = table.reindex(in_table_order(table.index))  # configs with other keys
        return table if self.sort_by is None else sort_columns(table, self.labels, self.sort_by)

    def values(self) -> pd.DataFrame:
        """Daily values of every column of the table on the union of the runs' dates
        (empty where a run has no date, e.g. a weekend for an equity config)."""
        frame = pd.concat({label: values for label, (_, values) in self.runs().items()}, axis=1)
        return frame.rename_axis("date")


def _same_benchmark(a: BacktestResult, b: BacktestResult) -> bool:
    """Whether two runs' benchmarks are one curve: same dates, values and statistics."""
    left, right = a.benchmark.value, b.benchmark.value
    return (
        left.index.equals(right.index)
        and bool((left.to_numpy() == right.to_numpy()).all())
        and _flat(a.stats["benchmark"]) == _flat(b.stats["benchmark"])
    )


def _flat(stats: dict) -> dict:
    """Scalar statistics only (time_in_regime is per-config and left out of the table)."""
    return {k: v for k, v in stats.items() if not isinstance(v, dict)}


def _labels(configs: Sequence[Config]) -> list[str]:
    labels: list[str] = []
    for config in configs:
        label, n = config.name, 1
        while label in labels:
            n += 1
            label = f"{config.name}#{n}"
        labels.append(label)
    return labels


def _source_key(config: Config) -> str:
    """Configs whose data settings agree apart from the date range share one source."""
    return json.dumps(config.data.model_dump(mode="json", exclude={"start", "end"}), sort_keys=True)


def sources_for(configs: Sequence[Config]) -> list[SharedSource]:
    """One shared source per distinct data setting, preloaded with all its tickers at once."""
    groups: dict[str, list[Config]] = {}
    for config in configs:
        groups.setdefault(_source_key(config), []).append(config)
    shared = {}
    for key, members in groups.items():
        ends = [c.data.end for c in members]
        latest = None if None in ends else max(ends)  # the source must cover every member
        data = members[0].data.model_copy(update={"end": latest})
        shared[key] = SharedSource(make_source(data))
        shared[key].load(sorted({t for c in members for t in c.tickers()}))
    return [shared[_source_key(c)] for c in configs]


def common_range(configs: Sequence[Config], sources: Sequence[PriceSource]):
    """(start, end): the latest first backtest date and the earliest last one."""
    firsts, lasts = [], []
    for config, source in zip(configs, sources, strict=True):
        prices = source.load(config.tickers())
        dates, _ = calendar.trading_calendar(prices, list(config.universe), config.data.close_times)
        chosen = backtest_dates(config, prices, dates)
        firsts.append(chosen[0])
        lasts.append(chosen[-1])
    start, end = max(firsts), min(lasts)
    if start > end:
        raise DataError(
            f"the configs share no dates: the latest start is {start.date()} and the earliest "
            f"end {end.date()}; align their data.start and data.end"
        )
    return start, end


def compare(
    configs: Sequence[Config], source: PriceSource | None = None, sort_by: str | None = None
) -> Comparison:
    """Run every config on the common date range of all of them.

    Args:
        source: prices for every config (default: each config's own, `sources_for`).
        sort_by: order the table's configs best first by this statistic (checked first).
    """
    if sort_by is not None:
        check_metric(sort_by)
    sources = sources_for(configs) if source is None else [SharedSource(source)] * len(configs)
    start, end = common_range(configs, sources)
    window = {"start": start.date(), "end": end.date()}
    results = []
    for config, source in zip(configs, sources, strict=True):
        data = config.data.model_copy(update=window)
        results.append(run_backtest(config.model_copy(update={"data": data}), source))
    labels = _labels(configs)
    return Comparison(results=results, labels=labels, start=start, end=end, sort_by=sort_by)


def check_metric(metric: str, what: str = "--sort") -> None:
    """Reject an unknown statistic to sort by before any work, with a suggestion; `what`
    names it (the CLI option, or the API's argument)."""
    if metric not in METRICS:
        hint = suggest(metric, list(METRICS))
        raise RotationError(
            f"{what} {metric}: unknown statistic{hint}; choose one of {', '.join(METRICS)}"
        )


def sort_columns(table: pd.DataFrame, labels: Sequence[str], metric: str) -> pd.DataFrame:
    """Config columns ordered best first by `metric`; benchmark columns stay last."""
    if metric not in table.index:
        known = ", ".join(table.index)
        raise RotationError(f"--sort {metric}: unknown statistic; choose one of {known}")
    row = table.loc[metric, list(labels)].astype(float)
    ordered = row.sort_values(ascending=lower_is_better(metric), na_position="last").index
    return table[list(ordered) + [c for c in table.columns if c not in labels]]
