"""`rotation run` of a blend (or a config in tranches): engine.runner's steps, the targets
decided by engine.blend, and what a blend's reports show of its members.

1. The market on the blend's calendar C (every traded asset of every member priced).
2. Each member decided on C (its rankings recorded), the blend's target rows summed
   (engine.blend_tables); the blend is then simulated, once, as one portfolio by
   engine.runner's `run_portfolio` (vectorbt), the benchmark likewise, and measured by
   `compute_stats` (time in regime over the joined names).
3. Per member (`MemberRun`): its decided regime and target on C, its return
   contribution per backtest date t,

       c_{j,t} = s_{t-1} W_j sum_i target_{j,i}(t-1) r_{i,t},

   target_{j,i}(t-1) the member's target traded on the backtest date before t (decided
   on the date of C before that), s the blend's own volatility scale of that traded
   target (1 without one), r_{i,t} asset i's close-to-close return (0 on the first
   backtest date, when the portfolio starts in cash); and its values traded alone (its
   targets by themselves on the blend's dates, costs, rebalance rule and cash yield;
   the numba kernel engine.sim.fastsim).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType

import numpy as np
import pandas as pd

from engine import pipeline
from engine.blend import decide_members, prepare, shaping_warnings
from engine.blend_tables import blend_targets
from engine.config import RegimeConfig
from engine.config.blend import SEPARATOR, Blend
from engine.metrics import stats
from engine.notices import collected


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
        contribution: [N] its return contribution per backtest date (module docstring).
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


def run_blend(blend: Blend, source, series: dict | None, steps: ModuleType):
    """Run a blend end to end (the module docstring's steps), returning an
    engine.runner.BacktestResult; the warnings about what shaped it are kept in its
    `warnings`. `steps`: engine.runner itself, whose steps the blend runs (handed over
    by its `run_backtest`, so that this module does not import it back)."""
    with collected() as notes:
        result = _run(blend, source, series, steps)
    return replace(result, warnings=list(notes))


def _traded(values: np.ndarray, market: pipeline.Market, default: np.ndarray) -> np.ndarray:
    """[N + 1, A] from targets decided on C ([C, A]): row j traded on backtest date j (the
    date of C before it, or `default` when C has none), row N decided at the last date."""
    rows = values[market.rows]
    return np.vstack([default[None], rows]) if market.first == 0 else rows


def _run(blend: Blend, source, series, steps: ModuleType):
    market = pipeline.load_market(blend, source, series)
    cal, dates, universe = market.calendar, market.dates, list(blend.universe)
    decisions = prepare(blend, [], market, np.arange(len(cal)), True)
    shaping_warnings(blend, market, decisions)
    records = [{} for _ in blend.members]
    index = np.zeros((0, 1), dtype=np.int64)
    members = decide_members(decisions, [], index, records=records)
    targets_c = blend_targets(blend, decisions, [], index, members)
    table = targets_c.tables[0]
    targets = pd.DataFrame(table[targets_c.codes[0]], index=cal, columns=universe)
    scale = np.ones(len(cal))
    if targets_c.scales is not None:
        scale = targets_c.scales[0][targets_c.codes[0]]
    names = _names(blend, [m.regimes[0] for m in members], cal)
    default = _default(blend, members, universe)
    rows = _traded(targets.to_numpy(), market, default)
    prior = pd.DataFrame(rows[:-1], index=dates, columns=universe)
    decided = pd.DataFrame(rows[1:], index=dates, columns=universe)
    yields, rf = steps.cash_yield(blend, market), steps.risk_free(blend, market)
    book, strategy = steps.run_portfolio(
        blend, market.prices, universe, dates, prior, decided, yields=yields
    )
    benchmark = _benchmark(blend, market, yields, steps)
    listed = blend.joined_names() or _observed(names, dates, members)
    shown = blend.model_copy(update={"regimes": [RegimeConfig(name=n, weights={}) for n in listed]})
    result_stats = steps.compute_stats(
        shown, dates, names.reindex(dates), strategy, benchmark, rf, yields
    )
    ranks = [
        _member_ranks(blend, j, (decisions, records[j], members[j].regimes[0]), market, steps)
        for j in range(len(members))
    ]
    runs = _member_runs(blend, market, members, ranks, (default, scale))
    parts = BlendRun(runs, _alone_stats(blend, market, runs, rf))
    signals, signal_series = _signals(blend, decisions, cal)
    return steps.BacktestResult(
        config=blend,
        prices=market.prices,
        calendar=cal,
        signals=signals,
        signal_series=signal_series,
        regimes=names,
        targets=targets,
        ranks=pd.concat([r.ranks for r in runs], ignore_index=True)
        .sort_values("date", kind="stable")
        .reset_index(drop=True),
        dates=dates,
        orders=book.orders,
        strategy=strategy,
        benchmark=benchmark,
        stats=result_stats,
        series=market.series,
        skipped=(
            pd.DataFrame(book.skip, index=dates, columns=universe)
            if blend.execution.band > 0
            else None
        ),
        cash_yield=yields,
        risk_free=rf,
        scales=(
            pd.Series(scale, index=cal, name="scale") if targets_c.scales is not None else None
        ),
        blend=parts,
    )


def _names(blend: Blend, codes: list[np.ndarray], cal: pd.DatetimeIndex) -> pd.Series:
    """The blend's decided regime on C: the members' names joined by `|`."""
    regimes = blend.member_regimes()
    columns = [
        np.asarray(names, dtype=object)[code] for names, code in zip(regimes, codes, strict=True)
    ]
    joined = [SEPARATOR.join(parts) for parts in zip(*columns, strict=True)]
    return pd.Series(joined, index=cal, name="regime")


def _observed(names: pd.Series, dates, members) -> list[str]:
    """The joined names decided on some backtest date, in product order (beyond
    MOST_REGIMES a blend lists only these)."""
    codes = joined_codes_of(members)
    on = names.index.get_indexer(dates)
    seen = dict(zip(codes[on].tolist(), names.to_numpy()[on].tolist(), strict=True))
    return [seen[k] for k in sorted(seen)]


def joined_codes_of(members) -> np.ndarray:
    """[C] a code per date of C ordering the members' regime tuples lexicographically."""
    from engine.blend_tables import tuple_ids

    ids, _ = tuple_ids([m.regimes[0] for m in members])
    return ids


def _default(blend: Blend, members, universe: list[str]) -> np.ndarray:
    """Sum_j W_j times member j's target before any decision (its default regime's fixed
    weights, or cash): what a first backtest date with no earlier date of C trades to."""
    out = np.zeros(len(universe))
    for member, decided in zip(blend.members, members, strict=True):
        table = decided.targets.tables[decided.targets.table_of[0]]
        columns = [universe.index(t) for t in member.config.universe]
        out[columns] += member.weight * table[len(member.config.regimes) - 1]
    return out


def _benchmark(blend: Blend, market: pipeline.Market, yields, steps: ModuleType):
    tickers = list(blend.benchmark)
    fixed = pd.DataFrame(
        [list(blend.benchmark.values())] * len(market.dates),
        index=market.dates,
        columns=tickers,
        dtype=float,
    )
    rule = blend.benchmark_rebalance
    _, sim = steps.run_portfolio(
        blend, market.prices, tickers, market.dates, fixed, fixed, rule, 0.0, yields
    )
    return sim


def _member_runs(blend: Blend, market, members, ranks, blend_rows) -> list[MemberRun]:
    """Each member's regimes, targets, share of the blend, contribution, alone values and
    rankings (see MemberRun)."""
    default, scale = blend_rows
    universe = list(blend.universe)
    cal, dates = market.calendar, market.dates
    close, _ = pipeline.execution_prices(blend, market.prices, universe, dates)
    close = close.to_numpy()
    returns = np.zeros_like(close)
    returns[1:] = close[1:] / close[:-1] - 1.0
    scales = _traded(scale[:, None], market, np.ones(1))[:, 0]
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
        rows = _traded(wide, market, start)
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


def _member_ranks(blend, j, decided, market, steps: ModuleType) -> pd.DataFrame:
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
        market_starts(market.dates),
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


def market_starts(dates: pd.DatetimeIndex) -> np.ndarray:
    """engine.rules.period_starts of the backtest dates (the kernel's rebalance calendar)."""
    from engine.rules import period_starts

    return period_starts(dates)


def _alone_stats(blend: Blend, market, runs: list[MemberRun], rf) -> dict[str, dict]:
    """{member: performance statistics of its values traded alone} (engine.metrics.stats)."""
    values = np.column_stack([run.alone for run in runs])
    measured = stats.performance(
        values, market.dates, blend.portfolio.initial_cash, blend.annual_periods(), rf
    )
    return {
        run.name: {key: float(np.asarray(value)[j]) for key, value in measured.items()}
        for j, run in enumerate(runs)
    }


def _signals(blend: Blend, decisions, cal: pd.DatetimeIndex):
    """The members' signals aligned on C and on their own calendars, named
    `member:signal` (a config in tranches: its own names, once)."""
    columns, frames = {}, {}
    for name, table in decisions.signals.items():
        columns[name] = table.aligned[0]
        frames[name] = table.frames[0]
    signals = pd.DataFrame(columns, index=cal, columns=list(columns), dtype=bool)
    return signals, frames
