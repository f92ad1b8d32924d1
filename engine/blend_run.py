"""`rotation run` of a blend (or a config in tranches): engine.runner's steps, the targets
decided by engine.blend.

1. The market on the blend's calendar C (every traded asset of every member priced).
2. Each member decided on C (its rankings recorded), the blend's target rows summed
   (engine.blend_tables); the blend is then simulated, once, as one portfolio by
   engine.runner's `run_portfolio` (vectorbt), the benchmark likewise, and measured by
   `compute_stats` (time in regime over the joined names).
3. What its reports show of each member: engine/blend_parts.py.
"""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType

import numpy as np
import pandas as pd

from engine import pipeline
from engine.blend import decide_members, prepare, shaping_warnings
from engine.blend_parts import BlendRun, alone_stats, member_ranks, member_runs, traded_rows
from engine.blend_tables import blend_targets
from engine.config import RegimeConfig
from engine.config.blend import SEPARATOR, Blend
from engine.notices import collected


def run_blend(blend: Blend, source, series: dict | None, steps: ModuleType):
    """Run a blend end to end (the module docstring's steps), returning an
    engine.runner.BacktestResult; the warnings about what shaped it are kept in its
    `warnings`. `steps`: engine.runner itself, whose steps the blend runs (handed over
    by its `run_backtest`, so that this module does not import it back)."""
    with collected() as notes:
        result = _run(blend, source, series, steps)
    return replace(result, warnings=list(notes))


def _run(blend: Blend, source, series, steps: ModuleType):
    market = pipeline.load_market(blend, source, series)
    cal, dates, universe = market.calendar, market.dates, list(blend.universe)
    decisions = prepare(blend, [], market, np.arange(len(cal)), True)
    shaping_warnings(blend, market, decisions)
    records = [{} for _ in blend.members]
    members = decide_members(decisions, [], np.zeros((0, 1), dtype=np.int64), records=records)
    targets, scale = _targets(blend, decisions, members, cal)
    names = _names(blend, [m.regimes[0] for m in members], cal)
    default = _default(blend, members, universe)
    rows = traded_rows(targets.to_numpy(), market, default)
    prior = pd.DataFrame(rows[:-1], index=dates, columns=universe)
    decided = pd.DataFrame(rows[1:], index=dates, columns=universe)
    yields, rf = steps.cash_yield(blend, market), steps.risk_free(blend, market)
    book, strategy = steps.run_portfolio(
        blend, market.prices, universe, dates, prior, decided, yields=yields
    )
    benchmark = _benchmark(blend, market, yields, steps)
    listed = blend.joined_names() or _observed(names, dates, members)
    shown = blend.model_copy(update={"regimes": [RegimeConfig(name=n, weights={}) for n in listed]})
    ranks = [
        member_ranks(blend, j, (decisions, records[j], members[j].regimes[0]), market, steps)
        for j in range(len(members))
    ]
    runs = member_runs(
        blend,
        market,
        members,
        ranks,
        (default, np.ones(len(cal)) if scale is None else scale.to_numpy()),
    )
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
        stats=steps.compute_stats(
            shown, dates, names.reindex(dates), strategy, benchmark, rf, yields
        ),
        series=market.series,
        skipped=_skipped(blend, book, dates),
        cash_yield=yields,
        risk_free=rf,
        scales=scale,
        blend=BlendRun(runs, alone_stats(blend, market, runs, rf)),
    )


def _targets(blend: Blend, decisions, members, cal: pd.DatetimeIndex):
    """(the blend's decided target on C [C, A], its own volatility scale on C or None)."""
    decided = blend_targets(blend, decisions, [], np.zeros((0, 1), dtype=np.int64), members)
    codes = decided.codes[0]
    targets = pd.DataFrame(decided.tables[0][codes], index=cal, columns=list(blend.universe))
    if decided.scales is None:
        return targets, None
    return targets, pd.Series(decided.scales[0][codes], index=cal, name="scale")


def _skipped(blend: Blend, book, dates: pd.DatetimeIndex) -> pd.DataFrame | None:
    """Where the no-trade band skipped an order (None without a band)."""
    if blend.execution.band <= 0:
        return None
    return pd.DataFrame(book.skip, index=dates, columns=list(blend.universe))


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


def _signals(blend: Blend, decisions, cal: pd.DatetimeIndex):
    """The members' signals aligned on C and on their own calendars, named
    `member:signal` (a config in tranches: its own names, once)."""
    columns, frames = {}, {}
    for name, table in decisions.signals.items():
        columns[name] = table.aligned[0]
        frames[name] = table.frames[0]
    signals = pd.DataFrame(columns, index=cal, columns=list(columns), dtype=bool)
    return signals, frames
