"""What a score kind declares (docs/scores.md), so config, sweep, pipeline and report read
one place.

A score is a real-valued series per asset, computed on the asset's own calendar from
its adjusted close, NaN where undefined. Ranked allocations sort assets by one; the
inverse-volatility weighting divides by one. A kind is an instance of a `ScoreKind`
subclass (one module per kind in `strategies/scores/`), registered by name in
`strategies.scores.SCORE_KINDS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict


class ScoreModel(BaseModel):
    """Base of every score kind's config model: frozen, unknown keys rejected; the docstring
    under a field is its description in the config schema (`rotation schema`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ScoreKind(ABC):
    """One score kind. Subclasses set the class attributes and the three abstract methods.

    Attributes:
        name: the YAML `type`.
        model: pydantic model of a config entry (`type` and parameters).
        sweepable: numeric parameters that may be sweep axes (see `sweep_keys`).
        whole: the parameters among them counted in bars (integers).
    """

    name: ClassVar[str]
    model: ClassVar[type[ScoreModel]]
    sweepable: ClassVar[tuple[str, ...]] = ()
    whole: ClassVar[tuple[str, ...]] = ()

    def config(self, spec: Mapping[str, Any] | BaseModel) -> ScoreModel:
        """The validated model of an entry (a model is returned as is)."""
        if isinstance(spec, self.model):
            return spec
        raw = spec.model_dump() if isinstance(spec, BaseModel) else dict(spec)
        return self.model.model_validate(raw)

    def params(self, spec: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        """The parameters of an entry, defaults filled in (without `type`)."""
        return self.config(spec).model_dump(exclude={"type"})

    def sweep_keys(self, spec: Mapping[str, Any]) -> tuple[str, ...]:
        """Parameters of this raw entry that a sweep may vary."""
        return self.sweepable

    @abstractmethod
    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """Bars of the asset's own calendar needed before the score can be defined."""

    @abstractmethod
    def values(self, close: pd.Series, params_list: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Scores [T, K] on the close's own calendar, one column per parameter set, NaN
        where undefined, sharing work between sets with equal windows."""

    @abstractmethod
    def describe(self, params: Mapping[str, Any]) -> str:
        """A short phrase for reports, e.g. '252-bar momentum'."""

    def __repr__(self) -> str:
        return f"<score kind {self.name!r}>"
