"""Choose the optimizer by name: AdamW (the default), Adam or plain SGD.

Pathology: a learning rate far too high. Adam(W) normalises every weight's step to about
``lr`` whatever the gradient's scale, so the same LR that makes plain SGD (step =
``lr x grad``) blow up only makes Adam(W) noisy or stuck: an LR-too-high incident from
a script that used SGD is masked under the harness's default AdamW, and replays only
with the incident's own optimizer.
Signal: with ``name: sgd`` the training loss explodes (``loss_explosion``) or turns
non-finite (status ``diverged``); at the same LR AdamW finishes with status ``ok``.
Fix: ``optimizer: {name: sgd, momentum: 0.0}`` (or ``adam``/``adamw``) replays the
incident's optimizer; a fix variant then lowers ``train.lr`` or swaps the optimizer.
The learning rate is always ``train.lr`` as the other plugins left it (``lr_scaling``,
schedulers and ``layerwise_lr`` still apply); only the LR-independent settings are
parameters here, and ``weight_decay`` defaults to ``train.weight_decay`` (decoupled in
AdamW, an L2 term in Adam and SGD, as torch does it). A parameter the chosen optimizer
does not have (``momentum`` for Adam, ``betas`` for SGD, ...) is a validation error, not
silently ignored. ``sgd_nesterov`` stays as the student-distillation incident's (seed
003) named fix: the report's exact Nesterov SGD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from torch.optim import Optimizer as TorchOptimizer  # this module's plugin class is Optimizer

    from harness.core.state import TrainState

Beta = Annotated[float, Field(ge=0, lt=1)]

_APPLIES_TO: dict[str, tuple[str, ...]] = {
    "momentum": ("sgd",),
    "nesterov": ("sgd",),
    "betas": ("adam", "adamw"),
    "eps": ("adam", "adamw"),
}


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["adamw", "adam", "sgd"] = Field("adamw", description="the optimizer: adamw, adam or sgd")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (sgd only)")
    nesterov: bool = Field(False, description="Nesterov momentum (sgd only; needs momentum > 0)")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="Adam's (beta1, beta2) (adam/adamw only)")
    eps: float = Field(1e-8, gt=0, description="Adam's denominator epsilon (adam/adamw only)")
    weight_decay: float | None = Field(None, ge=0, description="weight decay (None: the scenario's train.weight_decay)")

    # field validators run only on values a scenario set (not on defaults), and after
    # ``name`` and ``momentum`` (declared first): each error is located at its own field
    @field_validator("momentum", "nesterov", "betas", "eps")
    @classmethod
    def _applies_to_the_optimizer(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("name")
        allowed = _APPLIES_TO[str(info.field_name)]
        if name is not None and name not in allowed:
            raise ValueError(f"{info.field_name!r} applies only to optimizer name {' or '.join(allowed)}, not {name!r}")
        return value

    def applicable(self) -> set[str]:
        """The fields that apply to the chosen optimizer (what reports show)."""
        return {f for f in type(self).model_fields if self.name in _APPLIES_TO.get(f, (self.name,))}

    @field_validator("nesterov")
    @classmethod
    def _nesterov_needs_momentum(cls, value: bool, info: ValidationInfo) -> bool:
        momentum = info.data.get("momentum")
        if value and momentum is not None and momentum <= 0:
            raise ValueError(f"'nesterov' needs momentum > 0 (momentum is {momentum:g}); set momentum, e.g. 0.9")
        return value


class Optimizer(Plugin):
    name = "optimizer"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("weights_not_updating", "no_convergence")  # built over the model that trains

    @hookimpl
    def make_optimizer(self, state: TrainState) -> TorchOptimizer:
        import torch

        p = self.params
        hp = state.hparams
        weight_decay = p.weight_decay if p.weight_decay is not None else hp.weight_decay
        parameters = state.model.parameters()
        if p.name == "sgd":
            return torch.optim.SGD(
                parameters, lr=hp.lr, momentum=p.momentum, nesterov=p.nesterov, weight_decay=weight_decay
            )
        cls = torch.optim.Adam if p.name == "adam" else torch.optim.AdamW
        return cls(parameters, lr=hp.lr, betas=p.betas, eps=p.eps, weight_decay=weight_decay)
