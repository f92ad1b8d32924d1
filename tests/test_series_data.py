"""External series at the boundary (docs/series.md): the loader's checks and its error
lines, the config rules of `data.series`, and what a run records. Every file here is a
small synthetic one written by the test."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict, load_config
from engine.data.series import read_series
from engine.errors import ConfigError, DataError
from tests.series_data import write_series

MONTH_ENDS = ["2024-01-31", "2024-02-29", "2024-03-31"]


def read(path: Path, column: str = "Value"):
    return read_series(path, "PE", column, 15)


def base(**data) -> dict:
    """A small valid config reading the external series PE (a level signal on it)."""
    return {
        "name": "series",
        "data": {"source": "csv", "dir": "prices", "start": "2024-01-02", **data},
        "universe": ["AAA", "BBB"],
        "signals": {"cheap": {"type": "level", "series": "PE", "above": 20}},
        "regimes": [
            {"name": "a", "when": "cheap", "weights": {"AAA": 1.0}},
            {"name": "b", "weights": {"BBB": 1.0}},
        ],
        "benchmark": {"AAA": 1.0},
    }


def problems(raw: dict) -> str:
    with pytest.raises(ConfigError) as error:
        config_from_dict(raw)
    return str(error.value)


# ---------------------------------------------------------------- the loader


def test_values_are_read_with_their_dates_lag_and_the_files_sha256(tmp_path):
    path = write_series(tmp_path / "PE.csv", MONTH_ENDS, [18.0, 18.5, 19.25])
    series = read(path)
    assert series.values.tolist() == [18.0, 18.5, 19.25]
    assert [str(d.date()) for d in series.values.index] == MONTH_ENDS
    # the release date of each value: its date + 15 calendar days
    assert [str(d.date()) for d in series.released] == ["2024-02-15", "2024-03-15", "2024-04-15"]
    assert series.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert series.record()["rows"] == 3 and series.record()["file"] == "PE.csv"


def test_empty_cells_drop_their_rows_with_one_counting_warning(tmp_path, caplog):
    path = tmp_path / "PE.csv"
    path.write_text("Date,Value\n2024-01-31,18\n2024-02-29,\n2024-03-31,.\n2024-04-30,19\n")
    with caplog.at_level("WARNING", logger="rotation.data"):
        series = read(path)
    assert series.values.tolist() == [18.0, 19.0] and series.dropped == 2
    assert "data.series.PE: 2 empty value(s) in PE.csv dropped (first on 2024-02-29)" in (
        caplog.text
    )


def test_the_value_column_is_found_by_name_then_ignoring_case(tmp_path):
    path = tmp_path / "PE.csv"
    path.write_text("date,Note,pe_ratio\n2024-01-31,x,18\n2024-02-29,y,19\n")
    assert read(path, "PE_RATIO").values.tolist() == [18.0, 19.0]


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("Date,PE\n2024-01-31,18\n", "Value", "no column 'Value' (data.series.PE.column); found"),
        ("Day,Value\n2024-01-31,18\n", "Value", "no Date column; found ['Day', 'Value']"),
        (
            "Date,Value\n2024-01-31,18\n2024-02-29,n.a.\n",
            "Value",
            "Value on 2024-02-29 (row 3) is 'n.a.', not a number; fix or delete that row",
        ),
        ("Date,Value\n2024-01-31,inf\n", "Value", "(row 2) is 'inf', not within"),
        (
            "Date,Value\n2024-02-29,18\n2024-01-31,19\n",
            "Value",
            "row 3 has date 2024-01-31, not after the row before (2024-02-29); dates must be "
            "strictly increasing",
        ),
        (
            "Date,Value\n2024-01-31,18\n2024-01-31,19\n",
            "Value",
            "row 3 has date 2024-01-31, not after the row before",
        ),
        ("Date,Value\n2024-13-31,18\n", "Value", "row 2 has date '2024-13-31'"),
        ("Date,Value\n2024-01-31,\n", "Value", "no values in column 'Value'"),
        ("", "Value", "the file is empty; it needs a header row (Date,Value) and values"),
    ],
    ids=[
        "missing-column",
        "no-date-column",
        "not-a-number",
        "infinite",
        "out-of-order",
        "date-twice",
        "bad-date",
        "all-empty",
        "empty-file",
    ],
)
def test_a_bad_file_is_one_error_naming_the_file_and_row(tmp_path, text, column, message):
    path = tmp_path / "PE.csv"
    path.write_text(text)
    with pytest.raises(DataError) as error:
        read(path, column)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_a_missing_file_or_a_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"no such file \(data.series.PE\)"):
        read(tmp_path / "PE.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match="is a folder, not a regular file"):
        read(tmp_path / "dir.csv")


def test_a_file_longer_than_any_series_is_refused_before_parsing(tmp_path, monkeypatch):
    import engine.data.series

    monkeypatch.setattr(engine.data.series, "MAX_ROWS", 2)
    path = write_series(tmp_path / "PE.csv", MONTH_ENDS, [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="more than 2 rows"):
        read(path)


# ---------------------------------------------------------------- the config


def test_a_series_file_is_relative_to_the_config_file_and_not_in_its_hash(tmp_path):
    raw = base(series={"PE": {"file": "pe/PE.csv", "lag_days": 15}})
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.yaml").write_text(yaml.safe_dump(raw))
    one = load_config(tmp_path / "one" / "config.yaml")
    two = load_config(tmp_path / "two" / "config.yaml")
    assert one.data.series["PE"].file == (tmp_path / "one" / "pe" / "PE.csv").resolve()
    assert one.hash() == two.hash()  # where the file sits is not the strategy
    assert one.tickers() == ["AAA", "BBB"]  # the series is read from its file, not a source


def test_a_config_without_series_resolves_as_before():
    resolved = config_from_dict(base()).resolved()
    assert "series" not in resolved["data"]  # same config.yaml bytes and hash as before
    with_one = config_from_dict(base(series={"PE": {}})).resolved()
    assert with_one["data"]["series"] == {"PE": {"file": None, "column": "Value", "lag_days": 1}}


@pytest.mark.parametrize(
    "lag, message",
    [
        (-1, "data.series.PE.lag_days: must be 0 to 730 calendar days, not -1"),
        (1.5, "data.series.PE.lag_days: must be a whole number of calendar days, not 1.5"),
        (True, "data.series.PE.lag_days: must be a number, not true"),
        ("15", "data.series.PE.lag_days: must be a number, not the text '15'"),
    ],
)
def test_a_negative_or_fractional_lag_is_refused(lag, message):
    assert message in problems(base(series={"PE": {"lag_days": lag}}))


@pytest.mark.parametrize(
    "name, where",
    [
        ("AAA", "universe"),
        ("BBB", "universe"),
        ("SPY", "benchmark"),
        ("CCC", "universe"),  # a ranked asset is in the universe
        ("DDD", "regimes[0].rank.min_score"),
        ("EEE", "regimes[0].rank.filter.other"),
    ],
)
def test_a_series_name_used_as_a_ticker_is_refused(name, where):
    raw = base(series={name: {}})
    raw["universe"] = ["AAA", "BBB", "CCC", "ZZZ"]
    raw["benchmark"] = {"SPY": 1.0}
    raw["scores"] = {"mom": {"type": "momentum", "lookback": 5}}
    rank = {"assets": ["CCC", "ZZZ"], "score": "mom", "top": 1, "min_score": "DDD"}
    rank["filter"] = {"type": "correlation", "other": "EEE", "window": 5, "above": 0.1}
    raw["regimes"][0] = {"name": "a", "when": "cheap", "rank": rank}
    raw["signals"]["cheap"]["series"] = name
    text = problems(raw)
    assert f"data.series.{name}: {name} is also used as a ticker ({where}); an external " in text


def test_a_series_needs_a_file_without_a_data_folder_and_a_capital_name():
    text = problems(base(source="yfinance", series={"PE": {}}))
    assert "data.series.PE.file: the yfinance source has no data folder to find PE.csv in" in text
    assert "data.series.pe: 'pe' is not a series name; use capitals" in problems(
        base(series={"pe": {}})
    )


def test_a_series_takes_no_close_time_and_no_split_exemption():
    raw = base(series={"PE": {}}, allow_jumps=["PE"])
    raw["data"]["close_times"] = {"PE/AAA": {"time": "09:00", "tz": "UTC"}}
    text = problems(raw)
    assert "data.close_times.PE/AAA: PE is an external series" in text
    assert "set data.series.PE.lag_days instead" in text
    assert "data.allow_jumps: PE is an external series, not a price" in text


# ---------------------------------------------------------------- a run


def _market(folder: Path) -> None:
    days = pd.bdate_range("2023-06-01", "2024-06-28")
    for ticker, drift in (("AAA", 0.001), ("BBB", -0.0005)):
        close = 100 * (1 + drift) ** pd.RangeIndex(len(days)).to_numpy()
        frame = pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Open": close, "High": close})
        frame = frame.assign(Low=close, Close=close, Volume=1000)
        frame.to_csv(folder / f"{ticker}.csv", index=False)


def test_the_run_manifest_records_each_series_file_and_release(tmp_path):
    (tmp_path / "prices").mkdir()
    _market(tmp_path / "prices")
    dates = pd.date_range("2023-01-31", "2024-05-31", freq="ME")
    path = write_series(tmp_path / "PE.csv", dates, [19.0 + (i % 3) for i in range(len(dates))])
    raw = base(series={"PE": {"file": "PE.csv", "lag_days": 15}})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "run"
    cli = CliRunner().invoke(main, ["run", str(tmp_path / "config.yaml"), "--out", str(out)])
    assert cli.exit_code == 0, cli.output
    record = json.loads((out / "manifest.json").read_text())["data"]["PE"]
    assert record == {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "first": "2023-01-31",
        "last": "2024-05-31",
        "rows": 17,
        "file": "PE.csv",
        "lag_days": 15,
    }
    series = pd.read_csv(out / "series.csv")
    assert list(series.columns) == ["series", "date", "released", "value"]
    # from the value in force on the first backtest date (2023-12-31, released 2024-01-15)
    assert series["date"].iloc[0] == "2023-11-30" and series["released"].iloc[0] == "2023-12-15"
    assert series["released"].iloc[-1] <= "2024-06-28"


def test_a_missing_series_file_stops_the_run_with_one_error_line(tmp_path):
    (tmp_path / "prices").mkdir()
    _market(tmp_path / "prices")
    raw = base(series={"PE": {"file": "pe/PE.csv"}})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "x"
    cli = CliRunner().invoke(main, ["run", str(tmp_path / "config.yaml"), "--out", str(out)])
    assert cli.exit_code == 2
    wanted = f"Error: {(tmp_path / 'pe' / 'PE.csv').resolve()}: no such file (data.series.PE)"
    assert cli.output.startswith(wanted) and cli.output.count("\n") == 1
    assert not out.exists()


def test_a_yfinance_config_reads_its_series_from_the_local_file(tmp_path):
    """The price source does not matter: the series comes from its file, prices from the
    source (here frames in memory standing in for yfinance)."""
    from engine.data import MemorySource
    from engine.runner import run_backtest

    (tmp_path / "prices").mkdir()
    _market(tmp_path / "prices")
    frames = {
        ticker: pd.read_csv(
            tmp_path / "prices" / f"{ticker}.csv", index_col="Date", parse_dates=True
        )
        for ticker in ("AAA", "BBB")
    }
    dates = pd.date_range("2023-01-31", "2024-05-31", freq="ME")
    write_series(tmp_path / "pe" / "PE.csv", dates, [15.0 + 3 * (i % 4) for i in range(len(dates))])
    raw = base(source="yfinance", series={"PE": {"file": "pe/PE.csv", "lag_days": 15}})
    del raw["data"]["dir"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tmp_path / "config.yaml")
    result = run_backtest(config, MemorySource(frames))
    assert result.series["PE"].values.tolist()[:2] == [15.0, 18.0]
    assert result.signals["cheap"].any() and not result.signals["cheap"].all()
