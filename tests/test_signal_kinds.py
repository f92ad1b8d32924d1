"""SPEC 8: the signal kinds as plug-ins (strategies/signals/).

Hand-computed tables, one comment per row, each checked against the registry
and against the plain-loop reference (tests/reference.py); then a walk over the
registry (models, bars needed, sweep keys, grid = single form), bad config
entries, and the registry against the reference on the real prices to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import strategies.signals as signals
from strategies.registry import SignalKind
from strategies.signals import SIGNAL_KINDS, signal_grid
from tests import reference

F, T = False, True
U = None  # y undefined
IMPLEMENTATIONS = ("registry", "reference")


def series(values, start: str = "2024-01-02", name: str = "x") -> pd.Series:
    """A close series on business days (the calendar does not matter to one-input kinds)."""
    index = pd.bdate_range(start, periods=len(values), name="date")
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


REFERENCE_VALUES = {
    "momentum": lambda x, p: reference.momentum_values(x, p["lookback"], p.get("weights")),
    "rsi": lambda x, p: reference.rsi_values(x, p["window"]),
    "level": lambda x, p: list(x),
    "crossover": lambda x, p: reference.crossover_values(
        x, p["fast"], p["slow"], p.get("average", "sma")
    ),
}
REFERENCE_SIGNALS = {
    "momentum": lambda x, p: reference.momentum(
        x, p["lookback"], p.get("weights"), p.get("threshold", 0.0), p.get("band", 0.0)
    ),
    "rsi": lambda x, p: reference.rsi(x, p["window"], p["enter"], p.get("exit")),
    "level": lambda x, p: reference.level(x, p["above"], p.get("below")),
    "crossover": lambda x, p: reference.crossover(
        x, p["fast"], p["slow"], p.get("average", "sma"), p.get("band", 0.0)
    ),
}


def run(impl: str, kind: str, closes: list[float], params: dict) -> tuple[list, list[bool]]:
    """(y with None where undefined, booleans) of a one-input kind, by either implementation."""
    if impl == "reference":
        return REFERENCE_VALUES[kind](closes, params), REFERENCE_SIGNALS[kind](closes, params)
    x = series(closes)
    value = SIGNAL_KINDS[kind].lines(x, [params]).value[:, 0]
    on = SIGNAL_KINDS[kind](x, **params)
    assert on.dtype == bool and on.index.equals(x.index)
    return [None if math.isnan(v) else float(v) for v in value], on.tolist()


def check_table(impl: str, kind: str, rows: list[tuple], params: dict) -> None:
    """rows: (x, expected y or U, expected on)."""
    y, on = run(impl, kind, [row[0] for row in rows], params)
    assert on == [row[2] for row in rows]
    for t, (got, (_, want, _)) in enumerate(zip(y, rows, strict=True)):
        assert (got is None) == (want is None), f"bar {t}: y {got} vs {want}"
        if want is not None:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), f"bar {t}"


# ---------------------------------------------------------------- momentum


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_momentum_single_lookback_with_threshold_and_band(impl):
    # L=2, θ=0.05, b=0.02: on when y > 0.07, off when y < 0.03; y_t = x_t / x_{t-2} - 1
    rows = [
        (100.0, U, F),  # t0: no bar 2 back
        (100.0, U, F),  # t1: no bar 2 back
        (104.0, 0.04, F),  # t2: 104/100-1 = 0.04, first defined, inside the band -> False
        (110.0, 0.10, T),  # t3: 110/100-1 = 0.10 > 0.07                        -> True
        (110.0, 110 / 104 - 1, T),  # t4: 0.0577, inside the band                 -> hold True
        (112.0, 112 / 110 - 1, F),  # t5: 0.0182 < 0.03                           -> False
        (120.0, 120 / 110 - 1, T),  # t6: 0.0909 > 0.07                           -> True
        (118.0, 118 / 112 - 1, T),  # t7: 0.0536, inside the band                 -> hold True
        (121.0, 121 / 120 - 1, F),  # t8: 0.0083 < 0.03                           -> False
    ]
    params = {"lookback": 2, "threshold": 0.05, "band": 0.02}
    check_table(impl, "momentum", rows, params)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_momentum_weighted_blend_defined_from_the_longest_lookback(impl):
    # lookback [1, 3], weights [3, 1], θ = b = 0: y = (3 (x_t/x_{t-1} - 1) + (x_t/x_{t-3} - 1)) / 4
    rows = [
        (100.0, U, F),  # t0: undefined
        (106.0, U, F),  # t1: the 1-bar return exists, the 3-bar one not yet   -> False
        (103.0, U, F),  # t2: still no bar 3 back                                -> False
        (100.0, (3 * (100 / 103 - 1) + 0.0) / 4, F),  # t3: (3(-0.0291) + 0)/4 = -0.0218 -> False
        (102.0, (3 * 0.02 + (102 / 106 - 1)) / 4, T),  # t4: (0.06 - 0.0377)/4 = +0.0056 -> True
        # (t4 with equal weights would be (0.02 - 0.0377)/2 < 0: the weights decide)
        (98.0, (3 * (98 / 102 - 1) + (98 / 103 - 1)) / 4, F),  # t5: -0.0415        -> False
        (101.0, (3 * (101 / 98 - 1) + (101 / 100 - 1)) / 4, T),  # t6: +0.0255       -> True
    ]
    params = {"lookback": [1, 3], "weights": [3.0, 1.0]}
    check_table(impl, "momentum", rows, params)


# ---------------------------------------------------------------- rsi


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_rsi_wilder_by_hand(impl):
    # n=2, enter 70, exit 30. AU_2 = mean(U_1, U_2), then AU_t = (AU_{t-1} + U_t) / 2 (AD alike);
    # y = 100 - 100/(1 + AU/AD); 100 when AD = 0 < AU; 50 when both are 0.
    rows = [
        (10.0, U, F),  # t0: no change yet
        (10.0, U, F),  # t1: one change, n=2 needed
        (10.0, 50.0, F),  # t2: AU=AD=0 (flat start): 50, inside 30..70     -> False
        (10.0, 50.0, F),  # t3: flat: AU=AD=0 still                             -> False
        (11.0, 100.0, T),  # t4: U=1: AU=1/2, AD=0: no down move yet: 100       -> True
        (12.0, 100.0, T),  # t5: AU=3/4, AD=0                                   -> True
        (13.0, 100.0, T),  # t6: AU=7/8, AD=0                                   -> True
        (12.0, 140 / 3, T),  # t7: D=1: AU=7/16, AD=1/2: 46.67, inside        -> hold True
        (11.0, 700 / 31, F),  # t8: AU=7/32, AD=3/4: 22.58 < 30                 -> False
        (11.0, 700 / 31, F),  # t9: flat after moves: both halve, y unchanged   -> False
        (13.0, 4500 / 53, T),  # t10: U=2: AU=135/128, AD=3/16: 84.91 > 70      -> True
        (13.0, 4500 / 53, T),  # t11: flat: y unchanged                          -> True
        (13.0, 4500 / 53, T),  # t12: flat                                       -> True
        (12.0, 13500 / 671, F),  # t13: AU=135/1024, AD=67/128: 20.12 < 30      -> False
        (10.0, 13500 / 2719, F),  # t14: D=2: AD=323/256: 4.97                  -> False
        (11.0, 218300 / 4767, F),  # t15: AU=2183/4096, AD=323/512: 45.79       -> hold False
        (11.0, 218300 / 4767, F),  # t16: flat                                    -> False
        (11.0, 218300 / 4767, F),  # t17: flat                                    -> False
        (12.0, 1856700 / 21151, T),  # t18: AU=18567/32768, AD=323/4096: 87.78  -> True
        (9.0, 371340 / 23891, F),  # t19: D=3: AD=12611/8192: 15.54 < 30        -> False
    ]
    check_table(impl, "rsi", rows, {"window": 2, "enter": 70.0, "exit": 30.0})


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_rsi_window_one_and_exit_defaulting_to_enter(impl):
    # n=1: AU_t = U_t, AD_t = D_t; enter = exit = 50
    rows = [
        (5.0, U, F),  # t0: undefined
        (5.0, 50.0, F),  # t1: flat: 50 is not > 50                 -> False
        (6.0, 100.0, T),  # t2: up: 100                               -> True
        (6.0, 50.0, T),  # t3: flat: 50, neither > nor < 50           -> hold True
        (5.0, 0.0, F),  # t4: down: AU=0 < AD: 0                      -> False
    ]
    check_table(impl, "rsi", rows, {"window": 1, "enter": 50.0})


# ---------------------------------------------------------------- level


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_level_hysteresis_between_below_and_above(impl):
    # above 25, below 20 (e.g. vix_high on ^VIX)
    rows = [
        (18.0, 18.0, F),  # t0: below both lines                    -> False
        (22.0, 22.0, F),  # t1: between 20 and 25                    -> hold False
        (26.0, 26.0, T),  # t2: > 25                                  -> True
        (24.0, 24.0, T),  # t3: between                               -> hold True
        (25.0, 25.0, T),  # t4: = 25 is not above                     -> hold True
        (20.0, 20.0, T),  # t5: = 20 is not below                     -> hold True
        (19.9, 19.9, F),  # t6: < 20                                  -> False
        (25.0, 25.0, F),  # t7: = 25                                  -> hold False
        (25.1, 25.1, T),  # t8: > 25                                  -> True
    ]
    check_table(impl, "level", rows, {"above": 25.0, "below": 20.0})


# ---------------------------------------------------------------- crossover


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_crossover_of_simple_averages_with_a_band(impl):
    # fast 2, slow 3, sma, band 0.01: y = F/S - 1 with F = mean of 2, S = mean of 3;
    # on above 0.01, off below -0.01
    rows = [
        (10.0, U, F),  # t0: no average yet
        (10.0, U, F),  # t1: F = 10, S needs 3 bars
        (10.0, 0.0, F),  # t2: F = 10, S = 10: 0, inside the band                  -> False
        (13.0, 11.5 / 11 - 1, T),  # t3: F = 11.5, S = 11: 0.0455 > 0.01           -> True
        (11.0, 12 / (34 / 3) - 1, T),  # t4: F = 12, S = 11.33: 0.0588             -> True
        (9.0, 10 / 11 - 1, F),  # t5: F = 10, S = 11: -0.0909 < -0.01              -> False
        (10.0, 9.5 / 10 - 1, F),  # t6: F = 9.5, S = 10: -0.05                      -> False
        (10.5, 10.25 / (29.5 / 3) - 1, T),  # t7: F = 10.25, S = 9.833: 0.0424    -> True
        (10.0, 10.25 / (30.5 / 3) - 1, T),  # t8: F = 10.25, S = 10.167: 0.0082     -> hold True
    ]
    check_table(impl, "crossover", rows, {"fast": 2, "slow": 3, "band": 0.01})


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_crossover_of_exponential_averages_seeded_with_the_mean(impl):
    # fast 1 (alpha 1: F = x), slow 3 (alpha 0.5), ema, band 0: S_2 = mean(x_0..x_2), then
    # S_t = S_{t-1} + 0.5 (x_t - S_{t-1}); y = x / S - 1
    rows = [
        (8.0, U, F),  # t0: S not defined
        (10.0, U, F),  # t1: S not defined
        (12.0, 12 / 10 - 1, T),  # t2: S = (8+10+12)/3 = 10: 0.2 > 0               -> True
        (10.0, 10 / 10 - 1, T),  # t3: S = 10 + 0.5 (10 - 10) = 10: 0, not below 0 -> hold True
        (6.0, 6 / 8 - 1, F),  # t4: S = 10 + 0.5 (6 - 10) = 8: -0.25                -> False
        (9.0, 9 / 8.5 - 1, T),  # t5: S = 8 + 0.5 (9 - 8) = 8.5: 0.0588             -> True
        (8.5, 8.5 / 8.5 - 1, T),  # t6: S = 8.5 + 0.5 (8.5 - 8.5) = 8.5: 0          -> hold True
    ]
    check_table(impl, "crossover", rows, {"fast": 1, "slow": 3, "average": "ema"})


def test_crossover_ema_differs_from_sma_past_the_seed():
    x = series([8.0, 10.0, 12.0, 10.0, 6.0, 9.0])
    kind = SIGNAL_KINDS["crossover"]
    ema = kind.lines(x, [{"fast": 1, "slow": 3, "average": "ema"}]).value[:, 0]
    sma = kind.lines(x, [{"fast": 1, "slow": 3, "average": "sma"}]).value[:, 0]
    assert ema[2] == sma[2] == pytest.approx(0.2)  # the seed is the simple mean
    assert ema[4] == pytest.approx(6 / 8 - 1) and sma[4] == pytest.approx(6 / (28 / 3) - 1)


# ---------------------------------------------------------------- correlation

EQUITY, CRYPTO = "SPY", "BTC-USD"


def correlation_case(
    impl: str, equity: dict, crypto: dict, params: dict
) -> tuple[list, list, list[bool]]:
    """(dates D, y, booleans) of `correlation` between an equity and a crypto series
    given as {date: close}."""
    if impl == "reference":
        legs = [
            reference.Series(
                list(map(pd.Timestamp, c)), [None] * len(c), list(c.values()), [0] * len(c)
            )
            for c in (equity, crypto)
        ]
        dates = reference.common_dates(*legs)
        x = [legs[0].close[legs[0].index[d]] for d in dates]
        z = [legs[1].close[legs[1].index[d]] for d in dates]
        y = reference.correlation_values(x, z, params["window"])
        return dates, y, reference.correlation(x, z, **params)
    prices = {
        name: pd.DataFrame({"Close": pd.Series(c, dtype=float)}).set_axis(pd.to_datetime(list(c)))
        for name, c in ((EQUITY, equity), (CRYPTO, crypto))
    }
    kind = SIGNAL_KINDS["correlation"]
    pair, key = kind.source(prices, {"type": "correlation", "series": EQUITY, "other": CRYPTO})
    assert key == f"{EQUITY}/{CRYPTO}" and list(pair.columns) == [EQUITY, CRYPTO]
    value = kind.lines(pair, [params]).value[:, 0]
    y = [None if math.isnan(v) else float(v) for v in value]
    return list(pair.index), y, kind(pair, **params).tolist()


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_correlation_of_an_equity_and_crypto_pairs_returns_on_common_dates(impl):
    # n=3, above 0.6, below -0.2. Returns r (SPY) and s (BTC) over consecutive dates of D,
    # so Monday's pair is Friday -> Monday for both; weekend and holiday crypto bars are skipped.
    rows = [  # (date, SPY, BTC, y, on)
        ("2024-01-03", 100.0, 100.0, U, F),  # Wed k0: no return yet
        ("2024-01-04", 110.0, 120.0, U, F),  # Thu k1: r=+.1, s=+.2
        ("2024-01-05", 99.0, 96.0, U, F),  # Fri k2: r=-.1, s=-.2; 2 pairs < n
        ("2024-01-08", 108.9, 115.2, 1.0, T),  # Mon k3: r=+.1, s=+.2 (Fri->Mon): corr 1 > .6
        ("2024-01-09", 98.01, 138.24, 0.5, T),  # Tue k4: r(-.1,.1,-.1) s(-.2,.2,.2): .5, hold
        ("2024-01-10", 107.811, 110.592, -0.5, F),  # Wed k5: r(.1,-.1,.1) s(.2,.2,-.2): -.5
        ("2024-01-11", 118.5921, 132.7104, -0.5, F),  # Thu k6: r(-.1,.1,.1) s(.2,-.2,.2): -.5
        ("2024-01-12", 118.5921, 119.43936, 6 / math.sqrt(468), F),  # Fri k7: .277, hold
        ("2024-01-16", 118.5921, 107.495424, 1.0, T),  # Tue k8 (Mon holiday): r(.1,0,0)
        # s(.2,-.1,-.1): deviations proportional (2,-1,-1) on both sides: 1 > .6 -> True
        ("2024-01-17", 118.5921, 118.2449664, U, T),  # Wed k9: r(0,0,0) all equal: keep True
        ("2024-01-18", 106.73289, 141.89395968, -12 / math.sqrt(252), F),  # Thu k10: -.756
    ]
    equity = {pd.Timestamp(d).date(): x for d, x, _, _, _ in rows}
    crypto = {d.date(): 1.0 + d.day * 100 for d in pd.date_range("2024-01-01", "2024-01-19")}
    crypto.update({pd.Timestamp(d).date(): z for d, _, z, _, _ in rows})  # junk on other days
    dates, y, on = correlation_case(
        impl, equity, crypto, {"window": 3, "above": 0.6, "below": -0.2}
    )
    assert [pd.Timestamp(d) for d in dates] == [pd.Timestamp(r[0]) for r in rows]
    assert on == [r[4] for r in rows]
    for got, row in zip(y, rows, strict=True):
        assert (got is None) == (row[3] is None), row
        if row[3] is not None:
            assert got == pytest.approx(row[3], abs=1e-9), row


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_correlation_keeps_its_state_where_the_other_leg_is_flat(impl):
    # n=2, above = below = 0.5 (default below); two pairs correlate at +1 or -1
    rows = [  # (SPY, BTC, on)
        (10.0, 10.0, F),  # k0: no returns
        (11.0, 12.0, F),  # k1: one pair
        (10.0, 12.0, T),  # k2: r(.1,-.091) s(.2,0): both fall: +1       -> True
        (12.0, 12.0, T),  # k3: s(0,0) all equal: undefined              -> keep True
        (9.0, 15.0, F),  # k4: r(.2,-.25) s(0,.25): opposite moves: -1  -> False
    ]
    days = [d.date() for d in pd.bdate_range("2024-03-04", periods=len(rows))]
    equity = dict(zip(days, [r[0] for r in rows], strict=True))
    crypto = dict(zip(days, [r[1] for r in rows], strict=True))
    _, y, on = correlation_case(impl, equity, crypto, {"window": 2, "above": 0.5})
    assert on == [r[2] for r in rows]
    assert y[3] is None and y[2] == pytest.approx(1.0) and y[4] == pytest.approx(-1.0)


# ---------------------------------------------------------------- the registry

EXAMPLES = {  # one valid entry per kind; a new kind must add one here
    "donchian": {"type": "donchian", "series": "IWM/SPY", "entry": 20, "exit": 10},
    "sma": {"type": "sma", "series": "ETH-USD", "window": 50, "band": 0.02},
    "momentum": {"type": "momentum", "series": "SPY/BIL", "lookback": [21, 63], "weights": [1, 2]},
    "rsi": {"type": "rsi", "series": "SPY", "window": 14, "enter": 70, "exit": 30},
    "level": {"type": "level", "series": "^VIX", "above": 25, "below": 20},
    "correlation": {
        "type": "correlation",
        "series": "SPY",
        "other": "BTC-USD",
        "window": 60,
        "above": 0.3,
    },
    "crossover": {"type": "crossover", "series": "IWM/SPY", "fast": 50, "slow": 200},
}
PRICE_AXIS = {"donchian", "sma", "level"}  # crossover draws y on its own axis


def draw_params(draw, kind: str) -> dict:
    """A random valid parameter set of `kind` for short series."""
    small = st.integers(1, 12)
    if kind == "donchian":
        return {"entry": draw(small), "exit": draw(small)}
    if kind == "sma":
        return {"window": draw(small), "band": draw(st.sampled_from([0.0, 0.01, 0.1]))}
    if kind == "momentum":
        lookback = draw(st.one_of(small, st.lists(small, min_size=1, max_size=3)))
        weights = None
        if isinstance(lookback, list) and draw(st.booleans()):
            weights = draw(
                st.lists(
                    st.sampled_from([0.5, 1.0, 2.0]), min_size=len(lookback), max_size=len(lookback)
                )
            )
        return {"lookback": lookback, "weights": weights, "threshold": 0.01, "band": 0.005}
    if kind == "rsi":
        return {"window": draw(small), "enter": 60.0, "exit": draw(st.sampled_from([None, 40.0]))}
    if kind == "level":
        return {"above": 1.0, "below": draw(st.sampled_from([None, 0.95]))}
    if kind == "crossover":
        fast = draw(small)
        return {
            "fast": fast,
            "slow": fast + draw(small),
            "average": draw(st.sampled_from(["sma", "ema"])),
            "band": draw(st.sampled_from([0.0, 0.01])),
        }
    return {"window": draw(st.integers(2, 12)), "above": 0.2, "below": -0.2}


def random_input(kind: str, seed: int, length: int):
    """A random positive walk on business days (two of them, on common dates, for correlation)."""
    rng = np.random.default_rng(seed)
    walks = np.exp(np.cumsum(rng.normal(0, 0.02, size=(length, 2)), axis=0))
    index = pd.bdate_range("2020-01-01", periods=length)
    if kind == "correlation":
        return pd.DataFrame(walks, index=index, columns=["A", "B"])
    return pd.Series(walks[:, 0], index=index, name="A")


def test_the_registry_holds_the_built_in_kinds_each_with_an_example():
    # plug-ins of installed packages may come on top (tests/test_plugins.py)
    assert set(EXAMPLES) == set(signals.BUILT_IN) <= set(SIGNAL_KINDS)
    assert all(SIGNAL_KINDS[name] is kind for name, kind in signals.BUILT_IN.items())
    assert all(
        isinstance(kind, SignalKind) and kind.name == name for name, kind in SIGNAL_KINDS.items()
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_kind_declares_a_model_sweep_keys_legs_and_display(name):
    kind, spec = SIGNAL_KINDS[name], EXAMPLES[name]
    assert issubclass(kind.model, BaseModel)
    assert kind.model.model_config["extra"] == "forbid" and kind.model.model_config["frozen"]
    model = kind.config(spec)
    assert model.type == name and kind.config(model) is model
    with pytest.raises(ValidationError):
        kind.config({**spec, "type": "other"})
    fields = set(kind.model.model_fields)
    params = kind.params(spec)
    assert set(params) == fields - set(kind.inputs) and set(kind.inputs) <= fields
    assert set(kind.sweep_keys(spec)) <= set(params)
    assert set(kind.legs(spec)) == set(spec["series"].split("/")) | ({spec.get("other")} - {None})
    assert kind.price_axis == (name in PRICE_AXIS)
    assert kind.title("sig", spec).startswith("sig: ")
    labels = kind.labels(spec)
    assert set(labels) == {"value", "upper", "lower"} and isinstance(labels["upper"], str)
    assert kind.bars_needed(params) >= 1


def test_momentum_lookback_is_sweepable_and_list_valued_whatever_the_entry():
    """A list `lookback` is one value (a blend): a sweep varies it only as
    `{values: [...]}` (engine/research/grid.py), so the key stays sweepable."""
    from engine.research.grid import listed

    kind = SIGNAL_KINDS["momentum"]
    for entry in ({"type": "momentum", "series": "SPY", "lookback": 20}, EXAMPLES["momentum"]):
        assert kind.sweep_keys(entry) == ("lookback", "threshold", "band")
    assert listed(kind, "lookback") and not listed(kind, "threshold")


def test_sources_a_ratio_and_a_correlation_pair_on_common_dates():
    days = pd.bdate_range("2024-01-01", periods=4)
    week = pd.date_range("2024-01-01", periods=7)
    prices = {
        "A": pd.DataFrame({"Close": [1.0, 2.0, 3.0, 4.0]}, index=days),
        "B": pd.DataFrame({"Close": [2.0, 4.0, 5.0]}, index=days[[0, 1, 3]]),
        "C-USD": pd.DataFrame({"Close": np.arange(1.0, 8.0)}, index=week),
    }
    ratio, key = SIGNAL_KINDS["sma"].source(prices, {"series": "A/B"})
    assert key == "A/B" and ratio.tolist() == [0.5, 0.5, 0.8] and ratio.name == "A/B"
    close, key = SIGNAL_KINDS["rsi"].source(prices, {"series": "C-USD"})
    assert key == "C-USD" and len(close) == 7
    pair, key = SIGNAL_KINDS["correlation"].source(prices, {"series": "B", "other": "C-USD"})
    assert key == "B/C-USD" and pair.index.equals(days[[0, 1, 3]])
    assert pair["C-USD"].tolist() == [1.0, 2.0, 4.0]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_bars_needed_is_the_first_bar_with_a_defined_value(data):
    name = data.draw(st.sampled_from(sorted(signals.BUILT_IN)))
    kind = SIGNAL_KINDS[name]
    params = draw_params(data.draw, name)
    needed = kind.bars_needed(params)
    x = random_input(
        name, data.draw(st.integers(0, 2**32 - 1)), needed + data.draw(st.integers(0, 5))
    )
    drawn = kind.lines(x, [params])
    defined = ~np.isnan(drawn.value[:, 0]) & ~np.isnan(drawn.upper[:, 0])
    assert defined.tolist() == [False] * (needed - 1) + [True] * (len(x) - needed + 1)
    assert not kind(x, **params).iloc[: needed - 1].any()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_grid_form_equals_the_single_form_column_by_column(data):
    name = data.draw(st.sampled_from(sorted(signals.BUILT_IN)))
    kind = SIGNAL_KINDS[name]
    sets = [draw_params(data.draw, name) for _ in range(data.draw(st.integers(2, 5)))]
    x = random_input(name, data.draw(st.integers(0, 2**32 - 1)), 60)
    grid = signal_grid(name, x, sets)
    drawn = kind.lines(x, sets)
    assert grid.shape == drawn.value.shape == drawn.upper.shape == (len(x), len(sets))
    for k, params in enumerate(sets):
        assert grid[:, k].tolist() == kind(x, **params).tolist()
        alone = kind.lines(x, [params])
        for line in ("value", "upper", "lower"):
            np.testing.assert_array_equal(getattr(drawn, line)[:, k], getattr(alone, line)[:, 0])


# ---------------------------------------------------------------- bad entries

NAN, INF = float("nan"), float("inf")
BAD = [  # (kind, changes to its example, field named in the error, words of the message)
    ("rsi", {"enter": 60, "exit": 70}, "exit", "must be at most enter"),
    ("rsi", {"enter": 101}, "enter", "at most 100"),
    ("rsi", {"window": 0}, "window", "at least 1"),
    ("rsi", {"enter": True}, "enter", "not true"),
    ("rsi", {"enter": NAN}, "enter", "finite"),
    ("level", {"above": 20, "below": 25}, "below", "must be at most above"),
    ("level", {"above": INF}, "above", "finite"),
    ("level", {"below": False}, "below", "not false"),
    ("correlation", {"above": 0.2, "below": 0.5}, "below", "must be at most above"),
    ("correlation", {"other": "SPY"}, "other", "must differ from series"),
    ("correlation", {"other": "IWM/SPY"}, "other", "ticker, not a ratio"),
    ("correlation", {"window": 1}, "window", "at least 2"),
    ("correlation", {"above": 1.5}, "above", "at most 1"),
    ("correlation", {"window": True}, "window", "not true"),
    ("momentum", {"lookback": [20, 60], "weights": [1.0]}, "weights", "one weight per lookback"),
    ("momentum", {"lookback": 20, "weights": [1.0]}, "weights", "with one lookback"),
    ("momentum", {"weights": [0.0, 0.0]}, "weights", "positive sum"),
    ("momentum", {"weights": [-1.0, 2.0]}, "weights", "at least 0"),
    ("momentum", {"weights": [NAN, 1.0]}, "weights", "finite"),
    ("momentum", {"lookback": [20, 0]}, "lookback", "at least 1"),
    ("momentum", {"lookback": 0}, "lookback", "at least 1"),
    ("momentum", {"lookback": [20, True]}, "lookback", "not true"),
    ("momentum", {"lookback": 2.5}, "lookback", "whole number"),
    ("momentum", {"lookback": []}, "lookback", "at least one"),
    ("momentum", {"threshold": NAN}, "threshold", "finite"),
    ("momentum", {"band": -0.01}, "band", "at least 0"),
    ("donchian", {"entry": 0}, "entry", "at least 1"),
    ("donchian", {"exit": True}, "exit", "not true"),
    ("donchian", {"entry": "20"}, "entry", "not the text"),
    ("sma", {"window": 0}, "window", "at least 1"),
    ("sma", {"band": 1.0}, "band", "below 1"),
    ("sma", {"band": NAN}, "band", "finite"),
    ("sma", {"windw": 20}, "windw", "Extra inputs"),
    ("crossover", {"fast": 200, "slow": 50}, "slow", "must be more than fast (200)"),
    ("crossover", {"fast": 50, "slow": 50}, "slow", "must be more than fast (50)"),
    ("crossover", {"fast": 0}, "fast", "at least 1"),
    ("crossover", {"average": "wma"}, "average", "'sma' or 'ema'"),
    ("crossover", {"band": -0.01}, "band", "at least 0"),
    ("crossover", {"slow": 20.5}, "slow", "whole number"),
]


@pytest.mark.parametrize(("name", "changes", "field", "words"), BAD)
def test_bad_entries_are_refused_naming_the_field(name, changes, field, words):
    with pytest.raises(ValidationError) as caught:
        SIGNAL_KINDS[name].config({**EXAMPLES[name], **changes})
    errors = caught.value.errors()
    assert [e["loc"][0] for e in errors] == [field], errors
    assert words in errors[0]["msg"]


def test_whole_numbers_from_a_sweep_range_and_defaults_that_follow_the_other_bound():
    assert SIGNAL_KINDS["donchian"].config({**EXAMPLES["donchian"], "entry": 20.0}).entry == 20
    rsi = SIGNAL_KINDS["rsi"].params({"type": "rsi", "series": "SPY", "window": 14, "enter": 70})
    assert rsi == {"window": 14, "enter": 70.0, "exit": None}  # exit follows enter when swept
    level = SIGNAL_KINDS["level"].params({"type": "level", "series": "^VIX", "above": 25})
    assert level == {"above": 25.0, "below": None}


# ---------------------------------------------------------------- compatibility


def test_the_single_forms_equal_the_registry():
    x = series([10, 11, 12, 11, 13, 12, 10, 9, 11, 12])
    assert SIGNAL_KINDS["sma"](x, window=3, band=0.0).equals(signals.sma(x, 3))
    assert SIGNAL_KINDS["donchian"](x, entry=2, exit=2).equals(signals.donchian(x, 2, 2))
    on = signals.hysteresis(np.array([F, T, F, F]), np.array([F, F, F, T]))
    assert on.tolist() == [F, T, T, F]


# ---------------------------------------------------------------- real prices

REAL = [  # entries run on ../shared/data, registry against the reference
    {"type": "rsi", "series": "SPY", "window": 14, "enter": 70, "exit": 30},
    {"type": "rsi", "series": "BTC-USD", "window": 2, "enter": 90, "exit": 10},
    {"type": "momentum", "series": "IWM/SPY", "lookback": 252, "band": 0.01},
    {
        "type": "momentum",
        "series": "IWM/SPY",
        "lookback": [21, 63, 126, 252],
        "weights": [1, 1, 2, 0.5],
        "threshold": 0.01,
    },
    {
        "type": "correlation",
        "series": "SPY",
        "other": "BTC-USD",
        "window": 60,
        "above": 0.3,
        "below": 0.1,
    },
    {"type": "correlation", "series": "ETH-USD", "other": "BTC-USD", "window": 20, "above": 0.8},
    {"type": "level", "series": "^VIX", "above": 25, "below": 20},
    {"type": "donchian", "series": "IWM/SPY", "entry": 120, "exit": 60},
    {"type": "sma", "series": "ETH-USD", "window": 100, "band": 0.02},
    {"type": "crossover", "series": "SPY", "fast": 50, "slow": 200},
    {"type": "crossover", "series": "IWM/SPY", "fast": 20, "slow": 100, "average": "ema"},
    {"type": "crossover", "series": "BTC-USD", "fast": 10, "slow": 40, "band": 0.02},
]


def _reference_on(spec: dict, data) -> tuple[list, list | None, list[bool]]:
    """(dates, y or None for donchian/sma, booleans) by tests/reference.py."""
    kind = spec["type"]
    if kind == "correlation":
        a, b = data.get(spec["series"]), data.get(spec["other"])
        dates = reference.common_dates(a, b)
        x = [a.close[a.index[d]] for d in dates]
        z = [b.close[b.index[d]] for d in dates]
        return dates, reference.correlation_values(x, z, spec["window"]), data_signal(spec, data)
    closes = data.get(spec["series"])
    params = {k: v for k, v in spec.items() if k not in ("type", "series")}
    y = REFERENCE_VALUES[kind](closes.close, params) if kind in REFERENCE_VALUES else None
    return closes.dates, y, data_signal(spec, data)


def data_signal(spec: dict, data) -> list[bool]:
    return list(reference.compute_signal(spec, data)[1])


@pytest.mark.parametrize("spec", REAL, ids=lambda s: f"{s['type']}-{s['series']}")
def test_the_registry_equals_the_reference_on_real_prices(shared_data, spec):
    kind = SIGNAL_KINDS[spec["type"]]
    prices = {}
    for leg in kind.legs(spec):
        frame = pd.read_csv(shared_data / f"{leg}.csv", index_col="Date", parse_dates=True)
        prices[leg] = frame.rename(columns={"Close": "Raw", "Adj Close": "Close"})
    source, _ = kind.source(prices, spec)
    drawn = kind.lines(source, [kind.params(spec)])
    on = kind(source, **kind.params(spec))
    dates, y, expected = _reference_on(spec, reference.Data(shared_data, None))

    assert [d.date() for d in source.index] == dates
    assert on.tolist() == expected
    assert 0 < sum(expected) < len(expected)  # the signal does switch
    if y is not None:
        ours = drawn.value[:, 0]
        theirs = np.array([np.nan if v is None else v for v in y])
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True)


# ---------------------------------------------------------------- the shared machinery


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hysteresis_is_the_plain_state_machine_column_by_column_also_on_broadcast_views(data):
    bars = data.draw(st.integers(0, 40))
    sets = data.draw(st.integers(1, 5))
    flags = st.lists(st.booleans(), min_size=bars * sets, max_size=bars * sets)
    turn_on = np.array(data.draw(flags), dtype=bool).reshape(bars, sets)
    turn_off = np.array(data.draw(flags), dtype=bool).reshape(bars, sets)
    if data.draw(st.booleans()):  # one column seen K times: a read-only view of stride 0
        turn_on = np.broadcast_to(turn_on[:, :1], (bars, sets))
    expected = np.zeros((bars, sets), dtype=bool)
    for k in range(sets):
        state = False
        for t in range(bars):
            state = True if turn_on[t, k] else False if turn_off[t, k] else state
            expected[t, k] = state
    assert np.array_equal(signals.hysteresis(turn_on, turn_off), expected)
    one = signals.hysteresis(turn_on[:, 0], turn_off[:, 0])
    assert one.shape == (bars,) and np.array_equal(one, expected[:, 0])


def test_blocks_of_sets_share_each_rolling_window_once_and_get_the_same_lines():
    from strategies.signals.windows import rolling, shared_windows

    x = series([10, 11, 12, 11, 13, 12, 10, 9, 11, 12, 14, 13])
    alone = rolling(x, [3, 5], "max", shift=1)
    with shared_windows():
        first = rolling(x, [3, 5], "max", shift=1)
        second = rolling(x, [5, 7], "max", shift=1)
        other = rolling(x.copy(), [5], "max", shift=1)  # another input: its own windows
    assert second[5] is first[5] and other[5] is not first[5]
    assert rolling(x, [5], "max", shift=1)[5] is not first[5]  # nothing kept outside
    for n in (3, 5):
        np.testing.assert_array_equal(first[n], alone[n])
        assert not first[n].flags.writeable  # shared: nobody may change it
    entries, exits = [3, 5, 3, 7, 5], [2, 2, 4, 4, 6]
    sets = [{"entry": e, "exit": m} for e, m in zip(entries, exits, strict=True)]
    whole = signals.switch(SIGNAL_KINDS["donchian"].lines(x, sets))
    with shared_windows():
        blocks = [
            signals.switch(SIGNAL_KINDS["donchian"].lines(x, sets[i : i + 2])) for i in (0, 2, 4)
        ]
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)
