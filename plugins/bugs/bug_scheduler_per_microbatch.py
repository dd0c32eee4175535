"""Bug: the LR scheduler is stepped on every micro-batch under gradient accumulation.

Pathology: with ``accumulation_steps`` micro-batches per optimizer step, the loop calls
``scheduler.step()`` after every ``backward`` instead of after every ``optimizer.step()``
(a recurring report against accelerate and hand-written accumulation loops). A schedule
sized in optimizer steps then runs ``accumulation_steps`` times too fast: the warmup is
over after a fraction of what was planned, the decay reaches 0 after
``1 / accumulation_steps`` of the training, and the rest trains at LR 0.
Signal: the scheduler has been stepped more often than the optimizer
(``schedule_mismatch``, from the ``lr_schedule`` monitor); later, whole epochs at LR 0
(``lr_zero``).
Fix: step the scheduler only when the optimizer steps (``linear_warmup``'s
``interval: step`` does, in ``on_step``): switch this bug off.

Mechanism: in ``on_batch_end`` of every batch that did not end an optimizer step (the
loop's step count did not move), ``state.scheduler.step()`` is called once more, so with
the scheduler plugin's own per-step call the schedule advances once per micro-batch.
Needs a scheduler plugin (``linear_warmup``, ``warmup_cosine``); without gradient
accumulation every batch is an optimizer step and it does nothing.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState


class BugSchedulerPerMicrobatch(Plugin):
    name = "bug_scheduler_per_microbatch"
    kind = "bug"
    shows_as = ("schedule_mismatch", "lr_zero")

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.last_step = 0

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        if state.scheduler is None:
            raise ValueError("bug_scheduler_per_microbatch needs a scheduler plugin (linear_warmup, warmup_cosine)")
        self.last_step = state.step

    @hookimpl
    def on_batch_end(self, state: TrainState) -> None:
        if state.step == self.last_step:  # a micro-batch: no optimizer step in this batch
            assert state.scheduler is not None, "on_train_start refuses a run without a scheduler"
            with warnings.catch_warnings():  # torch warns once when this comes before the first optimizer step
                warnings.simplefilter("ignore", UserWarning)
                state.scheduler.step()
        self.last_step = state.step
