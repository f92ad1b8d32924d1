"""What a run was made from: config hash, data hashes and ranges, library versions."""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from importlib import metadata

from engine.data import describe
from engine.data.series import describe_series

LIBRARIES = ("rotation", "vectorbt", "numba", "numpy", "pandas", "yfinance", "pydantic", "pyarrow")


def library_versions() -> dict[str, str]:
    """Installed version of each library the numbers depend on (and Python)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def data_origin(data) -> str:
    """Where prices came from, for the record: csv:<dir>, synthetic:seed=<n> or yfinance."""
    if data.source == "csv":
        return f"csv:{data.dir}"
    if data.source == "synthetic":
        return f"synthetic:seed={data.seed or 0}"
    return "yfinance"


def manifest(result, config_path: str | None) -> dict:
    """The manifest of a BacktestResult (the only artifact that records wall-clock time).
    `data` holds each ticker's record, then each external series' (with its file's sha256,
    `file` and `lag_days`)."""
    data = describe(result.prices) | describe_series(getattr(result, "series", {}))
    combined = hashlib.sha256("".join(d["sha256"] for d in data.values()).encode()).hexdigest()
    return {
        "name": result.config.name,
        "config_path": config_path,
        "config_sha256": result.config.hash(),
        "data_source": data_origin(result.config.data),
        "data_sha256": combined,
        "data": data,
        "backtest": {
            "start": str(result.dates[0].date()),
            "end": str(result.dates[-1].date()),
            "days": len(result.dates),
        },
        "warnings": list(getattr(result, "warnings", [])),
        "versions": library_versions(),
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
