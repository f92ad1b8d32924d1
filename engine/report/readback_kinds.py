"""What each kind of folder holds, for the checked loader (engine.report.readback).

For each kind (walk-forward, comparison, sweep, run, in the order they are told
apart): the file that marks it, the command that makes it, its files with their
shapes (engine.report.readback_shapes) and the checks across its files. Only what the
pages read is required, so folders written by older versions (without signals.csv,
trade reasons or scenarios) still read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engine.report.readback_blend import (
    BLEND_FILES,
    TIMING_FILES,
    _timing_agree,
    is_blended,
    regime_check,
)
from engine.report.readback_shapes import (
    FileSpec,
    ListOf,
    MapOf,
    Maybe,
    Mismatch,
    OneOf,
    Table,
)


@dataclass(frozen=True)
class Kind:
    """One kind of folder: its name, the file that marks it, the command that makes it,
    its files and the check across them (raises Mismatch)."""

    name: str
    marker: str
    command: str
    files: dict[str, FileSpec]
    agree: Callable[[dict[str, Any]], None] = field(default=lambda content: None)
    verify: Callable[[Path, dict[str, Any]], None] = field(default=lambda folder, content: None)

    @property
    def again(self) -> str:
        made = f"make it again ({self.command})"
        return f"the {self.name} folder was changed or is incomplete; {made}"


NUMBER = Maybe(float)  # a statistic: a number, or null where it is undefined
STATISTICS = MapOf(OneOf((NUMBER, MapOf(NUMBER))))  # time_in_regime is a map of its own
SPAN = {"start": str, "end": str, "days": int}
PERIOD = {
    **SPAN,
    "periods_per_year": int,
    "risk_free": OneOf((float, str)),  # a rate, or the ticker whose returns are the rate
}
QUANTILES = {"p05": NUMBER, "p50": NUMBER, "p95": NUMBER}
BOOTSTRAP = {
    "resamples": int,
    "mean_block": float,
    "seed": int,
    "beats_benchmark": NUMBER,
    **{side: {key: QUANTILES for key in ("cagr", "sharpe", "max_drawdown", "total_return")}
       for side in ("strategy", "benchmark")},
}  # fmt: skip
FILLS = ("quantity", "fill_price", "value", "fees")  # trades.csv's numbers
VALUES = Table(("date", "strategy", "benchmark"), finite=("strategy", "benchmark"), increasing=True)


def _same_dates(frame: pd.DataFrame, dates: pd.Series, name: str) -> None:
    if len(frame) != len(dates) or not (frame["date"].to_numpy() == dates.to_numpy()).all():
        raise Mismatch(
            name, f"its {len(frame):,} dates are not the {len(dates):,} dates of values.csv"
        )


def _valid_config(raw: Any) -> dict:
    """config.yaml as the current version reads it (a csv source without its left-out
    `dir` gets a stand-in: engine.report.paths)."""
    from engine.config.load import config_from_dict  # blends and tranches too
    from engine.errors import ConfigError

    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        data = raw["data"]
        if data.get("source") == "csv" and data.get("dir") is None:
            raw = {**raw, "data": {**data, "dir": "."}}
    try:
        config_from_dict(raw, "config.yaml")
    except ConfigError as exc:
        lines = [x.strip() for x in str(exc.message).splitlines()]
        first = lines[1] if len(lines) > 1 else lines[0].split("problem: ", 1)[-1]
        raise Mismatch("config.yaml", f"not a config this version reads ({first})") from None
    return raw


def _run_agree(content: dict[str, Any]) -> None:
    config = _valid_config(content["config.yaml"])
    if content["stats.json"]["period"]["periods_per_year"] < 1:
        raise Mismatch("stats.json", "period.periods_per_year: must be at least 1")
    dates = content["values.csv"]["date"]
    for name in ("weights.csv", "regimes.csv"):
        _same_dates(content[name], dates, name)
    known = regime_check(content, config)  # a blend's: joined from its members'
    regimes = content["regimes.csv"]
    unknown = ~regimes["regime"].map(known).astype(bool)
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise Mismatch(
            "regimes.csv",
            f"row {row + 2}: regime {regimes['regime'].iloc[row]!r} is not one of config.yaml's",
        )
    if content["signals.csv"] is None:  # older folders: the aligned states are drawn
        for signal in config.get("signals") or {}:
            if signal not in regimes:
                raise Mismatch("regimes.csv", f"no column {signal!r}, a signal of config.yaml")
    _ranks_agree(content["ranks.csv"], config)


def _ranks_agree(ranks: pd.DataFrame | None, config: dict) -> None:
    if ranks is None or is_blended(config):  # a blend's rows name `member:regime`
        return
    twice = ranks.duplicated(["regime", "date", "asset"])
    if twice.any():
        row = int(twice.to_numpy().argmax())
        raise Mismatch("ranks.csv", f"row {row + 2}: the same regime, date and asset again")
    for regime in config["regimes"]:
        rows = ranks[ranks["regime"] == regime["name"]]
        if regime.get("rank") and len(rows):
            absent = set(regime["rank"]["assets"]) - set(rows["asset"])
            if absent:
                raise Mismatch(
                    "ranks.csv", f"regime {regime['name']!r} has no rows for {sorted(absent)[0]}"
                )


RUN = Kind(
    "run",
    "stats.json",
    "rotation run CONFIG",
    {
        "stats.json": FileSpec(
            {
                "strategy": STATISTICS,
                "benchmark": STATISTICS,
                "relative": STATISTICS,
                "period": PERIOD,
            }
        ),  # fmt: skip
        "config.yaml": FileSpec(dict),
        "values.csv": FileSpec(VALUES),
        "weights.csv": FileSpec(Table(("date", "cash_held"), numbers="rest")),
        "regimes.csv": FileSpec(Table(("date", "regime"), text=("regime",), finite="rest")),
        "trades.csv": FileSpec(
            Table(
                ("portfolio", "date", "ticker", *FILLS),
                text=("portfolio", "ticker", "reason"),
                finite=FILLS,
                min_rows=0,
            )
        ),
        "signals.csv": FileSpec(
            Table(
                ("signal", "date", "x", "upper", "lower", "on"),
                text=("signal",),
                numbers="rest",
                finite=("on",),
                min_rows=0,
            ),
            optional=True,
        ),
        "ranks.csv": FileSpec(
            Table(
                (
                    "date",
                    "regime",
                    "active",
                    "asset",
                    "score",
                    "selected",
                    "failed",
                    "weight",
                    "fallback",
                    "fallback_weight",
                ),
                text=("regime", "asset", "fallback"),
                numbers="rest",
                finite=("active", "selected", "failed", "fallback_weight"),
                min_rows=0,
            ),
            optional=True,
        ),  # fmt: skip
        "manifest.json": FileSpec(
            {"data?": MapOf({"first": object, "last": object}), "versions?": dict},
            optional=True,
        ),
        "bootstrap.json": FileSpec(BOOTSTRAP, optional=True),
        "series.csv": FileSpec(
            Table(
                ("series", "date", "released", "value"),
                text=("series", "released"),
                numbers=("value",),
                finite=("value",),
                min_rows=0,
            ),
            optional=True,
        ),
        **BLEND_FILES,
    },
    _run_agree,
)


IMPLIED_FROM = ("final_value", "total_return")  # an older folder's initial cash


def _comparison_agree(content: dict[str, Any]) -> None:
    payload, values = content["comparison.json"], content["values.csv"]
    columns = payload["columns"]
    for column in columns:
        if column not in payload["statistics"]:
            raise Mismatch("comparison.json", f"statistics: no entry for column {column!r}")
        if column not in values:
            raise Mismatch("values.csv", f"no column {column!r} (comparison.json lists it)")
        if not (payload.get("initial_cash") or {}).get(column):  # older folders: implied
            stats = payload["statistics"][column]
            if not all(isinstance(stats.get(k), (int, float)) for k in IMPLIED_FROM):
                raise Mismatch(
                    "comparison.json", f"no initial cash for {column!r}, nor its final value"
                )
    for config, bench in (payload.get("benchmarks") or {}).items():
        if config not in columns or (bench and bench not in columns):
            raise Mismatch("comparison.json", f"benchmarks: {config!r} -> {bench!r} is no column")


COMPARISON = Kind(
    "comparison",
    "comparison.json",
    "rotation compare CONFIG...",
    {
        "comparison.json": FileSpec(
            {
                "range": {"start": str, "end": str},
                "columns": ListOf(str, 1),
                "statistics": MapOf(MapOf(NUMBER)),
                "benchmarks?": MapOf(str),
                "initial_cash?": MapOf(NUMBER),
                "time_in_regime?": MapOf(MapOf(NUMBER)),
            }
        ),
        "values.csv": FileSpec(Table(("date",), numbers="rest", increasing=True)),
        "manifest.json": FileSpec(
            {"configs?": MapOf({"path?": object, "config_sha256?": object})}, optional=True
        ),
    },
    _comparison_agree,
)


SPREAD = {"min": NUMBER, "max": NUMBER}
BEATS = {"of": int, "metric": str, "on_metric": Maybe(int), "on_cagr": int,
         "benchmark_cagr": Maybe(SPREAD), "benchmark_metric?": Maybe(SPREAD)}  # fmt: skip
TOP = {"row": int, "neighbour_mean": NUMBER, "neighbour_min": NUMBER}
BLOCK = {"label": str, "top": ListOf(TOP), "beats_benchmark?": Maybe(BEATS), "notes?": ListOf(str)}
TOP_COLUMNS = ("cagr", "sharpe", "max_drawdown", "trade_dates")  # the top table shows them
PART = {"name": str, "rows": int, "bytes": int, "sha256": str}
PART_NAME = re.compile(r"results/part-\d{5,}\.parquet")


def _sweep_agree(content: dict[str, Any]) -> None:
    summary, top = content["summary.json"], content["top.parquet"]
    metric, axes = summary["metric"], list(summary["axes"])
    for column in [*axes, metric, *TOP_COLUMNS]:
        if column not in top:
            raise Mismatch("top.parquet", f"no column {column!r} (summary.json names it)")
    numbers = [metric, *TOP_COLUMNS, *(c for c in top if c.startswith("benchmark_"))]
    for column in numbers:
        if not pd.api.types.is_numeric_dtype(top[column]):
            raise Mismatch("top.parquet", f"column {column!r} does not hold numbers")
    scenario_axes = summary.get("scenario_axes") or []
    for name in [*scenario_axes, *(summary.get("heatmap") or [])]:
        if name not in axes:
            raise Mismatch("summary.json", f"{name!r} is not one of its axes")
    if summary.get("heatmap") is not None and len(summary["heatmap"]) != 2:
        raise Mismatch("summary.json", "heatmap: expected two axes")
    if "y" not in content["heatmap.csv"] and len(axes) > 1:
        raise Mismatch("heatmap.csv", "no column 'y' (summary.json has two axes or more)")
    blocks = [*(summary.get("scenarios") or []), {"label": "", "top": summary["top"]}]
    if not blocks[0]["top"]:
        raise Mismatch("summary.json", "top: empty; no best combination to show")
    ranked = set(top.loc[top["ranked_by"] == metric, "row"].tolist())
    chosen = [a for a in axes if a not in scenario_axes]
    for block in blocks:
        for entry in block["top"]:
            if not 0 <= entry["row"] < summary["combinations"] or entry["row"] not in ranked:
                raise Mismatch("summary.json", f"top: row {entry['row']} is not in top.parquet")
            for key in [metric, *chosen]:
                value = entry.get(key)
                label = key != metric and isinstance(value, str)  # a blend: `[21, 63]`
                if not label and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                    raise Mismatch("summary.json", f"top: row {entry['row']} has no number {key!r}")
    listed = content["manifest.json"]["results"]
    if sum(part["rows"] for part in listed["parts"]) != summary["combinations"]:
        raise Mismatch("manifest.json", "results: its parts do not hold every combination")


def _sweep_parts(folder: Path, content: dict[str, Any]) -> None:
    """Every results part the manifest lists is there, a regular file inside the folder
    with the size and sha256 listed (engine.integrity.verified_bytes), a parquet file of
    the rows listed."""
    import io

    import pyarrow.parquet as pq

    from engine.integrity import Unusable, verified_bytes

    for part in content["manifest.json"]["results"]["parts"]:
        name = part["name"]
        if not PART_NAME.fullmatch(name):
            raise Mismatch("manifest.json", f"results: {name!r} is not a results part's name")
        try:
            data = verified_bytes(folder / name, part)
            rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        except Unusable as exc:
            raise Mismatch(name, exc.why) from None
        except Exception:  # noqa: BLE001 (pyarrow's errors: not a parquet file)
            raise Mismatch(name, "is not a parquet file") from None
        if rows != part["rows"]:
            raise Mismatch(name, f"holds {rows:,} rows where manifest.json lists {part['rows']:,}")


SWEEP = Kind(
    "sweep",
    "summary.json",
    "rotation sweep SWEEP_CONFIG",
    {
        "summary.json": FileSpec(
            {
                "name": str,
                "range": SPAN,
                "combinations": int,
                "axes": MapOf(list),
                "scenario_axes?": ListOf(str),
                "metric": str,
                "lower_is_better": bool,
                "top": ListOf(TOP),
                "sensitivity?": MapOf(NUMBER),
                "scenarios?": Maybe(ListOf(BLOCK)),
                "heatmap?": Maybe(ListOf(str)),
                "notes?": ListOf(str),
            }
        ),
        "top.parquet": FileSpec(Table(("ranked_by", "rank", "row"), text=("ranked_by",))),
        "heatmap.csv": FileSpec(
            Table(
                ("x", "combinations", "metric", "excess", "benchmark_min", "benchmark_max"),
                # x and y are an axis's values: numbers, or a blend's text (`[21, 63]`)
                numbers=("combinations", "metric", "excess", "benchmark_min", "benchmark_max"),
            )
        ),
        "histogram.csv": FileSpec(
            Table(("low", "high", "combinations"), numbers="rest", finite="rest", min_rows=0)
        ),
        "best_values.csv": FileSpec(
            Table(
                ("date", "scenario", "strategy", "benchmark"), text=("scenario",), numbers="rest"
            ),
            optional=True,
        ),  # fmt: skip
        "manifest.json": FileSpec(
            {
                "timing?": Maybe({"total?": NUMBER}),
                "results": {"rows": int, "parts": ListOf(PART, 1)},
            }
        ),
    },
    _sweep_agree,
    _sweep_parts,
)

PARTS = ("in_sample", "out_of_sample", "benchmark_in_sample", "benchmark_out_of_sample")
SIDES = {part: MapOf(NUMBER) for part in PARTS}
WINDOW = {"window": int, "train_start": str, "train_end": str, "test_start": str, "test_end": str}


def _walkforward_agree(content: dict[str, Any]) -> None:
    summary, values = content["walkforward.json"], content["oos_values.csv"]
    manifest = content["manifest.json"] or {}
    windows = summary["per_window"]
    scenario_axes = summary.get("scenario_axes") or []
    chosen = [a for a in manifest.get("axes") or [] if a not in scenario_axes]
    for window in windows:
        for axis in chosen:
            if axis not in window:
                raise Mismatch("walkforward.json", f"window {window['window']} has no {axis!r}")
    labels = [block["label"] for block in summary.get("scenarios") or []]
    if labels and "scenario" not in values:
        raise Mismatch("oos_values.csv", "no column 'scenario' (walkforward.json has scenarios)")
    for label in labels:
        if not any(w.get("scenario") == label for w in windows):
            raise Mismatch("walkforward.json", f"scenario {label!r} has no window")
        if not (values["scenario"] == label).any():
            raise Mismatch("oos_values.csv", f"scenario {label!r} has no rows")


WALK_FORWARD = Kind(
    "walk-forward",
    "walkforward.json",
    "rotation sweep SWEEP_CONFIG --walk-forward SPEC",
    {
        "walkforward.json": FileSpec(
            {
                "walk_forward": str,
                "metric": str,
                "windows": int,
                "out_of_sample_range": SPAN,
                **SIDES,
                "per_window": ListOf(WINDOW, 1),
                "scenario_axes?": ListOf(str),
                "scenarios?": Maybe(ListOf({"label": str, **SIDES})),
            }
        ),
        "oos_values.csv": FileSpec(
            Table(
                ("date", "strategy", "benchmark", "window"),
                text=("scenario",),
                numbers="rest",
                finite=("strategy", "benchmark"),
            ),
        ),  # fmt: skip
        "manifest.json": FileSpec(
            {
                "axes?": ListOf(str),
                "benchmark?": Maybe(MapOf(float)),
                "initial_cash?": NUMBER,
                "name?": Maybe(str),
                "description?": Maybe(str),
                "versions?": dict,
            },
            optional=True,
        ),  # fmt: skip
    },
    _walkforward_agree,
)

TIMING = Kind(
    "timing", "timing.json", "rotation timing CONFIG --out FOLDER", TIMING_FILES, _timing_agree
)

KINDS = {kind.name: kind for kind in (WALK_FORWARD, COMPARISON, SWEEP, TIMING, RUN)}
"""Every kind, in the order they are told apart by their marker file."""
