"""Step the script's LR scheduler at the cadence its schedule is planned in: per optimizer step, or per pass.

Pathology: a schedule planned in optimizer steps (a warmup over the first 10% of the steps)
stepped once per epoch stays near its start; one planned in epochs stepped every batch runs
through in the first epoch.
Signal: ``lr_zero`` (every step of an epoch at LR 0), ``schedule_mismatch`` (the LR changes only
at epoch boundaries although the schedule is planned in steps, or the reverse).
Fix: (``acts_on_scripts``: a script's own scheduler, applied from outside) the script's
``scheduler.step()`` calls are skipped and each scheduler is stepped once after every step of its
optimizer (``every: step``) or once at the end of each DataLoader pass that stepped its optimizer
(``every: pass``). The harness loop's own schedules set their cadence themselves
(``linear_warmup``'s ``interval``): there this plugin does nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    every: Literal["step", "pass"] = Field(
        "step", description="step the scheduler after every optimizer step, or once per DataLoader pass"
    )


class SchedulerCadence(Plugin):
    name = "scheduler_cadence"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("lr_zero", "schedule_mismatch")
    suggestions = ({"every": "step"}, {"every": "pass"})
    acts_on_scripts = True
    script_edit_site = "scheduler_step"

    def script_edit(self, lr: float | None = None) -> str:
        if self.params.every == "step":
            return "step the scheduler once per optimizer step, right after optimizer.step()"
        return "step the scheduler once per epoch, after the batch loop (not inside it)"

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.schedulers: dict[int, Any] = {}  # the script's schedulers, by id
        self.due: dict[int, Any] = {}  # every: pass: those whose optimizer stepped in this pass
        self.own = False  # this plugin is stepping one: the call goes through

    def script_scheduler(self, scheduler: Any) -> None:
        self.schedulers[id(scheduler)] = scheduler

    def script_scheduler_step(self, scheduler: Any) -> bool:
        if self.own:
            return True
        self.schedulers[id(scheduler)] = scheduler
        return False

    def script_after_step(self, optimizer: Any) -> None:
        mine = [s for s in self.schedulers.values() if getattr(s, "optimizer", None) is optimizer]
        if self.params.every == "step":
            self.step(mine)
        else:
            self.due.update((id(s), s) for s in mine)

    def script_pass_end(self) -> None:
        due, self.due = list(self.due.values()), {}
        self.step(due)

    def step(self, schedulers: list[Any]) -> None:
        self.own = True
        try:
            for scheduler in schedulers:
                scheduler.step()
        finally:
            self.own = False
