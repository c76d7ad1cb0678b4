"""Train the pattern CNN on synthetic windows: `cockpit train patterns`.

Deterministic on one machine: every epoch draws fresh labelled windows from
`generate(seed=seed * 1000 + epoch)`, the validation set comes from seed
`seed * 1000 + 999`, and torch is seeded and capped to `threads`. The test
set of the report (evaluate.py) uses a seed no training run touches.
`PatternTrainer.epochs()` yields after every epoch so a caller (the model's
`fit`, the CLI) can show progress and stop between epochs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from engine.patterns.render import HEIGHT, WINDOW
from engine.patterns.synthetic import CLASSES, generate


@dataclass(frozen=True, slots=True)
class TrainConfig:
    seed: int = 7
    epochs: int = 16
    per_class: int = 400
    """Fresh synthetic windows per class per epoch."""
    val_per_class: int = 100
    batch: int = 128
    lr: float = 4e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    threads: int = 2
    window: int = WINDOW
    height: int = HEIGHT

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EpochResult:
    epoch: int
    epochs: int
    loss: float
    val_accuracy: float
    val_macro_f1: float
    seconds: float


@dataclass(frozen=True, slots=True)
class TrainedPatterns:
    path: Path | None
    parameters: int
    history: tuple[EpochResult, ...]
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


class PatternTrainer:
    """Owns one training run; iterate `epochs()` to train, then `checkpoint_meta()`/`model`."""

    def __init__(self, config: TrainConfig = TrainConfig(), cnn: Any = None) -> None:
        from engine.models._torch import seed_everything, torch_setup

        self.config = config
        self.torch = torch_setup(config.threads)
        seed_everything(config.seed)
        from engine.patterns.cnn import CNNConfig, PatternCNN, count_parameters

        self.cnn_config = cnn or CNNConfig(n_classes=len(CLASSES), image=config.height)
        if config.window != config.height:
            raise ValueError(f"the CNN expects square images: window {config.window} ≠ height {config.height}")
        self.model = PatternCNN(self.cnn_config)
        self.parameters = count_parameters(self.model)
        self.history: list[EpochResult] = []
        val = generate(config.val_per_class, seed=config.seed * 1000 + 999, window=config.window)
        self._val_images, self._val_labels = val.images(height=config.height), val.labels

    def epochs(self) -> Iterator[EpochResult]:
        torch, c = self.torch, self.config
        steps_per_epoch = -(-c.per_class * len(CLASSES) // c.batch)
        opt = torch.optim.AdamW(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=steps_per_epoch * c.epochs,
                                                    pct_start=0.15)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=c.label_smoothing)
        for epoch in range(c.epochs):
            t0 = time.perf_counter()
            data = generate(c.per_class, seed=c.seed * 1000 + epoch, window=c.window)
            images = torch.from_numpy(data.images(height=c.height))
            labels = torch.from_numpy(data.labels)
            self.model.train()
            total, seen = 0.0, 0
            for start in range(0, len(labels), c.batch):
                x, y = images[start:start + c.batch], labels[start:start + c.batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(self.model(x), y)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(y)
                seen += len(y)
            acc, f1 = self._validate()
            result = EpochResult(epoch + 1, c.epochs, total / max(1, seen), acc, f1, time.perf_counter() - t0)
            self.history.append(result)
            yield result

    def _validate(self) -> tuple[float, float]:
        from engine.patterns.cnn import probabilities
        from engine.patterns.metrics import classify_report

        pred = probabilities(self.model, self._val_images).argmax(axis=1)
        report = classify_report(self._val_labels, pred, CLASSES)
        return report.accuracy, report.macro_f1

    def checkpoint_meta(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else None
        return {
            "train_config": self.config.as_dict(),
            "parameters": self.parameters,
            "epochs_done": len(self.history),
            "val_accuracy": last.val_accuracy if last else None,
            "val_macro_f1": last.val_macro_f1 if last else None,
            "train_seconds": round(sum(e.seconds for e in self.history), 1),
            "torch": str(self.torch.__version__),
            "made_by": "cockpit train patterns (engine.patterns.train.train_patterns)",
        }

    def save(self, path: Path) -> Path:
        from engine.patterns.checkpoint import save_checkpoint

        return save_checkpoint(path, self.model, classes=CLASSES, window=self.config.window,
                               height=self.config.height, meta=self.checkpoint_meta())


def train_patterns(out: Path | str | None, *, config: TrainConfig = TrainConfig(),
                   progress: Callable[[str], None] | None = None) -> TrainedPatterns:
    """Train from scratch and write the checkpoint to `out` (None = train only). Prints progress."""
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    trainer = PatternTrainer(config)
    say(f"patterns: training a {trainer.parameters:,}-parameter CNN on {config.per_class * len(CLASSES):,} "
        f"fresh synthetic windows per epoch × {config.epochs} epochs (seed {config.seed}, {config.threads} threads)")
    for e in trainer.epochs():
        say(f"  epoch {e.epoch:>2}/{e.epochs}  loss {e.loss:.3f}  val acc {e.val_accuracy:.3f}  "
            f"macro-F1 {e.val_macro_f1:.3f}  {e.seconds:.1f}s")
    path = trainer.save(Path(out)) if out is not None else None
    if path is not None:
        say(f"patterns: wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
    return TrainedPatterns(path=path, parameters=trainer.parameters, history=tuple(trainer.history),
                           seconds=time.perf_counter() - t0, meta=trainer.checkpoint_meta())


def default_output() -> Path:
    """Where `cockpit train patterns` writes: the data directory's checkpoints (found before the shipped file)."""
    from engine.config import Config
    from engine.patterns.checkpoint import FILENAME

    return Config().data_dir() / "checkpoints" / FILENAME


def main(argv: list[str] | None = None) -> int:
    """`cockpit train patterns [--out PATH | --shipped] [--epochs N] [--per-class N] [--seed S] [--threads T]`."""
    import argparse

    from engine.patterns.checkpoint import SHIPPED

    d = TrainConfig()
    p = argparse.ArgumentParser(prog="cockpit train patterns",
                                description="Train the chart-pattern CNN on synthetic charts (deterministic).")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", help="checkpoint path (default: <data dir>/checkpoints/patterns_cnn.pt)")
    where.add_argument("--shipped", action="store_true", help=f"overwrite the shipped checkpoint {SHIPPED.name}")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--per-class", type=int, default=d.per_class)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads)
    a = p.parse_args(argv)
    out = SHIPPED if a.shipped else Path(a.out) if a.out else default_output()
    train_patterns(out, config=TrainConfig(seed=a.seed, epochs=a.epochs, per_class=a.per_class, threads=a.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
