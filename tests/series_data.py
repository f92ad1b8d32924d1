"""Small SYNTHETIC external series for the tests (docs/series.md): made up in the test,
never real valuation or rate data (the project ships none).

`write_series` writes a `Date,Value` file (optionally with empty cells);
`synthetic_pe` makes two month-end "P/E" series whose ratio wanders across 1.0 and
whose 3-month changes switch sign often, so that signals on them turn on and off.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def write_series(
    path: Path,
    dates: Sequence,
    values: Sequence[float | None],
    column: str = "Value",
) -> Path:
    """A CSV file `Date,<column>` (a None value is an empty cell), parents created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"Date,{column}"]
    for day, value in zip(dates, values, strict=True):
        cell = "" if value is None else repr(float(value))
        lines.append(f"{pd.Timestamp(day).date()},{cell}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def synthetic_pe(seed: int = 7, first: str = "1999-01-31", last: str = "2026-08-31"):
    """(month-end dates, R2K-like values, SPX-like values): SPX around 20, R2K around
    1.05 times it with a slow swing of +-15% and monthly noise (synthetic)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(first, last, freq="ME")
    spx = 20 * np.exp(np.cumsum(rng.normal(0, 0.03, len(dates))) * 0.5)
    swing = 0.15 * np.sin(np.arange(len(dates)) / 9.0)
    r2k = spx * 1.05 * (1 + swing) * np.exp(rng.normal(0, 0.04, len(dates)))
    return dates, np.round(r2k, 4), np.round(spx, 4)


def write_pe_folder(folder: Path, seed: int = 7) -> None:
    """`folder/pe/R2K_PE.csv` and `folder/pe/SPX_PE.csv`, synthetic (see `synthetic_pe`)."""
    dates, r2k, spx = synthetic_pe(seed)
    write_series(folder / "pe" / "R2K_PE.csv", dates, r2k)
    write_series(folder / "pe" / "SPX_PE.csv", dates, spx)
