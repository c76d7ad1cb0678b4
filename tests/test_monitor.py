"""Resource monitor: sensor parsers on recorded outputs, Monitor through fakes and for real."""

from __future__ import annotations

import dataclasses
import platform
import sys
import threading
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from engine.monitor import CommandRunner, Monitor, MonitorHistory, ResourceReading
from engine.pi_sensors import (
    PlatformInfo,
    ThrottleState,
    describe_platform,
    parse_measure_clock,
    parse_measure_temp,
    parse_throttled,
    read_thermal_zone,
)

DATA = Path(__file__).parent / "data" / "sensors"
GARBAGE = sorted(DATA.glob("garbage_*.txt"))


def recorded(name: str) -> str:
    return (DATA / name).read_text()


# --- parsers ---------------------------------------------------------------


def test_healthy_pi5_has_no_flags() -> None:
    state = parse_throttled(recorded("throttled_pi5_healthy.txt"))
    assert state.raw == 0
    assert state.active_flags() == ()
    assert state.past_flags() == ()
    assert not any(
        getattr(state, f.name) for f in dataclasses.fields(state) if f.name != "raw"
    )


def test_under_voltage_now_and_since_boot() -> None:
    state = parse_throttled(recorded("throttled_undervoltage_now_and_since_boot.txt"))
    assert state.raw == 0x50005
    assert state.under_voltage and state.throttled
    assert not state.arm_freq_capped and not state.soft_temp_limit
    assert state.under_voltage_occurred and state.throttled_occurred
    assert not state.freq_capped_occurred and not state.soft_temp_limit_occurred
    assert state.active_flags() == ("under-voltage", "throttled")
    assert state.past_flags() == ("under-voltage", "throttled")


def test_soft_temp_limit() -> None:
    state = parse_throttled(recorded("throttled_soft_temp_limit.txt"))
    assert state.soft_temp_limit and state.soft_temp_limit_occurred
    assert state.active_flags() == ("soft temp limit",)
    assert state.past_flags() == ("soft temp limit",)


def test_past_only_flags_are_not_active() -> None:
    state = parse_throttled(recorded("throttled_past_only.txt"))
    assert state.raw == 0xE0000
    assert state.active_flags() == ()
    assert state.past_flags() == ("arm freq capped", "throttled", "soft temp limit")
    assert state.freq_capped_occurred and state.throttled_occurred
    assert not state.under_voltage_occurred


def test_throttle_state_is_frozen_and_built_from_raw() -> None:
    state = ThrottleState(raw=0x2)
    assert state.arm_freq_capped and state == ThrottleState(raw=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.raw = 0  # type: ignore[misc]
    with pytest.raises(ValueError, match="32 bits"):
        ThrottleState(raw=1 << 40)


@pytest.mark.parametrize(
    ("name", "mhz"),
    [
        ("measure_clock_arm_pi5_full.txt", 2400.0),
        ("measure_clock_arm_pi5_idle.txt", 1500.004352),
        ("measure_clock_arm_pi4.txt", 1500.345728),
    ],
)
def test_measure_clock(name: str, mhz: float) -> None:
    assert parse_measure_clock(recorded(name)) == pytest.approx(mhz)


def test_measure_temp_and_thermal_zone() -> None:
    assert parse_measure_temp(recorded("measure_temp.txt")) == pytest.approx(52.1)
    assert read_thermal_zone(DATA / "thermal_zone0_temp.txt") == pytest.approx(54.321)


def test_thermal_zone_absent_is_none(tmp_path: Path) -> None:
    assert read_thermal_zone(tmp_path / "no_such_zone") is None


def test_thermal_zone_garbage_names_the_file() -> None:
    path = DATA / "garbage_thermal_zone.txt"
    with pytest.raises(ValueError, match="garbage_thermal_zone.txt"):
        read_thermal_zone(path)


def test_thermal_zone_implausible_value(tmp_path: Path) -> None:
    path = tmp_path / "temp"
    path.write_text("-273150\n")
    with pytest.raises(ValueError, match="plausible"):
        read_thermal_zone(path)


@pytest.mark.parametrize("path", GARBAGE, ids=lambda p: p.name)
@pytest.mark.parametrize("parse", [parse_throttled, parse_measure_clock, parse_measure_temp])
def test_parsers_reject_recorded_garbage(path: Path, parse) -> None:
    with pytest.raises(ValueError):
        parse(path.read_text())


@pytest.mark.parametrize(
    "text",
    ["throttled=50005", "throttled=0x", "throttled=0xZZ", "temp=hot'C", "temp=52.1",
     "frequency(48)=", "frequency=2400000000", "throttled=0x0 extra"],
)
def test_parsers_reject_inline_garbage(text: str) -> None:
    for parse in (parse_throttled, parse_measure_clock, parse_measure_temp):
        with pytest.raises(ValueError):
            parse(text)


def test_garbage_error_shows_what_was_read() -> None:
    with pytest.raises(ValueError, match="VCHI initialization failed"):
        parse_throttled(recorded("garbage_vchi_failed.txt"))


# --- Monitor through fakes ---------------------------------------------------

VMem = namedtuple("VMem", "total available percent used free")
Swap = namedtuple("Swap", "total used free percent sin sout")
Temp = namedtuple("Temp", "label current high critical")
MemInfo = namedtuple("MemInfo", "rss vms")
GIB = 1024**3


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def memory_info(self) -> MemInfo:
        return MemInfo(rss=150 * 1024**2, vms=900 * 1024**2)


class FakePsutil:
    """The slice of psutil the monitor uses, with recorded values."""

    def __init__(
        self,
        *,
        cores: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0),
        temps: dict | None = None,
        swap_total: int = 2 * GIB,
        has_sensors: bool = True,
        has_loadavg: bool = True,
    ) -> None:
        self.cores = cores
        self.temps = temps if temps is not None else {}
        self.swap_total = swap_total
        self.cpu_calls = 0
        self.sensor_calls = 0
        if has_sensors:
            self.sensors_temperatures = self._sensors
        if has_loadavg:
            self.getloadavg = lambda: (1.5, 1.0, 0.5)

    def Process(self, pid: int) -> FakeProcess:  # noqa: N802 - psutil's name
        return FakeProcess(pid)

    def cpu_percent(self, *, percpu: bool, interval: float | None) -> list[float]:
        assert percpu is True and interval is None, "must be per-core and non-blocking"
        self.cpu_calls += 1
        return list(self.cores)

    def virtual_memory(self) -> VMem:
        return VMem(total=16 * GIB, available=12 * GIB, percent=25.0, used=4 * GIB, free=10 * GIB)

    def swap_memory(self) -> Swap:
        used = GIB // 4 if self.swap_total else 0
        return Swap(total=self.swap_total, used=used, free=self.swap_total - used,
                    percent=0.0, sin=0, sout=0)

    def _sensors(self) -> dict:
        self.sensor_calls += 1
        return self.temps


class FakeCommands:
    """Answers commands from recorded files; None means the binary is missing."""

    def __init__(self, answers: dict[tuple[str, ...], str | None]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: list[str]) -> str | None:
        assert isinstance(argv, list)
        self.calls.append(tuple(argv))
        return self.answers.get(tuple(argv))

    def count(self, *argv: str) -> int:
        return self.calls.count(argv)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


THROTTLED = ("vcgencmd", "get_throttled")
CLOCK = ("vcgencmd", "measure_clock", "arm")
TEMP = ("vcgencmd", "measure_temp")


def pi_commands() -> FakeCommands:
    return FakeCommands({
        THROTTLED: recorded("throttled_undervoltage_now_and_since_boot.txt"),
        CLOCK: recorded("measure_clock_arm_pi5_full.txt"),
        TEMP: recorded("measure_temp.txt"),
    })


def pi_temps(value: float = 61.5, key: str = "cpu_thermal") -> dict:
    return {key: [Temp(label="", current=value, high=None, critical=None)]}


def test_pi_with_all_sensors(tmp_path: Path) -> None:
    commands = pi_commands()
    fake = FakePsutil(temps=pi_temps())
    monitor = Monitor(run_command=commands, psutil_module=fake,
                      thermal_path=DATA / "thermal_zone0_temp.txt", pid=4242)
    assert fake.cpu_calls == 1, "the constructor primes the CPU counters"
    reading = monitor.sample()
    assert isinstance(reading, ResourceReading)
    assert reading.cpu_percent_per_core == (10.0, 20.0, 30.0, 40.0)
    assert reading.cpu_percent == pytest.approx(25.0)
    assert reading.load_avg == (1.5, 1.0, 0.5)
    assert reading.ram_total_mb == pytest.approx(16384.0)
    assert reading.ram_available_mb == pytest.approx(12288.0)
    assert reading.ram_percent == 25.0
    assert reading.process_rss_mb == pytest.approx(150.0)
    assert reading.swap_used_mb == pytest.approx(256.0)
    assert reading.soc_temp_c == 61.5, "psutil's Pi sensor comes first"
    assert reading.arm_clock_mhz == pytest.approx(2400.0)
    assert reading.throttle == ThrottleState(raw=0x50005)
    assert reading.throttle.active_flags() == ("under-voltage", "throttled")
    assert reading.sensors_note == ""
    assert commands.count(*TEMP) == 0, "no subprocess when a fast sensor answers"
    assert monitor.pid == 4242
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.cpu_percent = 0.0  # type: ignore[misc]


def test_psutil_key_with_dash_is_accepted() -> None:
    monitor = Monitor(run_command=pi_commands(),
                      psutil_module=FakePsutil(temps=pi_temps(48.0, "cpu-thermal")))
    assert monitor.sample().soc_temp_c == 48.0


def test_temperature_falls_back_to_thermal_zone_then_vcgencmd(tmp_path: Path) -> None:
    commands = pi_commands()
    empty_psutil = FakePsutil(temps={"rp1_adc": [Temp("", 40.0, None, None)]})
    monitor = Monitor(run_command=commands, psutil_module=empty_psutil,
                      thermal_path=DATA / "thermal_zone0_temp.txt")
    assert monitor.sample().soc_temp_c == pytest.approx(54.321)
    assert commands.count(*TEMP) == 0

    monitor = Monitor(run_command=commands, psutil_module=FakePsutil(has_sensors=False),
                      thermal_path=tmp_path / "missing")
    assert monitor.sample().soc_temp_c == pytest.approx(52.1)
    assert commands.count(*TEMP) == 1


def test_garbage_thermal_zone_is_noted_and_skipped() -> None:
    monitor = Monitor(run_command=pi_commands(), psutil_module=FakePsutil(),
                      thermal_path=DATA / "garbage_thermal_zone.txt")
    reading = monitor.sample()
    assert reading.soc_temp_c == pytest.approx(52.1)
    assert "thermal zone ignored" in reading.sensors_note


def test_x86_without_sensors_reads_none_never_zero(tmp_path: Path) -> None:
    x86 = FakePsutil(cores=(5.0, 15.0), temps={"coretemp": [Temp("Core 0", 45.0, 80.0, 100.0)]},
                     swap_total=0)
    commands = FakeCommands({})  # no vcgencmd on the PATH
    reading = Monitor(run_command=commands, psutil_module=x86,
                      thermal_path=tmp_path / "thermal_zone0" / "temp").sample()
    assert reading.soc_temp_c is None
    assert reading.arm_clock_mhz is None
    assert reading.throttle is None
    assert reading.swap_used_mb is None, "no swap configured is absent, not 0"
    assert reading.cpu_percent == pytest.approx(10.0)
    assert reading.sensors_note == (
        "no vcgencmd: throttle and ARM clock unknown; no temperature sensor"
    )


def test_machine_without_loadavg_or_sensors_api(tmp_path: Path) -> None:
    bare = FakePsutil(has_sensors=False, has_loadavg=False)
    reading = Monitor(run_command=FakeCommands({}), psutil_module=bare,
                      thermal_path=tmp_path / "missing").sample()
    assert reading.load_avg is None
    assert reading.soc_temp_c is None


def test_vcgencmd_failing_with_garbage(tmp_path: Path) -> None:
    vchi = recorded("garbage_vchi_failed.txt")
    commands = FakeCommands({THROTTLED: vchi, CLOCK: vchi, TEMP: vchi})
    reading = Monitor(run_command=commands, psutil_module=FakePsutil(),
                      thermal_path=tmp_path / "missing").sample()
    assert reading.throttle is None
    assert reading.arm_clock_mhz is None
    assert reading.soc_temp_c is None
    assert "get_throttled" in reading.sensors_note
    assert "measure_clock" in reading.sensors_note
    assert "VCHI initialization failed" in reading.sensors_note
    assert "no vcgencmd" not in reading.sensors_note, "the binary exists; it failed"


def test_one_command_missing_other_works() -> None:
    commands = FakeCommands({THROTTLED: recorded("throttled_pi5_healthy.txt"), CLOCK: None})
    reading = Monitor(run_command=commands, psutil_module=FakePsutil(temps=pi_temps())).sample()
    assert reading.throttle == ThrottleState(raw=0)
    assert reading.arm_clock_mhz is None
    assert reading.sensors_note == "no vcgencmd: ARM clock unknown"


def test_slow_sensors_are_cached_for_slow_interval() -> None:
    commands = pi_commands()
    clock = FakeClock()
    monitor = Monitor(run_command=commands, psutil_module=FakePsutil(temps=pi_temps()),
                      slow_interval=5.0, clock=clock)
    first = monitor.sample()
    commands.answers[THROTTLED] = recorded("throttled_past_only.txt")
    commands.answers[CLOCK] = recorded("measure_clock_arm_pi5_idle.txt")

    clock.now += 4.5
    cached = monitor.sample()
    assert commands.count(*THROTTLED) == 1 and commands.count(*CLOCK) == 1
    assert cached.throttle == first.throttle
    assert cached.arm_clock_mhz == first.arm_clock_mhz

    clock.now += 0.5
    fresh = monitor.sample()
    assert commands.count(*THROTTLED) == 2 and commands.count(*CLOCK) == 2
    assert fresh.throttle == ThrottleState(raw=0xE0000)
    assert fresh.arm_clock_mhz == pytest.approx(1500.004352)


def test_missing_vcgencmd_is_also_cached(tmp_path: Path) -> None:
    commands = FakeCommands({})
    clock = FakeClock()
    monitor = Monitor(run_command=commands, psutil_module=FakePsutil(),
                      thermal_path=tmp_path / "missing", clock=clock)
    for _ in range(10):
        monitor.sample()
    assert len(commands.calls) == 3, "get_throttled, measure_clock, measure_temp once each"


def test_psutil_without_pi_key_is_asked_again_only_after_slow_interval(tmp_path: Path) -> None:
    fake = FakePsutil(temps={})
    clock = FakeClock()
    monitor = Monitor(run_command=FakeCommands({}), psutil_module=fake,
                      thermal_path=DATA / "thermal_zone0_temp.txt", clock=clock)
    for _ in range(5):
        monitor.sample()
    assert fake.sensor_calls == 1
    fake.temps = pi_temps(70.0)
    clock.now += 5.0
    assert monitor.sample().soc_temp_c == 70.0
    assert monitor.sample().soc_temp_c == 70.0
    assert fake.sensor_calls == 3, "a present Pi sensor is read on every sample"


def test_slow_interval_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="slow_interval"):
        Monitor(psutil_module=FakePsutil(), run_command=FakeCommands({}), slow_interval=-1)


# --- the default command runner, for real -----------------------------------


def test_command_runner_runs_and_reports_failure() -> None:
    runner = CommandRunner(timeout=5.0)
    assert runner([sys.executable, "-c", "print('throttled=0x0')"]) == "throttled=0x0\n"
    assert runner([sys.executable, "-c", "import sys; sys.exit(3)"]) is None
    assert runner(["surely-not-a-binary-vcgencmd-xyz", "get_throttled"]) is None


def test_command_runner_times_out() -> None:
    runner = CommandRunner(timeout=0.2)
    started = time.monotonic()
    assert runner([sys.executable, "-c", "import time; time.sleep(5)"]) is None
    assert time.monotonic() - started < 3.0


# --- history ------------------------------------------------------------------


def reading_with(cpu: float, temp: float | None) -> ResourceReading:
    return ResourceReading(
        cpu_percent_per_core=(cpu,), cpu_percent=cpu, load_avg=None,
        ram_total_mb=1000.0, ram_available_mb=500.0, ram_percent=cpu / 2,
        process_rss_mb=10.0, swap_used_mb=None, soc_temp_c=temp,
        arm_clock_mhz=None, throttle=None,
    )


def test_history_is_bounded_and_oldest_first() -> None:
    history = MonitorHistory(maxlen=3)
    assert history.latest() is None and history.series().cpu_percent == ()
    for i in range(10):
        history.append(reading_with(float(i), None if i == 8 else 40.0 + i))
    assert len(history) == 3
    series = history.series()
    assert series.cpu_percent == (7.0, 8.0, 9.0)
    assert series.ram_percent == (3.5, 4.0, 4.5)
    assert series.soc_temp_c == (47.0, None, 49.0)
    assert history.latest().cpu_percent == 9.0
    assert isinstance(history.readings(), tuple)


def test_history_rejects_empty_ring() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        MonitorHistory(0)


def test_history_survives_concurrent_append_and_read() -> None:
    history = MonitorHistory(maxlen=50)
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 200_000:
            history.append(reading_with(float(i % 100), 50.0))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(2000):
            assert len(history.series().cpu_percent) <= 50
    finally:
        stop.set()
        thread.join(timeout=5)


# --- platform -----------------------------------------------------------------


def test_describe_platform_on_a_pi(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    info = describe_platform(model_paths=(str(tmp_path / "absent"), str(model)),
                             cpuinfo_path=str(tmp_path / "absent"))
    assert info.is_raspberry_pi
    assert info.model == "Raspberry Pi 5 Model B Rev 1.0"


def test_describe_platform_off_a_pi(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\n"
                       "model\t\t: 85\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n")
    info = describe_platform(model_paths=(str(tmp_path / "absent"),), cpuinfo_path=str(cpuinfo))
    assert not info.is_raspberry_pi
    assert info.model == "Intel(R) Xeon(R) CPU @ 2.20GHz"


def test_describe_platform_pi_from_cpuinfo_when_no_device_tree(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 108.00\n"
                       "Revision\t: d04170\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n")
    info = describe_platform(model_paths=(), cpuinfo_path=str(cpuinfo))
    assert info.is_raspberry_pi
    assert info.model == "Raspberry Pi 5 Model B Rev 1.0"


def test_describe_platform_with_nothing_to_read(tmp_path: Path) -> None:
    info = describe_platform(model_paths=(), cpuinfo_path=str(tmp_path / "absent"))
    assert info.model is None and not info.is_raspberry_pi


def test_describe_platform_for_real() -> None:
    info = describe_platform()
    assert isinstance(info, PlatformInfo)
    assert info.machine == platform.machine()
    assert info.cores >= 1
    assert info.python_version == platform.python_version()
    assert info.userland_64bit == (sys.maxsize > 2**32)


# --- smoke test with the real psutil ------------------------------------------


def test_real_monitor_smoke() -> None:
    monitor = Monitor(slow_interval=5.0)
    time.sleep(0.05)
    monitor.sample()  # the first sample may include subprocess look-ups
    started = time.perf_counter()
    reading = monitor.sample()
    elapsed = time.perf_counter() - started
    assert len(reading.cpu_percent_per_core) == psutil.cpu_count()
    assert all(0.0 <= c <= 100.0 for c in reading.cpu_percent_per_core)
    assert 0.0 <= reading.cpu_percent <= 100.0
    assert reading.ram_total_mb > 100
    assert 0 < reading.ram_available_mb <= reading.ram_total_mb
    assert 0.0 <= reading.ram_percent <= 100.0
    assert 1.0 < reading.process_rss_mb < reading.ram_total_mb
    assert reading.soc_temp_c is None or -40.0 <= reading.soc_temp_c <= 150.0
    assert reading.arm_clock_mhz is None or 100.0 < reading.arm_clock_mhz < 10_000.0
    assert reading.swap_used_mb is None or reading.swap_used_mb >= 0.0
    if reading.load_avg is not None:
        assert all(x >= 0.0 for x in reading.load_avg)
    assert elapsed < 0.05, f"a cached sample took {elapsed * 1000:.1f} ms"
