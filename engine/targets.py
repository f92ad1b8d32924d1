"""Decided targets per combination: the decision schedule, ranked allocations, and the
tables the simulators read (docs/semantics.md "Ranked allocations", "Decision schedule").

A combination's target on a date of C is either a regime's fixed weights or, for a
ranked regime, the weights its ranking gave on the latest decision date. Both
simulators take the targets as a table of distinct vectors plus codes into it:

    table[K + r P + p] = ranked regime r's weights decided on decision date p,
    table[k]           = regime k's fixed weights (zeros, i.e. cash, for a ranked one:
                         what a ranked default holds before its first decision),

for K regimes, R ranked regimes and P decision dates. Combinations that differ only in
signal parameters or costs share a table (`Targets.table_of`), so a sweep over a
100-asset ranking holds one table per distinct ranking, not one per combination.
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


def decision_schedule(calendar_dates: pd.DatetimeIndex, decide: str, rows: np.ndarray) -> Schedule:
    """The schedule of `rows` (positions in C) under `execution.decide`: decision dates
    are taken on all of C, also before the backtest's start."""
    positions = np.flatnonzero(calendar.decision_mask(calendar_dates, decide))
    latest = np.searchsorted(positions, rows, side="right") - 1
    needed = np.unique(latest[latest >= 0])
    source = np.full(len(rows), -1, dtype=np.int64)
    source[latest >= 0] = np.searchsorted(needed, latest[latest >= 0])
    return Schedule(positions[needed], source)


def scheduled(codes: np.ndarray, schedule: Schedule, default: int) -> np.ndarray:
    """[G, rows] decided regime of each row: the one of its latest decision date, the
    default regime before the first (`codes`: [G, P] on the decision dates)."""
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


def rank_set(plan: RankPlan, chosen: RankSet, inputs: RankInputs) -> Ranking:
    """The ranking of one parameter set on every decision date."""
    rank = plan.rank
    score = inputs.score(plan.score_type, chosen.score, rank.assets)
    vol = None
    if rank.weighting == "inverse_vol":
        vol = inputs.score("volatility", {"window": chosen.vol_window}, rank.assets)
    threshold = chosen.min_score
    if isinstance(threshold, str):
        threshold = inputs.score(plan.score_type, chosen.score, [threshold])[:, 0]
    passed = None if chosen.filter is None else inputs.passed(chosen.filter, rank.assets)
    return rank_assets(
        score,
        chosen.top,
        chosen.exposure,
        lowest=rank.order == "lowest",
        vol=vol,
        threshold=threshold,
        passed=passed,
    )


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
        tables: [T, K + R P, A] target vectors (layout in the module docstring).
        table_of: [G] the table of each combination.
        codes: [G, rows] row of its table each combination's target is on each row.
    """

    tables: np.ndarray
    table_of: np.ndarray
    codes: np.ndarray


def _set_index(axes: Sequence[Axis], owned: list[int], index: np.ndarray) -> np.ndarray:
    """[G] position of each combination's values of the `owned` axes in their grid order."""
    if not owned:
        return np.zeros(index.shape[1], dtype=np.int64)
    return np.ravel_multi_index(index[owned], [len(axes[i].values) for i in owned])


def target_codes(
    regimes: np.ndarray, source: np.ndarray, ranked: Mapping[int, int], n_regimes: int, n_dec: int
) -> np.ndarray:
    """[G, rows] table row of each combination's target (`regimes`: its decided regime
    per row; `source`: each row's decision date, -1 before the first; `ranked`: regime
    position -> ranked index r)."""
    if not ranked:
        return regimes  # fixed weights only: row k of the table is regime k
    codes = regimes.astype(np.int64, copy=True)
    for k, r in ranked.items():
        hit = (regimes == k) & (source >= 0)
        codes[hit] = (n_regimes + r * n_dec + np.broadcast_to(source, regimes.shape))[hit]
    return codes


def build_targets(
    config: Config,
    axes: Sequence[Axis],
    index: np.ndarray,
    regimes: np.ndarray,
    source: np.ndarray,
    plans: Sequence[RankPlan],
    inputs: RankInputs | None,
    fixed: np.ndarray,
    keep: dict | None = None,
) -> Targets:
    """Tables and codes for the combinations `index` ([axes, G]).

    Args:
        regimes: [G, rows] decided regime per row (the prior row included).
        source: [rows] decision date of each row (-1: none yet).
        fixed: [G, K, A] fixed weights of each regime per combination (zeros for ranked).
        keep: when a dict, filled with {regime position: Ranking} (runs, G = 1).
    """
    universe = list(config.universe)
    n_regimes = fixed.shape[1]
    n_dec = len(inputs.instants) if inputs is not None else 0
    ranked = {plan.regime: r for r, plan in enumerate(plans)}
    codes = target_codes(regimes, source, ranked, n_regimes, n_dec)
    if not plans:
        return Targets(fixed, np.arange(index.shape[1]), codes)

    weight_axes = [
        i for i, a in enumerate(axes) if a.path[:1] == ("regimes",) and "weights" in a.path
    ]
    keys = [_set_index(axes, weight_axes, index)] if weight_axes else []
    keys += [_set_index(axes, plan.owned, index) for plan in plans]
    distinct, table_of = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
    table_of = table_of.reshape(-1)
    first = np.zeros(len(distinct), dtype=np.int64)
    first[table_of[::-1]] = np.arange(index.shape[1])[::-1]  # a combination per table
    tables = np.zeros((len(distinct), n_regimes + len(plans) * n_dec, len(universe)))
    tables[:, :n_regimes] = fixed[first]
    offset = 1 if weight_axes else 0
    for r, plan in enumerate(plans):
        rows = slice(n_regimes + r * n_dec, n_regimes + (r + 1) * n_dec)
        used = [plan.sets[int(i)] for i in np.unique(distinct[:, offset + r])]
        inputs.prefetch(plan.score_type, [s.score for s in used], plan.rank.assets)
        if plan.rank.weighting == "inverse_vol":
            windows = [{"window": s.vol_window} for s in used]
            inputs.prefetch("volatility", windows, plan.rank.assets)
        for set_id in np.unique(distinct[:, offset + r]):
            ranking = rank_set(plan, plan.sets[int(set_id)], inputs)
            if keep is not None:
                keep[plan.regime] = ranking
            tables[distinct[:, offset + r] == set_id, rows] = ranked_weights(
                plan, ranking, universe
            )
    return Targets(tables, table_of, codes)


def chunk_bytes(config: Config, n_decisions: int) -> int:
    """Bytes of one combination's table (for choosing chunk sizes)."""
    ranked = sum(r.rank is not None for r in config.regimes)
    return 8 * len(config.universe) * (len(config.regimes) + ranked * n_decisions)
