"""The sentiment pane in a tiny app: headline stream, gauges, sample marking, the model in use."""

import math

import themes
from textual.app import App, ComposeResult

from app.panes.sentiment import SentimentPane, centre_bar
from app.theming import load_palettes
from engine.sentiment.events import Headline, Sentiment

SYMBOLS = ("BTC/USD", "ETH/USD", "LTC/USD")
TS = 1_559_347_200 * 10**9


class PaneApp(App[None]):
    CSS_PATH = [p for p in themes.stylesheet_paths() if p.name == "sentiment.tcss"]

    def __init__(self):
        self._palettes = load_palettes()
        super().__init__()
        for palette in self._palettes.themes:
            self.register_theme(palette)
        self.theme = "cockpit-dark"

    def get_theme_variable_defaults(self):
        return self._palettes.semantic_defaults()

    def compose(self) -> ComposeResult:
        yield SentimentPane(SYMBOLS, model="all-MiniLM-L6-v2 + logistic head")


def headline(text, *, label, score, symbols, sample, tradable=False, feed="sample"):
    probs = {"positive": (0.05, 0.15, 0.8), "negative": (0.8, 0.15, 0.05), "neutral": (0.1, 0.8, 0.1)}[label]
    return Headline(source="sentiment", cycle=1, ts=TS, headline_id="x", text=text, feed=feed, published=TS,
                    symbols=symbols, label=label, score=score, probs=probs, model="all-MiniLM-L6-v2 + logistic head",
                    sample=sample, tradable=tradable)


def sentiment(values, evidence, tradable_evidence, feeds=("sample: sample · 3 served (synthetic times)",)):
    nan = math.nan
    return Sentiment(source="sentiment", cycle=3, ts=TS, model="all-MiniLM-L6-v2 + logistic head", symbols=SYMBOLS,
                     values=values, evidence=evidence,
                     tradable_values=tuple(nan if e == 0 else v for v, e in zip(values, tradable_evidence)),
                     tradable_evidence=tradable_evidence, half_life_s=21600.0, feeds=feeds, headlines=3)


def test_centre_bar():
    assert centre_bar(0.5, 4) == "    │██  "
    assert centre_bar(-1.0, 4) == "████│    "
    assert centre_bar(math.nan, 2) == "··│··"


async def test_stream_gauges_and_sample_marking():
    app = PaneApp()
    async with app.run_test(size=(100, 24)) as pilot:
        pane = app.query_one(SentimentPane)
        assert "waiting for the model" in pane.gauge_text()
        pane.show_headline(headline("Bitcoin climbs above $70,000", label="positive", score=0.75,
                                    symbols=("BTC/USD",), sample=True))
        pane.show_headline(headline("Ether slides 5%", label="negative", score=-0.75, symbols=("ETH/USD",),
                                    sample=False, tradable=True, feed="rss:127.0.0.1"))
        pane.show_sentiment(sentiment((0.4, -0.3, math.nan), (1.0, 0.8, 0.0), (0.0, 0.8, 0.0)))
        await pilot.pause()
        first, second = pane.plain_lines
        assert "pos +0.75 sample" in first and "BTC" in first and "Bitcoin climbs" in first
        assert "neg -0.75 trade" in second and "ETH" in second and "rss:127.0.0.1" in second
        gauges = pane.gauge_text().splitlines()
        assert gauges[0].startswith("BTC") and "+0.40" in gauges[0] and "sample" in gauges[0]
        assert gauges[1].startswith("ETH") and "-0.30" in gauges[1] and "sample" not in gauges[1]
        assert gauges[2].startswith("LTC") and "no news" in gauges[2]
        model = pane.model_text()
        assert "all-MiniLM-L6-v2" in model and "sample feed: shown, never traded" in model


async def test_real_feeds_are_not_flagged_as_sample():
    app = PaneApp()
    async with app.run_test(size=(80, 20)) as pilot:
        pane = app.query_one(SentimentPane)
        pane.show_sentiment(sentiment((0.2, math.nan, math.nan), (2.0, 0.0, 0.0), (2.0, 0.0, 0.0),
                                      feeds=("rss:127.0.0.1: 3 items, 3 new",)))
        await pilot.pause()
        assert "never traded" not in pane.model_text() and "rss:127.0.0.1" in pane.model_text()
        assert "sample" not in pane.gauge_text()
