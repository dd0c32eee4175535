"""Harness's monitors inside a Lightning ``Trainer``: a callback around ``fit``.

::

    import pytorch_lightning as pl
    from harness.integrations.lightning import HarnessWatchCallback

    watch = HarnessWatchCallback()                  # the default monitors
    trainer = pl.Trainer(max_epochs=3, callbacks=[watch])
    trainer.fit(model, train_loader, val_loader)
    watch.findings                                  # WatchFinding: kind, epoch, step, message, where
    watch.assert_clean()                            # raises with every finding and its line

The callback starts the same watcher as ``harness watch`` and ``harness.watch()`` when
``fit`` starts and closes it when ``fit`` ends (also when it fails): Lightning's own loop
calls the optimizer, the losses and the DataLoaders the watcher observes, so every finding
points at the line of the user's ``LightningModule`` (``training_step``,
``configure_optimizers``) that explains it. ``fail_on`` makes ``fit`` raise at its end when
a finding of those kinds (or ``"any"``) occurred, for CI. Install with
``pip install 'training-harness[lightning]'`` (``pytorch-lightning``, or the ``lightning`` package).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

try:
    from pytorch_lightning import Callback
except ImportError:  # pragma: no cover - the unified package exposes the same class
    try:
        from lightning.pytorch import Callback
    except ImportError as exc:
        raise ImportError(
            "harness.integrations.lightning needs Lightning: pip install 'training-harness[lightning]'"
        ) from exc

if TYPE_CHECKING:
    from harness.integrations.watch.parts import WatchFinding
    from harness.integrations.watch.watcher import Watcher


class HarnessWatchCallback(Callback):  # type: ignore[misc]  # Lightning is not followed by mypy (untyped base)
    """Watch ``Trainer.fit`` with harness's monitors (see the module docstring).

    :param plugins: name -> ``true``/``false``/parameters (monitors only), as in a scenario.
    :param fail_on: finding kinds (or ``("any",)``) that make ``fit`` raise at its end.
    """

    def __init__(self, plugins: Mapping[str, Any] | None = None, *, fail_on: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.plugins = dict(plugins or {})
        self.fail_on = tuple(fail_on)
        self.watcher: Watcher | None = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        from harness.integrations.watch.watcher import Watcher

        self.watcher = Watcher(self.plugins, name=type(pl_module).__name__).install()

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._close()
        failing = [f for f in self.findings if "any" in self.fail_on or f.kind in self.fail_on]
        if failing:
            raise AssertionError("harness: " + "; ".join(str(f) for f in failing))

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        if self.watcher is not None and self.watcher._installed:
            self.watcher.close()

    @property
    def findings(self) -> list[WatchFinding]:
        """Every finding of the last ``fit`` (empty before one)."""
        return self.watcher.findings if self.watcher is not None else []

    def assert_clean(self, *, ignore: tuple[str, ...] = ()) -> None:
        """Raise ``AssertionError`` listing every finding (kind, line, message) not in ``ignore``."""
        if self.watcher is not None:
            self.watcher.assert_clean(ignore=ignore)

    def record(self) -> dict[str, Any]:
        """The run record of the last ``fit`` (the shape of ``harness watch --json``'s runs)."""
        if self.watcher is None:
            raise RuntimeError("no fit has run with this callback yet")
        return self.watcher.record()
