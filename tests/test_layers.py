"""Dependencies point one way, visibly: the layer contract (pyproject.toml, checked by
import-linter), no import of a Shipyard module by name, and no cycle between packages."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "shipyard"

# The one module allowed to import by name: it loads a package's own submodules on first
# use (``import shipyard`` stays light), relative to that package, so no edge between
# packages can hide there.
NAME_IMPORTS_ALLOWED = {"_lazy.py"}


def test_layers_import_downward_only() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _text_start(node: ast.expr) -> str | None:
    """The literal start of a string or f-string argument, or None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
    return None


def _imports_by_name(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``import_module(...)`` and ``__import__(...)`` calls whose target is a Shipyard module:
    ``"shipyard…"``, ``f"shipyard…"`` or a relative name (``".codec"``)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if called not in ("import_module", "__import__"):
            continue
        start = _text_start(node.args[0])
        if start is not None and (start.startswith(("shipyard", ".")) or start == ""):
            yield node.lineno, ast.unparse(node)


def test_no_module_imports_a_shipyard_module_by_name() -> None:
    # A name in a string is an edge the layer contract cannot see (a service locator):
    # dependencies are imported, or handed in.
    found = [f"{path.relative_to(SRC)}:{line}: {call}"
             for path, tree in _modules() if path.name not in NAME_IMPORTS_ALLOWED
             for line, call in _imports_by_name(tree)]
    assert found == []


def test_the_check_for_imports_by_name_catches_every_spelling() -> None:
    source = '''
import importlib
importlib.import_module("shipyard.data")
import_module(f"shipyard.{name}")
__import__("shipyard.fluent")
importlib.import_module(".codec", __name__)
importlib.import_module(user_module)
importlib.import_module("numpy")
'''
    assert [line for line, _ in _imports_by_name(ast.parse(source))] == [3, 4, 5, 6]


def _package_of(module: str) -> str | None:
    """The top-level package (or module) of ``shipyard`` that ``module`` belongs to."""
    parts = module.split(".")
    if parts[0] != "shipyard":
        return None
    return parts[1] if len(parts) > 1 else "shipyard"


def _top_level_names() -> set[str]:
    return {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}


def _imported_packages(rel: Path, tree: ast.Module, names: set[str]) -> set[str]:
    """The top-level packages of ``shipyard`` that the module at ``rel`` (relative to the
    package) imports, counting every import statement: at module level, inside
    functions and under ``TYPE_CHECKING``."""
    source = _source_package(rel)
    package = ["shipyard", *rel.parts[:-1]]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            if module == "shipyard":  # ``from shipyard import data``: a module, or a name of the root
                targets = [f"shipyard.{a.name}" if a.name in names else "shipyard" for a in node.names]
            else:
                targets = [module]
        found.update(to for to in map(_package_of, targets) if to is not None and to != source)
    return found


def _source_package(rel: Path) -> str:
    return "shipyard" if rel.parts == ("__init__.py",) else rel.parts[0].removesuffix(".py")


def package_graph() -> dict[str, set[str]]:
    """Which top-level packages of ``shipyard`` each one imports (see :func:`_imported_packages`)."""
    names = _top_level_names()
    graph: dict[str, set[str]] = {}
    for path, tree in _modules():
        rel = path.relative_to(SRC)
        graph.setdefault(_source_package(rel), set()).update(_imported_packages(rel, tree, names))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_cycle_between_top_level_packages() -> None:
    graph = package_graph()
    assert "client" in graph["fluent"] and "tracking" in graph["client"]  # the graph sees real imports
    cycles = _cycles(graph)
    detail = {" <-> ".join(c): {a: sorted(graph[a] & set(c)) for a in c} for c in cycles}
    assert cycles == [], detail


def test_the_graph_counts_function_level_type_checking_and_relative_imports() -> None:
    source = """
from typing import TYPE_CHECKING
from shipyard.errors import InvalidInput
if TYPE_CHECKING:
    from shipyard.client import Client
def register():
    from shipyard.fluent import get_client
    from ..data import log_input
    from . import codec
    from shipyard import monitoring, Client
"""
    found = _imported_packages(Path("datasets/__init__.py"), ast.parse(source), _top_level_names())
    assert found == {"errors", "client", "fluent", "data", "monitoring", "shipyard"}


def test_the_cycle_check_finds_cycles_and_only_cycles() -> None:
    assert _cycles({"datasets": {"store"}, "store": set(), "data": {"datasets"}}) == []
    assert _cycles({"datasets": {"data"}, "data": {"fluent"}, "fluent": {"datasets"}, "store": {"errors"}}) == [
        ["data", "datasets", "fluent"]]
