"""External series in what a user reads (docs/series.md): `rotation signal` states each
series' latest value, its release and whether it is overdue; the tearsheet has a panel
per series. A small hand-made market and SYNTHETIC monthly series written by the test."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from tests.series_data import write_series

LAST = "2024-06-28"  # a Friday: the latest close of the market


def setup(tmp_path, last_value: str) -> str:
    """A market of AAA and BBB (weekdays to LAST), a month-end series PE from 2023-01-31
    to `last_value` (lag 15) and a config reading it; the config's path."""
    days = pd.bdate_range("2023-01-02", LAST)
    for ticker, step in (("AAA", 0.0004), ("BBB", 0.0002)):
        close = 100 * np.exp(step * np.arange(len(days)))
        frame = pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Open": close})
        frame.assign(High=close, Low=close, Close=close, Volume=1e6).to_csv(
            tmp_path / f"{ticker}.csv", index=False
        )
    months = pd.date_range("2023-01-31", last_value, freq="ME")
    write_series(tmp_path / "PE.csv", months, [18 + (i % 4) for i in range(len(months))])
    raw = {
        "name": "series-state",
        "data": {"source": "csv", "dir": ".", "start": "2023-06-01",
                 "series": {"PE": {"lag_days": 15}}},
        "universe": ["AAA", "BBB"],
        "signals": {"rich": {"type": "level", "series": "PE", "above": 20}},
        "regimes": [{"name": "a", "when": "rich", "weights": {"AAA": 1.0}},
                    {"name": "b", "weights": {"BBB": 1.0}}],
        "benchmark": {"AAA": 1.0},
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    return str(tmp_path / "config.yaml")


@pytest.fixture(autouse=True)
def _today_is_the_next_session(monkeypatch):
    """`rotation signal` is asked on Mon 2024-07-01, the session after the prices end: the
    answer is not stale (its staleness against the clock: tests/test_signal_freshness.py)."""
    monkeypatch.setenv("ROTATION_TODAY", "2024-07-01")


def test_signal_states_the_latest_release_and_the_next_one(tmp_path):
    config = setup(tmp_path, "2024-06-30")
    cli = CliRunner().invoke(main, ["signal", config, "--json"])
    assert cli.exit_code == 0, cli.output
    state = json.loads(cli.stdout)["series"]["PE"]
    # 2024-05-31 + 15 days = Sat 2024-06-15: known at the close of Fri 2024-06-28,
    # 13 days before; 2024-06-30's value is due 2024-07-15, after it
    assert state == {
        "date": "2024-05-31",
        "value": 18 + (16 % 4),  # the 17th month-end value
        "released": "2024-06-15",
        "age_days": 13,
        "spacing_days": 31.0,  # median of the month-end gaps (28 to 31 days)
        "stale": False,
        "pending": {"date": "2024-06-30", "released": "2024-07-15"},
    }
    text = CliRunner().invoke(main, ["signal", config]).stdout
    sentence = " ".join(text.split("\n", 1)[1].split())  # wrapped at 80 columns
    assert sentence.startswith(
        "PE: 18 dated 2024-05-31, known since 2024-06-15 16:00 New York (next: 2024-06-30, "
        "due 2024-07-15) rich:"
    )


def test_a_release_older_than_its_usual_spacing_is_called_stale(tmp_path, caplog):
    config = setup(tmp_path, "2024-01-31")  # the file stops in January
    with caplog.at_level(logging.WARNING, logger="rotation.data"):
        cli = CliRunner().invoke(main, ["signal", config, "--json"])
    assert cli.exit_code == 0, cli.output
    state = json.loads(cli.stdout)["series"]["PE"]
    # released 2024-02-15, 134 days before 2024-06-28: more than 1.5 x 31 days
    assert (state["released"], state["age_days"], state["stale"]) == ("2024-02-15", 134, True)
    assert state["pending"] is None
    assert (
        "data.series.PE: the latest value (2024-01-31, released 2024-02-15) is 134 days old, "
        "more than 1.5 times its usual spacing of 31 days; is PE.csv up to date?"
    ) in caplog.text
    text = CliRunner().invoke(main, ["signal", config]).stdout
    assert "STALE: released 134 days ago, its values come every 31 days" in " ".join(text.split())


def test_the_tearsheet_has_a_panel_per_series_with_its_releases(tmp_path):
    config = setup(tmp_path, "2024-06-30")
    out = tmp_path / "run"
    cli = CliRunner().invoke(main, ["run", config, "--out", str(out), "--tearsheet"])
    assert cli.exit_code == 0, cli.output
    page = (out / "tearsheet.html").read_text()
    assert 'id="series"' in page and "External series" in page
    assert "PE: each value as known from its release" in page
    assert "released (16:00 New York)" in page and "rich on" in page
    series = pd.read_csv(out / "series.csv")
    # from the value in force on 2023-06-01 (2023-04-30, released 2023-05-15) to the
    # last one released by LAST (2024-05-31, released 2024-06-15)
    assert (series["date"].iloc[0], series["date"].iloc[-1]) == ("2023-04-30", "2024-05-31")


def test_a_run_without_series_writes_no_series_file_nor_panel(tmp_path):
    config = setup(tmp_path, "2024-06-30")
    raw = yaml.safe_load(open(config))
    del raw["data"]["series"]
    raw["signals"]["rich"]["series"] = "AAA"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "run"
    cli = CliRunner().invoke(main, ["run", config, "--out", str(out), "--tearsheet"])
    assert cli.exit_code == 0, cli.output
    assert not (out / "series.csv").exists()
    assert "External series" not in (out / "tearsheet.html").read_text()
    state = json.loads(CliRunner().invoke(main, ["signal", config, "--json"]).stdout)
    assert "series" not in state
