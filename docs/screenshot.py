"""The tearsheet picture of the README and the docs (docs/img/tearsheet.png), taken from a
real tearsheet by headless Chromium (Debian's `chromium`, the browser the tearsheet test
uses).

    python docs/screenshot.py [--data-dir ../shared/data] [--browser /usr/bin/chromium]

runs `rotation run configs/smallcap_breakout_eth.yaml --tearsheet` on the reference
prices in a scratch folder and saves the top of the page (the header, the headline
statistics, equity and drawdown) at 900 x 750 pixels. A picture's bytes depend on the
browser's version and fonts, so no test compares them; rerun this when the tearsheet's
look changes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIG = "configs/smallcap_breakout_eth.yaml"
PICTURE = REPO / "docs" / "img" / "tearsheet.png"
WINDOW = (1200, 1000)  # CSS pixels of the page shown, saved at SCALE
SCALE = 0.75
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run")


def tearsheet(data_dir: Path, work: Path) -> Path:
    """The tearsheet.html of the example run, written under `work`."""
    import os

    from click.testing import CliRunner

    from engine.cli import main

    (work / "configs").symlink_to(REPO / "configs")
    before = Path.cwd()
    os.chdir(work)
    try:
        args = ["run", CONFIG, "--data-dir", str(data_dir), "--out", "runs/example"]
        result = CliRunner().invoke(main, [*args, "--tearsheet"])
    finally:
        os.chdir(before)
    if result.exit_code != 0:
        raise SystemExit(f"rotation run failed:\n{result.output}")
    return work / "runs" / "example" / "tearsheet.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--browser", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="screenshot-"))
    try:
        page = tearsheet(args.data_dir.resolve(), work)
        PICTURE.parent.mkdir(parents=True, exist_ok=True)
        command = [
            args.browser,
            *FLAGS,
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"--force-device-scale-factor={SCALE}",
            "--virtual-time-budget=15000",  # let plotly draw before the picture is taken
            f"--user-data-dir={work / 'profile'}",
            f"--screenshot={PICTURE}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{PICTURE.relative_to(REPO)}: {PICTURE.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
