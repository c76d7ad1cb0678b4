"""Where headlines come from, behind one interface: `poll(now)` → new `RawHeadline`s.

- `RSSSource`: an RSS/Atom feed by URL, parsed by feedparser. Each fetch
  runs on a daemon thread, one at a time, every `poll_seconds`, so a slow
  or dead feed never stalls a cycle; `fetch()` is the blocking fetch.
- `FileSource`: a JSONL or CSV file of timestamped headlines, replayed in
  market time (an item appears once the bar clock passes its timestamp).
- `SampleSource`: the offline default — headlines from the project's labelled
  set with *synthetic* timestamps. Its items carry `sample=True` and
  `aligned=False`: they are shown (labelled "sample") but never trade.

`now` is market time in ns UTC (the bar's timestamp).
"""

from __future__ import annotations

import calendar
import csv
import json
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence
from urllib.parse import urlparse

import numpy as np

from engine.errors import ConfigError, DataError

NS = 1_000_000_000
TEXT_KEYS = ("text", "title", "headline")
TIME_KEYS = ("ts", "time", "published", "timestamp", "date", "datetime")


@dataclass(frozen=True, slots=True, kw_only=True)
class RawHeadline:
    text: str
    published: int
    """ns UTC."""
    feed: str
    url: str = ""
    sample: bool = False
    aligned: bool = True
    """The timestamp is real, so it can be compared with the market clock."""


class HeadlineSource(Protocol):
    name: str
    sample: bool

    def poll(self, now: int) -> list[RawHeadline]: ...

    def status(self) -> str: ...

    def close(self) -> None: ...


# -- timestamps ----------------------------------------------------------------------
def parse_time(value: Any) -> int:
    """ns UTC from ISO 8601 text or epoch seconds/ms/µs/ns (by magnitude); naive times are UTC."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            return int(round(dt.timestamp() * 1e6)) * 1000
    if isinstance(value, (int, float)):
        x = float(value)
        if not np.isfinite(x):
            raise ValueError(f"not a time: {value!r}")
        for limit, scale in ((1e11, NS), (1e14, 1_000_000), (1e17, 1_000)):
            if abs(x) < limit:
                return int(round(x * scale))
        return int(x)
    raise ValueError(f"not a time: {value!r}")


# -- RSS / Atom ---------------------------------------------------------------------
def parse_feed(data: bytes | str, *, feed: str, fetched: int) -> list[RawHeadline]:
    """Entries of an RSS/Atom document, oldest first; an entry without a date gets `fetched`."""
    import feedparser

    parsed = feedparser.parse(data)
    if parsed.bozo and not parsed.entries:
        raise DataError(f"{feed}: not an RSS/Atom feed ({parsed.get('bozo_exception', 'unparseable')})")
    items = []
    for entry in parsed.entries:
        title = " ".join(str(entry.get("title", "")).split())
        if not title:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = calendar.timegm(stamp) * NS if stamp else fetched
        items.append(RawHeadline(text=title, published=published, feed=feed, url=str(entry.get("link", ""))))
    items.sort(key=lambda h: h.published)
    return items


class _Fetch:
    """One background fetch: a daemon thread fills `items` or `error`, then sets `done`."""

    def __init__(self, fetch: Any) -> None:
        self.done = threading.Event()
        self.items: list[RawHeadline] = []
        self.error: BaseException | None = None
        threading.Thread(target=self._run, args=(fetch,), name="cockpit-rss", daemon=True).start()

    def _run(self, fetch: Any) -> None:
        try:
            self.items = fetch()
        except BaseException as exc:  # noqa: BLE001 - handed to the polling thread
            self.error = exc
        finally:
            self.done.set()


class RSSSource:
    """An RSS or Atom feed, fetched on a daemon thread every `poll_seconds` (wall time)."""

    sample = False

    def __init__(self, url: str, *, name: str | None = None, poll_seconds: float = 300.0,
                 timeout: float = 10.0, max_seen: int = 2048) -> None:
        scheme = urlparse(url).scheme
        if scheme not in ("http", "https", "file"):
            raise ConfigError(f'feed URL "{url}" must start with http://, https:// or file://')
        self.url = url
        self.name = name or f"rss:{urlparse(url).hostname or Path(urlparse(url).path).name}"
        self.poll_seconds = poll_seconds
        self.timeout = timeout
        self._seen: deque[str] = deque(maxlen=max_seen)
        self._seen_set: set[str] = set()
        self._pending: _Fetch | None = None
        self._next_fetch = 0.0
        self._lock = threading.Lock()
        self._closed = False
        self._status = "not fetched yet"

    def fetch(self) -> list[RawHeadline]:
        """Download and parse the feed now (blocking, bounded by `timeout`)."""
        request = urllib.request.Request(self.url, headers={"User-Agent": "pi-cockpit/0.1 (+feedparser)"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - scheme checked
            data = response.read(5_000_000)
        return parse_feed(data, feed=self.name, fetched=time.time_ns())

    def _new(self, items: Iterable[RawHeadline]) -> list[RawHeadline]:
        fresh = []
        for item in items:
            key = item.url or item.text
            if key in self._seen_set:
                continue
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(key)
            self._seen_set.add(key)
            fresh.append(item)
        return fresh

    def poll(self, now: int) -> list[RawHeadline]:
        """Items of a finished fetch not returned before; starts the next fetch when due."""
        del now  # RSS items carry their own publication time
        out: list[RawHeadline] = []
        with self._lock:
            pending = self._pending
            if pending is not None and pending.done.is_set():
                self._pending = None
                if pending.error is None:
                    out = self._new(pending.items)
                    self._status = f"{len(pending.items)} items, {len(out)} new"
                else:
                    self._status = f"fetch failed: {type(pending.error).__name__}: {pending.error}"
            if self._pending is None and not self._closed and time.monotonic() >= self._next_fetch:
                self._pending = _Fetch(self.fetch)
                self._next_fetch = time.monotonic() + self.poll_seconds
        return out

    def wait(self, timeout: float) -> bool:
        """Block until the current background fetch finishes (tests, `cockpit doctor`)."""
        pending = self._pending
        return pending is None or pending.done.wait(timeout)

    def status(self) -> str:
        return self._status

    def close(self) -> None:
        """Start no more fetches (a running one ends by its timeout; its thread is a daemon)."""
        self._closed = True


# -- files ------------------------------------------------------------------------------
def _pick(row: dict[str, Any], keys: Sequence[str]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    return next((lowered[k] for k in keys if lowered.get(k) not in (None, "")), None)


def read_headline_file(path: Path) -> list[RawHeadline]:
    """Rows of a .jsonl/.json-lines or .csv file: a time (ts/time/published/…) and a text (text/title/headline)."""
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        raise DataError(f"{path}: headline files must be .jsonl, .ndjson or .csv")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            if suffix == ".csv":
                rows = [(i, row) for i, row in enumerate(csv.DictReader(fh), start=2)]
            else:
                rows = []
                for i, line in enumerate(fh, start=1):
                    if line.strip():
                        try:
                            rows.append((i, json.loads(line)))
                        except json.JSONDecodeError as exc:
                            raise DataError(f"{path}, line {i}: not JSON ({exc.msg})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    items = []
    where = "row" if suffix == ".csv" else "line"
    for i, row in rows:
        if not isinstance(row, dict):
            raise DataError(f"{path}, {where} {i}: expected an object with a time and a text")
        text, stamp = _pick(row, TEXT_KEYS), _pick(row, TIME_KEYS)
        if text is None or stamp is None:
            raise DataError(f"{path}, {where} {i}: needs a text ({'/'.join(TEXT_KEYS)}) "
                            f"and a time ({'/'.join(TIME_KEYS)})")
        try:
            published = parse_time(stamp)
        except (ValueError, OverflowError) as exc:
            raise DataError(f"{path}, {where} {i}: bad time {stamp!r} ({exc})") from exc
        url = _pick(row, ("url", "link")) or ""
        items.append(RawHeadline(text=" ".join(str(text).split()), published=published,
                                 feed=f"file:{path.name}", url=str(url)))
    items.sort(key=lambda h: h.published)
    return items


class FileSource:
    """A headline file replayed in market time. On the first poll only the last
    `lookback_s` seconds are released, so a long file never floods one cycle."""

    sample = False

    def __init__(self, path: str | Path, *, lookback_s: float = 86_400.0) -> None:
        self.path = Path(path).expanduser()
        self.name = f"file:{self.path.name}"
        self.lookback_ns = int(lookback_s * NS)
        self._items: list[RawHeadline] | None = None
        self._times: np.ndarray = np.zeros(0, dtype=np.int64)
        self._next = 0
        self._skipped = 0

    def _load(self) -> None:
        self._items = read_headline_file(self.path)
        self._times = np.array([h.published for h in self._items], dtype=np.int64)

    def poll(self, now: int) -> list[RawHeadline]:
        if self._items is None:
            self._load()
            start = int(np.searchsorted(self._times, now - self.lookback_ns, side="left"))
            self._skipped, self._next = start, start
        assert self._items is not None
        end = int(np.searchsorted(self._times, now, side="right"))
        if end <= self._next:
            return []
        out, self._next = self._items[self._next:end], end
        return out

    def status(self) -> str:
        if self._items is None:
            return "not read yet"
        return f"{self._next - self._skipped}/{len(self._items)} released, {self._skipped} older skipped"

    def close(self) -> None:
        """Nothing to release: the file was read whole."""


# -- the offline sample feed --------------------------------------------------------------
def sample_subset(other_every: int = 3) -> tuple[str, ...]:
    """The sample feed's texts: every labelled headline naming a known coin, and every
    `other_every`-th of the rest (macro, stocks), so the gauges have something to show."""
    from engine.sentiment.dataset import load_headlines
    from engine.sentiment.symbols import DEFAULT_ALIASES, SymbolMapper

    texts = load_headlines().texts
    mapper = SymbolMapper(tuple(DEFAULT_ALIASES))
    crypto = [bool(mapper.bases(t)) for t in texts]
    others = [i for i, c in enumerate(crypto) if not c][::other_every]
    keep = sorted({i for i, c in enumerate(crypto) if c} | set(others))
    return tuple(texts[i] for i in keep)


class SampleSource:
    """Headlines from the labelled set (`sample_subset`) on a synthetic clock, one every `every_s` of market time.

    The order is a seeded shuffle; the feed loops. Items are `sample=True` and
    `aligned=False`, so they are shown but never reach a trading signal.
    """

    sample = True
    name = "sample"

    def __init__(self, texts: Sequence[str] | None = None, *, every_s: float = 5_400.0, seed: int = 7,
                 max_per_poll: int = 8) -> None:
        if every_s <= 0:
            raise ConfigError(f"sample feed interval must be > 0 seconds, got {every_s}")
        self._texts = tuple(texts) if texts is not None else None
        self.every_ns = int(every_s * NS)
        self.seed = seed
        self.max_per_poll = max_per_poll
        self._order: np.ndarray | None = None
        self._anchor: int | None = None
        self._emitted = 0

    def _prepare(self) -> None:
        if self._texts is None:
            self._texts = sample_subset()
        self._order = np.random.default_rng(self.seed).permutation(len(self._texts))

    def poll(self, now: int) -> list[RawHeadline]:
        if self._order is None:
            self._prepare()
        assert self._order is not None and self._texts is not None
        if self._anchor is None:
            self._anchor = now - self.every_ns  # the first item is due at once
        due = (now - self._anchor) // self.every_ns
        if due <= self._emitted:
            return []
        first = max(self._emitted, due - self.max_per_poll)  # after a long gap, only the newest few
        out = []
        for k in range(first + 1, due + 1):
            text = self._texts[int(self._order[(k - 1) % len(self._order)])]
            out.append(RawHeadline(text=text, published=self._anchor + k * self.every_ns, feed=self.name,
                                   sample=True, aligned=False))
        self._emitted = due
        return out

    def status(self) -> str:
        return f"sample · {self._emitted} served (synthetic times)"

    def close(self) -> None:
        """Nothing to release."""


def build_sources(*, feeds: Sequence[str] = (), files: Sequence[str] = (), sample: bool = True,
                  poll_seconds: float = 300.0, sample_every_s: float = 5_400.0, seed: int = 7,
                  lookback_s: float = 86_400.0) -> tuple[HeadlineSource, ...]:
    """The configured sources; the sample feed only when `sample` and no real source is configured."""
    sources: list[HeadlineSource] = [RSSSource(url, poll_seconds=poll_seconds) for url in feeds]
    sources += [FileSource(path, lookback_s=lookback_s) for path in files]
    if sample and not sources:
        sources.append(SampleSource(every_s=sample_every_s, seed=seed))
    return tuple(sources)
