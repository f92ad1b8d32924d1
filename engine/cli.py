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


if __name__ == "__main__":
    main()
