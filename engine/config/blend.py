"""Blends and tranches (docs/semantics.md "Blends"): a portfolio of strategies as one config.

A blend file names weighted member configs and holds its own `name`, `data`,
`execution` (timing, costs, rebalance, tolerance), `portfolio`, `benchmark` and `stats`:

    name: seed-and-gem
    data: {source: csv, dir: ../../../shared/data, start: 2018-03-01}
    blend:
      - {config: ../smallcap_breakout_eth.yaml, weight: 0.5}   # a file, relative to this one
      - {config: ../taa/gem.yaml, weight: 0.5}
    execution: {fees_bps: 2, slippage_bps: 1}

A member may also be written inline: `{weight: 0.5, name: ..., universe: [...],
regimes: [...]}` (its keys in the entry itself; a run folder's config.yaml holds its
members so). Each member keeps its own signals, scores, regimes, `decide`, `decide_day`
and `target_vol`; the blend's data, costs, rebalance rule, cash, benchmark and stats
apply to it (engine/config/blend_members.py builds each member's effective config and
says once which of its keys the blend overrode). `execution.tranches: N` on a plain
config is the blend of N copies of it deciding on spread days (`tranche_blend`).

`Blend` is a `Config` over the members' universes (in order of first appearance), with
no signals and one placeholder regime per joined regime name, so the simulation,
statistics and reports of a plain config apply to it as they are; engine/blend.py
decides its targets from the members'.
"""

from __future__ import annotations

import itertools
from typing import Any

from engine.config import Config, RegimeConfig, _Model
from strategies.regimes import Regime

TRANCHE_SPAN = {"weekly": 5, "monthly": 21, "quarterly": 63, "annual": 252}
"""L of SPEC 11: the decision days a period is counted to hold, per schedule."""

MOST_REGIMES = 64
"""A blend lists time in each joined regime (members' names joined by `|`) while the
members' regimes combine into at most this many names; beyond it only the names some
backtest date decided (runs), or none (sweeps: no time_in columns)."""

SEPARATOR = "|"  # between the members' regime names in the blend's decided regime


class Member(_Model):
    """One member of a blend.

    Attributes:
        name: its label in the blend's files (the config's name, made unique with -2, -3).
        label: where it came from: its file as written in the blend, or `inline`.
        weight: W_j, its share of the blend (0 < W_j, the weights summing to at most 1).
        config: its config as it runs in the blend (the blend's data, costs, cash,
            benchmark and stats; its own signals, scores, regimes, schedule, target_vol).
    """

    name: str
    label: str
    weight: float
    config: Config


def tranche_days(decide: str, count: int) -> list[int]:
    """decide_day of each of N tranches: -1 - floor(i L / N), i = 0..N-1 (SPEC 11)."""
    span = TRANCHE_SPAN[decide]
    return [-1 - (i * span) // count for i in range(count)]


class Blend(Config):
    """A blend (or a config in tranches) as a `Config` over the members' universes.

    Attributes:
        members: the members in `blend` order.
        tranches_of: for `execution.tranches`, the config split (None for a blend file).
        notes: what the blend overrode in its members, said once per run (warnings).
    """

    members: tuple[Member, ...] = ()
    tranches_of: Config | None = None
    notes: tuple[str, ...] = ()

    def member_config(self, j: int) -> Config:
        """Member j as it runs now: the blend's current data, costs, cash, benchmark and
        stats (a comparison or a walk-forward window changes the blend's `data`)."""
        own = self.members[j].config
        keep = {k: getattr(own.execution, k) for k in ("decide", "decide_day")}
        return self._with_own_keys(own, self.execution.model_copy(update=keep))

    def _with_own_keys(self, config: Config, execution) -> Config:
        """`config` with the blend's data, `execution`, money keys, benchmark and stats,
        and its own volatility target."""
        return config.model_copy(
            update={
                "data": self.data,
                "execution": execution,
                "portfolio": self.portfolio.model_copy(
                    update={"target_vol": config.portfolio.target_vol}
                ),
                "benchmark_spec": self.benchmark_spec,
                "stats": self.stats,
            }
        )

    def member_regimes(self) -> list[list[str]]:
        """Each member's regime names, in order."""
        return [[r.name for r in m.config.regimes] for m in self.members]

    def regime_count(self) -> int:
        """How many joined regime names the members' regimes make."""
        count = 1
        for names in self.member_regimes():
            count *= len(names)
        return count

    def joined_names(self) -> list[str] | None:
        """Every joined regime name, in product order (members in blend order, each
        member's regimes in its order), or None beyond MOST_REGIMES."""
        if self.regime_count() > MOST_REGIMES:
            return None
        return [SEPARATOR.join(p) for p in itertools.product(*self.member_regimes())]

    def parsed_regimes(self) -> list[Regime]:
        """The joined names as regimes (the sweep's time_in columns), [] beyond
        MOST_REGIMES."""
        return [Regime(name, None, {}) for name in self.joined_names() or []]

    def tickers(self, thresholds: bool = True) -> list[str]:
        """Every ticker some member needs, the blend's benchmark and rates (sorted)."""
        needed = set(self.benchmark) | set(self.universe)
        if thresholds:
            needed.update(self.rates())
        for j in range(len(self.members)):
            needed.update(self.member_config(j).tickers(thresholds))
        return sorted(needed)

    def thresholds(self) -> dict[str, str]:
        """Members' min_score tickers -> the field naming them (`blend[j].regimes[k]...`)."""
        out: dict[str, str] = {}
        for j, member in enumerate(self.members):
            for ticker, field in member.config.thresholds().items():
                out.setdefault(ticker, f"blend[{j}].{field}")
        return out

    def resolved(self) -> dict[str, Any]:
        """The blend as a run folder saves it: its own keys, each member inline with only
        the keys it owns (config.yaml runs again anywhere); a config in tranches as that
        config (with `execution.tranches`)."""
        if self.tranches_of is not None:
            return self.source().resolved()
        own = Config.resolved(self)
        execution = {k: v for k, v in own["execution"].items() if k not in MEMBER_EXECUTION}
        entries = [{"weight": m.weight, **member_keys(m.config)} for m in self.members]
        return {
            "name": own["name"],
            "description": own["description"],
            "data": own["data"],
            "blend": entries,
            "execution": execution,
            "portfolio": own["portfolio"],
            "benchmark": own["benchmark"],
            "stats": own["stats"],
        }

    def source(self) -> Config:
        """The config in tranches with the blend's current data and money keys."""
        source = self.tranches_of
        money = {k: getattr(self.execution, k) for k in BLEND_EXECUTION}
        return self._with_own_keys(source, source.execution.model_copy(update=money))


BLEND_EXECUTION = ("timing", "fees_bps", "slippage_bps", "rebalance", "tolerance")
"""The `execution` keys a blend sets for all its members."""
MEMBER_EXECUTION = ("decide", "decide_day", "tranches")
"""The `execution` keys each member keeps (a blend sets none of them)."""
MEMBER_KEYS = ("name", "description", "universe", "signals", "scores", "regimes")
"""The top-level keys a member owns (plus its decide, decide_day and target_vol)."""


def member_keys(config: Config) -> dict[str, Any]:
    """The keys of `config` a member owns, resolved: what a blend's config.yaml holds
    inline for it."""
    resolved = config.resolved()
    out = {k: resolved[k] for k in MEMBER_KEYS if k in resolved}
    out["execution"] = {
        k: resolved["execution"][k] for k in ("decide", "decide_day") if k in resolved["execution"]
    }
    target = resolved["portfolio"].get("target_vol")
    if target is not None:
        out["portfolio"] = {"target_vol": target}
    return out


def carrier_fields(members: list[Member]) -> dict[str, Any]:
    """The `Config` fields a blend derives from its members: the universe (members'
    universes in order of first appearance), no signals or scores, and one placeholder
    regime per joined name (only the joined defaults beyond MOST_REGIMES): the last is
    the members' defaults joined, the regime before any decision."""
    universe = list(dict.fromkeys(t for m in members for t in m.config.universe))
    names = [[r.name for r in m.config.regimes] for m in members]
    count = 1
    for each in names:
        count *= len(each)
    if count <= MOST_REGIMES:
        joined = [SEPARATOR.join(p) for p in itertools.product(*names)]
    else:
        joined = [SEPARATOR.join(each[-1] for each in names)]
    regimes = [RegimeConfig(name=name, weights={}) for name in joined]
    return {"universe": universe, "signals": {}, "scores": {}, "regimes": regimes}


def tranche_blend(config: Config) -> Blend:
    """`config` (with `execution.tranches: N`) as the blend of N copies of it, weights
    1/N, decide_day -1 - floor(i L / N), each named by its day (`day-1`, `day-6`, ...);
    a volatility target scales each copy's target, not the sum again."""
    count = int(config.execution.tranches)
    plain = config.execution.model_copy(update={"tranches": None, "decide_day": None})
    members = []
    for day in tranche_days(config.execution.decide, count):
        copy = config.model_copy(update={"execution": plain.model_copy(update={"decide_day": day})})
        members.append(Member(name=f"day{day}", label="tranche", weight=1.0 / count, config=copy))
    execution = plain.model_copy(update={"decide": "daily"})
    return Blend.model_validate(
        {
            "name": config.name,
            "description": config.description,
            "data": config.data,
            **carrier_fields(members),
            "execution": execution,
            "portfolio": config.portfolio.model_copy(update={"target_vol": None}),
            "benchmark": config.benchmark_spec,
            "stats": config.stats,
            "members": tuple(members),
            "tranches_of": config,
        }
    )


def is_blend(config: Config) -> bool:
    """True for a blend or a config in tranches (engine/blend.py decides it)."""
    return isinstance(config, Blend)
