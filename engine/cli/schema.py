"""`rotation schema`: the JSON Schema of config files, for editors and validators
(engine/config/schema.py builds it from the config's own models).

Only click is imported at module level; the models, the registries and so the plug-ins
are read inside the command.
"""

from __future__ import annotations

import click


@click.command("schema")
@click.option(
    "--kind",
    metavar="KIND",
    default=None,
    help="Only this kind of file: config, sweep (a config with axes and `sweep:`) or the "
    "kinds added later (default: any config file, told apart as `rotation check` does).",
)
@click.option(
    "--builtin",
    is_flag=True,
    help="Built-in signal and score kinds only, as schema/rotation.schema.json "
    "(default: also the installed plug-ins' kinds).",
)
def schema_command(kind: str | None, builtin: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of a config file.

    Point an editor at it for completion, descriptions and squiggles under unknown keys:
    `# yaml-language-server: $schema=PATH` as a config's first line (VS Code's YAML
    extension), PATH relative to the config, e.g. `rotation schema > rotation.schema.json`.
    The schema checks each file's shape; `rotation check` also checks the rules between
    fields."""
    from engine.config.schema import FILE_KINDS, text
    from engine.errors import RotationError

    if kind is not None and kind not in FILE_KINDS:
        known = ", ".join(FILE_KINDS)
        raise RotationError(f"--kind: {kind!r} is not a kind of config file; use one of {known}")
    click.echo(text(kind, plugins=not builtin), nl=False)
