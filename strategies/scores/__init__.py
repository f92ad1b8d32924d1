"""Score kinds (docs/scores.md) as plug-ins: one module per kind, one registry.

`SCORE_KINDS` maps each YAML `type` under `scores:` to its `ScoreKind`
(strategies/scores/registry.py): its config model, sweep keys, bars needed and
values; the built-in kinds and those of installed packages (entry points
`rotation.scores`, strategies/plugins.py). Scores use only their asset's own past;
the pipeline aligns them to the trading calendar by close time, like signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from strategies.plugins import Group, Registry
from strategies.scores.momentum import MOMENTUM
from strategies.scores.registry import ScoreKind, ScoreModel
from strategies.scores.volatility import VOLATILITY, volatility

BUILT_IN: Mapping[str, ScoreKind] = MappingProxyType(
    {kind.name: kind for kind in (MOMENTUM, VOLATILITY)}
)
"""The score kinds shipped in this package, read-only."""

SCORES = Group("rotation.scores", "score kind", ScoreKind, ScoreModel, ("type",))
"""The entry-point group of plug-in score kinds (strategies/plugins.py)."""

SCORE_KINDS: Registry[ScoreKind] = Registry(SCORES, BUILT_IN)
"""The registry: YAML `type` -> score kind, the built-in kinds and then the installed
plug-ins (read at the first lookup, strategies/plugins.py)."""

__all__ = ["BUILT_IN", "SCORES", "SCORE_KINDS", "ScoreKind", "ScoreModel", "volatility"]
