"""Colour palettes (themes/palettes/*.toml) registered as Textual themes.

Each palette gives Textual's base colours plus the cockpit's semantic
variables ($bull, $bear, $paper, ...). The stylesheets use variables only,
so switching theme (key `t` or the command palette) recolours everything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

import themes
from engine.errors import ConfigError

BASE_KEYS = (
    "primary", "secondary", "accent", "warning", "error", "success",
    "foreground", "background", "surface", "panel",
)
SEMANTIC_KEYS = (
    "bull", "bear", "paper", "live", "stale", "muted",
    "gauge-low", "gauge-mid", "gauge-high",
)
DEFAULT_THEME = "cockpit-dark"


class PaletteError(ConfigError):
    """A palette file is malformed; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class Palettes:
    """The registered cockpit themes, in cycling order."""

    themes: tuple[Theme, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme.name for theme in self.themes)

    def semantic_defaults(self) -> dict[str, str]:
        """Fallback semantic variables so Textual's own themes render too."""
        for theme in self.themes:
            if theme.name == DEFAULT_THEME:
                return {key: theme.variables[key] for key in SEMANTIC_KEYS}
        return {key: self.themes[0].variables[key] for key in SEMANTIC_KEYS}

    def next_after(self, current: str) -> str:
        names = self.names
        if current not in names:
            return names[0]
        return names[(names.index(current) + 1) % len(names)]


def _colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise PaletteError(f"{path}: {key} must be a colour string, got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise PaletteError(f"{path}: {key} = {value!r} is not a colour ({exc})") from exc
    return value


def load_palette(path: Path) -> Theme:
    """Read one palette file into a Textual Theme."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PaletteError(f"{path}: cannot read palette ({exc})") from exc
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise PaletteError(f"{path}: missing key 'name'")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise PaletteError(f"{path}: dark must be true or false, got {dark!r}")
    known = {"name", "dark", "variables", *BASE_KEYS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise PaletteError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    missing = [key for key in BASE_KEYS if key not in data]
    if missing:
        raise PaletteError(f"{path}: missing key {missing[0]!r}")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise PaletteError(f"{path}: [variables] must be a table")
    missing = [key for key in SEMANTIC_KEYS if key not in variables]
    if missing:
        raise PaletteError(f"{path}: missing key 'variables.{missing[0]}'")
    base = {key: _colour(path, key, data[key]) for key in BASE_KEYS}
    extra = {str(k): _colour(path, f"variables.{k}", v) for k, v in variables.items()}
    return Theme(name=name, dark=dark, variables=extra, **base)


def load_palettes(paths: list[Path] | None = None) -> Palettes:
    """Every palette, ordered with the default first."""
    loaded = [load_palette(p) for p in (themes.palette_paths() if paths is None else paths)]
    if not loaded:
        raise PaletteError("no palette files found in themes/palettes/")
    loaded.sort(key=lambda t: (t.name != DEFAULT_THEME, t.name))
    return Palettes(themes=tuple(loaded))


def colour(variables: dict[str, str], name: str, fallback: str = "") -> str:
    """A theme variable as a Rich colour string, for widgets that take Rich styles."""
    value = variables.get(name, "")
    if not value:
        return fallback
    try:
        return Color.parse(value).hex
    except ColorParseError:
        return fallback
