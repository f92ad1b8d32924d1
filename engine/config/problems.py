"""Every schema error of a config as one line, the members of a union merged.

`problem_lines` locates each pydantic error (engine/config/walk.py), says it in our
words (engine/config/words.py) and puts the lines in order:

* the errors of the members of one union at one place become one line listing what
  each member accepts (`must be none, monthly or {threshold: x}, not 'weekly'`),
  unless the value has the shape of a member (a mapping for `{threshold: x}`): then
  that member's own errors are kept and the others dropped;
* a required field reported missing beside an unknown key that is its misspelling is
  left out: the unknown key's line says "did you mean" it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from engine.config.walk import Step, discriminator, dotted, locate
from engine.config.words import closest, expected, known_models, message, shown

Located = tuple[dict, list[Step]]


def where(error: dict, steps: list[Step]) -> str:
    """The field of an error as written in the YAML (`regimes[0].weights.IWM`)."""
    path = [s.part for s in steps]
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        key = discriminator(steps[-1].annotation) if steps else None
        path.append(key or "type")
    if steps and steps[-1].role == "key":
        return f"{dotted(path[:-1])}.{path[-1]}"
    return dotted(path) or "(top level)"


def _union_index(steps: list[Step]) -> int | None:
    marked = [i for i, s in enumerate(steps) if s.union]
    return marked[-1] if marked else None


def _merged(group: list[Located]) -> str:
    """One line for the errors of every member of a union at the same place."""
    error, steps = group[0]
    wanted: list[str] = []
    for item, _ in group:
        what = expected(item, shape=True) or message(item, steps)
        for part in re.split(r", | or ", what) if item["type"] == "literal_error" else [what]:
            if part not in wanted:
                wanted.append(part)
    listed = ", ".join(wanted[:-1]) + f" or {wanted[-1]}" if len(wanted) > 1 else wanted[0]
    return f"{where(error, steps)}: must be {listed}, not {shown(error.get('input'))}"


def problem_lines(errors: list[dict], root: type[BaseModel], raw: Any) -> list[str]:
    """Every error of a failed validation of `raw` against `root`, one line each, in order,
    the members of a union merged (see the module docstring)."""
    known_models(root)
    located = [(e, locate(root, e["loc"], raw)) for e in errors]
    misspelt = _misspelt(located)
    located = [
        (e, steps)
        for e, steps in located
        if not (e["type"] == "missing" and tuple(s.part for s in steps) in misspelt)
    ]
    unions: dict[tuple, list[Located]] = {}
    for error, steps in located:
        at = _union_index(steps)
        if at is not None:
            unions.setdefault(tuple(s.part for s in steps[: at + 1]), []).append((error, steps))
    lines: list[str] = []
    for error, steps in located:
        at = _union_index(steps)
        if at is not None:
            group = unions[tuple(s.part for s in steps[: at + 1])]
            deep = [g for g in group if len(g[1]) > at + 1]
            if deep and len(steps) == at + 1:
                continue  # the value has another member's shape: that member's errors say it
            if not deep:
                line = _merged(group)
                if line not in lines:
                    lines.append(line)
                continue
        lines.append(f"{where(error, steps)}: {message(error, steps)}")
    return lines


def _misspelt(located: list[Located]) -> set[tuple]:
    """Paths of the fields that an unknown key beside them is a misspelling of."""
    meant = set()
    for error, steps in located:
        if error["type"] == "extra_forbidden" and steps and steps[-1].model is not None:
            close = closest(steps[-1].part, list(steps[-1].model.model_fields))
            if close is not None:
                meant.add((*(s.part for s in steps[:-1]), close))
    return meant
