"""The watcher: a :class:`~harness.core.state.TrainState` fed from an unmodified script's torch calls.

:class:`Watcher` installs observers into torch (:mod:`.patches`), builds a harness plugin
manager with the default monitors (the same plugin classes a scenario runs, third-party
ones too) plus the watch-only rules (:mod:`.rules`), and raises the same hooks, in the
same order, from what the script does:

=========================  ===============================================================
harness hook               raised when the script ...
=========================  ===============================================================
on_setup, on_train_start   first steps an optimizer (no optimizer: first backward of a loss)
on_batch                   fetches a batch from a DataLoader with gradients enabled
on_batch_end               backpropagated a loss (seen at the next fetch, step or loss call);
                           ``outputs`` are the loss call's input (logits), ``batch`` holds
                           ``labels`` (its target) and ``loss``
on_after_backward,         calls ``optimizer.step()`` (the optimizer's step pre-hook)
on_before_optimizer_step
on_step                    after that step (post-hook); with no optimizer, once per backward
on_epoch_end               finished a pass over the training DataLoader (the loader whose pass
                           saw optimizer steps), raised when the next pass begins or the run
                           ends so the validation that follows the pass counts; with no
                           DataLoader, every ``epoch_steps`` optimizer steps
on_train_end               ends (the ``with`` block exits, the process exits)
=========================  ===============================================================

The firstresult hooks (``make_optimizer``, ``compute_loss``, ``backward``, ...) are never
raised: the script owns its training, so only monitors run (a fix or a bug plugin asked
for is refused). Per-step values stay tensors (the training loss, the gradient-reset
evidence, the predicted-class counts) and are read once per epoch. A monitor that raises
becomes an ``error`` finding naming it and is switched off; the script goes on.
"""

from __future__ import annotations

import functools
import gc
import os
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.core.pluginmanager import PluginError, build_run_manager
from harness.core.state import Finding, Hparams, TrainState

from . import observers
from .config import WatchError, available_plugins, resolve_watch_plugins
from .observers import CLASS_LOSSES
from .patches import Patches
from .rules import Facts, WatchPlugin
from .sites import Site, call_site

#: training batches (and optimizer step windows) per epoch whose loss inputs (softmax sources,
#: kl_div inputs) and gradient resets are probed
PROBED_BATCHES = 8
#: monitors of the gradients before a step (not meaningful for a closure-driven optimizer)
GRADIENT_MONITORS = ("grad_health", "weight_updates", "lr_schedule")
#: monitors of the training loss's trend (not meaningful for adversarial training)
LOSS_TREND_MONITORS = ("convergence", "loss_oscillation")
#: every Nth training batch's predicted classes are counted (``pred_count_<k>``, for ``collapse``)
PREDICTION_SAMPLE = 4
#: the epochs a watched run is assumed to have left (its planned length is unknown)
PLANNED_EXTRA_EPOCHS = 3
#: which observed place explains a finding of each kind
SITE_OF_KIND = {
    "schedule_mismatch": "scheduler_step",
    "lr_zero": "scheduler_step",
    "eval_mode": "eval_call",
    "stale_gradients": "optimizer_step",
    "probability_outputs": "probabilities",
    "frozen_parameters": "optimizer",
    "weights_not_updating": "optimizer",
    "loss_explosion": "optimizer",
    "grad_explosion": "optimizer",
    "nan": "optimizer",
}


class ScriptWorkload:
    """The little of a harness workload that monitors ask of a watched script."""

    name = "script"
    params = None
    metrics = None

    def __init__(self) -> None:
        self.classifier = False  # set once a training loss takes class logits

    def declared_metrics(self, params: Any = None) -> tuple[str, ...]:
        return ("accuracy",) if self.classifier else ()

    def logits(self, outputs: Any) -> Any:
        return outputs

    def train_labels(self) -> Any:
        raise WatchError("a watched script's training labels are unknown")


class HeldParameters(torch.nn.Module):
    """The model, where no module called at top level holds the optimizer's tensors."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        super().__init__()
        self._held = list(tensors)

    def parameters(self, recurse: bool = True) -> Any:  # type: ignore[override]
        return iter(self._held)


@dataclass
class LossCall:
    """One call of a loss function with gradients enabled."""

    name: str
    input: torch.Tensor
    target: Any
    loss: torch.Tensor  # detached, 0-d
    fired: bool = False
    batch: list[LossCall] | None = None


@dataclass
class OptimizerInfo:
    """What the watcher knows of one optimizer: where it was built and stepped, its gradient resets."""

    label: str
    built: Site | None
    model: int | None = None  # id of the root module holding most of its tensors (once it stepped)
    stepped: Site | None = None
    steps: int = 0
    tracked: Any = None  # the hook handle on the parameter whose gradient resets are watched
    reset: bool = False  # this step window saw the gradient reset (None or zero)
    probing: bool = True  # this step window's gradient resets are checked
    seen: list[torch.Tensor] = field(default_factory=list)  # |grad| max when each backward arrived


@dataclass
class Pass:
    """One pass over a DataLoader in progress."""

    loader: Any
    steps_at_start: int
    trained_at_start: int
    iterator: Any = None  # a weak reference: a pass whose iterator is gone was left (``next(iter(loader))``)


@dataclass
class WatchFinding:
    """A finding of a watched run, with the place in the user's code that explains it."""

    kind: str
    epoch: int
    step: int | None
    message: str
    plugin: str
    where: str | None = None
    source: str | None = None
    value: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "epoch": self.epoch,
            "step": self.step,
            "message": self.message,
            "plugin": self.plugin,
            "where": self.where,
            "source": self.source,
            "value": self.value,
        }

    def __str__(self) -> str:
        at = f" at {self.where}" + (f": {self.source}" if self.source else "") if self.where else ""
        return f"{self.kind} (epoch {self.epoch}, {self.plugin}){at}\n    {self.message}"


def _looks_like_probabilities(values: torch.Tensor) -> torch.Tensor:
    from harness.plugins.monitors.probability_outputs import looks_like_probabilities

    return looks_like_probabilities(values, 1e-2)


class Watcher:
    """Watch the training that runs between :meth:`install` and :meth:`close` (see the module docstring).

    :param plugins: name -> ``true``/``false``/parameters, as a scenario's ``plugins:`` (monitors only).
    :param epoch_steps: optimizer steps per epoch when the script trains without a DataLoader.
    :param extra: plugin classes to make available besides the installed ones.
    :param name: the run's name in the record (``variant``).
    """

    def __init__(
        self,
        plugins: Mapping[str, Any] | None = None,
        *,
        epoch_steps: int = 100,
        extra: tuple[type, ...] = (),
        name: str = "script",
    ) -> None:
        self.available = available_plugins(extra)
        self.enabled = resolve_watch_plugins(self.available, dict(plugins or {}))
        self.pm, self.trace = build_run_manager(self.available, self.enabled)
        self.facts = Facts()
        for plugin in self.pm.get_plugins():
            if isinstance(plugin, WatchPlugin):
                plugin.facts = self.facts
        self.name, self.epoch_steps = name, epoch_steps
        self.workload = ScriptWorkload()
        self.state: TrainState | None = None
        self.status = "not started"
        self.started_at = time.time()
        self.failed: set[str] = set()
        self._impls: dict[str, list[tuple[Callable[..., Any], tuple[str, ...]]]] = {}
        #: what this run could not judge, and why (plugins switched off for the script's shape)
        self.notes: list[str] = []
        self._early_errors: list[Finding] = []
        self.sites: dict[str, Site] = {}
        self._where: dict[int, Site] = {}
        self._judged = 0
        self.patches = Patches()
        self._installed = False
        self._reset_observations()

    def _reset_observations(self) -> None:
        self.optimizers: dict[int, OptimizerInfo] = {}
        self.schedulers: dict[int, tuple[Any, int, Site | None]] = {}  # id -> (scheduler, steps, site)
        self.mode_sites: dict[int, tuple[bool, Site | None]] = {}
        self.loss_sites: dict[str, Site | None] = {}
        self.prob_sites: dict[str, Site | None] = {}
        self.passes: dict[int, Pass] = {}
        self.train_loader: Any = None
        self.open: list[LossCall] | None = None
        self.closed: list[list[LossCall]] = []
        self.last_softmax: tuple[Any, Site | None] | None = None
        self.last_loss: torch.Tensor | None = None
        self.trained = 0  # training batches backpropagated so far
        self.leaves: set[int] = set()  # with no optimizer: the tensors the first training loss depends on
        self.primary_steps = 0
        self.pending_epoch = False
        self._begin_epoch_buffers()
        self._depth = {"train": 0, "scheduler": 0, "loss": 0}

    def _begin_epoch_buffers(self) -> None:
        self.epoch_losses: list[torch.Tensor] = []
        self.val_losses: list[torch.Tensor] = []
        self.predictions: list[torch.Tensor] = []  # each training batch's predicted classes
        self.classes = 0
        self.steps_in_epoch = 0
        self.probed = 0
        self.windows_probed = 0  # step windows whose gradient resets were checked this epoch

    # ------------------------------------------------------------ install / close

    def install(self) -> Watcher:
        """Install every observer (see :mod:`.patches`); returns self."""
        if not self._installed:
            observers.install(self, self.patches)
            self._installed = True
        return self

    def close(self) -> None:
        """End the run: the last epoch's hooks, ``on_train_end``, then every observer removed."""
        try:
            self.safely(self._finish)
        finally:
            self.patches.undo()
            self._installed = False

    def __enter__(self) -> Watcher:
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _finish(self) -> None:
        state = self.state
        if state is None:
            return
        if self.pending_epoch:
            self.close_pending()
        else:
            self.drain()
            if self.steps_in_epoch or self.epoch_losses:
                self.end_epoch()
        self.call("on_train_end", state=state)
        self.status = "stopped" if state.stop_requested else "ok"

    # ------------------------------------------------------------ raising hooks

    def safely(self, action: Callable[..., Any], *args: Any) -> Any:
        """Run a watcher step; an error in the watcher itself becomes a finding, never the script's."""
        try:
            return action(*args)
        except Exception as exc:  # noqa: BLE001 - the script must go on
            self._error("watch", f"the watcher failed ({type(exc).__name__}: {exc}); this event was not observed")
            return None

    def call(self, hook: str, **kwargs: Any) -> None:
        """Raise ``hook`` on every enabled plugin; one that raises is switched off with an ``error`` finding."""
        impls = self._impls.get(hook)
        if impls is None:  # pluggy's call order (last registered first), less the plugins switched off
            impls = self._impls[hook] = [
                (i.function, i.argnames)
                for i in reversed(getattr(self.pm.hook, hook).get_hookimpls())
                if i.plugin_name not in self.failed
            ]
        for function, argnames in impls:
            try:
                function(**{name: kwargs[name] for name in argnames})
            except PluginError as exc:
                self.failed.add(exc.plugin)
                self._impls.clear()
                self._error(
                    exc.plugin,
                    f"monitor {exc.plugin!r} failed in {exc.hook} ({type(exc.original).__name__}: "
                    f"{exc.original}); it is switched off for the rest of the run",
                )
        self._locate_new_findings()

    def switch_off(self, plugins: tuple[str, ...], why: str) -> None:
        """Stop raising hooks on ``plugins`` for the rest of the run, with a note saying why."""
        names = [p for p in plugins if p in self.enabled and p not in self.failed]
        if names:
            self.failed.update(names)
            self._impls.clear()
            self.notes.append(f"not judged by {', '.join(names)}: {why}")

    def _error(self, plugin: str, message: str) -> None:
        finding = Finding(kind="error", epoch=self.state.epoch if self.state else 0, plugin=plugin, message=message)
        if self.state is not None:
            self.state.findings.append(finding)
        else:
            self._early_errors.append(finding)

    def _locate_new_findings(self) -> None:
        findings = self.state.findings if self.state is not None else []
        for finding in findings[self._judged :]:
            site = self._site_for(finding)
            if site is not None:
                self._where[id(finding)] = site
        self._judged = len(findings)

    def _site_for(self, finding: Finding) -> Site | None:
        key = SITE_OF_KIND.get(finding.kind)
        if key == "optimizer_step":
            infos = list(self.optimizers.values())
            named = [i for i in infos if i.label in finding.message]
            return next((i.stepped for i in named + infos if i.stepped is not None), None)
        if key == "probabilities":
            if finding.plugin == "watch_loss_inputs":
                return self.prob_sites.get("kl_div") or self.loss_sites.get("kl_div")
            return next((self.prob_sites[n] for n in CLASS_LOSSES if self.prob_sites.get(n)), None) or next(
                (self.loss_sites[n] for n in CLASS_LOSSES if self.loss_sites.get(n)), None
            )
        if key == "scheduler_step":
            return self.sites.get("scheduler_step") or self.sites.get("optimizer")
        if key == "eval_call":
            mode = self.mode_sites.get(id(self.state.model)) if self.state is not None else None
            return mode[1] if mode is not None and not mode[0] else None
        return self.sites.get(key) if key else None

    # ------------------------------------------------------------ results

    @property
    def findings(self) -> list[WatchFinding]:
        """Every finding so far, each with the place in the user's code that explains it (if any)."""
        findings = [*self._early_errors, *(self.state.findings if self.state is not None else [])]
        out = []
        for f in findings:
            site = self._where.get(id(f))
            out.append(
                WatchFinding(
                    f.kind,
                    f.epoch,
                    f.step,
                    f.message,
                    f.plugin,
                    site.where() if site else None,
                    site.source() if site else None,
                    f.value,
                )
            )
        return out

    def assert_clean(self, *, ignore: tuple[str, ...] = ()) -> None:
        """Raise ``AssertionError`` listing every finding (but the ``ignore``d kinds), one block each."""
        __tracebackhide__ = True  # pytest shows the user's test, not this frame
        found = [f for f in self.findings if f.kind not in ignore]
        if found:
            lines = "\n".join(f"  - {f}" for f in found)
            raise AssertionError(f"harness watch recorded {len(found)} finding(s):\n{lines}")

    def record(self, **train: Any) -> dict[str, Any]:
        """The run in the shape of a harness run record; findings carry ``where`` and ``source``."""
        s = self.state
        return {
            "variant": self.name,
            "seed": 0,
            "fingerprint": "",
            "status": self.status if s is not None else "not started",
            "seconds": round(time.time() - self.started_at, 3),
            "plugins": {name: params.model_dump() for name, params in self.enabled.items()},
            "train": {"epochs": len(s.history) if s else 0, "torch": torch.__version__, **train},
            "history": s.history if s else [],
            "findings": [f.as_dict() for f in self.findings],
            "expectations": [],
            "trace": self.trace.as_dict(),
            "outcomes": {},
            "lr_per_step": s.lr_per_step if s else [],
            "notes": list(self.notes),
            "steps": s.step if s else 0,
        }

    # ------------------------------------------------------------ the run's state

    def start(self, optimizer: Any) -> TrainState:
        """Build the state when training begins: the model is the module called at top level
        that holds the most of the optimizer's tensors (with no optimizer: of those with gradients)."""
        model = self._find_model(optimizer)
        first = next(iter(model.parameters()), None)
        lr = float(optimizer.param_groups[0]["lr"]) if optimizer is not None else 0.0
        hparams = Hparams(
            lr=lr,
            batch_size=0,
            epochs=1,
            accumulation_steps=1,
            warmup_ratio=0.0,
            weight_decay=float((getattr(optimizer, "defaults", None) or {}).get("weight_decay", 0.0) or 0.0),
            batches_per_epoch=0,
            total_steps=0,
        )
        state = TrainState(
            workload=self.workload,  # type: ignore[arg-type]
            model=model,
            device=first.device if first is not None else torch.device("cpu"),
            hparams=hparams,
            train_loader=None,  # type: ignore[arg-type]
            val_loader=None,  # type: ignore[arg-type]
            seed=int(torch.initial_seed() % 2**31),
            optimizer=optimizer,
            scheduler=self._scheduler_of(optimizer),
        )
        state.criterion = lambda outputs, batch: batch["loss"]
        state.epoch = 1
        self.state = state
        self.status = "running"
        if optimizer is not None:
            info = self.optimizers.get(id(optimizer))
            if info is not None and info.built is not None:
                self.sites["optimizer"] = info.built
        self.call("on_setup", state=state)
        self.call("on_train_start", state=state)
        return state

    def _find_model(self, optimizer: Any) -> torch.nn.Module:
        """The module that holds the most of ``optimizer``'s tensors (no optimizer: of those the
        first training loss depends on), the largest such, and the innermost of wrappers holding the
        same tensors (under DDP or ``torch.compile``: the user's own module). Looked up once, among
        the live modules (no forward hook needed). A container of several models is the model."""
        modules = _live_modules()
        if optimizer is not None:
            wanted = {id(p) for group in optimizer.param_groups for p in group["params"]}
        else:  # the tensors the first training loss depends on (manual updates reset .grad at once)
            wanted = self.leaves or {id(p) for m in modules for p in m.parameters(recurse=False) if p.grad is not None}
        best, key = None, (0, 0, 0)
        for module in modules:
            tensors = [id(p) for p in module.parameters()]
            overlap = sum(1 for t in tensors if t in wanted)
            # the most of the optimizer's tensors; then the whole model around them (an optimizer
            # over the head alone still watches the backbone); then, among wrappers holding the
            # same tensors (DDP, torch.compile), the innermost: the user's own module
            rank = (overlap, len(tensors), -sum(1 for _ in module.modules()))
            if overlap and rank > key:
                best, key = module, rank
        if best is not None:
            return best
        if optimizer is not None:
            return HeldParameters([p for group in optimizer.param_groups for p in group["params"]])
        return HeldParameters([])

    def _scheduler_of(self, optimizer: Any) -> Any:
        found = [s for s, _, _ in self.schedulers.values() if getattr(s, "optimizer", None) is optimizer]
        return found[-1] if found else None

    # ------------------------------------------------------------ batches and steps

    def drain(self, raise_hooks: bool = True) -> None:
        """Turn the backpropagated batches into ``on_batch_end`` (and, with no optimizer, steps)."""
        if not self.closed:
            return
        if self.state is None:
            if self.optimizers and len(self.closed) < 64:
                return  # an optimizer exists: the run starts at its first step
            self.start(None)
        batches, self.closed = self.closed, []
        for records in batches:
            fired = [r for r in records if r.fired]
            if not fired:
                continue
            primary = next((r for r in fired if r.name in CLASS_LOSSES), fired[0])
            total = fired[0].loss if len(fired) == 1 else torch.stack([r.loss for r in fired]).sum()
            self.last_loss = total
            self.trained += 1
            if raise_hooks:
                self._batch_end(primary, total)

    def _batch_end(self, primary: LossCall, total: torch.Tensor) -> None:
        state = self.state
        assert state is not None
        if primary.name in CLASS_LOSSES:
            self.workload.classifier = True
            if state.batch_index % PREDICTION_SAMPLE == 0:
                self._count_predictions(primary.input)
        self.epoch_losses.append(total)
        batch = {"labels": primary.target, "loss": primary.loss}
        self.call("on_batch_end", state=state, batch=batch, outputs=primary.input, loss=total)
        state.batch_index += 1
        if state.optimizer is None:  # manual updates: each backpropagated batch is a step
            self.close_pending()
            state.step += 1
            self.steps_in_epoch += 1
            self.call("on_step", state=state, loss=total)
            self._maybe_step_epoch()

    def _count_predictions(self, logits: torch.Tensor) -> None:
        """Keep the batch's predicted classes (counted once per epoch, in :meth:`_epoch_metrics`)."""
        if logits.dim() != 2 or logits.shape[-1] < 2:
            return
        if self.classes != logits.shape[-1]:
            self.classes, self.predictions = int(logits.shape[-1]), []
        self.predictions.append(logits.argmax(dim=-1))

    def before_step(self, optimizer: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
        info = self.optimizers.get(id(optimizer))
        if info is None:  # built before the watcher was installed
            info = self.optimizers[id(optimizer)] = OptimizerInfo(f"{type(optimizer).__name__}", None)
        self._close_window(optimizer, info)
        if info.stepped is None:
            info.stepped = call_site()
            info.model = id(self._find_model(optimizer))
        if self.state is None:
            self.start(optimizer)
        state = self.state
        assert state is not None
        if optimizer is not state.optimizer:
            self.drain(raise_hooks=False)  # another optimizer's batches (a GAN's second model)
            return
        self.close_pending()
        self.drain()
        closure = (kwargs or {}).get("closure") or (args[1] if len(args) > 1 else None)  # args[0]: the optimizer
        if callable(closure):
            self.switch_off(
                GRADIENT_MONITORS,
                "the optimizer steps with a closure (L-BFGS): the gradients before its "
                "step are those of its previous line search, not of a training step",
            )
            return
        self.call("on_after_backward", state=state)
        self.call("on_before_optimizer_step", state=state)

    def after_step(self, optimizer: Any) -> None:
        info = self.optimizers.get(id(optimizer))
        if info is not None:
            info.steps += 1
        state = self.state
        if state is None or optimizer is not state.optimizer:
            return
        self.drain()  # an LBFGS closure's batches ran inside the step
        state.step += 1
        self.primary_steps += 1
        self.steps_in_epoch += 1
        state.lr_per_step.append(state.current_lr())
        loss = self.last_loss if self.last_loss is not None else torch.tensor(float("nan"))
        self.call("on_step", state=state, loss=loss)
        self._maybe_step_epoch()

    def _maybe_step_epoch(self) -> None:
        if self.train_loader is not None or self.steps_in_epoch < self.epoch_steps:
            return
        for key, p in list(self.passes.items()):
            if p.iterator is not None and p.iterator() is None:
                del self.passes[key]  # its iterator was dropped before the end (a peek at one batch)
        if not self.passes:
            self.drain()
            self.end_epoch()

    # ------------------------------------------------------------ gradient resets (watch_zero_grad)

    def track_gradients(self, optimizer: Any, info: OptimizerInfo) -> None:
        """Watch one trainable tensor of ``optimizer``: does each step window reset its gradient?"""
        tensor = next((p for g in optimizer.param_groups for p in g["params"] if p.requires_grad), None)
        if tensor is None:
            return

        def arrived(grad: torch.Tensor) -> None:
            if not info.probing:
                return  # a missing zero_grad shows in every step: each epoch's first windows tell
            current = tensor.grad
            if current is None:
                info.reset = True
            elif not info.reset:
                info.seen.append(current.detach().abs().amax())

        info.tracked = tensor.register_hook(arrived)
        self.patches.handle(info.tracked)

    def _close_window(self, optimizer: Any, info: OptimizerInfo) -> None:
        if info.tracked is None:
            self.track_gradients(optimizer, info)
        elif self.state is not None and info.seen and not info.reset:
            smallest = info.seen[0] if len(info.seen) == 1 else torch.stack(info.seen).amin()
            self.facts.stale_windows.append((info.label, smallest))
            self.facts.windows += 1
            self.windows_probed += 1
        elif self.state is not None and (info.seen or info.reset):
            self.facts.windows += 1
            self.windows_probed += 1
        info.seen, info.reset = [], False
        info.probing = self.windows_probed < PROBED_BATCHES  # decided per window, never midway

    # ------------------------------------------------------------ epochs

    def pass_begins(self, loader: Any, iterator: Any) -> None:
        for key, p in list(self.passes.items()):
            if p.loader is loader:  # the previous pass over it was left early (a break)
                self.pass_ends(key)
        if loader is self.train_loader:
            self.close_pending()
        self.passes[id(iterator)] = Pass(loader, self.primary_steps, self.trained, weakref.ref(iterator))

    def pass_ends(self, key: int) -> None:
        p = self.passes.pop(key, None)
        if p is None or self.state is None:
            return
        trained = self.primary_steps > p.steps_at_start or (
            self.state.optimizer is None and self.trained > p.trained_at_start
        )
        if self.train_loader is None and trained:
            self.train_loader = p.loader
        if p.loader is self.train_loader:
            self.drain()
            self.pending_epoch = True

    def fetched(self, key: int) -> None:
        p = self.passes.get(key)
        if p is None or self.state is None or not torch.is_grad_enabled():
            return
        if self.train_loader is not None and p.loader is not self.train_loader:
            return
        self.drain()
        self.call("on_batch", state=self.state, batch={})

    def close_pending(self) -> None:
        if self.pending_epoch:
            self.pending_epoch = False
            self.end_epoch()

    def end_epoch(self) -> None:
        state = self.state
        if state is None or not (self.steps_in_epoch or self.epoch_losses):
            return
        self._judge_shape()
        metrics = self._epoch_metrics(state)
        state.history.append(metrics)
        # a script's planned length is unknown: assume three more epochs like this one, so the
        # monitors that wait for a share of the run judge from epoch 2 (collapse: a quarter of
        # it) and epoch 3 (convergence: half; a small transformer sits at the class prior for its
        # first two epochs, hf_loop.py)
        state.hparams.total_steps = state.step + PLANNED_EXTRA_EPOCHS * max(self.steps_in_epoch, 1)
        state.hparams.epochs = state.epoch + PLANNED_EXTRA_EPOCHS
        state.scheduler = self._scheduler_of(state.optimizer) if state.optimizer is not None else None
        entry = self.schedulers.get(id(state.scheduler)) if state.scheduler is not None else None
        self.facts.scheduler_steps.append(entry[1] if entry else None)
        self.facts.epoch_lrs.append(state.current_lr())
        self.call("on_epoch_end", state=state, metrics=metrics)
        state.epoch += 1
        state.batch_index = 0
        self._begin_epoch_buffers()

    def _judge_shape(self) -> None:
        """Switch off the monitors whose signal does not hold for this script's shape."""
        stepped = [i for i in self.optimizers.values() if i.steps]
        if len(stepped) > 1 and len({i.model for i in stepped}) > 1:
            self.switch_off(
                LOSS_TREND_MONITORS,
                f"{len(stepped)} optimizers train different models against or beside "
                "each other (a GAN?): the loss of one of them is not a trend",
            )
        no_optimizer = "no optimizer.step(): the gradient and learning-rate monitors had nothing to judge"
        if self.state is not None and self.state.optimizer is None and no_optimizer not in self.notes:
            self.notes.append(no_optimizer)

    def _epoch_metrics(self, state: TrainState) -> dict[str, Any]:
        nan = torch.tensor(float("nan"))
        loss = torch.stack([v.float().cpu() for v in self.epoch_losses]).mean() if self.epoch_losses else nan
        val = torch.stack([v.float().cpu() for v in self.val_losses]).mean() if self.val_losses else nan
        loss_value, val_value = torch.stack([loss, val]).tolist()
        record: dict[str, Any] = {
            "epoch": state.epoch,
            "loss": loss_value,
            "lr": state.current_lr(),
            "steps": state.step,
        }
        if self.val_losses:
            record["val_loss"] = val_value
        if self.predictions:
            counts = torch.bincount(torch.cat(self.predictions), minlength=self.classes).tolist()
            for k, count in enumerate(counts):
                record[f"pred_count_{k}"] = int(count)
        return record

    # ------------------------------------------------------------ observed calls

    def loss_called(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        inp = args[0] if args else kwargs.get("input")
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if not isinstance(out, torch.Tensor) or not isinstance(inp, torch.Tensor):
            return
        value = out.detach()
        value = value.float().mean() if value.dim() else value
        if not (torch.is_grad_enabled() and out.requires_grad):
            self.val_losses.append(value)
            return
        if self.closed and (self.state is not None or not self.optimizers):
            self.drain()  # a new batch begins: the previous one was backpropagated
        record = LossCall(name, inp.detach(), target.detach() if isinstance(target, torch.Tensor) else target, value)
        if self.open is None or len(self.open) > 32:
            self.open = []
        self.open.append(record)
        record.batch = self.open
        out.register_hook(functools.partial(self._fired, record))
        if self.state is None and not self.optimizers and not self.leaves:
            self.leaves = graph_leaves(out)
        self._probe(name, inp)

    def _probe(self, name: str, inp: torch.Tensor) -> None:
        if name not in self.loss_sites:
            self.loss_sites[name] = call_site()
        if self.probed >= PROBED_BATCHES:
            return
        self.probed += 1
        if self.last_softmax is not None and self.last_softmax[0]() is inp:
            self.prob_sites[name] = self.last_softmax[1]
        if name == "kl_div":
            self.facts.log_prob_inputs.append((name, _looks_like_probabilities(inp.detach())))

    def _fired(self, record: LossCall, grad: Any) -> None:
        record.fired = True
        if record.batch is self.open and self.open is not None:
            self.closed.append(self.open)
            self.open = None

    def softmax_called(self, out: Any) -> None:
        if self.probed < PROBED_BATCHES and isinstance(out, torch.Tensor):
            self.last_softmax = (weakref.ref(out), call_site())

    def optimizer_built(self, optimizer: Any) -> None:
        label = type(optimizer).__name__
        if any(i.label == label for i in self.optimizers.values()):
            label = f"{label} #{len(self.optimizers) + 1}"
        self.optimizers[id(optimizer)] = OptimizerInfo(label, call_site())

    def scheduler_stepped(self, scheduler: Any) -> None:
        entry = self.schedulers.get(id(scheduler))
        site = entry[2] if entry is not None else call_site()
        self.schedulers[id(scheduler)] = (scheduler, (entry[1] if entry else 0) + 1, site)
        state = self.state
        primary = state.optimizer if state is not None else None
        if site is not None and (primary is None or getattr(scheduler, "optimizer", None) is primary):
            self.sites.setdefault("scheduler_step", site)

    def mode_set(self, module: Any, mode: bool) -> None:
        """Where each module's mode was last set (the module the script called, and every submodule)."""
        entry = (bool(mode), call_site())
        for sub in module.modules():
            self.mode_sites[id(sub)] = entry


def graph_leaves(tensor: torch.Tensor, limit: int = 20000) -> set[int]:
    """``id``s of the leaf tensors ``tensor``'s autograd graph accumulates into (at most ``limit`` nodes)."""
    leaves: set[int] = set()
    seen: set[Any] = set()
    stack = [tensor.grad_fn]
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(id(variable))
        stack.extend(child for child, _ in node.next_functions)
    return leaves


def _live_modules() -> list[torch.nn.Module]:
    """Every ``nn.Module`` alive in the process (some objects warn or raise when asked their class)."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for obj in gc.get_objects():
            try:
                if isinstance(obj, torch.nn.Module):
                    found.append(obj)
            except Exception:  # noqa: BLE001,S112 - a proxy whose __class__ fails is no module
                continue
    return found


def rank() -> int:
    """This process's rank under ``torchrun`` (0 otherwise)."""
    return int(os.environ.get("RANK", "0") or 0)
