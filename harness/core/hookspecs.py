"""The hooks the training loop raises, and the one order they fire in.

Every fix and monitor is a plugin implementing some of these hooks; the core loop
(:func:`harness.core.loop.train`) calls them where a hand-written training script would
have an inline ``if fix:``. pluggy lets an implementation accept fewer arguments
than the spec, so a plugin asks only for what it uses (usually just ``state``).

The whole sequence for one run, as pseudocode::

    on_setup(state)                          # plugins may change state.hparams, state.loader_options
    state.train_loader, state.val_loader = DataLoaders(state.loader_options)   # if a plugin changed it
    state.criterion = make_criterion(state)  # first non-None wins
    state.optimizer = make_optimizer(state)  # first non-None wins
    state.scheduler = make_scheduler(state)  # first non-None wins (may be None)
    on_train_start(state)
    for epoch in 1..epochs:
        for each batch:
            on_batch(state, batch)           # may change the batch
            with forward_context(state):     # first non-None wins (autocast)
                outputs = workload.forward(model, batch)
                loss = w["task"] * compute_loss(state, batch, outputs)   # first non-None wins
                for terms in extra_losses(state, batch, outputs):        # every result: {name: term}
                    loss += sum(w[name] * term)                          # w = hparams.loss_weights (default 1)
                # a distillation term asks distill_inputs(state, student, teacher) first
            backward(state, loss / accumulation_steps, step_due)      # first non-None wins
            if step_due (an optimizer step is due):
                on_after_backward(state)         # read-only: the step's gradients, as backward left them
                on_before_optimizer_step(state)  # may change gradients (clipping)
                optimizer_step(state)            # first non-None wins
                zero_grad
                on_step(state, loss)
            on_batch_end(state, batch, outputs, loss)   # read-only: the batch as the loss saw it
            if a stop was requested: leave the epoch
        (a non-finite loss ends the run here with status "diverged")
        metrics = workload.evaluate(...)
        on_epoch_end(state, metrics)
        if the run has a directory:
            state.last_checkpoint = save_checkpoint(state, directory)   # first non-None wins (kept if None)
            on_checkpoint(state, directory)  # after the save: read it back, check it
        if a stop was requested: leave training
    on_train_end(state)
    # however the run ended (an exception and Ctrl-C too), the runner then stops every
    # loader worker and empties the CUDA cache (harness.execution.run_one.release_run): no hook

Hooks marked *firstresult* stop at the first implementation that returns a value
other than ``None``; the built-in ``defaults`` plugin answers last, so a fix only
has to return something to replace the default.

**One answer per firstresult hook.** Two enabled plugins (besides the core
``defaults``) that both answer the same firstresult hook would silently let the one
pluggy happens to call first win. The plugin manager refuses that combination before
any training (:func:`harness.core.pluginmanager.resolve_conflicts`) unless one of them
declares ``replaces = ("other",)``, which switches the other off. Such a hook is a
*slot*; a plugin may declare further slots (``Plugin.slots``) for exclusive roles that
are not a firstresult hook (``param_groups``: the optimizer's parameter groups).

**Order is declared by the hooks, not by registration.** Where one plugin must see
what another did (or did not yet do), the two use different hooks that fire in a fixed
order: gradients are read in :func:`on_after_backward` before anything may change them
in :func:`on_before_optimizer_step`; a batch is changed in :func:`on_batch` and observed
in :func:`on_batch_end`; a checkpoint is written in :func:`save_checkpoint` and read back
in :func:`on_checkpoint`. No behaviour depends on a plugin's place in
its family's ``BUILTINS`` or on ``tryfirst``/``trylast`` (only the core ``defaults`` uses
``trylast``, to answer last).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # imported for annotations only; keeps `harness --help` free of torch
    import torch

    from harness.core.state import SavedCheckpoint, TrainState

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: the name of the main loss (:func:`compute_loss`) among the named loss terms
TASK_LOSS = "task"


# ---------------------------------------------------------------- set-up


@hookspec
def on_setup(state: TrainState) -> None:
    """Fires once, after the workload built model and data, before any training object exists.

    :param state: the run's state; ``state.hparams`` (lr, warmup_ratio, total_steps,
        batch_size, accumulation_steps, loss_weights, ...) is what a plugin may change
        here, e.g. to scale the learning rate for a large batch or weight a loss term; and
        ``state.loader_options`` (:class:`harness.core.state.LoaderOptions`: workers, pinning,
        start method, collate), from which the loop builds the training and validation
        DataLoaders again right after this hook (same datasets, batch sizes and seeded
        order, so ``hparams.batches_per_epoch`` holds). Nothing has iterated a loader yet.
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
    :func:`on_step` or :func:`on_epoch_end`); the core never steps a scheduler. Two
    scheduler plugins are a conflict (one slot), refused before training.

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

    :param batch: the batch dict; a plugin may change it in place (monitors that want
        the batch as the loss consumes it read it in :func:`on_batch_end` instead).
    """


@hookspec(firstresult=True)
def forward_context(state: TrainState) -> AbstractContextManager[Any] | None:
    """Give the context manager the forward pass and loss run inside (e.g. autocast).

    :returns: a context manager; stops at the first non-None result. Default: no-op.
    """


@hookspec(firstresult=True)
def compute_loss(state: TrainState, batch: dict[str, Any], outputs: Any) -> torch.Tensor | None:
    """Compute the main training loss of one batch: the loss term named ``"task"``.

    :param batch: the batch dict; :param outputs: what ``workload.forward`` returned.
    :returns: a scalar loss tensor; stops at the first non-None result. Default:
        ``state.criterion(outputs, batch)``. The core multiplies it by
        ``state.hparams.loss_weights["task"]`` when that is set (and not 1).
    """


@hookspec
def extra_losses(state: TrainState, batch: dict[str, Any], outputs: Any) -> Mapping[str, torch.Tensor] | None:
    """Add named terms to the loss (a penalty, a distillation term); every result is summed.

    :param batch: the batch dict; :param outputs: what ``workload.forward`` returned.
    :returns: ``{name: scalar tensor}`` (e.g. ``{"distill": term}``), or None to add
        nothing; a bare scalar tensor is the term named after the plugin. The core adds
        each term times ``state.hparams.loss_weights[name]`` (1 when unset), so a plugin
        that weights terms (``loss_weights``) only sets weights in :func:`on_setup` and
        never needs to know who computes a term.
    """


@hookspec(firstresult=True)
def distill_inputs(
    state: TrainState, student: torch.Tensor, teacher: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Transform the student and teacher logits a distillation term compares, before it compares them.

    Raised by the plugin that computes a distillation term (``distillation``, from its
    :func:`extra_losses`), once per batch, not by the loop.

    :param student: the student's logits (float, attached to the graph).
    :param teacher: the teacher's logits (float, detached).
    :returns: ``(student, teacher)`` on a common scale (``scale_matching``); stops at
        the first non-None result. Default (no answer): the logits as they are.
    """


@hookspec(firstresult=True)
def backward(state: TrainState, loss: torch.Tensor, step_due: bool) -> bool | None:
    """Run the backward pass of ``loss`` (already divided by the accumulation steps).

    :param step_due: True for the last batch of an optimizer step. An implementation
        that scales the loss must then leave the step's gradients unscaled (true scale)
        when it returns: :func:`on_after_backward` reads them next.
    :returns: True when this implementation ran backward; stops at the first non-None
        result. Default: ``loss.backward()``; mixed precision scales the loss first.
    """


@hookspec
def on_after_backward(state: TrainState) -> None:
    """Fires once per optimizer step, after the backward pass of the step's last batch.

    The gradients are complete for the step (all accumulated batches) and in true scale
    (mixed precision unscaled them), and no plugin has changed them yet: this hook fires
    before :func:`on_before_optimizer_step`, where clipping happens. **Read-only by
    contract**: a monitor reads gradient norms here, whatever plugins clip or where they
    are registered; nothing may change gradients, weights or the batch here.
    """


@hookspec
def on_before_optimizer_step(state: TrainState) -> None:
    """Fires when gradients of a full (accumulated) step are ready, before the optimizer step.

    Plugins may change gradients in place here (clipping). Reading the raw gradients
    belongs in :func:`on_after_backward`, which fires before this hook.
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


@hookspec
def on_batch_end(state: TrainState, batch: dict[str, Any], outputs: Any, loss: torch.Tensor) -> None:
    """Fires at the end of every training batch (after its backward, and its optimizer step if one was due).

    **Read-only by contract**: monitors observe the batch exactly as the loss consumed
    it (after every :func:`on_batch` change), the workload's outputs and the batch's
    total loss.

    :param batch: the batch dict; :param outputs: what ``workload.forward`` returned;
    :param loss: the batch's detached total loss (before the division by the
        accumulation steps; a tensor: buffer it rather than call ``.item()``).
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


@hookspec(firstresult=True)
def save_checkpoint(state: TrainState, directory: Path) -> SavedCheckpoint | None:
    """Save this epoch's checkpoint, after :func:`on_epoch_end` (only when the run has a directory).

    :param directory: a per-run directory the plugin may write into.
    :returns: a :class:`harness.core.state.SavedCheckpoint` (path, epoch, format) when a file
        was written, which the core stores as ``state.last_checkpoint``; None when this
        epoch is not saved. Stops at the first non-None result (one checkpoint writer).
    """


@hookspec
def on_checkpoint(state: TrainState, directory: Path) -> None:
    """Fires after :func:`save_checkpoint` of each epoch, to read back or check what was saved.

    :param directory: the per-run directory. ``state.last_checkpoint`` is the latest
        checkpoint saved (its ``epoch`` tells whether it was this epoch's), or None.
    """


@hookspec
def on_train_end(state: TrainState) -> None:
    """Fires once when training ends for any reason but an exception (finished, stopped, diverged)."""
