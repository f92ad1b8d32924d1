"""Reading files that an index describes, refusing anything else.

A folder the engine wrote and reads back later (the chunk store of an interrupted sweep,
engine/research/chunk_store.py) lists each of its files in an index with the file's
size and sha256 (`file_record`). A reader gets a file's bytes through
`verified_bytes` only: the one place that decides whether a file is the one its
record describes. It refuses, with `Unusable` saying why,

- anything but a regular file: a symbolic link, a FIFO, a folder, a device or a
  socket under the file's name is never opened (checked with `os.lstat` first, then
  opened with O_NOFOLLOW and O_NONBLOCK, and the opened file checked again, so a file
  swapped in between is refused too, and a FIFO can never block the reader);
- a file of another size (truncated, appended to);
- a file of the same size with other bytes (edited, another file renamed to its name).

The bytes are returned as they were hashed, so what is parsed is what was checked.
`write_whole` is the writing side: a file a reader sees whole or not at all, and the
record to list it with.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


class Unusable(Exception):
    """A file that is not the one its record describes; `why` completes `<name> ...`."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{Path(path).name} {why}")
        self.path, self.why = Path(path), why


def kind_of(mode: int) -> str:
    """'a FIFO', 'a folder', ... for a file mode that is not a regular file's."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def file_record(data: bytes) -> dict[str, Any]:
    """What an index records of a file it lists: {"sha256": hex digest, "bytes": size}."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_whole(path: Path, data: bytes) -> dict[str, Any]:
    """Write `data` as `path` so that a reader sees the whole file or none of it: a
    temporary file beside it, flushed to disk (fsync), renamed over `path` (whatever had
    that name, a link or a FIFO too, is replaced, never followed or opened). The file's
    record (`file_record`).

    Raises:
        OSError: the folder is missing or read-only, the disk full, `path` a folder, ...
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    return file_record(data)


def regular_bytes(path: Path, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes.

    Raises:
        Unusable: missing, not a regular file (then never opened), larger, or unreadable.
    """
    data, size = _read(path, limit)
    if size > limit:
        raise Unusable(path, f"is {size:,} bytes, more than {limit:,}")
    return data


def verified_bytes(path: Path, record: Mapping[str, Any]) -> bytes:
    """The bytes of `path` if it is the regular file `record` (`file_record`) describes.

    Raises:
        Unusable: as `regular_bytes`, or its size or sha256 is not the record's.
    """
    expected = int(record["bytes"])
    data, size = _read(path, expected)
    if size != expected:
        why = f"is {size:,} bytes where its record says {expected:,} (truncated or changed)"
        raise Unusable(path, why)
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise Unusable(path, "is not the file its record describes (changed, or another file)")
    return data


def _read(path: Path, most: int) -> tuple[bytes, int]:
    """(its first `most` bytes at most, its size) of the regular file `path`, checked with
    lstat before it is opened (without following a link, without blocking) and with
    fstat after."""
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        raise Unusable(path, "is missing") from None
    except OSError as exc:
        raise Unusable(path, f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(before.st_mode):
        raise Unusable(path, f"is {kind_of(before.st_mode)}, not a regular file")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        with os.fdopen(os.open(path, flags), "rb") as handle:
            now = os.fstat(handle.fileno())
            if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
                raise Unusable(path, "was replaced while it was being read")
            data = handle.read(now.st_size) if now.st_size <= most else b""
    except OSError as exc:
        raise Unusable(path, f"cannot be read ({exc.strerror})") from None
    if now.st_size <= most and len(data) != now.st_size:
        raise Unusable(path, "changed while it was being read")
    return data, now.st_size
