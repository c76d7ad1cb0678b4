"""The resource governor: pressure from the real monitor, shedding order, resume order,
the trader's pauses winning, the ensemble floor, and what the UI shows.

Engine tests drive the real Engine synchronously with real logistic models; some of
them are labelled as other families (the governor reads only a model's family, its
measured latency, its budget and its scoreboard weight). The strategy search is the
real background process. Sensor readings come through the real `engine.monitor.Monitor`
from recorded `vcgencmd` outputs, a thermal-zone file and a psutil stand-in.
"""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from pathlib import Path

import pytest

from engine.commands import PauseFamily, PauseModel, ResumeModel
from engine.config import Config, GovernorConfig, load_config
from engine.data.replay import ReplayFeed
from engine.data.synthetic import synthetic_panel
from engine.errors import ConfigError
from engine.events import LogMessage, ModelState, ModelStatus
from engine.governor import PAUSE, RELEASE, RESUME, Governor, Work, shed_key
from engine.governor_events import GovernorStatus
from engine.models.logreg import LogisticBaseline
from engine.models.protocol import Budget, Family
from engine.monitor import Monitor
from engine.runtime import Engine
from engine.slot import GOVERNOR, TRADER

SENSORS = Path(__file__).parent / "data" / "sensors"
GIB = 1024**3
MIB = 1024**2

# -- the machine: recorded vcgencmd outputs, a thermal zone file, a psutil stand-in ---------

VMem = namedtuple("VMem", "total available percent used free")
Swap = namedtuple("Swap", "total used free percent sin sout")
MemInfo = namedtuple("MemInfo", "rss vms")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class PsutilStandIn:
    """The slice of psutil the monitor reads; `available_mb` is set by the test."""

    def __init__(self) -> None:
        self.available_mb = 12_000.0

    def Process(self, pid: int):
        return namedtuple("P", "memory_info")(lambda: MemInfo(rss=300 * MIB, vms=900 * MIB))

    def cpu_percent(self, *, percpu: bool, interval: float | None) -> list[float]:
        return [50.0, 60.0]

    def virtual_memory(self) -> VMem:
        available = int(self.available_mb * MIB)
        return VMem(total=16 * GIB, available=available, percent=100 * (1 - available / (16 * GIB)),
                    used=16 * GIB - available, free=available)

    def swap_memory(self) -> Swap:
        return Swap(total=0, used=0, free=0, percent=0.0, sin=0, sout=0)


class Machine:
    """Sensors the test controls, read by a real Monitor."""

    def __init__(self, tmp_path: Path, clock: Clock) -> None:
        self.thermal = tmp_path / "thermal_zone0_temp"
        self.thermal.write_text((SENSORS / "thermal_zone0_temp.txt").read_text())  # 54.321 °C
        self.throttled = "throttled_pi5_healthy.txt"
        self.psutil = PsutilStandIn()
        self.monitor = Monitor(run_command=self._vcgencmd, psutil_module=self.psutil, thermal_path=self.thermal,
                               pid=1, slow_interval=0.0, clock=clock)

    def _vcgencmd(self, argv: list[str]) -> str | None:
        if argv == ["vcgencmd", "get_throttled"]:
            return (SENSORS / self.throttled).read_text()
        if argv == ["vcgencmd", "measure_clock", "arm"]:
            return (SENSORS / "measure_clock_arm_pi5_full.txt").read_text()
        return None

    def temperature(self, celsius: float) -> None:
        self.thermal.write_text(f"{round(celsius * 1000)}\n")


# -- models ---------------------------------------------------------------------------------


class Labelled(LogisticBaseline):
    """A real logistic model under another family's label, with that family's declared budget."""

    def __init__(self, name: str, family: Family, budget: Budget | None = None) -> None:
        super().__init__(name, train_bars=600, horizon=2)
        self.family = family
        self.budget = budget or self.budget


class Flaky(Labelled):
    broken = False

    def predict(self, batch):
        if self.broken:
            raise RuntimeError("disk on fire")
        return super().predict(batch)


def models(members: int = 4) -> list[LogisticBaseline]:
    return [
        *(Labelled(f"member{i}", Family.ENSEMBLE) for i in range(members)),
        Labelled("lstm", Family.FORECAST, Budget(ram_mb=260.0, latency_ms=100.0)),
        Labelled("sentiment", Family.SENTIMENT, Budget(ram_mb=250.0, latency_ms=1500.0)),
        Labelled("dqn", Family.RL, Budget(ram_mb=120.0, latency_ms=30.0)),
        Labelled("patterns", Family.PATTERNS, Budget(ram_mb=60.0, latency_ms=250.0)),
    ]


SETTINGS = GovernorConfig(step_seconds=10.0, hold_seconds=30.0, ensemble_floor=3)


class Rig:
    """A synchronous Engine with a governor, a real monitor and the test's clock."""

    def __init__(self, tmp_path: Path, *, settings: GovernorConfig = SETTINGS, model_list=None,
                 evolution: bool = False) -> None:
        self.clock = Clock()
        self.machine = Machine(tmp_path, self.clock)
        self.governor = Governor(settings, clock=self.clock)
        panel = synthetic_panel(4, 900, seed=3)
        self.feed = ReplayFeed(panel, start=700, speed=0.0)
        self.engine = Engine(Config(), feed=self.feed, models=model_list if model_list is not None else models(),
                             monitor=self.machine.monitor, governor=self.governor)
        self.seen: list = []
        self.engine.subscribe(self.seen.append)
        if evolution:
            from engine.strategy.background import EvolutionSpec, EvolutionWorker

            self.engine.evolution = EvolutionWorker(EvolutionSpec(source="synthetic", n_symbols=2, bars=1500,
                                                                  trials=100_000, data_dir=tmp_path, seed=1))
        self.engine.prepare()
        if evolution:
            self.engine.evolution.start()  # after the fits, so the search does not slow them down

    def cycle(self, advance: float = 0.0) -> None:
        """Let `advance` seconds pass, take a monitor reading, run one cycle."""
        self.clock.now += advance
        self.engine.sample_resources()
        self.engine.step(self.feed.next_bar(timeout=0))

    def command(self, command) -> list[str]:
        from engine.events import CommandRejected

        before = len(self.seen)
        self.engine.submit(command)
        self.engine.apply_commands()
        return [e.reason for e in self.seen[before:] if isinstance(e, CommandRejected)]

    def governor_paused(self) -> list[str]:
        """Names in the order the governor paused them, from its log lines."""
        return [e.message.split(":")[0].removeprefix("governor paused ") for e in self.seen
                if isinstance(e, LogMessage) and e.message.startswith("governor paused ")]

    def governor_resumed(self) -> list[str]:
        return [e.message.split(":")[0].removeprefix("governor resumed ") for e in self.seen
                if isinstance(e, LogMessage) and e.message.startswith("governor resumed ")]

    def paused(self) -> set[str]:
        out = {s.name for s in self.engine.slots if s.paused}
        if self.engine.evolution is not None and self.engine.evolution.paused:
            out.add("evolution")
        return out

    def status(self, name: str) -> ModelStatus:
        return [e for e in self.seen if isinstance(e, ModelStatus) and e.source == name][-1]

    def governor_status(self) -> GovernorStatus:
        return [e for e in self.seen if isinstance(e, GovernorStatus)][-1]

    def close(self) -> None:
        if self.engine.evolution is not None:
            self.engine.evolution.stop(timeout=5)


@pytest.fixture
def rig(tmp_path):
    made: list[Rig] = []

    def build(**kw) -> Rig:
        r = Rig(tmp_path, **kw)
        made.append(r)
        return r

    yield build
    for r in made:
        r.close()


# -- through the engine --------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_heat_sheds_in_order_to_the_floor_and_cooling_resumes_in_reverse(rig):
    r = rig(evolution=True)
    r.cycle()
    assert r.governor_status().pressure == () and r.paused() == set()
    r.machine.temperature(82.0)
    r.cycle()
    assert r.governor_status().pressure == ("SoC 82 °C ≥ 80 °C",)
    assert r.governor_paused() == ["evolution"] and r.engine.evolution.paused
    r.cycle(advance=5.0)  # within the step hold-off: nothing more
    assert r.governor_paused() == ["evolution"]
    for _ in range(6):
        r.cycle(advance=10.0)
    order = r.governor_paused()
    assert order[0] == "evolution"
    assert set(order[1:3]) == {"lstm", "sentiment"}
    assert set(order[3:5]) == {"dqn", "patterns"}
    assert len(order) == 6 and order[5].startswith("member")  # 4 members, floor 3: one shed
    running_members = [s for s in r.engine.slots if s.family == "ensemble" and not s.paused]
    assert len(running_members) == 3
    assert "nothing left to shed" in r.governor_status().note
    assert [name for name, _ in r.governor_status().shed] == order

    # the UI sees why
    lstm = r.status("lstm")
    assert lstm.state == ModelState.PAUSED and lstm.paused_by == GOVERNOR
    assert lstm.pause_reason == "SoC 82 °C ≥ 80 °C"
    assert "governor paused lstm: SoC 82 °C ≥ 80 °C" in [e.message for e in r.seen if isinstance(e, LogMessage)]
    evolution = r.status("evolution")
    assert evolution.state == ModelState.PAUSED and evolution.paused_by == GOVERNOR

    r.machine.temperature(60.0)
    r.cycle(advance=10.0)
    assert r.governor_status().pressure == () and r.governor_resumed() == []
    r.cycle(advance=20.0)  # clear for 20 s < hold 30 s
    assert r.governor_resumed() == []
    for _ in range(6):
        r.cycle(advance=30.0)
    assert r.governor_resumed() == list(reversed(order))
    assert r.paused() == set() and r.governor_status().shed == ()
    assert r.status("lstm").paused_by == ""


def test_throttle_flags_now_are_pressure_and_past_flags_are_not(rig):
    r = rig(model_list=models()[4:6])
    r.machine.throttled = "throttled_past_only.txt"
    r.cycle()
    assert r.governor_status().pressure == () and r.paused() == set()
    r.machine.throttled = "throttled_soft_temp_limit.txt"
    r.cycle()
    assert r.governor_status().pressure == ("throttling now: soft temp limit",)
    assert len(r.governor_paused()) == 1


def test_low_ram_sheds_by_ram_budget(rig):
    r = rig(model_list=models()[4:6])  # lstm declares 260 MB, sentiment 250 MB
    r.machine.psutil.available_mb = 700.0
    r.cycle()
    assert r.governor_status().pressure == ("RAM 700 MB available < 1024 MB",)
    assert r.governor_paused() == ["lstm"]


def test_overrunning_cycles_are_pressure_only_when_consecutive(rig):
    r = rig(settings=dataclasses.replace(SETTINGS, cycle_budget_ms=0.001, overrun_cycles=3),
            model_list=models()[4:6])
    r.cycle()
    r.cycle(advance=1.0)
    assert r.governor_paused() == []
    r.cycle(advance=1.0)
    assert r.governor_status().pressure[0].startswith("3 cycles over 0.001 ms")
    assert len(r.governor_paused()) == 1


def test_a_manual_pause_is_never_overridden(rig):
    r = rig(model_list=models()[4:8])
    assert r.command(PauseModel(name="lstm")) == []
    r.machine.temperature(85.0)
    for _ in range(4):
        r.cycle(advance=10.0)
    assert "lstm" not in r.governor_paused()
    assert set(r.governor_paused()) == {"sentiment", "dqn", "patterns"}
    # the trader takes over the governor's pause of sentiment
    assert r.command(PauseModel(name="sentiment")) == []
    assert r.status("sentiment").paused_by == TRADER
    r.machine.temperature(50.0)
    for _ in range(8):
        r.cycle(advance=30.0)
    assert set(r.governor_resumed()) == {"dqn", "patterns"}
    assert r.paused() == {"lstm", "sentiment"}
    assert r.engine.slot("lstm").paused_by == TRADER and r.engine.slot("sentiment").paused_by == TRADER
    let_go = [e.message for e in r.seen if isinstance(e, LogMessage) and "let go of sentiment" in e.message]
    assert let_go and "the trader paused it" in let_go[0]


def test_what_the_trader_resumes_stays_on_while_the_pressure_lasts(rig):
    r = rig(model_list=models()[4:6])
    r.machine.temperature(85.0)
    r.cycle()
    first = r.governor_paused()[0]
    assert r.command(ResumeModel(name=first)) == []
    for _ in range(5):
        r.cycle(advance=10.0)
    assert r.governor_paused().count(first) == 1, "never paused again during this episode"
    assert first in r.governor_status().exempt
    assert r.engine.slot(first).paused is False
    # the episode ends after a clear hold period; the next pressure may shed it again
    r.machine.temperature(50.0)
    for _ in range(3):
        r.cycle(advance=30.0)
    assert r.governor_status().exempt == () and r.paused() == set()
    r.machine.temperature(85.0)
    for _ in range(3):
        r.cycle(advance=10.0)
    assert r.governor_paused().count(first) == 2


def test_a_family_pause_takes_over_and_the_governor_cannot_resume_a_trader_pause(rig):
    r = rig(model_list=models()[4:6])
    r.machine.temperature(85.0)
    r.cycle()
    first = r.governor_paused()[0]
    slot = r.engine.slot(first)
    assert slot.resume(by=GOVERNOR) is None and slot.pause(by=GOVERNOR, reason="test") is None
    assert r.command(PauseFamily(family=slot.family)) == []
    assert slot.paused_by == TRADER
    assert "trader" in slot.resume(by=GOVERNOR)
    assert slot.paused


def test_a_faulted_model_is_ignored(rig):
    flaky = Flaky("lstm", Family.FORECAST, Budget(ram_mb=260.0, latency_ms=100.0))
    r = rig(model_list=[flaky, *models()[5:6]])
    flaky.broken = True
    r.cycle()
    assert r.engine.slot("lstm").state == ModelState.FAULTED
    r.machine.temperature(85.0)
    for _ in range(3):
        r.cycle(advance=10.0)
    assert r.governor_paused() == ["sentiment"]
    assert "nothing left to shed" in r.governor_status().note


def test_the_floor_keeps_every_ensemble_member_when_there_are_few(rig):
    r = rig(model_list=[Labelled(f"member{i}", Family.ENSEMBLE) for i in range(3)])
    r.machine.temperature(90.0)
    for _ in range(4):
        r.cycle(advance=10.0)
    assert r.governor_paused() == [] and r.paused() == set()
    assert "floor 3" in r.governor_status().note


def test_disabled_governor_does_nothing_and_says_off(rig):
    r = rig(settings=dataclasses.replace(SETTINGS, enabled=False), model_list=models()[4:6])
    r.machine.temperature(95.0)
    for _ in range(3):
        r.cycle(advance=10.0)
    assert r.paused() == set()
    assert r.governor_status().enabled is False


@pytest.mark.timeout(60)
def test_the_trader_takes_over_a_governor_paused_search(rig):
    r = rig(model_list=[], evolution=True)
    r.machine.temperature(85.0)
    r.cycle()
    assert r.engine.evolution.paused and r.engine.evolution_paused_by == GOVERNOR
    assert r.command(PauseModel(name="evolution")) == []
    assert r.engine.evolution_paused_by == TRADER and r.status("evolution").paused_by == TRADER
    r.machine.temperature(50.0)
    for _ in range(3):
        r.cycle(advance=30.0)
    assert r.engine.evolution.paused, "the governor never resumes the trader's pause"
    assert r.command(ResumeModel(name="evolution")) == []
    assert not r.engine.evolution.paused and r.engine.evolution_paused_by == ""


def test_a_slot_records_who_paused_it():
    from engine.models.protocol import ModelContext
    from engine.slot import ModelSlot

    seen: list = []
    slot = ModelSlot(LogisticBaseline("m"), ctx=ModelContext(checkpoint_dir="."), publish=seen.append)
    assert slot.pause(by=GOVERNOR, reason="SoC 81 °C ≥ 80 °C") is None
    assert (slot.paused_by, seen[-1].paused_by, seen[-1].pause_reason) == (GOVERNOR, GOVERNOR, "SoC 81 °C ≥ 80 °C")
    assert slot.pause(by=GOVERNOR) == "m is already paused"
    assert slot.resume() is None and slot.paused_by == "" and seen[-1].pause_reason == ""
    assert slot.pause() is None and slot.paused_by == TRADER
    assert slot.pause() == "m is already paused"
    assert slot.resume(by=GOVERNOR) == "m was paused by the trader; only the trader resumes it"
    assert slot.paused


# -- the pure core ---------------------------------------------------------------------------


def work(name: str, family: str, *, latency: float | None = 10.0, ram: float = 50.0, weight: float = 0.0,
         state: str = "running", paused_by: str = "", search: bool = False) -> Work:
    return Work(name=name, family=family, state=state, paused_by=paused_by, latency_ms=latency,
                budget_latency_ms=100.0, budget_ram_mb=ram, weight=weight, search=search)


def reading(*, temp: float = 50.0, available_mb: float = 8000.0):
    from engine.monitor import ResourceReading

    return ResourceReading(cpu_percent_per_core=(50.0,), cpu_percent=50.0, load_avg=None, ram_total_mb=16000.0,
                           ram_available_mb=available_mb, ram_percent=50.0, process_rss_mb=300.0,
                           swap_used_mb=None, soc_temp_c=temp, arm_clock_mhz=None, throttle=None)


def test_within_a_step_cost_per_weight_decides_and_unscored_work_goes_first():
    items = [
        work("lstm", "forecast", latency=30.0, weight=0.10),      # 300 per unit of weight
        work("sentiment", "sentiment", latency=200.0, weight=0.5),  # 400
        work("dqn", "rl", latency=5.0, weight=0.0),                # unscored: before weighted work of its tier
        work("patterns", "patterns", latency=80.0, weight=0.2),
        work("evolution", "strategy", latency=None, search=True),
    ]
    ordered = sorted(items, key=lambda w: shed_key(w, ram=False))
    assert [w.name for w in ordered] == ["evolution", "sentiment", "lstm", "dqn", "patterns"]
    by_ram = sorted(items[:2], key=lambda w: shed_key(w, ram=True))
    assert [w.name for w in by_ram] == ["lstm", "sentiment"]  # equal RAM budgets: the lower weight first


def test_the_core_sheds_one_step_at_a_time_and_resumes_newest_first():
    g = Governor(SETTINGS, clock=lambda: 0.0)
    views = {w.name: w for w in [work("a", "forecast", latency=50.0), work("b", "sentiment", latency=5.0),
                                 work("c", "rl")]}
    t = 0.0
    paused: list[str] = []
    for _ in range(5):
        for action in g.decide(reading(temp=81.0), None, list(views.values()), t):
            assert action.kind == PAUSE
            paused.append(action.name)
            views[action.name] = dataclasses.replace(views[action.name], paused_by=GOVERNOR)
        t += 5.0
    assert paused == ["a", "b", "c"]  # every 10 s (two calls) at most one step
    resumed: list[str] = []
    for _ in range(20):
        for action in g.decide(reading(temp=60.0), None, list(views.values()), t):
            assert action.kind == RESUME
            resumed.append(action.name)
            views[action.name] = dataclasses.replace(views[action.name], paused_by="")
        t += 10.0
    assert resumed == ["c", "b", "a"]


def test_pressure_right_after_a_resume_doubles_the_hold():
    g = Governor(dataclasses.replace(SETTINGS, step_seconds=0.0), clock=lambda: 0.0)
    view = [work("a", "forecast")]
    assert [a.kind for a in g.decide(reading(temp=85.0), None, view, 0.0)] == [PAUSE]
    view = [work("a", "forecast", paused_by=GOVERNOR)]
    assert g.decide(reading(temp=60.0), None, view, 1.0) == []
    (resume,) = g.decide(reading(temp=60.0), None, view, 31.0)
    assert resume.kind == RESUME
    view = [work("a", "forecast")]
    g.decide(reading(temp=85.0), None, view, 40.0)  # back within a hold period
    assert g.hold_seconds == 60.0
    view = [work("a", "forecast", paused_by=GOVERNOR)]
    assert g.decide(reading(temp=60.0), None, view, 41.0) == []
    assert g.decide(reading(temp=60.0), None, view, 80.0) == []  # 39 s clear < 60 s
    assert [a.kind for a in g.decide(reading(temp=60.0), None, view, 101.0)] == [RESUME]


def test_overruns_need_a_recent_cycle():
    g = Governor(dataclasses.replace(SETTINGS, cycle_budget_ms=100.0, overrun_cycles=2), clock=lambda: 0.0)
    view = [work("a", "forecast")]
    assert g.decide(None, 150.0, view, 0.0) == []
    assert g.decide(None, 90.0, view, 0.1) == []  # a cycle in budget resets the count
    assert g.decide(None, 150.0, view, 0.2) == []
    (action,) = g.decide(None, 150.0, view, 0.3)
    assert action.kind == PAUSE and action.reason == "2 cycles over 100 ms (last 150 ms)"
    assert g.reasons(None, 0.3 + 31.0) == (), "no cycles for a hold period: no cycle pressure"


def test_a_released_name_is_reported_when_work_ends():
    g = Governor(dataclasses.replace(SETTINGS, step_seconds=0.0), clock=lambda: 0.0)
    g.decide(reading(temp=85.0), None, [work("evolution", "strategy", search=True)], 0.0)
    actions = g.decide(reading(temp=85.0), None, [work("evolution", "strategy", search=True, state="stopped")], 1.0)
    assert [(a.kind, a.name) for a in actions] == [(RELEASE, "evolution")]
    assert g.shed == ()


# -- config and UI --------------------------------------------------------------------------


def test_a_misspelled_governor_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[governor]\nmax_temp = 75\n")
    with pytest.raises(ConfigError, match=r'\[governor\] unknown key "max_temp" — did you mean "max_temp_c"'):
        load_config(path)
    path.write_text("[governor]\novverrun_cycles = 0\n")
    with pytest.raises(ConfigError, match="overrun_cycles"):
        load_config(path)
    path.write_text("[governor]\noverrun_cycles = 0\n")
    with pytest.raises(ConfigError, match="governor.overrun_cycles must be at least 1"):
        load_config(path)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_cockpit_shows_what_the_governor_sheds_and_why(size):
    from app.cockpit import CockpitApp
    from tests.app.fakes import FakeEngine, resources, status

    engine = FakeEngine()
    app = CockpitApp(engine)
    async with app.run_test(size=size) as pilot:
        for _ in range(100):
            if engine.subscribers:
                break
            await pilot.pause()

        async def deliver(*events) -> None:
            engine.emit(*events)
            for _ in range(100):
                await pilot.pause()
                if not app.bridge.pending:
                    break
            await pilot.pause()

        await deliver(resources(), GovernorStatus(source="governor"))
        assert app.main.resources.governor_text() == "governor ok"
        reason = "SoC 82 °C ≥ 80 °C"
        await deliver(GovernorStatus(source="governor", pressure=(reason,), shed=(("lstm-1h", reason),)),
                      status("lstm-1h", ModelState.PAUSED, family="forecast", paused_by=GOVERNOR,
                             pause_reason=reason))
        assert app.main.resources.governor_text() == f"governor shedding lstm-1h ({reason})"
        assert app.main.models.row_text("lstm-1h")["note"] == f"paused by governor: {reason}"
        await deliver(GovernorStatus(source="governor", shed=(("lstm-1h", reason),), note="resumes lstm-1h after 30 s clear"))
        assert app.main.resources.governor_text() == "governor paused lstm-1h (resumes lstm-1h after 30 s clear)"
    assert app.ui_errors == 0
