"""Peak memory of the run's process tree: the training process and its DataLoader workers.

Pathology: every DataLoader worker is a process of its own. Started with ``spawn`` (the
only way on Windows, the default on macOS) each worker imports torch afresh and unpickles
its own copy of the dataset, so a run with 4 workers commits several times the memory of
the training process: on Windows the paging file runs out (seed 003, issue 5: "WinError
1455"), elsewhere the machine swaps or the OOM killer ends the run.
Signal: the resident memory (RSS) of the run's process plus every live descendant,
measured with ``psutil`` at set-up, after each epoch's first optimizer step and then at
most every ``interval_s`` seconds, at each epoch's end and when training ends: its peak is ``outcome.peak_rss_mb``,
the workers' share ``outcome.peak_worker_rss_mb``, the most workers alive at once
``outcome.peak_workers``, and on Linux the tree's proportional set size
``outcome.peak_pss_mb`` (pages shared between processes split between them: what a
forked worker really adds, next to RSS that counts its inherited pages again); on CUDA, ``torch.cuda.max_memory_allocated`` as
``outcome.peak_cuda_mb``. A ``memory_over_budget`` finding when the peak exceeds
``budget_mb`` (a paging file's size, say).
Fix: fewer or no workers (``dataloader: {num_workers: 0}`` or ``auto``); this monitor
shows what they cost, measured, never estimated.

Opt-in (``memory: true``): unlike the other monitors it is off by default, because its
measurements differ between any two runs (a ``harness compare`` of two PyTorch versions
would report every run's memory as a difference). RSS counts pages shared between
processes once per process; children that existed before the run are not counted.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat

from harness.core.diagnosis import Cause, Cure
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import TrainState

MB = 2**20


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval_s: NonNegativeFloat = Field(
        0.05, description="least time between two samples after steps, besides each epoch's first (0: every step)"
    )
    budget_mb: PositiveFloat | None = Field(
        None, description="a memory_over_budget finding when the peak RSS exceeds it"
    )


MEMORY_OVER_BUDGET_KIND = FindingKind(
    "memory_over_budget",
    "peak memory above the scenario's budget",
    causes=(
        Cause(
            "batches or activations larger than the budget",
            "the batch size, sequence length or model width needs more memory than the budget allows",
            "lower train.batch_size (accumulate gradients to keep the effective batch) or use mixed precision",
            (Cure("mixed_precision"),),
        ),
    ),
    signals=("memory",),
)


class Memory(Plugin):
    name = "memory"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (MEMORY_OVER_BUDGET_KIND,)

    @classmethod
    def default_enabled(cls) -> bool:
        return False

    def __init__(self, params: BaseModel | None = None) -> None:
        super().__init__(params)
        self.before: frozenset[int] = frozenset()
        self.last_sample = float("-inf")
        self.sampled_epoch = 0
        self.peak_rss = self.peak_worker_rss = self.peak_pss = 0
        self.peak_workers = 0
        self.reported = False

    @hookimpl
    def on_setup(self, state: TrainState) -> None:
        from harness.core.processes import child_pids

        self.before = child_pids()  # the run's tree is this process and what it starts from now on
        self.sample(state)

    @hookimpl
    def on_step(self, state: TrainState) -> None:
        # each epoch's first step always: an epoch's workers live only while it iterates
        if state.epoch != self.sampled_epoch or time.monotonic() - self.last_sample >= self.params.interval_s:
            self.sampled_epoch = state.epoch
            self.sample(state)

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        self.sample(state)

    @hookimpl
    def on_train_end(self, state: TrainState) -> None:
        self.sample(state)

    def sample(self, state: TrainState) -> None:
        """Measure the tree now and write the peaks so far to ``state.outcomes`` (so a run
        that ends in an exception still records what it measured)."""
        from harness.core.processes import tree_memory

        now = tree_memory(exclude=self.before)
        self.last_sample = time.monotonic()
        self.peak_rss = max(self.peak_rss, now.rss)
        self.peak_worker_rss = max(self.peak_worker_rss, now.worker_rss)
        self.peak_workers = max(self.peak_workers, now.workers)
        state.outcomes["peak_rss_mb"] = round(self.peak_rss / MB, 1)
        if now.pss is not None:
            self.peak_pss = max(self.peak_pss, now.pss)
            state.outcomes["peak_pss_mb"] = round(self.peak_pss / MB, 1)
        state.outcomes["peak_worker_rss_mb"] = round(self.peak_worker_rss / MB, 1)
        state.outcomes["peak_workers"] = self.peak_workers
        device = getattr(state, "device", None)
        if device is not None and device.type == "cuda":
            import torch

            state.outcomes["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / MB, 1)
        budget = self.params.budget_mb
        if budget is not None and not self.reported and self.peak_rss / MB > budget:
            self.reported = True
            state.add_finding(
                "memory_over_budget",
                self.name,
                f"the run's processes hold {self.peak_rss / MB:.0f} MB, over the budget of {budget:g} MB "
                f"({self.peak_workers} worker process(es): {self.peak_worker_rss / MB:.0f} MB)",
                step=state.step,
                value=round(self.peak_rss / MB, 1),
            )
