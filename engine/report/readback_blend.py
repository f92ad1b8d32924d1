"""What a blend's run folder and a timing folder hold, for the checked loader
(engine.report.readback; engine.report.readback_kinds lists the other kinds).

A blend's run folder (also a config in tranches) adds blend.json and members.csv
(engine.report.blend_files): blend.json's members name the regimes whose joined names
regimes.csv may hold, members.csv has a row per member on each date of values.csv.
A timing folder (`rotation timing --out`, engine.research.timing) holds timing.json,
values.csv (each decision day's daily values, the tranche blend's and the
benchmark's) and manifest.json.
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

from engine.report.readback_shapes import FileSpec, ListOf, MapOf, Maybe, Mismatch, Table

NUMBER = Maybe(float)
MEMBER = {
    "name": str,
    "file": str,
    "weight": float,
    "universe": ListOf(str, 1),
    "regimes": ListOf(str, 1),
    "decide": str,
    "decide_day": Maybe(int),
}
BLEND_FILES = {
    "blend.json": FileSpec(
        {
            "members": ListOf(MEMBER, 1),
            "tranches": Maybe(int),
            "contributions": {"years": ListOf(MapOf(NUMBER)), "total": MapOf(NUMBER)},
            "alone": MapOf(MapOf(NUMBER)),
        },
        optional=True,
    ),
    "members.csv": FileSpec(
        Table(
            ("date", "member", "regime", "contribution", "alone"),
            text=("member", "regime"),
            numbers="rest",
            finite="rest",
        ),
        optional=True,
    ),
}
"""blend.json and members.csv, the files a blend's run folder adds."""

MOST_NAMES = 100_000  # joined names checked one by one; beyond, each part is checked


def is_blended(config: dict) -> bool:
    """True for a blend's config.yaml or a config in tranches."""
    execution = config.get("execution") or {}
    return "blend" in config or execution.get("tranches") is not None


def regime_check(content: dict[str, Any], config: dict):
    """A test of a regimes.csv name: one of config.yaml's regimes, or for a blend a
    name joined (by `|`) from its members' regimes in blend.json (checked to agree with
    config.yaml and members.csv on the way)."""
    if not is_blended(config):
        names = {regime["name"] for regime in config["regimes"]}
        return names.__contains__
    payload, members = content.get("blend.json"), content.get("members.csv")
    if payload is None or members is None:
        missing = "blend.json" if payload is None else "members.csv"
        raise Mismatch(missing, "missing, and config.yaml is a blend (or in tranches)")
    listed = [m["name"] for m in payload["members"]]
    count = len(config["blend"]) if "blend" in config else config["execution"]["tranches"]
    if len(listed) != count:
        raise Mismatch("blend.json", f"lists {len(listed)} members, config.yaml {count}")
    _members_agree(members, listed, content["values.csv"]["date"])
    parts = [set(m["regimes"]) for m in payload["members"]]
    size = 1
    for each in parts:
        size *= len(each)
    if size <= MOST_NAMES:
        names = {
            "|".join(p) for p in itertools.product(*(m["regimes"] for m in payload["members"]))
        }
        return names.__contains__
    return lambda name: _joined(name, parts)


def _joined(name: str, parts: list[set]) -> bool:
    pieces = name.split("|")
    return len(pieces) == len(parts) and all(p in s for p, s in zip(pieces, parts, strict=True))


def _members_agree(members: pd.DataFrame, listed: list[str], dates: pd.Series) -> None:
    unknown = ~members["member"].isin(listed)
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise Mismatch(
            "members.csv",
            f"row {row + 2}: member {members['member'].iloc[row]!r} is not in blend.json",
        )
    for name in listed:
        own = members.loc[members["member"] == name, "date"]
        if len(own) != len(dates) or not (own.to_numpy() == dates.to_numpy()).all():
            raise Mismatch(
                "members.csv",
                f"member {name!r}: its dates are not the {len(dates):,} of values.csv",
            )


def _timing_agree(content: dict[str, Any]) -> None:
    payload, values = content["timing.json"], content["values.csv"]
    days = [str(day["decide_day"]) for day in payload["days"]]
    for column in [*days, "tranches", "benchmark"]:
        if column not in values:
            raise Mismatch("values.csv", f"no column {column!r} (timing.json names it)")
    if len(set(days)) != len(days):
        raise Mismatch("timing.json", "days: a decide_day is listed twice")


STATS = {"cagr": NUMBER, "sharpe": NUMBER, "max_drawdown": NUMBER}
DAY = {"decide_day": int, **STATS, "trade_dates": int}
TIMING_FILES = {
    "timing.json": FileSpec(
        {
            "config": str,
            "decide": str,
            "days": ListOf(DAY, 2),
            "tranches": {"n": int, **STATS},
            "spread": {"cagr_min": NUMBER, "cagr_median": NUMBER, "cagr_max": NUMBER},
            "benchmark": STATS,
        }
    ),
    "values.csv": FileSpec(Table(("date",), numbers="rest", finite="rest", increasing=True)),
    "manifest.json": FileSpec(
        {"name?": str, "benchmark?": Maybe(MapOf(float)), "initial_cash?": NUMBER},
        optional=True,
    ),
}
"""The files of a timing folder (`rotation timing --out`)."""
