"""Property: no damage to a resume store makes `rotation sweep --resume` crash or lie.

Starting from the store a real sweep left after 6 of its 10 chunks, hypothesis flips a
bit, truncates, appends to, deletes, swaps, symlinks, turns into a folder or brings from
another sweep's store one of its files, rewrites a field of its JSON, or adds a file
beside them; then the sweep is resumed. Whatever the damage, the command either writes
exactly the folder an uninterrupted sweep writes, or prints one `Error:` line and exits 2
with the store left byte for byte as it was. (FIFOs have their own test, in a subprocess:
here a regression would block the suite.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from tests.sweep_stores import copy_store, make_stores, same_outputs, snapshot

ODD_VALUES = [None, -1, 0, 3, 10**30, "x", "", [], {}, True, 1.5]
EXTRA_NAMES = ["notes.txt", ".DS_Store", "chunk-0-7.parquet", ".chunk-0-20.npy.x.tmp"]


@pytest.fixture(scope="module")
def made(tmp_path_factory, shared_data) -> dict[str, Path]:
    return make_stores(tmp_path_factory.mktemp("stores"), shared_data, 6)


def _json_edit(path: Path, draw) -> str:
    """Set (or delete) one field, at any depth, of a JSON file to an odd value."""
    document = json.loads(path.read_text())
    node, trail = document, []
    while isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        trail.append(key)
        if not isinstance(node[key], dict) or draw(st.booleans()):
            break
        node = node[key]
    if draw(st.booleans()):
        del node[trail[-1]]
        done = "delete"
    else:
        node[trail[-1]] = draw(st.sampled_from(ODD_VALUES))
        done = f"= {node[trail[-1]]!r}"
    path.write_text(json.dumps(document))
    return f"{path.name} {'.'.join(trail)} {done}"


KINDS = ["flip", "truncate", "append", "delete", "swap", "symlink", "folder", "foreign"]
KINDS += ["json", "extra", "none"]


def damage(store: Path, other: Path, draw) -> str:
    """Damage one file of `store` (`other`: another sweep's store) as `draw` decides; what
    was done."""
    kind = draw(st.sampled_from(KINDS))
    files = sorted(p.name for p in store.iterdir())
    if kind == "json":
        files = [name for name in files if name.endswith(".json")]
    elif kind == "foreign":
        files = [name for name in files if (other / name).exists()]
    path = store / draw(st.sampled_from(files))
    size = path.stat().st_size
    if kind == "flip":
        data = bytearray(path.read_bytes())
        at, bit = draw(st.integers(0, size - 1)), draw(st.integers(0, 7))
        data[at] ^= 1 << bit
        path.write_bytes(bytes(data))
        return f"flip bit {bit} of byte {at} of {path.name}"
    if kind == "truncate":
        path.write_bytes(path.read_bytes()[: draw(st.integers(0, size - 1))])
    elif kind == "append":
        with path.open("ab") as handle:
            handle.write(b"\0" * draw(st.integers(1, 64)))
    elif kind == "delete":
        path.unlink()
    elif kind in ("swap", "symlink"):
        partner = store / draw(st.sampled_from([name for name in files if name != path.name]))
        if kind == "symlink":
            path.unlink()
            path.symlink_to(partner.name)
        else:
            path.rename(store / "swapping")
            partner.rename(path)
            (store / "swapping").rename(partner)
        return f"{kind} {path.name} {partner.name}"
    elif kind == "folder":
        path.unlink()
        path.mkdir()
    elif kind == "foreign":
        shutil.copyfile(other / path.name, path)
    elif kind == "json":
        return _json_edit(path, draw)
    elif kind == "extra":
        name = draw(st.sampled_from(EXTRA_NAMES))
        (store / name).write_bytes(b"something")
        return f"extra {name}"
    return f"{kind} {path.name}"


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_damaged_store_resumes_to_the_same_folder_or_is_refused_untouched(made, data):
    with tempfile.TemporaryDirectory() as scratch:
        store = copy_store(made["store"], Path(scratch) / "sweep.partial")
        what = damage(store, made["other"], data.draw)
        before = snapshot(store)
        out = Path(scratch) / "sweep"
        args = ["sweep", str(made["grid"]), "--resume", str(store), "--out", str(out), "--json"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code in (0, 2), (what, result.output, result.exception)
        if result.exit_code == 0:
            same_outputs(out, made["whole"])
            left = sorted(os.listdir(store)) if store.exists() else []
            assert all(name in ("notes.txt", ".DS_Store") for name in left), (what, left)
        else:
            assert result.output.startswith(f"Error: --resume {store}: "), (what, result.output)
            assert result.output.count("\n") == 1 and result.stdout == "", what
            assert snapshot(store) == before and not out.exists(), what
