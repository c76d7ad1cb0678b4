"""Importing the trader's own OHLCV files: good files align, bad ones name file + row."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.files import load_files, symbol_from_stem
from engine.errors import ConfigError, DataError

CANDLES = Path(__file__).parent / "data" / "candles"
T0 = pd.Timestamp("2019-01-01 00:00", tz="UTC").value  # ns
HALF_HOUR = 1800 * 10**9


def test_good_files_align_on_one_grid() -> None:
    panel = load_files([CANDLES / "BTC-USD.csv", CANDLES / "ETH-USD.csv", CANDLES / "watchlist.csv"])
    assert panel.symbols == ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD")
    assert panel.timeframe == "30m"
    assert panel.ts[0] == T0
    assert np.all(np.diff(panel.ts) == HALF_HOUR)
    assert panel.n_bars == 8  # 00:00 .. 03:30
    assert not panel.synthetic
    assert "BTC-USD.csv" in panel.source

    btc = panel.symbols.index("BTC/USD")
    # columns mapped by name; line 2 of BTC-USD.csv
    assert (panel.open[btc, 0], panel.high[btc, 0], panel.low[btc, 0], panel.close[btc, 0]) == (
        3700.0, 3712.5, 3695.0, 3710.0)
    assert panel.volume[btc, 0] == 12.5
    # 01:00 is an all-empty row (missing bar), 02:00 is absent from the file: both NaN, nothing filled
    for i in (2, 4):
        assert all(np.isnan(panel.field(f)[btc, i]) for f in ("open", "high", "low", "close", "volume"))
    assert panel.close[btc, 5] == 3702.5
    assert panel.volume[btc, 6] == 0.0  # zero volume is allowed

    eth = panel.symbols.index("ETH/USD")  # epoch milliseconds, capitalised headers
    assert np.isnan(panel.close[eth, 0]) and panel.close[eth, 1] == 141.0 and panel.close[eth, 7] == 140.0

    ltc, xrp = panel.symbols.index("LTC/USD"), panel.symbols.index("XRP/USD")  # symbol column, epoch s
    assert list(panel.close[ltc, :3]) == [31.2, 31.1, 31.4]
    assert panel.close[xrp, 3] == 0.349 and np.isnan(panel.close[xrp, 2])


def test_explicit_symbol_names() -> None:
    panel = load_files({"XBT/EUR": CANDLES / "BTC-USD.csv"})
    assert panel.symbols == ("XBT/EUR",)


def test_symbol_from_stem() -> None:
    assert symbol_from_stem("BTC-USD") == "BTC/USD"
    assert symbol_from_stem("eth_usdt") == "ETH/USDT"
    assert symbol_from_stem("SOL") == "SOL"


def test_explicit_timeframe_overrides_inference() -> None:
    panel = load_files(CANDLES / "BTC-USD.csv", timeframe="15m")
    assert panel.timeframe == "15m" and panel.n_bars == 13
    with pytest.raises(DataError, match=r"off the 1h grid"):
        load_files(CANDLES / "BTC-USD.csv", timeframe="1h")
    with pytest.raises(ConfigError, match="unknown timeframe"):
        load_files(CANDLES / "BTC-USD.csv", timeframe="7m")


@pytest.mark.parametrize(
    ("name", "line", "what"),
    [
        ("bad_number.csv", 4, r"close '37x5\.0' is not a number"),
        ("bad_date.csv", 5, r"cannot parse date '2019-01-32 01:30:00'"),
        ("high_below_low.csv", 3, r"high 3700 < low 3705\.5"),
        ("high_below_body.csv", 4, r"high 3718 < max\(open 3715, close 3719\)"),
        ("low_above_body.csv", 2, r"low 3701 > min\(open 3700, close 3710\)"),
        ("negative_volume.csv", 5, r"negative volume -1"),
        ("duplicate_timestamp.csv", 4, r"duplicate timestamp 2019-01-01 00:30:00 UTC \(same as line 3\)"),
        ("unsorted.csv", 4, r"not sorted: 2019-01-01 00:30:00 UTC comes after 2019-01-01 01:00:00 UTC"),
        ("partial_row.csv", 3, r"close empty but not the whole bar"),
        ("off_grid.csv", 5, r"2019-01-01 01:07:00 UTC is off the 30m grid"),
    ],
)
def test_bad_csv_names_file_and_line(name: str, line: int, what: str) -> None:
    path = CANDLES / name
    with pytest.raises(DataError) as info:
        load_files([CANDLES / "BTC-USD.csv", path])
    message = str(info.value)
    assert message.startswith(f"{path}: line {line}: "), message
    assert re.search(what, message), message


def test_missing_column_is_named_with_found_columns() -> None:
    path = CANDLES / "missing_column.csv"
    with pytest.raises(DataError) as info:
        load_files(path)
    message = str(info.value)
    assert str(path) in message and "'volume'" in message
    assert "found columns: date, open, high, low, close" in message


def test_missing_date_column(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text("when,open,high,low,close,volume\n2019-01-01,1,1,1,1,1\n")
    with pytest.raises(DataError, match=r"X\.csv: missing column 'date'.*found columns: when, open"):
        load_files(path)


def test_blank_line_keeps_line_numbers_exact(tmp_path: Path) -> None:
    path = tmp_path / "A-USD.csv"
    path.write_text(
        "date,open,high,low,close,volume\n"
        "2019-01-01 00:00,1,2,0.5,1.5,3\n"
        "\n"
        "2019-01-01 01:00,1,2,0.5,1.5,3\n"
    )
    with pytest.raises(DataError, match=r"A-USD\.csv: line 3: the date is empty"):
        load_files(path)


def test_error_counts_further_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "A-USD.csv"
    path.write_text(
        "date,open,high,low,close,volume\n"
        "2019-01-01 00:00,1,2,0.5,1.5,-3\n"
        "2019-01-01 00:30,1,2,0.5,1.5,-3\n"
        "2019-01-01 01:00,1,2,0.5,1.5,-3\n"
    )
    with pytest.raises(DataError, match=r"line 2: negative volume -3 \(and 2 more rows like it\)"):
        load_files(path)


def test_iso_dates_with_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "A-USD.csv"
    path.write_text(
        "DATE,OPEN,HIGH,LOW,CLOSE,VOLUME\n"
        "2019-01-01T01:00:00+01:00,1,2,0.5,1.5,3\n"
        "2019-01-01T00:30:00Z,1,2,0.5,1.5,3\n"
    )
    panel = load_files(path)
    assert list(panel.ts) == [T0, T0 + HALF_HOUR]


def test_same_symbol_twice_is_an_error(tmp_path: Path) -> None:
    copy = tmp_path / "btc_usd.csv"
    shutil.copy(CANDLES / "BTC-USD.csv", copy)
    with pytest.raises(DataError, match="BTC/USD comes from both"):
        load_files([CANDLES / "BTC-USD.csv", copy])


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown file type"):
        load_files(tmp_path / "a.xlsx")
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_files(tmp_path / "nope.csv")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Timestamp": pd.date_range("2019-01-01", periods=4, freq="1h"),
            "open": [1.0, 2.0, np.nan, 4.0],
            "high": [1.5, 2.5, np.nan, 4.5],
            "low": [0.5, 1.5, np.nan, 3.5],
            "close": [1.2, 2.2, np.nan, 4.2],
            "volume": [10.0, 20.0, np.nan, 40.0],
        }
    )


@pytest.mark.parametrize("suffix", [".parquet", ".feather"])
def test_parquet_and_feather(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"SOL-USD{suffix}"
    df = _frame()
    df.to_parquet(path) if suffix == ".parquet" else df.to_feather(path)
    panel = load_files(path)
    assert panel.symbols == ("SOL/USD",) and panel.timeframe == "1h"
    assert panel.ts[0] == T0 and panel.n_bars == 4
    assert np.isnan(panel.close[0, 2]) and panel.close[0, 3] == 4.2


@pytest.mark.parametrize("suffix", [".parquet", ".feather"])
def test_parquet_and_feather_errors_name_row_index(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"SOL-USD{suffix}"
    df = _frame()
    df.loc[3, "high"] = 3.0  # below low 3.5
    df.to_parquet(path) if suffix == ".parquet" else df.to_feather(path)
    with pytest.raises(DataError) as info:
        load_files(path)
    assert str(info.value).startswith(f"{path}: row 3: high 3 < low 3.5")


def test_symbol_column_file_cannot_also_be_named() -> None:
    with pytest.raises(DataError, match="has a 'symbol' column"):
        load_files({"LTC/USD": CANDLES / "watchlist.csv"})
