"""Options and small helpers the `rotation` commands share (imports only click)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.errors import ConfigError
from engine.limits import FIRST_YEAR, LAST_YEAR

DATE = click.DateTime(formats=["%Y-%m-%d"])


class WindowDate(click.ParamType):
    """A YYYY-MM-DD date within FIRST_YEAR..LAST_YEAR, the years a config may use.

    A malformed date is click's usual usage error; a well-formed one outside the
    years is a ConfigError (one `Error:` line naming the option, exit code 2).
    """

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        parsed = DATE.convert(value, param, ctx)
        if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
            option = param.opts[0] if param is not None else "date"
            raise ConfigError(
                f"{option} {parsed.date()}: must be in the years {FIRST_YEAR} to {LAST_YEAR}"
            )
        return parsed


def data_dir_option(f: Callable) -> Callable:
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Read prices from <DIR>/<TICKER>.csv instead of the config's source.",
    )(f)


def window_options(f: Callable) -> Callable:
    f = click.option(
        "--end", type=WindowDate(), default=None, help="Override data.end (YYYY-MM-DD)."
    )(f)
    return click.option(
        "--start", type=WindowDate(), default=None, help="Override data.start (YYYY-MM-DD)."
    )(f)


def out_option(default: str) -> Callable[[Callable], Callable]:
    return click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=None,
        help=f"Folder to write (default: runs/{default}-<timestamp>/).",
    )


def json_option(what: str) -> Callable[[Callable], Callable]:
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} to stdout.")


def tearsheet_option(f: Callable) -> Callable:
    return click.option(
        "--tearsheet",
        is_flag=True,
        help="Also write tearsheet.html (one offline HTML page) into the folder.",
    )(f)


def overrides(
    data_dir: Path | None, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> dict[str, Any]:
    """`data` fields given on the command line (None = not given)."""
    given: dict[str, Any] = {
        "start": start.date() if start else None,
        "end": end.date() if end else None,
    }
    if data_dir is not None:
        given |= {"source": "csv", "dir": data_dir}
    return given


def default_run_dir(name: str) -> Path:
    """runs/<name>-<timestamp>/, suffixed when two runs share a second."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path("runs") / f"{name}-{stamp}-{suffix}"
    return path


STAMP_BYTES = len("-20250101-120000-99")  # what default_run_dir adds to a name, at most


def check_output(out: Path | None, name: str, origin: Path | str, kind: str = "") -> None:
    """Fail now, before any backtest, if the folder a command will write (--out, else
    runs/<name><kind>-<timestamp>/) could not be written: a bad --out or a `name` too
    long for a folder name costs nothing (`origin` is the config file naming it).

    The default folder's name is chosen again when writing (default_run_dir), so two
    runs started in the same second still get folders of their own.
    """
    from engine.errors import ConfigError
    from engine.report.folders import check_destination, name_max

    if out is None:
        limit = name_max(Path("runs")) - len(kind.encode()) - STAMP_BYTES
        if len(name.encode()) > limit:
            raise ConfigError(
                f"{origin}: name: {len(name)} characters is too long for the folder name "
                f"runs/<name>{kind}-<timestamp> (at most {limit}); shorten it or pass --out"
            )
        out = default_run_dir(f"{name}{kind}")
    check_destination(out)


def tearsheet_page(folder: Path, wanted: bool) -> Path | None:
    """Write the folder's tearsheet when asked; its path."""
    if not wanted:
        return None
    from engine.report.tearsheet import write_tearsheet

    return write_tearsheet(folder)


def echo_page(page: Path | None, err: bool = False) -> None:
    """The tearsheet's path; on stderr when stdout carries JSON."""
    if page is not None:
        from engine.terminal import say

        say(f"Tearsheet: {page}", err=err)
