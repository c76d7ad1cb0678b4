"""`cockpit report`'s body: JSON shape, the text table, providers and failures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from engine.data.panel import CandlePanel
from engine.data.synthetic import synthetic_panel
from engine.errors import ConfigError, DataError
from engine.evaluation.walkforward import ModelReport, evaluate_classifier
from engine.report import ReportSettings, build_report, format_report, zoo_provider

SETTINGS = ReportSettings(horizon=2, cost_bps=10, fee_bps=5, slippage_bps=2, n_folds=2, train_bars=150,
                          embargo_bars=2, tiny=True)


def logreg() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))


def prior() -> Any:
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="prior")  # the training base rate: exactly the majority baseline


def local_provider(panel: CandlePanel, settings: ReportSettings) -> list[ModelReport]:
    out = []
    for name, make in (("logreg", logreg), ("prior", prior)):
        ev = evaluate_classifier(make, panel, **settings.classifier_kwargs())
        out.append(ev.to_model_report(name, "ensemble"))
    return out


@pytest.fixture(scope="module")
def panel() -> CandlePanel:
    return synthetic_panel(3, 500, seed=1)


@pytest.fixture(scope="module")
def report(panel: CandlePanel) -> dict:
    return build_report(panel, [local_provider], SETTINGS)


def test_json_shape(report: dict, panel: CandlePanel) -> None:
    assert json.loads(json.dumps(report, allow_nan=False)) == report  # strict JSON: no NaN anywhere
    assert set(report) >= {"data", "models"}
    data = report["data"]
    assert data == {"source": panel.source, "symbols": list(panel.symbols), "timeframe": "30m", "bars": 500,
                    "first": "2020-01-01T00:00:00Z", "last": data["last"], "synthetic": True}
    assert data["last"] == "2020-01-11T09:30:00Z"  # 499 half-hours later
    assert [m["name"] for m in report["models"]] == ["logreg", "prior"]
    for m in report["models"]:
        assert m["family"] == "ensemble"
        assert {"hit_rate", "brier", "log_loss", "auc", "ece", "n_test", "n_folds", "total_return", "sharpe",
                "max_drawdown", "turnover", "trades", "fees_paid"} <= set(m["metrics"])
        assert set(m["baselines"]) == {"majority", "always_up", "buy_and_hold"}
        assert m["metrics"]["n_test"] > 0 and m["metrics"]["n_folds"] == 2
    assert report["settings"]["horizon"] == 2


def test_a_prior_model_ties_its_baseline_and_is_told_so(report: dict) -> None:
    prior_row = report["models"][1]
    assert prior_row["metrics"]["hit_rate"] == pytest.approx(prior_row["baselines"]["majority"]["hit_rate"])
    assert prior_row["metrics"]["brier"] == pytest.approx(prior_row["baselines"]["majority"]["brier"])
    text = format_report(report)
    verdict = next(line for line in text.splitlines() if line.strip().startswith("prior:"))
    assert "hit rate" in verdict and "does NOT beat" in verdict
    assert "Brier" in verdict and "base rate" in verdict


def test_format_report_names_the_data_and_every_baseline(report: dict) -> None:
    text = format_report(report)
    assert "SYNTHETIC" in text
    for word in ("majority", "always-up", "buy-and-hold", "buy&hold", "base-rate", "logreg", "prior",
                 "next bar's open", "purge 2 + embargo 2"):
        assert word in text, word
    rows = [line for line in text.splitlines() if line.startswith("logreg")]
    assert len(rows) == 2  # one classification row, one trading row


def test_a_failing_member_is_a_failed_row_and_the_others_go_on(panel: CandlePanel) -> None:
    @dataclass(frozen=True)
    class Spec:
        name: str
        make: Callable[[int, bool], Any]
        max_rows: int = 10_000

    def broken(seed: int, tiny: bool) -> Any:
        raise ImportError("No module named 'lightgbm'")

    seen: list[tuple[int, bool]] = []

    def make_logreg(seed: int, tiny: bool) -> Any:
        seen.append((seed, tiny))
        return logreg()

    said: list[str] = []
    provider = zoo_provider([Spec("broken", broken), Spec("logreg", make_logreg)], progress=said.append)
    report = build_report(panel, [provider], SETTINGS)
    assert said == ["ensemble 1/2: broken", "ensemble 2/2: logreg"]
    broken_row, ok_row = report["models"]
    assert broken_row["error"] == "ModelError: fold 0: ImportError: No module named 'lightgbm'"
    assert broken_row["metrics"] == {}
    assert "error" not in ok_row and ok_row["metrics"]["n_test"] > 0
    assert seen and set(seen) == {(SETTINGS.seed, True)}
    text = format_report(report)
    assert "broken: FAILED — ModelError" in text


def test_too_little_data_fails_the_whole_report_before_any_model(panel: CandlePanel) -> None:
    calls: list[int] = []

    @dataclass(frozen=True)
    class Spec:
        name: str = "x"

        def make(self, seed: int, tiny: bool) -> Any:
            calls.append(1)
            return logreg()

    with pytest.raises(DataError, match="too few"):
        build_report(panel.slice(0, 100), [zoo_provider([Spec()])], SETTINGS)
    assert calls == []


def test_max_bars_evaluates_only_the_latest_bars(panel: CandlePanel) -> None:
    settings = ReportSettings(**{**{f: getattr(SETTINGS, f) for f in SETTINGS.__slots__}, "max_bars": 400})
    report = build_report(panel, [local_provider], settings)
    assert report["data"]["bars"] == 400
    assert report["data"]["last"] == "2020-01-11T09:30:00Z"


@pytest.mark.parametrize("kwargs", [dict(horizon=0), dict(n_folds=0), dict(embargo_bars=-1), dict(fee_bps=-1),
                                    dict(train_bars=1), dict(threshold=1.5), dict(max_bars=0)])
def test_settings_are_validated(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ReportSettings(**kwargs)


def test_empty_report_text() -> None:
    report = {"data": {"source": "x", "symbols": [], "timeframe": "1h", "bars": 0, "first": None, "last": None,
                       "synthetic": False}, "models": []}
    assert "no models" in format_report(report)


def test_ensemble_provider_covers_the_zoo() -> None:
    """Every zoo member gets a row (a member whose library is missing is a failed row, not a crash)."""
    from engine.models.zoo import ZOO
    from engine.report import ensemble_provider

    small = synthetic_panel(2, 320, seed=3)
    settings = ReportSettings(horizon=2, cost_bps=10, n_folds=2, train_bars=120, embargo_bars=0, tiny=True)
    rows = ensemble_provider(small, settings)
    assert [r.name for r in rows] == [spec.name for spec in ZOO]
    assert len(rows) >= 12
    assert all(r.family == "ensemble" for r in rows)
    assert sum(r.error is None for r in rows) >= 12
    assert all(np.isfinite(r.metrics["hit_rate"]) for r in rows if r.error is None)


def test_model_report_is_immutable_and_json_clean() -> None:
    r = ModelReport(name="x", family="rl", metrics={"sharpe": float("nan"), "trades": np.int64(3),
                                                     "hit_rate": np.float32(0.5)},
                    baselines={"buy_and_hold": {"sharpe": np.inf}}, notes=["n"])
    assert r.to_dict() == {"name": "x", "family": "rl", "metrics": {"sharpe": None, "trades": 3, "hit_rate": 0.5},
                           "baselines": {"buy_and_hold": {"sharpe": None}}, "notes": ["n"]}
    json.dumps(r.to_dict(), allow_nan=False)
    with pytest.raises(TypeError):
        r.metrics["sharpe"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError, match="number"):
        ModelReport(name="x", family="rl", metrics={"hit_rate": "high"})
    failed = ModelReport.failed("y", "rl", ValueError("bad"))
    assert failed.to_dict()["error"] == "ValueError: bad" and failed.to_dict()["metrics"] == {}
