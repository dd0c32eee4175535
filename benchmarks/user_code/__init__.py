"""Bugs written as user code: the second, independent detector benchmark's cases.

The catalog benchmark (``benchmarks/detectors.py``) injects the catalog's own ``bug``
plugins, so its detectors are measured on mistakes shaped like the plugins that replay
them. Here every mistake is written from scratch the way a user makes it: inside their
own workload class (a ``harness.Workload`` subclass with its own ``Dataset`` and
``nn.Module``) or in their training config (``train:`` fields, a plugin setting they chose).
Three clean workloads (:data:`TWINS`) and the bugs (:data:`BUGS`), each a subclass of one
of them that changes only the buggy lines (marked ``# BUG`` in the modules), or a config
change of the twin itself. ``bench.py`` runs them.

The modules are imported as ``user_code.<module>`` from ``sys.path`` (the benchmark puts
``benchmarks/`` there; forked and spawned workers inherit it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAMILIES = {
    "divergence": "training/validation divergence",
    "collapse": "near-total collapse",
    "capacity": "capacity capped / loss stuck",
    "data": "data mistake detectable before training",
    "catalog": "a catalog mistake written by hand",
}


@dataclass(frozen=True)
class Twin:
    """A clean workload and its training recipe (``train:`` of the scenario)."""

    name: str
    ref: str  # module:Class
    train: dict[str, Any]


@dataclass(frozen=True)
class UserBug:
    """One mistake: a workload class (``ref``) or a config change (``train``/``plugins``) of its twin."""

    name: str
    twin: str
    family: str
    description: str
    ref: str | None = None  # None: the twin's class, with the config change below
    train: dict[str, Any] = field(default_factory=dict)
    plugins: dict[str, Any] = field(default_factory=dict)


TWINS: dict[str, Twin] = {
    t.name: t
    for t in (
        Twin("cancer", "user_code.cancer:Cancer", {"epochs": 5, "batch_size": 16, "lr": 1e-2}),
        Twin("digits", "user_code.digits:Digits", {"epochs": 5, "batch_size": 32, "lr": 3e-3}),
        Twin("motifs", "user_code.signals:Motifs", {"epochs": 5, "batch_size": 32, "lr": 3e-3}),
    )
}


def _bug(name: str, family: str, description: str, cls: str | None = None, **config: Any) -> UserBug:
    twin = name.split("_", 1)[0]
    module = TWINS[twin].ref.split(":")[0]
    return UserBug(name, twin, family, description, ref=f"{module}:{cls}" if cls else None, **config)


BUGS: tuple[UserBug, ...] = (
    # breast_cancer (binary)
    _bug("cancer_labels_shifted", "divergence", "training labels rolled by one row", "CancerLabelsShifted"),
    _bug("cancer_val_unscaled", "divergence", "scaler applied to training only", "CancerValUnscaled"),
    _bug("cancer_minority_subsampled", "collapse", "balancing kept 10 of the minority", "CancerSubsampled"),
    _bug("cancer_bias_counts", "collapse", "head bias = raw class counts", "CancerBiasCounts"),
    _bug("cancer_relu_logits", "capacity", "ReLU on the output layer", "CancerReluLogits"),
    _bug("cancer_weight_decay", "capacity", "weight_decay: 20 in the config", train={"weight_decay": 20.0}),
    _bug("cancer_nan_feature", "data", "derived ratio feature, 0/0 = NaN", "CancerNanFeature"),
    _bug("cancer_raw_area", "data", "one feature left in raw units (~1000x)", "CancerRawArea"),
    _bug("cancer_softmax_head", "catalog", "softmax at the end of the model", "CancerSoftmaxHead"),
    _bug("cancer_lr_too_high", "catalog", "lr: 1.0 in the config (100x)", train={"lr": 1.0}),
    # digits (10 classes)
    _bug("digits_shuffled_apart", "divergence", "images and labels shuffled apart", "DigitsShuffledApart"),
    _bug("digits_val_transposed", "divergence", "validation images transposed", "DigitsValTransposed"),
    _bug("digits_split_by_label", "divergence", "split of label-sorted rows", "DigitsSplitByLabel"),
    _bug("digits_constant_init", "capacity", "constant init of every layer", "DigitsConstantInit"),
    _bug("digits_bottleneck", "capacity", "an inner layer of width 1", "DigitsBottleneck"),
    _bug("digits_clamped_logits", "capacity", "logits clamped to [0, 1]", "DigitsClampedLogits"),
    _bug("digits_no_nines", "data", "class 9 dropped from validation", "DigitsNoNines"),
    _bug("digits_one_based", "data", "labels 1..10 for 10 logits", "DigitsOneBased"),
    _bug("digits_sorted_stream", "data", "label-sorted rows read in order", "DigitsSortedStream"),
    _bug("digits_dropout_09", "catalog", "dropout p=0.9 (meant keep 0.9)", "DigitsDropout09"),
    _bug("digits_frozen_first", "catalog", "first layer requires_grad=False", "DigitsFrozenFirst"),
    _bug("digits_detached", "catalog", "hidden features detached in forward", "DigitsDetached"),
    # synthetic signals, 1-D CNN (3 classes)
    _bug("motifs_other_labels", "divergence", "training labels of other signals", "MotifsRegeneratedLabels"),
    _bug("motifs_val_millivolts", "divergence", "validation in 1000x other units", "MotifsValMillivolts"),
    _bug("motifs_same_item", "divergence", "Dataset returns one cached item", "MotifsSameItem"),
    _bug("motifs_rare_classes", "collapse", "inverted mask kept 2% of 2 classes", "MotifsRareClasses"),
    _bug("motifs_biased_head", "collapse", "head bias +50 on one class", "MotifsBiasedHead"),
    _bug("motifs_abs_logits", "capacity", "abs() on the logits", "MotifsAbsLogits"),
    _bug("motifs_sgd_adam_lr", "capacity", "SGD with Adam's lr (3e-3)", plugins={"optimizer": {"name": "sgd"}}),
    _bug("motifs_eval_forward", "catalog", "model.eval() inside forward", "MotifsEvalForward"),
    _bug("motifs_frozen_convs", "catalog", "convolutions requires_grad=False", "MotifsFrozenConvs"),
    _bug("motifs_detached", "catalog", "features detached before the head", "MotifsDetached"),
)

#: ``--quick``: six bugs, two per twin, of different families (and the three clean twins)
QUICK_BUGS = (
    "cancer_labels_shifted",
    "cancer_softmax_head",
    "digits_bottleneck",
    "digits_one_based",
    "motifs_same_item",
    "motifs_rare_classes",
)
