"""`rotation timing`: how much of a result is the luck of the decision day.

The same weekly, monthly, quarterly or annual strategy decided on another day of its
period can end several points of CAGR apart (rebalance timing luck: Hoffstein, Faber
and Braun, 2020). For a config this runs every `decide_day` of its period, 1..L and
-L..-1 (L = 5, 21, 63, 252 as in SPEC 11's tranches), and the blend of N tranches
(`execution.tranches`, N = 4 unless asked, or the config's own), in one pass:

1. the sweep's plan (engine.research.chunks.build_plan) over a decide_day axis of the
   2L days: prices, calendar, signals and rankings aligned once on the union of the
   days' decision dates, the benchmark simulated;
2. every day decided (engine.pipeline.decide_targets), the tranche blend's target
   rows summed from the days it holds (engine.blend_tables: its tranches' days are
   among them), the tables put side by side;
3. one call of the numba kernel (engine.sim.fastsim) for the 2L + 1 portfolios, and
   their statistics (engine.metrics.stats).

Each day's numbers equal a sweep over the same days, and the tranche blend's equal
`rotation run` of the config with `execution.tranches: N` (tests/test_timing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine import pipeline
from engine.blend import Decided, take_combos
from engine.blend_tables import blend_targets
from engine.config import Config
from engine.config.blend import TRANCHE_SPAN, Blend, tranche_blend
from engine.errors import ConfigError
from engine.limits import MAX_TRANCHES
from engine.metrics import stats
from engine.notices import collected
from engine.research.grid import Axis
from engine.research.sweep_config import SweepSpec
from engine.targets import Targets

DEFAULT_TRANCHES = 4
SHOWN = ("cagr", "sharpe", "max_drawdown")


@dataclass(frozen=True)
class TimingResult:
    """Every decision day of a config and its tranche blend, side by side.

    Attributes:
        config: the config as given (its file, else its name); `name` its name.
        decide: its schedule (weekly, monthly, quarterly, annual).
        days: the decide_day of each column of `values`.
        table: per day: decide_day, cagr, volatility, sharpe, max_drawdown, calmar,
            total_return, trade_dates.
        tranches: the tranche blend's n (tranches), cagr, volatility, sharpe,
            max_drawdown, calmar, total_return, trade_dates.
        benchmark: the benchmark's statistics (same keys, no n).
        dates: the backtest dates; values [N, days], tranche_values and bench_values [N]
            the daily values.
        benchmark_label: the benchmark's weights ({ticker: weight}).
        initial_cash: the portfolios' starting cash.
        data: per-ticker sha256 and range of the prices read (the manifest).
        warnings: what shaped it (also said on stderr).
    """

    config: str
    name: str
    decide: str
    days: list[int]
    table: pd.DataFrame
    tranches: dict
    benchmark: dict
    dates: pd.DatetimeIndex
    values: np.ndarray
    tranche_values: np.ndarray
    bench_values: np.ndarray
    benchmark_label: dict
    initial_cash: float
    data: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def spread(self) -> dict:
        """The lowest, median and highest CAGR over the decision days."""
        cagr = self.table["cagr"].to_numpy(dtype=float)
        return {
            "cagr_min": float(np.nanmin(cagr)),
            "cagr_median": float(np.nanmedian(cagr)),
            "cagr_max": float(np.nanmax(cagr)),
        }

    def as_dict(self) -> dict:
        """The `rotation timing --json` document (timing.json)."""
        days = [
            {"decide_day": int(row.decide_day), **{k: float(getattr(row, k)) for k in SHOWN}}
            | {"trade_dates": int(row.trade_dates)}
            for row in self.table.itertuples()
        ]
        return {
            "config": self.config,
            "decide": self.decide,
            "days": days,
            "tranches": {"n": int(self.tranches["n"]), **{k: self.tranches[k] for k in SHOWN}},
            "spread": self.spread,
            "benchmark": {k: self.benchmark[k] for k in SHOWN},
        }


def timing_days(decide: str) -> list[int]:
    """1..L then -L..-1: every decision day `rotation timing` runs."""
    span = TRANCHE_SPAN[decide]
    return [*range(1, span + 1), *range(-span, 0)]


def _plain(config: Config, tranches: int | None) -> tuple[Config, int]:
    """(the config to time, without tranches or decide_day; the tranche count)."""
    if isinstance(config, Blend):
        if config.tranches_of is None:
            raise ConfigError(
                f"{config.name}: rotation timing takes one strategy, not a blend; time each "
                "member's config on its own"
            )
        tranches = tranches or len(config.members)
        config = config.tranches_of
    count = tranches or DEFAULT_TRANCHES
    if not 2 <= count <= MAX_TRANCHES:
        raise ConfigError(f"--tranches {count}: must be 2 to {MAX_TRANCHES}")
    if config.execution.decide not in TRANCHE_SPAN:
        raise ConfigError(
            f"{config.name}: execution.decide is daily: every date decides, so there is no "
            "day of a period to choose; rotation timing needs decide: weekly, monthly, "
            "quarterly or annual"
        )
    execution = config.execution.model_copy(update={"decide_day": None, "tranches": None})
    return config.model_copy(update={"execution": execution}), count


def timing(config: Config, source, tranches: int | None = None, origin: str = "") -> TimingResult:
    """Every decision day of `config` and its blend of `tranches` tranches, in one pass
    (the module docstring); `origin` names the config (its file as given)."""
    from engine.research.chunks import benchmark_of, build_plan

    config, count = _plain(config, tranches)
    days = timing_days(config.execution.decide)
    axes = [Axis(("execution", "decide_day"), tuple(days))]
    spec = SweepSpec(raw=config.resolved(), base=config, axes=axes, origin=origin or config.name)
    with collected() as notes:
        plan = build_plan(spec, source, chunk=len(days))
        index = pipeline.grid_index(axes)
        values, trade_dates = _simulate(plan, config, axes, index, count)
    column = benchmark_of(config, axes, index[:, :1], plan.bench_keys, plan.yield_settings)[0]
    measured = stats.performance(values, plan.dates, plan.cash, plan.periods, plan.risk_free)
    table = pd.DataFrame({"decide_day": days})
    for key in ("cagr", "volatility", "sharpe", "max_drawdown", "calmar", "total_return"):
        table[key] = np.asarray(measured[key])[: len(days)]
    table["trade_dates"] = trade_dates[: len(days)]
    blend = {key: float(np.asarray(table_value)[-1]) for key, table_value in measured.items()}
    blend |= {"n": count, "trade_dates": int(trade_dates[-1])}
    bench = {key: float(value[column]) for key, value in plan.bench_stats.items()}
    return TimingResult(
        config=origin or config.name,
        name=config.name,
        decide=config.execution.decide,
        days=days,
        table=table,
        tranches=blend,
        benchmark=bench,
        dates=plan.dates,
        values=values[:, : len(days)],
        tranche_values=values[:, -1],
        bench_values=plan.bench_values[:, column],
        benchmark_label=dict(config.benchmark),
        initial_cash=plan.cash,
        data=plan.data,
        warnings=list(notes),
    )


def _simulate(plan, config: Config, axes, index: np.ndarray, count: int):
    """([N, days + 1] values, [days + 1] trade dates): every day and, last, the tranche
    blend, simulated by one call of the kernel."""
    from engine.research.chunks import simulate_targets

    regimes, targets = pipeline.decide_targets(config, plan.decisions, axes, index, plan.prior)
    tranche = tranche_blend(
        config.model_copy(
            update={"execution": config.execution.model_copy(update={"tranches": count})}
        )
    )
    days = list(axes[0].values)
    decided = Decided(regimes, targets, None)
    members = [
        take_combos(decided, np.array([days.index(m.config.execution.day)]))
        for m in tranche.members
    ]
    blended = blend_targets(tranche, None, [], np.zeros((0, 1), dtype=np.int64), members)
    tables = _side_by_side(targets, blended)
    costs = pipeline.execution_costs(config, axes, index[:, [*range(index.shape[1]), 0]])
    yields = pipeline.cash_yield_columns(
        config, axes, index[:, [0] * (index.shape[1] + 1)], plan.yield_settings
    )
    result = simulate_targets(plan, tables, costs, yields)
    return np.asarray(result.values), np.asarray(result.trade_dates)


def _side_by_side(days: Targets, blend: Targets) -> Targets:
    """One set of tables and codes: the days' tables, then the tranche blend's."""
    size = max(days.tables.shape[1], blend.tables.shape[1])
    tables = np.zeros((len(days.tables) + 1, size, days.tables.shape[2]))
    tables[: len(days.tables), : days.tables.shape[1]] = days.tables
    tables[-1, : blend.tables.shape[1]] = blend.tables[0]
    table_of = np.concatenate([days.table_of, [len(days.tables)]]).astype(np.int64)
    codes = np.vstack([days.codes, blend.codes])
    return Targets(tables, table_of, codes)
