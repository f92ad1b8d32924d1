"""What a blend overrides in its members, said once per member (engine/config/blend.py):
each key a member's file sets in a section the blend sets for every member (its data,
execution, portfolio, benchmark, stats; a member keeps decide, decide_day and
target_vol), whose value the blend replaces."""

from __future__ import annotations

from typing import Any

from engine.config.blend import BLEND_EXECUTION

SHARED = ("data", "execution", "portfolio", "benchmark", "stats")
"""The sections a blend sets for every member."""

WINDOW = ("source", "dir", "start", "end", "seed")
"""`data` keys a blend sets for every member without a word: one calendar, one source and
one window of dates is what a blend is (the others, close times, series and the cleaning
of prices, change what a member's signals read, and are said)."""


def overrides(raw: dict, config) -> str:
    """'execution.fees_bps 5 (not 2), stats.risk_free 0.02 (not 0)': each key the member's
    file sets in a shared section whose value the blend replaces (but `WINDOW`)."""
    resolved = config.resolved()
    said = []
    for section in SHARED:
        given = raw.get(section)
        if section == "benchmark":
            if given is not None and not _same(given, resolved["benchmark"]):
                said.append(f"benchmark {_text(resolved['benchmark'])} (not {_text(given)})")
            continue
        for key, value in given.items() if isinstance(given, dict) else ():
            if (
                (section, key) == ("portfolio", "target_vol")
                or (section == "execution" and key not in BLEND_EXECUTION)
                or (section == "data" and key in WINDOW)
            ):
                continue
            blend_value = resolved[section].get(key)
            if not _same(value, blend_value):
                said.append(f"{section}.{key} {_text(blend_value)} (not {_text(value)})")
    return ", ".join(said)


def _same(a: Any, b: Any) -> bool:
    """Equal as a config means them: numbers by value, dates as text, mappings and lists
    item by item."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return str(a) == str(b)


def _text(value: Any) -> str:
    """A value as a short text: numbers :g, mappings compact, None as 'unset'."""
    if value is None:
        return "unset"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
