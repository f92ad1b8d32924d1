"""The results of a sweep as a dataset of parquet parts, one per chunk, written where computed.

A sweep folder's `results/` holds `part-NNNNN.parquet`, the combinations of chunk NNNNN
(its k-th chunk, [k x chunk, (k + 1) x chunk)) in combination order: the parameter
values, a `scenario` label when there are scenario axes, then every statistic, one row
per combination. Read in name order the parts are the whole table (pandas
`read_parquet("results")`, pyarrow.dataset, DuckDB `read_parquet('results/*.parquet')`).

engine.research.streamed runs the tasks that write them, where they are computed.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from engine.research.chunks import SweepPlan

RESULTS = "results"  # the folder of parts in a sweep folder
CSV_ROWS = 10_000  # results.csv is written up to this many combinations (else --csv)


def part_name(k: int, parts: int) -> str:
    """`part-00000.parquet`: five digits, more when there are more parts."""
    return f"part-{k:0{max(5, len(str(parts - 1)))}d}.parquet"


def scenario_labels(plan: SweepPlan, index: np.ndarray) -> np.ndarray | None:
    """[g] the scenario label of each combination of `index` (None without scenario axes):
    `fees_bps=2, slippage_bps=1` by short names, as engine.research.sweep_config names it."""
    from engine.research.sweep_config import short_names

    if not plan.scenarios:
        return None
    names = [a.name for a in plan.axes]
    short = short_names(names)
    which = [i for i, name in enumerate(names) if name in plan.scenarios]
    dims = [len(plan.axes[i].values) for i in which]
    labels = np.array(
        [
            ", ".join(
                f"{short[names[i]]}={plan.axes[i].values[k]:g}"
                for i, k in zip(which, np.unravel_index(n, dims), strict=True)
            )
            for n in range(int(np.prod(dims)))
        ],
        dtype=object,
    )
    return labels[np.ravel_multi_index(index[which], dims)]


def part_columns(plan: SweepPlan, combos: np.ndarray, columns: dict) -> dict[str, np.ndarray]:
    """The columns of the grid rows `combos`: parameter values, scenario label, statistics."""
    index = np.array(np.unravel_index(combos, plan.shape)).reshape(len(plan.axes), -1)
    frame = {a.name: a.column(index[i]) for i, a in enumerate(plan.axes)}
    labels = scenario_labels(plan, index)
    if labels is not None:
        frame["scenario"] = labels
    return frame | columns


def part_frame(plan: SweepPlan, combos: np.ndarray, columns: dict) -> pd.DataFrame:
    """`part_columns` as a frame (what reading the part back gives)."""
    return pd.DataFrame(part_columns(plan, combos, columns))


def part_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """The parquet file of a part's columns (`part_columns`), built as an arrow table from
    the arrays directly (a pandas frame's conversion cost ~5 ms a part); text as arrow
    strings. No dictionary encoding: statistics rarely repeat, and it is 4x faster."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            name: pa.array(values, type=pa.string() if values.dtype == object else None)
            for name, values in columns.items()
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, use_dictionary=False)
    return buffer.getvalue()


def statistic_columns(plan: SweepPlan, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A part's statistic columns (its parameters and scenario label left out)."""
    skip = {a.name for a in plan.axes} | ({"scenario"} if plan.scenarios else set())
    return {name: frame[name].to_numpy() for name in frame.columns if name not in skip}


def link_or_copy(source: Path, target: Path) -> None:
    """Put the file `source` at `target` as a hard link (no copy, no second disk), or a copy
    where the file system has none."""
    import shutil

    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def warm_up() -> None:
    """Load (or compile) every numba kernel a task runs: the chunk's and the reduction's."""
    from engine.research.chunks import warm_up as chunk_kernels
    from engine.research.reduce import exact_sums

    chunk_kernels()
    exact_sums(np.zeros(1, dtype=np.int64), [np.ones(1)], 1)
