"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evaluation.metrics import (
    SECONDS_PER_YEAR,
    base_rate,
    brier,
    classification_metrics,
    expected_calibration_error,
    hit_rate,
    log_loss,
    majority_class,
    reliability,
    roc_auc,
    trading_metrics,
)

Y = [1, 0, 1, 1]
P = [0.9, 0.4, 0.5, 0.2]


def test_hit_rate_brier_log_loss_by_hand() -> None:
    assert hit_rate(Y, P) == 0.75  # predicted 1, 0, 1 (p >= 0.5), 0
    assert brier(Y, P) == pytest.approx((0.01 + 0.16 + 0.25 + 0.64) / 4)
    assert log_loss(Y, P) == pytest.approx(-(math.log(0.9) + math.log(0.6) + math.log(0.5) + math.log(0.2)) / 4)
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))


def test_log_loss_is_clipped() -> None:
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))
    assert log_loss([0], [1.0]) == pytest.approx(-math.log(1e-15), rel=1e-4)  # 1 - 1e-15 rounds in float
    assert log_loss([1], [0.0], eps=1e-6) == pytest.approx(-math.log(1e-6))


def test_auc_by_hand_and_with_ties() -> None:
    assert roc_auc(Y, P) == pytest.approx(2 / 3)  # positives .9 and .5 beat the negative .4, .2 does not
    assert roc_auc([1, 0], [0.5, 0.5]) == 0.5
    assert roc_auc([1, 1, 0, 0], [0.7, 0.3, 0.3, 0.1]) == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_auc_matches_sklearn_on_tied_scores() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.random(500) * 0.5 + 0.3 * y, 1)  # coarse: many ties
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_reliability_table_and_ece_by_hand() -> None:
    y, p = [0, 1, 0, 1], [0.05, 0.15, 0.12, 0.95]
    rel = reliability(y, p, n_bins=10)
    assert rel.count.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert rel.mean_p[1] == pytest.approx(0.135)
    assert rel.frac_pos[1] == 0.5
    assert math.isnan(rel.mean_p[2])
    expected = 0.25 * 0.05 + 0.5 * abs(0.135 - 0.5) + 0.25 * 0.05
    assert rel.ece == pytest.approx(expected)
    assert expected_calibration_error(y, p, 10) == pytest.approx(expected)
    assert rel.rows()[2] == {"lo": 0.2, "hi": pytest.approx(0.3), "count": 0, "mean_p": None, "frac_pos": None}
    assert reliability([1], [1.0], 4).count.tolist() == [0, 0, 0, 1]  # p = 1 lands in the last bin


def test_perfectly_calibrated_bins_have_zero_ece() -> None:
    assert expected_calibration_error([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.0


def test_classification_metrics_bundle() -> None:
    m = classification_metrics(Y, P).to_dict()
    assert m["n_test"] == 4 and m["hit_rate"] == 0.75 and m["auc"] == pytest.approx(2 / 3)
    assert classification_metrics([1, 1], [0.6, 0.7]).to_dict()["auc"] is None  # NaN → None for JSON


def test_baselines_are_fitted_on_training_labels() -> None:
    assert base_rate([1, 0, 0, 0]) == 0.25
    assert majority_class([1, 0, 0, 0]) == 0
    assert majority_class([1, 1, 0]) == 1
    assert majority_class([1, 0]) == 1  # a tie predicts 1, as p >= 0.5 does
    with pytest.raises(ValueError):
        base_rate([])


BAR = 1800  # 30-minute bars


def test_trading_metrics_by_hand() -> None:
    r = [0.10, -0.05, 0.20, -0.10]
    pos = [1, 1, 0, 1]
    fee, slip = 0.001, 0.0005
    c = fee + slip
    e1 = (1 - c) * 1.10  # enter, then +10 %
    e2 = e1 * 0.95  # hold through -5 %
    e3 = e2 * (1 - c)  # exit: pays on e2, misses +20 %
    e4 = e3 * (1 - c) * 0.90  # re-enter, -10 %
    m = trading_metrics(pos, r, bar_seconds=BAR, fee_rate=fee, slippage_rate=slip)
    assert m.equity.tolist() == pytest.approx([e1, e2, e3, e4])
    assert m.total_return == pytest.approx(e4 - 1)
    assert m.trades == 3
    assert m.turnover == pytest.approx(3.0)  # all in, all out, all in: 1× the portfolio each time
    assert m.fees_paid == pytest.approx(fee * (1 + e2 + e3))
    assert m.slippage_paid == pytest.approx(slip * (1 + e2 + e3))
    assert m.exposure == pytest.approx(0.75)
    assert m.max_drawdown == pytest.approx(1 - e4 / e1)
    g = np.array([e1 - 1, e2 / e1 - 1, e3 / e2 - 1, e4 / e3 - 1])
    assert m.sharpe == pytest.approx(g.mean() / g.std(ddof=1) * math.sqrt(SECONDS_PER_YEAR / BAR))


def test_equal_weight_sleeves_do_not_rebalance() -> None:
    # A long and a flat sleeve: half the portfolio earns each bar's move.
    r = np.array([[0.10, 0.10], [0.50, -0.50]])
    pos = np.array([[1, 1], [0, 0]])
    m = trading_metrics(pos, r, bar_seconds=BAR)
    assert m.equity.tolist() == pytest.approx([0.5 * 1.1 + 0.5, 0.5 * 1.21 + 0.5])
    assert m.trades == 1
    assert m.turnover == pytest.approx(0.5)
    assert m.exposure == pytest.approx((0.5 + 0.55 / 1.05) / 2)


def test_buy_and_hold_known_return_and_drawdown() -> None:
    r = [-0.1, 0.1, -0.1, 0.1]
    m = trading_metrics(np.ones(4), r, bar_seconds=BAR, fee_rate=0.001)
    assert m.total_return == pytest.approx(0.999 * 0.9 * 1.1 * 0.9 * 1.1 - 1)
    assert m.max_drawdown == pytest.approx(1 - 0.999 * 0.9 * 1.1 * 0.9)  # peak is the starting 1.0
    assert m.trades == 1 and m.fees_paid == pytest.approx(0.001)


def test_flat_and_missing_returns() -> None:
    m = trading_metrics(np.zeros(3), [0.1, np.nan, -0.2], bar_seconds=BAR, fee_rate=0.01)
    assert (m.total_return, m.sharpe, m.max_drawdown, m.trades, m.fees_paid) == (0.0, 0.0, 0.0, 0, 0.0)
    held = trading_metrics(np.ones(3), [0.1, np.nan, 0.1], bar_seconds=BAR)  # a bar without a price earns 0
    assert held.total_return == pytest.approx(0.21)
    assert trading_metrics([], [], bar_seconds=BAR).n_bars == 0


@pytest.mark.parametrize("pos", [[1.5, 0], [-1, 0], [np.nan, 0]])
def test_positions_must_be_long_only_fractions(pos: list) -> None:
    with pytest.raises(ValueError):
        trading_metrics(pos, [0.1, 0.1], bar_seconds=BAR)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="differ"):
        hit_rate([1, 0], [0.5])
    with pytest.raises(ValueError, match="shape"):
        trading_metrics([1, 1], [0.1], bar_seconds=BAR)
