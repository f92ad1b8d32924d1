"""Parameter sweeps in one vectorized pass.

1. Expand the grid (engine.grid) and validate every axis value up front.
2. Load prices once; build the trading calendar and backtest dates once.
3. Compute each signal once per distinct parameter tuple, align it to the
   calendar, keep the rows the backtest needs.
4. In chunks of combinations: gather each combination's signal columns,
   decide regimes for all combinations at once, and simulate them together
   with the numba kernel `engine.fastsim.simulate_grid`.
5. Benchmarks: one simulation per distinct cost/rebalance setting.
6. Statistics in one numba pass per chunk (engine.fast_stats: the formulas of
   engine.stats, held to them by the tests).

Every combination equals `rotation run` of that combination's config
(tests/test_sweep.py checks it to 1e-9).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import calendar, grid, stats
from engine.config import Config, ThresholdRule
from engine.data import PriceSource, describe
from engine.errors import ConfigError
from engine.fast_stats import PERFORMANCE, RELATIVE, grid_statistics
from engine.runner import backtest_dates, periods_per_year, series_values
from engine.schedule import new_month
from engine.sweep_config import SweepSpec
from strategies.regimes import decide
from strategies.signals import bars_needed, signal_grid

CHUNK_BYTES = 256 * 2**20  # working memory per chunk of combinations


@dataclass(frozen=True)
class SweepResult:
    """One row per combination: the parameter values, then every statistic."""

    table: pd.DataFrame
    axes: list[grid.Axis]
    dates: pd.DatetimeIndex
    values: np.ndarray | None = None  # [N, G] daily values, only when asked for
    data: dict | None = None  # per-ticker sha256 and range of the prices read (manifest)


def _signal_tables(spec: SweepSpec, prices: dict, instants: np.ndarray, rows: slice):
    """Per signal: (axes positions it owns, aligned bools [distinct parameter sets, rows])."""
    overrides = spec.base.data.close_times
    tables = {}
    for name, signal in spec.base.signals.items():
        owned = [i for i, a in enumerate(spec.axes) if a.path[:2] == ("signals", name)]
        x = series_values(prices, signal.series)
        own_instants = calendar.series_close_instants(signal.series, x.index, overrides)
        # Each set through the signal's own model, so a range's 20.0 becomes the int 20.
        sets = [
            type(signal)
            .model_validate(
                signal.model_dump()
                | {spec.axes[i].path[2]: v for i, v in zip(owned, values, strict=True)}
            )
            .model_dump(exclude={"type", "series"})
            for values in grid.combinations([spec.axes[i] for i in owned])
        ]
        for params in sets:
            needed = bars_needed(signal.type, params)
            if len(x) < needed:
                raise ConfigError(
                    f"{spec.origin}: signals.{name}: {signal.series} has {len(x)} bars, "
                    f"fewer than the {needed} that {params} needs"
                )
        own = signal_grid(signal.type, x, sets)
        aligned = calendar.align_asof(own, own_instants, instants)[rows]
        tables[name] = (owned, np.ascontiguousarray(aligned.T))
    return tables


def _per_combo(spec: SweepSpec, index: np.ndarray, path: tuple, default: float) -> np.ndarray:
    """Value of the parameter at `path` for each combination (`index`: [axes, g] positions)."""
    for i, axis in enumerate(spec.axes):
        if axis.path == path:
            return np.asarray(axis.values, dtype=float)[index[i]]
    return np.full(index.shape[1], default, dtype=float)


def _weights(spec: SweepSpec, index: np.ndarray, universe: list[str]) -> np.ndarray:
    """[g, K, A] regime weights of each combination."""
    regimes = spec.base.regimes
    out = np.zeros((index.shape[1], len(regimes), len(universe)))
    for k, regime in enumerate(regimes):
        for a, ticker in enumerate(universe):
            base = regime.weights.get(ticker, 0.0)
            out[:, k, a] = _per_combo(spec, index, ("regimes", k, "weights", ticker), base)
    return out


def _costs(spec: SweepSpec, index: np.ndarray):
    """fees, slippage (fractions), threshold (NaN = none) and monthly flag per combination."""
    execution = spec.base.execution
    fees = _per_combo(spec, index, ("execution", "fees_bps"), execution.fees_bps) / 10_000
    slip = _per_combo(spec, index, ("execution", "slippage_bps"), execution.slippage_bps) / 10_000
    rule = execution.rebalance
    base_threshold = rule.threshold if isinstance(rule, ThresholdRule) else math.nan
    threshold = _per_combo(spec, index, ("execution", "rebalance", "threshold"), base_threshold)
    monthly = np.full(index.shape[1], rule == "monthly")
    return fees, slip, threshold, monthly


def _chunk_size(n_dates: int, n_signals: int) -> int:
    per_combo = (n_dates + 1) * (n_signals + 8 + 8 * 4)  # bools, decided, values and returns
    return max(1, CHUNK_BYTES // per_combo)


def _market(config: Config, prices: dict, tickers: list[str], dates: pd.DatetimeIndex):
    """(close, execution price) arrays [N, A] on the backtest dates."""
    close = np.column_stack([prices[t]["Close"].reindex(dates).to_numpy() for t in tickers])
    if config.execution.timing == "next_open":
        price = np.column_stack([prices[t]["Open"].reindex(dates).to_numpy() for t in tickers])
    else:
        price = close
    return np.ascontiguousarray(close), np.ascontiguousarray(price)


def _benchmarks(spec, prices, dates, month_starts, costs):
    """Benchmark simulations (GridResult of U columns), one per distinct cost setting, and
    each combination's column."""
    from engine.fastsim import simulate_grid

    config = spec.base
    tickers = list(config.benchmark)
    close, price = _market(config, prices, tickers, dates)
    keys = np.column_stack([np.nan_to_num(c.astype(float), nan=-1.0) for c in costs])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    fees, slip, threshold, monthly = (unique[:, i] for i in range(4))
    weights = np.tile(np.array(list(config.benchmark.values()), dtype=float), (len(unique), 1, 1))
    decided = np.zeros((len(dates) + 1, len(unique)), dtype=np.int64, order="F")
    result = simulate_grid(
        close,
        price,
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
    """Evaluate every combination of the grid (see the module docstring).

    Args:
        keep_values: also return every combination's daily values ([N, G] floats:
            8 bytes x dates x combinations of memory).
    """
    from engine.fastsim import simulate_grid

    config = spec.base
    prices = source.load(config.tickers())
    universe = list(config.universe)
    cal, instants = calendar.trading_calendar(prices, universe, config.data.close_times)
    dates = backtest_dates(config, prices, cal)
    first, n = cal.get_loc(dates[0]), len(dates)
    # Row 0 holds the decision of the calendar date before the first backtest date.
    signals = _signal_tables(spec, prices, instants, slice(max(first - 1, 0), first + n))
    close, price = _market(config, prices, universe, dates)
    month_starts = new_month(dates)
    regimes = config.parsed_regimes()
    shape = tuple(len(a.values) for a in spec.axes)
    everything = np.array(np.unravel_index(np.arange(spec.size), shape))
    bench_run, bench_column = _benchmarks(
        spec, prices, dates, month_starts, _costs(spec, everything)
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
    chunk = _chunk_size(n, len(signals))
    for start in range(0, spec.size, chunk):
        combos = np.arange(start, min(spec.size, start + chunk))
        index = everything[:, combos]
        # Combinations along axis 0 here ([g, rows], each row contiguous for the kernel).
        gathered = {}
        for name, (owned, table) in signals.items():
            sizes = [shape[i] for i in owned]
            column = np.ravel_multi_index(index[owned], sizes) if owned else np.zeros_like(combos)
            gathered[name] = table[column]
        rows = first + n - max(first - 1, 0)
        by_combo = (
            decide(regimes, gathered)
            if gathered
            else np.full((len(combos), rows), len(regimes) - 1)
        )
        if first == 0:  # no calendar date before the start: the default regime
            by_combo = np.hstack([np.full((len(combos), 1), len(regimes) - 1), by_combo])
        decided = by_combo.T  # [rows, g] view, column-contiguous as the kernel wants
        fees, slip, threshold, monthly = _costs(spec, index)
        result = simulate_grid(
            close,
            price,
            _weights(spec, index, universe),
            np.asfortranarray(decided),
            month_starts,
            monthly,
            threshold,
            fees,
            slip,
            cash,
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
