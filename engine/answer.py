"""`rotation signal`'s answer as a value: what to hold at the next session.

`answer` runs a config to the latest close of its data (engine/freshness.py) and reads
the state there (engine/live.py); the `rotation signal` command prints it and
`engine.api.signal` returns it, so both give the same answer from the same code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config import Config
    from engine.data import PriceSource
    from engine.runner import BacktestResult


@dataclass(frozen=True)
class SignalState:
    """The state of a config at the latest close in its data.

    Attributes:
        config: the config that ran (its `data.end` removed: it runs to the latest date).
        state: the state as `rotation signal --json` prints it (keys: engine/live.py's
            docstring): `as_of`, `regime`, `target`, `trade`, `held`, `signals`,
            `ranking`, `stale`, `warnings`, `next_decision`, ...
        result: the run behind it (prices, the calendar, every signal and target).
    """

    config: Config
    state: dict[str, Any]
    result: BacktestResult

    @property
    def as_of(self) -> dt.date:
        """The latest close the answer is for."""
        return dt.date.fromisoformat(self.state["as_of"])

    @property
    def regime(self) -> str:
        """The regime decided (at this close, or at the last decision date)."""
        return self.state["regime"]

    @property
    def target(self) -> dict[str, float]:
        """Ticker -> target weight (the rest is cash)."""
        return dict(self.state["target"])

    @property
    def trade(self) -> dict[str, Any]:
        """`needed`, `orders` (ticker -> weight to buy, negative to sell), `reasons`; with
        a no-trade band also `tolerance` and `skipped` (the orders the band would skip)."""
        return self.state["trade"]

    @property
    def stale(self) -> bool:
        """True when the data misses sessions before today (`state["sessions_behind"]`)."""
        return bool(self.state["stale"])

    @property
    def warnings(self) -> list[str]:
        """What shaped the answer (a ticker lagging the others)."""
        return list(self.state["warnings"])

    def lines(self) -> list[str]:
        """The sentences `rotation signal` prints (before its ranking table)."""
        if "members" in self.state:  # a blend: each member, then the blend
            from engine.live_blend import blend_lines

            return blend_lines(self.state, [m.config for m in self.result.blend.members])
        from engine.live import state_lines

        return state_lines(self.config, self.state)

    def json(self) -> str:
        """The text `rotation signal --json` prints."""
        from engine.live import state_json

        return state_json(self.state)


def answer(
    config: Config,
    source: PriceSource | None = None,
    on: dt.date | None = None,
    refresh: bool = False,
) -> SignalState:
    """The state of `config` at the latest close in its data.

    Args:
        config: a validated config; its `data.end` is ignored (yfinance fetches the
            latest bars first).
        source: prices to use instead of the config's own.
        on: today's date, for staleness (default: $ROTATION_TODAY, else the machine's).
        refresh: yfinance only: fetch every ticker's whole history again.
    """
    from engine.data import make_source
    from engine.freshness import run_latest, today
    from engine.live import current_state, latest

    on = today() if on is None else on
    config = latest(config)
    prices = source if source is not None else make_source(config.data, refresh=refresh)
    result, warnings = run_latest(config, prices)
    if result.blend is not None:  # a blend, or a config in tranches: engine.live_blend
        from engine.live_blend import blend_state

        return SignalState(config, blend_state(result, on, warnings), result)
    return SignalState(config, current_state(result, on, warnings), result)
