"""Sweeps: grid expansion, limits, and every combination equal to `rotation run` of it."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.data import CsvSource, MemorySource
from engine.errors import ConfigError
from engine.metrics.fast_stats import RUN_ONLY
from engine.research import grid
from engine.research.sweep import SweepResult, neighbour_stability, run_sweep
from engine.research.sweep_config import load_sweep, sweep_spec
from engine.runner import run_backtest
from tests.conftest import CONFIGS

SWEEPS = CONFIGS / "sweeps"


def test_lists_and_inclusive_ranges_become_axes_in_config_order():
    raw = yaml.safe_load("""
signals:
  a: {type: donchian, series: IWM/SPY, entry: {start: 20, stop: 60, step: 20}, exit: [10, 5]}
  b: {type: sma, series: ETH-USD, window: 100, band: {start: 0.0, stop: 0.03, step: 0.01}}
regimes:
  - {name: x, when: a, weights: {IWM: [0.5, 0.7]}}
execution: {fees_bps: [0, 2], rebalance: {threshold: [0.05, 0.1]}}
""")
    axes = grid.find_axes(raw)
    assert [(a.name, a.values) for a in axes] == [
        ("signals.a.entry", (20, 40, 60)),  # stop is included
        ("signals.a.exit", (10, 5)),
        ("signals.b.band", (0.0, 0.01, 0.02, 0.03)),
        ("regimes[0].weights.IWM", (0.5, 0.7)),
        ("execution.fees_bps", (0, 2)),
        ("execution.rebalance.threshold", (0.05, 0.1)),
    ]
    assert grid.grid_size(axes) == 3 * 2 * 4 * 2 * 2 * 2
    # the last axis varies fastest
    assert list(grid.combinations(axes[:2]))[:3] == [(20, 10), (20, 5), (40, 10)]


def _raw(name: str, data_dir) -> dict:
    raw = yaml.safe_load((SWEEPS / name).read_text())
    raw.pop("sweep", None)
    raw["data"] |= {"source": "csv", "dir": str(data_dir)}
    return raw


def test_grid_over_the_limit_is_refused_with_its_shape(shared_data):
    with pytest.raises(ConfigError) as info:
        sweep_spec(_raw("breakout_grid.yaml", shared_data), "grid.yaml", max_combos=1000)
    message = info.value.message
    assert "2,000 combinations" in message and "over the limit of 1,000" in message
    assert "20 signals.ratio_breakout.entry" in message and "--max-combos" in message


def test_an_invalid_axis_value_is_named(shared_data):
    raw = _raw("breakout_grid.yaml", shared_data)
    raw["signals"]["eth_risk_on"]["window"] = [50, 0]
    with pytest.raises(ConfigError, match="signals.eth_risk_on.window"):
        sweep_spec(raw, "grid.yaml")


def test_swept_weights_may_not_sum_above_one(shared_data):
    raw = _raw("weights_costs.yaml", shared_data)
    raw["regimes"][0]["weights"] = {"IWM": [0.5, 0.8], "SPY": [0.1, 0.3]}
    with pytest.raises(ConfigError, match=r"regimes\[0\]\.weights: sum to 1\.1"):
        sweep_spec(raw, "grid.yaml")


def test_a_range_with_a_float_step_sweeps_integer_windows(shared_data):
    raw = _small_grid(shared_data)
    raw["signals"]["ratio_breakout"]["entry"] = {"start": 40, "stop": 80, "step": 20.0}
    spec = sweep_spec(raw, "grid.yaml")
    result = run_sweep(spec, MemorySource(CsvSource(shared_data).load(spec.base.tickers())))
    assert sorted(set(result.table["signals.ratio_breakout.entry"])) == [40, 60, 80]


def test_a_config_without_axes_is_not_a_sweep(shared_data):
    raw = yaml.safe_load((CONFIGS / "spy.yaml").read_text())
    with pytest.raises(ConfigError, match="nothing to sweep"):
        sweep_spec(raw, "spy.yaml")


def _small_grid(shared_data, **execution) -> dict:
    raw = _raw("breakout_grid.yaml", shared_data)
    raw["data"] |= {"start": "2019-06-03", "end": "2024-12-31"}
    raw["signals"]["ratio_breakout"]["entry"] = [40, 120]
    raw["signals"]["ratio_breakout"]["exit"] = [20, 60]
    raw["signals"]["eth_risk_on"]["window"] = [50, 100]
    raw["execution"] |= execution
    return raw


CASES = {
    "none-costs": {"fees_bps": [0, 10], "slippage_bps": 3},
    "monthly-open": {"timing": "next_open", "rebalance": "monthly", "fees_bps": 5},
    "threshold": {"rebalance": {"threshold": [0.02, 0.05]}, "fees_bps": 2},
}


@pytest.mark.parametrize("case", CASES)
def test_every_combination_equals_a_single_run_of_it(case, shared_data):
    raw = _small_grid(shared_data, **CASES[case])
    spec = sweep_spec(raw, "grid.yaml")
    source = MemorySource(CsvSource(shared_data).load(spec.base.tickers()))
    result = run_sweep(spec, source, keep_values=True)
    assert len(result.table) == spec.size
    rows = range(spec.size) if spec.size <= 16 else np.linspace(0, spec.size - 1, 12).astype(int)
    assert_rows_equal_single_runs(spec, source, result, rows)


def assert_rows_equal_single_runs(spec, source, result, rows) -> None:
    """Each of `rows` of a sweep (kept values) equals `rotation run` of its combination:
    daily values, the strategy's, relative and benchmark statistics, to 1e-9."""
    grid_values = list(grid.combinations(spec.axes))
    for row in rows:
        values = grid_values[row]  # the table shows each: a blend as its text `[21, 63]`
        assert [result.table.loc[row, a.name] for a in spec.axes] == [
            a.cell(v) for a, v in zip(spec.axes, values, strict=True)
        ]
        single = run_backtest(spec.config_for(values), source)
        np.testing.assert_allclose(result.values[:, row], single.strategy.value, rtol=1e-9)
        expected = single.stats["strategy"] | single.stats["relative"]
        for key in RUN_ONLY:  # documented as left out of sweeps (engine.metrics.fast_stats)
            assert key in expected and key not in result.table.columns
            del expected[key]
        for key, value in expected.items():
            if isinstance(value, dict):
                for regime, share in value.items():
                    assert result.table.loc[row, f"time_in_{regime}"] == pytest.approx(share)
                continue
            got = result.table.loc[row, key]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                assert math.isnan(got), (row, key)
            else:
                assert got == pytest.approx(value, rel=1e-9, abs=1e-12), (row, key)
        for key, value in single.stats["benchmark"].items():
            if not isinstance(value, dict) and key not in ("switches", *RUN_ONLY):
                assert result.table.loc[row, f"benchmark_{key}"] == pytest.approx(
                    value, rel=1e-9, abs=1e-12
                ), key


def test_neighbour_stability_exposes_a_lone_peak():
    axes = [
        grid.Axis(("signals", "a", "entry"), (1, 2, 3)),
        grid.Axis(("signals", "a", "exit"), (1, 2, 3)),
    ]
    metric = np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1])  # a spike in the middle
    table = pd.DataFrame(
        {
            "signals.a.entry": [1, 1, 1, 2, 2, 2, 3, 3, 3],
            "signals.a.exit": [1, 2, 3] * 3,
            "sharpe": metric,
        }
    )
    result = SweepResult(table=table, axes=axes, dates=pd.DatetimeIndex([]))
    stability = neighbour_stability(result, "sharpe")
    assert stability.loc[4, "neighbour_mean"] == pytest.approx(0.1)  # 4 neighbours, all 0.1
    assert stability.loc[4, "gap"] == pytest.approx(0.8)
    assert stability.loc[0, "neighbour_mean"] == pytest.approx(0.1)  # corner: 2 neighbours


def test_sweep_cli_writes_results_heatmap_and_summary(tmp_path, shared_data):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(SWEEPS / "weights_costs.yaml"),
            "--data-dir",
            str(shared_data),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["combinations"] == 6 * 5 * 3 and summary["metric"] == "calmar"
    assert sorted(p.name for p in out.iterdir()) == [
        "best_values.csv",
        "heatmap.csv",
        "histogram.csv",
        "manifest.json",
        "results",
        "results.csv",
        "summary.json",
        "top.parquet",
    ]
    table = pd.read_parquet(out / "results")  # the parts, read as one table
    assert [p.name for p in (out / "results").iterdir()] == ["part-00000.parquet"]
    assert len(table) == 90 and {"regimes[0].weights.IWM", "calmar", "scenario"} <= set(table)
    assert (
        summary["top"][0]["calmar"] == table.loc[table["scenario"] == "fees_bps=0", "calmar"].max()
    )
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), table, check_dtype=False)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-combos", "10"], "over the limit of 10"),
        (["--metric", "sharp"], "did you mean 'sharpe'"),
        (["--heatmap", "entry", "nonsense"], "'nonsense' is not one of the swept parameters"),
    ],
)
def test_sweep_cli_rejects_bad_options_before_any_work(args, needle, tmp_path, shared_data):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(SWEEPS / "breakout_grid.yaml"),
            "--data-dir",
            str(shared_data),
            "--out",
            str(out),
            *args,
        ],
    )
    assert result.exit_code == 2 and needle in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_ready_sweeps_load(shared_data):
    ready = sorted(SWEEPS.glob("*.yaml"))
    assert {"breakout_grid.yaml", "weights_costs.yaml"} <= {p.name for p in ready}
    for path in ready:
        spec, _ = load_sweep(path, source="csv", dir=str(shared_data))
        assert spec.size > 1


# ---------------------------------------------------------------- issue 13: items 3 and 4


@pytest.mark.parametrize(
    ("where", "value", "needle"),
    [
        (("signals", "ratio_breakout", "series"), ["IWM/SPY", "QQQ/SPY"], "signals.ratio_breakout"),
        (("execution", "timing"), ["next_close", "next_open"], "execution"),
    ],
)
def test_a_list_at_a_non_numeric_key_is_one_plain_line(where, value, needle, tmp_path, shared_data):
    raw = _small_grid(shared_data)
    grid.set_path(raw, where, value)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert f"{needle}.{where[-1]}: only numeric parameters can be swept" in lines[0]
    assert f"run one config per {where[-1]}, or compare them with rotation compare" in lines[0]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- issue 23: item 7


def test_a_plain_list_of_lookbacks_is_a_blend_in_a_config_and_makes_no_sweep_config():
    from engine.config.kinds import config_kind

    raw = yaml.safe_load((CONFIGS / "taa" / "vaa_g4.yaml").read_text())
    assert raw["signals"]["spy_up"]["lookback"] == [21, 63, 126, 252]
    assert grid.swept(raw) == [] and config_kind(raw) == "config"


@pytest.mark.parametrize(
    ("lookback", "needle"),
    [
        (
            [21, 63],
            "signals.m.lookback: [21, 63] could be one blend of lookbacks or an axis of them; "
            "in a sweep config write {values: [21, 63]} to sweep each alone, or "
            "{values: [[21, 63]]} to keep this blend in every combination",
        ),
        (
            [[21, 63], [126, 252]],
            "signals.m.lookback: a list-valued parameter is swept as {values: [...]}",
        ),
    ],
)
def test_a_plain_list_at_a_list_valued_parameter_of_a_sweep_is_refused_naming_both_spellings(
    lookback, needle
):
    raw = yaml.safe_load("""
signals:
  m: {type: momentum, series: SPY, lookback: 63}
  s: {type: sma, series: SPY, window: [50, 100]}
""")
    raw["signals"]["m"]["lookback"] = lookback
    axes, problems, broken = grid.scan_axes(raw)
    assert [a.name for a in axes] == ["signals.s.window"]
    assert problems == [needle] and broken == ["signals.m.lookback"]


def test_values_is_an_axis_for_any_parameter_and_each_item_is_one_value():
    raw = yaml.safe_load("""
signals:
  m: {type: momentum, series: SPY, lookback: {values: [[21, 63], [126, 252], 200.0]}}
  s: {type: sma, series: SPY, window: {values: [50, 100]}, band: [0, 0.01]}
scores:
  r: {type: momentum, lookback: {values: [21, 63]}}
""")
    axes = grid.find_axes(raw)
    assert [(a.name, a.values) for a in axes] == [
        ("signals.m.lookback", ((21, 63), (126, 252), 200)),  # blends as tuples, whole bars
        ("signals.s.window", (50, 100)),  # {values: ...} and a plain list are one thing
        ("signals.s.band", (0, 0.01)),
        ("scores.r.lookback", (21, 63)),  # two single lookbacks
    ]
    assert [a.labelled for a in axes] == [True, False, False, False]
    assert list(axes[0].column([0, 1, 2])) == ["[21, 63]", "[126, 252]", "200"]
    assert grid.with_values(raw, axes, ((21, 63), 50, 0, 21))["signals"]["m"]["lookback"] == [
        21,
        63,
    ]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"values": []}, "signals.m.lookback.values: must be a list of one or more values"),
        ({"values": [21, []]}, "signals.m.lookback.values[1]: an empty list is not a value"),
        ({"values": [[21, "x"]]}, "signals.m.lookback.values[0]: [1] must be a number"),
        ({"values": [[21, 63], [21, 63]]}, "[21, 63] is listed twice"),
        ({"values": [[21, 63.5]]}, "63.5 is not a whole number"),
        ({"values": [21], "start": 1}, "an axis {values: [...]} takes no other key (start)"),
    ],
)
def test_a_malformed_values_axis_is_named(value, needle):
    raw = {"signals": {"m": {"type": "momentum", "series": "SPY", "lookback": value}}}
    _, problems, broken = grid.scan_axes(raw)
    assert len(problems) == 1 and needle in problems[0] and broken == ["signals.m.lookback"]


def test_a_list_inside_values_of_a_one_number_parameter_is_refused():
    raw = {"signals": {"s": {"type": "sma", "series": "SPY", "window": {"values": [[50, 100]]}}}}
    _, problems, _ = grid.scan_axes(raw)
    assert problems == ["signals.s.window.values[0]: must be a number, not [50, 100]"]


def test_values_at_a_name_is_refused_like_a_list():
    raw = {"signals": {"s": {"type": "sma", "series": {"values": ["SPY", "QQQ"]}, "window": 5}}}
    assert grid.swept(raw) == ["signals.s.series"]


def test_every_blend_combination_equals_a_single_run_of_it(shared_data):
    """A momentum signal's lookback swept over two blends and a single lookback, with the
    ETH window: each of the 6 rows equals `rotation run` of its own config."""
    raw = _small_grid(shared_data)
    raw["signals"]["ratio_breakout"] |= {"entry": 120, "exit": 60}
    raw["signals"]["trend"] = {
        "type": "momentum",
        "series": "IWM/SPY",
        "lookback": {"values": [[21, 63], [126, 252], 63]},
        "threshold": 0.0,
    }
    raw["regimes"][0]["when"] = "trend and eth_risk_on"
    spec = sweep_spec(raw, "grid.yaml")
    assert [a.name for a in spec.axes] == ["signals.eth_risk_on.window", "signals.trend.lookback"]
    source = MemorySource(CsvSource(shared_data).load(spec.base.tickers()))
    result = run_sweep(spec, source, keep_values=True)
    assert list(result.table["signals.trend.lookback"][:3]) == ["[21, 63]", "[126, 252]", "63"]
    assert len(set(np.round(result.table["total_return"], 12))) == 6  # each blend differs
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))


def test_a_blend_sweep_writes_its_folder_and_tearsheet(tmp_path, shared_data):
    """The CLI end to end: results.csv/.parquet hold the blends as text, the summary's axes
    as lists, the terminal table and the tearsheet show them, readback accepts them."""
    raw = _small_grid(shared_data)
    raw["signals"]["trend"] = {
        "type": "momentum",
        "series": "IWM/SPY",
        "lookback": {"values": [[21, 63], [126, 252]]},
    }
    raw["regimes"][0]["when"] = "trend and eth_risk_on"
    path = tmp_path / "blends.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    args = ["sweep", str(path), "--out", str(out), "--tearsheet", "--heatmap", "lookback", "window"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "[126, 252]" in result.output or "[21, 63]" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["axes"]["signals.trend.lookback"] == [[21, 63], [126, 252]]
    table = pd.read_parquet(out / "results")
    assert set(table["signals.trend.lookback"]) == {"[21, 63]", "[126, 252]"}
    assert pd.read_csv(out / "results.csv")["signals.trend.lookback"].equals(
        table["signals.trend.lookback"]
    )
    page = (out / "tearsheet.html").read_text()
    assert "[126, 252]" in page and "by signals.trend.lookback and" in page  # the heatmap's
    assert '"x":["[21, 63]","[126, 252]"]' in page  # its blends as swept, not sorted as text


def test_a_walk_forward_over_blends_chooses_and_shows_them(tmp_path):
    """Each window's chosen blend is a value of the axis, shown as its text in the windows
    table and walkforward.json, and its test run is the run of that blend."""
    from engine import api

    raw = yaml.safe_load((CONFIGS / "demo_synthetic.yaml").read_text())
    raw["data"] |= {"start": "2018-01-02", "end": "2021-12-31"}
    raw["signals"]["trend"] = {
        "type": "momentum",
        "series": "IWM/SPY",
        "lookback": {"values": [[21, 63], [126, 252], 63]},
    }
    raw["regimes"][0]["when"] = "trend and eth_risk_on"
    path = tmp_path / "blends.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = api.walk_forward(path, "train=1y,test=1y")
    chosen = list(result.windows["signals.trend.lookback"])
    assert chosen and set(chosen) <= {"[21, 63]", "[126, 252]", "63"}
    printed = CliRunner().invoke(main, ["sweep", str(path), "--walk-forward", "train=1y,test=1y",
                                        "--out", str(tmp_path / "wf"), "--tearsheet"])  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert chosen[0] in printed.output
    assert chosen[0] in (tmp_path / "wf" / "tearsheet.html").read_text(encoding="utf-8")


def test_sweep_start_and_end_override_the_config_dates(tmp_path, shared_data):
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(_small_grid(shared_data)))
    out = tmp_path / "sweep"
    args = ["sweep", str(path), "--start", "2021-01-04", "--end", "2022-06-30", "--json"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    span = json.loads(result.output)["range"]
    assert (span["start"], span["end"]) == ("2021-01-04", "2022-06-30")
    bad = CliRunner().invoke(main, [*args[:2], "--start", "1066-10-14", "--out", str(out) + "x"])
    assert bad.exit_code == 2 and "--start 1066-10-14: must be in the years" in bad.output


def test_the_timing_line_says_what_it_covers(tmp_path, shared_data):
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(_small_grid(shared_data)))
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    line = re.search(r"8 combinations in ([0-9.]+) s end to end \((.*?); numba", text)
    assert line, text
    names = ("load", "plan", "chunks", "summary", "odds", "writing")
    printed = dict(re.findall(rf"({'|'.join(names)}) ([0-9.]+)", line.group(2)))
    assert list(printed) == list(names)
    # the line adds up: its total is its parts' sum (each rounded to 0.01 s)
    total = float(line.group(1))
    assert total == pytest.approx(sum(map(float, printed.values())), abs=0.005 * 7)
    # wall-clock times are in the manifest, so summary.json is the same on every run
    assert "timing" not in json.loads((tmp_path / "s" / "summary.json").read_text())
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    timing = manifest["timing"]
    assert list(timing["parts"]) == list(names[:-1])  # writing the manifest ends before it
    assert 50 < manifest["peak_rss_mb"] < 100_000  # this process's peak, in MB
    assert manifest["tasks"]["count"] == 1 and manifest["tasks"]["processes"] == 1
    for name, seconds in timing["parts"].items():
        assert printed[name] == f"{seconds:.2f}" and seconds >= 0, name
    assert timing["total"] <= total + 0.005


def test_the_top_table_fits_80_columns_with_nothing_cut(shared_data):
    """Shortest unambiguous axis names (`eth_risk_on.window` beside `btc_risk_on.window`,
    on two lines), compact headers, and the least needed columns left out when four axes
    would not fit: every cell whole at 80 columns."""
    from rich.console import Console

    from engine.report import sweep_rich
    from engine.research.sweep_config import SweepOptions, short_names
    from engine.research.sweep_summary import summarize

    raw = _small_grid(shared_data, fees_bps=[2, 10])
    raw["signals"]["btc_risk_on"] = {"type": "sma", "series": "BTC-USD", "window": [100, 200]}
    raw["regimes"][0]["when"] = "ratio_breakout and eth_risk_on and btc_risk_on"
    spec = sweep_spec(raw, "grid.yaml")
    source = MemorySource(CsvSource(shared_data).load(spec.base.tickers()))
    result = run_sweep(spec, source)
    for metric in ("sharpe", "calmar", "max_drawdown", "time_in_neutral"):
        table, summary = summarize(spec, SweepOptions(metric=metric, top=10), result)
        short = short_names([a.name for a in spec.axes])
        assert short["signals.eth_risk_on.window"] == "eth_risk_on.window"
        for block in summary["scenarios"]:
            rows = table.loc[[r["row"] for r in block["top"]]]
            title = f"{block['label']}: top {len(rows)} of {block['combinations']} by {metric}"
            rendered = sweep_rich(rows, [a.name for a in spec.choices], metric, title, short)
            console = Console(width=80, record=True)
            console.print(rendered)
            text = console.export_text()
            assert "…" not in text, text
            assert max(map(len, text.splitlines())) <= 80
            header = text.splitlines()[1:3]  # the long names on two lines, after their dot
            assert "eth_risk_on." in header[0] and "btc_risk_on." in header[0]
            assert header[1].split()[2:4] == ["window", "window"]
