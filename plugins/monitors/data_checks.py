"""Data checks before training: ``data_non_finite``, ``data_missing_class``, ``data_label_range``,
``data_repeated_item``, ``data_feature_scale`` and ``data_ordered_by_label``.

Pathology: the data is broken before any step is taken, and training only shows it late
and indirectly: NaN/inf in the features (a failed join, a division by zero) makes the
loss NaN; a class present in one split only (an unstratified split of rare classes)
makes validation metrics undefined or meaningless; labels outside ``0..C-1`` (1-based
labels, a -1 "unknown" label) crash the loss or train a class the model cannot output;
one item repeated over most of a split (a broken loader index, a padding row) teaches
nothing; one feature on a scale that dwarfs the others (raw prices next to z-scores)
dominates the first layer; a training set sorted by label and fed unshuffled trains
on one class at a time.
Signal: once, at the start of training (``on_train_start``), from the training and
validation datasets of the run's loaders (or ``workload.datasets()``): every label
(at most 50,000 per split) and the collated inputs of at most ``sample_items`` (2048)
evenly spaced items per split. (a) ``data_non_finite``: a float input tensor holds
NaN/inf; (b) ``data_missing_class``: a label present in one split and absent from the
other (labels outside the model's range are (c)'s, not counted here); (c) ``data_label_range``: a label < 0 or >= C, where C is the output layer's
``out_features`` (the model's last Linear; one output is a binary logit: C = 2);
(d) ``data_repeated_item``: one input (the main input tensor: ``inputs``, ``input_ids``, ...) repeated over more than ``max_repeat_share`` (50%)
of a split's sampled items; (e) ``data_feature_scale``: a 2-d float input whose largest
feature std is more than ``max_scale_ratio`` (100) x the median feature std (features
with std 0 left out); (f) ``data_ordered_by_label``: the training labels sorted (each
run of a class in one block) and the training loader does not shuffle (the harness's
loop always shuffles: judged only when a loader does not). Labels are judged for
classifiers only (a workload with its own ``metrics`` is not). The findings are recorded
right away, at epoch 0 (before training), one per kind: a label the loss refuses crashes
the run at its first batch, and the finding says why.
Fix: none; this monitor only observes; each message names what was seen and the usual
fix. Data that cannot be read (an iterable dataset, a watched script) is not judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.diagnosis import Cause
from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import SAME_ITEM, UNNORMALISED_INPUTS
from harness.plugins._shared.data import collate_items, evenly_spaced, split_labels
from harness.plugins._shared.evidence import seen
from harness.plugins._shared.model_parts import is_classifier

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sample_items: PositiveInt = Field(2048, description="inputs checked per split (evenly spaced items)")
    max_repeat_share: float = Field(0.5, gt=0, lt=1, description="data_repeated_item above this share of a split")
    max_scale_ratio: float = Field(100.0, gt=1, description="data_feature_scale: a feature std above this x the median")
    min_items: PositiveInt = Field(8, description="splits with fewer sampled items are not judged for repeats")


def datasets_of(state: TrainState) -> tuple[Any, Any] | None:
    """``(train, validation)`` datasets: the loaders' (what training iterates), else the workload's."""
    train = getattr(state.train_loader, "dataset", None)
    val = getattr(state.val_loader, "dataset", None)
    if train is not None and val is not None:
        return train, val
    try:
        found = state.workload.datasets()
    except Exception:  # noqa: BLE001 - a workload without datasets (a watched script) is not judged
        return None
    return found if isinstance(found, tuple) and len(found) == 2 else None


def output_classes(model: Any) -> int | None:
    """C of the model's output layer when it is a Linear (one output: a binary logit, 2), else None."""
    import torch

    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        return None
    out = int(linears[-1].out_features)
    return 2 if out == 1 else out


def is_sorted(labels: Any) -> bool:
    """Whether every class of ``labels`` forms one contiguous block (sorted, either direction)."""
    if labels.numel() < 2:
        return False
    changes = int((labels[1:] != labels[:-1]).sum())
    return changes >= 1 and changes == int(labels.unique().numel()) - 1


def primary_input(batch: dict[str, Any]) -> str | None:
    """The batch key holding the model's main input: ``inputs``, ``input_ids``, else the first other
    than the labels (masks and side inputs repeat between items by nature: not judged)."""
    for key in ("inputs", "input_ids", "images", "pixel_values"):
        if key in batch:
            return key
    return next((k for k in batch if k != "labels" and "mask" not in k), None)


def does_not_shuffle(loader: Any) -> bool:
    """Whether ``loader`` iterates its data in order (a SequentialSampler)."""
    from torch.utils.data import SequentialSampler

    return isinstance(getattr(loader, "sampler", None), SequentialSampler)


DATA_NON_FINITE_KIND = FindingKind(
    "data_non_finite",
    "NaN or infinite values in the inputs",
    causes=(
        Cause(
            "NaN or inf in the features",
            "missing values read as NaN (or a division by zero) reach the model",
            "fill or drop them before building the dataset",
            (),
            seen("data_non_finite"),
        ),
    ),
    signals=("data",),
    roles=frozenset(("broken_before_stepping", "structural")),
)

DATA_MISSING_CLASS_KIND = FindingKind(
    "data_missing_class",
    "a class present in one split and absent from the other",
    causes=(
        Cause(
            "a class in one split only",
            "an unstratified or ordered split left a class out of one split",
            "stratify the train/validation split by label",
            (),
            seen("data_missing_class"),
        ),
    ),
    signals=("data",),
    roles=frozenset(("structural",)),
)

DATA_LABEL_RANGE_KIND = FindingKind(
    "data_label_range",
    "labels outside the range the model's outputs can represent",
    causes=(
        Cause(
            "labels the outputs cannot represent",
            "labels numbered 1..K (or with gaps) for K outputs",
            "number the classes 0..K-1, or give the model one output per class",
            (),
            seen("data_label_range"),
        ),
    ),
    signals=("data",),
    roles=frozenset(("structural",)),
)

DATA_REPEATED_ITEM_KIND = FindingKind(
    "data_repeated_item",
    "the dataset returns the same item for different indices",
    causes=(SAME_ITEM,),
    signals=("data",),
    roles=frozenset(("structural",)),
)

DATA_FEATURE_SCALE_KIND = FindingKind(
    "data_feature_scale",
    "input features on very different scales (unstandardised)",
    causes=(UNNORMALISED_INPUTS,),
    signals=("data",),
    roles=frozenset(("broken_before_stepping", "structural")),
)

DATA_ORDERED_BY_LABEL_KIND = FindingKind(
    "data_ordered_by_label",
    "training batches that each hold a single class",
    causes=(
        Cause(
            "training data ordered by label and not shuffled",
            "each stretch of batches holds one class: the model chases the current class",
            "shuffle the training loader (DataLoader(shuffle=True))",
            (),
            seen("data_ordered_by_label"),
        ),
    ),
    signals=("data",),
    roles=frozenset(("structural",)),
)


class DataChecks(Plugin):
    name = "data_checks"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (
        DATA_NON_FINITE_KIND,
        DATA_MISSING_CLASS_KIND,
        DATA_LABEL_RANGE_KIND,
        DATA_REPEATED_ITEM_KIND,
        DATA_FEATURE_SCALE_KIND,
        DATA_ORDERED_BY_LABEL_KIND,
    )

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.pending: list[tuple[str, str, float | None]] = []  # (kind, message, value), recorded once

    def note(self, kind: str, message: str, value: float | None = None) -> None:
        if all(k != kind for k, _, _ in self.pending):
            self.pending.append((kind, message, value))

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        splits = datasets_of(state)
        if splits is None:
            return
        for split, dataset in zip(("training", "validation"), splits, strict=True):
            self.check_inputs(state, split, dataset)
        if is_classifier(state.workload):
            self.check_labels(state, splits)
        for kind, message, value in self.pending:
            state.add_finding(kind, self.name, message, value=value)
        self.pending = []

    def check_inputs(self, state: TrainState, split: str, dataset: Any) -> None:
        try:
            size = len(dataset)
        except TypeError:
            return
        indices = evenly_spaced(size, self.params.sample_items)
        if not indices:
            return
        batch = collate_items(state.workload, dataset, indices)
        if batch is None:
            return
        for key, value in batch.items():
            if key != "labels" and value.numel() and value.is_floating_point():
                self.check_floats(split, key, value)
        primary = primary_input(batch)
        if primary is not None and len(indices) >= self.params.min_items:
            self.check_repeats(split, primary, batch[primary])

    def check_floats(self, split: str, key: str, value: Any) -> None:
        import torch

        values = value.detach().double()
        bad = int((~torch.isfinite(values)).sum())
        if bad:
            self.note(
                "data_non_finite",
                f"{bad} NaN/inf values in the {split} split's {key!r} ({len(values)} items sampled): fill or drop "
                "them before training (a failed join, a division by zero?)",
                float(bad),
            )
            return
        if values.dim() != 2 or values.shape[1] < 2 or values.shape[0] < 2:
            return
        stds = values.std(dim=0)
        positive = stds[stds > 0]
        if positive.numel() < 2:
            return
        median, top = float(positive.median()), int(stds.argmax())
        ratio = float(stds[top]) / median
        if ratio > self.params.max_scale_ratio:
            self.note(
                "data_feature_scale",
                f"feature {top} of the {split} split's {key!r} has a std of {float(stds[top]):.4g}, {ratio:.0f} x "
                f"the median feature std {median:.3g}: standardise the features (z-score with the training split's "
                "statistics)",
                ratio,
            )

    def check_repeats(self, split: str, key: str, value: Any) -> None:
        import torch

        rows = value.detach().reshape(value.shape[0], -1)
        _, counts = torch.unique(rows, dim=0, return_counts=True)
        share = float(counts.max()) / rows.shape[0]
        if share > self.params.max_repeat_share:
            self.note(
                "data_repeated_item",
                f"one {key!r} input is {share:.0%} of the {split} split's {rows.shape[0]} sampled items: the "
                "dataset returns the same item again and again (check __getitem__'s index)",
                share,
            )

    def check_labels(self, state: TrainState, splits: tuple[Any, Any]) -> None:
        train, val = (split_labels(state.workload, dataset) for dataset in splits)
        if train is None or val is None or not train.numel() or not val.numel():
            return
        classes = output_classes(state.model)
        for split, labels in (("training", train), ("validation", val)):
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or (classes is not None and high >= classes):
                limit = f"0..{classes - 1} (the model has {classes} outputs)" if classes else "0 or more"
                self.note(
                    "data_label_range",
                    f"the {split} labels run from {low} to {high}, outside {limit}: map the labels to 0..C-1 "
                    "(1-based labels? a -1 'unknown' label?) or size the output layer to the classes",
                    float(high if low >= 0 else low),
                )
        seen_train, seen_val = (
            {k for k in x.unique().tolist() if k >= 0 and (classes is None or k < classes)} for x in (train, val)
        )
        for split, missing in (("validation", seen_train - seen_val), ("training", seen_val - seen_train)):
            if missing:
                names = ", ".join(str(k) for k in sorted(missing)[:10])
                self.note(
                    "data_missing_class",
                    f"class(es) {names} appear in one split but not in the {split} split: split the data stratified "
                    "by label so each split holds every class",
                    float(len(missing)),
                )
        if is_sorted(train) and does_not_shuffle(state.train_loader):
            self.note(
                "data_ordered_by_label",
                f"the {train.numel()} training items are sorted by label and the training loader does not shuffle: "
                "each stretch of an epoch trains on one class (DataLoader(..., shuffle=True))",
            )
