"""Config validation (engine/config/__init__.py) and the `when` grammar (strategies/regimes.py).

Every rejection must be a ConfigError (exit code 2) whose single-line message
names the file and the offending field, so a user can fix the YAML without
reading a traceback.
"""

from __future__ import annotations

import ast
import builtins
import copy
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.config import Config, config_from_dict, load_config
from engine.errors import ConfigError, RotationError
from strategies import regimes as regimes_module
from strategies.regimes import WhenSyntaxError, evaluate, names_in, parse_when

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))

BASE = {
    "name": "test-config",
    "data": {"source": "yfinance", "start": "2018-01-01", "end": "2025-06-30"},
    "universe": ["IWM", "SPY"],
    "signals": {
        "ratio_breakout": {"type": "donchian", "series": "IWM/SPY", "entry": 120, "exit": 60},
        "eth_risk_on": {"type": "sma", "series": "ETH-USD", "window": 100},
    },
    "regimes": [
        {
            "name": "overweight_small",
            "when": "ratio_breakout and eth_risk_on",
            "weights": {"IWM": 0.7, "SPY": 0.3},
        },
        {"name": "neutral", "weights": {"IWM": 0.3, "SPY": 0.7}},
    ],
    "execution": {"timing": "next_close", "fees_bps": 2, "slippage_bps": 1, "rebalance": "none"},
    "portfolio": {"initial_cash": 100000},
    "benchmark": {"SPY": 1.0},
    "stats": {"periods_per_year": 252, "risk_free": 0.0},
}


def raw(**changes) -> dict:
    """A deep copy of BASE with dotted-path changes applied; value DELETE removes the key."""
    config = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = config
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is DELETE:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return config


DELETE = object()


def rejected(config: dict) -> str:
    """The message of the ConfigError raised for `config` (and sanity checks on its form)."""
    with pytest.raises(ConfigError) as info:
        config_from_dict(config, origin="my.yaml")
    message = info.value.message
    assert isinstance(info.value, RotationError) and info.value.exit_code == 2
    assert message.startswith("my.yaml: "), message
    assert "\r" not in message, message
    header, *lines = message.split("\n")
    if lines:  # several problems: a header naming the file, then one problem per line
        assert header.endswith(f"{len(lines)} problems:"), message
        assert all(line.startswith("  ") and line.strip() for line in lines), message
    return message


def test_base_config_is_valid():
    config = config_from_dict(copy.deepcopy(BASE))
    assert isinstance(config, Config)
    assert config.tickers() == ["ETH-USD", "IWM", "SPY"]
    assert [r.name for r in config.parsed_regimes()] == ["overweight_small", "neutral"]


# ---------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    "config, field",
    [
        ({**BASE, "benchmrk": {"SPY": 1.0}}, "benchmrk"),
        (raw(data__sorce="csv"), "data.sorce"),
        (raw(execution__fee_bps=3), "execution.fee_bps"),
        (raw(portfolio__cash=1), "portfolio.cash"),
        (raw(stats__rf=0.01), "stats.rf"),
        (raw(signals__eth_risk_on__windw=5), "signals.eth_risk_on.windw"),
        (raw(signals__ratio_breakout__window=5), "signals.ratio_breakout.window"),
        (raw(regimes__1__weight={"SPY": 1.0}), "regimes[1].weight"),
    ],
    ids=["top", "data", "execution", "portfolio", "stats", "sma", "donchian", "regime"],
)
def test_unknown_key_is_rejected_naming_its_path(config, field):
    message = rejected(config)
    assert f"{field}: unknown key" in message


def test_unknown_close_times_key_is_rejected():
    config = raw(data__close_times={"ETH-USD": {"time": "16:00", "tz": "UTC", "offset": 1}})
    assert "data.close_times.ETH-USD.offset: unknown key" in rejected(config)


# ---------------------------------------------------------------- `when`


def test_unknown_signal_in_when_suggests_the_close_name():
    message = rejected(raw(regimes__0__when="ratio_breakot and eth_risk_on"))
    assert "regimes[0].when" in message
    assert "unknown signal 'ratio_breakot'" in message
    assert "did you mean 'ratio_breakout'?" in message


def test_unknown_signal_without_close_match_lists_the_signals():
    message = rejected(raw(regimes__0__when="vix_calm"))
    assert "regimes[0].when: unknown signal 'vix_calm'" in message
    assert "did you mean" not in message
    assert "eth_risk_on" in message and "ratio_breakout" in message


@pytest.mark.parametrize(
    "when",
    [
        "ratio_breakout and",
        "(ratio_breakout or eth_risk_on",
        "ratio_breakout eth_risk_on",
        "ratio_breakout & eth_risk_on",
        "and ratio_breakout",
        "not",
        "ratio_breakout or or eth_risk_on",
        "ratio_breakout)",
        "()",
        "   ",
        "__import__('os')",
        "ratio_breakout AND eth_risk_on",
    ],
)
def test_when_syntax_error_is_rejected_naming_the_regime(when):
    message = rejected(raw(regimes__0__when=when))
    assert "regimes[0].when:" in message
    assert repr(when) in message  # the offending expression is quoted


# ---------------------------------------------------------------- weights


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_weight_outside_unit_interval_is_rejected(weight):
    message = rejected(raw(regimes__1__weights={"IWM": weight, "SPY": 0.0}))
    assert "regimes[1].weights.IWM:" in message


def test_benchmark_weight_outside_unit_interval_is_rejected():
    assert "benchmark.SPY:" in rejected(raw(benchmark={"SPY": 2.0}))


def test_weights_summing_above_one_are_rejected():
    message = rejected(raw(regimes__0__weights={"IWM": 0.7, "SPY": 0.4}))
    assert "regimes[0].weights: sum to 1.1, more than 1" in message


def test_weights_summing_to_one_with_float_noise_are_accepted():
    # 0.1 + 0.2 + 0.7 = 1.0000000000000002 in floating point
    config = raw(
        universe=["IWM", "SPY", "QQQ"], regimes__1__weights={"IWM": 0.1, "SPY": 0.2, "QQQ": 0.7}
    )
    config_from_dict(config)


def test_benchmark_weights_summing_above_one_are_rejected():
    config = raw(benchmark={"SPY": 0.6, "IWM": 0.6})
    assert "benchmark: weights sum to 1.2, more than 1" in rejected(config)


def test_weight_ticker_not_in_universe_is_rejected():
    message = rejected(raw(regimes__1__weights={"IWN": 0.3, "SPY": 0.7}))
    assert "regimes[1].weights.IWN: not in universe" in message
    assert "did you mean 'IWM'?" in message


# ---------------------------------------------------------------- windows, dates, source


@pytest.mark.parametrize(
    "config, field",
    [
        (raw(signals__ratio_breakout__entry=0), "signals.ratio_breakout.entry"),
        (raw(signals__ratio_breakout__exit=-3), "signals.ratio_breakout.exit"),
        (raw(signals__eth_risk_on__window=0), "signals.eth_risk_on.window"),
    ],
)
def test_window_below_one_is_rejected(config, field):
    message = rejected(config)
    assert f"{field}: must be at least 1" in message


def test_start_after_end_is_rejected():
    message = rejected(raw(data__start="2025-07-01", data__end="2025-06-30"))
    assert "data.start: 2025-07-01 is after data.end 2025-06-30" in message


def test_start_equal_to_end_is_accepted():
    config_from_dict(raw(data__start="2020-03-02", data__end="2020-03-02"))


def test_cli_start_override_after_end_is_rejected(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    import datetime as dt

    with pytest.raises(ConfigError, match=r"data\.start: 2030-01-01 is after data\.end"):
        load_config(path, start=dt.date(2030, 1, 1), end=None)


def test_last_regime_with_when_is_rejected():
    message = rejected(raw(regimes__1__when="eth_risk_on"))
    assert "regimes[1].when: the last regime is the default" in message


def test_earlier_regime_without_when_is_rejected():
    config = raw()
    config["regimes"].insert(0, {"name": "first", "weights": {"SPY": 1.0}})
    message = rejected(config)
    assert "regimes[0].when: only the last regime may omit `when`" in message


def test_duplicate_regime_names_are_rejected():
    message = rejected(raw(regimes__1__name="overweight_small"))
    assert "regimes: the name 'overweight_small' is used twice" in message


def test_csv_source_without_dir_is_rejected():
    message = rejected(raw(data__source="csv"))
    assert "data.dir: the csv source needs `dir:`" in message


def test_csv_source_with_dir_is_accepted(tmp_path):
    config = config_from_dict(raw(data__source="csv", data__dir=str(tmp_path)))
    assert config.data.dir == tmp_path


def test_relative_dir_in_the_file_is_relative_to_the_file(tmp_path):
    folder = tmp_path / "strategies"
    folder.mkdir()
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump(raw(data__source="csv", data__dir="prices")), "utf-8")
    assert load_config(path).data.dir == (folder / "prices").resolve()
    # A --data-dir given on the command line is relative to the shell's folder; both are
    # stored absolute, so the run folder's config.yaml runs again from anywhere.
    overridden = load_config(path, source="csv", dir=Path("elsewhere"))
    assert overridden.data.dir == Path("elsewhere").resolve()


def test_the_csv_folder_location_is_not_part_of_the_config_hash(tmp_path):
    here = config_from_dict(raw(data__source="csv", data__dir=str(tmp_path / "a")))
    there = config_from_dict(raw(data__source="csv", data__dir=str(tmp_path / "b")))
    assert here.hash() == there.hash()


def test_unknown_source_is_rejected():
    assert "data.source:" in rejected(raw(data__source="bloomberg"))


def test_missing_required_field_is_named():
    assert "data.start: required field is missing" in rejected(raw(data__start=DELETE))


# ---------------------------------------------------------------- several problems at once


def test_several_schema_problems_are_reported_together_one_per_line():
    config = raw(execution__fees_bps=-1, signals__eth_risk_on__window=0, data__sorce="csv")
    config["extra_top"] = 1
    message = rejected(config)
    assert "4 problems" in message
    for field in ("execution.fees_bps", "signals.eth_risk_on.window", "data.sorce", "extra_top"):
        assert field in message


def test_several_cross_field_problems_are_reported_together_one_per_line():
    config = raw(
        data__start="2026-01-01",  # after end
        regimes__0__when="ratio_breakot",  # unknown signal
        regimes__1__when="eth_risk_on",  # last regime with when
    )
    config["regimes"][0]["weights"] = {"IWM": 0.9, "QQQ": 0.5}  # not in universe; sum 1.4
    message = rejected(config)
    assert "5 problems" in message
    for fragment in (
        "data.start",
        "regimes[0].when: unknown signal",
        "regimes[1].when",
        "regimes[0].weights.QQQ",
        "regimes[0].weights: sum to 1.4",
    ):
        assert fragment in message


def test_schema_and_cross_field_problems_are_reported_in_one_pass():
    # The broken fee is removed for the second look, so the cross-field rules still run.
    message = rejected(raw(execution__fees_bps=-1, data__start="2026-01-01"))
    assert "2 problems" in message
    assert "execution.fees_bps: must be at least 0" in message and "data.start" in message


def test_nine_mistakes_are_reported_at_once_one_per_line_in_our_words():
    config = raw(execution__fees_bps=-1, execution__timing="next_week", data__sorce="csv")
    config["signals"]["ratio_breakout"]["type"] = "donchain"
    config["signals"]["eth_risk_on"]["window"] = 0
    config["regimes"][0]["when"] = "ratio_breakout and eth_risk_of"
    config["regimes"][0]["weights"] = {"IWM": 0.9, "QQQ": 0.5}
    config["regimes"][1]["name"] = False  # YAML's unquoted `off`
    message = rejected(config)
    header, *lines = message.split("\n")
    assert header.endswith("9 problems:") and len(lines) == 9
    for fragment in (
        "execution.fees_bps: must be at least 0",
        "execution.timing: must be next_close or next_open, not 'next_week'",
        "data.sorce: unknown key",
        "signals.ratio_breakout.type: unknown signal type 'donchain' (did you mean 'donchian'?)",
        "signals.eth_risk_on.window: must be at least 1",
        "regimes[1].name: must be text, not false: YAML reads unquoted yes/no/on/off",
        "regimes[0].when: unknown signal 'eth_risk_of' (did you mean 'eth_risk_on'?)",
        "regimes[0].weights.QQQ: not in universe",
        "regimes[0].weights: sum to 1.4, more than 1",
    ):
        assert sum(fragment in line for line in lines) == 1, fragment
    assert "Input should" not in message and "Input tag" not in message


def test_a_piece_removed_for_the_second_look_raises_no_problem_of_its_own():
    # Without its one ticker the benchmark would be empty: that is not the user's mistake.
    message = rejected(raw(benchmark={"SPY": 2.0}))
    assert message.endswith("1 problem: benchmark.SPY: must be at most 1, not 2.0")


# ---------------------------------------------------------------- loading files


def test_load_config_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_load_config_malformed_yaml_gives_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nuniverse: [SPY\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.message.startswith(f"{path}: malformed YAML at line ")
    assert "column" in info.value.message and "\n" not in info.value.message


def test_load_config_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(path)


def test_load_config_reports_the_file_with_the_field(tmp_path):
    path = tmp_path / "heavy.yaml"
    path.write_text(yaml.safe_dump(raw(regimes__0__weights={"IWM": 0.9, "SPY": 0.9})))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.message.startswith(f"{path}: 1 problem: regimes[0].weights")


@pytest.mark.parametrize("field", ["universe", "benchmark", "signals"])
def test_lower_case_tickers_are_rejected_with_the_capitalised_spelling(field):
    config = raw()
    if field == "universe":
        config["universe"] = ["IWM", "spy"]
        config["regimes"] = [{"name": "hold", "weights": {"IWM": 1.0}}]
        config["signals"] = {}
    elif field == "benchmark":
        config["benchmark"] = {"spy": 1.0}
    else:
        config["signals"]["eth_risk_on"]["series"] = "eth-usd"
    message = rejected(config)
    assert "in capitals" in message and ("'SPY'" in message or "'ETH-USD'" in message)


def test_load_config_non_utf8_file_is_a_config_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="latin1.yaml"):
        load_config(path)


# ---------------------------------------------------------------- ready configs


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_ready_config_validates(path):
    config = load_config(path)
    assert config.name
    assert set(config.benchmark) and set(config.universe) <= set(config.tickers())


def test_there_are_ready_configs():
    assert len(CONFIGS) >= 1


# ---------------------------------------------------------------- hash


def test_hash_is_stable_for_equal_configs():
    first = config_from_dict(copy.deepcopy(BASE)).hash()
    assert first == config_from_dict(copy.deepcopy(BASE)).hash()
    assert len(first) == 64 and int(first, 16) >= 0


def test_hash_ignores_key_order_and_explicit_defaults():
    reordered = dict(reversed(list(copy.deepcopy(BASE).items())))
    reordered["regimes"][0]["weights"] = {"SPY": 0.3, "IWM": 0.7}
    assert config_from_dict(reordered).hash() == config_from_dict(copy.deepcopy(BASE)).hash()
    without_defaults = raw(execution=DELETE, portfolio=DELETE, stats=DELETE)
    explicit = raw(
        execution={},
        portfolio={"initial_cash": 100_000.0},
        stats={"periods_per_year": None, "risk_free": 0.0},
    )
    assert config_from_dict(without_defaults).hash() == config_from_dict(explicit).hash()


@pytest.mark.parametrize(
    "change",
    [
        {"execution__fees_bps": 3},
        {"data__end": "2025-06-27"},
        {"signals__ratio_breakout__entry": 121},
        {"regimes__0__weights": {"IWM": 0.6, "SPY": 0.4}},
        {"regimes__0__when": "eth_risk_on and ratio_breakout"},
        {"benchmark": {"IWM": 1.0}},
        {"name": "other"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_hash_changes_when_a_value_changes(change):
    assert config_from_dict(raw(**change)).hash() != config_from_dict(raw()).hash()


def test_hash_is_the_same_in_another_process():
    path = CONFIGS[0]
    here = load_config(path).hash()
    code = f"from engine.config import load_config; print(load_config({str(path)!r}).hash())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=REPO
    ).stdout.strip()
    assert there == here


# ---------------------------------------------------------------- the `when` grammar

A, B, C = ("name", "a"), ("name", "b"), ("name", "c")


@pytest.mark.parametrize(
    "text, tree",
    [
        ("a", A),
        ("a and b", ("and", A, B)),
        ("a or b and c", ("or", A, ("and", B, C))),
        ("a and b or c", ("or", ("and", A, B), C)),
        ("(a or b) and c", ("and", ("or", A, B), C)),
        ("not a and b", ("and", ("not", A), B)),
        ("not (a and b)", ("not", ("and", A, B))),
        ("not not a", ("not", ("not", A))),
        ("a or not b", ("or", A, ("not", B))),
        ("a or b or c", ("or", ("or", A, B), C)),
        ("a and b and c", ("and", ("and", A, B), C)),
        ("((a))", A),
        ("  a\tand\n b ", ("and", A, B)),
    ],
)
def test_parse_when_builds_the_tree_with_usual_precedence(text, tree):
    assert parse_when(text) == tree


@pytest.mark.parametrize(
    "text",
    [
        "a or b and c",
        "a and b or c",
        "not a or b",
        "not (a or b) and c",
        "a and not b or not c",
        "(a or b) and (b or not c)",
        "not not a and b",
    ],
)
def test_evaluate_matches_python_boolean_semantics(text):
    combos = list(itertools.product([False, True], repeat=3))
    signals = {name: np.array([combo[i] for combo in combos]) for i, name in enumerate("abc")}
    got = evaluate(parse_when(text), signals)
    # Python's own `and`/`or`/`not` have the same precedence: use them as the oracle on literals.
    expected = [_python_truth(text, dict(zip("abc", combo, strict=True))) for combo in combos]
    assert got.dtype == bool
    assert got.tolist() == expected


def _python_truth(text: str, values: dict[str, bool]) -> bool:
    """Evaluate a `when` expression with Python's parser on literals (the test's oracle)."""
    tree = ast.parse(text, mode="eval")

    def walk(node):
        if isinstance(node, ast.BoolOp):
            parts = [walk(v) for v in node.values]
            return all(parts) if isinstance(node.op, ast.And) else any(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not walk(node.operand)
        assert isinstance(node, ast.Name)
        return values[node.id]

    return walk(tree.body)


def test_names_in_collects_every_signal():
    assert names_in(parse_when("(a or not b) and a and c")) == {"a", "b", "c"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a and",
        "(a",
        "a)",
        "a b",
        "a & b",
        "a || b",
        "not",
        "and a",
        "a or or b",
        "()",
        "a.b",
        "a == b",
        "a; b",
        "__import__('os').system('echo hi')",
        "1 and a",
    ],
)
def test_parse_when_rejects_bad_syntax(text):
    with pytest.raises(WhenSyntaxError):
        parse_when(text)


def test_when_never_uses_eval():
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/compile must not be used")

    signals = {
        "a": np.array([False, True]),
        "b": np.array([False, False]),
        "c": np.array([True, True]),
    }
    # Patched only around the calls under test (pytest itself needs compile to report).
    with pytest.MonkeyPatch.context() as patch:
        for name in ("eval", "exec", "compile"):
            patch.setattr(builtins, name, forbidden)
        tree = parse_when("not (a or b) and c")
        values = evaluate(tree, signals).tolist()
        # A Python-looking name is just an (unknown) signal name, never executed.
        dunder = parse_when("__import__")
    assert values == [True, False]
    assert dunder == ("name", "__import__")


def test_regimes_module_source_has_no_eval_exec_or_compile():
    source = Path(regimes_module.__file__).read_text(encoding="utf-8")
    calls = {
        node.func.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & {"eval", "exec", "compile", "__import__"}
