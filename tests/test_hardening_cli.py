"""Stop signals and output folders (engine/interrupts.py, engine/report/folders.py).

A command stopped by SIGTERM, SIGHUP or Ctrl-C removes its hidden staging
folder, prints one line and exits with 128 + the signal number. A bad --out, or
a `name` too long to name a folder, is one `Error:` line before any backtest.

The real-signal tests start the CLI in a subprocess whose write helpers are
slowed down by the test itself (a wrapper script, no hook in the engine), wait
for the staging folder to appear, then send the signal. The in-process tests
send a signal to this very process from inside a patched step, only after
checking that the command's handler is installed (otherwise pytest would stop).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import engine.report
import engine.research.audit
import engine.research.sweep
import engine.runner
from engine import interrupts
from engine.cli import main
from engine.errors import DataError
from engine.interrupts import deferred, handled_signals
from engine.report.folders import atomic_folder, check_destination
from tests.conftest import deliver_stop_signals

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SPY = CONFIGS / "spy.yaml"
GRID = CONFIGS / "sweeps" / "breakout_grid.yaml"
SHORT = ["--start", "2024-01-02", "--end", "2024-12-31"]

# Run the real `rotation` entry point, with every run-folder file write followed by a
# long sleep: the staging folder then stays in place until the test signals. The signals
# start as in an interactive shell (a background pytest may have inherited SIG_IGN).
SLOW_WRITES = """
import signal, sys, time
import engine.report

signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_DFL)

def slowed(write):
    def wrapper(*args, **kwargs):
        write(*args, **kwargs)
        time.sleep(600)
    return wrapper

engine.report.write_csv = slowed(engine.report.write_csv)
engine.report.write_json = slowed(engine.report.write_json)
from engine.cli import main
main(sys.argv[1:], prog_name="rotation")
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def staging_files(parent: Path) -> list[Path]:
    """Files already written inside a hidden staging folder of `parent`."""
    try:
        return [f for p in parent.glob(".*") for f in p.iterdir()]
    except FileNotFoundError:  # not made yet, or already gone with a failed run
        return []


# ---------------------------------------------------------------- real signals, subprocess


def stop_while_writing(args: list, parent: Path, signum: int) -> subprocess.CompletedProcess:
    """Start the CLI, wait for its staging folder in `parent`, send `signum`, wait for the end."""
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITES, *map(str, args)],
        cwd=parent.parent,
        preexec_fn=deliver_stop_signals,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180  # generous: a fresh numba cache compiles first
        while not staging_files(parent):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the staging folder never appeared"
            time.sleep(0.05)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_run_write_removes_the_staging_folder(tmp_path, shared_data, signum):
    parent = tmp_path / "out"
    args = ["run", SPY, "--data-dir", shared_data, "--out", parent / "run", *SHORT]
    done = stop_while_writing(args, parent, signum)
    assert done.returncode == 128 + signum, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"Interrupted by {signal.Signals(signum).name}: stopped; "
        "no half-written output folder was left."
    )
    assert "Traceback" not in done.stderr
    assert list(parent.iterdir()) == []


def test_sighup_during_sweep_write_removes_the_staging_folder(tmp_path, shared_data):
    parent = tmp_path / "out"
    args = ["sweep", GRID, "--data-dir", shared_data, "--out", parent / "grid", "--json"]
    done = stop_while_writing(args, parent, signal.SIGHUP)
    assert done.returncode == 129, done.stderr
    assert "Interrupted by SIGHUP" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert list(parent.iterdir()) == []


# ---------------------------------------------------------------- signals, in process


def send_to_self(signum: int) -> None:
    """Signal this process from inside a command; the command's handler must be in place."""
    assert signal.getsignal(signum) is interrupts._handler, "no handler installed"
    os.kill(os.getpid(), signum)
    time.sleep(5)  # the handler raises inside this sleep
    raise AssertionError("the signal did not stop the command")


def assert_interrupted(result, signum: int) -> None:
    assert result.exit_code == 128 + signum, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines()[-1].startswith(
        f"Interrupted by {signal.Signals(signum).name}"
    )
    assert "Traceback" not in result.output


def test_compare_stopped_by_sighup_leaves_no_folder(
    tmp_path, shared_data, monkeypatch, stop_signals_delivered
):
    real = engine.report.write_csv

    def write_then_hang_up(frame, path):
        real(frame, path)
        send_to_self(signal.SIGHUP)

    monkeypatch.setattr(engine.report, "write_csv", write_then_hang_up)
    parent = tmp_path / "out"
    configs = [SPY, CONFIGS / "smallcap_breakout.yaml"]
    result = invoke("compare", *configs, "--data-dir", shared_data, "--out", parent / "cmp")
    assert_interrupted(result, signal.SIGHUP)
    assert list(parent.iterdir()) == []


def test_walk_forward_stopped_by_sigterm_leaves_no_folder(tmp_path, shared_data, monkeypatch):
    raw = yaml.safe_load(GRID.read_text(encoding="utf-8"))
    raw["signals"]["ratio_breakout"].update(entry=[60, 120], exit=[30, 60])
    raw["signals"]["eth_risk_on"]["window"] = 100
    raw["sweep"]["heatmap"] = None
    path = tmp_path / "small_grid.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    real = engine.report.write_json

    def write_then_stop(target, payload):
        real(target, payload)
        send_to_self(signal.SIGTERM)

    monkeypatch.setattr(engine.report, "write_json", write_then_stop)
    parent = tmp_path / "out"
    args = ["--data-dir", shared_data, "--out", parent / "wf", "--json"]
    result = invoke("sweep", path, *args, "--walk-forward", "train=2y,test=1y")
    assert_interrupted(result, signal.SIGTERM)
    assert list(parent.iterdir()) == []


def test_audit_stopped_by_sigterm_exits_143(shared_data, monkeypatch):
    monkeypatch.setattr(engine.research.audit, "audit", lambda *args: send_to_self(signal.SIGTERM))
    result = invoke("audit", SPY, "--data-dir", shared_data)
    assert_interrupted(result, signal.SIGTERM)


def test_data_import_stopped_mid_file_leaves_no_temp_file(tmp_path, shared_data, monkeypatch):
    folder = tmp_path / "csv"
    folder.mkdir()
    for ticker in ("SPY", "IWM"):
        shutil.copy(shared_data / f"{ticker}.csv", folder / f"{ticker}.csv")
    real_fsync = os.fsync

    def fsync_then_stop(fd: int) -> None:  # the cache's temp file is written, not renamed
        real_fsync(fd)
        send_to_self(signal.SIGTERM)

    cache = Path(os.environ["ROTATION_CACHE_DIR"])
    monkeypatch.setattr(os, "fsync", fsync_then_stop)
    result = invoke("data", "import", folder)
    assert_interrupted(result, signal.SIGTERM)
    files = [p for p in cache.rglob("*") if p.is_file() and p.name != ".lock"]
    assert [p.name for p in files if p.name.endswith(".tmp")] == []
    assert [p.name for p in files if p.stat().st_size == 0] == []


def test_handlers_are_installed_only_while_a_command_runs(tmp_path, shared_data, monkeypatch):
    before = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    seen = {}

    def record(*args, **kwargs):
        seen.update({s: signal.getsignal(s) for s in interrupts.SIGNALS})
        raise DataError("stop here")

    monkeypatch.setattr(engine.runner, "run_backtest", record)
    result = invoke("run", SPY, "--data-dir", shared_data, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "stop here" in result.output
    for signum, previous in before.items():  # an ignored signal (nohup) is left alone
        expected = previous if previous is signal.SIG_IGN else interrupts._handler
        assert seen[signum] is expected
    assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == before


def test_an_ignored_signal_stays_ignored(monkeypatch):
    """Under nohup SIGHUP is ignored: the command must not start reacting to it."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with handled_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is interrupts._handler
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_signal_inside_a_deferred_step_stops_after_it(capsys):
    finished = []
    with pytest.raises(SystemExit) as stop, handled_signals():
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler runs here and must not raise
            finished.append(True)
        raise AssertionError("the pending signal was not raised after the step")
    assert finished == [True]
    assert stop.value.code == 143
    assert capsys.readouterr().err.startswith("Interrupted by SIGTERM")


def test_interrupted_staging_folder_is_removed(tmp_path):
    with pytest.raises(SystemExit), handled_signals():
        with atomic_folder(tmp_path / "run") as staging:
            (staging / "stats.json").write_text("{", encoding="utf-8")
            send_to_self(signal.SIGTERM)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- --out and name, checked first


@pytest.fixture
def no_backtest(monkeypatch):
    """Any simulation or sweep fails the test: the checks must come first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the backtest ran before the output folder was checked")

    monkeypatch.setattr(engine.runner, "run_backtest", forbidden)
    monkeypatch.setattr(engine.research.sweep, "run_sweep", forbidden)


def assert_one_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_out_under_a_regular_file_is_refused_before_the_backtest(
    tmp_path, shared_data, no_backtest
):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine", encoding="utf-8")
    out = blocker / "runs" / "run"
    result = invoke("run", SPY, "--data-dir", shared_data, "--out", out)
    assert_one_error(result, str(out), f"{blocker} is a file", "--out")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_out_in_an_impossible_place_is_refused_before_the_backtest(shared_data, no_backtest):
    out = Path("/proc/rotation-no-such-place/run")
    result = invoke("run", SPY, "--data-dir", shared_data, "--out", out)
    assert_one_error(result, str(out), "cannot write there")


def test_out_name_longer_than_the_file_system_allows(tmp_path, shared_data, no_backtest):
    out = tmp_path / ("x" * 300)
    result = invoke("run", SPY, "--data-dir", shared_data, "--out", out)
    assert_one_error(result, "x" * 300, "File name too long")
    assert list(tmp_path.iterdir()) == []


def test_sweep_and_compare_check_out_before_any_work(tmp_path, shared_data, no_backtest):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = invoke("sweep", GRID, "--data-dir", shared_data, "--out", blocker / "sweep")
    assert_one_error(result, str(blocker / "sweep"), "is a file")
    wf = ["--walk-forward", "train=2y,test=1y"]
    result = invoke("sweep", GRID, "--data-dir", shared_data, "--out", blocker / "wf", *wf)
    assert_one_error(result, str(blocker / "wf"), "is a file")
    result = invoke("compare", SPY, SPY, "--data-dir", shared_data, "--out", blocker / "c")
    assert_one_error(result, str(blocker / "c"), "is a file")


def test_a_name_too_long_for_the_run_folder_is_refused(
    tmp_path, shared_data, no_backtest, monkeypatch
):
    raw = yaml.safe_load(SPY.read_text(encoding="utf-8"))
    raw["name"] = "n" * 300
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", path, "--data-dir", shared_data)
    assert_one_error(result, str(path), "name: 300 characters", "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.yaml"]


def test_a_name_of_255_bytes_is_written_whole(tmp_path):
    """The staging name (`.<name>.xxxxxxxx`) is shortened; the folder keeps its name."""
    destination = tmp_path / ("r" * 255)
    check_destination(destination)
    assert list(tmp_path.iterdir()) == []  # the probe cleans up after itself
    with atomic_folder(destination) as staging:
        assert len(staging.name.encode()) <= 255
        (staging / "stats.json").write_text("{}", encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == [destination.name]
    assert (destination / "stats.json").read_text(encoding="utf-8") == "{}"


def test_the_probe_leaves_no_parent_folders_behind(tmp_path):
    check_destination(tmp_path / "a" / "b" / "run")
    assert list(tmp_path.iterdir()) == []
