"""The sentiment model's cycle with a fast stand-in scorer: routing, signals, batching, the runtime.

The real transformer is exercised in test_encoder.py; here the scorer is a
keyword rule so every cycle is milliseconds.
"""

import dataclasses
import json

import numpy as np
import pytest

from engine.config import Config
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.events import ModelState, Signal
from engine.models.protocol import FeatureBatch, History, Model, ModelContext
from engine.runtime import Engine
from engine.sentiment.events import Headline, Sentiment
from engine.sentiment.model import SentimentModel

WATCH = ("BTC/USD", "ETH/USD", "LTC/USD")
BAR = 1800 * 10**9
T0 = 1_559_347_200 * 10**9  # 2019-06-01T00:00Z


def ready_model(scorer, tmp_path, **params):
    model = SentimentModel(**params)
    model.attach_scorer(scorer)
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path / "ckpt"), seed=3, threads=1))
    panel = synthetic_panel(1, 8, seed=1)
    list(model.fit(History(panel=panel, features=np.zeros((1, 8, 0)), names=())))
    assert model.ready
    return model


def batch(cycle, ts, symbols=WATCH):
    return FeatureBatch(cycle=cycle, ts=ts, symbols=symbols, names=(), values=np.zeros((len(symbols), 0)),
                        valid=np.ones(len(symbols), dtype=bool))


def run(model, cycles, start=T0, symbols=WATCH):
    events = []
    for c in range(cycles):
        events.extend(model.predict(batch(c + 1, start + c * BAR, symbols)))
    return events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps({"ts": ts // 10**9, "title": text}) for ts, text in rows) + "\n")
    return str(path)


def test_conforms_to_the_model_protocol(keyword_scorer, tmp_path):
    model = ready_model(keyword_scorer, tmp_path)
    assert isinstance(model, Model) and model.family == "sentiment"
    assert "held-out 234" in model.describe() and "VADER" in model.describe()
    state = model.state_dict()
    clone = SentimentModel()
    clone.load_state_dict(json.loads(json.dumps(state)))
    assert clone.get_params() == model.get_params()


def test_sample_feed_never_produces_a_signal(keyword_scorer, tmp_path):
    model = ready_model(keyword_scorer, tmp_path, sample=True, sample_every_minutes=30.0)
    events = run(model, 120)
    headlines = of(events, Headline)
    assert len(headlines) == 120
    assert all(h.sample and not h.tradable and h.feed == "sample" for h in headlines)
    assert of(events, Signal) == []
    last = of(events, Sentiment)[-1]
    assert any(e > 0 for e in last.evidence)  # the gauge moves …
    assert all(e == 0 for e in last.tradable_evidence)  # … but nothing of it may trade
    assert all(np.isnan(last.tradable_values))


def test_time_aligned_file_headlines_make_a_signal(keyword_scorer, tmp_path):
    path = write_jsonl(tmp_path / "news.jsonl", [
        (T0 + 1 * BAR, "Bitcoin jumps to a record"),
        (T0 + 2 * BAR, "Ether slides as DeFi unwinds"),
        (T0 + 3 * BAR, "Fed speaker on the calendar"),
    ])
    model = ready_model(keyword_scorer, tmp_path, files=[path], sample=True)
    assert [s.name for s in model.sources] == ["file:news.jsonl"]  # no sample feed beside a real one
    events = run(model, 6)
    headlines = of(events, Headline)
    assert [h.tradable for h in headlines] == [True, True, True] and not any(h.sample for h in headlines)
    assert headlines[0].symbols == ("BTC/USD",) and headlines[0].label == "positive"
    assert headlines[1].symbols == ("ETH/USD",) and headlines[1].label == "negative"
    signals = of(events, Signal)
    assert signals and signals[0].cycle == 2  # from the first cycle that had tradable news
    p = np.array(signals[-1].values)
    assert p[0] > 0.5 and p[1] < 0.5 and np.isnan(p[2])  # LTC never mentioned
    assert signals[-1].family == "sentiment" and signals[-1].horizon == 4


def test_headlines_stamped_years_ahead_of_a_replay_are_shown_not_traded(keyword_scorer, serve_dir, tmp_path):
    url, directory = serve_dir
    (directory / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Bitcoin surges past $100K</title><pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate></item>"
        "</channel></rss>")
    model = ready_model(keyword_scorer, tmp_path, feeds=[f"{url}/feed.xml"], poll_seconds=3600.0)
    first = run(model, 1)
    assert model.sources[0].wait(10)
    events = first + run(model, 1, start=T0 + BAR)
    (headline,) = of(events, Headline)
    assert headline.feed == "rss:127.0.0.1" and headline.symbols == ("BTC/USD",)
    assert not headline.tradable and not headline.sample
    assert of(events, Signal) == []
    model.close()


def test_only_new_headlines_are_scored_in_bounded_batches(keyword_scorer, tmp_path):
    rows = [(T0 - i * 60 * 10**9, f"Bitcoin story number {i}") for i in range(40)]
    rows += [(T0 - 30 * 10**9, "Bitcoin story number 3 - Reuters")]  # a re-post
    path = write_jsonl(tmp_path / "burst.jsonl", rows)
    model = ready_model(keyword_scorer, tmp_path, files=[path], max_per_cycle=16)
    keyword_scorer.calls.clear()
    events = run(model, 5)
    sizes = [len(c) for c in keyword_scorer.calls]
    assert sizes == [16, 16, 8]  # 40 unique, at most 16 per cycle, then nothing to do
    scored = [t for c in keyword_scorer.calls for t in c]
    assert len(set(scored)) == len(scored) == 40
    last = of(events, Sentiment)[-1]
    assert last.headlines == 40 and last.duplicates == 1 and last.backlog == 0
    assert of(events, Sentiment)[0].backlog == 24


def test_the_sample_feed_never_reaches_the_trading_loop(keyword_scorer, tmp_path):
    panel = dataclasses.replace(synthetic_panel(2, 300, seed=5), symbols=("BTC/USD", "ETH/USD"))
    model = SentimentModel(sample=True, sample_every_minutes=30.0)
    model.attach_scorer(keyword_scorer)
    engine = Engine(Config(), feed=ReplayFeed(panel, start=200, speed=0.0), models=[model])
    seen = []
    engine.subscribe(seen.append)
    summary = engine.run_bars(60)
    engine.stop()
    assert summary.bars == 60 and engine.slots[0].state == ModelState.STOPPED
    assert any(s.state == ModelState.RUNNING for s in seen if getattr(s, "source", "") == "sentiment"
               and hasattr(s, "state"))
    headlines = of(seen, Headline)
    assert len(headlines) >= 55 and all(h.sample and not h.tradable for h in headlines)
    assert any(h.symbols for h in headlines)
    assert [e for e in seen if isinstance(e, Signal) and e.source == "sentiment"] == []


def test_changing_the_watchlist_resets_the_gauges(keyword_scorer, tmp_path):
    model = ready_model(keyword_scorer, tmp_path, sample=True, sample_every_minutes=30.0)
    run(model, 10)
    events = run(model, 1, start=T0 + 10 * BAR, symbols=("BTC/USD",))
    (sentiment,) = of(events, Sentiment)
    assert sentiment.symbols == ("BTC/USD",) and len(sentiment.values) == 1


def test_not_ready_before_fit(keyword_scorer):
    from engine.errors import NotReadyError

    model = SentimentModel()
    model.attach_scorer(keyword_scorer)
    with pytest.raises(NotReadyError):
        model.predict(batch(1, T0))


def test_a_full_backlog_drops_the_oldest_and_says_so(keyword_scorer, tmp_path):
    rows = [(T0 - i * 10**9, f"Ether note {i}") for i in range(30)]
    path = write_jsonl(tmp_path / "flood.jsonl", rows)
    model = ready_model(keyword_scorer, tmp_path, files=[path], max_per_cycle=4, max_backlog=10)
    (sentiment,) = of(run(model, 1), Sentiment)
    assert sentiment.dropped == 20 and sentiment.backlog == 6 and sentiment.headlines == 4
