"""The chunk store of a sweep (engine/research/chunk_store.py, engine/research/distributed.py):
nothing finished is lost before the sweep folder is in place, and a resume reads only
chunks that are exactly what this sweep wrote.

Each failure class has its test: a real signal at the moment before the sweep folder's
rename, a failure after the sweep, a stop during the rename itself, SIGTERM inside the
parallel PBO kernel; and a resume store whose chunk was edited, truncated, swapped,
symlinked, brought from another store, replaced by a FIFO or a folder, or whose plan or
record is damaged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.integrity import file_record
from engine.research import distributed, streamed
from engine.research.distributed import partial_folder
from tests.conftest import REPO
from tests.sweep_stores import CHUNK, copy_store, make_stores, run_until, same_outputs, snapshot

CLI = "import sys; from engine.cli import main; main(sys.argv[1:], prog_name='rotation')"


def _sweep(*args) -> list[str]:
    return ["sweep", *map(str, args), "--json"]


@pytest.fixture(scope="module")
def made(tmp_path_factory, shared_data) -> dict[str, Path]:
    """A store stopped after 4 of its grid's 10 chunks, another sweep's, the whole output."""
    return make_stores(tmp_path_factory.mktemp("stores"), shared_data, 4)


@pytest.fixture()
def store(made, tmp_path) -> Path:
    """A fresh copy of the interrupted store, in this test's folder."""
    return copy_store(made["store"], tmp_path / "sweep.partial")


# ---- nothing is lost before the sweep folder is in place ----------------------------


def test_ctrl_c_before_the_folder_rename_keeps_every_chunk_and_resume_finishes_the_same(
    made, tmp_path, monkeypatch
):
    out = tmp_path / "sweep"
    store = partial_folder(out)
    done = run_until("rename", _sweep(made["grid"], "--out", out), tmp_path, signal.SIGINT)
    assert done.returncode == 130, done.stderr
    assert not out.exists() and not list(tmp_path.glob(".sweep*"))  # no half folder
    lines = done.stderr.splitlines()
    assert lines[0] == (
        f"10 finished chunk(s) kept for a resume in {store}; continue with "
        f"`rotation sweep CONFIG --resume {store}`"
    )
    assert lines[1:] == [
        "Interrupted by SIGINT: stopped; no half-written output folder was left."
    ], done.stderr
    assert len(list(store.glob("chunk-*.json"))) == 10

    evaluated = []
    monkeypatch.setattr(streamed, "run_part", lambda *a: evaluated.append(a))
    resumed = CliRunner().invoke(main, _sweep(made["grid"], "--resume", store))
    assert resumed.exit_code == 0, resumed.output
    assert evaluated == [] and not store.exists()  # every chunk read back, then removed
    same_outputs(out, made["whole"])


def test_a_failure_after_the_sweep_keeps_the_store_and_says_how_to_resume(
    made, tmp_path, monkeypatch
):
    from engine.errors import RotationError
    from engine.research import overfitting

    def broken(*args, **kwargs):
        raise RotationError("the odds failed")

    monkeypatch.setattr(overfitting, "add_sampled_odds", broken)
    monkeypatch.setenv(distributed.CHUNK_ENV, str(CHUNK))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, _sweep(made["grid"], "--out", out))
    assert result.exit_code == 2, result.output
    store = partial_folder(out)
    assert result.stderr.splitlines() == [
        f"10 finished chunk(s) kept for a resume in {store}; continue with "
        f"`rotation sweep CONFIG --resume {store}`",
        "Error: the odds failed",
    ]
    assert not out.exists() and len(list(store.glob("chunk-*.json"))) == 10


def test_a_stop_during_the_rename_itself_leaves_the_complete_folder_and_no_store(
    made, tmp_path, monkeypatch, stop_signals_delivered
):
    from engine.report import folders

    move = folders._move_into_place

    def signalled(staging, destination):
        os.kill(os.getpid(), signal.SIGTERM)  # held back until the rename is done
        move(staging, destination)

    monkeypatch.setattr(folders, "_move_into_place", signalled)
    monkeypatch.setenv(distributed.CHUNK_ENV, str(CHUNK))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, _sweep(made["grid"], "--out", out))
    assert result.exit_code == 143, result.output
    assert "kept for a resume" not in result.stderr
    assert not partial_folder(out).exists()  # the output is complete: nothing to resume
    same_outputs(out, made["whole"])


def test_sigterm_inside_the_pbo_kernel_exits_143_cleanly_and_keeps_the_store(made, tmp_path):
    out = tmp_path / "sweep"
    done = run_until("pbo", _sweep(made["grid"], "--out", out), tmp_path, signal.SIGTERM)
    assert done.returncode == 143, done.stderr
    for noise in ("Traceback", "SystemError", "Exception ignored", "Fatal Python error"):
        assert noise not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith("Interrupted by SIGTERM")
    assert len(list(partial_folder(out).glob("chunk-*.json"))) == 10 and not out.exists()


def test_an_interrupted_chunk_write_is_computed_again(made, store, monkeypatch, tmp_path):
    # chunk 2's files without its record: a write cut short before the record was renamed
    (store / "chunk-40-60.json").unlink()
    (store / "chunk-40-60.parquet").write_bytes(b"half")
    evaluated = []
    real = streamed.run_part

    def counted(job, start, stop):
        evaluated.append(start)
        return real(job, start, stop)

    monkeypatch.setattr(streamed, "run_part", counted)
    out = tmp_path / "resumed"
    result = CliRunner().invoke(main, _sweep(made["grid"], "--resume", store, "--out", out))
    assert result.exit_code == 0, result.output
    assert sorted(evaluated) == [40, 80, 100, 120, 140, 160, 180]
    same_outputs(out, made["whole"])


def test_unknown_files_in_a_store_are_ignored_and_left_in_place(made, store, tmp_path):
    (store / "notes.txt").write_text("mine")
    out = tmp_path / "resumed"
    result = CliRunner().invoke(main, _sweep(made["grid"], "--resume", store, "--out", out))
    assert result.exit_code == 0, result.output
    same_outputs(out, made["whole"])
    assert [p.name for p in store.iterdir()] == ["notes.txt"]  # only its own files removed


# ---- a resume reads only what this sweep wrote --------------------------------------


def _edit_sharpe(store: Path, other: Path) -> str:
    """Sharpe 9.99 in ten rows of a chunk; its record unchanged."""
    path = store / "chunk-20-40.parquet"
    frame = pd.read_parquet(path)
    frame.loc[:9, "sharpe"] = 9.99
    frame.to_parquet(path, index=False)
    return path.name


def _flip_a_byte(store: Path, other: Path) -> str:
    """One byte of a part changed in place: the same size, other bytes."""
    path = store / "chunk-20-40.parquet"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    return f"{path.name} is not the file its record describes"


def _truncate(store: Path, other: Path) -> str:
    path = store / "chunk-20-40.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path.name


def _swap(store: Path, other: Path) -> str:
    a, b = store / "chunk-0-20.parquet", store / "chunk-20-40.parquet"
    a.rename(store / "swap")
    b.rename(a)
    (store / "swap").rename(b)
    return a.name


def _swap_with_records(store: Path, other: Path) -> str:
    """Chunk 0's files and record renamed to chunk 1's names (chunk 1 gone)."""
    for suffix in (".parquet", ".json"):
        (store / f"chunk-0-20{suffix}").replace(store / f"chunk-20-40{suffix}")
    return "chunk-20-40.json"


def _symlink(store: Path, other: Path) -> str:
    path = store / "chunk-20-40.parquet"
    path.unlink()
    path.symlink_to("chunk-0-20.parquet")
    return path.name


def _foreign(store: Path, other: Path) -> str:
    """Chunk 1 with its record from the store of another sweep (5 bps of fees)."""
    for suffix in (".parquet", ".json"):
        shutil.copyfile(other / f"chunk-20-40{suffix}", store / f"chunk-20-40{suffix}")
    return "chunk-20-40.json"


def _folder(store: Path, other: Path) -> str:
    path = store / "chunk-20-40.parquet"
    path.unlink()
    path.mkdir()
    return path.name


def _missing(store: Path, other: Path) -> str:
    (store / "chunk-20-40.parquet").unlink()
    return "chunk-20-40.parquet"


def _rewrite_with_record(store: Path, name: str, data: bytes) -> None:
    """Replace a chunk file and mend its record to match (a consistent forgery)."""
    (store / name).write_bytes(data)
    record_path = store / (name.rsplit(".", 1)[0] + ".json")
    record = json.loads(record_path.read_text())
    record["files"][name] = file_record(data)
    record_path.write_text(json.dumps(record))


def _wrong_shape(store: Path, other: Path) -> str:
    """A part of another chunk's length (3 rows), its record mended to match."""
    from io import BytesIO

    buffer = BytesIO()
    pd.read_parquet(store / "chunk-20-40.parquet").iloc[:3].to_parquet(buffer, index=False)
    _rewrite_with_record(store, "chunk-20-40.parquet", buffer.getvalue())
    return "chunk-20-40.parquet"


def _not_parquet(store: Path, other: Path) -> str:
    _rewrite_with_record(store, "chunk-20-40.parquet", b"PAR1 not really")
    return "chunk-20-40.parquet"


def _missing_column(store: Path, other: Path) -> str:
    from io import BytesIO

    buffer = BytesIO()
    pd.read_parquet(store / "chunk-20-40.parquet").drop(columns="sharpe").to_parquet(buffer)
    _rewrite_with_record(store, "chunk-20-40.parquet", buffer.getvalue())
    return "chunk-20-40.parquet"


def _record_not_json(store: Path, other: Path) -> str:
    (store / "chunk-20-40.json").write_text("{")
    return "chunk-20-40.json"


def _without_plan_field(store: Path, field: str) -> None:
    plan = json.loads((store / "plan.json").read_text())
    del plan[field]
    (store / "plan.json").write_text(json.dumps(plan))


def _plan_field_missing(store: Path, other: Path) -> str:
    _without_plan_field(store, "chunk_size")
    return "plan.json has no valid chunk_size"


def _plan_not_json(store: Path, other: Path) -> str:
    (store / "plan.json").write_bytes(b"\xff\xfe")
    return "plan.json is not readable JSON"


def _plan_of_an_older_version(store: Path, other: Path) -> str:
    _without_plan_field(store, "format")  # as the first version wrote it
    return "written by another version of rotation"


DAMAGES = [
    _edit_sharpe,
    _flip_a_byte,
    _truncate,
    _swap,
    _swap_with_records,
    _symlink,
    _foreign,
    _folder,
    _missing,
    _wrong_shape,
    _not_parquet,
    _missing_column,
    _record_not_json,
    _plan_field_missing,
    _plan_not_json,
    _plan_of_an_older_version,
]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_store_is_refused_in_one_line_and_left_as_it_was(made, store, damage):
    named = damage(store, made["other"])
    before = snapshot(store)
    result = CliRunner().invoke(main, _sweep(made["grid"], "--resume", store))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: --resume {store}: {named}"), result.output
    assert result.output.count("\n") == 1 and result.stdout == ""
    assert "delete" in result.output or "remove" in result.output  # what to do
    assert snapshot(store) == before and not (store.parent / "sweep").exists()


@pytest.mark.parametrize("name", ["chunk-20-40.parquet", "plan.json"])
def test_a_fifo_in_a_store_is_refused_without_ever_blocking(made, store, name):
    (store / name).unlink()
    os.mkfifo(store / name)
    before = snapshot(store)
    done = subprocess.run(  # a FIFO opened for reading would block: the timeout catches it
        [sys.executable, "-c", CLI, *_sweep(made["grid"], "--resume", store)],
        cwd=store.parent,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"Error: --resume {store}: {name} is a FIFO"), done.stderr
    assert done.stderr.count("\n") == 1
    assert snapshot(store) == before
