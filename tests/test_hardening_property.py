"""Property: no mutation of a valid config makes `rotation run` or `rotation check` crash.

Starting from configs/smallcap_breakout_eth.yaml, hypothesis deletes a key,
replaces a value by one of another type (None, a bool, a huge, negative or
non-finite number, a long string, a list, a nested mapping), renames a key or
duplicates a list entry, and runs the result on the reference prices over one
year. Whatever the input, the command either succeeds or prints one `Error:`
line (or a header and one config problem per line) and exits 2, in our words (no
pydantic phrase), never a traceback, never a half-written or hidden folder.

The same mutations of the sweep configs in configs/sweeps/ go through `rotation check`
(no prices needed): `ok: FILE (sweep config, N combinations)` with N the size of the
grid, or the file's problems one per line in our words and exit 2; and `rotation run`
on any file that is still a sweep config says, in one line, to use `rotation sweep`.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.config.kinds import config_kind
from engine.config.words import LEAKS
from engine.research.sweep_config import load_sweep

BASE_PATH = Path(__file__).resolve().parents[1] / "configs" / "smallcap_breakout_eth.yaml"
BASE = yaml.safe_load(BASE_PATH.read_text(encoding="utf-8"))
SWEEPS = sorted((BASE_PATH.parent / "sweeps").glob("*.yaml"))
WINDOW = ["--start", "2023-01-03", "--end", "2023-12-29"]

ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        10**30,
        -(10**30),
        1e308,
        -0.5,
        math.nan,
        math.inf,
        -math.inf,
        "",
        "x" * 5000,
        "SPY",
        "ratio_breakout and",
        [],
        [1, "a", None],
        {},
        {"a": {"b": {"c": [1, 2]}}},
    ]
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key or index path inside the config, depth first."""
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        found.append((*prefix, key))
        if isinstance(value, (dict, list)):
            found.extend(paths(value, (*prefix, key)))
    return found


def get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated(draw: st.DrawFn, base: dict = BASE) -> tuple[str, dict]:
    """A deep copy of `base` with one mutation, and its description."""
    config = yaml.safe_load(yaml.safe_dump(base))
    kind = draw(st.sampled_from(["delete", "replace", "rename", "duplicate"]))
    lists = [p for p in paths(base) if isinstance(get(base, p), list)]
    if kind == "duplicate" and lists:
        path = draw(st.sampled_from(lists))
        target = get(config, path)
        target.append(draw(st.sampled_from(target)))
        return f"duplicate an entry of {path}", config
    path = draw(st.sampled_from(paths(base)))
    parent, key = get(config, path[:-1]), path[-1]
    if kind == "delete":
        del parent[key]
    elif kind == "replace":
        parent[key] = draw(ODD_VALUES)
    elif isinstance(parent, dict):
        new = draw(st.sampled_from([f"{key}x", str(key).upper(), "", "name"]))
        parent[new] = parent.pop(key)
    else:
        kind = "replace"
        parent[key] = draw(ODD_VALUES)
    return f"{kind} {path}: {get_safe(config, path)!r:.60}", config


def get_safe(node: Any, path: tuple) -> Any:
    try:
        return get(node, path)
    except (KeyError, IndexError, TypeError):
        return "<gone>"


@pytest.fixture(scope="module")
def runner(shared_data) -> CliRunner:
    """A CliRunner, after one run of the unmutated config (it must succeed; it also pays
    the heavy imports outside the examples)."""
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        args = ["run", str(BASE_PATH), "--data-dir", str(shared_data), "--out", str(out)]
        result = runner.invoke(main, [*args, *WINDOW, "--json"])
        assert result.exit_code == 0, result.output
    return runner


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=mutated())
def test_a_mutated_config_never_crashes(case, shared_data, runner):
    what, config = case
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        parent = folder / "out"
        parent.mkdir()
        args = ["run", str(path), "--data-dir", str(shared_data), "--out", str(parent / "run")]
        result = runner.invoke(main, [*args, *WINDOW, "--json"])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            what,
            repr(result.exception),
        )
        assert result.exit_code in (0, 2), (what, result.output)
        assert "Traceback" not in result.output, what
        left = sorted(p.name for p in parent.iterdir())
        if result.exit_code == 0:
            assert left == ["run"], (what, left)
            assert (parent / "run" / "stats.json").is_file()
        else:
            assert left == [], (what, left)
            lines = [line for line in result.stderr.splitlines() if line]
            errors = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
            assert len(errors) == 1, (what, result.stderr)
            # after it, only the config problems listed one per line (indented)
            assert all(line.startswith("  ") for line in lines[errors[0] + 1 :]), what
            assert all(line.startswith("Warning: ") for line in lines[: errors[0]]), what
            assert_in_our_words(result.stderr, what)


def assert_in_our_words(text: str, what: str) -> None:
    """No pydantic phrasing and no traceback in `text`."""
    leaked = [phrase for phrase in LEAKS if phrase in text]
    assert not leaked and "Traceback" not in text, (what, leaked, text)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_sweep_config_is_checked_in_our_words(data, tmp_path_factory):
    source = data.draw(st.sampled_from(SWEEPS), label="sweep config")
    base = yaml.safe_load(source.read_text(encoding="utf-8"))
    what, config = data.draw(mutated(base), label="mutation")
    path = tmp_path_factory.mktemp("sweep") / "sweep.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        what,
        repr(result.exception),
    )
    assert_in_our_words(result.output, what)
    if result.exit_code == 0 and config_kind(config) == "sweep":
        spec = load_sweep(path)[0]
        shown = f"sweep config, {spec.size:,} combination{'s' if spec.size != 1 else ''}"
        lines = result.stdout.splitlines()
        assert lines[0] == f"ok: {path} ({shown})", what
        assert [line.split()[0] for line in lines[1:-1]] == [a.name for a in spec.axes], what
        product = " x ".join(f"{len(a.values):,}" for a in spec.axes)
        assert lines[-1] == f"  {product} = {spec.size:,} combinations", what
    elif result.exit_code == 0:
        assert result.stdout == f"ok: {path} (config)\n", what
    else:
        assert result.exit_code == 2, (what, result.output)
        assert result.stderr == "Error: 1 of 1 config files have problems\n", what
        header, *lines = result.stdout.splitlines()
        assert header.startswith(f"{path}: "), what
        assert all(line.startswith("  ") and line.strip() for line in lines), what
    if config_kind(config) == "sweep":  # `run` names the command to use, in one line
        ran = CliRunner().invoke(main, ["run", str(path), "--out", str(path.parent / "o")])
        assert ran.exit_code == 2 and ran.stdout == "", (what, ran.output)
        (line,) = ran.stderr.splitlines()
        assert line.startswith(f"Error: {path}: a sweep config (") and "rotation sweep" in line
