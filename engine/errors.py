"""User-facing errors: one clear line, exit code 2, no traceback.

Every error a user can cause (a bad config, missing data) is raised as a
`RotationError`; click prints its message as ``Error: <message>`` and exits
with code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import click


class RotationError(click.ClickException):
    """Base class of the errors a user can fix."""

    exit_code = 2


class ConfigError(RotationError):
    """The YAML config is missing, malformed or invalid."""


class DataError(RotationError):
    """Prices are missing, too short or unusable for the config."""
