"""Reading and checking a blend file (engine/config/blend.py): its own keys, each member
(a file relative to the blend, or inline), what the blend overrides in each.

1. `inline_members`: every `config: FILE` member is read (strictly, as `rotation run`
   reads a config) and put inline in its entry; a missing or unreadable file, a member
   that is itself a blend or is split into tranches, is a problem naming the entry and
   its line in the blend file.
2. `blend_from_dict`: the blend's own keys against `BlendFile` (every problem at once,
   engine/config/repair.py), then each member as it runs in the blend (its own keys,
   the blend's data, costs, cash, benchmark and stats: `effective_raw`) against the
   plain config's schema and rules, its problems prefixed `blend[j]`.
3. engine/config/blend_notes.py: the keys a member sets that the blend replaces, said
   once per member (a warning of each run, and a line of `rotation check`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from engine.config import (
    BenchmarkSpec,
    DataConfig,
    ExecutionConfig,
    PortfolioConfig,
    StatsConfig,
    _check_dates,
    _check_source,
    _Model,
    check_config,
    read_yaml,
    with_overrides,
)
from engine.config.blend import (
    BLEND_EXECUTION,
    Blend,
    Member,
    carrier_fields,
    member_keys,
)
from engine.config.blend_notes import SHARED, overrides
from engine.config.repair import validate
from engine.config.types import Number
from engine.errors import ConfigError

_TOLERANCE = 1e-9  # weight sums are compared with this slack (0.1 + 0.2 ...)
OWN_SECTIONS = ("universe", "signals", "scores", "regimes")


class BlendEntry(_Model):
    """One entry of `blend:` as the schema sees it (inline member keys are read apart)."""

    config: str | None = None
    weight: Number = Field(gt=0.0, le=1.0)


class BlendFile(_Model):
    """A blend's own keys (docs/semantics.md "Blends")."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    data: DataConfig
    blend: list[BlendEntry] = Field(min_length=1)
    execution: ExecutionConfig = ExecutionConfig()
    portfolio: PortfolioConfig = PortfolioConfig()
    benchmark_spec: BenchmarkSpec = Field(default_factory=lambda: {"SPY": 1.0}, alias="benchmark")
    stats: StatsConfig = StatsConfig()


def _check_weights(blend: BlendFile) -> list[str]:
    total = sum(entry.weight for entry in blend.blend)
    if total > 1 + _TOLERANCE:
        shown = " + ".join(f"{e.weight:g}" for e in blend.blend)
        return [f"blend: the weights sum to {total:g} ({shown}), more than 1 (no leverage)"]
    return []


def _check_execution(blend: BlendFile) -> list[str]:
    given = [
        k for k in ("decide", "decide_day", "tranches") if k in blend.execution.model_fields_set
    ]
    return [
        f"execution.{key}: a blend decides through its members (each keeps its own decide "
        "and decide_day); remove it here"
        for key in given
    ]


def _check_benchmark(blend: BlendFile) -> list[str]:
    spec = blend.benchmark_spec
    weights = spec if isinstance(spec, dict) else spec.weights
    if not weights:
        return ["benchmark: needs at least one ticker, e.g. {SPY: 1.0}"]
    if sum(weights.values()) > 1 + _TOLERANCE:
        return [f"benchmark: weights sum to {sum(weights.values()):g}, more than 1"]
    return []


BLEND_RULES = (_check_weights, _check_execution, _check_benchmark, _check_dates, _check_source)


def entry_lines(path: Path) -> list[int]:
    """Line (1-based) of each entry of the blend file's `blend:` list ([] if unreadable)."""
    import yaml

    from engine.config import strict_yaml

    try:
        root = yaml.compose(strict_yaml.read_text(path), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError, strict_yaml.FileRefused, UnicodeDecodeError):
        return []
    for key, value in getattr(root, "value", []) if isinstance(root, yaml.MappingNode) else []:
        if key.value == "blend" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _read_member(entry: dict, j: int, base: Path, line: str) -> tuple[dict | None, str | None]:
    """(the member file's content made inline, None) or (None, the problem)."""
    written = entry["config"]
    path = Path(written) if Path(written).is_absolute() else base / written
    where = f"blend[{j}].config{line}: {written!r}"
    if not path.exists():
        return None, f"{where}: no such config file (looked for {path})"
    try:
        raw = read_yaml(path)
    except ConfigError as exc:
        return None, f"{where}: {exc.message.removeprefix(f'{path}: ')}"
    if "blend" in raw:
        return None, f"{where}: is itself a blend; a member must be a plain config"
    execution = raw.get("execution")
    if isinstance(execution, dict) and execution.get("tranches") is not None:
        return None, (
            f"{where}: has execution.tranches; a member is one strategy (a blend cannot "
            "hold tranches of a member: list the member once per decide_day instead)"
        )
    others = sorted(set(entry) - {"config", "weight"}, key=str)
    if others:
        return None, (
            f"blend[{j}]{line}: has `config` and member keys ({', '.join(map(str, others))}); "
            "give a member as a file or inline, not both"
        )
    member = with_overrides(raw, path)  # its data.dir and series files, for `overrides`
    return {**member, **({"weight": entry["weight"]} if "weight" in entry else {})}, None


def inline_members(raw: dict, base: Path, path: Path | None = None) -> tuple[dict, list, list]:
    """`raw` with each file member read into its entry: (raw, labels, problems): the
    label of each entry is its file as written, `inline`, or None when its file could not
    be read. `base`: the folder member files are relative to; `path`: the blend file (for
    line numbers)."""
    entries = raw.get("blend")
    if not isinstance(entries, list):
        return raw, [], []
    lines = entry_lines(path) if path is not None else []
    out, labels, problems = [], [], []
    for j, entry in enumerate(entries):
        line = f" (line {lines[j]})" if j < len(lines) else ""
        if isinstance(entry, dict) and isinstance(entry.get("config"), str):
            member, problem = _read_member(entry, j, base, line)
            if problem is not None:  # said once: the member is not checked further
                problems.append(problem)
                member = {k: v for k, v in entry.items() if k == "weight"}
            out.append(member)
            labels.append(entry["config"] if problem is None else None)
            continue
        if isinstance(entry, dict):
            if "blend" in entry:
                problems.append(f"blend[{j}]{line}: a member that is itself a blend")
            entry = with_overrides(entry, path if path is not None else base / "blend")
        out.append(entry)
        labels.append("inline")
    return {**raw, "blend": out}, labels, problems


def _schema_raw(raw: dict) -> dict:
    """`raw` as BlendFile reads it: entries reduced to `config` and `weight`, a member key
    at the top level removed (reported by `_own_sections`)."""
    out = {k: v for k, v in raw.items() if k not in OWN_SECTIONS}
    entries = raw.get("blend")
    if isinstance(entries, list):
        out["blend"] = [
            {k: v for k, v in e.items() if k in ("config", "weight")} if isinstance(e, dict) else e
            for e in entries
        ]
    return out


def _own_sections(raw: dict) -> list[str]:
    return [
        f"{key}: a blend has no {key} of its own (each member brings its own universe, "
        "signals, scores and regimes); remove it"
        for key in OWN_SECTIONS
        if key in raw
    ]


def effective_raw(member: dict, blend: BlendFile) -> dict:
    """The member as it runs in the blend: its own keys, the blend's shared sections, its
    own decide, decide_day and target_vol."""
    shared = blend.model_dump(mode="json", by_alias=True, exclude={"blend"})
    own = {k: v for k, v in member.items() if k not in (*SHARED, "weight")}
    execution = member.get("execution") if isinstance(member.get("execution"), dict) else {}
    portfolio = member.get("portfolio") if isinstance(member.get("portfolio"), dict) else {}
    mine = {k: v for k, v in execution.items() if k not in BLEND_EXECUTION}
    costs = {k: v for k, v in shared["execution"].items() if k in BLEND_EXECUTION}
    money = {k: v for k, v in shared["portfolio"].items() if k != "target_vol"}
    target = {k: v for k, v in portfolio.items() if k not in ("initial_cash", "cash_yield")}
    return {
        **own,
        "data": shared["data"],
        "execution": {**costs, **mine},
        "portfolio": {**money, **target},
        "benchmark": shared["benchmark"],
        "stats": shared["stats"],
    }


def blend_from_dict(
    raw: dict, origin: str, base: Path | None = None, path: Path | None = None
) -> Blend:
    """A validated `Blend` from a parsed blend file (`with_overrides` applied first).

    Args:
        base: the folder its member files are relative to (default the working folder).
        path: the blend file, for the line of a member's problem.

    Raises:
        ConfigError: every problem at once, the blend's and its members'.
    """
    raw, labels, problems = inline_members(raw, base or Path("."), path)
    blend, found = check_blend(raw, labels)
    problems += found
    if problems or blend is None:
        raise ConfigError.listing(origin, problems)
    return blend


def check_blend(raw: dict, labels: list[str] | None = None) -> tuple[Blend | None, list[str]]:
    """(the Blend, []) when `raw` (its members inline; `labels`: where each came from) is
    valid, else (None, every problem): the blend's own keys', then each member's."""
    problems = _own_sections(raw)
    model, found = validate(_schema_raw(raw), BlendFile, BLEND_RULES)
    problems += found
    members = []
    if model is not None:
        labels = labels or ["inline"] * len(raw["blend"])
        for j, (entry, label) in enumerate(zip(raw["blend"], labels, strict=True)):
            if label is None:  # its file could not be read (a problem already)
                continue
            config, lines = _member(entry, j, label, model)
            problems += lines
            if config is not None:
                members.append((label, model.blend[j].weight, config, entry))
    if problems or model is None or None in labels:  # None: a member file unread
        return None, problems
    return _built(model, members), []


def _member(entry: dict, j: int, label: str, model: BlendFile):
    """(the member's effective Config or None, its problems prefixed `blend[j]`)."""
    from engine.config.kinds import config_kind

    where = f"blend[{j}]" + (f" ({label})" if label != "inline" else "")
    kind = config_kind({k: v for k, v in entry.items() if k != "weight"})
    if kind == "sweep":
        from engine.research.grid import swept

        named = swept(entry)
        return None, [
            f"{where}: {named[0] if named else 'a parameter'} is swept (a list or range); "
            "give each parameter one value, or run the blend with `rotation sweep`"
        ]
    execution = entry.get("execution")
    if isinstance(execution, dict) and execution.get("tranches") is not None:
        return None, [f"{where}: execution.tranches: a member cannot be split into tranches"]
    config, found = check_config(effective_raw(entry, model))
    return config, [f"{where}: {p}" for p in found]


def _built(model: BlendFile, members: list) -> Blend:
    """The Blend of a valid blend file and its members (label, weight, config, raw)."""
    made, taken = [], set()
    notes = []
    for j, (label, weight, config, raw) in enumerate(members):
        name, k = config.name, 2
        while name in taken:
            name, k = f"{config.name}-{k}", k + 1
        taken.add(name)
        made.append(Member(name=name, label=label, weight=weight, config=config))
        said = overrides(raw, config)
        if said:
            where = f"blend[{j}]" + (f" ({label})" if label != "inline" else f" {name}")
            notes.append(f"{where}: the blend's own keys apply, not the member's: {said}")
    shared = model.model_dump(by_alias=True, exclude={"blend"})
    execution = model.execution.model_copy(update={"decide": "daily", "decide_day": None})
    return Blend.model_validate(
        {
            **shared,
            "execution": execution,
            "data": model.data,
            "portfolio": model.portfolio,
            "benchmark": model.benchmark_spec,
            "stats": model.stats,
            **carrier_fields(made),
            "members": tuple(made),
            "notes": tuple(notes),
        }
    )


__all__ = ["blend_from_dict", "check_blend", "inline_members", "member_keys"]
