"""The `rotation` command line: thin commands; heavy imports inside command bodies.

User mistakes are raised as RotationError (exit code 2, one line, no traceback);
output folders are checked before any backtest. Ctrl-C, SIGTERM and SIGHUP stop a
command cleanly (exit code 128 + the signal number; engine/interrupts.py).
`sweep` and `audit` live in engine/cli/research.py, `timing` in engine/cli/timing.py, `data`
in engine/cli/data.py, `kinds` in engine/cli/kinds.py, `schema` in engine/cli/schema.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from engine import __version__
from engine.cli.options import (
    check_output,
    data_dir_option,
    default_run_dir,
    echo_page,
    json_option,
    out_option,
    overrides,
    tearsheet_option,
    tearsheet_page,
    window_options,
)
from engine.terminal import say


class _Commands(click.Group):
    """The `rotation` group: every command runs with stop signals handled
    (engine/interrupts.py), installed for its duration only."""

    def invoke(self, ctx: click.Context) -> object:
        from engine.interrupts import handled_signals

        one_blas_thread()
        with handled_signals():
            return super().invoke(ctx)


def one_blas_thread() -> None:
    """Run numpy's BLAS (OpenBLAS) on one thread unless OPENBLAS_NUM_THREADS is set.

    OpenBLAS starts a pool of threads as numpy loads it (and a second as scipy's loads,
    which numba does to look for BLAS), and they spin, taking a core, at start-up and
    after each call: about 0.35 s of CPU a command on this 2-core machine, for work that
    is not BLAS (the engine's loops are numba kernels; sweeps spread over processes,
    whose Dask workers get one BLAS thread too). Read when the library loads, so only
    set before numpy is imported (a command line, not a notebook that imported it)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rotation")
def main() -> None:
    """Backtest rotation strategies from YAML configs."""


@main.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@data_dir_option
@window_options
@out_option("<name>")
@json_option("stats.json, no table,")
@click.option("--refresh", is_flag=True, help="yfinance: fetch every ticker's history again.")
@click.option(
    "--bootstrap",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Also resample daily returns N times (stationary bootstrap) for confidence intervals.",
)
@click.option(
    "--block-length",
    type=click.FloatRange(min=1.0),
    default=20.0,
    show_default=True,
    help="Mean block length of the bootstrap, in trading days.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@tearsheet_option
def run(
    config_path: Path,
    data_dir: Path | None,
    start,
    end,
    out: Path | None,
    as_json: bool,
    refresh: bool,
    bootstrap: int | None,
    block_length: float,
    seed: int,
    tearsheet: bool,
) -> None:
    """Backtest CONFIG and write a run folder."""
    from engine.config.load import load_config
    from engine.data import make_source
    from engine.report import plain, stats_json, stats_table, write_run_folder
    from engine.report.folders import link_latest
    from engine.report.provenance import manifest
    from engine.runner import run_backtest

    config = load_config(config_path, **overrides(data_dir, start, end))
    check_output(out, config.name, config_path)
    result = run_backtest(config, make_source(config.data, refresh=refresh))
    boot = None
    if bootstrap:
        from engine.research.bootstrap import bootstrap_run

        boot = bootstrap_run(result, bootstrap, block_length, seed)
    folder = write_run_folder(
        out or default_run_dir(config.name),
        result,
        manifest(result, str(config_path)),
        extra_json={"bootstrap.json": boot} if boot is not None else None,
    )
    link_latest(folder)
    page = tearsheet_page(folder, tearsheet)
    if as_json:
        shown = result.stats if boot is None else {**result.stats, "bootstrap": boot}
        click.echo(stats_json(shown), nl=False)
        say(f"Run folder: {folder}", err=True)
        echo_page(page, err=True)
        return
    from rich.console import Console

    console = Console()
    console.print(stats_table(result.stats, config.name))
    if boot is not None:
        from engine.research.bootstrap import bootstrap_table

        console.print(bootstrap_table(boot))
    console.print(plain(f"Run folder: {folder}"))  # wrapped to the terminal, escaped
    echo_page(page)


@main.command()
@click.argument(
    "config_paths", metavar="CONFIG...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@data_dir_option
@window_options
@click.option(
    "--sort",
    "sort_by",
    default=None,
    metavar="METRIC",
    help="Order the configs best first by this statistic (e.g. sharpe).",
)
@out_option("compare")
@json_option("comparison.json")
@tearsheet_option
def compare(
    config_paths: tuple[Path, ...],
    data_dir: Path | None,
    start,
    end,
    sort_by: str | None,
    out: Path | None,
    as_json: bool,
    tearsheet: bool,
) -> None:
    """Run several CONFIGs on their common date range, side by side.

    --start/--end set every config's data.start/data.end before the common range is taken."""
    from engine.config.load import load_config
    from engine.research import compare as comparing

    if sort_by is not None:
        comparing.check_metric(sort_by)
    given = overrides(data_dir, start, end)
    configs = [load_config(path, **given) for path in config_paths]  # all first
    check_output(out, "compare", "")

    from engine.data import describe
    from engine.data.series import describe_series
    from engine.report import comparison_rich, plain, write_comparison
    from engine.report.paths import shown_path
    from engine.report.provenance import library_versions

    comparison = comparing.compare(configs, sort_by=sort_by)  # as engine.api.compare
    table = comparison.table()
    manifest = {
        "configs": {
            label: {"path": shown_path(path), "config_sha256": config.hash()}
            for label, path, config in zip(comparison.labels, config_paths, configs, strict=True)
        },
        "data": describe({t: f for r in comparison.results for t, f in r.prices.items()})
        | describe_series({n: s for r in comparison.results for n, s in r.series.items()}),
        "versions": library_versions(),
    }
    folder = write_comparison(out or default_run_dir("compare"), comparison, table, manifest)
    from engine.report.folders import link_latest

    link_latest(folder)
    page = tearsheet_page(folder, tearsheet)
    if as_json:
        click.echo((folder / "comparison.json").read_text(), nl=False)
        echo_page(page, err=True)
        return
    from rich.console import Console

    console = Console()
    span = f"{comparison.start.date()} → {comparison.end.date()}"
    days = len(comparison.results[0].dates)
    title = f"Common range {span} ({days} days)"
    console.print(comparison_rich(table, title, console.width, comparison.benchmarks()))
    console.print(plain(f"Comparison folder: {folder}"))
    echo_page(page)


@main.command("signal")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@data_dir_option
@json_option("the state as JSON, no sentences,")
@click.option("--refresh", is_flag=True, help="yfinance: fetch every ticker's history again.")
def signal_command(config_path: Path, data_dir: Path | None, as_json: bool, refresh: bool) -> None:
    """The state of CONFIG at the latest close in the data: regime, target, trade, signals.

    Runs CONFIG to the latest date of its data (data.end is ignored; yfinance fetches the
    latest bars first) and writes no run folder (engine/live.py). Says when the data is
    stale (sessions missing before today, or $ROTATION_TODAY) and when a traded asset or
    threshold ticker lags the others (the answer is then for the latest date all have)."""
    from engine.answer import answer
    from engine.config.load import load_config
    from engine.freshness import today
    from engine.live import ranking_table

    on = today()  # a bad $ROTATION_TODAY fails before any work
    config = load_config(config_path, **overrides(data_dir))
    state = answer(config, on=on, refresh=refresh)  # as engine.api.signal
    if as_json:
        click.echo(state.json(), nl=False)
        return
    for line in state.lines():
        say(line)
    for part in state.state.get("members", [state.state]):  # a blend: each member's
        table = ranking_table(part)
        if table is not None:
            from rich.console import Console

            Console().print(table)


@main.command("check")
@click.argument(
    "config_paths", metavar="CONFIG...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@data_dir_option
def check_command(config_paths: tuple[Path, ...], data_dir: Path | None) -> None:
    """Validate CONFIGs (plain or sweep) without running them or loading prices.

    One line per valid file (`ok: FILE (config)`, `ok: FILE (sweep config, N
    combinations)`, then each axis with its values and the product), every problem of
    the others; exit code 0 when all are valid, else 2."""
    from engine.checking import check_file
    from engine.errors import RotationError

    failed = 0
    for path in config_paths:
        try:
            checked = check_file(path, **overrides(data_dir))
        except RotationError as exc:
            failed += 1
            say(exc.message)
        else:
            for line in checked.lines():
                say(line)
    if failed:
        raise RotationError(f"{failed} of {len(config_paths)} config files have problems")


@main.command("tearsheet")
@click.argument("folder", metavar="FOLDER", type=click.Path(path_type=Path))
def tearsheet_command(folder: Path) -> None:
    """Rebuild FOLDER/tearsheet.html from a run, comparison, sweep, walk-forward or timing
    folder."""
    echo_page(tearsheet_page(folder, True))


def _register() -> None:
    from engine.cli.data import data_group
    from engine.cli.kinds import kinds_command
    from engine.cli.research import audit, sweep
    from engine.cli.schema import schema_command
    from engine.cli.timing import timing_command

    for command in (sweep, audit, timing_command, data_group, kinds_command, schema_command):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
