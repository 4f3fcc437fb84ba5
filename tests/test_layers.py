"""The house has no cycles: ``service`` is below both doors, and the doors never reach into each other.

``server`` (FastAPI) and ``webui`` (Gradio) may import ``service``; ``service`` imports neither;
only the top-level ``app.py`` puts the two doors together. Every import statement counts, at any
depth (one inside a function, or under ``TYPE_CHECKING``, is a dependency all the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: package -> the top-level packages its modules must never import
FORBIDDEN = {"server": {"webui"}, "webui": {"server"}, "service": {"server", "webui"}}


def imported(source: str, package: str) -> set[str]:
    """Full names of every module ``source`` imports, relative imports resolved from ``package``
    (the dotted package the module lies in: for an ``__init__.py``, its own)."""
    here = package.split(".")
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            anchor = here[: len(here) - node.level + 1] if node.level else []  # from . import x: this package; from .. : its parent
            base = ".".join([*anchor, node.module] if node.module else anchor)
            names |= {base} if node.module else {".".join(filter(None, (base, alias.name))) for alias in node.names}
    return names


def violations(source: str, module: str, package: str | None = None) -> list[str]:
    """The imports of ``module`` (in ``package``: by default, its parent) that cross its layer's line."""
    banned = FORBIDDEN[module.split(".")[0]]
    names = imported(source, package or module.rpartition(".")[0] or module)
    return sorted(name for name in names if name.split(".")[0] in banned)


def modules() -> list[tuple[str, str, Path]]:
    """(module, its package, its file) for every module of the three layers."""
    found = []
    for layer in FORBIDDEN:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            package = ".".join(parts[:-1])
            found.append((package if parts[-1] == "__init__" else ".".join(parts), package, path))
    return found


def test_every_package_exists() -> None:
    assert all((ROOT / package / "__init__.py").is_file() for package in FORBIDDEN)


@pytest.mark.parametrize(("module", "package", "path"), modules(), ids=[module for module, _, _ in modules()])
def test_no_module_imports_across_the_layers(module: str, package: str, path: Path) -> None:
    assert violations(path.read_text(), module, package) == [], f"{module} must not import {sorted(FORBIDDEN[module.split('.')[0]])}"


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("server.app", "def mount():\n    from webui.app import build\n"),  # the old server.app._mount_ui
        ("server.app", "import webui.uploads\n"),
        ("webui.results", "from server.jobs import Finished\n"),  # the old webui.results
        ("webui.access", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from server.service import Service\n"),
        ("webui", "from server import diskfull\n"),
        ("service.layer", "from server.schemas import iso\n"),
        ("service.jobs", "from webui import results\n"),
        ("service.jobs", "from .. import server\n"),  # relative, resolved to the top level
    ],
)
def test_the_rule_catches_each_kind_of_crossing(module: str, source: str) -> None:
    assert violations(source, module) != []


def test_the_rule_lets_each_door_use_the_service() -> None:
    assert violations("from service.terms import Refusal\nfrom . import deps\n", "server.app") == []
    assert violations("from service import diskfull\nfrom .access import Access\n", "webui.results") == []
    assert violations("from . import db\nfrom .jobs import JobService\nimport serverless\n", "service.layer") == []
