"""`cockpit report` for the patterns family: how well the CNN reads charts, and whether patterns pay.

Three rows (ModelReport; metrics are flat name → number):

- "patterns cnn": per-class precision / recall / F1, accuracy, macro-F1 and
  the confusion matrix ("confusion.<true>.<predicted>") on held-out
  synthetic windows (a seed no training run uses), next to the majority-class
  baseline and to the rule detectors on the same windows.
- "patterns real": on the real candles, scanned every `STRIDE` bars — how
  often the CNN and the rules see each pattern and how often they agree;
  and the forward log return after each detected pattern versus the
  unconditional forward return over the same scanned windows, with counts,
  bootstrap and t 95 % intervals, per horizon. The verdict in the notes says
  plainly whether any pattern has an edge (a difference whose |t| clears a
  Bonferroni bar over every pattern × horizon × detector tested).
- "patterns signal": the Signal the model would have emitted, walk-forward
  (skill table fitted on each fold's training bars, scored on its test
  bars) against the majority base rate, always-up and buy-and-hold.

The CNN never saw real candles (it is trained on synthetic charts only), so
everything on real data is out-of-sample for it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.data.panel import CandlePanel
from engine.errors import ConfigError, DataError
from engine.patterns.metrics import classify_report, diff_ci, mean_ci
from engine.patterns.skill import Scan, forward_log_return, measure_skill, scan_panel
from engine.patterns.synthetic import CLASSES, PATTERNS, generate

TEST_SEED = 20_251_125
"""Seed of the held-out synthetic test set (training uses seed·1000 + epoch and seed·1000 + 999)."""
STRIDE = 8
HORIZONS = (4, 8, 16)
Classify = Callable[[np.ndarray], np.ndarray]


def load_classifier(checkpoint_dir: str | Path | None = None, *, threads: int = 2) -> tuple[Classify, Any]:
    """The checkpoint's CNN as images → probabilities, and the loaded checkpoint (DataError if none)."""
    from engine.models._torch import torch_setup
    from engine.patterns.checkpoint import find_checkpoint, load_checkpoint
    from engine.patterns.cnn import inference_copy, probabilities

    torch_setup(threads)
    path = find_checkpoint(checkpoint_dir)
    if path is None:
        raise DataError("no patterns checkpoint found (shipped or trained)", hint="run `cockpit train patterns`")
    loaded = load_checkpoint(path)
    fast = inference_copy(loaded.model)
    return (lambda images: probabilities(fast, images)), loaded


# -- synthetic ---------------------------------------------------------------------------
def synthetic_study(classify: Classify, *, per_class: int, window: int = 64, height: int = 64) -> dict[str, Any]:
    """CNN and rule detectors on the held-out synthetic test set."""
    from engine.patterns.rules import detect_batch

    data = generate(per_class, seed=TEST_SEED, window=window)
    pred = classify(data.images(height=height)).argmax(axis=1)
    cnn = classify_report(data.labels, pred, CLASSES)
    found = detect_batch(data.open, data.high, data.low, data.close)
    rules: dict[str, dict[str, float]] = {}
    for j, name in enumerate(PATTERNS):
        truth = data.labels == CLASSES.index(name)
        fired = found[:, j]
        rules[name] = {"precision": float((fired & truth).sum() / fired.sum()) if fired.any() else 0.0,
                       "recall": float((fired & truth).sum() / truth.sum()) if truth.any() else 0.0}
    none = data.labels == 0
    rules["none"] = {"precision": float((~found.any(axis=1) & none).sum() / max(1, (~found.any(axis=1)).sum())),
                     "recall": float((~found.any(axis=1) & none).sum() / max(1, none.sum()))}
    return {"cnn": cnn, "rules": rules, "n": len(data)}


def cnn_report(study: dict[str, Any], meta: dict[str, Any]) -> Any:
    from engine.evaluation.walkforward import ModelReport

    cnn = study["cnn"]
    metrics: dict[str, float | int | None] = {"accuracy": cnn.accuracy, "macro_f1": cnn.macro_f1,
                                              "n_test": study["n"]}
    for m in cnn.per_class:
        metrics[f"precision.{m.name}"] = m.precision
        metrics[f"recall.{m.name}"] = m.recall
        metrics[f"f1.{m.name}"] = m.f1
    for i, true in enumerate(CLASSES):
        for j, predicted in enumerate(CLASSES):
            metrics[f"confusion.{true}.{predicted}"] = int(cnn.confusion[i, j])
    rules = {f"{k}.{name}": v for name, d in study["rules"].items() for k, v in d.items()}
    k = len(CLASSES)
    majority = {"accuracy": cnn.chance_accuracy, "macro_f1": 2 * (1 / k) / (1 + 1 / k) / k}
    notes = (f"held-out synthetic windows (seed {TEST_SEED}, {study['n']} windows, balanced classes); "
             f"confusion.<true>.<predicted> counts",
             f"checkpoint: {meta.get('parameters', '?')} parameters, {meta.get('epochs_done', '?')} epochs, "
             f"validation macro-F1 {meta.get('val_macro_f1') or float('nan'):.3f} at training time",
             "baseline 'rules' = the geometric detectors on the same windows (per-class precision/recall; "
             "they may fire several patterns or none)")
    return ModelReport(name="patterns cnn", family="patterns", metrics=metrics,
                       baselines={"majority": majority, "rules": rules}, notes=notes)


# -- real candles ------------------------------------------------------------------------
def _horizon_rows(scan: Scan, horizon: int, stride: int) -> np.ndarray:
    """Rows whose forward windows of `horizon` bars do not overlap on one symbol."""
    step = max(1, math.ceil(horizon / stride))
    first = scan.bar.min() if len(scan) else 0
    return ((scan.bar - first) // stride) % step == 0


def forward_study(scan: Scan, close: np.ndarray, *, horizons: tuple[int, ...], stride: int, cost_bps: float,
                  min_confidence: float, seed: int) -> dict[str, Any]:
    """Forward log return after each pattern (CNN and rules) vs the other scanned windows, per horizon.

    Besides bootstrap and plain t intervals, each difference gets a t-statistic
    with standard errors clustered by bar (the symbols of one bar move
    together, so they are not independent rows) and its sign in each half of
    the period.
    """
    out: dict[str, Any] = {}
    tests = 0
    for h in horizons:
        rows = _horizon_rows(scan, h, stride)
        fwd = forward_log_return(close, scan.sym[rows], scan.bar[rows], h)
        known = np.isfinite(fwd)
        cls, conf = scan.cls[rows][known], scan.confidence[rows][known]
        bars = scan.bar[rows][known]
        rules = scan.rules[rows][known] if scan.rules is not None else None
        y = fwd[known]
        late = bars >= np.median(bars) if y.size else np.zeros(0, dtype=bool)
        base = mean_ci(y, seed=seed)
        entry: dict[str, Any] = {"unconditional": {**base.as_dict(), "hit_rate": float((y > cost_bps / 1e4).mean())
                                                   if y.size else float("nan")}}
        for detector in ("cnn", "rules"):
            if detector == "rules" and rules is None:
                continue
            per: dict[str, Any] = {}
            for j, name in enumerate(PATTERNS):
                mask = ((cls == CLASSES.index(name)) & (conf >= min_confidence)) if detector == "cnn" else rules[:, j]
                x = y[mask]
                stats = mean_ci(x, seed=seed + j)
                diff, lo, hi = diff_ci(x, y[~mask], seed=seed + 100 + j)
                tests += 1
                halves = [_mean_diff(y[part], mask[part]) for part in (~late, late)]
                per[name] = {**stats.as_dict(), "hit_rate": float((x > cost_bps / 1e4).mean()) if x.size else None,
                             "diff_vs_rest": diff, "diff_ci95": [lo, hi], "t": _welch_t(x, y[~mask]),
                             "t_clustered": clustered_t(y, mask, bars), "diff_halves": halves}
            entry[detector] = per
        out[str(h)] = entry
    return {"by_horizon": out, "tests": tests}


def _mean_diff(y: np.ndarray, mask: np.ndarray) -> float:
    if mask.sum() < 2 or (~mask).sum() < 2:
        return float("nan")
    return float(y[mask].mean() - y[~mask].mean())


def _welch_t(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    return float((x.mean() - y.mean()) / se) if se > 0 else float("nan")


def clustered_t(y: np.ndarray, mask: np.ndarray, clusters: np.ndarray) -> float:
    """t of mean(y[mask]) − mean(y[~mask]) with CR0 standard errors clustered on `clusters` (e.g. the bar).

    Var = V_in + V_out − 2·Cov, each from per-cluster sums of residuals, so
    rows of one cluster (symbols moving together) count as one draw.
    """
    n_in, n_out = int(mask.sum()), int((~mask).sum())
    if n_in < 2 or n_out < 2:
        return float("nan")
    _, c = np.unique(clusters, return_inverse=True)
    r_in = np.where(mask, y - y[mask].mean(), 0.0)
    r_out = np.where(~mask, y - y[~mask].mean(), 0.0)
    s_in, s_out = np.bincount(c, weights=r_in), np.bincount(c, weights=r_out)
    var = (s_in @ s_in) / n_in**2 + (s_out @ s_out) / n_out**2 - 2 * (s_in @ s_out) / (n_in * n_out)
    return float((y[mask].mean() - y[~mask].mean()) / math.sqrt(var)) if var > 0 else float("nan")


def agreement(scan: Scan, min_confidence: float) -> dict[str, dict[str, float | int]]:
    """Per pattern: CNN detections, rule detections, both, and the two conditional agreement rates."""
    assert scan.rules is not None
    out = {}
    confident = scan.confidence >= min_confidence
    for j, name in enumerate(PATTERNS):
        cnn = confident & (scan.cls == CLASSES.index(name))
        rule = scan.rules[:, j]
        both = int((cnn & rule).sum())
        out[name] = {"cnn": int(cnn.sum()), "rules": int(rule.sum()), "both": both,
                     "rules_confirm_cnn": both / int(cnn.sum()) if cnn.any() else float("nan"),
                     "cnn_confirms_rules": both / int(rule.sum()) if rule.any() else float("nan")}
    anything_cnn = confident & (scan.cls != 0)
    anything_rules = scan.rules.any(axis=1)
    out["any"] = {"cnn": int(anything_cnn.sum()), "rules": int(anything_rules.sum()),
                  "both": int((anything_cnn & anything_rules).sum()),
                  "same_verdict": float((anything_cnn == anything_rules).mean()) if len(scan) else float("nan")}
    return out


BEARISH = ("head_and_shoulders", "double_top", "bear_flag")
BULLISH = ("double_bottom", "bull_flag", "cup_and_handle")


def verdict(study: dict[str, Any]) -> tuple[bool, str]:
    """(edge?, sentence). An edge needs ≥ 30 detections, a bar-clustered |t| above the Bonferroni bar
    over every test, and the same sign in both halves of the period."""
    from statistics import NormalDist

    tests = max(1, study["tests"])
    bar = NormalDist().inv_cdf(1 - 0.025 / tests)
    winners, unstable = [], []
    strongest: tuple[float, str] = (0.0, "")
    for h, entry in study["by_horizon"].items():
        for detector in ("cnn", "rules"):
            for name, s in entry.get(detector, {}).items():
                t = s["t_clustered"]
                if s["n"] < 30 or not math.isfinite(t):
                    continue
                d = s["diff_vs_rest"]
                text = f"{detector} {name} @{h} bars: {d * 1e4:+.1f} bp vs other windows (clustered t={t:.1f}, n={s['n']})"
                strongest = max(strongest, (abs(t), text))
                if abs(t) < bar:
                    continue
                halves = s["diff_halves"]
                if not all(math.isfinite(x) and np.sign(x) == np.sign(d) for x in halves):
                    unstable.append(text + " but not in both halves")
                    continue
                if name in BEARISH + BULLISH and (d > 0) == (name in BEARISH):
                    text += ", the OPPOSITE of the textbook reading"
                winners.append(text)
    rule = f"|t| ≥ {bar:.2f}: Bonferroni over {tests} pattern × horizon × detector tests, errors clustered by bar"
    if not winners:
        extra = f" (unstable: {'; '.join(unstable)})" if unstable else ""
        if strongest[1] and not unstable:
            extra = f"; the strongest, below the bar: {strongest[1]}"
        return False, (f"NO EDGE: no detected pattern's forward return differs from the other windows' by more than "
                       f"chance allows ({rule}){extra}")
    return True, f"edge ({rule}, same sign in both halves): " + "; ".join(winners)


def real_report(scan: Scan, panel: CandlePanel, *, cost_bps: float, min_confidence: float, seed: int,
                stride: int) -> Any:
    from engine.evaluation.walkforward import ModelReport

    agree = agreement(scan, min_confidence)
    study = forward_study(scan, panel.close, horizons=HORIZONS, stride=stride, cost_bps=cost_bps,
                          min_confidence=min_confidence, seed=seed)
    edge, sentence = verdict(study)
    metrics: dict[str, float | int | None] = {"windows": len(scan), "stride_bars": stride, "edge": int(edge),
                                              "min_confidence": min_confidence}
    for name, d in agree.items():
        for k, v in d.items():
            metrics[f"agree.{name}.{k}"] = v
    baselines: dict[str, dict[str, float | int | None]] = {"unconditional": {}}
    for h, entry in study["by_horizon"].items():
        u = entry["unconditional"]
        baselines["unconditional"].update({f"fwd{h}.n": u["n"], f"fwd{h}.mean_bp": u["mean"] * 1e4,
                                           f"fwd{h}.ci_lo_bp": u["ci95_bootstrap"][0] * 1e4,
                                           f"fwd{h}.ci_hi_bp": u["ci95_bootstrap"][1] * 1e4,
                                           f"fwd{h}.hit_rate": u["hit_rate"]})
        for detector in ("cnn", "rules"):
            for name, s in entry.get(detector, {}).items():
                key = f"fwd{h}.{detector}.{name}"
                metrics[f"{key}.n"] = s["n"]
                metrics[f"{key}.mean_bp"] = _bp(s["mean"])
                metrics[f"{key}.ci_lo_bp"] = _bp(s["ci95_bootstrap"][0])
                metrics[f"{key}.ci_hi_bp"] = _bp(s["ci95_bootstrap"][1])
                metrics[f"{key}.t_lo_bp"] = _bp(s["ci95_t"][0])
                metrics[f"{key}.t_hi_bp"] = _bp(s["ci95_t"][1])
                metrics[f"{key}.hit_rate"] = s["hit_rate"]
                metrics[f"{key}.diff_bp"] = _bp(s["diff_vs_rest"])
                metrics[f"{key}.diff_lo_bp"] = _bp(s["diff_ci95"][0])
                metrics[f"{key}.diff_hi_bp"] = _bp(s["diff_ci95"][1])
                metrics[f"{key}.t"] = s["t"] if math.isfinite(s["t"]) else None
                metrics[f"{key}.t_clustered"] = s["t_clustered"] if math.isfinite(s["t_clustered"]) else None
                metrics[f"{key}.diff_first_half_bp"] = _bp(s["diff_halves"][0])
                metrics[f"{key}.diff_second_half_bp"] = _bp(s["diff_halves"][1])
    notes = (sentence,
             f"windows of 64 bars ending every {stride} bars on every symbol; forward return = log(close[t+h]/close[t]) "
             f"for h in {HORIZONS} bars, one row per symbol every max(h, {stride}) bars so a symbol's forward "
             "windows never overlap; 95 % bootstrap (2000 resamples) and t intervals treat rows as independent "
             "(optimistic: symbols move together); t_clustered clusters errors by bar and decides the verdict",
             f"CNN detections = top class ≠ none with confidence ≥ {min_confidence:g}; "
             "agree.<p>.rules_confirm_cnn = share of CNN detections the rule detectors also see")
    return ModelReport(name="patterns real", family="patterns", metrics=metrics, baselines=baselines, notes=notes)


def _bp(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x * 1e4


# -- the signal, walk-forward ------------------------------------------------------------
def signal_report(scan: Scan, panel: CandlePanel, settings: Any, *, min_confidence: float, stride: int) -> Any:
    from engine.evaluation.metrics import classification_metrics
    from engine.evaluation.splits import walk_forward_splits
    from engine.evaluation.trading import evaluate_signals
    from engine.evaluation.walkforward import ModelReport

    h, cost = settings.horizon, settings.cost_bps
    splits = walk_forward_splits(panel.n_bars, n_folds=settings.n_folds, train_bars=settings.train_bars,
                                 horizon=h, embargo_bars=settings.embargo_bars)
    fwd = forward_log_return(panel.close, scan.sym, scan.bar, h)
    ys, ps, bases, weights = [], [], [], []
    grid = np.full((panel.n_symbols, panel.n_bars), np.nan)
    first_test, last_test = panel.n_bars, 0
    for split in splits:
        train = np.isin(scan.bar, split.train)
        test = (scan.bar >= split.test[0]) & (scan.bar <= split.test[-1]) & np.isfinite(fwd)
        if not train.any() or not test.any():
            continue
        sub = Scan(scan.sym[train], scan.bar[train], scan.cls[train], scan.confidence[train])
        skill = measure_skill(sub, panel.close, classes=CLASSES, horizon=h, cost_bps=cost,
                              min_confidence=min_confidence)
        p = skill.p_up(scan.cls[test], scan.confidence[test])
        ys.append((fwd[test] > cost / 1e4).astype(float))
        ps.append(p)
        bases.append(np.full(int(test.sum()), skill.base_rate))
        weights.append(skill.weight)
        long = (p > settings.threshold).astype(float)
        for offset in range(stride):  # hold each decision until the next scanned bar
            cols = np.minimum(scan.bar[test] + offset, panel.n_bars - 1)
            grid[scan.sym[test], cols] = long
        first_test, last_test = min(first_test, int(split.test[0])), max(last_test, int(split.test[-1]))
    if not ys:
        raise DataError("no walk-forward fold had scanned windows to score")
    y, p, base = np.concatenate(ys), np.concatenate(ps), np.concatenate(bases)
    model = classification_metrics(y, p).to_dict()
    majority = classification_metrics(y, base).to_dict()
    up = classification_metrics(y, np.ones_like(y)).to_dict()
    trade = evaluate_signals(grid, panel, start=first_test, stop=last_test + 1, fee_bps=settings.fee_bps,
                             slippage_bps=settings.slippage_bps)
    metrics = {**model, **trade.strategy.to_dict(), "horizon_bars": h, "n_folds": len(ys),
               "skill_weight_mean": float(np.mean(weights))}
    return ModelReport(
        name="patterns signal", family="patterns", metrics=metrics,
        baselines={"majority": {k: majority[k] for k in ("hit_rate", "brier", "log_loss", "ece")},
                   "always_up": {k: up[k] for k in ("hit_rate", "brier")},
                   "buy_and_hold": trade.buy_and_hold.to_dict()},
        notes=(f"p(log return over {h} bars > {cost:g} bp) = the training folds' hit rate after the detected "
               "pattern where it differed significantly from the base rate (Bonferroni over 9 patterns, "
               "≥ 30 detections, shrunk by 50 pseudo-counts), else the base rate; scored every "
               f"{stride} bars; skill_weight_mean = mean share of detections with such skill (0 = none)",))


# -- the provider ------------------------------------------------------------------------
def patterns_provider(panel: CandlePanel, settings: Any) -> list[Any]:
    """`cockpit report` provider for the patterns family (settings: an engine.report.ReportSettings)."""
    from engine.evaluation.walkforward import ModelReport

    tiny = bool(getattr(settings, "tiny", False))
    seed = int(getattr(settings, "seed", 7))
    min_confidence = 0.7
    stride = STRIDE * (4 if tiny else 1)
    try:
        classify, loaded = load_classifier(_checkpoint_dir(), threads=_threads())
        rows = [cnn_report(synthetic_study(classify, per_class=30 if tiny else 200, window=loaded.window,
                                           height=loaded.height), loaded.meta)]
        ends = np.arange(loaded.window - 1, panel.n_bars, stride)
        scan = scan_panel(classify, panel, ends, window=loaded.window, height=loaded.height, with_rules=True)
        rows.append(real_report(scan, panel, cost_bps=settings.cost_bps, min_confidence=min_confidence, seed=seed,
                                stride=stride))
        rows.append(signal_report(scan, panel, settings, min_confidence=min_confidence, stride=stride))
        return rows
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed family is its row, not the report's
        return [ModelReport.failed("patterns", "patterns", exc)]


def _checkpoint_dir() -> Path:
    from engine.config import Config

    return Config().data_dir() / "checkpoints"


def _threads() -> int:
    import os

    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "2")))
    except ValueError:
        return 2
