"""Score kinds (docs/scores.md) as plug-ins: one module per kind, one registry.

`SCORE_KINDS` maps each YAML `type` under `scores:` to its `ScoreKind`
(strategies/scores/registry.py): its config model, sweep keys, bars needed and
values. Scores use only their asset's own past; the pipeline aligns them to the
trading calendar by close time, like signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from strategies.scores.momentum import MOMENTUM
from strategies.scores.registry import ScoreKind, ScoreModel
from strategies.scores.volatility import VOLATILITY, volatility

BUILT_IN: Mapping[str, ScoreKind] = MappingProxyType(
    {kind.name: kind for kind in (MOMENTUM, VOLATILITY)}
)
"""The score kinds shipped in this package, read-only."""

SCORE_KINDS: dict[str, ScoreKind] = dict(BUILT_IN)
"""The registry: YAML `type` -> score kind. Add a kind by adding an entry."""

__all__ = ["BUILT_IN", "SCORE_KINDS", "ScoreKind", "ScoreModel", "volatility"]
