"""One registry of statistics: key, display label, number format and direction.

Every table (run, compare, sweep, walk-forward, bootstrap, tearsheets) reads
labels and formats here, and every ranking (`--sort`, the sweep's metric, the
walk-forward choice) reads the direction here. The formulas themselves live in
engine.metrics.stats (one combination) and engine.metrics.fast_stats (a grid); this module
only says how to show and order their results.
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
        group: "performance" (per portfolio) or "relative" (strategy against benchmark).
    """

    key: str
    label: str
    format: Format
    higher_is_better: bool = True
    group: Literal["performance", "relative"] = "performance"


_ALL = (
    Metric("total_return", "Total return", "pct"),
    Metric("cagr", "CAGR", "pct"),
    Metric("volatility", "Volatility (ann.)", "pct", higher_is_better=False),
    Metric("sharpe", "Sharpe", "num"),
    Metric("sortino", "Sortino", "num"),
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
    Metric("calmar", "Calmar", "num"),
    Metric("final_value", "Final value", "money"),
    Metric("trade_dates", "Trade dates", "int", higher_is_better=False),
    Metric("fees_paid", "Fees paid", "money", higher_is_better=False),
    Metric("turnover", "Turnover (one-way, ann.)", "pct", higher_is_better=False),
    Metric("switches", "Regime switches", "int", higher_is_better=False),
    Metric("excess_cagr", "Excess CAGR", "pct", group="relative"),
    Metric("beta", "Beta", "num", group="relative"),
    Metric("alpha", "Alpha (ann.)", "pct", group="relative"),
    Metric(
        "tracking_error",
        "Tracking error (ann.)",
        "pct",
        higher_is_better=False,
        group="relative",
    ),
    Metric("information_ratio", "Information ratio", "num", group="relative"),
    Metric("correlation", "Correlation", "num", group="relative"),
)

METRICS: dict[str, Metric] = {m.key: m for m in _ALL}
PERFORMANCE_KEYS = tuple(m.key for m in _ALL if m.group == "performance")
RELATIVE_KEYS = tuple(m.key for m in _ALL if m.group == "relative")

OPTIONAL: dict[str, Metric] = {
    m.key: m for m in (Metric("cash_interest", "Cash interest", "money"),)
}
"""Statistics only some configs have (cash_interest: with `portfolio.cash_yield`): shown
where present, after the performance statistics; not a ranking choice."""


def optional_keys(statistics: dict) -> list[str]:
    """The OPTIONAL statistics present in one portfolio's statistics, in registry order."""
    return [key for key in OPTIONAL if key in statistics]


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
