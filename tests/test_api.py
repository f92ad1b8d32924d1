"""engine.api, the notebook API: each function gives what its CLI command computes (run,
sweep, compare, walk-forward, audit, signal, check, kinds), as values; a bad argument is one
RotationError naming it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine import api
from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource, make_source
from engine.errors import ConfigError, RotationError
from engine.research.sweep import run_sweep
from engine.research.sweep_config import load_sweep
from engine.runner import run_backtest
from tests.conftest import CONFIGS

ETH_CONFIG = CONFIGS / "smallcap_breakout_eth.yaml"
DEMO = CONFIGS / "demo_synthetic.yaml"
SWEEP = CONFIGS / "sweeps" / "weights_costs.yaml"


def raw(path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def eth_run(shared_data):
    return api.run(ETH_CONFIG, data_dir=shared_data)


def test_importing_the_api_imports_no_pandas_or_vectorbt():
    code = (
        "import sys, engine, engine.api; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'numpy', 'vectorbt', 'numba', 'pydantic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_from_a_dict_equals_load_from_the_file(shared_data):
    from_file = api.load(ETH_CONFIG, data_dir=shared_data)
    from_dict = api.load(raw(ETH_CONFIG), data_dir=shared_data)
    assert from_dict == from_file == load_config(ETH_CONFIG, source="csv", dir=shared_data)
    assert from_dict.data.source == "csv" and from_dict.data.dir == shared_data.resolve()


def test_load_overrides_the_window_of_a_file_a_dict_or_a_config():
    config = api.load(DEMO, start="2020-01-02", end="2021-06-30")
    assert (str(config.data.start), str(config.data.end)) == ("2020-01-02", "2021-06-30")
    assert api.load(raw(DEMO), start="2020-01-02", end="2021-06-30") == config
    assert api.load(api.load(DEMO), start="2020-01-02", end="2021-06-30") == config
    plain = api.load(DEMO)
    assert api.load(plain) is plain  # nothing to change


def test_load_reports_every_problem_of_a_dict():
    broken = raw(DEMO) | {"universe": ["IWM", "SPY"], "colour": "red"}
    broken["signals"]["ratio_breakout"]["entry"] = 0
    with pytest.raises(ConfigError) as error:
        api.load(broken)
    assert "colour" in str(error.value) and "entry" in str(error.value)


def test_run_gives_the_backtest_of_run_backtest(eth_run, shared_data):
    reference = run_backtest(load_config(ETH_CONFIG), CsvSource(shared_data))
    assert eth_run.stats == reference.stats
    assert eth_run.warnings == reference.warnings
    assert eth_run.config.name == "smallcap-breakout-eth"
    assert type(eth_run.portfolio).__name__ == "Portfolio"
    assert eth_run.portfolio is eth_run.result.strategy.portfolio


def test_run_frames_are_indexed_by_the_backtest_dates(eth_run):
    dates = eth_run.result.dates
    for frame in (eth_run.values, eth_run.weights, eth_run.signals, eth_run.regimes):
        assert frame.index.equals(dates) and frame.index.name == "date"
    assert list(eth_run.values.columns) == ["strategy", "benchmark"]
    assert eth_run.values["strategy"].iloc[-1] == pytest.approx(
        100_000 * (1 + eth_run.stats["strategy"]["total_return"])
    )
    assert list(eth_run.signals.columns) == ["ratio_breakout", "eth_risk_on"]
    assert eth_run.signals.dtypes.eq(bool).all()
    assert set(eth_run.regimes) == {"overweight_small", "neutral"}


def test_run_weights_hold_targets_and_held_weights_summing_to_one(eth_run):
    weights = eth_run.weights
    assert list(weights.columns) == [
        ("target", "IWM"),
        ("target", "SPY"),
        ("held", "IWM"),
        ("held", "SPY"),
        ("held", "cash"),
    ]
    assert weights["held"].sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert weights["target"].iloc[0].to_dict() == {"IWM": 0.3, "SPY": 0.7}  # first date
    assert weights["target"].notna().any(axis=1).sum() == eth_run.stats["strategy"]["trade_dates"]


def test_run_trades_carry_dates_and_reasons(eth_run):
    trades = eth_run.trades
    assert list(trades.columns) == [
        "portfolio",
        "date",
        "ticker",
        "quantity",
        "fill_price",
        "value",
        "fees",
        "reason",
    ]
    assert pd.api.types.is_datetime64_any_dtype(trades["date"])
    strategy = trades[trades["portfolio"] == "strategy"]
    assert strategy["date"].nunique() == eth_run.stats["strategy"]["trade_dates"]
    assert strategy["reason"].iloc[0] == "first date"
    assert eth_run.ranks.empty  # no ranked regime


def test_run_takes_a_dict_and_a_source_of_its_own():
    config = raw(DEMO) | {"name": "from-a-dict"}
    run = api.run(config, start="2022-01-03")
    assert repr(run) == "<Run from-a-dict 2022-01-03 to 2025-06-30>"
    assert run.values.shape == (len(run.result.dates), 2)
    seed_0 = api.run(config, start="2022-01-03", source=make_source("synthetic"))  # not 7
    assert seed_0.stats["strategy"]["cagr"] != run.stats["strategy"]["cagr"]


def test_sweep_table_equals_run_sweeps(shared_data):
    table = api.sweep(SWEEP, data_dir=shared_data)
    spec, _ = load_sweep(SWEEP, source="csv", dir=shared_data)
    reference = run_sweep(spec, make_source(spec.base.data))
    pd.testing.assert_frame_equal(table, reference.table)
    assert table.attrs["axes"] == [a.name for a in spec.axes] == list(table.columns[:3])
    assert table.attrs["warnings"] == reference.warnings
    assert len(table) == 6 * 5 * 3


def test_sweep_takes_a_dict_and_ignores_its_sweep_section():
    grid = raw(DEMO) | {"sweep": {"metric": "calmar"}}
    grid["signals"]["ratio_breakout"]["entry"] = [100, 120]
    table = api.sweep(grid, end="2020-12-31")
    assert table.attrs["axes"] == ["signals.ratio_breakout.entry"]
    assert list(table["signals.ratio_breakout.entry"]) == [100, 120]
    single = api.run(raw(DEMO), end="2020-12-31")
    assert table.loc[1, "sharpe"] == pytest.approx(single.stats["strategy"]["sharpe"], abs=1e-9)


def test_dir_of_the_api_shows_the_api_and_nothing_its_annotations_import():
    functions = ["audit", "check", "compare", "kinds", "load", "run", "schema", "signal", "sweep"]
    functions += ["timing"]
    types = ["AuditReport", "Checked", "Comparison", "KindField", "KindInfo", "Run"]
    types += ["SignalState", "TimingResult", "WalkForwardResult"]
    assert dir(api) == sorted(api.__all__) == sorted([*functions, "walk_forward", *types])
    assert all(callable(getattr(api, name)) for name in api.__all__)
    for name in types:  # each a frozen dataclass with a docstring, or the Run wrapper
        kind = getattr(api, name)
        assert kind.__doc__ and (name == "Run" or kind.__dataclass_params__.frozen), name


@pytest.mark.parametrize("call", [api.run, api.sweep])
@pytest.mark.parametrize("source", ["x", 3, CONFIGS])
def test_a_source_that_is_not_a_price_source_is_one_error_naming_the_argument(call, source):
    with pytest.raises(RotationError) as error:
        call(raw(DEMO), source=source)
    message = error.value.format_message()
    assert message.startswith("source: expected a price source with a load(tickers) method")
    assert f"got {type(source).__name__} " in message and "\n" not in message


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_max_combos_below_one_is_refused_before_any_work(bad, monkeypatch):
    def no_sweep(*_args, **_kwargs):
        raise AssertionError("the grid ran")

    monkeypatch.setattr("engine.research.sweep.run_sweep", no_sweep)
    with pytest.raises(RotationError, match=r"^max_combos: must be a whole number >= 1"):
        api.sweep(raw(DEMO), max_combos=bad)


def test_max_combos_one_refuses_a_grid_of_two():
    grid = raw(DEMO)
    grid["signals"]["ratio_breakout"]["entry"] = [100, 120]
    with pytest.raises(ConfigError, match="the grid has 2 combinations .* over the limit of 1"):
        api.sweep(grid, max_combos=1)


# ---------------------------------------------------------------- issue 23 item 8


def cli(*args, env=None) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def variant(tmp_path, **signal) -> str:
    """DEMO under another name with the breakout's parameters changed, as a file."""
    config = raw(DEMO) | {"name": "demo-variant"}
    config["signals"]["ratio_breakout"] |= signal
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_compare_equals_the_folder_rotation_compare_writes(tmp_path):
    other = variant(tmp_path, entry=250)
    out = tmp_path / "compare"
    cli("compare", DEMO, other, "--end", "2020-12-31", "--sort", "calmar", "--out", out, "--json")
    compared = api.compare([DEMO, raw(DEMO) | {"name": "x"}], end="2020-12-31")
    assert compared.labels == ["demo-synthetic", "x"]  # a dict is a config too
    compared = api.compare([DEMO, other], end="2020-12-31", sort="calmar")
    table = compared.table()
    written = pd.read_csv(out / "comparison.csv", index_col="statistic")
    assert list(table.columns) == list(written.columns)  # sorted by calmar, benchmark last
    pd.testing.assert_frame_equal(
        table.astype(float), written.astype(float), check_names=False, rtol=1e-12
    )
    values = pd.read_csv(out / "values.csv", index_col="date", parse_dates=["date"])
    pd.testing.assert_frame_equal(
        compared.values()[list(table.columns)], values, check_index_type=False, rtol=1e-12
    )
    saved = json.loads((out / "comparison.json").read_text())
    assert compared.benchmarks() == saved["benchmarks"]
    assert str(compared.start.date()) == saved["range"]["start"]


def small_sweep(tmp_path) -> str:
    config = raw(DEMO) | {"name": "demo-grid", "sweep": {"metric": "calmar"}}
    config["data"] |= {"start": "2018-01-02", "end": "2021-12-31"}
    config["signals"]["ratio_breakout"] |= {"entry": [60, 120], "exit": {"values": [20, 60]}}
    config["execution"]["fees_bps"] = [2, 10]  # a scenario axis
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_walk_forward_equals_what_rotation_sweep_walk_forward_writes(tmp_path):
    grid = small_sweep(tmp_path)
    out = tmp_path / "wf"
    printed = cli("sweep", grid, "--walk-forward", "train=1y,test=6m", "--out", out, "--json")
    result = api.walk_forward(grid, "train=1y,test=6m")
    from engine.report import clean_json

    assert result.metric == "calmar"  # the sweep: section counts, as for the command
    assert json.loads(json.dumps(clean_json(result.as_dict()))) == json.loads(printed)
    assert (out / "walkforward.json").read_text() == printed
    from_dict = api.walk_forward(raw_of(grid), "train=1y,test=6m", metric="sharpe")
    assert from_dict.metric == "sharpe" and from_dict.summary["scenario_axes"] == [
        "execution.fees_bps"
    ]


def raw_of(path: str) -> dict:
    return yaml.safe_load(open(path, encoding="utf-8").read())


def test_audit_equals_what_rotation_audit_prints():
    printed = cli("audit", DEMO, "--end", "2019-12-31", "--cuts", "2", "--seed", "3", "--json")
    report = api.audit(DEMO, end="2019-12-31", cuts=2, seed=3)
    assert report.clean and len(report.cuts) == 2
    assert report.as_dict() == json.loads(printed)
    assert api.audit(raw(DEMO), end="2019-12-31", cuts=2, seed=3).config == "demo-synthetic"


def test_signal_equals_what_rotation_signal_prints():
    env = {"ROTATION_TODAY": "2026-01-02"}  # the session after the data's last close
    state = api.signal(DEMO, today="2026-01-02")
    assert state.json() == cli("signal", DEMO, "--json", env=env)
    assert state.lines() == cli("signal", DEMO, env=env).splitlines()
    assert state.as_of == dt.date(2025, 12, 31) and not state.stale  # data.end is ignored
    assert state.regime in ("overweight_small", "neutral")
    assert sum(state.target.values()) == pytest.approx(1.0)
    assert api.signal(DEMO, today=dt.date(2026, 3, 2)).stale  # sessions missing before it


def test_check_equals_what_rotation_check_prints():
    checked = api.check(SWEEP)
    assert checked.kind == "sweep" and checked.combinations == 90
    assert [a.name for a in checked.axes] == [
        "regimes[0].weights.IWM",
        "execution.fees_bps",
        "execution.rebalance.threshold",
    ]
    assert checked.scenarios == ("execution.fees_bps",)
    assert checked.lines() == cli("check", SWEEP).splitlines()
    assert api.check(DEMO).lines() == [f"ok: {DEMO} (config)"]
    with pytest.raises(ConfigError, match="no such config file"):
        api.check(DEMO.with_name("missing.yaml"))


def test_kinds_equal_what_rotation_kinds_lists():
    listed = json.loads(cli("kinds", "--json"))
    kinds = api.kinds()
    assert [(k.group, k.name) for k in kinds] == [
        (group, kind["name"]) for group in ("signals", "scores") for kind in listed[group]
    ]
    for kind in kinds:
        entry = next(k for k in listed[kind.group] if k["name"] == kind.name)
        assert [f.name for f in kind.fields] == [f["name"] for f in entry["fields"]]
        assert kind.summary == entry["summary"] and kind.origin == entry["origin"]
    momentum = next(k for k in kinds if (k.group, k.name) == ("signals", "momentum"))
    lookback = next(f for f in momentum.fields if f.name == "lookback")
    assert lookback.sweepable and lookback.required and "list of integer" in lookback.type


BAD_ARGUMENTS = [
    (lambda: api.compare(DEMO), "configs: expected a list of configs"),
    (lambda: api.compare([]), "configs: expected at least one config"),
    (lambda: api.compare([DEMO, 3]), "configs[1]: expected a config file's path"),
    (lambda: api.compare([DEMO], sort="sharp"), "sort: sharp: unknown statistic"),
    (lambda: api.walk_forward(SWEEP, "train=3y"), "spec: 'train=3y': test= is missing"),
    (lambda: api.walk_forward(SWEEP, 3), "spec: expected text such as 'train=3y,test=1y'"),
    (lambda: api.walk_forward(3, "train=3y,test=1y"), "config: expected a sweep config's"),
    (lambda: api.walk_forward(SWEEP, "train=3y,test=1y", max_combos=0), "max_combos: must"),
    (lambda: api.audit(DEMO, cuts=0), "cuts: must be a whole number >= 1"),
    (lambda: api.audit(DEMO, seed=-1), "seed: must be a whole number >= 0"),
    (lambda: api.audit(DEMO, source="x"), "source: expected a price source"),
    (lambda: api.signal(DEMO, today="tomorrow"), "today: expected a date or text YYYY-MM-DD"),
    (lambda: api.signal(42), "config: expected a config file's path"),
    (lambda: api.check(42), "path: expected a config file's path"),
]


@pytest.mark.parametrize(("call", "needle"), BAD_ARGUMENTS)
def test_a_bad_argument_is_one_error_naming_it_before_any_work(call, needle, monkeypatch):
    def no_run(*_args, **_kwargs):
        raise AssertionError("a backtest ran")

    monkeypatch.setattr("engine.runner.run_backtest", no_run)
    with pytest.raises(RotationError) as error:
        call()
    message = error.value.format_message()
    assert message.startswith(needle) and "\n" not in message, message
