"""`rotation sweep` (with walk-forward) and `rotation audit` (imports only click)."""

from __future__ import annotations

from pathlib import Path

import click

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


@click.command()
@click.argument("sweep_path", metavar="SWEEP_CONFIG", type=click.Path(path_type=Path))
@data_dir_option
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
@out_option("<name>-sweep")
@json_option("summary.json")
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
@tearsheet_option
def sweep(
    sweep_path: Path,
    data_dir: Path | None,
    metric: str | None,
    top: int | None,
    heatmap: tuple[str, str] | None,
    max_combos: int,
    out: Path | None,
    as_json: bool,
    subperiods: int,
    walk_forward: str | None,
    tearsheet: bool,
) -> None:
    """Evaluate every parameter combination of SWEEP_CONFIG in one vectorized pass."""
    from engine.errors import RotationError
    from engine.research.sweep_config import load_sweep
    from engine.research.sweep_summary import check_options

    spec, options = load_sweep(sweep_path, max_combos=max_combos, **overrides(data_dir))
    given = {"metric": metric, "top": top, "heatmap": heatmap}
    options = options.model_copy(update={k: v for k, v in given.items() if v is not None})
    check_options(spec, options)  # bad metric or heatmap axis: fail before any work
    if subperiods % 2:
        raise RotationError(
            f"--subperiods {subperiods}: must be even (halves in and out of sample)"
        )
    manifest = _manifest(spec, sweep_path)
    if walk_forward is not None:
        from engine.research.walkforward import parse_spec

        parsed = parse_spec(walk_forward)
        check_output(out, spec.base.name, sweep_path, "-walkforward")
        _walk_forward(spec, options.metric, parsed, manifest, out, as_json)
        return
    check_output(out, spec.base.name, sweep_path, "-sweep")
    folder, table, summary = _sweep(spec, options, subperiods, manifest, out, as_json)
    page = tearsheet_page(folder, tearsheet)
    if as_json:
        click.echo((folder / "summary.json").read_text(), nl=False)
        echo_page(page, err=True)
        return
    from rich.console import Console

    from engine.report import sweep_rich

    console = Console()
    top_rows = table.loc[[row["row"] for row in summary["top"]]]
    title = f"Top {len(top_rows)} of {spec.size:,} by {summary['metric']}"
    console.print(sweep_rich(top_rows, [a.name for a in spec.axes], summary["metric"], title))
    for line in summary["notes"]:
        console.print(line)
    console.print(f"Sweep folder: {folder}")
    echo_page(page)


def _manifest(spec, sweep_path: Path) -> dict:
    from engine.report.provenance import library_versions

    return {
        "sweep_path": str(sweep_path),
        "config_sha256": spec.base.hash(),
        "versions": library_versions(),
    }


KEEP_VALUES = 50_000
"""Largest grid whose daily values a sweep keeps for the overfitting odds (about 0.9 GB
at 2,200 dates); above it the odds are skipped and the summary says so."""


def _sweep(spec, options, subperiods: int, manifest: dict, out: Path | None, quiet: bool):
    """Run the grid with a progress bar, summarize it, add the overfitting odds, write it."""
    import time

    from rich.console import Console
    from rich.progress import Progress

    from engine.data import make_source
    from engine.report import write_sweep
    from engine.research.overfitting import add_to_summary
    from engine.research.sweep import run_sweep
    from engine.research.sweep_summary import summarize

    began = time.perf_counter()
    with Progress(console=Console(stderr=True), transient=True, disable=quiet) as bar:
        task = bar.add_task(f"{spec.size:,} combinations", total=spec.size)
        result = run_sweep(
            spec,
            make_source(spec.base.data),
            progress=lambda done, total: bar.update(task, completed=done),
            keep_values=spec.size <= KEEP_VALUES,  # the odds read the daily returns
        )
    table, summary, figure = summarize(spec, options, result, time.perf_counter() - began)
    manifest = {**manifest, "data": result.data, "warnings": result.warnings}
    add_to_summary(summary, spec, result, subperiods)
    destination = out or default_run_dir(f"{spec.base.name}-sweep")
    return write_sweep(destination, table, summary, manifest, figure), table, summary


def _walk_forward(spec, metric: str, wf, manifest: dict, out: Path | None, as_json: bool) -> None:
    """`rotation sweep --walk-forward SPEC`: choose on each training window, test on the next."""
    from rich.console import Console

    from engine.data import make_source
    from engine.research.walkforward import (
        summary_table,
        walk_forward,
        windows_table,
        write_walkforward,
    )

    result = walk_forward(spec, make_source(spec.base.data), wf, metric)
    destination = out or default_run_dir(f"{spec.base.name}-walkforward")
    folder = write_walkforward(destination, result, manifest)
    if as_json:
        click.echo((folder / "walkforward.json").read_text(), nl=False)
        return
    console = Console()
    console.print(summary_table(result))
    console.print(windows_table(result))
    console.print(f"Walk-forward folder: {folder}")


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@data_dir_option
@window_options
@click.option(
    "--cuts", type=click.IntRange(min=1), default=5, show_default=True, help="Random cut dates."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the cuts and noise.")
@json_option("the audit as JSON, no table,")
def audit(
    config_path: Path, data_dir: Path | None, start, end, cuts: int, seed: int, as_json: bool
) -> None:
    """Check CONFIG for look-ahead: rerun it with the prices after random cut dates
    replaced by noise; nothing up to a cut may change. Exit code 0 clean, 1 leaking."""
    import json

    from engine.config import load_config
    from engine.data import make_source
    from engine.report import clean_json
    from engine.research.audit import audit as run_audit
    from engine.research.audit import audit_table

    config = load_config(config_path, **overrides(data_dir, start, end))
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
