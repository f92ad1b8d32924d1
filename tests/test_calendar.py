"""Close times: which tickers are crypto, and when their bars become final."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.calendar import close_instants, default_close_time, is_crypto


@pytest.mark.parametrize("ticker", ["BTC-USD", "ETH-EUR", "ETH-BTC", "SOL-USDT", "btc-usd"])
def test_yahoo_crypto_pairs_are_crypto(ticker):
    assert is_crypto(ticker)


@pytest.mark.parametrize("ticker", ["SPY", "BRK-B", "BF-A", "^GSPC", "EURUSD=X", "VOD.L"])
def test_share_classes_indices_and_fx_are_not_crypto(ticker):
    assert not is_crypto(ticker)


def test_a_crypto_bar_is_final_at_midnight_utc_after_its_day_any_quote_currency():
    friday = pd.DatetimeIndex(["2024-03-08"])
    for ticker in ("BTC-USD", "ETH-EUR"):
        instant = pd.Timestamp(close_instants(friday, default_close_time(ticker))[0], tz="UTC")
        assert instant == pd.Timestamp("2024-03-09 00:00", tz="UTC")


def test_an_equity_bar_is_final_at_four_in_new_york_across_dst():
    days = pd.DatetimeIndex(["2024-03-08", "2024-03-11"])  # EST, then EDT
    instants = pd.DatetimeIndex(close_instants(days, default_close_time("SPY")), tz="UTC")
    assert list(instants.hour) == [21, 20]
