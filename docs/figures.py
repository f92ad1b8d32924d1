"""Every figure of README.md and docs/**/*.md that the program prints, from one script.

    python docs/figures.py [--check] [--data-dir ../shared/data]

reruns the commands (in process: vectorbt is imported once) and rewrites the marked
regions of the markdown files (docs/regions.py says how regions are marked); with
`--check` it writes nothing and exits 1 listing each region whose text differs from
the output, with a short diff, and each claim the numbers no longer support
(tests/test_figures.py runs it). Timings are not figures here: the Speed tables name
the bench/ command that measured them.

Adding a figure: one entry in REGISTRY below and one marked region in the markdown.
    value  an inline number: `value(lambda r: ...)`, `r` the Runner (docs/regions.py);
    figure a block: `terminal("signal", CONFIG, ...)` (a transcript), `table({...})`
           (fill the named columns of a markdown table whose first cell names the row),
           `snippet_output()` (what the ```python block above it prints);
    claim  a sentence's conclusion: `claim(lambda r: None if it holds else "why not")`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regions import (  # noqa: E402
    Entry,
    FigureError,
    Runner,
    at,
    claim,
    count,
    evaluate,
    num,
    pct,
    regions,
    short_diff,
    snippet_output,
    table,
    terminal,
    value,
)

REPO = Path(__file__).resolve().parents[1]
FILES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
DATA = "../shared/data"  # as the commands are shown; the runner links it to --data-dir


# ---------------------------------------------------------------- the commands


def run(r: Runner, config: str, *extra: str) -> dict:
    """stats.json of `rotation run CONFIG --data-dir ../shared/data EXTRA --json`."""
    return r.json("run", config, "--data-dir", DATA, *extra)


def ready(r: Runner, key: str) -> dict:
    return run(r, key)


def taa(r: Runner, key: str) -> dict:
    return run(r, f"configs/taa/{key}")


def boot(r: Runner, key: str) -> dict:
    return run(r, f"configs/{key}.yaml", "--bootstrap", "2000", "--seed", "0")


TAA = ("gem.yaml", "gtaa5.yaml", "vaa_g4.yaml", "top2_of_7.yaml")
TAA_COMPARE = ("compare", *(f"configs/taa/{c}" for c in TAA), "--data-dir", DATA)
RUN_EXAMPLE = ("run", "configs/smallcap_breakout_eth.yaml", "--data-dir", DATA)
GRID = ("sweep", "configs/sweeps/breakout_grid.yaml", "--data-dir", DATA)
COSTS = ("sweep", "configs/sweeps/weights_costs.yaml", "--data-dir", DATA)
COSTS_WF = (*COSTS, "--walk-forward", "train=2y,test=6m")
GRID_WF = (*GRID, "--walk-forward", "train=3y,test=1y")
BOOTSTRAPPED = ("smallcap_breakout_eth", "smallcap_breakout", "smallcap_sma_btc")
BOOTSTRAPPED += ("smallcap_breakout_eth_open_monthly",)


def compared(r: Runner, column: str, key: str) -> float:
    return r.json(*TAA_COMPARE)["statistics"][column][key]


def grid(r: Runner, path: str):
    return at(r.json(*GRID), path)


def costs(r: Runner, path: str, scenario: int | None = None):
    summary = r.json(*COSTS)
    return at(summary["scenarios"][scenario] if scenario is not None else summary, path)


def grid_wf(r: Runner, path: str):
    return at(r.json(*GRID_WF), path)


def costs_wf(r: Runner, path: str):
    return at(r.json(*COSTS_WF), path)


def gtaa5_without_rebalancing(r: Runner) -> dict:
    """stats of configs/taa/gtaa5.yaml with `rebalance: none` instead of monthly."""

    def go() -> dict:
        import yaml

        from engine import api

        raw = yaml.safe_load(Path("configs/taa/gtaa5.yaml").read_text(encoding="utf-8"))
        raw["execution"]["rebalance"] = "none"
        return api.run(raw, data_dir=DATA).stats

    return r.call("gtaa5 rebalance none", go)


def held_outside(r: Runner, key: str, tickers: tuple[str, ...]):
    """Per date of the TAA run, the weight held in anything but `tickers` and cash."""
    import pandas as pd

    taa(r, key)
    folder = r.folder("run", f"configs/taa/{key}", "--data-dir", DATA, "--json")
    weights = pd.read_csv(folder / "weights.csv")
    skip = {*tickers, "cash"}
    held = [c for c in weights if c.endswith("_held") and c.removesuffix("_held") not in skip]
    return weights[held].sum(axis=1)


def _taa_scenario_claim(r: Runner) -> str | None:
    rows = {key: taa(r, key) for key in TAA}
    beat = [k for k, s in rows.items() if s["strategy"]["cagr"] >= s["benchmark"]["cagr"]]
    if beat:
        return f"{beat} beat SPY's CAGR"
    gaps = {k: s["benchmark"]["cagr"] - s["strategy"]["cagr"] for k, s in rows.items()}
    if min(gaps, key=gaps.get) != "vaa_g4.yaml":
        return f"the closest to SPY's CAGR is {min(gaps, key=gaps.get)}"
    shallow = [k for k, s in rows.items() if s["strategy"]["max_drawdown"]
               < s["benchmark"]["max_drawdown"] + 0.1]  # fmt: skip
    if shallow:
        return f"{shallow}: drawdown not 10 points smaller than SPY's"
    better = {k for k, s in rows.items() if s["strategy"]["sharpe"] > s["benchmark"]["sharpe"]}
    return None if better == {"vaa_g4.yaml", "top2_of_7.yaml"} else f"Sharpe above SPY's: {better}"


def _none_beats(summary: dict) -> str | None:
    beats = [s["beats_benchmark"] for s in summary["scenarios"]]
    won = [(b["on_metric"], b["on_cagr"]) for b in beats if b["on_metric"] or b["on_cagr"]]
    return f"combinations beat the benchmark: {won}" if won else None


def _walk_forward_claim(r: Runner) -> str | None:
    s = r.json(*GRID_WF)
    oos, ins, bench = s["out_of_sample"], s["in_sample"], s["benchmark_out_of_sample"]
    if not oos["sharpe"] < ins["sharpe"]:
        return "the out-of-sample Sharpe is not below the in-sample one"
    if not (oos["sharpe"] < bench["sharpe"] and oos["cagr"] < bench["cagr"]):
        return "out of sample the strategy is not behind SPY on Sharpe and CAGR"
    if not ins["sharpe"] < s["benchmark_in_sample"]["sharpe"]:
        return "in sample the strategy's Sharpe is not below SPY's"
    return None


def _coin_toss(r: Runner) -> str | None:
    pbo = [block["overfitting"]["pbo"]["pbo"] for block in r.json(*COSTS)["scenarios"]]
    return None if min(pbo) >= 0.5 else f"PBO below 0.5 at some fee level: {pbo}"


def _full_tilt(r: Runner) -> str | None:
    best = [block["top"][0] for block in r.json(*COSTS)["scenarios"]]
    picks = {(b["regimes[0].weights.IWM"], b["execution.rebalance.threshold"]) for b in best}
    return None if picks == {(1.0, 0.1)} else f"best (IWM weight, threshold) per fee: {picks}"


def _half_widths(r: Runner) -> list[float]:
    return [
        (boot(r, k)["bootstrap"]["strategy"]["cagr"]["p95"]
         - boot(r, k)["bootstrap"]["strategy"]["cagr"]["p05"]) / 2 * 100
        for k in BOOTSTRAPPED
    ]  # fmt: skip


FIRST, LAST = 0, -1  # the cheapest and the dearest fee level of weights_costs.yaml

# ---------------------------------------------------------------- the registry

REGISTRY: dict[str, Entry] = {
    # README
    "run_example": terminal(*RUN_EXAMPLE, "--out", "runs/smallcap-breakout-eth"),
    "sweep_example": terminal(
        *GRID, "--out", "runs/breakout-grid", elide=("2,000 combinations in", "Sweep folder:")
    ),
    # docs/recipes.md
    "ready.start": value(lambda r: ready(r, "configs/spy.yaml")["period"]["start"]),
    "ready.end": value(lambda r: ready(r, "configs/spy.yaml")["period"]["end"]),
    "ready.days": value(lambda r: count(ready(r, "configs/spy.yaml")["period"]["days"])),
    "ready_configs": table(
        {
            "CAGR": lambda r, k: pct(ready(r, k)["strategy"]["cagr"]),
            "Sharpe": lambda r, k: num(ready(r, k)["strategy"]["sharpe"], 2),
            "max DD": lambda r, k: pct(ready(r, k)["strategy"]["max_drawdown"], 1),
            "trade dates": lambda r, k: count(ready(r, k)["strategy"]["trade_dates"]),
            "SPY CAGR": lambda r, k: pct(ready(r, k)["benchmark"]["cagr"]),
        }
    ),
    # docs/recipes.md, Tactical asset allocation
    "taa_configs": table(
        {
            "dates": lambda r, k: f"{taa(r, k)['period']['start']} to {taa(r, k)['period']['end']}",
            "CAGR": lambda r, k: pct(taa(r, k)["strategy"]["cagr"]),
            "volatility": lambda r, k: pct(taa(r, k)["strategy"]["volatility"]),
            "Sharpe": lambda r, k: num(taa(r, k)["strategy"]["sharpe"], 2),
            "max DD": lambda r, k: pct(taa(r, k)["strategy"]["max_drawdown"], 1),
            "turnover (one-way, ann.)": lambda r, k: pct(taa(r, k)["strategy"]["turnover"], 0),
            "SPY CAGR": lambda r, k: pct(taa(r, k)["benchmark"]["cagr"]),
            "SPY volatility": lambda r, k: pct(taa(r, k)["benchmark"]["volatility"]),
            "SPY Sharpe": lambda r, k: num(taa(r, k)["benchmark"]["sharpe"], 2),
            "SPY max DD": lambda r, k: pct(taa(r, k)["benchmark"]["max_drawdown"], 1),
        }
    ),
    "taa.gem_in_stocks": value(
        lambda r: pct(taa(r, "gem.yaml")["strategy"]["time_in_regime"]["equities"], 1)
    ),
    "taa.gtaa5_outside_shy": value(
        lambda r: pct(held_outside(r, "gtaa5.yaml", ("SHY",)).mean(), 1)
    ),
    "taa.vaa_offensive": value(
        lambda r: pct(taa(r, "vaa_g4.yaml")["strategy"]["time_in_regime"]["offensive"], 1)
    ),
    "taa.top2_invested": claim(
        lambda r: (
            None
            if held_outside(r, "top2_of_7.yaml", ()).min() > 0.999
            else "top 2 of 7 is not always fully invested"
        )
    ),
    "taa.versus_spy": claim(_taa_scenario_claim),
    "taa.common_start": value(lambda r: r.json(*TAA_COMPARE)["range"]["start"]),
    "taa.common_end": value(lambda r: r.json(*TAA_COMPARE)["range"]["end"]),
    "taa.spy_cagr": value(lambda r: pct(compared(r, "benchmark SPY:1", "cagr"))),
    "taa.spy_sharpe": value(lambda r: num(compared(r, "benchmark SPY:1", "sharpe"), 2)),
    "taa.spy_max_dd": value(lambda r: pct(compared(r, "benchmark SPY:1", "max_drawdown"), 1)),
    **{
        f"taa.{c}_{stat}": value(lambda r, c=c, stat=stat, f=f: f(compared(r, c, stat)))
        for c in ("gem", "gtaa5", "vaa_g4", "top2_of_7")
        for stat, f in (
            ("cagr", pct),
            ("sharpe", lambda x: num(x, 2)),
            ("max_drawdown", lambda x: pct(x, 1)),
        )
    },
    "taa.all_shallower": claim(
        lambda r: (
            None
            if all(
                compared(r, c, "max_drawdown") > compared(r, "benchmark SPY:1", "max_drawdown")
                for c in ("gem", "gtaa5", "vaa_g4", "top2_of_7")
            )
            else "a config's drawdown on the common dates is not smaller than SPY's"
        )
    ),
    "taa.gtaa5_none_cagr": value(lambda r: pct(gtaa5_without_rebalancing(r)["strategy"]["cagr"])),
    "taa.gtaa5_none_sharpe": value(
        lambda r: num(gtaa5_without_rebalancing(r)["strategy"]["sharpe"], 2)
    ),
    # docs/running.md, What do I hold tomorrow?
    "signal_example": terminal("signal", "configs/smallcap_breakout_eth.yaml", "--data-dir", DATA),
    # docs/research.md, Sweeping parameters and Guarding against overfitting
    "check_example": terminal("check", "configs/sweeps/weights_costs.yaml"),
    "grid.combinations": value(lambda r: count(grid(r, "combinations"))),
    "grid.beat_sharpe": value(lambda r: count(grid(r, "beats_benchmark.on_metric"))),
    "grid.spy_sharpe": value(lambda r: num(grid(r, "beats_benchmark.benchmark_metric.min"))),
    "grid.spy_cagr": value(lambda r: pct(grid(r, "beats_benchmark.benchmark_cagr.min"))),
    "grid.red_but_robust": claim(
        lambda r: (
            None
            if grid(r, "beats_benchmark.on_metric") == grid(r, "beats_benchmark.on_cagr") == 0
            and "a robust region" in grid(r, "notes.0")
            else "some combination beats SPY, or the best is not in a robust region"
        )
    ),
    "grid.start": value(lambda r: grid(r, "range.start")),
    "grid.end": value(lambda r: grid(r, "range.end")),
    "grid.best_sharpe": value(lambda r: num(grid(r, "overfitting.best_sharpe_annual"))),
    "grid.best_params": value(
        lambda r: "entry {:g}, exit {:g}, ETH window {:g}".format(
            *grid(r, "overfitting.best_params").values()
        )
    ),
    "grid.sr0": value(lambda r: num(grid(r, "overfitting.expected_max_sharpe_annual"))),
    "grid.dsr": value(lambda r: num(grid(r, "overfitting.deflated_sharpe.dsr"))),
    "grid.dsr_spy": value(lambda r: num(grid(r, "overfitting.deflated_sharpe_vs_benchmark.dsr"))),
    "grid.bar": value(
        lambda r: num(grid(r, "overfitting.deflated_sharpe_vs_benchmark.threshold_annual"))
    ),
    "grid.pbo": value(lambda r: num(grid(r, "overfitting.pbo.pbo"))),
    "grid.oos_loss": value(lambda r: pct(grid(r, "overfitting.pbo.prob_oos_loss"), 1)),
    "grid.slope": value(lambda r: num(grid(r, "overfitting.pbo.degradation_slope"), 2)),
    "grid.none_beats": claim(lambda r: _none_beats(r.json(*GRID))),
    "costs.per_scenario": value(lambda r: count(costs(r, "combinations", FIRST))),
    "costs.levels": value(lambda r: count(len(costs(r, "scenarios")))),
    "costs.full_tilt": claim(_full_tilt),
    **{
        f"costs.{name}_{end}": value(lambda r, path=path, f=f, i=i: f(costs(r, path, i)))
        for name, path, f in (
            ("calmar", "top.0.calmar", num),
            ("spy_calmar", "beats_benchmark.benchmark_metric.min", num),
            ("sharpe", "overfitting.best_sharpe_annual", num),
            ("dsr", "overfitting.deflated_sharpe.dsr", num),
            ("dsr_spy", "overfitting.deflated_sharpe_vs_benchmark.dsr", num),
            ("spy_sharpe", "overfitting.deflated_sharpe_vs_benchmark.benchmark_sharpe_annual", num),
            ("pbo", "overfitting.pbo.pbo", num),
        )
        for end, i in (("first", FIRST), ("last", LAST))
    },
    "costs.none_beats": claim(lambda r: _none_beats(r.json(*COSTS))),
    "costs.coin_toss": claim(_coin_toss),
    # docs/research.md, Walk-forward
    "costs_wf.windows": value(lambda r: count(costs_wf(r, "windows"))),
    "costs_wf.start": value(lambda r: costs_wf(r, "out_of_sample_range.start")),
    "costs_wf.end": value(lambda r: costs_wf(r, "out_of_sample_range.end")),
    "costs_wf.partial_days": value(lambda r: count(costs_wf(r, "partial_window.test_days"))),
    "costs_wf.calmar_first": value(lambda r: num(costs_wf(r, "scenarios.0.out_of_sample.calmar"))),
    "costs_wf.calmar_last": value(lambda r: num(costs_wf(r, "scenarios.-1.out_of_sample.calmar"))),
    "costs_wf.spy_calmar_first": value(
        lambda r: num(costs_wf(r, "scenarios.0.benchmark_out_of_sample.calmar"))
    ),
    "costs_wf.spy_calmar_last": value(
        lambda r: num(costs_wf(r, "scenarios.-1.benchmark_out_of_sample.calmar"))
    ),
    "walkforward_example": terminal(*GRID_WF, "--out", "runs/breakout-grid-walkforward"),
    "grid_wf.partial_days": value(lambda r: count(grid_wf(r, "partial_window.test_days"))),
    "grid_wf.oos_sharpe": value(lambda r: num(grid_wf(r, "out_of_sample.sharpe"))),
    "grid_wf.is_sharpe": value(lambda r: num(grid_wf(r, "in_sample.sharpe"))),
    "grid_wf.spy_oos_sharpe": value(lambda r: num(grid_wf(r, "benchmark_out_of_sample.sharpe"))),
    "grid_wf.spy_is_sharpe": value(lambda r: num(grid_wf(r, "benchmark_in_sample.sharpe"))),
    "grid_wf.oos_cagr": value(lambda r: pct(grid_wf(r, "out_of_sample.cagr"))),
    "grid_wf.spy_oos_cagr": value(lambda r: pct(grid_wf(r, "benchmark_out_of_sample.cagr"))),
    "grid_wf.conclusion": claim(_walk_forward_claim),
    # docs/research.md, Bootstrap
    "bootstrap_table": table(
        {
            f"{label} 5% / 50% / 95%": lambda r, k, stat=stat, f=f: " / ".join(
                f(boot(r, k)["bootstrap"]["strategy"][stat][q]) for q in ("p05", "p50", "p95")
            )
            for label, stat, f in (
                ("CAGR", "cagr", lambda x: pct(x, 1)),
                ("Sharpe", "sharpe", lambda x: num(x, 2)),
                ("max DD", "max_drawdown", lambda x: pct(x, 1)),
            )
        }
        | {"beats SPY": lambda r, k: pct(boot(r, k)["bootstrap"]["beats_benchmark"], 1)}
    ),
    "bootstrap.narrowest": value(lambda r: f"{min(_half_widths(r)):.0f}"),
    "bootstrap.widest": value(lambda r: f"{max(_half_widths(r)):.0f}"),
    "bootstrap.most_beats": value(
        lambda r: pct(max(boot(r, k)["bootstrap"]["beats_benchmark"] for k in BOOTSTRAPPED), 1)
    ),
    # docs/api.md
    "api_example": snippet_output(),
    "api_commands": snippet_output(),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    parser.add_argument("--data-dir", default=str(REPO / DATA), help="the reference prices")
    args = parser.parse_args(argv)
    runner = Runner(REPO, Path(args.data_dir))
    try:
        texts, differences, false = evaluate(FILES, REGISTRY, runner)
    except FigureError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    finally:
        runner.close()
    for region, old, new in differences:
        print(f"{region}: {'differs' if args.check else 'rewritten'}")
        if args.check:
            print("    " + short_diff(old, new).replace("\n", "\n    "))
    if not args.check:
        for path, text in texts.items():
            if text != path.read_text(encoding="utf-8"):
                path.write_text(text, encoding="utf-8")
    for region, why in false:
        print(f"{region}: no longer holds ({why}): reword it")
    marked = sum(len(regions(path)) for path in FILES)
    print(f"{marked} regions in {len(FILES)} files: {len(differences)} differ, {len(false)} false")
    return 1 if false or (args.check and differences) else 0


if __name__ == "__main__":
    sys.exit(main())
