"""The sentiment family behind the Model protocol: headlines → scores → per-symbol sentiment → Signal.

Each cycle (`predict`) polls the sources at the bar's market time, drops
repeats, scores at most `max_per_cycle` NEW headlines in batches (never the
history; the rest wait in a bounded backlog), maps them to watchlist symbols
and updates two decaying trackers:

- the *display* tracker takes every headline (the pane's gauge);
- the *signal* tracker takes only **tradable** headlines: from a real source
  whose timestamps are real (`aligned`), published no later than the bar and
  no older than `max_age_minutes`. Sample-feed items are never tradable.

Events: a `Headline` per scored headline, a `Sentiment` every cycle, and a
`Signal` only once some tradable headline has mentioned a watchlist symbol —
so with the sample feed alone the model emits no Signal at all and nothing
of it can reach fusion or the scoreboard.

The Signal maps sentiment s ∈ [-1, 1] to 0.5 + 0.5·gain·s (uncalibrated: the
live scoreboard measures whether it has skill and weights it accordingly).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from engine.errors import NotReadyError
from engine.events import Event, Signal
from engine.models.protocol import Budget, FeatureBatch, Feedback, Family, History, ModelContext, Progress
from engine.sentiment.dataset import LABELS
from engine.sentiment.events import Headline, Sentiment
from engine.sentiment.scorers import CHECKPOINT_NAME, build_scorer
from engine.sentiment.sources import HeadlineSource, RawHeadline, build_sources
from engine.sentiment.symbols import SymbolMapper
from engine.sentiment.tracker import DecayingSentiment, Deduper, headline_key


class SentimentModel:
    """Family "sentiment": a transformer reads headlines; symbols get a decaying sentiment."""

    family = Family.SENTIMENT

    def __init__(self, name: str = "sentiment", *, model: str = "minilm", online: bool = False,
                 feeds: Sequence[str] = (), files: Sequence[str] = (), sample: bool = True,
                 poll_seconds: float = 300.0, sample_every_minutes: float = 120.0,
                 half_life_minutes: float = 360.0, prior_weight: float = 1.0, max_age_minutes: float = 1440.0,
                 horizon: int = 4, signal_gain: float = 0.2, min_evidence: float = 0.25,
                 batch_size: int = 32, max_per_cycle: int = 64, max_backlog: int = 1024,
                 dedupe_capacity: int = 4096, aliases: Mapping[str, Sequence[str]] | None = None,
                 retrain: bool = False) -> None:
        self.name = name
        self.model = model
        self.online = online
        self.feeds = tuple(feeds)
        self.files = tuple(files)
        self.sample = sample
        self.poll_seconds = poll_seconds
        self.sample_every_minutes = sample_every_minutes
        self.half_life_minutes = half_life_minutes
        self.prior_weight = prior_weight
        self.max_age_minutes = max_age_minutes
        self.horizon = horizon
        self.signal_gain = signal_gain
        self.min_evidence = min_evidence
        self.batch_size = batch_size
        self.max_per_cycle = max_per_cycle
        self.max_backlog = max_backlog
        self.dedupe_capacity = dedupe_capacity
        self.aliases = {str(k): tuple(v) for k, v in (aliases or {}).items()}
        self.retrain = retrain
        self.budget = Budget(ram_mb=250.0, latency_ms=1500.0, threads=1)
        self._ctx: ModelContext | None = None
        self._scorer: Any = None
        self._sources: tuple[HeadlineSource, ...] = ()
        self._fitted = False
        self._heldout: dict[str, Any] | None = None
        self._head_origin = ""
        self._pending_head: Any = None
        self._symbols: tuple[str, ...] = ()
        self._mapper: SymbolMapper | None = None
        self._display: DecayingSentiment | None = None
        self._signal: DecayingSentiment | None = None
        self._dedupe = Deduper(dedupe_capacity)
        self._backlog: deque[tuple[RawHeadline, bool]] = deque()
        self._waiting: list[RawHeadline] = []
        self._scored = 0
        self._dropped = 0
        self._tradable_seen = False

    # -- parameters ---------------------------------------------------------------
    def get_params(self) -> Mapping[str, Any]:
        return {"name": self.name, "model": self.model, "online": self.online, "feeds": list(self.feeds),
                "files": list(self.files), "sample": self.sample, "poll_seconds": self.poll_seconds,
                "sample_every_minutes": self.sample_every_minutes, "half_life_minutes": self.half_life_minutes,
                "prior_weight": self.prior_weight, "max_age_minutes": self.max_age_minutes,
                "horizon": self.horizon, "signal_gain": self.signal_gain, "min_evidence": self.min_evidence,
                "batch_size": self.batch_size, "max_per_cycle": self.max_per_cycle,
                "max_backlog": self.max_backlog, "dedupe_capacity": self.dedupe_capacity,
                "aliases": {k: list(v) for k, v in self.aliases.items()}, "retrain": self.retrain}

    @property
    def model_label(self) -> str:
        return self._scorer.name if self._scorer is not None else self.model

    @property
    def sources(self) -> tuple[HeadlineSource, ...]:
        return self._sources

    def attach_scorer(self, scorer: Any) -> None:
        """Use an already loaded scorer instead of loading one in warmup (tests, report, bench)."""
        self._scorer = scorer

    def attach_sources(self, sources: Sequence[HeadlineSource]) -> None:
        """Poll these HeadlineSources instead of the configured feeds/files (bench, tests)."""
        self._sources = tuple(sources)

    # -- lifecycle --------------------------------------------------------------------
    def warmup(self, ctx: ModelContext) -> None:
        """Load the transformer (seconds; the runtime calls this on its trainer thread)."""
        self._ctx = ctx
        self.budget = Budget(ram_mb=self.budget.ram_mb, latency_ms=self.budget.latency_ms, threads=ctx.threads)
        if self._scorer is None:
            scorer = build_scorer(self.model, online=self.online, threads=ctx.threads,
                                  checkpoint_dir=ctx.checkpoint_dir)
            scorer.load()
            self._scorer = scorer
        if self._pending_head is not None and hasattr(self._scorer, "head"):
            self._scorer.head, self._pending_head = self._pending_head, None
            self._head_origin = "checkpoint"
        if not self._sources:
            self._sources = build_sources(
                feeds=self.feeds, files=self.files, sample=self.sample, poll_seconds=self.poll_seconds,
                sample_every_s=self.sample_every_minutes * 60.0, seed=ctx.seed,
                lookback_s=self.max_age_minutes * 60.0)

    @property
    def ready(self) -> bool:
        return self._fitted and self._scorer is not None and self._scorer.loaded

    def fit(self, history: History) -> Iterator[Progress]:
        """Train the head on the labelled set unless a head for this dataset exists; score the held-out set."""
        from engine.sentiment.head import HeadScorer

        del history  # the head learns from labelled text, not candles
        scorer = self._scorer
        if scorer is None:
            raise NotReadyError(f"{self.name}: warmup() has not loaded the model")
        if not isinstance(scorer, HeadScorer):
            yield Progress(done=0, total=1, message=f"scoring held-out headlines with {scorer.name}")
            from engine.sentiment.evaluate import heldout_scores

            self._heldout = heldout_scores(scorer, batch_size=self.batch_size)
            self._fitted = True
            yield Progress(done=1, total=1, message="pretrained classifier")
            return
        if scorer.head is not None and not self.retrain:
            meta = getattr(scorer, "meta", {})
            self._heldout = meta.get("heldout", self._heldout)
            self._head_origin = self._head_origin or Path(str(meta.get("path", "shipped"))).name
            self._fitted = True
            yield Progress(done=1, total=1, message=f"head from {self._head_origin}")
            return
        yield from self._train(scorer)

    def _train(self, scorer: Any) -> Iterator[Progress]:
        from engine.sentiment.dataset import dataset_digest
        from engine.sentiment.evaluate import heldout_scores
        from engine.sentiment.head import save_head, train_on_dataset

        seed = self._ctx.seed if self._ctx else 7
        run = train_on_dataset(scorer.encoder, seed=seed, batch_size=self.batch_size)
        while True:
            try:
                done, total, message = next(run)
            except StopIteration as stop:
                trained = stop.value
                break
            yield Progress(done=done, total=total + 1, message=message)
        scorer.head = trained.head
        self._heldout = heldout_scores(scorer, batch_size=self.batch_size)
        meta = {"encoder": scorer.encoder.name, "dataset_sha256": dataset_digest(), "seed": seed,
                "train_rows": trained.train_rows, "cv_macro_f1": [list(p) for p in trained.selection.cv_macro_f1],
                "heldout": self._heldout}
        scorer.meta = meta
        if self._ctx is not None:
            try:
                save_head(Path(self._ctx.checkpoint_dir) / CHECKPOINT_NAME, trained.head, meta)
            except OSError:
                pass  # an unwritable checkpoint dir only costs a retrain next start
        self._head_origin = "trained now"
        self._fitted = True
        yield Progress(done=total + 1, total=total + 1, message="held-out scored")

    # -- per cycle ----------------------------------------------------------------------
    def _reset_symbols(self, symbols: tuple[str, ...]) -> None:
        self._symbols = symbols
        self._mapper = SymbolMapper(symbols, self.aliases)
        half_life_s = self.half_life_minutes * 60.0
        self._display = DecayingSentiment(len(symbols), half_life_s=half_life_s, prior_weight=self.prior_weight)
        self._signal = DecayingSentiment(len(symbols), half_life_s=half_life_s, prior_weight=self.prior_weight)
        self._tradable_seen = False

    def _route(self, item: RawHeadline, now: int) -> str:
        """"tradable", "display" (shown, never traded) or "wait" (stamped in the next bar or so)."""
        if item.sample or not item.aligned:
            return "display"
        max_age = int(self.max_age_minutes * 60e9)
        if item.published > now:
            return "wait" if item.published - now <= max_age else "display"  # else: clocks disagree (replay)
        return "tradable" if now - item.published <= max_age else "display"

    def _enqueue(self, item: RawHeadline, tradable: bool) -> None:
        if len(self._backlog) >= self.max_backlog:
            self._backlog.popleft()
            self._dropped += 1
        self._backlog.append((item, tradable))

    def _intake(self, now: int) -> None:
        ripe = [h for h in self._waiting if h.published <= now]
        self._waiting = [h for h in self._waiting if h.published > now]
        for item in ripe:
            self._enqueue(item, True)
        for source in self._sources:
            for item in source.poll(now):
                if self._dedupe.seen(item.text):
                    continue
                route = self._route(item, now)
                if route == "wait":
                    if len(self._waiting) < self.max_backlog:
                        self._waiting.append(item)
                    else:
                        self._dropped += 1
                else:
                    self._enqueue(item, route == "tradable")

    def predict(self, batch: FeatureBatch) -> Sequence[Event]:
        if not self.ready:
            raise NotReadyError(f"{self.name} is still loading")
        if batch.symbols != self._symbols:
            self._reset_symbols(batch.symbols)
        assert self._mapper is not None and self._display is not None and self._signal is not None
        now = batch.ts
        self._intake(now)
        take = [self._backlog.popleft() for _ in range(min(self.max_per_cycle, len(self._backlog)))]
        events: list[Event] = []
        if take:
            events.extend(self._score(take, batch))
        events.append(self._sentiment_event(batch))
        if self._tradable_seen:
            events.append(self._signal_event(batch))
        return events

    def _score(self, take: list[tuple[RawHeadline, bool]], batch: FeatureBatch) -> list[Headline]:
        assert self._mapper is not None and self._display is not None and self._signal is not None
        now = batch.ts
        texts = [item.text for item, _ in take]
        probs = np.asarray(self._scorer.score(texts, batch_size=self.batch_size), dtype=float)
        scores = probs[:, 2] - probs[:, 0]
        member = self._mapper.membership(texts)
        tradable = np.array([t for _, t in take], dtype=bool)
        published = np.array([min(item.published, now) if item.aligned or item.sample else now
                              for item, _ in take], dtype=np.int64)
        self._display.add(now, published, scores, member)
        if tradable.any():
            self._signal.add(now, published[tradable], scores[tradable], member[tradable])
            self._tradable_seen = self._tradable_seen or bool(member[tradable].any())
        self._scored += len(take)
        label_index = probs.argmax(axis=1)
        return [
            Headline(source=self.name, cycle=batch.cycle, ts=now, headline_id=headline_key(item.text),
                     text=item.text, feed=item.feed, published=item.published,
                     symbols=tuple(self._symbols[j] for j in np.flatnonzero(member[i]).tolist()),
                     label=LABELS[int(label_index[i])], score=float(scores[i]),
                     probs=(float(probs[i, 0]), float(probs[i, 1]), float(probs[i, 2])),
                     model=self.model_label, sample=item.sample, tradable=bool(tradable[i]), url=item.url)
            for i, (item, _) in enumerate(take)
        ]

    def _sentiment_event(self, batch: FeatureBatch) -> Sentiment:
        assert self._display is not None and self._signal is not None
        values, evidence = self._display.values(batch.ts)
        t_values, t_evidence = self._signal.values(batch.ts)
        return Sentiment(source=self.name, cycle=batch.cycle, ts=batch.ts, model=self.model_label,
                         symbols=self._symbols, values=_floats(values), evidence=_floats(evidence),
                         tradable_values=_floats(t_values), tradable_evidence=_floats(t_evidence),
                         half_life_s=self.half_life_minutes * 60.0,
                         feeds=tuple(f"{s.name}: {s.status()}" for s in self._sources),
                         headlines=self._scored, duplicates=self._dedupe.duplicates,
                         backlog=len(self._backlog) + len(self._waiting), dropped=self._dropped)

    def _signal_event(self, batch: FeatureBatch) -> Signal:
        assert self._signal is not None
        values, evidence = self._signal.values(batch.ts)
        probs = np.where(evidence >= self.min_evidence, 0.5 + 0.5 * self.signal_gain * values, np.nan)
        return Signal(source=self.name, cycle=batch.cycle, ts=batch.ts, family=str(self.family),
                      symbols=self._symbols, values=_floats(probs), horizon=self.horizon,
                      meaning="0.5 + 0.5·gain·decayed headline sentiment (uncalibrated)")

    def update(self, feedback: Feedback) -> None:
        """Nothing online: the head is trained on labelled text; skill is scored live."""

    def describe(self) -> str:
        h = self._heldout
        if not h:
            return self.model_label
        m, v, b = h["model"], h["vader"], h["majority"]
        return (f"{self.model_label} · held-out {h['n_test']}: acc {m['accuracy']:.0%} F1 {m['macro_f1']:.2f} "
                f"(VADER {v['accuracy']:.0%}/{v['macro_f1']:.2f}, majority {b['accuracy']:.0%})")

    def close(self) -> None:
        for source in self._sources:
            source.close()

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> Mapping[str, Any]:
        head = getattr(self._scorer, "head", None) if self._scorer is not None else self._pending_head
        return {"params": dict(self.get_params()), "head": head.state_dict() if head is not None else None,
                "heldout": self._heldout}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        from engine.sentiment.head import SentimentHead

        params = dict(state["params"])
        scorer = self._scorer
        self.__init__(**params)  # type: ignore[misc]
        self._scorer = scorer
        self._heldout = state.get("heldout")
        head_state = state.get("head")
        if head_state and head_state.get("fitted"):
            head = SentimentHead.from_state(head_state)
            if scorer is not None and hasattr(scorer, "head"):
                scorer.head = head
                self._head_origin = "checkpoint"
            else:
                self._pending_head = head


def _floats(a: np.ndarray) -> tuple[float, ...]:
    return tuple(np.asarray(a, dtype=float).tolist())


def train_sentiment(checkpoint_dir: str, *, threads: int = 2, seed: int = 7,
                    progress: Any = None) -> dict[str, Any]:
    """`cockpit train sentiment`: retrain the head, save it to `checkpoint_dir`, return the held-out scores."""
    from engine.data.synthetic import synthetic_panel
    from engine.models.protocol import History

    model = SentimentModel(retrain=True, sample=False)
    model.warmup(ModelContext(checkpoint_dir=checkpoint_dir, seed=seed, threads=threads))
    panel = synthetic_panel(1, 8, seed=seed)
    for step in model.fit(History(panel=panel, features=np.zeros((1, 8, 0)), names=())):
        if progress is not None:
            progress(step)
    assert model._heldout is not None
    return {**model._heldout, "checkpoint": str(Path(checkpoint_dir) / CHECKPOINT_NAME)}
