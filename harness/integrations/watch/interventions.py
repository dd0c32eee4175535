"""Fixes applied to a running script from outside: a script scenario's variant with ``lr_scale``, ``grad_clip``...

A fix plugin that declares ``acts_on_scripts`` (:class:`harness.core.plugin.Plugin`) acts through its
``script_*`` methods; :func:`install_fixes` (called by :mod:`.boot` after the watcher is installed,
with the ``fixes`` of ``HARNESS_WATCH_CONFIG``) makes one instance of each and calls them from the
script's own torch calls:

==============================  ==============================================================
method                          called
==============================  ==============================================================
``script_optimizer``            after ``Optimizer.__init__`` (before a scheduler is built on it)
``script_before_step``          the optimizer step pre-hook, registered after the watcher's: the
                                monitors read the raw gradients first
``script_after_step``           the optimizer step post-hook
``script_before_backward``      ``torch.autograd.backward`` (``loss.backward()`` calls it)
``script_scheduler``            the first ``LRScheduler.step``, from its constructor
``script_scheduler_step``       ``LRScheduler.step`` (and subclasses' own), False skips the call
``script_pass_end``             a DataLoader iterator's ``StopIteration``
``script_loss``                 ``torch.nn.functional``'s losses, on training calls only
==============================  ==============================================================

Installed after the watcher's observers, these wrappers sit outside them (the watcher sees the
weighted loss call, the scaled optimizer). A fix that raises stops the script: a cure that did not
act must not pass for one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data.dataloader import _BaseDataLoaderIter

from harness.core.plugin import Plugin

from .observers import CLASS_LOSSES, OTHER_LOSSES, _scheduler_classes
from .patches import Patches


def make_fixes(fixes: Mapping[str, Mapping[str, Any]]) -> list[Plugin]:
    """One instance of each fix named in ``fixes`` (name -> parameters), its parameters validated."""
    from .config import available_plugins

    available = available_plugins()
    made = []
    for name, params in fixes.items():
        cls = available[name].cls
        if not cls.acts_on_scripts:
            raise ValueError(f"fix {name!r} cannot act on a running script")
        made.append(cls(cls.Params(**dict(params))))
    return made


def acts_in(plugin: Plugin, method: str) -> bool:
    """Whether ``plugin`` does something in ``method`` (overrides :class:`Plugin`'s no-op)."""
    return getattr(type(plugin), method) is not getattr(Plugin, method)


def install_fixes(
    fixes: Mapping[str, Mapping[str, Any]], patches: Patches, trace: dict[str, dict[str, int]] | None = None
) -> list[Plugin]:
    """Apply ``fixes`` to the script from now on (undone by ``patches``); returns the fix instances.

    Each call of a fix's ``script_*`` method that does something (:func:`acts_in`) is counted in
    ``trace`` (``{method: {fix: calls}}``, the run record's ``trace``): an experiment's arm measures
    its fix only when the fix acted, in a script as in a replayed workload."""
    plugins = make_fixes(fixes)
    if not plugins:
        return plugins
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    counts = trace if trace is not None else {}

    def call(plugin: Plugin, method: str, *args: Any) -> Any:
        if acts_in(plugin, method):
            by_fix = counts.setdefault(method, {})
            by_fix[plugin.name] = by_fix.get(plugin.name, 0) + 1
        return getattr(plugin, method)(*args)

    def each(method: str, *args: Any) -> None:
        for plugin in plugins:
            call(plugin, method, *args)

    patches.handle(register_optimizer_step_pre_hook(lambda opt, args, kwargs: each("script_before_step", opt)))
    patches.handle(register_optimizer_step_post_hook(lambda opt, args, kwargs: each("script_after_step", opt)))
    patches.wrap(torch.optim.Optimizer, "__init__", lambda original: _after_init(original, each))
    patches.wrap(torch.autograd, "backward", lambda original: _before(original, each))
    depth = {"scheduler": 0}
    for cls in _scheduler_classes():
        patches.wrap(cls, "step", lambda original: _scheduler_step(original, plugins, call, depth))
    patches.wrap(_BaseDataLoaderIter, "__next__", lambda original: _pass_end(original, each))
    for name in (*CLASS_LOSSES, *OTHER_LOSSES):
        if hasattr(F, name):
            patches.wrap(F, name, functools.partial(_loss, name=name, each=each))
    return plugins


def _after_init(original: Callable[..., Any], each: Callable[..., None]) -> Callable[..., Any]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        each("script_optimizer", self)

    return init


def _before(original: Callable[..., Any], each: Callable[..., None]) -> Callable[..., Any]:
    def backward(*args: Any, **kwargs: Any) -> Any:
        each("script_before_backward")
        return original(*args, **kwargs)

    return backward


def _scheduler_step(
    original: Callable[..., Any], plugins: list[Plugin], call: Callable[..., Any], depth: dict[str, int]
) -> Callable[..., Any]:
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        initial = getattr(self, "last_epoch", None) == -1 or not hasattr(self, "optimizer")  # from __init__
        if depth["scheduler"]:  # a chained scheduler stepping its parts
            return original(self, *args, **kwargs)
        if initial:  # its constructor's first step
            result = original(self, *args, **kwargs)
            for plugin in plugins:
                call(plugin, "script_scheduler", self)
            return result
        if not all([call(plugin, "script_scheduler_step", self) for plugin in plugins]):
            return None
        depth["scheduler"] += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            depth["scheduler"] -= 1

    return step


def _pass_end(original: Callable[..., Any], each: Callable[..., None]) -> Callable[..., Any]:
    def next_batch(self: Any) -> Any:
        try:
            return original(self)
        except StopIteration:
            each("script_pass_end")
            raise

    return next_batch


def _loss(original: Callable[..., Any], *, name: str, each: Callable[..., None]) -> Callable[..., Any]:
    def loss(*args: Any, **kwargs: Any) -> Any:
        inp = args[0] if args else kwargs.get("input")
        if torch.is_grad_enabled() and isinstance(inp, torch.Tensor) and inp.requires_grad:
            each("script_loss", name, args, kwargs)
        return original(*args, **kwargs)

    return loss
