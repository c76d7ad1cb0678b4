"""The forecaster behind the Model protocol: reproducible, learns a planted signal, round-trips, batches."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engine.errors import ConfigError, NotReadyError
from engine.events import Signal
from engine.forecast.events import Forecast
from engine.forecast.lstm import LSTMForecaster, prob_above
from engine.forecast.train import checkpoint_path, load_checkpoint, save_checkpoint
from engine.forecast.windows import bar_volatility, forward_log_returns, gather, input_rows
from engine.models.protocol import FeatureBatch, Model, ModelContext, Progress
from tests.forecast.helpers import TINY, batch_at, history, noise_panel, planted_panel

CTX = ModelContext(checkpoint_dir="", seed=3, threads=1)


def fitted(panel, ctx: ModelContext = CTX, **params) -> tuple[LSTMForecaster, list[Progress]]:
    model = LSTMForecaster("lstm", **{**TINY, **params})
    model.warmup(ctx)
    progress = list(model.fit(history(panel)))
    return model, progress


@pytest.fixture(scope="module")
def noise_model() -> LSTMForecaster:
    return fitted(noise_panel(), epochs=2)[0]


def weights(model: LSTMForecaster) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.fitted.net.state_dict().items()}


def test_is_a_model_and_not_ready_before_a_fit():
    model = LSTMForecaster("lstm", **TINY)
    assert isinstance(model, Model)
    assert str(model.family) == "forecast" and not model.ready
    panel = noise_panel()
    with pytest.raises(NotReadyError):
        model.predict(batch_at(panel, panel.n_bars - 1))


def test_fit_yields_progress_per_epoch_and_the_same_seed_reproduces_the_weights():
    panel = noise_panel()
    a, progress = fitted(panel, epochs=2)
    b, _ = fitted(panel, epochs=2)
    c, _ = fitted(panel, dataclasses.replace(CTX, seed=4), epochs=2)
    assert [p.done for p in progress] == [0, 1, 2] and all(p.total == 2 for p in progress)
    assert dict(progress[-1].metrics).keys() == {"train_loss", "val_loss"}
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert not all(np.array_equal(wa[k], wc[k]) for k in wa)


def test_learns_a_planted_signal_well_below_persistence():
    model, _ = fitted(planted_panel(seed=0), epochs=8, lr=0.01, windows_per_epoch=2048)
    fresh = planted_panel(n_symbols=3, n_bars=400, seed=11)  # same kind of market, unseen bars
    block = history(fresh)
    raw = input_rows(block.features, block.names)
    rvol = bar_volatility(block.features, block.names)
    horizons = model.fitted.horizons
    assert horizons == (1, 2, 3, 4)  # 1..4 hours of 1h bars
    actual = forward_log_returns(fresh.close, horizons)
    sym, end = np.meshgrid(np.arange(3), np.arange(100, 390), indexing="ij")
    sym, end = sym.ravel(), end.ravel()
    q = model.forecast_windows(gather(raw, sym, end, TINY["window"]), rvol[sym, end])
    median = q[:, :, 1]
    y = actual[sym, end]
    mae, persistence = np.abs(y - median).mean(axis=0), np.abs(y).mean(axis=0)
    assert (mae < 0.5 * persistence).all(), (mae, persistence)


def test_predict_handles_a_batch_with_missing_rows(noise_model):
    panel = noise_panel()
    batch = batch_at(panel, panel.n_bars - 1, cycle=9)
    values = batch.values.copy()
    values[1] = np.nan  # symbol 1 has no bar now
    batch = dataclasses.replace(batch, values=values, valid=np.isfinite(values).all(axis=1))
    forecast, signal = noise_model.predict(batch)
    assert isinstance(forecast, Forecast) and isinstance(signal, Signal)
    assert forecast.coalesce_key == "forecast:lstm" and signal.family == "forecast"
    assert forecast.symbols == signal.symbols == panel.symbols and forecast.cycle == signal.cycle == 9
    assert all(math.isnan(v) for v in forecast.point[1] + forecast.lower[1] + forecast.upper[1])
    assert math.isnan(signal.values[1])
    for i in (0, 2):
        assert all(lo <= mid <= hi for lo, mid, hi in zip(forecast.lower[i], forecast.point[i], forecast.upper[i]))
        assert 0.0 < signal.values[i] < 1.0
        assert forecast.last_close[i] == pytest.approx(panel.close[i, -1])
    assert signal.values == forecast.p_up and signal.horizon == forecast.signal_horizon == 2  # 2h of 1h bars


def test_live_ring_gives_the_same_forecasts_as_windows_from_the_full_history():
    panel = noise_panel(n_bars=700)
    model, _ = fitted(panel.slice(0, 650), epochs=1)
    for cycle, t in enumerate(range(650, 700), start=1):
        forecast, _ = model.predict(batch_at(panel, t, cycle=cycle))
    block = history(panel)
    raw = input_rows(block.features, block.names)
    rvol = bar_volatility(block.features, block.names)
    n = panel.n_symbols
    direct = model.forecast_windows(gather(raw, np.arange(n), np.full(n, 699), TINY["window"]), rvol[:, 699])
    np.testing.assert_allclose(np.array(forecast.point), direct[:, :, 1], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(forecast.last_close, panel.close[:, 699], rtol=1e-9)


def test_a_missed_bar_leaves_the_symbols_unscored_until_it_scrolls_out(noise_model):
    panel = noise_panel(n_bars=700)
    model, _ = fitted(panel.slice(0, 650), epochs=1)
    forecast, _ = model.predict(batch_at(panel, 651))  # bar 650 never reached predict
    assert all(math.isnan(v) for row in forecast.point for v in row)
    for t in range(652, 652 + TINY["window"]):
        forecast, _ = model.predict(batch_at(panel, t))
    assert all(math.isfinite(v) for row in forecast.point for v in row)


def test_checkpoint_round_trip(tmp_path, noise_model):
    panel = noise_panel()
    batch = batch_at(panel, panel.n_bars - 1)
    path = save_checkpoint(noise_model, checkpoint_path(tmp_path, "lstm"))
    state = load_checkpoint(path)
    assert state["params"] == dict(noise_model.get_params())
    assert len(state["norm_mean"]) == len(state["norm_std"]) == 10 and "ring" in state
    clone = LSTMForecaster("other")
    clone.load_state_dict(state)
    assert clone.name == "lstm" and clone.get_params() == noise_model.get_params()
    assert all(np.array_equal(a, b) for a, b in zip(weights(clone).values(), weights(noise_model).values()))
    (f1, s1), (f2, s2) = noise_model.predict(batch), clone.predict(batch)
    assert f1.point == f2.point and f1.lower == f2.lower and s1.values == s2.values


def test_warmup_loads_a_matching_checkpoint_and_ignores_another(tmp_path, noise_model):
    save_checkpoint(noise_model, checkpoint_path(tmp_path, "lstm"))
    ctx = ModelContext(checkpoint_dir=str(tmp_path), seed=3, threads=1)
    same = LSTMForecaster("lstm", **{k: v for k, v in noise_model.get_params().items() if k != "name"})
    same.warmup(ctx)
    assert same.ready and "loaded lstm.pt" in same.describe()
    other = LSTMForecaster("lstm", **{**TINY, "hidden": 8})
    other.warmup(ctx)
    assert not other.ready and "other parameters" in other.describe()


def test_unknown_parameter_says_did_you_mean():
    with pytest.raises(ConfigError, match="did you mean 'hidden'"):
        LSTMForecaster("lstm", hiden=64)
    with pytest.raises(ConfigError, match="signal_hours"):
        LSTMForecaster("lstm", signal_hours=5)


def test_probability_above_cost_from_the_quantiles():
    levels = (0.1, 0.5, 0.9)
    z90 = 1.2815515655446004
    q = np.array([[-z90, 0.0, z90], [-1.0, 0.5, 0.6], [np.nan, np.nan, np.nan]])
    p = prob_above(q, levels, 0.0)
    assert p[0] == pytest.approx(0.5)
    assert p[1] > 0.5
    assert math.isnan(p[2])
    assert prob_above(q[:1], levels, z90)[0] == pytest.approx(0.1)  # the band's top end
    assert prob_above(q[:1], levels, -z90)[0] == pytest.approx(0.9)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchWithRecent(FeatureBatch):
    recent: np.ndarray  # (S, W, F) engine feature rows ending at this bar


def test_a_batch_carrying_recent_rows_needs_no_ring():
    panel = noise_panel(n_bars=700)
    model, _ = fitted(panel.slice(0, 650), epochs=1)
    block = history(panel)
    base = batch_at(panel, 690)  # bars 650..689 never reached predict: the ring alone could not score
    batch = BatchWithRecent(**{f.name: getattr(base, f.name) for f in dataclasses.fields(FeatureBatch)},
                            recent=block.features[:, 691 - 30:691])
    forecast, _ = model.predict(batch)
    raw = input_rows(block.features, block.names)
    rvol = bar_volatility(block.features, block.names)
    n = panel.n_symbols
    direct = model.forecast_windows(gather(raw, np.arange(n), np.full(n, 690), TINY["window"]), rvol[:, 690])
    np.testing.assert_allclose(np.array(forecast.point), direct[:, :, 1], rtol=1e-5, atol=1e-9)
