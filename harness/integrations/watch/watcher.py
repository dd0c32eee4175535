"""The watcher: a :class:`~harness.core.state.TrainState` fed from an unmodified script's torch calls.

:class:`Watcher` installs observers into torch (:mod:`.patches`), builds a harness plugin
manager with the default monitors (the same plugin classes a scenario runs, third-party
ones too) plus the watch-only rules (:mod:`.rules`), and raises the same hooks, in the
same order, from what the script does:

=========================  ===============================================================
harness hook               raised when the script ...
=========================  ===============================================================
on_setup, on_train_start   first steps an optimizer (no optimizer: first backward of a loss)
on_batch                   fetches a batch from a DataLoader with gradients enabled
on_batch_end               backpropagated a loss (seen at the next fetch, step or loss call);
                           ``outputs`` are the loss call's input (logits), ``batch`` holds
                           ``labels`` (its target) and ``loss``
on_after_backward,         calls ``optimizer.step()`` (the optimizer's step pre-hook)
on_before_optimizer_step
on_step                    after that step (post-hook); with no optimizer, once per backward
on_epoch_end               finished a pass over the training DataLoader (the loader whose pass
                           saw optimizer steps), raised when the next pass begins or the run
                           ends so the validation that follows the pass counts; with no
                           DataLoader, every ``epoch_steps`` optimizer steps
on_train_end               ends (the ``with`` block exits, the process exits)
=========================  ===============================================================

The firstresult hooks (``make_optimizer``, ``compute_loss``, ``backward``, ...) are never
raised: the script owns its training, so only monitors run (a fix or a bug plugin asked
for is refused). Per-step values stay tensors (the training loss, the gradient-reset
evidence, the predicted-class counts) and are read once per epoch. A monitor that raises
becomes an ``error`` finding naming it and is switched off; the script goes on.
"""

from __future__ import annotations

import functools
import sys
import time
import weakref
from typing import Any

import torch

from harness.core.findings import plugins_needing
from harness.integrations.watch.epochs import EpochEvents
from harness.integrations.watch.parts import (
    PROBED_BATCHES,
    LossCall,
    OptimizerInfo,
    _looks_like_probabilities,
    graph_leaves,
)

from . import observers
from .sites import call_site

#: the name of a loss known only as the tensor ``backward()`` was called on
BACKWARD = "backward"
NO_LOSS = "an optimizer stepped with no backward() before it: its steps' losses were not seen"


def _scalars(tensors: Any) -> list[torch.Tensor]:
    """The tensors of a ``backward()`` call when each is one value (a loss), else none."""
    items = (
        [tensors] if isinstance(tensors, torch.Tensor) else list(tensors) if isinstance(tensors, list | tuple) else []
    )
    ok = items and all(isinstance(t, torch.Tensor) and t.numel() == 1 and t.is_floating_point() for t in items)
    return items if ok else []


class Watcher(EpochEvents):
    """Watch the training that runs between :meth:`install` and :meth:`close` (see the module docstring).

    :param plugins: name -> ``true``/``false``/parameters, as a scenario's ``plugins:`` (monitors only).
    :param epoch_steps: optimizer steps per epoch when the script trains without a DataLoader.
    :param extra: plugin classes to make available besides the installed ones.
    :param name: the run's name in the record (``variant``).
    """

    def install(self) -> Watcher:
        """Install every observer (see :mod:`.patches`); returns self."""
        if not self._installed:
            observers.install(self, self.patches)
            self._installed = True
        return self

    def close(self) -> None:
        """End the run: the last epoch's hooks, ``on_train_end``, then every observer removed."""
        try:
            self.safely(self._finish)
        finally:
            self.patches.undo()
            self._installed = False

    def __enter__(self) -> Watcher:
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _finish(self) -> None:
        state = self.state
        if state is None:
            return
        if self.pending_epoch:
            self.close_pending()
        else:
            self.drain()
            if self.steps_in_epoch or self.epoch_losses:
                self.end_epoch()
        self.call("on_train_end", state=state)
        self.status = "stopped" if state.stop_requested else "ok"

    def before_step(self, optimizer: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
        info = self.optimizers.get(id(optimizer))
        if info is None:  # built before the watcher was installed
            info = self.optimizers[id(optimizer)] = OptimizerInfo(f"{type(optimizer).__name__}", None)
        self._close_window(optimizer, info)
        if info.stepped is None:
            info.stepped = call_site()
            info.model = id(self._find_model(optimizer))
        if self.state is None:
            self.start(optimizer)
        state = self.state
        assert state is not None
        if optimizer is not state.optimizer:
            self.drain(raise_hooks=False)  # another optimizer's batches (a GAN's second model)
            return
        self.close_pending()
        self.drain()
        closure = (kwargs or {}).get("closure") or (args[1] if len(args) > 1 else None)  # args[0]: the optimizer
        self.closure_step = callable(closure)
        if callable(closure):
            self.switch_off(
                plugins_needing(self.available, "gradients"),
                "the optimizer steps with a closure (L-BFGS): the gradients before its "
                "step are those of its previous line search, not of a training step",
            )
            return
        self.call("on_after_backward", state=state)
        self.call("on_before_optimizer_step", state=state)

    def _step_loss(self) -> torch.Tensor | None:
        """The step's loss: the sum of what was backpropagated since the last step (gradient
        accumulation divides each micro-batch's loss by their number: the sum is the step's
        objective, as the core loop's step loss is its batches' mean); with a closure (L-BFGS)
        the last evaluation's, its line search's others are not the step's."""
        window, self.window_losses = self.window_losses, []
        if self.closure_step or not window:
            return self.last_loss
        loss = window[0] if len(window) == 1 else torch.stack([v.detach().float() for v in window]).sum()
        self.step_losses.append(loss)
        return loss

    def after_step(self, optimizer: Any) -> None:
        info = self.optimizers.get(id(optimizer))
        if info is not None:
            info.steps += 1
        state = self.state
        if state is None or optimizer is not state.optimizer:
            return
        self.drain()  # an LBFGS closure's batches ran inside the step
        state.step += 1
        self.primary_steps += 1
        self.steps_in_epoch += 1
        state.lr_per_step.append(state.current_lr())
        loss = self._step_loss()
        if loss is not None:  # never a NaN for a loss not seen: no backward() yet, no step hook
            self.call("on_step", state=state, loss=loss)
        elif NO_LOSS not in self.notes:
            self.notes.append(NO_LOSS)
        self._maybe_step_epoch()
        if self.progress is not None and time.monotonic() >= self._next_save:
            self.save_progress()

    def track_gradients(self, optimizer: Any, info: OptimizerInfo) -> None:
        """Watch one trainable tensor of ``optimizer``: does each step window reset its gradient?"""
        tensor = next((p for g in optimizer.param_groups for p in g["params"] if p.requires_grad), None)
        if tensor is None:
            return

        def gradient_arrived(grad: torch.Tensor) -> None:
            if not info.probing:
                return  # a missing zero_grad shows in every step: each epoch's first windows tell
            current = tensor.grad
            if current is None:
                info.reset = True
            elif not info.reset:
                values = current.detach()
                if values.layout != torch.strided:  # a sparse gradient (nn.Embedding(sparse=True))
                    values = values.coalesce().values() if values.is_sparse else values.values()
                info.seen.append(values.abs().amax() if values.numel() else values.new_zeros(()))

        info.tracked = tensor.register_hook(self.guarded(gradient_arrived))
        self.patches.handle(info.tracked)

    def _close_window(self, optimizer: Any, info: OptimizerInfo) -> None:
        if info.tracked is None:
            self.track_gradients(optimizer, info)
        elif self.state is not None and info.seen and not info.reset:
            smallest = info.seen[0] if len(info.seen) == 1 else torch.stack(info.seen).amin()
            self.facts.stale_windows.append((info.label, smallest))
            self.facts.windows += 1
            self.windows_probed += 1
        elif self.state is not None and (info.seen or info.reset):
            self.facts.windows += 1
            self.windows_probed += 1
        info.seen, info.reset = [], False
        info.probing = self.windows_probed < PROBED_BATCHES  # decided per window, never midway

    def loss_called(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        inp = args[0] if args else kwargs.get("input")
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if not isinstance(out, torch.Tensor) or not isinstance(inp, torch.Tensor):
            return
        value = out.detach()
        value = value.float().mean() if value.dim() else value
        if not (torch.is_grad_enabled() and out.requires_grad):
            self.val_losses.append(value)
            return
        if self.closed and (self.state is not None or not self.optimizers):
            self.drain()  # a new batch begins: the previous one was backpropagated
        record = LossCall(name, inp.detach(), target.detach() if isinstance(target, torch.Tensor) else target, value)
        if self.open is None or len(self.open) > 32:
            self.open = []
            self.open_batch += 1
        self.open.append(record)
        record.batch = self.open_batch  # a number, not the list: no cycle holding the logits until gc
        # weakly: the script's loss tensor (alive until its next step) must not keep the logits
        out.register_hook(self.guarded(functools.partial(self._fired, weakref.ref(record))))
        if self.state is None and not self.optimizers and not self.leaves:
            self.leaves = graph_leaves(out)
        self._probe(name, inp)

    def _probe(self, name: str, inp: torch.Tensor) -> None:
        if name not in self.loss_sites:
            self.loss_sites[name] = call_site()
        if self.probed >= PROBED_BATCHES:
            return
        self.probed += 1
        if self.last_softmax is not None and self.last_softmax[0]() is inp:
            self.prob_sites[name] = self.last_softmax[1]
        if name == "kl_div":
            self.facts.log_prob_inputs.append((name, _looks_like_probabilities(inp.detach())))

    def _fired(self, ref: weakref.ref[LossCall], grad: Any) -> None:
        record = ref()
        if record is None:
            return  # drained already: a second backward through the same graph
        record.fired = True
        self.fired_count += 1
        if record.batch == self.open_batch and self.open is not None:
            self.closed.append(self.open)
            self.open = None

    def backward_begins(self, tensors: Any) -> int:
        """Before a backward: with no optimizer, the tensors the first loss depends on; returns how
        many loss calls had fired so far (the graph is still whole)."""
        items = _scalars(tensors)
        if items and self.state is None and not self.optimizers and not self.leaves:
            self.leaves = graph_leaves(items[0])
        return self.fired_count

    def backward_done(self, tensors: Any, fired_before: int | None) -> None:
        """The batch's training loss is the tensor ``backward()`` was called on (the loss before a
        ``GradScaler`` scaled it): with the loss calls that fired in it, or a batch of its own."""
        scaled, self.scaled = self.scaled, None
        items = _scalars(tensors)
        if not items:
            return  # a vector-Jacobian product (``out.backward(grad)``), not a loss
        values = [(scaled[1] if scaled is not None and scaled[0] == id(t) else t.detach()).float() for t in items]
        total = values[0].reshape(()) if len(values) == 1 else torch.stack([v.reshape(()) for v in values]).sum()
        record = LossCall(BACKWARD, None, None, total, fired=True)
        if fired_before is not None and self.fired_count > fired_before and self.closed:
            self.closed[-1].append(record)  # the batch of the loss calls this backward went through
        else:
            if self.closed and (self.state is not None or not self.optimizers):
                self.drain()
            self.closed.append([record])

    def softmax_called(self, out: Any) -> None:
        if self.probed < PROBED_BATCHES and isinstance(out, torch.Tensor):
            self.last_softmax = (weakref.ref(out), self._softmax_module_site() or call_site())

    def _softmax_module_site(self) -> Any:
        """Where the ``nn.Softmax`` whose ``forward`` made this softmax was built (the call site
        would be the model's ``return self.net(x)``), else None."""
        frame: Any = sys._getframe(3)  # above this, softmax_called, safely: the softmax wrapper's caller
        for _ in range(4):
            if frame is None:
                return None
            if frame.f_code is observers.SOFTMAX_FORWARD:
                return self.built_modules.get(frame.f_locals.get("self"))
            frame = frame.f_back
        return None

    def module_built(self, module: Any) -> None:
        """Where an ``nn.Softmax`` was constructed (probabilities are explained there)."""
        self.built_modules[module] = call_site()

    def optimizer_built(self, optimizer: Any) -> None:
        label = type(optimizer).__name__
        if any(i.label == label for i in self.optimizers.values()):
            label = f"{label} #{len(self.optimizers) + 1}"
        self.optimizers[id(optimizer)] = OptimizerInfo(label, call_site())

    def scheduler_stepped(self, scheduler: Any) -> None:
        entry = self.schedulers.get(id(scheduler))
        site = entry[2] if entry is not None else call_site()
        self.schedulers[id(scheduler)] = (scheduler, (entry[1] if entry else 0) + 1, site)
        state = self.state
        primary = state.optimizer if state is not None else None
        if site is not None and (primary is None or getattr(scheduler, "optimizer", None) is primary):
            self.sites.setdefault("scheduler_step", site)

    def mode_set(self, module: Any, mode: bool) -> None:
        """Where each module's mode was last set (the module the script called, and every submodule)."""
        entry = (bool(mode), call_site())
        for sub in module.modules():
            self.mode_sites[id(sub)] = entry
