"""The DQN's standardiser works in blocks (bounded temporaries) with the one-shot result, bit for bit."""

import numpy as np
import pytest

from engine.rl import rollout
from engine.rl.env import TradingEnv
from engine.rl.rollout import Standardiser


def _reference_fit(features):
    flat = features.reshape(-1, features.shape[-1])
    flat = flat[np.isfinite(flat).all(axis=1)]
    std = flat.std(axis=0)
    return flat.mean(axis=0), np.where(std > 1e-12, std, 1.0)


def _reference_apply(features, mean, std):
    z = (features - mean) / std
    return np.clip(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -10.0, 10.0).astype(np.float32)


@pytest.fixture()
def features():
    rng = np.random.default_rng(4)
    x = rng.standard_t(3, size=(37, 50, 6)) * 3.0 + 1.0
    x[3, 10:20, 2] = np.nan
    x[5, 7, :] = np.inf
    x[8, 0, 1] = -np.inf
    return x[:, 5:, :]  # a non-contiguous slice, as the model passes it


@pytest.mark.parametrize("block_values", [1, 7 * 45 * 6 + 1, 1 << 20])
def test_blocks_give_the_one_shot_values_exactly(features, monkeypatch, block_values):
    monkeypatch.setattr(rollout, "STANDARDISE_BLOCK_VALUES", block_values)
    s = Standardiser.fit(features)
    mean, std = _reference_fit(features)
    np.testing.assert_array_equal(s.mean, mean)
    np.testing.assert_array_equal(s.std, std)
    z = s(features)
    assert z.dtype == np.float32 and z.shape == features.shape
    np.testing.assert_array_equal(z, _reference_apply(features, mean, std))
    np.testing.assert_array_equal(s(features[:, -1, :]), _reference_apply(features[:, -1, :], mean, std))
    np.testing.assert_array_equal(s(features[0, 0]), _reference_apply(features[0, 0], mean, std))
    assert s(features[:0]).shape == (0,) + features.shape[1:]


def test_an_environment_uses_clean_rows_as_they_are_and_cleans_a_copy_otherwise():
    close = np.linspace(100.0, 110.0, 40)
    clean = np.ones((40, 3), dtype=np.float32)
    assert TradingEnv(close, close, clean).features is clean
    dirty = clean.copy()
    dirty[4, 1] = np.nan
    env = TradingEnv(close, close, dirty)
    assert env.features is not dirty and np.isnan(dirty[4, 1]) and env.features[4, 1] == 0.0
