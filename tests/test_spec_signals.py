"""SPEC 3: the `donchian` and `sma` signals on tiny hand-made series.

Every expected boolean is worked out by hand in a comment on its row:
`hi`/`lo` are the prior-value channels of donchian, `s` the moving average of
sma. Hypothesis then checks two properties on random series: the value at `t`
depends only on `x` up to `t`, and the engine agrees with a plain loop written
here straight from the SPEC text.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.signals import donchian, sma

F, T = False, True


def series(values) -> pd.Series:
    """A close series on business days (the calendar does not matter to a signal)."""
    index = pd.bdate_range("2024-01-02", periods=len(values), name="date")
    return pd.Series(np.asarray(values, dtype=float), index=index, name="x")


def rows_to_series(rows):
    """Split a table of (x, expected) rows into the input series and the expected booleans."""
    x = series([value for value, _ in rows])
    expected = pd.Series([on for _, on in rows], index=x.index, name="x", dtype=bool)
    return x, expected


def check(result: pd.Series, expected: pd.Series) -> None:
    assert result.dtype == bool
    assert result.index.equals(expected.index)
    assert result.tolist() == expected.tolist()


# ---------------------------------------------------------------- donchian


def test_donchian_breakout_hysteresis_and_exit_below_prior_low():
    # entry n=3: hi_t = max(x_{t-3}..x_{t-1});  exit m=2: lo_t = min(x_{t-2}..x_{t-1})
    rows = [
        (10.0, F),  # t0: hi undefined                                  -> False
        (11.0, F),  # t1: hi undefined (rising, still False)            -> False
        (12.0, F),  # t2: hi undefined (needs 3 prior values)           -> False
        (13.0, T),  # t3: hi=max(10,11,12)=12, 13 > 12: breakout        -> True
        (12.5, T),  # t4: hi=13, lo=min(12,13)=12, 12 <= 12.5 <= 13     -> hold True
        (12.6, T),  # t5: hi=max(12,13,12.5)=13, lo=min(13,12.5)=12.5   -> hold True
        (12.4, F),  # t6: lo=min(12.5,12.6)=12.5, 12.4 < 12.5: exit     -> False
        (11.0, F),  # t7: hi=12.6, lo=12.4, 11 < 12.4                   -> False
        (11.5, F),  # t8: hi=max(12.6,12.4,11)=12.6, lo=min(12.4,11)=11 -> hold False
        (12.0, F),  # t9: hi=max(12.4,11,11.5)=12.4, lo=11              -> hold False
        (13.5, T),  # t10: hi=max(11,11.5,12)=12, 13.5 > 12             -> True again
    ]
    x, expected = rows_to_series(rows)
    check(donchian(x, entry=3, exit=2), expected)


def test_donchian_equal_to_the_channel_is_neither_entry_nor_exit():
    # entry n=2, exit m=2: the comparisons are strict.
    rows = [
        (5.0, F),  # t0: hi undefined
        (6.0, F),  # t1: hi undefined (needs 2 prior values)
        (6.0, F),  # t2: hi=max(5,6)=6, 6 is not > 6: no breakout           -> hold False
        (7.0, T),  # t3: hi=max(6,6)=6, 7 > 6                               -> True
        (6.0, T),  # t4: hi=7, lo=min(6,7)=6, 6 is not < 6: no exit         -> hold True
        (5.9, F),  # t5: lo=min(7,6)=6, 5.9 < 6                             -> False
    ]
    x, expected = rows_to_series(rows)
    check(donchian(x, entry=2, exit=2), expected)


def test_donchian_is_false_until_the_entry_channel_is_defined():
    # entry n=4, exit m=1. The series rises every bar, but hi needs 4 prior values.
    rows = [
        (1.0, F),  # t0: hi undefined
        (2.0, F),  # t1: hi undefined, although 2 > every prior value
        (3.0, F),  # t2: hi undefined
        (4.0, F),  # t3: hi undefined
        (5.0, T),  # t4: hi=max(1,2,3,4)=4, 5 > 4                           -> True
        (4.5, F),  # t5: lo=min(5)=5, 4.5 < 5                               -> False
    ]
    x, expected = rows_to_series(rows)
    check(donchian(x, entry=4, exit=1), expected)


def test_donchian_exit_cannot_fire_before_the_exit_channel_is_defined():
    # entry n=1, exit m=3: hi is defined from t1, lo only from t3.
    rows = [
        (5.0, F),  # t0: hi undefined
        (6.0, T),  # t1: hi=5, 6 > 5                                          -> True
        (5.5, T),  # t2: hi=6, lo undefined (2 prior values < 3): no exit     -> hold True
        (5.8, T),  # t3: hi=5.5, 5.8 > 5.5                                    -> True
        (4.0, F),  # t4: hi=5.8, lo=min(6,5.5,5.8)=5.5, 4 < 5.5               -> False
    ]
    x, expected = rows_to_series(rows)
    check(donchian(x, entry=1, exit=3), expected)


# ---------------------------------------------------------------- sma


def test_sma_band_holds_the_state_inside_the_band():
    # window n=3, band b=0.1: on if x > 1.1 s, off if x < 0.9 s, else hold.
    rows = [
        (10.0, F),  # t0: s undefined
        (10.0, F),  # t1: s undefined
        (10.0, F),  # t2: s=10, 9 <= 10 <= 11                            -> hold False
        (12.0, T),  # t3: s=(10+10+12)/3=10.667, 12 > 11.733              -> True
        (11.0, T),  # t4: s=(10+12+11)/3=11, 9.9 <= 11 <= 12.1             -> hold True
        (10.0, T),  # t5: s=(12+11+10)/3=11, 10 below s but >= 9.9         -> hold True
        (8.0, F),  # t6: s=(11+10+8)/3=9.667, 8 < 8.7                     -> False
        (9.0, F),  # t7: s=(10+8+9)/3=9, 8.1 <= 9 <= 9.9                   -> hold False
        (10.0, T),  # t8: s=(8+9+10)/3=9, 10 > 9.9                         -> True
        (12.0, T),  # t9: s=(9+10+12)/3=10.333, 12 > 11.367               -> True
    ]
    x, expected = rows_to_series(rows)
    check(sma(x, window=3, band=0.1), expected)


def test_sma_without_band_crosses_at_the_mean_and_holds_when_equal():
    # window n=2, band 0 (the default).
    rows = [
        (1.0, F),  # t0: s undefined
        (2.0, T),  # t1: s=1.5, 2 > 1.5                                   -> True
        (3.0, T),  # t2: s=2.5, 3 > 2.5                                   -> True
        (2.0, F),  # t3: s=2.5, 2 < 2.5                                   -> False
        (2.0, F),  # t4: s=2, x == s is neither above nor below           -> hold False
        (3.0, T),  # t5: s=2.5, 3 > 2.5                                   -> True
        (3.0, T),  # t6: s=3, x == s                                      -> hold True
    ]
    x, expected = rows_to_series(rows)
    check(sma(x, window=2), expected)  # band defaults to 0


def test_sma_is_false_until_the_mean_is_defined():
    # window n=3: the first two bars have no mean, however steep the rise.
    rows = [
        (1.0, F),  # t0: s undefined
        (5.0, F),  # t1: s undefined
        (9.0, T),  # t2: s=(1+5+9)/3=5, 9 > 5                             -> True
    ]
    x, expected = rows_to_series(rows)
    check(sma(x, window=3, band=0.0), expected)


def test_signals_keep_the_series_index():
    x = series([3.0, 1.0, 2.0, 5.0, 4.0])
    assert donchian(x, entry=2, exit=1).index.equals(x.index)
    assert sma(x, window=2).index.equals(x.index)


# ---------------------------------------------------------------- plain loops from the SPEC


def loop_donchian(x: list[float], entry: int, exit: int) -> list[bool]:
    """SPEC 3 donchian, one bar at a time."""
    out, on = [], False
    for t, value in enumerate(x):
        if t >= entry:  # hi_t is defined
            hi = max(x[t - entry : t])
            lo = min(x[t - exit : t]) if t >= exit else None
            if value > hi:
                on = True
            elif lo is not None and value < lo:
                on = False
        out.append(on)
    return out


def loop_sma(x: list[float], window: int, band: float) -> list[bool]:
    """SPEC 3 sma, one bar at a time (exact mean with math.fsum)."""
    out, on = [], False
    for t, value in enumerate(x):
        if t >= window - 1:  # s_t is defined
            s = math.fsum(x[t - window + 1 : t + 1]) / window
            if value > s * (1 + band):
                on = True
            elif value < s * (1 - band):
                on = False
        out.append(on)
    return out


# Small integers make ties (x equal to a channel or to the mean) frequent; integer
# sums are exact, so the mean is the same number however it is summed.
small_ints = st.lists(st.integers(1, 12).map(float), min_size=1, max_size=60)
any_prices = st.lists(
    st.floats(0.01, 1e4, allow_nan=False, allow_infinity=False), min_size=1, max_size=60
)
bands = st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.25])


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(x=st.one_of(small_ints, any_prices), entry=st.integers(1, 8), exit=st.integers(1, 8))
def test_donchian_matches_a_plain_loop(x, entry, exit):
    assert donchian(series(x), entry, exit).tolist() == loop_donchian(x, entry, exit)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(x=small_ints, window=st.integers(1, 8), band=bands)
def test_sma_matches_a_plain_loop(x, window, band):
    assert sma(series(x), window, band).tolist() == loop_sma(x, window, band)


@st.composite
def history_and_rewrite(draw):
    """A series, a cut `t`, and a different future after `t` (same length)."""
    x = draw(st.one_of(small_ints, any_prices).filter(lambda v: len(v) >= 2))
    t = draw(st.integers(0, len(x) - 2))
    future = draw(
        st.lists(
            st.floats(0.01, 1e4, allow_nan=False, allow_infinity=False),
            min_size=len(x) - t - 1,
            max_size=len(x) - t - 1,
        )
    )
    return x, t, x[: t + 1] + future


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(case=history_and_rewrite(), entry=st.integers(1, 8), exit=st.integers(1, 8))
def test_donchian_at_t_depends_only_on_values_up_to_t(case, entry, exit):
    x, t, rewritten = case
    before = donchian(series(x), entry, exit).iloc[: t + 1]
    after = donchian(series(rewritten), entry, exit).iloc[: t + 1]
    pd.testing.assert_series_equal(before, after)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(case=history_and_rewrite(), window=st.integers(1, 8), band=bands)
def test_sma_at_t_depends_only_on_values_up_to_t(case, window, band):
    x, t, rewritten = case
    before = sma(series(x), window, band).iloc[: t + 1]
    after = sma(series(rewritten), window, band).iloc[: t + 1]
    pd.testing.assert_series_equal(before, after)


@pytest.mark.parametrize("kind", ["donchian", "sma"])
def test_a_change_at_t_can_change_the_signal_at_t(kind):
    """Guard for the two properties above: the signals do react to the present bar."""
    flat = [10.0] * 6
    spike = flat[:-1] + [20.0]
    if kind == "donchian":
        assert donchian(series(spike), 3, 3).iloc[-1] and not donchian(series(flat), 3, 3).iloc[-1]
    else:
        assert sma(series(spike), 3).iloc[-1] and not sma(series(flat), 3).iloc[-1]
