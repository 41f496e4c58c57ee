"""The docs name files that exist, and every problem type the API answers with is documented.

A reference is a path in backticks (`src/upscale_api/db.py`, `docs/api.md`,
`scoring/queries.py`), or a path from the repository's top without them
(docs/api.md), in the README, in `docs/`, in `bench/README.md` or in a
module docstring. It may be relative to the repository, to the package, to the
document's own folder or to `campaigns/`; a bare file name (`sender.py`) must
name a file somewhere in the repository. Placeholders (`<domain>/routes.py`,
`NNNN_name.sql`) are not references.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.factories import ROOT
from upscale_api.errors import TITLES

PACKAGE = ROOT / "src" / "upscale_api"
_QUOTED = re.compile(r"`([^`\s]+)`")
_PLAIN = re.compile(r"(?<![\w/.])((?:docs|bench|tests|src|infra|campaigns)/[\w\-/]+\.\w+)")
_PATH = re.compile(r"^[\w.\-/]+\.(py|md|sql|toml|json|yaml|yml|txt|lock)$|^[\w.\-]+/[\w.\-/]*$")
_PLACEHOLDER = re.compile(r"[<>{}*]|NNNN|^[A-Z_]+/|^[\d/.]+$")  # numbers such as a rate's 60/60 are no paths
_NOT_FILES = ("http", "/v1", "/health", "/schema", "/problems", "/metrics")


def _documents() -> list[tuple[Path, str]]:
    docs = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [(doc, doc.read_text()) for doc in docs]
    for module in sorted(PACKAGE.rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(module.read_text())) or ""
        found.append((module, docstring))
    return found


def _references(text: str) -> set[str]:
    quoted = {token.rstrip(".,:;") for token in [*_QUOTED.findall(text), *_PLAIN.findall(text)]}
    return {
        token
        for token in quoted
        if _PATH.match(token) and not _PLACEHOLDER.search(token) and not token.startswith(_NOT_FILES)
    }


def _exists(reference: str, document: Path, names: set[str]) -> bool:
    if reference.startswith(".upscale/"):  # the data folder: written by running the service and the tests
        return True
    bases = (ROOT, PACKAGE, document.parent, ROOT / "campaigns", ROOT / "src")
    if any((base / reference).exists() for base in bases):
        return True
    return "/" not in reference.rstrip("/") and reference in names


def test_every_file_the_docs_name_exists() -> None:
    names = {path.name for path in ROOT.rglob("*") if ".venv" not in path.parts and ".git" not in path.parts}

    missing = [
        f"{document.relative_to(ROOT)}: {reference}"
        for document, text in _documents()
        for reference in sorted(_references(text))
        if not _exists(reference, document, names)
    ]

    assert missing == []


def test_every_problem_type_is_documented() -> None:
    documented = (ROOT / "docs" / "errors.md").read_text()

    assert [kind for kind in TITLES if f"`/problems/{kind}`" not in documented] == []
