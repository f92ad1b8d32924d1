"""Shared parameter types of the strategy config models (pydantic v2 annotated types).

Every number type here refuses booleans (YAML reads `true` as True, which pydantic
would otherwise take for 1), quoted text ('20') and NaN or infinite values, with
messages in plain words. A whole-number type takes 20.0 as 20 (a sweep range yields floats)
but refuses 20.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError


def plain_number(value: Any) -> Any:
    """Refuse booleans, text and non-finite floats; pass anything else on to pydantic."""
    if isinstance(value, (bool, np.bool_)):
        raise PydanticCustomError(
            "bool_not_number", "must be a number, not {value}", {"value": str(value).lower()}
        )
    if isinstance(value, str):
        raise _text_problem(value)
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        raise PydanticCustomError(
            "not_finite", "must be a finite number, not {value}", {"value": str(value)}
        )
    return value


def _number_text(text: str) -> float | None:
    try:
        number = float(text.strip().replace("_", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _text_problem(text: str) -> PydanticCustomError:
    """Why a text is not a number: quotes around a number ('50'), a percent sign (80%,
    which YAML reads as text: there were no quotes), or no number at all."""
    quoted = repr(text[:30])
    if _number_text(text) is not None:
        return PydanticCustomError(
            "text_not_number",
            "must be a number, not the text {value} (write it without quotes)",
            {"value": quoted},
        )
    number = _number_text(text.strip().removesuffix("%")) if text.strip().endswith("%") else None
    if number is not None:
        return PydanticCustomError(
            "percent_not_number",
            "must be a number, not {value} (a percent sign): write the number without it",
            {"value": quoted, "fraction": f"{number / 100:.12g}"},
        )
    return PydanticCustomError(
        "text_not_number", "must be a number, not the text {value}", {"value": quoted}
    )


def whole_number(value: Any) -> Any:
    """`plain_number`, then refuse non-integers (20.0 -> 20; 20.5 refused)."""
    value = plain_number(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise PydanticCustomError(
        "not_whole", "must be a whole number, not {value}", {"value": repr(value)}
    )


def within(
    low: float | None = None, high: float | None = None, below_high: bool = False
) -> AfterValidator:
    """An after-validator: value finite, low <= value, value <= high (< high with
    `below_high`)."""

    def check(value: float) -> float:
        if not math.isfinite(value):  # e.g. a Decimal('NaN'), which plain_number lets by
            raise PydanticCustomError(
                "not_finite", "must be a finite number, not {value}", {"value": str(value)}
            )
        if low is not None and value < low:
            raise PydanticCustomError("too_low", "must be at least {low}", {"low": f"{low:g}"})
        if high is not None and (value >= high if below_high else value > high):
            word = "below" if below_high else "at most"
            raise PydanticCustomError(
                "too_high", "must be {word} {high}", {"word": word, "high": f"{high:g}"}
            )
        return value

    check.upper = high  # read by the config's messages (engine/config/words.py)
    check.bounds = (low, high, below_high)  # read by the JSON schema (engine/config/schema.py)
    return AfterValidator(check)


MAX_BARS = 100_000
"""Longest window or lookback, in bars: about 400 years of trading days, 270 of
calendar days; larger numbers are mistakes (and overflow the rolling windows)."""


def whole_at_least(minimum: int) -> Any:
    """The type of a whole number in [`minimum`, MAX_BARS] (a count of bars)."""
    return Annotated[int, BeforeValidator(whole_number), within(low=minimum, high=MAX_BARS)]


def finite_within(
    low: float | None = None, high: float | None = None, below_high: bool = False
) -> Any:
    """The type of a finite number in [low, high] (or [low, high) with `below_high`)."""
    return Annotated[float, BeforeValidator(plain_number), within(low, high, below_high)]


PositiveInt = whole_at_least(1)
"""A whole number >= 1 (a count of bars)."""

FiniteFloat = finite_within()
"""Any finite real number."""

NonNegativeFloat = finite_within(low=0.0)
"""A finite number >= 0."""

Fraction = finite_within(0.0, 1.0, below_high=True)
"""A finite number in [0, 1), e.g. a band of 0.02 = 2 %."""

Percent = finite_within(0.0, 100.0)
"""A finite number in [0, 100] (RSI levels)."""

CorrelationBound = finite_within(-1.0, 1.0)
"""A finite number in [-1, 1] (correlation levels)."""


def not_above(value: float | None, limit: float | None, names: tuple[str, str]) -> float | None:
    """Cross-field rule of a lower bound: `value` (optional) must be <= `limit`.

    `names` = (this field, the other field), used in the message. A `limit` of
    None means the other field failed its own validation: nothing more to say.
    """
    if value is not None and limit is not None and value > limit:
        raise PydanticCustomError(
            "bound_order",
            "{this} ({value}) must be at most {other} ({limit}); "
            "leave it out to use {other} for both",
            {"this": names[0], "other": names[1], "value": f"{value:g}", "limit": f"{limit:g}"},
        )
    return value


def bound_pair(params: Mapping[str, Any], upper: str, lower: str) -> tuple[float, float]:
    """(upper, lower) bounds of a parameter set whose lower bound defaults to the upper one
    (rsi `enter`/`exit`, level and correlation `above`/`below`)."""
    high = float(params[upper])
    low = params.get(lower)
    return high, high if low is None else float(low)
