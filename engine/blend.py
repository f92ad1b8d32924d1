"""Deciding a blend (docs/semantics.md "Blends"): members' targets, weighted and summed.

A blend's target at a date t of its calendar C is `sum_j W_j target_j(t)` over the blend's
universe (the rest cash), then the blend's own volatility target, applied on every date
some member decides. Each member is decided on C by the plain pipeline (engine.pipeline:
its own signals, scores, regimes, schedule and target_vol), which gives it a table of
target rows and a code per date into it (engine.targets.Targets). The blend's target
rows are then the distinct tuples of the members' codes (with the blend's volatility
target: and of the latest date some member decided), each the weighted sum of the
members' rows, so the blend too is a table and codes: both simulators run it as they
run a plain config, and a sweep's combinations share tables as before.

A sweep of a blend has axes of four kinds: a member's weight `blend[j].weight`, a
member's parameter `blend[j].<path>` (decided with the member), and the blend's own
execution and portfolio keys (costs, cash yield, its volatility target). A config in
tranches decides its N copies together: one member pipeline with a decide_day axis of
the N days (signals and rankings aligned once), every swept parameter of the config
applying to each copy.

`prepare_any` and `warnings_any` are engine.pipeline's `prepare_decisions` and
`shaping_warnings` for any config (a sweep's plan calls them); a blend's decisions
decide themselves when engine.pipeline's `decide_targets` is handed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine import pipeline, vol_target
from engine.config import Config
from engine.config.blend import Blend
from engine.research.grid import Axis
from engine.targets import Targets, chunk_bytes

DAY_AXIS = -1  # `Source.owned` entry of a tranche's own decide_day axis
MEMBER_SECTIONS = ("signals", "scores", "regimes")


@dataclass(frozen=True)
class Source:
    """One run of the plain pipeline that decides some members.

    Attributes:
        config: the config it decides (a member's, or the config in tranches).
        axes: its axes (paths in its own config), a tranche's decide_day axis last.
        owned: per axis, the blend axis it reads (DAY_AXIS: each member's own day).
        decisions: its schedules, signals and rank inputs (engine.pipeline.Decisions).
        members: the blend members it decides, in blend order.
    """

    config: Config
    axes: list[Axis]
    owned: list[int]
    decisions: pipeline.Decisions
    members: tuple[int, ...]


@dataclass(frozen=True)
class Sizes:
    """What engine.targets.chunk_bytes reads of a blend: the bytes of one combination."""

    bytes: int

    def table_bytes(self) -> int:
        return self.bytes


@dataclass(frozen=True)
class BlendDecisions:
    """What every chunk of a blend's combinations reads (engine.pipeline.Decisions' part).

    Attributes:
        blend: the blend.
        sources: the member pipelines.
        signals: every member's signal tables (by `member:signal`; one copy for tranches).
        returns: [C, A] daily returns of the blend's universe, for its own target_vol.
        schedule: the memory one combination needs (engine.targets.chunk_bytes).
        cache: volatilities computed once per sweep.
    """

    blend: Blend
    sources: tuple[Source, ...]
    signals: dict
    returns: np.ndarray | None
    schedule: Sizes
    cache: dict = field(default_factory=dict)

    def decide(self, axes: Sequence[Axis], index: np.ndarray, prior: bool = False):
        """engine.pipeline.decide_targets of a blend: its decided regimes and targets."""
        return decide(self.blend, self, axes, index, prior)


def prepare_any(
    config: Config, axes: Sequence[Axis], market: pipeline.Market, rows: np.ndarray, frames=False
):
    """engine.pipeline.prepare_decisions of any config: a blend's from its members."""
    if isinstance(config, Blend):
        return prepare(config, axes, market, rows, frames)
    return pipeline.prepare_decisions(config, axes, market, rows, frames)


def warnings_any(config: Config, market: pipeline.Market, decisions) -> None:
    """engine.pipeline.shaping_warnings of any config: a blend's from its members."""
    if isinstance(config, Blend):
        return shaping_warnings(config, market, decisions)
    return pipeline.shaping_warnings(config, market, decisions)


def member_axes(blend: Blend, axes: Sequence[Axis], j: int) -> tuple[list[Axis], list[int]]:
    """Member j's axes (paths in its own config) and the blend axis of each: `blend[j].*`
    (but its weight), and for tranches every axis of the config's own sections."""
    out, owned = [], []
    for i, axis in enumerate(axes):
        path = axis.path
        if path[:2] == ("blend", j) and path[2:] != ("weight",):
            out.append(Axis(path[2:], axis.values))
            owned.append(i)
        elif blend.tranches_of is not None and (
            path[0] in MEMBER_SECTIONS or path[:2] == ("portfolio", "target_vol")
        ):
            out.append(axis)
            owned.append(i)
    return out, owned


def prepare(
    blend: Blend, axes: Sequence[Axis], market: pipeline.Market, rows: np.ndarray, frames=False
) -> BlendDecisions:
    """Each member's decisions on the blend's calendar (`rows`: positions in C), a config
    in tranches through one pipeline with a decide_day axis of its N days."""
    sources = []
    if blend.tranches_of is not None:
        own, owned = member_axes(blend, axes, 0)
        days = tuple(m.config.execution.day for m in blend.members)
        day_axis = Axis(("execution", "decide_day"), days)
        config = blend.member_config(0)
        decisions = pipeline.prepare_decisions(config, [*own, day_axis], market, rows, frames)
        members = tuple(range(len(blend.members)))
        sources.append(Source(config, [*own, day_axis], [*owned, DAY_AXIS], decisions, members))
    else:
        for j in range(len(blend.members)):
            own, owned = member_axes(blend, axes, j)
            config = blend.member_config(j)
            decisions = pipeline.prepare_decisions(config, own, market, rows, frames)
            sources.append(Source(config, own, owned, decisions, (j,)))
    signals = {}
    for source in sources:
        for name, table in source.decisions.signals.items():
            key = name if blend.tranches_of is not None else f"{_name(blend, source)}:{name}"
            signals[key] = table
    returns = None
    if blend.portfolio.target_vol is not None:
        returns = vol_target.calendar_returns(market.prices, list(blend.universe), market.calendar)
    per_member = sum(
        chunk_bytes(s.config, s.decisions.schedule, len(s.decisions.signals)) * len(s.members)
        for s in sources
    )
    per_combo = per_member + 8 * len(blend.universe) * (len(rows) + 1)  # the blend's rows
    return BlendDecisions(blend, tuple(sources), signals, returns, Sizes(per_combo))


def _name(blend: Blend, source: Source) -> str:
    return blend.members[source.members[0]].name


def shaping_warnings(blend: Blend, market: pipeline.Market, decisions: BlendDecisions) -> None:
    """What shaped the blend: the keys it overrode in its members (once), each member's
    own warnings (a tranche config's once), and the blend's volatility target."""
    from engine.notices import prefixed, warn_shaped

    for note in blend.notes:
        warn_shaped(note)
    for source in decisions.sources:
        if blend.tranches_of is not None:
            pipeline.shaping_warnings(source.config, market, source.decisions)
            continue
        j = source.members[0]
        with prefixed(f"blend[{j}] {blend.members[j].name}: "):
            pipeline.shaping_warnings(source.config, market, source.decisions)
    vol_target.warn_undefined(blend, market.first, market.dates)


@dataclass(frozen=True)
class Decided:
    """One member's decisions for the combinations at hand.

    Attributes:
        regimes: [G, rows] its decided regime (positions in its regimes).
        tables, table_of, codes: its Targets, read through `combo` ([G] its combination).
        latest: [G, rows] position in C of its latest decision date (-1 before), or None.
    """

    regimes: np.ndarray
    targets: Targets
    latest: np.ndarray | None


def decide_members(
    decisions: BlendDecisions,
    axes: Sequence[Axis],
    index: np.ndarray,
    prior: bool = False,
    records: list | None = None,
) -> list[Decided]:
    """Each member's decided regimes and targets for the combinations `index` ([axes, G]):
    one call of the plain pipeline per source on the distinct member combinations (a
    run with `records`, one call per member, each filling its dict of rankings)."""
    blend = decisions.blend
    out: list[Decided | None] = [None] * len(blend.members)
    for source in decisions.sources:
        count = len(source.members)
        sub = np.empty((len(source.owned), count * index.shape[1]), dtype=np.int64)
        for k in range(count):  # columns k G .. (k + 1) G - 1: member k's combinations
            for row, i in enumerate(source.owned):
                sub[row, k * index.shape[1] : (k + 1) * index.shape[1]] = (
                    k if i == DAY_AXIS else index[i]
                )
        if records is not None:  # a run: each member alone, its rankings recorded
            for k, j in enumerate(source.members):
                got = _decided(source, sub[:, k : k + 1], prior, records[j], decisions)
                out[j] = got
            continue
        if len(source.owned):
            distinct, inverse = np.unique(sub, axis=1, return_inverse=True)
        else:  # nothing swept reaches it: one decision serves every combination
            distinct, inverse = sub[:, :1], np.zeros(sub.shape[1], dtype=np.int64)
        got = _decided(source, distinct, prior, None, decisions)
        inverse = inverse.reshape(count, index.shape[1])
        for k, j in enumerate(source.members):
            out[j] = take_combos(got, inverse[k])
    return out


def _decided(source: Source, index, prior, record, decisions: BlendDecisions) -> Decided:
    regimes, targets = pipeline.decide_targets(
        source.config, source.decisions, source.axes, index, prior, record
    )
    latest = None
    if decisions.returns is not None:
        schedule = source.decisions.schedule
        sources = schedule.sources[pipeline.schedule_of(source.axes, index)]
        latest = np.where(sources >= 0, schedule.decisions[np.maximum(sources, 0)], -1)
        if prior:
            latest = np.hstack([np.full((latest.shape[0], 1), -1, dtype=np.int64), latest])
    return Decided(regimes, targets, latest)


def take_combos(got: Decided, combos: np.ndarray) -> Decided:
    """The decisions of `combos` (positions among the decided combinations)."""
    targets = got.targets
    taken = Targets(targets.tables, targets.table_of[combos], targets.codes[combos], targets.scales)
    latest = None if got.latest is None else got.latest[combos]
    return Decided(got.regimes[combos], taken, latest)


def decide(
    blend: Blend,
    decisions: BlendDecisions,
    axes: Sequence[Axis],
    index: np.ndarray,
    prior: bool = False,
    records: list | None = None,
) -> tuple[np.ndarray, Targets]:
    """The blend's decided regimes ([G, rows]: positions among the joined names, or any
    code telling them apart beyond MOST_REGIMES) and targets (see the module docstring)."""
    from engine.blend_tables import blend_targets, joined_codes

    members = decide_members(decisions, axes, index, prior, records)
    regimes = joined_codes(blend, [m.regimes for m in members])
    return regimes, blend_targets(blend, decisions, axes, index, members)
