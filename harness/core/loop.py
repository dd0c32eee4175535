"""The training loop: :func:`train`, read top to bottom, with hooks where fixes plug in.

Its phases are the named functions just above it, in the order they run: the set-up, one
epoch of batches, the optimizer step of an epoch's batch, the checkpoint after an epoch.

Nothing here knows about any fix. Where a hand-written script would say ``if fix:``,
the loop raises a hook (see :mod:`harness.core.hookspecs` for the whole sequence), and the
plugins enabled for the run answer it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import RandomSampler

from harness.core.hookspecs import TASK_LOSS
from harness.core.state import Hparams, LoaderOptions, TrainState


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a CPU run is bit-for-bit repeatable."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch.cuda.is_available() is False")
    return torch.device(requested)


class PersistentOrderSampler(RandomSampler):  # type: ignore[misc]  # torch is not followed by mypy: Any
    """The shuffling of a loader whose workers persist across epochs, in the order of one whose do not.

    A DataLoader draws a base seed for its workers from its generator each time it starts
    an iterator, then its sampler draws the epoch's permutation from the same generator.
    With persistent workers the iterator starts once, so from epoch 2 on no base seed is
    drawn and every later epoch would be shuffled differently. This sampler makes that draw
    itself from epoch 2 on, so every epoch's order equals the plain ``shuffle=True`` one.
    """

    def __init__(self, data_source: Any, generator: torch.Generator) -> None:
        super().__init__(data_source, generator=generator)
        self.epochs = 0

    def __iter__(self) -> Any:
        if self.epochs:  # the base seed a fresh iterator would have drawn first
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        self.epochs += 1
        yield from super().__iter__()


def make_loaders(
    workload: Any, train_set: Any, val_set: Any, batch_size: int, seed: int, options: LoaderOptions
) -> tuple[Any, Any]:
    """The training and validation DataLoaders of a run, loading as ``options`` say.

    Shuffling draws only from the training loader's own generator, seeded with the run's
    seed; the validation loader has its own unseeded one: iterating a DataLoader draws a
    base seed, which must not come from the global RNG (dropout's stream) or validation
    would change training. The workers' seeds come from that base seed too
    (:func:`harness.core.processes.worker_init`), so the batches do not depend on ``num_workers``.
    """
    from torch.utils.data import DataLoader

    from harness.core.processes import worker_init

    collate = options.collate_fn or workload.collate
    kwargs = options.dataloader_kwargs()
    if options.num_workers > 0:
        kwargs["worker_init_fn"] = worker_init
    eval_batch = getattr(workload.params, "eval_batch_size", batch_size)
    order = torch.Generator().manual_seed(seed)
    shuffle: dict[str, Any] = {"shuffle": True}
    if kwargs.get("persistent_workers"):
        shuffle = {"sampler": PersistentOrderSampler(train_set, generator=order)}
    train_loader = DataLoader(
        train_set, batch_size=batch_size, generator=order, collate_fn=collate, **shuffle, **kwargs
    )
    val_loader = DataLoader(
        val_set, batch_size=eval_batch, shuffle=False, generator=torch.Generator(), collate_fn=collate, **kwargs
    )
    return train_loader, val_loader


def build_state(workload: Any, train_cfg: Any, seed: int, device: torch.device, run_dir: Path | None) -> TrainState:
    """Seed, build model and data loaders, check the workload's contract on them
    (:func:`harness.core.contract.check_contract`), and wrap them in a fresh :class:`TrainState`."""
    from harness.core.contract import check_contract, check_datasets

    seed_everything(seed)
    train_set, val_set = check_datasets(workload, workload.datasets())
    model = workload.build_model().to(device)
    check_contract(workload, train_set, val_set, model, train_cfg.batch_size, device)
    options = LoaderOptions()
    train_loader, val_loader = make_loaders(workload, train_set, val_set, train_cfg.batch_size, seed, options)
    batches = len(train_loader)
    hparams = Hparams.build(
        train_cfg.lr,
        batch_size=train_cfg.batch_size,
        epochs=train_cfg.epochs,
        accumulation_steps=train_cfg.accumulation_steps,
        warmup_ratio=train_cfg.warmup_ratio,
        weight_decay=train_cfg.weight_decay,
        batches_per_epoch=batches,
    )
    return TrainState(
        workload=workload,
        model=model,
        device=device,
        hparams=hparams,
        train_loader=train_loader,
        val_loader=val_loader,
        seed=seed,
        run_dir=run_dir,
        loader_options=options,
    )


def apply_loader_options(state: TrainState) -> None:
    """Build both loaders again when a plugin changed ``state.loader_options`` in ``on_setup``.

    The same datasets, batch sizes and freshly seeded generators as :func:`build_state`'s
    (nothing has iterated them yet), so only *how* batches are loaded changes, and
    ``hparams.batches_per_epoch`` still counts the training loader's batches. Loaders the
    harness did not build (default options, or a caller's own) are left as they are.
    """
    if state.loader_options == LoaderOptions():
        return
    train, val = state.train_loader, state.val_loader
    state.train_loader, state.val_loader = make_loaders(
        state.workload, train.dataset, val.dataset, train.batch_size, state.seed, state.loader_options
    )
    if len(state.train_loader) != state.hparams.batches_per_epoch:  # cannot happen: same data and batch size
        raise RuntimeError("rebuilding the training loader changed its number of batches")


def shutdown_loaders(state: TrainState) -> None:
    """Stop the persistent workers of both loaders now, and drop their iterators.

    A DataLoader keeps the iterator of persistent workers on itself, alive across epochs;
    an epoch's iterator without persistent workers stops its workers when it is dropped
    (a finished epoch, a stop's ``break``; after an exception, the garbage collection in
    :func:`harness.execution.run_one.release_run`). Safe on any state, any number of times.
    """
    for loader in (state.train_loader, state.val_loader):
        iterator = getattr(loader, "_iterator", None)  # DataLoader keeps persistent workers' iterator here
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        if iterator is not None:
            loader._iterator = None


def weighted(weights: dict[str, float], name: str, term: torch.Tensor) -> torch.Tensor:
    """``term`` times its loss weight (``hparams.loss_weights[name]``, 1 when unset).

    A weight of 1 multiplies nothing: ``1.0 * x`` would add an autograd node to every step.
    """
    weight = weights.get(name, 1.0)
    return term if weight == 1.0 else weight * term


def batch_loss(hook: Any, state: TrainState, batch: dict[str, Any], outputs: Any) -> torch.Tensor:
    """The batch's total loss: the weighted ``task`` loss plus every weighted named extra term."""
    weights = state.hparams.loss_weights
    loss = weighted(weights, TASK_LOSS, hook.compute_loss(state=state, batch=batch, outputs=outputs))
    for terms in hook.extra_losses(state=state, batch=batch, outputs=outputs):
        for name, term in terms.items():
            loss = loss + weighted(weights, name, term)
    return loss


def set_up(state: TrainState, hook: Any) -> None:
    """Plugins adjust hyper-parameters and loader options, then the loaders (as the options
    now say) and the training objects are built, and plugins see them once before training."""
    hook.on_setup(state=state)
    apply_loader_options(state)
    state.criterion = hook.make_criterion(state=state)
    state.optimizer = hook.make_optimizer(state=state)
    state.scheduler = hook.make_scheduler(state=state)
    hook.on_train_start(state=state)


def train_epoch(state: TrainState, hook: Any) -> torch.Tensor:
    """One epoch of optimisation, up to its end or a stop request.

    :returns: the total loss of every batch trained, detached, as one float tensor (read
        by the caller with one host sync).
    """
    model, hp = state.model, state.hparams
    model.train()
    batch_losses: list[torch.Tensor] = []
    last = len(state.train_loader) - 1
    for index, batch in enumerate(state.train_loader):
        state.batch_index = index
        batch = {k: v.to(state.device, non_blocking=True) for k, v in batch.items()}
        hook.on_batch(state=state, batch=batch)
        with hook.forward_context(state=state):
            outputs = state.workload.forward(model, batch)
            loss = batch_loss(hook, state, batch, outputs)
        batch_losses.append(loss.detach())
        step_due = (index + 1) % hp.accumulation_steps == 0 or index == last
        # dividing by 1 would add an autograd node (forward and backward) to every step
        scaled = loss / hp.accumulation_steps if hp.accumulation_steps > 1 else loss
        hook.backward(state=state, loss=scaled, step_due=step_due)
        if step_due:
            step_optimizer(state, hook, batch_losses[-1])
        hook.on_batch_end(state=state, batch=batch, outputs=outputs, loss=batch_losses[-1])
        if state.stop_requested:
            break
    return torch.stack(batch_losses).float()


def step_optimizer(state: TrainState, hook: Any, loss: torch.Tensor) -> None:
    """The optimizer step: read the gradients, then change them, then step and count it."""
    hook.on_after_backward(state=state)
    hook.on_before_optimizer_step(state=state)
    hook.optimizer_step(state=state)
    assert state.optimizer is not None, "make_optimizer runs before the first batch"
    state.optimizer.zero_grad(set_to_none=True)
    state.step += 1
    state.lr_per_step.append(state.current_lr())
    hook.on_step(state=state, loss=loss)


def checkpoint_epoch(state: TrainState, hook: Any, directory: Path) -> None:
    """One plugin writes this epoch's checkpoint, then others may read it back."""
    saved = hook.save_checkpoint(state=state, directory=directory)
    if saved is not None:
        state.last_checkpoint = saved
    hook.on_checkpoint(state=state, directory=directory)


def train(state: TrainState, hook: Any) -> str:
    """Train until the last epoch, a stop request or a non-finite loss.

    :param hook: the run's ``pluginmanager.hook`` relay.
    :returns: the run status: ``ok``, ``stopped`` or ``diverged``.
    """
    set_up(state, hook)
    status = "ok"
    for epoch in range(state.epoch + 1, state.hparams.epochs + 1):
        state.epoch = epoch
        losses = train_epoch(state, hook)

        # ---- divergence: one host sync per epoch instead of one per step
        finite = torch.isfinite(losses)
        if not bool(finite.all()):
            first_bad = int((~finite).nonzero()[0])
            state.diverged_at_step = (epoch - 1) * state.hparams.batches_per_epoch + first_bad + 1
            status = "diverged"
            break

        # ---- validation and per-epoch hooks
        record: dict[str, Any] = {"epoch": epoch, "loss": float(losses.mean()), "steps": state.step}
        record.update(state.workload.evaluate(state.model, state.val_loader, state.device))
        record["lr"] = state.current_lr()
        state.history.append(record)
        hook.on_epoch_end(state=state, metrics=record)

        # ---- checkpoint: one plugin writes it, then others may read it back
        if state.run_dir is not None:
            checkpoint_epoch(state, hook, Path(state.run_dir))
        if state.stop_requested:
            status = "stopped"
            break

    hook.on_train_end(state=state)
    return status
