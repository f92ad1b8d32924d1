"""Reading any config a command runs: a plain config, a blend, a config in tranches.

engine.config reads plain configs; this module adds the two kinds built on them
(engine/config/blend.py): a file with a top-level `blend:` becomes a `Blend` (its member
files read relative to it), and a config with `execution.tranches: N` the blend of its
N tranches. Every command and the Python API load configs through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import Config, check_config, read_yaml, with_overrides
from engine.config.blend import tranche_blend
from engine.config.blend_members import blend_from_dict
from engine.config.kinds import config_kind, refuse_other_kinds
from engine.errors import ConfigError


def config_from_dict(raw: Any, origin: str = "<config>", path: Path | None = None) -> Config:
    """Validate a parsed YAML mapping (apply `with_overrides` first): a plain config, a
    blend (its member files relative to `path`'s folder, default the working folder) or
    a config in tranches (then the Blend of its tranches).

    Raises:
        ConfigError: listing every problem found.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys (name:, data:, ...)")
    if "blend" in raw:
        return blend_from_dict(raw, origin, path.parent if path is not None else None, path)
    config, problems = check_config(raw)
    if problems:
        raise ConfigError.listing(origin, problems)
    return tranche_blend(config) if config.execution.tranches is not None else config


def load_config(path: str | Path, **overrides: Any) -> Config:
    """Read and validate a config file of any kind `rotation run` takes (engine.config's
    `load_config`, and blends and tranches: the module docstring).

    Raises:
        ConfigError: every problem at once; or one line when the file is a sweep config
            (a blend with a swept weight or member too), naming `rotation sweep`.
    """
    path = Path(path)
    raw = read_yaml(path)
    refuse_other_kinds(raw, str(path), "blend" if config_kind(raw) == "blend" else "config")
    return config_from_dict(with_overrides(raw, path, **overrides), str(path), path)
