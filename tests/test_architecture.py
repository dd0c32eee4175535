"""ARCHITECTURE.md's rules, checked on the code: no import circle, the core imports upward
nothing, no function over 60 lines, and every module the page names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"harness": "harness", "plugins": "harness.plugins", "reports": "harness.reports"}
CORE = ("loop", "hookspecs", "state", "plugin", "pluginmanager", "resolver", "monitoring")
ABOVE_CORE = ("harness.plugins", "harness.workloads", "harness.reports", "harness.cli", "harness.runner")
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(name: str, path: Path, known: dict[str, Path], *, typing_too: bool = True) -> set[str]:
    """The project modules ``name`` imports anywhere in its body (inside functions too)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    if not typing_too:
        for node in ast.walk(tree):
            if _type_checking_block(node):
                skip.update(id(n) for n in ast.walk(node))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known:
                    found.add(target)
                elif base in known:
                    found.add(base)
    return found - {name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative enough here)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_planted_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_the_projects_modules_even_inside_functions() -> None:
    known = modules()
    graph = {name: imported(name, path, known) for name, path in known.items()}
    assert cycles(graph) == []


@pytest.mark.parametrize("core", CORE)
def test_the_core_imports_nothing_from_the_layers_above_it(core: str) -> None:
    known = modules()
    name = f"harness.{core}"
    upward = sorted(m for m in imported(name, known[name], known, typing_too=False) if m.startswith(ABOVE_CORE))
    assert upward == [], f"{name} imports {upward}"


def test_no_function_over_60_lines_outside_tests_and_benchmarks() -> None:
    long = []
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_every_module_architecture_md_names_exists() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"[\w/]+\.py", text))
    assert len(named) > 20
    folders = [ROOT, ROOT / "harness"]
    missing = [n for n in sorted(named) if "<" not in n and not any((f / n).exists() for f in folders)]
    assert missing == []
