"""ARCHITECTURE.md's rules, checked on the code: no import circle, every package imports
only from the layers below it, no function over 60 lines, no module over 400 lines, at most
6 modules at harness/'s top, plugins only in their families, and every module the page names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"harness": "harness", "plugins": "harness.plugins", "reports": "harness.reports"}
#: the layers, bottom first: a module may import from its own layer and the layers below.
#: Every module of the project belongs to exactly one (checked below), so a new package
#: must be placed here before it can land.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("harness.core",),
    ("harness.plugins", "harness.workloads"),
    ("harness.scenario",),
    ("harness.judging",),
    ("harness.execution",),
    ("harness.reports",),
    ("harness.experiments",),
    ("harness.integrations",),
    ("harness.cli",),
    ("harness",),  # the public API at the top: __init__, api, testing, pytest_plugin
)
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
MAX_TOP_MODULES = 6


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


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the deepest package prefix that contains ``module``."""
    best, depth = -1, -1
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and package.count(".") > depth:
                best, depth = index, package.count(".")
    return best


def test_layer_of_places_a_module_by_its_deepest_package() -> None:
    assert layer_of("harness.core.loop") == 0
    assert layer_of("harness.plugins.fixes.grad_clip") == 1
    assert layer_of("harness.api") == len(LAYERS) - 1
    assert layer_of("harness.cli.main") > layer_of("harness.experiments.doctor")


def test_every_module_belongs_to_a_layer_below_the_top_or_is_public_api() -> None:
    known = modules()
    top = sorted(m for m in known if layer_of(m) == len(LAYERS) - 1)
    assert top == sorted(m for m, path in known.items() if path.parent == ROOT / "harness")
    assert len(top) <= MAX_TOP_MODULES, top
    assert all(layer_of(m) >= 0 for m in known)


def test_imports_go_only_downward_between_the_layers() -> None:
    """Every import (inside functions too; TYPE_CHECKING-only imports are annotations)."""
    known = modules()
    upward = []
    for name, path in known.items():
        for target in imported(name, path, known, typing_too=False):
            if layer_of(target) > layer_of(name):
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_the_layer_check_catches_an_upward_import() -> None:
    assert layer_of("harness.cli.main") > layer_of("harness.core.loop")  # core -> cli would be flagged


def test_no_module_over_400_lines_outside_tests_and_benchmarks() -> None:
    long = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in modules().values()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


def test_plugins_live_in_their_families_and_declare_its_kind() -> None:
    from harness.core.pluginmanager import builtin_plugins, load_object
    from harness.plugins import FAMILY_KINDS

    loose = [p.name for p in (ROOT / "plugins").glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    for ref in builtin_plugins()[1:]:
        family = ref.split(".")[2]
        assert load_object(ref).kind == FAMILY_KINDS[family], ref


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
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py") if ".venv" not in p.parts]
    missing = [n for n in sorted(named) if "<" not in n and not any(f == n or f.endswith("/" + n) for f in files)]
    assert missing == []
