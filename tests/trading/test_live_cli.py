"""The double opt-in and the secrets, through the command line.

- live mode without --live, or --live without live mode: refused, saying why;
- a key file others can read: refused, saying why and how to fix it;
- the secret-scan test: `cockpit run --headless --live` against the stand-in
  with a fake key, then every byte the process wrote (stdout, stderr, every
  file in its data directory: ledger, logs, caches) is searched for the
  key and the secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from app.cli import main
from engine.events import Side
from engine.trading.broker import OrderRequest
from engine.trading.ledger import Ledger
from tests.standin_exchange import StandinExchange

from ._live_support import KEY, PRICES, SECRET, make_broker

ROOT = Path(__file__).resolve().parents[2]
START = 10_000.0


def write_config(path: Path, *, mode: str = "live", source: str = "ccxt", key_file: Path | None = None,
                 api_urls: dict[str, str] | None = None, data_dir: Path | None = None) -> Path:
    lines = [
        "[data]", f'source = "{source}"', 'symbols = ["BTC/USDT", "ETH/USDT"]',
        "[ccxt]", 'timeframe = "1h"', "history_bars = 30", "timeout_ms = 3000", "max_retries = 2",
        "backoff_seconds = 0.01",
    ]
    if api_urls:
        lines.append("[ccxt.api_urls]")
        lines += [f'{k} = "{v}"' for k, v in sorted(api_urls.items())]
    lines += ["[trading]", f'mode = "{mode}"', "recv_window_ms = 2000"]
    if key_file is not None:
        lines.append(f'key_file = "{key_file}"')
    for family in ("ensemble", "sentiment", "forecast", "patterns", "rl"):
        lines += [f"[models.{family}]", "enabled = false"]
    lines += ["[strategy]", "background = false", "promoted = false"]
    if data_dir is not None:
        lines += ["[paths]", f'data_dir = "{data_dir}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def private_key_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "keys" / "binance.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'api_key = "{KEY}"\nsecret = "{SECRET}"\n')
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("command", [["run", "--headless", "--bars", "1"], ["tui"]])
def test_live_mode_without_the_flag_refuses_to_start_and_says_why(tmp_path, capsys, command):
    config = write_config(tmp_path / "live.toml", data_dir=tmp_path / "data")
    assert main([*command, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert 'mode = "live"' in err and "--live is not on the command line" in err and "will not start" in err
    assert not (tmp_path / "data").exists()  # refused before anything was opened


@pytest.mark.parametrize("command", [["run", "--headless", "--bars", "1"], ["tui"]])
def test_the_flag_without_live_mode_refuses_too(tmp_path, capsys, command):
    config = write_config(tmp_path / "paper.toml", mode="paper", data_dir=tmp_path / "data")
    assert main([*command, "--live", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "--live was given" in err and 'mode is "paper"' in err and "will not start" in err


def test_a_key_file_others_can_read_refuses_to_start(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PI_COCKPIT_API_KEY", raising=False)
    monkeypatch.delenv("PI_COCKPIT_API_SECRET", raising=False)
    keys = private_key_file(tmp_path, 0o644)
    config = write_config(tmp_path / "live.toml", key_file=keys, data_dir=tmp_path / "data")
    assert main(["run", "--headless", "--live", "--bars", "1", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "mode is 0644" in err and "other users" in err and f"chmod 600 {keys}" in err
    assert SECRET not in err and KEY not in err


def test_live_trading_needs_exchange_prices(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PI_COCKPIT_API_KEY", KEY)
    monkeypatch.setenv("PI_COCKPIT_API_SECRET", SECRET)
    config = write_config(tmp_path / "live.toml", source="embedded", data_dir=tmp_path / "data")
    assert main(["run", "--headless", "--live", "--bars", "1", "--config", str(config)]) == 2
    assert 'live trading needs live prices from the exchange: set [data] source = "ccxt"' in capsys.readouterr().err


def _scan(outputs: list[bytes], root: Path, skip: Path) -> list[str]:
    hits = []
    needles = {KEY.encode(), SECRET.encode(), quote(KEY, safe="").encode(), quote(SECRET, safe="").encode()}
    for i, blob in enumerate(outputs):
        hits += [f"output {i}" for n in needles if n in blob]
    for path in root.rglob("*"):
        if path.is_file() and path != skip:
            data = path.read_bytes()
            hits += [str(path) for n in needles if n in data]
    return hits


def _cockpit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          timeout=180)


@pytest.mark.slow
def test_no_secret_in_anything_a_live_run_writes(tmp_path):
    home = tmp_path / "home"
    keys = private_key_file(tmp_path)
    with StandinExchange(api_key=KEY, balances={"USDT": START, "ETH": 0.25}) as standin:
        for market, price in PRICES.items():
            standin.set_price(market, price)
        # an order the ledger holds as "new" that the exchange did receive: the run must reconcile it
        broker = make_broker(standin)
        broker.reconcile([], cash=START, positions=[])
        sent = OrderRequest(client_order_id="pc-scan-1", symbol="BTC/USDT", side=Side.BUY, order_type="market",
                            quantity=0.01)
        data_dir = home / "live" / "binance"
        ledger = Ledger.in_dir(data_dir, mode="live", starting_cash=START)
        ledger.record_order(sent)
        ledger.close()
        broker.submit(sent)
        standin.book.api_keys.clear()

        config = write_config(tmp_path / "live.toml", key_file=keys, api_urls=standin.api_urls(), data_dir=home)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PI_COCKPIT_API")}
        env.update(PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        standin.inject("500", path="/api/v3/myTrades")  # a retried error on the way
        ok = _cockpit(["run", "--headless", "--live", "--bars", "0", "--config", str(config)], env)
        assert ok.returncode == 0, ok.stderr.decode()
        err = ok.stderr.decode()
        assert "LIVE trading on binance" in err
        assert "pc-scan-1" in err and "reconciled 1 unfinished order" in err
        assert "0.25 ETH" in err  # a difference shown before trading
        assert standin.book.api_keys and set(standin.book.api_keys) == {KEY}  # the key really was sent
        ledger = Ledger.in_dir(data_dir, mode="live")
        assert ledger.order("pc-scan-1").status == "filled" and len(ledger.fills()) == 1
        ledger.close()

        # the same with the key in the environment and a secret the exchange refuses
        standin.inject("401", times=10, path="/api/v3/account")
        env_keys = dict(env, PI_COCKPIT_API_KEY=KEY, PI_COCKPIT_API_SECRET=SECRET)
        refused = _cockpit(["run", "--headless", "--live", "--bars", "0", "--config", str(config)], env_keys)
        assert refused.returncode == 2
        if os.environ.get("SHOW_LIVE_RUN"):
            print(ok.stderr.decode(), refused.stderr.decode(), sep="\n---\n")
        assert "refused the credentials" in refused.stderr.decode()

    hits = _scan([ok.stdout, ok.stderr, refused.stdout, refused.stderr], tmp_path, skip=keys)
    assert hits == [], f"a credential leaked into {hits}"
    assert list(home.rglob("ledger.sqlite*")), "the scan must cover the ledger"


def test_a_secret_pasted_into_the_config_is_refused_without_echoing_it(tmp_path, capsys):
    config = write_config(tmp_path / "live.toml", data_dir=tmp_path / "data")
    config.write_text(config.read_text().replace('[trading]\n', f'[trading]\nsecret = "{SECRET}"\n'))
    assert main(["run", "--headless", "--live", "--bars", "1", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert '[trading] unknown key "secret"' in err and SECRET not in err
