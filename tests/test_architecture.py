"""The package's shape: an acyclic import graph, no private names across modules, a public API that resolves.

The graph is read from the source with :mod:`ast` (no import is executed): every
``import`` and ``from ... import`` of every module, at any depth (function-level
imports count: they run, only later), relative ones resolved against the module's
package. An edge goes to the module an import names (``from eurec4a.ipfs import cid``
names ``eurec4a.ipfs.cid``; ``from eurec4a.ipfs.cid import parse_cid`` names
``eurec4a.ipfs.cid``); the parent packages that Python initialises on the way are
not edges, or every submodule would be in a cycle with ``eurec4a/__init__.py``.
Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import eurec4a

PACKAGE_DIR = Path(eurec4a.__file__).parent
PACKAGE = "eurec4a"
#: Written by the build (setuptools-scm), not by hand: importing from it is its only use.
GENERATED = {"eurec4a._version"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom node, at any depth, except those under ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = node.orelse
        todo.extend(children)


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """Absolute name of the module a ``from`` import reads from."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path):
    """(imported module, imported names, line) for every import of ``module`` that stays inside the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield alias.name, [], node.lineno
        else:
            source = _resolve(module, path, node)
            if source == PACKAGE or source.startswith(PACKAGE + "."):
                yield source, [alias.name for alias in node.names], node.lineno


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for source, names, _ in _imports(module, path):
            targets = [f"{source}.{n}" for n in names if f"{source}.{n}" in MODULES]  # submodules named
            if len(targets) < len(names) or not names:  # names defined in `source` itself
                targets.append(source)
            graph[module].update(t for t in targets if t in MODULES and t != module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete loop through the component, for the failure message."""
    start = component[0]
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & set(component)):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    return component


def test_the_analysis_sees_function_level_and_relative_imports():
    """The checks below can fail: the reader finds the kinds of import they are about."""
    graph = import_graph()
    assert "eurec4a.catalog.yaml_catalog" in graph["eurec4a.api"]  # imported inside get_intake_catalog
    assert "eurec4a.testing.faults" in graph["eurec4a.testing.opendap"]  # `from .faults import ...`
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_has_no_cycle():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(_shortest_cycle(graph, c)) for c in found)


def test_no_module_imports_a_private_name_of_another():
    offences = []
    for module, path in MODULES.items():
        for source, names, line in _imports(module, path):
            private_module = source not in GENERATED and any(
                part.startswith("_") and not part.startswith("__") for part in source.split(".")[1:])
            private_names = [n for n in names if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]
            if source != module and (private_module or private_names):
                offences.append(f"{path.relative_to(PACKAGE_DIR.parent)}:{line}: from {source} import "
                                f"{', '.join(private_names or names)}")
    assert not offences, "private names imported across modules:\n" + "\n".join(offences)


def _modules_with_all() -> list[str]:
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if module.endswith(".__main__"):
            continue  # importing it runs the command line
        if any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
               for n in tree.body):
            found.append(module)
    return found


@pytest.mark.parametrize("module", _modules_with_all())
def test_every_name_in_all_resolves(module):
    mod = importlib.import_module(module)
    assert len(mod.__all__) == len(set(mod.__all__)), f"{module}.__all__ lists a name twice"
    unresolved = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not unresolved, f"{module}.__all__ names what the module does not define: {unresolved}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_compiles_without_warnings(module):
    """No invalid escape sequence or other compile-time warning, on any claimed Python.

    Python 3.12+ turns an invalid escape (say ``"\\ "`` in a docstring) into a SyntaxWarning
    printed on every first import; the command line's and the docs build's output then carry
    it (an earlier CI run failed so on 3.13 only). 3.11 warns too, as a DeprecationWarning.
    """
    import warnings

    path = MODULES[module]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
