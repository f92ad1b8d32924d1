"""Speed and memory benchmark of a ranked-allocation sweep (not a test: nothing is asserted).

Runs, in one process, on the `synthetic` data source (no files, no network):

1. the engine: `run_sweep` of a top-k momentum ranking with inverse-volatility
   weights, decided monthly, over `--assets` synthetic equities and `--years` years:
   1,000 combinations (score lookback x top x vol_window, 10 values each). Prices
   are generated once and handed over in a `MemorySource`; one warm-up call, then
   the best of `--repeat` runs, peak RSS (getrusage) and the tracemalloc peak, and
   instrumented runs that split the time into phases by wrapping (never replacing)
   the functions run_sweep calls;
2. the yardstick: a minimal numba loop written here, on precomputed aligned scores
   and volatilities: per combination and decision, top-k by score -> inverse-vol
   weights -> target-percent orders at the next close, fees and slippage, sells
   first. Its final values are compared with the engine's;
3. scaling: time per combination for `--scaling` universe sizes (default 10, 100,
   500 assets; 100 combinations from `--small-from` assets up), engine and yardstick.

`--profile` adds a cProfile of one run_sweep (the engine's and strategies' functions).
Prints tables and, with `--json PATH`, writes the numbers as JSON. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numba
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_speed import Stage, repeat, timed, trade_to  # noqa: E402  (memory, timing helpers)
from sweep_speed import instrument as sweep_instrument  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SCORE = ("scores", "mom", "lookback")
TOP = ("regimes", 0, "rank", "top")
VOL = ("regimes", 0, "rank", "vol_window")
FULL_AXES = {  # 10 x 10 x 10 = 1,000 combinations
    SCORE: {"start": 21, "stop": 210, "step": 21},
    TOP: {"start": 1, "stop": 10, "step": 1},
    VOL: {"start": 20, "stop": 200, "step": 20},
}
SMALL_AXES = {  # 5 x 5 x 4 = 100 combinations, for big universes
    SCORE: {"start": 42, "stop": 210, "step": 42},
    TOP: {"start": 2, "stop": 10, "step": 2},
    VOL: {"start": 50, "stop": 200, "step": 50},
}
LOAD = "load_market (data load + checks, subtracted)"


# ---------------------------------------------------------------------------
# the sweep


def tickers_of(n_assets: int) -> list[str]:
    """Synthetic equity tickers (NYSE sessions from 2000-01-03): SYN000, SYN001, ..."""
    return [f"SYN{i:03d}" for i in range(n_assets)]


def ranked_raw(n_assets: int, years: int, axes: dict, seed: int) -> dict:
    """The sweep config as a dict: top-k of the universe by momentum, inverse-vol, monthly."""
    tickers = tickers_of(n_assets)
    end = 2024
    rank = {"assets": tickers, "score": "mom", "order": "highest", "weighting": "inverse_vol"}
    return {
        "name": f"ranked-{n_assets}",
        "data": {
            "source": "synthetic",
            "seed": seed,
            "start": f"{end - years + 1}-01-01",
            "end": f"{end}-12-31",
        },
        "universe": tickers,
        "scores": {"mom": {"type": "momentum", "lookback": axes[SCORE]}},
        "regimes": [{"name": "top", "rank": rank | {"top": axes[TOP], "vol_window": axes[VOL]}}],
        "execution": {
            "timing": "next_close",
            "decide": "monthly",
            "fees_bps": 2,
            "slippage_bps": 1,
            "rebalance": "none",
        },
        "portfolio": {"initial_cash": 100_000},
        "benchmark": {tickers[0]: 1.0},
    }


def build(n_assets: int, years: int, axes: dict, seed: int):
    """(spec, frames, seconds to generate the frames)."""
    from engine.data.synthetic import SyntheticSource
    from engine.research.sweep_config import sweep_spec

    raw = ranked_raw(n_assets, years, axes, seed)
    spec = sweep_spec(raw, f"ranked sweep, {n_assets} assets")
    frames, made_s = timed(SyntheticSource(seed=seed).load, spec.base.tickers())
    return spec, frames, made_s


def instrument(phases: dict):
    """Time the functions run_sweep calls (sweep_speed.instrument): the ranked stages,
    then the benchmark, the kernel and the statistics; label -> seconds. Nested labels
    ("  ...") are parts of the label above them."""
    import engine.pipeline as pipeline
    import engine.targets as targets

    stages = [
        (pipeline, "load_market", LOAD),
        (pipeline, "prepare_decisions", "prepare_decisions (schedule, signals)"),
        (pipeline, "decide_codes", "decide_codes (regimes)"),
        (pipeline, "build_targets", "build_targets (rankings -> tables)"),
        (targets.RankInputs, "prefetch", "  RankInputs.prefetch (scores, vols, align)"),
        (targets.RankInputs, "score", "  RankInputs.score (scores, vols, align)"),
        (targets, "rank_assets", "  rank_assets (eligible, sort, weights)"),
        (targets, "ranked_weights", "  ranked_weights (onto the universe)"),
    ]
    return sweep_instrument(phases, stages=stages)


def engine_phases(spec, source, runs: int) -> tuple[dict, float]:
    """Per phase its best over `runs` instrumented runs, and the best instrumented total."""
    from engine.research.sweep import run_sweep

    measured = []
    for _ in range(runs):
        phases: dict = defaultdict(float)
        with instrument(phases):
            _, took = timed(run_sweep, spec, source)
        top = sum(v for k, v in phases.items() if not k.startswith(" "))
        build = phases.get("build_targets (rankings -> tables)", 0.0)
        parts = sum(v for k, v in phases.items() if k.startswith(" "))
        phases["  other (plans, table fill, unique)"] = build - parts
        phases["other (gather, costs, columns, table)"] = took - top
        measured.append((took, phases))
    labels = list(measured[0][1])
    best = {k: min(p.get(k, 0.0) for _, p in measured) for k in labels}
    return best, min(t for t, _ in measured)


def profile_engine(spec, source, lines: int) -> str:
    """cProfile of one run_sweep: the engine's and strategies' functions, by cumulative time."""
    from engine.research.sweep import run_sweep

    profiler = cProfile.Profile()
    profiler.runcall(run_sweep, spec, source)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"(engine|strategies)[/\\]", lines)
    text = out.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


def bench_engine(spec, frames, repeat_n: int, trace: bool) -> dict:
    from engine.data import MemorySource
    from engine.research.sweep import run_sweep

    source = MemorySource(frames)
    result, warm_s = timed(run_sweep, spec, source)
    with Stage(trace=False) as rss:
        times = repeat(lambda: run_sweep(spec, source), repeat_n)
    phases, instrumented_s = engine_phases(spec, source, max(1, min(repeat_n, 3)))
    times.append(instrumented_s)  # a few wrapped calls: as good a run as the others
    traced = float("nan")
    if trace:
        with Stage(trace=True) as memory:
            run_sweep(spec, source)
        traced = memory.traced_peak_mb
    total = min(times)
    load = phases[LOAD]
    size = spec.size
    return {
        "combos": size,
        "assets": len(spec.base.universe),
        "warmup_s": warm_s,
        "run_sweep_s": total,
        "run_sweep_median_s": statistics.median(times),
        "run_sweep_runs_s": times,
        "load_market_s": load,
        "without_load_s": total - load,
        "ms_per_combo": (total - load) / size * 1e3,
        "ms_per_combo_with_load": total / size * 1e3,
        "phases_s": phases,
        "instrumented_best_s": instrumented_s,
        "rss_start_mb": rss.rss_start_mb,
        "rss_peak_mb": rss.rss_peak_mb,
        "tracemalloc_peak_mb": traced,
        "_result": result,
    }


# ---------------------------------------------------------------------------
# the yardstick: a minimal loop over precomputed scores and volatilities


@numba.njit(cache=False)
def ranked_loop(score, vol, look, top, vwin, source, close, fee, slip, cash0, values, fees_out):
    """Per combination g: at each new decision (source[t] changes), the top[g] assets by
    score[look[g]] among those with a score and a volatility vol[vwin[g]] > 0 (ties: the
    first asset), weighted by 1 / volatility (the filled slots share filled / top; the
    rest is cash), traded at the close of date t: target-percent orders, sells first
    (ascending value moved), fees and slippage, buys capped by the cash."""
    n_dates, n_assets = close.shape
    q = np.empty(n_assets)
    w = np.empty(n_assets)
    delta = np.empty(n_assets)
    order = np.empty(n_assets, np.int64)
    taken = np.empty(n_assets, np.bool_)
    for g in range(look.shape[0]):
        s = score[look[g]]
        sigma = vol[vwin[g]]
        k = top[g]
        q[:] = 0.0
        cash = cash0
        paid = 0.0
        prev = -2
        for t in range(n_dates):
            p = source[t]  # the decision traded at date t (-1: none yet, hold cash)
            if p != prev:
                prev = p
                w[:] = 0.0
                if p >= 0:
                    taken[:] = False
                    filled = 0
                    total = 0.0
                    for _ in range(k):  # k passes: the best asset not taken yet
                        best = -1
                        for i in range(n_assets):
                            x = s[p, i]
                            if taken[i] or np.isnan(x) or not sigma[p, i] > 0:
                                continue
                            if best < 0 or x > s[p, best]:
                                best = i
                        if best < 0:
                            break
                        taken[best] = True
                        filled += 1
                        w[best] = 1.0 / sigma[p, best]
                        total += w[best]
                    for i in range(n_assets):
                        if w[i] > 0:
                            w[i] *= filled / k / total
                cash, fee_paid = trade_to(w, q, close[t], cash, fee, slip, delta, order)
                paid += fee_paid
            held = 0.0
            for i in range(n_assets):
                held += q[i] * close[t, i]
            values[g, t] = cash + held
        fees_out[g] = paid


def precompute(spec, frames) -> dict | str:
    """Scores [L, P, A] and volatilities [V, P, A] on the decision dates, the decision each
    backtest date trades ([N], -1: none yet), closes [N, A], per-combination indices."""
    from engine.pipeline import grid_index

    base = spec.base
    universe = list(base.universe)
    paths = {a.path: i for i, a in enumerate(spec.axes)}
    if set(paths) != {SCORE, TOP, VOL} or base.execution.timing != "next_close":
        return "needs the axes lookback, top, vol_window and timing next_close"
    close = pd.DataFrame({t: frames[t]["Close"] for t in universe})
    if close.isna().any().any():
        return "the assets do not share one calendar"
    dates = close.index  # the trading calendar C
    month = dates.to_period("M")
    decision = np.flatnonzero(month[1:] != month[:-1])  # last date of each month (not the last)
    start, end = pd.Timestamp(base.data.start), pd.Timestamp(base.data.end)
    rows = np.flatnonzero((dates >= start) & (dates <= end))
    # a backtest date trades the latest decision taken at a date before it
    source = np.searchsorted(decision, rows - 1, side="right") - 1
    x = close.to_numpy()
    lookbacks = spec.axes[paths[SCORE]].values
    windows = spec.axes[paths[VOL]].values
    score = np.full((len(lookbacks), len(decision), len(universe)), np.nan)
    for i, n in enumerate(lookbacks):
        n = int(n)
        past = decision - n
        ok = past >= 0
        score[i, ok] = x[decision[ok]] / x[past[ok]] - 1
    returns = close.pct_change(fill_method=None)
    vol = np.stack(
        [returns.rolling(int(n), min_periods=int(n)).std().to_numpy()[decision] for n in windows]
    )
    index = grid_index(spec.axes)
    tops = np.asarray(spec.axes[paths[TOP]].values, dtype=np.int64)
    execution = base.execution
    return {
        "score": np.ascontiguousarray(score),
        "vol": np.ascontiguousarray(vol),
        "look": np.ascontiguousarray(index[paths[SCORE]]),
        "top": np.ascontiguousarray(tops[index[paths[TOP]]]),
        "vwin": np.ascontiguousarray(index[paths[VOL]]),
        "source": source.astype(np.int64),
        "close": np.ascontiguousarray(x[rows]),
        "fee": execution.fees_bps / 1e4,
        "slip": execution.slippage_bps / 1e4,
        "cash0": float(base.portfolio.initial_cash),
    }


def bench_yardstick(spec, frames, engine: dict, repeat_n: int) -> dict:
    inputs, pre_s = timed(precompute, spec, frames)
    if isinstance(inputs, str):
        return {"skipped": inputs}
    size = spec.size
    n_dates = inputs["close"].shape[0]

    def run():
        values = np.empty((size, n_dates))
        fees = np.empty(size)
        ranked_loop(**inputs, values=values, fees_out=fees)
        return values, fees

    (values, _), compile_s = timed(run)
    with Stage(trace=False) as rss:
        times = repeat(run, max(repeat_n, 5))  # cheap: a few more runs against the noise
    total = min(times)
    final = engine["_result"].table["final_value"].to_numpy()
    gap = float(np.max(np.abs(values[:, -1] / final - 1)))
    return {
        "combos": size,
        "precompute_s": pre_s,
        "first_call_s": compile_s,
        "total_s": total,
        "median_s": statistics.median(times),
        "runs_s": times,
        "ms_per_combo": total / size * 1e3,
        "max_rel_diff_final_value_vs_engine": gap,
        "rss_peak_mb": rss.rss_peak_mb,
    }


# ---------------------------------------------------------------------------
# report


def print_main(e: dict, y: dict) -> None:
    print(
        f"\nengine      run_sweep {e['combos']:,} combinations, {e['assets']} assets: warm-up "
        f"{e['warmup_s']:.2f} s; best of {len(e['run_sweep_runs_s'])} {e['run_sweep_s']:.3f} s, "
        f"median {e['run_sweep_median_s']:.3f} s; load_market {e['load_market_s']:.3f} s"
    )
    print(
        f"memory      peak RSS {e['rss_peak_mb']:.0f} MB (at start {e['rss_start_mb']:.0f} MB; "
        f"{'under' if e['rss_peak_mb'] < 2048 else 'OVER'} 2 GB), tracemalloc peak "
        + ("not measured" if e["tracemalloc_peak_mb"] != e["tracemalloc_peak_mb"] else "")
        + f"{e['tracemalloc_peak_mb']:.0f} MB".replace("nan MB", "")
        + ("" if Stage.can_reset else " [RSS peak is the process's: reset unsupported]")
    )
    if "skipped" in y:
        print(f"yardstick   skipped: {y['skipped']}")
    else:
        print(
            f"yardstick   precompute {y['precompute_s']:.2f} s (not timed below), first call "
            f"{y['first_call_s']:.2f} s (compile); best {y['total_s']:.3f} s, median "
            f"{y['median_s']:.3f} s; final values vs engine: max |rel diff| "
            f"{y['max_rel_diff_final_value_vs_engine']:.1e}"
        )
    print("\nphases of run_sweep (s, each the best of the instrumented runs):")
    total = sum(v for k, v in e["phases_s"].items() if not k.startswith(" "))
    for name, seconds in e["phases_s"].items():
        print(f"  {name:48} {seconds:7.3f}  {seconds / total:6.1%}")
    if "skipped" not in y:
        print(
            f"\nper combination: engine {e['ms_per_combo']:.3f} ms (run_sweep minus load_market; "
            f"{e['ms_per_combo_with_load']:.3f} ms with it), yardstick {y['ms_per_combo']:.3f} ms"
            f" -> {e['ms_per_combo'] / y['ms_per_combo']:.1f}x (goal: within 5x)"
        )


def print_scaling(rows: list[dict]) -> None:
    print(
        f"\n{'assets':>6} {'combos':>7} {'engine ms/combo':>16} {'yardstick ms/combo':>19} "
        f"{'ratio':>7} {'load_market s':>14} {'peak RSS MB':>12}"
    )
    for r in rows:
        print(
            f"{r['assets']:>6} {r['combos']:>7,} {r['engine_ms_per_combo']:>16.3f} "
            f"{r['yardstick_ms_per_combo']:>19.3f} {r['ratio']:>6.1f}x "
            f"{r['load_market_s']:>14.2f} {r['rss_peak_mb']:>12.0f}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=100, help="universe size of the main sweep")
    parser.add_argument("--years", type=int, default=20, help="backtest years (ending 2024)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic market seed")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement")
    parser.add_argument(
        "--scaling",
        default="10,100,500",
        help="universe sizes for the scaling table, comma-separated ('' skips it)",
    )
    parser.add_argument(
        "--small-from",
        type=int,
        default=500,
        help="from this many assets, the scaling runs 100 combinations instead of 1,000",
    )
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--profile", action="store_true", help="cProfile one run_sweep")
    parser.add_argument("--profile-lines", type=int, default=30, help="lines of the profile")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    args.repeat = max(1, args.repeat)
    sizes = [int(s) for s in args.scaling.split(",") if s.strip()]

    started = time.perf_counter()
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "numba": numba.__version__,
    }
    print("versions    " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"machine     {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
        "(other processes share the CPUs: timings are noisy when it is > 0)"
    )
    report: dict = {
        "versions": versions,
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
        "rss_peak_per_stage": Stage.can_reset,
    }

    spec, frames, made_s = build(args.assets, args.years, FULL_AXES, args.seed)
    axes = " x ".join(f"{a.name} {a.values[0]:g}..{a.values[-1]:g}" for a in spec.axes)
    print(
        f"sweep       {spec.size:,} combinations ({axes}); {len(frames)} synthetic tickers "
        f"generated in {made_s:.2f} s (once, into a MemorySource)"
    )
    engine = bench_engine(spec, frames, args.repeat, trace=not args.no_trace)
    yard = bench_yardstick(spec, frames, engine, args.repeat)
    print_main(engine, yard)
    if args.profile:
        print("\ncProfile of one run_sweep (engine and strategies functions, cumulative):")
        print(profile_engine(spec, frames_source(frames), args.profile_lines))
    report["engine"] = {k: v for k, v in engine.items() if not k.startswith("_")}
    report["yardstick"] = yard
    if "skipped" not in yard:
        report["ratio_engine_over_yardstick"] = engine["ms_per_combo"] / yard["ms_per_combo"]
    del engine, frames

    rows = []
    for n in sizes:
        axes = SMALL_AXES if n >= args.small_from else FULL_AXES
        if n == args.assets and axes is FULL_AXES:
            e, y = report["engine"], report["yardstick"]
        else:
            spec_n, frames_n, _ = build(n, args.years, axes, args.seed)
            e = bench_engine(spec_n, frames_n, min(args.repeat, 2), trace=False)
            y = bench_yardstick(spec_n, frames_n, e, min(args.repeat, 2))
            del frames_n
        if "skipped" in y:
            print(f"scaling {n}: yardstick skipped: {y['skipped']}")
            continue
        rows.append(
            {
                "assets": n,
                "combos": e["combos"],
                "engine_ms_per_combo": e["ms_per_combo"],
                "yardstick_ms_per_combo": y["ms_per_combo"],
                "ratio": e["ms_per_combo"] / y["ms_per_combo"],
                "load_market_s": e["load_market_s"],
                "rss_peak_mb": e["rss_peak_mb"],
                "max_rel_diff_final_value": y["max_rel_diff_final_value_vs_engine"],
            }
        )
    if rows:
        print_scaling(rows)
    report["scaling"] = rows
    report["load_average_end"] = os.getloadavg()[0]
    report["wall_s"] = time.perf_counter() - started
    print(
        f"\nwall time {report['wall_s']:.1f} s; load average {report['load_average_end']:.2f} "
        "at the end"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")
        print(f"wrote {args.json}")
    return 0


def frames_source(frames):
    from engine.data import MemorySource

    return MemorySource(frames)


if __name__ == "__main__":
    sys.exit(main())
