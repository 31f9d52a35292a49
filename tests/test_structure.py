"""The package's shape, checked: no import cycles, the report readable without the search
machinery, and functions small enough to read."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mixopt

PACKAGE = Path(mixopt.__file__).parent
MAX_FUNCTION_LINES = 80
MAX_RUN_STUDY_LINES = 60


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(tree: ast.Module, name: str, known: set[str], types: bool = False) -> Iterator[str]:
    """Every mixopt module ``tree`` imports, at module level or inside a function (a lazy
    import is a dependency too); under ``if TYPE_CHECKING:`` only with ``types``."""
    checking = (
        set()
        if types
        else {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
            for n in ast.walk(node)
        }
    )
    for node in ast.walk(tree):
        if id(node) in checking:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module in known
        ):
            subs = [f"{node.module}.{a.name}" for a in node.names]
            found = [s for s in subs if s in known]
            # `from mixopt.search import study` is the submodule; `from mixopt.search import X` the package
            yield from found
            if len(found) < len(subs):
                yield node.module


def _graph(types: bool = False) -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: set(_imports(tree, name, known, types)) - {name} for name, tree in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Between the subpackages (mixopt.search, mixopt.report...): the layers."""

    def top(m: str) -> str:
        return ".".join(m.split(".")[:2])

    out: dict[str, set[str]] = {}
    for m, deps in graph.items():
        out.setdefault(top(m), set()).update(top(d) for d in deps if top(d) != top(m))
    return out


def test_no_module_import_cycles() -> None:
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_no_module_import_cycles_counting_the_type_checkers_imports() -> None:
    """Not even for the type checker: two modules that need each other's types are one
    role split in two, or share a third module's."""
    graph = _graph(types=True)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_subpackage_import_cycles() -> None:
    layers = _package_graph(_graph())
    assert _cycle(layers) is None, " -> ".join(_cycle(layers) or [])
    assert "mixopt.search" not in layers["mixopt.report"]
    assert "mixopt.report" not in layers["mixopt.search"]
    assert not layers["mixopt.study"] & {"mixopt.search", "mixopt.report", "mixopt.cli"}


def test_a_cycle_is_found() -> None:  # the checker itself can fail
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_importing_the_report_loads_nothing_of_the_search() -> None:
    code = "import sys, mixopt.report; print(sorted(m for m in sys.modules if m.startswith('mixopt.search')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _functions() -> Iterator[tuple[str, int]]:
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{name}.{node.name}", (node.end_lineno or node.lineno) - node.lineno + 1


def test_functions_are_small() -> None:
    long = {f: n for f, n in _functions() if n > MAX_FUNCTION_LINES}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
    sizes = dict(_functions())
    assert sizes["mixopt.search.orchestration.study.run_study"] <= MAX_RUN_STUDY_LINES
