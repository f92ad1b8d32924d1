"""What kind of file a parsed config is, told from its content.

* ``blend``: a top-level `blend:` list of member configs (SPEC 11, added by a later
  issue: until then it is refused by name).
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


def config_kind(raw: dict) -> str:
    """`blend`, `sweep` or `config` (see the module docstring)."""
    return next((kind for kind, test in KIND_TESTS if test(raw)), "config")


def refuse_other_kinds(raw: dict, origin: str, wanted: str = "config") -> None:
    """Raise a one-line ConfigError when `raw` is not of the kind `wanted`, saying which
    command runs it."""
    kind = config_kind(raw)
    if kind == wanted:
        return
    if kind == "sweep":
        names = _swept(raw)
        why = f"{names[0]} is swept" if names else "it has a `sweep:` section"
        raise ConfigError(
            f"{origin}: a sweep config ({why}); run it with `rotation sweep {origin}`, "
            "or give each parameter one value"
        )
    raise ConfigError(
        f"{origin}: a {kind} config (top-level `{kind}:`); this version does not run {kind} configs"
    )
