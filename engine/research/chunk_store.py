"""The chunk store of a sweep: its finished chunks on disk, for `--resume`.

`<out>.partial/` holds

    plan.json              the sweep's key (`sweep_key`): what must match for a resume
    chunk-S-T.parquet      the combinations [S, T): their results part (parameters,
                           scenario, statistics: engine.research.parts), which the
                           finished sweep folder links as results/part-NNNNN.parquet
    chunk-S-T.npy          their daily values [N, T - S] (when the sweep keeps them)
    chunk-S-T.json         the chunk's record: the store's key, S, T, and the size and
                           sha256 of each of its files (engine.integrity.file_record)

One small record per chunk (not one index rewritten after every chunk), so a store of
40,000 chunks costs the same per chunk as a store of 4.

Writing: each file goes to a temporary name, is flushed to disk (fsync) and renamed
into place, the record last, with stop signals held back meanwhile: a chunk is finished
when its record exists, and a record never describes bytes that are not on disk.

Reading (`--resume`): plan.json must be this sweep's; then every chunk with a record is
verified before it is read. Its files must be regular files whose sizes and sha256 are
the record's (`engine.integrity.verified_bytes`, which never opens a link, FIFO, folder
or device), its record must be of this store and of this chunk's range, and its columns
and values must have the plan's shape. Anything else is refused with one line naming the
file (`RotationError`), and the store is left as it was. Files of a chunk that has no
record (a write cut short) are overwritten when the chunk is computed again; names that
are not the store's own are ignored and left in place.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import RotationError
from engine.integrity import Unusable, kind_of, regular_bytes, verified_bytes, write_whole
from engine.interrupts import deferred
from engine.research.chunks import Chunk, SweepPlan, evaluate_chunk
from engine.research.parts import part_bytes, part_columns, part_frame, statistic_columns
from engine.research.sweep_config import SweepSpec

PLAN_FILE = "plan.json"
STORE_FORMAT = 3  # 1: chunks without records (before checksums); 2: statistics only
SMALL_FILE = 1 << 20  # plan.json and a chunk's record are far smaller
OWN_NAME = re.compile(r"\.?(chunk-\d+-\d+\.(parquet|npy|json)|plan\.json)(\.[^/]*\.tmp)?")
PLAN_FIELDS = {
    "key": str,
    "config_sha256": str,
    "data_sha256": str,
    "chunk_size": int,
    "combinations": int,
    "keep_values": bool,
}


def sweep_key(spec: SweepSpec, plan: SweepPlan) -> dict[str, Any]:
    """What must match for stored chunks to be reused: the resolved config and grid, the
    data's hashes and the chunk size (each as sha256), and whether values are kept."""

    def digest(obj) -> str:
        blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    config = digest(
        {"config": spec.base.hash(), "axes": [[a.name, list(a.values)] for a in spec.axes]}
    )
    data = digest({t: d["sha256"] for t, d in plan.data.items()})
    key = digest([config, data, plan.chunk, plan.size, plan.keep_values, STORE_FORMAT])
    return {
        "format": STORE_FORMAT,
        "key": key,
        "config_sha256": config,
        "data_sha256": data,
        "chunk_size": plan.chunk,
        "combinations": plan.size,
        "keep_values": plan.keep_values,
    }


class ChunkStore:
    """A folder of finished chunks (see the module's docstring for its layout).

    Attributes:
        key: the sweep's key (`sweep_key`), once created or checked.
        created: this run made the folder; verified: every stored chunk passed.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.key: dict[str, Any] | None = None
        self.created = self.verified = False

    @property
    def in_use(self) -> bool:
        """This sweep's store (created by this run, or resumed and verified): it takes the
        chunks as they finish, and is kept or removed when the sweep ends."""
        return self.created or self.verified

    # -- reading ---------------------------------------------------------------

    def recorded(self) -> dict[str, Any]:
        """plan.json of an existing store, its fields checked (RotationError otherwise)."""
        where = f"--resume {self.folder}"
        if not self.folder.is_dir():
            raise RotationError(f"{where}: no such folder")
        try:
            recorded = json.loads(regular_bytes(self.folder / PLAN_FILE, SMALL_FILE))
        except Unusable as exc:
            raise RotationError(
                f"{where}: {exc}; it is not the chunk folder of an interrupted sweep"
            ) from None
        except (ValueError, RecursionError):  # also UnicodeDecodeError
            recorded = None
        if not isinstance(recorded, dict):
            raise RotationError(f"{where}: {PLAN_FILE} is not readable JSON; {_AFRESH}")
        if recorded.get("format") != STORE_FORMAT:
            raise RotationError(
                f"{where}: written by another version of rotation (store format "
                f"{recorded.get('format', 1)!r}, this one reads {STORE_FORMAT}); {_AFRESH}"
            )
        for field, kind in PLAN_FIELDS.items():
            value = recorded.get(field)
            wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            if wrong or (kind is int and value < 1):
                raise RotationError(
                    f"{where}: {PLAN_FILE} has no valid {field} (found {value!r}); {_AFRESH}"
                )
        return recorded

    def check(self, key: dict[str, Any], recorded: dict[str, Any]) -> None:
        """Refuse chunks of another sweep (RotationError naming what differs)."""
        if recorded["key"] != key["key"]:
            differs = [
                what
                for what, field in (
                    ("the config or its grid", "config_sha256"),
                    ("the data", "data_sha256"),
                    ("the chunk size", "chunk_size"),
                    ("the grid size", "combinations"),
                )
                if recorded[field] != key[field]
            ] or ["the sweep"]
            raise RotationError(
                f"--resume {self.folder}: its finished chunks are of another sweep "
                f"({' and '.join(differs)} changed); run the same config on the same data, "
                "or start afresh without --resume"
            )
        self.key = key

    def finished(self, plan: SweepPlan) -> Iterator[Chunk]:
        """The chunks of `plan` already in the store, each verified before it is read;
        `verified` is set once all are (RotationError at the first that is not)."""
        try:
            with os.scandir(self.folder) as entries:
                listing = {entry.name: entry for entry in entries}
        except OSError as exc:
            raise RotationError(
                f"--resume {self.folder}: cannot read it ({exc.strerror})"
            ) from None
        sample = None  # a chunk computed here: the part and values a stored one must have
        for start, stop in plan.chunks():
            stem = f"chunk-{start}-{stop}"
            for name in (f"{stem}.json", f"{stem}.parquet", f"{stem}.npy"):
                entry = listing.get(name)
                if entry is not None and not entry.is_file(follow_symlinks=False):
                    self._refuse(stem, Unusable(Path(name), _not_regular(entry)))
            if f"{stem}.json" in listing:
                if sample is None:
                    sample = evaluate_chunk(plan, 0, 1)
                try:
                    yield self._read(plan, start, stop, sample)
                except Unusable as exc:
                    self._refuse(stem, exc)
        self.verified = True

    def _read(self, plan: SweepPlan, start: int, stop: int, sample: Chunk) -> Chunk:
        """One chunk, verified (Unusable when it is not the one its record describes)."""
        files = self._record(start, stop, plan.keep_values)
        stem = f"chunk-{start}-{stop}"
        data = verified_bytes(self.folder / f"{stem}.parquet", files[f"{stem}.parquet"])
        frame = _part(self.folder / f"{stem}.parquet", data, stop - start, plan, sample)
        columns = statistic_columns(plan, frame)
        values = None
        if plan.keep_values:
            path = self.folder / f"{stem}.npy"
            values = _values(path, verified_bytes(path, files[path.name]), sample)
            if values.shape != (len(plan.dates), stop - start):
                raise Unusable(path, f"holds values of shape {values.shape}, not this chunk's")
        return Chunk(start, stop, columns, values)

    def _record(self, start: int, stop: int, keep_values: bool) -> dict[str, dict]:
        """The files a chunk's record lists, after checking it is this store's record of
        the combinations [start, stop)."""
        path = self.folder / f"chunk-{start}-{stop}.json"
        try:
            record = json.loads(regular_bytes(path, SMALL_FILE))
        except (ValueError, RecursionError):
            record = None
        if not isinstance(record, dict):
            raise Unusable(path, "is not a chunk record (not readable JSON)")
        if record.get("store") != self.key["key"]:
            raise Unusable(path, "is the record of another sweep's chunk")
        if [record.get("start"), record.get("stop")] != [start, stop]:
            where = f"[{record.get('start')}, {record.get('stop')})"
            raise Unusable(path, f"records the combinations {where} (a chunk renamed)")
        names = {f"{path.stem}.parquet"} | ({f"{path.stem}.npy"} if keep_values else set())
        files = record.get("files")
        if (
            not isinstance(files, dict)
            or set(files) != names
            or not all(map(_file_entry, files.values()))
        ):
            raise Unusable(path, f"does not list the files {', '.join(sorted(names))}")
        return files

    def _refuse(self, stem: str, problem: Unusable) -> None:
        raise RotationError(
            f"--resume {self.folder}: {problem}; delete {stem}.* from it to compute that "
            "chunk again, or remove the folder to start afresh"
        ) from None

    # -- writing ---------------------------------------------------------------

    def refuse_existing(self) -> None:
        """RotationError when the folder exists (an interrupted sweep's, most likely)."""
        if os.path.lexists(self.folder):
            raise RotationError(
                f"{self.folder}: holds the finished chunks of an interrupted sweep; "
                f"continue it with --resume {self.folder}, or remove it"
            )

    def create(self, key: dict[str, Any]) -> None:
        """Make the folder and write plan.json (refusing an existing one)."""
        self.refuse_existing()
        try:
            self.folder.mkdir(parents=True)
        except OSError as exc:
            raise RotationError(f"{self.folder}: cannot create it ({exc.strerror})") from None
        self.key, self.created = key, True
        self._put(PLAN_FILE, (json.dumps(key, indent=2) + "\n").encode())

    def write(self, plan: SweepPlan, chunk: Chunk) -> None:
        """Store one finished chunk of `plan`: its part (and values) and record."""
        part = part_columns(plan, np.arange(chunk.start, chunk.stop), chunk.columns)
        self.write_part(chunk.start, chunk.stop, part_bytes(part), chunk.values)

    def write_part(
        self, start: int, stop: int, data: bytes, values: np.ndarray | None = None
    ) -> None:
        """Store the part `data` of [start, stop): values, part, then its record (stop
        signals held back meanwhile)."""
        stem = f"chunk-{start}-{stop}"
        with deferred():
            files = {}
            if values is not None:
                buffer = io.BytesIO()
                np.save(buffer, values, allow_pickle=False)
                files[f"{stem}.npy"] = self._put(f"{stem}.npy", buffer.getvalue())
            files[f"{stem}.parquet"] = self._put(f"{stem}.parquet", data)
            record = {"store": self.key["key"], "start": start, "stop": stop}
            self._put(f"{stem}.json", json.dumps(record | {"files": files}).encode())

    def part_path(self, start: int, stop: int) -> Path:
        """The part file of the finished chunk [start, stop)."""
        return self.folder / f"chunk-{start}-{stop}.parquet"

    def part_record(self, start: int, stop: int) -> dict | None:
        """The size and sha256 its record lists for that part (None when unreadable)."""
        path = self.folder / f"chunk-{start}-{stop}.json"
        try:
            files = json.loads(regular_bytes(path, SMALL_FILE))["files"]
            entry = files[f"chunk-{start}-{stop}.parquet"]
        except (Unusable, ValueError, KeyError, TypeError):
            return None
        return entry if _file_entry(entry) else None

    def count(self) -> int:
        """Finished chunks in the folder (chunk records)."""
        if not self.folder.is_dir():
            return 0
        return sum(1 for p in self._own() if p.name.endswith(".json") and p.name != PLAN_FILE)

    def remove(self) -> None:
        """Delete the files a store holds (its own names only), then the folder if empty."""
        if not self.folder.is_dir():
            return
        for path in self._own():
            with suppress(OSError):
                path.unlink()
        with suppress(OSError):
            self.folder.rmdir()  # something else was put there: leave it

    def _own(self) -> list[Path]:
        """The store's own files (not folders), temporary ones included."""
        with os.scandir(self.folder) as entries:
            return [
                Path(e.path)
                for e in entries
                if OWN_NAME.fullmatch(e.name) and not e.is_dir(follow_symlinks=False)
            ]

    def _put(self, name: str, data: bytes) -> dict[str, Any]:
        """`write_whole` into the store (RotationError when it cannot); the file's record."""
        try:
            return write_whole(self.folder / name, data)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise RotationError(f"{self.folder}: cannot write {name} ({why})") from None


_AFRESH = "remove the folder to start afresh"


def _not_regular(entry: os.DirEntry) -> str:
    try:
        return f"is {kind_of(entry.stat(follow_symlinks=False).st_mode)}, not a regular file"
    except OSError:
        return "is not a regular file"


def _file_entry(entry: Any) -> bool:
    """A record's description of one file: {"sha256": 64 hex digits, "bytes": >= 0}."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) is not None
        and type(entry.get("bytes")) is int
        and entry["bytes"] >= 0
    )


def _part(path: Path, data: bytes, rows: int, plan: SweepPlan, sample: Chunk) -> pd.DataFrame:
    """The results part in a verified parquet file, checked against the names and dtypes
    of `sample`'s part and for `rows` rows."""
    import pyarrow

    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (ValueError, TypeError, OSError, NotImplementedError, pyarrow.ArrowException):
        raise Unusable(path, "is not a parquet file of statistics") from None
    model = part_frame(plan, np.arange(sample.start, sample.stop), sample.columns)
    expected = [(name, model[name].dtype) for name in model.columns]
    if [(name, frame[name].dtype) for name in frame.columns] != expected or len(frame) != rows:
        raise Unusable(path, "does not hold this sweep's statistics for this chunk")
    return frame


def _values(path: Path, data: bytes, sample: Chunk) -> np.ndarray:
    """The daily values of a verified .npy file (of `sample`'s dtype, two dimensions)."""
    try:
        values = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise Unusable(path, "is not a .npy file of daily values") from None
    if values.dtype != sample.values.dtype or values.ndim != 2:
        raise Unusable(path, f"holds {values.dtype} values of shape {values.shape}")
    return values
