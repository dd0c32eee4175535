"""The watcher's state and how it raises hooks: plugins resolved once, observations reset per run, an error in the watcher a finding, findings located in the user's code."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import torch

from harness.core.findings import check_kinds, site_of
from harness.core.pluginmanager import PluginError, build_run_manager
from harness.core.run_record import new_record, state_results
from harness.core.state import Finding, TrainState
from harness.integrations.watch.parts import LossCall, OptimizerInfo, Pass, ScriptWorkload, WatchFinding

from .config import available_plugins, resolve_watch_plugins, watched_kinds
from .observers import CLASS_LOSSES
from .patches import Patches
from .rules import Facts, WatchPlugin
from .sites import Site

#: the longest a running record goes unwritten within an epoch, in seconds
SAVE_EVERY = 10.0


class WatcherCore:
    """The run's state and the one way hooks are raised (:meth:`call`); see :class:`Watcher`."""

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
        self.broken: set[str] = set()  # the watcher's own observers that failed (switched off)
        self._impls: dict[str, list[tuple[Callable[..., Any], tuple[str, ...]]]] = {}
        #: what this run could not judge, and why (plugins switched off for the script's shape)
        self.notes: list[str] = []
        self._early_errors: list[Finding] = []
        self.sites: dict[str, Site] = {}
        self._where: dict[int, Site] = {}
        self._judged = 0
        self.patches = Patches()
        #: ``{script_* method: {fix: calls}}``: the fixes acting on the script (:mod:`.interventions`)
        self.fix_trace: dict[str, dict[str, int]] = {}
        #: module -> where it was built (``nn.Softmax``: its probabilities are explained there)
        self.built_modules: weakref.WeakKeyDictionary[Any, Site | None] = weakref.WeakKeyDictionary()
        self._installed = False
        #: called with nothing whenever the record so far should be kept (boot.py writes it)
        self.progress: Callable[[], None] | None = None
        self._next_save = 0.0
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
        self.open_batch = 0  # the number of the open batch (each LossCall names its own)
        self.closed: list[list[LossCall]] = []
        self.last_softmax: tuple[Any, Site | None] | None = None
        self.last_loss: torch.Tensor | None = None
        #: the primary model's backpropagated losses since its last step (accumulation: several)
        self.window_losses: list[torch.Tensor] = []
        self.closure_step = False  # the primary optimizer steps with a closure (L-BFGS)
        self.fired_count = 0  # loss calls whose output a backward went through, so far
        self.scaled: tuple[int, torch.Tensor] | None = None  # id of GradScaler.scale's output, the loss before
        self.trained = 0  # training batches backpropagated so far
        self.leaves: set[int] = set()  # with no optimizer: the tensors the first training loss depends on
        self.primary_steps = 0
        self.pending_epoch = False
        self._begin_epoch_buffers()
        self._depth = {"train": 0, "scheduler": 0, "loss": 0}

    def _begin_epoch_buffers(self) -> None:
        self.epoch_losses: list[torch.Tensor] = []
        self.step_losses: list[torch.Tensor] = []  # each step's loss: its window's sum
        self.val_losses: list[torch.Tensor] = []
        self.predictions: list[torch.Tensor] = []  # each training batch's predicted classes
        self.classes = 0
        self.steps_in_epoch = 0
        self.probed = 0
        self.windows_probed = 0  # step windows whose gradient resets were checked this epoch

    def safely(self, action: Callable[..., Any], *args: Any) -> Any:
        """Run one observer of the watcher: one that raises is switched off for the rest of the run
        with one note, and the error never reaches the program."""
        name = getattr(getattr(action, "func", action), "__name__", None) or type(action).__name__  # partial too
        if name in self.broken:
            return None
        try:
            return action(*args)
        except Exception as exc:  # noqa: BLE001 - the program must go on
            self.broken.add(name)
            self.notes.append(
                f"the watcher's observer {name} failed ({type(exc).__name__}: {exc}); "
                "it is switched off for the rest of the run"
            )
            return None

    def save_progress(self) -> None:
        """Keep the record so far (:attr:`progress`): at training start, at each epoch end and, in a
        long epoch, at most every :data:`SAVE_EVERY` seconds, so a program killed (SIGKILL, an OOM
        kill, ``os._exit``) leaves what was seen up to then."""
        if self.progress is not None:
            self._next_save = time.monotonic() + SAVE_EVERY
            self.safely(self.progress)

    def guarded(self, action: Callable[..., Any]) -> Callable[..., None]:
        """``action`` as a tensor hook that never raises into ``backward()`` and returns None (the
        gradient unchanged)."""

        def hook(*args: Any) -> None:
            self.safely(action, *args)

        return hook

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
        key = site_of(finding.kind, self.available)
        if key == "optimizer_step":
            infos = list(self.optimizers.values())
            named = [i for i in infos if i.label in finding.message]
            return next((i.stepped for i in named + infos if i.stepped is not None), None)
        if key == "probabilities":
            emitter = self.available.get(finding.plugin)
            losses = getattr(emitter.cls, "loss_calls", CLASS_LOSSES) if emitter is not None else CLASS_LOSSES
            return next((self.prob_sites[n] for n in losses if self.prob_sites.get(n)), None) or next(
                (self.loss_sites[n] for n in losses if self.loss_sites.get(n)), None
            )
        if key == "optimizer" and self._schedule_explains(finding):
            key = "scheduler_step"  # e.g. weights_not_updating at LR 1e-22: the schedule, not the optimizer
        if key == "scheduler_step":
            return self.sites.get("scheduler_step") or self.sites.get("optimizer")
        if key == "eval_call":
            mode = self.mode_sites.get(id(self.state.model)) if self.state is not None else None
            return mode[1] if mode is not None and not mode[0] else None
        return self.sites.get(key) if key else None

    def _schedule_explains(self, finding: Finding) -> bool:
        """A finding of the same epoch points at the script's scheduler step (``lr_zero``,
        ``schedule_mismatch``): then the schedule explains what the optimizer did."""
        return "scheduler_step" in self.sites and any(
            f.epoch == finding.epoch and f is not finding and site_of(f.kind, self.available) == "scheduler_step"
            for f in (self.state.findings if self.state is not None else [])
        )

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
                    f.detail,
                )
            )
        return out

    def assert_clean(self, *, ignore: tuple[str, ...] = ()) -> None:
        """Raise ``AssertionError`` listing every finding (but the ``ignore``d kinds), one block each."""
        __tracebackhide__ = True  # pytest shows the user's test, not this frame
        check_kinds(ignore, watched_kinds(self.available), "assert_clean(ignore=...)")
        found = [f for f in self.findings if f.kind not in ignore]
        if found:
            lines = "\n".join(f"  - {f}" for f in found)
            raise AssertionError(f"harness watch recorded {len(found)} finding(s):\n{lines}")

    def record(self, **train: Any) -> dict[str, Any]:
        """The run in the shape of a harness run record; findings carry ``where`` and ``source``."""
        s = self.state
        record = new_record(
            self.name,
            0,
            status=self.status if s is not None else "not started",
            seconds=round(time.time() - self.started_at, 3),
            plugins={name: params.model_dump() for name, params in self.enabled.items()},
            train={"epochs": len(s.history) if s else 0, "torch": torch.__version__, **train},
        )
        findings = [f.as_dict() for f in self.findings]
        record.update(state_results(s, self.trace, findings=findings) | {"findings": findings})
        record["trace"] = {**record.get("trace", {}), **{m: dict(c) for m, c in self.fix_trace.items()}}
        record["notes"] = list(self.notes)
        return record
