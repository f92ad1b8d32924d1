"""Regimes: the `when` grammar and regimes -> target weights (docs/semantics.md §6).

Grammar (no `eval`; a small recursive-descent parser)::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | NAME

Precedence is the usual one: `not` binds tightest, then `and`, then `or`.

A flat chain (`a and b and c ...`) is parsed by a loop, into a left-leaning
tree that `names_in` and `evaluate` walk with an explicit stack, so hundreds of
terms are fine. Only nesting (parentheses, `not`) recurses, and it is bounded
by MAX_NESTING so a hostile expression is an error, not a RecursionError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*)|(\S))")
_KEYWORDS = {"and", "or", "not"}
MAX_NESTING = 32  # parentheses and `not`, counted together

# An expression tree: ("name", str) | ("not", node) | ("and", a, b) | ("or", a, b)
Node = tuple


class WhenSyntaxError(ValueError):
    """A `when` expression that the grammar does not accept."""


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        lpar, rpar, word, other = match.groups()
        if other is not None:
            raise WhenSyntaxError(f"unexpected character {other!r}")
        tokens.append(lpar or rpar or word)
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise WhenSyntaxError("expression ends too early")
        self.pos += 1
        return token

    def expr(self) -> Node:
        node = self.term()
        while self.peek() == "or":
            self.take()
            node = ("or", node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.peek() == "and":
            self.take()
            node = ("and", node, self.factor())
        return node

    def factor(self) -> Node:
        token = self.take()
        if token not in ("not", "("):
            if token in _KEYWORDS or token == ")":
                raise WhenSyntaxError(f"unexpected {token!r}")
            return ("name", token)
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise WhenSyntaxError(
                f"nested more than {MAX_NESTING} levels deep (parentheses and `not`)"
            )
        if token == "not":
            node = ("not", self.factor())
        else:
            node = self.expr()
            if self.take() != ")":
                raise WhenSyntaxError("missing ')'")
        self.depth -= 1
        return node


def parse_when(text: str) -> Node:
    """Parse a `when` expression into a tree; raises WhenSyntaxError."""
    parser = _Parser(_tokenize(text))
    if parser.peek() is None:
        raise WhenSyntaxError("empty expression")
    node = parser.expr()
    if parser.peek() is not None:
        raise WhenSyntaxError(f"unexpected {parser.peek()!r}")
    return node


def names_in(node: Node) -> set[str]:
    """The signal names an expression refers to (walked with a stack, not recursion)."""
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if current[0] == "name":
            names.add(current[1])
        else:
            stack.extend(current[1:])
    return names


def evaluate(node: Node, signals: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate a tree on boolean arrays of equal length (element-wise).

    Post-order with an explicit stack: a long flat `and` chain is a deep
    left-leaning tree, too deep for recursion.
    """
    results: list[np.ndarray] = []
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        kind = current[0]
        if kind == "name":
            results.append(np.asarray(signals[current[1]], dtype=bool))
        elif not children_done:
            stack.append((current, True))
            stack.extend((child, False) for child in reversed(current[1:]))
        elif kind == "not":
            results.append(~results.pop())
        else:
            right, left = results.pop(), results.pop()
            results.append((left & right) if kind == "and" else (left | right))
    return results[0]


@dataclass(frozen=True)
class Regime:
    """One regime: its name, its parsed `when` (None for the default) and weights."""

    name: str
    when: Node | None
    weights: Mapping[str, float]


def decide(regimes: Sequence[Regime], signals: Mapping[str, np.ndarray]) -> np.ndarray:
    """Position of the decided regime, element-wise: the first regime whose `when` holds.

    Args:
        regimes: in config order; the last one has `when=None` (the default).
        signals: boolean arrays of one common shape (dates, or dates x combinations).

    Returns:
        int64 array of that shape.
    """
    shape = np.shape(next(iter(signals.values()))) if signals else ()
    decided = np.full(shape, len(regimes) - 1, dtype=np.int64)
    for position in range(len(regimes) - 2, -1, -1):  # earlier regimes overwrite later ones
        decided[evaluate(regimes[position].when, signals)] = position
    return decided


def decide_regimes(regimes: Sequence[Regime], signals: pd.DataFrame) -> pd.Series:
    """The decided regime at each date of `signals` (bool frame, one column per signal).

    Returns:
        Integer series (regime position in `regimes`) on the same index.
    """
    columns = {name: signals[name].to_numpy(dtype=bool) for name in signals.columns}
    if not columns:
        columns = {"": np.zeros(len(signals), dtype=bool)}  # only the default regime
    return pd.Series(decide(regimes, columns), index=signals.index, name="regime")


def target_weights(
    regimes: Sequence[Regime], decided: pd.Series, universe: Sequence[str]
) -> pd.DataFrame:
    """Target weights per date from the decided regime (fractions of V; cash = 1 - sum)."""
    table = np.array(
        [[float(regime.weights.get(ticker, 0.0)) for ticker in universe] for regime in regimes]
    )
    return pd.DataFrame(table[decided.to_numpy()], index=decided.index, columns=list(universe))
