"""Cost of SPEC 11's decision keys in a sweep (not a test: nothing is asserted).

One process, the CSV prices of `../shared/data` loaded once into a `MemorySource`, two
2,000-combination grids that differ only in the keys under test:

  grid       the seed strategy's signals swept as in configs/sweeps/breakout_grid.yaml
             (IWM/SPY donchian entry 20..400 x exit 10..100 x ETH sma window 20..200),
             its risk-on regime a ranked allocation: top 2 of IWM, SPY, QQQ, MDY by
             63-day momentum; otherwise SPY 60% / TLT 40%. Daily decisions.
  + keys     the same grid with SPEC 11's issue case (`--keys all`, the default): a
             no-trade band `execution.tolerance: 0.03`, `rank.keep: 3` and
             `portfolio.target_vol: {annual: 0.10, window: 63}`; or without the band
             (`--keys both`), or one of keep and target_vol alone (`keep`, `vol`).

Each grid: a warm-up call (numba compile or cache load), then the best and median of
`--repeat` run_sweep calls, the two grids' calls interleaved (plain, keyed, plain, ...) so
that a change in the machine's load falls on both; peak RSS (getrusage, the high-water
mark reset before each grid's runs on Linux) and the tracemalloc peak of one more traced
call. The ratios keyed / plain are the numbers to read: best to best, and the median of
the ratios of the interleaved pairs (the steadier one when the load moves).

    python bench/decision_keys_speed.py [--data-dir DIR] [--repeat 3] [--decide weekly]
        [--keys all|both|keep|vol] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_speed import Stage, timed  # noqa: E402  (memory and timing helpers)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

UNIVERSE = ["IWM", "SPY", "QQQ", "MDY", "TLT"]
TOLERANCE = 0.03  # the no-trade band of `--keys all`


def plain_grid(data_dir: str, decide: str) -> dict:
    """The 2,000-combination grid without the keys."""
    rank = {"assets": ["IWM", "SPY", "QQQ", "MDY"], "score": "mom", "top": 2}
    return {
        "name": "decision-keys-bench",
        "data": {"source": "csv", "dir": data_dir, "start": "2018-06-01", "end": "2025-06-30"},
        "universe": UNIVERSE,
        "signals": {
            "ratio_breakout": {
                "type": "donchian",
                "series": "IWM/SPY",
                "entry": {"start": 20, "stop": 400, "step": 20},
                "exit": {"start": 10, "stop": 100, "step": 10},
            },
            "eth_risk_on": {
                "type": "sma",
                "series": "ETH-USD",
                "window": {"start": 20, "stop": 200, "step": 20},
            },
        },
        "scores": {"mom": {"type": "momentum", "lookback": 63}},
        "regimes": [
            {"name": "risk_on", "when": "ratio_breakout and eth_risk_on", "rank": rank},
            {"name": "neutral", "weights": {"SPY": 0.6, "TLT": 0.4}},
        ],
        "execution": {"decide": decide, "fees_bps": 2, "slippage_bps": 1},
        "benchmark": {"SPY": 1.0},
        "stats": {"periods_per_year": 252},
    }


def keyed_grid(plain: dict, keys: str) -> dict:
    """The same grid with the rank buffer and/or the volatility target."""
    raw = copy.deepcopy(plain)
    if keys in ("all", "both", "keep"):
        raw["regimes"][0]["rank"]["keep"] = 3
    if keys in ("all", "both", "vol"):
        raw["portfolio"] = {"target_vol": {"annual": 0.10, "window": 63}}
    if keys == "all":
        raw["execution"]["tolerance"] = TOLERANCE
    return raw


@contextmanager
def kernel_timer(spent: list[float]):
    """Add the seconds of every strategy and benchmark simulation (the numba kernel
    `simulate_grid`, wrapped, not replaced) to `spent[0]`."""
    import engine.sim.fastsim as fastsim

    original = fastsim.simulate_grid

    def wrapped(*args, **kwargs):
        out, seconds = timed(original, *args, **kwargs)
        spent[0] += seconds
        return out

    fastsim.simulate_grid = wrapped
    try:
        yield
    finally:
        fastsim.simulate_grid = original


def measure(grids: dict[str, dict], source, times: int) -> dict:
    """Per grid: a warm-up, `times` timed runs (interleaved with the other grid's; each
    also timing the simulations in it), one run for the peak RSS and one traced run:
    seconds and megabytes."""
    from engine.research.sweep import run_sweep
    from engine.research.sweep_config import sweep_spec

    specs = {name: sweep_spec(raw, "bench.yaml") for name, raw in grids.items()}
    report = {}
    for name, spec in specs.items():
        result, warm = timed(run_sweep, spec, source)
        report[name] = {"combinations": spec.size, "warm_up_s": warm, "runs": []}
        report[name]["sharpe_median"] = float(result.table["sharpe"].median())
    for _ in range(times):
        for name, spec in specs.items():
            spent = [0.0]
            with kernel_timer(spent):
                seconds = timed(run_sweep, spec, source)[1]
            report[name]["runs"].append((seconds, spent[0]))
    for name, spec in specs.items():
        row = report[name]
        seconds = [total for total, _ in row["runs"]]
        row |= {"best_s": min(seconds), "median_s": statistics.median(seconds)}
        row["kernel_s"] = min(row["runs"])[1]  # the simulations' share of the best run
        with Stage(trace=False) as untraced:
            run_sweep(spec, source)
        with Stage(trace=True) as traced:
            run_sweep(spec, source)
        row |= {"rss_peak_mb": untraced.rss_peak_mb, "rss_start_mb": untraced.rss_start_mb}
        row["traced_peak_mb"] = traced.traced_peak_mb
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--decide", default="daily", choices=["daily", "weekly", "monthly"])
    parser.add_argument("--keys", default="all", choices=["all", "both", "keep", "vol"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from engine.data import CsvSource, MemorySource

    plain = plain_grid(args.data_dir, args.decide)
    tickers = sorted(set(UNIVERSE) | {"ETH-USD"})
    source = MemorySource(CsvSource(args.data_dir).load(tickers))
    report = {"decide": args.decide, "keys": args.keys}
    grids = {"plain": plain, "keyed": keyed_grid(plain, args.keys)}
    report |= measure(grids, source, args.repeat)
    base, keyed = report["plain"], report["keyed"]
    report["ratio_best_s"] = keyed["best_s"] / base["best_s"]
    rest = (keyed["best_s"] - keyed["kernel_s"]) / (base["best_s"] - base["kernel_s"])
    report["ratio_without_simulations"] = rest
    report["ratio_traced_peak"] = keyed["traced_peak_mb"] / base["traced_peak_mb"]
    pairs = [k / p for (k, _), (p, _) in zip(keyed["runs"], base["runs"], strict=True)]
    report["ratio_pairs_median"] = statistics.median(pairs)  # robust to load drifting
    print(f"2,000 combinations, decide {args.decide}, keys: {args.keys}")
    header = f"{'':10}{'best s':>9}{'simulations s':>15}{'median s':>10}{'RSS peak MB':>13}"
    print(header + f"{'traced MB':>11}")
    for name in ("plain", "keyed"):
        row = report[name]
        print(
            f"{name:10}{row['best_s']:9.3f}{row['kernel_s']:15.3f}{row['median_s']:10.3f}"
            f"{row['rss_peak_mb']:13.0f}{row['traced_peak_mb']:11.1f}"
        )
    print(
        f"keyed / plain: time {report['ratio_best_s']:.2f}x best to best, "
        f"{report['ratio_pairs_median']:.2f}x the median of the {args.repeat} interleaved "
        f"pairs ({rest:.2f}x without the simulations), traced memory "
        f"{report['ratio_traced_peak']:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
