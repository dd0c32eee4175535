"""Meta-tests, as datasette has: every hook documented and raised, every built-in plugin explained.

A new hook without a docstring, a row in docs/design.md or a place in the sequence pseudocode fails
here, and so does one that no real run raises (a recording observer counts every hook
call of a few tiny runs); so does a built-in plugin whose module docstring does not name
its pathology, signal and fix, or that no test mentions.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.core import hookspecs
from harness.core.pluginmanager import builtin_plugins, load_object
from harness.testing import REQUIRED_DOC_PARTS, check_plugin

if TYPE_CHECKING:
    from harness.core.state import TrainState

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

HOOKS = sorted(
    name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, f"{hookspecs.PROJECT}_spec")
)
BUILTINS = list(builtin_plugins())


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
    assert re.search(rf"\b{hook}\(", hookspecs.__doc__ or ""), (
        f"add {hook!r} to the sequence at the top of hookspecs.py"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_the_docs(hook: str) -> None:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    assert f"`{hook}(" in design, f"add a row for {hook!r} to the Hooks table of docs/design.md"


class HookRecorder:
    """An observer implementing every hookspec: it counts each call and answers none.

    Its hookimpls are made from :data:`HOOKS`, so a new hookspec is recorded without
    editing this class. ``tryfirst`` puts it ahead of any plugin that answers a
    firstresult hook (which would end the call before it), and returning None leaves
    every answer to the plugins.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        for name in HOOKS:
            setattr(self, name, hookspecs.hookimpl(tryfirst=True)(self._counter(name)))

    def _counter(self, name: str) -> Callable[[], None]:
        def record() -> None:
            self.calls[name] += 1

        return record


class StopAfter:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    @hookspecs.hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        if state.epoch == self.epoch:
            state.request_stop(f"stopped after epoch {self.epoch}")


@pytest.fixture(scope="module")
def hooks_fired(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counter[str]]:
    """The hook calls of four tiny runs that, together, take every path the loop has: a
    plain run (no run directory), one that stops early after writing a checkpoint, one
    resumed from that checkpoint, and a distillation run (which raises ``distill_inputs``)."""
    from harness.testing import tiny_patch_workload, train_tiny

    runs = {name: HookRecorder() for name in ("plain", "stopped", "resumed", "distillation")}
    train = {"epochs": 2, "batch_size": 32}
    plain = train_tiny(observers=(runs["plain"],), **train)
    stopped_dir = tmp_path_factory.mktemp("stopped")
    stopped = train_tiny({"checkpoint": {}}, observers=(runs["stopped"], StopAfter(1)), run_dir=stopped_dir, **train)
    resume = {"checkpoint": {}, "resume": {"path": str(stopped_dir / "checkpoint.pt")}}
    resumed = train_tiny(resume, observers=(runs["resumed"],), run_dir=tmp_path_factory.mktemp("resumed"), **train)
    distilled = train_tiny(
        {"distillation": {"loss": "mse"}}, workload=tiny_patch_workload(), observers=(runs["distillation"],), **train
    )
    assert (plain.status, stopped.status, resumed.status, distilled.status) == ("ok", "stopped", "ok", "ok")
    assert len(stopped.history) == 1 and resumed.acted("resume", "on_train_start")
    return {name: recorder.calls for name, recorder in runs.items()}


def test_the_recorder_counts_calls_not_implementations(hooks_fired: dict[str, Counter[str]]) -> None:
    """Without a run directory no checkpoint hook is raised, though the recorder implements them."""
    plain = hooks_fired["plain"]
    assert plain["save_checkpoint"] == plain["on_checkpoint"] == plain["distill_inputs"] == 0
    assert plain["on_setup"] == plain["on_train_end"] == 1 and plain["on_epoch_end"] == 2
    assert hooks_fired["stopped"]["on_epoch_end"] == 1 and hooks_fired["stopped"]["on_train_end"] == 1


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_raised_in_a_real_run(hook: str, hooks_fired: dict[str, Counter[str]]) -> None:
    fired = {name for name, calls in hooks_fired.items() if calls[hook] > 0}
    assert fired, f"hook {hook!r} was never raised in the meta-test's runs ({', '.join(hooks_fired)})"


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

    from harness.core.plugin import Plugin, hookimpl

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
    from harness.core.plugin import Plugin, hookimpl

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
