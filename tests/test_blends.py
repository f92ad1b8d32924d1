"""Blends and tranches (SPEC 11, engine/config/blend.py, engine/blend.py): a blend equals
its plain-loop twin (tests/reference.py) day by day on real prices, a blend of one
member of weight 1 is that member byte for byte, and every mistake in a blend file is
one clear problem naming the member, its file and its line."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.config.blend import Blend, tranche_days
from engine.config.load import config_from_dict, load_config
from engine.data import CsvSource
from engine.errors import ConfigError
from engine.report import stats_json
from engine.runner import run_backtest
from tests.conftest import CONFIGS
from tests.reference import reference_blend

VALUE_TOL = 1e-10
STAT_TOL = 1e-9
WINDOW = {"start": "2019-01-02", "end": "2021-12-31"}


def member(name: str) -> dict:
    """A ready config's own keys (what a blend keeps of it)."""
    raw = yaml.safe_load((CONFIGS / name).read_text())
    keep = ("name", "universe", "signals", "scores", "regimes")
    execution = {k: v for k, v in raw["execution"].items() if k in ("decide", "decide_day")}
    return {**{k: raw[k] for k in keep if k in raw}, "execution": execution}


def blend_raw(data_dir, members: list[dict], weights: list[float], **own) -> dict:
    return {
        "name": "twin",
        "data": {"source": "csv", "dir": str(data_dir), **WINDOW},
        "blend": [{"weight": w, **m} for m, w in zip(members, weights, strict=True)],
        "execution": {"fees_bps": 5, "slippage_bps": 2},
        "portfolio": {"initial_cash": 100_000},
        "benchmark": {"SPY": 1.0},
        **own,
    }


def assert_twin(raw: dict, expected: dict, data_dir) -> None:
    """The engine's run of the blend `raw` equals the reference's `expected` day by day
    (values to 1e-10) and statistic by statistic (1e-9)."""
    result = run_backtest(config_from_dict(copy.deepcopy(raw)), CsvSource(data_dir))
    assert [d.date() for d in result.dates] == [d.date() for d in expected["dates"]]
    np.testing.assert_allclose(result.strategy.value, expected["strategy"], rtol=VALUE_TOL)
    np.testing.assert_allclose(result.benchmark.value, expected["benchmark"], rtol=VALUE_TOL)
    assert list(result.regimes.reindex(result.dates)) == expected["regimes"]
    for side in ("strategy", "benchmark", "relative"):
        for key, value in expected["stats"][side].items():
            ours = result.stats[side][key]
            if isinstance(value, dict):
                assert ours == pytest.approx(value, rel=STAT_TOL, abs=1e-12), key
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                assert ours is None or math.isnan(ours), key
            else:
                assert ours == pytest.approx(value, rel=STAT_TOL, abs=1e-12), (side, key)


def test_a_blend_equals_its_plain_loop_twin_day_by_day(shared_data):
    """The seed strategy (daily) and GEM (monthly, ranked, on day -3 with its own
    volatility target), 50/40 (10% cash), traded with a band and a monthly rebalance
    and the blend's own volatility target: the members' targets summed, simulated once."""
    gem = member("taa/gem.yaml")
    gem["execution"]["decide_day"] = -3
    gem["portfolio"] = {"target_vol": {"annual": 0.1, "window": 30}}
    members = [member("smallcap_breakout_eth.yaml"), gem]
    raw = blend_raw(
        shared_data,
        members,
        [0.5, 0.4],
        portfolio={"initial_cash": 100_000, "target_vol": {"annual": 0.12, "window": 40}},
    )
    raw["execution"] |= {"rebalance": "monthly", "tolerance": 0.02}
    assert_twin(raw, reference_blend(copy.deepcopy(raw), members, shared_data), shared_data)


def test_a_config_in_tranches_equals_its_plain_loop_twin(shared_data):
    """top2_of_7 (weekly) in 3 tranches on days -1, -2, -4, each copy's target scaled by
    its own volatility target (not the sum again)."""
    raw = yaml.safe_load((CONFIGS / "taa" / "top2_of_7.yaml").read_text())
    raw["data"] = {"source": "csv", "dir": str(shared_data), **WINDOW}
    raw["portfolio"]["target_vol"] = {"annual": 0.1, "window": 21, "max_exposure": 0.9}
    raw["execution"]["tranches"] = 3
    copies = []
    for day in tranche_days("weekly", 3):
        copy_ = {k: v for k, v in copy.deepcopy(raw).items() if k != "data"}
        copy_["execution"] = {"decide": "weekly", "decide_day": day}
        copies.append(copy_)
    assert [c["execution"]["decide_day"] for c in copies] == [-1, -2, -4]
    own = {k: v for k, v in raw.items() if k in ("data", "benchmark", "stats")}
    execution = {k: v for k, v in raw["execution"].items() if k not in ("decide", "tranches")}
    twin = {**own, "execution": execution, "portfolio": {"initial_cash": 100_000}}
    twin["blend"] = [{"weight": 1 / 3}] * 3
    assert_twin(raw, reference_blend(twin, copies, shared_data), shared_data)


@pytest.mark.parametrize("name", ["taa/gem.yaml", "smallcap_breakout_eth.yaml"])
def test_a_blend_of_one_member_of_weight_one_is_that_member_byte_for_byte(name, shared_data):
    plain = yaml.safe_load((CONFIGS / name).read_text())
    plain["data"] = {**plain["data"], "source": "csv", "dir": str(shared_data)}
    own = {k: plain[k] for k in ("name", "data", "benchmark", "stats") if k in plain}
    execution = {k: v for k, v in plain["execution"].items() if k not in ("decide", "decide_day")}
    blend = {**own, "blend": [{"config": str(CONFIGS / name), "weight": 1.0}]}
    blend |= {"execution": execution, "portfolio": plain["portfolio"]}
    source = CsvSource(shared_data)
    alone = run_backtest(config_from_dict(plain), source)
    blended = run_backtest(config_from_dict(blend), source)
    assert isinstance(blended.config, Blend)
    assert stats_json(blended.stats) == stats_json(alone.stats)


def test_every_tranche_alone_is_the_config_on_that_day(shared_data):
    """A tranche config's members traded alone equal `rotation run` of the config on each
    of their days (the blend's members.csv `alone`)."""
    raw = yaml.safe_load((CONFIGS / "taa" / "gem.yaml").read_text())
    raw["data"] = {"source": "csv", "dir": str(shared_data), **WINDOW}
    raw["execution"]["tranches"] = 2
    source = CsvSource(shared_data)
    blend = run_backtest(config_from_dict(copy.deepcopy(raw)), source)
    for run in blend.blend.members:
        day = run.config.execution.decide_day
        single = {**raw, "execution": {**raw["execution"], "tranches": None, "decide_day": day}}
        del single["execution"]["tranches"]
        alone = run_backtest(config_from_dict(single), source)
        np.testing.assert_allclose(run.alone, alone.strategy.value, rtol=1e-9)
    assert [m.name for m in blend.blend.members] == ["day-1", "day-11"]


def test_the_blends_regime_is_the_members_names_joined_and_its_time_in_regime_sums_to_1(
    shared_data,
):
    raw = blend_raw(
        shared_data, [member("smallcap_breakout_eth.yaml"), member("taa/gem.yaml")], [0.5, 0.5]
    )
    result = run_backtest(config_from_dict(raw), CsvSource(shared_data))
    shares = result.stats["strategy"]["time_in_regime"]
    assert list(shares) == [
        "overweight_small|equities",
        "overweight_small|bonds",
        "neutral|equities",
        "neutral|bonds",
    ]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert set(result.regimes.reindex(result.dates)) <= set(shares)


# ---------------------------------------------------------------- errors


def write(folder: Path, name: str, raw: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def blend_file(folder: Path, entries: list[dict], **own) -> Path:
    raw = {"name": "b", "data": {"source": "synthetic", "start": "2020-01-02"}, "blend": entries}
    return write(folder, "blend.yaml", raw | own)


def problems(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.message


def test_a_missing_member_file_is_named_with_its_entry_and_line(tmp_path):
    good = write(
        tmp_path, "good.yaml", {"name": "g", **member("spy.yaml"), "data": {"start": "2020-01-02"}}
    )
    path = blend_file(
        tmp_path, [{"config": good.name, "weight": 0.5}, {"config": "gone.yaml", "weight": 0.5}]
    )
    message = problems(path)
    assert message == (
        f"{path}: 1 problem: blend[1].config (line 8): 'gone.yaml': no such config file "
        f"(looked for {tmp_path / 'gone.yaml'})"
    )


def test_a_member_that_is_a_blend_or_is_in_tranches_is_refused(tmp_path):
    inner = blend_file(tmp_path, [{"config": "x.yaml", "weight": 1.0}])
    inner = inner.rename(tmp_path / "inner.yaml")
    gem = yaml.safe_load((CONFIGS / "taa" / "gem.yaml").read_text())
    gem["execution"]["tranches"] = 3
    split = write(tmp_path, "split.yaml", gem)
    path = blend_file(
        tmp_path, [{"config": "inner.yaml", "weight": 0.5}, {"config": "split.yaml", "weight": 0.5}]
    )
    message = problems(path)
    assert "blend[0].config (line 6): 'inner.yaml': is itself a blend" in message
    assert "blend[1].config (line 8): 'split.yaml': has execution.tranches" in message
    assert split.exists()


def test_weights_summing_above_1_and_a_blends_own_member_keys_are_refused(tmp_path):
    spy = {"weight": 0.7, **member("spy.yaml")}
    gem = {"weight": 0.6, **member("taa/gem.yaml")}
    path = blend_file(tmp_path, [spy, gem], universe=["SPY"], execution={"decide": "monthly"})
    message = problems(path)
    assert "blend: the weights sum to 1.3 (0.7 + 0.6), more than 1 (no leverage)" in message
    assert "universe: a blend has no universe of its own" in message
    assert "execution.decide: a blend decides through its members" in message


def test_a_member_problem_is_prefixed_with_its_entry_and_file(tmp_path):
    gem = yaml.safe_load((CONFIGS / "taa" / "gem.yaml").read_text())
    gem["regimes"][0]["when"] = "us_beats_bill"
    write(tmp_path, "gem.yaml", gem)
    path = blend_file(tmp_path, [{"config": "gem.yaml", "weight": 1.0}])
    assert problems(path) == (
        f"{path}: 1 problem: blend[0] (gem.yaml): regimes[0].when: unknown signal "
        "'us_beats_bill' (did you mean 'us_beats_bills'?); signals are ['us_beats_bills']"
    )


def test_a_member_key_the_blend_overrides_is_said_once_as_a_warning(tmp_path, shared_data):
    gem = yaml.safe_load((CONFIGS / "taa" / "gem.yaml").read_text())
    gem["execution"]["rebalance"] = "monthly"  # the blend's `none` applies
    gem["stats"]["risk_free"] = 0.02
    write(tmp_path, "gem.yaml", gem)
    data = {"source": "csv", "dir": str(shared_data), **WINDOW}
    own = {"execution": {"fees_bps": 2, "slippage_bps": 1}, "stats": {"periods_per_year": 252}}
    path = blend_file(tmp_path, [{"config": "gem.yaml", "weight": 1.0}], data=data, **own)
    config = load_config(path)
    expected = (
        "blend[0] (gem.yaml): the blend's own keys apply, not the member's: "
        "execution.rebalance none (not monthly), stats.risk_free 0 (not 0.02)"
    )
    assert config.notes == (expected,)
    result = run_backtest(config, CsvSource(shared_data))
    assert result.warnings.count(expected) == 1


def test_tranches_need_a_period_no_decide_day_and_2_to_12_copies():
    raw = yaml.safe_load((CONFIGS / "taa" / "gem.yaml").read_text())
    raw["execution"] |= {"tranches": 13, "decide": "daily", "decide_day": -2}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw, "gem.yaml")
    lines = caught.value.message.splitlines()[1:]
    assert any("execution.tranches: 13 must be 2 to 12" in line for line in lines)
    assert any("execution.tranches: needs `decide: weekly`" in line for line in lines)
    assert any("execution.decide_day: the tranches choose their own days" in line for line in lines)


def test_tranche_days_spread_over_the_period():
    assert tranche_days("monthly", 4) == [-1, -6, -11, -16]
    assert tranche_days("weekly", 5) == [-1, -2, -3, -4, -5]
    assert tranche_days("quarterly", 2) == [-1, -32]
    assert tranche_days("annual", 12) == [-1 - 21 * i for i in range(12)]


def test_the_ready_blends_load_as_blends():
    seed_gem = load_config(CONFIGS / "blends" / "seed_gem.yaml")
    assert [(m.name, m.weight) for m in seed_gem.members] == [
        ("smallcap-breakout-eth", 0.5),
        ("gem", 0.5),
    ]
    assert seed_gem.universe == ["IWM", "SPY", "EFA", "AGG"]
    assert seed_gem.notes == ()  # the members' costs and stats are the blend's
    tranches = load_config(CONFIGS / "blends" / "gtaa5_tranches.yaml")
    assert [m.config.execution.decide_day for m in tranches.members] == [-1, -6, -11, -16]
    assert tranches.resolved()["execution"]["tranches"] == 4
