"""Gradient-health monitor: records ``grad_explosion`` and ``grad_vanishing`` (< 1e-6).

Pathology: a scale mismatch, unnormalised inputs or gradients that are never zeroed make
gradients explode (steps far off the loss surface); a saturated tanh student or a dead
network makes them vanish (nothing learns any more).
Signal: the total L2 norm of all gradients at an optimizer step, before clipping. An
explosion is a norm above ``max_norm`` (100) or above ``growth`` (100) times the run's
own early norm (the median of its first ``start_steps`` (10) steps); vanishing is a norm
below ``min_norm`` (1e-6) at a step whose loss, and whose epoch's training loss, are still above
``fitted_share`` (10%) of the run's start loss (the mean of its first ``start_steps`` steps;
a model that learns fast fits its batches within epoch 1, whose mean still counts the start): a model that
fits its data (a loss of 0.06 from 1.1, F1 1.0) has tiny gradients by right, a dead or
saturated one keeps its loss. The seed-003 report alerted above 10, but a healthy run's
norm grows as it learns: the fixed issue-11 runs reach 10-12 before clipping in epochs
2-4 (~60x their start of ~0.2) and a small text transformer 22, while the explosions this
monitor is for are orders of magnitude (a distillation loss on raw teacher logits:
hundreds; unnormalised inputs: thousands; never-zeroed gradients: up to ~150x the start).
Both are above what the clean runs of ``benchmarks/detectors.py`` reach on every workload
(a norm of 1.7-22, ~10x their start), rather than tuned to one. An epoch's last step whose
batch is partial (the training set is not a multiple of the batch size) is not judged for
an explosion: its loss is a mean over a few items, so its gradient norm is far noisier
(the fixed issue-11 runs: a last batch of 4 of 64 items reached norms of 13-48, 100-300x
their early 0.15, in 5 of 20 seeds) while a real explosion lasts more than one step. Its
norm still counts in ``grad_norm_max``.
Fix: none; this monitor only observes. The norm is computed with torch ops each step and
buffered as a tensor; it is read once per epoch, and the epoch's max/mean are added to
the history (``grad_norm_max``, ``grad_norm_mean``). At most one finding per kind per epoch.

It reads the gradients in ``on_after_backward``, which fires once per optimizer step
before ``on_before_optimizer_step`` (where ``grad_clip`` or any other plugin may change
them) and after mixed precision unscaled them: it sees the raw norm whatever clips and
wherever a plugin is registered.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.monitoring import StepSeries, total_grad_norm
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import GRADIENT_SPIKES, LR_TOO_HIGH, SUMMED_LOSS, UNNORMALISED_INPUTS
from harness.plugins._shared.evidence import seen_before_overshoot

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_norm: float | None = Field(100.0, gt=0, description="grad_explosion above this norm (None: off)")
    growth: float | None = Field(
        100.0, gt=1, description="grad_explosion above this many times the run's early norm (None: off)"
    )
    start_steps: PositiveInt = Field(10, description="steps whose median norm is the run's early norm")
    min_norm: float | None = Field(1e-6, ge=0, description="grad_vanishing below this norm (None: off)")
    fitted_share: float = Field(
        0.1, gt=0, lt=1, description="no grad_vanishing in an epoch whose loss is below this share of the start loss"
    )


def is_partial_last_batch(state: TrainState) -> bool:
    """Whether the batch just backpropagated is its epoch's last and holds fewer items than the
    others (the training set is not a multiple of the batch size), in an epoch of several batches.
    False when the loader is not the harness's (a watched script: no loader known)."""
    loader = state.train_loader
    batches = state.hparams.batches_per_epoch
    if loader is None or batches < 2 or state.batch_index != batches - 1:
        return False
    size = getattr(loader, "batch_size", None)
    try:
        items = len(loader.dataset)
    except TypeError:  # an iterable dataset: no length
        return False
    if not size:
        return False
    return not getattr(loader, "drop_last", False) and items % size != 0


GRAD_EXPLOSION_KIND = FindingKind(
    "grad_explosion",
    "the gradient norm jumped far above its early level",
    causes=(UNNORMALISED_INPUTS, LR_TOO_HIGH, SUMMED_LOSS, GRADIENT_SPIKES),
    site="optimizer",
    lr_type=True,
    signals=("gradients",),
    roles=frozenset(("overshoot",)),
)

GRAD_VANISHING_KIND = FindingKind(
    "grad_vanishing",
    "the gradients shrank towards zero while the model still had to learn",
    causes=(
        Cause(
            "units dead or saturated",
            "ReLUs that never fire (negative biases, a too-high LR) or tanh/sigmoid pinned at their bounds "
            "pass no gradient back",
            "keep the LR in range and the biases at 0; check the dead_units / saturation findings",
            (Cure("bias_init"),),
            seen_before_overshoot("dead_units", "saturation"),
        ),
        LR_TOO_HIGH,
    ),
    lr_type=True,
    signals=("gradients",),
)


class GradHealth(Plugin):
    name = "grad_health"
    #: a script's loss scale is its own (a summed reconstruction loss starts above 1000): under
    #: ``harness watch`` only the rules relative to the run's own start judge
    watch_params = {"max_norm": None}
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (GRAD_EXPLOSION_KIND, GRAD_VANISHING_KIND)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.series = StepSeries()
        self._model: Any = None
        self._parameters: list[Any] = []
        self.early: list[float] = []  # the first start_steps finite norms of the run
        self.partial: set[int] = set()  # steps taken on an epoch's last, partial batch
        self.start_losses: list[Any] = []  # the first start_steps steps' losses (tensors, read once)
        self.start_loss: float | None = None
        self.step_losses: dict[int, Any] = {}  # this epoch's step -> its loss (a tensor, read once per epoch)

    @hookimpl
    def on_step(self, state: TrainState, loss: Any) -> None:
        value = loss.detach().float().reshape(())
        if len(self.start_losses) < self.params.start_steps and self.start_loss is None:
            self.start_losses.append(value)
        self.step_losses[state.step] = value

    def fitted(self, metrics: dict[str, Any] | None) -> bool:
        """Whether the epoch's training loss is below ``fitted_share`` of the run's start: a model that fits
        its data has small gradients by right, so they are not judged as vanishing."""
        import torch

        if self.start_loss is None and self.start_losses:
            self.start_loss = float(torch.stack(self.start_losses).mean())
            self.start_losses = []
        loss = None if metrics is None else metrics.get("loss")
        start = self.start_loss
        if not isinstance(loss, (int, float)) or start is None or not math.isfinite(start) or start <= 0:
            return False
        return loss < self.params.fitted_share * start

    @hookimpl
    def on_after_backward(self, state: TrainState) -> None:
        if state.model is not self._model:  # model.parameters() walks every module: list them once
            self._model, self._parameters = state.model, list(state.model.parameters())
        norm = total_grad_norm(self._parameters)
        if norm is not None:
            self.series.add(state.step + 1, norm)  # the step about to be taken
            if is_partial_last_batch(state):
                self.partial.add(state.step + 1)

    def check(self, state: TrainState, metrics: dict[str, Any] | None) -> None:
        steps, norms = self.series.drain()
        if not steps:
            return
        finite = [n for n in norms if math.isfinite(n)]
        if metrics is not None and finite:
            metrics["grad_norm_max"] = max(finite)
            metrics["grad_norm_mean"] = sum(finite) / len(finite)
        p = self.params
        if len(self.early) < p.start_steps:
            self.early += finite[: p.start_steps - len(self.early)]
        early = statistics.median(self.early) if self.early else None
        limits = []
        if p.max_norm is not None:
            limits.append((p.max_norm, f"{p.max_norm:g}"))
        if p.growth is not None and early:
            limits.append((p.growth * early, f"{p.growth:g} x the run's early norm {early:.3g}"))
        if limits:
            limit, why = min(limits)
            judged = [n if s not in self.partial else math.nan for s, n in zip(steps, norms, strict=True)]
            self._record(state, "grad_explosion", steps, judged, lambda n: n > limit, f"> {why}")
        self.partial.clear()
        epoch_fitted = self.fitted(metrics)  # first: it reads the run's start loss
        fitted_steps = self.fitted_steps()
        if p.min_norm is not None and not epoch_fitted:
            unfitted = [n if s not in fitted_steps else math.nan for s, n in zip(steps, norms, strict=True)]
            self._record(state, "grad_vanishing", steps, unfitted, lambda n: n < p.min_norm, f"< {p.min_norm:g}")

    def fitted_steps(self) -> set[int]:
        """This epoch's steps whose own loss is below ``fitted_share`` of the start: a model that learns
        fast fits its batches within the first epoch, whose mean loss still counts the start's."""
        import torch

        losses, self.step_losses = self.step_losses, {}
        start = self.start_loss
        if not losses or start is None or not math.isfinite(start) or start <= 0:
            return set()
        values = torch.stack(list(losses.values())).tolist()  # one read per epoch
        return {s for s, v in zip(losses, values, strict=True) if v < self.params.fitted_share * start}

    def _record(self, state: TrainState, kind: str, steps: list[int], norms: list[float], hit: Any, why: str) -> None:
        hits = [i for i, n in enumerate(norms) if math.isfinite(n) and hit(n)]
        if hits:
            i = hits[0]
            state.add_finding(
                kind,
                self.name,
                f"step {steps[i]} gradient norm {norms[i]:.3g} {why} ({len(hits)} of {len(steps)} steps this epoch)",
                step=steps[i],
                value=norms[i],
            )

    @hookimpl
    def on_epoch_end(self, state: TrainState, metrics: dict[str, Any]) -> None:
        self.check(state, metrics)

    @hookimpl
    def on_train_end(self, state: TrainState) -> None:
        self.check(state, None)
