"""Monitors: each only observes, records findings of the kinds it declares, and is on by default (kind "monitor").

One module per plugin; :data:`BUILTINS` lists this family's built-ins (module:Class).
"""

BUILTINS: tuple[str, ...] = (
    "harness.plugins.monitors.prediction_distribution:PredictionDistribution",
    "harness.plugins.monitors.loss_explosion:LossExplosion",
    "harness.plugins.monitors.grad_health:GradHealth",
    "harness.plugins.monitors.mode_collapse:ModeCollapse",
    "harness.plugins.monitors.no_signal:NoSignal",
    "harness.plugins.monitors.saturation:Saturation",
    "harness.plugins.monitors.non_finite:NonFinite",
    "harness.plugins.monitors.memory:Memory",
    "harness.plugins.monitors.dead_units:DeadUnits",
    "harness.plugins.monitors.weight_updates:WeightUpdates",
    "harness.plugins.monitors.convergence:Convergence",
    "harness.plugins.monitors.loss_oscillation:LossOscillation",
    "harness.plugins.monitors.lr_schedule:LRSchedule",
    "harness.plugins.monitors.train_mode:TrainMode",
    "harness.plugins.monitors.stale_gradients:StaleGradients",
    "harness.plugins.monitors.probability_outputs:ProbabilityOutputs",
    "harness.plugins.monitors.generalisation:Generalisation",
    "harness.plugins.monitors.loss_plateau:LossPlateau",
    "harness.plugins.monitors.data_checks:DataChecks",
    "harness.plugins.monitors.split_shift:SplitShift",
    "harness.plugins.monitors.batch_order:BatchOrder",
    "harness.plugins.monitors.capacity:Capacity",
)
