"""The classification head: frozen sentence embeddings → p(negative, neutral, positive).

A multinomial logistic regression (scikit-learn) on the L2-normalised
MiniLM embeddings. Its regularisation C is chosen by grouped
cross-validation on the training split only (folds never split a topic
group), so the held-out test set plays no part in any choice.

A trained head ships in `head_minilm.json` (with the dataset digest it was
trained on and its held-out scores), so the cockpit starts without
re-embedding the training set; `python -m engine.sentiment.head` retrains
it and rewrites that file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Mapping, Protocol, Sequence

import numpy as np

from engine.errors import DataError

C_GRID: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class Scorer(Protocol):
    """Anything that turns headlines into rows of p(negative, neutral, positive)."""

    name: str

    @property
    def loaded(self) -> bool: ...

    def load(self) -> None: ...

    def score(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray: ...


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 over the three labels (a label never predicted scores F1 = 0)."""
    from sklearn.metrics import f1_score

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=[0, 1, 2], average="macro", zero_division=0)),
        "n": int(len(y_true)),
    }


@dataclass(frozen=True, slots=True)
class CSelection:
    C: float
    cv_macro_f1: tuple[tuple[float, float], ...]


def select_c(X: np.ndarray, y: np.ndarray, groups: Sequence[str], *, seed: int = 7,
             grid: Sequence[float] = C_GRID, folds: int = 5) -> CSelection:
    """The C with the best mean macro-F1 over GroupKFold folds of the training rows."""
    from sklearn.model_selection import GroupKFold

    splitter = GroupKFold(n_splits=min(folds, len(set(groups))))
    scores = []
    for C in grid:
        fold_scores = []
        for train, test in splitter.split(X, y, groups):
            head = SentimentHead(C=C, seed=seed).fit(X[train], y[train])
            fold_scores.append(classification_metrics(y[test], head.predict(X[test]))["macro_f1"])
        scores.append((float(C), float(np.mean(fold_scores))))
    best = max(scores, key=lambda s: (s[1], -s[0]))
    return CSelection(C=best[0], cv_macro_f1=tuple(scores))


class SentimentHead:
    """Multinomial logistic regression with balanced class weights."""

    def __init__(self, C: float = 4.0, *, seed: int = 7) -> None:
        self.C = C
        self.seed = seed
        self.clf_: Any = None

    @property
    def fitted(self) -> bool:
        return self.clf_ is not None

    def _new(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced", random_state=self.seed)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "SentimentHead":
        if len(np.unique(y)) < 3:
            raise ValueError(f"the head needs all three labels to train, got {sorted(set(y.tolist()))}")
        self.clf_ = self._new().fit(X, y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.clf_ is None:
            raise ValueError("the head is not fitted")
        return self.clf_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def state_dict(self) -> dict[str, Any]:
        if self.clf_ is None:
            return {"C": self.C, "seed": self.seed, "fitted": False}
        return {"C": self.C, "seed": self.seed, "fitted": True, "coef": self.clf_.coef_.tolist(),
                "intercept": self.clf_.intercept_.tolist(), "classes": self.clf_.classes_.tolist()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "SentimentHead":
        head = cls(C=float(state["C"]), seed=int(state["seed"]))
        if state.get("fitted"):
            clf = head._new()
            clf.coef_ = np.asarray(state["coef"], dtype=np.float64)
            clf.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
            clf.classes_ = np.asarray(state["classes"])
            clf.n_features_in_ = clf.coef_.shape[1]
            head.clf_ = clf
        return head


class HeadScorer:
    """The bundled encoder followed by the trained head."""

    def __init__(self, encoder: Any, head: SentimentHead | None = None) -> None:
        self.encoder = encoder
        self.head = head
        self.meta: dict[str, Any] = {}
        self.name = f"{encoder.name} + logistic head"

    @property
    def loaded(self) -> bool:
        return self.encoder.loaded and self.head is not None and self.head.fitted

    def load(self) -> None:
        self.encoder.load()

    def score(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if self.head is None or not self.head.fitted:
            raise ValueError("no trained sentiment head matches the labelled set "
                             "(run `cockpit train sentiment` or `python -m engine.sentiment.head`)")
        if not texts:
            return np.zeros((0, 3))
        return self.head.predict_proba(self.encoder.encode(texts, batch_size=batch_size))


HEAD_FORMAT = 1


def shipped_head_path() -> Path:
    return Path(__file__).resolve().parent / "head_minilm.json"


def save_head(path: Path, head: SentimentHead, meta: Mapping[str, Any]) -> None:
    """Write the head and what it was trained on (JSON, so it diffs and carries no code)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"format": HEAD_FORMAT, "meta": dict(meta), "head": head.state_dict()}, indent=1))
    tmp.replace(path)


def load_head(path: Path) -> tuple[SentimentHead, dict[str, Any]]:
    """(head, meta) from a file written by `save_head`; DataError names the file if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != HEAD_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {HEAD_FORMAT}")
        head = SentimentHead.from_state(data["head"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a sentiment head file ({exc})") from exc
    return head, dict(data.get("meta", {}))


@dataclass(frozen=True, slots=True)
class TrainedHead:
    head: SentimentHead
    selection: CSelection
    train_rows: int


def train_on_dataset(encoder: Any, *, seed: int = 7, chunk: int = 64, batch_size: int = 32,
                     data: Any = None) -> Generator[tuple[int, int, str], None, TrainedHead]:
    """Embed the training split chunk by chunk (yielding progress), choose C, fit the head.

    Never looks at the test split. `data` overrides the labelled set (tests).
    """
    from engine.sentiment.dataset import load_headlines

    train = (data or load_headlines()).subset("train")
    n = len(train)
    chunks = range(0, n, chunk)
    total = len(chunks) + 2
    parts = []
    for i, start in enumerate(chunks, start=1):
        parts.append(encoder.encode(train.texts[start:start + chunk], batch_size=batch_size))
        yield i, total, f"embedding {min(start + chunk, n)}/{n} training headlines"
    X = np.concatenate(parts)
    selection = select_c(X, train.labels, train.groups, seed=seed)
    yield total - 1, total, f"C={selection.C:g} by grouped CV"
    head = SentimentHead(C=selection.C, seed=seed).fit(X, train.labels)
    yield total, total, "head fitted"
    return TrainedHead(head=head, selection=selection, train_rows=n)


def _main() -> None:
    """Retrain the shipped head and rewrite head_minilm.json with its held-out scores."""
    import argparse
    import sys

    from engine.sentiment.dataset import dataset_digest
    from engine.sentiment.encoder import MiniLMEncoder
    from engine.sentiment.evaluate import heldout_scores

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=shipped_head_path())
    args = parser.parse_args()
    encoder = MiniLMEncoder(threads=args.threads)
    encoder.load()
    run = train_on_dataset(encoder, seed=args.seed)
    while True:
        try:
            done, total, message = next(run)
        except StopIteration as stop:
            trained: TrainedHead = stop.value
            break
        print(f"{done}/{total} {message}", file=sys.stderr)
    scores = heldout_scores(HeadScorer(encoder, trained.head))
    meta = {"encoder": encoder.name, "dataset_sha256": dataset_digest(), "seed": args.seed,
            "train_rows": trained.train_rows, "cv_macro_f1": [list(p) for p in trained.selection.cv_macro_f1],
            "heldout": scores}
    save_head(args.out, trained.head, meta)
    print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    _main()
