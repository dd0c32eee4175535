"""Fixes: each changes training in one way and is off unless a variant enables it (kind "fix").

One module per plugin; :data:`BUILTINS` lists this family's built-ins (module:Class).
"""

BUILTINS: tuple[str, ...] = (
    "harness.plugins.fixes.class_weights:ClassWeights",
    "harness.plugins.fixes.sample_weighted_loss:SampleWeightedLoss",
    "harness.plugins.fixes.lr_scaling:LRScaling",
    "harness.plugins.fixes.linear_warmup:LinearWarmup",
    "harness.plugins.fixes.grad_clip:GradClip",
    "harness.plugins.fixes.collapse_stop:CollapseStop",
    "harness.plugins.fixes.checkpoint:Checkpoint",
    "harness.plugins.fixes.checkpoint_load:CheckpointLoad",
    "harness.plugins.fixes.resume:Resume",
    "harness.plugins.fixes.mixed_precision:MixedPrecision",
    "harness.plugins.fixes.scale_matching:ScaleMatching",
    "harness.plugins.fixes.distillation:Distillation",
    "harness.plugins.fixes.loss_weights:LossWeights",
    "harness.plugins.fixes.variance_penalty:VariancePenalty",
    "harness.plugins.fixes.logit_norm:LogitNorm",
    "harness.plugins.fixes.warmup_cosine:WarmupCosine",
    "harness.plugins.fixes.plateau:Plateau",
    "harness.plugins.fixes.sgd_nesterov:SGDNesterov",
    "harness.plugins.fixes.optimizer:Optimizer",
    "harness.plugins.fixes.layerwise_lr:LayerwiseLR",
    "harness.plugins.fixes.two_stage:TwoStage",
    "harness.plugins.fixes.dataloader:DataLoaderSettings",
    "harness.plugins.fixes.input_standardize:InputStandardize",
    "harness.plugins.fixes.bias_init:BiasInit",
    "harness.plugins.fixes.lr_scale:LRScale",
    "harness.plugins.fixes.grad_reset:GradReset",
    "harness.plugins.fixes.scheduler_cadence:SchedulerCadence",
)
