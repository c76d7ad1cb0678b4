"""`cockpit bench` rows for the sentiment family: headlines/s at batch 32 and 1, and the RSS the model adds.

The measurement runs in a fresh subprocess so the numbers are the model's
own: RSS is read after importing torch, transformers and scikit-learn (the
libraries other families load anyway: `rss_imports_mb`) and again after
loading the encoder and head and scoring one batch; the difference is "the
RSS added by the model" (`rss_added_mb`: weights, tokenizer, activation
buffers). Headlines are the labelled set's texts (real lengths); each timed
pass is a median of repeats. Under CPU contention, intra-op threads > 1 make
small batches much slower (measured: batch 1 at 2 threads was 7× slower than
at 1 thread on a loaded 2-core machine), so compare rows at equal threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from engine.bench import BenchResult

FAMILY = "sentiment"


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure(*, threads: int = 2, repeats: int = 3, n32: int = 256, n1: int = 48) -> dict[str, Any]:
    """Run in this process: load, time, measure. (Use `bench_sentiment` for a clean process.)"""
    import statistics

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rss_start = _rss_mb()
    import sklearn.linear_model  # noqa: F401 - the shared baseline other families pay too
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from engine.sentiment.dataset import load_headlines
    from engine.sentiment.scorers import build_scorer

    rss_imports = _rss_mb()
    t0 = time.perf_counter()
    scorer = build_scorer("minilm", threads=threads)
    scorer.load()
    if getattr(scorer, "head", None) is None:
        raise RuntimeError("no trained sentiment head matches the dataset (run: python -m engine.sentiment.head)")
    texts = list(load_headlines().texts)
    scorer.score(texts[:32], batch_size=32)
    load_s = time.perf_counter() - t0
    rss_model = _rss_mb()

    def timed(batch: int, n: int) -> float:
        sample = (texts * (n // len(texts) + 1))[:n]
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            scorer.score(sample, batch_size=batch)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs)

    s32, s1 = timed(32, n32), timed(1, n1)
    return {"threads": threads, "load_seconds": load_s, "rss_start_mb": rss_start, "rss_imports_mb": rss_imports,
            "rss_model_mb": rss_model, "rss_added_mb": rss_model - rss_imports, "rss_after_mb": _rss_mb(),
            "batch32": {"n": n32, "seconds": s32}, "batch1": {"n": n1, "seconds": s1}, "encoder": scorer.name}


def bench_sentiment(*, threads: int = 2, repeats: int = 3, timeout: float = 600.0) -> list[BenchResult]:
    """Two rows (batch 32, batch 1) for family "sentiment", measured in a subprocess."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "engine.sentiment.bench_sentiment", "--threads", str(threads),
           "--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sentiment bench failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    m = json.loads(done.stdout.strip().splitlines()[-1])
    extra = {"rss_added_mb": round(m["rss_added_mb"], 1), "rss_imports_mb": round(m["rss_imports_mb"], 1),
             "load_seconds": round(m["load_seconds"], 2), "threads": threads, "model": m["encoder"]}
    rows = []
    for key, batch in (("batch32", 32), ("batch1", 1)):
        n, seconds = m[key]["n"], m[key]["seconds"]
        rows.append(BenchResult(f"sentiment.minilm.{key}", FAMILY, 0, seconds / n, m["rss_after_mb"],
                                n / seconds, "headlines", {**extra, "batch": batch, "headlines": n}))
    return rows


def bench_sentiment_precision(*, threads: int = 1, repeats: int = 5, per_cycle: int = 23,
                              seed: int = 7) -> list[BenchResult]:
    """fp32 vs dynamic-int8 (Linear layers) MiniLM on one cycle's worth of new headlines, in this process.

    Rows `sentiment.encode.fp32` / `sentiment.encode.int8`: median seconds to score
    `per_cycle` headlines (one batch, as predict() does), and the head's held-out
    accuracy and macro-F1 with that encoder (the head was trained on fp32
    embeddings, so int8 may cost accuracy as well as save time).
    """
    import copy
    import statistics
    import warnings

    import numpy as np
    import torch

    from engine.models._torch import quantize_dynamic_int8
    from engine.sentiment.dataset import load_headlines
    from engine.sentiment.evaluate import heldout_scores
    from engine.sentiment.scorers import build_scorer

    scorer = build_scorer("minilm", threads=threads)
    scorer.load()
    texts = load_headlines().texts
    pick = np.random.default_rng(seed).integers(0, len(texts), per_cycle)
    sample = [texts[i] for i in pick.tolist()]
    fp32 = scorer.encoder._model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch flags its quantized tensors as deprecated
        int8 = quantize_dynamic_int8(copy.deepcopy(fp32), (torch.nn.Linear,)).eval()
    rows = []
    for label, net in (("fp32", fp32), ("int8", int8)):
        scorer.encoder._model = net
        scorer.score(sample)
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            scorer.score(sample)
            runs.append(time.perf_counter() - t)
        seconds = statistics.median(runs)
        held = heldout_scores(scorer)["model"]
        rows.append(BenchResult(f"sentiment.encode.{label}", FAMILY, 0, seconds, _rss_mb(), per_cycle / seconds,
                                "headlines", {"latency_ms": seconds * 1000.0, "headlines": per_cycle,
                                              "threads": threads, "heldout_accuracy": round(held["accuracy"], 4),
                                              "heldout_macro_f1": round(held["macro_f1"], 4)}))
    scorer.encoder._model = fp32
    return rows


def _main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="measure the sentiment model (prints one JSON line)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from engine.threads import cap_threads

    cap_threads(args.threads)
    print(json.dumps(measure(threads=args.threads, repeats=args.repeats)))


if __name__ == "__main__":
    _main()
