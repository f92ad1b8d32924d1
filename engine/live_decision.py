"""What a config decides at a close: the regime, the ranked selections (with the rank
buffer) and the volatility target's scale, computed with the engine's own rules at a
close the run does not count as a decision date yet (`rotation signal`, engine.live).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.config import Config


def finite_or_none(value: Any) -> float | None:
    """`value` as a float, None when it is NaN or infinite (JSON null)."""
    value = float(value)
    return value if math.isfinite(value) else None


def rankings_at(
    result, instant: np.ndarray, decided: int, ahead: bool = False
) -> tuple[list[dict], dict]:
    """The candidates of every ranked regime at the close `instant` (docs/semantics.md §8),
    and each ranked regime's target there ({regime position: weights over the universe}).
    The decided regime with `keep` holds the run's buffered selection of its latest
    decision date, or with `ahead` (a decision the run does not count yet) continues the
    buffer from it."""
    from engine.targets import RankInputs, rank_plans, rank_set, ranked_weights

    config = result.config
    plans = rank_plans(config, [])
    if not plans:
        return [], {}
    inputs = RankInputs(result.prices, config, instant)
    rows, weights = [], {}
    for plan in plans:
        ranking = rank_set(plan, plan.sets[0], inputs)
        if plan.regime == decided and plan.rank.keep is not None:
            ranking = _buffered(result, plan, ranking, inputs, ahead)
        weights[plan.regime] = ranked_weights(plan, ranking, list(config.universe))[0]
        rows.append(_ranking_rows(config, plan, ranking, decided))
    return rows, weights


def _buffered(result, plan, ranking, inputs, ahead: bool):
    """The ranking of `plan` with its rank buffer: the slot holders of the run's latest
    decision date when it decided this regime (read from the run's ranks), kept as they
    are, or with `ahead` taken one decision further (otherwise the plain ranking)."""
    from engine import rank_buffer
    from engine.targets import weighing_inputs

    name = result.config.regimes[plan.regime].name
    ranks = result.ranks
    if ranks.empty:
        return ranking
    latest = ranks[ranks["date"] == ranks["date"].max()]
    rows = latest[(latest["regime"] == name) & latest["active"]]
    if rows.empty:
        return ranking
    held = rows["selected"].to_numpy(dtype=bool)
    chosen = plan.sets[0]
    state = rank_buffer.step(held, ranking, chosen.top, chosen.keep) if ahead else held
    vol, threshold, passed = weighing_inputs(plan, chosen, inputs)
    buffered = rank_buffer.weigh_states(
        ranking,
        state[None],
        np.zeros(1, dtype=np.int64),
        chosen.top,
        chosen.exposure,
        vol,
        threshold,
        passed,
    )
    return buffered.ranking


def decision_at(result, instant: np.ndarray) -> tuple[int, np.ndarray, list[dict], float]:
    """(regime position, target over the universe, rankings, scale) decided at the close
    `instant` with the signals aligned at the last date of C (docs/semantics.md §6, §8,
    §11): the target is already scaled by the volatility target (scale 1 without one)."""
    from strategies.regimes import decide

    config = result.config
    regimes = config.parsed_regimes()
    aligned = {n: np.array([bool(result.signals[n].iloc[-1])]) for n in result.signals.columns}
    position = int(decide(regimes, aligned)[0]) if aligned else len(regimes) - 1
    rankings, ranked = rankings_at(result, instant, position, ahead=True)
    fixed = [float(regimes[position].weights.get(t, 0.0)) for t in config.universe]
    target = ranked.get(position, np.array(fixed))
    scale = _scale_now(result, target)
    return position, target * scale, rankings, scale


def _scale_now(result, target: np.ndarray) -> float:
    """The volatility target's scale of `target` decided at the last date of C (1 without
    `portfolio.target_vol`)."""
    from engine import vol_target

    config = result.config
    spec = config.portfolio.target_vol
    if spec is None:
        return 1.0
    returns = vol_target.calendar_returns(result.prices, list(config.universe), result.calendar)
    end = np.array([len(result.calendar) - 1])
    periods = config.annual_periods()
    sigma = vol_target.target_sigma(target[None], end, returns, spec.window, periods)
    return float(vol_target.scale_of(sigma, spec.annual, spec.max_exposure)[0])


def _ranking_rows(config: Config, plan, ranking, decided: int) -> dict[str, Any]:
    rank = plan.rank
    candidates = [
        {
            "asset": asset,
            "score": finite_or_none(ranking.score[0, m]),
            "rank": int(ranking.rank[0, m]) or None,
            "selected": bool(ranking.selected[0, m]),
            "failed": bool(ranking.failed[0, m]),
            "weight": float(ranking.weight[0, m]),
        }
        | (
            {}
            if rank.keep is None
            else {"kept": bool(ranking.rank[0, m] > rank.top) and bool(ranking.selected[0, m])}
        )
        for m, asset in enumerate(rank.assets)
    ]
    return {
        "regime": config.regimes[plan.regime].name,
        "active": plan.regime == decided,
        "score": rank.score,
        "top": int(rank.top),
        **({} if rank.keep is None else {"keep": int(rank.keep)}),
        "fallback": rank.fallback,
        "fallback_weight": float(ranking.fallback[0]),
        "candidates": candidates,
    }
