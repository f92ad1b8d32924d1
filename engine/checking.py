"""`rotation check`: validate config files of any kind without running them.

Each file is read, its kind told from its content (engine/config/kinds.py), and
validated by that kind's checker with every problem at once; no price is loaded and
nothing is written. `CHECKERS` is the one place a kind's check is registered: a new
kind (blend configs, SPEC 11) adds its checker there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import load_config, read_yaml
from engine.config.kinds import config_kind
from engine.errors import ConfigError


def _config(path: Path, overrides: dict[str, Any]) -> str:
    load_config(path, **overrides)
    return "config"


def _sweep(path: Path, overrides: dict[str, Any]) -> str:
    from engine.research.sweep_config import load_sweep
    from engine.research.sweep_summary import check_options

    spec, options = load_sweep(path, **overrides)
    check_options(spec, options)
    return f"sweep config, {spec.size:,} combination{'s' if spec.size != 1 else ''}"


CHECKERS: dict[str, Callable[[Path, dict[str, Any]], str]] = {
    "config": _config,
    "sweep": _sweep,
}
"""kind -> checker: validates the file (raising ConfigError with every problem) and
returns what it is, for the `ok:` line ('config', 'sweep config, 12 combinations')."""


def check_file(path: Path, **overrides: Any) -> str:
    """What the valid config file `path` is ('config', 'sweep config, N combinations').

    Args:
        overrides: `data` fields given on the command line, as for `load_config`.

    Raises:
        ConfigError: the file's problems (unreadable, malformed, invalid, or of a kind
            with no checker).
    """
    kind = config_kind(read_yaml(path))
    checker = CHECKERS.get(kind)
    if checker is None:
        raise ConfigError(
            f"{path}: a {kind} config (top-level `{kind}:`); this version does not check "
            f"{kind} configs"
        )
    return checker(path, overrides)
