"""Bug: the model is fed unnormalised inputs (features on a scale of ~1e3).

Pathology: the standardisation step is skipped or applied to the wrong split (raw
millimetres, prices, pixel values 0-255, sensor counts): the first layer's
pre-activations are ~1000x too large, so the initial logits are huge and the initial
loss far above ``log(C)``, gradients explode, tanh/sigmoid units saturate and ReLUs
flip between dead and huge; the optimizer spends the run undoing the scale.
Signal: the loss at the start is far above ``log(C)`` (``bad_initial_loss``, from the
``convergence`` monitor); gradients or the loss explode (``grad_explosion``,
``loss_explosion``); bounded outputs saturate (``saturation``, ``mode_collapse``).
Fix: standardise the features with the training split's mean and std (the ``tabular``
workload's ``standardize``), or let ``input_standardize`` do it at the model's input.

Mechanism: a forward pre-hook on the model (registered in ``on_setup``) multiplies every
floating-point input tensor by ``scale`` (default 1000), in training and validation
alike, as raw-scale data would arrive. Integer inputs (token ids) are left alone: a
model with no floating-point input fails its first batch with a clear error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1000.0, gt=1, description="the factor the raw features are off by")


def scale_float_inputs(
    args: tuple[Any, ...], kwargs: dict[str, Any], scale: float
) -> tuple[tuple[Any, ...], dict[str, Any], int]:
    """``(args, kwargs, how many tensors were scaled)`` with every float tensor times ``scale``."""
    import torch

    count = 0

    def scaled(value: Any) -> Any:
        nonlocal count
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            count += 1
            return value * scale
        return value

    new_args = tuple(scaled(a) for a in args)
    new_kwargs = {k: scaled(v) for k, v in kwargs.items()}
    return new_args, new_kwargs, count


class RawScale:
    """The forward pre-hook: every float input times ``scale``; counts what it scaled (a
    module-level class: the model still pickles whole)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.scaled = 0

    def __call__(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args, kwargs, count = scale_float_inputs(args, kwargs, self.scale)
        self.scaled += count
        return args, kwargs


class BugUnnormalisedInputs(Plugin):
    name = "bug_unnormalised_inputs"
    kind = "bug"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    shows_as = (
        "bad_initial_loss",
        "grad_explosion",
        "loss_explosion",
        "saturation",
        "mode_collapse",
        "dead_units",
        "loss_oscillation",
        "no_convergence",
        "nan",
        "collapse",
    )

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.hook_fn = RawScale(self.params.scale)
        self.handle: Any = None

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        self.handle = state.model.register_forward_pre_hook(self.hook_fn, with_kwargs=True)

    @hookimpl
    def on_batch_end(self) -> None:
        if not self.hook_fn.scaled:
            raise ValueError(
                "bug_unnormalised_inputs: the model received no floating-point input to scale "
                "(token ids?); this bug applies to models fed numeric features"
            )

    @hookimpl
    def on_train_end(self) -> None:
        if self.handle is not None:
            self.handle.remove()
