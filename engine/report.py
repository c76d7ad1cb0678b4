"""The body of `cockpit report`: a walk-forward scoreboard of every model family against its baselines.

`build_report(panel, providers, settings)` asks each provider for its
`ModelReport`s and returns one JSON-ready dict:

    {"data": {"source", "symbols", "timeframe", "bars", "first", "last", "synthetic"},
     "settings": {...},
     "models": [{"name", "family", "metrics": {...}, "baselines": {"<baseline>": {...}}, "notes": [...]}]}

(a failed model carries "error" and empty metrics). `format_report` renders
that dict as text for a person. A provider is any callable
(panel, settings) -> list[ModelReport]; each model family brings one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from engine.data.panel import CandlePanel
from engine.errors import ConfigError
from engine.evaluation.splits import walk_forward_splits
from engine.evaluation.walkforward import ModelReport, evaluate_classifier
from engine.features import compute_features

Provider = Callable[[CandlePanel, "ReportSettings"], list[ModelReport]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSettings:
    horizon: int = 4
    """Label horizon in bars: the label is forward_return(panel, horizon) > cost_bps/1e4."""
    cost_bps: float = 20.0
    """Round-trip cost a move must beat to count as "up"."""
    fee_bps: float = 10.0
    """Trading fee per side, in basis points of the traded notional."""
    slippage_bps: float = 5.0
    """Slippage per side, in basis points of the traded notional."""
    n_folds: int = 5
    train_bars: int | None = 4000
    """Training window per fold in bars; None = expanding from the first bar."""
    embargo_bars: int = 12
    """Extra gap between the last training label and each test span (see engine.evaluation.splits)."""
    tiny: bool = False
    """Small, fast model configurations (tests, quick looks)."""
    threshold: float = 0.5
    """Trading evaluation: long when p > threshold."""
    seed: int = 7
    max_bars: int | None = None
    """Evaluate only the last `max_bars` bars of the panel (None = all)."""

    def __post_init__(self) -> None:
        for name, minimum in (("horizon", 1), ("n_folds", 1), ("embargo_bars", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"report setting {name} must be an integer ≥ {minimum}, got {value!r}")
        for name in ("train_bars", "max_bars"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
                raise ConfigError(f"report setting {name} must be None or an integer ≥ 2, got {value!r}")
        for name in ("cost_bps", "fee_bps", "slippage_bps"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"report setting {name} must be ≥ 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"report setting threshold must be in [0, 1], got {self.threshold!r}")

    def classifier_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `evaluate_classifier` these settings fix."""
        return {"horizon": self.horizon, "cost_bps": self.cost_bps, "fee_bps": self.fee_bps,
                "slippage_bps": self.slippage_bps, "n_folds": self.n_folds, "train_bars": self.train_bars,
                "embargo_bars": self.embargo_bars, "threshold": self.threshold, "seed": self.seed}


def _iso(ts_ns: int) -> str:
    return np.datetime_as_string(np.datetime64(int(ts_ns), "ns"), unit="s") + "Z"


def describe_data(panel: CandlePanel) -> dict[str, Any]:
    return {
        "source": panel.source,
        "symbols": list(panel.symbols),
        "timeframe": panel.timeframe,
        "bars": panel.n_bars,
        "first": _iso(panel.ts[0]) if panel.n_bars else None,
        "last": _iso(panel.ts[-1]) if panel.n_bars else None,
        "synthetic": bool(panel.synthetic),
    }


def build_report(panel: CandlePanel, providers: Sequence[Provider], settings: ReportSettings = ReportSettings()
                 ) -> dict[str, Any]:
    """Run every provider on `panel` (its last `settings.max_bars` bars) and collect the JSON-ready report.

    Errors that concern the whole report (e.g. DataError: too few bars for
    the folds) propagate; a provider reports its own models' failures as
    `ModelReport.failed` rows.
    """
    if settings.max_bars is not None and panel.n_bars > settings.max_bars:
        panel = panel.slice(panel.n_bars - settings.max_bars, panel.n_bars)
    models: list[dict[str, Any]] = []
    for provider in providers:
        models.extend(r.to_dict() for r in provider(panel, settings))
    return {"data": describe_data(panel), "settings": asdict(settings), "models": models}


# -- providers ----------------------------------------------------------------------
def zoo_provider(specs: Iterable[Any], *, family: str = "ensemble",
                 progress: Callable[[str], None] | None = None) -> Provider:
    """A provider evaluating each zoo entry (`.name`, `.make(seed, tiny)`, optional `.max_rows`, `.budget`).

    Features are computed once and shared; the fold layout is checked before
    any model runs (too little data raises DataError for the whole report).
    A member that fails to train or predict becomes a failed row with its
    error; the others go on. Native thread pools are capped at the entry's
    `budget.threads` (1 if it declares none). `progress`, if given, is
    called with a short line before each member (e.g. to print on stderr).
    """
    specs = tuple(specs)

    def provide(panel: CandlePanel, settings: ReportSettings) -> list[ModelReport]:
        walk_forward_splits(panel.n_bars, n_folds=settings.n_folds, train_bars=settings.train_bars,
                            horizon=settings.horizon, embargo_bars=settings.embargo_bars)
        block = compute_features(panel)
        reports = []
        for i, spec in enumerate(specs):
            if progress is not None:
                progress(f"{family} {i + 1}/{len(specs)}: {spec.name}")
            try:
                evaluation = evaluate_classifier(
                    lambda spec=spec: spec.make(settings.seed, settings.tiny), panel, features=block,
                    max_train_rows=getattr(spec, "max_rows", None), threads=_threads(spec),
                    **settings.classifier_kwargs())
            except Exception as exc:  # noqa: BLE001 - one member's failure is its row, not the report's
                reports.append(ModelReport.failed(spec.name, family, exc))
                continue
            reports.append(evaluation.to_model_report(spec.name, family))
        return reports

    return provide


def _threads(spec: Any) -> int:
    budget = getattr(spec, "budget", None)
    return max(1, int(getattr(budget, "threads", 1)))


def ensemble_provider(panel: CandlePanel, settings: ReportSettings) -> list[ModelReport]:
    """Every member of the ensemble zoo (`engine.models.zoo.ZOO`), walk-forward."""
    from engine.models.zoo import ZOO

    return zoo_provider(ZOO, family="ensemble")(panel, settings)


DEFAULT_PROVIDERS: tuple[Provider, ...] = (ensemble_provider,)


# -- text -------------------------------------------------------------------------------
def _f(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _pct(x: Any) -> str:
    return "—" if x is None else f"{x:+.1%}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))]).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _compare(label: str, model: Any, base: Any, base_name: str, *, lower_is_better: bool, spec: str) -> str | None:
    """E.g. 'hit rate 62.45% vs majority 62.31%: beats it'; equal at the shown precision is not beating."""
    if model is None or base is None:
        return None
    shown_model, shown_base = _f(model, spec), _f(base, spec)
    if shown_model == shown_base:
        verb = "level with it, does NOT beat it"
    else:
        beats = model < base if lower_is_better else model > base
        verb = "beats it" if beats else "does NOT beat it"
    return f"{label} {shown_model} vs {base_name} {shown_base}: {verb}"


def format_report(report: dict[str, Any]) -> str:
    """A readable scoreboard: the data, then one row per model next to each baseline, then plain verdicts."""
    data, settings, models = report["data"], report.get("settings", {}), report["models"]
    kind = "SYNTHETIC data (not market history)" if data.get("synthetic") else "market data"
    symbols = data.get("symbols", [])
    shown = ", ".join(symbols[:8]) + (f", … {len(symbols) - 8} more" if len(symbols) > 8 else "")
    lines = [
        "Walk-forward report · every number out-of-sample",
        f"data     {data.get('source') or 'unnamed'} · {kind}",
        f"         {len(symbols)} symbols ({shown}) · {data.get('timeframe')} · "
        f"{data.get('bars')} bars · {data.get('first')} → {data.get('last')}",
    ]
    if settings:
        train = settings.get("train_bars")
        window = "expanding" if train is None else f"rolling {train} bars"
        lines += [
            f"labels   {settings['horizon']}-bar log return > {settings['cost_bps']:g} bps · "
            f"{settings['n_folds']} folds · train {window} · purge {settings['horizon']} + embargo {settings['embargo_bars']} bars",
            f"trading  long when p > {settings['threshold']:g}, filled at the next bar's open · "
            f"fee {settings['fee_bps']:g} + slippage {settings['slippage_bps']:g} bps per side · equal weight",
        ]
    lines.append("")
    if not models:
        return "\n".join(lines + ["no models to report"])

    ok = [m for m in models if not m.get("error") and "hit_rate" in m["metrics"]]
    others = [m for m in models if not m.get("error") and "hit_rate" not in m["metrics"]]
    cls_rows, trade_rows = [], []
    for m in ok:
        mt, bl = m["metrics"], m.get("baselines", {})
        maj, up, bh = bl.get("majority", {}), bl.get("always_up", {}), bl.get("buy_and_hold", {})
        cls_rows.append([m["name"], m["family"], _f(mt.get("n_test"), "d"),
                         _f(mt.get("hit_rate"), ".3f"), _f(maj.get("hit_rate"), ".3f"), _f(up.get("hit_rate"), ".3f"),
                         _f(mt.get("brier"), ".4f"), _f(maj.get("brier"), ".4f"),
                         _f(mt.get("log_loss"), ".4f"), _f(maj.get("log_loss"), ".4f"),
                         _f(mt.get("auc"), ".3f"), _f(mt.get("ece"), ".3f")])
        trade_rows.append([m["name"], _pct(mt.get("total_return")), _pct(bh.get("total_return")),
                           _f(mt.get("sharpe"), ".2f"), _f(bh.get("sharpe"), ".2f"),
                           _f(mt.get("max_drawdown"), ".1%"), _f(bh.get("max_drawdown"), ".1%"),
                           _f(mt.get("turnover"), ".1f"), _f(mt.get("trades"), "d"),
                           _f(None if mt.get("fees_paid") is None else mt["fees_paid"] + (mt.get("slippage_paid") or 0),
                              ".1%")])
    if ok:
        lines.append("Classification · baselines fitted on each fold's training labels: majority class "
                     "(its base rate as the probability) and always-up")
        lines += _table(["model", "family", "rows", "hit", "majority", "always-up", "brier", "base-rate",
                         "log-loss", "base-rate", "auc", "ece"], cls_rows)
        lines += ["", "Trading · next-bar execution after fees and slippage, against buy-and-hold on the same bars"]
        lines += _table(["model", "return", "buy&hold", "sharpe", "buy&hold", "max dd", "buy&hold", "turnover",
                         "trades", "costs"], trade_rows)
        lines.append("")

    for m in others:
        lines += _family_block(m)
    shared = [n for n in ok[0].get("notes", []) if all(n in m.get("notes", []) for m in ok)] if len(ok) > 1 else []
    lines.append("Verdict (beating a baseline here is a measurement, not a promise)")
    for m in models:
        if m.get("error"):
            lines.append(f"  {m['name']}: FAILED — {m['error']}")
            continue
        if m in others:
            lines.append(f"  {m['name']}: " + "; ".join(_generic_verdicts(m)))
            lines += [f"      note: {n}" for n in m.get("notes", [])]
            continue
        mt, bl = m["metrics"], m.get("baselines", {})
        maj, bh = bl.get("majority", {}), bl.get("buy_and_hold", {})
        parts = [
            _compare("hit rate", mt.get("hit_rate"), maj.get("hit_rate"), "majority", lower_is_better=False,
                     spec=".2%"),
            _compare("Brier", mt.get("brier"), maj.get("brier"), "base rate", lower_is_better=True, spec=".5f"),
            _compare("Sharpe", mt.get("sharpe"), bh.get("sharpe"), "buy-and-hold", lower_is_better=False,
                     spec=".2f"),
        ]
        said = [p for p in parts if p]
        lines.append(f"  {m['name']}: " + ("; ".join(said) if said else "no scored test rows"))
        lines += [f"      note: {n}" for n in m.get("notes", []) if n not in shared]
    lines += [f"  note (every model): {n}" for n in shared]
    return "\n".join(lines)


_NOT_COMPARED = ("n_test", "n_train", "n_folds", "n_bars", "coverage", "band_bp", "trades", "turnover", "exposure")
_LOWER_IS_BETTER = ("mae", "rmse", "brier", "loss", "drawdown", "error", "ece")


def _lower_is_better(key: str) -> bool:
    return any(word in key for word in _LOWER_IS_BETTER)


def _shared_metrics(m: dict[str, Any]) -> list[str]:
    """Numeric metric keys that at least one baseline also reports."""
    metrics, baselines = m["metrics"], m.get("baselines", {})
    return [k for k, v in metrics.items()
            if isinstance(v, (int, float)) and k not in _NOT_COMPARED and any(k in b for b in baselines.values())]


def _family_block(m: dict[str, Any]) -> list[str]:
    """A small table for a family whose metrics are not classification hit rates."""
    baselines = m.get("baselines", {})
    keys = _shared_metrics(m)
    if not keys:
        return [f"{m['name']} [{m['family']}]: " + ", ".join(f"{k} {v}" for k, v in m["metrics"].items()), ""]
    rows = [[k, _f(m["metrics"].get(k), ".4f")] + [_f(b.get(k), ".4f") for b in baselines.values()] for k in keys]
    return [f"{m['name']} [{m['family']}] against its baselines"] + _table(["metric", "model", *baselines], rows) + [""]


def _generic_verdicts(m: dict[str, Any]) -> list[str]:
    said = []
    for key in _shared_metrics(m):
        for base_name, base in m.get("baselines", {}).items():
            verdict = _compare(key, m["metrics"].get(key), base.get(key), base_name,
                               lower_is_better=_lower_is_better(key), spec=".4f")
            if verdict:
                said.append(verdict)
    return said or ["no comparable metrics"]
