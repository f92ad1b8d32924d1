"""Warnings a user should see but that do not stop a run (a repair, offline use).

Each is one line on stderr, ``Warning: <message>``, through the ``rotation.data``
logger: with no logging set up, Python prints exactly that line to stderr
(stdout stays clean for ``--json``); an application or a test (pytest's
``caplog``) that sets up logging receives the records instead. Warnings about
what shaped a result (an end cut short, a signal still undefined, an asset not yet
rankable) also go to the run's or sweep's manifest.json (`warn_shaped`, `collected`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

LOGGER = logging.getLogger("rotation.data")


def warn(message: str) -> None:
    """Report one problem that was worked around (one line, no newline inside)."""
    from engine.terminal import printable

    LOGGER.warning("Warning: %s", printable(message.replace("\n", " ")))


_collectors: list[list[str]] = []
_prefixes: list[str] = []


def warn_shaped(message: str) -> None:
    """Report something that silently shaped a result (stderr, and the manifest of the run
    or sweep being collected: see `collected`), after the prefixes of `prefixed`."""
    message = "".join(_prefixes) + message
    warn(message)
    for notes in _collectors:
        notes.append(message.replace("\n", " "))


@contextmanager
def collected() -> Iterator[list[str]]:
    """Collect the `warn_shaped` messages given inside the block (for manifest.json)."""
    notes: list[str] = []
    _collectors.append(notes)
    try:
        yield notes
    finally:
        _collectors.remove(notes)


@contextmanager
def prefixed(text: str) -> Iterator[None]:
    """Begin every `warn_shaped` message given inside the block with `text` (a blend's
    member: `blend[1] gem: `)."""
    _prefixes.append(text)
    try:
        yield
    finally:
        _prefixes.pop()
