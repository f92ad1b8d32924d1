"""Speed and memory benchmark of `rotation` sweeps (not a test: nothing is asserted).

Runs, in one process, on the CSV prices of `--data-dir` (default ../shared/data):

1. the engine: `run_sweep` on configs/sweeps/breakout_grid.yaml (2,000 combinations),
   after one warm-up call (numba compile or cache load, reported separately); then
   instrumented calls that split the time into phases by wrapping (never
   replacing) the functions run_sweep calls, and `simulate_grid` re-timed alone
   on the exact inputs run_sweep gave it;
2. the yardstick: a minimal numba loop written here, on the same precomputed
   aligned signals (decided regime = both signals on, trade on a regime change
   at the close, fees and slippage, sells first);
3. bt (pmorissette/bt) on ~20 of the combinations, with the engine's decided
   regimes as target weights (WeighTarget + Rebalance, daily prices);
4. a bigger grid built in memory (`--combos`, default 100,000; 0 skips it).

Prints a table and, with `--json PATH`, writes the numbers as JSON.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
import warnings
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numba
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "sweeps" / "breakout_grid.yaml"
DEFAULT_DATA = REPO.parent / "shared" / "data"
MB = 2**20
OTHER = "other (load, calendar, gather, weights, table)"


# ---------------------------------------------------------------------------
# memory helpers


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """getrusage maxrss: since the last reset, else since the process started."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    except OSError:
        return math.nan


class Stage:
    """Peak memory of a block: tracemalloc peak (if traced) and peak RSS."""

    can_reset = reset_peak_rss()

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.traced_peak_mb = math.nan
        self.rss_start_mb = math.nan
        self.rss_peak_mb = math.nan

    def __enter__(self):
        gc.collect()
        reset_peak_rss()
        self.rss_start_mb = current_rss_mb()
        if self.trace:
            tracemalloc.start()
        return self

    def __exit__(self, *exc):
        if self.trace:
            self.traced_peak_mb = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.stop()
        self.rss_peak_mb = peak_rss_mb()
        return False


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def repeat(fn, times: int) -> list[float]:
    return [timed(fn)[1] for _ in range(times)]


# ---------------------------------------------------------------------------
# 1. the engine


@contextmanager
def instrument(phases: dict, captured: dict | None = None, stages=None):
    """Time the functions run_sweep calls (wrapped, not replaced) and keep their inputs.

    phases: label -> seconds. captured["kernel"]: the (args, kwargs) of each strategy
    chunk's simulate_grid call; captured["signals"]: the aligned signal tables.
    stages: (owner, attribute, label) of the stages before the simulation to time, instead
    of the signals and regimes of a signal sweep (labels starting with a space are parts
    of the one above); the benchmark, the kernel and the statistics are always timed.
    """
    import engine.metrics.stats as stats
    import engine.pipeline as pipeline
    import engine.research.chunks as sweep  # _benchmarks, grid_statistics: a chunk
    import engine.sim.fastsim as fastsim

    in_benchmarks = [False]  # simulate_grid inside _benchmarks counts as the benchmark phase
    originals = []

    def wrap(owner, attr, label, keep=None):
        original = getattr(owner, attr)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            if attr == "simulate_grid" and in_benchmarks[0]:
                return original(*args, **kwargs)
            in_benchmarks[0] = attr == "_benchmarks"
            start = time.perf_counter()
            try:
                out = original(*args, **kwargs)
            finally:
                phases[label] += time.perf_counter() - start
                in_benchmarks[0] = False
            if keep and captured is not None:
                keep(args, kwargs, out)
            return out

        originals.append((owner, attr, original))
        setattr(owner, attr, wrapper)

    def keep_signals(args, kwargs, out):
        captured["signals"] = out

    def keep_kernel(args, kwargs, out):
        captured.setdefault("kernel", []).append((args, kwargs))

    if stages is None:
        wrap(pipeline, "signal_tables", "signals (compute + align)", keep_signals)
        wrap(pipeline, "decide_codes", "decide regimes")
    for owner, attr, label in stages or ():
        wrap(owner, attr, label)
    wrap(sweep, "_benchmarks", "benchmark simulation")
    wrap(fastsim, "simulate_grid", "simulate_grid (strategies)", keep_kernel)
    wrap(sweep, "grid_statistics", "statistics")  # the numba pass over the combinations
    for name in ("performance", "trading", "relative", "switches", "time_in_regime"):
        wrap(stats, name, "statistics")
    try:
        yield
    finally:
        for owner, attr, original in reversed(originals):
            setattr(owner, attr, original)


def bench_engine(args, report: dict):
    from engine.data import CsvSource, MemorySource
    from engine.research.sweep import run_sweep
    from engine.research.sweep_config import load_sweep
    from engine.sim.fastsim import simulate_grid

    spec, _ = load_sweep(args.config, source="csv", dir=str(args.data_dir))
    frames, load_s = timed(CsvSource(args.data_dir).load, spec.base.tickers())
    source = MemorySource(frames)
    size = spec.size
    axes = " x ".join(f"{len(a.values)} {a.name}" for a in spec.axes)
    shown = args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config
    print(f"config      {shown}: {size:,} combinations ({axes})")
    print(f"csv load    {load_s:.3f} s for {', '.join(frames)} (once, into a MemorySource)")

    cache = sorted((REPO / "engine" / "sim" / "__pycache__").glob("fastsim._simulate_grid_nb*.nbi"))
    result, warm_s = timed(run_sweep, spec, source)
    state = "found" if cache else "absent: compiles"
    print(f"warm-up     run_sweep {warm_s:.3f} s (numba cache {state}; first-call imports)")

    times = repeat(lambda: run_sweep(spec, source), args.repeat)
    total = min(times)
    middle = statistics.median(times)
    print(f"run_sweep   {args.repeat} runs: best {total:.3f} s, median {middle:.3f} s")

    captured: dict = {}
    runs = []
    for i in range(args.repeat):  # per phase, the best of the instrumented runs
        phases: dict = defaultdict(float)
        with instrument(phases, captured if i == 0 else None):
            _, took = timed(run_sweep, spec, source)
        phases[OTHER] = took - sum(phases.values())
        runs.append((took, phases))
    instrumented_s = min(took for took, _ in runs)
    phases = {name: min(p[name] for _, p in runs) for name in runs[0][1]}

    chunks = captured["kernel"]
    kernel_times = repeat(lambda: [simulate_grid(*a, **k) for a, k in chunks], args.repeat)
    kernel_s = min(kernel_times)
    print(
        f"phases      {args.repeat} instrumented runs, best {instrumented_s:.3f} s; simulate_grid "
        f"alone on the captured inputs: best {kernel_s:.4f} s, median "
        f"{statistics.median(kernel_times):.4f} s"
    )
    sim_s = sum(
        phases[p]
        for p in (
            "signals (compute + align)",
            "decide regimes",
            "simulate_grid (strategies)",
            "benchmark simulation",
        )
    )

    with Stage(trace=True) as memory:
        run_sweep(spec, source)

    report["engine"] = {
        "combos": size,
        "csv_load_s": load_s,
        "warmup_s": warm_s,
        "run_sweep_s": total,
        "run_sweep_median_s": statistics.median(times),
        "run_sweep_runs_s": times,
        "ms_per_combo": total / size * 1e3,
        "phases_s": dict(phases),
        "phases_total_s": sum(phases.values()),
        "instrumented_best_s": instrumented_s,
        "signals_and_simulation_s": sim_s,
        "signals_and_simulation_ms_per_combo": sim_s / size * 1e3,
        "simulate_grid_s": kernel_s,
        "simulate_grid_median_s": statistics.median(kernel_times),
        "simulate_grid_ms_per_combo": kernel_s / size * 1e3,
        "tracemalloc_peak_mb": memory.traced_peak_mb,
        "rss_start_mb": memory.rss_start_mb,
        "rss_peak_mb": memory.rss_peak_mb,
    }
    return spec, frames, result, captured


# ---------------------------------------------------------------------------
# 2. the yardstick: a minimal loop over precomputed signals


@numba.njit(cache=False, inline="always")
def trade_to(target, q, price, cash, fee, slip, delta, order):
    """Trade the holdings `q` (updated in place) to the weights `target` at `price`, sells
    first (ascending value moved), buys cut to the cash left; returns (cash, fees paid)."""
    n_assets = len(q)
    v = cash
    for i in range(n_assets):
        v += q[i] * price[i]
    for i in range(n_assets):
        delta[i] = target[i] * v - q[i] * price[i]
        order[i] = i
    for i in range(1, n_assets):  # stable insertion sort
        j = i
        while j > 0 and delta[order[j - 1]] > delta[order[j]]:
            order[j - 1], order[j] = order[j], order[j - 1]
            j -= 1
    paid = 0.0
    for c in range(n_assets):
        i = order[c]
        size = delta[i] / price[i]
        if size < 0:
            proceeds = -size * price[i] * (1 - slip)
            cash += proceeds * (1 - fee)
            paid += proceeds * fee
            q[i] += size
        elif size > 0:
            fill = price[i] * (1 + slip)
            size = min(size, cash / (fill * (1 + fee)))  # no cash below zero
            cash -= size * fill * (1 + fee)
            paid += size * fill * fee
            q[i] += size
    return cash, paid


@numba.njit(cache=False)
def minimal_loop(sig_a, sig_b, idx_a, idx_b, weights, close, fee, slip, cash0, values, fees_out):
    """Per combination: regime 0 when both signals are on, else 1; trade to its weights at
    the close when it changes (row t of the signals = decided on the date before date t)."""
    n_dates, n_assets = close.shape
    q = np.empty(n_assets)
    delta = np.empty(n_assets)
    order = np.empty(n_assets, np.int64)
    for g in range(idx_a.shape[0]):
        a = sig_a[idx_a[g]]
        b = sig_b[idx_b[g]]
        q[:] = 0.0
        cash = cash0
        paid = 0.0
        prev = -1
        for t in range(n_dates):
            k = 0 if (a[t] and b[t]) else 1
            if k != prev:
                prev = k
                cash, fee_paid = trade_to(weights[k], q, close[t], cash, fee, slip, delta, order)
                paid += fee_paid
            held = 0.0
            for i in range(n_assets):
                held += q[i] * close[t, i]
            values[g, t] = cash + held
        fees_out[g] = paid


def yardstick_inputs(spec, frames, result, captured):
    """The aligned tables and per-combination indices; a reason string if the config
    is not the shape this loop handles."""
    base = spec.base
    names = list(base.signals)
    regimes = base.regimes
    if (
        len(names) != 2
        or len(regimes) != 2
        or regimes[0].when.split() != [names[0], "and", names[1]]
    ):
        return f"needs 2 signals and regimes '<a> and <b>' / default; {spec.origin} differs"
    if base.execution.timing != "next_close" or base.execution.rebalance != "none":
        return "needs timing next_close and rebalance none"
    if any(a.path[0] != "signals" for a in spec.axes):
        return "needs only signal parameters as axes"
    tables = captured["signals"]
    shape = tuple(len(a.values) for a in spec.axes)
    everything = np.array(np.unravel_index(np.arange(spec.size), shape))
    sig, idx = [], []
    for name in names:
        owned, table = tables[name].owned, tables[name].aligned
        sizes = [shape[i] for i in owned]
        idx.append(
            np.ravel_multi_index(everything[owned], sizes)
            if owned
            else np.zeros(spec.size, np.int64)
        )
        sig.append(np.ascontiguousarray(table))
    n = len(result.dates)
    if sig[0].shape[1] == n:  # no calendar date before the start: default regime on row 0
        sig = [np.hstack([np.zeros((len(s), 1), bool), s]) for s in sig]
    universe = list(base.universe)
    close = np.column_stack([frames[t]["Close"].reindex(result.dates).to_numpy() for t in universe])
    weights = np.array([[r.weights.get(t, 0.0) for t in universe] for r in regimes])
    return dict(
        sig_a=sig[0],
        sig_b=sig[1],
        idx_a=idx[0].astype(np.int64),
        idx_b=idx[1].astype(np.int64),
        weights=weights,
        close=np.ascontiguousarray(close),
        fee=base.execution.fees_bps / 1e4,
        slip=base.execution.slippage_bps / 1e4,
        cash0=float(base.portfolio.initial_cash),
    )


def bench_yardstick(args, spec, frames, result, captured, report: dict):
    inputs = yardstick_inputs(spec, frames, result, captured)
    if isinstance(inputs, str):
        print(f"minimal loop skipped: {inputs}")
        report["minimal_loop"] = {"skipped": inputs}
        return
    size = len(inputs["idx_a"])
    n = inputs["close"].shape[0]

    def run(count=size):
        values, fees = np.empty((count, n)), np.empty(count)
        sub = dict(inputs, idx_a=inputs["idx_a"][:count], idx_b=inputs["idx_b"][:count])
        minimal_loop(**sub, values=values, fees_out=fees)
        return values, fees

    _, compile_s = timed(run, 1)
    times = repeat(run, args.repeat)
    total = min(times)
    with Stage(trace=True) as memory:
        values, fees = run()
    engine_final = result.table["final_value"].to_numpy()
    gap = np.max(np.abs(values[:, -1] / engine_final - 1))
    print(
        f"minimal loop compile {compile_s:.3f} s; {args.repeat} runs: best {total:.4f} s, "
        f"median {statistics.median(times):.4f} s; "
        f"final values vs engine: max |rel diff| {gap:.2e}"
    )
    report["minimal_loop"] = {
        "combos": size,
        "compile_s": compile_s,
        "total_s": total,
        "median_s": statistics.median(times),
        "runs_s": times,
        "ms_per_combo": total / size * 1e3,
        "max_rel_diff_final_value_vs_engine": float(gap),
        "tracemalloc_peak_mb": memory.traced_peak_mb,
        "rss_start_mb": memory.rss_start_mb,
        "rss_peak_mb": memory.rss_peak_mb,
    }


# ---------------------------------------------------------------------------
# 3. bt


def bench_bt(args, spec, frames, result, captured, report: dict):
    if args.bt_combos <= 0:
        report["bt"] = {"skipped": "--bt-combos 0"}
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import bt
    except Exception as exc:  # ImportError, or a pandas-3 incompatibility at import time
        reason = (
            f"bt cannot be imported ({type(exc).__name__}: {exc}); "
            'install it with: pip install -e ".[bench]"'
        )
        print(f"bt skipped: {reason}")
        report["bt"] = {"skipped": reason}
        return

    base = spec.base
    universe = list(base.universe)
    dates = result.dates
    prices = pd.DataFrame({t: frames[t]["Close"].reindex(dates) for t in universe}, index=dates)
    table = np.array([[r.weights.get(t, 0.0) for t in universe] for r in base.regimes])
    # each chunk's `decided` [N + 1, g] as run_sweep passed it to simulate_grid
    decided = np.concatenate([np.asarray(a[3]).T for a, _ in captured["kernel"]])  # [G, N + 1]
    cost = (base.execution.fees_bps + base.execution.slippage_bps) / 1e4
    cash = float(base.portfolio.initial_cash)
    picks = np.unique(np.linspace(0, spec.size - 1, args.bt_combos).round().astype(int))

    def one(g):
        codes = decided[g, : len(dates)]  # the target traded on each backtest date
        change = np.concatenate([[True], np.any(table[codes[1:]] != table[codes[:-1]], axis=1)])
        target = pd.DataFrame(table[codes[change]], index=dates[change], columns=universe)
        start = time.perf_counter()
        strategy = bt.Strategy(f"combo{g}", [bt.algos.WeighTarget(target), bt.algos.Rebalance()])
        test = bt.Backtest(
            strategy,
            prices,
            initial_capital=cash,
            integer_positions=False,
            commissions=lambda q, p: abs(q) * p * cost,
            progress_bar=False,
        )
        test.run()
        middle = time.perf_counter()
        bt.backtest.Result(test)  # ffn statistics, as bt.run() computes them
        return test.strategy.values.iloc[-1], middle - start, time.perf_counter() - middle

    try:
        _, warm_s = timed(one, int(picks[0]))
        runs, finals = [], []
        for g in picks:
            final, run_s, stats_s = one(int(g))
            runs.append((run_s, stats_s))
            finals.append(final)
        with Stage(trace=True) as memory:
            one(int(picks[0]))
    except Exception as exc:
        reason = (
            f"bt {bt.__version__} failed with pandas {pd.__version__}: {type(exc).__name__}: {exc}"
        )
        print(f"bt skipped: {reason}")
        report["bt"] = {"skipped": reason}
        return
    total = sum(a + b for a, b in runs)
    per_combo = [(a + b) * 1e3 for a, b in runs]
    engine_final = result.table["final_value"].to_numpy()[picks]
    gap = np.abs(np.array(finals) / engine_final - 1)
    print(
        f"bt {bt.__version__}: warm-up {warm_s:.3f} s; {len(picks)} combinations "
        f"{total:.3f} s (backtest {sum(a for a, _ in runs):.3f} s + ffn stats "
        f"{sum(b for _, b in runs):.3f} s), median {statistics.median(per_combo):.1f} ms per "
        f"combination; final values vs engine: median |rel diff| "
        f"{np.median(gap):.1e}, max {gap.max():.1e}"
    )
    report["bt"] = {
        "version": bt.__version__,
        "combos": len(picks),
        "combo_indices": picks.tolist(),
        "warmup_s": warm_s,
        "total_s": total,
        "backtest_s": sum(a for a, _ in runs),
        "stats_s": sum(b for _, b in runs),
        "ms_per_combo": statistics.median(per_combo),
        "mean_ms_per_combo": total / len(picks) * 1e3,
        "per_combo_ms": per_combo,
        "commission_model": f"|quantity| * price * {cost:g} per fill (fees + slippage)",
        "median_rel_diff_final_value_vs_engine": float(np.median(gap)),
        "max_rel_diff_final_value_vs_engine": float(gap.max()),
        "tracemalloc_peak_mb": memory.traced_peak_mb,
        "rss_start_mb": memory.rss_start_mb,
        "rss_peak_mb": memory.rss_peak_mb,
    }


# ---------------------------------------------------------------------------
# 4. a big grid


def big_spec(args, count: int):
    """The seed sweep with denser axes: >= `count` combinations (donchian entry x exit x
    sma window), built as a raw config dict."""
    from engine.config import read_yaml, with_overrides
    from engine.research.sweep_config import sweep_spec

    raw = read_yaml(args.config)
    raw.pop("sweep", None)
    raw = with_overrides(raw, args.config, source="csv", dir=str(args.data_dir))
    kinds = {s.get("type"): name for name, s in raw["signals"].items()}
    if not {"donchian", "sma"} <= set(kinds):
        raise ValueError("the config needs a donchian and an sma signal")
    n_exit = min(20, count)
    n_entry = min(100, math.ceil(count / n_exit))
    n_window = math.ceil(count / (n_exit * n_entry))
    donchian, sma = raw["signals"][kinds["donchian"]], raw["signals"][kinds["sma"]]
    donchian["entry"] = {"start": 20, "stop": 20 + 4 * (n_entry - 1), "step": 4}
    donchian["exit"] = {"start": 5, "stop": 5 * n_exit, "step": 5}
    sma["window"] = {"start": 10, "stop": 10 * n_window, "step": 10}
    size = n_exit * n_entry * n_window
    return sweep_spec(raw, f"{args.config} (dense axes)", max_combos=size)


def bench_big(args, frames, report: dict):
    from engine.data import MemorySource
    from engine.research import sweep

    try:
        spec = big_spec(args, args.combos)
    except Exception as exc:
        print(f"big grid skipped: {type(exc).__name__}: {exc}")
        report["big"] = {"skipped": str(exc)}
        return
    source = MemorySource(frames)
    axes = " x ".join(
        f"{a.name.split('.')[-1]} {a.values[0]:g}..{a.values[-1]:g} ({len(a.values)})"
        for a in spec.axes
    )
    chunks = []
    phases: dict = defaultdict(float)  # wrappers only time (a few calls per chunk); no capture
    with Stage(trace=args.trace_big) as memory, instrument(phases):
        _, total = timed(
            sweep.run_sweep, spec, source, progress=lambda done, _: chunks.append(done)
        )
    phases[OTHER] = total - sum(phases.values())
    sizes = np.diff([0] + chunks)
    rss = memory.rss_peak_mb
    print(f"big grid    {spec.size:,} combinations: {axes}")
    print(
        f"            {total:.1f} s, {len(chunks)} chunks of <= {sizes.max():,} combinations "
        f"(CHUNK_BYTES {sweep.CHUNK_BYTES / MB:.0f} MB); RSS {memory.rss_start_mb:.0f} MB at "
        f"start, peak {rss:.0f} MB ({'under' if rss < 2048 else 'OVER'} 2 GB)"
        + ("" if Stage.can_reset else " [RSS peak is the process's, reset unsupported]")
    )
    print(
        "            phases: "
        + ", ".join(f"{k.split(' (')[0]} {v:.1f} s" for k, v in phases.items() if v >= 0.05)
    )
    report["big"] = {
        "combos": spec.size,
        "axes": {a.name: [a.values[0], a.values[-1], len(a.values)] for a in spec.axes},
        "total_s": total,
        "ms_per_combo": total / spec.size * 1e3,
        "chunks": len(chunks),
        "max_chunk": int(sizes.max()),
        "chunk_bytes": sweep.CHUNK_BYTES,
        "phases_s": dict(phases),
        "tracemalloc_peak_mb": memory.traced_peak_mb,
        "tracemalloc_on_during_timing": args.trace_big,
        "rss_start_mb": memory.rss_start_mb,
        "rss_peak_mb": rss,
        "under_2gb": bool(rss < 2048),
    }


# ---------------------------------------------------------------------------
# report


def fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def print_table(report: dict):
    e = report["engine"]
    rows = [
        (
            "engine run_sweep",
            e["combos"],
            e["run_sweep_s"],
            e["ms_per_combo"],
            e["tracemalloc_peak_mb"],
            e["rss_peak_mb"],
        ),
        (
            "  signals+simulation part",
            e["combos"],
            e["signals_and_simulation_s"],
            e["signals_and_simulation_ms_per_combo"],
            None,
            None,
        ),
        (
            "  simulate_grid alone",
            e["combos"],
            e["simulate_grid_s"],
            e["simulate_grid_ms_per_combo"],
            None,
            None,
        ),
    ]
    m = report.get("minimal_loop", {})
    if "combos" in m:
        rows.append(
            (
                "minimal numba loop",
                m["combos"],
                m["total_s"],
                m["ms_per_combo"],
                m["tracemalloc_peak_mb"],
                m["rss_peak_mb"],
            )
        )
    b = report.get("bt", {})
    if "combos" in b:
        rows.append(
            (
                f"bt {b['version']}",
                b["combos"],
                b["total_s"],
                b["ms_per_combo"],
                b["tracemalloc_peak_mb"],
                b["rss_peak_mb"],
            )
        )
    g = report.get("big", {})
    if "combos" in g:
        rows.append(
            (
                "engine run_sweep, big grid",
                g["combos"],
                g["total_s"],
                g["ms_per_combo"],
                g["tracemalloc_peak_mb"],
                g["rss_peak_mb"],
            )
        )
    print()
    print(
        f"{'':28} {'combos':>8} {'time s':>9} {'ms/combo':>9} {'tracemalloc MB':>15} "
        f"{'peak RSS MB':>12}"
    )
    for name, combos, total, per, traced, rss in rows:
        print(
            f"{name:28} {combos:>8,} {total:>9.3f} {per:>9.4f} {fmt(traced, '15.1f'):>15} "
            f"{fmt(rss, '12.0f'):>12}"
        )

    print(
        "time: best of --repeat runs (engine, loop), sum over the combinations (bt; ms/combo is "
        "their median), one run (big grid)"
    )
    print("\nphases of run_sweep (s, best of the instrumented runs):")
    for name, seconds in sorted(e["phases_s"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:48} {seconds:7.3f}  {seconds / e['phases_total_s']:6.1%}")

    ratios = {}
    if "combos" in m:
        ratios["engine run_sweep / minimal loop"] = e["ms_per_combo"] / m["ms_per_combo"]
        ratios["engine signals+simulation / minimal loop"] = (
            e["signals_and_simulation_ms_per_combo"] / m["ms_per_combo"]
        )
        ratios["engine simulate_grid / minimal loop"] = (
            e["simulate_grid_ms_per_combo"] / m["ms_per_combo"]
        )
    if "combos" in b:
        ratios["bt / engine run_sweep"] = b["ms_per_combo"] / e["ms_per_combo"]
        ratios["bt / engine simulate_grid"] = b["ms_per_combo"] / e["simulate_grid_ms_per_combo"]
    report["ratios"] = ratios
    print("\nratios (per combination):")
    for name, value in ratios.items():
        print(f"  {name:48} {value:9.1f}x")
    for part in ("minimal_loop", "bt", "big"):
        if "skipped" in report.get(part, {}):
            print(f"  {part} skipped: {report[part]['skipped']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA,
        help="folder of <TICKER>.csv files (default: ../shared/data)",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the sweep config")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument(
        "--bt-combos", type=int, default=20, help="combinations run with bt (0: skip)"
    )
    parser.add_argument(
        "--combos", type=int, default=100_000, help="size of the big in-memory grid (0: skip)"
    )
    parser.add_argument(
        "--trace-big",
        action="store_true",
        help="tracemalloc during the big grid too (slows it; timing then includes it)",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.config = args.config.resolve()
    args.repeat = max(1, args.repeat)
    if not args.data_dir.is_dir():
        print(f"no data folder {args.data_dir}; pass --data-dir DIR (<TICKER>.csv files)")
        return 2

    started = time.perf_counter()
    import vectorbt

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "numba": numba.__version__,
        "vectorbt": vectorbt.__version__,
    }
    print("versions    " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"machine     {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
        f"(other processes share the CPUs: timings are noisy when it is > 0)"
    )
    print(f"data        {args.data_dir}")
    if not Stage.can_reset:
        print("memory      cannot reset the RSS high-water mark: peak RSS is the process's so far")
    report: dict = {
        "versions": versions,
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
        "data_dir": str(args.data_dir),
        "rss_peak_per_stage": Stage.can_reset,
    }

    spec, frames, result, captured = bench_engine(args, report)
    bench_yardstick(args, spec, frames, result, captured, report)
    bench_bt(args, spec, frames, result, captured, report)
    del captured, result
    if args.combos > 0:
        bench_big(args, frames, report)
    else:
        report["big"] = {"skipped": "--combos 0"}
    report["load_average_end"] = os.getloadavg()[0]
    report["wall_s"] = time.perf_counter() - started

    print_table(report)
    wall, load = report["wall_s"], report["load_average_end"]
    print(f"\nwall time {wall:.1f} s; load average {load:.2f} at the end")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
