"""What the Trainer adapter shares: its error, the stand-in workload, labels and metrics from Trainer objects, and which hooks/hparams the Trainer owns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

#: harness hooks the adapter raises (see the table in the module docstring)
RAISED_HOOKS = frozenset(
    {
        "on_setup",
        "on_train_start",
        "make_criterion",
        "on_batch",
        "compute_loss",
        "extra_losses",
        "distill_inputs",
        "on_batch_end",
        "on_after_backward",
        "on_before_optimizer_step",
        "on_step",
        "on_epoch_end",
        "on_train_end",
    }
)


#: raised only by ``HarnessTrainer`` (a bare callback never sees the inputs)
TRAINER_ONLY_HOOKS = frozenset({"on_batch", "on_batch_end"})


#: the hyper-parameters the Trainer owns by ``on_train_begin``: ``on_setup`` must not change them
TRAINER_OWNED_HPARAMS = (
    "lr",
    "batch_size",
    "epochs",
    "accumulation_steps",
    "warmup_ratio",
    "weight_decay",
    "batches_per_epoch",
    "total_steps",
)


#: built-in plugins whose fix becomes a ``TrainingArguments`` setting instead of hooks
TRANSLATED = frozenset({"lr_scaling", "linear_warmup", "mixed_precision"})


class HarnessTrainerError(ValueError):
    """A plugin or setting that cannot be applied through the Trainer API."""


class _TrainerWorkload:
    """The little of a harness workload that plugins ask for inside a Trainer run."""

    name = "transformers.Trainer"
    metrics: tuple[str, ...] = ()

    def __init__(self, labels: torch.Tensor | None) -> None:
        self._labels = labels

    def train_labels(self) -> torch.Tensor:
        if self._labels is None:
            raise HarnessTrainerError("the training labels are unknown: pass train_labels= to HarnessCallback")
        return self._labels

    def default_criterion(self) -> Any:
        def cross_entropy(logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
            return F.cross_entropy(logits.float(), batch["labels"])

        return cross_entropy


def labels_of(dataset: Any) -> torch.Tensor:
    """The ``labels`` of a dataset: an HF ``datasets`` column, dict items or tuples (last field)."""
    if hasattr(dataset, "column_names") and "labels" in dataset.column_names:
        return torch.as_tensor(dataset["labels"])
    if hasattr(dataset, "tensors"):  # TensorDataset: the last tensor
        return dataset.tensors[-1]
    items = [dataset[i] for i in range(len(dataset))]
    return torch.as_tensor([int(it["labels"] if isinstance(it, Mapping) else it[-1]) for it in items])


def classification_metrics(eval_pred: Any) -> dict[str, float]:
    """``compute_metrics`` for a classifier (binary or K classes): the same metrics a harness run records.

    The per-class counts (``pred_count_<k>``) are what ``prediction_distribution`` needs
    to record a ``collapse``.
    """
    from harness.core.metrics import classification_metrics as core_metrics

    logits = torch.as_tensor(
        eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
    )
    return core_metrics(torch.as_tensor(eval_pred.label_ids).long(), logits)


def _logits(outputs: Any) -> torch.Tensor:
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, Mapping) or hasattr(outputs, "keys"):
        return outputs["logits"]
    return outputs[0]
