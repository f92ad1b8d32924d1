"""Shared fixtures: the reference price folder and small hand-made markets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI included): a failure is the
# code's, reproducible, never a new draw's. HYPOTHESIS_PROFILE=explore draws afresh.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CONFIGS = REPO / "configs"


def docs_module(name: str):
    """The script docs/<name>.py as a module (docs/ is no package: figures.py, reference.py),
    loaded once per session."""
    import importlib.util
    import sys

    key = f"docs_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, REPO / "docs" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


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


STOP_SIGNALS = ("SIGHUP", "SIGINT", "SIGTERM")


def deliver_stop_signals() -> None:
    """Give SIGHUP, SIGINT and SIGTERM their default dispositions. Under `nohup` or in a
    background job they arrive ignored, and the commands rightly keep an ignored signal
    ignored; tests that stop a command with one need it delivered. Used in-process and as
    a subprocess's preexec_fn."""
    import signal

    for name in STOP_SIGNALS:
        signum = getattr(signal, name)
        if signal.getsignal(signum) is signal.SIG_IGN:
            default = signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL
            signal.signal(signum, default)


@pytest.fixture
def stop_signals_delivered():
    """`deliver_stop_signals` for one test, the dispositions restored after it."""
    import signal

    saved = {name: signal.getsignal(getattr(signal, name)) for name in STOP_SIGNALS}
    deliver_stop_signals()
    yield
    for name, handler in saved.items():
        signal.signal(getattr(signal, name), handler)
