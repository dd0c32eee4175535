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

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback

from harness.loop import batch_loss
from harness.params import (
    UnknownPluginError,
    apply_setting,
    default_settings,
    plugin_setting,
    resolve_params,
)
from harness.pluginmanager import (
    PluginConflictError,
    PluginInfo,
    build_run_manager,
    discover_plugins,
    resolve_conflicts,
)
from harness.state import Hparams, TrainState

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
    "lr", "batch_size", "epochs", "accumulation_steps", "warmup_ratio", "weight_decay", "batches_per_epoch", "total_steps",
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
    from harness.metrics import classification_metrics as core_metrics

    logits = torch.as_tensor(eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions)
    return core_metrics(torch.as_tensor(eval_pred.label_ids).long(), logits)


def _logits(outputs: Any) -> torch.Tensor:
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, Mapping) or hasattr(outputs, "keys"):
        return outputs["logits"]
    return outputs[0]


class HarnessCallback(TrainerCallback):
    """Raises harness hooks from Trainer events for the enabled plugins of one training run.

    :param plugins: like a scenario variant's ``plugins:`` mapping: name -> ``true``,
        ``false`` or parameters. The core and the monitors are on unless switched off.
    :param train_labels: the training labels (for ``class_weights``); read from the
        training dataset at ``on_train_begin`` when not given.
    :param extra: plugin classes to make available besides the installed ones.
    """

    def __init__(
        self,
        plugins: Mapping[str, Any] | None = None,
        *,
        train_labels: Any = None,
        extra: tuple[type, ...] = (),
        with_batch: bool = False,
    ) -> None:
        self.requested = dict(plugins or {})
        self.train_labels = None if train_labels is None else torch.as_tensor(train_labels)
        self.available: dict[str, PluginInfo] = dict(discover_plugins())
        for cls in extra:
            self.available[cls.name] = PluginInfo(cls.name, cls, "extra")
        self.raised = RAISED_HOOKS if with_batch else RAISED_HOOKS - TRAINER_ONLY_HOOKS
        self.skipped: dict[str, str] = {}  # default monitors left out, and why
        self.enabled = self._resolve()
        self.pm, self.trace = build_run_manager(self.available, self.enabled)
        self.hook = self.pm.hook
        self.state: TrainState | None = None
        self.status = "not started"
        self._training = False
        self._epoch_losses: list[torch.Tensor] = []
        self._last_loss: torch.Tensor | None = None
        self._batch: dict[str, Any] | None = None
        self._prepared = False

    # ------------------------------------------------------------ plugins and arguments

    def _resolve(self) -> dict[str, Any]:
        settings = default_settings(self.available)
        for name, value in self.requested.items():
            try:
                apply_setting(settings, self.available, name, value, keep_core=False)
            except UnknownPluginError:
                raise HarnessTrainerError(f"unknown plugin {name!r}; installed: {', '.join(sorted(self.available))}") from None
        requested = resolve_params(self.available, settings)
        try:  # the same conflict rule as a scenario, translated fixes included
            kept, _ = resolve_conflicts(self.available, requested)
        except PluginConflictError as exc:
            raise HarnessTrainerError(f"cannot apply these plugins together: {exc}") from None
        enabled: dict[str, Any] = {}
        for name, params in requested.items():
            if name in TRANSLATED or name not in kept:
                continue
            info = self.available[name]
            if info.kind != "core":
                missing = self._unraised_hooks(info.cls(params))
                if missing:
                    why = f"needs hook(s) {', '.join(missing)}, which the Trainer API does not let a callback raise"
                    if set(missing) <= TRAINER_ONLY_HOOKS:
                        why = f"needs hook(s) {', '.join(missing)}: use HarnessTrainer, which raises them"
                    if name in self.requested:
                        raise HarnessTrainerError(f"plugin {name!r} cannot be applied through transformers.Trainer: {why}")
                    self.skipped[name] = why
                    continue
            enabled[name] = params
        return enabled

    def _unraised_hooks(self, plugin: Any) -> list[str]:
        hooks = {n for n in dir(type(plugin)) if hasattr(getattr(type(plugin), n, None), "harness_impl")}
        return sorted(hooks - set(plugin.unused_hooks()) - self.raised)

    def prepare_arguments(self, args: Any) -> Any:
        """``args`` with the Trainer-native form of the enabled fixes (a new object).

        lr_scaling -> ``learning_rate``/``warmup_steps``; linear_warmup (per step) ->
        ``lr_scheduler_type="linear"``; mixed_precision -> ``bf16``/``fp16``; clipping moved
        from ``max_grad_norm`` into ``grad_clip`` (see the module docstring).
        """
        self._prepared = True
        changes: dict[str, Any] = {}
        translated = resolve_params(
            self.available, {n: plugin_setting(v) for n, v in self.requested.items() if n in TRANSLATED}
        )
        if "lr_scaling" in translated:
            from harness.plugins.lr_scaling import scale_factor

            p = translated["lr_scaling"]
            effective = args.per_device_train_batch_size * args.gradient_accumulation_steps
            factor = scale_factor(effective, p.base_batch_size, p.rule)
            changes["learning_rate"] = args.learning_rate * factor
            if factor > 1.0 and 0 < args.warmup_steps < 1:
                changes["warmup_steps"] = min(args.warmup_steps * factor, p.max_warmup_ratio)
        if "linear_warmup" in translated:
            p = translated["linear_warmup"]
            if p.interval != "step":
                raise HarnessTrainerError(
                    "linear_warmup with interval 'epoch' cannot be applied through transformers.Trainer: "
                    "the Trainer steps its scheduler after every optimizer step"
                )
            changes["lr_scheduler_type"] = "linear"
        if "mixed_precision" in translated:
            p = translated["mixed_precision"]
            dtype = p.dtype if p.dtype != "auto" else ("fp16" if torch.device(args.device).type == "cuda" else "bf16")
            changes[dtype] = True
        if args.max_grad_norm and args.max_grad_norm > 0:
            if "grad_clip" not in self.requested:  # keep the Trainer's clipping, applied by the plugin
                self.requested["grad_clip"] = {"max_norm": float(args.max_grad_norm)}
                self.enabled = self._resolve()
                self.pm, self.trace = build_run_manager(self.available, self.enabled)
                self.hook = self.pm.hook
            changes["max_grad_norm"] = 0.0
        return dataclasses.replace(args, **changes) if changes else args

    # ------------------------------------------------------------ loss

    def set_batch(self, inputs: Mapping[str, Any]) -> None:
        """Called by ``HarnessTrainer.compute_loss`` with each batch's inputs."""
        self._batch = dict(inputs)
        if self._training and self.state is not None and self.state.model.training:
            self.hook.on_batch(state=self.state, batch=self._batch)

    def compute_loss(self, outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
        """``compute_loss_func``: the plugins' criterion, loss and extra loss terms.

        Returns the batch's mean loss; the Trainer must divide it by the accumulation
        steps itself (``trainer.loss_is_scaled_for_ga = False``, set by HarnessTrainer).
        """
        logits = _logits(outputs)
        batch = {**(self._batch or {}), "labels": labels}
        state = self.state
        if state is None or state.criterion is None:  # evaluate() before train(): the plain loss
            return F.cross_entropy(logits.float(), labels)
        if not state.model.training:  # evaluation during training: the same criterion, no hooks
            return state.criterion(logits, batch)
        loss = batch_loss(self.hook, state, batch, logits)  # the loop's own weighted sum of named terms
        self._last_loss = loss.detach()
        self._epoch_losses.append(self._last_loss)
        if "on_batch_end" in self.raised:  # the Trainer runs backward later; the hook is read-only
            self.hook.on_batch_end(state=state, batch=batch, outputs=logits, loss=self._last_loss)
        return loss

    # ------------------------------------------------------------ Trainer events

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if str(getattr(args.eval_strategy, "value", args.eval_strategy)) != "epoch":
            raise HarnessTrainerError(
                "HarnessCallback needs TrainingArguments(eval_strategy='epoch'): the monitors judge each epoch's validation"
            )
        untranslated = sorted(n for n in TRANSLATED if plugin_setting(self.requested.get(n, False)) is not None)
        if untranslated and not self._prepared:
            raise HarnessTrainerError(
                f"{', '.join(untranslated)} become TrainingArguments settings: "
                "pass args=callback.prepare_arguments(args) to the Trainer (HarnessTrainer does it)"
            )
        model, loader = kwargs["model"], kwargs.get("train_dataloader")
        labels = self.train_labels
        if labels is None and loader is not None:
            labels = labels_of(loader.dataset)
        batches = len(loader) if loader is not None else 0
        warmup = args.warmup_steps if args.warmup_steps < 1 else args.warmup_steps / max(state.max_steps, 1)
        hparams = Hparams(
            lr=args.learning_rate,
            batch_size=args.per_device_train_batch_size,
            epochs=math.ceil(args.num_train_epochs),
            accumulation_steps=args.gradient_accumulation_steps,
            warmup_ratio=float(warmup),
            weight_decay=args.weight_decay,
            batches_per_epoch=batches,
            total_steps=state.max_steps,
        )
        self.state = TrainState(
            workload=_TrainerWorkload(labels),
            model=model,
            device=args.device,
            hparams=hparams,
            train_loader=loader,
            val_loader=kwargs.get("eval_dataloader"),
            seed=args.seed,
            run_dir=args.output_dir,
            optimizer=kwargs.get("optimizer"),
            scheduler=kwargs.get("lr_scheduler"),
        )
        self._setup(self.state)
        self.state.criterion = self.hook.make_criterion(state=self.state)
        self._training = True
        self.status = "running"
        self.hook.on_train_start(state=self.state)

    def _setup(self, state: TrainState) -> None:
        """Raise ``on_setup``; refuse a change of what the Trainer already applied."""
        before = {f: getattr(state.hparams, f) for f in TRAINER_OWNED_HPARAMS}
        self.hook.on_setup(state=state)
        changed = [f for f, value in before.items() if getattr(state.hparams, f) != value]
        if changed:
            plugins = sorted(i.plugin_name for i in self.pm.hook.on_setup.get_hookimpls() if i.plugin_name in self.enabled)
            raise HarnessTrainerError(
                f"plugin(s) {', '.join(plugins)} changed hparams {', '.join(changed)} in on_setup, but the Trainer "
                "built its optimizer and scheduler already: set it in TrainingArguments instead"
            )

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.state is not None:
            self.state.epoch += 1
            self._epoch_losses = []

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.state is not None:
            self.hook.on_after_backward(state=self.state)  # read-only: the raw gradients
            self.hook.on_before_optimizer_step(state=self.state)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        hstate = self.state
        if hstate is None:
            return
        hstate.step = state.global_step
        hstate.lr_per_step.append(hstate.current_lr())
        loss = self._last_loss if self._last_loss is not None else torch.tensor(float("nan"))
        self.hook.on_step(state=hstate, loss=loss)
        if hstate.stop_requested:
            control.should_training_stop = True

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        hstate = self.state
        if hstate is None or not self._training:
            return  # an evaluate() outside training is not an epoch
        skip = {"loss", "runtime", "samples_per_second", "steps_per_second", "epoch"}
        losses = torch.stack(self._epoch_losses).float() if self._epoch_losses else torch.tensor([float("nan")])
        record: dict[str, Any] = {"epoch": hstate.epoch, "loss": float(losses.mean()), "steps": state.global_step}
        for key, value in (metrics or {}).items():
            name = key.removeprefix("eval_")
            if name not in skip:
                record[name] = value
        record["lr"] = hstate.current_lr()
        hstate.history.append(record)
        self.hook.on_epoch_end(state=hstate, metrics=record)
        if hstate.stop_requested:
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.state is None:
            return
        self.hook.on_train_end(state=self.state)
        self._training = False
        self.status = "stopped" if self.state.stop_requested else "ok"

    # ------------------------------------------------------------ results

    def record(self) -> dict[str, Any]:
        """The run in the shape of a harness run record (history, findings, trace, ...)."""
        s = self.state
        record: dict[str, Any] = {
            "status": self.status,
            "plugins": {name: params.model_dump() for name, params in self.enabled.items()},
            "skipped_plugins": dict(self.skipped),
            "history": s.history if s else [],
            "findings": [f.to_dict() for f in s.findings] if s else [],
            "trace": self.trace.as_dict(),
            "lr_per_step": s.lr_per_step if s else [],
            "steps": s.step if s else 0,
            "outcomes": dict(s.outcomes) if s else {},
        }
        if s is not None and s.stop_reason:
            record["stop_reason"] = s.stop_reason
        return record


class HarnessTrainer(Trainer):
    """``transformers.Trainer`` with harness plugins wired in (see the module docstring).

    :param harness_plugins: name -> ``true``/``false``/parameters, as in a scenario.
    :param harness_train_labels: the training labels, if the dataset cannot give them.
    The callback is ``trainer.harness``; ``trainer.harness.record()`` gives the results.
    """

    def __init__(
        self,
        *args: Any,
        harness_plugins: Mapping[str, Any] | None = None,
        harness_train_labels: Any = None,
        harness_extra: tuple[type, ...] = (),
        **kwargs: Any,
    ) -> None:
        if kwargs.get("compute_loss_func") is not None:
            raise HarnessTrainerError("HarnessTrainer computes the loss through the plugins; drop compute_loss_func")
        self.harness = HarnessCallback(
            harness_plugins, train_labels=harness_train_labels, extra=harness_extra, with_batch=True
        )
        training_args = kwargs.get("args", args[1] if len(args) > 1 else None)
        if training_args is not None:
            prepared = self.harness.prepare_arguments(training_args)
            if "args" in kwargs or len(args) <= 1:
                kwargs["args"] = prepared
            else:
                args = (args[0], prepared, *args[2:])
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), self.harness]
        kwargs["compute_loss_func"] = self.harness.compute_loss
        super().__init__(*args, **kwargs)
        self.loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        self.harness.set_batch(inputs)
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
