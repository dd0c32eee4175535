"""Installing observers into torch, and taking every one of them out again.

Public torch hooks first (global module forward hooks, the optimizer step pre/post hooks,
tensor hooks on a parameter and on each training loss); attribute wrappers only where torch
has no hook (the functional losses and softmax, ``Optimizer.__init__``, ``LRScheduler.step``,
``Module.train``, DataLoader iteration). :class:`Patches` remembers what it installed, in
order, and :meth:`Patches.undo` restores every attribute and removes every handle in
reverse, so after a watch torch is exactly as it was.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

_MISSING = object()


class Patches:
    """A stack of undo actions: wrapped attributes and hook handles."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        """Replace ``owner.name`` by ``make(original)``; undone by restoring the original (or
        deleting the attribute where ``owner`` only inherited it)."""
        own = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name, _MISSING)
        original = getattr(owner, name)
        wrapper = make(original)
        with contextlib.suppress(AttributeError, TypeError):  # builtins without __dict__/__wrapped__ support
            functools.update_wrapper(wrapper, original)
        _scriptable_as(wrapper, original)
        setattr(owner, name, wrapper)

        def undo() -> None:
            if own is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, own)

        self._undo.append(undo)

    def handle(self, handle: Any) -> None:
        """A hook handle (``.remove()``) to remove on undo."""
        self._undo.append(handle.remove)

    def undo(self) -> None:
        while self._undo:
            action = self._undo.pop()
            with contextlib.suppress(Exception):  # restoring the rest matters more than one failure
                action()


def _scriptable_as(wrapper: Callable[..., Any], original: Callable[..., Any]) -> None:
    """Make TorchScript compile ``original`` wherever it meets ``wrapper`` (``torch.jit.script`` of
    code calling ``F.cross_entropy``): a Python function through ``__prepare_scriptable__`` (else
    TorchScript compiles the original's source with the wrapper's globals), a builtin op (``torch.softmax``)
    by registering the wrapper as the same op."""
    if not callable(wrapper) or not hasattr(wrapper, "__dict__"):
        return
    wrapper.__prepare_scriptable__ = lambda: original  # type: ignore[attr-defined]
    import sys

    builtins = sys.modules.get("torch.jit._builtins")
    if builtins is None:
        return
    with contextlib.suppress(Exception):  # TorchScript's private table: best effort
        op = builtins._find_builtin(original)
        if op is not None:
            builtins._register_builtin(wrapper, op)
