"""Standardise the model's floating-point inputs with the training data's own statistics.

Pathology: features on wildly different or huge scales (raw units, pixel values 0-255,
counts): the first layer's pre-activations and the initial logits are far too large,
gradients explode, bounded units saturate (see ``bug_unnormalised_inputs``).
Signal: ``bad_initial_loss`` (the start loss far above ``log(C)``), ``grad_explosion``,
``loss_explosion``, ``saturation``.
Fix: z-score every floating-point input feature, ``(x - mean) / std``, with the mean and
std of the training inputs: accumulated over the first ``stat_batches`` training batches
(per feature: every axis but the batch axis; fewer when validation comes first), then
frozen, and applied in training and validation alike, at the model's input (a forward
pre-hook registered in ``on_train_start``: after any hook registered earlier, so it sees
the inputs as the model would). Integer inputs (token ids) are left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stat_batches: PositiveInt = Field(8, description="training batches whose inputs give the mean and std")
    eps: float = Field(1e-6, gt=0, description="added to the std")


class RunningStats:
    """Per-feature mean and variance of a stream of ``(batch, *features)`` tensors (Chan et al.), on device."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: Any = None
        self.m2: Any = None

    def add(self, x: Any) -> None:
        x = x.detach().double()
        k = x.shape[0]
        mean, m2 = x.mean(dim=0), ((x - x.mean(dim=0)) ** 2).sum(dim=0)
        if self.mean is None:
            self.n, self.mean, self.m2 = k, mean, m2
            return
        total = self.n + k
        delta = mean - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * k / total)
        self.n = total

    def std(self, eps: float) -> Any:
        return (self.m2 / max(self.n - 1, 1)).sqrt() + eps


class Standardizer:
    """The forward pre-hook: float inputs z-scored with running, then frozen, training statistics.

    A module-level class holding only tensors and numbers, so a model saved whole (a v1.5
    checkpoint) still pickles, standardisation included.
    """

    def __init__(self, stat_batches: int, eps: float) -> None:
        self.stat_batches, self.eps = stat_batches, eps
        self.stats: dict[str, RunningStats] = {}
        self.frozen: dict[str, tuple[Any, Any]] = {}
        self.batches = 0  # training batches seen (counted by the plugin)

    def standardise(self, key: str, x: Any, training: bool) -> Any:
        if key not in self.frozen and not training and key in self.stats:  # validation: freeze what was seen
            stats = self.stats[key]
            self.frozen[key] = (stats.mean.to(x.dtype), stats.std(self.eps).to(x.dtype))
        if key not in self.frozen:
            if not training:  # no training batch seen yet (cannot happen in a harness run)
                return x
            stats = self.stats.setdefault(key, RunningStats())
            stats.add(x)
            mean, std = stats.mean, stats.std(self.eps)
            if self.batches + 1 >= self.stat_batches:
                self.frozen[key] = (mean.to(x.dtype), std.to(x.dtype))
            return ((x.double() - mean) / std).to(x.dtype)
        mean, std = self.frozen[key]
        return (x - mean) / std

    def __call__(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        import torch

        def z(key: str, value: Any) -> Any:
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                return self.standardise(key, value, module.training)
            return value

        return tuple(z(f"arg{i}", a) for i, a in enumerate(args)), {k: z(k, v) for k, v in kwargs.items()}


class InputStandardize(Plugin):
    name = "input_standardize"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = (
        "bad_initial_loss",
        "grad_explosion",
        "loss_explosion",
        "saturation",
        "nan",
        "loss_oscillation",
        "data_feature_scale",
    )

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.standardizer = Standardizer(self.params.stat_batches, self.params.eps)
        self.handle: Any = None

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        self.handle = state.model.register_forward_pre_hook(self.standardizer, with_kwargs=True)

    @hookimpl
    def on_batch_end(self) -> None:
        self.standardizer.batches += 1

    @hookimpl
    def on_train_end(self) -> None:
        if self.handle is not None:
            self.handle.remove()
