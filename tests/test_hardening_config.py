"""Hostile or mistaken configs (issue 10, items 2-4): strict YAML, numbers in range,
sweep grids counted before they are expanded.

Each rejection goes through `rotation` and must exit with code 2, print one
`Error: ...` line naming the file and the field, key or line, no traceback,
and write nothing. Inputs that could hang or exhaust memory if the guard
regressed run in a subprocess with a timeout (and, on Linux, a memory cap).
None of these needs price data: every error comes before any is read.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.config.strict_yaml import StrictYAMLError, load
from engine.limits import MAX_CONFIG_BYTES
from strategies.regimes import evaluate

BASE = """\
name: hostile
data: {start: 2018-01-01, end: 2019-01-01}
universe: [IWM, SPY]
signals:
  brk: {type: donchian, series: IWM/SPY, entry: 20, exit: 10}
  trend: {type: sma, series: SPY, window: 50, band: 0.01}
regimes:
  - {name: small, when: brk and trend, weights: {IWM: 0.7, SPY: 0.3}}
  - {name: neutral, weights: {IWM: 0.3, SPY: 0.7}}
execution: {fees_bps: 2, slippage_bps: 1, rebalance: {threshold: 0.05}}
portfolio: {initial_cash: 100000}
stats: {periods_per_year: 252, risk_free: 0.0}
"""


def variant(old: str, new: str, base: str = BASE) -> str:
    """BASE with one exact piece of text replaced (which must be there)."""
    assert base.count(old) == 1, old
    return base.replace(old, new)


@pytest.fixture
def out_parent(tmp_path: Path) -> Path:
    parent = tmp_path / "runs"
    parent.mkdir()
    return parent


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, out_parent: Path, text: str, *args: str, command="run") -> str:
    """Run `rotation COMMAND` on `text`; assert a clean user error; return its one line."""
    path = write(tmp_path, text)
    argv = [command, str(path), "--data-dir", str(tmp_path), "--out", str(out_parent / "o")]
    result = CliRunner().invoke(main, [*argv, *args])
    return assert_one_error_line(result.exit_code, result.stdout, result.stderr, out_parent)


def assert_one_error_line(code: int, stdout: str, stderr: str, out_parent: Path) -> str:
    assert code == 2, (code, stdout, stderr)
    assert stdout == "" and "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert lines and lines[0].startswith("Error: "), stderr
    if len(lines) > 1:  # several config problems: a header, then one per line
        assert lines[0].endswith(" problems:"), stderr
        assert all(line.startswith("  ") for line in lines[1:]), stderr
    assert list(out_parent.iterdir()) == []
    return "\n".join(lines)


def in_subprocess(args: list[str], out_parent: Path) -> str:
    """`rotation ARGS` in a child process: a hang fails after 30 s, not forever; on
    Linux its memory is capped at 2 GiB, so a runaway expansion dies quickly."""

    def cap_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    code = "import sys; from engine.cli import main; main(sys.argv[1:])"
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(out_parent / "o")],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=cap_memory if sys.platform.startswith("linux") else None,
    )
    return assert_one_error_line(done.returncode, done.stdout, done.stderr, out_parent)


def test_the_base_config_is_valid(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert config.portfolio.initial_cash == 100_000 and config.signals["brk"].entry == 20


# ---------------------------------------------------------------- strict YAML


def test_a_key_written_twice_in_a_block_mapping_is_refused_with_its_lines(tmp_path, out_parent):
    text = BASE + "universe: [SPY]\n"
    line = refused(tmp_path, out_parent, text)
    assert "c.yaml: line 13: duplicate key 'universe' (first at line 3)" in line


def test_a_key_written_twice_in_a_flow_mapping_is_refused(tmp_path, out_parent):
    text = variant("{IWM: 0.7, SPY: 0.3}", "{IWM: 0.7, IWM: 0.3}")
    line = refused(tmp_path, out_parent, text)
    assert "line 8: duplicate key 'IWM' (first at line 8, column" in line


def test_a_merge_key_may_still_be_overridden(tmp_path):
    text = variant(
        "data: {start: 2018-01-01, end: 2019-01-01}",
        "data: {<<: {start: 2018-01-01, end: 2019-01-01}, end: 2018-06-29}",
    )
    assert load_config(write(tmp_path, text)).data.end == dt.date(2018, 6, 29)


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("entry: 20", "entry: true", "signals.brk.entry"),
        ("{IWM: 0.7,", "{IWM: true,", "regimes[0].weights.IWM"),
        ("fees_bps: 2", "fees_bps: true", "execution.fees_bps"),
        ("initial_cash: 100000", "initial_cash: false", "portfolio.initial_cash"),
        ("periods_per_year: 252", "periods_per_year: yes", "stats.periods_per_year"),
    ],
)
def test_a_boolean_is_not_a_number(tmp_path, out_parent, old, new, field):
    line = refused(tmp_path, out_parent, variant(old, new))
    assert f"{field}: must be a number, not " in line


def test_a_quoted_number_is_text_not_a_number(tmp_path, out_parent):
    line = refused(tmp_path, out_parent, variant("window: 50", "window: '50'"))
    assert "signals.trend.window: must be a number, not the text '50'" in line


def test_an_integer_is_not_a_date(tmp_path, out_parent):
    line = refused(tmp_path, out_parent, variant("start: 2018-01-01", "start: 1514764800"))
    assert "data.start: must be a date written YYYY-MM-DD, not 1514764800" in line


def test_yaml_dates_and_iso_text_dates_are_accepted(tmp_path):
    text = variant("start: 2018-01-01", "start: '2018-01-02'")
    config = load_config(write(tmp_path, text))
    assert (config.data.start, config.data.end) == (dt.date(2018, 1, 2), dt.date(2019, 1, 1))


@pytest.mark.parametrize("levels", [40, 100_000])
def test_yaml_nesting_is_bounded(tmp_path, out_parent, levels):
    text = BASE + "deep: " + "[" * levels + "]" * levels + "\n"
    line = refused(tmp_path, out_parent, text)
    assert "c.yaml: line 13: nested more than 32 levels deep" in line


def test_nesting_up_to_the_bound_parses():
    assert isinstance(load("x: " + "[" * 31 + "]" * 31)["x"], list)  # 32 levels with the root
    with pytest.raises(StrictYAMLError):
        load("x: " + "[" * 32 + "]" * 32)


def test_nesting_through_aliases_is_bounded(tmp_path, out_parent):
    chain = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 40)]
    line = refused(tmp_path, out_parent, BASE + "\n".join(chain) + "\n")
    assert "nested more than 32 levels deep" in line


def test_an_alias_that_contains_itself_is_refused(tmp_path, out_parent):
    line = refused(tmp_path, out_parent, BASE + "loop: &loop [*loop]\n")
    assert "c.yaml: line 13: nested more than 32 levels deep" in line


def test_an_alias_bomb_is_refused_at_once(tmp_path, out_parent):
    """Ten levels of ten aliases each: 10^10 strings if expanded; refused by the schema."""
    bomb = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    text = "\n".join(bomb) + "\n" + variant("universe: [IWM, SPY]", "universe: *l9")
    line = in_subprocess(["run", str(write(tmp_path, text))], out_parent)
    assert "universe[0]: must be text" in line and len(line) < 4000


# ---------------------------------------------------------------- `when`


@pytest.mark.parametrize("when", ["not " * 33 + "brk", "(" * 33 + "brk" + ")" * 33])
def test_when_nesting_is_bounded(tmp_path, out_parent, when):
    line = refused(tmp_path, out_parent, variant("when: brk and trend", f"when: {when}"))
    assert "regimes[0].when: nested more than 32 levels deep" in line


def test_a_flat_when_chain_of_500_terms_is_fine(tmp_path):
    chain = " and ".join(["brk", "trend"] * 250)
    config = load_config(write(tmp_path, variant("when: brk and trend", f"when: {chain}")))
    tree = config.parsed_regimes()[0].when
    signals = {"brk": np.array([True, True, False]), "trend": np.array([True, False, True])}
    assert evaluate(tree, signals).tolist() == [True, False, False]


# ---------------------------------------------------------------- the file itself


def test_a_config_over_1_mib_is_refused(tmp_path, out_parent):
    text = BASE + "#" * (MAX_CONFIG_BYTES - len(BASE) + 1)
    line = refused(tmp_path, out_parent, text)
    assert "c.yaml: larger than 1 MiB" in line


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused_without_reading_it(out_parent):
    line = in_subprocess(["run", "/dev/zero"], out_parent)
    assert line == "Error: /dev/zero: not a regular file; give the path of a YAML config file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, out_parent):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    line = in_subprocess(["run", str(fifo)], out_parent)
    assert "pipe.yaml: not a regular file" in line


# ---------------------------------------------------------------- numbers in range


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("initial_cash: 100000", "initial_cash: .inf", "portfolio.initial_cash"),
        ("fees_bps: 2", "fees_bps: .nan", "execution.fees_bps"),
        ("slippage_bps: 1", "slippage_bps: -.inf", "execution.slippage_bps"),
        ("risk_free: 0.0", "risk_free: .nan", "stats.risk_free"),
        ("band: 0.01", "band: .nan", "signals.trend.band"),
        ("threshold: 0.05", "threshold: .nan", "execution.rebalance.threshold"),
        ("SPY: 0.3}", "SPY: .nan}", "regimes[0].weights.SPY"),
    ],
)
def test_nan_and_infinity_are_refused(tmp_path, out_parent, old, new, field):
    line = refused(tmp_path, out_parent, variant(old, new))
    assert f"{field}: must be a finite number" in line


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("periods_per_year: 252", "periods_per_year: 0", "stats.periods_per_year"),
        ("periods_per_year: 252", "periods_per_year: 367", "stats.periods_per_year"),
        ("risk_free: 0.0", "risk_free: -0.5", "stats.risk_free"),
        ("risk_free: 0.0", "risk_free: 1.01", "stats.risk_free"),
        ("initial_cash: 100000", "initial_cash: 0.99", "portfolio.initial_cash"),
        ("initial_cash: 100000", "initial_cash: 2e15", "portfolio.initial_cash"),
        ("start: 2018-01-01", "start: 1899-12-31", "data.start"),
        ("end: 2019-01-01", "end: 2201-01-01", "data.end"),
    ],
)
def test_numbers_and_dates_out_of_range_are_refused(tmp_path, out_parent, old, new, field):
    line = refused(tmp_path, out_parent, variant(old, new))
    assert f"c.yaml: 1 problem: {field}: " in line


def test_the_bounds_themselves_are_accepted(tmp_path):
    text = variant("periods_per_year: 252, risk_free: 0.0", "periods_per_year: 366, risk_free: 1")
    config = load_config(write(tmp_path, variant("initial_cash: 100000", "initial_cash: 1", text)))
    assert (config.stats.periods_per_year, config.stats.risk_free) == (366, 1.0)
    huge = variant("initial_cash: 100000", "initial_cash: 1e15")
    assert load_config(write(tmp_path, huge)).portfolio.initial_cash == 1e15


@pytest.mark.parametrize("option, value", [("--start", "1899-12-31"), ("--end", "2201-01-01")])
def test_command_line_dates_outside_the_years_are_refused(tmp_path, out_parent, option, value):
    line = refused(tmp_path, out_parent, BASE, option, value)
    assert line == f"Error: {option} {value}: must be in the years 1900 to 2200"


# ---------------------------------------------------------------- sweep grids


@pytest.mark.parametrize(
    "old, new",
    [
        ("entry: 20", "entry: {start: 1, stop: 1000000000000, step: 1}"),
        ("band: 0.01", "band: {start: 0.0, stop: 0.5, step: 1e-300}"),
    ],
    ids=["a-trillion-values", "tiny-step"],
)
def test_a_huge_grid_is_refused_before_it_is_expanded(tmp_path, out_parent, old, new):
    line = in_subprocess(["sweep", str(write(tmp_path, variant(old, new)))], out_parent)
    assert "combinations" in line and "over the limit of 100,000" in line


@pytest.mark.parametrize(
    "new, message",
    [
        ("{start: 1, stop: .inf, step: 1}", "signals.brk.entry.stop: must be a finite number"),
        ("{start: 1, stop: 9, step: .nan}", "signals.brk.entry.step: must be a finite number"),
        ("{start: 1, stop: 9, step: 0}", "signals.brk.entry.step: must be above 0, not 0"),
        ("{start: 1, stop: 9, step: -2}", "signals.brk.entry.step: must be above 0, not -2"),
        ("{start: 9, stop: 1, step: 2}", "signals.brk.entry: start 9 is above stop 1"),
        ("[20, 40, 20]", "signals.brk.entry: 20 is listed twice"),
        ("{start: 20, stop: 22, step: 0.5}", "signals.brk.entry: 20.5 is not a whole number"),
        ("[20, true]", "signals.brk.entry[1]: must be a number, not true"),
    ],
)
def test_a_bad_range_or_list_is_refused(tmp_path, out_parent, new, message):
    line = refused(tmp_path, out_parent, variant("entry: 20", f"entry: {new}"), command="sweep")
    assert f"c.yaml: 1 problem: {message}" in line


def test_a_range_that_repeats_once_rounded_is_refused(tmp_path, out_parent):
    text = variant("band: 0.01", "band: {start: 0.01, stop: 0.0100000000003, step: 1e-13}")
    line = refused(tmp_path, out_parent, text, command="sweep")
    assert "signals.trend.band: rounded to 12 decimals, the range gives 0.01 more than once" in line


def test_a_section_of_the_wrong_shape_in_a_sweep_is_a_clean_error(tmp_path, out_parent):
    regimes = BASE[BASE.index("regimes:") : BASE.index("execution:")]
    text = variant("entry: 20", "entry: [20, 40]", variant(regimes, "regimes: 5\n"))
    line = refused(tmp_path, out_parent, text, command="sweep")
    assert "c.yaml: 1 problem: regimes: must be a list" in line
