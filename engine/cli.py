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
def run(
    config_path: Path, data_dir: Path | None, start, end, out: Path | None, as_json: bool
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
    source = make_source(config.data.source, config.data.dir)
    result = run_backtest(config, source)
    origin = f"csv:{config.data.dir}" if config.data.source == "csv" else "yfinance"
    folder = write_run_folder(
        out or _default_run_dir(config.name), result, manifest(result, str(config_path), origin)
    )
    if as_json:
        click.echo(stats_json(result.stats), nl=False)
        return
    from rich.console import Console

    console = Console()
    console.print(stats_table(result.stats, config.name))
    console.print(f"Run folder: {folder}")


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
def compare(
    config_paths: tuple[Path, ...],
    data_dir: Path | None,
    sort_by: str | None,
    out: Path | None,
    as_json: bool,
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
    if as_json:
        click.echo((folder / "comparison.json").read_text(), nl=False)
        return
    from rich.console import Console

    console = Console()
    span = f"{comparison.start.date()} → {comparison.end.date()}"
    console.print(
        comparison_rich(table, f"Common range {span} ({len(comparison.results[0].dates)} days)")
    )
    console.print(f"Comparison folder: {folder}")


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
def sweep(
    sweep_path: Path,
    data_dir: Path | None,
    metric: str | None,
    top: int | None,
    heatmap: tuple[str, str] | None,
    max_combos: int,
    out: Path | None,
    as_json: bool,
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
    console = Console(stderr=True)
    began = time.perf_counter()
    with Progress(console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"{spec.size:,} combinations", total=spec.size)
        result = run_sweep(
            spec,
            make_source(spec.base.data.source, spec.base.data.dir),
            progress=lambda done, total: bar.update(task, completed=done),
        )
    seconds = time.perf_counter() - began
    table, summary, figure = summarize(spec, options, result, seconds)
    from engine.provenance import library_versions

    manifest = {
        "sweep_path": str(sweep_path),
        "config_sha256": spec.base.hash(),
        "versions": library_versions(),
    }
    folder = write_sweep(
        out or _default_run_dir(f"{spec.base.name}-sweep"), table, summary, manifest, figure
    )
    if as_json:
        click.echo((folder / "summary.json").read_text(), nl=False)
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


if __name__ == "__main__":
    main()
