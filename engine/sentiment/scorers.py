"""Which scorer a model name means, and which trained head goes with it.

- "minilm" (the default): the bundled all-MiniLM-L6-v2 encoder plus the best
  head trained on the current labelled set — the user's checkpoint
  (`cockpit train sentiment`) first, then the head shipped with the package.
- anything else: a Hugging Face sequence-classification model by name or
  local directory (`HubClassifier`), offline unless config says online.

Nothing heavy happens here; a scorer's `.load()` does the work (on a worker).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import ModelError

CHECKPOINT_NAME = "sentiment-head-minilm.json"


def build_scorer(model: str = "minilm", *, online: bool = False, threads: int = 1,
                 checkpoint_dir: str | None = None) -> Any:
    """The scorer for `model` ("minilm" = bundled encoder + best matching head, else a hub classifier).

    Nothing heavy happens here; call `.load()` (seconds) on a worker.
    """
    from engine.sentiment.encoder import BUNDLED, HubClassifier, MiniLMEncoder
    from engine.sentiment.head import HeadScorer

    if model == BUNDLED:
        scorer = HeadScorer(MiniLMEncoder(threads=threads))
        found = find_head(checkpoint_dir)
        if found is not None:
            scorer.head, scorer.meta = found
        return scorer
    if not model.strip():
        raise ModelError('models.sentiment.model is empty: use "minilm" or a Hugging Face model name')
    return HubClassifier(model, online=online, threads=threads)


def find_head(checkpoint_dir: str | None) -> tuple[Any, dict[str, Any]] | None:
    """A trained head for the current dataset: the user's checkpoint first, then the shipped one."""
    from engine.errors import DataError
    from engine.sentiment.dataset import dataset_digest
    from engine.sentiment.head import load_head, shipped_head_path

    digest = dataset_digest()
    candidates = [Path(checkpoint_dir) / CHECKPOINT_NAME] if checkpoint_dir else []
    for path in [*candidates, shipped_head_path()]:
        if not path.is_file():
            continue
        try:
            head, meta = load_head(path)
        except DataError:
            continue
        if meta.get("dataset_sha256") == digest and head.fitted:
            return head, {**meta, "path": str(path)}
    return None
