import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import themes
from app.theming import SEMANTIC_KEYS, PaletteError, load_palette, load_palettes

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "themes" / "palettes" / "cockpit-dark.toml").read_text(encoding="utf-8")


def test_stylesheets_exist_in_load_order():
    paths = themes.stylesheet_paths()
    assert paths[0].name == "cockpit.tcss"
    assert all(p.is_file() and p.suffix == ".tcss" for p in paths)
    panes = {p.stem for p in paths if p.parent.name == "panes"}
    assert {"header", "price", "watchlist", "resources", "models", "log"} <= panes


def test_every_pane_module_has_its_stylesheet_and_no_default_css():
    pane_modules = {p.stem for p in (ROOT / "app" / "panes").glob("*.py") if p.stem != "__init__"}
    styled = {p.stem for p in (ROOT / "themes" / "panes").glob("*.tcss")}
    helpers = {"quote"}  # pure code, no widget
    assert pane_modules - helpers == styled
    for source in (ROOT / "app").rglob("*.py"):
        assert "DEFAULT_CSS" not in source.read_text(encoding="utf-8"), source


def test_tcss_uses_theme_variables_not_literal_colours():
    declaration = re.compile(r"^\s+[a-z-]+\s*:\s*([^;]*);", re.MULTILINE)
    literal = re.compile(r"#[0-9a-fA-F]{3,8}\b|\brgba?\(|\bhsl\(")
    for path in themes.stylesheet_paths():
        values = declaration.findall(path.read_text(encoding="utf-8"))
        assert values, path
        assert [v for v in values if literal.search(v)] == [], path


def test_themes_package_imports_only_the_standard_library():
    tree = ast.parse((ROOT / "themes" / "__init__.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_palettes_load_with_every_semantic_variable():
    palettes = load_palettes()
    assert palettes.names[:2] == ("cockpit-dark", "cockpit-light")
    for theme in palettes.themes:
        assert set(SEMANTIC_KEYS) <= set(theme.variables)
    assert palettes.themes[1].dark is False
    assert palettes.next_after("cockpit-dark") == "cockpit-light"
    assert palettes.next_after("cockpit-light") == "cockpit-dark"
    assert palettes.next_after("nord") == "cockpit-dark"
    assert set(palettes.semantic_defaults()) == set(SEMANTIC_KEYS)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('name = "cockpit-dark"\n', ""), "missing key 'name'"),
    (lambda t: t.replace('bull = "#4EC27A"', 'bull = "not-a-colour"'), "variables.bull"),
    (lambda t: t.replace('bear = "#E0605A"        # price down, probability below one half\n', ""),
     "missing key 'variables.bear'"),
    (lambda t: t.replace("dark = true", "dark = true\nprimery = \"#000000\""), "unknown key 'primery'"),
    (lambda t: t.replace("dark = true", "dark = 'yes'"), "dark must be true or false"),
    (lambda t: t + "\n[[[", "cannot read palette"),
])
def test_bad_palette_names_file_and_key(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD), encoding="utf-8")
    with pytest.raises(PaletteError, match="bad.toml") as info:
        load_palette(path)
    assert message in str(info.value)


def test_importing_the_app_loads_no_heavy_libraries():
    code = (
        "import sys, app, app.cockpit\n"
        "heavy = [m for m in ('torch', 'lightgbm', 'sklearn', 'transformers', 'pandas') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
