"""Harness plugins inside a Hugging Face ``transformers.Trainer``.

A team that trains with ``Trainer`` gets the same monitors and, where the Trainer API
allows it, the same fixes as a harness scenario, by the same plugin code::

    from harness.integrations.transformers import HarnessTrainer, classification_metrics

    trainer = HarnessTrainer(
        model=model,
        args=TrainingArguments(..., eval_strategy="epoch"),
        train_dataset=train, eval_dataset=val, data_collator=collate,
        compute_metrics=classification_metrics,
        harness_plugins={"class_weights": True, "collapse_stop": {"patience": 2}},
    )
    trainer.train()
    trainer.harness.record()   # history, findings, trace: the shape of a harness run record

``HarnessTrainer`` is a thin subclass: it installs a :class:`HarnessCallback` (a
``TrainerCallback``), passes its :meth:`HarnessCallback.compute_loss` as
``compute_loss_func``, and raises ``on_batch`` from ``Trainer.compute_loss``. Without
the subclass, do the same by hand (``callbacks=[cb]``, ``compute_loss_func=cb.compute_loss``,
``args=cb.prepare_arguments(args)`` and ``trainer.loss_is_scaled_for_ga = False``).

How each harness hook maps onto the Trainer
-------------------------------------------

=========================  =================================================================
harness hook               raised from
=========================  =================================================================
on_setup                   ``on_train_begin``, first; only ``hparams.loss_weights`` may change
                           (the Trainer already built optimizer and scheduler: any other
                           hyper-parameter a plugin changes there is refused)
on_train_start             ``TrainerCallback.on_train_begin`` (model, optimizer, scheduler exist)
make_criterion             once, at ``on_train_begin``; used by ``compute_loss``
on_batch                   ``HarnessTrainer.compute_loss`` (the inputs; not with a bare callback)
compute_loss, extra_losses ``compute_loss_func`` (the Trainer passes outputs and labels); the
                           named terms are weighted by ``hparams.loss_weights`` as in the loop
distill_inputs             raised by the plugin computing a distillation term, as in the loop
on_batch_end               ``HarnessTrainer.compute_loss``, after the loss (not with a bare callback)
on_after_backward          ``on_pre_optimizer_step``, first: the raw gradients
on_before_optimizer_step   ``on_pre_optimizer_step``, after ``on_after_backward`` (before ``optimizer.step()``)
on_step                    ``on_step_end`` (with the step's training loss)
on_epoch_end               ``on_evaluate`` during training: requires ``eval_strategy="epoch"``
on_train_end               ``on_train_end``
=========================  =================================================================

Two enabled plugins in one slot (both answering a firstresult hook, e.g. two scheduler
plugins) are refused with the plugin manager's message, as in a scenario.

A stop request (``state.request_stop``, e.g. from ``collapse_stop``) sets
``TrainerControl.should_training_stop``; the Trainer then ends training after the
current step or evaluation.

What goes through the Trainer's own API
---------------------------------------

- **monitors** (``prediction_distribution`` -> ``collapse``, ``loss_explosion``,
  ``grad_health`` -> ``grad_explosion``/``grad_vanishing``, ``non_finite``, ...): their
  hooks are all raised above, so they run unchanged. ``prediction_distribution`` needs
  the validation prediction counts: pass ``compute_metrics=classification_metrics``.
- **class weights** (``class_weights``, also the v1.5 ``sample_weighted_loss``): through
  ``compute_loss_func``, with the criterion ``make_criterion`` built from the training labels.
- **per-step scheduler** (``linear_warmup`` with ``interval: step``): the Trainer already
  builds a linear warmup/decay schedule and steps it after *every* optimizer step; the
  plugin becomes ``lr_scheduler_type="linear"`` (``warmup_steps`` as a ratio < 1 is the
  warmup ratio). The run record's ``lr_per_step`` shows the LR changing each step.
- **clipping** (``grad_clip``): ``args.max_grad_norm`` is the Trainer's own clipping,
  but it runs *before* ``on_pre_optimizer_step``, so the gradient monitors would only see
  clipped norms. :meth:`HarnessCallback.prepare_arguments` therefore moves it into the
  plugin: a positive ``max_grad_norm`` with ``grad_clip`` not named becomes
  ``grad_clip: {max_norm: max_grad_norm}`` (the same ``clip_grad_norm_``, so training is
  unchanged), ``args.max_grad_norm`` is set to 0, and ``grad_clip`` clips in
  ``on_before_optimizer_step`` after the monitors measured the raw norm. Naming
  ``grad_clip: false`` turns clipping off (the Trainer's default of 1.0 would clip).
- **LR scaling** (``lr_scaling``): applied to ``args.learning_rate`` and the warmup ratio
  before the Trainer builds its optimizer (its ``on_setup`` would come too late).
- **loss weights** (``loss_weights``) and the other ``on_setup`` fixes that only set
  ``hparams.loss_weights``: ``on_setup`` is raised at ``on_train_begin`` and the loss the
  callback computes weights each named term, exactly as the harness loop does. A plugin
  that changes any other hyper-parameter there (LR, warmup, total steps: the Trainer's
  optimizer and scheduler already exist) is refused with a message naming the field.
- **scale matching** (``scale_matching``): answers ``distill_inputs``, which a
  distillation term raises from ``extra_losses``; both run as in the loop (the
  distillation term needs outputs carrying the teacher's logits).
- **mixed precision** (``mixed_precision``): becomes ``bf16=True`` (CPU) or ``fp16=True``
  (CUDA); the Trainer does autocast and loss scaling itself.
- **collapse stop** (``collapse_stop``): its stop request sets ``should_training_stop``.

What cannot be applied through the Trainer API, and why
--------------------------------------------------------

- ``linear_warmup`` with ``interval: epoch`` (the v1.5 bug): the Trainer steps its
  scheduler after every optimizer step; there is no per-epoch stepping to replay short
  of replacing the scheduler with a custom object through ``optimizers=``.
- Hooks the Trainer owns: ``on_setup``, ``make_optimizer``, ``make_scheduler`` (the
  optimizer and scheduler exist before any callback runs: use ``args.optim``,
  ``optimizers=`` or ``optimizer_cls_and_kwargs``), ``forward_context``, ``backward``
  and ``optimizer_step`` (accelerate runs autocast, ``backward`` and the step; a callback
  cannot replace them) and ``on_checkpoint`` (the Trainer saves its own checkpoints with
  ``save_strategy``, as safetensors state dicts). A plugin that needs one of these is
  refused with a message naming the hooks, never half-applied: e.g. ``checkpoint``
  (use ``save_strategy``), the optimizer/scheduler fixes (``sgd_nesterov``,
  ``layerwise_lr``, ``warmup_cosine``, ``plateau``, ``two_stage``), and any third-party
  plugin implementing them. A default monitor that needs one is left out and listed in
  :attr:`HarnessCallback.skipped`.
- ``compute_loss_func`` receives the model outputs and the labels only; a loss that
  needs other batch fields (a teacher's logits) needs ``HarnessTrainer`` (which passes
  the inputs to ``on_batch`` and keeps them for ``compute_loss``).
"""

from harness.integrations.transformers.adapters import HarnessTrainerError, classification_metrics, labels_of
from harness.integrations.transformers.callback import HarnessCallback
from harness.integrations.transformers.trainer import HarnessTrainer

__all__ = ["HarnessCallback", "HarnessTrainer", "HarnessTrainerError", "classification_metrics", "labels_of"]
