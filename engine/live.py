"""What do I hold tomorrow? The state of a config at the latest close in its data.

`current_state(result)` reads a BacktestResult of the config run to the latest date of
its calendar C (`latest(config)` drops `data.end`) and says, at the close of `as_of`
(the last date of C):

* `regime`, `target`: the decision the next session trades to (docs/semantics.md §6-9,
  11). With `decide: daily` that is the last row of the run. With a longer schedule it
  is the latest decision date's, unless `as_of` is itself the decision date of its
  period by the market calendar (engine.data.market_calendar) and the engine does not
  count it yet: a decision that needs the period's last session (every `decide_day` <=
  -1) is taken only once the next session is in the data (§10-11), but its close is
  when the decision is taken, so it is computed here with the same rules (signals
  aligned at `as_of`, rankings at its close, the rank buffer from the latest decision,
  the volatility target from the returns up to `as_of`). `decided_on` says which date.
* `scale` (with `portfolio.target_vol`): the volatility target's scale of `target`.
* `held`: the strategy's weights after the fills of `as_of`, valued at its close.
* `trade`: whether the next session trades, by the rule of §10 applied one session
  ahead: the target decided at `as_of` differs from the one decided the session
  before; or `rebalance: monthly | quarterly | annual` and the next session starts a
  new month, quarter or year; or `rebalance: {threshold: x}` and some held weight is
  more than x from the target decided at `as_of` (the benchmark's own rule moves
  nothing of the strategy's). `orders` are target minus held weight, per ticker,
  where that exceeds `ORDER_TOLERANCE` (empty when no trade). With a no-trade band
  (`execution.tolerance`, §12) also `tolerance` and `skipped`: the orders the band
  would skip, |target - held| <= tolerance but for a sale to zero or a purchase of an
  asset not held (always placed), the weights held at `as_of`'s close standing in for
  those at the next session's prices; when it skips every order, `needed` is false.
* `next_decision`: the next session (daily) or the next session that ends its ISO week
  or month, **estimated** from the market calendar (NYSE sessions of exchange_calendars;
  weekdays for other markets; every day for an all-crypto universe). When the next NYSE
  session closes early, the terminal form says so in a last line.
* per signal: `on` (as aligned at `as_of`), the latest bar of its own calendar final by
  then (`date`, `value`, `upper`, `lower`) and `to_flip`, how far `value` must move to
  flip it, in the value's own units (a price, a return, RSI points, a correlation):
  `value - lower` when on (a fall of more than that turns it off), `upper - value` when
  off (a rise of more than that turns it on). It reads today's bounds, so for kinds
  whose bounds move with the value (sma includes today's bar; donchian's channel shifts
  tomorrow) it is a first-order reading.
* `today`, `sessions_behind`, `stale`: how many sessions of the market calendar lie
  between `as_of` and today's date (engine/freshness.py), and whether any does;
  `warnings`: the traded assets or min_score thresholds whose latest bar lags the
  others' (the answer is then for the latest date all have: `freshness.run_latest`).
* `ranking`: per ranked regime, the candidates at `decided_on`: score, rank,
  selected, failed, weight (and `kept`, with a rank buffer: holding the slot by the
  buffer alone).
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine import calendar
from engine.config import Config, ThresholdRule
from engine.data.market_calendar import calendar_kind, early_closes, sessions, universe_kind
from engine.data.series import External, as_prices
from engine.freshness import sessions_behind, today
from engine.live_decision import decision_at, finite_or_none, rankings_at
from engine.notices import warn
from engine.rules import same_target
from engine.sim import settle
from strategies.signals import SIGNAL_KINDS

ORDER_TOLERANCE = 1e-4  # a weight change below 0.01% is not an order
WIDTH = 80  # terminal lines are wrapped at this width
LOOKAHEAD_DAYS = 70  # calendar days of estimated sessions searched for the next decision
LONG_LOOKAHEAD = {"quarterly": 200, "annual": 740}  # ... for the longer schedules


def latest(config: Config) -> Config:
    """The config with `data.end` removed: its run ends at the latest date of the data."""
    return config.model_copy(update={"data": config.data.model_copy(update={"end": None})})


def future_sessions(
    universe: list[str], after: pd.Timestamp, days: int = LOOKAHEAD_DAYS
) -> pd.DatetimeIndex:
    """Estimated dates of C in the `days` calendar days after `after`: every day for an
    all-crypto universe, NYSE sessions when a US ticker is traded, else weekdays."""
    start = after + pd.Timedelta(days=1)
    return sessions(universe_kind(universe), start, after + pd.Timedelta(days=days))


def schedule_ahead(
    cal: pd.DatetimeIndex | pd.Timestamp, decide: str, ahead: pd.DatetimeIndex, day: int = -1
) -> tuple[bool, pd.Timestamp | None]:
    """(whether the last date of `cal` (C up to as_of, or as_of alone) is a decision date,
    the next decision date after it or None when none is within reach), with the estimated
    sessions `ahead` standing in for the dates of C still to come (the dates of its period
    before it count for a `decide_day` >= 1)."""
    if isinstance(cal, pd.Timestamp):
        cal = pd.DatetimeIndex([cal])
    dates = cal.append(ahead)
    mask = calendar.decision_mask(dates, decide, day)
    later = dates[len(cal) :][mask[len(cal) :]]
    return bool(mask[len(cal) - 1]), later[0] if len(later) else None


def _close_instant(config: Config, date: pd.Timestamp) -> np.ndarray:
    """[1] close instant of a date of C: the latest close among the traded assets."""
    day = pd.DatetimeIndex([date])
    overrides = config.data.close_times
    return np.max([calendar.ticker_close_instants(t, day, overrides) for t in config.universe], 0)


def signal_state(result, name: str, instant: np.ndarray) -> dict[str, Any]:
    """One signal at the close `instant`: its aligned state and its latest final bar."""
    config = result.config
    spec = config.signals[name]
    kind = SIGNAL_KINDS[spec.type]
    frame = result.signal_series[name]
    _, key = kind.source({**result.prices, **as_prices(result.series)}, spec)
    own = calendar.series_close_instants(key, frame.index, calendar.close_overrides(config))
    position = int(np.searchsorted(own, instant[0], side="right")) - 1
    on = bool(result.signals[name].iloc[-1])
    state: dict[str, Any] = {"on": on, "value": None, "upper": None, "lower": None}
    state |= {"to_flip": None, "date": None}
    if position < 0:
        return state
    row = frame.iloc[position]
    value, upper, lower = (finite_or_none(row[c]) for c in ("value", "upper", "lower"))
    bound = lower if on else upper
    to_flip = None
    if value is not None and bound is not None:
        to_flip = value - bound if on else bound - value
    state |= {"value": value, "upper": upper, "lower": lower, "to_flip": to_flip}
    state["date"] = frame.index[position].date().isoformat()
    return state


STALE_SPACINGS = 1.5  # a series is stale when its latest release is older than 1.5 spacings
DAY_NS = 86_400 * 10**9


def series_state(series: External, instant: np.ndarray, as_of: pd.Timestamp) -> dict[str, Any]:
    """One external series at the close `instant` of `as_of` (docs/series.md): its latest
    value known by then (`date`, `value`) and when it became known (`released`, at 16:00
    New York), that release's age in days, the usual spacing of its dates (the median
    gap, days), `stale` when the release is more than `STALE_SPACINGS` spacings old, and
    the next value of the file not yet released (`pending`: date and release date)."""
    values = series.values
    releases = calendar.close_instants(values.index, calendar.release_time(series.lag_days))
    known = int(np.searchsorted(releases, instant[0], side="right"))
    spacing = float(np.median(np.diff(values.index.asi8))) / DAY_NS if len(values) > 1 else None
    state: dict[str, Any] = {"date": None, "value": None, "released": None, "age_days": None}
    state |= {"spacing_days": spacing, "stale": False, "pending": None}
    if known:
        released = series.released[known - 1]
        age = int((as_of - released).days)
        state |= {
            "date": values.index[known - 1].date().isoformat(),
            "value": finite_or_none(values.iloc[known - 1]),
            "released": released.date().isoformat(),
            "age_days": age,
            "stale": spacing is not None and age > STALE_SPACINGS * spacing,
        }
    if known < len(values):
        state["pending"] = {
            "date": values.index[known].date().isoformat(),
            "released": series.released[known].date().isoformat(),
        }
    return state


def series_states(result, instant: np.ndarray, as_of: pd.Timestamp) -> dict[str, dict]:
    """`series_state` of every external series, with a warning for each stale one."""
    states = {}
    for name, series in result.series.items():
        state = states[name] = series_state(series, instant, as_of)
        if state["stale"]:
            warn(
                f"data.series.{name}: the latest value ({state['date']}, released "
                f"{state['released']}) is {state['age_days']} days old, more than "
                f"{STALE_SPACINGS:g} times its usual spacing of {state['spacing_days']:g} days; "
                f"is {series.file} up to date?"
            )
    return states


PERIOD_OF = {  # the calendar rebalance rules: a date's period
    "monthly": lambda d: (d.year, d.month),
    "quarterly": lambda d: (d.year, (d.month - 1) // 3),
    "annual": lambda d: d.year,
}


def _trade(
    config: Config,
    target: np.ndarray,
    before: np.ndarray | None,
    held: np.ndarray,
    as_of: pd.Timestamp,
    next_session: pd.Timestamp,
) -> dict[str, Any]:
    """The trade rule of docs/semantics.md §10-12, one session ahead (the module
    docstring): the reasons to trade, the orders, and with a no-trade band the orders it
    would skip (`tolerance`, `skipped`; the weights held at this close stand in for those
    at the next session's prices). Only the strategy's rule counts: the benchmark's own
    rebalance trades nothing of the strategy's."""
    reasons = []
    if before is None or not same_target(target, before):
        reasons.append("target changed")
    rule = config.execution.rebalance
    if rule in PERIOD_OF and PERIOD_OF[rule](next_session) != PERIOD_OF[rule](as_of):
        reasons.append(f"{rule} rebalance")
    if isinstance(rule, ThresholdRule) and np.any(np.abs(held - target) > rule.threshold):
        reasons.append(f"drift above threshold {rule.threshold:g}")
    band = config.execution.band
    orders, skipped = {}, {}
    if reasons:
        skips = settle.band_skips(target, held, np.asarray(1.0), 1.0, band)  # h_i: weights
        for ticker, change, skip in zip(config.universe, target - held, skips, strict=True):
            if abs(change) > ORDER_TOLERANCE:
                (skipped if skip else orders)[ticker] = round(float(change), 10)
    trade = {"needed": bool(reasons) and (band == 0 or bool(orders)), "reasons": reasons}
    trade["orders"] = orders
    if config.execution.tolerance is not None:  # only configs with a band have the keys
        trade |= {"tolerance": band, "skipped": skipped}
    return trade


def current_state(
    result, on: dt.date | None = None, warnings: Sequence[str] = ()
) -> dict[str, Any]:
    """The state at the latest close of a run (keys and rules: the module docstring).

    Args:
        result: the run to the latest date of its data (`freshness.run_latest`).
        on: today's date (default: `freshness.today()`, the machine's or $ROTATION_TODAY).
        warnings: what shaped the answer (`freshness.run_latest`'s lagging tickers).
    """
    config = result.config
    universe = list(config.universe)
    cal = result.calendar
    as_of = cal[-1]
    decide, day = config.execution.decide, config.execution.day
    ahead = future_sessions(universe, as_of, LONG_LOOKAHEAD.get(decide, LOOKAHEAD_DAYS))
    due_now, next_decision = schedule_ahead(cal, decide, ahead, day)
    counted = calendar.decision_mask(cal, decide, day)
    instant = _close_instant(config, as_of)
    if due_now and not counted[-1]:  # decided at this close; the run counts it later
        position, target, rankings, scale = decision_at(result, instant)
        decided_on, regime = as_of, config.regimes[position].name
    else:
        decisions = np.flatnonzero(counted)
        decided_on = cal[decisions[-1]] if len(decisions) else None
        regime, target = str(result.regimes.iloc[-1]), result.targets.iloc[-1].to_numpy()
        scale = 1.0 if result.scales is None else float(result.scales.iloc[-1])
        rankings = []
        if decided_on is not None:
            names = [r.name for r in config.regimes]
            at = _close_instant(config, decided_on)
            rankings, _ = rankings_at(result, at, names.index(regime))
    before = result.targets.iloc[-2].to_numpy() if len(cal) >= 2 else None
    sim = result.strategy
    held = sim.held_weights().iloc[-1].reindex(universe).to_numpy(dtype=float)
    cash = float(sim.cash.iloc[-1] / sim.value.iloc[-1])
    on = today() if on is None else on
    behind = sessions_behind(as_of, on, universe_kind(universe))
    state = {
        "name": config.name,
        "as_of": as_of.date().isoformat(),
        "today": on.isoformat(),
        "stale": behind > 0,
        "sessions_behind": behind,
        "warnings": list(warnings),
        "decide": decide,
        "decided_on": decided_on.date().isoformat() if decided_on is not None else None,
        "regime": regime,
        "target": {t: float(w) for t, w in zip(universe, target, strict=True)},
        "held": {t: float(w) for t, w in zip(universe, held, strict=True)} | {"cash": cash},
        "trade": _trade(config, target, before, held, as_of, ahead[0]),
        "next_decision": next_decision.date().isoformat() if next_decision is not None else None,
        "signals": {name: signal_state(result, name, instant) for name in config.signals},
        "ranking": rankings,
    }
    if result.series:  # only configs with external series have the key
        state["series"] = series_states(result, instant, as_of)
    if config.execution.decide_day is not None:
        state["decide_day"] = day
    if config.portfolio.target_vol is not None:
        state["scale"] = scale
    return state


# ---- output ---------------------------------------------------------------------


DIGITS = 12  # significant digits of a JSON number: no float dust (0.1 + 0.2)


def _tidy(value: Any) -> Any:
    """Floats rounded to DIGITS significant digits, recursively (0.30000000000000004 -> 0.3;
    prices and returns keep far more digits than the data carries)."""
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}")
    return value


def state_json(state: dict[str, Any]) -> str:
    """The state as JSON text: keys in a fixed order, dates ISO, floats plain and rounded
    to DIGITS significant digits."""
    from engine.report import clean_json

    return json.dumps(_tidy(clean_json(state)), indent=2, allow_nan=False) + "\n"


def _num(value: float) -> str:
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"


def _pct(weight: float) -> str:
    text = f"{weight * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _bound_text(label: str | None, bound: float) -> str:
    """'high of prior 120 (0.3662)'; a label that is a line ('above 25') gives '25'."""
    shown = _num(bound)
    if label and label.split()[0] in ("above", "below"):
        label = None
    return label if label and shown in label else f"{label} ({shown})" if label else shown


def signal_sentence(config: Config, name: str, state: dict[str, Any]) -> str:
    """'ratio_breakout: IWM/SPY 0.3512 is 0.015 below high of prior 120 (0.3662): off':
    the gap to the bound that flips the signal (`to_flip`), in the value's own units."""
    spec = config.signals[name]
    labels = SIGNAL_KINDS[spec.type].labels(spec)
    word = "on" if state["on"] else "off"
    value = state["value"]
    if value is None:
        return f"{name}: no value yet: {word}"
    on = state["on"]
    bound = state["lower"] if on else state["upper"]
    label = (labels.get("lower") or labels.get("upper")) if on else labels.get("upper")
    head = f"{name}: {labels.get('value') or 'value'} {_num(value)}"
    if bound is None:
        return f"{head}: {word}"
    where = "at" if value == bound else "above" if value > bound else "below"
    gap = "" if where == "at" else f"{_num(abs(value - bound))} "
    return f"{head} is {gap}{where} {_bound_text(label, bound)}: {word}"


def series_sentence(name: str, state: dict[str, Any]) -> str:
    """'R2K_PE: 18.52 dated 2025-05-31, known since 2025-06-15 16:00 New York (next:
    2025-06-30, due 2025-07-15)', with 'STALE: ...' when the release is overdue."""
    if state["value"] is None:
        text = f"{name}: no value released yet"
    else:
        text = (
            f"{name}: {_num(state['value'])} dated {state['date']}, known since "
            f"{state['released']} 16:00 New York"
        )
    if state["pending"]:
        text += f" (next: {state['pending']['date']}, due {state['pending']['released']})"
    if state["stale"]:
        text += (
            f"; STALE: released {state['age_days']} days ago, its values come every "
            f"{state['spacing_days']:g} days"
        )
    return text


def _weights(weights: dict[str, float]) -> str:
    shown = [f"{t} {_pct(w)}" for t, w in weights.items() if abs(w) > ORDER_TOLERANCE]
    return " ".join(shown) or "all cash"


def header_lines(state: dict[str, Any]) -> list[str]:
    """'NAME at the close of DATE:', then whether the data is stale, then the warnings."""
    lines = [f"{state['name']} at the close of {state['as_of']}:"]
    if state["stale"]:
        behind = state["sessions_behind"]
        lines.append(
            f"stale: the data misses {behind} session{'s' if behind != 1 else ''} before "
            f"today ({state['today']}); refresh it"
        )
    return lines + [f"warning: {warning}" for warning in state["warnings"]]


def state_lines(config: Config, state: dict[str, Any]) -> list[str]:
    """The terminal form: a header, one sentence per signal, the regime and what to do."""
    decided = state["decided_on"]
    lines = header_lines(state)
    for name, series in state.get("series", {}).items():
        lines.append(series_sentence(name, series))
    for name, signal in state["signals"].items():
        lines.append(signal_sentence(config, name, signal))
    target = dict(state["target"])
    cash = 1.0 - sum(target.values())
    if cash > ORDER_TOLERANCE:
        target["cash"] = cash
    trade = state["trade"]
    if trade["needed"]:
        lines.append(f"regime {state['regime']}; hold {_weights(target)}")
        reasons = ", ".join(trade["reasons"])
        lines.append(f"trade ({reasons}): {_moves(trade['orders']) or 'nothing to move'}")
    else:
        lines.append(f"regime {state['regime']}; hold {_weights(target)}; no trade")
    lines += _band_line(trade)
    lines += _buffer_and_scale_lines(config, state)
    lines.append(f"held at the close: {_weights(state['held'])}")
    if state["decide"] == "daily":
        lines.append(f"next session: {state['next_decision']} (estimated)")
    else:
        when = "at this close" if decided == state["as_of"] else f"on {decided}"
        schedule = state["decide"]
        if "decide_day" in state:
            schedule += f", day {state['decide_day']}"
        lines.append(
            f"decided {when} ({schedule}); "
            f"next decision: {state['next_decision'] or 'not within reach'} (estimated)"
        )
    lines += _early_close_note(config, state)
    return [textwrap.fill(line, WIDTH, subsequent_indent="  ") for line in lines]


def _moves(orders: dict[str, float]) -> str:
    """'buy SPY +2.1%, sell EFA -3%, buy IWM +0.031%' (an order below 0.05% with two
    significant digits: a volatility target's daily nudge is not shown as 0%)."""
    shown = [(t, _pct(w) if abs(w) >= 0.0005 else f"{w * 100:.2g}%") for t, w in orders.items()]
    return ", ".join(
        f"{'buy' if w > 0 else 'sell'} {t} {'+' if w > 0 else ''}{text}"
        for (t, text), w in zip(shown, orders.values(), strict=True)
    )


def _band_line(trade: dict[str, Any]) -> list[str]:
    """With a no-trade band: the orders it would skip at the next session, or that it
    skips none; nothing when there is no reason to trade or no band."""
    if "tolerance" not in trade or not trade["reasons"]:
        return []
    band = f"the no-trade band ({_pct(trade['tolerance'])})"
    if not trade["skipped"]:
        return [f"{band} skips no order"]
    skips = _moves(trade["skipped"])
    skips = f"{skips}" if trade["orders"] else f"every order ({skips}), so no trade"
    always = "a sale to zero or a purchase of an asset not held is always placed"
    return [f"{band} skips {skips}; {always}"]


def _early_close_note(config: Config, state: dict[str, Any]) -> list[str]:
    """A line when the next session of a US universe closes early (13:00 New York after
    Thanksgiving, ...): a `next_close` order fills at that earlier close."""
    after = pd.Timestamp(state["as_of"])
    ahead = future_sessions(list(config.universe), after)
    if {calendar_kind(t) for t in config.universe} == {"crypto"} or not len(ahead):
        return []
    early = early_closes(ahead[0], ahead[0])
    if early.empty:
        return []
    clock = early.iloc[0].tz_convert("America/New_York").strftime("%H:%M")
    return [f"note: the NYSE closes early on {ahead[0].date()} ({clock} New York)"]


def _buffer_and_scale_lines(config: Config, state: dict[str, Any]) -> list[str]:
    """'rank buffer (keep 3): GLD holds its slot at rank 3' for the decided regime's kept
    assets, and the volatility target's scale; nothing for configs without them."""
    lines = []
    for block in state["ranking"]:
        if not block["active"] or "keep" not in block:
            continue
        kept = [f"{c['asset']} (rank {c['rank']})" for c in block["candidates"] if c["kept"]]
        held = ", ".join(kept) + (" hold their slots" if len(kept) > 1 else " holds its slot")
        lines.append(
            f"rank buffer (top {block['top']}, keep {block['keep']}): "
            + (held if kept else "no asset held beyond the top")
        )
    target = config.portfolio.target_vol
    if target is not None and "scale" in state:
        lines.append(
            f"volatility target {_pct(target.annual)} a year over {target.window} dates: "
            f"scale {state['scale']:.3f} of the regime's weights (at most "
            f"{_pct(target.max_exposure)})"
        )
    return lines


def ranking_table(state: dict[str, Any]):
    """A rich table of the candidates of every ranked regime, or None without any."""
    if not state["ranking"]:
        return None
    from rich.table import Table

    from engine.report import plain  # names as typed, never read as markup or escapes

    title = f"Ranking decided on {state['decided_on']} (regime {state['regime']})"
    table = Table(title=plain(title))
    buffered = any("keep" in block for block in state["ranking"])
    columns = ("regime", "asset", "score", "rank", "selected", "kept", "failed", "weight")
    for column in columns if buffered else tuple(c for c in columns if c != "kept"):
        table.add_column(column, justify="left" if column in ("regime", "asset") else "right")
    for block in state["ranking"]:
        regime = block["regime"]
        for c in block["candidates"]:
            score = "n/a" if c["score"] is None else f"{c['score']:.4f}"
            selected, failed = "yes" if c["selected"] else "", "yes" if c["failed"] else ""
            weight = _pct(c["weight"])
            kept = ["yes" if c.get("kept") else ""] if buffered else []
            table.add_row(
                plain(regime),
                plain(c["asset"]),
                score,
                str(c["rank"] or "-"),
                selected,
                *kept,
                failed,
                weight,
            )
            regime = ""
        if block["fallback"]:
            fallback = _pct(block["fallback_weight"])
            blank = [""] if buffered else []
            table.add_row("", plain(block["fallback"]), "", "", "fallback", *blank, "", fallback)
    return table
