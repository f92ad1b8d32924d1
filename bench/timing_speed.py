"""What `rotation timing` costs against one `rotation run` (not a test: nothing is asserted).

In one process, on the CSV prices of `--data-dir` (default ../shared/data), times two
commands through click, as a user types them (each loads its config and prices, decides,
simulates, measures and writes its folder):

- the yardstick: `rotation run CONFIG` (one decision day, simulated with vectorbt);
- `rotation timing CONFIG`: every decide_day of the period (42 for a monthly config:
  1..21 and -21..-1) and the 4-tranche blend, in one pass of the numba kernel.

One warm-up call of each first (imports, numba's cache), then `--repeat` pairs, run in
turn so the machine's load hits both alike; prints each one's best and median and the
ratio of the medians (and of each pair's times). `--json PATH` writes the numbers.

    python bench/timing_speed.py --repeat 7                     # configs/taa/gtaa5.yaml
    python bench/timing_speed.py --config configs/taa/gem.yaml
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CONFIG = REPO / "configs" / "taa" / "gtaa5.yaml"


def _timed(runner, args: list[str]) -> float:
    from engine.cli import main

    began = time.perf_counter()
    result = runner.invoke(main, args)
    seconds = time.perf_counter() - began
    if result.exit_code != 0:
        raise SystemExit(f"{' '.join(args)} failed: {result.output}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from click.testing import CliRunner

    runner = CliRunner()
    given = [str(args.config), "--data-dir", str(args.data_dir), "--json"]
    times: dict[str, list[float]] = {"run": [], "timing": []}
    with tempfile.TemporaryDirectory() as scratch:
        for k in range(args.repeat + 1):  # the first pair warms up
            for command in ("run", "timing"):
                out = str(Path(scratch) / f"{command}-{k}")
                seconds = _timed(runner, [command, *given, "--out", out])
                if k:
                    times[command].append(seconds)
    pairs = [t / r for t, r in zip(times["timing"], times["run"], strict=True)]
    report = {
        "config": args.config.name,
        "repeat": args.repeat,
        "run": {"best": min(times["run"]), "median": statistics.median(times["run"])},
        "timing": {"best": min(times["timing"]), "median": statistics.median(times["timing"])},
        "ratio_of_medians": statistics.median(times["timing"]) / statistics.median(times["run"]),
        "pair_ratios": {"min": min(pairs), "median": statistics.median(pairs), "max": max(pairs)},
    }
    print(f"{args.config.name}, {args.repeat} pairs after a warm-up pair:")
    for command in ("run", "timing"):
        best, median = report[command]["best"], report[command]["median"]
        print(f"  rotation {command:<6}  best {best:.3f} s, median {median:.3f} s")
    spread = report["pair_ratios"]
    print(
        f"  timing / run: {report['ratio_of_medians']:.2f} (medians); pair by pair "
        f"{spread['min']:.2f} to {spread['max']:.2f}, median {spread['median']:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
