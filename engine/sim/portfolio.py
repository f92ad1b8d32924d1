"""Portfolio accounting (docs/semantics.md §6, §11) through vectorbt: the ONLY module that
imports it.

One call to `Portfolio.from_orders` per simulation: target-percent orders on
trade dates (NaN = hold), one group with shared cash, `call_seq="auto"`
(sells first, largest first; then buys, smallest first; ties in universe
order), long only, partial fills when cash runs short. Orders are valued at
the execution price (`val_price = price`), so the target holding of asset i
is w_i * V / p_i with V = cash + shares at the execution prices.

Three per-order settings carry §6 and §11 beyond what `from_orders` does alone:

- `skip` (the no-trade band): a zero-amount order (size_type "amount", size 0): it
  sorts with key 0 and moves nothing, so the other orders keep §6's order;
- `cap` (a buy's size where its cost exceeds the cash left by less than vectorbt's
  1e-9 tolerance, which it would otherwise fill in full): the order's `max_size`,
  which cuts the fill without changing the sort;
- `index` (cash yield): vectorbt pays no interest, so the simulation runs in units of
  the cash index I_t = prod(1 + c): every price of date t divided by I_t. Target
  sizing, fees and slippage are linear in price, so the share quantities are the same,
  and cash in index units is constant between dates exactly as accrual requires
  (vectorbt's tolerances are relative). Values, cash, fill prices and fees are
  multiplied back by I_t; `Simulation.portfolio` stays in index units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.rules import RESIDUE


@dataclass(frozen=True)
class Simulation:
    """Result of one simulated portfolio on the backtest dates.

    Attributes:
        value: V_t, cash plus shares at the adjusted close (currency units).
        cash: cash after each date's fills.
        shares: shares held in each asset after each date's fills.
        trades: one row per fill: date, ticker, quantity (+ buy, - sell),
            fill_price (with slippage), value (quantity * fill_price), fees.
        close: the adjusted closes the holdings are valued at.
        portfolio: the `vectorbt.Portfolio` itself, for notebook users (its own
            statistics use vectorbt's conventions, not docs/semantics.md's; in units of
            the cash index when cash earns a yield).
        index: the cash index I_t (None without a cash yield).
    """

    value: pd.Series
    cash: pd.Series
    shares: pd.DataFrame
    trades: pd.DataFrame
    close: pd.DataFrame
    portfolio: Any = None
    index: np.ndarray | None = None

    def held_weights(self) -> pd.DataFrame:
        """Weight of each asset at each close: shares * close / V."""
        return self.shares * self.close / self.value.to_numpy()[:, None]


def simulate(
    close: pd.DataFrame,
    price: pd.DataFrame,
    orders: pd.DataFrame,
    initial_cash: float,
    fees: float,
    slippage: float,
    skip: np.ndarray | None = None,
    cap: np.ndarray | None = None,
    index: np.ndarray | None = None,
) -> Simulation:
    """Simulate target-weight orders.

    Args:
        close: adjusted closes, index = backtest dates, one column per asset.
        price: execution prices (close or open) of the same shape.
        orders: target weight per asset on trade dates, NaN on all others.
        initial_cash: starting cash.
        fees: fee fraction of each fill's value (2 bps = 0.0002).
        slippage: fraction added to buys' and taken from sells' prices.
        skip: [N, A] True where the no-trade band skips the order (None: none).
        cap: [N, A] most shares a buy may fill (NaN or None: no cap).
        index: [N] cash index I_t (None: cash earns nothing).
    """
    import vectorbt as vbt
    from vectorbt.portfolio.enums import SizeType

    size = orders.to_numpy(dtype=float, copy=True)
    size_type = np.full(size.shape, SizeType.TargetPercent)
    if skip is not None and skip.any():
        size[skip] = 0.0
        size_type[skip] = SizeType.Amount
    max_size = np.inf if cap is None else np.where(np.isnan(cap), np.inf, cap)
    units = (close, price)
    if index is not None:
        units = tuple(frame.div(index, axis=0) for frame in units)
    portfolio = vbt.Portfolio.from_orders(
        close=units[0],
        size=size,
        size_type=size_type,
        direction="longonly",
        price=units[1],
        val_price=units[1],
        fees=fees,
        fixed_fees=0.0,
        slippage=slippage,
        min_size=0.0,
        max_size=max_size,
        lock_cash=False,
        allow_partial=True,
        raise_reject=False,
        init_cash=float(initial_cash),
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        ffill_val_price=True,
        update_value=False,
        freq="1D",
        seed=None,
    )
    scale = np.ones(len(close)) if index is None else np.asarray(index, dtype=float)
    value = portfolio.value()
    cash = (portfolio.cash() * scale).rename("cash")
    return Simulation(
        value=(value * scale if index is None else _in_currency(cash, portfolio, close)).rename(
            "value"
        ),
        cash=cash,
        shares=portfolio.assets(),
        trades=_trades(portfolio.orders.records, close, value.to_numpy(), scale),
        close=close,
        portfolio=portfolio,
        index=None if index is None else scale,
    )


def _in_currency(cash: pd.Series, portfolio, close: pd.DataFrame) -> pd.Series:
    """V_t = cash_t + sum_i shares_i close_i in currency, summed as the numba kernel sums
    (assets left to right, then the cash): V_units * I_t would carry the rounding of the
    division by I_t, so a date on which no price moves and no cash is held would return
    1e-16 instead of 0 (and count in win rates as a day won or lost)."""
    shares = portfolio.assets().to_numpy()
    prices = close.to_numpy()
    held = np.zeros(len(close))
    for i in range(shares.shape[1]):
        held += shares[:, i] * prices[:, i]
    return cash + held


def _trades(
    records: np.ndarray, close: pd.DataFrame, value: np.ndarray, scale: np.ndarray
) -> pd.DataFrame:
    """Order records -> readable fills in date and fill order, residue dropped; prices and
    fees times `scale` (the cash index; records are in its units)."""
    records = pd.DataFrame(records)
    row = records["idx"].to_numpy()
    moved = np.abs(records["size"].to_numpy() * records["price"].to_numpy())
    records = records[moved > RESIDUE * value[row]]
    row = records["idx"].to_numpy()
    sign = np.where(records["side"].to_numpy() == 0, 1.0, -1.0)  # 0 = buy, 1 = sell
    quantity = records["size"].to_numpy() * sign
    price = records["price"].to_numpy() * scale[row]
    trades = pd.DataFrame(
        {
            "date": close.index[row],
            "ticker": close.columns[records["col"].to_numpy()],
            "quantity": quantity,
            "fill_price": price,
            "value": quantity * price,
            "fees": records["fees"].to_numpy() * scale[row],
        }
    )
    return trades.sort_values("date", kind="stable").reset_index(drop=True)
