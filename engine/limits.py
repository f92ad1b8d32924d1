"""Bounds on what a config, a data file or the command line may ask for, in one place.

A config is a short hand-written text file; these limits refuse hostile or
mistaken input (a huge or endless file, deep nesting, absurd amounts, dates
far outside market history, astronomically large sweep grids) at once, with a
clear message, instead of hanging, exhausting memory or giving silly numbers.
"""

from __future__ import annotations

import re

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: hand-written configs are a few KiB
MAX_YAML_DEPTH = 32  # nesting levels of mappings/lists; a config needs about 5
FIRST_YEAR, LAST_YEAR = 1900, 2200  # dates in configs, data files and on the command line
YEARS = (FIRST_YEAR, LAST_YEAR)

SYMBOL = re.compile(r"^[A-Za-z0-9^.=_-]+$")  # a ticker in a config, and the name of its files
SYMBOL_CHARS = "letters, digits and ^ . = _ -"


def is_symbol(text: str) -> bool:
    """True for a ticker symbol that is safe as a file name (no separator, not . or ..)."""
    return bool(SYMBOL.match(text)) and text.strip(".") != ""


def is_series(text: str) -> bool:
    """True for a ticker symbol or a ratio of two, 'A/B'."""
    legs = text.split("/")
    return len(legs) <= 2 and all(is_symbol(leg) for leg in legs)


# Starting cash. Below 1 currency unit, fees and the cent-level rounding of the
# reported values dominate and position sizes stop meaning anything; above
# 1e15 the float64 portfolio values (exact to 2**53, about 9e15) can no longer
# resolve a cent once they grow, so the accounting would be approximate.
MIN_INITIAL_CASH = 1.0
MAX_INITIAL_CASH = 1e15

MAX_PERIODS_PER_YEAR = 366  # daily bars at most (crypto trades every day of a leap year)
RISK_FREE_RANGE = (-0.5, 1.0)  # annual rate: above -50% and at most 100%

MAX_COMBOS = 100_000  # default of `rotation sweep --max-combos`

MAX_TRANCHES = 12  # `execution.tranches`: copies of a config deciding on spread days (SPEC 11)

# Release lag of an external series (data.series), calendar days: a quarterly figure
# published a quarter late is about 100 days; two years covers any real publication delay.
MAX_LAG_DAYS = 730

# The most dates of the trading calendar C one decision period can hold, the bound of
# `execution.decide_day`: weekdays (any universe with a stock or an ETF: a week has 5, a
# month at most 23, a quarter at most 66, a year at most 262), and every calendar day
# when every traded asset is crypto (7, 31, 92, 366).
PERIOD_DATES = {
    "weekly": (5, 7),
    "monthly": (23, 31),
    "quarterly": (66, 92),
    "annual": (262, 366),
}
