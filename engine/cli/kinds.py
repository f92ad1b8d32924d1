"""`rotation kinds`: every signal kind and score kind, built-in and plug-in, with its fields.

Only click is imported at module level; the registries (and so the plug-ins) are read
inside the command.
"""

from __future__ import annotations

from typing import Any

import click

from engine.cli.options import json_option


def _default(field: dict[str, Any]) -> str:
    import json

    if field["required"]:
        return "required"
    return "default " + ("none" if field["default"] is None else json.dumps(field["default"]))


def kind_lines(kind: dict[str, Any]) -> list[str]:
    """One kind as text: a header (name, origin), its summary, one line per field."""
    origin = kind["origin"]
    if kind["package"]:
        origin += f" from {kind['package']} ({kind['entry_point']})"
    lines = [f"{kind['name']}  [{origin}]"]
    if kind["summary"]:
        lines.append(f"  {kind['summary']}")
    width = max((len(f["name"]) for f in kind["fields"]), default=0)
    kinds = max((len(f["type"]) for f in kind["fields"]), default=0)
    for field in kind["fields"]:
        notes = [_default(field)]
        if field["sweepable"]:
            notes.append("sweepable")
        if field["input"]:
            notes.append("input")
        lines.append(f"    {field['name']:<{width}}  {field['type']:<{kinds}}  {', '.join(notes)}")
    return lines


def catalog_lines(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The whole listing: signal kinds, then score kinds, each with its count by origin."""
    lines: list[str] = []
    for title, key in (("Signal kinds", "signals"), ("Score kinds", "scores")):
        kinds = found[key]
        plugins = sum(k["origin"] == "plug-in" for k in kinds)
        count = f"{len(kinds) - plugins} built-in" + (f", {plugins} plug-in" if plugins else "")
        lines += [f"{title} ({count}): `type:` in `{key}:` entries", ""]
        for kind in kinds:
            lines += [*kind_lines(kind), ""]
    return lines


@click.command("kinds")
@json_option("every kind as JSON")
def kinds_command(as_json: bool) -> None:
    """List every signal kind and score kind (built-in and from installed plug-ins) with
    its fields, defaults and which a sweep may vary."""
    import json

    from strategies.catalog import catalog

    found = catalog()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    from engine.terminal import say

    for line in catalog_lines(found):
        say(line)
