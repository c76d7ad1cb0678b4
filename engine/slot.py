"""ModelSlot: one model's lifecycle, timing and error isolation.

States: loading → running ⇄ paused; any → faulted; faulted → loading on
retry; → stopped. A slot never lets a model exception escape: the model is
faulted, its error is published, and the other slots keep running.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Callable, Iterator, Sequence

from engine.errors import NotReadyError
from engine.events import Event, ModelState, ModelStatus
from engine.models.protocol import (
    FeatureBatch,
    Feedback,
    History,
    Model,
    ModelContext,
    Progress,
)

Publish = Callable[[Event], None]

TRADER = "trader"
GOVERNOR = "governor"
"""Who paused a slot: the trader's pause always wins over the resource governor's."""


def _error_text(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


class ModelSlot:
    """Owns one model: warms it up, advances its fits chunk by chunk, times
    its predictions against the declared budget and catches its errors."""

    def __init__(self, model: Model, *, ctx: ModelContext, publish: Publish) -> None:
        self.model = model
        self.name = model.name
        self.family = str(model.family)
        self._ctx = ctx
        self._publish = publish
        self._lock = threading.RLock()
        self._state = ModelState.LOADING
        self._paused = False
        self._paused_by = ""
        self._pause_reason = ""
        self._warm = False
        self._fit: Iterator[Progress] | None = None
        self._fit_cycle = 0
        self._progress = ""
        self._detail = ""
        self._error = ""
        self.trained_at_cycle: int | None = None
        self.predictions = 0
        self.last_latency_ms: float | None = None
        self.mean_latency_ms: float | None = None
        self.latencies_ms: list[float] = []
        self._cycle = 0

    # -- state -------------------------------------------------------------
    @property
    def state(self) -> ModelState:
        return self._state

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def paused_by(self) -> str:
        """TRADER, GOVERNOR, or "" when not paused."""
        return self._paused_by

    @property
    def fitting(self) -> bool:
        return self._fit is not None

    @property
    def error(self) -> str:
        return self._error

    def _set(self, state: ModelState) -> None:
        self._state = state
        self.emit_status()

    def emit_status(self) -> None:
        budget = self.model.budget
        self._publish(
            ModelStatus(
                source=self.name,
                cycle=self._cycle,
                family=self.family,
                state=self._state,
                detail=self._detail,
                error=self._error,
                last_latency_ms=self.last_latency_ms,
                mean_latency_ms=self.mean_latency_ms,
                budget_latency_ms=budget.latency_ms,
                budget_ram_mb=budget.ram_mb,
                predictions=self.predictions,
                trained_at_cycle=self.trained_at_cycle,
                progress=self._progress,
                paused_by=self._paused_by,
                pause_reason=self._pause_reason,
            )
        )

    # -- commands ----------------------------------------------------------
    def pause(self, *, by: str = TRADER, reason: str = "") -> str | None:
        """Stop predicting and training; returns a reason if it cannot.

        The trader pausing a slot the governor paused takes the pause over:
        from then on only the trader resumes it.
        """
        with self._lock:
            if self._state in (ModelState.FAULTED, ModelState.STOPPED):
                return f"{self.name} is {self._state}; retry it first" if self._state == ModelState.FAULTED else f"{self.name} is stopped"
            if self._paused:
                if by == TRADER and self._paused_by == GOVERNOR:
                    self._paused_by, self._pause_reason = TRADER, ""
                    self.emit_status()
                    return None
                return f"{self.name} is already paused"
            self._paused = True
            self._paused_by, self._pause_reason = by, reason
            self._set(ModelState.PAUSED)
            return None

    def resume(self, *, by: str = TRADER) -> str | None:
        """Resume; the governor may only resume what it paused itself."""
        with self._lock:
            if not self._paused:
                return f"{self.name} is not paused"
            if by == GOVERNOR and self._paused_by != GOVERNOR:
                return f"{self.name} was paused by the {self._paused_by or 'trader'}; only the trader resumes it"
            self._paused = False
            self._paused_by, self._pause_reason = "", ""
            self._set(ModelState.RUNNING if self.model.ready else ModelState.LOADING)
            return None

    def retry(self, history: History) -> str | None:
        with self._lock:
            if self._state != ModelState.FAULTED:
                return f"{self.name} is {self._state}, not faulted"
            self._error = ""
            self._paused = False
            self._paused_by, self._pause_reason = "", ""
            self._warm = False
            self._state = ModelState.LOADING
            self.start_fit(history)
            return None

    def stop(self) -> None:
        with self._lock:
            self._fit = None  # the trainer drops a fit that is no longer current
            self._set(ModelState.STOPPED)

    # -- training ----------------------------------------------------------
    def start_fit(self, history: History) -> None:
        """Begin a (re)fit; it advances one chunk per `advance_fit()` call.

        A model that is not ready yet shows `loading`; a ready one keeps
        predicting with its previous weights until the new fit completes.
        """
        with self._lock:
            if self._state == ModelState.STOPPED:
                return
            self._fit = None
            self._fit_cycle = history.cycle
            self._progress = "fit queued"
            try:
                if not self._warm:
                    self.model.warmup(self._ctx)
                    self._warm = True
                self._fit = iter(self.model.fit(history))
            except Exception as exc:  # noqa: BLE001 - isolate the model
                self._fault(exc)
                return
            if self._paused:
                self.emit_status()
            elif not self.model.ready or self._state == ModelState.LOADING:
                self._set(ModelState.LOADING)
            else:
                self.emit_status()

    def advance_fit(self) -> bool:
        """Run one chunk of the active fit. Returns True while more remain."""
        with self._lock:
            fit = self._fit
            if fit is None or self._paused or self._state in (ModelState.FAULTED, ModelState.STOPPED):
                return False
        try:
            progress = next(fit)
        except StopIteration:
            with self._lock:
                if self._fit is fit:
                    self._fit = None
                    self.trained_at_cycle = self._fit_cycle
                    self._progress = ""
                    self._detail = self._describe()
                    if self._paused:
                        self.emit_status()
                    else:
                        self._set(ModelState.RUNNING)
            return False
        except Exception as exc:  # noqa: BLE001 - isolate the model
            with self._lock:
                if self._fit is fit:
                    self._fit = None
                    self._fault(exc)
            return False
        with self._lock:
            total = f"/{progress.total}" if progress.total else ""
            self._progress = f"fit {progress.done}{total} {progress.message}".strip()
            self.emit_status()
        return True

    def _describe(self) -> str:
        describe = getattr(self.model, "describe", None)
        return describe() if callable(describe) else ""

    # -- inference ---------------------------------------------------------
    def predict(self, batch: FeatureBatch) -> Sequence[Event]:
        """The model's events for this batch; [] when paused, loading or faulted."""
        with self._lock:
            self._cycle = batch.cycle
            if self._paused or self._state != ModelState.RUNNING:
                return ()
        t0 = time.perf_counter()
        try:
            events = tuple(self.model.predict(batch))
        except NotReadyError:
            return ()
        except Exception as exc:  # noqa: BLE001 - isolate the model
            with self._lock:
                self._fault(exc)
            return ()
        ms = (time.perf_counter() - t0) * 1000.0
        with self._lock:
            self.predictions += 1
            self.last_latency_ms = ms
            self.mean_latency_ms = ms if self.mean_latency_ms is None else 0.9 * self.mean_latency_ms + 0.1 * ms
            self.latencies_ms.append(ms)
            del self.latencies_ms[:-1000]
        return events

    def update(self, feedback: Feedback) -> None:
        """Bounded online learning; a model that raises here is faulted like in predict."""
        with self._lock:
            if self._paused or self._state != ModelState.RUNNING:
                return
        try:
            self.model.update(feedback)
        except Exception as exc:  # noqa: BLE001 - isolate the model
            with self._lock:
                self._fault(exc)

    def _fault(self, exc: BaseException) -> None:
        self._error = _error_text(exc)
        self._progress = ""
        self._fit = None
        self._set(ModelState.FAULTED)
