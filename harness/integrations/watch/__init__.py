"""Watch a real training script, unmodified: the default monitors on its own torch calls.

- ``harness watch [OPTIONS] -- python train.py ARGS`` (:mod:`harness.cli.watch`): runs the program in a
  child process whose interpreter installs the watcher first (:mod:`.boot`), passes its
  output and exit code through, then prints the findings;
- ``with harness.watch() as w: train(epochs=1)`` then ``w.findings`` / ``w.assert_clean()``
  (:func:`watch`), and the pytest fixture ``harness_watch``.

Importing this package is cheap (no torch); :class:`Watcher` and :func:`watch` import
torch when first used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .watcher import Watcher


@contextmanager
def watch(
    plugins: Mapping[str, Any] | None = None,
    *,
    epoch_steps: int = 100,
    extra: tuple[type, ...] = (),
    name: str = "watch",
) -> Iterator[Watcher]:
    """Watch the training that runs inside the ``with`` block.

    :param plugins: name -> ``true``/``false``/parameters (monitors only), as in a scenario.
    :param epoch_steps: optimizer steps per epoch when the training uses no DataLoader.
    Yields the :class:`~.watcher.Watcher`: ``w.findings``, ``w.assert_clean()``, ``w.record()``.
    """
    from .watcher import Watcher

    watcher = Watcher(plugins, epoch_steps=epoch_steps, extra=extra, name=name)
    watcher.install()
    try:
        yield watcher
    finally:
        watcher.close()


#: the public names imported when first used (they import torch): name -> module of this package
_LAZY = {"Watcher": "watcher", "WatchFinding": "parts", "WatchError": "config"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["watch", "Watcher", "WatchFinding", "WatchError"]
