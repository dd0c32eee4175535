"""Stale-gradient monitor: records ``stale_gradients`` when a step starts with gradients left over.

Pathology: ``optimizer.zero_grad()`` is never called (or called in the wrong place), so
``backward`` adds every batch's gradient to all earlier ones: each step follows the sum
of the run's gradients, whose norm grows with the step count.
Signal: at the first batch of an optimizer step (before its forward and backward), some
parameter already holds a non-zero gradient. The harness loop zeroes gradients with
``set_to_none=True`` after every step, so in a correct run they are ``None`` there; a
gradient tensor that is all zeros (``set_to_none=False``) is fine too.
Fix: none; this monitor only observes (``zero_grad`` once per optimizer step).
The check is host-side (``p.grad is None``) until a gradient is found; then its norm is
computed on the device and read once per epoch, so a correct run costs no device work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.monitoring import total_grad_norm
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.evidence import seen

if TYPE_CHECKING:
    from harness.core.state import TrainState


STALE_GRADIENTS_KIND = FindingKind(
    "stale_gradients",
    "gradients accumulate across optimizer steps: they are never reset",
    causes=(
        Cause(
            "optimizer.zero_grad() never called",
            "gradients add up across steps: every step repeats all earlier ones",
            "call optimizer.zero_grad() once per optimizer step (before the next backward)",
            (Cure("grad_reset"),),
            seen("stale_gradients"),
        ),
    ),
    site="optimizer_step",
    signals=("gradients",),
    roles=frozenset(("stall", "broken_before_stepping", "structural")),
)


class StaleGradients(Plugin):
    name = "stale_gradients"
    kind = "monitor"
    kinds = (STALE_GRADIENTS_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.parameters: list[Any] = []
        self.norms: list[Any] = []
        self.windows = 0

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        self.parameters = list(state.model.parameters())

    @hookimpl
    def on_batch(self, state: TrainState) -> None:
        if state.batch_index % state.hparams.accumulation_steps:
            return  # not the first batch of an optimizer step
        self.windows += 1
        if any(p.grad is not None for p in self.parameters):
            norm = total_grad_norm(self.parameters)
            if norm is not None:
                self.norms.append(norm)

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        import torch

        windows, norms = self.windows, self.norms
        self.windows, self.norms = 0, []
        if not norms:
            return
        values = torch.stack(norms).tolist()
        stale = [v for v in values if v > 0]
        if stale:
            state.add_finding(
                "stale_gradients",
                self.name,
                f"{len(stale)} of {windows} optimizer steps of epoch {state.epoch} began with gradients left from "
                f"earlier batches (norm up to {max(stale):.3g}): zero_grad is not called",
                value=max(stale),
            )
