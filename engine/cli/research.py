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
from engine.terminal import say


@click.command()
@click.argument("sweep_path", metavar="SWEEP_CONFIG", type=click.Path(path_type=Path))
@data_dir_option
@window_options
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
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Run the chunks of combinations on a local Dask cluster of N worker processes "
    "(at most 4x the CPU cores).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run them on a running Dask cluster instead (e.g. tcp://10.0.0.5:8786).",
)
@click.option(
    "--timeout",
    type=float,
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How long --scheduler waits to connect and for the scheduler's first reply.",
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FOLDER",
    help="Continue an interrupted sweep from its finished chunks (<out>.partial).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Combinations per chunk (a task on a cluster); default: sized to memory, or "
    "$ROTATION_SWEEP_CHUNK.",
)
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    default=False,
    help="Also write results.csv above 10,000 combinations (up to that, it always is).",
)
@tearsheet_option
def sweep(
    sweep_path: Path,
    data_dir: Path | None,
    start,
    end,
    metric: str | None,
    top: int | None,
    heatmap: tuple[str, str] | None,
    max_combos: int,
    out: Path | None,
    as_json: bool,
    subperiods: int,
    walk_forward: str | None,
    tearsheet: bool,
    workers: int | None,
    scheduler: str | None,
    timeout: float,
    resume: Path | None,
    chunk_size: int | None,
    as_csv: bool,
) -> None:
    """Evaluate every parameter combination of SWEEP_CONFIG in one vectorized pass."""
    from engine.errors import RotationError
    from engine.research.distributed import check_cluster
    from engine.research.sweep_config import load_sweep
    from engine.research.sweep_summary import check_options

    check_cluster(workers, scheduler, timeout)  # before any work
    spec, options = load_sweep(sweep_path, max_combos=max_combos, **overrides(data_dir, start, end))
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
        if resume is not None:
            raise RotationError("--resume: continues a sweep, not a --walk-forward")
        cluster = {"workers": workers, "scheduler": scheduler, "timeout": timeout}
        _walk_forward(spec, options.metric, parsed, manifest, out, as_json, cluster, tearsheet)
        return
    if resume is not None and out is None:
        from engine.research.distributed import resumed_destination

        out = resumed_destination(resume)  # X.partial completes X
    check_output(out, spec.base.name, sweep_path, "-sweep")
    cluster = {"workers": workers, "scheduler": scheduler, "timeout": timeout}
    folder, table, summary, timing = _sweep(
        spec, options, subperiods, manifest, out, as_json, cluster, resume, chunk_size, as_csv
    )
    from engine.report.folders import link_latest

    link_latest(folder)
    page = tearsheet_page(folder, tearsheet)
    if as_json:
        click.echo((folder / "summary.json").read_text(), nl=False)
        echo_page(page, err=True)
        return
    from rich.console import Console

    from engine.report import plain

    _print_sweep(spec, table, summary, timing)
    Console().print(plain(f"Sweep folder: {folder}"))  # wrapped to the terminal, escaped
    echo_page(page)


def _print_sweep(spec, table, summary: dict, timing: dict) -> None:
    """One table of the best per scenario (headed by the scenario's values), then the notes,
    then what the time went on."""
    from rich.console import Console

    from engine.report import plain, sweep_rich
    from engine.research.sweep_config import short_names

    console = Console()
    short = short_names([a.name for a in spec.axes])
    choices = [a.name for a in spec.choices] or [a.name for a in spec.axes]
    metric = summary["metric"]
    table = table[table["ranked_by"] == summary["metric"]].set_index("row")
    for block in summary["scenarios"]:
        rows = table.loc[[row["row"] for row in block["top"]]]
        title = f"Top {len(rows)} of {block['combinations']:,} by {metric}"
        if block["label"]:
            title = f"{block['label']}: {title.lower()}"
        console.print(sweep_rich(rows, choices, metric, title, short))
        for line in block.get("notes", []):
            console.print(plain(line))
    shown = {line for block in summary["scenarios"] for line in block.get("notes", [])}
    for line in summary["notes"]:
        if line not in shown:
            console.print(plain(line))
    console.print(timing_line(summary["combinations"], timing))


def timing_line(combinations: int, timing: dict) -> str:
    """`2,000 combinations in 3.10 s end to end (load 0.40, ...)`."""
    parts = ", ".join(f"{what} {seconds:.2f}" for what, seconds in timing["parts"].items())
    return (
        f"{combinations:,} combinations in {timing['total']:.2f} s end to end "
        f"({parts}; numba's compilation included on a first run)."
    )


def _manifest(spec, sweep_path: Path) -> dict:
    from engine.report.paths import shown_path
    from engine.report.provenance import library_versions

    return {
        "sweep_path": shown_path(sweep_path),
        "config_sha256": spec.base.hash(),
        "versions": library_versions(),
    }


def _sweep(
    spec,
    options,
    subperiods: int,
    manifest: dict,
    out: Path | None,
    quiet: bool,
    cluster: dict | None = None,
    resume: Path | None = None,
    chunk_size: int | None = None,
    as_csv: bool = False,
):
    """Run the grid with a progress bar, each chunk's results part written where it is
    computed and reduced (engine.research.streamed), summarize the reduction, add the
    odds on a recomputed sample, write the folder (engine.report.sweep_folder).

    The chunk store (`<folder>.partial`) outlives everything up to the sweep folder's
    rename into place (engine.research.distributed.kept_store): a stop or a failure in
    the summary, the odds or the writing keeps the finished chunks for --resume.
    Returns (folder, the top table, summary, timing).
    """
    import time
    from contextlib import ExitStack

    from rich.console import Console
    from rich.progress import Progress

    from engine.data import make_source
    from engine.report.paths import scrub
    from engine.report.sweep_folder import write_sweep
    from engine.research.distributed import partial_folder
    from engine.research.parts import CSV_ROWS
    from engine.research.streamed import peak_rss_mb, streamed, wait_closed

    source = _TimedSource(make_source(spec.base.data))
    destination = out or default_run_dir(f"{spec.base.name}-sweep")
    clock = time.perf_counter()
    with ExitStack() as sweeping:
        sweeping.callback(wait_closed)
        with Progress(console=Console(stderr=True), transient=True, disable=quiet) as bar:
            task = bar.add_task(f"{spec.size:,} combinations", total=spec.size)
            done = sweeping.enter_context(
                streamed(
                    spec,
                    options,
                    source,
                    progress=lambda n, total: bar.update(task, completed=n),
                    **(cluster or {}),
                    resume=resume,
                    store=partial_folder(destination),
                    chunk_size=chunk_size,
                    destination=destination,
                )
            )
        parts = {"load": source.seconds, "plan": done.seconds["plan"] - source.seconds}
        parts |= {k: v for k, v in done.seconds.items() if k != "plan"}
        summary, tables, seconds = _summarized(spec, options, done, subperiods)
        parts |= seconds
        timing = {"parts": parts, "total": time.perf_counter() - clock}
        manifest = {
            **manifest,
            "data": done.plan.data,
            "warnings": scrub(done.warnings),
            # wall-clock figures go to the manifest: summary.json is the same on every run
            "timing": {"parts": dict(parts), "total": timing["total"]},
            "chunk_size": done.plan.chunk,
            "tasks": done.tasks,
            "peak_rss_mb": peak_rss_mb(),
        }
        csv = as_csv or spec.size <= CSV_ROWS
        count = len(done.plan.chunks())
        folder = write_sweep(destination, summary, manifest, done.parts(), count, tables, csv)
    parts["writing"] = time.perf_counter() - clock - timing["total"]
    timing["total"] = time.perf_counter() - clock
    return folder, tables["top.parquet"], summary, timing


def _summarized(spec, options, done, subperiods: int):
    """(summary, the folder's tables, seconds of the summary and of the odds)."""
    import functools
    import time

    import numpy as np

    from engine.report.sweep_folder import histogram_table
    from engine.research.overfitting import add_sampled_odds
    from engine.research.sweep_summary import (
        best_rows,
        curves,
        heatmap_cells,
        summary_of,
        top_frame,
    )

    began = time.perf_counter()
    reduced, plan = done.reduced, done.plan
    summary = summary_of(spec, options, reduced, done.rows_of, plan.dates)
    top = top_frame(reduced, done.rows_of)
    strategy, _ = done.values_of(np.array(best_rows(summary), dtype=np.int64))
    best = curves(
        spec,
        summary,
        plan.dates,
        strategy,
        plan.bench_values,
        plan.bench_keys,
        plan.yield_settings,
    )
    heat = heatmap_cells(spec, summary, reduced)
    histogram = histogram_table(*reduced.histogram())
    summarized = time.perf_counter()
    odds_values = functools.partial(done.values_of, release=True)  # the sample, in place
    add_sampled_odds(summary, spec, reduced, odds_values, subperiods)
    tables = {
        "top.parquet": top,
        "heatmap.csv": heat,
        "histogram.csv": histogram,
        "best_values.csv": best,
    }
    return (
        summary,
        tables,
        {"summary": summarized - began, "odds": time.perf_counter() - summarized},
    )


class _TimedSource:
    """A price source that remembers what it loaded (a second load of the same tickers is
    free) and how long loading took (`seconds`), for the sweep's timing line."""

    def __init__(self, source) -> None:
        self.source, self.seconds, self.frames = source, 0.0, {}

    def load(self, tickers):
        import time

        missing = [t for t in tickers if t not in self.frames]
        if missing:
            began = time.perf_counter()
            self.frames |= self.source.load(missing)
            self.seconds += time.perf_counter() - began
        return {t: self.frames[t] for t in tickers}


def _walk_forward(
    spec,
    metric: str,
    wf,
    manifest: dict,
    out: Path | None,
    as_json: bool,
    cluster: dict | None = None,
    tearsheet: bool = False,
) -> None:
    """`rotation sweep --walk-forward SPEC`: choose on each training window, test on the next;
    with --tearsheet, the walk-forward page too (engine/report/tearsheet_walkforward.py)."""
    from rich.console import Console

    from engine.data import make_source
    from engine.report import plain
    from engine.report.folders import link_latest
    from engine.report.walkforward_tables import summary_table, windows_table
    from engine.research.distributed import walk_forward_on
    from engine.research.walkforward import write_walkforward

    result = walk_forward_on(spec, make_source(spec.base.data), wf, metric, **(cluster or {}))
    destination = out or default_run_dir(f"{spec.base.name}-walkforward")
    manifest = {  # what the page names: the config, its swept axes, its benchmark
        **manifest,
        "name": spec.base.name,
        "description": spec.base.description,
        "axes": [axis.name for axis in spec.axes],
        "benchmark": dict(spec.base.benchmark),
        "initial_cash": spec.base.portfolio.initial_cash,
    }
    folder = write_walkforward(destination, result, manifest)
    link_latest(folder)
    page = tearsheet_page(folder, tearsheet)
    if as_json:
        click.echo((folder / "walkforward.json").read_text(), nl=False)
        echo_page(page, err=True)
        return
    console = Console()
    console.print(summary_table(result))
    console.print(windows_table(result))
    console.print(plain(f"Walk-forward folder: {folder}"))
    echo_page(page)


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
    """Check CONFIG for look-ahead: rerun it with the prices after random cut dates (and
    the external values released after them) replaced by noise; nothing up to a cut may
    change. Exit code 0 clean, 1 leaking."""
    import json

    from engine.config.load import load_config
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
    released = " (and external values released after it)" if config.data.series else ""
    say(
        f"Look-ahead: {what} changed on {leak.first_date.date()} when prices after "
        f"{leak.cut.date()}{released} were replaced by noise",
        err=True,
    )
    raise SystemExit(1)
