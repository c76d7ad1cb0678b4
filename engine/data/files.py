"""Import the trader's own OHLCV files (CSV, Parquet, Feather) into a CandlePanel.

Columns `date, open, high, low, close, volume` (any case; `timestamp`,
`datetime` or `time` for the date), dates as ISO strings (UTC unless they
carry an offset) or epoch seconds / milliseconds. One file per symbol — the
symbol comes from the file stem (`BTC-USD.csv` → `BTC/USD`) or is given
explicitly — or one file with a `symbol` column. A row whose open, high,
low and close are all empty is a missing bar; any other empty cell is an
error. Every problem raises DataError naming the file, the row (CSV: line
number, the header being line 1; Parquet/Feather: 0-based row index) and
what is wrong. Nothing is sorted, deduplicated or filled silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.panel import FIELDS, TIMEFRAME_SECONDS, CandlePanel, timeframe_seconds
from engine.errors import DataError

PathArg = str | PathLike[str]
DATE_COLUMNS = ("date", "timestamp", "datetime", "time")
PRICE_FIELDS = ("open", "high", "low", "close")
SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet", ".feather": "feather"}
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class _Series:
    """One symbol's validated bars from one file (NaN prices = missing bar)."""

    symbol: str
    path: Path
    rows: np.ndarray  # row index in the file of each bar
    ts: np.ndarray  # int64 ns UTC, strictly increasing
    values: dict[str, np.ndarray]  # FIELDS → float64


def load_files(
    paths: PathArg | Sequence[PathArg] | Mapping[str, PathArg], timeframe: str | None = None
) -> CandlePanel:
    """Read, validate and align the files into one panel.

    `paths` is one path, a list of paths (symbols from the file stems or a
    `symbol` column), or a mapping {symbol: path} to name symbols explicitly.
    `timeframe` None means: the most common spacing between bars.
    """
    jobs = _jobs(paths)
    series: list[_Series] = []
    for symbol, path in jobs:
        series.extend(_read_series(path, symbol))
    _check_unique(series)

    if timeframe is None:
        timeframe = _infer_timeframe(series)
    step_ns = timeframe_seconds(timeframe) * _NS
    for s in series:
        _check_grid(s, step_ns, timeframe)

    t0 = min(int(s.ts[0]) for s in series)
    t1 = max(int(s.ts[-1]) for s in series)
    grid = np.arange(t0, t1 + step_ns, step_ns, dtype=np.int64)
    fields = {name: np.full((len(series), len(grid)), np.nan) for name in FIELDS}
    for row, s in enumerate(series):
        cols = (s.ts - t0) // step_ns
        for name in FIELDS:
            fields[name][row, cols] = s.values[name]

    names = list(dict.fromkeys(path.name for _, path in jobs))
    return CandlePanel(
        symbols=tuple(s.symbol for s in series),
        timeframe=timeframe,
        ts=grid,
        source="files · " + ", ".join(names),
        synthetic=False,
        meta=tuple(("file." + s.symbol, str(s.path)) for s in series),
        **fields,
    )


def symbol_from_stem(stem: str) -> str:
    """`btc-usd` → `BTC/USD`, `ETH_USDT` → `ETH/USDT`, `BTC/USD` stays."""
    name = stem.strip().upper()
    if "/" not in name:
        for sep in ("-", "_"):
            if sep in name:
                base, _, quote = name.partition(sep)
                return f"{base}/{quote}"
    return name


# --- reading ------------------------------------------------------------------


def _jobs(paths: PathArg | Sequence[PathArg] | Mapping[str, PathArg]) -> list[tuple[str | None, Path]]:
    if isinstance(paths, Mapping):
        jobs = [(str(symbol), Path(path)) for symbol, path in paths.items()]
    elif isinstance(paths, (str, PathLike)):
        jobs = [(None, Path(paths))]
    else:
        jobs = [(None, Path(p)) for p in paths]
    if not jobs:
        raise DataError("no data files given")
    return jobs


def _kind(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    raise DataError(f"{path}: unknown file type", hint="expected " + ", ".join(SUFFIXES))


def _stem(path: Path) -> str:
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


class _Where:
    """Names a row the way the trader will find it in that file."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.csv = path, kind == "csv"

    def label(self, index: int) -> str:
        return f"line {index + 2}" if self.csv else f"row {index}"

    def error(self, index: int, what: str, count: int = 1) -> DataError:
        more = f" (and {count - 1} more row{'s' * (count > 2)} like it)" if count > 1 else ""
        return DataError(f"{self.path}: {self.label(index)}: {what}{more}")


def _read_table(path: Path, kind: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if kind == "csv":
            # Strings in, so a bad number can be reported instead of turning the column into text;
            # blank lines kept so that index + 2 is the line number.
            df = pd.read_csv(path, dtype=str, skip_blank_lines=False)
        elif kind == "parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_feather(path)
    except (OSError, ValueError) as exc:  # pandas parser and pyarrow errors derive from these
        raise DataError(f"{path}: cannot read as {kind}: {exc}") from exc
    return df.reset_index(drop=True)


def _columns(df: pd.DataFrame, path: Path) -> dict[str, str]:
    by_name: dict[str, str] = {}
    for col in df.columns:
        by_name.setdefault(str(col).strip().lower(), col)
    found = ", ".join(map(str, df.columns)) or "none"
    dates = [c for c in DATE_COLUMNS if c in by_name]
    if not dates:
        raise DataError(f"{path}: missing column 'date' (or timestamp/datetime/time); found columns: {found}")
    if len(dates) > 1:
        raise DataError(f"{path}: more than one date column ({', '.join(by_name[c] for c in dates)}); keep one")
    mapping = {"date": by_name[dates[0]]}
    for name in FIELDS:
        if name not in by_name:
            raise DataError(f"{path}: missing column {name!r}; found columns: {found}")
        mapping[name] = by_name[name]
    if "symbol" in by_name:
        mapping["symbol"] = by_name["symbol"]
    return mapping


def _read_series(path: Path, symbol: str | None) -> list[_Series]:
    kind = _kind(path)
    where = _Where(path, kind)
    df = _read_table(path, kind)
    cols = _columns(df, path)
    if len(df) == 0:
        raise DataError(f"{path}: no rows")

    values = {name: _numbers(df[cols[name]], name, where) for name in FIELDS}
    ts = _dates(df[cols["date"]], where)
    _check_rows(values, where)

    if "symbol" not in cols:
        name = symbol if symbol is not None else symbol_from_stem(_stem(path))
        return [_series(name, path, np.arange(len(df)), ts, values, where, in_file=False)]
    if symbol is not None:
        raise DataError(f"{path}: has a 'symbol' column, so it cannot also be named {symbol!r}")
    raw = _stripped(df[cols["symbol"]])
    empty = np.flatnonzero(raw.isna().to_numpy())
    if empty.size:
        raise where.error(int(empty[0]), "the symbol is empty", empty.size)
    names = raw.astype(str).map(symbol_from_stem).to_numpy()
    return [
        _series(name, path, np.flatnonzero(names == name), ts, values, where, in_file=True)
        for name in dict.fromkeys(names)
    ]


def _numbers(col: pd.Series, name: str, where: _Where) -> np.ndarray:
    """Float64 with NaN for empty cells; a cell that is not a finite number is an error."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        out = col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        empty = np.isnan(out)
    elif pd.api.types.is_string_dtype(col) or col.dtype == object:
        text = _stripped(col)
        empty = text.isna().to_numpy()
        out = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    else:
        raise DataError(f"{where.path}: column {col.name!r} has type {col.dtype}, expected numbers for {name}")
    bad = np.flatnonzero(~empty & ~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        raise where.error(i, f"{name} {col.iloc[i]!r} is not a number", bad.size)
    return out


def _stripped(col: pd.Series) -> pd.Series:
    """Cells as stripped strings (vectorised for string columns), missing where empty."""
    if pd.api.types.is_string_dtype(col):
        text = col.str.strip()
    else:
        text = col.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    return text.mask(text.isna() | (text == ""))


def _dates(col: pd.Series, where: _Where) -> np.ndarray:
    """Parse to int64 ns UTC; a missing or unparseable date is an error naming the row."""
    is_datetime = pd.api.types.is_datetime64_any_dtype(col)
    text = col if is_datetime else _stripped(col)
    empty = np.flatnonzero(text.isna().to_numpy())
    if empty.size:
        raise where.error(int(empty[0]), "the date is empty", empty.size)
    if is_datetime:
        parsed = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
    else:
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().all():
            parsed = _from_epoch(numeric.to_numpy(dtype=np.float64), where)
        else:
            parsed = pd.to_datetime(text.astype(str), utc=True, errors="coerce", format="ISO8601")
            bad = np.flatnonzero(parsed.isna().to_numpy())
            if bad.size:
                i = int(bad[0])
                raise where.error(
                    i, f"cannot parse date {col.iloc[i]!r} (expected ISO 8601 or epoch seconds/ms)", bad.size
                )
    return parsed.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _from_epoch(values: np.ndarray, where: _Where) -> pd.Series:
    # Epoch seconds stay below 1e11 until the year 5138; milliseconds pass 1e11 in 1973.
    unit = "ms" if np.median(np.abs(values)) >= 1e11 else "s"
    scale = 1_000_000 if unit == "ms" else _NS
    too_big = np.flatnonzero(np.abs(values) >= 9.2e18 / scale)
    if too_big.size:
        i = int(too_big[0])
        raise where.error(i, f"epoch {unit} {values[i]:g} is out of range", too_big.size)
    if np.all(values == np.floor(values)):
        ns = values.astype(np.int64) * scale  # exact for whole seconds / milliseconds
    else:
        ns = np.round(values * scale).astype(np.int64)
    return pd.Series(pd.to_datetime(ns, unit="ns", utc=True))


# --- validation ---------------------------------------------------------------


def _check_rows(values: dict[str, np.ndarray], where: _Where) -> None:
    prices = np.stack([values[name] for name in PRICE_FIELDS])
    empty = np.isnan(prices)
    missing_bar = empty.all(axis=0)
    partial = empty.any(axis=0) & ~missing_bar
    if partial.any():
        i = int(np.flatnonzero(partial)[0])
        cells = ", ".join(n for n, e in zip(PRICE_FIELDS, empty[:, i]) if e)
        raise where.error(i, f"{cells} empty but not the whole bar (leave all of open/high/low/close empty "
                             "for a missing bar)", int(partial.sum()))
    vol_empty = np.isnan(values["volume"]) & ~missing_bar
    if vol_empty.any():
        raise where.error(int(np.flatnonzero(vol_empty)[0]), "volume is empty", int(vol_empty.sum()))
    values["volume"][missing_bar] = np.nan

    o, h, lo, c, v = (values[name] for name in FIELDS)
    with np.errstate(invalid="ignore"):
        checks = (
            (h < lo, lambda i: f"high {h[i]:g} < low {lo[i]:g}"),
            (h < np.maximum(o, c), lambda i: f"high {h[i]:g} < max(open {o[i]:g}, close {c[i]:g})"),
            (lo > np.minimum(o, c), lambda i: f"low {lo[i]:g} > min(open {o[i]:g}, close {c[i]:g})"),
            (v < 0, lambda i: f"negative volume {v[i]:g}"),
        )
    for bad, describe in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise where.error(i, describe(i), int(bad.sum()))


def _series(
    symbol: str,
    path: Path,
    rows: np.ndarray,
    ts_all: np.ndarray,
    values: dict[str, np.ndarray],
    where: _Where,
    *,
    in_file: bool,
) -> _Series:
    """The bars at `rows`, checked for duplicate and unsorted timestamps."""
    ts = ts_all[rows]
    of = f" for {symbol}" if in_file else ""
    if ts.size > 1:
        step = np.diff(ts)
        dup = np.flatnonzero(step == 0)
        if dup.size:
            i, first = int(rows[dup[0] + 1]), int(rows[dup[0]])
            raise where.error(i, f"duplicate timestamp {_fmt(ts_all[i])}{of} "
                                 f"(same as {where.label(first)})", dup.size)
        back = np.flatnonzero(step < 0)
        if back.size:
            i, prev = int(rows[back[0] + 1]), int(rows[back[0]])
            raise where.error(i, f"timestamps not sorted: {_fmt(ts_all[i])} comes after "
                                 f"{_fmt(ts_all[prev])}{of} (sort the file by time)", back.size)
    return _Series(symbol, path, rows, ts, {name: values[name][rows] for name in FIELDS})


def _check_unique(series: list[_Series]) -> None:
    seen: dict[str, Path] = {}
    for s in series:
        if s.symbol in seen:
            raise DataError(f"symbol {s.symbol} comes from both {seen[s.symbol]} and {s.path}",
                            hint="name the symbols explicitly or rename one file")
        seen[s.symbol] = s.path


def _infer_timeframe(series: list[_Series]) -> str:
    steps = np.concatenate([np.diff(s.ts) for s in series])
    if steps.size == 0:
        raise DataError("cannot infer the timeframe from single-bar files", hint="give the timeframe explicitly")
    values, counts = np.unique(steps, return_counts=True)
    step_ns = int(values[np.argmax(counts)])
    for name, seconds in TIMEFRAME_SECONDS.items():
        if seconds * _NS == step_ns:
            return name
    files = ", ".join(dict.fromkeys(str(s.path) for s in series))
    raise DataError(f"{files}: the most common bar spacing, {step_ns / _NS:g} s, is no known timeframe",
                    hint="expected one of " + ", ".join(TIMEFRAME_SECONDS))


def _check_grid(s: _Series, step_ns: int, timeframe: str) -> None:
    off = np.flatnonzero(s.ts % step_ns)
    if off.size:
        first = int(off[0])
        what = (f"timestamp {_fmt(int(s.ts[first]))} is off the {timeframe} grid "
                f"(bars must open on multiples of {timeframe} from 00:00 UTC)")
        raise _Where(s.path, _kind(s.path)).error(int(s.rows[first]), what, off.size)


def _fmt(ts_ns: int) -> str:
    return str(np.datetime64(int(ts_ns), "ns").astype("datetime64[s]")).replace("T", " ") + " UTC"
