"""Chart-pattern vision: a small CNN reads candlestick images, rules give a second opinion.

Modules (torch is imported only by cnn/checkpoint/train, lazily):
- `render`     OHLC windows → 3×64×64 candlestick rasters, vectorised, no lookahead
- `synthetic`  the labelled generator: nine patterns + "none", seeded
- `rules`      geometric detectors (zigzag pivots, line fits, masked extremes)
- `cnn`        the MobileNet-style network, BN folding, static int8
- `train`      `cockpit train patterns` (deterministic; writes the checkpoint)
- `checkpoint` find / load / save (the shipped file is `patterns_cnn.pt`, see CHECKPOINT.md)
- `skill`      detections → forward-return skill → the Signal's p(up)
- `model`      `PatternModel`, the family "patterns" behind the Model protocol
- `evaluate`   `patterns_provider` for `cockpit report`
- `bench_patterns`  `bench_patterns()` rows for `cockpit bench`
- `events`     `PatternHit`
"""
