import dataclasses
from pathlib import Path

import pytest

from app.cli import main
from engine.config import Config, load_config
from engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "config"


def test_shipped_config_toml_equals_builtin_defaults():
    cfg = load_config(ROOT / "config.toml")
    assert dataclasses.replace(cfg, source_file="") == Config()


@pytest.mark.parametrize(
    ("name", "must_contain"),
    [
        ("misspelled_key.toml", ['"sped"', '"speed"', "[replay]"]),
        ("unknown_section.toml", ['"replays"', '"replay"']),
        ("wrong_type.toml", ["engine.workers", "whole number", '"two"']),
        ("bad_value.toml", ["replay.speed", "at least 0"]),
        ("bad_choice.toml", ["data.source", '"embedded"']),
        ("not_toml.toml", ["not valid TOML"]),
        ("nested_misspelled.toml", ["[models.ensemble]", '"horizn"', '"horizon"']),
    ],
)
def test_bad_config_names_key_and_file(name, must_contain):
    with pytest.raises(ConfigError) as info:
        load_config(BAD / name)
    message = str(info.value)
    assert name in message
    for part in must_contain:
        assert part in message


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_cli_exits_nonzero_naming_the_key(capsys):
    code = main(["run", "--headless", "--bars", "1", "--config", str(BAD / "misspelled_key.toml")])
    assert code == 2
    err = capsys.readouterr().err
    assert '"sped"' in err and "misspelled_key.toml" in err and "did you mean" in err


def test_values_are_typed_and_frozen(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[data]\nsymbols = ["BTC/USD"]\n[replay]\nspeed = 2\n[ccxt.api_urls]\npublic = "http://127.0.0.1:1"\n')
    cfg = load_config(p)
    assert cfg.data.symbols == ("BTC/USD",)
    assert cfg.replay.speed == 2.0 and isinstance(cfg.replay.speed, float)
    assert cfg.ccxt.api_urls["public"] == "http://127.0.0.1:1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.replay.speed = 3.0  # type: ignore[misc]


def test_data_dir_default_and_override(tmp_path, monkeypatch):
    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path / "home"))
    assert Config().data_dir() == tmp_path / "home"
    p = tmp_path / "c.toml"
    p.write_text(f'[paths]\ndata_dir = "{tmp_path / "explicit"}"\n')
    assert load_config(p).data_dir() == tmp_path / "explicit"
