"""What each registered kind takes, for `rotation kinds` and the docs: read from the kinds'
own config models (their JSON schemas) and declarations, so it cannot drift from what
the config accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class KindField:
    """One field of a kind's entry (a line of `rotation kinds`).

    Attributes:
        name: the YAML key.
        type: its type in a few words ('integer', 'list of integer', 'sma | ema').
        required: True when an entry must give it (then `default` means nothing).
        default: the value an entry without it gets.
        sweepable: True when a sweep may vary it.
        input: True when it names the input (`series`, `other`) rather than a parameter.
    """

    name: str
    type: str
    required: bool
    default: Any
    sweepable: bool
    input: bool


@dataclass(frozen=True)
class KindInfo:
    """One signal kind or score kind, built-in or plug-in (an entry of `rotation kinds`).

    Attributes:
        group: `signals` or `scores` (the config section whose entries name it).
        name: the `type:` an entry gives.
        origin: `built-in` or `plug-in`; `package` and `entry_point` name a plug-in's.
        summary: what it does (its model's docstring).
        fields: its entry's fields, in the model's order.
    """

    group: str
    name: str
    origin: str
    package: str | None
    entry_point: str | None
    summary: str
    fields: tuple[KindField, ...]


def kind_infos() -> list[KindInfo]:
    """`catalog()` as typed values: every signal kind, then every score kind, by name."""
    return [
        KindInfo(
            group=group,
            fields=tuple(KindField(**field) for field in kind["fields"]),
            **{k: v for k, v in kind.items() if k != "fields"},
        )
        for group, kinds in catalog().items()
        for kind in kinds
    ]
