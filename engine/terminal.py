"""Text bound for the terminal, with its control characters made visible.

Names a user writes (regime, signal and config names, descriptions) may hold any
character. Printed raw, an escape sequence such as ``ESC[31m`` recolours the terminal,
moves its cursor or rewrites its title, and a bidirectional override reorders what
follows it. `printable` shows each such character as its Python escape instead
(``\\x1b``, ``\\x07``, ``\\u202e``), so the name reaches the screen as visible text.
Errors (engine.errors), warnings (engine.notices), the report's tables and every CLI
line (`say`) use it. Imports only the standard library (click inside `say`).
"""

from __future__ import annotations

import re

CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
"""C0 and C1 control characters, DEL, and the Unicode marks that reorder or break lines
(newline is handled apart: see `printable`)."""


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, newlines: bool = False) -> str:
    """`text` with every control character written as its escape (ESC -> ``\\x1b``).

    Args:
        text: anything; it is converted with str().
        newlines: keep line breaks (a message of several lines); else they are escaped
            too (``\\x0a``), so one name stays on one line.
    """
    out = CONTROL.sub(_escaped, str(text))
    return out if newlines else out.replace("\n", "\\x0a")


def say(text: object, err: bool = False) -> None:
    """Print `text` (one line or several) on stdout, or stderr with `err`, through
    `printable`: every line of the CLI that can hold a user's name or path goes here (or
    through engine.report.plain for rich output)."""
    import click

    click.echo(printable(text, newlines=True), err=err)
