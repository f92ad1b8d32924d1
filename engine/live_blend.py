"""`rotation signal` of a blend (or a config in tranches): each member's state and the
blend's combined target, trade and holdings at the latest close.

Each member's state is engine.live's `current_state` of the member as it ran in the
blend (its signals, regime, target, ranking, schedule, its own volatility scale; the
decision its period's close takes now though the run counts it later, as for a plain
config), without the holdings and trade, which are the blend's: the blend's target is
`sum_j W_j target_j` over its universe (times its own volatility scale, taken now when
some member decides at this close), its trade follows the rules of §10 against the
blend's own held weights, its next decision is the earliest of its members'.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.live import (
    WIDTH,
    _buffer_and_scale_lines,
    _trade,
    _weights,
    current_state,
    future_sessions,
    header_lines,
    signal_sentence,
)

MEMBER_KEYS = ("decide", "decide_day", "decided_on", "regime", "target", "scale")
MEMBER_KEYS += ("signals", "ranking", "next_decision")


def member_result(result, j: int):
    """Member j of a blend's run as a plain run of it (its config, signals, regimes,
    targets, ranks and scales; the blend's prices, calendar and simulation)."""
    run = result.blend.members[j]
    prefix = "" if result.config.tranches_of is not None else f"{run.name}:"
    names = [c for c in result.signals.columns if c.startswith(prefix)] if prefix else None
    signals = result.signals if names is None else result.signals[names]
    signals = signals.rename(columns=lambda c: c.removeprefix(prefix))
    series = {
        k.removeprefix(prefix): v for k, v in result.signal_series.items() if k.startswith(prefix)
    }
    ranks = run.ranks.assign(regime=run.ranks["regime"].str.removeprefix(f"{run.name}:"))
    return dataclasses.replace(
        result,
        config=run.config,
        signals=signals,
        signal_series=series,
        regimes=run.regimes,
        targets=run.targets,
        ranks=ranks,
        scales=run.scales,
        blend=None,
    )


def blend_state(result, on: dt.date | None = None, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The state of a blend at the latest close of its run (module docstring)."""
    blend = result.config
    universe = list(blend.universe)
    as_of = result.calendar[-1]
    members, target = [], np.zeros(len(universe))
    for j, member in enumerate(blend.members):
        state = current_state(member_result(result, j), on, ())
        own = {k: state[k] for k in MEMBER_KEYS if k in state}
        members.append({"name": member.name, "weight": member.weight, **own})
        for ticker, weight in state["target"].items():
            target[universe.index(ticker)] += member.weight * weight
    scale = _blend_scale(result, target, members, as_of)
    target = target * scale
    whole = current_state(result, on, warnings)  # the blend's held weights and staleness
    before = result.targets.iloc[-2].to_numpy() if len(result.calendar) >= 2 else None
    held = np.array([whole["held"][t] for t in universe])
    ahead = future_sessions(universe, as_of)
    upcoming = [m["next_decision"] for m in members if m["next_decision"] is not None]
    state = {
        "name": blend.name,
        "as_of": whole["as_of"],
        "today": whole["today"],
        "stale": whole["stale"],
        "sessions_behind": whole["sessions_behind"],
        "warnings": whole["warnings"],
        "decide": "blend",
        "decided_on": max((m["decided_on"] for m in members if m["decided_on"]), default=None),
        "regime": "|".join(m["regime"] for m in members),
        "target": {t: float(w) for t, w in zip(universe, target, strict=True)},
        "held": whole["held"],
        "trade": _trade(blend, target, before, held, as_of, ahead[0]),
        "next_decision": min(upcoming) if upcoming else None,
        "members": members,
    }
    if blend.portfolio.target_vol is not None:
        state["scale"] = scale
    return state


def _blend_scale(result, target: np.ndarray, members: list[dict], as_of: pd.Timestamp) -> float:
    """The blend's own volatility scale of `target`: taken now when some member decides
    at this close, else the run's latest (1 without a volatility target)."""
    spec = result.config.portfolio.target_vol
    if spec is None:
        return 1.0
    if not any(m["decided_on"] == as_of.date().isoformat() for m in members):
        return float(result.scales.iloc[-1])
    from engine.live_decision import _scale_now

    return _scale_now(result, target)


def blend_lines(state: dict[str, Any], configs: list) -> list[str]:
    """The terminal form: a header, each member (its signals, regime, target, when it
    decided), then the blend's target, trade and holdings."""
    lines = header_lines(state)
    for member, config in zip(state["members"], configs, strict=True):
        lines.append(f"member {member['name']} ({member['weight'] * 100:.4g}%):")
        for name, signal in member["signals"].items():
            lines.append("  " + signal_sentence(config, name, signal))
        when = f"decided on {member['decided_on']}" if member["decided_on"] else "not decided yet"
        schedule = member["decide"] + (
            f", day {member['decide_day']}" if "decide_day" in member else ""
        )
        lines.append(
            f"  regime {member['regime']}; target {_weights(member['target'])}; {when} "
            f"({schedule}); next: {member['next_decision'] or 'not within reach'}"
        )
        lines += ["  " + line for line in _buffer_and_scale_lines(config, member)]
    target = dict(state["target"])
    cash = 1.0 - sum(target.values())
    if cash > 1e-4:
        target["cash"] = cash
    trade = state["trade"]
    lines.append(f"blend: hold {_weights(target)}" + ("" if trade["needed"] else "; no trade"))
    if trade["needed"]:
        moves = [
            f"{'buy' if w > 0 else 'sell'} {t} {'+' if w > 0 else ''}{w * 100:.1f}%"
            for t, w in trade["orders"].items()
        ]
        lines.append(
            f"trade ({', '.join(trade['reasons'])}): {', '.join(moves) or 'nothing to move'}"
        )
    if "scale" in state:
        lines.append(f"the blend's volatility target: scale {state['scale']:.3f}")
    lines.append(f"held at the close: {_weights(state['held'])}")
    lines.append(
        f"next decision of a member: {state['next_decision'] or 'not within reach'} (estimated)"
    )
    return [textwrap.fill(line, WIDTH, subsequent_indent="    ") for line in lines]


__all__ = ["blend_lines", "blend_state", "member_result"]
