"""Shared rolling work of the signal kinds: each distinct window computed once per input.

A sweep asks a kind for K parameter sets at once; sets with equal windows share
one rolling pass (`rolling` returns one array per distinct window), then
`columns` lays the cached arrays out as [T, K].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def rolling(
    x: pd.Series, windows: Iterable[int], how: str, shift: int = 0
) -> dict[int, np.ndarray]:
    """{n: the `how` ('max', 'min', 'mean') of the last n values of x shifted by `shift`}.

    With shift 1 the window at t is x_{t-n} .. x_{t-1} (prior values only); NaN until
    n values exist.
    """
    source = x.shift(shift) if shift else x
    return {
        n: getattr(source.rolling(n, min_periods=n), how)().to_numpy(dtype=float)
        for n in set(windows)
    }


def columns(cache: Mapping[Any, np.ndarray], keys: Sequence[Any]) -> np.ndarray:
    """Stack cached arrays [T] into [T, K], column k being `cache[keys[k]]`."""
    return np.column_stack([cache[key] for key in keys])


def across(values: np.ndarray | pd.Series, count: int) -> np.ndarray:
    """One array [T] as K identical columns (a read-only view)."""
    values = np.asarray(values, dtype=float)
    return np.broadcast_to(values[:, None], (len(values), count))


def flat(length: int, levels: Sequence[float]) -> np.ndarray:
    """Constant lines [T, K]: column k is `levels[k]` on every bar (a read-only view)."""
    levels = np.asarray(levels, dtype=float)
    return np.broadcast_to(levels[None, :], (length, len(levels)))
