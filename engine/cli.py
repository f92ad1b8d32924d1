"""The `rotation` command line: thin commands; heavy imports inside command bodies.

User mistakes are raised as RotationError (exit code 2, one line, no traceback).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from engine import __version__

DATE = click.DateTime(formats=["%Y-%m-%d"])


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def _default_run_dir(name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path("runs") / f"{name}-{stamp}-{suffix}"
    return path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rotation")
def main() -> None:
    """Backtest rotation strategies from YAML configs."""


@main.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Read prices from <DIR>/<TICKER>.csv instead of the config's source.",
)
@click.option("--start", type=DATE, default=None, help="Override data.start (YYYY-MM-DD).")
@click.option("--end", type=DATE, default=None, help="Override data.end (YYYY-MM-DD).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run folder to write (default: runs/<name>-<timestamp>/).",
)
@click.option("--json", "as_json", is_flag=True, help="Print stats.json to stdout, no table.")
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
@click.option(
    "--tearsheet",
    is_flag=True,
    help="Also write tearsheet.html (one offline HTML page) into the folder.",
)
def run(
    config_path: Path,
    data_dir: Path | None,
    start,
    end,
    out: Path | None,
    as_json: bool,
    bootstrap: int | None = None,
    block_length: float = 20.0,
    seed: int = 0,
    tearsheet: bool = False,
    refresh: bool = False,
) -> None:
    """Backtest CONFIG and write a run folder."""
    from engine.config import load_config
    from engine.data import make_source
    from engine.provenance import manifest
    from engine.report import stats_json, stats_table, write_run_folder
    from engine.runner import run_backtest

    overrides = {"start": _date(start), "end": _date(end)}
    if data_dir is not None:
        overrides |= {"source": "csv", "dir": data_dir}
    config = load_config(config_path, **overrides)
    source = make_source(config.data, refresh=refresh)
    result = run_backtest(config, source)
    boot = None
    if bootstrap:
        from engine.bootstrap import bootstrap_run

        boot = bootstrap_run(result, bootstrap, block_length, seed)
    folder = write_run_folder(
        out or _default_run_dir(config.name),
        result,
        manifest(result, str(config_path)),
        extra_json={"bootstrap.json": boot} if boot is not None else None,
    )
    page = _tearsheet(folder) if tearsheet else None
    if as_json:
        shown = result.stats if boot is None else {**result.stats, "bootstrap": boot}
        click.echo(stats_json(shown), nl=False)
        _echo_page(page, err=True)
        return
    from rich.console import Console

    console = Console()
    console.print(stats_table(result.stats, config.name))
    if boot is not None:
        from engine.bootstrap import bootstrap_table

        console.print(bootstrap_table(boot))
    console.print(f"Run folder: {folder}")
    _echo_page(page)


@main.command()
@click.argument(
    "config_paths", metavar="CONFIG...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Read every config's prices from <DIR>/<TICKER>.csv.",
)
@click.option(
    "--sort",
    "sort_by",
    default=None,
    metavar="METRIC",
    help="Order the configs best first by this statistic (e.g. sharpe).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder to write (default: runs/compare-<timestamp>/).",
)
@click.option("--json", "as_json", is_flag=True, help="Print comparison.json to stdout.")
@click.option(
    "--tearsheet",
    is_flag=True,
    help="Also write tearsheet.html (one offline HTML page) into the folder.",
)
def compare(
    config_paths: tuple[Path, ...],
    data_dir: Path | None,
    sort_by: str | None,
    out: Path | None,
    as_json: bool,
    tearsheet: bool,
) -> None:
    """Run several CONFIGs on their common date range, side by side."""
    from engine.config import load_config
    from engine.errors import RotationError
    from engine.report import ALL_LABELS

    if sort_by is not None and sort_by not in ALL_LABELS:
        import difflib

        close = difflib.get_close_matches(sort_by, list(ALL_LABELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RotationError(
            f"--sort {sort_by}: unknown statistic{hint}; choose one of {', '.join(ALL_LABELS)}"
        )
    overrides = {"source": "csv", "dir": data_dir} if data_dir is not None else {}
    configs = [load_config(path, **overrides) for path in config_paths]  # all checked first

    from engine import compare as comparing
    from engine.provenance import library_versions
    from engine.report import comparison_rich, write_comparison

    comparison = comparing.compare(configs)
    table = comparison.table()
    if sort_by:
        table = comparing.sort_columns(table, comparison.labels, sort_by)
    manifest = {
        "configs": {
            label: {"path": str(path), "config_sha256": config.hash()}
            for label, path, config in zip(comparison.labels, config_paths, configs, strict=True)
        },
        "versions": library_versions(),
    }
    folder = write_comparison(out or _default_run_dir("compare"), comparison, table, manifest)
    page = _tearsheet(folder) if tearsheet else None
    if as_json:
        click.echo((folder / "comparison.json").read_text(), nl=False)
        _echo_page(page, err=True)
        return
    from rich.console import Console

    console = Console()
    span = f"{comparison.start.date()} → {comparison.end.date()}"
    console.print(
        comparison_rich(table, f"Common range {span} ({len(comparison.results[0].dates)} days)")
    )
    console.print(f"Comparison folder: {folder}")
    _echo_page(page)


@main.command()
@click.argument("sweep_path", metavar="SWEEP_CONFIG", type=click.Path(path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Read prices from <DIR>/<TICKER>.csv instead of the config's source.",
)
@click.option(
    "--metric", default=None, help="Rank by this statistic (default: sweep.metric or sharpe)."
)
@click.option("--top", type=click.IntRange(min=1), default=None, help="Rows of the best to print.")
@click.option(
    "--heatmap",
    nargs=2,
    default=None,
    metavar="X Y",
    help="Two swept parameters for the heatmap (full or trailing names).",
)
@click.option(
    "--max-combos",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Refuse grids with more combinations than this.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder to write (default: runs/<name>-sweep-<timestamp>/).",
)
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout.")
@click.option(
    "--subperiods",
    type=click.IntRange(min=2),
    default=16,
    show_default=True,
    help="Sub-periods of the PBO cross-validation (even; C(S, S/2) splits).",
)
@click.option(
    "--walk-forward",
    "walk_forward",
    default=None,
    metavar="SPEC",
    help="Walk-forward instead of one sweep: train=3y,test=1y[,step=1y] (units y, m, d).",
)
@click.option(
    "--tearsheet",
    is_flag=True,
    help="Also write tearsheet.html (one offline HTML page) into the folder.",
)
def sweep(
    sweep_path: Path,
    data_dir: Path | None,
    metric: str | None,
    top: int | None,
    heatmap: tuple[str, str] | None,
    max_combos: int,
    out: Path | None,
    as_json: bool,
    tearsheet: bool,
    subperiods: int = 16,
    walk_forward: str | None = None,
) -> None:
    """Evaluate every parameter combination of SWEEP_CONFIG in one vectorized pass."""
    from engine.sweep_config import load_sweep

    overrides = {"source": "csv", "dir": data_dir} if data_dir is not None else {}
    spec, options = load_sweep(sweep_path, max_combos=max_combos, **overrides)

    options = options.model_copy(
        update={
            k: v
            for k, v in {"metric": metric, "top": top, "heatmap": heatmap}.items()
            if v is not None
        }
    )
    import time

    from rich.console import Console
    from rich.progress import Progress

    from engine.data import make_source
    from engine.report import sweep_rich, write_sweep
    from engine.sweep import run_sweep
    from engine.sweep_summary import check_options, summarize

    check_options(spec, options)  # bad metric or heatmap axis: fail before any work
    if subperiods % 2:
        from engine.errors import RotationError

        raise RotationError(
            f"--subperiods {subperiods}: must be even (halves in and out of sample)"
        )
    if walk_forward is not None:
        _walk_forward(spec, options.metric, walk_forward, sweep_path, out, as_json)
        return
    from engine.overfitting import MAX_TRIALS, add_to_summary

    console = Console(stderr=True)
    began = time.perf_counter()
    with Progress(console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"{spec.size:,} combinations", total=spec.size)
        result = run_sweep(
            spec,
            make_source(spec.base.data),
            progress=lambda done, total: bar.update(task, completed=done),
            keep_values=spec.size <= MAX_TRIALS,
        )
    seconds = time.perf_counter() - began
    table, summary, figure = summarize(spec, options, result, seconds)
    add_to_summary(summary, spec, result, subperiods)
    from engine.provenance import library_versions

    manifest = {
        "sweep_path": str(sweep_path),
        "config_sha256": spec.base.hash(),
        "versions": library_versions(),
    }
    folder = write_sweep(
        out or _default_run_dir(f"{spec.base.name}-sweep"), table, summary, manifest, figure
    )
    page = _tearsheet(folder) if tearsheet else None
    if as_json:
        click.echo((folder / "summary.json").read_text(), nl=False)
        _echo_page(page, err=True)
        return
    top_rows = table.loc[[row["row"] for row in summary["top"]]]
    Console().print(
        sweep_rich(
            top_rows,
            [a.name for a in spec.axes],
            summary["metric"],
            f"Top {len(top_rows)} of {spec.size:,} by {summary['metric']}",
        )
    )
    for line in summary["notes"]:
        Console().print(line)
    Console().print(f"Sweep folder: {folder}")
    _echo_page(page)


@main.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Read prices from <DIR>/<TICKER>.csv instead of the config's source.",
)
@click.option("--start", type=DATE, default=None, help="Override data.start (YYYY-MM-DD).")
@click.option("--end", type=DATE, default=None, help="Override data.end (YYYY-MM-DD).")
@click.option(
    "--cuts", type=click.IntRange(min=1), default=5, show_default=True, help="Random cut dates."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the cuts and noise.")
@click.option("--json", "as_json", is_flag=True, help="Print the audit as JSON, no table.")
def audit(
    config_path: Path, data_dir: Path | None, start, end, cuts: int, seed: int, as_json: bool
) -> None:
    """Check CONFIG for look-ahead: rerun it with the prices after random cut dates
    replaced by noise; nothing up to a cut may change. Exit code 0 clean, 1 leaking."""
    import json

    from engine.audit import audit as run_audit
    from engine.audit import audit_table
    from engine.config import load_config
    from engine.data import make_source
    from engine.report import clean_json

    overrides = {"start": _date(start), "end": _date(end)}
    if data_dir is not None:
        overrides |= {"source": "csv", "dir": data_dir}
    config = load_config(config_path, **overrides)
    report = run_audit(config, make_source(config.data), cuts, seed, str(config_path))
    if as_json:
        click.echo(json.dumps(clean_json(report.as_dict()), indent=2))
    else:
        from rich.console import Console

        Console().print(audit_table(report))
    leak = report.first_leak
    if leak is None:
        if not as_json:
            click.echo(f"Clean: nothing up to any of the {len(report.cuts)} cut dates changed.")
        return
    what = f"signal {', '.join(leak.signals)}" if leak.signals else ", ".join(leak.items)
    click.echo(
        f"Look-ahead: {what} changed on {leak.first_date.date()} when prices after "
        f"{leak.cut.date()} were replaced by noise",
        err=True,
    )
    raise SystemExit(1)


@main.command("tearsheet")
@click.argument("folder", metavar="FOLDER", type=click.Path(path_type=Path))
def tearsheet_command(folder: Path) -> None:
    """Rebuild FOLDER/tearsheet.html from a run, comparison or sweep folder (no backtest)."""
    _echo_page(_tearsheet(folder))


def _tearsheet(folder: Path) -> Path:
    from engine.tearsheet import write_tearsheet

    return write_tearsheet(folder)


def _echo_page(page: Path | None, err: bool = False) -> None:
    """The tearsheet's path; on stderr when stdout carries JSON."""
    if page is not None:
        click.echo(f"Tearsheet: {page}", err=err)


def _walk_forward(spec, metric: str, text: str, sweep_path: Path, out, as_json: bool) -> None:
    """`rotation sweep --walk-forward SPEC`: choose on each training window, test on the next."""
    from rich.console import Console

    from engine.data import make_source
    from engine.provenance import library_versions
    from engine.walkforward import (
        parse_spec,
        summary_table,
        walk_forward,
        windows_table,
        write_walkforward,
    )

    wf = parse_spec(text)
    result = walk_forward(spec, make_source(spec.base.data), wf, metric)
    manifest = {
        "sweep_path": str(sweep_path),
        "config_sha256": spec.base.hash(),
        "versions": library_versions(),
    }
    folder = write_walkforward(
        out or _default_run_dir(f"{spec.base.name}-walkforward"), result, manifest
    )
    if as_json:
        click.echo((folder / "walkforward.json").read_text(), nl=False)
        return
    console = Console()
    console.print(summary_table(result))
    console.print(windows_table(result))
    console.print(f"Walk-forward folder: {folder}")


from engine.cli_data import data_group  # noqa: E402  (imports only click)

main.add_command(data_group)

if __name__ == "__main__":
    main()
