"""The observers a :class:`~.watcher.Watcher` installs into torch, each undone by :class:`~.patches.Patches`.

=================================  ======================================  ==========================
what                               how                                     why not a public hook
=================================  ======================================  ==========================
optimizer steps                    ``register_optimizer_step_pre_hook``,
                                   ``register_optimizer_step_post_hook``
the model                          none: at the first step, the innermost
                                   module holding the optimizer's tensors
gradient resets                    ``Tensor.register_hook`` on one tensor
                                   per optimizer
a loss was backpropagated          ``Tensor.register_hook`` on its output
the training loss                  ``torch.autograd.backward`` (what         no backward hook with
                                   ``Tensor.backward`` calls), ``GradScaler.`` the tensor itself
                                   ``scale``
loss calls (logits, labels)        wrappers of ``torch.nn.functional``'s   ``TorchFunctionMode`` sees
                                   losses (``nn.CrossEntropyLoss`` &c.     every tensor op of the
                                   call them)                              script: a per-op cost
softmax sources                    ``F.softmax``, ``torch.softmax``,       as above
                                   ``Tensor.softmax`` (first batches)
where an optimizer was built       ``Optimizer.__init__``                  no construction hook
where an ``nn.Softmax`` was built  ``nn.Softmax.__init__``                 as above
scheduler steps                    ``step`` of ``LRScheduler`` and its     no scheduler hook
                                   subclasses that override it
``model.train()``/``eval()``       ``Module.train`` (``eval`` calls it)    no mode hook
DataLoader passes                  ``DataLoader.__iter__``,                no iteration hook
                                   ``_BaseDataLoaderIter.__next__``
=================================  ======================================  ==========================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader
from torch.utils.data.dataloader import _BaseDataLoaderIter

if TYPE_CHECKING:
    from .patches import Patches

#: the watcher (typed loosely: this module is imported by it, never the other way round)
Watcher = Any
#: the code of ``nn.Softmax.forward``: a softmax made there is explained where the module was built
SOFTMAX_FORWARD = torch.nn.Softmax.forward.__code__
#: losses whose input is class logits (the watcher's "classifier")
CLASS_LOSSES = ("cross_entropy", "nll_loss", "binary_cross_entropy_with_logits")
#: other losses whose calls are training batches too
OTHER_LOSSES = ("kl_div", "binary_cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")


def install(w: Watcher, patches: Patches) -> None:
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    patches.handle(
        register_optimizer_step_pre_hook(lambda opt, args, kwargs: w.safely(w.before_step, opt, args, kwargs))
    )
    patches.handle(register_optimizer_step_post_hook(lambda opt, args, kwargs: w.safely(w.after_step, opt)))
    _install_losses(w, patches)
    _install_softmax(w, patches)
    _install_backward(w, patches)
    patches.wrap(torch.optim.Optimizer, "__init__", lambda original: _after(w, original, w.optimizer_built))
    patches.wrap(torch.nn.Softmax, "__init__", lambda original: _after(w, original, w.module_built))
    for cls in _scheduler_classes():
        patches.wrap(cls, "step", lambda original: _scheduler_step(w, original))
    patches.wrap(torch.nn.Module, "train", lambda original: _module_train(w, original))
    patches.wrap(DataLoader, "__iter__", lambda original: _loader_iter(w, original))
    patches.wrap(_BaseDataLoaderIter, "__next__", lambda original: _loader_next(w, original))


def _after(w: Watcher, original: Callable[..., Any], observe: Callable[[Any], None]) -> Callable[..., Any]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        w.safely(observe, self)

    return init


def _install_losses(w: Watcher, patches: Patches) -> None:
    depth = w._depth

    def make(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            def loss(*args: Any, **kwargs: Any) -> Any:
                if depth["loss"]:
                    return original(*args, **kwargs)
                depth["loss"] += 1
                try:
                    out = original(*args, **kwargs)
                finally:
                    depth["loss"] -= 1
                w.safely(w.loss_called, name, args, kwargs, out)
                return out

            return loss

        return wrap

    for name in (*CLASS_LOSSES, *OTHER_LOSSES):
        if hasattr(F, name):
            patches.wrap(F, name, make(name))


def _install_softmax(w: Watcher, patches: Patches) -> None:
    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def softmax(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            w.safely(w.softmax_called, out)
            return out

        return softmax

    patches.wrap(F, "softmax", wrap)
    patches.wrap(torch, "softmax", wrap)
    patches.wrap(torch.Tensor, "softmax", wrap)


def _install_backward(w: Watcher, patches: Patches) -> None:
    """``torch.autograd.backward`` (``Tensor.backward`` calls it): the training loss is the tensor
    backpropagated, however it was computed; ``GradScaler.scale``: the loss before scaling."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            mark = w.safely(w.backward_begins, tensors)
            result = original(tensors, *args, **kwargs)
            w.safely(w.backward_done, tensors, mark)
            return result

        return backward

    def wrap_scale(original: Callable[..., Any]) -> Callable[..., Any]:
        def scale(self: Any, outputs: Any) -> Any:
            scaled = original(self, outputs)
            if isinstance(outputs, torch.Tensor) and isinstance(scaled, torch.Tensor):
                w.scaled = (id(scaled), outputs.detach())
            return scaled

        return scale

    patches.wrap(torch.autograd, "backward", wrap)
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        patches.wrap(torch.amp.GradScaler, "scale", wrap_scale)


def _scheduler_classes() -> list[type]:
    import torch.optim.lr_scheduler as schedulers

    found = [LRScheduler]
    for _, cls in inspect.getmembers(schedulers, inspect.isclass):
        if issubclass(cls, LRScheduler) and cls is not LRScheduler and "step" in cls.__dict__:
            found.append(cls)
    return found


def _scheduler_step(w: Watcher, original: Callable[..., Any]) -> Callable[..., Any]:
    depth = w._depth

    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if depth["scheduler"]:  # a chained scheduler stepping its parts: one step
            return original(self, *args, **kwargs)
        initial = getattr(self, "last_epoch", None) == -1 or not hasattr(self, "optimizer")  # from __init__
        depth["scheduler"] += 1
        try:
            result = original(self, *args, **kwargs)
        finally:
            depth["scheduler"] -= 1
        if not initial:
            w.safely(w.scheduler_stepped, self)
        return result

    return step


def _module_train(w: Watcher, original: Callable[..., Any]) -> Callable[..., Any]:
    depth = w._depth

    def train(self: Any, mode: bool = True) -> Any:
        if depth["train"]:  # the children of the module the script switched
            return original(self, mode)
        depth["train"] += 1
        try:
            result = original(self, mode)
        finally:
            depth["train"] -= 1
        w.safely(w.mode_set, self, mode)
        return result

    return train


def _loader_iter(w: Watcher, original: Callable[..., Any]) -> Callable[..., Any]:
    def iterate(self: Any) -> Any:
        iterator = original(self)
        w.safely(w.pass_begins, self, iterator)
        return iterator

    return iterate


def _loader_next(w: Watcher, original: Callable[..., Any]) -> Callable[..., Any]:
    def next_batch(self: Any) -> Any:
        try:
            batch = original(self)
        except StopIteration:
            w.safely(w.pass_ends, id(self))
            raise
        w.safely(w.fetched, id(self))
        return batch

    return next_batch
