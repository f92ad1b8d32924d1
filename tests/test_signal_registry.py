"""Every registered signal kind works end to end through the CLI (issue 11).

A walk over the built-in kinds of `SIGNAL_KINDS` (plug-ins: tests/test_plugins.py): for
each kind a small example entry on the real prices (universe [IWM, SPY], 2023) whose
regimes use it must be (a) accepted by the config, (b) sweepable along each parameter
its kind lets a sweep vary, each combination equal to `rotation run` of its own config,
(c) written to signals.csv and drawn in the tearsheet under its title, and (d) clean in
the look-ahead audit. Then bad entries: each refused by `rotation run` with one `Error:`
line naming the field, exit code 2, no traceback and no run folder.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict
from engine.data import CsvSource, MemorySource
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from strategies.signals import BUILT_IN, SIGNAL_KINDS
from tests.test_sweep import assert_rows_equal_single_runs

NAME = "probe"  # the example signal's name in every config below
SIGNALS_COLUMNS = ["signal", "date", "x", "value", "upper", "lower", "on"]


@dataclass(frozen=True)
class Example:
    """One entry of a kind (without `type`); for each sweepable parameter two values, as
    a list or an inclusive range; the bounds signals.csv must show (None: they move)."""

    entry: dict[str, Any]
    sweeps: dict[str, list[Any] | dict[str, Any]]
    bounds: tuple[float, float] | None = None


def swept(values: list[Any] | dict[str, Any]) -> list[Any]:
    """The values of a sweep list or of an inclusive range {start, stop, step}."""
    if isinstance(values, list):
        return values
    count = int(round((values["stop"] - values["start"]) / values["step"])) + 1
    return [values["start"] + i * values["step"] for i in range(count)]


EXAMPLES: dict[str, Example] = {
    "donchian": Example(
        {"series": "IWM/SPY", "entry": 20, "exit": 10},
        {"entry": [20, 40], "exit": [10, 15]},
    ),
    "sma": Example(
        {"series": "SPY", "window": 50, "band": 0.01},
        {"window": [20, 50], "band": [0.0, 0.01]},
    ),
    "momentum": Example(
        {"series": "IWM/SPY", "lookback": 63, "threshold": 0.0, "band": 0.01},
        {
            # a list of lookbacks is a blend, not an axis: lookback is swept by a range
            "lookback": {"start": 21, "stop": 63, "step": 42},
            "threshold": [0.0, 0.02],
            "band": [0.0, 0.01],
        },
        bounds=(0.01, -0.01),
    ),
    "rsi": Example(
        {"series": "SPY", "window": 14, "enter": 60, "exit": 45},
        {"window": [10, 14], "enter": [60, 70], "exit": [40, 45]},
        bounds=(60.0, 45.0),
    ),
    "level": Example(
        {"series": "^VIX", "above": 18, "below": 15},
        {"above": [18, 20], "below": [14, 15]},
        bounds=(18.0, 15.0),
    ),
    "correlation": Example(
        {"series": "SPY", "other": "BTC-USD", "window": 20, "above": 0.3, "below": 0.1},
        {"window": [20, 40], "above": [0.3, 0.4], "below": [0.0, 0.1]},
        bounds=(0.3, 0.1),
    ),
    "crossover": Example(
        {"series": "SPY", "fast": 20, "slow": 50, "average": "ema", "band": 0.01},
        {"fast": [10, 20], "slow": [50, 100], "band": [0.0, 0.01]},
        bounds=(0.01, -0.01),
    ),
}
KINDS = sorted(BUILT_IN)  # the plug-ins' walk is in tests/test_plugins.py
SWEEPS = [
    (kind, key)
    for kind in KINDS
    for key in (EXAMPLES[kind].sweeps if kind in EXAMPLES else ["(no example)"])
]


def example(kind: str) -> Example:
    if kind not in EXAMPLES:
        pytest.fail(f"signal kind {kind!r} is registered but has no example in EXAMPLES here")
    return EXAMPLES[kind]


def entry(kind: str, **changes: Any) -> dict[str, Any]:
    return {"type": kind, **copy.deepcopy(example(kind).entry), **changes}


def raw_config(signal: dict[str, Any], data_dir: Path | None = None) -> dict[str, Any]:
    """Universe [IWM, SPY] through 2023: 60% SPY (rest cash) while the signal is on."""
    data: dict[str, Any] = {"source": "csv", "start": "2023-01-03", "end": "2023-12-29"}
    if data_dir is not None:
        data["dir"] = str(data_dir)
    return {
        "name": f"registry-{signal['type']}",
        "data": data,
        "universe": ["IWM", "SPY"],
        "signals": {NAME: signal},
        "regimes": [
            {"name": "signal_on", "when": NAME, "weights": {"SPY": 0.6}},
            {"name": "neutral", "weights": {"IWM": 0.3, "SPY": 0.7}},
        ],
        "execution": {"timing": "next_close", "fees_bps": 2, "slippage_bps": 1},
    }


def write(folder: Path, name: str, raw: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def invoke(*args: Any):
    return CliRunner().invoke(main, [str(a) for a in args])


def as_in_page(text: str) -> str:
    """A chart title as tearsheet.html carries it: inside the figure's JSON, which plotly
    writes with `<`, `>` and `/` as \\u escapes (a ratio IWM/SPY reads IWM\\u002fSPY)."""
    from plotly.io.json import to_json_plotly

    return to_json_plotly(text)[1:-1]


@pytest.fixture(scope="module")
def isolated(tmp_path_factory):
    """A module-wide folder; no run reads or writes the user's price cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROTATION_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="module", params=KINDS)
def ran(request, isolated, shared_data):
    """`rotation run --tearsheet` of each kind's example: (kind, CLI result, run folder)."""
    kind = request.param
    folder = isolated / kind
    folder.mkdir()
    config = write(folder, "run.yaml", raw_config(entry(kind)))
    out = folder / "run"
    result = invoke("run", config, "--data-dir", shared_data, "--out", out, "--tearsheet")
    return kind, result, out


# ---------------------------------------------------------------- the registry walk


def test_every_registered_kind_has_an_example_sweeping_each_sweepable_parameter():
    assert set(EXAMPLES) == set(BUILT_IN)
    for kind, ex in EXAMPLES.items():
        assert tuple(ex.sweeps) == tuple(SIGNAL_KINDS[kind].sweep_keys(entry(kind))), kind
        for key, values in ex.sweeps.items():
            assert len(set(swept(values))) == 2 and ex.entry[key] in swept(values), (kind, key)


@pytest.mark.parametrize("kind", KINDS)
def test_the_example_entry_is_accepted_by_the_config(kind, shared_data):
    config = config_from_dict(raw_config(entry(kind), shared_data))
    parsed = config.signals[NAME]
    assert isinstance(parsed, SIGNAL_KINDS[kind].model)
    assert parsed.type == kind
    assert {k: v for k, v in SIGNAL_KINDS[kind].params(parsed).items() if k in entry(kind)} == {
        k: v for k, v in entry(kind).items() if k not in SIGNAL_KINDS[kind].inputs
    }


@pytest.mark.parametrize(("kind", "key"), SWEEPS)
def test_each_sweepable_parameter_sweeps_through_the_cli(kind, key, isolated, shared_data):
    values = example(kind).sweeps[key]
    raw = raw_config(entry(kind, **{key: values}))
    config = write(isolated, f"sweep-{kind}-{key}.yaml", raw)
    out = isolated / f"sweep-{kind}-{key}"
    result = invoke("sweep", config, "--data-dir", shared_data, "--out", out, "--top", "2")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 2
    column = f"signals.{NAME}.{key}"
    assert sorted(table[column].tolist()) == pytest.approx(sorted(swept(values)))
    # and each combination is `rotation run` of its own config: values, statistics to 1e-9
    spec = sweep_spec(raw_config(entry(kind, **{key: values}), shared_data), "sweep.yaml")
    source = MemorySource(CsvSource(shared_data).load(spec.base.tickers()))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))
    np.testing.assert_allclose(table["sharpe"], result.table["sharpe"], rtol=1e-12)


def test_the_run_exits_0(ran):
    kind, result, out = ran
    assert result.exit_code == 0, f"{kind}: {result.output}"
    assert (out / "stats.json").is_file()


def test_signals_csv_has_the_signals_rows_following_its_rule(ran):
    kind, result, out = ran
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "signals.csv")
    assert frame.columns.tolist() == SIGNALS_COLUMNS
    rows = frame[frame["signal"] == NAME]
    assert len(rows) > 100, kind  # a year of bars on the signal's own calendar
    on = rows["on"].astype(bool).to_numpy()
    value, upper, lower = (rows[c].to_numpy(dtype=float) for c in ("value", "upper", "lower"))
    with np.errstate(invalid="ignore"):
        assert on[value > upper].all() and not on[value < lower].any(), kind
    assert on.any() and not on.all(), f"{kind}: the example should switch during 2023"
    bounds = example(kind).bounds
    if bounds is not None:
        np.testing.assert_allclose(upper, bounds[0])
        np.testing.assert_allclose(lower, bounds[1])


def test_the_tearsheet_draws_the_signal_under_its_kinds_title(ran):
    kind, result, out = ran
    assert result.exit_code == 0, result.output
    page = (out / "tearsheet.html").read_text(encoding="utf-8")
    title = SIGNAL_KINDS[kind].title(NAME, entry(kind))
    assert title.startswith(f"{NAME}: ")
    assert as_in_page(title) in page


def test_the_audit_is_clean(ran, shared_data):
    kind, _, out = ran
    result = invoke("audit", out.parent / "run.yaml", "--cuts", "1", "--data-dir", shared_data)
    assert result.exit_code == 0, f"{kind}: {result.output}"
    assert "Clean" in result.output


# ---------------------------------------------------------------- bad entries

BAD = {
    "unknown kind": (
        {"type": "rsii", "series": "SPY", "window": 14, "enter": 70},
        ["signals.probe.type", "'rsii'", "'rsi'"],
    ),
    "rsi exit above enter": (
        {"type": "rsi", "series": "SPY", "window": 14, "enter": 60, "exit": 70},
        ["signals.probe.exit", "enter"],
    ),
    "level below above above": (
        {"type": "level", "series": "^VIX", "above": 20, "below": 25},
        ["signals.probe.below", "above"],
    ),
    "momentum weights not one per lookback": (
        {"type": "momentum", "series": "SPY", "lookback": [21, 63], "weights": [1, 2, 3]},
        ["signals.probe.weights", "lookback"],
    ),
    "crossover slow not above fast": (
        {"type": "crossover", "series": "SPY", "fast": 50, "slow": 20},
        ["signals.probe.slow", "fast (50)"],
    ),
    "correlation with itself": (
        {"type": "correlation", "series": "SPY", "other": "SPY", "window": 20, "above": 0.3},
        ["signals.probe.other", "SPY"],
    ),
    "correlation with a ticker without data": (
        {"type": "correlation", "series": "SPY", "other": "NOPE-USD", "window": 20, "above": 0.3},
        ["NOPE-USD"],
    ),
}
ZERO_WINDOWS = {
    f"{kind} {key} 0": ({**entry(kind), key: 0}, [f"signals.probe.{key}"])
    for kind in KINDS
    if kind in EXAMPLES
    for key in SIGNAL_KINDS[kind].whole
}


def assert_refused(tmp_path: Path, data_dir: Path, signal: dict, words: list[str]) -> None:
    config = write(tmp_path, "bad.yaml", raw_config(signal))
    out = tmp_path / "out"
    result = invoke("run", config, "--data-dir", data_dir, "--out", out)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for word in words:
        assert word in errors[0], f"{word!r} not in {errors[0]!r}"
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_entry_is_one_error_line_naming_the_field(case, tmp_path, shared_data):
    signal, words = BAD[case]
    assert_refused(tmp_path, shared_data, signal, words)


@pytest.mark.parametrize("case", sorted(ZERO_WINDOWS))
def test_a_window_of_0_is_refused_naming_the_field(case, tmp_path, shared_data):
    signal, words = ZERO_WINDOWS[case]
    assert_refused(tmp_path, shared_data, signal, words)


def test_an_unknown_kind_suggests_the_nearest_one(tmp_path, shared_data):
    signal = {"type": "rsii", "series": "SPY", "window": 14, "enter": 70}
    assert_refused(tmp_path, shared_data, signal, ["did you mean 'rsi'"])
