"""Vendored market history (see PROVENANCE.md in this directory)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_dir() -> Path:
    """The directory holding the embedded .csv.gz files, licence and SHA256SUMS."""
    return Path(str(files(__name__)))
