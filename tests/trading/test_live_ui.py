"""Live mode on screen: the LIVE badge in the theme's alarm colour, and the confirm dialog still asks."""

from __future__ import annotations

import dataclasses

import pytest
from textual.color import Color

from app.cockpit import CockpitApp
from app.screens.confirm_trade import ConfirmTradeScreen
from engine.commands import ApproveTrade
from tests.app.fakes import deliver, ensemble_engine, proposal, running


@pytest.mark.parametrize("theme", ["cockpit-dark", "cockpit-light"])
async def test_the_header_shows_live_in_the_alarm_colour(theme):
    engine = ensemble_engine(mode="live")
    app = CockpitApp(engine, theme=theme)
    async with running(app, engine, (100, 30)):
        badge = app.main.query_one("#header-mode")
        assert str(badge.render()).strip() == "LIVE"
        assert badge.has_class("-live") and not badge.has_class("-paper")
        alarm = Color.parse(app.current_theme.variables["live"])
        assert badge.styles.background == alarm
        assert alarm.r > 150 > max(alarm.g, alarm.b)  # an unmistakable red, unlike PAPER's blue
    assert app.ui_errors == 0


async def test_paper_mode_does_not_say_live():
    engine = ensemble_engine()
    app = CockpitApp(engine)
    async with running(app, engine, (100, 30)):
        badge = app.main.query_one("#header-mode")
        assert str(badge.render()).strip() == "PAPER" and not badge.has_class("-live")


async def test_a_live_proposal_waits_in_the_confirm_dialog_until_approved():
    engine = ensemble_engine(mode="live")
    app = CockpitApp(engine)
    async with running(app, engine, (100, 30)) as pilot:
        live = dataclasses.replace(proposal("pr-live-1", "BTC/USDT", price=42_000.0), mode="live")
        await deliver(pilot, engine, live)
        screen = app.screen
        assert isinstance(screen, ConfirmTradeScreen)
        assert "LIVE" in screen.query_one("#confirm-dialog").border_title
        assert not [c for c in engine.commands if isinstance(c, ApproveTrade)]  # nothing sent by itself
        await pilot.press("y")
        await pilot.pause()
        assert [c.proposal_id for c in engine.commands if isinstance(c, ApproveTrade)] == ["pr-live-1"]
    assert app.ui_errors == 0
