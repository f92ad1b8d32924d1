"""`rotation timing` (imports only click): every decision day of a config, side by side."""

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
from engine.limits import MAX_TRANCHES


@click.command("timing")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@data_dir_option
@window_options
@click.option(
    "--tranches",
    type=click.IntRange(min=2, max=MAX_TRANCHES),
    default=None,
    metavar="N",
    help="Tranches of the blend shown beside the days (default: the config's, else 4).",
)
@out_option("<name>-timing")
@json_option("timing.json")
@tearsheet_option
def timing_command(
    config_path: Path,
    data_dir: Path | None,
    start,
    end,
    tranches: int | None,
    out: Path | None,
    as_json: bool,
    tearsheet: bool,
) -> None:
    """How much of CONFIG's result is the luck of its decision day: every decide_day of
    its period (1..L and -L..-1; L = 5 weekly, 21 monthly, 63 quarterly, 252 annual) and
    the blend of N tranches, in one pass; writes a timing folder."""
    from engine.config.load import load_config
    from engine.data import make_source
    from engine.report import plain
    from engine.report.folders import link_latest
    from engine.report.timing_report import timing_sentence, timing_table, write_timing
    from engine.research.timing import timing

    config = load_config(config_path, **overrides(data_dir, start, end))
    check_output(out, config.name, config_path, "-timing")
    result = timing(config, make_source(config.data), tranches, str(config_path))
    folder = write_timing(
        out or default_run_dir(f"{config.name}-timing"),
        result,
        _manifest(result, config, config_path),
    )
    link_latest(folder)
    page = tearsheet_page(folder, tearsheet)
    if as_json:
        from engine.terminal import say

        click.echo((folder / "timing.json").read_text(), nl=False)
        say(f"Timing folder: {folder}", err=True)
        echo_page(page, err=True)
        return
    from rich.console import Console

    console = Console()
    console.print(timing_table(result))
    console.print(plain(timing_sentence(result)))
    console.print(plain(f"Timing folder: {folder}"))
    echo_page(page)


def _manifest(result, config, config_path: Path) -> dict:
    import datetime as dt

    from engine.report.paths import scrub, shown_path
    from engine.report.provenance import combined_sha256, library_versions

    return {
        "name": result.name,
        "config_path": shown_path(config_path),
        "config_sha256": config.hash(),
        "data_sha256": combined_sha256(result.data),
        "data": result.data,
        "benchmark": result.benchmark_label,
        "initial_cash": result.initial_cash,
        "warnings": scrub(result.warnings),
        "versions": library_versions(),
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
