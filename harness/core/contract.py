"""The workload contract checked before training: one clear line instead of a torch error an epoch in.

A workload's ``datasets()``, items, collate, ``forward`` and labels are checked once per
run, right after the model and data exist (:func:`check_contract`), on the first two
training items and on the labels of each split (every label of a ``TensorDataset``, up to
1024 items spread over any other dataset). Each mistake raises a
:class:`ContractError` naming the workload, the method and what to return instead; the
CLI checks every scenario's workload the same way before any run starts (exit 2).

The check changes nothing a run does: the model is probed in ``eval()`` mode without
gradients (a BatchNorm probe on a copy), and every random generator's state is put back,
so a run's batches and weights are the same with or without it.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Iterator, Mapping
from typing import Any

import torch


class ContractError(ValueError):
    """A workload broke the contract of :class:`harness.workloads.base.Workload`; the message says how to fix it."""


FLOAT32_HINT = "torch.as_tensor(X, dtype=torch.float32)"


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Put Python's, NumPy's and torch's random states back afterwards (a probe draws nothing a run sees)."""
    import numpy as np

    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def _name(workload: Any) -> str:
    return f"workload {getattr(workload, 'name', '') or type(workload).__name__}"


def check_datasets(workload: Any, datasets: Any) -> tuple[Any, Any]:
    """``datasets()`` returned ``(train, validation)``, each a non-empty map-style dataset."""
    import numpy as np

    where = f"{_name(workload)}: datasets()"
    if not isinstance(datasets, (tuple, list)) or len(datasets) != 2:
        raise ContractError(f"{where} returned {type(datasets).__name__}; return (train, validation)")
    for split, data in zip(("train", "validation"), datasets, strict=True):
        if isinstance(data, (np.ndarray, torch.Tensor)):
            raise ContractError(
                f"{where} returned a {_kind(data)} as the {split} set; return datasets of (inputs, label) "
                f"items, e.g. TensorDataset({FLOAT32_HINT}, torch.as_tensor(y))"
            )
        if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
            raise ContractError(
                f"{where}: the {split} set ({type(data).__name__}) has no __len__/__getitem__; "
                "return a map-style dataset (a torch Dataset, a TensorDataset or a list of items)"
            )
        if len(data) == 0:
            raise ContractError(f"{where}: the {split} set is empty")
    return datasets[0], datasets[1]


def _kind(data: Any) -> str:
    return "tensor" if isinstance(data, torch.Tensor) else "numpy array"


def check_item(workload: Any, item: Any) -> None:
    """An item is an ``(inputs, label)`` pair or a dict with a ``labels`` (or ``label``) key."""
    where = f"{_name(workload)}: datasets()"
    if isinstance(item, Mapping):
        if "labels" not in item and "label" not in item:
            raise ContractError(
                f"{where}: items are dicts with keys {sorted(map(str, item))} but no 'labels' key; "
                "name the label 'labels' (the other keys are passed to the model as keyword arguments)"
            )
    elif isinstance(item, (tuple, list)) and len(item) != 2:
        raise ContractError(f"{where}: items are {type(item).__name__}s of {len(item)}; return (inputs, label) pairs")


def _default_collate(workload: Any) -> bool:
    """Whether the workload keeps the contract's default collate (the core does not import workloads)."""
    collate = getattr(type(workload), "collate", None)
    return getattr(collate, "__qualname__", "") == "Workload.collate"


def _float64_inputs(batch: Mapping[str, Any], model: torch.nn.Module) -> str | None:
    weights = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weights is None or weights.dtype == torch.float64:
        return None
    for key, value in batch.items():
        if key != "labels" and isinstance(value, torch.Tensor) and value.dtype == torch.float64:
            return key
    return None


def check_outputs(workload: Any, batch: Mapping[str, Any], outputs: Any) -> None:
    """The outputs hold one row of logits (or predictions) per item, and the labels fit them."""
    where = _name(workload)
    labels = batch["labels"]
    logits = workload.logits(outputs)
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ContractError(
            f"{where}: forward() returned {type(outputs).__name__}, not logits; return a float tensor of shape "
            "(batch, classes), or an object with .logits (override logits() to pick them out)"
        )
    if logits.dim() == 0 or logits.shape[0] != labels.shape[0]:
        raise ContractError(
            f"{where}: forward() returned outputs of shape {tuple(logits.shape)} for a batch of {labels.shape[0]} "
            "items; return one row per item"
        )
    if getattr(workload, "task", "classification") == "regression":
        if logits[0].numel() != labels[0].numel():
            raise ContractError(
                f"{where}: predictions of shape {tuple(logits.shape)} do not match labels of shape "
                f"{tuple(labels.shape)}; return one prediction per label value"
            )
        return
    check_labels(workload, labels, logits)


def check_labels(workload: Any, labels: torch.Tensor, logits: torch.Tensor) -> None:
    """Class labels are integers the logits can represent: 0..C-1, or 0/1 for a single logit."""
    where = _name(workload)
    if labels.is_floating_point() and not (logits.dim() == 1 or logits.shape[-1] == 1):
        raise ContractError(
            f"{where}: labels are {labels.dtype} but a classifier's labels are class indices; return them as "
            "torch.long (or declare task = 'regression' for a regression)"
        )
    classes = 2 if logits.dim() == 1 or logits.shape[-1] == 1 else int(logits.shape[-1])
    bad = labels[(labels < 0) | (labels >= classes) | (labels != labels.round())]
    if bad.numel():
        values = sorted({float(v) for v in bad.reshape(-1)[:1000].tolist()})[:5]
        shown = ", ".join(f"{v:g}" for v in values)
        raise ContractError(
            f"{where}: label values {shown} are outside 0..{classes - 1}, which the model's {logits.shape[-1]} "
            f"output(s) can represent; number the classes 0..{classes - 1} (e.g. y - 1 when they start at 1) "
            "or give the model one output per class"
        )


def _batchnorm_layers(model: torch.nn.Module) -> list[str]:
    from torch.nn.modules.batchnorm import _BatchNorm

    return [name or type(model).__name__ for name, m in model.named_modules() if isinstance(m, _BatchNorm)]


def check_last_batch(workload: Any, model: torch.nn.Module, train: Any, batch_size: int, device: Any) -> None:
    """A model with BatchNorm cannot train on a last batch of one item: say so before training."""
    size = len(train)
    layers = _batchnorm_layers(model)
    if size % batch_size != 1 or not layers:
        return
    batch = _to(workload.collate([train[size - 1]]), device)
    probe = copy.deepcopy(model).train()
    try:
        with torch.no_grad():
            workload.forward(probe, batch)
    except ValueError as exc:
        if "more than 1 value per channel" not in str(exc):
            raise
        better = next(b for b in range(batch_size + 1, batch_size + size + 2) if size % b != 1)
        raise ContractError(
            f"{_name(workload)}: the last training batch holds 1 item ({size} items, batch_size {batch_size}) and "
            f"BatchNorm layer {layers[0]!r} cannot train on one item; set train.batch_size to one that leaves "
            f"no single item (e.g. {better}) or drop an item from the training set"
        ) from None


def _to(batch: Mapping[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def check_contract(workload: Any, train: Any, val: Any, model: torch.nn.Module, batch_size: int, device: Any) -> None:
    """Every check of this module on the run's data and model (first two items; all TensorDataset labels)."""
    with preserved_rng():
        check_datasets(workload, (train, val))
        items = [train[i] for i in range(min(2, len(train)))]
        if _default_collate(workload):  # a workload's own collate decides what its items are
            for item in (*items, val[0]):
                check_item(workload, item)
        batch = _to(workload.collate(items), device)
        if "labels" not in batch:
            raise ContractError(f"{_name(workload)}: collate() returned keys {sorted(batch)} without 'labels'")
        key = _float64_inputs(batch, model)
        if key is not None:
            raise ContractError(
                f"{_name(workload)}: datasets() gives float64 {key!r} but the model's weights are float32; "
                f"convert them in datasets() ({FLOAT32_HINT})"
            )
        outputs = _probe(workload, model, batch)
        task = _task(workload)
        if task is not None:
            check_outputs(workload, batch, outputs)
        if task == "classification":
            logits = workload.logits(outputs)
            for split in (train, val):
                labels = _labels(workload, split)
                if labels is not None:
                    check_labels(workload, labels, logits)
        check_last_batch(workload, model, train, batch_size, device)


LABEL_SAMPLE = 1024  # items whose labels are checked in a dataset that is not a TensorDataset


def _labels(workload: Any, split: Any) -> torch.Tensor | None:
    """Every label of a ``TensorDataset``; else those of up to :data:`LABEL_SAMPLE` items spread
    evenly over the split (tuples' last element, dicts' ``labels``); None when items are the
    workload's own business (its own collate)."""
    tensors = getattr(split, "tensors", None)
    if tensors is not None:
        return torch.as_tensor(tensors[-1])
    if not _default_collate(workload):
        return None
    size = len(split)
    indices = sorted({i * size // LABEL_SAMPLE for i in range(min(size, LABEL_SAMPLE))})
    labels = []
    for i in indices:
        item = split[i]
        label = item.get("labels", item.get("label")) if isinstance(item, Mapping) else item[-1]
        labels.append(torch.as_tensor(label).reshape(-1))
    return torch.cat(labels) if labels else None


def _task(workload: Any) -> str | None:
    """``classification`` or ``regression`` when the workload keeps the contract's default metrics;
    None for one with its own (a distillation student): its outputs are its own business."""
    if getattr(type(workload), "metrics", None) is not None or not hasattr(workload, "logits"):
        return None
    return "regression" if getattr(workload, "task", "classification") == "regression" else "classification"


def _probe(workload: Any, model: torch.nn.Module, batch: dict[str, Any]) -> Any:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return workload.forward(model, batch)
    finally:
        model.train(was_training)
