"""Portfolio accounting (docs/semantics.md §10) through vectorbt: the ONLY module that imports it.

One call to `Portfolio.from_orders` per simulation: target-percent orders on
trade dates (NaN = hold), one group with shared cash, `call_seq="auto"`
(sells first, largest first; then buys, smallest first; ties in universe
order), long only, partial fills when cash runs short. Orders are valued at
the execution price (`val_price = price`), so the target holding of asset i
is w_i * V / p_i with V = cash + shares at the execution prices.
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
            statistics use vectorbt's conventions, not docs/semantics.md's).
    """

    value: pd.Series
    cash: pd.Series
    shares: pd.DataFrame
    trades: pd.DataFrame
    close: pd.DataFrame
    portfolio: Any = None

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
) -> Simulation:
    """Simulate target-weight orders.

    Args:
        close: adjusted closes, index = backtest dates, one column per asset.
        price: execution prices (close or open) of the same shape.
        orders: target weight per asset on trade dates, NaN on all others.
        initial_cash: starting cash.
        fees: fee fraction of each fill's value (2 bps = 0.0002).
        slippage: fraction added to buys' and taken from sells' prices.
    """
    import vectorbt as vbt

    portfolio = vbt.Portfolio.from_orders(
        close=close,
        size=orders,
        size_type="targetpercent",
        direction="longonly",
        price=price,
        val_price=price,
        fees=fees,
        fixed_fees=0.0,
        slippage=slippage,
        min_size=0.0,
        max_size=np.inf,
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
    return Simulation(
        value=portfolio.value().rename("value"),
        cash=portfolio.cash().rename("cash"),
        shares=portfolio.assets(),
        trades=_trades(portfolio.orders.records, close, portfolio.value().to_numpy()),
        close=close,
        portfolio=portfolio,
    )


def _trades(records: np.ndarray, close: pd.DataFrame, value: np.ndarray) -> pd.DataFrame:
    """Order records -> readable fills in date and fill order, residue dropped."""
    records = pd.DataFrame(records)
    moved = np.abs(records["size"].to_numpy() * records["price"].to_numpy())
    records = records[moved > RESIDUE * value[records["idx"].to_numpy()]]
    sign = np.where(records["side"].to_numpy() == 0, 1.0, -1.0)  # 0 = buy, 1 = sell
    quantity = records["size"].to_numpy() * sign
    trades = pd.DataFrame(
        {
            "date": close.index[records["idx"].to_numpy()],
            "ticker": close.columns[records["col"].to_numpy()],
            "quantity": quantity,
            "fill_price": records["price"].to_numpy(),
            "value": quantity * records["price"].to_numpy(),
            "fees": records["fees"].to_numpy(),
        }
    )
    return trades.sort_values("date", kind="stable").reset_index(drop=True)
