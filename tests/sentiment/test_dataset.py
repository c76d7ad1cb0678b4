"""The project's labelled headlines: size, labels, the grouped split and no leakage across it."""

import re

import numpy as np
import pytest

from engine.errors import DataError
from engine.sentiment.dataset import LABELS, dataset_digest, load_headlines, split_rule
from engine.sentiment.head import load_head, shipped_head_path
from engine.sentiment.tracker import normalise


@pytest.fixture(scope="module")
def data():
    return load_headlines()


def test_size_labels_and_ids(data):
    assert len(data) >= 900
    assert len(set(data.ids)) == len(data)
    counts = np.bincount(data.labels, minlength=3)
    assert counts.min() >= 0.25 * len(data), dict(zip(LABELS, counts.tolist()))


def test_no_duplicate_headlines(data):
    keys = [normalise(t) for t in data.texts]
    assert len(set(keys)) == len(keys)


def test_split_is_by_group_and_follows_the_rule(data):
    test_groups = split_rule(data.groups)
    for group, split in zip(data.groups, data.splits):
        assert split == ("test" if group in test_groups else "train"), group
    test = data.subset("test")
    assert 0.22 <= len(test) / len(data) <= 0.28
    assert set(test.groups).isdisjoint(data.subset("train").groups)
    assert len(set(test.labels.tolist())) == 3


def _words(text):
    return set(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def test_no_near_duplicates_across_the_split(data):
    train = [_words(t) for t in data.subset("train").texts]
    worst = 0.0
    for text in data.subset("test").texts:
        w = _words(text)
        worst = max(worst, max(len(w & t) / len(w | t) for t in train))
    assert worst < 0.5


def test_shipped_head_was_trained_on_this_file():
    head, meta = load_head(shipped_head_path())
    assert head.fitted and meta["dataset_sha256"] == dataset_digest()
    assert meta["train_rows"] == len(load_headlines().subset("train"))


def test_bad_file_names_file_and_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,group,split,label,text\nh1,g,train,positive,Fine\nh2,g,train,bullish,Oops\n")
    with pytest.raises(DataError, match=r"bad\.csv, row 3: label 'bullish'"):
        load_headlines(path)
