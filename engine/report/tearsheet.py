"""Tearsheets: one self-contained HTML page per run, comparison, sweep, walk-forward or
timing folder.

The page is built only from the folder's files (nothing is backtested again), read
and checked by engine.report.readback, with plotly.js inlined once so it opens
offline, and written atomically as `tearsheet.html` inside the folder: the staging
file is made first (an unwritable folder fails before any work), then renamed over
the old page. The same folder gives the same bytes.

Modules: readback (reading a folder, checked), tearsheet_data (display series through
engine.metrics.stats), tearsheet_html (page, tables, escaping), tearsheet_run (a run's
page), tearsheet_multi (comparison and sweep pages), tearsheet_walkforward,
tearsheet_timing, tearsheet_blend (a blend's members, on its run page), plots.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.errors import RotationError
from engine.report.readback import folder_kind

FILENAME = "tearsheet.html"
UNEXPECTED = (KeyError, IndexError, TypeError, ValueError, AttributeError, ZeroDivisionError)
"""What building a page from files that passed the checks yet do not fit together raises."""

__all__ = ["FILENAME", "build_page", "folder_kind", "write_tearsheet"]


def build_page(folder: Path) -> str:
    """The HTML text of the tearsheet of a run, comparison, sweep, walk-forward or timing
    folder."""
    from engine.report import tearsheet_data as data

    kind = folder_kind(folder)
    if kind == "walk-forward":
        from engine.report import tearsheet_walkforward as walkforward

        folder_files = walkforward.read_walkforward(folder)
        return _built(folder, walkforward.walkforward_page, folder_files)
    if kind == "timing":
        from engine.report.tearsheet_timing import timing_page

        return _built(folder, timing_page, folder)
    if kind == "run":
        from engine.report.tearsheet_run import run_page

        return _built(folder, run_page, data.read_run(folder))
    from engine.report import tearsheet_multi

    if kind == "comparison":
        return _built(folder, tearsheet_multi.comparison_page, data.read_comparison(folder))
    return _built(folder, tearsheet_multi.sweep_page, data.read_sweep(folder))


def _built(folder: Path, page, files) -> str:
    """page(files), a page failing on files that passed readback's checks an error too."""
    try:
        return page(files)
    except UNEXPECTED as exc:
        raise RotationError(
            f"{folder}: its files do not fit together ({type(exc).__name__}: {exc}); make "
            "the folder again (if it is untouched, this is a bug: please report it)"
        ) from None


def write_tearsheet(folder: Path) -> Path:
    """Build the page and write it as FOLDER/tearsheet.html (temp file, then rename)."""
    folder = Path(folder)
    folder_kind(folder)  # not a folder of ours: say so before anything is written
    try:
        handle, staging = tempfile.mkstemp(prefix=f".{FILENAME}.", dir=folder)
    except OSError as exc:
        raise _unwritable(folder, exc) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(build_page(folder))
        os.chmod(staging, 0o644)
        destination = folder / FILENAME
        os.replace(staging, destination)
    except OSError as exc:
        Path(staging).unlink(missing_ok=True)
        raise _unwritable(folder, exc) from None
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return destination


def _unwritable(folder: Path, exc: OSError) -> RotationError:
    return RotationError(
        f"{folder / FILENAME}: cannot write it ({exc.strerror or exc}); make the folder "
        "writable, or copy the folder and run `rotation tearsheet` on the copy"
    )
