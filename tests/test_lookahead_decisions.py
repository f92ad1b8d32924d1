"""SPEC 2's no-look-ahead properties (a) and (b) on random configs that use the keys of
SPEC 11's decisions: quarterly and annual schedules, `decide_day`, the rank buffer
`keep` and the volatility target (hypothesis; the checks of tests/test_no_lookahead.py).

A buffered selection chains from one decision date to the next, a decision day counted
from a period's end waits for the period to end, and a volatility is measured over past
returns: each must read nothing final after the close of its decision date.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.config import config_from_dict
from tests.test_no_lookahead import (
    check_nothing_up_to_t_changes,
    check_trades_on_u_read_only_the_past,
)
from tests.test_ranked_engine import SETTINGS, ranked_scenarios

DAYS = {"weekly": [1, 2, 4, -2, -5], "other": [1, 2, 4, 30, -2, -3, -7]}


@st.composite
def decision_scenarios(draw):
    """A random ranked scenario with a random schedule, decision day, buffer and target.

    The choices come from one drawn integer through numpy's generator, so that every
    example mixes them (hypothesis alone tends to repeat its simplest draws)."""
    market, config, seed = draw(ranked_scenarios())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    raw = config.resolved()
    decide = str(rng.choice(["daily", "weekly", "monthly", "monthly", "quarterly", "annual"]))
    raw["execution"]["decide"] = decide
    if decide != "daily" and rng.random() < 0.7:
        days = DAYS["weekly" if decide == "weekly" else "other"]
        raw["execution"]["decide_day"] = int(rng.choice(days))
    rank = raw["regimes"][0]["rank"]
    if rng.random() < 0.7:
        rank["keep"] = int(rng.integers(rank["top"], len(rank["assets"]) + 1))
    if rng.random() < 0.7:
        raw["portfolio"]["target_vol"] = {
            "annual": float(rng.choice([0.02, 0.05, 0.1])),
            "window": int(rng.integers(2, 25)),
            "max_exposure": float(rng.choice([0.5, 1.0])),
        }
    return market, config_from_dict(raw, origin="<hypothesis>"), seed


@SETTINGS
@given(scenario=decision_scenarios(), pick=st.floats(0.1, 1.0), on_trade_date=st.booleans())
def test_no_decision_schedule_buffer_or_volatility_target_reads_the_future(
    scenario, pick, on_trade_date
):
    """(a) nothing up to t moves when the bars final after t change; (b) the quantities
    traded on u move with nothing final after the close before u but u's prices."""
    check_nothing_up_to_t_changes(*scenario, pick)
    check_trades_on_u_read_only_the_past(*scenario, pick, on_trade_date)
