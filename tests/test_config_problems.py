"""Config problems all at once, in our words (issue 18, item 5).

Schema problems (pattern, literal, union, type, range, missing) are reported together
with the cross-field problems, one line each, in the project's words, with "did you
mean" for unknown keys at every level; `rotation run` on a sweep config points to
`rotation sweep`; `rotation check` validates any number of configs without running
them. None of these needs price data.
"""

from __future__ import annotations

import copy
from typing import Literal

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field

from engine.cli import main
from engine.config import check_config
from engine.config.repair import validate
from engine.config.words import LEAKS

BASE = {
    "name": "problems",
    "data": {"source": "yfinance", "start": "2018-01-01", "end": "2025-06-30"},
    "universe": ["IWM", "SPY"],
    "signals": {
        "brk": {"type": "donchian", "series": "IWM/SPY", "entry": 120, "exit": 60},
        "trend": {"type": "sma", "series": "SPY", "window": 100},
    },
    "regimes": [
        {"name": "small", "when": "brk and trend", "weights": {"IWM": 0.7, "SPY": 0.3}},
        {"name": "neutral", "weights": {"IWM": 0.3, "SPY": 0.7}},
    ],
    "execution": {"fees_bps": 2, "slippage_bps": 1, "rebalance": "none"},
}


def problems(config: dict) -> list[str]:
    """The problem lines of an invalid config (asserting none leaks pydantic's words)."""
    valid, found = check_config(config)
    assert valid is None and found, "expected problems"
    for line in found:
        assert "\n" not in line and not [p for p in LEAKS if p in line], line
    return found


def changed(**paths) -> dict:
    """BASE with dotted-path (`a__b__0`) values set."""
    config = copy.deepcopy(BASE)
    for dotted, value in paths.items():
        *parents, leaf = dotted.split("__")
        node = config
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return config


# ---------------------------------------------------------------- nothing hides anything


def test_an_invalid_name_timing_and_rebalance_hide_no_other_problem():
    config = changed(
        name="my run!",
        execution__timing="tomorrow",
        execution__rebalance="weekly",
        regimes__0__when="brk and trnd",  # unknown signal
        regimes__0__weights={"IWM": 0.9, "QQQ": 0.5},  # outside the universe; sum 1.4
    )
    assert problems(config) == [
        "name: must be letters, digits, '.', '_' or '-' (got 'my run!')",
        "execution.timing: must be next_close or next_open, not 'tomorrow'",
        "execution.rebalance: must be none, monthly, quarterly, annual or {threshold: x}, "
        "not 'weekly'",
        "regimes[0].when: unknown signal 'trnd' (did you mean 'trend'?); signals are "
        "['brk', 'trend']",
        "regimes[0].weights.QQQ: not in universe ['IWM', 'SPY']; add it to `universe` or fix "
        "the name",
        "regimes[0].weights: sum to 1.4, more than 1 (no leverage)",
    ]


def test_a_broken_universe_hides_only_what_depends_on_it():
    # Which tickers are outside a universe that is not a list cannot be said; a sum can.
    config = changed(universe="IWM SPY", regimes__0__weights={"IWM": 0.9, "QQQ": 0.5})
    assert problems(config) == [
        "universe: must be a list, not 'IWM SPY'",
        "regimes[0].weights: sum to 1.4, more than 1 (no leverage)",
    ]


@pytest.mark.parametrize(
    ("section", "value"),
    [("data", 5), ("regimes", {"a": 1}), ("name", None), ("signals", [1])],
)
def test_a_broken_required_section_still_lets_the_rules_run(section, value):
    config = changed(**{section: value}, execution__fees_bps=-1)
    config["benchmark"] = {"SPY": 0.8, "IWM": 0.8}  # a cross-field problem elsewhere
    first, *others = problems(config)
    assert first.startswith(f"{section}: must be ")
    # nothing said about what the broken section holds (which signals, which regimes)
    assert others == [
        "execution.fees_bps: must be at least 0, not -1",
        "benchmark: weights sum to 1.6, more than 1",
    ]


def test_a_value_with_the_shape_of_a_union_member_gets_that_members_problem_only():
    assert problems(changed(execution__rebalance={"threshold": 2})) == [
        "execution.rebalance.threshold: must be below 1, not 2"
    ]
    assert problems(changed(execution__rebalance={})) == [
        "execution.rebalance.threshold: required field is missing"
    ]


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ({"name": ""}, "name: must not be empty"),
        ({"universe": []}, "universe: must not be empty"),
        ({"data__start": "2019-13-01"}, "data.start: must be a date written YYYY-MM-DD, not "),
        ({"data__start": 20190101}, "data.start: must be a date written YYYY-MM-DD, not "),
        ({"data__source": "quandl"}, "data.source: must be yfinance, csv or synthetic, not "),
        ({"execution__fees_bps": -1}, "execution.fees_bps: must be at least 0, not -1"),
        (
            {"execution__decide": 7},
            "execution.decide: must be daily, weekly, monthly, quarterly or annual, not 7",
        ),
        ({"regimes__1__weights": [0.3]}, "regimes[1].weights: must be a mapping (key: value)"),
        ({"regimes__1": "neutral"}, "regimes[1]: must be a mapping (key: value), not "),
        ({"signals__trend__series": 5}, "signals.trend.series: must be text, not 5"),
        ({"signals__trend__type": "smaa"}, "signals.trend.type: unknown signal type 'smaa' (did"),
        ({"signals__trend__type": None}, "signals.trend.type: must be one of ['correlation', "),
        ({"signals__trend": {"series": "SPY"}}, "signals.trend.type: required field is missing"),
        ({"regimes__1__weights": {1: 0.5}}, "regimes[1].weights.1: the key must be text, not 1"),
    ],
)
def test_each_kind_of_schema_problem_is_one_line_in_our_words(change, line):
    assert any(found.startswith(line) for found in problems(changed(**change))), line


def test_a_missing_required_field_is_named():
    config = changed()
    del config["data"]["start"]
    assert problems(config) == ["data.start: required field is missing"]


# ---------------------------------------------------------------- did you mean


def renamed(place: tuple, old: str | None, new: str, value=1) -> dict:
    """BASE with the key `old` under `place` renamed `new` (or `new: value` added)."""
    config = changed()
    node = config
    for part in place:
        node = node[part]
    node[new] = node.pop(old) if old else value
    return config


@pytest.mark.parametrize(
    ("config", "line"),
    [
        (renamed((), "universe", "universse"), "universse: unknown key (did you mean 'universe'?)"),
        (renamed((), None, "fees_bps"), "fees_bps: unknown key (did you mean execution.fees_bps?)"),
        (
            renamed(("execution",), "fees_bps", "fee_bps"),
            "execution.fee_bps: unknown key (did you mean 'fees_bps'?)",
        ),
        (renamed(("data",), "source", "sorce"), "data.sorce: unknown key (did you mean 'source'?)"),
        (
            renamed(("regimes", 0), "weights", "wieghts"),
            "regimes[0].wieghts: unknown key (did you mean 'weights'?)",
        ),
        (
            renamed(("signals", "trend"), "window", "windw"),
            "signals.trend.windw: unknown key (did you mean 'window'?)",
        ),
        (
            renamed(("signals", "brk"), None, "entyr"),
            "signals.brk.entyr: unknown key (did you mean 'entry'?)",
        ),
    ],
    ids=["top", "top-of-a-section", "execution", "data", "regime", "signal", "signal-extra"],
)
def test_an_unknown_key_at_any_level_gets_a_did_you_mean(config, line):
    assert problems(config) == [line]


def test_a_misspelt_key_of_a_rank_filter_gets_a_did_you_mean():
    config = changed(universe=["IWM", "SPY", "BIL"])
    config["scores"] = {"mom": {"type": "momentum", "lookback": 5}}
    rank = {"assets": ["IWM", "SPY"], "score": "mom", "top": 1}
    rank["filter"] = {"type": "sma", "windw": 100}
    config["regimes"][1] = {"name": "neutral", "rank": rank}
    assert problems(config) == [
        "regimes[1].rank.filter.windw: unknown key (did you mean 'window'?)"
    ]


def test_an_unknown_key_with_nothing_close_lists_the_keys_there():
    (line,) = problems(changed(execution__colour=1))
    assert line.startswith("execution.colour: unknown key; the keys here are timing, fees_bps")


# ---------------------------------------------------------------- numbers written as text


def yaml_problems(text: str) -> list[str]:
    config = changed()
    config["regimes"][1]["weights"] = yaml.safe_load(text)
    return problems(config)


def test_a_percent_sign_on_a_weight_says_what_to_write():
    # YAML reads `80%` as text although it has no quotes.
    assert yaml_problems("{IWM: 80%, SPY: 0.2}") == [
        "regimes[1].weights.IWM: must be a number, not '80%' (a percent sign): write 0.8"
    ]


def test_a_percent_sign_elsewhere_says_to_leave_it_out():
    (line,) = problems(changed(execution__fees_bps="2%"))
    assert line == (
        "execution.fees_bps: must be a number, not '2%' (a percent sign): write the number "
        "without it"
    )


def test_only_a_quoted_number_is_told_to_lose_its_quotes():
    assert yaml_problems("{IWM: '0.3', SPY: 0.7}") == [
        "regimes[1].weights.IWM: must be a number, not the text '0.3' (write it without quotes)"
    ]
    assert yaml_problems("{IWM: lots, SPY: 0.7}") == [
        "regimes[1].weights.IWM: must be a number, not the text 'lots'"
    ]


# ---------------------------------------------------------------- the mechanism is generic


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: float = Field(gt=0, lt=1)


class Toy(BaseModel):
    """A model the engine has never seen: the messages and the repair know nothing of it."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(pattern=r"^[a-z]+$")
    mode: Literal["fast", "slow"] = "fast"
    limit: Literal["off"] | Inner = "off"
    items: list[str] = Field(min_length=1)
    total: int = Field(default=1, ge=1)


def toy_rule(toy: Toy) -> list[str]:
    twice = sorted({n for n in toy.items if toy.items.count(n) > 1})
    return [f"items: {n!r} is listed twice" for n in twice]


def test_any_model_and_rule_get_the_same_treatment():
    raw = {"label": "A b", "mode": "medium", "limit": "on", "items": ["x", "x"], "totl": 2}
    model, found = validate(raw, Toy, [toy_rule])
    assert model is None
    assert found == [
        "label: must be lower-case letters (got 'A b')",
        "mode: must be fast or slow, not 'medium'",
        "limit: must be off or {level: x}, not 'on'",
        "totl: unknown key (did you mean 'total'?)",
        "items: 'x' is listed twice",
    ]


# ---------------------------------------------------------------- commands


def write(folder, name: str, config: dict) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return str(path)


def sweep_config() -> dict:
    config = changed(signals__brk__entry=[60, 120], execution__fees_bps=[0, 5])
    config["sweep"] = {"metric": "sharpe", "top": 3}
    return config


def test_run_on_a_sweep_config_says_to_use_rotation_sweep(tmp_path):
    for name, config in (("a.yaml", sweep_config()), ("b.yaml", {**changed(), "sweep": {}})):
        path = write(tmp_path, name, config)
        result = CliRunner().invoke(main, ["run", path, "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"Error: {path}: a sweep config (")
        assert f"run it with `rotation sweep {path}`" in result.stderr
    assert not (tmp_path / "o").exists()


def test_check_reports_each_file_and_exits_0_when_all_are_valid(tmp_path):
    plain = write(tmp_path, "plain.yaml", changed(data={"source": "csv", "dir": "nowhere",
                                                           "start": "2018-01-02"}))  # fmt: skip
    sweep = write(tmp_path, "sweep.yaml", sweep_config())
    result = CliRunner().invoke(main, ["check", plain, sweep])
    assert result.exit_code == 0, result.output
    # No price is read: the csv folder does not even exist.
    assert result.stdout.splitlines() == [
        f"ok: {plain} (config)",
        f"ok: {sweep} (sweep config, 4 combinations)",
        "  signals.brk.entry   2 values: 60, 120",
        "  execution.fees_bps  2 values: 0, 5 (scenario: swept, never chosen)",
        "  2 x 2 = 4 combinations",
    ]


def test_check_lists_a_blend_axis_and_refuses_an_ambiguous_list(tmp_path):
    """Issue 23 item 7: `{values: [...]}` on momentum's list-valued lookback sweeps blends
    (each listed as a value); a plain list there is refused naming both spellings."""
    config = changed(signals__brk__entry=[60, 120])
    config["signals"]["mom"] = {"type": "momentum", "series": "SPY", "lookback": 63}
    config["regimes"][0]["when"] = "brk and mom"
    config["signals"]["mom"]["lookback"] = {"values": [[21, 63], [126, 252], 200]}
    blends = write(tmp_path, "blends.yaml", config)
    config["signals"]["mom"]["lookback"] = [21, 63]
    plain = write(tmp_path, "plain.yaml", config)
    result = CliRunner().invoke(main, ["check", blends, plain])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"ok: {blends} (sweep config, 6 combinations)",
        "  signals.brk.entry     2 values: 60, 120",
        "  signals.mom.lookback  3 values: [21, 63], [126, 252], 200",
        "  2 x 3 = 6 combinations",
        f"{plain}: 1 problem: signals.mom.lookback: [21, 63] could be one blend of lookbacks or "
        "an axis "
        "of them; in a sweep config write {values: [21, 63]} to sweep each alone, or "
        "{values: [[21, 63]]} to keep this blend in every combination",
    ]


def test_check_lists_every_problem_of_every_file_and_exits_2(tmp_path):
    good = write(tmp_path, "good.yaml", changed())
    bad = write(tmp_path, "bad.yaml", changed(name="my run!", execution__rebalance="weekly"))
    broken = sweep_config()
    broken["sweep"]["metrc"] = "calmar"
    broken["signals"]["brk"]["exit"] = {"start": 10, "stop": 5, "step": 1}
    broken["regimes"][0]["weights"]["IWM"] = [0.7, 0.9]  # 0.9 + 0.3 is more than 1
    swept = write(tmp_path, "swept.yaml", broken)
    blend = write(tmp_path, "blend.yaml", {"name": "b", "blend": [{"config": good}]})
    missing = str(tmp_path / "missing.yaml")
    result = CliRunner().invoke(main, ["check", good, bad, swept, blend, missing])
    assert result.exit_code == 2
    assert result.stderr == "Error: 4 of 5 config files have problems\n"
    assert result.stdout.splitlines() == [
        f"ok: {good} (config)",
        f"{bad}: 2 problems:",
        "  name: must be letters, digits, '.', '_' or '-' (got 'my run!')",
        "  execution.rebalance: must be none, monthly, quarterly, annual or {threshold: x}, "
        "not 'weekly'",
        f"{swept}: 3 problems:",
        "  sweep.metrc: unknown key (did you mean 'metric'?)",
        "  signals.brk.exit: start 10 is above stop 5",
        "  regimes[0].weights: sum to 1.2, more than 1 (no leverage) (with "
        "regimes[0].weights.IWM = 0.9)",
        f"{blend}: 2 problems:",  # a blend is checked as a blend (engine/config/blend.py)
        "  data: required field is missing",
        "  blend[0].weight: required field is missing",
        f"{missing}: no such config file",
    ]
