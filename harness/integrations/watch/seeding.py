"""Seeds that mean something for a script: the run's seed, before the script's first line.

A scenario's script run (:mod:`harness.execution.script_run`) sets ``HARNESS_WATCH_SEED`` to the
run's seed S. :func:`seed_from_env` then, in the script's process, before its first line:

- seeds ``random`` with S now, and ``numpy`` and ``torch`` with S when the script first imports
  them (an import hook: nothing heavy is imported here);
- offsets the seed a script sets itself by S: ``torch.manual_seed(n)`` (and
  ``torch.random.manual_seed``), ``numpy.random.seed(n)`` and ``random.seed(n)`` seed with
  ``n + S``. So a script that hard-codes ``torch.manual_seed(0)`` trains differently on each
  seed, seed 0 is the script exactly as written, and one seed gives the same numbers twice
  where the script is deterministic. A generator the script builds itself
  (``torch.Generator().manual_seed(0)``, ``np.random.default_rng(0)``) keeps its seed.

Without ``HARNESS_WATCH_SEED`` (``harness watch``, or a scenario's ``seeding: false``) nothing changes.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import random
import sys
from collections.abc import Callable
from typing import Any

from harness.execution.watch_launch import ENV_SEED


def seed_from_env() -> int | None:
    """Seed and offset as the module docstring says when ``HARNESS_WATCH_SEED`` is set; returns the seed."""
    text = os.environ.get(ENV_SEED)
    if not text:
        return None
    offset = int(text)
    random.seed = _offset(random.seed, offset)
    random.seed(0)
    actions: dict[str, Callable[[Any], None]] = {
        "numpy": functools.partial(_seed_numpy, offset),
        "torch": functools.partial(_seed_torch, offset),
    }
    for name in list(actions):
        if name in sys.modules:
            actions.pop(name)(sys.modules[name])
    if actions:
        sys.meta_path.insert(0, _AfterImport(actions))
    return offset


def _offset(seed: Callable[..., Any], offset: int, modulo: int | None = None) -> Callable[..., Any]:
    """``seed`` whose integer argument is moved by ``offset`` (``None`` and other values as given)."""

    @functools.wraps(seed)
    def offset_seed(value: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = value + offset if modulo is None else (value + offset) % modulo
        return seed(value, *args, **kwargs)

    offset_seed.__harness_offset__ = offset  # type: ignore[attr-defined]
    return offset_seed


def _seed_numpy(offset: int, numpy: Any) -> None:
    np_random: Any = importlib.import_module("numpy.random")
    np_random.seed = _offset(np_random.seed, offset, modulo=2**32)
    np_random.seed(0)


def _seed_torch(offset: int, torch: Any) -> None:
    seed = _offset(torch.manual_seed, offset)
    torch.manual_seed = seed
    torch.random.manual_seed = seed
    seed(0)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``actions[name](module)`` once the top-level module ``name`` has been executed."""

    def __init__(self, actions: dict[str, Callable[[Any], None]]) -> None:
        self.actions = actions

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.actions:
            return None
        action = self.actions.pop(name)
        if not self.actions and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = _find_without(self, name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            action(module)

        spec.loader.exec_module = exec_module
        return spec


def _find_without(finder: Any, name: str) -> Any:
    """``name``'s spec as the other finders on ``sys.meta_path`` give it."""
    for other in list(sys.meta_path):
        if other is finder or not hasattr(other, "find_spec"):
            continue
        spec = other.find_spec(name, None)
        if spec is not None:
            return spec
    return None
