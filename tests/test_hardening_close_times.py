"""Close times cannot move a bar before its own date, and the audit judges bars by label
date, so a close-time override that uses a bar before its day is over is a leak."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict
from engine.errors import ConfigError
from tests.conftest import CONFIGS

ETH_CONFIG = CONFIGS / "smallcap_breakout_eth.yaml"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def with_eth_close(tmp_path, close: dict):
    """The main config with `data.close_times: {ETH-USD: close}`, written beside the test."""
    raw = yaml.safe_load(ETH_CONFIG.read_text())
    raw["data"]["close_times"] = {"ETH-USD": close}
    path = tmp_path / "eth_close.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def minimal(day_offset: int) -> dict:
    return {
        "name": "n",
        "data": {
            "start": "2024-03-04",
            "close_times": {
                "ETH-USD": {"time": "16:00", "tz": "America/New_York", "day_offset": day_offset}
            },
        },
        "universe": ["SPY"],
        "regimes": [{"name": "all", "weights": {"SPY": 1.0}}],
    }


@pytest.mark.parametrize("day_offset", [-1, -100000, 8])
def test_a_day_offset_outside_0_to_7_is_refused_naming_the_field(tmp_path, day_offset):
    path = with_eth_close(
        tmp_path, {"time": "16:00", "tz": "America/New_York", "day_offset": day_offset}
    )
    out = tmp_path / "run"
    result = invoke("run", path, "--data-dir", tmp_path, "--out", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "data.close_times.ETH-USD.day_offset: " in lines[0]
    assert f"must be 0 to 7 (days after the bar's label date), not {day_offset}" in lines[0]
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize("day_offset", [0, 1, 7])
def test_day_offsets_from_0_to_7_are_accepted(day_offset):
    close = config_from_dict(minimal(day_offset)).data.close_times["ETH-USD"]
    assert close.day_offset == day_offset


def test_the_audit_refuses_a_negative_day_offset_before_any_work(tmp_path):
    path = with_eth_close(tmp_path, {"time": "00:00", "tz": "UTC", "day_offset": -1})
    result = invoke("audit", path, "--data-dir", tmp_path / "absent")
    assert result.exit_code == 2
    assert "data.close_times.ETH-USD.day_offset: " in result.output
    with pytest.raises(ConfigError, match=r"day_offset: .*not -1"):
        config_from_dict(minimal(-1))


def test_the_audit_reports_eth_used_at_the_equity_close_of_its_own_date(shared_data, tmp_path):
    """ETH's bar labels a UTC day, complete at 00:00 UTC the next day; declaring it final at
    16:00 New York on its label date lets each decision see ~4 hours of the future. The
    audit rewrites that bar (by label date), so the ETH signal changes on the cut date."""
    path = with_eth_close(tmp_path, {"time": "16:00", "tz": "America/New_York", "day_offset": 0})
    args = ("audit", path, "--data-dir", shared_data, "--cuts", "2", "--seed", "0")
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "Look-ahead audit: LEAKS" in result.output
    assert "Look-ahead: signal eth_risk_on changed on 20" in result.output
    as_json = invoke(*args, "--json")
    assert as_json.exit_code == 1
    leak = json.loads(as_json.stdout)["first_leak"]
    assert leak["signals"] == ["eth_risk_on"] and leak["first_date"] == leak["cut"]


@pytest.mark.parametrize(
    "close",
    [
        {"time": "00:00", "tz": "UTC", "day_offset": 1},  # the default, spelled out
        {"time": "16:00", "tz": "America/New_York", "day_offset": 1},  # later than needed
    ],
)
def test_an_honest_eth_close_time_audits_clean(shared_data, tmp_path, close):
    """The audit flags what a close time uses too early, not the presence of an override."""
    path = with_eth_close(tmp_path, close)
    result = invoke("audit", path, "--data-dir", shared_data, "--cuts", "2", "--seed", "0")
    assert result.exit_code == 0, result.output
    assert "Look-ahead audit: clean" in result.output
