"""The command line end to end (in-process): headless run, bench, fetch, bad input."""

import json
from pathlib import Path

import pandas as pd
import pytest

from app.cli import main
from tests.standin_exchange import StandinExchange

DATA = Path(__file__).resolve().parent / "data"


def write_config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "cockpit.toml"
    path.write_text(body)
    return str(path)


SMALL = ('[models.ensemble]\nmembers = ["logreg", "lightgbm_small", "gaussian_nb"]\ntiny = true\ntrain_bars = 1500\n'
         '[models.sentiment]\nenabled = false\n[models.forecast]\nenabled = false\n'
         '[models.patterns]\nenabled = false\n[models.rl]\nenabled = false\n'
         '[strategy]\nbackground = false\npromoted = false\n')


OTHERS_OFF = "".join(f"[models.{f}]\nenabled = false\n" for f in ("sentiment", "forecast", "patterns", "rl")) + \
    "[strategy]\nbackground = false\npromoted = false\n"


def test_headless_run_on_the_embedded_data_prints_json(tmp_path, capsys):
    assert main(["run", "--headless", "--bars", "30", "--json", "--config", write_config(tmp_path, SMALL)]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["bars"] == 30 and summary["symbols"] == ["BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "EOS/USD"]
    assert summary["first"].startswith("2019-06-01")
    names = [m["name"] for m in summary["models"]]
    assert names == ["logreg", "lightgbm_small", "gaussian_nb"]
    for model in summary["models"]:
        assert model["family"] == "ensemble" and model["predictions"] == 30 and "holdout" in model["holdout"]
    assert "warming up" in err
    fusion = summary["fusion"]
    assert fusion["fused"]["scored"] > 0 and fusion["ensemble_vote"]["scored"] > 0
    assert fusion["shares"].keys() == {"ensemble-vote"} and fusion["selector"] == "rank"


def test_headless_run_on_the_users_files(tmp_path, capsys):
    rng = pd.date_range("2020-01-01", periods=900, freq="1h", tz="UTC")
    closes = 100 * (1 + 0.001 * pd.Series(range(900)).apply(lambda i: (i * 7919) % 13 - 6)).cumprod()
    frame = pd.DataFrame({"date": rng.strftime("%Y-%m-%d %H:%M:%S"), "open": closes, "high": closes * 1.01,
                          "low": closes * 0.99, "close": closes, "volume": 5.0})
    frame.to_csv(tmp_path / "AAA-USD.csv", index=False)
    frame.assign(close=closes * 1.002, high=closes * 1.012).to_parquet(tmp_path / "BBB-USD.parquet")
    cfg = write_config(tmp_path, f'[data]\nsource = "files"\nfiles = ["{tmp_path}/AAA-USD.csv", "{tmp_path}/BBB-USD.parquet"]\n'
                                 '[replay]\nstart = ""\n[models.ensemble]\nmembers = ["logreg"]\ntiny = true\n'
                                 'train_bars = 500\nhorizon = 2\n' + OTHERS_OFF)
    assert main(["run", "--headless", "--bars", "10", "--json", "--config", cfg]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["symbols"] == ["AAA/USD", "BBB/USD"] and summary["bars"] == 10


def test_a_malformed_csv_row_stops_naming_file_and_row(tmp_path, capsys):
    bad = DATA / "candles" / "bad_number.csv"
    cfg = write_config(tmp_path, f'[data]\nsource = "files"\nfiles = ["{bad}"]\n')
    assert main(["run", "--headless", "--bars", "5", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert "bad_number.csv" in err and "line " in err


def test_bench_json_has_machine_and_measured_rows(tmp_path, capsys):
    cfg = write_config(tmp_path, SMALL)
    assert main(["bench", "--symbols", "20", "--bars", "20", "--json", "--quick", "--only", "engine,ensemble",
                 "--config", cfg]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["machine"]["cores"] >= 1
    names = {r["name"] for r in report["results"]}
    assert {"features.batch.embedded", "engine.cycle.embedded", "engine.cycle.synthetic20",
            "ensemble.train.total", "ensemble.predict.total"} <= names
    for row in report["results"]:
        assert {"name", "family", "symbols", "seconds", "rss_mb", "throughput", "unit"} <= row.keys()
        assert row["seconds"] > 0 and row["rss_mb"] > 0


@pytest.mark.timeout(60)
def test_fetch_through_the_cli_against_the_loopback_exchange(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path / "home"))
    with StandinExchange(now=lambda: 1_706_745_600.0) as standin:  # 2024-02-01
        urls = "\n".join(f'{k} = "{v}"' for k, v in standin.api_urls().items())
        cfg = write_config(tmp_path, f"[ccxt.api_urls]\n{urls}\n")
        args = ["fetch", "--config", cfg, "--exchange", "binance", "--symbols", "BTC/USDT,ETH/USDT",
                "--timeframe", "1d", "--since", "2024-01-01", "--until", "2024-02-01", "--json"]
        assert main(args) == 0
        first = json.loads(capsys.readouterr().out)
        assert [s["rows"] for s in first["symbols"]] == [31, 31]
        assert main(args) == 0  # resumable: nothing new to fetch
        second = json.loads(capsys.readouterr().out)
        assert [s["rows"] for s in second["symbols"]] == [0, 0]
    assert (tmp_path / "home" / "cache" / "binance").is_dir()


def test_report_json_lists_members_next_to_baselines(tmp_path, capsys):
    cfg = write_config(tmp_path, '[models.ensemble]\nmembers = ["logreg", "gaussian_nb", "decision_tree"]\n'
                                 'train_bars = 1000\n[models.sentiment]\nenabled = false\n'
                                 '[models.forecast]\nenabled = false\n[models.patterns]\nenabled = false\n[models.rl]\nenabled = false\n'
                                 '[strategy]\nbackground = false\npromoted = false\n')
    assert main(["report", "--json", "--quick", "--fusion", "--max-bars", "3000", "--folds", "2", "--config", cfg]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["data"]["symbols"] == ["BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "EOS/USD"]
    assert [m["name"] for m in report["models"]] == ["logreg", "gaussian_nb", "decision_tree", "fused"]
    fused = report["models"].pop()
    assert fused["family"] == "fusion" and fused.get("error") is None, fused
    assert fused["metrics"]["n_test"] > 0 and fused["metrics"]["live_hit_rate"] is not None
    assert {"majority", "ensemble_vote"} <= fused["baselines"].keys()
    assert any(n.startswith("selector: rank") for n in fused["notes"]), "no DQN here: the ranking selects, and says why"
    for row in report["models"]:
        assert row["family"] == "ensemble"
        assert {"hit_rate", "brier", "auc"} <= row["metrics"].keys()
        assert {"majority", "always_up", "buy_and_hold"} <= row["baselines"].keys()


def test_report_on_the_users_file_names_a_bad_row(tmp_path, capsys):
    assert main(["report", "--data", str(DATA / "candles" / "high_below_low.csv")]) == 2
    err = capsys.readouterr().err
    assert "high_below_low.csv" in err and "line" in err


@pytest.mark.slow
def test_report_on_the_embedded_data_has_every_family(capsys):
    assert main(["report", "--json", "--quick", "--max-bars", "4000", "--folds", "2"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    members = [m for m in report["models"] if m["family"] == "ensemble"]
    assert len(members) >= 12
    (sentiment,) = [m for m in report["models"] if m["family"] == "sentiment"]
    assert {"vader", "majority"} <= sentiment["baselines"].keys()
    assert sentiment["metrics"]["accuracy"] > sentiment["baselines"]["majority"]["accuracy"]
    forecasts = [m for m in report["models"] if m["family"] == "forecast"]
    assert {"lstm 1h", "lstm 4h"} <= {m["name"] for m in forecasts}
    for row in forecasts:
        assert row.get("error") is None, row
    assert [m for m in report["models"] if m["family"] == "rl"], "the DQN row is missing"
    patterns = {m["name"]: m for m in report["models"] if m["family"] == "patterns"}
    assert {"patterns cnn", "patterns real", "patterns signal"} <= patterns.keys()
    assert all(row.get("error") is None for row in patterns.values())
    for row in members:
        assert row.get("error") is None, row
        assert row["metrics"]["n_test"] > 0
        assert row["baselines"]["majority"]["hit_rate"] is not None


@pytest.mark.slow
def test_evolve_cli_prints_top_strategies_with_holdout_and_overfitting(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path / "home"))
    assert main(["evolve", "--trials", "40", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    text = json.dumps(summary)
    assert "deflated" in text and "holdout" in text.replace("hold_out", "holdout").replace("hold-out", "holdout")
    assert main(["evolve", "--trials", "60", "--json", "--promote"]) == 0  # resumes the same study
    out, err = capsys.readouterr()
    again = json.loads(out.strip().splitlines()[-1])
    assert json.dumps(again) != text
    assert "passed the thresholds" in err and (tmp_path / "home" / "promoted.json").exists()


def test_evolve_needs_a_budget(capsys):
    assert main(["evolve"]) == 2
    assert "--trials" in capsys.readouterr().err


@pytest.mark.slow
def test_train_rl_writes_a_checkpoint_the_model_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PI_COCKPIT_HOME", str(tmp_path / "home"))
    cfg = write_config(tmp_path, "[models.rl]\ntrain_bars = 600\npretrain_steps = 1000\nchunk_steps = 500\n"
                                 "episode_bars = 200\n")
    assert main(["train", "rl", "--config", cfg]) == 0
    assert "saved" in capsys.readouterr().out
    assert list((tmp_path / "home" / "checkpoints").glob("dqn*"))


def test_train_rejects_options_it_does_not_take(capsys):
    assert main(["train", "forecast", "--epochs", "3"]) == 2
    assert "[models.forecast]" in capsys.readouterr().err
