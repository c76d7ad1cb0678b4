"""Which entries to propose: the fused ranking, or the DQN as selector — measured live.

Every cycle both selectors pick up to `n` entries from the same candidates
(symbols whose fused score reached the buy threshold):
- "rank": the top `n` by fused score;
- "dqn": those the DQN itself rates p(up) ≥ 0.5, top `n` by that rating
  (it may pick fewer, even none: staying in cash is a choice).
When the horizon has passed, each pick is scored by its mean net log return
(forward return minus the round-trip cost; an empty pick earns 0). The paired
difference dqn − rank per cycle is the evidence. With `mode = "auto"` the DQN
selects only once `min_outcomes` cycles were scored AND its mean difference
is positive with a t-statistic ≥ `min_t`; otherwise the ranking does.
`verdict()` says which is used and why, in one line, with the figures.
Pending picks and outcomes are bounded (ring buffers), whatever the run length.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

MODES = ("rank", "dqn", "auto")


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectorVerdict:
    mode: str  # configured
    used: str  # "rank" or "dqn"
    outcomes: int
    rank_mean_bp: float | None
    dqn_mean_bp: float | None
    t_stat: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class _Pick:
    cycle: int
    rank: np.ndarray  # symbol indices
    dqn: np.ndarray


class SelectorTrial:
    def __init__(self, *, mode: str = "auto", horizon: int, cost_bps: float, min_outcomes: int = 100,
                 min_t: float = 2.0, window: int = 2000) -> None:
        if mode not in MODES:
            raise ValueError(f"selector mode must be one of {MODES}, got {mode!r}")
        if horizon < 1:
            raise ValueError(f"horizon must be ≥ 1, got {horizon}")
        self.mode = mode
        self.horizon = horizon
        self.cost = cost_bps / 1e4
        self.min_outcomes = min_outcomes
        self.min_t = min_t
        self._pending: deque[_Pick] = deque(maxlen=horizon + 64)
        self._closes: deque[tuple[int, np.ndarray]] = deque(maxlen=horizon + 64)
        self._rank: deque[float] = deque(maxlen=window)
        self._dqn: deque[float] = deque(maxlen=window)

    # -- picking -----------------------------------------------------------------
    @staticmethod
    def rank_pick(score: np.ndarray, threshold: float, n: int) -> np.ndarray:
        idx = np.flatnonzero(np.isfinite(score) & (score >= threshold))
        return idx[np.argsort(-score[idx], kind="stable")][:n]

    @staticmethod
    def dqn_pick(score: np.ndarray, dqn: np.ndarray | None, threshold: float, n: int) -> np.ndarray:
        if dqn is None:
            return np.zeros(0, dtype=np.int64)
        ok = np.isfinite(score) & (score >= threshold) & np.isfinite(dqn) & (dqn >= 0.5)
        idx = np.flatnonzero(ok)
        return idx[np.argsort(-dqn[idx], kind="stable")][:n]

    def choose(self, cycle: int, score: np.ndarray, dqn: np.ndarray | None, *, threshold: float,
               n: int) -> tuple[np.ndarray, str]:
        """Record both picks for scoring; return the indices to rank first and who chose them."""
        rank = self.rank_pick(score, threshold, n)
        pick = self.dqn_pick(score, dqn, threshold, n)
        if dqn is not None and (len(rank) or len(pick)):
            self._pending.append(_Pick(cycle, rank, pick))
        used = self.verdict().used
        return (pick, "dqn") if used == "dqn" and dqn is not None else (rank, "rank")

    # -- scoring -----------------------------------------------------------------
    def observe(self, cycle: int, close: np.ndarray) -> None:
        """The closes of `cycle`; scores every pick whose horizon ends here."""
        self._closes.append((cycle, np.asarray(close, dtype=np.float64)))
        closes = dict(self._closes)
        while self._pending and self._pending[0].cycle + self.horizon <= cycle:
            item = self._pending.popleft()
            start, end = closes.get(item.cycle), closes.get(item.cycle + self.horizon)
            if start is None or end is None:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                net = np.log(end / start) - self.cost
            r, d = self._mean(net, item.rank), self._mean(net, item.dqn)
            if r is not None and d is not None:
                self._rank.append(r)
                self._dqn.append(d)

    @staticmethod
    def _mean(net: np.ndarray, idx: np.ndarray) -> float | None:
        if len(idx) == 0:
            return 0.0
        values = net[idx]
        values = values[np.isfinite(values)]
        return float(values.mean()) if len(values) else None

    def verdict(self) -> SelectorVerdict:
        n = len(self._rank)
        rank = np.fromiter(self._rank, float, n)
        dqn = np.fromiter(self._dqn, float, n)
        rank_bp = float(rank.mean() * 1e4) if n else None
        dqn_bp = float(dqn.mean() * 1e4) if n else None
        t = None
        if n >= 2:
            diff = dqn - rank
            sd = float(diff.std(ddof=1))
            t = float(diff.mean() / (sd / math.sqrt(n))) if sd > 0 else (0.0 if diff.mean() == 0 else math.copysign(math.inf, diff.mean()))
        figures = (f"DQN {dqn_bp:+.1f} bp vs rank {rank_bp:+.1f} bp per pick over {n} scored cycles, t={t:+.2f}"
                   if n >= 2 and t is not None and rank_bp is not None and dqn_bp is not None
                   else f"{n} of {self.min_outcomes} cycles scored")
        if self.mode != "auto":
            return SelectorVerdict(mode=self.mode, used=self.mode, outcomes=n, rank_mean_bp=rank_bp,
                                   dqn_mean_bp=dqn_bp, t_stat=t, reason=f"set in config ({figures})")
        beats = n >= self.min_outcomes and t is not None and t >= self.min_t and (dqn_bp or 0.0) > (rank_bp or 0.0)
        if beats:
            reason = f"the DQN measurably beats the ranking: {figures}"
        elif n < self.min_outcomes:
            reason = f"ranking until the DQN has a record: {figures}"
        else:
            reason = f"the DQN does not beat the ranking: {figures} (needs t ≥ {self.min_t:g})"
        return SelectorVerdict(mode=self.mode, used="dqn" if beats else "rank", outcomes=n, rank_mean_bp=rank_bp,
                               dqn_mean_bp=dqn_bp, t_stat=t, reason=reason)
