"""Every problem of a config in one pass: schema errors and cross-field rules together.

When the schema refuses a config, the cross-field rules still run, on a *repaired*
copy: each broken piece is removed when its field has a default, else replaced by a
stand-in, a value of the declared type found by trying a few plain candidates
against the annotation itself (`stand_in`). The repair climbs to the enclosing key
when nothing fits, and repeats while the repaired copy still fails (a repair may
uncover errors pydantic had not reached). A stand-in is invented, so a rule's
problem may be an artefact of it. Two repairs are made with different stand-ins
(`flavor` 0 and 1: the candidates in opposite orders, a default or another value)
and only the problems both give are kept, minus those about a repaired piece, what
it contains or what contains it. Nothing here names a field: a new field, model or
rule is handled the same way.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from engine.config.problems import problem_lines
from engine.config.walk import Step, dotted, field_annotation, is_model, locate, members, unwrap

Rule = Callable[[Any], list[str]]
ROUNDS = 6  # repairs in a row before giving up on the rules (each fixes what it finds)
_NOTHING = object()

STRINGS = ("X", "SPY", "UTC", "16:00", "x")
NUMBERS = (1, 0.5, 0, 2, 10, 100, 1000, 100_000, -1, 0.01)
DATES = (dt.date(2000, 1, 3), dt.date(2010, 1, 4), dt.date(2100, 1, 4))


def _candidates(annotation: Any, flavor: int, depth: int = 0) -> Iterable[Any]:
    """Plain values that may fit `annotation` (checked by the caller), in the flavor's
    order."""
    if depth > 6:
        return
    bare, _ = unwrap(annotation)
    order = (lambda items: list(items)) if flavor == 0 else (lambda items: list(items)[::-1])
    options = members(annotation)
    if len(options) > 1 or (get_origin(bare) is not None and type(None) in get_args(bare)):
        if flavor == 0 and type(None) in get_args(bare):
            yield None
        for option in order(options):
            yield from _candidates(option, flavor, depth + 1)
        if flavor == 1 and type(None) in get_args(bare):
            yield None
        return
    origin, args = get_origin(bare), get_args(bare)
    if is_model(bare):
        yield from _model_candidates(bare, flavor, depth)
    elif origin is Literal:
        yield from order(args)
    elif bare is str:
        yield from (("Y",) if flavor else ()) + STRINGS
    elif bare is bool:
        yield from order((False, True))
    elif bare in (int, float):
        yield from order(NUMBERS)
    elif bare is dt.date:
        yield from order(DATES)
    elif isinstance(origin, type) and issubclass(origin, Mapping):
        key, value = (_first(a, flavor, depth) for a in args) if len(args) == 2 else (None, None)
        one = [{key: value}] if key is not _NOTHING and value is not _NOTHING else []
        yield from order([{}, *one])
    elif isinstance(origin, type) and issubclass(origin, Sequence):
        item = _first(args[0], flavor, depth) if args else _NOTHING
        other = _first(args[0], 1 - flavor, depth) if args else _NOTHING
        if item is not _NOTHING:
            yield [item] * (len(args) if origin is tuple and Ellipsis not in args else 1)
            if flavor and other is not _NOTHING and other != item:
                yield [item, other]
        yield []
    elif bare is Any or bare is None:
        yield None


def _model_candidates(model: type[BaseModel], flavor: int, depth: int) -> Iterable[dict]:
    out = {}
    for name, field in model.model_fields.items():
        if field.is_required():
            value = _first(field_annotation(field), flavor, depth + 1)
            if value is _NOTHING:
                return
            out[name] = value
    yield out


_ADAPTERS: dict[str, TypeAdapter] = {}


def _fits(annotation: Any, value: Any) -> bool:
    key = repr(annotation)
    adapter = _ADAPTERS.get(key)
    if adapter is None:
        try:
            adapter = _ADAPTERS[key] = TypeAdapter(annotation)
        except Exception:  # an annotation pydantic cannot build alone: no stand-in
            return False
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _first(annotation: Any, flavor: int, depth: int = 0) -> Any:
    for value in _candidates(annotation, flavor, depth):
        if _fits(annotation, value):
            return value
    return _NOTHING


def stand_in(annotation: Any, flavor: int = 0) -> Any:
    """A plain value that `annotation` accepts (flavor 1: another one where there is a
    choice), or the module's _NOTHING when no candidate fits."""
    return _first(annotation, flavor)


def _parent(raw: Any, path: Sequence) -> Any:
    node = raw
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _NOTHING
    return node


def _set(raw: Any, path: Sequence, value: Any) -> bool:
    parent = _parent(raw, path[:-1])
    if isinstance(parent, dict):
        parent[path[-1]] = value
        return True
    if isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent):
        parent[path[-1]] = value
        return True
    return False


def _delete(raw: Any, path: Sequence) -> bool:
    parent = _parent(raw, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:
        del parent[path[-1]]
        return True
    return False


def _fix(raw: Any, error: dict, steps: list[Step], flavor: int, top: int) -> tuple | None:
    """Repair one error in place, at its path cut to `top` steps or above; the path
    repaired, or None when nothing fits."""
    path = tuple(s.part for s in steps)
    if error["type"] == "extra_forbidden" or (steps and steps[-1].role == "key"):
        return path if _delete(raw, path) else None
    for size in range(min(top, len(steps)), 0, -1):
        step, here = steps[size - 1], path[:size]
        optional = step.role == "field" and not step.field.is_required()
        value = stand_in(step.annotation, flavor) if (flavor or not optional) else _NOTHING
        if value is not _NOTHING and _set(raw, here, value):
            return here
        if (optional or step.role == "entry") and _delete(raw, here):
            return here
    return None


def repaired(
    raw: dict, errors: list[dict], root: type[BaseModel], flavor: int
) -> tuple[BaseModel, set[tuple]] | None:
    """A valid model from a copy of `raw` with every broken piece repaired, and the
    repaired paths; None when some piece cannot be."""
    current, done = copy.deepcopy(raw), set()
    for _ in range(ROUNDS):
        located = sorted(
            ((e, locate(root, e["loc"], current)) for e in errors), key=lambda x: len(x[1])
        )
        now: set[tuple] = set()
        for error, steps in located:
            path = tuple(s.part for s in steps)
            if any(path[: len(p)] == p for p in now):
                continue  # inside a piece already stood in for in this round
            # a piece repaired in an earlier round that still fails: repair what holds it
            top = min((len(p) - 1 for p in done if path[: len(p)] == p), default=len(path))
            fixed = _fix(current, error, steps, flavor, top)
            if fixed is None:
                return None
            now.add(fixed)
        done |= now
        try:
            return root.model_validate(current), done
        except ValidationError as again:
            errors = again.errors()
    return None


def _field_of(problem: str) -> str:
    return problem.split(":", 1)[0]


def touches(field: str, pieces: Iterable[tuple | str]) -> bool:
    """True when a problem's `field` is one of the pieces (paths or dotted names), inside
    one, or contains one."""
    for piece in pieces:
        name = piece if isinstance(piece, str) else dotted(piece)
        for inner, outer in ((field, name), (name, field)):
            if inner == outer or inner.startswith(outer + ".") or inner.startswith(outer + "["):
                return True
    return False


def validate(
    raw: dict, root: type[BaseModel], rules: Sequence[Rule]
) -> tuple[BaseModel | None, list[str]]:
    """(the model, []) for a valid `raw`; else (None or the model, every problem): the
    schema's in our words, then the rules' (see the module docstring)."""
    try:
        model = root.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
    else:
        return model, [problem for rule in rules for problem in rule(model)]
    problems = problem_lines(errors, root, raw)
    outcomes = [repaired(raw, errors, root, flavor) for flavor in (0, 1)]
    if any(outcome is None for outcome in outcomes):
        return None, problems
    found = [[p for rule in rules for p in rule(model)] for model, _ in outcomes]
    both = set(found[1])
    changed = outcomes[0][1] | outcomes[1][1]
    for problem in found[0]:
        if problem in both and not touches(_field_of(problem), changed) and problem not in problems:
            problems.append(problem)
    return None, problems
