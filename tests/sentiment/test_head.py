"""The head's training path, checkpoints and metrics, with a cheap stand-in encoder."""

import hashlib
import re

import numpy as np
import pytest

from engine.errors import DataError
from engine.models.protocol import History, ModelContext
from engine.data.synthetic import synthetic_panel
from engine.sentiment.head import (
    HeadScorer,
    SentimentHead,
    classification_metrics,
    load_head,
    save_head,
    train_on_dataset,
)
from engine.sentiment.model import SentimentModel
from engine.sentiment.scorers import CHECKPOINT_NAME, find_head

UP = re.compile(r"\b(climbs?|jumps?|rall(y|ies)|surges?|soars?|gains?|beats?|record|rises?|approv\w*)\b", re.I)
DOWN = re.compile(r"\b(falls?|slides?|sinks?|plunges?|tumbles?|hack\w*|drops?|cuts?|sues?|misses)\b", re.I)


class HashEncoder:
    """Deterministic 16-d vectors: a hashed part plus one direction per keyword family."""

    name = "hash stand-in"
    loaded = True

    def load(self):
        pass

    def encode(self, texts, *, batch_size=32):
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for i, text in enumerate(texts):
            digest = hashlib.blake2b(text.encode(), digest_size=14).digest()
            out[i, 2:] = np.frombuffer(digest, dtype=np.uint8) / 255.0 - 0.5
            out[i, 0] = 2.0 if UP.search(text) else 0.0
            out[i, 1] = 2.0 if DOWN.search(text) else 0.0
        return out


def test_metrics():
    m = classification_metrics(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 0]))
    assert m["accuracy"] == 0.75 and m["n"] == 4
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert classification_metrics(np.array([0, 1, 2]), np.array([1, 1, 1]))["macro_f1"] == pytest.approx(1 / 6)


def test_train_on_dataset_yields_progress_and_learns():
    run = train_on_dataset(HashEncoder(), seed=1, chunk=256)
    progress = []
    while True:
        try:
            progress.append(next(run))
        except StopIteration as stop:
            trained = stop.value
            break
    assert [p[0] for p in progress] == list(range(1, len(progress) + 1)) and progress[-1][2] == "head fitted"
    assert trained.train_rows == 707 and trained.head.fitted
    assert trained.selection.C in dict(trained.selection.cv_macro_f1)


def test_head_file_round_trip_and_bad_files(tmp_path):
    X = np.random.default_rng(0).normal(size=(60, 5))
    y = np.arange(60) % 3
    head = SentimentHead(C=2.0).fit(X, y)
    path = tmp_path / "h.json"
    save_head(path, head, {"dataset_sha256": "abc"})
    again, meta = load_head(path)
    assert meta == {"dataset_sha256": "abc"} and again.C == 2.0
    assert np.allclose(again.predict_proba(X), head.predict_proba(X))
    path.write_text('{"format": 99}')
    with pytest.raises(DataError, match=r"h\.json: not a sentiment head file"):
        load_head(path)
    with pytest.raises(ValueError, match="all three labels"):
        SentimentHead().fit(X, y % 2)


def test_retrain_writes_a_checkpoint_the_next_start_uses(tmp_path):
    ctx = ModelContext(checkpoint_dir=str(tmp_path), seed=3, threads=1)
    history = History(panel=synthetic_panel(1, 4), features=np.zeros((1, 4, 0)), names=())
    model = SentimentModel(retrain=True)
    model.attach_scorer(HeadScorer(HashEncoder()))
    model.warmup(ctx)
    assert not model.ready
    steps = list(model.fit(history))
    assert steps[-1].message == "held-out scored" and steps[-1].done == steps[-1].total
    assert model.ready and "hash stand-in + logistic head · held-out 234" in model.describe()
    head, meta = find_head(str(tmp_path))
    assert meta["path"].endswith(CHECKPOINT_NAME) and meta["heldout"]["model"]["n"] == 234

    restarted = SentimentModel()
    restarted.attach_scorer(HeadScorer(HashEncoder(), head))
    restarted.warmup(ctx)
    (step,) = list(restarted.fit(history))
    assert step.message.startswith("head from") and restarted.ready


def test_train_sentiment_entry_point(tmp_path, monkeypatch):
    """`cockpit train sentiment` retrains even when a shipped head exists, and saves the checkpoint."""
    import engine.sentiment.model as model_module

    monkeypatch.setattr(model_module, "build_scorer", lambda *a, **k: HeadScorer(HashEncoder()))
    steps = []
    scores = model_module.train_sentiment(str(tmp_path), threads=1, seed=2, progress=steps.append)
    assert scores["checkpoint"].endswith(CHECKPOINT_NAME) and (tmp_path / CHECKPOINT_NAME).is_file()
    assert scores["n_test"] == 234 and set(scores) >= {"model", "vader", "majority"}
    assert steps[0].message.startswith("embedding") and steps[-1].message == "held-out scored"
