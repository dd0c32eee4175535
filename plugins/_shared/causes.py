"""Causes several monitors' finding kinds share (a too-high LR shows as an explosion, an
oscillation, dead units...): one definition each, declared by every monitor whose kind it
may explain (``causes`` on the monitor class). Each says the cure in the user's terms and,
where one exists, the plugin that applies it.
"""

from __future__ import annotations

from harness.core.diagnosis import Cause, Cure
from harness.plugins._shared.evidence import (
    config,
    loss_near_chance,
    loss_ratio_near_batch_size,
    lr_at_first,
    lr_zero_unexplained,
    scaled_inputs,
    seen,
    stepped_per_epoch,
)

LR_TOO_HIGH = Cause(
    "learning rate too high",
    "every step overshoots: the loss jumps, units die, gradients blow up",
    "lower train.lr (the doctor's LR range test picks a value); or clip gradients",
    (Cure("lr_scale"),),
    lr_at_first("loss_explosion", "loss_oscillation", "grad_explosion", "nan", "dead_units"),
)
UNNORMALISED_INPUTS = Cause(
    "inputs on the wrong scale",
    "unstandardised features (or a feature in other units) make the first logits and gradients huge",
    "standardise the features with the training split's mean and std (the same transform for validation)",
    (Cure("input_standardize"),),
    scaled_inputs,
)
SUMMED_LOSS = Cause(
    "loss summed instead of averaged",
    "reduction='sum' (or an accumulation division forgotten) multiplies the gradient by the batch size",
    "use reduction='mean' and divide by accumulation_steps exactly once",
    (),
    loss_ratio_near_batch_size,
)
SCHEDULER_PER_EPOCH = Cause(
    "per-step scheduler stepped once per epoch",
    "a warmup planned in optimizer steps advances once per epoch: the LR stays near 0",
    "call scheduler.step() after every optimizer.step() (Lightning: interval 'step')",
    (Cure("linear_warmup", {"interval": "step"}), Cure("warmup_cosine"), Cure("scheduler_cadence", {"every": "step"})),
    stepped_per_epoch,
)
SCHEDULER_TOO_OFTEN = Cause(
    "scheduler stepped more often than the optimizer",
    "under gradient accumulation scheduler.step() runs every micro-batch: the schedule runs too fast",
    "step the scheduler only when the optimizer steps",
    (),
    config("accumulation_steps", 1),
)
LABELS_WITHOUT_SIGNAL = Cause(
    "labels that do not match the inputs",
    "labels shuffled apart from their inputs, or misaligned by an index: nothing to learn",
    "shuffle (input, label) pairs together; check that item i's label belongs to input i",
    (),
    loss_near_chance,
)
WEIGHTS_NOT_TRAINED = Cause(
    "weights the optimizer does not train",
    "requires_grad=False left on, a .detach() in forward, or an optimizer built over other parameters",
    "build the optimizer over model.parameters() after the model is final; remove the detach/freeze",
    (Cure("optimizer"),),
    seen("frozen_parameters"),
)
HEAVY_WEIGHT_DECAY = Cause(
    "weight decay far too strong",
    "decay pulls every weight towards 0 faster than the loss can move it",
    "lower train.weight_decay (0.01 is usual for AdamW)",
    (),
    config("weight_decay", 0.5),
)
CLASS_IMBALANCE = Cause(
    "class imbalance without class weights",
    "the majority class minimises an unweighted loss fastest",
    "weight the loss by inverse class frequency (CrossEntropyLoss(weight=...)) or rebalance the sampler",
    (Cure("class_weights"),),
)
LR_ZERO = Cause(
    "learning rate (near) zero",
    "a warmup that never warms up, or lr: 0: the weights barely move",
    "check the schedule: the LR of every step should reach train.lr",
    (Cure("linear_warmup", {"interval": "step"}),),
    lr_zero_unexplained,
)
VALIDATION_PREPARED_DIFFERENTLY = Cause(
    "validation data prepared differently from training",
    "a scaler fitted on (or applied to) only one split, features in another order or unit, or other labels",
    "build both splits with the same code: fit the preprocessing on training data, apply it to both",
    (),
    seen("train_val_divergence", "data_feature_scale"),
)
SPLIT_MISMATCH = Cause(
    "training labels that do not match their inputs in one split",
    "an index off by one, labels read from another file or shuffled in one split only: training "
    "memorises, validation stays at the prior",
    "check that item i's label belongs to input i in both splits (print a few pairs)",
    (),
    seen("train_val_divergence"),
)
SAME_ITEM = Cause(
    "a dataset that keeps returning the same item",
    "__getitem__ ignoring its index (or a cached batch): the model sees one example",
    "index the data with the index __getitem__ receives",
    (),
    seen("data_repeated_item"),
)
CAPACITY_CAPPED = Cause(
    "a model that cannot express the classes",
    "outputs clamped or passed through ReLU/abs, a width-1 bottleneck, units initialised identically",
    "give the last layer raw logits (no ReLU/clamp after it), widen the bottleneck, keep random init",
    (),
    seen("clamped_outputs", "symmetric_units", "weight_shrinkage"),
)
GRADIENT_SPIKES = Cause(
    "rare steps with huge gradients, unclipped",
    "a few batches give gradients orders of magnitude above the rest and throw the weights far off",
    "clip the gradient norm before optimizer.step() (torch.nn.utils.clip_grad_norm_(params, 1.0))",
    (Cure("grad_clip"),),
)
NO_WARMUP = Cause(
    "full learning rate from the first step",
    "without a warmup the first steps, on an untrained model's largest gradients, overshoot",
    "ramp the LR up over the first part of training (a linear warmup, then a gentle decay)",
    (Cure("warmup_cosine"),),
)
LOSS_TERM_ON_ANOTHER_SCALE = Cause(
    "a loss term on another scale than the outputs",
    "a target (a teacher's logits) 100x larger than the model can emit makes its loss term explode",
    "bring the target to the outputs' scale (scale matching, or KL with a temperature)",
    (Cure("scale_matching"),),
    seen("saturation"),
)
