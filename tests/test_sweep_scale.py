"""Sweeps that scale out (issue 22): results parts written where computed, the summary by
reduction (the same bits whatever the chunks, their order and where they ran), odds on a
recomputed seeded sample, and a real `dask scheduler` + `dask worker` pair on localhost."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.data import CsvSource, MemorySource
from engine.research import reduce
from engine.research.chunks import build_plan, evaluate_rows
from engine.research.parts import part_frame
from engine.research.sweep import run_sweep
from engine.research.sweep_config import load_sweep
from engine.research.sweep_summary import outline, summary_of
from tests.sweep_stores import CHUNK, same_outputs, write_grid


@pytest.fixture(scope="module")
def grid(tmp_path_factory, shared_data) -> Path:
    """The 200-combination grid at two fee levels: two scenarios of 200."""
    return write_grid(tmp_path_factory.mktemp("scale"), shared_data, fees_bps=[2, 10])


@pytest.fixture(scope="module")
def swept(grid):
    spec, options = load_sweep(grid)
    source = MemorySource(CsvSource(Path(spec.base.data.dir)).load(spec.base.tickers()))
    return spec, options, source, run_sweep(spec, source, keep_values=True)


def _reduced(spec, options, table, bounds):
    """The reduction of `table` cut into the chunks `bounds`, merged in the given order."""
    shape = outline(spec, options)
    merged = reduce.Reduction(shape)
    dims = [len(a.values) for a in spec.axes]
    for start, stop in bounds:
        index = np.array(np.unravel_index(np.arange(start, stop), dims))
        columns = {c: table[c].to_numpy()[start:stop] for c in table.columns}
        merged.add(reduce.digest(shape, start, stop, index, columns))
    return merged


def test_the_reduction_is_the_same_bits_whatever_the_chunks_and_their_order(swept):
    spec, options, _, result = swept
    table = result.table
    cuts = {
        "one": [(0, 400)],
        "sevens": [(s, min(400, s + 7)) for s in range(0, 400, 7)],
        "reversed": [(s, min(400, s + 33)) for s in range(0, 400, 33)][::-1],
    }
    summaries, heats = [], []
    for bounds in cuts.values():
        merged = _reduced(spec, options, table, bounds)
        summary = summary_of(spec, options, merged, lambda rows: table.iloc[rows], result.dates)
        summaries.append(json.dumps(summary, sort_keys=True, default=float))
        heats.append(merged.heat_cells([0, 1]))
    assert summaries[0] == summaries[1] == summaries[2]
    for other in heats[1:]:
        for key, column in heats[0].items():
            assert column.tobytes() == other[key].tobytes(), key


def test_the_heatmap_sums_are_exact_and_the_histogram_counts_every_combination(swept):
    spec, options, _, result = swept
    merged = _reduced(
        spec, options, result.table, [(s, s + 9) for s in range(0, 396, 9)] + [(396, 400)]
    )
    cells = merged.heat_cells([0])
    first = result.table[result.table["execution.fees_bps"] == 2]  # the first scenario
    x, y = (spec.axes[i].name for i in merged.outline.heat)
    for k in range(len(cells["x"])):
        rows = first[(first[x] == spec.axes[merged.outline.heat[0]].values[cells["x"][k]])]
        rows = rows[rows[y] == spec.axes[merged.outline.heat[1]].values[cells["y"][k]]]
        assert cells["metric"][k] == math.fsum(rows["sharpe"]) / len(rows)  # rounded once
    edges, counts = merged.histogram()
    assert counts.sum() == 400 and edges[0] == result.table["sharpe"].min()
    assert edges[-1] == result.table["sharpe"].max()


def test_a_heatmap_cell_is_summed_exactly_across_chunks(swept):
    """Values whose float sum depends on the order (1e16 + 1 - 1e16): each cell's sum is
    kept exact across chunks and rounded once (a plain sum gives 0 here)."""
    spec, options, _, result = swept
    table = result.table.copy()
    shape = outline(spec, options)
    x, y = (spec.axes[i].name for i in shape.heat)
    cell = (table[x] == table[x].iloc[0]) & (table[y] == table[y].iloc[0])
    cell &= table["execution.fees_bps"] == 2
    rows = np.flatnonzero(cell)
    assert len(rows) == 4
    table.loc[rows, "sharpe"] = [1e16, 1.0, -1e16, 0.0]
    merged = _reduced(spec, options, table, [(s, s + 1) for s in range(400)])
    cells = merged.heat_cells([0])
    assert cells["metric"][0] == 0.25 and cells["combinations"][0] == 4


def test_the_best_and_its_neighbours_looked_up_by_grid_index_are_the_rows_of_the_parts(swept):
    spec, _, source, result = swept
    plan = build_plan(spec, source)
    rows = np.array([399, 0, 171, 5, 170])  # any rows, in any order
    columns, values = evaluate_rows(plan, rows, keep_values=True)
    frame = part_frame(plan, rows, columns).drop(columns="scenario")
    expected = result.table.iloc[rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert values.tobytes() == np.ascontiguousarray(result.values[:, rows]).tobytes()


def test_odds_on_a_sample_name_it_and_always_hold_the_best(swept, monkeypatch, tmp_path, grid):
    """Scenarios of 200 combinations, a sample of 50: the odds count every trial, say the
    sample, and are measured on recomputed daily returns that include the best."""
    monkeypatch.setattr(reduce, "SAMPLE", 50)
    out = tmp_path / "sampled"
    result = CliRunner().invoke(main, ["sweep", str(grid), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    table = pd.read_parquet(out / "results")
    for block in summary["scenarios"]:
        odds = block["overfitting"]
        assert odds["trials"] == 200 and odds["sample"] == {"size": 50, "of": 200, "seed": 0}
        assert odds["pbo"]["sampled"] == 50 and odds["pbo"]["of"] == 200
        mine = table[table["scenario"] == block["label"]]
        assert odds["best_by_sharpe"] == int(mine["sharpe"].idxmax())  # the best is in it
        assert block["sample"] == {"size": 50, "of": 200, "seed": 0}
        assert any("seeded sample of 50 of the 200" in note for note in block["notes"])


def test_odds_read_the_sample_the_tasks_sent_back_the_same_bits_as_recomputed(
    grid, tmp_path, monkeypatch
):
    """The tasks send back the daily values of the seeded sample; the odds then recompute
    only what the pass could not know (the best, when it was not drawn): the same folder
    as recomputing the whole sample after the pass."""
    from engine.research import streamed

    monkeypatch.setattr(reduce, "SAMPLE", 50)  # 2 scenarios of 200: the best replaces a draw
    recomputed = []
    recompute = streamed.values_of_rows

    def counted(plan, rows):
        recomputed.append(len(rows))
        return recompute(plan, rows)

    monkeypatch.setattr(streamed, "values_of_rows", counted)
    runner = CliRunner(env={"ROTATION_SWEEP_CHUNK": str(CHUNK)})
    folders = {}
    for name, budget in (("kept", streamed.SAMPLE_BYTES), ("recomputed", 0)):
        monkeypatch.setattr(streamed, "SAMPLE_BYTES", budget)
        recomputed.clear()
        folders[name] = tmp_path / name
        result = runner.invoke(main, ["sweep", str(grid), "--out", str(folders[name]), "--json"])
        assert result.exit_code == 0, result.output
        folders[name, "rows"] = sum(recomputed)
    same_outputs(folders["kept"], folders["recomputed"])
    assert folders["recomputed", "rows"] >= 100  # both samples of 50, after the pass
    assert folders["kept", "rows"] <= 6  # the best rows, at most, and their curves


def test_kept_columns_are_handed_over_in_place_each_column_to_its_row_or_not_at_all():
    from engine.research.streamed import Kept

    rng = np.random.default_rng(7)
    for _ in range(300):
        rows = np.sort(rng.choice(400, 60, replace=False))
        kept = Kept.empty(rows, 3)
        filled = rng.random(60) < 0.9
        kept.put(rows[filled], np.tile(rows[filled].astype(float), (3, 1)), -rows[filled] * 1.0)
        lo = int(rng.integers(0, 50))
        window = list(rows[lo : lo + int(rng.integers(1, 11))])
        others = np.setdiff1d(np.arange(500), rows)
        for _ in range(int(rng.integers(0, 3))):  # a few swapped for rows not kept
            window[int(rng.integers(len(window)))] = int(rng.choice(others))
        wanted = np.unique(window)
        taken = kept.take(wanted)
        if taken is None:
            continue
        values, sharpes, missing = taken
        assert np.shares_memory(values, kept.values)  # no copy
        here = np.isin(wanted, rows[filled])
        assert np.array_equal(missing, np.flatnonzero(~here))
        assert np.array_equal(values[:, here], np.tile(wanted[here].astype(float), (3, 1)))
        assert np.array_equal(sharpes[here], -wanted[here] * 1.0)
        assert kept.take(wanted) is None  # handed over: never again
    unsorted = Kept.empty(np.arange(5), 2)
    unsorted.put(np.arange(5), np.zeros((2, 5)), np.zeros(5))
    assert unsorted.take(np.array([3, 1])) is None


def test_a_one_process_sweep_and_a_two_worker_one_write_the_same_folder(grid, tmp_path):
    env = {"ROTATION_SWEEP_CHUNK": str(CHUNK)}
    alone, spread = tmp_path / "alone", tmp_path / "spread"
    runner = CliRunner(env=env)
    first = runner.invoke(main, ["sweep", str(grid), "--out", str(alone), "--json"])
    second = runner.invoke(
        main, ["sweep", str(grid), "--out", str(spread), "--workers", "2", "--json"]
    )
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    same_outputs(spread, alone)
    assert len(list((alone / "results").iterdir())) == 20


# ---- a real scheduler and worker, each its own process --------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"no {what} after {seconds} s")


def test_a_dask_scheduler_and_worker_started_as_processes_run_the_sweep(grid, tmp_path):
    """The README's commands: `dask scheduler` and `dask worker` on localhost, then
    `rotation sweep --scheduler`; the folder equals an in-process sweep's."""
    pytest.importorskip("distributed")
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("the dask command is not installed beside this python")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    logs = [(tmp_path / name).open("w") for name in ("scheduler.log", "worker.log")]
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", "127.0.0.1:0"],
        stdout=logs[0], stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(dask), "worker", address, "--nworkers", "2", "--nthreads", "1",
         "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
        stdout=logs[1], stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        from distributed import Client

        def two_workers() -> bool:
            try:
                with Client(address, timeout=2) as client:
                    return len(client.scheduler_info()["workers"]) == 2
            except OSError:
                return False

        _wait_for(two_workers, 90, "two workers")
        out, alone = tmp_path / "spread", tmp_path / "alone"
        runner = CliRunner(env={"ROTATION_SWEEP_CHUNK": str(CHUNK)})
        spread = runner.invoke(
            main, ["sweep", str(grid), "--out", str(out), "--scheduler", address, "--json"]
        )
        assert spread.exit_code == 0, spread.output
        first = runner.invoke(main, ["sweep", str(grid), "--out", str(alone), "--json"])
        assert first.exit_code == 0, first.output
        same_outputs(out, alone)
        tasks = json.loads((out / "manifest.json").read_text())["tasks"]
        assert tasks["processes"] == 2 and tasks["count"] == 20
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def test_results_csv_is_written_up_to_its_row_count_or_when_asked(grid, tmp_path, monkeypatch):
    from engine.research import parts

    monkeypatch.setattr(parts, "CSV_ROWS", 399)  # the grid has 400 combinations
    runner = CliRunner()
    plain, asked = tmp_path / "plain", tmp_path / "asked"
    assert runner.invoke(main, ["sweep", str(grid), "--out", str(plain), "--json"]).exit_code == 0
    args = ["sweep", str(grid), "--out", str(asked), "--json", "--csv"]
    assert runner.invoke(main, args).exit_code == 0
    assert not (plain / "results.csv").exists()
    table = pd.read_csv(asked / "results.csv")
    pd.testing.assert_frame_equal(table, pd.read_parquet(asked / "results"), check_dtype=False)
