"""`rotation run` and `rotation sweep` end to end in this checkout and in another one.

Times whole commands (fresh processes, as users run them) in two checkouts of the
project, interleaved in one session, as ratios against a yardstick measured in the
same session: the bare import floor `python -c "import pandas, numba, pyarrow"`.
Each tree runs from its own folder with PYTHONPATH pointing at it, after one warm-up
call (numba compiles or loads its cache). No assertions: it is not a test.

    git worktree add /tmp/base <commit>
    python bench/before_after.py --baseline /tmp/base --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
COMMANDS = {
    "run": ["run", "configs/smallcap_breakout_eth.yaml"],
    "sweep": ["sweep", "configs/sweeps/breakout_grid.yaml"],
}
YARDSTICK = [sys.executable, "-c", "import pandas, numba, pyarrow"]


def _rotation(tree: Path, args: list[str], data_dir: Path, out: Path) -> list[str]:
    call = [*args, "--data-dir", str(data_dir), "--out", str(out), "--json"]
    code = f"import sys; sys.argv = ['rotation', *{call!r}]; from engine.cli import main; main()"
    return [sys.executable, "-c", code]


def _seconds(command: list[str], cwd: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    began = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed in {cwd}:\n{done.stderr[-2000:]}")
    return elapsed


def measure(trees: dict[str, Path], data_dir: Path, repeat: int) -> dict:
    """Best and median wall time of each command in each tree, and of the yardstick."""
    times: dict[str, list[float]] = {"yardstick": []}
    with tempfile.TemporaryDirectory() as scratch:
        for label, tree in trees.items():  # warm-up: numba caches, .pyc files
            for name, args in COMMANDS.items():
                _seconds(_rotation(tree, args, data_dir, Path(scratch) / f"w-{label}-{name}"), tree)
        for i in range(repeat):
            times["yardstick"].append(_seconds(YARDSTICK, HERE))
            for label, tree in trees.items():
                for name, args in COMMANDS.items():
                    out = Path(scratch) / f"{label}-{name}-{i}"
                    key = f"{label}:{name}"
                    times.setdefault(key, []).append(
                        _seconds(_rotation(tree, args, data_dir, out), tree)
                    )
    floor = min(times["yardstick"])
    return {
        key: {
            "best_s": round(min(v), 3),
            "median_s": round(statistics.median(v), 3),
            "x_import_floor": round(min(v) / floor, 2),
        }
        for key, v in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--data-dir", type=Path, default=HERE.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    trees = {"baseline": args.baseline.resolve(), "this": HERE}
    report = measure(trees, args.data_dir.resolve(), args.repeat)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
