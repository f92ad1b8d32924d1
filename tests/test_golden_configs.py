"""Every ready config, run by the engine on ../shared/data, equals an independent
plain-loop implementation of SPEC.md (tests/reference.py) day by day and stat by stat."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.config import config_from_dict, with_overrides
from engine.data import CsvSource
from engine.runner import run_backtest
from tests.conftest import CONFIGS
from tests.reference import reference_backtest

READY = sorted(p.name for p in CONFIGS.glob("*.yaml"))
VALUE_TOL = 1e-10  # SPEC: two correct implementations agree to floating-point noise
STAT_TOL = 1e-9


def _raw(name: str, data_dir) -> dict:
    raw = yaml.safe_load((CONFIGS / name).read_text())
    raw["data"] = {**raw["data"], "source": "csv", "dir": str(data_dir)}
    return raw


def _variant(name: str, data_dir, **changes) -> dict:
    raw = copy.deepcopy(_raw(name, data_dir))
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        raw[section][key] = value
    return raw


def _assert_close(ours, theirs, where: str) -> None:
    if isinstance(theirs, dict):
        for key, value in theirs.items():
            _assert_close(ours[key], value, f"{where}.{key}")
        return
    if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        assert ours is None or math.isnan(ours), where
        return
    assert ours == pytest.approx(theirs, rel=STAT_TOL, abs=1e-12), where


def _check(raw: dict, data_dir, config_dir=None) -> None:
    """The engine's run of `raw` equals the reference's (`config_dir`: the folder the
    config's external series files are relative to)."""
    expected = reference_backtest(copy.deepcopy(raw), data_dir, config_dir)
    if config_dir is not None:
        raw = with_overrides(raw, Path(config_dir) / "config.yaml")
    result = run_backtest(config_from_dict(raw), CsvSource(data_dir))

    assert [d.date() for d in result.dates] == [d.date() for d in expected["dates"]]
    np.testing.assert_allclose(result.strategy.value, expected["strategy"], rtol=VALUE_TOL)
    np.testing.assert_allclose(result.benchmark.value, expected["benchmark"], rtol=VALUE_TOL)
    assert result.regimes.reindex(result.dates).tolist() == expected["regimes"]

    for portfolio, sim in (("strategy", result.strategy), ("benchmark", result.benchmark)):
        theirs = [t for t in expected["trades"] if t["portfolio"] == portfolio]
        ours = sim.trades
        assert len(ours) == len(theirs), portfolio
        for row, trade in zip(ours.itertuples(), theirs, strict=True):
            assert (row.date.date(), row.ticker) == (trade["date"].date(), trade["ticker"])
            # A small rebalance is a difference of two large holdings: its noise is
            # relative to the portfolio's value, not to the quantity itself.
            noise = VALUE_TOL * sim.value.loc[row.date] / row.fill_price
            assert row.quantity == pytest.approx(trade["quantity"], rel=VALUE_TOL, abs=noise)
            assert row.fill_price == pytest.approx(trade["fill_price"], rel=VALUE_TOL)
            assert row.fees == pytest.approx(trade["fees"], rel=VALUE_TOL, abs=1e-12)

    for part in ("strategy", "benchmark", "relative"):
        _assert_close(result.stats[part], expected["stats"][part], part)


@pytest.mark.parametrize("name", READY)
def test_ready_config_matches_independent_reference(name, shared_data):
    _check(_raw(name, shared_data), shared_data)


@pytest.mark.parametrize(
    "changes",
    [
        {"execution__rebalance": {"threshold": 0.05}, "execution__fees_bps": 10},
        {"execution__rebalance": {"threshold": 0.02}, "execution__timing": "next_open"},
        {"execution__rebalance": "monthly", "execution__slippage_bps": 25},
        {"stats__risk_free": 0.03, "data__start": "2020-03-02", "data__end": "2024-12-31"},
    ],
    ids=["threshold-fees", "threshold-open", "monthly-slippage", "risk-free-window"],
)
def test_variants_match_independent_reference(changes, shared_data):
    _check(_variant("smallcap_breakout_eth.yaml", shared_data, **changes), shared_data)


def test_crypto_universe_matches_reference_with_365_periods(shared_data):
    raw = {
        "name": "crypto-pair",
        "data": {
            "source": "csv",
            "dir": str(shared_data),
            "start": "2019-01-01",
            "end": "2024-12-31",
        },
        "universe": ["BTC-USD", "ETH-USD"],
        "signals": {
            "eth_trend": {"type": "sma", "series": "ETH-USD/BTC-USD", "window": 50, "band": 0.01}
        },
        "regimes": [
            {"name": "eth", "when": "eth_trend", "weights": {"ETH-USD": 0.8}},
            {"name": "btc", "weights": {"BTC-USD": 0.8}},
        ],
        "execution": {"fees_bps": 10, "slippage_bps": 5},
        "benchmark": {"BTC-USD": 1.0},
    }
    _check(raw, shared_data)
    result = run_backtest(config_from_dict(raw), CsvSource(shared_data))
    assert result.stats["period"]["periods_per_year"] == 365
