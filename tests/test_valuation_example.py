"""configs/valuation/smallcap_value.yaml, the example that reads two monthly external
series (a level signal on their ratio R2K_PE/SPX_PE, a momentum on R2K_PE) beside the
daily IWM/SPY breakout: with SYNTHETIC P/E files written by the test (the project
ships no P/E data) and the reference prices of ../shared/data, it runs, equals the
plain-loop reference day by day, sweeps (each combination equal to its own run) and
audits clean; an engine that reads a value one day before its release fails the audit."""

from __future__ import annotations

import shutil

import pytest
import yaml

import engine.calendar
from engine.config import CloseTime, load_config, with_overrides
from engine.data import CsvSource, MemorySource
from engine.research.audit import audit
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from tests.conftest import CONFIGS
from tests.series_data import write_pe_folder
from tests.test_golden_configs import _check
from tests.test_sweep import assert_rows_equal_single_runs

EXAMPLE = CONFIGS / "valuation" / "smallcap_value.yaml"


@pytest.fixture
def folder(tmp_path):
    """The example config beside a pe/ folder of synthetic P/E files."""
    shutil.copy(EXAMPLE, tmp_path / "smallcap_value.yaml")
    write_pe_folder(tmp_path)
    return tmp_path


def peeking_release_time(lag_days: int) -> CloseTime:
    """A planted bug: each value read one day before its release (16:00 New York on
    date + lag_days - 1)."""
    return CloseTime.model_construct(time="16:00", tz="America/New_York", day_offset=lag_days - 1)


def test_the_example_equals_the_reference_day_by_day(folder, shared_data):
    raw = yaml.safe_load((folder / "smallcap_value.yaml").read_text())
    raw["data"] |= {"source": "csv", "dir": str(shared_data)}
    _check(raw, shared_data, config_dir=folder)


def test_the_example_reads_both_series_and_every_signal_turns(folder, shared_data):
    from engine.runner import run_backtest

    config = load_config(folder / "smallcap_value.yaml", source="csv", dir=shared_data)
    assert config.tickers() == ["IWM", "SPY"]  # the P/E series come from their files
    result = run_backtest(config, CsvSource(shared_data))
    assert sorted(result.series) == ["R2K_PE", "SPX_PE"]
    assert result.warnings == []  # nothing silently shaped it (as for every ready config)
    signals = result.signals.loc[result.dates[0] :].astype(int)
    assert (signals.diff().abs().sum() >= 2).all(), signals.sum()  # none is constant


def test_signal_parameters_on_the_series_are_sweep_axes(folder, shared_data):
    raw = yaml.safe_load((folder / "smallcap_value.yaml").read_text())
    raw["data"] |= {"source": "csv", "dir": str(shared_data)}
    raw["signals"]["smallcaps_rerating"]["lookback"] = {"start": 2, "stop": 6, "step": 2}
    raw["signals"]["smallcaps_rich"]["above"] = [1.05, 1.15]
    spec = sweep_spec(with_overrides(raw, folder / "sweep.yaml"), "sweep.yaml")
    names = [a.name for a in spec.axes]
    assert names == ["signals.smallcaps_rich.above", "signals.smallcaps_rerating.lookback"]
    source = MemorySource(CsvSource(shared_data).load(spec.base.tickers()))
    result = run_sweep(spec, source, keep_values=True)
    assert len(result.table) == 6 and result.table["sharpe"].nunique() > 1
    assert {"R2K_PE", "SPX_PE"} <= set(result.data)  # the files' records, for the manifest
    assert_rows_equal_single_runs(spec, source, result, range(6))


def test_the_example_audits_clean_and_a_one_day_peek_is_caught(folder, shared_data, monkeypatch):
    config = load_config(folder / "smallcap_value.yaml", source="csv", dir=shared_data)
    clean = audit(config, CsvSource(shared_data), cuts=6, seed=0)
    assert clean.clean, clean.as_dict()
    # the rewrite reaches the series: the P/E values released after each cut are
    # rewritten too, beyond the price bars dated after it
    prices = CsvSource(shared_data).load(config.tickers())
    for cut in clean.cuts:
        bars = sum(int((frame.index > cut.cut).sum()) for frame in prices.values())
        assert cut.bars_changed > bars

    monkeypatch.setattr(engine.calendar, "release_time", peeking_release_time)
    leaky = audit(config, CsvSource(shared_data), cuts=6, seed=0)
    assert not leaky.clean
    leak = leaky.first_leak
    assert set(leak.signals) <= {"smallcaps_rich", "smallcaps_rerating"} and leak.signals
    assert leak.first_date == leak.cut  # the value is read on the cut date itself


def test_the_shipped_example_names_its_files_and_says_it_ships_no_data():
    raw = yaml.safe_load(EXAMPLE.read_text())
    files = {n: s["file"] for n, s in raw["data"]["series"].items()}
    assert files == {"R2K_PE": "pe/R2K_PE.csv", "SPX_PE": "pe/SPX_PE.csv"}
    assert "the project ships none" in raw["description"]
    assert not (EXAMPLE.parent / "pe").exists()  # no P/E data in the repository
