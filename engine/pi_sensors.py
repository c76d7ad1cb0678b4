"""Raspberry Pi sensor parsers (vcgencmd, thermal zone) and platform facts.

Pure functions over text: the monitor runs the commands, these decode them.
Every parser raises ValueError naming what it was given when the text is
not what the firmware prints, so garbage never turns into a plausible 0.
"""

from __future__ import annotations

import os
import platform
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

# Outside this range a reading is a broken driver, not a temperature.
MIN_PLAUSIBLE_C = -40.0
MAX_PLAUSIBLE_C = 150.0

DEVICE_TREE_MODEL_PATHS: tuple[str, ...] = (
    "/proc/device-tree/model",
    "/sys/firmware/devicetree/base/model",
)
CPUINFO_PATH = "/proc/cpuinfo"

_THROTTLED_RE = re.compile(r"throttled=0x([0-9a-fA-F]{1,8})")
_CLOCK_RE = re.compile(r"frequency\(\d+\)=(\d+)")
_TEMP_RE = re.compile(r"temp=(-?\d+(?:\.\d+)?)(?:'|°)C")

# (bit, short name) in bit order; bits 16-19 repeat 0-3 as "since boot".
_NOW_BITS: tuple[tuple[int, str], ...] = (
    (0, "under-voltage"),
    (1, "arm freq capped"),
    (2, "throttled"),
    (3, "soft temp limit"),
)
_PAST_SHIFT = 16


def _show(text: str, limit: int = 60) -> str:
    shown = text.strip()
    return repr(shown if len(shown) <= limit else shown[:limit] + "...")


def _check_temp(value: float, source: str) -> float:
    if not MIN_PLAUSIBLE_C <= value <= MAX_PLAUSIBLE_C:
        raise ValueError(
            f"{source}: {value:g} °C is outside the plausible range "
            f"{MIN_PLAUSIBLE_C:g}..{MAX_PLAUSIBLE_C:g} °C"
        )
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleState:
    """The bits of `vcgencmd get_throttled`; build it from `raw` alone."""

    raw: int
    under_voltage: bool = field(init=False)
    arm_freq_capped: bool = field(init=False)
    throttled: bool = field(init=False)
    soft_temp_limit: bool = field(init=False)
    under_voltage_occurred: bool = field(init=False)
    freq_capped_occurred: bool = field(init=False)
    throttled_occurred: bool = field(init=False)
    soft_temp_limit_occurred: bool = field(init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.raw <= 0xFFFFFFFF:
            raise ValueError(f"throttle bits must fit 32 bits, got {self.raw:#x}")
        names = (
            ("under_voltage", 0),
            ("arm_freq_capped", 1),
            ("throttled", 2),
            ("soft_temp_limit", 3),
            ("under_voltage_occurred", 16),
            ("freq_capped_occurred", 17),
            ("throttled_occurred", 18),
            ("soft_temp_limit_occurred", 19),
        )
        for name, bit in names:
            object.__setattr__(self, name, bool(self.raw >> bit & 1))

    def active_flags(self) -> tuple[str, ...]:
        """Short names of the conditions in force right now."""
        return tuple(name for bit, name in _NOW_BITS if self.raw >> bit & 1)

    def past_flags(self) -> tuple[str, ...]:
        """Short names of the conditions that occurred since boot."""
        return tuple(
            name for bit, name in _NOW_BITS if self.raw >> (bit + _PAST_SHIFT) & 1
        )


def parse_throttled(text: str) -> ThrottleState:
    """`throttled=0x50005` → ThrottleState; ValueError on anything else."""
    match = _THROTTLED_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"vcgencmd get_throttled: expected 'throttled=0x<hex>', got {_show(text)}"
        )
    return ThrottleState(raw=int(match.group(1), 16))


def parse_measure_clock(text: str) -> float:
    """`frequency(48)=2400000000` → 2400.0 (MHz); ValueError on garbage or 0 Hz."""
    match = _CLOCK_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"vcgencmd measure_clock: expected 'frequency(<n>)=<hz>', got {_show(text)}"
        )
    hertz = int(match.group(1))
    if hertz == 0:
        raise ValueError(
            "vcgencmd measure_clock: the firmware reported 0 Hz (clock unknown to it)"
        )
    return hertz / 1_000_000


def parse_measure_temp(text: str) -> float:
    """`temp=52.1'C` → 52.1 (°C); ValueError on garbage or implausible values."""
    match = _TEMP_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"vcgencmd measure_temp: expected \"temp=<deg>'C\", got {_show(text)}"
        )
    return _check_temp(float(match.group(1)), "vcgencmd measure_temp")


def read_thermal_zone(path: str | os.PathLike[str]) -> float | None:
    """Millidegrees in a sysfs thermal zone file → °C.

    None when the file is absent or unreadable (no such sensor); ValueError
    naming the file when it holds something that is not a sane temperature.
    """
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    try:
        millidegrees = int(text.strip())
    except ValueError:
        raise ValueError(
            f"{path}: expected millidegrees as an integer, got {_show(text)}"
        ) from None
    return _check_temp(millidegrees / 1000, str(path))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformInfo:
    """What the cockpit runs on; `cockpit doctor` prints it."""

    machine: str
    is_raspberry_pi: bool
    model: str | None
    cores: int
    python_version: str
    userland_64bit: bool


def _read_device_tree_model(paths: tuple[str, ...]) -> str | None:
    for candidate in paths:
        try:
            raw = Path(candidate).read_bytes()
        except OSError:
            continue
        model = raw.rstrip(b"\x00\n ").decode("utf-8", errors="replace")
        if model:
            return model
    return None


def _read_cpuinfo_model(path: str) -> str | None:
    """x86 'model name', else the 'Model' line Pi kernels add (not x86's numeric 'model')."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    found: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and value.strip():
            found.setdefault(key.strip(), value.strip())
    return found.get("model name") or found.get("Model")


def describe_platform(
    *,
    model_paths: tuple[str, ...] = DEVICE_TREE_MODEL_PATHS,
    cpuinfo_path: str = CPUINFO_PATH,
) -> PlatformInfo:
    """Machine, model (device tree, else /proc/cpuinfo), cores, Python, userland width.

    `userland_64bit` is the interpreter's pointer size: a 32-bit Pi OS on a
    64-bit kernel reports machine 'aarch64' yet runs a 32-bit userland.
    """
    model = _read_device_tree_model(model_paths) or _read_cpuinfo_model(cpuinfo_path)
    return PlatformInfo(
        machine=platform.machine(),
        is_raspberry_pi=model is not None and model.startswith("Raspberry Pi"),
        model=model,
        cores=os.cpu_count() or 1,
        python_version=platform.python_version(),
        userland_64bit=struct.calcsize("P") == 8,
    )
