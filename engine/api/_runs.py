"""`load`, `run` and `sweep` of engine.api (see its docstring), and `Run`."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.api._args import ConfigLike, Day, check_max_combos, check_source, overrides

if TYPE_CHECKING:
    import pandas as pd

    from engine.config import Config
    from engine.data import PriceSource
    from engine.runner import BacktestResult


def load(
    config: ConfigLike, data_dir: str | Path | None = None, start: Day = None, end: Day = None
) -> Config:
    """A validated `Config` from a YAML file, a dict shaped like one, or a `Config`.

    `data_dir` reads prices from ``<DIR>/<TICKER>.csv`` (as ``--data-dir``); `start` and
    `end` replace ``data.start`` and ``data.end``. A ``dir:`` in a dict is relative to the
    current folder. Raises `engine.errors.ConfigError` listing every problem.
    """
    from engine.config import Config, with_overrides
    from engine.config.load import config_from_dict, load_config  # blends too

    given = overrides(data_dir, start, end)
    if isinstance(config, Config):
        if not any(v is not None for v in given.values()):
            return config
        return config_from_dict(with_overrides(config.resolved(), Path("."), **given))
    if isinstance(config, Mapping):
        return config_from_dict(with_overrides(dict(config), Path("."), **given))
    return load_config(config, **given)


def run(
    config: ConfigLike,
    data_dir: str | Path | None = None,
    start: Day = None,
    end: Day = None,
    *,
    source: PriceSource | None = None,
    refresh: bool = False,
) -> Run:
    """Backtest a config (a file, a dict or a `Config`; see `load`) as `rotation run` does,
    without writing a run folder.

    Args:
        source: prices to use instead of the config's (an `engine.data` source).
        refresh: yfinance only: fetch every ticker's full history again.
    """
    from engine.data import make_source
    from engine.runner import run_backtest

    check_source(source)
    loaded = load(config, data_dir, start, end)
    prices = source if source is not None else make_source(loaded.data, refresh=refresh)
    return Run(run_backtest(loaded, prices))


def sweep(
    config: str | Path | Mapping[str, Any],
    data_dir: str | Path | None = None,
    start: Day = None,
    end: Day = None,
    *,
    source: PriceSource | None = None,
    max_combos: int | None = None,
) -> pd.DataFrame:
    """Evaluate every combination of a sweep config (a file or a dict) as `rotation sweep`
    does, without writing a folder: the results table, one row per combination (the
    swept parameters, then every statistic, ``benchmark_*`` the benchmark's).

    ``table.attrs`` holds ``axes`` (the swept parameters' names, the first columns) and
    ``warnings`` (what shaped the result). A ``sweep:`` section is ignored.

    Args:
        source: prices to use instead of the config's (an `engine.data` source).
        max_combos: refuse a grid of more combinations (a whole number >= 1; default
            `engine.limits.MAX_COMBOS`, as ``rotation sweep --max-combos``).
    """
    from engine.config import read_yaml, with_overrides
    from engine.data import make_source
    from engine.limits import MAX_COMBOS
    from engine.research.sweep import run_sweep
    from engine.research.sweep_config import sweep_spec

    check_source(source)
    check_max_combos(max_combos)
    if isinstance(config, Mapping):
        raw, where, origin = dict(config), Path("."), "<sweep>"
        path = None
    else:
        where = path = Path(config)
        raw, origin = read_yaml(where), str(where)
    raw.pop("sweep", None)
    raw = with_overrides(raw, where, **overrides(data_dir, start, end))
    limit = MAX_COMBOS if max_combos is None else max_combos
    spec = sweep_spec(raw, origin, limit, path=path)  # a blend's members beside its file
    prices = source if source is not None else make_source(spec.base.data)
    result = run_sweep(spec, prices)
    table = result.table
    table.attrs = {"axes": [a.name for a in result.axes], "warnings": list(result.warnings)}
    return table


class Run:
    """One backtest as pandas objects; every frame is indexed by the backtest dates.

    `result` is the underlying `engine.runner.BacktestResult` (prices, the calendar,
    each signal on its own calendar, orders, both simulations).
    """

    def __init__(self, result: BacktestResult) -> None:
        self.result = result

    def __repr__(self) -> str:
        period = self.stats["period"]
        return f"<Run {self.config.name} {period['start']} to {period['end']}>"

    @property
    def config(self) -> Config:
        """The validated config that ran."""
        return self.result.config

    @cached_property
    def values(self) -> pd.DataFrame:
        """Daily portfolio values: columns ``strategy`` and ``benchmark`` (values.csv)."""
        import pandas as pd

        result = self.result
        return pd.DataFrame(
            {"strategy": result.strategy.value, "benchmark": result.benchmark.value},
            index=_dated(result.dates),
        )

    @cached_property
    def weights(self) -> pd.DataFrame:
        """Columns (kind, ticker): ``target`` the weights traded that date (NaN: hold),
        ``held`` each asset's weight at the close and ``("held", "cash")`` (weights.csv)."""
        import pandas as pd

        result, sim = self.result, self.result.strategy
        held = sim.held_weights().set_axis(result.orders.columns, axis=1)
        held["cash"] = sim.cash.to_numpy() / sim.value.to_numpy()
        frame = pd.concat({"target": result.orders, "held": held}, axis=1)
        frame.columns.names = ["kind", "ticker"]
        return frame.set_axis(_dated(result.dates))

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Every fill of the strategy and the benchmark, with its reason (trades.csv)."""
        import pandas as pd

        from engine.report import run_frames

        trades = run_frames(self.result)["trades.csv"]
        return trades.assign(date=pd.to_datetime(trades["date"]))

    @cached_property
    def signals(self) -> pd.DataFrame:
        """Each signal as usable at the close (bool, one column per signal); each on its
        own calendar with its series and bounds: ``run.result.signal_series``."""
        return self.result.signals.reindex(self.result.dates).set_axis(_dated(self.result.dates))

    @cached_property
    def regimes(self) -> pd.Series:
        """The regime decided at each close."""
        return self.result.regimes.reindex(self.result.dates).set_axis(_dated(self.result.dates))

    @property
    def ranks(self) -> pd.DataFrame:
        """Ranked regimes' candidates per decision date (ranks.csv; empty without ranks)."""
        return self.result.ranks

    @property
    def stats(self) -> dict[str, dict]:
        """``{"strategy", "benchmark", "relative", "period"}`` (stats.json)."""
        return self.result.stats

    @property
    def portfolio(self):
        """The strategy's `vectorbt.Portfolio` (its own statistics follow vectorbt's
        conventions, not docs/semantics.md's)."""
        return self.result.portfolio

    @property
    def warnings(self) -> list[str]:
        """What silently shaped the result (an end cut short, a signal still undefined)."""
        return self.result.warnings


def _dated(dates):
    return dates.rename("date")
