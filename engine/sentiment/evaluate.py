"""The sentiment row of `cockpit report`: held-out accuracy and macro-F1 next to VADER and the majority class.

Everything is measured on the labelled set's test split, which the head never
saw (split by topic group; see `engine/sentiment/dataset/README.md`):

- model:    the scorer in use (bundled MiniLM + head, or a hub classifier)
- vader:    VADER's compound score with the customary ±0.05 thresholds
- majority: always the most common label of the *training* split

The candle panel plays no part: the sentiment family's trading skill is
scored live on time-aligned headlines by the scoreboard, not here.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from engine.sentiment.dataset import LABELS, LabelledHeadlines, load_headlines
from engine.sentiment.head import Scorer, classification_metrics

VADER_THRESHOLD = 0.05


def vader_labels(texts: Sequence[str], threshold: float = VADER_THRESHOLD) -> np.ndarray:
    """0/1/2 (negative/neutral/positive) from VADER's compound score."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    compound = np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=float)
    return np.where(compound >= threshold, 2, np.where(compound <= -threshold, 0, 1))


def majority_label(train_labels: np.ndarray) -> int:
    """The most common training label (ties: the lowest index)."""
    return int(np.bincount(np.asarray(train_labels), minlength=len(LABELS)).argmax())


def heldout_scores(scorer: Scorer, *, data: LabelledHeadlines | None = None, batch_size: int = 32) -> dict[str, Any]:
    """Score `scorer`, VADER and the majority class on the test split."""
    data = data or load_headlines()
    train, test = data.subset("train"), data.subset("test")
    predicted = scorer.score(test.texts, batch_size=batch_size).argmax(axis=1)
    majority = majority_label(train.labels)
    return {
        "model_name": scorer.name,
        "n_train": len(train),
        "n_test": len(test),
        "model": classification_metrics(test.labels, predicted),
        "vader": classification_metrics(test.labels, vader_labels(test.texts)),
        "majority": {**classification_metrics(test.labels, np.full(len(test), majority)), "label": LABELS[majority]},
    }


def report_row(scores: dict[str, Any], *, name: str = "sentiment") -> Any:
    """A `ModelReport` (engine.evaluation) built from `heldout_scores` output."""
    from engine.evaluation.walkforward import ModelReport

    def pick(m: dict[str, Any]) -> dict[str, Any]:
        return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}

    return ModelReport(
        name=name, family="sentiment",
        metrics={**pick(scores["model"]), "n_test": scores["n_test"], "n_train": scores["n_train"]},
        baselines={"vader": pick(scores["vader"]), "majority": pick(scores["majority"])},
        notes=(f"{scores['model_name']} on {scores['n_test']} held-out labelled headlines "
               "(the project's own CC0 set, split by topic group)",
               f"majority class = {scores['majority']['label']}; VADER compound ±{VADER_THRESHOLD}"),
    )


def sentiment_provider(*, model: str = "minilm", online: bool = False, threads: int = 2,
                       name: str = "sentiment") -> Callable[[Any, Any], list[Any]]:
    """A `cockpit report` provider: (panel, settings) → [ModelReport] for the sentiment family."""

    def provide(_panel: Any, _settings: Any) -> list[Any]:
        from engine.evaluation.walkforward import ModelReport
        from engine.sentiment.scorers import build_scorer

        try:
            scorer = build_scorer(model, online=online, threads=threads)
            scorer.load()
            return [report_row(heldout_scores(scorer), name=name)]
        except Exception as exc:  # noqa: BLE001 - a failed family is a row with its error
            return [ModelReport.failed(name, "sentiment", exc)]

    return provide
