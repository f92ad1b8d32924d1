"""`rotation sweep` end to end at scale: in process against `--workers 2`, and yardsticks.

    python bench/scale_sweep.py --sizes 200000 1000000 --repeat 2 --json runs/scale.json
    python bench/scale_sweep.py --sizes 10000000 --repeat 1
    python bench/scale_sweep.py --sizes 0 --yardstick 100000 --floor   # the two ratios only

Grids: the seed sweep (configs/sweeps/breakout_grid.yaml, on ../shared/data) with denser
axes: donchian entry (100 values, 20..416 step 4) x exit (20: 5..100, or 100: 1..100) x
the ETH sma window (as many as the size needs), written as YAML files in a temporary
folder. Every figure is a whole command in a fresh process, as a user runs it:

- for each size, pairs of runs, in process then `--workers 2` (a local cluster that
  starts while the plan is built), `--repeat` times: wall time, the driver's peak RSS
  (manifest.json `peak_rss_mb`), each worker's peak RSS and the overhead per task
  (manifest.json `tasks`), the stages (manifest.json `timing`); the speedup of each pair
  and its min/median; the two folders compared: summary.json byte for byte and every
  results part by its sha256 (the same chunk size) or, else, the tables;
- `--yardstick N`: `rotation sweep` of the N-combination grid against
  bench/minimal_loop.py on the same grid (imports, prices, aligned signals, a minimal
  numba loop over every combination), in turns; the ratio of each pair;
- `--floor`: `rotation sweep configs/sweeps/breakout_grid.yaml` (2,000 combinations)
  against `python -c "import pandas, numba, pyarrow"`, in turns.

No assertions: it is not a test. The machine's load moves the numbers: the load average
is printed beside them; read the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CLI = "import sys; from engine.cli import main; main(sys.argv[1:], prog_name='rotation')"


def write_grid(folder: Path, size: int, data: Path) -> Path:
    """The seed sweep with denser axes, >= `size` combinations (see the docstring)."""
    import yaml

    raw = yaml.safe_load((REPO / "configs" / "sweeps" / "breakout_grid.yaml").read_text())
    raw["data"] = {**raw["data"], "source": "csv", "dir": str(data)}
    raw.pop("sweep")
    n_exit = 20 if size <= 200_000 else 100
    n_window = -(-size // (100 * n_exit))
    breakout = raw["signals"]["ratio_breakout"]
    breakout["entry"] = {"start": 20, "stop": 20 + 4 * 99, "step": 4}
    breakout["exit"] = {"start": 5, "stop": 100, "step": 5} if n_exit == 20 else [*range(1, 101)]
    step = 2 if n_window <= 100 else 1
    raw["signals"]["eth_risk_on"]["window"] = {
        "start": 2, "stop": 2 + step * (n_window - 1), "step": step
    }  # fmt: skip
    path = folder / f"grid-{size}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(args: list[str], cwd: Path, env: dict | None = None) -> float:
    """Wall seconds of one command (it must succeed)."""
    env = env or os.environ | {"PYTHONPATH": str(REPO)}
    began = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def sweep(config: Path, out: Path, size: int, *extra: str) -> list[str]:
    return [sys.executable, "-c", CLI, "sweep", str(config), "--out", str(out),
            "--max-combos", str(max(size, 100_000)), "--json", *extra]  # fmt: skip


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def same_results(a: Path, b: Path) -> str:
    """'identical' when summary.json is the same bytes and the results the same."""
    if (a / "summary.json").read_bytes() != (b / "summary.json").read_bytes():
        return "summary.json DIFFERS"
    parts = [[(p["name"], p["sha256"]) for p in manifest_of(f)["results"]["parts"]] for f in (a, b)]
    if parts[0] == parts[1]:
        return "identical (summary.json bytes, every part's sha256)"
    import pyarrow.dataset as ds

    left, right = (ds.dataset(f / "results").to_batches() for f in (a, b))
    import pyarrow as pa

    x = pa.Table.from_batches(list(left))
    y = pa.Table.from_batches(list(right))
    return "identical (summary.json bytes, equal tables)" if x.equals(y) else "tables DIFFER"


def scale(size: int, repeat: int, folder: Path, data: Path) -> dict:
    config = write_grid(folder, size, data)
    pairs = []
    for k in range(repeat):
        row = {}
        for way, extra in (("in_process", ()), ("workers_2", ("--workers", "2"))):
            out = folder / f"out-{size}-{way}-{k}"
            seconds = run(sweep(config, out, size, *extra), folder)
            manifest = manifest_of(out)
            row[way] = {
                "seconds": seconds,
                "driver_peak_rss_mb": manifest["peak_rss_mb"],
                "tasks": manifest["tasks"],
                "chunk_size": manifest["chunk_size"],
                "stages": manifest["timing"]["parts"],
                "odds": _odds(out),
            }
        row["speedup"] = row["in_process"]["seconds"] / row["workers_2"]["seconds"]
        a, b = (folder / f"out-{size}-{way}-{k}" for way in ("in_process", "workers_2"))
        row["results"] = same_results(a, b)
        for path in (a, b):
            shutil.rmtree(path)
        pairs.append(row)
        _print_pair(size, k, row)
    speedups = [p["speedup"] for p in pairs]
    print(
        f"{size:,}: speedup min {min(speedups):.2f}x, median {statistics.median(speedups):.2f}x "
        f"(load average {os.getloadavg()[0]:.2f})"
    )
    return {"combinations": size, "pairs": pairs}


def _odds(out: Path) -> str:
    odds = json.loads((out / "summary.json").read_text()).get("overfitting") or {}
    pbo = odds.get("pbo") or {}
    sample = odds.get("sample")
    taken = f" on a sample of {sample['size']:,}" if sample else ""
    return (
        f"DSR {odds['deflated_sharpe']['dsr']:.3f}, PBO {pbo.get('pbo', float('nan')):.3f}{taken}"
    )


def _print_pair(size: int, k: int, row: dict) -> None:
    for way in ("in_process", "workers_2"):
        r = row[way]
        tasks = r["tasks"]
        workers = tasks.get("workers_peak_rss_mb")
        print(
            f"{size:>11,} {way:<10} {r['seconds']:7.1f} s  "
            f"driver peak {r['driver_peak_rss_mb']:6.0f} MB"
            + (f", workers {', '.join(f'{m:.0f}' for m in workers)} MB" if workers else "")
            + f"; {tasks['count']} tasks of {r['chunk_size']:,}, overhead "
            f"{tasks.get('overhead_per_task_seconds', 0) * 1e3:.1f} ms/task; "
            + ", ".join(f"{name} {s:.1f}" for name, s in r["stages"].items())
            + f"; {r['odds']}"
        )
    print(f"{'':>11} speedup {row['speedup']:.2f}x; {row['results']}")


def paired(first: list[str], second: list[str], repeat: int, folder: Path, label: str) -> dict:
    """`first` and `second` in turns, `repeat` times after one warm-up of each: the ratio
    of each pair, its min and median."""
    outs = []

    def fresh(args: list[str]) -> list[str]:
        if "--out" not in args:
            return args
        out = folder / f"out-{len(outs)}"
        outs.append(out)
        return [out if a == "OUT" else a for a in args]

    for args in (first, second):
        run([str(a) for a in fresh(args)], folder)
    ratios, times = [], []
    for _ in range(repeat):
        a = run([str(x) for x in fresh(first)], folder)
        b = run([str(x) for x in fresh(second)], folder)
        ratios.append(a / b)
        times.append((a, b))
    for out in outs:
        shutil.rmtree(out, ignore_errors=True)
    print(
        f"{label}: {statistics.median(t[0] for t in times):.2f} s vs "
        f"{statistics.median(t[1] for t in times):.2f} s; ratio min {min(ratios):.2f}, "
        f"median {statistics.median(ratios):.2f} (load average {os.getloadavg()[0]:.2f})"
    )
    return {"ratios": ratios, "seconds": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--yardstick", type=int, default=0, help="grid size (0: skip)")
    parser.add_argument("--floor", action="store_true", help="the ready sweep vs imports")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report: dict = {"cores": os.cpu_count(), "load_average_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="scale-sweep-") as scratch:
        folder = Path(scratch)
        report["sizes"] = [scale(n, args.repeat, folder, args.data_dir) for n in args.sizes if n]
        if args.yardstick:
            config = write_grid(folder, args.yardstick, args.data_dir)
            report["yardstick"] = paired(
                sweep(config, "OUT", args.yardstick),
                [sys.executable, str(REPO / "bench" / "minimal_loop.py"), config],
                args.repeat,
                folder,
                f"rotation sweep of {args.yardstick:,} vs the minimal numba loop",
            )
        if args.floor:
            ready = REPO / "configs" / "sweeps" / "breakout_grid.yaml"
            report["floor"] = paired(
                [*sweep(ready, "OUT", 2000), "--data-dir", args.data_dir],
                [sys.executable, "-c", "import pandas, numba, pyarrow"],
                args.repeat,
                folder,
                "rotation sweep breakout_grid.yaml vs import pandas, numba, pyarrow",
            )
    report["load_average_end"] = os.getloadavg()[0]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
