"""Bug: the model's output goes through a softmax before ``CrossEntropyLoss``.

Pathology: the classifier ends in ``nn.Softmax`` (or the training code calls
``softmax`` on the logits) and the loss is ``CrossEntropyLoss``, which applies
``log_softmax`` itself. The loss then sees probabilities in [0, 1] as logits: it can
never get below ``-log(e / (e + C - 1))`` (0.31 for 2 classes, 0.55 for 3), its gradient
is squashed by the softmax's Jacobian, and training is slow and plateaus early. With a
single logit it is ``sigmoid`` before ``BCEWithLogitsLoss``.
Signal: the outputs the loss receives are non-negative and sum to 1 on every row
(``probability_outputs``, from the ``probability_outputs`` monitor); the loss stalls
above its floor (``no_convergence``).
Fix: give the loss the raw logits (drop the softmax; apply it only where probabilities
are needed, e.g. in evaluation): switch this bug off.

Mechanism: a forward hook on the model (registered in ``on_setup``) replaces its class
logits (the output tensor, or its ``.logits``) by their softmax (a sigmoid for a single
logit), for training and validation alike, as an ``nn.Softmax`` last layer would; with
``where: validation`` only in ``eval()`` mode, as evaluation code that softmaxes the logits
before its ``CrossEntropyLoss`` does (ariecattan/SciCo #2: the validation loss floors at
``log((e + C - 1) / e)`` while training is healthy). Only for classifiers whose model
returns class logits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


def as_probabilities(logits: Any) -> Any:
    """Softmax over the class axis, or a sigmoid for one logit per sample."""
    import torch

    if logits.dim() == 1 or logits.shape[-1] == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


class SoftmaxLastLayer:
    """The forward hook: the model's class logits replaced by their probabilities, as an
    ``nn.Softmax`` last layer would (a module-level class: the model still pickles whole).
    ``validation_only``: only while the model is in ``eval()`` mode (evaluation code that
    softmaxes before its loss)."""

    def __init__(self, validation_only: bool = False) -> None:
        self.validation_only = validation_only

    def __call__(self, module: Any, args: Any, output: Any) -> Any:
        import torch

        if self.validation_only and module.training:
            return output
        if isinstance(output, torch.Tensor):
            return as_probabilities(output)
        if isinstance(getattr(output, "logits", None), torch.Tensor):
            output.logits = as_probabilities(output.logits)
            return output
        raise TypeError(
            f"bug_softmax_before_ce needs a model that returns class logits (a tensor or .logits), "
            f"not {type(output).__name__}"
        )


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    where: Literal["everywhere", "validation"] = Field(
        "everywhere",
        description="everywhere: the model ends in a softmax; validation: only the evaluation code softmaxes "
        "before its loss (training is healthy, the validation loss has a floor)",
    )


class BugSoftmaxBeforeCE(Plugin):
    name = "bug_softmax_before_ce"
    kind = "bug"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    shows_as = ("probability_outputs", "no_convergence", "collapse")

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.handle: Any = None

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        hook = SoftmaxLastLayer(validation_only=self.params.where == "validation")
        self.handle = state.model.register_forward_hook(hook)

    @hookimpl
    def on_train_end(self) -> None:
        if self.handle is not None:
            self.handle.remove()
