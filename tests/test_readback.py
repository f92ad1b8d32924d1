"""Every folder reader validates: `rotation tearsheet` reads run, comparison, sweep and
walk-forward folders through one checked loader (engine.report.readback). Each tampered,
partial, truncated or foreign shape of each kind of folder is one `Error:` line naming
the file, exit code 2, and nothing written (no tearsheet.html, no staging file)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.report.readback import read_folder
from engine.report.tearsheet import FILENAME
from tests.conftest import CONFIGS

DEMO = CONFIGS / "demo_synthetic.yaml"  # a seeded synthetic market: offline, no shared data


def invoke(*args) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """One untouched folder of each kind, made from the synthetic demo."""
    root = tmp_path_factory.mktemp("readback")
    raw = yaml.safe_load(DEMO.read_text())
    raw["data"]["end"] = "2021-12-31"
    short = root / "demo.yaml"
    short.write_text(yaml.safe_dump(raw))
    raw["signals"]["ratio_breakout"]["entry"] = [100, 120]
    raw["signals"]["ratio_breakout"]["exit"] = [40, 60]
    grid = root / "grid.yaml"
    grid.write_text(yaml.safe_dump(raw))
    invoke("run", short, "--out", root / "run", "--bootstrap", 20)
    invoke("compare", short, DEMO, "--out", root / "comparison", "--end", "2021-12-31")
    invoke("sweep", grid, "--out", root / "sweep")
    invoke("sweep", grid, "--out", root / "walk-forward", "--walk-forward", "train=2y,test=1y")
    return {kind: root / kind for kind in ("run", "comparison", "sweep", "walk-forward")}


def copy_of(made: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made[kind], tmp_path / kind, symlinks=True))


def tearsheet_in_process(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["tearsheet", str(folder)])
    assert not result.exception or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def tearsheet_in_a_process(folder: Path, prefix: tuple[str, ...] = ()) -> tuple[int, str]:
    """`rotation tearsheet FOLDER` in its own process (a FIFO that were opened would block
    it: the timeout fails the test instead of hanging the suite)."""
    code = "from engine.cli import main; main()"
    done = subprocess.run(
        [*prefix, sys.executable, "-c", code, "tearsheet", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    return done.returncode, done.stdout + done.stderr


def assert_one_error(folder: Path, named: str, words: str, result: tuple[int, str]) -> None:
    """Exit code 2, one `Error:` line starting with the file's path and holding `words`,
    and nothing written into the folder."""
    code, output = result
    lines = output.strip().splitlines()
    assert code == 2, output
    assert len(lines) == 1, output
    assert lines[0].startswith(f"Error: {folder / named}: "), lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in output
    assert not [p.name for p in folder.iterdir() if "tearsheet" in p.name]


# ---------------------------------------------------------------- tampering, by shape


def _remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def _text(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text, encoding="utf-8")


def _cut(name: str) -> Callable[[Path], None]:
    def cut(folder: Path) -> None:
        blob = (folder / name).read_bytes()
        (folder / name).write_bytes(blob[: len(blob) // 2])

    return cut


def _json(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        payload = json.loads((folder / name).read_text())
        change(payload)
        (folder / name).write_text(json.dumps(payload))

    return edit


def _csv(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / name
        if name.endswith(".parquet"):
            change(pd.read_parquet(path)).to_parquet(path, index=False)
        else:
            change(pd.read_csv(path, keep_default_na=False)).to_csv(path, index=False)

    return edit


def _folder_in_place(name: str) -> Callable[[Path], None]:
    return lambda folder: ((folder / name).unlink(), (folder / name).mkdir())


def _link_outside(name: str) -> Callable[[Path], None]:
    def link(folder: Path) -> None:
        outside = folder.parent / f"outside-{name}"
        shutil.copyfile(folder / name, outside)  # the same bytes: only the link is wrong
        (folder / name).unlink()
        (folder / name).symlink_to(outside)

    return link


def _link_loop(name: str) -> Callable[[Path], None]:
    def loop(folder: Path) -> None:
        (folder / name).unlink()
        (folder / "a").symlink_to("b")
        (folder / "b").symlink_to("a")
        (folder / name).symlink_to("a")

    return loop


def _set(path: list, value) -> Callable[[dict], None]:
    def change(payload: dict) -> None:
        for key in path[:-1]:
            payload = payload[key]
        payload[path[-1]] = value

    return change


def _text_in(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(str)
        frame.loc[1, column] = "lots"
        return frame

    return change


PART = "results/part-00000.parquet"


def _link_outside_part(name: str) -> Callable[[Path], None]:
    def link(folder: Path) -> None:
        outside = folder.parent / "outside-part.parquet"
        shutil.copyfile(folder / name, outside)  # the same bytes: only the link is wrong
        (folder / name).unlink()
        (folder / name).symlink_to(outside)

    return link


def _flip(name: str) -> Callable[[Path], None]:
    def flip(folder: Path) -> None:
        data = bytearray((folder / name).read_bytes())
        data[len(data) // 2] ^= 0x01  # the same size, other bytes
        (folder / name).write_bytes(bytes(data))

    return flip


def _part_named(name: str) -> Callable[[dict], None]:
    def change(manifest: dict) -> None:
        manifest["results"]["parts"][0]["name"] = name

    return change


CASES = [  # (kind, shape, tamper, file named, words of the message)
    ("run", "missing file", _remove("weights.csv"), "weights.csv", "missing"),
    ("run", "missing marker", _remove("stats.json"), "stats.json", "missing; the run folder"),
    ("run", "bad JSON", _cut("stats.json"), "stats.json", "not valid JSON"),
    ("run", "wrong type", _json("stats.json", _set(["period", "days"], "many")), "stats.json",
     "period.days: expected a whole number, found 'many'"),
    ("run", "missing column", _csv("values.csv", lambda f: f.drop(columns="benchmark")),
     "values.csv", "no column 'benchmark'"),
    ("run", "empty CSV", _text("regimes.csv", ""), "regimes.csv", "empty"),
    ("run", "header only", _text("values.csv", "date,strategy,benchmark\n"), "values.csv",
     "a header but no rows"),
    ("run", "text for a number", _csv("trades.csv", _text_in("fees")), "trades.csv",
     "row 3: fees 'lots' is not a number"),
    ("run", "bad date", _csv("values.csv", lambda f: f.assign(date=f["date"].str[:7])),
     "values.csv", "row 2: date '"),
    ("run", "bad YAML", _text("config.yaml", "name: [unclosed\n"), "config.yaml",
     "not valid YAML"),
    ("run", "a key twice", _text("config.yaml", "name: a\nname: b\n"), "config.yaml",
     "not valid YAML at line 2"),
    ("run", "invalid config", _text("config.yaml", "name: 3\n"), "config.yaml",
     "not a config this version reads"),
    ("run", "dates disagree", _csv("weights.csv", lambda f: f.iloc[:-5]), "weights.csv",
     "dates are not the"),
    ("run", "unknown regime", _csv("regimes.csv", lambda f: f.assign(regime="other")),
     "regimes.csv", "regime 'other' is not one of config.yaml's"),
    ("run", "bad optional file", _json("bootstrap.json", _set(["strategy", "cagr"], 0.1)),
     "bootstrap.json", "strategy.cagr: expected an object"),
    ("run", "folder in place of a file", _folder_in_place("manifest.json"), "manifest.json",
     "is a folder, not a regular file"),
    ("run", "symlink outside", _link_outside("values.csv"), "values.csv",
     "a symbolic link to outside-values.csv, outside the folder"),
    ("run", "a loop of symlinks", _link_loop("trades.csv"), "trades.csv",
     "a symbolic link that leads to no file"),
    ("comparison", "missing file", _remove("values.csv"), "values.csv", "missing"),
    ("comparison", "bad JSON", _cut("comparison.json"), "comparison.json", "not valid JSON"),
    ("comparison", "wrong type",
     _json("comparison.json", _set(["statistics", "demo-synthetic", "cagr"], "high")),
     "comparison.json", "statistics.demo-synthetic.cagr: expected a number or null"),
    ("comparison", "missing column",
     _csv("values.csv", lambda f: f.drop(columns="demo-synthetic")), "values.csv",
     "no column 'demo-synthetic'"),
    ("comparison", "empty CSV", _text("values.csv", ""), "values.csv", "empty"),
    ("comparison", "files disagree", _json("comparison.json", _set(["columns"], ["elsewhere"])),
     "comparison.json", "statistics: no entry for column 'elsewhere'"),
    ("comparison", "symlink outside", _link_outside("comparison.json"), "comparison.json",
     "outside the folder"),
    ("sweep", "missing file", _remove("top.parquet"), "top.parquet", "missing"),
    ("sweep", "bad JSON", _cut("summary.json"), "summary.json", "not valid JSON"),
    ("sweep", "wrong type", _json("summary.json", _set(["combinations"], "four")),
     "summary.json", "combinations: expected a whole number, found 'four'"),
    ("sweep", "missing column", _csv("top.parquet", lambda f: f.drop(columns="sharpe")),
     "top.parquet", "no column 'sharpe'"),
    ("sweep", "truncated parquet", _cut("top.parquet"), "top.parquet",
     "cannot be read as parquet"),
    ("sweep", "empty CSV", _text("best_values.csv", ""), "best_values.csv", "empty"),
    ("sweep", "row out of range", _json("summary.json", _set(["top", 0, "row"], 99)),
     "summary.json", "top: row 99 is not in top.parquet"),
    ("sweep", "a results part edited", _csv(PART, lambda f: f.assign(sharpe=9.0)), PART,
     "(truncated or changed)"),
    ("sweep", "a byte of a part flipped", _flip(PART), PART,
     "is not the file its record describes"),
    ("sweep", "a results part truncated", _cut(PART), PART, "where its record says"),
    ("sweep", "a results part missing", _remove(PART), PART, "is missing"),
    ("sweep", "a results part a link", _link_outside_part(PART), PART,
     "is a symbolic link, not a regular file"),
    ("sweep", "a part's listing cut",
     _json("manifest.json", _set(["results", "parts", 0, "rows"], 1)), "manifest.json",
     "results: its parts do not hold every combination"),
    ("sweep", "a part listed outside", _json("manifest.json", _part_named("../x.parquet")),
     "manifest.json", "'../x.parquet' is not a results part's name"),
    ("sweep", "symlink outside", _link_outside("summary.json"), "summary.json",
     "outside the folder"),
    ("walk-forward", "missing file", _remove("oos_values.csv"), "oos_values.csv", "missing"),
    ("walk-forward", "bad JSON", _cut("walkforward.json"), "walkforward.json",
     "not valid JSON"),
    ("walk-forward", "wrong type",
     _json("walkforward.json", _set(["per_window", 0, "window"], "first")), "walkforward.json",
     "per_window[0].window: expected a whole number, found 'first'"),
    ("walk-forward", "missing column",
     _csv("oos_values.csv", lambda f: f.drop(columns="window")), "oos_values.csv",
     "no column 'window'"),
    ("walk-forward", "empty CSV", _text("oos_values.csv", ""), "oos_values.csv", "empty"),
    ("walk-forward", "no windows", _json("walkforward.json", _set(["per_window"], [])),
     "walkforward.json", "per_window: empty"),
    ("walk-forward", "symlink outside", _link_outside("oos_values.csv"), "oos_values.csv",
     "outside the folder"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "tamper", "named", "words"),
    [case[:1] + case[2:] for case in CASES],
    ids=[f"{kind}: {shape}" for kind, shape, *_ in CASES],
)
def test_a_tampered_folder_is_one_error_line_naming_the_file(
    made, tmp_path, kind, tamper, named, words
):
    folder = copy_of(made, kind, tmp_path)
    tamper(folder)
    assert_one_error(folder, named, words, tearsheet_in_process(folder))


FIFOS = {"run": "signals.csv", "comparison": "comparison.json", "sweep": "top.parquet"}
FIFOS["walk-forward"] = "oos_values.csv"


@pytest.mark.parametrize("kind", list(FIFOS))
def test_a_fifo_in_place_of_a_file_is_refused_unopened(made, tmp_path, kind):
    folder = copy_of(made, kind, tmp_path)
    (folder / FIFOS[kind]).unlink()
    os.mkfifo(folder / FIFOS[kind])  # opening it to read would wait for a writer forever
    result = tearsheet_in_a_process(folder)
    assert_one_error(folder, FIFOS[kind], "is a named pipe (FIFO), not a regular file", result)


def test_a_fifo_in_place_of_a_results_part_is_refused_unopened(made, tmp_path):
    folder = copy_of(made, "sweep", tmp_path)
    (folder / PART).unlink()
    os.mkfifo(folder / PART)
    result = tearsheet_in_a_process(folder)
    assert_one_error(folder, PART, "is a FIFO, not a regular file", result)


def _without_write_permission() -> tuple[str, ...]:
    """The prefix that runs a command unable to write into a read-only folder: nothing
    for an ordinary user; for root (who writes anywhere) setpriv dropping the capability."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder stays writable")
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")


@pytest.mark.parametrize("kind", ["run", "comparison", "sweep", "walk-forward"])
def test_a_read_only_folder_is_one_error_line_and_nothing_written(made, tmp_path, kind):
    folder = copy_of(made, kind, tmp_path)
    (folder / FILENAME).unlink(missing_ok=True)
    prefix = _without_write_permission()
    folder.chmod(0o555)
    try:
        result = tearsheet_in_a_process(folder, prefix)
    finally:
        folder.chmod(0o755)
    assert_one_error(folder, FILENAME, "cannot write it (Permission denied)", result)


@pytest.mark.parametrize("kind", ["run", "comparison", "sweep", "walk-forward"])
def test_every_file_cut_in_half_is_an_error_or_a_page_never_a_traceback(made, tmp_path, kind):
    """Truncation at any file: the page is built (the cut left a shorter but whole file)
    or one Error line names that file; never an exception."""
    pristine = made[kind]
    files = [p for p in pristine.rglob("*") if p.is_file() and p.name != FILENAME]
    for name in sorted(str(p.relative_to(pristine)) for p in files):
        folder = tmp_path / f"{kind}-{name.replace('/', '-')}"
        shutil.copytree(pristine, folder)
        _cut(name)(folder)
        code, output = tearsheet_in_process(folder)
        if code:
            assert_one_error(folder, name, "", (code, output))


@pytest.mark.parametrize("kind", ["run", "comparison", "sweep", "walk-forward"])
def test_the_untouched_folders_read_back_and_give_a_page(made, kind):
    """The control for the tests above: without tampering every kind reads and pages."""
    files = read_folder(made[kind])
    assert files.kind == kind
    assert (made[kind] / FILENAME).is_file() or tearsheet_in_process(made[kind])[0] == 0


def test_a_folder_of_the_wrong_kind_is_named(made):
    with pytest.raises(Exception, match="a sweep folder, not a run folder"):
        read_folder(made["sweep"], "run")


def test_runs_latest_a_symlink_to_the_folder_reads_like_the_folder(made, tmp_path):
    """Links inside the folder and a link to the folder itself are fine."""
    folder = copy_of(made, "run", tmp_path)
    os.rename(folder / "values.csv", folder / "values-kept.csv")
    (folder / "values.csv").symlink_to("values-kept.csv")
    latest = tmp_path / "latest"
    latest.symlink_to(folder.name)
    code, output = tearsheet_in_process(latest)
    assert code == 0, output
    assert (folder / FILENAME).is_file()
