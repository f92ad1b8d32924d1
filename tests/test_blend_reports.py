"""What the commands make of a blend: its run folder (members.csv, blend.json, config.yaml
with its members inline, read back and checked), its tearsheet's members section,
`rotation signal`, `compare` beside plain configs, and a clean `rotation audit`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine import api
from engine.cli import main
from engine.errors import RotationError
from engine.report.readback import read_folder
from tests.conftest import CONFIGS
from tests.test_tearsheet import page_ids

SEED_GEM = str(CONFIGS / "blends" / "seed_gem.yaml")
TRANCHES = str(CONFIGS / "blends" / "gtaa5_tranches.yaml")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, shared_data):
    """The run folder of the ready seed + GEM blend, with its tearsheet."""
    out = tmp_path_factory.mktemp("blend") / "run"
    args = ["run", SEED_GEM, "--data-dir", str(shared_data), "--out", str(out), "--tearsheet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out


def test_a_blends_run_folder_holds_its_members_and_reads_back(folder):
    files = read_folder(folder, "run")
    members = files["members.csv"]
    payload = files["blend.json"]
    names = [m["name"] for m in payload["members"]]
    assert names == ["smallcap-breakout-eth", "gem"]
    assert [m["file"] for m in payload["members"]] == [
        "../smallcap_breakout_eth.yaml",
        "../taa/gem.yaml",
    ]
    dates = files["values.csv"]["date"]
    for name in names:
        assert list(members.loc[members["member"] == name, "date"]) == list(dates)
    assert set(members.columns) >= {"IWM_target", "SPY_target", "EFA_target", "AGG_target"}
    gem = members[members["member"] == "gem"]
    assert np.allclose(gem[["IWM_target", "SPY_target", "EFA_target", "AGG_target"]].sum(axis=1), 1)
    config = files["config.yaml"]
    assert [entry["name"] for entry in config["blend"]] == names  # members inline
    assert "data" not in config["blend"][0] and "signals" in config["blend"][0]


def test_the_members_contributions_and_other_add_up_to_the_blends_return(folder):
    payload = json.loads((folder / "blend.json").read_text())
    values = pd.read_csv(folder / "values.csv")["strategy"].to_numpy()
    returns = np.diff(np.concatenate([[100_000.0], values])) / np.concatenate(
        [[100_000.0], values[:-1]]
    )
    total = payload["contributions"]["total"]
    assert total["blend"] == pytest.approx(returns.sum(), rel=1e-12)
    names = ["smallcap-breakout-eth", "gem"]
    assert total["blend"] == pytest.approx(sum(total[n] for n in names) + total["other"])
    for year in payload["contributions"]["years"]:
        assert year["blend"] == pytest.approx(sum(year[n] for n in names) + year["other"])
    assert abs(total["other"]) < 0.1 * abs(total["blend"])  # drift and costs stay small
    assert set(payload["alone"]) == set(names)


def test_the_config_yaml_of_a_blends_folder_runs_again_to_the_same_stats(folder, shared_data):
    again = folder.parent / "again"
    args = ["run", str(folder / "config.yaml"), "--data-dir", str(shared_data), "--out", str(again)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (again / "stats.json").read_bytes() == (folder / "stats.json").read_bytes()
    assert (again / "members.csv").read_bytes() == (folder / "members.csv").read_bytes()


def test_the_tearsheet_shows_the_members_beside_the_blend(folder):
    page = (folder / "tearsheet.html").read_text()
    for element in (
        'id="members"',
        'id="chart-blend-values"',
        'id="chart-blend-share-0"',
        'id="chart-blend-share-1"',
        'id="table-blend-versus"',
        'id="table-blend-contributions"',
        'data-key="alone.gem.cagr"',
        'data-key="contributions.total.other"',
    ):
        assert element in page, element
    ids = page_ids(folder / "tearsheet.html")
    assert ids and len(ids) == len(set(ids))
    assert "smallcap-breakout-eth:ratio_breakout" in page  # the members' signals


def test_readback_refuses_a_blend_folder_whose_members_disagree(folder, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    members = pd.read_csv(broken / "members.csv")
    members.loc[0, "member"] = "nobody"
    members.to_csv(broken / "members.csv", index=False)
    with pytest.raises(RotationError, match="member 'nobody' is not in blend.json"):
        read_folder(broken)
    shutil.copy(folder / "members.csv", broken / "members.csv")
    regimes = pd.read_csv(broken / "regimes.csv")
    regimes.loc[3, "regime"] = "neutral|cash"
    regimes.to_csv(broken / "regimes.csv", index=False)
    with pytest.raises(RotationError, match="regime 'neutral\\|cash' is not one of"):
        read_folder(broken)
    (broken / "blend.json").unlink()
    with pytest.raises(RotationError, match="blend.json: missing, and config.yaml is a blend"):
        read_folder(broken)


def test_signal_gives_each_member_and_the_blends_target(shared_data, monkeypatch):
    monkeypatch.setenv("ROTATION_TODAY", "2025-09-29")
    state = api.signal(SEED_GEM, data_dir=shared_data)
    members = state.state["members"]
    assert [m["name"] for m in members] == ["smallcap-breakout-eth", "gem"]
    combined = {t: 0.0 for t in state.target}
    for member in members:
        for ticker, weight in member["target"].items():
            combined[ticker] += member["weight"] * weight
    assert state.target == pytest.approx(combined)
    assert state.regime == "|".join(m["regime"] for m in members)
    lines = [line for line in state.lines() if not line.startswith(("warning", "    "))]
    assert lines[1].startswith("member smallcap-breakout-eth (50%):")
    assert any(line.startswith("member gem (50%):") for line in lines)
    assert any(line.startswith("blend: hold ") for line in lines)
    result = CliRunner().invoke(main, ["signal", SEED_GEM, "--data-dir", str(shared_data)])
    assert result.exit_code == 0, result.output
    assert "Ranking decided on" in result.stdout  # GEM's ranking table


def test_compare_runs_a_blend_beside_plain_configs(shared_data, tmp_path):
    out = tmp_path / "compare"
    gem = str(CONFIGS / "taa" / "gem.yaml")
    args = ["compare", SEED_GEM, TRANCHES, gem, "--data-dir", str(shared_data), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["columns"][:3] == ["seed-gem", "gtaa5-tranches", "gem"]
    assert payload["range"]["start"] == "2018-03-01"


def test_the_audit_of_a_blend_and_of_a_config_in_tranches_is_clean(shared_data):
    for path in (SEED_GEM, TRANCHES):
        raw = yaml.safe_load(open(path).read())
        report = api.audit(path, data_dir=shared_data, start="2020-01-02", cuts=2, seed=3)
        assert report.clean, (raw["name"], report.as_dict())
        assert all(cut.bars_changed > 0 for cut in report.cuts)


def test_the_api_runs_a_blend_as_it_runs_a_config(shared_data):
    run = api.run(SEED_GEM, data_dir=shared_data, start="2024-01-02")
    assert run.config.name == "seed-gem" and len(run.config.members) == 2
    assert list(run.weights["target"].columns) == ["IWM", "SPY", "EFA", "AGG"]
    assert run.regimes.iloc[-1].count("|") == 1
    assert set(run.result.blend.alone_stats) == {"smallcap-breakout-eth", "gem"}
    assert run.stats["period"]["start"] == "2024-01-02"
