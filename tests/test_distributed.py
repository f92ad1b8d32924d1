"""Sweeps on a Dask cluster and resumable sweeps: the same bits as one in-process sweep.

Everything runs on localhost: a LocalCluster of two worker processes, and
subprocesses of the CLI that are killed or interrupted halfway.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.data import CsvSource, MemorySource
from engine.research import chunk_store as chunk_module
from engine.research import distributed, streamed
from engine.research.chunks import Assembler, build_plan, evaluate_chunk
from engine.research.distributed import partial_folder, sweep_grid
from engine.research.sweep import result_of, run_sweep
from engine.research.sweep_config import load_sweep
from tests.conftest import REPO
from tests.sweep_stores import CHUNK, interrupted_store, run_until, same_outputs, write_grid

pytest.importorskip("distributed")

_write_grid = write_grid


@pytest.fixture()
def grid_path(tmp_path, shared_data) -> Path:
    return _write_grid(tmp_path, shared_data)


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each, listening on localhost only."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as running:
        yield running


CLI = "import sys; from engine.cli import main; main(sys.argv[1:], prog_name='rotation')"


def _sweep_cli(*args: str) -> list[str]:
    return ["sweep", *args, "--json"]


# ---- in process, on a cluster, in any order -----------------------------------------


def test_two_worker_cluster_sweep_equals_the_in_process_sweep_bit_for_bit(
    cluster, grid_path, shared_data
):
    spec, _ = load_sweep(grid_path)
    source = MemorySource(CsvSource(shared_data).load(spec.base.tickers()))
    alone = run_sweep(spec, source, keep_values=True)  # one memory-sized chunk
    done = []
    spread = sweep_grid(
        spec,
        source,
        progress=lambda n, total: done.append(n),
        keep_values=True,
        scheduler=cluster.scheduler_address,
        chunk_size=CHUNK,
    )
    assert len(done) == spec.size // CHUNK and done[-1] == spec.size  # several chunks
    pd.testing.assert_frame_equal(alone.table, spread.table, check_exact=True)
    assert alone.values.tobytes() == spread.values.tobytes()
    assert alone.data == spread.data and alone.warnings == spread.warnings


def test_chunks_assembled_in_any_order_give_the_same_table(grid_path):
    spec, _ = load_sweep(grid_path)
    plan = build_plan(spec, CsvSource(Path(spec.base.data.dir)), keep_values=True, chunk=CHUNK)
    finished = [evaluate_chunk(plan, start, stop) for start, stop in plan.chunks()]
    tables = []
    for order in (finished, finished[::-1], finished[1::2] + finished[::2]):
        assembler = Assembler(plan)
        for chunk in order:
            assembler.add(chunk)
        tables.append(result_of(plan, assembler, []))
    for other in tables[1:]:
        pd.testing.assert_frame_equal(tables[0].table, other.table, check_exact=True)
        assert tables[0].values.tobytes() == other.values.tobytes()


def test_walk_forward_on_a_cluster_chooses_and_scores_as_in_process(cluster, grid_path):
    from engine.research.walkforward import parse_spec, walk_forward

    spec, _ = load_sweep(grid_path)
    source = CsvSource(Path(spec.base.data.dir))
    wf = parse_spec("train=2y,test=1y")
    alone = walk_forward(spec, source, wf, "sharpe")
    spread = distributed.walk_forward_on(
        spec, source, wf, "sharpe", scheduler=cluster.scheduler_address
    )
    pd.testing.assert_frame_equal(alone.windows, spread.windows, check_exact=True)
    pd.testing.assert_frame_equal(alone.values, spread.values, check_exact=True)
    assert alone.summary == spread.summary


def test_cli_workers_2_writes_the_same_results_as_in_process(grid_path, tmp_path, monkeypatch):
    monkeypatch.setenv(distributed.CHUNK_ENV, str(CHUNK))
    runner = CliRunner()
    alone, spread = tmp_path / "alone", tmp_path / "spread"
    first = runner.invoke(main, _sweep_cli(str(grid_path), "--out", str(alone)))
    second = runner.invoke(main, _sweep_cli(str(grid_path), "--out", str(spread), "--workers", "2"))
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    # every part, summary.json too: wall-clock times live in manifest.json only
    same_outputs(spread, alone)
    assert len(list((spread / "results").iterdir())) == 10  # written by the workers
    assert not partial_folder(alone).exists() and not partial_folder(spread).exists()
    tasks = json.loads((spread / "manifest.json").read_text())["tasks"]
    assert tasks["count"] == 10 and tasks["processes"] == 2
    assert len(tasks["workers_peak_rss_mb"]) == 2


# ---- killed, interrupted, resumed ---------------------------------------------------


def test_a_killed_sweep_resumes_to_the_same_results_parquet(grid_path, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    store = partial_folder(out)
    args = _sweep_cli(str(grid_path), "--out", str(out))
    killed = run_until("chunk:3", args, tmp_path, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    finished = sorted(p.stem for p in store.glob("chunk-*.json"))  # a record: a whole chunk
    assert finished == ["chunk-0-20", "chunk-20-40", "chunk-40-60"]  # the 3 written, in order
    assert not out.exists() and (store / "plan.json").is_file()

    evaluated = []
    real = streamed.run_part

    def counted(job, start, stop):
        evaluated.append(f"chunk-{start}-{stop}")
        return real(job, start, stop)

    monkeypatch.setattr(streamed, "run_part", counted)
    monkeypatch.setenv(distributed.CHUNK_ENV, "7")  # a resumed sweep keeps its own chunks
    resumed = CliRunner().invoke(main, _sweep_cli(str(grid_path), "--resume", str(store)))
    assert resumed.exit_code == 0, resumed.output
    assert not set(evaluated) & set(finished) and len(evaluated) + len(finished) == 10
    assert not store.exists()  # complete: the chunks are gone, the folder is `out`

    monkeypatch.setattr(streamed, "run_part", real)
    monkeypatch.setenv(distributed.CHUNK_ENV, str(CHUNK))
    whole = tmp_path / "whole"
    straight = CliRunner().invoke(main, _sweep_cli(str(grid_path), "--out", str(whole)))
    assert straight.exit_code == 0, straight.output
    same_outputs(out, whole)


def test_ctrl_c_on_a_cluster_sweep_leaves_no_sweep_folder_and_keeps_the_chunks(grid_path, tmp_path):
    """The stop comes once the first chunk is kept, and the command waits for it (it cannot
    finish first however slowly this test runs): it exits 130 with no sweep folder, no
    staging folder, the chunk kept and the line saying how to resume."""
    out = tmp_path / "sweep"
    store = partial_folder(out)
    args = _sweep_cli(str(grid_path), "--out", str(out), "--workers", "2")
    stopped = run_until("chunk:1", args, tmp_path, signal.SIGINT)
    stderr = stopped.stderr
    assert stopped.returncode == 130, stderr
    assert not out.exists() and not list(tmp_path.glob(".sweep.*"))  # no half folder
    assert f"--resume {store}" in stderr and (store / "plan.json").is_file()
    # the chunk merged before the stop, and any the workers finished while it waited
    assert len(list(store.glob("chunk-*.json"))) >= 1
    assert "Traceback" not in stderr


def _interrupted_store(grid_path: Path, store: Path) -> None:
    """A chunk store holding the first two chunks of the grid, as a stop signal leaves it."""
    interrupted_store(grid_path, store, 2)
    assert len(list(store.glob("chunk-*.json"))) == 2


def test_resume_refuses_chunks_of_another_config(grid_path, tmp_path, shared_data):
    store = tmp_path / "sweep.partial"
    _interrupted_store(grid_path, store)
    (tmp_path / "other").mkdir()
    other = _write_grid(tmp_path / "other", shared_data, fees_bps=5)
    result = CliRunner().invoke(main, _sweep_cli(str(other), "--resume", str(store)))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: --resume") and result.output.count("\n") == 1
    assert "(the config or its grid changed)" in result.output
    assert store.is_dir() and not (tmp_path / "sweep").exists()  # nothing lost, nothing written


def test_resume_refuses_chunks_of_other_data(grid_path, tmp_path, shared_data):
    store = tmp_path / "sweep.partial"
    _interrupted_store(grid_path, store)
    changed = tmp_path / "data"
    changed.mkdir()
    for name in ("IWM.csv", "SPY.csv", "ETH-USD.csv"):
        lines = (shared_data / name).read_text().splitlines(keepends=True)
        if name == "SPY.csv":
            del lines[1]  # one row fewer, long before the sweep starts
        (changed / name).write_text("".join(lines))
    result = CliRunner().invoke(
        main, _sweep_cli(str(grid_path), "--data-dir", str(changed), "--resume", str(store))
    )
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "(the data changed)" in result.output


def test_a_sweep_refuses_to_overwrite_the_chunks_of_an_interrupted_one(grid_path, tmp_path):
    store = tmp_path / "sweep.partial"
    _interrupted_store(grid_path, store)
    result = CliRunner().invoke(main, _sweep_cli(str(grid_path), "--out", str(tmp_path / "sweep")))
    assert result.exit_code == 2 and f"--resume {store}" in result.output, result.output


# ---- an unreachable scheduler -------------------------------------------------------


def test_an_unreachable_scheduler_is_a_one_line_error(grid_path, tmp_path):
    with socket.socket() as probe:  # a localhost port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(
        main,
        _sweep_cli(
            str(grid_path), "--out", str(tmp_path / "x"), "--scheduler", f"tcp://127.0.0.1:{port}"
        ),
    )
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: --scheduler tcp://127.0.0.1:{port}: no Dask")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "x").exists() and not partial_folder(tmp_path / "x").exists()


def test_a_scheduler_port_that_accepts_and_never_answers_fails_in_one_clean_line(
    grid_path, tmp_path
):
    """Dask's own handshake waits without a deadline: --timeout bounds it. The command runs
    in a subprocess, so that anything printed at exit (a Client's __del__) is seen too."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts connections; nobody ever answers them
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        args = _sweep_cli(str(grid_path), "--out", str(tmp_path / "x"), "--scheduler", address)
        done = subprocess.run(
            [sys.executable, "-c", CLI, *args, "--timeout", "1"],
            cwd=tmp_path,
            env=os.environ | {"PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,  # a hang fails here instead of blocking the suite
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"Error: --scheduler {address}: no Dask scheduler answered within 1 s (no reply); "
        "check the address, or use --workers N for a local cluster\n"
    )
    assert done.stdout == "" and not partial_folder(tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--workers", "100000"], "--workers 100000: at most "),
        (["--scheduler", "tcp://127.0.0.1"], "--scheduler tcp://127.0.0.1: not a scheduler"),
        (["--scheduler", "tls://10.0.0.5:8786"], "--scheduler tls://10.0.0.5:8786: not a"),
        (["--scheduler", "tcp://127.0.0.1:1", "--timeout", "nan"], "--timeout nan: must be"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers and --scheduler"),
    ],
)
def test_cluster_options_out_of_bounds_are_one_line_errors_before_any_work(
    grid_path, tmp_path, option, message
):
    result = CliRunner().invoke(
        main, _sweep_cli(str(grid_path), "--out", str(tmp_path / "x"), *option)
    )
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {message}")
    assert result.output.count("\n") == 1 and not partial_folder(tmp_path / "x").exists()


def test_the_workers_limit_is_four_per_core_and_said_in_the_help():
    assert distributed.max_workers() == 4 * (os.cpu_count() or 1)
    result = CliRunner().invoke(main, ["sweep", "--help"])
    assert "(at most 4x the CPU cores)" in " ".join(result.output.split())


def test_stored_chunks_read_back_bit_for_bit(grid_path, tmp_path):
    spec, _ = load_sweep(grid_path)
    plan = build_plan(spec, CsvSource(Path(spec.base.data.dir)), keep_values=True, chunk=CHUNK)
    store = chunk_module.ChunkStore(tmp_path / "store.partial")
    store.create(chunk_module.sweep_key(spec, plan))
    written = evaluate_chunk(plan, CHUNK, 2 * CHUNK)
    store.write(plan, written)
    (read,) = store.finished(plan)
    assert (read.start, read.stop) == (CHUNK, 2 * CHUNK)
    assert list(read.columns) == list(written.columns)
    for name, column in written.columns.items():
        assert read.columns[name].dtype == column.dtype
        assert read.columns[name].tobytes() == column.tobytes(), name
    assert read.values.tobytes() == written.values.tobytes()
    (store.folder / "notes.txt").write_text("mine")
    store.remove()  # removes only its own files: the folder stays for notes.txt
    assert [p.name for p in store.folder.iterdir()] == ["notes.txt"]


def test_the_chunk_size_option_changes_nothing_in_the_results(grid_path, tmp_path):
    runner = CliRunner()
    default, small = tmp_path / "default", tmp_path / "small"
    first = runner.invoke(main, _sweep_cli(str(grid_path), "--out", str(default)))
    second = runner.invoke(
        main, _sweep_cli(str(grid_path), "--out", str(small), "--chunk-size", "7")
    )
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    same_outputs(small, default, parts=False)  # other parts, the same rows and files
    assert len(list((small / "results").iterdir())) == 29  # 200 combinations, 7 a chunk
