"""On-disk candle cache: one Parquet file per (exchange, symbol, timeframe).

Layout: `<cache_dir>/<exchange>/<BASE-QUOTE>_<timeframe>.parquet` (a data
directory keeps it in `<data_dir>/cache`), columns date (UTC), open, high,
low, close, volume; rows sorted by date, one per bar, on the timeframe grid.
Writes merge with what is on disk (the newer row wins a duplicate date) and
replace the file atomically. One writer per file at a time.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from engine.data.panel import FIELDS, CandlePanel, timeframe_seconds
from engine.errors import ConfigError, DataError

COLUMNS = ("date", *FIELDS)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_NS_PER_MS = 1_000_000


def empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in COLUMNS})
    frame["date"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def frame_from_rows(rows: Sequence[Sequence[float]]) -> pd.DataFrame:
    """ccxt-style rows [open time ms, open, high, low, close, volume] as a cache frame."""
    if len(rows) == 0:
        return empty_frame()
    arr = np.asarray([tuple(r[:6]) for r in rows], dtype=np.float64)
    frame = pd.DataFrame(arr[:, 1:], columns=list(FIELDS))
    frame.insert(0, "date", pd.to_datetime(arr[:, 0].astype(np.int64), unit="ms", utc=True).as_unit("ns"))
    return frame


def open_ms(frame: pd.DataFrame) -> np.ndarray:
    """The date column as int64 milliseconds since the epoch."""
    return frame["date"].dt.as_unit("ns").astype("int64").to_numpy() // _NS_PER_MS


class CandleCache:
    """Read, merge and write cached candles; build panels from them."""

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.root = Path(cache_dir)

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str]) -> "CandleCache":
        return cls(Path(data_dir) / "cache")

    def path(self, exchange: str, symbol: str, timeframe: str) -> Path:
        timeframe_seconds(timeframe)
        name = symbol.replace("/", "-").replace(":", "--")
        for label, value in (("exchange", exchange), ("symbol", name)):
            if not _SAFE_NAME.match(value) or value.startswith("."):
                raise ConfigError(f"cannot cache under {label} {value!r}",
                                  hint="letters, digits, '.', '-', '_' and one '/' or ':' in a symbol")
        return self.root / exchange / f"{name}_{timeframe}.parquet"

    def exists(self, exchange: str, symbol: str, timeframe: str) -> bool:
        return self.path(exchange, symbol, timeframe).is_file()

    def read(self, exchange: str, symbol: str, timeframe: str) -> pd.DataFrame:
        """The cached candles (an empty frame when nothing is cached yet)."""
        path = self.path(exchange, symbol, timeframe)
        if not path.is_file():
            return empty_frame()
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise DataError(f"{path}: not a readable Parquet file ({exc})",
                            hint="delete it and fetch again") from exc
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}",
                            hint="expected " + ", ".join(COLUMNS))
        frame = frame.loc[:, list(COLUMNS)].reset_index(drop=True)
        frame["date"] = _utc(frame["date"], path)
        for name in FIELDS:
            frame[name] = frame[name].astype("float64")
        _check(frame, timeframe, path, sorted_unique=True)
        return frame

    def last_open_ms(self, exchange: str, symbol: str, timeframe: str) -> int | None:
        frame = self.read(exchange, symbol, timeframe)
        return int(open_ms(frame)[-1]) if len(frame) else None

    def write(self, exchange: str, symbol: str, timeframe: str,
              rows: pd.DataFrame | Sequence[Sequence[float]]) -> pd.DataFrame:
        """Merge `rows` (a frame with COLUMNS or ccxt-style rows) into the file; returns the merged frame."""
        path = self.path(exchange, symbol, timeframe)
        new = rows.loc[:, list(COLUMNS)].copy() if isinstance(rows, pd.DataFrame) else frame_from_rows(rows)
        new["date"] = _utc(new["date"], path)
        _check(new.reset_index(drop=True), timeframe, path, sorted_unique=False)
        old = self.read(exchange, symbol, timeframe)
        merged = new if old.empty else pd.concat([old, new], ignore_index=True)
        merged = (merged.drop_duplicates("date", keep="last")
                  .sort_values("date", kind="stable").reset_index(drop=True))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            merged.to_parquet(tmp, index=False)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return merged

    def to_panel(self, exchange: str, symbols: Sequence[str], timeframe: str) -> CandlePanel:
        """Cached candles of `symbols` on one regular grid; missing bars are NaN."""
        frames: dict[str, pd.DataFrame] = {}
        for symbol in symbols:
            if not self.exists(exchange, symbol, timeframe):
                raise DataError(f"no cached {timeframe} candles for {symbol} at "
                                f"{self.path(exchange, symbol, timeframe)}",
                                hint=f"run: cockpit fetch --exchange {exchange} --symbols {symbol} "
                                     f"--timeframe {timeframe} --since YYYY-MM-DD")
            frames[symbol] = self.read(exchange, symbol, timeframe)
        return align(tuple(symbols), timeframe, frames, source=f"cache:{exchange}")


def align(symbols: tuple[str, ...], timeframe: str, frames: Mapping[str, pd.DataFrame],
          *, source: str = "") -> CandlePanel:
    """Frames with COLUMNS on the regular grid spanning all of them (NaN where a symbol has no bar)."""
    tf_ms = timeframe_seconds(timeframe) * 1000
    stamps = {s: open_ms(frames[s]) for s in symbols}
    nonempty = [t for t in stamps.values() if len(t)]
    if not nonempty:
        return CandlePanel.from_bars(symbols, timeframe, [], source=source)
    first = min(int(t[0]) for t in nonempty)
    last = max(int(t[-1]) for t in nonempty)
    grid = np.arange(first, last + tf_ms, tf_ms, dtype=np.int64)
    values = np.full((len(FIELDS), len(symbols), len(grid)), np.nan)
    for s, symbol in enumerate(symbols):
        idx = (stamps[symbol] - first) // tf_ms
        values[:, s, idx] = frames[symbol].loc[:, list(FIELDS)].to_numpy(dtype=np.float64).T
    return CandlePanel(symbols, timeframe, grid * _NS_PER_MS, *values, source=source)


def _utc(dates: pd.Series, path: Path) -> pd.Series:
    if pd.api.types.is_integer_dtype(dates):
        dates = pd.to_datetime(dates, unit="ms", utc=True)
    elif not isinstance(dates.dtype, pd.DatetimeTZDtype):
        try:
            dates = pd.to_datetime(dates, utc=True)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: column date is not a date ({exc})") from exc
    return dates.dt.tz_convert("UTC").dt.as_unit("ns")


def _check(frame: pd.DataFrame, timeframe: str, path: Path, *, sorted_unique: bool) -> None:
    """Raise DataError naming the file and the first bad row."""
    if frame["date"].isna().any():
        row = int(np.flatnonzero(frame["date"].isna().to_numpy())[0])
        raise DataError(f"{path}: row {row} has no date")
    ms = open_ms(frame)
    tf_ms = timeframe_seconds(timeframe) * 1000
    off = np.flatnonzero(ms % tf_ms)
    if len(off):
        row = int(off[0])
        raise DataError(f"{path}: row {row} ({frame['date'].iloc[row]}) is off the {timeframe} grid")
    if sorted_unique and len(ms) > 1:
        bad = np.flatnonzero(np.diff(ms) <= 0)
        if len(bad):
            row = int(bad[0]) + 1
            raise DataError(f"{path}: row {row} ({frame['date'].iloc[row]}) is not after the row before it",
                            hint="rows must be sorted by date with no duplicates")
