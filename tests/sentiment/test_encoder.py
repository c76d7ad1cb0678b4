"""The real transformer, loaded once for the module with every non-loopback connect refused.

Loading takes seconds, so the tests here are few and share one scorer.
"""

import os
import socket

import numpy as np
import pytest

from engine.errors import ModelError
from engine.sentiment.encoder import HubClassifier, label_order, mean_pool
from engine.sentiment.evaluate import heldout_scores
from engine.sentiment.model import SentimentModel
from engine.sentiment.scorers import build_scorer

# Measured on the held-out split (234 headlines): accuracy 0.748 vs majority 0.342,
# macro-F1 0.748 vs VADER 0.546. The margins asserted leave room for float noise.
MARGIN_OVER_MAJORITY = 0.25
MARGIN_OVER_VADER_F1 = 0.10


@pytest.fixture(scope="module")
def offline():
    """Refuse every non-loopback connect and unset HF_HUB_OFFLINE (the code must set it itself)."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded(sock, address, *args):
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
            return real_connect(sock, address, *args)
        attempts.append(address)
        raise OSError(f"test forbids network access (connect to {address})")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", guarded)
        mp.delenv("HF_HUB_OFFLINE", raising=False)
        yield attempts


@pytest.fixture(scope="module")
def scorer(offline):
    scorer = build_scorer("minilm", threads=1)
    scorer.load()
    return scorer


def test_bundled_model_loads_offline_without_touching_the_network(scorer, offline):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert scorer.loaded and scorer.meta["path"].endswith("head_minilm.json")
    emb = scorer.encoder.encode(["Bitcoin climbs", "A much longer headline about ether and the Fed"], batch_size=2)
    assert emb.shape == (2, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    alone = scorer.encoder.encode(["Bitcoin climbs"], batch_size=1)
    assert np.allclose(alone[0], emb[0], atol=1e-5)  # padding in a batch changes nothing
    assert offline == []


def test_heldout_accuracy_beats_majority_and_vader(scorer):
    scores = heldout_scores(scorer)
    model, vader, majority = scores["model"], scores["vader"], scores["majority"]
    assert scores["n_test"] == 234
    assert model["accuracy"] >= majority["accuracy"] + MARGIN_OVER_MAJORITY, scores
    assert model["macro_f1"] >= vader["macro_f1"] + MARGIN_OVER_VADER_F1, scores


def test_model_scores_sample_headlines_and_emits_no_signal(scorer, tmp_path):
    from engine.events import Signal
    from engine.models.protocol import FeatureBatch, History, ModelContext
    from engine.data.synthetic import synthetic_panel
    from engine.sentiment.events import Headline

    model = SentimentModel(sample=True, sample_every_minutes=30.0)
    model.attach_scorer(scorer)
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path), threads=1))
    panel = synthetic_panel(1, 4)
    progress = list(model.fit(History(panel=panel, features=np.zeros((1, 4, 0)), names=())))
    assert progress[-1].message == "head from head_minilm.json"
    events = []
    for cycle in range(1, 9):
        ts = 1_559_347_200 * 10**9 + cycle * 1800 * 10**9
        events += model.predict(FeatureBatch(cycle=cycle, ts=ts, symbols=("BTC/USD", "ETH/USD"), names=(),
                                             values=np.zeros((2, 0)), valid=np.ones(2, dtype=bool)))
    headlines = [e for e in events if isinstance(e, Headline)]
    assert len(headlines) == 8 and all(h.sample for h in headlines)
    assert all(abs(sum(h.probs) - 1) < 1e-6 and h.label in ("negative", "neutral", "positive") for h in headlines)
    assert not [e for e in events if isinstance(e, Signal)]
    assert "acc 75%" in model.describe()


def test_hub_classifier_by_name_fails_fast_and_clearly_offline(offline):
    classifier = HubClassifier("ProsusAI/finbert", online=False)
    with pytest.raises(ModelError, match=r'cannot load Hugging Face model "ProsusAI/finbert" offline') as info:
        classifier.load()
    assert "online = true" in str(info.value)
    assert offline == []


def test_mean_pool_ignores_padding_and_label_mapping():
    import torch

    hidden = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[1.0, 0.0]]))
    assert label_order({0: "positive", 1: "negative", 2: "neutral"}) == [1, 2, 0]
    assert label_order({0: "Bearish", 1: "Bullish"}) == [0, -1, 1]
    with pytest.raises(ModelError, match="LABEL_0"):
        label_order({0: "LABEL_0", 1: "LABEL_1"})


def test_hub_classifier_runs_a_local_sequence_classification_model(tmp_path, offline):
    """The same transformers path as a FinBERT, on a tiny random model saved to a directory."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from engine.sentiment.encoder import bundled_model_path

    AutoTokenizer.from_pretrained(str(bundled_model_path()), local_files_only=True).save_pretrained(tmp_path)
    labels = {0: "positive", 1: "negative", 2: "neutral"}
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    torch.manual_seed(0)
    raw = BertForSequenceClassification(config).eval()
    raw.save_pretrained(tmp_path)
    classifier = HubClassifier(str(tmp_path))
    classifier.load()
    probs = classifier.score(["Bitcoin climbs", "Ether slides on heavy volume"], batch_size=1)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1.0)
    tokens = classifier._tokenizer(["Bitcoin climbs"], return_tensors="pt")
    with torch.inference_mode():
        expected = torch.softmax(raw(**tokens).logits, dim=-1)[0].numpy()
    assert np.allclose(probs[0], expected[[1, 2, 0]], atol=1e-5)  # reordered to negative, neutral, positive
    assert offline == []
