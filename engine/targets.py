"""Decided targets per combination: the decision schedules and ranked allocations
(docs/semantics.md "Ranked allocations", "Decision schedule"); engine.tables turns them
into the tables the simulators read.

A combination's target on a date of C is either a regime's fixed weights or, for a
ranked regime, the weights its ranking gave on the latest decision date of its schedule.
Scores, volatilities and filters are computed once per asset and parameter set on the
asset's own calendar and aligned to the decision dates by close time (engine.calendar).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine import calendar
from engine.config import Config, RankConfig
from engine.research.grid import Axis, combinations
from strategies.ranking import Ranking, rank_assets
from strategies.registry import switch
from strategies.scores import SCORE_KINDS
from strategies.signals import SIGNAL_KINDS


@dataclass(frozen=True)
class Schedule:
    """Which decision date each simulated row of C reads.

    Attributes:
        decisions: [P] positions in C of the decision dates the rows read, ascending.
        source: [rows] index into `decisions` of the latest decision date at or before
            each row, -1 before the first decision date.
    """

    decisions: np.ndarray
    source: np.ndarray

    @property
    def every_row(self) -> bool:
        """Each row is its own decision date (`decide: daily`): codes need no gathering."""
        return len(self.decisions) == len(self.source) and bool(
            np.array_equal(self.source, np.arange(len(self.source)))
        )


@dataclass(frozen=True)
class Schedules:
    """The decision schedules of a run or sweep, one per `decide_day` value, on the union
    of their decision dates (a sweep over decide_day aligns signals and ranks once, on
    the union, and each combination reads its own schedule's dates).

    Attributes:
        decisions: [P] positions in C of the union of the decision dates, ascending.
        sources: [J, rows] per schedule, index into `decisions` of each row's latest
            decision date, -1 before the first.
        columns: per schedule, [P_j] indices into `decisions` of its own decision dates.
        days: the decide_day of each schedule.
        slots: [P] each decision date's position among those some row reads (the dates
            target tables need a row for), -1 for a date taken only as history.
    """

    decisions: np.ndarray
    sources: np.ndarray
    columns: tuple[np.ndarray, ...]
    days: tuple[int, ...]
    slots: np.ndarray | None = None

    @property
    def read(self) -> np.ndarray:
        """[S] indices into `decisions` of the dates some row reads (slot order)."""
        return np.flatnonzero(self.slots >= 0)

    def on_read(self, codes: np.ndarray) -> np.ndarray:
        """`codes` ([G, P]) on the dates some row reads ([G, S]; a view when those dates
        are the last S, as they are unless several schedules interleave)."""
        read = self.read
        if len(read) == codes.shape[1]:
            return codes
        if len(read) and read[-1] - read[0] + 1 == len(read):
            return codes[:, read[0] : read[-1] + 1]
        return codes[:, read]

    def on_slots(self) -> Schedules:
        """The same schedules on the dates some row reads only (the history a rank buffer
        walks left out): `sources` then index the slots."""
        read = self.read
        if len(read) == len(self.decisions):
            return self
        sources = np.where(self.sources >= 0, self.slots[np.maximum(self.sources, 0)], -1)
        columns = tuple(self.slots[c][self.slots[c] >= 0] for c in self.columns)
        return Schedules(self.decisions[read], sources, columns, self.days, np.arange(len(read)))

    def of(self, j: int) -> Schedule:
        """Schedule j on the union of decision dates."""
        return Schedule(self.decisions, self.sources[j])

    @property
    def every_row(self) -> bool:
        """One schedule, deciding on every row (`decide: daily`)."""
        return len(self.days) == 1 and self.of(0).every_row


def decision_schedules(
    calendar_dates: pd.DatetimeIndex,
    decide: str,
    days: Sequence[int],
    rows: np.ndarray,
    history: bool = False,
) -> Schedules:
    """The schedules of `rows` (positions in C) under `execution.decide` and each
    `decide_day` of `days`: decision dates are taken on all of C, also before the
    backtest's start. The union holds the decision dates the rows read or, with
    `history` (the rank buffer, whose selections chain from one decision to the next),
    every decision date of C up to the last row."""
    positions = [np.flatnonzero(calendar.decision_mask(calendar_dates, decide, d)) for d in days]
    latest = [np.searchsorted(p, rows, side="right") - 1 for p in positions]
    read = [p[np.unique(at[at >= 0])] for p, at in zip(positions, latest, strict=True)]
    needed = read
    if history:
        last = rows.max(initial=-1)
        needed = [p[p <= last] for p in positions]
    union = np.unique(np.concatenate(needed)) if needed else np.zeros(0, dtype=np.int64)
    sources = np.full((len(days), len(rows)), -1, dtype=np.int64)
    for j, (p, at) in enumerate(zip(positions, latest, strict=True)):
        sources[j, at >= 0] = np.searchsorted(union, p[at[at >= 0]])
    columns = tuple(np.searchsorted(union, p) for p in needed)
    slots = np.full(len(union), -1, dtype=np.int64)
    taken = np.isin(union, np.concatenate(read)) if read else np.zeros(0, dtype=bool)
    slots[taken] = np.arange(int(taken.sum()))
    return Schedules(union, sources, columns, tuple(int(d) for d in days), slots)


def decision_schedule(
    calendar_dates: pd.DatetimeIndex, decide: str, rows: np.ndarray, day: int = -1
) -> Schedule:
    """The schedule of `rows` (positions in C) under `execution.decide` and `decide_day`:
    decision dates are taken on all of C, also before the backtest's start."""
    return decision_schedules(calendar_dates, decide, (day,), rows).of(0)


def scheduled(
    codes: np.ndarray,
    schedule: Schedule | Schedules,
    default: int,
    which: np.ndarray | None = None,
) -> np.ndarray:
    """[G, rows] decided regime (or target row) of each row: the one of its latest decision
    date, the default before the first (`codes`: [G, P] on the decision dates; `which`:
    [G] each combination's schedule when `schedule` holds several)."""
    if isinstance(schedule, Schedules):
        if len(schedule.days) > 1:
            source = schedule.sources[
                np.zeros(codes.shape[0], dtype=np.int64) if which is None else which
            ]
            if codes.shape[1] == 0:
                return np.full(source.shape, default, dtype=np.int64)
            taken = np.take_along_axis(codes, np.maximum(source, 0), axis=1)
            return np.where(source >= 0, taken, default)
        schedule = schedule.of(0)
    if codes.shape[1] == 0:
        return np.full((codes.shape[0], len(schedule.source)), default, dtype=np.int64)
    if schedule.every_row:
        return codes
    taken = codes[:, np.maximum(schedule.source, 0)]
    return np.where(schedule.source >= 0, taken, default)


# ---- ranked regimes -----------------------------------------------------------


@dataclass(frozen=True)
class RankSet:
    """One parameter set of a ranked regime, resolved (a sweep may vary any of these)."""

    score: dict[str, Any]
    top: int
    exposure: float
    vol_window: int | None
    min_score: float | str | None
    filter: dict[str, Any] | None
    keep: int | None = None  # the rank buffer (engine.rank_buffer); None: none

    def plain(self) -> tuple:
        """What the plain ranking depends on (everything but `keep`), hashable."""
        return (_freeze(self.score), self.top, self.exposure, self.vol_window)

    def ranking_key(self) -> str:
        """A key of the plain ranking: sets that differ only in `keep` rank the same."""
        return repr((self.plain(), self.min_score, self.filter))


@dataclass(frozen=True)
class RankPlan:
    """A ranked regime and its distinct parameter sets over the sweep axes it owns."""

    regime: int
    rank: RankConfig
    score_type: str
    owned: list[int]
    sets: list[RankSet]


def _freeze(params: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def rank_plans(config: Config, axes: Sequence[Axis]) -> list[RankPlan]:
    """One plan per ranked regime, its sets in grid order over the axes it owns."""
    plans = []
    for k, regime in enumerate(config.regimes):
        rank = regime.rank
        if rank is None:
            continue
        score = config.scores[rank.score]
        owned = [
            i
            for i, a in enumerate(axes)
            if a.path[:2] == ("scores", rank.score) or a.path[:3] == ("regimes", k, "rank")
        ]
        sets = []
        for values in combinations([axes[i] for i in owned]):
            score_raw = score.model_dump()
            rank_raw = rank.model_dump()
            for i, value in zip(owned, values, strict=True):
                path = axes[i].path
                if path[0] == "scores":
                    score_raw[path[2]] = value
                elif path[3] == "filter":
                    rank_raw["filter"] = {**rank_raw["filter"], path[4]: value}
                else:
                    rank_raw[path[3]] = value
            score_model = type(score).model_validate(score_raw)
            resolved = RankConfig.model_validate(rank_raw)
            filter_params = None
            if resolved.filter is not None:
                filter_params = resolved.filter_spec(resolved.assets[0]).model_dump()
                filter_params.pop("series", None)
            sets.append(
                RankSet(
                    score=score_model.model_dump(exclude={"type"}),
                    top=int(resolved.top),
                    exposure=float(resolved.exposure),
                    vol_window=resolved.vol_window,
                    min_score=resolved.min_score,
                    filter=filter_params,
                    keep=None if resolved.keep is None else int(resolved.keep),
                )
            )
        plans.append(RankPlan(k, rank, score.type, owned, sets))
    return plans


class RankInputs:
    """Scores, volatilities and filters of single assets, aligned to the decision dates by
    close time, each computed once (cached by ticker and parameters)."""

    def __init__(self, prices: Mapping[str, pd.DataFrame], config: Config, instants: np.ndarray):
        self.prices = prices
        self.overrides = config.data.close_times
        self.instants = instants  # close instants of the decision dates
        self._cache: dict[tuple, np.ndarray] = {}
        self._owns: dict[str, tuple[pd.Series, np.ndarray]] = {}
        self._tables: dict[tuple, np.ndarray] = {}  # assembled [P, M] (read-only) per request
        self.rankings: dict[tuple, Ranking] = {}  # rank_set's, per regime and ranking key

    def _own(self, ticker: str) -> tuple[pd.Series, np.ndarray]:
        """The ticker's close and its close instants (computed once per ticker)."""
        if ticker not in self._owns:
            close = self.prices[ticker]["Close"]
            own = calendar.ticker_close_instants(ticker, close.index, self.overrides)
            self._owns[ticker] = close, own
        return self._owns[ticker]

    def score(self, kind: str, params: Mapping[str, Any], tickers: Sequence[str]) -> np.ndarray:
        """[P, M] score of each ticker, NaN where undefined or not yet final (read-only:
        the same array is returned to every request of the same scores)."""
        frozen = _freeze(params)
        whole = (kind, frozen, tuple(tickers))
        if whole in self._tables:
            return self._tables[whole]
        columns = []
        for ticker in tickers:
            key = ("score", kind, frozen, ticker)
            if key not in self._cache:
                close, own = self._own(ticker)
                values = SCORE_KINDS[kind].values(close, [params])[:, 0]
                self._cache[key] = calendar.align_asof_values(values, own, self.instants)
            columns.append(self._cache[key])
        table = np.column_stack(columns).reshape(len(self.instants), len(tickers))
        table.flags.writeable = False
        self._tables[whole] = table
        return table

    def prefetch(
        self, kind: str, params_list: Sequence[Mapping[str, Any]], tickers: Sequence[str]
    ) -> None:
        """Compute, one call per ticker, the scores of every parameter set not cached yet
        (a kind shares work between sets: the daily returns of several windows)."""
        frozen = {_freeze(p): p for p in params_list}
        for ticker in dict.fromkeys(tickers):
            cached = self._cache
            todo = {f: p for f, p in frozen.items() if ("score", kind, f, ticker) not in cached}
            if not todo:
                continue
            close, own = self._own(ticker)
            values = SCORE_KINDS[kind].values(close, list(todo.values()))
            for k, f in enumerate(todo):
                aligned = calendar.align_asof_values(values[:, k], own, self.instants)
                self._cache[("score", kind, f, ticker)] = aligned

    def passed(self, spec: Mapping[str, Any], tickers: Sequence[str]) -> np.ndarray:
        """[P, M] the filter signal of each ticker (its own price as the series)."""
        columns = []
        for ticker in tickers:
            key = ("filter", _freeze(spec), ticker)
            if key not in self._cache:
                kind = SIGNAL_KINDS[spec["type"]]
                model = kind.config(dict(spec) | {"series": ticker})
                source, series = kind.source(self.prices, model)
                on = switch(kind.lines(source, [kind.params(model)]))[:, 0]
                own = calendar.series_close_instants(series, source.index, self.overrides)
                self._cache[key] = calendar.align_asof(on, own, self.instants)
            columns.append(self._cache[key])
        return np.column_stack(columns).reshape(len(self.instants), len(tickers))


def weighing_inputs(plan: RankPlan, chosen: RankSet, inputs: RankInputs) -> tuple:
    """(volatility [P, M] or None, min_score threshold, filter [P, M] or None) of one
    parameter set: what weighs a selection besides the scores."""
    rank = plan.rank
    vol = None
    if rank.weighting == "inverse_vol":
        vol = inputs.score("volatility", {"window": chosen.vol_window}, rank.assets)
    threshold = chosen.min_score
    if isinstance(threshold, str):
        threshold = inputs.score(plan.score_type, chosen.score, [threshold])[:, 0]
    passed = None if chosen.filter is None else inputs.passed(chosen.filter, rank.assets)
    return vol, threshold, passed


def rank_set(plan: RankPlan, chosen: RankSet, inputs: RankInputs) -> Ranking:
    """The ranking of one parameter set on every decision date, computed once per set's
    ranking key and kept in `inputs` (every chunk of a sweep reads the same; its arrays
    are read-only)."""
    key = (plan.regime, chosen.ranking_key())
    if key not in inputs.rankings:
        rank = plan.rank
        score = inputs.score(plan.score_type, chosen.score, rank.assets)
        vol, threshold, passed = weighing_inputs(plan, chosen, inputs)
        ranking = rank_assets(
            score,
            chosen.top,
            chosen.exposure,
            lowest=rank.order == "lowest",
            vol=vol,
            threshold=threshold,
            passed=passed,
        )
        for array in vars(ranking).values():
            array.flags.writeable = False
        inputs.rankings[key] = ranking
    return inputs.rankings[key]


def ranked_weights(plan: RankPlan, ranking: Ranking, universe: Sequence[str]) -> np.ndarray:
    """[P, A] target weights over the universe: candidates' weights plus the fallback's
    share on the fallback ticker (weights of the same ticker add); the rest is cash."""
    out = np.zeros(ranking.weight.shape[:-1] + (len(universe),))
    for m, ticker in enumerate(plan.rank.assets):
        out[..., universe.index(ticker)] += ranking.weight[..., m]
    if plan.rank.fallback is not None:
        out[..., universe.index(plan.rank.fallback)] += ranking.fallback
    return out


# ---- tables and codes for the simulators -----------------------------------


@dataclass(frozen=True)
class Targets:
    """Target vectors and which one each combination holds on each row.

    Attributes:
        tables: [T, rows of a table, A] target vectors (layout in `engine.tables`).
        table_of: [G] the table of each combination.
        codes: [G, rows] row of its table each combination's target is on each row.
        scales: [T, rows of a table] the volatility target's scale of each row (1 where
            unscaled), None without `portfolio.target_vol`.
    """

    tables: np.ndarray
    table_of: np.ndarray
    codes: np.ndarray
    scales: np.ndarray | None = None


def chunk_bytes(config: Config, schedules: Schedules, n_signals: int = 0) -> int:
    """Bytes of one combination's table (for choosing chunk sizes): fixed rows, a row per
    ranked regime and decision date some row reads, with a volatility target a row per
    fixed regime and such date, with a rank buffer about as many again as its ranked rows;
    plus, for the decision dates a rank buffer walks before those (history), the
    combination's signals and decided regime on them. A blend's decisions give their own
    size (engine.blend.Sizes)."""
    if hasattr(schedules, "table_bytes"):
        return schedules.table_bytes()
    n_slots = len(schedules.read)
    ranked = sum(r.rank is not None for r in config.regimes)
    buffered = sum(r.rank is not None and r.rank.keep is not None for r in config.regimes)
    rows = len(config.regimes) + (ranked + buffered) * n_slots
    if config.portfolio.target_vol is not None:
        rows += len(config.regimes) * n_slots
    history = len(schedules.decisions) - n_slots
    return 8 * len(config.universe) * rows + history * (n_signals + 8)
