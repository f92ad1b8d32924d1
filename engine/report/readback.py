"""Reading a run, comparison, sweep or walk-forward folder back: the one checked loader.

`rotation tearsheet` (and anything else reading a folder the engine wrote) calls
`read_folder`. It tells the folder's kind from the one file that marks it, then reads
every file of that kind (engine.report.readback_kinds lists them) and checks it
before any page code sees it:

1. the file is there (unless optional), is a regular file (a FIFO, device or folder is
   never opened: opening a FIFO would wait forever) and is not a symbolic link leading
   outside the folder;
2. JSON and YAML parse and have the keys and types the pages read; CSV and parquet
   files have a header with the columns the pages read, dates that are dates, numbers
   that are numbers, and rows where rows are needed;
3. the files agree with each other (readback_kinds' checks across files).

Any problem is one `RotationError` naming the file and what is wrong, ending with how
to make the folder again. Nothing is written here.
"""

from __future__ import annotations

import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import RotationError
from engine.report.readback_kinds import KINDS
from engine.report.readback_shapes import FileSpec, Mismatch, Problem, Table, check

MAX_BYTES = 1 << 31  # 2 GiB: far above any folder's file (top.parquet: a few hundred rows)


@dataclass(frozen=True)
class Files:
    """A folder read back: its path (as given), kind, and each file's checked content
    (None for an optional file that is absent). JSON and YAML as plain values, CSV and
    parquet as DataFrames (dates left as YYYY-MM-DD text)."""

    path: Path
    kind: str
    content: dict[str, Any]
    texts: dict[str, str]  # the YAML files as written

    def __getitem__(self, name: str) -> Any:
        return self.content[name]


def folder_kind(folder: Path) -> str:
    """'walk-forward', 'comparison', 'sweep', 'timing' or 'run', from the file that marks it."""
    folder = Path(folder)
    if not folder.exists():
        raise RotationError(
            f"{folder}: no such folder; give a run, comparison, sweep or walk-forward folder"
        )
    if not folder.is_dir():
        raise RotationError(f"{folder}: is a file, not a folder; give the folder that holds it")
    for kind in KINDS.values():
        if os.path.lexists(folder / kind.marker):
            return kind.name
    present = {
        name: sum(os.path.lexists(folder / f) for f, s in kind.files.items() if not s.optional)
        for name, kind in KINDS.items()
    }
    likely = max(present, key=present.get)
    if present[likely] >= 2:  # the marker alone is gone: say so
        kind = KINDS[likely]
        raise RotationError(f"{folder / kind.marker}: missing; {kind.again}")
    wanted = ", ".join(f"{kind.marker} ({kind.name})" for kind in KINDS.values())
    raise RotationError(
        f"{folder}: not a folder rotation wrote (it holds none of {wanted}); give a run, "
        "comparison, sweep or walk-forward folder"
    )


def read_folder(folder: Path, expected: str | None = None) -> Files:
    """Every file of the folder's kind, read and checked (see the module docstring);
    `expected`: the kind the caller needs ('run', 'comparison', 'sweep', 'walk-forward')."""
    folder = Path(folder)
    kind = KINDS[folder_kind(folder)]
    if expected is not None and kind.name != expected:
        raise RotationError(f"{folder}: a {kind.name} folder, not a {expected} folder")
    content: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for name, spec in kind.files.items():
        try:
            content[name] = _read(folder, name, spec, texts)
        except Problem as problem:
            raise RotationError(f"{folder / name}: {problem}; {kind.again}") from None
    try:
        kind.agree(content)
        kind.verify(folder, content)
    except Mismatch as mismatch:
        raise RotationError(f"{folder / mismatch.name}: {mismatch}; {kind.again}") from None
    return Files(folder, kind.name, content, texts)


def _read(folder: Path, name: str, spec: FileSpec, texts: dict[str, str]) -> Any:
    blob = file_bytes(folder, name, spec.optional)
    if blob is None:
        return None
    if isinstance(spec.shape, Table):
        frame = _parquet(blob) if name.endswith(".parquet") else _csv(blob, spec.shape)
        return _checked_table(frame, spec.shape)
    value = _parsed(blob, name)
    if name.endswith(".yaml"):
        texts[name] = blob.decode("utf-8")
    if spec.shape is not None:
        check(value, spec.shape, "")
    return value


def file_bytes(folder: Path, name: str, optional: bool = False) -> bytes | None:
    """The bytes of FOLDER/NAME, refused unread when it is not a regular file or is a
    symbolic link leading outside FOLDER; None when an optional file is absent."""
    path = folder / name
    if not os.path.lexists(path):
        if optional:
            return None
        raise Problem("missing")
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, or a loop of links
            raise Problem("a symbolic link that leads to no file") from None
        if folder.resolve() not in target.parents:
            raise Problem(f"a symbolic link to {target.name}, outside the folder")
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise Problem(f"is {_what(info.st_mode)}, not a regular file")
        if info.st_size > MAX_BYTES:
            raise Problem(f"{info.st_size / 2**30:.1f} GiB, larger than any folder's file")
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(handle, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):  # swapped meanwhile
                raise Problem("is not a regular file")
            return stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise Problem(f"cannot read it ({exc.strerror or exc})") from None


def _what(mode: int) -> str:
    from engine.data.csvfiles import _kind

    return _kind(mode)


def _parsed(blob: bytes, name: str) -> Any:
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(f"not UTF-8 text (byte {exc.start})") from None
    if name.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
            raise Problem(f"not valid JSON ({exc})") from None
    if name.endswith(".yaml"):  # a config: read as strictly as `rotation run` reads one
        import yaml

        from engine.config import strict_yaml
        from engine.limits import MAX_CONFIG_BYTES

        if len(blob) > MAX_CONFIG_BYTES:
            raise Problem(f"larger than the {MAX_CONFIG_BYTES >> 20} MiB a config may be")
        try:
            return strict_yaml.load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None)
            raise Problem(f"not valid YAML{where}" + (f": {problem}" if problem else "")) from None
    return text


def _csv(blob: bytes, table: Table) -> pd.DataFrame:
    if not blob.strip():
        raise Problem("empty; it needs at least a header row")
    text = {c: str for c in table.text}
    try:
        frame = pd.read_csv(io.BytesIO(blob), dtype=text, keep_default_na=False, na_values=[""])
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise Problem(f"cannot be read as CSV ({_short(exc)})") from None
    for column in table.text:
        if column in frame:
            frame[column] = frame[column].fillna("")
    return frame


def _parquet(blob: bytes) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(pa.BufferReader(blob)).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Problem(f"cannot be read as parquet ({_short(exc)})") from None


def _checked_table(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """`frame` after the checks `table` asks for (its dates checked, left as text)."""
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise Problem(f"no column {missing[0]!r} (it has {', '.join(map(str, frame.columns))})")
    if len(frame) < table.min_rows:
        raise Problem("has a header but no rows")
    rest = [c for c in frame.columns if c not in table.text and c != "date"]
    numbers = rest if table.numbers == "rest" else list(table.numbers)
    finite = rest if table.finite == "rest" else list(table.finite)
    for column in dict.fromkeys(c for c in [*numbers, *finite] if c in frame):
        if not pd.api.types.is_numeric_dtype(frame[column]):
            bad = pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()
            if bad.any():
                row = int(bad.to_numpy().argmax())
                raise Problem(
                    f"row {row + 2}: {column} {frame[column].iloc[row]!r} is not a number"
                )
            frame[column] = pd.to_numeric(frame[column])  # no rows, or blank only
    for column in finite:
        values = frame[column].to_numpy(dtype=float)
        if not np.isfinite(values).all():
            row = int((~np.isfinite(values)).argmax())
            raise Problem(f"row {row + 2}: {column} is {values[row]}, not a finite number")
    if "date" in table.columns:
        _check_dates(frame["date"], table.increasing)
    return frame


def _check_dates(column: pd.Series, increasing: bool) -> None:
    """Every date YYYY-MM-DD (the column stays text: pages match trade dates as text)."""
    dates = pd.to_datetime(column.astype(str), format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(dates.isna().to_numpy().argmax())
        raise Problem(f"row {row + 2}: date {column.iloc[row]!r} is not YYYY-MM-DD")
    if increasing and not (dates.is_monotonic_increasing and dates.is_unique):
        raise Problem("its dates are not in increasing order, each once")


def _short(exc: Exception, limit: int = 90) -> str:
    """An exception's words on one line, cut after `limit` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
