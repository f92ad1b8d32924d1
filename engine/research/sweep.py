"""Parameter sweeps in one vectorized pass.

1. Expand the grid (engine.research.grid) and validate every axis value up front.
2. engine.pipeline, as for a run: prices, calendar and backtest dates once (every
   data check), each signal once per distinct parameter tuple, aligned to the
   calendar on the rows the backtest needs.
3. In chunks of combinations: decide regimes for all combinations at once
   (pipeline.decide_codes), and simulate them together with the numba kernel
   `engine.sim.fastsim.simulate_grid`.
5. Benchmarks: one simulation per distinct cost/rebalance setting.
6. Statistics in one numba pass per chunk (engine.metrics.fast_stats: the formulas of
   engine.metrics.stats, held to them by the tests).

Every combination equals `rotation run` of that combination's config
(tests/test_sweep.py checks it to 1e-9).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from engine import pipeline
from engine.data import PriceSource, describe
from engine.metrics import stats
from engine.metrics.fast_stats import PERFORMANCE, RELATIVE, grid_statistics
from engine.notices import collected
from engine.research import grid
from engine.research.sweep_config import SweepSpec
from engine.rules import new_month
from engine.runner import periods_per_year
from engine.targets import chunk_bytes

CHUNK_BYTES = 256 * 2**20  # working memory per chunk of combinations


@dataclass(frozen=True)
class SweepResult:
    """One row per combination: the parameter values, then every statistic."""

    table: pd.DataFrame
    axes: list[grid.Axis]
    dates: pd.DatetimeIndex
    values: np.ndarray | None = None  # [N, G] daily values, only when asked for
    data: dict | None = None  # per-ticker sha256 and range of the prices read (manifest)
    warnings: list[str] = field(default_factory=list)  # what shaped it (manifest, stderr)


def _chunk_size(n_dates: int, n_signals: int, table_bytes: int) -> int:
    """Combinations per chunk: signal bools, codes, values and returns per date, plus the
    combination's target table (engine.targets.chunk_bytes), within CHUNK_BYTES."""
    per_combo = (n_dates + 1) * (n_signals + 2 * 8 + 8 * 4) + table_bytes
    return max(1, CHUNK_BYTES // per_combo)


def _benchmarks(spec: SweepSpec, prices, dates, month_starts, costs: pipeline.Costs):
    """Benchmark simulations (GridResult of U columns), one per distinct cost setting, and
    each combination's column."""
    from engine.sim.fastsim import simulate_grid

    config = spec.base
    tickers = list(config.benchmark)
    close, price = pipeline.execution_prices(config, prices, tickers, dates)
    settings = (costs.fees, costs.slippage, costs.threshold, costs.monthly)
    keys = np.column_stack([np.nan_to_num(c.astype(float), nan=-1.0) for c in settings])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    fees, slip, threshold, monthly = (unique[:, i] for i in range(4))
    weights = np.tile(np.array(list(config.benchmark.values()), dtype=float), (len(unique), 1, 1))
    decided = np.zeros((len(dates) + 1, len(unique)), dtype=np.int64, order="F")
    result = simulate_grid(
        close.to_numpy(),
        price.to_numpy(),
        weights,
        decided,
        month_starts,
        monthly.astype(bool),
        np.where(threshold < 0, np.nan, threshold),
        fees,
        slip,
        config.portfolio.initial_cash,
    )
    return result, inverse.ravel()


def run_sweep(
    spec: SweepSpec,
    source: PriceSource,
    progress: Callable[[int, int], None] | None = None,
    keep_values: bool = False,
) -> SweepResult:
    """Evaluate every combination of the grid (see the module docstring); the warnings
    about what shaped it are kept in `SweepResult.warnings`.

    Args:
        keep_values: also return every combination's daily values ([N, G] floats:
            8 bytes x dates x combinations of memory).
    """
    with collected() as notes:
        result = _sweep(spec, source, progress, keep_values)
    return replace(result, warnings=list(notes))


def _sweep(
    spec: SweepSpec,
    source: PriceSource,
    progress: Callable[[int, int], None] | None,
    keep_values: bool,
) -> SweepResult:
    from engine.sim.fastsim import simulate_grid

    config = spec.base
    market = pipeline.load_market(config, source)
    prices, dates, n = market.prices, market.dates, len(market.dates)
    universe = list(config.universe)
    # Row 0 holds the decision of the calendar date before the first backtest date.
    rows = np.arange(market.rows.start, market.rows.stop)
    decisions = pipeline.prepare_decisions(config, spec.axes, market, rows)
    pipeline.shaping_warnings(config, market, decisions)
    close, price = (
        np.ascontiguousarray(f.to_numpy())
        for f in pipeline.execution_prices(config, prices, universe, dates)
    )
    month_starts = new_month(dates)
    regimes = config.parsed_regimes()
    everything = pipeline.grid_index(spec.axes)
    bench_run, bench_column = _benchmarks(
        spec, prices, dates, month_starts, pipeline.execution_costs(config, spec.axes, everything)
    )

    cash, rf = config.portfolio.initial_cash, config.stats.risk_free
    periods = periods_per_year(config)
    bench_values = bench_run.values
    bench_stats = stats.performance(bench_values, dates, cash, periods, rf)  # one per setting
    bench_stats |= stats.trading(
        bench_values, dates, bench_run.trade_dates, bench_run.fees_paid, bench_run.traded_value
    )
    columns: dict[str, np.ndarray] = {}
    kept = np.empty((n, spec.size)) if keep_values else None
    table_bytes = chunk_bytes(config, len(decisions.schedule.decisions))
    chunk = _chunk_size(n, len(decisions.signals), table_bytes)
    for start in range(0, spec.size, chunk):
        combos = np.arange(start, min(spec.size, start + chunk))
        index = everything[:, combos]
        by_combo, targets = pipeline.decide_targets(
            config, decisions, spec.axes, index, prior=market.first == 0
        )
        decided = by_combo.T  # [rows, g]: regimes, for the switch and time statistics
        costs = pipeline.execution_costs(config, spec.axes, index)
        result = simulate_grid(
            close,
            price,
            targets.tables,
            targets.codes.T,  # [rows, g] view, column-contiguous as the kernel wants
            month_starts,
            costs.monthly,
            costs.threshold,
            costs.fees,
            costs.slippage,
            cash,
            table_of=targets.table_of,
        )
        if kept is not None:
            kept[:, combos] = result.values
        measured = grid_statistics(
            result.values, bench_values, bench_column[combos], dates, cash, periods, rf
        )
        block = {key: measured[key] for key in PERFORMANCE}
        block |= stats.trading(
            result.values, dates, result.trade_dates, result.fees_paid, result.traded_value
        )
        block["switches"] = stats.switches(decided[1:])
        for k, share in stats.time_in_regime(decided[1:], range(len(regimes))).items():
            block[f"time_in_{regimes[k].name}"] = share
        block |= {key: measured[key] for key in RELATIVE}
        for key, value in bench_stats.items():
            block[f"benchmark_{key}"] = value[bench_column[combos]]
        for key, value in block.items():
            columns.setdefault(key, np.empty(spec.size, dtype=np.asarray(value).dtype))
            columns[key][combos] = value
        if progress:
            progress(int(combos[-1]) + 1, spec.size)

    params = {a.name: np.asarray(a.values)[everything[i]] for i, a in enumerate(spec.axes)}
    table = pd.DataFrame(params | columns)
    return SweepResult(table=table, axes=spec.axes, dates=dates, values=kept, data=describe(prices))


def neighbour_stability(result: SweepResult, metric: str) -> pd.DataFrame:
    """How much `metric` changes between neighbouring grid points.

    For each combination: the mean and minimum of the metric over its grid
    neighbours (one step up or down along each axis), and `gap` = metric -
    neighbour mean. A lone peak has a high metric and a large gap; a robust
    region has neighbours close to it.
    """
    shape = tuple(len(a.values) for a in result.axes)
    grid_values = result.table[metric].to_numpy(dtype=float).reshape(shape)
    neighbours = []
    for axis in range(len(shape)):
        for step in (-1, 1):
            moved = np.full(shape, np.nan)
            source = [slice(None)] * len(shape)
            target = [slice(None)] * len(shape)
            source[axis] = slice(max(0, step), shape[axis] + min(0, step))
            target[axis] = slice(max(0, -step), shape[axis] - max(0, step))
            moved[tuple(target)] = grid_values[tuple(source)]
            neighbours.append(moved)
    stack = np.stack(neighbours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods (1-point grids)
        mean, low = np.nanmean(stack, axis=0), np.nanmin(stack, axis=0)
    return pd.DataFrame(
        {
            "neighbour_mean": mean.ravel(),
            "neighbour_min": low.ravel(),
            "gap": grid_values.ravel() - mean.ravel(),
        },
        index=result.table.index,
    )


def axis_sensitivity(result: SweepResult, metric: str) -> dict[str, float]:
    """Median |change of `metric`| per one-step move along each axis."""
    shape = tuple(len(a.values) for a in result.axes)
    grid_values = result.table[metric].to_numpy(dtype=float).reshape(shape)
    out = {}
    for i, axis in enumerate(result.axes):
        if shape[i] > 1:
            out[axis.name] = float(np.nanmedian(np.abs(np.diff(grid_values, axis=i))))
    return out
