"""A large sweep in one process vs on a local Dask cluster (`rotation sweep --workers N`).

    python bench/dask_sweep.py                      # 200,000 combinations, 2 workers
    python bench/dask_sweep.py --combos 1000000 --json runs/dask_bench.json

The grid is the seed sweep (configs/sweeps/breakout_grid.yaml: 20 entries x 10 exits x
10 ETH windows) times a fees axis of --combos / 2,000 values, on ../shared/data. It
reports, for each way:

- in process: plan (load, signals, benchmark), the chunk loop, per chunk and per
  combination; peak RSS of this process;
- on the cluster: cluster start-up, the chunk loop (scatter, tasks, results), the
  workers' compute time from Dask's task stream, the scheduler overhead per task
  ((wall x workers - compute) / tasks), each worker's peak RSS, the speedup;
- the per-chunk cost as fixed + per combination (two in-process chunk sizes), so the
  time of another grid on another cluster can be extrapolated, and the chunk size
  that keeps the measured overhead under 5% of a task.

The two tables are checked to be identical (assert_frame_equal, check_exact=True).
No assertions on time: it is not a test. Other processes sharing the cores move the
numbers: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MB = 2**20


def peak_rss_mb() -> float:
    """Peak RSS of this process: VmHWM on Linux, else ru_maxrss (KiB on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def grid_spec(config: Path, data_dir: Path, combos: int):
    """The seed sweep times a fees axis: >= `combos` combinations."""
    from engine.config import read_yaml, with_overrides
    from engine.research.sweep_config import sweep_spec

    raw = read_yaml(config)
    raw.pop("sweep", None)
    raw = with_overrides(raw, config, source="csv", dir=str(data_dir))
    base = 20 * 10 * 10
    n_fees = max(1, -(-combos // base))
    raw["execution"]["fees_bps"] = [round(0.1 * i, 1) for i in range(n_fees)]
    return sweep_spec(raw, f"{config} x {n_fees} fees", max_combos=base * n_fees)


def in_process(spec, source, chunk: int | None) -> dict:
    from engine.research.chunks import Assembler, build_plan, evaluate_chunk

    began = time.perf_counter()
    plan = build_plan(spec, source, chunk=chunk)
    planned = time.perf_counter()
    assembler = Assembler(plan)
    for start, stop in plan.chunks():
        assembler.add(evaluate_chunk(plan, start, stop))
    looped = time.perf_counter()
    table = assembler.table()
    return {
        "table": table,
        "plan_s": planned - began,
        "loop_s": looped - planned,
        "total_s": time.perf_counter() - began,
        "chunks": len(plan.chunks()),
        "chunk": plan.chunk,
        "per_chunk_s": (looped - planned) / len(plan.chunks()),
        "per_combo_ms": (looped - planned) / spec.size * 1e3,
        "peak_rss_mb": peak_rss_mb(),
    }


def chunk_cost(spec, source, sizes=(250, 2500), repeat: int = 3) -> dict:
    """Seconds of one chunk as fixed + per combination (best of `repeat` at two sizes)."""
    from engine.research.chunks import build_plan, evaluate_chunk

    plan = build_plan(spec, source)
    best = {}
    for size in sizes:
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            evaluate_chunk(plan, 0, size)
            times.append(time.perf_counter() - began)
        best[size] = min(times)
    (a, ta), (b, tb) = sorted(best.items())
    per_combo = (tb - ta) / (b - a)
    return {"fixed_s": max(ta - per_combo * a, 0.0), "per_combo_s": per_combo, "best": best}


def on_cluster(spec, source, workers: int, chunk: int | None) -> dict:
    from distributed import get_task_stream

    from engine.research.chunks import Assembler, build_plan
    from engine.research.distributed import _on_cluster, connect

    began = time.perf_counter()
    with connect(workers=workers) as client:
        started = time.perf_counter()
        plan = build_plan(spec, source, chunk=chunk)
        planned = time.perf_counter()
        assembler = Assembler(plan)
        with get_task_stream(client) as stream:
            for finished in _on_cluster(client, plan, plan.chunks()):
                assembler.add(finished)
        looped = time.perf_counter()
        table = assembler.table()
        rss = client.run(peak_rss_mb)
    closed = time.perf_counter()
    tasks = [t for t in stream.data if str(t.get("key", "")).startswith("evaluate_chunk")]
    compute = [
        s["stop"] - s["start"] for t in tasks for s in t["startstops"] if s["action"] == "compute"
    ]
    n = len(plan.chunks())
    loop = looped - planned
    return {
        "table": table,
        "start_s": started - began,
        "plan_s": planned - started,
        "loop_s": loop,
        "close_s": closed - looped,
        "total_s": closed - began,
        "tasks": n,
        "chunk": plan.chunk,
        "compute_sum_s": sum(compute),
        "compute_per_task_s": sum(compute) / max(len(compute), 1),
        "overhead_per_task_s": (loop * workers - sum(compute)) / n,
        "worker_peak_rss_mb": sorted(rss.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--combos", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=None, help="default: memory-sized")
    parser.add_argument("--config", type=Path, default=REPO / "configs/sweeps/breakout_grid.yaml")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import pandas as pd

    from engine.data import CsvSource, MemorySource
    from engine.research.chunks import warm_up

    warm_up()
    spec = grid_spec(args.config, args.data_dir, args.combos)
    source = MemorySource(CsvSource(args.data_dir).load(spec.base.tickers()))
    print(f"{spec.size:,} combinations, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")

    cost = chunk_cost(spec, source)
    alone = in_process(spec, source, args.chunk)
    print(
        f"in process   {alone['total_s']:7.1f} s (plan {alone['plan_s']:.2f}, "
        f"{alone['chunks']} chunks of {alone['chunk']:,}: {alone['per_chunk_s']:.3f} s each, "
        f"{alone['per_combo_ms']:.4f} ms per combination); peak RSS {alone['peak_rss_mb']:.0f} MB"
    )
    spread = on_cluster(spec, source, args.workers, args.chunk)
    speedup = alone["total_s"] / spread["total_s"]
    print(
        f"{args.workers} workers    {spread['total_s']:7.1f} s (cluster start "
        f"{spread['start_s']:.2f}, plan {spread['plan_s']:.2f}, chunks {spread['loop_s']:.2f}, "
        f"close {spread['close_s']:.2f}); speedup {speedup:.2f}x end to end, "
        f"{alone['loop_s'] / spread['loop_s']:.2f}x on the chunks"
    )
    print(
        f"             {spread['tasks']} tasks: compute {spread['compute_per_task_s']:.3f} s "
        f"each on a worker, scheduler/transfer overhead "
        f"{spread['overhead_per_task_s'] * 1e3:.1f} ms per task; worker peak RSS "
        + ", ".join(f"{m:.0f} MB" for m in spread["worker_peak_rss_mb"])
    )
    overhead = max(spread["overhead_per_task_s"], 0.0)
    # overhead / (fixed + k per_combo) < 5%  <=>  k > (20 overhead - fixed) / per_combo
    k5 = max(1, int((20 * overhead - cost["fixed_s"]) / cost["per_combo_s"]) + 1)
    print(
        f"chunk cost   {cost['fixed_s'] * 1e3:.1f} ms fixed + {cost['per_combo_s'] * 1e6:.1f} us "
        f"per combination; overhead < 5% of a task from {k5:,} combinations per chunk"
    )
    pd.testing.assert_frame_equal(alone["table"], spread["table"], check_exact=True)
    print("tables identical (check_exact)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        report = {
            "combos": spec.size,
            "workers": args.workers,
            "in_process": {k: v for k, v in alone.items() if k != "table"},
            "cluster": {k: v for k, v in spread.items() if k != "table"},
            "chunk_cost": {k: v for k, v in cost.items() if k != "best"},
            "chunk_for_5pct_overhead": k5,
            "speedup": speedup,
            "load_average": os.getloadavg()[0],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
