"""Two-stage training: stage 1 trains the head only, stage 2 fine-tunes everything.

Pathology: fine-tuning a backbone from the first step with an untrained head sends
large, noisy gradients through the backbone and destroys its features; one LR and one
cosine for the whole run decays before stage 2 converged.
Signal: unstable early loss; stage-2 AUC does not improve.
Fix: the report's trainer: stage 1 (``stage1_epochs``) with the backbone frozen and the
head at ``stage1_lr`` after a ``stage1_warmup_epochs`` linear warmup; then the backbone is
unfrozen and stage 2 runs the head at ``stage2_lr`` and the backbone at
``stage2_backbone_lr``, each with a ``stage2_warmup_epochs`` warmup and a cosine floored
at ``floor`` (the report: 5 epochs at 1e-4 / 0.5; then 5e-5 and 5e-6 / 1.0 / 0.1).

This plugin builds the optimizer's backbone/head groups (like ``layerwise_lr``: the slot
``param_groups``) and its own per-group LambdaLR (``make_scheduler``), stepped per
optimizer step; the history gets a ``stage`` key. Another scheduler or parameter-group
plugin enabled with it is refused before training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat

from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.schedules import warmup_cosine_factor
from harness.plugins.fixes.layerwise_lr import backbone_head_groups, set_param_groups, split_backbone_head

if TYPE_CHECKING:
    from torch.optim.lr_scheduler import LRScheduler

    from harness.core.state import TrainState


def stage_lr(step: int, p: Params, steps_per_epoch: int, total_steps: int, group: str) -> float:
    """The LR of ``group`` ("head" or "backbone") after ``step`` optimizer steps."""
    stage1_steps = p.stage1_epochs * steps_per_epoch
    if step < stage1_steps:
        if group == "backbone":
            return 0.0  # frozen
        warmup = round(p.stage1_warmup_epochs * steps_per_epoch)
        return p.stage1_lr * (step / warmup if step < warmup else 1.0)
    s2 = step - stage1_steps
    warmup = round(p.stage2_warmup_epochs * steps_per_epoch)
    factor = warmup_cosine_factor(s2, warmup, total_steps - stage1_steps, p.floor)
    return (p.stage2_backbone_lr if group == "backbone" else p.stage2_lr) * factor


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage1_epochs: NonNegativeInt = Field(5, description="epochs with the backbone frozen")
    stage1_lr: PositiveFloat = Field(1e-4, description="head LR in stage 1")
    stage1_warmup_epochs: float = Field(0.5, ge=0)
    stage2_lr: PositiveFloat = Field(5e-5, description="head LR in stage 2")
    stage2_backbone_lr: PositiveFloat = Field(5e-6, description="backbone LR in stage 2")
    stage2_warmup_epochs: float = Field(1.0, ge=0)
    floor: float = Field(0.1, ge=0, le=1, description="stage-2 cosine floor (x stage LR)")


class TwoStage(Plugin):
    name = "two_stage"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    slots = ("param_groups",)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.stage = 0

    def set_backbone_trainable(self, state: TrainState, trainable: bool) -> None:
        backbone, _ = split_backbone_head(state.model)
        for param in backbone:
            param.requires_grad_(trainable)

    @hookimpl(wrapper=True)
    def make_optimizer(self, state: TrainState) -> Any:
        optimizer = yield
        return set_param_groups(optimizer, backbone_head_groups(state.model, 1.0, 1.0))

    @hookimpl
    def make_scheduler(self, state: TrainState) -> LRScheduler:
        from torch.optim.lr_scheduler import LambdaLR

        hp, p = state.hparams, self.params
        per_epoch, total = hp.optimizer_steps_per_epoch, hp.total_steps

        # LambdaLR multiplies each group's LR at this point; divide it out to set absolute LRs
        def absolute(name: str, base: float) -> Callable[[int], float]:
            return lambda step: stage_lr(step, p, per_epoch, total, name) / base

        optimizer = state.optimizer
        assert optimizer is not None, "make_scheduler runs after make_optimizer"
        groups = optimizer.param_groups
        return LambdaLR(optimizer, [absolute(group.get("name", "head"), group["lr"]) for group in groups])

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        self.stage = 1 if self.params.stage1_epochs > 0 else 2
        self.set_backbone_trainable(state, self.stage == 2)

    @hookimpl
    def on_step(self, state: TrainState) -> None:
        assert state.scheduler is not None, "this plugin's make_scheduler built it (one scheduler slot)"
        state.scheduler.step()

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        metrics["stage"] = self.stage
        if self.stage == 1 and state.epoch >= self.params.stage1_epochs:
            self.stage = 2
            self.set_backbone_trainable(state, True)
