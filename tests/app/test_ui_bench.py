"""`cockpit bench --ui` in a tiny configuration: a real engine, the real app, real keys.

No timing is asserted: only that every press was handled and shown and the
report is complete and well formed.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import pytest

from app.ui_bench import (
    PHASES,
    Percentiles,
    UiBenchSettings,
    bench_universe,
    format_report,
    run_ui_bench,
)
from engine.config import Config
from engine.errors import ConfigError

TINY = UiBenchSettings(presses=8, gap_seconds=(0.02, 0.08), warmup_timeout=60.0, press_timeout=30.0, stalls=True)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tiny_ui_bench_handles_and_shows_every_press():
    report = bench_universe(Config(), "synthetic", TINY, symbols=6, quick=True)

    assert report.symbols == 6 and len(report.presses) == TINY.presses
    for press in report.presses:
        assert press.phase in PHASES
        assert press.handler_ms is not None and press.frame_ms is not None, press
        assert 0 <= press.handler_ms <= press.frame_ms
        assert press.ui_cpu_ms is not None and press.ui_cpu_ms >= 0
    kinds = {p.kind for p in report.presses}
    assert kinds <= {"tab", "symbol", "pause", "help", "dialog"} and len(kinds) >= 2

    d = json.loads(json.dumps(report.as_dict()))
    assert d["name"] == "ui.synthetic6" and d["presses"] == d["handled"] == d["shown"] == TINY.presses
    everything = d["by_phase"]["all"]
    assert everything["presses"] == TINY.presses
    for what in ("handler_ms", "frame_ms", "ui_cpu_ms"):
        st = everything[what]
        assert st["count"] == TINY.presses
        assert st["p50"] <= st["p95"] <= st["p99"] <= st["max"]
    assert sum(d["by_phase"][ph]["presses"] for ph in PHASES) == TINY.presses
    assert sum(k["presses"] for k in d["by_kind"].values()) == TINY.presses
    assert d["cycles"] > 0 and d["process_cpu_percent"] > 0
    assert len(d["system_cpu_percent"]) >= 1 and d["app"]["frames_per_second"] > 0
    text = format_report(report)
    assert "ui.synthetic6" in text and "handler" in text and "frame" in text
    stalls = d["stalls"]  # --stalls: the UI loop's heartbeat and every collection were recorded
    assert stalls["beats"] > 0 and set(stalls["heap"]) == {"frozen", "gen0", "gen1", "gen2"}
    assert stalls["gc"] and "stalls ≥ 100 ms" in text


def test_percentiles_are_measured_values_by_nearest_rank():
    st = Percentiles.of([float(v) for v in range(1, 101)])
    assert (st.count, st.p50, st.p95, st.p99, st.max) == (100, 50.0, 95.0, 99.0, 100.0)
    assert Percentiles.of([7.0]) == Percentiles(1, 7.0, 7.0, 7.0, 7.0)
    assert Percentiles.of([]) == Percentiles(0, None, None, None, None)


def test_bad_settings_say_what_is_wrong():
    with pytest.raises(ValueError, match="presses"):
        UiBenchSettings(presses=0)
    with pytest.raises(ValueError, match="gap_seconds"):
        UiBenchSettings(gap_seconds=(0.5, 0.1))
    with pytest.raises(ValueError, match="wait_for"):
        UiBenchSettings(wait_for="idle")
    with pytest.raises(ConfigError, match="--presses"):
        run_ui_bench(Config(), presses=0)
    with pytest.raises(ValueError, match="universe"):
        bench_universe(Config(), "moon", UiBenchSettings(presses=1))


# -- the repaint-cost fixes the bench measured ---------------------------------------
async def _tab(pilot, key: str) -> None:
    await pilot.press(key)
    for _ in range(20):
        await pilot.pause()


async def test_footer_keeps_its_keys_and_only_flips_disabled_across_tabs():
    from textual.widgets._footer import FooterKey

    from app.cockpit import CockpitApp
    from engine.events import ModelState
    from tests.app.fakes import MODELS, FakeEngine, deliver, running, status

    engine = FakeEngine()
    app = CockpitApp(engine)
    async with running(app, engine, (120, 40)) as pilot:
        await deliver(pilot, engine, *[status(name, ModelState.RUNNING, family=fam) for name, fam in MODELS])
        await _tab(pilot, "3")
        keys = list(app.screen.query(FooterKey))
        pause = next(k for k in keys if k.action == "toggle_pause")
        assert pause.has_class("-disabled")  # no model under the cursor on the Orders tab
        await _tab(pilot, "1")
        assert not pause.has_class("-disabled")
        await _tab(pilot, "4")
        assert pause.has_class("-disabled")
        assert list(app.screen.query(FooterKey)) == keys  # the same widgets: no rebuild
    assert app.ui_errors == 0


async def test_a_tab_switch_restyles_only_the_panes_it_touches():
    from app.cockpit import CockpitApp
    from tests.app.fakes import FakeEngine, running

    engine = FakeEngine()
    app = CockpitApp(engine)
    async with running(app, engine, (120, 40)) as pilot:
        await _tab(pilot, "2")
        restyled: list[int] = []
        update_nodes = app.stylesheet.update_nodes

        def counting(nodes, animate=False):
            nodes = list(nodes)
            restyled.append(len(nodes))
            return update_nodes(nodes, animate=animate)

        app.stylesheet.update_nodes = counting
        await _tab(pilot, "1")
        await _tab(pilot, "2")
        everything = len(list(app.screen.walk_children(with_self=True)))
        # A `:focus-within` rule that also matched `*` once made each focus move restyle every node.
        assert restyled and max(restyled) < everything // 2, (restyled, everything)


async def test_help_screen_is_built_once_and_reopens_with_the_same_keys():
    from app.cockpit import CockpitApp
    from app.screens.help import HelpScreen
    from tests.app.fakes import FakeEngine, running

    engine = FakeEngine()
    app = CockpitApp(engine)
    async with running(app, engine, (120, 40)) as pilot:
        await _tab(pilot, "question_mark")
        first = app.screen
        assert isinstance(first, HelpScreen) and "Pause or resume" in first.text()
        await _tab(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)
        await _tab(pilot, "question_mark")
        assert app.screen is first and "Pause or resume" in first.text()
        await _tab(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_events_within_the_drain_interval_wait_and_are_then_shown():
    from app.cockpit import CockpitApp
    from tests.app.fakes import FakeEngine, candles, running

    engine = FakeEngine()
    app = CockpitApp(engine, drain_interval=2.0)
    async with running(app, engine, (120, 40)) as pilot:
        for _ in range(50):  # the first drain happens at once (subscribe → first events)
            await pilot.pause()
        first, second = candles(feed_status="replay 60/1000"), candles(feed_status="replay 61/1000")
        engine.emit(first)
        for _ in range(100):
            await pilot.pause()
            if not app.bridge.pending:
                break
        engine.emit(second)
        await pilot.pause()
        assert app.bridge.pending  # held back: the last drain was moments ago
        for _ in range(200):
            await pilot.pause(0.05)
            if not app.bridge.pending:
                break
        await pilot.pause()
        assert not app.bridge.pending
        assert "replay 61/1000" in str(app.main.query_one("#header-feed").render())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux scheduling")
def test_engine_threads_run_at_the_nice_the_cockpit_asks_for():
    from tests.test_runtime import make_engine

    engine, _feed, _seen = make_engine()
    engine.thread_nice = 5
    base = os.getpriority(os.PRIO_PROCESS, 0)
    engine.start()
    try:
        threads = {t.name: t for t in threading.enumerate() if t.name.startswith("cockpit-")}
        assert {"cockpit-loop", "cockpit-trainer"} <= set(threads)
        for name in ("cockpit-loop", "cockpit-trainer"):
            assert os.getpriority(os.PRIO_PROCESS, threads[name].native_id) == min(19, base + 5), name
        assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the calling (UI) thread keeps its own
    finally:
        engine.stop()
