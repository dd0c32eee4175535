"""The LR range test (Smith 2017, "Cyclical Learning Rates", section 3.3; fastai's and Lightning's
``lr_find``): the doctor's way to *compute* a learning rate instead of trying a fixed menu.

A fresh run of the variant (its workload, train config and non-monitor plugins, seeded) is
trained **by the core loop** (:func:`harness.core.loop.train`), like Lightning's ``lr_find``
runs the real fit loop: every hook of the variant acts during the sweep (``forward_context``,
``backward``, ``on_before_optimizer_step``, ``optimizer_step``, its loss terms and loader
options), so a bug or fix that acts there is swept on the training it runs. One more object
answers hooks in that run, the sweep arm :class:`LRSweep` (no monitor is on). It is the
swapped scheduler: before every optimizer step it sets the LR, rising exponentially from
``start`` (1e-7) to ``end`` (10) over ``steps`` optimizer steps, on every parameter group
(keeping the variant's ratios between groups), whatever the variant's own scheduler did; it
reads each step's loss, smooths it (:class:`Smoothed`, ``beta`` 0.98, bias-corrected), and
ends the run (``state.request_stop``, the channel every early stop uses) once the smoothed
loss exceeds ``stop_factor`` (4) times its minimum, the loss is not finite, or the last LR
was tried. The run gets as many epochs as the sweep needs (the training loader is cycled by
the epochs, each evaluated as in any run).

The suggestion (:func:`suggest`) is **the LR at the minimum smoothed loss divided by 10**:
at the minimum the LR is already at the edge of divergence, one decade lower is the fastest
LR that still descends steadily (fastai's ``lr_min / 10``). The steepest-descent point
(where the smoothed loss falls fastest per decade of LR, Lightning's default) is recorded
too; it is noisier on short sweeps, so it is reported but not used. The doctor proposes
``lr_scale: {factor: suggested / current}``, where *current* is the LR the variant's plugins
leave after ``on_setup`` (a bug that multiplies the LR included), and proves it by replay
like any candidate; the sweep goes into the report (``doctor.lr_range``, with the hooks each
plugin acted in during the sweep, ``trace``).

A script scenario's variant owns its loop: its program runs once under the watcher, which
applies the same sweep from outside (:mod:`harness.experiments.lr_range_script`,
:mod:`harness.integrations.watch.lr_sweep`: the same :func:`lr_schedule` and :class:`SweepLog`,
200 steps) and ends the program at the stop rule; the suggestion is made here, as for any sweep.

Which findings call for it is declared once, on each finding kind (``lr_type``, :func:`lr_kinds`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.core.hookspecs import hookimpl


def lr_kinds() -> frozenset[str]:
    """The finding kinds an LR off by orders of magnitude shows as: those declared ``lr_type``
    (:class:`harness.core.findings.FindingKind`)."""
    from harness.core.pluginmanager import kinds_with

    return frozenset(kinds_with(lr_type=True))


def calls_for_range_test(kinds: Any, statuses: Any = ()) -> bool:
    """Whether observed finding ``kinds`` (or a ``diverged`` run status) call for the range test."""
    return bool(set(kinds) & lr_kinds()) or "diverged" in set(statuses)


@dataclass
class RangeTest:
    """One sweep: the LRs tried, the smoothed losses, and what they suggest."""

    lrs: list[float]
    losses: list[float]
    current_lr: float
    suggested_lr: float | None = None
    min_loss_lr: float | None = None
    steepest_lr: float | None = None
    stopped: str = ""
    seed: int = 0
    rule: str = "LR at the minimum smoothed loss / 10"
    error: str | None = None
    #: ``{hook: {plugin: times it acted}}`` during the sweep: the variant's hooks that acted
    trace: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.steps = len(self.lrs)

    @property
    def factor(self) -> float | None:
        """``lr_scale``'s factor: the suggestion over the variant's current LR (3 significant digits)."""
        if self.suggested_lr is None or not self.current_lr:
            return None
        return float(f"{self.suggested_lr / self.current_lr:.3g}")

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lrs"] = [float(f"{v:.4g}") for v in self.lrs]
        out["losses"] = [float(f"{v:.4g}") for v in self.losses]
        out["factor"] = self.factor
        return out


def lr_schedule(start: float, end: float, steps: int) -> list[float]:
    """``steps`` LRs rising exponentially from ``start`` to ``end``."""
    ratio = end / start
    return [start * ratio ** (i / max(steps - 1, 1)) for i in range(steps)]


class Smoothed:
    """The bias-corrected exponential moving average of a stream of losses: the test's one smoothing."""

    def __init__(self, beta: float = 0.98) -> None:
        self.beta, self.average, self.count = beta, 0.0, 0

    def add(self, value: float) -> float:
        """Take ``value`` in; the smoothed loss so far."""
        self.count += 1
        self.average = self.beta * self.average + (1 - self.beta) * value
        return self.average / (1 - self.beta**self.count)


def smooth(raw: list[float], beta: float = 0.98) -> list[float]:
    """The bias-corrected exponential moving average of ``raw``."""
    smoothed = Smoothed(beta)
    return [smoothed.add(value) for value in raw]


def suggest(
    lrs: list[float], losses: list[float], skip: int = 5, min_drop: float = 0.1
) -> tuple[float | None, float | None, float | None]:
    """``(suggested, LR at the minimum, steepest-descent LR)`` of a sweep's smoothed ``losses``;
    the first ``skip`` points are left out (the moving average is still settling). Nothing is
    suggested when the loss never fell by ``min_drop`` (10%) of its start: no LR trains the
    model (a frozen optimizer, a detached loss), so the LR is not what is wrong."""
    points = [(lr, loss) for lr, loss in zip(lrs, losses, strict=False) if math.isfinite(loss)][skip:]
    if len(points) < 3:
        return None, None, None
    min_lr, min_loss = min(points, key=lambda p: p[1])
    if min_loss > (1 - min_drop) * points[0][1]:
        return None, None, None
    slopes = [
        ((b[1] - a[1]) / (math.log10(b[0]) - math.log10(a[0])), a[0]) for a, b in zip(points, points[1:], strict=False)
    ]
    steepest = min(slopes)[1]
    return min_lr / 10, min_lr, steepest


class SweepLog:
    """What a sweep saw, step by step, and its one stop rule: the core loop's :class:`LRSweep` and
    a script's (:mod:`harness.integrations.watch.lr_sweep`) both feed it each step's LR and loss."""

    def __init__(self, beta: float = 0.98, stop_factor: float = 4.0) -> None:
        self.smoothed, self.stop_factor = Smoothed(beta), stop_factor
        self.tried: list[float] = []  # the LR of each step whose loss was finite
        self.raw: list[float] = []  # the loss of each of those steps
        self.losses: list[float] = []  # the smoothed loss of each of those steps
        self.best = math.inf
        self.stopped = ""  # why the sweep ended ("" while it goes on)

    def add(self, lr: float, value: float, *, last: bool = False) -> str:
        """Take the loss ``value`` of a step at ``lr`` (``last``: the sweep's last LR); returns why the
        sweep stops here (kept in :attr:`stopped`), "" to go on. Nothing is taken once stopped."""
        if self.stopped:
            return ""
        if not math.isfinite(value):
            self.stopped = f"non-finite loss at lr {lr:.3g}"
            return self.stopped
        self.tried.append(lr)
        self.raw.append(value)
        smoothed = self.smoothed.add(value)
        self.losses.append(smoothed)
        self.best = min(self.best, smoothed)
        if len(self.losses) > 10 and smoothed > self.stop_factor * self.best:
            self.stopped = f"smoothed loss above {self.stop_factor:g}x its minimum at lr {lr:.3g}"
        elif last:
            self.stopped = "end of the sweep"
        return self.stopped


def sweep_steps(batches_per_epoch: int, low: int = 200, high: int = 300) -> int:
    """About three epochs of steps, at least ``low`` and at most ``high`` (on the digits MLP 100
    steps suggest 1.7e-2..2.9e-2 depending on the seed, 200 steps 1.2e-2..1.3e-2)."""
    return max(low, min(high, 3 * batches_per_epoch))


class LRSweep:
    """The sweep arm: the hooks that turn one run of the core loop into an LR range test.

    Not a plugin of users' training (neither a fix nor a monitor: no scenario can enable
    it, and the core never names it), so it lives with the experiment that needs it and is
    registered like the progress observers and the runner's ``DecisionMonitor``:
    ``build_run_manager(..., observers=(sweep,))``, outside the trace and the slots. It
    talks to the loop only through the channels every plugin has: ``hparams`` in
    ``on_setup``, the optimizer's parameter groups before the step, the losses ``on_batch_end``
    (read-only) and ``on_step`` receive, and ``state.request_stop`` in ``on_step``.

    It reads one loss per optimizer step on the host (``float``): a sync per step, a few
    hundred steps of an experiment, never the normal training path.
    """

    def __init__(
        self, start: float, end: float, steps: int | None = None, beta: float = 0.98, stop_factor: float = 4.0
    ) -> None:
        self.start, self.end, self.steps = start, end, steps
        self.log = SweepLog(beta, stop_factor)
        self.lrs: list[float] = []  # the planned sweep, set in on_setup
        self.current_lr: float | None = None  # hparams.lr after the variant's on_setup
        self.ratios: list[float] = []  # each parameter group's LR over group 0's
        self.taken = 0  # optimizer steps taken at a swept LR
        self.window: list[Any] = []  # the losses of the step's batches before its last (accumulation)
        self.stepped = False  # the batch in progress stepped (its loss went with on_step's)

    @property
    def tried(self) -> list[float]:
        return self.log.tried

    @property
    def raw(self) -> list[float]:
        return self.log.raw

    @property
    def losses(self) -> list[float]:
        return self.log.losses

    @property
    def stopped(self) -> str:
        return self.log.stopped

    @hookimpl(wrapper=True)
    def on_setup(self, state: Any) -> Any:
        """After the variant's ``on_setup``: plan the sweep, and as many epochs as it needs."""
        result = yield
        from harness.core.state import total_optimizer_steps

        hp = state.hparams
        self.current_lr = float(hp.lr)
        self.lrs = lr_schedule(self.start, self.end, self.steps or sweep_steps(hp.batches_per_epoch))
        hp.epochs = -(-len(self.lrs) // hp.optimizer_steps_per_epoch)
        hp.total_steps = total_optimizer_steps(hp.batches_per_epoch, hp.accumulation_steps, hp.epochs)
        return result

    @hookimpl
    def on_train_start(self, state: Any) -> None:
        """The ratios of the variant's parameter groups (``layerwise_lr``), before any step."""
        groups = state.optimizer.param_groups
        first = groups[0].get("initial_lr", groups[0]["lr"]) or 1.0
        self.ratios = [group.get("initial_lr", group["lr"]) / first for group in groups]

    @hookimpl(wrapper=True)
    def optimizer_step(self, state: Any) -> Any:
        """The last word on the LR before every step, whatever the variant's scheduler set."""
        lr = self.lrs[min(self.taken, len(self.lrs) - 1)]
        for group, ratio in zip(state.optimizer.param_groups, self.ratios, strict=False):
            group["lr"] = lr * ratio
        self.taken += 1
        return (yield)

    @hookimpl
    def on_batch_end(self, loss: Any) -> None:
        """Keep the loss of a batch that did not step (accumulation: the step's earlier batches)."""
        if self.stepped:
            self.stepped = False
        else:
            self.window.append(loss)

    @hookimpl
    def on_step(self, state: Any, loss: Any) -> None:
        """The step's loss (the mean of its accumulated batches) against the stop rule."""
        self.stepped = True  # its batch is this step's last: on_batch_end leaves it out
        batches, self.window = [*self.window, loss], []
        if self.stopped:
            return
        value = float(sum(batches) / len(batches))  # the experiment's one sync per step
        reason = self.log.add(self.lrs[self.taken - 1], value, last=self.taken >= len(self.lrs))
        if reason:
            state.request_stop(f"LR range test: {reason}")


def lr_range_test(
    scenario: Any,
    variant: str,
    seed: int = 0,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int | None = None,
    beta: float = 0.98,
    stop_factor: float = 4.0,
) -> RangeTest:
    """Sweep the LR on a fresh run of ``scenario``'s ``variant`` (see the module docstring).

    Runs in this process on the CPU (the device the variant asks for when it is not ``auto``);
    a failure (a plugin that needs a run directory) is returned as ``RangeTest.error``. A script
    variant's program runs once, swept from outside (:mod:`harness.experiments.lr_range_script`;
    ``steps`` defaults to 200 there)."""
    if scenario.variants[variant].script is not None:
        return script_range_test(
            scenario, variant, seed, dict(start=start, end=end, steps=steps, beta=beta, stop_factor=stop_factor)
        )
    sweep = LRSweep(start, end, steps, beta, stop_factor)
    configured = float(scenario.variants[variant].train.lr)
    try:
        state, trace, status = sweep_run(scenario, variant, seed, sweep)
    except Exception as exc:  # noqa: BLE001 - reported, the doctor goes on without a computed LR
        current = configured if sweep.current_lr is None else sweep.current_lr
        return RangeTest([], [], current, seed=seed, error=f"{type(exc).__name__}: {exc}")
    stopped = sweep.stopped or f"the run ended first ({status}: {state.stop_reason or 'its last epoch'})"
    suggested, min_lr, steepest = suggest(sweep.tried, sweep.losses)
    if suggested is None and len(sweep.losses) >= 3:
        stopped = f"the loss never fell by 10% ({stopped})"
    kinds = {name: info.kind for name, info in scenario.catalogue.items()}
    acted = {  # the variant's own plugins (the core's defaults answer every run)
        hook: {name: n for name, n in counts.items() if kinds.get(name) != "core"}
        for hook, counts in trace.as_dict().items()
    }
    acted = {hook: counts for hook, counts in acted.items() if counts}
    current = configured if sweep.current_lr is None else sweep.current_lr
    return RangeTest(sweep.tried, sweep.losses, current, suggested, min_lr, steepest, stopped, seed, trace=acted)


def script_range_test(scenario: Any, variant: str, seed: int, sweep: dict[str, Any]) -> RangeTest:
    """The range test of a script variant: its program swept once from outside
    (:func:`harness.experiments.lr_range_script.script_sweep`), the LR suggested as for any sweep."""
    from harness.experiments.lr_range_script import script_sweep

    seen = script_sweep(scenario, variant, seed, sweep)
    lrs, losses, stopped = list(seen["lrs"]), list(seen["losses"]), str(seen["stopped"])
    suggested, min_lr, steepest = suggest(lrs, losses)
    if suggested is None and len(losses) >= 3:
        stopped = f"the loss never fell by 10% ({stopped})"
    current = float(seen["current_lr"] or 0.0)  # 0: unknown, no factor
    return RangeTest(lrs, losses, current, suggested, min_lr, steepest, stopped, seed, error=seen["error"])


def sweep_run(scenario: Any, variant: str, seed: int, sweep: LRSweep) -> tuple[Any, Any, str]:
    """One run of the core loop of ``variant`` without its monitors, ``sweep`` answering too:
    ``(state, trace, status)`` (the state's loaders released). Raises what the run raised."""
    from harness.core.loop import build_state, resolve_device, train
    from harness.core.pluginmanager import build_run_manager
    from harness.core.processes import child_pids
    from harness.execution.run_one import cached_workload, release_run

    source = scenario.variants[variant]
    catalogue = scenario.catalogue
    plugins = {n: p for n, p in source.plugins.items() if n in catalogue and catalogue[n].kind != "monitor"}
    state, children = None, child_pids()  # what runs before the sweep; whatever it starts ends with it
    try:
        pm, trace = build_run_manager(catalogue, plugins, observers=(sweep,))
        device = resolve_device("cpu" if source.train.device == "auto" else source.train.device)
        state = build_state(cached_workload(scenario), source.train, seed, device, None)
        status = train(state, pm.hook)
    finally:
        release_run(state, children)
    return state, trace, status
