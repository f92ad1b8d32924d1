"""Synthetic markets: seeded, deterministic daily bars for any tickers, no network, no files.

For demos, tests and benchmarks at scale. The numbers mean nothing about real
markets. The model, per calendar day ``d`` from `EPOCH`:

1. A two-state regime (calm, stress) follows a Markov chain shared by every
   ticker: calm lasts about three years on average, stress about four months.
   Stress raises volatility (x`STRESS_VOL` vs x`CALM_VOL`) and turns drifts negative.
2. Two common shocks, ``M`` (the equity market) and ``C`` (crypto), standard normal.
3. A ticker's log return is ``drift(regime)/365 + vol * mult(regime) / sqrt(365) * z``:
   equities ``z = sqrt(0.8) M + sqrt(0.2) e`` (pairwise correlation ~0.8), crypto
   ``z = a M + b C + sqrt(1 - a^2 - b^2) e`` with ``a = 0.4 / sqrt(0.8)`` (~0.3 with
   equities' weekly returns) and ``a^2 + b^2 = 0.7`` (~0.7 between coins); ``e`` is
   the ticker's own.
   Annual volatility is ~18% for equities and ~70% for crypto, scaled per ticker
   by 0.75..1.35 (drawn from the ticker's name).
4. Equities trade on NYSE sessions from `EQUITY_FROM` (a session's return is the sum
   since the previous session, so weekend news lands on Monday); ``*-USD`` every day
   from `CRYPTO_FROM`. Open, high, low and volume are drawn around the close.

Determinism: every random stream is a numpy ``Generator(PCG64)`` seeded by
``SeedSequence([seed, stream, year])`` where a ticker's stream number is a
sha256 of its name (never Python's ``hash()``), one stream per calendar year. A
ticker's bars therefore depend only on the seed and its name, not on which
other tickers are loaded, and a longer history does not change earlier bars.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.data.market_calendar import calendar_kind, sessions
from engine.data.validate import DEFAULT_CHECKS, Checks, clean
from engine.errors import DataError
from engine.limits import YEARS

EPOCH = pd.Timestamp("2000-01-01")
EQUITY_FROM = pd.Timestamp("2000-01-03")
CRYPTO_FROM = pd.Timestamp("2014-09-17")
DEFAULT_END = pd.Timestamp("2025-12-31")
CALM_VOL, STRESS_VOL = 0.8, 1.9
TO_STRESS, TO_CALM = 1 / 1100, 1 / 120  # daily switching probabilities
EQUITY = {"vol": 0.18, "calm": 0.11, "stress": -0.25, "load_m": np.sqrt(0.8), "load_c": 0.0}
_A = 0.4 / np.sqrt(0.8)
CRYPTO = {"vol": 0.70, "calm": 0.55, "stress": -0.90, "load_m": _A, "load_c": np.sqrt(0.7 - _A**2)}
_REGIME, _MARKET, _CRYPTO = 1, 2, 3  # stream numbers of the shared draws


def stable_hash(text: str) -> int:
    """A 63-bit number from `text` that is the same on every run and platform."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") >> 1


def _draws(
    seed: int,
    stream: int,
    first: pd.Timestamp,
    last: pd.Timestamp,
    width: int,
    uniform: bool = False,
) -> np.ndarray:
    """Standard normals (or uniforms), days x width, one generator per calendar year."""
    blocks = []
    for year in range(first.year, last.year + 1):
        days = pd.Timestamp(year, 12, 31).day_of_year
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, year])))
        blocks.append(rng.random((days, width)) if uniform else rng.standard_normal((days, width)))
    out = np.concatenate(blocks)
    offset = (first - pd.Timestamp(first.year, 1, 1)).days
    return out[offset : offset + (last - first).days + 1]


@lru_cache(maxsize=8)
def _shared(seed: int, last: pd.Timestamp) -> pd.DataFrame:
    """Per calendar day from EPOCH: stress (bool), market shock M, crypto shock C."""
    uniform = _draws(seed, _REGIME, EPOCH, last, 1, uniform=True)[:, 0]
    stress = np.zeros(len(uniform), dtype=bool)
    state = False
    for i, value in enumerate(uniform):
        if value < (TO_CALM if state else TO_STRESS):
            state = not state
        stress[i] = state
    market = _draws(seed, _MARKET, EPOCH, last, 1)[:, 0]
    crypto = _draws(seed, _CRYPTO, EPOCH, last, 1)[:, 0]
    days = pd.date_range(EPOCH, last, freq="D")
    return pd.DataFrame({"stress": stress, "M": market, "C": crypto}, index=days)


def synthetic_bars(ticker: str, seed: int = 0, end: dt.date | None = None) -> pd.DataFrame:
    """Daily adjusted bars of `ticker` (engine shape) from its first date to `end`."""
    if end is not None and end.year > YEARS[1]:
        raise DataError(
            f"data.end {end} is after {YEARS[1]}: synthetic markets end by {YEARS[1]}; "
            "set an earlier data.end"
        )
    last = max(pd.Timestamp(end), DEFAULT_END) if end else DEFAULT_END
    kind = calendar_kind(ticker)
    spec = CRYPTO if kind == "crypto" else EQUITY
    first = CRYPTO_FROM if kind == "crypto" else EQUITY_FROM
    shared = _shared(seed, last).loc[first:]
    own = stable_hash(ticker)
    noise = _draws(seed, own, first, last, 5)  # idiosyncratic, open, high, low, volume
    scale = 0.75 + 0.6 * ((own >> 8) % 1000) / 1000
    vol = spec["vol"] * scale * np.where(shared["stress"], STRESS_VOL, CALM_VOL)
    drift = np.where(shared["stress"], spec["stress"], spec["calm"])
    idio = np.sqrt(max(0.0, 1 - spec["load_m"] ** 2 - spec["load_c"] ** 2))
    z = spec["load_m"] * shared["M"] + spec["load_c"] * shared["C"] + idio * noise[:, 0]
    daily = drift / 365 - vol**2 / 730 + vol / np.sqrt(365) * z.to_numpy()
    start_price = (20 if kind != "crypto" else 200) * (1 + (own >> 20) % 50)
    log_close = np.log(start_price) + np.cumsum(daily)
    days = sessions(kind, first, last)
    at = shared.index.get_indexer(days)
    return _bars(days, log_close[at], noise[at], vol[at] / np.sqrt(365), kind == "crypto")


def _bars(days, log_close, noise, day_vol, crypto: bool) -> pd.DataFrame:
    close = np.exp(log_close)
    previous = np.concatenate([[close[0]], close[:-1]])
    gap = 0.0 if crypto else 0.3
    open_ = previous * np.exp(gap * (log_close - np.log(previous)) + 0.2 * day_vol * noise[:, 1])
    high = np.maximum(open_, close) * np.exp(0.5 * day_vol * np.abs(noise[:, 2]))
    low = np.minimum(open_, close) * np.exp(-0.5 * day_vol * np.abs(noise[:, 3]))
    move = np.abs(log_close - np.log(previous)) / day_vol
    volume = np.round(1e6 * np.exp(0.4 * noise[:, 4]) * (1 + move))
    frame = pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume},
        index=pd.DatetimeIndex(days, name="date"),
    )
    return frame.astype("float64")


class SyntheticSource:
    """``data: {source: synthetic, seed: N}``: bars from `synthetic_bars`, validated."""

    def __init__(
        self, seed: int = 0, end: dt.date | None = None, checks: Checks = DEFAULT_CHECKS
    ) -> None:
        self.seed, self.end, self.checks = seed, end, checks

    def load(self, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
        origin = f"synthetic (seed {self.seed})"
        return {
            t: clean(synthetic_bars(t, self.seed, self.end), t, origin, self.checks)
            for t in tickers
        }
