"""The migrations keep the persistence layer's import rule, which import-linter cannot see
(their folder is not a package): they import the domain and persistence only, never the
engines, the machines or the application, so old data never migrates through later code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chargeflow.persistence.sql.schema import MIGRATIONS

OURS = ("chargeflow", "domain", "statemachines", "engines", "persistence")
ALLOWED = ("chargeflow.domain", "chargeflow.persistence")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def allowed(module: str) -> bool:
    """Whether a migration may import `module`: anything not ours, or chargeflow.domain and
    chargeflow.persistence (a bare `domain...` or `persistence...` is not ours to import)."""
    if module.partition(".")[0] not in OURS:
        return True
    return any(module == prefix or module.startswith(f"{prefix}.") for prefix in ALLOWED)


@pytest.mark.parametrize("path", sorted(MIGRATIONS.rglob("*.py")), ids=lambda path: path.name)
def test_a_migration_imports_neither_engines_nor_machines_nor_the_app(path: Path) -> None:
    assert {m for m in imported_modules(path) if not allowed(m)} == set()
