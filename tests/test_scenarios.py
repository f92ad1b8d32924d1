"""Scenario axes (issue 13, item 2): costs are swept but never chosen. Every result (the
best, its neighbours, the overfitting odds, the walk-forward choice) is taken within each
scenario, and the benchmark appears in every sweep output (item 1)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.data import CsvSource, MemorySource
from engine.errors import ConfigError
from engine.research import grid
from engine.research.overfitting import add_to_summary
from engine.research.sweep import SweepResult, run_sweep
from engine.research.sweep_config import (
    SweepOptions,
    load_sweep,
    scenario_groups,
    short_names,
    sweep_spec,
)
from engine.research.sweep_summary import beats_benchmark, best_curves, summarize
from engine.runner import run_backtest
from tests.conftest import CONFIGS

SWEEPS = CONFIGS / "sweeps"
FEES = [0, 10, 25]


def grid_raw(data_dir, fees=None, slippage=None) -> dict:
    """A 2 x 2 x 2 breakout grid on 2019-2023, costs as given (a list = swept)."""
    raw = yaml.safe_load((SWEEPS / "breakout_grid.yaml").read_text())
    raw.pop("sweep")
    raw["data"] = {
        "source": "csv",
        "dir": str(data_dir),
        "start": "2019-06-03",
        "end": "2023-12-29",
    }
    raw["signals"]["ratio_breakout"] |= {"entry": [40, 120], "exit": [20, 60]}
    raw["signals"]["eth_risk_on"] |= {"window": [50, 100]}
    if fees is not None:
        raw["execution"]["fees_bps"] = fees
    if slippage is not None:
        raw["execution"]["slippage_bps"] = slippage
    return raw


@pytest.fixture(scope="module")
def source(shared_data):
    return MemorySource(CsvSource(shared_data).load(["IWM", "SPY", "ETH-USD"]))


def summarized(raw, source, metric="sharpe", scenarios=None):
    spec = sweep_spec(raw, "grid.yaml", scenarios=scenarios)
    result = run_sweep(spec, source, keep_values=True)
    options = SweepOptions(metric=metric, top=3)
    table, summary = summarize(spec, options, result)
    add_to_summary(summary, spec, result, subperiods=8)
    return spec, result, table, summary


# ---------------------------------------------------------------- which axes are scenarios


def test_cost_axes_are_scenarios_by_default_and_an_empty_list_makes_none(shared_data):
    raw = grid_raw(shared_data, fees=FEES, slippage=[1, 3])
    assert sweep_spec(raw, "g.yaml").scenarios == ("execution.fees_bps", "execution.slippage_bps")
    assert sweep_spec(raw, "g.yaml", scenarios=[]).scenarios == ()
    named = sweep_spec(raw, "g.yaml", scenarios=["slippage_bps", "entry"])  # trailing names
    assert named.scenarios == ("signals.ratio_breakout.entry", "execution.slippage_bps")
    assert [a.name for a in named.choices] == [
        "signals.ratio_breakout.exit",
        "signals.eth_risk_on.window",
        "execution.fees_bps",
    ]
    with pytest.raises(ConfigError, match=r"sweep.scenarios: 'nonsense' is not one of the swept"):
        sweep_spec(raw, "g.yaml", scenarios=["nonsense"])


def test_a_sweep_without_cost_axes_has_no_scenarios(shared_data):
    spec = sweep_spec(grid_raw(shared_data), "g.yaml")
    assert spec.scenarios == () and spec.choices == spec.axes
    (only,) = scenario_groups(spec)
    assert only.label == "" and only.values == {}
    np.testing.assert_array_equal(only.rows, np.arange(spec.size))


def test_scenario_groups_hold_their_rows_in_grid_order(shared_data):
    spec = sweep_spec(grid_raw(shared_data, fees=FEES, slippage=[1, 3]), "g.yaml")
    groups = scenario_groups(spec)
    assert [g.label for g in groups] == [
        f"fees_bps={f}, slippage_bps={s}" for f in FEES for s in (1, 3)
    ]
    combos = list(grid.combinations(spec.axes))
    for group in groups:
        assert len(group.rows) == 8 and np.all(np.diff(group.rows) > 0)
        for row in group.rows:
            assert combos[row][3:] == tuple(group.values.values())
    assert sorted(np.concatenate([g.rows for g in groups])) == list(range(spec.size))


def test_sweep_options_read_scenarios_from_the_sweep_section(tmp_path, shared_data):
    raw = grid_raw(shared_data, fees=FEES)
    raw["sweep"] = {"scenarios": []}
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(raw))
    spec, options = load_sweep(path)
    assert options.scenarios == [] and spec.scenarios == ()


def test_short_names_are_the_shortest_unambiguous_trailing_parts():
    names = [
        "signals.ratio_breakout.entry",
        "signals.ratio_breakout.exit",
        "signals.eth_risk_on.window",
        "signals.btc_risk_on.window",
        "regimes[0].weights.IWM",
        "execution.fees_bps",
    ]
    assert short_names(names) == {
        "signals.ratio_breakout.entry": "entry",
        "signals.ratio_breakout.exit": "exit",
        "signals.eth_risk_on.window": "eth_risk_on.window",
        "signals.btc_risk_on.window": "btc_risk_on.window",
        "regimes[0].weights.IWM": "IWM",
        "execution.fees_bps": "fees_bps",
    }


# ---------------------------------------------------------------- results per scenario


@pytest.mark.parametrize("metric", ["sharpe", "calmar", "volatility"])
def test_the_best_within_each_fee_level_equals_the_best_of_a_sweep_at_that_fee_alone(
    metric, shared_data, source
):
    spec, _, _, summary = summarized(grid_raw(shared_data, fees=FEES), source, metric)
    assert [b["label"] for b in summary["scenarios"]] == [f"fees_bps={f}" for f in FEES]
    names = [a.name for a in spec.choices]
    for fee, block in zip(FEES, summary["scenarios"], strict=True):
        alone_spec, _, _, alone = summarized(grid_raw(shared_data, fees=fee), source, metric)
        assert alone_spec.scenarios == ()
        assert block["combinations"] == alone["combinations"] == 8
        for got, want in zip(block["top"], alone["top"], strict=True):
            assert {n: got[n] for n in names} == {n: want[n] for n in names}
            assert got[metric] == pytest.approx(want[metric], rel=1e-12)
            assert got["neighbour_mean"] == pytest.approx(want["neighbour_mean"], rel=1e-12)
        assert block["sensitivity"] == pytest.approx(alone["sensitivity"], rel=1e-12)
        assert block["beats_benchmark"] == alone["beats_benchmark"]
        # the odds count the trials within the scenario: those of the sweep at that fee
        odds, single = block["overfitting"], alone["overfitting"]
        assert odds["trials"] == single["trials"] == 8
        assert odds["deflated_sharpe"]["dsr"] == pytest.approx(single["deflated_sharpe"]["dsr"])
        assert odds["pbo"]["pbo"] == single["pbo"]["pbo"]
        best = odds["best_params"]
        assert best["execution.fees_bps"] == fee
        assert {n: best[n] for n in names} == single["best_params"]


def test_zero_fees_no_longer_win_a_sweep_that_treats_fees_as_a_knob(shared_data, source):
    """Without scenarios the best of the whole grid has the lowest fee; with them there is a
    best at every fee level, each judged at its own cost."""
    _, _, _, knob = summarized(grid_raw(shared_data, fees=FEES), source, scenarios=[])
    assert len(knob["scenarios"]) == 1 and knob["top"][0]["execution.fees_bps"] == 0
    _, _, _, kept = summarized(grid_raw(shared_data, fees=FEES), source)
    assert [b["top"][0]["execution.fees_bps"] for b in kept["scenarios"]] == FEES


def test_neighbours_are_taken_along_choice_axes_only(shared_data, source):
    """A combination's neighbours are one step along entry, exit or window at the same fee:
    the neighbour columns equal those of the sweep run at that fee alone."""
    spec, _, table, _ = summarized(grid_raw(shared_data, fees=FEES), source)
    for group in scenario_groups(spec):
        fee = group.values["execution.fees_bps"]
        _, _, alone, _ = summarized(grid_raw(shared_data, fees=fee), source)
        for column in ("sharpe", "neighbour_mean", "neighbour_min", "gap"):
            np.testing.assert_allclose(
                table[column].iloc[group.rows], alone[column], rtol=1e-12, err_msg=column
            )
    assert list(table.columns[: len(spec.axes) + 1]) == [a.name for a in spec.axes] + ["scenario"]
    assert set(table["scenario"]) == {f"fees_bps={f}" for f in FEES}


def test_beats_benchmark_compares_each_combination_with_its_own_benchmark(shared_data, source):
    _, _, table, summary = summarized(grid_raw(shared_data, fees=FEES), source)
    counts = beats_benchmark(table, "sharpe")
    assert counts["on_metric"] == int((table["sharpe"] > table["benchmark_sharpe"]).sum())
    assert counts["on_cagr"] == int((table["cagr"] > table["benchmark_cagr"]).sum())
    # the benchmark pays the fees too: its Sharpe falls with them
    span = counts["benchmark_metric"]
    assert span["min"] < span["max"]
    for block in summary["scenarios"]:
        sub = table[table["scenario"] == block["label"]]
        assert block["beats_benchmark"]["on_cagr"] == int(
            (sub["cagr"] > sub["benchmark_cagr"]).sum()
        )
    vol = beats_benchmark(table, "volatility")  # lower is better
    assert vol["on_metric"] == int((table["volatility"] < table["benchmark_volatility"]).sum())
    assert beats_benchmark(table, "time_in_neutral")["on_metric"] is None
    assert beats_benchmark(table, "excess_cagr")["on_metric"] == int(
        (table["excess_cagr"] > 0).sum()
    )


def test_best_curves_equal_a_run_of_each_scenarios_best(shared_data, source):
    spec, result, _, summary = summarized(grid_raw(shared_data, fees=FEES), source)
    curves = best_curves(spec, summary, result)
    assert list(curves.columns) == ["date", "scenario", "strategy", "benchmark"]
    for block in summary["scenarios"]:
        best = block["top"][0]
        run = run_backtest(spec.config_for(tuple(best[a.name] for a in spec.axes)), source)
        part = curves[curves["scenario"] == block["label"]]
        assert list(part["date"]) == list(run.dates.strftime("%Y-%m-%d"))
        np.testing.assert_allclose(part["strategy"], run.strategy.value, rtol=1e-9)
        np.testing.assert_allclose(part["benchmark"], run.benchmark.value, rtol=1e-9)


# ---------------------------------------------------------------- the heatmap


def _cells(spec, table, summary, pair=None):
    """The heatmap's cells of an in-memory sweep, over `pair` (default: the summary's)."""
    from engine.research.sweep_summary import heatmap_of

    heat = tuple(pair or summary["heatmap"])
    options = SweepOptions(metric=summary["metric"], heatmap=heat)
    result = SweepResult(table=table, axes=spec.axes, dates=pd.DatetimeIndex([]))
    return heatmap_of(spec, options, result)


def test_the_heatmap_is_centred_on_the_benchmark_and_says_so(shared_data, source):
    from engine.report.plots import sweep_heatmap

    spec, result, table, summary = summarized(grid_raw(shared_data), source)
    figure = sweep_heatmap(_cells(spec, result.table, summary), summary)
    trace = figure.data[0]
    assert trace.zmid == pytest.approx(table["benchmark_sharpe"].iloc[0])
    assert trace.colorscale is not None and "centred on the benchmark" in figure.layout.title.text
    pivot = table.pivot_table(
        index=summary["heatmap"][1], columns=summary["heatmap"][0], values="sharpe", aggfunc="mean"
    )
    np.testing.assert_allclose(np.asarray(trace.z, dtype=float), pivot.to_numpy(), rtol=1e-14)


def test_a_heatmap_over_a_cost_axis_shows_each_cell_against_its_own_benchmark(shared_data, source):
    from engine.report.plots import sweep_heatmap

    spec, result, table, summary = summarized(grid_raw(shared_data, fees=FEES), source)
    pair = ["signals.ratio_breakout.entry", "execution.fees_bps"]
    summary = {**summary, "heatmap": pair}
    figure = sweep_heatmap(_cells(spec, result.table, summary, pair), summary)
    trace = figure.data[0]
    assert trace.zmid == 0 and "minus its own benchmark" in figure.layout.title.text
    excess = table.assign(d=table["sharpe"] - table["benchmark_sharpe"])
    pivot = excess.pivot_table(
        index="execution.fees_bps",
        columns="signals.ratio_breakout.entry",
        values="d",
        aggfunc="mean",
    )
    np.testing.assert_allclose(np.asarray(trace.z, dtype=float), pivot.to_numpy(), rtol=1e-14)


def test_a_heatmap_of_choice_axes_shows_the_first_scenario_and_says_so(shared_data, source):
    from engine.report.plots import sweep_heatmap

    spec, result, table, summary = summarized(grid_raw(shared_data, fees=FEES), source)
    cells = _cells(spec, result.table, summary)
    figure = sweep_heatmap(cells, summary)
    assert "scenario fees_bps=0 (the first of 3)" in figure.layout.title.text
    first = table[table["scenario"] == "fees_bps=0"]
    assert figure.data[0].zmid == pytest.approx(first["benchmark_sharpe"].iloc[0])
    assert cells["combinations"].sum() == len(first)  # the first scenario's rows only


# ---------------------------------------------------------------- the command


def test_cli_prints_one_block_per_scenario_and_writes_them(tmp_path, shared_data):
    path = tmp_path / "costs.yaml"
    path.write_text(yaml.safe_dump(grid_raw(shared_data, fees=FEES)))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        main, ["sweep", str(path), "--out", str(out), "--subperiods", "8", "--tearsheet"]
    )
    assert result.exit_code == 0, result.output
    for fee in FEES:
        assert f"fees_bps={fee}: top 8 of 8 by sharpe" in result.output
        assert f"Overfitting odds within fees_bps={fee}: deflated Sharpe" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario_axes"] == ["execution.fees_bps"]
    assert [b["values"] for b in summary["scenarios"]] == [{"execution.fees_bps": f} for f in FEES]
    assert all(b["overfitting"]["trials"] == 8 for b in summary["scenarios"])
    table = pd.read_parquet(out / "results")
    assert list(table["scenario"].unique()) == [f"fees_bps={f}" for f in FEES]
    curves = pd.read_csv(out / "best_values.csv")
    assert list(curves["scenario"].unique()) == [f"fees_bps={f}" for f in FEES]
    page = (out / "tearsheet.html").read_text(encoding="utf-8")
    assert 'id="chart-best"' in page and "Scenarios" in page
    for fee in FEES:
        assert f"<h3>fees_bps={fee}</h3>" in page


def test_ready_weights_costs_sweep_treats_fees_as_a_scenario():
    spec, options = load_sweep(SWEEPS / "weights_costs.yaml", source="csv", dir="unused")
    assert options.scenarios == ["execution.fees_bps"]
    assert spec.scenarios == ("execution.fees_bps",)
    assert "execution.fees_bps" not in [a.name for a in spec.choices]


def test_a_sweep_of_costs_alone_reports_each_cost_without_choosing(shared_data, source):
    raw = grid_raw(shared_data, fees=FEES)
    for name, axis in (("ratio_breakout", "entry"), ("ratio_breakout", "exit")):
        raw["signals"][name][axis] = raw["signals"][name][axis][0]
    raw["signals"]["eth_risk_on"]["window"] = 50
    spec, _, table, summary = summarized(raw, source)
    assert spec.choices == [] and len(summary["scenarios"]) == 3
    for block in summary["scenarios"]:
        assert block["combinations"] == 1 and block["sensitivity"] == {}
        odds = block["overfitting"]
        assert odds["trials"] == 1 and odds["pbo"] is None  # nothing chosen, nothing overfit
        assert "its only combination" in block["notes"][0]
    assert table["neighbour_mean"].isna().all()
