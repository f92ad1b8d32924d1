"""Plug-in kinds (strategies/plugins.py): signal and score kinds from installed packages.

A package is registered the way pip leaves an installed one, without installing
anything: a temporary `<name>-<version>.dist-info` folder (METADATA and
entry_points.txt) on the path beside the package's code. The example package
examples/rotation-zscore is registered from its own pyproject.toml; its `zscore` kind
is checked by hand, then run, swept, audited, read by `rotation signal` and listed by
`rotation kinds` in a fresh process, as a user's would be. Broken plug-ins (an import
error, not a kind, a built-in's name, a name that is not its entry point's, a model
without its `type`) are each one warning naming the package and the entry point, and
every command still works.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

import strategies.plugins as plugins
from strategies.plugins import Origin, Registry
from strategies.scores import BUILT_IN as BUILT_IN_SCORES
from strategies.scores import SCORES
from strategies.signals import BUILT_IN, SIGNALS

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "rotation-zscore"
F, T, U = False, True, None


def dist_info(site: Path, name: str, version: str, groups: dict[str, dict[str, str]]) -> Path:
    """A `name-version.dist-info` folder in `site`, as an installed package has."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = []
    for group, points in groups.items():
        lines += [f"[{group}]", *(f"{k} = {v}" for k, v in points.items()), ""]
    (folder / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def zscore_site(tmp_path_factory) -> Path:
    """The example package registered from its pyproject.toml (version and entry points)."""
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = tmp_path_factory.mktemp("zscore-site")
    return dist_info(site, project["name"], project["version"], project["entry-points"])


BROKEN_CODE = """
from typing import Literal
from strategies.signals.sma import Sma, SmaSignal


class Renamed(Sma):
    name = "renamed"


class Untyped(Sma):
    name = "untyped"
    model = SmaSignal  # its `type` is Literal["sma"], not "untyped"


SMA_TWIN = Sma()
RENAMED = Renamed()
UNTYPED = Untyped()
NOT_A_KIND = 42
"""
BROKEN = {  # entry point -> words of its warning
    "missing = no_such_module_anywhere:KIND": "fails to load (ModuleNotFoundError",
    "number = rotation_broken:NOT_A_KIND": "is an object of type 'int', not a SignalKind",
    "sma = rotation_broken:SMA_TWIN": "takes the name of a built-in kind",
    "other = rotation_broken:RENAMED": "declares the name 'renamed', not its entry point's 'other'",
    "untyped = rotation_broken:UNTYPED": "whose `type` field is not Literal['untyped']",
}
BROKEN_SCORE = {
    "volatile = rotation_broken:SMA_TWIN": "is an object of type 'Sma', not a ScoreKind"
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    """A package `rotation-broken 1.0` with one broken plug-in per way of being broken."""
    site = tmp_path_factory.mktemp("broken-site")
    (site / "rotation_broken.py").write_text(BROKEN_CODE, encoding="utf-8")
    groups = {
        "rotation.signals": dict(e.split(" = ") for e in BROKEN),
        "rotation.scores": dict(e.split(" = ") for e in BROKEN_SCORE),
    }
    return dist_info(site, "rotation-broken", "1.0", groups)


@pytest.fixture
def zscore(zscore_site, monkeypatch):
    """A fresh signal registry reading the example package's entry point."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(zscore_site))
    return Registry(SIGNALS, BUILT_IN)


# ---------------------------------------------------------------- discovery


def test_the_example_package_brings_zscore_beside_the_built_in_kinds(zscore, caplog):
    assert set(zscore) == set(BUILT_IN) | {"zscore"}
    assert zscore.origin("zscore") == Origin(
        "rotation-zscore", "0.1.0", "zscore = rotation_zscore:ZSCORE"
    )
    assert zscore.origin("sma") is None and zscore["sma"] is BUILT_IN["sma"]
    assert zscore.plugins() == {"zscore": zscore.origin("zscore")}
    assert not [r for r in caplog.records if r.name == "rotation.plugins"]


def test_entry_points_are_read_once_at_the_first_lookup(zscore_site, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(zscore_site))
    calls = []
    real = plugins._entry_points
    monkeypatch.setattr(plugins, "_entry_points", lambda group: calls.append(group) or real(group))
    registry = Registry(SIGNALS, BUILT_IN)
    assert calls == []  # creating (importing) a registry reads nothing
    assert "zscore" in registry and registry["zscore"].name == "zscore"
    assert len(registry) == len(BUILT_IN) + 1 and sorted(registry)[-1] == "zscore"
    assert calls == ["rotation.signals"]


def test_each_broken_plugin_is_one_warning_naming_package_and_entry_point(
    broken_site, caplog, monkeypatch
):
    monkeypatch.syspath_prepend(str(broken_site))
    signals = Registry(SIGNALS, BUILT_IN)
    scores = Registry(SCORES, BUILT_IN_SCORES)
    assert dict(signals) == dict(BUILT_IN)  # nothing broken got in, sma stays built in
    assert dict(scores) == dict(BUILT_IN_SCORES)
    sys.modules.pop("rotation_broken", None)
    warnings = [r.getMessage() for r in caplog.records if r.name == "rotation.plugins"]
    expected = BROKEN | BROKEN_SCORE
    assert len(warnings) == len(expected)
    for entry_point, words in expected.items():
        (line,) = [w for w in warnings if f"'{entry_point}'" in w]
        assert line.startswith("Warning: plug-in ")
        assert "of package rotation-broken 1.0" in line and words in line, line
        assert "\n" not in line


# ---------------------------------------------------------------- the zscore kind


def zscore_loop(x: list[float], window: int) -> list:
    """(x_t - mean) / std (ddof 1) of the last `window` values, written as a plain loop."""
    out: list = []
    for t in range(len(x)):
        if t < window - 1:
            out.append(None)
            continue
        last = x[t - window + 1 : t + 1]
        mean = math.fsum(last) / window
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in last) / (window - 1))
        out.append(None if std == 0 else (x[t] - mean) / std)
    return out


def test_zscore_by_hand(zscore):
    # window 3, enter 1.0, exit -0.5: y = (x - mean) / std over the last 3 bars
    rows = [
        (10.0, U, F),  # t0: fewer than 3 bars
        (10.0, U, F),  # t1: fewer than 3 bars
        (10.0, U, F),  # t2: 10, 10, 10 is flat: std 0, no value      -> keep False
        (13.0, 2 / math.sqrt(3), T),  # t3: 10, 10, 13: mean 11, std sqrt(3): 1.155 > 1 -> True
        (13.0, 1 / math.sqrt(3), T),  # t4: 10, 13, 13: mean 12, std sqrt(3): 0.577     -> hold
        (13.0, U, T),  # t5: 13, 13, 13 flat again: no value                          -> keep True
        (11.0, -2 / math.sqrt(3), F),  # t6: 13, 13, 11: mean 12.33, std 1.155: -1.155 -> False
        (12.0, 0.0, F),  # t7: 13, 11, 12: mean 12, std 1: 0 is inside                    -> hold
    ]
    x = pd.Series([r[0] for r in rows], index=pd.bdate_range("2024-01-02", periods=len(rows)))
    kind = zscore["zscore"]
    params = kind.params(
        {"type": "zscore", "series": "SPY", "window": 3, "enter": 1.0, "exit": -0.5}
    )
    drawn = kind.lines(x, [params])
    value = [None if math.isnan(v) else v for v in drawn.value[:, 0]]
    for got, want, loop in zip(
        value, [r[1] for r in rows], zscore_loop(x.tolist(), 3), strict=True
    ):
        assert (got is None) == (want is None) == (loop is None)
        if want is not None:
            assert got == pytest.approx(want, abs=1e-12) and loop == pytest.approx(want, abs=1e-12)
    assert kind(x, **params).tolist() == [r[2] for r in rows]
    assert drawn.upper[:, 0].tolist() == [1.0] * 8 and drawn.lower[:, 0].tolist() == [-0.5] * 8
    assert kind.bars_needed(params) == 3


def test_zscore_grid_equals_its_single_form_and_the_loop(zscore):
    rng = np.random.default_rng(5)
    x = pd.Series(
        np.exp(np.cumsum(rng.normal(0, 0.02, 200))), pd.bdate_range("2020-01-01", periods=200)
    )
    kind = zscore["zscore"]
    sets = [{"window": w, "enter": e, "exit": None} for w, e in ((5, 0.5), (20, 1.0), (5, 1.5))]
    drawn = kind.lines(x, sets)
    for k, params in enumerate(sets):
        loop = np.array(
            [np.nan if v is None else v for v in zscore_loop(x.tolist(), params["window"])]
        )
        np.testing.assert_allclose(drawn.value[:, k], loop, rtol=1e-9, atol=1e-12, equal_nan=True)
        assert kind(x, **params).tolist() == list(
            switch_loop(loop, params["enter"], params["enter"])
        )


def switch_loop(y: np.ndarray, upper: float, lower: float) -> list[bool]:
    """The hysteresis rule as a loop: on above upper, off below lower, else unchanged."""
    out, on = [], False
    for v in y:
        if not np.isnan(v):
            on = True if v > upper else False if v < lower else on
        out.append(on)
    return out


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"enter": 0.5, "exit": 1.0}, "exit", "must be at most enter"),
        ({"window": 1}, "window", "at least 2"),
        ({"enter": True}, "enter", "not true"),
        ({"windw": 20}, "windw", "Extra inputs"),
    ],
)
def test_bad_zscore_entries_are_refused_naming_the_field(zscore, changes, field, words):
    entry = {"type": "zscore", "series": "SPY", "window": 20, "enter": 1.0}
    with pytest.raises(ValidationError) as caught:
        zscore["zscore"].config({**entry, **changes})
    errors = caught.value.errors()
    assert [e["loc"][0] for e in errors] == [field] and words in errors[0]["msg"]


# ---------------------------------------------------------------- the CLI, in a fresh process

DRIVER = """
import json, sys
from click.testing import CliRunner
from engine.cli import main
results = []
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(main, args)
    results.append({"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr})
print(json.dumps(results))
"""


def run_cli(paths: list[Path], *commands: list[str]) -> list[dict]:
    """Run `rotation` commands in one fresh Python process whose path also holds `paths`
    (this checkout first): exit code, stdout and stderr of each."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *map(str, paths)])
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps([[str(a) for a in c] for c in commands])],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rotation(paths: list[Path], *args) -> subprocess.CompletedProcess:
    """One `rotation` command as its own process (stderr as a user sees it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *map(str, paths)])
    code = "import sys; from engine.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )


@pytest.fixture(scope="module")
def example_commands(zscore_site, shared_data, tmp_path_factory):
    """kinds, kinds --json, run --tearsheet, sweep, audit and signal --json of the example."""
    out = tmp_path_factory.mktemp("zscore-runs")
    data = ["--data-dir", shared_data]
    results = run_cli(
        [zscore_site, EXAMPLE],
        ["kinds"],
        ["kinds", "--json"],
        ["run", EXAMPLE / "zscore.yaml", *data, "--out", out / "run", "--tearsheet"],
        ["sweep", EXAMPLE / "zscore_sweep.yaml", *data, "--out", out / "sweep"],
        ["audit", EXAMPLE / "zscore.yaml", *data, "--cuts", "2"],
        ["signal", EXAMPLE / "zscore.yaml", *data, "--json"],
    )
    return dict(
        zip(["kinds", "json", "run", "sweep", "audit", "signal"], results, strict=True)
    ), out


def test_rotation_kinds_lists_the_plugin_marked_with_its_package(example_commands):
    results, _ = example_commands
    text = results["kinds"]
    assert text["code"] == 0 and text["stderr"] == ""
    assert (
        "zscore  [plug-in from rotation-zscore 0.1.0 (zscore = rotation_zscore:ZSCORE)]"
        in (text["stdout"])
    )
    assert "crossover  [built-in]" in text["stdout"]
    assert "Signal kinds (7 built-in, 1 plug-in)" in text["stdout"]
    listed = json.loads(results["json"]["stdout"])
    (entry,) = [k for k in listed["signals"] if k["name"] == "zscore"]
    assert entry["origin"] == "plug-in" and entry["package"] == "rotation-zscore 0.1.0"
    fields = {f["name"]: f for f in entry["fields"]}
    assert fields["window"]["required"] and fields["window"]["sweepable"]
    assert fields["exit"] == {
        "name": "exit",
        "type": "number or null",
        "required": False,
        "default": None,
        "sweepable": True,
        "input": False,
    }
    assert {k["name"] for k in listed["scores"]} == set(BUILT_IN_SCORES)


def test_the_example_config_runs_with_its_signal_in_signals_csv_and_the_tearsheet(
    example_commands,
):
    results, out = example_commands
    assert results["run"]["code"] == 0, results["run"]["stderr"]
    rows = pd.read_csv(out / "run" / "signals.csv")
    rows = rows[rows["signal"] == "stretched"]
    on = rows["on"].astype(bool).to_numpy()
    value, upper, lower = (rows[c].to_numpy(dtype=float) for c in ("value", "upper", "lower"))
    assert on.any() and not on.all()
    with np.errstate(invalid="ignore"):
        assert on[value > upper].all() and not on[value < lower].any()
    assert set(upper) == {0.5} and set(lower) == {-0.5}
    page = (out / "run" / "tearsheet.html").read_text(encoding="utf-8")
    assert "stretched: SPY\\u002fIEF z-score over 126 bars" in page
    manifest = json.loads((out / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["versions"]["rotation-zscore"] == "0.1.0"


def test_the_example_sweeps_the_plugins_parameters(example_commands):
    results, out = example_commands
    assert results["sweep"]["code"] == 0, results["sweep"]["stderr"]
    table = pd.read_csv(out / "sweep" / "results.csv")
    assert len(table) == 9
    assert sorted(set(table["signals.stretched.window"])) == [63, 126, 252]
    assert sorted(set(table["signals.stretched.enter"])) == [0.25, 0.5, 1.0]


def test_the_example_is_clean_under_the_audit_and_read_by_rotation_signal(example_commands):
    results, _ = example_commands
    assert results["audit"]["code"] == 0 and "Clean" in results["audit"]["stdout"]
    assert results["signal"]["code"] == 0, results["signal"]["stderr"]
    state = json.loads(results["signal"]["stdout"])
    stretched = state["signals"]["stretched"]
    assert (stretched["upper"], stretched["lower"]) == (0.5, -0.5)
    assert state["regime"] == ("equities" if stretched["on"] else "bonds")


def test_rotation_schema_accepts_the_plugins_entries_and_builtin_leaves_them_out(zscore_site):
    import jsonschema
    import yaml

    examples = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLE.glob("*.yaml"))]
    for example in examples:  # an editor reads dates as text
        example["data"]["start"] = str(example["data"]["start"])
    printed = rotation([zscore_site, EXAMPLE], "schema")
    assert printed.returncode == 0 and printed.stderr == "", printed.stderr
    schema = json.loads(printed.stdout)
    zscore = schema["$defs"]["sweep.signals.zscore"]["properties"]
    assert "axis" in zscore["window"]["description"]  # its sweepable parameters are axes
    for example in examples:
        assert list(jsonschema.Draft202012Validator(schema).iter_errors(example)) == []
    builtin = json.loads(rotation([zscore_site, EXAMPLE], "schema", "--builtin").stdout)
    for example in examples:
        assert not jsonschema.Draft202012Validator(builtin).is_valid(example)


def test_broken_plugins_warn_once_each_and_break_no_command(broken_site, shared_data, tmp_path):
    listed = rotation([broken_site], "kinds")
    assert listed.returncode == 0
    warnings = listed.stderr.splitlines()
    assert len(warnings) == len(BROKEN) + len(BROKEN_SCORE)
    assert all(w.startswith("Warning: plug-in ") and "rotation-broken 1.0" in w for w in warnings)
    assert "Signal kinds (7 built-in)" in listed.stdout
    ran = rotation(
        [broken_site],
        "run",
        REPO / "configs" / "spy.yaml",
        "--data-dir",
        shared_data,
        "--out",
        tmp_path / "run",
        "--json",
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["strategy"]["final_value"] > 0
    assert sum(line.startswith("Warning: plug-in ") for line in ran.stderr.splitlines()) == len(
        warnings
    )
    assert "Traceback" not in ran.stderr + listed.stderr
