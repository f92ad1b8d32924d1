"""The machinery of docs/figures.py: marked regions of markdown files, the commands that
fill them (run in process, cached), and the check that text and output agree.

Three kinds of marker (HTML comments, invisible once rendered):

    <!-- figure: NAME -->          a block: every line up to the closing marker is
    ...                            replaced by what the registry renders (a terminal
    <!-- /figure -->               transcript, a markdown table, ...)
    <!-- value: NAME -->0.829<!-- /value -->     an inline value in a sentence
    <!-- claim: NAME -->...<!-- /claim -->       prose whose conclusion the registry tests:
                                                 never rewritten, reported when false

Markers are found anywhere, code spans included: write about them without their full
syntax. Commands run through click's test runner in a scratch folder laid out like a
checkout (`configs/` and `../shared/data` are links to the real ones), with `COLUMNS=80`
so rich tables render the same everywhere; folders they write stay in the scratch
folder, so the paths they print are relative (`runs/...`).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

KINDS = ("figure", "value", "claim")
MARKERS = {  # a value may sit inside a claim or a figure's kept text: one pattern per kind
    kind: re.compile(rf"<!-- {kind}: (?P<name>[\w.-]+) -->(?P<body>.*?)<!-- /{kind} -->", re.S)
    for kind in KINDS
}
WIDTH = 80  # terminal columns the commands see
WRITES = ("run", "compare", "sweep", "timing")  # commands that write a folder (--out if none)


class FigureError(Exception):
    """A marker, a registry entry or a command that cannot produce its figure."""


@dataclass(frozen=True)
class Region:
    """One marked region of a file: its kind, name, body and where the body lies."""

    path: Path
    kind: str
    name: str
    body: str
    start: int  # offset of the body in the file's text
    end: int
    line: int  # of the opening marker

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line} {self.kind} {self.name}"


def regions(path: Path, text: str | None = None) -> list[Region]:
    """The marked regions of a markdown file, in order. Block figures open and close on
    lines of their own; an unclosed or misplaced marker is an error naming the line."""
    text = path.read_text(encoding="utf-8") if text is None else text
    found = []
    for kind, pattern in MARKERS.items():
        for match in pattern.finditer(text):
            body, line = match["body"], text.count("\n", 0, match.start()) + 1
            if f"<!-- {kind}: " in body:
                raise FigureError(f"{path}:{line}: {kind} {match['name']}: not closed")
            if kind == "figure" and not (body.startswith("\n") and body.endswith("\n")):
                raise FigureError(f"{path}:{line}: figure {match['name']}: markers on own lines")
            span = match.start("body"), match.end("body")
            found.append(Region(path, kind, match["name"], body, *span, line))
    opened = len(re.findall(r"<!-- (?:figure|value|claim): ", text))
    if opened != len(found):
        raise FigureError(f"{path}: {opened - len(found)} marker(s) without their closing one")
    return sorted(found, key=lambda region: region.start)


TODAY = "2026-08-24"  # the session after the last shared equity price (2026-08-21)


class Runner:
    """Runs `rotation` commands and Python snippets in a scratch checkout, once each."""

    def __init__(self, repo: Path, data_dir: Path):
        self.root = Path(tempfile.mkdtemp(prefix="figures-"))
        self.work = self.root / "work"
        self.work.mkdir()
        (self.work / "configs").symlink_to(Path(repo, "configs").resolve())
        (self.root / "shared").mkdir()
        (self.root / "shared" / "data").symlink_to(Path(data_dir).resolve())
        self.cache: dict[object, object] = {}
        self.env = {
            "COLUMNS": str(WIDTH),
            "LINES": "50",
            "FORCE_COLOR": None,
            "ROTATION_CACHE_DIR": str(self.root / "cache"),
            # `rotation signal` measures staleness against today's date: the figures are
            # as of TODAY, the first session after the shared prices end, not the clock's.
            "ROTATION_TODAY": TODAY,
        }

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """The scratch checkout as the working directory, with the runner's environment."""
        before, saved = Path.cwd(), {k: os.environ.get(k) for k in self.env}
        os.chdir(self.work)
        for key, value in self.env.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        try:
            yield
        finally:
            os.chdir(before)
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)

    def cli(self, *argv: str) -> str:
        """The stdout of `rotation ARGV` (exit code 0 required). Commands that write a
        folder get `--out runs/figure-N` unless the arguments name one."""
        return self._invoke(argv)[0]

    def folder(self, *argv: str) -> Path:
        """The folder `rotation ARGV` wrote (run first if needed)."""
        return self._invoke(argv)[1]

    def json(self, *argv: str) -> dict:
        """`rotation ARGV --json`, parsed."""
        return json.loads(self.cli(*argv, "--json"))

    def _invoke(self, argv: tuple[str, ...]) -> tuple[str, Path]:
        key = ("cli", argv)
        if key not in self.cache:
            from click.testing import CliRunner

            from engine.cli import main

            args = list(argv)
            if args[0] in WRITES and "--out" not in args:
                args += ["--out", f"runs/figure-{len(self.cache)}"]
            with self.inside():
                result = CliRunner().invoke(main, args, env=self.env)
            if result.exit_code != 0:
                command = " ".join(argv)
                why = result.output or repr(result.exception)
                raise FigureError(f"rotation {command}: exit {result.exit_code}\n{why}")
            out = args[args.index("--out") + 1] if "--out" in args else "."
            self.cache[key] = (result.stdout, self.work / out)
        return self.cache[key]

    def call(self, key: str, function: Callable[[], object]) -> object:
        """function() in the scratch checkout, once per key (for engine.api snippets)."""
        if ("call", key) not in self.cache:
            with self.inside():
                self.cache[("call", key)] = function()
        return self.cache[("call", key)]

    def python(self, code: str) -> str:
        """What a Python snippet prints, run in the scratch checkout."""

        def run() -> str:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, "<snippet>", "exec"), {"__name__": "__snippet__"})
            return out.getvalue()

        return self.call(code, run)


@dataclass(frozen=True)
class Context:
    """What a registry entry sees: the runner, the region's current body and the file's
    text before it (a figure may show the output of the snippet just above it)."""

    runner: Runner
    body: str
    before: str


@dataclass(frozen=True)
class Entry:
    """A registry entry: `render` gives a figure's or value's new body; for a claim it
    gives None when the claim holds, else why it does not."""

    kind: str
    render: Callable[[Context], str | None]


def evaluate(files: list[Path], registry: dict[str, Entry], runner: Runner):
    """(new texts by file, differences, false claims): each region rendered again. A
    difference is (region, old body, new body); a false claim is (region, reason)."""
    check_names(files, registry)
    texts, differences, false = {}, [], []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for kind in ("figure", "value"):  # values may sit inside a figure's kept cells
            out, last = [], 0
            for region in (r for r in regions(path, text) if r.kind == kind):
                entry = registry[region.name]
                new = entry.render(Context(runner, region.body, text[: region.start]))
                if new != region.body:
                    differences.append((region, region.body, new))
                out += [text[last : region.start], new]
                last = region.end
            text = "".join([*out, text[last:]])
        for region in (r for r in regions(path, text) if r.kind == "claim"):
            why = registry[region.name].render(Context(runner, region.body, text[: region.start]))
            if why is not None:
                false.append((region, why))
        texts[path] = text
    return texts, differences, false


def check_names(files: list[Path], registry: dict[str, Entry]) -> None:
    """Every marker has a registry entry of its kind, and every entry a marker.

    Raises:
        FigureError: naming the markers and entries that do not pair up.
    """
    marked = {(r.kind, r.name) for path in files for r in regions(path)}
    entries = {(entry.kind, name) for name, entry in registry.items()}
    problems = [f"{k} {n}: no registry entry of that kind" for k, n in sorted(marked - entries)]
    problems += [f"{k} {n}: in the registry, marked nowhere" for k, n in sorted(entries - marked)]
    if problems:
        raise FigureError("; ".join(problems))


def short_diff(old: str, new: str, lines: int = 12) -> str:
    """A unified diff of a region's body, cut to `lines` lines."""
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), "text", "output", n=1)
    diff = [line.rstrip("\n") for line in diff]
    cut = diff[2 : 2 + lines]
    return "\n".join(cut + (["..."] if len(diff) > 2 + lines else []))


# ---------------------------------------------------------------- entries and formats


def pct(x: float, digits: int = 2) -> str:
    return f"{x * 100:.{digits}f}%"


def num(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def count(x: float) -> str:
    return f"{int(x):,}"


def value(get: Callable[[Runner], str]) -> Entry:
    return Entry("value", lambda ctx: get(ctx.runner))


def claim(test: Callable[[Runner], str | None]) -> Entry:
    return Entry("claim", lambda ctx: test(ctx.runner))


def terminal(*argv: str, elide: tuple[str, str] | None = None) -> Entry:
    """A transcript: `$ rotation ARGV` and what it prints (trailing blanks dropped).
    `elide` = (first, next): the lines from the first one starting with `first` up to the
    next one starting with `next` are shown as `...` (a timing, which is no figure)."""

    def render(ctx: Context) -> str:
        lines = [line.rstrip() for line in ctx.runner.cli(*argv).splitlines()]
        if elide is not None:
            start = next(i for i, line in enumerate(lines) if line.startswith(elide[0]))
            stop = next(i for i in range(start, len(lines)) if lines[i].startswith(elide[1]))
            lines[start:stop] = ["..."]
        return "\n```text\n$ rotation " + " ".join(argv) + "\n" + "\n".join(lines) + "\n```\n"

    return Entry("figure", render)


def snippet_output() -> Entry:
    """What the last ```python block before the region prints, as a ```text block."""

    def render(ctx: Context) -> str:
        blocks = re.findall(r"```python\n(.*?)```", ctx.before, re.S)
        if not blocks:
            raise FigureError("snippet_output: no ```python block above the region")
        lines = [line.rstrip() for line in ctx.runner.python(blocks[-1]).splitlines()]
        return "\n```text\n" + "\n".join(lines) + "\n```\n"

    return Entry("figure", render)


def table(columns: dict[str, Callable[[Runner, str], str]]) -> Entry:
    """Fill a markdown table: each row's key is the first `code` of its first cell; the
    columns named here get `columns[header](runner, key)`, the others keep their text."""

    def render(ctx: Context) -> str:
        lines = ctx.body.strip("\n").splitlines()
        header = _cells(lines[0])
        missing = set(columns) - set(header)
        if missing:
            raise FigureError(f"table: no column {sorted(missing)} in {header}")
        rows = lines[:2]
        for line in lines[2:]:
            cells = _cells(line)
            if len(cells) != len(header):
                raise FigureError(f"table: {len(cells)} cells, {len(header)} headers: {line}")
            key = re.search(r"`([^`]+)`", cells[0])
            if key is None:
                raise FigureError(f"table: the first cell names no `key`: {line}")
            filled = [
                columns[h](ctx.runner, key[1]) if h in columns else c
                for h, c in zip(header, cells, strict=True)
            ]
            rows.append("| " + " | ".join(filled) + " |")
        return "\n" + "\n".join(rows) + "\n"

    return Entry("figure", render)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def at(data, path: str):
    """data["a"]["b"][0]... for the path "a.b.0"."""
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data
