"""Output folders written all at once: a staging folder renamed into place.

`atomic_folder` builds a run, comparison or sweep folder under a hidden name
beside its destination (``.<name>.xxxxxxxx``) and renames it into place when
complete, so an error or a stop signal leaves no half folder. `check_destination`
asks the file system, before any work, whether that will be possible.
`link_latest` points ``runs/latest`` at the newest complete folder under ``runs/``.
Imports only the standard library and click (the CLI imports it up front).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import RotationError
from engine.interrupts import deferred

STAGING_RANDOM = 8  # characters tempfile.mkdtemp adds after the prefix
NAME_MAX = 255  # bytes in one path component on the usual file systems
RUNS = Path("runs")  # the default parent of run, comparison and sweep folders
LATEST = "latest"  # the symlink in RUNS to the newest of them


@contextmanager
def atomic_folder(destination: Path) -> Iterator[Path]:
    """Yield a staging folder beside `destination`; rename it into place on success.

    On any error or stop signal the staging folder is removed, so no half-written
    folder is ever visible under the destination's name. The rename and the
    clean-up are not cut in half by a signal (`engine.interrupts.deferred`).
    """
    destination = Path(destination)
    _refuse_existing(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RotationError(f"{destination.parent}: cannot create it ({exc.strerror})") from None
    staging = _make_staging(destination)
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private; a run folder is not
        yield staging
        with deferred():
            _move_into_place(staging, destination)
    except BaseException:
        with deferred():
            shutil.rmtree(staging, ignore_errors=True)
        raise


def check_destination(destination: Path) -> None:
    """Fail now, before any work, if `atomic_folder(destination)` would fail later.

    Creates what `atomic_folder` will create (missing parents, the staging folder,
    the folder itself) and removes it again, so the file system itself answers: a
    parent that is a file, a read-only or impossible place, a name too long.
    """
    destination = Path(destination)
    created: list[Path] = []
    try:
        _refuse_existing(destination)
        blocker = next((p for p in destination.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise RotationError(
                f"{destination}: cannot create it, {blocker} is a file; choose another --out"
            )
        with deferred():
            for folder in reversed(destination.parents):
                if not folder.exists():
                    folder.mkdir()
                    created.append(folder)
            created.append(_make_staging(destination))
            if not destination.exists():
                destination.mkdir()
                created.append(destination)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        why = getattr(exc, "strerror", None) or str(exc)
        raise RotationError(
            f"{destination}: cannot write there ({why}); choose another --out"
        ) from None
    finally:
        with deferred():
            for folder in reversed(created):
                folder.rmdir()


def link_latest(folder: Path) -> Path | None:
    """Point ``runs/latest`` at `folder` (a relative symlink) when `folder` is a complete
    folder directly under the default ``runs/``; the link's path, else None.

    The link is made under a temporary name and renamed over the old one, so
    ``runs/latest`` is always whole. Anything at ``runs/latest`` other than a symlink
    (a run folder named ``latest``, a file) is left alone, and where the file system
    has no symlinks nothing is written: both silently, the run itself is done.
    """
    folder = Path(folder)
    link = RUNS / LATEST
    try:
        if folder.resolve().parent != RUNS.resolve() or folder.name == LATEST:
            return None
        if not folder.is_dir() or (link.exists() and not link.is_symlink()):
            return None
        with deferred():  # a stop signal leaves no temporary link behind
            temporary = RUNS / f".{LATEST}.{secrets.token_hex(STAGING_RANDOM // 2)}"
            os.symlink(folder.name, temporary, target_is_directory=True)
            try:
                os.replace(temporary, link)
            except OSError:  # runs/latest became a folder meanwhile
                temporary.unlink()
                return None
    except (OSError, NotImplementedError):  # no symlinks here (or not allowed)
        return None
    return link


def name_max(folder: Path) -> int:
    """The longest name, in bytes, the file system holding `folder` (or its nearest
    existing parent) accepts for one path component."""
    existing = next((p for p in (folder, *folder.parents) if p.is_dir()), Path("."))
    try:
        return os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # AttributeError: no pathconf (Windows)
        return NAME_MAX


def _refuse_existing(destination: Path) -> None:
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        what = "is a folder that is not empty" if destination.is_dir() else "is a file"
        raise RotationError(f"{destination}: {what}; choose another --out")


def _make_staging(destination: Path) -> Path:
    """An empty hidden folder `.<name>.xxxxxxxx` beside `destination`; the name is
    shortened when needed so the staging name fits wherever the destination's does."""
    name = destination.name
    while name and len(f".{name}.".encode()) + STAGING_RANDOM > NAME_MAX:
        name = name[:-1]
    return Path(tempfile.mkdtemp(prefix=f".{name}.", dir=destination.parent))


def _move_into_place(staging: Path, destination: Path) -> None:
    try:
        if destination.exists():
            destination.rmdir()  # checked empty before the work began
        os.rename(staging, destination)
    except OSError as exc:
        raise RotationError(
            f"{destination}: cannot move the finished folder there ({exc.strerror}; did "
            "another process write it meanwhile?); choose another --out"
        ) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
