"""One registry of statistics: key, display label, number format and direction.

Every table (run, compare, sweep, walk-forward, bootstrap, tearsheets) reads
labels and formats here, and every ranking (`--sort`, the sweep's metric, the
walk-forward choice) reads the direction here. The formulas themselves live in
engine.metrics.stats (one combination), engine.metrics.distribution (the second
block of the run table: what quantstats users read first) and
engine.metrics.fast_stats (a grid); this module only says how to show and order
their results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Format = Literal["pct", "num", "int", "money"]


@dataclass(frozen=True)
class Metric:
    """A statistic as users see it.

    Attributes:
        key: snake_case key in stats.json and results tables.
        label: display label.
        format: pct (0.1234 -> 12.34%), num (3 decimals), int, money.
        higher_is_better: direction used by every ranking.
        group: "performance" (per portfolio), "relative" (strategy against benchmark) or
            "distribution" (per portfolio, the second block: engine.metrics.distribution).
        annualised: a yearly rate extrapolated from the period (CAGR, Sharpe, ...): read
            over a few weeks it says little, and a partial walk-forward window omits it.
    """

    key: str
    label: str
    format: Format
    higher_is_better: bool = True
    group: Literal["performance", "relative", "distribution"] = "performance"
    annualised: bool = False


_ALL = (
    Metric("total_return", "Total return", "pct"),
    Metric("cagr", "CAGR", "pct", annualised=True),
    Metric("volatility", "Volatility (ann.)", "pct", higher_is_better=False, annualised=True),
    Metric("sharpe", "Sharpe", "num", annualised=True),
    Metric("sortino", "Sortino", "num", annualised=True),
    Metric("max_drawdown", "Max drawdown", "pct"),  # negative: closer to 0 is higher
    Metric(
        "max_drawdown_duration_days",
        "Longest drawdown (trading days)",
        "int",
        higher_is_better=False,
    ),
    Metric(
        "max_drawdown_duration_calendar_days",
        "Longest drawdown (calendar days)",
        "int",
        higher_is_better=False,
    ),
    Metric("calmar", "Calmar", "num", annualised=True),
    Metric("final_value", "Final value", "money"),
    Metric("trade_dates", "Trade dates", "int", higher_is_better=False),
    Metric("fees_paid", "Fees paid", "money", higher_is_better=False),
    Metric("turnover", "Turnover (one-way, ann.)", "pct", higher_is_better=False, annualised=True),
    Metric("switches", "Regime switches", "int", higher_is_better=False),
    Metric("excess_cagr", "Excess CAGR", "pct", group="relative", annualised=True),
    Metric("beta", "Beta", "num", group="relative"),
    Metric("alpha", "Alpha (ann.)", "pct", group="relative", annualised=True),
    Metric(
        "tracking_error",
        "Tracking error (ann.)",
        "pct",
        higher_is_better=False,
        group="relative",
        annualised=True,
    ),
    Metric("information_ratio", "Information ratio", "num", group="relative", annualised=True),
    Metric("correlation", "Correlation", "num", group="relative"),
)


def _shape(key: str, label: str, fmt: Format, higher_is_better: bool = True) -> Metric:
    return Metric(key, label, fmt, higher_is_better, group="distribution")


# What quantstats users read first (engine/metrics/distribution.py: formulas and units).
_DISTRIBUTION = (
    _shape("skew", "Skew", "num"),
    _shape("kurtosis", "Kurtosis (excess)", "num", higher_is_better=False),
    _shape("value_at_risk", "Daily VaR (95%, normal)", "pct"),  # negative: closer to 0 is higher
    _shape("cvar", "Daily CVaR (95%, normal)", "pct"),
    _shape("best_day", "Best day", "pct"),
    _shape("worst_day", "Worst day", "pct"),
    _shape("best_month", "Best month", "pct"),
    _shape("worst_month", "Worst month", "pct"),
    _shape("best_year", "Best year", "pct"),
    _shape("worst_year", "Worst year", "pct"),
    _shape("win_rate", "Win rate (days)", "pct"),
    _shape("win_rate_months", "Win rate (months)", "pct"),
    _shape("ulcer_index", "Ulcer index", "num", higher_is_better=False),
    _shape("tail_ratio", "Tail ratio (95/5)", "num"),
    _shape("recovery_factor", "Recovery factor", "num"),
)

METRICS: dict[str, Metric] = {m.key: m for m in (*_ALL, *_DISTRIBUTION)}
PERFORMANCE_KEYS = tuple(m.key for m in _ALL if m.group == "performance")
RELATIVE_KEYS = tuple(m.key for m in _ALL if m.group == "relative")
DISTRIBUTION_KEYS = tuple(m.key for m in _DISTRIBUTION)
"""The second block of the run table, in its order."""


def second_block(stats: dict) -> tuple[str, ...]:
    """The keys of the second block shown for a portfolio's `stats`: the distribution keys,
    then `avg_exposure` when the stats have it and the first block does not show it."""
    extra = (
        ("avg_exposure",)
        if "avg_exposure" in stats and "avg_exposure" not in PERFORMANCE_KEYS
        else ()
    )
    return DISTRIBUTION_KEYS + extra


OPTIONAL: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("cash_interest", "Cash interest", "money"),
        Metric("avg_exposure", "Average exposure", "pct", group="distribution"),
    )
}
"""Statistics only some configs have, shown where present and never a ranking choice:
cash_interest (with `portfolio.cash_yield`) after the performance statistics;
avg_exposure, the mean over the backtest dates of 1 - the cash share of the value at
the close (with a cash yield or a volatility target: `PortfolioConfig.cash_matters`), at
the end of the second block (`second_block`)."""


def optional_keys(statistics: dict) -> list[str]:
    """The OPTIONAL performance statistics present in one portfolio's statistics, in
    registry order (those of the second block: `second_block`)."""
    return [k for k, m in OPTIONAL.items() if k in statistics and m.group == "performance"]


def in_table_order(keys) -> list[str]:
    """`keys` as every table lists statistics: the performance block (then the optional
    ones of it), the second block (then avg_exposure), the relative block, then any other
    key (`time_in_<regime>`, ...) in the order given."""
    known = [*PERFORMANCE_KEYS, *(k for k, m in OPTIONAL.items() if m.group == "performance")]
    known += [*DISTRIBUTION_KEYS, *(k for k, m in OPTIONAL.items() if m.group == "distribution")]
    known += RELATIVE_KEYS
    given = list(dict.fromkeys(keys))
    return [k for k in known if k in given] + [k for k in given if k not in known]


def metric(key: str) -> Metric:
    """The registered metric, or a plain numeric one for keys such as `time_in_<regime>`."""
    if key in METRICS:
        return METRICS[key]
    if key in OPTIONAL:
        return OPTIONAL[key]
    if key.startswith("time_in_"):
        return Metric(key, f"Time in {key[len('time_in_') :]}", "pct")
    return Metric(key, key, "num")


def lower_is_better(key: str) -> bool:
    """True for statistics where the smaller number ranks first (volatility, fees, ...)."""
    return not metric(key).higher_is_better
