"""The docs: the generated reference pages and schema are current (docs/reference.py), the
site builds with `mkdocs build --strict` (every page in the nav, every link and anchor
between pages resolved, the figure markers invisible), every relative link of the README
and the docs resolves to a file and heading, the README stays a landing page of at most
250 lines, and docs/figures.py reads every markdown page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, docs_module

DOCS = REPO / "docs"
README = REPO / "README.md"
PAGES = sorted(DOCS.rglob("*.md"))
MAX_README_LINES = 250


reference = docs_module("reference")


@pytest.mark.parametrize("path", list(reference.pages()), ids=lambda p: p.name)
def test_each_generated_file_is_what_the_code_gives_today(path):
    assert path.read_text(encoding="utf-8") == reference.pages()[path], (
        f"{path.relative_to(REPO)} is stale: run `python docs/reference.py`"
    )


def test_the_config_reference_lists_every_key_of_every_model_and_kind():
    page = reference.CONFIG_PAGE.read_text(encoding="utf-8")
    from engine.config import Config
    from strategies.scores import SCORE_KINDS
    from strategies.signals import SIGNAL_KINDS

    for key in Config.model_fields:
        assert f"| `{Config.model_fields[key].alias or key}` |" in page
    for registry in (SIGNAL_KINDS, SCORE_KINDS):
        for name in (n for n in registry if registry.origin(n) is None):
            assert f"### `{name}`" in page
            for field in registry[name].model.model_fields:
                assert f"| `{field}` |" in page
    assert page.count("| axis |") >= 25  # the sweepable numbers are marked


def test_the_cli_page_holds_every_commands_help():
    page = reference.CLI_PAGE.read_text(encoding="utf-8")
    flat = " ".join(page.split())
    from engine.cli import main

    for words, command in reference._commands(main):
        assert f"$ {' '.join(('rotation', *words))} --help" in page
        assert " ".join((command.help or "").split("\n\n")[0].split()) in flat, words


def test_the_site_builds_strict_with_every_page_in_the_nav(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    listed = set(re.findall(r"[\w/.-]+\.md", str(nav)))
    assert listed == {str(p.relative_to(DOCS)) for p in PAGES}
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "&lt;!--" not in html, f"{page}: a marker shows as text"
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert all(f'id="engine.api.{name}"' in api for name in ("run", "sweep", "schema"))


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub and mkdocs' toc make it (lower case, punctuation
    dropped, spaces as hyphens)."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_to_a_file_and_heading(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for match in LINK.finditer(text):
        target = match[1] or match[2]
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no such heading")
    assert broken == []


def test_the_readme_is_a_landing_page_of_at_most_250_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES


def test_figures_reads_every_markdown_page():
    figures = docs_module("figures")
    assert set(figures.FILES) == {README, *PAGES}
