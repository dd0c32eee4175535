"""Bug: a regression's MSE between ``(N, 1)`` predictions and ``(N,)`` targets broadcasts to ``(N, N)``.

Pathology: ``nn.MSELoss()(model(x), y)`` with a model whose last layer is
``nn.Linear(hidden, 1)`` (outputs of shape ``(N, 1)``) and targets of shape ``(N,)``.
Broadcasting pairs every prediction with every target of the batch, so the loss is
``mean_i (p_i - mean(y))^2 + var(y)``: it is minimised by predicting the batch's mean
target for every input. The loss falls (to the targets' variance) and training looks
healthy, but the model learns nothing about the inputs: R² stays near 0. PyTorch only
warns (``Using a target size that is different to the input size``), once.
Signal: the validation predictions barely vary compared with the targets
(``mode_collapse``, from the ``pred_std``/``target_std`` metrics of a regression).
Fix: give the loss matching shapes (``model(x).squeeze(-1)``, or targets ``y.unsqueeze(-1)``),
as the default regression loss does: switch this bug off.

Mechanism: the criterion is ``F.mse_loss(predictions, targets)`` on the shapes as they
come (a ``make_criterion`` answer, so it takes the criterion's slot), the warning
silenced as a script that scrolled past it would. Only for a regression workload whose
predictions have a trailing axis of 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class BroadcastMSE:
    """``F.mse_loss`` on the workload's predictions and the batch's targets, shapes unchanged."""

    def __init__(self, workload: Any) -> None:
        self.workload = workload

    def __call__(self, outputs: Any, batch: dict[str, Any]) -> Any:
        import warnings

        import torch.nn.functional as F

        predictions, targets = self.workload.logits(outputs), batch["labels"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return F.mse_loss(predictions, targets.to(predictions.dtype))


class BugLossBroadcast(Plugin):
    name = "bug_loss_broadcast"
    kind = "bug"
    shows_as = ("mode_collapse",)

    @hookimpl
    def make_criterion(self, state: TrainState) -> Any:
        if getattr(state.workload, "task", "classification") != "regression":
            raise TypeError("bug_loss_broadcast replays a regression's loss: the workload is not a regression")
        return BroadcastMSE(state.workload)
