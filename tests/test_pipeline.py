"""One pipeline for every command (engine/pipeline.py).

Every data check a run makes holds for sweep, compare, audit and walk-forward with
the same one-line error and exit code 2, and a sweep of one combination is the run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.data import CsvSource
from engine.research.sweep import run_sweep
from engine.research.sweep_config import load_sweep
from engine.runner import run_backtest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def _btc_only(tmp_path: Path) -> Path:
    """A crypto-only universe with the default SPY benchmark: SPY has no price on weekends.
    (`window` is a list so that sweeps have an axis; `run` takes the config as a sweep would
    not, hence the run and compare commands read a copy with a single window.)"""
    config = {
        "name": "btc-only",
        "data": {"source": "csv", "start": "2021-01-04", "end": "2021-06-30"},
        "universe": ["BTC-USD"],
        "signals": {"trend": {"type": "sma", "series": "BTC-USD", "window": [20, 30]}},
        "regimes": [
            {"name": "on", "when": "trend", "weights": {"BTC-USD": 1.0}},
            {"name": "off", "weights": {}},
        ],
    }
    path = tmp_path / "btc.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    config["signals"]["trend"]["window"] = 20
    (tmp_path / "btc_run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


COMMANDS = {
    "run": ["run", "{config}", "--data-dir", "{data}", "--out", "{out}"],
    "sweep": ["sweep", "{config}", "--data-dir", "{data}", "--out", "{out}"],
    "compare": ["compare", "{config}", "{config}", "--data-dir", "{data}", "--out", "{out}"],
    "audit": ["audit", "{config}", "--data-dir", "{data}", "--cuts", "1"],
    "walk-forward": [
        "sweep",
        "{config}",
        "--data-dir",
        "{data}",
        "--walk-forward",
        "train=2m,test=1m",
        "--out",
        "{out}",
    ],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_benchmark_without_prices_is_the_same_error_in_every_command(
    command, shared_data, tmp_path
):
    config = _btc_only(tmp_path)
    if command in ("run", "compare", "audit"):
        config = tmp_path / "btc_run.yaml"
    out = tmp_path / "out"
    args = [a.format(config=config, data=shared_data, out=out) for a in COMMANDS[command]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "benchmark.SPY: no price on" in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


READY = sorted(
    str(p.relative_to(CONFIGS)) for p in [*CONFIGS.glob("*.yaml"), *CONFIGS.glob("taa/*")]
)


@pytest.mark.parametrize("name", READY)
def test_a_one_combination_sweep_equals_the_run(name, shared_data, tmp_path):
    """The same config through run (vectorbt) and through a one-combination sweep (kernel),
    for every ready config (configs/ and configs/taa/): values, every statistic both have
    (cash interest and average exposure too, where the config has them), and the trades'
    dates, fees and turnover."""
    config = load_config(CONFIGS / name, source="csv", dir=shared_data)
    run = run_backtest(config, CsvSource(shared_data))
    raw = yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8"))
    raw["data"] |= {"source": "csv", "dir": str(shared_data)}
    raw.setdefault("execution", {})["fees_bps"] = [raw["execution"].get("fees_bps", 0)]
    for section in ("signals", "scores"):  # a blend of lookbacks: one value in a sweep
        for spec in raw.get(section, {}).values():
            if isinstance(spec.get("lookback"), list):
                spec["lookback"] = {"values": [spec["lookback"]]}
    path = tmp_path / "one.yaml"  # one value: one combination
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    spec, _ = load_sweep(path)
    assert spec.size == 1
    swept = run_sweep(spec, CsvSource(shared_data), keep_values=True)
    np.testing.assert_allclose(swept.values[:, 0], run.strategy.value.to_numpy(), rtol=1e-9)
    row = swept.table.iloc[0]
    for side, prefix in (("strategy", ""), ("benchmark", "benchmark_")):
        shared = [k for k, v in run.stats[side].items() if prefix + k in row and np.isscalar(v)]
        assert {"cagr", "sharpe", "max_drawdown", "turnover", "fees_paid"} <= set(shared)
        for key in shared:
            got, want = row[prefix + key], run.stats[side][key]
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12, nan_ok=True), (side, key)
    for key in ("cash_interest", "avg_exposure"):
        assert (key in row) == (key in run.stats["strategy"]), key
    assert ("avg_exposure" in row) == config.portfolio.cash_matters

    # the sweep's trade statistics against the run's own trades (trades.csv)
    trades = run.strategy.trades
    assert len(trades) > 0
    years = (run.dates[-1] - run.dates[0]).days / 365.25
    turnover = trades["value"].abs().sum() / 2 / run.strategy.value.mean() / years
    assert row["trade_dates"] == trades["date"].nunique()
    assert row["fees_paid"] == pytest.approx(trades["fees"].sum(), rel=1e-9, abs=1e-12)
    assert row["turnover"] == pytest.approx(turnover, rel=1e-9)
