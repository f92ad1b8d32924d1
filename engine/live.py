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
  before; or `rebalance: monthly` and the next session starts a new month; or
  `rebalance: {threshold: x}` and some held weight is more than x from the target
  decided at `as_of`. `orders` are target minus held weight, per ticker, where that
  exceeds `ORDER_TOLERANCE` (empty when no trade).
* `next_decision`: the next session (daily) or the next session that ends its ISO week
  or month, **estimated** from the market calendar (NYSE holidays; weekdays for other
  markets; every day for an all-crypto universe).
* per signal: `on` (as aligned at `as_of`), the latest bar of its own calendar final by
  then (`date`, `value`, `upper`, `lower`) and `distance`, the percent change of
  `value` that flips it: to fall below `lower` when on (negative), to rise above
  `upper` when off. It reads today's bounds, so for kinds whose bounds move with the
  value (sma includes today's bar; donchian's channel shifts tomorrow) it is a
  first-order reading.
* `ranking`: per ranked regime, the candidates at `decided_on`: score, rank,
  selected, failed, weight (and `kept`, with a rank buffer: holding the slot by the
  buffer alone).
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import numpy as np
import pandas as pd

from engine import calendar
from engine.config import Config, ThresholdRule
from engine.data.market_calendar import calendar_kind, sessions
from engine.live_decision import decision_at, finite_or_none, rankings_at
from engine.rules import same_target
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
    kinds = {calendar_kind(t) for t in universe}
    kind = "crypto" if kinds == {"crypto"} else "nyse" if "nyse" in kinds else "weekdays"
    start = after + pd.Timedelta(days=1)
    return sessions(kind, start, after + pd.Timedelta(days=days))


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
    _, key = kind.source(result.prices, spec)
    own = calendar.series_close_instants(key, frame.index, config.data.close_times)
    position = int(np.searchsorted(own, instant[0], side="right")) - 1
    on = bool(result.signals[name].iloc[-1])
    state: dict[str, Any] = {"on": on, "value": None, "upper": None, "lower": None}
    state |= {"distance": None, "date": None}
    if position < 0:
        return state
    row = frame.iloc[position]
    value, upper, lower = (finite_or_none(row[c]) for c in ("value", "upper", "lower"))
    bound = lower if on else upper
    distance = None
    if value is not None and bound is not None and value != 0:
        distance = (bound - value) / abs(value) * 100
    state |= {"value": value, "upper": upper, "lower": lower, "distance": distance}
    state["date"] = frame.index[position].date().isoformat()
    return state


def _trade(
    config: Config,
    target: np.ndarray,
    before: np.ndarray | None,
    held: np.ndarray,
    as_of: pd.Timestamp,
    next_session: pd.Timestamp,
) -> dict[str, Any]:
    """The trade rule of docs/semantics.md §10, one session ahead (see the module docstring)."""
    reasons = []
    if before is None or not same_target(target, before):
        reasons.append("target changed")
    rule = config.execution.rebalance
    if rule == "monthly" and (next_session.year, next_session.month) != (as_of.year, as_of.month):
        reasons.append("monthly rebalance")
    if isinstance(rule, ThresholdRule) and np.any(np.abs(held - target) > rule.threshold):
        reasons.append(f"drift above threshold {rule.threshold:g}")
    orders = {}
    if reasons:
        for ticker, change in zip(config.universe, target - held, strict=True):
            if abs(change) > ORDER_TOLERANCE:
                orders[ticker] = round(float(change), 10)
    return {"needed": bool(reasons), "reasons": reasons, "orders": orders}


def current_state(result) -> dict[str, Any]:
    """The state at the latest close of a run (keys and rules: the module docstring)."""
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
    state = {
        "name": config.name,
        "as_of": as_of.date().isoformat(),
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
    if config.execution.decide_day is not None:
        state["decide_day"] = day
    if config.portfolio.target_vol is not None:
        state["scale"] = scale
    return state


# ---- output ---------------------------------------------------------------------


def state_json(state: dict[str, Any]) -> str:
    """The state as JSON text: keys in a fixed order, dates ISO, floats plain."""
    from engine.report import clean_json

    return json.dumps(clean_json(state), indent=2, allow_nan=False) + "\n"


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
    """'ratio_breakout: IWM/SPY 0.3512 is 4.1% below high of prior 120 (0.3662): off'."""
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
    gap = "" if state["distance"] is None or where == "at" else f"{abs(state['distance']):.1f}% "
    return f"{head} is {gap}{where} {_bound_text(label, bound)}: {word}"


def _weights(weights: dict[str, float]) -> str:
    shown = [f"{t} {_pct(w)}" for t, w in weights.items() if abs(w) > ORDER_TOLERANCE]
    return " ".join(shown) or "all cash"


def state_lines(config: Config, state: dict[str, Any]) -> list[str]:
    """The terminal form: a header, one sentence per signal, the regime and what to do."""
    decided = state["decided_on"]
    lines = [f"{state['name']} at the close of {state['as_of']}:"]
    for name, signal in state["signals"].items():
        lines.append(signal_sentence(config, name, signal))
    target = dict(state["target"])
    cash = 1.0 - sum(target.values())
    if cash > ORDER_TOLERANCE:
        target["cash"] = cash
    trade = state["trade"]
    if trade["needed"]:
        moves = [
            f"{'buy' if w > 0 else 'sell'} {t} {'+' if w > 0 else ''}{_pct(w)}"
            for t, w in trade["orders"].items()
        ]
        lines.append(f"regime {state['regime']}; hold {_weights(target)}")
        reasons = ", ".join(trade["reasons"])
        lines.append(f"trade ({reasons}): {', '.join(moves) or 'nothing to move'}")
    else:
        lines.append(f"regime {state['regime']}; hold {_weights(target)}; no trade")
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
    return [textwrap.fill(line, WIDTH, subsequent_indent="  ") for line in lines]


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

    title = f"Ranking decided on {state['decided_on']} (regime {state['regime']})"
    table = Table(title=title)
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
                regime, c["asset"], score, str(c["rank"] or "-"), selected, *kept, failed, weight
            )
            regime = ""
        if block["fallback"]:
            fallback = _pct(block["fallback_weight"])
            blank = [""] if buffered else []
            table.add_row("", block["fallback"], "", "", "fallback", *blank, "", fallback)
    return table
