"""The project's own labelled finance headlines (CC0; README.md here tells how they were made).

`headlines.csv` has one headline per row: id, group, split, label, text. The
split is by topic group, never by row, so no topic (and none of its phrasing)
is on both sides: the groups are ranked by a BLAKE2b hash of their name and
the first quarter (rounded up) is the held-out test set. `split_rule()` is
that rule; a test checks the file still follows it.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from engine.errors import DataError

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SPLITS: tuple[str, ...] = ("train", "test")
TEST_FRACTION = 0.25
HEADER = ("id", "group", "split", "label", "text")


@dataclass(frozen=True, slots=True)
class LabelledHeadlines:
    """Rows of the labelled set; `labels` index into LABELS."""

    ids: tuple[str, ...]
    groups: tuple[str, ...]
    splits: tuple[str, ...]
    labels: np.ndarray
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, split: str) -> "LabelledHeadlines":
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        keep = [i for i, s in enumerate(self.splits) if s == split]
        return LabelledHeadlines(
            ids=tuple(self.ids[i] for i in keep),
            groups=tuple(self.groups[i] for i in keep),
            splits=tuple(self.splits[i] for i in keep),
            labels=self.labels[keep],
            texts=tuple(self.texts[i] for i in keep),
        )


def dataset_path() -> Path:
    return Path(__file__).resolve().parent / "headlines.csv"


def dataset_digest(path: Path | None = None) -> str:
    """SHA-256 of the file, so a saved head is only reused on the data it was trained on."""
    return hashlib.sha256((path or dataset_path()).read_bytes()).hexdigest()


def split_rule(groups: Iterable[str], fraction: float = TEST_FRACTION) -> frozenset[str]:
    """The test groups: the first `ceil(fraction × n)` groups ranked by BLAKE2b of their name."""
    unique = sorted(set(groups))
    ranked = sorted(unique, key=lambda g: hashlib.blake2b(g.encode("utf-8"), digest_size=8).hexdigest())
    return frozenset(ranked[: math.ceil(fraction * len(unique))])


def load_headlines(path: Path | None = None) -> LabelledHeadlines:
    """Read and validate the labelled set; a bad row raises DataError naming file and row."""
    path = path or dataset_path()
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = tuple(next(reader, ()))
            rows = list(reader)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the labelled headlines ({exc})") from exc
    if header != HEADER:
        raise DataError(f"{path}: header must be {','.join(HEADER)}, got {','.join(header) or 'nothing'}")
    ids: list[str] = []
    groups: list[str] = []
    splits: list[str] = []
    labels: list[int] = []
    texts: list[str] = []
    for line, row in enumerate(rows, start=2):
        if len(row) != len(HEADER):
            raise DataError(f"{path}, row {line}: expected {len(HEADER)} fields, got {len(row)}")
        rid, group, split, label, text = (field.strip() for field in row)
        if label not in LABELS:
            raise DataError(f"{path}, row {line}: label {label!r} is not one of {', '.join(LABELS)}")
        if split not in SPLITS:
            raise DataError(f"{path}, row {line}: split {split!r} is not one of {', '.join(SPLITS)}")
        if not text or not group or not rid:
            raise DataError(f"{path}, row {line}: id, group and text must not be empty")
        ids.append(rid)
        groups.append(group)
        splits.append(split)
        labels.append(LABELS.index(label))
        texts.append(text)
    if not ids:
        raise DataError(f"{path}: no rows")
    return LabelledHeadlines(ids=tuple(ids), groups=tuple(groups), splits=tuple(splits),
                             labels=np.asarray(labels, dtype=np.int64), texts=tuple(texts))
