"""API credentials: environment or a 0600 key file, refused otherwise, never shown."""

from __future__ import annotations

import os

import pytest

from engine.errors import ConfigError
from engine.trading.secrets import KEY_ENV, SECRET_ENV, Credentials, Redactor, load_credentials, mask

KEY = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789key"
SECRET = "s3cr3t/With+Odd=Chars&More0123456789"


def key_file(tmp_path, mode: int, text: str | None = None):
    path = tmp_path / "keys.toml"
    path.write_text(text if text is not None else f'api_key = "{KEY}"\nsecret = "{SECRET}"\n')
    os.chmod(path, mode)
    return path


def test_credentials_come_from_the_environment_first(tmp_path):
    creds = load_credentials(str(key_file(tmp_path, 0o600)), env={KEY_ENV: KEY, SECRET_ENV: SECRET})
    assert (creds.api_key, creds.secret, creds.origin) == (KEY, SECRET, "environment")


def test_half_the_environment_is_refused_naming_the_missing_variable():
    with pytest.raises(ConfigError, match=SECRET_ENV):
        load_credentials("", env={KEY_ENV: KEY})
    with pytest.raises(ConfigError, match=KEY_ENV):
        load_credentials("", env={SECRET_ENV: SECRET})


def test_no_credentials_says_where_they_may_come_from():
    with pytest.raises(ConfigError) as info:
        load_credentials("", env={})
    assert KEY_ENV in str(info.value) and SECRET_ENV in str(info.value) and "chmod 600" in str(info.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_file_is_read(tmp_path, mode):
    path = key_file(tmp_path, mode)
    creds = load_credentials(str(path), env={})
    assert (creds.api_key, creds.secret, creds.origin) == (KEY, SECRET, str(path))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_a_key_file_others_can_read_is_refused_saying_why_and_how_to_fix(tmp_path, mode):
    path = key_file(tmp_path, mode)
    with pytest.raises(ConfigError) as info:
        load_credentials(str(path), env={})
    text = str(info.value)
    assert f"mode is {mode:04o}" in text and "other users" in text and f"chmod 600 {path}" in text
    assert SECRET not in text and KEY not in text


def test_a_missing_or_broken_key_file_is_named_without_its_content(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the key file .*nope.toml"):
        load_credentials(str(tmp_path / "nope.toml"), env={})
    broken = key_file(tmp_path, 0o600, f'api_key = "{KEY}\nsecret = {SECRET}\n')
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_credentials(str(broken), env={})
    assert SECRET not in str(info.value) and KEY not in str(info.value)
    odd = key_file(tmp_path, 0o600, f'api_key = "{KEY}"\nsecrte = "{SECRET}"\n')
    with pytest.raises(ConfigError, match='unknown key "secrte"'):
        load_credentials(str(odd), env={})


def test_credentials_never_print_their_values():
    creds = Credentials(KEY, SECRET, "environment")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert KEY not in text and SECRET not in text
    assert str(creds) == f"API key …{KEY[-4:]} from environment"
    assert mask(KEY) == "…" + KEY[-4:] and mask("short") == "…"


def test_the_redactor_scrubs_raw_and_url_encoded_secrets():
    redact = Redactor((KEY, SECRET))
    text = f"GET /api?key={KEY}&s={SECRET} body s3cr3t%2FWith%2BOdd%3DChars%26More0123456789"
    out = redact(text)
    assert KEY not in out and SECRET not in out and "s3cr3t%2F" not in out
    assert out.count("[redacted]") == 3
