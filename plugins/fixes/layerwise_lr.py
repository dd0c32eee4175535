"""Layer-wise learning rates: a lower LR for the backbone than for the head.

Pathology: one LR for everything either barely moves the head or wrecks the backbone's
features while fine-tuning.
Signal: stage-2 fine-tuning does not improve (or degrades) validation AUC.
Fix: the report's param groups ``[{backbone, lr 5e-6}, {fc, lr 5e-5}]`` (backbone LR =
head LR x 0.1). Works with any optimizer plugin: the optimizer built by whichever
plugin answered ``make_optimizer`` gets its parameter groups replaced (before any step),
in a ``make_optimizer`` wrapper. Setting the parameter groups is an exclusive role, the
slot ``param_groups`` (``two_stage`` sets its own): enabling both is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


def split_backbone_head(model: Any) -> tuple[list[Any], list[Any]]:
    """``(backbone, head)`` parameters: the head is ``model.head`` or ``model.classifier``."""
    head_module = getattr(model, "head", None) or getattr(model, "classifier", None)
    if head_module is None:
        raise TypeError(f"{type(model).__name__} has no .head or .classifier to split from its backbone")
    head = list(head_module.parameters())
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return backbone, head


def set_param_groups(optimizer: Any, groups: list[dict[str, Any]]) -> Any:
    """Replace an optimizer's parameter groups before its first step (missing keys from its defaults)."""
    if optimizer.state:
        raise RuntimeError("parameter groups can only be replaced before the first optimizer step")
    optimizer.param_groups.clear()
    for group in groups:
        optimizer.add_param_group(group)
    return optimizer


def backbone_head_groups(model: Any, backbone_lr: float, head_lr: float) -> list[dict[str, Any]]:
    backbone, head = split_backbone_head(model)
    return [  # the head first: the run's recorded LR (``lr``, ``lr_per_step``) is group 0's
        {"name": "head", "params": head, "lr": head_lr},
        {"name": "backbone", "params": backbone, "lr": backbone_lr},
    ]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    head_lr: float | None = Field(None, gt=0, description="head LR (None: the scenario's train.lr)")
    backbone_lr: float | None = Field(None, gt=0, description="backbone LR (None: head_lr x backbone_factor)")
    backbone_factor: float = Field(0.1, gt=0, description="backbone LR / head LR when backbone_lr is unset")


class LayerwiseLR(Plugin):
    name = "layerwise_lr"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    slots = ("param_groups",)

    @hookimpl(wrapper=True)
    def make_optimizer(self, state: TrainState) -> Any:
        optimizer = yield
        p = self.params
        head_lr = p.head_lr if p.head_lr is not None else state.hparams.lr
        backbone_lr = p.backbone_lr if p.backbone_lr is not None else head_lr * p.backbone_factor
        return set_param_groups(optimizer, backbone_head_groups(state.model, backbone_lr, head_lr))
