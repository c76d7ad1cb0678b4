"""Features: each against a plain reference, the NaN policy, no lookahead, batch == incremental."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.panel import Bar, CandlePanel
from engine.errors import ConfigError, DataError
from engine.features import (
    FEATURE_NAMES,
    FeatureBlock,
    FeatureSpec,
    IncrementalFeatures,
    compute_features,
    forward_return,
)
import engine.features.batch as batch_module

SPEC = FeatureSpec()
NS_30M = 1800 * 10**9
RTOL, ATOL = 1e-9, 1e-12


def ohlcv(rng: np.random.Generator, s: int, t: int) -> dict[str, np.ndarray]:
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (s, t)), axis=1))
    open_ = close * np.exp(rng.normal(0, 0.004, (s, t)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.003, (s, t))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.003, (s, t))))
    volume = rng.lognormal(4, 1, (s, t))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def make_panel(fields: dict[str, np.ndarray], missing: np.ndarray | None = None) -> CandlePanel:
    s, t = fields["close"].shape
    data = {k: v.copy() for k, v in fields.items()}
    if missing is not None:
        for v in data.values():
            v[missing] = np.nan
    return CandlePanel(symbols=tuple(f"S{i}/USDT" for i in range(s)), timeframe="30m",
                       ts=np.arange(t, dtype=np.int64) * NS_30M, **data)


def missing_mask(s: int, t: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.random((s, t)) < 0.02
    m[0, 100:200] = False
    m[0, 150] = True  # symbol 0's only missing bar in 100..199 (see the missing-bar tests)
    if s > 1:
        m[1, 90:95] = True  # a run of missing bars
    if s > 2:
        m[2, :30] = True  # a symbol that starts late
    return m


@pytest.fixture(scope="module")
def panel() -> CandlePanel:
    rng = np.random.default_rng(1)
    return make_panel(ohlcv(rng, 3, 320), missing_mask(3, 320))


@pytest.fixture(scope="module")
def block(panel: CandlePanel) -> FeatureBlock:
    return compute_features(panel)


# --- plain references, one symbol at a time -----------------------------------------------------


def _scatter(valid: np.ndarray, compact: np.ndarray) -> np.ndarray:
    out = np.full(valid.shape, np.nan)
    out[valid] = compact
    return out


def _wilder(x: list[float], n: int) -> list[float]:
    """TA-Lib style: inputs from the 2nd present bar; seed = mean of the first n; then Wilder."""
    out = [np.nan] * len(x)
    avg = np.nan
    for k in range(1, len(x)):
        if k < n:
            continue
        if k == n:
            avg = sum(x[1:n + 1]) / n
        else:
            avg = (avg * (n - 1) + x[k]) / n
        out[k] = avg
    return out


def reference(p: CandlePanel, i: int) -> dict[str, np.ndarray]:
    o, h, l, c, v = (getattr(p, f)[i] for f in ("open", "high", "low", "close", "volume"))
    valid = np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c) & np.isfinite(v)
    cs, hs, ls, vs = pd.Series(c), pd.Series(h), pd.Series(l), pd.Series(v)
    ref: dict[str, np.ndarray] = {}
    for k in SPEC.return_horizons:
        any_missing = pd.Series(~valid).rolling(k + 1).sum() > 0
        ref[f"ret_{k}"] = np.where(any_missing, np.nan, np.log(cs / cs.shift(k)))

    cv = pd.Series(c[valid])  # recursive indicators run over the present bars only
    ema = {s: cv.ewm(span=s, adjust=False, min_periods=s).mean() for s in (12, 26, 50)}
    for s in SPEC.ema_spans:
        ref[f"ema_dist_{s}"] = c / _scatter(valid, ema[s].to_numpy()) - 1

    change = cv.diff().to_numpy()
    gain = list(np.maximum(change, 0))
    loss = list(np.maximum(-change, 0))
    ag, al = np.array(_wilder(gain, 14)), np.array(_wilder(loss, 14))
    ref["rsi_14"] = _scatter(valid, 100 - 100 / (1 + ag / al))

    line = ema[12] - ema[26]
    signal = line.ewm(span=9, adjust=False, min_periods=9).mean()
    ref["macd"] = _scatter(valid, line.to_numpy()) / c
    ref["macd_signal"] = _scatter(valid, signal.to_numpy()) / c
    ref["macd_hist"] = _scatter(valid, (line - signal).to_numpy()) / c

    mid = cs.rolling(20).mean()
    sd = cs.rolling(20).std(ddof=0)
    ref["bb_pos_20"] = ((cs - mid) / (2 * sd)).to_numpy()
    ref["bb_width_20"] = (4 * sd / mid).to_numpy()

    hv, lv, pc = h[valid], l[valid], np.r_[np.nan, c[valid][:-1]]
    tr = [max(a - b, abs(a - q), abs(b - q)) for a, b, q in zip(hv, lv, pc)]
    ref["atr_14"] = _scatter(valid, np.array(_wilder(tr, 14))) / c

    tp = (hs + ls + cs) / 3
    vwap = (tp * vs).rolling(48).sum() / vs.rolling(48).sum()
    ref["vwap_dist_48"] = (cs / vwap - 1).to_numpy()
    logv = np.log1p(vs)
    ref["volume_z_48"] = ((logv - logv.rolling(48).mean()) / logv.rolling(48).std(ddof=0)).to_numpy()
    r = np.log(cs).diff()
    ref["rvol_24"] = np.sqrt((r**2).rolling(24).mean()).to_numpy()
    ref["hl_range"] = (h - l) / c
    return {k: np.where(valid, np.asarray(val, dtype=float), np.nan) for k, val in ref.items()}


# --- names, spec, shapes -------------------------------------------------------------------------


def test_names_shapes_and_dtype(panel: CandlePanel, block: FeatureBlock) -> None:
    assert block.names == FEATURE_NAMES == SPEC.names()
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == 18
    assert block.values.shape == (3, 320, len(FEATURE_NAMES))
    assert block.values.dtype == np.float64
    assert not block.values.flags.writeable
    assert block.symbols == panel.symbols
    np.testing.assert_array_equal(block.ts, panel.ts)
    np.testing.assert_array_equal(block.column("rsi_14"), block.values[:, :, FEATURE_NAMES.index("rsi_14")])
    assert block.at(5).shape == (3, len(FEATURE_NAMES))
    with pytest.raises(KeyError, match="rsi_14"):
        block.column("rsi")


def test_spec_params_round_trip_and_validation() -> None:
    spec = FeatureSpec(return_horizons=(1, 2), bb_window=10)
    params = spec.get_params()
    assert params["return_horizons"] == [1, 2] and params["bb_window"] == 10
    assert FeatureSpec.from_params(params) == spec
    assert spec.names()[:2] == ("ret_1", "ret_2")
    with pytest.raises(ConfigError, match="macd_fast"):
        FeatureSpec(macd_fast=30)
    with pytest.raises(ConfigError, match="rsi_period"):
        FeatureSpec(rsi_period=0)
    with pytest.raises(ConfigError, match="ema_spans"):
        FeatureSpec(ema_spans=())
    with pytest.raises(ConfigError, match="did_you"):
        FeatureSpec.from_params({"did_you": 1})


def test_custom_spec_shapes(panel: CandlePanel) -> None:
    spec = FeatureSpec(return_horizons=(2,), ema_spans=(5,), bb_window=7, vwap_window=5, volume_window=6)
    b = compute_features(panel, spec)
    assert b.values.shape == (3, 320, len(spec.names()))
    inc = IncrementalFeatures(panel.symbols, spec)
    rows = np.stack([inc.update(panel.bar(i)) for i in range(panel.n_bars)], axis=1)
    np.testing.assert_allclose(rows, b.values, rtol=RTOL, atol=ATOL)


# --- each feature against its reference ------------------------------------------------------------


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_feature_matches_reference(panel: CandlePanel, block: FeatureBlock, name: str) -> None:
    for i in range(panel.n_symbols):
        expected = reference(panel, i)[name]
        got = block.column(name)[i]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{name}, symbol {i}: NaN pattern")
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11, err_msg=f"{name}, symbol {i}")
        assert np.isfinite(got).sum() > 40, f"{name} is almost never defined"


# --- missing bars --------------------------------------------------------------------------------


def test_missing_bar_is_nan_everywhere(panel: CandlePanel, block: FeatureBlock) -> None:
    missing = ~np.isfinite(panel.close)
    assert missing.any()
    assert np.isnan(block.values[missing]).all()


WINDOW_BARS = {  # bars each window feature covers, the current one included
    "ret_1": 2, "ret_3": 4, "ret_12": 13, "ret_48": 49, "bb_pos_20": 20, "bb_width_20": 20,
    "vwap_dist_48": 48, "volume_z_48": 48, "rvol_24": 25,
}
RECURSIVE = ("ema_dist_12", "ema_dist_26", "ema_dist_50", "rsi_14", "macd", "macd_signal", "macd_hist", "atr_14")


def test_window_features_are_nan_while_the_window_holds_a_missing_bar(block: FeatureBlock) -> None:
    m = 150  # symbol 0's only missing bar between 100 and 200
    for name, width in WINDOW_BARS.items():
        col = block.column(name)[0]
        assert np.isnan(col[m:m + width]).all(), name
        assert np.isfinite(col[m + width]), name
        assert np.isfinite(col[m - 1]), name


def test_recursive_state_is_held_across_a_missing_bar(panel: CandlePanel, block: FeatureBlock) -> None:
    # Deleting the missing bar (closing the gap) must not change any recursive feature.
    m = 150
    keep = np.ones(panel.n_bars, bool)
    keep[m] = False
    one = panel.select((panel.symbols[0],))
    closed = CandlePanel(symbols=one.symbols, timeframe="30m", ts=one.ts[keep],
                         **{f: getattr(one, f)[:, keep] for f in ("open", "high", "low", "close", "volume")})
    gapless = compute_features(closed)
    for name in RECURSIVE:
        with_gap = block.column(name)[0]
        np.testing.assert_array_equal(np.delete(with_gap, m), gapless.column(name)[0], err_msg=name)
        assert np.isnan(with_gap[m]) and np.isfinite(with_gap[m + 1]), name


def test_symbol_that_starts_late_warms_up_on_its_own_bars(block: FeatureBlock) -> None:
    ema50 = block.column("ema_dist_50")[2]
    first = int(np.flatnonzero(np.isfinite(ema50))[0])
    # symbol 2 starts at bar 30; its 50th present bar is at or after 79 (more if bars are missing)
    assert first >= 79


def test_bad_prices_count_as_missing(panel: CandlePanel) -> None:
    fields = {f: np.array(getattr(panel, f)) for f in ("open", "high", "low", "close", "volume")}
    fields["close"][1, 200] = 0.0
    fields["volume"][1, 201] = -1.0
    b = compute_features(make_panel(fields))
    assert np.isnan(b.values[1, 200]).all() and np.isnan(b.values[1, 201]).all()


def test_flat_windows_are_zero_not_noise() -> None:
    rng = np.random.default_rng(3)
    fields = ohlcv(rng, 2, 200)
    for f in ("open", "high", "low", "close"):
        fields[f][0, 100:160] = 0.1  # a flat price, not exactly representable
    fields["volume"][0, 100:160] = 0.0
    p = make_panel(fields)
    b = compute_features(p)
    sl = slice(150, 160)
    np.testing.assert_array_equal(b.column("bb_pos_20")[0, sl], 0.0)
    np.testing.assert_allclose(b.column("bb_width_20")[0, sl], 0.0, atol=1e-14)
    np.testing.assert_array_equal(b.column("volume_z_48")[0, sl], 0.0)
    np.testing.assert_allclose(b.column("vwap_dist_48")[0, sl], 0.0, atol=1e-14)  # falls back to mean typical
    inc = IncrementalFeatures(p.symbols)
    rows = np.stack([inc.update(p.bar(i)) for i in range(p.n_bars)], axis=1)
    np.testing.assert_allclose(rows, b.values, rtol=RTOL, atol=ATOL)


# --- no lookahead --------------------------------------------------------------------------------


def _with_new_future(p: CandlePanel, t: int, seed: int) -> CandlePanel:
    fresh = ohlcv(np.random.default_rng(seed), p.n_symbols, p.n_bars)
    fields = {}
    for f in ("open", "high", "low", "close", "volume"):
        a = np.array(getattr(p, f))
        a[:, t + 1:] = fresh[f][:, t + 1:] * (3.0 if f != "volume" else 0.1)
        fields[f] = a
    return make_panel(fields)


@pytest.mark.parametrize("t", [0, 10, 49, 151, 237, 318])
def test_no_lookahead_batch(panel: CandlePanel, block: FeatureBlock, t: int) -> None:
    other = compute_features(_with_new_future(panel, t, seed=t + 100))
    np.testing.assert_array_equal(other.values[:, :t + 1], block.values[:, :t + 1])
    assert not np.array_equal(other.values[:, t + 1:], block.values[:, t + 1:], equal_nan=True)


@pytest.mark.parametrize("t", [60, 200])
def test_no_lookahead_incremental(panel: CandlePanel, block: FeatureBlock, t: int) -> None:
    other = _with_new_future(panel, t, seed=t)
    inc = IncrementalFeatures.from_history(other.slice(0, t - 40), SPEC)
    rows = np.stack([inc.update(other.bar(i)) for i in range(t - 40, t + 1)], axis=1)
    np.testing.assert_allclose(rows, block.values[:, t - 40:t + 1], rtol=RTOL, atol=ATOL)


# --- incremental == batch ------------------------------------------------------------------------


def test_incremental_from_scratch_equals_batch(panel: CandlePanel, block: FeatureBlock) -> None:
    inc = IncrementalFeatures(panel.symbols)
    assert inc.names == block.names
    rows = np.stack([inc.update(panel.bar(i)) for i in range(panel.n_bars)], axis=1)
    assert rows.shape == block.values.shape and rows.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(rows), np.isnan(block.values))
    np.testing.assert_allclose(rows, block.values, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("start", [1, 5, 20, 40, 92, 151, 300])
def test_incremental_from_history_equals_batch(panel: CandlePanel, block: FeatureBlock, start: int) -> None:
    # starts during warm-ups, inside a run of missing bars (92) and right after one (151)
    inc = IncrementalFeatures.from_history(panel.slice(0, start))
    assert inc.last_ts == panel.ts[start - 1] and inc.bars_seen == start
    rows = np.stack([inc.update(panel.bar(i)) for i in range(start, panel.n_bars)], axis=1)
    np.testing.assert_array_equal(np.isnan(rows), np.isnan(block.values[:, start:]))
    np.testing.assert_allclose(rows, block.values[:, start:], rtol=RTOL, atol=ATOL)


def test_incremental_from_empty_history(panel: CandlePanel, block: FeatureBlock) -> None:
    inc = IncrementalFeatures.from_history(panel.slice(0, 0))
    assert inc.last_ts is None
    np.testing.assert_allclose(inc.update(panel.bar(0)), block.values[:, 0], rtol=RTOL, atol=ATOL)


def test_update_rejects_bad_bars(panel: CandlePanel) -> None:
    inc = IncrementalFeatures.from_history(panel.slice(0, 10))
    with pytest.raises(DataError, match="not after"):
        inc.update(panel.bar(9))
    b = panel.bar(10)
    short = Bar(ts=b.ts, open=b.open[:2], high=b.high[:2], low=b.low[:2], close=b.close[:2], volume=b.volume[:2])
    with pytest.raises(DataError, match="shape"):
        inc.update(short)


# --- vectorised across symbols -------------------------------------------------------------------


def test_symbols_are_independent(panel: CandlePanel, block: FeatureBlock) -> None:
    for i, sym in enumerate(panel.symbols):
        alone = compute_features(panel.select((sym,)))
        np.testing.assert_array_equal(alone.values[0], block.values[i])


def test_a_complete_symbol_next_to_a_gappy_one() -> None:
    rng = np.random.default_rng(11)
    missing = np.zeros((2, 150), bool)
    missing[1, [20, 21, 77]] = True
    p = make_panel(ohlcv(rng, 2, 150), missing)
    b = compute_features(p)
    for i, sym in enumerate(p.symbols):
        np.testing.assert_array_equal(compute_features(p.select((sym,))).values[0], b.values[i])


def test_symbol_grouping_does_not_change_results(panel: CandlePanel, block: FeatureBlock,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "_CHUNK_BARS", 1)  # one symbol per group
    np.testing.assert_array_equal(compute_features(panel).values, block.values)
    inc = IncrementalFeatures.from_history(panel.slice(0, 200))
    monkeypatch.undo()
    ref = IncrementalFeatures.from_history(panel.slice(0, 200))
    np.testing.assert_array_equal(inc.update(panel.bar(200)), ref.update(panel.bar(200)))


def test_no_missing_bars_and_short_panels() -> None:
    rng = np.random.default_rng(5)
    full = make_panel(ohlcv(rng, 2, 120))
    b = compute_features(full)
    assert np.isfinite(b.values[:, 60:]).all()  # every feature warmed up by bar 60
    for t in (0, 1, 2, 13, 15):
        short = compute_features(full.slice(0, t))
        assert short.values.shape == (2, t, len(FEATURE_NAMES))
        np.testing.assert_array_equal(short.values, b.values[:, :t])


# --- the label -----------------------------------------------------------------------------------


def test_forward_return_is_a_future_label(panel: CandlePanel, block: FeatureBlock) -> None:
    h = 3
    y = forward_return(panel, h)
    assert y.shape == (3, 320)
    assert np.isnan(y[:, -h:]).all()
    c = panel.close
    np.testing.assert_allclose(y[:, :-h], np.log(c[:, h:] / c[:, :-h]))
    # the label at t is the h-bar return feature at t+h: known only h bars later
    ret = block.column("ret_3")
    both = np.isfinite(ret[:, h:])
    np.testing.assert_allclose(y[:, :-h][both], ret[:, h:][both], rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="horizon"):
        forward_return(panel, 0)
