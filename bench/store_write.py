"""What the resume store costs per chunk (`rotation sweep --out X`: X.partial/).

    python bench/store_write.py                  # chunks of 2,472 and 25,000 combinations

Real chunks of the seed sweep (configs/sweeps/breakout_grid.yaml times a fees axis, on
../shared/data; bench/dask_sweep.py's grid) are written with
`engine.research.chunk_store.ChunkStore.write` (serialise, sha256, temporary file,
fsync, rename, record) and read back with `ChunkStore.finished` (verify, parse). The
yardstick, timed in the same process right before: `DataFrame.to_parquet` of the same
columns to a plain file (what any store must do at least). Each figure is the best of
--repeat rounds of --chunks writes; the load average is printed beside them. Statistic
columns only (a sweep keeps daily values below 50,000 combinations only). No assertions:
it is not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best_per_chunk(action, chunks: int, repeat: int) -> float:
    """Best over `repeat` rounds of the seconds per call of action(i), i < chunks."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        for i in range(chunks):
            action(i)
        best = min(best, (time.perf_counter() - began) / chunks)
    return best


def measure(plan, spec, size: int, chunks: int, repeat: int, scratch: Path) -> dict:
    import pandas as pd

    from engine.research.chunk_store import ChunkStore, sweep_key
    from engine.research.chunks import evaluate_chunk

    chunk = evaluate_chunk(plan, 0, size)
    frame_path = scratch / f"plain-{size}.parquet"

    def plain(i: int) -> None:
        pd.DataFrame(chunk.columns).to_parquet(frame_path, index=False, use_dictionary=False)

    rounds = iter(range(10**9))
    stores: list[ChunkStore] = []

    def stored(i: int) -> None:
        if i == 0:
            stores.append(ChunkStore(scratch / f"store-{size}-{next(rounds)}"))
            stores[-1].create(sweep_key(spec, plan))
        stores[-1].write(plan, chunk._replace(start=i * size, stop=(i + 1) * size))

    yardstick = best_per_chunk(plain, chunks, repeat)
    written = best_per_chunk(stored, chunks, repeat)
    return {"size": size, "yardstick": yardstick, "store": written}


def main() -> None:
    from bench.dask_sweep import grid_spec
    from engine.data import CsvSource, MemorySource
    from engine.research.chunks import build_plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--chunks", type=int, default=20, help="writes per round")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = REPO / "configs" / "sweeps" / "breakout_grid.yaml"
    spec = grid_spec(config, args.data_dir, 25_000)
    source = MemorySource(CsvSource(args.data_dir).load(spec.base.tickers()))
    plan = build_plan(spec, source, keep_values=False, chunk=25_000)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch:
        rows = [
            measure(plan, spec, n, args.chunks, args.repeat, Path(scratch)) for n in (2_472, 25_000)
        ]
    for row in rows:
        print(
            f"{row['size']:>7,} combinations: store {row['store'] * 1e3:6.1f} ms per chunk, "
            f"to_parquet alone {row['yardstick'] * 1e3:6.1f} ms "
            f"({row['store'] / row['yardstick']:.2f}x)"
        )
    small, large = rows
    per_combo = (large["store"] - small["store"]) / (large["size"] - small["size"])
    fixed = small["store"] - per_combo * small["size"]
    print(f"store: about {fixed * 1e3:.1f} ms per chunk + {per_combo * 1e6:.2f} µs per combination")


if __name__ == "__main__":
    main()
