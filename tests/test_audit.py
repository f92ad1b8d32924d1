"""Look-ahead audit (engine/research/audit.py, `rotation audit`): the ready configs audit clean;
planted leaks, in a signal or in the engine, are caught and named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import engine.sim.schedule
from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource
from engine.research.audit import audit, bars_after, perturbed, random_walks
from strategies.signals import SIGNAL_KINDS
from tests.conftest import CONFIGS

READY = sorted(p.name for p in CONFIGS.glob("*.yaml"))


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def leaky(name: str):
    """The registered kind `name`, made to read tomorrow's value: y_t uses x_{t+1}."""
    honest = SIGNAL_KINDS[name]

    class Leaky(type(honest)):
        def lines(self, input, params_list):
            return super().lines(input.shift(-1).fillna(input), params_list)

    return Leaky()


@pytest.mark.parametrize("name", READY)
def test_ready_configs_audit_clean(shared_data, name):
    config = load_config(CONFIGS / name, source="csv", dir=shared_data)
    report = audit(config, CsvSource(shared_data), cuts=5, seed=0)
    assert report.clean, report.as_dict()
    assert len(report.cuts) == 5 and all(c.bars_changed > 0 for c in report.cuts)


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
    monkeypatch.setitem(SIGNAL_KINDS, "sma", leaky("sma"))
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
    monkeypatch.setitem(SIGNAL_KINDS, "donchian", leaky("donchian"))
    config = load_config(CONFIGS / "smallcap_breakout.yaml", source="csv", dir=shared_data)
    report = audit(config, CsvSource(shared_data), cuts=5, seed=seed)
    assert not report.clean
    assert report.first_leak.signals == ["ratio_breakout"]


def test_a_leak_in_the_engine_is_caught_without_a_signal_to_blame(shared_data, monkeypatch):
    """Trading on the target decided the day after (no signal reads the future)."""
    real = engine.sim.schedule.base_orders

    def tomorrow(prior, rebalance):
        # prior at u is the target decided on the date before u; shifted, the one after u
        return real(prior.shift(-2).ffill(), rebalance)

    monkeypatch.setattr(engine.sim.schedule, "base_orders", tomorrow)
    result = invoke(
        "audit", CONFIGS / "smallcap_breakout_eth.yaml", "--data-dir", shared_data, "--json"
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    leak = report["first_leak"]
    assert leak["signals"] == [] and "orders" in leak["items"]


def _bars(index: pd.DatetimeIndex) -> pd.DataFrame:
    close = np.linspace(100, 120, len(index))
    return pd.DataFrame(
        {"Open": close * 0.99, "High": close * 1.02, "Low": close * 0.97, "Close": close},
        index=index,
    ).assign(Volume=1.0)


def test_bars_after_a_cut_are_chosen_by_label_date():
    """Equity bars dated after t; crypto bars dated t or later (the UTC day of t is still
    running at the equity close), or only after t when a crypto asset is traded (the close
    of t is then the end of that UTC day). No config close time enters the choice."""
    days = pd.date_range("2024-03-01", "2024-03-20")
    equity_days = days[days.day_of_week < 5]
    prices = {"AAA": _bars(equity_days), "ETH-USD": _bars(days)}
    t = pd.Timestamp("2024-03-12")
    later = bars_after(prices, ["AAA"], t)
    assert np.array_equal(later["AAA"], equity_days > t)
    assert np.array_equal(later["ETH-USD"], days >= t)
    crypto_traded = bars_after(prices, ["AAA", "ETH-USD"], t)
    assert np.array_equal(crypto_traded["AAA"], equity_days > t)
    assert np.array_equal(crypto_traded["ETH-USD"], days > t)


def test_noise_is_positive_consistent_and_leaves_the_past_alone():
    """Whole bars scaled by one positive factor: OHLC stays ordered; untouched bars equal."""
    days = pd.date_range("2024-03-01", "2024-03-20")
    prices = {"AAA": _bars(days[days.day_of_week < 5]), "ETH-USD": _bars(days)}
    later = bars_after(prices, ["AAA"], pd.Timestamp("2024-03-12"))
    factors = random_walks(later, np.random.default_rng(0))
    for ticker in prices:
        assert np.array_equal(factors[ticker] != 0, later[ticker])
    for sign in (1.0, -1.0):
        moved = perturbed(prices, factors, sign)
        for ticker, frame in moved.items():
            assert (frame[["Open", "High", "Low", "Close"]] > 0).all().all()
            assert (frame["High"] >= frame[["Open", "Close"]].max(axis=1)).all()
            assert (frame["Low"] <= frame[["Open", "Close"]].min(axis=1)).all()
            before = prices[ticker].index[factors[ticker] == 0]
            pd.testing.assert_frame_equal(frame.loc[before], prices[ticker].loc[before])
