"""Nothing leaks: no file of a run, comparison, sweep or walk-forward folder (tearsheet
included) holds an absolute path of the machine, the saved config.yaml still runs again,
and a user's names reach the terminal with their control characters made visible."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.data import make_source
from engine.errors import RotationError
from engine.notices import warn
from engine.report.paths import scrub, shown_path
from engine.terminal import printable
from tests.conftest import CONFIGS

DEMO = CONFIGS / "demo_synthetic.yaml"
TICKERS = ("IWM", "SPY", "ETH-USD")
KINDS = ("run", "compare", "sweep", "walkforward")


def invoke(*args) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def write_prices(folder: Path) -> None:
    """The synthetic demo market as CSV files, so the runs read a folder of this machine."""
    folder.mkdir(parents=True)
    for ticker, frame in make_source("synthetic").load(list(TICKERS)).items():
        frame.loc["2015-01-01":"2021-12-31"].to_csv(folder / f"{ticker}.csv", index_label="Date")


def write_configs(folder: Path) -> tuple[Path, Path, Path]:
    """The demo (csv source, to 2021), a second config, and a sweep of the demo."""
    folder.mkdir(parents=True)
    raw = yaml.safe_load(DEMO.read_text())
    raw["data"] = {"source": "csv", "start": "2016-01-04", "end": "2021-12-31"}
    demo = folder / "demo.yaml"
    demo.write_text(yaml.safe_dump(raw))
    other = folder / "other.yaml"
    other.write_text(yaml.safe_dump({**raw, "name": "other"}))
    raw["signals"]["ratio_breakout"]["entry"] = [100, 120]
    grid = folder / "grid.yaml"
    grid.write_text(yaml.safe_dump(raw))
    return demo, other, grid


def make_every_kind(prices: Path, configs: Path, out: Path) -> dict[str, Path]:
    """One folder of each kind (tearsheets too), paths as the shell gives them."""
    write_prices(prices)
    demo, other, grid = write_configs(configs)
    data = ("--data-dir", prices, "--tearsheet")
    invoke("run", demo, "--out", out / "run", "--bootstrap", 20, *data)
    invoke("compare", demo, other, "--out", out / "compare", *data)
    invoke("sweep", grid, "--out", out / "sweep", *data)
    invoke("sweep", grid, "--out", out / "walkforward", "--walk-forward", "train=2y,test=1y", *data)
    return {kind: out / kind for kind in KINDS}


@pytest.fixture(scope="module", params=["outside", "inside"])
def where(request, tmp_path_factory):
    """Prices, configs and output outside the working folder (named by hash and by file
    name), or inside it (named by relative path); either way under a temporary folder."""
    root = tmp_path_factory.mktemp(f"leaks-{request.param}")
    work = root / "work"
    work.mkdir()
    base = root if request.param == "outside" else work
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        if request.param == "inside":  # relative, as a user in the working folder types them
            folders = make_every_kind(Path("prices"), Path("configs"), Path("runs"))
            folders = {kind: work / path for kind, path in folders.items()}
        else:
            folders = make_every_kind(base / "prices", base / "configs", base / "out")
    return {"kind": request.param, "root": root, "work": work, "base": base, "folders": folders}


def test_no_file_of_any_folder_holds_a_path_of_the_machine(where):
    forbidden = [str(where["root"]), str(where["work"]), str(where["root"].resolve())]
    home = str(Path.home())
    if len(home) > 1:
        forbidden.append(home)
    seen = 0
    for kind, folder in where["folders"].items():
        assert (folder / "tearsheet.html").is_file(), kind
        for path in (p for p in folder.rglob("*") if p.is_file()):  # results/ parts too
            blob = path.read_bytes()
            for text in forbidden:
                assert text.encode() not in blob, (path, text)
            seen += 1
    assert seen >= 25  # every file of every kind was looked at


def test_the_manifest_names_the_data_and_config_without_their_place(where):
    run = yaml.safe_load((where["folders"]["run"] / "manifest.json").read_text())
    sweep = yaml.safe_load((where["folders"]["sweep"] / "manifest.json").read_text())
    compare = yaml.safe_load((where["folders"]["compare"] / "manifest.json").read_text())
    if where["kind"] == "inside":
        assert run["data_source"] == "csv:prices"
        assert run["config_path"] == "configs/demo.yaml"
        assert sweep["sweep_path"] == "configs/grid.yaml"
        assert compare["configs"]["other"]["path"] == "configs/other.yaml"
    else:
        assert run["data_source"] == f"csv:sha256:{run['data_sha256'][:16]}"
        assert run["config_path"] == "demo.yaml"
        assert sweep["sweep_path"] == "grid.yaml"
        assert compare["configs"]["other"]["path"] == "other.yaml"


def test_the_saved_config_runs_again_to_the_same_statistics(where, monkeypatch):
    """Outside: config.yaml leaves data.dir out and says so; --data-dir gives it back.
    Inside: data.dir is relative to the run folder, so it runs from anywhere as it is."""
    run = where["folders"]["run"]
    saved = (run / "config.yaml").read_text()
    again = where["root"] / "again"
    if where["kind"] == "outside":
        assert "dir:" not in saved and "--data-dir DIR" in saved
        invoke("run", run / "config.yaml", "--data-dir", where["base"] / "prices", "--out", again)
    else:
        assert yaml.safe_load(saved)["data"]["dir"] == "../../prices"
        monkeypatch.chdir(where["root"])  # elsewhere than the working folder of the run
        invoke("run", run / "config.yaml", "--out", again)
    assert (again / "stats.json").read_bytes() == (run / "stats.json").read_bytes()


def test_shown_path_is_relative_inside_the_working_folder_else_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "configs" / "a.yaml") == "configs/a.yaml"
    assert shown_path("configs/a.yaml") == "configs/a.yaml"
    assert shown_path(tmp_path.parent / "b.yaml") == "b.yaml"
    assert shown_path(None) is None


def test_scrub_drops_every_absolute_folder_from_free_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = f"SPY from {tmp_path}/prices/SPY.csv: 3 sessions forward-filled"
    outside = "ETH-USD from /srv/data/prices/ETH-USD.csv: sorted; ratio IWM/SPY kept"
    assert scrub([inside, {"x": outside}]) == [
        "SPY from prices/SPY.csv: 3 sessions forward-filled",
        {"x": "ETH-USD from ETH-USD.csv: sorted; ratio IWM/SPY kept"},
    ]


# ---------------------------------------------------------------- the terminal

ESCAPE = "\x1b[31m"


def test_a_regime_name_with_an_escape_sequence_reaches_the_terminal_as_text(tmp_path):
    raw = yaml.safe_load(DEMO.read_text())
    raw["regimes"][0]["name"] = f"risk{ESCAPE}on"
    raw["description"] = f"in {ESCAPE}red"
    config = tmp_path / "escape.yaml"
    config.write_text(yaml.safe_dump(raw))
    output = invoke("run", config, "--out", tmp_path / "run", "--end", "2018-12-31")
    assert "\x1b" not in output
    assert "Time in risk\\x1b[31mon" in output


def test_an_error_quoting_a_name_shows_its_control_characters(tmp_path):
    folder = tmp_path / f"out{ESCAPE}\x07"
    folder.write_text("a file where a folder is wanted")
    result = CliRunner().invoke(main, ["tearsheet", str(folder)])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert result.output.startswith(f"Error: {tmp_path}/out\\x1b[31m\\x07: is a file")
    assert RotationError("two\nlines").format_message() == "two\nlines"  # kept apart


def test_a_warning_shows_its_control_characters(caplog):
    with caplog.at_level(logging.WARNING, logger="rotation.data"):
        warn(f"signal {ESCAPE}x\u202e still undefined")
    assert caplog.messages == ["Warning: signal \\x1b[31mx\\u202e still undefined"]


def test_printable_escapes_control_characters_and_keeps_the_rest():
    assert printable("plain: é → ✓ 100%") == "plain: é → ✓ 100%"
    assert printable("a\tb\x00c\x9bd") == "a\\x09b\\x00c\\x9bd"
    assert printable("one\ntwo") == "one\\x0atwo"
    assert printable("one\ntwo", newlines=True) == "one\ntwo"


def _escaped_demo(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load(DEMO.read_text())
    raw["regimes"][0]["name"] = f"risk{ESCAPE}on"
    raw["regimes"][-1]["name"] = f"neutral{ESCAPE}\x07"  # the regime in force at the end
    raw |= changes
    config = tmp_path / f"escape{ESCAPE}.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


def _seen_as_text(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output, output
    assert "\\x1b[31m" in output, output


def test_rotation_signal_shows_a_regime_name_and_the_ranking_as_text(tmp_path, shared_data):
    """`rotation signal`'s sentences and its ranking table, with a regime named
    risk<ESC>[31mon (the ranked regime of top2_of_7 and the demo's fixed one)."""
    _seen_as_text(invoke("signal", _escaped_demo(tmp_path)))
    raw = yaml.safe_load((CONFIGS / "taa" / "top2_of_7.yaml").read_text())
    raw["regimes"][0]["name"] = f"top[bold]2{ESCAPE}"
    ranked = tmp_path / "ranked.yaml"
    ranked.write_text(yaml.safe_dump(raw))
    output = invoke("signal", ranked, "--data-dir", shared_data)
    _seen_as_text(output)
    assert "regime top[bold]2\\x1b[31m" in output  # in the table's title: not read as markup


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "sweep-wf", "audit", "check"])
def test_every_line_naming_a_user_path_or_name_is_escaped(command, tmp_path):
    """The folder lines (`Run folder: ...`, `Comparison folder: ...`, `Sweep folder: ...`,
    `Walk-forward folder: ...`, `Tearsheet: ...`), the sweep's notes and tables, the audit's
    table and `rotation check`'s lines, with a config file, a regime and an --out folder
    holding ESC[31m and BEL."""
    window = ["--start", "2017-01-03", "--end", "2018-12-31"]
    out = tmp_path / f"out{ESCAPE}\x07"
    config = _escaped_demo(tmp_path)
    if command in ("sweep", "sweep-wf", "check"):
        raw = yaml.safe_load(config.read_text())
        raw["signals"]["ratio_breakout"]["entry"] = [100, 120]
        config.write_text(yaml.safe_dump(raw))
    args = {
        "run": ["run", config, *window, "--out", out, "--tearsheet"],
        "compare": ["compare", config, DEMO, *window, "--out", out],
        "sweep": ["sweep", config, *window, "--out", out],
        "sweep-wf": ["sweep", config, "--walk-forward", "train=1y,test=6m", "--out", out],
        "audit": ["audit", config, *window, "--cuts", "1"],
        "check": ["check", config],
    }[command]
    _seen_as_text(invoke(*args))
