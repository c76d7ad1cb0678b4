"""Applying the governor's decisions to a running engine, on its loop thread.

The engine calls `GovernorLink.tick` at the end of every cycle (with the
cycle time) and between cycles (without). The link builds the governor's
view of the work (every model slot, plus the background search), applies
the actions the governor returns — slot pause/resume under the slot lock,
the search via SIGSTOP/SIGCONT — and publishes a LogMessage per action and
a GovernorStatus whenever the governor's state changes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from engine.events import LogMessage, ModelState, ModelStatus
from engine.governor import EVOLUTION, PAUSE, RESUME, Action, Governor, Work
from engine.governor_events import GovernorStatus
from engine.slot import GOVERNOR, TRADER, ModelSlot

if TYPE_CHECKING:
    from engine.runtime import Engine

WEIGHTS_EVERY_S = 5.0
"""Scoreboard weights change slowly; they are re-read at most this often."""
RECENT = 100
"""Predict latencies averaged for a slot's measured cost."""


def slot_work(slot: ModelSlot, weight: float) -> Work:
    recent = slot.latencies_ms[-RECENT:]
    budget = slot.model.budget
    return Work(name=slot.name, family=slot.family, state=str(slot.state),
                paused_by=slot.paused_by or (TRADER if slot.paused else ""),
                latency_ms=sum(recent) / len(recent) if recent else None,
                budget_latency_ms=budget.latency_ms, budget_ram_mb=budget.ram_mb, weight=weight)


def evolution_work(evolution: object, paused_by: str) -> Work:
    status: ModelStatus = evolution.status()  # type: ignore[attr-defined]
    paused = bool(evolution.paused)  # type: ignore[attr-defined]
    return Work(name=EVOLUTION, family=status.family, state=str(status.state),
                paused_by=(paused_by or TRADER) if paused else "", search=True)


def evolution_status(engine: Engine) -> ModelStatus:
    """The search's models-pane row, saying who paused it (and why, for the governor)."""
    status: ModelStatus = engine.evolution.status(engine.cycle)  # type: ignore[union-attr]
    if status.state != ModelState.PAUSED:
        return status
    by = engine.evolution_paused_by or TRADER
    governor = engine.governor
    reason = governor.reason_for(EVOLUTION) if by == GOVERNOR and governor is not None else ""
    return dataclasses.replace(status, paused_by=by, pause_reason=reason)


class GovernorLink:
    """Owned by one engine; every method runs on that engine's loop thread."""

    def __init__(self, engine: Engine, governor: Governor) -> None:
        self._engine = engine
        self.governor = governor
        self._weights: dict[str, float] = {}
        self._weights_at = -math.inf
        self._published: tuple[object, ...] | None = None

    def tick(self, cycle_ms: float | None) -> None:
        governor = self.governor
        now = governor.clock()
        actions = governor.decide(governor.latest(), cycle_ms, self._work(now), now)
        for action in actions:
            self._apply(action)
        self._publish_status()

    def _work(self, now: float) -> list[Work]:
        engine = self._engine
        weights = self._weights_now(now)
        work = [slot_work(slot, weights.get(slot.name, 0.0)) for slot in engine.slots]
        if engine.evolution is not None:
            work.append(evolution_work(engine.evolution, engine.evolution_paused_by))
        return work

    def _weights_now(self, now: float) -> dict[str, float]:
        hub = self._engine.hub
        if hub is not None and now - self._weights_at >= WEIGHTS_EVERY_S:
            self._weights = {row.source: row.weight for row in hub.score_rows()}
            self._weights_at = now
        return self._weights

    def _apply(self, action: Action) -> None:
        engine = self._engine
        failed = None
        if action.kind == PAUSE:
            failed = self._pause(action)
            if failed:
                self.governor.forget(action.name)
        elif action.kind == RESUME:
            failed = self._resume(action)
        if failed:
            message, level = f"governor could not {action.kind} {action.name}: {failed}", "warning"
        elif action.kind == PAUSE:
            message, level = f"governor paused {action.name}: {action.reason}", "warning"
        elif action.kind == RESUME:
            message, level = f"governor resumed {action.name}: {action.reason}", "info"
        else:
            message, level = f"governor let go of {action.name}: {action.reason}", "info"
        engine.publish(LogMessage(source="governor", cycle=engine.cycle, level=level, message=message))

    def _pause(self, action: Action) -> str | None:
        engine = self._engine
        if action.name == EVOLUTION and engine.evolution is not None:
            if not engine.evolution.pause():  # type: ignore[attr-defined]
                return "the search is not running"
            engine.evolution_paused_by = GOVERNOR
            engine.publish(evolution_status(engine))
            return None
        slot = engine.slot(action.name)
        return f"no model named {action.name}" if slot is None else slot.pause(by=GOVERNOR, reason=action.reason)

    def _resume(self, action: Action) -> str | None:
        engine = self._engine
        if action.name == EVOLUTION and engine.evolution is not None:
            if engine.evolution_paused_by != GOVERNOR:
                return "the trader paused it"
            if not engine.evolution.resume():  # type: ignore[attr-defined]
                return "the search is not running"
            engine.evolution_paused_by = ""
            engine.publish(evolution_status(engine))
            return None
        slot = engine.slot(action.name)
        return f"no model named {action.name}" if slot is None else slot.resume(by=GOVERNOR)

    def _publish_status(self) -> None:
        g = self.governor
        state = (g.settings.enabled, g.pressure, g.shed, g.exempt, g.note)
        if state == self._published:
            return
        self._published = state
        engine = self._engine
        self._engine.publish(GovernorStatus(source="governor", cycle=engine.cycle, enabled=g.settings.enabled,
                                            pressure=g.pressure, shed=g.shed, exempt=g.exempt, note=g.note))
