"""What a tearsheet shows, read from a folder's files: nothing is backtested again.

The files come checked from engine.report.readback. Statistics are read from
stats.json / comparison.json / a sweep's reduced tables as they are. The only numbers worked
out here are series for display (drawdown curve, rolling one-year statistics, monthly
and yearly returns), each through the formulas of engine.metrics.stats applied to the
daily values of values.csv.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from engine.metrics import stats
from engine.report.readback import read_folder

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame indexed by its date column (YYYY-MM-DD text)."""
    index = pd.DatetimeIndex(pd.to_datetime(frame["date"], format="%Y-%m-%d"), name="date")
    return frame.drop(columns="date").set_index(index)


@dataclass(frozen=True)
class RunFolder:
    """The files of a run folder (signals is None for folders made before signals.csv;
    ranks is None without ranked regimes, bootstrap without --bootstrap, series without
    external series)."""

    path: Path
    stats: dict
    config: dict
    config_text: str
    manifest: dict
    values: pd.DataFrame
    weights: pd.DataFrame
    regimes: pd.DataFrame
    trades: pd.DataFrame
    signals: pd.DataFrame | None
    ranks: pd.DataFrame | None = None
    bootstrap: dict | None = None  # bootstrap.json, written by `rotation run --bootstrap`
    series: pd.DataFrame | None = None  # series.csv: configs with external series only
    rates: pd.Series | None = None  # the per-date risk-free series (values.csv, §11)
    blend: dict | None = None  # blend.json: blends and configs in tranches only
    members: pd.DataFrame | None = None  # members.csv: likewise

    @property
    def ranked(self) -> bool:
        """Whether some regime is a ranked allocation (its folder has ranks.csv)."""
        return any(r.get("rank") for r in self.config["regimes"])

    @property
    def initial_cash(self) -> float:
        return float(self.config["portfolio"]["initial_cash"])

    @property
    def periods(self) -> int:
        return int(self.stats["period"]["periods_per_year"])

    @property
    def risk_free(self) -> float | np.ndarray:
        """The annual risk-free rate, or (a ticker's rate) its per-date series."""
        if self.rates is not None:
            return self.rates.to_numpy(dtype=float)
        return float(self.stats["period"]["risk_free"])

    @property
    def dates(self) -> np.ndarray:
        return self.values.index.strftime("%Y-%m-%d").to_numpy()


def read_run(folder: Path) -> RunFolder:
    """A run folder, its files read and checked by engine.report.readback."""
    files = read_folder(folder, "run")
    from engine.report.tearsheet_blend import view_config

    values = _dated(files["values.csv"])
    rates = values.pop("risk_free") if "risk_free" in values else None
    return RunFolder(
        path=files.path,
        stats=files["stats.json"],
        config=view_config(files["config.yaml"], files["blend.json"], files["regimes.csv"]),
        config_text=files.texts["config.yaml"],
        manifest=files["manifest.json"] or {},
        values=values,
        weights=_dated(files["weights.csv"]),
        regimes=_dated(files["regimes.csv"]),
        trades=files["trades.csv"],
        signals=files["signals.csv"],
        ranks=files["ranks.csv"],
        bootstrap=files["bootstrap.json"],
        series=files["series.csv"],
        rates=rates,
        blend=files["blend.json"],
        members=files["members.csv"],
    )


@dataclass(frozen=True)
class ComparisonFolder:
    path: Path
    comparison: dict
    manifest: dict
    values: pd.DataFrame


def read_comparison(folder: Path) -> ComparisonFolder:
    files = read_folder(folder, "comparison")
    return ComparisonFolder(
        path=files.path,
        comparison=files["comparison.json"],
        manifest=files["manifest.json"] or {},
        values=_dated(files["values.csv"]),
    )


@dataclass(frozen=True)
class SweepFolder:
    """A sweep folder as its page reads it: the reduced tables, never the results parts
    (a grid of any size makes a page of the same size)."""

    path: Path
    summary: dict
    manifest: dict
    top: pd.DataFrame  # top.parquet: the best by each ranking metric, full rows
    heatmap: pd.DataFrame  # heatmap.csv: the cells
    histogram: pd.DataFrame  # histogram.csv: the ranking metric's distribution
    best_values: pd.DataFrame | None = None  # absent in folders made before it

    def ranked(self) -> pd.DataFrame:
        """The rows of top.parquet ranked by the summary's metric, indexed by grid row."""
        top = self.top[self.top["ranked_by"] == self.summary["metric"]]
        return top.drop_duplicates("row").set_index("row")


def read_sweep(folder: Path) -> SweepFolder:
    files = read_folder(folder, "sweep")
    return SweepFolder(
        path=files.path,
        summary=files["summary.json"],
        manifest=files["manifest.json"] or {},
        top=files["top.parquet"],
        heatmap=files["heatmap.csv"],
        histogram=files["histogram.csv"],
        best_values=files["best_values.csv"],
    )


def implied_initial_cash(statistics: dict) -> float:
    """Initial cash implied by a run's statistics, final_value / (1 + total_return): for
    benchmark columns and folders written before comparison.json recorded it."""
    return float(statistics["final_value"]) / (1.0 + float(statistics["total_return"]))


def _cash(values: pd.DataFrame, initial_cash) -> list[float]:
    """One initial cash per column (a scalar is shared)."""
    if np.ndim(initial_cash) == 0:
        return [float(initial_cash)] * values.shape[1]
    return [float(c) for c in initial_cash]


def _columns(values: pd.DataFrame, initial_cash, formula) -> np.ndarray:
    """formula(one column's values, its initial cash) side by side, one column each."""
    pairs = zip(values.columns, _cash(values, initial_cash), strict=True)
    return np.column_stack([formula(values[c].to_numpy(dtype=float), cash) for c, cash in pairs])


def drawdowns(values: pd.DataFrame, initial_cash) -> pd.DataFrame:
    """stats.drawdown_series of each column, on the backtest dates (the leading
    initial-cash point, dated the first date, is the starting peak and not drawn).
    A column's empty rows (dates another run of a comparison has) stay empty."""
    out = {}
    for column, cash in zip(values.columns, _cash(values, initial_cash), strict=True):
        own = values[column].dropna()
        out[column] = pd.Series(stats.drawdown_series(own.to_numpy(float), cash)[1:], own.index)
    return pd.DataFrame(out, columns=values.columns).reindex(values.index)


def rolling_year(values: pd.DataFrame, initial_cash, periods: int, risk_free) -> dict:
    """Return, volatility and Sharpe over each trailing window of `periods` returns
    (stats.total_return, stats.volatility, stats.sharpe on the window); `risk_free` the
    annual rate or a per-date series."""
    n = len(values)
    if n < periods:
        return {}
    returns = stats.daily_returns(values.to_numpy(dtype=float), initial_cash)
    wealth = np.vstack([np.full((1, values.shape[1]), initial_cash, dtype=float), values])
    rf_d = stats.per_date_rate(risk_free, periods)
    if np.ndim(rf_d):
        rf_d = sliding_window_view(rf_d, periods).T  # [periods, windows], as the returns
    index = values.index[periods - 1 :]
    out = {"return": {}, "volatility": {}, "sharpe": {}}
    for j, column in enumerate(values.columns):
        windows = sliding_window_view(returns[:, j], periods).T  # [periods, windows]
        ends = wealth[periods:, j][None, :]  # the value at each window's last date
        out["return"][column] = stats.total_return(ends, wealth[: n - periods + 1, j])
        out["volatility"][column] = stats.volatility(windows, periods)
        out["sharpe"][column] = stats.sharpe(windows, rf_d, periods)
    titles = {
        "return": "1-year return",
        "volatility": "1-year volatility (ann.)",
        "sharpe": "1-year Sharpe",
    }
    return {titles[k]: pd.DataFrame(v, index=index) for k, v in out.items()}


def period_returns(values: pd.DataFrame, initial_cash, by: str) -> pd.DataFrame:
    """Compounded stats.daily_returns per calendar month ('month') or year ('year');
    the first period starts from the initial cash."""
    returns = _columns(values, initial_cash, stats.daily_returns)
    growth = pd.DataFrame(1.0 + returns, index=values.index, columns=values.columns)
    keys = [values.index.year] + ([values.index.month] if by == "month" else [])
    return growth.groupby(keys).prod() - 1.0


def monthly_table(monthly: pd.Series) -> pd.DataFrame:
    """Years (rows) by month names (columns) of a (year, month)-indexed series."""
    table = monthly.unstack()
    table = table.reindex(columns=range(1, 13))
    table.columns = MONTHS
    return table


def regime_runs(run: RunFolder):
    """(runs of the decided regime, {regime: colour}, default regime): every regime
    but the default (the last) gets a colour, in the config's order."""
    from engine.report.plots import FILLS, spans

    *names, default = [r["name"] for r in run.config["regimes"] if r.get("shade", True)]
    colors = {name: FILLS[i % len(FILLS)] for i, name in enumerate(names)}
    return spans(list(run.dates), run.regimes["regime"].tolist()), colors, default


def held_and_targets(run: RunFolder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Held weights (each ticker and cash) and traded targets (NaN between trades)."""
    held = {c[: -len("_held")]: run.weights[c] for c in run.weights if c.endswith("_held")}
    targets = {c[: -len("_target")]: run.weights[c] for c in run.weights if c.endswith("_target")}
    held_frame = pd.DataFrame(held, index=run.dates)
    target_frame = pd.DataFrame({k: v.to_numpy() for k, v in targets.items()}, index=run.dates)
    return held_frame, target_frame


def trade_reasons(run: RunFolder) -> pd.Series | None:
    """The reason of each strategy trade date, from trades.csv (None in folders made
    before trades.csv had a reason)."""
    if "reason" not in run.trades:
        return None
    trades = run.trades[run.trades["portfolio"] == "strategy"]
    return trades.groupby("date", sort=True)["reason"].first()


@dataclass(frozen=True)
class RankPanel:
    """One ranked regime over its decision dates (ranks.csv): each candidate's score,
    whether it held a slot (selected), failed min_score or filter, and the weight of its
    slot; whether the regime was decided (active), and the weight of failed and empty
    slots that went to the fallback (a ticker, or "" for cash)."""

    regime: str
    title: str
    assets: list[str]
    dates: np.ndarray
    scores: pd.DataFrame
    selected: pd.DataFrame
    failed: pd.DataFrame
    weights: pd.DataFrame
    active: np.ndarray
    fallback: str
    fallback_weight: np.ndarray

    def runs(self, end: str) -> list[tuple[str, str, str]]:
        """Runs of "fallback" (decided, part of the target in the fallback), "inactive"
        (another regime decided) and "active", each decision holding until the next
        one and the last until `end`."""
        label = np.where(
            self.active, np.where(self.fallback_weight > 0, "fallback", "active"), "inactive"
        ).tolist()
        from engine.report.plots import spans

        dates = list(self.dates)
        if dates and end > dates[-1]:
            dates, label = [*dates, end], [*label, label[-1]]
        return spans(dates, label)


def _rank_title(name: str, rank: dict, scores: dict) -> str:
    from strategies.scores import SCORE_KINDS

    spec = scores.get(rank["score"]) or {}
    kind = SCORE_KINDS.get(spec.get("type"))
    what = f" ({kind.describe(kind.params(spec))})" if kind else ""
    order = rank.get("order") or "highest"
    top, of = rank["top"], len(rank["assets"])
    return f"{name}: top {top} of {of} by {rank['score']}{what}, {order} first"


def rank_panels(run: RunFolder) -> list[RankPanel]:
    """A RankPanel per ranked regime of the config, in its order (none without ranks.csv)."""
    if run.ranks is None or run.ranks.empty:
        return []
    ranks = run.ranks.assign(date=run.ranks["date"].astype(str))
    panels = []
    for regime in run.config["regimes"]:
        rank = regime.get("rank")
        rows = ranks[ranks["regime"] == regime["name"]] if rank else None
        if rows is None or rows.empty:
            continue
        assets = list(rank["assets"])
        wide = {
            column: rows.pivot(index="date", columns="asset", values=column)[assets]
            for column in ("score", "selected", "failed", "weight")
        }
        first = rows.drop_duplicates("date").set_index("date").loc[wide["score"].index]
        fallback = first["fallback"].iloc[0]
        panels.append(
            RankPanel(
                regime=regime["name"],
                title=_rank_title(regime["name"], rank, run.config.get("scores") or {}),
                assets=assets,
                dates=wide["score"].index.to_numpy(dtype=str),
                scores=wide["score"].astype(float),
                selected=wide["selected"].astype(bool),
                failed=wide["failed"].astype(bool),
                weights=wide["weight"].astype(float),
                active=first["active"].to_numpy(dtype=bool),
                fallback="" if pd.isna(fallback) else str(fallback),
                fallback_weight=first["fallback_weight"].to_numpy(dtype=float),
            )
        )
    return panels
