"""A sweep as a plan and independent chunks of combinations.

`build_plan` does once what every chunk needs (engine.pipeline: prices, calendar,
backtest dates, every signal per distinct parameter set, the rank inputs, the
benchmark simulations and statistics) and holds it in a picklable `SweepPlan`.
`evaluate_chunk(plan, start, stop)` then decides, simulates (the numba kernel
engine.sim.fastsim) and measures the combinations [start, stop) of the grid: a pure
function of its arguments, so the same chunk gives the same bits wherever and
whenever it runs: in this process (`engine.research.sweep.run_sweep`), on a Dask
worker (`engine.research.distributed`, the plan sent to each worker once), or read
back from a chunk store written before an interruption
(`engine.research.chunk_store`).
`Assembler` puts the chunks together in combination order, whatever the order in
which they arrive.

Chunk boundaries depend on the plan alone (memory-sized, or a given size), never
on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from engine import pipeline
from engine.blend import prepare_any, warnings_any
from engine.config import Config
from engine.data import PriceSource, describe
from engine.data.series import describe_series
from engine.metrics import stats
from engine.metrics.distribution import distribution
from engine.metrics.fast_stats import (
    DISTRIBUTION,
    PERFORMANCE,
    RELATIVE,
    RUN_ONLY,
    grid_statistics,
    regime_statistics,
)
from engine.research import grid
from engine.research.sweep_config import SweepSpec
from engine.rules import new_month, period_starts
from engine.runner import periods_per_year, risk_free
from engine.targets import chunk_bytes

CHUNK_BYTES = 256 * 2**20  # working memory per chunk of combinations


def memory_chunk(n_dates: int, n_signals: int, table_bytes: int) -> int:
    """Combinations per chunk: signal bools, codes, values and returns per date, plus the
    combination's target table (engine.targets.chunk_bytes), within CHUNK_BYTES."""
    per_combo = (n_dates + 1) * (n_signals + 2 * 8 + 8 * 4) + table_bytes
    return max(1, CHUNK_BYTES // per_combo)


@dataclass(frozen=True)
class SweepPlan:
    """Everything a chunk of combinations reads, built once per sweep (picklable).

    Attributes:
        config, axes: the sweep's base config and axes; `shape` their lengths.
        size: combinations in the grid; `chunk` combinations per chunk.
        decisions: schedule, aligned signal tables and rank inputs (engine.pipeline).
        prior: the first simulated row is the default regime's (no date before the start).
        close, price: [N, A] adjusted closes and execution prices of the universe.
        month_starts: [N, 3] first backtest date of each month, quarter and year.
        regimes: the regime names, in config order.
        bench_values: [N, U] values of the distinct benchmark settings.
        bench_keys: [U, 5] the distinct benchmark settings (fees, slippage, threshold,
            calendar rule, cash yield; `_setting_keys`), in the order of bench_values' columns.
        bench_stats: statistics of each benchmark setting ([U] arrays).
        dates: the backtest dates; cash, risk_free (a number, or an [N] series), periods:
            the statistics' settings.
        yields, yield_settings: [N, R] cash yield per date of each distinct cash_yield of
            the grid, and those settings (engine.pipeline.cash_yield_table).
        keep_values: chunks also return their daily values.
        data: per-ticker sha256 and range of the prices read (manifest, resume key).
        scenarios: the names of the scenario axes (a results part labels its rows' scenario).
    """

    config: Config
    axes: list[grid.Axis]
    shape: tuple[int, ...]
    size: int
    chunk: int
    decisions: pipeline.Decisions
    prior: bool
    close: np.ndarray
    price: np.ndarray
    month_starts: np.ndarray
    regimes: list[str]
    bench_values: np.ndarray
    bench_keys: np.ndarray
    bench_stats: dict[str, np.ndarray]
    dates: pd.DatetimeIndex
    cash: float
    risk_free: float | np.ndarray
    periods: int
    keep_values: bool
    data: dict
    yields: np.ndarray | None = None
    yield_settings: tuple = ()
    scenarios: tuple[str, ...] = ()

    def chunks(self) -> list[tuple[int, int]]:
        """(start, stop) of every chunk, in combination order."""
        return [(s, min(self.size, s + self.chunk)) for s in range(0, self.size, self.chunk)]


class Chunk(NamedTuple):
    """The combinations [start, stop): their statistic columns (name -> [stop - start]
    array, in table order) and, when the plan keeps them, their daily values [N, g]."""

    start: int
    stop: int
    columns: dict[str, np.ndarray]
    values: np.ndarray | None


def _setting_keys(costs: pipeline.Costs, yields: np.ndarray) -> np.ndarray:
    """[G, 5] each combination's benchmark setting: fees, slippage, threshold (-1: none),
    calendar rule (-1: none), cash yield column (-1: none). The benchmark has its own
    rebalance rule when the config gives one; it ignores the no-trade band."""
    settings = (costs.fees, costs.slippage, costs.bench_threshold, costs.bench_period, yields)
    return np.column_stack([np.nan_to_num(c.astype(float), nan=-1.0) for c in settings])


def benchmark_of(
    config: Config,
    axes: list[grid.Axis],
    index: np.ndarray,
    bench_keys: np.ndarray,
    yield_settings: tuple = (),
) -> np.ndarray:
    """[g] column, among the distinct benchmark settings `bench_keys`, of the benchmark of
    each combination of `index` ([axes, g]): its costs, rebalance rule and cash yield."""
    costs = pipeline.execution_costs(config, axes, index)
    yields = pipeline.cash_yield_columns(config, axes, index, yield_settings)
    return _bench_column(_setting_keys(costs, yields), bench_keys)


def _bench_column(keys: np.ndarray, bench_keys: np.ndarray) -> np.ndarray:
    """[g] position in `bench_keys` (sorted, distinct rows) of each row of `keys`."""
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    where = {tuple(row): u for u, row in enumerate(bench_keys.tolist())}
    return np.array([where[tuple(row)] for row in distinct.tolist()], dtype=np.int64)[
        inverse.ravel()
    ]


SETTINGS_BLOCK = 1 << 20  # combinations whose benchmark settings are read at once


def _settings(spec: SweepSpec, yield_settings: tuple) -> np.ndarray:
    """[U, 5] the distinct benchmark settings of the grid (`_setting_keys`, sorted), read by
    blocks of combinations: no [axes, G] array for a grid of any size."""
    shape = tuple(len(a.values) for a in spec.axes)
    found = []
    for start in range(0, spec.size, SETTINGS_BLOCK):
        combos = np.arange(start, min(spec.size, start + SETTINGS_BLOCK))
        index = np.array(np.unravel_index(combos, shape)).reshape(len(shape), -1)
        costs = pipeline.execution_costs(spec.base, spec.axes, index)
        yields = pipeline.cash_yield_columns(spec.base, spec.axes, index, yield_settings)
        keys = pd.DataFrame(_setting_keys(costs, yields)).drop_duplicates()  # no sort of G rows
        found.append(keys.to_numpy())
    return np.unique(np.concatenate(found), axis=0)


def _benchmarks(spec: SweepSpec, prices, dates, month_starts, unique: np.ndarray, yields):
    """Benchmark simulations (GridResult of U columns), one per distinct setting `unique`
    ([U, 5] keys, sorted: `_settings`), and those settings."""
    from engine.sim.fastsim import simulate_grid

    config = spec.base
    tickers = list(config.benchmark)
    close, price = pipeline.execution_prices(config, prices, tickers, dates)
    fees, slip, threshold, period, column = (unique[:, i] for i in range(5))
    weights = np.tile(np.array(list(config.benchmark.values()), dtype=float), (len(unique), 1, 1))
    decided = np.zeros((len(dates) + 1, len(unique)), dtype=np.int64, order="F")
    result = simulate_grid(
        close.to_numpy(),
        price.to_numpy(),
        weights,
        decided,
        month_starts,
        period.astype(np.int64),
        np.where(threshold < 0, np.nan, threshold),
        fees,
        slip,
        config.portfolio.initial_cash,
        cash_rates=yields if yields.shape[1] else None,
        rate_of=column.astype(np.int64),
    )
    return result, unique


def build_plan(
    spec: SweepSpec, source: PriceSource, keep_values: bool = False, chunk: int | None = None
) -> SweepPlan:
    """Load and check the market, prepare the decisions, simulate and measure the
    benchmarks: the once-per-sweep part (`chunk`: combinations per chunk, default
    memory-sized). Warnings about what shaped the sweep are given here (warn_shaped)."""
    config = spec.base
    market = pipeline.load_market(config, source)
    prices, dates = market.prices, market.dates
    universe = list(config.universe)
    # Row 0 holds the decision of the calendar date before the first backtest date.
    rows = np.arange(market.rows.start, market.rows.stop)
    decisions = prepare_any(config, spec.axes, market, rows)  # a blend's: its members'
    warnings_any(config, market, decisions)
    close, price = (
        np.ascontiguousarray(f.to_numpy())
        for f in pipeline.execution_prices(config, prices, universe, dates)
    )
    month_starts = period_starts(dates)
    periods = periods_per_year(config)
    yields, settings = pipeline.cash_yield_table(config, spec.axes, market, periods)
    unique = _settings(spec, settings)
    bench_run, bench_keys = _benchmarks(spec, prices, dates, month_starts, unique, yields)
    cash, rf = config.portfolio.initial_cash, risk_free(config, market)
    bench_values = bench_run.values
    bench_stats = stats.performance(bench_values, dates, cash, periods, rf)  # one per setting
    shape = distribution(bench_values, dates, cash)
    bench_stats |= {key: value for key, value in shape.items() if key not in RUN_ONLY}
    bench_stats |= stats.trading(
        bench_values, dates, bench_run.trade_dates, bench_run.fees_paid, bench_run.traded_value
    )
    if settings:
        bench_stats["cash_interest"] = bench_run.interest
    if config.portfolio.cash_matters:
        bench_stats["avg_exposure"] = bench_run.exposure
    if chunk is None:
        table_bytes = chunk_bytes(config, decisions.schedule, len(decisions.signals))
        chunk = memory_chunk(len(dates), len(decisions.signals), table_bytes)
    return SweepPlan(
        config=config,
        axes=list(spec.axes),
        shape=tuple(len(a.values) for a in spec.axes),
        size=spec.size,
        chunk=int(chunk),
        decisions=decisions,
        prior=market.first == 0,
        close=close,
        price=price,
        month_starts=month_starts,
        regimes=[r.name for r in config.parsed_regimes()],
        bench_values=bench_values,
        bench_keys=bench_keys,
        bench_stats=bench_stats,
        dates=dates,
        cash=cash,
        risk_free=rf,
        periods=periods,
        keep_values=keep_values,
        data=describe(prices) | describe_series(market.series),
        yields=yields,
        yield_settings=settings,
        scenarios=tuple(spec.scenarios),
    )


def evaluate_chunk(plan: SweepPlan, start: int, stop: int) -> Chunk:
    """Decide, simulate and measure the combinations [start, stop) of `plan`'s grid."""
    columns, values = evaluate_rows(plan, np.arange(start, stop), plan.keep_values)
    return Chunk(start, stop, columns, values)


def simulate_targets(plan: SweepPlan, targets, costs, yields: np.ndarray):
    """The kernel's GridResult of the decided `targets` (engine.targets.Targets) with each
    combination's `costs` and cash-yield columns `yields` on the plan's prices."""
    from engine.sim.fastsim import simulate_grid

    return simulate_grid(
        plan.close,
        plan.price,
        targets.tables,
        targets.codes.T,  # [rows, g] view, column-contiguous as the kernel wants
        plan.month_starts,
        costs.period,
        costs.threshold,
        costs.fees,
        costs.slippage,
        plan.cash,
        table_of=targets.table_of,
        tolerance=costs.tolerance,
        cash_rates=plan.yields if plan.yield_settings else None,
        rate_of=yields,
    )


def _simulated_rows(plan: SweepPlan, combos: np.ndarray):
    """(decided regimes [rows, g], the kernel's GridResult, each combination's benchmark
    column) of the grid rows `combos`."""
    config, axes = plan.config, plan.axes
    index = np.array(np.unravel_index(combos, plan.shape)).reshape(len(axes), -1)
    by_combo, targets = pipeline.decide_targets(
        config, plan.decisions, axes, index, prior=plan.prior
    )
    costs = pipeline.execution_costs(config, axes, index)
    yields = pipeline.cash_yield_columns(config, axes, index, plan.yield_settings)
    bench_column = _bench_column(_setting_keys(costs, yields), plan.bench_keys)
    return by_combo.T, simulate_targets(plan, targets, costs, yields), bench_column


def values_of_rows(plan: SweepPlan, combos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(daily values [N, g], benchmark Sharpe [g]) of the grid rows `combos`: what the odds
    read, without the statistics (the same values as `evaluate_rows`)."""
    _, result, bench_column = _simulated_rows(plan, combos)
    return np.asarray(result.values), plan.bench_stats["sharpe"][bench_column]


def evaluate_rows(
    plan: SweepPlan, combos: np.ndarray, keep_values: bool | np.ndarray = False
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """(statistic columns, daily values [N, g] when `keep_values`, or [N, k] of the
    positions `keep_values` among `combos`) of the grid rows `combos`, in their order: the
    same bits for a combination whichever rows it is evaluated with (the best and its
    neighbours, a sample, are looked up this way)."""
    config = plan.config
    decided, result, bench_column = _simulated_rows(plan, combos)
    dates = plan.dates
    measured = grid_statistics(
        result.values,
        plan.bench_values,
        bench_column,
        dates,
        plan.cash,
        plan.periods,
        plan.risk_free,
    )
    block = {key: measured[key] for key in PERFORMANCE}
    block |= stats.trading(
        result.values, dates, result.trade_dates, result.fees_paid, result.traded_value
    )
    if plan.yield_settings:
        block["cash_interest"] = result.interest
    block["switches"], shares = regime_statistics(decided[1:], len(plan.regimes))
    for k, share in enumerate(shares):
        block[f"time_in_{plan.regimes[k]}"] = share
    block |= {key: measured[key] for key in (*RELATIVE, *DISTRIBUTION)}
    if config.portfolio.cash_matters:  # the kernel's: V alone does not tell the cash
        block["avg_exposure"] = result.exposure
    for key, value in plan.bench_stats.items():
        block[f"benchmark_{key}"] = value[bench_column]
    columns = {key: np.asarray(value) for key, value in block.items()}
    if isinstance(keep_values, np.ndarray):
        return columns, np.asarray(result.values)[:, keep_values]  # a copy of those
    values = np.array(result.values) if keep_values else None  # own, not a view
    return columns, values


def warm_up() -> None:
    """Compile, or load from numba's cache, the kernels a chunk runs (tiny inputs)."""
    from engine.sim.fastsim import simulate_grid

    dates = pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"])
    ones = np.ones((len(dates), 1))
    result = simulate_grid(
        ones,
        ones,
        np.ones((1, 1, 1)),
        np.zeros((len(dates) + 1, 1), dtype=np.int64, order="F"),
        new_month(dates),
        np.zeros(1, dtype=bool),
        np.full(1, np.nan),
        np.zeros(1),
        np.zeros(1),
        1.0,
        table_of=np.zeros(1, dtype=np.int64),
    )
    grid_statistics(result.values, result.values, np.zeros(1, dtype=np.int64), dates, 1.0, 252, 0.0)


class Assembler:
    """Collects chunks in any order; `columns()` and `values` are in combination order."""

    def __init__(self, plan: SweepPlan) -> None:
        self.plan = plan
        self.blocks: dict[int, Chunk] = {}
        self.values = np.empty((len(plan.dates), plan.size)) if plan.keep_values else None
        self.done = 0  # combinations received

    def add(self, chunk: Chunk) -> None:
        """Take one chunk (its values go to their place at once: no second copy)."""
        if self.values is not None:
            self.values[:, chunk.start : chunk.stop] = chunk.values
        self.blocks[chunk.start] = chunk._replace(values=None)
        self.done += chunk.stop - chunk.start

    def table(self) -> pd.DataFrame:
        """The parameter values, then every statistic, one row per combination."""
        ordered = [self.blocks[start] for start, _ in self.plan.chunks()]
        everything = pipeline.grid_index(self.plan.axes)
        params = {a.name: a.column(everything[i]) for i, a in enumerate(self.plan.axes)}
        names = ordered[0].columns if ordered else {}
        columns = {key: np.concatenate([c.columns[key] for c in ordered]) for key in names}
        return pd.DataFrame(params | columns)
