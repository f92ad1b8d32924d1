"""User-facing errors: one clear line, exit code 2, no traceback.

Every error a user can cause (a bad config, missing data) is raised as a
`RotationError`; click prints its message as ``Error: <message>`` and exits
with code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import click


class RotationError(click.ClickException):
    """Base class of the errors a user can fix. Its message reaches the terminal with its
    control characters made visible (engine.terminal.printable): a name quoted in it
    cannot recolour or rewrite the screen."""

    exit_code = 2

    def format_message(self) -> str:
        from engine.terminal import printable

        return printable(self.message, newlines=True)


class ConfigError(RotationError):
    """The YAML config is missing, malformed or invalid."""

    MAX_LISTED = 30  # problems listed one per line; the rest are counted

    @classmethod
    def listing(cls, origin: str, problems: list[str]) -> ConfigError:
        """One problem: one line. Several: a one-line header naming the file, then one
        problem per line (the first MAX_LISTED, then how many more)."""
        if len(problems) == 1:
            return cls(f"{origin}: 1 problem: {problems[0]}")
        if len(problems) > cls.MAX_LISTED:
            more = len(problems) - cls.MAX_LISTED
            problems = [*problems[: cls.MAX_LISTED], f"... and {more} more of the same kinds"]
        return cls(f"{origin}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems))


class DataError(RotationError):
    """Prices are missing, too short or unusable for the config."""
