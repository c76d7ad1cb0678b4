"""De-duplication of repeated headlines and a per-symbol sentiment that decays in market time.

Decay. Each scored headline i has a score s_i in [-1, 1] (p(positive) −
p(negative)) and a time t_i. At market time t a symbol's sentiment is

    S(t) = Σ s_i · w_i(t) / (k + Σ w_i(t)),   w_i(t) = 2^(−(t − t_i) / h)

over the headlines that mention it, with half-life h and a prior weight k
(k "neutral pseudo-headlines"). Fresh, agreeing news pulls S towards its
mean score; with no news, S decays towards 0 with half-life h, and so does
the evidence E(t) = Σ w_i(t) (the effective number of recent headlines).
Time is market time (the bar's timestamp), so a replay decays exactly as the
live run would. Both sums are kept as running totals decayed in one
multiplication per update, so memory is O(symbols), not O(headlines).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict

import numpy as np

_WORDS = re.compile(r"[^\w$%.]+", re.UNICODE)
_SUFFIX = re.compile(r"\s+[-|–—]\s+[^-|–—]{2,40}$")  # " - Reuters", " | CoinDesk"


def normalise(text: str) -> str:
    """Lower-case words only, without a trailing " - Publisher" and with single spaces."""
    text = _SUFFIX.sub("", text.strip())
    return " ".join(_WORDS.sub(" ", text.lower()).replace(". ", " ").split()).strip(". ")


def headline_key(text: str) -> str:
    """A 16-hex-digit digest of the normalised text: equal for re-posts of one headline."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=8).hexdigest()


class Deduper:
    """Remembers the last `capacity` headline keys (LRU), so memory stays bounded."""

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        self.capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._keys)

    def seen(self, text: str) -> bool:
        """True if this headline was seen recently; otherwise remember it and return False."""
        key = headline_key(text)
        if key in self._keys:
            self._keys.move_to_end(key)
            self.duplicates += 1
            return True
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return False


class DecayingSentiment:
    """Per-symbol exponentially decaying sentiment (see the module docstring)."""

    def __init__(self, n_symbols: int, *, half_life_s: float, prior_weight: float = 1.0) -> None:
        if not half_life_s > 0:
            raise ValueError(f"half_life_s must be > 0, got {half_life_s}")
        if prior_weight < 0:
            raise ValueError(f"prior_weight must be ≥ 0, got {prior_weight}")
        self.half_life_ns = half_life_s * 1e9
        self.prior_weight = prior_weight
        self._num = np.zeros(n_symbols)
        self._den = np.zeros(n_symbols)
        self._t: int | None = None

    def _decay(self, dt_ns: float | np.ndarray) -> float | np.ndarray:
        return np.exp2(-np.maximum(dt_ns, 0.0) / self.half_life_ns)

    def _advance(self, now: int) -> None:
        if self._t is None:
            self._t = now
        elif now > self._t:
            factor = self._decay(float(now - self._t))
            self._num *= factor
            self._den *= factor
            self._t = now

    def add(self, now: int, published: np.ndarray, scores: np.ndarray, membership: np.ndarray) -> None:
        """Add headlines (published ns, scores in [-1, 1], (n, symbols) membership) at market time `now`.

        A headline stamped after `now` counts as fresh (weight 1), never more.
        """
        self._advance(now)
        if len(scores) == 0:
            return
        assert self._t is not None
        w = self._decay(self._t - np.asarray(published, dtype=float))
        m = np.asarray(membership, dtype=float)
        self._num += (w * np.asarray(scores, dtype=float)) @ m
        self._den += w @ m

    def values(self, now: int) -> tuple[np.ndarray, np.ndarray]:
        """(sentiment, evidence) per symbol at `now`; sentiment is NaN where there was never news."""
        factor = 1.0 if self._t is None else self._decay(float(now - self._t))
        num, den = self._num * factor, self._den * factor
        out = np.full(len(num), np.nan)
        seen = self._den > 0
        out[seen] = num[seen] / (self.prior_weight + den[seen])
        return out, den
