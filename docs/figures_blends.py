"""The figures of README's blends and timing sections (docs/figures.py merges REGISTRY):
the ready blends beside each member traded alone and SPY, `rotation timing` of
top2_of_7 as a transcript, and GTAA-5's spread of CAGR over its decision days."""

from __future__ import annotations

import json

from regions import Entry, Runner, claim, num, pct, snippet_output, table, terminal, value

DATA = "../shared/data"
BLENDS = {
    "seed_gem": "configs/blends/seed_gem.yaml",
    "gtaa5_tranches": "configs/blends/gtaa5_tranches.yaml",
}
TIMING_GTAA5 = ("timing", "configs/taa/gtaa5.yaml", "--data-dir", DATA)
TIMING_TOP2 = ("timing", "configs/taa/top2_of_7.yaml", "--data-dir", DATA)
TIMING_TOP2_OUT = (*TIMING_TOP2, "--out", "runs/top2_of_7-timing")  # a folder name that stays


def _blend(r: Runner, blend: str, key: str) -> dict:
    """The statistics of a row of a blend's table: the blend (`key` its file's name), a
    member traded alone (its name; blend.json's `alone`) or `SPY` (the benchmark)."""
    argv = ("run", BLENDS[blend], "--data-dir", DATA)
    stats = r.json(*argv)
    if key == "SPY":
        return stats["benchmark"]
    if key.endswith(".yaml"):
        return stats["strategy"]
    folder = r.folder(*argv, "--json")
    return json.loads((folder / "blend.json").read_text())["alone"][key]


def _columns(blend: str) -> dict:
    return {
        "CAGR": lambda r, k: pct(_blend(r, blend, k)["cagr"]),
        "volatility": lambda r, k: pct(_blend(r, blend, k)["volatility"]),
        "Sharpe": lambda r, k: num(_blend(r, blend, k)["sharpe"], 2),
        "max DD": lambda r, k: pct(_blend(r, blend, k)["max_drawdown"], 1),
    }


def _timing(r: Runner, path: str, argv: tuple = TIMING_GTAA5):
    """`rotation timing` of GTAA-5 (--json; or of `argv`) at the dotted `path`."""
    data = r.json(*argv)
    for part in path.split("."):
        data = data[part]
    return data


def _day(r: Runner, which: str) -> str:
    """The decision day with the lowest (`min`) or highest (`max`) CAGR."""
    days = r.json(*TIMING_GTAA5)["days"]
    pick = min if which == "min" else max
    return str(pick(days, key=lambda d: d["cagr"])["decide_day"])


def _within_spread(r: Runner) -> str | None:
    tranches, spread = _timing(r, "tranches.cagr"), r.json(*TIMING_GTAA5)["spread"]
    if spread["cagr_min"] <= tranches <= spread["cagr_max"]:
        return None
    return "the tranche blend's CAGR is outside the days' spread"


def _blend_between(r: Runner) -> str | None:
    """The 50/50 blend's CAGR lies between its members' alone."""
    ours = _blend(r, "seed_gem", "seed_gem.yaml")["cagr"]
    alone = [_blend(r, "seed_gem", k)["cagr"] for k in ("smallcap-breakout-eth", "gem")]
    return None if min(alone) <= ours <= max(alone) else "the blend's CAGR is not between them"


def _tranches_among(r: Runner) -> str | None:
    """GTAA-5's tranche blend's CAGR lies between its days' alone."""
    ours = _blend(r, "gtaa5_tranches", "gtaa5_tranches.yaml")["cagr"]
    days = [_blend(r, "gtaa5_tranches", f"day{d}")["cagr"] for d in (-1, -6, -11, -16)]
    return None if min(days) <= ours <= max(days) else "the tranches are not among their days"


def _below_spy(r: Runner) -> str | None:
    for blend, path in BLENDS.items():
        name = path.rsplit("/", 1)[-1]
        if _blend(r, blend, name)["cagr"] >= _blend(r, blend, "SPY")["cagr"]:
            return f"{name} beats SPY"
    return None


REGISTRY: dict[str, Entry] = {
    "blend_seed_gem": table(_columns("seed_gem")),
    "blend_gtaa5_tranches": table(_columns("gtaa5_tranches")),
    "blend.between": claim(_blend_between),
    "blend.tranches_among": claim(_tranches_among),
    "blend.below_spy": claim(_below_spy),
    "timing_example": terminal(*TIMING_TOP2_OUT),
    "api_timing": snippet_output(),
    "timing.gtaa5_min": value(lambda r: pct(_timing(r, "spread.cagr_min"))),
    "timing.gtaa5_min_day": value(lambda r: _day(r, "min")),
    "timing.gtaa5_max": value(lambda r: pct(_timing(r, "spread.cagr_max"))),
    "timing.gtaa5_max_day": value(lambda r: _day(r, "max")),
    "timing.gtaa5_median": value(lambda r: pct(_timing(r, "spread.cagr_median"))),
    "timing.gtaa5_points": value(
        lambda r: f"{(_timing(r, 'spread.cagr_max') - _timing(r, 'spread.cagr_min')) * 100:.1f}"
    ),
    "timing.gtaa5_tranches": value(lambda r: pct(_timing(r, "tranches.cagr"))),
    "timing.gtaa5_spy": value(lambda r: pct(_timing(r, "benchmark.cagr"))),
    "timing.tranches_within": claim(_within_spread),
    "timing.top2_min": value(lambda r: pct(_timing(r, "spread.cagr_min", TIMING_TOP2))),
    "timing.top2_max": value(lambda r: pct(_timing(r, "spread.cagr_max", TIMING_TOP2))),
    "timing.top2_tranches": value(lambda r: pct(_timing(r, "tranches.cagr", TIMING_TOP2))),
}
