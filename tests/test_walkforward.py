"""The walk-forward runner: no leak through the splits, next-bar execution, report shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.data.panel import CandlePanel
from engine.errors import ModelError
from engine.evaluation.metrics import hit_rate
from engine.evaluation.splits import walk_forward_splits
from engine.evaluation.trading import evaluate_signals, open_to_open_returns
from engine.evaluation.walkforward import evaluate_classifier, make_labels, out_of_sample

STEP_NS = 1800 * 1_000_000_000


def panel_from_closes(close: np.ndarray, *, opens: np.ndarray | None = None) -> CandlePanel:
    """A continuous panel: each bar opens at the previous close (the first at its own close)."""
    close = np.atleast_2d(np.asarray(close, dtype=np.float64))
    if opens is None:
        opens = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    s, t = close.shape
    return CandlePanel(symbols=tuple(f"S{i}/USD" for i in range(s)), timeframe="30m",
                       ts=np.arange(t, dtype=np.int64) * STEP_NS, open=opens, high=np.maximum(opens, close),
                       low=np.minimum(opens, close), close=close, volume=np.ones((s, t)), source="test", synthetic=True)


def random_walk(n_symbols: int, n_bars: int, seed: int, sigma: float = 0.01) -> CandlePanel:
    rng = np.random.default_rng(seed)
    return panel_from_closes(100 * np.exp(np.cumsum(rng.normal(0, sigma, (n_symbols, n_bars)), axis=1)))


class NearestKey:
    """1-nearest-neighbour on a single feature (a memoriser): answers with the label of the closest key."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> "NearestKey":
        order = np.argsort(X[:, 0])
        self.keys_, self.labels_ = X[order, 0], y[order]
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(self.keys_, X[:, 0]), 1, len(self.keys_) - 1)
        left_closer = np.abs(X[:, 0] - self.keys_[i - 1]) <= np.abs(self.keys_[i] - X[:, 0])
        up = self.labels_[np.where(left_closer, i - 1, i)].astype(float)
        return np.column_stack([1 - up, up])


def logreg():  # noqa: ANN201
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))


# -- (a) a planted feature that peeks at the future cannot leak through the harness's splits --------------
def test_planted_future_peek_leaks_through_naive_splits_but_not_through_the_harness() -> None:
    """A label looks `horizon` bars ahead: bar t's label is the move from close[t] to close[t+8].

    The planted feature is each row's own clock (bar index, offset per symbol), and the model is a
    1-nearest-neighbour memoriser: at a test bar it answers with the label of the latest training
    bar of the same symbol. Without purging, that label's window runs into the test span, so it
    peeks at the very moves being tested (bar a-1's label shares 7 of its 8 returns with bar a's)
    and the hit rate jumps far above chance. The harness purges every training label whose
    window [t, t+8] reaches the test span, so the memorised label ends before the test span
    starts and says nothing about it: on an independent random walk the hit rate stays at chance.
    """
    h, folds, test_bars = 8, 150, 4
    panel = random_walk(4, 200 + folds * test_bars, seed=11)
    s, t = panel.n_symbols, panel.n_bars
    clock = (np.arange(t)[None, :] + 10 * t * np.arange(s)[:, None]).astype(np.float64)[:, :, None]
    y = make_labels(panel, h, cost_bps=0.0)

    naive = walk_forward_splits(t, n_folds=folds, test_bars=test_bars, horizon=0)  # no purge
    leaked = out_of_sample(NearestKey, clock, y, naive).probabilities
    scored = np.isfinite(leaked) & np.isfinite(y)
    naive_hit = hit_rate(y[scored], leaked[scored])

    half = walk_forward_splits(t, n_folds=folds, test_bars=test_bars, horizon=h // 2)  # a purge too short
    short = out_of_sample(NearestKey, clock, y, half).probabilities
    short_hit = hit_rate(y[scored], short[scored])

    ours = evaluate_classifier(NearestKey, panel, features=clock, horizon=h, cost_bps=0.0, fee_bps=0.0,
                               slippage_bps=0.0, n_folds=folds, test_bars=test_bars, train_bars=None, embargo_bars=0)
    assert [sp.test_start for sp in ours.splits] == [sp.test_start for sp in naive]  # the same test bars
    assert ours.classification.n > 2000
    assert naive_hit > 0.68, "the planted leak must be exploitable, or this test proves nothing"
    assert abs(ours.classification.hit_rate - 0.5) < 0.05
    assert abs(ours.classification.auc - 0.5) < 0.05
    assert naive_hit - ours.classification.hit_rate > 0.15
    assert short_hit > ours.classification.hit_rate + 0.04  # only a purge of the full horizon closes the leak


def test_no_fold_ever_trains_on_a_bar_whose_label_reaches_its_test_span() -> None:
    """A spy estimator sees the bar index of every row it is fitted on and asked about."""
    log: list[tuple[str, np.ndarray]] = []

    class Spy:
        def fit(self, X: np.ndarray, y: np.ndarray) -> "Spy":
            log.append(("fit", X[:, 0].copy()))
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X: np.ndarray) -> np.ndarray:
            log.append(("predict", X[:, 0].copy()))
            return np.full((len(X), 2), 0.5)

    panel = random_walk(3, 400, seed=2)
    bar_index = np.broadcast_to(np.arange(400.0)[None, :, None], (3, 400, 1))
    ev = evaluate_classifier(Spy, panel, features=bar_index, horizon=5, cost_bps=0, fee_bps=0, slippage_bps=0,
                             n_folds=4, train_bars=100, embargo_bars=7)
    fits = [bars for kind, bars in log if kind == "fit"]
    predicts = [bars for kind, bars in log if kind == "predict"]
    assert len(fits) == len(predicts) == 4
    for split, fit_bars, pred_bars in zip(ev.splits, fits, predicts):
        assert fit_bars.max() + 5 < split.test_start - 7  # label window [t, t+5] ends before purge + embargo
        assert fit_bars.min() >= split.test_start - 5 - 7 - 100
        assert set(pred_bars.tolist()) == set(range(split.test_start, split.test_stop))
        assert len(pred_bars) == 3 * (split.test_stop - split.test_start)  # every symbol, same boundaries


# -- the runner finds real, non-leaking signal ------------------------------------------------------------
def test_a_real_signal_is_found_and_traded() -> None:
    """Regimes of steady drift: the last bars' returns (a causal feature) tell the next 4 bars' direction."""
    rng = np.random.default_rng(5)
    n = 1500
    drift = np.repeat(rng.choice([-0.004, 0.004], size=n // 50 + 1), 50)[:n]
    logret = drift[None, :] + rng.normal(0, 0.002, (2, n))
    panel = panel_from_closes(100 * np.exp(np.cumsum(logret, axis=1)))
    ev = evaluate_classifier(logreg, panel, horizon=4, cost_bps=20, fee_bps=10, slippage_bps=5, n_folds=3,
                             train_bars=300, embargo_bars=4)
    assert ev.classification.hit_rate > 0.85
    assert ev.classification.hit_rate > ev.majority.hit_rate + 0.25
    assert ev.classification.brier < ev.majority.brier
    assert ev.classification.auc > 0.9
    assert ev.trading.total_return > 0.5
    assert ev.trading.trades > 10 and ev.trading.fees_paid > 0
    assert ev.fitted_folds == 3


# -- next-bar execution on a hand-made price path ---------------------------------------------------------
# Opens alternate +10 % / -10 %: bar u's open-to-open return is +10 % for even u, -10 % for odd u.
OPENS = 100 * np.cumprod([1.0, 1.1, 0.9, 1.1, 0.9, 1.1, 0.9, 1.1])[None, :] / 1.0


def _alternating() -> CandlePanel:
    close = np.concatenate([OPENS[:, 1:], OPENS[:, -1:] * 0.9], axis=1)
    return panel_from_closes(close, opens=OPENS)


def test_open_to_open_returns() -> None:
    r = open_to_open_returns(_alternating())[0]
    assert r[:-1] == pytest.approx([0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1])
    assert np.isnan(r[-1])


def test_a_signal_cannot_earn_the_move_of_its_own_bar() -> None:
    panel = _alternating()
    went_up = (panel.close > panel.open).astype(float)  # "perfect foresight" of bar t, known only at its close
    ev = evaluate_signals(went_up, panel, start=0, stop=8, fee_bps=0, slippage_bps=0)
    assert ev.bars.tolist() == [1, 2, 3, 4, 5, 6]  # signals 0..5 trade bars 1..6; bar 7 has no next open
    assert ev.positions[0].tolist() == [1, 0, 1, 0, 1, 0]  # long exactly on the falling bars
    assert ev.strategy.total_return == pytest.approx(0.9**3 - 1)
    assert ev.buy_and_hold.total_return == pytest.approx((0.9 * 1.1) ** 3 - 1)
    assert ev.buy_and_hold.max_drawdown == pytest.approx(1 - 0.9 * 1.1 * 0.9 * 1.1 * 0.9)


def test_knowing_the_next_bar_earns_it_after_fees() -> None:
    panel = _alternating()
    next_up = np.zeros((1, 8))
    next_up[0, :-1] = (open_to_open_returns(panel)[0, 1:] > 0)  # the lookahead a model would need
    ev = evaluate_signals(next_up, panel, start=0, stop=8, fee_bps=10, slippage_bps=0)
    assert ev.positions[0].tolist() == [0, 1, 0, 1, 0, 1]
    assert ev.strategy.total_return == pytest.approx(1.1**3 * 0.999**5 - 1)  # 5 changes of position
    assert ev.strategy.trades == 5
    # equity just before each change of position (bars 2..6): enter, exit, enter, exit, enter
    traded = [1.0, 0.999 * 1.1, 0.999**2 * 1.1, 0.999**3 * 1.21, 0.999**4 * 1.21]
    assert ev.strategy.fees_paid == pytest.approx(0.001 * sum(traded))
    assert ev.buy_and_hold.trades == 1


def test_signals_outside_the_window_are_ignored() -> None:
    panel = _alternating()
    ev = evaluate_signals(np.ones((1, 8)), panel, start=3, stop=5, fee_bps=0, slippage_bps=0)
    assert ev.bars.tolist() == [4, 5]
    assert ev.strategy.total_return == pytest.approx(1.1 * 0.9 - 1)


# -- the report row ---------------------------------------------------------------------------------------
def test_to_report_shape_is_json_ready() -> None:
    panel = random_walk(2, 600, seed=3)
    ev = evaluate_classifier(logreg, panel, horizon=4, cost_bps=20, fee_bps=10, slippage_bps=5, n_folds=2,
                             train_bars=200, embargo_bars=4)
    report = ev.to_report("logreg", "ensemble")
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report
    assert set(report) >= {"name", "family", "metrics", "baselines"}
    assert (report["name"], report["family"]) == ("logreg", "ensemble")
    m = report["metrics"]
    for key in ("hit_rate", "brier", "log_loss", "auc", "ece", "n_test", "n_folds", "total_return", "sharpe",
                "max_drawdown", "turnover", "trades", "fees_paid"):
        assert key in m, key
    assert m["n_folds"] == 2 and m["n_test"] > 0
    assert set(report["baselines"]) == {"majority", "always_up", "buy_and_hold"}
    assert set(report["baselines"]["majority"]) >= {"hit_rate", "brier", "log_loss"}
    assert set(report["baselines"]["buy_and_hold"]) >= {"total_return", "sharpe", "max_drawdown", "fees_paid"}
    assert report["baselines"]["always_up"]["hit_rate"] == pytest.approx(
        float(np.nanmean(ev.labels[np.isfinite(ev.probabilities)])))


def test_one_class_fold_is_skipped_with_a_note() -> None:
    close = 100 * np.exp(np.cumsum(np.full((1, 300), 0.01), axis=1))  # only ever up
    ev = evaluate_classifier(logreg, panel_from_closes(close), horizon=2, cost_bps=0, fee_bps=0, slippage_bps=0,
                             n_folds=2, train_bars=None, embargo_bars=0)
    assert ev.fitted_folds == 0
    assert any("skipped" in n for n in ev.notes)
    assert ev.classification.n == 0 and ev.trading.trades == 0


def test_estimator_failure_names_the_fold() -> None:
    class Broken:
        def fit(self, X: np.ndarray, y: np.ndarray) -> None:
            raise RuntimeError("no convergence")

    with pytest.raises(ModelError, match="fold 0: RuntimeError: no convergence"):
        evaluate_classifier(Broken, random_walk(1, 300, seed=1), horizon=2, cost_bps=0, fee_bps=0, slippage_bps=0,
                            n_folds=2, train_bars=None, embargo_bars=0)


def test_training_rows_are_capped_and_warnings_become_notes() -> None:
    sizes: list[int] = []

    class Noisy:
        def fit(self, X: np.ndarray, y: np.ndarray) -> "Noisy":
            import warnings

            warnings.warn("did not converge", RuntimeWarning)
            sizes.append(len(X))
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X: np.ndarray) -> np.ndarray:
            return np.full((len(X), 2), 0.5)

    kw = dict(horizon=2, cost_bps=0, fee_bps=0, slippage_bps=0, n_folds=2, train_bars=None, embargo_bars=0)
    ev = evaluate_classifier(Noisy, random_walk(3, 500, seed=4), max_train_rows=50, **kw)
    assert sizes == [50, 50]
    full = evaluate_classifier(Noisy, random_walk(3, 500, seed=4), **kw)
    assert ev.majority == full.majority  # the baseline is fitted on every training row, thinned or not
    assert any(n.startswith("training rows thinned to 50 in 2 fold(s)") for n in ev.notes)
    assert ev.notes.count("warning: RuntimeWarning: did not converge") == 1


def test_feature_shape_must_match_the_panel() -> None:
    with pytest.raises(ValueError, match="features"):
        evaluate_classifier(logreg, random_walk(2, 100, seed=0), features=np.zeros((2, 99, 3)), horizon=2,
                            cost_bps=0, fee_bps=0, slippage_bps=0, n_folds=2, train_bars=None, embargo_bars=0)
