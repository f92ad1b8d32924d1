"""What kind of file a parsed config is, told from its content.

* ``blend``: a top-level `blend:` list of member configs (SPEC 11,
  engine/config/blend.py, read by engine.config.load), run by `rotation run` like a
  config, or by `rotation sweep` when a weight, a member's parameter or one of its own
  is swept (`blend_swept`).
* ``sweep``: a `sweep:` section, or a numeric parameter written as a list or a range
  (engine/research/grid.py): run it with `rotation sweep`.
* ``config``: anything else, an ordinary config (`rotation run`).

`KIND_TESTS` is the one place a kind is recognised (the first test that holds wins);
`COMMANDS` says which command runs each kind.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import ConfigError


def _swept(raw: dict) -> list[str]:
    from engine.research.grid import swept  # the grid's own reading of lists and ranges

    return swept(raw)


KIND_TESTS: tuple[tuple[str, Callable[[dict], object]], ...] = (
    ("blend", lambda raw: "blend" in raw),
    ("sweep", lambda raw: "sweep" in raw or _swept(raw)),
)
"""(kind, test on the parsed YAML) in order; a file none holds for is a `config`."""

COMMANDS = {"config": "rotation run", "sweep": "rotation sweep", "blend": "rotation run"}
"""The command that runs each kind."""


def blend_swept(raw: dict) -> list[str]:
    """Dotted names of what a blend file sweeps: its own keys (`execution.fees_bps`), a
    member's weight (`blend[0].weight`) and an inline member's parameters
    (`blend[1].signals.brk.entry`); a member file's are found when it is read."""
    from engine.research.grid import swept

    names = swept({k: v for k, v in raw.items() if k != "blend"})
    entries = raw.get("blend")
    for j, entry in enumerate(entries if isinstance(entries, list) else ()):
        if not isinstance(entry, dict):
            continue
        weight = entry.get("weight")
        if isinstance(weight, list) or (isinstance(weight, dict) and weight):
            names.append(f"blend[{j}].weight")
        member = {k: v for k, v in entry.items() if k not in ("config", "weight")}
        names += [f"blend[{j}].{name}" for name in swept(member)]
    return names


def config_kind(raw: dict) -> str:
    """`blend`, `sweep` or `config` (see the module docstring)."""
    return next((kind for kind, test in KIND_TESTS if test(raw)), "config")


def refuse_other_kinds(raw: dict, origin: str, wanted: str = "config") -> None:
    """Raise a one-line ConfigError when `raw` is not of the kind `wanted`, saying which
    command runs it."""
    kind = config_kind(raw)
    names = blend_swept(raw) if kind == "blend" else _swept(raw) if kind == "sweep" else []
    if kind == wanted and not (kind == "blend" and names):
        return
    if kind == "sweep" or names:
        why = f"{names[0]} is swept" if names else "it has a `sweep:` section"
        raise ConfigError(
            f"{origin}: a sweep config ({why}); run it with `rotation sweep {origin}`, "
            "or give each parameter one value"
        )
    raise ConfigError(
        f"{origin}: a {kind} config (top-level `{kind}:`); read it with "
        "engine.config.load.load_config (as `rotation run` does)"
    )
