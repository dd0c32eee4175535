"""The one small state object every hook receives, and the records it collects.

Plugins read what they need from it and change only what their hook documents
(hparams in ``on_setup``, gradients before the optimizer step, ...). Findings and stop
requests go through its methods so the loop, not a monitor, decides what happens next.
Plugins never pass values to each other through the state's fields ad hoc: every
channel is a typed field documented here (``hparams.loss_weights``,
``loader_options``, ``last_checkpoint``, ``outcomes``) or a hook's arguments and result. A plugin keeps
its own bookkeeping on its instance (one instance per run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # annotations only: importing the state (and every plugin) stays free of torch
    import torch
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler
    from torch.utils.data import DataLoader

    from harness.workloads.base import Workload

    #: what ``make_criterion`` returns: ``criterion(outputs, batch) -> scalar loss``
    Criterion = Callable[[Any, dict[str, Any]], torch.Tensor]


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
    #: optimizer steps of the whole run: ``ceil(batches_per_epoch / accumulation_steps) * epochs``
    #: (:func:`total_optimizer_steps`). v1.5 counted batches instead; ``linear_warmup``
    #: replays that with ``count_steps_in: batches``.
    total_steps: int
    #: weight of each named loss term (``"task"`` is the main loss, ``"distill"`` the
    #: distillation term, ...); a term without an entry weighs 1. Set in ``on_setup``.
    loss_weights: dict[str, float] = field(default_factory=dict)

    @property
    def optimizer_steps_per_epoch(self) -> int:
        return -(-self.batches_per_epoch // self.accumulation_steps)

    @classmethod
    def build(
        cls,
        lr: float,
        *,
        batch_size: int = 0,
        epochs: int = 1,
        accumulation_steps: int = 1,
        warmup_ratio: float = 0.0,
        weight_decay: float = 0.0,
        batches_per_epoch: int = 0,
        total_steps: int | None = None,
    ) -> Hparams:
        """The one way a loop (the core's, watch's, the Trainer callback's) builds its hparams;
        ``total_steps`` defaults to :func:`total_optimizer_steps` (a loop that plans its own, like
        the Trainer's ``max_steps``, passes it)."""
        if total_steps is None:
            total_steps = total_optimizer_steps(batches_per_epoch, accumulation_steps, epochs)
        return cls(
            lr=lr,
            batch_size=batch_size,
            epochs=epochs,
            accumulation_steps=accumulation_steps,
            warmup_ratio=warmup_ratio,
            weight_decay=weight_decay,
            batches_per_epoch=batches_per_epoch,
            total_steps=total_steps,
        )


StartMethod = Literal["fork", "spawn", "forkserver"]


@dataclass
class LoaderOptions:
    """How the loop's two DataLoaders (training and validation) load their batches.

    ``state.loader_options`` starts as these defaults (single-process loading, no pinning:
    what the loop always did). A plugin may change it in ``on_setup``; right after
    ``on_setup`` the loop builds both loaders again from it (:func:`harness.core.loop.apply_loader_options`),
    with the same datasets, batch sizes and seeded shuffle generator, so
    ``hparams.batches_per_epoch`` stays right and a run with workers sees the same batches
    in the same order as one without. What gets loaded (batch size, shuffling) is not
    here: the scenario's ``train`` decides it.
    """

    #: worker processes per loader (0: load in the training process)
    num_workers: int = 0
    #: copy each batch into page-locked memory (useful only when training on CUDA)
    pin_memory: bool = False
    #: keep each loader's workers alive across epochs (else they start again every epoch)
    persistent_workers: bool = False
    #: batches each worker loads ahead (None: PyTorch's default, 2)
    prefetch_factor: int | None = None
    #: how workers start: ``fork`` (Linux's default), ``spawn`` (the only one on Windows,
    #: the default on macOS: each worker imports afresh and receives the dataset and the
    #: collate function by pickling) or ``forkserver``; None: the interpreter's default
    multiprocessing_context: StartMethod | None = None
    #: the collate function both loaders use; None: the workload's ``collate``
    collate_fn: Callable[[list[Any]], Any] | None = None

    def dataloader_kwargs(self) -> dict[str, Any]:
        """The ``DataLoader`` keyword arguments these options stand for. With no workers the
        worker-only options are left out (DataLoader refuses them with ``num_workers=0``)."""
        kwargs: dict[str, Any] = {"num_workers": self.num_workers, "pin_memory": self.pin_memory}
        if self.num_workers > 0:
            kwargs["persistent_workers"] = self.persistent_workers
            if self.prefetch_factor is not None:
                kwargs["prefetch_factor"] = self.prefetch_factor
            if self.multiprocessing_context is not None:
                kwargs["multiprocessing_context"] = self.multiprocessing_context
        return kwargs


def total_optimizer_steps(batches_per_epoch: int, accumulation_steps: int, epochs: int) -> int:
    """``ceil(batches_per_epoch / accumulation_steps) * epochs``: the last partial window steps too."""
    return -(-batches_per_epoch // accumulation_steps) * epochs


@dataclass(frozen=True)
class SavedCheckpoint:
    """A checkpoint file a plugin wrote (what ``save_checkpoint`` returns; ``state.last_checkpoint``)."""

    path: Path
    epoch: int  # the epoch after which it was saved
    format: str  # what the writer calls its format (``state_dict``, ``v15_objects``, ...)


@dataclass
class Finding:
    """Something a monitor observed: its kind (e.g. ``collapse``), when, and the evidence."""

    kind: str
    epoch: int
    plugin: str
    message: str
    step: int | None = None
    value: float | None = None
    #: measured values besides ``value`` that evidence reads (e.g. ``bad_initial_loss``'s
    #: ``ratio_to_log_c``); left out of the record when None, so other findings read as before
    detail: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["detail"] is None:
            del out["detail"]
        return out


@dataclass
class TrainState:
    """Everything a hook may need about the run in progress."""

    workload: Workload
    model: torch.nn.Module
    device: torch.device
    hparams: Hparams
    train_loader: DataLoader[Any]
    val_loader: DataLoader[Any]
    seed: int
    run_dir: Path | None = None  # where ``save_checkpoint`` may write (None: the run keeps no files)
    criterion: Criterion | None = None  # built by ``make_criterion``, after ``on_setup``
    optimizer: Optimizer | None = None  # built by ``make_optimizer``
    scheduler: LRScheduler | None = None  # built by ``make_scheduler`` (None: a constant LR)
    epoch: int = 0  # 1-based number of the epoch in progress (0 before training)
    step: int = 0  # optimizer steps taken so far
    batch_index: int = 0  # index of the batch in progress within its epoch
    history: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    lr_per_step: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    diverged_at_step: int | None = None
    outcomes: dict[str, Any] = field(default_factory=dict)  # extra asserted outcomes (in the run record)
    last_checkpoint: SavedCheckpoint | None = None  # the latest checkpoint ``save_checkpoint`` wrote
    #: how the loaders load (workers, pinning, start method); plugins change it in
    #: ``on_setup``, and the loop rebuilds both loaders from it right after
    loader_options: LoaderOptions = field(default_factory=LoaderOptions)

    def add_finding(
        self,
        kind: str,
        plugin: str,
        message: str,
        *,
        step: int | None = None,
        value: float | None = None,
        detail: dict[str, float] | None = None,
    ) -> Finding:
        finding = Finding(
            kind=kind, epoch=self.epoch, plugin=plugin, message=message, step=step, value=value, detail=detail
        )
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
