"""Tearsheets: one self-contained HTML page per run, comparison or sweep folder.

The page is built only from the folder's files (nothing is backtested again),
with plotly.js inlined once so it opens offline, and written atomically as
`tearsheet.html` inside the folder. The same folder gives the same bytes.

Modules: tearsheet_data (reading a folder, display series through engine.metrics.stats),
tearsheet_html (page, tables, escaping), tearsheet_run (a run's page),
tearsheet_multi (comparison and sweep pages), plots (the figures).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.report.tearsheet_data import folder_kind

FILENAME = "tearsheet.html"

__all__ = ["FILENAME", "build_page", "folder_kind", "write_tearsheet"]


def build_page(folder: Path) -> str:
    """The HTML text of the tearsheet of a run, comparison, sweep or walk-forward folder."""
    from engine.report import tearsheet_data as data
    from engine.report import tearsheet_walkforward as walkforward

    if walkforward.is_walkforward(folder):
        return walkforward.walkforward_page(walkforward.read_walkforward(folder))
    kind = folder_kind(folder)
    if kind == "run":
        from engine.report.tearsheet_run import run_page

        return run_page(data.read_run(folder))
    from engine.report import tearsheet_multi

    if kind == "comparison":
        return tearsheet_multi.comparison_page(data.read_comparison(folder))
    return tearsheet_multi.sweep_page(data.read_sweep(folder))


def write_tearsheet(folder: Path) -> Path:
    """Build the page and write it as FOLDER/tearsheet.html (temp file, then rename)."""
    folder = Path(folder)
    text = build_page(folder)
    handle, staging = tempfile.mkstemp(prefix=f".{FILENAME}.", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(staging, 0o644)
        destination = folder / FILENAME
        os.replace(staging, destination)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return destination
