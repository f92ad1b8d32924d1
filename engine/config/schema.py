"""The JSON Schema (draft 2020-12) of a config file, for editors and validators
(`rotation schema`; `schema/rotation.schema.json` is its built-in form).

Generated from the models that validate configs (pydantic's `model_json_schema`), so it
cannot drift from them: the field docstrings become descriptions, the bounds of the
shared number types (strategies/params.py) become minimum/maximum, and the signal and
score entries are the registered kinds' own models, plug-ins included, each chosen by its
`type` (if/then), so an editor completes `type:` and then that kind's keys.

One file holds every kind of config file (engine/config/kinds.py tells them apart):

* ``config``: `Config`, an ordinary config.
* ``sweep``: `SweepConfig`, the same where each sweepable number (the places
  engine/research/grid.py reads: kinds' `sweepable` parameters, regime weights,
  `RANK_AXES`, `SECTION_AXES`) may also be an axis: a list, an inclusive range
  ``{start, stop, step}`` or ``{values: [...]}``; plus the `sweep:` section
  (`SweepOptions`). A plain config is a sweep config without axes, so it is the schema
  a file without a kind of its own is checked against.
* ``blend``: a blend of weighted member configs (SPEC 11), told apart by its `blend:`
  list; its own sections are a sweep config's, each member a file or inline.
* other kinds plug in with one call, `register(FileKind(...))`, naming how to build their
  schema and the JSON condition that tells their files apart.

The schema checks the shape of one file; the rules between fields (signals named in
`when`, weights summing to at most 1, ...) stay with `rotation check`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

DIALECT = "https://json-schema.org/draft/2020-12/schema"
REF = "#/$defs/"
SWEPT = "sweep."  # prefix of the $defs a sweep config uses instead of a config's

AXIS_NOTE = (
    "In a sweep config also an axis: a list [a, b, ...], an inclusive range "
    "{start, stop, step} or {values: [a, b, ...]}."
)
LISTED_NOTE = (
    "In a sweep config also an axis: {values: [v1, v2, ...]}, each item one value (a "
    "number or a list), or an inclusive range {start, stop, step}."
)
COMMON = {
    "type": "The kind of entry (rotation kinds lists every kind and its keys).",
    "series": "What the signal reads: a ticker, a ratio A/B of two tickers, or an external "
    "series of data.series, on its own calendar.",
}
"""Descriptions of the keys every kind's entry has, where its model gives none."""

_RAW_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum"}
_RAW_BOUNDS["lt"] = "exclusiveMaximum"


class _Generator(GenerateJsonSchema):
    """pydantic's generator with the bounds of strategies/params.py's validators and no
    generated property titles (a title "Fees Bps" says less than the key)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def function_after_schema(self, schema: Any) -> dict[str, Any]:
        out = super().function_after_schema(schema)
        bounds = getattr(schema["function"].get("function"), "bounds", None)
        if bounds is not None:
            low, high, below = bounds
            if low is not None:
                out["minimum"] = low
            if high is not None:
                out["exclusiveMaximum" if below else "maximum"] = high
        return out


def _tidy(node: Any) -> Any:
    """`node` with pydantic's leftovers made standard: bounds it could not place (`ge`, `lt`
    beside a validator) as minimum/maximum, and the OpenAPI `discriminator` dropped."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "discriminator":
            continue
        is_bound = key in _RAW_BOUNDS and isinstance(value, (int, float))
        out[_RAW_BOUNDS[key] if is_bound else key] = _tidy(value)
    return out


def model_schema(model: type) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the model's schema, the $defs it refers to), tidied (`_tidy`)."""
    schema = model.model_json_schema(schema_generator=_Generator, ref_template=REF + "{model}")
    defs = schema.pop("$defs", {})
    return _tidy(schema), _tidy(defs)


RANGE = {
    "type": "object",
    "description": "An axis: the inclusive range start, start + step, ..., up to stop.",
    "properties": {
        "start": {"type": "number"},
        "stop": {"type": "number"},
        "step": {"type": "number", "exclusiveMinimum": 0},
    },
    "required": ["start", "stop", "step"],
    "additionalProperties": False,
}
"""The range form of every axis (one $def, `axis.range`)."""


def axis(schema: dict[str, Any], listed: bool = False) -> dict[str, Any]:
    """`schema` of a sweepable number, or an axis of such numbers (`listed`: the parameter
    takes a list as one value, so only `{values: [...]}` and a range are axes)."""
    one = {k: v for k, v in schema.items() if k not in ("description", "default")}
    values = {"type": "array", "items": one, "minItems": 1, "uniqueItems": True}
    forms = [] if listed else [{**values, "description": "An axis of these values."}]
    forms += [
        ref("axis.range"),
        {
            "type": "object",
            "description": "An axis of exactly these values.",
            "properties": {"values": values},
            "required": ["values"],
            "additionalProperties": False,
        },
    ]
    note = LISTED_NOTE if listed else AXIS_NOTE
    out = {"description": " ".join(filter(None, [schema.get("description"), note]))}
    out["anyOf"] = [one, *forms]
    return out | ({"default": schema["default"]} if "default" in schema else {})


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _rewrite(defs: dict, node: dict, path: tuple[str, ...], leaf: Callable) -> dict:
    """A copy of schema `node` with `leaf(schema)` put at `path` (property names, "*" for a
    mapping's values, "[]" for a list's items). A $ref on the way is followed into a copy
    of its model named `sweep.<name>` (made once, edited in place after), so the models a
    config shares with other places (a rebalance rule in `benchmark`) stay as they are."""
    if not path:
        return leaf(node)
    if "$ref" in node:
        name = node["$ref"].removeprefix(REF)
        copied = name if name.startswith(SWEPT) else SWEPT + name
        defs.setdefault(copied, copy.deepcopy(defs[name]))
        defs[copied] = _rewrite(defs, defs[copied], path, leaf)
        return {**node, "$ref": REF + copied}
    out = dict(node)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in out:
            out[key] = [_rewrite(defs, branch, path, leaf) for branch in out[key]]
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _rewrite(defs, out["additionalProperties"], rest, leaf)
    elif head == "[]" and isinstance(out.get("items"), dict):
        out["items"] = _rewrite(defs, out["items"], rest, leaf)
    elif head in out.get("properties", {}):
        properties = out["properties"]
        out["properties"] = {**properties, head: _rewrite(defs, properties[head], rest, leaf)}
    return out


def _registered(registry: Any, plugins: bool) -> dict[str, Any]:
    """The kinds of a registry by name (sorted), without the plug-ins unless `plugins`."""
    return {n: registry[n] for n in sorted(registry) if plugins or registry.origin(n) is None}


class Builder:
    """The schemas of the kinds of config file, built into one set of $defs.

    Attributes:
        defs: name -> schema of every model built so far (`document` keeps those used).
        kinds: {"signals": {type: kind}, "scores": {...}}: the kinds whose entries are
            accepted (the built-in ones, and the installed plug-ins unless left out).
    """

    def __init__(self, plugins: bool = True) -> None:
        from strategies.scores import SCORE_KINDS
        from strategies.signals import SIGNAL_KINDS

        self.defs: dict[str, Any] = {}
        self.kinds = {
            "signals": _registered(SIGNAL_KINDS, plugins),
            "scores": _registered(SCORE_KINDS, plugins),
        }

    def model(self, model: type, name: str | None = None) -> dict[str, str]:
        """A $ref to `model`'s schema, added to `defs` with the models it refers to."""
        schema, defs = model_schema(model)
        name = name or schema.get("title", model.__name__)
        for key, value in defs.items():
            self.defs.setdefault(key, value)
        self.defs.setdefault(name, schema)
        return ref(name)

    def swept(self, node: dict, edits: Iterable[tuple[tuple[str, ...], Callable]]) -> dict:
        """`node` with each (path, leaf) edit applied (`_rewrite`), models copied on the
        way: how a section becomes its sweep form."""
        for path, leaf in edits:
            node = _rewrite(self.defs, node, path, leaf)
        return node

    def union(self, group: str, prefix: str = "") -> dict[str, Any]:
        """An entry of `group` (signals, scores, filters): `type` picks the kind's model."""
        names = list(self.kinds["scores" if group == "scores" else "signals"])
        return {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": names, "description": COMMON["type"]}},
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                    "then": ref(f"{prefix}{group}.{name}"),
                }
                for name in names
            ],
        }

    def _kind_models(self) -> None:
        """`<group>.<type>` and `sweep.<group>.<type>` for every kind, and a signal kind's
        `filters.<type>` (its entry without `series`, as a ranked allocation's filter)."""
        from engine.research.grid import listed

        for group, kinds in self.kinds.items():
            for name, kind in kinds.items():
                schema, defs = model_schema(kind.model)
                self.defs.update(defs)
                for key, prop in schema["properties"].items():
                    if key in COMMON and "description" not in prop:
                        prop["description"] = COMMON[key]
                swept = copy.deepcopy(schema)
                for key in kind.sweepable:
                    swept["properties"][key] = axis(schema["properties"][key], listed(kind, key))
                self.defs[f"{group}.{name}"] = schema
                self.defs[f"{SWEPT}{group}.{name}"] = swept
                if group == "signals":
                    self.defs[f"filters.{name}"] = _without_series(schema)
                    self.defs[f"{SWEPT}filters.{name}"] = _without_series(swept)

    def _filter(self, node: dict, prefix: str) -> dict[str, Any]:
        keep = {k: v for k, v in node.items() if k in ("description", "default")}
        return {**keep, "anyOf": [self.union("filters", prefix), {"type": "null"}]}

    def config(self) -> dict[str, str]:
        """An ordinary config (`engine.config.Config`)."""
        if "Config" not in self.defs:
            from engine.config import Config

            self.model(Config)
            self._kind_models()
            self.defs["Config"] = self.swept(
                self.defs["Config"],
                [
                    (("signals", "*"), lambda _: self.union("signals")),
                    (("scores", "*"), lambda _: self.union("scores")),
                ],
            )
            rank = self.defs["RankConfig"]["properties"]
            rank["filter"] = self._filter(rank["filter"], "")
        return ref("Config")

    def sweep(self) -> dict[str, str]:
        """A sweep config: a config whose sweepable numbers may be axes, and `sweep:`."""
        if "SweepConfig" not in self.defs:
            from engine.research.grid import RANK_AXES, SECTION_AXES
            from engine.research.sweep_config import SweepOptions

            self.config()
            self.defs["axis.range"] = RANGE
            root = copy.deepcopy(self.defs["Config"])
            root["title"] = "SweepConfig"
            root["description"] = (
                "A config in which numbers may be sweep axes (rotation sweep); the grid is "
                "the Cartesian product of the axes."
            )
            options = self.model(SweepOptions)
            root["properties"]["sweep"] = {
                **options,
                "description": "Sweep options: the ranking metric, how many rows the tables "
                "show, the heatmap's axes, the scenario axes.",
            }
            rank = ("regimes", "[]", "rank")
            self.defs["SweepConfig"] = self.swept(
                root,
                [
                    (("signals", "*"), lambda _: self.union("signals", SWEPT)),
                    (("scores", "*"), lambda _: self.union("scores", SWEPT)),
                    (("regimes", "[]", "weights", "*"), axis),
                    *(((*rank, key), axis) for key in RANK_AXES),
                    ((*rank, "filter"), lambda node: self._filter(node, SWEPT)),
                    *((path, axis) for path in SECTION_AXES),
                ],
            )
        return ref("SweepConfig")


def _without_series(schema: dict) -> dict:
    out = copy.deepcopy(schema)
    out["properties"].pop("series", None)
    out["required"] = [key for key in out.get("required", []) if key != "series"]
    out["description"] = (
        out.get("description", "") + " As a filter: on each ranked asset."
    ).strip()
    return out


@dataclass(frozen=True)
class FileKind:
    """A kind of config file (engine/config/kinds.py) in the schema.

    Attributes:
        name: the kind's name (`rotation schema --kind NAME`).
        what: the kind in a few words, for the schema's description.
        build: returns the kind's schema (a $ref into the builder's `defs`).
        when: a JSON-schema condition that holds for a file of this kind and no other, or
            None for kinds told apart otherwise (a sweep config by its axes).
    """

    name: str
    what: str
    build: Callable[[Builder], dict]
    when: dict[str, Any] | None = None


FILE_KINDS: dict[str, FileKind] = {}
"""The kinds of config file the schema knows, by name."""

DEFAULT_KIND = "sweep"
"""The kind a file matches when no kind's `when` holds: a plain config is a sweep config
without axes."""


def register(kind: FileKind) -> None:
    """Add a kind of config file to the schema (a later one of the same name replaces it)."""
    FILE_KINDS[kind.name] = kind


register(FileKind("config", "an ordinary config (rotation run)", Builder.config))
register(
    FileKind("sweep", "a sweep config, whose numbers may be axes (rotation sweep)", Builder.sweep)
)


def _blend(builder: Builder) -> dict[str, str]:
    """A blend file (engine/config/blend_members.py): its own sections as a sweep config's
    (so blend sweeps validate too), each `blend:` entry a member file with its weight or an
    inline member (a sweep config's keys without `sweep:`, and its weight)."""
    if "Blend" not in builder.defs:
        from engine.config.blend_members import BlendEntry

        swept = builder.defs[builder.sweep()["$ref"].removeprefix(REF)]
        entry, _ = model_schema(BlendEntry)
        weight = axis({**entry["properties"]["weight"], "description": BLEND_WEIGHT})
        member = copy.deepcopy(swept)
        member["properties"].pop("sweep")
        member["properties"]["weight"] = weight
        member["required"] = ["name", "universe", "regimes", "weight"]
        member["title"] = "blend.member"
        member["description"] = (
            "An inline member: a config's own keys (the blend sets data, costs, cash, "
            "benchmark and stats for all) and its weight."
        )
        builder.defs["blend.member"] = member
        from_file = {
            "type": "object",
            "description": "A member config file and its weight.",
            "properties": {
                "config": {"type": "string", "description": BLEND_FILE},
                "weight": weight,
            },
            "required": ["config", "weight"],
            "additionalProperties": False,
        }
        shared = ("name", "description", "data", "execution", "portfolio", "benchmark")
        properties = {key: swept["properties"][key] for key in (*shared, "stats", "sweep")}
        properties["blend"] = {
            "type": "array",
            "minItems": 1,
            "description": "The members: weights above 0 summing to at most 1 (the rest is "
            "cash); their targets are summed and traded as one portfolio.",
            "items": {"anyOf": [from_file, ref("blend.member")]},
        }
        builder.defs["Blend"] = {
            "title": "Blend",
            "description": "A portfolio of weighted member configs (SPEC 11 blends), or its "
            "sweep; it has no universe, signals, scores or regimes of its own.",
            "type": "object",
            "properties": properties,
            "required": ["name", "data", "blend"],
            "additionalProperties": False,
        }
    return ref("Blend")


BLEND_WEIGHT = "W_j, the member's share of the blend (0 < W_j <= 1)."
BLEND_FILE = "The member's config file, relative to the blend file (a plain config)."

register(
    FileKind(
        "blend",
        "a blend of weighted member configs, or its sweep (rotation run, rotation sweep)",
        _blend,
        when={"required": ["blend"]},
    )
)


def document(kind: str | None = None, plugins: bool = True) -> dict[str, Any]:
    """The schema of a kind of config file, or (None) of any config file: each kind with a
    `when` is tried in turn (if/then/else), else `DEFAULT_KIND`. `plugins`: accept the
    installed plug-in kinds' entries too (False: built-in kinds only, as in
    schema/rotation.schema.json)."""
    builder = Builder(plugins)
    if kind is not None:
        body = FILE_KINDS[kind].build(builder)
    else:
        body = FILE_KINDS[DEFAULT_KIND].build(builder)
        for other in reversed([k for k in FILE_KINDS.values() if k.when is not None]):
            body = {"if": other.when, "then": other.build(builder), "else": body}
    kinds = [FILE_KINDS[kind]] if kind is not None else list(FILE_KINDS.values())
    head = {"$schema": DIALECT, "title": f"rotation {kind or 'config file'}"}
    head["description"] = (
        "A rotation config file: " + "; or ".join(k.what for k in kinds) + ". Generated "
        "from the models that validate configs (rotation schema); the rules between "
        "fields are checked by rotation check."
    )
    return {**head, **body, "$defs": _used(builder.defs, body)}


def _used(defs: dict[str, Any], root: Any) -> dict[str, Any]:
    """The $defs reachable from `root`, sorted by name."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            target = node.get("$ref", "")
            if target.startswith(REF) and target[len(REF) :] not in seen:
                seen.add(target[len(REF) :])
                todo.append(defs[target[len(REF) :]])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return {name: defs[name] for name in sorted(seen)}


def text(kind: str | None = None, plugins: bool = True) -> str:
    """`document` as JSON text (2-space indents, a final newline), as `rotation schema`
    prints it and schema/rotation.schema.json holds it."""
    return json.dumps(document(kind, plugins), indent=2, ensure_ascii=False) + "\n"
