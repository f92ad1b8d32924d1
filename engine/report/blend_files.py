"""What a blend's run folder adds (formatting only; engine/blend_run.py computes it).

members.csv  date, member, regime (decided at the close), contribution (its return
             contribution that date: engine/blend_run.py), alone (its targets' value
             traded alone), then <T>_target for each ticker of the blend: the member's
             own decided target at the close (W_j not applied; 0 outside its universe)
blend.json   members (name, file, weight, universe, regimes, decide, decide_day),
             tranches (N, or null for a blend file), contributions summed by calendar
             year and in total (each member's, the blend's own return summed the same
             way, and `other`: the blend's minus the members', i.e. drift, costs and
             cash interest), and each member's statistics traded alone
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def blend_frames(result) -> dict[str, pd.DataFrame]:
    """members.csv of a blend's BacktestResult (long: one row per date and member)."""
    universe = list(result.config.universe)
    dates = result.dates
    day = dates.strftime("%Y-%m-%d")
    parts = []
    for run in result.blend.members:
        frame = pd.DataFrame(
            {
                "date": day,
                "member": run.name,
                "regime": run.regimes.reindex(dates).to_numpy(),
                "contribution": run.contribution,
                "alone": run.alone,
            }
        )
        own = run.targets.reindex(dates)
        for ticker in universe:
            frame[f"{ticker}_target"] = own[ticker].to_numpy() if ticker in own else 0.0
        parts.append(frame)
    members = pd.concat(parts, ignore_index=True)
    order = np.argsort(np.tile(np.arange(len(dates)), len(parts)), kind="stable")
    return {"members.csv": members.iloc[order].reset_index(drop=True)}


def daily_returns(values: np.ndarray, initial_cash: float) -> np.ndarray:
    """r_1 = V_1 / initial_cash - 1, then V_t / V_{t-1} - 1 (docs/semantics.md §7)."""
    return np.diff(np.concatenate([[initial_cash], values])) / np.concatenate(
        [[initial_cash], values[:-1]]
    )


def contributions(result) -> dict:
    """Each member's contribution, the blend's return and `other`, summed by calendar year
    and in total (see the module docstring)."""
    dates = result.dates
    cash = float(result.config.portfolio.initial_cash)
    returns = daily_returns(result.strategy.value.to_numpy(), cash)
    frame = pd.DataFrame({run.name: run.contribution for run in result.blend.members}, index=dates)
    names = list(frame.columns)
    frame["blend"] = returns
    frame["other"] = frame["blend"] - frame[names].sum(axis=1)
    years = frame.groupby(frame.index.year).sum()
    rows = [{"year": int(year), **row.to_dict()} for year, row in years.iterrows()]
    return {"years": rows, "total": frame.sum().to_dict()}


def blend_json(result) -> dict:
    """blend.json of a blend's BacktestResult."""
    blend = result.config
    members = []
    for member, run in zip(blend.members, result.blend.members, strict=True):
        execution = run.config.execution
        members.append(
            {
                "name": member.name,
                "file": member.label,
                "weight": member.weight,
                "universe": list(run.config.universe),
                "regimes": [r.name for r in run.config.regimes],
                "decide": execution.decide,
                "decide_day": execution.decide_day,
            }
        )
    tranches = None if blend.tranches_of is None else len(blend.members)
    return {
        "members": members,
        "tranches": tranches,
        "contributions": contributions(result),
        "alone": result.blend.alone_stats,
    }
