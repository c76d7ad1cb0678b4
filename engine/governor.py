"""The resource governor: under pressure it pauses the most expensive, least
valuable work one step at a time, and resumes what it paused once the
pressure has cleared.

Pressure is any of (thresholds in `[governor]`):

- available RAM below `min_available_mb`;
- the SoC at `max_temp_c` or hotter;
- throttling flags set *now* (vcgencmd bits 0–3: under-voltage, ARM freq
  capped, throttled, soft temp limit; the "since boot" bits do not count);
- `overrun_cycles` engine cycles in a row longer than `cycle_budget_ms`, the
  newest of them less than `hold_seconds` (at least 1 s) ago. The period is this fixed
  budget, not the feed's bar interval: at replay speed that interval is an
  arbitrary choice (0 at "as fast as possible") and says nothing about the
  machine; 1000 ms is the cockpit's cycle target.

Shedding order, one step per `step_seconds`:

1. the strategy search (the niced background process; SIGSTOP frees its CPU);
2. the forecast and sentiment families (the LSTM and the transformer);
3. the other non-ensemble families (DQN, patterns, promoted strategies);
4. ensemble members, while more than `ensemble_floor` of them still run.

Within a step, the work with the highest cost per unit of value goes first:
cost is the measured mean predict latency (the declared latency budget until
measured), or under RAM pressure the declared RAM budget; value is the live
scoreboard weight. Work with weight 0 (unscored or skill-less) goes before
any weighted work, costliest first.

Resuming: once no pressure has been seen for `hold_seconds`, the governor
resumes what it paused, newest first, one step per `hold_seconds`. When
pressure returns within a hold period of a resume, the hold doubles (up to
8×) so a borderline load does not flap; it resets once all is resumed.

The trader always wins:

- the governor pauses only running or loading work that nobody has paused,
  and resumes only what it paused itself;
- the trader pausing governor-paused work takes the pause over: the
  governor lets go and never resumes it;
- work the trader resumes during a pressure episode is exempt until the
  episode ends (no pressure for a hold period and nothing left paused by
  the governor), so the governor does not pause it again meanwhile.

Faulted and stopped work is ignored. Pausing frees CPU, not memory: a
paused model keeps its weights, so under RAM pressure shedding stops the
per-cycle allocations and the search's growth but gives nothing back.

`Governor.decide` is the pure core (inputs in, actions out, no engine);
engine/governor_apply.py applies the actions on the engine's loop thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.config import GovernorConfig
from engine.events import ModelState
from engine.monitor import ResourceReading
from engine.slot import GOVERNOR

PAUSE = "pause"
RESUME = "resume"
RELEASE = "release"
"""The governor lets go of work it had paused (the trader took over, or it ended)."""

EVOLUTION = "evolution"
MAX_HOLD_FACTOR = 8
_IGNORED = (ModelState.FAULTED, ModelState.STOPPED)
_LIVE = (ModelState.RUNNING, ModelState.LOADING, ModelState.READY)


@dataclass(frozen=True, slots=True, kw_only=True)
class Work:
    """One governable unit (a model slot or the search) at one moment."""

    name: str
    family: str
    state: str
    paused_by: str = ""
    """"trader", "governor", or "" when it is not paused."""
    latency_ms: float | None = None
    """Measured mean predict latency; None until it has predicted."""
    budget_latency_ms: float = 0.0
    budget_ram_mb: float = 0.0
    weight: float = 0.0
    """Live scoreboard weight (0 when unscored)."""
    search: bool = False
    """The background strategy search, shed first."""

    @property
    def paused(self) -> bool:
        return bool(self.paused_by) or self.state == ModelState.PAUSED

    @property
    def active(self) -> bool:
        return not self.paused and self.state in _LIVE


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    """PAUSE, RESUME or RELEASE."""
    name: str
    reason: str


def tier(work: Work) -> int:
    """1 the search, 2 forecast/sentiment, 3 other non-ensemble families, 4 ensemble members."""
    if work.search:
        return 1
    if work.family in ("forecast", "sentiment"):
        return 2
    return 4 if work.family == "ensemble" else 3


def shed_key(work: Work, *, ram: bool) -> tuple[int, bool, float]:
    """Sort key: the first in this order is shed first."""
    if ram:
        cost = work.budget_ram_mb
    else:
        cost = work.latency_ms if work.latency_ms is not None else work.budget_latency_ms
    if work.weight > 0:
        return tier(work), True, -cost / work.weight
    return tier(work), False, -cost


class Governor:
    """Decides, from readings, cycle times and a view of the work, what to pause or resume.

    `observe` may be called from any thread (the monitor's); `decide` only
    from the one thread that applies its actions (the engine loop).
    """

    def __init__(self, settings: GovernorConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._reading: ResourceReading | None = None
        self._overruns = 0
        self._last_cycle_ms = 0.0
        self._last_cycle_at = -math.inf
        self._shed: list[tuple[str, str]] = []
        self._exempt: set[str] = set()
        self._paused_before: dict[str, str] = {}
        self._last_action = -math.inf
        self._last_resume = -math.inf
        self._clear_since: float | None = None
        self._hold = settings.hold_seconds
        self._episode = False
        self._pressure: tuple[str, ...] = ()
        self._note = ""

    # -- inputs -------------------------------------------------------------------
    def observe(self, reading: ResourceReading) -> None:
        """The newest monitor reading (any thread)."""
        with self._lock:
            self._reading = reading

    def latest(self) -> ResourceReading | None:
        with self._lock:
            return self._reading

    # -- state ----------------------------------------------------------------------
    @property
    def pressure(self) -> tuple[str, ...]:
        return self._pressure

    @property
    def shed(self) -> tuple[tuple[str, str], ...]:
        """What the governor has paused, oldest first, with the reason at the time."""
        return tuple(self._shed)

    @property
    def exempt(self) -> tuple[str, ...]:
        return tuple(sorted(self._exempt))

    @property
    def note(self) -> str:
        return self._note

    @property
    def hold_seconds(self) -> float:
        """The current hold (the configured one, or doubled after a flap)."""
        return self._hold

    def reason_for(self, name: str) -> str:
        return next((reason for shed, reason in self._shed if shed == name), "")

    def forget(self, name: str) -> None:
        """Drop `name` from what the governor holds (its pause could not be applied)."""
        self._shed = [(n, r) for n, r in self._shed if n != name]

    # -- the decision -------------------------------------------------------------------
    def reasons(self, reading: ResourceReading | None, now: float) -> tuple[str, ...]:
        """Every pressure seen now, in words."""
        s = self.settings
        out: list[str] = []
        if reading is not None:
            if reading.ram_available_mb < s.min_available_mb:
                out.append(f"RAM {reading.ram_available_mb:.0f} MB available < {s.min_available_mb:.0f} MB")
            if reading.soc_temp_c is not None and reading.soc_temp_c >= s.max_temp_c:
                out.append(f"SoC {reading.soc_temp_c:.0f} °C ≥ {s.max_temp_c:g} °C")
            flags = reading.throttle.active_flags() if reading.throttle is not None else ()
            if s.throttle and flags:
                out.append(f"throttling now: {', '.join(flags)}")
        if self._overruns >= s.overrun_cycles and now - self._last_cycle_at < max(s.hold_seconds, 1.0):
            out.append(f"{self._overruns} cycles over {s.cycle_budget_ms:g} ms (last {self._last_cycle_ms:.0f} ms)")
        return tuple(out)

    def decide(self, reading: ResourceReading | None, cycle_ms: float | None, work: Sequence[Work],
               now: float) -> list[Action]:
        """At most one pause or resume (plus any releases) for this moment.

        `cycle_ms` is the cycle that just ended, or None when called between cycles.
        """
        if not self.settings.enabled:
            self._note = "off"
            return []
        if cycle_ms is not None:
            self._count_cycle(cycle_ms, now)
        actions = self._reconcile(work)
        reasons = self.reasons(reading, now)
        self._pressure = reasons
        if reasons:
            low_ram = reading is not None and reading.ram_available_mb < self.settings.min_available_mb
            actions += self._under_pressure(reasons, work, now, ram=low_ram)
        else:
            actions += self._clear(now)
        self._remember_pauses(work, actions)
        return actions

    def _count_cycle(self, cycle_ms: float, now: float) -> None:
        self._overruns = self._overruns + 1 if cycle_ms > self.settings.cycle_budget_ms else 0
        self._last_cycle_ms = cycle_ms
        self._last_cycle_at = now

    def _reconcile(self, work: Sequence[Work]) -> list[Action]:
        """Let go of what the trader took over, resumed, or what ended; note the trader's resumes."""
        views = {w.name: w for w in work}
        actions: list[Action] = []
        kept: list[tuple[str, str]] = []
        for name, reason in self._shed:
            w = views.get(name)
            if w is None or w.state in _IGNORED:
                actions.append(Action(RELEASE, name, "it stopped or faulted; left alone"))
            elif w.paused_by == GOVERNOR:
                kept.append((name, reason))
            elif w.paused:
                actions.append(Action(RELEASE, name, "the trader paused it; it stays paused until the trader resumes it"))
            else:
                self._exempt.add(name)
                actions.append(Action(RELEASE, name,
                                      "the trader resumed it; not paused again while this pressure lasts"))
        self._shed = kept
        if self._episode:
            for w in work:
                before = self._paused_before.get(w.name)
                if before and before != GOVERNOR and not w.paused and w.state not in _IGNORED:
                    self._exempt.add(w.name)
        return actions

    def _under_pressure(self, reasons: tuple[str, ...], work: Sequence[Work], now: float, *,
                        ram: bool) -> list[Action]:
        s = self.settings
        if self._clear_since is not None and now - self._last_resume < self._hold:
            self._hold = min(self._hold * 2, s.hold_seconds * MAX_HOLD_FACTOR)  # it came back right after a resume
        self._clear_since = None
        self._episode = True
        pick = self._next_to_shed(work, ram=ram)
        if pick is None:
            self._note = self._nothing_left(work)
            return []
        if now - self._last_action < s.step_seconds:
            self._note = f"one step per {s.step_seconds:g} s"
            return []
        reason = "; ".join(reasons)
        self._shed.append((pick.name, reason))
        self._last_action = now
        self._note = ""
        return [Action(PAUSE, pick.name, reason)]

    def _clear(self, now: float) -> list[Action]:
        if self._clear_since is None:
            self._clear_since = now
        clear_for = now - self._clear_since
        if not self._shed:
            if self._episode and clear_for >= self._hold:
                self._episode = False
                self._exempt.clear()
                self._hold = self.settings.hold_seconds
            self._note = ""
            return []
        if clear_for < self._hold or now - self._last_action < self._hold:
            self._note = f"resumes {self._shed[-1][0]} after {self._hold:g} s clear"
            return []
        name, _ = self._shed.pop()
        self._last_action = self._last_resume = now
        self._note = f"resumes {self._shed[-1][0]} after {self._hold:g} s clear" if self._shed else ""
        return [Action(RESUME, name, f"pressure clear for {clear_for:.0f} s")]

    def _next_to_shed(self, work: Sequence[Work], *, ram: bool) -> Work | None:
        running_members = sum(1 for w in work if w.family == "ensemble" and w.active)
        candidates = [w for w in work if w.active and w.name not in self._exempt
                      and (w.family != "ensemble" or running_members > self.settings.ensemble_floor)]
        return min(candidates, key=lambda w: shed_key(w, ram=ram), default=None)

    def _nothing_left(self, work: Sequence[Work]) -> str:
        members = sum(1 for w in work if w.family == "ensemble" and w.active)
        floor = f"; keeps {members} ensemble member{'s' if members != 1 else ''} (floor {self.settings.ensemble_floor})"
        return "nothing left to shed" + (floor if members else "")

    def _remember_pauses(self, work: Sequence[Work], actions: list[Action]) -> None:
        paused = {w.name: w.paused_by or "trader" for w in work if w.paused}
        for action in actions:
            if action.kind == PAUSE:
                paused[action.name] = GOVERNOR
            elif action.kind == RESUME:
                paused.pop(action.name, None)
        self._paused_before = paused
