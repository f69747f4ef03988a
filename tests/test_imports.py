"""The package's import graph: no circles, no arrows up between layers.

Imports are read with ``ast`` from every module of ``workflow/ecgrepro`` (nothing is
executed), at module level and inside functions alike: a lazy import is still an
arrow, and a circle through one only waits for the first call to bite. Imports
under ``if TYPE_CHECKING:`` are left out (never executed). A package's implicit
import of its parent ``__init__`` is not an arrow either: Python loads the parent
first, whatever the child needs, so it cannot close a circle at run time.

Layers checked:

* ``ecgrepro.knn.core`` (the k-NN algorithms) imports only itself and
  ``ecgrepro.errors``: nothing of the job layer ``ecgrepro.knn.jobs`` above it;
* the core package (every module but ``ecgrepro.tooling.*`` and the two entry shims
  ``ecgrepro.perf`` and ``ecgrepro.cost``) never imports ``ecgrepro.tooling``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

ROOT = REPO / "workflow"
PACKAGE = "ecgrepro"
ENTRY_SHIMS = {"ecgrepro.perf", "ecgrepro.cost"}
CORE_ALLOWED = ("ecgrepro.knn.core", "ecgrepro.errors")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules) -> set[str]:
    """Modules of the package that ``name`` imports (anywhere but TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(target: str) -> str | None:
        while target and target not in modules:  # a name inside a module: the module
            target = target.rpartition(".")[0]
        return target or None

    def visit(node):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    found.add(resolve(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the current package
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod.split(".")[0] == PACKAGE:
                for alias in node.names:  # `from pkg import module` names a module
                    found.add(resolve(f"{mod}.{alias.name}"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(None)
    found.discard(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_graph_is_read(graph):
    """The parser sees the arrows it should (else the checks below prove nothing)."""
    assert "ecgrepro.knn.core.kernels" in graph["ecgrepro.knn.core.search"]
    assert "ecgrepro.knn.core.search" in graph["ecgrepro.knn.jobs.run"]
    assert "ecgrepro.knn.jobs.run" in graph["ecgrepro.knn.jobs.cli"]  # lazy import
    assert "ecgrepro.tooling.cost_knn" in graph["ecgrepro.tooling.cost"]  # lazy
    modules = {"ecgrepro.a": Path(), "ecgrepro.b": Path()}
    sample = ROOT / PACKAGE / "knn" / "core" / "search.py"
    assert _imports("ecgrepro.a", sample, modules) == set()


def test_no_import_circle(graph):
    cycles = _cycles(graph)
    assert not cycles, "import circles (module-level or lazy imports):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_knn_algorithms_import_nothing_above_them(graph):
    bad = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        if _within(name, "ecgrepro.knn.core")
        for target in sorted(targets)
        if not any(_within(target, allowed) for allowed in CORE_ALLOWED)
    ]
    assert not bad, "the algorithm layer reaches up:\n" + "\n".join(bad)


def test_core_does_not_import_tooling(graph):
    bad = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        if not _within(name, "ecgrepro.tooling") and name not in ENTRY_SHIMS
        for target in sorted(targets)
        if _within(target, "ecgrepro.tooling")
    ]
    assert not bad, "core modules import tooling:\n" + "\n".join(bad)


def test_the_checks_catch_a_circle_and_an_arrow_up():
    toy = {
        "ecgrepro.knn.core.a": {"ecgrepro.knn.jobs.b"},
        "ecgrepro.knn.jobs.b": {"ecgrepro.knn.core.a"},
        "ecgrepro.x": {"ecgrepro.y"},
        "ecgrepro.y": set(),
    }
    assert _cycles(toy) == [["ecgrepro.knn.core.a", "ecgrepro.knn.jobs.b"]]
    with pytest.raises(AssertionError, match="reaches up"):
        test_knn_algorithms_import_nothing_above_them(toy)
    with pytest.raises(AssertionError, match="tooling"):
        test_core_does_not_import_tooling({"ecgrepro.aggregate.x": {"ecgrepro.tooling.cost"}})
