"""Paths as a folder records them: never an absolute path of the machine that made it.

Run, comparison, sweep and walk-forward folders (and their tearsheets) are made to be
shared, so they say where things came from without saying where they sat:

- a config file: its path relative to the working folder when it lies inside it, else
  its name alone (`shown_path`);
- a CSV price folder: ``csv:<relative path>`` when it lies inside the working folder,
  else ``csv:sha256:<16 hex digits>``, named by the prices read from it (the first
  digits of the manifest's ``data_sha256``; `data_origin`);
- free text (warnings): the working folder's prefix is dropped and any other absolute
  path keeps only its last part (`scrub`);
- config.yaml's ``data.dir``: relative to the run folder itself (a ``dir:`` in a file is
  relative to the file, so it runs again from anywhere) when both the prices and the
  run folder lie inside the working folder; else it is left out and the file says to
  run it again with ``--data-dir DIR`` (`saved_config_text`).

Imports only the standard library (and yaml, inside `saved_config_text`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

HASH_DIGITS = 16  # hex digits of a price folder's content hash in its name
ABSOLUTE = re.compile(r"(?<![\w.~\\/-])(?:[A-Za-z]:)?[\\/](?:[^\s\\/:'\"()<>]+[\\/])+")
"""The folders of an absolute POSIX or Windows path inside a sentence (up to its last part)."""


def _inside_cwd(path: str | Path) -> Path | None:
    """`path` relative to the working folder when it lies inside it, else None."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return None


def shown_path(path: str | Path | None) -> str | None:
    """A file's path as a folder records it: relative to the working folder when inside
    it (``configs/spy.yaml``), else its name (``spy.yaml``); None stays None."""
    if path is None:
        return None
    relative = _inside_cwd(path)
    return relative.as_posix() if relative is not None else Path(path).name


def data_origin(data: Any, data_sha256: str) -> str:
    """Where prices came from, for the record: ``csv:<relative dir>`` or
    ``csv:sha256:<digits>`` (see the module docstring), ``synthetic:seed=<n>`` or
    ``yfinance``. `data`: a config's DataConfig; `data_sha256`: the prices' hash."""
    if data.source == "csv":
        relative = _inside_cwd(data.dir) if data.dir is not None else None
        if relative is not None:
            return f"csv:{relative.as_posix()}"
        return f"csv:sha256:{data_sha256[:HASH_DIGITS]}"
    if data.source == "synthetic":
        return f"synthetic:seed={data.seed or 0}"
    return "yfinance"


def scrub(value: Any) -> Any:
    """`value` (a string, or lists and dicts of them) with no absolute path left: the
    working folder's prefix dropped, any other absolute path cut to its last part."""
    if isinstance(value, str):
        cwd = str(Path.cwd().resolve())
        text = value.replace(cwd + os.sep, "") if cwd != os.sep else value
        return ABSOLUTE.sub("", text)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


OUTSIDE_NOTE = (
    "# data.dir is left out: the price folder lay outside the working folder (manifest.json\n"
    "# names it by the hash of its prices). Run this file again with --data-dir DIR.\n"
)


def saved_config_text(resolved: dict, folder: Path) -> str:
    """config.yaml of a run folder at `folder`: the resolved config, its ``data.dir``
    relative to `folder` or left out (see the module docstring)."""
    import yaml

    data = dict(resolved.get("data") or {})
    note = ""
    if data.get("dir") is not None:
        inside = _inside_cwd(data["dir"]) is not None and _inside_cwd(folder) is not None
        if inside:
            data["dir"] = Path(os.path.relpath(Path(data["dir"]).resolve(), folder.resolve()))
            data["dir"] = data["dir"].as_posix()
        else:
            del data["dir"]
            note = OUTSIDE_NOTE
    return note + yaml.safe_dump({**resolved, "data": data}, sort_keys=False)
