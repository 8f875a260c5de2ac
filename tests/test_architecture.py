"""The architecture is checked, not only drawn: the layers of shared/ARCHITECTURE.md are
import-linter contracts in pyproject.toml, and modules stay small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rlm_tui"


def test_the_import_contracts_hold():
    # A process of its own: grimp imports nothing of ours, but reads every module's imports,
    # deferred ones included; no cache, so a stale one can never hide a crossing.
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_module_passes_500_lines_and_the_app_stays_a_composition_root():
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 500} == {}
    assert sizes["rlm_tui/tui/app.py"] < 300


def test_every_module_of_the_package_is_in_a_layer():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    listed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    present = {f"rlm_tui.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    present |= {f"rlm_tui.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")}
    assert present - listed == set()
