"""A sweep folder, written all at once (staged and renamed into place, engine.report.folders).

  summary.json      the best per scenario, sensitivity, counts against the benchmark, odds
  results/          part-NNNNN.parquet: every combination, one part per chunk, in
                    combination order (engine.research.parts); linked from the chunk store
  results.csv       the same rows as CSV, up to engine.research.parts.CSV_ROWS combinations
                    (or with --csv)
  top.parquet       the best `top` of each scenario by each ranking metric, full rows:
                    ranked_by, rank, row, parameters, scenario, statistics
  heatmap.csv       the heatmap's cells: x, y (parameter values), combinations, metric
                    (mean), excess (mean of metric minus its benchmark's), benchmark_min,
                    benchmark_max
  histogram.csv     the ranking metric over every combination: low, high, combinations
  best_values.csv   date, scenario, strategy, benchmark: each scenario's best, daily
  manifest.json     config hash, data hashes, versions, warnings, timing, peak_rss_mb,
                    and `results`: each part's name, rows, bytes and sha256

Formatting and files only: every number comes from engine.research.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from engine.integrity import file_record
from engine.report import write_csv, write_json
from engine.report.folders import atomic_folder
from engine.research.parts import RESULTS, link_or_copy, part_name


def write_sweep(
    destination: Path,
    summary: dict,
    manifest: dict,
    parts: Iterable[tuple[int, Path | bytes, dict | None]],
    count: int,
    tables: dict[str, pd.DataFrame | None],
    csv: bool,
) -> Path:
    """Write the folder (see the module docstring). `parts`: (chunk number, part file or
    bytes, its record or None) of the `count` chunks, in order; `tables`: top, heatmap,
    histogram and best_values frames (None: not written)."""
    with atomic_folder(destination) as staging:
        folder = staging / RESULTS
        folder.mkdir()
        listed = []
        out = (staging / "results.csv").open("w", newline="") if csv else None
        try:
            for k, part, record in parts:
                name = part_name(k, count)
                if isinstance(part, bytes):
                    (folder / name).write_bytes(part)
                    record = file_record(part)
                else:
                    link_or_copy(part, folder / name)
                    record = record or file_record((folder / name).read_bytes())
                rows = _rows(folder / name)
                listed.append({"name": f"{RESULTS}/{name}", "rows": rows, **record})
                if out is not None:
                    pd.read_parquet(folder / name).to_csv(
                        out, index=False, header=k == 0, lineterminator="\n"
                    )
        finally:
            if out is not None:
                out.close()
        for name, frame in tables.items():
            if frame is None:
                continue
            if name.endswith(".parquet"):
                frame.to_parquet(staging / name, index=False)
            else:
                write_csv(frame, staging / name)
        write_json(staging / "summary.json", summary)
        total = int(sum(p["rows"] for p in listed))
        write_json(
            staging / "manifest.json", {**manifest, "results": {"rows": total, "parts": listed}}
        )
    return Path(destination)


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def histogram_table(edges: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    """histogram.csv: each bin's low and high edge and its combinations."""
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "combinations": counts})
