"""The on-disk candle cache: layout, merge/dedupe, atomic writes, clear errors, panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.cache import COLUMNS, CandleCache
from engine.errors import ConfigError, DataError

H_MS = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def rows(start: int, stop: int, close_offset: float = 0.0) -> list[list[float]]:
    """ccxt-style hourly rows for bar indices [start, stop)."""
    return [[T0 + i * H_MS, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i + close_offset, 10.0 + i]
            for i in range(start, stop)]


def test_layout_columns_and_round_trip(tmp_path):
    cache = CandleCache.in_data_dir(tmp_path)
    cache.write("binance", "BTC/USDT", "1h", rows(0, 5))
    path = tmp_path / "cache" / "binance" / "BTC-USDT_1h.parquet"
    assert cache.path("binance", "BTC/USDT", "1h") == path and path.is_file()

    frame = cache.read("binance", "BTC/USDT", "1h")
    assert tuple(frame.columns) == COLUMNS
    assert str(frame["date"].dtype) == "datetime64[ns, UTC]"
    assert frame["date"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert frame["close"].tolist() == [100.5, 101.5, 102.5, 103.5, 104.5]
    assert cache.last_open_ms("binance", "BTC/USDT", "1h") == T0 + 4 * H_MS
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_write_merges_dedupes_and_sorts(tmp_path):
    cache = CandleCache(tmp_path)
    cache.write("binance", "ETH/USDT", "1h", rows(0, 10))
    newer = rows(5, 15, close_offset=0.25)[::-1]  # overlapping, revised, out of order
    merged = cache.write("binance", "ETH/USDT", "1h", newer)

    frame = cache.read("binance", "ETH/USDT", "1h")
    assert len(frame) == len(merged) == 15
    assert frame["date"].is_monotonic_increasing and frame["date"].is_unique
    assert frame["close"].iloc[4] == 104.5  # untouched
    assert frame["close"].iloc[5] == 105.75  # the newer row wins a duplicate date


def test_write_accepts_a_frame(tmp_path):
    cache = CandleCache(tmp_path)
    frame = pd.DataFrame(rows(0, 3), columns=COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"], unit="ms", utc=True)
    cache.write("kraken", "BTC/USD", "1h", frame)
    assert len(cache.read("kraken", "BTC/USD", "1h")) == 3


def test_off_grid_row_names_file_and_row(tmp_path):
    cache = CandleCache(tmp_path)
    bad = rows(0, 3)
    bad[2][0] += 60_000
    with pytest.raises(DataError, match=r"BTC-USDT_1h\.parquet: row 2 .* off the 1h grid"):
        cache.write("binance", "BTC/USDT", "1h", bad)
    assert not cache.exists("binance", "BTC/USDT", "1h")


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    cache = CandleCache(tmp_path)
    cache.write("binance", "BTC/USDT", "1h", rows(0, 3))

    def broken(self, path, **kw):
        with open(path, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        cache.write("binance", "BTC/USDT", "1h", rows(3, 6))
    monkeypatch.undo()
    assert len(cache.read("binance", "BTC/USDT", "1h")) == 3
    assert len(list((tmp_path / "binance").iterdir())) == 1


def test_damaged_or_incomplete_files_name_the_file(tmp_path):
    cache = CandleCache(tmp_path)
    path = cache.path("binance", "BTC/USDT", "1h")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="BTC-USDT_1h.parquet: not a readable Parquet file"):
        cache.read("binance", "BTC/USDT", "1h")

    pd.DataFrame({"date": pd.to_datetime([T0], unit="ms", utc=True), "open": [1.0]}).to_parquet(path)
    with pytest.raises(DataError, match="missing column.*high"):
        cache.read("binance", "BTC/USDT", "1h")

    frame = pd.DataFrame(rows(0, 3), columns=COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"][[0, 2, 1]].to_numpy(), unit="ms", utc=True)
    frame.to_parquet(path)
    with pytest.raises(DataError, match=r"row 2 .* is not after the row before it"):
        cache.read("binance", "BTC/USDT", "1h")


def test_unsafe_names_are_refused(tmp_path):
    cache = CandleCache(tmp_path)
    with pytest.raises(ConfigError):
        cache.path("../etc", "BTC/USDT", "1h")
    with pytest.raises(ConfigError):
        cache.path("binance", "../../x", "1h")
    with pytest.raises(ConfigError, match="timeframe"):
        cache.path("binance", "BTC/USDT", "7m")
    assert cache.path("binanceusdm", "BTC/USDT:USDT", "1h").name == "BTC-USDT--USDT_1h.parquet"


def test_to_panel_aligns_symbols_on_one_grid(tmp_path):
    cache = CandleCache(tmp_path)
    cache.write("binance", "BTC/USDT", "1h", rows(0, 10))
    eth = [r for r in rows(3, 12) if r[0] != T0 + 6 * H_MS]  # starts later, has a hole, ends later
    cache.write("binance", "ETH/USDT", "1h", eth)

    panel = cache.to_panel("binance", ("BTC/USDT", "ETH/USDT"), "1h")
    assert panel.n_bars == 12 and panel.source == "cache:binance"
    assert panel.ts[0] == T0 * 1_000_000 and np.all(np.diff(panel.ts) == H_MS * 1_000_000)
    assert np.isnan(panel.close[0, 10:]).all() and np.isfinite(panel.close[0, :10]).all()
    assert np.isnan(panel.close[1, [0, 1, 2, 6]]).all()
    assert panel.close[1, 7] == 107.5

    with pytest.raises(DataError, match="no cached 1h candles for SOL/USDT.*cockpit fetch"):
        cache.to_panel("binance", ("SOL/USDT",), "1h")
