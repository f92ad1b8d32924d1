"""What a blend's run shows of its members (engine/blend_run.py runs the blend).

Per member (`MemberRun`): its decided regime and target on C, its share of what the
blend trades, its return contribution per backtest date t,

    c_{j,t} = s_{t-1} W_j sum_i target_{j,i}(t-1) r_{i,t},

target_{j,i}(t-1) the member's target traded on the backtest date before t (decided on
the date of C before that), s the blend's own volatility scale of that traded target
(1 without one), r_{i,t} asset i's close-to-close return (0 on the first backtest date,
when the portfolio starts in cash); its values traded alone (its targets by themselves
on the blend's dates, costs, rebalance rule, band and cash yield: one call of the numba
kernel engine.sim.fastsim for every member), and its rankings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType

import numpy as np
import pandas as pd

from engine import pipeline
from engine.config.blend import Blend
from engine.metrics import stats
from engine.rules import period_starts


@dataclass(frozen=True)
class MemberRun:
    """One member of a blend run.

    Attributes:
        name, weight: its name and W_j.
        config: the member as it ran in the blend (engine.config.blend.Blend.member_config).
        regimes: its decided regime on C.
        targets: its decided target on C over its own universe (W_j not applied).
        scales: its own volatility target's scale on C (None without one).
        traded: [N + 1, A] its target over the blend's universe as the blend trades it
            (row j: traded on backtest date j; row N: decided at the last), W_j and the
            blend's scale applied: its share of the blend.
        contribution: [N] its return contribution per backtest date (engine/blend_parts.py).
        alone: [N] the values of its targets traded alone.
        ranks: its rankings (ranks.csv's rows, regimes named `member:regime`).
    """

    name: str
    weight: float
    config: object
    regimes: pd.Series
    targets: pd.DataFrame
    scales: pd.Series | None
    traded: np.ndarray
    contribution: np.ndarray
    alone: np.ndarray
    ranks: pd.DataFrame


@dataclass(frozen=True)
class BlendRun:
    """What a blend's run folder adds (engine/report/blend_files.py): each member's run
    and its statistics traded alone ({member: {statistic: value}})."""

    members: list[MemberRun]
    alone_stats: dict[str, dict]


def traded_rows(values: np.ndarray, market: pipeline.Market, default: np.ndarray) -> np.ndarray:
    """[N + 1, A] from targets decided on C ([C, A]): row j traded on backtest date j (the
    date of C before it, or `default` when C has none), row N decided at the last date."""
    rows = values[market.rows]
    return np.vstack([default[None], rows]) if market.first == 0 else rows


def member_runs(blend: Blend, market, members, ranks, blend_rows) -> list[MemberRun]:
    """Each member's regimes, targets, share of the blend, contribution, alone values and
    rankings (see MemberRun)."""
    default, scale = blend_rows
    universe = list(blend.universe)
    cal, dates = market.calendar, market.dates
    close, _ = pipeline.execution_prices(blend, market.prices, universe, dates)
    close = close.to_numpy()
    returns = np.zeros_like(close)
    returns[1:] = close[1:] / close[:-1] - 1.0
    scales = traded_rows(scale[:, None], market, np.ones(1))[:, 0]
    alone_rows, runs = [], []
    for j, (member, decided) in enumerate(zip(blend.members, members, strict=True)):
        config = blend.member_config(j)
        table = decided.targets.tables[decided.targets.table_of[0]]
        own = table[decided.targets.codes[0]]
        wide = np.zeros((len(cal), len(universe)))
        columns = [universe.index(t) for t in config.universe]
        wide[:, columns] = own
        start = np.zeros(len(universe))
        start[columns] = table[len(config.regimes) - 1]
        rows = traded_rows(wide, market, start)
        alone_rows.append(rows)
        traded = member.weight * rows * scales[:, None]
        contribution = np.zeros(len(dates))
        contribution[1:] = np.einsum("ja,ja->j", traded[:-2], returns[1:])
        regime_names = np.asarray([r.name for r in config.regimes], dtype=object)
        regimes = pd.Series(regime_names[decided.regimes[0]], index=cal, name="regime")
        runs.append(
            MemberRun(
                name=member.name,
                weight=member.weight,
                config=config,
                regimes=regimes,
                targets=pd.DataFrame(own, index=cal, columns=list(config.universe)),
                scales=_own_scales(decided, cal),
                traded=traded,
                contribution=contribution,
                alone=np.zeros(0),
                ranks=ranks[j],
            )
        )
    values = _alone_values(blend, market, np.stack(alone_rows))
    return [replace(run, alone=values[:, j]) for j, run in enumerate(runs)]


def _own_scales(decided, cal: pd.DatetimeIndex) -> pd.Series | None:
    """A member's own volatility target's scale on C (None without one)."""
    targets = decided.targets
    if targets.scales is None:
        return None
    scale = targets.scales[targets.table_of[0]][targets.codes[0]]
    return pd.Series(scale, index=cal, name="scale")


def member_ranks(blend, j, decided, market, steps: ModuleType) -> pd.DataFrame:
    """Member j's ranks.csv rows on its own decision dates, its regimes named
    `member:regime` (`decided`: the blend's decisions, j's rankings and regimes on C)."""
    decisions, record, codes = decided
    source = next(s for s in decisions.sources if j in s.members)
    config = blend.member_config(j)
    names = np.asarray([r.name for r in config.regimes], dtype=object)
    regimes = pd.Series(names[codes], index=market.calendar)  # ranks.csv's `active`
    ranks = steps.rank_table(config, market.calendar, source.decisions, record, regimes, market)
    if blend.tranches_of is not None:  # the source decides every tranche's dates
        schedule = source.decisions.schedule
        k = source.members.index(j)
        own = market.calendar[schedule.decisions[schedule.columns[k]]]
        ranks = ranks[ranks["date"].isin(own)]
    name = blend.members[j].name
    return ranks.assign(regime=name + ":" + ranks["regime"].astype(str))


def _alone_values(blend: Blend, market, rows: np.ndarray) -> np.ndarray:
    """[N, J] each member's traded targets (`rows`: [J, N + 1, A]) simulated alone on the
    blend's dates with its costs, rebalance rule, band and cash yield."""
    from engine.sim.fastsim import simulate_grid

    count = rows.shape[0]
    universe = list(blend.universe)
    close, price = pipeline.execution_prices(blend, market.prices, universe, market.dates)
    costs = pipeline.execution_costs(blend, [], np.zeros((0, count), dtype=np.int64))
    periods = blend.annual_periods()
    yields, settings = pipeline.cash_yield_table(blend, [], market, periods)
    rate_of = pipeline.cash_yield_columns(blend, [], np.zeros((0, count), dtype=np.int64), settings)
    decided = np.tile(np.arange(rows.shape[1], dtype=np.int64)[:, None], (1, count))
    result = simulate_grid(
        close.to_numpy(),
        price.to_numpy(),
        rows,
        np.asfortranarray(decided),
        period_starts(market.dates),
        costs.period,
        costs.threshold,
        costs.fees,
        costs.slippage,
        float(blend.portfolio.initial_cash),
        table_of=np.arange(count, dtype=np.int64),
        tolerance=costs.tolerance,
        cash_rates=yields if settings else None,
        rate_of=rate_of,
    )
    return np.asarray(result.values)


def alone_stats(blend: Blend, market, runs: list[MemberRun], rf) -> dict[str, dict]:
    """{member: performance statistics of its values traded alone} (engine.metrics.stats)."""
    values = np.column_stack([run.alone for run in runs])
    measured = stats.performance(
        values, market.dates, blend.portfolio.initial_cash, blend.annual_periods(), rf
    )
    return {
        run.name: {key: float(np.asarray(value)[j]) for key, value in measured.items()}
        for j, run in enumerate(runs)
    }
