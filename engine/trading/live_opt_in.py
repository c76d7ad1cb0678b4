"""The double opt-in for live trading, kept free of heavy imports so a refusal is instant.

Live trading starts only with `[trading] mode = "live"` in the config AND
`--live` on the command line; either alone refuses to start, naming the
missing one.
"""

from __future__ import annotations

from engine.errors import ConfigError, LiveTradingNotEnabled


def check_opt_in(mode: str, live_flag: bool, *, config_file: str = "", source: str = "ccxt") -> None:
    """Refuse, saying which opt-in is missing, unless both or neither are given; live needs exchange prices."""
    where = config_file or "the configuration"
    if mode == "live" and not live_flag:
        raise LiveTradingNotEnabled(
            f'{where}: [trading] mode = "live", but --live is not on the command line: live trading needs both, '
            "so the cockpit will not start",
            hint='add --live to trade real money, or set mode = "paper"')
    if live_flag and mode != "live":
        raise LiveTradingNotEnabled(
            f'--live was given, but [trading] mode is "{mode}" in {where}: live trading needs both, '
            "so the cockpit will not start",
            hint='set [trading] mode = "live" in your config, or drop --live')
    if live_flag and source != "ccxt":
        raise ConfigError(f'{where}: live trading needs live prices from the exchange: set [data] source = "ccxt" '
                          f'(now "{source}")')
