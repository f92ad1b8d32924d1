"""pydantic's validation errors as one line each, in the project's words.

Every error becomes `field: problem`, the field written as in the YAML
(`regimes[0].weights.IWM`, never a union tag such as `literal['none','monthly']`), the
problem said by the error's *type* (`MESSAGES`), with what was given:

    name: must be letters, digits, '.', '_' or '-' (got 'my run!')
    execution.rebalance: must be none, monthly, quarterly, annual or {threshold: x}, not 'weekly'
    execution.fee_bps: unknown key (did you mean 'fees_bps'?)

The errors pydantic gives for each member of a union are merged into one line
listing what each member accepts, unless the value has the shape of one member (a
mapping for `{threshold: x}`): then only that member's errors are kept. Messages our
own validators raise are kept as they are. Nothing here names a field, so a new field
or model is described the same way. `problem_lines` (engine/config/problems.py) puts
the lines together.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import core_schema

from engine.config.walk import (
    Step,
    discriminator,
    is_model,
    members,
    tag_values,
    unwrap,
)

PYDANTIC_TYPES = frozenset(get_args(core_schema.ErrorType))
"""pydantic's own error types; any other type is a PydanticCustomError of ours, whose
message is already in our words."""

LEAKS = (
    "Input should",
    "String should",
    "List should",
    "Dictionary should",
    "Value should",
    "should have at least",
    "Field required",
    "Extra inputs",
    "instance of",
    "literal[",
    "function-",
    "after validation",
    "Value error,",
    "validation error",
    "[type=",
)
"""pydantic phrasings that must never reach a user (the tests read this list too)."""


def closest(name: Any, choices: Sequence[Any]) -> str | None:
    """The choice closest to `name` (difflib's ratio of at least 0.6), or None."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return close[0] if close else None


def suggest(name: str, choices: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    close = closest(name, choices)
    return f" (did you mean {close!r}?)" if close else ""


def shown(value: Any) -> str:
    """A given value as a short quote: 'text', 12, true, a list, an empty value."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "an empty value"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else "a number too large to use"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def choices(expected: str) -> str:
    """ "'a', 'b' or 'c'" (pydantic's literal list) -> "a, b or c"."""
    return re.sub(r"'([^']*)'", r"\1", expected)


def pattern_words(pattern: str) -> str:
    """A one-class pattern such as '^[A-Za-z0-9._-]+$' in words ("letters, digits, '.',
    '_' or '-'"); any other pattern as 'text matching <pattern>'."""
    match = re.fullmatch(r"\^\[([^\]]+)\]\+\$", pattern)
    if not match:
        return f"text matching {pattern}"
    body, parts = match.group(1), []
    for span, word in (("A-Za-z", "letters"), ("a-zA-Z", "letters"), ("0-9", "digits")):
        if span in body:
            body = body.replace(span, "")
            parts.append(word)
    for span, word in (("a-z", "lower-case letters"), ("A-Z", "capitals")):
        if span in body:
            body = body.replace(span, "")
            parts.append(word)
    parts += [repr(c) for c in body]
    return ", ".join(parts[:-1]) + f" or {parts[-1]}" if len(parts) > 1 else parts[0]


def model_shape(model: type[BaseModel]) -> str:
    """'{threshold: x}': a model's required keys (or all keys when none is required)."""
    fields = model.model_fields
    keys = [k for k, f in fields.items() if f.is_required()] or list(fields)
    return "{" + ", ".join(f"{k}: x" for k in keys) + "}"


def _bound(ctx: dict, key: str) -> str:
    value = ctx.get(key)
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


MESSAGES: dict[str, Any] = {
    "missing": lambda e, c: "required field is missing",
    "string_type": lambda e, c: f"must be text, not {shown(e.get('input'))}",
    "string_pattern_mismatch": lambda e, c: (
        f"must be {pattern_words(str(c.get('pattern')))} (got {shown(e.get('input'))})"
    ),
    "string_too_short": lambda e, c: (
        "must not be empty"
        if c.get("min_length") == 1
        else f"must be at least {c.get('min_length')} characters long"
    ),
    "string_too_long": lambda e, c: f"must be at most {c.get('max_length')} characters long",
    "too_short": lambda e, c: (
        "must not be empty"
        if c.get("min_length") == 1
        else f"must hold at least {c.get('min_length')} items, not {c.get('actual_length')}"
    ),
    "too_long": lambda e, c: f"must hold at most {c.get('max_length')} items",
    "literal_error": lambda e, c: (
        f"must be {choices(str(c.get('expected')))}, not {shown(e.get('input'))}"
    ),
    "greater_than": lambda e, c: f"must be above {_bound(c, 'gt')}, not {shown(e.get('input'))}",
    "greater_than_equal": lambda e, c: (
        f"must be at least {_bound(c, 'ge')}, not {shown(e.get('input'))}"
    ),
    "less_than": lambda e, c: f"must be below {_bound(c, 'lt')}, not {shown(e.get('input'))}",
    "less_than_equal": lambda e, c: (
        f"must be at most {_bound(c, 'le')}, not {shown(e.get('input'))}"
    ),
    "bool_type": lambda e, c: f"must be true or false, not {shown(e.get('input'))}",
    "bool_parsing": lambda e, c: f"must be true or false, not {shown(e.get('input'))}",
    "none_required": lambda e, c: f"must be left empty, not {shown(e.get('input'))}",
}
"""pydantic error type -> (error, ctx) -> message; the families below cover the rest."""

FAMILIES: tuple[tuple[str, str], ...] = (
    ("int_", "a whole number"),
    ("float_", "a number"),
    ("finite_number", "a finite number"),
    ("decimal_", "a number"),
    ("date", "a date written YYYY-MM-DD"),
    ("time", "a time written HH:MM"),
    ("dict_", "a mapping (key: value)"),
    ("model_", "a mapping (key: value)"),
    ("list_", "a list"),
    ("tuple_", "a list"),
    ("set_", "a list"),
    ("path_", "a path (text)"),
)
"""Prefixes of pydantic error types about the kind of value expected."""


def expected(error: dict, shape: bool = False) -> str | None:
    """What the value should have been ('a number', 'none or monthly'), for the error
    types about a value's kind; None for the others. With `shape`, a model is written as
    its keys ('{threshold: x}', to tell the members of a union apart)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        return choices(str(ctx.get("expected")))
    if kind in ("string_type", "string_pattern_mismatch"):
        return "text"
    if kind in ("bool_type", "bool_parsing"):
        return "true or false"
    if kind == "model_type" and ctx.get("class_name") and shape:
        model = _MODELS.get(ctx["class_name"])
        return model_shape(model) if model else "a mapping (key: value)"
    for prefix, words in FAMILIES:
        if kind.startswith(prefix):
            return words
    if kind not in PYDANTIC_TYPES and str(error.get("msg", "")).startswith("must be a number"):
        return "a number"
    return None


_MODELS: dict[str, type[BaseModel]] = {}


def known_models(*roots: type[BaseModel]) -> None:
    """Remember every model reachable from `roots` by name (to describe a union member
    that pydantic names only by its class)."""
    todo = list(roots)
    while todo:
        model = todo.pop()
        if model.__name__ in _MODELS:
            continue
        _MODELS[model.__name__] = model
        for field in model.model_fields.values():
            todo += [m for m in _nested_models(field.annotation) if m.__name__ not in _MODELS]


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    bare, _ = unwrap(annotation)
    if is_model(bare):
        return [bare]
    return [m for arg in get_args(bare) for m in _nested_models(arg)]


def message(error: dict, steps: list[Step]) -> str:
    """One error's problem in our words (without the field)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    given = error.get("input")
    if kind == "extra_forbidden":
        return unknown_key(steps)
    if kind == "string_type" and isinstance(given, bool):
        return (
            f"must be text, not {shown(given)}: YAML reads unquoted yes/no/on/off/true/false "
            "as a boolean; quote it ('on')"
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_problem(error, steps)
    if kind == "percent_not_number":
        return percent_problem(error, steps)
    if steps and steps[-1].role == "key":
        return f"the key must be text, not {shown(given)}"
    if kind in MESSAGES:
        return MESSAGES[kind](error, ctx)
    if kind in ("value_error", "assertion_error") or kind not in PYDANTIC_TYPES:
        text = str(error.get("msg", ""))
        text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind not in PYDANTIC_TYPES and text.startswith("must be ") and ", not " not in text:
            text += f", not {shown(given)}"  # our own custom errors end with the value too
        return text
    what = expected(error)
    if what is not None:
        return f"must be {what}, not {shown(given)}"
    return f"has a value that is not valid here ({shown(given)})"


def unknown_key(steps: list[Step]) -> str:
    """'unknown key (did you mean 'fees_bps'?)', or the keys allowed there, or the section
    a key that belongs elsewhere sits in ('did you mean execution.fees_bps?')."""
    step = steps[-1]
    if step.model is None:
        return "unknown key (remove it or check its spelling)"
    name, known = str(step.part), list(step.model.model_fields)
    hint = suggest(name, known)
    if hint:
        return f"unknown key{hint}"
    for section, field in step.model.model_fields.items():
        inner = [m for m in members(field.annotation) if is_model(unwrap(m)[0])]
        for model in inner:
            close = closest(name, list(unwrap(model)[0].model_fields))
            if close:
                return f"unknown key (did you mean {section}.{close}?)"
    return f"unknown key; the keys here are {', '.join(known)}"


def percent_problem(error: dict, steps: list[Step]) -> str:
    """'must be a number, not '80%' (a percent sign): write 0.8' for a fraction (a field
    at most 1); for other fields, to leave the sign out."""
    ctx = error.get("ctx") or {}
    head = f"must be a number, not {ctx.get('value')} (a percent sign)"
    if steps and upper_bound(steps[-1].annotation) is not None:
        if upper_bound(steps[-1].annotation) <= 1:
            return f"{head}: write {ctx.get('fraction')}"
    return f"{head}: write the number without it"


def upper_bound(annotation: Any) -> float | None:
    """The largest value a numeric annotation allows, read from its constraints
    (le/lt, or a validator carrying `upper`), or None."""
    _, metadata = unwrap(annotation)
    bounds = []
    for item in metadata:
        inner = getattr(item, "metadata", None)
        for part in [item, *(inner if isinstance(inner, list) else [])]:
            for key in ("le", "lt"):
                if isinstance(getattr(part, key, None), (int, float)):
                    bounds.append(float(getattr(part, key)))
            upper = getattr(getattr(part, "func", None), "upper", None)
            if isinstance(upper, (int, float)):
                bounds.append(float(upper))
    return min(bounds) if bounds else None


def _tag_problem(error: dict, steps: list[Step]) -> str:
    """An unknown or missing discriminator (`type`) of an entry told apart by it."""
    annotation = steps[-1].annotation if steps else None
    key = discriminator(annotation) if annotation is not None else None
    key = key or str((error.get("ctx") or {}).get("discriminator", "type")).strip("'")
    tags = sorted(str(t) for m in members(annotation) for t in tag_values(unwrap(m)[0], key))
    section = str(steps[0].part) if steps else ""
    what = f"{section[:-1] if section.endswith('s') else section} {key}".strip()
    if error["type"] == "union_tag_not_found":
        return f"required field is missing (one of {tags})"
    given = error.get("input")
    value = given.get(key) if isinstance(given, dict) else None
    if not isinstance(value, str):
        return f"must be one of {tags}, not {shown(value)}"
    return f"unknown {what} {value!r}{suggest(value, tags)}; kinds are {tags}"
