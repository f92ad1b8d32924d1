"""run_backtest(config, source) -> BacktestResult: one combination through the pipeline.

1-4. engine.pipeline: prices and calendar C (every data check), signals aligned by
     close time, the decided regime and target weights on every date of C.
5. Turn targets into orders on the backtest dates (one-date lag, rebalance rule:
   engine.sim.schedule), settled against the simulation's holdings (threshold dates,
   the no-trade band, buys cut to the cash left: engine.sim.settle).
6. Simulate the strategy and the fixed-weight benchmark with vectorbt (engine.sim.portfolio),
   idle cash earning the cash yield (engine.rates).
7. Compute the statistics (engine.metrics.stats, engine.metrics.distribution), against the
   risk-free rate or series.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pandas as pd

from engine import pipeline, rates
from engine.config import Config, ThresholdRule
from engine.config.blend import Blend
from engine.data import PriceSource
from engine.metrics import stats
from engine.metrics.distribution import distribution
from engine.notices import collected
from engine.sim import schedule, settle
from engine.sim.portfolio import Simulation, simulate


@dataclass(frozen=True)
class BacktestResult:
    """Every intermediate of a run, for inspection in a notebook.

    Attributes:
        config: the validated config.
        prices: adjusted daily bars per ticker, full history.
        calendar: trading calendar C (all dates every traded asset has).
        signals: aligned signal values on C (bool, one column per signal).
        signal_series: per signal, on its own calendar: the series x, the lines it is
            compared with (upper, lower) and the signal itself (on).
        regimes: decided regime name on C.
        targets: target weights decided on C (fractions of V).
        ranks: per decision date, rank regime and candidate: score, eligible, rank,
            selected, failed, weight (empty without ranked regimes; see `rank_table`).
        dates: the backtest dates.
        orders: target weights traded on each backtest date (NaN = hold).
        strategy, benchmark: simulations on the backtest dates.
        stats: {"strategy": {...}, "benchmark": {...}, "relative": {...}}.
        warnings: what silently shaped the result (also printed on stderr): an end cut
            short, a signal still undefined, an asset not yet rankable.
        series: the external series read (`data.series`), by name.
        skipped: [dates, universe] True where the no-trade band skipped the strategy's
            order on a date it placed orders (None without a band).
        cash_yield: [dates] the cash yield c_j earned on each date (None without one).
        risk_free: the annual risk-free rate, or its per-date series (stats.risk_free).
        scales: the volatility target's scale of the target decided on each date of C
            (1 before the first decision), None without `portfolio.target_vol`.
        blend: a blend's members (engine.blend_run.BlendRun), None for a plain config.
    """

    config: Config
    prices: dict[str, pd.DataFrame]
    calendar: pd.DatetimeIndex
    signals: pd.DataFrame
    signal_series: dict[str, pd.DataFrame]
    regimes: pd.Series
    targets: pd.DataFrame
    ranks: pd.DataFrame
    dates: pd.DatetimeIndex
    orders: pd.DataFrame
    strategy: Simulation
    benchmark: Simulation
    stats: dict[str, dict]
    warnings: list[str] = field(default_factory=list)
    series: dict = field(default_factory=dict)
    skipped: pd.DataFrame | None = None
    cash_yield: np.ndarray | None = None
    risk_free: float | np.ndarray = 0.0
    scales: pd.Series | None = None
    blend: object | None = None

    @property
    def portfolio(self):
        """The strategy's `vectorbt.Portfolio` (for notebook users)."""
        return self.strategy.portfolio


def run_portfolio(
    config: Config,
    prices: dict,
    tickers: list[str],
    dates: pd.DatetimeIndex,
    prior: pd.DataFrame,
    decided: pd.DataFrame,
    rule: object = None,
    band: float | None = None,
    yields: np.ndarray | None = None,
) -> tuple[settle.Book, Simulation]:
    """Orders from the schedule rules, settled and simulated with the config's costs and
    timing; `rule` and `band` default to the config's rebalance and tolerance, `yields` is
    the cash yield c_j per date (None: cash earns nothing)."""
    execution = config.execution
    rule = execution.rebalance if rule is None else rule
    band = execution.band if band is None else band
    close, price = pipeline.execution_prices(config, prices, tickers, dates)
    index = None if yields is None else np.cumprod(1.0 + yields)
    units = price.to_numpy() if index is None else price.to_numpy() / index[:, None]
    cash = config.portfolio.initial_cash
    run = partial(
        simulate, close, price, initial_cash=cash, fees=execution.fees, slippage=execution.slippage
    )
    orders = schedule.base_orders(prior, rule)
    rules = settle.Rules(
        base=orders.notna().any(axis=1).to_numpy(),
        decided=decided,
        threshold=rule.threshold if isinstance(rule, ThresholdRule) else np.nan,
        band=band,
        fees=execution.fees,
        initial_cash=cash,
        units=units,
    )
    book = settle.hint(close, price, prior, orders, rules, execution.slippage, yields)
    return settle.settle(book, rules, lambda b: run(b.orders, skip=b.skip, cap=b.cap, index=index))


def periods_per_year(config: Config) -> int:
    """stats.periods_per_year, else 365 when every traded asset is crypto, else 252."""
    return config.annual_periods()


def _activity(sim: Simulation, dates: pd.DatetimeIndex) -> dict:
    return stats.trading(
        sim.value.to_numpy(),
        dates,
        trade_dates=sim.trades["date"].nunique(),
        fees_paid=float(sim.trades["fees"].sum()),
        traded_value=float(sim.trades["value"].abs().sum()),
    )


def risk_free(config: Config, market: pipeline.Market) -> float | np.ndarray:
    """stats.risk_free: the annual rate, or a ticker's per-date series (engine.rates)."""
    rate = config.stats.risk_free
    if isinstance(rate, str):
        n = len(market.dates)
        return rates.risk_free_series(market.prices, rate, market.calendar, market.first, n)
    return rate


def cash_yield(config: Config, market: pipeline.Market) -> np.ndarray | None:
    """[dates] the cash yield c_j of portfolio.cash_yield (None without one)."""
    table, settings = pipeline.cash_yield_table(config, [], market, periods_per_year(config))
    return table[:, 0] if settings else None


def compute_stats(
    config: Config,
    dates: pd.DatetimeIndex,
    names: pd.Series,
    strat: Simulation,
    bench: Simulation,
    rf: float | np.ndarray | None = None,
    yields: np.ndarray | None = None,
) -> dict[str, dict]:
    """Statistics (docs/semantics.md §7, §11) of the strategy, the benchmark and the one
    against the other; `rf` the risk-free rate or per-date series (default the config's
    number), `yields` the cash yield per date (adds the cash interest earned). With a cash
    yield or a volatility target each portfolio also gets its average exposure."""
    cash = config.portfolio.initial_cash
    rf = config.stats.risk_free if rf is None else rf
    periods = periods_per_year(config)
    s_values, b_values = strat.value.to_numpy(), bench.value.to_numpy()
    regime_names = [r.name for r in config.regimes]
    strategy = stats.performance(s_values, dates, cash, periods, rf) | _activity(strat, dates)
    benchmark = stats.performance(b_values, dates, cash, periods, rf) | _activity(bench, dates)
    if yields is not None:
        for sim, out in ((strat, strategy), (bench, benchmark)):
            out["cash_interest"] = rates.interest(sim.cash.to_numpy(), yields, sim.value.to_numpy())
    strategy["switches"] = stats.switches(names.to_numpy())
    strategy["time_in_regime"] = stats.time_in_regime(names.to_numpy(), regime_names)
    benchmark["switches"] = 0
    benchmark["time_in_regime"] = {}
    strategy |= distribution(s_values, dates, cash)  # the second block (quantstats' keys)
    benchmark |= distribution(b_values, dates, cash)
    if config.portfolio.cash_matters:  # the second block's last line
        for sim, out in ((strat, strategy), (bench, benchmark)):
            out["avg_exposure"] = stats.average_exposure(sim.cash.to_numpy(), sim.value.to_numpy())
    relative = stats.relative(s_values, b_values, dates, cash, periods, rf)
    info = {
        "start": str(dates[0].date()),
        "end": str(dates[-1].date()),
        "days": len(dates),
        "periods_per_year": periods,
        "risk_free": config.stats.risk_free,
    }
    return {"strategy": strategy, "benchmark": benchmark, "relative": relative, "period": info}


RANK_COLUMNS = ["date", "regime", "active", "asset", "score", "eligible", "rank", "selected"]
RANK_COLUMNS += ["failed", "weight", "fallback", "fallback_weight"]


def rank_table(
    config: Config,
    cal: pd.DatetimeIndex,
    decisions: pipeline.Decisions,
    rankings: dict,
    names: pd.Series,
    market: pipeline.Market,
) -> pd.DataFrame:
    """ranks.csv: one row per decision date (from the one the first backtest date trades
    on to the last), rank regime and candidate. `active`: the regime was decided that
    date; `failed`: selected but below min_score or failing the filter, its slot given
    to the fallback (`fallback`, empty = cash) with the date's `fallback_weight`; with a
    rank buffer, `kept`: the asset holds its slot by the buffer alone (ranked beyond top,
    held at the previous decision date)."""
    positions = decisions.schedule.decisions
    start = max(int(np.searchsorted(positions, market.first - 1, side="right")) - 1, 0)
    last = market.first + len(market.dates) - 1
    keep = (np.arange(len(positions)) >= start) & (positions <= last)
    buffered = any(plan.rank.keep is not None for plan in decisions.plans)
    columns = _with_kept(RANK_COLUMNS) if buffered else RANK_COLUMNS
    frames = []
    for plan in decisions.plans:
        ranking = rankings[plan.regime]
        name = config.regimes[plan.regime].name
        dates = cal[positions[keep]]
        m = len(plan.rank.assets)
        active = names.iloc[positions[keep]].to_numpy() == name
        frame = pd.DataFrame(
            {
                "date": np.repeat(dates, m),
                "regime": name,
                "active": np.repeat(active, m),
                "asset": np.tile(plan.rank.assets, len(dates)),
                "score": ranking.score[keep].ravel(),
                "eligible": ranking.eligible[keep].ravel(),
                "rank": ranking.rank[keep].ravel(),
                "selected": ranking.selected[keep].ravel(),
                "failed": ranking.failed[keep].ravel(),
                "weight": ranking.weight[keep].ravel(),
                "fallback": plan.rank.fallback or "",
                "fallback_weight": np.repeat(ranking.fallback[keep], m),
            }
        )
        if buffered:
            frame["kept"] = (ranking.selected & (ranking.rank > plan.rank.top))[keep].ravel()
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["date"], kind="stable").reset_index(drop=True)[columns]


def _with_kept(columns: list[str]) -> list[str]:
    """ranks.csv's columns with `kept` (a rank buffer holds the slot) after `selected`."""
    at = columns.index("selected") + 1
    return [*columns[:at], "kept", *columns[at:]]


def run_backtest(config: Config, source: PriceSource, series: dict | None = None) -> BacktestResult:
    """Run one config end to end (see the module docstring for the steps); the warnings
    about what shaped it are also kept in `BacktestResult.warnings`. `series`: the
    external series ({name: engine.data.series.External}) instead of reading their files.
    A blend, or a config in tranches, runs through engine.blend_run."""
    if isinstance(config, Blend):  # its own steps, with this module's (no import back)
        from engine.blend_run import run_blend

        return run_blend(config, source, series, sys.modules[__name__])
    with collected() as notes:
        result = _run(config, source, series)
    return replace(result, warnings=list(notes))


def _run(config: Config, source: PriceSource, series: dict | None = None) -> BacktestResult:
    market = pipeline.load_market(config, source, series)
    prices, cal, dates = market.prices, market.calendar, market.dates
    universe = list(config.universe)
    no_axes = np.zeros((0, 1), dtype=np.int64)

    every = np.arange(len(cal))
    decisions = pipeline.prepare_decisions(config, [], market, every, keep_frames=True)
    pipeline.shaping_warnings(config, market, decisions)
    tables = decisions.signals
    signals = pd.DataFrame(
        {name: table.aligned[0] for name, table in tables.items()},
        index=cal,
        columns=list(config.signals),
        dtype=bool,
    )
    signal_series = {name: table.frames[0] for name, table in tables.items()}
    rankings: dict = {}
    codes, targets_c = pipeline.decide_targets(config, decisions, [], no_axes, record=rankings)
    regimes = config.parsed_regimes()
    default = len(regimes) - 1
    names = pd.Series([regimes[i].name for i in codes[0]], index=cal, name="regime")
    table = targets_c.tables[0]  # [rows of targets, A]
    targets = pd.DataFrame(table[targets_c.codes[0]], index=cal, columns=universe)
    scales = None
    if targets_c.scales is not None:
        scales = pd.Series(targets_c.scales[0][targets_c.codes[0]], index=cal, name="scale")

    # Row j: the target decided on the date of C before backtest date j (row 0: before
    # the first backtest date, the default regime when C has no earlier date).
    rows = pipeline.with_prior_row(targets_c.codes[:, market.rows], market, default)[0]
    prior = pd.DataFrame(table[rows[:-1]], index=dates, columns=universe)
    decided = pd.DataFrame(table[rows[1:]], index=dates, columns=universe)
    ranks = rank_table(config, cal, decisions, rankings, names, market)
    yields, rf = cash_yield(config, market), risk_free(config, market)
    book, strategy = run_portfolio(config, prices, universe, dates, prior, decided, yields=yields)

    bench_tickers = list(config.benchmark)
    fixed = pd.DataFrame(
        [list(config.benchmark.values())] * len(dates),
        index=dates,
        columns=bench_tickers,
        dtype=float,
    )
    bench_rule = config.benchmark_rebalance
    _, benchmark = run_portfolio(
        config, prices, bench_tickers, dates, fixed, fixed, bench_rule, 0.0, yields
    )

    result_stats = compute_stats(
        config, dates, names.reindex(dates), strategy, benchmark, rf, yields
    )
    skipped = None
    if config.execution.band > 0:
        skipped = pd.DataFrame(book.skip, index=dates, columns=universe)
    return BacktestResult(
        config=config,
        prices=prices,
        calendar=cal,
        signals=signals,
        signal_series=signal_series,
        regimes=names,
        targets=targets,
        ranks=ranks,
        dates=dates,
        orders=book.orders,
        strategy=strategy,
        benchmark=benchmark,
        stats=result_stats,
        series=market.series,
        skipped=skipped,
        cash_yield=yields,
        risk_free=rf,
        scales=scales,
    )
