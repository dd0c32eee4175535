"""Weight-update monitor: ``weights_not_updating`` (gradients but no change) and ``frozen_parameters``.

Pathology: the optimizer does not move the model: it was built over other tensors (a copy
of the model, a stale parameter list), its LR is 0 (a warmup stepped per epoch), or most
of the model is frozen by mistake (``requires_grad=False`` on the backbone) although the
optimizer holds it at a non-zero LR.
Signal: per epoch, (a) ``weights_not_updating``: of the parameters that received a
non-zero gradient, at least ``min_share`` (0.5, by number of weights) are *exactly*
unchanged since the epoch began; (b) ``frozen_parameters``: at least ``min_share`` of all
weights never got a gradient tensor in the epoch while their optimizer group's LR was
above 0 (a group at LR 0, as ``two_stage``'s frozen backbone in stage 1, is frozen on
purpose and not counted; nor are tensors the optimizer does not hold). Both are shares
of the model's own weights, so they hold for any model size.
Fix: none; this monitor only observes (``optimizer`` rebuilds the optimizer over the
model; ``linear_warmup: {interval: step}``; unfreeze).
Exactly unchanged is checked with a fingerprint per tensor (its sum and norm, in float64,
at the start and the end of the epoch: no copy of the weights); gradient norms are summed
on the device in the first steps of each epoch (whether a gradient exists at all is a
host-side check every step). One transfer per epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import LR_ZERO
from harness.plugins._shared.evidence import seen, weights_still_unexplained

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_share: float = Field(0.5, gt=0, le=1, description="share of the weights (by count) that must be affected")
    sample_steps: PositiveInt = Field(4, description="gradient norms are summed over each epoch's first N steps")


def fingerprint(parameters: list[Any]) -> Any:
    """``(n, 2)`` float64: each tensor's sum and L2 norm (equal before and after: unchanged)."""
    import torch

    detached = [p.detach() for p in parameters]
    sums = torch.stack([d.sum(dtype=torch.float64) for d in detached])
    norms = torch.stack([torch.linalg.vector_norm(d, dtype=torch.float64) for d in detached])
    return torch.stack([sums, norms], dim=1)


WEIGHTS_NOT_UPDATING_KIND = FindingKind(
    "weights_not_updating",
    "optimizer steps that leave the weights (almost) where they were",
    causes=(
        Cause(
            "optimizer built over other parameters",
            "an optimizer over a copy of the model (or built before the model was replaced) steps weights "
            "that are not the ones in use",
            "build the optimizer from the model that trains, after it is final: AdamW(model.parameters())",
            (Cure("optimizer"),),
            weights_still_unexplained,
        ),
        LR_ZERO,
    ),
    site="optimizer",
    signals=("gradients", "parameters"),
    roles=frozenset(("stall",)),
)

FROZEN_PARAMETERS_KIND = FindingKind(
    "frozen_parameters",
    "parameters that receive gradients but are not in the optimizer (or have none)",
    causes=(
        Cause(
            "layers frozen or detached by mistake",
            "requires_grad=False left on, or a .detach() in forward: those weights never get a gradient",
            "remove the freeze/detach (or unfreeze after the planned stage)",
            (),
            seen("frozen_parameters"),
        ),
    ),
    site="optimizer",
    signals=("gradients", "parameters"),
    roles=frozenset(("stall", "structural")),
)


class WeightUpdates(Plugin):
    name = "weight_updates"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (WEIGHTS_NOT_UPDATING_KIND, FROZEN_PARAMETERS_KIND)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.parameters: list[Any] = []
        self.start: Any = None
        self.grad_sum: Any = None
        self.had_grad: list[bool] = []
        self.steps = 0
        self._index: tuple[tuple[int, ...], Any] | None = None

    def _begin_epoch(self) -> None:
        import torch

        self.start = fingerprint(self.parameters)
        self.grad_sum = torch.zeros(len(self.parameters), dtype=torch.float32, device=self.start.device)
        self.had_grad = [False] * len(self.parameters)
        self.steps = 0

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        self.parameters = list(state.model.parameters())
        if self.parameters:
            self._begin_epoch()

    @hookimpl
    def on_after_backward(self) -> None:
        import torch

        if not self.parameters:
            return
        index = tuple(i for i, p in enumerate(self.parameters) if p.grad is not None)
        if not index:
            return
        for i in index:
            self.had_grad[i] = True
        self.steps += 1
        if self.steps > self.params.sample_steps:  # a few steps per epoch tell non-zero gradients apart
            return
        norms = torch.stack(torch._foreach_norm([self.parameters[i].grad for i in index])).float()
        if len(index) == len(self.parameters):
            self.grad_sum += norms.to(self.grad_sum.device)
            return
        if self._index is None or self._index[0] != index:
            self._index = (index, torch.tensor(index, device=self.grad_sum.device))
        self.grad_sum.index_add_(0, self._index[1], norms.to(self.grad_sum.device))

    def group_lrs(self, state: TrainState) -> dict[int, float]:
        """``id(parameter) -> its optimizer group's current LR`` (parameters the optimizer holds)."""
        lrs: dict[int, float] = {}
        for group in getattr(state.optimizer, "param_groups", []):
            for p in group["params"]:
                lrs[id(p)] = float(group["lr"])
        return lrs

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        import torch

        if not self.parameters:
            return
        changed = (fingerprint(self.parameters) != self.start).any(dim=1)
        changed_list, grad_list = torch.stack(
            [changed.float(), self.grad_sum.to(changed.device)]
        ).tolist()  # one transfer
        sizes = [p.numel() for p in self.parameters]
        total = sum(sizes)
        with_grad = [i for i, g in enumerate(grad_list) if g > 0]
        stuck = [i for i in with_grad if not changed_list[i]]
        graded = sum(sizes[i] for i in with_grad)
        if graded and sum(sizes[i] for i in stuck) >= self.params.min_share * graded:
            share = sum(sizes[i] for i in stuck) / graded
            state.add_finding(
                "weights_not_updating",
                self.name,
                f"{len(stuck)} of {len(with_grad)} parameter tensors with non-zero gradients ({share:.0%} of their "
                f"weights) did not change in epoch {state.epoch} (LR {state.current_lr():.3g}): the optimizer does "
                "not step these weights",
                value=share,
            )
        lrs = self.group_lrs(state)
        frozen = [i for i, p in enumerate(self.parameters) if not self.had_grad[i] and lrs.get(id(p), 0.0) > 0]
        frozen_size = sum(sizes[i] for i in frozen)
        if total and frozen_size >= self.params.min_share * total:
            state.add_finding(
                "frozen_parameters",
                self.name,
                f"{len(frozen)} of {len(self.parameters)} parameter tensors ({frozen_size / total:.0%} of the weights) "
                f"got no gradient in epoch {state.epoch} although the optimizer holds them at LR > 0 "
                "(requires_grad=False?)",
                value=frozen_size / total,
            )
        self._begin_epoch()
