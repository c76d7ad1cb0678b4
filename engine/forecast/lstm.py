"""`LSTMForecaster`: the model family "forecast" behind the engine's Model protocol.

It forecasts the log return from each bar's close to the close 1, 2, 3 and 4
hours later (in bars of the data's timeframe: 2, 4, 6, 8 on 30-minute bars)
as three quantiles, q10/q50/q90, trained with the pinball loss: the median
is the point forecast and q10..q90 an 80 % band. Quantile outputs rather than
MC dropout because one deterministic forward pass yields the band (MC dropout
needs K passes — K× the latency of the 500-symbol batch — and only measures
the model's own uncertainty, not the return noise that dominates here).

The Signal: p(log return over `signal_hours` > cost) read off the predicted
distribution: a two-piece normal through the median and the band's ends
(σ below = (q50 − q10)/z₀.₉, σ above = (q90 − q50)/z₀.₉; its CDF passes
through all three predicted quantiles), evaluated at the cost.

predict() needs each symbol's last `window` input rows. The engine hands it
one feature row per bar, so the model keeps them in a `FeatureRing` seeded
from the fit's history; a FeatureBatch that carries `recent` (S, W, F) engine
feature rows ending at the bar is used directly instead.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from engine.data.panel import timeframe_seconds
from engine.errors import NotReadyError
from engine.events import Event, Signal
from engine.forecast.events import Forecast
from engine.forecast.params import ForecastParams, horizon_bars
from engine.forecast.training import HoldoutRow, holdout_score, holdout_windows, train_epochs
from engine.forecast.windows import INPUT_NAMES, FeatureRing, Normaliser, bar_volatility, input_rows, training_set
from engine.models.protocol import Budget, FeatureBatch, Feedback, Family, History, ModelContext, Progress

__all__ = ["FittedState", "ForecastParams", "LSTMForecaster", "horizon_bars", "prob_above"]


def prob_above(q: np.ndarray, levels: tuple[float, ...], threshold: float) -> np.ndarray:
    """p(x > threshold) under the two-piece normal through the median and the outer quantiles.

    `q` (..., Q) holds quantile values at `levels`; NaN rows give NaN.
    """
    from scipy.special import ndtr, ndtri

    mid = levels.index(0.5)
    lo, hi = q[..., 0], q[..., -1]
    median = q[..., mid]
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_lo = (median - lo) / -ndtri(levels[0])
        sigma_hi = (hi - median) / ndtri(levels[-1])
        sigma = np.where(threshold < median, sigma_lo, sigma_hi)
        z = (threshold - median) / np.maximum(sigma, 1e-12)
    return np.where(np.isfinite(median), 1.0 - ndtr(z), np.nan)


@dataclass(frozen=True, slots=True)
class FittedState:
    """Everything predict needs, swapped in as one object at the end of a fit."""

    net: Any
    normaliser: Normaliser
    timeframe: str
    horizons: tuple[int, ...]
    epochs_run: int
    best_epoch: int
    score: tuple[HoldoutRow, ...]


class LSTMForecaster:
    """Quantile LSTM forecasts of the next hours for the whole watchlist."""

    family = Family.FORECAST

    def __init__(self, name: str = "lstm", **params: Any) -> None:
        self.name = name
        self.params = ForecastParams.from_mapping(params)
        self.train_bars = self.params.train_bars
        # Measured (bench_forecast, 2-vCPU x86, 1 thread): 500 symbols 28 ms at 32×1, 0.58 s at 128×3;
        # the RAM is mostly `import torch` (~210 MB).
        self.budget = Budget(ram_mb=260.0, latency_ms=100.0, threads=1)
        self._seed = 7
        self._threads = 1
        self._note = ""
        self._lock = threading.Lock()
        self._fitted: FittedState | None = None
        self._ring: FeatureRing | None = None
        self._ring_symbols: tuple[str, ...] = ()

    # -- protocol surface ------------------------------------------------------
    def get_params(self) -> Mapping[str, Any]:
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v
                                      for k, v in asdict(self.params).items()}}

    @property
    def ready(self) -> bool:
        return self._fitted is not None

    @property
    def fitted(self) -> FittedState | None:
        """The network, normaliser and horizons of the last completed fit (None before)."""
        return self._fitted

    @property
    def horizon(self) -> int:
        """Bars of the signal horizon (0 before the first fit: the timeframe is unknown)."""
        fitted = self._fitted
        if fitted is None:
            return 0
        return fitted.horizons[self.params.hours.index(self.params.signal_hours)]

    def warmup(self, ctx: ModelContext) -> None:
        """Cap torch's threads; load `<checkpoint_dir>/<name>.pt` if it matches these params.

        A checkpoint that does not match or cannot be read is ignored (and
        said so in `describe()`): the fit that follows trains from scratch.
        """
        from engine.models._torch import torch_setup

        self._seed, self._threads = ctx.seed, ctx.threads
        torch_setup(ctx.threads)
        if self._fitted is None and ctx.checkpoint_dir:
            from engine.forecast.train import checkpoint_path, load_checkpoint

            path = checkpoint_path(ctx.checkpoint_dir, self.name)
            if path.exists():
                try:
                    state = load_checkpoint(path)
                    if state.get("params") == dict(self.get_params()):
                        self.load_state_dict(state)
                        self._note = f"loaded {path.name}"
                    else:
                        self._note = f"ignored {path.name}: trained with other parameters"
                except Exception as exc:  # noqa: BLE001 - a bad checkpoint must not stop the fit
                    self._note = f"ignored {path}: {type(exc).__name__}: {exc}"

    def fit(self, history: History) -> Iterator[Progress]:
        """From scratch: one Progress per epoch (at most `windows_per_epoch` windows each)."""
        from engine.forecast.model import NetShape, build_net
        from engine.models._torch import torch_setup

        torch_setup(self._threads)
        p = self.params
        horizons = horizon_bars(history.panel.timeframe, p.hours)
        data = training_set(history.features, history.names, history.panel.close, horizons=horizons,
                            length=p.window, train_bars=p.train_bars, holdout=p.holdout)
        n_train, n_val = len(data.train[0]), len(data.val[0])
        need = max(64, p.batch_size)
        if n_train < need:
            raise ValueError(f"only {n_train} complete training windows of {p.window} bars "
                             f"(history {history.panel.n_bars} bars × {history.panel.n_symbols} symbols); "
                             f"need ≥ {need}")
        yield Progress(done=0, total=p.epochs, message=f"{n_train} train / {n_val} val windows")

        shape = NetShape(inputs=len(INPUT_NAMES), hidden=p.hidden, layers=p.layers, dropout=p.dropout,
                         horizons=len(horizons), quantiles=p.quantiles)
        net = build_net(shape, self._seed)
        epochs_run, best_epoch = yield from train_epochs(net, data, p, self._seed)
        fitted = FittedState(net=net, normaliser=data.normaliser, timeframe=history.panel.timeframe,
                             horizons=horizons, epochs_run=epochs_run, best_epoch=best_epoch, score=())
        z, rvol, pairs = holdout_windows(data, p.window, self._seed)
        q = _quantiles(fitted, z, rvol) if len(rvol) else np.empty((0, len(horizons), len(p.quantiles)))
        fitted = dataclasses.replace(fitted, score=holdout_score(q, pairs, data, horizons, p.quantiles))
        with self._lock:
            self._fitted = fitted
            self._note = ""
            self._seed_ring(history)

    def predict(self, batch: FeatureBatch) -> Sequence[Event]:
        """One batched forward pass for the whole watchlist → (Forecast, Signal)."""
        fitted = self._fitted
        if fitted is None:
            raise NotReadyError(f"{self.name} has not been fitted")
        window, rvol, close = self._inputs(batch, fitted)
        s = len(batch.symbols)
        quantiles = np.full((s, len(fitted.horizons), len(self.params.quantiles)), np.nan)
        ok = np.isfinite(window).all(axis=(1, 2)) & np.isfinite(rvol)
        if ok.any():
            quantiles[ok] = self.forecast_windows(window[ok], rvol[ok], fitted)
        return self._events(batch, fitted, quantiles, close)

    def update(self, feedback: Feedback) -> None:
        """Nothing online: the scheduled walk-forward refit does the learning."""

    def describe(self) -> str:
        fitted = self._fitted
        if fitted is None:
            return self._note
        parts = [f"{self.params.hidden}×{self.params.layers} LSTM · epoch {fitted.best_epoch}/{fitted.epochs_run}"]
        for row, hours in zip(fitted.score, self.params.hours):
            parts.append(f"{hours:g}h MAE {row.mae * 1e4:.0f} vs {row.persistence_mae * 1e4:.0f}bp "
                         f"cover {row.coverage:.0%}")
        return " · ".join(parts + ([self._note] if self._note else []))

    # -- maths -----------------------------------------------------------------
    def forecast_windows(self, raw: np.ndarray, rvol: np.ndarray, fitted: FittedState | None = None) -> np.ndarray:
        """Quantiles of the log return (N, H, Q) for raw input windows (N, L, F) and rvol (N,)."""
        fitted = fitted or self._fitted
        if fitted is None:
            raise NotReadyError(f"{self.name} has not been fitted")
        return _quantiles(fitted, fitted.normaliser.apply(raw), rvol)

    def _inputs(self, batch: FeatureBatch, fitted: FittedState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw windows (S, L, F), rvol (S,), last close (S,)) for this bar."""
        length = self.params.window
        values = np.asarray(batch.values, dtype=np.float64)
        rows = input_rows(values, batch.names)
        rvol = bar_volatility(values, batch.names)
        close = getattr(batch, "close", None)
        recent = getattr(batch, "recent", None)
        with self._lock:
            ring = self._ring_for(batch.symbols, fitted)
            ring.push(batch.ts, rows, rvol, values[:, batch.names.index("ret_1")],
                      None if close is None else np.asarray(close, dtype=float))
            last_close = ring.close.copy()
            window = ring.window()
        if recent is not None and np.shape(recent)[1] >= length:
            window = input_rows(np.asarray(recent, dtype=np.float64)[:, -length:], batch.names)
        return window, rvol, last_close

    def _ring_for(self, symbols: tuple[str, ...], fitted: FittedState) -> FeatureRing:
        if self._ring is None or self._ring_symbols != symbols:
            step_ns = timeframe_seconds(fitted.timeframe) * 10**9
            self._ring, self._ring_symbols = FeatureRing(len(symbols), self.params.window, step_ns), symbols
        return self._ring

    def _seed_ring(self, history: History) -> None:
        """Start the ring from the fit's history unless predict already moved past it."""
        panel = history.panel
        if panel.n_bars == 0 or (self._ring is not None and self._ring_symbols == panel.symbols
                                 and self._ring.last_ts is not None and self._ring.last_ts >= panel.ts[-1]):
            return
        fitted = self._fitted
        assert fitted is not None
        tail = history.features[:, -self.params.window:]
        ring = self._ring_for(panel.symbols, fitted)
        ring.seed(input_rows(tail, history.names), int(panel.ts[-1]),
                  bar_volatility(tail[:, -1], history.names), panel.close[:, -1])

    def _events(self, batch: FeatureBatch, fitted: FittedState, q: np.ndarray, close: np.ndarray) -> tuple[Event, ...]:
        p = self.params
        levels = p.quantiles
        k = p.hours.index(p.signal_hours)
        cost = p.cost_bps / 1e4
        p_up = prob_above(q[:, k], levels, cost)
        step = timeframe_seconds(fitted.timeframe)
        as_rows = lambda a: tuple(map(tuple, np.asarray(a, dtype=float).tolist()))  # noqa: E731 - tolist: one C pass
        forecast = Forecast(
            source=self.name, cycle=batch.cycle, ts=batch.ts, symbols=batch.symbols, timeframe=fitted.timeframe,
            horizons=fitted.horizons, horizon_hours=tuple(h * step / 3600 for h in fitted.horizons),
            band=(levels[0], levels[-1]), point=as_rows(q[..., levels.index(0.5)]), lower=as_rows(q[..., 0]),
            upper=as_rows(q[..., -1]), last_close=tuple(np.asarray(close, dtype=float).tolist()),
            p_up=tuple(np.asarray(p_up, dtype=float).tolist()), signal_horizon=fitted.horizons[k], cost=cost)
        signal = Signal(source=self.name, cycle=batch.cycle, ts=batch.ts, family=str(self.family),
                        symbols=batch.symbols, values=forecast.p_up, horizon=fitted.horizons[k],
                        meaning=f"p(log return over {fitted.horizons[k]} bars > {p.cost_bps:g} bp) from q50 and "
                                f"the q{levels[0] * 100:g}–q{levels[-1] * 100:g} band")
        return forecast, signal

    # -- checkpoints -----------------------------------------------------------
    def state_dict(self) -> Mapping[str, Any]:
        fitted = self._fitted
        state: dict[str, Any] = {"params": dict(self.get_params()), "fitted": fitted is not None,
                                 "inputs": list(INPUT_NAMES)}
        if fitted is None:
            return state
        state.update(
            timeframe=fitted.timeframe, horizons=list(fitted.horizons), epochs_run=fitted.epochs_run,
            best_epoch=fitted.best_epoch, norm_mean=fitted.normaliser.mean.tolist(),
            norm_std=fitted.normaliser.std.tolist(), score=[asdict(r) for r in fitted.score],
            weights={k: v.detach().clone() for k, v in fitted.net.state_dict().items()},
        )
        import torch

        with self._lock:
            ring = self._ring
            if ring is not None and ring.last_ts is not None:  # lets a restart predict before `window` new bars
                state["ring"] = {"symbols": list(self._ring_symbols), "last_ts": ring.last_ts,
                                 **{k: torch.from_numpy(getattr(ring, k).copy()) for k in ("rows", "rvol", "close")}}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        from engine.forecast.model import NetShape, QuantileLSTM

        params = dict(state["params"])
        self.__init__(**params)  # type: ignore[misc]
        if not state.get("fitted"):
            return
        if list(state["inputs"]) != list(INPUT_NAMES):
            raise ValueError(f"checkpoint inputs {state['inputs']} differ from this version's {list(INPUT_NAMES)}")
        p = self.params
        horizons = tuple(int(h) for h in state["horizons"])
        net = QuantileLSTM(NetShape(inputs=len(INPUT_NAMES), hidden=p.hidden, layers=p.layers, dropout=p.dropout,
                                    horizons=len(horizons), quantiles=p.quantiles))
        net.load_state_dict(state["weights"])
        net.eval()
        normaliser = Normaliser(mean=np.asarray(state["norm_mean"], dtype=float),
                                std=np.asarray(state["norm_std"], dtype=float))
        self._fitted = FittedState(net=net, normaliser=normaliser, timeframe=str(state["timeframe"]), horizons=horizons,
                               epochs_run=int(state["epochs_run"]), best_epoch=int(state["best_epoch"]),
                               score=tuple(HoldoutRow(**r) for r in state.get("score", ())))
        ring_state = state.get("ring")
        if ring_state is not None:
            symbols = tuple(ring_state["symbols"])
            ring = self._ring_for(symbols, self._fitted)
            ring.seed(np.asarray(ring_state["rows"], dtype=float), int(ring_state["last_ts"]),
                      np.asarray(ring_state["rvol"], dtype=float), np.asarray(ring_state["close"], dtype=float))


# -- helpers ---------------------------------------------------------------------


def _quantiles(fitted: FittedState, z: np.ndarray, rvol: np.ndarray) -> np.ndarray:
    """One forward pass over standardised windows (N, L, F) → log-return quantiles (N, H, Q)."""
    import torch

    with torch.inference_mode():
        scaled = fitted.net(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))).numpy().astype(np.float64)
    return scaled * (rvol[:, None, None] * np.sqrt(np.asarray(fitted.horizons, dtype=float))[None, :, None])
