"""`PatternModel`: the "patterns" family behind the engine's Model protocol.

warmup() loads the CNN checkpoint (the user's, else the shipped one); when
there is none, fit() trains one from synthetic data first, one Progress per
epoch, and saves it in the checkpoint directory. fit() then measures on the
history it is given whether detected patterns predicted the forward return
(`skill.measure_skill`) — that table maps detections to the Signal's p(up),
and is the base rate (no information, weight 0) wherever no pattern showed
significant skill.

predict() renders every watchlist symbol's last `window` bars into one batch,
classifies it in one forward pass, runs the rule detectors on the same
windows, and returns PatternHit events for confident non-"none" detections
(at most one per symbol and pattern per `cooldown` bars) plus one Signal.
It reads the candles from `batch.window` (a CandlePanel of the newest bars,
ending at the batch's bar) — see `predict_panel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from engine.data.panel import CandlePanel
from engine.errors import ModelError, NotReadyError
from engine.events import Event, Signal
from engine.models.protocol import Budget, FeatureBatch, Feedback, Family, History, ModelContext, Progress
from engine.patterns.events import PatternHit
from engine.patterns.render import panel_windows, render_windows
from engine.patterns.skill import SkillMap, measure_skill, scan_panel, usable_windows
from engine.patterns.synthetic import CLASSES, PATTERNS

PRECISIONS = ("fp32", "int8")
STUDY_MAX_WINDOWS = 20_000
PREDICT_CHUNK = 128


class PatternModel:
    family = Family.PATTERNS

    def __init__(self, name: str = "patterns", *, horizon: int = 8, cost_bps: float = 20.0,
                 min_confidence: float = 0.7, cooldown: int = 16, train_bars: int = 4000, study_stride: int = 8,
                 precision: str = "fp32", train_epochs: int = 16, train_per_class: int = 400, checkpoint: str = "",
                 use_shipped: bool = True) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.name = name
        self.horizon = horizon
        self.cost_bps = cost_bps
        self.min_confidence = min_confidence
        self.cooldown = cooldown
        self.train_bars = train_bars
        self.study_stride = study_stride
        self.precision = precision
        self.train_epochs = train_epochs
        self.train_per_class = train_per_class
        self.checkpoint = checkpoint
        self.use_shipped = use_shipped
        # Measured (bench_patterns, 2-vCPU x86 under load): render + classify 500 symbols 0.39–0.45 s.
        self.budget = Budget(ram_mb=60.0, latency_ms=500.0, threads=2)
        self._ctx: ModelContext | None = None
        self._net: Any = None
        self._fast: Any = None
        self.classes_: tuple[str, ...] = ()
        self.window_ = 64
        self.height_ = 64
        self.meta_: dict[str, Any] = {}
        self.checkpoint_path_: str = ""
        self.skill_: SkillMap | None = None
        self._last_hit: dict[tuple[str, str], int] = {}

    def get_params(self) -> Mapping[str, Any]:
        return {"name": self.name, "horizon": self.horizon, "cost_bps": self.cost_bps,
                "min_confidence": self.min_confidence, "cooldown": self.cooldown, "train_bars": self.train_bars,
                "study_stride": self.study_stride, "precision": self.precision, "train_epochs": self.train_epochs,
                "train_per_class": self.train_per_class, "checkpoint": self.checkpoint, "use_shipped": self.use_shipped}

    @property
    def window_bars(self) -> int:
        """Bars of candles predict() needs in `batch.window` (the runtime reads this)."""
        return self.window_

    @property
    def ready(self) -> bool:
        return self._fast is not None and self.skill_ is not None

    # -- lifecycle -------------------------------------------------------------------
    def warmup(self, ctx: ModelContext) -> None:
        """Load the checkpoint if there is one; otherwise fit() trains first."""
        from engine.models._torch import torch_setup
        from engine.patterns.checkpoint import find_checkpoint

        self._ctx = ctx
        torch_setup(ctx.threads)
        path = Path(self.checkpoint) if self.checkpoint else find_checkpoint(ctx.checkpoint_dir, self.use_shipped)
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        from engine.patterns.checkpoint import load_checkpoint

        loaded = load_checkpoint(path)
        self._install(loaded.model, loaded.classes, loaded.window, loaded.height, loaded.meta, str(path))

    def _install(self, net: Any, classes: tuple[str, ...], window: int, height: int, meta: dict[str, Any],
                 path: str) -> None:
        from engine.patterns.cnn import inference_copy, quantize_static_int8

        if tuple(classes[1:]) != PATTERNS or classes[0] != "none":
            raise ModelError(f"{path}: checkpoint classes {classes} differ from this code's {('none',) + PATTERNS}")
        fast = inference_copy(net)
        if self.precision == "int8":
            from engine.patterns.synthetic import generate

            fast = quantize_static_int8(net, generate(20, seed=424242, window=window).images(height=height))
        self._net, self._fast = net, fast
        self.classes_, self.window_, self.height_, self.meta_ = classes, window, height, meta
        self.checkpoint_path_ = path

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for rendered windows."""
        from engine.patterns.cnn import probabilities

        if self._fast is None:
            raise NotReadyError(f"{self.name} has no CNN loaded yet")
        return probabilities(self._fast, images)

    def fit(self, history: History) -> Iterator[Progress]:
        """Train the CNN if there is none (Progress per epoch), then measure pattern skill on `history`."""
        extra = 0
        if self._fast is None:
            yield from self._train()
            extra = self.train_epochs
        total = extra + 1
        yield Progress(done=extra, total=total, message="measuring pattern skill on history")
        self.skill_ = self.study(history.panel)
        self._last_hit.clear()
        yield Progress(done=total, total=total, message=self.skill_.describe())

    def _train(self) -> Iterator[Progress]:
        from engine.patterns.checkpoint import FILENAME
        from engine.patterns.train import PatternTrainer, TrainConfig

        ctx = self._ctx or ModelContext(checkpoint_dir="")
        trainer = PatternTrainer(TrainConfig(seed=ctx.seed, epochs=self.train_epochs, per_class=self.train_per_class,
                                             threads=ctx.threads))
        total = self.train_epochs + 1
        yield Progress(done=0, total=total, message=f"no checkpoint: training the pattern CNN "
                                                    f"({trainer.parameters:,} parameters) on synthetic charts")
        for e in trainer.epochs():
            yield Progress(done=e.epoch, total=total, metrics=(("val_macro_f1", e.val_macro_f1),),
                           message=f"epoch {e.epoch}/{e.epochs} val macro-F1 {e.val_macro_f1:.2f}")
        path = ""
        if ctx.checkpoint_dir:
            path = str(trainer.save(Path(ctx.checkpoint_dir) / FILENAME))
        self._install(trainer.model.eval(), CLASSES, trainer.config.window,
                      trainer.config.height, trainer.checkpoint_meta(), path)

    def _render_and_classify(self, o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray,
                             chunk: int = PREDICT_CHUNK) -> np.ndarray:
        """Class probabilities of OHLC windows, rendered `chunk` at a time (images are 48 KB each:
        500 at once were a 25 MB transient every cycle)."""
        return np.concatenate([self.classify(render_windows(o[i:i + chunk], h[i:i + chunk], l[i:i + chunk],
                                                            c[i:i + chunk], height=self.height_))
                               for i in range(0, len(o), chunk)])

    def study(self, panel: CandlePanel) -> SkillMap:
        """Pattern skill over the last `train_bars` bars of `panel`, scanned every `study_stride` bars
        (or sparser, so that a large watchlist scans at most `STUDY_MAX_WINDOWS` windows)."""
        start = max(self.window_ - 1, panel.n_bars - self.train_bars)
        stop = panel.n_bars - self.horizon
        span = max(0, stop - start)
        stride = max(self.study_stride, -(-panel.n_symbols * span // STUDY_MAX_WINDOWS))
        ends = np.arange(start, max(start, stop), max(1, stride))
        scan = scan_panel(self.classify, panel, ends, window=self.window_, height=self.height_)
        return measure_skill(scan, panel.close, classes=self.classes_, horizon=self.horizon,
                             cost_bps=self.cost_bps, min_confidence=self.min_confidence)

    # -- inference -------------------------------------------------------------------
    def predict(self, batch: FeatureBatch) -> Sequence[Event]:
        window = getattr(batch, "window", None)
        if window is None:
            raise ModelError("the patterns model reads candles, but this FeatureBatch carries no `window` "
                             "(the runtime must pass the newest bars as a CandlePanel)")
        if window.symbols != batch.symbols:
            raise ModelError("batch.window symbols differ from the batch's")
        if window.n_bars and int(window.ts[-1]) != batch.ts:
            raise ModelError(f"batch.window ends at ts {int(window.ts[-1])}, not at the batch's bar {batch.ts}")
        return self.predict_panel(window, cycle=batch.cycle)

    def predict_panel(self, panel: CandlePanel, *, cycle: int) -> tuple[Event, ...]:
        """Detections and the Signal for the newest bar of `panel`, all symbols in one batch."""
        from engine.patterns.rules import detect_batch

        if not self.ready:
            raise NotReadyError(f"{self.name} is not ready")
        assert self.skill_ is not None
        n = panel.n_symbols
        ts = int(panel.ts[-1]) if panel.n_bars else 0
        p_up = np.full(n, np.nan)
        events: list[Event] = []
        if panel.n_bars:
            o, h, l, c = panel_windows(panel, panel.n_bars - 1, window=self.window_)
            ok = usable_windows(c)
            rows = np.flatnonzero(ok)
            if rows.size:
                probs = self._render_and_classify(o[rows], h[rows], l[rows], c[rows])
                cls, conf = probs.argmax(axis=1), probs.max(axis=1)
                p_up[rows] = self.skill_.p_up(cls, conf)
                hit = (cls != 0) & (conf >= self.min_confidence)
                if hit.any():
                    found = detect_batch(o[rows[hit]], h[rows[hit]], l[rows[hit]], c[rows[hit]])
                    events += self._hits(panel, cycle, ts, rows[hit], cls[hit], conf[hit], found, (o, h, l, c))
        events.append(Signal(source=self.name, cycle=cycle, ts=ts, family=str(self.family), symbols=panel.symbols,
                             values=tuple(float(p) for p in p_up), horizon=self.horizon,
                             meaning=f"p(return over {self.horizon} bars > {self.cost_bps:g} bp) after the "
                                     "detected pattern (base rate where patterns showed no skill)"))
        return tuple(events)

    def _hits(self, panel: CandlePanel, cycle: int, ts: int, rows: np.ndarray, cls: np.ndarray, conf: np.ndarray,
              found: np.ndarray, ohlc: tuple[np.ndarray, ...]) -> list[Event]:
        o, h, l, c = ohlc
        window_ts = int(panel.ts[max(0, panel.n_bars - self.window_)])
        out: list[Event] = []
        for row, k, p, rule_row in zip(rows.tolist(), cls.tolist(), conf.tolist(), found):
            symbol, pattern = panel.symbols[row], self.classes_[k]
            last = self._last_hit.get((symbol, pattern))
            if last is not None and 0 <= cycle - last < self.cooldown:
                continue
            self._last_hit[(symbol, pattern)] = cycle
            rules = tuple(name for name, yes in zip(PATTERNS, rule_row) if yes)
            out.append(PatternHit(
                source=self.name, cycle=cycle, ts=ts, symbol=symbol, pattern=pattern, confidence=float(p),
                window=self.window_, timeframe=panel.timeframe, window_ts=window_ts, rules=rules,
                rules_agree=pattern in rules, open=tuple(o[row].tolist()), high=tuple(h[row].tolist()),
                low=tuple(l[row].tolist()), close=tuple(c[row].tolist())))
        return out

    def update(self, feedback: Feedback) -> None:
        """Nothing online: the CNN is trained on synthetic charts; the skill table is refit on schedule."""

    def describe(self) -> str:
        parts = []
        if self.meta_.get("val_macro_f1") is not None:
            parts.append(f"synthetic val macro-F1 {self.meta_['val_macro_f1']:.2f}")
        if self.skill_ is not None:
            parts.append(self.skill_.describe())
        return " · ".join(parts)

    # -- checkpoints -----------------------------------------------------------------
    def state_dict(self) -> Mapping[str, Any]:
        state: dict[str, Any] = {"params": dict(self.get_params()), "loaded": self._net is not None}
        if self._net is not None:
            state.update(cnn_config=self._net.config.as_dict(), classes=list(self.classes_), window=self.window_,
                         height=self.height_, meta=dict(self.meta_),
                         weights={k: v.detach().clone() for k, v in self._net.state_dict().items()})
        if self.skill_ is not None:
            state["skill"] = self.skill_.as_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.__init__(**dict(state["params"]))  # type: ignore[misc]
        if state.get("loaded"):
            from engine.patterns.cnn import CNNConfig, PatternCNN

            net = PatternCNN(CNNConfig.from_dict(dict(state["cnn_config"])))
            net.load_state_dict(state["weights"])
            net.eval()
            self._install(net, tuple(state["classes"]), int(state["window"]), int(state["height"]),
                          dict(state["meta"]), "state_dict")
        if "skill" in state:
            self.skill_ = SkillMap.from_dict(dict(state["skill"]))

