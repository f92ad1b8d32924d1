"""Many rotation portfolios in one numba call (for parameter sweeps).

`simulate_grid` runs G parameter combinations of one rotation strategy on the
same market and reproduces, per combination, what `engine.runner` does with
vectorbt (`engine.sim.schedule` for when to trade, `engine.sim.portfolio.simulate` for
the fills): docs/semantics.md §6 and §11 accounting with vectorbt's own arithmetic
(`buy_nb`, `sell_nb`, `execute_order_nb` of `Portfolio.from_orders` with
`size_type="targetpercent"`, `call_seq="auto"`, `val_price=price`, cash
sharing, long only, partial fills), including its tolerances:

- `is_close_nb`: |a - b| <= max(1e-9 * max(|a|, |b|), 1e-12);
- cash, positions and the order-time value within 1e-12 of zero count as zero;
- a buy that costs more than the cash left, fees included, is filled partially:
  size = cash / (1 + f) / fill (SPEC 6). vectorbt itself fills a buy in full when
  its cost is within 1e-9 (relative) of the cash; for those buys the kernel gives
  the SPEC's size as a hint (`hints=True`: `caps`) that the engine hands vectorbt as
  the order's `max_size`, and takes vectorbt's arithmetic for a capped order
  (fees = size * fill * f; cash within tolerance of zero is zero). A buy short by
  more than that is cut by vectorbt itself: fees = cash - cash / (1 + f);
- `add_nb`: a sum within 1e-9 (relative) of zero is zero (a sale of all but
  a sliver of a position closes it).

§11 on top: cash earns `c_j` per date before the date's orders (`cash *= 1 + c_j`,
the interest summed per combination); the no-trade band skips an asset's order when
|w_i - h_i| <= x unless it exits or enters (vectorbt gets a zero-amount order there,
which sorts with key 0 and moves nothing; `hints=True`: `skipped`); the calendar
rebalance rules fire on the first date of each month, quarter or year.

Residue, as in the engine: an order is executed exactly as vectorbt executes
it, however small; a fill moving at most `RESIDUE` (1e-9) of the date's value
(|quantity * fill price| <= 1e-9 * V_t at the close, the floating-point residue
of rebalancing to the weights already held) is then left out of fees_paid,
traded_value and trade_dates, as `engine.sim.portfolio` leaves it out of the
trade list. (Skipping such orders instead, as tests/reference.py does,
changes V by ~1e-9 * V * (fees + slippage + |close/price - 1|) per sliver.)

Combinations are simulated one after another (combinations in the outer
loop, dates inside). For speed, `decided` is read per combination: pass it
column-contiguous (Fortran order, e.g. `np.asfortranarray(d)` or the
transpose of a [G, N + 1] C array) to avoid a copy, and `values` is returned
as the transpose of a C-ordered [G, N] array (each combination's column is
contiguous).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from engine.rules import (
    FLOAT_NOISE,  # the band's exits and entries are placed unless they move no more
    RESIDUE,  # a fill moving <= this fraction of V_t is residue
    SAME_TARGET,  # targets whose weights differ by no more are the same
)

_REL_TOL = 1e-9  # vectorbt.utils.math_.rel_tol
_ABS_TOL = 1e-12  # vectorbt.utils.math_.abs_tol


class GridResult(NamedTuple):
    """Per-combination results of `simulate_grid`.

    Attributes:
        values: [N, G] V_t, cash plus shares at the adjusted close of each date
            (a transposed view: `values[:, g]` is contiguous).
        fees_paid: [G] total fees paid.
        traded_value: [G] sum over fills of |quantity * fill price|.
        trade_dates: [G] number of dates with at least one fill.
        rebalanced: [N, G] True where the threshold rule made date j a trade date.
        interest: [G] cash interest earned, sum over dates of cash_{j-1} * c_j (cash within
            RESIDUE of V_{j-1} is float residue and earns nothing here).
        skipped: [N, A] (G = 1 with `hints`, else None) True where the no-trade band
            skipped asset i's order on a trade date.
        caps: [N, A] (G = 1 with `hints`, else None) the size a buy was cut to where its
            cost exceeded the cash left by no more than vectorbt's tolerance (NaN elsewhere).
        exposure: [G] average exposure: the mean over dates of 1 - cash_j / V_j, the share
            of the value held in assets at each close (NaN if some V_j is 0).
    """

    values: np.ndarray
    fees_paid: np.ndarray
    traded_value: np.ndarray
    trade_dates: np.ndarray
    rebalanced: np.ndarray
    interest: np.ndarray | None = None
    skipped: np.ndarray | None = None
    caps: np.ndarray | None = None
    exposure: np.ndarray | None = None


# ---------------------------------------------------------------------------
# vectorbt's float helpers (vectorbt/utils/math_.py), same tolerances


@numba.njit(cache=True, inline="always")
def _is_close(a, b):
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@numba.njit(cache=True, inline="always")
def _add(a, b):
    """vectorbt add_nb: a + b, or 0.0 when the sum is zero within tolerance."""
    if np.sign(a) != np.sign(b):
        if _is_close(abs(a), abs(b)):
            return 0.0
    elif _is_close(a + b, 0.0):
        return 0.0
    return a + b


# ---------------------------------------------------------------------------
# one trade date


@numba.njit(cache=True, inline="always")
def _order_keys(w, k, q, p, j, cash, band, order_value, call_seq, skip):
    """Group value at the execution prices (once: update_value=False), the band's skips
    and call_seq="auto": ascending w_i V - q_i p_i (a skipped order's key is 0, the
    zero-amount order vectorbt gets), stable insertion sort (vectorbt insert_argsort_nb)."""
    n_assets = q.shape[0]
    value_now = cash
    for i in range(n_assets):
        if q[i] != 0:
            value_now += q[i] * p[j, i]
    for i in range(n_assets):
        key = w[k, i] * value_now - q[i] * p[j, i]
        skip[i] = False
        if band > 0 and value_now > 0:
            gap = abs(w[k, i] - q[i] * p[j, i] / value_now)
            exit_or_entry = w[k, i] == 0 or q[i] == 0
            if not (gap > band or (gap > FLOAT_NOISE and exit_or_entry)):
                skip[i] = True
                key = 0.0
        order_value[i] = key
        call_seq[i] = i
    for a in range(1, n_assets):
        key = order_value[a]
        idx = call_seq[a]
        b = a - 1
        while b >= 0 and order_value[b] > key:
            order_value[b + 1] = order_value[b]
            call_seq[b + 1] = call_seq[b]
            b -= 1
        order_value[b + 1] = key
        call_seq[b + 1] = idx
    return value_now


@numba.njit(cache=True, inline="always")
def _buy(cash, size, p, f, s):
    """vectorbt buy_nb, long only, but cut to what the cash pays whenever it costs more
    (SPEC 6). Returns (filled, spent, fee, size, fill price, cap): filled False when
    rejected or ignored; cap the SPEC's size where vectorbt would fill in full (else NaN)."""
    fill = p * (1 + s)
    if cash == 0:
        return False, 0.0, 0.0, 0.0, fill, np.nan  # rejected: no cash
    req_cash = size * fill
    req_fees = req_cash * f
    total_req = req_cash + req_fees
    cap = np.nan
    if total_req <= cash:
        final_size, fee_paid, spent = size, req_fees, total_req
    else:
        max_req_cash = cash / (1 + f)
        if max_req_cash <= 0:
            return False, 0.0, 0.0, 0.0, fill, np.nan  # rejected: cannot cover fees
        final_size = max_req_cash / fill
        if _is_close(total_req, cash):
            # vectorbt would fill it in full: it gets this size as max_size, and its
            # arithmetic for an order of that size
            cap = final_size
            size = final_size
            fee_paid = final_size * fill * f
            spent = final_size * fill + fee_paid
        else:
            fee_paid = cash - max_req_cash
            spent = cash
    if _is_close(size, 0.0):
        return False, 0.0, 0.0, 0.0, fill, np.nan  # ignored: size zero
    return True, spent, fee_paid, final_size, fill, cap


@numba.njit(cache=True)
def _trade_date(
    w, k, q, p, j, cash, f, s, band, scratch, call_seq, fill_value, fill_fees, skip, cap
):
    """Execute date j's orders to target row k of `w` at prices p[j], in place (q;
    `fill_value`, `fill_fees` of each fill; `skip`, `cap` per asset). Returns (cash after,
    number of fills). Rows and dates are indexed here, not sliced by the caller: a slice
    is an array view with an atomic reference count on every call."""
    for i in range(cap.shape[0]):
        cap[i] = np.nan
    value = _order_keys(w, k, q, p, j, cash, band, scratch, call_seq, skip)
    if _is_close(value, 0.0):
        value = 0.0
    n_fills = 0
    for c in range(q.shape[0]):
        i = call_seq[c]
        # execute_order_nb: numerical-stability snapping (also for a skipped order)
        if _is_close(cash, 0.0):
            cash = 0.0
        position = q[i]
        if _is_close(position, 0.0):
            position = 0.0
        q[i] = position
        if skip[i] or value <= 0:
            continue  # a zero-amount order, or rejected: no value to size against
        size = w[k, i] * value / p[j, i] - position  # targetpercent -> amount
        if size > 0:
            filled, spent, fee_paid, final_size, fill, cut = _buy(cash, size, p[j, i], f, s)
            cap[i] = cut
            if not filled:
                continue
            cash = _add(cash, -spent)
            q[i] = _add(position, final_size)
        else:
            # sell_nb (long only)
            if position == 0:
                continue  # rejected: no open position
            final_size = min(position, -size)
            if _is_close(final_size, 0.0):
                continue  # ignored: size zero
            fill = p[j, i] * (1 - s)
            acq_cash = final_size * fill
            fee_paid = acq_cash * f
            final_acq = _add(acq_cash, -fee_paid)
            if final_acq < 0:
                continue  # rejected: cannot cover fees
            cash = cash + final_acq
            q[i] = _add(position, -final_size)
        fill_value[n_fills] = abs(final_size * fill)
        fill_fees[n_fills] = fee_paid
        n_fills += 1
    return cash, n_fills


# ---------------------------------------------------------------------------
# the kernel


@numba.njit(cache=True)
def _simulate_grid_nb(
    close,  # [N, A]
    price,  # [N, A]
    weights,  # [T, K, A]
    table_of,  # [G]: the weight table of each combination
    decided,  # [G, N + 1] (C order: row g is combination g)
    starts,  # [N, M]: first date of a new period (month, quarter, year)
    period_of,  # [G]: column of `starts` the calendar rule fires on, -1 none
    threshold,  # [G]
    fees,  # [G]
    slippage,  # [G]
    tolerance,  # [G]: no-trade band, 0 none
    rates,  # [N, R]: cash yield per date (row 0 unused)
    rate_of,  # [G]: column of `rates`, -1 none
    initial_cash,
    values,  # out [G, N]
    fees_paid,  # out [G]
    traded_value,  # out [G]
    trade_dates,  # out [G]
    rebalanced,  # out [G, N]: the threshold rule fired for date j (drift at j - 1's close)
    interest,  # out [G]
    exposure,  # out [G]: mean of 1 - cash / V at the closes
    skipped,  # out [H, N, A], H = G with hints, else 0
    caps,  # out [H, N, A]
):
    n_dates, n_assets = close.shape
    n_combos = decided.shape[0]
    n_regimes = weights.shape[1]
    hints = skipped.shape[0] > 0
    q = np.empty(n_assets)  # shares held
    scratch = np.empty(n_assets)  # sort keys (vectorbt approx_order_value_nb)
    call_seq = np.empty(n_assets, np.int64)
    fill_value = np.empty(n_assets)  # |quantity * fill price| of the day's fills
    fill_fees = np.empty(n_assets)
    skip = np.zeros(n_assets, np.bool_)
    cap = np.empty(n_assets)

    for g in range(n_combos):
        w = weights[table_of[g]]
        dec = decided[g]
        thr = threshold[g]
        use_threshold = not np.isnan(thr)
        period = period_of[g]
        rate = rate_of[g]
        for i in range(n_assets):
            q[i] = 0.0
        cash = initial_cash
        total_fees = 0.0
        total_traded = 0.0
        earned = 0.0
        invested = 0.0  # sum of 1 - cash / V over the closes
        n_trade_dates = 0
        drift = False  # threshold breached at the previous close
        prev_k = -1

        for j in range(n_dates):
            k = dec[j]  # the target traded on j: decided on the date before j
            if k < 0 or k >= n_regimes:
                raise ValueError("decided holds a regime index outside 0 .. K-1")
            rebalanced[g, j] = drift
            trade = j == 0 or drift or (period >= 0 and starts[j, period])
            if not trade and k != prev_k:
                for i in range(n_assets):
                    if abs(w[k, i] - w[prev_k, i]) > SAME_TARGET:
                        trade = True
                        break
            prev_k = k
            if rate >= 0 and j > 0:  # cash held since the last close earns c_j first
                if abs(cash) > RESIDUE * values[g, j - 1]:  # not float residue
                    earned += cash * rates[j, rate]
                cash = cash * (1.0 + rates[j, rate])
            n_fills = 0

            if trade and not hints and tolerance[g] > 0:
                # the band skips every order (or nothing to size against): a held date,
                # as _trade_date would fill nothing. Written out here, without early exits:
                # an inlined call binds its arrays with atomic reference counts, and which
                # asset breaks the band is unpredictable
                value_now = cash
                for i in range(n_assets):
                    if q[i] != 0:
                        value_now += q[i] * price[j, i]
                if value_now <= 0 or _is_close(value_now, 0.0):
                    trade = False
                else:
                    placed = False
                    for i in range(n_assets):
                        gap = abs(w[k, i] - q[i] * price[j, i] / value_now)
                        placed |= (gap > tolerance[g]) | (
                            (gap > FLOAT_NOISE) & ((w[k, i] == 0) | (q[i] == 0))
                        )
                    trade = placed
            if trade:
                cash, n_fills = _trade_date(
                    w,
                    k,
                    q,
                    price,
                    j,
                    cash,
                    fees[g],
                    slippage[g],
                    tolerance[g],
                    scratch,
                    call_seq,
                    fill_value,
                    fill_fees,
                    skip,
                    cap,
                )
                if hints:
                    skipped[g, j] = skip
                    caps[g, j] = cap
            else:
                # vectorbt processes the NaN ("hold") orders too, snapping near-zero state
                if _is_close(cash, 0.0):
                    cash = 0.0
                for i in range(n_assets):
                    if _is_close(q[i], 0.0):
                        q[i] = 0.0
                if hints:
                    skipped[g, j] = False
                    caps[g, j] = np.nan

            # daily value at the adjusted close
            held = 0.0
            for i in range(n_assets):
                held += q[i] * close[j, i]
            v = cash + held
            values[g, j] = v
            invested += 1.0 - cash / v if v != 0 else np.nan

            # fills of the day, as engine.sim.portfolio lists them: residue dropped
            if n_fills > 0:
                counted = False
                for c in range(n_fills):
                    if fill_value[c] > RESIDUE * v:
                        total_traded += fill_value[c]
                        total_fees += fill_fees[c]
                        counted = True
                if counted:
                    n_trade_dates += 1

            # threshold: drift at this close against the target decided at it
            if use_threshold and j + 1 < n_dates:
                drift = False
                if v > 0:
                    kn = dec[j + 1]
                    if kn < 0 or kn >= n_regimes:
                        raise ValueError("decided holds a regime index outside 0 .. K-1")
                    for i in range(n_assets):
                        if abs(q[i] * close[j, i] / v - w[kn, i]) > thr:
                            drift = True
                            break

        fees_paid[g] = total_fees
        traded_value[g] = total_traded
        trade_dates[g] = n_trade_dates
        interest[g] = earned
        exposure[g] = invested / n_dates


def _per_combo(x, n_combos: int, dtype) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(x, (n_combos,)), dtype=dtype)


def _schedule_inputs(new_month, monthly, n_dates: int, n_combos: int):
    """(starts [N, M], period_of [G]) from `new_month` [N] with `monthly` [G] bool (the
    monthly rule), or `new_month` [N, M] with `monthly` [G] int (column, -1 none)."""
    starts = np.asarray(new_month, dtype=np.bool_)
    if starts.ndim == 1:
        starts = starts[:, None]
        period_of = np.where(_per_combo(monthly, n_combos, np.bool_), 0, -1)
    else:
        period_of = _per_combo(monthly, n_combos, np.int64)
    if starts.shape[0] != n_dates:
        raise ValueError(f"new_month {starts.shape} must be [N] or [N, M] with N = {n_dates}")
    if np.any(period_of >= starts.shape[1]):
        raise ValueError("monthly holds a period column outside new_month's columns")
    return np.ascontiguousarray(starts), np.ascontiguousarray(period_of, dtype=np.int64)


def _rate_inputs(cash_rates, rate_of, n_dates: int, n_combos: int):
    """(rates [N, R], rate_of [G]); no yield anywhere when `cash_rates` is None."""
    if cash_rates is None:
        return np.zeros((n_dates, 1)), np.full(n_combos, -1, dtype=np.int64)
    rates = np.ascontiguousarray(cash_rates, dtype=np.float64).reshape(n_dates, -1)
    rate_of = _per_combo(0 if rate_of is None else rate_of, n_combos, np.int64)
    if np.any(rate_of >= rates.shape[1]) or not np.all(np.isfinite(rates)) or np.any(rates <= -1):
        raise ValueError("cash_rates must be finite and > -1, and rate_of columns of it")
    return rates, rate_of


def simulate_grid(
    close: np.ndarray,
    price: np.ndarray,
    weights: np.ndarray,
    decided: np.ndarray,
    new_month: np.ndarray,
    monthly: np.ndarray,
    threshold: np.ndarray,
    fees: np.ndarray,
    slippage: np.ndarray,
    initial_cash: float,
    table_of: np.ndarray | None = None,
    tolerance: np.ndarray | float = 0.0,
    cash_rates: np.ndarray | None = None,
    rate_of: np.ndarray | None = None,
    hints: bool = False,
) -> GridResult:
    """Simulate G combinations of a rotation strategy on one market (docs/semantics.md §6,
    §10, §11).

    Args:
        close: [N, A] adjusted closes on the backtest dates.
        price: [N, A] execution prices (close for next_close, adjusted open for next_open).
        weights: [T, K, A] target vectors: row k of table t (unused rows zero). Fixed-weight
            strategies have one table per combination and one row per regime; ranked ones
            one row per regime and ranked decision (engine.targets).
        decided: [N + 1, G] rows of the combination's table: row 0 = target decided on the
            calendar date before the first backtest date (the default regime's when there
            is none); row j + 1 = target decided at backtest date j. Column-contiguous is
            fastest.
        new_month: [N] True where date j is in another month than date j - 1; or [N, M]
            the first dates of M kinds of period (engine.rules.period_starts).
        monthly: [G] rebalance on the first date of each month (bool, with [N] new_month);
            or the column of [N, M] new_month each combination rebalances on (-1: none).
        threshold: [G] drift threshold, NaN = no threshold rule.
        fees: [G] fee fraction (2 bps = 0.0002).
        slippage: [G] slippage fraction.
        initial_cash: starting cash of every combination.
        table_of: [G] table of each combination; None = table g for combination g (T = G).
        tolerance: [G] no-trade band x (0: none).
        cash_rates: [N, R] cash yield c_j earned on date j (row 0 unused); None: none.
        rate_of: [G] column of `cash_rates` of each combination (-1: no yield).
        hints: also return `skipped` and `caps` (G = 1 only).

    Returns:
        GridResult (values [N, G], fees_paid, traded_value, trade_dates, interest [G],
        exposure [G], ...).
    """
    close = np.ascontiguousarray(close, dtype=np.float64)
    price = np.ascontiguousarray(price, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    decided = np.asarray(decided)
    if close.ndim != 2 or price.shape != close.shape:
        raise ValueError(f"close {close.shape} and price {price.shape} must both be [N, A]")
    n_dates, n_assets = close.shape
    if n_dates == 0:
        raise ValueError("no backtest dates")
    if weights.ndim != 3 or weights.shape[2] != n_assets or weights.shape[1] == 0:
        raise ValueError(f"weights {weights.shape} must be [T, K, {n_assets}] with K >= 1")
    if decided.ndim != 2:
        raise ValueError(f"decided {decided.shape} must be [N + 1, G]")
    n_combos = decided.shape[1]
    if table_of is None:
        table_of = np.arange(n_combos)
    table_of = np.ascontiguousarray(table_of, dtype=np.int64)
    if table_of.shape != (n_combos,) or (
        n_combos and (table_of.min() < 0 or table_of.max() >= weights.shape[0])
    ):
        raise ValueError(f"table_of must be [G] = ({n_combos},) indices into the weight tables")
    if decided.shape != (n_dates + 1, n_combos):
        raise ValueError(f"decided {decided.shape} must be [N + 1, G] = {(n_dates + 1, n_combos)}")
    if not np.issubdtype(decided.dtype, np.integer):
        raise ValueError(f"decided must hold integer regime indices, not {decided.dtype}")
    decided_rows = np.ascontiguousarray(decided.T, dtype=np.int64)  # no copy if F-ordered int64
    starts, period_of = _schedule_inputs(new_month, monthly, n_dates, n_combos)
    rates, rate_of = _rate_inputs(cash_rates, rate_of, n_dates, n_combos)
    threshold, fees, slippage, tolerance = (
        _per_combo(x, n_combos, np.float64) for x in (threshold, fees, slippage, tolerance)
    )
    if not (np.all(np.isfinite(close)) and np.all(np.isfinite(price)) and np.all(price > 0)):
        raise ValueError("close and price must be finite, and price > 0, on every backtest date")
    if not (np.all(np.isfinite(weights)) and np.all(weights >= 0)):
        raise ValueError("weights must be finite and >= 0 (long only)")
    if (
        np.any(fees < 0)
        or np.any(slippage < 0)
        or not (np.all(np.isfinite(fees)) and np.all(np.isfinite(slippage)))
    ):
        raise ValueError("fees and slippage must be finite and >= 0")
    if np.any(threshold <= 0):
        raise ValueError("a threshold must be > 0 (NaN = no threshold rule)")
    if not np.all((tolerance >= 0) & (tolerance < 1)):
        raise ValueError("a tolerance must be in [0, 1)")
    if not (np.isfinite(initial_cash) and initial_cash > 0):
        raise ValueError("initial_cash must be finite and > 0")
    if hints and n_combos != 1:
        raise ValueError("hints are given for one combination (G = 1)")

    values = np.empty((n_combos, n_dates))
    fees_paid = np.empty(n_combos)
    traded_value = np.empty(n_combos)
    trade_dates = np.empty(n_combos, dtype=np.int64)
    rebalanced = np.empty((n_combos, n_dates), dtype=np.bool_)
    interest = np.empty(n_combos)
    exposure = np.empty(n_combos)
    hinted = (n_combos if hints else 0, n_dates, n_assets)
    skipped = np.empty(hinted, dtype=np.bool_)
    caps = np.empty(hinted)
    _simulate_grid_nb(
        close,
        price,
        weights,
        table_of,
        decided_rows,
        starts,
        period_of,
        threshold,
        fees,
        slippage,
        tolerance,
        rates,
        rate_of,
        float(initial_cash),
        values,
        fees_paid,
        traded_value,
        trade_dates,
        rebalanced,
        interest,
        exposure,
        skipped,
        caps,
    )
    return GridResult(
        values.T,
        fees_paid,
        traded_value,
        trade_dates,
        rebalanced.T,
        interest,
        skipped[0] if hints else None,
        caps[0] if hints else None,
        exposure,
    )
