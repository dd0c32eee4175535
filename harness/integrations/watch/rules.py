"""Monitors only a watched script needs: facts a scenario's loop never has to observe.

They are ordinary monitor plugins (``kind = "monitor"``, a ``Params`` model, hookimpls),
available in watch mode only and switched like any other (``--without watch_schedule``).
Their facts come from the watcher's observers through :class:`Facts` (set on the
instance when the watcher builds the run), never through the state.

- ``watch_schedule``: a per-step warmup stepped once per DataLoader pass. A script has no
  ``warmup_ratio``, so ``lr_schedule``'s planned-warmup rule cannot apply; observable
  instead: the scheduler was stepped exactly once in each of the last ``rising_epochs``
  epochs and the LR rose in each of them (still warming up after that many epochs).
- ``watch_zero_grad``: ``optimizer.step()`` with no reset of the gradients since the
  previous step. A script zeroes anywhere (before the forward, before ``backward``, after
  the step), so ``stale_gradients``' "no gradient at the batch's start" does not hold;
  observable instead: every backward pass between two steps of an optimizer found its
  tracked parameter's gradient non-zero (a reset shows as ``None`` or zeros).
- ``watch_loss_inputs``: ``kl_div``/``nll_loss`` given probabilities where they expect
  log-probabilities (values in [0, 1], rows summing to 1, batch after batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl
from harness.plugins.monitors.lr_schedule import SCHEDULE_MISMATCH_KIND
from harness.plugins.monitors.probability_outputs import PROBABILITY_OUTPUTS_KIND
from harness.plugins.monitors.stale_gradients import STALE_GRADIENTS_KIND

if TYPE_CHECKING:
    from harness.core.state import TrainState


@dataclass
class Facts:
    """What the watcher observed that the watch-only monitors judge (read once per epoch)."""

    #: per epoch: the primary scheduler's step count at the epoch's end (None: no scheduler)
    scheduler_steps: list[int | None] = field(default_factory=list)
    #: per epoch: the LR at the epoch's end
    epoch_lrs: list[float] = field(default_factory=list)
    #: ``(optimizer label, 0-d tensor)`` per step window seen: the smallest gradient magnitude
    #: the tracked parameter held when a backward pass arrived (> 0: never reset)
    stale_windows: list[tuple[str, Any]] = field(default_factory=list)
    windows: int = 0
    #: ``(loss name, 0-d bool tensor)``: a log-probability loss's input looked like probabilities
    log_prob_inputs: list[tuple[str, Any]] = field(default_factory=list)


class WatchPlugin(Plugin):
    kind = "monitor"
    needs = ()  # a rule reads the watcher's own probes (:class:`Facts`), not the harness loop's signals
    facts: Facts | None = None  # set by the watcher

    @classmethod
    def default_enabled(cls) -> bool:
        return True


class ScheduleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rising_epochs: int = Field(3, ge=2, description="epochs in a row with one scheduler step and a rising LR")


class WatchSchedule(WatchPlugin):
    """Pathology: a per-step warmup stepped per epoch. Signal: one scheduler step per
    DataLoader pass and a rising LR, ``rising_epochs`` epochs in a row. Fix: none (step the
    scheduler after every ``optimizer.step()``)."""

    name = "watch_schedule"
    Params = ScheduleParams
    params: ScheduleParams
    kinds = (SCHEDULE_MISMATCH_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.reported = False

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        facts, n = self.facts, self.params.rising_epochs
        if self.reported or facts is None or len(facts.scheduler_steps) < n + 1:
            return
        counts = [c for c in facts.scheduler_steps[-(n + 1) :] if c is not None]
        lrs = facts.epoch_lrs[-(n + 1) :]
        if len(counts) < n + 1:  # an epoch whose scheduler count is unknown
            return
        per_epoch = [b - a for a, b in zip(counts, counts[1:], strict=False)]
        rising = all(b > a for a, b in zip(lrs, lrs[1:], strict=False))
        if rising and all(k == 1 for k in per_epoch):
            self.reported = True
            state.add_finding(
                "schedule_mismatch",
                self.name,
                f"the scheduler was stepped once per epoch for {n} epochs and the LR is still rising "
                f"({lrs[0]:.3g} -> {lrs[-1]:.3g}, {state.step} optimizer steps): a per-step warmup stepped per epoch?",
                step=state.step,
                value=lrs[-1],
            )


class WatchZeroGrad(WatchPlugin):
    """Pathology: gradients never reset between optimizer steps (no ``zero_grad()``).
    Signal: every backward pass of a step found the tracked parameter's gradient non-zero.
    Fix: none (``optimizer.zero_grad()`` once per step)."""

    name = "watch_zero_grad"
    kinds = (STALE_GRADIENTS_KIND,)
    #: the harness loop's monitor assumes gradients are zeroed right after each step
    replaces = ("stale_gradients",)

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        import torch

        facts = self.facts
        if facts is None or not facts.stale_windows:
            return
        windows, facts.stale_windows, total = facts.stale_windows, [], facts.windows
        facts.windows = 0
        values = torch.stack([v.float().reshape(()) for _, v in windows]).tolist()  # one transfer
        stale = [(label, v) for (label, _), v in zip(windows, values, strict=False) if v > 0]
        if stale:
            labels = sorted({label for label, _ in stale})
            state.add_finding(
                "stale_gradients",
                self.name,
                f"{len(stale)} of the {total} checked steps of {', '.join(labels)} in epoch {state.epoch} applied "
                "gradients never reset since the previous step: zero_grad() is not called",
                step=state.step,
                value=float(len(stale)),
            )


class WatchLossInputs(WatchPlugin):
    """Pathology: probabilities given to ``kl_div``/``nll_loss``, which expect log-probabilities.
    Signal: every checked input of an epoch lies in [0, 1] with rows summing to 1.
    Fix: none (pass ``log_softmax`` outputs)."""

    name = "watch_loss_inputs"
    kinds = (PROBABILITY_OUTPUTS_KIND,)
    #: the loss calls whose inputs it judges: its finding's site is where their probabilities were made
    loss_calls = ("kl_div",)

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        import torch

        facts = self.facts
        if facts is None or not facts.log_prob_inputs:
            return
        flags, facts.log_prob_inputs = facts.log_prob_inputs, []
        by_loss: dict[str, list[Any]] = {}
        for name, flag in flags:
            by_loss.setdefault(name, []).append(flag)
        for name, values in by_loss.items():
            if bool(torch.stack(values).all()):
                state.add_finding(
                    "probability_outputs",
                    self.name,
                    f"in all {len(values)} checked calls of {name} in epoch {state.epoch} the input was probabilities "
                    f"(in [0, 1], rows summing to 1): {name} expects log-probabilities (log_softmax)",
                    value=1.0,
                )


WATCH_RULES: tuple[type[WatchPlugin], ...] = (WatchSchedule, WatchZeroGrad, WatchLossInputs)
