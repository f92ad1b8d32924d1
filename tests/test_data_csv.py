"""CsvSource reads the CSV shapes people have and rejects anything else clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data import CsvSource, DataError
from tests.yahoo_replica import WEEKDAYS, histories, yahoo_download

NEED = (
    "need Date, Open, High, Low, Close, Volume (Adj Close optional; any letter case), "
    "or a yfinance CSV export (Price and Ticker header rows)"
)


def load(folder, ticker="SPY") -> pd.DataFrame:
    return CsvSource(folder).load([ticker])[ticker]


def expected_spy() -> pd.DataFrame:
    frame = histories()["SPY"].astype(float)
    frame.index = pd.DatetimeIndex(WEEKDAYS.as_unit("ns"), name="date")
    return frame[["Open", "High", "Low", "Close", "Volume"]]


def test_yfinance_download_export(tmp_path):
    """`yfinance.download("SPY").to_csv(...)`: Price / Ticker / Date header rows."""
    reply = yahoo_download({"SPY": histories()["SPY"]})
    reply.to_csv(tmp_path / "SPY.csv")
    assert (tmp_path / "SPY.csv").read_text().splitlines()[:3] == [
        "Price,Close,High,Low,Open,Volume",
        "Ticker,SPY,SPY,SPY,SPY,SPY",
        "Date,,,,,",
    ]
    pd.testing.assert_frame_equal(load(tmp_path), expected_spy(), check_freq=False)


def test_yfinance_download_export_grouped_by_ticker_and_of_several_tickers(tmp_path):
    reply = yahoo_download({"SPY": histories()["SPY"], "ETH-USD": histories()["ETH-USD"]})
    swapped = reply.copy()
    swapped.columns = swapped.columns.swaplevel(0, 1)
    swapped.sort_index(axis=1).to_csv(tmp_path / "SPY.csv")
    assert (tmp_path / "SPY.csv").read_text().startswith("Ticker,")
    pd.testing.assert_frame_equal(load(tmp_path), expected_spy(), check_freq=False)
    reply.to_csv(tmp_path / "IWM.csv")
    with pytest.raises(
        DataError,
        match=r"IWM.csv: a yfinance export of \['ETH-USD', 'SPY'\] "
        r"without 'IWM'",
    ):
        load(tmp_path, "IWM")


def test_ticker_history_export_with_time_zone_offsets(tmp_path):
    """`yf.Ticker("SPY").history(period="max").to_csv(...)`: dates carry a time and offset."""
    history = histories()["SPY"].assign(Dividends=0.0, **{"Stock Splits": 0.0})
    history.to_csv(tmp_path / "SPY.csv")
    assert (
        (tmp_path / "SPY.csv").read_text().splitlines()[1].startswith("2024-01-02 00:00:00-05:00,")
    )
    pd.testing.assert_frame_equal(load(tmp_path), expected_spy(), check_freq=False)


def test_lower_case_shape(tmp_path):
    frame = expected_spy().rename(columns=str.lower)
    frame.to_csv(tmp_path / "SPY.csv")
    assert (tmp_path / "SPY.csv").read_text().startswith("date,open,high,low,close,volume\n")
    pd.testing.assert_frame_equal(load(tmp_path), expected_spy(), check_freq=False)


def test_yahoo_shape_with_adj_close_is_adjusted(tmp_path):
    (tmp_path / "ABC.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,10,12,9,11,5.5,100\n2024-01-03,11,12,10,12,6,200\n",
        encoding="utf-8",
    )
    frame = load(tmp_path, "ABC")
    assert frame["Close"].tolist() == [5.5, 6.0] and frame["Open"].tolist() == [5.0, 5.5]
    assert frame["Volume"].tolist() == [100.0, 200.0]


@pytest.mark.parametrize(
    "header, missing",
    [
        ("Date,Open,High,Low,Adj Close,Volume", "['Close']"),
        ("Day,Close", "['Date', 'Open', 'High', 'Low', 'Volume']"),
        ("timestamp,o,h,l,c,v", "['Date', 'Open', 'High', 'Low', 'Close', 'Volume']"),
    ],
)
def test_other_shapes_are_rejected_listing_found_and_needed(tmp_path, header, missing):
    row = ",".join(["2024-01-02", "1", "2", "0.5", "1.5", "10"][: len(header.split(","))])
    (tmp_path / "ABC.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load(tmp_path, "ABC")
    found = str(header.split(","))
    assert info.value.message == (
        f"{tmp_path / 'ABC.csv'}: missing columns {missing}; found {found}, {NEED}"
    )


def test_blank_or_null_close_is_a_missing_day_filled_by_the_gap_rule(tmp_path, caplog):
    frame = expected_spy()
    text = frame.rename_axis("Date").to_csv().splitlines()
    parts = text[6].split(",")
    text[6] = ",".join(parts[:4] + [""] + parts[5:])  # 2024-01-09: blank Close
    text[7] = ",".join([text[7].split(",")[0]] + ["null"] * 5)  # 2024-01-10: Yahoo's null row
    (tmp_path / "SPY.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    out = load(tmp_path)
    assert out.index.equals(frame.index)
    assert (out.loc["2024-01-09":"2024-01-10", "Close"] == out.loc["2024-01-08", "Close"]).all()
    assert "2 missing session(s) forward-filled" in caplog.text


def test_text_that_is_not_a_number_is_an_error_naming_the_row(tmp_path):
    (tmp_path / "ABC.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,x,1.5,10\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DataError,
        match=r"ABC.csv: Low on 2024-01-03 \(row 3\) is 'x', not a "
        r"number; fix or delete that row",
    ):
        load(tmp_path, "ABC")


@pytest.mark.parametrize("cell", ["2001-13-45", "01/02/2024", "yesterday"])
def test_a_bad_date_is_an_error_naming_the_row(tmp_path, cell):
    (tmp_path / "ABC.csv").write_text(
        f"Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n{cell},1,2,1,1.5,10\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DataError, match=f"ABC.csv: row 3 has date '{cell}'; dates must be YYYY-MM-DD"
    ):
        load(tmp_path, "ABC")


def test_duplicate_date_is_an_error(tmp_path):
    (tmp_path / "ABC.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,1,2,0.5,1.5,1.5,10\n2024-01-02,1,2,0.5,1.5,1.5,10\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="2024-01-02 appears twice"):
        load(tmp_path, "ABC")


def test_empty_file_and_missing_file(tmp_path):
    (tmp_path / "ABC.csv").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="ABC.csv: the file is empty"):
        load(tmp_path, "ABC")
    with pytest.raises(DataError, match=r"XYZ.csv: no such file \(needed for ticker 'XYZ'\)"):
        load(tmp_path, "XYZ")


def test_a_ragged_file_is_one_clear_line(tmp_path):
    (tmp_path / "ABC.csv").write_text("Date,Close\n2024-01-02,1,2,3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ABC.csv: cannot read it as CSV \(.*\)$") as info:
        load(tmp_path, "ABC")
    assert "\n" not in info.value.message


def test_volume_may_be_blank(tmp_path):
    (tmp_path / "ABC.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,\n2024-01-03,1,2,1,1.6,7\n",
        encoding="utf-8",
    )
    assert np.isnan(load(tmp_path, "ABC")["Volume"].iloc[0])
