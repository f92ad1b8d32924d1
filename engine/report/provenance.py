"""What a run was made from: config hash, data hashes and ranges, library versions."""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from importlib import metadata
from pathlib import Path

from engine.data import describe
from engine.data.series import describe_series
from engine.report.paths import data_origin, scrub, shown_path

LIBRARIES = ("rotation", "vectorbt", "numba", "numpy", "pandas", "yfinance", "pydantic", "pyarrow")


def library_versions() -> dict[str, str]:
    """Installed version of each library the numbers depend on (and Python), then of each
    package that brought a plug-in kind (strategies/plugins.py; none: nothing added)."""
    from strategies.scores import SCORE_KINDS
    from strategies.signals import SIGNAL_KINDS

    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    for registry in (SIGNAL_KINDS, SCORE_KINDS):
        for origin in sorted(registry.plugins().values(), key=str):
            versions[origin.package] = origin.version
    return versions


def combined_sha256(data: dict[str, dict]) -> str:
    """One hash of the prices `describe` described: sha256 of their sha256s in order."""
    return hashlib.sha256("".join(d["sha256"] for d in data.values()).encode()).hexdigest()


def manifest(result, config_path: str | Path | None) -> dict:
    """The manifest of a BacktestResult (the only artifact that records wall-clock time).
    Paths are recorded as engine.report.paths says: never absolute. `data` holds each
    ticker's record, then each external series' (with its file's sha256, `file` and
    `lag_days`)."""
    data = describe(result.prices) | describe_series(getattr(result, "series", {}))
    combined = combined_sha256(data)
    return {
        "name": result.config.name,
        "config_path": shown_path(config_path),
        "config_sha256": result.config.hash(),
        "data_source": data_origin(result.config.data, combined),
        "data_sha256": combined,
        "data": data,
        "backtest": {
            "start": str(result.dates[0].date()),
            "end": str(result.dates[-1].date()),
            "days": len(result.dates),
        },
        "warnings": scrub(list(getattr(result, "warnings", []))),
        "versions": library_versions(),
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
