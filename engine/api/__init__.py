"""The Python API for notebooks: every command of `rotation` as a function returning values.

    from engine import api

    config = api.load("configs/smallcap_breakout_eth.yaml", data_dir="../shared/data")
    run = api.run(config)          # or api.run("configs/....yaml", data_dir=...), or a dict
    run.values, run.weights, run.trades, run.signals, run.stats, run.portfolio
    table = api.sweep("configs/sweeps/weights_costs.yaml", data_dir="../shared/data")
    api.compare([...]), api.walk_forward(sweep, "train=3y,test=1y"), api.audit(config),
    api.signal(config), api.check(path), api.kinds(), api.schema(), api.timing(config)

A blend file (or a config with `execution.tranches`) loads as an
`engine.config.blend.Blend`, a `Config` of its own: every function takes it.

Each function goes through the code its command runs (no second implementation) and
returns a typed result (`Run`, a results table, or the engine's own result types, listed
in `__all__` and imported when first used). Prices come from `data_dir`
(``<DIR>/<TICKER>.csv``, like ``--data-dir``), else from the config's own source
(yfinance through the cache, csv, synthetic), or from any `source` given (e.g.
`engine.data.MemorySource` of frames in memory). Nothing is written to disk. A bad
argument is one `engine.errors.RotationError` naming it. Only the standard library is
imported here; pandas, vectorbt and the engine are imported when a function is called.
"""

from __future__ import annotations

import importlib

from engine.api._answers import check, kinds, schema, signal
from engine.api._research import audit, compare, timing, walk_forward
from engine.api._runs import Run, load, run, sweep

RESULT_TYPES = {
    "AuditReport": "engine.research.audit",
    "Checked": "engine.checking",
    "Comparison": "engine.research.compare",
    "KindField": "strategies.catalog",
    "KindInfo": "strategies.catalog",
    "SignalState": "engine.answer",
    "TimingResult": "engine.research.timing",
    "WalkForwardResult": "engine.research.walkforward",
}
"""The result types the functions return, by the module that defines them."""

__all__ = [
    "AuditReport",
    "Checked",
    "Comparison",
    "KindField",
    "KindInfo",
    "Run",
    "SignalState",
    "TimingResult",
    "WalkForwardResult",
    "audit",
    "check",
    "compare",
    "kinds",
    "load",
    "run",
    "schema",
    "signal",
    "sweep",
    "timing",
    "walk_forward",
]


def __getattr__(name: str) -> object:
    """A result type, imported on first use (PEP 562): `import engine.api` stays light."""
    if name in RESULT_TYPES:
        return getattr(importlib.import_module(RESULT_TYPES[name]), name)
    raise AttributeError(f"module 'engine.api' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The API alone (PEP 562): `dir(engine.api)` and tab completion show what `__all__`
    lists, not its private modules or the names its annotations import."""
    return list(__all__)
