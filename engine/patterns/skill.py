"""Does a detected pattern predict the forward return? Measured, then turned into p(up).

`scan_panel` classifies the windows ending at chosen bars of a panel (chunked
so memory stays flat). `measure_skill` compares, per pattern, the share of
confident detections followed by a move above the cost with the share over
all scanned windows (the unconditional base rate). A pattern earns its own
probability only when that difference is significant after a Bonferroni
correction over the nine patterns (|z| ≥ 2.77, two-sided 5 % family-wise)
with at least `min_count` detections; its probability is then shrunk toward
the base rate by `prior` pseudo-counts. Every other case maps to the base
rate, i.e. the signal carries no information and its skill weight is zero.
Scanning with a stride ≥ the horizon keeps forward windows of one symbol from
overlapping; detections on different symbols at the same bar remain
correlated (crypto moves together), so the z-scores are optimistic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from engine.data.panel import CandlePanel
from engine.patterns.render import panel_windows, render_windows

Z_BONFERRONI_9 = 2.77
Classifier = Callable[[np.ndarray], np.ndarray]  # images (N, C, H, W) → probabilities (N, classes)


@dataclass(frozen=True, slots=True)
class Scan:
    """One classified window per row: symbol row, end bar, class, confidence (and the rules' view)."""

    sym: np.ndarray
    bar: np.ndarray
    cls: np.ndarray
    confidence: np.ndarray
    rules: np.ndarray | None = None  # (N, 9) booleans in PATTERNS order, when asked for

    def __len__(self) -> int:
        return len(self.sym)


def usable_windows(close: np.ndarray, min_share: float = 0.8) -> np.ndarray:
    """Windows worth classifying: the newest bar present and ≥ `min_share` of the bars present."""
    present = np.isfinite(close)
    return present[:, -1] & (present.mean(axis=1) >= min_share)


def scan_panel(classify: Classifier, panel: CandlePanel, ends: np.ndarray, *, window: int, height: int,
               chunk: int = 512, with_rules: bool = False) -> Scan:
    """Classify every symbol's window ending at each bar of `ends`; skips unusable windows."""
    from engine.patterns.rules import detect_batch

    ends = np.asarray(ends, dtype=np.int64)
    sym_all = np.repeat(np.arange(panel.n_symbols), len(ends))
    bar_all = np.tile(ends, panel.n_symbols)
    out: dict[str, list[np.ndarray]] = {"sym": [], "bar": [], "cls": [], "conf": [], "rules": []}
    for start in range(0, len(sym_all), chunk):
        sym, bar = sym_all[start:start + chunk], bar_all[start:start + chunk]
        o, h, l, c = panel_windows(panel, bar, rows=sym, window=window)
        ok = usable_windows(c)
        if not ok.any():
            continue
        o, h, l, c = o[ok], h[ok], l[ok], c[ok]
        probs = classify(render_windows(o, h, l, c, height=height))
        out["sym"].append(sym[ok])
        out["bar"].append(bar[ok])
        out["cls"].append(probs.argmax(axis=1))
        out["conf"].append(probs.max(axis=1))
        if with_rules:
            out["rules"].append(detect_batch(o, h, l, c))
    if not out["sym"]:
        empty = np.zeros(0, dtype=np.int64)
        return Scan(empty, empty, empty, np.zeros(0), np.zeros((0, 9), dtype=bool) if with_rules else None)
    return Scan(np.concatenate(out["sym"]), np.concatenate(out["bar"]), np.concatenate(out["cls"]),
                np.concatenate(out["conf"]), np.concatenate(out["rules"]) if with_rules else None)


def forward_log_return(close: np.ndarray, sym: np.ndarray, bar: np.ndarray, horizon: int) -> np.ndarray:
    """log(close[t + h] / close[t]) for each (sym, bar); NaN when unknown. A LABEL: it looks ahead."""
    later = bar + horizon
    ok = later < close.shape[1]
    out = np.full(len(sym), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.log(close[sym[ok], later[ok]] / close[sym[ok], bar[ok]])
    return out


@dataclass(frozen=True, slots=True)
class PatternSkill:
    pattern: str
    n: int
    hit_rate: float
    mean_return: float
    z: float
    significant: bool
    p_up: float


@dataclass(frozen=True, slots=True)
class SkillMap:
    """p(up) after each pattern, from measured skill; the base rate where there is none."""

    classes: tuple[str, ...]
    base_rate: float
    n: int
    horizon: int
    cost_bps: float
    min_confidence: float
    patterns: tuple[PatternSkill, ...]

    @property
    def weight(self) -> float:
        """Share of detections that belong to a significant pattern: 0 = no edge anywhere."""
        total = sum(p.n for p in self.patterns)
        return sum(p.n for p in self.patterns if p.significant) / total if total else 0.0

    def p_up(self, cls: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        table = np.full(len(self.classes), self.base_rate)
        for p in self.patterns:
            table[self.classes.index(p.pattern)] = p.p_up
        out = table[np.asarray(cls, dtype=np.int64)]
        return np.where(np.asarray(confidence) >= self.min_confidence, out, self.base_rate)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"] = list(self.classes)
        d["patterns"] = [asdict(p) for p in self.patterns]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SkillMap":
        return cls(classes=tuple(d["classes"]), base_rate=float(d["base_rate"]), n=int(d["n"]),
                   horizon=int(d["horizon"]), cost_bps=float(d["cost_bps"]),
                   min_confidence=float(d["min_confidence"]),
                   patterns=tuple(PatternSkill(**p) for p in d["patterns"]))

    def describe(self) -> str:
        edge = [p for p in self.patterns if p.significant]
        head = f"base p(up) {self.base_rate:.1%} over {self.n:,} windows"
        if not edge:
            return head + " · no pattern beats it significantly (signal weight 0)"
        return head + " · " + ", ".join(f"{p.pattern} {p.hit_rate:.0%} (n={p.n})" for p in edge)


def measure_skill(scan: Scan, close: np.ndarray, *, classes: tuple[str, ...], horizon: int, cost_bps: float,
                  min_confidence: float, min_count: int = 30, prior: float = 50.0,
                  z_crit: float = Z_BONFERRONI_9) -> SkillMap:
    """Per-pattern hit rate of "forward return > cost" after confident detections vs the base rate."""
    fwd = forward_log_return(close, scan.sym, scan.bar, horizon)
    known = np.isfinite(fwd)
    up = fwd[known] > cost_bps / 1e4
    cls, conf, ret = scan.cls[known], scan.confidence[known], fwd[known]
    base = float(up.mean()) if up.size else float("nan")
    skills = []
    for k, name in enumerate(classes):
        if name == "none":
            continue
        hit = (cls == k) & (conf >= min_confidence)
        n = int(hit.sum())
        rate = float(up[hit].mean()) if n else float("nan")
        se = math.sqrt(base * (1 - base) / n) if n and 0 < base < 1 else float("nan")
        z = (rate - base) / se if se and math.isfinite(se) and se > 0 else 0.0
        significant = n >= min_count and abs(z) >= z_crit
        p_up = (n * rate + prior * base) / (n + prior) if significant else base
        skills.append(PatternSkill(name, n, rate, float(ret[hit].mean()) if n else float("nan"), float(z),
                                   bool(significant), float(p_up)))
    return SkillMap(classes=classes, base_rate=base, n=int(up.size), horizon=horizon, cost_bps=cost_bps,
                    min_confidence=min_confidence, patterns=tuple(skills))
