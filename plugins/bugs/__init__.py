"""Injected bugs: each replays one real training mistake, off unless a variant enables it (kind "bug").

One module per plugin; :data:`BUILTINS` lists this family's built-ins (module:Class).
"""

BUILTINS: tuple[str, ...] = (
    "harness.plugins.bugs.bug_no_zero_grad:BugNoZeroGrad",
    "harness.plugins.bugs.bug_shuffled_labels:BugShuffledLabels",
    "harness.plugins.bugs.bug_softmax_before_ce:BugSoftmaxBeforeCE",
    "harness.plugins.bugs.bug_lr_too_high:BugLRTooHigh",
    "harness.plugins.bugs.bug_frozen_backbone:BugFrozenBackbone",
    "harness.plugins.bugs.bug_dead_relu:BugDeadReLU",
    "harness.plugins.bugs.bug_eval_mode:BugEvalMode",
    "harness.plugins.bugs.bug_foreign_optimizer:BugForeignOptimizer",
    "harness.plugins.bugs.bug_unnormalised_inputs:BugUnnormalisedInputs",
    "harness.plugins.bugs.bug_scheduler_per_microbatch:BugSchedulerPerMicrobatch",
    "harness.plugins.bugs.bug_loss_scaling:BugLossScaling",
    "harness.plugins.bugs.bug_loss_broadcast:BugLossBroadcast",
)
