"""`rotation sweep` into a folder: results written where computed, the summary by reduction.

`run_part` is one task: evaluate a chunk, write its results part (engine.research.parts)
into the chunk store when the process can see it (on this machine, or on a cluster's
shared file system; else its bytes go back with the result and this process writes
them), and reduce it (engine.research.reduce.digest). Only the digest travels back.

`streamed` runs every chunk of the grid as a task (engine.research.parts.run_part): in
this process, or on a Dask cluster (`--workers N`, `--scheduler`), which starts in a
thread of its own while the plan is built. Each task writes its results part into the
chunk store `<out>.partial/` (engine.research.chunk_store: the same records, checksums
and `--resume`) and sends back only its digest (engine.research.reduce), merged as it
arrives. What this process holds is the plan, one chunk and the reduction: never the
results table, so a grid of any size runs in the same memory.

The caller then writes the sweep folder: the summary (engine.research.sweep_summary
.summary_of, the best and their neighbours looked up by grid index with `rows_of`), the
odds on a seeded sample recomputed with `values_of` (engine.research.overfitting), and
the parts, linked from the store into `results/`. The store is removed once the folder
is in place (engine.research.distributed.kept_store), as for every sweep.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.data import PriceSource
from engine.notices import collected
from engine.research.chunk_store import ChunkStore, sweep_key
from engine.research.chunks import SweepPlan, build_plan, evaluate_rows, values_of_rows
from engine.research.parts import part_bytes, part_columns, part_frame
from engine.research.reduce import Digest, Outline, Reduction, digest
from engine.research.sweep_config import SweepOptions, SweepSpec

TASK_SECONDS = 0.005  # scheduling and transfer per task on a Dask cluster (bench/scale_sweep.py)
OVERHEAD_SHARE = 0.02  # chunks at least this large: fixed costs at most 2% of a task
TASKS_PER_WORKER = 4  # on a cluster, at least this many tasks per worker (load balance)
VALUES_BATCH = 512  # combinations recomputed at once for the odds (beside their values)
SAMPLE_BYTES = 512 * 2**20  # the odds' sample is kept from the pass up to this many bytes


@dataclass(frozen=True)
class Job:
    """What every task of a folder sweep reads (sent to each worker once): the plan, the
    reduction's outline, the chunk store to write parts into (None: keep none), and the
    sorted grid rows whose daily values a task sends back (the odds' seeded sample, so
    they are not simulated again after the pass; None: none)."""

    plan: SweepPlan
    outline: Outline
    store: Path | None
    store_key: str | None
    kept: np.ndarray | None = None


@dataclass
class Done:
    """A finished task: its digest; `data`, the part's bytes when the task could not write
    them into the store itself (None when it did); `seconds`, its wall time inside the
    task (evaluate, write, reduce)."""

    digest: Digest
    data: bytes | None
    seconds: float = 0.0
    sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    """(grid rows of the job's `kept` in this chunk, their daily values [N, k], their
    benchmark's Sharpe ratio [k])"""


def run_part(job: Job, start: int, stop: int) -> Done:
    """Evaluate the chunk [start, stop), write its part, reduce it."""
    began = time.perf_counter()
    plan = job.plan
    combos = np.arange(start, stop)
    kept = np.empty(0, dtype=np.int64)
    if job.kept is not None:
        kept = job.kept[np.searchsorted(job.kept, start) : np.searchsorted(job.kept, stop)]
    columns, values = evaluate_rows(plan, combos, kept - start if len(kept) else False)
    sample = (kept, values, columns["benchmark_sharpe"][kept - start]) if len(kept) else None
    data = part_bytes(part_columns(plan, combos, columns))
    if _sees(job):
        store = ChunkStore(job.store)
        store.key = {"key": job.store_key}
        store.write_part(start, stop, data)
        data = None
    index = np.array(np.unravel_index(combos, plan.shape)).reshape(len(plan.axes), -1)
    reduced = digest(job.outline, start, stop, index, columns)
    return Done(reduced, data, time.perf_counter() - began, sample)


def _sees(job: Job) -> bool:
    """Whether this process can write into the job's chunk store: it exists here and is
    this sweep's (its plan.json names the key)."""
    if job.store is None:
        return False
    try:
        return job.store_key in (Path(job.store) / "plan.json").read_text()
    except (OSError, UnicodeDecodeError):
        return False


@dataclass
class Streamed:
    """A swept grid, reduced, its parts in the store (or `held` here when there is none).

    Attributes:
        plan, job: the plan and what every task read; reduced: the merged digests.
        store: the chunk store holding the parts (None for a grid of one chunk).
        held: part bytes by chunk start, for parts no store holds.
        warnings: what shaped the sweep; seconds: wall times of the stages so far.
    """

    plan: SweepPlan
    job: Job
    reduced: Reduction
    store: ChunkStore | None
    held: dict[int, bytes] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    tasks: dict[str, Any] = field(default_factory=dict)
    kept: Kept | None = None

    def parts(self) -> Iterator[tuple[int, Path | bytes, dict | None]]:
        """(chunk number, part file or bytes, the part's record) of every chunk, in
        combination order."""
        for k, (start, stop) in enumerate(self.plan.chunks()):
            if start in self.held:
                yield k, self.held[start], None
            else:
                yield k, self.store.part_path(start, stop), self.store.part_record(start, stop)

    def rows_of(self, rows: np.ndarray) -> pd.DataFrame:
        """The full rows (parameters, scenario, statistics) of grid rows, recomputed: the
        same bits as in their parts (evaluate_rows)."""
        columns, _ = evaluate_rows(self.plan, rows)
        return part_frame(self.plan, rows, columns)

    def values_of(self, rows: np.ndarray, release: bool = False) -> tuple[np.ndarray, pd.DataFrame]:
        """(daily values [N, len(rows)], their parameters and benchmark Sharpe) of grid
        rows, the caller's to change: those the tasks sent back (`kept`), the others
        recomputed a chunk at a time (the same bits either way). With `release` (the
        odds, once per scenario) kept columns lying in a window of len(rows) columns are
        handed over in place (Kept.take): no second copy of the sample."""
        # column by column in memory, as numpy gives a selection of columns: the odds read
        # them in that layout, so their sums are those of a sweep that kept its values
        rows = np.asarray(rows, dtype=np.int64)
        placed = self.kept.take(rows) if self.kept and release else None
        if placed is not None:
            values, sharpes, missing = placed
        else:
            values = np.empty((len(self.plan.dates), len(rows)), order="F")
            sharpes = np.empty(len(rows))
            at, hit = self.kept.find(rows) if self.kept else (rows, np.zeros(len(rows), bool))
            if hit.any():
                values[:, hit], sharpes[hit] = (
                    self.kept.values[:, at[hit]],
                    self.kept.sharpes[at[hit]],
                )
            missing = np.flatnonzero(~hit)
        batch = min(self.plan.chunk, VALUES_BATCH)  # the chunk's working memory, smaller
        for lo in range(0, len(missing), batch):
            some = missing[lo : lo + batch]
            values[:, some], sharpes[some] = values_of_rows(self.plan, rows[some])
        return values, part_frame(self.plan, rows, {"benchmark_sharpe": sharpes})


@dataclass
class Kept:
    """The daily values the tasks send back (Job.kept): one column-major array [N, rows],
    filled as they arrive; a column is only read once filled."""

    rows: np.ndarray
    values: np.ndarray
    sharpes: np.ndarray
    filled: np.ndarray
    gone: np.ndarray  # columns handed over by `take`: never read or written here again

    @classmethod
    def empty(cls, rows: np.ndarray, n_dates: int) -> Kept:
        values = np.empty((n_dates, len(rows)), order="F")  # pages are taken as filled
        no = np.zeros(len(rows), dtype=bool)
        return cls(rows, values, np.empty(len(rows)), no, no.copy())

    def put(self, rows: np.ndarray, values: np.ndarray, sharpes: np.ndarray) -> None:
        at = np.searchsorted(self.rows, rows)
        self.values[:, at], self.sharpes[at], self.filled[at] = values, sharpes, True

    def find(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(column of each of `rows`, whether it is here and filled)."""
        at = np.searchsorted(self.rows, rows)
        inside = at < len(self.rows)
        hit = np.zeros(len(rows), dtype=bool)
        hit[inside] = (self.rows[at[inside]] == rows[inside]) & self.filled[at[inside]]
        return at, hit

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(values [N, len(rows)], benchmark Sharpe, positions of the rows not here) of the
        sorted grid `rows` whose kept columns lie in a window of len(rows) columns: that
        window rearranged in place and released (a view); None otherwise.

        Column j takes the column source_j of rows[j]. The rows found have increasing
        sources (both are sorted), so moving those with source_j > j in increasing j,
        then those with source_j < j in decreasing j, reads every source before a move
        overwrites it; the rows not here are filled last."""
        at, hit = self.find(rows)
        width = len(rows)
        if not hit.any() or width > len(self.rows) or (np.diff(rows) <= 0).any():
            return None
        lo = min(int(at[hit][0]), len(self.rows) - width)
        source = at - lo
        if source[hit].min() < 0 or source[hit].max() >= width or self.gone[lo : lo + width].any():
            return None
        window = self.values[:, lo : lo + width]
        sharpes = np.empty(width)
        sharpes[hit] = self.sharpes[at[hit]]
        found = np.flatnonzero(hit)
        for j in found[source[found] > found]:
            window[:, j] = window[:, source[j]]
        for j in found[source[found] < found][::-1]:
            window[:, j] = window[:, source[j]]
        self.filled[lo : lo + width], self.gone[lo : lo + width] = False, True
        return window, sharpes, np.flatnonzero(~hit)


@contextmanager
def streamed(
    spec: SweepSpec,
    options: SweepOptions,
    source: PriceSource,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = 5.0,
    resume: Path | None = None,
    store: Path | None = None,
    chunk_size: int | None = None,
    destination: Path | None = None,
) -> Iterator[Streamed]:
    """Sweep the grid into parts and a reduction (see the module docstring); the result is
    yielded to the block that writes the folder `destination`, and the chunk store is
    kept or removed as `engine.research.distributed.kept_store` says."""
    from engine.research.distributed import kept_store, resolved_chunk_size

    with kept_store(resume, store, destination) as (chunks, recorded):
        chunk_size = resolved_chunk_size(recorded, chunk_size)
        cluster = {"workers": workers, "scheduler": scheduler, "timeout": timeout}
        yield _sweep(spec, options, source, progress, chunks, recorded, chunk_size, cluster)


def _sweep(spec, options, source, progress, chunks, recorded, chunk_size, cluster) -> Streamed:
    from engine.research.sweep_summary import outline

    began = time.perf_counter()
    with _cluster(**cluster) as pending, collected() as notes:
        from engine.research.parts import warm_up

        warm_up()
        plan = build_plan(spec, source, False, chunk_size)
        planned = time.perf_counter()
        client = pending()
        ready = time.perf_counter()
        shape = outline(spec, options)
        if chunk_size is None:
            plan = dataclasses.replace(plan, chunk=_measured_chunk(plan, shape, client))
        use = chunks is not None and (recorded is not None or len(plan.chunks()) > 1)
        key = sweep_key(spec, plan)
        job = Job(
            plan,
            shape,
            chunks.folder if use else None,
            key["key"] if use else None,
            _sample_rows(plan, shape),
        )
        done = Streamed(plan, job, Reduction(shape), chunks if use else None)
        if job.kept is not None:
            done.kept = Kept.empty(job.kept, len(plan.dates))
        finished = set()
        if recorded is not None:
            chunks.check(key, recorded)
            for chunk in chunks.finished(plan):
                done.reduced.add(_digest_of(plan, shape, chunk))
                finished.add(chunk.start)
        elif use:
            chunks.create(key)
        if progress:
            progress(done.reduced.done, plan.size)
        todo = [c for c in plan.chunks() if c[0] not in finished]
        busy = _run(done, todo, client, progress)
        looped = time.perf_counter()
        done.tasks = _tasks(todo, busy, looped - ready, client)
    done.warnings = list(notes)
    done.seconds = {"plan": planned - began}
    if client is not None:  # what the cluster's start cost beyond the plan's time
        done.seconds["cluster start (waited)"] = ready - planned
    done.seconds["chunks"] = looped - ready
    return done


def _sample_rows(plan: SweepPlan, shape: Outline) -> np.ndarray | None:
    """Sorted grid rows of the odds' seeded sample in every scenario (the draw before the
    best is known: engine.research.overfitting.add_sampled_odds), or None when their daily
    values would take more than SAMPLE_BYTES."""
    if len(shape.sample) * shape.scenarios * len(plan.dates) * 8 > SAMPLE_BYTES:
        return None
    rows = [shape.rows_of(s, shape.sample) for s in range(shape.scenarios)]
    return np.unique(np.concatenate(rows)) if rows else None


def _digest_of(plan: SweepPlan, shape, chunk):
    index = np.array(np.unravel_index(np.arange(chunk.start, chunk.stop), plan.shape))
    return digest(shape, chunk.start, chunk.stop, index.reshape(len(plan.axes), -1), chunk.columns)


def _tasks(todo, busy: float, wall: float, client) -> dict[str, Any]:
    """What the tasks cost: their number, the processes that ran them, their time inside
    (`busy`), the overhead per task ((wall x processes - busy) / tasks: scheduling,
    transfer, merging), and on a cluster each worker's peak memory."""
    workers = sum(client.nthreads().values()) if client is not None else 1
    out = {"count": len(todo), "processes": workers, "seconds_inside": busy}
    if todo:
        out["overhead_per_task_seconds"] = max(wall * workers - busy, 0.0) / len(todo)
    if client is not None:
        out["workers_peak_rss_mb"] = sorted(client.run(peak_rss_mb).values())
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (VmHWM on Linux, else maxrss)."""
    import resource
    import sys

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def _run(done: Streamed, todo, client, progress) -> float:
    """Run the tasks `todo`, in process or on the cluster; write the parts a task could not
    write itself; merge the digests as they come. Returns the seconds spent inside them."""
    from engine.research.distributed import _on_cluster

    if client is None:
        run = (run_part(done.job, start, stop) for start, stop in todo)
    else:
        run = _on_cluster(client, done.job, todo, run_part)
    busy = 0.0
    with closing(run):  # a stop in this loop cancels the futures before disconnecting
        for task in run:
            busy += task.seconds
            part = task.digest
            if task.data is not None:
                if done.store is not None:
                    done.store.write_part(part.start, part.stop, task.data)
                else:
                    done.held[part.start] = task.data
            done.reduced.add(part)
            if task.sample is not None:
                done.kept.put(*task.sample)
            if progress:
                progress(done.reduced.done, done.plan.size)
    return busy


def _measured_chunk(plan: SweepPlan, shape, client) -> int:
    """Combinations per task: large enough that the fixed cost of a task (measured here:
    a task of one combination, and one of 64 for the cost per combination, plus the
    cluster's TASK_SECONDS) is at most OVERHEAD_SHARE of it; at most the memory-sized
    chunk; on a cluster, small enough for TASKS_PER_WORKER tasks per worker."""
    cap = plan.chunk
    workers = sum(client.nthreads().values()) if client is not None else 1
    if plan.size <= cap and client is None:
        return cap
    job = Job(plan, shape, None, None)
    small = min(64, plan.size)
    timings = []
    for size in (1, small, 1, small):
        began = time.perf_counter()
        run_part(job, 0, size)
        timings.append(time.perf_counter() - began)
    fixed = min(timings[0], timings[2])
    per = max((min(timings[1], timings[3]) - fixed) / max(small - 1, 1), 1e-7)
    overhead = fixed + (TASK_SECONDS if client is not None else 0.0)
    chunk = math.ceil(overhead * (1 - OVERHEAD_SHARE) / OVERHEAD_SHARE / per)
    if client is not None:
        chunk = min(chunk, math.ceil(plan.size / (TASKS_PER_WORKER * workers)))
    return int(max(1, min(chunk, cap)))


@contextmanager
def _cluster(workers=None, scheduler=None, timeout=5.0) -> Iterator[Callable[[], Any]]:
    """Start the cluster (engine.research.distributed.connect) in a thread of its own, so
    that it starts while the plan is built; yield a function that waits for its client
    (None without a cluster). The cluster is closed in the background once the block
    ends, and waited for before this returns."""
    from engine.research.distributed import check_cluster, connect

    check_cluster(workers, scheduler, timeout)
    if workers is None and scheduler is None:
        yield lambda: None
        return
    got: dict[str, Any] = {}
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        try:
            with connect(workers, scheduler, timeout, warm=False) as client:
                got["client"] = client
                started.set()
                release.wait()
        except BaseException as exc:  # noqa: BLE001 (given to the main thread)
            got["error"] = exc
            started.set()

    thread = threading.Thread(target=hold, name="rotation-cluster", daemon=True)
    thread.start()

    def client():
        started.wait()
        if "error" in got:
            raise got["error"]
        return got["client"]

    try:
        yield client
    finally:
        release.set()  # closing continues in the thread; joined when the caller is done
        _closing.append(thread)


_closing: list[threading.Thread] = []


def wait_closed(seconds: float = 30.0) -> None:
    """Wait for clusters being closed in the background (before the process exits)."""
    while _closing:
        _closing.pop().join(seconds)
