"""Exchange API credentials: where they may come from, and how they never leak.

Sources, in order:
1. the environment: `PI_COCKPIT_API_KEY` and `PI_COCKPIT_API_SECRET` (both, or neither);
2. a key file (`[trading] key_file`): TOML with `api_key = "..."` and
   `secret = "..."`, owned by the user running the cockpit and readable by
   nobody else (mode 0600 or 0400). A looser file is refused, saying why
   and how to fix it.
Never from config.toml (it has no such keys). `Credentials` hides both
values from repr/str; `Redactor` scrubs them from any text that leaves the
broker (messages, journal notes, logs), and `mask` shows the key's last
four characters at most.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from engine.errors import ConfigError

KEY_ENV = "PI_COCKPIT_API_KEY"
SECRET_ENV = "PI_COCKPIT_API_SECRET"
_MIN_SECRET_CHARS = 4


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    origin: str
    """Where they came from ("environment" or the key file's path), for messages."""

    def __str__(self) -> str:
        return f"API key {mask(self.api_key)} from {self.origin}"

    def redactor(self) -> "Redactor":
        return Redactor((self.api_key, self.secret))


def mask(value: str) -> str:
    """`…abcd`: enough to tell keys apart on screen, never enough to use one."""
    return "…" + value[-4:] if len(value) >= 12 else "…"


class Redactor:
    """Replaces every secret (and its URL-encoded form) in a text by a mask."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        from urllib.parse import quote

        forms: set[str] = set()
        for s in secrets:
            if len(s) >= _MIN_SECRET_CHARS:
                forms |= {s, quote(s, safe=""), quote(s)}
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, "[redacted]")
        return text


def load_credentials(key_file: str = "", *, env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials for live trading, or a ConfigError that says what to do."""
    env = os.environ if env is None else env
    key, secret = env.get(KEY_ENV, "").strip(), env.get(SECRET_ENV, "").strip()
    if key or secret:
        if not (key and secret):
            missing = SECRET_ENV if key else KEY_ENV
            raise ConfigError(f"live trading: {missing} is not set (set both {KEY_ENV} and {SECRET_ENV}, "
                              f"or neither and use [trading] key_file)")
        return Credentials(key, secret, "environment")
    if not key_file:
        raise ConfigError(f"live trading needs API credentials: set {KEY_ENV} and {SECRET_ENV} in the environment, "
                          'or [trading] key_file = "PATH" to a file readable only by you (chmod 600 PATH) holding '
                          'api_key = "..." and secret = "..."')
    return read_key_file(Path(key_file).expanduser())


def read_key_file(path: Path) -> Credentials:
    """Read a 0600 TOML key file; refuse one that others can read or that another user owns."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"live trading: cannot read the key file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"live trading: the key file {path} is not a regular file")
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        raise ConfigError(
            f"live trading: refusing the key file {path}: its mode is {stat.S_IMODE(info.st_mode):04o}, so other "
            f"users of this machine can read your exchange secret",
            hint=f"run: chmod 600 {path}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(f"live trading: refusing the key file {path}: it belongs to another user (uid {info.st_uid})",
                          hint="copy it and own the copy, then chmod 600 it")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"live trading: cannot read the key file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        # the parser's message may quote the file's content: say where only
        raise ConfigError(f"live trading: the key file {path} is not valid TOML",
                          hint='it should hold two lines: api_key = "..." and secret = "..."') from None
    unknown = sorted(set(doc) - {"api_key", "secret"})
    if unknown:
        raise ConfigError(f'live trading: the key file {path} has unknown key "{unknown[0]}"',
                          hint='expected only api_key and secret')
    key, secret = doc.get("api_key"), doc.get("secret")
    for name, value in (("api_key", key), ("secret", secret)):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"live trading: the key file {path} needs a non-empty string {name}")
    return Credentials(str(key).strip(), str(secret).strip(), str(path))
