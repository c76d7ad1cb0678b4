"""`cockpit doctor` through the command-line entry, on this machine."""

import json
from pathlib import Path

import pytest

from app.cli import main

NAMES = ["userland", "python", "config", "threads", "ram", "disk", "clock", "temperature", "throttling",
         "arm_clock", "torch", "quantized", "embedded_data", "patterns_cnn", "sentiment_head", "minilm"]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path / "home"))
    return tmp_path


def test_doctor_json_is_one_object_with_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["checks"]] == NAMES
    assert all(c["status"] in ("OK", "WARN", "FAIL") and c["summary"] for c in report["checks"])
    failed = [c for c in report["checks"] if c["status"] == "FAIL"]
    assert code == report["exit_code"] == (1 if failed else 0)
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["userland"]["status"] == "OK", "the test machine runs a 64-bit Python"
    assert by_name["embedded_data"]["status"] == by_name["patterns_cnn"]["status"] == "OK"
    assert by_name["ram"]["unit"] == "MB" and by_name["ram"]["value"] > 0


def test_doctor_with_a_bad_config_exits_1_naming_key_and_file(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text("[monitor]\ninterval = 1\n")
    assert main(["doctor", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("FAIL  config"))
    assert str(path) in line and '"interval"' in line and 'did you mean "interval_seconds"' in line
