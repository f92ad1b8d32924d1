"""Kinds from installed packages: the registries of signal and score kinds (docs/plugins.md).

A package adds a signal kind or a score kind by naming an instance (or a subclass) of
`strategies.registry.SignalKind` or `strategies.scores.registry.ScoreKind` as an entry
point in the group `rotation.signals` or `rotation.scores`, under the kind's YAML `type`:

    [project.entry-points."rotation.signals"]
    zscore = "rotation_zscore:ZSCORE"

`strategies.signals.SIGNAL_KINDS` and `strategies.scores.SCORE_KINDS` are `Registry`
mappings: the built-in kinds, then the plug-ins of the installed packages, read once,
at the first lookup (engine.config builds its config models from the registries when
it is imported, so a plug-in is validated, swept, drawn and read by `rotation signal`
like a built-in kind). Importing a registry does not read the entry points; a command
that never looks a kind up (`rotation --help`, `rotation data`) never loads a plug-in.

A plug-in that cannot be used is left out with ONE warning on stderr naming the package
and the entry point, and everything else goes on: one that fails to import (any
exception), is not a kind, declares another name than its entry point, takes a built-in
kind's name or one an earlier plug-in took (packages in name order), or whose model
would break the config models (not the kind's base model, no `type: Literal[name]`, a
signal without `series`, sweep keys that are not its fields, no JSON schema).
"""

from __future__ import annotations

import logging
import re
import typing
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

LOGGER = logging.getLogger("rotation.plugins")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Kind = TypeVar("Kind")


@dataclass(frozen=True)
class Origin:
    """Where a plug-in kind comes from: its package (distribution) and entry point."""

    package: str
    version: str
    entry_point: str

    def __str__(self) -> str:
        return f"{self.package} {self.version}"


@dataclass(frozen=True)
class Group:
    """What a registry accepts: its entry-point group, the kind's base class, the base
    of its config models and the fields every model must have."""

    name: str
    what: str
    kind: type
    model: type
    fields: tuple[str, ...]


def warn(message: str) -> None:
    """One line on stderr (through the `rotation.plugins` logger, like engine.notices)."""
    LOGGER.warning("Warning: %s", message.replace("\n", " "))


def _type_tag(model: type) -> tuple[Any, ...]:
    """The values of the model's `type: Literal[...]` field, () when it has none."""
    field = getattr(model, "model_fields", {}).get("type")
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return ()
    return typing.get_args(field.annotation)


def problem(kind: Any, name: str, group: Group) -> str | None:
    """Why `kind`, found under the entry point `name`, cannot join the registry, or None."""
    if not isinstance(kind, group.kind):
        return f"is an object of type {type(kind).__name__!r}, not a {group.kind.__name__}"
    if getattr(kind, "name", None) != name:
        return f"declares the name {getattr(kind, 'name', None)!r}, not its entry point's {name!r}"
    if not NAME.match(name):
        return "needs a lower-case name of letters, digits and _ (it is the YAML `type`)"
    model = getattr(kind, "model", None)
    if not (isinstance(model, type) and issubclass(model, group.model)):
        return f"has a model that is not a subclass of {group.model.__name__}"
    if _type_tag(model) != (name,):
        return f"has a model whose `type` field is not Literal[{name!r}]"
    fields = set(model.model_fields)
    missing = [f for f in group.fields if f not in fields]
    if missing:
        return f"has a model without the field(s) {missing}"
    stray = [k for k in (*kind.sweepable, *kind.whole) if k not in fields]
    if stray or not set(kind.whole) <= set(kind.sweepable):
        return "declares sweepable/whole parameters that are not sweepable fields of its model"
    try:
        model.model_json_schema()
    except Exception as exc:  # a model the config schema could not describe
        return f"has a model without a JSON schema ({type(exc).__name__}: {exc})"
    return None


def _entry_points(group: str) -> list:
    from importlib.metadata import entry_points

    found = entry_points(group=group)
    return sorted(found, key=lambda ep: ((ep.dist.name if ep.dist else ""), ep.name))


def _origin(ep) -> Origin:
    dist = ep.dist
    package, version = (dist.name, dist.version) if dist is not None else ("(unknown)", "")
    return Origin(package, version, f"{ep.name} = {ep.value}")


def discover(group: Group, taken: Mapping[str, Origin | None]) -> Iterator[tuple[Any, Origin]]:
    """(kind, origin) of each usable plug-in of the group; each unusable one is warned
    about once and skipped. `taken`: names already registered (None: built in)."""
    taken = dict(taken)
    for ep in _entry_points(group.name):
        origin = _origin(ep)
        where = (
            f"plug-in {group.what} {ep.name!r} of package {origin} "
            f"(entry point '{origin.entry_point}' in group {group.name})"
        )
        try:
            kind = ep.load()
            if isinstance(kind, type) and issubclass(kind, group.kind):
                kind = kind()
        except (Exception, SystemExit) as exc:
            warn(f"{where} is left out: it fails to load ({type(exc).__name__}: {exc})")
            continue
        why = problem(kind, ep.name, group)
        if why is None and ep.name in taken:
            first = taken[ep.name]
            why = (
                "takes the name of a built-in kind"
                if first is None
                else f"takes a name package {first} registered first"
            )
        if why is not None:
            warn(f"{where} is left out: it {why}")
            continue
        taken[ep.name] = origin
        yield kind, origin


class Registry(MutableMapping, Generic[Kind]):
    """YAML `type` -> kind: the built-in kinds, then the plug-ins, read at the first lookup.

    Behaves as a dict (tests may set or delete entries); `origin(name)` says where a kind
    comes from.
    """

    def __init__(self, group: Group, built_in: Mapping[str, Kind]) -> None:
        self.group = group
        self._kinds: dict[str, Kind] = dict(built_in)
        self._origins: dict[str, Origin | None] = dict.fromkeys(built_in)
        self._loaded = False

    def load(self) -> None:
        """Read the group's entry points (once; later calls do nothing)."""
        if self._loaded:
            return
        self._loaded = True
        for kind, origin in discover(self.group, self._origins):
            self._kinds[kind.name] = kind
            self._origins[kind.name] = origin

    def origin(self, name: str) -> Origin | None:
        """The package a plug-in kind comes from; None for a built-in kind."""
        self.load()
        return self._origins.get(name)

    def plugins(self) -> dict[str, Origin]:
        """Name -> origin of each plug-in kind in the registry."""
        self.load()
        return {n: o for n, o in self._origins.items() if o is not None and n in self._kinds}

    def __getitem__(self, name: str) -> Kind:
        self.load()
        return self._kinds[name]

    def __setitem__(self, name: str, kind: Kind) -> None:
        self.load()
        self._kinds[name] = kind

    def __delitem__(self, name: str) -> None:
        self.load()
        del self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(list(self._kinds))

    def __len__(self) -> int:
        self.load()
        return len(self._kinds)

    def __repr__(self) -> str:
        return f"<{self.group.what}s {sorted(self._kinds)}>"
