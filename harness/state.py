"""The one small state object every hook receives, and the records it collects.

Plugins read what they need from it and change only what their hook documents
(hparams in ``on_setup``, gradients before the optimizer step, ...). Findings and stop
requests go through its methods so the loop, not a monitor, decides what happens next.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from harness.workloads.base import Workload


@dataclass
class Hparams:
    """Hyper-parameters plugins may adjust in ``on_setup`` (before training objects exist)."""

    lr: float
    batch_size: int
    epochs: int
    accumulation_steps: int
    warmup_ratio: float
    weight_decay: float
    batches_per_epoch: int
    # v1.5 counted scheduler steps in batches; a plugin may correct it to optimizer steps.
    total_steps: int

    @property
    def optimizer_steps_per_epoch(self) -> int:
        return -(-self.batches_per_epoch // self.accumulation_steps)


@dataclass
class Finding:
    """Something a monitor observed: its kind (e.g. ``collapse``), when, and the evidence."""

    kind: str
    epoch: int
    plugin: str
    message: str
    step: int | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainState:
    """Everything a hook may need about the run in progress."""

    workload: Workload
    model: torch.nn.Module
    device: torch.device
    hparams: Hparams
    train_loader: Any
    val_loader: Any
    seed: int
    run_dir: Any = None
    criterion: Any = None
    optimizer: Any = None
    scheduler: Any = None
    epoch: int = 0  # 1-based number of the epoch in progress (0 before training)
    step: int = 0  # optimizer steps taken so far
    batch_index: int = 0  # index of the batch in progress within its epoch
    history: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    lr_per_step: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    diverged_at_step: int | None = None
    outcomes: dict[str, Any] = field(default_factory=dict)  # extra asserted outcomes
    stash: dict[str, Any] = field(default_factory=dict)  # per-plugin scratch space

    def add_finding(
        self, kind: str, plugin: str, message: str, *, step: int | None = None, value: float | None = None
    ) -> Finding:
        finding = Finding(kind=kind, epoch=self.epoch, plugin=plugin, message=message, step=step, value=value)
        self.findings.append(finding)
        return finding

    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop after the current step; the run ends with status ``stopped``."""
        if self.stop_reason is None:
            self.stop_reason = reason

    @property
    def stop_requested(self) -> bool:
        return self.stop_reason is not None

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else self.hparams.lr
