"""Walk-forward, out-of-sample: the LSTM's forecasts against persistence, EMA drift and LightGBM.

Folds come from `engine.evaluation.walk_forward_splits` on the bar axis
(purged by the longest horizon, embargoed). In each fold a fresh LSTM and
fresh baselines are fitted on the training span only, then every test bar
whose window is complete and whose outcome is known is forecast by all four
methods — the same rows for each. Metrics per horizon, pooled over folds
and symbols (log returns, bp = 1e-4):

- mae_bp: mean |actual − median forecast|
- direction: share of rows where the median's sign matches the actual's
  (persistence has no direction; its number is the always-up rate)
- coverage: share of actuals inside the q10..q90 band (nominal 0.80),
  coverage_error its distance from nominal, band_bp the band's mean width,
  pinball_loss_bp the mean quantile loss (a proper score of the whole
  forecast distribution: lower is better)

The signal row scores p(up over the signal horizon > cost) like every other
signal source: classification metrics against the fold's training base rate
and always-up, and a next-bar long/flat trading run against buy-and-hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np

from engine.data.panel import CandlePanel
from engine.errors import ConfigError, DataError
from engine.evaluation.metrics import base_rate, classification_metrics
from engine.evaluation.splits import walk_forward_splits
from engine.evaluation.trading import evaluate_signals
from engine.evaluation.walkforward import ModelReport
from engine.features import compute_features
from engine.forecast.baselines import BandedPoint, LightGBMQuantiles, drift_point, ema_of_returns, persistence_point
from engine.forecast.lstm import ForecastParams, LSTMForecaster, horizon_bars, prob_above
from engine.forecast.windows import bar_volatility, complete_windows, forward_log_returns, gather, input_rows
from engine.models.protocol import History, ModelContext

METHODS = ("lstm", "persistence", "ema_drift", "lightgbm")
EMA_SPAN = 24
LGBM_ROWS = 20_000

REPORT_PARAMS = {"epochs": 5, "windows_per_epoch": 8192}
"""The cockpit's model, fewer and smaller epochs so a report stays in minutes."""
TINY_PARAMS = {"hidden": 16, "layers": 1, "window": 24, "epochs": 2, "windows_per_epoch": 2048, "batch_size": 128}


@dataclass(frozen=True, slots=True)
class ForecastEvaluation:
    """Out-of-sample quantile forecasts of every method on the same (symbol, bar) rows."""

    horizons: tuple[int, ...]
    hours: tuple[float, ...]
    levels: tuple[float, ...]
    sym: np.ndarray  # (N,)
    bar: np.ndarray  # (N,)
    fold: np.ndarray  # (N,)
    actual: np.ndarray  # (N, H) log returns
    forecasts: Mapping[str, np.ndarray]  # method → (N, H, Q) log returns
    base_rates: np.ndarray  # (N,) training share of "up > cost" at the signal horizon, per row's fold
    folds: int
    notes: tuple[str, ...]


def evaluate_forecasts(panel: CandlePanel, params: ForecastParams, *, n_folds: int, train_bars: int | None,
                       embargo_bars: int, seed: int = 7, threads: int = 2,
                       test_bars: int | None = None, lgbm_estimators: int = 200) -> ForecastEvaluation:
    """Fit and forecast fold by fold (see the module docstring)."""
    block = compute_features(panel)
    horizons = horizon_bars(panel.timeframe, params.hours)
    k_sig = params.hours.index(params.signal_hours)
    cost = params.cost_bps / 1e4
    length = params.window
    splits = walk_forward_splits(panel.n_bars, n_folds=n_folds, test_bars=test_bars, train_bars=train_bars,
                                 horizon=max(horizons), embargo_bars=embargo_bars)
    raw = input_rows(block.values, block.names)
    rvol = bar_volatility(block.values, block.names)
    actual = forward_log_returns(panel.close, horizons)
    scale = rvol[..., None] * np.sqrt(np.asarray(horizons, dtype=float))
    drift = ema_of_returns(block.column("ret_1"), EMA_SPAN)
    usable = complete_windows(raw, length) & np.isfinite(actual).all(-1) & np.isfinite(drift) & np.isfinite(rvol)
    levels = params.quantiles
    ctx = ModelContext(checkpoint_dir="", seed=seed, threads=threads)

    rows: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    sym_all, bar_all, fold_all, base_all = [], [], [], []
    notes: list[str] = []
    for k, split in enumerate(splits):
        a0, a1 = int(split.train[0]), int(split.train[-1]) + 1
        te_s, j = np.nonzero(usable[:, split.test])
        te_t = split.test[j]
        tr_s, i = np.nonzero(usable[:, a0:a1])
        tr_t = i + a0
        if len(te_s) == 0 or len(tr_s) < 100:
            notes.append(f"fold {k} skipped: {len(tr_s)} training and {len(te_s)} test rows")
            continue
        model = LSTMForecaster("lstm", **_values(params))
        model.warmup(ctx)
        for _ in model.fit(History(panel=panel.slice(a0, a1), features=block.values[:, a0:a1], names=block.names)):
            pass
        rows["lstm"].append(model.forecast_windows(gather(raw, te_s, te_t, length), rvol[te_s, te_t]))

        y_tr, sc_tr, sc_te = actual[tr_s, tr_t], scale[tr_s, tr_t], scale[te_s, te_t]
        zero_tr, zero_te = persistence_point(len(tr_s), horizons), persistence_point(len(te_s), horizons)
        rows["persistence"].append(BandedPoint.fit(zero_tr, y_tr, sc_tr, levels).predict(zero_te, sc_te))
        d_tr, d_te = drift_point(drift[tr_s, tr_t], horizons), drift_point(drift[te_s, te_t], horizons)
        rows["ema_drift"].append(BandedPoint.fit(d_tr, y_tr, sc_tr, levels).predict(d_te, sc_te))
        thin = np.sort(np.random.default_rng([seed, k]).permutation(len(tr_s))[:LGBM_ROWS])
        lgbm = LightGBMQuantiles(levels, seed=seed, n_estimators=lgbm_estimators).fit(raw[tr_s[thin], tr_t[thin]],
                                                                         (y_tr / sc_tr)[thin])
        rows["lightgbm"].append(lgbm.predict(raw[te_s, te_t], sc_te))

        sym_all.append(te_s)
        bar_all.append(te_t)
        fold_all.append(np.full(len(te_s), k))
        base_all.append(np.full(len(te_s), base_rate(y_tr[:, k_sig] > cost)))
    if not sym_all:
        raise ValueError("no fold had rows to evaluate: " + "; ".join(notes))
    sym, bar = np.concatenate(sym_all), np.concatenate(bar_all)
    return ForecastEvaluation(
        horizons=horizons, hours=params.hours, levels=levels, sym=sym, bar=bar, fold=np.concatenate(fold_all),
        actual=actual[sym, bar], forecasts={m: np.concatenate(v) for m, v in rows.items()},
        base_rates=np.concatenate(base_all), folds=len(sym_all), notes=tuple(notes))


def forecast_metrics(q: np.ndarray, y: np.ndarray, levels: tuple[float, ...], *, has_direction: bool = True
                     ) -> dict[str, float | int | None]:
    """Metrics of one method at one horizon: q (N, Q) quantiles, y (N,) actual log returns."""
    med = q[:, levels.index(0.5)]
    lv = np.asarray(levels)
    err = y[:, None] - q
    pinball = np.maximum(lv * err, (lv - 1.0) * err).mean()
    moved = y != 0
    direction = (np.sign(med[moved]) == np.sign(y[moved])).mean() if has_direction else (y[moved] > 0).mean()
    coverage = float(np.mean((y >= q[:, 0]) & (y <= q[:, -1])))
    return {
        "mae_bp": float(np.mean(np.abs(y - med)) * 1e4),
        "direction": float(direction) if moved.any() else None,
        "coverage": coverage,
        "coverage_error": abs(coverage - (levels[-1] - levels[0])),
        "band_bp": float(np.mean(q[:, -1] - q[:, 0]) * 1e4),
        "pinball_loss_bp": float(pinball * 1e4),
        "n_test": int(len(y)),
    }


def forecast_reports(ev: ForecastEvaluation, name: str = "lstm") -> list[ModelReport]:
    """One ModelReport per horizon, the LSTM's metrics next to the three baselines'."""
    reports = []
    for k, (h, hours) in enumerate(zip(ev.horizons, ev.hours)):
        y = ev.actual[:, k]
        per = {m: forecast_metrics(ev.forecasts[m][:, k], y, ev.levels, has_direction=m != "persistence")
               for m in METHODS}
        metrics = {**per["lstm"], "coverage_nominal": round(ev.levels[-1] - ev.levels[0], 6), "horizon_bars": h,
                   "horizon_hours": hours, "n_folds": ev.folds}
        notes = (f"log return from a bar's close to {h} bars later; q{ev.levels[0] * 100:g}–q{ev.levels[-1] * 100:g} "
                 f"band; persistence 'direction' is the always-up rate",) + ev.notes
        reports.append(ModelReport(name=f"{name} {hours:g}h", family="forecast", metrics=metrics,
                                   baselines={m: per[m] for m in METHODS[1:]}, notes=notes))
    return reports


def signal_report(ev: ForecastEvaluation, panel: CandlePanel, params: ForecastParams, *, name: str = "lstm",
                  fee_bps: float, slippage_bps: float, threshold: float) -> ModelReport:
    """The Signal p(up > cost) at the signal horizon, scored like any other signal source."""
    k = ev.hours.index(params.signal_hours)
    cost = params.cost_bps / 1e4
    y = (ev.actual[:, k] > cost).astype(float)
    p = prob_above(ev.forecasts["lstm"][:, k], ev.levels, cost)
    model = classification_metrics(y, p).to_dict()
    majority = classification_metrics(y, ev.base_rates).to_dict()
    up = classification_metrics(y, np.ones_like(y)).to_dict()
    grid = np.full((panel.n_symbols, panel.n_bars), np.nan)
    grid[ev.sym, ev.bar] = (p > threshold).astype(float)
    trade = evaluate_signals(grid, panel, start=int(ev.bar.min()), stop=int(ev.bar.max()) + 1,
                             fee_bps=fee_bps, slippage_bps=slippage_bps)
    metrics = {**model, **trade.strategy.to_dict(), "horizon_bars": ev.horizons[k], "n_folds": ev.folds}
    return ModelReport(
        name=f"{name} signal", family="forecast", metrics=metrics,
        baselines={"majority": {key: majority[key] for key in ("hit_rate", "brier", "log_loss", "ece")},
                   "always_up": {key: up[key] for key in ("hit_rate", "brier")},
                   "buy_and_hold": trade.buy_and_hold.to_dict()},
        notes=(f"p(log return over {ev.horizons[k]} bars > {params.cost_bps:g} bp) from the two-piece normal "
               "through the predicted quantiles; rows without a complete window are flat",))


def forecast_provider(panel: CandlePanel, settings: Any) -> list[ModelReport]:
    """`cockpit report` provider: per-horizon forecast rows plus the signal row.

    `settings` is an `engine.report.ReportSettings` (n_folds, train_bars,
    embargo_bars, seed, tiny, fee/slippage, threshold; its cost_bps is used
    for the signal). The LSTM runs the cockpit's architecture with
    `REPORT_PARAMS` epochs, or `TINY_PARAMS` when settings.tiny.
    """
    params = ForecastParams.from_mapping({**(TINY_PARAMS if settings.tiny else REPORT_PARAMS),
                                          "cost_bps": settings.cost_bps})
    if settings.train_bars is not None:
        params = replace(params, train_bars=settings.train_bars)
    try:
        ev = evaluate_forecasts(panel, params, n_folds=settings.n_folds, train_bars=settings.train_bars,
                                embargo_bars=settings.embargo_bars, seed=settings.seed, threads=_threads(),
                                lgbm_estimators=50 if settings.tiny else 200)
        return [*forecast_reports(ev), signal_report(ev, panel, params, fee_bps=settings.fee_bps,
                                                     slippage_bps=settings.slippage_bps,
                                                     threshold=settings.threshold)]
    except (DataError, ConfigError):
        raise  # too little data or a bad setting is the whole report's problem
    except Exception as exc:  # noqa: BLE001 - a failed family is its row, not the report's
        return [ModelReport.failed("lstm", "forecast", exc)]


def _values(params: ForecastParams) -> dict[str, Any]:
    return {k: getattr(params, k) for k in params.__dataclass_fields__}


def _threads() -> int:
    import os

    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "2")))
    except ValueError:
        return 2
