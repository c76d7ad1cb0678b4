"""`cockpit` — the command line front door.

Only the TUI path imports Textual; `--json` output is one JSON object on
stdout and everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Sequence

SUBCOMMANDS = ("tui", "run", "report", "bench", "fetch", "evolve", "train")


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

    run = sub.add_parser("run", help="run the engine without the UI")
    common(run)
    run.add_argument("--headless", action="store_true", help="no UI (required: the TUI is `cockpit`)")
    run.add_argument("--bars", type=int, default=1000, help="bars to run (default 1000)")
    run.add_argument("--source", choices=("embedded", "files", "ccxt", "synthetic"), help="override [data] source")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    report = sub.add_parser("report", help="walk-forward scoreboard of every model against its baselines")
    common(report)
    report.add_argument("--data", nargs="+", metavar="PATH",
                        help="your own OHLCV files instead of the embedded data (CSV, Parquet, Feather)")
    report.add_argument("--json", action="store_true", help="print the report as one JSON object")
    report.add_argument("--folds", type=int, default=5, help="walk-forward folds (default 5)")
    report.add_argument("--max-bars", type=int, help="evaluate only the newest N bars")
    report.add_argument("--quick", action="store_true", help="tiny models (a smoke run, not numbers to quote)")

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
    bench.add_argument("--symbols", type=int, default=500, help="synthetic universe size (default 500)")
    bench.add_argument("--bars", type=int, default=200, help="engine cycles to time (default 200)")
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

        only = tuple(p.strip() for p in args.only.split(",")) if args.only else None
        return run_bench(_load(args), symbols=args.symbols, bars=args.bars, as_json=args.json, quick=args.quick,
                         only=only)
    if args.command == "fetch":
        return _fetch(args)
    return _tui(args)


def _tui(args: argparse.Namespace) -> int:
    import dataclasses

    config = _load(args)
    if args.speed is not None:
        config = dataclasses.replace(config, replay=dataclasses.replace(config.replay, speed=args.speed))
        config.replay.validate()
    from engine.assembly import build_engine

    engine = build_engine(config)
    from app.cockpit import CockpitApp

    app = CockpitApp(engine, theme=args.theme or config.ui.theme, symbol=config.ui.symbol or None,
                     speed=config.replay.speed)
    app.run()
    return app.return_code or 0


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    if not args.headless:
        print("cockpit run: add --headless (the interactive cockpit is plain `cockpit`)", file=sys.stderr)
        return 2
    config = _load(args)
    config = dataclasses.replace(config, replay=dataclasses.replace(config.replay, speed=0.0))
    from engine.assembly import build_engine

    engine = build_engine(config, with_monitor=False)
    print(f"cockpit: {engine.source} · {len(engine.symbols)} symbols · warming up models…", file=sys.stderr)
    step = max(1, args.bars // 10)

    def progress(done: int) -> None:
        if done % step == 0:
            print(f"  {done}/{args.bars} bars", file=sys.stderr)

    summary = engine.run_bars(args.bars, on_bar=progress)
    engine.stop()
    if args.json:
        print(json.dumps(_summary_dict(summary, engine)))
    else:
        _print_summary(summary, engine)
    return 0


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
    }


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
