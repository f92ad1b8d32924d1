"""The walk-forward tearsheet (`rotation sweep --walk-forward ... --tearsheet`,
engine/report/tearsheet_walkforward.py): written instead of the flag being ignored, built
only from the folder's files, every number equal to walkforward.json's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.metrics import metric
from engine.report import fmt
from engine.report import tearsheet_walkforward as wf
from engine.report.tearsheet import FILENAME
from tests.test_tearsheet import page_ids, parse
from tests.test_walkforward import small_raw


def grid(folder: Path, data_dir: Path, fees=None) -> Path:
    """A small breakout grid (3 x 2 x 2) on 2019-2023 prices; `fees` makes costs a scenario."""
    raw = small_raw(data_dir)
    raw["signals"]["ratio_breakout"] |= {"entry": [60, 120, 250], "exit": [20, 60]}
    raw["signals"]["eth_risk_on"] |= {"window": [50, 100]}
    if fees:
        raw["execution"] = {**raw.get("execution", {}), "fees_bps": fees}
    path = folder / ("grid_fees.yaml" if fees else "grid.yaml")
    path.write_text(yaml.safe_dump(raw))
    return path


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def folder(tmp_path_factory, shared_data) -> Path:
    root = tmp_path_factory.mktemp("wf-page")
    out = root / "wf"
    spec = grid(root, shared_data)
    result = invoke(
        "sweep", spec, "--walk-forward", "train=2y,test=1y", "--out", out, "--tearsheet"
    )
    assert f"Tearsheet: {out / FILENAME}" in result.output.replace("\n", "")
    return out


def test_tearsheet_flag_with_walk_forward_writes_the_page(folder):
    text = (folder / FILENAME).read_text(encoding="utf-8")
    assert '<script src="http' not in text  # plotly.js inlined: opens offline
    for chart in ("chart-stitched", "chart-parameters", "chart-per-window"):
        assert f'id="{chart}"' in text
    assert "Walk-forward: breakout-grid" in text and "train=2y,test=1y" in text
    ids = page_ids(folder / FILENAME)
    assert ids and sorted({i for i in ids if ids.count(i) > 1}) == []  # each id names one element


def test_in_and_out_of_sample_table_equals_walkforward_json(folder):
    summary = json.loads((folder / "walkforward.json").read_text())
    shown = {key: text for _, key, text in parse(folder / FILENAME, "table-summary").cells if key}
    expected = {
        f"{part}.{key}": fmt(summary[part][key], metric(key).format)
        for part in wf.PARTS
        for key in summary["in_sample"]
    }
    assert shown == expected
    assert len(expected) == 4 * 6


def test_stitched_curve_is_drawn_against_the_benchmark(folder):
    page = wf.read_walkforward(folder)
    figure = wf.stitched_figure(page)
    names = [t.name for t in figure.data]
    own, bench = "breakout-grid (out of sample)", "benchmark (SPY)"
    assert names == [own, own, bench, bench]  # each curve, then its drawdown
    values = page.values
    strategy, benchmark = figure.data[0], figure.data[2]
    assert np.allclose(strategy.y, values["strategy"]) and np.allclose(
        benchmark.y, values["benchmark"]
    )
    deepest = min(np.nanmin(t.y) for t in figure.data if t.yaxis == "y2" and t.name == own)
    assert deepest == pytest.approx(page.summary["out_of_sample"]["max_drawdown"], abs=1e-12)
    text = (folder / FILENAME).read_text(encoding="utf-8")
    assert '"name":"benchmark (SPY)"' in text


def test_the_parameters_chosen_in_each_window_are_listed(folder):
    windows = json.loads((folder / "walkforward.json").read_text())["per_window"]
    axes = json.loads((folder / "manifest.json").read_text())["axes"]
    assert len(axes) == 3 and len(windows) >= 2
    cells = parse(folder / FILENAME, "table-chosen").cells
    shown = {key: text for _, key, text in cells if key}
    for window in windows:
        n = window["window"]
        for axis in axes:
            assert shown[f"{n}|{axis}"] == f"{window[axis]:g}"
        assert shown[f"{n}|oos_sharpe"] == fmt(window["oos_sharpe"], "num")
        assert shown[f"{n}|is_sharpe"] == fmt(window["is_sharpe"], "num")
    texts = [text for _, _, text in cells]
    assert f"{windows[0]['test_start']} → {windows[0]['test_end']}" in texts


def test_rotation_tearsheet_rebuilds_the_same_walk_forward_page(folder):
    before = (folder / FILENAME).read_bytes()
    result = invoke("tearsheet", folder)
    assert result.output.strip() == f"Tearsheet: {folder / FILENAME}"
    assert (folder / FILENAME).read_bytes() == before


def test_json_output_stays_json_with_the_page_path_on_stderr(tmp_path, shared_data):
    out = tmp_path / "wf"
    spec = grid(tmp_path, shared_data)
    args = ("sweep", spec, "--walk-forward", "train=3y,test=1y", "--out", out)
    result = invoke(*args, "--json", "--tearsheet")
    assert json.loads(result.stdout)["windows"] >= 1
    assert f"Tearsheet: {out / FILENAME}" in result.stderr
    assert (out / FILENAME).is_file()


def test_without_the_flag_no_page_is_written(tmp_path, shared_data):
    out = tmp_path / "wf"
    invoke("sweep", grid(tmp_path, shared_data), "--walk-forward", "train=3y,test=1y", "--out", out)
    assert not (out / FILENAME).exists() and (out / "walkforward.json").is_file()


def test_each_cost_scenario_gets_its_rows_and_its_curve(tmp_path, shared_data):
    out = tmp_path / "wf"
    spec = grid(tmp_path, shared_data, fees=[0, 25])
    invoke("sweep", spec, "--walk-forward", "train=3y,test=1y", "--out", out, "--tearsheet")
    summary = json.loads((out / "walkforward.json").read_text())
    # a swept fee is a scenario by default (README, Scenario axes): its absence is a bug
    assert [b["label"] for b in summary.get("scenarios", [])] == ["fees_bps=0", "fees_bps=25"]
    shown = {key: text for _, key, text in parse(out / FILENAME, "table-summary").cells if key}
    for i, block in enumerate(summary["scenarios"]):
        for part in wf.PARTS:
            key = f"scenarios.{i}.{part}.sharpe"
            assert shown[key] == fmt(block[part]["sharpe"], "num")
    figure = wf.stitched_figure(wf.read_walkforward(out))
    labels = [b["label"] for b in summary["scenarios"]]
    assert [t.name for t in figure.data if t.showlegend is not False] == labels
