"""`rotation timing` (engine/research/timing.py): every decision day of a config and its
tranche blend in one pass; each day equals a sweep over the same days, the tranche
blend equals `rotation run` of the config in tranches; the JSON document has exactly
the shape of issue 21, the table fits 80 columns, the folder reads back."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from engine import api
from engine.cli import main
from engine.config.load import config_from_dict
from engine.data import CsvSource, MemorySource
from engine.errors import ConfigError, RotationError
from engine.report.readback import read_folder
from engine.research.grid import Axis
from engine.research.sweep import run_sweep
from engine.research.sweep_config import SweepSpec
from engine.research.timing import timing, timing_days
from engine.runner import run_backtest
from tests.conftest import CONFIGS
from tests.test_ranked_engine import ranked_market, sweep_raw

WINDOW = {"start": "2016-01-04", "end": "2019-12-31"}


def gtaa5(shared_data) -> dict:
    raw = yaml.safe_load((CONFIGS / "taa" / "gtaa5.yaml").read_text())
    raw["data"] = {"source": "csv", "dir": str(shared_data), **WINDOW}
    return raw


def test_every_day_equals_a_sweep_over_the_same_days_and_the_tranches_their_run():
    raw = sweep_raw(weekly=False)  # monthly, ranked, an ETH trend filter
    raw["portfolio"] = {"target_vol": {"annual": 0.08, "window": 15}}
    raw["execution"] |= {"rebalance": "monthly", "tolerance": 0.01}
    config = config_from_dict(copy.deepcopy(raw))
    source = MemorySource(ranked_market(3, 330))
    result = timing(config, source, tranches=3)
    assert result.days == [*range(1, 22), *range(-21, 0)]
    axis = Axis(("execution", "decide_day"), tuple(result.days))
    spec = SweepSpec(raw=raw, base=config, axes=[axis], origin="grid")
    swept = run_sweep(spec, source, keep_values=True)
    np.testing.assert_allclose(result.values, swept.values, rtol=1e-12)
    for key in ("cagr", "sharpe", "max_drawdown", "trade_dates"):
        np.testing.assert_allclose(result.table[key], swept.table[key], rtol=1e-12)
    split = config_from_dict({**raw, "execution": {**raw["execution"], "tranches": 3}})
    single = run_backtest(split, source)
    np.testing.assert_allclose(result.tranche_values, single.strategy.value, rtol=1e-9)
    assert result.tranches["n"] == 3
    assert result.tranches["cagr"] == pytest.approx(single.stats["strategy"]["cagr"], rel=1e-9)
    assert result.benchmark["cagr"] == pytest.approx(single.stats["benchmark"]["cagr"], rel=1e-9)
    assert len(set(np.round(result.table["cagr"], 12))) > 10  # the day shapes the result


def test_the_json_has_exactly_the_documented_shape_and_the_table_fits_80_columns(
    shared_data, tmp_path
):
    path = tmp_path / "gtaa5.yaml"
    path.write_text(yaml.safe_dump(gtaa5(shared_data)))
    out = tmp_path / "timing"
    result = CliRunner().invoke(main, ["timing", str(path), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert list(payload) == ["config", "decide", "days", "tranches", "spread", "benchmark"]
    assert payload["config"] == str(path) and payload["decide"] == "monthly"
    assert [list(d) for d in payload["days"]] == [
        ["decide_day", "cagr", "sharpe", "max_drawdown", "trade_dates"]
    ] * 42
    assert list(payload["tranches"]) == ["n", "cagr", "sharpe", "max_drawdown"]
    assert payload["tranches"]["n"] == 4
    assert list(payload["spread"]) == ["cagr_min", "cagr_median", "cagr_max"]
    assert list(payload["benchmark"]) == ["cagr", "sharpe", "max_drawdown"]
    cagr = [d["cagr"] for d in payload["days"]]
    assert payload["spread"]["cagr_min"] == min(cagr) < payload["spread"]["cagr_max"] == max(cagr)
    assert json.loads((out / "timing.json").read_text()) == payload
    table = CliRunner().invoke(main, ["timing", str(path), "--out", str(tmp_path / "again")])
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("4 tranches" in line for line in lines)
    assert any(line.lstrip("│ ").startswith("benchmark SPY") for line in lines)
    assert "CAGR ranges from" in table.stdout


def test_a_config_in_tranches_is_timed_with_its_own_count_and_the_api_gives_the_same(
    shared_data,
):
    raw = gtaa5(shared_data)
    raw["execution"]["tranches"] = 2
    timed = api.timing(raw)
    assert timed.tranches["n"] == 2
    assert api.timing(raw, tranches=5).tranches["n"] == 5
    plain = gtaa5(shared_data)
    assert api.timing(plain).as_dict()["days"] == timed.as_dict()["days"]


def test_timing_refuses_a_daily_config_and_a_blend(shared_data):
    daily = yaml.safe_load((CONFIGS / "smallcap_breakout_eth.yaml").read_text())
    daily["data"] |= {"source": "csv", "dir": str(shared_data)}
    with pytest.raises(ConfigError, match="execution.decide is daily"):
        api.timing(daily)
    with pytest.raises(ConfigError, match="takes one strategy, not a blend"):
        api.timing(str(CONFIGS / "blends" / "seed_gem.yaml"), data_dir=shared_data)
    with pytest.raises(RotationError, match="tranches: must be 2 to 12"):
        api.timing(daily, tranches=13)


def test_the_timing_folder_reads_back_and_makes_a_page(shared_data, tmp_path):
    path = tmp_path / "gtaa5.yaml"
    path.write_text(yaml.safe_dump(gtaa5(shared_data)))
    out = tmp_path / "timing"
    result = CliRunner().invoke(main, ["timing", str(path), "--out", str(out), "--tearsheet"])
    assert result.exit_code == 0, result.output
    files = read_folder(out)
    assert files.kind == "timing"
    assert list(files["values.csv"].columns) == [
        "date",
        *(str(d) for d in timing_days("monthly")),
        "tranches",
        "benchmark",
    ]
    page = (out / "tearsheet.html").read_text()
    for chart in ("chart-fan", "chart-cagr", "table-timing"):
        assert f'id="{chart}"' in page
    values = files["values.csv"].drop(columns="-1")  # a day gone from values.csv
    values.to_csv(out / "values.csv", index=False)
    again = CliRunner().invoke(main, ["tearsheet", str(out)])
    assert again.exit_code == 2
    assert "values.csv: no column '-1' (timing.json names it)" in again.stderr


def test_a_weekly_config_has_ten_days(shared_data):
    raw = yaml.safe_load((CONFIGS / "taa" / "top2_of_7.yaml").read_text())
    raw["data"] = {"source": "csv", "dir": str(shared_data), **WINDOW}
    result = timing(config_from_dict(raw), CsvSource(shared_data))
    assert result.days == [1, 2, 3, 4, 5, -5, -4, -3, -2, -1]
    assert result.tranches["n"] == 4
