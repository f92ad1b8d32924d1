"""Typed, validated model of a strategy YAML file.

Validation has two parts: the pydantic schema (types, ranges, unknown keys
rejected) and one small named function per cross-field rule. Every problem is
reported in one pass: when the schema fails, the broken pieces are removed or
stood in for (`_repair`) and the cross-field rules still run on the rest, leaving
out what the removal itself would cause. One problem is one line; several are a
header naming the file, then one problem per line, in the project's words
(`_in_our_words`), with did-you-mean where a name is close.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
)

from engine import limits
from engine.config import strict_yaml
from engine.config.types import Date, Number, Weight, Whole
from engine.data.market_calendar import is_crypto
from engine.errors import ConfigError
from engine.limits import is_series, is_symbol
from strategies.params import whole_at_least
from strategies.regimes import Regime, WhenSyntaxError, names_in, parse_when
from strategies.scores import SCORE_KINDS
from strategies.signals import SIGNAL_KINDS

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_TOLERANCE = 1e-9  # weight sums are compared with this slack (0.1 + 0.2 ...)
MAX_DAY_OFFSET = 7  # a close time is at most a week after its bar's label date


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _without_unset(data: dict, keys: tuple[str, ...]) -> dict:
    """`data` without the optional `keys` left at None: a config that does not use a key
    added later resolves (config.yaml, the config hash) to the same bytes as before."""
    return {k: v for k, v in data.items() if not (k in keys and v is None)}


class CloseTime(_Model):
    """When a series' daily bar becomes final: `time` in `tz`, `day_offset` days after its label.

    A bar can never be final before the start of its own label date in `tz`: it
    would then feed decisions taken before the day it describes had begun (a
    negative offset hands later prices to earlier dates). So `day_offset` is 0
    to `MAX_DAY_OFFSET`, and with an HH:MM `time` the instant
    `label date + day_offset days + time` is at or after 00:00 of the label date
    in `tz` by construction. Whether a late-enough close is also honest (a
    crypto UTC-day bar is not complete at 16:00 New York) is what
    `rotation audit` checks.
    """

    time: str
    tz: str
    day_offset: int = 0

    @field_validator("day_offset")
    @classmethod
    def _not_before_label_date(cls, value: int) -> int:
        if not 0 <= value <= MAX_DAY_OFFSET:
            raise ValueError(
                f"must be 0 to {MAX_DAY_OFFSET} (days after the bar's label date), not {value}: "
                "a bar cannot become final before its own date (0 = on the label date, "
                "1 = the next day)"
            )
        return value

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError("must be HH:MM (24-hour clock), e.g. '16:00'")
        return value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as 'UTC')"
            ) from None
        return value


class DataConfig(_Model):
    """Where prices come from and how bad data is treated (README "Data")."""

    source: Literal["yfinance", "csv", "synthetic"] = "yfinance"
    dir: Path | None = None
    start: Date
    end: Date | None = None
    close_times: dict[str, CloseTime] = Field(default_factory=dict)
    seed: Whole | None = Field(default=None, ge=0)  # synthetic source only (None: 0)
    max_fill_days: Whole = Field(default=3, ge=0, le=30)  # longest gap forward-filled, sessions
    allow_jumps: list[str] = Field(default_factory=list)  # exempt from the split-like move check


# One model per registered signal kind (strategies/signals/), told apart by `type`.
SignalConfig = Annotated[
    Union[tuple(kind.model for kind in SIGNAL_KINDS.values())],  # noqa: UP007
    Field(discriminator="type"),
]


# One model per registered score kind (strategies/scores/), told apart by `type`.
ScoreConfig = Annotated[
    Union[tuple(kind.model for kind in SCORE_KINDS.values())],  # noqa: UP007
    Field(discriminator="type"),
]


class RankConfig(_Model):
    """A ranked allocation (docs/scores.md): the top `top` of `assets` by `score`."""

    assets: list[str] = Field(min_length=1)
    score: str = Field(min_length=1)
    order: Literal["highest", "lowest"] = "highest"
    top: whole_at_least(1)
    weighting: Literal["equal", "inverse_vol"] = "equal"
    vol_window: whole_at_least(2) | None = None
    min_score: Number | str | None = None
    filter: dict[str, Any] | None = None
    fallback: str | None = None
    exposure: Number = Field(default=1.0, gt=0.0, le=1.0)
    keep: whole_at_least(1) | None = None  # rank buffer: holders stay while ranked <= keep

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict:
        return _without_unset(handler(self), ("keep",))

    @field_validator("min_score", mode="before")
    @classmethod
    def _number_or_ticker(cls, value: Any) -> Any:
        """A number or a ticker; YAML's true/false is neither."""
        if isinstance(value, bool):
            raise ValueError(f"must be a number or a ticker, not {str(value).lower()}")
        return value

    @field_validator("filter")
    @classmethod
    def _filter_kind(cls, value: dict | None) -> dict | None:
        """Any signal kind, without `series` (each candidate asset is the series)."""
        if value is None:
            return None
        if "series" in value:
            raise ValueError("a filter has no `series`: it runs on each ranked asset's own price")
        kind = SIGNAL_KINDS.get(value.get("type"))
        if kind is None:
            kinds = sorted(SIGNAL_KINDS)
            tag = value.get("type")
            if tag is None:
                raise ValueError(f"needs a `type` (one of {kinds})")
            raise ValueError(
                f"unknown signal type {tag!r}{suggest(str(tag), kinds)}; kinds are {kinds}"
            )
        kind.config(value | {"series": "X"})  # the kind's own checks
        return value

    def filter_spec(self, asset: str) -> Any:
        """The filter as a validated signal of its kind on `asset`."""
        return SIGNAL_KINDS[self.filter["type"]].config(self.filter | {"series": asset})


class RegimeConfig(_Model):
    """A regime: fixed `weights`, or a ranked allocation `rank` (exactly one of them)."""

    name: str = Field(min_length=1)
    when: str | None = None
    weights: dict[str, Weight] | None = None
    rank: RankConfig | None = None


class ThresholdRule(_Model):
    threshold: Number = Field(gt=0.0, lt=1.0)


class ExecutionConfig(_Model):
    timing: Literal["next_close", "next_open"] = "next_close"
    fees_bps: Number = Field(default=0.0, ge=0.0, lt=10_000)
    slippage_bps: Number = Field(default=0.0, ge=0.0, lt=10_000)
    rebalance: Literal["none", "monthly"] | ThresholdRule = "none"
    decide: Literal["daily", "weekly", "monthly", "quarterly", "annual"] = "daily"
    decide_day: Whole | None = None  # d-th date of each period (-1: the last; None: -1)

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict:
        return _without_unset(handler(self), ("decide_day",))

    @field_validator("decide_day")
    @classmethod
    def _not_zero(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError(
                "must not be 0: 1 is the first date of each period, -1 the last, -2 the one "
                "before it"
            )
        return value

    @property
    def day(self) -> int:
        """The decision day within each period (`decide_day`, default -1: the last date)."""
        return -1 if self.decide_day is None else int(self.decide_day)

    @property
    def fees(self) -> float:
        """Fee as a fraction of traded value (2 bps -> 0.0002)."""
        return self.fees_bps / 10_000

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of the execution price."""
        return self.slippage_bps / 10_000


class TargetVol(_Model):
    """Volatility target (docs/semantics.md): each decided target is scaled by
    min(max_exposure, annual / sigma), sigma the annualised volatility of the target's
    daily returns over the last `window` dates."""

    annual: Number = Field(gt=0.0)
    window: whole_at_least(2)
    max_exposure: Number = Field(default=1.0, gt=0.0, le=1.0)


class PortfolioConfig(_Model):
    """Starting cash, within engine.limits' MIN/MAX_INITIAL_CASH (see there why), and an
    optional volatility target."""

    initial_cash: Number = Field(
        default=100_000.0, ge=limits.MIN_INITIAL_CASH, le=limits.MAX_INITIAL_CASH
    )
    target_vol: TargetVol | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict:
        return _without_unset(handler(self), ("target_vol",))


class StatsConfig(_Model):
    periods_per_year: Whole | None = Field(default=None, ge=1, le=limits.MAX_PERIODS_PER_YEAR)
    risk_free: Number = Field(
        default=0.0, gt=limits.RISK_FREE_RANGE[0], le=limits.RISK_FREE_RANGE[1]
    )


class Config(_Model):
    """A whole strategy: what to trade, when, and how to account for it."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    data: DataConfig
    universe: list[str] = Field(min_length=1)
    signals: dict[str, SignalConfig] = Field(default_factory=dict)
    scores: dict[str, ScoreConfig] = Field(default_factory=dict)
    regimes: list[RegimeConfig] = Field(min_length=1)
    execution: ExecutionConfig = ExecutionConfig()
    portfolio: PortfolioConfig = PortfolioConfig()
    benchmark: dict[str, Weight] = Field(default_factory=lambda: {"SPY": 1.0})
    stats: StatsConfig = StatsConfig()

    def parsed_regimes(self) -> list[Regime]:
        """Regimes with their `when` parsed (valid by construction after load)."""
        return [
            Regime(r.name, parse_when(r.when) if r.when else None, dict(r.weights or {}))
            for r in self.regimes
        ]

    def thresholds(self) -> dict[str, str]:
        """Tickers whose score is a ranked allocation's min_score -> that field's name."""
        return {
            regime.rank.min_score: f"regimes[{i}].rank.min_score"
            for i, regime in enumerate(self.regimes)
            if regime.rank is not None and isinstance(regime.rank.min_score, str)
        }

    def tickers(self, thresholds: bool = True) -> list[str]:
        """Every ticker the run needs (sorted): universe, signal series legs, benchmark, ranked
        assets, filter legs and, unless `thresholds` is False, min_score tickers."""
        needed = set(self.universe) | set(self.benchmark)
        for signal in self.signals.values():
            needed.update(SIGNAL_KINDS[signal.type].legs(signal))
        for regime in self.regimes:
            rank = regime.rank
            if rank is None:
                continue
            needed.update(rank.assets)
            if thresholds and isinstance(rank.min_score, str):
                needed.add(rank.min_score)
            if rank.filter is not None:
                for asset in rank.assets:
                    needed.update(SIGNAL_KINDS[rank.filter["type"]].legs(rank.filter_spec(asset)))
        return sorted(needed)

    def annual_periods(self) -> int:
        """P: stats.periods_per_year, else 365 when every traded asset is crypto, else 252."""
        if self.stats.periods_per_year:
            return self.stats.periods_per_year
        return 365 if all(is_crypto(t) for t in self.universe) else 252

    def resolved(self) -> dict[str, Any]:
        """The config with every default filled in, as plain JSON types."""
        return self.model_dump(mode="json")

    def hash(self) -> str:
        """sha256 of the canonical JSON of the resolved config, without `data.dir`: where
        the CSV folder sits is not part of the strategy (the data hashes cover its content)."""
        resolved = self.resolved()
        resolved["data"].pop("dir", None)
        blob = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


# ---- phase 2: cross-field rules, each returning a list of "field: problem" ----


def suggest(name: str, choices: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_regime_order(config: Config) -> list[str]:
    problems = []
    for i, regime in enumerate(config.regimes[:-1]):
        if not regime.when:
            problems.append(
                f"regimes[{i}].when: only the last regime may omit `when` (it is the default)"
            )
    last = len(config.regimes) - 1
    if config.regimes[-1].when:
        problems.append(f"regimes[{last}].when: the last regime is the default; remove its `when`")
    names = [r.name for r in config.regimes]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"regimes: the name {name!r} is used twice")
    return problems


def _quoted(text: str, limit: int = 80) -> str:
    """repr of `text`, cut after `limit` characters so one message stays one readable line."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _check_when(config: Config) -> list[str]:
    problems = []
    known = sorted(config.signals)
    for i, regime in enumerate(config.regimes):
        if not regime.when:
            continue
        try:
            tree = parse_when(regime.when)
        except WhenSyntaxError as exc:
            problems.append(f"regimes[{i}].when: {exc} in {_quoted(regime.when)}")
            continue
        for name in sorted(names_in(tree) - set(known)):
            problems.append(
                f"regimes[{i}].when: unknown signal {name!r}{suggest(name, known)}; "
                f"signals are {known}"
            )
    return problems


def _check_weights(config: Config) -> list[str]:
    problems = []
    universe = list(config.universe)
    for i, regime in enumerate(config.regimes):
        if regime.weights is None:
            continue
        for ticker in regime.weights:
            if ticker not in universe:
                problems.append(
                    f"regimes[{i}].weights.{ticker}: not in universe {universe}"
                    f"{suggest(ticker, universe)}; add it to `universe` or fix the name"
                )
        total = sum(regime.weights.values())
        if total > 1 + _TOLERANCE:
            problems.append(f"regimes[{i}].weights: sum to {total:g}, more than 1 (no leverage)")
    bench_total = sum(config.benchmark.values())
    if bench_total > 1 + _TOLERANCE:
        problems.append(f"benchmark: weights sum to {bench_total:g}, more than 1")
    if not config.benchmark:
        problems.append("benchmark: needs at least one ticker, e.g. {SPY: 1.0}")
    return problems


def _check_tickers(config: Config) -> list[str]:
    problems = []
    if len(set(config.universe)) != len(config.universe):
        problems.append("universe: lists a ticker twice")
    for ticker in config.universe:
        if not is_symbol(ticker):
            problems.append(f"universe: {ticker!r} is not a ticker symbol")
    named = [("universe", t) for t in config.universe]
    named += [("benchmark", t) for t in config.benchmark]
    named += [
        (f"regimes[{i}].weights", t) for i, r in enumerate(config.regimes) for t in r.weights or {}
    ]
    for i, regime in enumerate(config.regimes):
        rank = regime.rank
        if rank is None:
            continue
        named += [(f"regimes[{i}].rank.assets", t) for t in rank.assets]
        if rank.fallback is not None:
            named.append((f"regimes[{i}].rank.fallback", rank.fallback))
        if isinstance(rank.min_score, str):
            named.append((f"regimes[{i}].rank.min_score", rank.min_score))
    named += [(f"signals.{n}.series", s.series) for n, s in config.signals.items()]
    named += [
        (f"signals.{n}.other", s.other) for n, s in config.signals.items() if hasattr(s, "other")
    ]
    named += [("data.allow_jumps", t) for t in config.data.allow_jumps]
    for field, ticker in named:
        if ticker != ticker.upper():
            problems.append(
                f"{field}: write {ticker!r} in capitals as Yahoo spells it ({ticker.upper()!r})"
            )
    for name, signal in config.signals.items():
        if not is_series(signal.series):
            problems.append(
                f"signals.{name}.series: {signal.series!r} must be a ticker or a ratio 'A/B'"
            )
        other = getattr(signal, "other", None)
        if other is not None and not is_symbol(other):
            problems.append(f"signals.{name}.other: {other!r} is not a ticker symbol")
    return problems


def _check_rank(i: int, rank: RankConfig, config: Config) -> list[str]:
    """The rules of one ranked allocation beyond its schema (docs/scores.md)."""
    where = f"regimes[{i}].rank"
    universe = list(config.universe)
    problems = []
    for ticker in rank.assets:
        if ticker not in universe:
            problems.append(
                f"{where}.assets: {ticker!r} is not in universe {universe}"
                f"{suggest(ticker, universe)}; rank only traded assets"
            )
    if len(set(rank.assets)) != len(rank.assets):
        problems.append(f"{where}.assets: lists a ticker twice")
    if rank.top > len(rank.assets):
        problems.append(
            f"{where}.top: {rank.top} is more than the {len(rank.assets)} assets ranked; "
            f"use 1 to {len(rank.assets)}"
        )
    if rank.fallback is not None and rank.fallback not in universe:
        problems.append(
            f"{where}.fallback: {rank.fallback!r} is not in universe {universe}"
            f"{suggest(rank.fallback, universe)}; add it to `universe` or leave fallback out "
            "(cash)"
        )
    known = sorted(config.scores)
    if rank.score not in config.scores:
        problems.append(
            f"{where}.score: unknown score {rank.score!r}{suggest(rank.score, known)}; "
            + (f"scores are {known}" if known else "define it under `scores:`")
        )
    if rank.keep is not None and not rank.top <= rank.keep <= len(rank.assets):
        problems.append(
            f"{where}.keep: {rank.keep} must be at least top ({rank.top}) and at most the "
            f"{len(rank.assets)} assets ranked"
        )
    if rank.weighting == "inverse_vol" and rank.vol_window is None:
        problems.append(
            f"{where}.vol_window: inverse_vol weighting needs vol_window (days of returns, >= 2)"
        )
    if rank.weighting == "equal" and rank.vol_window is not None:
        problems.append(
            f"{where}.vol_window: only used with `weighting: inverse_vol`; remove it or set "
            "the weighting"
        )
    if isinstance(rank.min_score, str) and not is_symbol(rank.min_score):
        problems.append(
            f"{where}.min_score: {rank.min_score!r} is neither a number nor a ticker symbol"
        )
    if rank.filter is not None:
        other = rank.filter.get("other")
        if other is not None and not (isinstance(other, str) and is_symbol(other)):
            problems.append(f"{where}.filter.other: {other!r} is not a ticker symbol")
        elif other in rank.assets:
            problems.append(
                f"{where}.filter.other: {other} is also a ranked asset, and a correlation "
                f"filter cannot pair {other} with itself; use a ticker outside `assets`"
            )
    return problems


def _check_allocations(config: Config) -> list[str]:
    """Each regime has exactly one of `weights` or `rank`, and its rank is sound."""
    problems = []
    for i, regime in enumerate(config.regimes):
        if (regime.weights is None) == (regime.rank is None):
            both = "both" if regime.rank is not None else "neither"
            problems.append(
                f"regimes[{i}]: has {both} `weights` and `rank`; give exactly one "
                "(fixed weights, or a ranked allocation)"
            )
        if regime.rank is not None:
            problems += _check_rank(i, regime.rank, config)
    return problems


PERIOD_NAMES = {"weekly": "week", "monthly": "month", "quarterly": "quarter", "annual": "year"}


def _check_decide_day(config: Config) -> list[str]:
    """decide_day needs a period (not `daily`) and fits in one (engine.limits.PERIOD_DATES:
    the most dates of C a period can hold, every calendar day for an all-crypto universe)."""
    execution = config.execution
    day = execution.decide_day
    if day is None:
        return []
    if execution.decide == "daily":
        return [
            "execution.decide_day: needs `decide: weekly`, `monthly`, `quarterly` or `annual` "
            "(every date decides under `daily`); remove it or set `decide`"
        ]
    crypto = all(is_crypto(t) for t in config.universe)
    most = limits.PERIOD_DATES[execution.decide][1 if crypto else 0]
    if abs(day) > most:
        period = PERIOD_NAMES[execution.decide]
        return [
            f"execution.decide_day: {day} is beyond a {period}, which holds at most {most} "
            f"trading dates; use 1 to {most} (from its first date) or -1 to -{most} (from "
            "its last)"
        ]
    return []


def _check_dates(config: Config) -> list[str]:
    data = config.data
    if data.end is not None and data.start > data.end:
        return [f"data.start: {data.start} is after data.end {data.end}"]
    return []


def _check_source(config: Config) -> list[str]:
    if config.data.source == "csv" and config.data.dir is None:
        return ["data.dir: the csv source needs `dir:` (a folder of <TICKER>.csv files)"]
    return []


RULES: tuple[Callable[[Config], list[str]], ...] = (
    _check_regime_order,
    _check_when,
    _check_weights,
    _check_allocations,
    _check_tickers,
    _check_decide_day,
    _check_dates,
    _check_source,
)


def _format_pydantic(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        # Discriminated unions put the tag in the path (signals.x.donchian.entry): drop it.
        tags = (*SIGNAL_KINDS, *SCORE_KINDS, "ThresholdRule")
        loc = [p for p in item["loc"] if p not in tags]
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
        where = where.replace(".[", "[")
        message = _in_our_words(item["msg"])
        if item["type"] == "string_type" and isinstance(item.get("input"), bool):
            message = (
                f"must be text, not {str(item['input']).lower()}: YAML reads unquoted "
                "yes/no/on/off/true/false as a boolean; quote it ('on')"
            )
        elif item["type"] == "extra_forbidden":
            message = "unknown key (remove it or check its spelling)"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] in ("union_tag_invalid", "union_tag_not_found") and loc[:1] in (
            ["signals"],
            ["scores"],
        ):
            what, registry = (
                ("signal", SIGNAL_KINDS) if loc[0] == "signals" else ("score", SCORE_KINDS)
            )
            kinds = sorted(registry)
            where = f"{where}.type"
            if item["type"] == "union_tag_not_found":
                message = f"required field is missing (one of {kinds})"
            else:
                tag = str(item["ctx"]["tag"])
                message = f"unknown {what} type {tag!r}{suggest(tag, kinds)}; kinds are {kinds}"
        problems.append(f"{where or '(top level)'}: {message}")
    return problems


def _in_our_words(message: str) -> str:
    """pydantic's phrasing -> ours: 'Input should be x' -> 'must be x'; no 'Value error, '."""
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    for theirs, ours in (
        ("a valid integer", "a whole number"),
        ("a valid dictionary", "a mapping (key: value)"),
        ("a valid string", "text"),
        ("a valid list", "a list"),
        ("greater than or equal to", "at least"),
        ("less than or equal to", "at most"),
        ("greater than", "above"),
        ("less than", "below"),
    ):
        message = message.replace(theirs, ours)
    return message


MAX_LISTED = 30  # problems listed one per line; the rest are counted


def _raise(origin: str, problems: list[str]) -> None:
    """One problem: one line. Several: a one-line header naming the file, then one problem
    per line."""
    if len(problems) == 1:
        raise ConfigError(f"{origin}: 1 problem: {problems[0]}")
    if len(problems) > MAX_LISTED:
        more = len(problems) - MAX_LISTED
        problems = [*problems[:MAX_LISTED], f"... and {more} more of the same kinds"]
    raise ConfigError(
        f"{origin}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
    )


PLACEHOLDERS: dict[str, Callable[[dict], Any]] = {
    "signals": lambda raw: {"type": "level", "series": "SPY", "above": 0.0},
    "scores": lambda raw: {"type": "momentum", "lookback": 1},
}
"""Stand-ins for a broken named entry, so the rest of the config can still be checked
(the entry's name stays defined: `when` and `rank.score` references still resolve)."""

STRUCTURAL = ("name", "data", "universe", "regimes", "benchmark")
"""Top-level sections the cross-field rules cannot do without: when one of them is broken,
only the schema problems are reported."""


def _repair(raw: dict, errors: list[dict]) -> tuple[dict | None, list[tuple]]:
    """A copy of `raw` with each schema error's piece removed (a key with a default) or
    replaced (a named signal or score entry), and the repaired paths; None when a
    structural section is broken."""
    fixed = copy.deepcopy(raw)
    repaired = []
    for error in errors:
        loc = tuple(
            p for p in error["loc"] if p not in (*SIGNAL_KINDS, *SCORE_KINDS, "ThresholdRule")
        )
        if not loc or (loc[0] in STRUCTURAL and len(loc) <= 1):
            return None, []
        if loc[0] in PLACEHOLDERS and len(loc) >= 2:
            entries = fixed.get(loc[0])
            if isinstance(entries, dict) and loc[1] in entries:
                entries[loc[1]] = PLACEHOLDERS[loc[0]](fixed)
                repaired.append(loc[:2])
                continue
        if loc[0] == "regimes" and len(loc) >= 3 and isinstance(loc[1], int):
            regime = fixed["regimes"][loc[1]] if isinstance(fixed.get("regimes"), list) else None
            if isinstance(regime, dict) and loc[2] in ("weights", "rank", "when"):
                regime.pop(loc[2], None)
                if loc[2] != "when" and "weights" not in regime and "rank" not in regime:
                    regime["weights"] = {}
                repaired.append(loc[:3])
                continue
        if error["type"] == "missing":
            return None, []
        if loc[0] == "regimes" and len(loc) == 3 and loc[2] == "name":
            fixed["regimes"][loc[1]]["name"] = f"regime_{loc[1]}"  # keep the regime
            repaired.append(loc)
            continue
        parent = fixed
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return None, []
        if isinstance(parent, dict) and loc[-1] in parent:
            del parent[loc[-1]]
            repaired.append(loc)
        else:
            return None, []
    return fixed, repaired


def _field_of(problem: str) -> str:
    return problem.split(":", 1)[0]


def _under(field: str, repaired: list[tuple]) -> bool:
    """True when the cross-field problem `field` is about a piece the repair changed."""
    for loc in repaired:
        name = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
        if field == name or field.startswith(name + ".") or field.startswith(name + "["):
            return True
        if name.startswith(field + ".") or name.startswith(field + "["):
            return True  # a rule about the container of a removed piece
        if loc[0] == "regimes" and field.startswith(f"regimes[{loc[1]}]"):
            return True
    return False


def _schema_and_rules(raw: dict) -> tuple[Config | None, list[str]]:
    """Every problem of the config at once: schema problems, then the cross-field problems
    of the rest (after standing in for the broken pieces, up to three rounds)."""
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems = _format_pydantic(exc)
        current, repaired, errors = raw, [], exc.errors()
        for _ in range(3):
            current, more = _repair(current, errors)
            if current is None:
                return None, problems
            repaired += more
            try:
                config = Config.model_validate(current)
            except ValidationError as again:
                errors = again.errors()
                continue
            rules = [p for rule in RULES for p in rule(config)]
            return None, problems + [p for p in rules if not _under(_field_of(p), repaired)]
        return None, problems
    return config, [problem for rule in RULES for problem in rule(config)]


def config_from_dict(raw: Any, origin: str = "<config>") -> Config:
    """Validate a parsed YAML mapping (apply CLI overrides first with `with_overrides`).

    Raises:
        ConfigError: listing every problem found, schema and cross-field together.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys (name:, data:, ...)")
    config, problems = _schema_and_rules(raw)
    if problems:
        _raise(origin, problems)
    return config


def read_yaml(path: Path) -> Any:
    """Parse a YAML file strictly (engine.config.strict_yaml: size, depth, duplicate keys);
    unreadable, malformed or refused files raise ConfigError naming the file."""
    try:
        text = strict_yaml.read_text(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
    except strict_yaml.FileRefused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        raw = strict_yaml.load(text)
    except strict_yaml.StrictYAMLError as exc:
        raise ConfigError(f"{path}: line {exc.problem_mark.line + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys (name:, data:, ...)")
    return raw


def with_overrides(raw: dict, path: Path, **overrides: Any) -> dict:
    """`raw` with the given `data` overrides (None = not given) applied, and `data.dir`
    made absolute: a `dir:` written in the file is relative to the file, a `--data-dir`
    to the shell's folder (so the saved config.yaml runs again from anywhere)."""
    data = raw.get("data")
    given = {k: v for k, v in overrides.items() if v is not None}
    if not isinstance(data, dict) or (not given and "dir" not in data):
        return raw if not given else {**raw, "data": given if data is None else data}
    data = dict(data)
    if isinstance(data.get("dir"), str):
        data["dir"] = str((path.parent / data["dir"]).resolve())
    data.update(given)
    if given.get("dir") is not None:
        data["dir"] = str(Path(given["dir"]).resolve())
    return {**raw, "data": data}


def load_config(path: str | Path, **overrides: Any) -> Config:
    """Read and validate a YAML config file.

    Args:
        path: the YAML file.
        overrides: `data` fields given on the CLI (source, dir, start, end); None means "not given".
    """
    path = Path(path)
    return config_from_dict(with_overrides(read_yaml(path), path, **overrides), str(path))
