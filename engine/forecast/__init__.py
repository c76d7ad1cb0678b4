"""The forecast family: an LSTM that forecasts log returns 1–4 hours ahead with a band.

Modules (torch is imported only by `model`, and only when a fit or predict needs it):
- `windows`   model inputs from the engine's features, lookahead-free normalisation
- `model`     the nn.Module (quantile LSTM) and its pinball loss
- `lstm`      `LSTMForecaster`, the Model-protocol family "forecast"
- `events`    the `Forecast` event (torch-free, the app imports it)
- `baselines` persistence, EMA drift and LightGBM quantile regressors
- `evaluate`  walk-forward metrics against the baselines (`forecast_provider`)
- `bench_forecast` fp32 vs int8 latency, size and forecast difference
- `train`     `train_forecast` for `cockpit train forecast`
"""
