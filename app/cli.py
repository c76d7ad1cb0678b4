"""`cockpit` — the command line front door.

Only the TUI path imports Textual; `--json` output is one JSON object on
stdout and everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime, timezone
from typing import Sequence

SUBCOMMANDS = ("tui", "run", "report", "bench", "fetch", "evolve", "train", "doctor")
LIVE_HELP = ('trade real money: needs [trading] mode = "live" in the config as well; '
             "keys from PI_COCKPIT_API_KEY/PI_COCKPIT_API_SECRET or a 0600 [trading] key_file")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cockpit",
        description="Pi Cockpit: watch and steer an AI trading engine from the terminal. "
        "With no command, opens the cockpit on the configured feed (offline: embedded Bitfinex history).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="PATH", help="config file (default: built-in defaults = config.toml)")

    tui = sub.add_parser("tui", help="the cockpit (the default command)")
    common(tui)
    tui.add_argument("--speed", type=float, help="replay speed in bars/s (0 = as fast as possible)")
    tui.add_argument("--theme", help="cockpit-dark or cockpit-light")
    tui.add_argument("--source", choices=("embedded", "files", "ccxt", "synthetic"), help="override [data] source")
    tui.add_argument("--live", action="store_true", help=LIVE_HELP)

    run = sub.add_parser("run", help="run the engine without the UI")
    common(run)
    run.add_argument("--headless", action="store_true", help="no UI (required: the TUI is `cockpit`)")
    run.add_argument("--bars", type=int, default=1000, help="bars to run (default 1000)")
    run.add_argument("--source", choices=("embedded", "files", "ccxt", "synthetic"), help="override [data] source")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--live", action="store_true", help=LIVE_HELP)

    report = sub.add_parser("report", help="walk-forward scoreboard of every model against its baselines")
    common(report)
    report.add_argument("--data", nargs="+", metavar="PATH",
                        help="your own OHLCV files instead of the embedded data (CSV, Parquet, Feather)")
    report.add_argument("--json", action="store_true", help="print the report as one JSON object")
    report.add_argument("--folds", type=int, default=5, help="walk-forward folds (default 5)")
    report.add_argument("--max-bars", type=int, help="evaluate only the newest N bars")
    report.add_argument("--quick", action="store_true", help="tiny models (a smoke run, not numbers to quote)")
    report.add_argument("--fusion", action="store_true",
                        help="also replay the newest bars through the whole engine and score the fused signal, "
                             "the ensemble vote and the selector live (fits every enabled family: minutes)")

    evolve = sub.add_parser("evolve", help="search strategies with NSGA-II, judged walk-forward and on a hold-out")
    common(evolve)
    evolve.add_argument("--trials", type=int, help="completed trials the study should reach")
    evolve.add_argument("--hours", type=float, help="wall-clock budget in hours")
    evolve.add_argument("--storage", metavar="URL",
                        help="optuna storage URL to share one study between workers/machines "
                             "(default: a journal file in the data directory)")
    evolve.add_argument("--study", default="cockpit-evolve", help="study name (default cockpit-evolve)")
    evolve.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    evolve.add_argument("--data", nargs="+", metavar="PATH", help="your own OHLCV files instead of the embedded data")
    evolve.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    evolve.add_argument("--promote", action="store_true",
                        help="save the winners that pass the hold-out and overfitting thresholds as signal sources")

    train = sub.add_parser("train", help="train a model family ahead of time and save its checkpoint")
    common(train)
    train.add_argument("family", choices=("rl", "forecast", "patterns", "sentiment"),
                       help="rl: DQN pretraining; forecast: the LSTM; patterns: the CNN; sentiment: the head")
    train.add_argument("options", nargs=argparse.REMAINDER,
                       help="family options (patterns: --epochs N --per-class N --seed S --shipped)")

    bench = sub.add_parser("bench", help="measure speed and memory per family")
    common(bench)
    bench.add_argument("--symbols", type=int, default=None,
                       help="synthetic universe size (default 500; --longrun 50)")
    bench.add_argument("--bars", type=int, default=None,
                       help="engine cycles to time (default 200; --full 100; --longrun 10000)")
    bench.add_argument("--full", action="store_true",
                       help="the whole stack in one engine: per-family and total cycle time, peak RSS, fp32 vs int8")
    bench.add_argument("--longrun", action="store_true",
                       help="replay many bars at full speed (whole stack) and check that RSS stays flat")
    bench.add_argument("--ui", action="store_true",
                       help="key press → handler → screen latency of the real cockpit while the engine is busy")
    bench.add_argument("--presses", type=int, default=100, help="--ui: key presses per universe (default 100)")
    bench.add_argument("--universe", choices=("embedded", "synthetic", "both"), default="both",
                       help="--ui: the embedded 5 symbols, the synthetic --symbols universe, or both (default)")
    bench.add_argument("--wait", choices=("busy", "steady"), default="busy",
                       help="--ui: press keys once a fit runs (busy, default) or once every first fit is done (steady)")
    bench.add_argument("--stalls", action="store_true",
                       help="--ui: also record why the UI loop stalls (gc, UI render, a GIL-holding engine call)")
    bench.add_argument("--json", action="store_true", help="print results as one JSON object")
    bench.add_argument("--only", metavar="NAMES",
                       help="comma-separated parts to measure: engine,ensemble,sentiment (default: all)")
    bench.add_argument("--quick", action="store_true", help="tiny models, few repeats: a smoke run, not numbers to quote")

    fetch = sub.add_parser("fetch", help="download history through ccxt into the local cache")
    common(fetch)
    fetch.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    fetch.add_argument("--symbols", required=True, help="comma-separated, e.g. BTC/USDT,ETH/USDT")
    fetch.add_argument("--timeframe", default="1h")
    fetch.add_argument("--since", required=True, help="start date, e.g. 2024-01-01")
    fetch.add_argument("--until", help="end date (default: now)")
    fetch.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    doctor = sub.add_parser("doctor", help="check the platform: 64-bit userland, torch, RAM, disk, clock, sensors, files")
    common(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in SUBCOMMANDS and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "tui")
    args = _parser().parse_args(args_list)
    from engine.errors import CockpitError

    try:
        return _dispatch(args)
    except CockpitError as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _load(args: argparse.Namespace):  # noqa: ANN202 - engine.config.Config
    import dataclasses

    from engine.config import load_config

    config = load_config(args.config)
    source = getattr(args, "source", None)
    if source:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, source=source))
        config.data.validate()
    return config


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "report":
        return _report(args)
    if args.command == "evolve":
        return _evolve(args)
    if args.command == "train":
        return _train(args)
    if args.command == "bench":
        from engine.bench import run_bench

        if args.ui:
            from app.ui_bench import run_ui_bench

            return run_ui_bench(_load(args), presses=args.presses, universe=args.universe,
                                symbols=args.symbols or 500, as_json=args.json, quick=args.quick,
                                wait_for=args.wait, stalls=args.stalls)
        only = tuple(p.strip() for p in args.only.split(",")) if args.only else None
        return run_bench(_load(args), symbols=args.symbols, bars=args.bars, as_json=args.json, quick=args.quick,
                         only=only, full=args.full, longrun=args.longrun)
    if args.command == "fetch":
        return _fetch(args)
    if args.command == "doctor":
        from engine.doctor import main as doctor_main

        return doctor_main(args.config, as_json=args.json)  # a bad config is one of its FAIL lines
    return _tui(args)


def _tui(args: argparse.Namespace) -> int:
    import dataclasses

    config = _load(args)
    if args.speed is not None:
        config = dataclasses.replace(config, replay=dataclasses.replace(config.replay, speed=args.speed))
        config.replay.validate()
    _check_live(config, args.live)
    from engine.assembly import build_engine

    engine = build_engine(config, live=args.live)
    from app.cockpit import CockpitApp
    from engine.heap import release_heap, settle_heap

    settle_heap()  # the assembled stack lives as long as the process: keep it out of full collections
    engine.settle_heap = True  # and again as the models load and once their first fits are done

    app = CockpitApp(engine, theme=args.theme or config.ui.theme, symbol=config.ui.symbol or None,
                     speed=config.replay.speed)
    app.run()
    _finish(engine)
    release_heap()
    return app.return_code or 0


def _finish(engine, grace: float = 60.0) -> None:  # noqa: ANN001 - engine.runtime.Engine
    """Let a fit step that outlived the quit end before the interpreter tears torch down under it."""
    busy = engine.join(0.0)
    if busy:
        print(f"cockpit: waiting up to {grace:.0f} s for {', '.join(busy)} to finish its current step…",
              file=sys.stderr, flush=True)
        engine.join(grace)


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    if not args.headless:
        print("cockpit run: add --headless (the interactive cockpit is plain `cockpit`)", file=sys.stderr)
        return 2
    config = _load(args)
    config = dataclasses.replace(config, replay=dataclasses.replace(config.replay, speed=0.0))
    _check_live(config, args.live)
    from engine.assembly import build_engine

    engine = build_engine(config, with_monitor=False, live=args.live)
    if args.live:
        engine.subscribe(_print_trading_log)
    print(f"cockpit: {engine.source} · {len(engine.symbols)} symbols · warming up models…", file=sys.stderr)
    step = max(1, args.bars // 10)

    def progress(done: int) -> None:
        if done % step == 0:
            print(f"  {done}/{args.bars} bars", file=sys.stderr)

    from engine.heap import release_heap, settle_heap

    engine.prepare()  # loads and fits every model on this thread
    settle_heap()  # the stack and the fitted models live on: keep them out of full collections
    summary = engine.run_bars(args.bars, on_bar=progress)
    engine.stop()
    _finish(engine)
    release_heap()
    if args.json:
        print(json.dumps(_summary_dict(summary, engine)))
    else:
        _print_summary(summary, engine)
    return 0


def _check_live(config, live: bool) -> None:  # noqa: ANN001 - engine.config.Config
    """Refuse at once unless both opt-ins agree; announce live trading on stderr."""
    from engine.trading.live_opt_in import check_opt_in

    check_opt_in(config.trading.mode, live, config_file=config.source_file, source=config.data.source)
    if live:
        t = config.trading
        net = "test network" if t.sandbox else "REAL MONEY"
        print(f"cockpit: LIVE trading on {config.ccxt.exchange} ({net}); every order waits for your confirmation"
              + (f" except auto-approved ones up to {t.auto_approve_max_notional:g}" if t.auto_approve else ""),
              file=sys.stderr)


def _print_trading_log(event) -> None:  # noqa: ANN001 - engine.events.Event
    """Headless live runs: reconciliation, order and error messages go to stderr."""
    from engine.events import Fill, LogMessage, OrderUpdate

    if isinstance(event, LogMessage) and event.source == "trading":
        print(f"cockpit: {event.level}: {event.message}", file=sys.stderr)
    elif isinstance(event, Fill):
        print(f"cockpit: fill {event.order_id} {event.side} {event.quantity:g} {event.symbol} @ {event.price:g}"
              f" (fee {event.fee:g})", file=sys.stderr)
    elif isinstance(event, OrderUpdate):
        print(f"cockpit: order {event.client_order_id} {event.side} {event.quantity:g} {event.symbol}: {event.status}"
              + (f" ({event.message})" if event.message else ""), file=sys.stderr)


def _iso(ts_ns: int) -> str:
    if not ts_ns:
        return "-"
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _summary_dict(summary, engine) -> dict:  # noqa: ANN001
    return {
        "source": engine.source,
        "symbols": list(engine.symbols),
        "bars": summary.bars,
        "seconds": round(summary.seconds, 3),
        "bars_per_second": round(summary.bars / summary.seconds, 1) if summary.seconds else None,
        "first": _iso(summary.first_ts),
        "last": _iso(summary.last_ts),
        "models": [
            {"name": m.name, "family": m.family, "state": m.state, "predictions": m.predictions,
             "mean_ms": m.mean_ms, "p95_ms": m.p95_ms, "holdout": m.detail, "error": m.error}
            for m in summary.models
        ],
        "fusion": _fusion_dict(engine),
    }


def _fusion_dict(engine) -> dict | None:  # noqa: ANN001 - engine.runtime.Engine
    """The live record of the fused score and the vote, and which selector ranks the entries and why."""
    hub = getattr(engine, "hub", None)
    if hub is None or hub.last_fusion is None:
        return None
    rows = {r.source: r for r in hub.score_rows()}
    verdict = hub.selector.verdict()

    def record(name: str) -> dict | None:
        row = rows.get(name)
        return None if row is None else {"hit_rate": row.hit_rate, "majority_hit_rate": row.baseline_hit_rate,
                                         "brier": row.brier, "base_rate_brier": row.baseline_brier,
                                         "scored": row.scored}

    return {"fused": record("fused"), "ensemble_vote": record("ensemble-vote"),
            "shares": {s.name: round(float(hub.last_fusion.shares[i]), 4)
                       for i, s in enumerate(hub.last_fusion.sources)},
            "selector": verdict.used, "selector_reason": verdict.reason}


def _print_summary(summary, engine) -> None:  # noqa: ANN001
    d = _summary_dict(summary, engine)
    print(f"source   {d['source']}")
    print(f"symbols  {', '.join(d['symbols'][:10])}{' …' if len(d['symbols']) > 10 else ''}")
    print(f"bars     {d['bars']}  ({d['first']} → {d['last']})")
    print(f"speed    {d['seconds']:.2f} s wall · {d['bars_per_second']} bars/s")
    for m in d["models"]:
        mean = f"{m['mean_ms']:.2f}" if m["mean_ms"] is not None else "-"
        p95 = f"{m['p95_ms']:.2f}" if m["p95_ms"] is not None else "-"
        print(f"model    {m['name']} [{m['family']}] {m['state']} · {m['predictions']} predictions · "
              f"{mean} ms mean, {p95} ms p95")
        if m["holdout"]:
            print(f"         {m['holdout']}")
        if m["error"]:
            print(f"         error: {m['error']}")
    f = d["fusion"]
    if f:
        def rec(r: dict | None) -> str:
            if not r or r["hit_rate"] is None:
                return "not scored yet"
            return f"hit {r['hit_rate']:.1%} vs majority {r['majority_hit_rate']:.1%} over {r['scored']} rows"

        print(f"fusion   fused: {rec(f['fused'])} · vote alone: {rec(f['ensemble_vote'])}")
        print("         shares " + ", ".join(f"{k} {v:.0%}" for k, v in f["shares"].items()))
        print(f"         selector {f['selector']}: {f['selector_reason']}")


def _report(args: argparse.Namespace) -> int:
    config = _load(args)
    from engine.report import ReportSettings, build_report, format_report, zoo_provider
    from engine.threads import cap_threads

    cap_threads(config.engine.threads)
    if args.data:
        from engine.data.files import load_files

        panel = load_files(args.data[0] if len(args.data) == 1 else args.data)
    else:
        from engine.data.embedded import load_embedded

        panel = load_embedded(config.data.symbols or None)
    e = config.models.ensemble
    settings = ReportSettings(horizon=e.horizon, cost_bps=e.cost_bps, fee_bps=config.trading.fee_bps,
                              slippage_bps=config.trading.slippage_bps, n_folds=args.folds,
                              train_bars=e.train_bars, tiny=args.quick or e.tiny, seed=config.engine.seed,
                              max_bars=args.max_bars)
    providers = []
    if e.enabled:
        from engine.models.zoo import ZOO

        specs = [spec for spec in ZOO if not e.members or spec.name in e.members]
        providers.append(zoo_provider(specs, progress=lambda line: print(line, file=sys.stderr)))
    if config.models.forecast.enabled:
        from engine.forecast.evaluate import forecast_provider

        providers.append(forecast_provider)
    if config.models.rl.enabled:
        from engine.rl.evaluate import rl_provider

        providers.append(rl_provider)
    if config.models.patterns.enabled:
        from engine.patterns.evaluate import patterns_provider

        providers.append(patterns_provider)
    sc = config.models.sentiment
    if sc.enabled:
        from engine.sentiment.evaluate import sentiment_provider

        providers.append(sentiment_provider(model=sc.model, online=sc.online, threads=config.engine.threads))
    if e.enabled and args.fusion:
        from engine.fusion_report import fusion_provider

        replay_config = config if not args.quick else dataclasses.replace(config, models=dataclasses.replace(
            config.models, ensemble=dataclasses.replace(e, tiny=True)))
        providers.append(fusion_provider(replay_config, progress=lambda line: print(line, file=sys.stderr)))
    report = build_report(panel, providers, settings)
    if args.json:
        print(json.dumps(report, allow_nan=False))
    else:
        print(format_report(report))
    return 0


def _train(args: argparse.Namespace) -> int:
    """Checkpoints go to <data dir>/checkpoints, where the cockpit's models look first."""
    options = list(args.options)
    if "--config" in options:  # REMAINDER also swallows options meant for us
        at = options.index("--config")
        args.config, options = options[at + 1] if at + 1 < len(options) else None, options[:at] + options[at + 2:]
    args.options = options
    config = _load(args)
    from engine.threads import cap_threads

    cap_threads(config.engine.threads)
    checkpoints = config.data_dir() / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if args.family == "patterns":
        from engine.patterns.train import main as train_patterns_main

        options = list(args.options)
        if "--out" not in options and "--shipped" not in options:
            options += ["--out", str(checkpoints / "patterns_cnn.pt")]
        return train_patterns_main(options)
    if args.options:
        print(f"cockpit train {args.family}: takes no options (got {' '.join(args.options)}); "
              f"set them in [models.{args.family}] of your config", file=sys.stderr)
        return 2
    if args.family == "sentiment":
        from engine.sentiment.model import train_sentiment

        scores = train_sentiment(str(checkpoints), threads=config.engine.threads, seed=config.engine.seed,
                                 progress=log)
        print(json.dumps(scores, default=str))
        return 0
    from engine.data.embedded import load_embedded

    panel = load_embedded(config.data.symbols or None)
    if args.family == "rl":
        from engine.rl.train import train_rl

        result = train_rl(panel, config.models.rl.params(), checkpoint_dir=checkpoints, seed=config.engine.seed,
                          threads=config.engine.threads, log=log)
    else:
        from engine.forecast.train import train_forecast

        result = train_forecast(panel, config.models.forecast.params(), checkpoint_dir=checkpoints,
                                seed=config.engine.seed, threads=config.engine.threads, log=log)
    print(f"saved {result.path}")
    return 0


def _evolve(args: argparse.Namespace) -> int:
    if args.trials is None and args.hours is None:
        print("cockpit evolve: give a budget: --trials N and/or --hours H", file=sys.stderr)
        return 2
    config = _load(args)
    from engine.strategy.evolve import format_summary, print_progress, run_evolve

    if args.data:
        from engine.data.files import load_files

        panel = load_files(args.data[0] if len(args.data) == 1 else args.data)
    else:
        from engine.data.embedded import load_embedded

        panel = load_embedded(config.data.symbols or None)
    summary = run_evolve(panel, trials=args.trials, hours=args.hours, storage_url=args.storage,
                         study_name=args.study, seed=config.engine.seed, data_dir=config.data_dir(),
                         workers=args.workers, progress_callback=print_progress, json_summary=args.json)
    if not args.json:
        print(format_summary(summary))
    if args.promote:
        from engine.strategy.promoted import PROMOTED_FILE, promote, study_genomes

        path = config.data_dir() / PROMOTED_FILE
        genomes = study_genomes(summary.study, storage_url=args.storage, data_dir=config.data_dir())
        entries = promote(summary, path, genomes=genomes, study=summary.study)
        passing = sum(1 for row in summary.top if row.passes)
        print(f"cockpit evolve: {passing} winner(s) passed the thresholds; {len(entries)} promoted in {path}",
              file=sys.stderr)
    return 0


def _fetch(args: argparse.Namespace) -> int:
    config = _load(args)
    from engine.data.ccxt_feed import make_exchange
    from engine.data.fetch import fetch_history

    c = config.ccxt
    exchange = make_exchange(args.exchange, api_urls=dict(c.api_urls) or None, timeout_ms=c.timeout_ms)
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    summary = fetch_history(exchange, symbols, args.timeframe, since=args.since, until=args.until,
                            cache_dir=config.data_dir() / "cache",
                            progress=lambda line: print(line, file=sys.stderr))
    if args.json:
        print(json.dumps(_fetch_dict(summary)))
    else:
        for row in _fetch_dict(summary)["symbols"]:
            print(f"{row['symbol']:<12} {row['rows']:>7} rows  {row['first']} → {row['last']}  {row['path']}")
    return 0


def _fetch_dict(summary) -> dict:  # noqa: ANN001
    import dataclasses

    return json.loads(json.dumps(dataclasses.asdict(summary), default=str))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
