"""Epochs of a watched script: the model found at the first step, DataLoader passes (or step-counted epochs), and each epoch's hooks and metrics."""

from __future__ import annotations

import weakref
from typing import Any

import torch

from harness.core.findings import plugins_needing
from harness.core.metrics import PRED_COUNT
from harness.core.state import Hparams, TrainState
from harness.integrations.watch.core import WatcherCore
from harness.integrations.watch.parts import (
    PLANNED_EXTRA_EPOCHS,
    PREDICTION_SAMPLE,
    HeldParameters,
    LossCall,
    Pass,
    _live_modules,
)

from .observers import CLASS_LOSSES


class EpochEvents(WatcherCore):
    """Training start, batches and epochs; see :class:`Watcher`."""

    def start(self, optimizer: Any) -> TrainState:
        """Build the state when training begins: the model is the module called at top level
        that holds the most of the optimizer's tensors (with no optimizer: of those with gradients)."""
        model = self._find_model(optimizer)
        first = next(iter(model.parameters()), None)
        lr = float(optimizer.param_groups[0]["lr"]) if optimizer is not None else 0.0
        # a script's length is unknown: one epoch of no batches until its first epoch ends
        weight_decay = float((getattr(optimizer, "defaults", None) or {}).get("weight_decay", 0.0) or 0.0)
        hparams = Hparams.build(lr, weight_decay=weight_decay)
        state = TrainState(
            workload=self.workload,  # type: ignore[arg-type]
            model=model,
            device=first.device if first is not None else torch.device("cpu"),
            hparams=hparams,
            train_loader=None,
            val_loader=None,
            seed=int(torch.initial_seed() % 2**31),
            optimizer=optimizer,
            scheduler=self._scheduler_of(optimizer),
        )
        state.criterion = lambda outputs, batch: batch["loss"]
        state.epoch = 1
        self.state = state
        self.status = "running"
        if optimizer is not None:
            info = self.optimizers.get(id(optimizer))
            if info is not None and info.built is not None:
                self.sites["optimizer"] = info.built
        self.call("on_setup", state=state)
        self.call("on_train_start", state=state)
        self.save_progress()
        return state

    def _find_model(self, optimizer: Any) -> torch.nn.Module:
        """The module that holds the most of ``optimizer``'s tensors (no optimizer: of those the
        first training loss depends on), the largest such, and the innermost of wrappers holding the
        same tensors (under DDP or ``torch.compile``: the user's own module). Looked up once, among
        the live modules (no forward hook needed). A container of several models is the model."""
        modules = _live_modules()
        if optimizer is not None:
            wanted = {id(p) for group in optimizer.param_groups for p in group["params"]}
        else:  # the tensors the first training loss depends on (manual updates reset .grad at once)
            wanted = self.leaves or {id(p) for m in modules for p in m.parameters(recurse=False) if p.grad is not None}
        best, key = None, (0, 0, 0)
        for module in modules:
            tensors = [id(p) for p in module.parameters()]
            overlap = sum(1 for t in tensors if t in wanted)
            # the most of the optimizer's tensors; then the whole model around them (an optimizer
            # over the head alone still watches the backbone); then, among wrappers holding the
            # same tensors (DDP, torch.compile), the innermost: the user's own module
            rank = (overlap, len(tensors), -sum(1 for _ in module.modules()))
            if overlap and rank > key:
                best, key = module, rank
        if best is not None:
            return best
        if optimizer is not None:
            return HeldParameters([p for group in optimizer.param_groups for p in group["params"]])
        return HeldParameters([])

    def _scheduler_of(self, optimizer: Any) -> Any:
        found = [s for s, _, _ in self.schedulers.values() if getattr(s, "optimizer", None) is optimizer]
        return found[-1] if found else None

    def drain(self, raise_hooks: bool = True) -> None:
        """Turn the backpropagated batches into ``on_batch_end`` (and, with no optimizer, steps)."""
        if not self.closed:
            return
        if self.state is None:
            if self.optimizers and len(self.closed) < 64:
                return  # an optimizer exists: the run starts at its first step
            self.start(None)
        batches, self.closed = self.closed, []
        for records in batches:
            fired = [r for r in records if r.fired]
            if not fired:
                continue
            calls = [r for r in fired if r.input is not None] or fired  # loss calls; else the backward
            backpropagated = [r.loss for r in fired if r.input is None]  # the tensors backward() was called on
            primary = next((r for r in calls if r.name in CLASS_LOSSES), calls[0])
            losses = backpropagated or [r.loss for r in calls]
            total = losses[0] if len(losses) == 1 else torch.stack(losses).sum()
            self.last_loss = total
            self.trained += 1
            if raise_hooks:
                self._batch_end(primary, total)

    def _batch_end(self, primary: LossCall, total: torch.Tensor) -> None:
        state = self.state
        assert state is not None
        if primary.name in CLASS_LOSSES:
            self.workload.classifier = True
            if state.batch_index % PREDICTION_SAMPLE == 0:
                self._count_predictions(primary.input)
        self.epoch_losses.append(total)
        self.window_losses.append(total)
        batch = {"labels": primary.target, "loss": primary.loss}
        self.call("on_batch_end", state=state, batch=batch, outputs=primary.input, loss=total)
        state.batch_index += 1
        if state.optimizer is None:  # manual updates: each backpropagated batch is a step
            self.close_pending()
            state.step += 1
            self.steps_in_epoch += 1
            self.window_losses = []
            self.step_losses.append(total)
            self.call("on_step", state=state, loss=total)
            self._maybe_step_epoch()

    def _count_predictions(self, logits: torch.Tensor) -> None:
        """Keep the batch's predicted classes (counted once per epoch, in :meth:`_epoch_metrics`)."""
        if logits.dim() != 2 or logits.shape[-1] < 2:
            return
        if self.classes != logits.shape[-1]:
            self.classes, self.predictions = int(logits.shape[-1]), []
        self.predictions.append(logits.argmax(dim=-1))

    def _maybe_step_epoch(self) -> None:
        if self.train_loader is not None or self.steps_in_epoch < self.epoch_steps:
            return
        for key, p in list(self.passes.items()):
            if p.iterator is not None and p.iterator() is None:
                del self.passes[key]  # its iterator was dropped before the end (a peek at one batch)
        if not self.passes:
            self.drain()
            self.end_epoch()

    def pass_begins(self, loader: Any, iterator: Any) -> None:
        for key, p in list(self.passes.items()):
            if p.loader is loader:  # the previous pass over it was left early (a break)
                self.pass_ends(key)
        if loader is self.train_loader:
            self.close_pending()
        self.passes[id(iterator)] = Pass(loader, self.primary_steps, self.trained, weakref.ref(iterator))

    def pass_ends(self, key: int) -> None:
        p = self.passes.pop(key, None)
        if p is None or self.state is None:
            return
        trained = self.primary_steps > p.steps_at_start or (
            self.state.optimizer is None and self.trained > p.trained_at_start
        )
        if self.train_loader is None and trained:
            self.train_loader = p.loader
        if p.loader is self.train_loader:
            self.drain()
            self.pending_epoch = True

    def fetched(self, key: int) -> None:
        p = self.passes.get(key)
        if p is None or self.state is None or not torch.is_grad_enabled():
            return
        if self.train_loader is not None and p.loader is not self.train_loader:
            return
        self.drain()
        self.call("on_batch", state=self.state, batch={})

    def close_pending(self) -> None:
        if self.pending_epoch:
            self.pending_epoch = False
            self.end_epoch()

    def end_epoch(self) -> None:
        state = self.state
        if state is None or not (self.steps_in_epoch or self.epoch_losses):
            return
        self._judge_shape()
        metrics = self._epoch_metrics(state)
        state.history.append(metrics)
        # a script's planned length is unknown: assume three more epochs like this one, so the
        # monitors that wait for a share of the run judge from epoch 2 (collapse: a quarter of
        # it) and epoch 3 (convergence: half; a small transformer sits at the class prior for its
        # first two epochs, hf_loop.py)
        state.hparams.total_steps = state.step + PLANNED_EXTRA_EPOCHS * max(self.steps_in_epoch, 1)
        state.hparams.epochs = state.epoch + PLANNED_EXTRA_EPOCHS
        state.scheduler = self._scheduler_of(state.optimizer) if state.optimizer is not None else None
        entry = self.schedulers.get(id(state.scheduler)) if state.scheduler is not None else None
        self.facts.scheduler_steps.append(entry[1] if entry else None)
        self.facts.epoch_lrs.append(state.current_lr())
        self.call("on_epoch_end", state=state, metrics=metrics)
        state.epoch += 1
        state.batch_index = 0
        self._begin_epoch_buffers()
        self.save_progress()

    def _judge_shape(self) -> None:
        """Switch off the monitors whose signal does not hold for this script's shape."""
        stepped = [i for i in self.optimizers.values() if i.steps]
        if len(stepped) > 1 and len({i.model for i in stepped}) > 1:
            self.switch_off(
                plugins_needing(self.available, "loss_trend"),
                f"{len(stepped)} optimizers train different models against or beside "
                "each other (a GAN?): the loss of one of them is not a trend",
            )
        no_optimizer = "no optimizer.step(): the gradient and learning-rate monitors had nothing to judge"
        if self.state is not None and self.state.optimizer is None and no_optimizer not in self.notes:
            self.notes.append(no_optimizer)

    def _epoch_metrics(self, state: TrainState) -> dict[str, Any]:
        nan = torch.tensor(float("nan"))
        losses = self.step_losses or self.epoch_losses  # per step when the steps were seen (accumulation)
        loss = torch.stack([v.float().cpu() for v in losses]).mean() if losses else nan
        val = torch.stack([v.float().cpu() for v in self.val_losses]).mean() if self.val_losses else nan
        loss_value, val_value = torch.stack([loss, val]).tolist()
        record: dict[str, Any] = {
            "epoch": state.epoch,
            "loss": loss_value,
            "lr": state.current_lr(),
            "steps": state.step,
        }
        if self.val_losses:
            record["val_loss"] = val_value
        if self.predictions:
            counts = torch.bincount(torch.cat(self.predictions), minlength=self.classes).tolist()
            for k, count in enumerate(counts):
                record[f"{PRED_COUNT}{k}"] = int(count)
        return record
