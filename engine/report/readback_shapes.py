"""The shapes of a folder's files, for the checked loader (engine.report.readback).

A JSON or YAML shape is written in a small language: ``str``, ``bool``, ``int`` (a
whole number), ``float`` (any number), ``dict``, ``list``, ``object`` (anything); a
dict literal is an object with
those keys (a key ending in ``?`` may be absent; other keys are allowed); `MapOf`,
`ListOf`, `Maybe` (null allowed) and `OneOf` combine them. A CSV or parquet file's
shape is a `Table`. engine.report.readback_kinds says what each kind of folder holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Problem(Exception):
    """What is wrong with one file (readback adds the file's path and what to do)."""


class Mismatch(Problem):
    """Files that disagree; `name` is the file named in the message."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class MapOf:
    value: Any  # an object whose every value has this shape


@dataclass(frozen=True)
class ListOf:
    item: Any
    min_items: int = 0


@dataclass(frozen=True)
class Maybe:
    shape: Any  # null, or this shape


@dataclass(frozen=True)
class OneOf:
    shapes: tuple


@dataclass(frozen=True)
class Table:
    """A CSV or parquet file: required `columns`; `text` columns read as text (an empty
    cell is ""); `numbers` that must hold numbers ("rest": every column but the text ones
    and date), `finite` ones finite numbers ("rest" likewise); at least `min_rows` rows;
    a ``date`` column of YYYY-MM-DD dates, in increasing order each once when
    `increasing`."""

    columns: tuple[str, ...]
    text: tuple[str, ...] = ()
    numbers: tuple[str, ...] | str = ()
    finite: tuple[str, ...] | str = ()
    min_rows: int = 1
    increasing: bool = False


@dataclass(frozen=True)
class FileSpec:
    shape: Any  # a Table, a JSON/YAML shape, or None (text, read as it is)
    optional: bool = False


NAMES = {str: "text", bool: "true or false", int: "a whole number", float: "a number"}
NAMES |= {dict: "an object", list: "a list"}


def _at(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fits(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def describe(shape: Any) -> str:
    """The shape in words, for a message."""
    if isinstance(shape, (dict, MapOf)):
        return "an object"
    if isinstance(shape, ListOf):
        return "a list"
    if isinstance(shape, Maybe):
        return f"{describe(shape.shape)} or null"
    if isinstance(shape, OneOf):
        return " or ".join(describe(s) for s in shape.shapes)
    return NAMES.get(shape, "anything")


def check(value: Any, shape: Any, where: str) -> None:
    """Raise Problem when `value` does not have `shape` (`where`: its dotted key)."""
    if shape is object or (isinstance(shape, Maybe) and value is None):
        return
    if isinstance(shape, Maybe):
        if isinstance(shape.shape, type) and not _fits(value, shape.shape):
            raise _unexpected(value, shape, where)  # "a number or null"
        return check(value, shape.shape, where)
    if isinstance(shape, OneOf):
        if not any(_passes(value, s, where) for s in shape.shapes):
            raise _unexpected(value, shape, where)
        return
    wanted = dict if isinstance(shape, (dict, MapOf)) else shape
    if not _fits(value, list if isinstance(shape, ListOf) else wanted):
        raise _unexpected(value, shape, where)
    if isinstance(shape, dict):
        for key, inner in shape.items():
            name = key.removesuffix("?")
            if name in value:
                check(value[name], inner, _at(where, name))
            elif not key.endswith("?"):
                raise Problem(f"{_at(where, name)}: missing")
    elif isinstance(shape, MapOf):
        for key, inner in value.items():
            check(inner, shape.value, _at(where, key))
    elif isinstance(shape, ListOf):
        if len(value) < shape.min_items:
            raise Problem(f"{where}: empty; expected at least {shape.min_items} item(s)")
        for i, item in enumerate(value):
            check(item, shape.item, f"{where}[{i}]")


def _unexpected(value: Any, shape: Any, where: str) -> Problem:
    return Problem(f"{where or 'the top level'}: expected {describe(shape)}, found {_found(value)}")


def _passes(value: Any, shape: Any, where: str) -> bool:
    try:
        check(value, shape, where)
    except Problem:
        return False
    return True
