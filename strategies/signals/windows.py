"""Shared rolling work of the signal kinds: each distinct window computed once per input.

A sweep asks a kind for K parameter sets at once; sets with equal windows share
one rolling pass (`rolling` returns one array per distinct window), then
`columns` lays the cached arrays out as [T, K]. A caller that asks in blocks of sets
(engine.pipeline.signal_tables) opens `shared_windows()` around them, so a window is
computed once per input for all blocks, not once per block.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd

_SHARED: ContextVar[dict | None] = ContextVar("rotation_shared_windows", default=None)


@contextmanager
def shared_windows() -> Iterator[None]:
    """Within the block, `rolling` keeps what it computes for each input (held, so the
    input's identity stays its own), and a later call reuses it."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def rolling(
    x: pd.Series, windows: Iterable[int], how: str, shift: int = 0
) -> dict[int, np.ndarray]:
    """{n: the `how` ('max', 'min', 'mean', any pandas rolling reduction) of the last n
    values of x shifted by `shift`}, read-only arrays [T].

    With shift 1 the window at t is x_{t-n} .. x_{t-1} (prior values only); NaN until
    n values exist.
    """
    shared = _SHARED.get()  # keyed by identity: the entry holds x, so no other takes its id
    _, known = (x, {}) if shared is None else shared.setdefault((id(x), how, shift), (x, {}))
    wanted = set(windows)
    if not wanted <= known.keys():
        source = x.shift(shift) if shift else x
        for n in wanted - known.keys():
            known[n] = getattr(source.rolling(n, min_periods=n), how)().to_numpy(dtype=float)
            known[n].flags.writeable = False
    return {n: known[n] for n in wanted}


def columns(cache: Mapping[Any, np.ndarray], keys: Sequence[Any]) -> np.ndarray:
    """Stack cached arrays [T] into [T, K], column k being `cache[keys[k]]` (column-major:
    each column is one contiguous copy, ~8x faster than filling a row-major [T, K])."""
    return np.array([cache[key] for key in keys], dtype=float).T


def across(values: np.ndarray | pd.Series, count: int) -> np.ndarray:
    """One array [T] as K identical columns (a read-only view)."""
    values = np.asarray(values, dtype=float)
    return np.broadcast_to(values[:, None], (len(values), count))


def flat(length: int, levels: Sequence[float]) -> np.ndarray:
    """Constant lines [T, K]: column k is `levels[k]` on every bar (a read-only view)."""
    levels = np.asarray(levels, dtype=float)
    return np.broadcast_to(levels[None, :], (length, len(levels)))
