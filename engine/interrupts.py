"""Stop a command cleanly on Ctrl-C, SIGTERM or SIGHUP.

While a `rotation` command runs, each of these signals raises `Interrupted` (a
KeyboardInterrupt) in the main thread, so the code unwinding the stack removes
what it was building (the staging folder of `engine.report.atomic_folder`, a
cache temp file). The command then prints one line on stderr and exits with
128 + the signal number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), the shell
convention. `deferred()` marks the few steps that must not be cut in half (the
final rename, the clean-up, a chunk written to a resume store) and the calls of
parallel numba kernels: a signal arriving inside it is raised at its end.

Why the kernels: Python runs a signal handler in the main thread, normally between
bytecodes; but a parallel numba kernel releases and takes back the GIL around its
parallel region (numba/np/ufunc/parallel.py), and a stop signal received meanwhile
has its handler run inside the compiled call. A handler that raises there leaves a
Python exception set while the kernel goes on and returns a value (`SystemError:
CPUDispatcher(...) returned a result with an exception set`, every time in a test
that signals the process while the PBO kernel runs; a crash at exit was reported
too). Inside `deferred()` the handler only records the signal.

Nothing is installed at import time: `handled_signals()` installs the handlers
for the duration of one command and restores the previous ones after. A signal
the parent process ignores (``nohup``, a background job's SIGINT) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """A stop signal received while a command was running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def message(self) -> str:
        name = signal.Signals(self.signum).name
        return f"Interrupted by {name}: stopped; no half-written output folder was left."


class _State:
    """What the handler needs: is a deferred step running, what arrived meanwhile."""

    depth = 0  # nesting of deferred()
    pending: int | None = None  # first signal received inside deferred()
    raised = False  # Interrupted already raised: the stack is unwinding


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.raised:
        return  # already stopping; let the clean-up finish
    if _State.depth:
        _State.pending = _State.pending or signum
        return
    _State.raised = True
    raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold back a stop signal until the block is done (a rename, a clean-up, a numba
    kernel). Only the main thread, where the handlers run, holds signals back; in any
    other thread (a Dask worker's) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
    if not _State.depth and _State.pending is not None and not _State.raised:
        signum, _State.pending = _State.pending, None
        _State.raised = True
        raise Interrupted(signum)


@contextmanager
def handled_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into `Interrupted` for the block, then exit with
    128 + the signal number after one line on stderr; previous handlers are restored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    _State.depth, _State.pending, _State.raised = 0, None, False
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, _handler)
    try:
        yield
    except Interrupted as stop:
        click.echo(stop.message, err=True)
        raise SystemExit(stop.exit_code) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        _State.depth, _State.pending, _State.raised = 0, None, False
