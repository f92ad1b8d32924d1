"""Reading a config file defensively: bounded size, strict YAML.

Plain `yaml.safe_load` silently keeps the last of two equal keys, recurses once
per nesting level (a deep file crashes it), and follows aliases into shapes
far deeper than the text. Here:

1. only a regular file is read (a FIFO or `/dev/zero` would block or never
   end), and at most `MAX_CONFIG_BYTES` + 1 bytes of it;
2. nesting deeper than `MAX_YAML_DEPTH` is refused on the parser's event
   stream, before the recursive composer runs, and again through aliases
   (which also catches an alias that contains itself); libyaml parses when
   installed, so even a 1 MiB file loads in a few seconds;
3. a key written twice in one mapping (block or flow) is refused, naming both
   lines; `<<` merge keys may still be overridden;
4. a scalar Python cannot convert (an integer of thousands of digits, the 30th
   of February) is a YAML error at its line, not a traceback;
5. a number with an exponent is a number as in YAML 1.2, also without a dot or
   an exponent sign (`1e-6`, `2.5e3`), which PyYAML's YAML 1.1 rules read as text.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.error import MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.limits import MAX_CONFIG_BYTES, MAX_YAML_DEPTH

_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
_EXPONENT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


_NOT_REGULAR = "not a regular file; give the path of a YAML config file"


class StrictYAMLError(MarkedYAMLError):
    """Well-formed YAML that a config may not contain (duplicate key, too deep)."""


class FileRefused(OSError):
    """The path is not a readable config: not a regular file, or too large."""


def read_text(path: Path) -> str:
    """The UTF-8 text of a regular file of at most MAX_CONFIG_BYTES.

    Raises:
        FileNotFoundError, UnicodeDecodeError, OSError; FileRefused with a message.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):  # never blocks, unlike opening a FIFO
        raise FileRefused(_NOT_REGULAR)
    # Non-blocking open and a second look at what was opened: the path may have
    # been swapped for a FIFO or device in between.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise FileRefused(_NOT_REGULAR)
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise FileRefused(
            f"larger than {MAX_CONFIG_BYTES // (1 << 20)} MiB; a config is a short text file"
        )
    return data.decode("utf-8")


_FAST = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader  # libyaml when installed


class _StrictConstruction:
    """Constructor methods (mixed into a SafeLoader) refusing duplicate keys and
    turning conversion errors into marked YAML errors."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as exc:
            problem = "an integer with too many digits" if node.tag == _INT else str(exc)
            raise ConstructorError(problem=problem, problem_mark=node.start_mark) from None

    def construct_mapping(self, node: Node, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            self._refuse_duplicates(node)
        return super().construct_mapping(node, deep=deep)

    def _refuse_duplicates(self, node: MappingNode) -> None:
        first: dict[tuple, Any] = {}  # key -> mark of its first occurrence
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                continue
            key = (key_node.tag, self.construct_object(key_node))
            mark = key_node.start_mark
            if key in first:
                where = f"line {first[key].line + 1}"
                if first[key].line == mark.line:  # a flow mapping on one line
                    where += f", column {first[key].column + 1}"
                raise StrictYAMLError(
                    problem=f"duplicate key {key[1]!r} (first at {where}); write each key once",
                    problem_mark=mark,
                )
            first[key] = mark


class _StrictLoader(_StrictConstruction, _FAST):
    """SafeLoader (libyaml's when available) with the strict construction; depth is
    checked on the event stream before composing."""


_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT, list("-+.0123456789"))


def _too_deep() -> str:
    return f"nested more than {MAX_YAML_DEPTH} levels deep; a config needs only a few"


def _check_depth(root: Node) -> None:
    """Refuse a node graph deeper than MAX_YAML_DEPTH once aliases are followed.

    Each node's height is computed once (memoised), so an alias used many times
    costs nothing more; the recursion stops at the bound, so a cycle ends too.
    """
    heights: dict[int, int] = {}

    def height(node: Node, depth: int) -> int:
        known = heights.get(id(node))
        if depth > MAX_YAML_DEPTH or (known is not None and depth + known - 1 > MAX_YAML_DEPTH):
            raise StrictYAMLError(problem=_too_deep(), problem_mark=node.start_mark)
        if known is not None:
            return known
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        heights[id(node)] = result = 1 + max((height(c, depth + 1) for c in children), default=0)
        return result

    height(root, 1)


def _check_text_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_YAML_DEPTH in the text itself, on the parser's
    event stream (a loop, not recursion), before the recursive composer runs."""
    try:
        _walk_events(text)
    except StrictYAMLError:
        raise
    except yaml.YAMLError as exc:  # libyaml's scanner has its own (deeper) nesting limit
        if "nesting depth" not in str(getattr(exc, "problem", "")):
            raise
        raise StrictYAMLError(problem=_too_deep(), problem_mark=exc.problem_mark) from None


def _walk_events(text: str) -> None:
    depth = 0  # open collections
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            continue
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            level = depth
        elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            level = depth + 1  # a leaf is one level below its collection
        else:
            continue
        if level > MAX_YAML_DEPTH:
            raise StrictYAMLError(problem=_too_deep(), problem_mark=event.start_mark)


def load(text: str) -> Any:
    """Parse one YAML document strictly (see the module docstring); raises yaml.YAMLError."""
    _check_text_depth(text)
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_depth(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()
