"""Pilot tests: a FakeEngine emits events from a thread; keys become commands."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from app import format as fmt
from app.cockpit import SPEEDS, CockpitApp
from app.panes.models import ModelsPane
from app.screens.help import HelpScreen
from app.screens.symbols import SymbolScreen
from app.widgets.price_chart import PriceChart
from textual.widgets.data_table import ColumnKey
from engine.commands import PauseModel, ResumeModel, RetryModel, SetSpeed, SetSymbol
from engine.errors import ConfigError
from engine.events import CommandRejected, FeedEnded, LogMessage, ModelState, SymbolSelected
from tests.app.fakes import SYMBOLS, FakeEngine, candles, resources, signal, status

SIZES = [(80, 24), (120, 40)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def text_of(app: CockpitApp, selector: str) -> str:
    return str(app.main.query_one(selector).render())


@asynccontextmanager
async def running(app: CockpitApp, engine: FakeEngine, size: tuple[int, int]):
    """run_test, then wait until the panes are mounted and the app has subscribed."""
    async with app.run_test(size=size) as pilot:
        for _ in range(100):
            if engine.subscribers:
                break
            await pilot.pause()
        assert engine.subscribers == 1 and engine.started == 1
        yield pilot


async def deliver(pilot, engine: FakeEngine, *events) -> None:
    """Emit from a background thread, then wait until the UI has drained and drawn them."""
    engine.emit(*events)
    for _ in range(100):
        await pilot.pause()
        if not pilot.app.bridge.pending:
            break
    await pilot.pause()


@pytest.fixture
def make():
    """Build a CockpitApp on a FakeEngine; the test fails if a pane raised showing an event."""
    apps: list[CockpitApp] = []

    def build(**kw) -> tuple[CockpitApp, FakeEngine]:
        engine = FakeEngine()
        app = CockpitApp(engine, **kw)
        apps.append(app)
        return app, engine

    yield build
    assert [app.ui_errors for app in apps] == [0] * len(apps)


@pytest.mark.parametrize("size", SIZES)
async def test_candles_update_price_pane_and_header_clock(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await pilot.pause()
        assert engine.started == 1 and engine.subscribers == 1
        event = candles()
        await deliver(pilot, engine, event)
        assert fmt.market_time(event.ts) in text_of(app, "#header-clock")
        assert "replay 48/1000" in text_of(app, "#header-feed")
        stats = text_of(app, "#price-stats")
        assert fmt.price(event.close[0]) in stats
        assert fmt.change_pct(event.close[0] / event.closes[0][0] - 1) in stats
        assert app.main.price.border_title.startswith("BTC/USD")
        chart = app.main.query_one(PriceChart)
        assert chart.series == (event.history_ts, event.closes[0])
        watchlist = text_of(app, "#watchlist")
        assert "▸ BTC" in watchlist and "ETH" in watchlist


async def test_missing_bar_shows_last_close_and_says_so(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        event = candles(missing="BTC/USD")
        await deliver(pilot, engine, event)
        stats = text_of(app, "#price-stats")
        assert fmt.price(event.closes[0][-1]) in stats and "(no bar)" in stats


@pytest.mark.parametrize("size", SIZES)
async def test_resource_sample_updates_gauges(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await deliver(pilot, engine, resources())
        text = text_of(app, "#resources")
        for expected in ("38%", "412 MB", "61.5 °C", "2.40 GHz", "25%", "under-voltage", "11.7 GB", "15.6 GB"):
            assert expected in text, expected
        await deliver(pilot, engine, resources(cpu_percent=90.0))
        assert "90%" in text_of(app, "#resources")


@pytest.mark.parametrize("size", SIZES)
async def test_absent_sensors_read_na_never_zero(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        sample = resources(soc_temp_c=None, arm_clock_mhz=None, throttle_now=None, throttle_past=None,
                           swap_used_mb=None, load_avg=None, sensors_note="not a Raspberry Pi")
        await deliver(pilot, engine, sample)
        text = text_of(app, "#resources")
        temp_line = next(line for line in text.splitlines() if line.startswith("temp"))
        assert "n/a" in temp_line and "0.0 °C" not in temp_line and "MHz" not in temp_line
        assert "throttle absent · past absent" in text
        assert "swap n/a" in text and "load n/a" in text
        assert "not a Raspberry Pi" in text


async def test_help_lists_every_key_and_escape_closes(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.text()
        for binding in CockpitApp.BINDINGS:
            assert app.get_key_display(binding) in text, binding.key
            assert binding.description in text, binding.description
        for key in ("tab", "ctrl+p", "escape", "ctrl+q"):
            assert app.get_key_display(type(binding)(key, "x")) in text, key
        await pilot.press("escape")
        assert app.screen is app.main


async def test_keys_are_blocked_under_a_dialog(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.press("space", "right_square_bracket", "plus")
        assert engine.commands == []


@pytest.mark.parametrize("size", SIZES)
async def test_symbol_switcher_submits_set_symbol_and_price_pane_follows(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await deliver(pilot, engine, candles())
        await pilot.press("s")
        assert isinstance(app.screen, SymbolScreen)
        await pilot.press("E", "T", "H", "enter")
        assert app.screen is app.main
        assert [c for c in engine.commands if isinstance(c, SetSymbol)] == [engine.commands[-1]]
        assert engine.commands[-1].symbol == "ETH/USD"
        assert app.main.price.border_title.startswith("ETH/USD")
        assert fmt.price(candles().close[1]) in text_of(app, "#price-stats")
        assert "▸ ETH" in text_of(app, "#watchlist")
        # The engine's confirmation keeps the switch.
        await deliver(pilot, engine, SymbolSelected(source="engine", symbol="ETH/USD"))
        assert app.symbol == "ETH/USD"


async def test_symbol_switcher_escape_cancels(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("s", "down", "escape")
        assert app.screen is app.main and engine.commands == [] and app.symbol == "BTC/USD"


async def test_brackets_step_through_the_watchlist(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("right_square_bracket")
        assert app.symbol == "ETH/USD" and engine.commands[-1] == SetSymbol(symbol="ETH/USD", id=engine.commands[-1].id)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.symbol == SYMBOLS[-1]
        assert [c.symbol for c in engine.commands] == ["ETH/USD", "BTC/USD", SYMBOLS[-1]]


async def test_engine_chosen_symbol_is_followed_and_stale_echoes_are_not(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, SymbolSelected(source="engine", symbol="LTC/USD"))
        assert app.symbol == "LTC/USD"
        await pilot.press("right_square_bracket", "right_square_bracket")  # → XRP, → BTC
        await deliver(pilot, engine, SymbolSelected(source="engine", symbol="XRP/USD"))
        assert app.symbol == "BTC/USD"  # the echo of the first request does not yank the view back


async def test_rejected_symbol_reverts_to_the_confirmed_one(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, SymbolSelected(source="engine", symbol="BTC/USD"))
        await pilot.press("right_square_bracket")
        assert app.symbol == "ETH/USD"
        await deliver(pilot, engine, CommandRejected(source="engine", command_id=engine.commands[-1].id,
                                                     reason="not tradable"))
        assert app.symbol == "BTC/USD"
        assert "rejected show ETH/USD: not tradable" in app.main.log_pane.plain_lines[-1]


@pytest.mark.parametrize("size", SIZES)
async def test_space_pauses_and_the_row_changes_only_when_status_arrives(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        models = app.main.query_one(ModelsPane)
        await deliver(pilot, engine, status("ensemble-1", ModelState.RUNNING))
        assert models.highlighted() == "ensemble-1"
        await pilot.press("space")
        assert engine.commands == [PauseModel(name="ensemble-1", id=engine.commands[0].id)]
        row = models.row_text("ensemble-1")
        assert row["state"] == "running" and "pause requested" in row["note"]
        await deliver(pilot, engine, status("ensemble-1", ModelState.RUNNING, predictions=8))
        row = models.row_text("ensemble-1")
        assert row["state"] == "running" and "pause requested" in row["note"] and row["predictions"] == "8"
        await deliver(pilot, engine, status("ensemble-1", ModelState.PAUSED))
        row = models.row_text("ensemble-1")
        assert row["state"] == "paused" and "requested" not in row["note"]
        await pilot.press("space")
        assert isinstance(engine.commands[-1], ResumeModel) and engine.commands[-1].name == "ensemble-1"


async def test_rejected_pause_clears_the_pending_note_and_logs_why(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        models = app.main.query_one(ModelsPane)
        await deliver(pilot, engine, status("ensemble-1", ModelState.LOADING))
        await pilot.press("space")
        await deliver(pilot, engine, CommandRejected(source="engine", command_id=engine.commands[0].id,
                                                     reason="ensemble-1 is loading"))
        assert models.row_text("ensemble-1")["note"] == ""
        assert "rejected pause ensemble-1: ensemble-1 is loading" in app.main.log_pane.plain_lines[-1]


async def test_r_retries_a_faulted_model_and_only_a_faulted_one(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, status("ensemble-1", ModelState.RUNNING),
                      status("lstm-1h", ModelState.FAULTED, family="forecast", error="boom"))
        await pilot.press("r")
        assert engine.commands == []  # ensemble-1 is highlighted and running
        await pilot.press("down", "space")
        assert engine.commands == []  # no pause for a faulted model
        await pilot.press("r")
        assert engine.commands == [RetryModel(name="lstm-1h", id=engine.commands[0].id)]


@pytest.mark.parametrize("size", SIZES)
async def test_faulted_status_shows_its_error_text(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        error = "ValueError: shapes (3,4) and [4,3] do not align"
        await deliver(pilot, engine, status("lstm-1h", ModelState.FAULTED, family="forecast", error=error))
        models = app.main.query_one(ModelsPane)
        row = models.row_text("lstm-1h")
        assert row["state"] == "faulted" and row["note"] == error
        await pilot.press("down")
        assert error in text_of(app, "#model-detail")
        assert any(error in line for line in app.main.log_pane.plain_lines)


async def test_signal_for_the_selected_symbol_fills_the_models_row(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        models = app.main.query_one(ModelsPane)
        await deliver(pilot, engine, signal("ensemble-1", (0.61, 0.42, float("nan"), 0.5)))
        assert models.row_text("ensemble-1")["signal"] == "0.61"
        assert str(models.table.columns[ColumnKey("signal")].label) == "p(BTC)"
        await pilot.press("right_square_bracket")
        assert models.row_text("ensemble-1")["signal"] == "0.42"
        assert str(models.table.columns[ColumnKey("signal")].label) == "p(ETH)"
        assert models.table.columns[ColumnKey("signal")].content_width >= len("p(ETH)")
        await pilot.press("right_square_bracket")
        assert models.row_text("ensemble-1")["signal"] == "n/a"


async def test_unknown_model_gets_a_row(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, status("newcomer", ModelState.READY, family="patterns"))
        assert app.main.query_one(ModelsPane).row_text("newcomer")["state"] == "ready"


async def test_plus_and_minus_change_replay_speed(make):
    app, engine = make(speed=4.0)
    async with running(app, engine, (120, 40)) as pilot:
        await pilot.press("plus", "plus", "minus")
        assert [c.bars_per_second for c in engine.commands if isinstance(c, SetSpeed)] == [8.0, 16.0, 8.0]
        assert "8 bar/s" in text_of(app, "#header-speed")
        for _ in SPEEDS:
            await pilot.press("plus")
        assert engine.commands[-1].bars_per_second == 0.0  # as fast as possible, then it stops
        count = len(engine.commands)
        await pilot.press("plus")
        assert len(engine.commands) == count


async def test_t_switches_theme_and_back(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        assert app.theme == "cockpit-dark"
        await pilot.press("t")
        assert app.theme == "cockpit-light"
        assert app.theme_variables["bull"].lower() == "#1e7b45"
        await pilot.press("t")
        assert app.theme == "cockpit-dark"


async def test_textual_builtin_theme_still_renders(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        app.theme = "nord"
        await deliver(pilot, engine, candles(), resources(), status("ensemble-1", ModelState.RUNNING))
        assert "bull" in app.theme_variables


async def test_header_turns_stale_after_ten_quiet_seconds(make):
    clock = Clock()
    app, engine = make(clock=clock)
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, candles())
        assert "fresh" in text_of(app, "#header-fresh")
        clock.now += 12.5
        app.refresh_freshness()
        await pilot.pause()
        assert text_of(app, "#header-fresh") == "stale 12s"
        assert app.main.query_one("#header-fresh").has_class("-stale")
        await deliver(pilot, engine, candles())
        assert "stale" not in text_of(app, "#header-fresh")
        await deliver(pilot, engine, FeedEnded(source="feed", bars_done=48, message="replay finished after 48 bars"))
        clock.now += 60
        app.refresh_freshness()
        assert text_of(app, "#header-fresh") == "feed ended"


async def test_log_pane_shows_messages_newest_last(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await deliver(pilot, engine, *(LogMessage(source="engine", level="info", message=f"m{i}") for i in range(5)))
        assert [line.rsplit(" ", 1)[-1] for line in app.main.log_pane.plain_lines] == [f"m{i}" for i in range(5)]


async def test_q_quits_cleanly_and_stops_the_engine(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert engine.stopped == 1 and engine.subscribers == 0


async def test_quitting_with_help_open_exits_cleanly(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        app.exit()
        await pilot.pause()
    assert app.return_code == 0
    assert engine.stopped == 1


async def test_initial_symbol_is_shown_and_requested(make):
    app, engine = make(symbol="LTC/USD")
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.pause()
        assert app.symbol == "LTC/USD"
        assert engine.commands[0].symbol == "LTC/USD"


def test_bad_symbol_or_theme_says_what_is_valid():
    with pytest.raises(ConfigError, match='did you mean "ETH/USD"') as info:
        CockpitApp(FakeEngine(), symbol="ETH/USDT")
    assert "watchlist: BTC/USD, ETH/USD" in str(info.value)
    with pytest.raises(ConfigError, match='did you mean "cockpit-dark"'):
        CockpitApp(FakeEngine(), theme="cockpit-drak")
    with pytest.raises(ConfigError, match="watchlist is empty"):
        CockpitApp(FakeEngine(symbols=()))


async def test_tab_cycles_focus_and_the_focused_watchlist_steps_symbols(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        await pilot.pause()
        assert app.focused is app.main.models.table
        seen = []
        for _ in range(2):
            await pilot.press("tab")
            seen.append(app.focused.id)
        assert sorted(seen) == ["models-table", "watchlist"]  # the open tab's pane and the watchlist
        await pilot.press("4")  # the log lives in its own tab
        assert app.focused.id == "log"
        app.main.query_one("#watchlist").focus()
        await pilot.press("down")
        assert app.symbol == "ETH/USD" and engine.commands[-1].symbol == "ETH/USD"


async def test_command_palette_opens_and_lists_the_cockpit_themes(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        await pilot.press("ctrl+p")
        assert type(app.screen).__name__ == "CommandPalette"
        assert {"cockpit-dark", "cockpit-light"} <= set(app.available_themes)


async def test_d_in_the_evolution_tab_switches_a_promoted_strategy_through_the_engine(make):
    from app.panes.evolution import EvolutionPane
    from engine.commands import SetStrategyEnabled
    from engine.strategy.events import PromotedList, PromotedRow

    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        await deliver(pilot, engine, PromotedList(source="strategies", entries=(
            PromotedRow(id="aaaa1111", strategy="4h EMA(12/48) crossover", enabled=True, holdout_sharpe=1.1),)))
        await pilot.press("9")
        pane = app.main.pane("evolution", EvolutionPane)
        pane.promoted_table.focus()
        await pilot.press("d")
        await pilot.pause()
        sent = [c for c in engine.commands if isinstance(c, SetStrategyEnabled)]
        assert [(c.strategy_id, c.enabled) for c in sent] == [("aaaa1111", False)]
