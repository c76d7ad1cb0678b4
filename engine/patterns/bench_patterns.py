"""`cockpit bench` rows for the patterns family: render + classify the whole watchlist in one batch.

Target: 500 symbols rendered and classified in ≤ 0.5 s on 2 cores. Measured
for the fp32 CNN (BatchNorm folded, channels-last), a static int8 copy
(convs fused with BN+ReLU and quantized, activations calibrated on synthetic
windows) and a dynamic int8 copy (only the Linear head is quantized — the
convs carry nearly all the work, so expect no gain). Medians of `repeats`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from engine.bench import BenchResult, _rss_mb

TARGET_SECONDS = 0.5


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """(median ms, min ms) per function, timed in alternating rounds so load drift hits all alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000.0)
    return {k: (float(np.median(v)), float(np.min(v))) for k, v in times.items()}


def bench_patterns(symbols: int = 500, *, repeats: int = 7, threads: int = 2,
                   checkpoint_dir: str | Path | None = None, seed: int = 7) -> list[BenchResult]:
    from engine.data.synthetic import synthetic_panel
    from engine.models._torch import quantize_dynamic_int8, state_size_bytes, torch_setup
    from engine.patterns.cnn import count_parameters, inference_copy, probabilities, quantize_static_int8
    from engine.patterns.evaluate import load_classifier
    from engine.patterns.render import panel_windows, render_panel
    from engine.patterns.rules import detect_batch
    from engine.patterns.synthetic import generate

    torch = torch_setup(threads)
    _, loaded = load_classifier(checkpoint_dir, threads=threads)
    window, height = loaded.window, loaded.height
    panel = synthetic_panel(symbols, window + 16, seed=seed)
    images = render_panel(panel, window=window, height=height)
    nets = {
        "fp32": inference_copy(loaded.model),
        "int8_static": quantize_static_int8(loaded.model, generate(20, seed=424242, window=window).images(height=height)),
        "int8_dynamic": quantize_dynamic_int8(inference_copy(loaded.model), (torch.nn.Linear,)),
    }
    reference = probabilities(nets["fp32"], images).argmax(axis=1)
    o, h, l, c = panel_windows(panel, panel.n_bars - 1, window=window)

    fns: dict[str, Callable[[], object]] = {"render": lambda: render_panel(panel, window=window, height=height),
                                            "rules": lambda: detect_batch(o, h, l, c)}
    for label, net in nets.items():
        fns[f"classify.{label}"] = lambda net=net: probabilities(net, images)
        fns[f"scan.{label}"] = lambda net=net: probabilities(net, render_panel(panel, window=window, height=height))
    timed = _interleaved(fns, repeats)

    common = {"window": window, "image": f"3x{height}x{window}", "threads": threads, "repeats": repeats,
              "parameters": count_parameters(loaded.model), "checkpoint": str(loaded.path)}

    def row(name: str, extra: dict[str, object]) -> BenchResult:
        ms, best = timed[name]
        seconds = ms / 1000.0
        return BenchResult(f"patterns.{name}", "patterns", symbols, seconds, _rss_mb(),
                           symbols / seconds if seconds > 0 else None, "symbols",
                           {**common, "min_seconds": round(best / 1000.0, 4), **extra})

    rows = [row("render", {})]
    for label, net in nets.items():
        extra = {"state_kb": round(state_size_bytes(net) / 1024, 1),
                 "top1_agreement_with_fp32": round(float((probabilities(net, images).argmax(axis=1)
                                                          == reference).mean()), 4)}
        rows.append(row(f"classify.{label}", extra))
        scan_s = timed[f"scan.{label}"][0] / 1000.0
        rows.append(row(f"scan.{label}", {**extra, "target_seconds": TARGET_SECONDS,
                                          "meets_target": scan_s <= TARGET_SECONDS}))
    rows.append(row("rules", {}))
    return rows


def main() -> int:
    import json
    import sys

    rows = bench_patterns(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
    for r in rows:
        print(f"{r.name:<28} median {r.seconds * 1000:7.1f} ms  min {r.extra['min_seconds'] * 1000:7.1f} ms  "
              f"{r.extra.get('top1_agreement_with_fp32', '')}", file=sys.stderr)
    print(json.dumps([r.as_dict() for r in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
