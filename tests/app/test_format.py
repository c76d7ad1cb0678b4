import math

import pytest

from app import format as fmt
from app.widgets.glyphs import hbar, spark, vbar

BAD = [None, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("func", [
    fmt.price, fmt.change_pct, fmt.percent, fmt.megabytes, fmt.celsius, fmt.clock_mhz,
    fmt.milliseconds, fmt.duration, fmt.market_time, fmt.count, fmt.probability, fmt.speed,
])
@pytest.mark.parametrize("value", BAD)
def test_missing_values_read_na_never_zero(func, value):
    assert func(value) == fmt.NA


@pytest.mark.parametrize("value, text", [
    (9123.456, "9,123.46"), (187.2, "187.20"), (5.12345, "5.123"), (0.31416, "0.3142"),
    (0.00001234, "0.00001234"), (0.0, "0.00"), (-42.5, "-42.500"), (1e12, "1,000,000,000,000.00"),
])
def test_price_decimals_suit_the_magnitude(value, text):
    assert fmt.price(value) == text


def test_change_and_percent():
    assert fmt.change_pct(0.0123) == "+1.23%"
    assert fmt.change_pct(-0.5) == "-50.00%"
    assert fmt.change_pct(0.0) == "0.00%"
    assert fmt.change_pct(-0.00001) == "0.00%"  # no "-0.00%"
    assert fmt.change_pct(0.04812, decimals=1) == "+4.8%"
    assert fmt.percent(45.2) == "45%"
    assert fmt.percent(45.25, decimals=1) == "45.2%"


def test_sizes_temperatures_clocks_latencies():
    assert fmt.megabytes(412.3) == "412 MB"
    assert fmt.megabytes(3.25) == "3.2 MB"
    assert fmt.megabytes(0) == "0 MB"
    assert fmt.megabytes(16_000) == "15.6 GB"
    assert fmt.celsius(61.54) == "61.5 °C"
    assert fmt.clock_mhz(2400) == "2.40 GHz"
    assert fmt.clock_mhz(600) == "600 MHz"
    assert fmt.milliseconds(0.42) == "0.42 ms"
    assert fmt.milliseconds(3.44) == "3.4 ms"
    assert fmt.milliseconds(123.4) == "123 ms"
    assert fmt.milliseconds(1234) == "1.23 s"


def test_durations_and_staleness():
    assert fmt.duration(12.9) == "12s"
    assert fmt.duration(185) == "3m 05s"
    assert fmt.duration(2 * 3600 + 61) == "2h 01m"
    assert fmt.duration(3 * 86400 + 4 * 3600) == "3d 04h"
    assert fmt.duration(-1) == fmt.NA
    assert fmt.stale(12.4) == "stale 12s"
    assert fmt.stale(125) == "stale 2m05s"
    assert fmt.stale(None) == "stale n/a"


def test_times():
    ts = 1_551_700_800 * 10**9  # 2019-03-04 12:00 UTC
    assert fmt.market_time(ts) == "2019-03-04 12:00Z"
    assert fmt.market_time(0) == fmt.NA
    assert fmt.axis_time(ts, with_date=False) == "12:00"
    assert fmt.axis_time(ts, with_date=True) == "03-04"
    assert fmt.wall_clock(None) == "--:--:--"
    assert len(fmt.wall_clock(0.0)) == 8


def test_flags_counts_probabilities_speed_elide():
    assert fmt.flags(None) == fmt.ABSENT
    assert fmt.flags(()) == "ok"
    assert fmt.flags(("under-voltage", "throttled")) == "under-voltage, throttled"
    assert fmt.count(1234567) == "1,234,567"
    assert fmt.probability(0.634) == "0.63"
    assert fmt.speed(4) == "4 bar/s"
    assert fmt.speed(0.5) == "0.5 bar/s"
    assert fmt.speed(0) == "max speed"
    assert fmt.elide("a  long\nline of text", 9) == "a long l…"
    assert fmt.elide("short", 9) == "short"
    assert fmt.elide("x", 0) == ""
    assert fmt.finite(True) is False
    assert fmt.finite("3") is False


def test_bars_and_sparklines():
    assert hbar(0.5, 4) == "██  "
    assert hbar(1.0, 3) == "███"
    assert hbar(2.0, 3) == "███"
    assert hbar(0.0, 3) == "   "
    assert hbar(1 / 16, 2) == "▏ "
    assert hbar(None, 3) == "···"
    assert hbar(math.nan, 2) == "··"
    assert vbar(None) == "·"
    assert vbar(1.0) == "█" and vbar(0.0) == "▁"
    assert spark([0, 50, 100], 3, lo=0, hi=100) == "▁▅█"
    assert spark([1, None, 3], 5) == "  ▁ █"  # gaps stay blank, short history right-aligned
    assert spark([5, 5], 2) == "▅▅"
    assert spark([], 3) == "   "
    assert spark([1, 2, 3, 4], 2) == "▁█"  # newest values win
