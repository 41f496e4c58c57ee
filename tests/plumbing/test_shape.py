"""The package keeps the shape the docs promise: layers that import one way, SQL in its place.

Every module belongs to a unit: a plumbing module (``db``, ``auth``, ...) or a
domain folder (``actions``, ``scoring``, ...). A domain's ``routes.py`` and
``commands.py`` are its entry points: only the composition root imports them,
and they may use any unit. Every other module may import only units listed
before its own in :data:`LAYERS`, so no two units ever depend on each other,
not even through an import made only for type checking or inside a function.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.factories import ROOT

PACKAGE = ROOT / "src" / "upscale_api"

LAYERS = [
    # plumbing every other part uses
    "settings",
    "observability",
    "db",
    "validation",
    "errors",
    "i18n",
    "cursors",
    "migrations",
    "roles",
    "auth",
    "body",
    "openapi",
    "input_guard",
    "ratelimit",
    "serving",
    # domains, each using only those above it
    "catalogue",
    "context",
    "residents",
    "actions",
    "notifications",
    "scoring",
    "campaigns",
    "research",
    "consents",
    "participation",
    "impact",
    "reviews",
    "reports",
    "rewards",
    "privacy",
    "opendata",
    "dashboard",
    "definitions",
    "demo",
    "health",
    "worker",
]
"""Lowest first. The composition root (``core``, ``app``, ``commands``, ``cli``, ``asgi``) may import anything."""

COMPOSITION = {"core", "app", "commands", "cli", "asgi", "__main__", "__init__"}
ENTRY_POINTS = {"routes", "commands"}


def _modules() -> list[tuple[Path, str, bool]]:
    """Every module with its unit and whether it is a domain's entry point."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        unit = parts[0]
        found.append((path, unit, len(parts) > 1 and parts[-1] in ENTRY_POINTS))
    return found


def _imported_units(path: Path) -> set[str]:
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = (
                [f"{node.module}.{alias.name}" for alias in node.names]
                if node.module == "upscale_api"
                else [node.module]
            )
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        units |= {name.split(".")[1] for name in names if name.startswith("upscale_api.")}
    return units


def test_every_unit_has_its_place() -> None:
    units = {unit for _, unit, _ in _modules()}

    assert sorted(units - COMPOSITION - set(LAYERS)) == []


def test_units_import_only_those_below_them() -> None:
    rank = {unit: index for index, unit in enumerate(LAYERS)}
    wrong = []
    for path, unit, entry in _modules():
        if unit in COMPOSITION:
            continue
        for used in sorted(_imported_units(path) - {unit}):
            if used in COMPOSITION or (not entry and rank[used] > rank[unit]):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {used}")

    assert wrong == []


def test_only_the_composition_root_imports_entry_points() -> None:
    wrong = []
    for path, unit, _ in _modules():
        source = path.read_text()
        for module in re.findall(r"upscale_api\.(\w+)\.(?:routes|commands)\b", source):
            if unit not in COMPOSITION and module != unit:
                wrong.append(f"{path.relative_to(PACKAGE)} uses {module}'s entry points")

    assert wrong == []


_SQL = re.compile(r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+|DELETE\s+FROM|WITH\s+\w+\s+AS|CREATE|ALTER|DROP)\s")
SQL_LIVES_IN = ("queries.py", "db.py")
"""Besides the migrations and ``scoring/sql/``: a domain's ``queries.py``, and ``db.py`` (databases and locks)."""


def test_sql_lives_in_queries_modules() -> None:
    elsewhere = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in SQL_LIVES_IN or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.match(node.value):
                elsewhere.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")

    assert elsewhere == []
