"""The generic top-level names `app` and `engine` must resolve to this project,
and the import boundaries of DESIGN.md must hold (checked in fresh subprocesses)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_app_and_engine_resolve_inside_this_project():
    import app
    import engine
    import themes

    for pkg in (app, engine, themes):
        assert Path(pkg.__file__).resolve().is_relative_to(ROOT), pkg.__file__


@pytest.mark.parametrize("statement", [
    "import engine",
    "import engine.runtime, engine.assembly, engine.features, engine.monitor, engine.bench",
    "import engine.data.replay, engine.data.embedded, engine.data.files, engine.data.ccxt_feed",
])
def test_engine_never_loads_textual_or_rich(statement):
    loaded = _modules_after(statement)
    assert not {m for m in loaded if m.split(".")[0] in {"textual", "rich", "app"}}


def test_app_loads_no_heavy_model_libraries():
    loaded = _modules_after("import app, app.cli, app.cockpit")
    heavy = {m.split(".")[0] for m in loaded} & {"torch", "transformers", "lightgbm", "sklearn", "optuna"}
    assert not heavy


def test_cli_help_loads_no_textual():
    loaded = _modules_after("import app.cli")
    assert not {m for m in loaded if m.split(".")[0] == "textual"}


def test_engine_sources_do_not_import_the_ui():
    ui_import = re.compile(r"^\s*(from|import)\s+(textual|rich|app)\b", re.MULTILINE)
    for path in (ROOT / "engine").rglob("*.py"):
        match = ui_import.search(path.read_text())
        assert match is None, f"{path} imports the UI: {match.group(0).strip() if match else ''}"
