"""The yardstick of an end-to-end sweep: a minimal numba loop over the same combinations.

    python bench/minimal_loop.py SWEEP_CONFIG [--max-combos N]

One process, as `rotation sweep SWEEP_CONFIG` is one: imports, the prices read from the
config's CSV folder, the signal tables aligned as the sweep aligns them (the engine's own
`pipeline.load_market` and `prepare_decisions`: the work both must do), then
`sweep_speed.minimal_loop` (per combination the regime from the two signals, a trade at the
close when it changes, fees and slippage) over every combination, its daily values only:
no statistics, no summary, no odds, nothing written. Prints the seconds of each step.
It assumes the seed sweep's shape (two signals, 'a and b' / default); see sweep_speed.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

began = time.perf_counter()
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import numpy as np  # noqa: E402
from sweep_speed import minimal_loop, yardstick_inputs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--max-combos", type=int, default=10**9)
    args = parser.parse_args()
    from engine import pipeline
    from engine.data import make_source
    from engine.research.sweep_config import load_sweep

    imported = time.perf_counter()
    spec, _ = load_sweep(args.config, max_combos=args.max_combos)
    config = spec.base
    source = make_source(config.data)
    market = pipeline.load_market(config, source)
    rows = np.arange(market.rows.start, market.rows.stop)
    decisions = pipeline.prepare_decisions(config, spec.axes, market, rows)
    frames = source.load(config.tickers())
    result = type("Dates", (), {"dates": market.dates})()
    inputs = yardstick_inputs(spec, frames, result, {"signals": decisions.signals})
    if isinstance(inputs, str):
        raise SystemExit(f"not the seed sweep's shape: {inputs}")
    prepared = time.perf_counter()
    n = inputs["close"].shape[0]
    block = 4096  # the values of a block of combinations at a time, as a sweep's chunks
    values, fees = np.empty((block, n)), np.empty(block)
    for lo in range(0, spec.size, block):
        hi = min(spec.size, lo + block)
        part = dict(inputs, idx_a=inputs["idx_a"][lo:hi], idx_b=inputs["idx_b"][lo:hi])
        minimal_loop(**part, values=values[: hi - lo], fees_out=fees[: hi - lo])
    done = time.perf_counter()
    print(
        f"{spec.size:,} combinations: imports {imported - began:.2f} s, prices and signals "
        f"{prepared - imported:.2f} s, loop {done - prepared:.2f} s, "
        f"total {done - began:.2f} s"
    )


if __name__ == "__main__":
    main()
