"""Meta-tests, as datasette has: every hook documented and tested, every built-in plugin explained.

A new hook without a docstring, a README row, a place in the sequence pseudocode or any
test fails here; so does a built-in plugin whose module docstring does not name its
pathology, signal and fix, or that no test mentions.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from harness import hookspecs
from harness.pluginmanager import DEFAULT_PLUGINS, load_object
from harness.testing import REQUIRED_DOC_PARTS, check_plugin

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, f"{hookspecs.PROJECT}_spec")
)
BUILTINS = list(DEFAULT_PLUGINS)


def _test_sources() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for path in TESTS.rglob("test_*.py")
        if path.resolve() != Path(__file__).resolve()
    }


TEST_SOURCES = _test_sources()


def _mentioned_in_tests(word: str) -> list[Path]:
    pattern = re.compile(rf"\b{re.escape(word)}\b")
    return [path for path, text in TEST_SOURCES.items() if pattern.search(text)]


def test_hooks_were_found() -> None:
    assert {"on_setup", "on_batch", "on_step", "on_epoch_end", "on_checkpoint", "on_train_end"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 5, f"hookspec {hook!r} needs a docstring saying when it fires and what it may change"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_in_the_sequence_pseudocode(hook: str) -> None:
    assert re.search(rf"\b{hook}\(", hookspecs.__doc__ or ""), f"add {hook!r} to the sequence at the top of hookspecs.py"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_the_readme(hook: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{hook}(" in readme, f"add a row for {hook!r} to the README's Hooks table"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook: str) -> None:
    assert _mentioned_in_tests(hook), f"no test under tests/ mentions hook {hook!r}"


@pytest.mark.parametrize("dotted", BUILTINS)
def test_builtin_plugin_docstring_names_pathology_signal_and_fix(dotted: str) -> None:
    module = load_object(dotted.partition(":")[0])
    doc = module.__doc__ or ""
    missing = [part for part in REQUIRED_DOC_PARTS if part not in doc]
    assert not missing, f"{module.__name__}'s module docstring lacks {', '.join(missing)}"


@pytest.mark.parametrize("dotted", BUILTINS)
def test_builtin_plugin_is_well_formed(dotted: str) -> None:
    assert check_plugin(load_object(dotted)) == []


@pytest.mark.parametrize("dotted", BUILTINS)
def test_builtin_plugin_is_exercised_by_a_test(dotted: str) -> None:
    name = load_object(dotted).name
    assert _mentioned_in_tests(name), f"no test under tests/ mentions plugin {name!r}"


def test_check_plugin_catches_what_the_meta_tests_rely_on() -> None:
    """The checker itself: a misspelt hook, a lax Params and a missing docstring part."""
    from pydantic import BaseModel

    from harness.plugin import Plugin, hookimpl

    class Lax(BaseModel):
        x: int = 1

    class Broken(Plugin):
        """Pathology: a test double. Signal: none."""

        name = "broken_double"
        kind = "monitor"
        Params = Lax

        @hookimpl
        def on_epoch_ends(self, state: object) -> None:  # misspelt
            pass

    problems = "\n".join(check_plugin(Broken))
    assert "Fix:" in problems
    assert "extra='forbid'" in problems
    assert "finding_kinds" in problems
    assert "on_epoch_ends" in problems


def test_check_plugin_checks_the_conflict_declarations() -> None:
    from harness.plugin import Plugin, hookimpl

    class Sloppy(Plugin):
        """Pathology: a test double. Signal: none. Fix: none."""

        name = "sloppy_double"
        replaces = "sample_weighted_loss"  # a string, not a tuple
        slots = ("sloppy_double",)

        @hookimpl
        def make_criterion(self, state: object) -> None:
            return None

    problems = "\n".join(check_plugin(Sloppy))
    assert "`replaces` must be a tuple of names" in problems
    assert "`slots` names the plugin itself" in problems


@pytest.mark.parametrize("dotted", BUILTINS)
def test_no_builtin_but_the_core_relies_on_tryfirst_or_trylast(dotted: str) -> None:
    """Order is declared by hooks (on_after_backward before on_before_optimizer_step, on_batch
    before on_batch_end, save_checkpoint before on_checkpoint), not by pluggy's call order."""
    cls = load_object(dotted)
    if cls.kind == "core":
        return
    for attr in dir(cls):
        opts = getattr(getattr(cls, attr, None), f"{hookspecs.PROJECT}_impl", None)
        if isinstance(opts, dict):
            assert not (opts.get("tryfirst") or opts.get("trylast")), f"{cls.name}.{attr} relies on call order"
