"""What each registered kind takes, for `rotation kinds` and the docs: read from the kinds'
own config models (their JSON schemas) and declarations, so it cannot drift from what
the config accepts.
"""

from __future__ import annotations

from typing import Any

from strategies.plugins import Registry
from strategies.scores import SCORE_KINDS
from strategies.signals import SIGNAL_KINDS


def type_text(prop: dict[str, Any]) -> str:
    """A JSON-schema property in a few words: 'integer', 'number or null', 'sma | ema',
    'list of integer'."""
    if "const" in prop:
        return str(prop["const"])
    if "enum" in prop:
        return " | ".join(map(str, prop["enum"]))
    if "anyOf" in prop:
        return " or ".join(type_text(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {type_text(prop.get('items', {}))}"
    return {"string": "text"}.get(kind, kind)


def describe(name: str, registry: Registry) -> dict[str, Any]:
    """One kind: name, origin (built-in, or its package and entry point), what it does (its
    model's docstring) and each field of an entry: type, default or required, whether a
    sweep may vary it, whether it names the input rather than a parameter."""
    kind = registry[name]
    schema = kind.model.model_json_schema()
    required = set(schema.get("required", ()))
    inputs = set(getattr(kind, "inputs", ("type",)))
    origin = registry.origin(name)
    fields = []
    for field, prop in schema.get("properties", {}).items():
        if field == "type":
            continue
        fields.append(
            {
                "name": field,
                "type": type_text(prop),
                "required": field in required,
                "default": prop.get("default"),
                "sweepable": field in kind.sweepable,
                "input": field in inputs,
            }
        )
    return {
        "name": name,
        "origin": "built-in" if origin is None else "plug-in",
        "package": None if origin is None else str(origin),
        "entry_point": None if origin is None else origin.entry_point,
        "summary": " ".join((schema.get("description") or "").split()),
        "fields": fields,
    }


def catalog() -> dict[str, list[dict[str, Any]]]:
    """Every signal kind and score kind, built-in and plug-in, by name."""
    return {
        "signals": [describe(name, SIGNAL_KINDS) for name in sorted(SIGNAL_KINDS)],
        "scores": [describe(name, SCORE_KINDS) for name in sorted(SCORE_KINDS)],
    }
