"""Build the feed, the models and the Engine from a Config."""

from __future__ import annotations

from engine.config import Config
from engine.data.feed import Feed
from engine.models.protocol import Model
from engine.runtime import Engine
from engine.signals_hub import SignalHub
from engine.trading.desk import TradingDesk

SYNTHETIC_BARS = 6000


def build_feed(config: Config) -> Feed:
    """The feed the config asks for (embedded replay by default)."""
    source = config.data.source
    symbols = config.data.symbols or None
    if source == "ccxt":
        from engine.data.ccxt_feed import CcxtFeed, make_exchange

        c = config.ccxt
        exchange = make_exchange(c.exchange, api_urls=dict(c.api_urls) or None, timeout_ms=c.timeout_ms)
        if not symbols:
            from engine.errors import ConfigError

            raise ConfigError(f"{config.source_file or 'config'}: data.symbols must list the exchange's symbols "
                              'for source = "ccxt" (e.g. ["BTC/USDT", "ETH/USDT"])')
        return CcxtFeed(exchange, tuple(symbols), c.timeframe, history_bars=c.history_bars,
                        poll_seconds=c.poll_seconds, max_retries=c.max_retries, backoff_seconds=c.backoff_seconds)

    from engine.data.replay import ReplayFeed

    if source == "files":
        from engine.data.files import load_files

        panel = load_files(list(config.data.files), timeframe=config.data.timeframe or None)
        if symbols:
            panel = panel.select(tuple(symbols))
    elif source == "synthetic":
        from engine.data.synthetic import synthetic_panel

        panel = synthetic_panel(config.data.synthetic_symbols, SYNTHETIC_BARS, seed=config.engine.seed)
        start: str | int | None = int(SYNTHETIC_BARS * 0.7)
        return ReplayFeed(panel, start=start, speed=config.replay.speed)
    else:
        from engine.data.embedded import load_embedded

        panel = load_embedded(tuple(symbols) if symbols else None)
    return ReplayFeed(panel, start=config.replay.start or None, speed=config.replay.speed)


def build_models(config: Config) -> tuple[list[Model], dict[str, int]]:
    """Every enabled model and its walk-forward refit interval (bars)."""
    models: list[Model] = []
    retrain: dict[str, int] = {}
    e = config.models.ensemble
    if e.enabled:
        from engine.models.zoo import build_members

        for member in build_members(e.members or None, horizon=e.horizon, train_bars=e.train_bars,
                                    cost_bps=e.cost_bps, tiny=e.tiny):
            models.append(member)
            retrain[member.name] = e.retrain_every
    fc = config.models.forecast
    if fc.enabled:
        from engine.forecast.lstm import LSTMForecaster

        models.append(LSTMForecaster("lstm", **fc.params()))
        retrain["lstm"] = fc.retrain_every
    rc = config.models.rl
    if rc.enabled:
        from engine.rl.model import DQNModel

        models.append(DQNModel("dqn", **rc.params()))
        retrain["dqn"] = rc.retrain_every
    pc = config.models.patterns
    if pc.enabled:
        from engine.patterns.model import PatternModel

        models.append(PatternModel("patterns", **pc.params()))
        retrain["patterns"] = pc.retrain_every
    st = config.strategy
    if st.promoted:
        from engine.strategy.promoted import PROMOTED_FILE, PromotedStrategies

        timeframe = config.data.timeframe or ("30m" if config.data.source in ("embedded", "synthetic")
                                              else config.ccxt.timeframe)
        models.append(PromotedStrategies("strategies", path=config.data_dir() / PROMOTED_FILE,
                                         base_timeframe=timeframe, step=st.signal_step,
                                         min_window_bars=st.window_bars))
        retrain["strategies"] = st.reload_every
    sc = config.models.sentiment
    if sc.enabled:
        from engine.sentiment.model import SentimentModel

        models.append(SentimentModel(
            "sentiment", model=sc.model, online=sc.online, feeds=sc.feeds, files=sc.files, sample=sc.sample,
            poll_seconds=sc.poll_seconds, sample_every_minutes=sc.sample_every_minutes,
            half_life_minutes=sc.half_life_minutes, max_age_minutes=sc.max_age_minutes, horizon=sc.horizon,
            signal_gain=sc.signal_gain, batch_size=sc.batch_size, max_per_cycle=sc.max_per_cycle))
    return models, retrain


def build_hub(config: Config, symbols: tuple[str, ...]) -> SignalHub:
    from engine.selector import SelectorTrial

    e, f = config.models.ensemble, config.fusion
    selector = SelectorTrial(mode=f.selector, horizon=e.horizon, cost_bps=e.cost_bps,
                             min_outcomes=f.selector_min_outcomes, min_t=f.selector_min_t)
    return SignalHub(symbols, horizon=e.horizon, cost_bps=e.cost_bps, window=e.score_window, min_scored=e.min_scored,
                     weighting=f.weighting, fixed=f.fixed, selector=selector,
                     buy_threshold=config.trading.buy_threshold, max_picks=config.trading.max_per_cycle)


def build_desk(config: Config, feed: Feed, *, live: bool = False) -> TradingDesk:
    """The paper desk, or with `[trading] mode = "live"` AND `live` (the --live flag) the live one."""
    from engine.trading.live_opt_in import check_opt_in

    check_opt_in(config.trading.mode, live, config_file=config.source_file, source=config.data.source)
    if live:
        from engine.trading.live_desk import build_live_desk

        return build_live_desk(config, feed.symbols, feed.timeframe)
    data_dir = config.data_dir() / "paper" / config.data.source  # one paper account per data source
    data_dir.mkdir(parents=True, exist_ok=True)
    return TradingDesk.paper(data_dir, config.trading, config.risk, symbols=feed.symbols, timeframe=feed.timeframe)


def build_engine(config: Config, *, feed: Feed | None = None, with_monitor: bool = True,
                 with_desk: bool = True, with_evolution: bool = True, with_governor: bool = True,
                 live: bool = False) -> Engine:
    from engine.governor import Governor
    from engine.threads import cap_threads

    cap_threads(config.engine.threads)
    models, retrain = build_models(config)
    monitor = None
    if with_monitor:
        from engine.monitor import Monitor

        monitor = Monitor(slow_interval=config.monitor.slow_interval_seconds)
    feed = feed or build_feed(config)
    return Engine(config, feed=feed, models=models, monitor=monitor, retrain_every=retrain,
                  hub=build_hub(config, feed.symbols), desk=build_desk(config, feed, live=live) if with_desk else None,
                  evolution=build_evolution(config) if with_evolution else None,
                  governor=Governor(config.governor) if with_governor else None)


def build_evolution(config: Config):  # noqa: ANN201 - EvolutionWorker (imported lazily)
    """The background strategy search, or None when [strategy] background is off."""
    st = config.strategy
    if not st.background:
        return None
    from engine.strategy.background import EvolutionSpec, EvolutionWorker

    symbols = config.data.symbols if config.data.source == "embedded" else ()
    return EvolutionWorker(EvolutionSpec(source="embedded", symbols=tuple(symbols), bars=st.bars,
                                         trials=st.trials or None, hours=st.hours or None,
                                         data_dir=config.data_dir(), storage_url=st.storage or None,
                                         study_name=st.study, seed=config.engine.seed))
