"""Reading a run's data for the detectors (not a plugin itself): labels and sampled batches of a split.

Monitors that judge a run against its own data (the validation class prior, a class
missing from a split, non-finite inputs) read the datasets once, before or at the start
of training, through the workload's own ``collate`` (so any item format works), capped
in cost. Everything returns None when the data cannot be read (a watched script has no
datasets; an iterable dataset has no length): the caller then does not judge.
"""

from __future__ import annotations

from typing import Any

#: the most items read to count a split's labels, and the items collated at once
LABEL_LIMIT = 50_000
CHUNK = 512


def _label_tensor(workload: Any, dataset: Any) -> Any:
    """A TensorDataset's label tensor, without collating (None when it cannot be told which)."""
    tensors = getattr(dataset, "tensors", None)
    if not tensors:
        return None
    names = tuple(getattr(workload, "item_tensors", ()) or ())
    label = getattr(workload, "label_tensor", "labels")
    if len(names) == len(tensors) and label in names:
        return tensors[names.index(label)]
    if len(tensors) == 2:  # (inputs, labels): the base workload's default
        return tensors[1]
    return None


def evenly_spaced(size: int, limit: int) -> list[int]:
    """Up to ``limit`` item indices spread evenly over a split of ``size`` items (all when it is smaller)."""
    count = min(size, limit)
    return sorted({int(i * size / count) for i in range(count)}) if count else []


def collate_items(workload: Any, dataset: Any, indices: list[int]) -> dict[str, Any] | None:
    """``workload.collate`` of the items at ``indices`` (in chunks, concatenated), or None."""
    import torch

    try:
        chunks = [workload.collate([dataset[i] for i in indices[s : s + CHUNK]]) for s in range(0, len(indices), CHUNK)]
    except Exception:  # noqa: BLE001 - data a detector cannot read is data it does not judge
        return None
    if not chunks or not isinstance(chunks[0], dict):
        return None
    out: dict[str, Any] = {}
    for key, value in chunks[0].items():
        if isinstance(value, torch.Tensor) and all(isinstance(c.get(key), torch.Tensor) for c in chunks):
            try:
                out[key] = torch.cat([c[key] for c in chunks]) if len(chunks) > 1 else value
            except RuntimeError:  # per-chunk padding differs: keep the first chunk's only
                out[key] = value
    return out


def split_labels(workload: Any, dataset: Any, limit: int = LABEL_LIMIT) -> Any:
    """Every label of a map-style split (at most ``limit``) as a 1-d int64 CPU tensor, or None."""
    try:
        size = len(dataset)
    except TypeError:
        return None
    tensor = _label_tensor(workload, dataset)
    if tensor is None:
        batch = collate_items(workload, dataset, list(range(min(size, limit))))
        tensor = None if batch is None else batch.get("labels")
    if tensor is None or tensor.dim() != 1 or tensor.is_floating_point():
        return None
    return tensor[:limit].detach().long().cpu()


def validation_labels(state: Any) -> Any:
    """The validation split's labels (see :func:`split_labels`), None when there is no loader."""
    dataset = getattr(getattr(state, "val_loader", None), "dataset", None)
    return None if dataset is None else split_labels(state.workload, dataset)


def label_shares(labels: Any, classes: int) -> list[float]:
    """Each class's share of ``labels`` (classes ``0..classes-1``; labels outside are left out)."""
    import torch

    inside = labels[(labels >= 0) & (labels < classes)]
    if not inside.numel():
        return [0.0] * classes
    shares: list[float] = (torch.bincount(inside, minlength=classes).double() / labels.numel()).tolist()
    return shares
