"""Speed of the PBO/CSCV (not a test: nothing is asserted), old vs new in one process.

`engine.research.overfitting.probability_of_overfitting` (one compiled pass over all
splits) against the implementation before issue 14, kept in
tests/overfitting_reference.py (0/1 matrix products per chunk of 512 splits, every
Sharpe ratio of the chunk held as a [512, N] numpy array), on the same [T, N] excess
returns: seeded noise, by default 2,170 days x 2,000 trials (the size of
configs/sweeps/breakout_grid.yaml) at 16 sub-periods, C(16, 8) = 12,870 splits.

The new one is called once first (numba cache load, or compile on a fresh checkout),
reported apart; then each is timed `--repeat` times (best and median, wall clock and
process CPU, which adds up both cores). Also checks that both give the same output.

    python bench/pbo_speed.py [--days 2170] [--trials 2000] [--subperiods 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.research.overfitting import probability_of_overfitting  # noqa: E402
from tests.overfitting_reference import probability_of_overfitting as reference  # noqa: E402


def timed(function, returns: np.ndarray, subperiods: int, repeat: int):
    """(result, wall times, CPU times) of `repeat` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(returns, subperiods)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, walls, cpus


def same(new: dict, old: dict) -> bool:
    """Every field equal (NaN equal to NaN), the logits of every split included."""
    return new.keys() == old.keys() and all(
        np.array_equal(new[key], old[key], equal_nan=True) for key in old
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=2170)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--subperiods", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    returns = rng.normal(0.0002, 0.01, (args.days, args.trials))
    began = time.perf_counter()
    probability_of_overfitting(returns[: 2 * args.subperiods, :2], args.subperiods)
    warm_up = time.perf_counter() - began

    new, new_wall, new_cpu = timed(
        probability_of_overfitting, returns, args.subperiods, args.repeat
    )
    old, old_wall, old_cpu = timed(reference, returns, args.subperiods, args.repeat)

    print(
        f"PBO/CSCV of {args.days:,} days x {args.trials:,} trials, {args.subperiods} sub-periods "
        f"= {new['splits']:,} splits; best (median) of {args.repeat}"
    )
    print(f"new warm-up (numba cache load or compile): {warm_up:.3f} s")
    for name, wall, cpu in (("old", old_wall, old_cpu), ("new", new_wall, new_cpu)):
        print(
            f"{name}: {min(wall):.3f} s ({statistics.median(wall):.3f} s) wall, "
            f"{min(cpu):.3f} s CPU"
        )
    wall_ratio, cpu_ratio = min(old_wall) / min(new_wall), min(old_cpu) / min(new_cpu)
    print(f"old / new: {wall_ratio:.1f}x wall, {cpu_ratio:.1f}x CPU")
    print(f"same output (every field, every split's logit): {same(new, old)}; PBO {new['pbo']:.4f}")


if __name__ == "__main__":
    main()
