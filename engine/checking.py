"""`rotation check`: validate config files of any kind without running them.

Each file is read, its kind told from its content (engine/config/kinds.py), and
validated by that kind's checker with every problem at once; no price is loaded and
nothing is written. `CHECKERS` is the one place a kind's check is registered (a blend,
SPEC 11: engine/config/blend.py, a sweep when it sweeps something). A sweep config's result lists
its axes, their values and the combination count, so what a list means (an axis, or
one blend of a list-valued parameter) is seen before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import read_yaml
from engine.config.kinds import config_kind
from engine.config.load import load_config
from engine.errors import ConfigError
from engine.research.grid import Axis, shown
from engine.terminal import printable

SHOWN_VALUES = 12
"""An axis with more values lists its first `SHOWN_VALUES - 3`, then '...', then its
last two (its count is always said)."""


@dataclass(frozen=True)
class Checked:
    """A valid config file, as `rotation check` reports it.

    Attributes:
        path: the file as given.
        kind: `config`, `sweep` or `blend` (engine/config/kinds.py).
        axes: a sweep's axes in grid order (the last varies fastest); () for a config.
        scenarios: full names of the axes that are scenarios (swept, never chosen).
        detail: what a blend holds (`2 members`), or a config's tranches ("" otherwise).
        notes: what a blend overrides in its members (said as warnings).
    """

    path: Path
    kind: str
    axes: tuple[Axis, ...] = ()
    scenarios: tuple[str, ...] = ()
    detail: str = ""
    notes: tuple[str, ...] = ()

    @property
    def combinations(self) -> int:
        """Configs the file stands for: the grid's size (1 for a plain config)."""
        count = 1
        for axis in self.axes:
            count *= len(axis.values)
        return count

    @property
    def what(self) -> str:
        """'config' or 'sweep config, 2,000 combinations' (the `ok:` line's parenthesis)."""
        if self.kind != "sweep":
            return f"{self.kind}, {self.detail}" if self.detail else self.kind
        count = self.combinations
        return f"sweep config, {count:,} combination{'s' if count != 1 else ''}"

    def lines(self) -> list[str]:
        """The `ok:` line, then for a sweep one line per axis (name, count, values; a
        scenario axis says so) and the product giving the count; names escaped for the
        terminal (engine/terminal.py)."""
        out = [f"ok: {printable(self.path)} ({self.what})"]
        out += [f"  warning: {printable(note)}" for note in self.notes]
        if not self.axes:
            return out
        width = max(len(printable(a.name)) for a in self.axes)
        for axis in self.axes:
            count = len(axis.values)
            values = [shown(v) for v in axis.values]
            if count > SHOWN_VALUES:
                values = [*values[: SHOWN_VALUES - 3], "...", *values[-2:]]
            role = " (scenario: swept, never chosen)" if axis.name in self.scenarios else ""
            noun = "value" if count == 1 else "values"
            name = printable(axis.name).ljust(width)
            out.append(f"  {name}  {count:,} {noun}: {', '.join(values)}{role}")
        product = " x ".join(f"{len(a.values):,}" for a in self.axes)
        out.append(f"  {product} = {self.combinations:,} combinations")
        return out


def _config(path: Path, overrides: dict[str, Any]) -> Checked:
    config = load_config(path, **overrides)
    tranches = config.execution.tranches if not hasattr(config, "members") else None
    if hasattr(config, "members"):  # a config in tranches (engine/config/blend.py)
        tranches = len(config.members)
    return Checked(path, "config", detail=f"in {tranches} tranches" if tranches else "")


def _blend(path: Path, overrides: dict[str, Any]) -> Checked:
    """A blend file: a sweep when it sweeps a weight, a member's or its own key."""
    from engine.config import with_overrides
    from engine.config.blend_members import inline_members
    from engine.limits import MAX_COMBOS
    from engine.research.blend_sweep import blend_axes

    raw = with_overrides(read_yaml(path), path, **overrides)
    inlined, _, _ = inline_members(raw, path.parent, path)
    if blend_axes(inlined, MAX_COMBOS)[0]:
        return _sweep(path, overrides)
    blend = load_config(path, **overrides)
    count = len(blend.members)
    return Checked(path, "blend", detail=f"{count} members", notes=blend.notes)


def _sweep(path: Path, overrides: dict[str, Any]) -> Checked:
    from engine.research.sweep_config import load_sweep
    from engine.research.sweep_summary import check_options

    spec, options = load_sweep(path, **overrides)
    check_options(spec, options)
    return Checked(path, "sweep", tuple(spec.axes), spec.scenarios)


CHECKERS: dict[str, Callable[[Path, dict[str, Any]], Checked]] = {
    "config": _config,
    "sweep": _sweep,
    "blend": _blend,
}
"""kind -> checker: validates the file (raising ConfigError with every problem) and
returns what it is (`Checked`)."""


def check_file(path: str | Path, **overrides: Any) -> Checked:
    """What the valid config file `path` is.

    Args:
        path: a config file of any kind.
        overrides: `data` fields given on the command line, as for `load_config`.

    Raises:
        ConfigError: the file's problems (unreadable, malformed, invalid, or of a kind
            with no checker).
    """
    path = Path(path)
    kind = config_kind(read_yaml(path))
    checker = CHECKERS.get(kind)
    if checker is None:
        raise ConfigError(
            f"{path}: a {kind} config (top-level `{kind}:`); this version does not check "
            f"{kind} configs"
        )
    return checker(path, overrides)
