"""Rates per backtest date (docs/semantics.md §11): the yield idle cash earns and the
risk-free series the statistics subtract.

`t⁻` is the date of the trading calendar C before t. For a ticker T, `T_t` is its
adjusted close on date t.

- Cash yield on backtest date j, earned by the cash held since the close before it,
  before any order of j: `c_j = (1 + y)^(1/P) - 1` for an annual number y; for a
  ticker the previous step's return `T_{t⁻} / T_{t⁻⁻} - 1` (known before j's orders:
  no look-ahead); c = 0 on the first backtest date, and on the second when C has no
  date before the first or T has no price there.
- Risk-free series: `rf_t = T_t / T_{t⁻} - 1` on each backtest date (0 on the first
  when it is C's first date).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.errors import DataError
from engine.rules import RESIDUE


def number_yield(annual: float, n_dates: int, periods: int) -> np.ndarray:
    """[N] c_j = (1 + y)^(1/P) - 1 on every backtest date but the first (0 there)."""
    rates = np.full(n_dates, (1.0 + annual) ** (1.0 / periods) - 1.0)
    rates[0] = 0.0
    return rates


def _closes(prices: dict, ticker: str, dates: pd.DatetimeIndex) -> np.ndarray:
    return prices[ticker]["Close"].reindex(dates).to_numpy(dtype=float)


def ticker_yield(prices: dict, ticker: str, cal: pd.DatetimeIndex, first: int, n: int):
    """[N] c_j = T_{j-1} / T_{j-2} - 1 (dates of C), 0 where it is not defined."""
    rows = cal[max(first - 1, 0) : first + n]
    closes = _closes(prices, ticker, rows)
    if first == 0:
        closes = np.concatenate([[np.nan], closes])  # no date of C before the first
    rates = np.zeros(n)
    if n > 1:
        step = closes[1:-1] / closes[:-2] - 1.0  # return into date j - 1, for j = 1 .. n - 1
        rates[1:] = np.where(np.isnan(step), 0.0, step)
    return rates


def risk_free_series(prices: dict, ticker: str, cal: pd.DatetimeIndex, first: int, n: int):
    """[N] rf_t = T_t / T_{t⁻} - 1 on each backtest date (0 on C's first date)."""
    rows = cal[max(first - 1, 0) : first + n]
    closes = _closes(prices, ticker, rows)
    if first == 0:
        return np.concatenate([[0.0], closes[1:] / closes[:-1] - 1.0])
    return closes[1:] / closes[:-1] - 1.0


def check_rate_prices(config, prices: dict, cal: pd.DatetimeIndex, first: int, n: int) -> None:
    """A cash-yield ticker needs a price on every backtest date; a risk-free ticker also on
    the date of C before the first (DataError naming the field)."""
    for ticker, field in config.rates().items():
        needs_before = field == "stats.risk_free" and first > 0
        dates = cal[first - needs_before : first + n]
        missing = dates.difference(prices[ticker].index)
        if len(missing):
            what = "risk-free" if field == "stats.risk_free" else "cash-yield"
            before = " and on the trading date before the first" if needs_before else ""
            raise DataError(
                f"{field}: {ticker} has no price on {len(missing)} of the dates it is read "
                f"on, first {missing[0].date()}; a {what} ticker needs a price on every "
                f"backtest date{before}; choose another ticker or a later data.start"
            )


def interest(cash: np.ndarray, rates: np.ndarray, values: np.ndarray) -> float:
    """Cash interest earned: sum over dates j >= 1 of cash_{j-1} * c_j (cash after each
    date's orders; cash within RESIDUE of that date's value V_{j-1} is the float residue
    of a fully invested portfolio and is left out, as residue fills are)."""
    cash, rates, values = (np.asarray(x, dtype=float) for x in (cash, rates, values))
    held = np.where(np.abs(cash[:-1]) > RESIDUE * values[:-1], cash[:-1], 0.0)
    total = 0.0
    for amount, rate in zip(held, rates[1:], strict=True):  # in date order, as the kernel adds
        total += amount * rate
    return total
