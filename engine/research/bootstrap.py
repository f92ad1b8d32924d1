"""Monte Carlo robustness of one run: the stationary bootstrap of daily returns.

The strategy's and the benchmark's daily returns are resampled together (the
same resampled dates for both, so their dependence is kept) in blocks of random
length (Politis and Romano, 1994), each resample is turned back into a value
curve on the run's dates, and `engine.metrics.stats` measures it with the same
formulas as the run itself.

Reference:
    Politis, D. N. and Romano, J. P. (1994). "The Stationary Bootstrap".
    Journal of the American Statistical Association 89 (428), 1303-1313.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.metrics import stats

QUANTILES = (0.05, 0.5, 0.95)  # a 90% interval and the median
STATISTICS = ("cagr", "sharpe", "max_drawdown", "total_return")
CHUNK = 1000  # resamples per batch (memory: CHUNK x days floats per array)


def stationary_indices(
    n: int, resamples: int, mean_block: float, rng: np.random.Generator
) -> np.ndarray:
    """[resamples, n] indices into 0..n-1 drawn by the stationary bootstrap.

    Politis and Romano (1994): the first index is uniform; each next one is,
    with probability p = 1 / mean_block, a new uniform start, and otherwise
    the index after the previous one (wrapping from n-1 to 0). Block lengths
    are thus geometric with mean `mean_block`, and the resampled series is
    stationary.

    Both draws of a position come from one uniform pair, resample after resample
    (row-major), so drawing B resamples at once or in chunks of any size gives the
    same indices from the same generator state.
    """
    if mean_block < 1:
        raise ValueError("the mean block length must be at least 1")
    uniform = rng.random((resamples, n, 2))
    new_block = uniform[:, :, 0] < 1.0 / mean_block
    new_block[:, 0] = True
    starts = np.minimum((uniform[:, :, 1] * n).astype(np.int64), n - 1)
    position = np.broadcast_to(np.arange(n), (resamples, n))
    block_began = np.maximum.accumulate(np.where(new_block, position, 0), axis=1)
    first = np.take_along_axis(starts, block_began, axis=1)
    return (first + position - block_began) % n


def _quantiles(sample: np.ndarray) -> dict[str, float]:
    finite = sample[np.isfinite(sample)]
    if not len(finite):
        return {f"p{round(q * 100):02d}": float("nan") for q in QUANTILES}
    values = np.quantile(finite, QUANTILES)
    return {f"p{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, values, strict=True)}


def _measure(returns: np.ndarray, dates, initial_cash: float, periods: int, risk_free):
    """STATISTICS of [n, B] resampled returns, as value curves starting from initial_cash
    (risk_free: the annual rate, or the per-date series resampled alongside, [n, B])."""
    values = initial_cash * np.cumprod(1.0 + returns, axis=0)
    rf_d = stats.per_date_rate(risk_free, periods)
    return {
        "cagr": stats.cagr(values, initial_cash, stats.years_between(dates)),
        "sharpe": stats.sharpe(returns, rf_d, periods),
        "max_drawdown": stats.max_drawdown(values, initial_cash),
        "total_return": stats.total_return(values, initial_cash),
    }


def bootstrap(
    strategy: np.ndarray,
    benchmark: np.ndarray,
    dates: pd.DatetimeIndex,
    initial_cash: float,
    periods: int,
    risk_free,
    resamples: int,
    mean_block: float = 20.0,
    seed: int = 0,
) -> dict:
    """Confidence intervals of CAGR, Sharpe and max drawdown from paired stationary resamples.

    Args:
        strategy, benchmark: daily values V_1..V_N on `dates` (as in a run).
        resamples: number of bootstrap samples B.
        mean_block: mean block length in trading days (geometric lengths).
        seed: seed of numpy's default generator; same seed, same answer.
        risk_free: the annual rate, or a per-date series (resampled with the returns).

    Returns:
        {"resamples", "mean_block", "seed", "quantiles",
         "strategy": {stat: {"p05", "p50", "p95"}}, "benchmark": {...},
         "beats_benchmark": share of resamples whose strategy total return
         exceeds the benchmark's}. CAGR uses the run's calendar span.
    """
    if resamples < 1:
        raise ValueError("the number of resamples must be at least 1")
    s_returns = stats.daily_returns(np.asarray(strategy, dtype=float), initial_cash)
    b_returns = stats.daily_returns(np.asarray(benchmark, dtype=float), initial_cash)
    n = len(s_returns)
    rng = np.random.default_rng(seed)
    parts: dict[str, dict[str, list]] = {"strategy": {}, "benchmark": {}}
    for done in range(0, resamples, CHUNK):
        index = stationary_indices(n, min(CHUNK, resamples - done), mean_block, rng).T  # [n, B]
        rates = np.asarray(risk_free)[index] if np.ndim(risk_free) else risk_free
        for name, returns in (("strategy", s_returns), ("benchmark", b_returns)):
            for key, value in _measure(returns[index], dates, initial_cash, periods, rates).items():
                parts[name].setdefault(key, []).append(np.atleast_1d(value))
    sample = {name: {k: np.concatenate(v) for k, v in d.items()} for name, d in parts.items()}
    beats = sample["strategy"]["total_return"] > sample["benchmark"]["total_return"]
    return {
        "resamples": resamples,
        "mean_block": mean_block,
        "seed": seed,
        "quantiles": list(QUANTILES),
        "strategy": {k: _quantiles(v) for k, v in sample["strategy"].items()},
        "benchmark": {k: _quantiles(v) for k, v in sample["benchmark"].items()},
        "beats_benchmark": float(np.mean(beats)),
    }


def bootstrap_table(result: dict):
    """A rich Table of the intervals: 5%, median and 95% for strategy and benchmark."""
    from rich.table import Table

    from engine.metrics import METRICS
    from engine.report import fmt

    table = Table(
        title=(
            f"Stationary bootstrap: {result['resamples']:,} resamples, "
            f"mean block {result['mean_block']:g} days, seed {result['seed']}"
        )
    )
    table.add_column("Statistic", no_wrap=True)
    table.add_column("Portfolio", no_wrap=True)
    for label in ("5%", "median", "95%"):
        table.add_column(label, justify="right")
    for key in ("cagr", "sharpe", "max_drawdown", "total_return"):
        label, kind = METRICS[key].label, METRICS[key].format
        for name in ("strategy", "benchmark"):
            cells = [fmt(result[name][key][p], kind) for p in ("p05", "p50", "p95")]
            table.add_row(label if name == "strategy" else "", name, *cells)
    table.add_section()
    table.add_row("Strategy beats benchmark", "", "", fmt(result["beats_benchmark"], "pct"), "")
    return table


def bootstrap_run(result, resamples: int, mean_block: float = 20.0, seed: int = 0) -> dict:
    """`bootstrap` of a BacktestResult's strategy and benchmark values."""
    from engine.runner import periods_per_year

    config = result.config
    return bootstrap(
        result.strategy.value.to_numpy(),
        result.benchmark.value.to_numpy(),
        result.dates,
        config.portfolio.initial_cash,
        periods_per_year(config),
        result.risk_free,
        resamples,
        mean_block,
        seed,
    )
