"""`compare`, `walk_forward`, `audit` and `timing` of engine.api: the research commands,
through the functions `rotation compare`, `rotation sweep --walk-forward`, `rotation
audit` and `rotation timing` call, returning their result types instead of writing a
folder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import engine.api._args as _args
from engine.api._args import ConfigLike, Day
from engine.api._runs import load

if TYPE_CHECKING:
    from engine.data import PriceSource
    from engine.research.audit import AuditReport
    from engine.research.compare import Comparison
    from engine.research.sweep_config import SweepOptions, SweepSpec
    from engine.research.timing import TimingResult
    from engine.research.walkforward import WalkForwardResult


def compare(
    configs: Sequence[ConfigLike],
    data_dir: str | Path | None = None,
    start: Day = None,
    end: Day = None,
    *,
    sort: str | None = None,
    source: PriceSource | None = None,
) -> Comparison:
    """Run several configs on their common date range, as `rotation compare` does, without
    writing a folder.

    Args:
        configs: two or more configs (each a file, a dict or a `Config`, see `load`); all
            are validated before any runs. `data_dir`, `start` and `end` apply to each,
            before the common range is taken.
        sort: order the configs best first by this statistic (as ``--sort``).
        source: prices for every config instead of each config's own.

    Returns:
        An `engine.research.compare.Comparison`: `table()` the statistics by column
        (comparison.csv: the configs, then each distinct benchmark), `values()` the daily
        values (values.csv), `benchmarks()` which column each config is measured against,
        `start`/`end` the common range, `results` each config's `BacktestResult`
        (wrap one in `Run` for its frames), `labels` the configs' columns.
    """
    from engine.research.compare import check_metric
    from engine.research.compare import compare as comparing

    if isinstance(configs, (str, Path, Mapping)) or not isinstance(configs, Sequence):
        _args.refuse("configs", "expected a list of configs (files, dicts or Configs)", configs)
    if not configs:
        _args.refuse("configs", "expected at least one config", configs)
    for i, config in enumerate(configs):
        _args.config_like(f"configs[{i}]", config)
    if sort is not None:
        _args.text("sort", sort, "sharpe")
        check_metric(sort, "sort:")
    _args.check_source(source)
    loaded = [load(config, data_dir, start, end) for config in configs]  # all first
    return comparing(loaded, source, sort)


def walk_forward(
    config: str | Path | Mapping[str, Any],
    spec: str,
    data_dir: str | Path | None = None,
    start: Day = None,
    end: Day = None,
    *,
    metric: str | None = None,
    source: PriceSource | None = None,
    max_combos: int | None = None,
) -> WalkForwardResult:
    """Walk-forward over a sweep config, as ``rotation sweep --walk-forward SPEC`` does,
    without writing a folder: choose the best combination by `metric` on each training
    window, test it on the next window.

    Args:
        config: a sweep config (a file or a dict); its ``sweep:`` section counts, as for
            the command (the metric and the scenario axes).
        spec: the windows, ``train=3y,test=1y[,step=1y]`` (units y, m, d).
        metric: rank by this statistic (default: ``sweep.metric``, else sharpe).
        source: prices to use instead of the config's.
        max_combos: refuse a grid of more combinations (default
            `engine.limits.MAX_COMBOS`).

    Returns:
        An `engine.research.walkforward.WalkForwardResult`: `windows` (walkforward.csv),
        `values` (the stitched out-of-sample values), `summary` (walkforward.json).
    """
    from engine.data import make_source
    from engine.research.distributed import walk_forward_on
    from engine.research.sweep_summary import check_options
    from engine.research.walkforward import parse_spec

    _args.text("spec", spec, "train=3y,test=1y")
    windows = parse_spec(spec, "spec:")
    if metric is not None:
        _args.text("metric", metric, "sharpe")
    _args.check_source(source)
    sweep_spec, options = _sweep_config(config, data_dir, start, end, max_combos)
    if metric is not None:
        options = options.model_copy(update={"metric": metric})
    check_options(sweep_spec, options)
    prices = source if source is not None else make_source(sweep_spec.base.data)
    return walk_forward_on(sweep_spec, prices, windows, options.metric)


def _sweep_config(
    config: object, data_dir: str | Path | None, start: Day, end: Day, max_combos: int | None
) -> tuple[SweepSpec, SweepOptions]:
    """A sweep config from a file or a dict, its `sweep:` section read as the command
    reads it (`load_sweep`)."""
    from engine.limits import MAX_COMBOS
    from engine.research.sweep_config import load_sweep, sweep_of

    _args.check_max_combos(max_combos)
    limit = MAX_COMBOS if max_combos is None else max_combos
    given = _args.overrides(data_dir, start, end)
    if isinstance(config, Mapping):
        return sweep_of(dict(config), "<sweep>", Path("."), limit, **given)
    if not isinstance(config, (str, Path)):
        _args.refuse("config", "expected a sweep config's path or a dict shaped like one", config)
    return load_sweep(config, limit, **given)


def audit(
    config: ConfigLike,
    data_dir: str | Path | None = None,
    start: Day = None,
    end: Day = None,
    *,
    cuts: int = 5,
    seed: int = 0,
    source: PriceSource | None = None,
) -> AuditReport:
    """Check a config for look-ahead, as `rotation audit` does: rerun it with the prices
    after `cuts` random cut dates (drawn with `seed`) replaced by noise; nothing up to a
    cut may change.

    Returns:
        An `engine.research.audit.AuditReport`: `clean`, `first_leak`, `cuts` (one
        `CutResult` per cut date) and `as_dict()` (what ``--json`` prints).
    """
    from engine.data import make_source
    from engine.research.audit import audit as auditing

    _args.whole("cuts", cuts, 1)
    _args.whole("seed", seed, 0)
    _args.check_source(source)
    _args.config_like("config", config)
    loaded = load(config, data_dir, start, end)
    origin = str(config) if isinstance(config, (str, Path)) else ""
    prices = source if source is not None else make_source(loaded.data)
    return auditing(loaded, prices, cuts, seed, origin)


def timing(
    config: ConfigLike,
    data_dir: str | Path | None = None,
    start: Day = None,
    end: Day = None,
    *,
    tranches: int | None = None,
    source: PriceSource | None = None,
) -> TimingResult:
    """Every decision day of a weekly, monthly, quarterly or annual config and the blend
    of its tranches, as `rotation timing` does, without writing a folder.

    Args:
        tranches: N of the tranche blend shown beside the days (2 to 12; default the
            config's `execution.tranches`, else 4).
        source: prices to use instead of the config's.

    Returns:
        An `engine.research.timing.TimingResult`: `table` (each day's statistics),
        `tranches`, `benchmark`, `spread`, the daily `values`, and `as_dict()` (what
        ``--json`` prints).
    """
    from engine.data import make_source
    from engine.limits import MAX_TRANCHES
    from engine.research.timing import timing as timed

    _args.whole("tranches", tranches, 2, none=True)
    if tranches is not None and tranches > MAX_TRANCHES:
        _args.refuse("tranches", f"must be 2 to {MAX_TRANCHES}", tranches)
    _args.check_source(source)
    _args.config_like("config", config)
    loaded = load(config, data_dir, start, end)
    origin = str(config) if isinstance(config, (str, Path)) else ""
    prices = source if source is not None else make_source(loaded.data)
    return timed(loaded, prices, tranches, origin)
