"""The `rotation` command line (engine/cli/__init__.py) through click's CliRunner.

A good run prints the table and writes a complete run folder; every user
mistake exits with code 2 and one `Error: ...` line (no traceback) and
leaves nothing behind in the --out parent. Only two real backtests run here
(module-scoped fixtures); the other tests fail before the simulation or reuse
the result of the first run.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import engine.report
import engine.runner
from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource, data_hash

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
ETH_CONFIG = CONFIGS / "smallcap_breakout_eth.yaml"
SMALLCAP_CONFIG = CONFIGS / "smallcap_breakout.yaml"
RUN_FILES = {
    "stats.json",
    "values.csv",
    "weights.csv",
    "regimes.csv",
    "trades.csv",
    "signals.csv",
    "config.yaml",
    "manifest.json",
}
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


# ---------------------------------------------------------------- the good run


@pytest.fixture(scope="module")
def main_run(shared_data, tmp_path_factory):
    """`rotation run configs/smallcap_breakout_eth.yaml --data-dir ... --out <tmp>/run`.

    The BacktestResult is captured (by wrapping run_backtest) for the tests that
    need one without running again.
    """
    parent = tmp_path_factory.mktemp("main_run")
    captured = {}
    real = engine.runner.run_backtest

    def spy(config, source):
        captured["result"] = real(config, source)
        return captured["result"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine.runner, "run_backtest", spy)
        result = invoke("run", ETH_CONFIG, "--data-dir", shared_data, "--out", parent / "run")
    return {
        "cli": result,
        "folder": parent / "run",
        "parent": parent,
        "result": captured.get("result"),
    }


@pytest.fixture(scope="module")
def json_run(shared_data, tmp_path_factory, main_run):
    """The same config and data again, with --json (the second real run)."""
    parent = tmp_path_factory.mktemp("json_run")
    result = invoke("run", ETH_CONFIG, "--data-dir", shared_data, "--out", parent / "run", "--json")
    return {"cli": result, "folder": parent / "run", "parent": parent}


@pytest.fixture(scope="module")
def stats(main_run):
    return json.loads((main_run["folder"] / "stats.json").read_text(encoding="utf-8"))


def test_run_succeeds_and_prints_the_table(main_run, stats):
    cli = main_run["cli"]
    assert cli.exit_code == 0, cli.output
    assert cli.exception is None
    out = cli.output
    assert "smallcap-breakout-eth" in out
    for label in (
        "Total return",
        "CAGR",
        "Sharpe",
        "Max drawdown",
        "Regime switches",
        "Information ratio",
        "Time in overweight_small",
    ):
        assert label in out
    assert f"{stats['strategy']['total_return'] * 100:.2f}%" in out
    assert f"{stats['benchmark']['total_return'] * 100:.2f}%" in out
    assert f"Run folder: {main_run['folder']}" in out.replace("\n", "")
    assert "Traceback" not in out


def test_run_folder_has_every_artifact_and_nothing_else(main_run):
    folder = main_run["folder"]
    assert {p.name for p in folder.iterdir()} == RUN_FILES
    # No staging folder (hidden temp) is left beside it.
    assert [p.name for p in main_run["parent"].iterdir()] == ["run"]


def test_stats_json_layout(stats):
    assert set(stats) == {"strategy", "benchmark", "relative", "period"}
    performance = {
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "switches",
        "fees_paid",
        "turnover",
    }
    assert performance <= set(stats["strategy"])
    assert performance <= set(stats["benchmark"])
    assert {"beta", "alpha", "tracking_error", "information_ratio"} <= set(stats["relative"])
    assert {"start", "end", "days"} <= set(stats["period"])

    def keys(node, skip=("time_in_regime",)):
        for key, value in node.items():
            yield key
            if isinstance(value, dict) and key not in skip:
                yield from keys(value)

    bad = [key for key in keys(stats) if not SNAKE.match(key)]
    assert not bad, f"not snake_case: {bad}"
    assert stats["benchmark"]["switches"] == 0
    assert stats["period"]["start"] >= "2018-01-01"
    assert stats["period"]["end"] <= "2025-06-30"
    shares = stats["strategy"]["time_in_regime"]
    assert set(shares) == {"overweight_small", "neutral"}
    assert sum(shares.values()) == pytest.approx(1.0)


def test_values_csv(main_run, stats):
    path = main_run["folder"] / "values.csv"
    assert path.read_text(encoding="utf-8").splitlines()[0] == "date,strategy,benchmark"
    values = pd.read_csv(path)
    assert len(values) == stats["period"]["days"]
    assert values["date"].iloc[0] == stats["period"]["start"]
    assert values["date"].iloc[-1] == stats["period"]["end"]
    assert values["date"].is_monotonic_increasing and values["date"].is_unique
    assert values.notna().all().all()
    final = values.iloc[-1]
    assert final["strategy"] == pytest.approx(stats["strategy"]["final_value"], rel=1e-9)
    assert final["benchmark"] == pytest.approx(stats["benchmark"]["final_value"], rel=1e-9)


def test_weights_regimes_and_trades_csv(main_run, stats):
    folder = main_run["folder"]
    weights = pd.read_csv(folder / "weights.csv")
    assert list(weights.columns) == [
        "date",
        "IWM_target",
        "SPY_target",
        "IWM_held",
        "SPY_held",
        "cash_held",
    ]
    assert len(weights) == stats["period"]["days"]
    held = weights[["IWM_held", "SPY_held", "cash_held"]].sum(axis=1)
    assert held.to_numpy() == pytest.approx(1.0, abs=1e-6)

    regimes = pd.read_csv(folder / "regimes.csv")
    assert list(regimes.columns) == ["date", "regime", "ratio_breakout", "eth_risk_on"]
    assert set(regimes["regime"]) <= {"overweight_small", "neutral"}
    assert set(regimes["ratio_breakout"]) <= {0, 1} and set(regimes["eth_risk_on"]) <= {0, 1}
    switches = int((regimes["regime"] != regimes["regime"].shift()).iloc[1:].sum())
    assert switches == stats["strategy"]["switches"]

    with open(folder / "trades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "portfolio",
        "date",
        "ticker",
        "quantity",
        "fill_price",
        "value",
        "fees",
        "reason",
    ]
    assert {row["portfolio"] for row in rows} == {"strategy", "benchmark"}
    assert {r["reason"] for r in rows if r["portfolio"] == "benchmark"} == {"benchmark"}
    assert rows[0]["reason"] == "first date"
    strategy_fees = sum(float(r["fees"]) for r in rows if r["portfolio"] == "strategy")
    assert strategy_fees == pytest.approx(stats["strategy"]["fees_paid"], rel=1e-6)


def test_config_yaml_is_the_resolved_config(main_run, shared_data):
    """Without the price folder's place (outside the working folder here: never an absolute
    path in a run folder), which --data-dir gives back."""
    text = (main_run["folder"] / "config.yaml").read_text(encoding="utf-8")
    assert text.startswith("# data.dir is left out") and "--data-dir DIR" in text
    saved = yaml.safe_load(text)
    expected = load_config(ETH_CONFIG, source="csv", dir=shared_data)
    resolved = expected.resolved()
    assert "dir" not in saved["data"] and resolved["data"].pop("dir") == str(shared_data)
    assert saved == resolved
    again = load_config(main_run["folder"] / "config.yaml", dir=shared_data)
    assert again == expected and again.hash() == expected.hash()


def test_manifest(main_run, shared_data):
    manifest = json.loads((main_run["folder"] / "manifest.json").read_text(encoding="utf-8"))
    expected = load_config(ETH_CONFIG, source="csv", dir=shared_data)
    assert manifest["config_sha256"] == expected.hash()
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["config_sha256"])
    assert set(manifest["data"]) == {"ETH-USD", "IWM", "SPY"}
    frames = CsvSource(shared_data).load(sorted(manifest["data"]))
    for ticker, record in manifest["data"].items():
        raw = pd.read_csv(shared_data / f"{ticker}.csv")
        assert record["first"] == raw["Date"].iloc[0]
        assert record["last"] == raw["Date"].iloc[-1]
        assert record["rows"] == len(raw)
        assert record["sha256"] == data_hash(frames[ticker])
    for library in ("python", "vectorbt", "pandas", "numpy", "yfinance", "pydantic"):
        assert library in manifest["versions"]
    for library in ("vectorbt", "pandas", "numpy"):
        assert manifest["versions"][library] == metadata.version(library)
    assert manifest["backtest"]["days"] == len(pd.read_csv(main_run["folder"] / "values.csv"))


def test_json_prints_exactly_stats_json(json_run):
    cli = json_run["cli"]
    assert cli.exit_code == 0, cli.output
    printed = json.loads(cli.stdout)
    assert printed == json.loads((json_run["folder"] / "stats.json").read_text("utf-8"))
    assert cli.stdout == (json_run["folder"] / "stats.json").read_text("utf-8")
    assert "Run folder" not in cli.stdout and "Total return" not in cli.output
    assert f"Run folder: {json_run['folder']}" in cli.stderr  # stdout stays pure JSON


def test_two_runs_are_byte_identical(main_run, json_run):
    first, second = main_run["folder"], json_run["folder"]
    for name in (
        "stats.json",
        "values.csv",
        "weights.csv",
        "regimes.csv",
        "trades.csv",
        "signals.csv",
        "config.yaml",
    ):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    one = json.loads((first / "manifest.json").read_text("utf-8"))
    two = json.loads((second / "manifest.json").read_text("utf-8"))
    one.pop("created_utc"), two.pop("created_utc")
    assert one == two


# ---------------------------------------------------------------- user errors


@pytest.fixture
def out_parent(tmp_path):
    parent = tmp_path / "runs"
    parent.mkdir()
    return parent


def assert_user_error(result, out_parent: Path, *needles: str) -> str:
    """Exit 2, one `Error: ...` line on stderr (or, for several config problems, a header
    line and one indented line per problem), no traceback, nothing left in out_parent."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Error: ")
    if len(lines) > 1:
        assert lines[0].endswith(f"{len(lines) - 1} problems:"), result.output
        assert all(line.startswith("  ") for line in lines[1:]), result.output
    line = "\n".join(lines)
    for needle in needles:
        assert needle in line, (needle, line)
    assert list(out_parent.iterdir()) == []
    return line


def write_config(tmp_path: Path, name: str, base: Path = SMALLCAP_CONFIG, **edits) -> Path:
    """A copy of `base` with top-level or data.* edits, written to tmp_path/name."""
    raw = yaml.safe_load(base.read_text(encoding="utf-8"))
    for key, value in edits.items():
        if key.startswith("data_"):
            raw["data"][key[5:]] = value
        else:
            raw[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def run_args(config: Path, data_dir: Path, out_parent: Path) -> list:
    return ["run", config, "--data-dir", data_dir, "--out", out_parent / "run"]


def test_missing_config_file(tmp_path, out_parent, shared_data):
    result = invoke(*run_args(tmp_path / "nope.yaml", shared_data, out_parent))
    assert_user_error(result, out_parent, "nope.yaml", "no such config file")


def test_malformed_yaml(tmp_path, out_parent, shared_data):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndata: {start: 2018-01-01\nuniverse: [SPY]\n", encoding="utf-8")
    result = invoke(*run_args(path, shared_data, out_parent))
    assert_user_error(result, out_parent, "broken.yaml", "malformed YAML", "line ")


def test_schema_errors_are_all_listed(tmp_path, out_parent, shared_data):
    raw = yaml.safe_load(SMALLCAP_CONFIG.read_text(encoding="utf-8"))
    raw["execution"]["fees_bps"] = -2
    raw["signals"]["ratio_breakout"]["entry"] = 0
    raw["benchmrk"] = {"SPY": 1.0}
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = invoke(*run_args(path, shared_data, out_parent))
    assert_user_error(
        result,
        out_parent,
        "schema.yaml",
        "3 problems",
        "execution.fees_bps",
        "signals.ratio_breakout.entry",
        "benchmrk: unknown key",
    )


def test_cross_field_errors_are_all_listed(tmp_path, out_parent, shared_data):
    raw = yaml.safe_load(SMALLCAP_CONFIG.read_text(encoding="utf-8"))
    raw["regimes"][0]["weights"] = {"IWM": 0.7, "SPY": 0.7}
    raw["regimes"][0]["when"] = "ratio_brekout"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = invoke(*run_args(path, shared_data, out_parent))
    assert_user_error(
        result,
        out_parent,
        "rules.yaml",
        "2 problems",
        "regimes[0].weights",
        "did you mean 'ratio_breakout'?",
    )


def test_ticker_with_no_data(tmp_path, out_parent, shared_data):
    path = write_config(tmp_path, "nodata.yaml", universe=["IWM", "SPY", "QQQQ"])
    result = invoke(*run_args(path, shared_data, out_parent))
    assert_user_error(result, out_parent, "QQQQ.csv", "'QQQQ'")


def test_signal_too_short_ever_to_define(tmp_path, out_parent, shared_data):
    raw = yaml.safe_load(SMALLCAP_CONFIG.read_text(encoding="utf-8"))
    raw["signals"]["ratio_breakout"]["entry"] = 100_000
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = invoke(*run_args(path, shared_data, out_parent))
    assert_user_error(result, out_parent, "signals.ratio_breakout", "IWM/SPY", "100001")


def test_start_before_first_price_of_a_traded_asset(tmp_path, out_parent, shared_data):
    path = write_config(
        tmp_path, "early.yaml", universe=["IWM", "SPY", "ETH-USD"], data_start="2010-01-01"
    )
    result = invoke(*run_args(path, shared_data, out_parent))
    assert_user_error(result, out_parent, "data.start", "2010-01-01", "ETH-USD", "2017-11-09")


def test_start_override_after_end(out_parent, shared_data):
    result = invoke(*run_args(SMALLCAP_CONFIG, shared_data, out_parent), "--start", "2030-01-01")
    assert_user_error(result, out_parent, "smallcap_breakout.yaml", "data.start", "data.end")


def test_data_dir_missing_a_file(tmp_path, out_parent, shared_data):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(shared_data / "SPY.csv", partial / "SPY.csv")
    result = invoke(*run_args(SMALLCAP_CONFIG, partial, out_parent))
    assert_user_error(result, out_parent, "IWM.csv", "'IWM'", str(partial))


def test_data_dir_that_does_not_exist(tmp_path, out_parent):
    missing = tmp_path / "no_such_dir"
    result = invoke(*run_args(SMALLCAP_CONFIG, missing, out_parent))
    assert_user_error(result, out_parent, str(missing), "does not exist")


def test_csv_missing_a_column(tmp_path, out_parent, shared_data):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(shared_data / "SPY.csv", folder / "SPY.csv")
    iwm = pd.read_csv(shared_data / "IWM.csv").drop(columns=["Close"])
    iwm.to_csv(folder / "IWM.csv", index=False)
    result = invoke(*run_args(SMALLCAP_CONFIG, folder, out_parent))
    assert_user_error(result, out_parent, "IWM.csv", "missing columns ['Close']")


def test_empty_csv_file(tmp_path, out_parent, shared_data):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(shared_data / "SPY.csv", folder / "SPY.csv")
    (folder / "IWM.csv").write_text("", encoding="utf-8")
    result = invoke(*run_args(SMALLCAP_CONFIG, folder, out_parent))
    assert_user_error(result, out_parent, "IWM.csv")


def _broken_iwm_folder(tmp_path: Path, shared_data: Path, row: int, column: str, value: str):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(shared_data / "SPY.csv", folder / "SPY.csv")
    iwm = pd.read_csv(shared_data / "IWM.csv", dtype=str)
    iwm.loc[row, column] = value
    iwm.to_csv(folder / "IWM.csv", index=False)
    return folder


def test_csv_with_a_non_numeric_price(tmp_path, out_parent, shared_data):
    folder = _broken_iwm_folder(tmp_path, shared_data, 100, "Close", "abc")
    result = invoke(*run_args(SMALLCAP_CONFIG, folder, out_parent))
    assert_user_error(result, out_parent, "IWM.csv")


def test_csv_with_a_bad_date(tmp_path, out_parent, shared_data):
    folder = _broken_iwm_folder(tmp_path, shared_data, 100, "Date", "2001-13-45")
    result = invoke(*run_args(SMALLCAP_CONFIG, folder, out_parent))
    assert_user_error(result, out_parent, "IWM.csv")


def test_non_utf8_config(tmp_path, out_parent, shared_data):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    result = invoke(*run_args(path, shared_data, out_parent))
    assert_user_error(result, out_parent, "latin1.yaml")


# ---------------------------------------------------------------- --out handling (no new backtest)


@pytest.fixture
def cached_backtest(main_run, monkeypatch):
    """Make the CLI reuse the main run's BacktestResult instead of simulating again."""
    result = main_run["result"]
    assert result is not None
    monkeypatch.setattr(engine.runner, "run_backtest", lambda config, source: result)
    return result


def test_out_folder_that_exists_and_is_not_empty_is_refused(
    out_parent, shared_data, cached_backtest
):
    out = out_parent / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    result = invoke("run", ETH_CONFIG, "--data-dir", shared_data, "--out", out)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: ") and len(result.output.splitlines()) == 1
    assert str(out) in result.output and "not empty" in result.output
    assert [p.name for p in out_parent.iterdir()] == ["run"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_out_folder_that_exists_empty_is_filled(out_parent, shared_data, cached_backtest):
    out = out_parent / "run"
    out.mkdir()
    result = invoke("run", ETH_CONFIG, "--data-dir", shared_data, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert [p.name for p in out_parent.iterdir()] == ["run"]


# ---------------------------------------------------------------- atomicity


def test_failure_in_run_frames_leaves_nothing(
    out_parent, shared_data, cached_backtest, monkeypatch
):
    def broken(result):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(engine.report, "run_frames", broken)
    result = invoke("run", ETH_CONFIG, "--data-dir", shared_data, "--out", out_parent / "run")
    assert result.exit_code != 0
    assert isinstance(result.exception, RuntimeError)
    assert list(out_parent.iterdir()) == []


def test_failure_midway_through_csv_writes_leaves_nothing(
    out_parent, shared_data, cached_backtest, monkeypatch
):
    real_to_csv = pd.DataFrame.to_csv
    written = []

    def flaky(frame, path, *args, **kwargs):
        if written:  # the second CSV fails, after stats.json and values.csv exist
            raise OSError(28, "No space left on device")
        real_to_csv(frame, path, *args, **kwargs)
        written.append(Path(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", flaky)
    result = invoke("run", ETH_CONFIG, "--data-dir", shared_data, "--out", out_parent / "run")
    assert result.exit_code != 0
    assert isinstance(result.exception, OSError)
    assert written and written[0].name == "values.csv"
    assert written[0].parent.parent == out_parent  # it was written in a staging folder ...
    assert not written[0].exists()  # ... which went away with it
    assert list(out_parent.iterdir()) == []


def test_interrupt_while_writing_leaves_nothing(tmp_path, cached_backtest, monkeypatch):
    from engine.report.provenance import manifest

    def interrupted(result):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine.report, "run_frames", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.report.write_run_folder(
            tmp_path / "run", cached_backtest, manifest(cached_backtest, None)
        )
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- help and import cost


def test_help():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "run" in result.output and "Backtest" in result.output
    result = invoke("run", "--help")
    assert result.exit_code == 0
    for option in ("--data-dir", "--start", "--end", "--out", "--json"):
        assert option in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert metadata.version("rotation") in result.output


def test_importing_the_cli_does_not_import_vectorbt():
    code = "import engine.cli, sys; print('vectorbt' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.strip()
    assert out == "False"


def test_an_end_past_the_last_price_is_reported_not_silently_cut(shared_data, caplog):
    config = load_config(
        CONFIGS / "spy.yaml",
        source="csv",
        dir=str(shared_data),
        start=dt.date(2026, 6, 1),
        end=dt.date(2031, 1, 1),
    )
    with caplog.at_level("WARNING", logger="rotation.data"):
        result = engine.runner.run_backtest(config, CsvSource(shared_data))
    assert str(result.dates[-1].date()) == "2026-08-21"
    assert "the backtest ends 2026-08-21, cut short: SPY ends 2026-08-21" in caplog.text
    assert "data.end asks for 2031-01-01" in result.warnings[0]
