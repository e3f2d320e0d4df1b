"""The import graph of src/mattepaint: no import cycle, and models/ never imports train/.

The graph is read from the source with ``ast`` (nothing is imported): an edge ``a -> b`` for every
``import`` / ``from ... import`` that runs when ``a`` is imported, i.e. statements of the module
body, including those inside top-level ``if`` / ``try`` / ``with`` blocks and class bodies, but
not those inside functions (lazy imports) or under ``if TYPE_CHECKING:``. Importing
``mattepaint.x.y`` also runs the package ``mattepaint.x`` (its ``__init__``), so the packages on
the way are targets too, except the importer's own parent packages (already being imported).
A second test counts the lazy imports inside functions too: a lazy import that closes a cycle
only hides it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import mattepaint

PACKAGE = "mattepaint"
ROOT = Path(mattepaint.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of ``body`` that run on import (not function bodies, not TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_statements(node.body)
            yield from _import_time_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _import_time_statements(block)
            for handler in node.handlers:
                yield from _import_time_statements(handler.body)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from _import_time_statements(node.body)


def _all_statements(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node``, lazy imports in functions included, except the bodies of
    ``if TYPE_CHECKING:`` blocks (they never run)."""
    for child in ast.iter_child_nodes(node):
        yield child
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _all_statements(other)
        else:
            yield from _all_statements(child)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module name of a (possibly relative) ``from X import ...``."""
    if node.level == 0:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported(module: str, nodes: Iterator[ast.AST]) -> set[str]:
    """Modules of the package that the import statements among ``nodes`` load (with the
    packages on the way)."""
    targets: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            targets.add(source)
            targets.update(f"{source}.{alias.name}" for alias in node.names)
    own_parents = {module.rsplit(".", k)[0] for k in range(1, module.count(".") + 1)}
    loaded: set[str] = set()
    for target in targets:
        parts = target.split(".")
        for k in range(1, len(parts) + 1):
            name = ".".join(parts[:k])
            if name in MODULES and name not in own_parents and name != module:
                loaded.add(name)
    return loaded


def _graph(*, lazy: bool = False) -> dict[str, set[str]]:
    """module -> the package modules it imports: at import time, or also lazily with ``lazy``."""
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = _all_statements(tree) if lazy else _import_time_statements(tree.body)
        graph[module] = _imported(module, nodes)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path a -> ... -> a) per strongly connected component with a cycle
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth-first search)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle in component {sorted(component)}")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# the helpers on small cases (so that a passing test below means something)
# --------------------------------------------------------------------------------------------


def test_cycle_finder_on_known_graphs() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"]]
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}}
    assert sorted(_cycles(graph)) == [["a", "b", "c", "a"], ["d", "e", "d"]]


def test_only_import_time_statements_count() -> None:
    source = """
from typing import TYPE_CHECKING
import mattepaint.io
if TYPE_CHECKING:
    import mattepaint.methods
try:
    from mattepaint.models import registry
except ImportError:
    pass
class A:
    from mattepaint import compositing
def f():
    import mattepaint.train
"""
    tree = ast.parse(source)
    got = _imported("mattepaint.demo", _import_time_statements(tree.body))
    assert got == {
        "mattepaint.io",
        "mattepaint.models",
        "mattepaint.models.registry",
        "mattepaint.compositing",
    }
    with_lazy = _imported("mattepaint.demo", _all_statements(tree))
    assert with_lazy == got | {"mattepaint.train"}  # not the TYPE_CHECKING one
    # a module's own parent packages are not edges: they are already being imported
    assert _imported("mattepaint.models.loading", _import_time_statements(tree.body)) == {
        "mattepaint.io",
        "mattepaint.models.registry",
        "mattepaint.compositing",
    }


# --------------------------------------------------------------------------------------------
# the package
# --------------------------------------------------------------------------------------------


def test_modules_found() -> None:
    assert {"mattepaint.checks", "mattepaint.methods", "mattepaint.models.registry"} <= set(MODULES)


def test_no_module_level_import_cycle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "module-level import cycles:\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_no_import_cycle_through_lazy_imports() -> None:
    """A cycle closed by an import inside a function is dodged, not removed: the two modules
    still need each other (as methods <-> classical and models.loading <-> onnx_model did)."""
    cycles = _cycles(_graph(lazy=True))
    assert not cycles, "import cycles (counting imports inside functions):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(f"{PACKAGE}.models")))
def test_models_do_not_import_train(module: str) -> None:
    """Not even lazily: the models layer sits below the training layer."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    imported = _imported(module, _all_statements(tree))
    assert not {m for m in imported if m.startswith(f"{PACKAGE}.train")}, (
        f"{module} imports {sorted(m for m in imported if m.startswith(f'{PACKAGE}.train'))}"
    )
