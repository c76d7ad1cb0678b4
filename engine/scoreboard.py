"""Live, out-of-sample scoring of every signal source.

A prediction recorded at cycle c (a probability per symbol that the log
return over `h` bars beats the cost) is scored only when cycle c+h is
observed: the label is log(close[c+h] / close[c]) > cost_bps/1e4, exactly the
training label. Nothing is scored before its horizon has passed, and a
prediction cannot be recorded for a cycle older than the newest observed one
(its outcome might already be known).

Each source keeps its last `window` scored rows (one row = one symbol at one
cycle) in fixed-size ring arrays, so memory is bounded whatever the run
length; pending predictions are bounded by `max_pending` per source. With a
large watchlist one cycle yields one row per symbol: size `window` to cover
enough cycles (e.g. 100 × the number of symbols).

Baselines are measured on the same scored rows: the majority class of the
window (a hindsight choice, so a slightly hard bar), always "up", and the
constant base rate for the Brier score. A source's `weight` is its Brier
skill score max(0, 1 − brier / baseline_brier) once `min_scored` rows are
scored; before that it is the source's prior (see `set_prior`).

Not tied to a thread, but safe to share: every method takes one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.events import ScoreboardRow


@dataclass(frozen=True, slots=True)
class _Pending:
    cycle: int
    horizon: int
    probs: np.ndarray


class _Track:
    """One source: its pending predictions and a ring of scored (p, y) rows."""

    def __init__(self, family: str, window: int, max_pending: int, prior: float) -> None:
        self.family = family
        self.prior = prior
        self.pending: deque[_Pending] = deque(maxlen=max_pending)
        self.last_recorded = -1
        self.p = np.zeros(window)
        self.y = np.zeros(window)
        self.count = 0
        self.pos = 0

    def add(self, p: np.ndarray, y: np.ndarray) -> None:
        size = len(self.p)
        if len(p) >= size:
            p, y = p[-size:], y[-size:]
        idx = (self.pos + np.arange(len(p))) % size
        self.p[idx] = p
        self.y[idx] = y
        self.pos = (self.pos + len(p)) % size
        self.count = min(size, self.count + len(p))

    def scored(self) -> tuple[np.ndarray, np.ndarray]:
        return self.p[: self.count], self.y[: self.count]


class Scoreboard:
    """Per-source rolling record of predictions scored after their horizon."""

    def __init__(self, symbols: tuple[str, ...], *, horizon: int, cost_bps: float, window: int = 500,
                 min_scored: int = 50, default_prior: float = 0.0, max_pending: int = 256) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be ≥ 1, got {horizon}")
        if window < 1 or min_scored < 1 or max_pending < 1:
            raise ValueError("window, min_scored and max_pending must be ≥ 1")
        self.symbols = tuple(symbols)
        self.horizon = horizon
        self.cost = cost_bps / 1e4
        self.window = window
        self.min_scored = min_scored
        self.default_prior = default_prior
        self.max_pending = max_pending
        self._tracks: dict[str, _Track] = {}
        self._closes: dict[int, np.ndarray] = {}
        self._last_cycle: int | None = None
        self._lock = threading.Lock()

    # -- sources ----------------------------------------------------------------
    @property
    def sources(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._tracks)

    def register(self, source: str, family: str, *, prior: float | None = None) -> None:
        """Declare a source before its first prediction (so it has a row and a prior)."""
        with self._lock:
            self._track(source, family)
            if prior is not None:
                self._tracks[source].prior = float(prior)

    def set_prior(self, source: str, prior: float) -> None:
        """The weight `source` has until `min_scored` rows are scored (e.g. its holdout skill)."""
        if not prior >= 0.0:
            raise ValueError(f"a prior weight must be ≥ 0, got {prior}")
        with self._lock:
            if source not in self._tracks:
                raise KeyError(self._unknown(source))
            self._tracks[source].prior = float(prior)

    def _track(self, source: str, family: str) -> _Track:
        track = self._tracks.get(source)
        if track is None:
            track = self._tracks[source] = _Track(family, self.window, self.max_pending, self.default_prior)
        return track

    def _unknown(self, source: str) -> str:
        return f"no scoreboard source {source!r} (sources: {', '.join(self._tracks) or 'none'})"

    # -- feeding ----------------------------------------------------------------
    def record(self, source: str, family: str, cycle: int, symbols: tuple[str, ...], probs: np.ndarray, *,
               horizon: int | None = None) -> None:
        """Store the prediction `source` made at `cycle` (scored once cycle + horizon is observed)."""
        if tuple(symbols) != self.symbols:
            raise ValueError(f"{source}: prediction symbols differ from the scoreboard's watchlist")
        p = np.array(probs, dtype=np.float64)
        if p.shape != (len(self.symbols),):
            raise ValueError(f"{source}: probs have shape {p.shape}, expected ({len(self.symbols)},)")
        h = self.horizon if horizon is None else int(horizon)
        if h < 1:
            raise ValueError(f"{source}: horizon must be ≥ 1, got {h}")
        with self._lock:
            if self._last_cycle is not None and cycle < self._last_cycle:
                raise ValueError(f"{source}: a prediction for cycle {cycle} arrived after cycle {self._last_cycle} "
                                 "was observed; its outcome may be known")
            track = self._track(source, family)
            if cycle <= track.last_recorded:
                raise ValueError(f"{source}: cycle {cycle} is not after its last prediction ({track.last_recorded})")
            track.last_recorded = cycle
            track.pending.append(_Pending(cycle, h, p))

    def observe(self, cycle: int, close: np.ndarray) -> None:
        """The closes of `cycle`; scores every prediction whose horizon ends here."""
        c = np.array(close, dtype=np.float64)
        if c.shape != (len(self.symbols),):
            raise ValueError(f"closes have shape {c.shape}, expected ({len(self.symbols)},)")
        c[~(c > 0)] = np.nan
        with self._lock:
            if self._last_cycle is not None and cycle <= self._last_cycle:
                raise ValueError(f"cycle {cycle} observed after cycle {self._last_cycle}")
            self._last_cycle = cycle
            self._closes[cycle] = c
            for track in self._tracks.values():
                self._score_due(track, cycle)
            self._prune(cycle)

    def _score_due(self, track: _Track, now: int) -> None:
        keep: list[_Pending] = []
        for item in track.pending:
            due = item.cycle + item.horizon
            if due > now:
                keep.append(item)
                continue
            start, end = self._closes.get(item.cycle), self._closes.get(due)
            if start is None or end is None:
                continue  # a cycle was never observed: unscorable
            with np.errstate(divide="ignore", invalid="ignore"):
                ret = np.log(end / start)
            ok = np.isfinite(ret) & np.isfinite(item.probs)
            track.add(item.probs[ok], (ret[ok] > self.cost).astype(np.float64))
        if len(keep) != len(track.pending):
            track.pending = deque(keep, maxlen=self.max_pending)

    def _prune(self, now: int) -> None:
        oldest = min((item.cycle for t in self._tracks.values() for item in t.pending), default=now)
        for cycle in [c for c in self._closes if c < min(oldest, now)]:
            del self._closes[cycle]

    # -- reading ----------------------------------------------------------------
    def row(self, source: str) -> ScoreboardRow:
        with self._lock:
            track = self._tracks.get(source)
            if track is None:
                raise KeyError(self._unknown(source))
            return self._row(source, track)

    def rows(self) -> tuple[ScoreboardRow, ...]:
        with self._lock:
            return tuple(self._row(name, track) for name, track in self._tracks.items())

    def weight(self, source: str) -> float:
        """The source's current weight (the default prior for an unknown source)."""
        with self._lock:
            track = self._tracks.get(source)
            return self._weight(track) if track is not None else self.default_prior

    def _weight(self, track: _Track) -> float:
        if track.count < self.min_scored:
            return track.prior
        p, y = track.scored()
        base = y.mean()
        base_brier = base * (1.0 - base)
        if base_brier <= 0.0:
            return 0.0  # one class only: a constant is perfect, nothing left to add
        return max(0.0, 1.0 - float(np.mean((p - y) ** 2)) / base_brier)

    def _row(self, source: str, track: _Track) -> ScoreboardRow:
        p, y = track.scored()
        stats: dict[str, float | None] = dict.fromkeys(
            ("hit_rate", "baseline_hit_rate", "always_up_hit_rate", "brier", "baseline_brier"))
        if track.count:
            up = float(y.mean())
            stats.update(hit_rate=float(((p >= 0.5) == (y == 1.0)).mean()), baseline_hit_rate=max(up, 1.0 - up),
                         always_up_hit_rate=up, brier=float(np.mean((p - y) ** 2)), baseline_brier=up * (1.0 - up))
        return ScoreboardRow(source=source, cycle=self._last_cycle or 0, family=track.family, scored=track.count,
                             window=self.window, weight=self._weight(track), **stats)  # type: ignore[arg-type]
