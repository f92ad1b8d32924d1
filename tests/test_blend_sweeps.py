"""Sweeps of blends (engine/research/blend_sweep.py): axes on a member's weight, on a
member's own keys and on the blend's own keys; every combination equals `rotation run`
of its blend (1e-9), a config in tranches sweeps as the blend of its copies, and the
walk-forward chooses among blends."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.data import MemorySource
from engine.errors import ConfigError
from engine.research.sweep import run_sweep
from engine.research.sweep_config import sweep_spec
from engine.research.walkforward import parse_spec, walk_forward
from tests.test_ranked_engine import ranked_market, sweep_raw
from tests.test_sweep import assert_rows_equal_single_runs


def ranked_member(**changes) -> dict:
    """A ranked member (weekly top 1 of AAA, BBB, CCC while ETH trends; else DDD)."""
    raw = {k: v for k, v in sweep_raw().items() if k not in ("data", "benchmark")}
    return copy.deepcopy(raw) | changes


def breakout_member(**changes) -> dict:
    """A fixed-weight member on the AAA/CCC breakout, decided monthly."""
    return {
        "name": "breakout",
        "universe": ["AAA", "CCC"],
        "signals": {"brk": {"type": "donchian", "series": "AAA/CCC", "entry": 20, "exit": 10}},
        "regimes": [
            {"name": "tilt", "when": "brk", "weights": {"AAA": 0.8, "CCC": 0.2}},
            {"name": "even", "weights": {"AAA": 0.5, "CCC": 0.5}},
        ],
        "execution": {"decide": "monthly"},
    } | changes


def blend_sweep(**own) -> dict:
    ranked = ranked_member()
    ranked["signals"]["eth"]["window"] = [10, 20]
    breakout = breakout_member()
    breakout["execution"]["decide_day"] = [-1, 2]
    return {
        "name": "blend-sweep",
        "data": {"source": "csv", "dir": "unused", "start": "2022-04-01"},
        "blend": [{"weight": [0.3, 0.5], **ranked}, {"weight": 0.4, **breakout}],
        "execution": {"fees_bps": [0, 5], "slippage_bps": 1},
        "portfolio": {"target_vol": {"annual": 0.1, "window": [10, 30]}},
        "benchmark": {"AAA": 0.5, "DDD": 0.5},
    } | own


def test_every_combination_of_a_blend_sweep_equals_its_single_run():
    spec = sweep_spec(blend_sweep(), "blend.yaml")
    assert [a.name for a in spec.axes] == [
        "blend[0].weight",
        "blend[0].signals.eth.window",
        "blend[1].execution.decide_day",
        "execution.fees_bps",
        "portfolio.target_vol.window",
    ]
    assert spec.scenarios == ("execution.fees_bps",)
    source = MemorySource(ranked_market(5, 260))
    result = run_sweep(spec, source, keep_values=True, chunk_size=7)  # chunks cut groups
    assert_rows_equal_single_runs(spec, source, result, range(0, spec.size, 3))
    names = [c for c in result.table.columns if c.startswith("time_in_")]
    assert names == [f"time_in_{a}|{b}" for a in ("risk", "safe") for b in ("tilt", "even")]
    assert np.allclose(result.table[names].sum(axis=1), 1.0)
    # every swept key shapes the result
    assert len(set(np.round(result.table["total_return"], 12))) == spec.size


def test_a_config_in_tranches_sweeps_as_the_blend_of_its_copies():
    raw = sweep_raw(weekly=False)
    raw["execution"] |= {"tranches": 3}
    raw["scores"]["mom"]["lookback"] = {"values": [10, 40]}
    raw["regimes"][0]["rank"]["top"] = [1, 2]
    spec = sweep_spec(raw, "tranches.yaml")
    assert hasattr(spec.base, "members") and len(spec.base.members) == 3
    source = MemorySource(ranked_market(8, 240))
    result = run_sweep(spec, source, keep_values=True)
    assert_rows_equal_single_runs(spec, source, result, range(spec.size))
    joined = ["|".join(p) for p in itertools.product(("risk", "safe"), repeat=3)]
    assert list(result.table.filter(like="time_in_").columns) == [f"time_in_{n}" for n in joined]


def test_a_members_axis_on_a_key_the_blend_sets_is_refused():
    raw = blend_sweep()
    raw["blend"][1]["execution"]["fees_bps"] = [1, 2]
    with pytest.raises(ConfigError) as caught:
        sweep_spec(raw, "blend.yaml")
    assert (
        "blend[1].execution.fees_bps: swept in a member, but the blend's own execution "
        "applies to every member; sweep execution.fees_bps on the blend"
    ) in caught.value.message


def test_weights_whose_largest_values_sum_above_1_are_refused_naming_the_combination():
    raw = blend_sweep()
    raw["blend"][1]["weight"] = [0.4, 0.6]
    with pytest.raises(ConfigError) as caught:
        sweep_spec(raw, "blend.yaml")
    assert caught.value.message == (
        "blend.yaml: 1 problem: blend: the weights sum to 1.1 (0.5 + 0.6), more than 1 (no "
        "leverage) (with the swept weights and regime values at their largest)"
    )


def test_check_lists_a_blend_sweeps_axes(tmp_path):
    import yaml

    path = tmp_path / "blend.yaml"
    path.write_text(yaml.safe_dump(blend_sweep(), sort_keys=False))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"ok: {path} (sweep config, 32 combinations)"
    assert "  blend[0].weight                2 values: 0.3, 0.5" in result.stdout.splitlines()


def test_the_walk_forward_chooses_among_blends():
    spec = sweep_spec(blend_sweep(execution={"fees_bps": 2}), "blend.yaml")
    source = MemorySource(ranked_market(6, 300))
    result = walk_forward(spec, source, parse_spec("train=4m,test=2m"), "sharpe")
    assert len(result.windows) >= 2
    chosen = result.windows[[a.name for a in spec.axes]].drop_duplicates()
    assert len(chosen) >= 1 and set(result.windows["blend[0].weight"]) <= {0.3, 0.5}
    assert np.isfinite(result.values["strategy"]).all()
