"""What SPEC 11's money keys cost a sweep (not a test: nothing is asserted).

In one process, on the CSV prices of `--data-dir` (default ../shared/data), times
`run_sweep` on configs/sweeps/breakout_grid.yaml (2,000 combinations) as it is (the
yardstick) and with money keys set on the same grid (2018-06-01 to 2025-09-26, where
BIL's file ends), the runs interleaved:

- `band+yield`: `execution.tolerance: 0.03` and `portfolio.cash_yield: 0.04`;
- `band+bills`: `tolerance: 0.03`, `cash_yield: BIL`, `stats.risk_free: BIL` (a ticker
  yield and a per-date risk-free series in the statistics).

Prints each variant's best and median wall time and its ratio to the yardstick's best;
`--json PATH` writes the numbers. One warm-up call of each first (numba cache, imports).

    python bench/money_speed.py --repeat 5
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "sweeps" / "breakout_grid.yaml"
DATA = REPO.parent / "shared" / "data"

VARIANTS = {
    "plain": {},
    "band+yield": {"execution": {"tolerance": 0.03}, "portfolio": {"cash_yield": 0.04}},
    "band+bills": {
        "execution": {"tolerance": 0.03},
        "portfolio": {"cash_yield": "BIL"},
        "stats": {"risk_free": "BIL"},
    },
}


def _spec(changes: dict, data_dir: Path):
    from engine.research.sweep_config import sweep_spec

    raw = yaml.safe_load(CONFIG.read_text())
    raw.pop("sweep")  # display options only
    # every variant ends where BIL's file ends, so all time the same dates
    raw["data"] |= {"source": "csv", "dir": str(data_dir), "end": "2025-09-26"}
    raw = copy.deepcopy(raw)
    for section, keys in changes.items():
        raw[section] |= keys
    return sweep_spec(raw, CONFIG.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from engine.data import CsvSource, MemorySource
    from engine.research.sweep import run_sweep

    specs = {name: _spec(changes, args.data_dir) for name, changes in VARIANTS.items()}
    tickers = sorted({t for spec in specs.values() for t in spec.base.tickers()})
    source = MemorySource(CsvSource(args.data_dir).load(tickers))
    times: dict[str, list[float]] = {name: [] for name in specs}
    for spec in specs.values():  # warm-up
        run_sweep(spec, source)
    for _ in range(args.repeat):
        for name, spec in specs.items():  # interleaved: the machine's load hits all alike
            began = time.perf_counter()
            result = run_sweep(spec, source)
            times[name].append(time.perf_counter() - began)
    best = {name: min(t) for name, t in times.items()}
    report = {
        "combinations": len(result.table),
        "repeat": args.repeat,
        "variants": {
            name: {
                "best_s": best[name],
                "median_s": statistics.median(times[name]),
                "ratio_to_plain": best[name] / best["plain"],
            }
            for name in specs
        },
    }
    print(f"{report['combinations']:,} combinations, best of {args.repeat}:")
    for name, row in report["variants"].items():
        print(
            f"  {name:12s} {row['best_s']:6.2f} s  (median {row['median_s']:.2f} s)  "
            f"{row['ratio_to_plain']:.2f}x plain"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
