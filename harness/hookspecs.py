"""The hooks the training loop raises, and the one order they fire in.

Every fix and monitor is a plugin implementing some of these hooks; the core loop
(:func:`harness.loop.train`) calls them where a hand-written training script would
have an inline ``if fix:``. pluggy lets an implementation accept fewer arguments
than the spec, so a plugin asks only for what it uses (usually just ``state``).

The whole sequence for one run, as pseudocode::

    on_setup(state)                          # plugins may change state.hparams
    state.criterion = make_criterion(state)  # first non-None wins
    state.optimizer = make_optimizer(state)  # first non-None wins
    state.scheduler = make_scheduler(state)  # first non-None wins (may be None)
    on_train_start(state)
    for epoch in 1..epochs:
        for each batch:
            on_batch(state, batch)
            with forward_context(state):     # first non-None wins (autocast)
                outputs = workload.forward(model, batch)
                loss = compute_loss(state, batch, outputs)          # first non-None wins
                loss += sum(extra_losses(state, batch, outputs))    # every result
            backward(state, loss / accumulation_steps)              # first non-None wins
            if an optimizer step is due:
                on_before_optimizer_step(state)
                optimizer_step(state)        # first non-None wins
                zero_grad
                on_step(state, loss)
            if a stop was requested: leave the epoch
        (a non-finite loss ends the run here with status "diverged")
        metrics = workload.evaluate(...)
        on_epoch_end(state, metrics)
        on_checkpoint(state, directory)
        if a stop was requested: leave training
    on_train_end(state)

Hooks marked *firstresult* stop at the first implementation that returns a value
other than ``None``; the built-in ``defaults`` plugin answers last, so a fix only
has to return something to replace the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager

import pluggy

if TYPE_CHECKING:  # imported for annotations only; keeps `harness --help` free of torch
    import torch

    from harness.state import TrainState

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- set-up


@hookspec
def on_setup(state: TrainState) -> None:
    """Fires once, after the workload built model and data, before any training object exists.

    :param state: the run's state; ``state.hparams`` (lr, warmup_ratio, total_steps,
        batch_size, accumulation_steps, ...) is what a plugin may change here, e.g. to
        scale the learning rate for a large batch.
    """


@hookspec(firstresult=True)
def make_criterion(state: TrainState) -> Any:
    """Build the loss criterion, once, after :func:`on_setup`.

    :param state: the run's state (``state.workload.train_labels()`` gives the labels).
    :returns: a callable ``criterion(outputs, batch) -> loss tensor``; stops at the
        first non-None result. The ``defaults`` plugin returns a plain mean loss.
    """


@hookspec(firstresult=True)
def make_optimizer(state: TrainState) -> torch.optim.Optimizer | None:
    """Build the optimizer, once, after :func:`make_criterion`.

    :param state: the run's state; use ``state.model`` and ``state.hparams.lr``.
    :returns: the optimizer; stops at the first non-None result. The ``defaults``
        plugin returns ``AdamW(lr=hparams.lr, weight_decay=hparams.weight_decay)``.
    """


@hookspec(firstresult=True)
def make_scheduler(state: TrainState) -> Any:
    """Build the learning-rate scheduler, once, after :func:`make_optimizer`.

    The plugin that builds a scheduler is also the one that steps it (in
    :func:`on_step` or :func:`on_epoch_end`); the core never steps a scheduler.

    :returns: a scheduler object or None (constant LR); stops at the first non-None result.
    """


@hookspec
def on_train_start(state: TrainState) -> None:
    """Fires once, after every training object exists and before the first batch.

    A plugin may restore state here (resume from a checkpoint) or create helpers
    that need the optimizer (a gradient scaler).
    """


# ---------------------------------------------------------------- per batch


@hookspec
def on_batch(state: TrainState, batch: dict[str, Any]) -> None:
    """Fires for every training batch, after it moved to the device, before the forward pass.

    :param batch: the batch dict; a plugin may read it or change it in place.
    """


@hookspec(firstresult=True)
def forward_context(state: TrainState) -> ContextManager[Any] | None:
    """Give the context manager the forward pass and loss run inside (e.g. autocast).

    :returns: a context manager; stops at the first non-None result. Default: no-op.
    """


@hookspec(firstresult=True)
def compute_loss(state: TrainState, batch: dict[str, Any], outputs: Any) -> torch.Tensor | None:
    """Compute the main training loss of one batch.

    :param batch: the batch dict; :param outputs: what ``workload.forward`` returned.
    :returns: a scalar loss tensor; stops at the first non-None result. Default:
        ``state.criterion(outputs, batch)``.
    """


@hookspec
def extra_losses(state: TrainState, batch: dict[str, Any], outputs: Any) -> torch.Tensor | None:
    """Add a term to the loss (a penalty, a distillation term); every non-None result is summed.

    :returns: a scalar tensor added to the loss, or None to add nothing.
    """


@hookspec(firstresult=True)
def backward(state: TrainState, loss: torch.Tensor) -> bool | None:
    """Run the backward pass of ``loss`` (already divided by the accumulation steps).

    :returns: True when this implementation ran backward; stops at the first non-None
        result. Default: ``loss.backward()``; mixed precision scales the loss first.
    """


@hookspec
def on_before_optimizer_step(state: TrainState) -> None:
    """Fires when gradients of a full (accumulated) step are ready, before the optimizer step.

    Plugins may change gradients in place here (clipping) or read them (norm monitors).
    Gradients are unscaled by then when mixed precision is on.
    """


@hookspec(firstresult=True)
def optimizer_step(state: TrainState) -> bool | None:
    """Apply one optimizer step.

    :returns: True when this implementation stepped; stops at the first non-None result.
        Default: ``state.optimizer.step()``; mixed precision steps through its scaler.
    """


@hookspec
def on_step(state: TrainState, loss: torch.Tensor) -> None:
    """Fires after every optimizer step (``state.step`` already counts it) and ``zero_grad``.

    :param loss: the detached loss of the step's last batch (a tensor: calling
        ``.item()`` on it syncs with the device, so monitors should buffer).
    A per-step scheduler steps here; a plugin may call ``state.request_stop``.
    """


# ---------------------------------------------------------------- per epoch


@hookspec
def on_epoch_end(state: TrainState, metrics: dict[str, Any]) -> None:
    """Fires after each epoch's validation, with that epoch's history record.

    :param metrics: the record just appended to ``state.history`` (``epoch``, ``loss``,
        the workload's validation metrics, ``lr``); plugins may add keys to it.
    Monitors record findings here (``state.add_finding``); a per-epoch scheduler steps
    here; a plugin may call ``state.request_stop``.
    """


@hookspec
def on_checkpoint(state: TrainState, directory: Path) -> None:
    """Fires after :func:`on_epoch_end` of each epoch, to save (and check) a checkpoint.

    :param directory: a per-run directory the plugin may write into.
    """


@hookspec
def on_train_end(state: TrainState) -> None:
    """Fires once when training ends for any reason but an exception (finished, stopped, diverged)."""
