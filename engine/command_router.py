"""Applying app commands to the engine, between cycles on the loop thread.

Every refusal is a reason string the engine publishes as `CommandRejected`;
where a name is wrong, the reason lists the valid ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.commands import (
    ApproveTrade,
    Command,
    FreezeLearning,
    PauseFamily,
    PauseModel,
    RejectTrade,
    ResumeFamily,
    ResumeModel,
    RetryModel,
    SetSpeed,
    SetStrategyEnabled,
    SetSymbol,
    ShowJournal,
    Shutdown,
)
from engine.errors import CockpitError
from engine.events import LogMessage, ModelState, SymbolSelected
from engine.governor_apply import evolution_status
from engine.slot import GOVERNOR, TRADER

if TYPE_CHECKING:
    from engine.runtime import Engine


def apply_command(engine: "Engine", command: Command) -> str | None:
    """Carry out `command`; returns why not, or None when done."""
    if isinstance(command, (PauseModel, ResumeModel, RetryModel)):
        return _model_command(engine, command)
    if isinstance(command, SetStrategyEnabled):
        slot = engine.slot("strategies")
        if slot is None:
            return "no promoted strategies in this engine ([strategy] promoted = false)"
        try:
            (slot.model.enable if command.enabled else slot.model.disable)(command.strategy_id)  # type: ignore[attr-defined]
        except CockpitError as exc:
            return str(exc)
        engine.publish(slot.model.listing(engine.cycle))  # type: ignore[attr-defined]
        engine.publish(LogMessage(source=slot.name, cycle=engine.cycle, level="info",
                                  message=f"strategy {command.strategy_id} {'on' if command.enabled else 'off'}"))
        return None
    if isinstance(command, FreezeLearning):
        slot = engine.slot(command.name)
        if slot is None or not hasattr(slot.model, "freeze_learning"):
            learners = ", ".join(s.name for s in engine.slots if hasattr(s.model, "freeze_learning")) or "none"
            return f'no learning model named "{command.name}" (learning models: {learners})'
        (slot.model.freeze_learning if command.frozen else slot.model.unfreeze_learning)()
        engine.publish(LogMessage(source=slot.name, cycle=engine.cycle, level="info",
                                  message="learning frozen" if command.frozen else "learning resumed"))
        return None
    if isinstance(command, (PauseFamily, ResumeFamily)):
        members = [s for s in engine.slots if s.family == command.family]
        if not members:
            families = ", ".join(sorted({s.family for s in engine.slots})) or "none"
            return f'no models of family "{command.family}" (families: {families})'
        for slot in members:
            (slot.pause if isinstance(command, PauseFamily) else slot.resume)()
        return None
    if isinstance(command, (ApproveTrade, RejectTrade, ShowJournal)):
        return _trading_command(engine, command)
    if isinstance(command, SetSymbol):
        if command.symbol not in engine.symbols:
            return f'"{command.symbol}" is not on the watchlist ({", ".join(engine.symbols[:10])}…)'
        engine.selected = command.symbol
        engine.publish(SymbolSelected(source="engine", cycle=engine.cycle, symbol=command.symbol))
        return None
    if isinstance(command, SetSpeed):
        set_speed = getattr(engine.feed, "set_speed", None)
        if set_speed is None:
            return f"the {engine.feed.source} feed has no replay speed"
        set_speed(command.bars_per_second)
        speed = "as fast as possible" if command.bars_per_second <= 0 else f"{command.bars_per_second:g} bars/s"
        engine.publish(LogMessage(source="engine", cycle=engine.cycle, level="info", message=f"replay speed: {speed}"))
        return None
    if isinstance(command, Shutdown):
        engine.request_stop()
        return None
    return f"unknown command {type(command).__name__}"


def _model_command(engine: "Engine", command: PauseModel | ResumeModel | RetryModel) -> str | None:
    evolution = getattr(engine, "evolution", None)
    if evolution is not None and command.name == "evolution":
        return _evolution_command(engine, evolution, command)
    slot = engine.slot(command.name)
    if slot is None:
        known = ", ".join(s.name for s in engine.slots) or "none"
        return f'no model named "{command.name}" (models: {known})'
    if isinstance(command, PauseModel):
        return slot.pause()
    if isinstance(command, ResumeModel):
        return slot.resume()
    if slot.state != ModelState.FAULTED:
        return f"{slot.name} is {slot.state}, not faulted"
    engine.request_fit(slot)
    return None


def _trading_command(engine: "Engine", command: ApproveTrade | RejectTrade | ShowJournal) -> str | None:
    desk = engine.desk
    if desk is None:
        return "trading is off in this engine"
    try:
        if isinstance(command, ApproveTrade):
            events = desk.approve(command.proposal_id)
        elif isinstance(command, RejectTrade):
            events = desk.reject(command.proposal_id, command.reason)
        else:
            events = [desk.journal(command.limit)]
    except CockpitError as exc:
        return str(exc)
    for event in events:
        engine.publish(event)
    return None


def _evolution_command(engine: "Engine", evolution: object, command: PauseModel | ResumeModel | RetryModel
                       ) -> str | None:
    """The background search obeys the same keys as a model (SIGSTOP/SIGCONT, restart).

    As with a slot, the trader pausing a search the governor paused takes the pause over.
    """
    if isinstance(command, PauseModel):
        if evolution.paused and engine.evolution_paused_by != GOVERNOR:  # type: ignore[attr-defined]
            return "evolution is already paused"
        if not evolution.paused:  # type: ignore[attr-defined]
            evolution.pause()  # type: ignore[attr-defined]
        engine.evolution_paused_by = TRADER
    elif isinstance(command, ResumeModel):
        if not evolution.paused:  # type: ignore[attr-defined]
            return "evolution is not paused"
        evolution.resume()  # type: ignore[attr-defined]
        engine.evolution_paused_by = ""
    else:
        if evolution.alive:  # type: ignore[attr-defined]
            return "evolution is running; nothing to retry"
        evolution.start()  # type: ignore[attr-defined]
    engine.publish(evolution_status(engine))
    return None
