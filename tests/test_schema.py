"""The config schema (engine/config/schema.py, `rotation schema`): the committed
schema/rotation.schema.json is what the command prints today; every ready config points
to it on its first line and is valid under it (read as an editor reads YAML: dates stay
text); a misspelt key, a number out of range or an axis where nothing may be swept is
refused, as the config's own validation refuses it; every place a sweep may vary accepts
each form of axis, and every field has a description an editor can show.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from engine import api
from engine.cli import main
from engine.config import check_config
from engine.config.schema import FILE_KINDS, text
from engine.research.grid import _sweepable, swept
from tests.conftest import CONFIGS, REPO

SCHEMA_FILE = REPO / "schema" / "rotation.schema.json"
READY = sorted(CONFIGS.rglob("*.yaml"))


class EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it (YAML 1.2): a date is text."""


EditorLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=EditorLoader)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(validator, raw: dict) -> list[str]:
    """Every error, with those under an `anyOf` branch (an optional section: the section
    or null) spelled out as an editor shows the branch that fits best."""

    def lines(error) -> list[str]:
        own = [f"{list(error.absolute_path)}: {error.message}"]
        return own + [line for sub in error.context for line in lines(sub)]

    return [line for error in validator.iter_errors(raw) for line in lines(error)]


def test_the_committed_schema_is_what_rotation_schema_builtin_prints():
    printed = CliRunner().invoke(main, ["schema", "--builtin"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == text(plugins=False)
    assert SCHEMA_FILE.read_text(encoding="utf-8") == printed.stdout, (
        "schema/rotation.schema.json is stale: run "
        "`rotation schema --builtin > schema/rotation.schema.json`"
    )


def test_a_changed_model_makes_the_committed_schema_stale(monkeypatch):
    from strategies.signals.sma import SmaSignal

    field = SmaSignal.model_fields["band"]
    monkeypatch.setattr(field, "description", "a different description")
    SmaSignal.model_rebuild(force=True)
    try:
        assert text(plugins=False) != SCHEMA_FILE.read_text(encoding="utf-8")
    finally:
        monkeypatch.undo()
        SmaSignal.model_rebuild(force=True)
    assert text(plugins=False) == SCHEMA_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", READY, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_ready_config_points_to_the_schema_on_its_first_line(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), f"{path.name}: first line {first!r}"
    target = (path.parent / first.removeprefix(prefix)).resolve()
    assert target == SCHEMA_FILE.resolve()


@pytest.mark.parametrize("path", READY, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_ready_config_is_valid_under_the_schema(path, validator):
    assert problems(validator, read(path)) == []


SEED = CONFIGS / "smallcap_breakout_eth.yaml"
TAA = CONFIGS / "taa" / "top2_of_7.yaml"


def _set(raw: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(raw)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def _rename(raw: dict, path: tuple, new: str) -> dict:
    out = copy.deepcopy(raw)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[new] = node.pop(path[-1])
    return out


REFUSED = [
    # (config, change, what the schema names)
    (SEED, lambda r: _rename(r, ("execution", "fees_bps"), "fee_bps"), "'fee_bps' was unexpected"),
    (SEED, lambda r: _rename(r, ("universe",), "univers"), "'univers' was unexpected"),
    (SEED, lambda r: _rename(r, ("signals", "ratio_breakout", "entry"), "entyr"), "'entyr'"),
    (SEED, lambda r: _rename(r, ("data", "start"), "begin"), "'begin' was unexpected"),
    (TAA, lambda r: _rename(r, ("regimes", 0, "rank", "top"), "tops"), "'tops' was unexpected"),
    (SEED, lambda r: _set(r, ("signals", "eth_risk_on", "type"), "smaa"), "'smaa' is not one"),
    (SEED, lambda r: _set(r, ("signals", "eth_risk_on", "window"), 0), "less than the minimum"),
    (SEED, lambda r: _set(r, ("signals", "eth_risk_on", "band"), 1.5), "1.5 is greater"),
    (SEED, lambda r: _set(r, ("execution", "fees_bps"), "2"), "'2' is not valid"),
    (SEED, lambda r: _set(r, ("execution", "timing"), "next_day"), "'next_day' is not one of"),
    (SEED, lambda r: _set(r, ("regimes", 0, "weights", "IWM"), 1.2), "1.2 is not valid"),
    (SEED, lambda r: _set(r, ("name",), "my run!"), "does not match"),
    # a list where nothing may be swept is no axis
    (SEED, lambda r: _set(r, ("portfolio", "initial_cash"), [1e5, 2e5]), "is not of type"),
    (SEED, lambda r: _set(r, ("data", "max_fill_days"), [1, 2]), "is not of type"),
    (SEED, lambda r: _set(r, ("execution", "timing"), ["next_close"]), "is not one of"),
    (SEED, lambda r: _set(r, ("benchmark",), {"SPY": [0.5, 1.0]}), "is not valid"),
]


@pytest.mark.parametrize("config, change, words", REFUSED, ids=lambda v: str(v)[-24:])
def test_a_misspelt_key_or_a_wrong_value_is_refused_by_schema_and_config(
    validator, config, change, words
):
    raw = change(read(config))
    found = problems(validator, raw)
    assert found and any(words in line for line in found), found
    loaded = yaml.safe_load(config.read_text(encoding="utf-8"))  # dates as dates
    _, refused = check_config(change(loaded))
    assert refused or swept(change(loaded)), "the config's own validation accepts it"


def _axes(value):
    """A list, `{values: ...}` and a range around `value`, within its bounds (a weight of 1
    goes down, a window up)."""
    other = value + 1 if isinstance(value, int) else (value / 2 if value else 0.01)
    low, high = sorted((value, other))
    yield [value, other]
    yield {"values": [value, other]}
    yield {"start": low, "stop": high, "step": high - low}


@pytest.mark.parametrize("path", READY, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_place_a_sweep_may_vary_takes_every_form_of_axis(path, validator):
    raw = read(path)
    places = [(p, v) for p, v, _ in _sweepable(raw) if isinstance(v, (int, float))]
    if not places:
        pytest.skip(f"{path.name} has no single number a sweep may vary")
    for place, value in places:
        for form in _axes(value):
            assert problems(validator, _set(raw, place, form)) == [], (place, form)


def test_a_blend_of_lookbacks_is_swept_only_with_values(validator):
    raw = read(CONFIGS / "smallcap_momentum_eth.yaml")
    name = next(n for n, s in raw["signals"].items() if s["type"] == "momentum")
    where = ("signals", name, "lookback")
    assert problems(validator, _set(raw, where, [21, 63])) == []  # one value: a blend
    assert problems(validator, _set(raw, where, {"values": [[21, 63], [126, 252]]})) == []
    assert problems(validator, _set(raw, where, [[21, 63], [126, 252]]))  # no plain list


def test_the_sweep_section_is_checked(validator):
    raw = read(CONFIGS / "sweeps" / "weights_costs.yaml")
    assert problems(validator, raw) == []
    assert problems(validator, _set(raw, ("sweep", "metrc"), "sharpe"))
    assert problems(validator, _set(raw, ("sweep", "top"), 0))


def test_every_field_has_a_description_an_editor_shows():
    schema = api.schema(plugins=False)
    fields = {
        f"{name}.{key}": prop.get("description")
        for name, model in schema["$defs"].items()
        if not name.startswith("axis.")
        for key, prop in model.get("properties", {}).items()
    }
    assert len(fields) > 100
    assert [field for field, described in fields.items() if not described] == []


def test_each_kind_of_file_is_a_schema_of_its_own(validator):
    assert set(FILE_KINDS) >= {"config", "sweep"}
    plain = jsonschema.Draft202012Validator(api.schema("config", plugins=False))
    sweep = read(CONFIGS / "sweeps" / "breakout_grid.yaml")
    assert problems(plain, read(SEED)) == [] and problems(validator, sweep) == []
    assert problems(plain, sweep)  # axes and `sweep:` are not in a plain config
    result = CliRunner().invoke(main, ["schema", "--kind", "nonsense"])
    assert result.exit_code == 2 and "is not a kind of config file" in result.output


BLEND = CONFIGS / "blends" / "seed_gem.yaml"
INLINE = {
    "name": "spy-only",
    "universe": ["SPY"],
    "regimes": [{"name": "all", "weights": {"SPY": 1.0}}],
}


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda r: _rename(r, ("blend", 0, "weight"), "wieght"), "'wieght'"),
        (lambda r: _set(r, ("blend", 0, "weight"), 1.5), "1.5"),
        (lambda r: _set(r, ("blend", 0, "weight"), 0), "0"),
        (lambda r: {**r, "universe": ["SPY"]}, "'universe' was unexpected"),
        (lambda r: _rename(r, ("execution", "fees_bps"), "fee_bps"), "'fee_bps' was unexpected"),
        (lambda r: _set(r, ("blend",), []), "should be non-empty"),
        (lambda r: _set(r, ("blend", 1), {**INLINE, "weight": 0.5, "univers": []}), "'univers'"),
    ],
    ids=[
        "weight-misspelt",
        "weight-above-1",
        "weight-zero",
        "own-universe",
        "fee_bps",
        "empty",
        "inline-typo",
    ],
)
def test_a_blend_file_is_checked_as_a_blend(validator, change, words):
    raw = read(BLEND)
    assert problems(validator, raw) == []
    found = problems(validator, change(raw))
    assert found and any(words in line for line in found), found


def test_a_blend_takes_inline_members_and_axes_on_weights_and_its_own_costs(validator):
    raw = _set(read(BLEND), ("blend", 1), {**INLINE, "weight": {"values": [0.3, 0.5]}})
    raw = _set(raw, ("blend", 0, "weight"), [0.25, 0.5])
    raw = _set(raw, ("execution", "fees_bps"), {"start": 1, "stop": 5, "step": 2})
    assert problems(validator, raw) == []
    assert problems(validator, _set(raw, ("blend", 1, "signals"), {"x": {"type": "smaa"}}))
