"""What do I hold tomorrow? The state of a config at the latest close in its data.

`current_state(result)` reads a BacktestResult of the config run to the latest date of
its calendar C (`latest(config)` drops `data.end`) and says, at the close of `as_of`
(the last date of C):

* `regime`, `target`: the decision the next session trades to (docs/semantics.md §6-9).
  With `decide: daily` that is the last row of the run. With `weekly`/`monthly` it is
  the latest decision date's, unless `as_of` is itself the last session of its ISO week
  or month by the market calendar (engine.data.market_calendar): the engine counts such
  a date as a decision date only once the next session is in the data (§9), but its
  close is when the decision is taken, so it is computed here with the same rules
  (signals aligned at `as_of`, rankings at its close). `decided_on` says which date.
* `held`: the strategy's weights after the fills of `as_of`, valued at its close.
* `trade`: whether the next session trades, by the rule of §10 applied one session
  ahead: the target decided at `as_of` differs from the one decided the session
  before; or `rebalance: monthly` and the next session starts a new month; or
  `rebalance: {threshold: x}` and some held weight is more than x from the target
  decided at `as_of`. `orders` are target minus held weight, per ticker, where that
  exceeds `ORDER_TOLERANCE` (empty when no trade).
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
  selected, failed, weight.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine import calendar
from engine.config import Config, ThresholdRule
from engine.data.market_calendar import calendar_kind, early_closes, sessions, universe_kind
from engine.freshness import sessions_behind, today
from engine.rules import same_target
from strategies.signals import SIGNAL_KINDS

ORDER_TOLERANCE = 1e-4  # a weight change below 0.01% is not an order
WIDTH = 80  # terminal lines are wrapped at this width
LOOKAHEAD_DAYS = 70  # calendar days of estimated sessions searched for the next decision


def latest(config: Config) -> Config:
    """The config with `data.end` removed: its run ends at the latest date of the data."""
    return config.model_copy(update={"data": config.data.model_copy(update={"end": None})})


def future_sessions(universe: list[str], after: pd.Timestamp) -> pd.DatetimeIndex:
    """Estimated dates of C after `after`: every day for an all-crypto universe, NYSE
    sessions when a US ticker is traded, else weekdays."""
    start = after + pd.Timedelta(days=1)
    return sessions(universe_kind(universe), start, after + pd.Timedelta(days=LOOKAHEAD_DAYS))


def schedule_ahead(
    as_of: pd.Timestamp, decide: str, ahead: pd.DatetimeIndex
) -> tuple[bool, pd.Timestamp]:
    """(whether `as_of` is a decision date, the next decision date after it), with the
    estimated sessions `ahead` standing in for the dates of C still to come."""
    dates = pd.DatetimeIndex([as_of]).append(ahead)
    mask = calendar.decision_mask(dates, decide)
    return bool(mask[0]), dates[1:][mask[1:]][0]


def _close_instant(config: Config, date: pd.Timestamp) -> np.ndarray:
    """[1] close instant of a date of C: the latest close among the traded assets."""
    day = pd.DatetimeIndex([date])
    overrides = config.data.close_times
    return np.max([calendar.ticker_close_instants(t, day, overrides) for t in config.universe], 0)


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


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
    state |= {"to_flip": None, "date": None}
    if position < 0:
        return state
    row = frame.iloc[position]
    value, upper, lower = (_number(row[c]) for c in ("value", "upper", "lower"))
    bound = lower if on else upper
    to_flip = None
    if value is not None and bound is not None:
        to_flip = value - bound if on else bound - value
    state |= {"value": value, "upper": upper, "lower": lower, "to_flip": to_flip}
    state["date"] = frame.index[position].date().isoformat()
    return state


def _rankings(result, instant: np.ndarray, decided: int) -> tuple[list[dict], dict]:
    """The candidates of every ranked regime at the close `instant` (docs/semantics.md §8),
    and each ranked regime's target there ({regime position: weights over the universe})."""
    from engine.targets import RankInputs, rank_plans, rank_set, ranked_weights

    config = result.config
    plans = rank_plans(config, [])
    if not plans:
        return [], {}
    inputs = RankInputs(result.prices, config, instant)
    rows, weights = [], {}
    for plan in plans:
        ranking = rank_set(plan, plan.sets[0], inputs)
        weights[plan.regime] = ranked_weights(plan, ranking, list(config.universe))[0]
        rows.append(_ranking_rows(config, plan, ranking, decided))
    return rows, weights


def _decision_at(result, instant: np.ndarray) -> tuple[int, np.ndarray, list[dict]]:
    """(regime position, target over the universe, rankings) decided at the close
    `instant` with the signals aligned at the last date of C (docs/semantics.md §6, §8)."""
    from strategies.regimes import decide

    config = result.config
    regimes = config.parsed_regimes()
    aligned = {n: np.array([bool(result.signals[n].iloc[-1])]) for n in result.signals.columns}
    position = int(decide(regimes, aligned)[0]) if aligned else len(regimes) - 1
    rankings, ranked = _rankings(result, instant, position)
    fixed = [float(regimes[position].weights.get(t, 0.0)) for t in config.universe]
    return position, ranked.get(position, np.array(fixed)), rankings


def _ranking_rows(config: Config, plan, ranking, decided: int) -> dict[str, Any]:
    rank = plan.rank
    candidates = [
        {
            "asset": asset,
            "score": _number(ranking.score[0, m]),
            "rank": int(ranking.rank[0, m]) or None,
            "selected": bool(ranking.selected[0, m]),
            "failed": bool(ranking.failed[0, m]),
            "weight": float(ranking.weight[0, m]),
        }
        for m, asset in enumerate(rank.assets)
    ]
    return {
        "regime": config.regimes[plan.regime].name,
        "active": plan.regime == decided,
        "score": rank.score,
        "top": int(rank.top),
        "fallback": rank.fallback,
        "fallback_weight": float(ranking.fallback[0]),
        "candidates": candidates,
    }


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
    decide = config.execution.decide
    ahead = future_sessions(universe, as_of)
    due_now, next_decision = schedule_ahead(as_of, decide, ahead)
    instant = _close_instant(config, as_of)
    if due_now and decide != "daily":  # decided at this close; the run counts it later
        position, target, rankings = _decision_at(result, instant)
        decided_on, regime = as_of, config.regimes[position].name
    else:
        decisions = np.flatnonzero(calendar.decision_mask(cal, decide))
        decided_on = cal[decisions[-1]] if len(decisions) else None
        regime, target = str(result.regimes.iloc[-1]), result.targets.iloc[-1].to_numpy()
        rankings = []
        if decided_on is not None:
            names = [r.name for r in config.regimes]
            at = _close_instant(config, decided_on)
            rankings, _ = _rankings(result, at, names.index(regime))
    before = result.targets.iloc[-2].to_numpy() if len(cal) >= 2 else None
    sim = result.strategy
    held = sim.held_weights().iloc[-1].reindex(universe).to_numpy(dtype=float)
    cash = float(sim.cash.iloc[-1] / sim.value.iloc[-1])
    on = today() if on is None else on
    behind = sessions_behind(as_of, on, universe_kind(universe))
    return {
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
        "next_decision": next_decision.date().isoformat(),
        "signals": {name: signal_state(result, name, instant) for name in config.signals},
        "ranking": rankings,
    }


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


def _weights(weights: dict[str, float]) -> str:
    shown = [f"{t} {_pct(w)}" for t, w in weights.items() if abs(w) > ORDER_TOLERANCE]
    return " ".join(shown) or "all cash"


def state_lines(config: Config, state: dict[str, Any]) -> list[str]:
    """The terminal form: a header, one sentence per signal, the regime and what to do."""
    decided = state["decided_on"]
    lines = [f"{state['name']} at the close of {state['as_of']}:"]
    if state["stale"]:
        behind = state["sessions_behind"]
        lines.append(
            f"stale: the data misses {behind} session{'s' if behind != 1 else ''} before "
            f"today ({state['today']}); refresh it"
        )
    lines += [f"warning: {warning}" for warning in state["warnings"]]
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
    lines.append(f"held at the close: {_weights(state['held'])}")
    if state["decide"] == "daily":
        lines.append(f"next session: {state['next_decision']} (estimated)")
    else:
        when = "at this close" if decided == state["as_of"] else f"on {decided}"
        lines.append(
            f"decided {when} ({state['decide']}); "
            f"next decision: {state['next_decision']} (estimated)"
        )
    lines += _early_close_note(config, state)
    return [textwrap.fill(line, WIDTH, subsequent_indent="  ") for line in lines]


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


def ranking_table(state: dict[str, Any]):
    """A rich table of the candidates of every ranked regime, or None without any."""
    if not state["ranking"]:
        return None
    from rich.table import Table

    from engine.report import plain  # names as typed, never read as markup or escapes

    title = f"Ranking decided on {state['decided_on']} (regime {state['regime']})"
    table = Table(title=plain(title))
    for column in ("regime", "asset", "score", "rank", "selected", "failed", "weight"):
        table.add_column(column, justify="left" if column in ("regime", "asset") else "right")
    for block in state["ranking"]:
        regime = block["regime"]
        for c in block["candidates"]:
            score = "n/a" if c["score"] is None else f"{c['score']:.4f}"
            selected, failed = "yes" if c["selected"] else "", "yes" if c["failed"] else ""
            weight = _pct(c["weight"])
            table.add_row(
                plain(regime),
                plain(c["asset"]),
                score,
                str(c["rank"] or "-"),
                selected,
                failed,
                weight,
            )
            regime = ""
        if block["fallback"]:
            fallback = _pct(block["fallback_weight"])
            table.add_row("", plain(block["fallback"]), "", "", "fallback", "", fallback)
    return table
