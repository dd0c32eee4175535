"""HarnessCallback: raises harness hooks from a transformers Trainer's callback events (the table in the package docstring)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from transformers import TrainerCallback

from harness.core.loop import batch_loss
from harness.core.pluginmanager import PluginConflictError, PluginInfo, build_run_manager, resolve_conflicts
from harness.core.run_record import new_record, state_results
from harness.core.state import Hparams, TrainState
from harness.integrations.transformers.adapters import (
    RAISED_HOOKS,
    TRAINER_ONLY_HOOKS,
    TRAINER_OWNED_HPARAMS,
    TRANSLATED,
    HarnessTrainerError,
    _logits,
    _TrainerWorkload,
    labels_of,
)
from harness.scenario.arms import catalogue
from harness.scenario.params import UnknownPluginError, layered_params, plugin_setting, resolve_params

if TYPE_CHECKING:
    from harness.core.plugin import Plugin
    from harness.workloads.base import Workload


class HarnessCallback(TrainerCallback):  # type: ignore[misc]  # transformers is not followed by mypy: Any
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
        extra: tuple[type[Plugin], ...] = (),
        with_batch: bool = False,
    ) -> None:
        self.requested = dict(plugins or {})
        self.train_labels = None if train_labels is None else torch.as_tensor(train_labels)
        self.available: dict[str, PluginInfo] = dict(catalogue())
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
        try:
            requested = layered_params(self.available, self.requested)
        except UnknownPluginError as exc:
            raise HarnessTrainerError(
                f"unknown plugin {exc.name!r}; installed: {', '.join(sorted(self.available))}"
            ) from None
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
                        raise HarnessTrainerError(
                            f"plugin {name!r} cannot be applied through transformers.Trainer: {why}"
                        )
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
            from harness.plugins.fixes.lr_scaling import Params as LrScalingParams
            from harness.plugins.fixes.lr_scaling import scale_factor

            p = translated["lr_scaling"]
            assert isinstance(p, LrScalingParams), "the built-in lr_scaling's parameters"
            effective = args.per_device_train_batch_size * args.gradient_accumulation_steps
            factor = scale_factor(effective, p.base_batch_size, p.rule)
            changes["learning_rate"] = args.learning_rate * factor
            if factor > 1.0 and 0 < args.warmup_steps < 1:
                changes["warmup_steps"] = min(args.warmup_steps * factor, p.max_warmup_ratio)
        if "linear_warmup" in translated:
            from harness.plugins.fixes.linear_warmup import Params as LinearWarmupParams

            p = translated["linear_warmup"]
            assert isinstance(p, LinearWarmupParams), "the built-in linear_warmup's parameters"
            if p.interval != "step":
                raise HarnessTrainerError(
                    "linear_warmup with interval 'epoch' cannot be applied through transformers.Trainer: "
                    "the Trainer steps its scheduler after every optimizer step"
                )
            changes["lr_scheduler_type"] = "linear"
        if "mixed_precision" in translated:
            from harness.plugins.fixes.mixed_precision import Params as MixedPrecisionParams

            p = translated["mixed_precision"]
            assert isinstance(p, MixedPrecisionParams), "the built-in mixed_precision's parameters"
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
        hparams = Hparams.build(
            args.learning_rate,
            batch_size=args.per_device_train_batch_size,
            epochs=math.ceil(args.num_train_epochs),
            accumulation_steps=args.gradient_accumulation_steps,
            warmup_ratio=float(warmup),
            weight_decay=args.weight_decay,
            batches_per_epoch=batches,
            total_steps=state.max_steps,
        )
        self.state = TrainState(
            workload=cast("Workload", _TrainerWorkload(labels)),  # a stand-in: what plugins ask of a workload
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
            plugins = sorted(
                i.plugin_name for i in self.pm.hook.on_setup.get_hookimpls() if i.plugin_name in self.enabled
            )
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

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
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
        }
        empty = new_record("", 0, plugins={}, train={})
        fields = ("history", "findings", "trace", "lr_per_step", "steps", "outcomes")
        return record | {f: empty[f] for f in fields} | state_results(s, self.trace)
