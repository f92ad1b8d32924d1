"""What a signal kind declares (docs/semantics.md §4-5), so config, sweep, runner and tearsheet
read one place.

Every kind is three lines and one rule. From its input on its own calendar it
computes a value `y_t`, an upper and a lower bound (`Lines`, one column per
parameter set); the signal is then

    on_t = True if y_t > upper_t; False if y_t < lower_t; else on_{t-1}

starting False, so it stays False until `y` and the bound are defined, and an
undefined `y` later on keeps the previous state (`switch`).

A kind is an instance of a `SignalKind` subclass (one module per kind in
`strategies/signals/`), registered by name in `strategies.signals.SIGNAL_KINDS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

Spec = Mapping[str, Any] | BaseModel
"""A signal's config entry: a parsed YAML mapping or its validated model."""

Input = pd.Series | pd.DataFrame
"""A kind's input on its own calendar: a close series, or a frame of closes (correlation)."""


class SignalModel(BaseModel):
    """Base of every kind's config model: frozen, unknown keys rejected; the docstring
    under a field is its description in the config schema (`rotation schema`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


@dataclass(frozen=True)
class Lines:
    """What a signal compares, arrays [T, K]: T bars of its own calendar, K parameter sets.

    `value` is y_t, `upper` and `lower` the bounds, in the units of y (a price for
    donchian, sma and level; a return for momentum; 0-100 for rsi; -1..1 for
    correlation). NaN where undefined. The arrays may be read-only broadcast views.
    """

    value: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


def hysteresis(turn_on: np.ndarray, turn_off: np.ndarray) -> np.ndarray:
    """State machine, per column: on if `turn_on`, else off if `turn_off`, else unchanged.

    Starts off. `turn_on` wins when both hold on the same bar. Time is axis 0.
    """
    on, off = np.broadcast_arrays(np.asarray(turn_on, bool), np.asarray(turn_off, bool))
    shape = on.shape
    if on.size == 0:
        return np.zeros(shape, dtype=bool)
    state = np.empty((len(on), on.size // len(on)), dtype=bool)
    _hysteresis_nb(on.reshape(state.shape), off.reshape(state.shape), state)
    return state.reshape(shape)


@numba.njit(cache=True, nogil=True)
def _hysteresis_nb(on, off, state):  # pragma: no cover (compiled)
    """`hysteresis` over [T, K] booleans (any strides: broadcast views too), into `state`."""
    held = np.zeros(on.shape[1], dtype=np.bool_)
    for t in range(on.shape[0]):
        for k in range(on.shape[1]):
            if on[t, k]:
                held[k] = True
            elif off[t, k]:
                held[k] = False
            state[t, k] = held[k]


def switch(lines: Lines) -> np.ndarray:
    """The rule every kind shares: on when value > upper, off when value < lower, else
    unchanged; comparisons with NaN are False, so undefined values keep the state.
    Returns booleans [T, K]."""
    with np.errstate(invalid="ignore"):
        return hysteresis(lines.value > lines.upper, lines.value < lines.lower)


def as_dict(spec: Spec) -> dict[str, Any]:
    """A config entry as a plain dict (a validated model is dumped)."""
    return spec.model_dump() if isinstance(spec, BaseModel) else dict(spec)


def ratio_or_close(prices: Mapping[str, pd.DataFrame], series: str) -> pd.Series:
    """Adjusted close of a ticker, or the ratio A/B on the dates both legs have
    (docs/semantics.md §1)."""
    legs = [prices[leg]["Close"] for leg in series.split("/")]
    if len(legs) == 1:
        return legs[0].rename(series)
    both = pd.concat(legs, axis=1, join="inner")
    return (both.iloc[:, 0] / both.iloc[:, 1]).rename(series)


class SignalKind(ABC):
    """One signal kind. Subclasses set the class attributes and the four abstract methods.

    Attributes:
        name: the YAML `type`.
        model: pydantic model of a config entry (`type`, `series`, parameters).
        inputs: keys of an entry that name its input rather than parameters.
        sweepable: numeric parameters that may be sweep axes (see `sweep_keys`).
        whole: the parameters among them counted in bars (integers).
        price_axis: True when `value` is drawn on the series' price axis.
    """

    name: ClassVar[str]
    model: ClassVar[type[SignalModel]]
    inputs: ClassVar[tuple[str, ...]] = ("type", "series")
    sweepable: ClassVar[tuple[str, ...]] = ()
    whole: ClassVar[tuple[str, ...]] = ()
    price_axis: ClassVar[bool] = True

    def config(self, spec: Spec) -> SignalModel:
        """The validated model of an entry (a model is returned as is).

        Raises:
            pydantic.ValidationError: a bad entry.
        """
        if isinstance(spec, self.model):
            return spec
        return self.model.model_validate(as_dict(spec))

    def params(self, spec: Spec) -> dict[str, Any]:
        """The parameters of an entry, defaults filled in (None: "same as" another field)."""
        return self.config(spec).model_dump(exclude=set(self.inputs))

    def sweep_keys(self, spec: Spec) -> tuple[str, ...]:
        """Parameters of this entry that a sweep may vary (read from the raw entry)."""
        return self.sweepable

    def legs(self, spec: Spec) -> list[str]:
        """Tickers the signal reads: the series, or both legs of a ratio A/B."""
        return str(as_dict(spec)["series"]).split("/")

    def source(self, prices: Mapping[str, pd.DataFrame], spec: Spec) -> tuple[Input, str]:
        """The input on its own calendar and the series key whose close times apply.

        `prices`: ticker -> frame with an adjusted `Close` column. Returns the close of
        the ticker (or the ratio A/B on the dates both legs have) and `series`.
        """
        series = str(as_dict(spec)["series"])
        return ratio_or_close(prices, series), series

    @abstractmethod
    def bars_needed(self, params: Mapping[str, Any]) -> int:
        """Bars of its own calendar needed before `value` can ever be defined."""

    @abstractmethod
    def lines(self, input: Input, params_list: Sequence[Mapping[str, Any]]) -> Lines:
        """Value and bounds [T, K], one column per parameter set, sharing rolling work
        between sets with equal windows."""

    @abstractmethod
    def title(self, name: str, spec: Spec) -> str:
        """Chart title of the signal `name` in the tearsheet."""

    @abstractmethod
    def labels(self, spec: Spec) -> dict[str, str | None]:
        """Legend names of the `value`, `upper` and `lower` lines (`lower` None when it is
        the same line as `upper`)."""

    def __call__(self, input: Input, **params: Any) -> pd.Series:
        """The single form: booleans on the input's index for one parameter set."""
        on = switch(self.lines(input, [params]))[:, 0]
        name = input.name if isinstance(input, pd.Series) else "/".join(map(str, input.columns))
        return pd.Series(on, index=input.index, name=name)

    def __repr__(self) -> str:
        return f"<signal kind {self.name!r}>"
