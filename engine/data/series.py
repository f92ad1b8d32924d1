"""External series (docs/series.md): dated values that are not prices, from local CSV files.

A valuation, a rate or a macro figure (`data.series` in a config) is one value per
date at any spacing: daily, monthly, quarterly or irregular. Its file has a header
row naming a ``Date`` column (any letter case) and the value column the config
names (``Value`` by default; matched exactly, else ignoring letter case); other
columns are ignored. Checks, each an error naming the file (and the row):

1. a regular file within the size limits of a price file (engine.data.csvfiles);
2. dates YYYY-MM-DD (a time after the date is allowed) in the years `YEARS`,
   strictly increasing (oldest first, one value per date);
3. a value is a number, finite and within `MAX_VALUE`; an empty value (blank,
   ``null``, ``NaN``, ``none``, ``n/a``, or ``.`` as FRED writes a day without a
   value) drops its row, all of them counted in one warning;
4. at least one value remains.

No gap rule applies. The value dated d is final at 16:00 New York on d + lag_days
(`engine.calendar.release_time`): the engine never reads it before that instant.
`External.sha256` is the sha256 of the file's bytes, recorded in a run's manifest
(which release of the file the run used).

The files are always local, whatever `data.source` gives the prices; this module
never touches the network.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.data.csvfiles import MAX_COLUMNS, MAX_ROWS, MISSING_TEXT, parse_dates, read_bytes
from engine.errors import DataError
from engine.notices import warn_shaped

if TYPE_CHECKING:
    from engine.config import Config

MAX_VALUE = 1e12  # beyond any valuation, rate or index level; larger is a broken cell
EMPTY = MISSING_TEXT | {"."}  # FRED's CSV files write "." for a date without a value
WHAT = "an external series file"


@dataclass(frozen=True)
class External:
    """One external series, loaded and checked.

    Attributes:
        name: its name in `data.series` (what signals call it).
        values: float64 values indexed by their dates (tz-naive midnight, ns, strictly
            increasing, index name ``date``), the series named `name`.
        lag_days: calendar days from a value's date to its release (16:00 New York).
        sha256: of the file's bytes (of the dates and values for one made in memory).
        file: the file's name, for messages and the manifest ('memory' when made in memory).
        dropped: rows dropped for an empty value.
    """

    name: str
    values: pd.Series
    lag_days: int
    sha256: str
    file: str = "memory"
    dropped: int = 0

    @property
    def released(self) -> pd.DatetimeIndex:
        """The release date of each value: its date + `lag_days` (final at 16:00 New York)."""
        return self.values.index + pd.Timedelta(days=self.lag_days)

    def record(self) -> dict:
        """The manifest's record: which release of the file was read."""
        index = self.values.index
        return {
            "sha256": self.sha256,
            "first": str(index[0].date()),
            "last": str(index[-1].date()),
            "rows": int(len(index)),
            "file": self.file,
            "lag_days": self.lag_days,
        }


def external(name: str, values: pd.Series, lag_days: int) -> External:
    """An `External` from values already in memory (tests, notebooks, the audit's perturbed
    copies): `values` indexed by dates, strictly increasing, finite."""
    index = pd.DatetimeIndex(values.index).normalize().as_unit("ns").rename("date")
    numbers = np.asarray(values, dtype=np.float64)
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise DataError(f"series {name}: dates must be strictly increasing")
    if len(numbers) == 0 or not np.isfinite(numbers).all():
        raise DataError(f"series {name}: needs at least one value, all finite")
    digest = hashlib.sha256(index.asi8.tobytes() + numbers.tobytes()).hexdigest()
    return External(name, pd.Series(numbers, index=index, name=name), int(lag_days), digest)


def series_path(config: Config, name: str) -> Path:
    """The file of series `name`: its `file` (made absolute against the config file when
    loaded), else ``<data.dir>/<NAME>.csv`` (the config refuses a missing file without a
    data folder)."""
    spec = config.data.series[name]
    if spec.file is not None:
        return Path(spec.file)
    return Path(config.data.dir) / f"{name}.csv"


def _table(blob: bytes, path: Path, column: str) -> pd.DataFrame:
    """The file's cells as text, with a header row; refused when too wide or too long."""
    first = blob.split(b"\n", 1)[0]
    if first.count(b",") + 1 > MAX_COLUMNS:
        raise DataError(f"{path}: more than {MAX_COLUMNS} columns; keep Date and the value column")
    if max(blob.count(b"\n"), blob.count(b"\r")) > MAX_ROWS:
        raise DataError(f"{path}: more than {MAX_ROWS:,} rows; is it the right file?")
    try:
        return pd.read_csv(io.BytesIO(blob), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path}: the file is empty; it needs a header row (Date,{column}) and values"
        ) from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it as CSV ({' '.join(str(exc).split())})") from None


def _find(table: pd.DataFrame, wanted: str) -> str | None:
    """The header naming `wanted`: exactly, else the one equal to it ignoring case."""
    headers = [str(c) for c in table.columns]
    if wanted in headers:
        return wanted
    folded = [h for h in headers if h.strip().lower() == wanted.strip().lower()]
    return folded[0] if len(folded) == 1 else None


def _columns(table: pd.DataFrame, path: Path, name: str, column: str) -> tuple[str, str]:
    """(date header, value header), or an error listing the headers found."""
    found = [str(c) for c in table.columns]
    date = _find(table, "Date")
    if date is None:
        raise DataError(
            f"{path}: no Date column; found {found}; the header row must name a Date column "
            f"and the value column {column!r}"
        )
    value = _find(table, column)
    if value is None:
        raise DataError(
            f"{path}: no column {column!r} (data.series.{name}.column); found {found}; "
            "set `column:` to the header of the values"
        )
    return date, value


def _increasing(dates: pd.DatetimeIndex, path: Path) -> None:
    steps = np.diff(dates.asi8)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise DataError(
            f"{path}: row {i + 2} has date {dates[i].date()}, not after the row before "
            f"({dates[i - 1].date()}); dates must be strictly increasing (oldest first, one "
            "value per date)"
        )


def _numbers(cells: pd.Series, dates: pd.DatetimeIndex, path: Path, column: str) -> np.ndarray:
    """Value cells -> floats, NaN for an empty cell; anything else that is not a finite
    number within MAX_VALUE is an error naming its row."""
    text = cells.str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    empty = text.str.lower().isin(EMPTY).to_numpy()
    with np.errstate(invalid="ignore"):
        wrong = (np.isnan(numbers) & ~empty) | np.isinf(numbers) | (np.abs(numbers) > MAX_VALUE)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        what = "not a number" if np.isnan(numbers[row]) else f"not within ±{MAX_VALUE:g}"
        raise DataError(
            f"{path}: {column} on {dates[row].date()} (row {row + 2}) is "
            f"{text.iloc[row]!r}, {what}; fix or delete that row"
        )
    return np.where(empty, np.nan, numbers)


def read_series(path: Path, name: str, column: str, lag_days: int) -> External:
    """Series `name` from the CSV file `path` (the checks of the module docstring).

    Raises:
        DataError: one line naming the file, and the row where one is at fault.
    """
    if not path.exists():
        raise DataError(
            f"{path}: no such file (data.series.{name}); put the file there or fix "
            f"data.series.{name}.file (relative to the config file)"
        )
    blob = read_bytes(path, WHAT)
    table = _table(blob, path, column)
    date, value = _columns(table, path, name, column)
    dates = parse_dates(table[date], path, 2)
    _increasing(dates, path)
    numbers = _numbers(table[value], dates, path, column)
    kept = ~np.isnan(numbers)
    if not kept.any():
        raise DataError(f"{path}: no values in column {value!r}; data.series.{name} needs one")
    dropped = int((~kept).sum())
    if dropped:
        first = dates[~kept][0].date()
        warn_shaped(
            f"data.series.{name}: {dropped} empty value(s) in {path.name} dropped (first on "
            f"{first}); the series has {int(kept.sum())} value(s)"
        )
    index = dates[kept].as_unit("ns").rename("date")
    values = pd.Series(numbers[kept], index=index, name=name)
    digest = hashlib.sha256(blob).hexdigest()
    return External(name, values, int(lag_days), digest, path.name, dropped)


def load_series(config: Config) -> dict[str, External]:
    """Every external series the config declares, read from its file."""
    return {
        name: read_series(series_path(config, name), name, spec.column, spec.lag_days)
        for name, spec in config.data.series.items()
    }


def as_prices(series: Mapping[str, External]) -> dict[str, pd.DataFrame]:
    """Each series as a frame with a ``Close`` column, the shape a signal kind reads its
    input from (`SignalKind.source`): a ratio with a ticker or another series then
    follows the one ratio rule (the dates both legs have)."""
    return {name: s.values.to_frame("Close") for name, s in series.items()}


def describe_series(series: Mapping[str, External]) -> dict[str, dict]:
    """Per series, the manifest's record (`External.record`), sorted by name."""
    return {name: series[name].record() for name in sorted(series)}
