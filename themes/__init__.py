"""The cockpit's Textual stylesheets and colour palettes (data files only).

Imports nothing but the standard library, so packaging and tests can locate
the files without loading Textual.
"""

from __future__ import annotations

from pathlib import Path


def _root() -> Path:
    return Path(__file__).resolve().parent


def stylesheet_paths() -> list[Path]:
    """Every .tcss file in load order: shared chrome, then panes, then screens."""
    root = _root()
    return [
        root / "cockpit.tcss",
        *sorted((root / "panes").glob("*.tcss")),
        *sorted((root / "screens").glob("*.tcss")),
    ]


def palette_paths() -> list[Path]:
    """The palette files (TOML), one per Textual theme, sorted by file name."""
    return sorted((_root() / "palettes").glob("*.toml"))
