"""`rotation sweep` on a Dask cluster, and resumable sweeps.

`sweep_grid` is what the command runs. It builds the sweep's plan once
(engine.research.chunks.build_plan) and evaluates its chunks of combinations:

- in this process, as `run_sweep` does (neither --workers nor --scheduler);
- on a local Dask cluster of N worker processes (`--workers N`) or an existing one
  (`--scheduler tcp://host:8786`): the plan (prices, aligned signals, rank inputs,
  benchmark) is sent to every worker once (`Client.scatter(broadcast=True)`), each
  task is a (start, stop) pair, and a worker plugin loads the numba kernels from
  their cache once per worker before its first task;
- each finished chunk is written to a chunk store, `<out>.partial/`, as it arrives
  (engine.research.chunk_store); after an interruption, `--resume <out>.partial`
  verifies and reuses the finished chunks and computes the rest. The chunks are
  assembled in combination order, so the table is identical, bit for bit, whatever
  the number of workers, the order in which chunks finish, or how often the sweep was
  interrupted. `swept` removes the store only once the caller has written its output
  folder; an error or stop signal before that keeps it and says how to resume.

Walk-forward (`walk_forward_on`) sends each window's whole sweep to a worker as one
task, the prices to every worker once.

Workers of an existing cluster need this package installed, the same version.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

from engine.data import PriceSource
from engine.errors import RotationError
from engine.interrupts import deferred
from engine.notices import collected
from engine.research.chunk_store import ChunkStore, sweep_key
from engine.research.chunks import Assembler, Chunk, SweepPlan, build_plan, evaluate_chunk, warm_up
from engine.research.sweep import SweepResult, result_of
from engine.research.sweep_config import SweepSpec

CONNECT_SECONDS = 5.0  # default --timeout: how long --scheduler waits for the first reply
MALLOC_KEEP = 256 * 2**20  # bytes a local worker's malloc keeps when freed (one chunk's memory)
MALLOC_MMAP = 32 * 2**20  # arrays from this size get their own mapping (glibc's own maximum)
LOCAL_WORKERS = {
    # Dask gives its workers MALLOC_TRIM_THRESHOLD_=64 KiB, which hands freed memory back
    # to the system at once and pins glibc's mmap threshold at 128 KiB: every array of
    # every task is then mapped and zeroed anew (about 10% more CPU a task, in page faults).
    # Keep what a chunk frees for the next one, as a long-lived process does by itself.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(MALLOC_KEEP),
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(MALLOC_MMAP),
    # No statistical profiler sampling the tasks (the dashboard's, which is off), and the
    # memory and system monitors and the event loops' tick (each waking a process that
    # shares two cores with the tasks) every second rather than 10, 2 and 50 times a
    # second. No work stealing: the scheduler hands a task to a worker as one finishes.
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "1s",
    "distributed.admin.tick.interval": "1s",
    "distributed.scheduler.work-stealing": False,
}
if "forkserver" in multiprocessing.get_all_start_methods():  # not on Windows
    # Workers forked from one server process that imported dask, numpy and pandas once
    # (Dask's own preload), not each started afresh: less CPU taken from the plan they
    # start beside, and quicker to close.
    LOCAL_WORKERS["distributed.worker.multiprocessing-method"] = "forkserver"

WORKERS_PER_CORE = 4  # --workers at most this many times os.cpu_count()
CHUNK_ENV = "ROTATION_SWEEP_CHUNK"  # combinations per chunk (default: memory-sized)
PARTIAL = ".partial"  # suffix of the chunk store beside the sweep folder


def partial_folder(destination: Path) -> Path:
    """The chunk store of the sweep folder `destination`: `<destination>.partial`."""
    destination = Path(destination)
    return destination.with_name(destination.name + PARTIAL)


def resumed_destination(resume: Path) -> Path:
    """The sweep folder a `--resume <out>.partial` writes when no --out is given."""
    resume = Path(resume)
    if not resume.name.endswith(PARTIAL) or resume.name == PARTIAL:
        raise RotationError(
            f"--resume {resume}: not named <folder>{PARTIAL}; pass --out for the sweep folder"
        )
    return resume.with_name(resume.name[: -len(PARTIAL)])


def chunk_size_from_env() -> int | None:
    """Combinations per chunk from ROTATION_SWEEP_CHUNK (None: memory-sized)."""
    text = os.environ.get(CHUNK_ENV, "").strip()
    if not text:
        return None
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise RotationError(f"{CHUNK_ENV}={text!r}: must be a whole number >= 1")
    return size


def resolved_chunk_size(recorded: dict | None, chunk_size: int | None) -> int | None:
    """Combinations per chunk: the resumed store's (`recorded`), else `chunk_size`, else
    $ROTATION_SWEEP_CHUNK (`chunk_size_from_env`; None: memory-sized)."""
    if recorded is not None:
        return int(recorded["chunk_size"])
    return chunk_size if chunk_size is not None else chunk_size_from_env()


# ---- the cluster -------------------------------------------------------------------


def max_workers() -> int:
    """The largest --workers: WORKERS_PER_CORE x the CPU cores of this machine."""
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def check_cluster(
    workers: int | None, scheduler: str | None, timeout: float = CONNECT_SECONDS
) -> str | None:
    """Check --workers, --scheduler and --timeout before any work; the scheduler's address
    as tcp://HOST:PORT (None without one). RotationError (one line) when one is wrong."""
    if workers is not None and scheduler is not None:
        raise RotationError(
            "--workers and --scheduler: give one (a local cluster or a running one)"
        )
    if workers is not None and not 1 <= workers <= max_workers():
        raise RotationError(
            f"--workers {workers}: at most {max_workers()} here ({WORKERS_PER_CORE} x the "
            f"{os.cpu_count() or 1} CPU cores); for more, start a cluster and pass --scheduler"
        )
    if not (math.isfinite(timeout) and timeout > 0):
        raise RotationError(f"--timeout {timeout}: must be a number of seconds above 0")
    if scheduler is None:
        return None
    host_port = re.fullmatch(r"(?:tcp://)?(\[[0-9A-Fa-f:.]+\]|[\w.-]+):(\d{1,5})", scheduler)
    if host_port is None or not 0 < int(host_port[2]) < 65536:
        raise RotationError(
            f"--scheduler {scheduler}: not a scheduler address; give tcp://HOST:PORT "
            "(e.g. tcp://10.0.0.5:8786)"
        )
    return f"tcp://{host_port[1]}:{int(host_port[2])}"


@contextmanager
def connect(
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = CONNECT_SECONDS,
    warm: bool = True,
) -> Iterator[Any]:
    """A Dask Client: of a new local cluster of `workers` processes (one thread each,
    localhost only) or of the scheduler at `scheduler`; None when neither is given.
    Each worker loads the numba kernels once, when it joins (a worker plugin); `warm`:
    load them here first (so that a cold cache is compiled once, not by every worker).

    Raises:
        RotationError: a wrong option (`check_cluster`), dask missing, or no scheduler
            answered within `timeout` seconds (one line).
    """
    address = check_cluster(workers, scheduler, timeout)
    if workers is None and address is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RotationError(
            "--workers/--scheduler need Dask: pip install 'dask[distributed]'"
        ) from None
    cluster = None
    try:
        if workers is not None:
            cluster = _local_cluster(workers, LocalCluster)
            client = Client(cluster, set_as_default=False)
        else:
            client = _client_of(address, timeout)
    except BaseException:
        with deferred():
            if cluster is not None:
                cluster.close()
        raise
    from engine.research.worker_plugin import WarmKernels

    try:
        if warm:
            warm_up()  # fill numba's cache here first, so workers only load it
        client.register_plugin(WarmKernels())
        yield client
    finally:
        with deferred():  # a second Ctrl-C does not leave worker processes behind
            client.close()
            if cluster is not None:
                cluster.close()


def _local_cluster(workers: int, local_cluster: type):
    """A LocalCluster of `workers` processes of one thread each, on localhost only, its
    workers set up for long CPU-bound tasks (LOCAL_WORKERS; a variable of the same name
    in the environment wins over the two malloc settings)."""
    import dask

    with dask.config.set(LOCAL_WORKERS):  # read as the workers are made, in here
        return local_cluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # its health/metrics HTTP server on a free localhost port, not 8787
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            # CRITICAL: a worker logs an ERROR with a traceback when its heartbeat finds the
            # scheduler gone (a Ctrl-C closes it first); a task's error reaches the command
            # as its exception, said in one Error line
            silence_logs=logging.CRITICAL,
        )


def _client_of(address: str, timeout: float):
    """A Client of the running scheduler at `address` (RotationError within about
    `timeout` seconds when none answers).

    Dask's connect waits for the scheduler's first reply (its handshake) without a
    deadline, so a port that accepts connections and never answers would hang it: a
    handshake of our own, under asyncio.wait_for, goes first.
    """
    import asyncio

    from distributed import Client
    from distributed.comm import connect as open_comm

    async def handshake() -> None:
        comm = await asyncio.wait_for(open_comm(address, timeout=timeout), timeout)
        await comm.close()

    try:
        asyncio.run(handshake())
        return Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # OSError (timeout, refused), asyncio.TimeoutError, ...
        silent = isinstance(exc, (TimeoutError, asyncio.TimeoutError))
        why = " ".join(str(exc).split()) or ("no reply" if silent else type(exc).__name__)
        if len(why) > 120:
            why = why[:117] + "..."
        raise RotationError(
            f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s "
            f"({why}); check the address, or use --workers N for a local cluster"
        ) from None


def _on_cluster(
    client, plan: Any, todo: Sequence[tuple[int, int]], task: Callable = None
) -> Iterator[Any]:
    """Run `task(plan, start, stop)` (default evaluate_chunk) for the chunks `todo` on the
    cluster, `plan` sent to every worker once; yield the results as they finish. Cancels
    what is still running when the caller stops (an error, Ctrl-C)."""
    from distributed import as_completed

    if not todo:
        return
    shared = client.scatter(plan, broadcast=True, hash=False)
    futures = client.map(
        task or evaluate_chunk,
        [shared] * len(todo),
        [start for start, _ in todo],
        [stop for _, stop in todo],
        pure=False,
    )
    try:
        for future in as_completed(futures, loop=client.loop):
            chunk = future.result()
            future.release()
            yield chunk
    finally:
        with deferred():
            client.cancel(futures)
            client.cancel([shared])


def _in_process(plan: SweepPlan, todo: Sequence[tuple[int, int]]) -> Iterator[Chunk]:
    for start, stop in todo:
        yield evaluate_chunk(plan, start, stop)


# ---- the sweep ---------------------------------------------------------------------


def sweep_grid(spec: SweepSpec, source: PriceSource, *args, **kwargs) -> SweepResult:
    """`swept`'s result for a caller that writes nothing: the chunk store (if any) is
    removed as soon as the result is assembled."""
    with swept(spec, source, *args, **kwargs) as result:
        return result


@contextmanager
def swept(
    spec: SweepSpec,
    source: PriceSource,
    progress: Callable[[int, int], None] | None = None,
    keep_values: bool = False,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = CONNECT_SECONDS,
    resume: Path | None = None,
    store: Path | None = None,
    chunk_size: int | None = None,
    destination: Path | None = None,
) -> Iterator[SweepResult]:
    """`run_sweep`, on a cluster when asked, keeping finished chunks for --resume; the
    result is yielded to the block that writes it.

    Args:
        progress, keep_values: as for run_sweep (progress gets combinations done).
        workers: start a local Dask cluster of this many worker processes.
        scheduler: address of a running Dask scheduler (tcp://host:8786), which must
            answer within `timeout` seconds.
        resume: a chunk store left by an interrupted sweep: its finished chunks are
            verified and reused (RotationError when one is not what its record says,
            or they are of another config, grid or data; the store is left as it was).
        store: where to keep finished chunks (a new folder; None, or a grid of one
            chunk: keep none). With `resume`, the resumed folder is the store.
        chunk_size: combinations per chunk (default ROTATION_SWEEP_CHUNK, else
            memory-sized); a resumed sweep keeps its own.
        destination: the folder the block writes (atomically, engine.report.folders).

    The result is identical to run_sweep's, whatever the workers and interruptions.
    The store is removed when the block completes: the output is then in place. On an
    error or a stop signal, before or inside the block, it is kept (if it holds a
    finished chunk) and one line on stderr says how to resume; unless `destination`
    exists by then (the stop came during its final rename): the output is complete and
    the store is removed.
    """
    with kept_store(resume, store, destination) as (chunks, recorded):
        chunk_size = resolved_chunk_size(recorded, chunk_size)
        cluster = {"workers": workers, "scheduler": scheduler, "timeout": timeout}
        yield _evaluate(spec, source, progress, keep_values, chunks, recorded, chunk_size, cluster)


@contextmanager
def kept_store(
    resume: Path | None, store: Path | None, destination: Path | None
) -> Iterator[tuple[ChunkStore | None, dict | None]]:
    """(the chunk store, its plan.json when resumed) for the block that sweeps and writes
    `destination`: the resumed store (`resume`, its plan checked), or a new one at `store`
    (refused when it exists, before any work), or None.

    The store is removed when the block completes: the output is then in place. On an
    error or a stop signal it is kept (if it holds a finished chunk) and one line on
    stderr says how to resume; unless `destination` exists by then (the stop came during
    its final rename): the output is complete and the store is removed.
    """
    chunks: ChunkStore | None = None
    recorded = None
    if resume is not None:
        chunks = ChunkStore(resume)
        recorded = chunks.recorded()
    elif store is not None:
        chunks = ChunkStore(store)
        chunks.refuse_existing()  # before any work
    try:
        yield chunks, recorded
    except BaseException:
        if chunks is not None and chunks.in_use:
            with deferred():
                if destination is not None and os.path.isdir(destination):
                    chunks.remove()  # the output folder was renamed into place
                else:
                    _keep_or_drop(chunks)
        raise
    if chunks is not None and chunks.in_use:
        with deferred():
            chunks.remove()


def _evaluate(
    spec: SweepSpec,
    source: PriceSource,
    progress: Callable[[int, int], None] | None,
    keep_values: bool,
    chunks: ChunkStore | None,
    recorded: dict | None,
    chunk_size: int | None,
    cluster: dict,
) -> SweepResult:
    """Build the plan, read the verified chunks of a resumed store, compute the others
    (in process or on the cluster), writing each to the store as it finishes."""
    with connect(**cluster) as client, collected() as notes:
        plan = build_plan(spec, source, keep_values, chunk_size)
        assembler = Assembler(plan)
        if chunks is not None and recorded is not None:
            chunks.check(sweep_key(spec, plan), recorded)
            for chunk in chunks.finished(plan):
                assembler.add(chunk)
            if progress:
                progress(assembler.done, plan.size)
        elif chunks is not None and len(plan.chunks()) > 1:  # one chunk: nothing to resume
            chunks.create(sweep_key(spec, plan))
        todo = [c for c in plan.chunks() if c[0] not in assembler.blocks]
        run = _in_process(plan, todo) if client is None else _on_cluster(client, plan, todo)
        with closing(run):  # a stop in this loop cancels the futures before disconnecting
            for chunk in run:
                if chunks is not None and chunks.in_use:
                    chunks.write(plan, chunk)
                assembler.add(chunk)
                if progress:
                    progress(assembler.done, plan.size)
        return result_of(plan, assembler, notes)


def _keep_or_drop(chunks: ChunkStore) -> None:
    """After an error or a stop: keep a store with finished chunks (and say how to resume
    in one line); drop one this run created that holds none."""
    held = chunks.count()
    if held:
        from engine.terminal import say

        say(
            f"{held} finished chunk(s) kept for a resume in {chunks.folder}; continue "
            f"with `rotation sweep CONFIG --resume {chunks.folder}`",
            err=True,
        )
    elif chunks.created:
        chunks.remove()


# ---- walk-forward ------------------------------------------------------------------


def walk_forward_on(
    spec: SweepSpec,
    source: PriceSource,
    wf,
    metric: str,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = CONNECT_SECONDS,
):
    """`engine.research.walkforward.walk_forward`, its windows' sweeps on a cluster when
    asked (one task per window; the prices sent to every worker once)."""
    from engine.research.walkforward import walk_forward

    if workers is None and scheduler is None:
        return walk_forward(spec, source, wf, metric)
    with connect(workers, scheduler, timeout) as client, ExitStack() as running:

        def sweeps(specs: Sequence[SweepSpec], memory: PriceSource) -> Iterator[SweepResult]:
            # closed (its futures cancelled) before the client, even on a stop
            return running.enter_context(closing(_window_sweeps(client, specs, memory)))

        return walk_forward(spec, source, wf, metric, sweeps=sweeps)


def _window_sweeps(client, specs: Sequence[SweepSpec], memory: PriceSource):
    """Each window's sweep on the cluster, yielded in window order."""
    from engine.notices import warn
    from engine.research.sweep import run_sweep

    shared = client.scatter(memory, broadcast=True, hash=False)
    futures = [client.submit(run_sweep, s, shared, pure=False) for s in specs]
    try:
        for future in futures:
            result = future.result()
            future.release()
            for note in result.warnings:  # given on the worker: repeat them here
                warn(note)
            yield result
    finally:
        with deferred():
            client.cancel(futures)
            client.cancel([shared])
