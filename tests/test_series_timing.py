"""When an external series' value is usable (docs/series.md, SPEC 12): hand-computed
scenarios on a tiny market, and the engine against the plain-loop reference
(tests/reference.py) for a ratio of an external series with a ticker. Every series
here is synthetic, written by the test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.config import config_from_dict, with_overrides
from engine.data import CsvSource, MemorySource
from engine.runner import run_backtest
from tests.series_data import write_series
from tests.test_golden_configs import _check

DAYS = pd.bdate_range("2023-11-01", "2024-05-31")  # Monday to Friday, closes 16:00 New York


def flat_market(days: pd.DatetimeIndex = DAYS) -> dict[str, pd.DataFrame]:
    frames = {}
    for ticker, step in (("AAA", 0.002), ("BBB", -0.001)):
        close = 100 * np.exp(step * np.arange(len(days)))
        frames[ticker] = pd.DataFrame(
            {"Open": close, "High": close, "Low": close, "Close": close, "Volume": 1.0},
            index=pd.DatetimeIndex(days, name="date"),
        )
    return frames


def cheap_signal(tmp_path, dates, values, lag: int) -> pd.Series:
    """The aligned state of `cheap` (PE above 20) on the trading dates, PE read from a
    file of `dates` and `values` with release lag `lag`."""
    path = write_series(tmp_path / "PE.csv", dates, values)
    raw = {
        "name": "timing",
        "data": {"source": "csv", "dir": str(tmp_path), "start": "2023-11-01"},
        "universe": ["AAA", "BBB"],
        "data_series": None,
        "signals": {"cheap": {"type": "level", "series": "PE", "above": 20}},
        "regimes": [
            {"name": "a", "when": "cheap", "weights": {"AAA": 1.0}},
            {"name": "b", "weights": {"BBB": 1.0}},
        ],
        "benchmark": {"AAA": 1.0},
    }
    del raw["data_series"]
    raw["data"]["series"] = {"PE": {"file": str(path), "lag_days": lag}}
    result = run_backtest(config_from_dict(raw), MemorySource(flat_market()))
    return result.signals["cheap"]


def on_dates(signal: pd.Series) -> tuple[str, str]:
    """(first, last) date on which the signal is on (it is on for one run of dates)."""
    on = signal[signal].index
    assert len(on) and (signal.loc[on[0] : on[-1]]).all()
    return str(on[0].date()), str(on[-1].date())


def test_a_monthly_value_is_usable_from_the_first_close_at_or_after_its_release(tmp_path):
    # value    dated       released (lag 15, 16:00 NY)     state from that close
    # 10       2023-12-31  2024-01-15 Mon                  off (10 < 20)
    # 30       2024-01-31  2024-02-15 Thu, = its close     on from 2024-02-15 (not 02-14)
    # 10       2024-02-29  2024-03-15 Fri                  off from 2024-03-15
    dates = ["2023-12-31", "2024-01-31", "2024-02-29"]
    signal = cheap_signal(tmp_path, dates, [10, 30, 10], lag=15)
    assert on_dates(signal) == ("2024-02-15", "2024-03-14")


def test_a_release_on_a_weekend_is_first_read_at_the_next_close(tmp_path):
    # value    dated       released (lag 16)              state from that close
    # 30       2024-01-31  2024-02-16 Fri                  on from 2024-02-16
    # 10       2024-02-29  2024-03-16 Sat                  off from Monday 2024-03-18
    dates = ["2023-12-31", "2024-01-31", "2024-02-29"]
    signal = cheap_signal(tmp_path, dates, [10, 30, 10], lag=16)
    assert on_dates(signal) == ("2024-02-16", "2024-03-15")
    assert not signal.loc["2024-03-18"]


def test_an_empty_cell_drops_its_value_and_the_one_before_stays_in_force(tmp_path):
    # value    dated       released (lag 15)              state
    # 30       2024-01-31  2024-02-15 Thu                  on from 2024-02-15
    # (empty)  2024-02-29  -                               dropped: still on on 2024-03-15
    # 10       2024-03-31  2024-04-15 Mon                  off from 2024-04-15
    dates = ["2023-12-31", "2024-01-31", "2024-02-29", "2024-03-31"]
    signal = cheap_signal(tmp_path, dates, [10, 30, None, 10], lag=15)
    assert on_dates(signal) == ("2024-02-15", "2024-04-12")


def test_lag_zero_is_usable_at_the_close_of_the_values_own_date(tmp_path):
    # value 30 dated Thursday 2024-02-15, lag 0: final at 16:00 New York that day, the
    # equity close itself: on from 2024-02-15; value 10 dated 2024-03-01 (Fri): off from it
    signal = cheap_signal(tmp_path, ["2024-01-02", "2024-02-15", "2024-03-01"], [10, 30, 10], 0)
    assert on_dates(signal) == ("2024-02-15", "2024-02-29")


# ---------------------------------------------------------------- against the reference


def write_market(folder, seed: int) -> None:
    """Random-walk CSV prices of AAA and BBB on every weekday of 2021-2023."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2021-01-04", "2023-12-29")
    for ticker, vol in (("AAA", 0.012), ("BBB", 0.01)):
        close = 50 * np.exp(np.cumsum(rng.normal(0.0002, vol, len(days))))
        frame = pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Open": close * 0.999})
        frame = frame.assign(High=close * 1.01, Low=close * 0.99, Close=close, Volume=1e6)
        frame.to_csv(folder / f"{ticker}.csv", index=False)


KINDS = {
    "donchian": {"series": "RATE", "entry": 20, "exit": 10},
    "sma": {"series": "RATE/PE", "window": 6},
    "momentum": {"series": "PE", "lookback": 3, "band": 0.01},
    "rsi": {"series": "RATE", "window": 14, "enter": 60, "exit": 40},
    "level": {"series": "PE/RATE", "above": 7.5, "below": 6.5},
    "correlation": {"series": "RATE", "other": "AAA", "window": 20, "above": 0.1, "below": -0.1},
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_signal_kind_applies_to_an_external_series(tmp_path, kind):
    """Each kind on RATE (weekdays with gaps, lag 1), PE (month-ends, lag 20) or a ratio
    of them, equal to the reference day by day, and turning on and off."""
    raw = write_rate_case(tmp_path, 3)
    raw["signals"] = {"x": {"type": kind, **KINDS[kind]}}
    raw["regimes"] = [
        {"name": "a", "when": "x", "weights": {"AAA": 1.0}},
        {"name": "b", "weights": {"BBB": 1.0}},
    ]
    _check(raw, tmp_path, config_dir=tmp_path)
    config = config_from_dict(with_overrides(raw, tmp_path / "config.yaml"))
    on = run_backtest(config, CsvSource(tmp_path)).signals["x"].loc["2021-03-01":]
    assert on.any() and not on.all()


def write_rate_case(folder, seed: int) -> dict:
    """The market, RATE (synthetic, every weekday with gaps and empty cells, lag 1) and PE
    (synthetic, month-ends, lag 20) files in `folder`, and a config reading them."""
    write_market(folder, seed)
    rng = np.random.default_rng(seed + 10)
    days = pd.bdate_range("2020-06-01", "2023-12-29")
    days = days.delete(rng.choice(len(days), 40, replace=False))
    rate = np.round(2 + np.cumsum(rng.normal(0, 0.05, len(days))), 4).tolist()
    for i in rng.choice(len(days), 5, replace=False):
        rate[i] = None  # empty cells
    write_series(folder / "series" / "RATE.csv", days, rate, column="DGS")
    months = pd.date_range("2020-01-31", "2023-12-31", freq="ME")
    write_series(folder / "series" / "PE.csv", months, 15 + 3 * np.sin(np.arange(len(months)) / 4))
    return {
        "name": "external",
        "data": {
            "source": "csv",
            "dir": str(folder),
            "start": "2021-03-01",
            "series": {
                "RATE": {"file": "series/RATE.csv", "column": "DGS", "lag_days": 1},
                "PE": {"file": "series/PE.csv", "lag_days": 20},
            },
        },
        "universe": ["AAA", "BBB"],
        "execution": {"fees_bps": 5, "slippage_bps": 2},
        "benchmark": {"AAA": 1.0},
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_a_ratio_of_an_external_series_with_a_ticker_equals_the_reference(tmp_path, seed):
    """RATE (synthetic, every weekday with some gaps and empty cells, lag 1) divided by AAA
    on the dates both have; a momentum on RATE alone; a level on RATE/PE (a second,
    month-end series with lag 20) too."""
    raw = write_rate_case(tmp_path, seed)
    raw |= {
        "signals": {
            "rate_vs_stock": {"type": "momentum", "series": "RATE/AAA", "lookback": 20},
            "rates_rising": {"type": "sma", "series": "RATE", "window": 30, "band": 0.01},
            "yield_gap": {"type": "level", "series": "RATE/PE", "above": 0.21, "below": 0.18},
        },
        "regimes": [
            {"name": "a", "when": "rate_vs_stock and not rates_rising", "weights": {"AAA": 1}},
            {"name": "b", "when": "yield_gap", "weights": {"AAA": 0.5, "BBB": 0.5}},
            {"name": "c", "weights": {"BBB": 1.0}},
        ],
    }
    _check(raw, tmp_path, config_dir=tmp_path)
    # guard: every signal turns on and off in the backtest (the comparison is not vacuous)
    config = config_from_dict(with_overrides(raw, tmp_path / "config.yaml"))
    signals = run_backtest(config, CsvSource(tmp_path)).signals.loc["2021-03-01":]
    assert (signals.astype(int).diff().abs().sum() > 0).all(), signals.sum()
