"""Warnings a user should see but that do not stop a run (a repair, offline use).

Each is one line on stderr, ``Warning: <message>``, through the ``rotation.data``
logger: with no logging set up, Python prints exactly that line to stderr
(stdout stays clean for ``--json``); an application or a test (pytest's
``caplog``) that sets up logging receives the records instead.
"""

from __future__ import annotations

import logging

LOGGER = logging.getLogger("rotation.data")


def warn(message: str) -> None:
    """Report one problem that was worked around (one line, no newline inside)."""
    LOGGER.warning("Warning: %s", message.replace("\n", " "))
