"""Helpers of the chunk-store tests: a small grid on the reference prices, a store left by
an interrupted sweep, a picture of a store to prove it was left as it was, and the `rotation`
command in a subprocess that tells the test (through a pipe) when it reaches a moment."""

from __future__ import annotations

import os
import select
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.data import CsvSource
from engine.research.distributed import CHUNK_ENV, sweep_grid
from engine.research.sweep_config import load_sweep
from tests.conftest import CONFIGS, REPO, deliver_stop_signals

CHUNK = 20  # combinations per chunk: the 200-combination grid is 10 chunks


def write_grid(folder: Path, data_dir: Path, **execution) -> Path:
    """A 200-combination breakout sweep (10 entries x 5 exits x 4 windows) on csv data."""
    raw = yaml.safe_load((CONFIGS / "sweeps" / "breakout_grid.yaml").read_text())
    raw["data"] |= {"source": "csv", "dir": str(data_dir)}
    raw["data"] |= {"start": "2019-06-03", "end": "2024-12-31"}
    raw["signals"]["ratio_breakout"]["entry"] = {"start": 20, "stop": 200, "step": 20}
    raw["signals"]["ratio_breakout"]["exit"] = [20, 40, 60, 80, 100]
    raw["signals"]["eth_risk_on"]["window"] = [50, 100, 150, 200]
    raw["execution"] |= execution
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def interrupted_store(grid_path: Path, store: Path, chunks: int) -> None:
    """The chunk store `rotation sweep GRID` leaves when stopped after `chunks` chunks (its
    results parts; no daily values: the command recomputes those its odds need)."""
    spec, _ = load_sweep(grid_path)

    def stop(done: int, total: int) -> None:
        if done >= chunks * CHUNK:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep_grid(
            spec,
            CsvSource(Path(spec.base.data.dir)),
            progress=stop,
            store=store,
            chunk_size=CHUNK,
        )


def make_stores(root: Path, data_dir: Path, chunks: int) -> dict[str, Path]:
    """The grid, a store stopped after `chunks` of its 10 chunks, a store of the same grid at
    5 bps of fees (another sweep's), and the folder an uninterrupted sweep writes."""
    from click.testing import CliRunner

    from engine.cli import main

    grid = write_grid(root / "grid", data_dir)
    store = root / "sweep.partial"
    interrupted_store(grid, store, chunks)
    other = root / "other.partial"
    interrupted_store(write_grid(root / "other", data_dir, fees_bps=5), other, chunks)
    whole = root / "whole"
    args = ["sweep", str(grid), "--out", str(whole), "--chunk-size", str(CHUNK), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return {"grid": grid, "store": store, "other": other, "whole": whole}


OUTPUTS = (
    "results.csv",
    "summary.json",
    "best_values.csv",
    "top.parquet",
    "heatmap.csv",
    "histogram.csv",
)


def same_outputs(folder: Path, whole: Path, parts: bool = True) -> None:
    """The sweep folder `folder` holds the same bytes as `whole` (the timing-free files and,
    with `parts`, the results parts: the same chunk size; else the same table)."""
    import pandas as pd

    for name in OUTPUTS:
        assert (folder / name).read_bytes() == (whole / name).read_bytes(), name
    mine, theirs = sorted((folder / "results").iterdir()), sorted((whole / "results").iterdir())
    if parts:
        assert [p.name for p in mine] == [p.name for p in theirs]
        for a, b in zip(mine, theirs, strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name
    table = pd.read_parquet(folder / "results")
    pd.testing.assert_frame_equal(table, pd.read_parquet(whole / "results"), check_exact=True)


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry of `folder`: its kind and, for a regular file, its bytes; for a link,
    its target (nothing is opened but regular files)."""
    seen = {}
    for path in sorted(folder.iterdir()):
        mode = os.lstat(path).st_mode
        if stat.S_ISREG(mode):
            seen[path.name] = ("file", path.read_bytes())
        elif stat.S_ISLNK(mode):
            seen[path.name] = ("link", os.readlink(path))
        else:
            seen[path.name] = (stat.S_IFMT(mode), None)
    return seen


def copy_store(store: Path, to: Path) -> Path:
    shutil.copytree(store, to, symlinks=True)
    return to


# The real `rotation` entry point, telling the test when it reaches a moment by writing one
# byte to the pipe ROTATION_TEST_PIPE. ROTATION_TEST_MOMENT names the moment: "rename", the
# sweep folder's last file is written and its rename is next (the command then waits for a
# signal); "pbo", the parallel PBO kernel is running (on 25 x the sweep's trials, so that it
# runs for a second or so; the sweep's own odds are computed as usual); "chunk:N", the
# main process has merged the digest of its Nth finished task, whose part is then in the
# store (the command then waits for a signal, so it cannot finish first, however slowly
# the test runs).
PAUSING_CLI = """
import os, sys, time
import numpy as np
import engine.report
import engine.research.overfitting as overfitting

moment = os.environ["ROTATION_TEST_MOMENT"]
pipe = int(os.environ["ROTATION_TEST_PIPE"])
if moment.startswith("chunk:"):
    import engine.research.reduce as reduce

    merge, merged = reduce.Reduction.add, []

    def counted(self, part):
        # this process merges a task's digest once its part is in the store
        merge(self, part)
        merged.append(part.start)
        if len(merged) == int(moment.split(":")[1]):
            os.write(pipe, b"!")
            while True:
                time.sleep(1)

    reduce.Reduction.add = counted
elif moment == "rename":
    write_json = engine.report.write_json

    def paused(path, payload):
        write_json(path, payload)
        if path.name == "manifest.json":  # the last file before the rename
            os.write(pipe, b"!")
            while True:
                time.sleep(1)

    engine.report.write_json = paused
elif moment == "pbo":
    import threading

    kernel = overfitting._cscv_nb
    calling = []

    def tell_when_inside():
        # The main thread sets `calling` and calls the kernel with nothing in between that
        # lets another thread run: this thread gets the GIL back only once the kernel has
        # released it for its parallel region.
        while not calling:
            time.sleep(0.001)
        os.write(pipe, b"!")

    def long_kernel(chosen, membership, sums, squares, total, total_sq, *rest):
        result = kernel(chosen, membership, sums, squares, total, total_sq, *rest)  # loaded
        wide = [np.ascontiguousarray(np.tile(a, (1, 25))) for a in (sums, squares)]
        wide += [a.sum(axis=0) for a in wide]  # 25 x the trials: a kernel of a second or so
        threading.Thread(target=tell_when_inside, daemon=True).start()
        calling.append(True)
        kernel(chosen, membership, *wide, *rest)
        return result

    overfitting._cscv_nb = long_kernel
from engine.cli import main
main(sys.argv[1:], prog_name="rotation")
"""


def run_until(moment: str, args: list, cwd: Path, signum: int) -> subprocess.CompletedProcess:
    """Run `rotation ARGS` in a subprocess (chunks of CHUNK combinations), send `signum` as
    soon as it reaches `moment` (see PAUSING_CLI), and wait for its end."""
    read, write = os.pipe()
    env = os.environ | {
        CHUNK_ENV: str(CHUNK),
        "PYTHONPATH": str(REPO),
        "ROTATION_TEST_MOMENT": moment,
        "ROTATION_TEST_PIPE": str(write),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING_CLI, *map(str, args)],
        cwd=cwd,
        env=env,
        pass_fds=(write,),
        preexec_fn=deliver_stop_signals,  # a background job would ignore SIGINT
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write)
    try:
        with os.fdopen(read, "rb") as pipe:
            ready, _, _ = select.select([pipe], [], [], 300)  # not forever if it hangs
            reached = pipe.read(1) if ready else b""  # b"": the command ended first
        if reached:
            process.send_signal(signum)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert reached, f"never reached {moment}: {err}"
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
