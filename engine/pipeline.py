"""One pipeline for every command: a config and G parameter combinations -> what to simulate.

1. `load_market`: prices of every ticker the config needs, the trading calendar C
   with each date's close instant, the backtest dates; every data check a backtest
   makes (a start before a traded asset's first price, a benchmark without a price
   on a backtest date, an end past the last common price).
2. `signal_tables`: each signal once per distinct parameter set, on its series' own
   calendar, aligned to C by close time (docs/semantics.md §3-5).
3. `decide_codes`: the decided regime of every combination on a run of C's rows
   (§6), and `with_prior_row`: the row a first backtest date trades to.
4. `regime_weights`, `execution_costs`, `execution_prices`: each combination's
   weights, costs and rebalance rule, and the prices orders fill at (§10).

`rotation run` is the G = 1 case (engine.runner, simulated with vectorbt); sweeps,
walk-forward, audit, bootstrap and compare all go through the same functions
(engine.research.sweep simulates grids with the numba kernel engine.sim.fastsim).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import calendar, rates, vol_target
from engine.config import Config, ThresholdRule
from engine.data import PriceSource
from engine.data.series import External, as_prices, load_series
from engine.errors import DataError
from engine.notices import warn_shaped
from engine.rank_buffer import fill_history
from engine.research.grid import Axis, combinations
from engine.rules import bps_to_fraction, execution_column, period_column, period_starts
from engine.tables import VolInputs, build_targets
from engine.targets import (
    RankInputs,
    RankPlan,
    Schedules,
    Targets,
    decision_schedules,
    rank_plans,
    scheduled,
)
from strategies.regimes import decide, names_in
from strategies.registry import Lines, switch
from strategies.scores import SCORE_KINDS
from strategies.signals import SIGNAL_KINDS
from strategies.signals.windows import shared_windows


@dataclass(frozen=True)
class Market:
    """Everything a backtest reads from prices, loaded and checked once.

    Attributes:
        prices: adjusted daily bars per ticker, full history.
        calendar: trading calendar C (dates on which every traded asset has a price).
        instants: close instant of each date of C (ns since the epoch, UTC).
        dates: the backtest dates, a contiguous run of C.
        first: position of the first backtest date in C.
        series: the external series (`data.series`), by name.
    """

    prices: dict[str, pd.DataFrame]
    calendar: pd.DatetimeIndex
    instants: np.ndarray
    dates: pd.DatetimeIndex
    first: int
    series: dict[str, External] = dataclasses.field(default_factory=dict)

    @property
    def inputs(self) -> dict[str, pd.DataFrame]:
        """What a signal may read: every price frame and every external series (as a
        `Close` column), by name."""
        return {**self.prices, **as_prices(self.series)} if self.series else self.prices

    @property
    def rows(self) -> slice:
        """Rows of C a simulation needs: the date before the first backtest date (when C
        has one) through the last backtest date."""
        return slice(max(self.first - 1, 0), self.first + len(self.dates))


def backtest_dates(config: Config, prices: dict, dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Dates of C from the first on/after `start` to the last on/before `end`."""
    start = pd.Timestamp(config.data.start)
    for ticker in config.universe:
        first = prices[ticker].index[0]
        if first > start:
            raise DataError(
                f"data.start {config.data.start} is before the first price of {ticker} "
                f"({first.date()}); set start to {first.date()} or later"
            )
    end = pd.Timestamp(config.data.end) if config.data.end else dates[-1] if len(dates) else start
    chosen = dates[(dates >= start) & (dates <= end)]
    if len(chosen):
        _warn_if_cut_short(config, prices, chosen[-1])
    if chosen.empty:
        raise DataError(
            f"no trading date between {config.data.start} and {end.date()} on which all of "
            f"{config.universe} have prices; check data.start and data.end"
        )
    return chosen


def _warn_if_cut_short(config: Config, prices: dict, last: pd.Timestamp) -> None:
    """Warn when the backtest ends more than a long weekend before the end asked for
    (data.end, or the latest price of the universe): name the assets whose prices end
    first."""
    lasts = {t: prices[t].index[-1] for t in config.universe}
    wanted = pd.Timestamp(config.data.end) if config.data.end else max(lasts.values())
    wanted = min(wanted, max(lasts.values())) if not config.data.end else wanted
    if wanted - last <= pd.Timedelta(days=7):
        return
    short = [t for t, d in lasts.items() if d - last <= pd.Timedelta(days=7)]
    others = [t for t in lasts if t not in short]
    ends = ", ".join(f"{t} ends {lasts[t].date()}" for t in short)
    if others:
        tail = f"; {', '.join(others)} run to {max(lasts[t] for t in others).date()}"
    else:
        tail = f"; data.end asks for {wanted.date()}"
    warn_shaped(f"the backtest ends {last.date()}, cut short: {ends}{tail}")


def check_benchmark(prices: dict, tickers: Sequence[str], dates: pd.DatetimeIndex) -> None:
    """A benchmark must have a price on every backtest date (it is not part of C)."""
    for ticker in tickers:
        missing = dates.difference(prices[ticker].index)
        if len(missing):
            raise DataError(
                f"benchmark.{ticker}: no price on {len(missing)} backtest date(s), first "
                f"{missing[0].date()}; a benchmark must trade on every backtest date"
            )


def load_market(
    config: Config, source: PriceSource, series: dict[str, External] | None = None
) -> Market:
    """Load every ticker once and run every data check (step 1 of the module docstring).
    A ticker read only as a min_score threshold or a rate (cash_yield, risk_free) is
    loaded on its own, so that its error names that field. The external series are read
    from their files first (local and quick: a missing file fails before any download),
    unless `series` gives them."""
    if series is None:
        series = load_series(config)
    prices = source.load(config.tickers(thresholds=False))
    for ticker, field in (config.thresholds() | config.rates()).items():
        if ticker not in prices:
            try:
                prices |= source.load([ticker])
            except DataError as exc:
                raise DataError(f"{field}: {exc}") from None
    cal, instants = calendar.trading_calendar(
        prices, list(config.universe), config.data.close_times
    )
    dates = backtest_dates(config, prices, cal)
    check_benchmark(prices, list(config.benchmark), dates)
    first = cal.get_loc(dates[0])
    rates.check_rate_prices(config, prices, cal, first, len(dates))
    return Market(prices, cal, instants, dates, first, dict(series))


def execution_prices(
    config: Config, prices: dict, tickers: Sequence[str], dates: pd.DatetimeIndex
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(adjusted closes, execution prices) on `dates`, one column per ticker: orders fill
    at the close (next_close) or the adjusted open (next_open) of their date."""
    column = execution_column(config.execution.timing)

    def frame(field: str) -> pd.DataFrame:
        return pd.DataFrame({t: prices[t][field].reindex(dates) for t in tickers}, index=dates)

    close = frame("Close")
    return close, close if column == "Close" else frame(column)


@dataclass(frozen=True)
class SignalTable:
    """One signal over its distinct parameter sets.

    Attributes:
        owned: positions, among the sweep axes, of the parameters this signal owns.
        sets: the distinct parameter sets (without type and series), in grid order.
        aligned: [sets, rows] booleans on the requested rows of C.
        frames: per set, on the signal's own calendar: x (its series), value, upper, lower
            and on (kept for runs: signals.csv and the tearsheet).
        defined: per set, the close instant of its first bar with value and both bounds
            defined (int64 max when never): before it the signal is False by default.
    """

    owned: list[int]
    sets: list[dict]
    aligned: np.ndarray
    frames: list[pd.DataFrame] | None
    defined: np.ndarray | None = None


def _parameter_sets(config: Config, name: str, axes: Sequence[Axis]) -> tuple[list[int], list]:
    signal = config.signals[name]
    owned = [i for i, a in enumerate(axes) if a.path[:2] == ("signals", name)]
    sets = [
        # Through the signal's own model, so a range's 20.0 becomes the int 20.
        type(signal)
        .model_validate(
            signal.model_dump() | {axes[i].path[2]: v for i, v in zip(owned, values, strict=True)}
        )
        .model_dump(exclude={"type", "series"})
        for values in combinations([axes[i] for i in owned])
    ]
    return owned, sets


def _frames(source, sets: list[dict], drawn: Lines, own: np.ndarray) -> list[pd.DataFrame]:
    """Per parameter set, on the signal's own calendar: x, value, upper, lower, on."""
    x = source if isinstance(source, pd.Series) else source.iloc[:, 0]
    return [
        pd.DataFrame(
            {
                "x": x.to_numpy(),
                "value": drawn.value[:, k],
                "upper": drawn.upper[:, k],
                "lower": drawn.lower[:, k],
                "on": own[:, k],
            },
            index=source.index,
        )
        for k in range(len(sets))
    ]


NEVER = np.iinfo(np.int64).max


def _first_defined(drawn: Lines, instants: np.ndarray) -> np.ndarray:
    """[sets] close instant of each set's first bar with value, upper and lower defined."""
    with np.errstate(invalid="ignore"):
        ok = ~(np.isnan(drawn.value) | np.isnan(drawn.upper) | np.isnan(drawn.lower))
    first = ok.argmax(axis=0)
    return np.where(ok.any(axis=0), instants[first] if len(instants) else NEVER, NEVER)


def signal_tables(
    config: Config,
    axes: Sequence[Axis],
    market: Market,
    rows: slice | np.ndarray,
    keep_frames: bool = False,
) -> dict[str, SignalTable]:
    """Every signal once per distinct parameter set, aligned to C's `rows` (a slice or
    positions, e.g. the decision dates) (step 2)."""
    overrides = calendar.close_overrides(config)  # external series: their release times
    inputs = market.inputs
    tables = {}
    for name, signal in config.signals.items():
        kind = SIGNAL_KINDS[signal.type]
        owned, sets = _parameter_sets(config, name, axes)
        source, key = kind.source(inputs, signal)
        for params in sets:
            needed = kind.bars_needed(params)
            if len(source) < needed:
                raise DataError(
                    f"signals.{name}: {key} has {len(source)} bars, fewer than the "
                    f"{needed} that {signal.type} {params} needs; use a shorter window or "
                    "a longer series"
                )
        own_instants = calendar.series_close_instants(key, source.index, overrides)
        aligned, frames, first = [], [], []
        with shared_windows():  # each window once for all blocks
            for lo in range(0, len(sets), SET_BLOCK):  # [T, block] floats, not [T, K]
                block = sets[lo : lo + SET_BLOCK]
                drawn = kind.lines(source, block)  # once: states and, for runs, frames
                own = switch(drawn)
                aligned.append(calendar.align_asof(own, own_instants, market.instants)[rows])
                frames += _frames(source, block, drawn, own) if keep_frames else []
                first.append(_first_defined(drawn, own_instants))
        tables[name] = SignalTable(
            owned,
            sets,
            np.ascontiguousarray(np.concatenate(aligned, axis=1).T),
            frames if keep_frames else None,
            np.concatenate(first),
        )
    return tables


SET_BLOCK = 256
"""Parameter sets of a signal whose lines are drawn at once: a sweep of 10,000 donchian
sets over 6,600 bars would otherwise hold several [6,600 x 10,000] float arrays (GBs)."""


def grid_index(axes: Sequence[Axis]) -> np.ndarray:
    """[axes, G] position of each combination along each axis (last axis fastest)."""
    shape = tuple(len(a.values) for a in axes)
    return np.array(np.unravel_index(np.arange(math.prod(shape)), shape)).reshape(len(axes), -1)


def decide_codes(
    config: Config,
    tables: dict[str, SignalTable],
    axes: Sequence[Axis],
    index: np.ndarray,
    n_rows: int,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """[G, n_rows] position of the decided regime of each combination (`index`: [axes, G];
    the tables aligned on the same rows of C, of which `columns` are read when given,
    else all `n_rows`)."""
    shape = tuple(len(a.values) for a in axes)
    regimes = config.parsed_regimes()
    gathered = {}
    span = _as_span(columns)
    for name, table in tables.items():
        sizes = [shape[i] for i in table.owned]
        if table.owned:
            column = np.ravel_multi_index(index[table.owned], sizes)
        else:
            column = np.zeros(index.shape[1], dtype=np.int64)
        if columns is None:
            gathered[name] = table.aligned[column]
        elif span is not None:  # a run of columns: a slice gathers rows ~100x faster
            gathered[name] = table.aligned[column, span]
        else:
            gathered[name] = table.aligned[column[:, None], np.asarray(columns)[None, :]]
    if gathered:
        return decide(regimes, gathered)
    return np.full((index.shape[1], n_rows), len(regimes) - 1, dtype=np.int64)


def _as_span(columns: np.ndarray | None) -> slice | None:
    """`columns` as a slice when they are consecutive ascending positions, else None."""
    if columns is None or isinstance(columns, slice):
        return columns
    columns = np.asarray(columns)
    if columns.ndim != 1 or not len(columns):
        return None
    first, last = int(columns[0]), int(columns[-1])
    if first < 0 or last - first + 1 != len(columns) or np.any(np.diff(columns) != 1):
        return None
    return slice(first, last + 1)


def with_prior_row(codes: np.ndarray, market: Market, default: int) -> np.ndarray:
    """[G, N + 1] codes on `market.rows`, with the default regime prepended when C has no
    date before the first backtest date (the first date then trades to the default)."""
    if market.first == 0:
        return np.hstack([np.full((codes.shape[0], 1), default, dtype=codes.dtype), codes])
    return codes


@dataclass(frozen=True)
class Decisions:
    """What every chunk of combinations reads to decide its targets (steps 2-3).

    Attributes:
        schedule: the decision date each simulated row reads, one schedule per
            decide_day value (engine.targets.Schedules).
        signals: signal tables, aligned on the decision dates (sweeps) or on all of C
            (runs, which keep the frames for signals.csv; `columns` then picks the
            decision dates).
        columns: positions within the aligned tables of the decision dates, or None.
        plans: the ranked regimes and their parameter sets.
        inputs: scores, volatilities and filters on the decision dates (None: no ranks).
        returns: [C, A] daily returns of the universe on C, for `portfolio.target_vol`
            (None without it).
        cache: what every chunk would compute the same way, kept once computed (the
            volatility of target rows, engine.tables).
    """

    schedule: Schedules
    signals: dict[str, SignalTable]
    columns: np.ndarray | None
    plans: list[RankPlan]
    inputs: RankInputs | None
    returns: np.ndarray | None = None
    cache: dict = dataclasses.field(default_factory=dict)


def prepare_decisions(
    config: Config, axes: Sequence[Axis], market: Market, rows: np.ndarray, keep_frames=False
) -> Decisions:
    """Schedules, signal tables and rank inputs for the rows (positions in C) simulated.
    A rank buffer chains each selection from the previous decision date, so with `keep`
    every decision date of C up to the last row is taken (also before the start). A
    blend's are its members' (engine.blend.prepare)."""
    execution = config.execution
    days = decide_days(config, axes)
    buffered = any(r.rank is not None and r.rank.keep is not None for r in config.regimes)
    buffered |= any(a.path[-1] == "keep" and a.path[2] == "rank" for a in axes)
    schedule = decision_schedules(market.calendar, execution.decide, days, rows, buffered)
    if keep_frames:
        every = np.arange(len(market.calendar))
        signals = signal_tables(config, axes, market, every, keep_frames=True)
        columns = schedule.decisions
    else:
        signals = signal_tables(config, axes, market, schedule.decisions)
        columns = None
    plans = rank_plans(config, axes)
    inputs = None
    if plans:
        inputs = RankInputs(market.prices, config, market.instants[schedule.decisions])
    returns = None
    if config.portfolio.target_vol is not None:
        returns = vol_target.calendar_returns(market.prices, list(config.universe), market.calendar)
    return Decisions(schedule, signals, columns, plans, inputs, returns)


DECIDE_DAY = ("execution", "decide_day")
TARGET_VOL = ("portfolio", "target_vol")


def decide_days(config: Config, axes: Sequence[Axis]) -> tuple[int, ...]:
    """The decide_day of each schedule: the swept values in axis order, else the config's."""
    for axis in axes:
        if axis.path == DECIDE_DAY:
            return tuple(int(v) for v in axis.values)
    return (config.execution.day,)


def schedule_of(axes: Sequence[Axis], index: np.ndarray) -> np.ndarray:
    """[G] the schedule (position in `decide_days`) of each combination."""
    for i, axis in enumerate(axes):
        if axis.path == DECIDE_DAY:
            return index[i].astype(np.int64)
    return np.zeros(index.shape[1], dtype=np.int64)


def vol_inputs(
    config: Config, decisions: Decisions, axes: Sequence[Axis], index: np.ndarray
) -> VolInputs | None:
    """Each combination's volatility target (annual, window, cap) and the returns it reads;
    None without `portfolio.target_vol`."""
    target = config.portfolio.target_vol
    if target is None:
        return None

    def value(key: str, default: float) -> np.ndarray:
        return per_combo(axes, index, (*TARGET_VOL, key), default)

    return VolInputs(
        decisions.returns,
        config.annual_periods(),
        value("annual", target.annual),
        value("window", target.window).astype(np.int64),
        value("max_exposure", target.max_exposure),
        decisions.cache,
    )


def _dates_before(market: Market, instant: int) -> tuple[int, pd.Timestamp | None]:
    """(number of backtest dates whose close is before `instant`, the first date at or
    after it, None when there is none)."""
    closes = market.instants[market.first : market.first + len(market.dates)]
    n = int(np.searchsorted(closes, instant, side="left"))
    return n, (market.dates[n] if n < len(market.dates) else None)


def shaping_warnings(config: Config, market: Market, decisions: Decisions) -> None:
    """Warn (stderr and manifest) about what silently shaped the result: a signal read by a
    `when` that is still undefined (so False) on backtest dates, and a ranked asset with
    too little history to be eligible on backtest dates (a blend's: engine.blend)."""
    total = len(market.dates)
    readers: dict[str, list[str]] = {}
    for regime in config.parsed_regimes():
        if regime.when is not None:
            for name in sorted(names_in(regime.when)):
                readers.setdefault(name, []).append(regime.name)
    for name, table in decisions.signals.items():
        if name not in readers or table.defined is None:
            continue
        n, until = _dates_before(market, int(table.defined.max()))
        if n:
            when = f"until {until.date()}" if until is not None else "throughout"
            warn_shaped(
                f"signals.{name} is undefined (read as False) on {n:,} of {total:,} backtest "
                f"dates, {when}; read by the `when` of {', '.join(readers[name])}"
            )
    for plan in decisions.plans:
        needed = max(SCORE_KINDS[plan.score_type].bars_needed(s.score) for s in plan.sets)
        if plan.rank.weighting == "inverse_vol":
            needed = max(needed, max(int(s.vol_window) + 1 for s in plan.sets))
        late = []
        for asset in plan.rank.assets:
            index = market.prices[asset].index
            if len(index) < needed:
                late.append((asset, total, None))
                continue
            first = calendar.ticker_close_instants(
                asset, index[needed - 1 : needed], config.data.close_times
            )[0]
            n, until = _dates_before(market, int(first))
            if n:
                late.append((asset, n, until))
        for asset, n, until in late:
            when = f"until {until.date()}" if until is not None else "throughout"
            warn_shaped(
                f"regimes[{plan.regime}].rank: {asset} has too little history to be ranked "
                f"({needed} bars needed) on {n:,} of {total:,} backtest dates, {when}"
            )
    vol_target.warn_undefined(config, market.first, market.dates)


def decide_targets(
    config: Config,
    decisions: Decisions,
    axes: Sequence[Axis],
    index: np.ndarray,
    prior: bool = False,
    record: dict | None = None,
) -> tuple[np.ndarray, Targets]:
    """Decided regimes [G, rows] and targets of the combinations `index` on the scheduled
    rows; with `prior`, a first row holding the default regime and its target (the date
    before the first backtest date when C has none). `record`: filled with each ranked
    regime's Ranking as acted on (runs). A blend's decisions decide themselves from its
    members' (engine.blend.BlendDecisions.decide)."""
    if hasattr(decisions, "decide"):
        return decisions.decide(axes, index, prior)
    default = len(config.regimes) - 1
    schedules = decisions.schedule
    which = schedule_of(axes, index)
    codes = _decided_on_decision_dates(config, decisions, axes, index, which)
    regimes = scheduled(schedules.on_read(codes), schedules.on_slots(), default, which)
    if prior:
        regimes = np.hstack([np.full((regimes.shape[0], 1), default, dtype=np.int64), regimes])
    fixed = regime_weights(config, axes, index)
    vol = vol_inputs(config, decisions, axes, index)
    targets = build_targets(
        config,
        axes,
        index,
        regimes,
        codes,
        schedules,
        which,
        decisions.plans,
        decisions.inputs,
        fixed,
        vol,
        record,
    )
    return regimes, targets


def _decided_on_decision_dates(
    config: Config, decisions: Decisions, axes: Sequence[Axis], index: np.ndarray, which
) -> np.ndarray:
    """[G, P] decided regime of each combination on the union of decision dates: on every
    date some row reads, and on the earlier dates a rank buffer walks only as far back as
    each combination's run of a buffered regime goes (engine.rank_buffer.fill_history;
    -1 on the dates left out)."""
    schedules = decisions.schedule
    n_dec = len(schedules.decisions)
    read = schedules.read
    start = int(read[0]) if len(read) else n_dec

    def decided(combos: np.ndarray, columns: np.ndarray) -> np.ndarray:
        at = columns if decisions.columns is None else decisions.columns[columns]
        return decide_codes(config, decisions.signals, axes, index[:, combos], len(at), at)

    if start == 0:
        return decide_codes(config, decisions.signals, axes, index, n_dec, decisions.columns)
    codes = np.full((index.shape[1], n_dec), -1, dtype=np.int64)
    codes[:, start:] = decided(np.arange(index.shape[1]), np.arange(start, n_dec))
    swept = {a.path[1] for a in axes if a.path[0] == "regimes" and a.path[-1] == "keep"}
    buffered = [
        k
        for k, r in enumerate(config.regimes)
        if r.rank is not None and (r.rank.keep is not None or k in swept)
    ]
    fill_history(codes, schedules, which, buffered, decided)
    return codes


def per_combo(axes: Sequence[Axis], index: np.ndarray, path: tuple, default: float) -> np.ndarray:
    """Value of the parameter at `path` for each combination (`default` when not swept)."""
    for i, axis in enumerate(axes):
        if axis.path == path:
            return np.asarray(axis.values, dtype=float)[index[i]]
    return np.full(index.shape[1], default, dtype=float)


def regime_weights(config: Config, axes: Sequence[Axis], index: np.ndarray) -> np.ndarray:
    """[G, K, A] fixed weight of each universe asset in each regime, per combination (zeros
    for a ranked regime: what it holds before its first decision, cash)."""
    universe = list(config.universe)
    out = np.zeros((index.shape[1], len(config.regimes), len(universe)))
    for k, regime in enumerate(config.regimes):
        if regime.weights is None:
            continue  # a ranked regime: its targets come from engine.targets
        for a, ticker in enumerate(universe):
            base = regime.weights.get(ticker, 0.0)
            out[:, k, a] = per_combo(axes, index, ("regimes", k, "weights", ticker), base)
    return out


@dataclass(frozen=True)
class Costs:
    """Per combination: fees and slippage (fractions), drift threshold (NaN = none), the
    calendar rule (a column of engine.rules.period_starts, -1 = none), the no-trade band
    (0 = none), and the benchmark's threshold and calendar rule (its own, or these)."""

    fees: np.ndarray
    slippage: np.ndarray
    threshold: np.ndarray
    period: np.ndarray
    tolerance: np.ndarray
    bench_threshold: np.ndarray
    bench_period: np.ndarray


def _threshold_of(rule: object) -> float:
    return rule.threshold if isinstance(rule, ThresholdRule) else math.nan


def execution_costs(config: Config, axes: Sequence[Axis], index: np.ndarray) -> Costs:
    """Each combination's costs and rebalance rules (step 4)."""
    execution = config.execution
    g = index.shape[1]
    fees = per_combo(axes, index, ("execution", "fees_bps"), execution.fees_bps)
    slip = per_combo(axes, index, ("execution", "slippage_bps"), execution.slippage_bps)
    rule = execution.rebalance
    path = ("execution", "rebalance", "threshold")
    threshold = per_combo(axes, index, path, _threshold_of(rule))
    period = np.full(g, period_column(rule), dtype=np.int64)
    tolerance = per_combo(axes, index, ("execution", "tolerance"), execution.band)
    bench_rule = config.benchmark_rebalance
    if bench_rule is rule:  # the strategy's rule, swept threshold and all
        bench_threshold, bench_period = threshold, period
    else:
        bench_threshold = np.full(g, _threshold_of(bench_rule))
        bench_period = np.full(g, period_column(bench_rule), dtype=np.int64)
    return Costs(
        bps_to_fraction(fees),
        bps_to_fraction(slip),
        threshold,
        period,
        tolerance,
        bench_threshold,
        bench_period,
    )


def cash_yield_table(
    config: Config, axes: Sequence[Axis], market: Market, periods: int
) -> tuple[np.ndarray, tuple]:
    """([N, R] cash yield per backtest date of each distinct `portfolio.cash_yield` of the
    grid, those R settings: a ticker, or the numbers); ([N, 0], ()) without a yield."""
    base = config.portfolio.cash_yield
    n = len(market.dates)
    if base is None:
        return np.zeros((n, 0)), ()
    if isinstance(base, str):
        table = rates.ticker_yield(market.prices, base, market.calendar, market.first, n)
        return table[:, None], (base,)
    path = ("portfolio", "cash_yield")
    values = next((tuple(a.values) for a in axes if a.path == path), (base,))
    return np.column_stack([rates.number_yield(v, n, periods) for v in values]), values


def cash_yield_columns(
    config: Config, axes: Sequence[Axis], index: np.ndarray, settings: tuple
) -> np.ndarray:
    """[G] column of `cash_yield_table` of each combination (-1: no cash yield)."""
    if not settings:
        return np.full(index.shape[1], -1, dtype=np.int64)
    if isinstance(settings[0], str):
        return np.zeros(index.shape[1], dtype=np.int64)
    chosen = per_combo(axes, index, ("portfolio", "cash_yield"), settings[0])
    column = {float(v): k for k, v in enumerate(settings)}
    return np.array([column[v] for v in chosen.tolist()], dtype=np.int64)


def grid_inputs_from_result(result) -> dict:
    """Kernel inputs (G = 1) that reproduce one engine run: `simulate_grid(**inputs)`.

    Args:
        result: an `engine.runner.BacktestResult`.
    """
    config = result.config
    universe = list(config.universe)
    close, price = execution_prices(config, result.prices, universe, result.dates)
    first = result.calendar.get_loc(result.dates[0])
    market = Market(result.prices, result.calendar, np.empty(0), result.dates, first)
    no_axes = np.zeros((0, 1), dtype=np.int64)
    rows = result.targets.to_numpy()[market.rows]
    if first == 0:  # the first date trades to the default regime's fixed weights (or cash)
        rows = np.vstack([regime_weights(config, [], no_axes)[0, -1], rows])
    table, codes = np.unique(rows, axis=0, return_inverse=True)
    costs = execution_costs(config, [], no_axes)
    yields = result.cash_yield
    return {
        "close": close.to_numpy(dtype=np.float64),
        "price": price.to_numpy(dtype=np.float64),
        "weights": table[None],
        "decided": np.asfortranarray(codes.reshape(-1, 1).astype(np.int64)),
        "new_month": period_starts(result.dates),
        "monthly": costs.period,
        "threshold": costs.threshold,
        "fees": costs.fees,
        "slippage": costs.slippage,
        "initial_cash": float(config.portfolio.initial_cash),
        "tolerance": costs.tolerance,
        "cash_rates": None if yields is None else yields[:, None],
        "rate_of": np.array([-1 if yields is None else 0]),
    }
