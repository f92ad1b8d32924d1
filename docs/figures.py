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
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figures_blends import REGISTRY as BLEND_FIGURES  # noqa: E402
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


def changed(r: Runner, path: str, changes: dict | None = None):
    """engine.api.run of the config at `path` on ../shared/data with `changes` ({"dotted.key":
    value}, a number a list position), run once per distinct change."""
    changes = changes or {}

    def go():
        import yaml

        from engine import api

        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        for dotted, new in changes.items():
            *parents, last = (int(p) if p.isdigit() else p for p in dotted.split("."))
            node = raw
            for part in parents:
                node = node[part]
            node[last] = new
        return api.run(raw, data_dir=DATA)

    return r.call(f"{path} {json.dumps(changes, sort_keys=True)}", go)


def gtaa5_without_rebalancing(r: Runner) -> dict:
    """stats of configs/taa/gtaa5.yaml with `rebalance: none` instead of monthly."""
    return changed(r, "configs/taa/gtaa5.yaml", {"execution.rebalance": "none"}).stats


def year_return(run, year: int) -> float:
    """The strategy's return over calendar `year` (from the last close of the year before)."""
    values = run.values["strategy"]
    return values[str(year)].iloc[-1] / values[: str(year - 1)].iloc[-1] - 1


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

# ---------------------------------------------------------------- SPEC 11's ready configs

SEED, VOL = "configs/smallcap_breakout_eth.yaml", "configs/smallcap_breakout_eth_vol10.yaml"
VOL_VARIANTS = {"monthly": {"execution.decide": "monthly"}, "band": {"execution.tolerance": 0.05}}
TOP2, CALM = "configs/taa/top2_of_7.yaml", "configs/taa/top2_of_7_calm.yaml"
CALM_ROWS = {  # the rows of the README's band and buffer table: (config, changes)
    "top2_of_7.yaml": (TOP2, {}),
    **{f"tolerance: {x:g}": (TOP2, {"execution.tolerance": x}) for x in (0.02, 0.05, 0.1)},
    "keep: 3": (TOP2, {"regimes.0.rank.keep": 3}),
    "top2_of_7_calm.yaml": (CALM, {}),
}
GEM, GEM_CASH = "configs/taa/gem.yaml", "configs/taa/gem_cash.yaml"
GEM_IN_CASH = {"regimes.1.weights": {}}  # GEM's risk-off regime in cash instead of AGG
G6040 = "configs/taa/gtaa5_quarterly_6040.yaml"


VOL_STATS = {  # value name: (statistic, format)
    "volatility": ("volatility", lambda x: pct(x, 1)),
    "max_dd": ("max_drawdown", lambda x: pct(x, 1)),
    "sharpe": ("sharpe", lambda x: num(x, 2)),
    "cagr": ("cagr", pct),
    "trade_dates": ("trade_dates", count),
    "turnover": ("turnover", lambda x: pct(x, 0)),
    "exposure": ("avg_exposure", lambda x: pct(x, 0)),
}
VOL_SHOWN = {  # the README's values of the vol-targeted config and its variants
    None: ("volatility", "max_dd", "exposure", "sharpe", "trade_dates", "turnover"),
    "monthly": ("trade_dates", "cagr", "sharpe", "max_dd", "volatility"),
    "band": ("trade_dates", "turnover", "cagr", "sharpe", "max_dd", "volatility", "exposure"),
}


def vol(r: Runner, key: str, variant: str | None = None) -> float:
    """A strategy statistic of the vol-targeted seed config (or one of VOL_VARIANTS)."""
    if variant is None:
        return ready(r, VOL)["strategy"][key]
    return changed(r, VOL, VOL_VARIANTS[variant]).stats["strategy"][key]


def _vol_claim(r: Runner) -> str | None:
    seed, target = ready(r, SEED)["strategy"], ready(r, VOL)["strategy"]
    if not abs(target["volatility"] - 0.10) < abs(seed["volatility"] - 0.10):
        return "the target's volatility is not nearer 10% than the seed's"
    return None if target["max_drawdown"] > seed["max_drawdown"] else "no smaller drawdown"


def _band_on_vol_claim(r: Runner) -> str | None:
    daily, band = (vol(r, "trade_dates"), vol(r, "trade_dates", "band"))
    if not band < daily / 10:
        return f"the band trades on {band} of {daily} dates: not a tenth"
    return None if vol(r, "sharpe", "band") >= vol(r, "sharpe") else "the band lowers Sharpe"


def calm(r: Runner, key: str, stat: str) -> float:
    """A strategy statistic of a row of CALM_ROWS."""
    return changed(r, *CALM_ROWS[key]).stats["strategy"][stat]


def calm_2008(r: Runner, key: str) -> float:
    return year_return(changed(r, *CALM_ROWS[key]), 2008)


def _calm_claim(r: Runner, what: str) -> str | None:
    plain, band, keep = "top2_of_7.yaml", "tolerance: 0.05", "keep: 3"
    if what == "band":  # trade dates cut by two thirds, turnover by less than a tenth
        fewer = calm(r, band, "trade_dates") <= calm(r, plain, "trade_dates") / 3
        same = calm(r, band, "turnover") >= 0.9 * calm(r, plain, "turnover")
        return None if fewer and same else "the band does not cut dates but not turnover"
    if what == "buffer":  # turnover cut by more than half
        half = calm(r, keep, "turnover") < calm(r, plain, "turnover") / 2
        return None if half else "the buffer does not halve turnover"
    cost = calm(r, plain, "cagr") - calm(r, keep, "cagr")  # "cost": mostly 2008
    crash = calm_2008(r, plain) - calm_2008(r, keep)
    return None if cost > 0.02 and crash > 0.2 else f"buffer cost {cost:.3f}, 2008 {crash:.3f}"


def dbc_kept(r: Runner):
    """The calm config's decision dates of 2008-09 on which the buffer keeps DBC."""
    ranks = changed(r, CALM).ranks
    dbc = ranks[(ranks["asset"] == "DBC") & ranks["active"]]
    dbc = dbc[(dbc["date"] >= "2008-07-01") & (dbc["date"] < "2009-07-01")]
    return dbc[dbc["kept"].astype(bool)]


def _dbc_claim(r: Runner) -> str | None:
    ranks, kept = changed(r, CALM).ranks, dbc_kept(r)
    dates = ranks["date"].drop_duplicates()
    between = dates[(dates >= kept["date"].min()) & (dates <= kept["date"].max())]
    if len(kept) != len(between) or set(kept["rank"]) != {3}:
        return "DBC is not kept at rank 3 on every decision of its run"
    if not (kept["weight"] >= 0.4).all():
        return "DBC's slot is not 40% or more"
    plain = changed(r, TOP2).ranks
    plain = plain[(plain["asset"] == "DBC") & plain["date"].isin(kept["date"])]
    return None if not plain["selected"].any() else "the plain top 2 also held DBC"


def kept_share(r: Runner) -> float:
    """Share of the calm config's decision dates on which the buffer keeps some asset."""
    ranks = changed(r, CALM).ranks
    return ranks.groupby("date")["kept"].any().mean()


def gem_money(r: Runner, key: str, side: str = "strategy", part: str | None = None) -> float:
    """A statistic of gem_cash.yaml (`part` "gem": of gem.yaml; "cash"/"zero": GEM with
    its risk-off regime in cash earning BIL / nothing)."""
    if part is None:
        return taa(r, "gem_cash.yaml")[side][key]
    if part == "gem":
        return taa(r, "gem.yaml")[side][key]
    changes = GEM_IN_CASH | ({"portfolio.cash_yield": 0.0} if part == "zero" else {})
    return changed(r, GEM_CASH, changes).stats[side][key]


def _gem_invested_claim(r: Runner) -> str | None:
    gap = changed(r, GEM_CASH).values - changed(r, GEM).values
    if abs(gem_money(r, "cash_interest")) >= 0.005:
        return "gem_cash earns interest"
    return None if gap["strategy"].abs().max() < 0.005 else "values differ from GEM's"


def _bills_claim(r: Runner) -> str | None:
    def go():
        from engine.data import CsvSource

        close = CsvSource(DATA).load(["BIL"])["BIL"]["Close"]
        return {y: close[str(y)].iloc[-1] / close[str(y - 1)].iloc[-1] - 1 for y in (2023, 2024)}

    paid = r.call("BIL 2023-2024", go)
    return None if all(0.04 <= x <= 0.055 for x in paid.values()) else f"BIL paid {paid}"


def g6040(r: Runner, key: str, side: str = "strategy") -> float:
    return changed(r, G6040).stats[side][key]


def _g6040_claim(r: Runner, what: str) -> str | None:
    s, b = (changed(r, G6040).stats[x] for x in ("strategy", "benchmark"))
    if what == "yardstick":
        ahead = b["cagr"] > s["cagr"] and b["sharpe"] > s["sharpe"]
        return None if ahead and s["max_drawdown"] > b["max_drawdown"] else "60/40 not ahead"
    monthly = taa(r, "gtaa5.yaml")["strategy"]
    worse = monthly["cagr"] > s["cagr"] and monthly["max_drawdown"] > s["max_drawdown"]
    return None if worse else "quarterly decisions do not cost GTAA-5 return and drawdown"


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
    # README, Ready configs: the volatility target
    "vol.seed_volatility": value(lambda r: pct(ready(r, SEED)["strategy"]["volatility"], 1)),
    "vol.seed_max_dd": value(lambda r: pct(ready(r, SEED)["strategy"]["max_drawdown"], 1)),
    "vol.seed_sharpe": value(lambda r: num(ready(r, SEED)["strategy"]["sharpe"], 2)),
    "vol.seed_turnover": value(lambda r: pct(ready(r, SEED)["strategy"]["turnover"], 0)),
    "vol.days": value(lambda r: count(ready(r, VOL)["period"]["days"])),
    "vol.does_what": claim(_vol_claim),
    "vol.pays": claim(
        lambda r: (
            None
            if vol(r, "sharpe") < ready(r, SEED)["strategy"]["sharpe"]
            else "the target does not lower Sharpe"
        )
    ),
    "vol.band_keeps": claim(_band_on_vol_claim),
    **{
        f"vol.{name}{'' if variant is None else '_' + variant}": value(
            lambda r, key=VOL_STATS[name][0], f=VOL_STATS[name][1], v=variant: f(vol(r, key, v))
        )
        for variant, names in VOL_SHOWN.items()
        for name in names
    },
    # README, Tactical asset allocation: money that behaves like money
    "taa.gem_cash_in_stocks": value(
        lambda r: pct(taa(r, "gem_cash.yaml")["strategy"]["time_in_regime"]["equities"], 1)
    ),
    "taa.calm_kept": value(lambda r: pct(kept_share(r), 1)),
    "money.gem_invested": claim(_gem_invested_claim),
    "money.bills_paid": claim(_bills_claim),
    "money.gem_interest": value(lambda r: f"{gem_money(r, 'cash_interest'):,.2f}"),
    "money.gem_cagr": value(lambda r: pct(gem_money(r, "cagr"))),
    **{
        f"money.{name}{suffix}": value(
            lambda r, key=key, side=side, f=f, part=part: f(gem_money(r, key, side, part))
        )
        for suffix, part in (("", None), ("_gem", "gem"))
        for name, key, side, f in (
            ("sharpe", "sharpe", "strategy", lambda x: num(x, 3)),
            ("sortino", "sortino", "strategy", lambda x: num(x, 3)),
            ("alpha", "alpha", "relative", pct),
            ("spy_sharpe", "sharpe", "benchmark", lambda x: num(x, 3)),
        )
    },
    "money.cash_interest": value(lambda r: f"{gem_money(r, 'cash_interest', part='cash'):,.0f}"),
    "money.cash_cagr": value(lambda r: pct(gem_money(r, "cagr", part="cash"))),
    "money.zero_cagr": value(lambda r: pct(gem_money(r, "cagr", part="zero"))),
    "calm_table": table(
        {
            "trade dates": lambda r, k: count(calm(r, k, "trade_dates")),
            "turnover (one-way, ann.)": lambda r, k: pct(calm(r, k, "turnover"), 0),
            "fees": lambda r, k: f"{calm(r, k, 'fees_paid'):,.0f}",
            "CAGR": lambda r, k: pct(calm(r, k, "cagr")),
            "Sharpe": lambda r, k: num(calm(r, k, "sharpe"), 2),
            "max DD": lambda r, k: pct(calm(r, k, "max_drawdown"), 1),
            "2008": lambda r, k: pct(calm_2008(r, k), 1),
        }
    ),
    **{
        f"calm.{what}": claim(lambda r, w=what: _calm_claim(r, w))
        for what in ("band", "buffer", "cost")
    },
    "calm.dbc": claim(_dbc_claim),
    "calm.dbc_from": value(lambda r: str(dbc_kept(r)["date"].min().date())),
    "calm.dbc_to": value(lambda r: str(dbc_kept(r)["date"].max().date())),
    "calm.dbc_worst": value(lambda r: pct(dbc_kept(r)["score"].min(), 0)),
    "g6040.start": value(lambda r: changed(r, G6040).stats["period"]["start"]),
    "g6040.end": value(lambda r: changed(r, G6040).stats["period"]["end"]),
    **{
        f"g6040.{name}{'_6040' if side == 'benchmark' else ''}": value(
            lambda r, key=key, side=side, f=f: f(g6040(r, key, side))
        )
        for side in ("strategy", "benchmark")
        for name, key, f in (
            ("cagr", "cagr", pct),
            ("sharpe", "sharpe", lambda x: num(x, 2)),
            ("max_dd", "max_drawdown", lambda x: pct(x, 1)),
            ("trade_dates", "trade_dates", count),
        )
    },
    "g6040.monthly_cagr": value(lambda r: pct(taa(r, "gtaa5.yaml")["strategy"]["cagr"])),
    "g6040.monthly_max_dd": value(
        lambda r: pct(taa(r, "gtaa5.yaml")["strategy"]["max_drawdown"], 1)
    ),
    **{f"g6040.{w}": claim(lambda r, w=w: _g6040_claim(r, w)) for w in ("yardstick", "monthly")},
    # docs/running.md, What do I hold tomorrow?
    "signal_example": terminal("signal", "configs/smallcap_breakout_eth.yaml", "--data-dir", DATA),
    "signal_spec11": snippet_output(),
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
    # README, Portfolios of strategies and Timing luck (docs/figures_blends.py)
    **BLEND_FIGURES,
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
