"""Checks of the API's arguments: a bad one is one RotationError naming it, before any
work (not an AttributeError deep in a run). Only the standard library is imported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from engine.config import Config

Day = str | dt.date | None  # 'YYYY-MM-DD' or a date; None: as in the config
ConfigLike = Union["Config", str, Path, Mapping[str, Any]]


def refuse(argument: str, problem: str, value: object) -> None:
    """Raise the RotationError `<argument>: <problem>; got <type> <value>`."""
    from engine.errors import RotationError

    raise RotationError(f"{argument}: {problem}; got {type(value).__name__} {shown(value)}")


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_source(source: object) -> None:
    """A `source` that is not a price source (something with a ``load(tickers)``)."""
    if source is not None and not callable(getattr(source, "load", None)):
        refuse(
            "source",
            "expected a price source with a load(tickers) method, such as "
            "engine.data.MemorySource(frames)",
            source,
        )


def whole(argument: str, value: object, least: int = 1, none: bool = False) -> None:
    """`value` must be a whole number >= `least` (or None when `none`)."""
    if value is None and none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        extra = " (or None for the default)" if none else ""
        refuse(argument, f"must be a whole number >= {least}{extra}", value)


def check_max_combos(max_combos: object) -> None:
    whole("max_combos", max_combos, 1, none=True)


def text(argument: str, value: object, example: str) -> None:
    """`value` must be text, e.g. `example`."""
    if not isinstance(value, str):
        refuse(argument, f"expected text such as {example!r}", value)


def config_like(argument: str, value: object) -> None:
    """`value` must be a config file's path, a dict shaped like a config or a Config."""
    from engine.config import Config

    if not isinstance(value, (str, Path, Mapping, Config)):
        refuse(argument, "expected a config file's path, a dict shaped like one or a Config", value)


def day(argument: str, value: object) -> dt.date | None:
    """A date from a date or 'YYYY-MM-DD' text (None stays None)."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    refuse(argument, "expected a date or text YYYY-MM-DD", value)
    return None  # unreachable: refuse raises


def overrides(data_dir: str | Path | None, start: Day, end: Day) -> dict[str, Any]:
    """The `data` fields given, as `load_config` takes them."""
    given: dict[str, Any] = {"start": start, "end": end}
    if data_dir is not None:
        given |= {"source": "csv", "dir": Path(data_dir)}
    return given
