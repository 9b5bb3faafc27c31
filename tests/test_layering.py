"""The domain layer stands alone: no web framework inside it, no circle between its packages."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_ROOTS = ("models", "media", "notifications")
FORBIDDEN = {"api", "graphene", "graphql", "starlette"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import in the file, functions included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package.pop()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            parts = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*parts, *([node.module] if node.module else [])])
            yield node.lineno, module, [alias.name for alias in node.names]


def domain_files(root: Path) -> Iterator[Path]:
    for top in DOMAIN_ROOTS:
        yield from sorted((root / top).rglob("*.py"))


def forbidden_imports(root: Path) -> list[str]:
    found = {
        (path.relative_to(root), line, module)
        for path in domain_files(root)
        for line, module, _ in imports(path, root)
        if module.split(".")[0] in FORBIDDEN
    }
    return [f"{path}:{line}: imports {module}" for path, line, module in sorted(found)]


def unit_of(module: str) -> str | None:
    """The domain unit a module belongs to: media, notifications, a module directly under
    models/, or one of a domain package's two halves: its tables (`models.<name>`, the
    package's `__init__`) and its operations (`models.<name>.*`, the other modules). The
    policy and the audit log read the tables and the operations call them, so only this
    split can be free of circles; a circle between two domains' operations is still one."""
    parts = module.split(".")
    if parts[0] in ("media", "notifications"):
        return parts[0]
    if parts[0] == "models" and len(parts) > 2:
        return f"models.{parts[1]}.*"
    if parts[0] == "models" and len(parts) > 1:
        return f"models.{parts[1]}"
    return None


def unit_graph(root: Path) -> dict[str, dict[str, str]]:
    """unit -> {imported unit: where one such import is (file:line)}."""
    graph: dict[str, dict[str, str]] = {}
    units = {unit_of(module_name(path, root)) for path in domain_files(root)} - {None}
    for path in domain_files(root):
        source = unit_of(module_name(path, root))
        if source is None:
            continue
        edges = graph.setdefault(source, {})
        for line, module, names in imports(path, root):
            # `from models import flags` imports the package models.flags
            targets = (
                {unit_of(module)} if unit_of(module) else {unit_of(f"{module}.{n}") for n in names}
            )
            for target in sorted(targets & units - {source}):
                edges.setdefault(target, f"{path.relative_to(root)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan), members sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        for target in graph.get(unit, {}):
            if target not in index:
                visit(target)
                low[unit] = min(low[unit], low[target])
            elif target in stack:
                low[unit] = min(low[unit], index[target])
        if low[unit] == index[unit]:
            component = []
            while not component or component[-1] != unit:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for unit in sorted(graph):
        if unit not in index:
            visit(unit)
    return sorted(found)


def describe_cycles(graph: dict[str, dict[str, str]]) -> list[str]:
    lines = []
    for members in cycles(graph):
        lines.append("circle: " + ", ".join(members))
        for source in members:
            for target, where in sorted(graph[source].items()):
                if target in members:
                    lines.append(f"  {source} -> {target} ({where})")
    return lines


def test_the_domain_layer_imports_no_web_framework():
    found = forbidden_imports(ROOT)
    if found:
        pytest.fail("the domain layer imports the web layer:\n" + "\n".join(found))


def test_the_domain_packages_import_each_other_without_a_circle():
    found = describe_cycles(unit_graph(ROOT))
    if found:
        pytest.fail("domain packages import each other in a circle:\n" + "\n".join(found))


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


CLEAN = {
    "models/__init__.py": "",
    "models/errors.py": "class AppError(Exception): ...\n",
    "models/flags/__init__.py": "from models.errors import AppError\n",
    "models/flags/workflow.py": "from . import Flag\nfrom ..regions import Region\nimport api_docs\n",
    "models/regions/__init__.py": "from models import errors\n",
    "media/__init__.py": "from models.errors import AppError\n",
    "notifications/events.py": "import media.storage\nfrom models.flags import workflow\n",
}


def test_the_checker_passes_a_clean_tree(tmp_path):
    root = write_tree(tmp_path, CLEAN)
    assert forbidden_imports(root) == []
    assert cycles(unit_graph(root)) == []
    graph = unit_graph(root)
    assert graph["models.flags"] == {"models.errors": "models/flags/__init__.py:1"}
    assert graph["models.flags.*"] == {
        "models.flags": "models/flags/workflow.py:1",
        "models.regions": "models/flags/workflow.py:2",
    }


def test_the_checker_finds_every_form_of_a_web_import(tmp_path):
    root = write_tree(
        tmp_path,
        CLEAN
        | {
            "models/flags/workflow.py": (
                "from typing import TYPE_CHECKING\n"
                "import graphene\n"
                "from starlette.requests import Request\n"
                "if TYPE_CHECKING:\n"
                "    from api.context import Context\n"
                "def later():\n"
                "    import graphql.error\n"
            ),
            "media/service.py": "from api import settings\n",
        },
    )
    assert forbidden_imports(root) == [
        "media/service.py:1: imports api",
        "models/flags/workflow.py:2: imports graphene",
        "models/flags/workflow.py:3: imports starlette.requests",
        "models/flags/workflow.py:5: imports api.context",
        "models/flags/workflow.py:7: imports graphql.error",
    ]


def test_the_checker_finds_a_circle_and_names_its_members(tmp_path):
    root = write_tree(
        tmp_path,
        CLEAN
        | {
            "models/flags/__init__.py": "from models.errors import AppError\nimport models.regions\n",
            "models/regions/__init__.py": "def later():\n    from models.flags import Flag\n",
            "media/storage.py": "from notifications.events import notify\n",
        },
    )
    assert cycles(unit_graph(root)) == [
        ["media", "notifications"],
        ["models.flags", "models.regions"],
    ]
    assert describe_cycles(unit_graph(root)) == [
        "circle: media, notifications",
        "  media -> notifications (media/storage.py:1)",
        "  notifications -> media (notifications/events.py:1)",
        "circle: models.flags, models.regions",
        "  models.flags -> models.regions (models/flags/__init__.py:2)",
        "  models.regions -> models.flags (models/regions/__init__.py:2)",
    ]


def test_the_checker_finds_a_circle_between_two_domains_operations(tmp_path):
    root = write_tree(
        tmp_path,
        CLEAN
        | {
            "models/regions/operations.py": "from models.flags.workflow import submit\n",
            "models/flags/workflow.py": "from models.regions.operations import create\n",
        },
    )
    assert cycles(unit_graph(root)) == [["models.flags.*", "models.regions.*"]]
