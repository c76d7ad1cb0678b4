"""The platform checks of `cockpit doctor`: userland, Python, torch, RAM, disk, clock, sensors, threads.

Each check is a function of what it reads (a PlatformInfo, a psutil-like
module, a command runner, a Monitor), so tests feed it recorded outputs.
A check never raises: whatever goes wrong becomes a WARN or FAIL line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.monitor import Monitor, RunCommand
from engine.pi_sensors import PlatformInfo

Status = Literal["OK", "WARN", "FAIL"]
Value = float | int | str | bool | None

_MB = 1024 * 1024
ARM_MACHINES = ("aarch64", "arm64", "armv7l", "armv6l", "armv8l")
KERNELS_64 = ("aarch64", "arm64", "x86_64", "amd64")
SUPPORTED_PYTHON = ((3, 11), (3, 13))

RAM_FAIL_MB = 1024.0
RAM_WARN_MB = 1536.0
DISK_FAIL_MB = 500.0
DISK_WARN_MB = 2048.0
HOT_C = 80.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One line of the doctor's report: the measured value and what it means."""

    name: str
    status: Status
    summary: str
    value: Value = None
    unit: str = ""
    fix: str = ""


def _mb_text(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def check_userland(info: PlatformInfo, architecture: str) -> CheckResult:
    """64-bit interpreter on a 64-bit kernel; names the 32-bit-on-aarch64 Raspberry Pi OS trap."""
    bits = 64 if info.userland_64bit else 32
    where = f"{info.model} · " if info.model else ""
    found = f"{where}kernel {info.machine}, Python {bits}-bit (ELF {architecture})"
    if info.userland_64bit:
        return CheckResult(name="userland", status="OK", summary=found, value=bits, unit="bit")
    if info.machine.lower() in KERNELS_64:
        why = (f"a 32-bit userland on a 64-bit kernel ({info.machine}): 32-bit Raspberry Pi OS boots a 64-bit "
               "kernel on a Pi 4/5, so `uname -m` says aarch64 while every program is 32-bit. torch ships no "
               "32-bit ARM wheels and one process can address at most ~3 GB")
        fix = ("install Raspberry Pi OS (64-bit) with Raspberry Pi Imager and recreate the venv; "
               "`getconf LONG_BIT` must print 64 and `dpkg --print-architecture` arm64")
    else:
        why = f"a 32-bit kernel and userland ({info.machine})"
        fix = "install a 64-bit OS (Raspberry Pi OS 64-bit on a Pi) and recreate the venv"
    return CheckResult(name="userland", status="FAIL", summary=f"{found}: {why}", value=bits, unit="bit", fix=fix)


def check_python(version: str) -> CheckResult:
    """3.11–3.13 are supported; older cannot run the cockpit, newer is untested."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return CheckResult(name="python", status="WARN", summary=f"cannot read the version {version!r}",
                           value=version)
    low, high = SUPPORTED_PYTHON
    supported = f"{low[0]}.{low[1]}–{high[0]}.{high[1]}"
    if (major, minor) < low:
        return CheckResult(name="python", status="FAIL", value=version,
                           summary=f"Python {version} is older than the supported {supported}",
                           fix=f"create the venv with python{high[0]}.{high[1]} (or {low[0]}.{low[1]})")
    if (major, minor) > high:
        return CheckResult(name="python", status="WARN", value=version,
                           summary=f"Python {version} is newer than the tested {supported}; wheels may be missing")
    return CheckResult(name="python", status="OK", value=version, summary=f"Python {version} (supported {supported})")


def check_torch(load_torch: Callable[[], Any], machine: str,
                distributions: Callable[[], Iterable[str]]) -> tuple[CheckResult, CheckResult]:
    """torch imports, is a CPU-only build, and (on ARM) runs quantized ops through qnnpack."""
    try:
        torch = load_torch()
    except Exception as exc:  # noqa: BLE001 - a broken install raises anything; report it
        failed = f"torch does not import: {type(exc).__name__}: {exc}"
        return (CheckResult(name="torch", status="FAIL", summary=failed,
                            fix="reinstall the project: .venv/bin/pip install -e ."),
                CheckResult(name="quantized", status="FAIL", summary="needs torch, which does not import"))
    return _torch_build(torch, distributions), _quantized_engine(torch, machine)


def _torch_build(torch: Any, distributions: Callable[[], Iterable[str]]) -> CheckResult:
    version = str(torch.__version__)
    cuda = getattr(torch.version, "cuda", None)
    hip = getattr(torch.version, "hip", None)
    gpu_wheels = sorted({name for name in distributions() if name.lower().startswith("nvidia-")})
    extras = []
    if cuda:
        extras.append(f"built for CUDA {cuda}")
    if hip:
        extras.append(f"built for ROCm {hip}")
    if gpu_wheels:
        extras.append(f"{len(gpu_wheels)} nvidia-* packages installed ({', '.join(gpu_wheels[:3])}…)")
    if extras:
        return CheckResult(name="torch", status="WARN", value=version,
                           summary=f"torch {version}: {'; '.join(extras)} — GPU libraries the cockpit never uses",
                           fix="pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cpu "
                               "and pip uninstall the nvidia-* packages")
    return CheckResult(name="torch", status="OK", value=version, summary=f"torch {version}, CPU-only build")


def _quantized_engine(torch: Any, machine: str) -> CheckResult:
    quantized = torch.backends.quantized
    supported = [str(e) for e in quantized.supported_engines]
    listed = ", ".join(supported) or "none"
    if machine.lower() not in ARM_MACHINES:
        return CheckResult(name="quantized", status="OK", value=str(quantized.engine),
                           summary=f"engine {quantized.engine} on {machine} (supported: {listed})")
    if "qnnpack" not in supported:
        return CheckResult(name="quantized", status="FAIL", value=str(quantized.engine),
                           summary=f"qnnpack is missing on {machine} (supported: {listed}): int8 models cannot run",
                           fix="install the official aarch64 torch wheel from PyPI (pip install -e . does)")
    before = quantized.engine
    try:
        quantized.engine = "qnnpack"
        now = str(quantized.engine)
    except RuntimeError as exc:
        return CheckResult(name="quantized", status="FAIL", value=str(before),
                           summary=f"qnnpack is listed but cannot be selected on {machine}: {exc}",
                           fix="reinstall torch from PyPI's aarch64 wheel")
    finally:
        try:
            quantized.engine = before
        except RuntimeError:
            pass
    if now != "qnnpack":
        return CheckResult(name="quantized", status="FAIL", value=now,
                           summary=f"selecting qnnpack left the engine at {now} on {machine}")
    return CheckResult(name="quantized", status="OK", value="qnnpack",
                       summary=f"qnnpack selectable on {machine} (supported: {listed})")


def check_memory(psutil_module: Any) -> CheckResult:
    """Available RAM against the cockpit's ≤ 1 GB plus margin."""
    memory = psutil_module.virtual_memory()
    available = memory.available / _MB
    found = f"{_mb_text(available)} available of {_mb_text(memory.total / _MB)}"
    if available < RAM_FAIL_MB:
        return CheckResult(name="ram", status="FAIL", value=round(available), unit="MB",
                           summary=f"{found}: the cockpit needs up to 1 GB",
                           fix="close other programs or add swap (the models will swap and stall)")
    if available < RAM_WARN_MB:
        return CheckResult(name="ram", status="WARN", value=round(available), unit="MB",
                           summary=f"{found}: under the {_mb_text(RAM_WARN_MB)} margin for the cockpit's 1 GB")
    return CheckResult(name="ram", status="OK", value=round(available), unit="MB", summary=found)


def _existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or "/")


def check_disk(psutil_module: Any, data_dir: Path) -> CheckResult:
    """Free space where the data directory lives (or will, once created)."""
    measured_at = _existing(data_dir)
    try:
        free = psutil_module.disk_usage(str(measured_at)).free / _MB
    except OSError as exc:
        return CheckResult(name="disk", status="FAIL", summary=f"cannot measure free space at {measured_at}: {exc}")
    where = str(data_dir) if measured_at == data_dir else f"{data_dir} (not created yet; measured at {measured_at})"
    found = f"{_mb_text(free)} free for {where}"
    if free < DISK_FAIL_MB:
        return CheckResult(name="disk", status="FAIL", value=round(free), unit="MB", summary=found,
                           fix="free space or set [paths] data_dir to a bigger disk")
    if free < DISK_WARN_MB:
        return CheckResult(name="disk", status="WARN", value=round(free), unit="MB",
                           summary=f"{found}: under {_mb_text(DISK_WARN_MB)} (ledger, cache and checkpoints grow)")
    return CheckResult(name="disk", status="OK", value=round(free), unit="MB", summary=found)


_TIMEDATECTL_STATUS_RE = re.compile(r"^\s*(?:System clock synchronized|NTP synchronized):\s*(yes|no)\s*$",
                                    re.MULTILINE)
_CHRONY_LEAP_RE = re.compile(r"^Leap status\s*:\s*(.+?)\s*$", re.MULTILINE)
_CHRONY_OFFSET_RE = re.compile(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow) of NTP time", re.MULTILINE)
_CHRONY_REF_RE = re.compile(r"^Reference ID\s*:\s*(.+?)\s*$", re.MULTILINE)


def parse_timedatectl_show(text: str) -> bool:
    """`timedatectl show -p NTPSynchronized --value` → True/False; ValueError on anything else."""
    answer = text.strip()
    if answer not in ("yes", "no"):
        raise ValueError(f"timedatectl show: expected yes or no, got {answer[:60]!r}")
    return answer == "yes"


def parse_timedatectl_status(text: str) -> bool:
    """The 'System clock synchronized' (or older 'NTP synchronized') line of `timedatectl status`."""
    match = _TIMEDATECTL_STATUS_RE.search(text)
    if match is None:
        raise ValueError("timedatectl status: no 'System clock synchronized' line")
    return match.group(1) == "yes"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChronyTracking:
    synchronised: bool
    leap_status: str
    reference: str
    offset_seconds: float | None


def parse_chronyc_tracking(text: str) -> ChronyTracking:
    """`chronyc tracking` → whether chrony is synchronised, to what, and the offset it measured."""
    leap = _CHRONY_LEAP_RE.search(text)
    if leap is None:
        raise ValueError("chronyc tracking: no 'Leap status' line")
    offset = _CHRONY_OFFSET_RE.search(text)
    seconds = None
    if offset is not None:
        seconds = float(offset.group(1)) * (1 if offset.group(2) == "fast" else -1)
    reference = _CHRONY_REF_RE.search(text)
    status = leap.group(1)
    return ChronyTracking(synchronised=status != "Not synchronised", leap_status=status,
                          reference=reference.group(1) if reference else "", offset_seconds=seconds)


def check_clock(run: RunCommand, which: Callable[[str], str | None]) -> CheckResult:
    """NTP sync as systemd and chrony report it; nothing on the network is asked."""
    heard: list[str] = []
    unsynced: list[str] = []
    if which("timedatectl"):
        synced = _timedatectl(run, heard)
        if synced:
            return CheckResult(name="clock", status="OK", value=True, summary="synchronized (timedatectl)")
        if synced is False:
            unsynced.append("timedatectl: not synchronized")
    else:
        heard.append("timedatectl not installed")
    if which("chronyc"):
        text = run(["chronyc", "tracking"])
        if text is None:
            heard.append("chronyc tracking gave no answer (chronyd not running?)")
        else:
            try:
                tracking = parse_chronyc_tracking(text)
            except ValueError as exc:
                heard.append(str(exc))
            else:
                if tracking.synchronised:
                    offset = ("" if tracking.offset_seconds is None
                              else f", offset {tracking.offset_seconds * 1000:+.3f} ms")
                    return CheckResult(name="clock", status="OK", value=True,
                                       summary=f"synchronized (chrony: {tracking.reference}{offset})")
                unsynced.append(f"chrony: {tracking.leap_status}")
    else:
        heard.append("chronyc not installed")
    if unsynced:
        return CheckResult(name="clock", status="WARN", value=False,
                           summary="not synchronized: " + "; ".join(unsynced + heard),
                           fix="connect to a network once (or fit the Pi 5's RTC battery); candle times and "
                               "live orders need a correct clock")
    return CheckResult(name="clock", status="WARN", value=None,
                       summary="cannot tell whether the clock is synchronized: " + "; ".join(heard))


def _timedatectl(run: RunCommand, heard: list[str]) -> bool | None:
    """True/False from timedatectl, or None (and why, in `heard`) when it gives no answer."""
    text = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if text is not None:
        try:
            return parse_timedatectl_show(text)
        except ValueError as exc:
            heard.append(str(exc))
    text = run(["timedatectl", "status"])
    if text is None:
        heard.append("timedatectl gave no answer (no systemd?)")
        return None
    try:
        return parse_timedatectl_status(text)
    except ValueError as exc:
        heard.append(str(exc))
        return None


def check_sensors(monitor: Monitor, *, on_pi: bool) -> tuple[CheckResult, CheckResult, CheckResult]:
    """SoC temperature, throttling flags and ARM clock through the cockpit's own monitor."""
    try:
        reading = monitor.sample()
    except Exception as exc:  # noqa: BLE001 - a broken sensor stack must not end the report
        why = f"the monitor failed: {type(exc).__name__}: {exc}"
        return tuple(CheckResult(name=n, status="WARN", summary=why)  # type: ignore[return-value]
                     for n in ("temperature", "throttling", "arm_clock"))
    notes = [n for n in reading.sensors_note.split("; ") if n]
    absent = "" if on_pi else " (not a Raspberry Pi)"

    def why(*words: str) -> str:
        picked = [n for n in notes if any(w in n for w in words)]
        return ("; ".join(picked) or "no reading") + absent

    if reading.soc_temp_c is None:
        temp = CheckResult(name="temperature", status="WARN", summary=f"unreadable: {why('temp', 'thermal')}")
    elif reading.soc_temp_c >= HOT_C:
        temp = CheckResult(name="temperature", status="WARN", value=reading.soc_temp_c, unit="°C",
                           summary=f"{reading.soc_temp_c:.1f} °C: at or above {HOT_C:g} °C the governor pauses work",
                           fix="fit a cooler (the Pi 5 Active Cooler) or improve airflow")
    else:
        temp = CheckResult(name="temperature", status="OK", value=reading.soc_temp_c, unit="°C",
                           summary=f"SoC {reading.soc_temp_c:.1f} °C")
    return temp, _throttling(reading.throttle, why("throttle", "get_throttled")), \
        _arm_clock(reading.arm_clock_mhz, why("clock"))


def _throttling(state: Any, reason: str) -> CheckResult:
    if state is None:
        return CheckResult(name="throttling", status="WARN", summary=f"unreadable: {reason}")
    raw = f"{state.raw:#x}"
    now, past = state.active_flags(), state.past_flags()
    if not now and not past:
        return CheckResult(name="throttling", status="OK", value=raw, summary=f"no flags now or since boot ({raw})")
    parts = [f"now: {', '.join(now)}"] if now else []
    if past:
        parts.append(f"since boot: {', '.join(past)}")
    fixes = []
    if state.under_voltage or state.under_voltage_occurred:
        fixes.append("use the official 27 W USB-C supply (5 V 5 A)")
    if state.soft_temp_limit or state.soft_temp_limit_occurred or state.throttled or state.throttled_occurred:
        fixes.append("add cooling")
    return CheckResult(name="throttling", status="WARN", value=raw, summary=f"{'; '.join(parts)} ({raw})",
                       fix="; ".join(fixes))


def _arm_clock(mhz: float | None, reason: str) -> CheckResult:
    if mhz is None:
        return CheckResult(name="arm_clock", status="WARN", summary=f"unreadable: {reason}")
    return CheckResult(name="arm_clock", status="OK", value=round(mhz), unit="MHz", summary=f"{mhz:.0f} MHz")


def check_threads(threads: int, workers: int, cores: int) -> CheckResult:
    """engine.threads (intra-op cap) and engine.workers against the cores there are."""
    found = f"engine.threads {threads}, engine.workers {workers} on {cores} cores"
    over = [f"{key} {n} > {cores} cores" for key, n in (("engine.threads", threads), ("engine.workers", workers))
            if n > cores]
    if over:
        return CheckResult(name="threads", status="WARN", value=threads, summary=f"{found}: {'; '.join(over)}",
                           fix=f"set [engine] threads and workers to at most {cores}; oversubscribed cores "
                               "slow every model and the UI")
    return CheckResult(name="threads", status="OK", value=threads, summary=found)
