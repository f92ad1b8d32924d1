"""`signal`, `check`, `kinds` and `schema` of engine.api: what `rotation signal`, `rotation
check`, `rotation kinds` and `rotation schema` say, as values, through the same functions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import engine.api._args as _args
from engine.api._args import ConfigLike
from engine.api._runs import load

if TYPE_CHECKING:
    from engine.answer import SignalState
    from engine.checking import Checked
    from engine.data import PriceSource
    from strategies.catalog import KindInfo


def signal(
    config: ConfigLike,
    data_dir: str | Path | None = None,
    *,
    source: PriceSource | None = None,
    refresh: bool = False,
    today: str | dt.date | None = None,
) -> SignalState:
    """What to hold at the next session, as `rotation signal` says: the config run to the
    latest close in its data (``data.end`` is ignored).

    Args:
        config: a file, a dict or a `Config` (see `load`).
        source: prices to use instead of the config's own.
        refresh: yfinance only: fetch every ticker's whole history again.
        today: the date staleness is counted to (a date or 'YYYY-MM-DD'; default
            ``$ROTATION_TODAY``, else the machine's date).

    Returns:
        An `engine.answer.SignalState`: `regime`, `target`, `trade`, `as_of`, `stale`,
        `warnings`, the whole `state` (what ``--json`` prints: `json()`), the sentences
        (`lines()`) and the run behind it (`result`).
    """
    from engine.answer import answer
    from engine.freshness import today as machine_today

    on = _args.day("today", today)
    on = machine_today() if on is None else on  # a bad $ROTATION_TODAY: before any work
    _args.check_source(source)
    _args.config_like("config", config)
    return answer(load(config, data_dir), source, on, refresh)


def check(path: str | Path, data_dir: str | Path | None = None) -> Checked:
    """Validate a config file of any kind without running it or reading prices, as
    `rotation check` does.

    Returns:
        An `engine.checking.Checked`: `kind` (`config` or `sweep`), a sweep's `axes` (each
        with its `values`), `scenarios` and `combinations`, and `lines()` as printed.

    Raises:
        engine.errors.ConfigError: every problem of the file.
    """
    from engine.checking import check_file

    if not isinstance(path, (str, Path)):
        _args.refuse("path", "expected a config file's path", path)
    return check_file(path, **_args.overrides(data_dir, None, None))


def kinds() -> list[KindInfo]:
    """Every signal kind, then every score kind, built-in and from installed plug-ins, with
    its fields (what `rotation kinds` lists), as `strategies.catalog.KindInfo` values."""
    from strategies.catalog import kind_infos

    return kind_infos()


def schema(kind: str | None = None, plugins: bool = True) -> dict:
    """The JSON Schema (draft 2020-12) of a config file, as `rotation schema` prints it.

    Args:
        kind: only this kind of file (`config`, `sweep`, ...); None: any config file.
        plugins: also accept the installed plug-in kinds' entries (False: built-in kinds
            only, as schema/rotation.schema.json).

    Returns:
        The schema as a dict, ready for `jsonschema.Draft202012Validator`.
    """
    from engine.config.schema import FILE_KINDS, document

    if kind is not None and kind not in FILE_KINDS:
        _args.refuse("kind", f"expected one of {', '.join(FILE_KINDS)}", kind)
    return document(kind, plugins)
