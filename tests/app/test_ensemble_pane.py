"""Pilot tests of the Ensemble tab, the tab keys and the pause keys on ensemble members."""

from __future__ import annotations

import math

import pytest

from app.cockpit import CockpitApp
from engine.commands import PauseFamily, PauseModel, ResumeFamily, ResumeModel
from engine.events import CommandRejected, FusionSource, FusionStatus, ModelState
from tests.app.fakes import (
    ENSEMBLE,
    deliver,
    ensemble_engine,
    member,
    running,
    score_row,
    status,
    votes,
)

SIZES = [(80, 24), (120, 40)]
NAN = math.nan


@pytest.fixture
def make():
    """Build a CockpitApp on an engine with three ensemble members; fail if a pane raised."""
    apps: list[CockpitApp] = []

    def build(**kw):
        engine = ensemble_engine()
        app = CockpitApp(engine, **kw)
        apps.append(app)
        return app, engine

    yield build
    assert [app.ui_errors for app in apps] == [0] * len(apps)


def a_vote(*, fallback: bool = False):
    """logreg up on BTC, random_forest down on BTC, knn paused (no say)."""
    return votes(
        [
            member("logreg", (0.61, 0.40, NAN, 0.70), weight=0.625, hit=0.54, base=0.52, scored=120, trained_at=40),
            member("random_forest", (0.45, 0.62, NAN, 0.70), weight=0.375, hit=0.49, base=0.52, scored=118,
                   trained_at=51),
            member("knn", (NAN, NAN, NAN, NAN), weight=0.0, state="paused", hit=None, base=None, scored=0,
                   trained_at=None),
        ],
        final=(0.55, 0.48, NAN, 0.70), agreement=(0.625, 0.625, NAN, 1.0), cycle=52, fallback=fallback,
    )


def running_members():
    return [status(name, ModelState.RUNNING) for name in ENSEMBLE]


@pytest.mark.parametrize("size", SIZES)
async def test_votes_fill_one_row_per_member_and_the_summary(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await pilot.press("2")
        pane = app.main.ensemble
        assert app.main.active_tab == "ensemble" and app.focused is pane.table
        assert "waiting for the first vote" in pane.summary_text()
        await deliver(pilot, engine, *running_members(), status("knn", ModelState.PAUSED), a_vote())
        assert pane.row_text("logreg") == {
            "name": "logreg", "state": "running", "vote": "↑ 0.61", "weight": "62%", "hit": "54% / 52%",
            "scored": "120", "age": "12 bars", "note": "",
        }
        rf = pane.row_text("random_forest")
        assert (rf["vote"], rf["weight"], rf["hit"], rf["age"]) == ("↓ 0.45", "38%", "49% / 52%", "1 bar")
        knn = pane.row_text("knn")
        assert (knn["state"], knn["vote"], knn["weight"], knn["hit"], knn["age"]) == (
            "paused", "· n/a", "0%", "n/a / n/a", "never")
        summary = pane.summary_text()
        assert "BTC/USD final ↑ 0.55" in summary and "agreement 62%" in summary and "2 of 3 voting" in summary
        assert "equal weights" not in summary
        # Another symbol: the probability column and the summary follow it.
        await pilot.press("right_square_bracket")
        assert pane.row_text("logreg")["vote"] == "↓ 0.40" and pane.row_text("random_forest")["vote"] == "↑ 0.62"
        assert "ETH/USD final ↓ 0.48" in pane.summary_text()
        await pilot.press("right_square_bracket")  # LTC: nobody voted
        assert "no vote" in pane.summary_text() and "0 of 3 voting" in pane.summary_text()


def a_fusion(selector: str = "rank", reason: str = "ranking until the DQN has a record: 12 of 100 cycles scored"):
    return FusionStatus(source="fusion", cycle=52, weighting="skill", symbols=("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD"),
                        score=(0.58, 0.47, NAN, 0.66), fallback=False,
                        sources=(FusionSource(name="ensemble-vote", family="vote", share=0.7, scored=300),
                                 FusionSource(name="dqn", family="rl", share=0.3, scored=300),
                                 FusionSource(name="patterns-cnn", family="patterns", share=0.0, scored=300)),
                        selector=selector, selector_reason=reason, fused_hit_rate=0.55, vote_hit_rate=0.53,
                        fused_scored=300)


@pytest.mark.parametrize("size", SIZES)
async def test_the_fusion_line_shows_the_fused_score_every_source_share_and_the_selector(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await pilot.press("2")
        pane = app.main.ensemble
        assert "waiting for the first cycle" in pane.fusion_text()
        await deliver(pilot, engine, a_vote(), a_fusion())
        text = pane.fusion_text()
        assert "fused ↑ 0.58" in text and "ensemble-vote 70%" in text and "dqn 30%" in text
        assert "patterns-cnn 0%" in text and "selector rank" in text and "12 of 100" in text
        await pilot.press("right_square_bracket")
        assert "fused ↓ 0.47" in pane.fusion_text()


async def test_equal_weight_fallback_is_said_out_loud(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("2")
        await deliver(pilot, engine, a_vote(fallback=True))
        assert "equal weights" in app.main.ensemble.summary_text()
        await deliver(pilot, engine, a_vote(fallback=False))
        assert "equal weights" not in app.main.ensemble.summary_text()


@pytest.mark.parametrize("size", SIZES)
async def test_space_pauses_a_member_and_the_row_says_paused_only_when_status_confirms(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await pilot.press("2")
        pane = app.main.ensemble
        await deliver(pilot, engine, *running_members(), a_vote())
        assert pane.highlighted() == "logreg"
        await pilot.press("space")
        assert engine.commands == [PauseModel(name="logreg", id=engine.commands[0].id)]
        row = pane.row_text("logreg")
        assert row["state"] == "running" and row["note"] == "pause requested…"
        assert "pause requested" in str(app.main.query_one("#ensemble-detail").render())
        await deliver(pilot, engine, a_vote())  # a new vote is not the confirmation
        assert pane.row_text("logreg")["state"] == "running"
        await deliver(pilot, engine, status("logreg", ModelState.PAUSED))
        row = pane.row_text("logreg")
        assert row["state"] == "paused" and row["note"] == ""
        assert app.main.models.row_text("logreg")["state"] == "paused"  # the models tab agrees
        await pilot.press("space")
        assert engine.commands[-1] == ResumeModel(name="logreg", id=engine.commands[-1].id)
        await pilot.press("down", "space")
        assert engine.commands[-1] == PauseModel(name="random_forest", id=engine.commands[-1].id)


async def test_shift_p_pauses_the_family_then_resumes_it_once_all_are_paused(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("2")
        pane = app.main.ensemble
        await deliver(pilot, engine, *running_members(), a_vote())
        await pilot.press("P")
        assert engine.commands == [PauseFamily(family="ensemble", id=engine.commands[0].id)]
        assert [pane.row_text(n)["state"] for n in ENSEMBLE] == ["running"] * 3
        assert [pane.row_text(n)["note"] for n in ENSEMBLE] == ["pause requested…"] * 3
        await deliver(pilot, engine, status("logreg", ModelState.PAUSED), status("knn", ModelState.PAUSED))
        assert [pane.row_text(n)["state"] for n in ENSEMBLE] == ["paused", "running", "paused"]
        await pilot.press("P")  # one member still runs: pause again, never resume
        assert isinstance(engine.commands[-1], PauseFamily)
        await deliver(pilot, engine, status("random_forest", ModelState.PAUSED))
        await pilot.press("P")
        assert engine.commands[-1] == ResumeFamily(family="ensemble", id=engine.commands[-1].id)
        assert app.main.models.row_text("lstm-1h")["note"] == ""  # another family is untouched


async def test_a_rejected_family_command_clears_every_pending_note(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        await pilot.press("2")
        await deliver(pilot, engine, *running_members())
        await pilot.press("P")
        await deliver(pilot, engine, CommandRejected(source="engine", command_id=engine.commands[0].id,
                                                     reason="no models of family"))
        assert [app.main.ensemble.row_text(n)["note"] for n in ENSEMBLE] == [""] * 3
        assert "rejected pause the ensemble family: no models of family" in app.main.log_pane.plain_lines[-1]


async def test_shift_p_on_the_models_tab_acts_on_the_highlighted_models_family(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        await deliver(pilot, engine, *running_members(), status("lstm-1h", ModelState.RUNNING, family="forecast"))
        await pilot.press("down", "down", "down")
        assert app.main.models.highlighted() == "lstm-1h"
        await pilot.press("P")
        assert engine.commands == [PauseFamily(family="forecast", id=engine.commands[0].id)]
        await pilot.press("3")  # orders: no model is highlighted, so space and P do nothing
        await pilot.press("space", "P")
        assert len(engine.commands) == 1


@pytest.mark.parametrize("size", SIZES)
async def test_a_faulted_member_shows_its_error_and_has_no_say(size, make):
    app, engine = make()
    async with running(app, engine, size) as pilot:
        await pilot.press("2")
        error = "ValueError: Input X contains NaN"
        failed = votes([member("logreg", (0.61, 0.4, 0.5, 0.5), weight=1.0),
                        member("knn", (NAN,) * 4, weight=0.0, state="faulted")],
                       final=(0.61, 0.4, 0.5, 0.5), agreement=(1.0, 1.0, 1.0, 1.0))
        await deliver(pilot, engine, status("knn", ModelState.FAULTED, error=error), failed)
        row = app.main.ensemble.row_text("knn")
        assert row["state"] == "faulted" and row["note"] == error and row["vote"] == "· n/a"
        assert "1 of 2 voting" in app.main.ensemble.summary_text()
        await pilot.press("down", "down")
        assert error in str(app.main.query_one("#ensemble-detail").render())


async def test_scoreboard_rows_show_in_the_detail_line(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        await pilot.press("2")
        await deliver(pilot, engine, a_vote(), score_row("logreg", hit=0.55, base=0.51, scored=200))
        detail = str(app.main.query_one("#ensemble-detail").render())
        assert "live hit 55% vs majority 51%" in detail and "200 of 500 scored" in detail
        assert "brier 0.241 vs 0.249" in detail
        await pilot.press("1")
        assert "live hit 55% / 51% baseline over 200 scored" in str(app.main.query_one("#model-detail").render())


async def test_number_keys_switch_tabs_and_focus_their_pane(make):
    app, engine = make()
    async with running(app, engine, (80, 24)) as pilot:
        main = app.main
        assert main.active_tab == "models" and app.focused is main.models.table
        for key, tab, focus in (("2", "ensemble", "ensemble-table"), ("3", "orders", "positions-table"),
                                ("4", "log", "log"), ("1", "models", "models-table")):
            await pilot.press(key)
            await pilot.pause()
            assert main.active_tab == tab and app.focused.id == focus, key
        await pilot.press("9")
        assert main.active_tab == "evolution"
        await pilot.press("0")  # no tenth tab: nothing happens
        assert main.active_tab == "evolution"


async def test_tab_moves_between_the_watchlist_and_the_open_pane(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        await pilot.press("2")
        seen = []
        for _ in range(2):
            await pilot.press("tab")
            seen.append(app.focused.id)
        assert sorted(seen) == ["ensemble-table", "watchlist"]


async def test_help_lists_the_tab_and_family_keys(make):
    app, engine = make()
    async with running(app, engine, (120, 40)) as pilot:
        await pilot.press("question_mark")
        text = app.screen.text()
        lines = [" ".join(line.split()) for line in text.splitlines()]
        for expected in ("1 Models", "2 Ensemble", "3 Orders", "4 Log", "P Pause family", "j Journal",
                         "Trade proposal dialog", "y Approve", "n esc Reject", "Decision journal", "r Refresh"):
            assert any(line.startswith(expected) for line in lines), expected
