"""The LR range test (Smith 2017, "Cyclical Learning Rates", section 3.3; fastai's and Lightning's
``lr_find``): the doctor's way to *compute* a learning rate instead of trying a fixed menu.

A fresh model of the variant (its workload, train config and non-monitor plugins, seeded) is
trained for ``steps`` optimizer steps on the training loader (cycled), the LR rising
exponentially from ``start`` (1e-7) to ``end`` (10) and set on every parameter group before
each step (no scheduler, no monitor). The loss is smoothed with an exponential moving average
(``beta`` 0.98, bias-corrected); the sweep stops once the smoothed loss exceeds ``stop_factor``
(4) times its minimum, or the loss is not finite.

The suggestion (:func:`suggest`) is **the LR at the minimum smoothed loss divided by 10**:
at the minimum the LR is already at the edge of divergence, one decade lower is the fastest
LR that still descends steadily (fastai's ``lr_min / 10``). The steepest-descent point
(where the smoothed loss falls fastest per decade of LR, Lightning's default) is recorded
too; it is noisier on short sweeps, so it is reported but not used. The doctor proposes
``lr_scale: {factor: suggested / current}``, where *current* is the LR the variant's plugins
leave after ``on_setup`` (a bug that multiplies the LR included), and proves it by replay
like any candidate; the sweep goes into the report (``doctor.lr_range``).

Which findings call for it is declared once, on each finding kind (``lr_type``, :func:`lr_kinds`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


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


def smooth(raw: list[float], beta: float = 0.98) -> list[float]:
    """The bias-corrected exponential moving average of ``raw``."""
    out, avg = [], 0.0
    for i, value in enumerate(raw, start=1):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta**i))
    return out


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


def sweep_steps(batches_per_epoch: int, low: int = 200, high: int = 300) -> int:
    """About three epochs of steps, at least ``low`` and at most ``high`` (on the digits MLP 100
    steps suggest 1.7e-2..2.9e-2 depending on the seed, 200 steps 1.2e-2..1.3e-2)."""
    return max(low, min(high, 3 * batches_per_epoch))


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
    """Sweep the LR on a fresh model of ``scenario``'s ``variant`` (see the module docstring).

    Runs in this process on the CPU (the device the variant asks for when it is not ``auto``);
    a failure (a plugin that needs the full loop) is returned as ``RangeTest.error``."""
    from harness.core.loop import build_state, resolve_device, seed_everything

    source = scenario.variants[variant]
    cfg = source.train
    try:
        state, hook = _set_up(scenario, source, seed, build_state, resolve_device)
    except Exception as exc:  # noqa: BLE001 - reported, the doctor goes on without a computed LR
        return RangeTest([], [], float(cfg.lr), seed=seed, error=f"{type(exc).__name__}: {exc}")
    current = float(state.hparams.lr)
    seed_everything(seed)
    lrs = lr_schedule(start, end, steps or sweep_steps(state.hparams.batches_per_epoch))
    try:
        raw, stopped = _sweep(state, hook, lrs, beta, stop_factor)
    except Exception as exc:  # noqa: BLE001
        return RangeTest([], [], current, seed=seed, error=f"{type(exc).__name__}: {exc}")
    losses = smooth(raw, beta)
    suggested, min_lr, steepest = suggest(lrs[: len(losses)], losses)
    if suggested is None and len(losses) >= 3:
        stopped = f"the loss never fell by 10% ({stopped})"
    return RangeTest(lrs[: len(losses)], losses, current, suggested, min_lr, steepest, stopped, seed)


def _set_up(scenario: Any, source: Any, seed: int, build_state: Any, resolve_device: Any) -> tuple[Any, Any]:
    """The state and hook relay of a fresh run of ``source`` without monitors, set up to the optimizer."""
    from harness.core.loop import apply_loader_options
    from harness.core.pluginmanager import build_run_manager
    from harness.execution.run_one import cached_workload

    catalogue = scenario.catalogue
    plugins = {n: p for n, p in source.plugins.items() if n in catalogue and catalogue[n].kind != "monitor"}
    pm, _ = build_run_manager(catalogue, plugins)
    device = resolve_device("cpu" if source.train.device == "auto" else source.train.device)
    state = build_state(cached_workload(scenario), source.train, seed, device, None)
    hook = pm.hook
    hook.on_setup(state=state)
    apply_loader_options(state)
    state.criterion = hook.make_criterion(state=state)
    state.optimizer = hook.make_optimizer(state=state)
    return state, hook


def _sweep(state: Any, hook: Any, lrs: list[float], beta: float, stop_factor: float) -> tuple[list[float], str]:
    """The raw loss of each step at ``lrs[i]``, up to the stop rule; and why it stopped."""
    from harness.core.loop import batch_loss

    model, optimizer = state.model, state.optimizer
    model.train()
    raw: list[float] = []
    best, avg = math.inf, 0.0
    batches = iter(state.train_loader)
    for i, lr in enumerate(lrs, start=1):
        try:
            batch = next(batches)
        except StopIteration:  # cycle the training loader
            batches = iter(state.train_loader)
            batch = next(batches)
        batch = {k: v.to(state.device) for k, v in batch.items()}
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = batch_loss(hook, state, batch, state.workload.forward(model, batch))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())  # one sync per step: a few hundred steps, off the training loop
        if not math.isfinite(value):
            return raw, f"non-finite loss at lr {lr:.3g}"
        raw.append(value)
        avg = beta * avg + (1 - beta) * value
        smoothed = avg / (1 - beta**i)
        best = min(best, smoothed)
        if i > 10 and smoothed > stop_factor * best:
            return raw, f"smoothed loss above {stop_factor:g}x its minimum at lr {lr:.3g}"
    return raw, "end of the sweep"
