"""Parameter sweeps in one vectorized pass.

1. Expand the grid (engine.research.grid) and validate every axis value up front.
2. engine.pipeline, as for a run: prices, calendar and backtest dates once (every
   data check), each signal once per distinct parameter tuple, aligned to the
   calendar on the rows the backtest needs.
3. Benchmarks: one simulation per distinct cost/rebalance setting.
4. In chunks of combinations: decide regimes for all combinations at once
   (pipeline.decide_codes), and simulate them together with the numba kernel
   `engine.sim.fastsim.simulate_grid`.
5. Statistics in one numba pass per chunk (engine.metrics.fast_stats: the formulas of
   engine.metrics.stats, held to them by the tests).

Steps 2-3 build a `SweepPlan` and steps 4-5 are `evaluate_chunk` (engine.research.chunks),
so chunks can also run on Dask workers or be read back after an interruption
(engine.research.distributed: `rotation sweep --workers/--scheduler/--resume`); the
table is assembled in combination order, identical whichever way the chunks ran.

Every combination equals `rotation run` of that combination's config
(tests/test_sweep.py checks it to 1e-9).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.data import PriceSource
from engine.notices import collected
from engine.research import grid
from engine.research.chunks import (
    CHUNK_BYTES,  # noqa: F401 (re-exported: bench/sweep_speed.py reports it)
    Assembler,
    SweepPlan,
    build_plan,
    evaluate_chunk,
)
from engine.research.sweep_config import SweepSpec


@dataclass(frozen=True)
class SweepResult:
    """One row per combination: the parameter values, then every statistic."""

    table: pd.DataFrame
    axes: list[grid.Axis]
    dates: pd.DatetimeIndex
    values: np.ndarray | None = None  # [N, G] daily values, only when asked for
    data: dict | None = None  # per-ticker sha256 and range of the prices read (manifest)
    warnings: list[str] = field(default_factory=list)  # what shaped it (manifest, stderr)
    bench_values: np.ndarray | None = None  # [N, U] each distinct benchmark setting's values
    bench_keys: np.ndarray | None = None  # [U, 5] those settings (chunks.benchmark_of reads)
    yield_settings: tuple = ()  # the grid's distinct cash yields (chunks.benchmark_of reads)
    risk_free: float | np.ndarray = 0.0  # the annual rate or a ticker's per-date series


def run_sweep(
    spec: SweepSpec,
    source: PriceSource,
    progress: Callable[[int, int], None] | None = None,
    keep_values: bool = False,
    chunk_size: int | None = None,
) -> SweepResult:
    """Evaluate every combination of the grid in this process (see the module docstring);
    the warnings about what shaped it are kept in `SweepResult.warnings`.

    Args:
        progress: called with (combinations done, combinations) after each chunk.
        keep_values: also return every combination's daily values ([N, G] floats:
            8 bytes x dates x combinations of memory).
        chunk_size: combinations per chunk (default: memory-sized, CHUNK_BYTES); the
            result does not depend on it.
    """
    with collected() as notes:
        plan = build_plan(spec, source, keep_values, chunk_size)
        assembler = Assembler(plan)
        for start, stop in plan.chunks():
            assembler.add(evaluate_chunk(plan, start, stop))
            if progress:
                progress(stop, spec.size)
    return result_of(plan, assembler, notes)


def result_of(plan: SweepPlan, assembler: Assembler, notes: list[str]) -> SweepResult:
    """The SweepResult of a plan whose chunks have all been assembled."""
    return SweepResult(
        table=assembler.table(),
        axes=plan.axes,
        dates=plan.dates,
        values=assembler.values,
        data=plan.data,
        warnings=list(notes),
        bench_values=plan.bench_values,
        bench_keys=plan.bench_keys,
        yield_settings=plan.yield_settings,
        risk_free=plan.risk_free,
    )


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
