"""Walk-forward report rows, the engine driving the model, and the bench rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config import Config
from engine.data.replay import ReplayFeed
from engine.evaluation.walkforward import ModelReport
from engine.forecast.baselines import BandedPoint, ema_of_returns
from engine.forecast.bench_forecast import bench_forecast
from engine.forecast.evaluate import METHODS, evaluate_forecasts, forecast_metrics, forecast_provider
from engine.forecast.events import Forecast
from engine.forecast.lstm import ForecastParams, LSTMForecaster
from engine.forecast.train import train_forecast
from engine.report import ReportSettings
from engine.runtime import Engine
from tests.forecast.helpers import TINY, noise_panel, planted_panel

SMALL = {**TINY, "epochs": 1, "windows_per_epoch": 512}


def test_ema_of_returns_is_causal_and_holds_over_gaps():
    r = np.array([[0.01, 0.0, np.nan, 0.02]])
    ema = ema_of_returns(r, 3)  # alpha 0.5
    np.testing.assert_allclose(ema[0, [0, 1, 3]], [0.01, 0.005, 0.0125])
    assert math.isnan(ema[0, 2])


def test_band_is_fitted_on_training_residuals():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, (10_000, 2))
    band = BandedPoint.fit(np.zeros_like(y), y, np.ones_like(y), (0.1, 0.5, 0.9))
    q = band.predict(np.full((1, 2), 5.0), np.full((1, 2), 2.0))
    np.testing.assert_allclose(q[0, :, 1], 5.0)
    np.testing.assert_allclose(q[0, :, 2] - 5.0, 2 * 1.2816, rtol=0.05)


def test_metrics_of_a_perfect_and_a_zero_forecast():
    y = np.array([0.01, -0.02, 0.03, -0.01])
    perfect = np.stack([y - 0.001, y, y + 0.001], axis=1)
    m = forecast_metrics(perfect, y, (0.1, 0.5, 0.9))
    assert m["mae_bp"] == 0 and m["direction"] == 1.0 and m["coverage"] == 1.0 and m["band_bp"] == pytest.approx(20)
    assert m["coverage_error"] == pytest.approx(0.2) and m["pinball_loss_bp"] == pytest.approx(1.0 * 0.1 * 2 / 3 * 10)
    zero = forecast_metrics(np.zeros((4, 3)), y, (0.1, 0.5, 0.9), has_direction=False)
    assert zero["mae_bp"] == pytest.approx(175) and zero["direction"] == 0.5 and zero["coverage"] == 0.0


def test_walk_forward_rows_per_horizon_with_three_baselines():
    panel = planted_panel(n_symbols=3, n_bars=900)
    params = ForecastParams.from_mapping({**SMALL, "epochs": 4, "lr": 0.01, "windows_per_epoch": 1024})
    ev = evaluate_forecasts(panel, params, n_folds=2, train_bars=500, embargo_bars=4, seed=1, threads=1,
                            lgbm_estimators=20)
    assert ev.folds == 2 and set(ev.forecasts) == set(METHODS)
    assert all(q.shape == (len(ev.sym), 4, 3) for q in ev.forecasts.values())
    assert ev.bar.min() >= 900 - 2 * ((900 - 500 - 4 - 4) // 2)  # only test spans are scored
    lstm = forecast_metrics(ev.forecasts["lstm"][:, 0], ev.actual[:, 0], ev.levels)
    persistence = forecast_metrics(ev.forecasts["persistence"][:, 0], ev.actual[:, 0], ev.levels, has_direction=False)
    assert lstm["mae_bp"] < persistence["mae_bp"]  # the planted signal is learnable out of sample


def test_report_provider_gives_a_row_per_horizon_and_a_signal_row(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the provider's thread cap; tiny nets gain nothing from more
    panel = noise_panel(n_symbols=2, n_bars=700)
    rows = forecast_provider(panel, ReportSettings(tiny=True, n_folds=2, train_bars=400, embargo_bars=2))
    assert all(isinstance(r, ModelReport) and r.error is None for r in rows), [r.error for r in rows]
    assert [r.name for r in rows] == ["lstm 1h", "lstm 2h", "lstm 3h", "lstm 4h", "lstm signal"]
    for row in rows[:4]:
        d = row.to_dict()
        assert d["family"] == "forecast" and set(d["baselines"]) == {"persistence", "ema_drift", "lightgbm"}
        for metrics in (d["metrics"], *d["baselines"].values()):
            assert {"mae_bp", "direction", "coverage", "coverage_error", "band_bp", "pinball_loss_bp",
                    "n_test"} <= set(metrics)
            assert metrics["n_test"] > 0
    signal = rows[-1].to_dict()
    assert {"hit_rate", "brier", "auc", "sharpe"} <= set(signal["metrics"])
    assert set(signal["baselines"]) == {"majority", "always_up", "buy_and_hold"}


def test_engine_runs_the_forecaster_and_publishes_forecasts(tmp_path):
    panel = noise_panel(n_symbols=3, n_bars=700)
    feed = ReplayFeed(panel, start=650, speed=0.0)
    model = LSTMForecaster("lstm", **SMALL)
    engine = Engine(Config(), feed=feed, models=[model])
    events = []
    engine.subscribe(events.append)
    engine.run_bars(5)
    engine.stop()
    forecasts = [e for e in events if isinstance(e, Forecast)]
    assert len(forecasts) == 5 and forecasts[-1].cycle == 5
    assert all(math.isfinite(v) for row in forecasts[-1].point for v in row)


def test_train_forecast_writes_a_checkpoint_that_warmup_loads(tmp_path):
    lines = []
    result = train_forecast(noise_panel(), SMALL, checkpoint_dir=tmp_path, seed=3, threads=1, log=lines.append)
    assert result.path.exists() and result.epochs == 1
    assert any("epoch 1" in line for line in lines)


def test_bench_rows_compare_fp32_and_int8():
    rows = bench_forecast(symbols=12, params={**SMALL, "hidden": 16}, repeats=2)
    by_name = {r.name: r for r in rows}
    assert set(by_name) == {"forecast.lstm.fp32", "forecast.lstm.int8", "forecast.predict.fp32"}
    assert all(r.family == "forecast" and r.symbols == 12 and r.seconds > 0 for r in rows)
    fp32, int8 = by_name["forecast.lstm.fp32"].extra, by_name["forecast.lstm.int8"].extra
    assert int8["state_bytes"] < fp32["state_bytes"]
    assert 0 < int8["max_abs_diff_bp"] < 100 and int8["mean_abs_diff_bp"] <= int8["max_abs_diff_bp"]
    assert fp32["finite_outputs"] == int8["finite_outputs"] == 12
