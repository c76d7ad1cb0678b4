"""Pure formatters for everything the cockpit prints.

Every function accepts None, NaN and ±inf and returns NA for them, so a
missing sensor or a missing bar never renders as a misleading 0.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Iterable

NA = "n/a"
ABSENT = "absent"


def finite(x: float | int | None) -> bool:
    """True for a real, finite number (bools are not numbers here)."""
    if x is None or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except TypeError:
        return False


def price(x: float | None) -> str:
    """A price with decimals that suit its size: 9,123.45 · 187.20 · 5.123 · 0.3141 · 0.00001234."""
    if not finite(x):
        return NA
    magnitude = abs(x)
    if magnitude >= 100 or magnitude == 0:
        return f"{x:,.2f}"
    if magnitude >= 1:
        return f"{x:,.3f}"
    if magnitude >= 0.01:
        return f"{x:.4f}"
    return f"{x:.4g}" if magnitude < 1e-6 else f"{x:.8f}".rstrip("0")


def change_pct(fraction: float | None, *, decimals: int = 2) -> str:
    """A signed change given as a fraction: 0.0123 → '+1.23%'."""
    if not finite(fraction):
        return NA
    value = fraction * 100
    if round(value, decimals) == 0:
        return f"{0:.{decimals}f}%"
    return f"{value:+.{decimals}f}%"


def percent(value: float | None, *, decimals: int = 0) -> str:
    """A value already in percent: 45.2 → '45%'."""
    if not finite(value):
        return NA
    return f"{value:.{decimals}f}%"


def megabytes(mb: float | None) -> str:
    """Memory given in MB (2**20 bytes): 412 MB, 3.2 GB, 15.8 GB."""
    if not finite(mb):
        return NA
    if abs(mb) >= 1024:
        return f"{mb / 1024:.1f} GB"
    if abs(mb) >= 10 or mb == 0:
        return f"{mb:.0f} MB"
    return f"{mb:.1f} MB"


def celsius(c: float | None) -> str:
    if not finite(c):
        return NA
    return f"{c:.1f} °C"


def clock_mhz(mhz: float | None) -> str:
    """A CPU clock: 2.40 GHz, 600 MHz."""
    if not finite(mhz):
        return NA
    if mhz >= 1000:
        return f"{mhz / 1000:.2f} GHz"
    return f"{mhz:.0f} MHz"


def milliseconds(ms: float | None) -> str:
    """A latency: 0.42 ms, 3.4 ms, 123 ms, 1.23 s."""
    if not finite(ms):
        return NA
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def duration(seconds: float | None) -> str:
    """A span of time, two units at most: 12s, 3m 05s, 2h 01m, 3d 04h."""
    if not finite(seconds) or seconds < 0:
        return NA
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    minutes, s = divmod(s, 60)
    if minutes < 60:
        return f"{minutes}m {s:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def stale(seconds: float | None) -> str:
    """'stale 12s' — how long since fresh data arrived."""
    if not finite(seconds) or seconds < 0:
        return f"stale {NA}"
    return f"stale {duration(seconds).replace(' ', '')}"


def market_time(ts_ns: int | None) -> str:
    """Market time of a bar (ns since the epoch, UTC): '2019-03-04 12:30Z'."""
    if not finite(ts_ns) or ts_ns <= 0:
        return NA
    moment = datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M") + "Z"


def axis_time(ts_ns: int, *, with_date: bool) -> str:
    """A short chart-axis label: '12:30' or '03-04'."""
    if not finite(ts_ns) or ts_ns <= 0:
        return ""
    moment = datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc)
    return moment.strftime("%m-%d" if with_date else "%H:%M")


def wall_clock(epoch_s: float | None) -> str:
    """Local wall time of day for log lines: '14:03:27'."""
    if not finite(epoch_s) or epoch_s < 0:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(epoch_s))


def count(n: int | float | None) -> str:
    if not finite(n):
        return NA
    return f"{n:,.0f}"


def probability(p: float | None) -> str:
    """A probability in [0, 1] as two decimals: '0.63'."""
    if not finite(p):
        return NA
    return f"{p:.2f}"


def speed(bars_per_second: float | None) -> str:
    """Replay speed: '4 bar/s', '0.5 bar/s', 'max'."""
    if not finite(bars_per_second):
        return NA
    if bars_per_second <= 0:
        return "max speed"
    return f"{bars_per_second:g} bar/s"


def flags(names: Iterable[str] | None) -> str:
    """Throttle flags: None = sensor absent, empty = all clear."""
    if names is None:
        return ABSENT
    names = tuple(names)
    return ", ".join(names) if names else "ok"


def elide(text: str, width: int) -> str:
    """One line of at most `width` characters, ending in '…' when cut."""
    line = " ".join(text.split())
    if width <= 0:
        return ""
    if len(line) <= width:
        return line
    return line[: width - 1] + "…"


def money(x: float | None, *, signed: bool = False) -> str:
    """An amount of quote currency, two decimals: 1,234.56 (signed: +12.30, -4.00, 0.00)."""
    if not finite(x):
        return NA
    if signed and round(x, 2) != 0:
        return f"{x:+,.2f}"
    return f"{0.0 if round(x, 2) == 0 else x:,.2f}"


def quantity(x: float | None) -> str:
    """An order or position size: 0.012346, 12.5, 1,250.00."""
    if not finite(x):
        return NA
    if abs(x) >= 1000:
        return f"{x:,.2f}"
    return f"{x:.6g}"


def share(fraction: float | None, *, decimals: int = 0) -> str:
    """A fraction in [0, 1] as a percentage: 0.125 → '12%' (or '12.5%' with decimals=1)."""
    if not finite(fraction):
        return NA
    return f"{fraction * 100:.{decimals}f}%"


def versus(value: float | None, baseline: float | None) -> str:
    """A rate next to its baseline: '54% / 52%' (n/a for a missing side)."""
    return f"{share(value)} / {share(baseline)}"


def countdown(seconds: float | None) -> str:
    """Time left, never negative: '42s', '1m 05s'; '0s' once it ran out."""
    if not finite(seconds):
        return NA
    return duration(max(seconds, 0.0))
