"""Shared fixtures: the reference price folder and small hand-made markets."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CONFIGS = REPO / "configs"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout; tests that need it skip when it is absent."""
    if not (SHARED_DATA / "SPY.csv").is_file():
        pytest.skip(
            f"reference prices not found at {SHARED_DATA} (CI places shared/ beside the repo)"
        )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real price cache."""
    monkeypatch.setenv("ROTATION_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
