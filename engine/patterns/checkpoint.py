"""The CNN checkpoint: one torch file that carries its own config, classes and metrics.

Search order for a model: the user's checkpoint directory (written by
`cockpit train patterns`), then the checkpoint shipped in this package.
Loaded with `weights_only=True`: the file holds tensors, numbers and strings only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DataError

FORMAT = "pi-cockpit/patterns-cnn/1"
FILENAME = "patterns_cnn.pt"
SHIPPED = Path(__file__).resolve().parent / FILENAME


@dataclass(frozen=True, slots=True)
class LoadedCheckpoint:
    model: Any  # PatternCNN in eval mode
    classes: tuple[str, ...]
    window: int
    height: int
    meta: dict[str, Any]
    path: Path


def find_checkpoint(checkpoint_dir: str | Path | None, shipped: bool = True) -> Path | None:
    """The user's trained checkpoint if present, else the shipped one (if allowed), else None."""
    if checkpoint_dir:
        user = Path(checkpoint_dir) / FILENAME
        if user.is_file():
            return user
    return SHIPPED if shipped and SHIPPED.is_file() else None


def save_checkpoint(path: Path, model: Any, *, classes: tuple[str, ...], window: int, height: int,
                    meta: dict[str, Any]) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "cnn_config": model.config.as_dict(),
        "classes": list(classes),
        "window": window,
        "height": height,
        "meta": meta,
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: Path) -> LoadedCheckpoint:
    import torch

    from engine.patterns.cnn import CNNConfig, PatternCNN

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a data problem
        raise DataError(f"{path}: not a readable patterns checkpoint ({type(exc).__name__}: {exc})",
                        hint="delete it and run `cockpit train patterns`") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise DataError(f"{path}: expected checkpoint format {FORMAT!r}, found {found!r}",
                        hint="run `cockpit train patterns` to write a current one")
    model = PatternCNN(CNNConfig.from_dict(dict(payload["cnn_config"])))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return LoadedCheckpoint(model=model, classes=tuple(payload["classes"]), window=int(payload["window"]),
                            height=int(payload["height"]), meta=dict(payload["meta"]), path=path)
