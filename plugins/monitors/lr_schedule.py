"""LR-schedule monitor: ``schedule_mismatch`` (scheduler and optimizer out of step) and ``lr_zero``.

Pathology: a scheduler stepped at the wrong rate. Stepped once per epoch, a per-step
warmup keeps the LR at 0 for the whole first epoch and then creeps up by one warmup step
per epoch, so the LR never leaves warmup (issue 11); stepped on every micro-batch under
gradient accumulation, the schedule runs ``accumulation_steps`` times too fast and ends
at LR 0 long before training does. Users keep filing both against training frameworks;
nothing checks them.
Signal: per epoch, from host-side numbers only (no device sync): (a) ``schedule_mismatch``
when the scheduler has been stepped more often than the optimizer (its ``last_epoch``
above the optimizer's step count), or when it is stepped less often and the LR is still
rising after the planned warmup (``warmup_ratio`` x total optimizer steps) has ended: a
per-step warmup stepped per epoch; (b) ``lr_zero`` when every optimizer step of the
epoch ran at LR 0 in every parameter group, or under ``LR_FLOOR`` (1e-6) of the run's first
LR (a ``StepLR(step_size=10)`` stepped per batch: LR 1e-21 by epoch 4). A per-epoch schedule that does not warm up
(``plateau``, step decay) and a group kept at LR 0 on purpose (``two_stage``'s frozen
backbone, while the head trains) are not findings.
Fix: none; this monitor only observes (``linear_warmup: {interval: step}`` steps the
schedule once per optimizer step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import LR_ZERO, SCHEDULER_PER_EPOCH, SCHEDULER_TOO_OFTEN

if TYPE_CHECKING:
    from harness.core.state import TrainState


SCHEDULE_MISMATCH_KIND = FindingKind(
    "schedule_mismatch",
    "the LR changes only at epoch boundaries although the schedule is planned in steps (or the reverse)",
    causes=(SCHEDULER_PER_EPOCH, SCHEDULER_TOO_OFTEN),
    site="scheduler_step",
    signals=("lr", "gradients"),
    roles=frozenset(("stall",)),
)

LR_ZERO_KIND = FindingKind(
    "lr_zero",
    "the learning rate stayed at (or fell to) almost zero",
    causes=(SCHEDULER_PER_EPOCH, LR_ZERO),
    site="scheduler_step",
    signals=("lr", "gradients"),
    roles=frozenset(("stall",)),
)


#: an LR under this share of the run's first LR is "zero": no step of it changes the weights
LR_FLOOR = 1e-6


class LRSchedule(Plugin):
    name = "lr_schedule"
    kind = "monitor"
    kinds = (SCHEDULE_MISMATCH_KIND, LR_ZERO_KIND)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.lrs: list[float] = []  # per optimizer step: the largest group LR the step ran at
        self.epoch_start = 0

    @hookimpl
    def on_after_backward(self, state: TrainState) -> None:
        groups = getattr(state.optimizer, "param_groups", None) or [{"lr": state.hparams.lr}]
        self.lrs.append(max(float(g["lr"]) for g in groups))

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        epoch_lrs = self.lrs[self.epoch_start :]
        self.epoch_start = len(self.lrs)
        top, start = max(epoch_lrs, default=None), self.lrs[0] if self.lrs else 0.0
        if top == 0.0:
            state.add_finding(
                "lr_zero",
                self.name,
                f"every one of the {len(epoch_lrs)} optimizer steps of epoch {state.epoch} ran at LR 0: nothing was learnt",
                step=state.step,
                value=0.0,
            )
        elif top is not None and start > 0 and top <= start * LR_FLOOR:
            state.add_finding(
                "lr_zero",
                self.name,
                f"every one of the {len(epoch_lrs)} optimizer steps of epoch {state.epoch} ran at LR {top:.3g} or "
                f"less, under {LR_FLOOR:g} of the LR it started at ({start:.3g}): nothing was learnt (a schedule "
                "stepped per batch that was meant per epoch?)",
                step=state.step,
                value=top,
            )
        stepped = getattr(state.scheduler, "last_epoch", None)
        if not isinstance(stepped, int) or isinstance(stepped, bool):
            return
        steps = state.step
        if stepped > steps:
            state.add_finding(
                "schedule_mismatch",
                self.name,
                f"the scheduler was stepped {stepped} times but the optimizer {steps} times (per micro-batch?): "
                f"the schedule runs {stepped / max(steps, 1):.1f}x too fast",
                step=steps,
                value=float(stepped),
            )
            return
        hp = state.hparams
        warmup = int(hp.warmup_ratio * hp.total_steps)
        if stepped < steps and 0 < warmup < steps <= len(self.lrs) and self.lrs[steps - 1] > self.lrs[warmup - 1]:
            state.add_finding(
                "schedule_mismatch",
                self.name,
                f"the LR is still rising after the planned warmup of {warmup} steps ({self.lrs[warmup - 1]:.3g} at "
                f"step {warmup}, {self.lrs[steps - 1]:.3g} at step {steps}): the scheduler was stepped {stepped} "
                f"times in {steps} optimizer steps (per epoch?)",
                step=steps,
                value=float(stepped),
            )
