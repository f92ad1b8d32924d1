"""Typed, validated model of a strategy YAML file.

Validation has two parts: the pydantic schema (types, ranges, unknown keys
rejected) and one small named function per cross-field rule. Every problem is
reported in one pass: when the schema fails, the broken pieces are removed or
stood in for and the cross-field rules still run on the rest, leaving out what
the repair itself would cause (engine/config/repair.py). One problem is one line;
several are a header naming the file, then one problem per line, in the project's
words (engine/config/words.py), with did-you-mean for names and keys.
"""

from __future__ import annotations

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
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from engine import limits
from engine.config import strict_yaml
from engine.config.kinds import refuse_other_kinds
from engine.config.repair import validate
from engine.config.types import Date, Number, Weight, Whole
from engine.config.walk import CheckedBy
from engine.config.words import shown, suggest
from engine.data.market_calendar import is_crypto
from engine.errors import ConfigError
from engine.limits import is_series, is_symbol
from strategies.params import plain_number, whole_at_least
from strategies.regimes import Regime, WhenSyntaxError, names_in, parse_when
from strategies.scores import SCORE_KINDS
from strategies.signals import SIGNAL_KINDS

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_TOLERANCE = 1e-9  # weight sums are compared with this slack (0.1 + 0.2 ...)
MAX_DAY_OFFSET = 7  # a close time is at most a week after its bar's label date


class _Model(BaseModel):
    """Base of the config's models: frozen, unknown keys rejected; the docstring under each
    field is its description in the JSON schema (`rotation schema`, engine/config/schema.py)
    and in the docs' config reference."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _without_unset(data: dict, keys: tuple[str, ...]) -> dict:
    """`data` without the optional `keys` left at None: a config that does not use a key
    added later resolves (config.yaml, the config hash) to the same bytes as before."""
    return {k: v for k, v in data.items() if not (k in keys and v is None)}


# A bar can never be final before the start of its own label date in `tz`: it would then
# feed decisions taken before the day it describes had begun (a negative offset hands
# later prices to earlier dates). So `day_offset` is 0 to `MAX_DAY_OFFSET`, and with an
# HH:MM `time` the instant `label date + day_offset days + time` is at or after 00:00 of
# the label date in `tz` by construction. Whether a late-enough close is also honest (a
# crypto UTC-day bar is not complete at 16:00 New York) is what `rotation audit` checks.
class CloseTime(_Model):
    """When a series' daily bar becomes final: `time` in `tz`, `day_offset` days after its
    label date (never before that date; `rotation audit` checks a close is late enough)."""

    time: str
    """The close as HH:MM on a 24-hour clock, e.g. "16:00"."""
    tz: str
    """The IANA time zone of `time`, e.g. America/New_York or UTC."""
    day_offset: int = 0
    """Days after the bar's label date that `time` falls on, 0 to 7 (1: the next day)."""

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


def _lag_days(value: Any) -> Any:
    """A whole number of calendar days, 0 to `limits.MAX_LAG_DAYS` (not 1.5, not -1)."""
    value = plain_number(value)
    if isinstance(value, float) and not value.is_integer():
        raise PydanticCustomError(
            "lag_whole",
            "must be a whole number of calendar days, not {value} (a value dated d is final "
            "at 16:00 New York on d + lag_days)",
            {"value": value},
        )
    if value < 0 or value > limits.MAX_LAG_DAYS:
        raise PydanticCustomError(
            "lag_range",
            "must be 0 to {most} calendar days, not {value} (0: final at 16:00 New York on "
            "the value's own date)",
            {"most": limits.MAX_LAG_DAYS, "value": value},
        )
    return int(value)


class SeriesConfig(_Model):
    """An external series (docs/series.md): dated values from a CSV file, each final at
    16:00 New York `lag_days` calendar days after its date (its release)."""

    file: Path | None = None
    """The CSV file of dated values, relative to the config file (default: NAME.csv in
    `data.dir`)."""
    column: str = Field(default="Value", min_length=1)
    """The column of the file holding the values."""
    lag_days: Annotated[int, BeforeValidator(_lag_days)] = 1
    """Calendar days after its date that a value is released: final at 16:00 New York on
    date + lag_days (0 to 400)."""


class DataConfig(_Model):
    """Where prices come from, the portfolio's dates, and how bad data is treated."""

    source: Literal["yfinance", "csv", "synthetic"] = "yfinance"
    """Where prices come from: yfinance (Yahoo Finance, cached), csv (a folder of
    TICKER.csv files, `dir`) or synthetic (a seeded random market). `--data-dir DIR` on the
    command line means csv from DIR."""
    dir: Path | None = None
    """The folder of TICKER.csv files of the csv source, relative to the config file."""
    start: Date
    """The first date of the portfolio, YYYY-MM-DD; signals use all history before it."""
    end: Date | None = None
    """The last date of the portfolio, YYYY-MM-DD (default: the latest available)."""
    close_times: dict[str, CloseTime] = Field(default_factory=dict)
    """Per series (a ticker or a ratio A/B), when its daily bar becomes final, e.g.
    {ETH-USD: {time: "16:00", tz: America/New_York, day_offset: 0}} (default: by market;
    docs/semantics.md)."""
    seed: Whole | None = Field(default=None, ge=0)  # synthetic source only (None: 0)
    """The seed of the synthetic source (default 0)."""
    max_fill_days: Whole = Field(default=3, ge=0, le=30)  # longest gap forward-filled, sessions
    """The longest run of missing sessions forward-filled with a warning (0: none); more is
    an error."""
    allow_jumps: list[str] = Field(default_factory=list)  # exempt from the split-like move check
    """Tickers exempt from the unadjusted-split check (a real move of 2x, 3x, ... in a day)."""
    series: dict[str, SeriesConfig] = Field(default_factory=dict)  # external series, never traded
    """External series that are not prices (valuation, rates, macro) a signal may read,
    alone or in a ratio: {NAME: {file, column, lag_days}} (docs/series.md)."""


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


def _filter_model(raw: dict) -> type[BaseModel] | None:
    """The model of a rank filter's signal kind (for its keys' messages), by `type`."""
    tag = raw.get("type")
    kind = SIGNAL_KINDS.get(tag) if isinstance(tag, str) else None
    return kind.model if kind is not None else None


class RankConfig(_Model):
    """A ranked allocation (docs/scores.md): the top `top` of `assets` by `score`."""

    assets: list[str] = Field(min_length=1)
    """The candidates, traded tickers of the universe."""
    score: str = Field(min_length=1)
    """The name of the score (under `scores:`) the assets are ranked by."""
    order: Literal["highest", "lowest"] = "highest"
    """Which end of the ranking is best: highest (momentum) or lowest (volatility)."""
    top: whole_at_least(1)
    """How many of the best-ranked assets are held (k)."""
    weighting: Literal["equal", "inverse_vol"] = "equal"
    """How the picks share the weight: equal, or inverse_vol (in proportion to 1 / the
    volatility of their daily returns over `vol_window`)."""
    vol_window: whole_at_least(2) | None = None
    """Days of returns the inverse_vol weights are measured over (needed by inverse_vol)."""
    min_score: Number | str | None = None
    """A pick whose score is not above this number, or the score of this ticker, gives its
    weight to the fallback."""
    filter: Annotated[dict[str, Any] | None, CheckedBy(_filter_model)] = None
    """A signal of any kind without `series`, run on each pick's own price: a pick whose
    filter is off gives its weight to the fallback."""
    fallback: str | None = None
    """The ticker that receives the weight of failed picks (default: cash)."""
    exposure: Number = Field(default=1.0, gt=0.0, le=1.0)
    """The share of the portfolio the picks hold together, the rest cash."""
    keep: whole_at_least(1) | None = None  # rank buffer: holders stay while ranked <= keep
    """Rank buffer K (top <= K <= assets): an asset held keeps its slot while ranked K or
    better, if the previous decision was this regime's."""

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
        tag = value.get("type")
        kind = SIGNAL_KINDS.get(tag) if isinstance(tag, str) else None
        if kind is None:
            kinds = sorted(SIGNAL_KINDS)
            if tag is None:
                raise ValueError(f"needs a `type` (one of {kinds})")
            if not isinstance(tag, str):
                raise ValueError(f"its `type` must be one of {kinds}, not {shown(tag)}")
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
    """The regime's name (regimes.csv, time in regime)."""
    when: str | None = None
    """A condition on signal names with and, or, not and parentheses; the first regime
    whose condition holds is decided. The last regime has none: it is the default."""
    weights: dict[str, Weight] | None = None
    """Fixed target weights {ticker: weight}, each 0 to 1, summing to at most 1 (the rest
    cash)."""
    rank: RankConfig | None = None
    """Instead of `weights`: a ranked allocation, the best `top` of `assets` by a score."""


class ThresholdRule(_Model):
    """Rebalance when an asset's weight drifts more than `threshold` from its target."""

    threshold: Number = Field(gt=0.0, lt=1.0)
    """The drift, as a fraction of the portfolio, that triggers a rebalance (0.05 = 5%)."""


CALENDAR_RULES = ("monthly", "quarterly", "annual")
"""Rebalance rules that fire on the first backtest date of each new month, quarter, year."""


def _rule_kind(value: Any) -> str | None:
    """The branch of a rebalance rule: a name, or a {threshold: x} mapping (None for
    anything else, an unknown name too: then one error lists every form)."""
    if isinstance(value, str) and value in ("none", "monthly", "quarterly", "annual"):
        return "RuleName"
    if isinstance(value, (dict, ThresholdRule)):
        return "ThresholdRule"
    return None


Rebalance = Annotated[
    Union[  # noqa: UP007
        Annotated[Literal["none", "monthly", "quarterly", "annual"], Tag("RuleName")],
        Annotated[ThresholdRule, Tag("ThresholdRule")],
    ],
    Discriminator(
        _rule_kind,
        custom_error_type="rebalance_rule",
        custom_error_message="must be none, monthly, quarterly, annual or {threshold: x}",
    ),
]
"""`execution.rebalance` and a benchmark's own `rebalance` (docs/semantics.md §6, §11)."""


def _number_or_ticker(value: Any) -> str:
    return "Ticker" if isinstance(value, str) else "Number"


def number_or_ticker(number: Any) -> Any:
    """A field that is a number (of type `number`, with its bounds) or a ticker: one error
    for either, in the branch the value's own type picks (no union noise)."""
    return Annotated[
        Union[Annotated[number, Tag("Number")], Annotated[str, Tag("Ticker")]],  # noqa: UP007
        Discriminator(_number_or_ticker),
    ]


class ExecutionConfig(_Model):
    """When decisions are taken and traded, and what trading costs."""

    timing: Literal["next_close", "next_open"] = "next_close"
    """When a target decided at a close trades: at the next date's close or open."""
    fees_bps: Number = Field(default=0.0, ge=0.0, lt=10_000)
    """Fees in basis points of the traded value."""
    slippage_bps: Number = Field(default=0.0, ge=0.0, lt=10_000)
    """Slippage in basis points of the price, against the trade."""
    rebalance: Rebalance = "none"
    """Back to target between changes: none, monthly, quarterly, annual (the first trading
    date of each new period) or {threshold: x} (when a weight drifts more than x)."""
    tolerance: Number | None = Field(default=None, ge=0.0, lt=1.0)  # no-trade band (§11)
    """No-trade band x (0 <= x < 1): on a trade date an asset's order is placed only if its
    weight is more than x from target; exits and entries always."""
    decide: Literal["daily", "weekly", "monthly", "quarterly", "annual"] = "daily"
    """When regimes are decided: daily, or on one date of each (ISO) week, month, quarter or
    year (the last, or `decide_day`); held in between."""
    decide_day: Whole | None = None  # d-th date of each period (-1: the last; None: -1)
    """The d-th trading date of each period (d >= 1) or the |d|-th from its end (d <= -1;
    default -1, the last); |d| at most 5, 23, 66 or 262 for weekly, monthly, quarterly or
    annual (7, 31, 92, 366 when every traded asset is crypto); not with daily."""
    tranches: Whole | None = None  # N copies deciding on spread days
    """N tranches: N copies of this config deciding on days spread over the period, held
    together as an equal-weight blend (SPEC 11; engine/config/blend.py)."""

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict:
        return _without_unset(handler(self), ("tolerance", "decide_day", "tranches"))

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

    @property
    def band(self) -> float:
        """The no-trade band x of `tolerance` (0: every order is placed)."""
        return float(self.tolerance or 0.0)


AnnualRate = Annotated[Number, Field(gt=limits.RISK_FREE_RANGE[0], le=limits.RISK_FREE_RANGE[1])]


class TargetVol(_Model):
    """Volatility target (docs/semantics.md): each decided target is scaled by
    min(max_exposure, annual / sigma), sigma the annualised volatility of the target's
    daily returns over the last `window` dates."""

    annual: Number = Field(gt=0.0)
    """The target annual volatility, e.g. 0.1 for 10%."""
    window: whole_at_least(2)
    """Days of past returns the volatility is measured over."""
    max_exposure: Number = Field(default=1.0, gt=0.0, le=1.0)
    """The largest scale, 1 = never more than the regime's weights."""


class PortfolioConfig(_Model):
    """Starting cash (within engine.limits' MIN/MAX_INITIAL_CASH), what idle cash earns (an
    annual rate, or a ticker whose daily return it earns) and an optional volatility
    target (docs/semantics.md §11)."""

    initial_cash: Number = Field(
        default=100_000.0, ge=limits.MIN_INITIAL_CASH, le=limits.MAX_INITIAL_CASH
    )
    """The starting cash."""
    cash_yield: number_or_ticker(AnnualRate) | None = None
    """What idle cash earns: an annual rate (0.04), or a ticker whose previous daily return
    it earns (BIL); default nothing."""
    target_vol: TargetVol | None = None
    """A volatility target {annual, window, max_exposure}: each decided target is scaled by
    min(max_exposure, annual / its volatility over the last `window` days), the rest cash."""

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict:
        return _without_unset(handler(self), ("cash_yield", "target_vol"))

    @property
    def cash_matters(self) -> bool:
        """Whether the strategy's cash is a choice worth measuring: a volatility target
        holds it on purpose, a cash yield pays it. The statistics then add the average
        exposure (`avg_exposure`)."""
        return self.cash_yield is not None or self.target_vol is not None


class StatsConfig(_Model):
    """How statistics are annualised and measured."""

    periods_per_year: Whole | None = Field(default=None, ge=1, le=limits.MAX_PERIODS_PER_YEAR)
    """Annualisation periods (default 252; 365 when every traded asset is crypto)."""
    risk_free: number_or_ticker(AnnualRate) = 0.0
    """The annual risk-free rate of Sharpe, Sortino and alpha, or a ticker (BIL) whose daily
    return is used date by date."""


class BenchmarkConfig(_Model):
    """The benchmark's long form: fixed weights and a rebalance rule of its own (§11)."""

    weights: dict[str, Weight]
    """The benchmark's fixed weights {ticker: weight}."""
    rebalance: Rebalance | None = None
    """The benchmark's own rebalance rule (default: the strategy's)."""

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict:
        return _without_unset(handler(self), ("rebalance",))


def _benchmark_form(value: Any) -> str:
    if isinstance(value, BenchmarkConfig):
        return "BenchmarkRule"
    if isinstance(value, dict) and {"weights", "rebalance"} & set(value):
        return "BenchmarkRule"
    return "BenchmarkWeights"


BenchmarkSpec = Annotated[
    Union[  # noqa: UP007
        Annotated[dict[str, Weight], Tag("BenchmarkWeights")],
        Annotated[BenchmarkConfig, Tag("BenchmarkRule")],
    ],
    Discriminator(_benchmark_form),
]
"""`benchmark`: {ticker: weight} (the short form), or {weights: ..., rebalance: R}."""


class Config(_Model):
    """A whole strategy: what to trade, when, and how to account for it."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    """The run's name (letters, digits, '.', '_', '-'); it names the run folder."""
    description: str = ""
    """Free text."""
    data: DataConfig
    """Where prices come from, the portfolio's dates, close times and external series."""
    universe: list[str] = Field(min_length=1)
    """The traded tickers."""
    signals: dict[str, SignalConfig] = Field(default_factory=dict)
    """Named signals, each of a kind (`type`) on a `series`: a ticker or a ratio A/B,
    traded or not (rotation kinds lists the kinds)."""
    scores: dict[str, ScoreConfig] = Field(default_factory=dict)
    """Named scores computed on each ranked asset, for ranked allocations (docs/scores.md)."""
    regimes: list[RegimeConfig] = Field(min_length=1)
    """The regimes in order: the first whose `when` holds is decided; the last has no
    `when` (the default). Each holds fixed `weights` or a `rank`."""
    execution: ExecutionConfig = ExecutionConfig()
    """Decision schedule, trade timing, costs and rebalancing."""
    portfolio: PortfolioConfig = PortfolioConfig()
    """Starting cash, the yield of idle cash and an optional volatility target."""
    benchmark_spec: BenchmarkSpec = Field(default_factory=lambda: {"SPY": 1.0}, alias="benchmark")
    """Fixed weights {ticker: weight} held with the same costs and timing (default
    {SPY: 1.0}), or {weights: {...}, rebalance: R} with a rule of its own."""
    stats: StatsConfig = StatsConfig()
    """Annualisation and the risk-free rate."""

    @property
    def benchmark(self) -> dict[str, float]:
        """The benchmark's fixed weights, {ticker: weight}, in either form."""
        spec = self.benchmark_spec
        return spec.weights if isinstance(spec, BenchmarkConfig) else spec

    @property
    def benchmark_rebalance(self) -> str | ThresholdRule:
        """The benchmark's rebalance rule: its own (long form), else the strategy's."""
        spec = self.benchmark_spec
        if isinstance(spec, BenchmarkConfig) and spec.rebalance is not None:
            return spec.rebalance
        return self.execution.rebalance

    def rates(self) -> dict[str, str]:
        """Tickers read as rates (a ticker `cash_yield` or `risk_free`) -> that field."""
        named = {}
        if isinstance(self.stats.risk_free, str):
            named[self.stats.risk_free] = "stats.risk_free"
        if isinstance(self.portfolio.cash_yield, str):
            named[self.portfolio.cash_yield] = "portfolio.cash_yield"
        return named

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
        assets, filter legs and, unless `thresholds` is False, min_score and rate tickers
        (which are loaded on their own, so that an error names their field)."""
        needed = set(self.universe) | set(self.benchmark)
        if thresholds:
            needed.update(self.rates())
        for signal in self.signals.values():  # an external series is read from its file
            legs = SIGNAL_KINDS[signal.type].legs(signal)
            needed.update(leg for leg in legs if leg not in self.data.series)
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
        """The config with every default filled in, as plain JSON types (an optional key
        left unset is left out (`_without_unset`), and `data.series` when the config
        declares no external series: a config that does not use them resolves, and hashes,
        as it did before they existed)."""
        resolved = self.model_dump(mode="json", by_alias=True)
        if not resolved["data"]["series"]:
            del resolved["data"]["series"]
        return resolved

    def hash(self) -> str:
        """sha256 of the canonical JSON of the resolved config, without `data.dir` and the
        external series' `file`s: where the files sit is not part of the strategy (the data
        hashes cover their content)."""
        resolved = self.resolved()
        resolved["data"].pop("dir", None)
        for series in resolved["data"].get("series", {}).values():
            series.pop("file", None)
        blob = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


# ---- phase 2: cross-field rules, each returning a list of "field: problem" ----


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
    named += [(field, t) for t, field in config.rates().items()]
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
    for ticker, field in config.rates().items():
        if not is_symbol(ticker):
            problems.append(f"{field}: {ticker!r} is neither a number nor a ticker symbol")
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


def _check_tranches(config: Config) -> list[str]:
    """`execution.tranches` N: 2 to MAX_TRANCHES copies of a config with a period schedule
    and no decide_day of its own (each copy gets one: engine/config/blend.py)."""
    execution = config.execution
    count = execution.tranches
    if count is None:
        return []
    problems = []
    if not 2 <= count <= limits.MAX_TRANCHES:
        problems.append(
            f"execution.tranches: {count} must be 2 to {limits.MAX_TRANCHES} (copies of the "
            "config, each deciding on its own day of the period)"
        )
    if execution.decide == "daily":
        problems.append(
            "execution.tranches: needs `decide: weekly`, `monthly`, `quarterly` or `annual` "
            "(daily decisions have no days to spread); set `decide` or remove it"
        )
    if execution.decide_day is not None:
        problems.append(
            "execution.decide_day: the tranches choose their own days (-1, then spread over "
            "the period); remove decide_day or tranches"
        )
    return problems


def _check_dates(config: Config) -> list[str]:
    data = config.data
    if data.end is not None and data.start > data.end:
        return [f"data.start: {data.start} is after data.end {data.end}"]
    return []


def _check_source(config: Config) -> list[str]:
    if config.data.source == "csv" and config.data.dir is None:
        return ["data.dir: the csv source needs `dir:` (a folder of <TICKER>.csv files)"]
    return []


def ticker_roles(config: Config) -> dict[str, str]:
    """Every ticker the config trades, benchmarks, ranks or reads as a threshold or a rate,
    each with the first field that names it (signal series are not roles: a signal may
    read an external series). `portfolio.cash_yield` and `stats.risk_free` count when
    they name a ticker."""
    named = [("universe", t) for t in config.universe]
    named += [("benchmark", t) for t in config.benchmark]
    for i, regime in enumerate(config.regimes):
        rank = regime.rank
        if rank is None:
            continue
        named += [(f"regimes[{i}].rank.assets", t) for t in rank.assets]
        for key, value in (
            ("fallback", rank.fallback),
            ("min_score", rank.min_score),
            ("filter.other", (rank.filter or {}).get("other")),
        ):
            if isinstance(value, str):
                named.append((f"regimes[{i}].rank.{key}", value))
    rates = (("portfolio", "cash_yield"), ("stats", "risk_free"))  # a number, or a ticker
    for section, key in rates:
        value = getattr(getattr(config, section), key, None)
        if isinstance(value, str):  # a rate read from a ticker's prices
            named.append((f"{section}.{key}", value))
    roles: dict[str, str] = {}
    for field, ticker in named:
        roles.setdefault(ticker, field)
    return roles


def _check_series(config: Config) -> list[str]:
    """External series (docs/series.md): ticker-like capital names that no other role
    uses, a file to read, and timing set by `lag_days` alone."""
    data = config.data
    problems = []
    roles = ticker_roles(config)
    for name, spec in data.series.items():
        where = f"data.series.{name}"
        if not is_symbol(name) or name != name.upper():
            problems.append(
                f"{where}: {name!r} is not a series name; use capitals, digits and ^ . = _ - "
                f"like a ticker ({name.upper()!r})"
            )
        if name in roles:
            problems.append(
                f"{where}: {name} is also used as a ticker ({roles[name]}); an external series "
                "is never traded, a benchmark, a ranked asset or a rate: rename the series"
            )
        if spec.file is None and data.source != "csv":
            problems.append(
                f"{where}.file: the {data.source} source has no data folder to find "
                f"{name}.csv in; give `file:` (a CSV file, relative to the config file)"
            )
    for key in data.close_times:
        for leg in key.split("/"):
            if leg in data.series:
                problems.append(
                    f"data.close_times.{key}: {leg} is an external series, final at 16:00 "
                    f"New York lag_days after each date; set data.series.{leg}.lag_days instead"
                )
    for ticker in data.allow_jumps:
        if ticker in data.series:
            problems.append(
                f"data.allow_jumps: {ticker} is an external series, not a price (no split "
                "check applies to it); remove it"
            )
    return problems


RULES: tuple[Callable[[Config], list[str]], ...] = (
    _check_regime_order,
    _check_when,
    _check_weights,
    _check_allocations,
    _check_tickers,
    _check_decide_day,
    _check_tranches,
    _check_dates,
    _check_source,
    _check_series,
)


def check_config(raw: dict) -> tuple[Config | None, list[str]]:
    """(the config, []) when `raw` is valid, else (None, every problem at once): the
    schema's and the cross-field rules' together, one line each (engine/config/repair.py)."""
    config, problems = validate(raw, Config, RULES)
    return (config, []) if not problems else (None, problems)


def config_from_dict(raw: Any, origin: str = "<config>") -> Config:
    """Validate a parsed YAML mapping (apply CLI overrides first with `with_overrides`).
    A plain config only: engine.config.load reads blends and configs in tranches too.

    Raises:
        ConfigError: listing every problem found, schema and cross-field together.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys (name:, data:, ...)")
    config, problems = check_config(raw)
    if problems:
        raise ConfigError.listing(origin, problems)
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
    to the shell's folder (so the saved config.yaml runs again from anywhere). The
    external series' `file`s are made absolute the same way (`_series_files`)."""
    raw = _series_files(raw, path)
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


def _series_files(raw: dict, path: Path) -> dict:
    """`raw` with each `data.series.*.file` made absolute, relative to the config file
    `path` (so the saved config.yaml finds the same files from anywhere)."""
    data = raw.get("data")
    series = data.get("series") if isinstance(data, dict) else None
    if not isinstance(series, dict):
        return raw
    fixed = {}
    for name, spec in series.items():
        if isinstance(spec, dict) and isinstance(spec.get("file"), str):
            spec = {**spec, "file": str((path.parent / spec["file"]).resolve())}
        fixed[name] = spec
    return {**raw, "data": {**data, "series": fixed}}


def load_config(path: str | Path, **overrides: Any) -> Config:
    """Read and validate a YAML config file.

    Args:
        path: the YAML file.
        overrides: `data` fields given on the CLI (source, dir, start, end); None means "not given".

    Raises:
        ConfigError: every problem at once; or one line when the file is a sweep (or
            blend) config, naming what reads it (engine/config/kinds.py). A config with
            `execution.tranches` is returned as it is: engine.config.load makes it the
            blend of its tranches.
    """
    path = Path(path)
    raw = read_yaml(path)
    refuse_other_kinds(raw, str(path))  # a sweep config points to `rotation sweep`
    return config_from_dict(with_overrides(raw, path, **overrides), str(path))
