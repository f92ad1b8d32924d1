"""`rotation data ...`: fetch, list, clear and import the price cache.

Only click is imported here at module level (this module is imported by every
`rotation` command); pandas and the engine are imported inside command bodies.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from engine.terminal import printable, say

DATE = click.DateTime(formats=["%Y-%m-%d"])
COLUMNS = ("ticker", "first", "last", "rows", "age", "source", "status")


@click.group("data")
def data_group() -> None:
    """Manage the price cache (yfinance downloads and imported CSV folders)."""


@data_group.command("fetch")
@click.argument("tickers", metavar="TICKER...", nargs=-1, required=True)
@click.option("--start", type=DATE, default=None, help="Fetch history from this date only.")
@click.option("--refresh", is_flag=True, help="Fetch again even if the cache is up to date.")
def fetch(tickers: tuple[str, ...], start, refresh: bool) -> None:
    """Download TICKERs from yfinance into the cache (only what is missing or stale)."""
    from engine.data import YFinanceSource

    symbols = _symbols(tickers, "fetch")
    source = YFinanceSource(refresh=refresh, history_from=start.date() if start else None)
    frames = source.load(symbols)
    for ticker, frame in frames.items():
        say(f"{ticker}: {frame.index[0].date()} to {frame.index[-1].date()}, {len(frame)} rows")
    say(f"Cache: {source.cache_dir}")


@data_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def list_entries(as_json: bool) -> None:
    """Every cached ticker: range, rows, age and source."""
    import json

    from engine.data import default_cache_dir
    from engine.data.cache import PriceCache

    cache = PriceCache(default_cache_dir())
    with cache.locked():
        rows = [_describe(cache, ticker) for ticker in cache.tickers()]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    from engine.report import plain

    table = Table(title=plain(f"Price cache {cache.directory} ({len(rows)} tickers)"))
    for column in COLUMNS:
        table.add_column(column, justify="right" if column == "rows" else "left")
    for row in rows:
        table.add_row(*(plain("" if row[c] is None else str(row[c])) for c in COLUMNS))
    Console().print(table)


def _describe(cache, ticker: str) -> dict:
    from engine.data.cache import CorruptEntry

    row = dict.fromkeys(COLUMNS)
    row["ticker"] = ticker
    try:
        entry = cache.read(ticker)
    except CorruptEntry as problem:
        return row | {"status": f"corrupt: {problem} (refetched on next use)"}
    meta = entry.meta
    source = meta.source + (f" from {meta.history_from}" if meta.history_from else "")
    return row | {
        "first": meta.first,
        "last": meta.last,
        "rows": meta.rows,
        "age": _age(meta.fetched),
        "source": source,
        "status": "ok",
    }


def _age(fetched: dt.datetime) -> str:
    seconds = max(0.0, (dt.datetime.now(dt.timezone.utc) - fetched).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


@data_group.command("clear")
@click.argument("tickers", metavar="[TICKER...]", nargs=-1)
@click.option("--yes", is_flag=True, help="Clear every ticker without asking (no TICKER given).")
def clear(tickers: tuple[str, ...], yes: bool) -> None:
    """Delete TICKERs from the cache (every ticker, after a confirmation, when none is given)."""
    from engine.data import default_cache_dir
    from engine.data.cache import PriceCache

    wanted = _symbols(tickers, "clear")  # before anything is touched
    cache = PriceCache(default_cache_dir(), strict=True)
    if not wanted and not yes:
        _confirm_clear_all(cache)
    with cache.locked():
        wanted = wanted or cache.tickers()
        removed = [t for t in wanted if cache.remove(t)]
    absent = [t for t in wanted if t not in removed]
    say(
        f"Removed {len(removed)} ticker(s) from {cache.directory}"
        + (f": {', '.join(removed)}" if removed else "")
    )
    if absent:
        say(f"Not in the cache: {', '.join(absent)}")


def _confirm_clear_all(cache) -> None:
    """Ask before clearing every ticker (default No); without a terminal to ask on, refuse."""
    from engine.errors import RotationError

    where = f"every ticker ({len(cache.tickers())}) from the price cache {cache.directory}"
    if not _interactive():
        raise RotationError(
            f"`rotation data clear` without tickers deletes {where}; nothing was deleted "
            "(no terminal to confirm on): pass --yes to clear them all"
        )
    if not click.confirm(printable(f"Delete {where}?"), default=False, err=True):
        click.echo("Nothing was deleted.", err=True)
        raise SystemExit(1)


def _interactive() -> bool:
    """Whether stdin is a terminal a confirmation can be asked on."""
    return sys.stdin is not None and sys.stdin.isatty()


def _symbols(tickers: tuple[str, ...], command: str) -> list[str]:
    """The tickers in capitals, once each; anything but a symbol (a path, ``..``) is an error."""
    from engine.errors import DataError
    from engine.limits import SYMBOL_CHARS, is_symbol

    for ticker in tickers:
        if not is_symbol(ticker):
            raise DataError(
                f"{ticker!r} is not a ticker symbol ({SYMBOL_CHARS}); `rotation data {command}` "
                "takes symbols such as SPY or BTC-USD, not paths"
            )
    return list(dict.fromkeys(t.upper() for t in tickers))


@data_group.command("import")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--max-fill-days",
    type=click.IntRange(0, 30),
    default=3,
    show_default=True,
    help="Longest gap (sessions) forward-filled when validating.",
)
def import_folder(folder: Path, max_fill_days: int) -> None:
    """Validate every DIR/<TICKER>.csv and load it into the cache (for offline runs)."""
    from engine.data import default_cache_dir
    from engine.data.cache import import_csv_folder

    imported = import_csv_folder(folder, default_cache_dir(), max_fill_days)
    for ticker, meta in imported.items():
        say(f"{ticker}: {meta.first} to {meta.last}, {meta.rows} rows")
    say(f"Imported {len(imported)} ticker(s) from {folder} into {default_cache_dir()}")
