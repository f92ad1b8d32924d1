"""SPEC 2's no-look-ahead properties (a) and (b) for blends and configs in tranches
(hypothesis; the checks of tests/test_no_lookahead.py): a blend's target is a sum of
its members' decided targets and its own volatility target reads past returns, and a
tranche decides on its own day of the period; none may read a bar final after the
close of its decision date.

A blend scenario: a random ranked member (any schedule, decision day, rank buffer and
volatility target: tests/test_lookahead_decisions.py) with a second member on another
schedule, random weights, and maybe a volatility target of the blend's own. A tranche
scenario: the ranked member in 2 to 4 tranches."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.config.load import config_from_dict
from tests.test_lookahead_decisions import decision_scenarios
from tests.test_no_lookahead import (
    CRYPTO,
    check_nothing_up_to_t_changes,
    check_trades_on_u_read_only_the_past,
)
from tests.test_ranked_engine import SETTINGS

OWN = ("name", "universe", "signals", "scores", "regimes")


def _member(raw: dict) -> dict:
    """The keys a member of a blend keeps of a config."""
    execution = {k: v for k, v in raw["execution"].items() if k in ("decide", "decide_day")}
    member = {k: raw[k] for k in OWN if k in raw} | {"execution": execution}
    target = (raw.get("portfolio") or {}).get("target_vol")
    return member | ({"portfolio": {"target_vol": target}} if target else {})


@st.composite
def blend_scenarios(draw):
    market, config, seed = draw(decision_scenarios())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    raw = config.resolved()
    second = {
        "name": "second",
        "universe": ["DDD", "AAA"],
        "signals": {"trend": {"type": "sma", "series": CRYPTO, "window": int(rng.integers(2, 15))}},
        "regimes": [
            {"name": "up", "when": "trend", "weights": {"AAA": 0.7, "DDD": 0.2}},
            {"name": "down", "weights": {"DDD": 0.9}},
        ],
        "execution": {"decide": str(rng.choice(["daily", "weekly", "monthly"]))},
    }
    if second["execution"]["decide"] != "daily" and rng.random() < 0.5:
        second["execution"]["decide_day"] = int(rng.choice([1, 2, -2]))
    first_weight = float(rng.choice([0.2, 0.5, 0.7]))
    blend = {
        "name": "blend",
        "data": raw["data"],
        "blend": [
            {"weight": first_weight, **_member(raw)},
            {"weight": float(rng.choice([0.3, 1.0 - first_weight])), **second},
        ],
        "execution": {
            k: v for k, v in raw["execution"].items() if k not in ("decide", "decide_day")
        },
        "portfolio": {"initial_cash": raw["portfolio"]["initial_cash"]},
        "benchmark": raw["benchmark"],
        "stats": raw["stats"],
    }
    if rng.random() < 0.5:
        window = int(rng.integers(2, 20))
        blend["portfolio"]["target_vol"] = {
            "annual": float(rng.choice([0.03, 0.1])),
            "window": window,
        }
    return market, config_from_dict(blend, "<hypothesis>"), seed


@st.composite
def tranche_scenarios(draw):
    market, config, seed = draw(decision_scenarios())
    raw = config.resolved()
    execution = {k: v for k, v in raw["execution"].items() if k != "decide_day"}
    if execution["decide"] == "daily":
        execution["decide"] = draw(st.sampled_from(["weekly", "monthly"]))
    execution["tranches"] = draw(st.integers(2, 4))
    return market, config_from_dict(raw | {"execution": execution}, "<hypothesis>"), seed


@SETTINGS
@given(scenario=blend_scenarios(), pick=st.floats(0.1, 1.0), on_trade_date=st.booleans())
def test_a_blend_reads_nothing_final_after_its_decisions(scenario, pick, on_trade_date):
    """(a) nothing up to t moves when the bars final after t change; (b) the quantities
    traded on u move with nothing final after the close before u but u's prices."""
    assert hasattr(scenario[1], "members")
    check_nothing_up_to_t_changes(*scenario, pick)
    check_trades_on_u_read_only_the_past(*scenario, pick, on_trade_date)


@SETTINGS
@given(scenario=tranche_scenarios(), pick=st.floats(0.1, 1.0), on_trade_date=st.booleans())
def test_tranches_read_nothing_final_after_their_decisions(scenario, pick, on_trade_date):
    assert len(scenario[1].members) >= 2
    check_nothing_up_to_t_changes(*scenario, pick)
    check_trades_on_u_read_only_the_past(*scenario, pick, on_trade_date)
