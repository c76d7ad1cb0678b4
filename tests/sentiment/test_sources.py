"""RSS/Atom against a local HTTP server, headline files in market time, and the sample feed."""

import json
from datetime import datetime, timezone

import pytest

from engine.errors import ConfigError, DataError
from engine.sentiment.sources import (
    FileSource,
    RSSSource,
    SampleSource,
    build_sources,
    parse_feed,
    parse_time,
)

NS = 10**9
RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test wire</title><link>http://127.0.0.1/</link>
<item><title>Bitcoin climbs above $70,000</title><link>http://127.0.0.1/a</link>
  <pubDate>Tue, 04 Jun 2024 10:30:00 GMT</pubDate></item>
<item><title>  Ether   slides 5% </title><link>http://127.0.0.1/b</link>
  <pubDate>Tue, 04 Jun 2024 09:00:00 GMT</pubDate></item>
<item><title>Undated XRP note</title><link>http://127.0.0.1/c</link></item>
</channel></rss>"""
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom wire</title>
<entry><title>Litecoin hashrate hits a record</title><link href="http://127.0.0.1/ltc"/>
  <id>urn:1</id><updated>2024-06-04T12:00:00Z</updated></entry>
</feed>"""


def ns(text):
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()) * NS


@pytest.fixture
def server(serve_dir):
    url, directory = serve_dir
    (directory / "feed.xml").write_text(RSS)
    (directory / "atom.xml").write_text(ATOM)
    (directory / "broken.xml").write_text("this is not a feed <<<")
    return url


def test_rss_fetch_parses_titles_dates_and_links(server):
    items = RSSSource(f"{server}/feed.xml", timeout=5).fetch()
    assert [h.text for h in items[:2]] == ["Ether slides 5%", "Bitcoin climbs above $70,000"]
    assert items[0].published == ns("2024-06-04T09:00:00") and items[1].url.endswith("/a")
    assert items[0].feed == "rss:127.0.0.1" and not items[0].sample and items[0].aligned
    assert items[-1].text == "Undated XRP note" and items[-1].published > ns("2024-06-05T00:00:00")


def test_atom_feed(server):
    (item,) = RSSSource(f"{server}/atom.xml", timeout=5).fetch()
    assert item.text == "Litecoin hashrate hits a record" and item.published == ns("2024-06-04T12:00:00")


def test_background_poll_returns_each_item_once(server):
    source = RSSSource(f"{server}/feed.xml", poll_seconds=0.0, timeout=5)
    assert source.poll(0) == []  # the first poll only starts a fetch
    assert source.wait(10)
    first = source.poll(0)
    assert len(first) == 3 and "3 items, 3 new" in source.status()
    assert source.wait(10)
    assert source.poll(0) == [] and "0 new" in source.status()
    source.close()


def test_dead_or_broken_feed_is_a_status_not_an_exception(server):
    broken = RSSSource(f"{server}/broken.xml", poll_seconds=0.0, timeout=5)
    broken.poll(0)
    assert broken.wait(10)
    assert broken.poll(0) == [] and broken.status().startswith("fetch failed: DataError")
    missing = RSSSource(f"{server}/nope.xml", poll_seconds=0.0, timeout=5)
    missing.poll(0)
    assert missing.wait(10)
    assert missing.poll(0) == [] and "HTTPError" in missing.status()
    with pytest.raises(ConfigError, match="must start with http"):
        RSSSource("ftp://example/feed")


def test_parse_feed_rejects_non_feeds():
    with pytest.raises(DataError, match="not an RSS/Atom feed"):
        parse_feed(b"<<<garbage", feed="rss:x", fetched=0)


def test_parse_time_formats():
    t = ns("2024-06-04T10:30:00")
    assert parse_time("2024-06-04T10:30:00Z") == t
    assert parse_time("2024-06-04 10:30:00") == t
    assert parse_time("2024-06-04T12:30:00+02:00") == t
    assert parse_time(t // NS) == t
    assert parse_time(str(t // 10**6)) == t
    assert parse_time(t) == t
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_jsonl_file_releases_items_in_market_time(tmp_path):
    path = tmp_path / "news.jsonl"
    rows = [{"ts": "2024-06-01T00:00:00Z", "title": "Old BTC story"},
            {"ts": "2024-06-04T09:00:00Z", "text": "Ether slides 5%", "url": "u1"},
            {"time": ns("2024-06-04T10:00:00") // NS, "headline": "Bitcoin climbs"},
            {"published": "2024-06-04T11:00:00Z", "text": "XRP flat"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    source = FileSource(path, lookback_s=6 * 3600)
    first = source.poll(ns("2024-06-04T10:00:00"))
    assert [h.text for h in first] == ["Ether slides 5%", "Bitcoin climbs"]  # the 3-day-old row is skipped
    assert first[0].url == "u1" and first[0].feed == "file:news.jsonl" and first[0].aligned
    assert source.poll(ns("2024-06-04T10:30:00")) == []
    assert [h.text for h in source.poll(ns("2024-06-04T12:00:00"))] == ["XRP flat"]
    assert "1 older skipped" in source.status()


def test_csv_file_and_bad_rows(tmp_path):
    good = tmp_path / "news.csv"
    good.write_text("date,headline\n2024-06-04T10:00:00Z,Litecoin jumps\n")
    (item,) = FileSource(good).poll(ns("2024-06-05T00:00:00"))
    assert item.text == "Litecoin jumps"
    bad = tmp_path / "bad.csv"
    bad.write_text("date,headline\n2024-06-04,ok\nnot-a-date,broken\n")
    with pytest.raises(DataError, match=r"bad\.csv, row 3: bad time 'not-a-date'"):
        FileSource(bad).poll(0)
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"ts": 1}\n')
    with pytest.raises(DataError, match=r"missing\.jsonl, line 1: needs a text"):
        FileSource(missing).poll(0)
    with pytest.raises(DataError, match="must be .jsonl"):
        FileSource(tmp_path / "news.txt").poll(0)


def test_sample_feed_is_marked_and_runs_on_a_synthetic_clock():
    source = SampleSource(["a", "b", "c"], every_s=3600, seed=1, max_per_poll=2)
    t0 = ns("2019-06-01T00:00:00")
    first = source.poll(t0)
    assert len(first) == 1 and first[0].published == t0
    assert all(h.sample and not h.aligned and h.feed == "sample" for h in first)
    assert source.poll(t0 + 1800 * NS) == []
    later = source.poll(t0 + 10 * 3600 * NS)  # a long gap: only the newest few
    assert [h.published for h in later] == [t0 + 9 * 3600 * NS, t0 + 10 * 3600 * NS]
    assert {h.text for h in first + later} <= {"a", "b", "c"}


def test_build_sources_uses_the_sample_feed_only_without_real_sources(tmp_path):
    assert [s.name for s in build_sources()] == ["sample"]
    assert build_sources(sample=False) == ()
    (path := tmp_path / "n.jsonl").write_text("")
    names = [s.name for s in build_sources(feeds=["http://127.0.0.1:9/x.xml"], files=[str(path)])]
    assert names == ["rss:127.0.0.1", "file:n.jsonl"]


def test_sample_subset_favours_coins_but_keeps_some_macro():
    from engine.sentiment.dataset import load_headlines
    from engine.sentiment.symbols import DEFAULT_ALIASES, SymbolMapper
    from engine.sentiment.sources import sample_subset

    texts = sample_subset()
    assert set(texts) <= set(load_headlines().texts) and len(texts) >= 300
    coins = sum(bool(SymbolMapper(tuple(DEFAULT_ALIASES)).bases(t)) for t in texts)
    assert 0.4 <= coins / len(texts) < 1.0
