"""Where a pydantic error points, in the config's own terms.

pydantic locates an error by a tuple `loc` that mixes the YAML's own keys and list
positions with *tags* naming the member of a union it tried: `'sma'` for a signal
entry told apart by its `type`, `'ThresholdRule'`, `"literal['none','monthly']"` or
`'str'` for the members of a plain union, `'[key]'` for a mapping's key. `locate`
follows `loc` through the field annotations of the root model and returns one `Step`
per key or position of the YAML (tags left out), each saying what the schema
declares there: the annotation, the model and field it belongs to, and whether it is
a model field, a mapping entry, a list item or an unknown key. The messages
(engine/config/words.py) and the repair before the cross-field rules
(engine/config/repair.py) both read it, so a new field or model needs nothing here.

A loosely typed field (`dict[str, Any]`) may name the model that checks its content
with a `CheckedBy` marker in its annotation, so its keys get the same treatment.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag
from pydantic.fields import FieldInfo

KEY_TAG = "[key]"  # pydantic's loc part for an error in a mapping's key itself


@dataclass(frozen=True)
class CheckedBy:
    """Annotation marker: the model that validates this loosely typed mapping, picked from
    the raw value (None when none applies), e.g. a rank filter's signal kind by its
    `type`."""

    pick: Callable[[Any], type[BaseModel] | None]


@dataclass(frozen=True)
class Step:
    """One key or list position of the YAML along an error's location.

    Attributes:
        part: the key or position.
        annotation: the type declared there (a union as declared, before a member is
            chosen); Any when unknown.
        role: "field" (of `model`), "unknown" (a key `model` does not declare),
            "entry" (a mapping's value), "item" (a list's), or "key" (the mapping key
            itself is wrong).
        model: the model the key belongs to (fields and unknown keys), else None.
        field: the model's FieldInfo for a field (its default, whether required).
        union: True when the error came from one member of a union declared here.
    """

    part: str | int
    annotation: Any
    role: str
    model: type[BaseModel] | None = None
    field: FieldInfo | None = None
    union: bool = False


def unwrap(annotation: Any) -> tuple[Any, list]:
    """(the bare type, the metadata of every Annotated layer around it)."""
    metadata: list = []
    while get_origin(annotation) is Annotated:
        annotation, *more = get_args(annotation)
        metadata = more + metadata
    return annotation, metadata


def members(annotation: Any) -> list:
    """The members of a union other than None (the annotation itself when not a union)."""
    bare, _ = unwrap(annotation)
    if get_origin(bare) in (Union, types.UnionType):
        return [m for m in get_args(bare) if m is not type(None)]
    return [annotation]


def field_annotation(field: FieldInfo) -> Any:
    """A model field's full annotation, its constraints (ge, pattern, validators) kept."""
    extra = list(field.metadata)
    if field.discriminator is not None:
        extra.append(FieldInfo(discriminator=field.discriminator))
    return Annotated[(field.annotation, *extra)] if extra else field.annotation


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def discriminator(annotation: Any) -> str | None:
    """The discriminator key of a union told apart by a field (`type`), else None."""
    for item in unwrap(annotation)[1]:
        if isinstance(item, FieldInfo) and isinstance(item.discriminator, str):
            return item.discriminator
    return None


def discriminated(annotation: Any) -> bool:
    """True for a union whose member is chosen by a discriminator (a field such as `type`,
    or a function), so pydantic checks that one member only."""
    return any(
        isinstance(item, Discriminator)
        or (isinstance(item, FieldInfo) and item.discriminator is not None)
        for item in unwrap(annotation)[1]
    )


def tag_values(model: Any, key: str) -> tuple:
    """The values of `model`'s literal field `key` (a discriminated member's tags)."""
    if not is_model(model) or key not in model.model_fields:
        return ()
    bare, _ = unwrap(model.model_fields[key].annotation)
    return get_args(bare) if get_origin(bare) is Literal else ()


def _member_for(annotation: Any, tag: str) -> Any:
    """The union member that pydantic's `tag` names, or Any."""
    key = discriminator(annotation)
    options = members(annotation)
    for option in options:  # a callable discriminator's members carry a Tag("name")
        if any(isinstance(m, Tag) and m.tag == tag for m in unwrap(option)[1]):
            return option
    if key is not None:
        return next((m for m in options if tag in tag_values(unwrap(m)[0], key)), Any)
    words = set(re.findall(r"\w+", tag))
    for option in options:
        bare, _ = unwrap(option)
        if tag.startswith("literal[") and get_origin(bare) is Literal:
            return option
        name = getattr(get_origin(bare) or bare, "__name__", "")
        if name == tag or (not tag.startswith("literal[") and name in words):
            return option
    return Any


def _child(node: Any, part: Any) -> Any:
    """The raw value under `part`, or None."""
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
        return node[part]
    return None


def _checked(annotation: Any, node: Any) -> Any:
    """The model a `CheckedBy` marker picks for the raw `node`, else the annotation."""
    for item in unwrap(annotation)[1]:
        if isinstance(item, CheckedBy) and isinstance(node, Mapping):
            return item.pick(node) or annotation
    return annotation


def _field_named(model: type[BaseModel], name: str) -> FieldInfo | None:
    """The field the YAML key `name` sets: by its name or its alias."""
    if name in model.model_fields:
        return model.model_fields[name]
    return next((f for f in model.model_fields.values() if f.alias == name), None)


def _into(annotation: Any, part: Any) -> Step:
    """The step from a value of type `annotation` into its key or position `part`."""
    bare, _ = unwrap(annotation)
    if is_model(bare):
        field = _field_named(bare, part) if isinstance(part, str) else None
        if field is None:
            return Step(part, Any, "unknown", bare)
        return Step(part, field_annotation(field), "field", bare, field)
    origin, args = get_origin(bare), get_args(bare)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return Step(part, args[1] if len(args) == 2 else Any, "entry")
    if isinstance(origin, type) and issubclass(origin, Sequence) and isinstance(part, int):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return Step(part, args[part] if part < len(args) else Any, "item")
        return Step(part, args[0] if args else Any, "item")
    return Step(part, Any, "entry")


def locate(root: type[BaseModel], loc: Sequence, raw: Any = None) -> list[Step]:
    """The steps of an error's `loc` from the `root` model (tags left out).

    `raw` is the input being validated, read to resolve `CheckedBy` markers.
    """
    steps: list[Step] = []
    annotation: Any = root
    node = raw
    in_union = False
    for part in loc:
        annotation = _checked(annotation, node)
        if len(members(annotation)) == 1:
            annotation = members(annotation)[0]  # X | None: the X (itself maybe a union)
        if len(members(annotation)) > 1 and isinstance(part, str) and part != KEY_TAG:
            # a discriminated union reports its chosen member's errors only: no merging
            in_union = not discriminated(annotation)
            annotation = _member_for(annotation, part)
            continue
        if part == KEY_TAG and steps:
            last = steps[-1]
            steps[-1] = Step(last.part, last.annotation, "key", last.model, last.field)
            annotation = str
            continue
        step = _into(annotation, part)
        if in_union and steps:
            last = steps[-1]
            steps[-1] = Step(last.part, last.annotation, last.role, last.model, last.field, True)
            in_union = False
        steps.append(step)
        annotation, node = step.annotation, _child(node, part)
    if in_union and steps:  # the error is about the union's value as a whole
        last = steps[-1]
        steps[-1] = Step(last.part, last.annotation, last.role, last.model, last.field, True)
    return steps


def dotted(path: Sequence) -> str:
    """`regimes[0].weights.IWM` from ('regimes', 0, 'weights', 'IWM'); '' for the root."""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return text.lstrip(".")


def model_at(root: type[BaseModel], path: Sequence, raw: Any = None) -> type[BaseModel] | None:
    """The model declared at a YAML `path` (no tags), or None (a union member is chosen
    by the raw value's discriminator when there is one)."""
    annotation: Any = root
    node = raw
    for part in path:
        annotation = _checked(annotation, node)
        annotation = _pick_member(annotation, node)
        annotation = _into(annotation, part).annotation
        node = _child(node, part)
    annotation = _pick_member(_checked(annotation, node), node)
    bare, _ = unwrap(annotation)
    return bare if is_model(bare) else None


def _pick_member(annotation: Any, node: Any) -> Any:
    options = members(annotation)
    if len(options) == 1:
        return options[0]
    key = discriminator(annotation)
    if key is not None and isinstance(node, Mapping):
        return _member_for(annotation, str(node.get(key)))
    models = [m for m in options if is_model(unwrap(m)[0])]
    return models[0] if len(models) == 1 and isinstance(node, Mapping) else annotation
