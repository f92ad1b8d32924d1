"""Look-ahead audit (engine/audit.py, `rotation audit`): the ready configs audit clean;
planted leaks, in a signal or in the engine, are caught and named."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import engine.schedule
import strategies.signals
from engine.audit import audit, noise, perturbed
from engine.cli import main
from engine.config import config_from_dict, load_config
from engine.data import CsvSource
from tests.conftest import CONFIGS

READY = sorted(p.name for p in CONFIGS.glob("*.yaml"))


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def leaky_sma(x, window, band=0.0):
    """An sma signal that reads tomorrow's value: on_t uses x_{t+1}."""
    return strategies.signals.sma(x.shift(-1).fillna(x), window, band)


def leaky_donchian(x, entry, exit):
    return strategies.signals.donchian(x.shift(-1).fillna(x), entry, exit)


@pytest.mark.parametrize("name", READY)
def test_ready_configs_audit_clean(shared_data, name):
    config = load_config(CONFIGS / name, source="csv", dir=shared_data)
    began = time.perf_counter()
    report = audit(config, CsvSource(shared_data), cuts=5, seed=0)
    assert report.clean, report.as_dict()
    assert len(report.cuts) == 5 and all(c.bars_changed > 0 for c in report.cuts)
    assert time.perf_counter() - began < 20  # ~1 s on a 2-core machine (once vectorbt is warm)


def test_cli_exit_code_0_when_clean(shared_data):
    result = invoke(
        "audit",
        CONFIGS / "smallcap_breakout_eth.yaml",
        "--data-dir",
        shared_data,
        "--cuts",
        "3",
        "--seed",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "Look-ahead audit: clean" in result.output and "nothing changed" in result.output


def test_a_signal_reading_tomorrows_close_is_caught_and_named(shared_data, monkeypatch):
    monkeypatch.setitem(strategies.signals.SIGNAL_KINDS, "sma", leaky_sma)
    result = invoke("audit", CONFIGS / "smallcap_breakout_eth.yaml", "--data-dir", shared_data)
    assert result.exit_code == 1, result.output
    assert "Look-ahead audit: LEAKS" in result.output
    assert "Look-ahead: signal eth_risk_on changed on" in result.output
    # as JSON: the first leak is the sma signal, on the cut date itself (a one-bar peek)
    as_json = invoke(
        "audit", CONFIGS / "smallcap_breakout_eth.yaml", "--data-dir", shared_data, "--json"
    )
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    leak = report["first_leak"]
    assert report["clean"] is False and leak["signals"] == ["eth_risk_on"]
    assert leak["first_date"] == leak["cut"]
    # the untouched donchian signal never shows up
    assert all("ratio_breakout" not in c["signals"] for c in report["cuts"])


@pytest.mark.parametrize("seed", range(4))
def test_a_one_bar_peek_is_caught_whatever_the_seed(shared_data, monkeypatch, seed):
    """The antithetic pair of futures (moved up, then down) makes a one-bar peek flip."""
    monkeypatch.setitem(strategies.signals.SIGNAL_KINDS, "donchian", leaky_donchian)
    config = load_config(CONFIGS / "smallcap_breakout.yaml", source="csv", dir=shared_data)
    report = audit(config, CsvSource(shared_data), cuts=5, seed=seed)
    assert not report.clean
    assert report.first_leak.signals == ["ratio_breakout"]


def test_a_leak_in_the_engine_is_caught_without_a_signal_to_blame(shared_data, monkeypatch):
    """Trading on the target decided the day after (no signal reads the future)."""
    real = engine.schedule.prior_targets

    def tomorrow(targets, backtest, default):
        return real(targets.shift(-2).ffill(), backtest, default)

    monkeypatch.setattr(engine.schedule, "prior_targets", tomorrow)
    result = invoke(
        "audit", CONFIGS / "smallcap_breakout_eth.yaml", "--data-dir", shared_data, "--json"
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    leak = report["first_leak"]
    assert leak["signals"] == [] and "orders" in leak["items"]


def test_noise_rewrites_exactly_the_bars_final_after_the_cut():
    """Equity bars dated after t, crypto bars dated t or later (final at 00:00 UTC of the
    next day, after the 16:00 New York close); whole bars scaled: positive, consistent."""
    days = pd.date_range("2024-03-01", "2024-03-20")
    equity_days = days[days.day_of_week < 5]

    def bars(index):
        close = np.linspace(100, 120, len(index))
        return pd.DataFrame(
            {
                "Open": close * 0.99,
                "High": close * 1.02,
                "Low": close * 0.97,
                "Close": close,
                "Volume": 1.0,
            },
            index=index,
        )

    prices = {"AAA": bars(equity_days), "ETH-USD": bars(days)}
    config = config_from_dict(
        {
            "name": "n",
            "data": {"start": "2024-03-04"},
            "universe": ["AAA"],
            "regimes": [{"name": "all", "weights": {"AAA": 1.0}}],
            "benchmark": {"AAA": 1.0},
        }
    )
    from engine import calendar

    t = pd.Timestamp("2024-03-12")
    instant = int(calendar.ticker_close_instants("AAA", pd.DatetimeIndex([t]), {})[0])
    factors = noise(prices, config, instant, np.random.default_rng(0))
    assert np.array_equal(factors["AAA"] != 0, equity_days > t)
    assert np.array_equal(factors["ETH-USD"] != 0, days >= t)
    for sign in (1.0, -1.0):
        moved = perturbed(prices, factors, sign)
        for ticker, frame in moved.items():
            assert (frame[["Open", "High", "Low", "Close"]] > 0).all().all()
            assert (frame["High"] >= frame[["Open", "Close"]].max(axis=1)).all()
            assert (frame["Low"] <= frame[["Open", "Close"]].min(axis=1)).all()
            before = prices[ticker].index[factors[ticker] == 0]
            pd.testing.assert_frame_equal(frame.loc[before], prices[ticker].loc[before])
