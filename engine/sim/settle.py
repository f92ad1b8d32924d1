"""Orders settled against vectorbt's own holdings (docs/semantics.md §6, §11).

Three things about a date's orders depend on the holdings the simulation itself
produces: whether the threshold rule makes it a trade date, which orders the
no-trade band skips (|w_i - h_i| <= x, h_i at the execution prices), and which buys
cost more than the cash left by less than vectorbt's 1e-9 tolerance (vectorbt fills
those in full; SPEC 6 cuts them to what the cash pays, so they get a `max_size`).

The numba kernel (engine.sim.fastsim), with vectorbt's arithmetic, gives all three in
one pass (`hint`); vectorbt simulates once with them; `disagreement` recomputes them
from vectorbt's result (its positions, cash and fills, in its own units) and names the
first date where they differ. When one does (a float tie the two arithmetics break
differently, or a cash index that scales the prices), `settle` fixes that date and
simulates again, date by date: each fix depends only on the holdings before it, so
the first disagreement moves forward every time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from engine.rules import FLOAT_NOISE

CASH_SLACK = 1e-12  # a buy over- or under-spends the cash left by more than this * V: wrong


@dataclass(frozen=True)
class Book:
    """What vectorbt is given: target weights on trade dates (NaN: hold), the band's
    skipped orders [N, A] and the buys' caps [N, A] (NaN: none)."""

    orders: pd.DataFrame
    skip: np.ndarray
    cap: np.ndarray


@dataclass(frozen=True)
class Rules:
    """What decides a date's orders besides the targets.

    Attributes:
        base: [N] trade dates of the schedule (first date, target changes, calendar rule).
        decided: target decided at each backtest date (the threshold rule trades to it).
        threshold: the drift threshold (NaN: none).
        band: the no-trade band x (0: none).
        fees: fee fraction; initial_cash: the starting cash.
        units: [N, A] execution prices in the simulation's units (over the cash index).
        cash_checked: whether buys are checked against the cash left.
    """

    base: np.ndarray
    decided: pd.DataFrame
    threshold: float
    band: float
    fees: float
    initial_cash: float
    units: np.ndarray
    cash_checked: bool = True


def hint(
    close: pd.DataFrame,
    price: pd.DataFrame,
    prior: pd.DataFrame,
    orders: pd.DataFrame,
    rules: Rules,
    slippage: float,
    rates: np.ndarray | None,
) -> Book:
    """The book the numba kernel finds in one pass: the schedule's `orders` plus the
    threshold rule's trade dates, the band's skips and the buys' caps.

    Args:
        prior: the target traded on each date if it trades (decided the date before).
        rates: [N] cash yield per date (None: none).
    """
    from engine.sim.fastsim import simulate_grid

    # Row 0: target traded on the first date; row j + 1: target decided at date j.
    rows = np.vstack([prior.to_numpy()[:1], rules.decided.to_numpy()])
    table, codes = np.unique(rows, axis=0, return_inverse=True)
    result = simulate_grid(
        close.to_numpy(),
        price.to_numpy(),
        table[None],
        np.asfortranarray(codes.reshape(-1, 1)),
        rules.base,  # the schedule's dates as the one "calendar" rule: the same trade dates
        np.array([True]),
        np.array([rules.threshold]),
        np.array([rules.fees]),
        np.array([slippage]),
        rules.initial_cash,
        tolerance=rules.band,
        cash_rates=rates,
        rate_of=None if rates is None else np.zeros(1, dtype=np.int64),
        hints=True,
    )
    threshold_dates = result.rebalanced[:, 0] & ~rules.base
    hinted = orders.where(pd.Series(~threshold_dates, index=orders.index), prior)
    return Book(hinted, result.skipped.copy(), result.caps.copy())


def drift_breaches(held: pd.DataFrame, decided: pd.DataFrame, limit: float) -> np.ndarray:
    """Dates whose close has some |held value_i / V - w_i| > limit (cash not compared)."""
    return np.any(np.abs(held.to_numpy() - decided.to_numpy()) > limit, axis=1)


def settle(book: Book, rules: Rules, simulate: Callable[[Book], object]) -> tuple[Book, object]:
    """Simulate `book`; while vectorbt's holdings disagree with it somewhere, fix the first
    such date (or buy) and simulate again. Returns (the settled book, its simulation)."""
    result = simulate(book)
    start, fixes = 0, 0
    limit = 4 * book.skip.size + len(book.orders) + 16  # each fix moves forward
    while (found := disagreement(book, result, rules, start)) is not None:
        start, book = found
        result = simulate(book)
        fixes += 1
        if fixes > limit:
            raise RuntimeError("settling the orders against vectorbt did not converge")
    return book, result


@dataclass(frozen=True)
class _State:
    """vectorbt's holdings before each date's orders, in its units."""

    shares: np.ndarray  # [N, A] before the date's orders
    cash: np.ndarray  # [N]
    value: np.ndarray  # [N] cash + shares at the execution prices (vectorbt's sum order)


def _state(result, units: np.ndarray, initial_cash: float) -> _State:
    portfolio = result.portfolio
    held = portfolio.assets().to_numpy()
    cash = portfolio.cash().to_numpy()
    shares = np.vstack([np.zeros((1, held.shape[1])), held[:-1]])
    before = np.concatenate([[initial_cash], cash[:-1]])
    value = before.copy()
    for i in range(held.shape[1]):  # left to right from the cash, as vectorbt adds
        value += np.where(shares[:, i] != 0, shares[:, i] * units[:, i], 0.0)
    return _State(shares, before, value)


def band_skips(target: np.ndarray, shares, value, units, band: float) -> np.ndarray:
    """[..., A] the orders the band skips: |w_i - h_i| <= x, unless an exit (w_i = 0) or
    an entry (nothing held) moving more than float noise (h_i = shares_i p_i / V)."""
    if band <= 0:
        return np.zeros(np.shape(target), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(target - shares * units / value[..., None])
    exit_or_entry = (target == 0) | (shares == 0)
    place = (gap > band) | ((gap > FLOAT_NOISE) & exit_or_entry)
    return ~place & (value[..., None] > 0)


def disagreement(book: Book, result, rules: Rules, start: int) -> tuple[int, Book] | None:
    """The first date at or after `start` whose orders vectorbt's holdings say otherwise,
    and the book with that date (or that one buy) fixed; None when all agree."""
    state = _state(result, rules.units, rules.initial_cash)
    booked = book.orders.notna().any(axis=1).to_numpy()
    due = rules.base.copy()
    if not np.isnan(rules.threshold):
        breach = drift_breaches(result.held_weights(), rules.decided, rules.threshold)
        due[1:] |= breach[:-1]
    target = rules.decided.to_numpy()[np.maximum(np.arange(len(due)) - 1, 0)]
    target = np.where(booked[:, None], book.orders.to_numpy(), target)
    skips = band_skips(target, state.shares, state.value, rules.units, rules.band) & due[:, None]
    wrong = (booked != due) | np.any(skips != book.skip, axis=1)
    wrong[:start] = False
    row = int(np.argmax(wrong)) if wrong.any() else len(due)
    cash_fix = _cash_fix(book, result, rules, state, start) if rules.cash_checked else None
    if cash_fix is not None and cash_fix[0] < row:
        return cash_fix
    if row == len(due):
        return None
    orders = book.orders.copy()
    orders.iloc[row] = target[row] if due[row] else np.nan
    skip, cap = book.skip.copy(), book.cap.copy()
    skip[row], cap[row] = skips[row], np.nan
    return row, Book(orders, skip, cap)


def _cash_fix(book: Book, result, rules: Rules, state: _State, start: int):
    """(row, book) fixing the first buy at or after `start` that spends more than the cash
    left (vectorbt's tolerance), or that a cap cut while cash was left; None if none."""
    records = result.portfolio.orders.records
    rows, cols = records["idx"], records["col"]
    size, price, fees = records["size"], records["price"], records["fees"]
    buy = records["side"] == 0
    flow = np.where(buy, -(size * price + fees), size * price - fees)
    done = np.cumsum(flow) - flow  # flows before each record
    first = np.searchsorted(rows, rows, side="left")
    cash_before = state.cash[rows] + done - done[first]
    cost = size * price + fees
    slack = CASH_SLACK * state.value[rows]
    weights = book.orders.to_numpy()[rows, cols]
    wanted = weights * state.value[rows] / rules.units[rows, cols] - state.shares[rows, cols]
    over = buy & (cost - cash_before > slack)
    under = buy & (cash_before - cost > slack) & ((wanted - size) * price > slack)
    bad = np.flatnonzero((over | under) & (rows >= start))
    if bad.size == 0:
        return None
    k = int(bad[0])
    cap = book.cap.copy()
    cap[rows[k], cols[k]] = cash_before[k] / (1 + rules.fees) / price[k] if over[k] else np.nan
    return int(rows[k]), replace(book, cap=cap)
