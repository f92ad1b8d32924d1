"""The figures of README.md and docs/*.md equal what the commands print today
(docs/figures.py): each marked region is rendered again and compared, each claim about
the numbers is tested; and the machinery itself (markers, --check, rewrite) on a small
document with a registry of its own.

All regions share one runner, so each command runs once per session.
"""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO, docs_module

DOCS = REPO / "docs"


figures = docs_module("figures")
regions = sys.modules["regions"]  # docs/figures.py imports it from docs/
MARKED = [r for path in figures.FILES for r in regions.regions(path)]
SHOWN = [r for r in MARKED if r.kind != "claim"]
CLAIMS = [r for r in MARKED if r.kind == "claim"]


def _id(region) -> str:
    return f"{region.path.name}:{region.line}:{region.name}"


@pytest.fixture(scope="module")
def evaluated(shared_data):
    runner = regions.Runner(REPO, shared_data)
    try:
        _, differences, false = regions.evaluate(figures.FILES, figures.REGISTRY, runner)
    finally:
        runner.close()
    return {_id(r): (old, new) for r, old, new in differences}, {_id(r): why for r, why in false}


def test_every_marker_has_a_registry_entry_and_every_entry_a_marker():
    regions.check_names(figures.FILES, figures.REGISTRY)
    assert {r.name for r in MARKED} == set(figures.REGISTRY)
    assert len(SHOWN) > 50 and len(CLAIMS) > 5  # the README's figures are marked


@pytest.mark.parametrize("region", SHOWN, ids=_id)
def test_the_text_equals_what_the_command_prints(region, evaluated):
    differences, _ = evaluated
    if _id(region) in differences:
        old, new = differences[_id(region)]
        pytest.fail(
            f"{region} drifted; run `python docs/figures.py` and reread the sentences around "
            f"it:\n{regions.short_diff(old, new)}"
        )


@pytest.mark.parametrize("region", CLAIMS, ids=_id)
def test_the_prose_says_what_the_numbers_say(region, evaluated):
    _, false = evaluated
    assert _id(region) not in false, f"{region}: {false.get(_id(region))}: reword it"


# ---------------------------------------------------------------- the machinery


DOC = """# A page

Total: <!-- value: total -->3<!-- /value --> rows,
<!-- claim: small -->a small table<!-- /claim -->.

<!-- figure: listing -->
```text
old output
```
<!-- /figure -->
"""


def _registry(rows: int) -> dict:
    entry = regions.Entry
    return {
        "total": entry("value", lambda ctx: f"{rows}"),
        "small": entry("claim", lambda ctx: None if rows < 10 else f"{rows} rows"),
        "listing": entry("figure", lambda ctx: f"\n```text\n{rows} rows\n```\n"),
    }


def test_check_lists_each_drifted_region_and_rewriting_mends_it(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(DOC, encoding="utf-8")
    runner = regions.Runner(REPO, tmp_path)
    try:
        texts, differences, false = regions.evaluate([page], _registry(4), runner)
        assert [(r.name, old, new) for r, old, new in differences] == [
            ("listing", "\n```text\nold output\n```\n", "\n```text\n4 rows\n```\n"),
            ("total", "3", "4"),
        ]
        assert "-old output\n+4 rows" in regions.short_diff(*differences[0][1:])
        assert false == []
        page.write_text(texts[page], encoding="utf-8")
        assert regions.evaluate([page], _registry(4), runner)[1:] == ([], [])
        assert "Total: <!-- value: total -->4<!-- /value --> rows," in page.read_text()
        _, _, false = regions.evaluate([page], _registry(12), runner)
        assert [(r.name, why) for r, why in false] == [("small", "12 rows")]
    finally:
        runner.close()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("<!-- value: total -->3", "without their closing one"),
        ("x <!-- figure: listing -->y<!-- /figure -->", "markers on own lines"),
        ("<!-- value: nobody -->1<!-- /value -->", "value nobody: no registry entry"),
        ("<!-- claim: total -->1<!-- /claim -->", "claim total: no registry entry"),
    ],
)
def test_a_bad_or_unknown_marker_is_an_error_naming_it(text, says, tmp_path):
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    registry = {"total": regions.Entry("value", lambda ctx: "1")}
    with pytest.raises(regions.FigureError, match=says):
        regions.check_names([page], registry)


def test_a_registry_entry_marked_nowhere_is_an_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- value: total -->1<!-- /value -->", encoding="utf-8")
    registry = {k: regions.Entry("value", lambda ctx: "1") for k in ("total", "spare")}
    with pytest.raises(regions.FigureError, match="value spare: in the registry, marked nowhere"):
        regions.check_names([page], registry)


def test_commands_see_80_columns_and_write_only_in_their_scratch_folder(shared_data, tmp_path):
    runner = regions.Runner(REPO, shared_data)
    try:
        stats = runner.json("run", "configs/spy.yaml", "--data-dir", "../shared/data")
        folder = runner.folder("run", "configs/spy.yaml", "--data-dir", "../shared/data", "--json")
        assert folder.parent.parent == runner.work and (folder / "stats.json").is_file()
        assert stats["period"]["days"] > 1000
        text = runner.cli("run", "configs/spy.yaml", "--data-dir", "../shared/data")
        assert max(len(line) for line in text.splitlines()) <= 80
        assert "Run folder: runs/figure-" in text  # relative: no path of this machine
    finally:
        runner.close()
    assert not runner.root.exists()
