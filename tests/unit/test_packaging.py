"""chargeflow installs one top-level package: its layers are imported as `chargeflow.domain`,
`chargeflow.statemachines`, `chargeflow.engines` and `chargeflow.persistence` only (the folders
at the repository's root are those subpackages through symlinks). A bare `domain...` import
anywhere would load a second copy of a module, with classes that are not the package's own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

LAYERS = ("domain", "statemachines", "engines", "persistence")
ROOT = Path(__file__).parents[2]
SOURCES = ("chargeflow", *LAYERS, "tests", "benchmarks")

WALK_EVERY_MODULE = """
import importlib, pkgutil, sys
import chargeflow
for module in pkgutil.walk_packages(chargeflow.__path__, "chargeflow."):
    importlib.import_module(module.name)
print(" ".join(sorted({name.partition(".")[0] for name in sys.modules})))
"""


def bare_layer_imports(path: Path) -> list[str]:
    """The imports in `path` whose top-level name is a layer's, as `file:line module`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        else:
            continue
        found += [f"{path}:{node.lineno} {m}" for m in modules if m.partition(".")[0] in LAYERS]
    return found


def test_no_code_imports_a_layer_by_its_bare_name() -> None:
    paths = [
        path
        for source in SOURCES
        if (ROOT / source).is_dir()
        for path in (ROOT / source).rglob("*.py")
    ]
    assert [found for path in paths for found in bare_layer_imports(path)] == []


def test_importing_every_module_of_chargeflow_loads_no_bare_layer() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", WALK_EVERY_MODULE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "chargeflow" in loaded
    assert set(LAYERS) & set(loaded) == set()
