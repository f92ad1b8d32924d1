"""Options and small helpers the `rotation` commands share (imports only click)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

DATE = click.DateTime(formats=["%Y-%m-%d"])


def data_dir_option(f: Callable) -> Callable:
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Read prices from <DIR>/<TICKER>.csv instead of the config's source.",
    )(f)


def window_options(f: Callable) -> Callable:
    f = click.option("--end", type=DATE, default=None, help="Override data.end (YYYY-MM-DD).")(f)
    return click.option(
        "--start", type=DATE, default=None, help="Override data.start (YYYY-MM-DD)."
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


def tearsheet_page(folder: Path, wanted: bool) -> Path | None:
    """Write the folder's tearsheet when asked; its path."""
    if not wanted:
        return None
    from engine.tearsheet import write_tearsheet

    return write_tearsheet(folder)


def echo_page(page: Path | None, err: bool = False) -> None:
    """The tearsheet's path; on stderr when stdout carries JSON."""
    if page is not None:
        click.echo(f"Tearsheet: {page}", err=err)
